/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deferred records (kh_keys_defer): with p->defer set, reads and crypto operations return their
 * result with their records staged, not committed; a flush or an asynchronous commit then
 * writes them in order, refusals included, and the usage count follows. Changes still commit
 * before they return. Staged records carry their own copies of the caller's texts.
 */
#include "kh_test_keys.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "kh_test_store.h"

/* Read straight from the store: a done function runs on the writer thread, where an audited
 * read (which writes its record) is refused. */
static const struct kh_store_query q_usage = {"test.usage",
                                              "SELECT usage_count FROM keys WHERE tag = ?"};

struct env {
	struct kh_test_keys *t;
	int64_t ks;
	struct kh_principal mgr;
	struct kh_principal user;
	struct kh_key_info key;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->t = kh_test_keys_new(0);
	e->ks = kh_test_keys_keystore(e->t, "acme");
	e->mgr = kh_test_keys_manager(e->t, e->ks, "admin");
	e->user = kh_test_keys_user(e->t, e->ks, "alice");
	e->key = kh_test_keys_create(e->t, &e->mgr, "k1", KH_KEY_AES_256_GCM);
	kh_test_keys_grant(e->t, &e->mgr, e->key.tag, &e->user, KH_ROLE_ENCRYPTOR);
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

static kh_rc encrypt_as(struct env *e, const struct kh_principal *p, struct kh_buf *out)
{
	kh_buf_init(out, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	return kh_keys_encrypt(e->t->keys, p, e->key.tag, kh_slice_from_cstr("hello"),
	                       KH_SLICE_EMPTY, out);
}

static void records_wait_for_the_flush(void **state)
{
	struct env *e = *state;
	struct kh_keys_defer d = {0};
	struct kh_buf ct, pt;
	char request_id[16] = "req-deferred";
	struct kh_principal p = e->user;
	p.request_id = request_id;
	p.defer = &d;
	int64_t last = kh_test_keys_audit_last(e->t);
	/* An encryption that works and a decryption the encryptor may not do. */
	assert_int_equal(encrypt_as(e, &p, &ct), KH_OK);
	assert_true(ct.len > 0);
	kh_buf_init(&pt, KH_LIMIT_PLAINTEXT_BYTES, KH_BUF_SECURE);
	assert_int_equal(
	    kh_keys_decrypt(e->t->keys, &p, e->key.tag, kh_buf_slice(&ct), KH_SLICE_EMPTY, &pt),
	    KH_ERR_FORBIDDEN);
	assert_int_equal(d.count, 2);
	/* Nothing is written yet: no record, no usage. */
	assert_int_equal(kh_test_keys_audit_last(e->t), last);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, e->key.tag).usage_count, 0);
	/* The caller's texts may change before the flush: the records kept their own. */
	memcpy(request_id, "req-changed!", 13);
	last = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_defer_flush(e->t->keys, &d), KH_OK);
	assert_int_equal(d.count, 0);
	assert_null(d.head);
	struct kh_test_audit_rec recs[4];
	assert_int_equal(kh_test_keys_audit_since(e->t, last, recs, 4), 2);
	assert_string_equal(recs[0].operation, "key.encrypt");
	assert_string_equal(recs[0].result, "ok");
	assert_string_equal(recs[1].operation, "key.decrypt");
	assert_string_equal(recs[1].result, "KH_ERR_FORBIDDEN");
	assert_string_equal(recs[0].key_tag, e->key.tag);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, e->key.tag).usage_count, 1);
	/* A flush of nothing is nothing. */
	assert_int_equal(kh_keys_defer_flush(e->t->keys, &d), KH_OK);
	kh_buf_cleanup(&ct);
	kh_buf_cleanup(&pt);
}

static void changes_still_commit_before_they_return(void **state)
{
	struct env *e = *state;
	struct kh_keys_defer d = {0};
	struct kh_principal p = e->mgr;
	p.defer = &d;
	struct kh_key_info k;
	int64_t last = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_rotate(e->t->keys, &p, e->key.tag, &k), KH_OK);
	assert_int_equal(k.current_version, 2);
	assert_int_equal(d.count, 0);
	kh_test_keys_audit_one(e->t, last, "key.rotate", &e->mgr, KH_OK);
}

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool done;
	kh_rc rc;
	int64_t seen_usage; /* usage count read inside done: already committed */
	struct env *e;
};

static void on_done(void *arg, kh_rc rc)
{
	struct waiter *w = arg;
	struct kh_store_val v[] = {KH_SV_TEXT(w->e->key.tag)};
	int64_t used = kh_test_sql_int(w->e->t->store, &q_usage, v, KH_SV_COUNT(v));
	pthread_mutex_lock(&w->mu);
	w->done = true;
	w->rc = rc;
	w->seen_usage = used;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

static void an_asynchronous_commit_calls_back_once_durable(void **state)
{
	struct env *e = *state;
	struct kh_keys_defer d = {0};
	struct kh_keys_commit c;
	struct kh_buf ct[3];
	struct kh_principal p = e->user;
	p.defer = &d;
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(encrypt_as(e, &p, &ct[i]), KH_OK);
	assert_int_equal(d.count, 3);
	struct waiter w = {.e = e};
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cond, NULL);
	kh_keys_defer_commit(e->t->keys, &d, &c, on_done, &w);
	assert_int_equal(d.count, 0);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.mu);
	pthread_mutex_unlock(&w.mu);
	assert_int_equal(w.rc, KH_OK);
	assert_int_equal(w.seen_usage, 3);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.mu);
	for (size_t i = 0; i < 3; i++)
		kh_buf_cleanup(&ct[i]);
}

static void sealed_before_the_commit_fails_the_records(void **state)
{
	struct env *e = *state;
	struct kh_keys_defer d = {0};
	struct kh_buf ct;
	struct kh_principal p = e->user;
	p.defer = &d;
	assert_int_equal(encrypt_as(e, &p, &ct), KH_OK);
	assert_int_equal(d.count, 1);
	/* Without the audit key the record cannot be written: the result must not go out. */
	assert_int_equal(kh_barrier_seal(e->t->barrier), KH_OK);
	assert_int_not_equal(kh_keys_defer_flush(e->t->keys, &d), KH_OK);
	kh_test_keys_unseal(e->t);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, e->key.tag).usage_count, 0);
	kh_buf_cleanup(&ct);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(records_wait_for_the_flush, setup, teardown),
	    cmocka_unit_test_setup_teardown(changes_still_commit_before_they_return, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(an_asynchronous_commit_calls_back_once_durable, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sealed_before_the_commit_fails_the_records, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
