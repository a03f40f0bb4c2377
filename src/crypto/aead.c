/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Authenticated encryption: AES-256-GCM (NIST SP 800-38D), ChaCha20-Poly1305 (RFC 8439), and
 * SM4-CTR with HMAC-SM3 (encrypt-then-MAC, the composition described in kh_crypto.h, because
 * OpenSSL 3.0 has no SM4-GCM).
 *
 * A key object keeps an EVP_CIPHER_CTX whose key schedule was computed once at creation, so a
 * seal or open only sets the nonce: EVP_CipherInit_ex2 with a NULL cipher and NULL key keeps
 * the key and resets the per-message state. The SM4 composite also keeps an HMAC-SM3 context
 * keyed once; EVP_MAC_init with a NULL key restarts it under the same key. This keeps the
 * wrapper within a few percent of raw EVP calls for small messages.
 *
 * Error choices: a tag that is not exactly KH_AEAD_TAG_LEN bytes fails to open with
 * KH_ERR_DECRYPT, like any other forgery (the caller learns nothing about why); a nonce of the
 * wrong length is KH_ERR_BAD_INPUT because it is the caller's mistake, not the data's.
 */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <string.h>

#include "base/kh_mem.h"
#include "crypto/kh_crypto_int.h"

struct kh_aead_key {
	enum kh_aead alg;
	uint8_t *key;           /* KH_AEAD_KEY_LEN bytes, secure memory; kept for _dup */
	EVP_CIPHER_CTX *cipher; /* key schedule set; each operation sets only the nonce */
	EVP_MAC_CTX *mac;       /* SM4 composite only: HMAC-SM3 keyed with MAC_KEY */
	size_t iv_len;          /* IV length the context is set for: 12, or 16 (SM4, XKS GCM) */
};

/* kh_crypto.h: the SM4 key is MAC_KEY (16) || ENC_KEY (16), as in RFC 7518 section 5.2.2. */
enum {
	SM4_KEY_HALF = 16,
	SM4_BLOCK = 16,
	XKS_GCM_NONCE_LEN = 16
};

/* EVP update calls take an int length; longer inputs go in pieces of this size. */
enum {
	EVP_CHUNK = 1 << 30
};

/* kh_crypto.h: pt.len and aad.len <= 2^31. Also keeps the SM4-CTR counter, which starts at 1
 * in the low 32 bits, from ever carrying into the nonce (2^31 bytes = 2^27 blocks). */
#define AEAD_MAX_LEN ((size_t)1 << 31)

static const EVP_CIPHER *cipher_of(enum kh_aead alg)
{
	switch (alg) {
	case KH_AEAD_AES_256_GCM:
		return kh_algs.aes_256_gcm;
	case KH_AEAD_CHACHA20_POLY1305:
		return kh_algs.chacha20_poly1305;
	case KH_AEAD_SM4_CTR_HMAC_SM3:
		return kh_algs.sm4_ctr;
	}
	return NULL;
}

static bool alg_known(enum kh_aead alg)
{
	return alg == KH_AEAD_AES_256_GCM || alg == KH_AEAD_CHACHA20_POLY1305 ||
	       alg == KH_AEAD_SM4_CTR_HMAC_SM3;
}

/* Creates the cipher (and for SM4 the MAC) contexts with the key schedule in place. */
static kh_rc key_contexts_init(struct kh_aead_key *k)
{
	const uint8_t *enc_key = k->key;
	OSSL_PARAM params[2];

	k->cipher = EVP_CIPHER_CTX_new();
	KH_ENSURE(k->cipher != NULL, KH_ERR_NOMEM);
	if (k->alg == KH_AEAD_SM4_CTR_HMAC_SM3) {
		enc_key = k->key + SM4_KEY_HALF;
		k->mac = EVP_MAC_CTX_new(kh_algs.hmac);
		KH_ENSURE(k->mac != NULL, KH_ERR_NOMEM);
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_MAC_PARAM_DIGEST, kh_unconst(kh_md_name(KH_HASH_SM3)), 0);
		params[1] = OSSL_PARAM_construct_end();
		if (EVP_MAC_init(k->mac, k->key, SM4_KEY_HALF, params) != 1)
			return kh_ossl_error("EVP_MAC_init");
	}
	if (EVP_CipherInit_ex2(k->cipher, cipher_of(k->alg), enc_key, NULL, 1, NULL) != 1)
		return kh_ossl_error("EVP_CipherInit_ex2");
	k->iv_len = k->alg == KH_AEAD_SM4_CTR_HMAC_SM3 ? SM4_BLOCK : KH_AEAD_NONCE_LEN;
	return KH_OK;
}

