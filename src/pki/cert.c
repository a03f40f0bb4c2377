// SPDX-License-Identifier: Apache-2.0
/* Issued certificates: reading one (with its chain) and listing them with filters. */
#include <string.h>

#include "pki/kh_pki_int.h"

#define READERS (KH_PKI_ANY_ACCOUNT | KH_PKI_OPERATOR)

static kh_rc opt_int(struct kh_store_rows *rows, unsigned col, int64_t *out)
{
	bool is_null = false;
	int64_t v = 0;
	KH_GUARD(kh_store_rows_int_opt(rows, col, &v, &is_null));
	*out = is_null ? 0 : v;
	return KH_OK;
}

kh_rc kh_pki_certrow_decode(struct kh_store_rows *rows, struct kh_pki_certificate *out,
                            int64_t *keystore_id, struct kh_buf *der)
{
	struct kh_pki_certificate c = {0};
	struct kh_slice s;
	int64_t reason = 0;
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPX_SERIAL, c.serial, sizeof(c.serial)));
	KH_GUARD(kh_store_rows_int(rows, KH_QPX_CA_ID, &c.ca_id));
	KH_GUARD(opt_int(rows, KH_QPX_REQUEST_ID, &c.request_id));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPX_SUBJECT, c.subject, sizeof(c.subject)));
	KH_GUARD(kh_store_rows_int(rows, KH_QPX_NOT_BEFORE, &c.not_before));
	KH_GUARD(kh_store_rows_int(rows, KH_QPX_NOT_AFTER, &c.not_after));
	KH_GUARD(kh_store_rows_text(rows, KH_QPX_STATUS, &s));
	KH_ENSURE(kh_pki_cert_status_parse(s, &c.status) == KH_OK, KH_ERR_STORAGE);
	KH_GUARD(opt_int(rows, KH_QPX_REVOKED_AT, &c.revoked_at));
	KH_GUARD(opt_int(rows, KH_QPX_REASON, &reason));
	KH_ENSURE(reason >= 0 && reason <= KH_CRL_REASON_AA_COMPROMISE && reason != 7,
	          KH_ERR_STORAGE);
	c.reason = (enum kh_crl_reason)reason;
	KH_GUARD(kh_store_rows_int(rows, KH_QPX_CREATED_AT, &c.created_at));
	KH_GUARD(kh_store_rows_int(rows, KH_QPX_KEYSTORE_ID, keystore_id));
	if (der != NULL) {
		KH_GUARD(kh_store_rows_blob(rows, KH_QPX_DER, &s));
		KH_GUARD(kh_buf_append(der, s));
	}
	*out = c;
	return KH_OK;
}

kh_rc kh_pki_certrow_load(struct kh_store_tx *tx, const char *serial,
                          struct kh_pki_certificate *out, int64_t *keystore_id, struct kh_buf *der)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_ENSURE(serial != NULL && strnlen(serial, KH_PKI_SERIAL_HEX_MAX) < KH_PKI_SERIAL_HEX_MAX,
	          KH_ERR_NOT_FOUND);
	struct kh_store_val v[] = {KH_SV_TEXT(serial)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_cert_get, v, 1, &rows, &found));
	kh_rc rc = found ? kh_pki_certrow_decode(rows, out, keystore_id, der) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_pki_certificate_get(struct kh_pki *pk, const struct kh_principal *p, const char *serial,
                             struct kh_pki_certificate *out, struct kh_buf *out_der,
                             struct kh_buf *out_chain)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_pki_certificate c;
	int64_t ks = 0;
	size_t der_mark = out_der != NULL ? out_der->len : 0;
	size_t chain_mark = out_chain != NULL ? out_chain->len : 0;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	KH_GUARD_OUT(kh_pki_certrow_load(tx, serial, &c, &ks, out_der));
	KH_GUARD_OUT(kh_pki_may(p, ks, READERS));
	if (out_chain != NULL)
		KH_GUARD_OUT(kh_pki_chain_pem(tx, c.ca_id, out_chain));
	*out = c;
out:
	kh_store_read_end(&tx);
	if (rc != KH_OK && out_der != NULL)
		kh_buf_truncate(out_der, der_mark);
	if (rc != KH_OK && out_chain != NULL)
		kh_buf_truncate(out_chain, chain_mark);
	return rc;
}

struct cert_page {
	kh_pki_certificate_fn fn;
	void *arg;
};

static kh_rc cert_row(struct kh_store_rows *rows, void *arg)
{
	struct cert_page *pg = arg;
	struct kh_pki_certificate c;
	int64_t ks = 0;
	KH_GUARD(kh_pki_certrow_decode(rows, &c, &ks, NULL));
	return pg->fn(&c, pg->arg);
}

kh_rc kh_pki_certificate_list(struct kh_pki *pk, const struct kh_principal *p,
                              const struct kh_pki_certificate_filter *f, kh_pki_certificate_fn fn,
                              void *arg, bool *out_more)
{
	int64_t ks = p->kind == KH_PRINCIPAL_OPERATOR ? f->keystore_id : p->keystore_id;
	KH_GUARD(kh_pki_may(p, ks, READERS));
	const char *status = f->status != 0 ? kh_pki_cert_status_name(f->status) : "";
	const char *after = f->after != NULL ? f->after : "";
	struct kh_store_val v[] = {KH_SV_INT(ks), KH_SV_INT(f->ca_id), KH_SV_TEXT(status),
	                           KH_SV_TEXT(after), KH_SV_INT((int64_t)f->limit + 1)};
	struct cert_page pg = {fn, arg};
	return kh_pki_page(pk->store, &kh_q_pki_cert_list, v, KH_SV_COUNT(v), f->limit, cert_row,
	                   &pg, out_more);
}
