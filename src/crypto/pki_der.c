/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DER writer and reader behind CRLs and OCSP responses (X.690 8 and 10): definite
 * lengths of at most four bytes, one-byte tags, minimal INTEGERs, UTCTime/GeneralizedTime in
 * the forms RFC 5280 4.1.2.5 fixes (Zulu, seconds, no fractions). Also the civil calendar
 * conversions, since C11 has no timegm.
 */
#include <string.h>

#include "crypto/kh_pki_status_int.h"

static size_t header_len(size_t len)
{
	if (len < 0x80)
		return 2;
	size_t n = 0;
	for (size_t v = len; v != 0; v >>= 8)
		n++;
	return 2 + n;
}

static void header_write(uint8_t *dst, uint8_t tag, size_t len)
{
	size_t hl = header_len(len);
	dst[0] = tag;
	if (hl == 2) {
		dst[1] = (uint8_t)len;
		return;
	}
	dst[1] = (uint8_t)(0x80 | (hl - 2));
	for (size_t i = hl - 1; i >= 2; i--) {
		dst[i] = (uint8_t)(len & 0xff);
		len >>= 8;
	}
}

kh_rc kh_der_header(struct kh_buf *out, uint8_t tag, size_t len)
{
	uint8_t *dst = NULL;
	KH_ENSURE(len <= 0xffffffffu, KH_ERR_TOO_LARGE);
	KH_GUARD(kh_buf_extend(out, header_len(len), &dst));
	header_write(dst, tag, len);
	kh_buf_commit(out, header_len(len));
	return KH_OK;
}

kh_rc kh_der_tlv(struct kh_buf *out, uint8_t tag, struct kh_slice content)
{
	KH_GUARD(kh_der_header(out, tag, content.len));
	return content.len > 0 ? kh_buf_append(out, content) : KH_OK;
}

kh_rc kh_der_wrap_from(struct kh_buf *b, size_t start, uint8_t tag)
{
	uint8_t *dst = NULL;
	size_t len = b->len - start;
	KH_ENSURE(start <= b->len, KH_ERR_INTERNAL);
	KH_ENSURE(len <= 0xffffffffu, KH_ERR_TOO_LARGE);
	size_t hl = header_len(len);
	KH_GUARD(kh_buf_extend(b, hl, &dst));
	memmove(b->ptr + start + hl, b->ptr + start, len);
	header_write(b->ptr + start, tag, len);
	kh_buf_commit(b, hl);
	return KH_OK;
}

kh_rc kh_der_uint(struct kh_buf *out, uint8_t tag, uint64_t v)
{
	uint8_t raw[9];
	size_t n = 0;
	for (int shift = 56; shift >= 0; shift -= 8) {
		uint8_t byte = (uint8_t)(v >> shift);
		if (n == 0 && byte == 0)
			continue;
		if (n == 0 && (byte & 0x80) != 0)
			raw[n++] = 0; /* X.690 8.3.2: a sign byte keeps it positive */
		raw[n++] = byte;
	}
	if (n == 0)
		raw[n++] = 0;
	return kh_der_tlv(out, tag, KH_SLICE(raw, n));
}

kh_rc kh_der_serial(struct kh_buf *out, struct kh_slice serial)
{
	size_t skip = 0;
	KH_ENSURE(serial.ptr != NULL && serial.len > 0, KH_ERR_BAD_INPUT);
	while (skip < serial.len && serial.ptr[skip] == 0)
		skip++;
	/* RFC 5280 4.1.2.2: positive, at most 20 octets. */
	KH_ENSURE(skip < serial.len && serial.len - skip <= KH_PKI_SERIAL_MAX_LEN,
	          KH_ERR_BAD_INPUT);
	struct kh_slice mag = KH_SLICE(serial.ptr + skip, serial.len - skip);
	bool pad = (mag.ptr[0] & 0x80) != 0;
	KH_GUARD(kh_der_header(out, DER_INTEGER, mag.len + (pad ? 1 : 0)));
	if (pad)
		KH_GUARD(kh_buf_append_byte(out, 0));
	return kh_buf_append(out, mag);
}

/* Days since 1970-01-01 to year, month, day (proleptic Gregorian; H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2 ? 1 : 0;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Writes v as exactly n decimal digits. */
static void put_digits(uint8_t *dst, unsigned v, size_t n)
{
	for (size_t i = n; i > 0; i--) {
		dst[i - 1] = (uint8_t)('0' + v % 10);
		v /= 10;
	}
}

