// SPDX-License-Identifier: Apache-2.0
/*
 * What the service does with a CA on its own: serve its certificate and CRLs to anyone (the
 * unauthenticated /pki/ paths of API.md "PKI"), make the first CRL when a client asks for one
 * before anybody generated it, and keep every CA's full CRL fresh (the scheduler; the API after
 * a revocation). Signing here is the service's use of the CA's key (KH_PRINCIPAL_SYSTEM naming
 * the CA's key store), audited as such by crl.c.
 */
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "pki/kh_pki_int.h"

kh_rc kh_pki_ca_certificate(struct kh_pki *pk, int64_t ca_id, struct kh_buf *out_der)
{
	struct kh_store_tx *tx = NULL;
	struct kh_pki_ca ca;
	struct kh_buf cert;
	kh_buf_init(&cert, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_store_read_begin(pk->store, &tx);
	if (rc == KH_OK)
		rc = kh_pki_ca_load(tx, ca_id, &ca, &cert, NULL);
	kh_store_read_end(&tx);
	if (rc == KH_OK && (!ca.has_certificate || cert.len == 0))
		rc = KH_ERR_NOT_FOUND;
	if (rc == KH_OK)
		rc = kh_buf_append(out_der, kh_buf_slice(&cert));
	kh_buf_cleanup(&cert);
	return rc;
}

/* The CA's key store, for the service principal; KH_ERR_NOT_FOUND when there is no such CA or
 * it has no certificate yet (nothing to sign with). */
static kh_rc ca_keystore(struct kh_pki *pk, int64_t ca_id, int64_t *out)
{
	struct kh_store_tx *tx = NULL;
	struct kh_pki_ca ca;
	kh_rc rc = kh_store_read_begin(pk->store, &tx);
	if (rc == KH_OK)
		rc = kh_pki_ca_load(tx, ca_id, &ca, NULL, NULL);
	kh_store_read_end(&tx);
	if (rc == KH_OK && !ca.has_certificate)
		rc = KH_ERR_NOT_FOUND;
	if (rc == KH_OK)
		*out = ca.keystore_id;
	return rc;
}

kh_rc kh_pki_crl_refresh(struct kh_pki *pk, int64_t ca_id, bool with_delta)
{
	struct kh_principal sys = {.kind = KH_PRINCIPAL_SYSTEM, .request_id = "", .source = ""};
	struct kh_pki_crl crl;
	KH_GUARD(ca_keystore(pk, ca_id, &sys.keystore_id));
	KH_GUARD(kh_pki_crl_generate(pk, &sys, ca_id, false, &crl, NULL));
	return with_delta ? kh_pki_crl_generate(pk, &sys, ca_id, true, &crl, NULL) : KH_OK;
}

kh_rc kh_pki_crl_serve(struct kh_pki *pk, int64_t ca_id, bool delta, struct kh_buf *out_der)
{
	kh_rc rc = kh_pki_crl_current(pk, ca_id, delta, out_der);
	if (rc != KH_ERR_NOT_FOUND)
		return rc;
	/* None yet: the first one (a delta needs its base, a full CRL, first). */
	struct kh_principal sys = {.kind = KH_PRINCIPAL_SYSTEM, .request_id = "", .source = ""};
	struct kh_pki_crl crl;
	KH_GUARD(ca_keystore(pk, ca_id, &sys.keystore_id));
	if (delta) {
		struct kh_buf full;
		kh_buf_init(&full, KH_LIMIT_BODY_BYTES, KH_BUF_PLAIN);
		rc = kh_pki_crl_current(pk, ca_id, false, &full);
		kh_buf_cleanup(&full);
		if (rc == KH_ERR_NOT_FOUND)
			rc = kh_pki_crl_generate(pk, &sys, ca_id, false, &crl, NULL);
		KH_GUARD(rc);
	}
	return kh_pki_crl_generate(pk, &sys, ca_id, delta, &crl, out_der);
}

/* ---- the scheduler ---- */

struct due {
	int64_t ids[KH_LIMIT_PAGE_MAX];
	size_t count;
	int64_t last_id;
	size_t seen;
};

static kh_rc due_fn(const struct kh_pki_ca *ca, void *arg)
{
	struct due *d = arg;
	d->last_id = ca->id;
	d->seen++;
	if (ca->has_certificate && d->count < KH_LIMIT_PAGE_MAX)
		d->ids[d->count++] = ca->id;
	return KH_OK;
}

/* Whether the CA's newest full CRL is older than half its validity (or missing). */
static bool stale(struct kh_pki *pk, int64_t ca_id, int64_t now)
{
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	int64_t this_update = 0;
	struct kh_store_val v[] = {KH_SV_INT(ca_id), KH_SV_INT(0)};
	kh_rc rc = kh_store_read_begin(pk->store, &tx);
	if (rc == KH_OK)
		rc = kh_store_query_one(tx, &kh_q_pki_crl_latest, v, KH_SV_COUNT(v), &rows, &found);
	if (rc == KH_OK && found)
		rc = kh_store_rows_int(rows, 1, &this_update);
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc == KH_OK && (!found || now - this_update > KH_PKI_CRL_VALIDITY_NS / 2);
}

kh_rc kh_pki_crl_refresh_due(struct kh_pki *pk, size_t max, size_t *out_count)
{
	struct kh_principal op = {.kind = KH_PRINCIPAL_OPERATOR, .request_id = "", .source = ""};
	struct due *d = kh_calloc(1, sizeof(*d));
	size_t done = 0;
	kh_rc rc = d != NULL ? KH_OK : KH_ERR_NOMEM;
	int64_t now = kh_clock_now(pk->clock);
	/* kh_pki_ca_list reads at most a page: walk the CAs page by page, by id. */
	for (int64_t after = 0; rc == KH_OK && done < max;) {
		d->count = d->seen = 0;
		rc = kh_pki_ca_list_after(pk, &op, 0, after, due_fn, d);
		for (size_t i = 0; rc == KH_OK && i < d->count && done < max; i++) {
			if (!stale(pk, d->ids[i], now))
				continue;
			kh_rc one = kh_pki_crl_refresh(pk, d->ids[i], false);
			if (one != KH_OK)
				KH_LOG_WARN("CRL refresh failed", KH_LF_INT("ca", d->ids[i]),
				            KH_LF_RC(one));
			done++;
		}
		if (d->seen < KH_LIMIT_PAGE_MAX)
			break;
		after = d->last_id;
	}
	kh_free(&d);
	if (rc == KH_OK)
		*out_count = done;
	return rc;
}
