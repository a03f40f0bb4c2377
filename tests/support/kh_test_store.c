/* SPDX-License-Identifier: Apache-2.0 */
/* Test-only statements against a real store (see kh_test_store.h). */
#include "kh_test_store.h"

#include "kh_test.h"

struct sql {
	const struct kh_store_query *q;
	const struct kh_store_val *v;
	size_t n;
	uint64_t changes;
};

static kh_rc sql_fn(struct kh_store_tx *tx, void *arg)
{
	struct sql *s = arg;
	return kh_store_exec(tx, s->q, s->v, s->n, &s->changes);
}

uint64_t kh_test_sql_exec(struct kh_store *s, const struct kh_store_query *q,
                          const struct kh_store_val *v, size_t n)
{
	struct sql a = {q, v, n, 0};
	assert_int_equal(kh_store_write(s, sql_fn, &a), KH_OK);
	return a.changes;
}

int64_t kh_test_sql_int(struct kh_store *s, const struct kh_store_query *q,
                        const struct kh_store_val *v, size_t n)
{
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	int64_t out = -1;
	assert_int_equal(kh_store_read_begin(s, &tx), KH_OK);
	assert_int_equal(kh_store_query_one(tx, q, v, n, &rows, &found), KH_OK);
	assert_true(found);
	assert_int_equal(kh_store_rows_int(rows, 0, &out), KH_OK);
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return out;
}
