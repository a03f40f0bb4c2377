// SPDX-License-Identifier: Apache-2.0
/*
 * An account's webhook (API.md "Audit and notifications"): PUT /v1/accounts/{id}/webhook
 * {"url","secret"} sets or replaces it, GET reads it (never the secret), DELETE removes it.
 * keyholdd's deliverer then POSTs the account's notifications there, signed with the secret.
 *
 * Who may: the account itself, a kms-manager of its key store, and the operator. A webhook is
 * account configuration, like the account's tokens, which the operator may issue too; it
 * carries notices about keys (tags and states), never key material. Another account of the
 * same key store is refused (403, audited); an account of another key store, or an unknown one,
 * is 404, so key stores cannot probe each other's accounts. Changes are audited with the
 * change, in one transaction.
 *
 * The URL must be https://, or http:// to a loopback address (a local relay, tests), without
 * user name, password or fragment, at most KH_LIMIT_WEBHOOK_URL_BYTES; the secret 16 to 256
 * bytes. The secret is sealed by the barrier.
 */
#include <stdio.h>
#include <string.h>

#include "api/kh_api_int.h"
#include "base/kh_limits.h"

/* The account in the path, once the caller may manage its webhook. */
static kh_rc webhook_target(struct kh_api_call *c, const char *operation, struct kh_account *out)
{
	int64_t id = 0;
	const struct kh_principal *p = &c->who;
	KH_GUARD(kh_api_param_id(c, 0, &id));
	kh_rc rc = kh_keys_account_get(c->api->keys, id, out);
	if (rc == KH_ERR_NOT_FOUND)
		return kh_api_fail(c, rc, "no such account");
	KH_GUARD(rc);
	if (p->kind == KH_PRINCIPAL_OPERATOR)
		return KH_OK;
	if (p->kind != KH_PRINCIPAL_ACCOUNT || p->keystore_id != out->keystore_id)
		return kh_api_fail(c, KH_ERR_NOT_FOUND, "no such account");
	if (p->account_id == id || (p->policies & KH_POLICY_KMS_MANAGER) != 0)
		return KH_OK;
	KH_GUARD(kh_api_audit(c, operation, p->keystore_id, KH_ERR_FORBIDDEN, NULL));
	return kh_api_fail(c, KH_ERR_FORBIDDEN,
	                   "only the account itself or a kms-manager of its key store may do this");
}

/* {"url","created_at","updated_at"}: never the secret. */
static void write_webhook(struct kh_json_writer *w, const struct kh_audit_webhook *wh)
{
	kh_json_object_begin(w);
	kh_json_key(w, "url");
	kh_json_cstr(w, wh->url);
	kh_json_key(w, "created_at");
	kh_json_time(w, wh->created_at);
	kh_json_key(w, "updated_at");
	kh_json_time(w, wh->updated_at);
	kh_json_object_end(w);
}

/* A change and its audit record, in one write transaction. */
struct webhook_change {
	struct kh_api_call *c;
	const char *operation;
	const struct kh_account *account;
	const char *url;        /* put */
	struct kh_slice secret; /* put */
	bool existed;           /* delete */
};

static kh_rc change_audit(struct webhook_change *ch, struct kh_store_tx *tx)
{
	char who[KH_PRINCIPAL_NAME_MAX], detail[64];
	kh_keys_principal_name(&ch->c->who, who, sizeof(who));
	snprintf(detail, sizeof(detail), "{\"account\":%lld}", (long long)ch->account->id);
	struct kh_audit_event ev = {
	    .request_id = ch->c->req->request_id,
	    .principal = who,
	    .source = ch->c->req->remote_addr,
	    .operation = ch->operation,
	    .keystore_id = ch->account->keystore_id,
	    .result = "ok",
	    .detail = detail,
	};
	return kh_audit_append(ch->c->api->audit, tx, &ev, NULL);
}

static kh_rc put_fn(struct kh_store_tx *tx, void *arg)
{
	struct webhook_change *ch = arg;
	KH_GUARD(kh_audit_webhook_put(ch->c->api->audit, tx, ch->account->id, ch->url, ch->secret));
	return change_audit(ch, tx);
}

