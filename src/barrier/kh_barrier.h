/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The barrier: the root of trust (ARCHITECTURE.md). It holds the root key terms while unsealed
 * and is the only code that encrypts secrets for storage.
 *
 * At init a random 256-bit unseal key is split with Shamir's scheme into n shares, threshold k.
 * The unseal key encrypts the keyring (the list of root key terms) stored in meta. Unsealing
 * combines k shares, decrypts the keyring and keeps it in secure memory; sealing wipes it. With
 * a PKCS#11 token configured, init also wraps the unseal key under an AES key in the token, and
 * kh_barrier_unseal_auto() unseals from the token alone (the shares then serve as recovery
 * shares).
 *
 * Every secret stored by the layers above goes through kh_barrier_put/get: AES-256-GCM under
 * the current term, with associated data binding it to its scope (a row address such as
 * "key/<keystore>/<key>/<version>"), so a blob copied to another row does not decrypt.
 *
 * Stored formats (format byte first):
 *   meta barrier.config   0x01 | seal kind (1: shares, 2: shares + pkcs11) | n | k | set id (8)
 *   meta barrier.keyring  0x01 | nonce (12) | AES-GCM(unseal key, keyring) | tag (16),
 *                         AD "keyhold/v1/keyring"; keyring = 0x01 | current term (4) |
 *                         count (4) | count x [term (4) | created (8) | key (32)]
 *   meta barrier.hsm      kh_pkcs11_encrypt(unseal key), AD "keyhold/v1/hsm-unseal-key"
 *   sealed.blob           0x01 | term (4) | nonce (12) | ciphertext | tag (16),
 *                         AD "keyhold/v1/sealed" 0x00 | term (4) | scope
 * Integers are big-endian.
 *
 * Thread-safe. Every call that needs the keyring fails with KH_ERR_SEALED while sealed.
 */
#ifndef KH_BARRIER_H
#define KH_BARRIER_H

#include <stdbool.h>
#include <stdint.h>

#include "barrier/kh_pkcs11.h"
#include "base/kh_buf.h"
#include "base/kh_clock.h"
#include "base/kh_rc.h"
#include "store/kh_store.h"

/* Longest scope string (row address) accepted. */
#define KH_BARRIER_SCOPE_MAX 200u
/* Largest secret stored through the barrier (an RSA-4096 PKCS#8 key is about 2.4 KiB). */
#define KH_BARRIER_SECRET_MAX (64u * 1024u)

struct kh_barrier;

struct kh_barrier_options {
	struct kh_store *store;
	const struct kh_clock *clock;
	/* NULL: shares only. Otherwise init wraps the unseal key in this token too. */
	const struct kh_pkcs11_config *pkcs11;
};

KH_MUST_CHECK kh_rc kh_barrier_new(const struct kh_barrier_options *opts, struct kh_barrier **out);
/* Seals (wiping everything) and frees. */
void kh_barrier_free(struct kh_barrier **b);

struct kh_barrier_status {
	bool initialized;
	bool sealed;
	bool hsm; /* a PKCS#11 token also holds the unseal key */
	unsigned shares;
	unsigned threshold;
	unsigned progress; /* shares given so far towards unsealing */
	uint32_t term;     /* current root key term (0 while sealed) */
	uint32_t oldest_term;
};
KH_MUST_CHECK kh_rc kh_barrier_status(struct kh_barrier *b, struct kh_barrier_status *out);

/* Shares as handed to custodians: secure buffers, wiped by kh_barrier_shares_free. */
struct kh_barrier_shares {
	unsigned count;
	struct kh_buf share[];
};
void kh_barrier_shares_free(struct kh_barrier_shares **s);

/*
 * Once per store: creates the unseal key, its shares (1 <= k <= n <= 255; k = 1 only with
 * n = 1) and the first root key term. The barrier stays sealed. KH_ERR_CONFLICT if already
 * initialised. With a token configured, the token key is created if absent.
 */
KH_MUST_CHECK kh_rc kh_barrier_init(struct kh_barrier *b, unsigned n, unsigned k,
                                    struct kh_barrier_shares **out);

