/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key management centre's envelopes of an encryption private key (layouts in
 * kh_envelope.h). The two SM2 forms share one path: a random SM4 key, SM2-encrypted to the
 * recipient with kh_pkey_encrypt (whose GM/T 0009 SM2Cipher DER is either kept as it is or
 * split into the SKF ECCCIPHERBLOB fields), and the private scalar under SM4-ECB. The CMS form
 * is OpenSSL's CMS code, addressed to a throwaway certificate that carries only the recipient's
 * public key and its subjectKeyIdentifier, the one thing CMS_USE_KEYID reads from it.
 *
 * Secrets (the scalar, the SM4 key, the PKCS#8 bytes) live in kh_secure_alloc memory or in
 * KH_BUF_SECURE buffers, and the CMS content is written straight from there into OpenSSL's
 * cipher BIO (CMS_final would first copy it through an unwiped stack buffer).
 */
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
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
	/* A PKCS#8 RSA-4096 key is about 2.4 KiB. */
	PKCS8_MAX = 8192,
	/* The recipient's placeholder certificate: its public key (RSA-4096: 550 bytes) and 100
	 * bytes around it. */
	CERT_MAX = 2048,
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

/* ---- CMS EnvelopedData (RFC 5652 6) ---- */

/*
 * The DER of a certificate that is never signed nor sent, for OpenSSL's CMS code to read the
 * recipient's public key from. Written by hand because OpenSSL's setters cannot fill in the
 * signature algorithm of an unsigned certificate, and without it the certificate does not
 * encode, so OpenSSL cannot cache its extensions and finds no key identifier.
 */
static kh_rc unsigned_cert_der(const struct kh_pkey *to, struct kh_buf *der)
{
	/* version [0] v3, serialNumber 1 */
	static const uint8_t head[] = {0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01};
	/* signature: ecdsa-with-SHA256, a placeholder that nothing checks */
	static const uint8_t algid[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
	                                0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
	/* issuer (empty), validity 1970-01-01 to 2049-12-31 (UTCTime), subject (empty) */
	static const uint8_t names[] = {0x30, 0x00, 0x30, 0x1e, 0x17, 0x0d, '7', '0',  '0',
	                                '1',  '0',  '1',  '0',  '0',  '0',  '0', '0',  '0',
	                                'Z',  0x17, 0x0d, '4',  '9',  '1',  '2', '3',  '1',
	                                '2',  '3',  '5',  '9',  '5',  '9',  'Z', 0x30, 0x00};
	static const uint8_t no_signature[] = {DER_BIT_STRING, 0x01, 0x00};

	KH_GUARD(kh_buf_append(der, KH_SLICE(head, sizeof(head))));
	KH_GUARD(kh_buf_append(der, KH_SLICE(algid, sizeof(algid))));
	KH_GUARD(kh_buf_append(der, KH_SLICE(names, sizeof(names))));
	KH_GUARD(kh_pkey_export_public_der(to, der));
	KH_GUARD(kh_der_wrap_from(der, 0, DER_SEQUENCE));
	KH_GUARD(kh_buf_append(der, KH_SLICE(algid, sizeof(algid))));
	KH_GUARD(kh_buf_append(der, KH_SLICE(no_signature, sizeof(no_signature))));
	return kh_der_wrap_from(der, 0, DER_SEQUENCE);
}

/*
 * The recipient as a certificate carrying its public key and the subjectKeyIdentifier that
 * CMS_USE_KEYID copies into the RecipientIdentifier (RFC 5652 6.2.1, 6.2.2), computed by
 * RFC 5280 4.2.1.2 method 1 as the recipient would.
 */
static kh_rc recipient_cert(const struct kh_pkey *to, X509 **out)
{
	struct kh_buf der;
	const unsigned char *p;
	X509 *x = NULL;
	ASN1_OCTET_STRING *ski = NULL;
	uint8_t id[20];
	kh_rc rc;

	kh_buf_init(&der, CERT_MAX, KH_BUF_PLAIN);
	KH_GUARD_OUT(unsigned_cert_der(to, &der));
	p = der.ptr;
	x = d2i_X509(NULL, &p, (long)der.len);
	KH_ENSURE_OUT(x != NULL && p == der.ptr + der.len, kh_ossl_error("d2i_X509"));
	KH_GUARD_OUT(kh_pki_cert_key_sha1(x, id));
	ski = ASN1_OCTET_STRING_new();
	KH_ENSURE_OUT(
	    ski != NULL && ASN1_OCTET_STRING_set(ski, id, sizeof(id)) == 1 &&
	        X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0, X509V3_ADD_DEFAULT) == 1,
	    kh_ossl_error("subjectKeyIdentifier"));
	*out = x;
	x = NULL;
	rc = KH_OK;
out:
	ASN1_OCTET_STRING_free(ski);
	X509_free(x);
	kh_buf_cleanup(&der);
	return rc;
}

/*
 * The recipient's key-management parameters, on the context CMS_KEY_PARAM left for us (OpenSSL's
 * defaults are PKCS#1 v1.5 and an X9.63 KDF with SHA-1). RSA: RSAES-OAEP with SHA-256 and
 * MGF1-SHA-256 (RFC 8017 7.1, RFC 4055 4.1). EC: the X9.63 KDF with SHA-256, which OpenSSL
 * names dhSinglePass-stdDH-sha256kdf-scheme (RFC 5753 7.1.4, SEC 1 3.6.1); the key wrap follows
 * the content cipher, AES-256 wrap for AES-256-CBC (RFC 3565 2.3.2).
 */
static kh_rc recipient_params(CMS_RecipientInfo *ri, bool rsa)
{
	EVP_PKEY_CTX *pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
	bool ok;

	KH_ENSURE(pctx != NULL, kh_ossl_error("CMS_RecipientInfo_get0_pkey_ctx"));
	if (rsa)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
		     EVP_PKEY_CTX_set_rsa_oaep_md(pctx, kh_algs.sha256) > 0 &&
		     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, kh_algs.sha256) > 0;
	else
		ok = EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, kh_algs.sha256) > 0;
	return ok ? KH_OK : kh_ossl_error("CMS recipient parameters");
}

