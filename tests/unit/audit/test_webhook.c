/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Webhooks and the outbox's end states: a webhook is set, replaced, read (with or without its
 * secret) and deleted; its secret is sealed by the barrier (never in clear in the database, not
 * readable while sealed, bound to its account); bounds are checked on the way in and on the way
 * back; a dropped notice stays in the inbox, undelivered, and is never due again; the pending
 * count follows.
 */
#include "audit_fixture.h"

#include "base/kh_limits.h"

static const struct kh_store_query q_attempts = {"test.attempts",
                                                 "SELECT attempts FROM notifications WHERE id = ?"};
static const struct kh_store_query q_next_is_null = {
    "test.next_null", "SELECT next_attempt_at IS NULL FROM notifications WHERE id = ?"};
static const struct kh_store_query q_url_damage = {
    "test.url_damage", "UPDATE webhooks SET url = 'https://a b' WHERE account_id = ?"};
static const struct kh_store_query q_sealed_swap = {
    "test.sealed_swap", "UPDATE sealed SET blob = (SELECT blob FROM sealed WHERE scope ="
                        " 'webhook/1') WHERE scope = 'webhook/2'"};
static const struct kh_store_query q_sealed_drop = {"test.sealed_drop",
                                                    "DELETE FROM sealed WHERE scope = ?"};

#define SECRET "whsec-0123456789abcdef"
#define URL "https://hooks.example.com/keyhold?x=1"

static int setup(void **state)
{
	return fx_setup_keystore(state, true);
}

struct put_op {
	struct kh_audit *a;
	int64_t account;
	const char *url;
	struct kh_slice secret;
};

static kh_rc put_fn(struct kh_store_tx *tx, void *arg)
{
	struct put_op *op = arg;
	return kh_audit_webhook_put(op->a, tx, op->account, op->url, op->secret);
}

static kh_rc put(struct fixture *f, int64_t account, const char *url, const char *secret)
{
	struct put_op op = {f->a, account, url, kh_slice_from_cstr(secret)};
	return kh_store_write(f->store, put_fn, &op);
}

struct del_op {
	struct kh_audit *a;
	int64_t account;
	bool existed;
};

static kh_rc del_fn(struct kh_store_tx *tx, void *arg)
{
	struct del_op *op = arg;
	return kh_audit_webhook_delete(op->a, tx, op->account, &op->existed);
}

static kh_rc del(struct fixture *f, int64_t account, bool *out_existed)
{
	struct del_op op = {f->a, account, false};
	KH_GUARD(kh_store_write(f->store, del_fn, &op));
	*out_existed = op.existed;
	return KH_OK;
}

static void a_webhook_is_set_read_replaced_and_deleted(void **state)
{
	struct fixture *f = *state;
	struct kh_audit_webhook w;
	struct kh_buf secret;
	bool existed = true;
	kh_buf_init(&secret, 512, KH_BUF_SECURE);
	assert_int_equal(kh_audit_webhook_read(f->a, 1, &w, NULL), KH_ERR_NOT_FOUND);
	assert_int_equal(put(f, 1, URL, SECRET), KH_OK);
	assert_int_equal(kh_audit_webhook_read(f->a, 1, &w, &secret), KH_OK);
	assert_string_equal(w.url, URL);
	assert_int_equal(w.created_at, FX_START_NS);
	assert_int_equal(w.updated_at, FX_START_NS);
	assert_true(kh_slice_eq(kh_buf_slice(&secret), KH_SLICE_LIT(SECRET)));
	/* Replacing keeps the creation time and changes the rest. */
	kh_clock_fake_advance(&f->clock, KH_NS_PER_SEC);
	assert_int_equal(put(f, 1, "http://127.0.0.1:9/x", "another-secret-of-16"), KH_OK);
	kh_buf_clear(&secret);
	assert_int_equal(kh_audit_webhook_read(f->a, 1, &w, &secret), KH_OK);
	assert_string_equal(w.url, "http://127.0.0.1:9/x");
	assert_int_equal(w.created_at, FX_START_NS);
	assert_int_equal(w.updated_at, FX_START_NS + KH_NS_PER_SEC);
	assert_true(kh_slice_eq(kh_buf_slice(&secret), KH_SLICE_LIT("another-secret-of-16")));
	/* Other accounts have none. */
	assert_int_equal(kh_audit_webhook_read(f->a, 2, &w, NULL), KH_ERR_NOT_FOUND);
	assert_int_equal(del(f, 1, &existed), KH_OK);
	assert_true(existed);
	assert_int_equal(kh_audit_webhook_read(f->a, 1, &w, NULL), KH_ERR_NOT_FOUND);
	assert_int_equal(del(f, 1, &existed), KH_OK);
	assert_false(existed);
	kh_buf_cleanup(&secret);
}

