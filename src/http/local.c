/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests made without a server (kh_http.h, kh_http_local_init): the head checks and the target
 * decoding of server.c on bytes given by the caller, so unit tests and fuzz targets can call a
 * handler with exactly the request the server would have handed it, without libmicrohttpd.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "http/kh_http_int.h"

/* What the server would answer instead of running a handler, as a result code. */
static kh_rc refusal(const struct kh_http_reject *rej)
{
	return rej->status == 400 ? KH_ERR_BAD_INPUT : KH_ERR_TOO_LARGE;
}

/* The header block as sent: "name: value\r\n" per header. */
static size_t header_bytes(const struct kh_http_kv *headers, size_t count)
{
	size_t n = 0;
	for (size_t i = 0; i < count && n <= KH_LIMIT_HEADER_BYTES; i++)
		n += strlen(headers[i].name) + strlen(headers[i].value) + 4;
	return n;
}

kh_rc kh_http_local_init(struct kh_http_local *l, const char *method, struct kh_slice target,
                         const struct kh_http_kv *headers, size_t header_count,
                         struct kh_slice body)
{
	struct kh_http_reject rej;
	struct kh_http_head head;
	kh_rc rc;

	memset(l, 0, sizeof(*l));
	kh_buf_init(&l->parts, 5 * target.len + 8, KH_BUF_PLAIN);
	if (!kh_http_check_target(target, &rej) ||
	    !kh_http_check_head(headers, header_count, header_bytes(headers, header_count),
	                        KH_LIMIT_BODY_BYTES, &head, &rej))
		return refusal(&rej);
	if (body.len > head.limit)
		return KH_ERR_TOO_LARGE;
	rc = kh_http_target_split(target, &l->parts, &l->req);
	if (rc != KH_OK) {
		kh_http_local_cleanup(l);
		return rc == KH_ERR_BAD_ENCODING ? KH_ERR_BAD_INPUT : rc;
	}
	l->req.method = kh_http_method_of(method);
	l->req.method_name = method;
	l->req.body = body;
	l->req.headers = headers;
	l->req.header_count = header_count;
	snprintf(l->req.request_id, sizeof(l->req.request_id), "local");
	snprintf(l->req.remote_addr, sizeof(l->req.remote_addr), "127.0.0.1");
	return KH_OK;
}

void kh_http_local_cleanup(struct kh_http_local *l)
{
	if (l->parts.ptr != NULL)
		kh_wipe(l->parts.ptr, l->parts.len);
	kh_buf_cleanup(&l->parts);
	memset(&l->req, 0, sizeof(l->req));
}
