// SPDX-License-Identifier: Apache-2.0
/*
 * The keys context and its cache of unwrapped key versions: a bounded set of ready
 * struct kh_keymat (secure memory), least recently used out first, emptied at every seal and
 * purged of a key's versions when the key is destroyed. Entries are reference counted so one
 * can be evicted while an operation still uses it.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_mem.h"
#include "keys/kh_keys_int.h"
#include "store/kh_store_keys.h"

void kh_keys_scope(const struct kh_key_info *key, uint32_t version, char *out, size_t out_len)
{
	snprintf(out, out_len, "key/%lld/%lld/%u", (long long)key->keystore_id, (long long)key->id,
	         version);
}

void kh_keys_scope_prefix(const struct kh_key_info *key, char *out, size_t out_len)
{
	snprintf(out, out_len, "key/%lld/%lld/", (long long)key->keystore_id, (long long)key->id);
}

/* ---- cache ---- */

static void entry_free(struct kh_keys_cached **e)
{
	if (*e == NULL)
		return;
	kh_keymat_free(&(*e)->m);
	kh_free(e);
}

/* Removes entry i from the table (caller holds cache_mu); frees it unless in use. */
static void cache_remove(struct kh_keys *k, size_t i)
{
	struct kh_keys_cached *e = k->cache[i];
	k->cache[i] = k->cache[--k->cache_count];
	k->cache[k->cache_count] = NULL;
	if (e->refs == 0)
		entry_free(&e);
	else
		e->dropped = true;
}

static void cache_drop_all(struct kh_keys *k)
{
	pthread_mutex_lock(&k->cache_mu);
	k->epoch++;
	while (k->cache_count > 0)
		cache_remove(k, k->cache_count - 1);
	pthread_mutex_unlock(&k->cache_mu);
}

static void on_seal(void *arg)
{
	cache_drop_all(arg);
	/* Credential secrets are unwrapped material too. */
	kh_keys_xks_invalidate(arg);
}

void kh_keys_cache_drop_key(struct kh_keys *k, int64_t key_id)
{
	pthread_mutex_lock(&k->cache_mu);
	k->epoch++;
	for (size_t i = k->cache_count; i > 0; i--) {
		if (k->cache[i - 1]->key_id == key_id)
			cache_remove(k, i - 1);
	}
	pthread_mutex_unlock(&k->cache_mu);
}

size_t kh_keys_cache_size(struct kh_keys *k)
{
	pthread_mutex_lock(&k->cache_mu);
	size_t n = k->cache_count;
	pthread_mutex_unlock(&k->cache_mu);
	return n;
}

static struct kh_keys_cached *cache_find(struct kh_keys *k, int64_t key_id, uint32_t version)
{
	for (size_t i = 0; i < k->cache_count; i++) {
		struct kh_keys_cached *e = k->cache[i];
		if (e->key_id == key_id && e->version == version) {
			e->refs++;
			e->used = ++k->tick;
			return e;
		}
	}
	return NULL;
}

/* Adds e (with one reference for the caller) unless a seal happened since epoch. */
static void cache_insert(struct kh_keys *k, struct kh_keys_cached *e, uint64_t epoch)
{
	if (epoch != k->epoch) {
		e->dropped = true;
		return;
	}
	if (k->cache_count == k->cache_max) {
		size_t oldest = 0;
		for (size_t i = 1; i < k->cache_count; i++) {
			if (k->cache[i]->used < k->cache[oldest]->used)
				oldest = i;
		}
		cache_remove(k, oldest);
	}
	e->used = ++k->tick;
	k->cache[k->cache_count++] = e;
}

static kh_rc unwrap(struct kh_keys *k, struct kh_store_tx *tx, const struct kh_key_info *key,
                    uint32_t version, struct kh_keymat **out)
{
	char scope[KH_BARRIER_SCOPE_MAX];
	struct kh_buf secret;
	kh_buf_init(&secret, KH_BARRIER_SECRET_MAX, KH_BUF_SECURE);
	kh_keys_scope(key, version, scope, sizeof(scope));
	kh_rc rc = kh_barrier_get(k->barrier, tx, scope, &secret);
	if (rc == KH_OK)
		rc = kh_keymat_load(key->type, kh_buf_slice(&secret), out);
	kh_buf_cleanup(&secret);
	/* Material that does not load under its own type was not written by us. */
	return rc == KH_ERR_BAD_KEY ? KH_ERR_STORAGE : rc;
}

kh_rc kh_keys_material(struct kh_keys *k, struct kh_store_tx *tx, const struct kh_key_info *key,
                       uint32_t version, struct kh_keys_cached **out)
{
	pthread_mutex_lock(&k->cache_mu);
	struct kh_keys_cached *e = cache_find(k, key->id, version);
	uint64_t epoch = k->epoch;
	pthread_mutex_unlock(&k->cache_mu);
	if (e != NULL) {
		*out = e;
		return KH_OK;
	}
	e = kh_calloc(1, sizeof(*e));
	KH_ENSURE(e != NULL, KH_ERR_NOMEM);
	*e = (struct kh_keys_cached){.key_id = key->id, .version = version, .refs = 1};
	kh_rc rc = unwrap(k, tx, key, version, &e->m);
	if (rc != KH_OK) {
		entry_free(&e);
		return rc;
	}
	pthread_mutex_lock(&k->cache_mu);
	cache_insert(k, e, epoch);
	pthread_mutex_unlock(&k->cache_mu);
	*out = e;
	return KH_OK;
}

