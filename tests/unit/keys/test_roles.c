/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who may do what (API.md "Who may do what"): every operation on a key, called by every kind of
 * caller (each per-key role held by a kms-user, a kms-manager, a kms-user with no role, a
 * manager and a user of another key store, and the operator), against a table written out here
 * by hand from API.md: allowed is KH_OK with the operation's own result, a role that does not
 * allow it KH_ERR_FORBIDDEN, no role or another key store KH_ERR_NOT_FOUND, the operator
 * KH_ERR_FORBIDDEN. Each call, allowed or refused, leaves exactly one audit record naming the
 * operation, the caller and the result. Then: lists show a kms-user only the keys it holds a
 * role on (with paging and the state filter), roles add up, revocation takes effect at once,
 * grants and accounts refuse what they must, and only the operator makes key stores.
 */
#include "kh_test_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum who {
	W_MANAGER,   /* kms-user holding the manager role on the keys */
	W_ENCRYPTOR, /* ... the encryptor role */
	W_DECRYPTOR,
	W_ENCDEC,
	W_REVIEWER,
	W_KMS_MANAGER, /* kms-manager of the key store, no grant */
	W_NO_ROLE,     /* kms-user of the key store without any role */
	W_OTHER_MGR,   /* kms-manager of another key store */
	W_OTHER_USER,  /* kms-user of another key store with roles on its own keys */
	W_OPERATOR,
	W_COUNT
};

static const char *const who_names[W_COUNT] = {
    "manager role", "encryptor role",   "decryptor role",  "enc-dec role",     "reviewer role",
    "kms-manager",  "kms-user no role", "other store mgr", "other store user", "operator",
};

static const enum kh_role role_of[W_KMS_MANAGER] = {
    KH_ROLE_MANAGER,  KH_ROLE_ENCRYPTOR, KH_ROLE_DECRYPTOR, KH_ROLE_ENCRYPTOR_DECRYPTOR,
    KH_ROLE_REVIEWER,
};

#define MSG "message to sign"

/* Every list here fits one page (paging has its own tests in test_lists.c). */
static const struct kh_key_page all_page = {0, KH_LIMIT_PAGE_MAX};

struct env {
	struct kh_test_keys *t;
	struct kh_keys *k;
	int64_t ks;
	struct kh_principal p[W_COUNT];
	struct kh_principal spare; /* account the grant operations grant to */
	struct kh_principal *mgr;  /* = &p[W_KMS_MANAGER] */
	struct kh_key_info target; /* managed by the management operations */
	struct kh_key_info aes;
	struct kh_key_info ec;
	struct kh_key_info mac;
	struct kh_buf ct;  /* "secret" under aes */
	struct kh_buf sig; /* MSG under ec */
	struct kh_buf tag; /* MSG under mac */
	/* the call under test: its audit operation, caller, and the log before it */
	const char *op;
	const struct kh_principal *who;
	int64_t seq;
	bool checked;
};

static void grant_all_roles(struct env *e, const char *tag)
{
	for (int w = 0; w < W_KMS_MANAGER; w++)
		kh_test_keys_grant(e->t, e->mgr, tag, &e->p[w], role_of[w]);
}

/* The key the management operations act on: granted to every role, with two versions. */
static void make_target(struct env *e)
{
	struct kh_key_info out;
	e->target = kh_test_keys_create(e->t, e->mgr, "target", KH_KEY_AES_256_GCM);
	grant_all_roles(e, e->target.tag);
	assert_int_equal(kh_keys_rotate(e->k, e->mgr, e->target.tag, &out), KH_OK);
}

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->t = kh_test_keys_new(0);
	e->k = e->t->keys;
	e->ks = kh_test_keys_keystore(e->t, "acme");
	static const char *const names[W_KMS_MANAGER] = {"m", "enc", "dec", "encdec", "rev"};
	for (int w = 0; w < W_KMS_MANAGER; w++)
		e->p[w] = kh_test_keys_user(e->t, e->ks, names[w]);
	e->p[W_KMS_MANAGER] = kh_test_keys_manager(e->t, e->ks, "admin");
	e->p[W_NO_ROLE] = kh_test_keys_user(e->t, e->ks, "nobody");
	e->spare = kh_test_keys_user(e->t, e->ks, "spare");
	int64_t ks2 = kh_test_keys_keystore(e->t, "globex");
	e->p[W_OTHER_MGR] = kh_test_keys_manager(e->t, ks2, "admin");
	e->p[W_OTHER_USER] = kh_test_keys_user(e->t, ks2, "user");
	struct kh_key_info theirs = kh_test_keys_create(e->t, &e->p[W_OTHER_MGR], "theirs", 0);
	kh_test_keys_grant(e->t, &e->p[W_OTHER_MGR], theirs.tag, &e->p[W_OTHER_USER],
	                   KH_ROLE_MANAGER);
	/* The operator, even carrying the fields of a manager of this store, is not one. */
	e->p[W_OPERATOR] = kh_test_keys_operator();
	e->p[W_OPERATOR].keystore_id = e->ks;
	e->p[W_OPERATOR].account_id = e->p[W_KMS_MANAGER].account_id;
	e->p[W_OPERATOR].policies = KH_POLICY_KMS_MANAGER;
	e->mgr = &e->p[W_KMS_MANAGER];

	make_target(e);
	e->aes = kh_test_keys_create(e->t, e->mgr, "aes", KH_KEY_AES_256_GCM);
	e->ec = kh_test_keys_create(e->t, e->mgr, "ec", KH_KEY_ECDSA_P256);
	e->mac = kh_test_keys_create(e->t, e->mgr, "mac", KH_KEY_HMAC_SHA256);
	grant_all_roles(e, e->aes.tag);
	grant_all_roles(e, e->ec.tag);
	grant_all_roles(e, e->mac.tag);
	e->ct = kh_test_keys_encrypt(e->t, e->mgr, e->aes.tag, "secret");
	kh_buf_init(&e->sig, 4096, KH_BUF_PLAIN);
	assert_int_equal(
	    kh_keys_sign(e->k, e->mgr, e->ec.tag, 0, false, KH_SLICE_LIT(MSG), &e->sig), KH_OK);
	kh_buf_init(&e->tag, 4096, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_mac(e->k, e->mgr, e->mac.tag, KH_SLICE_LIT(MSG), &e->tag), KH_OK);
	return e;
}

