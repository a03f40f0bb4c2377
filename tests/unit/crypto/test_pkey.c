/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Asymmetric key objects: generation, export and re-import of all seven types in DER and PEM;
 * import of keys written by the openssl command line (tests/data/pkey/, made by
 * tests/data/gen_sign_vectors.sh) with byte-exact re-export; RFC 8032 7.1 Ed25519 keys; and
 * refusal of everything outside the policy: small or RSA-PSS-restricted RSA keys, other curves,
 * X25519, explicit curve parameters, encrypted or traditional encodings, wrong PEM labels,
 * truncated, trailing and garbage input, oversized input, EC keys whose public point does not
 * match, private exports to plain memory. Import survives every allocation failure.
 */
#include "kh_test_crypto.h"

#include <stdio.h>
#include <string.h>

#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

#define BUF_MAX (64u * 1024u)

static kh_rc import_file(const char *name, bool private_key, struct kh_pkey **out)
{
	struct kh_buf b = kh_test_pkey_file(name);
	kh_rc rc = private_key ? kh_pkey_import_private(kh_buf_slice(&b), out)
	                       : kh_pkey_import_public(kh_buf_slice(&b), out);

	kh_buf_cleanup(&b);
	return rc;
}

static bool has_prefix(struct kh_slice s, const char *prefix)
{
	size_t n = strlen(prefix);
	return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

/* Export in one format, re-import, and compare the public halves and types. */
static void round_trip(struct kh_pkey *key, bool pem)
{
	struct kh_buf priv, pub, pub2, pub3;
	struct kh_pkey *back = NULL, *back_pub = NULL;

	kh_buf_init(&priv, BUF_MAX, KH_BUF_SECURE);
	kh_buf_init(&pub, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&pub2, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&pub3, BUF_MAX, KH_BUF_PLAIN);
	if (pem) {
		assert_int_equal(kh_pkey_export_private_pem(key, &priv), KH_OK);
		assert_int_equal(kh_pkey_export_public_pem(key, &pub), KH_OK);
		assert_true(has_prefix(kh_buf_slice(&priv), "-----BEGIN PRIVATE KEY-----\n"));
		assert_true(has_prefix(kh_buf_slice(&pub), "-----BEGIN PUBLIC KEY-----\n"));
	} else {
		assert_int_equal(kh_pkey_export_private_der(key, &priv), KH_OK);
		assert_int_equal(kh_pkey_export_public_der(key, &pub), KH_OK);
		assert_int_equal(priv.ptr[0], 0x30);
		assert_int_equal(pub.ptr[0], 0x30);
	}
	assert_true(kh_secure_owns(priv.ptr));

	assert_int_equal(kh_pkey_import_private(kh_buf_slice(&priv), &back), KH_OK);
	assert_int_equal(kh_pkey_type_of(back), kh_pkey_type_of(key));
	assert_true(kh_pkey_has_private(back));
	assert_int_equal(kh_pkey_import_public(kh_buf_slice(&pub), &back_pub), KH_OK);
	assert_int_equal(kh_pkey_type_of(back_pub), kh_pkey_type_of(key));
	assert_false(kh_pkey_has_private(back_pub));

	if (pem) {
		assert_int_equal(kh_pkey_export_public_pem(back, &pub2), KH_OK);
		assert_int_equal(kh_pkey_export_public_pem(back_pub, &pub3), KH_OK);
	} else {
		assert_int_equal(kh_pkey_export_public_der(back, &pub2), KH_OK);
		assert_int_equal(kh_pkey_export_public_der(back_pub, &pub3), KH_OK);
	}
	assert_true(kh_slice_eq(kh_buf_slice(&pub), kh_buf_slice(&pub2)));
	assert_true(kh_slice_eq(kh_buf_slice(&pub), kh_buf_slice(&pub3)));

	kh_pkey_free(&back);
	kh_pkey_free(&back_pub);
	assert_null(back);
	kh_buf_cleanup(&priv);
	kh_buf_cleanup(&pub);
	kh_buf_cleanup(&pub2);
	kh_buf_cleanup(&pub3);
}

static void generate_export_import_round_trips_every_type_in_der_and_pem(void **state)
{
	static const enum kh_pkey_type all[] = {
	    KH_PKEY_RSA_2048, KH_PKEY_RSA_3072, KH_PKEY_RSA_4096, KH_PKEY_EC_P256,
	    KH_PKEY_EC_P384,  KH_PKEY_ED25519,  KH_PKEY_SM2,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct kh_pkey *key = NULL;

		/* One generation per type: RSA-4096 is slow under the sanitizers. */
		assert_int_equal(kh_pkey_generate(all[i], &key), KH_OK);
		assert_int_equal(kh_pkey_type_of(key), all[i]);
		assert_true(kh_pkey_has_private(key));
		round_trip(key, false);
		round_trip(key, true);
		kh_pkey_free(&key);
	}
}

static void generate_refuses_unknown_types(void **state)
{
	struct kh_pkey *key = NULL;

	(void)state;
	assert_int_equal(kh_pkey_generate((enum kh_pkey_type)0, &key), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_pkey_generate((enum kh_pkey_type)99, &key), KH_ERR_BAD_INPUT);
	assert_null(key);
}

struct cli_key {
	const char *name;
	enum kh_pkey_type type;
	bool has_der; /* the script also wrote <name>.key.der and <name>.pub.der */
};

static const struct cli_key cli_keys[] = {
    {"rsa2048", KH_PKEY_RSA_2048, true},
    {"p256", KH_PKEY_EC_P256, true},
    {"p384", KH_PKEY_EC_P384, false},
    {"sm2", KH_PKEY_SM2, true},
};

static void assert_export_equals_file(struct kh_pkey *key, bool private_key, bool pem,
                                      const char *file)
{
	struct kh_buf want = kh_test_pkey_file(file);
	struct kh_buf got;
	kh_rc rc;

	kh_buf_init(&got, BUF_MAX, private_key ? KH_BUF_SECURE : KH_BUF_PLAIN);
	if (private_key)
		rc = pem ? kh_pkey_export_private_pem(key, &got)
		         : kh_pkey_export_private_der(key, &got);
	else
		rc = pem ? kh_pkey_export_public_pem(key, &got)
		         : kh_pkey_export_public_der(key, &got);
	assert_int_equal(rc, KH_OK);
	assert_true(kh_slice_eq(kh_buf_slice(&got), kh_buf_slice(&want)));
	kh_buf_cleanup(&got);
	kh_buf_cleanup(&want);
}

/* Keys from `openssl genpkey`: each imports with the right type and re-exports byte for byte as
 * the command line wrote it (PKCS#8 and SPKI, PEM and DER). */
static void openssl_cli_keys_import_and_export_identically(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cli_keys) / sizeof(cli_keys[0]); i++) {
		const struct cli_key *k = &cli_keys[i];
		char file[64];
		struct kh_pkey *key = NULL;
		struct kh_pkey *pub = NULL;

		snprintf(file, sizeof(file), "%s.key.pem", k->name);
		assert_int_equal(import_file(file, true, &key), KH_OK);
		assert_int_equal(kh_pkey_type_of(key), k->type);
		assert_true(kh_pkey_has_private(key));
		assert_export_equals_file(key, true, true, file);
		snprintf(file, sizeof(file), "%s.pub.pem", k->name);
		assert_export_equals_file(key, false, true, file);
		assert_int_equal(import_file(file, false, &pub), KH_OK);
		assert_int_equal(kh_pkey_type_of(pub), k->type);
		assert_false(kh_pkey_has_private(pub));
		assert_export_equals_file(pub, false, true, file);
		kh_pkey_free(&key);
		kh_pkey_free(&pub);
		if (!k->has_der)
			continue;

		snprintf(file, sizeof(file), "%s.key.der", k->name);
		assert_int_equal(import_file(file, true, &key), KH_OK);
		assert_int_equal(kh_pkey_type_of(key), k->type);
		assert_export_equals_file(key, true, false, file);
		snprintf(file, sizeof(file), "%s.pub.der", k->name);
		assert_export_equals_file(key, false, false, file);
		assert_int_equal(import_file(file, false, &pub), KH_OK);
		assert_int_equal(kh_pkey_type_of(pub), k->type);
		assert_export_equals_file(pub, false, false, file);
		kh_pkey_free(&key);
		kh_pkey_free(&pub);
	}
}

