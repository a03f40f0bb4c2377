/* SPDX-License-Identifier: Apache-2.0 */
/*
 * XKS key stores (kh_keys_xks.h): stores, credentials and attached keys with every validation
 * rule and who may manage them; the proxy's caches (a change is seen at once, a revoked
 * credential fails at once, a seal empties them); the check order of the three operations;
 * secondary authorization and the pattern matcher, pathological patterns included; AES-256-GCM
 * round trips, 16-byte IVs, the design page's known answers, rotation, tampering, disabled and
 * expired keys; audit records with their detail and without secrets, usage counts, deferred
 * records; the deep self-test and the live nodes.
 */
#include "kh_test_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_endian.h"
#include "crypto/kh_crypto.h"
#include "keys/kh_keys_xks.h"
#include "keys/kh_xks_format.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define ARN_APP "arn:aws:iam::111122223333:role/app"
#define ARN_ADMIN "arn:aws:iam::111122223333:user/admin"

struct env {
	struct kh_test_keys *t;
	struct kh_keys *k;
	int64_t ks, ks2;
	struct kh_principal op, mgr, user, mgr2, xks;
	struct kh_xks_store_info store;
	char ak[KH_XKS_ACCESS_KEY_MAX + 1];
	struct kh_xks_key_info key; /* "key-1": new key, both usages */
};

static struct kh_xks_store_info make_store(struct env *e, const struct kh_principal *p,
                                           const char *prefix, bool secondary)
{
	struct kh_xks_store_create req = {.prefix = prefix, .secondary_auth = secondary};
	struct kh_xks_store_info s;
	if (p->kind == KH_PRINCIPAL_OPERATOR)
		req.keystore_id = e->ks;
	assert_int_equal(kh_keys_xks_store_create(e->k, p, &req, &s), KH_OK);
	assert_string_equal(s.prefix, prefix);
	assert_true(s.enabled);
	return s;
}

static kh_rc issue(struct env *e, int64_t store_id, struct kh_xks_credential_info *out,
                   struct kh_buf *secret)
{
	kh_buf_init(secret, 128, KH_BUF_SECURE);
	return kh_keys_xks_credential_issue(e->k, &e->mgr, store_id, out, secret);
}

static kh_rc attach(struct env *e, const char *ext, const char *tag, unsigned usages,
                    struct kh_xks_key_info *out)
{
	struct kh_xks_key_attach req = {
	    .external_key_id = ext, .key_tag = tag, .rotation_days = -1, .usages = usages};
	return kh_keys_xks_key_attach(e->k, &e->mgr, e->store.id, &req, out);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->t = kh_test_keys_new(0);
	e->k = e->t->keys;
	e->op = kh_test_keys_operator();
	e->ks = kh_test_keys_keystore(e->t, "acme");
	e->ks2 = kh_test_keys_keystore(e->t, "other");
	e->mgr = kh_test_keys_manager(e->t, e->ks, "admin");
	e->user = kh_test_keys_user(e->t, e->ks, "alice");
	e->mgr2 = kh_test_keys_manager(e->t, e->ks2, "boss");
	e->store = make_store(e, &e->mgr, "acme/xks", false);
	struct kh_xks_credential_info c;
	struct kh_buf secret;
	assert_int_equal(issue(e, e->store.id, &c, &secret), KH_OK);
	kh_buf_cleanup(&secret);
	snprintf(e->ak, sizeof(e->ak), "%s", c.access_key_id);
	assert_int_equal(attach(e, "key-1", NULL, KH_XKS_USE_ENCRYPT | KH_XKS_USE_DECRYPT, &e->key),
	                 KH_OK);
	e->xks = (struct kh_principal){.kind = KH_PRINCIPAL_XKS,
	                               .keystore_id = e->ks,
	                               .xks_store_id = e->store.id,
	                               .xks_access_key = e->ak,
	                               .request_id = "xks-request",
	                               .source = "10.0.0.1"};
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	kh_test_keys_free(&e->t);
	free(e);
	return 0;
}

static struct kh_xks_call call_of(struct env *e, const char *ext)
{
	return (struct kh_xks_call){.store_id = e->store.id,
	                            .external_key_id = ext,
	                            .kms_request_id = "kms-req-1",
	                            .kms_operation = "Encrypt",
	                            .aws_principal_arn = ARN_APP,
	                            .kms_key_arn = "arn:aws:kms:us-east-1:111122223333:key/x",
	                            .kms_via_service = "",
	                            .aws_source_vpc = "",
	                            .aws_source_vpce = "",
	                            .size_rc = KH_OK};
}

static kh_rc xenc(struct env *e, const struct kh_xks_call *c, const char *pt, const char *aad,
                  bool integrity, struct kh_xks_sealed *out)
{
	memset(out, 0, sizeof(*out));
	kh_buf_init(&out->ciphertext, 8192, KH_BUF_PLAIN);
	kh_rc rc = kh_keys_xks_encrypt(e->k, &e->xks, c, kh_slice_from_cstr(pt),
	                               kh_slice_from_cstr(aad), integrity, out);
	if (rc == KH_OK)
		assert_int_equal(out->ciphertext.len, strlen(pt));
	else
		assert_int_equal(out->ciphertext.len, 0);
	return rc;
}

/* Decrypts s; on success the plaintext must be want. */
static kh_rc xdec_md(struct env *e, const struct kh_xks_call *c, const struct kh_xks_sealed *s,
                     struct kh_slice md, const char *aad, const char *want)
{
	struct kh_buf out;
	kh_buf_init(&out, 8192, KH_BUF_SECURE);
	kh_rc rc = kh_keys_xks_decrypt(
	    e->k, &e->xks, c, kh_buf_slice(&s->ciphertext), KH_SLICE(s->iv, sizeof(s->iv)),
	    KH_SLICE(s->tag, sizeof(s->tag)), md, kh_slice_from_cstr(aad), &out);
	if (rc == KH_OK)
		assert_true(kh_slice_eq(kh_buf_slice(&out), kh_slice_from_cstr(want)));
	else
		assert_int_equal(out.len, 0);
	kh_buf_cleanup(&out);
	return rc;
}

static kh_rc xdec(struct env *e, const struct kh_xks_call *c, const struct kh_xks_sealed *s,
                  const char *aad, const char *want)
{
	return xdec_md(e, c, s, KH_SLICE(s->metadata, sizeof(s->metadata)), aad, want);
}

static kh_rc xmeta(struct env *e, const struct kh_xks_call *c, struct kh_xks_key_state *out)
{
	return kh_keys_xks_metadata(e->k, &e->xks, c, out);
}

static void set_key(struct env *e, const char *ext, const struct kh_xks_key_update *u)
{
	struct kh_xks_key_info x;
	assert_int_equal(kh_keys_xks_key_update(e->k, &e->mgr, e->store.id, ext, u, &x), KH_OK);
}

static struct kh_xks_key_update no_change(void)
{
	return (struct kh_xks_key_update){
	    .usages = -1, .expires_at = -1, .rotation_days = -1, .enabled = -1};
}

static void set_store(struct env *e, int secondary, int enabled)
{
	struct kh_xks_store_update u = {
	    .secondary_auth = secondary, .enabled = enabled, .quota_rps = -1};
	struct kh_xks_store_info s;
	assert_int_equal(kh_keys_xks_store_update(e->k, &e->mgr, e->store.id, &u, &s), KH_OK);
}

/* ---- audit records, read whole (the fixture cuts details at 256 bytes) ---- */

struct rec {
	char operation[48];
	char principal[KH_PRINCIPAL_NAME_MAX];
	char result[48];
	char key_tag[KH_KEY_TAG_LEN + 1];
	int64_t keystore_id;
	uint32_t version;
	char detail[KH_AUDIT_FIELD_MAX + 1];
};

struct recs {
	struct rec r[16];
	size_t n;
	int64_t last;
};

static kh_rc rec_fn(const struct kh_audit_record *r, void *arg)
{
	struct recs *a = arg;
	a->last = r->seq;
	if (a->n < COUNT_OF(a->r)) {
		struct rec *o = &a->r[a->n];
		snprintf(o->operation, sizeof(o->operation), "%s", r->ev.operation);
		snprintf(o->principal, sizeof(o->principal), "%s", r->ev.principal);
		snprintf(o->result, sizeof(o->result), "%s", r->ev.result);
		snprintf(o->key_tag, sizeof(o->key_tag), "%s",
		         r->ev.key_tag != NULL ? r->ev.key_tag : "");
		snprintf(o->detail, sizeof(o->detail), "%s",
		         r->ev.detail != NULL ? r->ev.detail : "");
		o->keystore_id = r->ev.keystore_id;
		o->version = r->ev.version;
	}
	a->n++;
	return KH_OK;
}

static struct recs *recs_since(struct env *e, int64_t after)
{
	static struct recs a;
	bool more = true;
	memset(&a, 0, sizeof(a));
	a.last = after;
	while (more) {
		struct kh_audit_filter f = {
		    .keystore_id = -1, .after_seq = a.last, .limit = KH_LIMIT_PAGE_MAX};
		assert_int_equal(kh_audit_list(e->t->audit, &f, rec_fn, &a, &more), KH_OK);
	}
	return &a;
}

/* The one record since after: operation and result. */
static struct rec *one_rec(struct env *e, int64_t after, const char *op, kh_rc rc)
{
	struct recs *a = recs_since(e, after);
	assert_int_equal(a->n, 1);
	assert_string_equal(a->r[0].operation, op);
	assert_string_equal(a->r[0].result, rc == KH_OK ? "ok" : kh_rc_name(rc));
	return &a->r[0];
}

/* ---- stores ---- */

static kh_rc create_as(struct env *e, const struct kh_principal *p, int64_t ks, const char *prefix,
                       const char *region, unsigned quota)
{
	struct kh_xks_store_create req = {
	    .keystore_id = ks, .prefix = prefix, .region = region, .quota_rps = quota};
	struct kh_xks_store_info s;
	memset(&s, 0x5a, sizeof(s));
	kh_rc rc = kh_keys_xks_store_create(e->k, p, &req, &s);
	if (rc == KH_OK) {
		assert_string_equal(s.prefix, prefix);
		assert_int_equal(s.keystore_id, ks != 0 ? ks : p->keystore_id);
	}
	return rc;
}

