/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside xks/: the proxy's state, its per-store quota (quota.c) and its health answer
 * (health.c).
 */
#ifndef KH_XKS_PROXY_INT_H
#define KH_XKS_PROXY_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "xks/kh_xks_body.h"
#include "xks/kh_xks_proxy.h"
#include "xks/kh_xks_route.h"

/*
 * Quota: one bucket per store (GCRA: a theoretical arrival time per store, a request costs
 * 1/quota_rps seconds, and up to a second's worth may come at once), in a direct-mapped table
 * by store id. Two stores sharing a slot take it over from each other, which only resets the
 * bucket: a store never borrows another's allowance.
 */
#define KH_XKS_QUOTA_SLOTS 1024u
struct kh_xks_bucket {
	int64_t store_id;
	int64_t tat; /* theoretical arrival time, monotonic ns */
};

struct kh_xks_proxy {
	struct kh_keys *keys;
	struct kh_barrier *barrier;
	const struct kh_clock *clock;
	const struct kh_clock *mono_clock; /* NULL: monotonic */
	char node_id[KH_XKS_NODE_ID_MAX + 1];
	int64_t health_cache_ns;
	int64_t node_window_ns;
	int64_t max_skew_ns;

	pthread_mutex_t quota_mu;
	struct kh_xks_bucket buckets[KH_XKS_QUOTA_SLOTS];

	/* the deep check's last result, taken under health_mu */
	pthread_mutex_t health_mu;
	bool checked;
	int64_t checked_at; /* monotonic */
	kh_rc check_rc;

	_Atomic uint64_t requests;
	_Atomic uint64_t ok;
	_Atomic uint64_t throttled;
	_Atomic uint64_t unauthenticated;
	_Atomic uint64_t health_checks;
};

/* Takes one request from the store's quota; false when it is spent (or quota_rps is 0: true). */
bool kh_xks_quota_take(struct kh_xks_proxy *x, const struct kh_xks_store_info *store);

/* The health answer (compact JSON) appended to out. */
KH_MUST_CHECK kh_rc kh_xks_proxy_health(struct kh_xks_proxy *x, struct kh_buf *out);

#endif