struct kh_barrier_progress {
	bool sealed;
	unsigned progress;
	unsigned threshold;
};
/*
 * Gives one share (its binary form). Errors: KH_ERR_CONFLICT (not initialised, or a share
 * with the same index already given: progress kept), KH_ERR_BAD_SHARE (malformed, mistyped,
 * from another split, or, at the threshold, shares that do not open the keyring: progress
 * reset). Unsealing an unsealed barrier is KH_OK.
 */
KH_MUST_CHECK kh_rc kh_barrier_unseal(struct kh_barrier *b, struct kh_slice share,
                                      struct kh_barrier_progress *out);
/* Forgets the shares given so far. */
void kh_barrier_unseal_reset(struct kh_barrier *b);
/* Unseals with the PKCS#11 token. KH_ERR_CONFLICT without a token in the configuration or
 * the store; token errors as kh_pkcs11.h. */
KH_MUST_CHECK kh_rc kh_barrier_unseal_auto(struct kh_barrier *b);
/* Wipes the keyring and unseal key, then tells the seal listeners. Sealing a sealed barrier is
 * KH_OK. */
KH_MUST_CHECK kh_rc kh_barrier_seal(struct kh_barrier *b);

/* Called after every seal (e.g. to drop caches of unwrapped keys); at most 8 listeners. A
 * listener must not call back into the barrier. */
typedef void (*kh_barrier_seal_fn)(void *arg);
KH_MUST_CHECK kh_rc kh_barrier_on_seal(struct kh_barrier *b, kh_barrier_seal_fn fn, void *arg);
/* Removes a listener (before freeing what arg points to). */
void kh_barrier_off_seal(struct kh_barrier *b, kh_barrier_seal_fn fn, void *arg);

/*
 * Replaces the shares: old_shares (at least the threshold) must open the keyring; a new unseal
 * key is made, the keyring re-encrypted under it (and re-wrapped in the token), and new shares
 * returned. Stored secrets are untouched. Works sealed or unsealed.
 */
KH_MUST_CHECK kh_rc kh_barrier_rekey(struct kh_barrier *b, const struct kh_slice *old_shares,
                                     size_t old_count, unsigned n, unsigned k,
                                     struct kh_barrier_shares **out);

/* Adds a root key term; new writes use it from now on. */
KH_MUST_CHECK kh_rc kh_barrier_rotate_root(struct kh_barrier *b, uint32_t *out_term);
/*
 * Background work after rotate_root: re-encrypts up to max_rows secrets stored under older
 * terms with the current one, in one transaction. When none remain, older terms are dropped
 * from the keyring. *out_remaining: secrets still under older terms.
 */
KH_MUST_CHECK kh_rc kh_barrier_rewrap(struct kh_barrier *b, size_t max_rows, size_t *out_rewrapped,
                                      size_t *out_remaining);

/* ---- secrets, inside the caller's write (or read) transaction ---- */

/* Stores (or replaces) the secret at scope. */
KH_MUST_CHECK kh_rc kh_barrier_put(struct kh_barrier *b, struct kh_store_tx *tx, const char *scope,
                                   struct kh_slice secret);
/* Appends the secret at scope to a KH_BUF_SECURE buffer. KH_ERR_NOT_FOUND if absent;
 * KH_ERR_DECRYPT if the row does not authenticate (tampered or moved). */
KH_MUST_CHECK kh_rc kh_barrier_get(struct kh_barrier *b, struct kh_store_tx *tx, const char *scope,
                                   struct kh_buf *out);
/* Destroys the secret at scope (secure_delete overwrites it in the file); absent is KH_OK. */
KH_MUST_CHECK kh_rc kh_barrier_delete(struct kh_barrier *b, struct kh_store_tx *tx,
                                      const char *scope);
/* Destroys every secret whose scope starts with prefix (e.g. all versions of a key). */
KH_MUST_CHECK kh_rc kh_barrier_delete_prefix(struct kh_barrier *b, struct kh_store_tx *tx,
                                             const char *prefix);

#endif
