/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The certificate builder: an RFC 5280 v3 certificate from a plain spec, signed by a CA key
 * (or self-signed), with the extensions a CA profile writes, and DER/PEM conversion.
 *
 * The builder refuses rather than guesses: serials outside 8..20 positive minimal octets
 * (RFC 5280 4.1.2.2), an empty subject without SANs (4.1.2.6), a path length on a non-CA,
 * not_before >= not_after, a signer that does not hold the issuer certificate's key.
 */
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <string.h>

#include "crypto/kh_pki_status.h"
#include "crypto/pki_cert_int.h"

/* 9999-12-31T23:59:59Z, the last instant RFC 5280 4.1.2.5 can express. */
#define MAX_TIME 253402300799LL

kh_rc kh_pki_serial_random(uint8_t *out, size_t len)
{
	KH_ENSURE(out != NULL && len >= KH_PKI_SERIAL_MIN_LEN && len <= KH_PKI_SERIAL_MAX_LEN,
	          KH_ERR_BAD_INPUT);
	KH_GUARD(kh_rand_bytes(out, len));
	out[0] &= 0x7f; /* positive */
	out[0] |= 0x01; /* and minimally encoded at its full length */
	return KH_OK;
}

static kh_rc set_serial(X509 *x, struct kh_slice s)
{
	KH_ENSURE(s.ptr != NULL && s.len >= KH_PKI_SERIAL_MIN_LEN && s.len <= KH_PKI_SERIAL_MAX_LEN,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(s.ptr[0] >= 0x01 && s.ptr[0] <= 0x7f, KH_ERR_BAD_INPUT);
	BIGNUM *bn = BN_bin2bn(s.ptr, (int)s.len, NULL);
	ASN1_INTEGER *serial = bn != NULL ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	int ok = serial != NULL && X509_set_serialNumber(x, serial) == 1;
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return ok ? KH_OK : kh_ossl_error("serial number");
}

static kh_rc set_subject(X509 *x, const struct kh_pki_cert_spec *spec)
{
	X509_NAME *name = NULL;

	if (spec->subject_der.len > 0) {
		const unsigned char *p = spec->subject_der.ptr;
		KH_ENSURE(spec->subject_der.len <= KH_PKI_NAME_DER_MAX, KH_ERR_TOO_LARGE);
		name = d2i_X509_NAME(NULL, &p, (long)spec->subject_der.len);
		KH_ENSURE(name != NULL, kh_ossl_discard(KH_ERR_BAD_INPUT));
		if (p != spec->subject_der.ptr + spec->subject_der.len) {
			X509_NAME_free(name);
			return KH_ERR_BAD_INPUT;
		}
	} else {
		KH_GUARD(kh_pki_name_parse(spec->subject, &name));
	}
	int ok = X509_set_subject_name(x, name);
	X509_NAME_free(name);
	return ok == 1 ? KH_OK : kh_ossl_error("X509_set_subject_name");
}

static kh_rc set_validity(X509 *x, int64_t nb, int64_t na)
{
	KH_ENSURE(nb >= 0 && nb < na && na <= MAX_TIME, KH_ERR_BAD_INPUT);
	/* ASN1_TIME_set picks UTCTime before 2050, GeneralizedTime after (RFC 5280 4.1.2.5). */
	KH_ENSURE(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) != NULL &&
	              ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) != NULL,
	          kh_ossl_error("validity"));
	return KH_OK;
}

static kh_rc add_ext(X509 *x, int nid, void *value, int critical)
{
	return X509_add1_ext_i2d(x, nid, value, critical, X509V3_ADD_DEFAULT) == 1
	           ? KH_OK
	           : kh_ossl_error("X509_add1_ext_i2d");
}

