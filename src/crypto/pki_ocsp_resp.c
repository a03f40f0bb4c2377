/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCSP responses (RFC 6960 4.2): the signed BasicOCSPResponse encoded by hand (responderID by
 * key hash, single responses, the nonce echoed, optionally the delegated responder's
 * certificate), the unsigned error responses, the verifier over the exact ResponseData bytes
 * (SM2 with the GM/T ID) and a reader for tests and the API.
 */
#include <limits.h>
#include <openssl/ocsp.h>
#include <string.h>

#include "crypto/kh_pki_status_int.h"

/* id-pkix-ocsp-basic and id-pkix-ocsp-nonce (RFC 6960 4.2.1, 4.4.1). */
static const uint8_t OID_OCSP_BASIC[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01};
static const uint8_t OID_OCSP_NONCE[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02};
/* AlgorithmIdentifiers of the CertID hashes, with NULL parameters as OpenSSL writes them. */
static const uint8_t ALGID_SHA1[] = {0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                     0x03, 0x02, 0x1a, 0x05, 0x00};
static const uint8_t ALGID_SHA256[] = {0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                       0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00};

enum {
	RESPONSE_MAX_BYTES = 256 * 1024,
};

/* RFC 6960 4.1.1 CertID, as the request had it. */
static kh_rc certid_write(const struct kh_ocsp_certid *id, struct kh_buf *out)
{
	size_t start = out->len;
	KH_ENSURE(id->hash == KH_OCSP_HASH_SHA1 || id->hash == KH_OCSP_HASH_SHA256,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(id->hash_len == (id->hash == KH_OCSP_HASH_SHA1 ? 20u : 32u), KH_ERR_BAD_INPUT);
	KH_ENSURE(id->serial_len >= 1 && id->serial_len <= KH_PKI_SERIAL_MAX_LEN, KH_ERR_BAD_INPUT);
	KH_GUARD(kh_buf_append(out, id->hash == KH_OCSP_HASH_SHA1
	                                ? KH_SLICE(ALGID_SHA1, sizeof(ALGID_SHA1))
	                                : KH_SLICE(ALGID_SHA256, sizeof(ALGID_SHA256))));
	KH_GUARD(kh_der_tlv(out, DER_OCTET_STRING, KH_SLICE(id->name_hash, id->hash_len)));
	KH_GUARD(kh_der_tlv(out, DER_OCTET_STRING, KH_SLICE(id->key_hash, id->hash_len)));
	KH_GUARD(kh_der_serial(out, KH_SLICE(id->serial, id->serial_len)));
	return kh_der_wrap_from(out, start, DER_SEQUENCE);
}

/* CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo,
 * unknown [2] IMPLICIT UnknownInfo (NULL) } */
static kh_rc status_write(const struct kh_ocsp_single *s, struct kh_buf *out)
{
	size_t start = out->len;
	switch (s->status) {
	case KH_OCSP_GOOD:
		return kh_der_tlv(out, DER_CTX | 0, KH_SLICE_EMPTY);
	case KH_OCSP_UNKNOWN:
		return kh_der_tlv(out, DER_CTX | 2, KH_SLICE_EMPTY);
	case KH_OCSP_REVOKED:
		break;
	default:
		return KH_ERR_BAD_INPUT;
	}
	/* RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime,
	 *                            revocationReason [0] EXPLICIT CRLReason OPTIONAL } */
	KH_GUARD(kh_der_time(out, s->revoked_at, true));
	if (s->has_reason) {
		KH_ENSURE((unsigned)s->reason <= 10 && s->reason != 7, KH_ERR_BAD_INPUT);
		size_t r = out->len;
		KH_GUARD(kh_der_uint(out, DER_ENUMERATED, (uint64_t)s->reason));
		KH_GUARD(kh_der_wrap_from(out, r, DER_CTX_CONS | 0));
	}
	return kh_der_wrap_from(out, start, DER_CTX_CONS | 1);
}

static kh_rc single_write(const struct kh_ocsp_single *s, struct kh_buf *out)
{
	size_t start = out->len;
	KH_GUARD(certid_write(&s->id, out));
	KH_GUARD(status_write(s, out));
	KH_GUARD(kh_der_time(out, s->this_update, true));
	if (s->next_update != 0) {
		KH_ENSURE(s->next_update > s->this_update, KH_ERR_BAD_INPUT);
		size_t n = out->len;
		KH_GUARD(kh_der_time(out, s->next_update, true));
		KH_GUARD(kh_der_wrap_from(out, n, DER_CTX_CONS | 0));
	}
	return kh_der_wrap_from(out, start, DER_SEQUENCE);
}

/* responseExtensions [1] EXPLICIT Extensions holding the nonce (RFC 6960 4.4.1, RFC 8954). */
static kh_rc nonce_write(struct kh_slice nonce, struct kh_buf *out)
{
	uint8_t value[2 + KH_PKI_OCSP_NONCE_MAX_LEN];
	size_t start = out->len;

	KH_ENSURE(nonce.ptr != NULL && nonce.len <= KH_PKI_OCSP_NONCE_MAX_LEN, KH_ERR_BAD_INPUT);
	value[0] = DER_OCTET_STRING;
	value[1] = (uint8_t)nonce.len;
	memcpy(value + 2, nonce.ptr, nonce.len);
	KH_GUARD(kh_der_extension(out, KH_SLICE(OID_OCSP_NONCE, sizeof(OID_OCSP_NONCE)), false,
	                          KH_SLICE(value, 2 + nonce.len)));
	KH_GUARD(kh_der_wrap_from(out, start, DER_SEQUENCE));
	return kh_der_wrap_from(out, start, DER_CTX_CONS | 1);
}

/* RFC 6960 4.2.1 ResponseData (version v1 is the DEFAULT, so absent). */
static kh_rc response_data_write(X509 *signer_cert, const struct kh_ocsp_response_params *p,
                                 struct kh_buf *out)
{
	uint8_t key_hash[20];

	KH_GUARD(kh_pki_cert_key_sha1(signer_cert, key_hash));
	/* ResponderID byKey [2] EXPLICIT KeyHash (OCTET STRING, SHA-1 of the key) */
	KH_GUARD(kh_der_header(out, DER_CTX_CONS | 2, 2 + sizeof(key_hash)));
	KH_GUARD(kh_der_tlv(out, DER_OCTET_STRING, KH_SLICE(key_hash, sizeof(key_hash))));
	KH_GUARD(kh_der_time(out, p->produced_at, true));
	size_t list = out->len;
	for (size_t i = 0; i < p->single_count; i++)
		KH_GUARD(single_write(&p->singles[i], out));
	KH_GUARD(kh_der_wrap_from(out, list, DER_SEQUENCE));
	if (p->nonce.len > 0)
		KH_GUARD(nonce_write(p->nonce, out));
	return kh_der_wrap_from(out, 0, DER_SEQUENCE);
}

/* OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED,
 *                             responseBytes [0] EXPLICIT ResponseBytes OPTIONAL } */
static kh_rc outer_write(enum kh_ocsp_response_status status, struct kh_slice basic,
                         struct kh_buf *out)
{
	size_t start = out->len;
	kh_rc rc;
	KH_GUARD_OUT(kh_der_uint(out, DER_ENUMERATED, (uint64_t)status));
	if (basic.len > 0) {
		size_t rb = out->len;
		KH_GUARD_OUT(
		    kh_der_tlv(out, DER_OID, KH_SLICE(OID_OCSP_BASIC, sizeof(OID_OCSP_BASIC))));
		KH_GUARD_OUT(kh_der_tlv(out, DER_OCTET_STRING, basic));
		KH_GUARD_OUT(kh_der_wrap_from(out, rb, DER_SEQUENCE));
		KH_GUARD_OUT(kh_der_wrap_from(out, rb, DER_CTX_CONS | 0));
	}
	KH_GUARD_OUT(kh_der_wrap_from(out, start, DER_SEQUENCE));
out:
	if (rc != KH_OK)
		kh_buf_truncate(out, start);
	return rc;
}

kh_rc kh_pki_ocsp_error_response(enum kh_ocsp_response_status status, struct kh_buf *out_der)
{
	switch (status) {
	case KH_OCSP_MALFORMED_REQUEST:
	case KH_OCSP_INTERNAL_ERROR:
	case KH_OCSP_TRY_LATER:
	case KH_OCSP_SIG_REQUIRED:
	case KH_OCSP_UNAUTHORIZED:
		return outer_write(status, KH_SLICE_EMPTY, out_der);
	case KH_OCSP_SUCCESSFUL:
		break;
	}
	return KH_ERR_BAD_INPUT;
}

static kh_rc certs_write(struct kh_slice cert, struct kh_buf *out)
{
	size_t start = out->len;
	KH_GUARD(kh_buf_append(out, cert));
	KH_GUARD(kh_der_wrap_from(out, start, DER_SEQUENCE));
	return kh_der_wrap_from(out, start, DER_CTX_CONS | 0);
}

kh_rc kh_pki_ocsp_response_build(const struct kh_pkey *signer,
                                 const struct kh_ocsp_response_params *params,
                                 struct kh_buf *out_der)
{
	struct kh_pki_sigalg sa;
	struct kh_buf tbs, basic, certs;
	X509 *cert = NULL;
	kh_rc rc;

	KH_ENSURE(params != NULL && params->singles != NULL && params->single_count >= 1,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(params->single_count <= KH_PKI_OCSP_CERTIDS_MAX, KH_ERR_TOO_LARGE);
	KH_GUARD(kh_pki_sigalg_of_key(signer, &sa));
	KH_GUARD(kh_pki_cert_load(params->signer_cert, &cert));
	kh_buf_init(&tbs, RESPONSE_MAX_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&basic, RESPONSE_MAX_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&certs, RESPONSE_MAX_BYTES, KH_BUF_PLAIN);
	KH_GUARD_OUT(kh_pki_cert_key_check(cert, signer));
	KH_GUARD_OUT(response_data_write(cert, params, &tbs));
	/* BasicOCSPResponse ends with certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL. */
	if (params->include_signer_cert)
		KH_GUARD_OUT(certs_write(params->signer_cert, &certs));
	KH_GUARD_OUT(
	    kh_pki_sign_wrap(signer, &sa, kh_buf_slice(&tbs), kh_buf_slice(&certs), &basic));
	KH_GUARD_OUT(outer_write(KH_OCSP_SUCCESSFUL, kh_buf_slice(&basic), out_der));
out:
	kh_buf_cleanup(&tbs);
	kh_buf_cleanup(&basic);
	kh_buf_cleanup(&certs);
	X509_free(cert);
	return rc;
}

/* The BasicOCSPResponse inside a successful OCSPResponse. */
static kh_rc basic_of(struct kh_slice resp, struct kh_slice *out)
{
	struct kh_slice in = resp, body, status, rb, rb_body, oid, basic;
	KH_ENSURE(kh_der_read(&in, DER_SEQUENCE, &body, NULL) == KH_OK && in.len == 0,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_der_read(&body, DER_ENUMERATED, &status, NULL) == KH_OK && status.len == 1 &&
	              status.ptr[0] == KH_OCSP_SUCCESSFUL,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_der_read(&body, DER_CTX_CONS | 0, &rb, NULL) == KH_OK && body.len == 0,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_der_read(&rb, DER_SEQUENCE, &rb_body, NULL) == KH_OK && rb.len == 0,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_der_read(&rb_body, DER_OID, &oid, NULL) == KH_OK &&
	              kh_slice_eq(oid, KH_SLICE(OID_OCSP_BASIC, sizeof(OID_OCSP_BASIC))),
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_der_read(&rb_body, DER_OCTET_STRING, &basic, NULL) == KH_OK &&
	              rb_body.len == 0,
	          KH_ERR_BAD_INPUT);
	*out = basic;
	return KH_OK;
}

kh_rc kh_pki_ocsp_verify(struct kh_slice resp, struct kh_slice signer_cert)
{
	struct kh_slice basic, body, tbs, algid, bits;
	X509 *cert = NULL;

	KH_GUARD(basic_of(resp, &basic));
	KH_ENSURE(kh_der_read(&basic, DER_SEQUENCE, &body, NULL) == KH_OK && basic.len == 0,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_der_read(&body, DER_SEQUENCE, NULL, &tbs) == KH_OK, KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_der_read(&body, DER_SEQUENCE, NULL, &algid) == KH_OK, KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_der_read(&body, DER_BIT_STRING, &bits, NULL) == KH_OK, KH_ERR_BAD_INPUT);
	KH_ENSURE(body.len == 0 || kh_der_read(&body, DER_CTX_CONS | 0, NULL, NULL) == KH_OK,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(body.len == 0, KH_ERR_BAD_INPUT);
	KH_GUARD(kh_pki_cert_load(signer_cert, &cert));
	kh_rc rc = kh_pki_verify_signed(tbs, algid, bits, cert);
	X509_free(cert);
	return rc;
}

static kh_rc single_read(OCSP_SINGLERESP *one, struct kh_ocsp_single *s)
{
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	ASN1_OCTET_STRING *name_hash = NULL, *key_hash = NULL;
	ASN1_OBJECT *md = NULL;
	ASN1_INTEGER *serial = NULL;
	int reason = -1;
	int st = OCSP_single_get0_status(one, &reason, &rev, &thisupd, &nextupd);

	KH_ENSURE(st >= 0 && st <= 2, KH_ERR_BAD_INPUT);
	s->status = (enum kh_ocsp_cert_status)st;
	const OCSP_CERTID *cid = OCSP_SINGLERESP_get0_id(one);
	KH_ENSURE(OCSP_id_get0_info(&name_hash, &md, &key_hash, &serial,
	                            (OCSP_CERTID *)(uintptr_t)cid) == 1,
	          KH_ERR_BAD_INPUT);
	int nid = OBJ_obj2nid(md);
	KH_ENSURE(nid == NID_sha1 || nid == NID_sha256, KH_ERR_BAD_INPUT);
	s->id.hash = nid == NID_sha1 ? KH_OCSP_HASH_SHA1 : KH_OCSP_HASH_SHA256;
	s->id.hash_len = nid == NID_sha1 ? 20 : 32;
	KH_ENSURE(ASN1_STRING_length(name_hash) == (int)s->id.hash_len &&
	              ASN1_STRING_length(key_hash) == (int)s->id.hash_len,
	          KH_ERR_BAD_INPUT);
	memcpy(s->id.name_hash, ASN1_STRING_get0_data(name_hash), s->id.hash_len);
	memcpy(s->id.key_hash, ASN1_STRING_get0_data(key_hash), s->id.hash_len);
	KH_GUARD(kh_pki_serial_of(serial, s->id.serial, &s->id.serial_len));
	if (st == V_OCSP_CERTSTATUS_REVOKED) {
		KH_GUARD(kh_pki_time_of(rev, &s->revoked_at));
		s->has_reason = reason >= 0;
		s->reason = reason >= 0 ? (enum kh_crl_reason)reason : KH_CRL_REASON_UNSPECIFIED;
	}
	KH_GUARD(kh_pki_time_of(thisupd, &s->this_update));
	if (nextupd != NULL)
		KH_GUARD(kh_pki_time_of(nextupd, &s->next_update));
	return KH_OK;
}

static kh_rc basic_read(OCSP_BASICRESP *bs, struct kh_ocsp_response_info *info)
{
	int n = OCSP_resp_count(bs);
	KH_ENSURE(n >= 1, KH_ERR_BAD_INPUT);
	KH_ENSURE((size_t)n <= KH_PKI_OCSP_CERTIDS_MAX, KH_ERR_TOO_LARGE);
	KH_GUARD(kh_pki_time_of(OCSP_resp_get0_produced_at(bs), &info->produced_at));
	for (int i = 0; i < n; i++)
		KH_GUARD(single_read(OCSP_resp_get0(bs, i), &info->singles[i]));
	info->single_count = (size_t)n;
	int at = OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, -1);
	if (at >= 0) {
		ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(OCSP_BASICRESP_get_ext(bs, at));
		struct kh_slice in =
		    KH_SLICE(ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
		struct kh_slice nonce;
		KH_ENSURE(kh_der_read(&in, DER_OCTET_STRING, &nonce, NULL) == KH_OK &&
		              in.len == 0 && nonce.len <= KH_PKI_OCSP_NONCE_MAX_LEN,
		          KH_ERR_BAD_INPUT);
		memcpy(info->nonce, nonce.ptr, nonce.len);
		info->nonce_len = nonce.len;
		info->has_nonce = true;
	}
	return KH_OK;
}

static kh_rc response_read(OCSP_RESPONSE *resp, struct kh_ocsp_response_info *info)
{
	int st = OCSP_response_status(resp);
	KH_ENSURE(st >= 0 && st <= 6 && st != 4, KH_ERR_BAD_INPUT);
	info->status = (enum kh_ocsp_response_status)st;
	if (st != OCSP_RESPONSE_STATUS_SUCCESSFUL)
		return KH_OK;
	OCSP_BASICRESP *bs = OCSP_response_get1_basic(resp);
	KH_ENSURE(bs != NULL, KH_ERR_BAD_INPUT);
	kh_rc rc = basic_read(bs, info);
	OCSP_BASICRESP_free(bs);
	return rc;
}

kh_rc kh_pki_ocsp_response_parse(struct kh_slice resp, struct kh_ocsp_response_info *out)
{
	struct kh_ocsp_response_info info;
	KH_ENSURE(resp.ptr != NULL && resp.len > 0 && resp.len <= RESPONSE_MAX_BYTES,
	          KH_ERR_BAD_INPUT);
	memset(&info, 0, sizeof(info));
	const unsigned char *p = resp.ptr;
	OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)resp.len);
	KH_ENSURE(r != NULL, kh_ossl_discard(KH_ERR_BAD_INPUT));
	kh_rc rc = p == resp.ptr + resp.len ? response_read(r, &info) : KH_ERR_BAD_INPUT;
	OCSP_RESPONSE_free(r);
	KH_GUARD(kh_ossl_discard(rc));
	*out = info;
	return KH_OK;
}
