// SPDX-License-Identifier: Apache-2.0
/*
 * Delegated OCSP responders (RFC 6960 4.2.2.2): the CA certifies a key of its key store with
 * extKeyUsage id-kp-OCSPSigning and id-pkix-ocsp-nocheck, and that key signs the CA's OCSP
 * responses (ocsp.c). As elsewhere in pki/, the key is made and the certificate signed outside
 * any transaction, then one write stores the certificate with the CA's new responder and the
 * audit records; the CA row's responder_generation makes a concurrent change lose with
 * KH_ERR_CONFLICT instead of overwriting. Renewal keeps the key: its public key is read from
 * the current certificate, so the service can renew without an account.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_log.h"
#include "pki/kh_pki_int.h"

#define DAY_S INT64_C(86400)
#define RENEW_SCAN_MAX 256u

struct issue {
	struct kh_pki *pk;
	const struct kh_principal *p;
	struct kh_pki_ca ca;
	struct kh_buf ca_der;
	struct kh_buf old_cert; /* the current responder certificate, if any */
	unsigned validity_days;
	bool new_key;
	char key_tag[KH_KEY_TAG_LEN + 1];
	struct kh_pkey *pub;
	int64_t now_s;
	uint8_t serial[KH_PKI_SERIAL_LEN];
	char serial_hex[KH_PKI_SERIAL_HEX_MAX];
	char subject[KH_PKI_NAME_TEXT_MAX];
	int64_t not_after; /* seconds */
	struct kh_buf cert_der;
};

static void issue_init(struct issue *c, struct kh_pki *pk, const struct kh_principal *p)
{
	memset(c, 0, sizeof(*c));
	c->pk = pk;
	c->p = p;
	c->now_s = kh_pki_sec(kh_clock_now(pk->clock));
	kh_buf_init(&c->ca_der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&c->old_cert, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&c->cert_der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
}

static void issue_cleanup(struct issue *c)
{
	kh_pkey_free(&c->pub);
	kh_buf_cleanup(&c->ca_der);
	kh_buf_cleanup(&c->old_cert);
	kh_buf_cleanup(&c->cert_der);
}

static kh_rc load_responder_cert(struct kh_store_tx *tx, int64_t ca_id, struct kh_buf *out)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(ca_id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_ca_responder, v, 1, &rows, &found));
	kh_rc rc = KH_ERR_NOT_FOUND;
	struct kh_slice der;
	if (found) {
		rc = kh_store_rows_blob(rows, 1, &der);
		if (rc == KH_OK)
			rc = kh_buf_append(out, der);
	}
	kh_store_rows_close(&rows);
	return rc;
}

/* The CA (which can sign now) and its current responder certificate. */
static kh_rc load_ca(struct issue *c, int64_t ca_id, unsigned who)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(c->pk->store, &tx));
	kh_rc rc = kh_pki_ca_load(tx, ca_id, &c->ca, &c->ca_der, NULL);
	if (rc == KH_OK && who != 0)
		rc = kh_pki_may(c->p, c->ca.keystore_id, who);
	if (rc == KH_OK && (!c->ca.has_certificate || kh_pki_sec(c->ca.not_after) <= c->now_s))
		rc = KH_ERR_CONFLICT;
	if (rc == KH_OK && c->ca.responder_key_tag[0] != '\0') {
		rc = load_responder_cert(tx, ca_id, &c->old_cert);
		if (rc == KH_ERR_NOT_FOUND)
			rc = KH_ERR_STORAGE;
	}
	kh_store_read_end(&tx);
	return rc;
}