static kh_rc add_basic_constraints(X509 *x, bool is_ca, int path_len)
{
	BASIC_CONSTRAINTS *bc;
	kh_rc rc;

	KH_ENSURE(path_len >= -1 && (is_ca || path_len == -1), KH_ERR_BAD_INPUT);
	bc = BASIC_CONSTRAINTS_new();
	KH_ENSURE(bc != NULL, kh_ossl_error("BASIC_CONSTRAINTS_new"));
	bc->ca = is_ca ? 0xff : 0;
	if (path_len >= 0) {
		bc->pathlen = ASN1_INTEGER_new();
		if (bc->pathlen == NULL || ASN1_INTEGER_set(bc->pathlen, path_len) != 1) {
			BASIC_CONSTRAINTS_free(bc);
			return kh_ossl_error("pathLenConstraint");
		}
	}
	rc = add_ext(x, NID_basic_constraints, bc, 1);
	BASIC_CONSTRAINTS_free(bc);
	return rc;
}

static kh_rc add_key_usage(X509 *x, unsigned bits)
{
	ASN1_BIT_STRING *ku;
	kh_rc rc = KH_OK;

	if (bits == 0)
		return KH_OK;
	KH_ENSURE(bits < (1u << 7), KH_ERR_BAD_INPUT);
	ku = ASN1_BIT_STRING_new();
	KH_ENSURE(ku != NULL, kh_ossl_error("ASN1_BIT_STRING_new"));
	for (int i = 0; i < 7 && rc == KH_OK; i++)
		if ((bits & (1u << i)) != 0 && ASN1_BIT_STRING_set_bit(ku, i, 1) != 1)
			rc = kh_ossl_error("ASN1_BIT_STRING_set_bit");
	if (rc == KH_OK)
		rc = add_ext(x, NID_key_usage, ku, 1);
	ASN1_BIT_STRING_free(ku);
	return rc;
}

static ASN1_OBJECT *eku_object(const char *name)
{
	static const struct {
		const char *name;
		int nid;
	} names[] = {
	    {"serverAuth", NID_server_auth}, {"clientAuth", NID_client_auth},
	    {"codeSigning", NID_code_sign},  {"emailProtection", NID_email_protect},
	    {"OCSPSigning", NID_OCSP_sign},  {"timeStamping", NID_time_stamp},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0)
			return OBJ_nid2obj(names[i].nid);
	return OBJ_txt2obj(name, 1); /* dotted OIDs only */
}

static kh_rc add_ekus(X509 *x, const char *const *ekus, size_t count)
{
	EXTENDED_KEY_USAGE *eku;
	kh_rc rc = KH_OK;

	if (count == 0)
		return KH_OK;
	KH_ENSURE(ekus != NULL && count <= KH_PKI_EKU_COUNT_MAX, KH_ERR_BAD_INPUT);
	eku = sk_ASN1_OBJECT_new_null();
	KH_ENSURE(eku != NULL, kh_ossl_error("sk_ASN1_OBJECT_new_null"));
	for (size_t i = 0; i < count && rc == KH_OK; i++) {
		ASN1_OBJECT *obj = ekus[i] != NULL ? eku_object(ekus[i]) : NULL;
		if (obj == NULL)
			rc = kh_ossl_discard(KH_ERR_BAD_INPUT);
		else if (sk_ASN1_OBJECT_push(eku, obj) <= 0) {
			ASN1_OBJECT_free(obj);
			rc = kh_ossl_error("sk_ASN1_OBJECT_push");
		}
	}
	if (rc == KH_OK)
		rc = add_ext(x, NID_ext_key_usage, eku, 0);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return rc;
}

static kh_rc add_sans(X509 *x, const struct kh_pki_cert_spec *spec)
{
	bool empty_subject = X509_NAME_entry_count(X509_get_subject_name(x)) == 0;
	GENERAL_NAMES *gens = NULL;
	kh_rc rc;

	if (spec->san_count == 0) {
		KH_ENSURE(!empty_subject, KH_ERR_BAD_INPUT);
		return KH_OK;
	}
	KH_GUARD(kh_pki_sans_make(spec->sans, spec->san_count, &gens));
	rc = add_ext(x, NID_subject_alt_name, gens, empty_subject ? 1 : 0);
	GENERAL_NAMES_free(gens);
	return rc;
}

