/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The crypto operations on keys (API.md "Crypto operations"), for every type and usage:
 * encryption with and without context, bound to key, version and context; convergent keys;
 * data keys of every allowed size (and refusals); re-encryption to the current version; signing
 * and verifying (checked independently with the exported public key), MACs, public keys as PEM;
 * wrong usages; size limits; usage count, last use and the 100-entry usage history; sealing
 * (every operation answers KH_ERR_SEALED, the cache is emptied, unsealing restores service); the
 * bounded cache, also under threads; and no plaintext or data key in the database file or its
 * WAL.
 */
#include "kh_test_keys.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kh_codec.h"
#include "crypto/kh_crypto.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define CT_MAX KH_LIMIT_CIPHERTEXT_BYTES

struct env {
	struct kh_test_keys *t;
	struct kh_keys *k;
	int64_t ks;
	struct kh_principal mgr;
	struct kh_principal user;
};

static struct env *env_new(unsigned cache_max)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->t = kh_test_keys_new(cache_max);
	e->k = e->t->keys;
	e->ks = kh_test_keys_keystore(e->t, "acme");
	e->mgr = kh_test_keys_manager(e->t, e->ks, "admin");
	e->user = kh_test_keys_user(e->t, e->ks, "alice");
	return e;
}

static int setup(void **state)
{
	*state = env_new(0);
	return 0;
}

static int setup_small_cache(void **state)
{
	*state = env_new(4);
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	kh_test_keys_free(&e->t);
	free(e);
	return 0;
}

static struct kh_key_info make(struct env *e, const char *name, enum kh_key_type type,
                               enum kh_key_usage usage)
{
	return kh_test_keys_create_usage(e->t, &e->mgr, name, type, usage);
}

static struct kh_key_info make_convergent(struct env *e, const char *name, enum kh_key_type type)
{
	struct kh_key_create req = {
	    .name = name, .type = type, .rotation_period_days = -1, .convergent = true};
	struct kh_key_info k;
	assert_int_equal(kh_keys_create(e->k, &e->mgr, &req, &k), KH_OK);
	assert_true(k.convergent);
	return k;
}

static kh_rc enc(struct env *e, const char *tag, struct kh_slice pt, struct kh_slice ctx,
                 struct kh_buf *out)
{
	kh_buf_init(out, CT_MAX, KH_BUF_PLAIN);
	kh_rc rc = kh_keys_encrypt(e->k, &e->mgr, tag, pt, ctx, out);
	if (rc != KH_OK)
		assert_int_equal(out->len, 0);
	return rc;
}

/* Decrypts; on success the plaintext must equal want. */
static kh_rc dec(struct env *e, const char *tag, struct kh_slice text, struct kh_slice ctx,
                 struct kh_slice want)
{
	struct kh_buf out;
	kh_buf_init(&out, KH_LIMIT_PLAINTEXT_BYTES, KH_BUF_SECURE);
	kh_rc rc = kh_keys_decrypt(e->k, &e->mgr, tag, text, ctx, &out);
	if (rc == KH_OK)
		assert_true(kh_slice_eq(kh_buf_slice(&out), want));
	else
		assert_int_equal(out.len, 0);
	kh_buf_cleanup(&out);
	return rc;
}

static struct kh_buf text_of(const char *s)
{
	struct kh_buf b;
	kh_buf_init(&b, CT_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append_cstr(&b, s), KH_OK);
	return b;
}

/* The same text with another version number in its prefix. */
static struct kh_buf relabel(const struct kh_buf *text, uint32_t version)
{
	const char *s = kh_buf_cstr(text);
	const char *body = strchr(s + 4, ':');
	assert_non_null(body);
	char prefix[24];
	snprintf(prefix, sizeof(prefix), "kh:v%u", version);
	struct kh_buf b = text_of(prefix);
	assert_int_equal(kh_buf_append_cstr(&b, body), KH_OK);
	return b;
}

/* The text with one Base64 character in its body changed (still valid Base64). */
static struct kh_buf tamper(const struct kh_buf *text, size_t from_end)
{
	struct kh_buf b = text_of(kh_buf_cstr(text));
	size_t i = b.len - from_end;
	b.ptr[i] = b.ptr[i] == 'A' ? 'B' : 'A';
	return b;
}

static struct kh_buf decode_body(const struct kh_buf *text)
{
	const char *body = strchr(kh_buf_cstr(text) + 4, ':');
	assert_non_null(body);
	struct kh_buf raw;
	kh_buf_init(&raw, CT_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_base64_decode(kh_slice_from_cstr(body + 1), &raw), KH_OK);
	return raw;
}

/* ---- encryption ---- */

static const struct {
	enum kh_key_type type;
	enum kh_key_usage usage;
	const char *name;
} enc_types[] = {
    {KH_KEY_AES_256_GCM, 0, "aes"},
    {KH_KEY_SM4, 0, "sm4"},
    {KH_KEY_CHACHA20_POLY1305, 0, "chacha"},
    {KH_KEY_RSA_2048, KH_USAGE_ENCRYPT_DECRYPT, "rsa-enc"},
    {KH_KEY_SM2, KH_USAGE_ENCRYPT_DECRYPT, "sm2-enc"},
};

static void check_encryption(struct env *e, const struct kh_key_info *k,
                             const struct kh_key_info *twin)
{
	struct kh_slice pt = KH_SLICE_LIT("attack at dawn");
	struct kh_slice ctx = KH_SLICE_LIT("order=42");
	struct kh_buf plain, bound, again;
	assert_int_equal(enc(e, k->tag, pt, KH_SLICE_EMPTY, &plain), KH_OK);
	assert_int_equal(enc(e, k->tag, pt, ctx, &bound), KH_OK);
	assert_int_equal(enc(e, k->tag, pt, KH_SLICE_EMPTY, &again), KH_OK);
	assert_int_equal(strncmp(kh_buf_cstr(&plain), "kh:v1:", 6), 0);
	/* Not convergent: a fresh nonce (or OAEP/SM2 randomness) every time. */
	assert_false(kh_slice_eq(kh_buf_slice(&plain), kh_buf_slice(&again)));

	assert_int_equal(dec(e, k->tag, kh_buf_slice(&plain), KH_SLICE_EMPTY, pt), KH_OK);
	assert_int_equal(dec(e, k->tag, kh_buf_slice(&again), KH_SLICE_EMPTY, pt), KH_OK);
	assert_int_equal(dec(e, k->tag, kh_buf_slice(&bound), ctx, pt), KH_OK);
	/* The context must be given back exactly. */
	assert_int_equal(dec(e, k->tag, kh_buf_slice(&bound), KH_SLICE_EMPTY, pt), KH_ERR_DECRYPT);
	assert_int_equal(dec(e, k->tag, kh_buf_slice(&bound), KH_SLICE_LIT("order=43"), pt),
	                 KH_ERR_DECRYPT);
	assert_int_equal(dec(e, k->tag, kh_buf_slice(&plain), ctx, pt), KH_ERR_DECRYPT);
	/* Another key of the same type does not take it. */
	assert_int_equal(dec(e, twin->tag, kh_buf_slice(&plain), KH_SLICE_EMPTY, pt),
	                 KH_ERR_DECRYPT);
	/* A version that does not exist yet. */
	struct kh_buf v2 = relabel(&plain, 2);
	assert_int_equal(dec(e, k->tag, kh_buf_slice(&v2), KH_SLICE_EMPTY, pt), KH_ERR_DECRYPT);
	/* Altered text. */
	struct kh_buf bad = tamper(&plain, 3);
	assert_int_equal(dec(e, k->tag, kh_buf_slice(&bad), KH_SLICE_EMPTY, pt), KH_ERR_DECRYPT);
	kh_buf_cleanup(&bad);
	bad = tamper(&plain, plain.len - 8);
	assert_int_equal(dec(e, k->tag, kh_buf_slice(&bad), KH_SLICE_EMPTY, pt), KH_ERR_DECRYPT);
	/* Empty plaintext is allowed. */
	struct kh_buf empty;
	assert_int_equal(enc(e, k->tag, KH_SLICE_EMPTY, KH_SLICE_EMPTY, &empty), KH_OK);
	assert_int_equal(dec(e, k->tag, kh_buf_slice(&empty), KH_SLICE_EMPTY, KH_SLICE_EMPTY),
	                 KH_OK);
	kh_buf_cleanup(&plain);
	kh_buf_cleanup(&bound);
	kh_buf_cleanup(&again);
	kh_buf_cleanup(&v2);
	kh_buf_cleanup(&bad);
	kh_buf_cleanup(&empty);
}

