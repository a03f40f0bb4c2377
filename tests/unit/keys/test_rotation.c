/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Versions and rotation schedules (API.md "Lifecycle rules"), on a fake clock counted in days.
 *
 * Versions: a rotation makes version N+1; only the newest encrypts, signs and MACs; older
 * enabled versions decrypt and verify; the current version cannot be disabled; a disabled
 * version's ciphertexts and signatures fail with KH_ERR_VERSION_DISABLED until it is enabled
 * again; unknown versions are not found.
 *
 * Schedules: 90 days by default, 0 for none, at most 3650; the scheduler rotates at
 * next_rotation_at and not a nanosecond before; a period change keeps the next date and counts
 * the new period from it; manual rotations leave the schedule alone; disabled and
 * pending-deletion keys keep rotating, deleted ones do not; a scheduler that was down for
 * several periods rotates once and picks the next date after now on the same grid; turning
 * rotation on starts now + period; kh_keys_next_due gives the earliest work of all kinds.
 */
#include "kh_test_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY KH_NS_PER_DAY
#define WAIT_NS (INT64_C(259200) * KH_NS_PER_SEC) /* 72 h */

struct env {
	struct kh_test_keys *t;
	struct kh_keys *k;
	int64_t ks;
	struct kh_principal mgr;
	int64_t day0;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->t = kh_test_keys_new(0);
	e->k = e->t->keys;
	e->ks = kh_test_keys_keystore(e->t, "acme");
	e->mgr = kh_test_keys_manager(e->t, e->ks, "admin");
	e->day0 = kh_test_keys_now(e->t);
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

/* Day d after the start, plus ns nanoseconds. */
static void at_day(struct env *e, int64_t d, int64_t ns)
{
	kh_clock_fake_set(&e->t->clock, e->day0 + d * DAY + ns);
}

static int64_t day(struct env *e, int64_t d)
{
	return e->day0 + d * DAY;
}

static struct kh_key_info create_with(struct env *e, const char *name, enum kh_key_type type,
                                      int period)
{
	struct kh_key_create req = {.name = name, .type = type, .rotation_period_days = period};
	struct kh_key_info k;
	assert_int_equal(kh_keys_create(e->k, &e->mgr, &req, &k), KH_OK);
	return k;
}

static struct kh_key_info get(struct env *e, const char *tag)
{
	return kh_test_keys_get(e->t, &e->mgr, tag);
}

static size_t rotate_due(struct env *e)
{
	size_t n = 999;
	assert_int_equal(kh_keys_rotate_due(e->k, 100, &n), KH_OK);
	return n;
}

static kh_rc set_period(struct env *e, const char *tag, int period, struct kh_key_info *out)
{
	struct kh_key_update u = {.rotation_period_days = period};
	return kh_keys_update(e->k, &e->mgr, tag, &u, out);
}

/* Asserts version, period, pending period and next date of a key. */
static void assert_schedule(struct env *e, const char *tag, uint32_t version, unsigned period,
                            int pending, int64_t next)
{
	struct kh_key_info k = get(e, tag);
	assert_int_equal(k.current_version, version);
	assert_int_equal(k.rotation_period_days, period);
	assert_int_equal(k.pending_period_days, pending);
	assert_int_equal(k.next_rotation_at, next);
}

static bool has_version_prefix(const struct kh_buf *text, uint32_t version)
{
	char prefix[24];
	int n = snprintf(prefix, sizeof(prefix), "kh:v%u:", version);
	return text->len > (size_t)n && memcmp(text->ptr, prefix, (size_t)n) == 0;
}

/* ---- versions ---- */

static void rotation_makes_a_new_version_and_only_the_newest_encrypts(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = create_with(e, "k", KH_KEY_AES_256_GCM, -1);
	struct kh_key_info out;
	struct kh_buf ct1 = kh_test_keys_encrypt(e->t, &e->mgr, k.tag, "one");
	assert_true(has_version_prefix(&ct1, 1));

	at_day(e, 3, 0);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.rotate", &e->mgr, KH_OK);
	struct kh_test_audit_rec r[1];
	kh_test_keys_audit_since(e->t, seq, r, 1);
	assert_int_equal(r[0].version, 2);
	assert_int_equal(out.current_version, 2);
	assert_int_equal(out.updated_at, day(e, 3));

	struct kh_buf ct2 = kh_test_keys_encrypt(e->t, &e->mgr, k.tag, "two");
	assert_true(has_version_prefix(&ct2, 2));
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct1), "one"),
	                 KH_OK);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct2), "two"),
	                 KH_OK);

	struct kh_key_version_info v[4];
	assert_int_equal(kh_test_keys_versions(e->t, &e->mgr, k.tag, v, 4), 2);
	assert_int_equal(v[0].version, 1);
	assert_int_equal(v[0].created_at, day(e, 0));
	assert_int_equal(v[1].version, 2);
	assert_int_equal(v[1].created_at, day(e, 3));
	assert_int_equal(v[1].state, KH_VERSION_ENABLED);
	assert_int_equal(kh_test_keys_sealed_rows(e->t, &k), 2);

	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_int_equal(out.current_version, 3);
	struct kh_buf ct3 = kh_test_keys_encrypt(e->t, &e->mgr, k.tag, "three");
	assert_true(has_version_prefix(&ct3, 3));
	kh_buf_cleanup(&ct1);
	kh_buf_cleanup(&ct2);
	kh_buf_cleanup(&ct3);
}

