/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRLs (RFC 5280 section 5): a full or delta v2 CertificateList encoded by hand, in one pass
 * over the entries (100,000 entries take a few tens of milliseconds), signed over the exact
 * TBSCertList bytes; the verifier checks our own CRLs, SM2 included; the parser reads one back.
 */
#include <limits.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_pki_status_int.h"

/* OID contents (X.690 8.19) of the extensions written here (RFC 5280 4.2.1.1, 5.2, 5.3). */
static const uint8_t OID_AKI[] = {0x55, 0x1d, 0x23};
static const uint8_t OID_CRL_NUMBER[] = {0x55, 0x1d, 0x14};
static const uint8_t OID_DELTA_CRL[] = {0x55, 0x1d, 0x1b};
static const uint8_t OID_REASON[] = {0x55, 0x1d, 0x15};
static const uint8_t OID_INVALIDITY[] = {0x55, 0x1d, 0x18};

/* Room per entry: serial (23) + time (17) + reason (13) + invalidity (24) + headers. */
enum {
	ENTRY_MAX_BYTES = 96,
	CRL_FIXED_BYTES = 64 * 1024,
};

static bool reason_valid(enum kh_crl_reason r, bool delta)
{
	switch (r) {
	case KH_CRL_REASON_UNSPECIFIED:
	case KH_CRL_REASON_KEY_COMPROMISE:
	case KH_CRL_REASON_CA_COMPROMISE:
	case KH_CRL_REASON_AFFILIATION_CHANGED:
	case KH_CRL_REASON_SUPERSEDED:
	case KH_CRL_REASON_CESSATION_OF_OPERATION:
	case KH_CRL_REASON_CERTIFICATE_HOLD:
	case KH_CRL_REASON_PRIVILEGE_WITHDRAWN:
	case KH_CRL_REASON_AA_COMPROMISE:
		return true;
	case KH_CRL_REASON_REMOVE_FROM_CRL:
		return delta; /* RFC 5280 5.3.1: only in delta CRLs */
	}
	return false;
}

static kh_rc scratch_ext(struct kh_buf *scratch, struct kh_buf *out, struct kh_slice oid,
                         bool critical)
{
	kh_rc rc = kh_der_extension(out, oid, critical, kh_buf_slice(scratch));
	kh_buf_clear(scratch);
	return rc;
}

/* RFC 5280 5.1.2.6: SEQUENCE { userCertificate, revocationDate, crlEntryExtensions }. */
static kh_rc entry_write(const struct kh_pki_crl_entry *e, bool delta, struct kh_buf *scratch,
                         struct kh_buf *out)
{
	size_t start = out->len;
	KH_ENSURE(reason_valid(e->reason, delta), KH_ERR_BAD_INPUT);
	KH_GUARD(kh_der_serial(out, e->serial));
	KH_GUARD(kh_der_time(out, e->revoked_at, false));
	if (e->reason != KH_CRL_REASON_UNSPECIFIED || e->invalidity_date != 0) {
		size_t exts = out->len;
		if (e->reason != KH_CRL_REASON_UNSPECIFIED) {
			KH_GUARD(kh_der_uint(scratch, DER_ENUMERATED, (uint64_t)e->reason));
			KH_GUARD(scratch_ext(scratch, out, KH_SLICE(OID_REASON, 3), false));
		}
		if (e->invalidity_date != 0) {
			/* RFC 5280 5.3.2: always GeneralizedTime. */
			KH_GUARD(kh_der_time(scratch, e->invalidity_date, true));
			KH_GUARD(scratch_ext(scratch, out, KH_SLICE(OID_INVALIDITY, 3), false));
		}
		KH_GUARD(kh_der_wrap_from(out, exts, DER_SEQUENCE));
	}
	return kh_der_wrap_from(out, start, DER_SEQUENCE);
}

/* The CA's subjectKeyIdentifier, else SHA-1 of its key (RFC 5280 4.2.1.2 method 1). */
static kh_rc authority_key_id(X509 *ca, struct kh_buf *scratch, struct kh_buf *out)
{
	uint8_t sha1[20];
	struct kh_slice id;
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);
	if (ski != NULL) {
		id = KH_SLICE(ASN1_STRING_get0_data(ski), (size_t)ASN1_STRING_length(ski));
	} else {
		KH_GUARD(kh_pki_cert_key_sha1(ca, sha1));
		id = KH_SLICE(sha1, sizeof(sha1));
	}
	/* AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING } */
	KH_GUARD(kh_der_tlv(scratch, DER_CTX | 0, id));
	KH_GUARD(kh_der_wrap_from(scratch, 0, DER_SEQUENCE));
	return scratch_ext(scratch, out, KH_SLICE(OID_AKI, 3), false);
}

