/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside barrier/: the in-memory state and the keyring format shared by barrier.c (seal,
 * unseal, init, rekey), keyring.c (terms, rotation, rewrap) and secrets.c (put, get).
 */
#ifndef KH_BARRIER_INT_H
#define KH_BARRIER_INT_H

#include <pthread.h>

#include "barrier/kh_barrier.h"
#include "base/kh_endian.h"
#include "base/kh_limits.h"

#define KH_BARRIER_KEY_LEN 32u
#define KH_BARRIER_SET_ID_LEN 8u
#define KH_BARRIER_FORMAT 1u
#define KH_BARRIER_MAX_LISTENERS 8u
/* A keyring keeps at most this many terms; rotate-root beyond it waits for rewrap. */
#define KH_BARRIER_MAX_TERMS 64u

#define KH_META_CONFIG "barrier.config"
#define KH_META_KEYRING "barrier.keyring"
#define KH_META_HSM "barrier.hsm"

enum kh_seal_kind {
	KH_SEAL_SHARES = 1,
	KH_SEAL_SHARES_HSM = 2,
};

struct kh_barrier_config {
	enum kh_seal_kind kind;
	unsigned shares;
	unsigned threshold;
	uint8_t set_id[KH_BARRIER_SET_ID_LEN];
};

struct kh_barrier_term {
	uint32_t term;
	int64_t created_ns;
	uint8_t *key; /* secure, KH_BARRIER_KEY_LEN */
};

struct kh_barrier_keyring {
	uint32_t current;
	size_t count;
	struct kh_barrier_term terms[KH_BARRIER_MAX_TERMS];
};

struct kh_barrier_listener {
	kh_barrier_seal_fn fn;
	void *arg;
};

struct kh_barrier {
	struct kh_store *store;
	const struct kh_clock *clock;
	const struct kh_pkcs11_config *pkcs11;

	/* Serialises init, unseal, rekey, rotation and rewrap (the keyring's writers). */
	pthread_mutex_t admin;
	struct kh_buf pending[KH_LIMIT_SHARES_MAX];
	unsigned pending_count;

	/* Guards the unsealed state below; readers are put and get. */
	pthread_rwlock_t lock;
	bool unsealed;
	uint8_t *unseal_key; /* secure */
	struct kh_barrier_keyring ring;

	pthread_mutex_t listeners_mu;
	struct kh_barrier_listener listeners[KH_BARRIER_MAX_LISTENERS];
	size_t listener_count;
};

/* keyring.c */
void kh_barrier_keyring_wipe(struct kh_barrier_keyring *ring);
/* Appends a term with the given key (NULL: a fresh random key). */
KH_MUST_CHECK kh_rc kh_barrier_keyring_push(struct kh_barrier_keyring *ring, uint32_t term,
                                            int64_t created_ns, const uint8_t *key);
/* A copy of the live keyring; KH_ERR_SEALED while sealed. */
KH_MUST_CHECK kh_rc kh_barrier_ring_live_copy(struct kh_barrier *b, struct kh_barrier_keyring *out);
/* Stores next as the keyring and, once committed, makes it the live one (takes its terms).
 * Caller holds admin. */
KH_MUST_CHECK kh_rc kh_barrier_ring_replace(struct kh_barrier *b, struct kh_barrier_keyring *next);
KH_MUST_CHECK kh_rc kh_barrier_keyring_add(struct kh_barrier_keyring *ring, uint32_t term,
                                           int64_t created_ns);
/* Encrypts ring under unseal_key into out (the barrier.keyring value). */
KH_MUST_CHECK kh_rc kh_barrier_keyring_seal(const struct kh_barrier_keyring *ring,
                                            struct kh_slice unseal_key, struct kh_buf *out);
/* Decrypts a barrier.keyring value; KH_ERR_DECRYPT with the wrong unseal key. */
KH_MUST_CHECK kh_rc kh_barrier_keyring_open(struct kh_slice blob, struct kh_slice unseal_key,
                                            struct kh_barrier_keyring *out);
const struct kh_barrier_term *kh_barrier_keyring_find(const struct kh_barrier_keyring *ring,
                                                      uint32_t term);
/* AES-256-GCM with a random nonce: appends nonce | ct | tag. */
KH_MUST_CHECK kh_rc kh_barrier_aead_seal(struct kh_slice key, struct kh_slice aad,
                                         struct kh_slice pt, struct kh_buf *out);
/* Opens nonce | ct | tag into a secure buffer. */
KH_MUST_CHECK kh_rc kh_barrier_aead_open(struct kh_slice key, struct kh_slice aad,
                                         struct kh_slice blob, struct kh_buf *out);

/* meta.c */
#define KH_BARRIER_CONFIG_LEN (4u + KH_BARRIER_SET_ID_LEN)
#define KH_BARRIER_META_MAX (64u * 1024u)
/* Reads one meta value in its own read transaction. */
KH_MUST_CHECK kh_rc kh_barrier_meta_read(struct kh_barrier *b, const char *name, struct kh_buf *out,
                                         bool *out_found);
KH_MUST_CHECK kh_rc kh_barrier_meta_get(struct kh_store_tx *tx, const char *name,
                                        struct kh_buf *out, bool *out_found);
KH_MUST_CHECK kh_rc kh_barrier_meta_put(struct kh_store_tx *tx, const char *name,
                                        struct kh_slice value);
KH_MUST_CHECK kh_rc kh_barrier_config_load(struct kh_barrier *b, struct kh_barrier_config *out,
                                           bool *out_found);

/* backup.c's view of the live barrier (keyring.c). The configuration, the stored keyring value
 * and a copy of the live keyring, read together under admin so that they agree (no rotation or
 * rekey between them); KH_ERR_SEALED while sealed. */
KH_MUST_CHECK kh_rc kh_barrier_backup_source(struct kh_barrier *b,
                                             struct kh_barrier_config *out_cfg,
                                             struct kh_buf *out_keyring,
                                             struct kh_barrier_keyring *out_ring);
/* Opens a keyring value kept elsewhere (a backup's copy) with the live unseal key: a backup made
 * under a term that rewrap has since retired. KH_ERR_SEALED while sealed, KH_ERR_DECRYPT when
 * the value is not under this unseal key. */
KH_MUST_CHECK kh_rc kh_barrier_ring_open_live(struct kh_barrier *b, struct kh_slice blob,
                                              struct kh_barrier_keyring *out);

/* secrets.c: re-encrypts one stored blob under the current term (caller holds the lock). */
KH_MUST_CHECK kh_rc kh_barrier_secret_reseal(const struct kh_barrier_keyring *ring,
                                             const char *scope, struct kh_slice blob,
                                             struct kh_buf *out);

#endif
