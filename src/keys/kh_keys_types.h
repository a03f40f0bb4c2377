/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vocabulary of keys (API.md): types, usages, states, roles, with their wire names. Shared by
 * keys/ and everything above it.
 */
#ifndef KH_KEYS_TYPES_H
#define KH_KEYS_TYPES_H

#include <stdbool.h>

#include "base/kh_buf.h"
#include "base/kh_rc.h"

enum kh_key_type {
	KH_KEY_AES_256_GCM = 1,
	KH_KEY_SM4,
	KH_KEY_CHACHA20_POLY1305,
	KH_KEY_RSA_2048,
	KH_KEY_RSA_3072,
	KH_KEY_RSA_4096,
	KH_KEY_ECDSA_P256,
	KH_KEY_ECDSA_P384,
	KH_KEY_ED25519,
	KH_KEY_SM2,
	KH_KEY_HMAC_SHA256,
};
#define KH_KEY_TYPE_MAX KH_KEY_HMAC_SHA256

enum kh_key_usage {
	KH_USAGE_ENCRYPT_DECRYPT = 1,
	KH_USAGE_SIGN_VERIFY,
	KH_USAGE_MAC,
};

enum kh_key_state {
	KH_KEY_ENABLED = 1,
	KH_KEY_DISABLED,
	KH_KEY_PENDING_DELETION,
	KH_KEY_DELETED,
};

enum kh_version_state {
	KH_VERSION_ENABLED = 1,
	KH_VERSION_DISABLED,
};

enum kh_role {
	KH_ROLE_MANAGER = 1,
	KH_ROLE_ENCRYPTOR,
	KH_ROLE_DECRYPTOR,
	KH_ROLE_ENCRYPTOR_DECRYPTOR,
	KH_ROLE_REVIEWER,
};
#define KH_ROLE_MAX KH_ROLE_REVIEWER

/* Wire names ("aes-256-gcm", "sign-verify", "pending-deletion", "encryptor-decryptor"); NULL for
 * values outside the enum. The parsers match exactly and return KH_ERR_BAD_INPUT otherwise. */
const char *kh_key_type_name(enum kh_key_type t);
KH_MUST_CHECK kh_rc kh_key_type_parse(struct kh_slice s, enum kh_key_type *out);
const char *kh_key_usage_name(enum kh_key_usage u);
KH_MUST_CHECK kh_rc kh_key_usage_parse(struct kh_slice s, enum kh_key_usage *out);
const char *kh_key_state_name(enum kh_key_state s);
KH_MUST_CHECK kh_rc kh_key_state_parse(struct kh_slice s, enum kh_key_state *out);
const char *kh_version_state_name(enum kh_version_state s);
KH_MUST_CHECK kh_rc kh_version_state_parse(struct kh_slice s, enum kh_version_state *out);
const char *kh_role_name(enum kh_role r);
KH_MUST_CHECK kh_rc kh_role_parse(struct kh_slice s, enum kh_role *out);

/* Whether a type supports a usage (API.md "Usage"), and the usage a type gets by default. */
bool kh_key_type_allows(enum kh_key_type t, enum kh_key_usage u);
enum kh_key_usage kh_key_type_default_usage(enum kh_key_type t);
bool kh_key_type_is_symmetric(enum kh_key_type t); /* AEAD types (not HMAC) */
bool kh_key_type_is_asymmetric(enum kh_key_type t);

#endif
