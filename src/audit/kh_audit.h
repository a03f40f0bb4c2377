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
 * server (webhooks) with attempts and a next-attempt time.
 *
 * Thread-safe.
 */
#ifndef KH_AUDIT_H
#define KH_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "barrier/kh_barrier.h"
#include "base/kh_clock.h"
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
	bool ok;
	uint64_t checked;
	uint64_t first_bad_seq; /* 0 when ok; the first record that does not verify, or the
	                           position where one is missing; head mismatch: last seq + 1 */
};
/* Recomputes the whole chain and the head. */
KH_MUST_CHECK kh_rc kh_audit_verify(struct kh_audit *a, struct kh_audit_verify_result *out);

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

#endif
