/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Notifications: queued inside their write (and rolled back with it), listed per account
 * newest first with a cursor, acknowledged per account up to an id, and delivered from the
 * outbox oldest first when due, with attempts counted and the next attempt time kept; limits
 * and arguments are checked; allocation failures.
 */
#include "audit_fixture.h"

#include "base/kh_limits.h"

static const struct kh_store_query q_count = {"test.count", "SELECT COUNT(*) FROM notifications"};
static const struct kh_store_query q_next = {
    "test.next", "SELECT next_attempt_at FROM notifications WHERE id = ?"};

static int setup(void **state)
{
	return fx_setup_keystore(state, true);
}

struct notify_op {
	struct kh_audit *a;
	struct kh_audit_notice n;
	kh_rc fail_with;
};

static kh_rc notify_fn(struct kh_store_tx *tx, void *arg)
{
	struct notify_op *op = arg;
	KH_GUARD(kh_audit_notify(op->a, tx, &op->n));
	return op->fail_with;
}

static kh_rc notify(struct fixture *f, int64_t account, const char *event, const char *tag)
{
	struct notify_op op = {
	    .a = f->a,
	    .n = {.account_id = account, .event = event, .key_tag = tag, .detail = "{}"}};
	return kh_store_write(f->store, notify_fn, &op);
}

#define SEEN_MAX 16

struct seen {
	size_t count;
	struct {
		int64_t id;
		int64_t at;
		int64_t account_id;
		bool acked;
		bool delivered;
		unsigned attempts;
		char event[32];
		char key_tag[32];
	} r[SEEN_MAX];
};

static kh_rc collect(const struct kh_audit_notice_record *r, void *arg)
{
	struct seen *s = arg;
	assert_true(s->count < SEEN_MAX);
	s->r[s->count].id = r->id;
	s->r[s->count].at = r->at;
	s->r[s->count].account_id = r->n.account_id;
	s->r[s->count].acked = r->acked;
	s->r[s->count].delivered = r->delivered;
	s->r[s->count].attempts = r->attempts;
	assert_string_equal(r->n.detail, "{}");
	snprintf(s->r[s->count].event, sizeof(s->r[0].event), "%s", r->n.event);
	snprintf(s->r[s->count].key_tag, sizeof(s->r[0].key_tag), "%s", r->n.key_tag);
	s->count++;
	return KH_OK;
}

