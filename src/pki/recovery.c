// SPDX-License-Identifier: Apache-2.0
/*
 * Recovery of an archived encryption key pair (PKI.md "KMC"): a request names the certificate
 * and brings a CSR for the key the pair will be enveloped to (its self-signature proves the
 * requester holds that key); k distinct recovery officers, none of them the requester, approve
 * within the wait; the k-th approval seals the private key into the envelope, inside the same
 * transaction that records it. One refusal ends the request; a request left undecided expires.
 * Every step, allowed or refused, is audited.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_log.h"
#include "pki/kh_pki_int.h"

#define HOUR_NS (INT64_C(3600) * KH_NS_PER_SEC)

static const char *const status_names[] = {"",          "pending",  "approved",
                                           "delivered", "rejected", "expired"};

const char *kh_pki_kmc_recovery_status_name(enum kh_kmc_recovery_status s)
{
	return s >= KH_KMC_REC_PENDING && s <= KH_KMC_REC_EXPIRED ? status_names[s] : "";
}

kh_rc kh_pki_kmc_recovery_status_parse(struct kh_slice s, enum kh_kmc_recovery_status *out)
{
	for (enum kh_kmc_recovery_status st = KH_KMC_REC_PENDING; st <= KH_KMC_REC_EXPIRED; st++)
		if (kh_slice_eq(s, kh_slice_from_cstr(status_names[st]))) {
			*out = st;
			return KH_OK;
		}
	return KH_ERR_BAD_INPUT;
}

static kh_rc decode(struct kh_store_rows *rows, struct kh_kmc_recovery *out)
{
	struct kh_kmc_recovery r = {0};
	struct kh_slice s;
	int64_t quorum = 0, approvals = 0;
	KH_GUARD(kh_store_rows_int(rows, KH_QKR_ID, &r.id));
	KH_GUARD(kh_store_rows_int(rows, KH_QKR_KEYSTORE_ID, &r.keystore_id));
	KH_GUARD(kh_store_rows_int(rows, KH_QKR_KEY_ID, &r.key_id));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QKR_SERIAL, r.serial, sizeof(r.serial)));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QKR_REQUESTER, r.requester, sizeof(r.requester)));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QKR_REASON, r.reason, sizeof(r.reason)));
	KH_GUARD(kh_store_rows_text(rows, KH_QKR_FORM, &s));
	KH_ENSURE(kh_envelope_form_parse(s, &r.form) == KH_OK, KH_ERR_STORAGE);
	KH_GUARD(kh_store_rows_text(rows, KH_QKR_STATUS, &s));
	KH_ENSURE(kh_pki_kmc_recovery_status_parse(s, &r.status) == KH_OK, KH_ERR_STORAGE);
	KH_GUARD(kh_store_rows_int(rows, KH_QKR_QUORUM, &quorum));
	KH_GUARD(kh_store_rows_int(rows, KH_QKR_APPROVALS, &approvals));
	KH_ENSURE(quorum >= 1 && quorum <= 255 && approvals >= 0 && approvals <= quorum,
	          KH_ERR_STORAGE);
	r.quorum = (unsigned)quorum;
	r.approvals = (unsigned)approvals;
	KH_GUARD(kh_store_rows_int(rows, KH_QKR_EXPIRES_AT, &r.expires_at));
	KH_GUARD(kh_store_rows_int(rows, KH_QKR_CREATED_AT, &r.created_at));
	KH_GUARD(kh_store_rows_int(rows, KH_QKR_UPDATED_AT, &r.updated_at));
	*out = r;
	return KH_OK;
}

static kh_rc load(struct kh_store_tx *tx, int64_t id, struct kh_kmc_recovery *out)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_kmc_recovery_get, v, 1, &rows, &found));
	kh_rc rc = found ? decode(rows, out) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	return rc;
}

/* One blob column of the recovery (recipient or envelope) appended to out. */
static kh_rc load_blob(struct kh_store_tx *tx, const struct kh_store_query *q, int64_t id,
                       struct kh_buf *out)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_slice blob;
	struct kh_store_val v[] = {KH_SV_INT(id)};
	KH_GUARD(kh_store_query_one(tx, q, v, 1, &rows, &found));
	kh_rc rc = found && !kh_store_rows_is_null(rows, 0) ? kh_store_rows_blob(rows, 0, &blob)
	                                                    : KH_ERR_NOT_FOUND;
	if (rc == KH_OK)
		rc = kh_buf_append(out, blob);
	kh_store_rows_close(&rows);
	return rc;
}

