/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES key wrap with padding (RFC 5649): the section 6 vectors under the 192-bit KEK, extra
 * vectors for 128- and 256-bit KEKs from the openssl command line, round trips at every short
 * length and at the limit, and refusal of tampered, truncated, misaligned, oversized and
 * foreign wrappings (including a published RFC 3394 wrapping, which has the other AIV).
 * Unwrapped keys must land in secure memory only.
 */
#include "kh_test_crypto.h"

#include <string.h>

#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

#define BUF_MAX (64u * 1024u)

struct wrap_vector {
	const char *kek, *key, *wrapped;
};

static const struct wrap_vector vectors[] = {
    /* RFC 5649 section 6: 192-bit KEK, 20 octets of key data. */
    {"5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "c37b7e6492584340bed12207808941155068f738",
     "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
    /* RFC 5649 section 6: 192-bit KEK, 7 octets (a single 64-bit block, wrapped with one AES
     * operation as section 4.1 says). */
    {"5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369",
     "afbeb0f07dfbf5419200f2ccb50bb24f"},
    /*
     * No published RFC 5649 vectors use 128- or 256-bit KEKs; these come from
     *   openssl enc -id-aes<bits>-wrap-pad -K <kek> -iv A65959A6 -in <key bytes>
     * and agree with pyca/cryptography's aes_key_wrap_with_padding.
     */
    {"000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff",
     "2cef0c9e30de26016c230cb78bc60d51b1fe083ba0c79cd5"},
    {"000102030405060708090a0b0c0d0e0f", "01", "354adcce4f3b9a3ecc942d83cf9f216f"},
    {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "c37b7e6492584340bed12207808941155068f738",
     "29b7fa191c2165684374eee9f74595e2a42bace75c425b3053efa26ffe1bb32f"},
};
#define VECTOR_COUNT (sizeof(vectors) / sizeof(vectors[0]))

static void wrap_and_unwrap_match_rfc5649_section6_and_cli_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < VECTOR_COUNT; i++) {
		struct kh_buf kek = kh_test_hex(vectors[i].kek);
		struct kh_buf key = kh_test_hex(vectors[i].key);
		struct kh_buf wrapped = kh_test_hex(vectors[i].wrapped);
		struct kh_buf out;
		struct kh_buf back;

		kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
		assert_int_equal(kh_keywrap_wrap(kh_buf_slice(&kek), kh_buf_slice(&key), &out),
		                 KH_OK);
		kh_test_assert_hex(kh_buf_slice(&out), vectors[i].wrapped);

		kh_buf_init(&back, BUF_MAX, KH_BUF_SECURE);
		assert_int_equal(
		    kh_keywrap_unwrap(kh_buf_slice(&kek), kh_buf_slice(&wrapped), &back), KH_OK);
		kh_test_assert_hex(kh_buf_slice(&back), vectors[i].key);
		assert_true(kh_secure_owns(back.ptr));

		kh_buf_cleanup(&kek);
		kh_buf_cleanup(&key);
		kh_buf_cleanup(&wrapped);
		kh_buf_cleanup(&out);
		kh_buf_cleanup(&back);
	}
}

static void wrap_and_unwrap_append_after_existing_contents(void **state)
{
	struct kh_buf kek = kh_test_hex(vectors[1].kek);
	struct kh_buf key = kh_test_hex(vectors[1].key);
	struct kh_buf out;
	struct kh_buf back;
	(void)state;
	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&out, KH_SLICE_LIT("prefix")), KH_OK);
	assert_int_equal(kh_keywrap_wrap(kh_buf_slice(&kek), kh_buf_slice(&key), &out), KH_OK);
	assert_int_equal(out.len, 6 + 16);
	assert_memory_equal(out.ptr, "prefix", 6);

	kh_buf_init(&back, BUF_MAX, KH_BUF_SECURE);
	assert_int_equal(kh_buf_append(&back, KH_SLICE_LIT("ab")), KH_OK);
	assert_int_equal(
	    kh_keywrap_unwrap(kh_buf_slice(&kek), KH_SLICE(out.ptr + 6, out.len - 6), &back),
	    KH_OK);
	assert_int_equal(back.len, 2 + key.len);
	assert_memory_equal(back.ptr, "ab", 2);
	assert_memory_equal(back.ptr + 2, key.ptr, key.len);
	kh_buf_cleanup(&kek);
	kh_buf_cleanup(&key);
	kh_buf_cleanup(&out);
	kh_buf_cleanup(&back);
}

