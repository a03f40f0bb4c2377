/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crypto wrapper overhead: for each primitive, keyhold's rate next to the raw OpenSSL rate of
 * the same work, measured in the same run. The reference is written the way a careful
 * OpenSSL 3 user would (algorithms fetched once, AEAD contexts keyed once, one EVP call
 * sequence per operation), so the ratio is the cost of our checks, buffers and error mapping.
 * Payloads are 1 KiB. Rounds alternate between the two sides; the ratio reported is the
 * median of the per-round ratios, which cancels slow drift of the machine.
 *
 * This is the one file outside src/crypto/ that includes OpenSSL: it measures it.
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kh_clock.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

enum {
	PAYLOAD = 1024,
	ROUNDS = 7
};

static double round_seconds = 0.2;
static uint8_t msg[PAYLOAD];
static uint8_t out[PAYLOAD + 64];
static uint8_t key32[32];
static uint8_t nonce[12];
static uint8_t tag[16];
static uint8_t aad[32];

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "bench: %s failed at line %d\n", #x, __LINE__);            \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

typedef void (*op_fn)(void *arg);

/* Runs fn for about round_seconds; returns operations per second. */
static double rate(op_fn fn, void *arg)
{
	int64_t start = kh_clock_mono_ns();
	int64_t deadline = start + (int64_t)(round_seconds * 1e9);
	uint64_t n = 0;
	int64_t now;

	do {
		for (int i = 0; i < 16; i++)
			fn(arg);
		n += 16;
		now = kh_clock_mono_ns();
	} while (now < deadline);
	return (double)n * 1e9 / (double)(now - start);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int worst_count;
static int compared_count;

static const char *filter; /* only operations whose name contains this */

/*
 * Alternates rounds of ours and raw and prints the median rates and the median of the
 * per-round ratios: each ratio compares two runs a moment apart, so slow drift of the machine
 * (frequency, other load) cancels out.
 */
static void compare(const char *name, op_fn ours, void *ours_arg, op_fn raw, void *raw_arg)
{
	double a[ROUNDS], b[ROUNDS], q[ROUNDS];

	if (filter != NULL && strstr(name, filter) == NULL)
		return;
	ours(ours_arg); /* warm up both */
	if (raw != NULL)
		raw(raw_arg);
	for (int r = 0; r < ROUNDS; r++) {
		a[r] = rate(ours, ours_arg);
		b[r] = raw != NULL ? rate(raw, raw_arg) : 1;
		q[r] = a[r] / b[r];
	}
	qsort(a, ROUNDS, sizeof(double), cmp_double);
	qsort(b, ROUNDS, sizeof(double), cmp_double);
	qsort(q, ROUNDS, sizeof(double), cmp_double);
	if (raw == NULL) {
		printf("%-28s %14.0f %14s %7s\n", name, a[ROUNDS / 2], "-", "-");
		return;
	}
	double ratio = q[ROUNDS / 2];
	compared_count++;
	if (ratio < 0.95)
		worst_count++;
	printf("%-28s %14.0f %14.0f %7.3f%s\n", name, a[ROUNDS / 2], b[ROUNDS / 2], ratio,
	       ratio < 0.95 ? "  <-- over 5%" : "");
	fflush(stdout);
}

/* ---- hashes and MACs ---- */

struct hash_arg {
	enum kh_hash kh;
	EVP_MD *md;
};

static void ours_hash(void *p)
{
	struct hash_arg *h = p;
	CHECK(kh_hash(h->kh, KH_SLICE(msg, PAYLOAD), out, sizeof(out)) == KH_OK);
}

static void raw_hash(void *p)
{
	struct hash_arg *h = p;
	unsigned int len;
	CHECK(EVP_Digest(msg, PAYLOAD, out, &len, h->md, NULL) == 1);
}

static void ours_hmac(void *p)
{
	(void)p;
	CHECK(kh_hmac(KH_HASH_SHA256, KH_SLICE(key32, 32), KH_SLICE(msg, PAYLOAD), out,
	              sizeof(out)) == KH_OK);
}

static EVP_MAC *mac_hmac;

static void raw_hmac(void *p)
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac_hmac);
	OSSL_PARAM params[] = {OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA2-256", 0),
	                       OSSL_PARAM_END};
	size_t len;
	(void)p;
	CHECK(ctx != NULL);
	CHECK(EVP_MAC_init(ctx, key32, 32, params) == 1);
	CHECK(EVP_MAC_update(ctx, msg, PAYLOAD) == 1);
	CHECK(EVP_MAC_final(ctx, out, &len, sizeof(out)) == 1);
	EVP_MAC_CTX_free(ctx);
}

