/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The native REST API, version 1 (API.md): one handler per operation, each decoding its request
 * into a validated struct, asking authz/ who is calling, calling one function of keys/ (or the
 * barrier), and encoding the answer. Handlers never touch SQL, OpenSSL or libmicrohttpd.
 *
 * kh_api_handle is the kh_http_handler the server installs; it routes by method and path,
 * authenticates (Authorization: Bearer), parses JSON bodies strictly, and maps every kh_rc to
 * the status and error code of API.md in one place (kh_api_error_of).
 */
#ifndef KH_API_H
#define KH_API_H

#include "authz/kh_authz.h"
#include "http/kh_http.h"
#include "keys/kh_keys.h"

struct kh_api;

struct kh_api_options {
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	struct kh_keys *keys;
	struct kh_authz *authz;
	const struct kh_clock *clock;
	const char *node_id; /* for health; NULL: "node-1" */
};
KH_MUST_CHECK kh_rc kh_api_new(const struct kh_api_options *opts, struct kh_api **out);
void kh_api_free(struct kh_api **api);

/* The HTTP handler; ctx is the struct kh_api. */
void kh_api_handle(void *ctx, const struct kh_http_request *req, struct kh_http_response *resp);

/* API.md's error model: the HTTP status and code for a result. */
struct kh_api_error {
	unsigned status;
	const char *code; /* "KeyDisabled", "NotFound", ... */
};
struct kh_api_error kh_api_error_of(kh_rc rc);

#endif
