// SPDX-License-Identifier: Apache-2.0
/*
 * Registration (PKI.md "RA"): a request is a PKCS#10 CSR for a CA and profile. It is checked
 * at submission (proof of possession, key type, requested extensions), then waits as pending
 * until an officer approves or rejects it, or is issued at once when its profile needs no
 * approval. Nobody approves their own request (four eyes); a manager's request needs another
 * manager or an ra-officer. Approval and issuance commit together, after the signature.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_mem.h"
#include "pki/kh_pki_issue.h"

/* Extensions a request may ask for (their values are never copied: the profile decides). */
static const char *const allowed_exts[] = {
    "2.5.29.17", /* subjectAltName */
    "2.5.29.15", /* keyUsage */
    "2.5.29.37", /* extKeyUsage */
    "2.5.29.19", /* basicConstraints */
};

/* ---- rows ---- */

static kh_rc text_opt(struct kh_store_rows *rows, unsigned col, char *out, size_t len)
{
	out[0] = '\0';
	if (kh_store_rows_is_null(rows, col))
		return KH_OK;
	return kh_store_rows_text_copy(rows, col, out, len);
}

static kh_rc decode(struct kh_store_rows *rows, struct kh_pki_request *out, int64_t *keystore_id,
                    struct kh_buf *csr)
{
	struct kh_pki_request r = {0};
	struct kh_slice s;
	KH_GUARD(kh_store_rows_int(rows, KH_QPR_ID, &r.id));
	KH_GUARD(kh_store_rows_int(rows, KH_QPR_CA_ID, &r.ca_id));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPR_PROFILE, r.profile, sizeof(r.profile)));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPR_SUBJECT, r.subject, sizeof(r.subject)));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPR_SANS, r.sans, sizeof(r.sans)));
	KH_GUARD(kh_store_rows_text(rows, KH_QPR_STATUS, &s));
	KH_ENSURE(kh_pki_request_status_parse(s, &r.status) == KH_OK, KH_ERR_STORAGE);
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPR_SUBMITTER, r.submitter, sizeof(r.submitter)));
	KH_GUARD(text_opt(rows, KH_QPR_OFFICER, r.officer, sizeof(r.officer)));
	KH_GUARD(text_opt(rows, KH_QPR_REASON, r.reason, sizeof(r.reason)));
	KH_GUARD(text_opt(rows, KH_QPR_SERIAL, r.serial, sizeof(r.serial)));
	KH_GUARD(kh_store_rows_int(rows, KH_QPR_CREATED_AT, &r.created_at));
	KH_GUARD(kh_store_rows_int(rows, KH_QPR_UPDATED_AT, &r.updated_at));
	KH_GUARD(kh_store_rows_int(rows, KH_QPR_KEYSTORE_ID, keystore_id));
	if (!kh_store_rows_is_null(rows, KH_QPR_KEYGEN)) {
		KH_GUARD(kh_store_rows_text(rows, KH_QPR_KEYGEN, &s));
		KH_ENSURE(kh_slice_eq(s, KH_SLICE_LIT("server")), KH_ERR_STORAGE);
		r.server_keygen = true;
	}
	if (!kh_store_rows_is_null(rows, KH_QPR_ENVELOPE_FORM)) {
		KH_GUARD(kh_store_rows_text(rows, KH_QPR_ENVELOPE_FORM, &s));
		KH_ENSURE(kh_envelope_form_parse(s, &r.form) == KH_OK, KH_ERR_STORAGE);
	}
	KH_GUARD(text_opt(rows, KH_QPR_ENC_SERIAL, r.enc_serial, sizeof(r.enc_serial)));
	int64_t has = 0;
	KH_GUARD(kh_store_rows_int(rows, KH_QPR_HAS_ENVELOPE, &has));
	r.has_envelope = has != 0;
	if (csr != NULL) {
		KH_GUARD(kh_store_rows_blob(rows, KH_QPR_CSR, &s));
		KH_GUARD(kh_buf_append(csr, s));
	}
	*out = r;
	return KH_OK;
}

static kh_rc load(struct kh_store_tx *tx, int64_t id, struct kh_pki_request *out,
                  int64_t *keystore_id, struct kh_buf *csr)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_request_get, v, 1, &rows, &found));
	kh_rc rc = found ? decode(rows, out, keystore_id, csr) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	return rc;
}

static kh_rc read_back(struct kh_pki *pk, int64_t id, struct kh_pki_request *out)
{
	struct kh_store_tx *tx = NULL;
	int64_t ks = 0;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = load(tx, id, out, &ks, NULL);
	kh_store_read_end(&tx);
	return rc;
}

/* ---- what a request needs to be issued ---- */