static void every_encryption_type_binds_key_version_and_context(void **state)
{
	struct env *e = *state;
	for (size_t i = 0; i < COUNT_OF(enc_types); i++) {
		char name[32];
		struct kh_key_info k =
		    make(e, enc_types[i].name, enc_types[i].type, enc_types[i].usage);
		snprintf(name, sizeof(name), "%s-twin", enc_types[i].name);
		struct kh_key_info twin = make(e, name, enc_types[i].type, enc_types[i].usage);
		assert_int_equal(k.type, enc_types[i].type);
		assert_int_equal(k.usage, KH_USAGE_ENCRYPT_DECRYPT);
		check_encryption(e, &k, &twin);
	}
}

static void ciphertexts_of_one_key_are_refused_by_every_other(void **state)
{
	struct env *e = *state;
	struct kh_key_info keys[COUNT_OF(enc_types)];
	struct kh_buf ct[COUNT_OF(enc_types)];
	struct kh_slice pt = KH_SLICE_LIT("cross");
	for (size_t i = 0; i < COUNT_OF(enc_types); i++) {
		keys[i] = make(e, enc_types[i].name, enc_types[i].type, enc_types[i].usage);
		assert_int_equal(enc(e, keys[i].tag, pt, KH_SLICE_EMPTY, &ct[i]), KH_OK);
	}
	for (size_t i = 0; i < COUNT_OF(enc_types); i++) {
		for (size_t j = 0; j < COUNT_OF(enc_types); j++) {
			kh_rc want = i == j ? KH_OK : KH_ERR_DECRYPT;
			kh_rc got = dec(e, keys[j].tag, kh_buf_slice(&ct[i]), KH_SLICE_EMPTY, pt);
			if (got != want)
				fail_msg("%s text to %s: %s", enc_types[i].name, enc_types[j].name,
				         kh_rc_name(got));
		}
	}
	for (size_t i = 0; i < COUNT_OF(enc_types); i++)
		kh_buf_cleanup(&ct[i]);
}

static void a_version_label_cannot_be_moved(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = make(e, "k", KH_KEY_AES_256_GCM, 0);
	struct kh_key_info out;
	struct kh_slice pt = KH_SLICE_LIT("pinned");
	struct kh_buf ct1, ct2;
	assert_int_equal(enc(e, k.tag, pt, KH_SLICE_EMPTY, &ct1), KH_OK);
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_int_equal(enc(e, k.tag, pt, KH_SLICE_EMPTY, &ct2), KH_OK);
	struct kh_buf moved1 = relabel(&ct1, 2);
	struct kh_buf moved2 = relabel(&ct2, 1);
	assert_int_equal(dec(e, k.tag, kh_buf_slice(&moved1), KH_SLICE_EMPTY, pt), KH_ERR_DECRYPT);
	assert_int_equal(dec(e, k.tag, kh_buf_slice(&moved2), KH_SLICE_EMPTY, pt), KH_ERR_DECRYPT);
	assert_int_equal(dec(e, k.tag, kh_buf_slice(&ct1), KH_SLICE_EMPTY, pt), KH_OK);
	assert_int_equal(dec(e, k.tag, kh_buf_slice(&ct2), KH_SLICE_EMPTY, pt), KH_OK);
	kh_buf_cleanup(&ct1);
	kh_buf_cleanup(&ct2);
	kh_buf_cleanup(&moved1);
	kh_buf_cleanup(&moved2);
}

static void garbage_is_a_decryption_failure(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = make(e, "k", KH_KEY_AES_256_GCM, 0);
	struct kh_key_info r = make(e, "r", KH_KEY_SM2, KH_USAGE_ENCRYPT_DECRYPT);
	const char *garbage[] = {
	    "",
	    "garbage",
	    "kh:v1:",
	    "kh:v1:!!!!",
	    "kh:v0:AQID",
	    "kh:v01:AQID",
	    "kh:v1:AQID",
	    "kh:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "kh:v4294967296:AQID",
	    "KH:V1:AQID",
	    "kh:v1:AQID ",
	};
	for (size_t i = 0; i < COUNT_OF(garbage); i++) {
		struct kh_slice text = kh_slice_from_cstr(garbage[i]);
		int64_t seq = kh_test_keys_audit_last(e->t);
		kh_rc rc = dec(e, k.tag, text, KH_SLICE_EMPTY, KH_SLICE_EMPTY);
		if (rc != KH_ERR_DECRYPT)
			fail_msg("\"%s\": %s", garbage[i], kh_rc_name(rc));
		kh_test_keys_audit_one(e->t, seq, "key.decrypt", &e->mgr, KH_ERR_DECRYPT);
		assert_int_equal(dec(e, r.tag, text, KH_SLICE_EMPTY, KH_SLICE_EMPTY),
		                 KH_ERR_DECRYPT);
		struct kh_buf out;
		kh_buf_init(&out, CT_MAX, KH_BUF_PLAIN);
		assert_int_equal(
		    kh_keys_reencrypt(e->k, &e->mgr, k.tag, text, KH_SLICE_EMPTY, &out),
		    KH_ERR_DECRYPT);
		assert_int_equal(out.len, 0);
		kh_buf_cleanup(&out);
	}
	/* Failures count as no use. */
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, k.tag).usage_count, 0);
}

static void convergent_keys_give_equal_ciphertexts_for_equal_input(void **state)
{
	struct env *e = *state;
	const enum kh_key_type types[] = {KH_KEY_AES_256_GCM, KH_KEY_SM4, KH_KEY_CHACHA20_POLY1305};
	const char *names[] = {"aes", "sm4", "chacha"};
	for (size_t i = 0; i < COUNT_OF(types); i++) {
		struct kh_key_info k = make_convergent(e, names[i], types[i]);
		struct kh_slice ctx = KH_SLICE_LIT("tenant=7");
		struct kh_buf a, b, c, d, f;
		assert_int_equal(enc(e, k.tag, KH_SLICE_LIT("same"), ctx, &a), KH_OK);
		assert_int_equal(enc(e, k.tag, KH_SLICE_LIT("same"), ctx, &b), KH_OK);
		assert_int_equal(enc(e, k.tag, KH_SLICE_LIT("same"), KH_SLICE_LIT("tenant=8"), &c),
		                 KH_OK);
		assert_int_equal(enc(e, k.tag, KH_SLICE_LIT("sane"), ctx, &d), KH_OK);
		assert_true(kh_slice_eq(kh_buf_slice(&a), kh_buf_slice(&b)));
		assert_false(kh_slice_eq(kh_buf_slice(&a), kh_buf_slice(&c)));
		assert_false(kh_slice_eq(kh_buf_slice(&a), kh_buf_slice(&d)));
		assert_int_equal(dec(e, k.tag, kh_buf_slice(&a), ctx, KH_SLICE_LIT("same")), KH_OK);
		/* After a rotation: new version, still convergent, and re-encryption lands on
		 * the same text as a fresh encryption. */
		struct kh_key_info out;
		assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
		assert_int_equal(enc(e, k.tag, KH_SLICE_LIT("same"), ctx, &f), KH_OK);
		assert_false(kh_slice_eq(kh_buf_slice(&a), kh_buf_slice(&f)));
		struct kh_buf re;
		kh_buf_init(&re, CT_MAX, KH_BUF_PLAIN);
		assert_int_equal(
		    kh_keys_reencrypt(e->k, &e->mgr, k.tag, kh_buf_slice(&a), ctx, &re), KH_OK);
		assert_true(kh_slice_eq(kh_buf_slice(&re), kh_buf_slice(&f)));
		kh_buf_cleanup(&a);
		kh_buf_cleanup(&b);
		kh_buf_cleanup(&c);
		kh_buf_cleanup(&d);
		kh_buf_cleanup(&f);
		kh_buf_cleanup(&re);
	}
	/* Two convergent keys differ from each other. */
	struct kh_key_info x = make_convergent(e, "x", KH_KEY_AES_256_GCM);
	struct kh_key_info y = make_convergent(e, "y", KH_KEY_AES_256_GCM);
	struct kh_buf cx, cy;
	assert_int_equal(enc(e, x.tag, KH_SLICE_LIT("same"), KH_SLICE_EMPTY, &cx), KH_OK);
	assert_int_equal(enc(e, y.tag, KH_SLICE_LIT("same"), KH_SLICE_EMPTY, &cy), KH_OK);
	assert_false(kh_slice_eq(kh_buf_slice(&cx), kh_buf_slice(&cy)));
	kh_buf_cleanup(&cx);
	kh_buf_cleanup(&cy);
}