static kh_rc read_back(struct kh_pki *pk, int64_t id, struct kh_kmc_recovery *out)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = load(tx, id, out);
	kh_store_read_end(&tx);
	return rc;
}

/* ---- request ---- */

struct ask_arg {
	const struct kh_kmc_recovery_ask *ask;
	struct kh_pki_csr *csr;
	struct kh_buf csr_der;
	enum kh_envelope_form form;
	char who[KH_PRINCIPAL_NAME_MAX];
	int64_t id;
	char *msg;
	size_t msg_len;
};

/* The requester: a kms-manager of the key store, or the account that asked for the
 * certificate (its holder). */
static kh_rc may_request(struct kh_pki_change *ch, struct kh_store_tx *tx, struct ask_arg *a,
                         const struct kh_kmc_key *k)
{
	kh_rc rc = kh_pki_may(ch->p, k->keystore_id, KH_PKI_MANAGER);
	if (rc != KH_ERR_FORBIDDEN || k->request_id == 0)
		return rc;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	char submitter[KH_PRINCIPAL_NAME_MAX] = "";
	struct kh_store_val v[] = {KH_SV_INT(k->request_id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_request_get, v, 1, &rows, &found));
	rc = found ? kh_store_rows_text_copy(rows, KH_QPR_SUBMITTER, submitter, sizeof(submitter))
	           : KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	return strcmp(submitter, a->who) == 0 ? KH_OK : KH_ERR_FORBIDDEN;
}

static kh_rc request_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct ask_arg *a = ch->arg;
	struct kh_kmc_key k;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	kh_rc rc = kh_pki_kmc_key_load(tx, &kh_q_kmc_key_by_serial, KH_SV_TEXT(a->ask->serial), &k);
	if (rc == KH_ERR_NOT_FOUND)
		kh_pki_say(a->msg, a->msg_len, "the certificate has no archived key pair");
	KH_GUARD(rc);
	KH_GUARD(may_request(ch, tx, a, &k));
	ch->keystore_id = k.keystore_id;
	int64_t expires = ch->now + (int64_t)ch->pk->kmc_recovery_ttl_hours * HOUR_NS;
	struct kh_store_val v[] = {
	    KH_SV_INT(k.keystore_id),
	    KH_SV_INT(k.id),
	    KH_SV_TEXT(k.serial),
	    KH_SV_TEXT(a->who),
	    KH_SV_TEXT(a->ask->reason),
	    KH_SV_BLOB(kh_buf_slice(&a->csr_der)),
	    KH_SV_TEXT(kh_envelope_form_name(a->form)),
	    KH_SV_INT(ch->pk->kmc_quorum),
	    KH_SV_INT(expires),
	    KH_SV_INT(ch->now),
	    KH_SV_INT(ch->now),
	};
	KH_GUARD(
	    kh_store_query_one(tx, &kh_q_kmc_recovery_insert, v, KH_SV_COUNT(v), &rows, &found));
	rc = found ? kh_store_rows_int(rows, 0, &a->id) : KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"recovery\":%lld,\"kmc_key\":%lld,\"serial\":\"%s\",\"quorum\":%u,"
	         "\"form\":\"%s\"}",
	         (long long)a->id, (long long)k.id, k.serial, ch->pk->kmc_quorum,
	         kh_envelope_form_name(a->form));
	return KH_OK;
}

