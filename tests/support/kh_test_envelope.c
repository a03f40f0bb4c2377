// SPDX-License-Identifier: Apache-2.0
/* Envelopes opened without crypto/envelope.c (kh_test_envelope.h). */
#include "kh_test_envelope.h"

#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <string.h>

#define BUF_MAX (64u * 1024u)

/* The OpenSSL key of key's private half, through its PKCS#8 export. */
EVP_PKEY *kh_test_ossl_private(const struct kh_pkey *key)
{
	struct kh_buf der;
	const unsigned char *p;
	EVP_PKEY *evp;

	kh_buf_init(&der, BUF_MAX, KH_BUF_SECURE);
	assert_int_equal(kh_pkey_export_private_der(key, &der), KH_OK);
	p = der.ptr;
	evp = d2i_AutoPrivateKey(NULL, &p, (long)der.len);
	assert_non_null(evp);
	kh_buf_cleanup(&der);
	return evp;
}

/* 04 || X || Y of an SM2 key, as OpenSSL encodes it. */
void kh_test_sm2_point(EVP_PKEY *evp, uint8_t out[65])
{
	size_t n = 0;

	assert_int_equal(
	    EVP_PKEY_get_octet_string_param(evp, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out, 65, &n),
	    1);
	assert_int_equal(n, 65);
	assert_int_equal(out[0], 0x04);
}

/* True when d * G is the point 04 || X || Y on the SM2 curve. */
bool kh_test_sm2_scalar_matches(const uint8_t d[32], const uint8_t point[65])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_sm2);
	EC_POINT *p = g != NULL ? EC_POINT_new(g) : NULL;
	BIGNUM *bn = BN_bin2bn(d, 32, NULL);
	uint8_t got[65];
	bool ok;

	assert_non_null(p);
	assert_non_null(bn);
	assert_int_equal(EC_POINT_mul(g, p, bn, NULL, NULL, NULL), 1);
	assert_int_equal(
	    EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, got, sizeof(got), NULL), 65);
	ok = memcmp(got, point, 65) == 0;
	BN_clear_free(bn);
	EC_POINT_free(p);
	EC_GROUP_free(g);
	return ok;
}

/* SM4-ECB decryption without padding. */
void kh_test_sm4_ecb_decrypt(const uint8_t key[16], const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "SM4-ECB", NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0;

	assert_non_null(c);
	assert_non_null(ctx);
	assert_int_equal(EVP_DecryptInit_ex2(ctx, c, key, NULL, NULL), 1);
	assert_int_equal(EVP_CIPHER_CTX_set_padding(ctx, 0), 1);
	assert_int_equal(EVP_DecryptUpdate(ctx, out, &n1, in, (int)len), 1);
	assert_int_equal(EVP_DecryptFinal_ex(ctx, out + n1, &n2), 1);
	assert_int_equal((size_t)(n1 + n2), len);
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(c);
}

/* SM2 decryption (GB/T 32918.4, SM3 by default) of a GM/T 0009 SM2Cipher; false on failure. */
bool kh_test_sm2_decrypt(EVP_PKEY *key, const uint8_t *der, size_t der_len, uint8_t out[16])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	uint8_t buf[256];
	size_t n = sizeof(buf);
	bool ok;

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
	ok = EVP_PKEY_decrypt(ctx, buf, &n, der, der_len) == 1 && n == 16;
	if (ok)
		memcpy(out, buf, 16);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

uint32_t kh_test_u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

bool kh_test_all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* A DER INTEGER of a 32-byte unsigned big-endian value, minimal form (X.690 8.3.2). */
size_t kh_test_der_uint(const uint8_t v[32], uint8_t *out)
{
	size_t skip = 0;
	size_t n;

	while (skip < 31 && v[skip] == 0)
		skip++;
	n = 32 - skip;
	out[0] = 0x02;
	if (v[skip] & 0x80) {
		out[1] = (uint8_t)(n + 1);
		out[2] = 0;
		memcpy(out + 3, v + skip, n);
		return n + 3;
	}
	out[1] = (uint8_t)n;
	memcpy(out + 2, v + skip, n);
	return n + 2;
}