/* A fresh key of the CA's type, "pki-ocsp.<ca id>.<generation>". */
static kh_rc make_key(struct issue *c)
{
	struct kh_key_info ca_key, key;
	char name[KH_LIMIT_NAME_MAX + 1];
	KH_GUARD(kh_keys_get(c->pk->keys, c->p, c->ca.key_tag, &ca_key));
	snprintf(name, sizeof(name), "pki-ocsp.%lld.%lld", (long long)c->ca.id,
	         (long long)(c->ca.responder_generation + 1));
	struct kh_key_create kc = {
	    .name = name,
	    .type = ca_key.type,
	    .usage = KH_USAGE_SIGN_VERIFY,
	    .rotation_period_days = 0,
	    .description = "PKI delegated OCSP responder key",
	};
	KH_GUARD(kh_keys_create(c->pk->keys, c->p, &kc, &key));
	memcpy(c->key_tag, key.tag, sizeof(c->key_tag));
	struct kh_buf pem;
	uint32_t version = 0;
	kh_buf_init(&pem, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_keys_public_key(c->pk->keys, c->p, key.tag, 0, &version, &pem);
	if (rc == KH_OK)
		rc = kh_pkey_import_public(kh_buf_slice(&pem), &c->pub);
	kh_buf_cleanup(&pem);
	return rc;
}

static kh_rc sign_fn(void *arg, const struct kh_pkey *key)
{
	struct issue *c = arg;
	static const char *const ekus[] = {"OCSPSigning"};
	struct kh_pki_cert_spec spec = {
	    .serial = KH_SLICE(c->serial, sizeof(c->serial)),
	    .subject = c->subject,
	    .issuer_cert_der = kh_buf_slice(&c->ca_der),
	    .not_before = c->now_s,
	    .not_after = c->not_after,
	    .subject_key = c->pub,
	    .is_ca = false,
	    .path_len = -1,
	    .key_usage = KH_PKI_KU_DIGITAL_SIGNATURE,
	    .ekus = ekus,
	    .eku_count = 1,
	    .ocsp_nocheck = true,
	};
	kh_buf_clear(&c->cert_der);
	return kh_pki_cert_build(&spec, key, &c->cert_der);
}

static kh_rc store_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct issue *c = ch->arg;
	struct kh_store_rows *rows = NULL;
	bool taken = false;
	uint64_t changed = 0;
	ch->keystore_id = c->ca.keystore_id;
	struct kh_store_val k[] = {KH_SV_TEXT(c->serial_hex)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_cert_get, k, 1, &rows, &taken));
	kh_store_rows_close(&rows);
	KH_ENSURE(!taken, KH_ERR_CONFLICT);
	struct kh_store_val x[] = {
	    KH_SV_TEXT(c->serial_hex),
	    KH_SV_INT(c->ca.id),
	    KH_SV_NULL,
	    KH_SV_TEXT(c->subject),
	    KH_SV_INT(c->now_s * KH_NS_PER_SEC),
	    KH_SV_INT(c->not_after * KH_NS_PER_SEC),
	    KH_SV_BLOB(kh_buf_slice(&c->cert_der)),
	    KH_SV_INT(ch->now),
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_pki_cert_insert, x, KH_SV_COUNT(x), NULL));
	struct kh_store_val v[] = {
	    KH_SV_TEXT(c->key_tag),
	    KH_SV_BLOB(kh_buf_slice(&c->cert_der)),
	    KH_SV_INT(c->not_after * KH_NS_PER_SEC),
	    KH_SV_INT(c->ca.responder_generation + 1),
	    KH_SV_INT(c->ca.id),
	    KH_SV_INT(c->ca.responder_generation),
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_pki_ca_set_responder, v, KH_SV_COUNT(v), &changed));
	KH_ENSURE(changed == 1, KH_ERR_CONFLICT);
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"ca\":%lld,\"serial\":\"%s\",\"key\":\"%s\",\"new_key\":%s}",
	         (long long)c->ca.id, c->serial_hex, c->key_tag, c->new_key ? "true" : "false");
	ch->op2 = "pki.certificate.issue";
	snprintf(ch->detail2, sizeof(ch->detail2),
	         "{\"ca\":%lld,\"serial\":\"%s\",\"profile\":\"ocsp-responder\"}",
	         (long long)c->ca.id, c->serial_hex);
	return KH_OK;
}

