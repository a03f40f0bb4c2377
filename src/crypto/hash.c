/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Digests (SHA-2 per FIPS 180-4, SM3 per GM/T 0004-2012), HMAC (RFC 2104) and HKDF (RFC 5869)
 * over the algorithm implementations fetched once by kh_crypto_init. HMAC and HKDF go through
 * EVP_MAC and EVP_KDF, which in OpenSSL 3.0 take the digest by name only: the provider looks it
 * up in its method cache on every initialisation. That lookup is OpenSSL's, not a fetch of ours;
 * hot paths that MAC many messages under one key (the SM4 AEAD) keep a keyed context instead.
 */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <string.h>

#include "base/kh_mem.h"
#include "crypto/kh_crypto_int.h"

/* Streaming digest state. `finished` stops use after final until _reset, because OpenSSL 3.0
 * does not refuse an update on a finalised context and would compute garbage. */
struct kh_hash_ctx {
	enum kh_hash alg;
	EVP_MD_CTX *md_ctx;
	bool finished;
};

size_t kh_hash_len(enum kh_hash alg)
{
	switch (alg) {
	case KH_HASH_SHA256:
	case KH_HASH_SM3:
		return 32;
	case KH_HASH_SHA384:
		return 48;
	case KH_HASH_SHA512:
		return 64;
	}
	return 0;
}

/* The pre-fetched digest for a known alg; KH_ERR_INTERNAL if kh_crypto_init has not run. */
static kh_rc md_for(enum kh_hash alg, const EVP_MD **out)
{
	const EVP_MD *md;

	KH_ENSURE(kh_hash_len(alg) != 0, KH_ERR_BAD_INPUT);
	md = kh_md_of(alg);
	KH_ENSURE(md != NULL, KH_ERR_INTERNAL);
	*out = md;
	return KH_OK;
}

kh_rc kh_hash(enum kh_hash alg, struct kh_slice in, uint8_t *out, size_t out_len)
{
	const EVP_MD *md = NULL;
	unsigned int n = 0;

	KH_GUARD(md_for(alg, &md));
	KH_ENSURE(out_len >= kh_hash_len(alg), KH_ERR_BAD_INPUT);
	if (EVP_Digest(kh_slice_ptr(in), in.len, out, &n, md, NULL) != 1)
		return kh_ossl_error("EVP_Digest");
	KH_ENSURE(n == kh_hash_len(alg), KH_ERR_LIBCRYPTO);
	return KH_OK;
}

kh_rc kh_hash_ctx_new(enum kh_hash alg, struct kh_hash_ctx **out)
{
	const EVP_MD *md = NULL;
	struct kh_hash_ctx *ctx = NULL;
	kh_rc rc;

	KH_GUARD(md_for(alg, &md));
	ctx = kh_calloc(1, sizeof(*ctx));
	KH_ENSURE(ctx != NULL, KH_ERR_NOMEM);
	ctx->alg = alg;
	ctx->md_ctx = EVP_MD_CTX_new();
	KH_ENSURE_OUT(ctx->md_ctx != NULL, KH_ERR_NOMEM);
	if (EVP_DigestInit_ex2(ctx->md_ctx, md, NULL) != 1) {
		rc = kh_ossl_error("EVP_DigestInit_ex2");
		goto out;
	}
	*out = ctx;
	ctx = NULL;
	rc = KH_OK;
out:
	kh_hash_ctx_free(&ctx);
	return rc;
}

kh_rc kh_hash_ctx_update(struct kh_hash_ctx *ctx, struct kh_slice in)
{
	KH_ENSURE(!ctx->finished, KH_ERR_INTERNAL);
	if (in.len == 0)
		return KH_OK;
	if (EVP_DigestUpdate(ctx->md_ctx, in.ptr, in.len) != 1)
		return kh_ossl_error("EVP_DigestUpdate");
	return KH_OK;
}

kh_rc kh_hash_ctx_final(struct kh_hash_ctx *ctx, uint8_t *out, size_t out_len)
{
	unsigned int n = 0;

	KH_ENSURE(!ctx->finished, KH_ERR_INTERNAL);
	/* Checked before finishing, so a caller with a short buffer can retry. */
	KH_ENSURE(out_len >= kh_hash_len(ctx->alg), KH_ERR_BAD_INPUT);
	ctx->finished = true;
	if (EVP_DigestFinal_ex(ctx->md_ctx, out, &n) != 1)
		return kh_ossl_error("EVP_DigestFinal_ex");
	KH_ENSURE(n == kh_hash_len(ctx->alg), KH_ERR_LIBCRYPTO);
	return KH_OK;
}

kh_rc kh_hash_ctx_reset(struct kh_hash_ctx *ctx)
{
	const EVP_MD *md = NULL;

	KH_GUARD(md_for(ctx->alg, &md));
	if (EVP_DigestInit_ex2(ctx->md_ctx, md, NULL) != 1)
		return kh_ossl_error("EVP_DigestInit_ex2");
	ctx->finished = false;
	return KH_OK;
}

