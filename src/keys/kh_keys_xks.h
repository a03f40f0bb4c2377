/* SPDX-License-Identifier: Apache-2.0 */
/*
 * XKS key stores (XKS.md, API.md "XKS management"): the external key stores AWS KMS reaches
 * through keyhold, each under its own URI path prefix, with its own SigV4 credentials and its
 * own keys. An XKS key store belongs to one keyhold key store (tenant); the kms-managers of that
 * key store manage it (the operator too). An XKS key is an ordinary aes-256-gcm key of that key
 * store attached under an external key id, with allowed usages, an optional expiry and the AWS
 * principal patterns of secondary authorization.
 *
 * Everything here is audited like the rest of keys/: changes in their transaction, uses (the XKS
 * crypto operations) through kh_keys_record's path, deferred when p->defer is set. XKS uses count
 * as uses of the key (usage count and history), under the operations "xks.metadata",
 * "xks.encrypt", "xks.decrypt".
 *
 * Errors, as for the rest of keys/: KH_ERR_NOT_FOUND (no such store, prefix, credential or
 * external key id, or a store of another key store), KH_ERR_FORBIDDEN (not a manager; secondary
 * authorization denied), KH_ERR_BAD_INPUT (a value outside the rules below), KH_ERR_CONFLICT
 * (a prefix or external key id taken, too many live credentials, deleting a store that still
 * has keys), KH_ERR_SEALED.
 *
 * Thread-safe.
 */
#ifndef KH_KEYS_XKS_H
#define KH_KEYS_XKS_H

#include <stdbool.h>
#include <stdint.h>

#include "keys/kh_keys.h"

#define KH_XKS_PREFIX_MAX 117u /* 1-117 of [A-Za-z0-9/_-], no leading or trailing '/', no "//" */
#define KH_XKS_EXTERNAL_KEY_ID_MAX 128u /* 1-128 of [A-Za-z0-9._-] */
#define KH_XKS_REGION_MAX 64u           /* [a-z0-9-]; "" = any region */
#define KH_XKS_ACCESS_KEY_LEN 20u       /* [A-Z2-7]: what we issue (20-30 accepted on lookup) */
#define KH_XKS_ACCESS_KEY_MAX 30u
#define KH_XKS_SECRET_LEN 44u             /* Base64 of 33 random bytes: [A-Za-z0-9/+], 264 bits */
#define KH_XKS_CREDENTIALS_MAX 4u         /* live credentials per store (rotation needs 2) */
#define KH_XKS_QUOTA_MAX 1000000u         /* requests per second; 0 = no quota */
#define KH_XKS_PATTERNS_MAX 16u           /* ARN patterns per list */
#define KH_XKS_PATTERN_MAX 2048u          /* bytes per pattern: visible ASCII, '*' a wildcard */
#define KH_XKS_PATTERN_LIST_MAX 4096u     /* bytes of a whole list joined with '\n' */
#define KH_XKS_METADATA_FORMAT 1u         /* first byte of our ciphertextMetadata */
#define KH_XKS_CIPHERTEXT_METADATA_LEN 5u /* format byte, BE32 key version */

/* XKS.md "Routing": a prefix is 1-117 of [A-Za-z0-9/_-] with no '/' first or last and no "//";
 * an external key id 1-128 of [A-Za-z0-9._-]. NULL is neither. */
bool kh_xks_prefix_valid(const char *s);
bool kh_xks_external_id_valid(const char *s);

/* ---- XKS key stores ---- */

struct kh_xks_store_info {
	int64_t id;
	int64_t keystore_id;
	char prefix[KH_XKS_PREFIX_MAX + 1];
	char region[KH_XKS_REGION_MAX + 1]; /* "" = any */
	bool secondary_auth;
	bool enabled;
	unsigned quota_rps;        /* 0 = none */
	unsigned credential_count; /* live */
	unsigned key_count;        /* attached */
	int64_t created_at;
	int64_t updated_at;
};

struct kh_xks_store_create {
	int64_t keystore_id; /* the operator must name it; a manager's own when 0 */
	const char *prefix;
	const char *region; /* NULL or "": any */
	bool secondary_auth;
	unsigned quota_rps;
};
KH_MUST_CHECK kh_rc kh_keys_xks_store_create(struct kh_keys *k, const struct kh_principal *p,
                                             const struct kh_xks_store_create *req,
                                             struct kh_xks_store_info *out);
