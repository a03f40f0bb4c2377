// SPDX-License-Identifier: Apache-2.0
/*
 * The key management centre (API.md "PKI", PKI.md "KMC", docs/dual-certificates.md): the
 * envelope of a dual-certificate request and its key update under /v1/pki/requests/{id}, the
 * archive of encryption key pairs and the spare pools under /v1/pki/kmc, and the k-of-n
 * recovery of an archived pair under /v1/pki/kmc/recoveries.
 *
 * As in pki.c, each handler decodes its request here (a 400 names the member at fault), calls
 * one function of pki/kh_pki.h, which decides who may and audits, and writes the answer.
 * Refusals that would otherwise say little (a 409 on an envelope not yet released, a request
 * that has no envelope) read the object back to say why. Envelopes travel as standard Base64
 * of their bytes: they are ciphertext for the recipient's key, never a plain private key.
 */
#include <stdio.h>
#include <string.h>

#include "api/kh_api_int.h"
#include "base/kh_limits.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "pki/kh_pki.h"

/* The KMC's families, in the order /v1/pki/kmc/pool lists them. */
static const struct {
	enum kh_pkey_type type;
	const char *name;
} families[] = {
    {KH_PKEY_SM2, "sm2"},
    {KH_PKEY_EC_P256, "ecdsa-p256"},
    {KH_PKEY_RSA_2048, "rsa-2048"},
};
#define FAMILY_COUNT (sizeof(families) / sizeof(families[0]))

static const char *family_name(enum kh_pkey_type t)
{
	for (size_t i = 0; i < FAMILY_COUNT; i++)
		if (families[i].type == t)
			return families[i].name;
	return "unknown";
}

/* ---- errors ---- */

/* Client messages for what pki/ refuses; a message already set (more precise) stays. */
static kh_rc kmc_error(struct kh_api_call *c, kh_rc rc, const char *not_found,
                       const char *forbidden, const char *conflict)
{
	if (rc == KH_OK || c->message[0] != '\0')
		return rc;
	switch (rc) {
	case KH_ERR_NOT_FOUND:
		return kh_api_fail(c, rc, not_found);
	case KH_ERR_FORBIDDEN:
		return kh_api_fail(c, rc, forbidden);
	case KH_ERR_CONFLICT:
		return kh_api_fail(c, rc, conflict);
	case KH_ERR_BAD_SIGNATURE:
		return kh_api_fail(
		    c, rc, "the CSR's signature does not verify (failed proof of possession)");
	case KH_ERR_BAD_INPUT:
		return kh_api_fail(c, rc,
		                   "a value is outside the rules of the key management centre");
	default:
		return kh_api_key_error(c, rc);
	}
}

static kh_rc page_limit(struct kh_api_call *c, unsigned *out)
{
	uint64_t limit = KH_LIMIT_PAGE_DEFAULT;
	KH_GUARD(kh_api_query_uint(c, "limit", 1, KH_LIMIT_PAGE_MAX, &limit));
	*out = (unsigned)limit;
	return KH_OK;
}

static kh_rc id_param(struct kh_api_call *c, const char *what, int64_t *out)
{
	kh_rc rc = kh_api_param_id(c, 0, out);
	return rc == KH_ERR_NOT_FOUND ? kh_api_fail(c, rc, what) : rc;
}

/* {"form": "skf|gmt0009|cms", "envelope": Base64} */
static void write_envelope(struct kh_api_call *c, enum kh_envelope_form form,
                           const struct kh_buf *env)
{
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "form");
	kh_json_cstr(&c->w, kh_envelope_form_name(form));
	kh_json_key(&c->w, "envelope");
	kh_json_base64(&c->w, kh_buf_slice(env));
	kh_json_object_end(&c->w);
}

/* ---- the envelope and key update of a dual request ---- */

