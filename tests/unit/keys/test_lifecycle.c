/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A key's life (API.md "Lifecycle rules"): creation and its validation, names unique among live
 * keys, enable and disable (idempotent), scheduled deletion with its 72-hour wait (to the
 * nanosecond), the name confirmation for keys with grants, cancellation back to disabled,
 * destruction (material gone from the sealed table, versions marked destroyed), deleted keys
 * readable to managers only, any change to a deleted key refused, purge after 365 days (to the
 * nanosecond), name reuse after deletion, version states kept across disable and enable, grantee
 * notices for every change (and none for refusals), and all of it surviving a restart. Every
 * test ends with the audit chain verified.
 */
#include "kh_test_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_NS (INT64_C(3600) * KH_NS_PER_SEC)
#define WAIT_NS (INT64_C(259200) * KH_NS_PER_SEC) /* 72 h, written out */
#define YEAR_NS (INT64_C(365) * KH_NS_PER_DAY)

static const struct kh_store_query q_usage_rows = {
    "test.usage_rows", "SELECT COUNT(*) FROM usage_history WHERE key_id = ?"};
static const struct kh_store_query q_version_rows = {
    "test.version_rows", "SELECT COUNT(*) FROM key_versions WHERE key_id = ?"};
static const struct kh_store_query q_grant_rows = {"test.grant_rows",
                                                   "SELECT COUNT(*) FROM grants WHERE key_id = ?"};
static const struct kh_store_query q_key_rows = {"test.key_rows",
                                                 "SELECT COUNT(*) FROM keys WHERE id = ?"};
static const struct kh_store_query q_audit_tag_rows = {
    "test.audit_tag_rows", "SELECT COUNT(*) FROM audit WHERE key_tag = ?"};