KH_MUST_CHECK kh_rc kh_keys_xks_store_get(struct kh_keys *k, const struct kh_principal *p,
                                          int64_t id, struct kh_xks_store_info *out);
typedef kh_rc (*kh_xks_store_fn)(const struct kh_xks_store_info *s, void *arg);
/* The stores p may manage (a manager: its key store's; the operator: all), by id, after_id
 * exclusive, at most limit (1..KH_LIMIT_PAGE_MAX). */
KH_MUST_CHECK kh_rc kh_keys_xks_store_list(struct kh_keys *k, const struct kh_principal *p,
                                           int64_t after_id, unsigned limit, kh_xks_store_fn fn,
                                           void *arg, bool *out_more);
struct kh_xks_store_update {
	const char *region; /* NULL: unchanged; "": any */
	int secondary_auth; /* -1: unchanged, else 0/1 */
	int enabled;        /* -1: unchanged, else 0/1 (a disabled store: InvalidStateException) */
	int64_t quota_rps;  /* -1: unchanged */
};
KH_MUST_CHECK kh_rc kh_keys_xks_store_update(struct kh_keys *k, const struct kh_principal *p,
                                             int64_t id, const struct kh_xks_store_update *u,
                                             struct kh_xks_store_info *out);
/* KH_ERR_CONFLICT while keys are attached; deletes its credentials and their secrets. */
KH_MUST_CHECK kh_rc kh_keys_xks_store_delete(struct kh_keys *k, const struct kh_principal *p,
                                             int64_t id);

/* ---- credentials (SigV4 access key id and secret; the secret is a barrier secret) ---- */

struct kh_xks_credential_info {
	char access_key_id[KH_XKS_ACCESS_KEY_MAX + 1];
	int64_t created_at;
};
/* A new credential; out_secret (KH_BUF_SECURE) gets the secret, shown once.
 * KH_ERR_CONFLICT when KH_XKS_CREDENTIALS_MAX are live. */
KH_MUST_CHECK kh_rc kh_keys_xks_credential_issue(struct kh_keys *k, const struct kh_principal *p,
                                                 int64_t store_id,
                                                 struct kh_xks_credential_info *out,
                                                 struct kh_buf *out_secret);
/* At once: the next request signed with it fails. */
KH_MUST_CHECK kh_rc kh_keys_xks_credential_revoke(struct kh_keys *k, const struct kh_principal *p,
                                                  int64_t store_id, const char *access_key_id);
typedef kh_rc (*kh_xks_credential_fn)(const struct kh_xks_credential_info *c, void *arg);
/* The live credentials, oldest first (never the secrets). out_secret must be KH_BUF_SECURE
 * (KH_ERR_INTERNAL otherwise) for issue; the audit record names the access key id only. */
KH_MUST_CHECK kh_rc kh_keys_xks_credentials(struct kh_keys *k, const struct kh_principal *p,
                                            int64_t store_id, kh_xks_credential_fn fn, void *arg);

/* ---- XKS keys ---- */

#define KH_XKS_USE_ENCRYPT 1u
#define KH_XKS_USE_DECRYPT 2u

struct kh_xks_key_info {
	int64_t store_id;
	char external_key_id[KH_XKS_EXTERNAL_KEY_ID_MAX + 1];
	struct kh_key_info key; /* the keyhold key (state, versions, rotation) */
	unsigned usages;        /* KH_XKS_USE_* bits; 0 = none */
	int64_t expires_at;     /* 0: never */
	/* ARN patterns, '\n'-separated, "" = none */
	char administrators[KH_XKS_PATTERN_LIST_MAX + 1];
	char users[KH_XKS_PATTERN_LIST_MAX + 1];
	int64_t created_at;
	int64_t updated_at;
};

struct kh_xks_key_attach {
	const char *external_key_id;
	/* The tag of an aes-256-gcm key of the store's key store; NULL: a new key named name
	 * (NULL: "xks-<store id>-<external key id>", cut to 64 characters) with rotation_days. */
	const char *key_tag;
	const char *name;
	int rotation_days; /* -1: keep (existing key) or 90 (new key); 0: off; else days */
	unsigned usages;
	int64_t expires_at;
	const char *administrators; /* '\n'-separated patterns; NULL: none */
	const char *users;
};
/*
 * A keyhold key is attached to at most one (store, external key id) in all: attaching it again,
 * here or in another store, is KH_ERR_CONFLICT (one store's managers could otherwise disable
 * another's keys). An existing key must be an aes-256-gcm encrypt-decrypt key of the store's key
 * store (else KH_ERR_WRONG_KEY_TYPE; another key store's: KH_ERR_NOT_FOUND), not pending
 * deletion (KH_ERR_KEY_PENDING_DELETION) nor deleted (KH_ERR_CONFLICT); its rotation_days
 * applies as kh_keys_update's would (from the next scheduled rotation). name is for a new key
 * only (with key_tag: KH_ERR_BAD_INPUT); a new key is created in the same transaction.
 */
