/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Usage history: each key keeps exactly its newest 100 uses, listed newest first with the
 * clock's times; trimming one key never touches another; purge removes a key's history; uses
 * roll back with their write; limits and arguments are checked; allocation failures.
 */
#include "audit_fixture.h"

static const struct kh_store_query q_key = {
    "test.key", "INSERT INTO keys (id, keystore_id, tag, name, type, usage, state,"
                " current_version, convergent, rotation_period_days, description, created_at,"
                " updated_at) VALUES (?, 1, ?, ?, 'aes-256', 'encrypt', 'enabled', 1, 0, 0, '',"
                " 0, 0)"};
static const struct kh_store_query q_count = {
    "test.count", "SELECT COUNT(*) FROM usage_history WHERE key_id = ?"};

static int setup(void **state)
{
	assert_int_equal(fx_setup_keystore(state, false), 0);
	struct fixture *f = *state;
	struct kh_store_val k1[] = {KH_SV_INT(1), KH_SV_TEXT("tag-1"), KH_SV_TEXT("one")};
	struct kh_store_val k2[] = {KH_SV_INT(2), KH_SV_TEXT("tag-2"), KH_SV_TEXT("two")};
	assert_int_equal(fx_exec(f, &q_key, k1, 3), 1);
	assert_int_equal(fx_exec(f, &q_key, k2, 3), 1);
	return 0;
}

static int64_t count(struct fixture *f, int64_t key_id)
{
	struct kh_store_val v[] = {KH_SV_INT(key_id)};
	return fx_int(f, &q_count, v, 1);
}

struct use_op {
	struct kh_audit *a;
	struct kh_audit_usage u;
	kh_rc fail_with;
};

static kh_rc use_fn(struct kh_store_tx *tx, void *arg)
{
	struct use_op *op = arg;
	KH_GUARD(kh_audit_usage_append(op->a, tx, &op->u));
	return op->fail_with;
}

static kh_rc use(struct fixture *f, const struct kh_audit_usage *u)
{
	struct use_op op = {.a = f->a, .u = *u};
	return kh_store_write(f->store, use_fn, &op);
}

static void use_n(struct fixture *f, int64_t key_id, int n)
{
	for (int i = 0; i < n; i++) {
		char op[32];
		snprintf(op, sizeof(op), "use-%d", i);
		struct kh_audit_usage u = {.key_id = key_id,
		                           .operation = op,
		                           .version = (uint32_t)(i % 3 + 1),
		                           .principal = "account:5",
		                           .result = i % 10 == 9 ? "KeyDisabled" : "ok"};
		kh_clock_fake_advance(&f->clock, KH_NS_PER_MS);
		assert_int_equal(use(f, &u), KH_OK);
	}
}

#define SEEN_MAX 100

struct seen {
	size_t count;
	int64_t id[SEEN_MAX];
	int64_t at[SEEN_MAX];
	uint32_t version[SEEN_MAX];
	char op[SEEN_MAX][16];
	char result[SEEN_MAX][16];
	kh_rc fail_with;
};

static kh_rc collect(const struct kh_audit_usage_record *r, void *arg)
{
	struct seen *s = arg;
	assert_true(s->count < SEEN_MAX);
	assert_string_equal(r->u.principal, "account:5");
	s->id[s->count] = r->id;
	s->at[s->count] = r->at;
	s->version[s->count] = r->u.version;
	snprintf(s->op[s->count], sizeof(s->op[0]), "%s", r->u.operation);
	snprintf(s->result[s->count], sizeof(s->result[0]), "%s", r->u.result);
	s->count++;
	return s->fail_with;
}

static kh_rc list(struct fixture *f, int64_t key_id, unsigned limit, struct seen *s)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(f->store, &tx));
	kh_rc rc = kh_audit_usage_list(f->a, tx, key_id, limit, collect, s);
	kh_store_read_end(&tx);
	return rc;
}

static void each_key_keeps_its_newest_100_uses(void **state)
{
	struct fixture *f = *state;
	use_n(f, 2, 5);
	use_n(f, 1, 130);
	assert_int_equal(count(f, 1), KH_AUDIT_USAGE_KEEP);
	assert_int_equal(count(f, 2), 5);
	struct seen *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_int_equal(list(f, 1, 100, s), KH_OK);
	assert_int_equal(s->count, 100);
	/* Newest first: use-129 down to use-30, one millisecond apart. */
	for (size_t i = 0; i < s->count; i++) {
		char want[16];
		int n = 129 - (int)i;
		snprintf(want, sizeof(want), "use-%d", n);
		assert_string_equal(s->op[i], want);
		assert_string_equal(s->result[i], n % 10 == 9 ? "KeyDisabled" : "ok");
		assert_int_equal(s->version[i], (uint32_t)(n % 3 + 1));
		assert_int_equal(s->at[i], FX_START_NS + (5 + n + 1) * KH_NS_PER_MS);
		if (i > 0)
			assert_true(s->id[i] < s->id[i - 1]);
	}
	free(s);
}

