/* SPDX-License-Identifier: Apache-2.0 */
/*
 * XKS byte formats against the known answers of XKS.md: AES-256-GCM with the specified
 * associated data (key 00..1f, IV 00..0b, "Hello World!") gives the published ciphertext, tags
 * and integrity values, and the specification's own integrity example; the length fields
 * refuse what they cannot say.
 */
#include "kh_test_crypto.h"

#include <string.h>

#include "base/kh_codec.h"
#include "crypto/kh_crypto.h"
#include "keys/kh_xks_format.h"

#define PLAINTEXT "Hello World!"
#define AAD "project=nile,department=marketing"
#define METADATA "key_version=1"

/* Standard Base64 of data. */
static void b64(struct kh_slice data, char *out, size_t out_len)
{
	struct kh_buf b;
	kh_buf_init(&b, 256, KH_BUF_PLAIN);
	assert_int_equal(kh_base64_encode(data, &b), KH_OK);
	assert_true(b.len < out_len);
	memcpy(out, b.ptr, b.len);
	out[b.len] = '\0';
	kh_buf_cleanup(&b);
}

struct vector {
	const char *aad;
	const char *metadata;
	const char *ciphertext;
	const char *tag;
	const char *integrity;
};

static void check_vector(const struct vector *v)
{
	uint8_t key[32], iv[12], ct[sizeof(PLAINTEXT) - 1], tag[16], iv_value[KH_XKS_INTEGRITY_LEN];
	char text[128];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(iv); i++)
		iv[i] = (uint8_t)i;
	struct kh_slice aad = kh_slice_from_cstr(v->aad), md = kh_slice_from_cstr(v->metadata);
	struct kh_buf ad;
	kh_buf_init(&ad, 1024, KH_BUF_PLAIN);
	assert_int_equal(kh_xks_aad(aad, md, &ad), KH_OK);
	assert_int_equal(ad.len, 2 + aad.len + 1 + md.len);
	struct kh_aead_key *k = NULL;
	assert_int_equal(kh_aead_key_new(KH_AEAD_AES_256_GCM, KH_SLICE(key, sizeof(key)), &k),
	                 KH_OK);
	struct kh_slice pt = kh_slice_from_cstr(PLAINTEXT);
	assert_int_equal(kh_aead_seal(k, KH_SLICE(iv, sizeof(iv)), kh_buf_slice(&ad), pt, ct, tag),
	                 KH_OK);
	b64(KH_SLICE(ct, sizeof(ct)), text, sizeof(text));
	assert_string_equal(text, v->ciphertext);
	b64(KH_SLICE(tag, sizeof(tag)), text, sizeof(text));
	assert_string_equal(text, v->tag);
	assert_int_equal(kh_xks_integrity(aad, md, KH_SLICE(iv, sizeof(iv)),
	                                  KH_SLICE(ct, sizeof(ct)), KH_SLICE(tag, sizeof(tag)),
	                                  iv_value),
	                 KH_OK);
	b64(KH_SLICE(iv_value, sizeof(iv_value)), text, sizeof(text));
	assert_string_equal(text, v->integrity);
	/* And it opens again only with the same associated data. */
	uint8_t back[sizeof(ct)];
	assert_int_equal(kh_aead_open(k, KH_SLICE(iv, sizeof(iv)), kh_buf_slice(&ad),
	                              KH_SLICE(ct, sizeof(ct)), KH_SLICE(tag, sizeof(tag)), back),
	                 KH_OK);
	assert_memory_equal(back, PLAINTEXT, sizeof(back));
	ad.ptr[0] ^= 1;
	assert_int_equal(kh_aead_open(k, KH_SLICE(iv, sizeof(iv)), kh_buf_slice(&ad),
	                              KH_SLICE(ct, sizeof(ct)), KH_SLICE(tag, sizeof(tag)), back),
	                 KH_ERR_DECRYPT);
	kh_aead_key_free(&k);
	kh_buf_cleanup(&ad);
}

