/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCSP requests (RFC 6960 4.1): the GET form's decoding (A.1), the DER parser into a plain
 * struct (bounded in bytes and in CertIDs, strict about what follows the request), and the
 * check that a CertID names a given CA.
 */
#include <limits.h>
#include <openssl/ocsp.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "crypto/kh_pki_status_int.h"

static bool base64_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=';
}

kh_rc kh_pki_ocsp_get_decode(struct kh_slice segment, struct kh_buf *out_der)
{
	struct kh_buf text;
	size_t start = out_der->len;
	kh_rc rc;

	/* Base64 of the largest request, each character possibly escaped as %XX. */
	KH_ENSURE(segment.len <= 3 * kh_base64_encoded_len(KH_LIMIT_OCSP_REQUEST_BYTES),
	          KH_ERR_TOO_LARGE);
	KH_ENSURE(segment.ptr != NULL && segment.len > 0, KH_ERR_BAD_INPUT);
	kh_buf_init(&text, segment.len + 1, KH_BUF_PLAIN);
	for (size_t i = 0; i < segment.len; i++) {
		uint8_t c = segment.ptr[i];
		if (c == '%') {
			int hi = i + 2 < segment.len ? kh_hex_digit(segment.ptr[i + 1]) : -1;
			int lo = hi >= 0 ? kh_hex_digit(segment.ptr[i + 2]) : -1;
			KH_ENSURE_OUT(lo >= 0, KH_ERR_BAD_ENCODING);
			c = (uint8_t)(hi * 16 + lo);
			i += 2;
		}
		KH_ENSURE_OUT(base64_char(c), KH_ERR_BAD_ENCODING);
		KH_GUARD_OUT(kh_buf_append_byte(&text, c));
	}
	KH_GUARD_OUT(kh_base64_decode(kh_buf_slice(&text), out_der));
	KH_ENSURE_OUT(out_der->len - start <= KH_LIMIT_OCSP_REQUEST_BYTES, KH_ERR_TOO_LARGE);
out:
	if (rc != KH_OK)
		kh_buf_truncate(out_der, start);
	kh_buf_cleanup(&text);
	return rc;
}

static kh_rc hash_of_oid(const ASN1_OBJECT *oid, enum kh_ocsp_hash *out, size_t *out_len)
{
	switch (OBJ_obj2nid(oid)) {
	case NID_sha1:
		*out = KH_OCSP_HASH_SHA1;
		*out_len = 20;
		return KH_OK;
	case NID_sha256:
		*out = KH_OCSP_HASH_SHA256;
		*out_len = 32;
		return KH_OK;
	default:
		return KH_ERR_BAD_INPUT;
	}
}

static kh_rc octets(const ASN1_OCTET_STRING *s, size_t want, uint8_t *out)
{
	KH_ENSURE(s != NULL && (size_t)ASN1_STRING_length(s) == want, KH_ERR_BAD_INPUT);
	memcpy(out, ASN1_STRING_get0_data(s), want);
	return KH_OK;
}

static kh_rc certid_read(OCSP_CERTID *cid, struct kh_ocsp_certid *id)
{
	ASN1_OCTET_STRING *name_hash = NULL, *key_hash = NULL;
	ASN1_OBJECT *md = NULL;
	ASN1_INTEGER *serial = NULL;

	KH_ENSURE(OCSP_id_get0_info(&name_hash, &md, &key_hash, &serial, cid) == 1,
	          KH_ERR_BAD_INPUT);
	KH_GUARD(hash_of_oid(md, &id->hash, &id->hash_len));
	KH_GUARD(octets(name_hash, id->hash_len, id->name_hash));
	KH_GUARD(octets(key_hash, id->hash_len, id->key_hash));
	return kh_pki_serial_of(serial, id->serial, &id->serial_len);
}

