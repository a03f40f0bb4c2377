/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP(S) server on GNU libmicrohttpd 0.9.75 (see kh_http.h and HTTP.md).
 *
 * One request goes through these states, all but the handler on a network thread:
 *   URI log callback: a struct req is made with a copy of the target as sent.
 *   first access call (headers complete, no body read): target and head checks, request id,
 *     body limit; a refusal is answered here, before a body byte is read.
 *   body calls: bytes are appended to a bounded buffer; past the limit they are dropped and
 *     the answer is 413 once the body ends (0.9.75 cannot queue a response mid-upload).
 *   last call: the request struct is built, a worker slot reserved (503 at once if none), the
 *     connection suspended and the job pushed.
 *   worker: runs the handler, turns its response into an MHD response, resumes.
 *   next access call: queues that response.  Completion callback: wipes and frees.
 *
 * Request bodies may carry plaintext, but the secure arena (4 MiB by default) cannot hold
 * max_body for every concurrent request, so bodies live in ordinary memory and are wiped by
 * hand: the buffer is sized from Content-Length up front, grows by copy-and-wipe when the body
 * is chunked, and is wiped before it is freed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/kh_limits.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "http/kh_http_int.h"
#include "http/kh_http_tls.h"

enum {
	DEFAULT_QUEUE = 256,
	/* Reads and crypto operations defer their answer until their audit record is durable and
	 * do not hold a worker meanwhile; only changes (create, rotate, ...) wait for their commit
	 * on a worker. On a 2-core machine 4 workers served more requests per second than 8 or 16
	 * (health 34k/s against 23k/s with 16; encrypt 12.5k/s against 10.5k/s): every extra
	 * thread costs switches. */
	DEFAULT_WORKERS_PER_CPU = 2,
	DEFAULT_PER_IP = 64,
	DEFAULT_MAX_CONNS = 4096,
	DEFAULT_TIMEOUT_SECONDS = 30,
	REQUEST_ID_BYTES = 16,
};

/* A handler's response body (kh_http.h). */
#define RESPONSE_BODY_MAX ((size_t)16 * 1024 * 1024)
/*
 * libmicrohttpd keeps the request line, the header block and the parsed header list in one
 * pool per connection and answers 431/414 itself when they do not fit. The pool has room for
 * both our limits twice over, so our own checks (which answer in JSON with X-Request-Id) decide
 * at exactly KH_LIMIT_HEADER_BYTES and KH_LIMIT_URI_BYTES, and the library's only catch what is
 * far beyond them.
 */
#define CONNECTION_MEMORY ((size_t)2 * (KH_LIMIT_HEADER_BYTES + KH_LIMIT_URI_BYTES) + 16 * 1024)
/* TLS 1.2 and 1.3 only (GnuTLS priority string). */
static char tls_priorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

struct kh_http_server {
	struct MHD_Daemon *daemon;
	struct kh_http_pool *pool;
	struct kh_http_tls *tls;
	kh_http_handler handler;
	void *ctx;
	size_t max_body;
	uint16_t port;
	atomic_bool stopping;
	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t rejected_busy;
	atomic_uint_fast64_t rejected_limits;
	atomic_uint_fast64_t deferred; /* answers deferred and not ready yet */
};

enum req_state {
	REQ_NEW = 0, /* head not checked yet */
	REQ_BODY,    /* reading the body */
	REQ_DISCARD, /* the body passed its limit: dropping the rest, then 413 */
	REQ_QUEUED,  /* suspended; a worker owns the request */
	REQ_READY,   /* the worker built the answer and resumed the connection */
	REQ_ANSWERED,
};

