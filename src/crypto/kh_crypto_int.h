/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared inside src/crypto/ only: the algorithm implementations fetched once at init, and the
 * helpers that turn OpenSSL failures into kh_rc codes.
 */
#ifndef KH_CRYPTO_INT_H
#define KH_CRYPTO_INT_H

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "crypto/kh_crypto.h"

/* Fetched by kh_crypto_init and kept for the life of the process (fetching per call is slow). */
struct kh_algs {
	EVP_MD *sha256, *sha384, *sha512, *sm3;
	EVP_MAC *hmac;
	EVP_KDF *hkdf;
	EVP_CIPHER *aes_256_gcm, *chacha20_poly1305, *sm4_ctr, *sm4_ecb;
	EVP_CIPHER *aes_128_wrap_pad, *aes_192_wrap_pad, *aes_256_wrap_pad;
};
extern struct kh_algs kh_algs;

/* The EVP_MD for alg, or NULL for an unknown value. Requires kh_crypto_init. */
const EVP_MD *kh_md_of(enum kh_hash alg);
/* The OpenSSL name of alg ("SHA2-256", "SM3"), or NULL. */
const char *kh_md_name(enum kh_hash alg);

/*
 * Drains OpenSSL's error queue into the debug log, tagged with what failed, and returns
 * KH_ERR_NOMEM when the library ran out of memory, else KH_ERR_LIBCRYPTO.
 */
KH_MUST_CHECK kh_rc kh_ossl_error(const char *what);
/* Drains the queue silently and returns rc: for failures that are the caller's fault (a bad
 * signature, malformed DER) where the library's reasons are noise. */
KH_MUST_CHECK kh_rc kh_ossl_discard(kh_rc rc);

/* The OpenSSL key behind a kh_pkey (owned by it; never freed by the caller). */
EVP_PKEY *kh_pkey_evp(const struct kh_pkey *key);

/*
 * A pointer for a slice that is valid even when the slice is empty: OpenSSL treats NULL as
 * "keep the previous key" (HMAC), "no key set" (HKDF) or an error on some paths.
 */
static inline const uint8_t *kh_slice_ptr(struct kh_slice s)
{
	static const uint8_t empty;
	return s.ptr != NULL ? s.ptr : &empty;
}

/* OSSL_PARAM constructors take non-const pointers even for values they only read. */
static inline void *kh_unconst(const void *p)
{
	return (void *)(uintptr_t)p;
}

static inline bool kh_pkey_type_is_rsa(enum kh_pkey_type t)
{
	return t == KH_PKEY_RSA_2048 || t == KH_PKEY_RSA_3072 || t == KH_PKEY_RSA_4096;
}

/* Refuses to put secrets in a buffer that is not secure (programmer error, not input). */
#define KH_REQUIRE_SECURE(buf) KH_ENSURE(((buf)->flags & KH_BUF_SECURE) != 0, KH_ERR_INTERNAL)

#endif