static void store_prefix_region_and_quota_rules(void **state)
{
	struct env *e = *state;
	char p117[KH_XKS_PREFIX_MAX + 2];
	memset(p117, 'p', sizeof(p117));
	p117[KH_XKS_PREFIX_MAX] = '\0';
	static const char *const bad[] = {"",    "/a", "a/",       "a//b", "a b", "a.b",
	                                  "a?b", "/",  "\xc3\xa9", "a/b/", "//"};
	for (size_t i = 0; i < COUNT_OF(bad); i++)
		assert_int_equal(create_as(e, &e->op, e->ks, bad[i], NULL, 0), KH_ERR_BAD_INPUT);
	assert_int_equal(create_as(e, &e->op, e->ks, p117, NULL, 0), KH_OK);
	p117[KH_XKS_PREFIX_MAX] = 'p';
	assert_int_equal(create_as(e, &e->op, e->ks, p117, NULL, 0), KH_ERR_BAD_INPUT);
	assert_int_equal(create_as(e, &e->op, e->ks, "A-z_09/x-y", "us-east-1", 1800), KH_OK);
	assert_int_equal(create_as(e, &e->op, e->ks, "r1", "US-EAST-1", 0), KH_ERR_BAD_INPUT);
	assert_int_equal(create_as(e, &e->op, e->ks, "r2", "us_east", 0), KH_ERR_BAD_INPUT);
	assert_int_equal(create_as(e, &e->op, e->ks, "q", NULL, KH_XKS_QUOTA_MAX + 1),
	                 KH_ERR_BAD_INPUT);
	/* Taken prefixes, the operator's missing key store, an unknown key store. */
	assert_int_equal(create_as(e, &e->op, e->ks, "acme/xks", NULL, 0), KH_ERR_CONFLICT);
	assert_int_equal(create_as(e, &e->op, 0, "no-keystore", NULL, 0), KH_ERR_BAD_INPUT);
	assert_int_equal(create_as(e, &e->op, 999, "ghost", NULL, 0), KH_ERR_NOT_FOUND);
	/* A manager's own key store by default. */
	assert_int_equal(create_as(e, &e->mgr, 0, "mine", "", 0), KH_OK);
	struct kh_xks_store_info s;
	assert_int_equal(kh_keys_xks_resolve(e->k, "A-z_09/x-y", &s), KH_OK);
	assert_string_equal(s.region, "us-east-1");
	assert_int_equal(s.quota_rps, 1800);
	assert_false(s.secondary_auth);
}

static void store_authorization_and_its_audit(void **state)
{
	struct env *e = *state;
	struct kh_xks_store_info s;
	struct kh_xks_store_update u = {.secondary_auth = 1, .enabled = -1, .quota_rps = -1};
	/* Another key store's manager: not found, whatever it asks. */
	int64_t last = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_xks_store_get(e->k, &e->mgr2, e->store.id, &s), KH_ERR_NOT_FOUND);
	struct rec *r = one_rec(e, last, "xks.store.get", KH_ERR_NOT_FOUND);
	assert_int_equal(r->keystore_id, e->ks2); /* the caller's log, not acme's */
	assert_int_equal(kh_keys_xks_store_update(e->k, &e->mgr2, e->store.id, &u, &s),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_xks_store_delete(e->k, &e->mgr2, e->store.id), KH_ERR_NOT_FOUND);
	assert_int_equal(create_as(e, &e->mgr2, e->ks, "steal", NULL, 0), KH_ERR_NOT_FOUND);
	/* A kms-user of the key store: forbidden. */
	assert_int_equal(kh_keys_xks_store_get(e->k, &e->user, e->store.id, &s), KH_ERR_FORBIDDEN);
	last = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_xks_store_update(e->k, &e->user, e->store.id, &u, &s),
	                 KH_ERR_FORBIDDEN);
	one_rec(e, last, "xks.store.update", KH_ERR_FORBIDDEN);
	assert_int_equal(create_as(e, &e->user, 0, "u", NULL, 0), KH_ERR_FORBIDDEN);
	/* An XKS principal manages nothing. */
	assert_int_equal(kh_keys_xks_store_get(e->k, &e->xks, e->store.id, &s), KH_ERR_FORBIDDEN);
	/* The operator: any store; its records go to the store's key store. */
	last = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_xks_store_update(e->k, &e->op, e->store.id, &u, &s), KH_OK);
	assert_true(s.secondary_auth);
	r = one_rec(e, last, "xks.store.update", KH_OK);
	assert_string_equal(r->principal, "operator");
	assert_int_equal(r->keystore_id, e->ks);
	assert_int_equal(kh_keys_xks_store_get(e->k, &e->op, e->store.id, &s), KH_OK);
	assert_int_equal(s.credential_count, 1);
	assert_int_equal(s.key_count, 1);
	assert_int_equal(kh_keys_xks_store_get(e->k, &e->mgr, 424242, &s), KH_ERR_NOT_FOUND);
	/* Bad updates. */
	struct kh_xks_store_update bad[] = {
	    {.region = "EU", .secondary_auth = -1, .enabled = -1, .quota_rps = -1},
	    {.secondary_auth = 2, .enabled = -1, .quota_rps = -1},
	    {.secondary_auth = -1, .enabled = -2, .quota_rps = -1},
	    {.secondary_auth = -1, .enabled = -1, .quota_rps = KH_XKS_QUOTA_MAX + 1},
	};
	for (size_t i = 0; i < COUNT_OF(bad); i++)
		assert_int_equal(kh_keys_xks_store_update(e->k, &e->mgr, e->store.id, &bad[i], &s),
		                 KH_ERR_BAD_INPUT);
}

struct ids {
	int64_t id[16];
	size_t n;
};

static kh_rc store_fn(const struct kh_xks_store_info *s, void *arg)
{
	struct ids *a = arg;
	if (a->n < COUNT_OF(a->id))
		a->id[a->n] = s->id;
	a->n++;
	return KH_OK;
}

static void store_lists_are_scoped_and_paged(void **state)
{
	struct env *e = *state;
	struct kh_xks_store_info b = make_store(e, &e->mgr, "acme/b", false);
	struct kh_xks_store_info o = make_store(e, &e->mgr2, "other/a", false);
	struct ids a = {0};
	bool more = true;
	assert_int_equal(kh_keys_xks_store_list(e->k, &e->mgr, 0, 10, store_fn, &a, &more), KH_OK);
	assert_false(more);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.id[0], e->store.id);
	assert_int_equal(a.id[1], b.id);
	memset(&a, 0, sizeof(a));
	assert_int_equal(kh_keys_xks_store_list(e->k, &e->op, 0, 2, store_fn, &a, &more), KH_OK);
	assert_true(more);
	assert_int_equal(a.n, 2);
	memset(&a, 0, sizeof(a));
	assert_int_equal(kh_keys_xks_store_list(e->k, &e->op, b.id, 2, store_fn, &a, &more), KH_OK);
	assert_false(more);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.id[0], o.id);
	assert_int_equal(kh_keys_xks_store_list(e->k, &e->user, 0, 2, store_fn, &a, &more),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_keys_xks_store_list(e->k, &e->op, 0, 0, store_fn, &a, &more),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(
	    kh_keys_xks_store_list(e->k, &e->op, 0, KH_LIMIT_PAGE_MAX + 1, store_fn, &a, &more),
	    KH_ERR_BAD_INPUT);
}

static void resolve_sees_every_change_at_once(void **state)
{
	struct env *e = *state;
	struct kh_xks_store_info s;
	assert_int_equal(kh_keys_xks_resolve(e->k, "acme/xks", &s), KH_OK);
	assert_true(s.enabled);
	assert_int_equal(s.id, e->store.id);
	assert_int_equal(s.credential_count, 1);
	assert_int_equal(kh_keys_xks_resolve(e->k, "acme/xks/extra", &s), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_xks_resolve(e->k, "acme//xks", &s), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_xks_resolve(e->k, "later", &s), KH_ERR_NOT_FOUND);
	set_store(e, -1, 0);
	assert_int_equal(kh_keys_xks_resolve(e->k, "acme/xks", &s), KH_OK);
	assert_false(s.enabled);
	set_store(e, 1, 1);
	assert_int_equal(kh_keys_xks_resolve(e->k, "acme/xks", &s), KH_OK);
	assert_true(s.enabled);
	assert_true(s.secondary_auth);
	struct kh_xks_credential_info c;
	struct kh_buf secret;
	assert_int_equal(issue(e, e->store.id, &c, &secret), KH_OK);
	kh_buf_cleanup(&secret);
	assert_int_equal(kh_keys_xks_resolve(e->k, "acme/xks", &s), KH_OK);
	assert_int_equal(s.credential_count, 2);
	make_store(e, &e->mgr, "later", false);
	assert_int_equal(kh_keys_xks_resolve(e->k, "later", &s), KH_OK);
	/* Deleting: refused while keys are attached, then the prefix is gone at once. */
	assert_int_equal(kh_keys_xks_store_delete(e->k, &e->mgr, e->store.id), KH_ERR_CONFLICT);
	assert_int_equal(kh_keys_xks_key_detach(e->k, &e->mgr, e->store.id, "key-1"), KH_OK);
	assert_int_equal(kh_keys_xks_resolve(e->k, "acme/xks", &s), KH_OK);
	assert_int_equal(s.key_count, 0);
	assert_int_equal(kh_keys_xks_store_delete(e->k, &e->mgr, e->store.id), KH_OK);
	assert_int_equal(kh_keys_xks_resolve(e->k, "acme/xks", &s), KH_ERR_NOT_FOUND);
	/* Its credentials went with it. */
	kh_buf_init(&secret, 128, KH_BUF_SECURE);
	assert_int_equal(kh_keys_xks_secret(e->k, e->store.id, kh_slice_from_cstr(e->ak), &secret),
	                 KH_ERR_NOT_FOUND);
	kh_buf_cleanup(&secret);
	/* The prefix is free again. */
	make_store(e, &e->mgr, "acme/xks", false);
}

/* ---- credentials ---- */

struct creds {
	char ak[8][KH_XKS_ACCESS_KEY_MAX + 1];
	size_t n;
};

static kh_rc cred_fn(const struct kh_xks_credential_info *c, void *arg)
{
	struct creds *a = arg;
	if (a->n < COUNT_OF(a->ak))
		snprintf(a->ak[a->n], sizeof(a->ak[a->n]), "%s", c->access_key_id);
	a->n++;
	return KH_OK;
}