static void round_trips_every_length_to_72_and_the_limit_under_every_kek_size(void **state)
{
	static const size_t kek_lens[] = {16, 24, 32};
	static uint8_t data[KH_LIMIT_KEYWRAP_BYTES];
	uint8_t kek[32];
	(void)state;
	assert_int_equal(kh_rand_bytes(kek, sizeof(kek)), KH_OK);
	assert_int_equal(kh_rand_bytes(data, sizeof(data)), KH_OK);
	for (size_t k = 0; k < 3; k++) {
		for (size_t len = 1; len <= KH_LIMIT_KEYWRAP_BYTES; len++) {
			struct kh_buf out;
			struct kh_buf back;

			if (len == 73)
				len = KH_LIMIT_KEYWRAP_BYTES - 1; /* skip the middle */
			kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
			kh_buf_init(&back, BUF_MAX, KH_BUF_SECURE);
			assert_int_equal(
			    kh_keywrap_wrap(KH_SLICE(kek, kek_lens[k]), KH_SLICE(data, len), &out),
			    KH_OK);
			/* RFC 5649 section 4.1: padded to 64 bits, plus the 64-bit AIV block. */
			assert_int_equal(out.len, (len + 7) / 8 * 8 + 8);
			assert_int_equal(kh_keywrap_unwrap(KH_SLICE(kek, kek_lens[k]),
			                                   kh_buf_slice(&out), &back),
			                 KH_OK);
			assert_int_equal(back.len, len);
			assert_memory_equal(back.ptr, data, len);
			kh_buf_cleanup(&out);
			kh_buf_cleanup(&back);
		}
	}
}

/* Unwrap must fail with want and leave the output buffer as it was. */
static void unwrap_must_fail(struct kh_slice kek, struct kh_slice in, kh_rc want)
{
	struct kh_buf back;

	kh_buf_init(&back, BUF_MAX, KH_BUF_SECURE);
	assert_int_equal(kh_buf_append(&back, KH_SLICE_LIT("keep")), KH_OK);
	assert_int_equal(kh_keywrap_unwrap(kek, in, &back), want);
	assert_int_equal(back.len, 4);
	assert_memory_equal(back.ptr, "keep", 4);
	kh_buf_cleanup(&back);
}

static void unwrap_rejects_every_flipped_bit_of_the_rfc5649_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct kh_buf kek = kh_test_hex(vectors[i].kek);
		struct kh_buf w = kh_test_hex(vectors[i].wrapped);

		for (size_t bit = 0; bit < w.len * 8; bit++) {
			w.ptr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			unwrap_must_fail(kh_buf_slice(&kek), kh_buf_slice(&w), KH_ERR_DECRYPT);
			w.ptr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		kh_buf_cleanup(&kek);
		kh_buf_cleanup(&w);
	}
}

static void unwrap_rejects_a_wrong_kek_of_any_size(void **state)
{
	struct kh_buf w = kh_test_hex(vectors[0].wrapped);
	uint8_t other[32];
	(void)state;
	memset(other, 0x5a, sizeof(other));
	unwrap_must_fail(KH_SLICE(other, 16), kh_buf_slice(&w), KH_ERR_DECRYPT);
	unwrap_must_fail(KH_SLICE(other, 24), kh_buf_slice(&w), KH_ERR_DECRYPT);
	unwrap_must_fail(KH_SLICE(other, 32), kh_buf_slice(&w), KH_ERR_DECRYPT);
	kh_buf_cleanup(&w);
}