static void ours_hkdf(void *p)
{
	(void)p;
	CHECK(kh_hkdf(KH_HASH_SHA256, KH_SLICE(key32, 32), KH_SLICE(nonce, 12), KH_SLICE(aad, 32),
	              out, 32) == KH_OK);
}

static EVP_KDF *kdf_hkdf;

static void raw_hkdf(void *p)
{
	EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf_hkdf);
	OSSL_PARAM params[] = {OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA2-256", 0),
	                       OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, key32, 32),
	                       OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SALT, nonce, 12),
	                       OSSL_PARAM_octet_string(OSSL_KDF_PARAM_INFO, aad, 32),
	                       OSSL_PARAM_END};
	(void)p;
	CHECK(ctx != NULL);
	CHECK(EVP_KDF_derive(ctx, out, 32, params) == 1);
	EVP_KDF_CTX_free(ctx);
}

/* ---- AEADs ---- */

struct aead_arg {
	struct kh_aead_key *key;
	EVP_CIPHER_CTX *enc, *dec;
	uint8_t ct[PAYLOAD];
	uint8_t tag[16];
};

static void ours_seal(void *p)
{
	struct aead_arg *a = p;
	CHECK(kh_aead_seal(a->key, KH_SLICE(nonce, 12), KH_SLICE(aad, 32), KH_SLICE(msg, PAYLOAD),
	                   out, tag) == KH_OK);
}

static void ours_open(void *p)
{
	struct aead_arg *a = p;
	CHECK(kh_aead_open(a->key, KH_SLICE(nonce, 12), KH_SLICE(aad, 32), KH_SLICE(a->ct, PAYLOAD),
	                   KH_SLICE(a->tag, 16), out) == KH_OK);
}

static void raw_seal(void *p)
{
	struct aead_arg *a = p;
	int len;
	CHECK(EVP_EncryptInit_ex(a->enc, NULL, NULL, NULL, nonce) == 1);
	CHECK(EVP_EncryptUpdate(a->enc, NULL, &len, aad, 32) == 1);
	CHECK(EVP_EncryptUpdate(a->enc, out, &len, msg, PAYLOAD) == 1);
	CHECK(EVP_EncryptFinal_ex(a->enc, out + len, &len) == 1);
	CHECK(EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1);
}

static void raw_open(void *p)
{
	struct aead_arg *a = p;
	int len;
	CHECK(EVP_DecryptInit_ex(a->dec, NULL, NULL, NULL, nonce) == 1);
	CHECK(EVP_DecryptUpdate(a->dec, NULL, &len, aad, 32) == 1);
	CHECK(EVP_DecryptUpdate(a->dec, out, &len, a->ct, PAYLOAD) == 1);
	CHECK(EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_AEAD_SET_TAG, 16, a->tag) == 1);
	CHECK(EVP_DecryptFinal_ex(a->dec, out + len, &len) == 1);
}

static void bench_aead(const char *label, enum kh_aead alg, const char *cipher_name)
{
	struct aead_arg a;
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, cipher_name, NULL);
	char name[64];

	CHECK(c != NULL);
	CHECK(kh_aead_key_new(alg, KH_SLICE(key32, 32), &a.key) == KH_OK);
	a.enc = EVP_CIPHER_CTX_new();
	a.dec = EVP_CIPHER_CTX_new();
	CHECK(a.enc != NULL && a.dec != NULL);
	CHECK(EVP_EncryptInit_ex(a.enc, c, NULL, key32, NULL) == 1);
	CHECK(EVP_DecryptInit_ex(a.dec, c, NULL, key32, NULL) == 1);
	CHECK(kh_aead_seal(a.key, KH_SLICE(nonce, 12), KH_SLICE(aad, 32), KH_SLICE(msg, PAYLOAD),
	                   a.ct, a.tag) == KH_OK);
	snprintf(name, sizeof(name), "%s seal", label);
	compare(name, ours_seal, &a, raw_seal, &a);
	snprintf(name, sizeof(name), "%s open", label);
	compare(name, ours_open, &a, raw_open, &a);
	kh_aead_key_free(&a.key);
	EVP_CIPHER_CTX_free(a.enc);
	EVP_CIPHER_CTX_free(a.dec);
	EVP_CIPHER_free(c);
}

