/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crypto test helpers (see kh_test_crypto.h).
 */
#include "kh_test_crypto.h"

#include <stdio.h>

int kh_test_crypto_setup(void **state)
{
	(void)state;
	return kh_crypto_init() == KH_OK ? 0 : -1;
}

struct kh_buf kh_test_pkey_file(const char *name)
{
	char path[256];

	assert_true((size_t)snprintf(path, sizeof(path), "pkey/%s", name) < sizeof(path));
	return kh_test_read_data(path);
}

struct kh_pkey *kh_test_pkey_load(const char *name, bool private_key)
{
	struct kh_buf b = kh_test_pkey_file(name);
	struct kh_pkey *key = NULL;

	if (private_key)
		assert_int_equal(kh_pkey_import_private(kh_buf_slice(&b), &key), KH_OK);
	else
		assert_int_equal(kh_pkey_import_public(kh_buf_slice(&b), &key), KH_OK);
	kh_buf_cleanup(&b);
	return key;
}