struct env {
	struct kh_test_keys *t;
	struct kh_keys *k;
	int64_t ks;
	struct kh_principal mgr;  /* kms-manager */
	struct kh_principal user; /* kms-user, roles granted per test */
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->t = kh_test_keys_new(0);
	e->k = e->t->keys;
	e->ks = kh_test_keys_keystore(e->t, "acme");
	e->mgr = kh_test_keys_manager(e->t, e->ks, "admin");
	e->user = kh_test_keys_user(e->t, e->ks, "alice");
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

static struct kh_key_info aes(struct env *e, const char *name)
{
	return kh_test_keys_create(e->t, &e->mgr, name, KH_KEY_AES_256_GCM);
}

static enum kh_key_state state_of(struct env *e, const char *tag)
{
	return kh_test_keys_get(e->t, &e->mgr, tag).state;
}

static kh_rc create(struct env *e, const struct kh_principal *p, const struct kh_key_create *req)
{
	struct kh_key_info out;
	return kh_keys_create(e->k, p, req, &out);
}

static kh_rc disable(struct env *e, const char *tag)
{
	struct kh_key_info out;
	return kh_keys_disable(e->k, &e->mgr, tag, &out);
}

static kh_rc enable(struct env *e, const char *tag)
{
	struct kh_key_info out;
	return kh_keys_enable(e->k, &e->mgr, tag, &out);
}

static kh_rc schedule(struct env *e, const char *tag, const char *confirm)
{
	struct kh_key_info out;
	return kh_keys_schedule_deletion(e->k, &e->mgr, tag, confirm, &out);
}

static kh_rc cancel(struct env *e, const char *tag)
{
	struct kh_key_info out;
	return kh_keys_cancel_deletion(e->k, &e->mgr, tag, &out);
}

static kh_rc encrypt(struct env *e, const struct kh_principal *p, const char *tag)
{
	struct kh_buf out;
	kh_buf_init(&out, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_keys_encrypt(e->k, p, tag, KH_SLICE_LIT("hello"), KH_SLICE_EMPTY, &out);
	assert_true(rc == KH_OK ? out.len > 0 : out.len == 0);
	kh_buf_cleanup(&out);
	return rc;
}

/* Destroys a key through schedule-deletion and DELETE. */
static void destroy(struct env *e, const struct kh_key_info *key)
{
	assert_int_equal(schedule(e, key->tag, key->name), KH_OK);
	assert_int_equal(kh_keys_destroy(e->k, &e->mgr, key->tag), KH_OK);
	assert_int_equal(state_of(e, key->tag), KH_KEY_DELETED);
}

/* ---- creation ---- */

static void a_new_key_is_enabled_with_version_1_and_the_defaults(void **state)
{
	struct env *e = *state;
	int64_t now = kh_test_keys_now(e->t);
	struct kh_key_create req = {.name = "payments", .rotation_period_days = -1};
	struct kh_key_info k;
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_create(e->k, &e->mgr, &req, &k), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.create", &e->mgr, KH_OK);
	assert_true(k.id > 0);
	assert_int_equal(k.keystore_id, e->ks);
	assert_int_equal(strspn(k.tag, "0123456789abcdef"), KH_KEY_TAG_LEN);
	assert_string_equal(k.name, "payments");
	assert_string_equal(k.description, "");
	assert_int_equal(k.type, KH_KEY_AES_256_GCM);
	assert_int_equal(k.usage, KH_USAGE_ENCRYPT_DECRYPT);
	assert_int_equal(k.state, KH_KEY_ENABLED);
	assert_false(k.convergent);
	assert_int_equal(k.current_version, 1);
	assert_int_equal(k.rotation_period_days, 90);
	assert_int_equal(k.pending_period_days, -1);
	assert_int_equal(k.next_rotation_at, now + 90 * KH_NS_PER_DAY);
	assert_int_equal(k.created_at, now);
	assert_int_equal(k.updated_at, now);
	assert_int_equal(k.deletion_at, 0);
	assert_int_equal(k.deleted_at, 0);
	assert_int_equal(k.usage_count, 0);
	assert_int_equal(k.last_used_at, 0);

	struct kh_key_info g = kh_test_keys_get(e->t, &e->mgr, k.tag);
	assert_memory_equal(&g, &k, sizeof(g));

	struct kh_key_version_info v[2];
	assert_int_equal(kh_test_keys_versions(e->t, &e->mgr, k.tag, v, 2), 1);
	assert_int_equal(v[0].version, 1);
	assert_int_equal(v[0].state, KH_VERSION_ENABLED);
	assert_int_equal(v[0].created_at, now);
	assert_false(v[0].destroyed);
	assert_int_equal(kh_test_keys_sealed_rows(e->t, &k), 1);

	/* Two keys never share a tag. */
	struct kh_key_info k2 = aes(e, "payments-2");
	assert_string_not_equal(k2.tag, k.tag);
}

static void create_refuses_bad_requests_and_audits_the_refusal(void **state)
{
	struct env *e = *state;
	char long_name[KH_LIMIT_NAME_MAX + 2];
	char long_desc[KH_LIMIT_DESCRIPTION_BYTES + 2];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	memset(long_desc, 'd', sizeof(long_desc) - 1);
	long_desc[sizeof(long_desc) - 1] = '\0';
	const struct {
		struct kh_key_create req;
		kh_rc want;
	} cases[] = {
	    {{.name = NULL, .rotation_period_days = -1}, KH_ERR_BAD_INPUT},
	    {{.name = "", .rotation_period_days = -1}, KH_ERR_BAD_INPUT},
	    {{.name = "has space", .rotation_period_days = -1}, KH_ERR_BAD_INPUT},
	    {{.name = "slash/y", .rotation_period_days = -1}, KH_ERR_BAD_INPUT},
	    {{.name = long_name, .rotation_period_days = -1}, KH_ERR_BAD_INPUT},
	    {{.name = "t", .type = (enum kh_key_type)99, .rotation_period_days = -1},
	     KH_ERR_BAD_INPUT},
	    {{.name = "t",
	      .type = KH_KEY_ECDSA_P256,
	      .usage = KH_USAGE_ENCRYPT_DECRYPT,
	      .rotation_period_days = -1},
	     KH_ERR_BAD_INPUT},
	    {{.name = "t",
	      .type = KH_KEY_AES_256_GCM,
	      .usage = KH_USAGE_SIGN_VERIFY,
	      .rotation_period_days = -1},
	     KH_ERR_BAD_INPUT},
	    {{.name = "t",
	      .type = KH_KEY_HMAC_SHA256,
	      .usage = KH_USAGE_ENCRYPT_DECRYPT,
	      .rotation_period_days = -1},
	     KH_ERR_BAD_INPUT},
	    {{.name = "t", .usage = (enum kh_key_usage)9, .rotation_period_days = -1},
	     KH_ERR_BAD_INPUT},
	    {{.name = "t",
	      .type = KH_KEY_RSA_2048,
	      .usage = KH_USAGE_ENCRYPT_DECRYPT,
	      .rotation_period_days = -1,
	      .convergent = true},
	     KH_ERR_BAD_INPUT},
	    {{.name = "t",
	      .type = KH_KEY_HMAC_SHA256,
	      .rotation_period_days = -1,
	      .convergent = true},
	     KH_ERR_BAD_INPUT},
	    {{.name = "t", .rotation_period_days = 3651}, KH_ERR_BAD_INPUT},
	    {{.name = "t", .rotation_period_days = -2}, KH_ERR_BAD_INPUT},
	    {{.name = "t", .rotation_period_days = -1, .description = long_desc}, KH_ERR_TOO_LARGE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kh_key_info out;
		memset(&out, 0xa5, sizeof(out));
		int64_t seq = kh_test_keys_audit_last(e->t);
		kh_rc rc = kh_keys_create(e->k, &e->mgr, &cases[i].req, &out);
		if (rc != cases[i].want)
			fail_msg("case %zu: got %s, want %s", i, kh_rc_name(rc),
			         kh_rc_name(cases[i].want));
		kh_test_keys_audit_one(e->t, seq, "key.create", &e->mgr, cases[i].want);
		/* Out-parameters are written only on success. */
		assert_int_equal(((unsigned char *)&out)[0], 0xa5);
	}
	/* The limits themselves are fine. */
	long_name[KH_LIMIT_NAME_MAX] = '\0';
	long_desc[KH_LIMIT_DESCRIPTION_BYTES] = '\0';
	struct kh_key_create ok = {.name = long_name,
	                           .description = long_desc,
	                           .rotation_period_days = KH_KEY_MAX_ROTATION_DAYS};
	struct kh_key_info k;
	assert_int_equal(kh_keys_create(e->k, &e->mgr, &ok, &k), KH_OK);
	assert_string_equal(k.name, long_name);
	assert_string_equal(k.description, long_desc);
	assert_int_equal(k.rotation_period_days, 3650);
	struct kh_key_create dotted = {.name = "A-z_0.9", .rotation_period_days = 0};
	assert_int_equal(create(e, &e->mgr, &dotted), KH_OK);

	/* Only key store managers create keys. */
	struct kh_principal op = kh_test_keys_operator();
	struct kh_key_create req = {.name = "mine", .rotation_period_days = -1};
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(create(e, &e->user, &req), KH_ERR_FORBIDDEN);
	kh_test_keys_audit_one(e->t, seq, "key.create", &e->user, KH_ERR_FORBIDDEN);
	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(create(e, &op, &req), KH_ERR_FORBIDDEN);
	kh_test_keys_audit_one(e->t, seq, "key.create", &op, KH_ERR_FORBIDDEN);
	/* Nothing was made by the refusals. */
	assert_int_equal(create(e, &e->mgr, &req), KH_OK);
}

static void names_are_unique_among_live_keys_and_free_again_after_deletion(void **state)
{
	struct env *e = *state;
	struct kh_key_info a = aes(e, "orders");
	struct kh_key_create req = {.name = "orders", .rotation_period_days = -1};
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(create(e, &e->mgr, &req), KH_ERR_CONFLICT);
	kh_test_keys_audit_one(e->t, seq, "key.create", &e->mgr, KH_ERR_CONFLICT);

	/* Another key store has its own names. */
	int64_t ks2 = kh_test_keys_keystore(e->t, "other");
	struct kh_principal mgr2 = kh_test_keys_manager(e->t, ks2, "admin");
	assert_int_equal(create(e, &mgr2, &req), KH_OK);

	/* Disabled and pending-deletion keys are live: the name stays taken. */
	assert_int_equal(disable(e, a.tag), KH_OK);
	assert_int_equal(create(e, &e->mgr, &req), KH_ERR_CONFLICT);
	assert_int_equal(schedule(e, a.tag, NULL), KH_OK);
	assert_int_equal(create(e, &e->mgr, &req), KH_ERR_CONFLICT);
	assert_int_equal(kh_keys_destroy(e->k, &e->mgr, a.tag), KH_OK);

	/* Deleted: the name is free; the old key keeps its tag and metadata. */
	struct kh_key_info b = aes(e, "orders");
	assert_string_not_equal(b.tag, a.tag);
	assert_int_not_equal(b.id, a.id);
	struct kh_key_info old = kh_test_keys_get(e->t, &e->mgr, a.tag);
	assert_int_equal(old.state, KH_KEY_DELETED);
	assert_string_equal(old.name, "orders");
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, b.tag).state, KH_KEY_ENABLED);
	assert_int_equal(create(e, &e->mgr, &req), KH_ERR_CONFLICT);
}

/* ---- enable and disable ---- */

static void disable_and_enable_are_idempotent(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");
	struct kh_key_info out;
	int64_t t0 = kh_test_keys_now(e->t);
	kh_test_keys_advance(e->t, KH_NS_PER_SEC);

	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_disable(e->k, &e->mgr, k.tag, &out), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.disable", &e->mgr, KH_OK);
	assert_int_equal(out.state, KH_KEY_DISABLED);
	assert_int_equal(out.updated_at, t0 + KH_NS_PER_SEC);
	assert_int_equal(out.deletion_at, 0);
	assert_int_equal(kh_keys_disable(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_int_equal(out.state, KH_KEY_DISABLED);
	assert_int_equal(state_of(e, k.tag), KH_KEY_DISABLED);

	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_enable(e->k, &e->mgr, k.tag, &out), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.enable", &e->mgr, KH_OK);
	assert_int_equal(out.state, KH_KEY_ENABLED);
	assert_int_equal(kh_keys_enable(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_int_equal(out.state, KH_KEY_ENABLED);
	assert_int_equal(state_of(e, k.tag), KH_KEY_ENABLED);
	/* Version and schedule are untouched by state changes. */
	assert_int_equal(out.current_version, 1);
	assert_int_equal(out.next_rotation_at, k.next_rotation_at);
}

static void only_enabled_keys_serve_crypto(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");
	struct kh_buf ct = kh_test_keys_encrypt(e->t, &e->mgr, k.tag, "secret");

	assert_int_equal(disable(e, k.tag), KH_OK);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(encrypt(e, &e->mgr, k.tag), KH_ERR_KEY_DISABLED);
	kh_test_keys_audit_one(e->t, seq, "key.encrypt", &e->mgr, KH_ERR_KEY_DISABLED);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct), NULL),
	                 KH_ERR_KEY_DISABLED);
	assert_int_equal(enable(e, k.tag), KH_OK);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct), "secret"),
	                 KH_OK);

	assert_int_equal(schedule(e, k.tag, NULL), KH_OK);
	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(encrypt(e, &e->mgr, k.tag), KH_ERR_KEY_PENDING_DELETION);
	kh_test_keys_audit_one(e->t, seq, "key.encrypt", &e->mgr, KH_ERR_KEY_PENDING_DELETION);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct), NULL),
	                 KH_ERR_KEY_PENDING_DELETION);

	/* Cancelled: disabled, not enabled. */
	assert_int_equal(cancel(e, k.tag), KH_OK);
	assert_int_equal(encrypt(e, &e->mgr, k.tag), KH_ERR_KEY_DISABLED);
	assert_int_equal(enable(e, k.tag), KH_OK);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct), "secret"),
	                 KH_OK);
	kh_buf_cleanup(&ct);
}