static void limits_on_plaintext_and_context(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = make(e, "k", KH_KEY_AES_256_GCM, 0);
	struct kh_key_info r = make(e, "r", KH_KEY_RSA_2048, KH_USAGE_ENCRYPT_DECRYPT);
	uint8_t *big = calloc(1, KH_LIMIT_PLAINTEXT_BYTES + 1);
	assert_non_null(big);
	memset(big, 'p', KH_LIMIT_PLAINTEXT_BYTES + 1);
	struct kh_buf ct;

	assert_int_equal(
	    enc(e, k.tag, KH_SLICE(big, KH_LIMIT_PLAINTEXT_BYTES), KH_SLICE_EMPTY, &ct), KH_OK);
	assert_int_equal(dec(e, k.tag, kh_buf_slice(&ct), KH_SLICE_EMPTY,
	                     KH_SLICE(big, KH_LIMIT_PLAINTEXT_BYTES)),
	                 KH_OK);
	kh_buf_cleanup(&ct);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(
	    enc(e, k.tag, KH_SLICE(big, KH_LIMIT_PLAINTEXT_BYTES + 1), KH_SLICE_EMPTY, &ct),
	    KH_ERR_TOO_LARGE);
	kh_test_keys_audit_one(e->t, seq, "key.encrypt", &e->mgr, KH_ERR_TOO_LARGE);
	kh_buf_cleanup(&ct);

	/* Context (AAD) up to 1 KiB. */
	assert_int_equal(
	    enc(e, k.tag, KH_SLICE_LIT("x"), KH_SLICE(big, KH_LIMIT_CONTEXT_BYTES), &ct), KH_OK);
	assert_int_equal(dec(e, k.tag, kh_buf_slice(&ct), KH_SLICE(big, KH_LIMIT_CONTEXT_BYTES),
	                     KH_SLICE_LIT("x")),
	                 KH_OK);
	kh_buf_cleanup(&ct);
	assert_int_equal(
	    enc(e, k.tag, KH_SLICE_LIT("x"), KH_SLICE(big, KH_LIMIT_CONTEXT_BYTES + 1), &ct),
	    KH_ERR_TOO_LARGE);
	kh_buf_cleanup(&ct);

	/* RSA-2048 with OAEP-SHA-256 holds 190 bytes, 16 of them the binding. */
	assert_int_equal(enc(e, r.tag, KH_SLICE(big, 174), KH_SLICE_EMPTY, &ct), KH_OK);
	assert_int_equal(dec(e, r.tag, kh_buf_slice(&ct), KH_SLICE_EMPTY, KH_SLICE(big, 174)),
	                 KH_OK);
	kh_buf_cleanup(&ct);
	assert_int_equal(enc(e, r.tag, KH_SLICE(big, 175), KH_SLICE_EMPTY, &ct), KH_ERR_TOO_LARGE);
	kh_buf_cleanup(&ct);

	/* Sign messages up to 8 KiB. */
	struct kh_key_info s = make(e, "s", KH_KEY_ECDSA_P256, 0);
	struct kh_buf sig;
	kh_buf_init(&sig, 4096, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_sign(e->k, &e->mgr, s.tag, 0, false,
	                              KH_SLICE(big, KH_LIMIT_SIGN_MESSAGE_BYTES), &sig),
	                 KH_OK);
	kh_buf_clear(&sig);
	assert_int_equal(kh_keys_sign(e->k, &e->mgr, s.tag, 0, false,
	                              KH_SLICE(big, KH_LIMIT_SIGN_MESSAGE_BYTES + 1), &sig),
	                 KH_ERR_TOO_LARGE);
	assert_int_equal(sig.len, 0);
	kh_buf_cleanup(&sig);
	free(big);
}

/* An encryption made outside keys/ with the exported public key decrypts: the PEM is the
 * key's, and the blob format is the one kh_keymat.h documents. */
static void an_outside_encryption_to_the_public_key_decrypts(void **state)
{
	struct env *e = *state;
	struct kh_key_info r = make(e, "r", KH_KEY_RSA_2048, KH_USAGE_ENCRYPT_DECRYPT);
	struct kh_buf pem, ad, msg, blob, text;
	uint32_t version = 0;
	kh_buf_init(&pem, 8192, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_public_key(e->k, &e->mgr, r.tag, 0, &version, &pem), KH_OK);
	assert_int_equal(version, 1);
	struct kh_pkey *pub = NULL;
	assert_int_equal(kh_pkey_import_public(kh_buf_slice(&pem), &pub), KH_OK);
	assert_int_equal(kh_pkey_type_of(pub), KH_PKEY_RSA_2048);
	assert_false(kh_pkey_has_private(pub));

	/* AD = "keyhold/v1/encrypt" 0 | tag | 0 | BE32(1) | BE32(len ctx) | ctx */
	static const uint8_t be1[4] = {0, 0, 0, 1};
	static const uint8_t be3[4] = {0, 0, 0, 3};
	kh_buf_init(&ad, 1024, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&ad, KH_SLICE("keyhold/v1/encrypt", 19)), KH_OK);
	assert_int_equal(kh_buf_append(&ad, KH_SLICE(r.tag, KH_KEY_TAG_LEN + 1)), KH_OK);
	assert_int_equal(kh_buf_append(&ad, KH_SLICE(be1, 4)), KH_OK);
	assert_int_equal(kh_buf_append(&ad, KH_SLICE(be3, 4)), KH_OK);
	assert_int_equal(kh_buf_append_cstr(&ad, "ctx"), KH_OK);
	uint8_t digest[32];
	assert_int_equal(kh_hash(KH_HASH_SHA256, kh_buf_slice(&ad), digest, sizeof(digest)), KH_OK);
	kh_buf_init(&msg, 1024, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&msg, KH_SLICE(digest, 16)), KH_OK);
	assert_int_equal(kh_buf_append_cstr(&msg, "from outside"), KH_OK);
	kh_buf_init(&blob, 1024, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append_byte(&blob, 0x02), KH_OK);
	assert_int_equal(kh_pkey_encrypt(pub, kh_buf_slice(&msg), &blob), KH_OK);
	text = text_of("kh:v1:");
	assert_int_equal(kh_base64_encode(kh_buf_slice(&blob), &text), KH_OK);

	assert_int_equal(
	    dec(e, r.tag, kh_buf_slice(&text), KH_SLICE_LIT("ctx"), KH_SLICE_LIT("from outside")),
	    KH_OK);
	assert_int_equal(dec(e, r.tag, kh_buf_slice(&text), KH_SLICE_LIT("cty"), KH_SLICE_EMPTY),
	                 KH_ERR_DECRYPT);
	kh_pkey_free(&pub);
	kh_buf_cleanup(&pem);
	kh_buf_cleanup(&ad);
	kh_buf_cleanup(&msg);
	kh_buf_cleanup(&blob);
	kh_buf_cleanup(&text);
}

/* ---- data keys ---- */

static void data_keys_of_128_to_512_bits_decrypt_to_their_plaintext(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = make(e, "k", KH_KEY_AES_256_GCM, 0);
	struct kh_key_info c = make(e, "c", KH_KEY_CHACHA20_POLY1305, 0);
	const unsigned ok_bits[] = {128, 136, 256, 512};
	for (size_t i = 0; i < COUNT_OF(ok_bits); i++) {
		const char *tag = i % 2 == 0 ? k.tag : c.tag;
		struct kh_buf pt, ct, pt2, ct2;
		kh_buf_init(&pt, 64, KH_BUF_SECURE);
		kh_buf_init(&ct, CT_MAX, KH_BUF_PLAIN);
		kh_buf_init(&pt2, 64, KH_BUF_SECURE);
		kh_buf_init(&ct2, CT_MAX, KH_BUF_PLAIN);
		int64_t seq = kh_test_keys_audit_last(e->t);
		assert_int_equal(kh_keys_data_key(e->k, &e->mgr, tag, ok_bits[i],
		                                  KH_SLICE_LIT("file=a"), &pt, &ct),
		                 KH_OK);
		kh_test_keys_audit_one(e->t, seq, "key.data_key", &e->mgr, KH_OK);
		assert_int_equal(pt.len, ok_bits[i] / 8);
		assert_int_equal(strncmp(kh_buf_cstr(&ct), "kh:v1:", 6), 0);
		assert_int_equal(
		    dec(e, tag, kh_buf_slice(&ct), KH_SLICE_LIT("file=a"), kh_buf_slice(&pt)),
		    KH_OK);
		assert_int_equal(
		    dec(e, tag, kh_buf_slice(&ct), KH_SLICE_LIT("file=b"), kh_buf_slice(&pt)),
		    KH_ERR_DECRYPT);
		/* Every data key is new. */
		assert_int_equal(kh_keys_data_key(e->k, &e->mgr, tag, ok_bits[i],
		                                  KH_SLICE_LIT("file=a"), &pt2, &ct2),
		                 KH_OK);
		assert_false(kh_slice_eq(kh_buf_slice(&pt), kh_buf_slice(&pt2)));
		kh_buf_cleanup(&pt);
		kh_buf_cleanup(&ct);
		kh_buf_cleanup(&pt2);
		kh_buf_cleanup(&ct2);
	}
	/* Without the plaintext: only the sealed key comes back. */
	struct kh_buf ct;
	kh_buf_init(&ct, CT_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_data_key(e->k, &e->mgr, k.tag, 256, KH_SLICE_EMPTY, NULL, &ct),
	                 KH_OK);
	struct kh_buf out;
	kh_buf_init(&out, 64, KH_BUF_SECURE);
	assert_int_equal(
	    kh_keys_decrypt(e->k, &e->mgr, k.tag, kh_buf_slice(&ct), KH_SLICE_EMPTY, &out), KH_OK);
	assert_int_equal(out.len, 32);
	kh_buf_cleanup(&out);
	kh_buf_cleanup(&ct);
}