struct ctx {
	struct kh_pki *pk;
	const struct kh_principal *p;
	struct kh_pki_ca ca;
	struct kh_buf ca_der;
	struct kh_pki_profile profile;
	struct kh_pki_csr *csr;
	struct kh_buf csr_der;
	char sans[KH_PKI_SANS_TEXT_MAX];
	char who[KH_PRINCIPAL_NAME_MAX];
	struct kh_pki_request req; /* approve, reject: the stored request */
	int64_t request_id;
	const char *reason;
	struct kh_pki_issue issue;
	struct kh_pki_issued issued;
	char csr_hash[KH_PKI_FINGERPRINT_HEX_MAX]; /* SHA-256 of the CSR's DER, hex */
	bool server_keygen;
	enum kh_envelope_form form; /* dual or server keygen: the envelope's */
	/* Dual and server keygen: the KMC's pair, its "request" (the CSR's subject and SANs with
	 * the pair's key) and its envelope to the CSR's key; dual: the encryption certificate. */
	struct kh_pki_profile twin;
	struct kh_pki_kmc_pair pair;
	struct kh_pki_csr *pair_csr;
	struct kh_buf envelope;
	struct kh_pki_issue enc_issue;
	struct kh_pki_issued enc_issued;
	/* The CA signatures' uses of its key, written by the issuing change (one commit). */
	struct kh_keys_defer defer;
};

static void ctx_init(struct ctx *c, struct kh_pki *pk, const struct kh_principal *p)
{
	memset(c, 0, sizeof(*c));
	c->pk = pk;
	c->p = p;
	kh_buf_init(&c->ca_der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&c->csr_der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&c->issued.der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&c->enc_issued.der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&c->envelope, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_keys_principal_name(p, c->who, sizeof(c->who));
}

static void ctx_cleanup(struct ctx *c)
{
	kh_pki_csr_free(&c->csr);
	kh_buf_cleanup(&c->ca_der);
	kh_buf_cleanup(&c->csr_der);
	kh_buf_cleanup(&c->issued.der);
	kh_buf_cleanup(&c->enc_issued.der);
	kh_buf_cleanup(&c->envelope);
	kh_pki_kmc_release(c->pk, &c->pair);
	kh_free(&c->pair_csr);
}

/* The CA (with a certificate) and its profile. */
static kh_rc load_ca_profile(struct ctx *c, struct kh_store_tx *tx, int64_t ca_id,
                             const char *profile, unsigned who, char *msg, size_t msg_len)
{
	kh_rc rc = kh_pki_ca_load(tx, ca_id, &c->ca, &c->ca_der, NULL);
	if (rc == KH_ERR_NOT_FOUND)
		kh_pki_say(msg, msg_len, "no such CA");
	KH_GUARD(rc);
	KH_GUARD(kh_pki_may(c->p, c->ca.keystore_id, who));
	if (!c->ca.has_certificate) {
		kh_pki_say(msg, msg_len, "the CA has no certificate yet");
		return KH_ERR_CONFLICT;
	}
	rc = kh_pki_profile_load(tx, ca_id, profile, &c->profile);
	if (rc == KH_ERR_NOT_FOUND) {
		kh_pki_say(msg, msg_len, "unknown profile \"%.64s\"",
		           profile != NULL ? profile : "");
		return KH_ERR_BAD_INPUT;
	}
	KH_GUARD(rc);
	if (c->profile.dual_profile[0] == '\0')
		return KH_OK;
	rc = kh_pki_profile_load(tx, ca_id, c->profile.dual_profile, &c->twin);
	if (rc == KH_ERR_NOT_FOUND) {
		kh_pki_say(msg, msg_len, "the dual profile's encryption profile \"%s\" is gone",
		           c->profile.dual_profile);
		return KH_ERR_CONFLICT;
	}
	return rc;
}

/* The profile's rules on a parsed request. */
static kh_rc check_csr(struct ctx *c, char *msg, size_t msg_len)
{
	enum kh_pkey_type t = kh_pkey_type_of(c->csr->key);
	if ((c->profile.key_types & KH_PKI_KEY_TYPE_BIT(t)) == 0) {
		kh_pki_say(msg, msg_len, "key type not allowed by profile \"%s\"", c->profile.name);
		return KH_ERR_BAD_INPUT;
	}
	for (size_t i = 0; i < c->csr->ext_count; i++) {
		bool ok = false;
		for (size_t j = 0; j < sizeof(allowed_exts) / sizeof(allowed_exts[0]); j++)
			ok = ok || strcmp(c->csr->ext_oids[i], allowed_exts[j]) == 0;
		if (!ok) {
			kh_pki_say(
			    msg, msg_len,
			    "requested extension %s is not allowed (only subjectAltName, keyUsage,"
			    " extKeyUsage, basicConstraints)",
			    c->csr->ext_oids[i]);
			return KH_ERR_BAD_INPUT;
		}
	}
	return kh_pki_sans_text(c->csr->sans, c->csr->san_count, c->sans, sizeof(c->sans));
}

/* SHA-256 of a CSR's DER as lower-case hex: how an EST client's repeated request is found. */
static kh_rc csr_hash(struct kh_slice der, char out[KH_PKI_FINGERPRINT_HEX_MAX])
{
	uint8_t h[32];
	static const char digits[] = "0123456789abcdef";
	KH_GUARD(kh_hash(KH_HASH_SHA256, der, h, sizeof(h)));
	for (size_t i = 0; i < sizeof(h); i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 15];
	}
	out[2 * sizeof(h)] = '\0';
	return KH_OK;
}