/* Why a request the submitter may read has no envelope to give. */
static kh_rc no_envelope(struct kh_api_call *c, int64_t id)
{
	struct kh_pki_request *r = kh_calloc(1, sizeof(*r));
	KH_ENSURE(r != NULL, KH_ERR_NOMEM);
	kh_rc rc = kh_pki_request_get(c->api->pki, &c->who, id, r);
	if (rc != KH_OK)
		rc = kh_api_fail(c, KH_ERR_NOT_FOUND, "no such request");
	else if (r->status == KH_PKI_REQ_PENDING)
		rc = kh_api_fail(c, KH_ERR_CONFLICT,
		                 "the request is pending: its envelope comes with its approval");
	else if (r->status == KH_PKI_REQ_REJECTED)
		rc =
		    kh_api_fail(c, KH_ERR_CONFLICT, "the request was rejected: it has no envelope");
	else
		rc = kh_api_fail(c, KH_ERR_NOT_FOUND,
		                 "the request has no envelope: its profile has no dual_profile");
	kh_free(&r);
	return rc;
}

static kh_rc kmc_request_envelope(struct kh_api_call *c)
{
	enum kh_envelope_form form = 0;
	struct kh_buf env;
	int64_t id = 0;
	KH_GUARD(id_param(c, "no such request", &id));
	kh_buf_init(&env, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_pki_request_envelope(c->api->pki, &c->who, id, &form, &env);
	if (rc == KH_OK)
		write_envelope(c, form, &env);
	else if (rc == KH_ERR_NOT_FOUND)
		rc = no_envelope(c, id);
	else
		rc = kmc_error(c, rc, "no such request",
		               "only the submitter fetches the envelope: it is sealed to the "
		               "signing key of their request",
		               "the envelope cannot be fetched now");
	kh_buf_cleanup(&env);
	return rc;
}

static kh_rc kmc_request_update(struct kh_api_call *c)
{
	struct kh_pki_request *r = kh_calloc(1, sizeof(*r));
	int64_t id = 0;
	KH_ENSURE(r != NULL, KH_ERR_NOMEM);
	kh_rc rc = id_param(c, "no such request", &id);
	if (rc == KH_OK)
		rc = kmc_error(c, kh_pki_kmc_update(c->api->pki, &c->who, id, r), "no such request",
		               "only the submitter, a kms-manager or the operator updates the "
		               "encryption key pair of a request",
		               "only an issued request of a profile with a dual_profile has an "
		               "encryption key pair to update");
	if (rc == KH_OK) {
		/* The old encryption certificate is revoked (superseded): relying parties see it
		 * in the next CRLs; make them now (best effort, as after any revocation). */
		kh_rc crl = kh_pki_crl_refresh(c->api->pki, r->ca_id, true);
		if (crl != KH_OK)
			KH_LOG_WARN("CRL regeneration after a key update failed",
			            KH_LF_STR("request_id", c->req->request_id),
			            KH_LF_INT("ca", r->ca_id), KH_LF_RC(crl));
		rc = kh_api_pki_write_request(c, r);
	}
	kh_free(&r);
	return rc;
}

/* ---- the archive ---- */

static void write_time(struct kh_json_writer *w, const char *name, int64_t t)
{
	if (t == 0)
		return;
	kh_json_key(w, name);
	kh_json_time(w, t);
}

static void write_id(struct kh_json_writer *w, const char *name, int64_t id)
{
	if (id == 0)
		return;
	kh_json_key(w, name);
	kh_json_int(w, id);
}

static void write_key(struct kh_json_writer *w, const struct kh_kmc_key *k)
{
	kh_json_object_begin(w);
	kh_json_key(w, "id");
	kh_json_int(w, k->id);
	kh_json_key(w, "algorithm");
	kh_json_cstr(w, family_name(k->algorithm));
	kh_json_key(w, "state");
	kh_json_cstr(w, kh_pki_kmc_state_text(k->state));
	write_id(w, "keystore", k->keystore_id);
	write_id(w, "ca", k->ca_id);
	if (k->serial[0] != '\0') {
		kh_json_key(w, "serial");
		kh_json_cstr(w, k->serial);
	}
	write_id(w, "request", k->request_id);
	if (k->history_reason[0] != '\0') {
		kh_json_key(w, "history_reason");
		kh_json_cstr(w, k->history_reason);
	}
	write_time(w, "created_at", k->created_at);
	write_time(w, "used_at", k->used_at);
	write_time(w, "history_at", k->history_at);
	write_time(w, "retain_until", k->retain_until);
	kh_json_object_end(w);
}

#define ARCHIVE_FORBIDDEN                                                                          \
	"only the operator, a kms-manager or a recovery-officer reads the key management "         \
	"centre's archive"

struct key_page {
	struct kh_json_writer *w;
	int64_t last_id;
};

static kh_rc key_one(const struct kh_kmc_key *k, void *arg)
{
	struct key_page *pg = arg;
	pg->last_id = k->id;
	write_key(pg->w, k);
	return KH_OK;
}

static kh_rc kmc_key_list(struct kh_api_call *c)
{
	struct kh_kmc_key_filter f = {0};
	struct key_page pg = {&c->w, 0};
	uint64_t ks = 0;
	bool more = false;
	KH_GUARD(page_limit(c, &f.limit));
	KH_GUARD(kh_api_query_cursor(c, &f.after_id));
	KH_GUARD(kh_api_query_uint(c, "keystore_id", 1, INT64_MAX, &ks));
	const char *state = kh_http_request_query(c->req, "state");
	if (state != NULL && kh_pki_kmc_state_parse(kh_slice_from_cstr(state), &f.state) != KH_OK)
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "state",
		                          "is spare, in_use or history");
	f.keystore_id = (int64_t)ks;
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "keys");
	kh_json_array_begin(&c->w);
	KH_GUARD(kmc_error(c, kh_pki_kmc_key_list(c->api->pki, &c->who, &f, key_one, &pg, &more),
	                   "no such key store", ARCHIVE_FORBIDDEN,
	                   "the archive cannot be read now"));
	kh_json_array_end(&c->w);
	if (more && pg.last_id > 0)
		kh_api_write_next(&c->w, pg.last_id);
	kh_json_object_end(&c->w);
	return KH_OK;
}

