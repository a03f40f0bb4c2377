/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key management centre's envelopes, each opened without envelope.c: the GM/T 0016 blob
 * parsed field by field, its SM2Cipher rebuilt as DER and decrypted by OpenSSL's EVP, the
 * private key decrypted with SM4-ECB and checked by d * G against the enveloped public key;
 * the GM/T 0009 DER taken apart by a small reader here; CMS opened by OpenSSL's CMS_decrypt
 * and by the openssl command line, for RSA and EC recipients and RSA, EC and SM2 contents.
 * Wrong key types, a wrong recipient and form names are checked too.
 */
#include "kh_test_crypto.h"
#include "kh_test_envelope.h"

#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/kh_mem.h"
#include "crypto/kh_envelope.h"

#define BUF_MAX (64u * 1024u)

/* ---- plain OpenSSL, independent of envelope.c ---- */

/* A public-only copy of key, so that seal is seen to need nothing more. */
static struct kh_pkey *public_only(const struct kh_pkey *key)
{
	struct kh_buf der;
	struct kh_pkey *pub = NULL;

	kh_buf_init(&der, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pkey_export_public_der(key, &der), KH_OK);
	assert_int_equal(kh_pkey_import_public(kh_buf_slice(&der), &pub), KH_OK);
	kh_buf_cleanup(&der);
	return pub;
}

static struct kh_pkey *generate(enum kh_pkey_type t)
{
	struct kh_pkey *k = NULL;

	assert_int_equal(kh_pkey_generate(t, &k), KH_OK);
	return k;
}

static struct kh_buf seal(enum kh_envelope_form form, const struct kh_pkey *key,
                          const struct kh_pkey *to)
{
	struct kh_buf out;

	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_envelope_seal(form, key, to, &out), KH_OK);
	return out;
}

/* ---- GM/T 0016 ---- */

static void skf_opens_with_openssl_and_carries_the_key(void **state)
{
	struct kh_pkey *key = generate(KH_PKEY_SM2);
	struct kh_pkey *user = generate(KH_PKEY_SM2);
	struct kh_pkey *to = public_only(user);
	EVP_PKEY *key_evp = kh_test_ossl_private(key);
	EVP_PKEY *user_evp = kh_test_ossl_private(user);
	uint8_t point[65], d[32], want_d[32];
	BIGNUM *bn = NULL;
	bool seen_sign = false, seen_short = false;

	(void)state;
	kh_test_sm2_point(key_evp, point);
	assert_int_equal(EVP_PKEY_get_bn_param(key_evp, OSSL_PKEY_PARAM_PRIV_KEY, &bn), 1);
	assert_int_equal(BN_bn2binpad(bn, want_d, 32), 32);
	/*
	 * Envelopes until C1 has had both a coordinate whose DER INTEGER carries a sign byte
	 * (first byte >= 0x80, half of them) and one shorter than 32 bytes (first byte 0, 1 in
	 * 128 blobs): both must come out right-aligned in 32 bytes. 4000 tries miss the short
	 * case with probability e^-31.
	 */
	for (int i = 0; i < 4000 && !(seen_sign && seen_short); i++) {
		struct kh_buf blob = seal(KH_ENVELOPE_SKF, key, to);

		for (size_t c = 208 + 32; c < 336; c += 64) {
			seen_sign |= blob.ptr[c] >= 0x80;
			seen_short |= blob.ptr[c] == 0;
		}
		assert_true(kh_test_skf_open(kh_buf_slice(&blob), user_evp, point, d));
		assert_memory_equal(d, want_d, 32);
		assert_true(kh_test_sm2_scalar_matches(d, point));
		kh_buf_cleanup(&blob);
	}
	assert_true(seen_sign && seen_short);
	BN_clear_free(bn);
	EVP_PKEY_free(key_evp);
	EVP_PKEY_free(user_evp);
	kh_pkey_free(&key);
	kh_pkey_free(&user);
	kh_pkey_free(&to);
}

/* ---- GM/T 0009 ---- */

