/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Public-key encryption: ciphertexts made by the openssl command line (RSA-OAEP with SHA-256
 * and MGF1-SHA-256; SM2 with SM3 in GM/T 0009 DER, from `openssl pkeyutl -encrypt`; made by
 * tests/data/gen_sign_vectors.sh) decrypt here; our ciphertexts round-trip at the edges of the
 * capacity, including through public-only keys; and every altered, truncated, extended or
 * foreign ciphertext is KH_ERR_DECRYPT. Plaintext comes out only into secure buffers.
 */
#include "kh_test_crypto.h"

#include <stdio.h>
#include <string.h>

#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

#define BUF_MAX (128u * 1024u)
/* RFC 8017 7.1.1: k - 2 * hLen - 2 with k = 256, hLen = 32. */
#define RSA2048_OAEP_MAX 190u

static void decrypts_openssl_cli_ciphertexts(void **state)
{
	static const char *const cases[][2] = {
	    {"rsa2048.key.pem", "rsa2048.oaep.ct"},
	    {"sm2.key.pem", "sm2.ct"},
	};
	struct kh_buf want = kh_test_pkey_file("pt.bin");

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct kh_pkey *key = kh_test_pkey_load(cases[i][0], true);
		struct kh_buf ct = kh_test_pkey_file(cases[i][1]);
		struct kh_buf pt;

		kh_buf_init(&pt, BUF_MAX, KH_BUF_SECURE);
		assert_int_equal(kh_pkey_decrypt(key, kh_buf_slice(&ct), &pt), KH_OK);
		assert_true(kh_slice_eq(kh_buf_slice(&pt), kh_buf_slice(&want)));
		assert_true(kh_secure_owns(pt.ptr));
		kh_pkey_free(&key);
		kh_buf_cleanup(&ct);
		kh_buf_cleanup(&pt);
	}
	kh_buf_cleanup(&want);
}

/* Encrypt with the public-only key, decrypt with the private key; two encryptions differ. */
static void round_trip(const struct kh_pkey *pub, const struct kh_pkey *key, size_t len)
{
	struct kh_buf msg, ct, ct2, pt;
	uint8_t *p = NULL;

	kh_buf_init(&msg, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&ct, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&ct2, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&pt, BUF_MAX, KH_BUF_SECURE);
	assert_int_equal(kh_buf_extend(&msg, len, &p), KH_OK);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + 1);
	kh_buf_commit(&msg, len);
	assert_int_equal(kh_pkey_encrypt(pub, kh_buf_slice(&msg), &ct), KH_OK);
	assert_int_equal(kh_pkey_encrypt(key, kh_buf_slice(&msg), &ct2), KH_OK);
	assert_false(kh_slice_eq(kh_buf_slice(&ct), kh_buf_slice(&ct2)));
	assert_int_equal(kh_pkey_decrypt(key, kh_buf_slice(&ct), &pt), KH_OK);
	assert_true(kh_slice_eq(kh_buf_slice(&pt), kh_buf_slice(&msg)));
	kh_buf_clear(&pt);
	assert_int_equal(kh_pkey_decrypt(key, kh_buf_slice(&ct2), &pt), KH_OK);
	assert_true(kh_slice_eq(kh_buf_slice(&pt), kh_buf_slice(&msg)));
	kh_buf_cleanup(&msg);
	kh_buf_cleanup(&ct);
	kh_buf_cleanup(&ct2);
	kh_buf_cleanup(&pt);
}

static kh_rc encrypt_len(const struct kh_pkey *key, size_t len)
{
	static uint8_t zeros[KH_LIMIT_PLAINTEXT_BYTES + 1];
	struct kh_buf ct;
	kh_rc rc;

	kh_buf_init(&ct, BUF_MAX, KH_BUF_PLAIN);
	rc = kh_pkey_encrypt(key, KH_SLICE(zeros, len), &ct);
	if (rc != KH_OK)
		assert_int_equal(ct.len, 0);
	kh_buf_cleanup(&ct);
	return rc;
}

static void rsa_oaep_round_trips_up_to_capacity(void **state)
{
	struct kh_pkey *key = kh_test_pkey_load("rsa2048.key.pem", true);
	struct kh_pkey *pub = kh_test_pkey_load("rsa2048.pub.pem", false);
	static const size_t lens[] = {0, 1, 32, RSA2048_OAEP_MAX};

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		round_trip(pub, key, lens[i]);
	assert_int_equal(encrypt_len(pub, RSA2048_OAEP_MAX + 1), KH_ERR_TOO_LARGE);
	assert_int_equal(encrypt_len(pub, 256), KH_ERR_TOO_LARGE);
	kh_pkey_free(&key);
	kh_pkey_free(&pub);
}

