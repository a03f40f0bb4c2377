// SPDX-License-Identifier: Apache-2.0
/*
 * Routing, authentication, body parsing and the error model: what every API call goes through
 * before and after its handler. A path matches a route when every segment equals the pattern's
 * or the pattern has {} there (one non-empty segment, captured as a parameter). A path that
 * matches some route with another method is 405; none at all is 404.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

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
	case KH_ERR_UNSUPPORTED_MEDIA:
		return (struct kh_api_error){415, "UnsupportedMediaType"};
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
	case KH_ERR_RATE_LIMITED:
		return (struct kh_api_error){429, "TooManyRequests"};
	case KH_ERR_BAD_SIGNATURE:
		return (struct kh_api_error){400, "BadSignature"};
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
	char retry[16] = "5";
	if (e.status == 429)
		snprintf(retry, sizeof(retry), "%u", c->retry_after > 0 ? c->retry_after : 1u);
	if ((e.status == 503 || e.status == 429) &&
	    kh_http_response_header(c->resp, "Retry-After", retry) != KH_OK)
		KH_LOG_WARN("cannot add Retry-After", KH_LF_NONE);
}

/* ---- matching ---- */

static const struct kh_api_route *const route_tables[] = {
    kh_api_sys_routes,     kh_api_key_routes,     kh_api_crypto_routes, kh_api_audit_routes,
    kh_api_webhook_routes, kh_api_metrics_routes, kh_api_xks_routes,    kh_api_pki_routes,
    kh_api_backup_routes,  kh_api_est_routes,     kh_api_kmc_routes,
};

/* Matches path against the route's pattern, capturing {} segments; true on a match. */
static bool match(const struct kh_api_route *r, const char *path, struct kh_api_call *c)
{
	const char *pattern = r->pattern;
	size_t max = (r->flags & KH_API_LONG_PARAMS) != 0 ? KH_LIMIT_PATH_PARAM_LONG_BYTES
	                                                  : KH_LIMIT_NAME_MAX;
	unsigned n = 0;
	while (*pattern != '\0' && *path != '\0') {
		if (pattern[0] == '{' && pattern[1] == '}' && pattern[2] == '\0' &&
		    (r->flags & KH_API_TAIL) != 0 && n < KH_API_MAX_PARAMS) {
			c->params[n] = path;
			return true;
		}
		if (pattern[0] == '{' && pattern[1] == '}') {
			size_t len = strcspn(path, "/");
			if (len == 0 || len > max || n == KH_API_MAX_PARAMS)
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

/* The route for the request and its index in the tables (its metrics series); *out_other_method
 * when only another method matches. */
static const struct kh_api_route *find_route(struct kh_api_call *c, bool *out_other_method,
                                             size_t *out_index)
{
	size_t i = 0;
	*out_other_method = false;
	for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]); t++) {
		for (const struct kh_api_route *r = route_tables[t]; r->pattern != NULL; r++, i++) {
			if (!match(r, c->req->path, c))
				continue;
			/* HEAD is GET without the body (RFC 9110 9.3.2); the server drops the body.
			 */
			if (r->method == c->req->method ||
			    (c->req->method == KH_HTTP_HEAD && r->method == KH_HTTP_GET)) {
				*out_index = i;
				return r;
			}
			*out_other_method = true;
		}
	}
	return NULL;
}

/* The route table, one "METHOD /pattern" line per route (keyholdd --routes; the OpenAPI test
 * compares it with docs/openapi.yaml). */
void kh_api_routes_print(FILE *out)
{
	static const char *const names[] = {
	    [KH_HTTP_GET] = "GET",     [KH_HTTP_HEAD] = "HEAD",   [KH_HTTP_POST] = "POST",
	    [KH_HTTP_PUT] = "PUT",     [KH_HTTP_PATCH] = "PATCH", [KH_HTTP_DELETE] = "DELETE",
	    [KH_HTTP_OTHER] = "OTHER",
	};
	for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]); t++) {
		for (const struct kh_api_route *r = route_tables[t]; r->pattern != NULL; r++) {
			bool known = (size_t)r->method < sizeof(names) / sizeof(names[0]) &&
			             names[r->method] != NULL;
			fprintf(out, "%s %s\n", known ? names[r->method] : "?", r->pattern);
		}
	}
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