/* One TLV with short or one/two-byte long-form length; content and whole TLV out. */
void kh_test_der_take(const uint8_t **p, size_t *len, uint8_t tag, const uint8_t **content,
                      size_t *content_len, size_t *whole_len)
{
	size_t hl = 2, n;

	assert_true(*len >= 2);
	assert_int_equal((*p)[0], tag);
	n = (*p)[1];
	if (n == 0x81) {
		n = (*p)[2];
		hl = 3;
	} else if (n == 0x82) {
		n = (size_t)(*p)[2] << 8 | (*p)[3];
		hl = 4;
	} else {
		assert_true(n < 0x80);
	}
	assert_true(hl + n <= *len);
	*content = *p + hl;
	*content_len = n;
	if (whole_len != NULL)
		*whole_len = hl + n;
	*p += hl + n;
	*len -= hl + n;
}

/*
 * Opens an SKF ENVELOPEDKEYBLOB with the recipient's private key: checks every fixed field and
 * the public key, and returns d. False when the SM2 decryption of the SM4 key fails.
 */
bool kh_test_skf_open(struct kh_slice blob, EVP_PKEY *recipient, const uint8_t point[65],
                      uint8_t d[32])
{
	const uint8_t *b = blob.ptr;
	const uint8_t *cipher_blob = b + 208;
	uint8_t der[160], *q = der + 2;
	uint8_t sym[16], priv[64];

	assert_int_equal(blob.len, 388);
	assert_int_equal(kh_test_u32le(b), 1);         /* Version */
	assert_int_equal(kh_test_u32le(b + 4), 0x401); /* SGD_SM4_ECB */
	assert_int_equal(kh_test_u32le(b + 8), 256);   /* ulBits */
	assert_int_equal(kh_test_u32le(b + 76), 256);  /* PubKey.BitLen */
	assert_true(kh_test_all_zero(b + 80, 32));     /* X right-aligned in 64 */
	assert_memory_equal(b + 112, point + 1, 32);
	assert_true(kh_test_all_zero(b + 144, 32));
	assert_memory_equal(b + 176, point + 33, 32);
	assert_true(kh_test_all_zero(cipher_blob, 32)); /* C1.x, C1.y right-aligned */
	assert_true(kh_test_all_zero(cipher_blob + 64, 32));
	assert_int_equal(kh_test_u32le(cipher_blob + 160), 16); /* CipherLen */

	/* SM2Cipher ::= SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING, ciphertext OCTET
	 * STRING } rebuilt from ECCCIPHERBLOB: C1.x, C1.y, C3 (HASH), C2 (Cipher). */
	q += kh_test_der_uint(cipher_blob + 32, q);
	q += kh_test_der_uint(cipher_blob + 96, q);
	*q++ = 0x04;
	*q++ = 32;
	memcpy(q, cipher_blob + 128, 32);
	q += 32;
	*q++ = 0x04;
	*q++ = 16;
	memcpy(q, cipher_blob + 164, 16);
	q += 16;
	der[0] = 0x30;
	der[1] = (uint8_t)(q - der - 2);
	if (!kh_test_sm2_decrypt(recipient, der, (size_t)(q - der), sym))
		return false;
	kh_test_sm4_ecb_decrypt(sym, b + 12, 64, priv);
	assert_true(kh_test_all_zero(priv, 32));
	memcpy(d, priv + 32, 32);
	return true;
}

/* Opens an SM2EnvelopedKey; false when the SM2 decryption of the SM4 key fails. */
bool kh_test_gmt0009_open(struct kh_slice env, EVP_PKEY *recipient, const uint8_t point[65],
                          uint8_t d[32])
{
	const uint8_t *p = env.ptr, *seq, *algid, *cipher, *pub, *encd, *a;
	size_t len = env.len, seq_len, algid_len, cipher_len, pub_len, encd_len, n, whole;
	X509_ALGOR *alg;
	const ASN1_OBJECT *oid = NULL;
	int ptype = 0;
	char txt[64];
	uint8_t sym[16];

	kh_test_der_take(&p, &len, 0x30, &seq, &seq_len, NULL);
	assert_int_equal(len, 0);
	/* symAlgID: SM4-ECB, parameters absent */
	a = seq;
	kh_test_der_take(&seq, &seq_len, 0x30, &algid, &algid_len, &whole);
	alg = d2i_X509_ALGOR(NULL, &a, (long)whole);
	assert_non_null(alg);
	X509_ALGOR_get0(&oid, &ptype, NULL, alg);
	assert_true(OBJ_obj2txt(txt, sizeof(txt), oid, 1) > 0);
	assert_string_equal(txt, "1.2.156.10197.1.104.1");
	assert_int_equal(ptype, V_ASN1_UNDEF);
	X509_ALGOR_free(alg);
	/* symEncryptedKey: the SM2Cipher, whole */
	cipher = seq;
	kh_test_der_take(&seq, &seq_len, 0x30, &a, &n, &cipher_len);
	/* sm2PublicKey: 04 || X || Y with no unused bits */
	kh_test_der_take(&seq, &seq_len, 0x03, &pub, &pub_len, NULL);
	assert_int_equal(pub_len, 66);
	assert_int_equal(pub[0], 0);
	assert_memory_equal(pub + 1, point, 65);
	/* sm2EncryptedPrivateKey: SM4-ECB of d */
	kh_test_der_take(&seq, &seq_len, 0x03, &encd, &encd_len, NULL);
	assert_int_equal(encd_len, 33);
	assert_int_equal(encd[0], 0);
	assert_int_equal(seq_len, 0);
	if (!kh_test_sm2_decrypt(recipient, cipher, cipher_len, sym))
		return false;
	kh_test_sm4_ecb_decrypt(sym, encd + 1, 32, d);
	return true;
}

