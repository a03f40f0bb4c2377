// SPDX-License-Identifier: Apache-2.0
/*
 * The XKS proxy's request path (kh_xks_proxy.h): route, method, signature, quota, body, then one
 * call of keys/ and its answer. Key operations stage their records (kh_keys_defer); the answer
 * waits for their commit on the store's writer thread, not on this worker.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "authz/kh_sigv4.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "xks/kh_xks_proxy_int.h"

#define SERVICE "kms-xks-proxy"
#define HEADERS_ON_STACK 32u

/* ---- one call ---- */

/* requestMetadata copied out as C strings (keys/ takes NUL-terminated ones). */
struct md_copy {
	char kms_request_id[KH_LIMIT_XKS_METADATA_STRING_BYTES + 1];
	char kms_operation[KH_LIMIT_XKS_METADATA_STRING_BYTES + 1];
	char principal[KH_LIMIT_XKS_METADATA_STRING_BYTES + 1];
	char key_arn[KH_LIMIT_XKS_METADATA_STRING_BYTES + 1];
	char via[KH_LIMIT_XKS_METADATA_STRING_BYTES + 1];
	char vpc[KH_LIMIT_XKS_METADATA_STRING_BYTES + 1];
	char vpce[KH_LIMIT_XKS_METADATA_STRING_BYTES + 1];
};

struct call {
	struct kh_xks_proxy *x;
	const struct kh_http_request *req;
	struct kh_http_response *resp;
	struct kh_xks_route route;
	struct kh_xks_store_info store;
	struct kh_sigv4_identity who;
	struct kh_principal p;
	struct kh_keys_defer defer;
	struct kh_xks_request body;
	bool have_body;
	struct md_copy *md;
	/* the refusal, when there is one */
	enum kh_xks_error error;
	char message[KH_XKS_MESSAGE_MAX];
	unsigned status; /* 0: the error's own */
	int64_t start;
};

static const char *const op_names[KH_XKS_OP_COUNT] = {
    [KH_XKS_OP_HEALTH] = "health",
    [KH_XKS_OP_METADATA] = "metadata",
    [KH_XKS_OP_ENCRYPT] = "encrypt",
    [KH_XKS_OP_DECRYPT] = "decrypt",
};

/* Records the refusal for rc (message: ours, never the client's bytes). Returns rc. */
static kh_rc refuse(struct call *c, kh_rc rc, const char *message)
{
	c->error = kh_xks_error_of(rc);
	snprintf(c->message, sizeof(c->message), "%s", message);
	return rc;
}

static kh_rc refuse_as(struct call *c, enum kh_xks_error e, kh_rc rc, const char *message)
{
	c->error = e;
	snprintf(c->message, sizeof(c->message), "%s", message);
	return rc;
}

/* The message a keys/ refusal gets. */
static const char *message_of(kh_rc rc)
{
	switch (rc) {
	case KH_ERR_NOT_FOUND:
		return "no such key in this external key store";
	case KH_ERR_FORBIDDEN:
		return "secondary authorization denied the request";
	case KH_ERR_TOO_LARGE:
		return "the input is larger than this proxy takes";
	case KH_ERR_KEY_DISABLED:
		return "the key is disabled or expired";
	case KH_ERR_KEY_PENDING_DELETION:
		return "the key is pending deletion";
	case KH_ERR_VERSION_DISABLED:
		return "the key version of this ciphertext is disabled";
	case KH_ERR_CONFLICT:
		return "the external key store is disabled";
	case KH_ERR_WRONG_KEY_TYPE:
		return "the key may not be used for this operation";
	case KH_ERR_DECRYPT:
		return "the ciphertext, its metadata, IV, tag or AAD do not match";
	case KH_ERR_SEALED:
		return "keyhold is sealed";
	case KH_ERR_RATE_LIMITED:
		return "the quota of this external key store is exceeded";
	default:
		return "internal error";
	}
}

static void write_error(struct call *c)
{
	struct kh_http_response *resp = c->resp;
	/* A body that held a plaintext is wiped by clear. */
	kh_buf_clear(&resp->body);
	resp->status = c->status != 0 ? c->status : kh_xks_error_status(c->error);
	resp->content_type = NULL;
	if (kh_xks_error_encode(c->error, c->message, &resp->body) != KH_OK)
		kh_buf_clear(&resp->body);
	if (resp->status == 503 || resp->status == 429) {
		if (kh_http_response_header(resp, "Retry-After", "1") != KH_OK)
			KH_LOG_WARN("cannot add Retry-After", KH_LF_NONE);
	}
}

/* ---- authentication ---- */

struct lookup_arg {
	struct kh_keys *keys;
	int64_t store_id;
};

