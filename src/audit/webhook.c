// SPDX-License-Identifier: Apache-2.0
/*
 * Webhooks: where an account's notifications are POSTed. The table keeps only what is not
 * secret (the URL and times); the HMAC signing secret goes through the barrier like every
 * other secret, at scope "webhook/<account id>", so a copy of the database reveals nothing that
 * could forge a delivery. Who may change a webhook and what URLs are acceptable is the API's
 * business; this file bounds what it stores and checks what it reads back.
 */
#include <stdio.h>
#include <string.h>

#include "audit/kh_audit_int.h"
#include "store/kh_store_audit.h"

enum {
	W_URL = 0,
	W_CREATED_AT,
	W_UPDATED_AT,
};

static void scope_of(int64_t account_id, char out[KH_BARRIER_SCOPE_MAX])
{
	snprintf(out, KH_BARRIER_SCOPE_MAX, "webhook/%lld", (long long)account_id);
}

/* A URL as stored: 1..KH_LIMIT_WEBHOOK_URL_BYTES bytes, no NUL, no control characters. */
static kh_rc url_check(struct kh_slice url)
{
	KH_ENSURE(url.len > 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(url.len <= KH_LIMIT_WEBHOOK_URL_BYTES, KH_ERR_TOO_LARGE);
	for (size_t i = 0; i < url.len; i++)
		KH_ENSURE(url.ptr[i] > 0x20 && url.ptr[i] < 0x7f, KH_ERR_BAD_INPUT);
	return KH_OK;
}

kh_rc kh_audit_webhook_put(struct kh_audit *a, struct kh_store_tx *tx, int64_t account_id,
                           const char *url, struct kh_slice secret)
{
	char scope[KH_BARRIER_SCOPE_MAX];
	KH_ENSURE(a != NULL && tx != NULL && url != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(account_id > 0, KH_ERR_BAD_INPUT);
	struct kh_slice u = KH_SLICE(url, strnlen(url, KH_LIMIT_WEBHOOK_URL_BYTES + 1));
	KH_GUARD(url_check(u));
	KH_ENSURE(secret.len >= KH_LIMIT_WEBHOOK_SECRET_MIN, KH_ERR_BAD_INPUT);
	KH_ENSURE(secret.len <= KH_LIMIT_WEBHOOK_SECRET_MAX, KH_ERR_TOO_LARGE);
	struct kh_store_val v[] = {KH_SV_INT(account_id), KH_SV_TEXTN(u),
	                           KH_SV_INT(kh_clock_now(a->clock))};
	/* The row first: an unknown account stops here, before a secret is sealed for it. */
	KH_GUARD(kh_store_exec(tx, &kh_q_webhook_put, v, KH_SV_COUNT(v), NULL));
	scope_of(account_id, scope);
	return kh_barrier_put(a->barrier, tx, scope, secret);
}

kh_rc kh_audit_webhook_delete(struct kh_audit *a, struct kh_store_tx *tx, int64_t account_id,
                              bool *out_existed)
{
	char scope[KH_BARRIER_SCOPE_MAX];
	uint64_t changes = 0;
	KH_ENSURE(a != NULL && tx != NULL && out_existed != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(account_id > 0, KH_ERR_BAD_INPUT);
	struct kh_store_val v[] = {KH_SV_INT(account_id)};
	KH_GUARD(kh_store_exec(tx, &kh_q_webhook_delete, v, KH_SV_COUNT(v), &changes));
	scope_of(account_id, scope);
	KH_GUARD(kh_barrier_delete(a->barrier, tx, scope));
	*out_existed = changes > 0;
	return KH_OK;
}

kh_rc kh_audit_webhook_get(struct kh_audit *a, struct kh_store_tx *tx, int64_t account_id,
                           struct kh_audit_webhook *out, struct kh_buf *out_secret)
{
	kh_rc rc = KH_OK;
	char scope[KH_BARRIER_SCOPE_MAX];
	struct kh_store_rows *rows = NULL;
	struct kh_audit_webhook w = {0};
	struct kh_slice url;
	bool found = false;
	KH_ENSURE(a != NULL && tx != NULL && out != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(account_id > 0, KH_ERR_BAD_INPUT);
	struct kh_store_val v[] = {KH_SV_INT(account_id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_webhook_get, v, KH_SV_COUNT(v), &rows, &found));
	KH_ENSURE_OUT(found, KH_ERR_NOT_FOUND);
	/* Read back, the row is input like any other: the same bounds as when it was written. */
	KH_GUARD_OUT(kh_store_rows_text(rows, W_URL, &url));
	KH_ENSURE_OUT(url_check(url) == KH_OK, KH_ERR_STORAGE);
	memcpy(w.url, url.ptr, url.len);
	w.url[url.len] = '\0';
	KH_GUARD_OUT(kh_audit_col_int(rows, W_CREATED_AT, false, 0, INT64_MAX, &w.created_at));
	KH_GUARD_OUT(kh_audit_col_int(rows, W_UPDATED_AT, false, 0, INT64_MAX, &w.updated_at));
	kh_store_rows_close(&rows);
	if (out_secret != NULL) {
		scope_of(account_id, scope);
		/* A row without its secret is a damaged store, not a missing webhook. */
		rc = kh_barrier_get(a->barrier, tx, scope, out_secret);
		KH_ENSURE_OUT(rc != KH_ERR_NOT_FOUND, KH_ERR_STORAGE);
		KH_GUARD_OUT(rc);
	}
	*out = w;
out:
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_audit_webhook_read(struct kh_audit *a, int64_t account_id, struct kh_audit_webhook *out,
                            struct kh_buf *out_secret)
{
	struct kh_store_tx *tx = NULL;
	KH_ENSURE(a != NULL, KH_ERR_INTERNAL);
	KH_GUARD(kh_store_read_begin(a->store, &tx));
	kh_rc rc = kh_audit_webhook_get(a, tx, account_id, out, out_secret);
	kh_store_read_end(&tx);
	return rc;
}
