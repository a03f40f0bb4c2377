/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys at rest: the raw material of key versions of every kind never appears in the database
 * file or its WAL, only its barrier encryption; after a root key rotation and the rewrap, every
 * key (and the audit key) moves to the new term, old ciphertexts and signatures still work,
 * the old term is retired, and all of it survives a restart.
 */
#include "kh_test_keys.h"
#include "kh_test_store.h"

#include <stdio.h>
#include <string.h>

#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

static const struct kh_store_query q_old_terms = {"test.old_terms",
                                                  "SELECT COUNT(*) FROM sealed WHERE term < ?"};
static const struct kh_store_query q_all_sealed = {"test.all_sealed",
                                                   "SELECT COUNT(*) FROM sealed"};

/* The raw secret of a key version, read through the barrier as the keys layer would. */
static struct kh_buf raw_secret(struct kh_test_keys *t, const struct kh_key_info *key,
                                uint32_t version)
{
	char scope[KH_BARRIER_SCOPE_MAX];
	struct kh_store_tx *tx = NULL;
	struct kh_buf secret;
	snprintf(scope, sizeof(scope), "key/%lld/%lld/%u", (long long)key->keystore_id,
	         (long long)key->id, version);
	kh_buf_init(&secret, KH_BARRIER_SECRET_MAX, KH_BUF_SECURE);
	assert_int_equal(kh_store_read_begin(t->store, &tx), KH_OK);
	assert_int_equal(kh_barrier_get(t->barrier, tx, scope, &secret), KH_OK);
	kh_store_read_end(&tx);
	assert_true(secret.len >= 32);
	return secret;
}

static void assert_not_on_disk(struct kh_test_keys *t, struct kh_slice secret)
{
	char wal[320];
	snprintf(wal, sizeof(wal), "%s-wal", t->path);
	assert_false(kh_test_file_contains(t->path, secret));
	assert_false(kh_test_file_contains(wal, secret));
}

static void raw_key_material_is_never_written_in_clear(void **state)
{
	struct kh_test_keys *t = *state;
	static const enum kh_key_type types[] = {
	    KH_KEY_AES_256_GCM, KH_KEY_SM4,        KH_KEY_CHACHA20_POLY1305,
	    KH_KEY_HMAC_SHA256, KH_KEY_ECDSA_P256, KH_KEY_ED25519,
	    KH_KEY_SM2,         KH_KEY_RSA_2048};
	int64_t ks = kh_test_keys_keystore(t, "acme");
	struct kh_principal mgr = kh_test_keys_manager(t, ks, "admin");
	struct kh_buf secrets[2 * sizeof(types) / sizeof(types[0])];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		char name[16];
		struct kh_key_info key;
		snprintf(name, sizeof(name), "k%zu", i);
		key = kh_test_keys_create(t, &mgr, name, types[i]);
		assert_int_equal(kh_keys_rotate(t->keys, &mgr, key.tag, &key), KH_OK);
		secrets[n++] = raw_secret(t, &key, 1);
		secrets[n++] = raw_secret(t, &key, 2);
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++)
			assert_not_on_disk(t, kh_buf_slice(&secrets[i]));
		/* Again once the WAL has been checkpointed into the main file. */
		kh_test_keys_reopen(t);
	}
	/* The scan does see what is stored in clear: a key's tag. */
	struct kh_key_info probe = kh_test_keys_create(t, &mgr, "probe", KH_KEY_AES_256_GCM);
	kh_test_keys_reopen(t);
	assert_true(kh_test_file_contains(t->path, kh_slice_from_cstr(probe.tag)));
	for (size_t i = 0; i < n; i++)
		kh_buf_cleanup(&secrets[i]);
}

static void root_rotation_rewraps_every_key_and_old_data_still_opens(void **state)
{
	struct kh_test_keys *t = *state;
	int64_t ks = kh_test_keys_keystore(t, "acme");
	struct kh_principal mgr = kh_test_keys_manager(t, ks, "admin");
	struct kh_key_info aes = kh_test_keys_create(t, &mgr, "aes", KH_KEY_AES_256_GCM);
	struct kh_key_info ec = kh_test_keys_create(t, &mgr, "ec", KH_KEY_ECDSA_P256);
	struct kh_buf ct = kh_test_keys_encrypt(t, &mgr, aes.tag, "before rotation");
	struct kh_buf sig;
	bool valid = false;
	uint32_t term = 0;
	size_t done = 0, left = 0;
	kh_buf_init(&sig, 4096, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_sign(t->keys, &mgr, ec.tag, 0, false, KH_SLICE_LIT("msg"), &sig),
	                 KH_OK);
	int64_t sealed_before = kh_test_sql_int(t->store, &q_all_sealed, NULL, 0);

	assert_int_equal(kh_barrier_rotate_root(t->barrier, &term), KH_OK);
	assert_int_equal(term, 2);
	/* New material goes under the new term at once. */
	assert_int_equal(kh_keys_rotate(t->keys, &mgr, aes.tag, &aes), KH_OK);
	struct kh_store_val two[] = {KH_SV_INT(2)};
	assert_int_equal(kh_test_sql_int(t->store, &q_old_terms, two, 1), sealed_before);
	/* Rewrap in batches of one until nothing is left under term 1. */
	for (int guard = 0; guard < 100; guard++) {
		assert_int_equal(kh_barrier_rewrap(t->barrier, 1, &done, &left), KH_OK);
		if (left == 0)
			break;
	}
	assert_int_equal(left, 0);
	assert_int_equal(kh_test_sql_int(t->store, &q_old_terms, two, 1), 0);
	struct kh_barrier_status st;
	assert_int_equal(kh_barrier_status(t->barrier, &st), KH_OK);
	assert_int_equal(st.term, 2);
	assert_int_equal(st.oldest_term, 2);

	/* Everything still works, also from a cold cache after a restart. */
	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(
		    kh_test_keys_decrypt(t, &mgr, aes.tag, kh_buf_slice(&ct), "before rotation"),
		    KH_OK);
		assert_int_equal(kh_keys_verify(t->keys, &mgr, ec.tag, 0, false,
		                                KH_SLICE_LIT("msg"), kh_buf_slice(&sig), &valid),
		                 KH_OK);
		assert_true(valid);
		struct kh_buf fresh = kh_test_keys_encrypt(t, &mgr, aes.tag, "after");
		assert_int_equal(
		    kh_test_keys_decrypt(t, &mgr, aes.tag, kh_buf_slice(&fresh), "after"), KH_OK);
		kh_buf_cleanup(&fresh);
		kh_test_keys_reopen(t);
	}
	kh_buf_cleanup(&ct);
	kh_buf_cleanup(&sig);
}

int main(void)
{
	assert_int_equal(kh_crypto_init(), KH_OK);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(raw_key_material_is_never_written_in_clear,
	                                    kh_test_keys_setup, kh_test_keys_teardown),
	    cmocka_unit_test_setup_teardown(
	        root_rotation_rewraps_every_key_and_old_data_still_opens, kh_test_keys_setup,
	        kh_test_keys_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