/* RFC 8954 2.1: Nonce ::= OCTET STRING (SIZE(1..32)), inside the extension's OCTET STRING. */
static kh_rc nonce_read(OCSP_REQUEST *req, struct kh_ocsp_request *r)
{
	int at = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
	if (at < 0)
		return KH_OK;
	KH_ENSURE(OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, at) < 0,
	          KH_ERR_BAD_INPUT); /* RFC 5280 4.2: at most one instance */
	X509_EXTENSION *ext = OCSP_REQUEST_get_ext(req, at);
	ASN1_OCTET_STRING *value = X509_EXTENSION_get_data(ext);
	struct kh_slice in =
	    KH_SLICE(ASN1_STRING_get0_data(value), (size_t)ASN1_STRING_length(value));
	struct kh_slice nonce;
	KH_ENSURE(kh_der_read(&in, DER_OCTET_STRING, &nonce, NULL) == KH_OK && in.len == 0,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(nonce.len >= 1 && nonce.len <= KH_PKI_OCSP_NONCE_MAX_LEN, KH_ERR_BAD_INPUT);
	memcpy(r->nonce, nonce.ptr, nonce.len);
	r->nonce_len = nonce.len;
	r->has_nonce = true;
	return KH_OK;
}

static kh_rc request_read(OCSP_REQUEST *req, struct kh_ocsp_request *r)
{
	int n = OCSP_request_onereq_count(req);
	KH_ENSURE(n >= 1, KH_ERR_BAD_INPUT);
	KH_ENSURE((size_t)n <= KH_PKI_OCSP_CERTIDS_MAX, KH_ERR_TOO_LARGE);
	for (int i = 0; i < n; i++) {
		OCSP_ONEREQ *one = OCSP_request_onereq_get0(req, i);
		KH_GUARD(certid_read(OCSP_onereq_get0_id(one), &r->ids[i]));
	}
	r->id_count = (size_t)n;
	return nonce_read(req, r);
}

kh_rc kh_pki_ocsp_request_parse(struct kh_slice der, struct kh_ocsp_request *out)
{
	struct kh_ocsp_request r;
	KH_ENSURE(der.len <= KH_LIMIT_OCSP_REQUEST_BYTES, KH_ERR_TOO_LARGE);
	KH_ENSURE(der.ptr != NULL && der.len > 0, KH_ERR_BAD_INPUT);
	memset(&r, 0, sizeof(r));
	const unsigned char *p = der.ptr;
	OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &p, (long)der.len);
	KH_ENSURE(req != NULL, kh_ossl_discard(KH_ERR_BAD_INPUT));
	kh_rc rc = p == der.ptr + der.len ? request_read(req, &r) : KH_ERR_BAD_INPUT;
	OCSP_REQUEST_free(req);
	KH_GUARD(kh_ossl_discard(rc));
	*out = r;
	return KH_OK;
}

kh_rc kh_pki_ocsp_certid_matches(const struct kh_ocsp_certid *id, struct kh_slice ca_cert,
                                 bool *out_match)
{
	uint8_t name_hash[EVP_MAX_MD_SIZE], key_hash[EVP_MAX_MD_SIZE];
	unsigned name_len = 0, key_len = 0;
	unsigned char *name = NULL;
	X509 *ca = NULL;
	kh_rc rc;

	KH_ENSURE(id != NULL && (id->hash == KH_OCSP_HASH_SHA1 || id->hash == KH_OCSP_HASH_SHA256),
	          KH_ERR_BAD_INPUT);
	const EVP_MD *md = id->hash == KH_OCSP_HASH_SHA1 ? EVP_sha1() : EVP_sha256();
	KH_GUARD(kh_pki_cert_load(ca_cert, &ca));
	int name_der_len = i2d_X509_NAME(X509_get_subject_name(ca), &name);
	const ASN1_BIT_STRING *key = X509_get0_pubkey_bitstr(ca);
	KH_ENSURE_OUT(name_der_len > 0 && key != NULL, kh_ossl_error("CA name and key"));
	/* RFC 6960 4.1.1: issuerNameHash over the DER of the issuer's name, issuerKeyHash over
	 * the value of its subjectPublicKey BIT STRING (without tag, length and unused bits). */
	KH_ENSURE_OUT(EVP_Digest(name, (size_t)name_der_len, name_hash, &name_len, md, NULL) == 1 &&
	                  EVP_Digest(ASN1_STRING_get0_data(key), (size_t)ASN1_STRING_length(key),
	                             key_hash, &key_len, md, NULL) == 1,
	              kh_ossl_error("CertID hashes"));
	*out_match = name_len == id->hash_len && key_len == id->hash_len &&
	             memcmp(name_hash, id->name_hash, name_len) == 0 &&
	             memcmp(key_hash, id->key_hash, key_len) == 0;
	rc = KH_OK;
out:
	OPENSSL_free(name);
	X509_free(ca);
	return rc;
}
