/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Statements of the audit module (audit/): the hash-chained audit log, the usage history of
 * keys and the notification outbox. The audit head lives in meta (kh_q_meta_get/put of
 * kh_store_barrier.h). Every list is ordered and bounded with ORDER BY ... LIMIT ?.
 */
#ifndef KH_STORE_AUDIT_H
#define KH_STORE_AUDIT_H

#include "store/kh_store.h"

/*
 * The columns of an audit record as both reads return them: seq, at, request_id, principal,
 * source, operation, keystore_id, key_tag (NULL when absent), version, result, detail, and
 * (kh_q_audit_all only) hash.
 */
enum kh_q_audit_col {
	KH_Q_AUDIT_SEQ = 0,
	KH_Q_AUDIT_AT,
	KH_Q_AUDIT_REQUEST_ID,
	KH_Q_AUDIT_PRINCIPAL,
	KH_Q_AUDIT_SOURCE,
	KH_Q_AUDIT_OPERATION,
	KH_Q_AUDIT_KEYSTORE_ID,
	KH_Q_AUDIT_KEY_TAG,
	KH_Q_AUDIT_VERSION,
	KH_Q_AUDIT_RESULT,
	KH_Q_AUDIT_DETAIL,
	KH_Q_AUDIT_HASH,
};

/* -> seq, hash of the newest record (no row when the log is empty) */
extern const struct kh_store_query kh_q_audit_last;
/* seq, at, request_id, principal, source, operation, keystore_id, key_tag, version, result,
 * detail, hash */
extern const struct kh_store_query kh_q_audit_insert;
/* -> every record with its hash, by seq */
extern const struct kh_store_query kh_q_audit_all;
/*
 * after_seq, since, keystore filter (< 0: any), keystore_id, key tag filter (0: any), key_tag,
 * principal filter (0: any), principal, limit -> records without hash, by seq
 */
extern const struct kh_store_query kh_q_audit_list;

/* key_id, at, operation, version, principal, result */
extern const struct kh_store_query kh_q_usage_insert;
/* key_id, key_id, rows to keep - 1: removes the key's rows older than its newest ones */
extern const struct kh_store_query kh_q_usage_trim;
/* key_id, limit -> id, at, operation, version, principal, result, newest first */
extern const struct kh_store_query kh_q_usage_list;
/* key_id */
extern const struct kh_store_query kh_q_usage_purge;

/* The columns of a notification as the reads return them. */
enum kh_q_notice_col {
	KH_Q_NOTICE_ID = 0,
	KH_Q_NOTICE_AT,
	KH_Q_NOTICE_ACKED,
	KH_Q_NOTICE_DELIVERED,
	KH_Q_NOTICE_ATTEMPTS,
	KH_Q_NOTICE_ACCOUNT_ID,
	KH_Q_NOTICE_EVENT,
	KH_Q_NOTICE_KEY_TAG,
	KH_Q_NOTICE_DETAIL,
};

/* account_id, at, event, key_tag, detail, next_attempt_at */
extern const struct kh_store_query kh_q_notice_insert;
/* account_id, before_id, limit -> notices with id < before_id, newest first */
extern const struct kh_store_query kh_q_notice_inbox;
/* account_id, up_to_id: marks unread notices up to id as read */
extern const struct kh_store_query kh_q_notice_ack;
/* now, limit -> undelivered notices due at now, oldest first */
extern const struct kh_store_query kh_q_notice_due;
/* delivered, next_attempt_at, id: one attempt on an undelivered notice */
extern const struct kh_store_query kh_q_notice_mark;
/* attempts to add (0 or 1), id: stops delivering an undelivered notice (it stays in the inbox,
 * undelivered, with no next attempt) */
extern const struct kh_store_query kh_q_notice_drop;
/* -> count of undelivered notices still to be attempted */
extern const struct kh_store_query kh_q_notice_pending;

/* account_id, url, now (created_at, or updated_at of an existing row): insert or replace */
extern const struct kh_store_query kh_q_webhook_put;
/* account_id -> url, created_at, updated_at */
extern const struct kh_store_query kh_q_webhook_get;
/* account_id */
extern const struct kh_store_query kh_q_webhook_delete;

#endif