static void gmt0009_opens_with_openssl_and_carries_the_key(void **state)
{
	struct kh_pkey *key = generate(KH_PKEY_SM2);
	struct kh_pkey *user = generate(KH_PKEY_SM2);
	struct kh_pkey *to = public_only(user);
	EVP_PKEY *key_evp = kh_test_ossl_private(key);
	EVP_PKEY *user_evp = kh_test_ossl_private(user);
	uint8_t point[65], d[32];

	(void)state;
	kh_test_sm2_point(key_evp, point);
	for (int i = 0; i < 50; i++) {
		struct kh_buf env = seal(KH_ENVELOPE_GMT0009, key, to);

		assert_true(kh_test_gmt0009_open(kh_buf_slice(&env), user_evp, point, d));
		assert_true(kh_test_sm2_scalar_matches(d, point));
		kh_buf_cleanup(&env);
	}
	EVP_PKEY_free(key_evp);
	EVP_PKEY_free(user_evp);
	kh_pkey_free(&key);
	kh_pkey_free(&user);
	kh_pkey_free(&to);
}

static void sm2_envelopes_do_not_open_for_another_recipient(void **state)
{
	struct kh_pkey *key = generate(KH_PKEY_SM2);
	struct kh_pkey *user = generate(KH_PKEY_SM2);
	struct kh_pkey *other = generate(KH_PKEY_SM2);
	EVP_PKEY *key_evp = kh_test_ossl_private(key);
	EVP_PKEY *user_evp = kh_test_ossl_private(user);
	EVP_PKEY *other_evp = kh_test_ossl_private(other);
	struct kh_buf skf = seal(KH_ENVELOPE_SKF, key, user);
	struct kh_buf gmt = seal(KH_ENVELOPE_GMT0009, key, user);
	struct kh_buf skf2 = seal(KH_ENVELOPE_SKF, key, user);
	uint8_t point[65], d[32];

	(void)state;
	kh_test_sm2_point(key_evp, point);
	assert_false(kh_test_skf_open(kh_buf_slice(&skf), other_evp, point, d));
	assert_false(kh_test_gmt0009_open(kh_buf_slice(&gmt), other_evp, point, d));
	assert_true(kh_test_skf_open(kh_buf_slice(&skf), user_evp, point, d));
	/* A fresh SM4 key and SM2 randomness each time. */
	assert_false(kh_slice_eq(kh_buf_slice(&skf), kh_buf_slice(&skf2)));
	assert_memory_not_equal(skf.ptr + 12, skf2.ptr + 12, 64);
	kh_buf_cleanup(&skf);
	kh_buf_cleanup(&skf2);
	kh_buf_cleanup(&gmt);
	EVP_PKEY_free(key_evp);
	EVP_PKEY_free(user_evp);
	EVP_PKEY_free(other_evp);
	kh_pkey_free(&key);
	kh_pkey_free(&user);
	kh_pkey_free(&other);
}

/* ---- CMS ---- */

/* SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 4.2.1.2 method 1). */
static void key_id_of(const struct kh_pkey *key, uint8_t out[20])
{
	struct kh_buf der;
	const unsigned char *p;
	X509_PUBKEY *xpk;
	const unsigned char *pk = NULL;
	int pk_len = 0;
	unsigned int n = 0;

	kh_buf_init(&der, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pkey_export_public_der(key, &der), KH_OK);
	p = der.ptr;
	xpk = d2i_X509_PUBKEY(NULL, &p, (long)der.len);
	assert_non_null(xpk);
	assert_int_equal(X509_PUBKEY_get0_param(NULL, &pk, &pk_len, NULL, xpk), 1);
	assert_int_equal(EVP_Digest(pk, (size_t)pk_len, out, &n, EVP_sha1(), NULL), 1);
	assert_int_equal(n, 20);
	X509_PUBKEY_free(xpk);
	kh_buf_cleanup(&der);
}

static int nid_of_algor(const X509_ALGOR *a)
{
	const ASN1_OBJECT *o = NULL;

	X509_ALGOR_get0(&o, NULL, NULL, a);
	return OBJ_obj2nid(o);
}

/* The one recipient: named by the recipient key's SKI, with the algorithms kh_envelope.h
 * promises. */