static int setup(void **state)
{
	*state = env_new();
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	kh_buf_cleanup(&e->ct);
	kh_buf_cleanup(&e->sig);
	kh_buf_cleanup(&e->tag);
	kh_test_keys_free(&e->t);
	free(e);
	return 0;
}

/* ---- the operations, as one caller does them ---- */

/* Each operation marks the audit log just before its call and checks right after it that the
 * call, and nothing else, left one record with its outcome. */
static void mark(struct env *e)
{
	e->seq = kh_test_keys_audit_last(e->t);
}

static kh_rc audited(struct env *e, kh_rc rc)
{
	if (e->op != NULL) {
		kh_test_keys_audit_one(e->t, e->seq, e->op, e->who, rc);
		e->checked = true;
	}
	return rc;
}

typedef kh_rc (*op_fn)(struct env *e, const struct kh_principal *p);

static kh_rc op_get(struct env *e, const struct kh_principal *p)
{
	struct kh_key_info k;
	mark(e);
	kh_rc rc = audited(e, kh_keys_get(e->k, p, e->target.tag, &k));
	if (rc == KH_OK)
		assert_string_equal(k.tag, e->target.tag);
	return rc;
}

struct list_acc {
	int64_t keystore_id;
	size_t n;
	bool foreign; /* saw a key of another store */
};

static kh_rc list_fn(const struct kh_key_info *key, void *arg)
{
	struct list_acc *a = arg;
	a->foreign |= key->keystore_id != a->keystore_id;
	a->n++;
	return KH_OK;
}

/* Everybody in an account may list; each sees the keys it may see: the four keys here for every
 * role and the kms-manager, none for the user without a role, and the one key of their own
 * store for the other store's accounts. */
static kh_rc op_list(struct env *e, const struct kh_principal *p)
{
	struct kh_key_filter f = {.limit = 50};
	struct list_acc a = {p->keystore_id, 0, false};
	bool more = true;
	mark(e);
	kh_rc rc = audited(e, kh_keys_list(e->k, p, &f, list_fn, &a, &more));
	size_t want = 4;
	if (p->account_id == e->p[W_NO_ROLE].account_id)
		want = 0;
	else if (p->keystore_id != e->ks)
		want = 1;
	assert_int_equal(a.n, rc == KH_OK ? want : 0);
	assert_false(a.foreign);
	if (rc == KH_OK)
		assert_false(more);
	return rc;
}

static kh_rc op_update(struct env *e, const struct kh_principal *p)
{
	struct kh_key_update u = {.description = "changed", .rotation_period_days = 30};
	struct kh_key_info k;
	mark(e);
	kh_rc rc = audited(e, kh_keys_update(e->k, p, e->target.tag, &u, &k));
	if (rc == KH_OK)
		assert_string_equal(k.description, "changed");
	return rc;
}

static kh_rc op_rotate(struct env *e, const struct kh_principal *p)
{
	struct kh_key_info k;
	uint32_t before = kh_test_keys_get(e->t, e->mgr, e->target.tag).current_version;
	mark(e);
	kh_rc rc = audited(e, kh_keys_rotate(e->k, p, e->target.tag, &k));
	uint32_t after = kh_test_keys_get(e->t, e->mgr, e->target.tag).current_version;
	assert_int_equal(after, rc == KH_OK ? before + 1 : before);
	return rc;
}

static enum kh_key_state target_state(struct env *e)
{
	return kh_test_keys_get(e->t, e->mgr, e->target.tag).state;
}

static kh_rc op_disable(struct env *e, const struct kh_principal *p)
{
	struct kh_key_info k;
	mark(e);
	kh_rc rc = audited(e, kh_keys_disable(e->k, p, e->target.tag, &k));
	assert_int_equal(target_state(e), rc == KH_OK ? KH_KEY_DISABLED : KH_KEY_ENABLED);
	return rc;
}

static void prep_disabled(struct env *e)
{
	struct kh_key_info k;
	assert_int_equal(kh_keys_disable(e->k, e->mgr, e->target.tag, &k), KH_OK);
}