KH_MUST_CHECK kh_rc kh_keys_xks_key_attach(struct kh_keys *k, const struct kh_principal *p,
                                           int64_t store_id, const struct kh_xks_key_attach *req,
                                           struct kh_xks_key_info *out);
KH_MUST_CHECK kh_rc kh_keys_xks_key_get(struct kh_keys *k, const struct kh_principal *p,
                                        int64_t store_id, const char *external_key_id,
                                        struct kh_xks_key_info *out);
typedef kh_rc (*kh_xks_key_fn)(const struct kh_xks_key_info *key, void *arg);
/* By external key id, after (exclusive, NULL/"" from the start), at most limit. */
KH_MUST_CHECK kh_rc kh_keys_xks_key_list(struct kh_keys *k, const struct kh_principal *p,
                                         int64_t store_id, const char *after, unsigned limit,
                                         kh_xks_key_fn fn, void *arg, bool *out_more);
struct kh_xks_key_update {
	int usages;                 /* -1: unchanged, else KH_XKS_USE_* bits */
	int64_t expires_at;         /* -1: unchanged, 0: never */
	const char *administrators; /* NULL: unchanged */
	const char *users;
	int rotation_days; /* -1: unchanged (applies to the keyhold key) */
	int enabled;       /* -1: unchanged; else enables or disables the keyhold key */
};
KH_MUST_CHECK kh_rc kh_keys_xks_key_update(struct kh_keys *k, const struct kh_principal *p,
                                           int64_t store_id, const char *external_key_id,
                                           const struct kh_xks_key_update *u,
                                           struct kh_xks_key_info *out);
/* Detaches; the keyhold key stays. */
KH_MUST_CHECK kh_rc kh_keys_xks_key_detach(struct kh_keys *k, const struct kh_principal *p,
                                           int64_t store_id, const char *external_key_id);

/* ---- the XKS proxy's path (no principal yet: the caller is authenticating) ---- */

/* The store of a prefix; KH_ERR_NOT_FOUND for none. Cheap (cached): a change made through this
 * kh_keys is seen at once, one made by another node of a cluster within a second. */
KH_MUST_CHECK kh_rc kh_keys_xks_resolve(struct kh_keys *k, const char *prefix,
                                        struct kh_xks_store_info *out);
/* The secret of a live credential of store (KH_BUF_SECURE out); KH_ERR_NOT_FOUND otherwise,
 * also for an access key id that is not 20-30 of [A-Z2-7]. Cached in secure memory; a
 * revocation through this kh_keys, and a seal, drop the cache at once. */
KH_MUST_CHECK kh_rc kh_keys_xks_secret(struct kh_keys *k, int64_t store_id,
                                       struct kh_slice access_key_id, struct kh_buf *out_secret);

/*
 * One XKS call after authentication. p is a KH_PRINCIPAL_XKS principal of the store. The checks
 * run in XKS.md's order: the external key exists in this store (KH_ERR_NOT_FOUND) → the store is
 * enabled (KH_ERR_CONFLICT) → secondary authorization when the store has it on (KH_ERR_FORBIDDEN;
 * the audit detail names the rule that denied) → size_rc, if not KH_OK (the request's size
 * refusal found while decoding, KH_ERR_TOO_LARGE) → key state and expiry (KH_ERR_KEY_DISABLED,
 * KH_ERR_KEY_PENDING_DELETION) → usage (KH_ERR_WRONG_KEY_TYPE) → the crypto (KH_ERR_DECRYPT).
 *
 * Secondary authorization: metadata needs aws_principal_arn to match an administrators or a
 * users pattern; encrypt and decrypt a users pattern.
 *
 * A principal of another store, or not an XKS principal, is KH_ERR_FORBIDDEN before anything.
 * A deleted key answers KH_ERR_KEY_DISABLED. Every call leaves one record (audit, usage history,
 * and the usage count on success) whose detail is {"kms_request_id", "kms_operation",
 * "aws_principal_arn", "external_key_id"} (each cut to its share of KH_AUDIT_FIELD_MAX,
 * JSON-escaped) plus "rule" ("users" or "administrators,users") on a secondary authorization
 * denial; never plaintext.
 */
