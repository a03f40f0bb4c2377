/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside api/: the call every handler receives, the route table, helpers shared by the handler
 * files (sys.c, keys.c, crypto.c, audit.c, webhook.c), the metrics registry (metrics.c) and the
 * rate limiter (ratelimit.c).
 */
#ifndef KH_API_INT_H
#define KH_API_INT_H

#include <pthread.h>

#include "api/kh_api.h"
#include "http/kh_json.h"
#include "pki/kh_pki.h"

struct kh_metrics;
struct kh_ratelimit;

/* The longest data directory path the API keeps (the server's own limit is the same). */
#define KH_API_PATH_MAX 512u

struct kh_api {
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	struct kh_keys *keys;
	struct kh_authz *authz;
	struct kh_pki *pki;                               /* NULL: the PKI routes answer 404 */
	char est_default_label[KH_PKI_EST_LABEL_MAX + 1]; /* "": /.well-known/est/<op> is 404 */
	const struct kh_clock *clock;
	char node_id[64];
	struct kh_metrics *metrics;
	struct kh_ratelimit *limiter;
	kh_api_http_stats_fn http_stats;
	void *http_stats_arg;
	kh_api_xks_stats_fn xks_stats;
	void *xks_stats_arg;
	char data_dir[KH_API_PATH_MAX]; /* "" without one: no backups */
	/* One backup at a time: each holds a chunk of secure memory and reads the whole store. */
	pthread_mutex_t backup_mu;
};

#define KH_API_MAX_PARAMS 4u

struct kh_api_call {
	struct kh_api *api;
	const struct kh_http_request *req;
	struct kh_http_response *resp;
	struct kh_principal who;               /* set when the route needs authentication */
	const char *params[KH_API_MAX_PARAMS]; /* path parameters, NUL-terminated copies */
	char param_store[KH_API_MAX_PARAMS][KH_LIMIT_PATH_PARAM_LONG_BYTES + 1];
	struct kh_json *body;    /* parsed body when the route takes one */
	struct kh_json_writer w; /* on resp->body */
	unsigned status;         /* success status (default 200; 204: the handler wrote nothing) */
	char message[160];       /* error message for the client (default: the rc's) */
	unsigned retry_after;    /* seconds, for a KH_ERR_RATE_LIMITED answer */
	struct kh_keys_defer defer; /* KH_API_DEFER routes: their records, committed after */
};

enum kh_api_route_flags {
	KH_API_PUBLIC = 1u,   /* no authentication */
	KH_API_BODY = 2u,     /* a JSON object body is required */
	KH_API_BODY_OPT = 4u, /* a JSON object body is allowed (empty = none) */
	KH_API_RAW = 8u,      /* the handler writes resp->body and content_type itself (not JSON) */
	KH_API_UNLIMITED = 16u, /* not rate limited (health checks and metrics scrapes) */
	/* Reads and crypto operations: the handler's records (audit, usage) are staged and
	 * committed after it returns, and the answer goes out once they are durable, without a
	 * worker waiting for the sync (kh_keys_defer). Only for handlers that make no change. */
	KH_API_DEFER = 32u,
	/* The route's {} segments may be up to KH_LIMIT_PATH_PARAM_LONG_BYTES long (XKS external
	 * key ids) instead of KH_LIMIT_NAME_MAX. */
	KH_API_LONG_PARAMS = 64u,
	/* The body is not JSON: the handler reads req->body itself (OCSP requests). */
	KH_API_RAW_BODY = 128u,
	/* The route's last {} takes the rest of the path, '/' included, uncopied (the OCSP GET
	 * form: Base64 has '/'); the handler reads it from req->raw_path. */
	KH_API_TAIL = 256u,
	/* A PKI route: 404 when the server runs without the PKI (kh_api_options.pki NULL). */
	KH_API_PKI = 512u,
};

typedef kh_rc (*kh_api_fn)(struct kh_api_call *c);

struct kh_api_route {
	enum kh_http_method method;
	const char *pattern; /* "/v1/keys/{}/encrypt": {} matches one segment */
	kh_api_fn fn;
	unsigned flags;
	const char *const *fields; /* allowed body members (NULL-terminated), NULL: none checked */
};

