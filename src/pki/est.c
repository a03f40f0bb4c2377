// SPDX-License-Identifier: Apache-2.0
/*
 * What EST (RFC 7030, PKI.md "EST") needs from the PKI besides submitting requests: the profile
 * behind a label, the CA's chain as a certs-only message (4.1.3), the CsrAttrs of a profile
 * (4.5.2), a certificate as a certs-only message, and the check of a TLS client certificate
 * that authenticates an enrollment or a re-enrollment (3.3.2, 4.2.2): one this CA issued
 * (byte for byte the stored certificate), whose status is good and whose chain verifies now.
 * The client then acts as the account that submitted the certificate's request.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/kh_int.h"
#include "pki/kh_pki_int.h"

/* The CA's chain as DER: its certificate, its parents' up to the root, then the trust anchor
 * that issued the topmost one if any (as kh_pki_chain_pem). out[i] point into ders. */
struct chain {
	struct kh_buf ders;
	size_t off[KH_PKI_CHAIN_MAX + 1], len[KH_PKI_CHAIN_MAX + 1];
	struct kh_slice certs[KH_PKI_CHAIN_MAX + 1];
	size_t count;
};

static kh_rc chain_add(struct chain *ch, struct kh_slice der)
{
	KH_ENSURE(ch->count <= KH_PKI_CHAIN_MAX, KH_ERR_STORAGE);
	ch->off[ch->count] = ch->ders.len;
	ch->len[ch->count] = der.len;
	ch->count++;
	return kh_buf_append(&ch->ders, der);
}

static kh_rc chain_load(struct kh_store_tx *tx, int64_t ca_id, struct chain *ch)
{
	kh_rc rc = KH_OK;
	struct kh_buf der;
	kh_buf_init(&der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	int64_t id = ca_id, anchor = 0;
	for (unsigned depth = 0; id != 0; depth++) {
		struct kh_pki_ca ca;
		KH_ENSURE_OUT(depth < KH_PKI_CHAIN_MAX, KH_ERR_STORAGE);
		kh_buf_clear(&der);
		KH_GUARD_OUT(kh_pki_ca_load(tx, id, &ca, &der, NULL));
		if (!ca.has_certificate) {
			/* The label's CA itself without a certificate has nothing to serve. */
			KH_ENSURE_OUT(id != ca_id, KH_ERR_NOT_FOUND);
			break;
		}
		KH_GUARD_OUT(chain_add(ch, kh_buf_slice(&der)));
		id = ca.parent_id;
		anchor = ca.anchor_id;
	}
	if (anchor != 0) {
		struct kh_pki_anchor a;
		kh_buf_clear(&der);
		KH_GUARD_OUT(kh_pki_anchor_load(tx, anchor, &a, &der));
		KH_GUARD_OUT(chain_add(ch, kh_buf_slice(&der)));
	}
	for (size_t i = 0; i < ch->count; i++)
		ch->certs[i] = KH_SLICE(ch->ders.ptr + ch->off[i], ch->len[i]);
out:
	kh_buf_cleanup(&der);
	return rc;
}

static void chain_init(struct chain *ch)
{
	memset(ch, 0, sizeof(*ch));
	kh_buf_init(&ch->ders, (KH_PKI_CHAIN_MAX + 1) * (size_t)KH_LIMIT_KEY_ENCODED_BYTES,
	            KH_BUF_PLAIN);
}

static kh_rc chain_read(struct kh_pki *pk, int64_t ca_id, struct chain *ch)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = chain_load(tx, ca_id, ch);
	kh_store_read_end(&tx);
	return rc;
}

kh_rc kh_pki_est_cacerts(struct kh_pki *pk, int64_t ca_id, struct kh_buf *out_der)
{
	struct chain ch;
	chain_init(&ch);
	kh_rc rc = chain_read(pk, ca_id, &ch);
	if (rc == KH_OK)
		rc = kh_pki_certs_only(ch.certs, ch.count, out_der);
	kh_buf_cleanup(&ch.ders);
	return rc;
}

kh_rc kh_pki_est_csrattrs(const struct kh_pki_profile *pr, struct kh_buf *out_der)
{
	enum kh_pkey_type types[KH_PKEY_SM2];
	size_t n = 0;
	for (unsigned t = KH_PKEY_RSA_2048; t <= KH_PKEY_SM2; t++)
		if ((pr->key_types & KH_PKI_KEY_TYPE_BIT(t)) != 0)
			types[n++] = (enum kh_pkey_type)t;
	if (n == 0)
		return KH_OK;
	return kh_pki_csrattrs_build(types, n, out_der);
}