/* RFC 8410 7: PKCS#8 for Ed25519 is this fixed header followed by the 32-byte seed. */
#define ED25519_PKCS8_PREFIX "302e020100300506032b657004220420"
/* RFC 8410 4: the SubjectPublicKeyInfo header before the 32-byte public key. */
#define ED25519_SPKI_PREFIX "302a300506032b6570032100"

/* RFC 8032 7.1 TEST 1, 2 and 3: the secret keys and the public keys derived from them. */
static void ed25519_rfc8032_keys_derive_the_published_public_keys(void **state)
{
	static const char *const keys[][2] = {
	    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"},
	    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"},
	    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
	     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025"},
	};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		char hex[200];
		struct kh_buf der, spki, priv;
		struct kh_pkey *key = NULL;

		snprintf(hex, sizeof(hex), "%s%s", ED25519_PKCS8_PREFIX, keys[i][0]);
		der = kh_test_hex(hex);
		assert_int_equal(kh_pkey_import_private(kh_buf_slice(&der), &key), KH_OK);
		assert_int_equal(kh_pkey_type_of(key), KH_PKEY_ED25519);
		kh_buf_init(&spki, BUF_MAX, KH_BUF_PLAIN);
		assert_int_equal(kh_pkey_export_public_der(key, &spki), KH_OK);
		snprintf(hex, sizeof(hex), "%s%s", ED25519_SPKI_PREFIX, keys[i][1]);
		kh_test_assert_hex(kh_buf_slice(&spki), hex);
		/* And the private export is the same RFC 8410 encoding. */
		kh_buf_init(&priv, BUF_MAX, KH_BUF_SECURE);
		assert_int_equal(kh_pkey_export_private_der(key, &priv), KH_OK);
		assert_true(kh_slice_eq(kh_buf_slice(&priv), kh_buf_slice(&der)));
		kh_pkey_free(&key);
		kh_buf_cleanup(&der);
		kh_buf_cleanup(&spki);
		kh_buf_cleanup(&priv);
	}
}

