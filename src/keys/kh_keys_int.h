/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside keys/: the shared state, the table of operations with the roles that allow them, and
 * the two shapes every public function takes:
 *
 *  - a change (kh_keys_change): one write transaction that loads the key, checks who asks and
 *    what the state allows, applies the change in a nested savepoint, and appends the audit
 *    record (and grantee notices) whatever the outcome, so refusals are audited too;
 *  - a use (reads and crypto): a read transaction that loads and authorises, the work outside
 *    any transaction, then kh_keys_record() writes the audit record, and for crypto the usage
 *    count and history.
 */
#ifndef KH_KEYS_INT_H
#define KH_KEYS_INT_H

#include <pthread.h>

#include "keys/kh_keymat.h"
#include "keys/kh_keys.h"

enum kh_keys_op {
	KH_OP_KEYSTORE_CREATE,
	KH_OP_ACCOUNT_CREATE,
	KH_OP_CREATE,
	KH_OP_GET,
	KH_OP_LIST,
	KH_OP_UPDATE,
	KH_OP_ROTATE,
	KH_OP_DISABLE,
	KH_OP_ENABLE,
	KH_OP_SCHEDULE_DELETION,
	KH_OP_CANCEL_DELETION,
	KH_OP_DESTROY,
	KH_OP_VERSIONS,
	KH_OP_VERSION_DISABLE,
	KH_OP_VERSION_ENABLE,
	KH_OP_GRANTS,
	KH_OP_GRANT_ADD,
	KH_OP_GRANT_REVOKE,
	KH_OP_HISTORY,
	KH_OP_ENCRYPT,
	KH_OP_DECRYPT,
	KH_OP_DATA_KEY,
	KH_OP_REENCRYPT,
	KH_OP_SIGN,
	KH_OP_SIGN_WITH,
	KH_OP_VERIFY,
	KH_OP_MAC,
	KH_OP_VERIFY_MAC,
	KH_OP_PUBLIC_KEY,
	KH_OP_SCHEDULED_ROTATION,
	KH_OP_SCHEDULED_DELETION,
	KH_OP_PURGE,
	/* XKS key stores (xks.c, xks_ops.c) */
	KH_OP_XKS_STORE_CREATE,
	KH_OP_XKS_STORE_GET,
	KH_OP_XKS_STORE_LIST,
	KH_OP_XKS_STORE_UPDATE,
	KH_OP_XKS_STORE_DELETE,
	KH_OP_XKS_CREDENTIAL_ISSUE,
	KH_OP_XKS_CREDENTIAL_REVOKE,
	KH_OP_XKS_CREDENTIAL_LIST,
	KH_OP_XKS_KEY_ATTACH,
	KH_OP_XKS_KEY_GET,
	KH_OP_XKS_KEY_LIST,
	KH_OP_XKS_KEY_UPDATE,
	KH_OP_XKS_KEY_DETACH,
	KH_OP_XKS_METADATA,
	KH_OP_XKS_ENCRYPT,
	KH_OP_XKS_DECRYPT,
	KH_OP_COUNT
};

#define KH_ROLE_BIT(r) (1u << (r))
struct kh_keys_op_def {
	const char *name;  /* audit operation, "key.encrypt" */
	const char *usage; /* usage history name for crypto operations, else NULL */
	unsigned roles;    /* KH_ROLE_BIT of each role that allows it (managers always may) */
};
extern const struct kh_keys_op_def kh_keys_ops[KH_OP_COUNT];

struct kh_keys_cached {
	int64_t key_id;
	uint32_t version;
	struct kh_keymat *m;
	unsigned refs;
	bool dropped;  /* evicted or invalidated while in use: freed at the last release */
	uint64_t used; /* LRU tick */
};

struct kh_keys {
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	const struct kh_clock *clock;

	pthread_mutex_t cache_mu;
	struct kh_keys_cached **cache;
	size_t cache_count;
	size_t cache_max;
	uint64_t tick;
	uint64_t epoch; /* bumped at every seal: material loaded before it is not cached */

	struct kh_keys_xks *xks; /* XKS caches (xks_cache.c) */
};

/* ---- rows and rules (access.c) ---- */

KH_MUST_CHECK kh_rc kh_keys_row_decode(struct kh_store_rows *rows, struct kh_key_info *out);
/* Loads a key of the key store by tag; KH_ERR_NOT_FOUND if absent. */
KH_MUST_CHECK kh_rc kh_keys_load(struct kh_store_tx *tx, int64_t keystore_id, const char *tag,
                                 struct kh_key_info *out);
