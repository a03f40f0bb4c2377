/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only statements against a real store: tests play the attacker with write access to the
 * database file (editing, deleting, swapping rows) and read back what was stored.
 */
#ifndef KH_TEST_STORE_H
#define KH_TEST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/kh_store.h"

/* Runs q in a write transaction (test failure on error); returns the rows it changed. */
uint64_t kh_test_sql_exec(struct kh_store *s, const struct kh_store_query *q,
                          const struct kh_store_val *v, size_t n);
/* Runs q, which must return one row with an integer first column, and returns it. */
int64_t kh_test_sql_int(struct kh_store *s, const struct kh_store_query *q,
                        const struct kh_store_val *v, size_t n);

#endif
