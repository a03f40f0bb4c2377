// SPDX-License-Identifier: Apache-2.0
/*
 * XKS keys (kh_keys_xks.h): keyhold aes-256-gcm keys attached to an XKS key store under an
 * external key id, with their allowed usages, expiry and the AWS principal patterns of
 * secondary authorization. Attaching either names an existing key of the store's key store or
 * makes a new one in the same transaction (the same insert and material as kh_keys_create).
 * A keyhold key is attached to at most one (store, external key id) at a time: AWS KMS keys of
 * two stores sharing one key would let either store's managers disable the other's.
 * Who may: as for the stores (xks.c).
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_mem.h"
#include "keys/kh_keys_xks_int.h"
#include "store/kh_store_keys.h"
#include "store/kh_store_xks.h"

struct key_arg {
	int64_t store_id;
	const char *external_key_id;
	const struct kh_xks_key_attach *attach;
	const struct kh_xks_key_update *update;
	struct kh_key_create create; /* attach of a new key */
	char name[KH_LIMIT_NAME_MAX + 1];
	struct kh_keys_newmat mat;
	bool have_mat;
	struct kh_xks_key_info info;
};

static struct kh_store_val opt_time(int64_t t)
{
	return t != 0 ? KH_SV_INT(t) : KH_SV_NULL;
}

/* Loads the attached key of a store p may manage; the record then names the key. */
static kh_rc managed_key(struct kh_keys_change *c, struct kh_store_tx *tx, struct key_arg *a,
                         struct kh_xks_key_info *out)
{
	struct kh_xks_store_info s;
	struct kh_xks_key_store st;
	KH_GUARD(kh_xks_managed_store(c, tx, a->store_id, &s));
	KH_GUARD(kh_xks_key_load(tx, s.id, a->external_key_id, out, &st));
	c->key = out->key;
	c->have_key = true;
	return KH_OK;
}

static kh_rc attached_to(struct kh_store_tx *tx, int64_t key_id, bool *out)
{
	struct kh_store_rows *rows = NULL;
	struct kh_store_val v[] = {KH_SV_INT(key_id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_xks_key_of, v, 1, &rows, out));
	kh_store_rows_close(&rows);
	return KH_OK;
}

/* ---- attach ---- */

