/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The barrier with Shamir shares: init once; unseal with progress, duplicate, foreign, forged
 * and malformed shares and reset; seal drops everything; secrets bound to their row; rekey
 * replaces the shares and leaves data alone; root rotation with rewrap and retirement of old
 * terms; state across restart; nothing secret in clear in the database file or its WAL.
 */
#include "kh_test.h"
#include "kh_test_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "barrier/kh_barrier.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

/* Test-only statements that play the attacker with write access to the file. */
static const struct kh_store_query q_swap = {
    "test.swap", "UPDATE sealed SET blob = (SELECT blob FROM sealed WHERE scope = ?2)"
                 " WHERE scope = ?1"};
static const struct kh_store_query q_flip = {
    "test.flip", "UPDATE sealed SET blob = CAST(substr(blob, 1, length(blob) - 1) ||"
                 " x'00' AS BLOB) WHERE scope = ?"};
static const struct kh_store_query q_term = {"test.term",
                                             "SELECT term FROM sealed WHERE scope = ?"};

struct fixture {
	char dir[256];
	char path[300];
	struct kh_clock clock;
	struct kh_store *store;
	struct kh_barrier *b;
	struct kh_barrier_shares *shares;
};

static void open_all(struct fixture *f)
{
	struct kh_store_options so = {.path = f->path};
	assert_int_equal(kh_store_open(&so, &f->store), KH_OK);
	struct kh_barrier_options bo = {.store = f->store, .clock = &f->clock};
	assert_int_equal(kh_barrier_new(&bo, &f->b), KH_OK);
}

