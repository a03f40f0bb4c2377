/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signatures. Known answers: RFC 8032 7.1 TEST 1-3 (Ed25519, deterministic, exact bytes), and an
 * RSA PKCS#1 v1.5 SHA-256 signature by `openssl dgst -sha256 -sign` (deterministic, exact
 * bytes). Randomised schemes are checked both ways against the openssl command line: signatures
 * it made (PSS, ECDSA P-256/P-384, SM2 under the default and under a chosen ID) verify here, and
 * ours verify under the digests it computed: SHA-256/384("abc") from FIPS 180-2 appendix B and
 * SM2 e = SM3(Z || M) computed by tests/data/gen_sign_vectors.sh from GB/T 32918 constants.
 * Negative cases: altered messages and signatures, malformed DER, the other SM2 ID, a PSS salt
 * length other than 32, wrong algorithm for the key, public-only keys, digest lengths.
 */
#include "kh_test_crypto.h"

#include <stdio.h>
#include <string.h>

#include "crypto/kh_crypto.h"

#define BUF_MAX (64u * 1024u)
#define MSG "abc"
/* FIPS 180-2 appendix B.1 and D.1: SHA-256("abc"), SHA-384("abc"). */
#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA384_ABC                                                                                 \
	"cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca1" \
	"34c825a7"
#define ALICE_ID "ALICE123@YAHOO.COM"

/* The signature verifies, and fails with any one bit of it or of the message flipped, when cut
 * short, when extended by a byte, and when empty. */
static void assert_verifies_strictly(const struct kh_pkey *key, enum kh_sig_alg alg,
                                     struct kh_slice msg, struct kh_slice id, struct kh_slice sig)
{
	uint8_t m[256];
	uint8_t s[1024];

	assert_true(msg.len <= sizeof(m) && sig.len + 1 <= sizeof(s) && sig.len > 0);
	assert_int_equal(kh_pkey_verify(key, alg, msg, id, sig), KH_OK);
	if (msg.len > 0)
		memcpy(m, msg.ptr, msg.len);
	for (size_t i = 0; i < msg.len; i++) {
		m[i] ^= 0x01;
		assert_int_equal(kh_pkey_verify(key, alg, KH_SLICE(m, msg.len), id, sig),
		                 KH_ERR_BAD_SIGNATURE);
		m[i] ^= 0x01;
	}
	memcpy(s, sig.ptr, sig.len);
	for (size_t i = 0; i < sig.len; i += 7) {
		s[i] ^= 0x80;
		assert_int_equal(kh_pkey_verify(key, alg, msg, id, KH_SLICE(s, sig.len)),
		                 KH_ERR_BAD_SIGNATURE);
		s[i] ^= 0x80;
	}
	assert_int_equal(kh_pkey_verify(key, alg, msg, id, KH_SLICE(s, sig.len - 1)),
	                 KH_ERR_BAD_SIGNATURE);
	s[sig.len] = 0x00;
	assert_int_equal(kh_pkey_verify(key, alg, msg, id, KH_SLICE(s, sig.len + 1)),
	                 KH_ERR_BAD_SIGNATURE);
	assert_int_equal(kh_pkey_verify(key, alg, msg, id, KH_SLICE_EMPTY), KH_ERR_BAD_SIGNATURE);
	assert_int_equal(kh_pkey_verify(key, alg, msg, id, KH_SLICE_LIT("\x30\x03\x02\x01\x01")),
	                 KH_ERR_BAD_SIGNATURE);
}

/* RFC 8032 7.1 TEST 1, 2, 3: secret key, message, signature. */
static const char *const ed25519_vectors[][3] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
     "b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f1"
     "1d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984d"
     "c6594a7c15e9716ed28dc027beceea1ec40a"},
};

