// SPDX-License-Identifier: Apache-2.0
/*
 * The background scheduler: one thread that, while the barrier is unsealed, rotates keys that
 * are due, destroys keys whose deletion wait is over, purges deleted keys after 365 days,
 * rewraps secrets after a root key rotation, and regenerates (as the service) each CA's full
 * CRL once it is older than half its validity and renews delegated OCSP responder certificates
 * past two thirds of their life (both checked every CRL_EVERY_NS), and keeps the key
 * management centre's pools full (at most kmc_pool_refill pairs a second, passes at least a
 * second apart while they fill). Each item is its own
 * short transaction, so requests are never held up behind a long batch; the thread sleeps until the
 * next due time (at most BEAT_NS, since keys change and the node beats for the XKS health's fleet)
 * or until it is told to stop.
 */
#include <time.h>

#include "base/kh_log.h"
#include "server/kh_server_int.h"

#define BATCH 100u
#define BEAT_NS (10 * KH_NS_PER_SEC)
#define MAX_SLEEP_NS BEAT_NS
#define MIN_SLEEP_NS (KH_NS_PER_SEC / 10)
#define CRL_EVERY_NS (60 * KH_NS_PER_SEC)

/* CRLs older than half their validity and responders near their end, at most one pass a
 * minute (reading every CA's newest CRL is not free, and a CRL lives a day). */
static size_t refresh_crls(struct kh_node *n)
{
	size_t done = 0;
	int64_t now = kh_clock_mono_ns();
	if (n->pki == NULL || (n->crl_at != 0 && now - n->crl_at < CRL_EVERY_NS))
		return 0;
	n->crl_at = now;
	kh_rc rc = kh_pki_crl_refresh_due(n->pki, BATCH, &done);
	if (rc != KH_OK && rc != KH_ERR_SEALED)
		KH_LOG_WARN("CRL refresh failed", KH_LF_RC(rc));
	size_t renewed = 0;
	rc = kh_pki_responder_renew_due(n->pki, BATCH, &renewed);
	if (rc != KH_OK && rc != KH_ERR_SEALED)
		KH_LOG_WARN("OCSP responder renewal failed", KH_LF_RC(rc));
	if (renewed > 0)
		KH_LOG_INFO("scheduler", KH_LF_UINT("ocsp_responders", renewed));
	return done;
}

/* The key management centre: the spare pools topped up at kmc_pool_refill pairs a second
 * at most, in passes a second apart that each stop after a quarter of a second (so the
 * background generation never takes more than a quarter of one core from requests; a pool
 * emptied faster is met by generation on demand); pairs of expired certificates moved to
 * history; recoveries left undecided expired. Returns whether the pools still want more (the
 * next pass then comes within a second). */
static bool kmc(struct kh_node *n)
{
	size_t made = 0, expired = 0, lapsed = 0;
	int64_t now = kh_clock_mono_ns();
	int64_t since = n->kmc_at == 0 ? KH_NS_PER_SEC : now - n->kmc_at;
	if (since < KH_NS_PER_SEC)
		return true;
	n->kmc_at = now;
	if (since > KH_NS_PER_SEC)
		since = KH_NS_PER_SEC;
	size_t budget = (size_t)((int64_t)n->cfg->kmc_pool_refill * since / KH_NS_PER_SEC);
	kh_rc rc = kh_pki_kmc_refill(n->pki, budget > 0 ? budget : 1, &made);
	if (rc == KH_OK)
		rc = kh_pki_kmc_expire_due(n->pki, BATCH, &expired);
	if (rc == KH_OK)
		rc = kh_pki_kmc_recovery_expire_due(n->pki, BATCH, &lapsed);
	if (rc != KH_OK && rc != KH_ERR_SEALED)
		KH_LOG_WARN("key management centre pass failed", KH_LF_RC(rc));
	if (expired + lapsed > 0)
		KH_LOG_INFO("scheduler", KH_LF_UINT("kmc_pairs_to_history", expired),
		            KH_LF_UINT("kmc_recoveries_expired", lapsed));
	return rc == KH_OK && made > 0;
}

