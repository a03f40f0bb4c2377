// SPDX-License-Identifier: Apache-2.0
/*
 * CRLs (RFC 5280 section 5): a full CRL lists every revoked and held certificate of the CA; a
 * delta CRL (5.2.4) lists what changed since its base, the newest full CRL: certificates
 * revoked or held since, and those released from hold as removeFromCRL. The entries are read
 * in one read transaction, the CRL is signed by the CA's key, then one write takes the CRL
 * number (only if it is still the next one, so two generations never share a number), stores
 * the CRL and appends the audit record.
 *
 * A status change whose write began before a full CRL's read but committed after it carries a
 * time just before the CRL's thisUpdate: deltas therefore look back DELTA_OVERLAP_NS before
 * their base, listing a few changes the base may already hold (harmless: the same entry, or
 * removeFromCRL for an entry the base lacks) rather than missing one.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_mem.h"
#include "pki/kh_pki_int.h"

/* Room for KH_LIMIT_CRL_ENTRIES entries of at most 64 bytes (serial, date, reason) and the
 * rest of the CRL. */
#define CRL_MAX_BYTES ((size_t)KH_LIMIT_CRL_ENTRIES * 64u + 65536u)

#define DELTA_OVERLAP_NS (60 * KH_NS_PER_SEC)

struct gen {
	struct kh_pki *pk;
	const struct kh_principal *p;
	int64_t ca_id;
	bool delta;
	struct kh_pki_ca ca;
	struct kh_buf ca_der;
	uint64_t number;
	uint64_t base_number;
	int64_t base_this_update;
	int64_t now;
	struct kh_pki_crl_entry *entries;
	uint8_t (*serials)[KH_PKI_SERIAL_MAX_LEN];
	size_t count, cap;
	struct kh_buf der;
};

static kh_rc grow(struct gen *g)
{
	if (g->count < g->cap)
		return KH_OK;
	KH_ENSURE(g->cap < KH_LIMIT_CRL_ENTRIES, KH_ERR_TOO_LARGE);
	size_t cap = g->cap == 0 ? 64 : g->cap * 2;
	if (cap > KH_LIMIT_CRL_ENTRIES)
		cap = KH_LIMIT_CRL_ENTRIES;
	struct kh_pki_crl_entry *e = kh_calloc(cap, sizeof(*e));
	uint8_t(*s)[KH_PKI_SERIAL_MAX_LEN] = kh_calloc(cap, sizeof(*s));
	if (e == NULL || s == NULL) {
		kh_free(&e);
		kh_free(&s);
		return KH_ERR_NOMEM;
	}
	if (g->count > 0) {
		memcpy(e, g->entries, g->count * sizeof(*e));
		memcpy(s, g->serials, g->count * sizeof(*s));
	}
	for (size_t i = 0; i < g->count; i++)
		e[i].serial.ptr = s[i];
	kh_free(&g->entries);
	kh_free(&g->serials);
	g->entries = e;
	g->serials = s;
	g->cap = cap;
	return KH_OK;
}

/* One row: serial, status, revoked_at, reason[, status_at]. */
static kh_rc add_row(struct gen *g, struct kh_store_rows *rows)
{
	char hex[KH_PKI_SERIAL_HEX_MAX];
	struct kh_slice s;
	enum kh_pki_cert_status status;
	int64_t at = 0, reason = 0;
	bool is_null = false;
	KH_GUARD(grow(g));
	KH_GUARD(kh_store_rows_text_copy(rows, 0, hex, sizeof(hex)));
	KH_GUARD(kh_store_rows_text(rows, 1, &s));
	KH_ENSURE(kh_pki_cert_status_parse(s, &status) == KH_OK, KH_ERR_STORAGE);
	struct kh_pki_crl_entry *e = &g->entries[g->count];
	size_t len = 0;
	KH_GUARD(kh_pki_serial_bytes(hex, g->serials[g->count], &len));
	e->serial = KH_SLICE(g->serials[g->count], len);
	if (status == KH_PKI_CERT_GOOD) {
		/* Released from hold after the base (delta only). */
		KH_GUARD(kh_store_rows_int(rows, 4, &at));
		e->revoked_at = kh_pki_sec(at);
		e->reason = KH_CRL_REASON_REMOVE_FROM_CRL;
	} else {
		KH_GUARD(kh_store_rows_int(rows, 2, &at));
		KH_GUARD(kh_store_rows_int_opt(rows, 3, &reason, &is_null));
		KH_ENSURE(!is_null && reason >= 0 && reason <= KH_CRL_REASON_AA_COMPROMISE,
		          KH_ERR_STORAGE);
		e->revoked_at = kh_pki_sec(at);
		e->reason = (enum kh_crl_reason)reason;
	}
	g->count++;
	return KH_OK;
}