struct req {
	struct kh_http_server *srv;
	struct MHD_Connection *conn;
	enum req_state state;
	char *target; /* the request target as sent; NULL when over KH_LIMIT_URI_BYTES */
	size_t target_len;
	struct kh_http_kv *headers; /* point into the library's per-request memory */
	size_t header_count;
	size_t header_cap;
	struct kh_http_head head;
	size_t discarded;
	struct kh_buf body;
	struct kh_buf parts; /* raw path, raw query, decoded path, decoded query pairs */
	struct kh_http_request request;
	struct kh_http_response response;
	struct MHD_Response *answer; /* built by the worker */
	unsigned answer_status;
	/* A deferred answer goes out when both the handler has returned and it is ready. */
	atomic_uint hold;
};

/* ---- memory of one request ---- */

static void body_free(struct kh_buf *b)
{
	if (b->ptr != NULL)
		kh_wipe(b->ptr, b->len);
	kh_buf_cleanup(b);
}

/* kh_buf_append, except that growing moves the bytes by hand and wipes the old copy. */
static kh_rc body_append(struct kh_buf *b, const char *data, size_t n)
{
	KH_ENSURE(n <= b->max - b->len, KH_ERR_TOO_LARGE);
	if (b->ptr != NULL && b->len + n + 1 > b->cap) {
		struct kh_buf grown;
		size_t want = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n;
		kh_rc rc;

		kh_buf_init(&grown, b->max, KH_BUF_PLAIN);
		rc = kh_buf_reserve(&grown, want > b->max ? b->max : want);
		if (rc == KH_OK)
			rc = kh_buf_append(&grown, kh_buf_slice(b));
		if (rc != KH_OK) {
			body_free(&grown);
			return rc;
		}
		body_free(b);
		*b = grown;
	}
	return kh_buf_append(b, KH_SLICE(data, n));
}

static void req_free(struct req *r)
{
	if (r == NULL)
		return;
	body_free(&r->body);
	body_free(&r->parts); /* queries may carry tokens too */
	kh_buf_cleanup(&r->response.body);
	if (r->answer != NULL)
		MHD_destroy_response(r->answer);
	kh_free(&r->target);
	kh_free(&r->headers);
	kh_free(&r);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *r = kh_calloc(1, sizeof(*r));

	(void)c;
	if (r == NULL)
		return NULL;
	r->srv = cls;
	r->target_len = strlen(uri);
	if (r->target_len <= KH_LIMIT_URI_BYTES) {
		r->target = kh_alloc(r->target_len + 1);
		if (r->target == NULL) {
			kh_free(&r);
			return NULL;
		}
		memcpy(r->target, uri, r->target_len + 1);
	}
	kh_buf_init(&r->body, 0, KH_BUF_PLAIN);
	kh_buf_init(&r->parts, 0, KH_BUF_PLAIN);
	kh_buf_init(&r->response.body, 0, KH_BUF_PLAIN);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	req_free(*con_cls);
	*con_cls = NULL;
}

/* ---- answers from the http layer itself ---- */