struct kh_xks_call {
	int64_t store_id;
	const char *external_key_id;
	/* requestMetadata: NUL-terminated, "" when absent */
	const char *kms_request_id;
	const char *kms_operation;
	const char *aws_principal_arn;
	const char *kms_key_arn;
	const char *kms_via_service;
	const char *aws_source_vpc;
	const char *aws_source_vpce;
	kh_rc size_rc;
};

struct kh_xks_key_state {
	unsigned usages; /* what the key may do now (0 when expired is not implied: see enabled) */
	bool enabled;    /* the key is enabled and not expired (metadata says ENABLED) */
};
/* Metadata never fails on state: a disabled or expired key answers enabled = false. */
KH_MUST_CHECK kh_rc kh_keys_xks_metadata(struct kh_keys *k, const struct kh_principal *p,
                                         const struct kh_xks_call *call,
                                         struct kh_xks_key_state *out);

/* What an encryption gives back: ciphertext (same length as the plaintext), IV, tag,
 * ciphertextMetadata, and the integrity value when asked for. */
struct kh_xks_sealed {
	struct kh_buf ciphertext; /* caller-initialised */
	uint8_t iv[12];
	uint8_t tag[16];
	uint8_t metadata[KH_XKS_CIPHERTEXT_METADATA_LEN];
	uint8_t integrity[32];
};
/*
 * AES-256-GCM under the key's current version, with the associated data of kh_xks_aad(aad,
 * metadata). When want_integrity: the integrity value of kh_xks_integrity, computed before a
 * check-decrypt of the fresh output, which needs the decrypt usage too (KH_ERR_WRONG_KEY_TYPE).
 */
KH_MUST_CHECK kh_rc kh_keys_xks_encrypt(struct kh_keys *k, const struct kh_principal *p,
                                        const struct kh_xks_call *call, struct kh_slice plaintext,
                                        struct kh_slice aad, bool want_integrity,
                                        struct kh_xks_sealed *out);
/* The version comes from metadata (ours: KH_XKS_CIPHERTEXT_METADATA_LEN bytes; anything else
 * KH_ERR_DECRYPT). iv 12 or 16 bytes, tag 16 (else KH_ERR_DECRYPT, checked at the crypto
 * step). out: KH_BUF_SECURE. */
KH_MUST_CHECK kh_rc kh_keys_xks_decrypt(struct kh_keys *k, const struct kh_principal *p,
                                        const struct kh_xks_call *call, struct kh_slice ciphertext,
                                        struct kh_slice iv, struct kh_slice tag,
                                        struct kh_slice metadata, struct kh_slice aad,
                                        struct kh_buf *out);

/* '*' matches any run of characters (empty too), everything else itself. Linear time in
 * practice (no backtracking blow-up). */
bool kh_keys_xks_pattern_match(struct kh_slice pattern, struct kh_slice value);

/* ---- health ---- */

/*
 * The deep check: encrypts and decrypts with a dedicated internal AES-256 test key (a barrier
 * secret made on first use), so the store, the barrier and the crypto are all exercised.
 * KH_ERR_SEALED while sealed.
 */
KH_MUST_CHECK kh_rc kh_keys_xks_selftest(struct kh_keys *k);

/* Live nodes: each keyholdd beats every few seconds; a node is live when its last beat is at
 * most window_ns old. */
#define KH_XKS_NODE_ID_MAX 64u
struct kh_xks_node {
	char id[KH_XKS_NODE_ID_MAX + 1];
	bool sealed;
	bool healthy; /* its last deep check passed */
	int64_t seen_at;
};
/* Upserts self by id (1-64 visible ASCII characters, else KH_ERR_BAD_INPUT); seen_at is the
 * clock's now, self->seen_at is ignored. */
KH_MUST_CHECK kh_rc kh_keys_node_beat(struct kh_keys *k, const struct kh_xks_node *self);
typedef kh_rc (*kh_xks_node_fn)(const struct kh_xks_node *n, void *arg);
KH_MUST_CHECK kh_rc kh_keys_nodes_live(struct kh_keys *k, int64_t window_ns, kh_xks_node_fn fn,
                                       void *arg);

#endif
