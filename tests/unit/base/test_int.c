/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bounded integer parser accepts exactly canonical decimal within range and nothing else.
 */
#include "kh_test.h"

#include "base/kh_int.h"

static void canonical_values_parse(void **state)
{
	uint64_t u;
	int64_t i;
	(void)state;
	assert_int_equal(kh_parse_u64(KH_SLICE_LIT("0"), 0, 10, &u), KH_OK);
	assert_int_equal(u, 0);
	assert_int_equal(kh_parse_u64(KH_SLICE_LIT("1000"), 1, 1000, &u), KH_OK);
	assert_int_equal(u, 1000);
	assert_int_equal(kh_parse_u64(KH_SLICE_LIT("18446744073709551615"), 0, UINT64_MAX, &u),
	                 KH_OK);
	assert_true(u == UINT64_MAX);
	assert_int_equal(kh_parse_i64(KH_SLICE_LIT("-9223372036854775808"), INT64_MIN, 0, &i),
	                 KH_OK);
	assert_true(i == INT64_MIN);
	assert_int_equal(kh_parse_i64(KH_SLICE_LIT("9223372036854775807"), 0, INT64_MAX, &i),
	                 KH_OK);
	assert_true(i == INT64_MAX);
	assert_int_equal(kh_parse_i64(KH_SLICE_LIT("-42"), -100, 100, &i), KH_OK);
	assert_int_equal(i, -42);
}

static void malformed_text_is_an_encoding_error(void **state)
{
	static const char *const bad[] = {"",     "+1",  " 1",  "1 ",  "01", "00", "1a",
	                                  "0x10", "1e3", "1.0", "--1", "-",  "-0", "１"};
	uint64_t u = 7;
	int64_t i = 7;
	(void)state;
	for (size_t n = 0; n < sizeof(bad) / sizeof(bad[0]); n++) {
		struct kh_slice s = kh_slice_from_cstr(bad[n]);
		if (kh_parse_i64(s, INT64_MIN, INT64_MAX, &i) != KH_ERR_BAD_ENCODING)
			fail_msg("i64 accepted \"%s\"", bad[n]);
		if (bad[n][0] != '-' && kh_parse_u64(s, 0, UINT64_MAX, &u) != KH_ERR_BAD_ENCODING)
			fail_msg("u64 accepted \"%s\"", bad[n]);
	}
	assert_int_equal(u, 7); /* out-parameters untouched on failure */
	assert_int_equal(i, 7);
}

static void out_of_range_is_refused(void **state)
{
	uint64_t u = 7;
	int64_t i = 7;
	(void)state;
	assert_int_equal(kh_parse_u64(KH_SLICE_LIT("18446744073709551616"), 0, UINT64_MAX, &u),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_parse_u64(KH_SLICE_LIT("99999999999999999999"), 0, UINT64_MAX, &u),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_parse_u64(KH_SLICE_LIT("123456789012345678901"), 0, UINT64_MAX, &u),
	                 KH_ERR_BAD_ENCODING); /* 21 digits cannot be a u64 */
	assert_int_equal(kh_parse_u64(KH_SLICE_LIT("1001"), 1, 1000, &u), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_parse_u64(KH_SLICE_LIT("0"), 1, 1000, &u), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_parse_i64(KH_SLICE_LIT("9223372036854775808"), 0, INT64_MAX, &i),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_parse_i64(KH_SLICE_LIT("-9223372036854775809"), INT64_MIN, 0, &i),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_parse_i64(KH_SLICE_LIT("-5"), 0, 10, &i), KH_ERR_BAD_INPUT);
	assert_int_equal(u, 7);
	assert_int_equal(i, 7);
}

static void embedded_nul_is_not_a_terminator(void **state)
{
	static const uint8_t text[] = {'1', '2', 0, '3'};
	uint64_t u;
	(void)state;
	assert_int_equal(kh_parse_u64(KH_SLICE(text, sizeof(text)), 0, UINT64_MAX, &u),
	                 KH_ERR_BAD_ENCODING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(canonical_values_parse),
	    cmocka_unit_test(malformed_text_is_an_encoding_error),
	    cmocka_unit_test(out_of_range_is_refused),
	    cmocka_unit_test(embedded_nul_is_not_a_terminator),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