static kh_rc parse_csr(struct ctx *c, struct kh_slice csr, char *msg, size_t msg_len)
{
	kh_rc rc = kh_pki_csr_parse(csr, &c->csr);
	if (rc == KH_ERR_BAD_SIGNATURE)
		kh_pki_say(msg, msg_len, "the CSR's proof of possession does not verify");
	else if (rc == KH_ERR_WRONG_KEY_TYPE)
		kh_pki_say(msg, msg_len, "the CSR's key type is not supported");
	else if (rc != KH_OK && kh_rc_class_of(rc) != KH_CLASS_NOMEM)
		kh_pki_say(msg, msg_len, "the CSR does not parse");
	KH_GUARD(rc);
	kh_buf_clear(&c->csr_der);
	KH_GUARD(kh_pki_der_of(csr, &c->csr_der));
	return csr_hash(kh_buf_slice(&c->csr_der), c->csr_hash);
}

static void issue_setup(struct ctx *c)
{
	c->issue = (struct kh_pki_issue){
	    .signer = c->p,
	    .ca = &c->ca,
	    .ca_cert = kh_buf_slice(&c->ca_der),
	    .profile = &c->profile,
	    .csr = c->csr,
	    .now = kh_clock_now(c->pk->clock),
	    .defer = &c->defer,
	};
}

static void issue_detail(struct kh_pki_change *ch, struct ctx *c)
{
	snprintf(ch->detail2, sizeof(ch->detail2),
	         "{\"ca\":%lld,\"request\":%lld,\"serial\":\"%s\",\"profile\":\"%s\"}",
	         (long long)c->ca.id, (long long)c->request_id, c->issued.serial_hex,
	         c->profile.name);
	ch->op2 = "pki.certificate.issue";
}

/* Dual or server keygen: a pair from the KMC, enveloped to the CSR's key, and what is issued
 * for it (the encryption certificate under the twin profile, or the request's certificate). */
static kh_rc pair_setup(struct ctx *c)
{
	enum kh_pkey_type family = kh_pki_kmc_family(kh_pkey_type_of(c->csr->key));
	KH_GUARD(kh_pki_kmc_take(c->pk, family, &c->pair));
	c->pair_csr = kh_alloc(sizeof(*c->pair_csr));
	KH_ENSURE(c->pair_csr != NULL, KH_ERR_NOMEM);
	memcpy(c->pair_csr, c->csr, sizeof(*c->pair_csr));
	c->pair_csr->key = c->pair.key;
	kh_buf_clear(&c->envelope);
	KH_GUARD(kh_envelope_seal(c->form, c->pair.key, c->csr->key, &c->envelope));
	if (c->server_keygen) {
		c->issue.csr = c->pair_csr;
	} else {
		c->enc_issue = c->issue;
		c->enc_issue.profile = &c->twin;
		c->enc_issue.csr = c->pair_csr;
	}
	return KH_OK;
}

/* Uses of the CA key whose change never ran (the signature failed, say) are committed on
 * their own, before the caller records its refusal. */
static kh_rc flush_uses(struct ctx *c, kh_rc rc)
{
	if (c->defer.count == 0)
		return rc;
	kh_rc f = kh_keys_defer_flush(c->pk->keys, &c->defer);
	return rc == KH_OK ? f : rc;
}

#define SERIAL_TRIES 4

/* Signs the request's certificate (and for a dual profile its encryption twin), then runs ch,
 * whose apply stores them; again with new serials while a serial was taken. A pair chosen
 * from the pool stays in it when nothing was issued (it leaves only with the change). */