static kh_rc delete_fn(struct kh_store_tx *tx, void *arg)
{
	struct webhook_change *ch = arg;
	KH_GUARD(kh_audit_webhook_delete(ch->c->api->audit, tx, ch->account->id, &ch->existed));
	/* Nothing removed, nothing to record: the caller gets 404. */
	return ch->existed ? change_audit(ch, tx) : KH_OK;
}

static kh_rc url_of(struct kh_api_call *c, char *out, size_t out_len)
{
	kh_rc rc = kh_api_req_string(c, "url", out, out_len);
	if (rc == KH_ERR_TOO_LARGE)
		return kh_api_fail(c, rc, "\"url\" is longer than 512 bytes");
	KH_GUARD(rc);
	rc = kh_http_url_check(out);
	if (rc == KH_ERR_TOO_LARGE)
		return kh_api_fail(c, rc, "\"url\" is longer than 512 bytes");
	if (rc != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT,
		                   "\"url\" must be https://, or http:// to a loopback address, "
		                   "without user, password or fragment");
	return KH_OK;
}

static kh_rc secret_of(struct kh_api_call *c, struct kh_slice *out)
{
	if (kh_json_get_string(c->body, "secret", out) != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "\"secret\" is required (a string)");
	if (out->len > KH_LIMIT_WEBHOOK_SECRET_MAX)
		return kh_api_fail(c, KH_ERR_TOO_LARGE, "\"secret\" is longer than 256 bytes");
	if (out->len < KH_LIMIT_WEBHOOK_SECRET_MIN)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "\"secret\" must be at least 16 bytes");
	return KH_OK;
}

static kh_rc webhook_put(struct kh_api_call *c)
{
	static const char op[] = "account.webhook_set";
	struct kh_account account;
	struct kh_audit_webhook wh;
	char url[KH_LIMIT_WEBHOOK_URL_BYTES + 1];
	struct kh_slice secret;
	KH_GUARD(webhook_target(c, op, &account));
	KH_GUARD(url_of(c, url, sizeof(url)));
	KH_GUARD(secret_of(c, &secret));
	struct webhook_change ch = {
	    .c = c, .operation = op, .account = &account, .url = url, .secret = secret};
	KH_GUARD(kh_store_write(c->api->store, put_fn, &ch));
	KH_GUARD(kh_audit_webhook_read(c->api->audit, account.id, &wh, NULL));
	write_webhook(&c->w, &wh);
	return KH_OK;
}

static kh_rc webhook_get(struct kh_api_call *c)
{
	struct kh_account account;
	struct kh_audit_webhook wh;
	KH_GUARD(webhook_target(c, "account.webhook_get", &account));
	kh_rc rc = kh_audit_webhook_read(c->api->audit, account.id, &wh, NULL);
	if (rc == KH_ERR_NOT_FOUND)
		return kh_api_fail(c, rc, "the account has no webhook");
	KH_GUARD(rc);
	write_webhook(&c->w, &wh);
	return KH_OK;
}

static kh_rc webhook_delete(struct kh_api_call *c)
{
	static const char op[] = "account.webhook_delete";
	struct kh_account account;
	KH_GUARD(webhook_target(c, op, &account));
	struct webhook_change ch = {.c = c, .operation = op, .account = &account};
	KH_GUARD(kh_store_write(c->api->store, delete_fn, &ch));
	if (!ch.existed)
		return kh_api_fail(c, KH_ERR_NOT_FOUND, "the account has no webhook");
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "deleted");
	kh_json_bool(&c->w, true);
	kh_json_object_end(&c->w);
	return KH_OK;
}

static const char *const put_fields[] = {"url", "secret", NULL};

const struct kh_api_route kh_api_webhook_routes[] = {
    {KH_HTTP_PUT, "/v1/accounts/{}/webhook", webhook_put, KH_API_BODY, put_fields},
    {KH_HTTP_GET, "/v1/accounts/{}/webhook", webhook_get, 0, NULL},
    {KH_HTTP_DELETE, "/v1/accounts/{}/webhook", webhook_delete, 0, NULL},
    {0, NULL, NULL, 0, NULL},
};
