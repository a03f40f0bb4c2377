// SPDX-License-Identifier: Apache-2.0
/*
 * System endpoints (API.md "System"): health, init, unseal, seal, rekey, root rotation, key
 * stores, accounts and tokens. Only the operator may seal, rekey, rotate the root key and create
 * key stores; init, unseal and health need no token.
 */
#include <stdio.h>
#include <string.h>

#include "api/kh_api_int.h"
#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "base/kh_log.h"
#include "kh_version.h"
#include "crypto/kh_crypto.h"

#define SHARE_TEXT_MAX 512u

/* Audits a system operation of the operator (the barrier must be unsealed to append). */
struct sys_audit {
	struct kh_api_call *c;
	const char *operation;
	kh_rc outcome;
	const char *detail;
};

static kh_rc sys_audit_fn(struct kh_store_tx *tx, void *arg)
{
	struct sys_audit *s = arg;
	char who[KH_PRINCIPAL_NAME_MAX];
	kh_keys_principal_name(&s->c->who, who, sizeof(who));
	struct kh_audit_event ev = {
	    .request_id = s->c->req->request_id,
	    .principal = who,
	    .source = s->c->req->remote_addr,
	    .operation = s->operation,
	    .result = s->outcome == KH_OK ? "ok" : kh_rc_name(s->outcome),
	    .detail = s->detail,
	};
	return kh_audit_append(s->c->api->audit, tx, &ev, NULL);
}

static kh_rc sys_audit(struct kh_api_call *c, const char *operation, kh_rc outcome,
                       const char *detail)
{
	struct sys_audit s = {c, operation, outcome, detail};
	return kh_store_write(c->api->store, sys_audit_fn, &s);
}

/* The operator only; anyone else is refused, and the refusal is audited. */
kh_rc kh_api_operator_only(struct kh_api_call *c, const char *operation)
{
	if (c->who.kind == KH_PRINCIPAL_OPERATOR)
		return KH_OK;
	KH_GUARD(sys_audit(c, operation, KH_ERR_FORBIDDEN, NULL));
	return kh_api_fail(c, KH_ERR_FORBIDDEN, "only the operator may do this");
}

/* ---- health ---- */

static kh_rc health(struct kh_api_call *c)
{
	struct kh_barrier_status st;
	KH_GUARD(kh_barrier_status(c->api->barrier, &st));
	c->status = !st.initialized ? 501 : st.sealed ? 503 : 200;
	struct kh_json_writer *w = &c->w;
	kh_json_object_begin(w);
	kh_json_key(w, "initialized");
	kh_json_bool(w, st.initialized);
	kh_json_key(w, "sealed");
	kh_json_bool(w, st.sealed);
	kh_json_key(w, "standby");
	kh_json_bool(w, false);
	kh_json_key(w, "version");
	kh_json_cstr(w, KH_VERSION_STRING);
	kh_json_key(w, "node_id");
	kh_json_cstr(w, c->api->node_id);
	kh_json_key(w, "cluster_size");
	kh_json_uint(w, 1);
	kh_json_object_end(w);
	return KH_OK;
}

/* ---- init ---- */

/* n shares of which k open (kh_barrier_init's rule), for init and rekey alike. */
static kh_rc shares_shape(struct kh_api_call *c, int64_t n, int64_t k)
{
	if (k > n || (k == 1 && n > 1))
		return kh_api_fail(c, KH_ERR_BAD_INPUT,
		                   "threshold must be 2..shares, or 1 with a single share");
	return KH_OK;
}

/*
 * The custodians' public keys, one per share, each able to encrypt (RSA or SM2). They are all
 * read before the barrier is initialised: a share that could not be handed out would leave a
 * store that nobody can unseal and that cannot be initialised again.
 */
struct custodians {
	size_t count;
	struct kh_pkey *keys[KH_LIMIT_SHARES_MAX];
};

static void custodians_free(struct custodians *cu)
{
	for (size_t i = 0; i < cu->count; i++)
		kh_pkey_free(&cu->keys[i]);
	cu->count = 0;
}