static void cms_check_recipient(CMS_ContentInfo *cms, const struct kh_pkey *to)
{
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
	CMS_RecipientInfo *ri;
	ASN1_OCTET_STRING *kid = NULL;
	X509_ALGOR *alg = NULL;
	uint8_t want[20];

	key_id_of(to, want);
	assert_int_equal(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_enveloped);
	assert_int_equal(sk_CMS_RecipientInfo_num(ris), 1);
	ri = sk_CMS_RecipientInfo_value(ris, 0);
	if (kh_pkey_type_of(to) == KH_PKEY_EC_P256 || kh_pkey_type_of(to) == KH_PKEY_EC_P384) {
		STACK_OF(CMS_RecipientEncryptedKey) * reks;
		ASN1_OCTET_STRING *ukm = NULL;
		const ASN1_OBJECT *wrap_oid = NULL;
		const void *pval = NULL;
		int ptype = 0;
		X509_ALGOR *wrap;
		const unsigned char *wp;

		assert_int_equal(CMS_RecipientInfo_type(ri), CMS_RECIPINFO_AGREE);
		reks = CMS_RecipientInfo_kari_get0_reks(ri);
		assert_int_equal(sk_CMS_RecipientEncryptedKey_num(reks), 1);
		assert_int_equal(
		    CMS_RecipientEncryptedKey_get0_id(sk_CMS_RecipientEncryptedKey_value(reks, 0),
		                                      &kid, NULL, NULL, NULL, NULL),
		    1);
		assert_int_equal(CMS_RecipientInfo_kari_get0_alg(ri, &alg, &ukm), 1);
		assert_int_equal(nid_of_algor(alg), NID_dhSinglePass_stdDH_sha256kdf_scheme);
		/* RFC 5753 7.1.1: the parameter is the key-wrap AlgorithmIdentifier. */
		X509_ALGOR_get0(&wrap_oid, &ptype, &pval, alg);
		assert_int_equal(ptype, V_ASN1_SEQUENCE);
		wp = ASN1_STRING_get0_data(pval);
		wrap = d2i_X509_ALGOR(NULL, &wp, ASN1_STRING_length(pval));
		assert_non_null(wrap);
		assert_int_equal(nid_of_algor(wrap), NID_id_aes256_wrap);
		X509_ALGOR_free(wrap);
	} else {
		const ASN1_OBJECT *oid = NULL;
		const void *pval = NULL;
		int ptype = 0;
		RSA_OAEP_PARAMS *oaep;
		const unsigned char *op;
		X509_ALGOR *mgf_md;

		assert_int_equal(CMS_RecipientInfo_type(ri), CMS_RECIPINFO_TRANS);
		assert_int_equal(CMS_RecipientInfo_ktri_get0_signer_id(ri, &kid, NULL, NULL), 1);
		assert_int_equal(CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &alg), 1);
		assert_int_equal(nid_of_algor(alg), NID_rsaesOaep);
		/* RFC 4055 4.1: RSAES-OAEP-params with SHA-256 and MGF1-SHA-256. */
		X509_ALGOR_get0(&oid, &ptype, &pval, alg);
		assert_int_equal(ptype, V_ASN1_SEQUENCE);
		op = ASN1_STRING_get0_data(pval);
		oaep = d2i_RSA_OAEP_PARAMS(NULL, &op, ASN1_STRING_length(pval));
		assert_non_null(oaep);
		assert_non_null(oaep->hashFunc);
		assert_int_equal(nid_of_algor(oaep->hashFunc), NID_sha256);
		assert_non_null(oaep->maskGenFunc);
		assert_int_equal(nid_of_algor(oaep->maskGenFunc), NID_mgf1);
		X509_ALGOR_get0(NULL, &ptype, &pval, oaep->maskGenFunc);
		assert_int_equal(ptype, V_ASN1_SEQUENCE);
		op = ASN1_STRING_get0_data(pval);
		mgf_md = d2i_X509_ALGOR(NULL, &op, ASN1_STRING_length(pval));
		assert_non_null(mgf_md);
		assert_int_equal(nid_of_algor(mgf_md), NID_sha256);
		X509_ALGOR_free(mgf_md);
		RSA_OAEP_PARAMS_free(oaep);
	}
	assert_non_null(kid);
	assert_int_equal(ASN1_STRING_length(kid), 20);
	assert_memory_equal(ASN1_STRING_get0_data(kid), want, 20);
}