/* Keys and encodings the policy refuses, each written by the openssl command line. */
static void import_refuses_keys_outside_the_policy(void **state)
{
	static const char *const private_files[] = {
	    "rsa1024.key.pem",   /* below 2048 bits */
	    "rsapss.key.pem",    /* id-RSASSA-PSS restricted key */
	    "secp256k1.key.pem", /* curve not offered */
	    "x25519.key.pem",    /* key agreement only */
	    "p256.enc.pem",      /* encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY") */
	    "p256.enc.der",      /* encrypted PKCS#8, DER */
	    "p256.trad.pem",     /* traditional "EC PRIVATE KEY" */
	    "p256.explicit.pem", /* explicit curve parameters */
	    "p256.pub.pem",      /* a public key where a private one belongs */
	    "p256.pub.der",      /* the same in DER */
	    "msg.bin",           /* not a key */
	};
	static const char *const public_files[] = {
	    "rsa1024.pub.pem", "rsapss.pub.pem", "secp256k1.pub.pem", "x25519.pub.pem",
	    "p256.key.pem",    "p256.key.der",   "p256.enc.pem",      "msg.bin",
	};
	struct kh_pkey *key = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(private_files) / sizeof(private_files[0]); i++) {
		if (import_file(private_files[i], true, &key) != KH_ERR_BAD_KEY)
			fail_msg("private import of %s was not refused", private_files[i]);
		assert_null(key);
	}
	for (size_t i = 0; i < sizeof(public_files) / sizeof(public_files[0]); i++) {
		if (import_file(public_files[i], false, &key) != KH_ERR_BAD_KEY)
			fail_msg("public import of %s was not refused", public_files[i]);
		assert_null(key);
	}
}