static void pending_deletion_refuses_other_changes(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");
	struct kh_key_info out;
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_int_equal(schedule(e, k.tag, NULL), KH_OK);

	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(disable(e, k.tag), KH_ERR_KEY_PENDING_DELETION);
	kh_test_keys_audit_one(e->t, seq, "key.disable", &e->mgr, KH_ERR_KEY_PENDING_DELETION);
	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(enable(e, k.tag), KH_ERR_KEY_PENDING_DELETION);
	kh_test_keys_audit_one(e->t, seq, "key.enable", &e->mgr, KH_ERR_KEY_PENDING_DELETION);
	assert_int_equal(schedule(e, k.tag, NULL), KH_ERR_KEY_PENDING_DELETION);
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_ERR_KEY_PENDING_DELETION);
	struct kh_key_update u = {.description = "x", .rotation_period_days = -1};
	assert_int_equal(kh_keys_update(e->k, &e->mgr, k.tag, &u, &out),
	                 KH_ERR_KEY_PENDING_DELETION);
	assert_int_equal(kh_keys_version_disable(e->k, &e->mgr, k.tag, 1),
	                 KH_ERR_KEY_PENDING_DELETION);
	assert_int_equal(kh_keys_version_enable(e->k, &e->mgr, k.tag, 1),
	                 KH_ERR_KEY_PENDING_DELETION);

	/* Nothing moved. */
	struct kh_key_info now = kh_test_keys_get(e->t, &e->mgr, k.tag);
	assert_int_equal(now.state, KH_KEY_PENDING_DELETION);
	assert_int_equal(now.current_version, 2);
	assert_string_equal(now.description, "");
}

/* ---- scheduled deletion ---- */

static void schedule_deletion_waits_exactly_72_hours_from_enabled_or_disabled(void **state)
{
	struct env *e = *state;
	struct kh_key_info a = aes(e, "a");
	struct kh_key_info b = aes(e, "b");
	struct kh_key_info out;
	kh_test_keys_advance(e->t, 5 * HOUR_NS + 7);
	int64_t now = kh_test_keys_now(e->t);

	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_schedule_deletion(e->k, &e->mgr, a.tag, NULL, &out), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.schedule_deletion", &e->mgr, KH_OK);
	assert_int_equal(out.state, KH_KEY_PENDING_DELETION);
	assert_int_equal(out.deletion_at, now + WAIT_NS);
	assert_int_equal(out.deleted_at, 0);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, a.tag).deletion_at, now + WAIT_NS);

	assert_int_equal(disable(e, b.tag), KH_OK);
	assert_int_equal(kh_keys_schedule_deletion(e->k, &e->mgr, b.tag, NULL, &out), KH_OK);
	assert_int_equal(out.state, KH_KEY_PENDING_DELETION);
	assert_int_equal(out.deletion_at, now + WAIT_NS);

	/* Once is enough. */
	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(schedule(e, a.tag, NULL), KH_ERR_KEY_PENDING_DELETION);
	kh_test_keys_audit_one(e->t, seq, "key.schedule_deletion", &e->mgr,
	                       KH_ERR_KEY_PENDING_DELETION);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, a.tag).deletion_at, now + WAIT_NS);
}