/* After load_ca: the key (new or the current one), the certificate, the write. */
static kh_rc issue_run(struct issue *c)
{
	c->new_key = c->new_key || c->ca.responder_key_tag[0] == '\0';
	if (c->new_key) {
		KH_GUARD(make_key(c));
	} else {
		memcpy(c->key_tag, c->ca.responder_key_tag, sizeof(c->key_tag));
		KH_GUARD(kh_pki_cert_public_key(kh_buf_slice(&c->old_cert), &c->pub));
	}
	snprintf(c->subject, sizeof(c->subject), "CN=%s OCSP Responder", c->ca.name);
	c->not_after = c->now_s + (int64_t)c->validity_days * DAY_S;
	if (c->not_after > kh_pki_sec(c->ca.not_after))
		c->not_after = kh_pki_sec(c->ca.not_after);
	KH_GUARD(kh_pki_serial_random(c->serial, sizeof(c->serial)));
	kh_pki_serial_hex(c->serial, sizeof(c->serial), c->serial_hex);
	KH_GUARD(kh_pki_with_ca_key(c->pk, c->p, &c->ca, sign_fn, c));
	struct kh_pki_change ch = {
	    .pk = c->pk, .p = c->p, .op = "pki.ocsp_responder.issue", .apply = store_fn, .arg = c};
	KH_GUARD(kh_pki_change_run(&ch));
	/* Cached answers were signed by the previous signer; the next ones use this one. */
	kh_pki_ocsp_forget_ca(c->pk, c->ca.id);
	return KH_OK;
}

/* The replaced key signs nothing more: it waits out the deletion window (cancellable). */
static void retire_key(struct kh_pki *pk, const struct kh_principal *p, const char *tag)
{
	struct kh_key_info info;
	kh_rc rc = kh_keys_schedule_deletion(pk->keys, p, tag, NULL, &info);
	if (rc != KH_OK)
		KH_LOG_WARN("old OCSP responder key not scheduled for deletion",
		            KH_LF_STR("key", tag), KH_LF_RC(rc));
}

kh_rc kh_pki_responder_issue(struct kh_pki *pk, const struct kh_principal *p, int64_t ca_id,
                             const struct kh_pki_responder_issue *req, struct kh_pki_ca *out,
                             struct kh_buf *out_cert_der)
{
	struct issue c;
	issue_init(&c, pk, p);
	c.validity_days =
	    req->validity_days != 0 ? req->validity_days : KH_PKI_RESPONDER_DAYS_DEFAULT;
	c.new_key = req->new_key;
	kh_rc rc = c.validity_days <= KH_PKI_RESPONDER_DAYS_MAX ? KH_OK : KH_ERR_BAD_INPUT;
	if (rc == KH_OK)
		rc = load_ca(&c, ca_id, KH_PKI_MANAGER);
	if (rc != KH_OK) {
		rc = kh_pki_refused(pk, p, "pki.ocsp_responder.issue",
		                    rc == KH_ERR_NOT_FOUND ? 0 : c.ca.keystore_id, rc);
		goto out;
	}
	char old_tag[KH_KEY_TAG_LEN + 1];
	memcpy(old_tag, c.ca.responder_key_tag, sizeof(old_tag));
	KH_GUARD_OUT(issue_run(&c));
	if (c.new_key && old_tag[0] != '\0')
		retire_key(pk, p, old_tag);
	if (out_cert_der != NULL)
		KH_GUARD_OUT(kh_buf_append(out_cert_der, kh_buf_slice(&c.cert_der)));
	if (out != NULL)
		KH_GUARD_OUT(kh_pki_ca_get(pk, p, ca_id, out, NULL, NULL));
out:
	issue_cleanup(&c);
	return rc;
}

/* ---- removal ---- */

struct removal {
	int64_t ca_id;
	struct kh_pki_ca ca;
};

static kh_rc remove_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct removal *r = ch->arg;
	uint64_t changed = 0;
	KH_GUARD(kh_pki_change_ca(ch, tx, r->ca_id, KH_PKI_MANAGER, &r->ca));
	struct kh_store_val v[] = {KH_SV_INT(r->ca_id)};
	KH_GUARD(kh_store_exec(tx, &kh_q_pki_ca_clear_responder, v, 1, &changed));
	KH_ENSURE(changed == 1, KH_ERR_NOT_FOUND);
	snprintf(ch->detail, sizeof(ch->detail), "{\"ca\":%lld,\"key\":\"%s\"}",
	         (long long)r->ca_id, r->ca.responder_key_tag);
	return KH_OK;
}