/* Every proper prefix of a DER key, and the key with one byte appended, are refused. */
static void import_refuses_truncated_der_and_trailing_bytes(void **state)
{
	static const char *const files[][2] = {
	    {"p256.key.der", "p256.pub.der"},
	    {"sm2.key.der", "sm2.pub.der"},
	    {"rsa2048.key.der", "rsa2048.pub.der"},
	};

	(void)state;
	for (size_t f = 0; f < 3; f++) {
		for (int which = 0; which < 2; which++) {
			struct kh_buf b = kh_test_pkey_file(files[f][which]);
			struct kh_pkey *key = NULL;
			bool priv = which == 0;
			kh_rc (*imp)(struct kh_slice, struct kh_pkey **) =
			    priv ? kh_pkey_import_private : kh_pkey_import_public;

			for (size_t n = 0; n < b.len; n++) {
				if (imp(KH_SLICE(b.ptr, n), &key) != KH_ERR_BAD_KEY)
					fail_msg("%s cut to %zu bytes was accepted",
					         files[f][which], n);
			}
			assert_int_equal(kh_buf_append_byte(&b, 0x00), KH_OK);
			assert_int_equal(imp(kh_buf_slice(&b), &key), KH_ERR_BAD_KEY);
			assert_null(key);
			kh_buf_cleanup(&b);
		}
	}
}

static kh_rc import_pem_with_suffix(const char *file, const char *suffix, bool private_key)
{
	struct kh_buf b = kh_test_pkey_file(file);
	struct kh_pkey *key = NULL;
	kh_rc rc;

	assert_int_equal(kh_buf_append_cstr(&b, suffix), KH_OK);
	rc = private_key ? kh_pkey_import_private(kh_buf_slice(&b), &key)
	                 : kh_pkey_import_public(kh_buf_slice(&b), &key);
	assert_true((rc == KH_OK) == (key != NULL));
	kh_pkey_free(&key);
	kh_buf_cleanup(&b);
	return rc;
}

static void import_pem_allows_trailing_whitespace_only(void **state)
{
	(void)state;
	assert_int_equal(import_pem_with_suffix("p256.key.pem", "\n\r\n \t\n", true), KH_OK);
	assert_int_equal(import_pem_with_suffix("p256.pub.pem", "\n", false), KH_OK);
	assert_int_equal(import_pem_with_suffix("p256.key.pem", "x", true), KH_ERR_BAD_KEY);
	assert_int_equal(import_pem_with_suffix("p256.pub.pem", "garbage\n", false),
	                 KH_ERR_BAD_KEY);
	/* A second PEM block after the first. */
	assert_int_equal(import_pem_with_suffix("p256.pub.pem",
	                                        "-----BEGIN PUBLIC KEY-----\n"
	                                        "-----END PUBLIC KEY-----\n",
	                                        false),
	                 KH_ERR_BAD_KEY);
}