static kh_rc attach_check(const struct kh_xks_key_attach *req)
{
	KH_ENSURE(req != NULL && kh_xks_external_id_valid(req->external_key_id), KH_ERR_BAD_INPUT);
	KH_ENSURE((req->usages & ~(KH_XKS_USE_ENCRYPT | KH_XKS_USE_DECRYPT)) == 0,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(req->expires_at >= 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(req->rotation_days >= -1 && req->rotation_days <= KH_KEY_MAX_ROTATION_DAYS,
	          KH_ERR_BAD_INPUT);
	/* A name is for a new key only: with a tag it would be silently ignored. */
	KH_ENSURE(req->key_tag == NULL || req->name == NULL, KH_ERR_BAD_INPUT);
	KH_GUARD(kh_xks_patterns_check(req->administrators));
	return kh_xks_patterns_check(req->users);
}

/* The existing key named by tag, if it may be attached. */
static kh_rc attach_existing(struct kh_keys_change *c, struct kh_store_tx *tx,
                             const struct kh_xks_store_info *s, struct kh_key_info *key)
{
	const struct kh_xks_key_attach *req = ((struct key_arg *)c->arg)->attach;
	bool taken = false;
	KH_GUARD(kh_keys_load(tx, s->keystore_id, req->key_tag, key));
	KH_ENSURE(key->state != KH_KEY_DELETED, KH_ERR_CONFLICT);
	KH_ENSURE(key->state != KH_KEY_PENDING_DELETION, KH_ERR_KEY_PENDING_DELETION);
	KH_ENSURE(key->type == KH_KEY_AES_256_GCM && key->usage == KH_USAGE_ENCRYPT_DECRYPT,
	          KH_ERR_WRONG_KEY_TYPE);
	KH_GUARD(attached_to(tx, key->id, &taken));
	KH_ENSURE(!taken, KH_ERR_CONFLICT);
	if (req->rotation_days >= 0)
		KH_GUARD(kh_keys_set_period_in(tx, key, req->rotation_days, c->now));
	return KH_OK;
}

static kh_rc attach_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct key_arg *a = c->arg;
	const struct kh_xks_key_attach *req = a->attach;
	struct kh_xks_store_info s;
	struct kh_xks_key_info old;
	struct kh_xks_key_store st;
	struct kh_key_info key;
	KH_GUARD(kh_xks_managed_store(c, tx, a->store_id, &s));
	KH_GUARD(attach_check(req));
	kh_rc rc = kh_xks_key_load(tx, s.id, req->external_key_id, &old, &st);
	KH_ENSURE(rc != KH_OK, KH_ERR_CONFLICT);
	KH_ENSURE(rc == KH_ERR_NOT_FOUND, rc);
	if (req->key_tag != NULL) {
		KH_GUARD(attach_existing(c, tx, &s, &key));
	} else {
		enum kh_key_type type;
		KH_GUARD(kh_keys_create_check(&a->create, &type));
		KH_ENSURE(a->have_mat, KH_ERR_INTERNAL);
		KH_GUARD(
		    kh_keys_create_in(c->k, tx, s.keystore_id, &a->create, &a->mat, c->now, &key));
	}
	c->key = key;
	c->have_key = true;
	c->version = key.current_version;
	struct kh_store_val v[] = {
	    KH_SV_INT(s.id),
	    KH_SV_TEXT(req->external_key_id),
	    KH_SV_INT(key.id),
	    KH_SV_INT(req->usages),
	    opt_time(req->expires_at),
	    KH_SV_TEXT(req->administrators != NULL ? req->administrators : ""),
	    KH_SV_TEXT(req->users != NULL ? req->users : ""),
	    KH_SV_INT(c->now),
	    KH_SV_INT(c->now),
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_xks_key_insert, v, KH_SV_COUNT(v), NULL));
	KH_GUARD(kh_xks_key_load(tx, s.id, req->external_key_id, &a->info, &st));
	snprintf(c->detail, sizeof(c->detail),
	         "{\"store\":%lld,\"external_key_id\":\"%s\",\"usages\":%u,\"new_key\":%s}",
	         (long long)s.id, req->external_key_id, req->usages,
	         req->key_tag == NULL ? "true" : "false");
	return KH_OK;
}

/* A new key's request: name given or "xks-<store id>-<external key id>" cut to 64. */
static kh_rc attach_prepare(struct key_arg *a, const struct kh_xks_key_attach *req)
{
	if (req == NULL || req->key_tag != NULL || attach_check(req) != KH_OK)
		return KH_OK; /* refused inside the audited change */
	if (req->name != NULL)
		snprintf(a->name, sizeof(a->name), "%s", req->name);
	else
		snprintf(a->name, sizeof(a->name), "xks-%lld-%s", (long long)a->store_id,
		         req->external_key_id);
	a->create = (struct kh_key_create){
	    .name = req->name != NULL ? req->name : a->name,
	    .type = KH_KEY_AES_256_GCM,
	    .usage = KH_USAGE_ENCRYPT_DECRYPT,
	    .rotation_period_days = req->rotation_days,
	};
	enum kh_key_type type;
	if (kh_keys_create_check(&a->create, &type) != KH_OK)
		return KH_OK;
	KH_GUARD(kh_keys_newmat_make(type, &a->mat));
	a->have_mat = true;
	return KH_OK;
}

kh_rc kh_keys_xks_key_attach(struct kh_keys *k, const struct kh_principal *p, int64_t store_id,
                             const struct kh_xks_key_attach *req, struct kh_xks_key_info *out)
{
	struct key_arg *a = kh_calloc(1, sizeof(*a));
	KH_ENSURE(a != NULL, KH_ERR_NOMEM);
	a->store_id = store_id;
	a->attach = req;
	kh_rc rc = attach_prepare(a, req);
	if (rc == KH_OK)
		rc = kh_xks_change_run(k, p, KH_OP_XKS_KEY_ATTACH, attach_apply, a);
	if (a->have_mat)
		kh_keys_newmat_cleanup(&a->mat);
	if (rc == KH_OK && out != NULL)
		*out = a->info;
	kh_free(&a);
	return rc;
}

