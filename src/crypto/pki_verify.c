/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate chain verification (RFC 5280 6.1, by OpenSSL's verifier with its strict checks)
 * at a chosen time, and the read-back of a certificate's fields.
 *
 * OpenSSL 3.0 checks a certificate's SM2 signature with the ID attached to that certificate,
 * and attaches none by default (so an empty ID): the GM/T default ID is attached to every
 * certificate of the chain signed with SM2-with-SM3 before verifying, the leaf, the
 * intermediates and the roots alike (PKI.md, "SM2 facts that bite").
 */
#include <openssl/bn.h>
#include <openssl/x509_vfy.h>
#include <string.h>

#include "base/kh_mem.h"
#include "crypto/pki_cert_int.h"

static void say(char *reason, size_t reason_len, const char *why)
{
	if (reason == NULL || reason_len == 0)
		return;
	size_t n = strnlen(why, reason_len - 1);
	memcpy(reason, why, n);
	reason[n] = '\0';
}

static kh_rc load(struct kh_slice der, X509 **out)
{
	X509 *x = NULL;

	KH_GUARD(kh_pki_x509_from_der(der, &x));
	if (X509_get_signature_nid(x) == NID_SM2_with_SM3) {
		ASN1_OCTET_STRING *id = NULL;
		kh_rc rc = kh_pki_sm2_default_id(&id);
		if (rc != KH_OK) {
			X509_free(x);
			return rc;
		}
		X509_set0_distinguishing_id(x, id); /* x owns it now */
	}
	*out = x;
	return KH_OK;
}

static kh_rc load_roots(X509_STORE *store, const struct kh_slice *roots, size_t count)
{
	KH_ENSURE(count > 0 && roots != NULL, KH_ERR_BAD_INPUT);
	for (size_t i = 0; i < count; i++) {
		X509 *x = NULL;
		KH_GUARD(load(roots[i], &x));
		int ok = X509_STORE_add_cert(store, x); /* takes its own reference */
		X509_free(x);
		KH_ENSURE(ok == 1, kh_ossl_error("X509_STORE_add_cert"));
	}
	return KH_OK;
}

static kh_rc load_untrusted(STACK_OF(X509) * chain, const struct kh_slice *certs, size_t count)
{
	KH_ENSURE(count == 0 || certs != NULL, KH_ERR_BAD_INPUT);
	for (size_t i = 0; i < count; i++) {
		X509 *x = NULL;
		KH_GUARD(load(certs[i], &x));
		if (sk_X509_push(chain, x) <= 0) {
			X509_free(x);
			return kh_ossl_error("sk_X509_push");
		}
	}
	return KH_OK;
}

static kh_rc run_verify(X509_STORE *store, X509 *leaf, STACK_OF(X509) * untrusted, int64_t at,
                        char *reason, size_t reason_len)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *vp;
	kh_rc rc = KH_OK;

	KH_ENSURE(ctx != NULL, kh_ossl_error("X509_STORE_CTX_new"));
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
		X509_STORE_CTX_free(ctx);
		return kh_ossl_error("X509_STORE_CTX_init");
	}
	vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(vp, (time_t)at);
	X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_X509_STRICT);
	if (X509_verify_cert(ctx) != 1) {
		int err = X509_STORE_CTX_get_error(ctx);
		say(reason, reason_len, X509_verify_cert_error_string(err));
		rc = err == X509_V_ERR_OUT_OF_MEM ? KH_ERR_NOMEM
		                                  : kh_ossl_discard(KH_ERR_BAD_SIGNATURE);
	}
	X509_STORE_CTX_free(ctx);
	return rc;
}

kh_rc kh_pki_chain_verify(struct kh_slice leaf, const struct kh_slice *intermediates,
                          size_t intermediate_count, const struct kh_slice *roots,
                          size_t root_count, int64_t at, char *reason, size_t reason_len)
{
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509 *x = NULL;
	kh_rc rc;

	KH_ENSURE_OUT(store != NULL && untrusted != NULL, kh_ossl_error("X509_STORE_new"));
	KH_GUARD_OUT(load_roots(store, roots, root_count));
	KH_GUARD_OUT(load_untrusted(untrusted, intermediates, intermediate_count));
	KH_GUARD_OUT(load(leaf, &x));
	rc = run_verify(store, x, untrusted, at, reason, reason_len);
out:
	X509_free(x);
	sk_X509_pop_free(untrusted, X509_free);
	X509_STORE_free(store);
	return rc;
}