void kh_hash_ctx_free(struct kh_hash_ctx **ctx)
{
	if (ctx == NULL || *ctx == NULL)
		return;
	EVP_MD_CTX_free((*ctx)->md_ctx); /* cleanses the digest state */
	kh_free(ctx);
}

kh_rc kh_hmac_parts(enum kh_hash alg, struct kh_slice key, const struct kh_slice *parts,
                    size_t part_count, uint8_t *out, size_t out_len)
{
	const EVP_MD *md = NULL;
	EVP_MAC_CTX *mac = NULL;
	OSSL_PARAM params[2];
	size_t n = 0;
	kh_rc rc;

	KH_GUARD(md_for(alg, &md));
	KH_ENSURE(out_len >= kh_hash_len(alg), KH_ERR_BAD_INPUT);
	mac = EVP_MAC_CTX_new(kh_algs.hmac);
	KH_ENSURE(mac != NULL, KH_ERR_NOMEM);
	params[0] =
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, kh_unconst(kh_md_name(alg)), 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(mac, kh_slice_ptr(key), key.len, params) != 1) {
		rc = kh_ossl_error("EVP_MAC_init");
		goto out;
	}
	for (size_t i = 0; i < part_count; i++) {
		if (parts[i].len == 0)
			continue;
		if (EVP_MAC_update(mac, parts[i].ptr, parts[i].len) != 1) {
			rc = kh_ossl_error("EVP_MAC_update");
			goto out;
		}
	}
	if (EVP_MAC_final(mac, out, &n, out_len) != 1) {
		rc = kh_ossl_error("EVP_MAC_final");
		goto out;
	}
	KH_ENSURE_OUT(n == kh_hash_len(alg), KH_ERR_LIBCRYPTO);
	rc = KH_OK;
out:
	EVP_MAC_CTX_free(mac); /* cleanses the key copy */
	return rc;
}

kh_rc kh_hmac(enum kh_hash alg, struct kh_slice key, struct kh_slice data, uint8_t *out,
              size_t out_len)
{
	return kh_hmac_parts(alg, key, &data, 1, out, out_len);
}

/* RFC 2104 section 5 allows truncation to no less than half the output and 80 bits; we ask for
 * 128 bits, as RFC 4231 test case 5 does, whatever the digest. */
enum {
	HMAC_MIN_TAG = 16
};

kh_rc kh_hmac_verify(enum kh_hash alg, struct kh_slice key, struct kh_slice data,
                     struct kh_slice tag)
{
	uint8_t mac[KH_HASH_MAX_LEN];
	kh_rc rc;

	KH_GUARD_OUT(kh_hmac(alg, key, data, mac, sizeof(mac)));
	/* The tag length is public: rejecting a wrong length early leaks nothing. */
	KH_ENSURE_OUT(tag.len >= HMAC_MIN_TAG && tag.len <= kh_hash_len(alg), KH_ERR_BAD_SIGNATURE);
	KH_ENSURE_OUT(CRYPTO_memcmp(mac, tag.ptr, tag.len) == 0, KH_ERR_BAD_SIGNATURE);
	rc = KH_OK;
out:
	kh_wipe(mac, sizeof(mac));
	return rc;
}

kh_rc kh_hkdf(enum kh_hash alg, struct kh_slice ikm, struct kh_slice salt, struct kh_slice info,
              uint8_t *out, size_t out_len)
{
	const EVP_MD *md = NULL;
	EVP_KDF_CTX *kdf = NULL;
	OSSL_PARAM params[5];
	size_t p = 0;
	kh_rc rc;

	KH_GUARD(md_for(alg, &md));
	/* RFC 5869 section 2.3: L <= 255 * HashLen. */
	KH_ENSURE(out_len > 0 && out_len <= 255 * kh_hash_len(alg), KH_ERR_BAD_INPUT);
	kdf = EVP_KDF_CTX_new(kh_algs.hkdf);
	KH_ENSURE(kdf != NULL, KH_ERR_NOMEM);
	params[p++] =
	    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, kh_unconst(kh_md_name(alg)), 0);
	params[p++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	                                                kh_unconst(kh_slice_ptr(ikm)), ikm.len);
	/* RFC 5869 section 2.2: an absent salt is HashLen zero bytes, which as an HMAC key is the
	 * same as an empty one; OpenSSL applies that default when no salt is given. */
	if (salt.len > 0)
		params[p++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		                                                kh_unconst(salt.ptr), salt.len);
	if (info.len > 0)
		params[p++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
		                                                kh_unconst(info.ptr), info.len);
	params[p] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kdf, out, out_len, params) != 1) {
		rc = kh_ossl_error("EVP_KDF_derive");
		goto out;
	}
	rc = KH_OK;
out:
	EVP_KDF_CTX_free(kdf); /* cleanses the IKM copy */
	return rc;
}