static void only_the_newest_signs_and_macs_older_versions_verify(void **state)
{
	struct env *e = *state;
	struct kh_key_info s = create_with(e, "s", KH_KEY_ECDSA_P256, -1);
	struct kh_key_info m = create_with(e, "m", KH_KEY_HMAC_SHA256, -1);
	struct kh_key_info out;
	struct kh_buf sig1, sig2, mac1, mac2, pem1, pem2;
	kh_buf_init(&sig1, 4096, KH_BUF_PLAIN);
	kh_buf_init(&sig2, 4096, KH_BUF_PLAIN);
	kh_buf_init(&mac1, 4096, KH_BUF_PLAIN);
	kh_buf_init(&mac2, 4096, KH_BUF_PLAIN);
	kh_buf_init(&pem1, 8192, KH_BUF_PLAIN);
	kh_buf_init(&pem2, 8192, KH_BUF_PLAIN);
	struct kh_slice msg = KH_SLICE_LIT("to be signed");
	assert_int_equal(kh_keys_sign(e->k, &e->mgr, s.tag, 0, false, msg, &sig1), KH_OK);
	assert_int_equal(kh_keys_mac(e->k, &e->mgr, m.tag, msg, &mac1), KH_OK);
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, s.tag, &out), KH_OK);
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, m.tag, &out), KH_OK);
	assert_int_equal(kh_keys_sign(e->k, &e->mgr, s.tag, 0, false, msg, &sig2), KH_OK);
	assert_int_equal(kh_keys_mac(e->k, &e->mgr, m.tag, msg, &mac2), KH_OK);
	assert_true(has_version_prefix(&sig1, 1));
	assert_true(has_version_prefix(&sig2, 2));
	assert_true(has_version_prefix(&mac1, 1));
	assert_true(has_version_prefix(&mac2, 2));
	assert_false(kh_slice_eq(kh_buf_slice(&mac1), kh_buf_slice(&mac2)));

	bool valid = false;
	assert_int_equal(
	    kh_keys_verify(e->k, &e->mgr, s.tag, 0, false, msg, kh_buf_slice(&sig1), &valid),
	    KH_OK);
	assert_true(valid);
	valid = false;
	assert_int_equal(
	    kh_keys_verify(e->k, &e->mgr, s.tag, 0, false, msg, kh_buf_slice(&sig2), &valid),
	    KH_OK);
	assert_true(valid);
	valid = false;
	assert_int_equal(kh_keys_verify_mac(e->k, &e->mgr, m.tag, msg, kh_buf_slice(&mac1), &valid),
	                 KH_OK);
	assert_true(valid);

	/* Public keys per version; 0 is the current one. */
	uint32_t ver = 0;
	assert_int_equal(kh_keys_public_key(e->k, &e->mgr, s.tag, 0, &ver, &pem2), KH_OK);
	assert_int_equal(ver, 2);
	assert_int_equal(kh_keys_public_key(e->k, &e->mgr, s.tag, 1, &ver, &pem1), KH_OK);
	assert_int_equal(ver, 1);
	assert_false(kh_slice_eq(kh_buf_slice(&pem1), kh_buf_slice(&pem2)));
	struct kh_buf none;
	kh_buf_init(&none, 8192, KH_BUF_PLAIN);
	ver = 77;
	assert_int_equal(kh_keys_public_key(e->k, &e->mgr, s.tag, 3, &ver, &none),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(ver, 77);
	assert_int_equal(none.len, 0);

	/* A disabled version neither verifies nor gives its public key. */
	assert_int_equal(kh_keys_version_disable(e->k, &e->mgr, s.tag, 1), KH_OK);
	assert_int_equal(kh_keys_version_disable(e->k, &e->mgr, m.tag, 1), KH_OK);
	valid = true;
	assert_int_equal(
	    kh_keys_verify(e->k, &e->mgr, s.tag, 0, false, msg, kh_buf_slice(&sig1), &valid),
	    KH_ERR_VERSION_DISABLED);
	valid = true;
	assert_int_equal(kh_keys_verify_mac(e->k, &e->mgr, m.tag, msg, kh_buf_slice(&mac1), &valid),
	                 KH_ERR_VERSION_DISABLED);
	assert_int_equal(kh_keys_public_key(e->k, &e->mgr, s.tag, 1, &ver, &none),
	                 KH_ERR_VERSION_DISABLED);
	assert_int_equal(none.len, 0);
	/* The current version still works. */
	valid = false;
	assert_int_equal(
	    kh_keys_verify(e->k, &e->mgr, s.tag, 0, false, msg, kh_buf_slice(&sig2), &valid),
	    KH_OK);
	assert_true(valid);
	assert_int_equal(kh_keys_version_enable(e->k, &e->mgr, s.tag, 1), KH_OK);
	valid = false;
	assert_int_equal(
	    kh_keys_verify(e->k, &e->mgr, s.tag, 0, false, msg, kh_buf_slice(&sig1), &valid),
	    KH_OK);
	assert_true(valid);

	kh_buf_cleanup(&sig1);
	kh_buf_cleanup(&sig2);
	kh_buf_cleanup(&mac1);
	kh_buf_cleanup(&mac2);
	kh_buf_cleanup(&pem1);
	kh_buf_cleanup(&pem2);
	kh_buf_cleanup(&none);
}