static kh_rc kmc_key_get(struct kh_api_call *c)
{
	struct kh_kmc_key k;
	int64_t id = 0;
	KH_GUARD(id_param(c, "no such archived key pair", &id));
	KH_GUARD(kmc_error(c, kh_pki_kmc_key_get(c->api->pki, &c->who, id, &k),
	                   "no such archived key pair", ARCHIVE_FORBIDDEN,
	                   "the archive cannot be read now"));
	write_key(&c->w, &k);
	return KH_OK;
}

/* The spare pools: their depth tells how many dual requests issue without waiting for a key
 * pair. Not one key store's data, but the service's capacity: the operator and kms-managers. */
static kh_rc kmc_pool(struct kh_api_call *c)
{
	const struct kh_principal *p = &c->who;
	uint64_t depth[FAMILY_COUNT];
	bool allowed =
	    p->kind == KH_PRINCIPAL_OPERATOR ||
	    (p->kind == KH_PRINCIPAL_ACCOUNT && (p->policies & KH_POLICY_KMS_MANAGER) != 0);
	if (!allowed) {
		KH_GUARD(kh_api_audit(c, "pki.kmc.pool", p->keystore_id, KH_ERR_FORBIDDEN, NULL));
		return kh_api_fail(c, KH_ERR_FORBIDDEN,
		                   "only the operator or a kms-manager reads the key pair pools");
	}
	for (size_t i = 0; i < FAMILY_COUNT; i++)
		KH_GUARD(kh_api_key_error(
		    c, kh_pki_kmc_depth(c->api->pki, families[i].type, &depth[i])));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "size");
	kh_json_uint(&c->w, kh_pki_kmc_pool_size(c->api->pki));
	kh_json_key(&c->w, "pools");
	kh_json_array_begin(&c->w);
	for (size_t i = 0; i < FAMILY_COUNT; i++) {
		kh_json_object_begin(&c->w);
		kh_json_key(&c->w, "algorithm");
		kh_json_cstr(&c->w, families[i].name);
		kh_json_key(&c->w, "spare");
		kh_json_uint(&c->w, depth[i]);
		kh_json_object_end(&c->w);
	}
	kh_json_array_end(&c->w);
	kh_json_object_end(&c->w);
	return KH_OK;
}