static void data_keys_refuse_bad_sizes_and_keys_that_are_not_symmetric(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = make(e, "k", KH_KEY_AES_256_GCM, 0);
	struct kh_key_info rsa = make(e, "rsa", KH_KEY_RSA_2048, KH_USAGE_ENCRYPT_DECRYPT);
	struct kh_key_info sm2 = make(e, "sm2", KH_KEY_SM2, KH_USAGE_ENCRYPT_DECRYPT);
	struct kh_key_info ec = make(e, "ec", KH_KEY_ECDSA_P256, 0);
	struct kh_key_info mac = make(e, "mac", KH_KEY_HMAC_SHA256, 0);
	const unsigned bad_bits[] = {0, 8, 100, 120, 129, 255, 520, 1024, 4096};
	struct kh_buf pt, ct;
	kh_buf_init(&pt, 1024, KH_BUF_SECURE);
	kh_buf_init(&ct, CT_MAX, KH_BUF_PLAIN);
	for (size_t i = 0; i < COUNT_OF(bad_bits); i++) {
		int64_t seq = kh_test_keys_audit_last(e->t);
		kh_rc rc =
		    kh_keys_data_key(e->k, &e->mgr, k.tag, bad_bits[i], KH_SLICE_EMPTY, &pt, &ct);
		if (rc != KH_ERR_BAD_INPUT)
			fail_msg("%u bits: %s", bad_bits[i], kh_rc_name(rc));
		kh_test_keys_audit_one(e->t, seq, "key.data_key", &e->mgr, KH_ERR_BAD_INPUT);
		assert_int_equal(pt.len, 0);
		assert_int_equal(ct.len, 0);
	}
	const char *not_symmetric[] = {rsa.tag, sm2.tag, ec.tag, mac.tag};
	for (size_t i = 0; i < COUNT_OF(not_symmetric); i++) {
		assert_int_equal(kh_keys_data_key(e->k, &e->mgr, not_symmetric[i], 256,
		                                  KH_SLICE_EMPTY, &pt, &ct),
		                 KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(pt.len, 0);
		assert_int_equal(ct.len, 0);
	}
	/* The data key goes to secure memory only. */
	struct kh_buf plain;
	kh_buf_init(&plain, 64, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_data_key(e->k, &e->mgr, k.tag, 256, KH_SLICE_EMPTY, &plain, &ct),
	                 KH_ERR_INTERNAL);
	assert_int_equal(plain.len, 0);
	assert_int_equal(ct.len, 0);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, k.tag).usage_count, 0);
	kh_buf_cleanup(&plain);
	kh_buf_cleanup(&pt);
	kh_buf_cleanup(&ct);
}

/* ---- re-encryption ---- */

static void reencryption_moves_a_ciphertext_to_the_current_version(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = make(e, "k", KH_KEY_SM4, 0);
	struct kh_key_info r = make(e, "r", KH_KEY_SM2, KH_USAGE_ENCRYPT_DECRYPT);
	struct kh_key_info out;
	struct kh_slice ctx = KH_SLICE_LIT("row=9");
	struct kh_slice pt = KH_SLICE_LIT("payload");
	const char *tags[] = {k.tag, r.tag};
	for (size_t i = 0; i < COUNT_OF(tags); i++) {
		struct kh_buf ct1, re, re2;
		assert_int_equal(enc(e, tags[i], pt, ctx, &ct1), KH_OK);
		assert_int_equal(kh_keys_rotate(e->k, &e->mgr, tags[i], &out), KH_OK);
		assert_int_equal(kh_keys_rotate(e->k, &e->mgr, tags[i], &out), KH_OK);
		kh_buf_init(&re, CT_MAX, KH_BUF_PLAIN);
		int64_t seq = kh_test_keys_audit_last(e->t);
		assert_int_equal(
		    kh_keys_reencrypt(e->k, &e->mgr, tags[i], kh_buf_slice(&ct1), ctx, &re), KH_OK);
		kh_test_keys_audit_one(e->t, seq, "key.reencrypt", &e->mgr, KH_OK);
		assert_int_equal(strncmp(kh_buf_cstr(&re), "kh:v3:", 6), 0);
		assert_int_equal(dec(e, tags[i], kh_buf_slice(&re), ctx, pt), KH_OK);
		/* The context stays bound. */
		assert_int_equal(dec(e, tags[i], kh_buf_slice(&re), KH_SLICE_EMPTY, pt),
		                 KH_ERR_DECRYPT);
		kh_buf_init(&re2, CT_MAX, KH_BUF_PLAIN);
		assert_int_equal(kh_keys_reencrypt(e->k, &e->mgr, tags[i], kh_buf_slice(&ct1),
		                                   KH_SLICE_LIT("row=8"), &re2),
		                 KH_ERR_DECRYPT);
		assert_int_equal(re2.len, 0);
		/* Re-encrypting the current version's text works too. */
		assert_int_equal(
		    kh_keys_reencrypt(e->k, &e->mgr, tags[i], kh_buf_slice(&re), ctx, &re2), KH_OK);
		assert_int_equal(strncmp(kh_buf_cstr(&re2), "kh:v3:", 6), 0);
		kh_buf_cleanup(&ct1);
		kh_buf_cleanup(&re);
		kh_buf_cleanup(&re2);
	}
}

/* ---- signatures ---- */

static const struct {
	enum kh_key_type type;
	const char *name;
	enum kh_pkey_type pkey;
	enum kh_hash digest; /* 0: no digest mode */
} sig_types[] = {
    {KH_KEY_RSA_2048, "rsa-2048", KH_PKEY_RSA_2048, KH_HASH_SHA256},
    {KH_KEY_RSA_3072, "rsa-3072", KH_PKEY_RSA_3072, KH_HASH_SHA256},
    {KH_KEY_RSA_4096, "rsa-4096", KH_PKEY_RSA_4096, KH_HASH_SHA256},
    {KH_KEY_ECDSA_P256, "p256", KH_PKEY_EC_P256, KH_HASH_SHA256},
    {KH_KEY_ECDSA_P384, "p384", KH_PKEY_EC_P384, KH_HASH_SHA384},
    {KH_KEY_ED25519, "ed25519", KH_PKEY_ED25519, 0},
    {KH_KEY_SM2, "sm2", KH_PKEY_SM2, 0},
};

static kh_rc verify(struct env *e, const char *tag, int alg, bool is_digest, struct kh_slice msg,
                    const struct kh_buf *sig, bool *valid)
{
	return kh_keys_verify(e->k, &e->mgr, tag, alg, is_digest, msg, kh_buf_slice(sig), valid);
}

