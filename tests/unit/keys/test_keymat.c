/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key material and the crypto operations of one key version.
 *
 * Known answers pin the documented blob formats (kh_keymat.h): a convergent encryption under a
 * fixed key, tag, version and context for each symmetric type is computed twice outside
 * keymat.c, once in this file from the primitives (kh_hkdf, kh_hmac_parts, kh_aead_seal) and
 * once by pyca/cryptography 48 (the script is at the end of this comment); the HMAC text is
 * also the openssl command line's. Hand-made blobs (random-nonce symmetric, RSA/SM2 with the
 * SHA-256(AD) binding) must decrypt. Then round trips for every type and mode, binding to tag,
 * version and context, convergent versus random nonces, every byte flip and truncation, the
 * strict text parser, wrong key types, malformed secrets, a shared key used by several threads,
 * and allocation-failure sweeps.
 *
 * SM2 digest mode: e = SM3(Z || M) is computed here from GB/T 32918.2-2016 5.5,
 * Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA), with the curve constants of
 * GB/T 32918.5-2017 and the default ID, and must agree with message-mode signatures.
 *
 * The independent vectors (python3, pyca/cryptography 48; SM4 as kh_crypto.h composes it):
 *   K = bytes(range(32)); tag = b"0123456789abcdef0123456789abcdef"; version = 7
 *   ctx = b"department=finance"; pt = b"keyhold convergent known answer"
 *   ad = b"keyhold/v1/encrypt\0" + tag + b"\0" + struct.pack(">II", version, len(ctx)) + ctx
 *   nk = HKDF(SHA256(), 32, salt=None, info=b"keyhold/v1/convergent-nonce").derive(K)
 *   nonce = hmac.new(nk, ad + pt, sha256).digest()[:12]
 *   AESGCM(K).encrypt(nonce, pt, ad); ChaCha20Poly1305(K).encrypt(nonce, pt, ad)
 *   SM4: ct = SM4-CTR(K[16:], nonce + 00000001)(pt);
 *        tag = HMAC-SM3(K[:16], ad + nonce + ct + BE64(8 * len(ad)))[:16]
 *   text = "kh:v7:" + b64encode(b"\1" + nonce + ct + tag)
 *   HMAC: "kh:v3:" + b64encode(b"\1" + HMAC-SHA256(K, b"keyhold mac known answer"))
 */
#include "kh_test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "keys/kh_keymat.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define BUF_MAX (256u * 1024u)
#define TAG "0123456789abcdef0123456789abcdef"
#define KEY_00_1F "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* ---- Fixtures: one generated key of every type, made once for the whole run ---- */

struct fixture {
	struct kh_buf secret; /* secure */
	struct kh_buf pub;    /* SPKI DER, empty for symmetric and HMAC */
	struct kh_keymat *m;
};
static struct fixture fx[KH_KEY_TYPE_MAX + 1];
static size_t secure_in_use_at_start;

static const enum kh_key_type all_types[] = {
    KH_KEY_AES_256_GCM, KH_KEY_SM4,      KH_KEY_CHACHA20_POLY1305, KH_KEY_RSA_2048,
    KH_KEY_RSA_3072,    KH_KEY_RSA_4096, KH_KEY_ECDSA_P256,        KH_KEY_ECDSA_P384,
    KH_KEY_ED25519,     KH_KEY_SM2,      KH_KEY_HMAC_SHA256,
};
static const enum kh_key_type symmetric_types[] = {KH_KEY_AES_256_GCM, KH_KEY_SM4,
                                                   KH_KEY_CHACHA20_POLY1305};
static const enum kh_key_type encrypting_types[] = {
    KH_KEY_AES_256_GCM, KH_KEY_SM4, KH_KEY_CHACHA20_POLY1305, KH_KEY_RSA_2048, KH_KEY_RSA_3072,
    KH_KEY_RSA_4096,    KH_KEY_SM2,
};
/* The ones whose every byte is flipped (RSA-3072/4096 cost more and add nothing). */
static const enum kh_key_type flipped_types[] = {
    KH_KEY_AES_256_GCM, KH_KEY_SM4, KH_KEY_CHACHA20_POLY1305, KH_KEY_RSA_2048, KH_KEY_SM2};
static const enum kh_key_type non_encrypting_types[] = {KH_KEY_ECDSA_P256, KH_KEY_ECDSA_P384,
                                                        KH_KEY_ED25519, KH_KEY_HMAC_SHA256};
static const enum kh_key_type asymmetric_types[] = {
    KH_KEY_RSA_2048,   KH_KEY_RSA_3072, KH_KEY_RSA_4096, KH_KEY_ECDSA_P256,
    KH_KEY_ECDSA_P384, KH_KEY_ED25519,  KH_KEY_SM2,
};

static enum kh_pkey_type pkey_type_of(enum kh_key_type t)
{
	static const enum kh_pkey_type map[KH_KEY_TYPE_MAX + 1] = {
	    [KH_KEY_RSA_2048] = KH_PKEY_RSA_2048,
	    [KH_KEY_RSA_3072] = KH_PKEY_RSA_3072,
	    [KH_KEY_RSA_4096] = KH_PKEY_RSA_4096,
	    [KH_KEY_ECDSA_P256] = KH_PKEY_EC_P256,
	    [KH_KEY_ECDSA_P384] = KH_PKEY_EC_P384,
	    [KH_KEY_ED25519] = KH_PKEY_ED25519,
	    [KH_KEY_SM2] = KH_PKEY_SM2,
	};
	return map[t];
}

static bool is_symmetric_or_mac(enum kh_key_type t)
{
	return t == KH_KEY_AES_256_GCM || t == KH_KEY_SM4 || t == KH_KEY_CHACHA20_POLY1305 ||
	       t == KH_KEY_HMAC_SHA256;
}

/* The bytes of tests/data/pkey/<name> (keys.c tests link kh_testsupport, not kh_testcrypto). */
static struct kh_buf pkey_file(const char *name)
{
	char path[256];

	assert_true((size_t)snprintf(path, sizeof(path), "pkey/%s", name) < sizeof(path));
	return kh_test_read_data(path);
}

static int setup(void **state)
{
	struct kh_secure_stats st;

	(void)state;
	if (kh_crypto_init() != KH_OK)
		return -1;
	kh_secure_stats_get(&st);
	secure_in_use_at_start = st.in_use;
	for (size_t i = 0; i < COUNT_OF(all_types); i++) {
		struct fixture *f = &fx[all_types[i]];
		kh_buf_init(&f->secret, BUF_MAX, KH_BUF_SECURE);
		kh_buf_init(&f->pub, BUF_MAX, KH_BUF_PLAIN);
		if (kh_keymat_generate(all_types[i], &f->secret, &f->pub) != KH_OK ||
		    kh_keymat_load(all_types[i], kh_buf_slice(&f->secret), &f->m) != KH_OK)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct kh_secure_stats st;

	(void)state;
	for (size_t i = 0; i < COUNT_OF(all_types); i++) {
		struct fixture *f = &fx[all_types[i]];
		kh_keymat_free(&f->m);
		kh_buf_cleanup(&f->secret);
		kh_buf_cleanup(&f->pub);
	}
	/* Every secure byte the suite took came back (LeakSanitizer cannot see the arena). */
	kh_secure_stats_get(&st);
	return st.in_use == secure_in_use_at_start ? 0 : -1;
}

/* ---- Helpers ---- */

static struct kh_buf plain_buf(void)
{
	struct kh_buf b;
	kh_buf_init(&b, BUF_MAX, KH_BUF_PLAIN);
	return b;
}

static struct kh_buf secure_buf(void)
{
	struct kh_buf b;
	kh_buf_init(&b, BUF_MAX, KH_BUF_SECURE);
	return b;
}

static struct kh_keymat_bind bind_of(const char *tag, uint32_t version, const char *context)
{
	return (struct kh_keymat_bind){.key_tag = kh_slice_from_cstr(tag),
	                               .version = version,
	                               .context = kh_slice_from_cstr(context)};
}

/* Deterministic filler, different for every length and seed. */
static struct kh_buf pattern(size_t len, unsigned seed)
{
	struct kh_buf b;

	kh_buf_init(&b, BUF_MAX, KH_BUF_SECURE);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(kh_buf_append_byte(&b, (uint8_t)(i * 131u + seed * 7u + len)),
		                 KH_OK);
	return b;
}

static struct kh_buf encrypt_ok(struct kh_keymat *m, bool convergent,
                                const struct kh_keymat_bind *bind, struct kh_slice pt)
{
	struct kh_buf text = plain_buf();
	char prefix[KH_KEYMAT_PREFIX_MAX + 1];

	assert_int_equal(kh_keymat_encrypt(m, convergent, bind, pt, &text), KH_OK);
	snprintf(prefix, sizeof(prefix), "kh:v%u:", (unsigned)bind->version);
	assert_true(text.len > strlen(prefix));
	assert_memory_equal(text.ptr, prefix, strlen(prefix));
	return text;
}

/* Parses a text the code made, checking its version. */
static struct kh_buf blob_of(const struct kh_buf *text, uint32_t want_version)
{
	struct kh_buf blob = plain_buf();
	uint32_t version = 0;

	assert_int_equal(kh_keymat_text_parse(kh_buf_slice(text), &version, &blob), KH_OK);
	assert_int_equal(version, want_version);
	return blob;
}

static void assert_decrypts(struct kh_keymat *m, const struct kh_keymat_bind *bind,
                            struct kh_slice blob, struct kh_slice want)
{
	struct kh_buf pt = secure_buf();

	assert_int_equal(kh_keymat_decrypt(m, bind, blob, &pt), KH_OK);
	assert_int_equal(pt.len, want.len);
	if (want.len > 0)
		assert_memory_equal(pt.ptr, want.ptr, want.len);
	kh_buf_cleanup(&pt);
}

/* Fails with rc and leaves what was already in the output buffer exactly as it was. */
static void assert_decrypt_fails(struct kh_keymat *m, const struct kh_keymat_bind *bind,
                                 struct kh_slice blob, kh_rc want)
{
	struct kh_buf pt = secure_buf();

	assert_int_equal(kh_buf_append(&pt, KH_SLICE_LIT("kept")), KH_OK);
	assert_int_equal(kh_keymat_decrypt(m, bind, blob, &pt), want);
	assert_int_equal(pt.len, 4);
	assert_memory_equal(pt.ptr, "kept", 4);
	kh_buf_cleanup(&pt);
}

static void assert_round_trip(enum kh_key_type t, bool convergent, size_t len)
{
	struct kh_keymat_bind bind = bind_of(TAG, 3, "purpose=round-trip");
	struct kh_buf pt = pattern(len, (unsigned)t);
	struct kh_buf text = encrypt_ok(fx[t].m, convergent, &bind, kh_buf_slice(&pt));
	struct kh_buf blob = blob_of(&text, 3);

	if (kh_key_type_is_symmetric(t))
		assert_int_equal(blob.len, 1 + KH_AEAD_NONCE_LEN + len + KH_AEAD_TAG_LEN);
	assert_int_equal(blob.ptr[0], kh_key_type_is_symmetric(t) ? 0x01 : 0x02);
	assert_decrypts(fx[t].m, &bind, kh_buf_slice(&blob), kh_buf_slice(&pt));
	kh_buf_cleanup(&pt);
	kh_buf_cleanup(&text);
	kh_buf_cleanup(&blob);
}

/* RFC 8017 7.1.1: a k-byte modulus carries k - 2 * 32 - 2 bytes; the binding takes 16. */
static size_t rsa_pt_max(enum kh_key_type t)
{
	size_t k = t == KH_KEY_RSA_2048 ? 256 : t == KH_KEY_RSA_3072 ? 384 : 512;
	return k - 2 * 32 - 2 - 16;
}

/* ---- Generation and loading ---- */

static void generate_makes_raw_secrets_or_pkcs8_and_spki_of_the_right_type(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT_OF(all_types); i++) {
		enum kh_key_type t = all_types[i];
		struct fixture *f = &fx[t];
		struct kh_pkey *priv = NULL;
		struct kh_pkey *pub = NULL;
		struct kh_buf der = plain_buf();

		assert_int_equal(kh_keymat_type(f->m), t);
		if (is_symmetric_or_mac(t)) {
			assert_int_equal(f->secret.len, 32);
			assert_int_equal(f->pub.len, 0);
			continue;
		}
		assert_int_equal(kh_pkey_import_private(kh_buf_slice(&f->secret), &priv), KH_OK);
		assert_int_equal(kh_pkey_import_public(kh_buf_slice(&f->pub), &pub), KH_OK);
		assert_int_equal(f->secret.ptr[0], 0x30); /* DER, not PEM */
		assert_int_equal(f->pub.ptr[0], 0x30);
		assert_int_equal(kh_pkey_type_of(priv), pkey_type_of(t));
		assert_int_equal(kh_pkey_type_of(pub), pkey_type_of(t));
		assert_int_equal(kh_pkey_export_public_der(priv, &der), KH_OK);
		assert_true(kh_slice_eq(kh_buf_slice(&der), kh_buf_slice(&f->pub)));
		kh_pkey_free(&priv);
		kh_pkey_free(&pub);
		kh_buf_cleanup(&der);
	}
}