static kh_rc issue_all(struct ctx *c, struct kh_pki_change *ch)
{
	kh_rc rc = KH_OK;
	bool dual = c->form != 0 && !c->server_keygen;
	issue_setup(c);
	ch->defer = &c->defer;
	if (c->form != 0)
		rc = pair_setup(c);
	for (int i = 0; rc == KH_OK && i < SERIAL_TRIES; i++) {
		c->issued.serial_taken = false;
		c->enc_issued.serial_taken = false;
		rc = kh_pki_issue_sign(c->pk, &c->issue, &c->issued);
		if (rc == KH_OK && dual)
			rc = kh_pki_issue_sign(c->pk, &c->enc_issue, &c->enc_issued);
		if (rc == KH_OK)
			rc = kh_pki_change_run(ch);
		if (!c->issued.serial_taken && !c->enc_issued.serial_taken)
			break;
		rc = i + 1 < SERIAL_TRIES ? KH_OK : KH_ERR_INTERNAL;
	}
	return flush_uses(c, rc);
}

/* Key update: only a new encryption certificate (the signing one stays). */
static kh_rc issue_pair_only(struct ctx *c, struct kh_pki_change *ch)
{
	issue_setup(c);
	ch->defer = &c->defer;
	kh_rc rc = pair_setup(c);
	for (int i = 0; rc == KH_OK && i < SERIAL_TRIES; i++) {
		c->enc_issued.serial_taken = false;
		rc = kh_pki_issue_sign(c->pk, &c->enc_issue, &c->enc_issued);
		if (rc == KH_OK)
			rc = kh_pki_change_run(ch);
		if (!c->enc_issued.serial_taken)
			break;
		rc = i + 1 < SERIAL_TRIES ? KH_OK : KH_ERR_INTERNAL;
	}
	return flush_uses(c, rc);
}

/* Inside the change, after the request's certificate: the encryption certificate, the pair
 * bound to its certificate, and the envelope kept with the request. */
static kh_rc store_pair(struct kh_pki_change *ch, struct kh_store_tx *tx, struct ctx *c)
{
	if (c->form == 0)
		return KH_OK;
	const char *serial = c->issued.serial_hex;
	if (!c->server_keygen) {
		KH_GUARD(kh_pki_issue_store(tx, &c->enc_issue, &c->enc_issued, c->request_id));
		serial = c->enc_issued.serial_hex;
	}
	struct kh_pki_kmc_use use = {.now = ch->now,
	                             .keystore_id = c->ca.keystore_id,
	                             .ca_id = c->ca.id,
	                             .request_id = c->request_id,
	                             .serial = serial};
	KH_GUARD(kh_pki_kmc_bind(c->pk, tx, &c->pair, &use));
	struct kh_store_val v[] = {
	    c->server_keygen ? KH_SV_NULL : KH_SV_TEXT(serial),
	    KH_SV_BLOB(kh_buf_slice(&c->envelope)),
	    KH_SV_INT(c->request_id),
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_pki_request_set_dual, v, KH_SV_COUNT(v), NULL));
	snprintf(ch->detail2, sizeof(ch->detail2),
	         "{\"ca\":%lld,\"request\":%lld,\"serial\":\"%s\",\"profile\":\"%s\","
	         "\"kmc_key\":%lld,\"%s\":\"%s\",\"envelope\":\"%s\"}",
	         (long long)c->ca.id, (long long)c->request_id, c->issued.serial_hex,
	         c->profile.name, (long long)c->pair.id,
	         c->server_keygen ? "key" : "encryption_serial",
	         c->server_keygen ? "server" : serial, kh_envelope_form_name(c->form));
	return KH_OK;
}

/* ---- submission ---- */

static kh_rc insert_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct ctx *c = ch->arg;
	bool issued = !c->profile.approval_required;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	ch->keystore_id = c->ca.keystore_id;
	struct kh_store_val v[] = {
	    KH_SV_INT(c->ca.id),
	    KH_SV_TEXT(c->profile.name),
	    KH_SV_BLOB(kh_buf_slice(&c->csr_der)),
	    KH_SV_TEXT(c->csr->subject),
	    KH_SV_TEXT(c->sans),
	    KH_SV_TEXT(issued ? "issued" : "pending"),
	    KH_SV_TEXT(c->who),
	    issued ? KH_SV_TEXT("auto") : KH_SV_NULL,
	    issued ? KH_SV_TEXT(c->issued.serial_hex) : KH_SV_NULL,
	    KH_SV_INT(ch->now),
	    KH_SV_INT(ch->now),
	    KH_SV_TEXT(c->csr_hash),
	    c->server_keygen ? KH_SV_TEXT("server") : KH_SV_NULL,
	    c->form != 0 ? KH_SV_TEXT(kh_envelope_form_name(c->form)) : KH_SV_NULL,
	};
	KH_GUARD(
	    kh_store_query_one(tx, &kh_q_pki_request_insert, v, KH_SV_COUNT(v), &rows, &found));
	kh_rc rc = found ? kh_store_rows_int(rows, 0, &c->request_id) : KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"ca\":%lld,\"request\":%lld,\"profile\":\"%s\",\"status\":\"%s\"}",
	         (long long)c->ca.id, (long long)c->request_id, c->profile.name,
	         issued ? "issued" : "pending");
	if (issued) {
		KH_GUARD(kh_pki_issue_store(tx, &c->issue, &c->issued, c->request_id));
		issue_detail(ch, c);
		KH_GUARD(store_pair(ch, tx, c));
	}
	return KH_OK;
}

