/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vocabulary of keys (see kh_keys_types.h): one table per enum, indexed by the enum value,
 * giving each value its wire name (API.md "Keys", "Lifecycle rules", "Who may do what"), and one
 * table of type rules giving each key type its class, the usages it allows and its default usage
 * (API.md "Keys": "Usage: encrypt-decrypt ... or sign-verify ..., or mac for HMAC"). Names are
 * matched exactly: case, length and every byte; anything else is KH_ERR_BAD_INPUT.
 */
#include "keys/kh_keys_types.h"

#include <stddef.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define USAGE_BIT(u) (1u << (unsigned)(u))

enum type_class {
	CLASS_AEAD = 1, /* symmetric authenticated encryption */
	CLASS_PKEY,     /* asymmetric */
	CLASS_MAC,
};

struct type_rule {
	const char *name;
	enum type_class cls;
	unsigned usages; /* USAGE_BIT of every allowed usage */
	enum kh_key_usage default_usage;
};

#define ENC USAGE_BIT(KH_USAGE_ENCRYPT_DECRYPT)
#define SIG USAGE_BIT(KH_USAGE_SIGN_VERIFY)
#define MAC USAGE_BIT(KH_USAGE_MAC)

/* API.md "Keys": symmetric AEADs encrypt; RSA encrypts with OAEP-SHA-256 or signs; SM2 encrypts
 * (GM/T 0003.4) or signs; ECDSA and Ed25519 only sign; HMAC only MACs. Signing is the default
 * where both are allowed, as in AWS KMS. */
static const struct type_rule type_rules[KH_KEY_TYPE_MAX + 1] = {
    [KH_KEY_AES_256_GCM] = {"aes-256-gcm", CLASS_AEAD, ENC, KH_USAGE_ENCRYPT_DECRYPT},
    [KH_KEY_SM4] = {"sm4", CLASS_AEAD, ENC, KH_USAGE_ENCRYPT_DECRYPT},
    [KH_KEY_CHACHA20_POLY1305] = {"chacha20-poly1305", CLASS_AEAD, ENC, KH_USAGE_ENCRYPT_DECRYPT},
    [KH_KEY_RSA_2048] = {"rsa-2048", CLASS_PKEY, ENC | SIG, KH_USAGE_SIGN_VERIFY},
    [KH_KEY_RSA_3072] = {"rsa-3072", CLASS_PKEY, ENC | SIG, KH_USAGE_SIGN_VERIFY},
    [KH_KEY_RSA_4096] = {"rsa-4096", CLASS_PKEY, ENC | SIG, KH_USAGE_SIGN_VERIFY},
    [KH_KEY_ECDSA_P256] = {"ecdsa-p256", CLASS_PKEY, SIG, KH_USAGE_SIGN_VERIFY},
    [KH_KEY_ECDSA_P384] = {"ecdsa-p384", CLASS_PKEY, SIG, KH_USAGE_SIGN_VERIFY},
    [KH_KEY_ED25519] = {"ed25519", CLASS_PKEY, SIG, KH_USAGE_SIGN_VERIFY},
    [KH_KEY_SM2] = {"sm2", CLASS_PKEY, ENC | SIG, KH_USAGE_SIGN_VERIFY},
    [KH_KEY_HMAC_SHA256] = {"hmac-sha256", CLASS_MAC, MAC, KH_USAGE_MAC},
};

static const char *const usage_names[] = {
    [KH_USAGE_ENCRYPT_DECRYPT] = "encrypt-decrypt",
    [KH_USAGE_SIGN_VERIFY] = "sign-verify",
    [KH_USAGE_MAC] = "mac",
};

static const char *const state_names[] = {
    [KH_KEY_ENABLED] = "enabled",
    [KH_KEY_DISABLED] = "disabled",
    [KH_KEY_PENDING_DELETION] = "pending-deletion",
    [KH_KEY_DELETED] = "deleted",
};

static const char *const version_state_names[] = {
    [KH_VERSION_ENABLED] = "enabled",
    [KH_VERSION_DISABLED] = "disabled",
};

