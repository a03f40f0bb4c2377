/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes every path that takes a ciphertext or signature from outside: SM2 ciphertexts (our
 * own strict-DER check, then OpenSSL), RFC 5649 wrapped keys, the three AEADs (nonce, tag and
 * ciphertext cut from the input), and DER signatures for SM2 and ECDSA. Keys are fixed for the
 * run. Properties beyond "no crash": nothing the fuzzer makes may decrypt or verify (that
 * would be a forgery), and a refused input leaves the output buffer empty.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/kh_crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kh_pkey *sm2;
static struct kh_pkey *p256;
static struct kh_aead_key *aeads[3];
static const uint8_t kek[32] = "fuzzing key-encryption key 32 B";

static void setup(void)
{
	static const uint8_t key[KH_AEAD_KEY_LEN] = "fuzzing aead key of 32 bytes...";
	static const enum kh_aead algs[3] = {KH_AEAD_AES_256_GCM, KH_AEAD_CHACHA20_POLY1305,
	                                     KH_AEAD_SM4_CTR_HMAC_SM3};

	if (kh_crypto_init() != KH_OK || kh_pkey_generate(KH_PKEY_SM2, &sm2) != KH_OK ||
	    kh_pkey_generate(KH_PKEY_EC_P256, &p256) != KH_OK)
		abort();
	for (size_t i = 0; i < 3; i++)
		if (kh_aead_key_new(algs[i], KH_SLICE(key, sizeof(key)), &aeads[i]) != KH_OK)
			abort();
}

/* A refusal must leave nothing behind; success would be a forgery. */
static void must_refuse(kh_rc rc, const struct kh_buf *out)
{
	if (rc == KH_OK || (out != NULL && out->len != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct kh_slice in = KH_SLICE(data, size);
	struct kh_buf out;
	uint8_t pt[512];

	if (!ready) {
		setup();
		ready = 1;
	}
	kh_buf_init(&out, 1 << 16, KH_BUF_SECURE);
	must_refuse(kh_pkey_decrypt(sm2, in, &out), &out);
	must_refuse(kh_keywrap_unwrap(KH_SLICE(kek, sizeof(kek)), in, &out), &out);
	kh_buf_cleanup(&out);

	if (size >= KH_AEAD_NONCE_LEN + KH_AEAD_TAG_LEN &&
	    size - KH_AEAD_NONCE_LEN - KH_AEAD_TAG_LEN <= sizeof(pt)) {
		struct kh_slice nonce = KH_SLICE(data, KH_AEAD_NONCE_LEN);
		struct kh_slice tag = KH_SLICE(data + KH_AEAD_NONCE_LEN, KH_AEAD_TAG_LEN);
		struct kh_slice ct = KH_SLICE(data + KH_AEAD_NONCE_LEN + KH_AEAD_TAG_LEN,
		                              size - KH_AEAD_NONCE_LEN - KH_AEAD_TAG_LEN);
		for (size_t i = 0; i < 3; i++) {
			must_refuse(kh_aead_open(aeads[i], nonce, KH_SLICE_LIT("aad"), ct, tag, pt),
			            NULL);
			for (size_t j = 0; j < ct.len; j++)
				if (pt[j] != 0) /* a failed open wipes what it wrote */
					abort();
		}
	}

	must_refuse(kh_pkey_verify(sm2, KH_SIG_SM2_SM3, KH_SLICE_LIT("abc"), KH_SLICE_EMPTY, in),
	            NULL);
	must_refuse(
	    kh_pkey_verify(p256, KH_SIG_ECDSA_SHA256, KH_SLICE_LIT("abc"), KH_SLICE_EMPTY, in),
	    NULL);
	return 0;
}