static kh_rc lookup_secret(void *arg, struct kh_slice access_key_id, struct kh_buf *out_secret)
{
	const struct lookup_arg *l = arg;
	return kh_keys_xks_secret(l->keys, l->store_id, access_key_id, out_secret);
}

static kh_rc authenticate(struct call *c)
{
	struct kh_sigv4_header stack[HEADERS_ON_STACK];
	struct kh_sigv4_header *h = stack;
	const struct kh_http_request *r = c->req;
	if (r->header_count > HEADERS_ON_STACK) {
		h = kh_calloc(r->header_count, sizeof(*h));
		if (h == NULL)
			return refuse(c, KH_ERR_NOMEM, "internal error");
	}
	for (size_t i = 0; i < r->header_count; i++) {
		h[i].name = kh_slice_from_cstr(r->headers[i].name);
		h[i].value = kh_slice_from_cstr(r->headers[i].value);
	}
	struct kh_sigv4_request sr = {
	    .method = kh_slice_from_cstr(r->method_name),
	    .raw_path = kh_slice_from_cstr(r->raw_path),
	    .raw_query = kh_slice_from_cstr(r->query),
	    .headers = h,
	    .header_count = r->header_count,
	    .body = r->body,
	};
	struct kh_sigv4_policy pol = {
	    .service = SERVICE,
	    .region = c->store.region[0] != '\0' ? c->store.region : NULL,
	    .now_ns = kh_clock_now(c->x->clock),
	    .max_skew_ns = c->x->max_skew_ns,
	};
	struct lookup_arg l = {c->x->keys, c->store.id};
	enum kh_sigv4_reason why = KH_SIGV4_OK;
	kh_rc rc = kh_sigv4_verify(&pol, &sr, lookup_secret, &l, &c->who, &why);
	if (h != stack)
		kh_free(&h);
	if (rc == KH_ERR_UNAUTHENTICATED) {
		atomic_fetch_add_explicit(&c->x->unauthenticated, 1, memory_order_relaxed);
		KH_LOG_INFO("xks authentication failed", KH_LF_STR("request_id", r->request_id),
		            KH_LF_STR("source", r->remote_addr),
		            KH_LF_STR("prefix", c->store.prefix),
		            KH_LF_STR("reason", kh_sigv4_reason_name(why)));
		return refuse(c, rc, "the request signature does not verify");
	}
	if (rc != KH_OK)
		return refuse(c, rc, message_of(rc));
	return KH_OK;
}

/* ---- the operations ---- */

static void copy_md(char *dst, struct kh_slice s)
{
	size_t n = s.len <= KH_LIMIT_XKS_METADATA_STRING_BYTES ? s.len
	                                                       : KH_LIMIT_XKS_METADATA_STRING_BYTES;
	if (n > 0)
		memcpy(dst, s.ptr, n);
	dst[n] = '\0';
}

static kh_rc make_call(struct call *c, struct kh_xks_call *out)
{
	const struct kh_xks_request_metadata *m = &c->body.md;
	/* Not zeroed: copy_md writes every string it keeps, with its NUL. */
	c->md = kh_alloc(sizeof(*c->md));
	if (c->md == NULL)
		return refuse(c, KH_ERR_NOMEM, "internal error");
	copy_md(c->md->kms_request_id, m->kms_request_id);
	copy_md(c->md->kms_operation, m->kms_operation);
	copy_md(c->md->principal, m->aws_principal_arn);
	copy_md(c->md->key_arn, m->kms_key_arn);
	copy_md(c->md->via, m->kms_via_service);
	copy_md(c->md->vpc, m->aws_source_vpc);
	copy_md(c->md->vpce, m->aws_source_vpce);
	*out = (struct kh_xks_call){
	    .store_id = c->store.id,
	    .external_key_id = c->route.key_id,
	    .kms_request_id = c->md->kms_request_id,
	    .kms_operation = c->md->kms_operation,
	    .aws_principal_arn = c->md->principal,
	    .kms_key_arn = c->md->key_arn,
	    .kms_via_service = c->md->via,
	    .aws_source_vpc = c->md->vpc,
	    .aws_source_vpce = c->md->vpce,
	    .size_rc = c->body.late == KH_ERR_TOO_LARGE ? KH_ERR_TOO_LARGE : KH_OK,
	};
	return KH_OK;
}

/* A keys/ refusal: a late one of the decoder keeps the decoder's message. */
static kh_rc op_failed(struct call *c, kh_rc rc)
{
	if (c->body.late == rc) {
		c->error = c->body.late_fault.error;
		snprintf(c->message, sizeof(c->message), "%s", c->body.late_fault.message);
		return rc;
	}
	return refuse(c, rc, message_of(rc));
}