static void fresh_request_id(char out[KH_HTTP_REQUEST_ID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	static atomic_uint_fast64_t fallback;
	uint8_t raw[REQUEST_ID_BYTES];

	if (kh_rand_bytes(raw, sizeof(raw)) != KH_OK) {
		/* Unique is enough for an identifier; the DRBG failing is logged by crypto. */
		snprintf(out, KH_HTTP_REQUEST_ID_MAX + 1, "local-%llu",
		         (unsigned long long)atomic_fetch_add(&fallback, 1));
		return;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * sizeof(raw)] = '\0';
}

enum answer_flags {
	ANSWER_CLOSE = 1,       /* the body was not read: the connection cannot be reused */
	ANSWER_RETRY_AFTER = 2, /* 503 busy */
};

static bool add_header(struct MHD_Response *a, const char *name, const char *value)
{
	if (MHD_add_response_header(a, name, value) == MHD_YES)
		return true;
	KH_LOG_WARN("response header refused by the HTTP library", KH_LF_STR("header", name));
	return false;
}

/* Answers with an API error document; r may be NULL (no memory for the request). */
static enum MHD_Result answer_error(struct req *r, struct MHD_Connection *c, unsigned status,
                                    const char *code, const char *message, unsigned flags)
{
	char id_store[KH_HTTP_REQUEST_ID_MAX + 1];
	const char *id = r != NULL ? r->request.request_id : id_store;
	char body[512];
	size_t n;
	struct MHD_Response *a;
	enum MHD_Result ret;

	if (r == NULL)
		fresh_request_id(id_store);
	n = kh_http_error_body(body, sizeof(body), code, message, id);
	a = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_COPY);
	if (a == NULL)
		return MHD_NO;
	add_header(a, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	add_header(a, "X-Request-Id", id);
	if (flags & ANSWER_RETRY_AFTER)
		add_header(a, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (flags & ANSWER_CLOSE)
		add_header(a, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, status, a);
	MHD_destroy_response(a);
	if (r != NULL)
		r->state = REQ_ANSWERED;
	return ret;
}

static enum MHD_Result answer_reject(struct req *r, struct MHD_Connection *c,
                                     const struct kh_http_reject *rej)
{
	atomic_fetch_add(&r->srv->rejected_limits, 1);
	return answer_error(r, c, rej->status, rej->code, rej->message, ANSWER_CLOSE);
}

/* ---- the head ---- */

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
	struct req *r = cls;

	(void)kind;
	(void)key_size;
	(void)value_size;
	if (r->header_count == r->header_cap)
		return MHD_NO;
	r->headers[r->header_count].name = key;
	r->headers[r->header_count].value = value != NULL ? value : "";
	r->header_count++;
	return MHD_YES;
}

static kh_rc collect_headers(struct req *r, struct MHD_Connection *c)
{
	int count = MHD_get_connection_values(c, MHD_HEADER_KIND, NULL, NULL);

	if (count <= 0)
		return KH_OK;
	r->headers = kh_calloc((size_t)count, sizeof(*r->headers));
	KH_ENSURE(r->headers != NULL, KH_ERR_NOMEM);
	r->header_cap = (size_t)count;
	r->header_count = 0;
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect_header, r);
	return KH_OK;
}

/* The client's X-Request-Id (the first one) when it is a safe token, else a fresh one. */
static void set_request_id(struct req *r)
{
	for (size_t i = 0; i < r->header_count; i++) {
		const struct kh_http_kv *kv = &r->headers[i];
		if (strcasecmp(kv->name, "X-Request-Id") != 0)
			continue;
		if (kh_http_request_id_ok(kh_slice_from_cstr(kv->value))) {
			memcpy(r->request.request_id, kv->value, strlen(kv->value) + 1);
			return;
		}
		break;
	}
	fresh_request_id(r->request.request_id);
}

/* Bytes of the header block, without the request line ("METHOD SP target SP version CRLF"). */
static size_t header_block_bytes(struct req *r, struct MHD_Connection *c, const char *method,
                                 const char *version)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	size_t line = strlen(method) + 1 + r->target_len + 1 + strlen(version) + 2;

	if (ci == NULL)
		return 0;
	return ci->header_size > line ? ci->header_size - line : 0;
}

static enum MHD_Result on_head(struct req *r, struct MHD_Connection *c, const char *method,
                               const char *version)
{
	struct kh_http_server *s = r->srv;
	struct kh_http_reject rej;

	r->conn = c;
	if (collect_headers(r, c) != KH_OK)
		return answer_error(NULL, c, 503, "Unavailable", "out of memory", ANSWER_CLOSE);
	set_request_id(r);
	/* Checked by length first, so a target too long to have been copied is never read. */
	if (!kh_http_check_target(KH_SLICE(r->target, r->target_len), &rej))
		return answer_reject(r, c, &rej);
	if (!kh_http_check_head(r->headers, r->header_count,
	                        header_block_bytes(r, c, method, version), s->max_body, &r->head,
	                        &rej))
		return answer_reject(r, c, &rej);
	if (atomic_load(&s->stopping))
		return answer_error(r, c, 503, "Unavailable", "the server is stopping",
		                    ANSWER_CLOSE | ANSWER_RETRY_AFTER);
	kh_buf_init(&r->body, r->head.limit, KH_BUF_PLAIN);
	/* The declared length is within the limit: allocate it once, so the body never moves. */
	if (r->head.has_length && r->head.length > 0 &&
	    kh_buf_reserve(&r->body, (size_t)r->head.length) != KH_OK)
		return answer_error(r, c, 503, "Unavailable", "out of memory",
		                    ANSWER_CLOSE | ANSWER_RETRY_AFTER);
	r->state = REQ_BODY;
	return MHD_YES;
}

