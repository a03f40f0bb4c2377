// SPDX-License-Identifier: Apache-2.0
/*
 * The X.509 keyhold needs before its PKI exists: a self-signed CA and TLS server certificates
 * it signs (development mode's HTTPS, test servers). RFC 5280 profile: v3, random positive
 * 128-bit serials, SHA-256 signatures (Ed25519 signs without a digest), CA certificates with
 * basicConstraints CA:TRUE and keyCertSign/cRLSign, server certificates with
 * digitalSignature, serverAuth and the subjectAltNames given (DNS names and IP addresses).
 */
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "base/kh_limits.h"
#include "crypto/kh_crypto.h"
#include "crypto/kh_crypto_int.h"

#define SERIAL_BYTES 16
#define SECONDS_PER_DAY 86400L

static kh_rc set_serial(X509 *x)
{
	unsigned char raw[SERIAL_BYTES];
	KH_GUARD(kh_rand_bytes(raw, sizeof(raw)));
	raw[0] &= 0x7f; /* positive */
	raw[0] |= 0x40; /* and of full length */
	BIGNUM *bn = BN_bin2bn(raw, sizeof(raw), NULL);
	ASN1_INTEGER *serial = bn != NULL ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	int ok = serial != NULL && X509_set_serialNumber(x, serial) == 1;
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return ok ? KH_OK : kh_ossl_error("serial number");
}

static kh_rc set_name_and_validity(X509 *x, const char *cn, unsigned days)
{
	X509_NAME *name = X509_get_subject_name(x);
	KH_ENSURE(X509_set_version(x, 2) == 1, kh_ossl_error("X509_set_version"));
	KH_ENSURE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
	                                     -1, -1, 0) == 1,
	          kh_ossl_error("subject"));
	KH_ENSURE(X509_gmtime_adj(X509_getm_notBefore(x), -300) != NULL,
	          kh_ossl_error("notBefore"));
	KH_ENSURE(X509_gmtime_adj(X509_getm_notAfter(x), (long)days * SECONDS_PER_DAY) != NULL,
	          kh_ossl_error("notAfter"));
	return KH_OK;
}

static kh_rc add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok ? KH_OK : kh_ossl_error("certificate extension");
}

static kh_rc sign_and_export(X509 *x, const struct kh_pkey *signer, struct kh_buf *out)
{
	EVP_PKEY *k = kh_pkey_evp(signer);
	const EVP_MD *md = kh_pkey_type_of(signer) == KH_PKEY_ED25519 ? NULL : EVP_sha256();
	KH_ENSURE(X509_sign(x, k, md) > 0, kh_ossl_error("X509_sign"));
	BIO *bio = BIO_new(BIO_s_mem());
	KH_ENSURE(bio != NULL, kh_ossl_error("BIO_new"));
	char *data = NULL;
	long len = 0;
	kh_rc rc = KH_OK;
	if (PEM_write_bio_X509(bio, x) != 1 || (len = BIO_get_mem_data(bio, &data)) <= 0)
		rc = kh_ossl_error("PEM_write_bio_X509");
	else
		rc = kh_buf_append(out, KH_SLICE(data, (size_t)len));
	BIO_free(bio);
	return rc;
}

/* A certificate for key's public half named cn, valid days, ready for extensions. */
static kh_rc cert_new(const struct kh_pkey *key, const char *cn, unsigned days, X509 **out)
{
	KH_ENSURE(cn != NULL && cn[0] != '\0' && strlen(cn) <= 64, KH_ERR_BAD_INPUT);
	KH_ENSURE(days >= 1 && days <= 36500, KH_ERR_BAD_INPUT);
	X509 *x = X509_new();
	KH_ENSURE(x != NULL, kh_ossl_error("X509_new"));
	kh_rc rc = set_serial(x);
	if (rc == KH_OK)
		rc = set_name_and_validity(x, cn, days);
	if (rc == KH_OK && X509_set_pubkey(x, kh_pkey_evp(key)) != 1)
		rc = kh_ossl_error("X509_set_pubkey");
	if (rc != KH_OK) {
		X509_free(x);
		return rc;
	}
	*out = x;
	return KH_OK;
}