/* The handler files' routes, gathered by router.c. */
extern const struct kh_api_route kh_api_sys_routes[];
extern const struct kh_api_route kh_api_key_routes[];
extern const struct kh_api_route kh_api_crypto_routes[];
extern const struct kh_api_route kh_api_audit_routes[];
extern const struct kh_api_route kh_api_webhook_routes[];
extern const struct kh_api_route kh_api_metrics_routes[];
extern const struct kh_api_route kh_api_xks_routes[];
extern const struct kh_api_route kh_api_pki_routes[];
extern const struct kh_api_route kh_api_backup_routes[];
extern const struct kh_api_route kh_api_est_routes[];
extern const struct kh_api_route kh_api_kmc_routes[];

/* ---- PKI objects shared by pki.c and kmc.c ---- */

struct kh_pki_request;
/* Writes a registration request object (API.md "PKI"), with the certificate's PEM when it is
 * issued, as the answer of c. */
KH_MUST_CHECK kh_rc kh_api_pki_write_request(struct kh_api_call *c, const struct kh_pki_request *r);

/* ---- metrics (metrics.c) ---- */

/*
 * The registry: per route (one series per entry of the route tables, in order, plus one for
 * requests no route matched) a request counter per status class and a latency histogram, all
 * relaxed atomics, so counting never takes a lock on the request path. Gauges are read when
 * /metrics is scraped.
 */
#define KH_METRICS_BUCKET_COUNT 11u
KH_MUST_CHECK kh_rc kh_metrics_new(const struct kh_api_route *const *tables, size_t table_count,
                                   struct kh_metrics **out);
void kh_metrics_free(struct kh_metrics **m);
/* The series of requests that matched no route (404/405). */
size_t kh_metrics_unmatched(const struct kh_metrics *m);
/* Counts one request of series (its index in the route tables) with its status and duration. */
void kh_metrics_observe(struct kh_metrics *m, size_t series, unsigned status, int64_t elapsed_ns);
/* Counts one request refused with 429. */
void kh_metrics_rate_limited(struct kh_metrics *m);

/* What /metrics reports besides the request series; a part not known is left out. */
struct kh_metrics_gauges {
	bool barrier_known;
	bool initialized;
	bool sealed;
	bool http_known;
	struct kh_http_stats http;
	bool keys_known;
	uint64_t keys[KH_KEY_DELETED + 1]; /* by enum kh_key_state */
	uint64_t key_cache_entries;
	bool store_known;
	struct kh_store_stats store;
	bool notifications_known;
	uint64_t notifications_pending;
	bool xks_known;
	struct kh_api_xks_counts xks;
	bool ocsp_known;
	uint64_t ocsp_cache_hits, ocsp_try_later;
	/* the key management centre's pools: spare pairs of SM2, P-256 and RSA-2048 */
	bool kmc_known;
	uint64_t kmc_depth[3], kmc_pool_size, kmc_misses;
};
/* Appends the Prometheus text exposition (format 0.0.4) of everything to out. */
KH_MUST_CHECK kh_rc kh_metrics_write(struct kh_metrics *m, const struct kh_metrics_gauges *g,
                                     struct kh_buf *out);

/* ---- rate limiting (ratelimit.c) ---- */

/*
 * Token buckets by principal key ("operator", "account:12", "ip:192.0.2.1", "ip6:<prefix>/64")
 * in a fixed-size table (KH_RATELIMIT_SLOTS entries, striped locks): a new key takes the least
 * recently used entry of its stripe, so memory stays bounded whatever the number of callers; a
 * bucket evicted while idle had refilled anyway.
 */
#define KH_RATELIMIT_SLOTS 4096u
#define KH_RATELIMIT_KEY_MAX 48u
struct kh_ratelimit_options {
	unsigned rate;                /* tokens per second; 0: never limits */
	unsigned burst;               /* bucket size; 0: the rate */
	const struct kh_clock *clock; /* NULL: the monotonic clock */
};
KH_MUST_CHECK kh_rc kh_ratelimit_new(const struct kh_ratelimit_options *o,
                                     struct kh_ratelimit **out);
void kh_ratelimit_free(struct kh_ratelimit **rl);
/* Takes a token from key's bucket: true when there was one. Otherwise *out_retry_after gets
 * the seconds (rounded up, >= 1) until there is. */
bool kh_ratelimit_take(struct kh_ratelimit *rl, const char *key, unsigned *out_retry_after);
/* Buckets in use (tests). */
size_t kh_ratelimit_size(struct kh_ratelimit *rl);
/* The key of a client address: IPv4 as is, IPv6 by its /64 (one host's share of addresses). */
void kh_ratelimit_addr_key(const char *addr, char out[KH_RATELIMIT_KEY_MAX]);

