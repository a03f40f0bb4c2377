/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The XKS proxy (XKS.md): the kh_http_handler AWS KMS calls. Four POST routes under
 * /<prefix>/kms/xks/v1 for every XKS key store's prefix:
 *
 *   /keys/{externalKeyId}/metadata   /keys/{externalKeyId}/encrypt
 *   /keys/{externalKeyId}/decrypt    /health
 *
 * Order of checks (XKS.md "Routing"): the route (404 InvalidUriPathException, before any
 * authentication; a prefix no store has is a bad route too) → the method (405) → SigV4 against
 * the store's live credentials (401 AuthenticationFailedException) → the store's quota (429
 * ThrottlingException) → the JSON body (400 ValidationException) → the operation in keys/
 * (kh_keys_xks.h: unknown key 404, secondary authorization 403, size 501, state and usage 400,
 * crypto). While the barrier is sealed every call but a failed route is 503
 * DependencyTimeoutException: no secret is in memory to verify a signature with.
 *
 * Answers are compact single-line JSON; errors {"errorName","errorMessage"}. Each request is
 * logged (request id, kmsRequestId, operation, store, key, principal, result, latency; never a
 * plaintext), and the key operations are audited by keys/, their records committed before the
 * answer leaves (deferred, without holding the worker, when the server allows it).
 *
 * Health: a deep check (kh_keys_xks_selftest) whose result is cached for health_cache_ns, the
 * fleet from the live nodes (kh_keys_nodes_live), and ekmFleetDetails with one entry per live
 * node (at most 10): ACTIVE when its deep check passed, UNAVAILABLE when it failed or the node is
 * sealed.
 */
#ifndef KH_XKS_PROXY_H
#define KH_XKS_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "barrier/kh_barrier.h"
#include "base/kh_clock.h"
#include "http/kh_http.h"
#include "keys/kh_keys_xks.h"

#define KH_XKS_HEALTH_CACHE_DEFAULT_NS (INT64_C(30) * KH_NS_PER_SEC)
#define KH_XKS_HEALTH_CACHE_MAX_NS (INT64_C(60) * KH_NS_PER_SEC)
#define KH_XKS_NODE_WINDOW_DEFAULT_NS (INT64_C(30) * KH_NS_PER_SEC)

struct kh_xks_proxy;

struct kh_xks_proxy_options {
	struct kh_keys *keys;
	struct kh_barrier *barrier;
	const struct kh_clock *clock; /* wall clock: SigV4 times, expiry, node beats */
	const char *node_id;          /* this node; NULL: "node-1" */
	int64_t health_cache_ns;      /* 0: default; at most KH_XKS_HEALTH_CACHE_MAX_NS */
	int64_t node_window_ns;       /* a node is live when it beat this recently; 0: default */
	int64_t max_skew_ns;          /* SigV4 clock skew allowed; 0: 5 minutes */
	/* The clock of the quota buckets and the health cache (tests); NULL: the monotonic
	 * clock. */
	const struct kh_clock *mono_clock;
};
KH_MUST_CHECK kh_rc kh_xks_proxy_new(const struct kh_xks_proxy_options *opts,
                                     struct kh_xks_proxy **out);
void kh_xks_proxy_free(struct kh_xks_proxy **x);

/* The kh_http_handler; ctx is the struct kh_xks_proxy. */
void kh_xks_proxy_handle(void *ctx, const struct kh_http_request *req,
                         struct kh_http_response *resp);

/* Whether a listener shared with the native API should give this request to the proxy: its
 * path has the segments "kms/xks/v1" (no native API path has them). */
bool kh_xks_proxy_owns(const struct kh_http_request *req);

/* Runs the deep check now if the cached one is older than the cache time, and records this
 * node's beat (the server calls it every few seconds). */
KH_MUST_CHECK kh_rc kh_xks_proxy_beat(struct kh_xks_proxy *x);

/* Counters for /metrics and tests. */
struct kh_xks_proxy_stats {
	uint64_t requests;  /* answered */
	uint64_t ok;        /* 200 */
	uint64_t throttled; /* 429 */
	uint64_t unauthenticated;
	uint64_t health_checks; /* deep checks run (not cached answers) */
};
void kh_xks_proxy_stats(struct kh_xks_proxy *x, struct kh_xks_proxy_stats *out);

#endif
