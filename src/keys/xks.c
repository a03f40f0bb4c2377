// SPDX-License-Identifier: Apache-2.0
/*
 * XKS key stores and their credentials (kh_keys_xks.h): creation, reading, listing, changes and
 * deletion of stores; issuing, listing and revoking SigV4 credentials. Who: the operator (any
 * key store) and the kms-managers of the store's key store; an account of another key store
 * gets KH_ERR_NOT_FOUND, a kms-user of the same one KH_ERR_FORBIDDEN. Changes run as keys/
 * changes do (kh_keys_change_run: refusals audited too, in the same transaction); reads leave
 * their record through kh_keys_record_use. Every committed change empties the proxy's caches.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "keys/kh_keys_xks_int.h"
#include "store/kh_store_keys.h"
#include "store/kh_store_xks.h"

/* XKS.md "Authentication": the secret is Base64 of 33 random bytes, 44 characters. */
#define SECRET_RAW_LEN 33u

/* The operator manages every store; a kms-manager those of its key store. */
kh_rc kh_xks_may_manage(const struct kh_principal *p, int64_t keystore_id)
{
	if (p->kind == KH_PRINCIPAL_OPERATOR)
		return KH_OK;
	KH_ENSURE(p->kind == KH_PRINCIPAL_ACCOUNT, KH_ERR_FORBIDDEN);
	KH_ENSURE(p->keystore_id == keystore_id, KH_ERR_NOT_FOUND);
	KH_ENSURE((p->policies & KH_POLICY_KMS_MANAGER) != 0, KH_ERR_FORBIDDEN);
	return KH_OK;
}

kh_rc kh_xks_managed_store(struct kh_keys_change *c, struct kh_store_tx *tx, int64_t id,
                           struct kh_xks_store_info *out)
{
	KH_ENSURE(c->p->kind == KH_PRINCIPAL_OPERATOR || c->p->kind == KH_PRINCIPAL_ACCOUNT,
	          KH_ERR_FORBIDDEN);
	KH_GUARD(kh_xks_store_load(tx, id, out));
	KH_GUARD(kh_xks_may_manage(c->p, out->keystore_id));
	c->keystore_id = out->keystore_id;
	return KH_OK;
}

kh_rc kh_xks_change_run(struct kh_keys *k, const struct kh_principal *p, enum kh_keys_op op,
                        kh_keys_change_fn apply, void *arg)
{
	struct kh_keys_change c = {.k = k, .p = p, .op = op, .apply = apply, .arg = arg};
	kh_rc rc = kh_keys_change_run(&c);
	kh_keys_xks_invalidate(k);
	return rc;
}

/* ---- stores ---- */

struct store_arg {
	const struct kh_xks_store_create *create;
	const struct kh_xks_store_update *update;
	int64_t id;
	struct kh_xks_store_info info;
};

static kh_rc store_create_check(const struct kh_xks_store_create *req)
{
	KH_ENSURE(req != NULL && kh_xks_prefix_valid(req->prefix), KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_xks_region_valid(req->region), KH_ERR_BAD_INPUT);
	KH_ENSURE(req->quota_rps <= KH_XKS_QUOTA_MAX, KH_ERR_BAD_INPUT);
	return KH_OK;
}