static void disabling_an_older_version_stops_its_ciphertexts_until_enabled(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = create_with(e, "k", KH_KEY_AES_256_GCM, -1);
	struct kh_key_info out;
	struct kh_buf ct1 = kh_test_keys_encrypt(e->t, &e->mgr, k.tag, "one");

	/* The current version cannot be disabled. */
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_version_disable(e->k, &e->mgr, k.tag, 1), KH_ERR_CONFLICT);
	kh_test_keys_audit_one(e->t, seq, "key.version_disable", &e->mgr, KH_ERR_CONFLICT);
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_int_equal(kh_keys_version_disable(e->k, &e->mgr, k.tag, 2), KH_ERR_CONFLICT);

	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_version_disable(e->k, &e->mgr, k.tag, 1), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.version_disable", &e->mgr, KH_OK);
	assert_int_equal(kh_keys_version_disable(e->k, &e->mgr, k.tag, 1), KH_OK);
	struct kh_key_version_info v[3];
	assert_int_equal(kh_test_keys_versions(e->t, &e->mgr, k.tag, v, 3), 2);
	assert_int_equal(v[0].state, KH_VERSION_DISABLED);
	assert_int_equal(v[1].state, KH_VERSION_ENABLED);

	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct1), NULL),
	                 KH_ERR_VERSION_DISABLED);
	kh_test_keys_audit_one(e->t, seq, "key.decrypt", &e->mgr, KH_ERR_VERSION_DISABLED);
	struct kh_buf re;
	kh_buf_init(&re, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	assert_int_equal(
	    kh_keys_reencrypt(e->k, &e->mgr, k.tag, kh_buf_slice(&ct1), KH_SLICE_EMPTY, &re),
	    KH_ERR_VERSION_DISABLED);
	assert_int_equal(re.len, 0);
	/* The key as a whole still serves. */
	struct kh_buf ct2 = kh_test_keys_encrypt(e->t, &e->mgr, k.tag, "two");
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct2), "two"),
	                 KH_OK);

	/* A new version makes the old current one disable-able. */
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_int_equal(kh_keys_version_disable(e->k, &e->mgr, k.tag, 2), KH_OK);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct2), NULL),
	                 KH_ERR_VERSION_DISABLED);

	assert_int_equal(kh_keys_version_enable(e->k, &e->mgr, k.tag, 1), KH_OK);
	assert_int_equal(kh_keys_version_enable(e->k, &e->mgr, k.tag, 1), KH_OK);
	assert_int_equal(kh_keys_version_enable(e->k, &e->mgr, k.tag, 2), KH_OK);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct1), "one"),
	                 KH_OK);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct2), "two"),
	                 KH_OK);
	assert_int_equal(
	    kh_keys_reencrypt(e->k, &e->mgr, k.tag, kh_buf_slice(&ct1), KH_SLICE_EMPTY, &re),
	    KH_OK);
	assert_true(has_version_prefix(&re, 3));
	kh_buf_cleanup(&re);
	kh_buf_cleanup(&ct1);
	kh_buf_cleanup(&ct2);
}

