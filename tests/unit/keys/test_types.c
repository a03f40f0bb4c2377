/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vocabulary of keys: every wire name of API.md, written out here by hand, maps to its enum
 * value and back; near misses (case, spaces, prefixes, embedded NUL, empty) are refused without
 * touching the output; the type/usage matrix and the default usages are the ones API.md states,
 * checked cell by cell; values outside the enums have no name and allow nothing.
 */
#include "kh_test.h"

#include <string.h>

#include "keys/kh_keys_types.h"

struct name_case {
	int value;
	const char *name;
};

/* API.md "Keys": types and usages; "Lifecycle rules": states; "Who may do what": roles. */
static const struct name_case type_cases[] = {
    {KH_KEY_AES_256_GCM, "aes-256-gcm"},
    {KH_KEY_SM4, "sm4"},
    {KH_KEY_CHACHA20_POLY1305, "chacha20-poly1305"},
    {KH_KEY_RSA_2048, "rsa-2048"},
    {KH_KEY_RSA_3072, "rsa-3072"},
    {KH_KEY_RSA_4096, "rsa-4096"},
    {KH_KEY_ECDSA_P256, "ecdsa-p256"},
    {KH_KEY_ECDSA_P384, "ecdsa-p384"},
    {KH_KEY_ED25519, "ed25519"},
    {KH_KEY_SM2, "sm2"},
    {KH_KEY_HMAC_SHA256, "hmac-sha256"},
};
static const struct name_case usage_cases[] = {
    {KH_USAGE_ENCRYPT_DECRYPT, "encrypt-decrypt"},
    {KH_USAGE_SIGN_VERIFY, "sign-verify"},
    {KH_USAGE_MAC, "mac"},
};
static const struct name_case state_cases[] = {
    {KH_KEY_ENABLED, "enabled"},
    {KH_KEY_DISABLED, "disabled"},
    {KH_KEY_PENDING_DELETION, "pending-deletion"},
    {KH_KEY_DELETED, "deleted"},
};
static const struct name_case version_state_cases[] = {
    {KH_VERSION_ENABLED, "enabled"},
    {KH_VERSION_DISABLED, "disabled"},
};
static const struct name_case role_cases[] = {
    {KH_ROLE_MANAGER, "manager"},     {KH_ROLE_ENCRYPTOR, "encryptor"},
    {KH_ROLE_DECRYPTOR, "decryptor"}, {KH_ROLE_ENCRYPTOR_DECRYPTOR, "encryptor-decryptor"},
    {KH_ROLE_REVIEWER, "reviewer"},
};
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* One vocabulary seen through int, so that one checker serves all five enums. */
struct vocab {
	const struct name_case *cases;
	size_t count;
	const char *(*name)(int v);
	kh_rc (*parse)(struct kh_slice s, int *out);
};

static const char *type_name(int v)
{
	return kh_key_type_name((enum kh_key_type)v);
}
static kh_rc type_parse(struct kh_slice s, int *out)
{
	enum kh_key_type t = (enum kh_key_type)0x5a;
	kh_rc rc = kh_key_type_parse(s, &t);
	*out = (int)t;
	return rc;
}
static const char *usage_name(int v)
{
	return kh_key_usage_name((enum kh_key_usage)v);
}
static kh_rc usage_parse(struct kh_slice s, int *out)
{
	enum kh_key_usage u = (enum kh_key_usage)0x5a;
	kh_rc rc = kh_key_usage_parse(s, &u);
	*out = (int)u;
	return rc;
}
static const char *state_name(int v)
{
	return kh_key_state_name((enum kh_key_state)v);
}
static kh_rc state_parse(struct kh_slice s, int *out)
{
	enum kh_key_state st = (enum kh_key_state)0x5a;
	kh_rc rc = kh_key_state_parse(s, &st);
	*out = (int)st;
	return rc;
}
static const char *version_state_name(int v)
{
	return kh_version_state_name((enum kh_version_state)v);
}
static kh_rc version_state_parse(struct kh_slice s, int *out)
{
	enum kh_version_state st = (enum kh_version_state)0x5a;
	kh_rc rc = kh_version_state_parse(s, &st);
	*out = (int)st;
	return rc;
}
static const char *role_name(int v)
{
	return kh_role_name((enum kh_role)v);
}
static kh_rc role_parse(struct kh_slice s, int *out)
{
	enum kh_role r = (enum kh_role)0x5a;
	kh_rc rc = kh_role_parse(s, &r);
	*out = (int)r;
	return rc;
}

