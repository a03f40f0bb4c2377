// SPDX-License-Identifier: Apache-2.0
/*
 * Certificate profiles (PKI.md "Profiles"): per CA, named templates that decide everything a
 * certificate says besides its subject, SANs and key, which come from the request.
 */
#include <stdio.h>
#include <string.h>

#include "pki/kh_pki_int.h"

#define MAX_VALIDITY_DAYS 36500u
#define ALL_KEY_TYPES                                                                              \
	(KH_PKI_KEY_TYPE_BIT(KH_PKEY_RSA_2048) | KH_PKI_KEY_TYPE_BIT(KH_PKEY_RSA_3072) |           \
	 KH_PKI_KEY_TYPE_BIT(KH_PKEY_RSA_4096) | KH_PKI_KEY_TYPE_BIT(KH_PKEY_EC_P256) |            \
	 KH_PKI_KEY_TYPE_BIT(KH_PKEY_EC_P384) | KH_PKI_KEY_TYPE_BIT(KH_PKEY_ED25519) |             \
	 KH_PKI_KEY_TYPE_BIT(KH_PKEY_SM2))
#define ALL_KEY_USAGES 0x7fu

#define SIGN_USAGES                                                                                \
	(KH_PKI_KU_DIGITAL_SIGNATURE | KH_PKI_KU_NON_REPUDIATION | KH_PKI_KU_KEY_CERT_SIGN |       \
	 KH_PKI_KU_CRL_SIGN)
#define ENCRYPT_USAGES                                                                             \
	(KH_PKI_KU_KEY_ENCIPHERMENT | KH_PKI_KU_DATA_ENCIPHERMENT | KH_PKI_KU_KEY_AGREEMENT)

const char *kh_pki_profile_kind_problem(const struct kh_pki_profile *pr)
{
	switch (pr->kind) {
	case KH_PKI_CERT_SIGN:
		if ((pr->key_usage & ENCRYPT_USAGES) != 0)
			return "a signing profile cannot have keyEncipherment, dataEncipherment or"
			       " keyAgreement";
		return NULL;
	case KH_PKI_CERT_ENCRYPT:
		if ((pr->key_usage & SIGN_USAGES) != 0)
			return "an encryption profile cannot have digitalSignature, nonRepudiation,"
			       " keyCertSign or cRLSign";
		if (pr->is_ca)
			return "an encryption profile cannot issue CA certificates";
		if ((pr->key_types & KH_PKI_KEY_TYPE_BIT(KH_PKEY_ED25519)) != 0)
			return "an encryption profile cannot allow ed25519 keys (signing only)";
		return NULL;
	case KH_PKI_CERT_BOTH:
		return NULL;
	}
	return "unknown kind";
}

/* The kind's usual key usage when the profile names none. */
static unsigned kind_default_usage(const struct kh_pki_profile *pr)
{
	switch (pr->kind) {
	case KH_PKI_CERT_SIGN:
		return pr->is_ca ? KH_PKI_KU_DIGITAL_SIGNATURE | KH_PKI_KU_KEY_CERT_SIGN |
		                       KH_PKI_KU_CRL_SIGN
		                 : KH_PKI_KU_DIGITAL_SIGNATURE | KH_PKI_KU_NON_REPUDIATION;
	case KH_PKI_CERT_ENCRYPT:
		return ENCRYPT_USAGES;
	case KH_PKI_CERT_BOTH:
		return KH_PKI_KU_DIGITAL_SIGNATURE | KH_PKI_KU_KEY_ENCIPHERMENT;
	}
	return 0;
}

static bool text_ok(const char *s, size_t max)
{
	return strnlen(s, max) < max;
}

