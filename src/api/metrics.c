// SPDX-License-Identifier: Apache-2.0
/*
 * GET /metrics (no authentication, like health): the Prometheus text exposition format, version
 * 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/). Per route pattern and
 * method, requests by status class and a latency histogram; the HTTP servers' refusals; seal
 * state; keys by state; the key cache; store writes and commits; notifications waiting for
 * delivery; requests refused by the rate limiter.
 *
 * Request counting is a handful of relaxed atomic additions on the request path, never a lock.
 * A scrape reads the counters one by one, so a scrape racing with requests may see a bucket
 * that is one request ahead of another; each series' _count is the sum of its buckets, so the
 * histogram is always self-consistent.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "api/kh_api_int.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "pki/kh_pki.h"
#include "store/kh_store_keys.h"

#define CONTENT_TYPE "text/plain; version=0.0.4"
#define CLASS_COUNT 5u /* 1xx .. 5xx */

/* Upper bounds of the histogram buckets, in nanoseconds and as their "le" labels. */
static const int64_t bucket_ns[KH_METRICS_BUCKET_COUNT] = {
    1000000,   2500000,   5000000,   10000000,   25000000,   50000000,
    100000000, 250000000, 500000000, 1000000000, 2500000000,
};
static const char *const bucket_le[KH_METRICS_BUCKET_COUNT] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
};
static const char *const class_names[CLASS_COUNT] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

struct series {
	const char *method;
	const char *route;
	atomic_uint_fast64_t codes[CLASS_COUNT];
	atomic_uint_fast64_t buckets[KH_METRICS_BUCKET_COUNT + 1]; /* not cumulative; last: +Inf */
	atomic_uint_fast64_t sum_ns;
};

struct kh_metrics {
	size_t count; /* routes + the unmatched series */
	struct series *s;
	atomic_uint_fast64_t rate_limited;
};

static const char *method_name(enum kh_http_method m)
{
	static const char *const names[] = {
	    [KH_HTTP_GET] = "GET",     [KH_HTTP_HEAD] = "HEAD",   [KH_HTTP_POST] = "POST",
	    [KH_HTTP_PUT] = "PUT",     [KH_HTTP_PATCH] = "PATCH", [KH_HTTP_DELETE] = "DELETE",
	    [KH_HTTP_OTHER] = "OTHER",
	};
	size_t i = (size_t)m;
	return i < sizeof(names) / sizeof(names[0]) && names[i] != NULL ? names[i] : "OTHER";
}

kh_rc kh_metrics_new(const struct kh_api_route *const *tables, size_t table_count,
                     struct kh_metrics **out)
{
	size_t n = 0;
	for (size_t t = 0; t < table_count; t++) {
		for (const struct kh_api_route *r = tables[t]; r->pattern != NULL; r++)
			n++;
	}
	struct kh_metrics *m = kh_calloc(1, sizeof(*m));
	KH_ENSURE(m != NULL, KH_ERR_NOMEM);
	m->count = n + 1;
	m->s = kh_calloc(m->count, sizeof(*m->s));
	if (m->s == NULL) {
		kh_free(&m);
		return KH_ERR_NOMEM;
	}
	size_t i = 0;
	for (size_t t = 0; t < table_count; t++) {
		for (const struct kh_api_route *r = tables[t]; r->pattern != NULL; r++, i++) {
			m->s[i].method = method_name(r->method);
			m->s[i].route = r->pattern;
		}
	}
	m->s[n].method = "OTHER";
	m->s[n].route = "unmatched";
	*out = m;
	return KH_OK;
}

void kh_metrics_free(struct kh_metrics **m)
{
	if (*m == NULL)
		return;
	kh_free(&(*m)->s);
	kh_free(m);
}

size_t kh_metrics_unmatched(const struct kh_metrics *m)
{
	return m->count - 1;
}