static void generate_gives_fresh_secrets_and_refuses_plain_buffers_and_unknown_types(void **state)
{
	struct kh_buf a = secure_buf();
	struct kh_buf b = secure_buf();
	struct kh_buf pub = plain_buf();
	struct kh_buf plain = plain_buf();

	(void)state;
	for (size_t i = 0; i < COUNT_OF(symmetric_types); i++) {
		kh_buf_clear(&a);
		kh_buf_clear(&b);
		assert_int_equal(kh_keymat_generate(symmetric_types[i], &a, &pub), KH_OK);
		assert_int_equal(kh_keymat_generate(symmetric_types[i], &b, &pub), KH_OK);
		assert_int_equal(a.len, 32);
		assert_false(kh_slice_eq(kh_buf_slice(&a), kh_buf_slice(&b)));
		assert_int_equal(pub.len, 0);
	}
	/* Secrets go only to secure buffers. */
	assert_int_equal(kh_keymat_generate(KH_KEY_AES_256_GCM, &plain, &pub), KH_ERR_INTERNAL);
	assert_int_equal(kh_keymat_generate(KH_KEY_ECDSA_P256, &plain, &pub), KH_ERR_INTERNAL);
	assert_int_equal(plain.len, 0);
	assert_int_equal(pub.len, 0);
	assert_int_equal(kh_keymat_generate((enum kh_key_type)0, &a, &pub), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keymat_generate((enum kh_key_type)(KH_KEY_TYPE_MAX + 1), &a, &pub),
	                 KH_ERR_BAD_INPUT);
	/* A secret buffer too small for the key: nothing is left behind in either buffer. */
	kh_buf_cleanup(&a);
	kh_buf_init(&a, 16, KH_BUF_SECURE);
	assert_int_equal(kh_keymat_generate(KH_KEY_HMAC_SHA256, &a, &pub), KH_ERR_TOO_LARGE);
	assert_int_equal(kh_keymat_generate(KH_KEY_ECDSA_P256, &a, &pub), KH_ERR_TOO_LARGE);
	assert_int_equal(a.len, 0);
	assert_int_equal(pub.len, 0);
	/* The private key fits but the public one does not: the secret is taken back too. */
	kh_buf_cleanup(&a);
	kh_buf_init(&a, BUF_MAX, KH_BUF_SECURE);
	kh_buf_cleanup(&pub);
	kh_buf_init(&pub, 16, KH_BUF_PLAIN);
	assert_int_equal(kh_keymat_generate(KH_KEY_ECDSA_P256, &a, &pub), KH_ERR_TOO_LARGE);
	assert_int_equal(a.len, 0);
	assert_int_equal(pub.len, 0);
	kh_buf_cleanup(&a);
	kh_buf_cleanup(&b);
	kh_buf_cleanup(&pub);
	kh_buf_cleanup(&plain);
}

static void assert_load_refused(enum kh_key_type t, struct kh_slice secret)
{
	struct kh_keymat *m = NULL;

	assert_int_equal(kh_keymat_load(t, secret, &m), KH_ERR_BAD_KEY);
	assert_null(m);
}

static void load_refuses_garbage_and_wrong_length_secrets(void **state)
{
	static const size_t bad_lengths[] = {0, 1, 16, 31, 33, 64};
	static uint8_t big[KH_LIMIT_KEY_ENCODED_BYTES + 1];
	struct kh_buf garbage = pattern(200, 9);
	struct kh_keymat *m = NULL;

	(void)state;
	for (size_t i = 0; i < COUNT_OF(all_types); i++) {
		enum kh_key_type t = all_types[i];
		struct kh_slice s = kh_buf_slice(&fx[t].secret);
		if (is_symmetric_or_mac(t)) {
			for (size_t j = 0; j < COUNT_OF(bad_lengths); j++)
				assert_load_refused(t, KH_SLICE(garbage.ptr, bad_lengths[j]));
			assert_load_refused(t, KH_SLICE(NULL, 32));
			/* The private key of an asymmetric type is no symmetric secret. */
			assert_load_refused(t, kh_buf_slice(&fx[KH_KEY_ED25519].secret));
			continue;
		}
		assert_load_refused(t, KH_SLICE_EMPTY);
		assert_load_refused(t, kh_buf_slice(&garbage));
		assert_load_refused(t, KH_SLICE("\x30", 1));
		assert_load_refused(t, KH_SLICE(s.ptr, s.len - 1));
		assert_load_refused(t, kh_buf_slice(&fx[t].pub)); /* SPKI is not a private key */
		assert_load_refused(t, kh_buf_slice(&fx[KH_KEY_AES_256_GCM].secret));
		/* A well-formed private key of every other asymmetric type. */
		for (size_t j = 0; j < COUNT_OF(asymmetric_types); j++)
			if (asymmetric_types[j] != t)
				assert_load_refused(t,
				                    kh_buf_slice(&fx[asymmetric_types[j]].secret));
		/* Oversized input is a bad key here, not a size error. */
		big[0] = 0x30;
		assert_load_refused(t, KH_SLICE(big, sizeof(big)));
	}
	/* Trailing bytes after the DER. */
	{
		struct kh_buf s = secure_buf();
		assert_int_equal(kh_buf_append(&s, kh_buf_slice(&fx[KH_KEY_ECDSA_P256].secret)),
		                 KH_OK);
		assert_int_equal(kh_buf_append_byte(&s, 0), KH_OK);
		assert_load_refused(KH_KEY_ECDSA_P256, kh_buf_slice(&s));
		kh_buf_cleanup(&s);
	}
	assert_int_equal(kh_keymat_load((enum kh_key_type)0, kh_buf_slice(&garbage), &m),
	                 KH_ERR_BAD_INPUT);
	assert_null(m);
	kh_buf_cleanup(&garbage);
}

/* Keys made by the openssl command line (tests/data/gen_sign_vectors.sh) load as PKCS#8 DER,
 * and the PEM form of the same key is refused: a stored secret is always DER. */
static void load_takes_pkcs8_der_from_openssl_but_not_pem(void **state)
{
	static const struct {
		enum kh_key_type type;
		const char *der, *pem;
	} files[] = {
	    {KH_KEY_ECDSA_P256, "p256.key.der", "p256.key.pem"},
	    {KH_KEY_RSA_2048, "rsa2048.key.der", "rsa2048.key.pem"},
	    {KH_KEY_SM2, "sm2.key.der", "sm2.key.pem"},
	};

	(void)state;
	for (size_t i = 0; i < COUNT_OF(files); i++) {
		struct kh_buf der = pkey_file(files[i].der);
		struct kh_buf pem = pkey_file(files[i].pem);
		struct kh_keymat *m = NULL;

		assert_int_equal(kh_keymat_load(files[i].type, kh_buf_slice(&der), &m), KH_OK);
		assert_int_equal(kh_keymat_type(m), files[i].type);
		kh_keymat_free(&m);
		assert_null(m);
		kh_keymat_free(&m); /* NULL is fine */
		kh_keymat_free(NULL);
		assert_load_refused(files[i].type, kh_buf_slice(&pem));
		kh_buf_cleanup(&der);
		kh_buf_cleanup(&pem);
	}
	/* The P-256 key is not a P-384 key. */
	{
		struct kh_buf der = pkey_file("p256.key.der");
		assert_load_refused(KH_KEY_ECDSA_P384, kh_buf_slice(&der));
		assert_load_refused(KH_KEY_SM2, kh_buf_slice(&der));
		kh_buf_cleanup(&der);
	}
}

/* ---- Encryption ---- */

static void every_encrypting_type_round_trips_plaintexts_of_awkward_sizes(void **state)
{
	static const size_t sizes[] = {0, 1, 15, 16, 17, 100};

	(void)state;
	for (size_t i = 0; i < COUNT_OF(encrypting_types); i++) {
		enum kh_key_type t = encrypting_types[i];
		for (size_t j = 0; j < COUNT_OF(sizes); j++)
			assert_round_trip(t, false, sizes[j]);
		if (kh_key_type_is_symmetric(t)) {
			assert_round_trip(t, false, 4099);
			assert_round_trip(t, false, KH_LIMIT_PLAINTEXT_BYTES);
			assert_round_trip(t, true, 0);
			assert_round_trip(t, true, 33);
			assert_round_trip(t, true, KH_LIMIT_PLAINTEXT_BYTES);
		} else if (t == KH_KEY_SM2) {
			/* The 16-byte binding shares SM2's bound with the plaintext. */
			assert_round_trip(t, false, KH_LIMIT_PLAINTEXT_BYTES - 16);
		} else {
			assert_round_trip(t, false, rsa_pt_max(t));
		}
	}
}