static void ed25519_matches_rfc8032_section7_1_tests_1_to_3(void **state)
{
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		char hex[128];
		struct kh_buf der, msg, sig, want;
		struct kh_pkey *key = NULL;

		/* RFC 8410 7: PKCS#8 = fixed header || 32-byte seed. */
		snprintf(hex, sizeof(hex), "302e020100300506032b657004220420%s",
		         ed25519_vectors[i][0]);
		der = kh_test_hex(hex);
		msg = kh_test_hex(ed25519_vectors[i][1]);
		want = kh_test_hex(ed25519_vectors[i][2]);
		assert_int_equal(kh_pkey_import_private(kh_buf_slice(&der), &key), KH_OK);
		kh_buf_init(&sig, BUF_MAX, KH_BUF_PLAIN);
		assert_int_equal(
		    kh_pkey_sign(key, KH_SIG_ED25519, kh_buf_slice(&msg), KH_SLICE_EMPTY, &sig),
		    KH_OK);
		kh_test_assert_hex(kh_buf_slice(&sig), ed25519_vectors[i][2]);
		assert_verifies_strictly(key, KH_SIG_ED25519, kh_buf_slice(&msg), KH_SLICE_EMPTY,
		                         kh_buf_slice(&want));
		kh_pkey_free(&key);
		kh_buf_cleanup(&der);
		kh_buf_cleanup(&msg);
		kh_buf_cleanup(&sig);
		kh_buf_cleanup(&want);
	}
}

