/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Library start-up, randomness and constant-time comparison: init is idempotent and safe to
 * race, the generator fills exactly what it is asked and never repeats itself, and kh_ct_eq
 * answers like memcmp would on equality.
 */
#include "kh_test_crypto.h"

#include <pthread.h>
#include <string.h>

static void *init_in_thread(void *arg)
{
	*(kh_rc *)arg = kh_crypto_init();
	return NULL;
}

static void init_is_idempotent_and_safe_to_race(void **state)
{
	pthread_t threads[8];
	kh_rc rcs[8];
	(void)state;
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, init_in_thread, &rcs[i]), 0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(rcs[i], KH_OK);
	}
	assert_int_equal(kh_crypto_init(), KH_OK);
	assert_true(strncmp(kh_crypto_library_version(), "OpenSSL 3.", 10) == 0);
}

static void random_fills_exactly_the_requested_bytes(void **state)
{
	uint8_t buf[80];
	(void)state;
	/* Guard bytes around the requested range must stay as they were. */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(kh_rand_bytes(buf + 8, 64), KH_OK);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(buf[i], 0xee);
		assert_int_equal(buf[72 + i], 0xee);
	}
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(kh_rand_secret(buf + 8, 64), KH_OK);
	assert_int_equal(buf[7], 0xee);
	assert_int_equal(buf[72], 0xee);
	assert_int_equal(kh_rand_bytes(buf, 0), KH_OK);
	assert_int_equal(kh_rand_secret(buf, 0), KH_OK);
	assert_int_equal(kh_rand_bytes(buf, (size_t)1 << 32), KH_ERR_TOO_LARGE);
}

static void random_output_does_not_repeat_and_uses_every_bit(void **state)
{
	enum {
		N = 64
	};
	uint8_t blocks[N][16];
	uint8_t or_all[16] = {0}, and_all[16];
	(void)state;
	memset(and_all, 0xff, sizeof(and_all));
	for (int i = 0; i < N; i++) {
		assert_int_equal(
		    i % 2 ? kh_rand_bytes(blocks[i], 16) : kh_rand_secret(blocks[i], 16), KH_OK);
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(blocks[i], blocks[j], 16);
		for (int b = 0; b < 16; b++) {
			or_all[b] |= blocks[i][b];
			and_all[b] &= blocks[i][b];
		}
	}
	/* With 64 blocks, a bit stuck at 0 or 1 everywhere has probability 2^-63. */
	for (int b = 0; b < 16; b++) {
		assert_int_equal(or_all[b], 0xff);
		assert_int_equal(and_all[b], 0x00);
	}
}

static void constant_time_equality_matches_byte_equality(void **state)
{
	uint8_t a[33], b[33];
	(void)state;
	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(kh_ct_eq(KH_SLICE(a, 33), KH_SLICE(b, 33)));
	for (size_t i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x01;
		assert_false(kh_ct_eq(KH_SLICE(a, 33), KH_SLICE(b, 33)));
		b[i] ^= 0x01;
	}
	assert_false(kh_ct_eq(KH_SLICE(a, 33), KH_SLICE(b, 32)));
	assert_true(kh_ct_eq(KH_SLICE_EMPTY, KH_SLICE(b, 0)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(init_is_idempotent_and_safe_to_race),
	    cmocka_unit_test(random_fills_exactly_the_requested_bytes),
	    cmocka_unit_test(random_output_does_not_repeat_and_uses_every_bit),
	    cmocka_unit_test(constant_time_equality_matches_byte_equality),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