kh_rc kh_pki_est_certificate(struct kh_pki *pk, const struct kh_principal *p, const char *serial,
                             struct kh_buf *out_der)
{
	struct kh_pki_certificate c;
	struct kh_buf der;
	kh_buf_init(&der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_pki_certificate_get(pk, p, serial, &c, &der, NULL);
	if (rc == KH_OK) {
		struct kh_slice one = kh_buf_slice(&der);
		rc = kh_pki_certs_only(&one, 1, out_der);
	}
	kh_buf_cleanup(&der);
	return rc;
}

/* ---- client certificates ---- */

__attribute__((format(printf, 3, 4))) static void say(char *msg, size_t len, const char *fmt, ...)
{
	if (msg == NULL || len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
}

/* "account:<id>" as requests record their submitter -> the id; 0 for anyone else. */
static int64_t submitter_account(const char *who)
{
	static const char prefix[] = "account:";
	uint64_t id = 0;
	if (strncmp(who, prefix, sizeof(prefix) - 1) != 0 ||
	    kh_parse_u64(kh_slice_from_cstr(who + sizeof(prefix) - 1), 1, INT64_MAX, &id) != KH_OK)
		return 0;
	return (int64_t)id;
}

/* The stored certificate with the presented one's serial, and who asked for it. */
static kh_rc client_row(struct kh_store_tx *tx, int64_t ca_id, struct kh_slice leaf,
                        const char *serial, struct kh_pki_est_client *out, char *msg,
                        size_t msg_len)
{
	struct kh_pki_certificate c;
	int64_t ks = 0;
	struct kh_buf der;
	kh_buf_init(&der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_pki_certrow_load(tx, serial, &c, &ks, &der);
	if (rc == KH_ERR_NOT_FOUND ||
	    (rc == KH_OK && (c.ca_id != ca_id || !kh_slice_eq(kh_buf_slice(&der), leaf)))) {
		say(msg, msg_len, "the client certificate was not issued by this CA");
		rc = KH_ERR_UNAUTHENTICATED;
	}
	kh_buf_cleanup(&der);
	KH_GUARD(rc);
	if (c.status != KH_PKI_CERT_GOOD) {
		say(msg, msg_len, "the client certificate is %s",
		    c.status == KH_PKI_CERT_HOLD ? "on hold" : "revoked");
		return KH_ERR_FORBIDDEN;
	}
	out->keystore_id = ks;
	if (c.request_id != 0) {
		struct kh_store_rows *rows = NULL;
		bool found = false;
		char who[KH_PRINCIPAL_NAME_MAX];
		struct kh_store_val v[] = {KH_SV_INT(c.request_id)};
		KH_GUARD(kh_store_query_one(tx, &kh_q_pki_request_get, v, 1, &rows, &found));
		rc = found ? kh_store_rows_text_copy(rows, KH_QPR_SUBMITTER, who, sizeof(who))
		           : KH_ERR_STORAGE;
		kh_store_rows_close(&rows);
		KH_GUARD(rc);
		out->account_id = submitter_account(who);
	}
	if (out->account_id == 0) {
		say(msg, msg_len, "the client certificate was not requested by an account");
		return KH_ERR_FORBIDDEN;
	}
	return KH_OK;
}

/* RFC 5280 6.1 from the leaf up to the top of the CA's own chain, at now. */
static kh_rc client_verify(const struct chain *ch, struct kh_slice leaf, int64_t now, char *msg,
                           size_t msg_len)
{
	char why[128] = "";
	struct kh_slice inter[KH_PKI_CHAIN_MAX + 1];
	size_t n = 0;
	KH_ENSURE(ch->count > 0, KH_ERR_NOT_FOUND);
	/* Only our own chain: what the client sent besides its certificate adds nothing. */
	for (size_t i = 0; i + 1 < ch->count; i++)
		inter[n++] = ch->certs[i];
	kh_rc rc = kh_pki_chain_verify(leaf, inter, n, &ch->certs[ch->count - 1], 1,
	                               kh_pki_sec(now), why, sizeof(why));
	if (rc == KH_ERR_BAD_SIGNATURE || rc == KH_ERR_BAD_INPUT) {
		say(msg, msg_len, "the client certificate does not verify: %s", why);
		return KH_ERR_UNAUTHENTICATED;
	}
	return rc;
}

kh_rc kh_pki_est_client_check(struct kh_pki *pk, int64_t ca_id, struct kh_slice leaf,
                              struct kh_pki_est_client *out, char *msg, size_t msg_len)
{
	struct kh_pki_cert_info *info = NULL;
	struct kh_pki_est_client r = {0};
	struct kh_store_tx *tx = NULL;
	struct chain ch;
	kh_rc rc = KH_OK;
	chain_init(&ch);
	say(msg, msg_len, "%s", "");
	if (kh_pki_cert_info_read(leaf, &info) != KH_OK) {
		say(msg, msg_len, "the client certificate does not parse");
		rc = KH_ERR_UNAUTHENTICATED;
		goto out;
	}
	snprintf(r.serial, sizeof(r.serial), "%.40s", info->serial_hex);
	snprintf(r.subject, sizeof(r.subject), "%s", info->subject);
	KH_GUARD_OUT(kh_store_read_begin(pk->store, &tx));
	rc = chain_load(tx, ca_id, &ch);
	if (rc == KH_OK)
		rc = client_row(tx, ca_id, leaf, r.serial, &r, msg, msg_len);
	kh_store_read_end(&tx);
	KH_GUARD_OUT(rc);
	KH_GUARD_OUT(client_verify(&ch, leaf, kh_clock_now(pk->clock), msg, msg_len));
	*out = r;
out:
	kh_pki_cert_info_free(&info);
	kh_buf_cleanup(&ch.ders);
	return rc;
}