static void cms_round_trip(enum kh_pkey_type key_type, enum kh_pkey_type to_type)
{
	struct kh_pkey *key = generate(key_type);
	struct kh_pkey *user = generate(to_type);
	struct kh_pkey *to = public_only(user);
	EVP_PKEY *key_evp = kh_test_ossl_private(key);
	EVP_PKEY *user_evp = kh_test_ossl_private(user);
	struct kh_buf env = seal(KH_ENVELOPE_CMS, key, to);
	struct kh_buf p8, want;
	const unsigned char *p = env.ptr;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)env.len);
	EVP_PKEY *got;

	assert_non_null(cms);
	cms_check_recipient(cms, to);
	CMS_ContentInfo_free(cms);
	kh_buf_init(&p8, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&want, BUF_MAX, KH_BUF_SECURE);
	assert_true(kh_test_cms_open(kh_buf_slice(&env), user_evp, &p8));
	/* The content is exactly the PKCS#8 PrivateKeyInfo of the key, and it loads back. */
	assert_int_equal(kh_pkey_export_private_der(key, &want), KH_OK);
	assert_true(kh_slice_eq(kh_buf_slice(&p8), kh_buf_slice(&want)));
	p = p8.ptr;
	got = d2i_AutoPrivateKey(NULL, &p, (long)p8.len);
	assert_non_null(got);
	assert_int_equal(EVP_PKEY_eq(got, key_evp), 1);
	EVP_PKEY_free(got);
	kh_buf_cleanup(&p8);
	kh_buf_cleanup(&want);
	kh_buf_cleanup(&env);
	EVP_PKEY_free(key_evp);
	EVP_PKEY_free(user_evp);
	kh_pkey_free(&key);
	kh_pkey_free(&user);
	kh_pkey_free(&to);
}

static void cms_p256_in_rsa2048(void **state)
{
	(void)state;
	cms_round_trip(KH_PKEY_EC_P256, KH_PKEY_RSA_2048);
}

static void cms_sm2_in_rsa2048(void **state)
{
	(void)state;
	cms_round_trip(KH_PKEY_SM2, KH_PKEY_RSA_2048);
}

static void cms_rsa2048_in_p256(void **state)
{
	(void)state;
	cms_round_trip(KH_PKEY_RSA_2048, KH_PKEY_EC_P256);
}

static void cms_ed25519_in_p384(void **state)
{
	(void)state;
	cms_round_trip(KH_PKEY_ED25519, KH_PKEY_EC_P384);
}

static void cms_p256_in_p256(void **state)
{
	(void)state;
	cms_round_trip(KH_PKEY_EC_P256, KH_PKEY_EC_P256);
}

static void cms_does_not_open_for_another_recipient(void **state)
{
	static const enum kh_pkey_type types[] = {KH_PKEY_RSA_2048, KH_PKEY_EC_P256};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct kh_pkey *key = generate(KH_PKEY_EC_P256);
		struct kh_pkey *user = generate(types[i]);
		struct kh_pkey *other = generate(types[i]);
		EVP_PKEY *user_evp = kh_test_ossl_private(user);
		EVP_PKEY *other_evp = kh_test_ossl_private(other);
		struct kh_buf env = seal(KH_ENVELOPE_CMS, key, user);
		struct kh_buf p8;

		kh_buf_init(&p8, BUF_MAX, KH_BUF_PLAIN);
		assert_false(kh_test_cms_open(kh_buf_slice(&env), other_evp, &p8));
		assert_int_equal(p8.len, 0);
		assert_true(kh_test_cms_open(kh_buf_slice(&env), user_evp, &p8));
		kh_buf_cleanup(&p8);
		kh_buf_cleanup(&env);
		EVP_PKEY_free(user_evp);
		EVP_PKEY_free(other_evp);
		kh_pkey_free(&key);
		kh_pkey_free(&user);
		kh_pkey_free(&other);
	}
}