/* ---- the request as handlers see it ---- */

static void set_remote_addr(struct req *r, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char *out = r->request.remote_addr;
	socklen_t out_len = (socklen_t)sizeof(r->request.remote_addr);

	out[0] = '\0';
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)(void *)ci->client_addr;
		inet_ntop(AF_INET, &a->sin_addr, out, out_len);
	} else if (ci->client_addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(void *)ci->client_addr;
		inet_ntop(AF_INET6, &a->sin6_addr, out, out_len);
	}
}

/* The name the client's certificate was accepted under (mutual TLS), else "". */
static void set_client_name(struct req *r, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	const char *name;

	r->request.client_name[0] = '\0';
	if (r->srv->tls == NULL)
		return;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL)
		return;
	name = kh_http_tls_client_name(ci->tls_session);
	memcpy(r->request.client_name, name, strlen(name) + 1);
	r->request.client_chain_count = kh_http_tls_peer_chain(
	    ci->tls_session, r->request.client_chain, KH_HTTP_CLIENT_CHAIN_MAX);
	if (r->request.client_chain_count > 0)
		r->request.client_cert = r->request.client_chain[0];
}

/* Splits and decodes the target into r->parts; KH_ERR_BAD_ENCODING for a bad escape. */
static kh_rc build_parts(struct req *r)
{
	/* raw path, raw query, decoded path: each at most the target plus a NUL; the decoded
	 * pairs at most twice the query plus two NULs. */
	kh_buf_init(&r->parts, 5 * r->target_len + 8, KH_BUF_PLAIN);
	return kh_http_target_split(KH_SLICE(r->target, r->target_len), &r->parts, &r->request);
}

static kh_rc build_request(struct req *r, struct MHD_Connection *c, const char *method)
{
	KH_GUARD(build_parts(r));
	r->request.method = kh_http_method_of(method);
	r->request.method_name = method;
	r->request.body = kh_buf_slice(&r->body);
	r->request.tls = r->srv->tls != NULL;
	set_client_name(r, c);
	r->request.headers = r->headers;
	r->request.header_count = r->header_count;
	set_remote_addr(r, c);
	return KH_OK;
}

/* ---- body, hand-off to a worker, answer ---- */

static enum MHD_Result dispatch(struct req *r, struct MHD_Connection *c, const char *method)
{
	struct kh_http_server *s = r->srv;
	kh_rc rc = build_request(r, c, method);

	if (rc == KH_ERR_BAD_ENCODING) {
		struct kh_http_reject rej = {400, "BadRequest",
		                             "malformed percent-encoding in the request target"};
		return answer_reject(r, c, &rej);
	}
	if (rc != KH_OK)
		return answer_error(r, c, 503, "Unavailable", "out of memory", ANSWER_RETRY_AFTER);
	if (atomic_load(&s->stopping) || !kh_http_pool_reserve(s->pool)) {
		atomic_fetch_add(&s->rejected_busy, 1);
		return answer_error(r, c, 503, "Unavailable", "the server is busy, retry later",
		                    ANSWER_RETRY_AFTER);
	}
	atomic_fetch_add(&s->requests, 1);
	r->state = REQ_QUEUED;
	/* Suspend before the push: the worker may resume as soon as it has the job. */
	MHD_suspend_connection(c);
	kh_http_pool_push(s->pool, r);
	return MHD_YES;
}