/* CMS_decrypt with recipient; the PKCS#8 bytes into a plain buffer (test keys only), or false.
 * CMS_DEBUG_DECRYPT: without it OpenSSL answers a wrong RSA key with a random content key
 * (the Bleichenbacher counter-measure), whose output could, rarely, happen to unpad. */
bool kh_test_cms_open(struct kh_slice env, EVP_PKEY *recipient, struct kh_buf *out)
{
	const unsigned char *p = env.ptr;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)env.len);
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n;
	bool ok;

	assert_non_null(cms);
	assert_ptr_equal(p, env.ptr + env.len);
	assert_non_null(bio);
	ok = CMS_decrypt(cms, recipient, NULL, NULL, bio, CMS_BINARY | CMS_DEBUG_DECRYPT) == 1;
	if (ok) {
		n = BIO_get_mem_data(bio, &data);
		assert_true(n > 0);
		assert_int_equal(kh_buf_append(out, KH_SLICE(data, (size_t)n)), KH_OK);
	}
	ERR_clear_error();
	BIO_free(bio);
	CMS_ContentInfo_free(cms);
	return ok;
}

/* The public key's DER, to compare keys. */
static struct kh_buf public_der(const struct kh_pkey *key)
{
	struct kh_buf der;
	kh_buf_init(&der, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pkey_export_public_der(key, &der), KH_OK);
	return der;
}

static bool same_public(const struct kh_pkey *a, const struct kh_pkey *b)
{
	struct kh_buf x = public_der(a), y = public_der(b);
	bool same = x.len == y.len && memcmp(x.ptr, y.ptr, x.len) == 0;
	kh_buf_cleanup(&x);
	kh_buf_cleanup(&y);
	return same;
}

bool kh_test_envelope_holds(enum kh_envelope_form form, struct kh_slice env,
                            const struct kh_pkey *recipient, const struct kh_pkey *expected)
{
	EVP_PKEY *r = kh_test_ossl_private(recipient);
	bool ok = false;
	if (form == KH_ENVELOPE_CMS) {
		struct kh_buf p8;
		struct kh_pkey *got = NULL;
		kh_buf_init(&p8, BUF_MAX, KH_BUF_SECURE);
		ok = kh_test_cms_open(env, r, &p8);
		if (ok) {
			assert_int_equal(kh_pkey_import_private(kh_buf_slice(&p8), &got), KH_OK);
			ok = same_public(got, expected);
			kh_pkey_free(&got);
		}
		kh_buf_cleanup(&p8);
	} else {
		uint8_t point[65], d[32];
		struct kh_buf der = public_der(expected);
		const unsigned char *p = der.ptr;
		EVP_PKEY *e = d2i_PUBKEY(NULL, &p, (long)der.len);
		assert_non_null(e);
		kh_test_sm2_point(e, point);
		ok = form == KH_ENVELOPE_SKF ? kh_test_skf_open(env, r, point, d)
		                             : kh_test_gmt0009_open(env, r, point, d);
		ok = ok && kh_test_sm2_scalar_matches(d, point);
		EVP_PKEY_free(e);
		kh_buf_cleanup(&der);
	}
	EVP_PKEY_free(r);
	return ok;
}
