/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A PKCS#11 token as a seal: an AES-256 key that never leaves the token encrypts (AES-GCM,
 * CKM_AES_GCM) the barrier's unseal key, so a node can unseal itself at start. The vendor
 * module is loaded with dlopen; the only header is the standard pkcs11.h (p11-kit's copy).
 *
 * Internal to barrier/. Thread-safe: calls on one token are serialised.
 */
#ifndef KH_PKCS11_H
#define KH_PKCS11_H

#include <stdbool.h>

#include "base/kh_buf.h"
#include "base/kh_rc.h"

struct kh_pkcs11_config {
	const char *module_path; /* e.g. /usr/lib/softhsm/libsofthsm2.so */
	const char *token_label; /* the token is found by label among the slots with a token */
	struct kh_slice pin;     /* user PIN (secret; never logged) */
	const char *key_label;   /* CKA_LABEL of the AES key */
};

struct kh_pkcs11;

/* Loads the module, finds the token, opens a read-write session and logs in as user.
 * Errors: KH_ERR_BAD_INPUT (module path not absolute, cannot be loaded, not PKCS#11),
 * KH_ERR_NOT_FOUND (no token with that label), KH_ERR_CONFLICT (several tokens with it),
 * KH_ERR_UNAUTHENTICATED (wrong PIN), KH_ERR_INTERNAL (other token errors). A PKCS#11 login
 * belongs to the whole process: while another object of this process is logged in to the token,
 * the token does not check the PIN again. */
KH_MUST_CHECK kh_rc kh_pkcs11_open(const struct kh_pkcs11_config *cfg, struct kh_pkcs11 **out);
void kh_pkcs11_close(struct kh_pkcs11 **p);

/* Finds the AES key by label; with create, generates it in the token when absent (256-bit,
 * CKA_TOKEN, CKA_SENSITIVE, not extractable, encrypt/decrypt only). KH_ERR_NOT_FOUND if absent
 * and not create; KH_ERR_CONFLICT if several keys carry the label; KH_ERR_BAD_KEY if the key
 * under the label is not a sensitive, non-extractable AES-256 encrypt/decrypt key. Encrypt and
 * decrypt before a successful find are KH_ERR_INTERNAL. */
KH_MUST_CHECK kh_rc kh_pkcs11_key_find(struct kh_pkcs11 *p, bool create);

/* Appends nonce (12) | ciphertext | tag (16) of plaintext under the token key, with aad. */
KH_MUST_CHECK kh_rc kh_pkcs11_encrypt(struct kh_pkcs11 *p, struct kh_slice plaintext,
                                      struct kh_slice aad, struct kh_buf *out);
/* Appends the plaintext to a secure buffer; KH_ERR_DECRYPT if it does not authenticate. */
KH_MUST_CHECK kh_rc kh_pkcs11_decrypt(struct kh_pkcs11 *p, struct kh_slice blob,
                                      struct kh_slice aad, struct kh_buf *out);

#endif