static void plaintext_and_context_above_their_limits_are_too_large(void **state)
{
	struct kh_buf big = pattern(KH_LIMIT_PLAINTEXT_BYTES + 1, 1);
	static char ctx[KH_LIMIT_CONTEXT_BYTES + 2];
	struct kh_keymat_bind ok_bind;
	struct kh_keymat_bind big_bind;

	(void)state;
	memset(ctx, 'c', KH_LIMIT_CONTEXT_BYTES + 1);
	big_bind = bind_of(TAG, 1, ctx);
	ctx[KH_LIMIT_CONTEXT_BYTES] = '\0';
	ok_bind = bind_of(TAG, 1, ctx);
	for (size_t i = 0; i < COUNT_OF(encrypting_types); i++) {
		enum kh_key_type t = encrypting_types[i];
		struct kh_buf out = plain_buf();
		struct kh_buf text;
		struct kh_buf blob;

		assert_int_equal(kh_buf_append(&out, KH_SLICE_LIT("kept")), KH_OK);
		assert_int_equal(
		    kh_keymat_encrypt(fx[t].m, false, &ok_bind, kh_buf_slice(&big), &out),
		    KH_ERR_TOO_LARGE);
		assert_int_equal(
		    kh_keymat_encrypt(fx[t].m, false, &big_bind, KH_SLICE_LIT("x"), &out),
		    KH_ERR_TOO_LARGE);
		if (t == KH_KEY_SM2)
			assert_int_equal(
			    kh_keymat_encrypt(fx[t].m, false, &ok_bind,
			                      KH_SLICE(big.ptr, KH_LIMIT_PLAINTEXT_BYTES - 15),
			                      &out),
			    KH_ERR_TOO_LARGE);
		if (t == KH_KEY_RSA_2048)
			assert_int_equal(kh_keymat_encrypt(fx[t].m, false, &ok_bind,
			                                   KH_SLICE(big.ptr, rsa_pt_max(t) + 1),
			                                   &out),
			                 KH_ERR_TOO_LARGE);
		assert_int_equal(out.len, 4);
		/* A context of exactly the limit works, and decrypt checks the limit too. */
		text = encrypt_ok(fx[t].m, false, &ok_bind, KH_SLICE_LIT("x"));
		blob = blob_of(&text, 1);
		assert_decrypts(fx[t].m, &ok_bind, kh_buf_slice(&blob), KH_SLICE_LIT("x"));
		assert_decrypt_fails(fx[t].m, &big_bind, kh_buf_slice(&blob), KH_ERR_TOO_LARGE);
		kh_buf_cleanup(&out);
		kh_buf_cleanup(&text);
		kh_buf_cleanup(&blob);
	}
	kh_buf_cleanup(&big);
}

static void ciphertexts_are_bound_to_key_tag_version_and_context(void **state)
{
	const struct kh_keymat_bind right = bind_of(TAG, 5, "ctx");
	const struct kh_keymat_bind wrong[] = {
	    bind_of("0123456789abcdef0123456789abcdee", 5, "ctx"),
	    bind_of("0123456789abcdef0123456789abcde", 5, "ctx"),
	    bind_of(TAG "0", 5, "ctx"),
	    bind_of(TAG, 4, "ctx"),
	    bind_of(TAG, 6, "ctx"),
	    bind_of(TAG, 5 + 0x1000000u, "ctx"),
	    bind_of(TAG, 5, "ctx2"),
	    bind_of(TAG, 5, "Ctx"),
	    bind_of(TAG, 5, "ct"),
	    bind_of(TAG, 5, ""),
	};

	(void)state;
	for (size_t i = 0; i < COUNT_OF(encrypting_types); i++) {
		enum kh_key_type t = encrypting_types[i];
		for (int convergent = 0; convergent < (kh_key_type_is_symmetric(t) ? 2 : 1);
		     convergent++) {
			struct kh_buf text =
			    encrypt_ok(fx[t].m, convergent, &right, KH_SLICE_LIT("bound"));
			struct kh_buf blob = blob_of(&text, 5);

			assert_decrypts(fx[t].m, &right, kh_buf_slice(&blob),
			                KH_SLICE_LIT("bound"));
			for (size_t j = 0; j < COUNT_OF(wrong); j++)
				assert_decrypt_fails(fx[t].m, &wrong[j], kh_buf_slice(&blob),
				                     KH_ERR_DECRYPT);
			kh_buf_cleanup(&text);
			kh_buf_cleanup(&blob);
		}
	}
}

static void an_empty_context_is_the_same_with_or_without_a_pointer(void **state)
{
	struct kh_keymat_bind a = bind_of(TAG, 2, "");
	struct kh_keymat_bind b = {.key_tag = KH_SLICE_LIT(TAG), .version = 2};

	(void)state;
	for (size_t i = 0; i < COUNT_OF(flipped_types); i++) {
		enum kh_key_type t = flipped_types[i];
		struct kh_buf text = encrypt_ok(fx[t].m, false, &a, KH_SLICE_EMPTY);
		struct kh_buf blob = blob_of(&text, 2);
		assert_decrypts(fx[t].m, &b, kh_buf_slice(&blob), KH_SLICE_EMPTY);
		kh_buf_cleanup(&text);
		kh_buf_cleanup(&blob);
	}
}

static void another_key_of_the_same_type_cannot_decrypt(void **state)
{
	const struct kh_keymat_bind bind = bind_of(TAG, 1, "");

	(void)state;
	for (size_t i = 0; i < COUNT_OF(flipped_types); i++) {
		enum kh_key_type t = flipped_types[i];
		struct kh_buf secret = secure_buf();
		struct kh_buf pub = plain_buf();
		struct kh_keymat *other = NULL;
		struct kh_buf text;
		struct kh_buf blob;

		assert_int_equal(kh_keymat_generate(t, &secret, &pub), KH_OK);
		assert_int_equal(kh_keymat_load(t, kh_buf_slice(&secret), &other), KH_OK);
		text = encrypt_ok(fx[t].m, false, &bind, KH_SLICE_LIT("for the first key"));
		blob = blob_of(&text, 1);
		assert_decrypt_fails(other, &bind, kh_buf_slice(&blob), KH_ERR_DECRYPT);
		kh_keymat_free(&other);
		kh_buf_cleanup(&secret);
		kh_buf_cleanup(&pub);
		kh_buf_cleanup(&text);
		kh_buf_cleanup(&blob);
	}
}

static void bindings_with_an_empty_or_nul_tag_or_version_0_are_refused(void **state)
{
	const struct kh_keymat_bind bad[] = {
	    {.key_tag = KH_SLICE_EMPTY, .version = 1},
	    {.key_tag = KH_SLICE("ab\0cd", 5), .version = 1},
	    {.key_tag = KH_SLICE("\0", 1), .version = 1},
	    {.key_tag = KH_SLICE(NULL, 4), .version = 1},
	    {.key_tag = KH_SLICE_LIT(TAG), .version = 0},
	    {.key_tag = KH_SLICE_LIT(TAG), .version = 1, .context = KH_SLICE(NULL, 3)},
	};
	const struct kh_keymat_bind good = bind_of(TAG, 1, "");

	(void)state;
	for (size_t i = 0; i < COUNT_OF(flipped_types); i++) {
		enum kh_key_type t = flipped_types[i];
		struct kh_buf text = encrypt_ok(fx[t].m, false, &good, KH_SLICE_LIT("x"));
		struct kh_buf blob = blob_of(&text, 1);
		struct kh_buf out = plain_buf();

		for (size_t j = 0; j < COUNT_OF(bad); j++) {
			assert_int_equal(
			    kh_keymat_encrypt(fx[t].m, false, &bad[j], KH_SLICE_LIT("x"), &out),
			    KH_ERR_BAD_INPUT);
			assert_decrypt_fails(fx[t].m, &bad[j], kh_buf_slice(&blob),
			                     KH_ERR_BAD_INPUT);
		}
		assert_int_equal(kh_keymat_encrypt(fx[t].m, false, &good, KH_SLICE(NULL, 1), &out),
		                 KH_ERR_BAD_INPUT);
		assert_int_equal(out.len, 0);
		kh_buf_cleanup(&text);
		kh_buf_cleanup(&blob);
		kh_buf_cleanup(&out);
	}
}

static struct kh_buf nonce_of(struct kh_keymat *m, bool convergent,
                              const struct kh_keymat_bind *bind, const char *pt)
{
	struct kh_buf text = encrypt_ok(m, convergent, bind, kh_slice_from_cstr(pt));
	struct kh_buf blob = blob_of(&text, bind->version);
	struct kh_buf nonce = plain_buf();

	assert_int_equal(kh_buf_append(&nonce, KH_SLICE(blob.ptr + 1, KH_AEAD_NONCE_LEN)), KH_OK);
	kh_buf_cleanup(&text);
	kh_buf_cleanup(&blob);
	return nonce;
}

static bool same(const struct kh_buf *a, const struct kh_buf *b)
{
	return kh_slice_eq(kh_buf_slice(a), kh_buf_slice(b));
}

/*
 * Convergent: equal (plaintext, context, tag, version) give the same ciphertext; any difference
 * gives a different nonce (not merely a different ciphertext, which a different plaintext
 * would give under a repeated nonce too). Without convergence every nonce is fresh.
 */
