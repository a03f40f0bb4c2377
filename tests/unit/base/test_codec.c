/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Base64 and hex: RFC 4648 section 10 vectors, round trips over every byte value, and
 * rejection of every non-canonical form (bad characters, padding, whitespace, trailing data).
 */
#include "kh_test.h"

#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_mem.h"

static const char *const rfc4648_plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const rfc4648_b64[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                          "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const rfc4648_hex[] = {"",         "66",         "666f",        "666f6f",
                                          "666f6f62", "666f6f6261", "666f6f626172"};

static void base64_encodes_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc4648_plain) / sizeof(rfc4648_plain[0]); i++) {
		struct kh_buf b;
		kh_buf_init(&b, 64, KH_BUF_PLAIN);
		assert_int_equal(kh_base64_encode(kh_slice_from_cstr(rfc4648_plain[i]), &b), KH_OK);
		assert_string_equal(kh_buf_cstr(&b), rfc4648_b64[i]);
		assert_int_equal(b.len, kh_base64_encoded_len(strlen(rfc4648_plain[i])));
		kh_buf_cleanup(&b);
	}
}

static void base64_decodes_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc4648_plain) / sizeof(rfc4648_plain[0]); i++) {
		struct kh_buf b;
		kh_buf_init(&b, 64, KH_BUF_PLAIN);
		assert_int_equal(kh_base64_decode(kh_slice_from_cstr(rfc4648_b64[i]), &b), KH_OK);
		assert_int_equal(b.len, strlen(rfc4648_plain[i]));
		assert_string_equal(kh_buf_cstr(&b), rfc4648_plain[i]);
		kh_buf_cleanup(&b);
	}
}

static void hex_round_trips_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc4648_plain) / sizeof(rfc4648_plain[0]); i++) {
		struct kh_buf b;
		kh_buf_init(&b, 64, KH_BUF_PLAIN);
		assert_int_equal(kh_hex_encode(kh_slice_from_cstr(rfc4648_plain[i]), &b), KH_OK);
		assert_string_equal(kh_buf_cstr(&b), rfc4648_hex[i]);
		kh_buf_clear(&b);
		assert_int_equal(kh_hex_decode(kh_slice_from_cstr(rfc4648_hex[i]), &b), KH_OK);
		assert_string_equal(kh_buf_cstr(&b), rfc4648_plain[i]);
		kh_buf_cleanup(&b);
	}
}

static void every_byte_value_round_trips(void **state)
{
	uint8_t all[256 + 2];
	(void)state;
	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (uint8_t)i;
	/* Lengths 256, 257, 258 exercise all three tail shapes. */
	for (size_t len = 256; len <= sizeof(all); len++) {
		struct kh_buf enc, dec;
		kh_buf_init(&enc, 4096, KH_BUF_PLAIN);
		kh_buf_init(&dec, 4096, KH_BUF_SECURE);
		assert_int_equal(kh_base64_encode(KH_SLICE(all, len), &enc), KH_OK);
		assert_int_equal(kh_base64_decode(kh_buf_slice(&enc), &dec), KH_OK);
		assert_int_equal(dec.len, len);
		assert_memory_equal(dec.ptr, all, len);
		kh_buf_clear(&enc);
		kh_buf_clear(&dec);
		assert_int_equal(kh_hex_encode(KH_SLICE(all, len), &enc), KH_OK);
		assert_int_equal(kh_hex_decode(kh_buf_slice(&enc), &dec), KH_OK);
		assert_memory_equal(dec.ptr, all, len);
		kh_buf_cleanup(&enc);
		kh_buf_cleanup(&dec);
	}
}

static void base64_alphabet_maps_both_directions(void **state)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct kh_buf b;
	(void)state;
	kh_buf_init(&b, 64, KH_BUF_PLAIN);
	/* 64 characters = 48 bytes whose 6-bit groups are 0, 1, ..., 63. */
	assert_int_equal(kh_base64_decode(KH_SLICE_LIT(alphabet), &b), KH_OK);
	assert_int_equal(b.len, 48);
	struct kh_buf again;
	kh_buf_init(&again, 128, KH_BUF_PLAIN);
	assert_int_equal(kh_base64_encode(kh_buf_slice(&b), &again), KH_OK);
	assert_string_equal(kh_buf_cstr(&again), alphabet);
	kh_buf_cleanup(&b);
	kh_buf_cleanup(&again);
}