/* ---- recovery ---- */

static void write_recovery(struct kh_json_writer *w, const struct kh_kmc_recovery *r)
{
	kh_json_object_begin(w);
	kh_json_key(w, "id");
	kh_json_int(w, r->id);
	kh_json_key(w, "serial");
	kh_json_cstr(w, r->serial);
	kh_json_key(w, "kmc_key");
	kh_json_int(w, r->key_id);
	kh_json_key(w, "requester");
	kh_json_cstr(w, r->requester);
	kh_json_key(w, "reason");
	kh_json_cstr(w, r->reason);
	kh_json_key(w, "form");
	kh_json_cstr(w, kh_envelope_form_name(r->form));
	kh_json_key(w, "status");
	kh_json_cstr(w, kh_pki_kmc_recovery_status_name(r->status));
	kh_json_key(w, "quorum");
	kh_json_uint(w, r->quorum);
	kh_json_key(w, "approvals");
	kh_json_uint(w, r->approvals);
	write_time(w, "expires_at", r->expires_at);
	write_time(w, "created_at", r->created_at);
	write_time(w, "updated_at", r->updated_at);
	kh_json_object_end(w);
}

#define RECOVERY_READERS_FORBIDDEN                                                                 \
	"only the requester, a recovery-officer, a kms-manager or the operator reads a recovery"

/* A serial as pki/ stores it: 1..40 hex digits, upper-cased. */
static kh_rc serial_member(struct kh_api_call *c, char out[KH_PKI_SERIAL_HEX_MAX])
{
	char text[KH_PKI_SERIAL_HEX_MAX];
	kh_rc rc = kh_api_req_string(c, "serial", text, sizeof(text));
	size_t n = rc == KH_OK ? strlen(text) : 0;
	for (size_t i = 0; rc == KH_OK && i < n; i++) {
		char ch = text[i];
		if (ch >= 'a' && ch <= 'f')
			ch = (char)(ch - 'a' + 'A');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F')))
			rc = KH_ERR_BAD_INPUT;
		text[i] = ch;
	}
	if (rc != KH_OK || n == 0)
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "serial",
		                          "is required: the encryption certificate's serial "
		                          "(1 to 40 hex digits)");
	memcpy(out, text, n + 1);
	return KH_OK;
}

static kh_rc recovery_ask_decode(struct kh_api_call *c, struct kh_kmc_recovery_ask *ask,
                                 char serial[KH_PKI_SERIAL_HEX_MAX],
                                 char reason[KH_PKI_REASON_TEXT_MAX])
{
	struct kh_slice csr;
	char form[16];
	bool have_form = false;
	KH_GUARD(serial_member(c, serial));
	if (kh_api_req_string(c, "reason", reason, KH_PKI_REASON_TEXT_MAX) != KH_OK ||
	    reason[0] == '\0')
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "reason",
		                          "is required: why the key pair is recovered (recorded)");
	if (kh_json_get_string(c->body, "csr", &csr) != KH_OK || csr.len == 0)
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "csr",
		                          "is required: the PKCS#10 request (PEM) of the key the "
		                          "envelope is for");
	KH_GUARD(kh_api_opt_string(c, "envelope_form", form, sizeof(form), &have_form));
	if (have_form && kh_envelope_form_parse(kh_slice_from_cstr(form), &ask->form) != KH_OK)
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "envelope_form",
		                          "is \"skf\", \"gmt0009\" or \"cms\"");
	ask->serial = serial;
	ask->reason = reason;
	ask->recipient_csr = csr;
	return KH_OK;
}