kh_rc kh_aead_key_new(enum kh_aead alg, struct kh_slice key, struct kh_aead_key **out)
{
	struct kh_aead_key *k = NULL;
	kh_rc rc;

	KH_ENSURE(alg_known(alg), KH_ERR_BAD_INPUT);
	KH_ENSURE(key.len == KH_AEAD_KEY_LEN, KH_ERR_BAD_KEY);
	KH_ENSURE(cipher_of(alg) != NULL && kh_algs.hmac != NULL, KH_ERR_INTERNAL); /* no init */
	k = kh_calloc(1, sizeof(*k));
	KH_ENSURE(k != NULL, KH_ERR_NOMEM);
	k->alg = alg;
	k->key = kh_secure_alloc(KH_AEAD_KEY_LEN);
	KH_ENSURE_OUT(k->key != NULL, KH_ERR_NOMEM);
	memcpy(k->key, key.ptr, KH_AEAD_KEY_LEN);
	KH_GUARD_OUT(key_contexts_init(k));
	*out = k;
	k = NULL;
	rc = KH_OK;
out:
	kh_aead_key_free(&k);
	return rc;
}

/* Built afresh from the key bytes rather than with EVP_CIPHER_CTX_copy: a new key schedule
 * costs about a microsecond, and a fresh context shares no state with the original. */
kh_rc kh_aead_key_dup(const struct kh_aead_key *key, struct kh_aead_key **out)
{
	return kh_aead_key_new(key->alg, KH_SLICE(key->key, KH_AEAD_KEY_LEN), out);
}

enum kh_aead kh_aead_key_alg(const struct kh_aead_key *key)
{
	return key->alg;
}

void kh_aead_key_free(struct kh_aead_key **key)
{
	struct kh_aead_key *k;

	if (key == NULL || *key == NULL)
		return;
	k = *key;
	EVP_CIPHER_CTX_free(k->cipher); /* cleanses the key schedule */
	EVP_MAC_CTX_free(k->mac);
	kh_secure_free(&k->key);
	kh_free(key);
}

/* Feeds len bytes through the cipher; out == NULL feeds associated data (GCM, ChaCha). */
static kh_rc cipher_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
	while (len > 0) {
		int n = len > EVP_CHUNK ? EVP_CHUNK : (int)len;
		int outl = 0;

		if (EVP_CipherUpdate(ctx, out, &outl, in, n) != 1)
			return kh_ossl_error("EVP_CipherUpdate");
		/* Every mode here is a stream mode: data out equals data in, nothing buffered. */
		KH_ENSURE(out == NULL || outl == n, KH_ERR_LIBCRYPTO);
		in += n;
		if (out != NULL)
			out += n;
		len -= (size_t)n;
	}
	return KH_OK;
}

/* Checks the nonce length and starts a message in direction enc (1 seal, 0 open). */
static kh_rc cipher_start(struct kh_aead_key *k, const uint8_t *iv, size_t iv_len, int enc)
{
	if (iv_len != k->iv_len) {
		/* Only GCM gets here (see nonce_ok): XKS sends 16-byte nonces. */
		size_t want = iv_len;
		OSSL_PARAM params[2];

		params[0] = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &want);
		params[1] = OSSL_PARAM_construct_end();
		if (EVP_CIPHER_CTX_set_params(k->cipher, params) != 1)
			return kh_ossl_error("setting the GCM IV length");
		k->iv_len = iv_len;
	}
	if (EVP_CipherInit_ex2(k->cipher, NULL, NULL, iv, enc, NULL) != 1)
		return kh_ossl_error("EVP_CipherInit_ex2");
	return KH_OK;
}

static bool nonce_ok(enum kh_aead alg, struct kh_slice nonce)
{
	if (nonce.len == KH_AEAD_NONCE_LEN)
		return true;
	return alg == KH_AEAD_AES_256_GCM && nonce.len == XKS_GCM_NONCE_LEN;
}