static void a_short_list_gives_the_newest(void **state)
{
	struct fixture *f = *state;
	struct seen s = {0};
	use_n(f, 1, 10);
	assert_int_equal(list(f, 1, 3, &s), KH_OK);
	assert_int_equal(s.count, 3);
	assert_string_equal(s.op[0], "use-9");
	assert_string_equal(s.op[2], "use-7");
	/* A key without uses lists nothing. */
	s.count = 0;
	assert_int_equal(list(f, 2, 100, &s), KH_OK);
	assert_int_equal(s.count, 0);
}

struct purge_op {
	struct kh_audit *a;
	int64_t key_id;
};

static kh_rc purge_fn(struct kh_store_tx *tx, void *arg)
{
	struct purge_op *op = arg;
	return kh_audit_usage_purge(op->a, tx, op->key_id);
}

static void purge_removes_one_keys_history(void **state)
{
	struct fixture *f = *state;
	use_n(f, 1, 20);
	use_n(f, 2, 7);
	struct purge_op op = {f->a, 1};
	assert_int_equal(kh_store_write(f->store, purge_fn, &op), KH_OK);
	assert_int_equal(count(f, 1), 0);
	assert_int_equal(count(f, 2), 7);
	op.key_id = 0;
	assert_int_equal(kh_store_write(f->store, purge_fn, &op), KH_ERR_BAD_INPUT);
}

static void a_use_rolls_back_with_its_write(void **state)
{
	struct fixture *f = *state;
	struct use_op op = {.a = f->a,
	                    .u = {.key_id = 1, .operation = "encrypt", .result = "ok"},
	                    .fail_with = KH_ERR_FORBIDDEN};
	assert_int_equal(kh_store_write(f->store, use_fn, &op), KH_ERR_FORBIDDEN);
	assert_int_equal(count(f, 1), 0);
}

static void arguments_are_checked(void **state)
{
	struct fixture *f = *state;
	char big[KH_AUDIT_FIELD_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct kh_audit_usage ok = {.key_id = 1, .operation = "sign", .result = "ok"};
	struct kh_audit_usage u = ok;
	u.key_id = 0;
	assert_int_equal(use(f, &u), KH_ERR_BAD_INPUT);
	u = ok;
	u.operation = "";
	assert_int_equal(use(f, &u), KH_ERR_BAD_INPUT);
	u = ok;
	u.result = NULL;
	assert_int_equal(use(f, &u), KH_ERR_BAD_INPUT);
	u = ok;
	u.principal = big;
	assert_int_equal(use(f, &u), KH_ERR_TOO_LARGE);
	u = ok;
	u.operation = big;
	assert_int_equal(use(f, &u), KH_ERR_TOO_LARGE);
	/* A key that does not exist: the foreign key refuses it. */
	u = ok;
	u.key_id = 99;
	assert_int_equal(use(f, &u), KH_ERR_CONFLICT);
	assert_int_equal(count(f, 1), 0);
	/* A missing principal is stored as empty. */
	assert_int_equal(use(f, &ok), KH_OK);
	struct seen s = {0};
	assert_int_equal(list(f, 1, 0, &s), KH_ERR_BAD_INPUT);
	assert_int_equal(list(f, 1, KH_AUDIT_USAGE_KEEP + 1, &s), KH_ERR_BAD_INPUT);
	assert_int_equal(list(f, 0, 10, &s), KH_ERR_BAD_INPUT);
	assert_int_equal(s.count, 0);
}

static kh_rc empty_principal(const struct kh_audit_usage_record *r, void *arg)
{
	(void)arg;
	assert_string_equal(r->u.principal, "");
	assert_int_equal(r->u.key_id, 1);
	return KH_OK;
}

static void an_absent_principal_lists_as_empty(void **state)
{
	struct fixture *f = *state;
	struct kh_audit_usage u = {.key_id = 1, .operation = "sign", .result = "ok"};
	assert_int_equal(use(f, &u), KH_OK);
	struct kh_store_tx *tx = NULL;
	assert_int_equal(kh_store_read_begin(f->store, &tx), KH_OK);
	assert_int_equal(kh_audit_usage_list(f->a, tx, 1, 10, empty_principal, NULL), KH_OK);
	kh_store_read_end(&tx);
}

static kh_rc use_once(void *arg)
{
	struct fixture *f = arg;
	struct kh_audit_usage u = {
	    .key_id = 1, .operation = "decrypt", .principal = "account:5", .result = "ok"};
	return use(f, &u);
}

static kh_rc list_once(void *arg)
{
	struct fixture *f = arg;
	struct seen s = {0};
	return list(f, 1, 10, &s);
}

static void allocation_failures_are_reported(void **state)
{
	struct fixture *f = *state;
	kh_test_alloc_failures(use_once, f);
	kh_test_alloc_failures(list_once, f);
	assert_int_equal(count(f, 1), 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, fx_teardown)
	const struct CMUnitTest tests[] = {
	    T(each_key_keeps_its_newest_100_uses),
	    T(a_short_list_gives_the_newest),
	    T(purge_removes_one_keys_history),
	    T(a_use_rolls_back_with_its_write),
	    T(arguments_are_checked),
	    T(an_absent_principal_lists_as_empty),
	    T(allocation_failures_are_reported),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
