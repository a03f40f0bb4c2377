/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside keys/, shared by the XKS files: the validation rules of kh_keys_xks.h, rows as read
 * from storage, the barrier scope of a credential's secret, and the in-memory caches of the
 * proxy's path (xks_cache.c).
 *
 * The caches: store information by prefix and unwrapped credential secrets (secure memory).
 * Every change made through this kh_keys empties both once it has committed (a generation
 * counter keeps a lookup that read the old state from filling them again), and so does a seal.
 * Entries also expire after KH_XKS_CACHE_TTL_NS, which bounds how long a change made by another
 * node of a cluster goes unseen here.
 */
#ifndef KH_KEYS_XKS_INT_H
#define KH_KEYS_XKS_INT_H

#include "keys/kh_keys_int.h"
#include "keys/kh_keys_xks.h"

#define KH_XKS_CACHE_TTL_NS KH_NS_PER_SEC
#define KH_XKS_CACHE_MAX 256u
/* "xks/<store id>/<access key id>" */
#define KH_XKS_SCOPE_MAX 64u

/* ---- rules ---- */

bool kh_xks_region_valid(const char *s); /* NULL and "" are valid (any region) */
/* 20-30 of [A-Z2-7]. */
bool kh_xks_access_key_valid(struct kh_slice s);
/* A '\n'-separated list of patterns (NULL or "": none). */
KH_MUST_CHECK kh_rc kh_xks_patterns_check(const char *list);
/* Does value match one of the list's patterns? */
bool kh_xks_patterns_match(const char *list, const char *value);

void kh_xks_secret_scope(int64_t store_id, struct kh_slice access_key_id, char *out,
                         size_t out_len);

/* ---- who (xks.c) ---- */

/* The operator manages every store; a kms-manager those of its key store; an account of
 * another key store gets KH_ERR_NOT_FOUND, anyone else KH_ERR_FORBIDDEN. */
KH_MUST_CHECK kh_rc kh_xks_may_manage(const struct kh_principal *p, int64_t keystore_id);
/* In a change: loads a store c->p may manage; the change's record then goes to the store's
 * key store. */
KH_MUST_CHECK kh_rc kh_xks_managed_store(struct kh_keys_change *c, struct kh_store_tx *tx,
                                         int64_t id, struct kh_xks_store_info *out);
/* A read about one store: loads it and checks who asks, in a read transaction. */
KH_MUST_CHECK kh_rc kh_xks_read_store(struct kh_keys *k, const struct kh_principal *p, int64_t id,
                                      struct kh_xks_store_info *out, int64_t *out_keystore);
/* Runs a change (no key named) and empties the proxy's caches after it. */
KH_MUST_CHECK kh_rc kh_xks_change_run(struct kh_keys *k, const struct kh_principal *p,
                                      enum kh_keys_op op, kh_keys_change_fn apply, void *arg);

/* ---- rows ---- */

KH_MUST_CHECK kh_rc kh_xks_store_load(struct kh_store_tx *tx, int64_t id,
                                      struct kh_xks_store_info *out);
KH_MUST_CHECK kh_rc kh_xks_store_load_prefix(struct kh_store_tx *tx, const char *prefix,
                                             struct kh_xks_store_info *out);
KH_MUST_CHECK kh_rc kh_xks_store_decode(struct kh_store_rows *rows, struct kh_xks_store_info *out);

/* The switches of the attached key's store, read with it. */
struct kh_xks_key_store {
	bool enabled;
	bool secondary_auth;
};
KH_MUST_CHECK kh_rc kh_xks_key_decode(struct kh_store_rows *rows, struct kh_xks_key_info *out,
                                      struct kh_xks_key_store *out_store);
/* KH_ERR_NOT_FOUND for an id that breaks the rules or is not attached to the store. */
KH_MUST_CHECK kh_rc kh_xks_key_load(struct kh_store_tx *tx, int64_t store_id,
                                    const char *external_key_id, struct kh_xks_key_info *out,
                                    struct kh_xks_key_store *out_store);

/* ---- caches ---- */

uint64_t kh_xks_cache_gen(struct kh_keys *k);
/* true and *out when a fresh entry exists. */
bool kh_xks_cache_prefix_get(struct kh_keys *k, const char *prefix, struct kh_xks_store_info *out);
/* Keeps s unless the cache was invalidated since gen was read. */
void kh_xks_cache_prefix_put(struct kh_keys *k, uint64_t gen, const struct kh_xks_store_info *s);
/* KH_OK with the secret appended to out, KH_ERR_NOT_FOUND when not cached. */
KH_MUST_CHECK kh_rc kh_xks_cache_secret_get(struct kh_keys *k, int64_t store_id,
                                            struct kh_slice access_key_id, struct kh_buf *out);
void kh_xks_cache_secret_put(struct kh_keys *k, uint64_t gen, int64_t store_id,
                             struct kh_slice access_key_id, struct kh_slice secret);

#endif
