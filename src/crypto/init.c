/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Library start-up: algorithm fetching, OpenSSL's secure heap, randomness, constant-time
 * comparison, and error-queue draining shared by the rest of the layer.
 */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#include "base/kh_log.h"
#include "crypto/kh_crypto_int.h"

/*
 * OpenSSL's own secure heap: with it, the library allocates private-key bignums in locked,
 * non-dumpable memory too. 1 MiB holds thousands of keys; minsize 64 bytes.
 */
enum {
	OSSL_SECURE_HEAP = 1 << 20,
	OSSL_SECURE_MIN = 64
};

struct kh_algs kh_algs;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static kh_rc init_rc = KH_ERR_INTERNAL;

static bool fetch_all(void)
{
	struct kh_algs *a = &kh_algs;

	a->sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	a->sha384 = EVP_MD_fetch(NULL, "SHA2-384", NULL);
	a->sha512 = EVP_MD_fetch(NULL, "SHA2-512", NULL);
	a->sm3 = EVP_MD_fetch(NULL, "SM3", NULL);
	a->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	a->hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	a->aes_256_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	a->chacha20_poly1305 = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	a->sm4_ctr = EVP_CIPHER_fetch(NULL, "SM4-CTR", NULL);
	a->sm4_ecb = EVP_CIPHER_fetch(NULL, "SM4-ECB", NULL);
	a->aes_128_wrap_pad = EVP_CIPHER_fetch(NULL, "AES-128-WRAP-PAD", NULL);
	a->aes_192_wrap_pad = EVP_CIPHER_fetch(NULL, "AES-192-WRAP-PAD", NULL);
	a->aes_256_wrap_pad = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
	return a->sha256 && a->sha384 && a->sha512 && a->sm3 && a->hmac && a->hkdf &&
	       a->aes_256_gcm && a->chacha20_poly1305 && a->sm4_ctr && a->sm4_ecb &&
	       a->aes_128_wrap_pad && a->aes_192_wrap_pad && a->aes_256_wrap_pad;
}

static void init_run(void)
{
	/* A secure heap that cannot be created (no mlock rights) leaves OpenSSL on the normal
	 * heap; our own arena reports its lock state separately. */
	if (CRYPTO_secure_malloc_initialized() == 0 &&
	    CRYPTO_secure_malloc_init(OSSL_SECURE_HEAP, OSSL_SECURE_MIN) == 0)
		KH_LOG_WARN("OpenSSL secure heap unavailable", KH_LF_NONE);
	if (!fetch_all()) {
		init_rc = kh_ossl_error("fetching algorithms");
		return;
	}
	if (RAND_status() != 1) {
		init_rc = kh_ossl_error("random generator not seeded");
		return;
	}
	init_rc = KH_OK;
}

kh_rc kh_crypto_init(void)
{
	pthread_once(&init_once, init_run);
	return init_rc;
}

void kh_crypto_thread_cleanup(void)
{
	OPENSSL_thread_stop();
}

const char *kh_crypto_library_version(void)
{
	return OpenSSL_version(OPENSSL_VERSION);
}

const EVP_MD *kh_md_of(enum kh_hash alg)
{
	switch (alg) {
	case KH_HASH_SHA256:
		return kh_algs.sha256;
	case KH_HASH_SHA384:
		return kh_algs.sha384;
	case KH_HASH_SHA512:
		return kh_algs.sha512;
	case KH_HASH_SM3:
		return kh_algs.sm3;
	}
	return NULL;
}

const char *kh_md_name(enum kh_hash alg)
{
	switch (alg) {
	case KH_HASH_SHA256:
		return "SHA2-256";
	case KH_HASH_SHA384:
		return "SHA2-384";
	case KH_HASH_SHA512:
		return "SHA2-512";
	case KH_HASH_SM3:
		return "SM3";
	}
	return NULL;
}

kh_rc kh_ossl_error(const char *what)
{
	kh_rc rc = KH_ERR_LIBCRYPTO;
	unsigned long e;
	char text[256];

	while ((e = ERR_get_error()) != 0) {
		if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
			rc = KH_ERR_NOMEM;
		ERR_error_string_n(e, text, sizeof(text));
		KH_LOG_DEBUG("openssl", KH_LF_STR("op", what), KH_LF_STR("reason", text));
	}
	return rc;
}

kh_rc kh_ossl_discard(kh_rc rc)
{
	ERR_clear_error();
	return rc;
}

kh_rc kh_rand_bytes(uint8_t *out, size_t len)
{
	KH_ENSURE(len <= INT32_MAX, KH_ERR_TOO_LARGE);
	if (len == 0)
		return KH_OK;
	if (RAND_bytes(out, (int)len) != 1)
		return kh_ossl_error("RAND_bytes");
	return KH_OK;
}

kh_rc kh_rand_secret(uint8_t *out, size_t len)
{
	KH_ENSURE(len <= INT32_MAX, KH_ERR_TOO_LARGE);
	if (len == 0)
		return KH_OK;
	if (RAND_priv_bytes(out, (int)len) != 1)
		return kh_ossl_error("RAND_priv_bytes");
	return KH_OK;
}

bool kh_ct_eq(struct kh_slice a, struct kh_slice b)
{
	if (a.len != b.len)
		return false;
	if (a.len == 0)
		return true;
	return CRYPTO_memcmp(a.ptr, b.ptr, a.len) == 0;
}
