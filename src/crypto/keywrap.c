/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AES key wrap with padding (RFC 5649), for importing and exporting keys under a key-encryption
 * key. The work is OpenSSL's AES-*-WRAP-PAD ciphers, which take the whole input in one update
 * call. Lengths that can never be a wrapping (RFC 5649 section 4.2: at least two 64-bit blocks,
 * a multiple of 8) are KH_ERR_BAD_INPUT; a wrapping that fails its integrity check (wrong KEK,
 * altered bytes, bad padding) is KH_ERR_DECRYPT.
 */
#include <string.h>

#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto_int.h"

/* RFC 5649 section 4.1: the output is the padded input plus one 64-bit block (the AIV). */
enum {
	SEMIBLOCK = 8
};

#define WRAPPED_MAX                                                                                \
	(((size_t)KH_LIMIT_KEYWRAP_BYTES + SEMIBLOCK - 1) / SEMIBLOCK * SEMIBLOCK + SEMIBLOCK)

static kh_rc cipher_for_kek(struct kh_slice kek, const EVP_CIPHER **out)
{
	const EVP_CIPHER *c;

	switch (kek.len) {
	case 16:
		c = kh_algs.aes_128_wrap_pad;
		break;
	case 24:
		c = kh_algs.aes_192_wrap_pad;
		break;
	case 32:
		c = kh_algs.aes_256_wrap_pad;
		break;
	default:
		return KH_ERR_BAD_KEY;
	}
	KH_ENSURE(c != NULL, KH_ERR_INTERNAL); /* kh_crypto_init has not run */
	*out = c;
	return KH_OK;
}

/*
 * One pass of the wrap cipher in direction enc over in, into out (room for out_cap bytes).
 * *out_len receives the length written. Integrity failures come back as KH_ERR_DECRYPT.
 */
static kh_rc wrap_run(struct kh_slice kek, int enc, struct kh_slice in, uint8_t *out,
                      size_t out_cap, size_t *out_len)
{
	const EVP_CIPHER *cipher = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tail[EVP_MAX_BLOCK_LENGTH];
	int n = 0;
	int fin = 0;
	kh_rc rc;

	KH_GUARD(cipher_for_kek(kek, &cipher));
	ctx = EVP_CIPHER_CTX_new();
	KH_ENSURE(ctx != NULL, KH_ERR_NOMEM);
	/* OpenSSL 3.0 checks this flag only on its legacy (engine) path; provider ciphers like
	 * ours wrap without it (the tests pass either way). Set it so both paths agree. */
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex2(ctx, cipher, kek.ptr, NULL, enc, NULL) != 1) {
		rc = kh_ossl_error("EVP_CipherInit_ex2");
		goto out;
	}
	/* Inputs are at most WRAPPED_MAX bytes, far below INT_MAX. */
	if (EVP_CipherUpdate(ctx, out, &n, in.ptr, (int)in.len) != 1) {
		rc = enc ? kh_ossl_error("key wrap") : kh_ossl_discard(KH_ERR_DECRYPT);
		goto out;
	}
	if (EVP_CipherFinal_ex(ctx, tail, &fin) != 1) {
		rc = enc ? kh_ossl_error("key wrap") : kh_ossl_discard(KH_ERR_DECRYPT);
		goto out;
	}
	KH_ENSURE_OUT(n >= 0 && (size_t)n <= out_cap && fin == 0, KH_ERR_LIBCRYPTO);
	*out_len = (size_t)n;
	rc = KH_OK;
out:
	EVP_CIPHER_CTX_free(ctx); /* cleanses the KEK schedule */
	return rc;
}

kh_rc kh_keywrap_wrap(struct kh_slice kek, struct kh_slice in, struct kh_buf *out)
{
	const EVP_CIPHER *cipher = NULL;
	size_t want;
	size_t n = 0;
	uint8_t *dst = NULL;

	KH_GUARD(cipher_for_kek(kek, &cipher));
	KH_ENSURE(in.len > 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(in.len <= KH_LIMIT_KEYWRAP_BYTES, KH_ERR_TOO_LARGE);
	want = (in.len + SEMIBLOCK - 1) / SEMIBLOCK * SEMIBLOCK + SEMIBLOCK;
	KH_GUARD(kh_buf_extend(out, want, &dst));
	KH_GUARD(wrap_run(kek, 1, in, dst, want, &n));
	KH_ENSURE(n == want, KH_ERR_LIBCRYPTO);
	kh_buf_commit(out, n);
	return KH_OK;
}

/* Unwraps into secure scratch first, so out is untouched on failure and needs room only for
 * the key itself, not for the padding that is stripped. */
kh_rc kh_keywrap_unwrap(struct kh_slice kek, struct kh_slice in, struct kh_buf *out)
{
	const EVP_CIPHER *cipher = NULL;
	uint8_t *scratch = NULL;
	size_t n = 0;
	kh_rc rc;

	KH_REQUIRE_SECURE(out);
	KH_GUARD(cipher_for_kek(kek, &cipher));
	KH_ENSURE(in.len <= WRAPPED_MAX, KH_ERR_TOO_LARGE);
	KH_ENSURE(in.len >= 2 * SEMIBLOCK && in.len % SEMIBLOCK == 0, KH_ERR_BAD_INPUT);
	/* The unwrapped key is at most the input minus the AIV block. */
	scratch = kh_secure_alloc(in.len - SEMIBLOCK);
	KH_ENSURE(scratch != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(wrap_run(kek, 0, in, scratch, in.len - SEMIBLOCK, &n));
	KH_GUARD_OUT(kh_buf_append(out, KH_SLICE(scratch, n)));
	rc = KH_OK;
out:
	kh_secure_free(&scratch); /* wipes */
	return rc;
}
