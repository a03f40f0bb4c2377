/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key material of one key version and the crypto operations on it, with the wire formats of
 * API.md: ciphertexts, signatures and MACs are strings "kh:v<version>:<base64 blob>".
 *
 * Internal to keys/ (the rest of the program goes through kh_keys.h). No storage, no policy:
 * keys/ decides who may do what and which version to use; this file turns a version's secret
 * into a ready object and performs the operation, binding every ciphertext to its key tag and
 * version.
 *
 * Blob formats (format byte first, so they can evolve):
 *   symmetric encrypt  0x01 | nonce (12) | ciphertext | tag (16)
 *                      AEAD associated data = "keyhold/v1/encrypt" 0x00 | tag | 0x00 |
 *                      BE32(version) | BE32(len(context)) | context
 *                      Convergent keys derive the nonce: first 12 bytes of
 *                      HMAC-SHA-256(HKDF(secret, "keyhold/v1/convergent-nonce"), AD || plaintext).
 *   RSA/SM2 encrypt    0x02 | public-key ciphertext of (binding (16) | plaintext), where
 *                      binding = first 16 bytes of SHA-256(AD), checked in constant time.
 *   signature          0x01 | signature bytes (DER for ECDSA and SM2, raw for RSA and Ed25519)
 *   mac                0x01 | HMAC-SHA-256(secret, message) (32)
 * The key tag is framed by NUL bytes, so tags may not contain one (ours are hex); an empty tag or
 * version 0 is KH_ERR_BAD_INPUT. The RSA/SM2 binding stops replay under another key, version or
 * context; it does not authenticate the sender (anyone with the public key can encrypt), and it
 * takes 16 bytes of the key's capacity (RSA-2048 carries 174 bytes of plaintext).
 * Messages to MAC share the signing limit, KH_LIMIT_SIGN_MESSAGE_BYTES.
 */
#ifndef KH_KEYMAT_H
#define KH_KEYMAT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/kh_buf.h"
#include "base/kh_rc.h"
#include "keys/kh_keys_types.h"

/* "kh:v4294967295:" */
#define KH_KEYMAT_PREFIX_MAX 16u

/* A key version ready for use. Thread-safe: may be shared by threads (it serialises its own
 * use of one-thread-at-a-time crypto objects). */
struct kh_keymat;

/*
 * New material for a version of a key of this type: out_secret (a KH_BUF_SECURE buffer) gets
 * the raw 32 bytes for symmetric and HMAC types, PKCS#8 DER for asymmetric types; out_public
 * gets SubjectPublicKeyInfo DER for asymmetric types and stays empty otherwise.
 */
KH_MUST_CHECK kh_rc kh_keymat_generate(enum kh_key_type type, struct kh_buf *out_secret,
                                       struct kh_buf *out_public);

/* Loads a secret made by kh_keymat_generate (DER only for asymmetric types); KH_ERR_BAD_KEY if
 * it does not fit the type. */
KH_MUST_CHECK kh_rc kh_keymat_load(enum kh_key_type type, struct kh_slice secret,
                                   struct kh_keymat **out);
void kh_keymat_free(struct kh_keymat **m);
enum kh_key_type kh_keymat_type(const struct kh_keymat *m);

/* What a ciphertext is bound to. */
struct kh_keymat_bind {
	struct kh_slice key_tag;
	uint32_t version;
	struct kh_slice context; /* caller's associated data, may be empty */
};

/* Splits "kh:v<N>:<base64>" into the version and the decoded blob (appended to out_blob).
 * Versions are 1..2^32-1, written without leading zeros; anything else is KH_ERR_BAD_ENCODING. */
KH_MUST_CHECK kh_rc kh_keymat_text_parse(struct kh_slice text, uint32_t *out_version,
                                         struct kh_buf *out_blob);

/* Symmetric types (and RSA/SM2 with usage encrypt-decrypt). Appends "kh:v<N>:..." to out. */
KH_MUST_CHECK kh_rc kh_keymat_encrypt(struct kh_keymat *m, bool convergent,
                                      const struct kh_keymat_bind *bind, struct kh_slice pt,
                                      struct kh_buf *out);
/* blob is the decoded part of the text; appends the plaintext to a secure buffer.
 * KH_ERR_DECRYPT for anything that does not authenticate (wrong key, version or context). */
KH_MUST_CHECK kh_rc kh_keymat_decrypt(struct kh_keymat *m, const struct kh_keymat_bind *bind,
                                      struct kh_slice blob, struct kh_buf *out);

/*
 * Signing keys. alg 0 = the type's default (kh_sig_default); RSA also accepts
 * KH_SIG_RSA_PKCS1_SHA256. is_digest: msg is a digest the caller computed (SHA-256, SHA-384
 * for P-384, SM3(Z||M) for SM2; Ed25519 has no digest mode). Appends "kh:v<N>:..." to out.
 */
KH_MUST_CHECK kh_rc kh_keymat_sign(struct kh_keymat *m, uint32_t version, int alg, bool is_digest,
                                   struct kh_slice msg, struct kh_buf *out);
/* blob from kh_keymat_text_parse. *out_valid false for a wrong or malformed signature. */
KH_MUST_CHECK kh_rc kh_keymat_verify(struct kh_keymat *m, int alg, bool is_digest,
                                     struct kh_slice msg, struct kh_slice blob, bool *out_valid);

/* HMAC keys. */
KH_MUST_CHECK kh_rc kh_keymat_mac(struct kh_keymat *m, uint32_t version, struct kh_slice msg,
                                  struct kh_buf *out);
KH_MUST_CHECK kh_rc kh_keymat_verify_mac(struct kh_keymat *m, struct kh_slice msg,
                                         struct kh_slice blob, bool *out_valid);

/*
 * AEAD types: the bare AEAD with the caller's nonce and associated data, for ciphertext formats
 * fixed elsewhere (XKS.md: AES-256-GCM with a 12-byte IV, 16-byte IVs on decryption). Arguments
 * and errors as kh_aead_seal / kh_aead_open; other types KH_ERR_WRONG_KEY_TYPE. pt_out is
 * caller memory for ct.len bytes (secret: secure memory).
 */
KH_MUST_CHECK kh_rc kh_keymat_aead_seal(struct kh_keymat *m, struct kh_slice nonce,
                                        struct kh_slice ad, struct kh_slice pt, uint8_t *ct_out,
                                        uint8_t *tag_out);
KH_MUST_CHECK kh_rc kh_keymat_aead_open(struct kh_keymat *m, struct kh_slice nonce,
                                        struct kh_slice ad, struct kh_slice ct, struct kh_slice tag,
                                        uint8_t *pt_out);

struct kh_pkey;
/* Asymmetric types: the key itself, borrowed for the life of m (NULL for other types). */
const struct kh_pkey *kh_keymat_pkey(const struct kh_keymat *m);

/* Asymmetric types: appends the public key as PEM. */
KH_MUST_CHECK kh_rc kh_keymat_public_pem(struct kh_keymat *m, struct kh_buf *out);

#endif