/* Dual and server-keygen requests: the envelope's form, which the CSR's key must be able to
 * open (SKF and GM/T 0009: SM2; CMS: RSA or ECDSA). Others carry none. */
static kh_rc choose_form(struct ctx *c, enum kh_envelope_form asked, char *msg, size_t len)
{
	enum kh_pkey_type t = kh_pkey_type_of(c->csr->key);
	c->form = 0;
	if (c->profile.dual_profile[0] == '\0' && !c->server_keygen)
		return KH_OK;
	if (kh_pki_kmc_family(t) == 0) {
		kh_pki_say(msg, len, "the KMC keeps no %s key pairs (sm2, ecdsa and rsa only)",
		           kh_pki_pkey_type_name(t));
		return KH_ERR_BAD_INPUT;
	}
	c->form = asked != 0 ? asked : kh_envelope_form_default(t);
	bool sm2 = t == KH_PKEY_SM2;
	if (c->form == 0 || sm2 != (c->form != KH_ENVELOPE_CMS)) {
		kh_pki_say(msg, len, "a %s key cannot open a %s envelope", kh_pki_pkey_type_name(t),
		           kh_envelope_form_name(c->form));
		return KH_ERR_BAD_INPUT;
	}
	return KH_OK;
}

static kh_rc submit_check(struct ctx *c, const struct kh_pki_submit *req, char *msg, size_t len)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(c->pk->store, &tx));
	kh_rc rc = load_ca_profile(c, tx, req->ca_id, req->profile, KH_PKI_ANY_ACCOUNT, msg, len);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	KH_GUARD(parse_csr(c, req->csr, msg, len));
	KH_GUARD(check_csr(c, msg, len));
	c->server_keygen = req->server_keygen;
	return choose_form(c, req->form, msg, len);
}

kh_rc kh_pki_request_submit(struct kh_pki *pk, const struct kh_principal *p,
                            const struct kh_pki_submit *req, struct kh_pki_request *out,
                            char *message, size_t message_len)
{
	struct ctx c;
	ctx_init(&c, pk, p);
	kh_pki_say(message, message_len, "%s", "");
	kh_rc rc = submit_check(&c, req, message, message_len);
	if (rc != KH_OK) {
		int64_t ks =
		    c.ca.id != 0 && p->keystore_id == c.ca.keystore_id ? c.ca.keystore_id : 0;
		rc = kh_pki_refused(pk, p, "pki.request.submit", ks, rc);
		goto out;
	}
	struct kh_pki_change ch = {
	    .pk = pk, .p = p, .op = "pki.request.submit", .apply = insert_fn, .arg = &c};
	if (c.profile.approval_required) {
		rc = kh_pki_change_run(&ch);
	} else {
		rc = issue_all(&c, &ch);
		if (rc != KH_OK && ch.now == 0)
			rc = kh_pki_refused(pk, p, "pki.request.submit", c.ca.keystore_id, rc);
	}
	if (rc == KH_OK)
		rc = read_back(pk, c.request_id, out);
out:
	ctx_cleanup(&c);
	return rc;
}

/* ---- decisions ---- */

#define DECIDERS (KH_PKI_MANAGER | KH_PKI_OFFICER | KH_PKI_OPERATOR)

static kh_rc decide_load(struct ctx *c, struct kh_store_tx *tx, int64_t id, bool approve)
{
	int64_t ks = 0;
	KH_GUARD(load(tx, id, &c->req, &ks, &c->csr_der));
	KH_GUARD(kh_pki_may(c->p, ks, DECIDERS));
	KH_ENSURE(c->req.status == KH_PKI_REQ_PENDING, KH_ERR_CONFLICT);
	/* Four eyes: the submitter does not decide, not even a manager. */
	KH_ENSURE(!approve || strcmp(c->req.submitter, c->who) != 0, KH_ERR_FORBIDDEN);
	c->request_id = id;
	c->form = c->req.form;
	c->server_keygen = c->req.server_keygen;
	return load_ca_profile(c, tx, c->req.ca_id, c->req.profile, DECIDERS, NULL, 0);
}