static kh_rc check(const struct kh_pki_profile *in)
{
	KH_ENSURE(kh_pki_name_valid(in->name, KH_LIMIT_NAME_MAX), KH_ERR_BAD_INPUT);
	KH_ENSURE(in->key_types != 0 && (in->key_types & ~ALL_KEY_TYPES) == 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(in->validity_days >= 1 && in->validity_days <= MAX_VALIDITY_DAYS,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE((in->key_usage & ~ALL_KEY_USAGES) == 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(in->kind >= KH_PKI_CERT_SIGN && in->kind <= KH_PKI_CERT_BOTH, KH_ERR_BAD_INPUT);
	KH_ENSURE(in->path_len >= -1 && in->path_len <= 16, KH_ERR_BAD_INPUT);
	KH_ENSURE(text_ok(in->ekus, sizeof(in->ekus)) &&
	              text_ok(in->crl_url, sizeof(in->crl_url)) &&
	              text_ok(in->ocsp_url, sizeof(in->ocsp_url)) &&
	              text_ok(in->ca_issuers_url, sizeof(in->ca_issuers_url)),
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_pki_profile_kind_problem(in) == NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(in->dual_profile[0] == '\0' ||
	              (in->kind == KH_PKI_CERT_SIGN && !in->is_ca &&
	               kh_pki_name_valid(in->dual_profile, KH_LIMIT_NAME_MAX) &&
	               strcmp(in->dual_profile, in->name) != 0),
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(in->est_label[0] == '\0' ||
	              kh_pki_name_valid(in->est_label, KH_PKI_EST_LABEL_MAX),
	          KH_ERR_BAD_INPUT);
	KH_ENSURE((in->est_auth & ~(KH_PKI_EST_BASIC | KH_PKI_EST_CERT)) == 0, KH_ERR_BAD_INPUT);
	return KH_OK;
}

/* A dual profile's twin: an encryption profile of the same CA that has no twin itself. */
static kh_rc check_twin(struct kh_store_tx *tx, const struct kh_pki_profile *in)
{
	struct kh_pki_profile twin;
	if (in->dual_profile[0] == '\0')
		return KH_OK;
	kh_rc rc = kh_pki_profile_load(tx, in->ca_id, in->dual_profile, &twin);
	KH_ENSURE(rc != KH_ERR_NOT_FOUND, KH_ERR_BAD_INPUT);
	KH_GUARD(rc);
	KH_ENSURE(twin.kind == KH_PKI_CERT_ENCRYPT && twin.dual_profile[0] == '\0',
	          KH_ERR_BAD_INPUT);
	return KH_OK;
}

static kh_rc decode_ints(struct kh_store_rows *rows, struct kh_pki_profile *pr)
{
	int64_t types = 0, days = 0, ku = 0, is_ca = 0, path_len = 0, approval = 0;
	KH_GUARD(kh_store_rows_int(rows, KH_QPP_CA_ID, &pr->ca_id));
	KH_GUARD(kh_store_rows_int(rows, KH_QPP_KEY_TYPES, &types));
	KH_GUARD(kh_store_rows_int(rows, KH_QPP_VALIDITY_DAYS, &days));
	KH_GUARD(kh_store_rows_int(rows, KH_QPP_KEY_USAGE, &ku));
	KH_GUARD(kh_store_rows_int(rows, KH_QPP_IS_CA, &is_ca));
	KH_GUARD(kh_store_rows_int(rows, KH_QPP_PATH_LEN, &path_len));
	KH_GUARD(kh_store_rows_int(rows, KH_QPP_APPROVAL, &approval));
	KH_GUARD(kh_store_rows_int(rows, KH_QPP_CREATED_AT, &pr->created_at));
	KH_GUARD(kh_store_rows_int(rows, KH_QPP_UPDATED_AT, &pr->updated_at));
	KH_ENSURE(types > 0 && types <= ALL_KEY_TYPES, KH_ERR_STORAGE);
	KH_ENSURE(days >= 1 && days <= MAX_VALIDITY_DAYS, KH_ERR_STORAGE);
	KH_ENSURE(ku >= 0 && ku <= ALL_KEY_USAGES, KH_ERR_STORAGE);
	KH_ENSURE(path_len >= -1 && path_len <= 16, KH_ERR_STORAGE);
	pr->key_types = (unsigned)types;
	pr->validity_days = (unsigned)days;
	pr->key_usage = (unsigned)ku;
	pr->is_ca = is_ca != 0;
	pr->path_len = (int)path_len;
	pr->approval_required = approval != 0;
	return KH_OK;
}

static kh_rc decode(struct kh_store_rows *rows, struct kh_pki_profile *out)
{
	struct kh_pki_profile pr = {0};
	struct kh_slice s;
	KH_GUARD(decode_ints(rows, &pr));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPP_NAME, pr.name, sizeof(pr.name)));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPP_EKUS, pr.ekus, sizeof(pr.ekus)));
	KH_GUARD(kh_store_rows_text(rows, KH_QPP_KIND, &s));
	KH_ENSURE(kh_pki_cert_kind_parse(s, &pr.kind) == KH_OK, KH_ERR_STORAGE);
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPP_CRL_URL, pr.crl_url, sizeof(pr.crl_url)));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPP_OCSP_URL, pr.ocsp_url, sizeof(pr.ocsp_url)));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPP_CA_ISSUERS_URL, pr.ca_issuers_url,
	                                 sizeof(pr.ca_issuers_url)));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPP_DUAL_PROFILE, pr.dual_profile,
	                                 sizeof(pr.dual_profile)));
	if (!kh_store_rows_is_null(rows, KH_QPP_EST_LABEL))
		KH_GUARD(kh_store_rows_text_copy(rows, KH_QPP_EST_LABEL, pr.est_label,
		                                 sizeof(pr.est_label)));
	int64_t auth = 0;
	KH_GUARD(kh_store_rows_int(rows, KH_QPP_EST_AUTH, &auth));
	KH_ENSURE(auth >= 0 && auth <= (KH_PKI_EST_BASIC | KH_PKI_EST_CERT), KH_ERR_STORAGE);
	pr.est_auth = (unsigned)auth;
	*out = pr;
	return KH_OK;
}

