/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared inside src/http/ only. Everything declared here is free of libmicrohttpd and GnuTLS
 * types: the request parts (target and query decoding, the request-id rule, the head checks)
 * are pure functions over bytes, so they can be unit-tested and fuzzed (fuzz/fuzz_http_parts.c)
 * without a server, and the worker pool knows nothing about HTTP.
 */
#ifndef KH_HTTP_INT_H
#define KH_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kh_buf.h"
#include "base/kh_rc.h"
#include "http/kh_http.h"

/* ---- request parts (parts.c) ---- */

/* [A-Za-z0-9._-]{1,KH_HTTP_REQUEST_ID_MAX}: safe to echo in a header and to log. */
bool kh_http_request_id_ok(struct kh_slice id);
/* RFC 9110 5.1 field-name: a non-empty token of tchar. */
bool kh_http_token_ok(struct kh_slice s);
/* RFC 9110 5.5 field-value: no control characters except HTAB (so no CR, LF, NUL, DEL). */
bool kh_http_value_ok(struct kh_slice s);
enum kh_http_method kh_http_method_of(const char *name);

/*
 * Percent-decodes a request path (RFC 3986 2.1) into out, NUL-terminated. A '%' not followed
 * by two hex digits, or an escape that decodes to NUL, is KH_ERR_BAD_ENCODING. '+' stays '+'.
 * %2F decodes to '/': a router that must keep segment boundaries splits raw_path instead.
 */
KH_MUST_CHECK kh_rc kh_http_path_decode(struct kh_slice in, struct kh_buf *out);
/*
 * Splits a raw query string at '&' and each piece at its first '=', decodes both halves ('+'
 * is a space, as in HTML forms and Go's url.ParseQuery; otherwise as kh_http_path_decode) and
 * appends them to out as "name\0value\0" pairs; empty pieces are skipped, a piece without '='
 * has the value "". Errors as kh_http_path_decode.
 */
KH_MUST_CHECK kh_rc kh_http_query_decode(struct kh_slice query, struct kh_buf *out);
/* The value of the first pair called name in the output of kh_http_query_decode, or NULL. */
const char *kh_http_query_find(struct kh_slice decoded, const char *name);
/*
 * Splits a request target at its first '?' and appends to parts the raw path, the raw query
 * and the decoded path (each NUL-terminated), then the decoded query pairs; points req's
 * raw_path, query, path and query_pairs at them. parts must not grow afterwards. Errors as
 * kh_http_path_decode, or the buffer's (at most 5 * target.len + 8 bytes are appended).
 */
KH_MUST_CHECK kh_rc kh_http_target_split(struct kh_slice target, struct kh_buf *parts,
                                         struct kh_http_request *req);

/* A compact API error document: {"error":{"code":..,"message":..,"request_id":..}}. code and
 * message are our own constants (no escaping needed, checked); request_id is a safe token.
 * Returns the length written (always NUL-terminated), 0 if it does not fit. */
size_t kh_http_error_body(char *out, size_t out_len, const char *code, const char *message,
                          const char *request_id);

/* ---- checks on the request head, before any body byte is read (checks.c) ---- */

/* Why a request is refused: the status and the API error code and message for its body. */
struct kh_http_reject {
	unsigned status;
	const char *code;
	const char *message;
};

/* What the head checks learned. */
struct kh_http_head {
	bool has_length; /* a Content-Length header */
	uint64_t length;
	bool chunked;
	bool authorized; /* an Authorization header is present (not yet checked) */
	size_t limit;    /* the body limit for this request */
};

/*
 * The request target as sent: origin-form ("/..."), visible ASCII only (0x21-0x7E: no raw
 * spaces, control characters or 8-bit bytes), at most KH_LIMIT_URI_BYTES (else 414).
 */
bool kh_http_check_target(struct kh_slice target, struct kh_http_reject *out_reject);
/*
 * The header fields: header_bytes (the size of the header block without the request line) at
 * most KH_LIMIT_HEADER_BYTES (431); names are tokens and values have no control characters
 * (400); Content-Length is decimal digits, repeated only with the same value, never together
 * with Transfer-Encoding (400); Transfer-Encoding, if present, is one "chunked" (400); a
 * declared length over the limit is 413. The limit is max_body with an Authorization header,
 * else the smaller of max_body and KH_LIMIT_BODY_UNAUTH_BYTES.
 */
bool kh_http_check_head(const struct kh_http_kv *headers, size_t count, size_t header_bytes,
                        size_t max_body, struct kh_http_head *out,
                        struct kh_http_reject *out_reject);

/* ---- the worker pool (workers.c) ---- */

/* Runs one job on a worker thread. */
typedef void (*kh_http_job_fn)(void *job);

struct kh_http_pool;

/* workers threads and room for queue jobs waiting for one. */
KH_MUST_CHECK kh_rc kh_http_pool_new(unsigned workers, unsigned queue, kh_http_job_fn fn,
                                     struct kh_http_pool **out);
/*
 * Reserves a queue slot without blocking: false when the queue is full or the pool drains.
 * A successful reservation must be followed by kh_http_pool_push, which then cannot fail (so
 * the caller can suspend the connection in between).
 */
bool kh_http_pool_reserve(struct kh_http_pool *p);
void kh_http_pool_push(struct kh_http_pool *p, void *job);
/* Refuses new reservations, lets the workers finish every queued and reserved job, joins
 * them. The pool stays valid (reservations fail) until kh_http_pool_free. */
void kh_http_pool_drain(struct kh_http_pool *p);
/* Drains if needed and frees; NULL accepted. */
void kh_http_pool_free(struct kh_http_pool **p);

#endif
