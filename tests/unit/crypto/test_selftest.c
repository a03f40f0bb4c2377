/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The power-on self-test passes on this build, can run again, and returns every byte of
 * secure memory it used (it handles test keys and plaintexts like real ones).
 */
#include "kh_test_crypto.h"

#include "base/kh_mem.h"

static void selftest_passes_and_releases_its_secure_memory(void **state)
{
	struct kh_secure_stats before, after;
	(void)state;
	assert_int_equal(kh_crypto_selftest(), KH_OK); /* first run may create lasting state */
	kh_secure_stats_get(&before);
	assert_int_equal(kh_crypto_selftest(), KH_OK);
	kh_secure_stats_get(&after);
	assert_int_equal(after.in_use, before.in_use);
	assert_true(after.peak > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(selftest_passes_and_releases_its_secure_memory),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