static void check_signing(struct env *e, size_t i, const struct kh_key_info *k,
                          const struct kh_key_info *twin)
{
	struct kh_slice msg = KH_SLICE_LIT("pay 100 to bob");
	struct kh_buf sig, pem;
	bool valid = false;
	kh_buf_init(&sig, 4096, KH_BUF_PLAIN);
	kh_buf_init(&pem, 8192, KH_BUF_PLAIN);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_sign(e->k, &e->mgr, k->tag, 0, false, msg, &sig), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.sign", &e->mgr, KH_OK);
	assert_int_equal(strncmp(kh_buf_cstr(&sig), "kh:v1:", 6), 0);
	assert_int_equal(verify(e, k->tag, 0, false, msg, &sig, &valid), KH_OK);
	assert_true(valid);
	valid = true;
	assert_int_equal(verify(e, k->tag, 0, false, KH_SLICE_LIT("pay 900 to bob"), &sig, &valid),
	                 KH_OK);
	assert_false(valid);
	struct kh_buf bad = tamper(&sig, 6);
	valid = true;
	assert_int_equal(verify(e, k->tag, 0, false, msg, &bad, &valid), KH_OK);
	assert_false(valid);
	kh_buf_cleanup(&bad);
	bad = relabel(&sig, 9); /* no such version: simply not valid */
	valid = true;
	assert_int_equal(verify(e, k->tag, 0, false, msg, &bad, &valid), KH_OK);
	assert_false(valid);
	kh_buf_cleanup(&bad);
	bad = text_of("not a signature");
	valid = true;
	assert_int_equal(verify(e, k->tag, 0, false, msg, &bad, &valid), KH_OK);
	assert_false(valid);
	kh_buf_cleanup(&bad);
	valid = true;
	assert_int_equal(verify(e, twin->tag, 0, false, msg, &sig, &valid), KH_OK);
	assert_false(valid);

	/* Checked outside keys/ with the exported public key. */
	uint32_t version = 0;
	struct kh_pkey *pub = NULL;
	assert_int_equal(kh_keys_public_key(e->k, &e->mgr, k->tag, 0, &version, &pem), KH_OK);
	assert_int_equal(version, 1);
	assert_int_equal(strncmp(kh_buf_cstr(&pem), "-----BEGIN PUBLIC KEY-----\n", 27), 0);
	assert_non_null(strstr(kh_buf_cstr(&pem), "-----END PUBLIC KEY-----"));
	assert_int_equal(kh_pkey_import_public(kh_buf_slice(&pem), &pub), KH_OK);
	assert_int_equal(kh_pkey_type_of(pub), sig_types[i].pkey);
	struct kh_buf raw = decode_body(&sig);
	assert_int_equal(raw.ptr[0], 0x01);
	assert_int_equal(kh_pkey_verify(pub, kh_sig_default(sig_types[i].pkey), msg, KH_SLICE_EMPTY,
	                                KH_SLICE(raw.ptr + 1, raw.len - 1)),
	                 KH_OK);

	/* Digest mode, where the type has one: a digest signature verifies as the message. */
	kh_buf_clear(&sig);
	if (sig_types[i].digest != 0) {
		uint8_t d[KH_HASH_MAX_LEN];
		size_t dlen = kh_hash_len(sig_types[i].digest);
		assert_int_equal(kh_hash(sig_types[i].digest, msg, d, sizeof(d)), KH_OK);
		assert_int_equal(
		    kh_keys_sign(e->k, &e->mgr, k->tag, 0, true, KH_SLICE(d, dlen), &sig), KH_OK);
		valid = false;
		assert_int_equal(verify(e, k->tag, 0, false, msg, &sig, &valid), KH_OK);
		assert_true(valid);
		valid = false;
		assert_int_equal(verify(e, k->tag, 0, true, KH_SLICE(d, dlen), &sig, &valid),
		                 KH_OK);
		assert_true(valid);
	} else if (sig_types[i].type == KH_KEY_ED25519) {
		static const uint8_t d[32];
		assert_int_equal(
		    kh_keys_sign(e->k, &e->mgr, k->tag, 0, true, KH_SLICE(d, 32), &sig),
		    KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(sig.len, 0);
	}
	kh_pkey_free(&pub);
	kh_buf_cleanup(&raw);
	kh_buf_cleanup(&sig);
	kh_buf_cleanup(&pem);
}

static void every_signing_type_signs_and_verifies(void **state)
{
	struct env *e = *state;
	for (size_t i = 0; i < COUNT_OF(sig_types); i++) {
		char name[32];
		struct kh_key_info k = make(e, sig_types[i].name, sig_types[i].type, 0);
		assert_int_equal(k.usage, KH_USAGE_SIGN_VERIFY);
		/* The twin is of the same type, but for the big RSA types (slow to make). */
		enum kh_key_type twin_type =
		    sig_types[i].type == KH_KEY_RSA_3072 || sig_types[i].type == KH_KEY_RSA_4096
		        ? KH_KEY_ECDSA_P256
		        : sig_types[i].type;
		snprintf(name, sizeof(name), "%s-twin", sig_types[i].name);
		struct kh_key_info twin = make(e, name, twin_type, 0);
		check_signing(e, i, &k, &twin);
	}
}

static void rsa_signs_with_pss_by_default_and_pkcs1_on_request(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = make(e, "k", KH_KEY_RSA_2048, 0);
	struct kh_key_info ec = make(e, "ec", KH_KEY_ECDSA_P256, 0);
	struct kh_slice msg = KH_SLICE_LIT("m");
	struct kh_buf pss, pkcs1;
	bool valid = false;
	kh_buf_init(&pss, 4096, KH_BUF_PLAIN);
	kh_buf_init(&pkcs1, 4096, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_sign(e->k, &e->mgr, k.tag, 0, false, msg, &pss), KH_OK);
	assert_int_equal(
	    kh_keys_sign(e->k, &e->mgr, k.tag, KH_SIG_RSA_PKCS1_SHA256, false, msg, &pkcs1), KH_OK);
	assert_int_equal(verify(e, k.tag, KH_SIG_RSA_PKCS1_SHA256, false, msg, &pkcs1, &valid),
	                 KH_OK);
	assert_true(valid);
	assert_int_equal(verify(e, k.tag, KH_SIG_RSA_PSS_SHA256, false, msg, &pss, &valid), KH_OK);
	assert_true(valid);
	valid = true;
	assert_int_equal(verify(e, k.tag, 0, false, msg, &pkcs1, &valid), KH_OK);
	assert_false(valid);
	/* PKCS#1 v1.5 is deterministic. */
	struct kh_buf again;
	kh_buf_init(&again, 4096, KH_BUF_PLAIN);
	assert_int_equal(
	    kh_keys_sign(e->k, &e->mgr, k.tag, KH_SIG_RSA_PKCS1_SHA256, false, msg, &again), KH_OK);
	assert_true(kh_slice_eq(kh_buf_slice(&pkcs1), kh_buf_slice(&again)));
	kh_buf_clear(&again);
	/* Algorithms the key does not do. */
	assert_int_equal(
	    kh_keys_sign(e->k, &e->mgr, k.tag, KH_SIG_ECDSA_SHA256, false, msg, &again),
	    KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(
	    kh_keys_sign(e->k, &e->mgr, ec.tag, KH_SIG_RSA_PKCS1_SHA256, false, msg, &again),
	    KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(
	    kh_keys_sign(e->k, &e->mgr, ec.tag, KH_SIG_ECDSA_SHA384, false, msg, &again),
	    KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(kh_keys_sign(e->k, &e->mgr, k.tag, 99, false, msg, &again),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keys_sign(e->k, &e->mgr, k.tag, -1, false, msg, &again),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(again.len, 0);
	kh_buf_cleanup(&pss);
	kh_buf_cleanup(&pkcs1);
	kh_buf_cleanup(&again);
}

/* ---- MACs ---- */

static void macs_are_deterministic_and_verify(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = make(e, "k", KH_KEY_HMAC_SHA256, 0);
	struct kh_key_info other = make(e, "other", KH_KEY_HMAC_SHA256, 0);
	assert_int_equal(k.usage, KH_USAGE_MAC);
	struct kh_slice msg = KH_SLICE_LIT("amount=100");
	struct kh_buf mac, again;
	bool valid = false;
	kh_buf_init(&mac, 4096, KH_BUF_PLAIN);
	kh_buf_init(&again, 4096, KH_BUF_PLAIN);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_mac(e->k, &e->mgr, k.tag, msg, &mac), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.mac", &e->mgr, KH_OK);
	assert_int_equal(strncmp(kh_buf_cstr(&mac), "kh:v1:", 6), 0);
	struct kh_buf raw = decode_body(&mac);
	assert_int_equal(raw.len, 33);
	assert_int_equal(raw.ptr[0], 0x01);
	kh_buf_cleanup(&raw);
	assert_int_equal(kh_keys_mac(e->k, &e->mgr, k.tag, msg, &again), KH_OK);
	assert_true(kh_slice_eq(kh_buf_slice(&mac), kh_buf_slice(&again)));

	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_verify_mac(e->k, &e->mgr, k.tag, msg, kh_buf_slice(&mac), &valid),
	                 KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.verify_mac", &e->mgr, KH_OK);
	assert_true(valid);
	assert_int_equal(kh_keys_verify_mac(e->k, &e->mgr, k.tag, KH_SLICE_LIT("amount=900"),
	                                    kh_buf_slice(&mac), &valid),
	                 KH_OK);
	assert_false(valid);
	struct kh_buf bad = tamper(&mac, 4);
	valid = true;
	assert_int_equal(kh_keys_verify_mac(e->k, &e->mgr, k.tag, msg, kh_buf_slice(&bad), &valid),
	                 KH_OK);
	assert_false(valid);
	kh_buf_cleanup(&bad);
	valid = true;
	assert_int_equal(
	    kh_keys_verify_mac(e->k, &e->mgr, k.tag, msg, KH_SLICE_LIT("junk"), &valid), KH_OK);
	assert_false(valid);
	valid = true;
	assert_int_equal(
	    kh_keys_verify_mac(e->k, &e->mgr, other.tag, msg, kh_buf_slice(&mac), &valid), KH_OK);
	assert_false(valid);
	kh_buf_cleanup(&mac);
	kh_buf_cleanup(&again);
}

/* ---- usages ---- */

static void operations_of_another_usage_are_the_wrong_key_type(void **state)
{
	struct env *e = *state;
	struct kh_key_info aes = make(e, "aes", KH_KEY_AES_256_GCM, 0);
	struct kh_key_info rsa_sig = make(e, "rsa-sig", KH_KEY_RSA_2048, 0);
	struct kh_key_info rsa_enc = make(e, "rsa-enc", KH_KEY_RSA_2048, KH_USAGE_ENCRYPT_DECRYPT);
	struct kh_key_info ec = make(e, "ec", KH_KEY_ECDSA_P256, 0);
	struct kh_key_info mac = make(e, "mac", KH_KEY_HMAC_SHA256, 0);
	struct kh_slice m = KH_SLICE_LIT("m");
	struct kh_slice text = KH_SLICE_LIT("kh:v1:AQID");
	struct kh_buf out, sec;
	bool valid = true;
	uint32_t version = 0;
	kh_buf_init(&out, CT_MAX, KH_BUF_PLAIN);
	kh_buf_init(&sec, CT_MAX, KH_BUF_SECURE);

	const char *not_enc[] = {rsa_sig.tag, ec.tag, mac.tag};
	for (size_t i = 0; i < COUNT_OF(not_enc); i++) {
		const char *t = not_enc[i];
		int64_t seq = kh_test_keys_audit_last(e->t);
		assert_int_equal(kh_keys_encrypt(e->k, &e->mgr, t, m, KH_SLICE_EMPTY, &out),
		                 KH_ERR_WRONG_KEY_TYPE);
		kh_test_keys_audit_one(e->t, seq, "key.encrypt", &e->mgr, KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_keys_decrypt(e->k, &e->mgr, t, text, KH_SLICE_EMPTY, &sec),
		                 KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_keys_reencrypt(e->k, &e->mgr, t, text, KH_SLICE_EMPTY, &out),
		                 KH_ERR_WRONG_KEY_TYPE);
	}
	const char *not_sig[] = {aes.tag, rsa_enc.tag, mac.tag};
	for (size_t i = 0; i < COUNT_OF(not_sig); i++) {
		const char *t = not_sig[i];
		assert_int_equal(kh_keys_sign(e->k, &e->mgr, t, 0, false, m, &out),
		                 KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_keys_verify(e->k, &e->mgr, t, 0, false, m, text, &valid),
		                 KH_ERR_WRONG_KEY_TYPE);
	}
	const char *not_mac[] = {aes.tag, rsa_sig.tag, ec.tag};
	for (size_t i = 0; i < COUNT_OF(not_mac); i++) {
		const char *t = not_mac[i];
		assert_int_equal(kh_keys_mac(e->k, &e->mgr, t, m, &out), KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_keys_verify_mac(e->k, &e->mgr, t, m, text, &valid),
		                 KH_ERR_WRONG_KEY_TYPE);
	}
	/* Public keys exist for asymmetric keys only (of either usage). */
	assert_int_equal(kh_keys_public_key(e->k, &e->mgr, aes.tag, 0, &version, &out),
	                 KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(kh_keys_public_key(e->k, &e->mgr, mac.tag, 0, &version, &out),
	                 KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(version, 0);
	assert_true(valid);
	assert_int_equal(out.len, 0);
	assert_int_equal(sec.len, 0);
	assert_int_equal(kh_keys_public_key(e->k, &e->mgr, rsa_enc.tag, 0, &version, &out), KH_OK);
	assert_int_equal(version, 1);
	for (size_t i = 0; i < 5; i++) {
		const char *tags[] = {aes.tag, rsa_sig.tag, rsa_enc.tag, ec.tag, mac.tag};
		assert_int_equal(kh_test_keys_get(e->t, &e->mgr, tags[i]).usage_count,
		                 tags[i] == rsa_enc.tag ? 1 : 0);
	}
	kh_buf_cleanup(&out);
	kh_buf_cleanup(&sec);
}

/* ---- usage records ---- */

static void usage_count_and_last_use_grow_on_success_only(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = make(e, "k", KH_KEY_AES_256_GCM, 0);
	struct kh_key_info s = make(e, "s", KH_KEY_ED25519, 0);
	struct kh_principal reviewer = kh_test_keys_user(e->t, e->ks, "rev");
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &reviewer, KH_ROLE_REVIEWER);
	struct kh_key_info g = kh_test_keys_get(e->t, &e->mgr, k.tag);
	assert_int_equal(g.usage_count, 0);
	assert_int_equal(g.last_used_at, 0);

	kh_test_keys_advance(e->t, KH_NS_PER_SEC);
	int64_t t1 = kh_test_keys_now(e->t);
	struct kh_buf ct;
	assert_int_equal(enc(e, k.tag, KH_SLICE_LIT("x"), KH_SLICE_LIT("c"), &ct), KH_OK);
	g = kh_test_keys_get(e->t, &e->mgr, k.tag);
	assert_int_equal(g.usage_count, 1);
	assert_int_equal(g.last_used_at, t1);

	/* Failures of every kind leave both alone. */
	kh_test_keys_advance(e->t, KH_NS_PER_SEC);
	assert_int_equal(dec(e, k.tag, kh_buf_slice(&ct), KH_SLICE_LIT("d"), KH_SLICE_EMPTY),
	                 KH_ERR_DECRYPT);
	struct kh_buf out;
	kh_buf_init(&out, CT_MAX, KH_BUF_PLAIN);
	assert_int_equal(
	    kh_keys_encrypt(e->k, &reviewer, k.tag, KH_SLICE_LIT("x"), KH_SLICE_EMPTY, &out),
	    KH_ERR_FORBIDDEN);
	assert_int_equal(kh_keys_sign(e->k, &e->mgr, k.tag, 0, false, KH_SLICE_LIT("x"), &out),
	                 KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(kh_keys_data_key(e->k, &e->mgr, k.tag, 7, KH_SLICE_EMPTY, NULL, &out),
	                 KH_ERR_BAD_INPUT);
	struct kh_key_info tmp;
	struct kh_buf none;
	assert_int_equal(kh_keys_disable(e->k, &e->mgr, k.tag, &tmp), KH_OK);
	assert_int_equal(enc(e, k.tag, KH_SLICE_LIT("x"), KH_SLICE_EMPTY, &none),
	                 KH_ERR_KEY_DISABLED);
	kh_buf_cleanup(&none);
	assert_int_equal(kh_keys_enable(e->k, &e->mgr, k.tag, &tmp), KH_OK);
	g = kh_test_keys_get(e->t, &e->mgr, k.tag);
	assert_int_equal(g.usage_count, 1);
	assert_int_equal(g.last_used_at, t1);

	kh_test_keys_advance(e->t, KH_NS_PER_SEC);
	int64_t t3 = kh_test_keys_now(e->t);
	assert_int_equal(dec(e, k.tag, kh_buf_slice(&ct), KH_SLICE_LIT("c"), KH_SLICE_LIT("x")),
	                 KH_OK);
	g = kh_test_keys_get(e->t, &e->mgr, k.tag);
	assert_int_equal(g.usage_count, 2);
	assert_int_equal(g.last_used_at, t3);

	/* A verification that ran is a use, whatever it found. */
	struct kh_buf sig;
	bool valid = true;
	kh_buf_init(&sig, 4096, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_sign(e->k, &e->mgr, s.tag, 0, false, KH_SLICE_LIT("a"), &sig),
	                 KH_OK);
	assert_int_equal(kh_keys_verify(e->k, &e->mgr, s.tag, 0, false, KH_SLICE_LIT("b"),
	                                kh_buf_slice(&sig), &valid),
	                 KH_OK);
	assert_false(valid);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, s.tag).usage_count, 2);
	/* Other keys are not touched. */
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, k.tag).usage_count, 2);
	kh_buf_cleanup(&ct);
	kh_buf_cleanup(&out);
	kh_buf_cleanup(&sig);
}

static const struct kh_store_query q_usage_rows = {
    "test.usage_rows", "SELECT COUNT(*) FROM usage_history WHERE key_id = ?"};

static kh_rc count_fn(const struct kh_audit_usage_record *r, void *arg)
{
	(void)r;
	(void)arg;
	return KH_OK;
}

static void history_keeps_the_latest_100_newest_first(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = make(e, "k", KH_KEY_AES_256_GCM, 0);
	struct kh_buf ct;
	assert_int_equal(enc(e, k.tag, KH_SLICE_LIT("h"), KH_SLICE_EMPTY, &ct), KH_OK);
	/* 105 uses in all: the first encryption, then decryptions and failed decryptions. */
	for (int i = 1; i < 105; i++) {
		struct kh_slice ctx = i % 10 == 0 ? KH_SLICE_LIT("wrong") : KH_SLICE_EMPTY;
		kh_rc want = i % 10 == 0 ? KH_ERR_DECRYPT : KH_OK;
		assert_int_equal(dec(e, k.tag, kh_buf_slice(&ct), ctx, KH_SLICE_LIT("h")), want);
	}
	struct kh_store_val id[] = {KH_SV_INT(k.id)};
	assert_int_equal(kh_test_keys_sql_int(e->t, &q_usage_rows, id, 1), 100);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, k.tag).usage_count, 105 - 10);

	int64_t ids[101];
	char ops[101][32];
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_test_keys_history(e->t, &e->mgr, k.tag, 100, ids, ops, 101), 100);
	kh_test_keys_audit_one(e->t, seq, "key.history", &e->mgr, KH_OK);
	for (size_t i = 0; i < 100; i++) {
		assert_string_equal(ops[i], "decrypt"); /* the encryption fell off the end */
		if (i > 0)
			assert_true(ids[i] < ids[i - 1]);
	}
	/* A smaller limit gives the newest. */
	int64_t top[5];
	assert_int_equal(kh_test_keys_history(e->t, &e->mgr, k.tag, 5, top, NULL, 5), 5);
	assert_memory_equal(top, ids, sizeof(top));
	/* Limits are 1..100. */
	assert_int_equal(kh_keys_history(e->k, &e->mgr, k.tag, 0, count_fn, NULL),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keys_history(e->k, &e->mgr, k.tag, 101, count_fn, NULL),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keys_history(e->k, &e->mgr, k.tag, 100, NULL, NULL), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_test_keys_history(e->t, &e->mgr, k.tag, 1, top, NULL, 1), 1);
	assert_int_equal(top[0], ids[0]);
	kh_buf_cleanup(&ct);
}