/* SM4-CTR then HMAC-SM3, the composition kh_crypto.h specifies, written directly. */
struct sm4_arg {
	struct kh_aead_key *key;
	EVP_CIPHER_CTX *ctr;
	EVP_MAC_CTX *mac; /* keyed once; duplicated per operation */
};

static void raw_sm4_seal(void *p)
{
	struct sm4_arg *a = p;
	uint8_t iv[16], len_block[8], full[32];
	uint64_t bits = 8 * 32;
	size_t maclen;
	int len;
	EVP_MAC_CTX *m;

	memcpy(iv, nonce, 12);
	iv[12] = 0, iv[13] = 0, iv[14] = 0, iv[15] = 1;
	for (int i = 0; i < 8; i++)
		len_block[i] = (uint8_t)(bits >> (56 - 8 * i));
	CHECK(EVP_EncryptInit_ex(a->ctr, NULL, NULL, NULL, iv) == 1);
	CHECK(EVP_EncryptUpdate(a->ctr, out, &len, msg, PAYLOAD) == 1);
	m = EVP_MAC_CTX_dup(a->mac);
	CHECK(m != NULL);
	CHECK(EVP_MAC_update(m, aad, 32) == 1);
	CHECK(EVP_MAC_update(m, nonce, 12) == 1);
	CHECK(EVP_MAC_update(m, out, PAYLOAD) == 1);
	CHECK(EVP_MAC_update(m, len_block, 8) == 1);
	CHECK(EVP_MAC_final(m, full, &maclen, sizeof(full)) == 1);
	memcpy(tag, full, 16);
	EVP_MAC_CTX_free(m);
}

static void ours_sm4_seal(void *p)
{
	struct sm4_arg *a = p;
	CHECK(kh_aead_seal(a->key, KH_SLICE(nonce, 12), KH_SLICE(aad, 32), KH_SLICE(msg, PAYLOAD),
	                   out, tag) == KH_OK);
}

static void bench_sm4(void)
{
	struct sm4_arg a;
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "SM4-CTR", NULL);
	OSSL_PARAM params[] = {OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, "SM3", 0),
	                       OSSL_PARAM_END};

	CHECK(c != NULL);
	CHECK(kh_aead_key_new(KH_AEAD_SM4_CTR_HMAC_SM3, KH_SLICE(key32, 32), &a.key) == KH_OK);
	a.ctr = EVP_CIPHER_CTX_new();
	CHECK(a.ctr != NULL);
	CHECK(EVP_EncryptInit_ex(a.ctr, c, NULL, key32 + 16, NULL) == 1);
	a.mac = EVP_MAC_CTX_new(mac_hmac);
	CHECK(a.mac != NULL);
	CHECK(EVP_MAC_init(a.mac, key32, 16, params) == 1);
	compare("sm4-ctr-hmac-sm3 seal", ours_sm4_seal, &a, raw_sm4_seal, &a);
	kh_aead_key_free(&a.key);
	EVP_CIPHER_CTX_free(a.ctr);
	EVP_MAC_CTX_free(a.mac);
	EVP_CIPHER_free(c);
}

/* ---- key wrap ---- */

static void ours_wrap(void *p)
{
	struct kh_buf *b = p;
	kh_buf_clear(b);
	CHECK(kh_keywrap_wrap(KH_SLICE(key32, 32), KH_SLICE(msg, 32), b) == KH_OK);
}

static EVP_CIPHER *wrap_cipher;

static void raw_wrap(void *p)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len, fin;
	(void)p;
	CHECK(ctx != NULL);
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	CHECK(EVP_EncryptInit_ex(ctx, wrap_cipher, NULL, key32, NULL) == 1);
	CHECK(EVP_EncryptUpdate(ctx, out, &len, msg, 32) == 1);
	CHECK(EVP_EncryptFinal_ex(ctx, out + len, &fin) == 1);
	EVP_CIPHER_CTX_free(ctx);
}

/* ---- signatures and public-key encryption ---- */

struct sig_arg {
	struct kh_pkey *key;
	EVP_PKEY *raw;
	enum kh_sig_alg alg;
	const char *md; /* NULL for Ed25519 */
	int pss;
	int sm2;
	struct kh_buf sig;
};