static bool encrypts(const struct kh_pkey *pk)
{
	switch (kh_pkey_type_of(pk)) {
	case KH_PKEY_RSA_2048:
	case KH_PKEY_RSA_3072:
	case KH_PKEY_RSA_4096:
	case KH_PKEY_SM2:
		return true;
	default:
		return false;
	}
}

static kh_rc custodians_load(struct kh_api_call *c, const struct kh_json *arr, size_t count,
                             struct custodians *cu)
{
	kh_rc rc = KH_OK;
	for (size_t i = 0; i < count && rc == KH_OK; i++) {
		struct kh_slice pem;
		rc = kh_json_as_string(kh_json_array_at(arr, i), &pem);
		if (rc == KH_OK)
			rc = kh_pkey_import_public(pem, &cu->keys[i]);
		if (rc == KH_OK)
			cu->count = i + 1;
		if (rc == KH_OK && !encrypts(cu->keys[i]))
			rc = KH_ERR_WRONG_KEY_TYPE;
	}
	if (rc == KH_OK)
		return KH_OK;
	custodians_free(cu);
	return kh_api_fail(c, rc == KH_ERR_NOMEM ? rc : KH_ERR_BAD_INPUT,
	                   "custodian_keys must be RSA or SM2 public keys (PEM)");
}

/* Share i, encrypted to custodian i when there are custodians. */
static kh_rc share_out(struct kh_api_call *c, const struct custodians *cu, size_t i,
                       struct kh_slice share)
{
	struct kh_buf ct;
	if (cu->count == 0) {
		kh_json_base64(&c->w, share);
		return KH_OK;
	}
	kh_buf_init(&ct, 4096, KH_BUF_PLAIN);
	kh_rc rc = kh_pkey_encrypt(cu->keys[i], share, &ct);
	if (rc == KH_OK)
		kh_json_base64(&c->w, kh_buf_slice(&ct));
	kh_buf_cleanup(&ct);
	return rc;
}

/* Opens the fresh barrier with its own shares to issue the operator's first token, then seals
 * it again: after init the service is sealed, as the custodians expect. */
static kh_rc first_token(struct kh_api_call *c, struct kh_barrier_shares *shares, unsigned k,
                         struct kh_buf *token)
{
	struct kh_barrier_progress p;
	int64_t id = 0;
	for (unsigned i = 0; i < k; i++)
		KH_GUARD(kh_barrier_unseal(c->api->barrier, kh_buf_slice(&shares->share[i]), &p));
	kh_rc rc = kh_authz_token_issue_initial(c->api->authz, &id, token);
	kh_rc sealed = kh_barrier_seal(c->api->barrier);
	return rc != KH_OK ? rc : sealed;
}

static kh_rc init_checked(struct kh_api_call *c, int64_t n, int64_t k, const struct custodians *cu)
{
	kh_rc rc = KH_OK;
	struct kh_barrier_shares *shares = NULL;
	struct kh_buf token;
	kh_buf_init(&token, 128, KH_BUF_SECURE);
	rc = kh_barrier_init(c->api->barrier, (unsigned)n, (unsigned)k, &shares);
	if (rc == KH_ERR_CONFLICT)
		rc = kh_api_fail(c, rc, "already initialised");
	KH_GUARD_OUT(rc);
	KH_GUARD_OUT(first_token(c, shares, (unsigned)k, &token));
	KH_GUARD_OUT(kh_api_secure_body(c));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "shares");
	kh_json_array_begin(&c->w);
	for (unsigned i = 0; i < shares->count; i++)
		KH_GUARD_OUT(share_out(c, cu, i, kh_buf_slice(&shares->share[i])));
	kh_json_array_end(&c->w);
	kh_json_key(&c->w, "threshold");
	kh_json_int(&c->w, k);
	kh_json_key(&c->w, "operator_token");
	kh_json_string(&c->w, kh_buf_slice(&token));
	kh_json_object_end(&c->w);
out:
	kh_barrier_shares_free(&shares);
	kh_buf_cleanup(&token);
	return rc;
}