static enum MHD_Result on_body(struct req *r, struct MHD_Connection *c, const char *method,
                               const char *data, size_t *size)
{
	kh_rc rc;

	if (*size == 0)
		return dispatch(r, c, method);
	rc = body_append(&r->body, data, *size);
	if (rc == KH_ERR_TOO_LARGE) {
		r->state = REQ_DISCARD;
		r->discarded = *size;
		body_free(&r->body);
	} else if (rc != KH_OK) {
		return MHD_NO; /* out of memory mid-body: drop the connection */
	}
	*size = 0;
	return MHD_YES;
}

static enum MHD_Result on_discard(struct req *r, struct MHD_Connection *c, size_t *size)
{
	struct kh_http_reject rej = {413, "PayloadTooLarge", "the request body is too large"};

	if (*size == 0)
		return answer_reject(r, c, &rej);
	r->discarded += *size;
	*size = 0;
	/* The answer can only go out once the body ends; a client still sending long after the
	 * limit loses the connection instead. */
	return r->discarded > r->head.limit ? MHD_NO : MHD_YES;
}

static enum MHD_Result on_ready(struct req *r, struct MHD_Connection *c)
{
	enum MHD_Result ret;

	if (r->answer == NULL)
		return answer_error(r, c, 500, "Internal", "the response could not be built", 0);
	ret = MHD_queue_response(c, r->answer_status, r->answer);
	MHD_destroy_response(r->answer);
	r->answer = NULL;
	r->state = REQ_ANSWERED;
	return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *size, void **con_cls)
{
	struct req *r = *con_cls;

	(void)cls;
	(void)url; /* decoded by the library, which stops at %00: we decode the target ourselves */
	if (r == NULL)
		return answer_error(NULL, c, 503, "Unavailable", "out of memory", ANSWER_CLOSE);
	switch (r->state) {
	case REQ_NEW:
		return on_head(r, c, method, version);
	case REQ_BODY:
		return on_body(r, c, method, data, size);
	case REQ_DISCARD:
		return on_discard(r, c, size);
	case REQ_READY:
		return on_ready(r, c);
	default:
		return MHD_NO;
	}
}

/* ---- the worker side ---- */

static void free_secure_body(void *p)
{
	kh_secure_free(&p);
}

/* Moves the handler's body into an MHD response that frees (and, if secure, wipes) it. */
static struct MHD_Response *take_body(struct kh_http_response *resp, bool no_body)
{
	static char empty[1];
	struct kh_buf *b = &resp->body;
	struct MHD_Response *a;

	if (no_body || b->len == 0)
		return MHD_create_response_from_buffer(0, empty, MHD_RESPMEM_PERSISTENT);
	a = MHD_create_response_from_buffer_with_free_callback_cls(
	    b->len, b->ptr, (b->flags & KH_BUF_SECURE) ? free_secure_body : kh_free_ptr, b->ptr);
	if (a != NULL)
		kh_buf_init(b, b->max, b->flags); /* the response owns the bytes now */
	return a;
}

static struct MHD_Response *build_answer(struct req *r, unsigned *out_status)
{
	struct kh_http_response *resp = &r->response;
	unsigned status = resp->status == 0 ? 500 : resp->status;
	struct MHD_Response *a;

	if (status < 200 || status > 599) {
		KH_LOG_ERROR("handler returned an invalid status", KH_LF_UINT("status", status),
		             KH_LF_STR("request_id", r->request.request_id));
		return NULL;
	}
	a = take_body(resp, status == 204 || status == 304);
	if (a == NULL)
		return NULL;
	add_header(a, MHD_HTTP_HEADER_CONTENT_TYPE,
	           resp->content_type != NULL ? resp->content_type : "application/json");
	add_header(a, "X-Request-Id", r->request.request_id);
	for (size_t i = 0; i < resp->header_count && i < KH_HTTP_MAX_HEADERS; i++)
		add_header(a, resp->headers[i].name, resp->headers[i].value);
	*out_status = status;
	return a;
}