/* PEM framing errors: wrong labels, RFC 1421 headers, CRLF line ends (accepted), bad Base64. */
static void import_pem_checks_label_headers_and_base64(void **state)
{
	static const char *const labels[] = {"PUBLIC KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY",
	                                     "ENCRYPTED PRIVATE KEY", "CERTIFICATE"};
	struct kh_buf pem = kh_test_pkey_file("p256.key.pem");
	struct kh_buf edited;
	struct kh_pkey *key = NULL;
	const char *body = strchr(kh_buf_cstr(&pem), '\n') + 1;
	size_t body_len = (size_t)(strstr(body, "-----END") - body);

	(void)state;
	/* Same body under other labels. */
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		kh_buf_init(&edited, BUF_MAX, KH_BUF_PLAIN);
		assert_int_equal(kh_buf_append_cstr(&edited, "-----BEGIN "), KH_OK);
		assert_int_equal(kh_buf_append_cstr(&edited, labels[i]), KH_OK);
		assert_int_equal(kh_buf_append_cstr(&edited, "-----\n"), KH_OK);
		assert_int_equal(kh_buf_append(&edited, KH_SLICE(body, body_len)), KH_OK);
		assert_int_equal(kh_buf_append_cstr(&edited, "-----END "), KH_OK);
		assert_int_equal(kh_buf_append_cstr(&edited, labels[i]), KH_OK);
		assert_int_equal(kh_buf_append_cstr(&edited, "-----\n"), KH_OK);
		assert_int_equal(kh_pkey_import_private(kh_buf_slice(&edited), &key),
		                 KH_ERR_BAD_KEY);
		kh_buf_cleanup(&edited);
	}

	/* An RFC 1421 header block. */
	kh_buf_init(&edited, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append_cstr(&edited, "-----BEGIN PRIVATE KEY-----\n"
	                                             "Proc-Type: 4,ENCRYPTED\n\n"),
	                 KH_OK);
	assert_int_equal(kh_buf_append_cstr(&edited, body), KH_OK);
	assert_int_equal(kh_pkey_import_private(kh_buf_slice(&edited), &key), KH_ERR_BAD_KEY);
	kh_buf_cleanup(&edited);

	/* CRLF line ends are accepted. */
	kh_buf_init(&edited, BUF_MAX, KH_BUF_PLAIN);
	for (size_t i = 0; i < pem.len; i++) {
		if (pem.ptr[i] == '\n')
			assert_int_equal(kh_buf_append_byte(&edited, '\r'), KH_OK);
		assert_int_equal(kh_buf_append_byte(&edited, pem.ptr[i]), KH_OK);
	}
	assert_int_equal(kh_pkey_import_private(kh_buf_slice(&edited), &key), KH_OK);
	assert_int_equal(kh_pkey_type_of(key), KH_PKEY_EC_P256);
	kh_pkey_free(&key);
	kh_buf_cleanup(&edited);

	/* A damaged Base64 body. */
	kh_buf_init(&edited, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&edited, kh_buf_slice(&pem)), KH_OK);
	edited.ptr[40] = '*';
	assert_int_equal(kh_pkey_import_private(kh_buf_slice(&edited), &key), KH_ERR_BAD_KEY);
	/* A valid block after a line that only looks like a start. */
	kh_buf_cleanup(&edited);
	kh_buf_init(&edited, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append_cstr(&edited, "-----BEGIN junk\n"), KH_OK);
	assert_int_equal(kh_buf_append(&edited, kh_buf_slice(&pem)), KH_OK);
	assert_int_equal(kh_pkey_import_private(kh_buf_slice(&edited), &key), KH_ERR_BAD_KEY);
	/* "-----BEGIN" with nothing else. */
	assert_int_equal(kh_pkey_import_private(KH_SLICE_LIT("-----BEGIN"), &key), KH_ERR_BAD_KEY);
	assert_null(key);
	kh_buf_cleanup(&edited);
	kh_buf_cleanup(&pem);
}