/* The recipient's CSR, its proof of possession, and a form its key can open. */
static kh_rc ask_check(struct ask_arg *a)
{
	const struct kh_kmc_recovery_ask *ask = a->ask;
	if (ask->serial == NULL || ask->serial[0] == '\0' ||
	    strnlen(ask->serial, KH_PKI_SERIAL_HEX_MAX) >= KH_PKI_SERIAL_HEX_MAX) {
		kh_pki_say(a->msg, a->msg_len, "name the encryption certificate by its serial");
		return KH_ERR_BAD_INPUT;
	}
	if (ask->reason == NULL || ask->reason[0] == '\0' ||
	    strnlen(ask->reason, KH_PKI_REASON_TEXT_MAX) >= KH_PKI_REASON_TEXT_MAX) {
		kh_pki_say(a->msg, a->msg_len, "give a reason of 1 to %u characters",
		           KH_PKI_REASON_TEXT_MAX - 1);
		return KH_ERR_BAD_INPUT;
	}
	kh_rc rc = kh_pki_csr_parse(ask->recipient_csr, &a->csr);
	if (rc == KH_ERR_BAD_SIGNATURE)
		kh_pki_say(a->msg, a->msg_len,
		           "the recipient CSR's proof of possession does not verify");
	else if (rc != KH_OK)
		kh_pki_say(a->msg, a->msg_len, "the recipient CSR does not parse");
	KH_GUARD(rc);
	KH_GUARD(kh_pki_der_of(ask->recipient_csr, &a->csr_der));
	enum kh_pkey_type t = kh_pkey_type_of(a->csr->key);
	a->form = ask->form != 0 ? ask->form : kh_envelope_form_default(t);
	bool sm2 = t == KH_PKEY_SM2;
	if (a->form == 0 || sm2 != (a->form != KH_ENVELOPE_CMS)) {
		kh_pki_say(a->msg, a->msg_len, "a %s key cannot open a %s envelope",
		           kh_pki_pkey_type_name(t), kh_envelope_form_name(a->form));
		return KH_ERR_BAD_INPUT;
	}
	return KH_OK;
}

kh_rc kh_pki_kmc_recovery_request(struct kh_pki *pk, const struct kh_principal *p,
                                  const struct kh_kmc_recovery_ask *ask,
                                  struct kh_kmc_recovery *out, char *message, size_t message_len)
{
	struct ask_arg a = {.ask = ask, .msg = message, .msg_len = message_len};
	kh_buf_init(&a.csr_der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_keys_principal_name(p, a.who, sizeof(a.who));
	kh_pki_say(message, message_len, "%s", "");
	kh_rc rc = pk->barrier != NULL ? ask_check(&a) : KH_ERR_CONFLICT;
	if (rc == KH_OK) {
		struct kh_pki_change ch = {.pk = pk,
		                           .p = p,
		                           .op = "pki.kmc.recovery.request",
		                           .apply = request_fn,
		                           .arg = &a};
		rc = kh_pki_change_run(&ch);
	} else {
		rc = kh_pki_refused(pk, p, "pki.kmc.recovery.request", 0, rc);
	}
	if (rc == KH_OK)
		rc = read_back(pk, a.id, out);
	kh_pki_csr_free(&a.csr);
	kh_buf_cleanup(&a.csr_der);
	return rc;
}

/* ---- decisions ---- */

struct decide_arg {
	int64_t id;
	bool approve;
	const char *reason;
	char who[KH_PRINCIPAL_NAME_MAX];
	struct kh_kmc_recovery rec;
	bool expired; /* found past its wait: recorded as expired, the vote refused */
};

static kh_rc set_status(struct kh_store_tx *tx, const struct kh_kmc_recovery *r,
                        enum kh_kmc_recovery_status to, unsigned approvals,
                        const struct kh_buf *envelope, int64_t now)
{
	uint64_t changed = 0;
	struct kh_store_val v[] = {
	    KH_SV_TEXT(kh_pki_kmc_recovery_status_name(to)),
	    KH_SV_INT(approvals),
	    envelope != NULL ? KH_SV_BLOB(kh_buf_slice(envelope)) : KH_SV_NULL,
	    KH_SV_INT(now),
	    KH_SV_INT(r->id),
	    KH_SV_TEXT(kh_pki_kmc_recovery_status_name(r->status)),
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_kmc_recovery_set, v, KH_SV_COUNT(v), &changed));
	KH_ENSURE(changed == 1, KH_ERR_CONFLICT);
	return KH_OK;
}

