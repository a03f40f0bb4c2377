// SPDX-License-Identifier: Apache-2.0
/* The audit module's statements (see kh_store_audit.h). */
#include "store/kh_store_audit.h"

#define AUDIT_COLUMNS                                                                              \
	"seq, at, request_id, principal, source, operation, keystore_id, key_tag, version,"        \
	" result, detail"

const struct kh_store_query kh_q_audit_last = {
    "audit.last", "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"};
const struct kh_store_query kh_q_audit_insert = {"audit.insert",
                                                 "INSERT INTO audit (" AUDIT_COLUMNS ", hash)"
                                                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"};
const struct kh_store_query kh_q_audit_all = {"audit.all", "SELECT " AUDIT_COLUMNS
                                                           ", hash FROM audit ORDER BY seq"};
/* Optional filters as (flag, value) pairs, so one statement serves every combination. */
const struct kh_store_query kh_q_audit_list = {"audit.list", "SELECT " AUDIT_COLUMNS " FROM audit"
                                                             " WHERE seq > ? AND at >= ?"
                                                             " AND (? < 0 OR keystore_id = ?)"
                                                             " AND (? = 0 OR key_tag = ?)"
                                                             " AND (? = 0 OR principal = ?)"
                                                             " ORDER BY seq LIMIT ?"};

const struct kh_store_query kh_q_usage_insert = {
    "usage.insert", "INSERT INTO usage_history (key_id, at, operation, version, principal, result)"
                    " VALUES (?, ?, ?, ?, ?, ?)"};
/* Everything older than the key's Nth newest row; nothing while it has fewer than N rows (the
 * subquery is then NULL). Walks the usage_by_key index only. */
const struct kh_store_query kh_q_usage_trim = {"usage.trim",
                                               "DELETE FROM usage_history WHERE key_id = ? AND id <"
                                               " (SELECT id FROM usage_history WHERE key_id = ?"
                                               " ORDER BY id DESC LIMIT 1 OFFSET ?)"};
const struct kh_store_query kh_q_usage_list = {
    "usage.list", "SELECT id, at, operation, version, principal, result FROM usage_history"
                  " WHERE key_id = ? ORDER BY id DESC LIMIT ?"};
const struct kh_store_query kh_q_usage_purge = {"usage.purge",
                                                "DELETE FROM usage_history WHERE key_id = ?"};

#define NOTICE_COLUMNS "id, at, acked, delivered, attempts, account_id, event, key_tag, detail"

const struct kh_store_query kh_q_notice_insert = {
    "notice.insert", "INSERT INTO notifications"
                     " (account_id, at, event, key_tag, detail, next_attempt_at)"
                     " VALUES (?, ?, ?, ?, ?, ?)"};
const struct kh_store_query kh_q_notice_inbox = {
    "notice.inbox", "SELECT " NOTICE_COLUMNS " FROM notifications"
                    " WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?"};
const struct kh_store_query kh_q_notice_ack = {"notice.ack",
                                               "UPDATE notifications SET acked = 1"
                                               " WHERE account_id = ? AND id <= ? AND acked = 0"};
const struct kh_store_query kh_q_notice_due = {
    "notice.due", "SELECT " NOTICE_COLUMNS " FROM notifications"
                  " WHERE delivered = 0 AND next_attempt_at <= ? ORDER BY id LIMIT ?"};
const struct kh_store_query kh_q_notice_mark = {
    "notice.mark", "UPDATE notifications"
                   " SET delivered = ?, attempts = attempts + 1, next_attempt_at = ?"
                   " WHERE id = ? AND delivered = 0"};
const struct kh_store_query kh_q_notice_drop = {
    "notice.drop", "UPDATE notifications SET attempts = attempts + ?, next_attempt_at = NULL"
                   " WHERE id = ? AND delivered = 0"};
const struct kh_store_query kh_q_notice_pending = {
    "notice.pending", "SELECT COUNT(*) FROM notifications"
                      " WHERE delivered = 0 AND next_attempt_at IS NOT NULL"};

const struct kh_store_query kh_q_webhook_put = {
    "webhook.put", "INSERT INTO webhooks (account_id, url, created_at, updated_at)"
                   " VALUES (?1, ?2, ?3, ?3) ON CONFLICT (account_id)"
                   " DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at"};
const struct kh_store_query kh_q_webhook_get = {
    "webhook.get", "SELECT url, created_at, updated_at FROM webhooks WHERE account_id = ?"};
const struct kh_store_query kh_q_webhook_delete = {"webhook.delete",
                                                   "DELETE FROM webhooks WHERE account_id = ?"};
