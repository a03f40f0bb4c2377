/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded integer parsing (see kh_int.h).
 */
#include "base/kh_int.h"

/* Parses the digits of text into a magnitude, refusing overflow past limit. */
static kh_rc parse_magnitude(struct kh_slice text, uint64_t limit, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	KH_ENSURE(text.len > 0 && text.len <= 20, KH_ERR_BAD_ENCODING);
	KH_ENSURE(!(text.ptr[0] == '0' && text.len > 1), KH_ERR_BAD_ENCODING);
	for (i = 0; i < text.len; i++) {
		uint8_t c = text.ptr[i];
		KH_ENSURE(c >= '0' && c <= '9', KH_ERR_BAD_ENCODING);
		KH_ENSURE(v <= (limit - (uint64_t)(c - '0')) / 10, KH_ERR_BAD_INPUT);
		v = v * 10 + (uint64_t)(c - '0');
	}
	*out = v;
	return KH_OK;
}

kh_rc kh_parse_u64(struct kh_slice text, uint64_t min, uint64_t max, uint64_t *out_value)
{
	uint64_t v;

	KH_GUARD(parse_magnitude(text, UINT64_MAX, &v));
	KH_ENSURE(v >= min && v <= max, KH_ERR_BAD_INPUT);
	*out_value = v;
	return KH_OK;
}

kh_rc kh_parse_i64(struct kh_slice text, int64_t min, int64_t max, int64_t *out_value)
{
	bool neg = text.len > 0 && text.ptr[0] == '-';
	uint64_t mag;
	int64_t v;

	if (neg) {
		text.ptr++;
		text.len--;
		KH_GUARD(parse_magnitude(text, (uint64_t)INT64_MAX + 1, &mag));
		KH_ENSURE(mag != 0, KH_ERR_BAD_ENCODING);
		v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	} else {
		KH_GUARD(parse_magnitude(text, INT64_MAX, &mag));
		v = (int64_t)mag;
	}
	KH_ENSURE(v >= min && v <= max, KH_ERR_BAD_INPUT);
	*out_value = v;
	return KH_OK;
}