static void ed25519_has_no_digest_mode(void **state)
{
	struct kh_pkey *key = NULL;
	struct kh_buf sig;
	uint8_t digest[64] = {0};

	(void)state;
	kh_buf_init(&sig, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pkey_generate(KH_PKEY_ED25519, &key), KH_OK);
	assert_int_equal(kh_pkey_sign_digest(key, KH_SIG_ED25519, KH_SLICE(digest, 32), &sig),
	                 KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(
	    kh_pkey_verify_digest(key, KH_SIG_ED25519, KH_SLICE(digest, 64), KH_SLICE(digest, 64)),
	    KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(sig.len, 0);
	kh_pkey_free(&key);
	kh_buf_cleanup(&sig);
}

/* PKCS#1 v1.5 is deterministic: our signature must equal the command line's, in both modes. */
static void rsa_pkcs1_sha256_equals_openssl_cli_signature(void **state)
{
	struct kh_pkey *key = kh_test_pkey_load("rsa2048.key.pem", true);
	struct kh_pkey *pub = kh_test_pkey_load("rsa2048.pub.pem", false);
	struct kh_buf want = kh_test_pkey_file("rsa2048.pkcs1.sig");
	struct kh_buf digest = kh_test_hex(SHA256_ABC);
	struct kh_buf sig;

	(void)state;
	kh_buf_init(&sig, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(
	    kh_pkey_sign(key, KH_SIG_RSA_PKCS1_SHA256, KH_SLICE_LIT(MSG), KH_SLICE_EMPTY, &sig),
	    KH_OK);
	assert_true(kh_slice_eq(kh_buf_slice(&sig), kh_buf_slice(&want)));
	kh_buf_clear(&sig);
	assert_int_equal(
	    kh_pkey_sign_digest(key, KH_SIG_RSA_PKCS1_SHA256, kh_buf_slice(&digest), &sig), KH_OK);
	assert_true(kh_slice_eq(kh_buf_slice(&sig), kh_buf_slice(&want)));
	assert_verifies_strictly(pub, KH_SIG_RSA_PKCS1_SHA256, KH_SLICE_LIT(MSG), KH_SLICE_EMPTY,
	                         kh_buf_slice(&want));
	assert_int_equal(kh_pkey_verify_digest(pub, KH_SIG_RSA_PKCS1_SHA256, kh_buf_slice(&digest),
	                                       kh_buf_slice(&want)),
	                 KH_OK);
	/* The same bytes are not a PSS signature. */
	assert_int_equal(kh_pkey_verify(pub, KH_SIG_RSA_PSS_SHA256, KH_SLICE_LIT(MSG),
	                                KH_SLICE_EMPTY, kh_buf_slice(&want)),
	                 KH_ERR_BAD_SIGNATURE);
	kh_pkey_free(&key);
	kh_pkey_free(&pub);
	kh_buf_cleanup(&want);
	kh_buf_cleanup(&digest);
	kh_buf_cleanup(&sig);
}

/* Ours verify in both modes, and are not one fixed value (the salt is random). */
static void assert_own_signatures_verify(const struct kh_pkey *key, const struct kh_pkey *pub,
                                         enum kh_sig_alg alg, const char *digest_hex)
{
	struct kh_buf digest = kh_test_hex(digest_hex);
	struct kh_buf s1, s2;

	kh_buf_init(&s1, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&s2, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pkey_sign(key, alg, KH_SLICE_LIT(MSG), KH_SLICE_EMPTY, &s1), KH_OK);
	assert_int_equal(kh_pkey_sign_digest(key, alg, kh_buf_slice(&digest), &s2), KH_OK);
	assert_false(kh_slice_eq(kh_buf_slice(&s1), kh_buf_slice(&s2)));
	assert_verifies_strictly(pub, alg, KH_SLICE_LIT(MSG), KH_SLICE_EMPTY, kh_buf_slice(&s1));
	assert_verifies_strictly(pub, alg, KH_SLICE_LIT(MSG), KH_SLICE_EMPTY, kh_buf_slice(&s2));
	assert_int_equal(kh_pkey_verify_digest(pub, alg, kh_buf_slice(&digest), kh_buf_slice(&s1)),
	                 KH_OK);
	digest.ptr[0] ^= 1;
	assert_int_equal(kh_pkey_verify_digest(pub, alg, kh_buf_slice(&digest), kh_buf_slice(&s1)),
	                 KH_ERR_BAD_SIGNATURE);
	kh_buf_cleanup(&digest);
	kh_buf_cleanup(&s1);
	kh_buf_cleanup(&s2);
}

static void assert_cli_signature_verifies(const struct kh_pkey *pub, enum kh_sig_alg alg,
                                          const char *sig_file, const char *digest_hex)
{
	struct kh_buf sig = kh_test_pkey_file(sig_file);
	struct kh_buf digest = kh_test_hex(digest_hex);

	assert_verifies_strictly(pub, alg, KH_SLICE_LIT(MSG), KH_SLICE_EMPTY, kh_buf_slice(&sig));
	assert_int_equal(kh_pkey_verify_digest(pub, alg, kh_buf_slice(&digest), kh_buf_slice(&sig)),
	                 KH_OK);
	kh_buf_cleanup(&sig);
	kh_buf_cleanup(&digest);
}

static void rsa_pss_verifies_openssl_cli_signature_and_own_signatures(void **state)
{
	struct kh_pkey *key = kh_test_pkey_load("rsa2048.key.pem", true);
	struct kh_pkey *pub = kh_test_pkey_load("rsa2048.pub.pem", false);
	struct kh_buf salt20 = kh_test_pkey_file("rsa2048.pss_salt20.sig");

	(void)state;
	assert_cli_signature_verifies(pub, KH_SIG_RSA_PSS_SHA256, "rsa2048.pss.sig", SHA256_ABC);
	assert_own_signatures_verify(key, pub, KH_SIG_RSA_PSS_SHA256, SHA256_ABC);
	/* A valid PSS signature with a 20-byte salt is not ours: the salt length is 32. */
	assert_int_equal(kh_pkey_verify(pub, KH_SIG_RSA_PSS_SHA256, KH_SLICE_LIT(MSG),
	                                KH_SLICE_EMPTY, kh_buf_slice(&salt20)),
	                 KH_ERR_BAD_SIGNATURE);
	kh_pkey_free(&key);
	kh_pkey_free(&pub);
	kh_buf_cleanup(&salt20);
}

static void ecdsa_verifies_openssl_cli_signatures_and_own_signatures(void **state)
{
	struct kh_pkey *k256 = kh_test_pkey_load("p256.key.pem", true);
	struct kh_pkey *p256 = kh_test_pkey_load("p256.pub.pem", false);
	struct kh_pkey *k384 = kh_test_pkey_load("p384.key.pem", true);
	struct kh_pkey *p384 = kh_test_pkey_load("p384.pub.pem", false);

	(void)state;
	assert_cli_signature_verifies(p256, KH_SIG_ECDSA_SHA256, "p256.sig", SHA256_ABC);
	assert_cli_signature_verifies(p384, KH_SIG_ECDSA_SHA384, "p384.sig", SHA384_ABC);
	assert_own_signatures_verify(k256, p256, KH_SIG_ECDSA_SHA256, SHA256_ABC);
	assert_own_signatures_verify(k384, p384, KH_SIG_ECDSA_SHA384, SHA384_ABC);
	kh_pkey_free(&k256);
	kh_pkey_free(&p256);
	kh_pkey_free(&k384);
	kh_pkey_free(&p384);
}

/*
 * SM2: the command line's signatures under the default ID and under ALICE123@YAHOO.COM verify
 * under their own ID only; an empty ID means the default. Ours verify against the e the script
 * computed from Z, in both modes, which pins both the ID handling and the digest mode.
 */
static void sm2_signatures_interoperate_and_bind_the_id(void **state)
{
	struct kh_pkey *key = kh_test_pkey_load("sm2.key.pem", true);
	struct kh_pkey *pub = kh_test_pkey_load("sm2.pub.pem", false);
	struct kh_buf def_sig = kh_test_pkey_file("sm2.default_id.sig");
	struct kh_buf alice_sig = kh_test_pkey_file("sm2.alice_id.sig");
	struct kh_buf def_e = kh_test_pkey_file("sm2.default_id.e");
	struct kh_buf alice_e = kh_test_pkey_file("sm2.alice_id.e");
	struct kh_slice def_id = KH_SLICE_LIT(KH_SM2_DEFAULT_ID);
	struct kh_slice alice_id = KH_SLICE_LIT(ALICE_ID);
	struct kh_slice msg = KH_SLICE_LIT(MSG);
	struct kh_buf sig;

	(void)state;
	kh_buf_init(&sig, BUF_MAX, KH_BUF_PLAIN);
	/* The command line's signatures. */
	assert_verifies_strictly(pub, KH_SIG_SM2_SM3, msg, KH_SLICE_EMPTY, kh_buf_slice(&def_sig));
	assert_verifies_strictly(pub, KH_SIG_SM2_SM3, msg, def_id, kh_buf_slice(&def_sig));
	assert_verifies_strictly(pub, KH_SIG_SM2_SM3, msg, alice_id, kh_buf_slice(&alice_sig));
	assert_int_equal(kh_pkey_verify(pub, KH_SIG_SM2_SM3, msg, alice_id, kh_buf_slice(&def_sig)),
	                 KH_ERR_BAD_SIGNATURE);
	assert_int_equal(
	    kh_pkey_verify(pub, KH_SIG_SM2_SM3, msg, KH_SLICE_EMPTY, kh_buf_slice(&alice_sig)),
	    KH_ERR_BAD_SIGNATURE);
	assert_int_equal(kh_pkey_verify_digest(pub, KH_SIG_SM2_SM3, kh_buf_slice(&def_e),
	                                       kh_buf_slice(&def_sig)),
	                 KH_OK);
	assert_int_equal(kh_pkey_verify_digest(pub, KH_SIG_SM2_SM3, kh_buf_slice(&alice_e),
	                                       kh_buf_slice(&alice_sig)),
	                 KH_OK);
	assert_int_equal(kh_pkey_verify_digest(pub, KH_SIG_SM2_SM3, kh_buf_slice(&alice_e),
	                                       kh_buf_slice(&def_sig)),
	                 KH_ERR_BAD_SIGNATURE);

	/* Ours, message mode, each ID: verify against the script's e for that ID only. */
	assert_int_equal(kh_pkey_sign(key, KH_SIG_SM2_SM3, msg, KH_SLICE_EMPTY, &sig), KH_OK);
	assert_int_equal(
	    kh_pkey_verify_digest(pub, KH_SIG_SM2_SM3, kh_buf_slice(&def_e), kh_buf_slice(&sig)),
	    KH_OK);
	assert_verifies_strictly(pub, KH_SIG_SM2_SM3, msg, def_id, kh_buf_slice(&sig));
	assert_int_equal(kh_pkey_verify(pub, KH_SIG_SM2_SM3, msg, alice_id, kh_buf_slice(&sig)),
	                 KH_ERR_BAD_SIGNATURE);
	kh_buf_clear(&sig);
	assert_int_equal(kh_pkey_sign(key, KH_SIG_SM2_SM3, msg, alice_id, &sig), KH_OK);
	assert_int_equal(
	    kh_pkey_verify_digest(pub, KH_SIG_SM2_SM3, kh_buf_slice(&alice_e), kh_buf_slice(&sig)),
	    KH_OK);
	assert_int_equal(
	    kh_pkey_verify_digest(pub, KH_SIG_SM2_SM3, kh_buf_slice(&def_e), kh_buf_slice(&sig)),
	    KH_ERR_BAD_SIGNATURE);

	/* Ours, digest mode: signing e is signing the message under that ID. */
	kh_buf_clear(&sig);
	assert_int_equal(kh_pkey_sign_digest(key, KH_SIG_SM2_SM3, kh_buf_slice(&alice_e), &sig),
	                 KH_OK);
	assert_verifies_strictly(pub, KH_SIG_SM2_SM3, msg, alice_id, kh_buf_slice(&sig));
	assert_int_equal(
	    kh_pkey_verify(pub, KH_SIG_SM2_SM3, msg, KH_SLICE_EMPTY, kh_buf_slice(&sig)),
	    KH_ERR_BAD_SIGNATURE);

	kh_pkey_free(&key);
	kh_pkey_free(&pub);
	kh_buf_cleanup(&def_sig);
	kh_buf_cleanup(&alice_sig);
	kh_buf_cleanup(&def_e);
	kh_buf_cleanup(&alice_e);
	kh_buf_cleanup(&sig);
}

static void sm2_refuses_an_id_longer_than_entl_allows(void **state)
{
	static uint8_t id[8191];
	struct kh_pkey *key = kh_test_pkey_load("sm2.key.pem", true);
	struct kh_buf sig;

	(void)state;
	memset(id, 'A', sizeof(id));
	kh_buf_init(&sig, BUF_MAX, KH_BUF_PLAIN);
	/* GB/T 32918.2 5.5: ENTL is two bytes of bit length; OpenSSL 3.0 stops at 8190 bytes. */
	assert_int_equal(
	    kh_pkey_sign(key, KH_SIG_SM2_SM3, KH_SLICE_LIT(MSG), KH_SLICE(id, 8190), &sig), KH_OK);
	assert_int_equal(kh_pkey_verify(key, KH_SIG_SM2_SM3, KH_SLICE_LIT(MSG), KH_SLICE(id, 8190),
	                                kh_buf_slice(&sig)),
	                 KH_OK);
	assert_int_equal(
	    kh_pkey_sign(key, KH_SIG_SM2_SM3, KH_SLICE_LIT(MSG), KH_SLICE(id, 8191), &sig),
	    KH_ERR_BAD_INPUT);
	assert_int_equal(kh_pkey_verify(key, KH_SIG_SM2_SM3, KH_SLICE_LIT(MSG), KH_SLICE(id, 8191),
	                                kh_buf_slice(&sig)),
	                 KH_ERR_BAD_INPUT);
	kh_pkey_free(&key);
	kh_buf_cleanup(&sig);
}

/* Generated keys of every signing type sign with their default algorithm, and the signature
 * lands after what the buffer already held. */
static void generated_keys_sign_with_their_default_algorithm(void **state)
{
	static const enum kh_pkey_type all[] = {KH_PKEY_EC_P256, KH_PKEY_EC_P384, KH_PKEY_ED25519,
	                                        KH_PKEY_SM2};

	(void)state;
	assert_int_equal(kh_sig_default(KH_PKEY_RSA_2048), KH_SIG_RSA_PSS_SHA256);
	assert_int_equal(kh_sig_default(KH_PKEY_RSA_3072), KH_SIG_RSA_PSS_SHA256);
	assert_int_equal(kh_sig_default(KH_PKEY_RSA_4096), KH_SIG_RSA_PSS_SHA256);
	assert_int_equal(kh_sig_default(KH_PKEY_EC_P256), KH_SIG_ECDSA_SHA256);
	assert_int_equal(kh_sig_default(KH_PKEY_EC_P384), KH_SIG_ECDSA_SHA384);
	assert_int_equal(kh_sig_default(KH_PKEY_ED25519), KH_SIG_ED25519);
	assert_int_equal(kh_sig_default(KH_PKEY_SM2), KH_SIG_SM2_SM3);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct kh_pkey *key = NULL;
		enum kh_sig_alg alg = kh_sig_default(all[i]);
		struct kh_buf sig;

		kh_buf_init(&sig, BUF_MAX, KH_BUF_PLAIN);
		assert_int_equal(kh_buf_append_cstr(&sig, "prefix"), KH_OK);
		assert_int_equal(kh_pkey_generate(all[i], &key), KH_OK);
		assert_int_equal(kh_pkey_sign(key, alg, KH_SLICE_EMPTY, KH_SLICE_EMPTY, &sig),
		                 KH_OK);
		assert_memory_equal(sig.ptr, "prefix", 6);
		assert_int_equal(kh_pkey_verify(key, alg, KH_SLICE_EMPTY, KH_SLICE_EMPTY,
		                                KH_SLICE(sig.ptr + 6, sig.len - 6)),
		                 KH_OK);
		kh_pkey_free(&key);
		kh_buf_cleanup(&sig);
	}
}

/* Every algorithm other than the ones a key type supports is KH_ERR_WRONG_KEY_TYPE, in both
 * modes and for verification too; unknown values are KH_ERR_BAD_INPUT. */
static void wrong_algorithm_for_the_key_is_refused(void **state)
{
	static const struct {
		const char *file;
		enum kh_sig_alg ok1, ok2;
	} keys[] = {
	    {"rsa2048.key.pem", KH_SIG_RSA_PSS_SHA256, KH_SIG_RSA_PKCS1_SHA256},
	    {"p256.key.pem", KH_SIG_ECDSA_SHA256, KH_SIG_ECDSA_SHA256},
	    {"p384.key.pem", KH_SIG_ECDSA_SHA384, KH_SIG_ECDSA_SHA384},
	    {"sm2.key.pem", KH_SIG_SM2_SM3, KH_SIG_SM2_SM3},
	};
	uint8_t digest[48] = {0};
	uint8_t fake_sig[72] = {0};

	(void)state;
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		struct kh_pkey *key = kh_test_pkey_load(keys[k].file, true);
		struct kh_buf sig;

		kh_buf_init(&sig, BUF_MAX, KH_BUF_PLAIN);
		for (int a = KH_SIG_RSA_PSS_SHA256; a <= KH_SIG_SM2_SM3; a++) {
			enum kh_sig_alg alg = (enum kh_sig_alg)a;
			size_t dlen = alg == KH_SIG_ECDSA_SHA384 ? 48 : 32;

			if (alg == keys[k].ok1 || alg == keys[k].ok2)
				continue;
			assert_int_equal(
			    kh_pkey_sign(key, alg, KH_SLICE_LIT(MSG), KH_SLICE_EMPTY, &sig),
			    KH_ERR_WRONG_KEY_TYPE);
			assert_int_equal(kh_pkey_verify(key, alg, KH_SLICE_LIT(MSG), KH_SLICE_EMPTY,
			                                KH_SLICE(fake_sig, sizeof(fake_sig))),
			                 KH_ERR_WRONG_KEY_TYPE);
			assert_int_equal(
			    kh_pkey_sign_digest(key, alg, KH_SLICE(digest, dlen), &sig),
			    KH_ERR_WRONG_KEY_TYPE);
			assert_int_equal(
			    kh_pkey_verify_digest(key, alg, KH_SLICE(digest, dlen),
			                          KH_SLICE(fake_sig, sizeof(fake_sig))),
			    KH_ERR_WRONG_KEY_TYPE);
		}
		assert_int_equal(
		    kh_pkey_sign(key, (enum kh_sig_alg)0, KH_SLICE_LIT(MSG), KH_SLICE_EMPTY, &sig),
		    KH_ERR_BAD_INPUT);
		assert_int_equal(kh_pkey_verify(key, (enum kh_sig_alg)99, KH_SLICE_LIT(MSG),
		                                KH_SLICE_EMPTY, KH_SLICE(fake_sig, 8)),
		                 KH_ERR_BAD_INPUT);
		assert_int_equal(sig.len, 0);
		kh_pkey_free(&key);
		kh_buf_cleanup(&sig);
	}
}

static void public_only_keys_cannot_sign(void **state)
{
	static const char *const files[] = {"rsa2048.pub.pem", "p256.pub.pem", "p384.pub.pem",
	                                    "sm2.pub.pem"};
	uint8_t digest[48] = {0};
	struct kh_buf sig;

	(void)state;
	kh_buf_init(&sig, BUF_MAX, KH_BUF_PLAIN);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct kh_pkey *pub = kh_test_pkey_load(files[i], false);
		enum kh_sig_alg alg = kh_sig_default(kh_pkey_type_of(pub));
		size_t dlen = alg == KH_SIG_ECDSA_SHA384 ? 48 : 32;

		assert_int_equal(kh_pkey_sign(pub, alg, KH_SLICE_LIT(MSG), KH_SLICE_EMPTY, &sig),
		                 KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_pkey_sign_digest(pub, alg, KH_SLICE(digest, dlen), &sig),
		                 KH_ERR_WRONG_KEY_TYPE);
		kh_pkey_free(&pub);
	}
	/* Ed25519 public key from RFC 8032 TEST 1 (RFC 8410 SPKI). */
	{
		struct kh_buf spki = kh_test_hex("302a300506032b6570032100d75a980182b10ab7d54bfed3c"
		                                 "964073a0ee172f3daa62325af021a68f707511a");
		struct kh_buf want = kh_test_hex(ed25519_vectors[0][2]);
		struct kh_pkey *pub = NULL;

		assert_int_equal(kh_pkey_import_public(kh_buf_slice(&spki), &pub), KH_OK);
		assert_int_equal(
		    kh_pkey_sign(pub, KH_SIG_ED25519, KH_SLICE_EMPTY, KH_SLICE_EMPTY, &sig),
		    KH_ERR_WRONG_KEY_TYPE);
		assert_verifies_strictly(pub, KH_SIG_ED25519, KH_SLICE_EMPTY, KH_SLICE_EMPTY,
		                         kh_buf_slice(&want));
		kh_pkey_free(&pub);
		kh_buf_cleanup(&spki);
		kh_buf_cleanup(&want);
	}
	assert_int_equal(sig.len, 0);
	kh_buf_cleanup(&sig);
}

