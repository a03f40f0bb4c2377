/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small parsers for the parts of a request that libmicrohttpd hands over raw or that we refuse
 * to take from it: the percent-encoded path and query (MHD's own decoding truncates at %00),
 * the request-id rule, header name and value characters, and the http layer's error document.
 * Pure functions over bytes; fuzzed by fuzz/fuzz_http_parts.c.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/kh_codec.h"
#include "http/kh_http_int.h"

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool kh_http_token_ok(struct kh_slice s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!is_tchar(s.ptr[i]))
			return false;
	return true;
}

bool kh_http_value_ok(struct kh_slice s)
{
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.ptr[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

bool kh_http_request_id_ok(struct kh_slice id)
{
	if (id.len == 0 || id.len > KH_HTTP_REQUEST_ID_MAX)
		return false;
	for (size_t i = 0; i < id.len; i++) {
		uint8_t c = id.ptr[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

static const struct {
	const char *name;
	enum kh_http_method method;
} methods[] = {
    {"GET", KH_HTTP_GET}, {"HEAD", KH_HTTP_HEAD},   {"POST", KH_HTTP_POST},
    {"PUT", KH_HTTP_PUT}, {"PATCH", KH_HTTP_PATCH}, {"DELETE", KH_HTTP_DELETE},
};

enum kh_http_method kh_http_method_of(const char *name)
{
	/* RFC 9110 9.1: method names are case-sensitive. */
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(name, methods[i].name) == 0)
			return methods[i].method;
	return KH_HTTP_OTHER;
}

/* Decodes in (RFC 3986 2.1) and appends the bytes, without a terminator. */
static kh_rc decode_append(struct kh_slice in, bool plus_is_space, struct kh_buf *out)
{
	uint8_t *dst;
	size_t n = 0;

	KH_GUARD(kh_buf_extend(out, in.len, &dst));
	for (size_t i = 0; i < in.len; i++) {
		uint8_t c = in.ptr[i];
		if (c == '%') {
			int hi;
			int lo;

			if (in.len - i < 3)
				return KH_ERR_BAD_ENCODING;
			hi = kh_hex_digit(in.ptr[i + 1]);
			lo = kh_hex_digit(in.ptr[i + 2]);
			/* %00 would cut the string short for every C consumer: refuse it. */
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return KH_ERR_BAD_ENCODING;
			c = (uint8_t)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		} else if (c == '\0') {
			return KH_ERR_BAD_ENCODING;
		}
		dst[n++] = c;
	}
	if (n > 0)
		kh_buf_commit(out, n);
	return KH_OK;
}

kh_rc kh_http_path_decode(struct kh_slice in, struct kh_buf *out)
{
	size_t start = out->len;
	kh_rc rc = decode_append(in, false, out);

	if (rc == KH_OK)
		rc = kh_buf_append_byte(out, 0);
	if (rc != KH_OK)
		kh_buf_truncate(out, start);
	return rc;
}

/* Appends one "name\0value\0" pair from a non-empty piece of the query. */
static kh_rc pair_append(struct kh_slice piece, struct kh_buf *out)
{
	const uint8_t *eq = memchr(piece.ptr, '=', piece.len);
	size_t name_len = eq != NULL ? (size_t)(eq - piece.ptr) : piece.len;

	KH_GUARD(decode_append(KH_SLICE(piece.ptr, name_len), true, out));
	KH_GUARD(kh_buf_append_byte(out, 0));
	if (eq != NULL)
		KH_GUARD(decode_append(KH_SLICE(eq + 1, piece.len - name_len - 1), true, out));
	return kh_buf_append_byte(out, 0);
}

kh_rc kh_http_query_decode(struct kh_slice query, struct kh_buf *out)
{
	size_t start = out->len;
	size_t i = 0;
	kh_rc rc = KH_OK;

	while (i < query.len && rc == KH_OK) {
		const uint8_t *amp = memchr(query.ptr + i, '&', query.len - i);
		size_t end = amp != NULL ? (size_t)(amp - query.ptr) : query.len;
		if (end > i)
			rc = pair_append(KH_SLICE(query.ptr + i, end - i), out);
		i = end + 1;
	}
	if (rc != KH_OK)
		kh_buf_truncate(out, start);
	return rc;
}

const char *kh_http_query_find(struct kh_slice decoded, const char *name)
{
	const uint8_t *p = decoded.ptr;
	const uint8_t *end = decoded.ptr + decoded.len;

	while (p < end) {
		const uint8_t *name_end = memchr(p, '\0', (size_t)(end - p));
		const uint8_t *value;
		const uint8_t *value_end;

		if (name_end == NULL)
			return NULL;
		value = name_end + 1;
		value_end = value < end ? memchr(value, '\0', (size_t)(end - value)) : NULL;
		if (value_end == NULL)
			return NULL;
		if (strcmp((const char *)p, name) == 0)
			return (const char *)value;
		p = value_end + 1;
	}
	return NULL;
}

kh_rc kh_http_target_split(struct kh_slice target, struct kh_buf *parts,
                           struct kh_http_request *req)
{
	const uint8_t *q = target.len > 0 ? memchr(target.ptr, '?', target.len) : NULL;
	size_t path_len = q != NULL ? (size_t)(q - target.ptr) : target.len;
	struct kh_slice raw_path = KH_SLICE(target.ptr, path_len);
	struct kh_slice raw_query =
	    q != NULL ? KH_SLICE(q + 1, target.len - path_len - 1) : KH_SLICE_EMPTY;
	size_t off_path = parts->len;
	size_t off_query, off_decoded, off_pairs;

	KH_GUARD(kh_buf_append(parts, raw_path));
	KH_GUARD(kh_buf_append_byte(parts, 0));
	off_query = parts->len;
	KH_GUARD(kh_buf_append(parts, raw_query));
	KH_GUARD(kh_buf_append_byte(parts, 0));
	off_decoded = parts->len;
	KH_GUARD(kh_http_path_decode(raw_path, parts));
	off_pairs = parts->len;
	KH_GUARD(kh_http_query_decode(raw_query, parts));

	/* The buffer no longer grows: pointers into it stay valid. */
	req->raw_path = (const char *)parts->ptr + off_path;
	req->query = (const char *)parts->ptr + off_query;
	req->path = (const char *)parts->ptr + off_decoded;
	req->query_pairs = KH_SLICE(parts->ptr + off_pairs, parts->len - off_pairs);
	return KH_OK;
}

const char *kh_http_request_header(const struct kh_http_request *req, const char *name)
{
	for (size_t i = 0; i < req->header_count; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

const char *kh_http_request_query(const struct kh_http_request *req, const char *name)
{
	return kh_http_query_find(req->query_pairs, name);
}

/* True when s can go between JSON quotes as it is. */
static bool json_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\')
			return false;
	return true;
}

size_t kh_http_error_body(char *out, size_t out_len, const char *code, const char *message,
                          const char *request_id)
{
	int n;

	if (out_len == 0)
		return 0;
	out[0] = '\0';
	if (!json_plain(code) || !json_plain(message) || !json_plain(request_id))
		return 0;
	n = snprintf(out, out_len,
	             "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"request_id\":\"%s\"}}", code,
	             message, request_id);
	if (n < 0 || (size_t)n >= out_len) {
		out[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

/* Headers the server writes itself; a handler may not set or duplicate them. */
static const char *const reserved_headers[] = {
    "Connection", "Content-Length", "Content-Type", "Transfer-Encoding", "X-Request-Id",
};

kh_rc kh_http_response_header(struct kh_http_response *resp, const char *name, const char *value)
{
	size_t i;

	KH_ENSURE(resp != NULL && name != NULL && value != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_http_token_ok(kh_slice_from_cstr(name)), KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_http_value_ok(kh_slice_from_cstr(value)), KH_ERR_BAD_INPUT);
	for (i = 0; i < sizeof(reserved_headers) / sizeof(reserved_headers[0]); i++)
		KH_ENSURE(strcasecmp(name, reserved_headers[i]) != 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(strlen(name) < sizeof(resp->headers[0].name), KH_ERR_TOO_LARGE);
	KH_ENSURE(strlen(value) < sizeof(resp->headers[0].value), KH_ERR_TOO_LARGE);
	KH_ENSURE(resp->header_count < KH_HTTP_MAX_HEADERS, KH_ERR_TOO_LARGE);
	i = resp->header_count++;
	memcpy(resp->headers[i].name, name, strlen(name) + 1);
	memcpy(resp->headers[i].value, value, strlen(value) + 1);
	return KH_OK;
}
