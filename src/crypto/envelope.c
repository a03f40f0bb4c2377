/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key management centre's envelopes of an encryption private key (layouts in
 * kh_envelope.h). The two SM2 forms share one path: a random SM4 key, SM2-encrypted to the
 * recipient with kh_pkey_encrypt (whose GM/T 0009 SM2Cipher DER is either kept as it is or
 * split into the SKF ECCCIPHERBLOB fields), and the private scalar under SM4-ECB.
 *
 * Secrets (the scalar, the SM4 key) live in kh_secure_alloc memory.
 */
#include <openssl/core_names.h>
#include <string.h>

#include "base/kh_mem.h"
#include "crypto/kh_envelope.h"
#include "crypto/kh_pki_status_int.h"

enum {
	SM2_LEN = 32,       /* an SM2 scalar or coordinate (GB/T 32918.5) */
	SKF_FIELD_LEN = 64, /* GM/T 0016 ECC_MAX_XCOORDINATE_BITS_LEN / 8, also the private key */
	SM4_KEY_LEN = 16,
	SM3_LEN = 32,
	SKF_VERSION = 1,
	SKF_SGD_SM4_ECB = 0x00000401, /* GM/T 0006 SGD_SM4_ECB */
	SKF_BITS = 256,
	/* kh_pkey_encrypt's DER of a 16-byte plaintext is about 125 bytes (pkenc.c). */
	SM2_CT_MAX = 256,
};

/* GM/T 0006 / GM/T 0009: AlgorithmIdentifier { sm4-ecb 1.2.156.10197.1.104.1 }, no params. */
static const uint8_t sm4_ecb_algid[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x81,
                                        0x1c, 0xcf, 0x55, 0x01, 0x68, 0x01};

static const char *const form_names[] = {
    [KH_ENVELOPE_SKF] = "skf",
    [KH_ENVELOPE_GMT0009] = "gmt0009",
    [KH_ENVELOPE_CMS] = "cms",
};
#define FORM_LAST KH_ENVELOPE_CMS

const char *kh_envelope_form_name(enum kh_envelope_form f)
{
	if (f < KH_ENVELOPE_SKF || f > FORM_LAST)
		return NULL;
	return form_names[f];
}

kh_rc kh_envelope_form_parse(struct kh_slice s, enum kh_envelope_form *out)
{
	for (int f = KH_ENVELOPE_SKF; f <= FORM_LAST; f++) {
		if (kh_slice_eq(s, kh_slice_from_cstr(form_names[f]))) {
			*out = (enum kh_envelope_form)f;
			return KH_OK;
		}
	}
	return KH_ERR_BAD_INPUT;
}

enum kh_envelope_form kh_envelope_form_default(enum kh_pkey_type recipient)
{
	switch (recipient) {
	case KH_PKEY_SM2:
		return KH_ENVELOPE_SKF;
	case KH_PKEY_RSA_2048:
	case KH_PKEY_RSA_3072:
	case KH_PKEY_RSA_4096:
	case KH_PKEY_EC_P256:
	case KH_PKEY_EC_P384:
		return KH_ENVELOPE_CMS;
	case KH_PKEY_ED25519:
		break;
	}
	return 0;
}

/* ---- SM2: GM/T 0016 and GM/T 0009 ---- */

/* Everything secret of an SM2 envelope, in one secure allocation. */
struct sm2_secrets {
	uint8_t sym[SM4_KEY_LEN];
	/* GM/T 0016 ECCPRIVATEKEYBLOB.PrivateKey: 32 zero bytes, then d; GM/T 0009 takes d only. */
	uint8_t priv[SKF_FIELD_LEN];
};

struct sm2_point {
	uint8_t x[SM2_LEN];
	uint8_t y[SM2_LEN];
};

/* The GM/T 0009 SM2Cipher of kh_pkey_encrypt, split into the ECCCIPHERBLOB fields. */
struct sm2_cipher {
	struct sm2_point c1;
	struct kh_slice c3;
	struct kh_slice c2;
};

/* One big-endian value of a key, exactly 32 bytes, left-padded (bn is reused; it may be
 * secure). */
static kh_rc key_param(EVP_PKEY *evp, const char *name, BIGNUM *bn, uint8_t out[SM2_LEN])
{
	/* With *bn set, OpenSSL decodes into it rather than into a new, non-secure BIGNUM. */
	if (EVP_PKEY_get_bn_param(evp, name, &bn) != 1)
		return kh_ossl_error(name);
	KH_ENSURE(BN_bn2binpad(bn, out, SM2_LEN) == SM2_LEN, KH_ERR_BAD_KEY);
	return KH_OK;
}