/* RFC 9110 8.3.1: type and subtype are case-insensitive, and parameters (a charset) may follow
 * after optional whitespace and a ';'. */
static bool is_json(const char *ct)
{
	static const char json[] = "application/json";
	if (ct == NULL || strncasecmp(ct, json, sizeof(json) - 1) != 0)
		return false;
	ct += sizeof(json) - 1;
	ct += strspn(ct, " \t");
	return *ct == '\0' || *ct == ';';
}

static kh_rc parse_body(struct kh_api_call *c, const struct kh_api_route *r)
{
	char err[128] = "";
	if (c->req->body.len == 0) {
		KH_ENSURE((r->flags & KH_API_BODY) == 0,
		          kh_api_fail(c, KH_ERR_BAD_INPUT, "a JSON object body is required"));
		return KH_OK;
	}
	if (!is_json(kh_http_request_header(c->req, "Content-Type")))
		return kh_api_fail(c, KH_ERR_UNSUPPORTED_MEDIA,
		                   "Content-Type must be application/json");
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

/* ---- rate limiting ---- */

/* Takes a token from key's bucket, or refuses with the seconds until the next one. */
static kh_rc limit(struct kh_api_call *c, const char *key)
{
	if (kh_ratelimit_take(c->api->limiter, key, &c->retry_after))
		return KH_OK;
	kh_metrics_rate_limited(c->api->metrics);
	KH_LOG_DEBUG("rate limited", KH_LF_STR("request_id", c->req->request_id),
	             KH_LF_STR("key", key));
	return kh_api_fail(c, KH_ERR_RATE_LIMITED, "too many requests; retry after Retry-After");
}

/* Callers without a valid token are limited by their address. */
static kh_rc limit_address(struct kh_api_call *c)
{
	char key[KH_RATELIMIT_KEY_MAX];
	kh_ratelimit_addr_key(c->req->remote_addr, key);
	return limit(c, key);
}

static kh_rc limit_principal(struct kh_api_call *c)
{
	char key[KH_RATELIMIT_KEY_MAX];
	if (c->who.kind == KH_PRINCIPAL_ACCOUNT)
		snprintf(key, sizeof(key), "account:%lld", (long long)c->who.account_id);
	else
		snprintf(key, sizeof(key), "operator");
	return limit(c, key);
}

/* Authenticates (when the route needs it) and applies the rate limit, before the handler: a
 * failed authentication costs the address a token too, so guessing tokens is limited. */
static kh_rc admit(struct kh_api_call *c, const struct kh_api_route *r)
{
	bool unlimited = (r->flags & KH_API_UNLIMITED) != 0;
	if ((r->flags & KH_API_PUBLIC) != 0)
		return unlimited ? KH_OK : limit_address(c);
	kh_rc rc = authenticate(c);
	if (rc == KH_ERR_UNAUTHENTICATED && !unlimited)
		KH_GUARD(limit_address(c));
	KH_GUARD(rc);
	return unlimited ? KH_OK : limit_principal(c);
}

static kh_rc run(struct kh_api_call *c, const struct kh_api_route *r)
{
	KH_GUARD(admit(c, r));
	if ((r->flags & KH_API_DEFER) != 0 && c->who.kind != 0)
		c->who.defer = &c->defer;
	if ((r->flags & KH_API_PKI) != 0 && c->api->pki == NULL)
		return kh_api_fail(c, KH_ERR_NOT_FOUND, "the PKI is not enabled on this server");
	if ((r->flags & (KH_API_BODY | KH_API_BODY_OPT)) != 0)
		KH_GUARD(parse_body(c, r));
	else if (c->req->body.len > 0 && (r->flags & KH_API_RAW_BODY) == 0)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "this operation takes no body");
	kh_json_writer_init(&c->w, &c->resp->body);
	KH_GUARD(r->fn(c));
	/* A raw handler wrote its body and content type itself; a 204 has none. */
	return (r->flags & KH_API_RAW) != 0 || c->status == 204 ? KH_OK : kh_json_writer_end(&c->w);
}

