/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys: key stores (tenants), their accounts, keys, versions, lifecycle, grants and the crypto
 * operations, with the rules of API.md (the Naver Cloud KMS model). Every call names who asks
 * (struct kh_principal); every call, allowed or refused, is audited in the transaction that
 * carries its effect. Plain C, no HTTP: the REST handlers decode a request, call one function
 * here, and encode its result.
 *
 * Who may do what: the operator manages key stores and accounts and never uses tenant keys; a
 * kms-manager account may do everything on every key of its key store; a kms-user account sees
 * only the keys it holds a role on and does what those roles allow. A caller with no role on a
 * key gets KH_ERR_NOT_FOUND, as if it did not exist; with a role that does not allow the
 * operation, KH_ERR_FORBIDDEN.
 *
 * Errors of state: KH_ERR_KEY_DISABLED, KH_ERR_KEY_PENDING_DELETION, KH_ERR_VERSION_DISABLED,
 * KH_ERR_CONFLICT (an operation the state does not allow, e.g. destroying a key that is not
 * pending deletion, or any change to a deleted key). KH_ERR_SEALED while the barrier is sealed.
 *
 * Times are Unix nanoseconds from the injected clock; the schedulers (kh_keys_*_due) are plain
 * functions of that clock, called by the server's background thread or by tests.
 *
 * Thread-safe.
 */
#ifndef KH_KEYS_H
#define KH_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "audit/kh_audit.h"
#include "barrier/kh_barrier.h"
#include "base/kh_buf.h"
#include "base/kh_clock.h"
#include "base/kh_limits.h"
#include "base/kh_rc.h"
#include "keys/kh_keys_types.h"
#include "store/kh_store.h"

#define KH_KEY_TAG_LEN 32u /* hex characters */
#define KH_KEY_DEFAULT_ROTATION_DAYS 90
#define KH_KEY_MAX_ROTATION_DAYS 3650
#define KH_KEY_DELETION_WAIT_NS (72 * INT64_C(3600) * KH_NS_PER_SEC)
#define KH_KEY_PURGE_AFTER_NS (365 * KH_NS_PER_DAY)
#define KH_KEYS_CACHE_DEFAULT 1024u

struct kh_keys;

struct kh_keys_options {
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	const struct kh_clock *clock;
	/* Unwrapped key versions kept in secure memory (0 = KH_KEYS_CACHE_DEFAULT). */
	unsigned cache_max;
};
KH_MUST_CHECK kh_rc kh_keys_new(const struct kh_keys_options *opts, struct kh_keys **out);
void kh_keys_free(struct kh_keys **k);

/* ---- who asks ---- */

enum kh_principal_kind {
	KH_PRINCIPAL_OPERATOR = 1,
	KH_PRINCIPAL_ACCOUNT,
	KH_PRINCIPAL_SYSTEM, /* the schedulers */
	KH_PRINCIPAL_XKS,    /* AWS KMS through an XKS key store's credential (kh_keys_xks.h) */
};
#define KH_POLICY_KMS_MANAGER 1u
#define KH_POLICY_KMS_USER 2u
/* A registration officer of the key store's PKI (pki/): approves, rejects and reads certificate
 * requests; no key of its own and no role on any. */
#define KH_POLICY_RA_OFFICER 4u
/* A recovery officer of the key management centre (pki/): one of the k of n who approve the
 * recovery of an archived encryption key pair; reads the archive; no key and no other role. */
#define KH_POLICY_RECOVERY_OFFICER 8u
/* One of the four policies above, alone. */
bool kh_keys_policy_valid(unsigned policies);

struct kh_principal {
	enum kh_principal_kind kind;
	int64_t account_id;         /* accounts */
	int64_t keystore_id;        /* accounts */
	unsigned policies;          /* accounts: KH_POLICY_* bits */
	int64_t xks_store_id;       /* XKS: the store (keystore_id is its key store) */
	const char *xks_access_key; /* XKS: the access key id that signed */
	const char *request_id;
	const char *source; /* client address */
	/* NULL, or where reads and crypto operations stage their records (see kh_keys_defer). */
	struct kh_keys_defer *defer;
};

/*
 * Deferred records. Every read and crypto operation returns only after its record (audit
 * record; for crypto the usage count and history too) is durably committed, which costs the
 * calling thread a wait for the sync. A server that would rather not hold a thread per request
 * in flight sets p->defer: those operations then return as soon as their result is ready, with
 * their records staged in defer (changes such as create or rotate still commit before they
 * return). The caller then owns the rule the wait enforced: release no result, not even a
 * refusal, before the records are durable, and answer with their failure instead if they fail.
 * Start with {0}; when count > 0 pass it to exactly one of kh_keys_defer_flush (waits) or
 * kh_keys_defer_commit (does not), which take the records and leave it {0}.
 */