/* Turns the handler's response into the answer and wakes the connection, after which the
 * library may complete (free) the request at any time. */
static void answer(struct req *r)
{
	r->answer = build_answer(r, &r->answer_status);
	r->state = REQ_READY;
	MHD_resume_connection(r->conn);
}

static void run_job(void *job)
{
	struct req *r = job;
	struct kh_http_server *s = r->srv;

	r->response.status = 0;
	r->response.content_type = NULL;
	r->response.header_count = 0;
	r->response.deferred = false;
	r->response.impl = r;
	kh_buf_init(&r->response.body, RESPONSE_BODY_MAX, KH_BUF_PLAIN);
	s->handler(s->ctx, &r->request, &r->response);
	if (!r->response.deferred) {
		answer(r);
		return;
	}
	/* Until this, ready cannot answer (and free r): the handler's thread was still in it. */
	if (atomic_fetch_sub(&r->hold, 1) == 1)
		answer(r);
}

bool kh_http_response_defer(struct kh_http_response *resp)
{
	struct req *r = resp->impl;
	if (r == NULL)
		return false;
	resp->deferred = true;
	atomic_store(&r->hold, 2);
	atomic_fetch_add(&r->srv->deferred, 1);
	return true;
}

void kh_http_response_ready(struct kh_http_response *resp)
{
	struct req *r = resp->impl;
	struct kh_http_server *s = r->srv;
	if (atomic_fetch_sub(&r->hold, 1) == 1)
		answer(r);
	atomic_fetch_sub(&s->deferred, 1);
}

/* ---- connections and the library's log ---- */

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
	struct kh_http_server *s = cls;
	const union MHD_ConnectionInfo *ci;

	if (s->tls == NULL)
		return;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		kh_http_tls_conn_end(*socket_context);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	/* Without the tie the certificate callback fails the handshake: no silent fallback. */
	if (ci == NULL || kh_http_tls_conn_start(s->tls, ci->tls_session, socket_context) != KH_OK)
		KH_LOG_WARN("TLS connection set-up failed", KH_LF_NONE);
}

__attribute__((format(printf, 2, 0))) static void on_library_log(void *cls, const char *fmt,
                                                                 va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	KH_LOG_WARN("http library", KH_LF_STR("detail", line));
}

/* ---- start and stop ---- */

static kh_rc bind_error(int err)
{
	switch (err) {
	case EADDRINUSE:
		return KH_ERR_CONFLICT;
	case EACCES:
		return KH_ERR_FORBIDDEN;
	case EADDRNOTAVAIL:
		return KH_ERR_BAD_INPUT;
	default:
		return KH_ERR_INTERNAL;
	}
}