static void convergent_ciphertexts_repeat_exactly_when_all_inputs_repeat(void **state)
{
	const struct kh_keymat_bind b = bind_of(TAG, 1, "ctx");
	const struct kh_keymat_bind other_ctx = bind_of(TAG, 1, "ctx2");
	const struct kh_keymat_bind other_tag = bind_of("another-tag", 1, "ctx");
	const struct kh_keymat_bind other_version = bind_of(TAG, 2, "ctx");

	(void)state;
	for (size_t i = 0; i < COUNT_OF(symmetric_types); i++) {
		struct kh_keymat *m = fx[symmetric_types[i]].m;
		struct kh_buf t1 = encrypt_ok(m, true, &b, KH_SLICE_LIT("same"));
		struct kh_buf t2 = encrypt_ok(m, true, &b, KH_SLICE_LIT("same"));
		struct kh_buf r1 = encrypt_ok(m, false, &b, KH_SLICE_LIT("same"));
		struct kh_buf r2 = encrypt_ok(m, false, &b, KH_SLICE_LIT("same"));
		struct kh_buf n0 = nonce_of(m, true, &b, "same");
		struct kh_buf n[] = {
		    nonce_of(m, true, &b, "samf"),
		    nonce_of(m, true, &b, "same "),
		    nonce_of(m, true, &b, ""),
		    nonce_of(m, true, &other_ctx, "same"),
		    nonce_of(m, true, &other_tag, "same"),
		    nonce_of(m, true, &other_version, "same"),
		    nonce_of(m, false, &b, "same"),
		    nonce_of(m, false, &b, "same"),
		};

		assert_true(same(&t1, &t2));
		assert_false(same(&r1, &r2));
		assert_false(same(&t1, &r1));
		for (size_t j = 0; j < COUNT_OF(n); j++) {
			assert_false(same(&n0, &n[j]));
			for (size_t k = j + 1; k < COUNT_OF(n); k++)
				assert_false(same(&n[j], &n[k]));
		}
		/* Convergent ciphertexts decrypt like any other. */
		{
			struct kh_buf blob = blob_of(&t1, 1);
			assert_decrypts(m, &b, kh_buf_slice(&blob), KH_SLICE_LIT("same"));
			kh_buf_cleanup(&blob);
		}
		for (size_t j = 0; j < COUNT_OF(n); j++)
			kh_buf_cleanup(&n[j]);
		kh_buf_cleanup(&n0);
		kh_buf_cleanup(&t1);
		kh_buf_cleanup(&t2);
		kh_buf_cleanup(&r1);
		kh_buf_cleanup(&r2);
	}
	/* Public-key encryption is randomised by its scheme; convergence is refused. */
	for (size_t i = 0; i < COUNT_OF(encrypting_types); i++) {
		enum kh_key_type t = encrypting_types[i];
		struct kh_buf out = plain_buf();
		if (kh_key_type_is_symmetric(t))
			continue;
		assert_int_equal(kh_keymat_encrypt(fx[t].m, true, &b, KH_SLICE_LIT("x"), &out),
		                 KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(out.len, 0);
		if (t == KH_KEY_RSA_2048 || t == KH_KEY_SM2) {
			struct kh_buf a1 = encrypt_ok(fx[t].m, false, &b, KH_SLICE_LIT("x"));
			struct kh_buf a2 = encrypt_ok(fx[t].m, false, &b, KH_SLICE_LIT("x"));
			assert_false(same(&a1, &a2));
			kh_buf_cleanup(&a1);
			kh_buf_cleanup(&a2);
		}
		kh_buf_cleanup(&out);
	}
}

static void every_byte_flip_truncation_and_extension_of_a_blob_is_rejected(void **state)
{
	const struct kh_keymat_bind bind = bind_of(TAG, 9, "flip");

	(void)state;
	for (size_t i = 0; i < COUNT_OF(flipped_types); i++) {
		enum kh_key_type t = flipped_types[i];
		struct kh_buf text = encrypt_ok(fx[t].m, false, &bind, KH_SLICE_LIT("flip me"));
		struct kh_buf blob = blob_of(&text, 9);
		struct kh_buf alt = plain_buf();
		static const uint8_t masks[] = {0x01, 0x80, 0xff};
		size_t mask_count = kh_key_type_is_symmetric(t) ? COUNT_OF(masks) : 1;

		for (size_t j = 0; j < blob.len; j++) {
			for (size_t k = 0; k < mask_count; k++) {
				kh_buf_clear(&alt);
				assert_int_equal(kh_buf_append(&alt, kh_buf_slice(&blob)), KH_OK);
				alt.ptr[j] ^= masks[k];
				assert_decrypt_fails(fx[t].m, &bind, kh_buf_slice(&alt),
				                     KH_ERR_DECRYPT);
			}
		}
		for (size_t len = 0; len < blob.len; len++)
			assert_decrypt_fails(fx[t].m, &bind, KH_SLICE(blob.ptr, len),
			                     KH_ERR_DECRYPT);
		kh_buf_clear(&alt);
		assert_int_equal(kh_buf_append(&alt, kh_buf_slice(&blob)), KH_OK);
		assert_int_equal(kh_buf_append_byte(&alt, 0), KH_OK);
		assert_decrypt_fails(fx[t].m, &bind, kh_buf_slice(&alt), KH_ERR_DECRYPT);
		/* The other family's format byte. */
		kh_buf_clear(&alt);
		assert_int_equal(kh_buf_append(&alt, kh_buf_slice(&blob)), KH_OK);
		alt.ptr[0] = kh_key_type_is_symmetric(t) ? 0x02 : 0x01;
		assert_decrypt_fails(fx[t].m, &bind, kh_buf_slice(&alt), KH_ERR_DECRYPT);
		/* The unmodified blob still decrypts. */
		assert_decrypts(fx[t].m, &bind, kh_buf_slice(&blob), KH_SLICE_LIT("flip me"));
		kh_buf_cleanup(&text);
		kh_buf_cleanup(&blob);
		kh_buf_cleanup(&alt);
	}
}

static void a_blob_for_one_key_family_fails_under_another(void **state)
{
	const struct kh_keymat_bind bind = bind_of(TAG, 1, "");
	struct kh_buf sym_text = encrypt_ok(fx[KH_KEY_AES_256_GCM].m, false, &bind,
	                                    KH_SLICE_LIT("0123456789abcdef0123456789"));
	struct kh_buf sym = blob_of(&sym_text, 1);
	struct kh_buf rsa_text = encrypt_ok(fx[KH_KEY_RSA_2048].m, false, &bind, KH_SLICE_LIT("x"));
	struct kh_buf rsa = blob_of(&rsa_text, 1);

	(void)state;
	assert_decrypt_fails(fx[KH_KEY_SM4].m, &bind, kh_buf_slice(&sym), KH_ERR_DECRYPT);
	assert_decrypt_fails(fx[KH_KEY_CHACHA20_POLY1305].m, &bind, kh_buf_slice(&sym),
	                     KH_ERR_DECRYPT);
	assert_decrypt_fails(fx[KH_KEY_RSA_2048].m, &bind, kh_buf_slice(&sym), KH_ERR_DECRYPT);
	assert_decrypt_fails(fx[KH_KEY_SM2].m, &bind, kh_buf_slice(&sym), KH_ERR_DECRYPT);
	assert_decrypt_fails(fx[KH_KEY_AES_256_GCM].m, &bind, kh_buf_slice(&rsa), KH_ERR_DECRYPT);
	assert_decrypt_fails(fx[KH_KEY_SM2].m, &bind, kh_buf_slice(&rsa), KH_ERR_DECRYPT);
	assert_decrypt_fails(fx[KH_KEY_RSA_3072].m, &bind, kh_buf_slice(&rsa), KH_ERR_DECRYPT);
	kh_buf_cleanup(&sym_text);
	kh_buf_cleanup(&sym);
	kh_buf_cleanup(&rsa_text);
	kh_buf_cleanup(&rsa);
}

static void decrypt_writes_plaintext_only_to_secure_buffers(void **state)
{
	const struct kh_keymat_bind bind = bind_of(TAG, 1, "");

	(void)state;
	for (size_t i = 0; i < COUNT_OF(flipped_types); i++) {
		enum kh_key_type t = flipped_types[i];
		struct kh_buf text = encrypt_ok(fx[t].m, false, &bind, KH_SLICE_LIT("secret"));
		struct kh_buf blob = blob_of(&text, 1);
		struct kh_buf plain = plain_buf();

		assert_int_equal(kh_keymat_decrypt(fx[t].m, &bind, kh_buf_slice(&blob), &plain),
		                 KH_ERR_INTERNAL);
		assert_int_equal(plain.len, 0);
		kh_buf_cleanup(&text);
		kh_buf_cleanup(&blob);
		kh_buf_cleanup(&plain);
	}
}

/* ---- Known answers and hand-made blobs ---- */

#define KAT_CTX "department=finance"
#define KAT_PT "keyhold convergent known answer"

static const struct {
	enum kh_key_type type;
	enum kh_aead aead;
	const char *text;
} kat[] = {
    {KH_KEY_AES_256_GCM, KH_AEAD_AES_256_GCM,
     "kh:v7:AY4k7wrGLilXFYU39Xu854dShJciHRVr/frcK9jCTt2Ko2qJOWXiexecmGomEvzFooOV737a8q16roj0"},
    {KH_KEY_CHACHA20_POLY1305, KH_AEAD_CHACHA20_POLY1305,
     "kh:v7:AY4k7wrGLilXFYU39XupYcK7Jvi7BG+ZKC3plFMtrOrD0vIXG/6CDeOQKnhA1qEMLz7PrmnKlLz+98uy"},
    {KH_KEY_SM4, KH_AEAD_SM4_CTR_HMAC_SM3,
     "kh:v7:AY4k7wrGLilXFYU39ZtFISMRqUD1FitF7xrIV4AB8U9QFfj2tbVYBUIIS9n0b8gW31zINuzsysIZSpq0"},
};

/* kh_keymat.h, written out again: "keyhold/v1/encrypt" 0x00 | tag | 0x00 | BE32(version) |
 * BE32(len(context)) | context. */
static struct kh_buf ad_by_hand(const char *tag, uint32_t version, const char *ctx)
{
	struct kh_buf ad = plain_buf();
	size_t ctx_len = strlen(ctx);
	const uint8_t be[8] = {(uint8_t)(version >> 24), (uint8_t)(version >> 16),
	                       (uint8_t)(version >> 8),  (uint8_t)version,
	                       (uint8_t)(ctx_len >> 24), (uint8_t)(ctx_len >> 16),
	                       (uint8_t)(ctx_len >> 8),  (uint8_t)ctx_len};

	assert_int_equal(kh_buf_append(&ad, KH_SLICE("keyhold/v1/encrypt\0", 19)), KH_OK);
	assert_int_equal(kh_buf_append_cstr(&ad, tag), KH_OK);
	assert_int_equal(kh_buf_append_byte(&ad, 0), KH_OK);
	assert_int_equal(kh_buf_append(&ad, KH_SLICE(be, sizeof(be))), KH_OK);
	assert_int_equal(kh_buf_append_cstr(&ad, ctx), KH_OK);
	return ad;
}

/* 0x01 | nonce | AEAD(key, nonce, ad, pt) as "kh:v<version>:<base64>". */
static struct kh_buf symmetric_text_by_hand(enum kh_aead alg, struct kh_slice key, uint32_t version,
                                            struct kh_slice nonce, struct kh_slice ad,
                                            struct kh_slice pt)
{
	struct kh_aead_key *k = NULL;
	uint8_t blob[1 + KH_AEAD_NONCE_LEN + 64 + KH_AEAD_TAG_LEN];
	struct kh_buf text = plain_buf();
	char prefix[KH_KEYMAT_PREFIX_MAX + 1];

	assert_true(pt.len <= 64 && nonce.len == KH_AEAD_NONCE_LEN);
	blob[0] = 0x01;
	memcpy(blob + 1, nonce.ptr, KH_AEAD_NONCE_LEN);
	assert_int_equal(kh_aead_key_new(alg, key, &k), KH_OK);
	assert_int_equal(kh_aead_seal(k, nonce, ad, pt, blob + 1 + KH_AEAD_NONCE_LEN,
	                              blob + 1 + KH_AEAD_NONCE_LEN + pt.len),
	                 KH_OK);
	kh_aead_key_free(&k);
	snprintf(prefix, sizeof(prefix), "kh:v%u:", (unsigned)version);
	assert_int_equal(kh_buf_append_cstr(&text, prefix), KH_OK);
	assert_int_equal(
	    kh_base64_encode(KH_SLICE(blob, 1 + KH_AEAD_NONCE_LEN + pt.len + KH_AEAD_TAG_LEN),
	                     &text),
	    KH_OK);
	return text;
}

static void convergent_encryption_matches_the_documented_format_byte_for_byte(void **state)
{
	struct kh_buf key = kh_test_hex(KEY_00_1F);
	struct kh_buf ad = ad_by_hand(TAG, 7, KAT_CTX);
	const struct kh_keymat_bind bind = bind_of(TAG, 7, KAT_CTX);
	uint8_t nonce_key[32];
	uint8_t mac[32];

	(void)state;
	/* The nonce, from the primitives: HMAC-SHA-256(HKDF(K, info), AD || pt)[:12]. */
	assert_int_equal(kh_hkdf(KH_HASH_SHA256, kh_buf_slice(&key), KH_SLICE_EMPTY,
	                         KH_SLICE_LIT("keyhold/v1/convergent-nonce"), nonce_key,
	                         sizeof(nonce_key)),
	                 KH_OK);
	{
		struct kh_buf ad_pt = plain_buf();
		assert_int_equal(kh_buf_append(&ad_pt, kh_buf_slice(&ad)), KH_OK);
		assert_int_equal(kh_buf_append(&ad_pt, KH_SLICE_LIT(KAT_PT)), KH_OK);
		assert_int_equal(kh_hmac(KH_HASH_SHA256, KH_SLICE(nonce_key, sizeof(nonce_key)),
		                         kh_buf_slice(&ad_pt), mac, sizeof(mac)),
		                 KH_OK);
		kh_buf_cleanup(&ad_pt);
	}
	kh_test_assert_hex(KH_SLICE(mac, KH_AEAD_NONCE_LEN), "8e24ef0ac62e2957158537f5");

	for (size_t i = 0; i < COUNT_OF(kat); i++) {
		struct kh_keymat *m = NULL;
		struct kh_buf mine;
		struct kh_buf text;
		struct kh_buf blob;

		assert_int_equal(kh_keymat_load(kat[i].type, kh_buf_slice(&key), &m), KH_OK);
		mine = symmetric_text_by_hand(kat[i].aead, kh_buf_slice(&key), 7,
		                              KH_SLICE(mac, KH_AEAD_NONCE_LEN), kh_buf_slice(&ad),
		                              KH_SLICE_LIT(KAT_PT));
		assert_string_equal(kh_buf_cstr(&mine), kat[i].text);
		text = encrypt_ok(m, true, &bind, KH_SLICE_LIT(KAT_PT));
		assert_string_equal(kh_buf_cstr(&text), kat[i].text);
		blob = blob_of(&text, 7);
		assert_decrypts(m, &bind, kh_buf_slice(&blob), KH_SLICE_LIT(KAT_PT));
		kh_keymat_free(&m);
		kh_buf_cleanup(&mine);
		kh_buf_cleanup(&text);
		kh_buf_cleanup(&blob);
	}
	kh_buf_cleanup(&key);
	kh_buf_cleanup(&ad);
}

/* The random-nonce format, made by hand with a nonce of the test's choosing, decrypts. */
static void hand_made_symmetric_blobs_decrypt(void **state)
{
	struct kh_buf key = kh_test_hex(KEY_00_1F);
	struct kh_buf ad = ad_by_hand("k", 4294967295u, "");
	const struct kh_keymat_bind bind = bind_of("k", 4294967295u, "");
	struct kh_buf nonce = kh_test_hex("000102030405060708090a0b");

	(void)state;
	for (size_t i = 0; i < COUNT_OF(kat); i++) {
		struct kh_keymat *m = NULL;
		struct kh_buf text = symmetric_text_by_hand(kat[i].aead, kh_buf_slice(&key),
		                                            4294967295u, kh_buf_slice(&nonce),
		                                            kh_buf_slice(&ad), KH_SLICE_LIT("hi"));
		struct kh_buf blob = blob_of(&text, 4294967295u);

		assert_int_equal(kh_keymat_load(kat[i].type, kh_buf_slice(&key), &m), KH_OK);
		assert_decrypts(m, &bind, kh_buf_slice(&blob), KH_SLICE_LIT("hi"));
		kh_keymat_free(&m);
		kh_buf_cleanup(&text);
		kh_buf_cleanup(&blob);
	}
	kh_buf_cleanup(&key);
	kh_buf_cleanup(&ad);
	kh_buf_cleanup(&nonce);
}

/* 0x02 | kh_pkey_encrypt(public key, msg): the binding rule, by hand. */
static struct kh_buf pkenc_blob(struct kh_pkey *pub, struct kh_slice msg)
{
	struct kh_buf blob = plain_buf();

	assert_int_equal(kh_buf_append_byte(&blob, 0x02), KH_OK);
	assert_int_equal(kh_pkey_encrypt(pub, msg, &blob), KH_OK);
	return blob;
}

static struct kh_buf binding_then(const char *ctx, const char *pt)
{
	struct kh_buf ad = ad_by_hand(TAG, 2, ctx);
	struct kh_buf msg = secure_buf();
	uint8_t digest[32];

	assert_int_equal(kh_hash(KH_HASH_SHA256, kh_buf_slice(&ad), digest, sizeof(digest)), KH_OK);
	assert_int_equal(kh_buf_append(&msg, KH_SLICE(digest, 16)), KH_OK);
	assert_int_equal(kh_buf_append_cstr(&msg, pt), KH_OK);
	kh_buf_cleanup(&ad);
	return msg;
}

static void hand_made_public_key_blobs_decrypt_only_with_the_right_binding(void **state)
{
	static const enum kh_key_type types[] = {KH_KEY_RSA_2048, KH_KEY_SM2};
	const struct kh_keymat_bind bind = bind_of(TAG, 2, "c");

	(void)state;
	for (size_t i = 0; i < COUNT_OF(types); i++) {
		enum kh_key_type t = types[i];
		struct kh_pkey *pub = NULL;
		struct kh_buf right = binding_then("c", "hello");
		struct kh_buf empty_pt = binding_then("c", "");
		struct kh_buf other_ctx = binding_then("d", "hello");
		struct kh_buf blob;

		assert_int_equal(kh_pkey_import_public(kh_buf_slice(&fx[t].pub), &pub), KH_OK);
		blob = pkenc_blob(pub, kh_buf_slice(&right));
		assert_decrypts(fx[t].m, &bind, kh_buf_slice(&blob), KH_SLICE_LIT("hello"));
		kh_buf_cleanup(&blob);
		blob = pkenc_blob(pub, kh_buf_slice(&empty_pt));
		assert_decrypts(fx[t].m, &bind, kh_buf_slice(&blob), KH_SLICE_EMPTY);
		kh_buf_cleanup(&blob);
		blob = pkenc_blob(pub, kh_buf_slice(&other_ctx));
		assert_decrypt_fails(fx[t].m, &bind, kh_buf_slice(&blob), KH_ERR_DECRYPT);
		kh_buf_cleanup(&blob);
		/* Every bit of the binding counts. */
		for (size_t bit = 0; bit < 16 * 8; bit += 7) {
			right.ptr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			blob = pkenc_blob(pub, kh_buf_slice(&right));
			assert_decrypt_fails(fx[t].m, &bind, kh_buf_slice(&blob), KH_ERR_DECRYPT);
			kh_buf_cleanup(&blob);
			right.ptr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		/* Shorter than a binding: 15 bytes, and (RSA only) nothing at all. */
		blob = pkenc_blob(pub, KH_SLICE(right.ptr, 15));
		assert_decrypt_fails(fx[t].m, &bind, kh_buf_slice(&blob), KH_ERR_DECRYPT);
		kh_buf_cleanup(&blob);
		if (t == KH_KEY_RSA_2048) {
			blob = pkenc_blob(pub, KH_SLICE_EMPTY);
			assert_decrypt_fails(fx[t].m, &bind, kh_buf_slice(&blob), KH_ERR_DECRYPT);
			kh_buf_cleanup(&blob);
		}
		kh_pkey_free(&pub);
		kh_buf_cleanup(&right);
		kh_buf_cleanup(&empty_pt);
		kh_buf_cleanup(&other_ctx);
	}
}

/* ---- Text form ---- */

static void assert_text_refused(const char *text, size_t len, kh_rc want)
{
	struct kh_buf blob = plain_buf();
	uint32_t version = 0xdeadbeef;

	assert_int_equal(kh_buf_append(&blob, KH_SLICE_LIT("kept")), KH_OK);
	assert_int_equal(kh_keymat_text_parse(KH_SLICE(text, len), &version, &blob), want);
	assert_int_equal(version, 0xdeadbeef);
	assert_int_equal(blob.len, 4);
	kh_buf_cleanup(&blob);
}

#define REFUSED(lit) assert_text_refused(lit, sizeof(lit) - 1, KH_ERR_BAD_ENCODING)

static void text_parser_accepts_exactly_the_canonical_form(void **state)
{
	struct kh_buf blob = plain_buf();
	uint32_t version = 0;

	(void)state;
	assert_int_equal(kh_keymat_text_parse(KH_SLICE_LIT("kh:v1:AQ=="), &version, &blob), KH_OK);
	assert_int_equal(version, 1);
	kh_test_assert_hex(kh_buf_slice(&blob), "01");
	kh_buf_clear(&blob);
	assert_int_equal(kh_keymat_text_parse(KH_SLICE_LIT("kh:v4294967295:AQID"), &version, &blob),
	                 KH_OK);
	assert_int_equal(version, 4294967295u);
	kh_test_assert_hex(kh_buf_slice(&blob), "010203");
	kh_buf_clear(&blob);
	assert_int_equal(kh_keymat_text_parse(KH_SLICE_LIT("kh:v10:+/8="), &version, &blob), KH_OK);
	assert_int_equal(version, 10);
	kh_test_assert_hex(kh_buf_slice(&blob), "fbff");
	kh_buf_cleanup(&blob);

	REFUSED("");
	REFUSED("k");
	REFUSED("kh");
	REFUSED("kh:");
	REFUSED("kh:v");
	REFUSED("kh:v:");
	REFUSED("kh:v:AQ==");
	REFUSED("kh:v1");
	REFUSED("kh:v1:"); /* no blob */
	REFUSED("kh:v0:");
	REFUSED("kh:v0:AQ==");
	REFUSED("kh:v01:AQ==");
	REFUSED("kh:v00:AQ==");
	REFUSED("kh:v4294967296:AQ==");
	REFUSED("kh:v04294967295:AQ==");
	REFUSED("kh:v99999999999:AQ==");
	REFUSED("kh:v18446744073709551616:AQ==");
	REFUSED("kh:v1AQ=="); /* missing colon */
	REFUSED("kh:v1;AQ==");
	REFUSED("kh:v-1:AQ==");
	REFUSED("kh:v+1:AQ==");
	REFUSED("kh:v 1:AQ==");
	REFUSED("kh:v1 :AQ==");
	REFUSED("kh:v0x1:AQ==");
	REFUSED("KH:v1:AQ==");
	REFUSED("Kh:v1:AQ==");
	REFUSED("kh:V1:AQ==");
	REFUSED("kh;v1:AQ==");
	REFUSED(" kh:v1:AQ==");
	REFUSED("xkh:v1:AQ==");
	REFUSED("kh:v1:AQ="); /* bad Base64 */
	REFUSED("kh:v1:AQ");
	REFUSED("kh:v1:AR=="); /* non-zero padding bits */
	REFUSED("kh:v1:A===");
	REFUSED("kh:v1:-_8=");   /* URL-safe alphabet */
	REFUSED("kh:v1:AQ==\n"); /* trailing junk */
	REFUSED("kh:v1:AQ== ");
	REFUSED("kh:v1:AQ==AQ==");
	REFUSED("kh:v1:AQ==:");
	REFUSED("kh:v1::AQ==");
	REFUSED("kh:v1:2:AQ==");
	REFUSED("kh:v1:AQ==\0");
	REFUSED("kh:v1\0:AQ==");
	REFUSED("kh:v1:A Q==");
	assert_text_refused(NULL, 0, KH_ERR_BAD_ENCODING);
}

static void text_parser_refuses_more_than_the_ciphertext_limit(void **state)
{
	struct kh_buf text = plain_buf();
	struct kh_buf blob = plain_buf();
	uint32_t version = 0;

	(void)state;
	/* "kh:v100:" is 8 bytes, leaving a multiple of 4 for the Base64. */
	assert_int_equal(kh_buf_append_cstr(&text, "kh:v100:"), KH_OK);
	while (text.len < KH_LIMIT_CIPHERTEXT_BYTES)
		assert_int_equal(kh_buf_append_cstr(&text, "AAAA"), KH_OK);
	assert_int_equal(text.len, KH_LIMIT_CIPHERTEXT_BYTES);
	assert_int_equal(kh_keymat_text_parse(kh_buf_slice(&text), &version, &blob), KH_OK);
	assert_int_equal(version, 100);
	assert_int_equal(blob.len, (KH_LIMIT_CIPHERTEXT_BYTES - 8) / 4 * 3);
	assert_int_equal(kh_buf_append_cstr(&text, "AAAA"), KH_OK);
	assert_text_refused((const char *)text.ptr, text.len, KH_ERR_TOO_LARGE);
	assert_text_refused((const char *)text.ptr, KH_LIMIT_CIPHERTEXT_BYTES + 1,
	                    KH_ERR_TOO_LARGE);
	kh_buf_cleanup(&text);
	kh_buf_cleanup(&blob);
}

/* ---- Signatures ---- */

#define SIGN_MSG "keyhold signs this message"

/* GB/T 32918.5-2017, the recommended curve: a, b, xG, yG. */
#define SM2_CURVE                                                                                  \
	"FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"                         \
	"28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"                         \
	"32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"                         \
	"BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"

/* GB/T 32918.2-2016 5.5: e = SM3(Z || M), Z = SM3(ENTL || ID || a || b || xG || yG || xA ||
 * yA), with the default ID (16 bytes, ENTL = 128 bits). xA || yA are the last 64 bytes of the
 * SPKI, whose BIT STRING holds the uncompressed point 04 || xA || yA. */
static void sm2_e(struct kh_slice spki, struct kh_slice msg, uint8_t e[32])
{
	static const uint8_t entl[2] = {0x00, 0x80};
	struct kh_buf curve = kh_test_hex(SM2_CURVE);
	struct kh_hash_ctx *h = NULL;
	uint8_t z[32];

	assert_true(spki.len > 65 && spki.ptr[spki.len - 65] == 0x04);
	assert_int_equal(kh_hash_ctx_new(KH_HASH_SM3, &h), KH_OK);
	assert_int_equal(kh_hash_ctx_update(h, KH_SLICE(entl, 2)), KH_OK);
	assert_int_equal(kh_hash_ctx_update(h, KH_SLICE_LIT(KH_SM2_DEFAULT_ID)), KH_OK);
	assert_int_equal(kh_hash_ctx_update(h, kh_buf_slice(&curve)), KH_OK);
	assert_int_equal(kh_hash_ctx_update(h, KH_SLICE(spki.ptr + spki.len - 64, 64)), KH_OK);
	assert_int_equal(kh_hash_ctx_final(h, z, sizeof(z)), KH_OK);
	assert_int_equal(kh_hash_ctx_reset(h), KH_OK);
	assert_int_equal(kh_hash_ctx_update(h, KH_SLICE(z, sizeof(z))), KH_OK);
	assert_int_equal(kh_hash_ctx_update(h, msg), KH_OK);
	assert_int_equal(kh_hash_ctx_final(h, e, 32), KH_OK);
	kh_hash_ctx_free(&h);
	kh_buf_cleanup(&curve);
}

struct sig_case {
	enum kh_key_type type;
	int alg;                /* as passed to keymat (0 = default) */
	enum kh_sig_alg actual; /* what it must mean */
	enum kh_hash digest;    /* 0: no digest mode */
};

static const struct sig_case sig_cases[] = {
    {KH_KEY_RSA_2048, 0, KH_SIG_RSA_PSS_SHA256, KH_HASH_SHA256},
    {KH_KEY_RSA_2048, KH_SIG_RSA_PSS_SHA256, KH_SIG_RSA_PSS_SHA256, KH_HASH_SHA256},
    {KH_KEY_RSA_2048, KH_SIG_RSA_PKCS1_SHA256, KH_SIG_RSA_PKCS1_SHA256, KH_HASH_SHA256},
    {KH_KEY_RSA_3072, 0, KH_SIG_RSA_PSS_SHA256, KH_HASH_SHA256},
    {KH_KEY_RSA_4096, KH_SIG_RSA_PKCS1_SHA256, KH_SIG_RSA_PKCS1_SHA256, KH_HASH_SHA256},
    {KH_KEY_ECDSA_P256, 0, KH_SIG_ECDSA_SHA256, KH_HASH_SHA256},
    {KH_KEY_ECDSA_P384, 0, KH_SIG_ECDSA_SHA384, KH_HASH_SHA384},
    {KH_KEY_ECDSA_P384, KH_SIG_ECDSA_SHA384, KH_SIG_ECDSA_SHA384, KH_HASH_SHA384},
    {KH_KEY_ED25519, 0, KH_SIG_ED25519, (enum kh_hash)0},
    {KH_KEY_SM2, 0, KH_SIG_SM2_SM3, KH_HASH_SM3},
};

/* The digest the caller would send for msg. */
static void digest_for(const struct sig_case *c, struct kh_slice msg, uint8_t *out, size_t *out_len)
{
	if (c->type == KH_KEY_SM2) {
		sm2_e(kh_buf_slice(&fx[c->type].pub), msg, out);
		*out_len = 32;
		return;
	}
	*out_len = kh_hash_len(c->digest);
	assert_int_equal(kh_hash(c->digest, msg, out, *out_len), KH_OK);
}

static bool verifies(const struct sig_case *c, bool is_digest, struct kh_slice msg,
                     struct kh_slice blob)
{
	bool valid = true;

	assert_int_equal(kh_keymat_verify(fx[c->type].m, c->alg, is_digest, msg, blob, &valid),
	                 KH_OK);
	return valid;
}

static struct kh_buf sign_ok(const struct sig_case *c, uint32_t version, bool is_digest,
                             struct kh_slice msg)
{
	struct kh_buf text = plain_buf();
	struct kh_buf blob;

	assert_int_equal(kh_keymat_sign(fx[c->type].m, version, c->alg, is_digest, msg, &text),
	                 KH_OK);
	blob = blob_of(&text, version);
	kh_buf_cleanup(&text);
	assert_true(blob.len > 1);
	assert_int_equal(blob.ptr[0], 0x01);
	return blob;
}

/* The blob carries the plain signature: the public key alone verifies it. */
static void assert_signature_is_raw(const struct sig_case *c, struct kh_slice msg,
                                    const struct kh_buf *blob)
{
	struct kh_pkey *pub = NULL;
	struct kh_slice sig = KH_SLICE(blob->ptr + 1, blob->len - 1);

	assert_int_equal(kh_pkey_import_public(kh_buf_slice(&fx[c->type].pub), &pub), KH_OK);
	assert_int_equal(kh_pkey_verify(pub, c->actual, msg, KH_SLICE_EMPTY, sig), KH_OK);
	if (c->type == KH_KEY_ED25519)
		assert_int_equal(sig.len, 64);
	if (c->actual == KH_SIG_RSA_PSS_SHA256 || c->actual == KH_SIG_RSA_PKCS1_SHA256)
		assert_int_equal(sig.len, c->type == KH_KEY_RSA_2048   ? 256
		                          : c->type == KH_KEY_RSA_3072 ? 384
		                                                       : 512);
	if (c->actual == KH_SIG_ECDSA_SHA256 || c->actual == KH_SIG_ECDSA_SHA384 ||
	    c->actual == KH_SIG_SM2_SM3)
		assert_int_equal(sig.ptr[0], 0x30); /* DER SEQUENCE */
	kh_pkey_free(&pub);
}

static void every_signing_type_round_trips_in_message_and_digest_mode(void **state)
{
	struct kh_slice msg = KH_SLICE_LIT(SIGN_MSG);

	(void)state;
	for (size_t i = 0; i < COUNT_OF(sig_cases); i++) {
		const struct sig_case *c = &sig_cases[i];
		struct kh_buf by_msg = sign_ok(c, 12, false, msg);
		uint8_t d[KH_HASH_MAX_LEN] = {0};
		size_t d_len = 0;

		assert_true(verifies(c, false, msg, kh_buf_slice(&by_msg)));
		assert_false(verifies(c, false, KH_SLICE_LIT(SIGN_MSG "."), kh_buf_slice(&by_msg)));
		assert_signature_is_raw(c, msg, &by_msg);
		if (c->digest == 0) {
			struct kh_buf out = plain_buf();
			bool valid = true;
			/* RFC 8032: pure Ed25519 has no digest mode. */
			assert_int_equal(
			    kh_keymat_sign(fx[c->type].m, 1, c->alg, true, KH_SLICE(d, 32), &out),
			    KH_ERR_WRONG_KEY_TYPE);
			assert_int_equal(kh_keymat_verify(fx[c->type].m, c->alg, true,
			                                  KH_SLICE(d, 32), kh_buf_slice(&by_msg),
			                                  &valid),
			                 KH_ERR_WRONG_KEY_TYPE);
			assert_int_equal(out.len, 0);
			kh_buf_cleanup(&by_msg);
			kh_buf_cleanup(&out);
			continue;
		}
		/* A digest signature is a message signature and the other way round. */
		digest_for(c, msg, d, &d_len);
		{
			struct kh_buf by_digest = sign_ok(c, 12, true, KH_SLICE(d, d_len));
			assert_true(
			    verifies(c, true, KH_SLICE(d, d_len), kh_buf_slice(&by_digest)));
			assert_true(verifies(c, true, KH_SLICE(d, d_len), kh_buf_slice(&by_msg)));
			assert_true(verifies(c, false, msg, kh_buf_slice(&by_digest)));
			assert_signature_is_raw(c, msg, &by_digest);
			d[0] ^= 1;
			assert_false(
			    verifies(c, true, KH_SLICE(d, d_len), kh_buf_slice(&by_digest)));
			kh_buf_cleanup(&by_digest);
		}
		kh_buf_cleanup(&by_msg);
	}
}

static void rsa_pss_and_pkcs1_signatures_are_not_interchangeable(void **state)
{
	const struct sig_case pss = sig_cases[0];
	const struct sig_case pkcs1 = sig_cases[2];
	struct kh_slice msg = KH_SLICE_LIT(SIGN_MSG);
	struct kh_buf a = sign_ok(&pss, 1, false, msg);
	struct kh_buf b = sign_ok(&pkcs1, 1, false, msg);
	struct kh_buf b2 = sign_ok(&pkcs1, 1, false, msg);
	struct kh_buf a2 = sign_ok(&pss, 1, false, msg);

	(void)state;
	assert_false(verifies(&pkcs1, false, msg, kh_buf_slice(&a)));
	assert_false(verifies(&pss, false, msg, kh_buf_slice(&b)));
	/* RFC 8017 8.2: PKCS#1 v1.5 is deterministic; PSS (8.1) is salted. */
	assert_true(same(&b, &b2));
	assert_false(same(&a, &a2));
	kh_buf_cleanup(&a);
	kh_buf_cleanup(&b);
	kh_buf_cleanup(&b2);
	kh_buf_cleanup(&a2);
}

static void malformed_or_altered_signatures_are_invalid_not_errors(void **state)
{
	/* RSA-2048 PSS, P-256, P-384, Ed25519, SM2. */
	static const size_t which[] = {0, 5, 6, 8, 9};
	struct kh_slice msg = KH_SLICE_LIT(SIGN_MSG);

	(void)state;
	for (size_t i = 0; i < COUNT_OF(which); i++) {
		const struct sig_case *c = &sig_cases[which[i]];
		struct kh_buf blob = sign_ok(c, 1, false, msg);
		struct kh_buf alt = plain_buf();

		for (size_t j = 0; j < blob.len; j++) {
			kh_buf_clear(&alt);
			assert_int_equal(kh_buf_append(&alt, kh_buf_slice(&blob)), KH_OK);
			alt.ptr[j] ^= (uint8_t)(j == 0 ? 0x02 : 0x40);
			assert_false(verifies(c, false, msg, kh_buf_slice(&alt)));
		}
		for (size_t len = 0; len < blob.len; len++)
			assert_false(verifies(c, false, msg, KH_SLICE(blob.ptr, len)));
		assert_false(verifies(c, false, msg, KH_SLICE_EMPTY));
		kh_buf_clear(&alt);
		assert_int_equal(kh_buf_append(&alt, kh_buf_slice(&blob)), KH_OK);
		assert_int_equal(kh_buf_append_byte(&alt, 0), KH_OK);
		assert_false(verifies(c, false, msg, kh_buf_slice(&alt)));
		/* A correct signature under another format byte. */
		kh_buf_truncate(&alt, blob.len);
		alt.ptr[0] = 0x00;
		assert_false(verifies(c, false, msg, kh_buf_slice(&alt)));
		alt.ptr[0] = 0x02;
		assert_false(verifies(c, false, msg, kh_buf_slice(&alt)));
		assert_true(verifies(c, false, msg, kh_buf_slice(&blob)));
		kh_buf_cleanup(&blob);
		kh_buf_cleanup(&alt);
	}
}

static void sign_checks_algorithm_version_digest_length_and_message_size(void **state)
{
	static uint8_t big[KH_LIMIT_SIGN_MESSAGE_BYTES + 1];
	struct kh_buf out = plain_buf();
	bool valid = true;
	struct kh_keymat *p256 = fx[KH_KEY_ECDSA_P256].m;
	struct kh_keymat *rsa = fx[KH_KEY_RSA_2048].m;

	(void)state;
	assert_int_equal(
	    kh_keymat_sign(p256, 1, KH_SIG_ECDSA_SHA384, false, KH_SLICE_LIT("m"), &out),
	    KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(
	    kh_keymat_sign(p256, 1, KH_SIG_RSA_PKCS1_SHA256, false, KH_SLICE_LIT("m"), &out),
	    KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(
	    kh_keymat_sign(rsa, 1, KH_SIG_ECDSA_SHA256, false, KH_SLICE_LIT("m"), &out),
	    KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(kh_keymat_sign(fx[KH_KEY_ED25519].m, 1, KH_SIG_RSA_PKCS1_SHA256, false,
	                                KH_SLICE_LIT("m"), &out),
	                 KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(kh_keymat_sign(fx[KH_KEY_SM2].m, 1, KH_SIG_ECDSA_SHA256, false,
	                                KH_SLICE_LIT("m"), &out),
	                 KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(kh_keymat_sign(rsa, 1, 99, false, KH_SLICE_LIT("m"), &out),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keymat_sign(rsa, 1, -1, false, KH_SLICE_LIT("m"), &out),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(
	    kh_keymat_verify(rsa, 99, false, KH_SLICE_LIT("m"), KH_SLICE_EMPTY, &valid),
	    KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keymat_sign(rsa, 0, 0, false, KH_SLICE_LIT("m"), &out),
	                 KH_ERR_BAD_INPUT);
	/* Digests of the wrong length, whatever the blob looks like. */
	assert_int_equal(kh_keymat_sign(p256, 1, 0, true, KH_SLICE(big, 31), &out),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(
	    kh_keymat_sign(fx[KH_KEY_ECDSA_P384].m, 1, 0, true, KH_SLICE(big, 32), &out),
	    KH_ERR_BAD_INPUT);
	assert_int_equal(
	    kh_keymat_verify(p256, 0, true, KH_SLICE(big, 33), KH_SLICE("\x01", 1), &valid),
	    KH_ERR_BAD_INPUT);
	assert_int_equal(
	    kh_keymat_verify(p256, 0, true, KH_SLICE(big, 33), KH_SLICE("\x07", 1), &valid),
	    KH_ERR_BAD_INPUT);
	/* API.md: messages up to 8 KiB. */
	assert_int_equal(kh_keymat_sign(p256, 1, 0, false, KH_SLICE(big, sizeof(big)), &out),
	                 KH_ERR_TOO_LARGE);
	assert_int_equal(
	    kh_keymat_verify(p256, 0, false, KH_SLICE(big, sizeof(big)), KH_SLICE_EMPTY, &valid),
	    KH_ERR_TOO_LARGE);
	assert_true(valid); /* untouched by the failures */
	assert_int_equal(out.len, 0);
	assert_int_equal(
	    kh_keymat_sign(p256, 1, 0, false, KH_SLICE(big, KH_LIMIT_SIGN_MESSAGE_BYTES), &out),
	    KH_OK);
	kh_buf_cleanup(&out);
}

/* ---- MACs ---- */

static void mac_matches_openssl_and_verifies_only_the_whole_tag(void **state)
{
	struct kh_buf key = kh_test_hex(KEY_00_1F);
	struct kh_keymat *m = NULL;
	struct kh_buf text = plain_buf();
	struct kh_buf blob;
	struct kh_buf alt = plain_buf();
	struct kh_slice msg = KH_SLICE_LIT("keyhold mac known answer");
	bool valid = false;

	(void)state;
	assert_int_equal(kh_keymat_load(KH_KEY_HMAC_SHA256, kh_buf_slice(&key), &m), KH_OK);
	assert_int_equal(kh_keymat_mac(m, 3, msg, &text), KH_OK);
	/* openssl mac -digest SHA256 -macopt hexkey:00..1f HMAC = 768e0fa1...836a8955 */
	assert_string_equal(kh_buf_cstr(&text),
	                    "kh:v3:AXaOD6HwVcG8lXOshDWHwadodSVMDDWWBm8KYOuDaolV");
	blob = blob_of(&text, 3);
	assert_int_equal(kh_keymat_verify_mac(m, msg, kh_buf_slice(&blob), &valid), KH_OK);
	assert_true(valid);
	assert_int_equal(kh_keymat_verify_mac(m, KH_SLICE_LIT("keyhold mac known answeR"),
	                                      kh_buf_slice(&blob), &valid),
	                 KH_OK);
	assert_false(valid);
	for (size_t j = 0; j < blob.len; j++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			kh_buf_clear(&alt);
			assert_int_equal(kh_buf_append(&alt, kh_buf_slice(&blob)), KH_OK);
			alt.ptr[j] ^= (uint8_t)(1u << bit);
			valid = true;
			assert_int_equal(kh_keymat_verify_mac(m, msg, kh_buf_slice(&alt), &valid),
			                 KH_OK);
			assert_false(valid);
		}
	}
	/* A truncated tag (which kh_hmac_verify would take as a prefix) and every other length. */
	for (size_t len = 0; len < blob.len; len++) {
		valid = true;
		assert_int_equal(kh_keymat_verify_mac(m, msg, KH_SLICE(blob.ptr, len), &valid),
		                 KH_OK);
		assert_false(valid);
	}
	kh_buf_clear(&alt);
	assert_int_equal(kh_buf_append(&alt, kh_buf_slice(&blob)), KH_OK);
	assert_int_equal(kh_buf_append_byte(&alt, 0), KH_OK);
	valid = true;
	assert_int_equal(kh_keymat_verify_mac(m, msg, kh_buf_slice(&alt), &valid), KH_OK);
	assert_false(valid);
	/* Another HMAC key does not verify it. */
	valid = true;
	assert_int_equal(
	    kh_keymat_verify_mac(fx[KH_KEY_HMAC_SHA256].m, msg, kh_buf_slice(&blob), &valid),
	    KH_OK);
	assert_false(valid);
	kh_keymat_free(&m);
	kh_buf_cleanup(&key);
	kh_buf_cleanup(&text);
	kh_buf_cleanup(&blob);
	kh_buf_cleanup(&alt);
}

static void mac_checks_version_and_message_size(void **state)
{
	static uint8_t big[KH_LIMIT_SIGN_MESSAGE_BYTES + 1];
	struct kh_keymat *m = fx[KH_KEY_HMAC_SHA256].m;
	struct kh_buf out = plain_buf();
	bool valid = true;

	(void)state;
	assert_int_equal(kh_keymat_mac(m, 0, KH_SLICE_LIT("m"), &out), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keymat_mac(m, 1, KH_SLICE(big, sizeof(big)), &out), KH_ERR_TOO_LARGE);
	assert_int_equal(
	    kh_keymat_verify_mac(m, KH_SLICE(big, sizeof(big)), KH_SLICE_EMPTY, &valid),
	    KH_ERR_TOO_LARGE);
	assert_true(valid);
	assert_int_equal(out.len, 0);
	assert_int_equal(kh_keymat_mac(m, 1, KH_SLICE_EMPTY, &out), KH_OK);
	kh_buf_cleanup(&out);
}

/* ---- Wrong key types, public keys ---- */

static void operations_on_the_wrong_kind_of_key_are_refused(void **state)
{
	const struct kh_keymat_bind bind = bind_of(TAG, 1, "");
	struct kh_buf out = plain_buf();
	struct kh_buf pt = secure_buf();
	bool valid = true;

	(void)state;
	for (size_t i = 0; i < COUNT_OF(non_encrypting_types); i++) {
		struct kh_keymat *m = fx[non_encrypting_types[i]].m;
		assert_int_equal(kh_keymat_encrypt(m, false, &bind, KH_SLICE_LIT("x"), &out),
		                 KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_keymat_encrypt(m, true, &bind, KH_SLICE_LIT("x"), &out),
		                 KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_keymat_decrypt(m, &bind, KH_SLICE("\x01", 1), &pt),
		                 KH_ERR_WRONG_KEY_TYPE);
	}
	for (size_t i = 0; i < COUNT_OF(all_types); i++) {
		enum kh_key_type t = all_types[i];
		struct kh_keymat *m = fx[t].m;
		if (is_symmetric_or_mac(t)) {
			assert_int_equal(kh_keymat_sign(m, 1, 0, false, KH_SLICE_LIT("x"), &out),
			                 KH_ERR_WRONG_KEY_TYPE);
			assert_int_equal(kh_keymat_verify(m, 0, false, KH_SLICE_LIT("x"),
			                                  KH_SLICE("\x01", 1), &valid),
			                 KH_ERR_WRONG_KEY_TYPE);
			assert_int_equal(kh_keymat_public_pem(m, &out), KH_ERR_WRONG_KEY_TYPE);
		}
		if (t != KH_KEY_HMAC_SHA256) {
			assert_int_equal(kh_keymat_mac(m, 1, KH_SLICE_LIT("x"), &out),
			                 KH_ERR_WRONG_KEY_TYPE);
			assert_int_equal(
			    kh_keymat_verify_mac(m, KH_SLICE_LIT("x"), KH_SLICE("\x01", 1), &valid),
			    KH_ERR_WRONG_KEY_TYPE);
		}
	}
	assert_true(valid);
	assert_int_equal(out.len, 0);
	assert_int_equal(pt.len, 0);
	kh_buf_cleanup(&out);
	kh_buf_cleanup(&pt);
}

static void public_pem_is_the_generated_public_key(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT_OF(asymmetric_types); i++) {
		enum kh_key_type t = asymmetric_types[i];
		struct kh_buf pem = plain_buf();
		struct kh_buf der = plain_buf();
		struct kh_pkey *pub = NULL;

		assert_int_equal(kh_keymat_public_pem(fx[t].m, &pem), KH_OK);
		assert_non_null(strstr(kh_buf_cstr(&pem), "-----BEGIN PUBLIC KEY-----"));
		assert_int_equal(kh_pkey_import_public(kh_buf_slice(&pem), &pub), KH_OK);
		assert_int_equal(kh_pkey_export_public_der(pub, &der), KH_OK);
		assert_true(same(&der, &fx[t].pub));
		kh_pkey_free(&pub);
		kh_buf_cleanup(&pem);
		kh_buf_cleanup(&der);
	}
}

/* ---- Threads ---- */

enum {
	THREADS = 4,
	ROUNDS = 200
};

struct thread_arg {
	struct kh_keymat *m;
	unsigned id;
	unsigned failures;
};

/* Plain checks (cmocka's asserts are not for threads); counts failures. */
static void *hammer(void *p)
{
	struct thread_arg *a = p;

	for (unsigned r = 0; r < ROUNDS; r++) {
		char ctx[32];
		struct kh_keymat_bind bind;
		struct kh_buf text = plain_buf();
		struct kh_buf blob = plain_buf();
		struct kh_buf pt = secure_buf();
		uint8_t msg[100];
		uint32_t version = 0;

		snprintf(ctx, sizeof(ctx), "thread %u round %u", a->id, r);
		bind = bind_of(TAG, a->id + 1, ctx);
		for (size_t i = 0; i < sizeof(msg); i++)
			msg[i] = (uint8_t)(a->id * 31 + r + i);
		if (kh_keymat_encrypt(a->m, (r & 1) != 0, &bind, KH_SLICE(msg, sizeof(msg)),
		                      &text) != KH_OK ||
		    kh_keymat_text_parse(kh_buf_slice(&text), &version, &blob) != KH_OK ||
		    kh_keymat_decrypt(a->m, &bind, kh_buf_slice(&blob), &pt) != KH_OK ||
		    !kh_slice_eq(kh_buf_slice(&pt), KH_SLICE(msg, sizeof(msg))))
			a->failures++;
		kh_buf_cleanup(&text);
		kh_buf_cleanup(&blob);
		kh_buf_cleanup(&pt);
	}
	return NULL;
}

static void one_key_serves_several_threads_at_once(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT_OF(symmetric_types); i++) {
		pthread_t th[THREADS];
		struct thread_arg args[THREADS];

		for (unsigned j = 0; j < THREADS; j++) {
			args[j] = (struct thread_arg){.m = fx[symmetric_types[i]].m, .id = j};
			assert_int_equal(pthread_create(&th[j], NULL, hammer, &args[j]), 0);
		}
		for (unsigned j = 0; j < THREADS; j++) {
			assert_int_equal(pthread_join(th[j], NULL), 0);
			assert_int_equal(args[j].failures, 0);
		}
	}
}

/* ---- Allocation failures ---- */

struct sweep {
	enum kh_key_type type;
	bool convergent;
	kh_rc (*cycle)(const struct sweep *s);
};

/* LeakSanitizer does not see inside the secure arena, so its use is compared around each run;
 * a run that leaks secure memory returns KH_ERR_INTERNAL, which fails the sweep. */
static kh_rc without_secure_leaks(void *p)
{
	const struct sweep *s = p;
	struct kh_secure_stats before;
	struct kh_secure_stats after;
	kh_rc rc;

	kh_secure_stats_get(&before);
	rc = s->cycle(s);
	kh_secure_stats_get(&after);
	return after.in_use == before.in_use ? rc : KH_ERR_INTERNAL;
}

/* load + encrypt + parse + decrypt, cleaning up on every path. */
static kh_rc encrypt_cycle(const struct sweep *s)
{
	const struct kh_keymat_bind bind = bind_of(TAG, 3, "sweep");
	struct kh_keymat *m = NULL;
	struct kh_buf text = plain_buf();
	struct kh_buf blob = plain_buf();
	struct kh_buf pt = secure_buf();
	uint32_t version = 0;
	kh_rc rc;

	KH_GUARD_OUT(kh_keymat_load(s->type, kh_buf_slice(&fx[s->type].secret), &m));
	KH_GUARD_OUT(kh_keymat_encrypt(m, s->convergent, &bind, KH_SLICE_LIT("sweep"), &text));
	KH_GUARD_OUT(kh_keymat_text_parse(kh_buf_slice(&text), &version, &blob));
	KH_GUARD_OUT(kh_keymat_decrypt(m, &bind, kh_buf_slice(&blob), &pt));
	KH_ENSURE_OUT(version == 3 && kh_slice_eq(kh_buf_slice(&pt), KH_SLICE_LIT("sweep")),
	              KH_ERR_INTERNAL);
out:
	kh_keymat_free(&m);
	kh_buf_cleanup(&text);
	kh_buf_cleanup(&blob);
	kh_buf_cleanup(&pt);
	return rc;
}

static kh_rc sign_cycle(const struct sweep *s)
{
	struct kh_keymat *m = NULL;
	struct kh_buf text = plain_buf();
	struct kh_buf blob = plain_buf();
	struct kh_buf pem = plain_buf();
	uint32_t version = 0;
	bool valid = false;
	kh_rc rc;

	KH_GUARD_OUT(kh_keymat_load(s->type, kh_buf_slice(&fx[s->type].secret), &m));
	KH_GUARD_OUT(kh_keymat_sign(m, 2, 0, false, KH_SLICE_LIT("sweep"), &text));
	KH_GUARD_OUT(kh_keymat_text_parse(kh_buf_slice(&text), &version, &blob));
	KH_GUARD_OUT(
	    kh_keymat_verify(m, 0, false, KH_SLICE_LIT("sweep"), kh_buf_slice(&blob), &valid));
	KH_GUARD_OUT(kh_keymat_public_pem(m, &pem));
	KH_ENSURE_OUT(valid && version == 2, KH_ERR_INTERNAL);
out:
	kh_keymat_free(&m);
	kh_buf_cleanup(&text);
	kh_buf_cleanup(&blob);
	kh_buf_cleanup(&pem);
	return rc;
}

static kh_rc mac_cycle(const struct sweep *s)
{
	struct kh_keymat *m = NULL;
	struct kh_buf text = plain_buf();
	struct kh_buf blob = plain_buf();
	uint32_t version = 0;
	bool valid = false;
	kh_rc rc;

	KH_GUARD_OUT(kh_keymat_load(s->type, kh_buf_slice(&fx[s->type].secret), &m));
	KH_GUARD_OUT(kh_keymat_mac(m, 2, KH_SLICE_LIT("sweep"), &text));
	KH_GUARD_OUT(kh_keymat_text_parse(kh_buf_slice(&text), &version, &blob));
	KH_GUARD_OUT(kh_keymat_verify_mac(m, KH_SLICE_LIT("sweep"), kh_buf_slice(&blob), &valid));
	KH_ENSURE_OUT(valid && version == 2, KH_ERR_INTERNAL);
out:
	kh_keymat_free(&m);
	kh_buf_cleanup(&text);
	kh_buf_cleanup(&blob);
	return rc;
}

static kh_rc generate_cycle(const struct sweep *s)
{
	struct kh_buf secret = secure_buf();
	struct kh_buf pub = plain_buf();
	kh_rc rc;

	KH_GUARD_OUT(kh_keymat_generate(s->type, &secret, &pub));
out:
	kh_buf_cleanup(&secret);
	kh_buf_cleanup(&pub);
	return rc;
}

static void every_allocation_failure_returns_nomem_without_leaking(void **state)
{
	static const struct sweep sweeps[] = {
	    {KH_KEY_AES_256_GCM, false, encrypt_cycle},
	    {KH_KEY_AES_256_GCM, true, encrypt_cycle},
	    {KH_KEY_SM4, false, encrypt_cycle},
	    {KH_KEY_SM4, true, encrypt_cycle},
	    {KH_KEY_CHACHA20_POLY1305, true, encrypt_cycle},
	    {KH_KEY_RSA_2048, false, encrypt_cycle},
	    {KH_KEY_SM2, false, encrypt_cycle},
	    {KH_KEY_ECDSA_P256, false, sign_cycle},
	    {KH_KEY_ED25519, false, sign_cycle},
	    {KH_KEY_SM2, false, sign_cycle},
	    {KH_KEY_HMAC_SHA256, false, mac_cycle},
	    {KH_KEY_AES_256_GCM, false, generate_cycle},
	    {KH_KEY_ECDSA_P256, false, generate_cycle},
	};

	(void)state;
	for (size_t i = 0; i < COUNT_OF(sweeps); i++)
		kh_test_alloc_failures(without_secure_leaks, (void *)(uintptr_t)&sweeps[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(generate_makes_raw_secrets_or_pkcs8_and_spki_of_the_right_type),
	    cmocka_unit_test(
	        generate_gives_fresh_secrets_and_refuses_plain_buffers_and_unknown_types),
	    cmocka_unit_test(load_refuses_garbage_and_wrong_length_secrets),
	    cmocka_unit_test(load_takes_pkcs8_der_from_openssl_but_not_pem),
	    cmocka_unit_test(every_encrypting_type_round_trips_plaintexts_of_awkward_sizes),
	    cmocka_unit_test(plaintext_and_context_above_their_limits_are_too_large),
	    cmocka_unit_test(ciphertexts_are_bound_to_key_tag_version_and_context),
	    cmocka_unit_test(an_empty_context_is_the_same_with_or_without_a_pointer),
	    cmocka_unit_test(another_key_of_the_same_type_cannot_decrypt),
	    cmocka_unit_test(bindings_with_an_empty_or_nul_tag_or_version_0_are_refused),
	    cmocka_unit_test(convergent_ciphertexts_repeat_exactly_when_all_inputs_repeat),
	    cmocka_unit_test(every_byte_flip_truncation_and_extension_of_a_blob_is_rejected),
	    cmocka_unit_test(a_blob_for_one_key_family_fails_under_another),
	    cmocka_unit_test(decrypt_writes_plaintext_only_to_secure_buffers),
	    cmocka_unit_test(convergent_encryption_matches_the_documented_format_byte_for_byte),
	    cmocka_unit_test(hand_made_symmetric_blobs_decrypt),
	    cmocka_unit_test(hand_made_public_key_blobs_decrypt_only_with_the_right_binding),
	    cmocka_unit_test(text_parser_accepts_exactly_the_canonical_form),
	    cmocka_unit_test(text_parser_refuses_more_than_the_ciphertext_limit),
	    cmocka_unit_test(every_signing_type_round_trips_in_message_and_digest_mode),
	    cmocka_unit_test(rsa_pss_and_pkcs1_signatures_are_not_interchangeable),
	    cmocka_unit_test(malformed_or_altered_signatures_are_invalid_not_errors),
	    cmocka_unit_test(sign_checks_algorithm_version_digest_length_and_message_size),
	    cmocka_unit_test(mac_matches_openssl_and_verifies_only_the_whole_tag),
	    cmocka_unit_test(mac_checks_version_and_message_size),
	    cmocka_unit_test(operations_on_the_wrong_kind_of_key_are_refused),
	    cmocka_unit_test(public_pem_is_the_generated_public_key),
	    cmocka_unit_test(one_key_serves_several_threads_at_once),
	    cmocka_unit_test(every_allocation_failure_returns_nomem_without_leaking),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