/* ---- helpers (helpers.c) ---- */

/* The client message for a body member: "\"name\" what". Returns rc. */
kh_rc kh_api_member_fail(struct kh_api_call *c, kh_rc rc, const char *name, const char *what);
/* Client-facing messages for what keys/ refuses; other codes keep their message. Returns rc. */
kh_rc kh_api_key_error(struct kh_api_call *c, kh_rc rc);
/* Sets the client message of an error (printf-free: a fixed string). */
kh_rc kh_api_fail(struct kh_api_call *c, kh_rc rc, const char *message);
/* RFC 3339 section 5.6 date-time ("2026-01-31T12:00:00Z", a fraction and an offset allowed)
 * as Unix nanoseconds >= 0; KH_ERR_BAD_INPUT otherwise. */
KH_MUST_CHECK kh_rc kh_api_time_parse(const char *s, int64_t *out_ns);
/* Path parameter i as an integer id (1..INT64_MAX) or a version (1..UINT32_MAX). */
KH_MUST_CHECK kh_rc kh_api_param_id(struct kh_api_call *c, unsigned i, int64_t *out);
/* Optional body members: absent leaves *out as it is. */
KH_MUST_CHECK kh_rc kh_api_opt_string(struct kh_api_call *c, const char *name, char *out,
                                      size_t out_len, bool *out_present);
KH_MUST_CHECK kh_rc kh_api_opt_int(struct kh_api_call *c, const char *name, int64_t min,
                                   int64_t max, int64_t *out, bool *out_present);
KH_MUST_CHECK kh_rc kh_api_opt_bool(struct kh_api_call *c, const char *name, bool *out);
/* Whether the body has a member of that name, of any type. */
bool kh_api_has(const struct kh_api_call *c, const char *name);
/* A required string member copied into out (bounded). */
KH_MUST_CHECK kh_rc kh_api_req_string(struct kh_api_call *c, const char *name, char *out,
                                      size_t out_len);
/* Base64 member decoded into out (which bounds it); absent: KH_ERR_NOT_FOUND. */
KH_MUST_CHECK kh_rc kh_api_base64(struct kh_api_call *c, const char *name, struct kh_buf *out);
/* Query parameter as a bounded unsigned integer; absent leaves *out. */
KH_MUST_CHECK kh_rc kh_api_query_uint(struct kh_api_call *c, const char *name, uint64_t min,
                                      uint64_t max, uint64_t *out);
/*
 * Paging (API.md "Lists are paged"): ?next= carries an opaque cursor made from the last id or
 * sequence number of the previous page; absent leaves *out (0: from the start). A cursor we did
 * not write is KH_ERR_BAD_INPUT with a message.
 */
KH_MUST_CHECK kh_rc kh_api_query_cursor(struct kh_api_call *c, int64_t *out);
/* Refuses the ?next= cursor: one we did not write, or one that names no place in the list it
 * was sent to (both are the same 400). Returns KH_ERR_BAD_INPUT. */
kh_rc kh_api_cursor_fail(struct kh_api_call *c);
/* Writes "next":<cursor> for last (>= 1) as a member of the current object. */
void kh_api_write_next(struct kh_json_writer *w, int64_t last);
/* Audits an operation the API layer decides itself (not one of keys/, which audits its own),
 * in a write transaction of its own; keystore_id 0 for system records. */
KH_MUST_CHECK kh_rc kh_api_audit(struct kh_api_call *c, const char *operation, int64_t keystore_id,
                                 kh_rc outcome, const char *detail);
/*
 * The result of an audit or usage record as answers show it: "ok", or the error code of the
 * refusal (kh_api_error_of), the same code the refused call answered with. Records keep the
 * kh_rc name (it is part of the audit chain); a name this build does not know, from another
 * version, is shown as stored.
 */
const char *kh_api_result_code(const char *stored);
/* Writes a key object (API.md "GET /v1/keys/{tag}"). */
void kh_api_write_key(struct kh_json_writer *w, const struct kh_key_info *k);
/* The operator only; anyone else is refused with 403, and the refusal is audited as operation
 * (sys.c). */
KH_MUST_CHECK kh_rc kh_api_operator_only(struct kh_api_call *c, const char *operation);
/* Makes the response body secure (for plaintexts and data keys). */
KH_MUST_CHECK kh_rc kh_api_secure_body(struct kh_api_call *c);

#endif