static void deleting_a_key_with_grants_needs_its_name(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "Billing.Key");
	struct kh_key_info bare = aes(e, "bare");
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &e->user, KH_ROLE_ENCRYPTOR);

	const char *wrong[] = {NULL, "", "wrong", "billing.key", "Billing.Key ", "Billing.Ke"};
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		int64_t seq = kh_test_keys_audit_last(e->t);
		assert_int_equal(schedule(e, k.tag, wrong[i]), KH_ERR_BAD_INPUT);
		kh_test_keys_audit_one(e->t, seq, "key.schedule_deletion", &e->mgr,
		                       KH_ERR_BAD_INPUT);
		assert_int_equal(state_of(e, k.tag), KH_KEY_ENABLED);
	}
	assert_int_equal(schedule(e, k.tag, "Billing.Key"), KH_OK);
	assert_int_equal(state_of(e, k.tag), KH_KEY_PENDING_DELETION);

	/* Without grants no confirmation is asked; but one that is given must be the key's
	 * name: one meant for another key was taken (seen while fuzzing the API). */
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(schedule(e, bare.tag, "Billing.Key"), KH_ERR_BAD_INPUT);
	kh_test_keys_audit_one(e->t, seq, "key.schedule_deletion", &e->mgr, KH_ERR_BAD_INPUT);
	assert_int_equal(schedule(e, bare.tag, ""), KH_ERR_BAD_INPUT);
	assert_int_equal(state_of(e, bare.tag), KH_KEY_ENABLED);
	assert_int_equal(schedule(e, bare.tag, NULL), KH_OK);
	assert_int_equal(state_of(e, bare.tag), KH_KEY_PENDING_DELETION);
	struct kh_key_info named = aes(e, "named");
	assert_int_equal(schedule(e, named.tag, "named"), KH_OK);

	/* Revoking the last grant lifts the requirement. */
	struct kh_key_info c = aes(e, "c");
	kh_test_keys_grant(e->t, &e->mgr, c.tag, &e->user, KH_ROLE_REVIEWER);
	assert_int_equal(schedule(e, c.tag, NULL), KH_ERR_BAD_INPUT);
	assert_int_equal(
	    kh_keys_grant_revoke(e->k, &e->mgr, c.tag, e->user.account_id, KH_ROLE_REVIEWER),
	    KH_OK);
	assert_int_equal(schedule(e, c.tag, NULL), KH_OK);
}

static void cancel_deletion_leaves_the_key_disabled(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");
	struct kh_key_info out;

	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_cancel_deletion(e->k, &e->mgr, k.tag, &out), KH_ERR_CONFLICT);
	kh_test_keys_audit_one(e->t, seq, "key.cancel_deletion", &e->mgr, KH_ERR_CONFLICT);
	assert_int_equal(disable(e, k.tag), KH_OK);
	assert_int_equal(cancel(e, k.tag), KH_ERR_CONFLICT);
	assert_int_equal(enable(e, k.tag), KH_OK);

	assert_int_equal(schedule(e, k.tag, NULL), KH_OK);
	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_cancel_deletion(e->k, &e->mgr, k.tag, &out), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.cancel_deletion", &e->mgr, KH_OK);
	assert_int_equal(out.state, KH_KEY_DISABLED);
	assert_int_equal(out.deletion_at, 0);
	assert_int_equal(out.deleted_at, 0);
	assert_int_equal(cancel(e, k.tag), KH_ERR_CONFLICT);

	/* A cancelled key is not deleted when its old date comes. */
	kh_test_keys_advance(e->t, WAIT_NS + HOUR_NS);
	size_t n = 99;
	assert_int_equal(kh_keys_delete_due(e->k, 100, &n), KH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(state_of(e, k.tag), KH_KEY_DISABLED);
	assert_int_equal(kh_test_keys_sealed_rows(e->t, &k), 1);
}

static void destroy_works_only_while_pending_deletion(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");

	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_destroy(e->k, &e->mgr, k.tag), KH_ERR_CONFLICT);
	kh_test_keys_audit_one(e->t, seq, "key.destroy", &e->mgr, KH_ERR_CONFLICT);
	assert_int_equal(disable(e, k.tag), KH_OK);
	assert_int_equal(kh_keys_destroy(e->k, &e->mgr, k.tag), KH_ERR_CONFLICT);
	assert_int_equal(state_of(e, k.tag), KH_KEY_DISABLED);
	assert_int_equal(kh_test_keys_sealed_rows(e->t, &k), 1);

	assert_int_equal(schedule(e, k.tag, NULL), KH_OK);
	kh_test_keys_advance(e->t, HOUR_NS);
	int64_t now = kh_test_keys_now(e->t);
	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_destroy(e->k, &e->mgr, k.tag), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.destroy", &e->mgr, KH_OK);
	struct kh_key_info d = kh_test_keys_get(e->t, &e->mgr, k.tag);
	assert_int_equal(d.state, KH_KEY_DELETED);
	assert_int_equal(d.deleted_at, now);
	assert_int_equal(d.deletion_at, 0);
	assert_int_equal(kh_keys_destroy(e->k, &e->mgr, k.tag), KH_ERR_CONFLICT);
	assert_int_equal(kh_test_keys_sealed_rows(e->t, &k), 0);
}

static void the_deletion_scheduler_destroys_at_72_hours_and_not_a_nanosecond_before(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");
	struct kh_key_info other = aes(e, "other");
	int64_t start = kh_test_keys_now(e->t);
	assert_int_equal(schedule(e, k.tag, NULL), KH_OK);
	size_t n = 99;

	int64_t at = 0;
	assert_int_equal(kh_keys_next_due(e->k, &at), KH_OK);
	assert_int_equal(at, start + WAIT_NS);

	kh_test_keys_advance(e->t, WAIT_NS - 1);
	assert_int_equal(kh_keys_delete_due(e->k, 100, &n), KH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(state_of(e, k.tag), KH_KEY_PENDING_DELETION);
	assert_int_equal(kh_test_keys_sealed_rows(e->t, &k), 1);

	kh_test_keys_advance(e->t, 1);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_delete_due(e->k, 100, &n), KH_OK);
	assert_int_equal(n, 1);
	struct kh_test_audit_rec r[2];
	assert_int_equal(kh_test_keys_audit_since(e->t, seq, r, 2), 1);
	assert_string_equal(r[0].operation, "key.scheduled_deletion");
	assert_string_equal(r[0].principal, "system");
	assert_string_equal(r[0].result, "ok");
	assert_string_equal(r[0].key_tag, k.tag);

	struct kh_key_info d = kh_test_keys_get(e->t, &e->mgr, k.tag);
	assert_int_equal(d.state, KH_KEY_DELETED);
	assert_int_equal(d.deleted_at, start + WAIT_NS);
	assert_int_equal(kh_test_keys_sealed_rows(e->t, &k), 0);
	assert_int_equal(kh_keys_delete_due(e->k, 100, &n), KH_OK);
	assert_int_equal(n, 0);
	/* Keys not pending deletion are left alone. */
	assert_int_equal(state_of(e, other.tag), KH_KEY_ENABLED);
	assert_int_equal(kh_test_keys_sealed_rows(e->t, &other), 1);
}