static void the_secret_is_sealed_and_bound_to_its_account(void **state)
{
	struct fixture *f = *state;
	struct kh_audit_webhook w;
	struct kh_buf secret;
	kh_buf_init(&secret, 512, KH_BUF_SECURE);
	assert_int_equal(put(f, 1, URL, SECRET), KH_OK);
	assert_int_equal(put(f, 2, URL, "bobs-secret-0123456789"), KH_OK);
	/* Never in clear in the database or its WAL. */
	char wal[320];
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_false(kh_test_file_contains(f->path, KH_SLICE_LIT(SECRET)));
	assert_false(kh_test_file_contains(wal, KH_SLICE_LIT(SECRET)));
	/* Sealed: the URL is readable, the secret is not. */
	assert_int_equal(kh_barrier_seal(f->b), KH_OK);
	assert_int_equal(kh_audit_webhook_read(f->a, 1, &w, NULL), KH_OK);
	assert_int_equal(kh_audit_webhook_read(f->a, 1, &w, &secret), KH_ERR_SEALED);
	assert_int_equal(put(f, 1, URL, SECRET), KH_ERR_SEALED);
	fx_unseal(f);
	/* Account 1's sealed secret copied to account 2's row does not open there. */
	assert_int_equal(fx_exec(f, &q_sealed_swap, NULL, 0), 1);
	assert_int_equal(kh_audit_webhook_read(f->a, 2, &w, &secret), KH_ERR_DECRYPT);
	/* A row whose secret is gone is a damaged store, not a missing webhook. */
	struct kh_store_val scope[] = {KH_SV_TEXT("webhook/2")};
	assert_int_equal(fx_exec(f, &q_sealed_drop, scope, 1), 1);
	assert_int_equal(kh_audit_webhook_read(f->a, 2, &w, &secret), KH_ERR_STORAGE);
	/* Deleting destroys the sealed secret with the row. */
	bool existed = false;
	assert_int_equal(del(f, 1, &existed), KH_OK);
	struct kh_store_val s1[] = {KH_SV_TEXT("webhook/1")};
	assert_int_equal(fx_exec(f, &q_sealed_drop, s1, 1), 0);
	kh_buf_cleanup(&secret);
}

static void bounds_are_checked_both_ways(void **state)
{
	struct fixture *f = *state;
	struct kh_audit_webhook w;
	char url[KH_LIMIT_WEBHOOK_URL_BYTES + 2];
	char secret[KH_LIMIT_WEBHOOK_SECRET_MAX + 2];
	memset(url, 'a', sizeof(url) - 1);
	url[sizeof(url) - 1] = '\0';
	memset(secret, 's', sizeof(secret) - 1);
	secret[sizeof(secret) - 1] = '\0';
	assert_int_equal(put(f, 1, url, SECRET), KH_ERR_TOO_LARGE);
	assert_int_equal(put(f, 1, "", SECRET), KH_ERR_BAD_INPUT);
	assert_int_equal(put(f, 1, "https://a b", SECRET), KH_ERR_BAD_INPUT);
	assert_int_equal(put(f, 1, URL, secret), KH_ERR_TOO_LARGE);
	assert_int_equal(put(f, 1, URL, "short"), KH_ERR_BAD_INPUT);
	assert_int_equal(put(f, 0, URL, SECRET), KH_ERR_BAD_INPUT);
	/* An unknown account: the foreign key refuses it, and no secret is left behind. */
	assert_int_equal(put(f, 42, URL, SECRET), KH_ERR_CONFLICT);
	struct kh_store_val s42[] = {KH_SV_TEXT("webhook/42")};
	assert_int_equal(fx_exec(f, &q_sealed_drop, s42, 1), 0);
	/* Exactly at the limits is fine. */
	url[KH_LIMIT_WEBHOOK_URL_BYTES] = '\0';
	secret[KH_LIMIT_WEBHOOK_SECRET_MAX] = '\0';
	assert_int_equal(put(f, 1, url, secret), KH_OK);
	/* A damaged row reads back as a storage error. */
	struct kh_store_val a1[] = {KH_SV_INT(1)};
	assert_int_equal(fx_exec(f, &q_url_damage, a1, 1), 1);
	assert_int_equal(kh_audit_webhook_read(f->a, 1, &w, NULL), KH_ERR_STORAGE);
}