static void base64_rejects_non_canonical_forms(void **state)
{
	static const char *const bad[] = {
	    "Zg",        /* missing padding */
	    "Zg=",       /* short padding */
	    "Zg===",     /* extra padding */
	    "Zh==",      /* non-zero bits under padding (RFC 4648 3.5) */
	    "Zm9=",      /* non-zero bits under one pad */
	    "Zm9v\n",    /* whitespace */
	    " Zm9v",     /* leading space */
	    "Zm9v Zm9v", /* inner space */
	    "Zm-v",      /* URL alphabet is not standard Base64 */
	    "Zm_v",      /* URL alphabet */
	    "Zg==Zg==",  /* padding before the end */
	    "=Zg=",      /* padding first */
	    "====",      /* only padding */
	    "Z===",      /* three pads */
	    "Zm9vYg==x", /* trailing data */
	    "Zm9v\x80YmFy",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kh_buf b;
		kh_buf_init(&b, 64, KH_BUF_PLAIN);
		kh_rc rc = kh_base64_decode(kh_slice_from_cstr(bad[i]), &b);
		if (rc != KH_ERR_BAD_ENCODING)
			fail_msg("accepted \"%s\" (%s)", bad[i], kh_rc_name(rc));
		assert_int_equal(b.len, 0);
		kh_buf_cleanup(&b);
	}
}

static void base64_rejects_nul_inside(void **state)
{
	static const uint8_t with_nul[] = {'Z', 'm', 0, 'v'};
	struct kh_buf b;
	(void)state;
	kh_buf_init(&b, 64, KH_BUF_PLAIN);
	assert_int_equal(kh_base64_decode(KH_SLICE(with_nul, sizeof(with_nul)), &b),
	                 KH_ERR_BAD_ENCODING);
	kh_buf_cleanup(&b);
}

static void hex_accepts_upper_case_and_rejects_bad_digits(void **state)
{
	static const char *const bad[] = {"0", "abc", "0g", "g0", " 00", "00 ", "0x00", "-1"};
	struct kh_buf b;
	(void)state;
	kh_buf_init(&b, 64, KH_BUF_PLAIN);
	assert_int_equal(kh_hex_decode(KH_SLICE_LIT("DEADbeef"), &b), KH_OK);
	kh_test_assert_hex(kh_buf_slice(&b), "deadbeef");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kh_buf_clear(&b);
		if (kh_hex_decode(kh_slice_from_cstr(bad[i]), &b) != KH_ERR_BAD_ENCODING)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(b.len, 0);
	}
	kh_buf_cleanup(&b);
}

static void decoding_respects_buffer_maximum(void **state)
{
	struct kh_buf b;
	(void)state;
	kh_buf_init(&b, 5, KH_BUF_PLAIN);
	assert_int_equal(kh_base64_decode(KH_SLICE_LIT("Zm9vYmFy"), &b), KH_ERR_TOO_LARGE);
	assert_int_equal(kh_hex_decode(KH_SLICE_LIT("666f6f626172"), &b), KH_ERR_TOO_LARGE);
	assert_int_equal(kh_base64_decode(KH_SLICE_LIT("Zm9vYmE="), &b), KH_OK);
	kh_buf_cleanup(&b);
}

static kh_rc encode_then_decode(void *arg)
{
	struct kh_buf enc, dec;
	kh_rc rc;
	(void)arg;
	kh_buf_init(&enc, 1024, KH_BUF_PLAIN);
	kh_buf_init(&dec, 1024, KH_BUF_SECURE);
	KH_GUARD_OUT(kh_base64_encode(KH_SLICE_LIT("secret material"), &enc));
	KH_GUARD_OUT(kh_base64_decode(kh_buf_slice(&enc), &dec));
	KH_ENSURE_OUT(dec.len == 15, KH_ERR_INTERNAL);
out:
	kh_buf_cleanup(&enc);
	kh_buf_cleanup(&dec);
	return rc;
}

static void codecs_survive_allocation_failures(void **state)
{
	(void)state;
	kh_test_alloc_failures(encode_then_decode, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(base64_encodes_rfc4648_vectors),
	    cmocka_unit_test(base64_decodes_rfc4648_vectors),
	    cmocka_unit_test(hex_round_trips_rfc4648_vectors),
	    cmocka_unit_test(every_byte_value_round_trips),
	    cmocka_unit_test(base64_alphabet_maps_both_directions),
	    cmocka_unit_test(base64_rejects_non_canonical_forms),
	    cmocka_unit_test(base64_rejects_nul_inside),
	    cmocka_unit_test(hex_accepts_upper_case_and_rejects_bad_digits),
	    cmocka_unit_test(decoding_respects_buffer_maximum),
	    cmocka_unit_test(codecs_survive_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