/* Encrypts content into cms: what CMS_final does, without its copy through the stack. */
static kh_rc cms_encrypt_content(CMS_ContentInfo *cms, struct kh_slice content)
{
	BIO *chain = CMS_dataInit(cms, NULL);
	kh_rc rc = KH_OK;

	if (chain == NULL)
		return kh_ossl_error("CMS_dataInit");
	if (BIO_write(chain, content.ptr, (int)content.len) != (int)content.len ||
	    BIO_flush(chain) != 1 || CMS_dataFinal(cms, chain) != 1)
		rc = kh_ossl_error("CMS content encryption");
	BIO_free_all(chain);
	return rc;
}

static kh_rc cms_append_der(CMS_ContentInfo *cms, struct kh_buf *out)
{
	uint8_t *dst = NULL;
	unsigned char *p;
	int n = i2d_CMS_ContentInfo(cms, NULL);

	if (n <= 0)
		return kh_ossl_error("i2d_CMS_ContentInfo");
	KH_GUARD(kh_buf_extend(out, (size_t)n, &dst));
	p = dst;
	if (i2d_CMS_ContentInfo(cms, &p) != n)
		return kh_ossl_error("i2d_CMS_ContentInfo");
	kh_buf_commit(out, (size_t)n);
	return KH_OK;
}

static kh_rc seal_cms(const struct kh_pkey *key, const struct kh_pkey *to, struct kh_buf *out)
{
	enum kh_pkey_type tt = kh_pkey_type_of(to);
	bool rsa = kh_pkey_type_is_rsa(tt);
	struct kh_buf pkcs8;
	X509 *cert = NULL;
	CMS_ContentInfo *cms = NULL;
	CMS_RecipientInfo *ri;
	kh_rc rc;

	KH_ENSURE(kh_pkey_has_private(key), KH_ERR_WRONG_KEY_TYPE);
	KH_ENSURE(rsa || tt == KH_PKEY_EC_P256 || tt == KH_PKEY_EC_P384, KH_ERR_WRONG_KEY_TYPE);
	KH_ENSURE(kh_algs.sha256 != NULL, KH_ERR_INTERNAL); /* kh_crypto_init has not run */
	kh_buf_init(&pkcs8, PKCS8_MAX, KH_BUF_SECURE);
	KH_GUARD_OUT(kh_pkey_export_private_der(key, &pkcs8));
	KH_GUARD_OUT(recipient_cert(to, &cert));
	/* RFC 3565 2.2: AES-256-CBC (CMS fetches the implementation from its name). */
	cms = CMS_EnvelopedData_create_ex(EVP_aes_256_cbc(), NULL, NULL);
	/* Not detached: the ciphertext goes inside, as CMS_encrypt would put it. */
	KH_ENSURE_OUT(cms != NULL && CMS_set_detached(cms, 0) == 1,
	              kh_ossl_error("CMS_EnvelopedData_create_ex"));
	/* CMS_KEY_PARAM: leave the recipient's key context for recipient_params to set up. */
	ri = CMS_add1_recipient_cert(cms, cert, CMS_USE_KEYID | CMS_KEY_PARAM);
	KH_ENSURE_OUT(ri != NULL, kh_ossl_error("CMS_add1_recipient_cert"));
	KH_GUARD_OUT(recipient_params(ri, rsa));
	KH_GUARD_OUT(cms_encrypt_content(cms, kh_buf_slice(&pkcs8)));
	rc = cms_append_der(cms, out);
out:
	CMS_ContentInfo_free(cms);
	X509_free(cert);
	kh_buf_cleanup(&pkcs8);
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
	case KH_ENVELOPE_CMS:
		rc = seal_cms(key, to, out);
		break;
	default:
		return KH_ERR_BAD_INPUT;
	}
	if (rc != KH_OK && out->len > start)
		kh_buf_truncate(out, start);
	return rc;
}