static void digest_of_the_wrong_length_is_bad_input(void **state)
{
	static const struct {
		const char *file;
		enum kh_sig_alg alg;
		size_t right;
	} cases[] = {
	    {"rsa2048.key.pem", KH_SIG_RSA_PSS_SHA256, 32},
	    {"rsa2048.key.pem", KH_SIG_RSA_PKCS1_SHA256, 32},
	    {"p256.key.pem", KH_SIG_ECDSA_SHA256, 32},
	    {"p384.key.pem", KH_SIG_ECDSA_SHA384, 48},
	    {"sm2.key.pem", KH_SIG_SM2_SM3, 32},
	};
	uint8_t digest[65] = {0};
	static const size_t wrong[] = {0, 20, 31, 33, 47, 49, 64, 65};
	struct kh_buf sig;

	(void)state;
	kh_buf_init(&sig, BUF_MAX, KH_BUF_PLAIN);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct kh_pkey *key = kh_test_pkey_load(cases[c].file, true);

		for (size_t w = 0; w < sizeof(wrong) / sizeof(wrong[0]); w++) {
			if (wrong[w] == cases[c].right)
				continue;
			assert_int_equal(kh_pkey_sign_digest(key, cases[c].alg,
			                                     KH_SLICE(digest, wrong[w]), &sig),
			                 KH_ERR_BAD_INPUT);
			assert_int_equal(kh_pkey_verify_digest(key, cases[c].alg,
			                                       KH_SLICE(digest, wrong[w]),
			                                       KH_SLICE(digest, 64)),
			                 KH_ERR_BAD_INPUT);
		}
		assert_int_equal(
		    kh_pkey_sign_digest(key, cases[c].alg, KH_SLICE(digest, cases[c].right), &sig),
		    KH_OK);
		kh_buf_clear(&sig);
		kh_pkey_free(&key);
	}
	kh_buf_cleanup(&sig);
}

