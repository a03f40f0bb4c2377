/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A real SoftHSM2 token for tests: a private token directory and configuration under a test's
 * temporary directory, initialised with softhsm2-util. SoftHSM2 is a build dependency: when it
 * is missing the test fails rather than skips.
 */
#ifndef KH_TEST_HSM_H
#define KH_TEST_HSM_H

/* Writes dir/softhsm2.conf (tokens in dir/tokens), points SOFTHSM2_CONF at it and initialises a
 * token with the label and PINs. */
void kh_test_hsm_token(const char *dir, const char *label, const char *so_pin, const char *pin);
/* The SoftHSM2 module's path. */
const char *kh_test_hsm_module(void);

#endif
