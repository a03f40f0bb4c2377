/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside client/: the client object, the one request function the typed helpers share, and
 * small helpers for JSON bodies and answers. The public door is include/keyhold/keyhold.h.
 */
#ifndef KH_CLIENT_INT_H
#define KH_CLIENT_INT_H

#include "base/kh_buf.h"
#include "http/kh_json.h"
#include "keyhold/keyhold.h"

/* Response bodies (a page of 1000 keys is about half a megabyte). */
#define KH_CLIENT_RESPONSE_MAX (2u * 1024u * 1024u)
/* Request bodies: the server refuses more than 1 MiB anyway. */
#define KH_CLIENT_REQUEST_MAX (1024u * 1024u)
/* A bearer token as read from a file: ours are about 70 characters. */
#define KH_CLIENT_TOKEN_MAX 1024u
#define KH_CLIENT_PATH_MAX 2048u

struct keyhold_client {
	char *base;  /* scheme://host[:port][/prefix], no trailing slash */
	char *token; /* secure memory, NUL-terminated; NULL: none */
	char *ca_file;
	long connect_ms;
	long total_ms;
	void *curl; /* CURL *, kept for keep-alive */
	char err_code[64];
	char err_msg[256];
	char request_id[80];
};

/* KH_GUARD for enum keyhold_err results. */
#define KH_CLIENT_GUARD(expr)                                                                      \
	do {                                                                                       \
		enum keyhold_err kh_client_err_ = (expr);                                          \
		if (kh_client_err_ != KEYHOLD_OK)                                                  \
			return kh_client_err_;                                                     \
	} while (0)

/* Records a failure of our own (no server error document) and returns err. */
enum keyhold_err kh_client_fail(struct keyhold_client *c, enum keyhold_err err, const char *msg);

/*
 * One HTTP exchange: body (may be empty) as application/json, the answer into resp (a secure
 * buffer the caller initialised). KEYHOLD_OK for 2xx; the error of the status otherwise, with
 * the error document read into the client's error fields.
 */
KH_MUST_CHECK enum keyhold_err kh_client_call(struct keyhold_client *c, const char *method,
                                              const char *path, struct kh_slice body,
                                              long *out_status, struct kh_buf *resp);

/* The status's error (2xx: KEYHOLD_OK); code is the server's error code or "". */
enum keyhold_err kh_client_status_err(long status, const char *code);

/* A secure JSON body under construction, and the call that posts it and parses the answer. */
struct kh_client_body {
	struct kh_buf buf;
	struct kh_json_writer w;
};
void kh_client_body_init(struct kh_client_body *b);
void kh_client_body_cleanup(struct kh_client_body *b);
/* Finishes b (may be NULL for no body), calls, and parses the 2xx answer into *out_doc. */
KH_MUST_CHECK enum keyhold_err kh_client_json_call(struct keyhold_client *c, const char *method,
                                                   const char *path, struct kh_client_body *b,
                                                   struct kh_json **out_doc);
/* A string member of an answer copied into a secure keyhold_buf; Base64 decoded if b64. */
KH_MUST_CHECK enum keyhold_err kh_client_take_string(struct keyhold_client *c,
                                                     const struct kh_json *doc, const char *name,
                                                     bool b64, struct keyhold_buf *out);
/* Moves a secure kh_buf into a keyhold_buf (NUL-terminated); b is left empty. */
void kh_client_buf_move(struct kh_buf *b, struct keyhold_buf *out);

/* Maps a kh_rc of a lower layer (NOMEM, ...) to the public error. */
enum keyhold_err kh_client_err_of(kh_rc rc);

#endif
