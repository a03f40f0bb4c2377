/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signatures, over a message or over a digest the caller computed:
 *   RSA-PSS      RFC 8017 8.1 with SHA-256, MGF1-SHA-256 and a 32-byte salt (signing and
 *                verification both require exactly 32: hLen, as RFC 8017 9.1 suggests)
 *   RSA PKCS#1   RFC 8017 8.2 (v1.5) with SHA-256
 *   ECDSA        FIPS 186-5 6.4, DER (r, s) per RFC 3279 2.2.3; SHA-256 with P-256 only and
 *                SHA-384 with P-384 only (as in RFC 7518 3.4 and AWS KMS), other pairs are
 *                KH_ERR_WRONG_KEY_TYPE
 *   Ed25519      RFC 8032 5.1, pure only: no digest mode
 *   SM2          GB/T 32918.2-2016 (GM/T 0003.2) with SM3; Z over the distinguishing ID, whose
 *                default is GM/T 0009's "1234567812345678" (OpenSSL 3.0 would use an empty ID)
 * The algorithm must suit the key's type, and signing needs the private half: otherwise
 * KH_ERR_WRONG_KEY_TYPE. Verification answers only KH_OK or KH_ERR_BAD_SIGNATURE (a malformed
 * signature included) once the inputs are valid, and drops OpenSSL's reasons.
 */
#include <openssl/rsa.h>

#include "crypto/kh_crypto_int.h"

/* RFC 8017 9.1: a typical salt length is hLen (32 for SHA-256). */
enum {
	PSS_SALT_LEN = 32,
	/* GB/T 32918.2 5.5: ENTL is the ID length in bits in two bytes, so 8191 bytes at most;
	 * OpenSSL 3.0 refuses 8191 itself (ossl_sm2_compute_z_digest). */
	SM2_ID_MAX_LEN = 0xffff / 8 - 1,
};

enum kh_sig_alg kh_sig_default(enum kh_pkey_type type)
{
	switch (type) {
	case KH_PKEY_RSA_2048:
	case KH_PKEY_RSA_3072:
	case KH_PKEY_RSA_4096:
		return KH_SIG_RSA_PSS_SHA256;
	case KH_PKEY_EC_P256:
		return KH_SIG_ECDSA_SHA256;
	case KH_PKEY_EC_P384:
		return KH_SIG_ECDSA_SHA384;
	case KH_PKEY_ED25519:
		return KH_SIG_ED25519;
	case KH_PKEY_SM2:
		return KH_SIG_SM2_SM3;
	}
	return (enum kh_sig_alg)0;
}

/*
 * The digest alg hashes with (NULL for Ed25519, which hashes internally), after checking that
 * alg is known (KH_ERR_BAD_INPUT) and suits the key (KH_ERR_WRONG_KEY_TYPE).
 */
static kh_rc alg_md(const struct kh_pkey *key, enum kh_sig_alg alg, const EVP_MD **out)
{
	enum kh_pkey_type t = kh_pkey_type_of(key);
	const EVP_MD *md;
	bool ok;

	switch (alg) {
	case KH_SIG_RSA_PSS_SHA256:
	case KH_SIG_RSA_PKCS1_SHA256:
		ok = kh_pkey_type_is_rsa(t);
		md = kh_algs.sha256;
		break;
	case KH_SIG_ECDSA_SHA256:
		ok = t == KH_PKEY_EC_P256;
		md = kh_algs.sha256;
		break;
	case KH_SIG_ECDSA_SHA384:
		ok = t == KH_PKEY_EC_P384;
		md = kh_algs.sha384;
		break;
	case KH_SIG_ED25519:
		*out = NULL;
		return t == KH_PKEY_ED25519 ? KH_OK : KH_ERR_WRONG_KEY_TYPE;
	case KH_SIG_SM2_SM3:
		ok = t == KH_PKEY_SM2;
		md = kh_algs.sm3;
		break;
	default:
		return KH_ERR_BAD_INPUT;
	}
	KH_ENSURE(ok, KH_ERR_WRONG_KEY_TYPE);
	KH_ENSURE(md != NULL, KH_ERR_INTERNAL); /* kh_crypto_init has not run */
	*out = md;
	return KH_OK;
}