static kh_rc approve_check(struct ctx *c, int64_t id)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(c->pk->store, &tx));
	kh_rc rc = decide_load(c, tx, id, true);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	/* The stored request was checked at submission; parse it again for its key. */
	KH_ENSURE(kh_pki_csr_parse(kh_buf_slice(&c->csr_der), &c->csr) == KH_OK, KH_ERR_STORAGE);
	return KH_OK;
}

static kh_rc decide(struct kh_pki_change *ch, struct kh_store_tx *tx, struct ctx *c,
                    const char *status, const char *serial)
{
	uint64_t changed = 0;
	ch->keystore_id = c->ca.keystore_id;
	struct kh_store_val v[] = {
	    KH_SV_TEXT(status),
	    KH_SV_TEXT(c->who),
	    c->reason != NULL ? KH_SV_TEXT(c->reason) : KH_SV_NULL,
	    serial != NULL ? KH_SV_TEXT(serial) : KH_SV_NULL,
	    KH_SV_INT(ch->now),
	    KH_SV_INT(c->request_id),
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_pki_request_decide, v, KH_SV_COUNT(v), &changed));
	KH_ENSURE(changed == 1, KH_ERR_CONFLICT);
	snprintf(ch->detail, sizeof(ch->detail), "{\"ca\":%lld,\"request\":%lld}",
	         (long long)c->ca.id, (long long)c->request_id);
	return KH_OK;
}

static kh_rc approve_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct ctx *c = ch->arg;
	KH_GUARD(decide(ch, tx, c, "issued", c->issued.serial_hex));
	KH_GUARD(kh_pki_issue_store(tx, &c->issue, &c->issued, c->request_id));
	issue_detail(ch, c);
	return store_pair(ch, tx, c);
}

kh_rc kh_pki_request_approve(struct kh_pki *pk, const struct kh_principal *p, int64_t id,
                             struct kh_pki_request *out)
{
	struct ctx c;
	ctx_init(&c, pk, p);
	kh_rc rc = approve_check(&c, id);
	if (rc == KH_OK) {
		struct kh_pki_change ch = {
		    .pk = pk, .p = p, .op = "pki.request.approve", .apply = approve_fn, .arg = &c};
		rc = issue_all(&c, &ch);
		if (rc != KH_OK && ch.now == 0)
			rc = kh_pki_refused(pk, p, "pki.request.approve", c.ca.keystore_id, rc);
	} else {
		int64_t ks =
		    c.ca.id != 0 && p->keystore_id == c.ca.keystore_id ? c.ca.keystore_id : 0;
		rc = kh_pki_refused(pk, p, "pki.request.approve", ks, rc);
	}
	if (rc == KH_OK)
		rc = read_back(pk, id, out);
	ctx_cleanup(&c);
	return rc;
}

/* ---- key update of a dual request (PKI.md "KMC": update) ---- */

static kh_rc update_check(struct ctx *c, int64_t id)
{
	struct kh_store_tx *tx = NULL;
	int64_t ks = 0;
	KH_GUARD(kh_store_read_begin(c->pk->store, &tx));
	kh_rc rc = load(tx, id, &c->req, &ks, &c->csr_der);
	if (rc == KH_OK) {
		rc = kh_pki_may(c->p, ks, KH_PKI_MANAGER | KH_PKI_OPERATOR);
		if (rc == KH_ERR_FORBIDDEN && strcmp(c->req.submitter, c->who) == 0)
			rc = KH_OK;
	}
	if (rc == KH_OK && (c->req.status != KH_PKI_REQ_ISSUED || c->req.enc_serial[0] == '\0'))
		rc = KH_ERR_CONFLICT;
	c->request_id = id;
	if (rc == KH_OK)
		rc = load_ca_profile(c, tx, c->req.ca_id, c->req.profile,
		                     KH_PKI_ANY_ACCOUNT | KH_PKI_OPERATOR, NULL, 0);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	KH_ENSURE(c->profile.dual_profile[0] != '\0', KH_ERR_CONFLICT);
	c->form = c->req.form;
	KH_ENSURE(kh_pki_csr_parse(kh_buf_slice(&c->csr_der), &c->csr) == KH_OK, KH_ERR_STORAGE);
	return KH_OK;
}

