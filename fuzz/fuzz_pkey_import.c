/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes key import (PKCS#8 and SubjectPublicKeyInfo, DER and PEM). Properties checked on every
 * input, not only "no crash": an input that imports as a private key exports again, and the
 * export imports to a key of the same type with the same public key; a public key's PEM export
 * imports again as the same type; every rejected input leaves the output pointer NULL.
 */
#include <stdlib.h>

#include "crypto/kh_crypto.h"
#include "kh_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum {
	OUT_MAX = 128 * 1024
};

/* Public DER of key, appended to out (abort on failure: a key we hold must export). */
static void public_der(const struct kh_pkey *key, struct kh_buf *out)
{
	if (kh_pkey_export_public_der(key, out) != KH_OK)
		abort();
}

/* The key exports in both forms, and the private export re-imports to the same key. */
static void check_private(const struct kh_pkey *key)
{
	struct kh_buf der, pem, pub1, pub2;
	struct kh_pkey *back = NULL;

	kh_buf_init(&der, OUT_MAX, KH_BUF_SECURE);
	kh_buf_init(&pem, OUT_MAX, KH_BUF_SECURE);
	kh_buf_init(&pub1, OUT_MAX, KH_BUF_PLAIN);
	kh_buf_init(&pub2, OUT_MAX, KH_BUF_PLAIN);
	if (kh_pkey_export_private_der(key, &der) != KH_OK ||
	    kh_pkey_export_private_pem(key, &pem) != KH_OK)
		abort();
	if (kh_pkey_import_private(kh_buf_slice(&der), &back) != KH_OK ||
	    kh_pkey_type_of(back) != kh_pkey_type_of(key) || !kh_pkey_has_private(back))
		abort();
	public_der(key, &pub1);
	public_der(back, &pub2);
	if (!kh_slice_eq(kh_buf_slice(&pub1), kh_buf_slice(&pub2)))
		abort();
	kh_pkey_free(&back);
	kh_buf_cleanup(&der);
	kh_buf_cleanup(&pem);
	kh_buf_cleanup(&pub1);
	kh_buf_cleanup(&pub2);
}

static void check_public(const struct kh_pkey *key)
{
	struct kh_buf der, pem;
	struct kh_pkey *back = NULL;

	kh_buf_init(&der, OUT_MAX, KH_BUF_PLAIN);
	kh_buf_init(&pem, OUT_MAX, KH_BUF_PLAIN);
	public_der(key, &der);
	if (kh_pkey_export_public_pem(key, &pem) != KH_OK)
		abort();
	if (kh_pkey_import_public(kh_buf_slice(&pem), &back) != KH_OK ||
	    kh_pkey_type_of(back) != kh_pkey_type_of(key) || kh_pkey_has_private(back))
		abort();
	kh_pkey_free(&back);
	kh_buf_cleanup(&der);
	kh_buf_cleanup(&pem);
}

/* libFuzzer calls this before the first input; the corpus replay driver does not, and there
 * the first input initialises. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kh_fuzz_crypto_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_slice in = KH_SLICE(data, size);
	struct kh_pkey *key = NULL;

	kh_fuzz_crypto_init();
	if (kh_pkey_import_private(in, &key) == KH_OK) {
		check_private(key);
		kh_pkey_free(&key);
	} else if (key != NULL) {
		abort();
	}
	if (kh_pkey_import_public(in, &key) == KH_OK) {
		check_public(key);
		kh_pkey_free(&key);
	} else if (key != NULL) {
		abort();
	}
	return 0;
}
