// SPDX-License-Identifier: Apache-2.0
/*
 * Audit log and notifications (API.md "Audit and notifications"). The operator reads the system
 * records (key store 0), a kms-manager account the records of its key store; anyone else is
 * refused, and the refusal is itself audited. Verification recomputes the whole hash chain and
 * tells a manager only about its key store's records.
 * Every account has an inbox of notices about the keys it holds roles on, read newest first and
 * acknowledged up to an id; the operator has none.
 *
 * GET /v1/audit filters: ?since= is a Unix time in seconds or an RFC 3339 date-time (records at
 * or after it), ?key= a key tag, ?account= an account id (records of that principal), with
 * ?limit= and the ?next= cursor of a previous page. Records come oldest first, each with its
 * result as the error code the call answered with ("ok", "Forbidden", "KeyDisabled", ...), not
 * the kh_rc name the chain keeps.
 */
#include <stdio.h>
#include <string.h>

#include "api/kh_api_int.h"
#include "base/kh_int.h"
#include "base/kh_limits.h"

/* ---- who may read what ---- */

/* The key store whose records the caller may read and verify: 0 (the system's) for the
 * operator, its own for a kms-manager; anyone else is refused and the refusal audited. */
static kh_rc audit_scope(struct kh_api_call *c, const char *operation, int64_t *out_keystore)
{
	const struct kh_principal *p = &c->who;
	if (p->kind == KH_PRINCIPAL_OPERATOR) {
		*out_keystore = 0;
		return KH_OK;
	}
	if (p->kind == KH_PRINCIPAL_ACCOUNT && (p->policies & KH_POLICY_KMS_MANAGER) != 0) {
		*out_keystore = p->keystore_id;
		return KH_OK;
	}
	int64_t ks = p->kind == KH_PRINCIPAL_ACCOUNT ? p->keystore_id : 0;
	KH_GUARD(kh_api_audit(c, operation, ks, KH_ERR_FORBIDDEN, NULL));
	return kh_api_fail(c, KH_ERR_FORBIDDEN,
	                   "only the operator and kms-manager accounts read the audit log");
}

/* ---- ?since= ---- */

/* ?since=: Unix seconds or RFC 3339; absent leaves *out_ns (0: no bound). */
static kh_rc since_param(struct kh_api_call *c, int64_t *out_ns)
{
	const char *v = kh_http_request_query(c->req, "since");
	uint64_t seconds = 0;
	if (v == NULL)
		return KH_OK;
	if (kh_parse_u64(kh_slice_from_cstr(v), 0, INT64_MAX / KH_NS_PER_SEC - 1, &seconds) ==
	    KH_OK) {
		*out_ns = (int64_t)seconds * KH_NS_PER_SEC;
		return KH_OK;
	}
	if (kh_api_time_parse(v, out_ns) == KH_OK)
		return KH_OK;
	return kh_api_fail(c, KH_ERR_BAD_INPUT,
	                   "\"since\" must be Unix seconds or an RFC 3339 date-time");
}

/* ---- GET /v1/audit ---- */

struct audit_query {
	struct kh_audit_filter f;
	char key_tag[KH_KEY_TAG_LEN + 1];
	char principal[KH_PRINCIPAL_NAME_MAX];
};

static kh_rc audit_filter(struct kh_api_call *c, int64_t keystore, struct audit_query *q)
{
	uint64_t limit = KH_LIMIT_PAGE_DEFAULT, account = 0;
	const char *tag = kh_http_request_query(c->req, "key");
	q->f = (struct kh_audit_filter){.keystore_id = keystore};
	KH_GUARD(since_param(c, &q->f.since));
	if (tag != NULL) {
		if (tag[0] == '\0' || strlen(tag) > KH_KEY_TAG_LEN)
			return kh_api_fail(c, KH_ERR_BAD_INPUT, "\"key\" must be a key tag");
		/* Copied: the request's query values need not outlive the next lookup. */
		snprintf(q->key_tag, sizeof(q->key_tag), "%s", tag);
		q->f.key_tag = q->key_tag;
	}
	KH_GUARD(kh_api_query_uint(c, "account", 1, INT64_MAX, &account));
	if (account != 0) {
		snprintf(q->principal, sizeof(q->principal), "account:%llu",
		         (unsigned long long)account);
		q->f.principal = q->principal;
	}
	KH_GUARD(kh_api_query_uint(c, "limit", 1, KH_LIMIT_PAGE_MAX, &limit));
	q->f.limit = (unsigned)limit;
	return kh_api_query_cursor(c, &q->f.after_seq);
}