struct result_acc {
	char result[4][48];
	char principal[4][48];
	uint32_t version[4];
	size_t n;
};

static kh_rc result_fn(const struct kh_audit_usage_record *r, void *arg)
{
	struct result_acc *a = arg;
	if (a->n < 4) {
		snprintf(a->result[a->n], sizeof(a->result[a->n]), "%s", r->u.result);
		snprintf(a->principal[a->n], sizeof(a->principal[a->n]), "%s", r->u.principal);
		a->version[a->n] = r->u.version;
	}
	a->n++;
	return KH_OK;
}

static void history_records_who_which_version_and_the_result(void **state)
{
	struct env *e = *state;
	struct kh_key_info k = make(e, "k", KH_KEY_AES_256_GCM, 0);
	struct kh_key_info out;
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &e->user, KH_ROLE_ENCRYPTOR);
	struct kh_buf ct = kh_test_keys_encrypt(e->t, &e->user, k.tag, "v1");
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &out), KH_OK);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->user, k.tag, kh_buf_slice(&ct), NULL),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, k.tag, kh_buf_slice(&ct), "v1"),
	                 KH_OK);
	struct result_acc a = {0};
	assert_int_equal(kh_keys_history(e->k, &e->mgr, k.tag, 10, result_fn, &a), KH_OK);
	assert_int_equal(a.n, 3);
	char who[48];
	snprintf(who, sizeof(who), "account:%lld", (long long)e->mgr.account_id);
	assert_string_equal(a.principal[0], who);
	assert_string_equal(a.result[0], "ok");
	assert_int_equal(a.version[0], 1);
	snprintf(who, sizeof(who), "account:%lld", (long long)e->user.account_id);
	assert_string_equal(a.principal[1], who);
	assert_string_equal(a.result[1], "KH_ERR_FORBIDDEN");
	assert_string_equal(a.principal[2], who);
	assert_string_equal(a.result[2], "ok");
	assert_int_equal(a.version[2], 1);
	kh_buf_cleanup(&ct);
}

