/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The native REST API, version 1 (API.md): one handler per operation, each decoding its request
 * into a validated struct, asking authz/ who is calling, calling one function of keys/ (or the
 * barrier), and encoding the answer. Handlers never touch SQL, OpenSSL or libmicrohttpd.
 *
 * kh_api_handle is the kh_http_handler the server installs; it routes by method and path,
 * authenticates (Authorization: Bearer), parses JSON bodies strictly, and maps every kh_rc to
 * the status and error code of API.md in one place (kh_api_error_of).
 */
#ifndef KH_API_H
#define KH_API_H

#include <stdio.h>

#include "authz/kh_authz.h"
#include "http/kh_http.h"
#include "keys/kh_keys.h"

struct kh_api;
struct kh_pki;

/* The HTTP servers' own counters (requests refused before the API saw them), for /metrics. The
 * program that runs the listeners provides it, so api/ never needs to know them. */
typedef void (*kh_api_http_stats_fn)(void *arg, struct kh_http_stats *out);

/* The XKS proxy's counters for /metrics (the proxy is beside the API, so the program that runs
 * both provides them). */
struct kh_api_xks_counts {
	uint64_t requests;        /* answered */
	uint64_t ok;              /* 200 */
	uint64_t throttled;       /* 429 */
	uint64_t unauthenticated; /* 401 */
	uint64_t health_checks;   /* deep checks run */
};
typedef void (*kh_api_xks_stats_fn)(void *arg, struct kh_api_xks_counts *out);

struct kh_api_options {
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	struct kh_keys *keys;
	struct kh_authz *authz;
	/* Optional: the PKI (pki/kh_pki.h) behind /v1/pki and /pki; NULL: those paths are 404. */
	struct kh_pki *pki;
	/* Optional: the EST label served without a label, under /.well-known/est/<operation>
	 * (RFC 7030 3.2.2); NULL or "": none (404). At most KH_PKI_EST_LABEL_MAX characters. */
	const char *est_default_label;
	const struct kh_clock *clock;
	const char *node_id; /* for health; NULL: "node-1" */
	/* Optional: sums of the listeners' kh_http_stats; NULL: /metrics reports none. */
	kh_api_http_stats_fn http_stats;
	void *http_stats_arg;
	/* Optional: the XKS proxy's counters; NULL: /metrics reports none. */
	kh_api_xks_stats_fn xks_stats;
	void *xks_stats_arg;
	/* Token bucket per principal (the operator, each account; requests without a valid token
	 * per source address): requests per second, and the burst allowed on top. rate 0: no
	 * limit; burst 0: the rate. Over it: 429 TooManyRequests with Retry-After. */
	unsigned rate_limit_rps;
	unsigned rate_limit_burst;
	/* The rate limiter's clock (tests); NULL: the monotonic clock. */
	const struct kh_clock *rate_limit_clock;
	/* Optional: the data directory; POST /v1/sys/backup writes to its backups/ (mode 0700)
	 * and snapshots the store into it first. NULL: the backup routes answer 404. */
	const char *data_dir;
};
KH_MUST_CHECK kh_rc kh_api_new(const struct kh_api_options *opts, struct kh_api **out);
void kh_api_free(struct kh_api **api);

/* The HTTP handler; ctx is the struct kh_api. */
void kh_api_handle(void *ctx, const struct kh_http_request *req, struct kh_http_response *resp);

/* Prints the route table, one "METHOD /pattern" line per route ({} for a path parameter). */
void kh_api_routes_print(FILE *out);

/* API.md's error model: the HTTP status and code for a result. */
struct kh_api_error {
	unsigned status;
	const char *code; /* "KeyDisabled", "NotFound", ... */
};
struct kh_api_error kh_api_error_of(kh_rc rc);

#endif
