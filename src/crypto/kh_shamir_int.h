/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared inside src/crypto/ (and with its tests and fuzz target) only: the constant-time
 * GF(2^8) arithmetic behind Shamir secret sharing, polynomial evaluation, a split that takes
 * its coefficients and set id from the caller (so tests can enumerate every polynomial and
 * prove perfect secrecy), and the share checksum (so tests can forge well-formed shares with
 * bad fields). No OpenSSL types here: the tests include this header.
 */
#ifndef KH_SHAMIR_INT_H
#define KH_SHAMIR_INT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kh_crypto.h"

/* Byte offsets inside a share (see the layout in kh_crypto.h). */
enum {
	KH_SHAMIR_OFF_VERSION = 0,
	KH_SHAMIR_OFF_THRESHOLD = 1,
	KH_SHAMIR_OFF_INDEX = 2,
	KH_SHAMIR_OFF_SET_ID = 3,
	KH_SHAMIR_OFF_Y = 11, /* y values, then the checksum */
	KH_SHAMIR_SET_ID_LEN = 8,
	KH_SHAMIR_CHECKSUM_LEN = 4,
	KH_SHAMIR_VERSION = 1,
};

/*
 * Multiplication in GF(2^8) modulo the AES polynomial x^8 + x^4 + x^3 + x + 1 (FIPS 197
 * section 4.2), by shift-and-add over all 8 bits with masks: no branches, no tables.
 */
uint8_t kh_gf256_mul(uint8_t a, uint8_t b);
/* Multiplicative inverse as a^254 by a fixed square-and-multiply chain; inv(0) = 0. */
uint8_t kh_gf256_inv(uint8_t a);
/* Horner: coeffs[0] + coeffs[1] x + ... + coeffs[degree_plus_one - 1] x^(degree_plus_one - 1).
 * Constant time in the coefficient values; the degree and x are public. */
uint8_t kh_shamir_eval(const uint8_t *coeffs, unsigned degree_plus_one, uint8_t x);

/*
 * kh_shamir_split with the randomness supplied: coeffs holds secret.len * (threshold - 1)
 * bytes, coeffs[j * (threshold - 1) + (t - 1)] being the coefficient of x^t in the polynomial
 * that shares secret byte j. Same validation, outputs and failure behaviour as kh_shamir_split.
 */
KH_MUST_CHECK kh_rc kh_shamir_split_with_coeffs(struct kh_slice secret, unsigned share_count,
                                                unsigned threshold,
                                                const uint8_t set_id[KH_SHAMIR_SET_ID_LEN],
                                                struct kh_slice coeffs, struct kh_buf *shares_out);

/* The first KH_SHAMIR_CHECKSUM_LEN bytes of SHA-256 over data (requires kh_crypto_init). */
KH_MUST_CHECK kh_rc kh_shamir_checksum(struct kh_slice data, uint8_t out[KH_SHAMIR_CHECKSUM_LEN]);

#endif