static kh_rc init(struct kh_api_call *c)
{
	int64_t n = 5, k = 3;
	bool have = false;
	const struct kh_json *keys = NULL;
	size_t key_count = 0;
	KH_GUARD(kh_api_opt_int(c, "shares", 1, KH_LIMIT_SHARES_MAX, &n, &have));
	KH_GUARD(kh_api_opt_int(c, "threshold", 1, KH_LIMIT_SHARES_MAX, &k, &have));
	KH_GUARD(shares_shape(c, n, k));
	kh_rc rc = c->body != NULL ? kh_json_get_array(c->body, "custodian_keys", &keys, &key_count)
	                           : KH_ERR_NOT_FOUND;
	if (rc == KH_ERR_NOT_FOUND)
		key_count = 0;
	else if (rc != KH_OK || key_count != (size_t)n)
		return kh_api_fail(c, KH_ERR_BAD_INPUT,
		                   "custodian_keys must list one PEM public key per share");
	struct custodians cu = {0};
	KH_GUARD(custodians_load(c, keys, key_count, &cu));
	rc = init_checked(c, n, k, &cu);
	custodians_free(&cu);
	return rc;
}

/* ---- unseal, seal ---- */

static kh_rc unseal(struct kh_api_call *c)
{
	struct kh_barrier_progress p = {0};
	struct kh_buf share;
	bool reset = false;
	KH_GUARD(kh_api_opt_bool(c, "reset", &reset));
	kh_buf_init(&share, SHARE_TEXT_MAX, KH_BUF_SECURE);
	kh_rc rc = KH_OK;
	if (reset && kh_api_has(c, "share")) {
		rc = kh_api_fail(c, KH_ERR_BAD_INPUT,
		                 "give either \"share\" or \"reset\", not both");
	} else if (reset) {
		kh_barrier_unseal_reset(c->api->barrier);
	} else {
		rc = kh_api_base64(c, "share", &share);
		if (rc == KH_ERR_NOT_FOUND)
			rc = kh_api_fail(c, KH_ERR_BAD_INPUT, "\"share\" or \"reset\" is required");
		if (rc == KH_OK)
			rc = kh_barrier_unseal(c->api->barrier, kh_buf_slice(&share), &p);
		if (rc == KH_ERR_BAD_SHARE)
			rc = kh_api_fail(c, rc, "the share is malformed, mistyped or foreign");
		else if (rc == KH_ERR_CONFLICT)
			rc = kh_api_fail(c, rc, "that share was given already, or not initialised");
	}
	kh_buf_cleanup(&share);
	KH_GUARD(rc);
	struct kh_barrier_status st;
	KH_GUARD(kh_barrier_status(c->api->barrier, &st));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "sealed");
	kh_json_bool(&c->w, st.sealed);
	kh_json_key(&c->w, "progress");
	kh_json_uint(&c->w, st.progress);
	kh_json_key(&c->w, "threshold");
	kh_json_uint(&c->w, st.threshold);
	kh_json_object_end(&c->w);
	return KH_OK;
}

static kh_rc seal(struct kh_api_call *c)
{
	KH_GUARD(kh_api_operator_only(c, "sys.seal"));
	/* Audited before: once sealed, nothing can be appended. */
	KH_GUARD(sys_audit(c, "sys.seal", KH_OK, NULL));
	KH_GUARD(kh_barrier_seal(c->api->barrier));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "sealed");
	kh_json_bool(&c->w, true);
	kh_json_object_end(&c->w);
	return KH_OK;
}

/* ---- rekey, root rotation ---- */

static kh_rc old_shares_decode(struct kh_api_call *c, struct kh_buf *bufs, struct kh_slice *out,
                               size_t *out_count)
{
	const struct kh_json *arr = NULL;
	size_t n = 0;
	kh_rc rc = kh_json_get_array(c->body, "old_shares", &arr, &n);
	if (rc != KH_OK || n == 0 || n > KH_LIMIT_SHARES_MAX)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "\"old_shares\" must list the shares");
	for (size_t i = 0; i < n; i++) {
		struct kh_slice text;
		if (kh_json_as_string(kh_json_array_at(arr, i), &text) != KH_OK)
			return kh_api_fail(c, KH_ERR_BAD_INPUT,
			                   "\"old_shares\" must list the shares");
		if (kh_base64_decode(text, &bufs[i]) != KH_OK)
			return kh_api_fail(c, KH_ERR_BAD_SHARE, "an old share is not Base64");
		out[i] = kh_buf_slice(&bufs[i]);
	}
	*out_count = n;
	return KH_OK;
}