void kh_keys_material_release(struct kh_keys *k, struct kh_keys_cached **cp)
{
	struct kh_keys_cached *e = *cp;
	if (e == NULL)
		return;
	pthread_mutex_lock(&k->cache_mu);
	bool last = --e->refs == 0 && e->dropped;
	pthread_mutex_unlock(&k->cache_mu);
	if (last)
		entry_free(&e);
	*cp = NULL;
}

/* ---- new material ---- */

kh_rc kh_keys_newmat_make(enum kh_key_type type, struct kh_keys_newmat *out)
{
	kh_buf_init(&out->secret, KH_BARRIER_SECRET_MAX, KH_BUF_SECURE);
	kh_buf_init(&out->public_der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_keymat_generate(type, &out->secret, &out->public_der);
	if (rc != KH_OK)
		kh_keys_newmat_cleanup(out);
	return rc;
}

void kh_keys_newmat_cleanup(struct kh_keys_newmat *m)
{
	kh_buf_cleanup(&m->secret);
	kh_buf_cleanup(&m->public_der);
}

kh_rc kh_keys_version_store(struct kh_keys *k, struct kh_store_tx *tx,
                            const struct kh_key_info *key, uint32_t version,
                            const struct kh_keys_newmat *m, int64_t now)
{
	char scope[KH_BARRIER_SCOPE_MAX];
	kh_keys_scope(key, version, scope, sizeof(scope));
	struct kh_store_val v[] = {
	    KH_SV_INT(key->id),
	    KH_SV_INT(version),
	    KH_SV_TEXT(kh_version_state_name(KH_VERSION_ENABLED)),
	    KH_SV_INT(now),
	    m->public_der.len > 0 ? KH_SV_BLOB(kh_buf_slice(&m->public_der)) : KH_SV_NULL,
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_version_insert, v, KH_SV_COUNT(v), NULL));
	return kh_barrier_put(k->barrier, tx, scope, kh_buf_slice(&m->secret));
}

kh_rc kh_keys_material_destroy(struct kh_keys *k, struct kh_store_tx *tx,
                               const struct kh_key_info *key)
{
	char prefix[KH_BARRIER_SCOPE_MAX];
	kh_keys_scope_prefix(key, prefix, sizeof(prefix));
	KH_GUARD(kh_barrier_delete_prefix(k->barrier, tx, prefix));
	struct kh_store_val v[] = {KH_SV_INT(key->id)};
	KH_GUARD(kh_store_exec(tx, &kh_q_version_destroy_all, v, 1, NULL));
	/* Dropped now, before the commit: at worst a concurrent use reloads it from the row the
	 * commit is about to delete and then fails; it can never outlive the deletion. */
	kh_keys_cache_drop_key(k, key->id);
	return KH_OK;
}

/* ---- context ---- */

kh_rc kh_keys_new(const struct kh_keys_options *opts, struct kh_keys **out)
{
	KH_ENSURE(opts != NULL && opts->store != NULL && opts->barrier != NULL &&
	              opts->audit != NULL && opts->clock != NULL,
	          KH_ERR_BAD_INPUT);
	struct kh_keys *k = kh_calloc(1, sizeof(*k));
	KH_ENSURE(k != NULL, KH_ERR_NOMEM);
	k->store = opts->store;
	k->barrier = opts->barrier;
	k->audit = opts->audit;
	k->clock = opts->clock;
	k->cache_max = opts->cache_max != 0 ? opts->cache_max : KH_KEYS_CACHE_DEFAULT;
	pthread_mutex_init(&k->cache_mu, NULL);
	k->cache = kh_calloc(k->cache_max, sizeof(*k->cache));
	kh_rc rc = k->cache != NULL ? kh_keys_xks_init(k) : KH_ERR_NOMEM;
	if (rc == KH_OK) {
		rc = kh_barrier_on_seal(k->barrier, on_seal, k);
		if (rc != KH_OK)
			kh_keys_xks_fini(k);
	}
	if (rc != KH_OK) {
		kh_free(&k->cache);
		pthread_mutex_destroy(&k->cache_mu);
		kh_free(&k);
		return rc;
	}
	*out = k;
	return KH_OK;
}

void kh_keys_free(struct kh_keys **kp)
{
	struct kh_keys *k = *kp;
	if (k == NULL)
		return;
	kh_barrier_off_seal(k->barrier, on_seal, k);
	cache_drop_all(k);
	kh_keys_xks_fini(k);
	kh_free(&k->cache);
	pthread_mutex_destroy(&k->cache_mu);
	kh_free(kp);
}