/* The k-th approval: the pair's private key, enveloped to the recipient's key. */
static kh_rc seal_envelope(struct kh_pki *pk, struct kh_store_tx *tx,
                           const struct kh_kmc_recovery *r, struct kh_buf *out)
{
	struct kh_buf csr_der;
	struct kh_pki_csr *csr = NULL;
	struct kh_pkey *key = NULL;
	kh_buf_init(&csr_der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = load_blob(tx, &kh_q_kmc_recovery_recipient, r->id, &csr_der);
	if (rc == KH_OK && kh_pki_csr_parse(kh_buf_slice(&csr_der), &csr) != KH_OK)
		rc = KH_ERR_STORAGE;
	if (rc == KH_OK)
		rc = kh_pki_kmc_private(pk, tx, r->key_id, &key);
	if (rc == KH_OK)
		rc = kh_envelope_seal(r->form, key, csr->key, out);
	kh_pkey_free(&key);
	kh_pki_csr_free(&csr);
	kh_buf_cleanup(&csr_der);
	return rc;
}

static kh_rc vote(struct kh_pki_change *ch, struct kh_store_tx *tx, struct decide_arg *a)
{
	struct kh_kmc_recovery *r = &a->rec;
	struct kh_store_val v[] = {
	    KH_SV_INT(r->id),
	    KH_SV_TEXT(a->who),
	    KH_SV_INT(a->approve ? 1 : 0),
	    a->reason != NULL && a->reason[0] != '\0' ? KH_SV_TEXT(a->reason) : KH_SV_NULL,
	    KH_SV_INT(ch->now),
	};
	/* The primary key (recovery, officer) refuses a second vote: KH_ERR_CONFLICT. */
	KH_GUARD(kh_store_exec(tx, &kh_q_kmc_vote_insert, v, KH_SV_COUNT(v), NULL));
	if (!a->approve)
		return set_status(tx, r, KH_KMC_REC_REJECTED, r->approvals, NULL, ch->now);
	unsigned approvals = r->approvals + 1;
	if (approvals < r->quorum)
		return set_status(tx, r, KH_KMC_REC_PENDING, approvals, NULL, ch->now);
	struct kh_buf envelope;
	kh_buf_init(&envelope, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = seal_envelope(ch->pk, tx, r, &envelope);
	if (rc == KH_OK)
		rc = set_status(tx, r, KH_KMC_REC_APPROVED, approvals, &envelope, ch->now);
	kh_buf_cleanup(&envelope);
	KH_GUARD(rc);
	ch->op2 = "pki.kmc.recovery.release";
	snprintf(ch->detail2, sizeof(ch->detail2),
	         "{\"recovery\":%lld,\"kmc_key\":%lld,\"serial\":\"%s\",\"approvals\":%u,"
	         "\"requester\":\"%s\"}",
	         (long long)r->id, (long long)r->key_id, r->serial, approvals, r->requester);
	return KH_OK;
}

static kh_rc decide_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct decide_arg *a = ch->arg;
	struct kh_kmc_recovery *r = &a->rec;
	KH_GUARD(load(tx, a->id, r));
	KH_GUARD(kh_pki_may(ch->p, r->keystore_id, KH_PKI_RECOVERY));
	ch->keystore_id = r->keystore_id;
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"recovery\":%lld,\"kmc_key\":%lld,\"serial\":\"%s\",\"approvals\":%u,"
	         "\"quorum\":%u}",
	         (long long)r->id, (long long)r->key_id, r->serial, r->approvals, r->quorum);
	KH_ENSURE(strcmp(r->requester, a->who) != 0, KH_ERR_FORBIDDEN);
	KH_ENSURE(r->status == KH_KMC_REC_PENDING, KH_ERR_CONFLICT);
	KH_ENSURE(a->approve ||
	              (a->reason != NULL && a->reason[0] != '\0' &&
	               strnlen(a->reason, KH_PKI_REASON_TEXT_MAX) < KH_PKI_REASON_TEXT_MAX),
	          KH_ERR_BAD_INPUT);
	if (r->expires_at <= ch->now) {
		a->expired = true;
		return KH_ERR_CONFLICT;
	}
	return vote(ch, tx, a);
}