static const char *const role_names[KH_ROLE_MAX + 1] = {
    [KH_ROLE_MANAGER] = "manager",     [KH_ROLE_ENCRYPTOR] = "encryptor",
    [KH_ROLE_DECRYPTOR] = "decryptor", [KH_ROLE_ENCRYPTOR_DECRYPTOR] = "encryptor-decryptor",
    [KH_ROLE_REVIEWER] = "reviewer",
};

/* The name at index v of a table whose index 0 is unused; NULL outside it. */
static const char *name_at(const char *const *names, size_t count, int v)
{
	if (v <= 0 || (size_t)v >= count)
		return NULL;
	return names[v];
}

/* The index whose name is exactly s (byte for byte), or KH_ERR_BAD_INPUT. */
static kh_rc index_of(const char *const *names, size_t count, struct kh_slice s, int *out)
{
	for (size_t i = 1; i < count; i++) {
		if (names[i] != NULL && kh_slice_eq(s, kh_slice_from_cstr(names[i]))) {
			*out = (int)i;
			return KH_OK;
		}
	}
	return KH_ERR_BAD_INPUT;
}

static const struct type_rule *rule_of(enum kh_key_type t)
{
	if ((int)t <= 0 || (int)t > KH_KEY_TYPE_MAX)
		return NULL;
	return &type_rules[t];
}

const char *kh_key_type_name(enum kh_key_type t)
{
	const struct type_rule *r = rule_of(t);

	return r != NULL ? r->name : NULL;
}

kh_rc kh_key_type_parse(struct kh_slice s, enum kh_key_type *out)
{
	for (int t = 1; t <= KH_KEY_TYPE_MAX; t++) {
		if (kh_slice_eq(s, kh_slice_from_cstr(type_rules[t].name))) {
			*out = (enum kh_key_type)t;
			return KH_OK;
		}
	}
	return KH_ERR_BAD_INPUT;
}

const char *kh_key_usage_name(enum kh_key_usage u)
{
	return name_at(usage_names, COUNT_OF(usage_names), (int)u);
}

kh_rc kh_key_usage_parse(struct kh_slice s, enum kh_key_usage *out)
{
	int v = 0;

	KH_GUARD(index_of(usage_names, COUNT_OF(usage_names), s, &v));
	*out = (enum kh_key_usage)v;
	return KH_OK;
}

const char *kh_key_state_name(enum kh_key_state s)
{
	return name_at(state_names, COUNT_OF(state_names), (int)s);
}

kh_rc kh_key_state_parse(struct kh_slice s, enum kh_key_state *out)
{
	int v = 0;

	KH_GUARD(index_of(state_names, COUNT_OF(state_names), s, &v));
	*out = (enum kh_key_state)v;
	return KH_OK;
}

const char *kh_version_state_name(enum kh_version_state s)
{
	return name_at(version_state_names, COUNT_OF(version_state_names), (int)s);
}

kh_rc kh_version_state_parse(struct kh_slice s, enum kh_version_state *out)
{
	int v = 0;

	KH_GUARD(index_of(version_state_names, COUNT_OF(version_state_names), s, &v));
	*out = (enum kh_version_state)v;
	return KH_OK;
}

const char *kh_role_name(enum kh_role r)
{
	return name_at(role_names, COUNT_OF(role_names), (int)r);
}

kh_rc kh_role_parse(struct kh_slice s, enum kh_role *out)
{
	int v = 0;

	KH_GUARD(index_of(role_names, COUNT_OF(role_names), s, &v));
	*out = (enum kh_role)v;
	return KH_OK;
}

bool kh_key_type_allows(enum kh_key_type t, enum kh_key_usage u)
{
	const struct type_rule *r = rule_of(t);

	if (r == NULL || name_at(usage_names, COUNT_OF(usage_names), (int)u) == NULL)
		return false;
	return (r->usages & USAGE_BIT(u)) != 0;
}

enum kh_key_usage kh_key_type_default_usage(enum kh_key_type t)
{
	const struct type_rule *r = rule_of(t);

	return r != NULL ? r->default_usage : (enum kh_key_usage)0;
}

bool kh_key_type_is_symmetric(enum kh_key_type t)
{
	const struct type_rule *r = rule_of(t);

	return r != NULL && r->cls == CLASS_AEAD;
}

bool kh_key_type_is_asymmetric(enum kh_key_type t)
{
	const struct type_rule *r = rule_of(t);

	return r != NULL && r->cls == CLASS_PKEY;
}