static void the_deletion_scheduler_respects_max(void **state)
{
	struct env *e = *state;
	char name[16];
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		struct kh_key_info k = aes(e, name);
		assert_int_equal(schedule(e, k.tag, NULL), KH_OK);
	}
	kh_test_keys_advance(e->t, WAIT_NS);
	size_t n = 99;
	assert_int_equal(kh_keys_delete_due(e->k, 2, &n), KH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(kh_keys_delete_due(e->k, 2, &n), KH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(kh_keys_delete_due(e->k, 2, &n), KH_OK);
	assert_int_equal(n, 0);
}

static void a_destroyed_key_has_no_material_left(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");
	struct kh_key_info sig = kh_test_keys_create(e->t, &e->mgr, "sig", KH_KEY_ECDSA_P256);
	struct kh_key_info out;
	struct kh_buf ct1 = kh_test_keys_encrypt(e->t, &e->mgr, k.tag, "one");
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	struct kh_buf ct2 = kh_test_keys_encrypt(e->t, &e->mgr, k.tag, "two");
	assert_int_equal(kh_test_keys_sealed_rows(e->t, &k), 2);
	assert_true(kh_keys_cache_size(e->k) >= 2);

	destroy(e, &k);
	destroy(e, &sig);
	assert_int_equal(kh_test_keys_sealed_rows(e->t, &k), 0);
	assert_int_equal(kh_test_keys_sealed_rows(e->t, &sig), 0);
	assert_int_equal(kh_keys_cache_size(e->k), 0);

	struct kh_key_version_info v[3];
	assert_int_equal(kh_test_keys_versions(e->t, &e->mgr, k.tag, v, 3), 2);
	assert_true(v[0].destroyed);
	assert_true(v[1].destroyed);
	assert_int_equal(v[0].version, 1);
	assert_int_equal(v[1].version, 2);

	/* Every use fails, for managers too, and after a restart. */
	for (int round = 0; round < 2; round++) {
		int64_t seq = kh_test_keys_audit_last(e->t);
		assert_int_equal(
		    kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct1), NULL),
		    KH_ERR_CONFLICT);
		kh_test_keys_audit_one(e->t, seq, "key.decrypt", &e->mgr, KH_ERR_CONFLICT);
		assert_int_equal(
		    kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct2), NULL),
		    KH_ERR_CONFLICT);
		assert_int_equal(encrypt(e, &e->mgr, k.tag), KH_ERR_CONFLICT);
		struct kh_buf pem;
		uint32_t ver = 0;
		kh_buf_init(&pem, 8192, KH_BUF_PLAIN);
		assert_int_equal(kh_keys_public_key(e->k, &e->mgr, sig.tag, 0, &ver, &pem),
		                 KH_ERR_CONFLICT);
		assert_int_equal(pem.len, 0);
		kh_buf_cleanup(&pem);
		kh_test_keys_reopen(e->t);
		e->k = e->t->keys;
	}
	kh_buf_cleanup(&ct1);
	kh_buf_cleanup(&ct2);
}

/* ---- deleted keys ---- */

struct seen {
	const char *tag;
	size_t total;
	bool found;
	enum kh_key_state state;
};

static kh_rc seen_fn(const struct kh_key_info *key, void *arg)
{
	struct seen *s = arg;
	s->total++;
	if (strcmp(key->tag, s->tag) == 0) {
		s->found = true;
		s->state = key->state;
	}
	return KH_OK;
}

static struct seen list_for(struct env *e, const struct kh_principal *p, const char *tag)
{
	struct seen s = {.tag = tag};
	struct kh_key_filter f = {.limit = 100};
	bool more = true;
	assert_int_equal(kh_keys_list(e->k, p, &f, seen_fn, &s, &more), KH_OK);
	assert_false(more);
	return s;
}

static void a_deleted_key_stays_readable_to_managers_only(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");
	struct kh_principal keymgr = kh_test_keys_user(e->t, e->ks, "keymgr");
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &e->user, KH_ROLE_ENCRYPTOR_DECRYPTOR);
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &keymgr, KH_ROLE_MANAGER);
	struct kh_buf ct = kh_test_keys_encrypt(e->t, &e->user, k.tag, "x");
	destroy(e, &k);

	/* The key store's managers read the metadata, versions, grants and history. */
	struct kh_key_info d = kh_test_keys_get(e->t, &e->mgr, k.tag);
	assert_int_equal(d.state, KH_KEY_DELETED);
	assert_string_equal(d.name, "k");
	assert_int_equal(d.usage_count, 1);
	char ops[4][32];
	assert_int_equal(kh_test_keys_history(e->t, &e->mgr, k.tag, 100, NULL, ops, 4), 1);
	assert_string_equal(ops[0], "encrypt");
	struct kh_key_version_info v[2];
	assert_int_equal(kh_test_keys_versions(e->t, &e->mgr, k.tag, v, 2), 1);
	assert_true(list_for(e, &e->mgr, k.tag).found);
	struct seen s = list_for(e, &e->mgr, k.tag);
	assert_int_equal(s.state, KH_KEY_DELETED);

	/* So does an account holding the manager role on it. */
	assert_int_equal(kh_test_keys_get(e->t, &keymgr, k.tag).state, KH_KEY_DELETED);
	assert_true(list_for(e, &keymgr, k.tag).found);

	/* A user with another role no longer sees it at all. */
	struct kh_key_info out;
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_get(e->k, &e->user, k.tag, &out), KH_ERR_NOT_FOUND);
	kh_test_keys_audit_one(e->t, seq, "key.get", &e->user, KH_ERR_NOT_FOUND);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->user, k.tag, kh_buf_slice(&ct), NULL),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(encrypt(e, &e->user, k.tag), KH_ERR_NOT_FOUND);
	s = list_for(e, &e->user, k.tag);
	assert_false(s.found);
	assert_int_equal(s.total, 0);
	/* A state filter does not bring it back. */
	struct kh_key_filter f = {.state = KH_KEY_DELETED, .limit = 10};
	bool more = true;
	s = (struct seen){.tag = k.tag};
	assert_int_equal(kh_keys_list(e->k, &e->user, &f, seen_fn, &s, &more), KH_OK);
	assert_int_equal(s.total, 0);
	kh_buf_cleanup(&ct);
}

