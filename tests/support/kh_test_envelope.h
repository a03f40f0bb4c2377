/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opening the key management centre's envelopes without crypto/envelope.c (the tests' own
 * reading of PKI.md "Envelope for the encryption private key"): the GM/T 0016 blob parsed
 * field by field, its SM2Cipher rebuilt as DER and decrypted by OpenSSL's EVP, the private key
 * decrypted with SM4-ECB; the GM/T 0009 DER taken apart by a small reader; CMS opened with
 * OpenSSL's CMS_decrypt. Every fixed field is asserted on the way.
 */
#ifndef KH_TEST_ENVELOPE_H
#define KH_TEST_ENVELOPE_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "kh_test.h"
#include "crypto/kh_crypto.h"
#include "crypto/kh_envelope.h"

/* The OpenSSL key of key's private half, through its PKCS#8 export. */
EVP_PKEY *kh_test_ossl_private(const struct kh_pkey *key);
/* 04 || X || Y of an SM2 key, as OpenSSL encodes it. */
void kh_test_sm2_point(EVP_PKEY *evp, uint8_t out[65]);
/* True when d * G is the point 04 || X || Y on the SM2 curve. */
bool kh_test_sm2_scalar_matches(const uint8_t d[32], const uint8_t point[65]);
void kh_test_sm4_ecb_decrypt(const uint8_t key[16], const uint8_t *in, size_t len, uint8_t *out);
bool kh_test_sm2_decrypt(EVP_PKEY *key, const uint8_t *der, size_t der_len, uint8_t out[16]);
uint32_t kh_test_u32le(const uint8_t *p);
bool kh_test_all_zero(const uint8_t *p, size_t n);
size_t kh_test_der_uint(const uint8_t v[32], uint8_t *out);
void kh_test_der_take(const uint8_t **p, size_t *len, uint8_t tag, const uint8_t **content,
                      size_t *content_len, size_t *whole_len);
/* SKF / GM/T 0009: the fields checked against point (the enveloped pair's public key), d out;
 * false when the SM2 decryption of the SM4 key fails (another recipient). */
bool kh_test_skf_open(struct kh_slice blob, EVP_PKEY *recipient, const uint8_t point[65],
                      uint8_t d[32]);
bool kh_test_gmt0009_open(struct kh_slice env, EVP_PKEY *recipient, const uint8_t point[65],
                          uint8_t d[32]);
/* CMS: the PKCS#8 bytes appended to out, or false. */
bool kh_test_cms_open(struct kh_slice env, EVP_PKEY *recipient, struct kh_buf *out);

/* True when the envelope opens with recipient (a private key) and holds the private half of
 * expected (a public key: of the certificate the pair belongs to); false when it does not
 * open. Fields that are malformed fail the test. */
bool kh_test_envelope_holds(enum kh_envelope_form form, struct kh_slice env,
                            const struct kh_pkey *recipient, const struct kh_pkey *expected);

#endif