static kh_rc store_create_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct store_arg *a = c->arg;
	const struct kh_xks_store_create *req = a->create;
	const struct kh_principal *p = c->p;
	struct kh_xks_store_info other;
	KH_ENSURE(p->kind == KH_PRINCIPAL_OPERATOR || p->kind == KH_PRINCIPAL_ACCOUNT,
	          KH_ERR_FORBIDDEN);
	int64_t ks = req != NULL ? req->keystore_id : 0;
	if (p->kind == KH_PRINCIPAL_ACCOUNT && ks == 0)
		ks = p->keystore_id;
	KH_ENSURE(ks > 0, KH_ERR_BAD_INPUT); /* the operator must name it */
	KH_GUARD(kh_xks_may_manage(p, ks));
	KH_GUARD(store_create_check(req));
	KH_GUARD(kh_keys_keystore_exists(tx, ks));
	c->keystore_id = ks;
	kh_rc rc = kh_xks_store_load_prefix(tx, req->prefix, &other);
	KH_ENSURE(rc != KH_OK, KH_ERR_CONFLICT);
	KH_ENSURE(rc == KH_ERR_NOT_FOUND, rc);
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_store_val v[] = {
	    KH_SV_INT(ks),
	    KH_SV_TEXT(req->prefix),
	    KH_SV_TEXT(req->region != NULL ? req->region : ""),
	    KH_SV_INT(req->secondary_auth ? 1 : 0),
	    KH_SV_INT(1),
	    KH_SV_INT(req->quota_rps),
	    KH_SV_INT(c->now),
	    KH_SV_INT(c->now),
	};
	KH_GUARD(kh_store_query_one(tx, &kh_q_xks_store_insert, v, KH_SV_COUNT(v), &rows, &found));
	rc = found ? kh_store_rows_int(rows, 0, &a->id) : KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	KH_GUARD(kh_xks_store_load(tx, a->id, &a->info));
	snprintf(c->detail, sizeof(c->detail), "{\"store\":%lld,\"prefix\":\"%s\"}",
	         (long long)a->id, a->info.prefix);
	return KH_OK;
}

kh_rc kh_keys_xks_store_create(struct kh_keys *k, const struct kh_principal *p,
                               const struct kh_xks_store_create *req, struct kh_xks_store_info *out)
{
	struct store_arg a = {.create = req};
	KH_GUARD(kh_xks_change_run(k, p, KH_OP_XKS_STORE_CREATE, store_create_apply, &a));
	if (out != NULL)
		*out = a.info;
	return KH_OK;
}

kh_rc kh_xks_read_store(struct kh_keys *k, const struct kh_principal *p, int64_t id,
                        struct kh_xks_store_info *out, int64_t *out_keystore)
{
	struct kh_store_tx *tx = NULL;
	KH_ENSURE(p->kind == KH_PRINCIPAL_OPERATOR || p->kind == KH_PRINCIPAL_ACCOUNT,
	          KH_ERR_FORBIDDEN);
	KH_GUARD(kh_store_read_begin(k->store, &tx));
	kh_rc rc = kh_xks_store_load(tx, id, out);
	if (rc == KH_OK)
		rc = kh_xks_may_manage(p, out->keystore_id);
	if (rc == KH_OK)
		*out_keystore = out->keystore_id;
	kh_store_read_end(&tx);
	return rc;
}

kh_rc kh_keys_xks_store_get(struct kh_keys *k, const struct kh_principal *p, int64_t id,
                            struct kh_xks_store_info *out)
{
	struct kh_xks_store_info s;
	struct kh_keys_use_record u = {.op = KH_OP_XKS_STORE_GET};
	kh_rc rc = kh_xks_read_store(k, p, id, &s, &u.keystore_id);
	KH_GUARD(kh_keys_record_use(k, p, &u, rc));
	*out = s;
	return KH_OK;
}