static void unknown_versions_are_not_found(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = create_with(e, "k", KH_KEY_AES_256_GCM, -1);
	struct kh_key_info out;
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	const uint32_t versions[] = {0, 3, 4, UINT32_MAX};
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		int64_t seq = kh_test_keys_audit_last(e->t);
		assert_int_equal(kh_keys_version_disable(e->k, &e->mgr, k.tag, versions[i]),
		                 KH_ERR_NOT_FOUND);
		kh_test_keys_audit_one(e->t, seq, "key.version_disable", &e->mgr, KH_ERR_NOT_FOUND);
		seq = kh_test_keys_audit_last(e->t);
		assert_int_equal(kh_keys_version_enable(e->k, &e->mgr, k.tag, versions[i]),
		                 KH_ERR_NOT_FOUND);
		kh_test_keys_audit_one(e->t, seq, "key.version_enable", &e->mgr, KH_ERR_NOT_FOUND);
	}
	assert_int_equal(kh_test_keys_versions(e->t, &e->mgr, k.tag, NULL, 0), 2);
}

/* ---- schedules ---- */

static void periods_default_to_90_days_0_is_off_and_3650_is_the_most(void **state)
{
	struct env *e = *state;
	struct kh_key_info d = create_with(e, "default", 0, -1);
	assert_int_equal(d.rotation_period_days, KH_KEY_DEFAULT_ROTATION_DAYS);
	assert_int_equal(d.rotation_period_days, 90);
	assert_int_equal(d.next_rotation_at, day(e, 90));
	struct kh_key_info off = create_with(e, "off", 0, 0);
	assert_int_equal(off.rotation_period_days, 0);
	assert_int_equal(off.next_rotation_at, 0);
	struct kh_key_info max = create_with(e, "max", 0, 3650);
	assert_int_equal(max.next_rotation_at, day(e, 3650));
	struct kh_key_info one = create_with(e, "one", 0, 1);
	assert_int_equal(one.next_rotation_at, day(e, 1));

	struct kh_key_create req = {.name = "over", .rotation_period_days = 3651};
	struct kh_key_info out;
	assert_int_equal(kh_keys_create(e->k, &e->mgr, &req, &out), KH_ERR_BAD_INPUT);
	req.rotation_period_days = INT32_MAX;
	assert_int_equal(kh_keys_create(e->k, &e->mgr, &req, &out), KH_ERR_BAD_INPUT);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(set_period(e, d.tag, 3651, &out), KH_ERR_BAD_INPUT);
	kh_test_keys_audit_one(e->t, seq, "key.update", &e->mgr, KH_ERR_BAD_INPUT);
	assert_int_equal(set_period(e, d.tag, -2, &out), KH_ERR_BAD_INPUT);
	assert_int_equal(set_period(e, d.tag, 3650, &out), KH_OK);
	assert_int_equal(out.pending_period_days, 3650);

	/* Nothing rotates early, and "off" never does. */
	at_day(e, 1, -1);
	assert_int_equal(rotate_due(e), 0);
	at_day(e, 1, 0);
	assert_int_equal(rotate_due(e), 1);
	assert_schedule(e, one.tag, 2, 1, -1, day(e, 2));
	at_day(e, 3650 * 2, 0);
	assert_int_equal(rotate_due(e), 3); /* default, max, one: once each */
	assert_schedule(e, off.tag, 1, 0, -1, 0);
	assert_schedule(e, d.tag, 2, 3650, -1, day(e, 90 + 3650 * 2));
	assert_schedule(e, max.tag, 2, 3650, -1, day(e, 3650 * 3));
	assert_schedule(e, one.tag, 3, 1, -1, day(e, 3650 * 2 + 1));
}