/* A text member, null when empty. */
static void opt_text(struct kh_json_writer *w, const char *key, const char *s)
{
	kh_json_key(w, key);
	if (s != NULL && s[0] != '\0')
		kh_json_cstr(w, s);
	else
		kh_json_null(w);
}

struct record_page {
	struct kh_json_writer *w;
	int64_t last_seq;
};

static kh_rc record_one(const struct kh_audit_record *r, void *arg)
{
	struct record_page *pg = arg;
	struct kh_json_writer *w = pg->w;
	kh_json_object_begin(w);
	kh_json_key(w, "seq");
	kh_json_int(w, r->seq);
	kh_json_key(w, "time");
	kh_json_time(w, r->at);
	kh_json_key(w, "request_id");
	kh_json_cstr(w, r->ev.request_id);
	kh_json_key(w, "principal");
	kh_json_cstr(w, r->ev.principal);
	kh_json_key(w, "source");
	kh_json_cstr(w, r->ev.source);
	kh_json_key(w, "operation");
	kh_json_cstr(w, r->ev.operation);
	kh_json_key(w, "keystore");
	kh_json_int(w, r->ev.keystore_id);
	opt_text(w, "key", r->ev.key_tag);
	kh_json_key(w, "version");
	if (r->ev.version != 0)
		kh_json_uint(w, r->ev.version);
	else
		kh_json_null(w);
	kh_json_key(w, "result");
	kh_json_cstr(w, kh_api_result_code(r->ev.result));
	opt_text(w, "detail", r->ev.detail);
	kh_json_object_end(w);
	pg->last_seq = r->seq;
	return KH_OK;
}

static kh_rc audit_list(struct kh_api_call *c)
{
	struct audit_query q;
	struct record_page pg = {&c->w, 0};
	int64_t keystore = 0;
	bool more = false;
	KH_GUARD(audit_scope(c, "audit.list", &keystore));
	KH_GUARD(audit_filter(c, keystore, &q));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "records");
	kh_json_array_begin(&c->w);
	KH_GUARD(kh_audit_list(c->api->audit, &q.f, record_one, &pg, &more));
	kh_json_array_end(&c->w);
	if (more && pg.last_seq > 0)
		kh_api_write_next(&c->w, pg.last_seq);
	kh_json_object_end(&c->w);
	return KH_OK;
}

/* ---- POST /v1/audit/verify ---- */

/*
 * The chain is one for every tenant and is always verified whole. The operator gets the whole
 * chain's figures; a manager only those of its key store's records (how many verified, and the
 * first bad one only when it is one of them), so that it learns the chain is broken while
 * verify tells it nothing of other tenants' records, not how many there are nor which is bad.
 */
static kh_rc audit_verify(struct kh_api_call *c)
{
	struct kh_audit_verify_result r;
	int64_t keystore = 0;
	KH_GUARD(audit_scope(c, "audit.verify", &keystore));
	int64_t scope = c->who.kind == KH_PRINCIPAL_OPERATOR ? -1 : keystore;
	KH_GUARD(kh_audit_verify(c->api->audit, scope, &r));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "ok");
	kh_json_bool(&c->w, r.ok);
	kh_json_key(&c->w, "checked");
	kh_json_uint(&c->w, r.checked);
	if (r.first_bad_seq != 0) {
		kh_json_key(&c->w, "first_bad_seq");
		kh_json_uint(&c->w, r.first_bad_seq);
	}
	kh_json_object_end(&c->w);
	return KH_OK;
}

