/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The set-up the audit tests share: a fresh store in a temporary directory, a barrier
 * initialised with one share and unsealed, a fake clock, and an audit object; plus raw-SQL
 * helpers with which the tests play an attacker who can write the database file.
 */
#ifndef AUDIT_FIXTURE_H
#define AUDIT_FIXTURE_H

#include "kh_test.h"
#include "kh_test_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/kh_audit.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

#define FX_START_NS (INT64_C(1800000000) * KH_NS_PER_SEC)

struct fixture {
	char dir[256];
	char path[300];
	struct kh_clock clock;
	struct kh_store *store;
	struct kh_barrier *b;
	struct kh_barrier_shares *shares;
	struct kh_audit *a;
};

static inline void fx_unseal(struct fixture *f)
{
	struct kh_barrier_progress p;
	assert_int_equal(kh_barrier_unseal(f->b, kh_buf_slice(&f->shares->share[0]), &p), KH_OK);
	assert_false(p.sealed);
}

/* Opens store, barrier (initialising it the first time) and audit, and unseals. */
static inline void fx_open(struct fixture *f)
{
	struct kh_store_options so = {.path = f->path};
	assert_int_equal(kh_store_open(&so, &f->store), KH_OK);
	struct kh_barrier_options bo = {.store = f->store, .clock = &f->clock};
	assert_int_equal(kh_barrier_new(&bo, &f->b), KH_OK);
	if (f->shares == NULL)
		assert_int_equal(kh_barrier_init(f->b, 1, 1, &f->shares), KH_OK);
	fx_unseal(f);
	struct kh_audit_options ao = {.store = f->store, .barrier = f->b, .clock = &f->clock};
	assert_int_equal(kh_audit_new(&ao, &f->a), KH_OK);
}

/* The audit goes first: it removes its seal listener from the barrier. */
static inline void fx_close(struct fixture *f)
{
	kh_audit_free(&f->a);
	assert_null(f->a);
	kh_barrier_free(&f->b);
	kh_store_close(&f->store);
}

static inline int fx_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(kh_crypto_init(), KH_OK);
	kh_test_tmpdir(f->dir, sizeof(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/keyhold.db", f->dir);
	kh_clock_fake_init(&f->clock, FX_START_NS);
	fx_open(f);
	*state = f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fixture *f = *state;
	fx_close(f);
	kh_barrier_shares_free(&f->shares);
	kh_test_rmtree(f->dir);
	free(f);
	return 0;
}

/* Runs a test-only statement in a write transaction; returns the rows it changed. */
static inline uint64_t fx_exec(struct fixture *f, const struct kh_store_query *q,
                               const struct kh_store_val *v, size_t n)
{
	return kh_test_sql_exec(f->store, q, v, n);
}

/* Runs a test-only statement that returns one integer. */
static inline int64_t fx_int(struct fixture *f, const struct kh_store_query *q,
                             const struct kh_store_val *v, size_t n)
{
	return kh_test_sql_int(f->store, q, v, n);
}

/* Key store 1, the parent rows that usage history and notices point to. */
static const struct kh_store_query fx_q_keystore = {
    "test.keystore", "INSERT INTO keystores (id, name, created_at) VALUES (1, 'ks', 0)"};
static const struct kh_store_query fx_q_account = {
    "test.account", "INSERT INTO accounts (id, keystore_id, name, policies, created_at)"
                    " VALUES (?, 1, ?, 0, 0)"};

/* fx_setup plus key store 1 (and, with accounts, accounts 1 "alice" and 2 "bob" in it). */
static inline int fx_setup_keystore(void **state, bool accounts)
{
	assert_int_equal(fx_setup(state), 0);
	struct fixture *f = *state;
	(void)fx_exec(f, &fx_q_keystore, NULL, 0);
	if (accounts) {
		struct kh_store_val a1[] = {KH_SV_INT(1), KH_SV_TEXT("alice")};
		struct kh_store_val a2[] = {KH_SV_INT(2), KH_SV_TEXT("bob")};
		assert_int_equal(fx_exec(f, &fx_q_account, a1, 2), 1);
		assert_int_equal(fx_exec(f, &fx_q_account, a2, 2), 1);
	}
	return 0;
}

#endif