static kh_rc rekey(struct kh_api_call *c)
{
	struct kh_buf bufs[KH_LIMIT_SHARES_MAX];
	struct kh_slice old[KH_LIMIT_SHARES_MAX];
	struct kh_barrier_shares *fresh = NULL;
	size_t count = 0;
	int64_t n = 5, k = 3;
	bool have = false;
	KH_GUARD(kh_api_operator_only(c, "sys.rekey"));
	KH_GUARD(kh_api_opt_int(c, "shares", 1, KH_LIMIT_SHARES_MAX, &n, &have));
	KH_GUARD(kh_api_opt_int(c, "threshold", 1, KH_LIMIT_SHARES_MAX, &k, &have));
	KH_GUARD(shares_shape(c, n, k));
	for (size_t i = 0; i < KH_LIMIT_SHARES_MAX; i++)
		kh_buf_init(&bufs[i], SHARE_TEXT_MAX, KH_BUF_SECURE);
	kh_rc rc = old_shares_decode(c, bufs, old, &count);
	/* The body is made secure before the rekey: once the keyring has changed, nothing may
	 * keep the new shares from their holders. */
	if (rc == KH_OK)
		rc = kh_api_secure_body(c);
	if (rc == KH_OK) {
		rc =
		    kh_barrier_rekey(c->api->barrier, old, count, (unsigned)n, (unsigned)k, &fresh);
		if (rc == KH_ERR_BAD_SHARE)
			rc = kh_api_fail(c, rc, "the old shares do not open the keyring");
	}
	if (rc == KH_OK) {
		kh_json_object_begin(&c->w);
		kh_json_key(&c->w, "shares");
		kh_json_array_begin(&c->w);
		for (unsigned i = 0; i < fresh->count; i++)
			kh_json_base64(&c->w, kh_buf_slice(&fresh->share[i]));
		kh_json_array_end(&c->w);
		kh_json_key(&c->w, "threshold");
		kh_json_int(&c->w, k);
		kh_json_object_end(&c->w);
	}
	kh_barrier_shares_free(&fresh);
	for (size_t i = 0; i < KH_LIMIT_SHARES_MAX; i++)
		kh_buf_cleanup(&bufs[i]);
	/* Audited whatever the outcome, when the barrier lets us. After a rekey the old shares
	 * no longer open anything, so a failed record must not withhold the new ones: it is
	 * logged as the error it is, and the shares go out. */
	kh_rc logged = sys_audit(c, "sys.rekey", rc, NULL);
	if (rc == KH_OK && logged != KH_OK && logged != KH_ERR_SEALED)
		KH_LOG_ERROR("rekey done, but its audit record failed",
		             KH_LF_STR("request_id", c->req->request_id), KH_LF_RC(logged));
	return rc;
}

static kh_rc rotate_root(struct kh_api_call *c)
{
	uint32_t term = 0;
	char detail[32];
	KH_GUARD(kh_api_operator_only(c, "sys.rotate_root"));
	KH_GUARD(kh_barrier_rotate_root(c->api->barrier, &term));
	snprintf(detail, sizeof(detail), "{\"term\":%u}", term);
	KH_GUARD(sys_audit(c, "sys.rotate_root", KH_OK, detail));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "term");
	kh_json_uint(&c->w, term);
	kh_json_object_end(&c->w);
	return KH_OK;
}

/* ---- key stores, accounts, tokens ---- */