/* ---- the outbox's end states ---- */

struct notify_op {
	struct kh_audit *a;
	struct kh_audit_notice n;
};

static kh_rc notify_fn(struct kh_store_tx *tx, void *arg)
{
	struct notify_op *op = arg;
	return kh_audit_notify(op->a, tx, &op->n);
}

static kh_rc count_fn(const struct kh_audit_notice_record *r, void *arg)
{
	(void)r;
	(*(unsigned *)arg)++;
	return KH_OK;
}

static unsigned due_count(struct fixture *f)
{
	unsigned n = 0;
	int64_t far = kh_clock_now(&f->clock) + 365 * KH_NS_PER_DAY;
	assert_int_equal(kh_audit_outbox_due(f->a, far, 100, count_fn, &n), KH_OK);
	return n;
}

static uint64_t pending(struct fixture *f)
{
	uint64_t n = 99;
	assert_int_equal(kh_audit_outbox_pending(f->a, &n), KH_OK);
	return n;
}

static void a_dropped_notice_stays_in_the_inbox_and_is_never_due(void **state)
{
	struct fixture *f = *state;
	struct notify_op op = {f->a, {.account_id = 1, .event = "key.disabled", .detail = "{}"}};
	for (int i = 0; i < 3; i++)
		assert_int_equal(kh_store_write(f->store, notify_fn, &op), KH_OK);
	assert_int_equal(pending(f), 3);
	assert_int_equal(due_count(f), 3);
	/* 1: no webhook, nothing attempted; 2: given up after a failed attempt; 3: delivered. */
	assert_int_equal(kh_audit_outbox_drop(f->a, 1, false), KH_OK);
	assert_int_equal(kh_audit_outbox_mark(f->a, 2, false, kh_clock_now(&f->clock) + 1), KH_OK);
	assert_int_equal(kh_audit_outbox_drop(f->a, 2, true), KH_OK);
	assert_int_equal(kh_audit_outbox_mark(f->a, 3, true, 0), KH_OK);
	assert_int_equal(due_count(f), 0);
	assert_int_equal(pending(f), 0);
	struct kh_store_val id1[] = {KH_SV_INT(1)}, id2[] = {KH_SV_INT(2)};
	assert_int_equal(fx_int(f, &q_attempts, id1, 1), 0);
	assert_int_equal(fx_int(f, &q_attempts, id2, 1), 2);
	assert_int_equal(fx_int(f, &q_next_is_null, id2, 1), 1);
	/* Still in the inbox, all three. */
	unsigned inbox = 0;
	assert_int_equal(kh_audit_inbox_list(f->a, 1, 0, 10, count_fn, &inbox), KH_OK);
	assert_int_equal(inbox, 3);
	/* Dropping again, or a delivered or unknown notice, is not found. */
	assert_int_equal(kh_audit_outbox_drop(f->a, 3, false), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_audit_outbox_drop(f->a, 99, true), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_audit_outbox_drop(f->a, 0, true), KH_ERR_BAD_INPUT);
	/* A dropped notice can still be marked delivered (a late success is not lost). */
	assert_int_equal(kh_audit_outbox_mark(f->a, 1, true, 0), KH_OK);
}

static kh_rc pending_once(void *arg)
{
	struct fixture *f = arg;
	uint64_t n = 0;
	return kh_audit_outbox_pending(f->a, &n);
}

static kh_rc read_once(void *arg)
{
	struct fixture *f = arg;
	struct kh_audit_webhook w;
	struct kh_buf secret;
	kh_buf_init(&secret, 512, KH_BUF_SECURE);
	kh_rc rc = kh_audit_webhook_read(f->a, 1, &w, &secret);
	kh_buf_cleanup(&secret);
	return rc;
}

static void allocation_failures_are_reported(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(put(f, 1, URL, SECRET), KH_OK);
	kh_test_alloc_failures(pending_once, f);
	kh_test_alloc_failures(read_once, f);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, fx_teardown)
	const struct CMUnitTest tests[] = {
	    T(a_webhook_is_set_read_replaced_and_deleted),
	    T(the_secret_is_sealed_and_bound_to_its_account),
	    T(bounds_are_checked_both_ways),
	    T(a_dropped_notice_stays_in_the_inbox_and_is_never_due),
	    T(allocation_failures_are_reported),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