static kh_rc op_enable(struct env *e, const struct kh_principal *p)
{
	struct kh_key_info k;
	mark(e);
	kh_rc rc = audited(e, kh_keys_enable(e->k, p, e->target.tag, &k));
	assert_int_equal(target_state(e), rc == KH_OK ? KH_KEY_ENABLED : KH_KEY_DISABLED);
	return rc;
}

static kh_rc op_schedule(struct env *e, const struct kh_principal *p)
{
	struct kh_key_info k;
	mark(e);
	kh_rc rc = audited(e, kh_keys_schedule_deletion(e->k, p, e->target.tag, "target", &k));
	assert_int_equal(target_state(e), rc == KH_OK ? KH_KEY_PENDING_DELETION : KH_KEY_ENABLED);
	return rc;
}

static void prep_pending(struct env *e)
{
	struct kh_key_info k;
	assert_int_equal(kh_keys_schedule_deletion(e->k, e->mgr, e->target.tag, "target", &k),
	                 KH_OK);
}

static kh_rc op_cancel(struct env *e, const struct kh_principal *p)
{
	struct kh_key_info k;
	mark(e);
	kh_rc rc = audited(e, kh_keys_cancel_deletion(e->k, p, e->target.tag, &k));
	assert_int_equal(target_state(e), rc == KH_OK ? KH_KEY_DISABLED : KH_KEY_PENDING_DELETION);
	return rc;
}

static kh_rc op_destroy(struct env *e, const struct kh_principal *p)
{
	mark(e);
	kh_rc rc = audited(e, kh_keys_destroy(e->k, p, e->target.tag));
	assert_int_equal(target_state(e), rc == KH_OK ? KH_KEY_DELETED : KH_KEY_PENDING_DELETION);
	return rc;
}

static kh_rc versions_fn(const struct kh_key_version_info *v, void *arg)
{
	(void)v;
	(*(size_t *)arg)++;
	return KH_OK;
}

static kh_rc op_versions(struct env *e, const struct kh_principal *p)
{
	size_t n = 0;
	int64_t next = 0;
	mark(e);
	kh_rc rc =
	    audited(e, kh_keys_versions(e->k, p, e->target.tag, &all_page, versions_fn, &n, &next));
	assert_int_equal(n, rc == KH_OK ? 2 : 0);
	return rc;
}

static enum kh_version_state v1_state(struct env *e)
{
	struct kh_key_version_info v[4];
	assert_int_equal(kh_test_keys_versions(e->t, e->mgr, e->target.tag, v, 4), 2);
	return v[0].state;
}

static kh_rc op_version_disable(struct env *e, const struct kh_principal *p)
{
	mark(e);
	kh_rc rc = audited(e, kh_keys_version_disable(e->k, p, e->target.tag, 1));
	assert_int_equal(v1_state(e), rc == KH_OK ? KH_VERSION_DISABLED : KH_VERSION_ENABLED);
	return rc;
}

static void prep_v1_disabled(struct env *e)
{
	assert_int_equal(kh_keys_version_disable(e->k, e->mgr, e->target.tag, 1), KH_OK);
}

static kh_rc op_version_enable(struct env *e, const struct kh_principal *p)
{
	mark(e);
	kh_rc rc = audited(e, kh_keys_version_enable(e->k, p, e->target.tag, 1));
	assert_int_equal(v1_state(e), rc == KH_OK ? KH_VERSION_ENABLED : KH_VERSION_DISABLED);
	return rc;
}

static kh_rc grants_fn(const struct kh_key_grant *g, void *arg)
{
	(void)g;
	(*(size_t *)arg)++;
	return KH_OK;
}

static kh_rc op_grants(struct env *e, const struct kh_principal *p)
{
	size_t n = 0;
	int64_t next = 0;
	mark(e);
	kh_rc rc =
	    audited(e, kh_keys_grants(e->k, p, e->target.tag, &all_page, grants_fn, &n, &next));
	assert_int_equal(n, rc == KH_OK ? 5 : 0);
	return rc;
}

static size_t grant_count(struct env *e)
{
	size_t n = 0;
	int64_t next = 0;
	assert_int_equal(
	    kh_keys_grants(e->k, e->mgr, e->target.tag, &all_page, grants_fn, &n, &next), KH_OK);
	return n;
}

static kh_rc op_grant_add(struct env *e, const struct kh_principal *p)
{
	mark(e);
	kh_rc rc = audited(
	    e, kh_keys_grant_add(e->k, p, e->target.tag, e->spare.account_id, KH_ROLE_REVIEWER));
	assert_int_equal(grant_count(e), rc == KH_OK ? 6 : 5);
	return rc;
}

static void prep_spare_granted(struct env *e)
{
	kh_test_keys_grant(e->t, e->mgr, e->target.tag, &e->spare, KH_ROLE_REVIEWER);
}

static kh_rc op_grant_revoke(struct env *e, const struct kh_principal *p)
{
	mark(e);
	kh_rc rc = audited(
	    e, kh_keys_grant_revoke(e->k, p, e->target.tag, e->spare.account_id, KH_ROLE_REVIEWER));
	assert_int_equal(grant_count(e), rc == KH_OK ? 5 : 6);
	return rc;
}