kh_rc kh_pki_profile_load(struct kh_store_tx *tx, int64_t ca_id, const char *name,
                          struct kh_pki_profile *out)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_ENSURE(name != NULL && strnlen(name, KH_LIMIT_NAME_MAX + 1) <= KH_LIMIT_NAME_MAX,
	          KH_ERR_NOT_FOUND);
	struct kh_store_val v[] = {KH_SV_INT(ca_id), KH_SV_TEXT(name)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_profile_get, v, KH_SV_COUNT(v), &rows, &found));
	kh_rc rc = found ? decode(rows, out) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	return rc;
}

/* The CA of a profile change, and whether p manages it. */
static kh_rc managed_ca(struct kh_pki_change *ch, struct kh_store_tx *tx, int64_t ca_id)
{
	struct kh_pki_ca ca;
	return kh_pki_change_ca(ch, tx, ca_id, KH_PKI_MANAGER | KH_PKI_OPERATOR, &ca);
}

static void profile_detail(struct kh_pki_change *ch, const struct kh_pki_profile *in)
{
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"ca\":%lld,\"profile\":\"%s\",\"approval\":%s,\"validity_days\":%u}",
	         (long long)in->ca_id, in->name, in->approval_required ? "true" : "false",
	         in->validity_days);
}

/* The kind's usual key usage when none is named; Basic for an EST label without a method. */
static void defaults(struct kh_pki_profile *pr)
{
	if (pr->key_usage == 0)
		pr->key_usage = kind_default_usage(pr);
	if (pr->est_label[0] != '\0' && pr->est_auth == 0)
		pr->est_auth = KH_PKI_EST_BASIC;
	if (pr->est_label[0] == '\0')
		pr->est_auth = 0;
}

struct profile_arg {
	struct kh_pki_profile in; /* with the kind's usual key usage when it named none */
};

/* Both writes take the profile's columns in one order (kh_q_pki_profile_insert's; the update
 * names them by number), so one array serves both. */