static void write_file(const char *path, struct kh_slice s)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(s.ptr, 1, s.len, f), s.len);
	assert_int_equal(fclose(f), 0);
}

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The openssl command line decrypts the CMS and prints the algorithms kh_envelope.h names. */
static void cms_opens_with_the_openssl_command(enum kh_pkey_type to_type, const char *expect)
{
	struct kh_pkey *key = generate(KH_PKEY_EC_P256);
	struct kh_pkey *user = generate(to_type);
	struct kh_buf env = seal(KH_ENVELOPE_CMS, key, user);
	struct kh_buf pem, want;
	char dir[256], f_env[300], f_key[300], f_out[300], f_want[300], cmd[2048];

	kh_buf_init(&pem, BUF_MAX, KH_BUF_SECURE);
	kh_buf_init(&want, BUF_MAX, KH_BUF_SECURE);
	assert_int_equal(kh_pkey_export_private_pem(user, &pem), KH_OK);
	assert_int_equal(kh_pkey_export_private_der(key, &want), KH_OK);
	kh_test_tmpdir(dir, sizeof(dir));
	snprintf(f_env, sizeof(f_env), "%s/env.der", dir);
	snprintf(f_key, sizeof(f_key), "%s/user.pem", dir);
	snprintf(f_out, sizeof(f_out), "%s/out.der", dir);
	snprintf(f_want, sizeof(f_want), "%s/want.der", dir);
	write_file(f_env, kh_buf_slice(&env));
	write_file(f_key, kh_buf_slice(&pem));
	write_file(f_want, kh_buf_slice(&want));
	snprintf(cmd, sizeof(cmd),
	         "openssl cms -decrypt -inform DER -in %s -inkey %s -binary -out %s 2>/dev/null && "
	         "cmp -s %s %s",
	         f_env, f_key, f_out, f_out, f_want);
	assert_int_equal(run(cmd), 0);
	snprintf(cmd, sizeof(cmd),
	         "openssl cms -cmsout -print -inform DER -in %s | grep -q 'algorithm: %s' && "
	         "openssl cms -cmsout -print -inform DER -in %s | grep -q 'algorithm: aes-256-cbc'",
	         f_env, expect, f_env);
	assert_int_equal(run(cmd), 0);
	/* The check can fail: the key of another user does not open it. */
	kh_pkey_free(&user);
	user = generate(to_type);
	kh_buf_clear(&pem);
	assert_int_equal(kh_pkey_export_private_pem(user, &pem), KH_OK);
	write_file(f_key, kh_buf_slice(&pem));
	snprintf(cmd, sizeof(cmd),
	         "openssl cms -decrypt -debug_decrypt -inform DER -in %s -inkey %s -binary -out %s "
	         ">/dev/null 2>&1",
	         f_env, f_key, f_out);
	assert_int_not_equal(run(cmd), 0);
	kh_test_rmtree(dir);
	kh_buf_cleanup(&pem);
	kh_buf_cleanup(&want);
	kh_buf_cleanup(&env);
	kh_pkey_free(&key);
	kh_pkey_free(&user);
}

static void cms_opens_with_openssl_cli_rsa(void **state)
{
	(void)state;
	cms_opens_with_the_openssl_command(KH_PKEY_RSA_2048, "rsaesOaep");
}

static void cms_opens_with_openssl_cli_p256(void **state)
{
	(void)state;
	cms_opens_with_the_openssl_command(KH_PKEY_EC_P256, "dhSinglePass-stdDH-sha256kdf-scheme");
}

/* ---- refusals and names ---- */