static kh_rc history_fn(const struct kh_audit_usage_record *r, void *arg)
{
	(void)r;
	(*(size_t *)arg)++;
	return KH_OK;
}

static kh_rc op_history(struct env *e, const struct kh_principal *p)
{
	size_t n = 0;
	mark(e);
	kh_rc rc = audited(e, kh_keys_history(e->k, p, e->aes.tag, 100, history_fn, &n));
	if (rc == KH_OK)
		assert_true(n >= 1);
	else
		assert_int_equal(n, 0);
	return rc;
}

static kh_rc op_encrypt(struct env *e, const struct kh_principal *p)
{
	struct kh_buf out;
	kh_buf_init(&out, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	mark(e);
	kh_rc rc = audited(
	    e, kh_keys_encrypt(e->k, p, e->aes.tag, KH_SLICE_LIT("x"), KH_SLICE_EMPTY, &out));
	assert_true(rc == KH_OK ? out.len > 0 : out.len == 0);
	kh_buf_cleanup(&out);
	return rc;
}

static kh_rc op_decrypt(struct env *e, const struct kh_principal *p)
{
	mark(e);
	return audited(e,
	               kh_test_keys_decrypt(e->t, p, e->aes.tag, kh_buf_slice(&e->ct), "secret"));
}

static kh_rc op_data_key(struct env *e, const struct kh_principal *p)
{
	struct kh_buf pt, ct;
	kh_buf_init(&pt, 64, KH_BUF_SECURE);
	kh_buf_init(&ct, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	mark(e);
	kh_rc rc = audited(e, kh_keys_data_key(e->k, p, e->aes.tag, 256, KH_SLICE_EMPTY, &pt, &ct));
	assert_int_equal(pt.len, rc == KH_OK ? 32 : 0);
	assert_true(rc == KH_OK ? ct.len > 0 : ct.len == 0);
	kh_buf_cleanup(&pt);
	kh_buf_cleanup(&ct);
	return rc;
}

static kh_rc op_reencrypt(struct env *e, const struct kh_principal *p)
{
	struct kh_buf out;
	kh_buf_init(&out, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	mark(e);
	kh_rc rc = audited(
	    e, kh_keys_reencrypt(e->k, p, e->aes.tag, kh_buf_slice(&e->ct), KH_SLICE_EMPTY, &out));
	assert_true(rc == KH_OK ? out.len > 0 : out.len == 0);
	kh_buf_cleanup(&out);
	return rc;
}

static kh_rc op_sign(struct env *e, const struct kh_principal *p)
{
	struct kh_buf out;
	kh_buf_init(&out, 4096, KH_BUF_PLAIN);
	mark(e);
	kh_rc rc = audited(e, kh_keys_sign(e->k, p, e->ec.tag, 0, false, KH_SLICE_LIT(MSG), &out));
	assert_true(rc == KH_OK ? out.len > 0 : out.len == 0);
	kh_buf_cleanup(&out);
	return rc;
}

static kh_rc op_verify(struct env *e, const struct kh_principal *p)
{
	bool valid = false;
	mark(e);
	kh_rc rc = audited(e, kh_keys_verify(e->k, p, e->ec.tag, 0, false, KH_SLICE_LIT(MSG),
	                                     kh_buf_slice(&e->sig), &valid));
	assert_int_equal(valid, rc == KH_OK);
	return rc;
}

static kh_rc op_mac(struct env *e, const struct kh_principal *p)
{
	struct kh_buf out;
	kh_buf_init(&out, 4096, KH_BUF_PLAIN);
	mark(e);
	kh_rc rc = audited(e, kh_keys_mac(e->k, p, e->mac.tag, KH_SLICE_LIT(MSG), &out));
	if (rc == KH_OK)
		assert_true(kh_slice_eq(kh_buf_slice(&out), kh_buf_slice(&e->tag)));
	else
		assert_int_equal(out.len, 0);
	kh_buf_cleanup(&out);
	return rc;
}

static kh_rc op_verify_mac(struct env *e, const struct kh_principal *p)
{
	bool valid = false;
	mark(e);
	kh_rc rc = audited(e, kh_keys_verify_mac(e->k, p, e->mac.tag, KH_SLICE_LIT(MSG),
	                                         kh_buf_slice(&e->tag), &valid));
	assert_int_equal(valid, rc == KH_OK);
	return rc;
}

static kh_rc op_public_key(struct env *e, const struct kh_principal *p)
{
	struct kh_buf pem;
	uint32_t version = 0;
	kh_buf_init(&pem, 8192, KH_BUF_PLAIN);
	mark(e);
	kh_rc rc = audited(e, kh_keys_public_key(e->k, p, e->ec.tag, 0, &version, &pem));
	if (rc == KH_OK) {
		assert_int_equal(version, 1);
		assert_non_null(strstr(kh_buf_cstr(&pem), "-----BEGIN PUBLIC KEY-----"));
	} else {
		assert_int_equal(version, 0);
		assert_int_equal(pem.len, 0);
	}
	kh_buf_cleanup(&pem);
	return rc;
}

/* ---- the table ---- */

#define OK KH_OK
#define FB KH_ERR_FORBIDDEN
#define NF KH_ERR_NOT_FOUND

/* Columns in enum who order: the five roles, kms-manager, no role, other store manager and
 * user, operator. API.md: a manager role manages the key and does every crypto operation; an
 * encryptor encrypts, makes data keys, signs (and MACs) and reads public keys; a decryptor
 * decrypts, verifies (and verifies MACs) and reads public keys; encryptor-decryptor does every
 * crypto operation; a reviewer reads the key, its versions and its usage history. Any role lets
 * its holder see the key; without one it does not exist. */
#define MANAGE                                                                                     \
	{                                                                                          \
		OK, FB, FB, FB, FB, OK, NF, NF, NF, FB                                             \
	}
#define REVIEW                                                                                     \
	{                                                                                          \
		OK, FB, FB, FB, OK, OK, NF, NF, NF, FB                                             \
	}
#define ENCRYPT                                                                                    \
	{                                                                                          \
		OK, OK, FB, OK, FB, OK, NF, NF, NF, FB                                             \
	}
#define DECRYPT                                                                                    \
	{                                                                                          \
		OK, FB, OK, OK, FB, OK, NF, NF, NF, FB                                             \
	}

static const struct op_case {
	const char *name; /* audit operation */
	op_fn run;
	void (*prepare)(struct env *e);
	kh_rc want[W_COUNT];
} ops[] = {
    {"key.get", op_get, NULL, {OK, OK, OK, OK, OK, OK, NF, NF, NF, FB}},
    {"key.list", op_list, NULL, {OK, OK, OK, OK, OK, OK, OK, OK, OK, FB}},
    {"key.update", op_update, NULL, MANAGE},
    {"key.rotate", op_rotate, NULL, MANAGE},
    {"key.disable", op_disable, NULL, MANAGE},
    {"key.enable", op_enable, prep_disabled, MANAGE},
    {"key.schedule_deletion", op_schedule, NULL, MANAGE},
    {"key.cancel_deletion", op_cancel, prep_pending, MANAGE},
    {"key.destroy", op_destroy, prep_pending, MANAGE},
    {"key.versions", op_versions, NULL, REVIEW},
    {"key.version_disable", op_version_disable, NULL, MANAGE},
    {"key.version_enable", op_version_enable, prep_v1_disabled, MANAGE},
    {"key.grants", op_grants, NULL, MANAGE},
    {"key.grant_add", op_grant_add, NULL, MANAGE},
    {"key.grant_revoke", op_grant_revoke, prep_spare_granted, MANAGE},
    {"key.history", op_history, NULL, REVIEW},
    {"key.encrypt", op_encrypt, NULL, ENCRYPT},
    {"key.decrypt", op_decrypt, NULL, DECRYPT},
    {"key.data_key", op_data_key, NULL, ENCRYPT},
    {"key.reencrypt", op_reencrypt, NULL, {OK, FB, FB, OK, FB, OK, NF, NF, NF, FB}},
    {"key.sign", op_sign, NULL, ENCRYPT},
    {"key.verify", op_verify, NULL, DECRYPT},
    {"key.mac", op_mac, NULL, ENCRYPT},
    {"key.verify_mac", op_verify_mac, NULL, DECRYPT},
    {"key.public_key", op_public_key, NULL, {OK, OK, OK, OK, FB, OK, NF, NF, NF, FB}},
};

/* Back to the start: target enabled (a new one if destroyed), version 1 enabled, spare
 * without grant. */
static void reset(struct env *e)
{
	struct kh_key_info k = kh_test_keys_get(e->t, e->mgr, e->target.tag);
	if (k.state == KH_KEY_DELETED) {
		make_target(e);
		return;
	}
	if (k.state == KH_KEY_PENDING_DELETION)
		assert_int_equal(kh_keys_cancel_deletion(e->k, e->mgr, k.tag, &k), KH_OK);
	if (k.state == KH_KEY_DISABLED)
		assert_int_equal(kh_keys_enable(e->k, e->mgr, k.tag, &k), KH_OK);
	assert_int_equal(kh_keys_version_enable(e->k, e->mgr, k.tag, 1), KH_OK);
	kh_rc rc = kh_keys_grant_revoke(e->k, e->mgr, k.tag, e->spare.account_id, KH_ROLE_REVIEWER);
	assert_true(rc == KH_OK || rc == KH_ERR_NOT_FOUND);
}

static void every_caller_against_every_operation(void **state)
{
	struct env *e = *state;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		const struct op_case *c = &ops[i];
		for (int w = 0; w < W_COUNT; w++) {
			if (c->prepare != NULL)
				c->prepare(e);
			e->op = c->name;
			e->who = &e->p[w];
			e->checked = false;
			kh_rc rc = c->run(e, &e->p[w]);
			e->op = NULL;
			if (rc != c->want[w])
				fail_msg("%s by %s: got %s, want %s", c->name, who_names[w],
				         kh_rc_name(rc), kh_rc_name(c->want[w]));
			assert_true(e->checked);
			reset(e);
		}
	}
	kh_test_keys_audit_ok(e->t);
}

/* The audit records of refusals name the key to its own store only. */
static void refusals_are_audited_under_the_callers_store(void **state)
{
	struct env *e = *state;
	struct kh_key_info k;
	struct kh_test_audit_rec r[2];
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_get(e->k, &e->p[W_NO_ROLE], e->aes.tag, &k), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_test_keys_audit_since(e->t, seq, r, 2), 1);
	assert_int_equal(r[0].keystore_id, e->ks);
	assert_string_equal(r[0].key_tag, e->aes.tag);
	assert_string_equal(r[0].result, "KH_ERR_NOT_FOUND");

	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_get(e->k, &e->p[W_OTHER_MGR], e->aes.tag, &k), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_test_keys_audit_since(e->t, seq, r, 2), 1);
	assert_int_equal(r[0].keystore_id, e->p[W_OTHER_MGR].keystore_id);
	assert_string_equal(r[0].key_tag, "");

	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_get(e->k, &e->p[W_OPERATOR], e->aes.tag, &k), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_test_keys_audit_since(e->t, seq, r, 2), 1);
	assert_string_equal(r[0].principal, "operator");
	assert_string_equal(r[0].key_tag, "");

	/* A refused crypto call shows in the key's usage history; it does not count as a use. */
	assert_int_equal(op_decrypt(e, &e->p[W_ENCRYPTOR]), KH_ERR_FORBIDDEN);
	char ops_seen[2][32];
	int64_t ids[2];
	assert_int_equal(kh_test_keys_history(e->t, e->mgr, e->aes.tag, 1, ids, ops_seen, 2), 1);
	assert_string_equal(ops_seen[0], "decrypt");
	assert_int_equal(kh_test_keys_get(e->t, e->mgr, e->aes.tag).usage_count, 1);
}