/* Our own listening socket, so a busy address is KH_ERR_CONFLICT rather than a NULL daemon. */
static kh_rc listen_on(const char *address, uint16_t port, int *out_fd, uint16_t *out_port,
                       bool *out_v6)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct sockaddr_in *a4 = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)(void *)&ss;
	int one = 1;
	int fd;
	kh_rc rc = KH_OK;

	memset(&ss, 0, sizeof(ss));
	if (address == NULL)
		address = "127.0.0.1";
	if (inet_pton(AF_INET, address, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		len = sizeof(*a4);
	} else if (inet_pton(AF_INET6, address, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		len = sizeof(*a6);
	} else {
		return KH_ERR_BAD_INPUT;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	KH_ENSURE(fd >= 0, KH_ERR_INTERNAL);
	KH_ENSURE_OUT(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0,
	              KH_ERR_INTERNAL);
	if (ss.ss_family == AF_INET6)
		KH_ENSURE_OUT(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0,
		              KH_ERR_INTERNAL);
	KH_ENSURE_OUT(bind(fd, (struct sockaddr *)(void *)&ss, len) == 0, bind_error(errno));
	KH_ENSURE_OUT(listen(fd, SOMAXCONN) == 0, bind_error(errno));
	len = sizeof(ss);
	KH_ENSURE_OUT(getsockname(fd, (struct sockaddr *)(void *)&ss, &len) == 0, KH_ERR_INTERNAL);
	*out_port = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
	*out_v6 = ss.ss_family == AF_INET6;
	*out_fd = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static unsigned cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 && n < 1024 ? (unsigned)n : 1;
}

static unsigned default_workers(void)
{
	return DEFAULT_WORKERS_PER_CPU * cpu_count();
}

static unsigned or_default(unsigned v, unsigned d)
{
	return v != 0 ? v : d;
}

/* Whether a and b are open descriptors of the same socket. */
static bool same_socket(int a, int b)
{
	struct stat sa;
	struct stat sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* Starts the daemon on fd, which it takes over in every case. */
static kh_rc start_daemon(struct kh_http_server *s, const struct kh_http_options *o, int fd,
                          bool v6)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	                 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	/* Options taking two pointers carry the function in value (MHD_OPTION_ARRAY's rule). */
	struct MHD_OptionItem options[] = {
	    /* first, so that start-up messages already go to our log */
	    {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_library_log, s},
	    {MHD_OPTION_LISTEN_SOCKET, fd, NULL},
	    {MHD_OPTION_THREAD_POOL_SIZE, or_default(o->network_threads, cpu_count()), NULL},
	    {MHD_OPTION_CONNECTION_LIMIT, or_default(o->max_conns, DEFAULT_MAX_CONNS), NULL},
	    {MHD_OPTION_PER_IP_CONNECTION_LIMIT, or_default(o->per_ip_conns, DEFAULT_PER_IP), NULL},
	    {MHD_OPTION_CONNECTION_TIMEOUT, or_default(o->timeout_seconds, DEFAULT_TIMEOUT_SECONDS),
	     NULL},
	    {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)CONNECTION_MEMORY, NULL},
	    {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s},
	    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
	    {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s},
	    /* TLS only: these two are cut off below for plain HTTP */
	    {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)kh_http_tls_retrieve},
	    {MHD_OPTION_HTTPS_PRIORITIES, 0, tls_priorities},
	    {MHD_OPTION_END, 0, NULL},
	};
	size_t n = sizeof(options) / sizeof(options[0]);
	/* libmicrohttpd closes a listening socket it was given on some start failures and not on
	 * others: a duplicate tells which. */
	int probe = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (probe < 0) {
		close(fd);
		return KH_ERR_INTERNAL;
	}
	if (s->tls != NULL)
		flags |= MHD_USE_TLS;
	else
		options[n - 3].option = MHD_OPTION_END;
	if (v6)
		flags |= MHD_USE_IPv6;
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_ARRAY, options,
	                             MHD_OPTION_END);
	if (s->daemon == NULL && same_socket(fd, probe))
		close(fd);
	close(probe);
	return s->daemon != NULL ? KH_OK : KH_ERR_INTERNAL;
}