/* ---- reads ---- */

kh_rc kh_keys_xks_key_get(struct kh_keys *k, const struct kh_principal *p, int64_t store_id,
                          const char *external_key_id, struct kh_xks_key_info *out)
{
	struct kh_xks_store_info s;
	struct kh_xks_key_store st;
	struct kh_keys_use_record u = {.op = KH_OP_XKS_KEY_GET};
	struct kh_xks_key_info *x = kh_calloc(1, sizeof(*x));
	KH_ENSURE(x != NULL, KH_ERR_NOMEM);
	kh_rc rc = kh_xks_read_store(k, p, store_id, &s, &u.keystore_id);
	if (rc == KH_OK) {
		struct kh_store_tx *tx = NULL;
		rc = kh_store_read_begin(k->store, &tx);
		if (rc == KH_OK)
			rc = kh_xks_key_load(tx, store_id, external_key_id, x, &st);
		kh_store_read_end(&tx);
		if (rc == KH_OK)
			u.key = &x->key;
	}
	rc = kh_keys_record_use(k, p, &u, rc);
	if (rc == KH_OK)
		*out = *x;
	kh_free(&x);
	return rc;
}

struct list_arg {
	kh_xks_key_fn fn;
	void *arg;
	struct kh_xks_key_info x;
};