static void the_scheduler_rotates_at_the_date_and_not_a_nanosecond_before(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = create_with(e, "k", KH_KEY_AES_256_GCM, -1);
	struct kh_buf ct = kh_test_keys_encrypt(e->t, &e->mgr, k.tag, "old");

	at_day(e, 90, -1);
	assert_int_equal(rotate_due(e), 0);
	assert_schedule(e, k.tag, 1, 90, -1, day(e, 90));

	at_day(e, 90, 0);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(rotate_due(e), 1);
	struct kh_test_audit_rec r[2];
	assert_int_equal(kh_test_keys_audit_since(e->t, seq, r, 2), 1);
	assert_string_equal(r[0].operation, "key.scheduled_rotation");
	assert_string_equal(r[0].principal, "system");
	assert_string_equal(r[0].key_tag, k.tag);
	assert_int_equal(r[0].version, 2);
	assert_string_equal(r[0].result, "ok");
	assert_schedule(e, k.tag, 2, 90, -1, day(e, 180));
	struct kh_key_version_info v[3];
	assert_int_equal(kh_test_keys_versions(e->t, &e->mgr, k.tag, v, 3), 2);
	assert_int_equal(v[1].created_at, day(e, 90));
	assert_int_equal(rotate_due(e), 0);

	/* The new version encrypts; the old one still decrypts. */
	struct kh_buf ct2 = kh_test_keys_encrypt(e->t, &e->mgr, k.tag, "new");
	assert_true(has_version_prefix(&ct2, 2));
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct), "old"),
	                 KH_OK);

	at_day(e, 180, -1);
	assert_int_equal(rotate_due(e), 0);
	at_day(e, 180, 0);
	assert_int_equal(rotate_due(e), 1);
	assert_schedule(e, k.tag, 3, 90, -1, day(e, 270));
	kh_buf_cleanup(&ct);
	kh_buf_cleanup(&ct2);
}

