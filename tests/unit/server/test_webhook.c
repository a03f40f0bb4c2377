/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The webhook deliverer's rules: the signature is the documented HMAC (a vector made with
 * `printf '%s' '1800000000.{"id":1}' | openssl dgst -sha256 -hmac
 * 's3cret-webhook-key-0123456789'`), and retries come after the base delay, doubling up to an hour,
 * until 24 hours after the notice was made, when it is given up.
 */
#include "kh_test.h"

#include <string.h>

#include "crypto/kh_crypto.h"
#include "server/kh_server_int.h"

#define S KH_NS_PER_SEC
#define T0 (INT64_C(1800000000) * S)

static void the_signature_is_hmac_sha256_of_timestamp_dot_body(void **state)
{
	(void)state;
	char sig[80];
	assert_int_equal(kh_webhook_signature(KH_SLICE_LIT("s3cret-webhook-key-0123456789"),
	                                      "1800000000", KH_SLICE_LIT("{\"id\":1}"), sig,
	                                      sizeof(sig)),
	                 KH_OK);
	assert_string_equal(
	    sig, "sha256=b664abd5c43d3a89dd89d8bcc50032625e06a237e5b11e46103f0dd5bb0ee6b1");
	/* Too small an output is an error, not a cut signature. */
	char small[40];
	assert_int_not_equal(kh_webhook_signature(KH_SLICE_LIT("s3cret-webhook-key-0123456789"),
	                                          "1800000000", KH_SLICE_LIT("{}"), small,
	                                          sizeof(small)),
	                     KH_OK);
}

static void retries_double_up_to_an_hour(void **state)
{
	(void)state;
	static const struct {
		unsigned attempts;
		int64_t delay_s;
	} want[] = {{1, 30},   {2, 60},   {3, 120},  {4, 240},     {5, 480},          {6, 960},
	            {7, 1920}, {8, 3600}, {9, 3600}, {1000, 3600}, {UINT32_MAX, 3600}};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(kh_webhook_next_attempt(30 * S, want[i].attempts, T0, T0),
		                 T0 + want[i].delay_s * S);
	/* A base of one second (tests) doubles the same way. */
	assert_int_equal(kh_webhook_next_attempt(S, 3, T0, T0), T0 + 4 * S);
}

static void a_notice_is_given_up_after_24_hours(void **state)
{
	(void)state;
	int64_t day = 24 * 3600 * S;
	/* The next attempt would still fall within the day: scheduled. */
	assert_int_equal(kh_webhook_next_attempt(30 * S, 20, T0, T0 + day - 3600 * S), T0 + day);
	/* Past it: given up. */
	assert_int_equal(kh_webhook_next_attempt(30 * S, 20, T0, T0 + day - 3599 * S), 0);
	assert_int_equal(kh_webhook_next_attempt(30 * S, 1, T0, T0 + day), 0);
}

static int setup(void **state)
{
	(void)state;
	return kh_crypto_init() == KH_OK ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(the_signature_is_hmac_sha256_of_timestamp_dot_body),
	    cmocka_unit_test(retries_double_up_to_an_hour),
	    cmocka_unit_test(a_notice_is_given_up_after_24_hours),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