static void credentials_issue_limit_and_revoke(void **state)
{
	struct env *e = *state;
	struct kh_xks_credential_info c[4];
	struct kh_buf secret, got;
	char first_secret[KH_XKS_SECRET_LEN + 1];
	int64_t last = kh_test_keys_audit_last(e->t);
	kh_test_keys_advance(e->t, 1); /* oldest first: by creation time */
	assert_int_equal(issue(e, e->store.id, &c[0], &secret), KH_OK);
	/* 20 of [A-Z2-7]; 44 of Base64 without padding. */
	assert_int_equal(strlen(c[0].access_key_id), KH_XKS_ACCESS_KEY_LEN);
	assert_int_equal(strspn(c[0].access_key_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
	                 KH_XKS_ACCESS_KEY_LEN);
	assert_int_equal(secret.len, KH_XKS_SECRET_LEN);
	assert_int_equal(strspn(kh_buf_cstr(&secret),
	                        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
	                 KH_XKS_SECRET_LEN);
	snprintf(first_secret, sizeof(first_secret), "%s", kh_buf_cstr(&secret));
	kh_buf_cleanup(&secret);
	struct rec *r = one_rec(e, last, "xks.credential.issue", KH_OK);
	assert_non_null(strstr(r->detail, c[0].access_key_id));
	assert_null(strstr(r->detail, first_secret));
	assert_int_equal(r->keystore_id, e->ks);
	/* The proxy gets the same secret back. */
	kh_buf_init(&got, 128, KH_BUF_SECURE);
	assert_int_equal(
	    kh_keys_xks_secret(e->k, e->store.id, kh_slice_from_cstr(c[0].access_key_id), &got),
	    KH_OK);
	assert_string_equal(kh_buf_cstr(&got), first_secret);
	kh_buf_clear(&got);
	/* Not for another store, nor a malformed id. */
	assert_int_equal(
	    kh_keys_xks_secret(e->k, e->store.id + 1, kh_slice_from_cstr(c[0].access_key_id), &got),
	    KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_xks_secret(e->k, e->store.id, kh_slice_from_cstr("short"), &got),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_xks_secret(e->k, e->store.id,
	                                    kh_slice_from_cstr("AAAAAAAAAAAAAAAAAAAA1"), &got),
	                 KH_ERR_NOT_FOUND);
	/* 2 live now (setup's and this one); up to 4. */
	assert_int_equal(issue(e, e->store.id, &c[1], &secret), KH_OK);
	kh_buf_cleanup(&secret);
	assert_int_equal(issue(e, e->store.id, &c[2], &secret), KH_OK);
	kh_buf_cleanup(&secret);
	assert_int_equal(issue(e, e->store.id, &c[3], &secret), KH_ERR_CONFLICT);
	assert_int_equal(secret.len, 0);
	kh_buf_cleanup(&secret);
	struct creds l = {0};
	assert_int_equal(kh_keys_xks_credentials(e->k, &e->mgr, e->store.id, cred_fn, &l), KH_OK);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.ak[0], e->ak); /* oldest first */
	assert_int_equal(kh_keys_xks_credentials(e->k, &e->user, e->store.id, cred_fn, &l),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_keys_xks_credentials(e->k, &e->mgr2, e->store.id, cred_fn, &l),
	                 KH_ERR_NOT_FOUND);
	/* Revocation works at once, even with the secret cached. */
	assert_int_equal(
	    kh_keys_xks_credential_revoke(e->k, &e->mgr, e->store.id, c[0].access_key_id), KH_OK);
	assert_int_equal(
	    kh_keys_xks_secret(e->k, e->store.id, kh_slice_from_cstr(c[0].access_key_id), &got),
	    KH_ERR_NOT_FOUND);
	assert_int_equal(
	    kh_keys_xks_credential_revoke(e->k, &e->mgr, e->store.id, c[0].access_key_id),
	    KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_xks_credential_revoke(e->k, &e->mgr, e->store.id, "bad id"),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(
	    kh_keys_xks_credential_revoke(e->k, &e->user, e->store.id, c[1].access_key_id),
	    KH_ERR_FORBIDDEN);
	assert_int_equal(issue(e, e->store.id, &c[3], &secret), KH_OK);
	kh_buf_cleanup(&secret);
	/* A plain buffer for a secret is refused. */
	kh_buf_init(&secret, 128, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_xks_credential_issue(e->k, &e->mgr, e->store.id, &c[3], &secret),
	                 KH_ERR_INTERNAL);
	assert_int_equal(kh_keys_xks_secret(e->k, e->store.id, kh_slice_from_cstr(e->ak), &secret),
	                 KH_ERR_INTERNAL);
	kh_buf_cleanup(&secret);
	kh_buf_cleanup(&got);
}

/* ---- keys ---- */

static kh_rc attach_patterns(struct env *e, const char *ext, const char *admins, const char *users)
{
	struct kh_xks_key_attach req = {.external_key_id = ext,
	                                .rotation_days = -1,
	                                .usages = KH_XKS_USE_ENCRYPT,
	                                .administrators = admins,
	                                .users = users};
	struct kh_xks_key_info x;
	return kh_keys_xks_key_attach(e->k, &e->mgr, e->store.id, &req, &x);
}

static void key_attach_rules(void **state)
{
	struct env *e = *state;
	struct kh_xks_key_info x;
	char long_id[KH_XKS_EXTERNAL_KEY_ID_MAX + 2];
	memset(long_id, 'k', sizeof(long_id));
	long_id[KH_XKS_EXTERNAL_KEY_ID_MAX + 1] = '\0';
	static const char *const bad_ids[] = {"", "a b", "a/b", "a:b", "a*", "\xc3\xa9"};
	for (size_t i = 0; i < COUNT_OF(bad_ids); i++)
		assert_int_equal(attach(e, bad_ids[i], NULL, 3, &x), KH_ERR_BAD_INPUT);
	assert_int_equal(attach(e, long_id, NULL, 3, &x), KH_ERR_BAD_INPUT);
	long_id[KH_XKS_EXTERNAL_KEY_ID_MAX] = '\0';
	assert_int_equal(attach(e, long_id, NULL, 3, &x), KH_OK);
	/* The default name, cut to 64. */
	char want[256];
	snprintf(want, sizeof(want), "xks-%lld-%s", (long long)e->store.id, long_id);
	want[KH_LIMIT_NAME_MAX] = '\0';
	assert_string_equal(x.key.name, want);
	assert_int_equal(strlen(x.key.name), KH_LIMIT_NAME_MAX);
	assert_int_equal(attach(e, "A-Za.z_0-9", NULL, 4, &x), KH_ERR_BAD_INPUT);
	assert_int_equal(attach(e, "key-1", NULL, 3, &x), KH_ERR_CONFLICT);
	/* Patterns: visible ASCII, no empty ones, at most 16 of at most 2048, 4096 in all. */
	static const char *const bad_lists[] = {"a b",  "a\n",         "\na",  "a\n\nb",
	                                        "a\tb", "caf\xc3\xa9", "x\x7f"};
	for (size_t i = 0; i < COUNT_OF(bad_lists); i++) {
		assert_int_equal(attach_patterns(e, "p", bad_lists[i], NULL), KH_ERR_BAD_INPUT);
		assert_int_equal(attach_patterns(e, "p", NULL, bad_lists[i]), KH_ERR_BAD_INPUT);
	}
	char list[KH_XKS_PATTERN_LIST_MAX + 64];
	memset(list, 0, sizeof(list));
	for (unsigned i = 0; i < KH_XKS_PATTERNS_MAX; i++)
		strcat(list, i == 0 ? "arn:*" : "\narn:*");
	assert_int_equal(attach_patterns(e, "p16", list, list), KH_OK);
	strcat(list, "\narn:*");
	assert_int_equal(attach_patterns(e, "p17", list, NULL), KH_ERR_BAD_INPUT);
	memset(list, 'a', KH_XKS_PATTERN_MAX + 1);
	list[KH_XKS_PATTERN_MAX + 1] = '\0';
	assert_int_equal(attach_patterns(e, "long", NULL, list), KH_ERR_BAD_INPUT);
	list[KH_XKS_PATTERN_MAX] = '\0';
	assert_int_equal(attach_patterns(e, "just", NULL, list), KH_OK);
	/* Two patterns of 2048 and a separator: 4097 bytes joined. */
	memset(list, 'b', 2 * KH_XKS_PATTERN_MAX + 1);
	list[KH_XKS_PATTERN_MAX] = '\n';
	list[2 * KH_XKS_PATTERN_MAX + 1] = '\0';
	assert_int_equal(attach_patterns(e, "joined", list, NULL), KH_ERR_BAD_INPUT);
	/* A name is only for a new key; a new key's name follows the rules. */
	struct kh_xks_key_attach req = {.external_key_id = "named",
	                                .key_tag = e->key.key.tag,
	                                .name = "n",
	                                .rotation_days = -1,
	                                .usages = 3};
	assert_int_equal(kh_keys_xks_key_attach(e->k, &e->mgr, e->store.id, &req, &x),
	                 KH_ERR_BAD_INPUT);
	req.key_tag = NULL;
	req.name = "bad name";
	assert_int_equal(kh_keys_xks_key_attach(e->k, &e->mgr, e->store.id, &req, &x),
	                 KH_ERR_BAD_INPUT);
	req.name = "named-key";
	req.rotation_days = 0;
	req.expires_at = -5;
	assert_int_equal(kh_keys_xks_key_attach(e->k, &e->mgr, e->store.id, &req, &x),
	                 KH_ERR_BAD_INPUT);
	req.expires_at = 0;
	assert_int_equal(kh_keys_xks_key_attach(e->k, &e->mgr, e->store.id, &req, &x), KH_OK);
	assert_string_equal(x.key.name, "named-key");
	assert_int_equal(x.key.rotation_period_days, 0);
	assert_int_equal(x.key.next_rotation_at, 0);
	assert_int_equal(x.key.type, KH_KEY_AES_256_GCM);
	/* A second new key of the same name: the name is taken. */
	req.external_key_id = "named-2";
	assert_int_equal(kh_keys_xks_key_attach(e->k, &e->mgr, e->store.id, &req, &x),
	                 KH_ERR_CONFLICT);
	/* The setup's key got the 90-day default. */
	assert_int_equal(e->key.key.rotation_period_days, KH_KEY_DEFAULT_ROTATION_DAYS);
}

static void key_attach_existing_keys(void **state)
{
	struct env *e = *state;
	struct kh_xks_key_info x;
	struct kh_key_info aes = kh_test_keys_create(e->t, &e->mgr, "aes", KH_KEY_AES_256_GCM);
	struct kh_key_info mac = kh_test_keys_create(e->t, &e->mgr, "mac", KH_KEY_HMAC_SHA256);
	struct kh_key_info sm4 = kh_test_keys_create(e->t, &e->mgr, "sm4", KH_KEY_SM4);
	struct kh_principal mgr2 = e->mgr2;
	struct kh_key_info theirs = kh_test_keys_create(e->t, &mgr2, "theirs", KH_KEY_AES_256_GCM);
	assert_int_equal(attach(e, "mac", mac.tag, 3, &x), KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(attach(e, "sm4", sm4.tag, 3, &x), KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(attach(e, "theirs", theirs.tag, 3, &x), KH_ERR_NOT_FOUND);
	assert_int_equal(attach(e, "nope", "00000000000000000000000000000000", 3, &x),
	                 KH_ERR_NOT_FOUND);
	/* Already attached (here under key-1): one attachment per key. */
	assert_int_equal(attach(e, "again", e->key.key.tag, 3, &x), KH_ERR_CONFLICT);
	struct kh_xks_key_attach req = {.external_key_id = "aes",
	                                .key_tag = aes.tag,
	                                .rotation_days = 30,
	                                .usages = KH_XKS_USE_DECRYPT,
	                                .expires_at = kh_test_keys_now(e->t) + KH_NS_PER_DAY,
	                                .administrators = ARN_ADMIN,
	                                .users = ARN_APP "\narn:aws:iam::*:role/ops-*"};
	assert_int_equal(kh_keys_xks_key_attach(e->k, &e->mgr, e->store.id, &req, &x), KH_OK);
	assert_string_equal(x.key.tag, aes.tag);
	/* As kh_keys_update: the new period applies from the next scheduled rotation. */
	assert_int_equal(x.key.rotation_period_days, KH_KEY_DEFAULT_ROTATION_DAYS);
	assert_int_equal(x.key.pending_period_days, 30);
	assert_int_equal(x.usages, KH_XKS_USE_DECRYPT);
	assert_string_equal(x.users, req.users);
	assert_string_equal(x.administrators, ARN_ADMIN);
	assert_int_equal(x.expires_at, req.expires_at);
	/* The same key in another store of the key store: refused as well. */
	struct kh_xks_store_info s2 = make_store(e, &e->mgr, "acme/second", false);
	req.external_key_id = "aes-too";
	assert_int_equal(kh_keys_xks_key_attach(e->k, &e->mgr, s2.id, &req, &x), KH_ERR_CONFLICT);
	/* Keys on their way out cannot be attached. */
	struct kh_key_info gone = kh_test_keys_create(e->t, &e->mgr, "gone", KH_KEY_AES_256_GCM);
	assert_int_equal(kh_keys_schedule_deletion(e->k, &e->mgr, gone.tag, NULL, &gone), KH_OK);
	assert_int_equal(attach(e, "gone", gone.tag, 3, &x), KH_ERR_KEY_PENDING_DELETION);
	assert_int_equal(kh_keys_destroy(e->k, &e->mgr, gone.tag), KH_OK);
	assert_int_equal(attach(e, "gone", gone.tag, 3, &x), KH_ERR_CONFLICT);
	/* Managers of other key stores and users may not attach. */
	struct kh_xks_key_attach r2 = {.external_key_id = "x", .rotation_days = -1, .usages = 3};
	assert_int_equal(kh_keys_xks_key_attach(e->k, &e->mgr2, e->store.id, &r2, &x),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_xks_key_attach(e->k, &e->user, e->store.id, &r2, &x),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_keys_xks_key_attach(e->k, &e->op, e->store.id, &r2, &x), KH_OK);
	assert_int_equal(x.key.keystore_id, e->ks);
}

struct names {
	char ext[8][KH_XKS_EXTERNAL_KEY_ID_MAX + 1];
	size_t n;
};

static kh_rc key_fn(const struct kh_xks_key_info *x, void *arg)
{
	struct names *a = arg;
	if (a->n < COUNT_OF(a->ext))
		snprintf(a->ext[a->n], sizeof(a->ext[a->n]), "%s", x->external_key_id);
	a->n++;
	return KH_OK;
}

static void key_get_list_update_detach(void **state)
{
	struct env *e = *state;
	struct kh_xks_key_info x;
	assert_int_equal(attach(e, "b", NULL, 1, &x), KH_OK);
	assert_int_equal(attach(e, "a", NULL, 2, &x), KH_OK);
	struct names l = {0};
	bool more = false;
	assert_int_equal(
	    kh_keys_xks_key_list(e->k, &e->mgr, e->store.id, NULL, 2, key_fn, &l, &more), KH_OK);
	assert_true(more);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.ext[0], "a");
	assert_string_equal(l.ext[1], "b");
	memset(&l, 0, sizeof(l));
	assert_int_equal(kh_keys_xks_key_list(e->k, &e->op, e->store.id, "b", 2, key_fn, &l, &more),
	                 KH_OK);
	assert_false(more);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.ext[0], "key-1");
	assert_int_equal(
	    kh_keys_xks_key_list(e->k, &e->mgr, e->store.id, "b b", 2, key_fn, &l, &more),
	    KH_ERR_BAD_INPUT);
	assert_int_equal(
	    kh_keys_xks_key_list(e->k, &e->mgr2, e->store.id, NULL, 2, key_fn, &l, &more),
	    KH_ERR_NOT_FOUND);
	/* Get, with its record naming the key. */
	int64_t last = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_xks_key_get(e->k, &e->mgr, e->store.id, "key-1", &x), KH_OK);
	assert_string_equal(x.key.tag, e->key.key.tag);
	assert_int_equal(x.usages, 3);
	struct rec *r = one_rec(e, last, "xks.key.get", KH_OK);
	assert_string_equal(r->key_tag, e->key.key.tag);
	assert_int_equal(kh_keys_xks_key_get(e->k, &e->mgr, e->store.id, "nope", &x),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_xks_key_get(e->k, &e->user, e->store.id, "key-1", &x),
	                 KH_ERR_FORBIDDEN);
	/* Update: usages, expiry, patterns, rotation and the keyhold key's state. */
	struct kh_xks_key_update u = {.usages = KH_XKS_USE_ENCRYPT,
	                              .expires_at = 12345,
	                              .administrators = ARN_ADMIN,
	                              .users = "arn:*",
	                              .rotation_days = 7,
	                              .enabled = 0};
	assert_int_equal(kh_keys_xks_key_update(e->k, &e->mgr, e->store.id, "key-1", &u, &x),
	                 KH_OK);
	assert_int_equal(x.usages, KH_XKS_USE_ENCRYPT);
	assert_int_equal(x.expires_at, 12345);
	assert_string_equal(x.users, "arn:*");
	assert_int_equal(x.key.state, KH_KEY_DISABLED);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, e->key.key.tag).state, KH_KEY_DISABLED);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, e->key.key.tag).pending_period_days, 7);
	struct kh_xks_key_update keep = no_change();
	keep.expires_at = 0;
	keep.enabled = 1;
	assert_int_equal(kh_keys_xks_key_update(e->k, &e->mgr, e->store.id, "key-1", &keep, &x),
	                 KH_OK);
	assert_int_equal(x.usages, KH_XKS_USE_ENCRYPT); /* kept */
	assert_string_equal(x.administrators, ARN_ADMIN);
	assert_int_equal(x.expires_at, 0);
	assert_int_equal(x.key.state, KH_KEY_ENABLED);
	struct kh_xks_key_update bad[] = {
	    {.usages = 4, .expires_at = -1, .rotation_days = -1, .enabled = -1},
	    {.usages = -1, .expires_at = -2, .rotation_days = -1, .enabled = -1},
	    {.usages = -1, .expires_at = -1, .rotation_days = 4000, .enabled = -1},
	    {.usages = -1, .expires_at = -1, .rotation_days = -1, .enabled = 2},
	    {.usages = -1, .expires_at = -1, .users = "a b", .rotation_days = -1, .enabled = -1},
	};
	for (size_t i = 0; i < COUNT_OF(bad); i++)
		assert_int_equal(
		    kh_keys_xks_key_update(e->k, &e->mgr, e->store.id, "key-1", &bad[i], &x),
		    KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keys_xks_key_update(e->k, &e->mgr2, e->store.id, "key-1", &keep, &x),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_xks_key_update(e->k, &e->mgr, e->store.id, "nope", &keep, &x),
	                 KH_ERR_NOT_FOUND);
	/* Detach: the XKS key is gone, the keyhold key stays. */
	last = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_xks_key_detach(e->k, &e->user, e->store.id, "key-1"),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_keys_xks_key_detach(e->k, &e->mgr, e->store.id, "key-1"), KH_OK);
	struct recs *rs = recs_since(e, last);
	assert_int_equal(rs->n, 2);
	assert_string_equal(rs->r[1].operation, "xks.key.detach");
	assert_string_equal(rs->r[1].key_tag, e->key.key.tag);
	assert_int_equal(kh_keys_xks_key_get(e->k, &e->mgr, e->store.id, "key-1", &x),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_xks_key_detach(e->k, &e->mgr, e->store.id, "key-1"),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, e->key.key.tag).state, KH_KEY_ENABLED);
	/* And may be attached again. */
	assert_int_equal(attach(e, "key-1b", e->key.key.tag, 3, &x), KH_OK);
}

