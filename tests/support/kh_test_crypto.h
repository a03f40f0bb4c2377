/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the crypto tests: library start-up as a cmocka group setup, and loading the
 * test keys and vectors under tests/data/pkey/ (made by tests/data/gen_sign_vectors.sh).
 */
#ifndef KH_TEST_CRYPTO_H
#define KH_TEST_CRYPTO_H

#include <stdbool.h>

#include "kh_test.h"
#include "crypto/kh_crypto.h"

/* cmocka group setup: kh_crypto_init must succeed. */
int kh_test_crypto_setup(void **state);
/* The bytes of tests/data/pkey/<name> in a plain buffer (test failure if missing). */
struct kh_buf kh_test_pkey_file(const char *name);
/* Imports tests/data/pkey/<name> as a private or public key (test failure if it does not). */
struct kh_pkey *kh_test_pkey_load(const char *name, bool private_key);

#endif