static kh_rc key_list_in(struct kh_store_tx *tx, int64_t store_id, const char *after,
                         unsigned limit, struct list_arg *l, bool *out_more)
{
	kh_rc rc = KH_OK;
	struct kh_store_rows *rows = NULL;
	struct kh_store_val v[] = {KH_SV_INT(store_id), KH_SV_TEXT(after != NULL ? after : ""),
	                           KH_SV_INT(limit + 1)};
	KH_GUARD(kh_store_query(tx, &kh_q_xks_key_list, v, KH_SV_COUNT(v), &rows));
	*out_more = false;
	for (unsigned n = 0;; n++) {
		bool row = false;
		struct kh_xks_key_store st;
		KH_GUARD_OUT(kh_store_rows_next(rows, &row));
		if (!row)
			break;
		if (n == limit) {
			*out_more = true;
			break;
		}
		KH_GUARD_OUT(kh_xks_key_decode(rows, &l->x, &st));
		KH_GUARD_OUT(l->fn(&l->x, l->arg));
	}
out:
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_keys_xks_key_list(struct kh_keys *k, const struct kh_principal *p, int64_t store_id,
                           const char *after, unsigned limit, kh_xks_key_fn fn, void *arg,
                           bool *out_more)
{
	struct kh_xks_store_info s;
	struct kh_keys_use_record u = {.op = KH_OP_XKS_KEY_LIST};
	bool more = false;
	struct list_arg *l = kh_calloc(1, sizeof(*l));
	KH_ENSURE(l != NULL, KH_ERR_NOMEM);
	*l = (struct list_arg){.fn = fn, .arg = arg};
	kh_rc rc = kh_xks_read_store(k, p, store_id, &s, &u.keystore_id);
	if (rc == KH_OK &&
	    (limit < 1 || limit > KH_LIMIT_PAGE_MAX || fn == NULL ||
	     (after != NULL && after[0] != '\0' && !kh_xks_external_id_valid(after))))
		rc = KH_ERR_BAD_INPUT;
	if (rc == KH_OK) {
		struct kh_store_tx *tx = NULL;
		rc = kh_store_read_begin(k->store, &tx);
		if (rc == KH_OK)
			rc = key_list_in(tx, store_id, after, limit, l, &more);
		kh_store_read_end(&tx);
	}
	kh_free(&l);
	KH_GUARD(kh_keys_record_use(k, p, &u, rc));
	*out_more = more;
	return KH_OK;
}

/* ---- update and detach ---- */

static kh_rc update_check(const struct kh_xks_key_update *u)
{
	KH_ENSURE(u != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(u->usages >= -1 && u->usages <= (int)(KH_XKS_USE_ENCRYPT | KH_XKS_USE_DECRYPT),
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(u->expires_at >= -1, KH_ERR_BAD_INPUT);
	KH_ENSURE(u->rotation_days >= -1 && u->rotation_days <= KH_KEY_MAX_ROTATION_DAYS,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(u->enabled >= -1 && u->enabled <= 1, KH_ERR_BAD_INPUT);
	KH_GUARD(kh_xks_patterns_check(u->administrators));
	return kh_xks_patterns_check(u->users);
}

static kh_rc update_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct key_arg *a = c->arg;
	const struct kh_xks_key_update *u = a->update;
	struct kh_xks_key_info *x = &a->info;
	struct kh_xks_key_store st;
	KH_GUARD(managed_key(c, tx, a, x));
	KH_GUARD(update_check(u));
	if (u->enabled >= 0)
		KH_GUARD(kh_keys_set_enabled_in(tx, &x->key, u->enabled == 1, c->now, &c->event));
	if (u->rotation_days >= 0)
		KH_GUARD(kh_keys_set_period_in(tx, &x->key, u->rotation_days, c->now));
	struct kh_store_val v[] = {
	    KH_SV_INT(u->usages >= 0 ? (unsigned)u->usages : x->usages),
	    opt_time(u->expires_at >= 0 ? u->expires_at : x->expires_at),
	    KH_SV_TEXT(u->administrators != NULL ? u->administrators : x->administrators),
	    KH_SV_TEXT(u->users != NULL ? u->users : x->users),
	    KH_SV_INT(c->now),
	    KH_SV_INT(x->store_id),
	    KH_SV_TEXT(x->external_key_id),
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_xks_key_update, v, KH_SV_COUNT(v), NULL));
	KH_GUARD(kh_xks_key_load(tx, a->store_id, a->external_key_id, x, &st));
	snprintf(c->detail, sizeof(c->detail),
	         "{\"store\":%lld,\"external_key_id\":\"%s\",\"usages\":%u,\"expires_at\":%lld}",
	         (long long)x->store_id, x->external_key_id, x->usages, (long long)x->expires_at);
	return KH_OK;
}

kh_rc kh_keys_xks_key_update(struct kh_keys *k, const struct kh_principal *p, int64_t store_id,
                             const char *external_key_id, const struct kh_xks_key_update *u,
                             struct kh_xks_key_info *out)
{
	struct key_arg *a = kh_calloc(1, sizeof(*a));
	KH_ENSURE(a != NULL, KH_ERR_NOMEM);
	*a =
	    (struct key_arg){.store_id = store_id, .external_key_id = external_key_id, .update = u};
	kh_rc rc = kh_xks_change_run(k, p, KH_OP_XKS_KEY_UPDATE, update_apply, a);
	if (rc == KH_OK && out != NULL) {
		*out = a->info;
		out->key = a->info.key;
	}
	kh_free(&a);
	return rc;
}

static kh_rc detach_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct key_arg *a = c->arg;
	KH_GUARD(managed_key(c, tx, a, &a->info));
	struct kh_store_val v[] = {KH_SV_INT(a->info.store_id),
	                           KH_SV_TEXT(a->info.external_key_id)};
	KH_GUARD(kh_store_exec(tx, &kh_q_xks_key_delete, v, KH_SV_COUNT(v), NULL));
	snprintf(c->detail, sizeof(c->detail), "{\"store\":%lld,\"external_key_id\":\"%s\"}",
	         (long long)a->info.store_id, a->info.external_key_id);
	return KH_OK;
}

kh_rc kh_keys_xks_key_detach(struct kh_keys *k, const struct kh_principal *p, int64_t store_id,
                             const char *external_key_id)
{
	struct key_arg *a = kh_calloc(1, sizeof(*a));
	KH_ENSURE(a != NULL, KH_ERR_NOMEM);
	*a = (struct key_arg){.store_id = store_id, .external_key_id = external_key_id};
	kh_rc rc = kh_xks_change_run(k, p, KH_OP_XKS_KEY_DETACH, detach_apply, a);
	kh_free(&a);
	return rc;
}