KH_MUST_CHECK kh_rc kh_keys_load_id(struct kh_store_tx *tx, int64_t id, struct kh_key_info *out);
/* May p do op on key? KH_ERR_NOT_FOUND when p has no role on it (or it is deleted and p is no
 * manager of it), KH_ERR_FORBIDDEN when its roles do not allow op. */
KH_MUST_CHECK kh_rc kh_keys_authorize(struct kh_store_tx *tx, const struct kh_principal *p,
                                      const struct kh_key_info *key, enum kh_keys_op op);
/* The version exists, is not destroyed (else KH_ERR_DECRYPT) and is enabled (else
 * KH_ERR_VERSION_DISABLED). */
KH_MUST_CHECK kh_rc kh_keys_version_check(struct kh_store_tx *tx, const struct kh_key_info *key,
                                          uint32_t version);
/* The error a key's state gives for operations that need it enabled (KH_OK if enabled). */
kh_rc kh_keys_state_error(enum kh_key_state s);
/* KH_OK when the key store exists, else KH_ERR_NOT_FOUND (tenancy.c). */
KH_MUST_CHECK kh_rc kh_keys_keystore_exists(struct kh_store_tx *tx, int64_t id);
/* Names 1-64 of [A-Za-z0-9_.-]. */
bool kh_keys_name_valid(const char *name);

/* Appends the audit record of op inside tx. */
KH_MUST_CHECK kh_rc kh_keys_audit(struct kh_keys *k, struct kh_store_tx *tx,
                                  const struct kh_principal *p, enum kh_keys_op op,
                                  const struct kh_key_info *key, uint32_t version, kh_rc outcome,
                                  const char *detail);
/* The same for a record about a key store when no key is named (keystore_id 0: the caller's, as
 * kh_keys_audit does), e.g. the operator managing an XKS key store of a tenant. */
KH_MUST_CHECK kh_rc kh_keys_audit_in(struct kh_keys *k, struct kh_store_tx *tx,
                                     const struct kh_principal *p, enum kh_keys_op op,
                                     int64_t keystore_id, const struct kh_key_info *key,
                                     uint32_t version, kh_rc outcome, const char *detail);
/* Queues a notice for every account holding a grant on key. */
KH_MUST_CHECK kh_rc kh_keys_notify_grantees(struct kh_keys *k, struct kh_store_tx *tx,
                                            const struct kh_key_info *key, const char *event,
                                            const char *detail);
/*
 * The write after a use: audit record, and for crypto operations (op has a usage name and key
 * is set) the usage history entry, plus usage count and last use on success. Returns outcome
 * unless the write itself fails.
 */
KH_MUST_CHECK kh_rc kh_keys_record(struct kh_keys *k, const struct kh_principal *p,
                                   enum kh_keys_op op, const struct kh_key_info *key,
                                   uint32_t version, kh_rc outcome);
/* kh_keys_record with the key store of a record that names no key (0: the caller's) and an
 * audit detail (JSON object text of at most KH_AUDIT_FIELD_MAX bytes, or NULL). A deferred
 * record (p->defer) keeps its own copy of the detail. */
struct kh_keys_use_record {
	enum kh_keys_op op;
	const struct kh_key_info *key;
	uint32_t version;
	int64_t keystore_id;
	const char *detail;
};
KH_MUST_CHECK kh_rc kh_keys_record_use(struct kh_keys *k, const struct kh_principal *p,
                                       const struct kh_keys_use_record *u, kh_rc outcome);

/* ---- changes (change.c) ---- */

struct kh_keys_change;
typedef kh_rc (*kh_keys_change_fn)(struct kh_keys_change *c, struct kh_store_tx *tx);
struct kh_keys_change {
	struct kh_keys *k;
	const struct kh_principal *p;
	enum kh_keys_op op;
	const char *tag;         /* NULL: not about an existing key */
	kh_keys_change_fn apply; /* runs after the key is loaded and authorised */
	void *arg;
	/* set by the run */
	int64_t now;
	struct kh_key_info key;
	bool have_key;
	uint32_t version;  /* for the audit record */
	const char *event; /* notice to grantees on success, or NULL */
	char detail[256];  /* audit detail (JSON object text or empty) */
	bool gone;         /* the change removed the key row (purge): do not reload */
	/* The key store of the audit record when no key is loaded (0: the caller's). */
	int64_t keystore_id;
	kh_rc outcome;
};
/* Runs the change; returns its outcome (or a storage failure). On success c->key holds the key
 * as it is after the change (reloaded). */