static kh_rc write_profile(struct kh_pki_change *ch, struct kh_store_tx *tx, bool update)
{
	const struct kh_pki_profile *in = &((const struct profile_arg *)ch->arg)->in;
	uint64_t changed = 0;
	KH_GUARD(managed_ca(ch, tx, in->ca_id));
	KH_GUARD(check(in));
	KH_GUARD(check_twin(tx, in));
	struct kh_store_val v[] = {
	    KH_SV_INT(in->ca_id),
	    KH_SV_TEXT(in->name),
	    KH_SV_INT(in->key_types),
	    KH_SV_INT(in->validity_days),
	    KH_SV_INT(in->key_usage),
	    KH_SV_TEXT(in->ekus),
	    KH_SV_INT(in->is_ca ? 1 : 0),
	    KH_SV_INT(in->path_len),
	    KH_SV_INT(in->approval_required ? 1 : 0),
	    KH_SV_TEXT(kh_pki_cert_kind_name(in->kind)),
	    KH_SV_TEXT(in->crl_url),
	    KH_SV_TEXT(in->ocsp_url),
	    KH_SV_TEXT(in->ca_issuers_url),
	    KH_SV_INT(ch->now), /* created_at: the update leaves it */
	    KH_SV_INT(ch->now),
	    KH_SV_TEXT(in->dual_profile),
	    in->est_label[0] != '\0' ? KH_SV_TEXT(in->est_label) : KH_SV_NULL,
	    KH_SV_INT(in->est_auth),
	};
	KH_GUARD(kh_store_exec(tx, update ? &kh_q_pki_profile_update : &kh_q_pki_profile_insert, v,
	                       KH_SV_COUNT(v), &changed));
	KH_ENSURE(!update || changed == 1, KH_ERR_NOT_FOUND);
	profile_detail(ch, in);
	return KH_OK;
}

static kh_rc create_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	return write_profile(ch, tx, false);
}

static kh_rc update_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	return write_profile(ch, tx, true);
}

kh_rc kh_pki_profile_create(struct kh_pki *pk, const struct kh_principal *p,
                            const struct kh_pki_profile *in)
{
	struct profile_arg a = {*in};
	defaults(&a.in);
	struct kh_pki_change ch = {
	    .pk = pk, .p = p, .op = "pki.profile.create", .apply = create_fn, .arg = &a};
	return kh_pki_change_run(&ch);
}

kh_rc kh_pki_profile_update(struct kh_pki *pk, const struct kh_principal *p,
                            const struct kh_pki_profile *in)
{
	struct profile_arg a = {*in};
	defaults(&a.in);
	struct kh_pki_change ch = {
	    .pk = pk, .p = p, .op = "pki.profile.update", .apply = update_fn, .arg = &a};
	return kh_pki_change_run(&ch);
}

static kh_rc readable_ca(struct kh_store_tx *tx, const struct kh_principal *p, int64_t ca_id)
{
	struct kh_pki_ca ca;
	KH_GUARD(kh_pki_ca_load(tx, ca_id, &ca, NULL, NULL));
	return kh_pki_may(p, ca.keystore_id, KH_PKI_ANY_ACCOUNT | KH_PKI_OPERATOR);
}

kh_rc kh_pki_profile_get(struct kh_pki *pk, const struct kh_principal *p, int64_t ca_id,
                         const char *name, struct kh_pki_profile *out)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = readable_ca(tx, p, ca_id);
	if (rc == KH_OK)
		rc = kh_pki_profile_load(tx, ca_id, name, out);
	kh_store_read_end(&tx);
	return rc;
}

kh_rc kh_pki_profile_list(struct kh_pki *pk, const struct kh_principal *p, int64_t ca_id,
                          kh_pki_profile_fn fn, void *arg)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	struct kh_store_val v[] = {KH_SV_INT(ca_id)};
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	KH_GUARD_OUT(readable_ca(tx, p, ca_id));
	KH_GUARD_OUT(kh_store_query(tx, &kh_q_pki_profile_list, v, 1, &rows));
	for (;;) {
		bool more = false;
		struct kh_pki_profile pr;
		KH_GUARD_OUT(kh_store_rows_next(rows, &more));
		if (!more)
			break;
		KH_GUARD_OUT(decode(rows, &pr));
		KH_GUARD_OUT(fn(&pr, arg));
	}
out:
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc;
}

kh_rc kh_pki_est_profile(struct kh_pki *pk, const char *label, struct kh_pki_profile *out)
{
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_ENSURE(label != NULL && kh_pki_name_valid(label, KH_PKI_EST_LABEL_MAX),
	          KH_ERR_NOT_FOUND);
	struct kh_store_val v[] = {KH_SV_TEXT(label)};
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_store_query_one(tx, &kh_q_pki_profile_by_est_label, v, KH_SV_COUNT(v), &rows,
	                              &found);
	if (rc == KH_OK)
		rc = found ? decode(rows, out) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc;
}