static void ours_sign(void *p)
{
	struct sig_arg *s = p;
	kh_buf_clear(&s->sig);
	CHECK(kh_pkey_sign(s->key, s->alg, KH_SLICE(msg, PAYLOAD), KH_SLICE_EMPTY, &s->sig) ==
	      KH_OK);
}

static void ours_verify(void *p)
{
	struct sig_arg *s = p;
	CHECK(kh_pkey_verify(s->key, s->alg, KH_SLICE(msg, PAYLOAD), KH_SLICE_EMPTY,
	                     kh_buf_slice(&s->sig)) == KH_OK);
}

static EVP_MD_CTX *raw_sig_ctx(struct sig_arg *s, int sign)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	CHECK(ctx != NULL);
	if (s->sm2) {
		pctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->raw, NULL);
		CHECK(pctx != NULL);
		CHECK(EVP_PKEY_CTX_set1_id(pctx, "1234567812345678", 16) == 1);
		EVP_MD_CTX_set_pkey_ctx(ctx, pctx);
	}
	if (sign)
		CHECK(EVP_DigestSignInit_ex(ctx, &pctx, s->md, NULL, NULL, s->raw, NULL) == 1);
	else
		CHECK(EVP_DigestVerifyInit_ex(ctx, &pctx, s->md, NULL, NULL, s->raw, NULL) == 1);
	if (s->pss) {
		CHECK(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
		CHECK(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1);
	}
	return ctx;
}

static void free_sig_ctx(struct sig_arg *s, EVP_MD_CTX *ctx)
{
	EVP_PKEY_CTX *pctx = s->sm2 ? EVP_MD_CTX_get_pkey_ctx(ctx) : NULL;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_CTX_free(pctx);
}

static void raw_sign(void *p)
{
	struct sig_arg *s = p;
	EVP_MD_CTX *ctx = raw_sig_ctx(s, 1);
	size_t len = sizeof(out);
	CHECK(EVP_DigestSign(ctx, out, &len, msg, PAYLOAD) == 1);
	free_sig_ctx(s, ctx);
}

static void raw_verify(void *p)
{
	struct sig_arg *s = p;
	EVP_MD_CTX *ctx = raw_sig_ctx(s, 0);
	CHECK(EVP_DigestVerify(ctx, s->sig.ptr, s->sig.len, msg, PAYLOAD) == 1);
	free_sig_ctx(s, ctx);
}

/* The same key in both worlds: export ours as PKCS#8 and load it raw. */
static EVP_PKEY *raw_copy(const struct kh_pkey *key)
{
	struct kh_buf der;
	const unsigned char *p;
	EVP_PKEY *pk;

	kh_buf_init(&der, 1 << 16, KH_BUF_SECURE);
	CHECK(kh_pkey_export_private_der(key, &der) == KH_OK);
	p = der.ptr;
	pk = d2i_AutoPrivateKey(NULL, &p, (long)der.len);
	CHECK(pk != NULL);
	kh_buf_cleanup(&der);
	return pk;
}

static void bench_sig(const char *label, enum kh_pkey_type type, enum kh_sig_alg alg,
                      const char *md)
{
	struct sig_arg s = {.alg = alg, .md = md};
	char name[64];

	CHECK(kh_pkey_generate(type, &s.key) == KH_OK);
	s.raw = raw_copy(s.key);
	s.pss = alg == KH_SIG_RSA_PSS_SHA256;
	s.sm2 = alg == KH_SIG_SM2_SM3;
	if (s.sm2) /* OpenSSL 3.0 types keys on the SM2 curve as SM2 when loading them */
		CHECK(EVP_PKEY_is_a(s.raw, "SM2"));
	kh_buf_init(&s.sig, 1024, KH_BUF_PLAIN);
	ours_sign(&s);
	snprintf(name, sizeof(name), "%s sign", label);
	compare(name, ours_sign, &s, raw_sign, &s);
	snprintf(name, sizeof(name), "%s verify", label);
	compare(name, ours_verify, &s, raw_verify, &s);
	kh_buf_cleanup(&s.sig);
	EVP_PKEY_free(s.raw);
	kh_pkey_free(&s.key);
}

/* Key pair generation: kh_pkey_generate against a careful user's loop on one keygen context
 * made once (the group set by name, the SM2 key manager for SM2). */
struct keygen_arg {
	enum kh_pkey_type type;
	EVP_PKEY_CTX *ctx;
};