kh_rc kh_pki_anchor_check(struct kh_slice der, int64_t at, char *reason, size_t reason_len)
{
	X509 *x = NULL;
	kh_rc rc = load(der, &x);
	if (rc != KH_OK) {
		say(reason, reason_len, "not an X.509 certificate");
		return rc;
	}
	EVP_PKEY *key = X509_get0_pubkey(x);
	if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0) {
		say(reason, reason_len, "not self-issued (issuer differs from subject)");
		rc = KH_ERR_BAD_INPUT;
	} else if (X509_check_ca(x) != 1) {
		say(reason, reason_len, "not a CA certificate");
		rc = kh_ossl_discard(KH_ERR_BAD_INPUT);
	} else if (key == NULL || X509_verify(x, key) != 1) {
		/* X509_verify uses the ID load() attached: the GM/T default for SM2. */
		say(reason, reason_len, "self-signature does not verify");
		rc = kh_ossl_discard(KH_ERR_BAD_SIGNATURE);
	} else {
		/* Dates and OpenSSL's strict checks, with the certificate as its own root. */
		rc = kh_pki_chain_verify(der, NULL, 0, &der, 1, at, reason, reason_len);
		if (rc == KH_ERR_BAD_SIGNATURE)
			rc = KH_ERR_BAD_INPUT;
	}
	X509_free(x);
	return rc;
}

/* ---- Read-back ---- */

kh_rc kh_pki_cert_public_key(struct kh_slice der, struct kh_pkey **out)
{
	X509 *x = NULL;
	unsigned char *spki = NULL;
	KH_GUARD(kh_pki_x509_from_der(der, &x));
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	kh_rc rc = len > 0 ? kh_pkey_import_public(KH_SLICE(spki, (size_t)len), out)
	                   : kh_ossl_error("i2d_X509_PUBKEY");
	OPENSSL_free(spki);
	X509_free(x);
	return rc;
}

static kh_rc unix_time(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	KH_ENSURE(t != NULL && ASN1_TIME_to_tm(t, &tm) == 1, kh_ossl_discard(KH_ERR_BAD_INPUT));
	time_t secs = timegm(&tm);
	*out = (int64_t)secs;
	return KH_OK;
}

static kh_rc read_serial(const X509 *x, struct kh_pki_cert_info *info)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	kh_rc rc = hex != NULL ? kh_pki_copy_text(info->serial_hex, sizeof(info->serial_hex), hex,
	                                          strlen(hex))
	                       : kh_ossl_error("serial");
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

/* OpenSSL's KU_ bits (0x80 = digitalSignature) to ours (bit 0 = digitalSignature). */
static unsigned key_usage_bits(uint32_t ossl)
{
	unsigned out = 0;
	for (unsigned i = 0; i < 7; i++)
		if ((ossl & (0x80u >> i)) != 0)
			out |= 1u << i;
	return out;
}

/* The decoded extension nid, or NULL when absent; KH_ERR_BAD_INPUT when repeated or bad. */
static kh_rc ext_d2i(X509 *x, int nid, void **out)
{
	int crit = 0;
	*out = X509_get_ext_d2i(x, nid, &crit, NULL);
	KH_ENSURE(*out != NULL || crit == -1, kh_ossl_discard(KH_ERR_BAD_INPUT));
	return KH_OK;
}

static kh_rc read_ekus(X509 *x, struct kh_pki_cert_info *info)
{
	EXTENDED_KEY_USAGE *eku = NULL;
	kh_rc rc = KH_OK;

	KH_GUARD(ext_d2i(x, NID_ext_key_usage, (void **)&eku));
	for (int i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku) && rc == KH_OK; i++) {
		if (info->eku_count >= KH_PKI_EKU_COUNT_MAX)
			rc = KH_ERR_TOO_LARGE;
		else
			rc = kh_pki_oid_text(sk_ASN1_OBJECT_value(eku, i),
			                     info->ekus[info->eku_count++], KH_PKI_OID_TEXT_MAX);
	}
	EXTENDED_KEY_USAGE_free(eku);
	return rc;
}

static kh_rc read_sans(X509 *x, struct kh_pki_cert_info *info)
{
	GENERAL_NAMES *gens = NULL;
	kh_rc rc = KH_OK;

	KH_GUARD(ext_d2i(x, NID_subject_alt_name, (void **)&gens));
	if (gens != NULL)
		rc = kh_pki_sans_read(gens, info->sans, &info->san_count);
	GENERAL_NAMES_free(gens);
	return rc;
}

static kh_rc uri_of(const GENERAL_NAME *g, char *out, size_t out_len)
{
	KH_ENSURE(g->type == GEN_URI, KH_ERR_BAD_INPUT);
	const unsigned char *d = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
	int len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
	KH_ENSURE(len > 0 && memchr(d, 0, (size_t)len) == NULL, KH_ERR_BAD_INPUT);
	return kh_pki_copy_text(out, out_len, d, (size_t)len);
}