/* RFC 5280 5.1.2.7 and 5.2: [0] EXPLICIT Extensions. */
static kh_rc crl_extensions(X509 *ca, const struct kh_pki_crl_params *p, struct kh_buf *scratch,
                            struct kh_buf *out)
{
	size_t start = out->len;
	KH_GUARD(authority_key_id(ca, scratch, out));
	KH_GUARD(kh_der_uint(scratch, DER_INTEGER, p->crl_number));
	KH_GUARD(scratch_ext(scratch, out, KH_SLICE(OID_CRL_NUMBER, 3), false));
	if (p->delta) {
		/* RFC 5280 5.2.4: critical, naming the base CRL. */
		KH_GUARD(kh_der_uint(scratch, DER_INTEGER, p->base_crl_number));
		KH_GUARD(scratch_ext(scratch, out, KH_SLICE(OID_DELTA_CRL, 3), true));
	}
	KH_GUARD(kh_der_wrap_from(out, start, DER_SEQUENCE));
	return kh_der_wrap_from(out, start, DER_CTX_CONS | 0);
}

static kh_rc issuer_name(X509 *ca, struct kh_buf *out)
{
	unsigned char *der = NULL;
	int len = i2d_X509_NAME(X509_get_subject_name(ca), &der);
	KH_ENSURE(len > 0, kh_ossl_error("i2d_X509_NAME"));
	kh_rc rc = kh_buf_append(out, KH_SLICE(der, (size_t)len));
	OPENSSL_free(der);
	return rc;
}