static kh_rc store_list_in(struct kh_store_tx *tx, int64_t keystore, int64_t after_id,
                           unsigned limit, kh_xks_store_fn fn, void *arg, bool *out_more)
{
	kh_rc rc = KH_OK;
	struct kh_store_rows *rows = NULL;
	struct kh_store_val v[] = {KH_SV_INT(keystore), KH_SV_INT(after_id), KH_SV_INT(limit + 1)};
	KH_GUARD(kh_store_query(tx, &kh_q_xks_store_list, v, KH_SV_COUNT(v), &rows));
	*out_more = false;
	for (unsigned n = 0;; n++) {
		bool row = false;
		struct kh_xks_store_info s;
		KH_GUARD_OUT(kh_store_rows_next(rows, &row));
		if (!row)
			break;
		if (n == limit) {
			*out_more = true;
			break;
		}
		KH_GUARD_OUT(kh_xks_store_decode(rows, &s));
		KH_GUARD_OUT(fn(&s, arg));
	}
out:
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_keys_xks_store_list(struct kh_keys *k, const struct kh_principal *p, int64_t after_id,
                             unsigned limit, kh_xks_store_fn fn, void *arg, bool *out_more)
{
	struct kh_store_tx *tx = NULL;
	bool more = false;
	kh_rc rc = KH_OK;
	int64_t keystore = 0;
	if (p->kind == KH_PRINCIPAL_ACCOUNT) {
		keystore = p->keystore_id;
		rc = kh_xks_may_manage(p, keystore);
	} else if (p->kind != KH_PRINCIPAL_OPERATOR) {
		rc = KH_ERR_FORBIDDEN;
	}
	if (rc == KH_OK && (limit < 1 || limit > KH_LIMIT_PAGE_MAX || fn == NULL || after_id < 0))
		rc = KH_ERR_BAD_INPUT;
	if (rc == KH_OK)
		rc = kh_store_read_begin(k->store, &tx);
	if (rc == KH_OK)
		rc = store_list_in(tx, keystore, after_id, limit, fn, arg, &more);
	kh_store_read_end(&tx);
	struct kh_keys_use_record u = {.op = KH_OP_XKS_STORE_LIST};
	KH_GUARD(kh_keys_record_use(k, p, &u, rc));
	*out_more = more;
	return KH_OK;
}

static kh_rc store_update_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct store_arg *a = c->arg;
	const struct kh_xks_store_update *u = a->update;
	struct kh_xks_store_info s;
	KH_GUARD(kh_xks_managed_store(c, tx, a->id, &s));
	KH_ENSURE(u != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_xks_region_valid(u->region), KH_ERR_BAD_INPUT);
	KH_ENSURE(u->secondary_auth >= -1 && u->secondary_auth <= 1, KH_ERR_BAD_INPUT);
	KH_ENSURE(u->enabled >= -1 && u->enabled <= 1, KH_ERR_BAD_INPUT);
	KH_ENSURE(u->quota_rps >= -1 && u->quota_rps <= KH_XKS_QUOTA_MAX, KH_ERR_BAD_INPUT);
	struct kh_store_val v[] = {
	    KH_SV_TEXT(u->region != NULL ? u->region : s.region),
	    KH_SV_INT(u->secondary_auth >= 0 ? u->secondary_auth : s.secondary_auth),
	    KH_SV_INT(u->enabled >= 0 ? u->enabled : s.enabled),
	    KH_SV_INT(u->quota_rps >= 0 ? u->quota_rps : (int64_t)s.quota_rps),
	    KH_SV_INT(c->now),
	    KH_SV_INT(s.id),
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_xks_store_update, v, KH_SV_COUNT(v), NULL));
	KH_GUARD(kh_xks_store_load(tx, s.id, &a->info));
	snprintf(c->detail, sizeof(c->detail),
	         "{\"store\":%lld,\"enabled\":%s,\"secondary_auth\":%s,\"quota_rps\":%u}",
	         (long long)s.id, a->info.enabled ? "true" : "false",
	         a->info.secondary_auth ? "true" : "false", a->info.quota_rps);
	return KH_OK;
}

kh_rc kh_keys_xks_store_update(struct kh_keys *k, const struct kh_principal *p, int64_t id,
                               const struct kh_xks_store_update *u, struct kh_xks_store_info *out)
{
	struct store_arg a = {.update = u, .id = id};
	KH_GUARD(kh_xks_change_run(k, p, KH_OP_XKS_STORE_UPDATE, store_update_apply, &a));
	if (out != NULL)
		*out = a.info;
	return KH_OK;
}

static kh_rc store_delete_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct store_arg *a = c->arg;
	struct kh_xks_store_info s;
	char prefix[KH_XKS_SCOPE_MAX];
	KH_GUARD(kh_xks_managed_store(c, tx, a->id, &s));
	KH_ENSURE(s.key_count == 0, KH_ERR_CONFLICT);
	snprintf(prefix, sizeof(prefix), "xks/%lld/", (long long)s.id);
	KH_GUARD(kh_barrier_delete_prefix(c->k->barrier, tx, prefix));
	struct kh_store_val v[] = {KH_SV_INT(s.id)};
	KH_GUARD(kh_store_exec(tx, &kh_q_xks_cred_delete_all, v, 1, NULL));
	KH_GUARD(kh_store_exec(tx, &kh_q_xks_store_delete, v, 1, NULL));
	snprintf(c->detail, sizeof(c->detail), "{\"store\":%lld,\"prefix\":\"%s\"}",
	         (long long)s.id, s.prefix);
	return KH_OK;
}