static void unwrap_rejects_truncated_extended_and_swapped_wrappings(void **state)
{
	struct kh_buf kek = kh_test_hex(vectors[0].kek);
	struct kh_buf w = kh_test_hex(vectors[0].wrapped);
	uint8_t longer[40];
	uint8_t swapped[32];
	(void)state;
	/* Well-formed lengths, so only the integrity check can catch them. */
	unwrap_must_fail(kh_buf_slice(&kek), KH_SLICE(w.ptr, 24), KH_ERR_DECRYPT);
	unwrap_must_fail(kh_buf_slice(&kek), KH_SLICE(w.ptr, 16), KH_ERR_DECRYPT);
	unwrap_must_fail(kh_buf_slice(&kek), KH_SLICE(w.ptr + 8, 24), KH_ERR_DECRYPT);
	memcpy(longer, w.ptr, 32);
	memset(longer + 32, 0, 8);
	unwrap_must_fail(kh_buf_slice(&kek), KH_SLICE(longer, sizeof(longer)), KH_ERR_DECRYPT);
	memcpy(swapped, w.ptr, 32);
	memcpy(swapped + 8, w.ptr + 16, 8);
	memcpy(swapped + 16, w.ptr + 8, 8);
	unwrap_must_fail(kh_buf_slice(&kek), KH_SLICE(swapped, sizeof(swapped)), KH_ERR_DECRYPT);
	kh_buf_cleanup(&kek);
	kh_buf_cleanup(&w);
}

static void unwrap_rejects_an_rfc3394_wrapping_which_has_the_other_aiv(void **state)
{
	/* RFC 3394 section 4.1: 128 bits of key data with a 128-bit KEK. RFC 5649 uses the AIV
	 * A65959A6 || MLI, so a plain RFC 3394 wrapping must not unwrap, and wrapping the same
	 * key must give a different result. */
	struct kh_buf kek = kh_test_hex("000102030405060708090a0b0c0d0e0f");
	struct kh_buf w3394 = kh_test_hex("1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5");
	struct kh_buf key = kh_test_hex("00112233445566778899aabbccddeeff");
	struct kh_buf out;
	(void)state;
	unwrap_must_fail(kh_buf_slice(&kek), kh_buf_slice(&w3394), KH_ERR_DECRYPT);
	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_keywrap_wrap(kh_buf_slice(&kek), kh_buf_slice(&key), &out), KH_OK);
	assert_int_equal(out.len, w3394.len);
	assert_memory_not_equal(out.ptr, w3394.ptr, w3394.len);
	kh_buf_cleanup(&kek);
	kh_buf_cleanup(&w3394);
	kh_buf_cleanup(&key);
	kh_buf_cleanup(&out);
}

static void unwrap_refuses_short_misaligned_and_oversized_input_by_length(void **state)
{
	static const size_t bad[] = {0, 1, 7, 8, 9, 15, 17, 23, 31, 33};
	static uint8_t in[KH_LIMIT_KEYWRAP_BYTES + 64];
	uint8_t kek[24] = {0};
	size_t wrapped_max = (KH_LIMIT_KEYWRAP_BYTES + 7) / 8 * 8 + 8;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		unwrap_must_fail(KH_SLICE(kek, sizeof(kek)), KH_SLICE(in, bad[i]),
		                 KH_ERR_BAD_INPUT);
	/* The longest wrapping of an allowed key is checked cryptographically; longer is refused
	 * before any work. */
	unwrap_must_fail(KH_SLICE(kek, sizeof(kek)), KH_SLICE(in, wrapped_max), KH_ERR_DECRYPT);
	unwrap_must_fail(KH_SLICE(kek, sizeof(kek)), KH_SLICE(in, wrapped_max + 8),
	                 KH_ERR_TOO_LARGE);
}

static void wrap_refuses_empty_and_oversized_keys(void **state)
{
	static uint8_t data[KH_LIMIT_KEYWRAP_BYTES + 1];
	uint8_t kek[16] = {0};
	struct kh_buf out;
	(void)state;
	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_keywrap_wrap(KH_SLICE(kek, 16), KH_SLICE_EMPTY, &out),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keywrap_wrap(KH_SLICE(kek, 16), KH_SLICE(data, sizeof(data)), &out),
	                 KH_ERR_TOO_LARGE);
	assert_int_equal(out.len, 0);
	kh_buf_cleanup(&out);
}

static void wrap_and_unwrap_refuse_kek_lengths_other_than_16_24_32(void **state)
{
	static const size_t bad[] = {0, 1, 8, 15, 17, 20, 23, 25, 31, 33, 64};
	uint8_t kek[64] = {0};
	uint8_t in[24] = {0};
	struct kh_buf out;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
		assert_int_equal(kh_keywrap_wrap(KH_SLICE(kek, bad[i]), KH_SLICE(in, 16), &out),
		                 KH_ERR_BAD_KEY);
		assert_int_equal(out.len, 0);
		kh_buf_cleanup(&out);
		unwrap_must_fail(KH_SLICE(kek, bad[i]), KH_SLICE(in, sizeof(in)), KH_ERR_BAD_KEY);
	}
}