kh_rc kh_x509_self_signed_ca(const struct kh_pkey *key, const char *cn, unsigned days,
                             struct kh_buf *out_pem)
{
	X509 *x = NULL;
	X509V3_CTX ctx;
	KH_ENSURE(key != NULL && kh_pkey_has_private(key), KH_ERR_BAD_KEY);
	KH_GUARD(cert_new(key, cn, days, &x));
	kh_rc rc = X509_set_issuer_name(x, X509_get_subject_name(x)) == 1 ? KH_OK
	                                                                  : kh_ossl_error("issuer");
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (rc == KH_OK)
		rc = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	if (rc == KH_OK)
		rc = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (rc == KH_OK)
		rc = add_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (rc == KH_OK)
		rc = sign_and_export(x, key, out_pem);
	X509_free(x);
	return rc;
}

/* "DNS:localhost,IP:127.0.0.1" from the two lists. */
static kh_rc san_text(const char *const *dns, const char *const *ips, char *out, size_t out_len)
{
	size_t used = 0;
	out[0] = '\0';
	for (int pass = 0; pass < 2; pass++) {
		const char *const *list = pass == 0 ? dns : ips;
		for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
			int n = snprintf(out + used, out_len - used, "%s%s:%s", used > 0 ? "," : "",
			                 pass == 0 ? "DNS" : "IP", list[i]);
			KH_ENSURE(n > 0 && (size_t)n < out_len - used, KH_ERR_TOO_LARGE);
			used += (size_t)n;
		}
	}
	KH_ENSURE(used > 0, KH_ERR_BAD_INPUT);
	return KH_OK;
}

static kh_rc load_cert(struct kh_slice pem, X509 **out)
{
	BIO *bio = BIO_new_mem_buf(pem.ptr, (int)pem.len);
	KH_ENSURE(bio != NULL, kh_ossl_error("BIO_new_mem_buf"));
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	KH_ENSURE(x != NULL, kh_ossl_discard(KH_ERR_BAD_KEY));
	*out = x;
	return KH_OK;
}

kh_rc kh_x509_issue_server(const struct kh_pkey *ca_key, struct kh_slice ca_cert_pem,
                           const struct kh_pkey *subject, const char *cn, const char *const *dns,
                           const char *const *ips, unsigned days, struct kh_buf *out_pem)
{
	X509 *ca = NULL, *x = NULL;
	X509V3_CTX ctx;
	char san[1024];
	KH_ENSURE(ca_key != NULL && kh_pkey_has_private(ca_key) && subject != NULL, KH_ERR_BAD_KEY);
	KH_ENSURE(ca_cert_pem.len > 0 && ca_cert_pem.len <= KH_LIMIT_KEY_ENCODED_BYTES,
	          KH_ERR_BAD_INPUT);
	KH_GUARD(san_text(dns, ips, san, sizeof(san)));
	KH_GUARD(load_cert(ca_cert_pem, &ca));
	kh_rc rc = X509_check_private_key(ca, kh_pkey_evp(ca_key)) == 1
	               ? KH_OK
	               : kh_ossl_discard(KH_ERR_BAD_KEY);
	if (rc == KH_OK)
		rc = cert_new(subject, cn, days, &x);
	if (rc == KH_OK && X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1)
		rc = kh_ossl_error("issuer");
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	if (rc == KH_OK)
		rc = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
	if (rc == KH_OK)
		rc = add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
	if (rc == KH_OK)
		rc = add_ext(x, &ctx, NID_ext_key_usage, "serverAuth");
	if (rc == KH_OK)
		rc = add_ext(x, &ctx, NID_subject_alt_name, san);
	if (rc == KH_OK)
		rc = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
	if (rc == KH_OK)
		rc = sign_and_export(x, ca_key, out_pem);
	X509_free(x);
	X509_free(ca);
	return rc;
}
