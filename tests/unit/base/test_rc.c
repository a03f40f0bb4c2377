/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Result codes: every code has a name, a message and a class; every name parses back to its
 * code and nothing else parses; unknown values are safe; the guard macros return and jump as
 * documented.
 */
#include "kh_test.h"

#include <string.h>

static void every_code_has_name_message_and_class(void **state)
{
	(void)state;
	for (int i = 0; i < KH_RC_COUNT; i++) {
		kh_rc rc = (kh_rc)i;
		assert_true(strncmp(kh_rc_name(rc), "KH_", 3) == 0);
		assert_true(strcmp(kh_rc_name(rc), "KH_ERR_UNKNOWN") != 0);
		assert_true(strlen(kh_rc_message(rc)) > 0);
		assert_true((kh_rc_class_of(rc) == KH_CLASS_OK) == (rc == KH_OK));
	}
	assert_int_equal(kh_rc_class_of(KH_ERR_DECRYPT), KH_CLASS_CRYPTO);
	assert_int_equal(kh_rc_class_of(KH_ERR_BAD_KEY), KH_CLASS_BAD_INPUT);
	assert_int_equal(kh_rc_class_of(KH_ERR_LIBCRYPTO), KH_CLASS_INTERNAL);
	assert_int_equal(kh_rc_class_of(KH_ERR_KEY_PENDING_DELETION), KH_CLASS_CONFLICT);
}

/* A caller over its request rate gets a class of its own (HTTP 429), not bad input. */
static void rate_limited_has_its_own_class(void **state)
{
	(void)state;
	assert_int_equal(kh_rc_class_of(KH_ERR_RATE_LIMITED), KH_CLASS_RATE_LIMITED);
	assert_string_equal(kh_rc_name(KH_ERR_RATE_LIMITED), "KH_ERR_RATE_LIMITED");
	for (int i = 0; i < KH_RC_COUNT; i++) {
		kh_rc rc = (kh_rc)i;
		assert_true((kh_rc_class_of(rc) == KH_CLASS_RATE_LIMITED) ==
		            (rc == KH_ERR_RATE_LIMITED));
	}
}

static void unknown_codes_are_internal(void **state)
{
	(void)state;
	assert_string_equal(kh_rc_name((kh_rc)9999), "KH_ERR_UNKNOWN");
	assert_string_equal(kh_rc_name((kh_rc)-1), "KH_ERR_UNKNOWN");
	assert_int_equal(kh_rc_class_of((kh_rc)9999), KH_CLASS_INTERNAL);
	assert_string_equal(kh_rc_message(KH_RC_COUNT), "unknown error");
}

/* Audit records store the name; readers map it back to the code. */
static void every_name_parses_back_to_its_code(void **state)
{
	(void)state;
	for (int i = 0; i < KH_RC_COUNT; i++) {
		kh_rc rc = (kh_rc)i, back = KH_ERR_INTERNAL;
		assert_int_equal(kh_rc_parse(kh_rc_name(rc), &back), KH_OK);
		assert_int_equal(back, rc);
	}
}

static void only_exact_names_parse(void **state)
{
	static const char *const not_names[] = {
	    "",
	    "KH_ERR_UNKNOWN",
	    "ok",
	    "kh_err_forbidden",
	    "KH_ERR_FORBIDDEN ",
	    " KH_ERR_FORBIDDEN",
	    "KH_ERR_FORBIDDE",
	    "KH_ERR_FORBIDDENX",
	    "Forbidden",
	    "KH_ERR_",
	};
	kh_rc out = KH_ERR_CONFLICT;
	(void)state;
	for (size_t i = 0; i < sizeof(not_names) / sizeof(not_names[0]); i++)
		assert_int_equal(kh_rc_parse(not_names[i], &out), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_rc_parse(NULL, &out), KH_ERR_BAD_INPUT);
	assert_int_equal(out, KH_ERR_CONFLICT); /* untouched on failure */
}

static int cleaned;

static kh_rc pass_through(kh_rc rc)
{
	KH_GUARD(rc);
	return KH_OK;
}

static kh_rc ensure(int cond)
{
	KH_ENSURE(cond, KH_ERR_CONFLICT);
	return KH_OK;
}

static kh_rc with_cleanup(kh_rc first, int cond)
{
	kh_rc rc;
	KH_GUARD_OUT(first);
	KH_ENSURE_OUT(cond, KH_ERR_NOT_FOUND);
	rc = KH_OK;
out:
	cleaned++;
	return rc;
}

static void guard_macros_return_and_jump(void **state)
{
	(void)state;
	assert_int_equal(pass_through(KH_OK), KH_OK);
	assert_int_equal(pass_through(KH_ERR_SEALED), KH_ERR_SEALED);
	assert_int_equal(ensure(1), KH_OK);
	assert_int_equal(ensure(0), KH_ERR_CONFLICT);
	cleaned = 0;
	assert_int_equal(with_cleanup(KH_ERR_NOMEM, 1), KH_ERR_NOMEM);
	assert_int_equal(with_cleanup(KH_OK, 0), KH_ERR_NOT_FOUND);
	assert_int_equal(with_cleanup(KH_OK, 1), KH_OK);
	assert_int_equal(cleaned, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_code_has_name_message_and_class),
	    cmocka_unit_test(rate_limited_has_its_own_class),
	    cmocka_unit_test(every_name_parses_back_to_its_code),
	    cmocka_unit_test(only_exact_names_parse),
	    cmocka_unit_test(unknown_codes_are_internal),
	    cmocka_unit_test(guard_macros_return_and_jump),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