/* ---- the proxy's operations ---- */

static void principal_names_the_store_and_access_key(void **state)
{
	struct env *e = *state;
	char name[KH_PRINCIPAL_NAME_MAX];
	char want[KH_PRINCIPAL_NAME_MAX];
	kh_keys_principal_name(&e->xks, name, sizeof(name));
	snprintf(want, sizeof(want), "xks:%lld:%s", (long long)e->store.id, e->ak);
	assert_string_equal(name, want);
	struct kh_principal p = e->xks;
	p.xks_store_id = INT64_MAX;
	p.xks_access_key = "ABCDEFGHIJKLMNOPQRSTUVWXYZ2345";
	kh_keys_principal_name(&p, name, sizeof(name));
	assert_string_equal(name, "xks:9223372036854775807:ABCDEFGHIJKLMNOPQRSTUVWXYZ2345");
}

static void encrypt_decrypt_round_trip_with_integrity(void **state)
{
	struct env *e = *state;
	struct kh_xks_call c = call_of(e, "key-1");
	struct kh_xks_sealed s;
	assert_int_equal(xenc(e, &c, "Hello World!", "project=nile", true, &s), KH_OK);
	static const uint8_t md1[] = {KH_XKS_METADATA_FORMAT, 0, 0, 0, 1};
	assert_memory_equal(s.metadata, md1, sizeof(md1));
	assert_memory_not_equal(s.ciphertext.ptr, "Hello World!", 12);
	/* The integrity value is the XKS one of exactly this output. */
	uint8_t want[KH_XKS_INTEGRITY_LEN];
	assert_int_equal(kh_xks_integrity(kh_slice_from_cstr("project=nile"),
	                                  KH_SLICE(s.metadata, sizeof(s.metadata)),
	                                  KH_SLICE(s.iv, sizeof(s.iv)), kh_buf_slice(&s.ciphertext),
	                                  KH_SLICE(s.tag, sizeof(s.tag)), want),
	                 KH_OK);
	assert_memory_equal(s.integrity, want, sizeof(want));
	assert_int_equal(xdec(e, &c, &s, "project=nile", "Hello World!"), KH_OK);
	/* Another AAD, altered metadata, ciphertext, IV or tag: no. */
	assert_int_equal(xdec(e, &c, &s, "project=amazon", NULL), KH_ERR_DECRYPT);
	assert_int_equal(xdec(e, &c, &s, "", NULL), KH_ERR_DECRYPT);
	uint8_t md[KH_XKS_CIPHERTEXT_METADATA_LEN];
	memcpy(md, s.metadata, sizeof(md));
	md[0] = 2;
	assert_int_equal(xdec_md(e, &c, &s, KH_SLICE(md, sizeof(md)), "project=nile", NULL),
	                 KH_ERR_DECRYPT);
	md[0] = KH_XKS_METADATA_FORMAT;
	md[4] = 2; /* a version the key does not have */
	assert_int_equal(xdec_md(e, &c, &s, KH_SLICE(md, sizeof(md)), "project=nile", NULL),
	                 KH_ERR_DECRYPT);
	md[4] = 0;
	assert_int_equal(xdec_md(e, &c, &s, KH_SLICE(md, sizeof(md)), "project=nile", NULL),
	                 KH_ERR_DECRYPT);
	assert_int_equal(xdec_md(e, &c, &s, KH_SLICE(md, 4), "project=nile", NULL), KH_ERR_DECRYPT);
	assert_int_equal(xdec_md(e, &c, &s, KH_SLICE_EMPTY, "project=nile", NULL), KH_ERR_DECRYPT);
	s.ciphertext.ptr[0] ^= 1;
	assert_int_equal(xdec(e, &c, &s, "project=nile", NULL), KH_ERR_DECRYPT);
	s.ciphertext.ptr[0] ^= 1;
	s.tag[15] ^= 0x80;
	assert_int_equal(xdec(e, &c, &s, "project=nile", NULL), KH_ERR_DECRYPT);
	s.tag[15] ^= 0x80;
	s.iv[0] ^= 1;
	assert_int_equal(xdec(e, &c, &s, "project=nile", NULL), KH_ERR_DECRYPT);
	s.iv[0] ^= 1;
	/* IV and tag lengths are checked at the crypto step. */
	struct kh_buf out;
	kh_buf_init(&out, 4096, KH_BUF_SECURE);
	uint8_t iv13[13] = {0};
	assert_int_equal(kh_keys_xks_decrypt(e->k, &e->xks, &c, kh_buf_slice(&s.ciphertext),
	                                     KH_SLICE(iv13, sizeof(iv13)), KH_SLICE(s.tag, 16),
	                                     KH_SLICE(s.metadata, 5), KH_SLICE_EMPTY, &out),
	                 KH_ERR_DECRYPT);
	assert_int_equal(kh_keys_xks_decrypt(e->k, &e->xks, &c, kh_buf_slice(&s.ciphertext),
	                                     KH_SLICE(s.iv, 12), KH_SLICE(s.tag, 15),
	                                     KH_SLICE(s.metadata, 5), KH_SLICE_EMPTY, &out),
	                 KH_ERR_DECRYPT);
	assert_int_equal(out.len, 0);
	kh_buf_cleanup(&out);
	/* Plaintext never goes to a plain buffer. */
	kh_buf_init(&out, 4096, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_xks_decrypt(e->k, &e->xks, &c, kh_buf_slice(&s.ciphertext),
	                                     KH_SLICE(s.iv, 12), KH_SLICE(s.tag, 16),
	                                     KH_SLICE(s.metadata, 5),
	                                     kh_slice_from_cstr("project=nile"), &out),
	                 KH_ERR_INTERNAL);
	kh_buf_cleanup(&out);
	assert_int_equal(xdec(e, &c, &s, "project=nile", "Hello World!"), KH_OK);
	kh_buf_cleanup(&s.ciphertext);
	/* Two encryptions never share an IV; 4300 bytes with 8192 bytes of AAD work. */
	struct kh_xks_sealed a, b;
	static char big[4301], aad[8193];
	memset(big, 'p', 4300);
	memset(aad, 'a', 8192);
	assert_int_equal(xenc(e, &c, big, aad, false, &a), KH_OK);
	assert_int_equal(xenc(e, &c, big, aad, false, &b), KH_OK);
	assert_memory_not_equal(a.iv, b.iv, sizeof(a.iv));
	assert_int_equal(xdec(e, &c, &a, aad, big), KH_OK);
	kh_buf_cleanup(&a.ciphertext);
	kh_buf_cleanup(&b.ciphertext);
}

