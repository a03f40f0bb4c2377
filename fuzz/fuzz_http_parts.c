/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the request parts the http layer parses itself (libmicrohttpd parses the HTTP framing):
 * path and query percent-decoding, query lookup, the request-id rule, the request-target and
 * head checks, and response header validation. Properties checked on every input:
 *   - a decoded path holds no NUL, is never longer than its input, and equals the input when
 *     there was nothing to decode; a refused input leaves the output untouched;
 *   - decoded query pairs are well formed and lookup finds the first pair of each name;
 *   - an accepted head has a limit within max_body, a declared length within the limit, and
 *     never both a length and chunked; a refused one has status 400, 413 or 431;
 *   - an accepted request id is 1..KH_HTTP_REQUEST_ID_MAX bytes;
 *   - an accepted response header never carries CR or LF.
 */
#include <stdlib.h>
#include <string.h>

#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "http/kh_http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_path(struct kh_slice in)
{
	struct kh_buf out;

	kh_buf_init(&out, in.len + 1, KH_BUF_PLAIN);
	if (kh_http_path_decode(in, &out) == KH_OK) {
		size_t n = out.len - 1;
		if (out.len == 0 || out.ptr[n] != '\0' || memchr(out.ptr, '\0', n) != NULL ||
		    n > in.len)
			abort();
		if (memchr(in.ptr, '%', in.len) == NULL &&
		    (n != in.len || (n > 0 && memcmp(out.ptr, in.ptr, n) != 0)))
			abort();
	} else if (out.len != 0) {
		abort();
	}
	kh_buf_cleanup(&out);
}

/* Walks the decoded pairs: each is "name\0value\0", and a lookup of each name returns the
 * value of the first pair with that name (checked for the first 256 pairs). */
static void check_pairs(struct kh_slice pairs)
{
	enum {
		CHECKED = 256
	};
	const char *names[CHECKED];
	const char *values[CHECKED];
	size_t n = 0;
	const uint8_t *p = pairs.ptr;
	const uint8_t *end = pairs.ptr + pairs.len;

	while (p < end) {
		const uint8_t *name_end = memchr(p, '\0', (size_t)(end - p));
		const uint8_t *value = name_end != NULL ? name_end + 1 : NULL;
		const uint8_t *value_end = value != NULL && value < end
		                               ? memchr(value, '\0', (size_t)(end - value))
		                               : NULL;

		if (value_end == NULL)
			abort(); /* a name without its value */
		if (n < CHECKED) {
			names[n] = (const char *)p;
			values[n] = (const char *)value;
			n++;
		}
		p = value_end + 1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t first = 0;
		while (strcmp(names[first], names[i]) != 0)
			first++;
		if (kh_http_query_find(pairs, names[i]) != values[first])
			abort();
	}
}

static void check_query(struct kh_slice in)
{
	struct kh_buf out;

	kh_buf_init(&out, 2 * in.len + 2, KH_BUF_PLAIN);
	if (kh_http_query_decode(in, &out) == KH_OK)
		check_pairs(kh_buf_slice(&out));
	else if (out.len != 0)
		abort();
	kh_buf_cleanup(&out);
}

/* The input as header lines "name:value" (NUL-free copies, at most 64). */
static void check_head(struct kh_slice in)
{
	enum {
		MAX_LINES = 64
	};
	struct kh_http_kv kv[MAX_LINES];
	struct kh_http_head head;
	struct kh_http_reject rej;
	char *copy = kh_alloc(in.len + 1);
	size_t count = 0;
	size_t max_body = in.len > 0 ? (size_t)in.ptr[0] * 1024 : KH_LIMIT_BODY_BYTES;
	char *line;

	if (copy == NULL)
		return;
	memcpy(copy, in.ptr, in.len);
	copy[in.len] = '\0';
	line = copy;
	while (line != NULL && *line != '\0' && count < MAX_LINES) {
		char *next = strchr(line, '\n');
		char *colon;
		if (next != NULL)
			*next++ = '\0';
		colon = strchr(line, ':');
		if (colon != NULL) {
			*colon = '\0';
			kv[count].name = line;
			kv[count].value = colon + 1;
			count++;
		}
		line = next;
	}
	if (kh_http_check_head(kv, count, in.len, max_body, &head, &rej)) {
		if (head.limit > max_body || (head.has_length && head.length > head.limit) ||
		    (head.has_length && head.chunked))
			abort();
	} else if (rej.status != 400 && rej.status != 413 && rej.status != 431) {
		abort();
	}
	if (count > 0) {
		struct kh_http_response resp;
		memset(&resp, 0, sizeof(resp));
		if (kh_http_response_header(&resp, kv[0].name, kv[0].value) == KH_OK &&
		    strpbrk(resp.headers[0].value, "\r\n") != NULL)
			abort();
	}
	kh_free(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_slice in = KH_SLICE(data, size);
	const uint8_t *q = memchr(data, '?', size);
	struct kh_http_reject rej;

	check_path(in);
	check_query(in);
	check_head(in);
	if (kh_http_request_id_ok(in) && (size == 0 || size > KH_HTTP_REQUEST_ID_MAX))
		abort();
	/* The same bytes as a request target: accepted targets split and decode like the
	 * server does it. */
	if (kh_http_check_target(in, &rej)) {
		size_t path_len = q != NULL ? (size_t)(q - data) : size;
		if (size == 0 || data[0] != '/')
			abort();
		check_path(KH_SLICE(data, path_len));
		if (q != NULL)
			check_query(KH_SLICE(q + 1, size - path_len - 1));
	}
	return 0;
}