static void any_change_to_a_deleted_key_is_a_conflict(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");
	struct kh_key_info out;
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &e->user, KH_ROLE_REVIEWER);
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	destroy(e, &k);

	struct kh_key_update u = {.description = "x", .rotation_period_days = 7};
	static const char *const ops[] = {
	    "key.update",
	    "key.rotate",
	    "key.disable",
	    "key.enable",
	    "key.schedule_deletion",
	    "key.cancel_deletion",
	    "key.destroy",
	    "key.version_disable",
	    "key.version_enable",
	    "key.grant_add",
	    "key.grant_revoke",
	};
	kh_rc got[11];
	size_t n = 0;
	int64_t seq = kh_test_keys_audit_last(e->t);
	got[n++] = kh_keys_update(e->k, &e->mgr, k.tag, &u, &out);
	got[n++] = kh_keys_rotate(e->k, &e->mgr, k.tag, &out);
	got[n++] = kh_keys_disable(e->k, &e->mgr, k.tag, &out);
	got[n++] = kh_keys_enable(e->k, &e->mgr, k.tag, &out);
	got[n++] = kh_keys_schedule_deletion(e->k, &e->mgr, k.tag, k.name, &out);
	got[n++] = kh_keys_cancel_deletion(e->k, &e->mgr, k.tag, &out);
	got[n++] = kh_keys_destroy(e->k, &e->mgr, k.tag);
	got[n++] = kh_keys_version_disable(e->k, &e->mgr, k.tag, 1);
	got[n++] = kh_keys_version_enable(e->k, &e->mgr, k.tag, 1);
	got[n++] = kh_keys_grant_add(e->k, &e->mgr, k.tag, e->user.account_id, KH_ROLE_ENCRYPTOR);
	got[n++] = kh_keys_grant_revoke(e->k, &e->mgr, k.tag, e->user.account_id, KH_ROLE_REVIEWER);
	assert_int_equal(n, sizeof(ops) / sizeof(ops[0]));
	for (size_t i = 0; i < n; i++) {
		if (got[i] != KH_ERR_CONFLICT)
			fail_msg("%s on a deleted key: %s", ops[i], kh_rc_name(got[i]));
	}
	struct kh_test_audit_rec r[16];
	assert_int_equal(kh_test_keys_audit_since(e->t, seq, r, 16), n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(r[i].operation, ops[i]);
		assert_string_equal(r[i].result, "KH_ERR_CONFLICT");
		assert_string_equal(r[i].key_tag, k.tag);
	}
	struct kh_key_info d = kh_test_keys_get(e->t, &e->mgr, k.tag);
	assert_int_equal(d.state, KH_KEY_DELETED);
	assert_int_equal(d.current_version, 2);
	assert_string_equal(d.description, "");
	assert_int_equal(d.rotation_period_days, 90);
}

static void purge_removes_a_deleted_key_after_365_days_and_not_before(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");
	struct kh_key_info keep = aes(e, "keep");
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &e->user, KH_ROLE_ENCRYPTOR);
	struct kh_buf ct = kh_test_keys_encrypt(e->t, &e->user, k.tag, "x");
	kh_buf_cleanup(&ct);
	assert_int_equal(schedule(e, k.tag, k.name), KH_OK);
	kh_test_keys_advance(e->t, WAIT_NS);
	size_t n = 99;
	assert_int_equal(kh_keys_delete_due(e->k, 10, &n), KH_OK);
	assert_int_equal(n, 1);
	int64_t deleted_at = kh_test_keys_get(e->t, &e->mgr, k.tag).deleted_at;
	assert_int_equal(deleted_at, kh_test_keys_now(e->t));
	struct kh_store_val id[] = {KH_SV_INT(k.id)};
	assert_true(kh_test_keys_sql_int(e->t, &q_usage_rows, id, 1) > 0);

	/* The earliest work is keep's rotation, 87 days away; the purge comes later. */
	int64_t at = 0;
	assert_int_equal(kh_keys_next_due(e->k, &at), KH_OK);
	assert_int_equal(at, keep.next_rotation_at);

	kh_clock_fake_set(&e->t->clock, deleted_at + YEAR_NS - 1);
	assert_int_equal(kh_keys_purge_due(e->k, 10, &n), KH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, k.tag).state, KH_KEY_DELETED);

	kh_clock_fake_set(&e->t->clock, deleted_at + YEAR_NS);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_purge_due(e->k, 10, &n), KH_OK);
	assert_int_equal(n, 1);
	struct kh_test_audit_rec r[2];
	assert_int_equal(kh_test_keys_audit_since(e->t, seq, r, 2), 1);
	assert_string_equal(r[0].operation, "key.purge");
	assert_string_equal(r[0].principal, "system");
	assert_string_equal(r[0].key_tag, k.tag);
	assert_string_equal(r[0].result, "ok");

	struct kh_key_info out;
	assert_int_equal(kh_keys_get(e->k, &e->mgr, k.tag, &out), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_test_keys_sql_int(e->t, &q_key_rows, id, 1), 0);
	assert_int_equal(kh_test_keys_sql_int(e->t, &q_usage_rows, id, 1), 0);
	assert_int_equal(kh_test_keys_sql_int(e->t, &q_version_rows, id, 1), 0);
	assert_int_equal(kh_test_keys_sql_int(e->t, &q_grant_rows, id, 1), 0);
	assert_false(list_for(e, &e->mgr, k.tag).found);
	/* The audit log keeps what happened to it. */
	struct kh_store_val tag[] = {KH_SV_TEXT(k.tag)};
	assert_true(kh_test_keys_sql_int(e->t, &q_audit_tag_rows, tag, 1) > 5);
	assert_int_equal(kh_keys_purge_due(e->k, 10, &n), KH_OK);
	assert_int_equal(n, 0);
	/* Live keys are never purged, however old. */
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, keep.tag).state, KH_KEY_ENABLED);
}

static void reenabling_restores_each_versions_own_state(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");
	struct kh_key_info out;
	struct kh_buf ct1 = kh_test_keys_encrypt(e->t, &e->mgr, k.tag, "one");
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	struct kh_buf ct2 = kh_test_keys_encrypt(e->t, &e->mgr, k.tag, "two");
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_int_equal(kh_keys_version_disable(e->k, &e->mgr, k.tag, 1), KH_OK);

	assert_int_equal(disable(e, k.tag), KH_OK);
	/* Version changes are allowed while the key is disabled. */
	assert_int_equal(kh_keys_version_disable(e->k, &e->mgr, k.tag, 2), KH_OK);
	assert_int_equal(kh_keys_version_enable(e->k, &e->mgr, k.tag, 2), KH_OK);
	assert_int_equal(enable(e, k.tag), KH_OK);

	struct kh_key_version_info v[3];
	assert_int_equal(kh_test_keys_versions(e->t, &e->mgr, k.tag, v, 3), 3);
	assert_int_equal(v[0].state, KH_VERSION_DISABLED);
	assert_int_equal(v[1].state, KH_VERSION_ENABLED);
	assert_int_equal(v[2].state, KH_VERSION_ENABLED);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct1), NULL),
	                 KH_ERR_VERSION_DISABLED);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct2), "two"),
	                 KH_OK);

	/* The same through a deletion cancelled. */
	assert_int_equal(schedule(e, k.tag, NULL), KH_OK);
	assert_int_equal(cancel(e, k.tag), KH_OK);
	assert_int_equal(enable(e, k.tag), KH_OK);
	assert_int_equal(kh_test_keys_versions(e->t, &e->mgr, k.tag, v, 3), 3);
	assert_int_equal(v[0].state, KH_VERSION_DISABLED);
	assert_int_equal(v[1].state, KH_VERSION_ENABLED);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct1), NULL),
	                 KH_ERR_VERSION_DISABLED);
	kh_buf_cleanup(&ct1);
	kh_buf_cleanup(&ct2);
}