static void wrong_key_types_are_refused(void **state)
{
	struct kh_pkey *sm2 = generate(KH_PKEY_SM2);
	struct kh_pkey *sm2_pub = public_only(sm2);
	struct kh_pkey *p256 = generate(KH_PKEY_EC_P256);
	struct kh_pkey *rsa = kh_test_pkey_load("rsa2048.key.pem", true);
	struct kh_pkey *ed = generate(KH_PKEY_ED25519);
	struct kh_buf out;

	(void)state;
	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	for (enum kh_envelope_form f = KH_ENVELOPE_SKF; f <= KH_ENVELOPE_GMT0009; f++) {
		assert_int_equal(kh_envelope_seal(f, p256, sm2, &out), KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_envelope_seal(f, rsa, sm2, &out), KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_envelope_seal(f, sm2, p256, &out), KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_envelope_seal(f, sm2, rsa, &out), KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_envelope_seal(f, sm2_pub, sm2, &out), KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_envelope_seal(f, ed, sm2, &out), KH_ERR_WRONG_KEY_TYPE);
		assert_int_equal(kh_envelope_seal(f, sm2, ed, &out), KH_ERR_WRONG_KEY_TYPE);
	}
	assert_int_equal(kh_envelope_seal(KH_ENVELOPE_CMS, p256, sm2, &out), KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(kh_envelope_seal(KH_ENVELOPE_CMS, p256, ed, &out), KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(kh_envelope_seal(KH_ENVELOPE_CMS, sm2_pub, rsa, &out),
	                 KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(kh_envelope_seal(0, sm2, sm2, &out), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_envelope_seal((enum kh_envelope_form)99, sm2, sm2, &out),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(out.len, 0);
	/* The same keys the right way round work, appending after what out holds. */
	assert_int_equal(kh_buf_append(&out, KH_SLICE_LIT("xy")), KH_OK);
	assert_int_equal(kh_envelope_seal(KH_ENVELOPE_SKF, sm2, sm2_pub, &out), KH_OK);
	assert_int_equal(out.len, 2 + KH_ENVELOPE_SKF_LEN);
	assert_memory_equal(out.ptr, "xy", 2);
	assert_int_equal(kh_envelope_seal(KH_ENVELOPE_CMS, ed, p256, &out), KH_OK);
	kh_buf_cleanup(&out);
	kh_pkey_free(&sm2);
	kh_pkey_free(&sm2_pub);
	kh_pkey_free(&p256);
	kh_pkey_free(&rsa);
	kh_pkey_free(&ed);
}

static void form_names_round_trip(void **state)
{
	static const char *const names[] = {"skf", "gmt0009", "cms"};
	enum kh_envelope_form f = 0;

	(void)state;
	for (int i = 0; i < 3; i++) {
		enum kh_envelope_form want = (enum kh_envelope_form)(KH_ENVELOPE_SKF + i);

		assert_string_equal(kh_envelope_form_name(want), names[i]);
		assert_int_equal(kh_envelope_form_parse(kh_slice_from_cstr(names[i]), &f), KH_OK);
		assert_int_equal(f, want);
	}
	assert_null(kh_envelope_form_name(0));
	assert_null(kh_envelope_form_name((enum kh_envelope_form)4));
	f = KH_ENVELOPE_CMS;
	static const char *const bad[] = {"", "SKF", "skf ", "sk", "skff", "pkcs7", "cms\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(kh_envelope_form_parse(kh_slice_from_cstr(bad[i]), &f),
		                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_envelope_form_parse(KH_SLICE_EMPTY, &f), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_envelope_form_parse(KH_SLICE("skf\0", 4), &f), KH_ERR_BAD_INPUT);
	assert_int_equal(f, KH_ENVELOPE_CMS); /* untouched on failure */
}

static void default_forms(void **state)
{
	(void)state;
	assert_int_equal(kh_envelope_form_default(KH_PKEY_SM2), KH_ENVELOPE_SKF);
	assert_int_equal(kh_envelope_form_default(KH_PKEY_RSA_2048), KH_ENVELOPE_CMS);
	assert_int_equal(kh_envelope_form_default(KH_PKEY_RSA_3072), KH_ENVELOPE_CMS);
	assert_int_equal(kh_envelope_form_default(KH_PKEY_RSA_4096), KH_ENVELOPE_CMS);
	assert_int_equal(kh_envelope_form_default(KH_PKEY_EC_P256), KH_ENVELOPE_CMS);
	assert_int_equal(kh_envelope_form_default(KH_PKEY_EC_P384), KH_ENVELOPE_CMS);
	assert_int_equal(kh_envelope_form_default(KH_PKEY_ED25519), 0);
}

/* ---- allocation failures ---- */

struct seal_arg {
	enum kh_envelope_form form;
	const struct kh_pkey *key, *to;
};

static kh_rc seal_once(void *p)
{
	const struct seal_arg *a = p;
	struct kh_buf out;
	kh_rc rc;

	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	rc = kh_envelope_seal(a->form, a->key, a->to, &out);
	kh_buf_cleanup(&out);
	return rc;
}

static void seal_survives_allocation_failures(void **state)
{
	struct kh_pkey *sm2 = generate(KH_PKEY_SM2);
	struct kh_pkey *p256 = generate(KH_PKEY_EC_P256);
	struct kh_pkey *rsa = kh_test_pkey_load("rsa2048.key.pem", true);
	struct seal_arg cases[] = {
	    {KH_ENVELOPE_SKF, sm2, sm2},
	    {KH_ENVELOPE_GMT0009, sm2, sm2},
	    {KH_ENVELOPE_CMS, sm2, rsa},
	    {KH_ENVELOPE_CMS, rsa, p256},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		kh_test_alloc_failures(seal_once, &cases[i]);
	kh_pkey_free(&sm2);
	kh_pkey_free(&p256);
	kh_pkey_free(&rsa);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(skf_opens_with_openssl_and_carries_the_key),
	    cmocka_unit_test(gmt0009_opens_with_openssl_and_carries_the_key),
	    cmocka_unit_test(sm2_envelopes_do_not_open_for_another_recipient),
	    cmocka_unit_test(cms_p256_in_rsa2048),
	    cmocka_unit_test(cms_sm2_in_rsa2048),
	    cmocka_unit_test(cms_rsa2048_in_p256),
	    cmocka_unit_test(cms_ed25519_in_p384),
	    cmocka_unit_test(cms_p256_in_p256),
	    cmocka_unit_test(cms_does_not_open_for_another_recipient),
	    cmocka_unit_test(cms_opens_with_openssl_cli_rsa),
	    cmocka_unit_test(cms_opens_with_openssl_cli_p256),
	    cmocka_unit_test(wrong_key_types_are_refused),
	    cmocka_unit_test(form_names_round_trip),
	    cmocka_unit_test(default_forms),
	    cmocka_unit_test(seal_survives_allocation_failures),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
