/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The crypto layer: every primitive keyhold uses, over OpenSSL 3, and nothing else includes
 * OpenSSL. Callers see slices, buffers, opaque key objects and kh_rc codes:
 *
 *   KH_ERR_BAD_INPUT       wrong lengths, unknown algorithm values
 *   KH_ERR_BAD_KEY         malformed DER/PEM, wrong key length, unusable key
 *   KH_ERR_WRONG_KEY_TYPE  the key cannot do this operation (sign with X25519, OAEP with EC...)
 *   KH_ERR_DECRYPT         authentication tag mismatch, bad padding, wrong associated data
 *   KH_ERR_BAD_SIGNATURE   signature or MAC does not verify
 *   KH_ERR_TOO_LARGE       input above a kh_limits.h bound
 *   KH_ERR_NOMEM           allocation failed (ours or the library's)
 *   KH_ERR_LIBCRYPTO       the library failed where it should not (details in the debug log)
 *
 * Secret outputs (private keys, decrypted plaintext, data keys, shares, recovered secrets) are
 * written only into caller-provided KH_BUF_SECURE buffers or caller memory; functions that
 * return secrets into a kh_buf refuse a non-secure buffer with KH_ERR_INTERNAL.
 *
 * kh_crypto_init must run once before anything else (it is idempotent and thread-safe).
 */
#ifndef KH_CRYPTO_H
#define KH_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kh_buf.h"

/* Fetches algorithm implementations once and sets up OpenSSL's secure heap. */
KH_MUST_CHECK kh_rc kh_crypto_init(void);
/* Frees what the library keeps for the calling thread (its error queue, its random generators);
 * the thread's next call makes them again. The library does this itself when a thread ends; a
 * fuzz target calls it after each input, so that every input allocates and frees alike. */
void kh_crypto_thread_cleanup(void);
/* "OpenSSL 3.0.x ..." as reported by the library at run time. */
const char *kh_crypto_library_version(void);
/* Power-on self-test: a known-answer check of every primitive; KH_OK or the failing code. */
KH_MUST_CHECK kh_rc kh_crypto_selftest(void);

/* ---- Randomness (OpenSSL's DRBG, seeded from the kernel) ---- */

/* Public randomness: nonces, identifiers, serial numbers. */
KH_MUST_CHECK kh_rc kh_rand_bytes(uint8_t *out, size_t len);
/* Randomness that becomes a secret: keys, polynomial coefficients (RAND_priv_bytes). */
KH_MUST_CHECK kh_rc kh_rand_secret(uint8_t *out, size_t len);

/* Constant-time equality; the lengths themselves are treated as public. */
bool kh_ct_eq(struct kh_slice a, struct kh_slice b);

/* ---- Digests, HMAC, HKDF ---- */

enum kh_hash {
	KH_HASH_SHA256 = 1,
	KH_HASH_SHA384,
	KH_HASH_SHA512,
	KH_HASH_SM3,
};
#define KH_HASH_MAX_LEN 64

/* Digest length in bytes, 0 for an unknown value. */
size_t kh_hash_len(enum kh_hash alg);
/* Writes exactly kh_hash_len(alg) bytes; out_len must be at least that. */
KH_MUST_CHECK kh_rc kh_hash(enum kh_hash alg, struct kh_slice in, uint8_t *out, size_t out_len);

/* Streaming digest, for inputs that arrive in pieces (files, hash chains). */
struct kh_hash_ctx;
KH_MUST_CHECK kh_rc kh_hash_ctx_new(enum kh_hash alg, struct kh_hash_ctx **out);
KH_MUST_CHECK kh_rc kh_hash_ctx_update(struct kh_hash_ctx *ctx, struct kh_slice in);
/* Finishes the digest; the context can then be freed or reused from scratch by _reset. */
KH_MUST_CHECK kh_rc kh_hash_ctx_final(struct kh_hash_ctx *ctx, uint8_t *out, size_t out_len);
KH_MUST_CHECK kh_rc kh_hash_ctx_reset(struct kh_hash_ctx *ctx);
void kh_hash_ctx_free(struct kh_hash_ctx **ctx);

/* HMAC over the concatenation of parts (no copies). Writes kh_hash_len(alg) bytes. */
KH_MUST_CHECK kh_rc kh_hmac_parts(enum kh_hash alg, struct kh_slice key,
                                  const struct kh_slice *parts, size_t part_count, uint8_t *out,
                                  size_t out_len);
KH_MUST_CHECK kh_rc kh_hmac(enum kh_hash alg, struct kh_slice key, struct kh_slice data,
                            uint8_t *out, size_t out_len);
/* KH_OK when tag equals HMAC(key, data) (compared in constant time; a truncated tag of at
 * least 16 bytes is accepted as a prefix), else KH_ERR_BAD_SIGNATURE. */
KH_MUST_CHECK kh_rc kh_hmac_verify(enum kh_hash alg, struct kh_slice key, struct kh_slice data,
                                   struct kh_slice tag);

/* RFC 5869 extract-and-expand. out_len <= 255 * kh_hash_len(alg). Empty salt is allowed. */
KH_MUST_CHECK kh_rc kh_hkdf(enum kh_hash alg, struct kh_slice ikm, struct kh_slice salt,
                            struct kh_slice info, uint8_t *out, size_t out_len);

/* ---- Authenticated encryption ---- */

enum kh_aead {
	KH_AEAD_AES_256_GCM = 1,
	KH_AEAD_CHACHA20_POLY1305,
	/*
	 * SM4 in CTR mode, then HMAC-SM3 (encrypt-then-MAC; OpenSSL 3.0 has no SM4-GCM). The
	 * 32-byte key is MAC_KEY (16) || ENC_KEY (16), as in RFC 7518 5.2.2. The counter block
	 * starts at nonce (12) || BE32(1). tag = first 16 bytes of
	 * HMAC-SM3(MAC_KEY, aad || nonce || ciphertext || BE64(8 * len(aad))).
	 */
	KH_AEAD_SM4_CTR_HMAC_SM3,
};
#define KH_AEAD_KEY_LEN 32   /* every AEAD here takes a 32-byte key */
#define KH_AEAD_NONCE_LEN 12 /* the standard nonce; AES-GCM also accepts 16 (XKS decrypt) */
#define KH_AEAD_TAG_LEN 16

/*
 * A key ready for use (key schedule computed once). One thread at a time may use a key
 * object; kh_aead_key_dup gives another thread its own copy cheaply. The key bytes are copied
 * into secure memory; the caller may wipe its own copy at once.
 */
struct kh_aead_key;
KH_MUST_CHECK kh_rc kh_aead_key_new(enum kh_aead alg, struct kh_slice key,
                                    struct kh_aead_key **out);
KH_MUST_CHECK kh_rc kh_aead_key_dup(const struct kh_aead_key *key, struct kh_aead_key **out);
enum kh_aead kh_aead_key_alg(const struct kh_aead_key *key);
void kh_aead_key_free(struct kh_aead_key **key);

/*
 * ct_out receives pt.len bytes (it may be pt.ptr itself), tag_out KH_AEAD_TAG_LEN bytes.
 * The caller chooses the nonce and must never repeat one under a key (use kh_rand_bytes).
 * pt.len <= 2^31; aad.len <= 2^31.
 */
KH_MUST_CHECK kh_rc kh_aead_seal(struct kh_aead_key *key, struct kh_slice nonce,
                                 struct kh_slice aad, struct kh_slice pt, uint8_t *ct_out,
                                 uint8_t *tag_out);
/* pt_out receives ct.len bytes and is wiped if the tag does not verify (KH_ERR_DECRYPT). */
KH_MUST_CHECK kh_rc kh_aead_open(struct kh_aead_key *key, struct kh_slice nonce,
                                 struct kh_slice aad, struct kh_slice ct, struct kh_slice tag,
                                 uint8_t *pt_out);

/* ---- AES key wrap with padding (RFC 5649), for key import and export ---- */

/* kek is 16, 24 or 32 bytes; in is 1..KH_LIMIT_KEYWRAP_BYTES. Appends the wrapped key. */
KH_MUST_CHECK kh_rc kh_keywrap_wrap(struct kh_slice kek, struct kh_slice in, struct kh_buf *out);
/* Appends the unwrapped key to a secure buffer; KH_ERR_DECRYPT when the integrity check fails. */
KH_MUST_CHECK kh_rc kh_keywrap_unwrap(struct kh_slice kek, struct kh_slice in, struct kh_buf *out);

/* ---- Asymmetric keys ---- */

enum kh_pkey_type {
	KH_PKEY_RSA_2048 = 1,
	KH_PKEY_RSA_3072,
	KH_PKEY_RSA_4096,
	KH_PKEY_EC_P256,
	KH_PKEY_EC_P384,
	KH_PKEY_ED25519,
	KH_PKEY_SM2,
};

/* An asymmetric key, private (with its public half) or public only. Thread-safe to share
 * for signing, verifying, encrypting and decrypting. */
struct kh_pkey;
KH_MUST_CHECK kh_rc kh_pkey_generate(enum kh_pkey_type type, struct kh_pkey **out);
/* PKCS#8 private key, DER or PEM ("-----BEGIN PRIVATE KEY-----"); unencrypted. */
KH_MUST_CHECK kh_rc kh_pkey_import_private(struct kh_slice data, struct kh_pkey **out);
/* SubjectPublicKeyInfo, DER or PEM ("-----BEGIN PUBLIC KEY-----"). */
KH_MUST_CHECK kh_rc kh_pkey_import_public(struct kh_slice data, struct kh_pkey **out);
enum kh_pkey_type kh_pkey_type_of(const struct kh_pkey *key);
bool kh_pkey_has_private(const struct kh_pkey *key);
/* Private exports go only to KH_BUF_SECURE buffers. */
KH_MUST_CHECK kh_rc kh_pkey_export_private_der(const struct kh_pkey *key, struct kh_buf *out);
KH_MUST_CHECK kh_rc kh_pkey_export_private_pem(const struct kh_pkey *key, struct kh_buf *out);
KH_MUST_CHECK kh_rc kh_pkey_export_public_der(const struct kh_pkey *key, struct kh_buf *out);
KH_MUST_CHECK kh_rc kh_pkey_export_public_pem(const struct kh_pkey *key, struct kh_buf *out);
void kh_pkey_free(struct kh_pkey **key);

enum kh_sig_alg {
	KH_SIG_RSA_PSS_SHA256 = 1, /* MGF1-SHA-256, salt length 32 */
	KH_SIG_RSA_PKCS1_SHA256,
	KH_SIG_ECDSA_SHA256, /* DER-encoded (r, s) */
	KH_SIG_ECDSA_SHA384,
	KH_SIG_ED25519, /* pure Ed25519 (RFC 8032); no digest mode */
	KH_SIG_SM2_SM3, /* GM/T 0003 with SM3 and a distinguishing ID; DER (r, s) */
};
/* The algorithm a key type signs with when the caller does not choose. */
enum kh_sig_alg kh_sig_default(enum kh_pkey_type type);

/* GM/T 0009 default SM2 distinguishing ID, used when sm2_id is empty. */
#define KH_SM2_DEFAULT_ID "1234567812345678"

/* sm2_id is used only by KH_SIG_SM2_SM3 (empty = KH_SM2_DEFAULT_ID). Appends the signature. */
KH_MUST_CHECK kh_rc kh_pkey_sign(const struct kh_pkey *key, enum kh_sig_alg alg,
                                 struct kh_slice msg, struct kh_slice sm2_id,
                                 struct kh_buf *sig_out);
/* KH_OK or KH_ERR_BAD_SIGNATURE (also for a malformed signature). */
KH_MUST_CHECK kh_rc kh_pkey_verify(const struct kh_pkey *key, enum kh_sig_alg alg,
                                   struct kh_slice msg, struct kh_slice sm2_id,
                                   struct kh_slice sig);
/*
 * Sign a digest the caller computed: SHA-256 (32 bytes) or SHA-384 (48) as alg says; for SM2
 * the digest is e = SM3(Z || M) (32 bytes), Z already including the ID. Ed25519 has no
 * digest mode (KH_ERR_WRONG_KEY_TYPE).
 */
KH_MUST_CHECK kh_rc kh_pkey_sign_digest(const struct kh_pkey *key, enum kh_sig_alg alg,
                                        struct kh_slice digest, struct kh_buf *sig_out);
KH_MUST_CHECK kh_rc kh_pkey_verify_digest(const struct kh_pkey *key, enum kh_sig_alg alg,
                                          struct kh_slice digest, struct kh_slice sig);

/*
 * Public-key encryption: RSA keys use OAEP with SHA-256 and MGF1-SHA-256 (no label); SM2 keys
 * use GM/T 0003.4 with SM3, output DER SEQUENCE {x, y, hash, ciphertext} (C1 C3 C2). Other key
 * types are KH_ERR_WRONG_KEY_TYPE. Plaintext above the key's capacity is KH_ERR_TOO_LARGE.
 */
KH_MUST_CHECK kh_rc kh_pkey_encrypt(const struct kh_pkey *key, struct kh_slice pt,
                                    struct kh_buf *ct_out);
/* Appends to a secure buffer; KH_ERR_DECRYPT for any malformed or altered ciphertext. */
KH_MUST_CHECK kh_rc kh_pkey_decrypt(const struct kh_pkey *key, struct kh_slice ct,
                                    struct kh_buf *pt_out);

/* ---- Shamir secret sharing over GF(2^8) ---- */

/*
 * Share layout (all of it printable only after Base64):
 *   version (1, = 1) | threshold k (1) | index x (1, 1..255) | set id (8, random per split)
 *   | y values (len(secret)) | checksum (4: first bytes of SHA-256 over everything before)
 * The checksum catches a mistyped share; the set id catches a share from another split;
 * combine also refuses duplicate indexes and mixed thresholds or lengths.
 */
#define KH_SHAMIR_OVERHEAD 15u

struct kh_shamir_info {
	unsigned version;
	unsigned threshold;
	unsigned index;
	uint8_t set_id[8];
	size_t secret_len;
};

/* Checks one share's form and checksum without combining; the fuzzed parser. */
KH_MUST_CHECK kh_rc kh_shamir_share_parse(struct kh_slice share, struct kh_shamir_info *out);

/*
 * Splits secret (1..KH_LIMIT_SHAMIR_SECRET_BYTES) into share_count shares, any threshold of
 * which recover it; 2 <= threshold <= share_count <= 255, or the degenerate 1-of-1 split
 * (threshold 1, one share that carries the secret, for dev mode). shares_out is an array of
 * share_count buffers initialised by the caller (KH_BUF_SECURE); each is emptied and receives
 * one share. On failure every buffer is cleared (none is touched when share_count or threshold
 * is out of range, since share_count then cannot be trusted to size the array).
 */
KH_MUST_CHECK kh_rc kh_shamir_split(struct kh_slice secret, unsigned share_count,
                                    unsigned threshold, struct kh_buf *shares_out);
/*
 * Recovers the secret from at least threshold shares into a secure buffer. KH_ERR_BAD_SHARE
 * when a share is malformed, mistyped, foreign, duplicated, or too few were given; then
 * *out_bad_share (if non-NULL) names the first offending input position, or count when the
 * fault is the set as a whole (too few shares).
 */
KH_MUST_CHECK kh_rc kh_shamir_combine(const struct kh_slice *shares, size_t count,
                                      struct kh_buf *secret_out, size_t *out_bad_share);

/* ---- X.509 for TLS before the PKI: a self-signed CA and the server certificates it signs ---- */

/* Appends the PEM of a self-signed CA certificate for key (CN = cn, valid days from now). */
KH_MUST_CHECK kh_rc kh_x509_self_signed_ca(const struct kh_pkey *key, const char *cn, unsigned days,
                                           struct kh_buf *out_pem);
/*
 * Appends the PEM of a TLS server certificate for subject's public key, signed by ca_key whose
 * certificate is ca_cert_pem; subjectAltName lists the DNS names and IP addresses given
 * (NULL-terminated lists, at least one entry in all). KH_ERR_BAD_KEY if ca_key does not match
 * the CA certificate.
 */
KH_MUST_CHECK kh_rc kh_x509_issue_server(const struct kh_pkey *ca_key, struct kh_slice ca_cert_pem,
                                         const struct kh_pkey *subject, const char *cn,
                                         const char *const *dns, const char *const *ips,
                                         unsigned days, struct kh_buf *out_pem);

#endif