static void import_refuses_empty_and_oversized_input(void **state)
{
	struct kh_buf big;
	struct kh_buf pem = kh_test_pkey_file("p256.key.pem");
	struct kh_pkey *key = NULL;
	uint8_t *p = NULL;

	(void)state;
	assert_int_equal(kh_pkey_import_private(KH_SLICE_EMPTY, &key), KH_ERR_BAD_KEY);
	assert_int_equal(kh_pkey_import_public(KH_SLICE_EMPTY, &key), KH_ERR_BAD_KEY);
	/* A valid key padded with whitespace to one byte past the limit. */
	kh_buf_init(&big, 2 * KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&big, kh_buf_slice(&pem)), KH_OK);
	assert_int_equal(kh_buf_extend(&big, KH_LIMIT_KEY_ENCODED_BYTES + 1 - pem.len, &p), KH_OK);
	memset(p, '\n', KH_LIMIT_KEY_ENCODED_BYTES + 1 - pem.len);
	kh_buf_commit(&big, KH_LIMIT_KEY_ENCODED_BYTES + 1 - pem.len);
	assert_int_equal(kh_pkey_import_private(kh_buf_slice(&big), &key), KH_ERR_TOO_LARGE);
	assert_int_equal(kh_pkey_import_public(kh_buf_slice(&big), &key), KH_ERR_TOO_LARGE);
	/* At the limit it is fine. */
	kh_buf_truncate(&big, KH_LIMIT_KEY_ENCODED_BYTES);
	assert_int_equal(kh_pkey_import_private(kh_buf_slice(&big), &key), KH_OK);
	kh_pkey_free(&key);
	kh_buf_cleanup(&big);
	kh_buf_cleanup(&pem);
}

/*
 * A P-256 PKCS#8 whose embedded public point is another key's (a valid point, just not this
 * scalar's) fails the pairwise check. OpenSSL writes P-256 PKCS#8 as 138 bytes ending in the
 * 65-byte point, so the splice is a copy of the last 65 bytes.
 */
static void import_refuses_ec_key_whose_public_point_does_not_match(void **state)
{
	struct kh_pkey *a = NULL, *b = NULL, *key = NULL;
	struct kh_buf da, db;

	(void)state;
	kh_buf_init(&da, BUF_MAX, KH_BUF_SECURE);
	kh_buf_init(&db, BUF_MAX, KH_BUF_SECURE);
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &a), KH_OK);
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &b), KH_OK);
	assert_int_equal(kh_pkey_export_private_der(a, &da), KH_OK);
	assert_int_equal(kh_pkey_export_private_der(b, &db), KH_OK);
	assert_int_equal(da.len, 138);
	assert_int_equal(db.len, 138);
	assert_int_equal(da.ptr[da.len - 65], 0x04); /* uncompressed point */
	memcpy(da.ptr + da.len - 64, db.ptr + db.len - 64, 64);
	assert_int_equal(kh_pkey_import_private(kh_buf_slice(&da), &key), KH_ERR_BAD_KEY);
	assert_null(key);
	kh_pkey_free(&a);
	kh_pkey_free(&b);
	kh_buf_cleanup(&da);
	kh_buf_cleanup(&db);
}

/* A compressed point is accepted, and the key is exported uncompressed (RFC 5480 2.2). */
static void import_public_accepts_compressed_point_and_exports_uncompressed(void **state)
{
	struct kh_pkey *key = NULL;

	(void)state;
	assert_int_equal(import_file("p256.compressed.pub.pem", false, &key), KH_OK);
	assert_int_equal(kh_pkey_type_of(key), KH_PKEY_EC_P256);
	assert_export_equals_file(key, false, true, "p256.pub.pem");
	assert_export_equals_file(key, false, false, "p256.pub.der");
	kh_pkey_free(&key);
}