/* d (into secret, right-aligned in the 64-byte SKF field) and the public point of key. */
static kh_rc sm2_key_parts(const struct kh_pkey *key, struct sm2_secrets *secret,
                           struct sm2_point *pub)
{
	EVP_PKEY *evp = kh_pkey_evp(key);
	BIGNUM *d = BN_secure_new();
	BIGNUM *c = BN_new();
	kh_rc rc;

	KH_ENSURE_OUT(d != NULL && c != NULL, kh_ossl_error("BN_new"));
	KH_GUARD_OUT(
	    key_param(evp, OSSL_PKEY_PARAM_PRIV_KEY, d, secret->priv + SKF_FIELD_LEN - SM2_LEN));
	KH_GUARD_OUT(key_param(evp, OSSL_PKEY_PARAM_EC_PUB_X, c, pub->x));
	rc = key_param(evp, OSSL_PKEY_PARAM_EC_PUB_Y, c, pub->y);
out:
	BN_clear_free(d);
	BN_free(c);
	return rc;
}

/* SM4-ECB without padding (len a multiple of 16): GM/T 0016 and GM/T 0009 fix the mode. */
static kh_rc sm4_ecb(const uint8_t key[SM4_KEY_LEN], const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx;
	int n1 = 0;
	int n2 = 0;
	kh_rc rc = KH_OK;

	KH_ENSURE(kh_algs.sm4_ecb != NULL, KH_ERR_INTERNAL); /* kh_crypto_init has not run */
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return kh_ossl_error("EVP_CIPHER_CTX_new");
	if (EVP_EncryptInit_ex2(ctx, kh_algs.sm4_ecb, key, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &n1, in, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + n1, &n2) != 1)
		rc = kh_ossl_error("SM4-ECB");
	else if ((size_t)n1 + (size_t)n2 != len)
		rc = KH_ERR_LIBCRYPTO;
	EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
	return rc;
}

/* One INTEGER coordinate of C1, normalised to 32 bytes: DER may add a sign byte or, for a
 * coordinate with leading zero bytes, be shorter. */
static bool c1_coordinate(struct kh_slice *in, uint8_t out[SM2_LEN])
{
	struct kh_slice v;

	if (kh_der_read(in, DER_INTEGER, &v, NULL) != KH_OK)
		return false;
	while (v.len > 0 && v.ptr[0] == 0) {
		v.ptr++;
		v.len--;
	}
	if (v.len > SM2_LEN)
		return false;
	memset(out, 0, SM2_LEN - v.len);
	if (v.len > 0)
		memcpy(out + SM2_LEN - v.len, v.ptr, v.len);
	return true;
}

/* Splits SM2Cipher ::= SEQUENCE { x, y, hash, ciphertext } (GM/T 0009 7.2). The DER is
 * OpenSSL's own output, so anything unexpected is the library's fault. */
static kh_rc sm2_cipher_split(struct kh_slice der, struct sm2_cipher *out)
{
	struct kh_slice seq;

	if (kh_der_read(&der, DER_SEQUENCE, &seq, NULL) != KH_OK || der.len != 0 ||
	    !c1_coordinate(&seq, out->c1.x) || !c1_coordinate(&seq, out->c1.y) ||
	    kh_der_read(&seq, DER_OCTET_STRING, &out->c3, NULL) != KH_OK ||
	    out->c3.len != SM3_LEN ||
	    kh_der_read(&seq, DER_OCTET_STRING, &out->c2, NULL) != KH_OK ||
	    out->c2.len != SM4_KEY_LEN || seq.len != 0)
		return KH_ERR_LIBCRYPTO;
	return KH_OK;
}

static kh_rc put_u32le(struct kh_buf *out, uint32_t v)
{
	const uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
	                      (uint8_t)(v >> 24)};

	return kh_buf_append(out, KH_SLICE(b, sizeof(b)));
}

/* A 32-byte value right-aligned in a 64-byte GM/T 0016 field. */
static kh_rc put_field(struct kh_buf *out, const uint8_t v[SM2_LEN])
{
	static const uint8_t zeros[SKF_FIELD_LEN - SM2_LEN];

	KH_GUARD(kh_buf_append(out, KH_SLICE(zeros, sizeof(zeros))));
	return kh_buf_append(out, KH_SLICE(v, SM2_LEN));
}

/* GM/T 0016 ENVELOPEDKEYBLOB, field by field (the layout in kh_envelope.h). */
static kh_rc skf_write(const uint8_t enc_priv[SKF_FIELD_LEN], const struct sm2_point *pub,
                       struct kh_slice sm2_ct, struct kh_buf *out)
{
	struct sm2_cipher c = {0};