/* The XKS node beat (health's fleet), every BEAT_NS, sealed or not. */
static void beat(struct kh_node *n)
{
	int64_t now = kh_clock_mono_ns();
	if (n->beat_at != 0 && now - n->beat_at < BEAT_NS)
		return;
	n->beat_at = now;
	kh_rc rc = kh_xks_proxy_beat(n->xks);
	if (rc != KH_OK)
		KH_LOG_WARN("node beat failed", KH_LF_RC(rc));
}

/* One pass; returns whether anything was done (then the next pass comes at once). */
static bool pass(struct kh_node *n)
{
	struct kh_barrier_status st;
	size_t rotated = 0, deleted = 0, purged = 0, rewrapped = 0, left = 0;
	beat(n);
	if (kh_barrier_status(n->barrier, &st) != KH_OK || st.sealed)
		return false;
	kh_rc rc = kh_keys_rotate_due(n->keys, BATCH, &rotated);
	if (rc == KH_OK)
		rc = kh_keys_delete_due(n->keys, BATCH, &deleted);
	if (rc == KH_OK)
		rc = kh_keys_purge_due(n->keys, BATCH, &purged);
	if (rc == KH_OK && st.oldest_term < st.term)
		rc = kh_barrier_rewrap(n->barrier, BATCH, &rewrapped, &left);
	if (rc != KH_OK && rc != KH_ERR_SEALED)
		KH_LOG_WARN("scheduler pass failed", KH_LF_RC(rc));
	bool pools = n->pki != NULL && kmc(n);
	size_t crls = refresh_crls(n);
	if (crls > 0)
		KH_LOG_INFO("scheduler", KH_LF_UINT("crls", crls));
	if (rotated + deleted + purged + rewrapped > 0)
		KH_LOG_INFO("scheduler", KH_LF_UINT("rotated", rotated),
		            KH_LF_UINT("deleted", deleted), KH_LF_UINT("purged", purged),
		            KH_LF_UINT("rewrapped", rewrapped));
	if (pools)
		n->kmc_busy = true;
	return rotated == BATCH || deleted == BATCH || purged == BATCH || rewrapped == BATCH;
}

static int64_t sleep_for(struct kh_node *n)
{
	int64_t next = INT64_MAX;
	if (kh_keys_next_due(n->keys, &next) != KH_OK)
		return MAX_SLEEP_NS;
	int64_t d = next - kh_clock_now(kh_clock_real());
	/* Pools still filling: come back within a second. */
	if (n->kmc_busy && d > KH_NS_PER_SEC)
		d = KH_NS_PER_SEC;
	n->kmc_busy = false;
	return d < MIN_SLEEP_NS ? MIN_SLEEP_NS : d > MAX_SLEEP_NS ? MAX_SLEEP_NS : d;
}

static void *run(void *arg)
{
	struct kh_node *n = arg;
	pthread_mutex_lock(&n->sched_mu);
	while (!n->stopping) {
		pthread_mutex_unlock(&n->sched_mu);
		bool more = pass(n);
		int64_t d = more ? 0 : sleep_for(n);
		pthread_mutex_lock(&n->sched_mu);
		if (n->stopping || d == 0)
			continue;
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		int64_t ns = (int64_t)until.tv_nsec + d % KH_NS_PER_SEC;
		until.tv_sec += (time_t)(d / KH_NS_PER_SEC + ns / KH_NS_PER_SEC);
		until.tv_nsec = (long)(ns % KH_NS_PER_SEC);
		pthread_cond_timedwait(&n->sched_cv, &n->sched_mu, &until);
	}
	pthread_mutex_unlock(&n->sched_mu);
	return NULL;
}

kh_rc kh_sched_start(struct kh_node *n)
{
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_destroy(&n->sched_cv);
	pthread_cond_init(&n->sched_cv, &attr);
	pthread_condattr_destroy(&attr);
	KH_ENSURE(pthread_create(&n->sched, NULL, run, n) == 0, KH_ERR_INTERNAL);
	n->sched_started = true;
	return KH_OK;
}

void kh_sched_stop(struct kh_node *n)
{
	if (!n->sched_started)
		return;
	pthread_mutex_lock(&n->sched_mu);
	n->stopping = true;
	pthread_cond_signal(&n->sched_cv);
	pthread_mutex_unlock(&n->sched_mu);
	pthread_join(n->sched, NULL);
	n->sched_started = false;
}
