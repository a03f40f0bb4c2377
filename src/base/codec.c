/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Constant-time Base64 and hex (see kh_codec.h).
 *
 * Character classes are computed with masks instead of tables or branches on the data, in the
 * manner of libsodium's codecs: each helper returns the value of a character, or a flag bit when
 * the character is outside the alphabet, and the flags are OR-ed together and tested once.
 */
#include "base/kh_codec.h"

#include <string.h>

#include "base/kh_mem.h"

/* 0xff when a == b, else 0, without branches. Arguments are 0..255. */
static unsigned eq_mask(unsigned a, unsigned b)
{
	return ((((a ^ b) - 1U) >> 8) & 0xffU);
}

/* 0xff when lo <= c <= hi, else 0. Arguments are 0..255. */
static unsigned range_mask(unsigned c, unsigned lo, unsigned hi)
{
	return ((((c - lo) >> 8) | ((hi - c) >> 8)) & 0xffU) ^ 0xffU;
}

/* 6-bit value to its Base64 character. */
static uint8_t b64_char(unsigned v)
{
	unsigned c = 0;
	c |= range_mask(v, 0, 25) & (v + 'A');
	c |= range_mask(v, 26, 51) & (v - 26 + 'a');
	c |= range_mask(v, 52, 61) & (v - 52 + '0');
	c |= eq_mask(v, 62) & '+';
	c |= eq_mask(v, 63) & '/';
	return (uint8_t)c;
}

/* Base64 character to its value, or 0x100 set when not in the alphabet. */
static unsigned b64_value(unsigned c)
{
	unsigned v = 0;
	unsigned ok = 0;
	unsigned m;

	m = range_mask(c, 'A', 'Z');
	v |= m & (c - 'A');
	ok |= m;
	m = range_mask(c, 'a', 'z');
	v |= m & (c - 'a' + 26);
	ok |= m;
	m = range_mask(c, '0', '9');
	v |= m & (c - '0' + 52);
	ok |= m;
	m = eq_mask(c, '+');
	v |= m & 62;
	ok |= m;
	m = eq_mask(c, '/');
	v |= m & 63;
	ok |= m;
	return (v & 0x3fU) | (((ok ^ 0xffU) << 1) & 0x100U);
}

size_t kh_base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t kh_base64_decoded_max(size_t n)
{
	return n / 4 * 3;
}

kh_rc kh_base64_encode(struct kh_slice in, struct kh_buf *out)
{
	size_t full = in.len / 3;
	size_t rest = in.len % 3;
	uint8_t *o;
	size_t i;

	KH_ENSURE(in.len <= (SIZE_MAX / 4) * 3 - 2, KH_ERR_TOO_LARGE);
	KH_GUARD(kh_buf_extend(out, kh_base64_encoded_len(in.len), &o));
	for (i = 0; i < full; i++) {
		unsigned w = (unsigned)in.ptr[3 * i] << 16 | (unsigned)in.ptr[3 * i + 1] << 8 |
		             in.ptr[3 * i + 2];
		o[4 * i] = b64_char(w >> 18);
		o[4 * i + 1] = b64_char((w >> 12) & 0x3f);
		o[4 * i + 2] = b64_char((w >> 6) & 0x3f);
		o[4 * i + 3] = b64_char(w & 0x3f);
	}
	if (rest > 0) {
		unsigned w = (unsigned)in.ptr[3 * full] << 16;
		uint8_t *q = o + 4 * full;
		if (rest == 2)
			w |= (unsigned)in.ptr[3 * full + 1] << 8;
		q[0] = b64_char(w >> 18);
		q[1] = b64_char((w >> 12) & 0x3f);
		q[2] = rest == 2 ? b64_char((w >> 6) & 0x3f) : '=';
		q[3] = '=';
	}
	kh_buf_commit(out, kh_base64_encoded_len(in.len));
	return KH_OK;
}

