/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The byte formats the AWS External Key Store API (XKS.md) fixes for AES-256-GCM, which keys/
 * encrypts and decrypts with for the XKS proxy; independent of routes and credentials.
 *
 *   associated data = BE16(len(aad)) || aad || U8(len(metadata)) || metadata
 *   integrity value = SHA-256(aad || metadata || iv || ciphertext || tag)
 *
 * where aad is the request's additionalAuthenticatedData and metadata its ciphertextMetadata
 * (each empty when absent). The integrity value is what AWS calls
 * ciphertextDataIntegrityValue, sent Base64-encoded.
 */
#ifndef KH_XKS_FORMAT_H
#define KH_XKS_FORMAT_H

#include <stdint.h>

#include "base/kh_buf.h"

#define KH_XKS_AAD_MAX 65535u    /* additionalAuthenticatedData: its length is a BE16 */
#define KH_XKS_METADATA_MAX 255u /* ciphertextMetadata: its length is a U8 */
#define KH_XKS_INTEGRITY_LEN 32u /* SHA-256 */
#define KH_XKS_IV_LEN 12u        /* the IV we make; decrypt also takes 16 */
#define KH_XKS_IV_LEN_LONG 16u
#define KH_XKS_TAG_LEN 16u

/* Appends the associated data to out. KH_ERR_TOO_LARGE when aad or metadata is longer than its
 * length field can say. */
KH_MUST_CHECK kh_rc kh_xks_aad(struct kh_slice aad, struct kh_slice metadata, struct kh_buf *out);

/* The integrity value of an encryption's output. */
KH_MUST_CHECK kh_rc kh_xks_integrity(struct kh_slice aad, struct kh_slice metadata,
                                     struct kh_slice iv, struct kh_slice ciphertext,
                                     struct kh_slice tag, uint8_t out[KH_XKS_INTEGRITY_LEN]);

#endif