static void dispatch(struct kh_api_call *c, const struct kh_api_route *r, bool other_method)
{
	if (r == NULL && other_method) {
		write_error_doc(c, 405, "MethodNotAllowed", "method not allowed on this path");
		return;
	}
	if (r == NULL) {
		(void)kh_api_fail(c, KH_ERR_NOT_FOUND, "no such path");
		write_error(c, KH_ERR_NOT_FOUND);
		return;
	}
	kh_rc rc = run(c, r);
	kh_json_free(&c->body);
	if (rc != KH_OK) {
		write_error(c, rc);
		return;
	}
	c->resp->status = c->status;
}

/* A request whose answer waits for the commit of its records. */
struct pending {
	struct kh_keys_commit commit;
	struct kh_api_call c; /* api, req, resp and message for an error answer */
	size_t series;
	int64_t start;
};

static void pending_done(void *arg, kh_rc rc)
{
	struct pending *pd = arg;
	struct kh_api_call *c = &pd->c;
	/* What the operation produced goes nowhere unless its record is on disk. */
	if (rc != KH_OK) {
		c->message[0] = '\0';
		write_error(c, rc);
	}
	kh_metrics_observe(c->api->metrics, pd->series, c->resp->status,
	                   kh_clock_mono_ns() - pd->start);
	kh_http_response_ready(c->resp);
	kh_free(&pd);
}

void kh_api_handle(void *ctx, const struct kh_http_request *req, struct kh_http_response *resp)
{
	int64_t start = kh_clock_mono_ns();
	struct kh_api_call c = {.api = ctx, .req = req, .resp = resp, .status = 200};
	bool other_method = false;
	size_t series = 0;
	const struct kh_api_route *r = find_route(&c, &other_method, &series);
	dispatch(&c, r, other_method);
	if (r == NULL)
		series = kh_metrics_unmatched(c.api->metrics);
	if (c.defer.count > 0) {
		struct pending *pd = kh_calloc(1, sizeof(*pd));
		if (pd != NULL && kh_http_response_defer(resp)) {
			pd->c = (struct kh_api_call){.api = c.api, .req = req, .resp = resp};
			pd->series = series;
			pd->start = start;
			/* From here resp and pd belong to pending_done. */
			kh_keys_defer_commit(c.api->keys, &c.defer, &pd->commit, pending_done, pd);
			return;
		}
		kh_free(&pd);
		kh_rc rc = kh_keys_defer_flush(c.api->keys, &c.defer);
		if (rc != KH_OK) {
			c.message[0] = '\0';
			write_error(&c, rc);
		}
	}
	kh_metrics_observe(c.api->metrics, series, resp->status, kh_clock_mono_ns() - start);
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
	a->pki = opts->pki;
	if (opts->est_default_label != NULL &&
	    strlen(opts->est_default_label) >= sizeof(a->est_default_label)) {
		kh_free(&a);
		return KH_ERR_BAD_INPUT;
	}
	snprintf(a->est_default_label, sizeof(a->est_default_label), "%s",
	         opts->est_default_label != NULL ? opts->est_default_label : "");
	a->clock = opts->clock;
	snprintf(a->node_id, sizeof(a->node_id), "%s",
	         opts->node_id != NULL ? opts->node_id : "node-1");
	a->http_stats = opts->http_stats;
	a->http_stats_arg = opts->http_stats_arg;
	a->xks_stats = opts->xks_stats;
	a->xks_stats_arg = opts->xks_stats_arg;
	pthread_mutex_init(&a->backup_mu, NULL);
	if (opts->data_dir != NULL && snprintf(a->data_dir, sizeof(a->data_dir), "%s",
	                                       opts->data_dir) >= (int)sizeof(a->data_dir)) {
		kh_api_free(&a);
		return KH_ERR_BAD_INPUT;
	}
	struct kh_ratelimit_options ro = {opts->rate_limit_rps, opts->rate_limit_burst,
	                                  opts->rate_limit_clock};
	kh_rc rc = kh_metrics_new(route_tables, sizeof(route_tables) / sizeof(route_tables[0]),
	                          &a->metrics);
	if (rc == KH_OK)
		rc = kh_ratelimit_new(&ro, &a->limiter);
	if (rc != KH_OK) {
		kh_api_free(&a);
		return rc;
	}
	*out = a;
	return KH_OK;
}

void kh_api_free(struct kh_api **api)
{
	if (*api == NULL)
		return;
	kh_metrics_free(&(*api)->metrics);
	kh_ratelimit_free(&(*api)->limiter);
	pthread_mutex_destroy(&(*api)->backup_mu);
	kh_free(api);
}