static void sm2_round_trips_up_to_the_plaintext_limit(void **state)
{
	struct kh_pkey *key = kh_test_pkey_load("sm2.key.pem", true);
	struct kh_pkey *pub = kh_test_pkey_load("sm2.pub.pem", false);
	static const size_t lens[] = {1, 31, 32, 33, 1000, KH_LIMIT_PLAINTEXT_BYTES};

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		round_trip(pub, key, lens[i]);
	assert_int_equal(encrypt_len(pub, KH_LIMIT_PLAINTEXT_BYTES + 1), KH_ERR_TOO_LARGE);
	/* GB/T 32918.4: an empty plaintext has no key stream to check. */
	assert_int_equal(encrypt_len(pub, 0), KH_ERR_BAD_INPUT);
	kh_pkey_free(&key);
	kh_pkey_free(&pub);
}

/* Generated keys, including RSA-3072 (capacity 318). */
static void generated_keys_round_trip(void **state)
{
	struct kh_pkey *rsa = NULL, *sm2 = NULL;

	(void)state;
	assert_int_equal(kh_pkey_generate(KH_PKEY_RSA_3072, &rsa), KH_OK);
	assert_int_equal(kh_pkey_generate(KH_PKEY_SM2, &sm2), KH_OK);
	round_trip(rsa, rsa, 384 - 66);
	assert_int_equal(encrypt_len(rsa, 384 - 65), KH_ERR_TOO_LARGE);
	round_trip(sm2, sm2, 100);
	kh_pkey_free(&rsa);
	kh_pkey_free(&sm2);
}

/* Every single-byte change, every truncation, one appended byte, and the empty input. */
static void assert_tampering_detected(const struct kh_pkey *key, struct kh_slice ct)
{
	struct kh_buf t, pt;

	kh_buf_init(&t, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&pt, BUF_MAX, KH_BUF_SECURE);
	assert_int_equal(kh_buf_append(&t, ct), KH_OK);
	assert_int_equal(kh_buf_append_byte(&t, 0), KH_OK);
	for (size_t i = 0; i < ct.len; i++) {
		t.ptr[i] ^= 0x01;
		if (kh_pkey_decrypt(key, KH_SLICE(t.ptr, ct.len), &pt) != KH_ERR_DECRYPT)
			fail_msg("flipping byte %zu was not detected", i);
		t.ptr[i] ^= 0x01;
	}
	for (size_t n = 0; n < ct.len; n += (n < 8 || ct.len - n < 8) ? 1 : 13)
		if (kh_pkey_decrypt(key, KH_SLICE(t.ptr, n), &pt) != KH_ERR_DECRYPT)
			fail_msg("truncation to %zu bytes was not detected", n);
	assert_int_equal(kh_pkey_decrypt(key, kh_buf_slice(&t), &pt), KH_ERR_DECRYPT);
	assert_int_equal(kh_pkey_decrypt(key, KH_SLICE_EMPTY, &pt), KH_ERR_DECRYPT);
	assert_int_equal(pt.len, 0);
	/* Untouched, it still decrypts. */
	assert_int_equal(kh_pkey_decrypt(key, ct, &pt), KH_OK);
	kh_buf_cleanup(&t);
	kh_buf_cleanup(&pt);
}

static void altered_ciphertexts_fail_with_decrypt_error(void **state)
{
	struct kh_pkey *rsa = kh_test_pkey_load("rsa2048.key.pem", true);
	struct kh_pkey *sm2 = kh_test_pkey_load("sm2.key.pem", true);
	struct kh_buf rsa_ct = kh_test_pkey_file("rsa2048.oaep.ct");
	struct kh_buf sm2_ct = kh_test_pkey_file("sm2.ct");

	(void)state;
	assert_tampering_detected(rsa, kh_buf_slice(&rsa_ct));
	assert_tampering_detected(sm2, kh_buf_slice(&sm2_ct));
	kh_pkey_free(&rsa);
	kh_pkey_free(&sm2);
	kh_buf_cleanup(&rsa_ct);
	kh_buf_cleanup(&sm2_ct);
}