static kh_rc update_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct ctx *c = ch->arg;
	struct kh_pki_certificate old;
	uint64_t changed = 0;
	int64_t ks = 0, old_pair = 0;
	ch->keystore_id = c->ca.keystore_id;
	/* The old encryption certificate: superseded (and off to the CRL) unless revoked already.
	 */
	KH_GUARD(kh_pki_certrow_load(tx, c->req.enc_serial, &old, &ks, NULL));
	if (old.status != KH_PKI_CERT_REVOKED) {
		struct kh_store_val v[] = {
		    KH_SV_TEXT("revoked"),
		    KH_SV_INT(ch->now),
		    KH_SV_INT(KH_CRL_REASON_SUPERSEDED),
		    KH_SV_INT(ch->now),
		    KH_SV_TEXT(c->req.enc_serial),
		    KH_SV_TEXT(kh_pki_cert_status_name(old.status)),
		};
		KH_GUARD(kh_store_exec(tx, &kh_q_pki_cert_set_status, v, KH_SV_COUNT(v), &changed));
		KH_ENSURE(changed == 1, KH_ERR_CONFLICT);
	}
	KH_GUARD(kh_pki_kmc_retire(c->pk, tx, c->req.enc_serial, "updated", ch->now, &old_pair));
	KH_GUARD(store_pair(ch, tx, c));
	ch->op2 = "pki.certificate.issue";
	snprintf(ch->detail2, sizeof(ch->detail2),
	         "{\"ca\":%lld,\"request\":%lld,\"serial\":\"%s\",\"profile\":\"%s\","
	         "\"kmc_key\":%lld}",
	         (long long)c->ca.id, (long long)c->request_id, c->enc_issued.serial_hex,
	         c->twin.name, (long long)c->pair.id);
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"ca\":%lld,\"request\":%lld,\"old_serial\":\"%s\",\"old_kmc_key\":%lld,"
	         "\"serial\":\"%s\",\"kmc_key\":%lld}",
	         (long long)c->ca.id, (long long)c->request_id, c->req.enc_serial,
	         (long long)old_pair, c->enc_issued.serial_hex, (long long)c->pair.id);
	return KH_OK;
}

kh_rc kh_pki_kmc_update(struct kh_pki *pk, const struct kh_principal *p, int64_t request_id,
                        struct kh_pki_request *out)
{
	struct ctx c;
	ctx_init(&c, pk, p);
	char old[KH_PKI_SERIAL_HEX_MAX] = "";
	kh_rc rc = update_check(&c, request_id);
	if (rc == KH_OK) {
		snprintf(old, sizeof(old), "%s", c.req.enc_serial);
		struct kh_pki_change ch = {
		    .pk = pk, .p = p, .op = "pki.kmc.update", .apply = update_fn, .arg = &c};
		rc = issue_pair_only(&c, &ch);
		if (rc != KH_OK && ch.now == 0)
			rc = kh_pki_refused(pk, p, "pki.kmc.update", c.ca.keystore_id, rc);
	} else {
		int64_t ks =
		    c.ca.id != 0 && p->keystore_id == c.ca.keystore_id ? c.ca.keystore_id : 0;
		rc = kh_pki_refused(pk, p, "pki.kmc.update", ks, rc);
	}
	if (rc == KH_OK) {
		kh_pki_ocsp_forget(pk, c.ca.id, old);
		rc = read_back(pk, request_id, out);
	}
	ctx_cleanup(&c);
	return rc;
}

static kh_rc reject_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct ctx *c = ch->arg;
	KH_GUARD(decide_load(c, tx, c->request_id, false));
	KH_ENSURE(c->reason != NULL && c->reason[0] != '\0' &&
	              strnlen(c->reason, KH_PKI_REASON_TEXT_MAX) < KH_PKI_REASON_TEXT_MAX,
	          KH_ERR_BAD_INPUT);
	return decide(ch, tx, c, "rejected", NULL);
}

kh_rc kh_pki_request_reject(struct kh_pki *pk, const struct kh_principal *p, int64_t id,
                            const char *reason, struct kh_pki_request *out)
{
	struct ctx c;
	ctx_init(&c, pk, p);
	c.request_id = id;
	c.reason = reason;
	struct kh_pki_change ch = {
	    .pk = pk, .p = p, .op = "pki.request.reject", .apply = reject_fn, .arg = &c};
	kh_rc rc = kh_pki_change_run(&ch);
	if (rc == KH_OK)
		rc = read_back(pk, id, out);
	ctx_cleanup(&c);
	return rc;
}

/* ---- reading ---- */

struct envelope_arg {
	struct kh_pki *pk;
	const struct kh_principal *p;
	char who[KH_PRINCIPAL_NAME_MAX];
	int64_t id;
	struct kh_pki_request req;
	struct kh_buf *out;
};

