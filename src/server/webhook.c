// SPDX-License-Identifier: Apache-2.0
/*
 * The webhook deliverer: one background thread that, while the barrier is unsealed, takes the
 * notifications due for delivery (kh_audit_outbox_due) and POSTs each to its account's webhook.
 * Request threads only queue notices inside their own transaction, so a slow or dead receiver
 * never delays an API call.
 *
 * A delivery is a POST of {"id","time","event","key","detail"} (as GET /v1/notifications shows
 * the notice) with the headers
 *   X-Keyhold-Event: <event>          X-Keyhold-Delivery: <notice id>
 *   X-Keyhold-Timestamp: <Unix seconds of this attempt>
 *   X-Keyhold-Signature: sha256=<hex HMAC-SHA-256(secret, timestamp "." body)>
 * The receiver recomputes the signature over the raw body and rejects old timestamps (replays);
 * the delivery id lets it drop duplicates (a 2xx lost on the way back means a second delivery).
 *
 * Any 2xx marks the notice delivered. Anything else (another status, no answer within 5 s) is a
 * failure: the next attempt comes after webhook_retry_seconds (30 s), doubling each time up to
 * an hour; a notice that would still be undelivered 24 hours after it was made is given up: it
 * stays in the inbox, undelivered, never due again. A receiver that fails is not tried again in
 * the same pass: its other due notices are rescheduled as failed too. Notices of accounts without
 * a webhook stay in the inbox only (never due again).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/kh_codec.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "http/kh_json.h"
#include "server/kh_server_int.h"

#define BATCH 32u
#define POLL_NS (KH_NS_PER_SEC)
#define RETRY_MAX_NS (3600 * KH_NS_PER_SEC)
#define GIVE_UP_NS (24 * 3600 * KH_NS_PER_SEC)
#define TIMEOUT_SECONDS 5u
#define TEXT_SIZE (KH_AUDIT_FIELD_MAX + 1u)
#define BODY_MAX (8u * 1024u)

struct notice {
	int64_t id;
	int64_t at;
	int64_t account_id;
	unsigned attempts;
	char event[TEXT_SIZE];
	char key_tag[TEXT_SIZE];
	char detail[TEXT_SIZE];
};

struct batch {
	struct notice *items; /* BATCH of them */
	size_t count;
};

static kh_rc collect(const struct kh_audit_notice_record *r, void *arg)
{
	struct batch *b = arg;
	KH_ENSURE(b->count < BATCH, KH_ERR_INTERNAL);
	struct notice *x = &b->items[b->count++];
	x->id = r->id;
	x->at = r->at;
	x->account_id = r->n.account_id;
	x->attempts = r->attempts;
	/* The audit layer bounded every field to KH_AUDIT_FIELD_MAX. */
	snprintf(x->event, sizeof(x->event), "%s", r->n.event);
	snprintf(x->key_tag, sizeof(x->key_tag), "%s", r->n.key_tag);
	snprintf(x->detail, sizeof(x->detail), "%s", r->n.detail);
	return KH_OK;
}