struct kh_keys_staged;
struct kh_keys_defer {
	struct kh_keys_staged *head; /* the keys layer's */
	size_t count;                /* records staged */
};
/* Commits the staged records now; their failure is returned. */
KH_MUST_CHECK kh_rc kh_keys_defer_flush(struct kh_keys *k, struct kh_keys_defer *d);

/* Writes the staged records inside the caller's write transaction (they commit, or roll back,
 * with it) and leaves d {0}: for a change that wants the uses it made to land with it. */
KH_MUST_CHECK kh_rc kh_keys_defer_write(struct kh_keys *k, struct kh_store_tx *tx,
                                        struct kh_keys_defer *d);

/* Caller-owned state of one asynchronous commit, valid until its done function has run. */
typedef void (*kh_keys_defer_done_fn)(void *arg, kh_rc rc);
struct kh_keys_commit {
	struct kh_store_async op; /* the keys layer's */
	struct kh_keys_staged *staged;
	kh_keys_defer_done_fn done;
	void *arg;
};
/* Queues the staged records for the next group commit and returns at once; done(arg, rc) runs on
 * the store's writer thread once they are durable (KH_OK) or have failed. done may free c. */
void kh_keys_defer_commit(struct kh_keys *k, struct kh_keys_defer *d, struct kh_keys_commit *c,
                          kh_keys_defer_done_fn done, void *arg);

/* "operator", "account:12", "system", "xks:<store id>:<access key id>": how a principal is
 * named in audit records. */
#define KH_PRINCIPAL_NAME_MAX 64u
void kh_keys_principal_name(const struct kh_principal *p, char *out, size_t out_len);

/* ---- key stores and accounts ---- */

/* Operator only. Names follow the API rule: 1-64 of [A-Za-z0-9_.-]; duplicates KH_ERR_CONFLICT. */
KH_MUST_CHECK kh_rc kh_keys_keystore_create(struct kh_keys *k, const struct kh_principal *p,
                                            const char *name, int64_t *out_id);
/* The operator, or a kms-manager of that key store. policies: KH_POLICY_KMS_MANAGER,
 * KH_POLICY_KMS_USER, KH_POLICY_RA_OFFICER or KH_POLICY_RECOVERY_OFFICER (exactly one). */
KH_MUST_CHECK kh_rc kh_keys_account_create(struct kh_keys *k, const struct kh_principal *p,
                                           int64_t keystore_id, const char *name, unsigned policies,
                                           int64_t *out_id);
struct kh_account {
	int64_t id;
	int64_t keystore_id;
	char name[KH_LIMIT_NAME_MAX + 1];
	unsigned policies;
	int64_t created_at;
};
/* For authentication (no principal: the caller is authz/ resolving a token). */
KH_MUST_CHECK kh_rc kh_keys_account_get(struct kh_keys *k, int64_t account_id,
                                        struct kh_account *out);

/* ---- keys ---- */

struct kh_key_info {
	int64_t id;
	int64_t keystore_id;
	char tag[KH_KEY_TAG_LEN + 1];
	char name[KH_LIMIT_NAME_MAX + 1];
	char description[KH_LIMIT_DESCRIPTION_BYTES + 1];
	enum kh_key_type type;
	enum kh_key_usage usage;
	enum kh_key_state state;
	bool convergent;
	uint32_t current_version;
	unsigned rotation_period_days;
	/* Period that applies from the next scheduled rotation (-1: no change pending). */
	int pending_period_days;
	int64_t next_rotation_at; /* 0: no automatic rotation */
	int64_t created_at;
	int64_t updated_at;
	int64_t deletion_at; /* pending deletion: when the key is destroyed; else 0 */
	int64_t deleted_at;  /* deleted: when; else 0 */
	uint64_t usage_count;
	int64_t last_used_at; /* 0: never */
};

struct kh_key_create {
	const char *name;
	enum kh_key_type type;    /* 0: aes-256-gcm */
	enum kh_key_usage usage;  /* 0: the type's default */
	int rotation_period_days; /* -1: 90; 0: off; max 3650 */
	const char *description;  /* NULL: empty */
	bool convergent;          /* symmetric types only */
};
KH_MUST_CHECK kh_rc kh_keys_create(struct kh_keys *k, const struct kh_principal *p,
                                   const struct kh_key_create *req, struct kh_key_info *out);
KH_MUST_CHECK kh_rc kh_keys_get(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                                struct kh_key_info *out);