static void usages_decide_what_a_key_does(void **state)
{
	struct env *e = *state;
	struct kh_xks_key_info x;
	struct kh_xks_sealed s;
	struct kh_xks_key_state st;
	assert_int_equal(attach(e, "enc", NULL, KH_XKS_USE_ENCRYPT, &x), KH_OK);
	assert_int_equal(attach(e, "none", NULL, 0, &x), KH_OK);
	struct kh_xks_call enc = call_of(e, "enc"), none = call_of(e, "none");
	/* Encrypt-only: encrypts, but not with an integrity value (its check-decryption needs
	 * the decrypt usage), and does not decrypt. */
	assert_int_equal(xenc(e, &enc, "data", "", true, &s), KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(xenc(e, &enc, "data", "", false, &s), KH_OK);
	assert_int_equal(xdec(e, &enc, &s, "", NULL), KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(xmeta(e, &enc, &st), KH_OK);
	assert_int_equal(st.usages, KH_XKS_USE_ENCRYPT);
	assert_true(st.enabled);
	/* Decrypt after the usage is granted. */
	struct kh_xks_key_update u = no_change();
	u.usages = KH_XKS_USE_DECRYPT;
	set_key(e, "enc", &u);
	assert_int_equal(xdec(e, &enc, &s, "", "data"), KH_OK);
	kh_buf_cleanup(&s.ciphertext);
	assert_int_equal(xenc(e, &enc, "data", "", false, &s), KH_ERR_WRONG_KEY_TYPE);
	/* None: neither. */
	assert_int_equal(xenc(e, &none, "data", "", false, &s), KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(xmeta(e, &none, &st), KH_OK);
	assert_int_equal(st.usages, 0);
	kh_buf_cleanup(&s.ciphertext);
}

/* XKS.md: exists (404) -> store enabled -> secondary authorization (403) -> size (501) ->
 * state (400) -> usage (400) -> crypto. Each step is shown to come before the next by making
 * every later one fail too. */
static void checks_run_in_the_xks_order(void **state)
{
	struct env *e = *state;
	struct kh_xks_key_info x;
	struct kh_xks_sealed s;
	assert_int_equal(attach(e, "late", NULL, 0, &x), KH_OK);
	struct kh_xks_key_update u = no_change();
	u.enabled = 0;
	u.users = "arn:aws:iam::999999999999:*";
	set_key(e, "late", &u);
	set_store(e, 1, -1);
	struct kh_xks_call c = call_of(e, "late");
	c.size_rc = KH_ERR_TOO_LARGE;
	struct kh_xks_call unknown = c;
	unknown.external_key_id = "unknown";
	assert_int_equal(xenc(e, &unknown, "x", "", false, &s), KH_ERR_NOT_FOUND);
	assert_int_equal(xenc(e, &c, "x", "", false, &s), KH_ERR_FORBIDDEN);
	c.aws_principal_arn = "arn:aws:iam::999999999999:role/x";
	assert_int_equal(xenc(e, &c, "x", "", false, &s), KH_ERR_TOO_LARGE);
	c.size_rc = KH_OK;
	assert_int_equal(xenc(e, &c, "x", "", false, &s), KH_ERR_KEY_DISABLED);
	u = no_change();
	u.enabled = 1;
	set_key(e, "late", &u);
	assert_int_equal(xenc(e, &c, "x", "", false, &s), KH_ERR_WRONG_KEY_TYPE);
	u.usages = 3;
	set_key(e, "late", &u);
	assert_int_equal(xenc(e, &c, "x", "", false, &s), KH_OK);
	kh_buf_cleanup(&s.ciphertext);
	/* A disabled store answers before secondary authorization. */
	set_store(e, -1, 0);
	c.aws_principal_arn = "arn:aws:iam::1:denied";
	assert_int_equal(xenc(e, &c, "x", "", false, &s), KH_ERR_CONFLICT);
	struct kh_xks_key_state st;
	assert_int_equal(xmeta(e, &c, &st), KH_ERR_CONFLICT);
	assert_int_equal(xmeta(e, &unknown, &st), KH_ERR_NOT_FOUND);
	/* Only this store's XKS principal may call. */
	set_store(e, 0, 1);
	struct kh_principal other = e->xks;
	other.xks_store_id = e->store.id + 1;
	assert_int_equal(kh_keys_xks_metadata(e->k, &other, &c, &st), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_keys_xks_metadata(e->k, &e->mgr, &c, &st), KH_ERR_FORBIDDEN);
	assert_int_equal(xmeta(e, &c, &st), KH_OK);
	/* And XKS principals use nothing else. */
	struct kh_buf out = kh_test_keys_encrypt(e->t, &e->mgr, e->key.key.tag, "x");
	struct kh_buf o2;
	kh_buf_init(&o2, 4096, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_encrypt(e->k, &e->xks, e->key.key.tag, kh_slice_from_cstr("x"),
	                                 KH_SLICE_EMPTY, &o2),
	                 KH_ERR_FORBIDDEN);
	kh_buf_cleanup(&o2);
	kh_buf_cleanup(&out);
}

static void secondary_authorization_by_pattern_and_operation(void **state)
{
	struct env *e = *state;
	struct kh_xks_key_state st;
	struct kh_xks_sealed s;
	struct kh_xks_key_update u = no_change();
	u.administrators = ARN_ADMIN;
	u.users = "arn:aws:iam::111122223333:role/*\narn:aws:sts::*:assumed-role/ops/*";
	set_key(e, "key-1", &u);
	struct kh_xks_call c = call_of(e, "key-1");
	/* Off by default: anyone the SigV4 check let in. */
	c.aws_principal_arn = "arn:aws:iam::000000000000:root";
	assert_int_equal(xmeta(e, &c, &st), KH_OK);
	set_store(e, 1, -1);
	assert_int_equal(xmeta(e, &c, &st), KH_ERR_FORBIDDEN);
	/* An administrator reads metadata, but neither encrypts nor decrypts. */
	c.aws_principal_arn = ARN_ADMIN;
	assert_int_equal(xmeta(e, &c, &st), KH_OK);
	int64_t last = kh_test_keys_audit_last(e->t);
	assert_int_equal(xenc(e, &c, "x", "", false, &s), KH_ERR_FORBIDDEN);
	struct rec *r = one_rec(e, last, "xks.encrypt", KH_ERR_FORBIDDEN);
	assert_non_null(strstr(r->detail, "\"rule\":\"users\""));
	assert_non_null(strstr(r->detail, "\"aws_principal_arn\":\"" ARN_ADMIN "\""));
	/* Users: both wildcard patterns. */
	c.aws_principal_arn = ARN_APP;
	assert_int_equal(xenc(e, &c, "x", "", false, &s), KH_OK);
	assert_int_equal(xmeta(e, &c, &st), KH_OK);
	c.aws_principal_arn = "arn:aws:sts::444455556666:assumed-role/ops/session-1";
	assert_int_equal(xdec(e, &c, &s, "", "x"), KH_OK);
	c.aws_principal_arn = "arn:aws:sts::444455556666:assumed-role/dev/session-1";
	assert_int_equal(xdec(e, &c, &s, "", NULL), KH_ERR_FORBIDDEN);
	last = kh_test_keys_audit_last(e->t);
	assert_int_equal(xmeta(e, &c, &st), KH_ERR_FORBIDDEN);
	r = one_rec(e, last, "xks.metadata", KH_ERR_FORBIDDEN);
	assert_non_null(strstr(r->detail, "\"rule\":\"administrators,users\""));
	c.aws_principal_arn = "";
	assert_int_equal(xmeta(e, &c, &st), KH_ERR_FORBIDDEN);
	kh_buf_cleanup(&s.ciphertext);
}

static bool pm(const char *pattern, const char *value)
{
	return kh_keys_xks_pattern_match(kh_slice_from_cstr(pattern), kh_slice_from_cstr(value));
}

static void pattern_matcher_cases(void **state)
{
	(void)state;
	assert_true(pm("", ""));
	assert_false(pm("", "a"));
	assert_true(pm("abc", "abc"));
	assert_false(pm("abc", "abcd"));
	assert_false(pm("abc", "ab"));
	assert_true(pm("*", ""));
	assert_true(pm("*", "anything at all"));
	assert_true(pm("**", "x"));
	assert_true(pm("a*", "a"));
	assert_true(pm("a*", "abc"));
	assert_false(pm("a*", "ba"));
	assert_true(pm("*c", "abc"));
	assert_false(pm("*c", "abd"));
	assert_true(pm("a*c", "ac"));
	assert_true(pm("a*b*c", "a-b-c"));
	assert_true(pm("a*b*c", "abbbc"));
	assert_false(pm("a*b*c", "acb"));
	assert_false(pm("a*a", "a"));     /* head and tail may not overlap */
	assert_false(pm("ab*ba", "aba")); /* nor here */
	assert_true(pm("ab*ba", "abba"));
	assert_true(pm("*ab*ab*", "xabyabz"));
	assert_false(pm("*ab*ab*", "xabyz"));
	assert_true(pm("arn:aws:iam::*:role/*", "arn:aws:iam::1:role/x"));
	assert_false(pm("arn:aws:iam::*:role/*", "arn:aws:iam::1:user/x"));
	assert_false(pm("ARN*", "arn:x")); /* case matters */
	/* Pathological: a thousand stars, and a pattern that almost matches a long value. */
	static char stars[2050], value[2049];
	memset(stars, '*', 1000);
	stars[1000] = '\0';
	memset(value, 'a', 2048);
	value[2048] = '\0';
	assert_true(pm(stars, value));
	for (size_t i = 0; i < 2046; i += 2) {
		stars[i] = '*';
		stars[i + 1] = 'a';
	}
	stars[2046] = 'b';
	stars[2047] = '\0';
	assert_false(pm(stars, value));
	stars[2046] = '*';
	assert_true(pm(stars, value));
	/* Lists: one match is enough; nothing matches an empty list. */
	assert_true(kh_keys_xks_pattern_match(KH_SLICE("x*", 2), KH_SLICE("xy", 2)));
}

/* ---- crypto against independent computations ---- */

static struct kh_buf version_secret(struct env *e, const struct kh_key_info *key, uint32_t v)
{
	char scope[KH_BARRIER_SCOPE_MAX];
	struct kh_store_tx *tx = NULL;
	struct kh_buf b;
	kh_buf_init(&b, 256, KH_BUF_SECURE);
	snprintf(scope, sizeof(scope), "key/%lld/%lld/%u", (long long)key->keystore_id,
	         (long long)key->id, v);
	assert_int_equal(kh_store_read_begin(e->t->store, &tx), KH_OK);
	assert_int_equal(kh_barrier_get(e->t->barrier, tx, scope, &b), KH_OK);
	kh_store_read_end(&tx);
	assert_int_equal(b.len, KH_AEAD_KEY_LEN);
	return b;
}

struct plant {
	struct kh_barrier *b;
	char scope[KH_BARRIER_SCOPE_MAX];
	uint8_t key[KH_AEAD_KEY_LEN];
};

static kh_rc plant_fn(struct kh_store_tx *tx, void *arg)
{
	struct plant *p = arg;
	return kh_barrier_put(p->b, tx, p->scope, KH_SLICE(p->key, sizeof(p->key)));
}

/* Seals pt under key bytes with iv and the XKS associated data of (aad, md). */
static void reference_seal(struct kh_slice key, struct kh_slice iv, struct kh_slice aad,
                           struct kh_slice md, struct kh_slice pt, uint8_t *ct, uint8_t *tag)
{
	struct kh_aead_key *k = NULL;
	struct kh_buf ad;
	kh_buf_init(&ad, 70000, KH_BUF_PLAIN);
	assert_int_equal(kh_xks_aad(aad, md, &ad), KH_OK);
	assert_int_equal(kh_aead_key_new(KH_AEAD_AES_256_GCM, key, &k), KH_OK);
	assert_int_equal(kh_aead_seal(k, iv, kh_buf_slice(&ad), pt, ct, tag), KH_OK);
	kh_aead_key_free(&k);
	kh_buf_cleanup(&ad);
}

static void b64_is(const uint8_t *p, size_t n, const char *want)
{
	struct kh_buf b;
	kh_buf_init(&b, 256, KH_BUF_PLAIN);
	assert_int_equal(kh_base64_encode(KH_SLICE(p, n), &b), KH_OK);
	assert_string_equal(kh_buf_cstr(&b), want);
	kh_buf_cleanup(&b);
}

/* XKS.md "Test vectors": key 00..1f, IV 00..0b, "Hello World!". */
static void the_design_page_test_vectors(void **state)
{
	(void)state;
	static const struct {
		const char *aad, *md, *tag, *integrity;
	} rows[] = {
	    {"", "", "+DX8ZJOvQVMTeK7gwOAsdg==", "doMOaf+m+SLxEOfkUsWQLZ7ogxHdDMkxCl3238JWldo="},
	    {"project=nile,department=marketing", "",
	     "oD3KqtYrMSdh/L3FQun+ag==", "ndew6iqil9so4xVeXqDoAWYgTm8gWoAIkLjPnyJAWhk="},
	    {"project=nile,department=marketing", "key_version=1",
	     "z16Jpi+YEVrPfy7xOkRNVw==", "f3I7NWF4DGjk7+jfvjeSU5DvQJDKZ/RQztaBma/YHso="},
	};
	uint8_t key[32], iv[12], ct[12], tag[16], integ[32];
	for (unsigned i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	for (unsigned i = 0; i < 12; i++)
		iv[i] = (uint8_t)i;
	for (size_t r = 0; r < COUNT_OF(rows); r++) {
		struct kh_slice aad = kh_slice_from_cstr(rows[r].aad);
		struct kh_slice md = kh_slice_from_cstr(rows[r].md);
		reference_seal(KH_SLICE(key, 32), KH_SLICE(iv, 12), aad, md,
		               KH_SLICE_LIT("Hello World!"), ct, tag);
		b64_is(ct, sizeof(ct), "D2e6d6rFlXT/LfOq");
		b64_is(tag, sizeof(tag), rows[r].tag);
		assert_int_equal(kh_xks_integrity(aad, md, KH_SLICE(iv, 12), KH_SLICE(ct, 12),
		                                  KH_SLICE(tag, 16), integ),
		                 KH_OK);
		b64_is(integ, sizeof(integ), rows[r].integrity);
	}
}

/* A key of bytes 00..1f, planted as version 1 of a fresh key before its first use, decrypts a
 * ciphertext made here with a 16-byte IV, and its own encryption opens here. */
static void sixteen_byte_ivs_and_a_known_key(void **state)
{
	struct env *e = *state;
	struct kh_xks_key_info x;
	assert_int_equal(attach(e, "known", NULL, 3, &x), KH_OK);
	struct plant p = {.b = e->t->barrier};
	snprintf(p.scope, sizeof(p.scope), "key/%lld/%lld/1", (long long)x.key.keystore_id,
	         (long long)x.key.id);
	for (unsigned i = 0; i < 32; i++)
		p.key[i] = (uint8_t)i;
	assert_int_equal(kh_store_write(e->t->store, plant_fn, &p), KH_OK);
	struct kh_xks_call c = call_of(e, "known");
	uint8_t iv16[16], md[5] = {KH_XKS_METADATA_FORMAT, 0, 0, 0, 1}, ct[12], tag[16];
	for (unsigned i = 0; i < 16; i++)
		iv16[i] = (uint8_t)(0xa0 + i);
	reference_seal(KH_SLICE(p.key, 32), KH_SLICE(iv16, 16), KH_SLICE_LIT("ctx"),
	               KH_SLICE(md, 5), KH_SLICE_LIT("Hello World!"), ct, tag);
	struct kh_buf out;
	kh_buf_init(&out, 4096, KH_BUF_SECURE);
	assert_int_equal(kh_keys_xks_decrypt(e->k, &e->xks, &c, KH_SLICE(ct, 12),
	                                     KH_SLICE(iv16, 16), KH_SLICE(tag, 16), KH_SLICE(md, 5),
	                                     KH_SLICE_LIT("ctx"), &out),
	                 KH_OK);
	assert_true(kh_slice_eq(kh_buf_slice(&out), KH_SLICE_LIT("Hello World!")));
	kh_buf_clear(&out);
	/* The same bytes with a 12-byte IV (the first 12) do not open: GCM derives J0 otherwise. */
	assert_int_equal(kh_keys_xks_decrypt(e->k, &e->xks, &c, KH_SLICE(ct, 12),
	                                     KH_SLICE(iv16, 12), KH_SLICE(tag, 16), KH_SLICE(md, 5),
	                                     KH_SLICE_LIT("ctx"), &out),
	                 KH_ERR_DECRYPT);
	kh_buf_cleanup(&out);
	/* Our encryption under the known key, opened by the reference. */
	struct kh_xks_sealed s;
	assert_int_equal(xenc(e, &c, "Hello World!", "ctx", false, &s), KH_OK);
	uint8_t ct2[12], tag2[16];
	reference_seal(KH_SLICE(p.key, 32), KH_SLICE(s.iv, 12), KH_SLICE_LIT("ctx"),
	               KH_SLICE(s.metadata, 5), KH_SLICE_LIT("Hello World!"), ct2, tag2);
	assert_memory_equal(s.ciphertext.ptr, ct2, 12);
	assert_memory_equal(s.tag, tag2, 16);
	kh_buf_cleanup(&s.ciphertext);
	/* And the setup's key is the material its version holds. */
	struct kh_buf secret = version_secret(e, &e->key.key, 1);
	struct kh_xks_call c1 = call_of(e, "key-1");
	assert_int_equal(xenc(e, &c1, "abc", "", false, &s), KH_OK);
	reference_seal(kh_buf_slice(&secret), KH_SLICE(s.iv, 12), KH_SLICE_EMPTY,
	               KH_SLICE(s.metadata, 5), KH_SLICE_LIT("abc"), ct2, tag2);
	assert_memory_equal(s.tag, tag2, 16);
	kh_buf_cleanup(&secret);
	kh_buf_cleanup(&s.ciphertext);
}

static void rotation_keeps_old_ciphertexts_decrypting(void **state)
{
	struct env *e = *state;
	struct kh_xks_call c = call_of(e, "key-1");
	struct kh_xks_sealed v1, v2;
	assert_int_equal(xenc(e, &c, "one", "", false, &v1), KH_OK);
	struct kh_key_info key;
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, e->key.key.tag, &key), KH_OK);
	assert_int_equal(key.current_version, 2);
	assert_int_equal(xenc(e, &c, "two", "", false, &v2), KH_OK);
	assert_int_equal(kh_be32_get(v2.metadata + 1), 2);
	assert_int_equal(xdec(e, &c, &v1, "", "one"), KH_OK);
	assert_int_equal(xdec(e, &c, &v2, "", "two"), KH_OK);
	/* Version 1's metadata on version 2's ciphertext: wrong key, no plaintext. */
	assert_int_equal(xdec_md(e, &c, &v2, KH_SLICE(v1.metadata, 5), "", NULL), KH_ERR_DECRYPT);
	assert_int_equal(kh_keys_version_disable(e->k, &e->mgr, e->key.key.tag, 1), KH_OK);
	assert_int_equal(xdec(e, &c, &v1, "", NULL), KH_ERR_VERSION_DISABLED);
	assert_int_equal(xdec(e, &c, &v2, "", "two"), KH_OK);
	assert_int_equal(kh_keys_version_enable(e->k, &e->mgr, e->key.key.tag, 1), KH_OK);
	assert_int_equal(xdec(e, &c, &v1, "", "one"), KH_OK);
	kh_buf_cleanup(&v1.ciphertext);
	kh_buf_cleanup(&v2.ciphertext);
}

static void disabled_expired_and_deleted_keys(void **state)
{
	struct env *e = *state;
	struct kh_xks_call c = call_of(e, "key-1");
	struct kh_xks_sealed s, t;
	struct kh_xks_key_state st;
	assert_int_equal(xenc(e, &c, "data", "", false, &s), KH_OK);
	struct kh_key_info key;
	assert_int_equal(kh_keys_disable(e->k, &e->mgr, e->key.key.tag, &key), KH_OK);
	assert_int_equal(xmeta(e, &c, &st), KH_OK);
	assert_false(st.enabled);
	assert_int_equal(st.usages, 3);
	assert_int_equal(xenc(e, &c, "data", "", false, &t), KH_ERR_KEY_DISABLED);
	assert_int_equal(xdec(e, &c, &s, "", NULL), KH_ERR_KEY_DISABLED);
	assert_int_equal(kh_keys_enable(e->k, &e->mgr, e->key.key.tag, &key), KH_OK);
	assert_int_equal(xmeta(e, &c, &st), KH_OK);
	assert_true(st.enabled);
	assert_int_equal(xdec(e, &c, &s, "", "data"), KH_OK);
	/* Expiry: enabled until expires_at, disabled from then on. */
	struct kh_xks_key_update u = no_change();
	u.expires_at = kh_test_keys_now(e->t) + KH_NS_PER_SEC;
	set_key(e, "key-1", &u);
	assert_int_equal(xdec(e, &c, &s, "", "data"), KH_OK);
	kh_test_keys_advance(e->t, KH_NS_PER_SEC);
	assert_int_equal(xmeta(e, &c, &st), KH_OK);
	assert_false(st.enabled);
	assert_int_equal(xenc(e, &c, "data", "", false, &t), KH_ERR_KEY_DISABLED);
	assert_int_equal(xdec(e, &c, &s, "", NULL), KH_ERR_KEY_DISABLED);
	u.expires_at = 0;
	set_key(e, "key-1", &u);
	assert_int_equal(xdec(e, &c, &s, "", "data"), KH_OK);
	/* Pending deletion, then deleted. */
	assert_int_equal(kh_keys_schedule_deletion(e->k, &e->mgr, e->key.key.tag, NULL, &key),
	                 KH_OK);
	assert_int_equal(xdec(e, &c, &s, "", NULL), KH_ERR_KEY_PENDING_DELETION);
	assert_int_equal(xmeta(e, &c, &st), KH_OK);
	assert_false(st.enabled);
	assert_int_equal(kh_keys_destroy(e->k, &e->mgr, e->key.key.tag), KH_OK);
	assert_int_equal(xdec(e, &c, &s, "", NULL), KH_ERR_KEY_DISABLED);
	assert_int_equal(xmeta(e, &c, &st), KH_OK);
	assert_false(st.enabled);
	kh_buf_cleanup(&s.ciphertext);
}

/* ---- records ---- */

static void uses_are_audited_and_counted_without_secrets(void **state)
{
	struct env *e = *state;
	struct kh_xks_call c = call_of(e, "key-1");
	struct kh_xks_sealed s;
	struct kh_xks_key_state st;
	char who[KH_PRINCIPAL_NAME_MAX];
	snprintf(who, sizeof(who), "xks:%lld:%s", (long long)e->store.id, e->ak);
	int64_t last = kh_test_keys_audit_last(e->t);
	assert_int_equal(xmeta(e, &c, &st), KH_OK);
	assert_int_equal(xenc(e, &c, "TOP-SECRET-PLAINTEXT", "aad", true, &s), KH_OK);
	assert_int_equal(xdec(e, &c, &s, "aad", "TOP-SECRET-PLAINTEXT"), KH_OK);
	struct kh_xks_call unknown = call_of(e, "unknown");
	assert_int_equal(xmeta(e, &unknown, &st), KH_ERR_NOT_FOUND);
	struct recs *a = recs_since(e, last);
	assert_int_equal(a->n, 4);
	static const char *const ops[] = {"xks.metadata", "xks.encrypt", "xks.decrypt",
	                                  "xks.metadata"};
	for (size_t i = 0; i < 4; i++) {
		struct rec *r = &a->r[i];
		assert_string_equal(r->operation, ops[i]);
		assert_string_equal(r->principal, who);
		assert_int_equal(r->keystore_id, e->ks);
		assert_non_null(strstr(r->detail, "\"kms_request_id\":\"kms-req-1\""));
		assert_non_null(strstr(r->detail, "\"kms_operation\":\"Encrypt\""));
		assert_non_null(strstr(r->detail, "\"aws_principal_arn\":\"" ARN_APP "\""));
		assert_null(strstr(r->detail, "TOP-SECRET"));
		assert_null(strstr(r->detail, "rule"));
	}
	assert_string_equal(a->r[1].key_tag, e->key.key.tag);
	assert_int_equal(a->r[1].version, 1);
	assert_int_equal(a->r[2].version, 1);
	assert_non_null(strstr(a->r[1].detail, "\"external_key_id\":\"key-1\""));
	assert_string_equal(a->r[3].key_tag, ""); /* an unknown key names none */
	assert_string_equal(a->r[3].result, "KH_ERR_NOT_FOUND");
	/* Usage: three uses counted, in the key's history. */
	struct kh_key_info key = kh_test_keys_get(e->t, &e->mgr, e->key.key.tag);
	assert_int_equal(key.usage_count, 3);
	char hops[4][32];
	assert_int_equal(kh_test_keys_history(e->t, &e->mgr, e->key.key.tag, 10, NULL, hops, 4), 3);
	assert_string_equal(hops[0], "xks-decrypt");
	assert_string_equal(hops[1], "xks-encrypt");
	assert_string_equal(hops[2], "xks-metadata");
	kh_buf_cleanup(&s.ciphertext);
}

static void details_are_escaped_and_bounded(void **state)
{
	struct env *e = *state;
	struct kh_xks_call c = call_of(e, "key-1");
	struct kh_xks_key_state st;
	static char arn[2100], rid[600];
	memset(arn, 'r', 2048);
	arn[2048] = '\0';
	memset(rid, 'q', 590);
	rid[0] = '"';
	rid[1] = '\\';
	rid[2] = '\n';
	rid[3] = '\x01';
	memcpy(rid + 4, "\xc3\xa9\xff", 3); /* é, then a byte that starts nothing */
	rid[590] = '\0';
	c.aws_principal_arn = arn;
	c.kms_request_id = rid;
	c.kms_operation = "Op\"eration";
	int64_t last = kh_test_keys_audit_last(e->t);
	assert_int_equal(xmeta(e, &c, &st), KH_OK);
	struct rec *r = one_rec(e, last, "xks.metadata", KH_OK);
	size_t n = strlen(r->detail);
	assert_true(n <= KH_AUDIT_FIELD_MAX);
	assert_true(n > 600);
	assert_int_equal(r->detail[n - 1], '}');
	assert_non_null(
	    strstr(r->detail, "{\"kms_request_id\":\"\\\"\\\\\\u000a\\u0001\xc3\xa9?qq"));
	assert_non_null(strstr(r->detail, "\"kms_operation\":\"Op\\\"eration\""));
	assert_non_null(strstr(r->detail, "\"external_key_id\":\"key-1\"}"));
	/* No raw control character made it in. */
	for (size_t i = 0; i < n; i++)
		assert_true((unsigned char)r->detail[i] >= 0x20);
}

static void deferred_records_with_an_xks_principal(void **state)
{
	struct env *e = *state;
	struct kh_keys_defer d = {0};
	struct kh_xks_call c = call_of(e, "key-1");
	struct kh_xks_sealed s;
	char ak[KH_XKS_ACCESS_KEY_MAX + 1], rid[32];
	snprintf(ak, sizeof(ak), "%s", e->ak);
	snprintf(rid, sizeof(rid), "deferred-req");
	struct kh_principal p = e->xks;
	p.xks_access_key = ak;
	p.request_id = rid;
	p.defer = &d;
	int64_t last = kh_test_keys_audit_last(e->t);
	memset(&s, 0, sizeof(s));
	kh_buf_init(&s.ciphertext, 4096, KH_BUF_PLAIN);
	assert_int_equal(
	    kh_keys_xks_encrypt(e->k, &p, &c, KH_SLICE_LIT("x"), KH_SLICE_EMPTY, false, &s), KH_OK);
	c.external_key_id = "unknown";
	struct kh_xks_key_state st;
	assert_int_equal(kh_keys_xks_metadata(e->k, &p, &c, &st), KH_ERR_NOT_FOUND);
	assert_int_equal(d.count, 2);
	assert_int_equal(kh_test_keys_audit_last(e->t), last);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, e->key.key.tag).usage_count, 0);
	/* The staged records hold their own copies. */
	memset(ak, 'Z', KH_XKS_ACCESS_KEY_LEN);
	memset(rid, 'X', sizeof(rid) - 1);
	last = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_defer_flush(e->k, &d), KH_OK);
	assert_int_equal(d.count, 0);
	struct recs *a = recs_since(e, last);
	assert_int_equal(a->n, 2);
	char who[KH_PRINCIPAL_NAME_MAX];
	snprintf(who, sizeof(who), "xks:%lld:%s", (long long)e->store.id, e->ak);
	assert_string_equal(a->r[0].principal, who);
	assert_string_equal(a->r[0].operation, "xks.encrypt");
	assert_non_null(strstr(a->r[0].detail, "\"external_key_id\":\"key-1\""));
	assert_string_equal(a->r[1].principal, who);
	assert_string_equal(a->r[1].result, "KH_ERR_NOT_FOUND");
	assert_non_null(strstr(a->r[1].detail, "\"external_key_id\":\"unknown\""));
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, e->key.key.tag).usage_count, 1);
	kh_buf_cleanup(&s.ciphertext);
}

