/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Public-key encryption:
 *   RSA   RSAES-OAEP (RFC 8017 7.1) with SHA-256, MGF1-SHA-256 and the empty label; a k-byte
 *         modulus carries at most k - 2 * 32 - 2 bytes (RFC 8017 7.1.1 step 1.b)
 *   SM2   GB/T 32918.4-2016 (GM/T 0003.4) with SM3, encoded as GM/T 0009 DER
 *         SEQUENCE {x, y, hash, ciphertext} (C1 C3 C2). The scheme itself has no upper bound;
 *         ours is KH_LIMIT_PLAINTEXT_BYTES. An empty plaintext is KH_ERR_BAD_INPUT: its key
 *         stream t would be empty, which the standard's "t is all zeros" test (encryption
 *         step A5) rejects, and OpenSSL 3.0 fails on it.
 * Decryption answers KH_ERR_DECRYPT for every malformed, altered or foreign ciphertext without
 * saying which step failed (OAEP padding errors in particular, RFC 8017 7.1.2 note), decrypts
 * into secure scratch memory first, and writes the plaintext only to KH_BUF_SECURE buffers.
 */
#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto_int.h"

enum {
	OAEP_HASH_LEN = 32, /* SHA-256 */
	/* GM/T 0009 DER of C1 C3 C2 around a C2 below 64 KiB: the SEQUENCE header (4), x and y
	 * (INTEGERs of up to 33 bytes, 2 * 35), the SM3 hash (34) and the C2 header (4). */
	SM2_CT_OVERHEAD = 4 + 2 * 35 + 34 + 4,
};

/*
 * Takes one DER element with the given tag off the front of in: definite, minimal-length
 * encoding (X.690 10.1), lengths below 64 KiB.
 */
static bool der_take(struct kh_slice *in, uint8_t tag, struct kh_slice *out)
{
	size_t len;
	size_t hdr = 2;

	if (in->len < 2 || in->ptr[0] != tag)
		return false;
	len = in->ptr[1];
	if (len == 0x81) {
		if (in->len < 3 || in->ptr[2] < 0x80)
			return false;
		len = in->ptr[2];
		hdr = 3;
	} else if (len == 0x82) {
		if (in->len < 4 || in->ptr[2] == 0)
			return false;
		len = (size_t)in->ptr[2] << 8 | in->ptr[3];
		hdr = 4;
	} else if (len >= 0x80) {
		return false;
	}
	if (in->len - hdr < len)
		return false;
	*out = KH_SLICE(in->ptr + hdr, len);
	in->ptr += hdr + len;
	in->len -= hdr + len;
	return true;
}

/* A non-negative INTEGER in minimal form (X.690 8.3.2) of at most 32 bytes of value. */
static bool der_take_coordinate(struct kh_slice *in)
{
	struct kh_slice v;

	if (!der_take(in, 0x02, &v) || v.len == 0 || (v.ptr[0] & 0x80) != 0)
		return false;
	if (v.len > 1 && v.ptr[0] == 0 && (v.ptr[1] & 0x80) == 0)
		return false;
	return v.len <= 32 || (v.len == 33 && v.ptr[0] == 0);
}

/*
 * True when ct is exactly the GM/T 0009 DER SEQUENCE {x, y, hash (32), ciphertext}. OpenSSL 3.0
 * also accepts BER variants and ignores bytes after the SEQUENCE; either would let anyone
 * make new ciphertexts that decrypt to the same plaintext.
 */
static bool sm2_ciphertext_is_der(struct kh_slice ct)
{
	struct kh_slice seq;
	struct kh_slice hash;
	struct kh_slice c2;

	return der_take(&ct, 0x30, &seq) && ct.len == 0 && der_take_coordinate(&seq) &&
	       der_take_coordinate(&seq) && der_take(&seq, 0x04, &hash) && hash.len == 32 &&
	       der_take(&seq, 0x04, &c2) && c2.len > 0 && seq.len == 0;
}

/* A context for encrypt (enc) or decrypt with this file's fixed parameters. */
static kh_rc pkenc_ctx(const struct kh_pkey *key, bool enc, EVP_PKEY_CTX **out)
{
	EVP_PKEY_CTX *pctx;
	OSSL_PARAM sm3[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_DIGEST, kh_unconst("SM3"), 0),
	    OSSL_PARAM_construct_end()};
	bool ok;

	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, kh_pkey_evp(key), NULL);
	if (pctx == NULL)
		return kh_ossl_error("EVP_PKEY_CTX_new_from_pkey");
	ok = (enc ? EVP_PKEY_encrypt_init(pctx) : EVP_PKEY_decrypt_init(pctx)) == 1;
	if (ok && kh_pkey_type_is_rsa(kh_pkey_type_of(key)))
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
		     EVP_PKEY_CTX_set_rsa_oaep_md(pctx, kh_algs.sha256) > 0 &&
		     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, kh_algs.sha256) > 0;
	else if (ok)
		ok = EVP_PKEY_CTX_set_params(pctx, sm3) == 1;
	if (!ok) {
		EVP_PKEY_CTX_free(pctx);
		return kh_ossl_error("public-key encryption parameters");
	}
	*out = pctx;
	return KH_OK;
}

