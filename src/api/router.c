// SPDX-License-Identifier: Apache-2.0
/*
 * Routing, authentication, body parsing and the error model: what every API call goes through
 * before and after its handler. A path matches a route when every segment equals the pattern's
 * or the pattern has {} there (one non-empty segment, captured as a parameter). A path that
 * matches some route with another method is 405; none at all is 404.
 */
#include <stdio.h>
#include <string.h>

#include "api/kh_api_int.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"

/* ---- errors (API.md "Errors": one place) ---- */

struct kh_api_error kh_api_error_of(kh_rc rc)
{
	switch (rc) {
	case KH_OK:
		return (struct kh_api_error){200, "OK"};
	case KH_ERR_DECRYPT:
		return (struct kh_api_error){400, "InvalidCiphertext"};
	case KH_ERR_TOO_LARGE:
		return (struct kh_api_error){413, "PayloadTooLarge"};
	case KH_ERR_UNAUTHENTICATED:
		return (struct kh_api_error){401, "Unauthenticated"};
	case KH_ERR_FORBIDDEN:
		return (struct kh_api_error){403, "Forbidden"};
	case KH_ERR_NOT_FOUND:
		return (struct kh_api_error){404, "NotFound"};
	case KH_ERR_CONFLICT:
		return (struct kh_api_error){409, "Conflict"};
	case KH_ERR_KEY_DISABLED:
		return (struct kh_api_error){409, "KeyDisabled"};
	case KH_ERR_KEY_PENDING_DELETION:
		return (struct kh_api_error){409, "KeyPendingDeletion"};
	case KH_ERR_VERSION_DISABLED:
		return (struct kh_api_error){409, "VersionDisabled"};
	case KH_ERR_SEALED:
		return (struct kh_api_error){503, "Sealed"};
	default:
		break;
	}
	switch (kh_rc_class_of(rc)) {
	case KH_CLASS_BAD_INPUT:
	case KH_CLASS_CRYPTO:
		return (struct kh_api_error){400, "BadRequest"};
	default:
		return (struct kh_api_error){500, "Internal"};
	}
}

/* Replaces the response with an error document. */
static void write_error_doc(struct kh_api_call *c, unsigned status, const char *code,
                            const char *msg)
{
	struct kh_http_response *resp = c->resp;
	struct kh_json_writer w;
	kh_buf_clear(&resp->body);
	resp->status = status;
	resp->content_type = NULL;
	kh_json_writer_init(&w, &resp->body);
	kh_json_object_begin(&w);
	kh_json_key(&w, "error");
	kh_json_object_begin(&w);
	kh_json_key(&w, "code");
	kh_json_cstr(&w, code);
	kh_json_key(&w, "message");
	kh_json_cstr(&w, msg);
	kh_json_key(&w, "request_id");
	kh_json_cstr(&w, c->req->request_id);
	kh_json_object_end(&w);
	kh_json_object_end(&w);
	/* The error document is small; if even it cannot be written, the status says it all. */
	if (kh_json_writer_end(&w) != KH_OK)
		kh_buf_clear(&resp->body);
}

static void write_error(struct kh_api_call *c, kh_rc rc)
{
	struct kh_api_error e = kh_api_error_of(rc);
	/* Internal failures are logged in full and shown to the client only as such. */
	const char *msg = c->message[0] != '\0' && e.status < 500 ? c->message : kh_rc_message(rc);
	if (e.status >= 500 && rc != KH_ERR_SEALED)
		KH_LOG_ERROR("request failed", KH_LF_STR("request_id", c->req->request_id),
		             KH_LF_STR("path", c->req->path), KH_LF_RC(rc));
	write_error_doc(c, e.status, e.code, msg);
	if (e.status == 503 && kh_http_response_header(c->resp, "Retry-After", "5") != KH_OK)
		KH_LOG_WARN("cannot add Retry-After", KH_LF_NONE);
}

/* ---- matching ---- */

static const struct kh_api_route *const route_tables[] = {
    kh_api_sys_routes,
    kh_api_key_routes,
    kh_api_crypto_routes,
    kh_api_audit_routes,
};

/* Matches path against pattern, capturing {} segments; true on a match. */
static bool match(const char *pattern, const char *path, struct kh_api_call *c)
{
	unsigned n = 0;
	while (*pattern != '\0' && *path != '\0') {
		if (pattern[0] == '{' && pattern[1] == '}') {
			size_t len = strcspn(path, "/");
			if (len == 0 || len > KH_LIMIT_NAME_MAX || n == KH_API_MAX_PARAMS)
				return false;
			memcpy(c->param_store[n], path, len);
			c->param_store[n][len] = '\0';
			c->params[n] = c->param_store[n];
			n++;
			pattern += 2;
			path += len;
			continue;
		}
		if (*pattern != *path)
			return false;
		pattern++;
		path++;
	}
	return *pattern == '\0' && *path == '\0';
}