static void unwrap_refuses_a_non_secure_output_buffer(void **state)
{
	struct kh_buf kek = kh_test_hex(vectors[1].kek);
	struct kh_buf w = kh_test_hex(vectors[1].wrapped);
	struct kh_buf plain;
	(void)state;
	kh_buf_init(&plain, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_keywrap_unwrap(kh_buf_slice(&kek), kh_buf_slice(&w), &plain),
	                 KH_ERR_INTERNAL);
	assert_int_equal(plain.len, 0);
	kh_buf_cleanup(&kek);
	kh_buf_cleanup(&w);
	kh_buf_cleanup(&plain);
}

static void unwrap_needs_room_for_the_key_only_not_the_padding(void **state)
{
	struct kh_buf kek = kh_test_hex(vectors[0].kek);
	struct kh_buf w = kh_test_hex(vectors[0].wrapped); /* 32 bytes holding a 20-byte key */
	struct kh_buf exact;
	struct kh_buf small;
	(void)state;
	kh_buf_init(&exact, 20, KH_BUF_SECURE);
	assert_int_equal(kh_keywrap_unwrap(kh_buf_slice(&kek), kh_buf_slice(&w), &exact), KH_OK);
	kh_test_assert_hex(kh_buf_slice(&exact), vectors[0].key);
	kh_buf_init(&small, 19, KH_BUF_SECURE);
	assert_int_equal(kh_keywrap_unwrap(kh_buf_slice(&kek), kh_buf_slice(&w), &small),
	                 KH_ERR_TOO_LARGE);
	assert_int_equal(small.len, 0);
	kh_buf_cleanup(&kek);
	kh_buf_cleanup(&w);
	kh_buf_cleanup(&exact);
	kh_buf_cleanup(&small);
}

static kh_rc wrap_unwrap_round(void *arg)
{
	static const uint8_t kek[32] = {9};
	static const uint8_t key[20] = {1, 2, 3};
	struct kh_buf out;
	struct kh_buf back;
	kh_rc rc;

	(void)arg;
	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&back, BUF_MAX, KH_BUF_SECURE);
	rc = kh_keywrap_wrap(KH_SLICE(kek, sizeof(kek)), KH_SLICE(key, sizeof(key)), &out);
	if (rc == KH_OK)
		rc = kh_keywrap_unwrap(KH_SLICE(kek, sizeof(kek)), kh_buf_slice(&out), &back);
	if (rc == KH_OK && (back.len != sizeof(key) || memcmp(back.ptr, key, sizeof(key)) != 0))
		rc = KH_ERR_INTERNAL;
	kh_buf_cleanup(&out);
	kh_buf_cleanup(&back);
	return rc;
}

static void wrap_and_unwrap_return_nomem_without_leaking_on_every_allocation_failure(void **state)
{
	(void)state;
	kh_test_alloc_failures(wrap_unwrap_round, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(wrap_and_unwrap_match_rfc5649_section6_and_cli_vectors),
	    cmocka_unit_test(wrap_and_unwrap_append_after_existing_contents),
	    cmocka_unit_test(round_trips_every_length_to_72_and_the_limit_under_every_kek_size),
	    cmocka_unit_test(unwrap_rejects_every_flipped_bit_of_the_rfc5649_vectors),
	    cmocka_unit_test(unwrap_rejects_a_wrong_kek_of_any_size),
	    cmocka_unit_test(unwrap_rejects_truncated_extended_and_swapped_wrappings),
	    cmocka_unit_test(unwrap_rejects_an_rfc3394_wrapping_which_has_the_other_aiv),
	    cmocka_unit_test(unwrap_refuses_short_misaligned_and_oversized_input_by_length),
	    cmocka_unit_test(wrap_refuses_empty_and_oversized_keys),
	    cmocka_unit_test(wrap_and_unwrap_refuse_kek_lengths_other_than_16_24_32),
	    cmocka_unit_test(unwrap_refuses_a_non_secure_output_buffer),
	    cmocka_unit_test(unwrap_needs_room_for_the_key_only_not_the_padding),
	    cmocka_unit_test(
	        wrap_and_unwrap_return_nomem_without_leaking_on_every_allocation_failure),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
