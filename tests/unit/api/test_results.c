/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Results of audit and usage records in the API's terms: the stored "ok" stays "ok", the name
 * of every refusal becomes the error code a refused call answers with (the error model's), and
 * a name this build does not know is shown as stored rather than guessed at.
 */
#include "kh_test.h"

#include <string.h>

#include "api/kh_api_int.h"

static void ok_stays_ok(void **state)
{
	(void)state;
	assert_string_equal(kh_api_result_code("ok"), "ok");
	assert_string_equal(kh_api_result_code("KH_OK"), "ok");
}

static void every_refusal_becomes_its_error_code(void **state)
{
	(void)state;
	for (int i = 1; i < KH_RC_COUNT; i++) {
		kh_rc rc = (kh_rc)i;
		const char *code = kh_api_result_code(kh_rc_name(rc));
		assert_string_equal(code, kh_api_error_of(rc).code);
		assert_true(strncmp(code, "KH_", 3) != 0);
	}
	assert_string_equal(kh_api_result_code("KH_ERR_FORBIDDEN"), "Forbidden");
	assert_string_equal(kh_api_result_code("KH_ERR_NOT_FOUND"), "NotFound");
	assert_string_equal(kh_api_result_code("KH_ERR_KEY_DISABLED"), "KeyDisabled");
	assert_string_equal(kh_api_result_code("KH_ERR_DECRYPT"), "InvalidCiphertext");
	assert_string_equal(kh_api_result_code("KH_ERR_WRONG_KEY_TYPE"), "BadRequest");
	assert_string_equal(kh_api_result_code("KH_ERR_SEALED"), "Sealed");
	/* A CSR whose proof of possession fails (the PKI) is told apart from other bad input. */
	assert_string_equal(kh_api_result_code("KH_ERR_BAD_SIGNATURE"), "BadSignature");
	assert_int_equal(kh_api_error_of(KH_ERR_BAD_SIGNATURE).status, 400);
}

static void unknown_names_are_shown_as_stored(void **state)
{
	(void)state;
	assert_string_equal(kh_api_result_code("KH_ERR_FROM_A_LATER_VERSION"),
	                    "KH_ERR_FROM_A_LATER_VERSION");
	assert_string_equal(kh_api_result_code("KH_ERR_UNKNOWN"), "KH_ERR_UNKNOWN");
	assert_string_equal(kh_api_result_code(""), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ok_stays_ok),
	    cmocka_unit_test(every_refusal_becomes_its_error_code),
	    cmocka_unit_test(unknown_names_are_shown_as_stored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
