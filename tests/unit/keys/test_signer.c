/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kh_keys_with_signer: signing with a key's current version without exporting it, under the
 * rules of kh_keys_sign (roles, state, usage, version), recorded as a use; the service's own
 * principal for the keys of one key store; and the ra-officer account policy.
 */
#include "kh_test_keys.h"

#include <string.h>

#include "crypto/kh_crypto.h"

struct sig {
	struct kh_buf out;
	int calls;
	kh_rc result;
};

static kh_rc sign_fn(void *arg, const struct kh_pkey *key)
{
	struct sig *s = arg;
	s->calls++;
	KH_GUARD(s->result);
	return kh_pkey_sign(key, kh_sig_default(kh_pkey_type_of(key)), KH_SLICE_LIT("message"),
	                    KH_SLICE_EMPTY, &s->out);
}

static void signs_with_the_current_version_and_records_the_use(void **state)
{
	struct kh_test_keys *t = *state;
	int64_t ks = kh_test_keys_keystore(t, "acme");
	struct kh_principal mgr = kh_test_keys_manager(t, ks, "admin");
	struct kh_key_info key = kh_test_keys_create(t, &mgr, "ca", KH_KEY_ECDSA_P256);
	struct sig s = {.result = KH_OK};
	kh_buf_init(&s.out, 1024, KH_BUF_PLAIN);
	int64_t seq = kh_test_keys_audit_last(t);
	assert_int_equal(kh_keys_with_signer(t->keys, &mgr, key.tag, sign_fn, &s), KH_OK);
	assert_int_equal(s.calls, 1);
	kh_test_keys_audit_one(t, seq, "key.sign_with", &mgr, KH_OK);

	/* The signature verifies under the key's public key. */
	struct kh_buf pem;
	struct kh_pkey *pub = NULL;
	uint32_t v = 0;
	kh_buf_init(&pem, 4096, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_public_key(t->keys, &mgr, key.tag, 0, &v, &pem), KH_OK);
	assert_int_equal(kh_pkey_import_public(kh_buf_slice(&pem), &pub), KH_OK);
	assert_int_equal(kh_pkey_verify(pub, KH_SIG_ECDSA_SHA256, KH_SLICE_LIT("message"),
	                                KH_SLICE_EMPTY, kh_buf_slice(&s.out)),
	                 KH_OK);
	key = kh_test_keys_get(t, &mgr, key.tag);
	assert_int_equal(key.usage_count, 2); /* the signature and the public key */

	/* The callback's failure is the outcome, and is recorded. */
	s.result = KH_ERR_BAD_INPUT;
	seq = kh_test_keys_audit_last(t);
	assert_int_equal(kh_keys_with_signer(t->keys, &mgr, key.tag, sign_fn, &s),
	                 KH_ERR_BAD_INPUT);
	kh_test_keys_audit_one(t, seq, "key.sign_with", &mgr, KH_ERR_BAD_INPUT);
	kh_pkey_free(&pub);
	kh_buf_cleanup(&pem);
	kh_buf_cleanup(&s.out);
}