static void a_period_change_keeps_the_next_date_and_counts_from_it(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = create_with(e, "k", KH_KEY_AES_256_GCM, 90);
	struct kh_key_info out;

	at_day(e, 10, 0);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(set_period(e, k.tag, 30, &out), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.update", &e->mgr, KH_OK);
	assert_int_equal(out.rotation_period_days, 90);
	assert_int_equal(out.pending_period_days, 30);
	assert_int_equal(out.next_rotation_at, day(e, 90));

	/* Not at day 40 (10 + 30), not before 90. */
	at_day(e, 40, 0);
	assert_int_equal(rotate_due(e), 0);
	at_day(e, 90, -1);
	assert_int_equal(rotate_due(e), 0);
	at_day(e, 90, 0);
	assert_int_equal(rotate_due(e), 1);
	assert_schedule(e, k.tag, 2, 30, -1, day(e, 120));
	at_day(e, 120, 0);
	assert_int_equal(rotate_due(e), 1);
	assert_schedule(e, k.tag, 3, 30, -1, day(e, 150));
	at_day(e, 150, 0);
	assert_int_equal(rotate_due(e), 1);
	assert_schedule(e, k.tag, 4, 30, -1, day(e, 180));

	/* Changing twice keeps the last; changing back to the period drops the change. */
	at_day(e, 151, 0);
	assert_int_equal(set_period(e, k.tag, 7, &out), KH_OK);
	assert_int_equal(set_period(e, k.tag, 60, &out), KH_OK);
	assert_schedule(e, k.tag, 4, 30, 60, day(e, 180));
	assert_int_equal(set_period(e, k.tag, 30, &out), KH_OK);
	assert_schedule(e, k.tag, 4, 30, -1, day(e, 180));
	/* A description change leaves a pending period alone. */
	assert_int_equal(set_period(e, k.tag, 60, &out), KH_OK);
	struct kh_key_update u = {.description = "d", .rotation_period_days = -1};
	assert_int_equal(kh_keys_update(e->k, &e->mgr, k.tag, &u, &out), KH_OK);
	assert_schedule(e, k.tag, 4, 30, 60, day(e, 180));
	at_day(e, 180, 0);
	assert_int_equal(rotate_due(e), 1);
	assert_schedule(e, k.tag, 5, 60, -1, day(e, 240));
}

static void turning_rotation_on_from_zero_starts_now_plus_the_period(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = create_with(e, "k", KH_KEY_AES_256_GCM, 0);
	struct kh_key_info out;
	at_day(e, 5, 123);
	assert_int_equal(set_period(e, k.tag, 7, &out), KH_OK);
	assert_int_equal(out.rotation_period_days, 7);
	assert_int_equal(out.pending_period_days, -1);
	assert_int_equal(out.next_rotation_at, day(e, 12) + 123);
	at_day(e, 12, 122);
	assert_int_equal(rotate_due(e), 0);
	at_day(e, 12, 123);
	assert_int_equal(rotate_due(e), 1);
	assert_schedule(e, k.tag, 2, 7, -1, day(e, 19) + 123);

	/* Turning it off is a period change too: the date already scheduled stays (API.md: a
	 * change takes effect at the next scheduled rotation), and nothing follows it. */
	at_day(e, 13, 0);
	assert_int_equal(set_period(e, k.tag, 0, &out), KH_OK);
	assert_schedule(e, k.tag, 2, 7, 0, day(e, 19) + 123);
	at_day(e, 19, 123);
	assert_int_equal(rotate_due(e), 1);
	assert_schedule(e, k.tag, 3, 0, -1, 0);
	at_day(e, 5000, 0);
	assert_int_equal(rotate_due(e), 0);
	assert_schedule(e, k.tag, 3, 0, -1, 0);
}

static void manual_rotation_does_not_move_the_schedule(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = create_with(e, "k", KH_KEY_AES_256_GCM, 90);
	struct kh_key_info out;
	at_day(e, 10, 0);
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_int_equal(out.current_version, 2);
	assert_int_equal(out.next_rotation_at, day(e, 90));
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_schedule(e, k.tag, 3, 90, -1, day(e, 90));
	at_day(e, 90, -1);
	assert_int_equal(rotate_due(e), 0);
	at_day(e, 90, 0);
	assert_int_equal(rotate_due(e), 1);
	assert_schedule(e, k.tag, 4, 90, -1, day(e, 180));
	/* A key without a schedule can be rotated by hand and stays without one. */
	struct kh_key_info off = create_with(e, "off", KH_KEY_AES_256_GCM, 0);
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, off.tag, &out), KH_OK);
	assert_schedule(e, off.tag, 2, 0, -1, 0);
	/* Disabled keys can be rotated by hand. */
	assert_int_equal(kh_keys_disable(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_int_equal(out.current_version, 5);
	assert_int_equal(out.state, KH_KEY_DISABLED);
}

static void disabled_and_pending_deletion_keys_keep_rotating_deleted_ones_do_not(void **state)
{
	struct env *e = *state;
	struct kh_key_info a = create_with(e, "a", KH_KEY_AES_256_GCM, 90);
	struct kh_key_info b = create_with(e, "b", KH_KEY_AES_256_GCM, 90);
	struct kh_key_info c = create_with(e, "c", KH_KEY_AES_256_GCM, 90);
	struct kh_key_info out;
	at_day(e, 1, 0);
	assert_int_equal(kh_keys_disable(e->k, &e->mgr, a.tag, &out), KH_OK);
	assert_int_equal(kh_keys_schedule_deletion(e->k, &e->mgr, c.tag, NULL, &out), KH_OK);
	assert_int_equal(kh_keys_destroy(e->k, &e->mgr, c.tag), KH_OK);
	at_day(e, 89, 0);
	assert_int_equal(kh_keys_schedule_deletion(e->k, &e->mgr, b.tag, NULL, &out), KH_OK);

	at_day(e, 90, 0);
	assert_int_equal(rotate_due(e), 2);
	struct kh_key_info ra = get(e, a.tag);
	struct kh_key_info rb = get(e, b.tag);
	struct kh_key_info rc = get(e, c.tag);
	assert_int_equal(ra.state, KH_KEY_DISABLED);
	assert_int_equal(ra.current_version, 2);
	assert_int_equal(ra.next_rotation_at, day(e, 180));
	assert_int_equal(rb.state, KH_KEY_PENDING_DELETION);
	assert_int_equal(rb.current_version, 2);
	assert_int_equal(rb.deletion_at, day(e, 89) + WAIT_NS);
	assert_int_equal(rc.state, KH_KEY_DELETED);
	assert_int_equal(rc.current_version, 1);
	assert_int_equal(kh_test_keys_sealed_rows(e->t, &c), 0);
	assert_int_equal(rotate_due(e), 0);
	/* Still not usable. */
	struct kh_buf ct;
	kh_buf_init(&ct, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	assert_int_equal(
	    kh_keys_encrypt(e->k, &e->mgr, a.tag, KH_SLICE_LIT("x"), KH_SLICE_EMPTY, &ct),
	    KH_ERR_KEY_DISABLED);
	assert_int_equal(
	    kh_keys_encrypt(e->k, &e->mgr, b.tag, KH_SLICE_LIT("x"), KH_SLICE_EMPTY, &ct),
	    KH_ERR_KEY_PENDING_DELETION);
	kh_buf_cleanup(&ct);
}

static void a_scheduler_down_for_several_periods_rotates_once_on_the_same_grid(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = create_with(e, "k", KH_KEY_AES_256_GCM, 30);
	/* Grid 30, 60, 90, 120...: at day 100 (and a bit) the next is 120. */
	at_day(e, 100, 5);
	assert_int_equal(rotate_due(e), 1);
	assert_schedule(e, k.tag, 2, 30, -1, day(e, 120));
	assert_int_equal(rotate_due(e), 0);
	/* Exactly on a grid date: the next one is a period later. */
	at_day(e, 180, 0);
	assert_int_equal(rotate_due(e), 1);
	assert_schedule(e, k.tag, 3, 30, -1, day(e, 210));

	/* With a period change waiting: the grid starts at the old date, with the new period. */
	struct kh_key_info m = create_with(e, "m", KH_KEY_AES_256_GCM, 90); /* day 180 */
	struct kh_key_info out;
	at_day(e, 190, 0);
	assert_int_equal(set_period(e, m.tag, 30, &out), KH_OK);
	at_day(e, 380, 1);
	assert_int_equal(rotate_due(e), 2);
	/* m: next was 270; grid 270, 300, 330, 360, 390. k: grid from 210: 390. */
	assert_schedule(e, m.tag, 2, 30, -1, day(e, 390));
	assert_schedule(e, k.tag, 4, 30, -1, day(e, 390));
}

static void the_scheduler_respects_max(void **state)
{
	struct env *e = *state;
	create_with(e, "a", KH_KEY_AES_256_GCM, 1);
	create_with(e, "b", KH_KEY_AES_256_GCM, 1);
	create_with(e, "c", KH_KEY_AES_256_GCM, 1);
	at_day(e, 1, 0);
	size_t n = 0;
	assert_int_equal(kh_keys_rotate_due(e->k, 2, &n), KH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(kh_keys_rotate_due(e->k, 2, &n), KH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(kh_keys_rotate_due(e->k, 2, &n), KH_OK);
	assert_int_equal(n, 0);
	n = 9;
	assert_int_equal(kh_keys_rotate_due(e->k, 0, &n), KH_OK);
	assert_int_equal(n, 0);
}

static int64_t next_due(struct env *e)
{
	int64_t at = 0;
	assert_int_equal(kh_keys_next_due(e->k, &at), KH_OK);
	return at;
}

static void next_due_is_the_earliest_work_of_any_kind(void **state)
{
	struct env *e = *state;
	struct kh_key_info out;
	assert_int_equal(next_due(e), INT64_MAX);
	struct kh_key_info off = create_with(e, "off", KH_KEY_AES_256_GCM, 0);
	assert_int_equal(next_due(e), INT64_MAX);
	struct kh_key_info a = create_with(e, "a", KH_KEY_AES_256_GCM, 90);
	assert_int_equal(next_due(e), day(e, 90));
	struct kh_key_info b = create_with(e, "b", KH_KEY_AES_256_GCM, 30);
	assert_int_equal(next_due(e), day(e, 30));

	/* A deletion wait ending before any rotation. */
	at_day(e, 1, 0);
	assert_int_equal(kh_keys_schedule_deletion(e->k, &e->mgr, off.tag, NULL, &out), KH_OK);
	assert_int_equal(next_due(e), day(e, 1) + WAIT_NS);
	at_day(e, 4, 0);
	size_t n = 0;
	assert_int_equal(kh_keys_delete_due(e->k, 10, &n), KH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(next_due(e), day(e, 30));

	/* Rotation of a key pending deletion counts; its own deletion is earlier. */
	assert_int_equal(kh_keys_schedule_deletion(e->k, &e->mgr, b.tag, NULL, &out), KH_OK);
	assert_int_equal(next_due(e), day(e, 4) + WAIT_NS);
	assert_int_equal(kh_keys_cancel_deletion(e->k, &e->mgr, b.tag, &out), KH_OK);
	assert_int_equal(next_due(e), day(e, 30));

	/* With no rotations left, the purge of the deleted key. */
	assert_int_equal(set_period(e, a.tag, 0, &out), KH_OK);
	assert_int_equal(kh_keys_schedule_deletion(e->k, &e->mgr, b.tag, NULL, &out), KH_OK);
	assert_int_equal(kh_keys_destroy(e->k, &e->mgr, b.tag), KH_OK);
	assert_int_equal(next_due(e), day(e, 90)); /* a's last scheduled rotation */
	at_day(e, 90, 0);
	assert_int_equal(rotate_due(e), 1);
	assert_int_equal(next_due(e), day(e, 4) + INT64_C(365) * DAY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        rotation_makes_a_new_version_and_only_the_newest_encrypts, setup, teardown),
	    cmocka_unit_test_setup_teardown(only_the_newest_signs_and_macs_older_versions_verify,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        disabling_an_older_version_stops_its_ciphertexts_until_enabled, setup, teardown),
	    cmocka_unit_test_setup_teardown(unknown_versions_are_not_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        periods_default_to_90_days_0_is_off_and_3650_is_the_most, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        the_scheduler_rotates_at_the_date_and_not_a_nanosecond_before, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_period_change_keeps_the_next_date_and_counts_from_it,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        turning_rotation_on_from_zero_starts_now_plus_the_period, setup, teardown),
	    cmocka_unit_test_setup_teardown(manual_rotation_does_not_move_the_schedule, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        disabled_and_pending_deletion_keys_keep_rotating_deleted_ones_do_not, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        a_scheduler_down_for_several_periods_rotates_once_on_the_same_grid, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(the_scheduler_respects_max, setup, teardown),
	    cmocka_unit_test_setup_teardown(next_due_is_the_earliest_work_of_any_kind, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