/* ---- lists ---- */

struct tags {
	char tag[8][KH_KEY_TAG_LEN + 1];
	int64_t last_id;
	size_t n;
};

static kh_rc tags_fn(const struct kh_key_info *key, void *arg)
{
	struct tags *t = arg;
	assert_true(key->id > t->last_id);
	t->last_id = key->id;
	if (t->n < 8)
		snprintf(t->tag[t->n], sizeof(t->tag[t->n]), "%s", key->tag);
	t->n++;
	return KH_OK;
}

static struct tags list(struct env *e, const struct kh_principal *p, enum kh_key_state s,
                        int64_t after, unsigned limit, bool *more)
{
	struct tags t = {.last_id = after};
	struct kh_key_filter f = {.state = s, .after_id = after, .limit = limit};
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_list(e->k, p, &f, tags_fn, &t, more), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.list", p, KH_OK);
	return t;
}

static void a_user_lists_only_the_keys_it_holds_a_role_on(void **state)
{
	struct env *e = *state;
	struct kh_principal *u = &e->p[W_NO_ROLE];
	bool more = true;
	struct tags t = list(e, u, 0, 0, 50, &more);
	assert_int_equal(t.n, 0);
	assert_false(more);

	struct kh_key_info a = kh_test_keys_create(e->t, e->mgr, "a", 0);
	kh_test_keys_create(e->t, e->mgr, "b", 0);
	struct kh_key_info c = kh_test_keys_create(e->t, e->mgr, "c", 0);
	kh_test_keys_grant(e->t, e->mgr, a.tag, u, KH_ROLE_REVIEWER);
	kh_test_keys_grant(e->t, e->mgr, c.tag, u, KH_ROLE_ENCRYPTOR);
	kh_test_keys_grant(e->t, e->mgr, c.tag, u, KH_ROLE_DECRYPTOR);

	t = list(e, u, 0, 0, 50, &more);
	assert_int_equal(t.n, 2);
	assert_false(more);
	assert_string_equal(t.tag[0], a.tag);
	assert_string_equal(t.tag[1], c.tag);

	/* Paging by id, one at a time. */
	t = list(e, u, 0, 0, 1, &more);
	assert_int_equal(t.n, 1);
	assert_true(more);
	assert_string_equal(t.tag[0], a.tag);
	t = list(e, u, 0, a.id, 1, &more);
	assert_int_equal(t.n, 1);
	assert_false(more);
	assert_string_equal(t.tag[0], c.tag);

	/* The state filter. */
	struct kh_key_info out;
	assert_int_equal(kh_keys_disable(e->k, e->mgr, c.tag, &out), KH_OK);
	t = list(e, u, KH_KEY_DISABLED, 0, 50, &more);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.tag[0], c.tag);
	t = list(e, u, KH_KEY_ENABLED, 0, 50, &more);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.tag[0], a.tag);

	/* The kms-manager sees every key of the store: target, aes, ec, mac, a, b, c. */
	t = list(e, e->mgr, 0, 0, 50, &more);
	assert_int_equal(t.n, 7);
	/* The manager of another store sees its own only. */
	t = list(e, &e->p[W_OTHER_MGR], 0, 0, 50, &more);
	assert_int_equal(t.n, 1);

	/* Bad filters. */
	struct kh_key_filter f = {.limit = 0};
	assert_int_equal(kh_keys_list(e->k, u, &f, tags_fn, &t, &more), KH_ERR_BAD_INPUT);
	f.limit = KH_LIMIT_PAGE_MAX + 1;
	assert_int_equal(kh_keys_list(e->k, u, &f, tags_fn, &t, &more), KH_ERR_BAD_INPUT);
	f = (struct kh_key_filter){.state = (enum kh_key_state)9, .limit = 5};
	assert_int_equal(kh_keys_list(e->k, u, &f, tags_fn, &t, &more), KH_ERR_BAD_INPUT);
	f.state = 0;
	assert_int_equal(kh_keys_list(e->k, u, &f, NULL, &t, &more), KH_ERR_BAD_INPUT);
}