static kh_rc do_metadata(struct call *c, const struct kh_xks_call *xc)
{
	struct kh_xks_key_state st;
	const char *usages[2];
	size_t n = 0;
	kh_rc rc = kh_keys_xks_metadata(c->x->keys, &c->p, xc, &st);
	if (rc != KH_OK)
		return op_failed(c, rc);
	if ((st.usages & KH_XKS_USE_ENCRYPT) != 0)
		usages[n++] = "ENCRYPT";
	if ((st.usages & KH_XKS_USE_DECRYPT) != 0)
		usages[n++] = "DECRYPT";
	rc = kh_xks_metadata_encode(usages, n, st.enabled, &c->resp->body);
	return rc == KH_OK ? KH_OK : refuse(c, rc, "internal error");
}

static kh_rc do_encrypt(struct call *c, const struct kh_xks_call *xc)
{
	struct kh_xks_sealed s;
	memset(&s, 0, sizeof(s));
	kh_buf_init(&s.ciphertext, KH_LIMIT_XKS_PLAINTEXT_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_keys_xks_encrypt(c->x->keys, &c->p, xc, kh_buf_slice(&c->body.plaintext),
	                               kh_buf_slice(&c->body.aad), c->body.want_integrity, &s);
	if (rc != KH_OK) {
		kh_buf_cleanup(&s.ciphertext);
		return op_failed(c, rc);
	}
	rc = kh_xks_encrypt_encode(kh_buf_slice(&s.ciphertext), KH_SLICE(s.iv, sizeof(s.iv)),
	                           KH_SLICE(s.tag, sizeof(s.tag)),
	                           KH_SLICE(s.metadata, sizeof(s.metadata)),
	                           c->body.want_integrity ? s.integrity : NULL, &c->resp->body);
	kh_buf_cleanup(&s.ciphertext);
	return rc == KH_OK ? KH_OK : refuse(c, rc, "internal error");
}

static kh_rc do_decrypt(struct call *c, const struct kh_xks_call *xc)
{
	struct kh_buf pt;
	struct kh_buf *b = &c->resp->body;
	size_t max = b->max;
	/* The answer carries the plaintext: the body goes to secure memory. */
	kh_buf_cleanup(b);
	kh_buf_init(b, max, KH_BUF_SECURE);
	kh_buf_init(&pt, KH_LIMIT_XKS_PLAINTEXT_BYTES, KH_BUF_SECURE);
	kh_rc rc =
	    kh_keys_xks_decrypt(c->x->keys, &c->p, xc, kh_buf_slice(&c->body.ciphertext),
	                        kh_buf_slice(&c->body.iv), kh_buf_slice(&c->body.tag),
	                        kh_buf_slice(&c->body.metadata), kh_buf_slice(&c->body.aad), &pt);
	if (rc == KH_OK) {
		rc = kh_xks_decrypt_encode(kh_buf_slice(&pt), b);
		if (rc != KH_OK)
			(void)refuse(c, rc, "internal error");
	} else {
		(void)op_failed(c, rc);
	}
	kh_buf_cleanup(&pt);
	return rc;
}

static kh_rc run_op(struct call *c)
{
	struct kh_xks_call xc;
	if (c->route.op == KH_XKS_OP_HEALTH) {
		kh_rc rc = kh_xks_proxy_health(c->x, &c->resp->body);
		return rc == KH_OK ? KH_OK : refuse(c, rc, message_of(rc));
	}
	KH_GUARD(make_call(c, &xc));
	c->p = (struct kh_principal){
	    .kind = KH_PRINCIPAL_XKS,
	    .keystore_id = c->store.keystore_id,
	    .xks_store_id = c->store.id,
	    .xks_access_key = c->who.access_key_id,
	    .request_id = c->req->request_id,
	    .source = c->req->remote_addr,
	    .defer = &c->defer,
	};
	switch (c->route.op) {
	case KH_XKS_OP_METADATA:
		return do_metadata(c, &xc);
	case KH_XKS_OP_ENCRYPT:
		return do_encrypt(c, &xc);
	case KH_XKS_OP_DECRYPT:
		return do_decrypt(c, &xc);
	default:
		return refuse(c, KH_ERR_INTERNAL, "internal error");
	}
}

static bool is_post(const struct kh_http_request *r)
{
	return r->method == KH_HTTP_POST;
}

/* Everything up to the answer; KH_OK with the answer in resp->body, else c->error. */
static kh_rc serve(struct call *c)
{
	struct kh_xks_fault fault;
	if (!kh_xks_route_parse(c->req->raw_path, &c->route))
		return refuse_as(c, KH_XKS_ERR_INVALID_URI_PATH, KH_ERR_NOT_FOUND, "no such path");
	kh_rc rc = kh_keys_xks_resolve(c->x->keys, c->route.prefix, &c->store);
	if (rc == KH_ERR_NOT_FOUND)
		return refuse_as(c, KH_XKS_ERR_INVALID_URI_PATH, rc, "no such path");
	if (rc != KH_OK)
		return refuse(c, rc, message_of(rc));
	if (!is_post(c->req)) {
		c->status = 405;
		if (kh_http_response_header(c->resp, "Allow", "POST") != KH_OK)
			KH_LOG_WARN("cannot add Allow", KH_LF_NONE);
		return refuse_as(c, KH_XKS_ERR_VALIDATION, KH_ERR_BAD_INPUT,
		                 "method not allowed: XKS requests are POST");
	}
	KH_GUARD(authenticate(c));
	if (!kh_xks_quota_take(c->x, &c->store))
		return refuse(c, KH_ERR_RATE_LIMITED, message_of(KH_ERR_RATE_LIMITED));
	memset(&fault, 0, sizeof(fault));
	rc = kh_xks_request_decode(c->route.op, c->req->body, &c->body, &fault);
	if (rc != KH_OK) {
		c->error = fault.error;
		snprintf(c->message, sizeof(c->message), "%s", fault.message);
		return rc;
	}
	c->have_body = true;
	return run_op(c);
}

/* ---- logging and the deferred answer ---- */

static void log_call(struct call *c, bool ok)
{
	int64_t us = (kh_clock_mono_ns() - c->start) / 1000;
	const char *result = ok ? "ok" : kh_xks_error_name(c->error);
	KH_LOG_INFO("xks", KH_LF_STR("request_id", c->req->request_id),
	            KH_LF_STR("kms_request_id", c->md != NULL ? c->md->kms_request_id : ""),
	            KH_LF_STR("operation", op_names[c->route.op]),
	            KH_LF_STR("prefix", c->route.prefix), KH_LF_STR("key", c->route.key_id),
	            KH_LF_STR("principal", c->md != NULL ? c->md->principal : ""),
	            KH_LF_STR("access_key", c->who.access_key_id), KH_LF_STR("result", result),
	            KH_LF_INT("latency_us", us));
}

static void finish(struct call *c, bool ok)
{
	struct kh_xks_proxy *x = c->x;
	atomic_fetch_add_explicit(&x->requests, 1, memory_order_relaxed);
	if (ok)
		atomic_fetch_add_explicit(&x->ok, 1, memory_order_relaxed);
	else if (c->error == KH_XKS_ERR_THROTTLING)
		atomic_fetch_add_explicit(&x->throttled, 1, memory_order_relaxed);
	if (c->route.op != KH_XKS_OP_HEALTH || !ok)
		log_call(c, ok);
}

static void call_cleanup(struct call *c)
{
	if (c->have_body)
		kh_xks_request_cleanup(&c->body);
	kh_free(&c->md);
}

/* A call whose answer waits for the commit of its records. */
struct pending {
	struct kh_keys_commit commit;
	struct call c;
	bool ok;
};

static void pending_done(void *arg, kh_rc rc)
{
	struct pending *pd = arg;
	struct call *c = &pd->c;
	/* What the operation produced goes nowhere unless its record is on disk. */
	if (rc != KH_OK) {
		(void)refuse(c, rc, message_of(rc));
		write_error(c);
		pd->ok = false;
	}
	finish(c, pd->ok);
	kh_http_response_ready(c->resp);
	call_cleanup(c);
	kh_free(&pd);
}

void kh_xks_proxy_handle(void *ctx, const struct kh_http_request *req,
                         struct kh_http_response *resp)
{
	struct pending *pd = kh_calloc(1, sizeof(*pd));
	if (pd == NULL) {
		struct call tmp = {.x = ctx, .req = req, .resp = resp};
		(void)refuse(&tmp, KH_ERR_NOMEM, "internal error");
		write_error(&tmp);
		return;
	}
	struct call *c = &pd->c;
	*c = (struct call){.x = ctx, .req = req, .resp = resp, .start = kh_clock_mono_ns()};
	kh_rc rc = serve(c);
	pd->ok = rc == KH_OK;
	if (pd->ok) {
		resp->status = 200;
		resp->content_type = NULL;
	} else {
		write_error(c);
	}
	if (c->defer.count > 0) {
		if (kh_http_response_defer(resp)) {
			/* From here resp and pd belong to pending_done. */
			kh_keys_defer_commit(c->x->keys, &c->defer, &pd->commit, pending_done, pd);
			return;
		}
		rc = kh_keys_defer_flush(c->x->keys, &c->defer);
		if (rc != KH_OK) {
			(void)refuse(c, rc, message_of(rc));
			write_error(c);
			pd->ok = false;
		}
	}
	finish(c, pd->ok);
	call_cleanup(c);
	kh_free(&pd);
}

bool kh_xks_proxy_owns(const struct kh_http_request *req)
{
	return kh_xks_route_mentioned(req->raw_path);
}
