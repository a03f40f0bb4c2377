/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PKCS#11 seal of the barrier against a real SoftHSM2 token created by the test: init wraps
 * the unseal key in the token, the barrier unseals itself from the token (also after a restart
 * and after rekey), the shares still work as recovery shares, and a wrong PIN, a missing token,
 * a configuration without the token or a tampered wrapping are refused.
 */
#include "kh_test.h"
#include "kh_test_hsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "barrier/kh_barrier.h"
#include "crypto/kh_crypto.h"

#define TOKEN "keyhold-seal-test"
#define PIN "24681357"

static const struct kh_store_query q_tamper = {
    "test.tamper", "UPDATE meta SET value = CAST(substr(value, 1, 20) || x'ff' ||"
                   " substr(value, 22) AS BLOB) WHERE name = 'barrier.hsm'"};

struct fixture {
	char dir[256];
	char path[300];
	struct kh_clock clock;
	struct kh_pkcs11_config cfg;
	struct kh_store *store;
	struct kh_barrier *b;
	struct kh_barrier_shares *shares;
};

static void open_with(struct fixture *f, const struct kh_pkcs11_config *cfg)
{
	struct kh_store_options so = {.path = f->path};
	assert_int_equal(kh_store_open(&so, &f->store), KH_OK);
	struct kh_barrier_options bo = {.store = f->store, .clock = &f->clock, .pkcs11 = cfg};
	assert_int_equal(kh_barrier_new(&bo, &f->b), KH_OK);
}

