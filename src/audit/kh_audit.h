/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit log, the usage history of keys and the notification outbox.
 *
 * Audit: every operation and every denial appends a record inside the transaction of the
 * operation it describes, so no acknowledged operation lacks its record. Records never hold
 * plaintext, keys or tokens. They form a chain: hash(n) = HMAC-SHA-256(audit key, hash(n-1) ||
 * canonical(record n)), hash(0) = 32 zero bytes, with sequence numbers 1, 2, 3... without gaps.
 * A head value in meta ("audit.head": seq (8) | hash (32) | HMAC(audit key, "head" | seq |
 * hash)) is updated with each append, so cutting records off the end is detected too. The audit
 * key is a barrier secret ("sys/audit-key"), created with the first record; appending and
 * verifying need the barrier unsealed.
 *
 * canonical(record) = "keyhold/v1/audit" 0x00 | seq (8) | at (8) | keystore id (8) |
 *   version (4) | then, each as length (4) | bytes: request id, principal, source, operation,
 *   key tag, result, detail. Integers big-endian; absent key tag is length 0.
 *
 * Usage history: the latest 100 uses of each key (older rows are removed as new ones come).
 * Notifications: events addressed to accounts, kept as an inbox and delivered later by the
 * server (webhooks) with attempts and a next-attempt time. A notice the server stops delivering
 * (its account has no webhook, or it gave up retrying) stays undelivered with no next attempt.
 * Webhooks: one endpoint per account; the URL is a column, the signing secret a barrier secret
 * ("webhook/<account id>").
 *
 * Thread-safe.
 */
#ifndef KH_AUDIT_H
#define KH_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "barrier/kh_barrier.h"
#include "base/kh_clock.h"
#include "base/kh_limits.h"
#include "base/kh_rc.h"
#include "store/kh_store.h"

#define KH_AUDIT_USAGE_KEEP 100u
/* Longest text field of a record (detail is the longest: a small JSON object). */
#define KH_AUDIT_FIELD_MAX 1024u

struct kh_audit;

struct kh_audit_options {
	struct kh_store *store;
	struct kh_barrier *barrier;
	const struct kh_clock *clock;
};
KH_MUST_CHECK kh_rc kh_audit_new(const struct kh_audit_options *opts, struct kh_audit **out);
/* Free the audit before the barrier it listens to. */
void kh_audit_free(struct kh_audit **a);

/* What happened. Strings are NUL-terminated, at most KH_AUDIT_FIELD_MAX bytes, and NULL means
 * empty. result is "ok" or the kh_rc name of the refusal (e.g. "KH_ERR_FORBIDDEN"). */
struct kh_audit_event {
	const char *request_id;
	const char *principal; /* "operator", "account:12", "system" */
	const char *source;    /* client address, "" for schedulers */
	const char *operation; /* "key.create", "key.encrypt", "sys.unseal", ... */
	int64_t keystore_id;   /* 0 for system records */
	const char *key_tag;
	uint32_t version; /* 0 when not about one version */
	const char *result;
	const char *detail; /* optional JSON object text, no secrets */
};

/* Appends inside the caller's write transaction; the record's time is the clock's now.
 * out_seq (optional) gets its sequence number. KH_ERR_SEALED while sealed. */
KH_MUST_CHECK kh_rc kh_audit_append(struct kh_audit *a, struct kh_store_tx *tx,
                                    const struct kh_audit_event *ev, int64_t *out_seq);

struct kh_audit_verify_result {
	bool ok;                /* the whole chain and its head verify, whatever the scope */
	uint64_t checked;       /* records of the scope that verified */
	uint64_t first_bad_seq; /* 0 when ok; the first record that does not verify, or the
	                           position where one is missing; head mismatch: last seq + 1.
	                           Scoped to a key store: only when that is one of its records
	                           (as stored), else 0 even when the chain is broken */
};
/*
 * Recomputes the whole chain and the head: there is one chain, so verifying part of it would
 * prove nothing. keystore_id scopes the figures, as in kh_audit_filter: -1 every record, 0 the
 * system's, > 0 that key store's; a tenant learns that the chain is broken, and where only
 * when the break is a record of its own, never how many other records there are or which of
 * them is bad.
 */
KH_MUST_CHECK kh_rc kh_audit_verify(struct kh_audit *a, int64_t keystore_id,
                                    struct kh_audit_verify_result *out);

/* A stored record, as listed (borrowed strings, valid during the callback, never NULL: absent
 * is ""). */
struct kh_audit_record {
	int64_t seq;
	int64_t at;
	struct kh_audit_event ev;
};
struct kh_audit_filter {
	int64_t keystore_id; /* -1: all; 0: system only; >0: that key store */
	int64_t after_seq;   /* paging cursor: records with seq > after_seq */
	int64_t since;       /* at >= since (ns; 0 = no bound) */
	const char *key_tag; /* NULL: any */
	const char *principal;
	unsigned limit; /* 1..KH_LIMIT_PAGE_MAX */
};
typedef kh_rc (*kh_audit_record_fn)(const struct kh_audit_record *r, void *arg);
/* Oldest first. *out_more says whether more records match after the last one given. */
KH_MUST_CHECK kh_rc kh_audit_list(struct kh_audit *a, const struct kh_audit_filter *f,
                                  kh_audit_record_fn fn, void *arg, bool *out_more);

/* ---- usage history ---- */