/* GCM and ChaCha20-Poly1305 through EVP's AEAD interface. */
static kh_rc evp_aead_seal(struct kh_aead_key *k, struct kh_slice nonce, struct kh_slice aad,
                           struct kh_slice pt, uint8_t *ct_out, uint8_t *tag_out)
{
	uint8_t tail[EVP_MAX_BLOCK_LENGTH];
	OSSL_PARAM params[2];
	int outl = 0;

	KH_GUARD(cipher_start(k, nonce.ptr, nonce.len, 1));
	KH_GUARD(cipher_update(k->cipher, NULL, aad.ptr, aad.len));
	KH_GUARD(cipher_update(k->cipher, ct_out, pt.ptr, pt.len));
	if (EVP_CipherFinal_ex(k->cipher, tail, &outl) != 1)
		return kh_ossl_error("EVP_CipherFinal_ex");
	KH_ENSURE(outl == 0, KH_ERR_LIBCRYPTO);
	params[0] =
	    OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag_out, KH_AEAD_TAG_LEN);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_CIPHER_CTX_get_params(k->cipher, params) != 1)
		return kh_ossl_error("getting the AEAD tag");
	return KH_OK;
}

static kh_rc evp_aead_open(struct kh_aead_key *k, struct kh_slice nonce, struct kh_slice aad,
                           struct kh_slice ct, struct kh_slice tag, uint8_t *pt_out)
{
	uint8_t tail[EVP_MAX_BLOCK_LENGTH];
	OSSL_PARAM params[2];
	int outl = 0;

	KH_GUARD(cipher_start(k, nonce.ptr, nonce.len, 0));
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	                                              kh_unconst(tag.ptr), tag.len);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_CIPHER_CTX_set_params(k->cipher, params) != 1)
		return kh_ossl_error("setting the AEAD tag");
	KH_GUARD(cipher_update(k->cipher, NULL, aad.ptr, aad.len));
	KH_GUARD(cipher_update(k->cipher, pt_out, ct.ptr, ct.len));
	/* Final compares the tag (in constant time) and fails on any mismatch. */
	if (EVP_CipherFinal_ex(k->cipher, tail, &outl) != 1)
		return kh_ossl_discard(KH_ERR_DECRYPT);
	KH_ENSURE(outl == 0, KH_ERR_LIBCRYPTO);
	return KH_OK;
}

/* kh_crypto.h: tag = first 16 bytes of
 * HMAC-SM3(MAC_KEY, aad || nonce || ciphertext || BE64(8 * len(aad))). */
static kh_rc sm4_tag(struct kh_aead_key *k, struct kh_slice nonce, struct kh_slice aad,
                     const uint8_t *ct, size_t ct_len, uint8_t tag_out[KH_AEAD_TAG_LEN])
{
	uint8_t mac[KH_HASH_MAX_LEN];
	uint8_t aad_bits[8];
	uint64_t bits = (uint64_t)aad.len * 8;
	size_t n = 0;
	kh_rc rc;

	for (size_t i = 0; i < sizeof(aad_bits); i++)
		aad_bits[i] = (uint8_t)(bits >> (56 - 8 * i));
	/* A NULL key restarts the MAC under the key given at creation. */
	if (EVP_MAC_init(k->mac, NULL, 0, NULL) != 1 ||
	    (aad.len > 0 && EVP_MAC_update(k->mac, aad.ptr, aad.len) != 1) ||
	    EVP_MAC_update(k->mac, nonce.ptr, nonce.len) != 1 ||
	    (ct_len > 0 && EVP_MAC_update(k->mac, ct, ct_len) != 1) ||
	    EVP_MAC_update(k->mac, aad_bits, sizeof(aad_bits)) != 1 ||
	    EVP_MAC_final(k->mac, mac, &n, sizeof(mac)) != 1) {
		rc = kh_ossl_error("HMAC-SM3");
		goto out;
	}
	KH_ENSURE_OUT(n >= KH_AEAD_TAG_LEN, KH_ERR_LIBCRYPTO);
	memcpy(tag_out, mac, KH_AEAD_TAG_LEN);
	rc = KH_OK;
out:
	kh_wipe(mac, sizeof(mac));
	return rc;
}