static void update_changes_the_description(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");
	struct kh_key_info out;
	kh_test_keys_advance(e->t, KH_NS_PER_SEC);
	struct kh_key_update u = {.description = "for invoices", .rotation_period_days = -1};
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_update(e->k, &e->mgr, k.tag, &u, &out), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.update", &e->mgr, KH_OK);
	assert_string_equal(out.description, "for invoices");
	assert_int_equal(out.rotation_period_days, 90);
	assert_int_equal(out.next_rotation_at, k.next_rotation_at);
	assert_int_equal(out.updated_at, k.created_at + KH_NS_PER_SEC);
	/* NULL leaves it; "" clears it; too long is refused. */
	u.description = NULL;
	assert_int_equal(kh_keys_update(e->k, &e->mgr, k.tag, &u, &out), KH_OK);
	assert_string_equal(out.description, "for invoices");
	char long_desc[KH_LIMIT_DESCRIPTION_BYTES + 2];
	memset(long_desc, 'd', sizeof(long_desc) - 1);
	long_desc[sizeof(long_desc) - 1] = '\0';
	u.description = long_desc;
	assert_int_equal(kh_keys_update(e->k, &e->mgr, k.tag, &u, &out), KH_ERR_TOO_LARGE);
	u.description = "";
	assert_int_equal(kh_keys_update(e->k, &e->mgr, k.tag, &u, &out), KH_OK);
	assert_string_equal(out.description, "");
	assert_int_equal(kh_keys_update(e->k, &e->mgr, k.tag, NULL, &out), KH_ERR_BAD_INPUT);
	/* Disabled keys can be updated. */
	assert_int_equal(disable(e, k.tag), KH_OK);
	u.description = "off";
	assert_int_equal(kh_keys_update(e->k, &e->mgr, k.tag, &u, &out), KH_OK);
	assert_string_equal(out.description, "off");
}

static void unknown_tags_are_not_found(void **state)
{
	struct env *e = *state;
	struct kh_key_info out;
	const char *tags[] = {"", "nope", "0123456789abcdef0123456789abcdef",
	                      "0123456789abcdef0123456789abcdef0"};
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		int64_t seq = kh_test_keys_audit_last(e->t);
		assert_int_equal(kh_keys_get(e->k, &e->mgr, tags[i], &out), KH_ERR_NOT_FOUND);
		kh_test_keys_audit_one(e->t, seq, "key.get", &e->mgr, KH_ERR_NOT_FOUND);
		assert_int_equal(kh_keys_disable(e->k, &e->mgr, tags[i], &out), KH_ERR_NOT_FOUND);
		assert_int_equal(encrypt(e, &e->mgr, tags[i]), KH_ERR_NOT_FOUND);
	}
}

/* ---- notices ---- */