static kh_rc params_check(const struct kh_pki_crl_params *p)
{
	KH_ENSURE(p != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(p->entry_count <= KH_LIMIT_CRL_ENTRIES, KH_ERR_TOO_LARGE);
	KH_ENSURE(p->entry_count == 0 || p->entries != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(p->next_update > p->this_update, KH_ERR_BAD_INPUT);
	/* RFC 5280 5.2.4: the base CRL precedes the delta. */
	KH_ENSURE(!p->delta || p->base_crl_number < p->crl_number, KH_ERR_BAD_INPUT);
	return KH_OK;
}

static kh_rc tbs_write(X509 *ca, const struct kh_pki_sigalg *sa, const struct kh_pki_crl_params *p,
                       struct kh_buf *tbs)
{
	struct kh_buf scratch;
	kh_rc rc;

	kh_buf_init(&scratch, 1024, KH_BUF_PLAIN);
	KH_GUARD_OUT(kh_der_uint(tbs, DER_INTEGER, 1)); /* v2 */
	KH_GUARD_OUT(kh_buf_append(tbs, sa->algid));
	KH_GUARD_OUT(issuer_name(ca, tbs));
	KH_GUARD_OUT(kh_der_time(tbs, p->this_update, false));
	KH_GUARD_OUT(kh_der_time(tbs, p->next_update, false));
	if (p->entry_count > 0) {
		size_t start = tbs->len;
		KH_GUARD_OUT(kh_buf_reserve(tbs, p->entry_count * ENTRY_MAX_BYTES));
		for (size_t i = 0; i < p->entry_count; i++)
			KH_GUARD_OUT(entry_write(&p->entries[i], p->delta, &scratch, tbs));
		KH_GUARD_OUT(kh_der_wrap_from(tbs, start, DER_SEQUENCE));
	}
	KH_GUARD_OUT(crl_extensions(ca, p, &scratch, tbs));
	KH_GUARD_OUT(kh_der_wrap_from(tbs, 0, DER_SEQUENCE));
out:
	kh_buf_cleanup(&scratch);
	return rc;
}

kh_rc kh_pki_crl_build(const struct kh_pkey *ca_key, const struct kh_pki_crl_params *params,
                       struct kh_buf *out_der)
{
	struct kh_pki_sigalg sa;
	struct kh_buf tbs;
	X509 *ca = NULL;
	kh_rc rc;

	KH_GUARD(params_check(params));
	KH_GUARD(kh_pki_sigalg_of_key(ca_key, &sa));
	KH_GUARD(kh_pki_cert_load(params->ca_cert, &ca));
	kh_buf_init(&tbs, CRL_FIXED_BYTES + (size_t)KH_LIMIT_CRL_ENTRIES * ENTRY_MAX_BYTES,
	            KH_BUF_PLAIN);
	KH_GUARD_OUT(kh_pki_cert_key_check(ca, ca_key));
	KH_GUARD_OUT(tbs_write(ca, &sa, params, &tbs));
	KH_GUARD_OUT(kh_pki_sign_wrap(ca_key, &sa, kh_buf_slice(&tbs), KH_SLICE_EMPTY, out_der));
out:
	kh_buf_cleanup(&tbs);
	X509_free(ca);
	return rc;
}

kh_rc kh_pki_crl_verify(struct kh_slice crl, struct kh_slice signer_cert)
{
	struct kh_slice in = crl, body, tbs, tbs_body, algid, inner_algid, bits;
	X509 *cert = NULL;

	KH_ENSURE(kh_der_read(&in, DER_SEQUENCE, &body, NULL) == KH_OK && in.len == 0,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_der_read(&body, DER_SEQUENCE, &tbs_body, &tbs) == KH_OK, KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_der_read(&body, DER_SEQUENCE, NULL, &algid) == KH_OK, KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_der_read(&body, DER_BIT_STRING, &bits, NULL) == KH_OK && body.len == 0,
	          KH_ERR_BAD_INPUT);
	/* RFC 5280 5.1.2.2: the TBS signature field equals signatureAlgorithm. */
	KH_ENSURE(kh_der_read(&tbs_body, DER_INTEGER, NULL, NULL) == KH_OK, KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_der_read(&tbs_body, DER_SEQUENCE, NULL, &inner_algid) == KH_OK,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_slice_eq(inner_algid, algid), KH_ERR_BAD_SIGNATURE);
	KH_GUARD(kh_pki_cert_load(signer_cert, &cert));
	kh_rc rc = kh_pki_verify_signed(tbs, algid, bits, cert);
	X509_free(cert);
	return rc;
}

static kh_rc ext_uint(void *ext, uint64_t *out)
{
	ASN1_INTEGER *i = ext;
	uint64_t v = 0;
	int ok = ASN1_INTEGER_get_uint64(&v, i);
	ASN1_INTEGER_free(i);
	KH_ENSURE(ok == 1, kh_ossl_discard(KH_ERR_BAD_INPUT));
	*out = v;
	return KH_OK;
}

static kh_rc entry_read(X509_REVOKED *r, struct kh_pki_crl_info_entry *e)
{
	int crit = 0;
	KH_GUARD(kh_pki_serial_of(X509_REVOKED_get0_serialNumber(r), e->serial, &e->serial_len));
	KH_GUARD(kh_pki_time_of(X509_REVOKED_get0_revocationDate(r), &e->revoked_at));
	ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
	if (reason != NULL) {
		long v = ASN1_ENUMERATED_get(reason);
		ASN1_ENUMERATED_free(reason);
		KH_ENSURE(v >= 0 && v <= 10 && v != 7, KH_ERR_BAD_INPUT);
		e->has_reason = true;
		e->reason = (enum kh_crl_reason)v;
	} else {
		KH_ENSURE(crit == -1, kh_ossl_discard(KH_ERR_BAD_INPUT)); /* -1: absent */
	}
	ASN1_GENERALIZEDTIME *inv = X509_REVOKED_get_ext_d2i(r, NID_invalidity_date, &crit, NULL);
	if (inv != NULL) {
		kh_rc rc = kh_pki_time_of(inv, &e->invalidity_date);
		ASN1_GENERALIZEDTIME_free(inv);
		KH_GUARD(rc);
	}
	return KH_OK;
}

static kh_rc crl_read(X509_CRL *x, struct kh_pki_crl_info *info)
{
	int crit = 0;
	void *ext;

	KH_GUARD(kh_pki_time_of(X509_CRL_get0_lastUpdate(x), &info->this_update));
	if (X509_CRL_get0_nextUpdate(x) != NULL)
		KH_GUARD(kh_pki_time_of(X509_CRL_get0_nextUpdate(x), &info->next_update));
	if ((ext = X509_CRL_get_ext_d2i(x, NID_crl_number, &crit, NULL)) != NULL) {
		KH_GUARD(ext_uint(ext, &info->crl_number));
		info->has_number = true;
	}
	if ((ext = X509_CRL_get_ext_d2i(x, NID_delta_crl, &crit, NULL)) != NULL) {
		KH_GUARD(ext_uint(ext, &info->base_crl_number));
		info->delta = true;
	}
	STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(x);
	int n = revoked != NULL ? sk_X509_REVOKED_num(revoked) : 0;
	KH_ENSURE((size_t)n <= KH_LIMIT_CRL_ENTRIES, KH_ERR_TOO_LARGE);
	if (n > 0) {
		info->entries = kh_calloc((size_t)n, sizeof(*info->entries));
		KH_ENSURE(info->entries != NULL, KH_ERR_NOMEM);
		info->entry_count = (size_t)n;
	}
	for (int i = 0; i < n; i++)
		KH_GUARD(entry_read(sk_X509_REVOKED_value(revoked, i), &info->entries[i]));
	return KH_OK;
}

kh_rc kh_pki_crl_parse(struct kh_slice crl, struct kh_pki_crl_info *out)
{
	struct kh_pki_crl_info info = {0};
	KH_ENSURE(crl.ptr != NULL && crl.len > 0 && crl.len <= LONG_MAX, KH_ERR_BAD_INPUT);
	const unsigned char *p = crl.ptr;
	X509_CRL *x = d2i_X509_CRL(NULL, &p, (long)crl.len);
	KH_ENSURE(x != NULL, kh_ossl_discard(KH_ERR_BAD_INPUT));
	kh_rc rc = p == crl.ptr + crl.len ? crl_read(x, &info) : KH_ERR_BAD_INPUT;
	X509_CRL_free(x);
	if (rc != KH_OK) {
		kh_pki_crl_info_cleanup(&info);
		return rc;
	}
	*out = info;
	return KH_OK;
}

void kh_pki_crl_info_cleanup(struct kh_pki_crl_info *info)
{
	if (info == NULL)
		return;
	kh_free(&info->entries);
	memset(info, 0, sizeof(*info));
}