/* A full buffer: KH_ERR_TOO_LARGE, and the buffer keeps its contents. */
static void sign_into_a_full_buffer_is_too_large(void **state)
{
	struct kh_pkey *key = kh_test_pkey_load("p256.key.pem", true);
	struct kh_buf sig;

	(void)state;
	kh_buf_init(&sig, 40, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append_cstr(&sig, "x"), KH_OK);
	assert_int_equal(
	    kh_pkey_sign(key, KH_SIG_ECDSA_SHA256, KH_SLICE_LIT(MSG), KH_SLICE_EMPTY, &sig),
	    KH_ERR_TOO_LARGE);
	assert_int_equal(sig.len, 1);
	kh_pkey_free(&key);
	kh_buf_cleanup(&sig);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ed25519_matches_rfc8032_section7_1_tests_1_to_3),
	    cmocka_unit_test(ed25519_has_no_digest_mode),
	    cmocka_unit_test(rsa_pkcs1_sha256_equals_openssl_cli_signature),
	    cmocka_unit_test(rsa_pss_verifies_openssl_cli_signature_and_own_signatures),
	    cmocka_unit_test(ecdsa_verifies_openssl_cli_signatures_and_own_signatures),
	    cmocka_unit_test(sm2_signatures_interoperate_and_bind_the_id),
	    cmocka_unit_test(sm2_refuses_an_id_longer_than_entl_allows),
	    cmocka_unit_test(generated_keys_sign_with_their_default_algorithm),
	    cmocka_unit_test(wrong_algorithm_for_the_key_is_refused),
	    cmocka_unit_test(public_only_keys_cannot_sign),
	    cmocka_unit_test(digest_of_the_wrong_length_is_bad_input),
	    cmocka_unit_test(sign_into_a_full_buffer_is_too_large),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
