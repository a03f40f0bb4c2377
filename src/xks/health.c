// SPDX-License-Identifier: Apache-2.0
/*
 * The proxy's state, quota and health (kh_xks_proxy.h). The deep check runs at most once per
 * cache period, under a lock, so a burst of health calls costs one check; the fleet is read
 * from the nodes table each time (one small read).
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "kh_version.h"
#include "xks/kh_xks_proxy_int.h"

#define VENDOR "keyhold"

/* ---- quota ---- */

static int64_t mono_now(const struct kh_xks_proxy *x)
{
	return x->mono_clock != NULL ? kh_clock_now(x->mono_clock) : kh_clock_mono_ns();
}

bool kh_xks_quota_take(struct kh_xks_proxy *x, const struct kh_xks_store_info *store)
{
	if (store->quota_rps == 0)
		return true;
	int64_t now = mono_now(x);
	int64_t step = KH_NS_PER_SEC / (int64_t)store->quota_rps;
	if (step == 0)
		step = 1;
	int64_t allowance = KH_NS_PER_SEC - step; /* a second's worth at once */
	struct kh_xks_bucket *b = &x->buckets[(uint64_t)store->id % KH_XKS_QUOTA_SLOTS];
	bool ok;
	pthread_mutex_lock(&x->quota_mu);
	if (b->store_id != store->id) {
		b->store_id = store->id;
		b->tat = now;
	}
	int64_t tat = b->tat > now ? b->tat : now;
	ok = tat - now <= allowance;
	if (ok)
		b->tat = tat + step;
	pthread_mutex_unlock(&x->quota_mu);
	return ok;
}

/* ---- health ---- */

/* The deep check's result, run again when the cached one is too old. */
static kh_rc deep_check(struct kh_xks_proxy *x)
{
	kh_rc rc;
	int64_t now = mono_now(x);
	pthread_mutex_lock(&x->health_mu);
	if (!x->checked || now - x->checked_at >= x->health_cache_ns) {
		x->check_rc = kh_keys_xks_selftest(x->keys);
		x->checked = true;
		x->checked_at = mono_now(x);
		atomic_fetch_add_explicit(&x->health_checks, 1, memory_order_relaxed);
		if (x->check_rc != KH_OK && x->check_rc != KH_ERR_SEALED)
			KH_LOG_ERROR("xks deep health check failed", KH_LF_RC(x->check_rc));
	}
	rc = x->check_rc;
	pthread_mutex_unlock(&x->health_mu);
	return rc;
}

struct fleet {
	struct kh_xks_proxy *x;
	struct kh_xks_ekm_node nodes[KH_XKS_EKM_NODES_MAX];
	char ids[KH_XKS_EKM_NODES_MAX][KH_XKS_NODE_ID_MAX + 1];
	size_t count;
	uint64_t live;
	bool self_seen;
};

static enum kh_xks_health_status status_of(bool sealed, bool healthy)
{
	return sealed || !healthy ? KH_XKS_HEALTH_UNAVAILABLE : KH_XKS_HEALTH_ACTIVE;
}

static kh_rc add_node(const struct kh_xks_node *n, void *arg)
{
	struct fleet *f = arg;
	f->live++;
	/* This node's own entry is written from its fresh state, below. */
	if (strcmp(n->id, f->x->node_id) == 0) {
		f->self_seen = true;
		return KH_OK;
	}
	/* Ten entries at most (XKS.md), this node's kept free. */
	if (f->count >= KH_XKS_EKM_NODES_MAX - 1)
		return KH_OK;
	snprintf(f->ids[f->count], sizeof(f->ids[f->count]), "%s", n->id);
	f->nodes[f->count].id = f->ids[f->count];
	f->nodes[f->count].status = status_of(n->sealed, n->healthy);
	f->count++;
	return KH_OK;
}