kh_rc kh_keys_xks_store_delete(struct kh_keys *k, const struct kh_principal *p, int64_t id)
{
	struct store_arg a = {.id = id};
	return kh_xks_change_run(k, p, KH_OP_XKS_STORE_DELETE, store_delete_apply, &a);
}

/* ---- credentials ---- */

struct cred_arg {
	int64_t store_id;
	const char *access_key_id;
	struct kh_xks_credential_info info;
	const uint8_t *secret; /* KH_XKS_SECRET_LEN bytes, secure memory */
};

/* XKS.md "Authentication": 20 characters of the Base32 alphabet [A-Z2-7]. Public: the access
 * key id names the credential; 5 random bits per character (256 is a multiple of 32). */
static kh_rc new_access_key(char out[KH_XKS_ACCESS_KEY_LEN + 1])
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint8_t raw[KH_XKS_ACCESS_KEY_LEN];
	KH_GUARD(kh_rand_bytes(raw, sizeof(raw)));
	for (size_t i = 0; i < sizeof(raw); i++)
		out[i] = alphabet[raw[i] & 31u];
	out[KH_XKS_ACCESS_KEY_LEN] = '\0';
	return KH_OK;
}

/* Base64 of 33 bytes from the secret generator: 44 characters, no padding. */
static kh_rc new_secret(struct kh_buf *out)
{
	uint8_t *raw = kh_secure_alloc(SECRET_RAW_LEN);
	KH_ENSURE(raw != NULL, KH_ERR_NOMEM);
	kh_rc rc = kh_rand_secret(raw, SECRET_RAW_LEN);
	if (rc == KH_OK)
		rc = kh_base64_encode(KH_SLICE(raw, SECRET_RAW_LEN), out);
	kh_secure_free(&raw);
	if (rc == KH_OK && out->len != KH_XKS_SECRET_LEN)
		rc = KH_ERR_INTERNAL;
	return rc;
}

static kh_rc cred_issue_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct cred_arg *a = c->arg;
	struct kh_xks_store_info s;
	char scope[KH_XKS_SCOPE_MAX];
	KH_GUARD(kh_xks_managed_store(c, tx, a->store_id, &s));
	KH_ENSURE(s.credential_count < KH_XKS_CREDENTIALS_MAX, KH_ERR_CONFLICT);
	struct kh_store_val v[] = {KH_SV_TEXT(a->info.access_key_id), KH_SV_INT(s.id),
	                           KH_SV_INT(c->now)};
	KH_GUARD(kh_store_exec(tx, &kh_q_xks_cred_insert, v, KH_SV_COUNT(v), NULL));
	struct kh_slice ak = kh_slice_from_cstr(a->info.access_key_id);
	kh_xks_secret_scope(s.id, ak, scope, sizeof(scope));
	KH_GUARD(kh_barrier_put(c->k->barrier, tx, scope, KH_SLICE(a->secret, KH_XKS_SECRET_LEN)));
	a->info.created_at = c->now;
	/* The access key id is public; the secret never enters a record. */
	snprintf(c->detail, sizeof(c->detail), "{\"store\":%lld,\"access_key_id\":\"%s\"}",
	         (long long)s.id, a->info.access_key_id);
	return KH_OK;
}

kh_rc kh_keys_xks_credential_issue(struct kh_keys *k, const struct kh_principal *p,
                                   int64_t store_id, struct kh_xks_credential_info *out,
                                   struct kh_buf *out_secret)
{
	struct cred_arg a = {.store_id = store_id};
	struct kh_buf secret;
	KH_ENSURE(out_secret != NULL && (out_secret->flags & KH_BUF_SECURE) != 0, KH_ERR_INTERNAL);
	kh_buf_init(&secret, KH_XKS_SECRET_LEN + 4, KH_BUF_SECURE);
	kh_rc rc = new_access_key(a.info.access_key_id);
	if (rc == KH_OK)
		rc = new_secret(&secret);
	if (rc == KH_OK) {
		a.secret = secret.ptr;
		rc = kh_xks_change_run(k, p, KH_OP_XKS_CREDENTIAL_ISSUE, cred_issue_apply, &a);
	}
	if (rc == KH_OK)
		rc = kh_buf_append(out_secret, kh_buf_slice(&secret));
	kh_buf_cleanup(&secret);
	if (rc == KH_OK && out != NULL)
		*out = a.info;
	return rc;
}