/* Counter block = nonce (12) || BE32(1); CTR needs no final block and no padding. */
static kh_rc sm4_ctr(struct kh_aead_key *k, struct kh_slice nonce, const uint8_t *in, size_t len,
                     uint8_t *out)
{
	uint8_t iv[SM4_BLOCK] = {0};
	uint8_t tail[EVP_MAX_BLOCK_LENGTH];
	int outl = 0;

	memcpy(iv, nonce.ptr, KH_AEAD_NONCE_LEN);
	iv[SM4_BLOCK - 1] = 1;
	/* CTR decryption is encryption: always run the context in the encrypt direction. */
	KH_GUARD(cipher_start(k, iv, sizeof(iv), 1));
	KH_GUARD(cipher_update(k->cipher, out, in, len));
	if (EVP_CipherFinal_ex(k->cipher, tail, &outl) != 1)
		return kh_ossl_error("EVP_CipherFinal_ex");
	KH_ENSURE(outl == 0, KH_ERR_LIBCRYPTO);
	return KH_OK;
}

static kh_rc sm4_seal(struct kh_aead_key *k, struct kh_slice nonce, struct kh_slice aad,
                      struct kh_slice pt, uint8_t *ct_out, uint8_t *tag_out)
{
	KH_GUARD(sm4_ctr(k, nonce, pt.ptr, pt.len, ct_out));
	return sm4_tag(k, nonce, aad, ct_out, pt.len, tag_out);
}

/* Encrypt-then-MAC: the tag is checked before a single byte is decrypted. */
static kh_rc sm4_open(struct kh_aead_key *k, struct kh_slice nonce, struct kh_slice aad,
                      struct kh_slice ct, struct kh_slice tag, uint8_t *pt_out)
{
	uint8_t want[KH_AEAD_TAG_LEN];
	kh_rc rc;

	KH_GUARD_OUT(sm4_tag(k, nonce, aad, ct.ptr, ct.len, want));
	KH_ENSURE_OUT(CRYPTO_memcmp(want, tag.ptr, KH_AEAD_TAG_LEN) == 0, KH_ERR_DECRYPT);
	KH_GUARD_OUT(sm4_ctr(k, nonce, ct.ptr, ct.len, pt_out));
	rc = KH_OK;
out:
	kh_wipe(want, sizeof(want));
	return rc;
}

kh_rc kh_aead_seal(struct kh_aead_key *key, struct kh_slice nonce, struct kh_slice aad,
                   struct kh_slice pt, uint8_t *ct_out, uint8_t *tag_out)
{
	KH_ENSURE(nonce_ok(key->alg, nonce), KH_ERR_BAD_INPUT);
	KH_ENSURE(pt.len <= AEAD_MAX_LEN && aad.len <= AEAD_MAX_LEN, KH_ERR_TOO_LARGE);
	if (key->alg == KH_AEAD_SM4_CTR_HMAC_SM3)
		return sm4_seal(key, nonce, aad, pt, ct_out, tag_out);
	return evp_aead_seal(key, nonce, aad, pt, ct_out, tag_out);
}

kh_rc kh_aead_open(struct kh_aead_key *key, struct kh_slice nonce, struct kh_slice aad,
                   struct kh_slice ct, struct kh_slice tag, uint8_t *pt_out)
{
	kh_rc rc;

	KH_ENSURE(nonce_ok(key->alg, nonce), KH_ERR_BAD_INPUT);
	KH_ENSURE(ct.len <= AEAD_MAX_LEN && aad.len <= AEAD_MAX_LEN, KH_ERR_TOO_LARGE);
	KH_ENSURE_OUT(tag.len == KH_AEAD_TAG_LEN, KH_ERR_DECRYPT);
	if (key->alg == KH_AEAD_SM4_CTR_HMAC_SM3)
		rc = sm4_open(key, nonce, aad, ct, tag, pt_out);
	else
		rc = evp_aead_open(key, nonce, aad, ct, tag, pt_out);
out:
	/* kh_crypto.h: nothing unauthenticated survives a failed open. */
	if (rc != KH_OK)
		kh_wipe(pt_out, ct.len);
	return rc;
}