static kh_rc expire_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct kh_kmc_recovery *r = ch->arg;
	KH_GUARD(load(tx, r->id, r));
	ch->keystore_id = r->keystore_id;
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"recovery\":%lld,\"kmc_key\":%lld,\"serial\":\"%s\",\"approvals\":%u}",
	         (long long)r->id, (long long)r->key_id, r->serial, r->approvals);
	KH_ENSURE(r->status == KH_KMC_REC_PENDING && r->expires_at <= ch->now, KH_ERR_CONFLICT);
	return set_status(tx, r, KH_KMC_REC_EXPIRED, r->approvals, NULL, ch->now);
}

/* The service marks a recovery expired (as the system of its key store). */
static kh_rc expire_one(struct kh_pki *pk, int64_t id, int64_t keystore_id)
{
	struct kh_principal sys = {.kind = KH_PRINCIPAL_SYSTEM,
	                           .keystore_id = keystore_id,
	                           .request_id = "scheduler",
	                           .source = ""};
	struct kh_kmc_recovery r = {.id = id};
	struct kh_pki_change ch = {
	    .pk = pk, .p = &sys, .op = "pki.kmc.recovery.expire", .apply = expire_fn, .arg = &r};
	return kh_pki_change_run(&ch);
}

kh_rc kh_pki_kmc_recovery_decide(struct kh_pki *pk, const struct kh_principal *p, int64_t id,
                                 bool approve, const char *reason, struct kh_kmc_recovery *out)
{
	struct decide_arg a = {.id = id, .approve = approve, .reason = reason};
	kh_keys_principal_name(p, a.who, sizeof(a.who));
	struct kh_pki_change ch = {.pk = pk,
	                           .p = p,
	                           .op = approve ? "pki.kmc.recovery.approve"
	                                         : "pki.kmc.recovery.reject",
	                           .apply = decide_fn,
	                           .arg = &a};
	kh_rc rc = kh_pki_change_run(&ch);
	if (a.expired && expire_one(pk, id, a.rec.keystore_id) != KH_OK)
		KH_LOG_WARN("a recovery past its wait could not be marked expired",
		            KH_LF_INT("recovery", id));
	if (rc == KH_OK)
		rc = read_back(pk, id, out);
	return rc;
}

kh_rc kh_pki_kmc_recovery_expire_due(struct kh_pki *pk, size_t max, size_t *out_count)
{
	int64_t ids[32], stores[32];
	size_t n = 0;
	*out_count = 0;
	max = max < 32 ? max : 32;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	struct kh_store_val v[] = {KH_SV_INT(kh_clock_now(pk->clock)), KH_SV_INT(max)};
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_store_query(tx, &kh_q_kmc_recovery_due, v, 2, &rows);
	while (rc == KH_OK && n < max) {
		bool row = false;
		rc = kh_store_rows_next(rows, &row);
		if (rc != KH_OK || !row)
			break;
		rc = kh_store_rows_int(rows, 0, &ids[n]);
		if (rc == KH_OK)
			rc = kh_store_rows_int(rows, 1, &stores[n]);
		if (rc == KH_OK)
			n++;
	}
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	for (size_t i = 0; i < n; i++) {
		KH_GUARD(expire_one(pk, ids[i], stores[i]));
		(*out_count)++;
	}
	return KH_OK;
}

/* ---- reading and delivery ---- */

#define READERS (KH_PKI_MANAGER | KH_PKI_RECOVERY | KH_PKI_OPERATOR)