static void close_all(struct fixture *f)
{
	kh_barrier_free(&f->b);
	kh_store_close(&f->store);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(kh_crypto_init(), KH_OK);
	kh_test_tmpdir(f->dir, sizeof(f->dir));
	kh_test_hsm_token(f->dir, TOKEN, "97531864", PIN);
	snprintf(f->path, sizeof(f->path), "%s/keyhold.db", f->dir);
	kh_clock_fake_init(&f->clock, INT64_C(1800000000) * KH_NS_PER_SEC);
	f->cfg = (struct kh_pkcs11_config){.module_path = kh_test_hsm_module(),
	                                   .token_label = TOKEN,
	                                   .pin = KH_SLICE_LIT(PIN),
	                                   .key_label = "keyhold-unseal"};
	open_with(f, &f->cfg);
	assert_int_equal(kh_barrier_init(f->b, 3, 2, &f->shares), KH_OK);
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

static bool sealed(struct fixture *f)
{
	struct kh_barrier_status st;
	assert_int_equal(kh_barrier_status(f->b, &st), KH_OK);
	assert_true(st.initialized);
	assert_true(st.hsm);
	return st.sealed;
}

static void the_token_unseals_the_barrier_at_start(void **state)
{
	struct fixture *f = *state;
	assert_true(sealed(f));
	assert_int_equal(kh_barrier_unseal_auto(f->b), KH_OK);
	assert_false(sealed(f));
	assert_int_equal(kh_barrier_seal(f->b), KH_OK);
	assert_true(sealed(f));
	assert_int_equal(kh_barrier_unseal_auto(f->b), KH_OK);
	/* A restart: new objects, same store and token. */
	close_all(f);
	open_with(f, &f->cfg);
	assert_true(sealed(f));
	assert_int_equal(kh_barrier_unseal_auto(f->b), KH_OK);
	assert_false(sealed(f));
}

static void the_shares_remain_recovery_shares(void **state)
{
	struct fixture *f = *state;
	struct kh_barrier_progress p;
	assert_int_equal(kh_barrier_unseal(f->b, kh_buf_slice(&f->shares->share[2]), &p), KH_OK);
	assert_int_equal(kh_barrier_unseal(f->b, kh_buf_slice(&f->shares->share[0]), &p), KH_OK);
	assert_false(p.sealed);
}

static void rekey_rewraps_the_new_unseal_key_in_the_token(void **state)
{
	struct fixture *f = *state;
	struct kh_barrier_shares *fresh = NULL;
	struct kh_slice old[2] = {kh_buf_slice(&f->shares->share[0]),
	                          kh_buf_slice(&f->shares->share[1])};
	assert_int_equal(kh_barrier_rekey(f->b, old, 2, 2, 2, &fresh), KH_OK);
	close_all(f);
	open_with(f, &f->cfg);
	assert_int_equal(kh_barrier_unseal_auto(f->b), KH_OK);
	assert_int_equal(kh_barrier_seal(f->b), KH_OK);
	/* The new shares open it; the old ones no longer do. */
	struct kh_barrier_progress p;
	assert_int_equal(kh_barrier_unseal(f->b, old[0], &p), KH_ERR_BAD_SHARE);
	assert_int_equal(kh_barrier_unseal(f->b, kh_buf_slice(&fresh->share[0]), &p), KH_OK);
	assert_int_equal(kh_barrier_unseal(f->b, kh_buf_slice(&fresh->share[1]), &p), KH_OK);
	assert_false(p.sealed);
	kh_barrier_shares_free(&fresh);
}

static void a_wrong_pin_or_missing_token_is_refused(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11_config bad = f->cfg;
	close_all(f);
	bad.pin = KH_SLICE_LIT("00000000");
	open_with(f, &bad);
	assert_int_equal(kh_barrier_unseal_auto(f->b), KH_ERR_UNAUTHENTICATED);
	assert_true(sealed(f));
	close_all(f);
	bad = f->cfg;
	bad.token_label = "no-such-token";
	open_with(f, &bad);
	assert_int_equal(kh_barrier_unseal_auto(f->b), KH_ERR_NOT_FOUND);
	close_all(f);
	bad = f->cfg;
	bad.key_label = "no-such-key";
	open_with(f, &bad);
	assert_int_equal(kh_barrier_unseal_auto(f->b), KH_ERR_NOT_FOUND);
	close_all(f);
	/* Without a token in the configuration there is nothing to unseal with. */
	open_with(f, NULL);
	assert_int_equal(kh_barrier_unseal_auto(f->b), KH_ERR_CONFLICT);
}

static kh_rc tamper_fn(struct kh_store_tx *tx, void *arg)
{
	(void)arg;
	uint64_t n = 0;
	KH_GUARD(kh_store_exec(tx, &q_tamper, NULL, 0, &n));
	return n == 1 ? KH_OK : KH_ERR_INTERNAL;
}

static void a_tampered_wrapping_is_refused(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(kh_store_write(f->store, tamper_fn, NULL), KH_OK);
	assert_int_equal(kh_barrier_unseal_auto(f->b), KH_ERR_DECRYPT);
	assert_true(sealed(f));
}

static void a_store_without_a_token_cannot_auto_unseal(void **state)
{
	struct fixture *f = *state;
	char dir[256], path[300];
	struct kh_store *s = NULL;
	struct kh_barrier *b = NULL;
	struct kh_barrier_shares *shares = NULL;
	kh_test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/plain.db", dir);
	struct kh_store_options so = {.path = path};
	assert_int_equal(kh_store_open(&so, &s), KH_OK);
	struct kh_barrier_options bo = {.store = s, .clock = &f->clock};
	assert_int_equal(kh_barrier_new(&bo, &b), KH_OK);
	assert_int_equal(kh_barrier_init(b, 1, 1, &shares), KH_OK);
	kh_barrier_free(&b);
	/* Opened later with a token configured: the store was not sealed with it. */
	bo.pkcs11 = &f->cfg;
	assert_int_equal(kh_barrier_new(&bo, &b), KH_OK);
	assert_int_equal(kh_barrier_unseal_auto(b), KH_ERR_CONFLICT);
	kh_barrier_shares_free(&shares);
	kh_barrier_free(&b);
	kh_store_close(&s);
	kh_test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(the_token_unseals_the_barrier_at_start, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(the_shares_remain_recovery_shares, setup, teardown),
	    cmocka_unit_test_setup_teardown(rekey_rewraps_the_new_unseal_key_in_the_token, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(a_wrong_pin_or_missing_token_is_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(a_tampered_wrapping_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_store_without_a_token_cannot_auto_unseal, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