struct kh_audit_usage {
	int64_t key_id;
	const char *operation; /* "encrypt", "decrypt", "sign", ... */
	uint32_t version;
	const char *principal;
	const char *result;
};
/* Appends inside the caller's write transaction and keeps only the latest 100 for the key.
 * An unknown key is KH_ERR_CONFLICT (the foreign key refuses it). */
KH_MUST_CHECK kh_rc kh_audit_usage_append(struct kh_audit *a, struct kh_store_tx *tx,
                                          const struct kh_audit_usage *u);
struct kh_audit_usage_record {
	int64_t id;
	int64_t at;
	struct kh_audit_usage u;
};
typedef kh_rc (*kh_audit_usage_fn)(const struct kh_audit_usage_record *r, void *arg);
/* Newest first, at most limit (1..100), in the caller's transaction. */
KH_MUST_CHECK kh_rc kh_audit_usage_list(struct kh_audit *a, struct kh_store_tx *tx, int64_t key_id,
                                        unsigned limit, kh_audit_usage_fn fn, void *arg);
/* Removes a key's whole history (purge). */
KH_MUST_CHECK kh_rc kh_audit_usage_purge(struct kh_audit *a, struct kh_store_tx *tx,
                                         int64_t key_id);

/* ---- notifications ---- */

struct kh_audit_notice {
	int64_t account_id;
	const char *event; /* "key.disabled", "key.rotated", ... */
	const char *key_tag;
	const char *detail; /* JSON object text */
};
/* Queues a notice inside the caller's write transaction (due for delivery at once). */
KH_MUST_CHECK kh_rc kh_audit_notify(struct kh_audit *a, struct kh_store_tx *tx,
                                    const struct kh_audit_notice *n);
struct kh_audit_notice_record {
	int64_t id;
	int64_t at;
	bool acked;
	bool delivered;
	unsigned attempts;
	struct kh_audit_notice n;
};
typedef kh_rc (*kh_audit_notice_fn)(const struct kh_audit_notice_record *r, void *arg);
/* An account's inbox, newest first: ids < before_id (0 = from the newest), at most limit. */
KH_MUST_CHECK kh_rc kh_audit_inbox_list(struct kh_audit *a, int64_t account_id, int64_t before_id,
                                        unsigned limit, kh_audit_notice_fn fn, void *arg);
/* Marks the account's notices with id <= up_to_id as read; out_count gets how many changed. */
KH_MUST_CHECK kh_rc kh_audit_inbox_ack(struct kh_audit *a, int64_t account_id, int64_t up_to_id,
                                       uint64_t *out_count);
/* Undelivered notices whose next attempt is due at now (oldest first, at most limit). */
KH_MUST_CHECK kh_rc kh_audit_outbox_due(struct kh_audit *a, int64_t now, unsigned limit,
                                        kh_audit_notice_fn fn, void *arg);
/* Records a delivery attempt: delivered, or failed with the next attempt time. */
KH_MUST_CHECK kh_rc kh_audit_outbox_mark(struct kh_audit *a, int64_t id, bool delivered,
                                         int64_t next_attempt_at);
/* Stops delivering a notice: it stays in the inbox, undelivered, and is never due again.
 * attempted: this follows a failed attempt (counted), else none was made (no webhook).
 * KH_ERR_NOT_FOUND for an unknown or delivered notice. */
KH_MUST_CHECK kh_rc kh_audit_outbox_drop(struct kh_audit *a, int64_t id, bool attempted);
/* Undelivered notices that will still be attempted (for metrics). */
KH_MUST_CHECK kh_rc kh_audit_outbox_pending(struct kh_audit *a, uint64_t *out_count);

/* ---- webhooks ---- */

struct kh_audit_webhook {
	char url[KH_LIMIT_WEBHOOK_URL_BYTES + 1];
	int64_t created_at;
	int64_t updated_at;
};
/*
 * Sets or replaces the account's webhook inside the caller's write transaction. The caller has
 * checked who asks and the URL's form; here the URL is bounded (1..KH_LIMIT_WEBHOOK_URL_BYTES,
 * no NUL) and the secret too (KH_LIMIT_WEBHOOK_SECRET_MIN..MAX bytes): KH_ERR_BAD_INPUT or
 * KH_ERR_TOO_LARGE. An unknown account is KH_ERR_CONFLICT (the foreign key refuses it).
 * KH_ERR_SEALED while sealed (the secret is sealed by the barrier).
 */
KH_MUST_CHECK kh_rc kh_audit_webhook_put(struct kh_audit *a, struct kh_store_tx *tx,
                                         int64_t account_id, const char *url,
                                         struct kh_slice secret);
/* Removes the account's webhook and destroys its secret; *out_existed says whether it had one. */
KH_MUST_CHECK kh_rc kh_audit_webhook_delete(struct kh_audit *a, struct kh_store_tx *tx,
                                            int64_t account_id, bool *out_existed);
/* The account's webhook in the caller's (read or write) transaction; out_secret (a
 * KH_BUF_SECURE buffer, or NULL) gets the secret appended. KH_ERR_NOT_FOUND when none. */
KH_MUST_CHECK kh_rc kh_audit_webhook_get(struct kh_audit *a, struct kh_store_tx *tx,
                                         int64_t account_id, struct kh_audit_webhook *out,
                                         struct kh_buf *out_secret);
/* The same in a read transaction of its own. */
KH_MUST_CHECK kh_rc kh_audit_webhook_read(struct kh_audit *a, int64_t account_id,
                                          struct kh_audit_webhook *out, struct kh_buf *out_secret);

#endif