static kh_rc envelope_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct envelope_arg *a = ch->arg;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	int64_t ks = 0;
	struct kh_slice blob;
	KH_GUARD(load(tx, a->id, &a->req, &ks, NULL));
	KH_GUARD(kh_pki_may(a->p, ks, KH_PKI_ANY_ACCOUNT));
	ch->keystore_id = ks;
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"ca\":%lld,\"request\":%lld,\"encryption_serial\":\"%s\",\"form\":\"%s\"}",
	         (long long)a->req.ca_id, (long long)a->id,
	         a->req.enc_serial[0] != '\0' ? a->req.enc_serial : a->req.serial,
	         kh_envelope_form_name(a->req.form));
	/* The envelope is for the submitter's key alone: nobody else fetches it. */
	KH_ENSURE(strcmp(a->req.submitter, a->who) == 0, KH_ERR_FORBIDDEN);
	KH_ENSURE(a->req.has_envelope, KH_ERR_NOT_FOUND);
	struct kh_store_val v[] = {KH_SV_INT(a->id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_request_envelope, v, 1, &rows, &found));
	kh_rc rc = found ? kh_store_rows_blob(rows, 0, &blob) : KH_ERR_NOT_FOUND;
	if (rc == KH_OK)
		rc = kh_buf_append(a->out, blob);
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_pki_request_envelope(struct kh_pki *pk, const struct kh_principal *p, int64_t id,
                              enum kh_envelope_form *out_form, struct kh_buf *out)
{
	struct envelope_arg a = {.pk = pk, .p = p, .id = id, .out = out};
	kh_keys_principal_name(p, a.who, sizeof(a.who));
	struct kh_pki_change ch = {
	    .pk = pk, .p = p, .op = "pki.kmc.deliver", .apply = envelope_fn, .arg = &a};
	KH_GUARD(kh_pki_change_run(&ch));
	*out_form = a.req.form;
	return KH_OK;
}

kh_rc kh_pki_request_find_csr(struct kh_pki *pk, const struct kh_principal *p, int64_t ca_id,
                              struct kh_slice csr, struct kh_pki_request *out)
{
	struct kh_buf der;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	int64_t ks = 0;
	char hash[KH_PKI_FINGERPRINT_HEX_MAX], who[KH_PRINCIPAL_NAME_MAX];
	kh_keys_principal_name(p, who, sizeof(who));
	kh_buf_init(&der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_pki_der_of(csr, &der);
	if (rc == KH_OK)
		rc = csr_hash(kh_buf_slice(&der), hash);
	kh_buf_cleanup(&der);
	KH_GUARD(rc);
	struct kh_store_val v[] = {KH_SV_INT(ca_id), KH_SV_TEXT(hash), KH_SV_TEXT(who)};
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	rc = kh_store_query_one(tx, &kh_q_pki_request_by_csr, v, KH_SV_COUNT(v), &rows, &found);
	if (rc == KH_OK)
		rc = found ? decode(rows, out, &ks, NULL) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	return kh_pki_may(p, ks, KH_PKI_ANY_ACCOUNT);
}

kh_rc kh_pki_request_get(struct kh_pki *pk, const struct kh_principal *p, int64_t id,
                         struct kh_pki_request *out)
{
	struct kh_store_tx *tx = NULL;
	struct kh_pki_request r;
	int64_t ks = 0;
	char who[KH_PRINCIPAL_NAME_MAX];
	kh_keys_principal_name(p, who, sizeof(who));
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = load(tx, id, &r, &ks, NULL);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	rc = kh_pki_may(p, ks, DECIDERS);
	if (rc == KH_ERR_FORBIDDEN && strcmp(r.submitter, who) == 0)
		rc = KH_OK;
	KH_GUARD(rc);
	*out = r;
	return KH_OK;
}

struct request_page {
	kh_pki_request_fn fn;
	void *arg;
};

static kh_rc request_row(struct kh_store_rows *rows, void *arg)
{
	struct request_page *pg = arg;
	struct kh_pki_request r;
	int64_t ks = 0;
	KH_GUARD(decode(rows, &r, &ks, NULL));
	return pg->fn(&r, pg->arg);
}

kh_rc kh_pki_request_list(struct kh_pki *pk, const struct kh_principal *p,
                          const struct kh_pki_request_filter *f, kh_pki_request_fn fn, void *arg,
                          bool *out_more)
{
	int64_t ks = p->kind == KH_PRINCIPAL_OPERATOR ? f->keystore_id : p->keystore_id;
	KH_GUARD(kh_pki_may(p, ks, DECIDERS));
	const char *status = f->status != 0 ? kh_pki_request_status_name(f->status) : "";
	struct kh_store_val v[] = {KH_SV_INT(ks), KH_SV_INT(f->ca_id), KH_SV_TEXT(status),
	                           KH_SV_INT(f->after_id), KH_SV_INT((int64_t)f->limit + 1)};
	struct request_page pg = {fn, arg};
	return kh_pki_page(pk->store, &kh_q_pki_request_list, v, KH_SV_COUNT(v), f->limit,
	                   request_row, &pg, out_more);
}
