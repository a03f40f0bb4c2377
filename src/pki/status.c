// SPDX-License-Identifier: Apache-2.0
/*
 * Revocation (RFC 5280 5.3.1): revoke with a reason, hold (certificateHold) and release from
 * hold. Each is one conditional update (the status must still be the one read), audited in
 * its transaction; status_at records the change for delta CRLs; the OCSP cache forgets the
 * certificate once the change is committed.
 */
#include <stdio.h>
#include <string.h>

#include "pki/kh_pki_int.h"

struct change {
	const char *serial;
	enum kh_pki_cert_status to;
	enum kh_crl_reason reason;
	struct kh_pki_certificate cert;
	char twin[KH_PKI_SERIAL_HEX_MAX]; /* revoke: the dual encryption twin revoked with it */
};

static bool reason_ok(enum kh_crl_reason r)
{
	switch (r) {
	case KH_CRL_REASON_UNSPECIFIED:
	case KH_CRL_REASON_KEY_COMPROMISE:
	case KH_CRL_REASON_CA_COMPROMISE:
	case KH_CRL_REASON_AFFILIATION_CHANGED:
	case KH_CRL_REASON_SUPERSEDED:
	case KH_CRL_REASON_CESSATION_OF_OPERATION:
	case KH_CRL_REASON_PRIVILEGE_WITHDRAWN:
	case KH_CRL_REASON_AA_COMPROMISE:
		return true;
	default:
		return false;
	}
}

/* Which status each change starts from. */
static bool allowed_from(enum kh_pki_cert_status from, enum kh_pki_cert_status to)
{
	switch (to) {
	case KH_PKI_CERT_REVOKED:
		return from == KH_PKI_CERT_GOOD || from == KH_PKI_CERT_HOLD;
	case KH_PKI_CERT_HOLD:
		return from == KH_PKI_CERT_GOOD;
	case KH_PKI_CERT_GOOD:
		return from == KH_PKI_CERT_HOLD;
	default:
		return false;
	}
}

/* The encryption twin of a dual signing certificate, revoked with the same reason unless it
 * is revoked already; c->twin gets its serial ("" when there is none). */
static kh_rc revoke_twin(struct kh_pki_change *ch, struct kh_store_tx *tx, struct change *c)
{
	struct kh_store_rows *rows = NULL;
	struct kh_pki_certificate twin;
	bool found = false;
	int64_t ks = 0;
	uint64_t changed = 0;
	c->twin[0] = '\0';
	struct kh_store_val k[] = {KH_SV_TEXT(c->serial)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_request_twin, k, 1, &rows, &found));
	kh_rc rc = found ? kh_store_rows_text_copy(rows, 0, c->twin, sizeof(c->twin)) : KH_OK;
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	if (c->twin[0] == '\0')
		return KH_OK;
	KH_GUARD(kh_pki_certrow_load(tx, c->twin, &twin, &ks, NULL));
	if (twin.status == KH_PKI_CERT_REVOKED)
		return KH_OK;
	struct kh_store_val v[] = {
	    KH_SV_TEXT("revoked"), KH_SV_INT(ch->now),
	    KH_SV_INT(c->reason),  KH_SV_INT(ch->now),
	    KH_SV_TEXT(c->twin),   KH_SV_TEXT(kh_pki_cert_status_name(twin.status)),
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_pki_cert_set_status, v, KH_SV_COUNT(v), &changed));
	KH_ENSURE(changed == 1, KH_ERR_CONFLICT);
	size_t len = strlen(ch->detail);
	if (len > 0 && len + sizeof(c->twin) + 24 < sizeof(ch->detail))
		snprintf(ch->detail + len - 1, sizeof(ch->detail) - len + 1,
		         ",\"encryption_twin\":\"%s\"}", c->twin);
	return KH_OK;
}

static kh_rc change_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct change *c = ch->arg;
	int64_t ks = 0;
	uint64_t changed = 0;
	KH_GUARD(kh_pki_certrow_load(tx, c->serial, &c->cert, &ks, NULL));
	KH_GUARD(kh_pki_may(ch->p, ks, KH_PKI_MANAGER | KH_PKI_OPERATOR));
	ch->keystore_id = ks;
	KH_ENSURE(allowed_from(c->cert.status, c->to), KH_ERR_CONFLICT);
	bool on_crl = c->to != KH_PKI_CERT_GOOD;
	struct kh_store_val v[] = {
	    KH_SV_TEXT(kh_pki_cert_status_name(c->to)),
	    on_crl ? KH_SV_INT(ch->now) : KH_SV_NULL,
	    on_crl ? KH_SV_INT(c->reason) : KH_SV_NULL,
	    KH_SV_INT(ch->now),
	    KH_SV_TEXT(c->serial),
	    KH_SV_TEXT(kh_pki_cert_status_name(c->cert.status)),
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_pki_cert_set_status, v, KH_SV_COUNT(v), &changed));
	KH_ENSURE(changed == 1, KH_ERR_CONFLICT);
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"ca\":%lld,\"serial\":\"%s\",\"from\":\"%s\",\"reason\":%d}",
	         (long long)c->cert.ca_id, c->serial, kh_pki_cert_status_name(c->cert.status),
	         on_crl ? (int)c->reason : -1);
	if (c->to != KH_PKI_CERT_REVOKED)
		return KH_OK;
	/* Dual certificates go together: revoking the signing one revokes its encryption twin
	 * (GM/T 0015), and a revoked encryption certificate's key pair leaves use for the
	 * archive's history. */
	KH_GUARD(revoke_twin(ch, tx, c));
	return kh_pki_kmc_retire_change(ch, tx, c->twin[0] != '\0' ? c->twin : c->serial,
	                                "revoked");
}

static kh_rc run(struct kh_pki *pk, const struct kh_principal *p, const char *op, struct change *c)
{
	struct kh_pki_change ch = {.pk = pk, .p = p, .op = op, .apply = change_fn, .arg = c};
	kh_rc rc = kh_pki_change_run(&ch);
	if (rc == KH_OK)
		kh_pki_ocsp_forget(pk, c->cert.ca_id, c->serial);
	if (rc == KH_OK && c->twin[0] != '\0')
		kh_pki_ocsp_forget(pk, c->cert.ca_id, c->twin);
	return rc;
}

kh_rc kh_pki_certificate_revoke(struct kh_pki *pk, const struct kh_principal *p, const char *serial,
                                enum kh_crl_reason reason)
{
	if (!reason_ok(reason))
		return kh_pki_refused(pk, p, "pki.certificate.revoke", 0, KH_ERR_BAD_INPUT);
	struct change c = {.serial = serial, .to = KH_PKI_CERT_REVOKED, .reason = reason};
	return run(pk, p, "pki.certificate.revoke", &c);
}

kh_rc kh_pki_certificate_hold(struct kh_pki *pk, const struct kh_principal *p, const char *serial)
{
	struct change c = {
	    .serial = serial, .to = KH_PKI_CERT_HOLD, .reason = KH_CRL_REASON_CERTIFICATE_HOLD};
	return run(pk, p, "pki.certificate.hold", &c);
}

kh_rc kh_pki_certificate_release(struct kh_pki *pk, const struct kh_principal *p,
                                 const char *serial)
{
	struct change c = {.serial = serial, .to = KH_PKI_CERT_GOOD};
	return run(pk, p, "pki.certificate.release", &c);
}