/* ---- sealing, self-test, nodes ---- */

static void sealing_stops_everything_and_drops_the_caches(void **state)
{
	struct env *e = *state;
	struct kh_xks_call c = call_of(e, "key-1");
	struct kh_xks_sealed s;
	struct kh_buf secret;
	assert_int_equal(kh_keys_xks_selftest(e->k), KH_OK);
	assert_int_equal(kh_keys_xks_selftest(e->k), KH_OK); /* the key is made once */
	assert_int_equal(xenc(e, &c, "x", "", false, &s), KH_OK);
	kh_buf_cleanup(&s.ciphertext);
	kh_buf_init(&secret, 128, KH_BUF_SECURE);
	assert_int_equal(kh_keys_xks_secret(e->k, e->store.id, kh_slice_from_cstr(e->ak), &secret),
	                 KH_OK);
	kh_buf_clear(&secret);
	assert_int_equal(kh_barrier_seal(e->t->barrier), KH_OK);
	assert_int_equal(kh_keys_xks_selftest(e->k), KH_ERR_SEALED);
	assert_int_equal(kh_keys_xks_secret(e->k, e->store.id, kh_slice_from_cstr(e->ak), &secret),
	                 KH_ERR_SEALED);
	assert_int_equal(xenc(e, &c, "x", "", false, &s), KH_ERR_SEALED);
	kh_test_keys_unseal(e->t);
	assert_int_equal(kh_keys_xks_selftest(e->k), KH_OK);
	assert_int_equal(kh_keys_xks_secret(e->k, e->store.id, kh_slice_from_cstr(e->ak), &secret),
	                 KH_OK);
	assert_int_equal(secret.len, KH_XKS_SECRET_LEN);
	assert_int_equal(xenc(e, &c, "x", "", false, &s), KH_OK);
	kh_buf_cleanup(&s.ciphertext);
	kh_buf_cleanup(&secret);
}

