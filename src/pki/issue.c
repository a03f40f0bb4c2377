// SPDX-License-Identifier: Apache-2.0
/*
 * Issuance: a certificate for a checked request, as its profile says, signed by the CA's key
 * outside any transaction; then one write stores the certificate, moves the request to issued
 * and appends the audit records. Serials are 128 random bits with the top bit clear (positive,
 * RFC 5280 4.1.2.2); a serial that exists already (the insert's unique constraint) is drawn
 * again and the certificate signed again.
 */
#include <stdio.h>
#include <string.h>

#include "pki/kh_pki_int.h"
#include "pki/kh_pki_issue.h"

#define DAY_S INT64_C(86400)

/* Splits the profile's "a,b,c" into NUL-terminated names in buf. */
static kh_rc split_ekus(const char *text, char *buf, size_t buf_len, const char **out,
                        size_t *out_n)
{
	size_t n = 0, len = strnlen(text, buf_len);
	KH_ENSURE(len < buf_len, KH_ERR_STORAGE);
	memcpy(buf, text, len + 1);
	char *p = buf;
	while (*p != '\0') {
		KH_ENSURE(n < KH_PKI_EKU_COUNT_MAX, KH_ERR_STORAGE);
		out[n++] = p;
		char *comma = strchr(p, ',');
		if (comma == NULL)
			break;
		*comma = '\0';
		p = comma + 1;
	}
	*out_n = n;
	return KH_OK;
}

struct sign_arg {
	const struct kh_pki_issue *in;
	struct kh_pki_issued *out;
};

static kh_rc sign_fn(void *arg, const struct kh_pkey *key)
{
	struct sign_arg *a = arg;
	const struct kh_pki_issue *in = a->in;
	const struct kh_pki_profile *pr = in->profile;
	char eku_buf[KH_PKI_EKU_TEXT_MAX];
	const char *ekus[KH_PKI_EKU_COUNT_MAX];
	size_t eku_count = 0;
	KH_GUARD(split_ekus(pr->ekus, eku_buf, sizeof(eku_buf), ekus, &eku_count));
	const char *crl_urls[1] = {pr->crl_url};
	struct kh_pki_cert_spec spec = {
	    .serial = KH_SLICE(a->out->serial, sizeof(a->out->serial)),
	    .subject_der = KH_SLICE(in->csr->subject_der, in->csr->subject_der_len),
	    .subject = in->csr->subject,
	    .issuer_cert_der = in->ca_cert,
	    .not_before = a->out->not_before,
	    .not_after = a->out->not_after,
	    .subject_key = in->csr->key,
	    .is_ca = pr->is_ca,
	    .path_len = pr->is_ca ? pr->path_len : -1,
	    .key_usage = pr->key_usage,
	    .ekus = eku_count > 0 ? ekus : NULL,
	    .eku_count = eku_count,
	    .sans = in->csr->sans,
	    .san_count = in->csr->san_count,
	    .crl_urls = pr->crl_url[0] != '\0' ? crl_urls : NULL,
	    .crl_url_count = pr->crl_url[0] != '\0' ? 1 : 0,
	    .ocsp_url = pr->ocsp_url,
	    .ca_issuers_url = pr->ca_issuers_url,
	};
	kh_buf_clear(&a->out->der);
	return kh_pki_cert_build(&spec, key, &a->out->der);
}

kh_rc kh_pki_issue_sign(struct kh_pki *pk, const struct kh_pki_issue *in, struct kh_pki_issued *out)
{
	int64_t now_s = kh_pki_sec(in->now);
	int64_t ca_end = kh_pki_sec(in->ca->not_after);
	out->not_before = now_s;
	out->not_after = now_s + (int64_t)in->profile->validity_days * DAY_S;
	if (out->not_after > ca_end)
		out->not_after = ca_end;
	KH_ENSURE(out->not_after > now_s, KH_ERR_CONFLICT);
	KH_GUARD(kh_pki_serial_random(out->serial, sizeof(out->serial)));
	kh_pki_serial_hex(out->serial, sizeof(out->serial), out->serial_hex);
	struct sign_arg a = {in, out};
	return kh_pki_with_ca_key_defer(pk, in->signer, in->ca, in->defer, sign_fn, &a);
}

kh_rc kh_pki_issue_store(struct kh_store_tx *tx, const struct kh_pki_issue *in,
                         struct kh_pki_issued *out, int64_t request_id)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_store_val k[] = {KH_SV_TEXT(out->serial_hex)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_cert_get, k, 1, &rows, &found));
	kh_store_rows_close(&rows);
	out->serial_taken = found;
	KH_ENSURE(!found, KH_ERR_CONFLICT);
	struct kh_store_val v[] = {
	    KH_SV_TEXT(out->serial_hex),
	    KH_SV_INT(in->ca->id),
	    request_id != 0 ? KH_SV_INT(request_id) : KH_SV_NULL,
	    KH_SV_TEXT(in->csr->subject),
	    KH_SV_INT(out->not_before * KH_NS_PER_SEC),
	    KH_SV_INT(out->not_after * KH_NS_PER_SEC),
	    KH_SV_BLOB(kh_buf_slice(&out->der)),
	    KH_SV_INT(in->now),
	};
	return kh_store_exec(tx, &kh_q_pki_cert_insert, v, KH_SV_COUNT(v), NULL);
}