static void add(atomic_uint_fast64_t *v, uint64_t n)
{
	atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

static uint64_t get(atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

void kh_metrics_observe(struct kh_metrics *m, size_t series, unsigned status, int64_t elapsed_ns)
{
	if (m == NULL || series >= m->count)
		return;
	struct series *s = &m->s[series];
	unsigned cls = status >= 100 && status < 600 ? status / 100 - 1 : CLASS_COUNT - 1;
	size_t b = 0;
	if (elapsed_ns < 0)
		elapsed_ns = 0;
	while (b < KH_METRICS_BUCKET_COUNT && elapsed_ns > bucket_ns[b])
		b++;
	add(&s->codes[cls], 1);
	add(&s->buckets[b], 1);
	add(&s->sum_ns, (uint64_t)elapsed_ns);
}

void kh_metrics_rate_limited(struct kh_metrics *m)
{
	if (m != NULL)
		add(&m->rate_limited, 1);
}

/* ---- the text format ---- */

/* Appends formatted text; errors stick in *rc (the first one is kept). */
__attribute__((format(printf, 3, 4))) static void put(struct kh_buf *out, kh_rc *rc,
                                                      const char *fmt, ...)
{
	char line[512];
	va_list ap;
	if (*rc != KH_OK)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		*rc = KH_ERR_INTERNAL;
		return;
	}
	*rc = kh_buf_append(out, KH_SLICE(line, (size_t)n));
}

static void family(struct kh_buf *out, kh_rc *rc, const char *name, const char *type,
                   const char *help)
{
	put(out, rc, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Seconds with nine decimals from nanoseconds (a float in the format's grammar). */
static void put_seconds(struct kh_buf *out, kh_rc *rc, const char *prefix, uint64_t ns)
{
	put(out, rc, "%s %llu.%09llu\n", prefix, (unsigned long long)(ns / 1000000000u),
	    (unsigned long long)(ns % 1000000000u));
}

static void write_requests(struct kh_metrics *m, struct kh_buf *out, kh_rc *rc)
{
	family(out, rc, "keyhold_http_requests_total", "counter",
	       "API requests answered, by method, route pattern and status class.");
	for (size_t i = 0; i < m->count; i++) {
		for (unsigned c = 0; c < CLASS_COUNT; c++) {
			uint64_t v = get(&m->s[i].codes[c]);
			if (v > 0)
				put(out, rc,
				    "keyhold_http_requests_total{method=\"%s\",route=\"%s\","
				    "code=\"%s\"} %llu\n",
				    m->s[i].method, m->s[i].route, class_names[c],
				    (unsigned long long)v);
		}
	}
}

static void write_histogram(struct series *s, struct kh_buf *out, kh_rc *rc)
{
	char prefix[256];
	uint64_t cum = 0;
	for (unsigned b = 0; b <= KH_METRICS_BUCKET_COUNT; b++) {
		cum += get(&s->buckets[b]);
		put(out, rc,
		    "keyhold_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%"
		    "s\"}"
		    " %llu\n",
		    s->method, s->route, b < KH_METRICS_BUCKET_COUNT ? bucket_le[b] : "+Inf",
		    (unsigned long long)cum);
	}
	snprintf(prefix, sizeof(prefix),
	         "keyhold_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"}", s->method,
	         s->route);
	put_seconds(out, rc, prefix, get(&s->sum_ns));
	put(out, rc,
	    "keyhold_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
	    s->method, s->route, (unsigned long long)cum);
}

static void write_latency(struct kh_metrics *m, struct kh_buf *out, kh_rc *rc)
{
	family(out, rc, "keyhold_http_request_duration_seconds", "histogram",
	       "Time from routing an API request to its response, by method and route pattern.");
	for (size_t i = 0; i < m->count; i++) {
		uint64_t any = 0;
		for (unsigned b = 0; b <= KH_METRICS_BUCKET_COUNT; b++)
			any += get(&m->s[i].buckets[b]);
		if (any > 0)
			write_histogram(&m->s[i], out, rc);
	}
}

static void write_gauges(const struct kh_metrics_gauges *g, struct kh_buf *out, kh_rc *rc)
{
	if (g->barrier_known) {
		family(out, rc, "keyhold_initialized", "gauge",
		       "1 when the barrier is initialised.");
		put(out, rc, "keyhold_initialized %d\n", g->initialized ? 1 : 0);
		family(out, rc, "keyhold_sealed", "gauge",
		       "1 while sealed (key operations answer 503).");
		put(out, rc, "keyhold_sealed %d\n", g->sealed ? 1 : 0);
	}
	if (g->http_known) {
		family(
		    out, rc, "keyhold_http_rejected_total", "counter",
		    "Requests the HTTP server refused before the API: busy (503) or limits (4xx).");
		put(out, rc, "keyhold_http_rejected_total{reason=\"busy\"} %llu\n",
		    (unsigned long long)g->http.rejected_busy);
		put(out, rc, "keyhold_http_rejected_total{reason=\"limits\"} %llu\n",
		    (unsigned long long)g->http.rejected_limits);
	}
	if (g->keys_known) {
		family(out, rc, "keyhold_keys", "gauge", "Keys of all key stores, by state.");
		for (int st = KH_KEY_ENABLED; st <= KH_KEY_DELETED; st++)
			put(out, rc, "keyhold_keys{state=\"%s\"} %llu\n",
			    kh_key_state_name((enum kh_key_state)st),
			    (unsigned long long)g->keys[st]);
	}
	family(out, rc, "keyhold_key_cache_entries", "gauge",
	       "Unwrapped key versions held in secure memory.");
	put(out, rc, "keyhold_key_cache_entries %llu\n", (unsigned long long)g->key_cache_entries);
	if (g->store_known) {
		family(out, rc, "keyhold_store_writes_total", "counter",
		       "Write transactions committed (each caller's write function).");
		put(out, rc, "keyhold_store_writes_total %llu\n",
		    (unsigned long long)g->store.write_calls);
		family(out, rc, "keyhold_store_commits_total", "counter",
		       "Commits (group commit: one durable sync for many writes).");
		put(out, rc, "keyhold_store_commits_total %llu\n",
		    (unsigned long long)g->store.write_groups);
	}
	if (g->notifications_known) {
		family(out, rc, "keyhold_notifications_pending", "gauge",
		       "Notifications waiting for webhook delivery.");
		put(out, rc, "keyhold_notifications_pending %llu\n",
		    (unsigned long long)g->notifications_pending);
	}
	if (g->xks_known) {
		const struct kh_api_xks_counts *x = &g->xks;
		uint64_t refused = x->requests - x->ok - x->throttled - x->unauthenticated;
		family(out, rc, "keyhold_xks_requests_total", "counter",
		       "Calls of AWS KMS answered by the XKS proxy, by result.");
		put(out, rc, "keyhold_xks_requests_total{result=\"ok\"} %llu\n",
		    (unsigned long long)x->ok);
		put(out, rc, "keyhold_xks_requests_total{result=\"throttled\"} %llu\n",
		    (unsigned long long)x->throttled);
		put(out, rc, "keyhold_xks_requests_total{result=\"unauthenticated\"} %llu\n",
		    (unsigned long long)x->unauthenticated);
		put(out, rc, "keyhold_xks_requests_total{result=\"refused\"} %llu\n",
		    (unsigned long long)refused);
		family(out, rc, "keyhold_xks_health_checks_total", "counter",
		       "Deep health checks run by the XKS proxy (not its cached answers).");
		put(out, rc, "keyhold_xks_health_checks_total %llu\n",
		    (unsigned long long)x->health_checks);
	}
	if (g->ocsp_known) {
		family(out, rc, "keyhold_ocsp_cache_hits_total", "counter",
		       "OCSP requests answered with a cached pre-signed response.");
		put(out, rc, "keyhold_ocsp_cache_hits_total %llu\n",
		    (unsigned long long)g->ocsp_cache_hits);
		family(out, rc, "keyhold_ocsp_try_later_total", "counter",
		       "OCSP requests answered tryLater: every signing slot stayed busy.");
		put(out, rc, "keyhold_ocsp_try_later_total %llu\n",
		    (unsigned long long)g->ocsp_try_later);
	}
	if (g->kmc_known) {
		static const char *const algs[] = {"sm2", "ecdsa-p256", "rsa-2048"};
		family(out, rc, "keyhold_kmc_pool_depth", "gauge",
		       "Spare encryption key pairs in the key management centre's pool.");
		for (size_t i = 0; i < 3; i++)
			put(out, rc, "keyhold_kmc_pool_depth{algorithm=\"%s\"} %llu\n", algs[i],
			    (unsigned long long)g->kmc_depth[i]);
		family(out, rc, "keyhold_kmc_pool_size", "gauge",
		       "Spare pairs the pool keeps per algorithm (kmc_pool_size).");
		put(out, rc, "keyhold_kmc_pool_size %llu\n", (unsigned long long)g->kmc_pool_size);
		family(out, rc, "keyhold_kmc_pool_misses_total", "counter",
		       "Pairs generated on demand because the pool was empty.");
		put(out, rc, "keyhold_kmc_pool_misses_total %llu\n",
		    (unsigned long long)g->kmc_misses);
	}
}

kh_rc kh_metrics_write(struct kh_metrics *m, const struct kh_metrics_gauges *g, struct kh_buf *out)
{
	kh_rc rc = KH_OK;
	KH_ENSURE(m != NULL && g != NULL && out != NULL, KH_ERR_INTERNAL);
	write_requests(m, out, &rc);
	write_latency(m, out, &rc);
	family(out, &rc, "keyhold_rate_limited_total", "counter",
	       "API requests refused with 429 by the per-principal rate limit.");
	put(out, &rc, "keyhold_rate_limited_total %llu\n",
	    (unsigned long long)get(&m->rate_limited));
	write_gauges(g, out, &rc);
	return rc;
}

/* ---- GET /metrics ---- */

/* Keys of every key store by state; a state name we do not know is a damaged store. */
static kh_rc count_keys(struct kh_api *api, uint64_t *out)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	uint64_t counts[KH_KEY_DELETED + 1] = {0};
	KH_GUARD(kh_store_read_begin(api->store, &tx));
	KH_GUARD_OUT(kh_store_query(tx, &kh_q_key_count_by_state, NULL, 0, &rows));
	for (;;) {
		bool row = false;
		struct kh_slice name;
		enum kh_key_state st;
		int64_t n = 0;
		KH_GUARD_OUT(kh_store_rows_next(rows, &row));
		if (!row)
			break;
		KH_GUARD_OUT(kh_store_rows_text(rows, 0, &name));
		KH_GUARD_OUT(kh_store_rows_int(rows, 1, &n));
		KH_ENSURE_OUT(kh_key_state_parse(name, &st) == KH_OK && n >= 0, KH_ERR_STORAGE);
		counts[st] = (uint64_t)n;
	}
	memcpy(out, counts, sizeof(counts));
out:
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc;
}

/* Each part that cannot be read is left out of the answer (and logged), not failed: a scrape
 * should still show what it can, for instance a store in trouble. */
static void gather(struct kh_api *api, struct kh_metrics_gauges *g)
{
	struct kh_barrier_status st;
	kh_rc rc = kh_barrier_status(api->barrier, &st);
	if (rc == KH_OK) {
		g->barrier_known = true;
		g->initialized = st.initialized;
		g->sealed = st.sealed;
	}
	if (api->http_stats != NULL) {
		api->http_stats(api->http_stats_arg, &g->http);
		g->http_known = true;
	}
	if (api->xks_stats != NULL) {
		api->xks_stats(api->xks_stats_arg, &g->xks);
		g->xks_known = true;
	}
	if (api->pki != NULL) {
		g->ocsp_cache_hits = kh_pki_ocsp_cache_hits(api->pki);
		g->ocsp_try_later = kh_pki_ocsp_try_later(api->pki);
		g->ocsp_known = true;
		static const enum kh_pkey_type fams[] = {KH_PKEY_SM2, KH_PKEY_EC_P256,
		                                         KH_PKEY_RSA_2048};
		g->kmc_known = true;
		for (size_t i = 0; i < 3 && g->kmc_known; i++)
			g->kmc_known =
			    kh_pki_kmc_depth(api->pki, fams[i], &g->kmc_depth[i]) == KH_OK;
		g->kmc_pool_size = kh_pki_kmc_pool_size(api->pki);
		g->kmc_misses = kh_pki_kmc_pool_misses(api->pki);
	}
	kh_rc keys = count_keys(api, g->keys);
	g->keys_known = keys == KH_OK;
	g->key_cache_entries = kh_keys_cache_size(api->keys);
	kh_store_stats_get(api->store, &g->store);
	g->store_known = true;
	kh_rc pending = kh_audit_outbox_pending(api->audit, &g->notifications_pending);
	g->notifications_known = pending == KH_OK;
	if (rc != KH_OK || keys != KH_OK || pending != KH_OK)
		KH_LOG_WARN("metrics: some values could not be read", KH_LF_RC(rc),
		            KH_LF_STR("keys", kh_rc_name(keys)),
		            KH_LF_STR("notifications", kh_rc_name(pending)));
}

static kh_rc metrics_get(struct kh_api_call *c)
{
	struct kh_metrics_gauges g = {0};
	gather(c->api, &g);
	c->resp->content_type = CONTENT_TYPE;
	return kh_metrics_write(c->api->metrics, &g, &c->resp->body);
}

const struct kh_api_route kh_api_metrics_routes[] = {
    {KH_HTTP_GET, "/metrics", metrics_get, KH_API_PUBLIC | KH_API_RAW | KH_API_UNLIMITED, NULL},
    {0, NULL, NULL, 0, NULL},
};