static kh_rc keystore_create(struct kh_api_call *c)
{
	char name[KH_LIMIT_NAME_MAX + 1];
	int64_t id = 0;
	KH_GUARD(kh_api_req_string(c, "name", name, sizeof(name)));
	kh_rc rc = kh_keys_keystore_create(c->api->keys, &c->who, name, &id);
	if (rc == KH_ERR_CONFLICT)
		return kh_api_fail(c, rc, "a key store with that name exists");
	if (rc == KH_ERR_BAD_INPUT)
		return kh_api_fail(c, rc, "names are 1-64 of A-Z a-z 0-9 _ . -");
	KH_GUARD(rc);
	c->status = 201;
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "id");
	kh_json_int(&c->w, id);
	kh_json_key(&c->w, "name");
	kh_json_cstr(&c->w, name);
	kh_json_object_end(&c->w);
	return KH_OK;
}

static kh_rc policies_of(struct kh_api_call *c, unsigned *out)
{
	const struct kh_json *arr = NULL;
	struct kh_slice p;
	size_t n = 0;
	if (kh_json_get_array(c->body, "policies", &arr, &n) != KH_OK || n != 1 ||
	    kh_json_as_string(kh_json_array_at(arr, 0), &p) != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT,
		                   "\"policies\" must be [\"kms-manager\"], [\"kms-user\"], "
		                   "[\"ra-officer\"] or [\"recovery-officer\"]");
	if (kh_slice_eq(p, KH_SLICE_LIT("kms-manager")))
		*out = KH_POLICY_KMS_MANAGER;
	else if (kh_slice_eq(p, KH_SLICE_LIT("kms-user")))
		*out = KH_POLICY_KMS_USER;
	else if (kh_slice_eq(p, KH_SLICE_LIT("ra-officer")))
		*out = KH_POLICY_RA_OFFICER;
	else if (kh_slice_eq(p, KH_SLICE_LIT("recovery-officer")))
		*out = KH_POLICY_RECOVERY_OFFICER;
	else
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "unknown policy");
	return KH_OK;
}

static void write_token(struct kh_api_call *c, int64_t id, struct kh_slice token)
{
	kh_json_key(&c->w, "token_id");
	kh_json_int(&c->w, id);
	kh_json_key(&c->w, "token");
	kh_json_string(&c->w, token);
}

static kh_rc account_create(struct kh_api_call *c)
{
	char name[KH_LIMIT_NAME_MAX + 1];
	int64_t ks = 0, account = 0, token_id = 0;
	unsigned policies = 0;
	struct kh_buf token;
	KH_GUARD(kh_api_param_id(c, 0, &ks));
	KH_GUARD(kh_api_req_string(c, "name", name, sizeof(name)));
	KH_GUARD(policies_of(c, &policies));
	kh_rc rc = kh_keys_account_create(c->api->keys, &c->who, ks, name, policies, &account);
	if (rc == KH_ERR_CONFLICT)
		return kh_api_fail(c, rc, "an account with that name exists in the key store");
	KH_GUARD(rc);
	kh_buf_init(&token, 128, KH_BUF_SECURE);
	rc = kh_authz_token_issue(c->api->authz, &c->who, account, 0, &token_id, &token);
	if (rc == KH_OK)
		rc = kh_api_secure_body(c);
	if (rc == KH_OK) {
		c->status = 201;
		kh_json_object_begin(&c->w);
		kh_json_key(&c->w, "account");
		kh_json_object_begin(&c->w);
		kh_json_key(&c->w, "id");
		kh_json_int(&c->w, account);
		kh_json_key(&c->w, "name");
		kh_json_cstr(&c->w, name);
		kh_json_key(&c->w, "keystore");
		kh_json_int(&c->w, ks);
		kh_json_key(&c->w, "policies");
		kh_json_array_begin(&c->w);
		kh_json_cstr(&c->w, policies == KH_POLICY_KMS_MANAGER        ? "kms-manager"
		                    : policies == KH_POLICY_RA_OFFICER       ? "ra-officer"
		                    : policies == KH_POLICY_RECOVERY_OFFICER ? "recovery-officer"
		                                                             : "kms-user");
		kh_json_array_end(&c->w);
		kh_json_object_end(&c->w);
		write_token(c, token_id, kh_buf_slice(&token));
		kh_json_object_end(&c->w);
	}
	kh_buf_cleanup(&token);
	return rc;
}