static const struct vocab vocabs[] = {
    {type_cases, COUNT_OF(type_cases), type_name, type_parse},
    {usage_cases, COUNT_OF(usage_cases), usage_name, usage_parse},
    {state_cases, COUNT_OF(state_cases), state_name, state_parse},
    {version_state_cases, COUNT_OF(version_state_cases), version_state_name, version_state_parse},
    {role_cases, COUNT_OF(role_cases), role_name, role_parse},
};

/* Whether s is one of the vocabulary's names ("encryptor" is a prefix of another role). */
static bool is_a_name(const struct vocab *v, struct kh_slice s)
{
	for (size_t i = 0; i < v->count; i++)
		if (kh_slice_eq(s, kh_slice_from_cstr(v->cases[i].name)))
			return true;
	return false;
}

/* Refused, and the output (pre-set to 0x5a by the wrappers) left alone. */
static void assert_refused(const struct vocab *v, struct kh_slice s)
{
	int got = 0;

	assert_int_equal(v->parse(s, &got), KH_ERR_BAD_INPUT);
	assert_int_equal(got, 0x5a);
}

static void every_wire_name_maps_to_its_value_and_back(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT_OF(vocabs); i++) {
		const struct vocab *v = &vocabs[i];
		for (size_t j = 0; j < v->count; j++) {
			int got = 0;
			assert_non_null(v->name(v->cases[j].value));
			assert_string_equal(v->name(v->cases[j].value), v->cases[j].name);
			assert_int_equal(v->parse(kh_slice_from_cstr(v->cases[j].name), &got),
			                 KH_OK);
			assert_int_equal(got, v->cases[j].value);
		}
	}
}

static void values_outside_the_enums_have_no_name(void **state)
{
	static const int outside[] = {0, -1, 0x7fffffff};

	(void)state;
	for (size_t i = 0; i < COUNT_OF(vocabs); i++) {
		const struct vocab *v = &vocabs[i];
		for (size_t j = 0; j < COUNT_OF(outside); j++)
			assert_null(v->name(outside[j]));
		assert_null(v->name(v->cases[v->count - 1].value + 1));
	}
}

static void near_misses_of_every_name_are_refused_without_writing_the_output(void **state)
{
	char s[64];

	(void)state;
	for (size_t i = 0; i < COUNT_OF(vocabs); i++) {
		const struct vocab *v = &vocabs[i];
		assert_refused(v, KH_SLICE_EMPTY);
		assert_refused(v, KH_SLICE_LIT(""));
		assert_refused(v, KH_SLICE_LIT("unknown"));
		for (size_t j = 0; j < v->count; j++) {
			const char *name = v->cases[j].name;
			size_t n = strlen(name);

			assert_true(n + 2 < sizeof(s));
			/* Every proper prefix that is not a name itself. */
			for (size_t k = 0; k < n; k++)
				if (!is_a_name(v, KH_SLICE(name, k)))
					assert_refused(v, KH_SLICE(name, k));
			/* Upper case first letter. */
			memcpy(s, name, n);
			s[0] = (char)(s[0] - 'a' + 'A');
			assert_refused(v, KH_SLICE(s, n));
			/* Trailing space, trailing NUL, leading space, one more letter. */
			memcpy(s, name, n);
			s[n] = ' ';
			assert_refused(v, KH_SLICE(s, n + 1));
			s[n] = '\0';
			assert_refused(v, KH_SLICE(s, n + 1));
			s[n] = 'x';
			assert_refused(v, KH_SLICE(s, n + 1));
			s[0] = ' ';
			memcpy(s + 1, name, n);
			assert_refused(v, KH_SLICE(s, n + 1));
			/* Underscore for hyphen (a common client mistake). */
			memcpy(s, name, n);
			for (size_t k = 0; k < n; k++)
				if (s[k] == '-')
					s[k] = '_';
			if (memchr(name, '-', n) != NULL)
				assert_refused(v, KH_SLICE(s, n));
		}
	}
}