static void ciphertexts_for_another_key_fail_with_decrypt_error(void **state)
{
	struct kh_pkey *rsa = NULL, *sm2 = NULL;
	struct kh_buf rsa_ct = kh_test_pkey_file("rsa2048.oaep.ct");
	struct kh_buf sm2_ct = kh_test_pkey_file("sm2.ct");
	struct kh_buf pt;

	(void)state;
	kh_buf_init(&pt, BUF_MAX, KH_BUF_SECURE);
	assert_int_equal(kh_pkey_generate(KH_PKEY_RSA_2048, &rsa), KH_OK);
	assert_int_equal(kh_pkey_generate(KH_PKEY_SM2, &sm2), KH_OK);
	assert_int_equal(kh_pkey_decrypt(rsa, kh_buf_slice(&rsa_ct), &pt), KH_ERR_DECRYPT);
	assert_int_equal(kh_pkey_decrypt(sm2, kh_buf_slice(&sm2_ct), &pt), KH_ERR_DECRYPT);
	/* An RSA ciphertext handed to an SM2 key is malformed, not a crash. */
	assert_int_equal(kh_pkey_decrypt(sm2, kh_buf_slice(&rsa_ct), &pt), KH_ERR_DECRYPT);
	assert_int_equal(kh_pkey_decrypt(rsa, kh_buf_slice(&sm2_ct), &pt), KH_ERR_DECRYPT);
	assert_int_equal(pt.len, 0);
	kh_pkey_free(&rsa);
	kh_pkey_free(&sm2);
	kh_buf_cleanup(&rsa_ct);
	kh_buf_cleanup(&sm2_ct);
	kh_buf_cleanup(&pt);
}

/* Alternative encodings of a valid SM2 ciphertext that OpenSSL 3.0 would decrypt: a needlessly
 * long length, BER indefinite length, a padded INTEGER; and an oversized input. All refused. */
static void sm2_refuses_non_der_framing_and_oversized_input(void **state)
{
	static uint8_t big[KH_LIMIT_PLAINTEXT_BYTES + 1024];
	struct kh_pkey *sm2 = kh_test_pkey_load("sm2.key.pem", true);
	struct kh_buf ct = kh_test_pkey_file("sm2.ct");
	struct kh_buf alt, pt;
	struct kh_slice body;
	uint8_t hdr[4];

	(void)state;
	kh_buf_init(&pt, BUF_MAX, KH_BUF_SECURE);
	/* The 34-byte plaintext makes a SEQUENCE of 128..255 bytes: 30 81 LL. */
	assert_int_equal(ct.ptr[0], 0x30);
	assert_int_equal(ct.ptr[1], 0x81);
	body = KH_SLICE(ct.ptr + 3, ct.len - 3);
	/* 30 82 00 LL: a two-byte length where one byte suffices. */
	hdr[0] = 0x30;
	hdr[1] = 0x82;
	hdr[2] = 0x00;
	hdr[3] = ct.ptr[2];
	kh_buf_init(&alt, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&alt, KH_SLICE(hdr, 4)), KH_OK);
	assert_int_equal(kh_buf_append(&alt, body), KH_OK);
	assert_int_equal(kh_pkey_decrypt(sm2, kh_buf_slice(&alt), &pt), KH_ERR_DECRYPT);
	kh_buf_cleanup(&alt);
	/* 30 80 ... 00 00: BER indefinite length. */
	kh_buf_init(&alt, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&alt, KH_SLICE("\x30\x80", 2)), KH_OK);
	assert_int_equal(kh_buf_append(&alt, body), KH_OK);
	assert_int_equal(kh_buf_append(&alt, KH_SLICE("\0\0", 2)), KH_OK);
	assert_int_equal(kh_pkey_decrypt(sm2, kh_buf_slice(&alt), &pt), KH_ERR_DECRYPT);
	kh_buf_cleanup(&alt);
	/* x with a redundant leading zero byte (X.690 8.3.2), the SEQUENCE one byte longer. */
	assert_int_equal(ct.ptr[3], 0x02);
	assert_true(ct.ptr[2] < 0xff && ct.ptr[4] < 0x7f);
	hdr[0] = 0x30;
	hdr[1] = 0x81;
	hdr[2] = (uint8_t)(ct.ptr[2] + 1);
	kh_buf_init(&alt, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&alt, KH_SLICE(hdr, 3)), KH_OK);
	hdr[0] = 0x02;
	hdr[1] = (uint8_t)(ct.ptr[4] + 1);
	hdr[2] = 0x00;
	assert_int_equal(kh_buf_append(&alt, KH_SLICE(hdr, 3)), KH_OK);
	assert_int_equal(kh_buf_append(&alt, KH_SLICE(ct.ptr + 5, ct.len - 5)), KH_OK);
	assert_int_equal(kh_pkey_decrypt(sm2, kh_buf_slice(&alt), &pt), KH_ERR_DECRYPT);
	kh_buf_cleanup(&alt);
	assert_int_equal(kh_pkey_decrypt(sm2, KH_SLICE(big, sizeof(big)), &pt), KH_ERR_TOO_LARGE);
	assert_int_equal(pt.len, 0);
	kh_pkey_free(&sm2);
	kh_buf_cleanup(&ct);
	kh_buf_cleanup(&pt);
}