static void expect_ids(const struct seen *s, const int64_t *ids, size_t n)
{
	assert_int_equal(s->count, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(s->r[i].id, ids[i]);
}

static void inbox(struct fixture *f, int64_t account, int64_t before, unsigned limit,
                  struct seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(kh_audit_inbox_list(f->a, account, before, limit, collect, s), KH_OK);
}

static void due(struct fixture *f, int64_t now, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(kh_audit_outbox_due(f->a, now, 10, collect, s), KH_OK);
}

/* Four notices one second apart: ids 1, 2, 4 for account 1, id 3 for account 2. */
static void queue_four(struct fixture *f)
{
	kh_clock_fake_advance(&f->clock, KH_NS_PER_SEC);
	assert_int_equal(notify(f, 1, "key.disabled", "k1"), KH_OK);
	kh_clock_fake_advance(&f->clock, KH_NS_PER_SEC);
	assert_int_equal(notify(f, 1, "key.rotated", NULL), KH_OK);
	kh_clock_fake_advance(&f->clock, KH_NS_PER_SEC);
	assert_int_equal(notify(f, 2, "key.deleted", "k2"), KH_OK);
	kh_clock_fake_advance(&f->clock, KH_NS_PER_SEC);
	assert_int_equal(notify(f, 1, "key.enabled", "k1"), KH_OK);
}

static int64_t t(int seconds)
{
	return FX_START_NS + seconds * KH_NS_PER_SEC;
}

static void the_inbox_lists_newest_first(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	queue_four(f);
	inbox(f, 1, 0, 10, &s);
	expect_ids(&s, (const int64_t[]){4, 2, 1}, 3);
	assert_string_equal(s.r[0].event, "key.enabled");
	assert_string_equal(s.r[0].key_tag, "k1");
	assert_int_equal(s.r[0].at, t(4));
	assert_int_equal(s.r[0].account_id, 1);
	assert_string_equal(s.r[1].key_tag, ""); /* none given */
	assert_false(s.r[2].acked || s.r[2].delivered);
	assert_int_equal(s.r[2].attempts, 0);
	/* Pages with the cursor. */
	inbox(f, 1, 0, 2, &s);
	expect_ids(&s, (const int64_t[]){4, 2}, 2);
	inbox(f, 1, 2, 2, &s);
	expect_ids(&s, (const int64_t[]){1}, 1);
	inbox(f, 2, 0, 10, &s);
	expect_ids(&s, (const int64_t[]){3}, 1);
}

static void ack_marks_one_accounts_notices_up_to_an_id(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	uint64_t n = 99;
	queue_four(f);
	assert_int_equal(kh_audit_inbox_ack(f->a, 1, 2, &n), KH_OK);
	assert_int_equal(n, 2);
	inbox(f, 1, 0, 10, &s);
	assert_false(s.r[0].acked); /* id 4 */
	assert_true(s.r[1].acked && s.r[2].acked);
	inbox(f, 2, 0, 10, &s);
	assert_false(s.r[0].acked); /* another account's id 3 is untouched */
	assert_int_equal(kh_audit_inbox_ack(f->a, 1, 2, &n), KH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(kh_audit_inbox_ack(f->a, 2, 100, &n), KH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(kh_audit_inbox_ack(f->a, 1, 100, NULL), KH_OK);
	inbox(f, 1, 0, 10, &s);
	assert_true(s.r[0].acked);
}

static void the_outbox_delivers_oldest_first_when_due(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	queue_four(f);
	due(f, t(4), &s);
	expect_ids(&s, (const int64_t[]){1, 2, 3, 4}, 4);
	/* Each is due from the moment it was queued. */
	due(f, t(2), &s);
	expect_ids(&s, (const int64_t[]){1, 2}, 2);
	due(f, t(0), &s);
	expect_ids(&s, NULL, 0);
	/* A failed attempt: counted, and not due again before its next time. */
	assert_int_equal(kh_audit_outbox_mark(f->a, 1, false, t(60)), KH_OK);
	due(f, t(4), &s);
	expect_ids(&s, (const int64_t[]){2, 3, 4}, 3);
	due(f, t(60), &s);
	expect_ids(&s, (const int64_t[]){1, 2, 3, 4}, 4);
	assert_int_equal(s.r[0].attempts, 1);
	assert_false(s.r[0].delivered);
	struct kh_store_val v[] = {KH_SV_INT(1)};
	assert_int_equal(fx_int(f, &q_next, v, 1), t(60));
	/* Delivered: never due again; a second mark finds nothing to mark. */
	assert_int_equal(kh_audit_outbox_mark(f->a, 1, true, 0), KH_OK);
	due(f, t(1000), &s);
	expect_ids(&s, (const int64_t[]){2, 3, 4}, 3);
	inbox(f, 1, 0, 10, &s);
	assert_int_equal(s.r[2].id, 1);
	assert_true(s.r[2].delivered);
	assert_int_equal(s.r[2].attempts, 2);
	assert_int_equal(kh_audit_outbox_mark(f->a, 1, true, 0), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_audit_outbox_mark(f->a, 99, false, t(5)), KH_ERR_NOT_FOUND);
}

static void a_notice_rolls_back_with_its_write(void **state)
{
	struct fixture *f = *state;
	struct notify_op op = {.a = f->a,
	                       .n = {.account_id = 1, .event = "key.disabled"},
	                       .fail_with = KH_ERR_CONFLICT};
	assert_int_equal(kh_store_write(f->store, notify_fn, &op), KH_ERR_CONFLICT);
	assert_int_equal(fx_int(f, &q_count, NULL, 0), 0);
}

static kh_rc empty_detail(const struct kh_audit_notice_record *r, void *arg)
{
	(void)arg;
	assert_string_equal(r->n.detail, "");
	return KH_OK;
}

static void arguments_are_checked(void **state)
{
	struct fixture *f = *state;
	struct seen s = {0};
	char big[KH_AUDIT_FIELD_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(notify(f, 0, "key.disabled", NULL), KH_ERR_BAD_INPUT);
	assert_int_equal(notify(f, 1, "", NULL), KH_ERR_BAD_INPUT);
	assert_int_equal(notify(f, 1, NULL, NULL), KH_ERR_BAD_INPUT);
	assert_int_equal(notify(f, 1, big, NULL), KH_ERR_TOO_LARGE);
	assert_int_equal(notify(f, 1, "key.disabled", big), KH_ERR_TOO_LARGE);
	struct notify_op op = {.a = f->a, .n = {.account_id = 1, .event = "e", .detail = big}};
	assert_int_equal(kh_store_write(f->store, notify_fn, &op), KH_ERR_TOO_LARGE);
	/* An account that does not exist: the foreign key refuses it. */
	assert_int_equal(notify(f, 42, "key.disabled", NULL), KH_ERR_CONFLICT);
	assert_int_equal(fx_int(f, &q_count, NULL, 0), 0);
	assert_int_equal(kh_audit_inbox_list(f->a, 1, 0, 0, collect, &s), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_audit_inbox_list(f->a, 1, 0, KH_LIMIT_PAGE_MAX + 1, collect, &s),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_audit_inbox_list(f->a, 0, 0, 10, collect, &s), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_audit_inbox_list(f->a, 1, -1, 10, collect, &s), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_audit_outbox_due(f->a, t(0), 0, collect, &s), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_audit_inbox_ack(f->a, 0, 1, NULL), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_audit_outbox_mark(f->a, 0, true, 0), KH_ERR_BAD_INPUT);
	/* Without detail the notice carries an empty one. */
	struct notify_op bare = {.a = f->a, .n = {.account_id = 1, .event = "e"}};
	assert_int_equal(kh_store_write(f->store, notify_fn, &bare), KH_OK);
	assert_int_equal(kh_audit_inbox_list(f->a, 1, 0, 10, empty_detail, NULL), KH_OK);
}

static kh_rc inbox_once(void *arg)
{
	struct fixture *f = arg;
	struct seen s = {0};
	return kh_audit_inbox_list(f->a, 1, 0, 10, collect, &s);
}

static kh_rc due_once(void *arg)
{
	struct fixture *f = arg;
	struct seen s = {0};
	return kh_audit_outbox_due(f->a, t(100), 10, collect, &s);
}

static kh_rc ack_once(void *arg)
{
	struct fixture *f = arg;
	return kh_audit_inbox_ack(f->a, 1, 1, NULL);
}

static void allocation_failures_are_reported(void **state)
{
	struct fixture *f = *state;
	queue_four(f);
	kh_test_alloc_failures(inbox_once, f);
	kh_test_alloc_failures(due_once, f);
	kh_test_alloc_failures(ack_once, f);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, fx_teardown)
	const struct CMUnitTest tests[] = {
	    T(the_inbox_lists_newest_first),
	    T(ack_marks_one_accounts_notices_up_to_an_id),
	    T(the_outbox_delivers_oldest_first_when_due),
	    T(a_notice_rolls_back_with_its_write),
	    T(arguments_are_checked),
	    T(allocation_failures_are_reported),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