KH_MUST_CHECK kh_rc kh_keys_change_run(struct kh_keys_change *c);

/* One scheduled rotation / deletion of a key by id (lifecycle.c); *out_done false when it was
 * no longer due (moved by another change). */
KH_MUST_CHECK kh_rc kh_keys_rotate_scheduled(struct kh_keys *k, int64_t key_id, bool *out_done);
KH_MUST_CHECK kh_rc kh_keys_destroy_due(struct kh_keys *k, int64_t key_id, bool *out_done);

/* ---- pieces of the lifecycle for XKS keys (lifecycle.c) ---- */

struct kh_keys_newmat;

/* Validates a creation request for keystore_id; *out_type the type it makes. */
KH_MUST_CHECK kh_rc kh_keys_create_check(const struct kh_key_create *req,
                                         enum kh_key_type *out_type);
/* Inserts a key of keystore_id made by kh_keys_create_check's request with material m, inside
 * the caller's write transaction; out gets the key as stored. */
KH_MUST_CHECK kh_rc kh_keys_create_in(struct kh_keys *k, struct kh_store_tx *tx,
                                      int64_t keystore_id, const struct kh_key_create *req,
                                      const struct kh_keys_newmat *m, int64_t now,
                                      struct kh_key_info *out);
/* Enables or disables the key as kh_keys_enable/disable do (same refusals); *out_event the
 * grantees' notice, or NULL when the state did not change. */
KH_MUST_CHECK kh_rc kh_keys_set_enabled_in(struct kh_store_tx *tx, const struct kh_key_info *key,
                                           bool enabled, int64_t now, const char **out_event);
/* Changes the rotation period as kh_keys_update does (same refusals). */
KH_MUST_CHECK kh_rc kh_keys_set_period_in(struct kh_store_tx *tx, const struct kh_key_info *key,
                                          int period_days, int64_t now);

/* ---- XKS (xks_cache.c) ---- */

KH_MUST_CHECK kh_rc kh_keys_xks_init(struct kh_keys *k);
void kh_keys_xks_fini(struct kh_keys *k);
/* Forgets every cached prefix and credential secret (after a change, and at a seal). */
void kh_keys_xks_invalidate(struct kh_keys *k);

/* ---- material (keys.c) ---- */

/* The unwrapped material of a version, from the cache or the barrier; release it after use. */
KH_MUST_CHECK kh_rc kh_keys_material(struct kh_keys *k, struct kh_store_tx *tx,
                                     const struct kh_key_info *key, uint32_t version,
                                     struct kh_keys_cached **out);
void kh_keys_material_release(struct kh_keys *k, struct kh_keys_cached **c);
void kh_keys_cache_drop_key(struct kh_keys *k, int64_t key_id);
/* "key/<keystore>/<key>/<version>" and its prefix for all versions. */
void kh_keys_scope(const struct kh_key_info *key, uint32_t version, char *out, size_t out_len);
void kh_keys_scope_prefix(const struct kh_key_info *key, char *out, size_t out_len);

/* ---- versions (lifecycle.c) ---- */

/* Generates material for a new version of a key of this type (outside any transaction: RSA
 * key generation is slow). */
struct kh_keys_newmat {
	struct kh_buf secret; /* secure */
	struct kh_buf public_der;
};
KH_MUST_CHECK kh_rc kh_keys_newmat_make(enum kh_key_type type, struct kh_keys_newmat *out);
void kh_keys_newmat_cleanup(struct kh_keys_newmat *m);
/* Stores version `version` of key with the material. */
KH_MUST_CHECK kh_rc kh_keys_version_store(struct kh_keys *k, struct kh_store_tx *tx,
                                          const struct kh_key_info *key, uint32_t version,
                                          const struct kh_keys_newmat *m, int64_t now);
/* Destroys all material of a key (barrier rows and cache). */
KH_MUST_CHECK kh_rc kh_keys_material_destroy(struct kh_keys *k, struct kh_store_tx *tx,
                                             const struct kh_key_info *key);

#endif
