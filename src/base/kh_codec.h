/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict text codecs: standard Base64 with padding (RFC 4648 section 4) and hex.
 *
 * Decoders reject rather than repair: bad characters, missing or extra padding, non-zero
 * padding bits, whitespace, and anything after the last quantum are KH_ERR_BAD_ENCODING, so one
 * value has exactly one encoding. Both directions run in time that depends only on the length,
 * not on the bytes (no table lookups indexed by data), because they carry keys and shares.
 * Output is appended to a kh_buf; pass a KH_BUF_SECURE buffer for secrets.
 */
#ifndef KH_CODEC_H
#define KH_CODEC_H

#include <stdbool.h>

#include "base/kh_buf.h"

/* Length of the Base64 text for n bytes (no NUL). */
size_t kh_base64_encoded_len(size_t n);
/* Upper bound of the bytes decoded from n characters. */
size_t kh_base64_decoded_max(size_t n);

KH_MUST_CHECK kh_rc kh_base64_encode(struct kh_slice in, struct kh_buf *out);
KH_MUST_CHECK kh_rc kh_base64_decode(struct kh_slice in, struct kh_buf *out);

/* Lower-case hex out; decoding accepts either case and rejects an odd length. */
KH_MUST_CHECK kh_rc kh_hex_encode(struct kh_slice in, struct kh_buf *out);
KH_MUST_CHECK kh_rc kh_hex_decode(struct kh_slice in, struct kh_buf *out);
/* One hex digit (either case) to its value 0-15, or -1 for anything else. Not constant time:
 * for parsers of public text (percent escapes, names), never for secrets. */
int kh_hex_digit(uint8_t c);

/* A name as keyhold's APIs take them (key, CA and profile names, external key ids, path
 * segments): 1 to max characters of [A-Za-z0-9_.-]. NULL is none. */
bool kh_name_valid(const char *s, size_t max);

#endif