kh_rc kh_pki_responder_remove(struct kh_pki *pk, const struct kh_principal *p, int64_t ca_id)
{
	struct removal r = {.ca_id = ca_id};
	struct kh_pki_change ch = {
	    .pk = pk, .p = p, .op = "pki.ocsp_responder.remove", .apply = remove_fn, .arg = &r};
	KH_GUARD(kh_pki_change_run(&ch));
	kh_pki_ocsp_forget_ca(pk, ca_id);
	/* Disabled at once, so that even a response read before the removal cannot be signed. */
	struct kh_key_info info;
	kh_rc rc = kh_keys_disable(pk->keys, p, r.ca.responder_key_tag, &info);
	if (rc != KH_OK && rc != KH_ERR_CONFLICT)
		KH_LOG_WARN("removed OCSP responder key not disabled",
		            KH_LF_STR("key", r.ca.responder_key_tag), KH_LF_RC(rc));
	return KH_OK;
}

kh_rc kh_pki_responder_certificate(struct kh_pki *pk, const struct kh_principal *p, int64_t ca_id,
                                   struct kh_buf *out_der)
{
	struct kh_store_tx *tx = NULL;
	struct kh_pki_ca ca;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_pki_ca_load(tx, ca_id, &ca, NULL, NULL);
	if (rc == KH_OK)
		rc = kh_pki_may(p, ca.keystore_id, KH_PKI_ANY_ACCOUNT | KH_PKI_OPERATOR);
	if (rc == KH_OK)
		rc = load_responder_cert(tx, ca_id, out_der);
	kh_store_read_end(&tx);
	return rc;
}

/* ---- renewal ---- */

/* Renews when less than a third of the certificate's life is left, for the same life. */
static kh_rc renew_one(struct kh_pki *pk, int64_t ca_id, bool *out_renewed)
{
	struct issue c;
	struct kh_pki_cert_info *info = NULL;
	struct kh_principal sys = {.kind = KH_PRINCIPAL_SYSTEM, .request_id = "scheduler"};
	issue_init(&c, pk, &sys);
	kh_rc rc = load_ca(&c, ca_id, 0);
	if (rc == KH_OK && c.old_cert.len == 0)
		rc = KH_ERR_NOT_FOUND;
	if (rc == KH_OK)
		rc = kh_pki_cert_info_read(kh_buf_slice(&c.old_cert), &info);
	if (rc == KH_OK) {
		int64_t life = info->not_after - info->not_before;
		*out_renewed = info->not_after - c.now_s < life / 3;
		c.validity_days = (unsigned)((life + DAY_S - 1) / DAY_S);
		if (c.validity_days == 0 || c.validity_days > KH_PKI_RESPONDER_DAYS_MAX)
			c.validity_days = KH_PKI_RESPONDER_DAYS_DEFAULT;
	}
	if (rc == KH_OK && *out_renewed) {
		sys.keystore_id = c.ca.keystore_id;
		rc = issue_run(&c);
	}
	kh_pki_cert_info_free(&info);
	issue_cleanup(&c);
	return rc;
}

kh_rc kh_pki_responder_renew_due(struct kh_pki *pk, size_t max, size_t *out_count)
{
	int64_t ids[RENEW_SCAN_MAX];
	size_t n = 0;
	*out_count = 0;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	/* Candidates: every responder that ends within a third of the longest life allowed. */
	int64_t before = kh_clock_now(pk->clock) +
	                 (int64_t)KH_PKI_RESPONDER_DAYS_MAX * DAY_S * KH_NS_PER_SEC / 3;
	struct kh_store_val v[] = {KH_SV_INT(before), KH_SV_INT(RENEW_SCAN_MAX)};
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_store_query(tx, &kh_q_pki_ca_responder_due, v, KH_SV_COUNT(v), &rows);
	while (rc == KH_OK && n < RENEW_SCAN_MAX) {
		bool more = false;
		rc = kh_store_rows_next(rows, &more);
		if (rc != KH_OK || !more)
			break;
		rc = kh_store_rows_int(rows, 0, &ids[n++]);
	}
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	for (size_t i = 0; i < n && *out_count < max; i++) {
		bool renewed = false;
		rc = renew_one(pk, ids[i], &renewed);
		if (rc != KH_OK)
			KH_LOG_WARN("OCSP responder renewal failed", KH_LF_INT("ca", ids[i]),
			            KH_LF_RC(rc));
		else if (renewed)
			(*out_count)++;
	}
	return KH_OK;
}