static kh_rc kmc_recovery_request(struct kh_api_call *c)
{
	struct kh_kmc_recovery_ask ask = {0};
	struct kh_kmc_recovery r;
	char serial[KH_PKI_SERIAL_HEX_MAX], reason[KH_PKI_REASON_TEXT_MAX];
	char message[KH_PKI_MESSAGE_MAX] = "";
	KH_GUARD(recovery_ask_decode(c, &ask, serial, reason));
	kh_rc rc =
	    kh_pki_kmc_recovery_request(c->api->pki, &c->who, &ask, &r, message, sizeof(message));
	if (rc != KH_OK && rc != KH_ERR_FORBIDDEN && message[0] != '\0')
		return kh_api_fail(c, rc, message);
	KH_GUARD(kmc_error(c, rc, "the certificate has no archived key pair",
	                   "only a kms-manager of the key store or the holder of the certificate "
	                   "asks for a recovery",
	                   "the key management centre is not running"));
	c->status = 201;
	write_recovery(&c->w, &r);
	return KH_OK;
}

struct recovery_page {
	struct kh_json_writer *w;
	int64_t last_id;
};

static kh_rc recovery_one(const struct kh_kmc_recovery *r, void *arg)
{
	struct recovery_page *pg = arg;
	pg->last_id = r->id;
	write_recovery(pg->w, r);
	return KH_OK;
}

static kh_rc kmc_recovery_list(struct kh_api_call *c)
{
	struct kh_kmc_recovery_filter f = {0};
	struct recovery_page pg = {&c->w, 0};
	uint64_t ks = 0;
	bool more = false;
	KH_GUARD(page_limit(c, &f.limit));
	KH_GUARD(kh_api_query_cursor(c, &f.after_id));
	KH_GUARD(kh_api_query_uint(c, "keystore_id", 1, INT64_MAX, &ks));
	const char *status = kh_http_request_query(c->req, "status");
	if (status != NULL &&
	    kh_pki_kmc_recovery_status_parse(kh_slice_from_cstr(status), &f.status) != KH_OK)
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "status",
		                          "is pending, approved, delivered, rejected or expired");
	f.keystore_id = (int64_t)ks;
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "recoveries");
	kh_json_array_begin(&c->w);
	KH_GUARD(kmc_error(
	    c, kh_pki_kmc_recovery_list(c->api->pki, &c->who, &f, recovery_one, &pg, &more),
	    "no such key store",
	    "only a recovery-officer, a kms-manager or the operator lists recoveries",
	    "recoveries cannot be listed now"));
	kh_json_array_end(&c->w);
	if (more && pg.last_id > 0)
		kh_api_write_next(&c->w, pg.last_id);
	kh_json_object_end(&c->w);
	return KH_OK;
}

static kh_rc kmc_recovery_get(struct kh_api_call *c)
{
	struct kh_kmc_recovery r;
	int64_t id = 0;
	KH_GUARD(id_param(c, "no such recovery", &id));
	KH_GUARD(kmc_error(c, kh_pki_kmc_recovery_get(c->api->pki, &c->who, id, &r),
	                   "no such recovery", RECOVERY_READERS_FORBIDDEN,
	                   "the recovery cannot be read now"));
	write_recovery(&c->w, &r);
	return KH_OK;
}

/* Why a recovery refused a vote or a delivery with 409, from its state now. */
static kh_rc recovery_conflict(struct kh_api_call *c, int64_t id, bool vote)
{
	struct kh_kmc_recovery r;
	char *m = c->message;
	size_t n = sizeof(c->message);
	if (kh_pki_kmc_recovery_get(c->api->pki, &c->who, id, &r) != KH_OK)
		snprintf(m, n, "the recovery is not in a state for this");
	else if (r.status == KH_KMC_REC_PENDING && vote)
		snprintf(m, n, "you have decided this recovery already (%u of %u approvals)",
		         r.approvals, r.quorum);
	else if (r.status == KH_KMC_REC_PENDING)
		snprintf(m, n, "needs %u approvals: %u so far", r.quorum, r.approvals);
	else
		snprintf(m, n, "the recovery is %s", kh_pki_kmc_recovery_status_name(r.status));
	return KH_ERR_CONFLICT;
}