struct kh_key_filter {
	enum kh_key_state state; /* 0: any */
	int64_t after_id;        /* paging cursor: keys with id > after_id */
	unsigned limit;          /* 1..KH_LIMIT_PAGE_MAX */
};
typedef kh_rc (*kh_key_info_fn)(const struct kh_key_info *key, void *arg);
/* Keys of the caller's key store it may see, by id. */
KH_MUST_CHECK kh_rc kh_keys_list(struct kh_keys *k, const struct kh_principal *p,
                                 const struct kh_key_filter *f, kh_key_info_fn fn, void *arg,
                                 bool *out_more);

struct kh_key_update {
	const char *description;  /* NULL: unchanged */
	int rotation_period_days; /* -1: unchanged */
};
KH_MUST_CHECK kh_rc kh_keys_update(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                                   const struct kh_key_update *u, struct kh_key_info *out);

/* A new version now; the automatic schedule does not move. */
KH_MUST_CHECK kh_rc kh_keys_rotate(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                                   struct kh_key_info *out);
KH_MUST_CHECK kh_rc kh_keys_disable(struct kh_keys *k, const struct kh_principal *p,
                                    const char *tag, struct kh_key_info *out);
KH_MUST_CHECK kh_rc kh_keys_enable(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                                   struct kh_key_info *out);
/* confirm_name: required when the key has any grant, and when given it must equal the key's
 * name (KH_ERR_BAD_INPUT otherwise). */
KH_MUST_CHECK kh_rc kh_keys_schedule_deletion(struct kh_keys *k, const struct kh_principal *p,
                                              const char *tag, const char *confirm_name,
                                              struct kh_key_info *out);
/* Back to disabled. */
KH_MUST_CHECK kh_rc kh_keys_cancel_deletion(struct kh_keys *k, const struct kh_principal *p,
                                            const char *tag, struct kh_key_info *out);
/* Only while pending deletion: destroys the material now. */
KH_MUST_CHECK kh_rc kh_keys_destroy(struct kh_keys *k, const struct kh_principal *p,
                                    const char *tag);

/*
 * One page of a list about one key (API.md "Lists are paged"), in keyset order. after is 0 for
 * the first page, else the *out_next the previous page gave: a position in the list, never an
 * offset. A position taken from another key's list names the same place in this one (items
 * may be skipped, those of the other key are never shown). A limit out of range, or an after
 * that is no position of the list: KH_ERR_BAD_INPUT (audited, as refusals are).
 */
struct kh_key_page {
	int64_t after;
	unsigned limit; /* 1..KH_LIMIT_PAGE_MAX */
};

struct kh_key_version_info {
	uint32_t version;
	enum kh_version_state state; /* the version's own state */
	int64_t created_at;
	bool destroyed;
};
typedef kh_rc (*kh_key_version_fn)(const struct kh_key_version_info *v, void *arg);
/* A page of the key's versions, by number; *out_next is where the next page starts, 0 when
 * this one is the last. */
KH_MUST_CHECK kh_rc kh_keys_versions(struct kh_keys *k, const struct kh_principal *p,
                                     const char *tag, const struct kh_key_page *pg,
                                     kh_key_version_fn fn, void *arg, int64_t *out_next);
/* The current version cannot be disabled (KH_ERR_CONFLICT). */
KH_MUST_CHECK kh_rc kh_keys_version_disable(struct kh_keys *k, const struct kh_principal *p,
                                            const char *tag, uint32_t version);
KH_MUST_CHECK kh_rc kh_keys_version_enable(struct kh_keys *k, const struct kh_principal *p,
                                           const char *tag, uint32_t version);

struct kh_key_grant {
	int64_t account_id;
	enum kh_role role;
	int64_t created_at;
};
typedef kh_rc (*kh_key_grant_fn)(const struct kh_key_grant *g, void *arg);
/* The account must belong to the key's key store (KH_ERR_NOT_FOUND otherwise); a grant that
 * exists already is KH_ERR_CONFLICT. */
KH_MUST_CHECK kh_rc kh_keys_grant_add(struct kh_keys *k, const struct kh_principal *p,
                                      const char *tag, int64_t account_id, enum kh_role role);
KH_MUST_CHECK kh_rc kh_keys_grant_revoke(struct kh_keys *k, const struct kh_principal *p,
                                         const char *tag, int64_t account_id, enum kh_role role);
/* A page of the grants on the key, by account, then role name; *out_next as for versions.
 * Account ids above KH_KEY_GRANT_ACCOUNT_MAX cannot be listed (KH_ERR_STORAGE): a position
 * packs the account and the role into one number. */
#define KH_KEY_GRANT_ACCOUNT_MAX (INT64_MAX / 8)
KH_MUST_CHECK kh_rc kh_keys_grants(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                                   const struct kh_key_page *pg, kh_key_grant_fn fn, void *arg,
                                   int64_t *out_next);