/* ---- notifications ---- */

static kh_rc inbox_owner(struct kh_api_call *c, int64_t *out_account)
{
	if (c->who.kind != KH_PRINCIPAL_ACCOUNT)
		return kh_api_fail(c, KH_ERR_FORBIDDEN, "only accounts have notifications");
	*out_account = c->who.account_id;
	return KH_OK;
}

struct notice_page {
	struct kh_json_writer *w;
	unsigned limit; /* notices to write; one more only says there are more */
	unsigned seen;
	int64_t last_id;
};

static kh_rc notice_one(const struct kh_audit_notice_record *r, void *arg)
{
	struct notice_page *pg = arg;
	struct kh_json_writer *w = pg->w;
	if (pg->seen++ >= pg->limit)
		return KH_OK;
	kh_json_object_begin(w);
	kh_json_key(w, "id");
	kh_json_int(w, r->id);
	kh_json_key(w, "time");
	kh_json_time(w, r->at);
	kh_json_key(w, "event");
	kh_json_cstr(w, r->n.event);
	opt_text(w, "key", r->n.key_tag);
	opt_text(w, "detail", r->n.detail);
	kh_json_key(w, "acked");
	kh_json_bool(w, r->acked);
	kh_json_object_end(w);
	pg->last_id = r->id;
	return KH_OK;
}

static kh_rc notice_list(struct kh_api_call *c)
{
	int64_t account = 0, before = 0;
	uint64_t limit = KH_LIMIT_PAGE_DEFAULT;
	KH_GUARD(inbox_owner(c, &account));
	KH_GUARD(kh_api_query_uint(c, "limit", 1, KH_LIMIT_PAGE_MAX, &limit));
	KH_GUARD(kh_api_query_cursor(c, &before));
	struct notice_page pg = {&c->w, (unsigned)limit, 0, 0};
	/* One more than asked says whether another page follows; at the largest page size that
	 * is not allowed, and a full page gives a cursor that may lead to an empty one. */
	unsigned fetch = pg.limit < KH_LIMIT_PAGE_MAX ? pg.limit + 1 : pg.limit;
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "notifications");
	kh_json_array_begin(&c->w);
	KH_GUARD(kh_audit_inbox_list(c->api->audit, account, before, fetch, notice_one, &pg));
	kh_json_array_end(&c->w);
	if (pg.seen > pg.limit || (pg.seen == KH_LIMIT_PAGE_MAX && pg.last_id > 0))
		kh_api_write_next(&c->w, pg.last_id);
	kh_json_object_end(&c->w);
	return KH_OK;
}

static kh_rc notice_ack(struct kh_api_call *c)
{
	int64_t account = 0, up_to = 0;
	uint64_t count = 0;
	KH_GUARD(inbox_owner(c, &account));
	if (kh_json_get_int(c->body, "up_to", 1, INT64_MAX, &up_to) != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "\"up_to\" must be a notification id");
	KH_GUARD(kh_audit_inbox_ack(c->api->audit, account, up_to, &count));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "acked");
	kh_json_uint(&c->w, count);
	kh_json_object_end(&c->w);
	return KH_OK;
}

/* ---- routes ---- */

static const char *const ack_fields[] = {"up_to", NULL};

const struct kh_api_route kh_api_audit_routes[] = {
    {KH_HTTP_GET, "/v1/audit", audit_list, 0, NULL},
    {KH_HTTP_POST, "/v1/audit/verify", audit_verify, 0, NULL},
    {KH_HTTP_GET, "/v1/notifications", notice_list, 0, NULL},
    {KH_HTTP_POST, "/v1/notifications/ack", notice_ack, KH_API_BODY, ack_fields},
    {0, NULL, NULL, 0, NULL},
};