/* ---- seal ---- */

struct sealed_keys {
	struct kh_key_info aes, ec, mac;
	struct kh_buf ct, sig, tag;
};

/* Every operation, with inputs that would succeed when unsealed; returns how many did not
 * answer KH_ERR_SEALED (and checks nothing came out). */
static int count_not_sealed(struct env *e, struct sealed_keys *s)
{
	int bad = 0;
	struct kh_buf out, sec;
	struct kh_key_info info;
	bool valid = false;
	uint32_t version = 0;
	size_t n = 0;
	struct kh_slice m = KH_SLICE_LIT("m");
	kh_buf_init(&out, CT_MAX, KH_BUF_PLAIN);
	kh_buf_init(&sec, CT_MAX, KH_BUF_SECURE);
	kh_rc rcs[16];
	size_t count = 0;
	rcs[count++] = kh_keys_encrypt(e->k, &e->mgr, s->aes.tag, m, KH_SLICE_EMPTY, &out);
	rcs[count++] =
	    kh_keys_decrypt(e->k, &e->mgr, s->aes.tag, kh_buf_slice(&s->ct), KH_SLICE_EMPTY, &sec);
	rcs[count++] = kh_keys_data_key(e->k, &e->mgr, s->aes.tag, 256, KH_SLICE_EMPTY, &sec, &out);
	rcs[count++] = kh_keys_reencrypt(e->k, &e->mgr, s->aes.tag, kh_buf_slice(&s->ct),
	                                 KH_SLICE_EMPTY, &out);
	rcs[count++] = kh_keys_sign(e->k, &e->mgr, s->ec.tag, 0, false, m, &out);
	rcs[count++] =
	    kh_keys_verify(e->k, &e->mgr, s->ec.tag, 0, false, m, kh_buf_slice(&s->sig), &valid);
	rcs[count++] =
	    kh_keys_verify(e->k, &e->mgr, s->ec.tag, 0, false, m, KH_SLICE_LIT("junk"), &valid);
	rcs[count++] = kh_keys_mac(e->k, &e->mgr, s->mac.tag, m, &out);
	rcs[count++] =
	    kh_keys_verify_mac(e->k, &e->mgr, s->mac.tag, m, kh_buf_slice(&s->tag), &valid);
	rcs[count++] = kh_keys_public_key(e->k, &e->mgr, s->ec.tag, 0, &version, &out);
	rcs[count++] = kh_keys_get(e->k, &e->mgr, s->aes.tag, &info);
	rcs[count++] = kh_keys_rotate(e->k, &e->mgr, s->aes.tag, &info);
	rcs[count++] = kh_keys_disable(e->k, &e->mgr, s->aes.tag, &info);
	rcs[count++] = kh_keys_rotate_due(e->k, 10, &n);
	for (size_t i = 0; i < count; i++) {
		if (rcs[i] != KH_ERR_SEALED) {
			print_error("operation %zu while sealed: %s\n", i, kh_rc_name(rcs[i]));
			bad++;
		}
	}
	if (out.len != 0 || sec.len != 0 || valid || version != 0) {
		print_error("output while sealed\n");
		bad++;
	}
	kh_buf_cleanup(&out);
	kh_buf_cleanup(&sec);
	return bad;
}

static void a_sealed_barrier_stops_every_operation_and_empties_the_cache(void **state)
{
	struct env *e = *state;
	struct sealed_keys s;
	s.aes = make(e, "aes", KH_KEY_AES_256_GCM, 0);
	s.ec = make(e, "ec", KH_KEY_ECDSA_P256, 0);
	s.mac = make(e, "mac", KH_KEY_HMAC_SHA256, 0);
	s.ct = kh_test_keys_encrypt(e->t, &e->mgr, s.aes.tag, "before");
	kh_buf_init(&s.sig, 4096, KH_BUF_PLAIN);
	kh_buf_init(&s.tag, 4096, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_sign(e->k, &e->mgr, s.ec.tag, 0, false, KH_SLICE_LIT("m"), &s.sig),
	                 KH_OK);
	assert_int_equal(kh_keys_mac(e->k, &e->mgr, s.mac.tag, KH_SLICE_LIT("m"), &s.tag), KH_OK);
	assert_int_equal(kh_keys_cache_size(e->k), 3);

	assert_int_equal(kh_barrier_seal(e->t->barrier), KH_OK);
	assert_int_equal(kh_keys_cache_size(e->k), 0);
	int64_t seq = kh_test_keys_audit_last(e->t);
	struct kh_key_create req = {.name = "new", .rotation_period_days = -1};
	struct kh_key_info info;
	assert_int_equal(kh_keys_create(e->k, &e->mgr, &req, &info), KH_ERR_SEALED);
	/* Even with the rotation due, the scheduler cannot work. */
	kh_test_keys_advance(e->t, 90 * KH_NS_PER_DAY);
	assert_int_equal(count_not_sealed(e, &s), 0);
	assert_int_equal(kh_keys_cache_size(e->k), 0);
	/* Nothing was recorded either (the audit needs the barrier too). */
	assert_int_equal(kh_test_keys_audit_last(e->t), seq);

	kh_test_keys_unseal(e->t);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, s.aes.tag).current_version, 1);
	assert_int_equal(kh_test_keys_get(e->t, &e->mgr, s.aes.tag).state, KH_KEY_ENABLED);
	assert_int_equal(
	    kh_test_keys_decrypt(e->t, &e->mgr, s.aes.tag, kh_buf_slice(&s.ct), "before"), KH_OK);
	bool valid = false;
	assert_int_equal(kh_keys_verify(e->k, &e->mgr, s.ec.tag, 0, false, KH_SLICE_LIT("m"),
	                                kh_buf_slice(&s.sig), &valid),
	                 KH_OK);
	assert_true(valid);
	size_t n = 0;
	assert_int_equal(kh_keys_rotate_due(e->k, 10, &n), KH_OK);
	assert_int_equal(n, 3);
	assert_int_equal(kh_keys_create(e->k, &e->mgr, &req, &info), KH_OK);
	/* Sealing twice, and after a reseal the cache empties again. */
	assert_int_equal(kh_barrier_seal(e->t->barrier), KH_OK);
	assert_int_equal(kh_barrier_seal(e->t->barrier), KH_OK);
	assert_int_equal(kh_keys_cache_size(e->k), 0);
	kh_test_keys_unseal(e->t);
	kh_buf_cleanup(&s.ct);
	kh_buf_cleanup(&s.sig);
	kh_buf_cleanup(&s.tag);
}