kh_rc kh_pki_kmc_recovery_get(struct kh_pki *pk, const struct kh_principal *p, int64_t id,
                              struct kh_kmc_recovery *out)
{
	char who[KH_PRINCIPAL_NAME_MAX];
	KH_GUARD(read_back(pk, id, out));
	kh_rc rc = kh_pki_may(p, out->keystore_id, READERS);
	kh_keys_principal_name(p, who, sizeof(who));
	if (rc == KH_ERR_FORBIDDEN && strcmp(out->requester, who) == 0)
		rc = KH_OK;
	return rc;
}

struct recovery_page {
	kh_kmc_recovery_fn fn;
	void *arg;
};

static kh_rc recovery_row(struct kh_store_rows *rows, void *arg)
{
	struct recovery_page *pg = arg;
	struct kh_kmc_recovery r;
	KH_GUARD(decode(rows, &r));
	return pg->fn(&r, pg->arg);
}

kh_rc kh_pki_kmc_recovery_list(struct kh_pki *pk, const struct kh_principal *p,
                               const struct kh_kmc_recovery_filter *f, kh_kmc_recovery_fn fn,
                               void *arg, bool *out_more)
{
	int64_t ks = p->kind == KH_PRINCIPAL_OPERATOR ? f->keystore_id : p->keystore_id;
	KH_GUARD(kh_pki_may(p, ks, READERS));
	const char *status = f->status != 0 ? kh_pki_kmc_recovery_status_name(f->status) : "";
	struct kh_store_val v[] = {KH_SV_INT(ks), KH_SV_TEXT(status), KH_SV_INT(f->after_id),
	                           KH_SV_INT((int64_t)f->limit + 1)};
	struct recovery_page pg = {fn, arg};
	return kh_pki_page(pk->store, &kh_q_kmc_recovery_list, v, KH_SV_COUNT(v), f->limit,
	                   recovery_row, &pg, out_more);
}

struct deliver_arg {
	int64_t id;
	char who[KH_PRINCIPAL_NAME_MAX];
	struct kh_kmc_recovery rec;
	struct kh_buf *out;
};

static kh_rc deliver_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct deliver_arg *a = ch->arg;
	struct kh_kmc_recovery *r = &a->rec;
	KH_GUARD(load(tx, a->id, r));
	KH_GUARD(kh_pki_may(ch->p, r->keystore_id, KH_PKI_ANY_ACCOUNT));
	ch->keystore_id = r->keystore_id;
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"recovery\":%lld,\"kmc_key\":%lld,\"serial\":\"%s\",\"form\":\"%s\"}",
	         (long long)r->id, (long long)r->key_id, r->serial, kh_envelope_form_name(r->form));
	/* The envelope is for the requester's key: nobody else fetches it. */
	KH_ENSURE(strcmp(r->requester, a->who) == 0, KH_ERR_FORBIDDEN);
	KH_ENSURE(r->status == KH_KMC_REC_APPROVED || r->status == KH_KMC_REC_DELIVERED,
	          KH_ERR_CONFLICT);
	KH_GUARD(load_blob(tx, &kh_q_kmc_recovery_envelope, r->id, a->out));
	if (r->status == KH_KMC_REC_APPROVED)
		KH_GUARD(set_status(tx, r, KH_KMC_REC_DELIVERED, r->approvals, a->out, ch->now));
	return KH_OK;
}

kh_rc kh_pki_kmc_recovery_envelope(struct kh_pki *pk, const struct kh_principal *p, int64_t id,
                                   enum kh_envelope_form *out_form, struct kh_buf *out)
{
	struct deliver_arg a = {.id = id, .out = out};
	kh_keys_principal_name(p, a.who, sizeof(a.who));
	struct kh_pki_change ch = {
	    .pk = pk, .p = p, .op = "pki.kmc.recovery.deliver", .apply = deliver_fn, .arg = &a};
	KH_GUARD(kh_pki_change_run(&ch));
	*out_form = a.rec.form;
	return KH_OK;
}