/* The route for the request; *out_other_method when only another method matches. */
static const struct kh_api_route *find_route(struct kh_api_call *c, bool *out_other_method)
{
	*out_other_method = false;
	for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]); t++) {
		for (const struct kh_api_route *r = route_tables[t]; r->pattern != NULL; r++) {
			if (!match(r->pattern, c->req->path, c))
				continue;
			if (r->method == c->req->method)
				return r;
			*out_other_method = true;
		}
	}
	return NULL;
}

/* ---- authentication and body ---- */

static kh_rc authenticate(struct kh_api_call *c)
{
	const char *h = kh_http_request_header(c->req, "Authorization");
	static const char bearer[] = "Bearer ";
	if (h == NULL || strncmp(h, bearer, sizeof(bearer) - 1) != 0)
		return kh_api_fail(c, KH_ERR_UNAUTHENTICATED, "a bearer token is required");
	struct kh_slice token = kh_slice_from_cstr(h + sizeof(bearer) - 1);
	kh_rc rc = kh_authz_authenticate(c->api->authz, token, c->req->request_id,
	                                 c->req->remote_addr, &c->who, NULL);
	if (rc == KH_ERR_UNAUTHENTICATED) {
		KH_LOG_INFO("authentication failed", KH_LF_STR("request_id", c->req->request_id),
		            KH_LF_STR("source", c->req->remote_addr));
		return kh_api_fail(c, rc, "the token is unknown, expired or revoked");
	}
	return rc;
}

static kh_rc parse_body(struct kh_api_call *c, const struct kh_api_route *r)
{
	char err[128] = "";
	const char *ct = kh_http_request_header(c->req, "Content-Type");
	if (c->req->body.len == 0) {
		KH_ENSURE((r->flags & KH_API_BODY) == 0,
		          kh_api_fail(c, KH_ERR_BAD_INPUT, "a JSON object body is required"));
		return KH_OK;
	}
	if (ct == NULL || strncmp(ct, "application/json", 16) != 0 ||
	    (ct[16] != '\0' && ct[16] != ';'))
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "Content-Type must be application/json");
	kh_rc rc = kh_json_parse_object(c->req->body, &c->body, err, sizeof(err));
	if (rc != KH_OK)
		return kh_api_fail(c, rc, err);
	if (r->fields != NULL) {
		rc = kh_json_only(c->body, r->fields, err, sizeof(err));
		if (rc != KH_OK)
			return kh_api_fail(c, rc, err);
	}
	return KH_OK;
}

static kh_rc run(struct kh_api_call *c, const struct kh_api_route *r)
{
	if ((r->flags & KH_API_PUBLIC) == 0)
		KH_GUARD(authenticate(c));
	if ((r->flags & (KH_API_BODY | KH_API_BODY_OPT)) != 0)
		KH_GUARD(parse_body(c, r));
	else if (c->req->body.len > 0)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "this operation takes no body");
	kh_json_writer_init(&c->w, &c->resp->body);
	KH_GUARD(r->fn(c));
	return kh_json_writer_end(&c->w);
}

void kh_api_handle(void *ctx, const struct kh_http_request *req, struct kh_http_response *resp)
{
	struct kh_api_call c = {.api = ctx, .req = req, .resp = resp, .status = 200};
	bool other_method = false;
	const struct kh_api_route *r = find_route(&c, &other_method);
	if (r == NULL && other_method) {
		write_error_doc(&c, 405, "MethodNotAllowed", "method not allowed on this path");
		return;
	}
	if (r == NULL) {
		(void)kh_api_fail(&c, KH_ERR_NOT_FOUND, "no such path");
		write_error(&c, KH_ERR_NOT_FOUND);
		return;
	}
	kh_rc rc = run(&c, r);
	kh_json_free(&c.body);
	if (rc != KH_OK) {
		write_error(&c, rc);
		return;
	}
	resp->status = c.status;
}

/* ---- context ---- */

kh_rc kh_api_new(const struct kh_api_options *opts, struct kh_api **out)
{
	KH_ENSURE(opts != NULL && opts->store != NULL && opts->barrier != NULL &&
	              opts->audit != NULL && opts->keys != NULL && opts->authz != NULL &&
	              opts->clock != NULL,
	          KH_ERR_BAD_INPUT);
	struct kh_api *a = kh_calloc(1, sizeof(*a));
	KH_ENSURE(a != NULL, KH_ERR_NOMEM);
	a->store = opts->store;
	a->barrier = opts->barrier;
	a->audit = opts->audit;
	a->keys = opts->keys;
	a->authz = opts->authz;
	a->clock = opts->clock;
	snprintf(a->node_id, sizeof(a->node_id), "%s",
	         opts->node_id != NULL ? opts->node_id : "node-1");
	*out = a;
	return KH_OK;
}

void kh_api_free(struct kh_api **api)
{
	kh_free(api);
}