/* The largest plaintext key can encrypt (after checking that it can encrypt at all). */
static kh_rc capacity(const struct kh_pkey *key, size_t *out)
{
	enum kh_pkey_type t = kh_pkey_type_of(key);

	if (t == KH_PKEY_SM2) {
		*out = KH_LIMIT_PLAINTEXT_BYTES;
		return KH_OK;
	}
	KH_ENSURE(kh_pkey_type_is_rsa(t), KH_ERR_WRONG_KEY_TYPE);
	KH_ENSURE(kh_algs.sha256 != NULL, KH_ERR_INTERNAL); /* kh_crypto_init has not run */
	*out = (size_t)EVP_PKEY_get_size(kh_pkey_evp(key)) - 2 * OAEP_HASH_LEN - 2;
	return KH_OK;
}

kh_rc kh_pkey_encrypt(const struct kh_pkey *key, struct kh_slice pt, struct kh_buf *ct_out)
{
	static const uint8_t empty_byte;
	EVP_PKEY_CTX *pctx = NULL;
	const uint8_t *in = pt.ptr != NULL ? pt.ptr : &empty_byte;
	uint8_t *dst = NULL;
	size_t cap = 0;
	size_t n = 0;
	kh_rc rc;

	KH_GUARD(capacity(key, &cap));
	KH_ENSURE(pt.len <= cap, KH_ERR_TOO_LARGE);
	KH_ENSURE(pt.len > 0 || kh_pkey_type_of(key) != KH_PKEY_SM2, KH_ERR_BAD_INPUT);
	KH_GUARD(pkenc_ctx(key, true, &pctx));
	if (EVP_PKEY_encrypt(pctx, NULL, &n, in, pt.len) != 1) {
		rc = kh_ossl_error("EVP_PKEY_encrypt size");
		goto out;
	}
	KH_GUARD_OUT(kh_buf_extend(ct_out, n, &dst));
	if (EVP_PKEY_encrypt(pctx, dst, &n, in, pt.len) != 1) {
		rc = kh_ossl_error("EVP_PKEY_encrypt");
		goto out;
	}
	kh_buf_commit(ct_out, n);
	rc = KH_OK;
out:
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

kh_rc kh_pkey_decrypt(const struct kh_pkey *key, struct kh_slice ct, struct kh_buf *pt_out)
{
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t *scratch = NULL;
	size_t cap = 0;
	size_t n = 0;
	size_t scratch_len = 0;
	kh_rc rc;

	KH_REQUIRE_SECURE(pt_out);
	KH_GUARD(capacity(key, &cap));
	KH_ENSURE(kh_pkey_has_private(key), KH_ERR_WRONG_KEY_TYPE);
	if (kh_pkey_type_is_rsa(
	        kh_pkey_type_of(key))) /* RFC 8017 7.1.2 step 1.b: exactly k bytes */
		KH_ENSURE(ct.len == (size_t)EVP_PKEY_get_size(kh_pkey_evp(key)), KH_ERR_DECRYPT);
	else
		KH_ENSURE(ct.len <= cap + SM2_CT_OVERHEAD, KH_ERR_TOO_LARGE);
	KH_ENSURE(ct.ptr != NULL && ct.len > 0, KH_ERR_DECRYPT);
	KH_ENSURE(kh_pkey_type_is_rsa(kh_pkey_type_of(key)) || sm2_ciphertext_is_der(ct),
	          KH_ERR_DECRYPT);
	KH_GUARD(pkenc_ctx(key, false, &pctx));
	/* For SM2 this parses the DER and reports the length of C2. */
	if (EVP_PKEY_decrypt(pctx, NULL, &n, ct.ptr, ct.len) != 1 || n == 0 || n > ct.len) {
		rc = kh_ossl_discard(KH_ERR_DECRYPT);
		goto out;
	}
	scratch_len = n;
	scratch = kh_secure_alloc(scratch_len);
	KH_ENSURE_OUT(scratch != NULL, KH_ERR_NOMEM);
	if (EVP_PKEY_decrypt(pctx, scratch, &n, ct.ptr, ct.len) != 1 || n > scratch_len) {
		rc = kh_ossl_discard(KH_ERR_DECRYPT);
		goto out;
	}
	rc = kh_buf_append(pt_out, KH_SLICE(scratch, n));
out:
	kh_secure_free(&scratch);
	EVP_PKEY_CTX_free(pctx);
	return rc;
}