/* An event name goes into a header: [A-Za-z0-9._-] only. */
static bool header_safe(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		char ch = *s;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

static kh_rc body_of(const struct notice *x, struct kh_buf *out)
{
	struct kh_json_writer w;
	kh_json_writer_init(&w, out);
	kh_json_object_begin(&w);
	kh_json_key(&w, "id");
	kh_json_int(&w, x->id);
	kh_json_key(&w, "time");
	kh_json_time(&w, x->at);
	kh_json_key(&w, "event");
	kh_json_cstr(&w, x->event);
	kh_json_key(&w, "key");
	if (x->key_tag[0] != '\0')
		kh_json_cstr(&w, x->key_tag);
	else
		kh_json_null(&w);
	kh_json_key(&w, "detail");
	if (x->detail[0] != '\0')
		kh_json_cstr(&w, x->detail);
	else
		kh_json_null(&w);
	kh_json_object_end(&w);
	return kh_json_writer_end(&w);
}

kh_rc kh_webhook_signature(struct kh_slice secret, const char *timestamp, struct kh_slice body,
                           char *out, size_t out_len)
{
	uint8_t mac[32];
	struct kh_buf hex;
	const struct kh_slice parts[] = {kh_slice_from_cstr(timestamp), KH_SLICE_LIT("."), body};
	kh_buf_init(&hex, 2 * sizeof(mac) + 1, KH_BUF_PLAIN);
	kh_rc rc = kh_hmac_parts(KH_HASH_SHA256, secret, parts, 3, mac, sizeof(mac));
	if (rc == KH_OK)
		rc = kh_hex_encode(KH_SLICE(mac, sizeof(mac)), &hex);
	if (rc == KH_OK && snprintf(out, out_len, "sha256=%.*s", (int)hex.len,
	                            (const char *)hex.ptr) >= (int)out_len)
		rc = KH_ERR_INTERNAL;
	kh_buf_cleanup(&hex);
	return rc;
}

/* One POST; *out_ok when the receiver answered 2xx. */
static kh_rc post(const struct notice *x, const struct kh_audit_webhook *wh, struct kh_slice secret,
                  bool *out_ok)
{
	char timestamp[24], signature[80];
	char h_event[TEXT_SIZE + 32], h_id[48], h_ts[48], h_sig[128];
	struct kh_buf body;
	unsigned status = 0;
	kh_buf_init(&body, BODY_MAX, KH_BUF_PLAIN);
	snprintf(timestamp, sizeof(timestamp), "%lld",
	         (long long)(kh_clock_now(kh_clock_real()) / KH_NS_PER_SEC));
	kh_rc rc = body_of(x, &body);
	if (rc == KH_OK)
		rc = kh_webhook_signature(secret, timestamp, kh_buf_slice(&body), signature,
		                          sizeof(signature));
	if (rc == KH_OK) {
		snprintf(h_event, sizeof(h_event), "X-Keyhold-Event: %s", x->event);
		snprintf(h_id, sizeof(h_id), "X-Keyhold-Delivery: %lld", (long long)x->id);
		snprintf(h_ts, sizeof(h_ts), "X-Keyhold-Timestamp: %s", timestamp);
		snprintf(h_sig, sizeof(h_sig), "X-Keyhold-Signature: %s", signature);
		const char *const headers[] = {h_event, h_id, h_ts, h_sig, NULL};
		struct kh_http_post req = {wh->url, kh_buf_slice(&body), headers, TIMEOUT_SECONDS};
		rc = kh_http_post(&req, &status);
	}
	kh_buf_cleanup(&body);
	if (rc == KH_OK) {
		*out_ok = status >= 200 && status < 300;
		KH_LOG_DEBUG("webhook attempt", KH_LF_INT("notification", x->id),
		             KH_LF_INT("account", x->account_id), KH_LF_UINT("status", status));
	}
	return rc;
}

int64_t kh_webhook_next_attempt(int64_t base_ns, unsigned attempts, int64_t made_at, int64_t now)
{
	int64_t d = base_ns > 0 ? base_ns : KH_NS_PER_SEC;
	for (unsigned i = 1; i < attempts && d < RETRY_MAX_NS; i++)
		d *= 2;
	int64_t next = now + (d < RETRY_MAX_NS ? d : RETRY_MAX_NS);
	return next - made_at > GIVE_UP_NS ? 0 : next;
}

static void failed(struct kh_node *n, const struct notice *x, int64_t now)
{
	int64_t base = (int64_t)n->cfg->webhook_retry_seconds * KH_NS_PER_SEC;
	int64_t next = kh_webhook_next_attempt(base, x->attempts + 1, x->at, now);
	kh_rc rc;
	if (next == 0) {
		KH_LOG_WARN("webhook: giving up on a notification after 24 hours",
		            KH_LF_INT("notification", x->id), KH_LF_INT("account", x->account_id),
		            KH_LF_UINT("attempts", x->attempts + 1));
		rc = kh_audit_outbox_drop(n->audit, x->id, true);
	} else {
		rc = kh_audit_outbox_mark(n->audit, x->id, false, next);
	}
	if (rc != KH_OK && rc != KH_ERR_NOT_FOUND)
		KH_LOG_WARN("webhook: cannot record the attempt", KH_LF_INT("notification", x->id),
		            KH_LF_RC(rc));
}

static void drop(struct kh_node *n, const struct notice *x)
{
	kh_rc rc = kh_audit_outbox_drop(n->audit, x->id, false);
	if (rc != KH_OK && rc != KH_ERR_NOT_FOUND)
		KH_LOG_WARN("webhook: cannot record the notice as inbox-only",
		            KH_LF_INT("notification", x->id), KH_LF_RC(rc));
}

struct pass_state {
	int64_t failed_accounts[BATCH];
	size_t failed_count;
	struct kh_buf secret; /* secure */
};

static bool failed_before(const struct pass_state *ps, int64_t account)
{
	for (size_t i = 0; i < ps->failed_count; i++) {
		if (ps->failed_accounts[i] == account)
			return true;
	}
	return false;
}

/* Delivers one notice; false when the pass must stop (sealed). */
static bool deliver(struct kh_node *n, const struct notice *x, struct pass_state *ps)
{
	struct kh_audit_webhook wh;
	bool ok = false;
	int64_t now = kh_clock_now(kh_clock_real());
	if (failed_before(ps, x->account_id)) {
		failed(n, x, now);
		return true;
	}
	kh_buf_clear(&ps->secret);
	kh_rc rc = kh_audit_webhook_read(n->audit, x->account_id, &wh, &ps->secret);
	if (rc == KH_ERR_NOT_FOUND || (rc == KH_OK && !header_safe(x->event))) {
		drop(n, x);
		return true;
	}
	if (rc == KH_OK)
		rc = post(x, &wh, kh_buf_slice(&ps->secret), &ok);
	kh_buf_clear(&ps->secret);
	if (rc == KH_ERR_BAD_INPUT) {
		/* A URL stored before today's rules: nothing to retry. */
		KH_LOG_WARN(
		    "webhook: the account's URL is not acceptable; notices stay in the inbox",
		    KH_LF_INT("account", x->account_id));
		drop(n, x);
		return true;
	}
	if (rc == KH_ERR_SEALED)
		return false;
	if (rc != KH_OK) {
		/* Our side failed (a damaged row, no memory): retried later like a failed attempt,
		 * so one bad notice neither stops the others nor spins. */
		KH_LOG_WARN("webhook: delivery failed on our side",
		            KH_LF_INT("notification", x->id), KH_LF_RC(rc));
		failed(n, x, now);
		return true;
	}
	if (ok) {
		rc = kh_audit_outbox_mark(n->audit, x->id, true, 0);
		if (rc != KH_OK && rc != KH_ERR_NOT_FOUND)
			KH_LOG_WARN("webhook: cannot record the delivery", KH_LF_RC(rc));
		return true;
	}
	failed(n, x, now);
	if (ps->failed_count < BATCH)
		ps->failed_accounts[ps->failed_count++] = x->account_id;
	return true;
}

/* One pass; returns whether the batch was full (then the next pass comes at once). */
static bool pass(struct kh_node *n, struct batch *b, struct pass_state *ps)
{
	struct kh_barrier_status st;
	if (kh_barrier_status(n->barrier, &st) != KH_OK || st.sealed)
		return false;
	b->count = 0;
	ps->failed_count = 0;
	kh_rc rc = kh_audit_outbox_due(n->audit, kh_clock_now(kh_clock_real()), BATCH, collect, b);
	if (rc != KH_OK) {
		KH_LOG_WARN("webhook: cannot read the outbox", KH_LF_RC(rc));
		return false;
	}
	for (size_t i = 0; i < b->count; i++) {
		if (atomic_load(&n->hooks_stopping) || !deliver(n, &b->items[i], ps))
			return false;
	}
	return b->count == BATCH;
}

static void wait_ns(struct kh_node *n, int64_t d)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	int64_t ns = (int64_t)until.tv_nsec + d % KH_NS_PER_SEC;
	until.tv_sec += (time_t)(d / KH_NS_PER_SEC + ns / KH_NS_PER_SEC);
	until.tv_nsec = (long)(ns % KH_NS_PER_SEC);
	pthread_mutex_lock(&n->hooks_mu);
	if (!atomic_load(&n->hooks_stopping))
		pthread_cond_timedwait(&n->hooks_cv, &n->hooks_mu, &until);
	pthread_mutex_unlock(&n->hooks_mu);
}