kh_rc kh_der_time(struct kh_buf *out, int64_t t, bool generalized)
{
	uint8_t text[15];
	int64_t y;
	unsigned mo, d;
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	unsigned secs = (unsigned)(t - days * 86400);

	civil_from_days(days, &y, &mo, &d);
	KH_ENSURE(y >= 1950 && y <= 9999, KH_ERR_BAD_INPUT);
	/* UTCTime YYMMDDHHMMSSZ, GeneralizedTime YYYYMMDDHHMMSSZ (RFC 5280 4.1.2.5.1-2). */
	bool utc = !generalized && y < 2050;
	size_t yl = utc ? 2 : 4;
	put_digits(text, (unsigned)(utc ? y % 100 : y), yl);
	put_digits(text + yl, mo, 2);
	put_digits(text + yl + 2, d, 2);
	put_digits(text + yl + 4, secs / 3600, 2);
	put_digits(text + yl + 6, secs / 60 % 60, 2);
	put_digits(text + yl + 8, secs % 60, 2);
	text[yl + 10] = 'Z';
	return kh_der_tlv(out, utc ? DER_UTC_TIME : DER_GENERALIZED_TIME, KH_SLICE(text, yl + 11));
}

kh_rc kh_der_extension(struct kh_buf *out, struct kh_slice oid_content, bool critical,
                       struct kh_slice value)
{
	static const uint8_t true_der[] = {DER_BOOLEAN, 1, 0xff};
	size_t start = out->len;
	KH_GUARD(kh_der_tlv(out, DER_OID, oid_content));
	if (critical)
		KH_GUARD(kh_buf_append(out, KH_SLICE(true_der, sizeof(true_der))));
	KH_GUARD(kh_der_tlv(out, DER_OCTET_STRING, value));
	return kh_der_wrap_from(out, start, DER_SEQUENCE);
}

kh_rc kh_der_read(struct kh_slice *in, uint8_t tag, struct kh_slice *out_content,
                  struct kh_slice *out_whole)
{
	const uint8_t *p = in->ptr;
	size_t avail = in->len;
	size_t len, hl;

	KH_ENSURE(p != NULL && avail >= 2 && p[0] == tag, KH_ERR_BAD_INPUT);
	if (p[1] < 0x80) {
		len = p[1];
		hl = 2;
	} else {
		size_t n = p[1] & 0x7f;
		KH_ENSURE(n >= 1 && n <= 4 && avail >= 2 + n && p[2] != 0, KH_ERR_BAD_INPUT);
		len = 0;
		for (size_t i = 0; i < n; i++)
			len = (len << 8) | p[2 + i];
		KH_ENSURE(len >= 0x80, KH_ERR_BAD_INPUT); /* X.690 10.1: the shortest form */
		hl = 2 + n;
	}
	KH_ENSURE(len <= avail - hl, KH_ERR_BAD_INPUT);
	if (out_content != NULL)
		*out_content = KH_SLICE(p + hl, len);
	if (out_whole != NULL)
		*out_whole = KH_SLICE(p, hl + len);
	in->ptr = p + hl + len;
	in->len = avail - hl - len;
	return KH_OK;
}

kh_rc kh_pki_time_of(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	KH_ENSURE(t != NULL && ASN1_TIME_to_tm(t, &tm) == 1, kh_ossl_discard(KH_ERR_BAD_INPUT));
	int64_t days = days_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
	                               (unsigned)tm.tm_mday);
	*out = days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	return KH_OK;
}

kh_rc kh_pki_serial_of(const ASN1_INTEGER *i, uint8_t *out, size_t *out_len)
{
	KH_ENSURE(i != NULL && ASN1_STRING_type(i) == V_ASN1_INTEGER, KH_ERR_BAD_INPUT);
	const uint8_t *data = ASN1_STRING_get0_data(i);
	size_t len = (size_t)ASN1_STRING_length(i);
	while (len > 0 && data[0] == 0) {
		data++;
		len--;
	}
	KH_ENSURE(len >= 1 && len <= KH_PKI_SERIAL_MAX_LEN, KH_ERR_BAD_INPUT);
	memcpy(out, data, len);
	*out_len = len;
	return KH_OK;
}