struct nodes {
	struct kh_xks_node n[4];
	size_t count;
};

static kh_rc node_fn(const struct kh_xks_node *n, void *arg)
{
	struct nodes *a = arg;
	if (a->count < COUNT_OF(a->n))
		a->n[a->count] = *n;
	a->count++;
	return KH_OK;
}

static struct nodes live(struct env *e, int64_t window)
{
	struct nodes a;
	memset(&a, 0, sizeof(a));
	assert_int_equal(kh_keys_nodes_live(e->k, window, node_fn, &a), KH_OK);
	return a;
}

static void nodes_are_live_within_the_window(void **state)
{
	struct env *e = *state;
	const int64_t window = 10 * KH_NS_PER_SEC;
	struct kh_xks_node n1 = {.id = "node-1", .healthy = true};
	struct kh_xks_node n2 = {.id = "node-2", .sealed = true};
	assert_int_equal(live(e, window).count, 0);
	int64_t t0 = kh_test_keys_now(e->t);
	assert_int_equal(kh_keys_node_beat(e->k, &n1), KH_OK);
	kh_test_keys_advance(e->t, 5 * KH_NS_PER_SEC);
	assert_int_equal(kh_keys_node_beat(e->k, &n2), KH_OK);
	struct nodes a = live(e, window);
	assert_int_equal(a.count, 2);
	assert_string_equal(a.n[0].id, "node-1");
	assert_true(a.n[0].healthy);
	assert_false(a.n[0].sealed);
	assert_int_equal(a.n[0].seen_at, t0);
	assert_string_equal(a.n[1].id, "node-2");
	assert_true(a.n[1].sealed);
	/* At exactly the window's age a node is still live; past it, not. */
	kh_test_keys_advance(e->t, 5 * KH_NS_PER_SEC);
	assert_int_equal(live(e, window).count, 2);
	kh_test_keys_advance(e->t, 1);
	a = live(e, window);
	assert_int_equal(a.count, 1);
	assert_string_equal(a.n[0].id, "node-2");
	/* A beat brings it back, with its new state (one row per node). */
	n1.healthy = false;
	assert_int_equal(kh_keys_node_beat(e->k, &n1), KH_OK);
	a = live(e, window);
	assert_int_equal(a.count, 2);
	assert_false(a.n[0].healthy);
	assert_int_equal(a.n[0].seen_at, kh_test_keys_now(e->t));
	assert_int_equal(live(e, 0).count, 1);
	struct kh_xks_node bad = {.id = ""};
	assert_int_equal(kh_keys_node_beat(e->k, &bad), KH_ERR_BAD_INPUT);
	snprintf(bad.id, sizeof(bad.id), "a b");
	assert_int_equal(kh_keys_node_beat(e->k, &bad), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keys_nodes_live(e->k, -1, node_fn, &a), KH_ERR_BAD_INPUT);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(store_prefix_region_and_quota_rules),
	    T(store_authorization_and_its_audit),
	    T(store_lists_are_scoped_and_paged),
	    T(resolve_sees_every_change_at_once),
	    T(credentials_issue_limit_and_revoke),
	    T(key_attach_rules),
	    T(key_attach_existing_keys),
	    T(key_get_list_update_detach),
	    T(principal_names_the_store_and_access_key),
	    T(encrypt_decrypt_round_trip_with_integrity),
	    T(usages_decide_what_a_key_does),
	    T(checks_run_in_the_xks_order),
	    T(secondary_authorization_by_pattern_and_operation),
	    cmocka_unit_test(pattern_matcher_cases),
	    cmocka_unit_test(the_design_page_test_vectors),
	    T(sixteen_byte_ivs_and_a_known_key),
	    T(rotation_keeps_old_ciphertexts_decrypting),
	    T(disabled_expired_and_deleted_keys),
	    T(uses_are_audited_and_counted_without_secrets),
	    T(details_are_escaped_and_bounded),
	    T(deferred_records_with_an_xks_principal),
	    T(sealing_stops_everything_and_drops_the_caches),
	    T(nodes_are_live_within_the_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