static void grantees_hear_of_every_change_and_of_nothing_refused(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");
	struct kh_key_info out;
	struct kh_principal bob = kh_test_keys_user(e->t, e->ks, "bob");
	struct kh_principal carol = kh_test_keys_user(e->t, e->ks, "carol");
	struct kh_principal other = kh_test_keys_user(e->t, e->ks, "other");
	int64_t a = e->user.account_id, b = bob.account_id, c = carol.account_id;
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &e->user, KH_ROLE_ENCRYPTOR);
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &bob, KH_ROLE_REVIEWER);
	/* Both hear of bob's grant; alice heard of her own. */
	assert_int_equal(kh_test_keys_inbox_count(e->t, a, "key.grant_added", k.tag), 2);
	assert_int_equal(kh_test_keys_inbox_count(e->t, b, "key.grant_added", k.tag), 1);

	/* Each change in turn; both grantees hear of it once. */
	static const char *const events[] = {
	    "key.disabled",           "key.enabled",         "key.rotated",
	    "key.version_disabled",   "key.version_enabled", "key.deletion_scheduled",
	    "key.deletion_cancelled",
	};
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		kh_rc rc = KH_ERR_INTERNAL;
		switch (i) {
		case 0:
			rc = kh_keys_disable(e->k, &e->mgr, k.tag, &out);
			break;
		case 1:
			rc = kh_keys_enable(e->k, &e->mgr, k.tag, &out);
			break;
		case 2:
			rc = kh_keys_rotate(e->k, &e->mgr, k.tag, &out);
			break;
		case 3:
			rc = kh_keys_version_disable(e->k, &e->mgr, k.tag, 1);
			break;
		case 4:
			rc = kh_keys_version_enable(e->k, &e->mgr, k.tag, 1);
			break;
		case 5:
			rc = kh_keys_schedule_deletion(e->k, &e->mgr, k.tag, "k", &out);
			break;
		default:
			rc = kh_keys_cancel_deletion(e->k, &e->mgr, k.tag, &out);
			break;
		}
		assert_int_equal(rc, KH_OK);
		assert_int_equal(kh_test_keys_inbox_count(e->t, a, events[i], k.tag), 1);
		assert_int_equal(kh_test_keys_inbox_count(e->t, b, events[i], k.tag), 1);
	}

	/* Idempotent and refused changes say nothing. */
	size_t before = kh_test_keys_inbox_count(e->t, a, NULL, NULL);
	assert_int_equal(disable(e, k.tag), KH_OK); /* was disabled by the cancel */
	assert_int_equal(cancel(e, k.tag), KH_ERR_CONFLICT);
	assert_int_equal(schedule(e, k.tag, "wrong"), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keys_disable(e->k, &e->user, k.tag, &out), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_test_keys_inbox_count(e->t, a, NULL, NULL), before);
	assert_int_equal(enable(e, k.tag), KH_OK);
	assert_int_equal(kh_test_keys_inbox_count(e->t, a, "key.enabled", k.tag), 2);

	/* A new grantee hears from then on; a revoked one hears of the revocation, then no
	 * more. */
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &carol, KH_ROLE_DECRYPTOR);
	assert_int_equal(kh_test_keys_inbox_count(e->t, c, "key.grant_added", k.tag), 1);
	assert_int_equal(kh_test_keys_inbox_count(e->t, a, "key.grant_added", k.tag), 3);
	assert_int_equal(kh_keys_grant_revoke(e->k, &e->mgr, k.tag, b, KH_ROLE_REVIEWER), KH_OK);
	assert_int_equal(kh_test_keys_inbox_count(e->t, b, "key.grant_revoked", k.tag), 1);
	assert_int_equal(kh_test_keys_inbox_count(e->t, a, "key.grant_revoked", k.tag), 1);
	assert_int_equal(kh_test_keys_inbox_count(e->t, c, "key.grant_revoked", k.tag), 1);
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_int_equal(kh_test_keys_inbox_count(e->t, b, "key.rotated", k.tag), 1);
	assert_int_equal(kh_test_keys_inbox_count(e->t, a, "key.rotated", k.tag), 2);
	assert_int_equal(kh_test_keys_inbox_count(e->t, c, "key.rotated", k.tag), 1);

	/* Scheduled work notifies too. */
	kh_test_keys_advance(e->t, 90 * KH_NS_PER_DAY);
	size_t n = 0;
	assert_int_equal(kh_keys_rotate_due(e->k, 10, &n), KH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(kh_test_keys_inbox_count(e->t, a, "key.rotated", k.tag), 3);
	assert_int_equal(schedule(e, k.tag, "k"), KH_OK);
	kh_test_keys_advance(e->t, WAIT_NS);
	assert_int_equal(kh_keys_delete_due(e->k, 10, &n), KH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(kh_test_keys_inbox_count(e->t, a, "key.deleted", k.tag), 1);
	assert_int_equal(kh_test_keys_inbox_count(e->t, c, "key.deleted", k.tag), 1);
	assert_int_equal(kh_test_keys_inbox_count(e->t, b, "key.deleted", k.tag), 0);

	/* Accounts without a grant, managers included, hear nothing. */
	assert_int_equal(kh_test_keys_inbox_count(e->t, other.account_id, NULL, NULL), 0);
	assert_int_equal(kh_test_keys_inbox_count(e->t, e->mgr.account_id, NULL, NULL), 0);
}

static void a_revoked_account_with_another_role_hears_once(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = aes(e, "k");
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &e->user, KH_ROLE_ENCRYPTOR);
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &e->user, KH_ROLE_DECRYPTOR);
	assert_int_equal(
	    kh_keys_grant_revoke(e->k, &e->mgr, k.tag, e->user.account_id, KH_ROLE_ENCRYPTOR),
	    KH_OK);
	assert_int_equal(
	    kh_test_keys_inbox_count(e->t, e->user.account_id, "key.grant_revoked", k.tag), 1);
	assert_int_equal(
	    kh_keys_grant_revoke(e->k, &e->mgr, k.tag, e->user.account_id, KH_ROLE_DECRYPTOR),
	    KH_OK);
	assert_int_equal(
	    kh_test_keys_inbox_count(e->t, e->user.account_id, "key.grant_revoked", k.tag), 2);
}

/* ---- restart ---- */

static void keys_and_their_states_survive_a_restart(void **state)
{
	struct env *e = *state;
	struct kh_key_info a = aes(e, "a");
	struct kh_key_info b = aes(e, "b");
	struct kh_key_info c = aes(e, "c");
	struct kh_key_info out;
	struct kh_buf ct = kh_test_keys_encrypt(e->t, &e->mgr, a.tag, "kept");
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, a.tag, &out), KH_OK);
	assert_int_equal(kh_keys_version_disable(e->k, &e->mgr, a.tag, 1), KH_OK);
	assert_int_equal(disable(e, b.tag), KH_OK);
	assert_int_equal(schedule(e, c.tag, NULL), KH_OK);

	kh_test_keys_reopen(e->t);
	e->k = e->t->keys;
	assert_int_equal(kh_keys_cache_size(e->k), 0);
	struct kh_key_info ra = kh_test_keys_get(e->t, &e->mgr, a.tag);
	assert_int_equal(ra.current_version, 2);
	assert_int_equal(ra.state, KH_KEY_ENABLED);
	assert_int_equal(ra.usage_count, 1);
	assert_int_equal(state_of(e, b.tag), KH_KEY_DISABLED);
	assert_int_equal(state_of(e, c.tag), KH_KEY_PENDING_DELETION);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, a.tag, kh_buf_slice(&ct), NULL),
	                 KH_ERR_VERSION_DISABLED);
	assert_int_equal(kh_keys_version_enable(e->k, &e->mgr, a.tag, 1), KH_OK);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, a.tag, kh_buf_slice(&ct), "kept"),
	                 KH_OK);
	kh_buf_cleanup(&ct);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(a_new_key_is_enabled_with_version_1_and_the_defaults,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(create_refuses_bad_requests_and_audits_the_refusal,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        names_are_unique_among_live_keys_and_free_again_after_deletion, setup, teardown),
	    cmocka_unit_test_setup_teardown(disable_and_enable_are_idempotent, setup, teardown),
	    cmocka_unit_test_setup_teardown(only_enabled_keys_serve_crypto, setup, teardown),
	    cmocka_unit_test_setup_teardown(pending_deletion_refuses_other_changes, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        schedule_deletion_waits_exactly_72_hours_from_enabled_or_disabled, setup, teardown),
	    cmocka_unit_test_setup_teardown(deleting_a_key_with_grants_needs_its_name, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(cancel_deletion_leaves_the_key_disabled, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(destroy_works_only_while_pending_deletion, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        the_deletion_scheduler_destroys_at_72_hours_and_not_a_nanosecond_before, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(the_deletion_scheduler_respects_max, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_destroyed_key_has_no_material_left, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_deleted_key_stays_readable_to_managers_only, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(any_change_to_a_deleted_key_is_a_conflict, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        purge_removes_a_deleted_key_after_365_days_and_not_before, setup, teardown),
	    cmocka_unit_test_setup_teardown(reenabling_restores_each_versions_own_state, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(update_changes_the_description, setup, teardown),
	    cmocka_unit_test_setup_teardown(unknown_tags_are_not_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(grantees_hear_of_every_change_and_of_nothing_refused,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(a_revoked_account_with_another_role_hears_once, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(keys_and_their_states_survive_a_restart, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