static void the_known_answers_of_the_design_page(void **state)
{
	(void)state;
	static const struct vector vectors[] = {
	    {"", "", "D2e6d6rFlXT/LfOq",
	     "+DX8ZJOvQVMTeK7gwOAsdg==", "doMOaf+m+SLxEOfkUsWQLZ7ogxHdDMkxCl3238JWldo="},
	    {AAD, "", "D2e6d6rFlXT/LfOq",
	     "oD3KqtYrMSdh/L3FQun+ag==", "ndew6iqil9so4xVeXqDoAWYgTm8gWoAIkLjPnyJAWhk="},
	    {AAD, METADATA, "D2e6d6rFlXT/LfOq",
	     "z16Jpi+YEVrPfy7xOkRNVw==", "f3I7NWF4DGjk7+jfvjeSU5DvQJDKZ/RQztaBma/YHso="},
	};
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		check_vector(&vectors[i]);
}

static void the_specifications_integrity_example(void **state)
{
	(void)state;
	struct kh_buf md, iv, ct, tag;
	uint8_t out[KH_XKS_INTEGRITY_LEN];
	char text[64];
	struct kh_buf *bufs[] = {&md, &iv, &ct, &tag};
	const char *b64s[] = {"a2V5X3ZlcnNpb249MQ==", "HMrlRw85cAJUd5Ax", "ghxkK1txeDNn3q8Y",
	                      "vBxN2ncH1oEkR8WVXpmyYQ=="};
	for (size_t i = 0; i < 4; i++) {
		kh_buf_init(bufs[i], 64, KH_BUF_PLAIN);
		assert_int_equal(kh_base64_decode(kh_slice_from_cstr(b64s[i]), bufs[i]), KH_OK);
	}
	assert_int_equal(kh_xks_integrity(kh_slice_from_cstr(AAD), kh_buf_slice(&md),
	                                  kh_buf_slice(&iv), kh_buf_slice(&ct), kh_buf_slice(&tag),
	                                  out),
	                 KH_OK);
	b64(KH_SLICE(out, sizeof(out)), text, sizeof(text));
	assert_string_equal(text, "qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc=");
	for (size_t i = 0; i < 4; i++)
		kh_buf_cleanup(bufs[i]);
}

static void length_fields_bound_aad_and_metadata(void **state)
{
	(void)state;
	static uint8_t big[KH_XKS_AAD_MAX + 1];
	struct kh_buf out;
	kh_buf_init(&out, 2 * sizeof(big), KH_BUF_PLAIN);
	assert_int_equal(
	    kh_xks_aad(KH_SLICE(big, KH_XKS_AAD_MAX), KH_SLICE(big, KH_XKS_METADATA_MAX), &out),
	    KH_OK);
	assert_int_equal(out.len, 2 + KH_XKS_AAD_MAX + 1 + KH_XKS_METADATA_MAX);
	assert_int_equal(out.ptr[0], 0xff);
	assert_int_equal(out.ptr[1], 0xff);
	assert_int_equal(out.ptr[2 + KH_XKS_AAD_MAX], 0xff);
	kh_buf_clear(&out);
	assert_int_equal(kh_xks_aad(KH_SLICE(big, sizeof(big)), KH_SLICE_EMPTY, &out),
	                 KH_ERR_TOO_LARGE);
	assert_int_equal(kh_xks_aad(KH_SLICE_EMPTY, KH_SLICE(big, KH_XKS_METADATA_MAX + 1), &out),
	                 KH_ERR_TOO_LARGE);
	assert_int_equal(out.len, 0);
	/* No room: nothing half-written is left behind. */
	struct kh_buf small;
	kh_buf_init(&small, 4, KH_BUF_PLAIN);
	assert_int_not_equal(kh_xks_aad(kh_slice_from_cstr(AAD), KH_SLICE_EMPTY, &small), KH_OK);
	assert_int_equal(small.len, 0);
	kh_buf_cleanup(&small);
	kh_buf_cleanup(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(the_known_answers_of_the_design_page),
	    cmocka_unit_test(the_specifications_integrity_example),
	    cmocka_unit_test(length_fields_bound_aad_and_metadata),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