static kh_rc read_crldp(X509 *x, struct kh_pki_cert_info *info)
{
	CRL_DIST_POINTS *dps = NULL;
	kh_rc rc = KH_OK;

	KH_GUARD(ext_d2i(x, NID_crl_distribution_points, (void **)&dps));
	for (int i = 0; dps != NULL && i < sk_DIST_POINT_num(dps) && rc == KH_OK; i++) {
		const DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue; /* only fullName points carry URLs */
		GENERAL_NAMES *names = dp->distpoint->name.fullname;
		for (int j = 0; j < sk_GENERAL_NAME_num(names) && rc == KH_OK; j++) {
			if (info->crl_url_count >= KH_PKI_URL_COUNT_MAX)
				rc = KH_ERR_TOO_LARGE;
			else
				rc = uri_of(sk_GENERAL_NAME_value(names, j),
				            info->crl_urls[info->crl_url_count++], KH_PKI_URL_MAX);
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return rc;
}

static kh_rc read_aia(X509 *x, struct kh_pki_cert_info *info)
{
	AUTHORITY_INFO_ACCESS *aia = NULL;
	kh_rc rc = KH_OK;

	KH_GUARD(ext_d2i(x, NID_info_access, (void **)&aia));
	for (int i = 0; aia != NULL && i < sk_ACCESS_DESCRIPTION_num(aia) && rc == KH_OK; i++) {
		const ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		int nid = OBJ_obj2nid(ad->method);
		if (nid == NID_ad_OCSP && info->ocsp_url[0] == '\0')
			rc = uri_of(ad->location, info->ocsp_url, sizeof(info->ocsp_url));
		else if (nid == NID_ad_ca_issuers && info->ca_issuers_url[0] == '\0')
			rc = uri_of(ad->location, info->ca_issuers_url,
			            sizeof(info->ca_issuers_url));
	}
	sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
	return rc;
}

static kh_rc copy_key_id(const ASN1_OCTET_STRING *id, uint8_t *out, size_t *out_len)
{
	if (id == NULL)
		return KH_OK;
	int len = ASN1_STRING_length(id);
	KH_ENSURE(len >= 0 && (size_t)len <= KH_PKI_KEYID_MAX, KH_ERR_TOO_LARGE);
	memcpy(out, ASN1_STRING_get0_data(id), (size_t)len);
	*out_len = (size_t)len;
	return KH_OK;
}

/* Our type for the key, 0 when it is none of ours; out of memory is still an error. */
static kh_rc read_key_type(X509 *x, struct kh_pki_cert_info *info)
{
	unsigned char *der = NULL;
	struct kh_pkey *key = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	kh_rc rc;

	KH_ENSURE(len > 0, kh_ossl_error("i2d_X509_PUBKEY"));
	rc = kh_pkey_import_public(KH_SLICE(der, (size_t)len), &key);
	if (rc == KH_OK)
		info->key_type = kh_pkey_type_of(key);
	kh_pkey_free(&key);
	OPENSSL_free(der);
	return rc == KH_ERR_BAD_KEY ? KH_OK : rc;
}

static kh_rc read_fields(X509 *x, struct kh_pki_cert_info *info)
{
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj = NULL;
	uint32_t flags = X509_get_extension_flags(x); /* also caches the extensions */

	KH_ENSURE((flags & EXFLAG_INVALID) == 0, KH_ERR_BAD_INPUT);
	KH_GUARD(read_serial(x, info));
	KH_GUARD(kh_pki_name_text(X509_get_subject_name(x), info->subject, sizeof(info->subject)));
	KH_GUARD(kh_pki_name_text(X509_get_issuer_name(x), info->issuer, sizeof(info->issuer)));
	KH_GUARD(unix_time(X509_get0_notBefore(x), &info->not_before));
	KH_GUARD(unix_time(X509_get0_notAfter(x), &info->not_after));
	KH_GUARD(read_key_type(x, info));
	info->is_ca = (flags & EXFLAG_CA) != 0;
	info->path_len = (int)X509_get_pathlen(x);
	info->has_key_usage = (flags & EXFLAG_KUSAGE) != 0;
	info->key_usage = info->has_key_usage ? key_usage_bits(X509_get_key_usage(x)) : 0;
	KH_GUARD(read_ekus(x, info));
	KH_GUARD(read_sans(x, info));
	KH_GUARD(copy_key_id(X509_get0_subject_key_id(x), info->ski, &info->ski_len));
	KH_GUARD(copy_key_id(X509_get0_authority_key_id(x), info->aki, &info->aki_len));
	KH_GUARD(read_crldp(x, info));
	KH_GUARD(read_aia(x, info));
	X509_get0_signature(NULL, &alg, x);
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	return kh_pki_oid_text(obj, info->sig_alg_oid, sizeof(info->sig_alg_oid));
}

kh_rc kh_pki_cert_info_read(struct kh_slice der, struct kh_pki_cert_info **out)
{
	X509 *x = NULL;
	struct kh_pki_cert_info *info = NULL;
	kh_rc rc;

	KH_GUARD(kh_pki_x509_from_der(der, &x));
	info = kh_calloc(1, sizeof(*info));
	KH_ENSURE_OUT(info != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(read_fields(x, info));
	*out = info;
	info = NULL;
out:
	kh_pki_cert_info_free(&info);
	X509_free(x);
	return rc;
}

void kh_pki_cert_info_free(struct kh_pki_cert_info **info)
{
	if (info != NULL && *info != NULL)
		kh_free(info);
}