/* Padding parameters on a context already initialised for signing or verifying. */
static kh_rc set_padding(EVP_PKEY_CTX *pctx, enum kh_sig_alg alg)
{
	if (alg == KH_SIG_RSA_PKCS1_SHA256) {
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
			return kh_ossl_error("RSA PKCS#1 padding");
	} else if (alg == KH_SIG_RSA_PSS_SHA256) {
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, kh_algs.sha256) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, PSS_SALT_LEN) <= 0)
			return kh_ossl_error("RSA-PSS parameters");
	}
	return KH_OK;
}

static kh_rc check_sm2_id(enum kh_sig_alg alg, struct kh_slice sm2_id)
{
	if (alg == KH_SIG_SM2_SM3)
		KH_ENSURE(sm2_id.len <= SM2_ID_MAX_LEN && (sm2_id.len == 0 || sm2_id.ptr != NULL),
		          KH_ERR_BAD_INPUT);
	return KH_OK;
}

/*
 * Prepares mctx for a message signature (sign) or verification (!sign). For SM2 the ID goes on
 * the context after init and before the first update, which is when OpenSSL computes Z.
 */
static kh_rc message_init(EVP_MD_CTX *mctx, const struct kh_pkey *key, enum kh_sig_alg alg,
                          struct kh_slice sm2_id, bool sign)
{
	EVP_PKEY_CTX *pctx = NULL; /* owned by mctx */
	const EVP_MD *md = NULL;
	int ok;

	KH_GUARD(alg_md(key, alg, &md));
	if (sign)
		ok = EVP_DigestSignInit(mctx, &pctx, md, NULL, kh_pkey_evp(key));
	else
		ok = EVP_DigestVerifyInit(mctx, &pctx, md, NULL, kh_pkey_evp(key));
	if (ok != 1)
		return kh_ossl_error(sign ? "EVP_DigestSignInit" : "EVP_DigestVerifyInit");
	KH_GUARD(set_padding(pctx, alg));
	if (alg == KH_SIG_SM2_SM3) {
		if (sm2_id.len == 0)
			sm2_id = KH_SLICE_LIT(KH_SM2_DEFAULT_ID);
		if (EVP_PKEY_CTX_set1_id(pctx, sm2_id.ptr, (int)sm2_id.len) <= 0)
			return kh_ossl_error("EVP_PKEY_CTX_set1_id");
	}
	return KH_OK;
}

kh_rc kh_pkey_sign(const struct kh_pkey *key, enum kh_sig_alg alg, struct kh_slice msg,
                   struct kh_slice sm2_id, struct kh_buf *sig_out)
{
	EVP_MD_CTX *mctx = NULL;
	const EVP_MD *md = NULL;
	uint8_t *dst = NULL;
	size_t cap;
	size_t n;
	kh_rc rc;