static void keys_that_cannot_encrypt_are_refused(void **state)
{
	static const char *const files[] = {"p256.key.pem", "p384.key.pem"};
	struct kh_buf ct = kh_test_pkey_file("rsa2048.oaep.ct");
	struct kh_buf out, pt;
	struct kh_pkey *ed = NULL;

	(void)state;
	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&pt, BUF_MAX, KH_BUF_SECURE);
	assert_int_equal(kh_pkey_generate(KH_PKEY_ED25519, &ed), KH_OK);
	assert_int_equal(kh_pkey_encrypt(ed, KH_SLICE_LIT("x"), &out), KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(kh_pkey_decrypt(ed, kh_buf_slice(&ct), &pt), KH_ERR_WRONG_KEY_TYPE);
	kh_pkey_free(&ed);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct kh_pkey *key = kh_test_pkey_load(files[i], true);
		assert_int_equal(kh_pkey_encrypt(key, KH_SLICE_LIT("x"), &out),
		                 KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_pkey_decrypt(key, kh_buf_slice(&ct), &pt),
		                 KH_ERR_WRONG_KEY_TYPE);
		kh_pkey_free(&key);
	}
	assert_int_equal(out.len, 0);
	assert_int_equal(pt.len, 0);
	kh_buf_cleanup(&ct);
	kh_buf_cleanup(&out);
	kh_buf_cleanup(&pt);
}

static void decrypt_needs_private_key_and_secure_buffer(void **state)
{
	static const char *const names[][3] = {
	    {"rsa2048.key.pem", "rsa2048.pub.pem", "rsa2048.oaep.ct"},
	    {"sm2.key.pem", "sm2.pub.pem", "sm2.ct"},
	};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct kh_pkey *key = kh_test_pkey_load(names[i][0], true);
		struct kh_pkey *pub = kh_test_pkey_load(names[i][1], false);
		struct kh_buf ct = kh_test_pkey_file(names[i][2]);
		struct kh_buf plain, secure;

		kh_buf_init(&plain, BUF_MAX, KH_BUF_PLAIN);
		kh_buf_init(&secure, BUF_MAX, KH_BUF_SECURE);
		assert_int_equal(kh_pkey_decrypt(key, kh_buf_slice(&ct), &plain), KH_ERR_INTERNAL);
		assert_int_equal(plain.len, 0);
		assert_int_equal(kh_pkey_decrypt(pub, kh_buf_slice(&ct), &secure),
		                 KH_ERR_WRONG_KEY_TYPE);
		/* Output is appended after what the buffer held. */
		assert_int_equal(kh_buf_append_cstr(&secure, "pre:"), KH_OK);
		assert_int_equal(kh_pkey_decrypt(key, kh_buf_slice(&ct), &secure), KH_OK);
		assert_memory_equal(secure.ptr, "pre:keyhold", 11);
		kh_pkey_free(&key);
		kh_pkey_free(&pub);
		kh_buf_cleanup(&ct);
		kh_buf_cleanup(&plain);
		kh_buf_cleanup(&secure);
	}
}

struct decrypt_arg {
	const struct kh_pkey *key;
	struct kh_slice ct;
};

static kh_rc decrypt_once(void *p)
{
	const struct decrypt_arg *a = p;
	struct kh_buf pt;
	kh_rc rc;

	kh_buf_init(&pt, BUF_MAX, KH_BUF_SECURE);
	rc = kh_pkey_decrypt(a->key, a->ct, &pt);
	kh_buf_cleanup(&pt);
	return rc;
}

static void decrypt_survives_allocation_failures(void **state)
{
	struct kh_pkey *key = kh_test_pkey_load("sm2.key.pem", true);
	struct kh_buf ct = kh_test_pkey_file("sm2.ct");
	struct decrypt_arg a = {key, kh_buf_slice(&ct)};

	(void)state;
	kh_test_alloc_failures(decrypt_once, &a);
	kh_pkey_free(&key);
	kh_buf_cleanup(&ct);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(decrypts_openssl_cli_ciphertexts),
	    cmocka_unit_test(rsa_oaep_round_trips_up_to_capacity),
	    cmocka_unit_test(sm2_round_trips_up_to_the_plaintext_limit),
	    cmocka_unit_test(generated_keys_round_trip),
	    cmocka_unit_test(altered_ciphertexts_fail_with_decrypt_error),
	    cmocka_unit_test(ciphertexts_for_another_key_fail_with_decrypt_error),
	    cmocka_unit_test(sm2_refuses_non_der_framing_and_oversized_input),
	    cmocka_unit_test(keys_that_cannot_encrypt_are_refused),
	    cmocka_unit_test(decrypt_needs_private_key_and_secure_buffer),
	    cmocka_unit_test(decrypt_survives_allocation_failures),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
