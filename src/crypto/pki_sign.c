/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signing and verifying the to-be-signed bytes of CRLs and OCSP responses, and the CA
 * certificate facts they need. One algorithm per key type: sha256WithRSAEncryption (RFC 4055
 * 5, NULL parameters), ecdsa-with-SHA256 for P-256 and ecdsa-with-SHA384 for P-384 (RFC 5758
 * 3.2, no parameters), Ed25519 (RFC 8410 3), SM2-with-SM3 (GM/T 0006, no parameters) with the
 * GM/T default ID, since OpenSSL 3.0 signs and checks SM2 with an empty ID unless told.
 */
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "crypto/kh_pki_status_int.h"

static const uint8_t ALGID_RSA_SHA256[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                           0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
static const uint8_t ALGID_ECDSA_SHA256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                             0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t ALGID_ECDSA_SHA384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                             0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
static const uint8_t ALGID_ED25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
static const uint8_t ALGID_SM2_SM3[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x81,
                                        0x1c, 0xcf, 0x55, 0x01, 0x83, 0x75};

static const struct {
	enum kh_sig_alg alg;
	const uint8_t *der;
	size_t len;
} ALGIDS[] = {
    {KH_SIG_RSA_PKCS1_SHA256, ALGID_RSA_SHA256, sizeof(ALGID_RSA_SHA256)},
    {KH_SIG_ECDSA_SHA256, ALGID_ECDSA_SHA256, sizeof(ALGID_ECDSA_SHA256)},
    {KH_SIG_ECDSA_SHA384, ALGID_ECDSA_SHA384, sizeof(ALGID_ECDSA_SHA384)},
    {KH_SIG_ED25519, ALGID_ED25519, sizeof(ALGID_ED25519)},
    {KH_SIG_SM2_SM3, ALGID_SM2_SM3, sizeof(ALGID_SM2_SM3)},
};

static kh_rc sigalg_of(enum kh_sig_alg alg, struct kh_pki_sigalg *out)
{
	for (size_t i = 0; i < sizeof(ALGIDS) / sizeof(ALGIDS[0]); i++) {
		if (ALGIDS[i].alg == alg) {
			out->alg = alg;
			out->algid = KH_SLICE(ALGIDS[i].der, ALGIDS[i].len);
			return KH_OK;
		}
	}
	return KH_ERR_WRONG_KEY_TYPE;
}

kh_rc kh_pki_sigalg_of_key(const struct kh_pkey *key, struct kh_pki_sigalg *out)
{
	KH_ENSURE(key != NULL && kh_pkey_has_private(key), KH_ERR_BAD_KEY);
	enum kh_pkey_type t = kh_pkey_type_of(key);
	enum kh_sig_alg alg = kh_pkey_type_is_rsa(t) ? KH_SIG_RSA_PKCS1_SHA256 : kh_sig_default(t);
	return sigalg_of(alg, out);
}

kh_rc kh_pki_sigalg_of_algid(struct kh_slice algid, struct kh_pki_sigalg *out)
{
	for (size_t i = 0; i < sizeof(ALGIDS) / sizeof(ALGIDS[0]); i++) {
		if (kh_slice_eq(algid, KH_SLICE(ALGIDS[i].der, ALGIDS[i].len)))
			return sigalg_of(ALGIDS[i].alg, out);
	}
	/* RFC 4055 5: some encoders omit the NULL; accept that form of RSA too. */
	static const uint8_t rsa_no_null[] = {0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48,
	                                      0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
	if (kh_slice_eq(algid, KH_SLICE(rsa_no_null, sizeof(rsa_no_null))))
		return sigalg_of(KH_SIG_RSA_PKCS1_SHA256, out);
	return KH_ERR_BAD_SIGNATURE;
}

kh_rc kh_pki_sign_wrap(const struct kh_pkey *key, const struct kh_pki_sigalg *sa,
                       struct kh_slice tbs, struct kh_slice extra, struct kh_buf *out)
{
	struct kh_buf sig;
	size_t start = out->len;
	kh_rc rc;

	kh_buf_init(&sig, 1024, KH_BUF_PLAIN);
	/* PKI.md: SM2 signs with the GM/T default ID (the empty slice selects it). */
	KH_GUARD_OUT(kh_pkey_sign(key, sa->alg, tbs, KH_SLICE_EMPTY, &sig));
	KH_GUARD_OUT(kh_buf_append(out, tbs));
	KH_GUARD_OUT(kh_buf_append(out, sa->algid));
	KH_GUARD_OUT(kh_der_header(out, DER_BIT_STRING, sig.len + 1));
	KH_GUARD_OUT(kh_buf_append_byte(out, 0)); /* no unused bits */
	KH_GUARD_OUT(kh_buf_append(out, kh_buf_slice(&sig)));
	if (extra.len > 0)
		KH_GUARD_OUT(kh_buf_append(out, extra));
	KH_GUARD_OUT(kh_der_wrap_from(out, start, DER_SEQUENCE));
out:
	if (rc != KH_OK)
		kh_buf_truncate(out, start);
	kh_buf_cleanup(&sig);
	return rc;
}

/* The certificate's public key as a kh_pkey (through its SubjectPublicKeyInfo DER). */
static kh_rc cert_pkey(X509 *cert, struct kh_pkey **out)
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
	KH_ENSURE(len > 0, kh_ossl_discard(KH_ERR_BAD_KEY));
	kh_rc rc = kh_pkey_import_public(KH_SLICE(der, (size_t)len), out);
	OPENSSL_free(der);
	return rc;
}

kh_rc kh_pki_verify_signed(struct kh_slice tbs, struct kh_slice algid, struct kh_slice bits,
                           X509 *cert)
{
	struct kh_pki_sigalg sa;
	struct kh_pkey *key = NULL;

	KH_GUARD(kh_pki_sigalg_of_algid(algid, &sa));
	/* X.509 signatures are whole octets: the BIT STRING has no unused bits. */
	KH_ENSURE(bits.len >= 2 && bits.ptr[0] == 0, KH_ERR_BAD_SIGNATURE);
	KH_GUARD(cert_pkey(cert, &key));
	kh_rc rc =
	    kh_pkey_verify(key, sa.alg, tbs, KH_SLICE_EMPTY, KH_SLICE(bits.ptr + 1, bits.len - 1));
	kh_pkey_free(&key);
	/* A key of another type cannot have made this signature. */
	return rc == KH_ERR_WRONG_KEY_TYPE ? KH_ERR_BAD_SIGNATURE : rc;
}

kh_rc kh_pki_cert_load(struct kh_slice der, X509 **out)
{
	KH_ENSURE(der.ptr != NULL && der.len > 0, KH_ERR_BAD_KEY);
	KH_ENSURE(der.len <= KH_LIMIT_KEY_ENCODED_BYTES, KH_ERR_TOO_LARGE);
	const unsigned char *p = der.ptr;
	X509 *x = d2i_X509(NULL, &p, (long)der.len);
	KH_ENSURE(x != NULL, kh_ossl_discard(KH_ERR_BAD_KEY));
	if (p != der.ptr + der.len || X509_get0_pubkey(x) == NULL) {
		X509_free(x);
		return kh_ossl_discard(KH_ERR_BAD_KEY);
	}
	*out = x;
	return KH_OK;
}

kh_rc kh_pki_cert_key_check(X509 *cert, const struct kh_pkey *key)
{
	KH_ENSURE(key != NULL && kh_pkey_has_private(key), KH_ERR_BAD_KEY);
	int eq = EVP_PKEY_eq(X509_get0_pubkey(cert), kh_pkey_evp(key));
	return eq == 1 ? KH_OK : kh_ossl_discard(KH_ERR_BAD_KEY);
}

kh_rc kh_pki_cert_key_sha1(X509 *cert, uint8_t out[20])
{
	const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(cert);
	KH_ENSURE(bits != NULL, KH_ERR_BAD_KEY);
	KH_ENSURE(EVP_Digest(ASN1_STRING_get0_data(bits), (size_t)ASN1_STRING_length(bits), out,
	                     NULL, EVP_sha1(), NULL) == 1,
	          kh_ossl_error("SHA-1"));
	return KH_OK;
}

kh_rc kh_pki_der_to_pem(struct kh_slice der, const char *label, struct kh_buf *out_pem)
{
	struct kh_buf b64;
	size_t start = out_pem->len;
	kh_rc rc;

	KH_ENSURE(der.ptr != NULL && der.len > 0 && label != NULL && label[0] != '\0',
	          KH_ERR_BAD_INPUT);
	kh_buf_init(&b64, kh_base64_encoded_len(der.len) + 16, KH_BUF_PLAIN);
	KH_GUARD_OUT(kh_base64_encode(der, &b64));
	KH_GUARD_OUT(kh_buf_append_cstr(out_pem, "-----BEGIN "));
	KH_GUARD_OUT(kh_buf_append_cstr(out_pem, label));
	KH_GUARD_OUT(kh_buf_append_cstr(out_pem, "-----\n"));
	/* RFC 7468 2: lines of 64 characters. */
	for (size_t off = 0; off < b64.len; off += 64) {
		size_t n = b64.len - off < 64 ? b64.len - off : 64;
		KH_GUARD_OUT(kh_buf_append(out_pem, KH_SLICE(b64.ptr + off, n)));
		KH_GUARD_OUT(kh_buf_append_byte(out_pem, '\n'));
	}
	KH_GUARD_OUT(kh_buf_append_cstr(out_pem, "-----END "));
	KH_GUARD_OUT(kh_buf_append_cstr(out_pem, label));
	KH_GUARD_OUT(kh_buf_append_cstr(out_pem, "-----\n"));
out:
	if (rc != KH_OK)
		kh_buf_truncate(out_pem, start);
	kh_buf_cleanup(&b64);
	return rc;
}