/* ---- roles ---- */

static void roles_add_up_and_revocation_takes_effect_at_once(void **state)
{
	struct env *e = *state;
	struct kh_principal *u = &e->p[W_NO_ROLE];
	struct kh_key_info k = kh_test_keys_create(e->t, e->mgr, "k", 0);
	struct kh_key_info out;
	kh_test_keys_grant(e->t, e->mgr, k.tag, u, KH_ROLE_ENCRYPTOR);
	kh_test_keys_grant(e->t, e->mgr, k.tag, u, KH_ROLE_DECRYPTOR);
	struct kh_buf ct = kh_test_keys_encrypt(e->t, u, k.tag, "both");
	assert_int_equal(kh_test_keys_decrypt(e->t, u, k.tag, kh_buf_slice(&ct), "both"), KH_OK);
	/* Encryptor plus decryptor is not encryptor-decryptor: no re-encryption. */
	struct kh_buf re;
	kh_buf_init(&re, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_reencrypt(e->k, u, k.tag, kh_buf_slice(&ct), KH_SLICE_EMPTY, &re),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_keys_disable(e->k, u, k.tag, &out), KH_ERR_FORBIDDEN);

	assert_int_equal(
	    kh_keys_grant_revoke(e->k, e->mgr, k.tag, u->account_id, KH_ROLE_DECRYPTOR), KH_OK);
	assert_int_equal(kh_test_keys_decrypt(e->t, u, k.tag, kh_buf_slice(&ct), NULL),
	                 KH_ERR_FORBIDDEN);
	kh_buf_cleanup(&ct);
	ct = kh_test_keys_encrypt(e->t, u, k.tag, "still");
	assert_int_equal(
	    kh_keys_grant_revoke(e->k, e->mgr, k.tag, u->account_id, KH_ROLE_ENCRYPTOR), KH_OK);
	assert_int_equal(kh_keys_get(e->k, u, k.tag, &out), KH_ERR_NOT_FOUND);
	struct kh_buf again;
	kh_buf_init(&again, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_encrypt(e->k, u, k.tag, KH_SLICE_LIT("x"), KH_SLICE_EMPTY, &again),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(again.len, 0);
	kh_buf_cleanup(&ct);
	kh_buf_cleanup(&re);
}

struct grant_list {
	struct kh_key_grant g[8];
	size_t n;
};

static kh_rc grant_list_fn(const struct kh_key_grant *g, void *arg)
{
	struct grant_list *l = arg;
	if (l->n < 8)
		l->g[l->n] = *g;
	l->n++;
	return KH_OK;
}

static void grants_refuse_what_they_must(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = kh_test_keys_create(e->t, e->mgr, "k", 0);
	struct kh_principal *u = &e->p[W_NO_ROLE];
	int64_t now = kh_test_keys_now(e->t);
	struct grant_list l = {0};
	int64_t next = 0;
	assert_int_equal(kh_keys_grants(e->k, e->mgr, k.tag, &all_page, grant_list_fn, &l, &next),
	                 KH_OK);
	assert_int_equal(l.n, 0);

	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_grant_add(e->k, e->mgr, k.tag, u->account_id, KH_ROLE_REVIEWER),
	                 KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.grant_add", e->mgr, KH_OK);
	assert_int_equal(kh_keys_grant_add(e->k, e->mgr, k.tag, u->account_id, KH_ROLE_MANAGER),
	                 KH_OK);
	/* Twice the same: conflict. */
	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_grant_add(e->k, e->mgr, k.tag, u->account_id, KH_ROLE_REVIEWER),
	                 KH_ERR_CONFLICT);
	kh_test_keys_audit_one(e->t, seq, "key.grant_add", e->mgr, KH_ERR_CONFLICT);
	/* Accounts of another store, or none at all, cannot hold roles here. */
	assert_int_equal(
	    kh_keys_grant_add(e->k, e->mgr, k.tag, e->p[W_OTHER_USER].account_id, KH_ROLE_REVIEWER),
	    KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_grant_add(e->k, e->mgr, k.tag, 999999, KH_ROLE_REVIEWER),
	                 KH_ERR_NOT_FOUND);
	/* Roles outside the enum. */
	assert_int_equal(kh_keys_grant_add(e->k, e->mgr, k.tag, u->account_id, (enum kh_role)0),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keys_grant_add(e->k, e->mgr, k.tag, u->account_id, (enum kh_role)6),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keys_grant_revoke(e->k, e->mgr, k.tag, u->account_id, (enum kh_role)6),
	                 KH_ERR_BAD_INPUT);

	l.n = 0;
	assert_int_equal(kh_keys_grants(e->k, e->mgr, k.tag, &all_page, grant_list_fn, &l, &next),
	                 KH_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.g[0].account_id, u->account_id);
	assert_int_equal(l.g[0].role, KH_ROLE_MANAGER); /* ordered by account, then role name */
	assert_int_equal(l.g[0].created_at, now);
	assert_int_equal(l.g[1].role, KH_ROLE_REVIEWER);

	/* Revoking what is not held. */
	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(
	    kh_keys_grant_revoke(e->k, e->mgr, k.tag, u->account_id, KH_ROLE_ENCRYPTOR),
	    KH_ERR_NOT_FOUND);
	kh_test_keys_audit_one(e->t, seq, "key.grant_revoke", e->mgr, KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_grant_revoke(e->k, e->mgr, k.tag, u->account_id, KH_ROLE_REVIEWER),
	                 KH_OK);
	assert_int_equal(kh_keys_grant_revoke(e->k, e->mgr, k.tag, u->account_id, KH_ROLE_REVIEWER),
	                 KH_ERR_NOT_FOUND);
	/* A per-key manager may grant on that key. */
	assert_int_equal(kh_keys_grant_add(e->k, u, k.tag, e->spare.account_id, KH_ROLE_DECRYPTOR),
	                 KH_OK);
	l.n = 0;
	assert_int_equal(kh_keys_grants(e->k, u, k.tag, &all_page, grant_list_fn, &l, &next),
	                 KH_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(kh_keys_grants(e->k, u, k.tag, &all_page, NULL, &l, &next),
	                 KH_ERR_BAD_INPUT);
}

/* ---- key stores and accounts ---- */

static void only_the_operator_makes_key_stores(void **state)
{
	struct env *e = *state;
	struct kh_principal op = kh_test_keys_operator();
	int64_t id = 0;
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_keystore_create(e->k, e->mgr, "mine", &id), KH_ERR_FORBIDDEN);
	kh_test_keys_audit_one(e->t, seq, "keystore.create", e->mgr, KH_ERR_FORBIDDEN);
	assert_int_equal(id, 0);
	assert_int_equal(kh_keys_keystore_create(e->k, &e->p[W_NO_ROLE], "mine", &id),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_keys_keystore_create(e->k, &op, "acme", &id), KH_ERR_CONFLICT);
	assert_int_equal(kh_keys_keystore_create(e->k, &op, "bad name", &id), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keys_keystore_create(e->k, &op, "", &id), KH_ERR_BAD_INPUT);
	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_keystore_create(e->k, &op, "initech", &id), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "keystore.create", &op, KH_OK);
	assert_true(id > e->ks);
}