static void ours_keygen(void *p)
{
	struct keygen_arg *a = p;
	struct kh_pkey *key = NULL;
	CHECK(kh_pkey_generate(a->type, &key) == KH_OK);
	kh_pkey_free(&key);
}

static void raw_keygen(void *p)
{
	struct keygen_arg *a = p;
	EVP_PKEY *key = NULL;
	CHECK(EVP_PKEY_generate(a->ctx, &key) == 1);
	EVP_PKEY_free(key);
}

static void bench_keygen(const char *label, enum kh_pkey_type type, const char *keymgmt,
                         const char *group)
{
	struct keygen_arg a = {.type = type};
	OSSL_PARAM params[2] = {OSSL_PARAM_END, OSSL_PARAM_END};
	char group_name[16]; /* OSSL_PARAM takes a non-const pointer */

	if (group != NULL) {
		snprintf(group_name, sizeof(group_name), "%s", group);
		params[0] =
		    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group_name, 0);
	}
	a.ctx = EVP_PKEY_CTX_new_from_name(NULL, keymgmt, NULL);
	CHECK(a.ctx != NULL && EVP_PKEY_keygen_init(a.ctx) == 1 &&
	      EVP_PKEY_CTX_set_params(a.ctx, params) == 1);
	compare(label, ours_keygen, &a, raw_keygen, &a);
	EVP_PKEY_CTX_free(a.ctx);
}

struct pke_arg {
	struct kh_pkey *key;
	EVP_PKEY *raw;
	int rsa;
	struct kh_buf ct, pt;
};

static void ours_pk_decrypt(void *p)
{
	struct pke_arg *a = p;
	kh_buf_clear(&a->pt);
	CHECK(kh_pkey_decrypt(a->key, kh_buf_slice(&a->ct), &a->pt) == KH_OK);
}

