// SPDX-License-Identifier: Apache-2.0
/*
 * Notifications: events addressed to accounts. Each is queued inside the transaction of the
 * change it reports, kept as the account's inbox (read and acknowledged through the API) and,
 * as an outbox, delivered later by the server's webhook sender, which records every attempt
 * and when to try again. Queuing never waits for delivery.
 */
#include "audit/kh_audit_int.h"
#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "store/kh_store_audit.h"

/* The text columns of a notice, in the order the statements return them. */
enum {
	N_EVENT,
	N_KEY_TAG,
	N_DETAIL,
	N_COUNT
};

kh_rc kh_audit_notify(struct kh_audit *a, struct kh_store_tx *tx, const struct kh_audit_notice *n)
{
	struct kh_slice event, key_tag, detail;
	KH_ENSURE(a != NULL && tx != NULL && n != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(n->account_id > 0, KH_ERR_BAD_INPUT);
	KH_GUARD(kh_audit_field(n->event, true, &event));
	KH_GUARD(kh_audit_field(n->key_tag, false, &key_tag));
	KH_GUARD(kh_audit_field(n->detail, false, &detail));
	int64_t now = kh_clock_now(a->clock);
	struct kh_store_val v[] = {
	    KH_SV_INT(n->account_id), KH_SV_INT(now),
	    KH_SV_TEXTN(event),       key_tag.len > 0 ? KH_SV_TEXTN(key_tag) : KH_SV_NULL,
	    KH_SV_TEXTN(detail),      KH_SV_INT(now), /* due at once */
	};
	return kh_store_exec(tx, &kh_q_notice_insert, v, KH_SV_COUNT(v), NULL);
}

static kh_rc notice_emit(struct kh_store_rows *rows, char *texts, kh_audit_notice_fn fn, void *arg)
{
	struct kh_slice s[N_COUNT];
	int64_t id = 0, at = 0, acked = 0, delivered = 0, attempts = 0, account = 0;
	KH_GUARD(kh_audit_col_int(rows, KH_Q_NOTICE_ID, false, 1, INT64_MAX, &id));
	KH_GUARD(kh_audit_col_int(rows, KH_Q_NOTICE_AT, false, INT64_MIN, INT64_MAX, &at));
	KH_GUARD(kh_audit_col_int(rows, KH_Q_NOTICE_ACKED, false, 0, 1, &acked));
	KH_GUARD(kh_audit_col_int(rows, KH_Q_NOTICE_DELIVERED, false, 0, 1, &delivered));
	KH_GUARD(kh_audit_col_int(rows, KH_Q_NOTICE_ATTEMPTS, false, 0, UINT32_MAX, &attempts));
	KH_GUARD(kh_audit_col_int(rows, KH_Q_NOTICE_ACCOUNT_ID, false, 1, INT64_MAX, &account));
	KH_GUARD(kh_audit_col_text(rows, KH_Q_NOTICE_EVENT, false, &s[N_EVENT]));
	KH_GUARD(kh_audit_col_text(rows, KH_Q_NOTICE_KEY_TAG, true, &s[N_KEY_TAG]));
	KH_GUARD(kh_audit_col_text(rows, KH_Q_NOTICE_DETAIL, false, &s[N_DETAIL]));
	struct kh_audit_notice_record r = {
	    .id = id,
	    .at = at,
	    .acked = acked == 1,
	    .delivered = delivered == 1,
	    .attempts = (unsigned)attempts,
	    .n = {.account_id = account,
	          .event = kh_audit_cstr(s[N_EVENT], texts),
	          .key_tag = kh_audit_cstr(s[N_KEY_TAG], texts + KH_AUDIT_TEXT_SIZE),
	          .detail = kh_audit_cstr(s[N_DETAIL], texts + 2 * KH_AUDIT_TEXT_SIZE)},
	};
	return fn(&r, arg);
}

struct notice_read {
	const struct kh_store_query *q;
	const struct kh_store_val *params;
	size_t param_count;
	kh_audit_notice_fn fn;
	void *arg;
};

/* Runs a notice query in a read transaction of its own and hands every row to the callback. */
static kh_rc notice_read(struct kh_audit *a, const struct notice_read *r)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	bool has_row = false;
	char *texts = kh_calloc(N_COUNT, KH_AUDIT_TEXT_SIZE);
	KH_ENSURE(texts != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(kh_store_read_begin(a->store, &tx));
	KH_GUARD_OUT(kh_store_query(tx, r->q, r->params, r->param_count, &rows));
	for (;;) {
		KH_GUARD_OUT(kh_store_rows_next(rows, &has_row));
		if (!has_row)
			break;
		KH_GUARD_OUT(notice_emit(rows, texts, r->fn, r->arg));
	}
out:
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	kh_free(&texts);
	return rc;
}

kh_rc kh_audit_inbox_list(struct kh_audit *a, int64_t account_id, int64_t before_id, unsigned limit,
                          kh_audit_notice_fn fn, void *arg)
{
	KH_ENSURE(a != NULL && fn != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(account_id > 0 && before_id >= 0, KH_ERR_BAD_INPUT);
	KH_GUARD(kh_audit_limit(limit, KH_LIMIT_PAGE_MAX));
	struct kh_store_val v[] = {KH_SV_INT(account_id),
	                           KH_SV_INT(before_id == 0 ? INT64_MAX : before_id),
	                           KH_SV_INT(limit)};
	struct notice_read r = {&kh_q_notice_inbox, v, KH_SV_COUNT(v), fn, arg};
	return notice_read(a, &r);
}

kh_rc kh_audit_outbox_due(struct kh_audit *a, int64_t now, unsigned limit, kh_audit_notice_fn fn,
                          void *arg)
{
	KH_ENSURE(a != NULL && fn != NULL, KH_ERR_INTERNAL);
	KH_GUARD(kh_audit_limit(limit, KH_LIMIT_PAGE_MAX));
	struct kh_store_val v[] = {KH_SV_INT(now), KH_SV_INT(limit)};
	struct notice_read r = {&kh_q_notice_due, v, KH_SV_COUNT(v), fn, arg};
	return notice_read(a, &r);
}

/* A one-statement write: its parameters, and the rows it changed. */
struct notice_write {
	const struct kh_store_query *q;
	struct kh_store_val params[3];
	size_t param_count;
	uint64_t changes;
};

static kh_rc notice_write_fn(struct kh_store_tx *tx, void *arg)
{
	struct notice_write *w = arg;
	return kh_store_exec(tx, w->q, w->params, w->param_count, &w->changes);
}

kh_rc kh_audit_inbox_ack(struct kh_audit *a, int64_t account_id, int64_t up_to_id,
                         uint64_t *out_count)
{
	KH_ENSURE(a != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(account_id > 0 && up_to_id > 0, KH_ERR_BAD_INPUT);
	struct notice_write w = {.q = &kh_q_notice_ack,
	                         .params = {KH_SV_INT(account_id), KH_SV_INT(up_to_id)},
	                         .param_count = 2};
	KH_GUARD(kh_store_write(a->store, notice_write_fn, &w));
	if (out_count != NULL)
		*out_count = w.changes;
	return KH_OK;
}

kh_rc kh_audit_outbox_mark(struct kh_audit *a, int64_t id, bool delivered, int64_t next_attempt_at)
{
	KH_ENSURE(a != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(id > 0, KH_ERR_BAD_INPUT);
	/* A delivered notice has no next attempt. */
	struct notice_write w = {.q = &kh_q_notice_mark,
	                         .params = {KH_SV_INT(delivered),
	                                    delivered ? KH_SV_NULL : KH_SV_INT(next_attempt_at),
	                                    KH_SV_INT(id)},
	                         .param_count = 3};
	KH_GUARD(kh_store_write(a->store, notice_write_fn, &w));
	KH_ENSURE(w.changes == 1, KH_ERR_NOT_FOUND);
	return KH_OK;
}

kh_rc kh_audit_outbox_drop(struct kh_audit *a, int64_t id, bool attempted)
{
	KH_ENSURE(a != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(id > 0, KH_ERR_BAD_INPUT);
	struct notice_write w = {.q = &kh_q_notice_drop,
	                         .params = {KH_SV_INT(attempted ? 1 : 0), KH_SV_INT(id)},
	                         .param_count = 2};
	KH_GUARD(kh_store_write(a->store, notice_write_fn, &w));
	KH_ENSURE(w.changes == 1, KH_ERR_NOT_FOUND);
	return KH_OK;
}

kh_rc kh_audit_outbox_pending(struct kh_audit *a, uint64_t *out_count)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	int64_t n = 0;
	KH_ENSURE(a != NULL && out_count != NULL, KH_ERR_INTERNAL);
	KH_GUARD(kh_store_read_begin(a->store, &tx));
	KH_GUARD_OUT(kh_store_query_one(tx, &kh_q_notice_pending, NULL, 0, &rows, &found));
	KH_ENSURE_OUT(found, KH_ERR_STORAGE);
	KH_GUARD_OUT(kh_audit_col_int(rows, 0, false, 0, INT64_MAX, &n));
	*out_count = (uint64_t)n;
out:
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc;
}