static kh_rc recovery_decide(struct kh_api_call *c, bool approve)
{
	struct kh_kmc_recovery r;
	char reason[KH_PKI_REASON_TEXT_MAX] = "";
	bool have = false;
	int64_t id = 0;
	KH_GUARD(id_param(c, "no such recovery", &id));
	KH_GUARD(kh_api_opt_string(c, "reason", reason, sizeof(reason), &have));
	if (!approve && reason[0] == '\0')
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "reason",
		                          "is required: why the recovery is refused (recorded)");
	kh_rc rc = kh_pki_kmc_recovery_decide(c->api->pki, &c->who, id, approve, reason, &r);
	if (rc == KH_ERR_CONFLICT)
		return recovery_conflict(c, id, true);
	KH_GUARD(kmc_error(c, rc, "no such recovery",
	                   "only a recovery-officer of the key store, never the requester, "
	                   "decides a recovery",
	                   "the recovery cannot be decided now"));
	write_recovery(&c->w, &r);
	return KH_OK;
}

static kh_rc kmc_recovery_approve(struct kh_api_call *c)
{
	return recovery_decide(c, true);
}

static kh_rc kmc_recovery_reject(struct kh_api_call *c)
{
	return recovery_decide(c, false);
}

static kh_rc kmc_recovery_envelope(struct kh_api_call *c)
{
	enum kh_envelope_form form = 0;
	struct kh_buf env;
	int64_t id = 0;
	KH_GUARD(id_param(c, "no such recovery", &id));
	kh_buf_init(&env, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_pki_kmc_recovery_envelope(c->api->pki, &c->who, id, &form, &env);
	if (rc == KH_OK)
		write_envelope(c, form, &env);
	else if (rc == KH_ERR_CONFLICT)
		rc = recovery_conflict(c, id, false);
	else
		rc =
		    kmc_error(c, rc, "no such recovery",
		              "only the requester fetches the envelope: it is sealed to the key of "
		              "their CSR",
		              "the envelope cannot be fetched now");
	kh_buf_cleanup(&env);
	return rc;
}

/* ---- routes ---- */

static const char *const recovery_fields[] = {"serial", "reason", "csr", "envelope_form", NULL};
static const char *const decide_fields[] = {"reason", NULL};

#define P KH_API_PKI
#define RECOVERY "/v1/pki/kmc/recoveries/{}"
const struct kh_api_route kh_api_kmc_routes[] = {
    {KH_HTTP_GET, "/v1/pki/requests/{}/envelope", kmc_request_envelope, P, NULL},
    {KH_HTTP_POST, "/v1/pki/requests/{}/update-encryption", kmc_request_update, P, NULL},
    {KH_HTTP_GET, "/v1/pki/kmc/keys", kmc_key_list, P, NULL},
    {KH_HTTP_GET, "/v1/pki/kmc/keys/{}", kmc_key_get, P, NULL},
    {KH_HTTP_GET, "/v1/pki/kmc/pool", kmc_pool, P, NULL},
    {KH_HTTP_POST, "/v1/pki/kmc/recoveries", kmc_recovery_request, P | KH_API_BODY,
     recovery_fields},
    {KH_HTTP_GET, "/v1/pki/kmc/recoveries", kmc_recovery_list, P, NULL},
    {KH_HTTP_GET, RECOVERY, kmc_recovery_get, P, NULL},
    {KH_HTTP_POST, RECOVERY "/approve", kmc_recovery_approve, P | KH_API_BODY_OPT, decide_fields},
    {KH_HTTP_POST, RECOVERY "/reject", kmc_recovery_reject, P | KH_API_BODY, decide_fields},
    {KH_HTTP_GET, RECOVERY "/envelope", kmc_recovery_envelope, P, NULL},
    {0, NULL, NULL, 0, NULL},
};