	KH_GUARD(check_sm2_id(alg, sm2_id));
	KH_GUARD(alg_md(key, alg, &md)); /* a wrong algorithm is reported before a missing half */
	KH_ENSURE(kh_pkey_has_private(key), KH_ERR_WRONG_KEY_TYPE);
	mctx = EVP_MD_CTX_new();
	KH_ENSURE(mctx != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(message_init(mctx, key, alg, sm2_id, true));
	/* EVP_PKEY_get_size: the largest signature this key makes (always positive for ours). */
	cap = (size_t)EVP_PKEY_get_size(kh_pkey_evp(key));
	KH_GUARD_OUT(kh_buf_extend(sig_out, cap, &dst));
	n = cap;
	if (EVP_DigestSign(mctx, dst, &n, kh_slice_ptr(msg), msg.len) != 1) {
		rc = kh_ossl_error("EVP_DigestSign");
		goto out;
	}
	KH_ENSURE_OUT(n <= cap, KH_ERR_LIBCRYPTO);
	kh_buf_commit(sig_out, n);
	rc = KH_OK;
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

kh_rc kh_pkey_verify(const struct kh_pkey *key, enum kh_sig_alg alg, struct kh_slice msg,
                     struct kh_slice sm2_id, struct kh_slice sig)
{
	EVP_MD_CTX *mctx = NULL;
	kh_rc rc;

	KH_GUARD(check_sm2_id(alg, sm2_id));
	mctx = EVP_MD_CTX_new();
	KH_ENSURE(mctx != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(message_init(mctx, key, alg, sm2_id, false));
	if (EVP_DigestVerify(mctx, kh_slice_ptr(sig), sig.len, kh_slice_ptr(msg), msg.len) != 1)
		rc = kh_ossl_discard(KH_ERR_BAD_SIGNATURE);
	else
		rc = KH_OK;
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

/*
 * A context for signing (sign) or verifying a precomputed digest, after checking the digest
 * length. For SM2 the "digest" is e itself, which OpenSSL signs as is when no Z is involved
 * (EVP_PKEY_sign rather than EVP_DigestSign).
 */
static kh_rc digest_ctx(const struct kh_pkey *key, enum kh_sig_alg alg, struct kh_slice digest,
                        bool sign, EVP_PKEY_CTX **out)
{
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = NULL;
	kh_rc rc;

	KH_GUARD(alg_md(key, alg, &md));
	KH_ENSURE(md != NULL, KH_ERR_WRONG_KEY_TYPE); /* RFC 8032: pure Ed25519 has no digest */
	KH_ENSURE(digest.ptr != NULL && digest.len == (size_t)EVP_MD_get_size(md),
	          KH_ERR_BAD_INPUT);
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, kh_pkey_evp(key), NULL);
	if (pctx == NULL)
		return kh_ossl_error("EVP_PKEY_CTX_new_from_pkey");
	if ((sign ? EVP_PKEY_sign_init(pctx) : EVP_PKEY_verify_init(pctx)) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(pctx, md) <= 0) {
		rc = kh_ossl_error("digest signature init");
		goto out;
	}
	KH_GUARD_OUT(set_padding(pctx, alg));
	*out = pctx;
	pctx = NULL;
	rc = KH_OK;
out:
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

kh_rc kh_pkey_sign_digest(const struct kh_pkey *key, enum kh_sig_alg alg, struct kh_slice digest,
                          struct kh_buf *sig_out)
{
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = NULL;
	uint8_t *dst = NULL;
	size_t cap;
	size_t n;
	kh_rc rc;

	KH_GUARD(alg_md(key, alg, &md));
	KH_ENSURE(kh_pkey_has_private(key), KH_ERR_WRONG_KEY_TYPE);
	KH_GUARD(digest_ctx(key, alg, digest, true, &pctx));
	cap = (size_t)EVP_PKEY_get_size(kh_pkey_evp(key));
	KH_GUARD_OUT(kh_buf_extend(sig_out, cap, &dst));
	n = cap;
	if (EVP_PKEY_sign(pctx, dst, &n, digest.ptr, digest.len) != 1) {
		rc = kh_ossl_error("EVP_PKEY_sign");
		goto out;
	}
	KH_ENSURE_OUT(n <= cap, KH_ERR_LIBCRYPTO);
	kh_buf_commit(sig_out, n);
	rc = KH_OK;
out:
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

kh_rc kh_pkey_verify_digest(const struct kh_pkey *key, enum kh_sig_alg alg, struct kh_slice digest,
                            struct kh_slice sig)
{
	EVP_PKEY_CTX *pctx = NULL;
	kh_rc rc;

	KH_GUARD(digest_ctx(key, alg, digest, false, &pctx));
	if (EVP_PKEY_verify(pctx, kh_slice_ptr(sig), sig.len, digest.ptr, digest.len) != 1)
		rc = kh_ossl_discard(KH_ERR_BAD_SIGNATURE);
	else
		rc = KH_OK;
	EVP_PKEY_CTX_free(pctx);
	return rc;
}