	KH_GUARD(sm2_cipher_split(sm2_ct, &c));
	KH_GUARD(put_u32le(out, SKF_VERSION));
	KH_GUARD(put_u32le(out, SKF_SGD_SM4_ECB));
	KH_GUARD(put_u32le(out, SKF_BITS));
	KH_GUARD(kh_buf_append(out, KH_SLICE(enc_priv, SKF_FIELD_LEN)));
	/* ECCPUBLICKEYBLOB */
	KH_GUARD(put_u32le(out, SKF_BITS));
	KH_GUARD(put_field(out, pub->x));
	KH_GUARD(put_field(out, pub->y));
	/* ECCCIPHERBLOB: C1, C3, then C2 with its length */
	KH_GUARD(put_field(out, c.c1.x));
	KH_GUARD(put_field(out, c.c1.y));
	KH_GUARD(kh_buf_append(out, c.c3));
	KH_GUARD(put_u32le(out, (uint32_t)c.c2.len));
	return kh_buf_append(out, c.c2);
}

/* GM/T 0009 SM2EnvelopedKey (kh_envelope.h). */
static kh_rc gmt0009_write(const uint8_t enc_d[SM2_LEN], const struct sm2_point *pub,
                           struct kh_slice sm2_ct, struct kh_buf *out)
{
	static const uint8_t bits_uncompressed[] = {0x00, 0x04}; /* no unused bits; X9.62 04 */
	static const uint8_t no_unused_bits = 0x00;
	size_t start = out->len;

	KH_GUARD(kh_buf_append(out, KH_SLICE(sm4_ecb_algid, sizeof(sm4_ecb_algid))));
	KH_GUARD(kh_buf_append(out, sm2_ct));
	KH_GUARD(kh_der_header(out, DER_BIT_STRING, sizeof(bits_uncompressed) + 2 * SM2_LEN));
	KH_GUARD(kh_buf_append(out, KH_SLICE(bits_uncompressed, sizeof(bits_uncompressed))));
	KH_GUARD(kh_buf_append(out, KH_SLICE(pub->x, SM2_LEN)));
	KH_GUARD(kh_buf_append(out, KH_SLICE(pub->y, SM2_LEN)));
	KH_GUARD(kh_der_header(out, DER_BIT_STRING, 1 + SM2_LEN));
	KH_GUARD(kh_buf_append_byte(out, no_unused_bits));
	KH_GUARD(kh_buf_append(out, KH_SLICE(enc_d, SM2_LEN)));
	return kh_der_wrap_from(out, start, DER_SEQUENCE);
}

static kh_rc seal_sm2(enum kh_envelope_form form, const struct kh_pkey *key,
                      const struct kh_pkey *to, struct kh_buf *out)
{
	struct sm2_secrets *secret = NULL;
	struct sm2_point pub;
	uint8_t enc_priv[SKF_FIELD_LEN];
	struct kh_buf sm2_ct;
	kh_rc rc;

	KH_ENSURE(kh_pkey_type_of(key) == KH_PKEY_SM2 && kh_pkey_has_private(key),
	          KH_ERR_WRONG_KEY_TYPE);
	KH_ENSURE(kh_pkey_type_of(to) == KH_PKEY_SM2, KH_ERR_WRONG_KEY_TYPE);
	kh_buf_init(&sm2_ct, SM2_CT_MAX, KH_BUF_PLAIN);
	secret = kh_secure_alloc(sizeof(*secret)); /* zeroed: the SKF field's leading zeros */
	KH_ENSURE_OUT(secret != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(sm2_key_parts(key, secret, &pub));
	KH_GUARD_OUT(kh_rand_secret(secret->sym, sizeof(secret->sym)));
	KH_GUARD_OUT(kh_pkey_encrypt(to, KH_SLICE(secret->sym, sizeof(secret->sym)), &sm2_ct));
	if (form == KH_ENVELOPE_SKF) {
		KH_GUARD_OUT(sm4_ecb(secret->sym, secret->priv, SKF_FIELD_LEN, enc_priv));
		KH_GUARD_OUT(skf_write(enc_priv, &pub, kh_buf_slice(&sm2_ct), out));
	} else {
		KH_GUARD_OUT(sm4_ecb(secret->sym, secret->priv + SKF_FIELD_LEN - SM2_LEN, SM2_LEN,
		                     enc_priv));
		KH_GUARD_OUT(gmt0009_write(enc_priv, &pub, kh_buf_slice(&sm2_ct), out));
	}
	rc = KH_OK;
out:
	kh_secure_free(&secret);
	kh_buf_cleanup(&sm2_ct);
	return rc;
}

kh_rc kh_envelope_seal(enum kh_envelope_form form, const struct kh_pkey *key,
                       const struct kh_pkey *to, struct kh_buf *out)
{
	size_t start = out->len;
	kh_rc rc;

	switch (form) {
	case KH_ENVELOPE_SKF:
	case KH_ENVELOPE_GMT0009:
		rc = seal_sm2(form, key, to, out);
		break;
	default:
		return KH_ERR_BAD_INPUT;
	}
	if (rc != KH_OK && out->len > start)
		kh_buf_truncate(out, start);
	return rc;
}