static kh_rc latest(struct kh_store_tx *tx, int64_t ca_id, bool delta, uint64_t *number,
                    int64_t *this_update, struct kh_buf *der)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	int64_t n = 0;
	struct kh_store_val v[] = {KH_SV_INT(ca_id), KH_SV_INT(delta ? 1 : 0)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_crl_latest, v, KH_SV_COUNT(v), &rows, &found));
	kh_rc rc = found ? kh_store_rows_int(rows, 0, &n) : KH_ERR_NOT_FOUND;
	if (rc == KH_OK && this_update != NULL)
		rc = kh_store_rows_int(rows, 1, this_update);
	if (rc == KH_OK && der != NULL) {
		struct kh_slice s;
		rc = kh_store_rows_blob(rows, 2, &s);
		if (rc == KH_OK)
			rc = kh_buf_append(der, s);
	}
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	KH_ENSURE(n >= 1, KH_ERR_STORAGE);
	*number = (uint64_t)n;
	return KH_OK;
}

static kh_rc collect_in(struct gen *g, struct kh_store_tx *tx)
{
	kh_rc rc = KH_OK;
	struct kh_store_rows *rows = NULL;
	KH_GUARD(kh_pki_ca_load(tx, g->ca_id, &g->ca, &g->ca_der, NULL));
	if (g->p->kind == KH_PRINCIPAL_SYSTEM)
		KH_ENSURE(g->p->keystore_id == g->ca.keystore_id, KH_ERR_NOT_FOUND);
	else
		KH_GUARD(kh_pki_may(g->p, g->ca.keystore_id, KH_PKI_MANAGER));
	KH_ENSURE(g->ca.has_certificate, KH_ERR_CONFLICT);
	g->number = g->ca.next_crl_number;
	if (g->delta) {
		kh_rc base =
		    latest(tx, g->ca_id, false, &g->base_number, &g->base_this_update, NULL);
		KH_GUARD(base == KH_ERR_NOT_FOUND ? KH_ERR_CONFLICT : base);
		struct kh_store_val v[] = {KH_SV_INT(g->ca_id),
		                           KH_SV_INT(g->base_this_update - DELTA_OVERLAP_NS)};
		KH_GUARD(kh_store_query(tx, &kh_q_pki_cert_changed, v, KH_SV_COUNT(v), &rows));
	} else {
		struct kh_store_val v[] = {KH_SV_INT(g->ca_id)};
		KH_GUARD(kh_store_query(tx, &kh_q_pki_cert_revoked, v, 1, &rows));
	}
	for (;;) {
		bool more = false;
		KH_GUARD_OUT(kh_store_rows_next(rows, &more));
		if (!more)
			break;
		KH_GUARD_OUT(add_row(g, rows));
	}
out:
	kh_store_rows_close(&rows);
	return rc;
}

static kh_rc collect(struct gen *g)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(g->pk->store, &tx));
	kh_rc rc = collect_in(g, tx);
	kh_store_read_end(&tx);
	return rc;
}