static void accounts_are_made_by_the_operator_or_the_stores_managers(void **state)
{
	struct env *e = *state;
	struct kh_principal op = kh_test_keys_operator();
	int64_t id = 0;
	struct kh_account acc;

	assert_int_equal(
	    kh_keys_account_create(e->k, e->mgr, e->ks, "new-user", KH_POLICY_KMS_USER, &id),
	    KH_OK);
	assert_int_equal(kh_keys_account_get(e->k, id, &acc), KH_OK);
	assert_int_equal(acc.id, id);
	assert_int_equal(acc.keystore_id, e->ks);
	assert_string_equal(acc.name, "new-user");
	assert_int_equal(acc.policies, KH_POLICY_KMS_USER);
	assert_int_equal(acc.created_at, kh_test_keys_now(e->t));

	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_account_create(e->k, &e->p[W_OTHER_MGR], e->ks, "intruder",
	                                        KH_POLICY_KMS_MANAGER, &id),
	                 KH_ERR_FORBIDDEN);
	kh_test_keys_audit_one(e->t, seq, "account.create", &e->p[W_OTHER_MGR], KH_ERR_FORBIDDEN);
	assert_int_equal(
	    kh_keys_account_create(e->k, &e->p[W_MANAGER], e->ks, "x", KH_POLICY_KMS_USER, &id),
	    KH_ERR_FORBIDDEN);
	assert_int_equal(
	    kh_keys_account_create(e->k, &op, e->ks, "new-user", KH_POLICY_KMS_USER, &id),
	    KH_ERR_CONFLICT);
	assert_int_equal(kh_keys_account_create(e->k, &op, e->ks, "p0", 0, &id), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keys_account_create(e->k, &op, e->ks, "p3",
	                                        KH_POLICY_KMS_MANAGER | KH_POLICY_KMS_USER, &id),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keys_account_create(e->k, &op, 999, "x", KH_POLICY_KMS_USER, &id),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_account_create(e->k, &op, e->ks, "a b", KH_POLICY_KMS_USER, &id),
	                 KH_ERR_BAD_INPUT);
	/* The same name in another store is another account. */
	assert_int_equal(kh_keys_account_create(e->k, &op, e->p[W_OTHER_MGR].keystore_id,
	                                        "new-user", KH_POLICY_KMS_MANAGER, &id),
	                 KH_OK);
	assert_int_equal(kh_keys_account_get(e->k, 424242, &acc), KH_ERR_NOT_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(every_caller_against_every_operation, setup, teardown),
	    cmocka_unit_test_setup_teardown(refusals_are_audited_under_the_callers_store, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(a_user_lists_only_the_keys_it_holds_a_role_on, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(roles_add_up_and_revocation_takes_effect_at_once, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(grants_refuse_what_they_must, setup, teardown),
	    cmocka_unit_test_setup_teardown(only_the_operator_makes_key_stores, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        accounts_are_made_by_the_operator_or_the_stores_managers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