static void the_cache_holds_at_most_cache_max_versions(void **state)
{
	struct env *e = *state; /* cache_max = 4 */
	struct kh_key_info keys[10];
	struct kh_buf ct[10];
	char name[16];
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		keys[i] = make(e, name, KH_KEY_AES_256_GCM, 0);
		ct[i] = kh_test_keys_encrypt(e->t, &e->mgr, keys[i].tag, name);
		assert_true(kh_keys_cache_size(e->k) <= 4);
	}
	assert_int_equal(kh_keys_cache_size(e->k), 4);
	/* Every key still works, loaded again as needed. */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 10; i++) {
			snprintf(name, sizeof(name), "k%d", i);
			assert_int_equal(kh_test_keys_decrypt(e->t, &e->mgr, keys[i].tag,
			                                      kh_buf_slice(&ct[i]), name),
			                 KH_OK);
			assert_true(kh_keys_cache_size(e->k) <= 4);
		}
	}
	/* Versions count one by one. */
	struct kh_key_info out;
	assert_int_equal(kh_keys_rotate(e->k, &e->mgr, keys[0].tag, &out), KH_OK);
	assert_int_equal(
	    kh_test_keys_decrypt(e->t, &e->mgr, keys[0].tag, kh_buf_slice(&ct[0]), "k0"), KH_OK);
	struct kh_buf c2 = kh_test_keys_encrypt(e->t, &e->mgr, keys[0].tag, "k0-2");
	assert_int_equal(kh_keys_cache_size(e->k), 4);
	kh_buf_cleanup(&c2);
	for (int i = 0; i < 10; i++)
		kh_buf_cleanup(&ct[i]);
}

/* ---- threads ---- */

struct worker {
	struct env *e;
	const char *tags[3];
	int failures;
	int ops;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 30; i++) {
		const char *tag = w->tags[i % 3];
		struct kh_buf ct, pt;
		kh_buf_init(&ct, CT_MAX, KH_BUF_PLAIN);
		kh_buf_init(&pt, 64, KH_BUF_SECURE);
		kh_rc rc = kh_keys_encrypt(w->e->k, &w->e->mgr, tag, KH_SLICE_LIT("threaded"),
		                           KH_SLICE_EMPTY, &ct);
		if (rc == KH_OK)
			rc = kh_keys_decrypt(w->e->k, &w->e->mgr, tag, kh_buf_slice(&ct),
			                     KH_SLICE_EMPTY, &pt);
		if (rc != KH_OK || !kh_slice_eq(kh_buf_slice(&pt), KH_SLICE_LIT("threaded")))
			w->failures++;
		w->ops += 2;
		kh_buf_cleanup(&ct);
		kh_buf_cleanup(&pt);
	}
	return NULL;
}

static void threads_share_keys_through_a_small_cache(void **state)
{
	struct env *e = *state; /* cache_max = 4 */
	struct kh_key_info keys[6];
	char name[16];
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		keys[i] = make(e, name, i % 2 == 0 ? KH_KEY_AES_256_GCM : KH_KEY_SM4, 0);
	}
	struct worker w[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.e = e};
		for (int j = 0; j < 3; j++)
			w[i].tags[j] = keys[(i + j * 2) % 6].tag;
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	int ops = 0;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
		ops += w[i].ops;
	}
	assert_true(kh_keys_cache_size(e->k) <= 4);
	uint64_t uses = 0;
	for (int i = 0; i < 6; i++)
		uses += kh_test_keys_get(e->t, &e->mgr, keys[i].tag).usage_count;
	assert_int_equal(uses, (uint64_t)ops);
}

/* ---- nothing secret in the files ---- */

static void no_plaintext_or_data_key_reaches_the_database_files(void **state)
{
	struct env *e = *state;
	char wal[320];
	snprintf(wal, sizeof(wal), "%s-wal", e->t->path);
	struct kh_key_info k = make(e, "k", KH_KEY_AES_256_GCM, 0);
	struct kh_key_info r = make(e, "r", KH_KEY_SM2, KH_USAGE_ENCRYPT_DECRYPT);
	static const char secret[] = "keyhold-test-plaintext-5f0c1e2d-must-never-be-stored";
	struct kh_slice pt = KH_SLICE(secret, sizeof(secret) - 1);
	struct kh_buf ct, rct, dk, dkct;
	assert_int_equal(enc(e, k.tag, pt, KH_SLICE_LIT("ctx"), &ct), KH_OK);
	assert_int_equal(enc(e, r.tag, pt, KH_SLICE_EMPTY, &rct), KH_OK);
	assert_int_equal(dec(e, k.tag, kh_buf_slice(&ct), KH_SLICE_LIT("ctx"), pt), KH_OK);
	kh_buf_init(&dk, 64, KH_BUF_SECURE);
	kh_buf_init(&dkct, CT_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_keys_data_key(e->k, &e->mgr, k.tag, 512, KH_SLICE_EMPTY, &dk, &dkct),
	                 KH_OK);
	/* Copied out of secure memory for the scan (test only). */
	uint8_t dk_copy[64];
	assert_int_equal(dk.len, 64);
	memcpy(dk_copy, dk.ptr, 64);
	/* A shorter window of the data key too, in case a page boundary splits it. */
	struct kh_slice needles[] = {pt, KH_SLICE(secret, 16), KH_SLICE(dk_copy, 64),
	                             KH_SLICE(dk_copy, 16), KH_SLICE(dk_copy + 40, 16)};

	for (int phase = 0; phase < 2; phase++) {
		/* The scan finds what is there: the key's tag. */
		assert_true(kh_test_file_contains(e->t->path, kh_slice_from_cstr(k.tag)) ||
		            kh_test_file_contains(wal, kh_slice_from_cstr(k.tag)));
		for (size_t i = 0; i < COUNT_OF(needles); i++) {
			assert_false(kh_test_file_contains(e->t->path, needles[i]));
			assert_false(kh_test_file_contains(wal, needles[i]));
		}
		/* Again after the WAL was checkpointed into the file at close. */
		kh_test_keys_reopen(e->t);
		e->k = e->t->keys;
	}
	assert_int_equal(dec(e, k.tag, kh_buf_slice(&dkct), KH_SLICE_EMPTY, kh_buf_slice(&dk)),
	                 KH_OK);
	memset(dk_copy, 0, sizeof(dk_copy));
	kh_buf_cleanup(&ct);
	kh_buf_cleanup(&rct);
	kh_buf_cleanup(&dk);
	kh_buf_cleanup(&dkct);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(every_encryption_type_binds_key_version_and_context,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(ciphertexts_of_one_key_are_refused_by_every_other,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(a_version_label_cannot_be_moved, setup, teardown),
	    cmocka_unit_test_setup_teardown(garbage_is_a_decryption_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(convergent_keys_give_equal_ciphertexts_for_equal_input,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(limits_on_plaintext_and_context, setup, teardown),
	    cmocka_unit_test_setup_teardown(an_outside_encryption_to_the_public_key_decrypts, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(data_keys_of_128_to_512_bits_decrypt_to_their_plaintext,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        data_keys_refuse_bad_sizes_and_keys_that_are_not_symmetric, setup, teardown),
	    cmocka_unit_test_setup_teardown(reencryption_moves_a_ciphertext_to_the_current_version,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(every_signing_type_signs_and_verifies, setup, teardown),
	    cmocka_unit_test_setup_teardown(rsa_signs_with_pss_by_default_and_pkcs1_on_request,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(macs_are_deterministic_and_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(operations_of_another_usage_are_the_wrong_key_type,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(usage_count_and_last_use_grow_on_success_only, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(history_keeps_the_latest_100_newest_first, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(history_records_who_which_version_and_the_result, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        a_sealed_barrier_stops_every_operation_and_empties_the_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(the_cache_holds_at_most_cache_max_versions,
	                                    setup_small_cache, teardown),
	    cmocka_unit_test_setup_teardown(threads_share_keys_through_a_small_cache,
	                                    setup_small_cache, teardown),
	    cmocka_unit_test_setup_teardown(no_plaintext_or_data_key_reaches_the_database_files,
	                                    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