static void raw_pk_decrypt(void *p)
{
	struct pke_arg *a = p;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, a->raw, NULL);
	size_t len = sizeof(out);
	CHECK(ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1);
	if (a->rsa) {
		CHECK(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1);
		CHECK(EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA2-256", NULL) == 1);
		CHECK(EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA2-256", NULL) == 1);
	}
	CHECK(EVP_PKEY_decrypt(ctx, out, &len, a->ct.ptr, a->ct.len) == 1);
	EVP_PKEY_CTX_free(ctx);
}

static void bench_pke(const char *label, enum kh_pkey_type type)
{
	struct pke_arg a = {.rsa = type != KH_PKEY_SM2};
	char name[64];

	CHECK(kh_pkey_generate(type, &a.key) == KH_OK);
	a.raw = raw_copy(a.key);
	if (!a.rsa)
		CHECK(EVP_PKEY_is_a(a.raw, "SM2"));
	kh_buf_init(&a.ct, 4096, KH_BUF_PLAIN);
	kh_buf_init(&a.pt, 4096, KH_BUF_SECURE);
	CHECK(kh_pkey_encrypt(a.key, KH_SLICE(key32, 32), &a.ct) == KH_OK);
	snprintf(name, sizeof(name), "%s decrypt", label);
	compare(name, ours_pk_decrypt, &a, raw_pk_decrypt, &a);
	kh_buf_cleanup(&a.ct);
	kh_buf_cleanup(&a.pt);
	EVP_PKEY_free(a.raw);
	kh_pkey_free(&a.key);
}

/* ---- randomness and Shamir (no OpenSSL counterpart for Shamir) ---- */

static void ours_rand(void *p)
{
	(void)p;
	CHECK(kh_rand_bytes(out, 32) == KH_OK);
}

static void raw_rand(void *p)
{
	(void)p;
	CHECK(RAND_bytes(out, 32) == 1);
}

static void ours_shamir(void *p)
{
	struct kh_buf *shares = p;
	struct kh_slice in[3];
	struct kh_buf secret;

	for (int i = 0; i < 5; i++)
		kh_buf_clear(&shares[i]);
	CHECK(kh_shamir_split(KH_SLICE(key32, 32), 5, 3, shares) == KH_OK);
	for (int i = 0; i < 3; i++)
		in[i] = kh_buf_slice(&shares[i + 2]);
	kh_buf_init(&secret, 64, KH_BUF_SECURE);
	CHECK(kh_shamir_combine(in, 3, &secret, NULL) == KH_OK);
	CHECK(kh_ct_eq(kh_buf_slice(&secret), KH_SLICE(key32, 32)));
	kh_buf_cleanup(&secret);
}

int main(int argc, char **argv)
{
	struct hash_arg sha256, sha512, sm3;
	struct kh_buf wrapped, shares[5];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			round_seconds = 0.02;
		else
			filter = argv[i];
	}
	CHECK(kh_crypto_init() == KH_OK);
	CHECK(RAND_bytes(msg, sizeof(msg)) == 1 && RAND_bytes(key32, 32) == 1);
	CHECK(RAND_bytes(nonce, 12) == 1 && RAND_bytes(aad, 32) == 1);
	mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	kdf_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	wrap_cipher = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
	CHECK(mac_hmac != NULL && kdf_hkdf != NULL && wrap_cipher != NULL);

	printf("keyhold crypto wrappers vs raw OpenSSL (%s), %d-byte payloads, median of %d "
	       "alternating rounds\n\n",
	       kh_crypto_library_version(), PAYLOAD, ROUNDS);
	printf("%-28s %14s %14s %7s\n", "operation", "keyhold op/s", "openssl op/s", "ratio");

	sha256 = (struct hash_arg){KH_HASH_SHA256, EVP_MD_fetch(NULL, "SHA2-256", NULL)};
	sha512 = (struct hash_arg){KH_HASH_SHA512, EVP_MD_fetch(NULL, "SHA2-512", NULL)};
	sm3 = (struct hash_arg){KH_HASH_SM3, EVP_MD_fetch(NULL, "SM3", NULL)};
	compare("sha256", ours_hash, &sha256, raw_hash, &sha256);
	compare("sha512", ours_hash, &sha512, raw_hash, &sha512);
	compare("sm3", ours_hash, &sm3, raw_hash, &sm3);
	compare("hmac-sha256", ours_hmac, NULL, raw_hmac, NULL);
	compare("hkdf-sha256 (32 B out)", ours_hkdf, NULL, raw_hkdf, NULL);
	bench_aead("aes-256-gcm", KH_AEAD_AES_256_GCM, "AES-256-GCM");
	bench_aead("chacha20-poly1305", KH_AEAD_CHACHA20_POLY1305, "ChaCha20-Poly1305");
	bench_sm4();
	kh_buf_init(&wrapped, 256, KH_BUF_PLAIN);
	compare("aes-256 key wrap (32 B)", ours_wrap, &wrapped, raw_wrap, NULL);
	kh_buf_cleanup(&wrapped);
	compare("random 32 B", ours_rand, NULL, raw_rand, NULL);
	bench_sig("rsa-2048 pss", KH_PKEY_RSA_2048, KH_SIG_RSA_PSS_SHA256, "SHA2-256");
	bench_sig("ecdsa-p256", KH_PKEY_EC_P256, KH_SIG_ECDSA_SHA256, "SHA2-256");
	bench_sig("ecdsa-p384", KH_PKEY_EC_P384, KH_SIG_ECDSA_SHA384, "SHA2-384");
	bench_sig("ed25519", KH_PKEY_ED25519, KH_SIG_ED25519, NULL);
	bench_sig("sm2-sm3", KH_PKEY_SM2, KH_SIG_SM2_SM3, "SM3");
	bench_keygen("ecdsa-p256 keygen", KH_PKEY_EC_P256, "EC", "P-256");
	bench_keygen("sm2 keygen", KH_PKEY_SM2, "SM2", NULL);
	bench_pke("rsa-2048 oaep", KH_PKEY_RSA_2048);
	bench_pke("sm2", KH_PKEY_SM2);
	for (int i = 0; i < 5; i++)
		kh_buf_init(&shares[i], 256, KH_BUF_SECURE);
	compare("shamir 32 B split 5/3+join", ours_shamir, shares, NULL, NULL);
	for (int i = 0; i < 5; i++)
		kh_buf_cleanup(&shares[i]);

	printf("\n%d of %d wrappers within 5%% of raw OpenSSL\n", compared_count - worst_count,
	       compared_count);
	EVP_MD_free(sha256.md);
	EVP_MD_free(sha512.md);
	EVP_MD_free(sm3.md);
	EVP_MAC_free(mac_hmac);
	EVP_KDF_free(kdf_hkdf);
	EVP_CIPHER_free(wrap_cipher);
	return 0;
}
