// SPDX-License-Identifier: Apache-2.0
/*
 * The caches of the XKS proxy's path (kh_keys_xks_int.h): store information by prefix, and the
 * unwrapped secrets of credentials in secure memory, so that authenticating a request costs no
 * transaction. Small arrays searched in order: a server has a handful of stores and credentials,
 * and KH_XKS_CACHE_MAX bounds them (when full, the oldest entry goes).
 */
#include <string.h>

#include "base/kh_mem.h"
#include "keys/kh_keys_xks_int.h"

struct prefix_entry {
	struct kh_xks_store_info info;
	int64_t at;
};

struct secret_entry {
	int64_t store_id;
	char access_key_id[KH_XKS_ACCESS_KEY_MAX + 1];
	uint8_t *secret; /* secure memory */
	size_t secret_len;
	int64_t at;
};

struct kh_keys_xks {
	pthread_mutex_t mu;
	uint64_t gen;
	struct prefix_entry prefixes[KH_XKS_CACHE_MAX];
	size_t prefix_count;
	struct secret_entry secrets[KH_XKS_CACHE_MAX];
	size_t secret_count;
};

kh_rc kh_keys_xks_init(struct kh_keys *k)
{
	k->xks = kh_calloc(1, sizeof(*k->xks));
	KH_ENSURE(k->xks != NULL, KH_ERR_NOMEM);
	if (pthread_mutex_init(&k->xks->mu, NULL) != 0) {
		kh_free(&k->xks);
		return KH_ERR_NOMEM;
	}
	return KH_OK;
}

static void secret_drop(struct secret_entry *e)
{
	kh_secure_free(&e->secret);
	memset(e, 0, sizeof(*e));
}

/* Caller holds mu. */
static void clear_locked(struct kh_keys_xks *x)
{
	x->gen++;
	x->prefix_count = 0;
	for (size_t i = 0; i < x->secret_count; i++)
		secret_drop(&x->secrets[i]);
	x->secret_count = 0;
}

void kh_keys_xks_fini(struct kh_keys *k)
{
	if (k->xks == NULL)
		return;
	clear_locked(k->xks);
	pthread_mutex_destroy(&k->xks->mu);
	kh_free(&k->xks);
}

void kh_keys_xks_invalidate(struct kh_keys *k)
{
	if (k->xks == NULL)
		return;
	pthread_mutex_lock(&k->xks->mu);
	clear_locked(k->xks);
	pthread_mutex_unlock(&k->xks->mu);
}

uint64_t kh_xks_cache_gen(struct kh_keys *k)
{
	pthread_mutex_lock(&k->xks->mu);
	uint64_t gen = k->xks->gen;
	pthread_mutex_unlock(&k->xks->mu);
	return gen;
}

static bool fresh(const struct kh_keys *k, int64_t at)
{
	int64_t now = kh_clock_now(k->clock);
	return now >= at && now - at < KH_XKS_CACHE_TTL_NS;
}

bool kh_xks_cache_prefix_get(struct kh_keys *k, const char *prefix, struct kh_xks_store_info *out)
{
	struct kh_keys_xks *x = k->xks;
	bool hit = false;
	pthread_mutex_lock(&x->mu);
	for (size_t i = 0; i < x->prefix_count; i++) {
		struct prefix_entry *e = &x->prefixes[i];
		if (strcmp(e->info.prefix, prefix) != 0)
			continue;
		if (fresh(k, e->at)) {
			*out = e->info;
			hit = true;
		} else {
			*e = x->prefixes[--x->prefix_count];
		}
		break;
	}
	pthread_mutex_unlock(&x->mu);
	return hit;
}

/* The slot for a new entry: a free one, else the oldest. */
static size_t oldest_prefix(const struct kh_keys_xks *x)
{
	size_t o = 0;
	for (size_t i = 1; i < x->prefix_count; i++) {
		if (x->prefixes[i].at < x->prefixes[o].at)
			o = i;
	}
	return o;
}

void kh_xks_cache_prefix_put(struct kh_keys *k, uint64_t gen, const struct kh_xks_store_info *s)
{
	struct kh_keys_xks *x = k->xks;
	pthread_mutex_lock(&x->mu);
	if (gen == x->gen) {
		size_t i = 0;
		while (i < x->prefix_count && strcmp(x->prefixes[i].info.prefix, s->prefix) != 0)
			i++;
		if (i == KH_XKS_CACHE_MAX)
			i = oldest_prefix(x);
		else if (i == x->prefix_count)
			x->prefix_count++;
		x->prefixes[i] = (struct prefix_entry){*s, kh_clock_now(k->clock)};
	}
	pthread_mutex_unlock(&x->mu);
}

static bool secret_is(const struct secret_entry *e, int64_t store_id, struct kh_slice ak)
{
	return e->store_id == store_id && strlen(e->access_key_id) == ak.len &&
	       memcmp(e->access_key_id, ak.ptr, ak.len) == 0;
}

kh_rc kh_xks_cache_secret_get(struct kh_keys *k, int64_t store_id, struct kh_slice access_key_id,
                              struct kh_buf *out)
{
	struct kh_keys_xks *x = k->xks;
	kh_rc rc = KH_ERR_NOT_FOUND;
	pthread_mutex_lock(&x->mu);
	for (size_t i = 0; i < x->secret_count; i++) {
		struct secret_entry *e = &x->secrets[i];
		if (!secret_is(e, store_id, access_key_id))
			continue;
		if (fresh(k, e->at)) {
			rc = kh_buf_append(out, KH_SLICE(e->secret, e->secret_len));
		} else {
			secret_drop(e);
			*e = x->secrets[--x->secret_count];
			memset(&x->secrets[x->secret_count], 0, sizeof(*e));
		}
		break;
	}
	pthread_mutex_unlock(&x->mu);
	return rc;
}

void kh_xks_cache_secret_put(struct kh_keys *k, uint64_t gen, int64_t store_id,
                             struct kh_slice access_key_id, struct kh_slice secret)
{
	struct kh_keys_xks *x = k->xks;
	if (access_key_id.len > KH_XKS_ACCESS_KEY_MAX || secret.len == 0)
		return;
	uint8_t *copy = kh_secure_alloc(secret.len);
	if (copy == NULL)
		return; /* a cache: the next request reads the barrier again */
	memcpy(copy, secret.ptr, secret.len);
	pthread_mutex_lock(&x->mu);
	if (gen == x->gen) {
		size_t i = 0;
		while (i < x->secret_count && !secret_is(&x->secrets[i], store_id, access_key_id))
			i++;
		if (i == KH_XKS_CACHE_MAX) {
			for (size_t j = i = 0; j < x->secret_count; j++) {
				if (x->secrets[j].at < x->secrets[i].at)
					i = j;
			}
		} else if (i == x->secret_count) {
			x->secret_count++;
		}
		struct secret_entry *e = &x->secrets[i];
		secret_drop(e);
		e->store_id = store_id;
		memcpy(e->access_key_id, access_key_id.ptr, access_key_id.len);
		e->access_key_id[access_key_id.len] = '\0';
		e->secret = copy;
		e->secret_len = secret.len;
		e->at = kh_clock_now(k->clock);
		copy = NULL;
	}
	pthread_mutex_unlock(&x->mu);
	kh_secure_free(&copy);
}