kh_rc kh_base64_decode(struct kh_slice in, struct kh_buf *out)
{
	size_t quanta;
	size_t pad = 0;
	size_t out_len;
	unsigned bad = 0;
	uint8_t *o;
	size_t i;

	KH_ENSURE(in.len % 4 == 0, KH_ERR_BAD_ENCODING);
	if (in.len == 0)
		return KH_OK;
	/* Padding position is public (it follows from the length of the value). */
	if (in.ptr[in.len - 1] == '=')
		pad = in.ptr[in.len - 2] == '=' ? 2 : 1;
	quanta = in.len / 4;
	out_len = quanta * 3 - pad;
	KH_GUARD(kh_buf_extend(out, out_len, &o));

	for (i = 0; i < quanta; i++) {
		const uint8_t *q = in.ptr + 4 * i;
		bool last = i + 1 == quanta;
		unsigned a = b64_value(q[0]);
		unsigned b = b64_value(q[1]);
		unsigned c = (last && pad == 2) ? 0 : b64_value(q[2]);
		unsigned d = (last && pad >= 1) ? 0 : b64_value(q[3]);
		unsigned w = (a & 0x3f) << 18 | (b & 0x3f) << 12 | (c & 0x3f) << 6 | (d & 0x3f);
		size_t n = last ? 3 - pad : 3;

		bad |= (a | b | c | d) & 0x100U;
		o[3 * i] = (uint8_t)(w >> 16);
		if (n > 1)
			o[3 * i + 1] = (uint8_t)(w >> 8);
		if (n > 2)
			o[3 * i + 2] = (uint8_t)w;
		/* RFC 4648 3.5: the bits that padding leaves over must be zero. */
		if (last && pad == 1)
			bad |= (w & 0xffU);
		if (last && pad == 2)
			bad |= (w & 0xffffU);
	}
	if (bad != 0) {
		kh_wipe(o, out_len);
		return KH_ERR_BAD_ENCODING;
	}
	kh_buf_commit(out, out_len);
	return KH_OK;
}

static uint8_t hex_char(unsigned v)
{
	/* 0..9 -> '0'..'9', 10..15 -> 'a'..'f' */
	return (uint8_t)(v + '0' + (range_mask(v, 10, 15) & ('a' - '0' - 10)));
}

/* Hex digit to its value, or 0x100 set when not a hex digit. */
static unsigned hex_value(unsigned c)
{
	unsigned v = 0;
	unsigned ok = 0;
	unsigned m;

	m = range_mask(c, '0', '9');
	v |= m & (c - '0');
	ok |= m;
	m = range_mask(c, 'a', 'f');
	v |= m & (c - 'a' + 10);
	ok |= m;
	m = range_mask(c, 'A', 'F');
	v |= m & (c - 'A' + 10);
	ok |= m;
	return (v & 0xfU) | (((ok ^ 0xffU) << 1) & 0x100U);
}

kh_rc kh_hex_encode(struct kh_slice in, struct kh_buf *out)
{
	uint8_t *o;
	size_t i;

	KH_ENSURE(in.len <= SIZE_MAX / 2 - 1, KH_ERR_TOO_LARGE);
	KH_GUARD(kh_buf_extend(out, in.len * 2, &o));
	for (i = 0; i < in.len; i++) {
		o[2 * i] = hex_char(in.ptr[i] >> 4);
		o[2 * i + 1] = hex_char(in.ptr[i] & 0xfU);
	}
	kh_buf_commit(out, in.len * 2);
	return KH_OK;
}

kh_rc kh_hex_decode(struct kh_slice in, struct kh_buf *out)
{
	unsigned bad = 0;
	uint8_t *o;
	size_t i;

	KH_ENSURE(in.len % 2 == 0, KH_ERR_BAD_ENCODING);
	KH_GUARD(kh_buf_extend(out, in.len / 2, &o));
	for (i = 0; i < in.len / 2; i++) {
		unsigned hi = hex_value(in.ptr[2 * i]);
		unsigned lo = hex_value(in.ptr[2 * i + 1]);
		bad |= (hi | lo) & 0x100U;
		o[i] = (uint8_t)((hi & 0xfU) << 4 | (lo & 0xfU));
	}
	if (bad != 0) {
		kh_wipe(o, in.len / 2);
		return KH_ERR_BAD_ENCODING;
	}
	kh_buf_commit(out, in.len / 2);
	return KH_OK;
}

int kh_hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool kh_name_valid(const char *s, size_t max)
{
	if (s == NULL)
		return false;
	size_t n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}