/* The combinations kh_http.h refuses, before anything is parsed. */
static kh_rc check_tls_options(const struct kh_http_options *o)
{
	KH_ENSURE((o->cert_pem.len == 0) == (o->key_pem.len == 0), KH_ERR_BAD_KEY);
	KH_ENSURE(o->client_name_count == 0 || o->client_ca_pem.len > 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(o->client_name_count == 0 || o->client_names != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(o->client_ca_pem.len == 0 || o->cert_pem.len > 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(!o->request_client_cert || o->cert_pem.len > 0, KH_ERR_BAD_INPUT);
	return KH_OK;
}

static kh_rc start_tls(const struct kh_http_options *o, struct kh_http_tls **out)
{
	struct kh_http_mtls *mtls = NULL;

	if (o->client_ca_pem.len > 0)
		KH_GUARD(kh_http_mtls_new(o->client_ca_pem, o->client_names, o->client_name_count,
		                          &mtls));
	KH_GUARD(kh_http_tls_new(o->cert_pem, o->key_pem, mtls, out));
	if (o->request_client_cert)
		kh_http_tls_request_client_cert(*out);
	return KH_OK;
}

kh_rc kh_http_server_start(const struct kh_http_options *opts, kh_http_handler handler, void *ctx,
                           struct kh_http_server **out)
{
	struct kh_http_server *s;
	int fd = -1;
	bool v6 = false;
	kh_rc rc = KH_OK;

	KH_ENSURE(opts != NULL && handler != NULL && out != NULL, KH_ERR_BAD_INPUT);
	KH_GUARD(check_tls_options(opts));
	KH_GUARD(kh_crypto_init()); /* request ids come from the DRBG */
	s = kh_calloc(1, sizeof(*s));
	KH_ENSURE(s != NULL, KH_ERR_NOMEM);
	s->handler = handler;
	s->ctx = ctx;
	s->max_body = opts->max_body != 0 ? opts->max_body : KH_LIMIT_BODY_BYTES;
	if (opts->cert_pem.len > 0)
		KH_GUARD_OUT(start_tls(opts, &s->tls));
	KH_GUARD_OUT(listen_on(opts->address, opts->port, &fd, &s->port, &v6));
	KH_GUARD_OUT(kh_http_pool_new(or_default(opts->workers, default_workers()),
	                              or_default(opts->queue, DEFAULT_QUEUE), run_job, &s->pool));
	rc = start_daemon(s, opts, fd, v6);
	fd = -1; /* the daemon owns it, or it is closed */
	KH_GUARD_OUT(rc);
	*out = s;
	s = NULL;
out:
	if (fd >= 0)
		close(fd);
	if (s != NULL) {
		kh_http_pool_free(&s->pool);
		kh_http_tls_free(&s->tls);
		kh_free(&s);
	}
	return rc;
}

uint16_t kh_http_server_port(const struct kh_http_server *s)
{
	return s->port;
}

kh_rc kh_http_server_reload_tls(struct kh_http_server *s, struct kh_slice cert_pem,
                                struct kh_slice key_pem)
{
	KH_ENSURE(s->tls != NULL, KH_ERR_CONFLICT); /* started without TLS */
	return kh_http_tls_reload(s->tls, cert_pem, key_pem);
}

void kh_http_server_stop(struct kh_http_server **sp)
{
	struct kh_http_server *s = *sp;

	if (s == NULL)
		return;
	/*
	 * New requests now get 503. The daemon is not quiesced: MHD_quiesce_daemon in 0.9.75
	 * races with a pool thread that takes the listening socket out of its epoll set at the
	 * connection limit, and then aborts the process ("Failed to remove listen FD from epoll
	 * set"). Every queued handler runs and resumes its connection, so none stays suspended,
	 * which MHD_stop_daemon does not allow.
	 */
	atomic_store(&s->stopping, true);
	kh_http_pool_drain(s->pool);
	/* Deferred answers wait on work that always ends (a commit succeeds or fails). */
	while (atomic_load(&s->deferred) > 0) {
		struct timespec ms = {0, 1000000L};
		nanosleep(&ms, NULL);
	}
	MHD_stop_daemon(s->daemon); /* closes connections, completes (frees) their requests */
	kh_http_pool_free(&s->pool);
	kh_http_tls_free(&s->tls);
	kh_free(sp);
}

void kh_http_server_stats(struct kh_http_server *s, struct kh_http_stats *out)
{
	out->requests = atomic_load(&s->requests);
	out->rejected_busy = atomic_load(&s->rejected_busy);
	out->rejected_limits = atomic_load(&s->rejected_limits);
}