/* A URI GeneralName for url. */
static kh_rc uri_name(const char *url, GENERAL_NAME **out)
{
	struct kh_pki_san san = {.type = KH_PKI_SAN_URI};
	GENERAL_NAMES *gens = NULL;

	KH_ENSURE(url != NULL, KH_ERR_BAD_INPUT);
	KH_GUARD(kh_pki_copy_text(san.value, sizeof(san.value), url, strlen(url)));
	KH_GUARD(kh_pki_sans_make(&san, 1, &gens));
	*out = sk_GENERAL_NAME_pop(gens);
	GENERAL_NAMES_free(gens);
	return KH_OK;
}

/* RFC 5280 4.2.1.13: one distribution point per URL, each a fullName URI. */
static kh_rc add_crldp(X509 *x, const char *const *urls, size_t count)
{
	CRL_DIST_POINTS *dps;
	kh_rc rc = KH_OK;

	if (count == 0)
		return KH_OK;
	KH_ENSURE(urls != NULL && count <= KH_PKI_URL_COUNT_MAX, KH_ERR_BAD_INPUT);
	dps = sk_DIST_POINT_new_null();
	KH_ENSURE(dps != NULL, kh_ossl_error("sk_DIST_POINT_new_null"));
	for (size_t i = 0; i < count && rc == KH_OK; i++) {
		DIST_POINT *dp = DIST_POINT_new();
		GENERAL_NAME *g = NULL;
		if (dp == NULL || (dp->distpoint = DIST_POINT_NAME_new()) == NULL ||
		    (dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null()) == NULL) {
			DIST_POINT_free(dp);
			rc = kh_ossl_error("DIST_POINT_new");
			break;
		}
		dp->distpoint->type = 0; /* fullName */
		rc = uri_name(urls[i], &g);
		if (rc == KH_OK && sk_GENERAL_NAME_push(dp->distpoint->name.fullname, g) <= 0) {
			GENERAL_NAME_free(g);
			rc = kh_ossl_error("sk_GENERAL_NAME_push");
		}
		if (rc == KH_OK && sk_DIST_POINT_push(dps, dp) <= 0)
			rc = kh_ossl_error("sk_DIST_POINT_push");
		if (rc != KH_OK)
			DIST_POINT_free(dp);
	}
	if (rc == KH_OK)
		rc = add_ext(x, NID_crl_distribution_points, dps, 0);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return rc;
}

static kh_rc push_access(AUTHORITY_INFO_ACCESS *aia, int method, const char *url)
{
	ACCESS_DESCRIPTION *ad;
	GENERAL_NAME *g = NULL;

	if (url == NULL || url[0] == '\0')
		return KH_OK;
	KH_GUARD(uri_name(url, &g));
	ad = ACCESS_DESCRIPTION_new();
	if (ad == NULL) {
		GENERAL_NAME_free(g);
		return kh_ossl_error("ACCESS_DESCRIPTION_new");
	}
	ASN1_OBJECT_free(ad->method);
	ad->method = OBJ_nid2obj(method);
	GENERAL_NAME_free(ad->location);
	ad->location = g;
	if (sk_ACCESS_DESCRIPTION_push(aia, ad) <= 0) {
		ACCESS_DESCRIPTION_free(ad);
		return kh_ossl_error("sk_ACCESS_DESCRIPTION_push");
	}
	return KH_OK;
}

/* RFC 5280 4.2.2.1 authorityInfoAccess: OCSP and caIssuers. */
static kh_rc add_aia(X509 *x, const char *ocsp, const char *ca_issuers)
{
	AUTHORITY_INFO_ACCESS *aia = sk_ACCESS_DESCRIPTION_new_null();
	kh_rc rc;

	KH_ENSURE(aia != NULL, kh_ossl_error("sk_ACCESS_DESCRIPTION_new_null"));
	rc = push_access(aia, NID_ad_OCSP, ocsp);
	if (rc == KH_OK)
		rc = push_access(aia, NID_ad_ca_issuers, ca_issuers);
	if (rc == KH_OK && sk_ACCESS_DESCRIPTION_num(aia) > 0)
		rc = add_ext(x, NID_info_access, aia, 0);
	sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
	return rc;
}

/* RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value. */
static kh_rc key_id(const X509 *x, ASN1_OCTET_STRING **out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	ASN1_OCTET_STRING *id;

	KH_ENSURE(X509_pubkey_digest(x, EVP_sha1(), md, &md_len) == 1, kh_ossl_error("key id"));
	id = ASN1_OCTET_STRING_new();
	if (id == NULL || ASN1_OCTET_STRING_set(id, md, (int)md_len) != 1) {
		ASN1_OCTET_STRING_free(id);
		return kh_ossl_error("key id");
	}
	*out = id;
	return KH_OK;
}

/* subjectKeyIdentifier of x, and authorityKeyIdentifier = the issuer's (RFC 5280 4.2.1.1). */
static kh_rc add_key_ids(X509 *x, X509 *issuer)
{
	ASN1_OCTET_STRING *ski = NULL;
	AUTHORITY_KEYID *akid = NULL;
	const ASN1_OCTET_STRING *issuer_ski =
	    issuer != NULL ? X509_get0_subject_key_id(issuer) : NULL;
	kh_rc rc;

	KH_GUARD(key_id(x, &ski));
	akid = AUTHORITY_KEYID_new();
	KH_ENSURE_OUT(akid != NULL, kh_ossl_error("AUTHORITY_KEYID_new"));
	if (issuer == NULL)
		akid->keyid = ASN1_OCTET_STRING_dup(ski);
	else if (issuer_ski != NULL)
		akid->keyid = ASN1_OCTET_STRING_dup(issuer_ski);
	else
		KH_GUARD_OUT(key_id(issuer, &akid->keyid));
	KH_ENSURE_OUT(akid->keyid != NULL, kh_ossl_error("ASN1_OCTET_STRING_dup"));
	KH_GUARD_OUT(add_ext(x, NID_subject_key_identifier, ski, 0));
	rc = add_ext(x, NID_authority_key_identifier, akid, 0);
out:
	AUTHORITY_KEYID_free(akid);
	ASN1_OCTET_STRING_free(ski);
	return rc;
}

/* RFC 6960 4.2.2.2.1: a delegated responder's certificate is not checked for revocation. */
static kh_rc add_ocsp_nocheck(X509 *x)
{
	ASN1_NULL *null = ASN1_NULL_new();
	KH_ENSURE(null != NULL, kh_ossl_error("ASN1_NULL_new"));
	kh_rc rc = add_ext(x, NID_id_pkix_OCSP_noCheck, null, 0);
	ASN1_NULL_free(null);
	return rc;
}

static kh_rc add_extensions(X509 *x, X509 *issuer, const struct kh_pki_cert_spec *spec)
{
	if (spec->ocsp_nocheck)
		KH_GUARD(add_ocsp_nocheck(x));
	KH_GUARD(add_basic_constraints(x, spec->is_ca, spec->path_len));
	KH_GUARD(add_key_usage(x, spec->key_usage));
	KH_GUARD(add_ekus(x, spec->ekus, spec->eku_count));
	KH_GUARD(add_sans(x, spec));
	KH_GUARD(add_crldp(x, spec->crl_urls, spec->crl_url_count));
	KH_GUARD(add_aia(x, spec->ocsp_url, spec->ca_issuers_url));
	return add_key_ids(x, issuer);
}