static void refusals_follow_the_rules_of_sign(void **state)
{
	struct kh_test_keys *t = *state;
	int64_t ks = kh_test_keys_keystore(t, "acme");
	int64_t ks2 = kh_test_keys_keystore(t, "other");
	struct kh_principal mgr = kh_test_keys_manager(t, ks, "admin");
	struct kh_principal user = kh_test_keys_user(t, ks, "user");
	struct kh_principal stranger = kh_test_keys_manager(t, ks2, "stranger");
	struct kh_principal op = kh_test_keys_operator();
	struct kh_key_info key = kh_test_keys_create(t, &mgr, "ca", KH_KEY_SM2);
	struct kh_key_info aes = kh_test_keys_create(t, &mgr, "aes", KH_KEY_AES_256_GCM);
	struct kh_key_info enc =
	    kh_test_keys_create_usage(t, &mgr, "enc", KH_KEY_RSA_2048, KH_USAGE_ENCRYPT_DECRYPT);
	struct sig s = {.result = KH_OK};
	kh_buf_init(&s.out, 1024, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_with_signer(t->keys, &op, key.tag, sign_fn, &s), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_keys_with_signer(t->keys, &user, key.tag, sign_fn, &s),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_with_signer(t->keys, &stranger, key.tag, sign_fn, &s),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_with_signer(t->keys, &mgr, aes.tag, sign_fn, &s),
	                 KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(kh_keys_with_signer(t->keys, &mgr, enc.tag, sign_fn, &s),
	                 KH_ERR_WRONG_KEY_TYPE);
	kh_test_keys_grant(t, &mgr, key.tag, &user, KH_ROLE_ENCRYPTOR_DECRYPTOR);
	assert_int_equal(kh_keys_with_signer(t->keys, &user, key.tag, sign_fn, &s), KH_OK);
	assert_int_equal(kh_keys_disable(t->keys, &mgr, key.tag, &key), KH_OK);
	assert_int_equal(kh_keys_with_signer(t->keys, &mgr, key.tag, sign_fn, &s),
	                 KH_ERR_KEY_DISABLED);
	assert_int_equal(s.calls, 1);

	/* The service signs with the keys of the key store it names, and no other. */
	assert_int_equal(kh_keys_enable(t->keys, &mgr, key.tag, &key), KH_OK);
	struct kh_principal sys = {.kind = KH_PRINCIPAL_SYSTEM, .keystore_id = ks};
	struct kh_principal sys2 = {.kind = KH_PRINCIPAL_SYSTEM, .keystore_id = ks2};
	struct kh_principal sys0 = {.kind = KH_PRINCIPAL_SYSTEM};
	assert_int_equal(kh_keys_with_signer(t->keys, &sys, key.tag, sign_fn, &s), KH_OK);
	assert_int_equal(kh_keys_with_signer(t->keys, &sys2, key.tag, sign_fn, &s),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_with_signer(t->keys, &sys0, key.tag, sign_fn, &s),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(s.calls, 2);
	kh_buf_cleanup(&s.out);
}

static void ra_officer_accounts_hold_no_key(void **state)
{
	struct kh_test_keys *t = *state;
	int64_t ks = kh_test_keys_keystore(t, "acme");
	struct kh_principal mgr = kh_test_keys_manager(t, ks, "admin");
	struct kh_principal op = kh_test_keys_operator();
	int64_t id = 0;
	assert_int_equal(kh_keys_account_create(t->keys, &mgr, ks, "ra", KH_POLICY_RA_OFFICER, &id),
	                 KH_OK);
	assert_int_equal(kh_keys_account_create(t->keys, &op, ks, "bad",
	                                        KH_POLICY_RA_OFFICER | KH_POLICY_KMS_USER, &id),
	                 KH_ERR_BAD_INPUT);
	struct kh_account a;
	assert_int_equal(kh_keys_account_get(t->keys, id == 0 ? 1 : id, &a), KH_OK);
	struct kh_principal ra = kh_test_keys_account(t, ks, "ra2", KH_POLICY_RA_OFFICER);
	struct kh_key_info key = kh_test_keys_create(t, &mgr, "k", KH_KEY_ECDSA_P256);
	struct kh_key_info got;
	assert_int_equal(kh_keys_get(t->keys, &ra, key.tag, &got), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_keys_account_get(t->keys, ra.account_id, &a), KH_OK);
	assert_int_equal(a.policies, KH_POLICY_RA_OFFICER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(signs_with_the_current_version_and_records_the_use,
	                                    kh_test_keys_setup, kh_test_keys_teardown),
	    cmocka_unit_test_setup_teardown(refusals_follow_the_rules_of_sign, kh_test_keys_setup,
	                                    kh_test_keys_teardown),
	    cmocka_unit_test_setup_teardown(ra_officer_accounts_hold_no_key, kh_test_keys_setup,
	                                    kh_test_keys_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