static void *run(void *arg)
{
	struct kh_node *n = arg;
	struct batch b = {kh_calloc(BATCH, sizeof(struct notice)), 0};
	struct pass_state ps = {.failed_count = 0};
	kh_buf_init(&ps.secret, KH_LIMIT_WEBHOOK_SECRET_MAX + 1, KH_BUF_SECURE);
	if (b.items == NULL) {
		KH_LOG_ERROR("webhook: out of memory; no deliveries", KH_LF_NONE);
		goto out;
	}
	while (!atomic_load(&n->hooks_stopping)) {
		if (!pass(n, &b, &ps))
			wait_ns(n, POLL_NS);
	}
out:
	kh_buf_cleanup(&ps.secret);
	kh_free(&b.items);
	return NULL;
}

kh_rc kh_webhook_start(struct kh_node *n)
{
	pthread_condattr_t attr;
	atomic_store(&n->hooks_stopping, false);
	pthread_mutex_init(&n->hooks_mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&n->hooks_cv, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&n->hooks, NULL, run, n) != 0) {
		pthread_cond_destroy(&n->hooks_cv);
		pthread_mutex_destroy(&n->hooks_mu);
		return KH_ERR_INTERNAL;
	}
	n->hooks_started = true;
	return KH_OK;
}

void kh_webhook_stop(struct kh_node *n)
{
	if (!n->hooks_started)
		return;
	pthread_mutex_lock(&n->hooks_mu);
	atomic_store(&n->hooks_stopping, true);
	pthread_cond_signal(&n->hooks_cv);
	pthread_mutex_unlock(&n->hooks_mu);
	pthread_join(n->hooks, NULL);
	pthread_cond_destroy(&n->hooks_cv);
	pthread_mutex_destroy(&n->hooks_mu);
	n->hooks_started = false;
}