/* Issuer name and the check that signer holds the issuer's key. */
static kh_rc set_issuer(X509 *x, const X509 *issuer, const struct kh_pki_cert_spec *spec,
                        const struct kh_pkey *signer)
{
	if (issuer == NULL) {
		KH_ENSURE(EVP_PKEY_eq(kh_pkey_evp(spec->subject_key), kh_pkey_evp(signer)) == 1,
		          kh_ossl_discard(KH_ERR_BAD_KEY));
		return X509_set_issuer_name(x, X509_get_subject_name(x)) == 1
		           ? KH_OK
		           : kh_ossl_error("issuer");
	}
	KH_ENSURE(X509_check_private_key(issuer, kh_pkey_evp(signer)) == 1,
	          kh_ossl_discard(KH_ERR_BAD_KEY));
	return X509_set_issuer_name(x, X509_get_subject_name(issuer)) == 1
	           ? KH_OK
	           : kh_ossl_error("issuer");
}

static kh_rc append_der(X509 *x, struct kh_buf *out)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	KH_ENSURE(len > 0, kh_ossl_error("i2d_X509"));
	kh_rc rc = kh_buf_append(out, KH_SLICE(der, (size_t)len));
	OPENSSL_free(der);
	return rc;
}

kh_rc kh_pki_cert_build(const struct kh_pki_cert_spec *spec, const struct kh_pkey *signer,
                        struct kh_buf *out_der)
{
	X509 *x = NULL, *issuer = NULL;
	EVP_MD_CTX *mctx = NULL;
	kh_rc rc;

	KH_ENSURE(spec != NULL && spec->subject_key != NULL && out_der != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(signer != NULL && kh_pkey_has_private(signer), KH_ERR_BAD_KEY);
	if (spec->issuer_cert_der.len > 0)
		KH_GUARD(kh_pki_x509_from_der(spec->issuer_cert_der, &issuer));
	x = X509_new();
	KH_ENSURE_OUT(x != NULL, kh_ossl_error("X509_new"));
	KH_ENSURE_OUT(X509_set_version(x, 2) == 1, kh_ossl_error("X509_set_version"));
	KH_GUARD_OUT(set_serial(x, spec->serial));
	KH_GUARD_OUT(set_subject(x, spec));
	KH_GUARD_OUT(set_issuer(x, issuer, spec, signer));
	KH_GUARD_OUT(set_validity(x, spec->not_before, spec->not_after));
	KH_ENSURE_OUT(X509_set_pubkey(x, kh_pkey_evp(spec->subject_key)) == 1,
	              kh_ossl_error("X509_set_pubkey"));
	KH_GUARD_OUT(add_extensions(x, issuer, spec));
	KH_GUARD_OUT(kh_pki_sign_ctx(signer, spec->sm2_id, &mctx));
	KH_ENSURE_OUT(X509_sign_ctx(x, mctx) > 0, kh_ossl_error("X509_sign_ctx"));
	rc = append_der(x, out_der);
out:
	EVP_MD_CTX_free(mctx);
	X509_free(x);
	X509_free(issuer);
	return rc;
}

kh_rc kh_pki_cert_to_pem(struct kh_slice der, struct kh_buf *out_pem)
{
	X509 *x = NULL;
	/* Only a certificate gets the label. */
	KH_GUARD(kh_pki_x509_from_der(der, &x));
	X509_free(x);
	return kh_pki_der_to_pem(der, "CERTIFICATE", out_pem);
}

kh_rc kh_pki_cert_from_pem(struct kh_slice pem, struct kh_buf *out_der)
{
	unsigned char *der = NULL;
	long len = 0;
	bool owned = false;
	X509 *x = NULL;
	kh_rc rc;

	KH_GUARD(kh_pki_der_in(pem, "CERTIFICATE", NULL, &der, &len, &owned));
	KH_ENSURE(owned, KH_ERR_BAD_INPUT); /* DER given where PEM was asked for */
	rc = kh_pki_x509_from_der(KH_SLICE(der, (size_t)len), &x);
	if (rc == KH_OK)
		rc = kh_buf_append(out_der, KH_SLICE(der, (size_t)len));
	X509_free(x);
	OPENSSL_free(der);
	return rc;
}