/* Issues a token for account (0: the operator) and writes it. */
static kh_rc issue_for(struct kh_api_call *c, int64_t account)
{
	int64_t ttl = 0, id = 0;
	bool have = false;
	struct kh_buf token;
	if (c->body != NULL)
		KH_GUARD(
		    kh_api_opt_int(c, "ttl_seconds", 1, KH_TOKEN_TTL_MAX_SECONDS, &ttl, &have));
	kh_buf_init(&token, 128, KH_BUF_SECURE);
	kh_rc rc = kh_authz_token_issue(c->api->authz, &c->who, account, ttl, &id, &token);
	if (rc == KH_OK)
		rc = kh_api_secure_body(c);
	if (rc == KH_OK) {
		c->status = 201;
		kh_json_object_begin(&c->w);
		write_token(c, id, kh_buf_slice(&token));
		if (ttl > 0) {
			kh_json_key(&c->w, "expires_at");
			kh_json_time(&c->w, kh_clock_now(c->api->clock) + ttl * KH_NS_PER_SEC);
		}
		kh_json_object_end(&c->w);
	}
	kh_buf_cleanup(&token);
	return rc;
}

static kh_rc token_issue(struct kh_api_call *c)
{
	int64_t account = 0;
	KH_GUARD(kh_api_param_id(c, 0, &account));
	return issue_for(c, account);
}

/* A further operator token (the first comes with init); only the operator may ask. */
static kh_rc operator_token_issue(struct kh_api_call *c)
{
	KH_GUARD(kh_api_operator_only(c, "token.issue"));
	return issue_for(c, 0);
}

static kh_rc token_revoke(struct kh_api_call *c)
{
	int64_t id = 0;
	KH_GUARD(kh_api_param_id(c, 0, &id));
	KH_GUARD(kh_authz_token_revoke(c->api->authz, &c->who, id));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "revoked");
	kh_json_bool(&c->w, true);
	kh_json_object_end(&c->w);
	return KH_OK;
}

static const char *const init_fields[] = {"shares", "threshold", "custodian_keys", NULL};
static const char *const unseal_fields[] = {"share", "reset", NULL};
static const char *const rekey_fields[] = {"shares", "threshold", "old_shares", NULL};
static const char *const name_fields[] = {"name", NULL};
static const char *const account_fields[] = {"name", "policies", NULL};
static const char *const token_fields[] = {"ttl_seconds", NULL};

const struct kh_api_route kh_api_sys_routes[] = {
    {KH_HTTP_GET, "/v1/sys/health", health, KH_API_PUBLIC | KH_API_UNLIMITED, NULL},
    {KH_HTTP_POST, "/v1/sys/init", init, KH_API_PUBLIC | KH_API_BODY_OPT, init_fields},
    {KH_HTTP_POST, "/v1/sys/unseal", unseal, KH_API_PUBLIC | KH_API_BODY, unseal_fields},
    {KH_HTTP_POST, "/v1/sys/seal", seal, 0, NULL},
    {KH_HTTP_POST, "/v1/sys/rekey", rekey, KH_API_BODY, rekey_fields},
    {KH_HTTP_POST, "/v1/sys/rotate-root", rotate_root, 0, NULL},
    {KH_HTTP_POST, "/v1/keystores", keystore_create, KH_API_BODY, name_fields},
    {KH_HTTP_POST, "/v1/keystores/{}/accounts", account_create, KH_API_BODY, account_fields},
    {KH_HTTP_POST, "/v1/accounts/{}/tokens", token_issue, KH_API_BODY_OPT, token_fields},
    {KH_HTTP_POST, "/v1/sys/tokens", operator_token_issue, KH_API_BODY_OPT, token_fields},
    {KH_HTTP_DELETE, "/v1/tokens/{}", token_revoke, 0, NULL},
    {0, NULL, NULL, 0, NULL},
};