static void names_of_one_vocabulary_do_not_parse_in_another(void **state)
{
	int got = 0;

	(void)state;
	assert_int_equal(kh_key_type_parse(KH_SLICE_LIT("mac"), &(enum kh_key_type){0}),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_key_usage_parse(KH_SLICE_LIT("hmac-sha256"), &(enum kh_key_usage){0}),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(
	    kh_version_state_parse(KH_SLICE_LIT("pending-deletion"), &(enum kh_version_state){0}),
	    KH_ERR_BAD_INPUT);
	assert_int_equal(
	    kh_version_state_parse(KH_SLICE_LIT("deleted"), &(enum kh_version_state){0}),
	    KH_ERR_BAD_INPUT);
	assert_int_equal(kh_role_parse(KH_SLICE_LIT("enabled"), &(enum kh_role){0}),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_key_state_parse(KH_SLICE_LIT("manager"), &(enum kh_key_state){0}),
	                 KH_ERR_BAD_INPUT);
	/* "enabled" is both a key state and a version state. */
	assert_int_equal(state_parse(KH_SLICE_LIT("enabled"), &got), KH_OK);
	assert_int_equal(got, KH_KEY_ENABLED);
	assert_int_equal(version_state_parse(KH_SLICE_LIT("enabled"), &got), KH_OK);
	assert_int_equal(got, KH_VERSION_ENABLED);
}

/* API.md "Keys", written out cell by cell: E encrypt-decrypt, S sign-verify, M mac. */
static const struct {
	enum kh_key_type type;
	bool enc, sig, mac;
	enum kh_key_usage def;
	bool symmetric, asymmetric;
} rules[] = {
    {KH_KEY_AES_256_GCM, true, false, false, KH_USAGE_ENCRYPT_DECRYPT, true, false},
    {KH_KEY_SM4, true, false, false, KH_USAGE_ENCRYPT_DECRYPT, true, false},
    {KH_KEY_CHACHA20_POLY1305, true, false, false, KH_USAGE_ENCRYPT_DECRYPT, true, false},
    {KH_KEY_RSA_2048, true, true, false, KH_USAGE_SIGN_VERIFY, false, true},
    {KH_KEY_RSA_3072, true, true, false, KH_USAGE_SIGN_VERIFY, false, true},
    {KH_KEY_RSA_4096, true, true, false, KH_USAGE_SIGN_VERIFY, false, true},
    {KH_KEY_ECDSA_P256, false, true, false, KH_USAGE_SIGN_VERIFY, false, true},
    {KH_KEY_ECDSA_P384, false, true, false, KH_USAGE_SIGN_VERIFY, false, true},
    {KH_KEY_ED25519, false, true, false, KH_USAGE_SIGN_VERIFY, false, true},
    {KH_KEY_SM2, true, true, false, KH_USAGE_SIGN_VERIFY, false, true},
    {KH_KEY_HMAC_SHA256, false, false, true, KH_USAGE_MAC, false, false},
};

static void type_usage_matrix_and_defaults_follow_api_md(void **state)
{
	(void)state;
	assert_int_equal(COUNT_OF(rules), KH_KEY_TYPE_MAX);
	for (size_t i = 0; i < COUNT_OF(rules); i++) {
		enum kh_key_type t = rules[i].type;
		assert_int_equal(kh_key_type_allows(t, KH_USAGE_ENCRYPT_DECRYPT), rules[i].enc);
		assert_int_equal(kh_key_type_allows(t, KH_USAGE_SIGN_VERIFY), rules[i].sig);
		assert_int_equal(kh_key_type_allows(t, KH_USAGE_MAC), rules[i].mac);
		assert_int_equal(kh_key_type_default_usage(t), rules[i].def);
		assert_true(kh_key_type_allows(t, kh_key_type_default_usage(t)));
		assert_int_equal(kh_key_type_is_symmetric(t), rules[i].symmetric);
		assert_int_equal(kh_key_type_is_asymmetric(t), rules[i].asymmetric);
		/* Usages outside the enum are never allowed. */
		assert_false(kh_key_type_allows(t, (enum kh_key_usage)0));
		assert_false(kh_key_type_allows(t, (enum kh_key_usage)(KH_USAGE_MAC + 1)));
		assert_false(kh_key_type_allows(t, (enum kh_key_usage)31));
		assert_false(kh_key_type_allows(t, (enum kh_key_usage) - 1));
	}
}

static void types_outside_the_enum_allow_nothing_and_have_no_default(void **state)
{
	static const int outside[] = {0, -1, KH_KEY_TYPE_MAX + 1, 1000};

	(void)state;
	for (size_t i = 0; i < COUNT_OF(outside); i++) {
		enum kh_key_type t = (enum kh_key_type)outside[i];
		assert_false(kh_key_type_allows(t, KH_USAGE_ENCRYPT_DECRYPT));
		assert_false(kh_key_type_allows(t, KH_USAGE_SIGN_VERIFY));
		assert_false(kh_key_type_allows(t, KH_USAGE_MAC));
		assert_int_equal(kh_key_type_default_usage(t), 0);
		assert_false(kh_key_type_is_symmetric(t));
		assert_false(kh_key_type_is_asymmetric(t));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_wire_name_maps_to_its_value_and_back),
	    cmocka_unit_test(values_outside_the_enums_have_no_name),
	    cmocka_unit_test(near_misses_of_every_name_are_refused_without_writing_the_output),
	    cmocka_unit_test(names_of_one_vocabulary_do_not_parse_in_another),
	    cmocka_unit_test(type_usage_matrix_and_defaults_follow_api_md),
	    cmocka_unit_test(types_outside_the_enum_allow_nothing_and_have_no_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