static void close_all(struct fixture *f)
{
	kh_barrier_free(&f->b);
	assert_null(f->b);
	kh_store_close(&f->store);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(kh_crypto_init(), KH_OK);
	kh_test_tmpdir(f->dir, sizeof(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/keyhold.db", f->dir);
	kh_clock_fake_init(&f->clock, INT64_C(1800000000) * KH_NS_PER_SEC);
	open_all(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	kh_barrier_shares_free(&f->shares);
	close_all(f);
	kh_test_rmtree(f->dir);
	free(f);
	return 0;
}

static struct kh_slice share(struct fixture *f, unsigned i)
{
	return kh_buf_slice(&f->shares->share[i]);
}

static void init_5_3(struct fixture *f)
{
	assert_int_equal(kh_barrier_init(f->b, 5, 3, &f->shares), KH_OK);
	assert_int_equal(f->shares->count, 5);
}

static void unseal_with(struct fixture *f, unsigned a, unsigned b, unsigned c)
{
	struct kh_barrier_progress p;
	assert_int_equal(kh_barrier_unseal(f->b, share(f, a), &p), KH_OK);
	assert_true(p.sealed);
	assert_int_equal(p.progress, 1);
	assert_int_equal(p.threshold, 3);
	assert_int_equal(kh_barrier_unseal(f->b, share(f, b), &p), KH_OK);
	assert_int_equal(p.progress, 2);
	assert_int_equal(kh_barrier_unseal(f->b, share(f, c), &p), KH_OK);
	assert_false(p.sealed);
}

struct secret_op {
	struct kh_barrier *b;
	const char *scope;
	struct kh_slice value;
};

static kh_rc put_fn(struct kh_store_tx *tx, void *arg)
{
	struct secret_op *o = arg;
	return kh_barrier_put(o->b, tx, o->scope, o->value);
}

static kh_rc delete_prefix_fn(struct kh_store_tx *tx, void *arg)
{
	struct secret_op *o = arg;
	return kh_barrier_delete_prefix(o->b, tx, o->scope);
}

static kh_rc delete_fn(struct kh_store_tx *tx, void *arg)
{
	struct secret_op *o = arg;
	return kh_barrier_delete(o->b, tx, o->scope);
}

static kh_rc put(struct fixture *f, const char *scope, const char *value)
{
	struct secret_op o = {f->b, scope, kh_slice_from_cstr(value)};
	return kh_store_write(f->store, put_fn, &o);
}

/* Reads the secret at scope; returns the rc, and on success checks it equals want. */
static kh_rc get(struct fixture *f, const char *scope, const char *want)
{
	struct kh_store_tx *tx = NULL;
	struct kh_buf out;
	kh_buf_init(&out, 1024, KH_BUF_SECURE);
	assert_int_equal(kh_store_read_begin(f->store, &tx), KH_OK);
	kh_rc rc = kh_barrier_get(f->b, tx, scope, &out);
	kh_store_read_end(&tx);
	if (rc == KH_OK) {
		assert_non_null(want);
		assert_true(kh_slice_eq(kh_buf_slice(&out), kh_slice_from_cstr(want)));
		assert_true(kh_secure_owns(out.ptr));
	}
	kh_buf_cleanup(&out);
	return rc;
}

static void init_happens_once(void **state)
{
	struct fixture *f = *state;
	struct kh_barrier_status st;
	struct kh_barrier_shares *again = NULL;
	assert_int_equal(kh_barrier_status(f->b, &st), KH_OK);
	assert_false(st.initialized);
	assert_true(st.sealed);
	init_5_3(f);
	assert_int_equal(kh_barrier_status(f->b, &st), KH_OK);
	assert_true(st.initialized);
	assert_true(st.sealed); /* init does not unseal */
	assert_false(st.hsm);
	assert_int_equal(st.shares, 5);
	assert_int_equal(st.threshold, 3);
	assert_int_equal(kh_barrier_init(f->b, 5, 3, &again), KH_ERR_CONFLICT);
	assert_null(again);
	for (unsigned i = 0; i < 5; i++)
		assert_true(kh_secure_owns(f->shares->share[i].ptr));
}

static void init_refuses_bad_counts(void **state)
{
	struct fixture *f = *state;
	struct kh_barrier_shares *s = NULL;
	assert_int_equal(kh_barrier_init(f->b, 0, 0, &s), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_barrier_init(f->b, 3, 4, &s), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_barrier_init(f->b, 3, 1, &s), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_barrier_init(f->b, 256, 3, &s), KH_ERR_BAD_INPUT);
	assert_null(s);
	struct kh_barrier_status st;
	assert_int_equal(kh_barrier_status(f->b, &st), KH_OK);
	assert_false(st.initialized);
	/* 1-of-1 (dev mode) is allowed. */
	assert_int_equal(kh_barrier_init(f->b, 1, 1, &f->shares), KH_OK);
	struct kh_barrier_progress p;
	assert_int_equal(kh_barrier_unseal(f->b, share(f, 0), &p), KH_OK);
	assert_false(p.sealed);
}

static void any_threshold_of_shares_unseals(void **state)
{
	struct fixture *f = *state;
	init_5_3(f);
	unseal_with(f, 4, 0, 2);
	struct kh_barrier_status st;
	assert_int_equal(kh_barrier_status(f->b, &st), KH_OK);
	assert_false(st.sealed);
	assert_int_equal(st.term, 1);
	/* Unsealing an unsealed barrier is harmless. */
	struct kh_barrier_progress p;
	assert_int_equal(kh_barrier_unseal(f->b, share(f, 1), &p), KH_OK);
	assert_false(p.sealed);
	assert_int_equal(kh_barrier_seal(f->b), KH_OK);
	unseal_with(f, 1, 3, 2);
}

static void unseal_before_init_is_a_conflict(void **state)
{
	struct fixture *f = *state;
	struct kh_barrier_progress p;
	uint8_t junk[47] = {1};
	assert_int_equal(kh_barrier_unseal(f->b, KH_SLICE(junk, sizeof(junk)), &p),
	                 KH_ERR_CONFLICT);
}

static void a_duplicate_share_keeps_progress(void **state)
{
	struct fixture *f = *state;
	struct kh_barrier_progress p;
	init_5_3(f);
	assert_int_equal(kh_barrier_unseal(f->b, share(f, 0), &p), KH_OK);
	assert_int_equal(kh_barrier_unseal(f->b, share(f, 0), &p), KH_ERR_CONFLICT);
	assert_int_equal(kh_barrier_unseal(f->b, share(f, 1), &p), KH_OK);
	assert_int_equal(p.progress, 2);
	assert_int_equal(kh_barrier_unseal(f->b, share(f, 2), &p), KH_OK);
	assert_false(p.sealed);
}

static void malformed_and_foreign_shares_are_refused(void **state)
{
	struct fixture *f = *state;
	struct kh_barrier_progress p;
	struct kh_barrier_status st;
	init_5_3(f);
	/* A share of another store's split (another set id). */
	char dir2[256], path2[300];
	kh_test_tmpdir(dir2, sizeof(dir2));
	snprintf(path2, sizeof(path2), "%s/other.db", dir2);
	struct kh_store *s2 = NULL;
	struct kh_barrier *b2 = NULL;
	struct kh_barrier_shares *foreign = NULL;
	struct kh_store_options so = {.path = path2};
	assert_int_equal(kh_store_open(&so, &s2), KH_OK);
	struct kh_barrier_options bo = {.store = s2, .clock = &f->clock};
	assert_int_equal(kh_barrier_new(&bo, &b2), KH_OK);
	assert_int_equal(kh_barrier_init(b2, 5, 3, &foreign), KH_OK);
	assert_int_equal(kh_barrier_unseal(f->b, share(f, 0), &p), KH_OK);
	assert_int_equal(kh_barrier_unseal(f->b, kh_buf_slice(&foreign->share[1]), &p),
	                 KH_ERR_BAD_SHARE);
	/* Mistyped: one byte changed (the checksum catches it). */
	struct kh_buf typo;
	kh_buf_init(&typo, 256, KH_BUF_SECURE);
	assert_int_equal(kh_buf_append(&typo, share(f, 1)), KH_OK);
	typo.ptr[20] ^= 1;
	assert_int_equal(kh_barrier_unseal(f->b, kh_buf_slice(&typo), &p), KH_ERR_BAD_SHARE);
	assert_int_equal(kh_barrier_unseal(f->b, KH_SLICE_EMPTY, &p), KH_ERR_BAD_SHARE);
	assert_int_equal(kh_barrier_unseal(f->b, KH_SLICE(typo.ptr, 10), &p), KH_ERR_BAD_SHARE);
	/* None of that counted. */
	assert_int_equal(kh_barrier_status(f->b, &st), KH_OK);
	assert_int_equal(st.progress, 1);
	kh_barrier_unseal_reset(f->b);
	assert_int_equal(kh_barrier_status(f->b, &st), KH_OK);
	assert_int_equal(st.progress, 0);
	unseal_with(f, 2, 3, 4);
	kh_buf_cleanup(&typo);
	kh_barrier_shares_free(&foreign);
	kh_barrier_free(&b2);
	kh_store_close(&s2);
	kh_test_rmtree(dir2);
}

/* A share with the right form and checksum but wrong values: only the keyring can tell. */
static void forged_shares_fail_at_the_threshold_and_reset_progress(void **state)
{
	struct fixture *f = *state;
	struct kh_barrier_progress p;
	struct kh_barrier_status st;
	struct kh_buf forged;
	uint8_t sum[32];
	init_5_3(f);
	kh_buf_init(&forged, 256, KH_BUF_SECURE);
	assert_int_equal(kh_buf_append(&forged, share(f, 2)), KH_OK);
	forged.ptr[11] ^= 0x5a; /* first y byte */
	size_t body = forged.len - 4;
	assert_int_equal(kh_hash(KH_HASH_SHA256, KH_SLICE(forged.ptr, body), sum, 32), KH_OK);
	memcpy(forged.ptr + body, sum, 4);
	assert_int_equal(kh_barrier_unseal(f->b, share(f, 0), &p), KH_OK);
	assert_int_equal(kh_barrier_unseal(f->b, share(f, 1), &p), KH_OK);
	assert_int_equal(kh_barrier_unseal(f->b, kh_buf_slice(&forged), &p), KH_ERR_BAD_SHARE);
	assert_int_equal(kh_barrier_status(f->b, &st), KH_OK);
	assert_true(st.sealed);
	assert_int_equal(st.progress, 0);
	unseal_with(f, 0, 1, 2);
	kh_buf_cleanup(&forged);
}

static void secrets_need_the_barrier_unsealed(void **state)
{
	struct fixture *f = *state;
	init_5_3(f);
	assert_int_equal(put(f, "key/1/1/1", "material"), KH_ERR_SEALED);
	unseal_with(f, 0, 1, 2);
	assert_int_equal(put(f, "key/1/1/1", "material"), KH_OK);
	assert_int_equal(get(f, "key/1/1/1", "material"), KH_OK);
	assert_int_equal(get(f, "key/1/1/2", NULL), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_barrier_seal(f->b), KH_OK);
	assert_int_equal(get(f, "key/1/1/1", NULL), KH_ERR_SEALED);
	unseal_with(f, 2, 3, 4);
	assert_int_equal(get(f, "key/1/1/1", "material"), KH_OK);
}

struct raw_op {
	const struct kh_store_query *q;
	struct kh_store_val v[2];
	size_t n;
};

static kh_rc raw_fn(struct kh_store_tx *tx, void *arg)
{
	struct raw_op *r = arg;
	return kh_store_exec(tx, r->q, r->v, r->n, NULL);
}

static void raw(struct fixture *f, const struct kh_store_query *q, const char *a, const char *b)
{
	struct raw_op r = {q, {KH_SV_TEXT(a), KH_SV_TEXT(b != NULL ? b : "")}, b != NULL ? 2 : 1};
	assert_int_equal(kh_store_write(f->store, raw_fn, &r), KH_OK);
}

static void secrets_are_bound_to_their_row(void **state)
{
	struct fixture *f = *state;
	init_5_3(f);
	unseal_with(f, 0, 1, 2);
	assert_int_equal(put(f, "key/1/7/1", "first"), KH_OK);
	assert_int_equal(put(f, "key/1/7/2", "second"), KH_OK);
	assert_int_equal(put(f, "key/1/8/1", "third"), KH_OK);
	/* Copying a blob onto another row: it no longer decrypts there. */
	raw(f, &q_swap, "key/1/7/2", "key/1/7/1");
	assert_int_equal(get(f, "key/1/7/2", NULL), KH_ERR_DECRYPT);
	assert_int_equal(get(f, "key/1/7/1", "first"), KH_OK);
	/* A changed byte: refused. */
	raw(f, &q_flip, "key/1/8/1", NULL);
	assert_int_equal(get(f, "key/1/8/1", NULL), KH_ERR_DECRYPT);
	/* Replacing and deleting. */
	assert_int_equal(put(f, "key/1/7/1", "replaced"), KH_OK);
	assert_int_equal(get(f, "key/1/7/1", "replaced"), KH_OK);
	struct secret_op o = {f->b, "key/1/7/", KH_SLICE_EMPTY};
	assert_int_equal(kh_store_write(f->store, delete_prefix_fn, &o), KH_OK);
	assert_int_equal(get(f, "key/1/7/1", NULL), KH_ERR_NOT_FOUND);
	assert_int_equal(get(f, "key/1/7/2", NULL), KH_ERR_NOT_FOUND);
	assert_int_equal(get(f, "key/1/8/1", NULL), KH_ERR_DECRYPT); /* still there */
	o.scope = "key/1/8/1";
	assert_int_equal(kh_store_write(f->store, delete_fn, &o), KH_OK);
	assert_int_equal(get(f, "key/1/8/1", NULL), KH_ERR_NOT_FOUND);
}

static void rekey_replaces_the_shares_and_leaves_data_alone(void **state)
{
	struct fixture *f = *state;
	struct kh_barrier_shares *fresh = NULL;
	struct kh_slice old[3];
	init_5_3(f);
	unseal_with(f, 0, 1, 2);
	assert_int_equal(put(f, "key/1/1/1", "kept"), KH_OK);
	/* Too few, foreign-looking or duplicated old shares: refused, nothing changes. */
	old[0] = share(f, 0);
	old[1] = share(f, 1);
	old[2] = share(f, 1);
	assert_int_equal(kh_barrier_rekey(f->b, old, 2, 3, 2, &fresh), KH_ERR_BAD_SHARE);
	assert_int_equal(kh_barrier_rekey(f->b, old, 3, 3, 2, &fresh), KH_ERR_BAD_SHARE);
	assert_null(fresh);
	old[2] = share(f, 4);
	assert_int_equal(kh_barrier_rekey(f->b, old, 3, 4, 1, &fresh), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_barrier_rekey(f->b, old, 3, 3, 2, &fresh), KH_OK);
	assert_int_equal(fresh->count, 3);
	/* Still unsealed, data readable. */
	assert_int_equal(get(f, "key/1/1/1", "kept"), KH_OK);
	assert_int_equal(kh_barrier_seal(f->b), KH_OK);
	/* The old shares are now foreign. */
	struct kh_barrier_progress p;
	assert_int_equal(kh_barrier_unseal(f->b, share(f, 0), &p), KH_ERR_BAD_SHARE);
	assert_int_equal(kh_barrier_unseal(f->b, kh_buf_slice(&fresh->share[2]), &p), KH_OK);
	assert_int_equal(p.threshold, 2);
	assert_int_equal(kh_barrier_unseal(f->b, kh_buf_slice(&fresh->share[0]), &p), KH_OK);
	assert_false(p.sealed);
	assert_int_equal(get(f, "key/1/1/1", "kept"), KH_OK);
	/* Rekey also works sealed. */
	assert_int_equal(kh_barrier_seal(f->b), KH_OK);
	struct kh_slice now[2] = {kh_buf_slice(&fresh->share[0]), kh_buf_slice(&fresh->share[1])};
	kh_barrier_shares_free(&f->shares);
	assert_int_equal(kh_barrier_rekey(f->b, now, 2, 5, 3, &f->shares), KH_OK);
	kh_barrier_shares_free(&fresh);
	unseal_with(f, 1, 2, 3);
	assert_int_equal(get(f, "key/1/1/1", "kept"), KH_OK);
}

static int64_t term_of(struct fixture *f, const char *scope)
{
	struct kh_store_val v[] = {KH_SV_TEXT(scope)};
	return kh_test_sql_int(f->store, &q_term, v, 1);
}

static void root_rotation_rewraps_and_retires_old_terms(void **state)
{
	struct fixture *f = *state;
	struct kh_barrier_status st;
	uint32_t term = 0;
	size_t done = 0, left = 0;
	char scope[32], value[32];
	init_5_3(f);
	assert_int_equal(kh_barrier_rotate_root(f->b, &term), KH_ERR_SEALED);
	unseal_with(f, 0, 1, 2);
	for (int i = 0; i < 25; i++) {
		snprintf(scope, sizeof(scope), "key/1/%d/1", i);
		snprintf(value, sizeof(value), "secret-%d", i);
		assert_int_equal(put(f, scope, value), KH_OK);
	}
	assert_int_equal(kh_barrier_rotate_root(f->b, &term), KH_OK);
	assert_int_equal(term, 2);
	assert_int_equal(kh_barrier_rotate_root(f->b, &term), KH_OK);
	assert_int_equal(term, 3);
	assert_int_equal(put(f, "key/2/1/1", "new"), KH_OK);
	assert_int_equal(term_of(f, "key/2/1/1"), 3);
	assert_int_equal(term_of(f, "key/1/0/1"), 1);
	/* Old terms still read. */
	assert_int_equal(get(f, "key/1/3/1", "secret-3"), KH_OK);
	assert_int_equal(kh_barrier_status(f->b, &st), KH_OK);
	assert_int_equal(st.term, 3);
	assert_int_equal(st.oldest_term, 1);
	/* Rewrap in batches of 10. */
	assert_int_equal(kh_barrier_rewrap(f->b, 10, &done, &left), KH_OK);
	assert_int_equal(done, 10);
	assert_int_equal(left, 15);
	assert_int_equal(kh_barrier_status(f->b, &st), KH_OK);
	assert_int_equal(st.oldest_term, 1);
	assert_int_equal(kh_barrier_rewrap(f->b, 10, &done, &left), KH_OK);
	assert_int_equal(kh_barrier_rewrap(f->b, 10, &done, &left), KH_OK);
	assert_int_equal(done, 5);
	assert_int_equal(left, 0);
	assert_int_equal(kh_barrier_status(f->b, &st), KH_OK);
	assert_int_equal(st.oldest_term, 3);
	assert_int_equal(term_of(f, "key/1/0/1"), 3);
	for (int i = 0; i < 25; i++) {
		snprintf(scope, sizeof(scope), "key/1/%d/1", i);
		snprintf(value, sizeof(value), "secret-%d", i);
		assert_int_equal(get(f, scope, value), KH_OK);
	}
	/* Nothing to do now. */
	assert_int_equal(kh_barrier_rewrap(f->b, 10, &done, &left), KH_OK);
	assert_int_equal(done, 0);
	/* After a restart the stored keyring has only the current term, and it works. */
	close_all(f);
	open_all(f);
	unseal_with(f, 2, 3, 4);
	assert_int_equal(kh_barrier_status(f->b, &st), KH_OK);
	assert_int_equal(st.term, 3);
	assert_int_equal(st.oldest_term, 3);
	assert_int_equal(get(f, "key/1/24/1", "secret-24"), KH_OK);
	assert_int_equal(get(f, "key/2/1/1", "new"), KH_OK);
}

static int seal_count;
static void on_seal(void *arg)
{
	(void)arg;
	seal_count++;
}

static void seal_listeners_hear_every_seal(void **state)
{
	struct fixture *f = *state;
	seal_count = 0;
	assert_int_equal(kh_barrier_on_seal(f->b, on_seal, NULL), KH_OK);
	init_5_3(f);
	assert_int_equal(kh_barrier_seal(f->b), KH_OK); /* already sealed: nothing to say */
	assert_int_equal(seal_count, 0);
	unseal_with(f, 0, 1, 2);
	assert_int_equal(kh_barrier_seal(f->b), KH_OK);
	assert_int_equal(seal_count, 1);
	unseal_with(f, 0, 1, 2);
	close_all(f); /* freeing an unsealed barrier seals it */
	assert_int_equal(seal_count, 2);
	open_all(f);
}

static void nothing_secret_is_in_the_file_or_its_wal(void **state)
{
	struct fixture *f = *state;
	uint8_t secret[32];
	char wal[320];
	struct kh_buf unseal_key;
	struct kh_slice three[3];
	struct secret_op o;
	init_5_3(f);
	unseal_with(f, 0, 1, 2);
	assert_int_equal(kh_rand_bytes(secret, sizeof(secret)), KH_OK);
	o = (struct secret_op){f->b, "key/9/9/1", KH_SLICE(secret, sizeof(secret))};
	assert_int_equal(kh_store_write(f->store, put_fn, &o), KH_OK);
	/* And a marker stored in clear, to prove the scan reads what was written. */
	assert_int_equal(put(f, "key/9/9/2", "x"), KH_OK);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_true(kh_test_file_contains(wal, KH_SLICE_LIT("key/9/9/1")));
	kh_buf_init(&unseal_key, 64, KH_BUF_SECURE);
	for (int i = 0; i < 3; i++)
		three[i] = share(f, (unsigned)i);
	assert_int_equal(kh_shamir_combine(three, 3, &unseal_key, NULL), KH_OK);
	assert_int_equal(unseal_key.len, 32);
	for (int round = 0; round < 2; round++) {
		assert_false(kh_test_file_contains(f->path, KH_SLICE(secret, sizeof(secret))));
		assert_false(kh_test_file_contains(wal, KH_SLICE(secret, sizeof(secret))));
		assert_false(kh_test_file_contains(f->path, kh_buf_slice(&unseal_key)));
		assert_false(kh_test_file_contains(wal, kh_buf_slice(&unseal_key)));
		/* Again after a checkpoint moved the WAL into the main file. */
		close_all(f);
		open_all(f);
		unseal_with(f, 0, 1, 2);
	}
	kh_buf_cleanup(&unseal_key);
}
int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(init_happens_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(init_refuses_bad_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(any_threshold_of_shares_unseals, setup, teardown),
	    cmocka_unit_test_setup_teardown(unseal_before_init_is_a_conflict, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_duplicate_share_keeps_progress, setup, teardown),
	    cmocka_unit_test_setup_teardown(malformed_and_foreign_shares_are_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(forged_shares_fail_at_the_threshold_and_reset_progress,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(secrets_need_the_barrier_unsealed, setup, teardown),
	    cmocka_unit_test_setup_teardown(secrets_are_bound_to_their_row, setup, teardown),
	    cmocka_unit_test_setup_teardown(rekey_replaces_the_shares_and_leaves_data_alone, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(root_rotation_rewraps_and_retires_old_terms, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(seal_listeners_hear_every_seal, setup, teardown),
	    cmocka_unit_test_setup_teardown(nothing_secret_is_in_the_file_or_its_wal, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