/* Latest uses, newest first (limit 1..100). */
KH_MUST_CHECK kh_rc kh_keys_history(struct kh_keys *k, const struct kh_principal *p,
                                    const char *tag, unsigned limit, kh_audit_usage_fn fn,
                                    void *arg);

/* ---- crypto operations (formats in kh_keymat.h) ---- */

/* Appends "kh:v<N>:..." to out. context may be empty. */
KH_MUST_CHECK kh_rc kh_keys_encrypt(struct kh_keys *k, const struct kh_principal *p,
                                    const char *tag, struct kh_slice plaintext,
                                    struct kh_slice context, struct kh_buf *out);
/* Appends the plaintext to a KH_BUF_SECURE buffer. A ciphertext that is not this key's, or was
 * altered, or has another context: KH_ERR_DECRYPT. */
KH_MUST_CHECK kh_rc kh_keys_decrypt(struct kh_keys *k, const struct kh_principal *p,
                                    const char *tag, struct kh_slice ciphertext,
                                    struct kh_slice context, struct kh_buf *out);
/* A random data key of bits (128..512, multiple of 8) sealed under the key: out_ciphertext gets
 * its ciphertext, out_plaintext (a KH_BUF_SECURE buffer, or NULL) the key itself. */
KH_MUST_CHECK kh_rc kh_keys_data_key(struct kh_keys *k, const struct kh_principal *p,
                                     const char *tag, unsigned bits, struct kh_slice context,
                                     struct kh_buf *out_plaintext, struct kh_buf *out_ciphertext);
/* Decrypts and encrypts again under the current version; the plaintext never leaves. */
KH_MUST_CHECK kh_rc kh_keys_reencrypt(struct kh_keys *k, const struct kh_principal *p,
                                      const char *tag, struct kh_slice ciphertext,
                                      struct kh_slice context, struct kh_buf *out);
/* alg: 0 or a kh_sig_alg value the key supports. */
KH_MUST_CHECK kh_rc kh_keys_sign(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                                 int alg, bool is_digest, struct kh_slice msg, struct kh_buf *out);
KH_MUST_CHECK kh_rc kh_keys_verify(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                                   int alg, bool is_digest, struct kh_slice msg,
                                   struct kh_slice signature, bool *out_valid);
KH_MUST_CHECK kh_rc kh_keys_mac(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                                struct kh_slice msg, struct kh_buf *out);
KH_MUST_CHECK kh_rc kh_keys_verify_mac(struct kh_keys *k, const struct kh_principal *p,
                                       const char *tag, struct kh_slice msg, struct kh_slice mac,
                                       bool *out_valid);
/*
 * Signing with a key's current version without the key leaving keys/: fn(arg, key) runs with
 * the version's private key (a sign-verify key of an asymmetric type) outside any transaction,
 * and must only sign with it during the call (never export it, never keep it). The checks are
 * those of kh_keys_sign (role, key state, usage, version state), and the use is recorded like
 * any crypto operation (audit "key.sign_with", usage history, usage count); fn's result is the
 * outcome. Besides accounts, KH_PRINCIPAL_SYSTEM with keystore_id set may use the keys of that
 * key store: the service signing on its own behalf (CRLs and OCSP responses of pki/).
 */
struct kh_pkey;
typedef kh_rc (*kh_keys_signer_fn)(void *arg, const struct kh_pkey *key);
KH_MUST_CHECK kh_rc kh_keys_with_signer(struct kh_keys *k, const struct kh_principal *p,
                                        const char *tag, kh_keys_signer_fn fn, void *arg);

/* version 0: the current one. Appends PEM; *out_version gets the version. */
KH_MUST_CHECK kh_rc kh_keys_public_key(struct kh_keys *k, const struct kh_principal *p,
                                       const char *tag, uint32_t version, uint32_t *out_version,
                                       struct kh_buf *out_pem);

/* ---- schedulers: each handles up to max due items at the clock's now ---- */

/* Scheduled rotations (enabled, disabled and pending-deletion keys rotate). */
KH_MUST_CHECK kh_rc kh_keys_rotate_due(struct kh_keys *k, size_t max, size_t *out_count);
/* Keys whose 72-hour wait is over: material destroyed, state deleted. */
KH_MUST_CHECK kh_rc kh_keys_delete_due(struct kh_keys *k, size_t max, size_t *out_count);
/* Deleted keys older than 365 days: metadata, versions, grants and history removed. */
KH_MUST_CHECK kh_rc kh_keys_purge_due(struct kh_keys *k, size_t max, size_t *out_count);
/* The earliest time any of the three has work (INT64_MAX: none). */
KH_MUST_CHECK kh_rc kh_keys_next_due(struct kh_keys *k, int64_t *out_at);

/* Unwrapped versions currently cached (for metrics and tests). */
size_t kh_keys_cache_size(struct kh_keys *k);

#endif
