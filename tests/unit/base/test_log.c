/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The logger writes one well-formed JSON line per record, escapes what it must, filters by
 * level, and never prints a value that lives in secure memory.
 */
#include "kh_test.h"

#include <string.h>

#include "base/kh_log.h"
#include "base/kh_mem.h"

static char captured[32768];
static size_t captured_len;
static int captured_lines;

static void capture(void *arg, const char *line, size_t len)
{
	(void)arg;
	if (len >= sizeof(captured))
		len = sizeof(captured) - 1;
	memcpy(captured, line, len);
	captured[len] = '\0';
	captured_len = len;
	captured_lines++;
}

static int setup(void **state)
{
	(void)state;
	captured[0] = '\0';
	captured_len = 0;
	captured_lines = 0;
	kh_log_set_sink(capture, NULL);
	kh_log_set_level(KH_LOG_DEBUG);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kh_log_set_sink(NULL, NULL);
	kh_log_set_level(KH_LOG_INFO);
	return 0;
}

static void record_is_one_json_line_with_typed_fields(void **state)
{
	static const uint8_t digest[] = {0xde, 0xad, 0xbe, 0xef};
	(void)state;
	KH_LOG_INFO("key rotated", KH_LF_STR("key", "k1"), KH_LF_INT("delta", -3),
	            KH_LF_UINT("version", 7), KH_LF_BYTES("digest", KH_SLICE(digest, 4)),
	            KH_LF_RC(KH_ERR_NOT_FOUND));
	assert_int_equal(captured_lines, 1);
	assert_true(strncmp(captured, "{\"ts\":\"", 7) == 0);
	assert_non_null(strstr(captured,
	                       "\",\"level\":\"info\",\"msg\":\"key rotated\","
	                       "\"key\":\"k1\",\"delta\":-3,\"version\":7,"
	                       "\"digest\":\"deadbeef\",\"error\":\"KH_ERR_NOT_FOUND\"}\n"));
	assert_int_equal(captured[captured_len - 1], '\n');
	assert_null(memchr(captured, '\n', captured_len - 1));
}

static void secrets_are_redacted_whatever_the_field_type(void **state)
{
	char *secret = kh_secure_alloc(32);
	(void)state;
	assert_non_null(secret);
	memcpy(secret, "hunter2-hunter2", 16);
	KH_LOG_WARN(secret, KH_LF_STR("token", secret), KH_LF_BYTES("key", KH_SLICE(secret, 15)));
	assert_null(strstr(captured, "hunter2"));
	assert_non_null(strstr(captured, "\"token\":\"[redacted]\""));
	assert_non_null(strstr(captured, "\"key\":\"[redacted]\""));
	assert_non_null(strstr(captured, "\"msg\":\"\""));
	kh_secure_free(&secret);
}

static void control_characters_and_quotes_are_escaped(void **state)
{
	(void)state;
	KH_LOG_INFO("line\nbreak", KH_LF_STR("q", "say \"hi\"\\\t\x01\x7f"));
	assert_non_null(strstr(captured, "\"msg\":\"line\\u000abreak\""));
	assert_non_null(strstr(captured, "\"q\":\"say \\\"hi\\\"\\\\\\u0009\\u0001\\u007f\""));
}

static void records_below_the_level_are_dropped(void **state)
{
	(void)state;
	kh_log_set_level(KH_LOG_WARN);
	KH_LOG_INFO("quiet", KH_LF_NONE);
	KH_LOG_DEBUG("quieter", KH_LF_NONE);
	assert_int_equal(captured_lines, 0);
	KH_LOG_ERROR("loud", KH_LF_NONE);
	assert_int_equal(captured_lines, 1);
	assert_non_null(strstr(captured, "\"level\":\"error\",\"msg\":\"loud\"}"));
}

static void long_values_are_cut_and_marked(void **state)
{
	static char big[5000];
	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	KH_LOG_INFO("big", KH_LF_STR("v", big));
	assert_non_null(strstr(captured, "\"truncated\":true}\n"));
	assert_true(captured_len < 1300);
}

static void too_many_fields_still_give_a_well_formed_line(void **state)
{
	static char big[1100];
	(void)state;
	memset(big, '"', sizeof(big) - 1); /* each escapes to two bytes */
	KH_LOG_INFO("many", KH_LF_STR("a", big), KH_LF_STR("b", big), KH_LF_STR("c", big),
	            KH_LF_STR("d", big), KH_LF_STR("e", big), KH_LF_STR("f", big),
	            KH_LF_STR("g", big), KH_LF_STR("h", big));
	assert_int_equal(captured_lines, 1);
	assert_non_null(strstr(captured, "\"msg\":\"many\",\"truncated\":true}\n"));
	assert_null(strstr(captured, "\"a\":"));
}

static void null_string_prints_as_json_null(void **state)
{
	(void)state;
	KH_LOG_INFO("n", KH_LF_STR("v", NULL));
	assert_non_null(strstr(captured, "\"v\":null}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(record_is_one_json_line_with_typed_fields, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(secrets_are_redacted_whatever_the_field_type, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(control_characters_and_quotes_are_escaped, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(records_below_the_level_are_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(long_values_are_cut_and_marked, setup, teardown),
	    cmocka_unit_test_setup_teardown(too_many_fields_still_give_a_well_formed_line, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(null_string_prints_as_json_null, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