static kh_rc sign_fn(void *arg, const struct kh_pkey *key)
{
	struct gen *g = arg;
	int64_t now_s = kh_pki_sec(g->now);
	struct kh_pki_crl_params params = {
	    .ca_cert = kh_buf_slice(&g->ca_der),
	    .crl_number = g->number,
	    .delta = g->delta,
	    .base_crl_number = g->base_number,
	    .this_update = now_s,
	    .next_update = now_s + kh_pki_sec(KH_PKI_CRL_VALIDITY_NS),
	    .entries = g->entries,
	    .entry_count = g->count,
	};
	return kh_pki_crl_build(key, &params, &g->der);
}

static kh_rc store_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct gen *g = ch->arg;
	uint64_t changed = 0;
	ch->keystore_id = g->ca.keystore_id;
	struct kh_store_val take[] = {KH_SV_INT(g->ca_id), KH_SV_INT(g->number)};
	KH_GUARD(
	    kh_store_exec(tx, &kh_q_pki_ca_take_crl_number, take, KH_SV_COUNT(take), &changed));
	KH_ENSURE(changed == 1, KH_ERR_CONFLICT);
	struct kh_store_val v[] = {
	    KH_SV_INT(g->ca_id),         KH_SV_INT(g->number),
	    KH_SV_INT(g->delta ? 1 : 0), g->delta ? KH_SV_INT(g->base_number) : KH_SV_NULL,
	    KH_SV_INT(g->now),           KH_SV_BLOB(kh_buf_slice(&g->der)),
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_pki_crl_insert, v, KH_SV_COUNT(v), NULL));
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"ca\":%lld,\"number\":%llu,\"delta\":%s,\"entries\":%zu}", (long long)g->ca_id,
	         (unsigned long long)g->number, g->delta ? "true" : "false", g->count);
	return KH_OK;
}

static kh_rc generate(struct gen *g)
{
	kh_rc rc = collect(g);
	if (rc != KH_OK) {
		int64_t ks = g->ca.id != 0 && rc != KH_ERR_NOT_FOUND ? g->ca.keystore_id : 0;
		return kh_pki_refused(g->pk, g->p, "pki.crl.generate", ks, rc);
	}
	rc = kh_pki_with_ca_key(g->pk, g->p, &g->ca, sign_fn, g);
	if (rc != KH_OK)
		return kh_pki_refused(g->pk, g->p, "pki.crl.generate", g->ca.keystore_id, rc);
	struct kh_pki_change ch = {
	    .pk = g->pk, .p = g->p, .op = "pki.crl.generate", .apply = store_fn, .arg = g};
	return kh_pki_change_run(&ch);
}

kh_rc kh_pki_crl_generate(struct kh_pki *pk, const struct kh_principal *p, int64_t ca_id,
                          bool delta, struct kh_pki_crl *out, struct kh_buf *out_der)
{
	struct gen g = {
	    .pk = pk, .p = p, .ca_id = ca_id, .delta = delta, .now = kh_clock_now(pk->clock)};
	kh_buf_init(&g.ca_der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&g.der, CRL_MAX_BYTES, KH_BUF_PLAIN);
	kh_rc rc = generate(&g);
	if (rc == KH_OK && out_der != NULL)
		rc = kh_buf_append(out_der, kh_buf_slice(&g.der));
	if (rc == KH_OK)
		*out = (struct kh_pki_crl){.number = g.number,
		                           .delta = delta,
		                           .base_number = g.base_number,
		                           .this_update = g.now,
		                           .entry_count = g.count};
	kh_free(&g.entries);
	kh_free(&g.serials);
	kh_buf_cleanup(&g.ca_der);
	kh_buf_cleanup(&g.der);
	return rc;
}

kh_rc kh_pki_crl_current(struct kh_pki *pk, int64_t ca_id, bool delta, struct kh_buf *out_der)
{
	struct kh_store_tx *tx = NULL;
	uint64_t number = 0;
	size_t mark = out_der->len;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = latest(tx, ca_id, delta, &number, NULL, out_der);
	kh_store_read_end(&tx);
	if (rc != KH_OK && out_der->len > mark)
		kh_buf_truncate(out_der, mark);
	return rc;
}