static kh_rc cred_revoke_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct cred_arg *a = c->arg;
	struct kh_xks_store_info s;
	char scope[KH_XKS_SCOPE_MAX];
	uint64_t changed = 0;
	KH_GUARD(kh_xks_managed_store(c, tx, a->store_id, &s));
	struct kh_slice ak = kh_slice_from_cstr(a->access_key_id);
	KH_ENSURE(a->access_key_id != NULL && kh_xks_access_key_valid(ak), KH_ERR_NOT_FOUND);
	struct kh_store_val v[] = {KH_SV_INT(c->now), KH_SV_INT(s.id), KH_SV_TEXTN(ak)};
	KH_GUARD(kh_store_exec(tx, &kh_q_xks_cred_revoke, v, KH_SV_COUNT(v), &changed));
	KH_ENSURE(changed == 1, KH_ERR_NOT_FOUND);
	kh_xks_secret_scope(s.id, ak, scope, sizeof(scope));
	KH_GUARD(kh_barrier_delete(c->k->barrier, tx, scope));
	snprintf(c->detail, sizeof(c->detail), "{\"store\":%lld,\"access_key_id\":\"%.*s\"}",
	         (long long)s.id, (int)ak.len, (const char *)ak.ptr);
	return KH_OK;
}

kh_rc kh_keys_xks_credential_revoke(struct kh_keys *k, const struct kh_principal *p,
                                    int64_t store_id, const char *access_key_id)
{
	struct cred_arg a = {.store_id = store_id, .access_key_id = access_key_id};
	return kh_xks_change_run(k, p, KH_OP_XKS_CREDENTIAL_REVOKE, cred_revoke_apply, &a);
}

static kh_rc creds_in(struct kh_store_tx *tx, int64_t store_id, kh_xks_credential_fn fn, void *arg)
{
	kh_rc rc = KH_OK;
	struct kh_store_rows *rows = NULL;
	struct kh_store_val v[] = {KH_SV_INT(store_id)};
	KH_GUARD(kh_store_query(tx, &kh_q_xks_cred_list, v, 1, &rows));
	for (;;) {
		bool row = false;
		struct kh_xks_credential_info c = {0};
		KH_GUARD_OUT(kh_store_rows_next(rows, &row));
		if (!row)
			break;
		KH_GUARD_OUT(
		    kh_store_rows_text_copy(rows, 0, c.access_key_id, sizeof(c.access_key_id)));
		KH_GUARD_OUT(kh_store_rows_int(rows, 1, &c.created_at));
		KH_ENSURE_OUT(kh_xks_access_key_valid(kh_slice_from_cstr(c.access_key_id)),
		              KH_ERR_STORAGE);
		KH_GUARD_OUT(fn(&c, arg));
	}
out:
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_keys_xks_credentials(struct kh_keys *k, const struct kh_principal *p, int64_t store_id,
                              kh_xks_credential_fn fn, void *arg)
{
	struct kh_xks_store_info s;
	struct kh_keys_use_record u = {.op = KH_OP_XKS_CREDENTIAL_LIST};
	kh_rc rc =
	    fn != NULL ? kh_xks_read_store(k, p, store_id, &s, &u.keystore_id) : KH_ERR_BAD_INPUT;
	if (rc == KH_OK) {
		struct kh_store_tx *tx = NULL;
		rc = kh_store_read_begin(k->store, &tx);
		if (rc == KH_OK)
			rc = creds_in(tx, store_id, fn, arg);
		kh_store_read_end(&tx);
	}
	return kh_keys_record_use(k, p, &u, rc);
}
