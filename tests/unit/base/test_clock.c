/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Clocks: the fake clock stands still and moves only when told; RFC 3339 formatting of known
 * instants, including before the epoch.
 */
#include "kh_test.h"

#include "base/kh_clock.h"

static void fake_clock_moves_only_when_told(void **state)
{
	struct kh_clock c;
	(void)state;
	kh_clock_fake_init(&c, 1000);
	assert_int_equal(kh_clock_now(&c), 1000);
	assert_int_equal(kh_clock_now(&c), 1000);
	kh_clock_fake_advance(&c, 90 * KH_NS_PER_DAY);
	assert_true(kh_clock_now(&c) == 1000 + 90 * KH_NS_PER_DAY);
	kh_clock_fake_set(&c, 5);
	assert_int_equal(kh_clock_now(&c), 5);
}

static void real_clocks_are_plausible(void **state)
{
	int64_t a, b;
	(void)state;
	/* 2024-01-01T00:00:00Z */
	assert_true(kh_clock_now(kh_clock_real()) > INT64_C(1704067200) * KH_NS_PER_SEC);
	a = kh_clock_mono_ns();
	b = kh_clock_mono_ns();
	assert_true(b >= a);
}

static void format(int64_t ns, int ms, const char *expect)
{
	char out[KH_RFC3339_MAX];
	assert_int_equal(kh_time_format_rfc3339(ns, ms, out, sizeof(out)), KH_OK);
	assert_string_equal(out, expect);
}

static void rfc3339_formats_known_instants(void **state)
{
	(void)state;
	format(0, 0, "1970-01-01T00:00:00Z");
	format(INT64_C(1700000000) * KH_NS_PER_SEC, 0, "2023-11-14T22:13:20Z");
	format(INT64_C(1700000000) * KH_NS_PER_SEC + 123456789, 1, "2023-11-14T22:13:20.123Z");
	format(INT64_C(951782400) * KH_NS_PER_SEC, 0, "2000-02-29T00:00:00Z"); /* leap day */
	format(-1, 1, "1969-12-31T23:59:59.999Z");
	format(INT64_C(4102444799) * KH_NS_PER_SEC, 0, "2099-12-31T23:59:59Z");
}

static void rfc3339_refuses_a_short_buffer(void **state)
{
	char small[8];
	(void)state;
	assert_int_equal(kh_time_format_rfc3339(0, 0, small, sizeof(small)), KH_ERR_INTERNAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fake_clock_moves_only_when_told),
	    cmocka_unit_test(real_clocks_are_plausible),
	    cmocka_unit_test(rfc3339_formats_known_instants),
	    cmocka_unit_test(rfc3339_refuses_a_short_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
