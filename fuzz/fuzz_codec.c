/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the Base64 and hex decoders. Properties checked on every input, not only "no crash":
 * a value that decodes must re-encode to exactly the input (one value, one encoding), and a
 * rejected input must leave the output buffer empty.
 */
#include <stdlib.h>
#include <string.h>

#include "base/kh_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(kh_rc (*decode)(struct kh_slice, struct kh_buf *),
                  kh_rc (*encode)(struct kh_slice, struct kh_buf *), struct kh_slice in,
                  int case_insensitive)
{
	struct kh_buf dec, enc;

	kh_buf_init(&dec, in.len + 1, KH_BUF_SECURE);
	kh_buf_init(&enc, 2 * in.len + 8, KH_BUF_PLAIN);
	if (decode(in, &dec) == KH_OK) {
		if (encode(kh_buf_slice(&dec), &enc) != KH_OK || enc.len != in.len)
			abort();
		for (size_t i = 0; i < in.len; i++) {
			uint8_t a = enc.ptr[i], b = in.ptr[i];
			if (case_insensitive && b >= 'A' && b <= 'F')
				b = (uint8_t)(b - 'A' + 'a');
			if (a != b)
				abort();
		}
	} else if (dec.len != 0) {
		abort();
	}
	kh_buf_cleanup(&dec);
	kh_buf_cleanup(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_slice in = KH_SLICE(data, size);

	check(kh_base64_decode, kh_base64_encode, in, 0);
	check(kh_hex_decode, kh_hex_encode, in, 1);
	return 0;
}