static void export_private_requires_secure_buffer_and_private_key(void **state)
{
	struct kh_pkey *key = NULL, *pub = NULL;
	struct kh_buf plain, secure;

	(void)state;
	kh_buf_init(&plain, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&secure, BUF_MAX, KH_BUF_SECURE);
	assert_int_equal(import_file("p256.key.pem", true, &key), KH_OK);
	assert_int_equal(import_file("p256.pub.pem", false, &pub), KH_OK);
	assert_int_equal(kh_pkey_export_private_der(key, &plain), KH_ERR_INTERNAL);
	assert_int_equal(kh_pkey_export_private_pem(key, &plain), KH_ERR_INTERNAL);
	assert_int_equal(plain.len, 0);
	assert_int_equal(kh_pkey_export_private_der(pub, &secure), KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(kh_pkey_export_private_pem(pub, &secure), KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(secure.len, 0);
	/* A buffer too small for the key reports its bound and keeps what it had. */
	kh_buf_cleanup(&plain);
	kh_buf_init(&plain, 16, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append_cstr(&plain, "x"), KH_OK);
	assert_int_equal(kh_pkey_export_public_pem(key, &plain), KH_ERR_TOO_LARGE);
	assert_int_equal(plain.len, 1);
	kh_pkey_free(&key);
	kh_pkey_free(&pub);
	kh_buf_cleanup(&plain);
	kh_buf_cleanup(&secure);
}

static void export_appends_after_existing_contents(void **state)
{
	struct kh_pkey *key = NULL;
	struct kh_buf b;

	(void)state;
	assert_int_equal(import_file("sm2.pub.der", false, &key), KH_OK);
	kh_buf_init(&b, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append_cstr(&b, "ab"), KH_OK);
	assert_int_equal(kh_pkey_export_public_der(key, &b), KH_OK);
	assert_int_equal(b.ptr[0], 'a');
	assert_int_equal(b.ptr[2], 0x30);
	kh_pkey_free(&key);
	kh_buf_cleanup(&b);
}

static void free_accepts_null(void **state)
{
	struct kh_pkey *key = NULL;

	(void)state;
	kh_pkey_free(&key);
	kh_pkey_free(NULL);
}

static kh_rc import_and_free(void *arg)
{
	const struct kh_buf *b = arg;
	struct kh_pkey *key = NULL;
	kh_rc rc = kh_pkey_import_private(kh_buf_slice(b), &key);

	kh_pkey_free(&key);
	return rc;
}

static kh_rc generate_and_free(void *arg)
{
	struct kh_pkey *key = NULL;
	kh_rc rc;

	(void)arg;
	rc = kh_pkey_generate(KH_PKEY_EC_P256, &key);
	kh_pkey_free(&key);
	return rc;
}

static void import_and_generate_survive_allocation_failures(void **state)
{
	static const char *const files[] = {"p256.key.pem", "rsa2048.key.der", "sm2.key.pem"};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct kh_buf b = kh_test_pkey_file(files[i]);
		kh_test_alloc_failures(import_and_free, &b);
		kh_buf_cleanup(&b);
	}
	kh_test_alloc_failures(generate_and_free, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(generate_export_import_round_trips_every_type_in_der_and_pem),
	    cmocka_unit_test(generate_refuses_unknown_types),
	    cmocka_unit_test(openssl_cli_keys_import_and_export_identically),
	    cmocka_unit_test(ed25519_rfc8032_keys_derive_the_published_public_keys),
	    cmocka_unit_test(import_refuses_keys_outside_the_policy),
	    cmocka_unit_test(import_refuses_truncated_der_and_trailing_bytes),
	    cmocka_unit_test(import_pem_allows_trailing_whitespace_only),
	    cmocka_unit_test(import_pem_checks_label_headers_and_base64),
	    cmocka_unit_test(import_refuses_empty_and_oversized_input),
	    cmocka_unit_test(import_refuses_ec_key_whose_public_point_does_not_match),
	    cmocka_unit_test(import_public_accepts_compressed_point_and_exports_uncompressed),
	    cmocka_unit_test(export_private_requires_secure_buffer_and_private_key),
	    cmocka_unit_test(export_appends_after_existing_contents),
	    cmocka_unit_test(free_accepts_null),
	    cmocka_unit_test(import_and_generate_survive_allocation_failures),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