kh_rc kh_xks_proxy_health(struct kh_xks_proxy *x, struct kh_buf *out)
{
	struct kh_barrier_status bs;
	struct fleet f = {.x = x};
	char proxy_model[64];
	KH_GUARD(kh_barrier_status(x->barrier, &bs));
	kh_rc check = deep_check(x);
	/* Sealed: no secret to verify the caller with, so the request never gets here; the state
	 * is still reported for other nodes through the nodes table. */
	KH_GUARD(kh_keys_nodes_live(x->keys, x->node_window_ns, add_node, &f));
	const char *model =
	    bs.hsm ? "keyhold barrier, PKCS#11 seal" : "keyhold barrier, Shamir seal";
	for (size_t i = 0; i < f.count; i++)
		f.nodes[i].model = model;
	f.nodes[f.count] = (struct kh_xks_ekm_node){
	    .id = x->node_id, .model = model, .status = status_of(bs.sealed, check == KH_OK)};
	f.count++;
	if (!f.self_seen)
		f.live++;
	snprintf(proxy_model, sizeof(proxy_model), "keyhold %s", KH_VERSION_STRING);
	struct kh_xks_health h = {
	    .fleet_size = f.live,
	    .proxy_model = proxy_model,
	    .ekm_vendor = VENDOR,
	    .nodes = f.nodes,
	    .node_count = f.count,
	};
	return kh_xks_health_encode(&h, out);
}

kh_rc kh_xks_proxy_beat(struct kh_xks_proxy *x)
{
	struct kh_barrier_status bs;
	KH_GUARD(kh_barrier_status(x->barrier, &bs));
	kh_rc check = bs.sealed ? KH_ERR_SEALED : deep_check(x);
	struct kh_xks_node self = {
	    .sealed = bs.sealed, .healthy = check == KH_OK, .seen_at = kh_clock_now(x->clock)};
	snprintf(self.id, sizeof(self.id), "%s", x->node_id);
	return kh_keys_node_beat(x->keys, &self);
}

/* ---- life ---- */

kh_rc kh_xks_proxy_new(const struct kh_xks_proxy_options *opts, struct kh_xks_proxy **out)
{
	KH_ENSURE(opts != NULL && opts->keys != NULL && opts->barrier != NULL &&
	              opts->clock != NULL && opts->health_cache_ns >= 0 &&
	              opts->health_cache_ns <= KH_XKS_HEALTH_CACHE_MAX_NS &&
	              opts->node_window_ns >= 0 && opts->max_skew_ns >= 0,
	          KH_ERR_BAD_INPUT);
	struct kh_xks_proxy *x = kh_calloc(1, sizeof(*x));
	KH_ENSURE(x != NULL, KH_ERR_NOMEM);
	x->keys = opts->keys;
	x->barrier = opts->barrier;
	x->clock = opts->clock;
	x->mono_clock = opts->mono_clock;
	snprintf(x->node_id, sizeof(x->node_id), "%s",
	         opts->node_id != NULL ? opts->node_id : "node-1");
	x->health_cache_ns =
	    opts->health_cache_ns != 0 ? opts->health_cache_ns : KH_XKS_HEALTH_CACHE_DEFAULT_NS;
	x->node_window_ns =
	    opts->node_window_ns != 0 ? opts->node_window_ns : KH_XKS_NODE_WINDOW_DEFAULT_NS;
	x->max_skew_ns = opts->max_skew_ns;
	pthread_mutex_init(&x->quota_mu, NULL);
	pthread_mutex_init(&x->health_mu, NULL);
	*out = x;
	return KH_OK;
}

void kh_xks_proxy_free(struct kh_xks_proxy **x)
{
	if (*x == NULL)
		return;
	pthread_mutex_destroy(&(*x)->quota_mu);
	pthread_mutex_destroy(&(*x)->health_mu);
	kh_free(x);
}

void kh_xks_proxy_stats(struct kh_xks_proxy *x, struct kh_xks_proxy_stats *out)
{
	out->requests = atomic_load_explicit(&x->requests, memory_order_relaxed);
	out->ok = atomic_load_explicit(&x->ok, memory_order_relaxed);
	out->throttled = atomic_load_explicit(&x->throttled, memory_order_relaxed);
	out->unauthenticated = atomic_load_explicit(&x->unauthenticated, memory_order_relaxed);
	out->health_checks = atomic_load_explicit(&x->health_checks, memory_order_relaxed);
}
