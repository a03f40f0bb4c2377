// SPDX-License-Identifier: Apache-2.0
/*
 * Small pieces the handlers share: typed access to body members, path and query parameters
 * with their bounds, record results in the API's terms, the key object of API.md, and secure
 * response bodies.
 */
#include <stdio.h>
#include <string.h>

#include "api/kh_api_int.h"
#include "base/kh_int.h"

kh_rc kh_api_fail(struct kh_api_call *c, kh_rc rc, const char *message)
{
	if (message != NULL)
		snprintf(c->message, sizeof(c->message), "%s", message);
	return rc;
}

kh_rc kh_api_key_error(struct kh_api_call *c, kh_rc rc)
{
	switch (rc) {
	case KH_ERR_NOT_FOUND:
		return kh_api_fail(c, rc, "no such key");
	case KH_ERR_FORBIDDEN:
		return kh_api_fail(c, rc,
		                   c->who.kind == KH_PRINCIPAL_OPERATOR
		                       ? "the operator does not use or read tenant keys"
		                       : "your roles on this key do not allow this operation");
	case KH_ERR_CONFLICT:
		return kh_api_fail(c, rc, "the key's state does not allow this operation");
	case KH_ERR_WRONG_KEY_TYPE:
		return kh_api_fail(c, rc, "the key's type or usage does not allow this operation");
	case KH_ERR_DECRYPT:
		return kh_api_fail(c, rc,
		                   "the ciphertext is malformed, altered, or not for this key and "
		                   "context");
	case KH_ERR_TOO_LARGE:
		return kh_api_fail(c, rc, "the input is too large for this key");
	default:
		return rc;
	}
}

kh_rc kh_api_param_id(struct kh_api_call *c, unsigned i, int64_t *out)
{
	uint64_t v = 0;
	KH_ENSURE(i < KH_API_MAX_PARAMS && c->params[i] != NULL, KH_ERR_INTERNAL);
	/* A malformed id names nothing. */
	if (kh_parse_u64(kh_slice_from_cstr(c->params[i]), 1, INT64_MAX, &v) != KH_OK)
		return kh_api_fail(c, KH_ERR_NOT_FOUND, "no such object");
	*out = (int64_t)v;
	return KH_OK;
}

kh_rc kh_api_member_fail(struct kh_api_call *c, kh_rc rc, const char *name, const char *what)
{
	snprintf(c->message, sizeof(c->message), "\"%s\" %s", name, what);
	return rc;
}

kh_rc kh_api_opt_string(struct kh_api_call *c, const char *name, char *out, size_t out_len,
                        bool *out_present)
{
	struct kh_slice s;
	*out_present = false;
	if (c->body == NULL)
		return KH_OK;
	kh_rc rc = kh_json_get_string(c->body, name, &s);
	if (rc == KH_ERR_NOT_FOUND)
		return KH_OK;
	if (rc != KH_OK)
		return kh_api_member_fail(c, rc, name, "must be a string");
	if (s.len >= out_len)
		return kh_api_member_fail(c, KH_ERR_TOO_LARGE, name, "is too long");
	memcpy(out, s.ptr, s.len);
	out[s.len] = '\0';
	*out_present = true;
	return KH_OK;
}

kh_rc kh_api_req_string(struct kh_api_call *c, const char *name, char *out, size_t out_len)
{
	bool present = false;
	KH_GUARD(kh_api_opt_string(c, name, out, out_len, &present));
	return present ? KH_OK : kh_api_member_fail(c, KH_ERR_BAD_INPUT, name, "is required");
}

kh_rc kh_api_opt_int(struct kh_api_call *c, const char *name, int64_t min, int64_t max,
                     int64_t *out, bool *out_present)
{
	*out_present = false;
	if (c->body == NULL)
		return KH_OK;
	kh_rc rc = kh_json_get_int(c->body, name, min, max, out);
	if (rc == KH_ERR_NOT_FOUND)
		return KH_OK;
	if (rc != KH_OK)
		return kh_api_member_fail(c, rc, name, "must be an integer in range");
	*out_present = true;
	return KH_OK;
}

kh_rc kh_api_opt_bool(struct kh_api_call *c, const char *name, bool *out)
{
	if (c->body == NULL)
		return KH_OK;
	kh_rc rc = kh_json_get_bool(c->body, name, out);
	if (rc == KH_ERR_NOT_FOUND)
		return KH_OK;
	return rc == KH_OK ? KH_OK : kh_api_member_fail(c, rc, name, "must be true or false");
}

bool kh_api_has(const struct kh_api_call *c, const char *name)
{
	struct kh_slice ignored;
	return c->body != NULL && kh_json_get_string(c->body, name, &ignored) != KH_ERR_NOT_FOUND;
}

kh_rc kh_api_base64(struct kh_api_call *c, const char *name, struct kh_buf *out)
{
	if (c->body == NULL)
		return KH_ERR_NOT_FOUND;
	kh_rc rc = kh_json_get_base64(c->body, name, out);
	switch (rc) {
	case KH_OK:
	case KH_ERR_NOT_FOUND:
		return rc;
	case KH_ERR_TOO_LARGE:
		return kh_api_member_fail(c, rc, name, "is too large");
	default:
		return kh_api_member_fail(c, rc, name, "must be standard Base64 with padding");
	}
}

kh_rc kh_api_query_uint(struct kh_api_call *c, const char *name, uint64_t min, uint64_t max,
                        uint64_t *out)
{
	const char *v = kh_http_request_query(c->req, name);
	if (v == NULL)
		return KH_OK;
	if (kh_parse_u64(kh_slice_from_cstr(v), min, max, out) != KH_OK)
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, name, "is out of range");
	return KH_OK;
}

/* Cursors are "c1" and 16 lower-case hex digits of the position: the prefix lets the format
 * change without old cursors being misread; clients treat the whole as opaque. */
#define CURSOR_PREFIX "c1"
#define CURSOR_LEN (sizeof(CURSOR_PREFIX) - 1 + 16)

kh_rc kh_api_cursor_fail(struct kh_api_call *c)
{
	return kh_api_fail(c, KH_ERR_BAD_INPUT, "\"next\" is not a cursor of this list");
}

kh_rc kh_api_query_cursor(struct kh_api_call *c, int64_t *out)
{
	static const char digits[] = "0123456789abcdef";
	const char *v = kh_http_request_query(c->req, "next");
	uint64_t pos = 0;
	if (v == NULL)
		return KH_OK;
	if (strlen(v) != CURSOR_LEN || strncmp(v, CURSOR_PREFIX, sizeof(CURSOR_PREFIX) - 1) != 0)
		return kh_api_cursor_fail(c);
	for (const char *p = v + sizeof(CURSOR_PREFIX) - 1; *p != '\0'; p++) {
		const char *d = strchr(digits, *p);
		if (d == NULL)
			return kh_api_cursor_fail(c);
		pos = pos << 4 | (uint64_t)(d - digits);
	}
	if (pos == 0 || pos > INT64_MAX)
		return kh_api_cursor_fail(c);
	*out = (int64_t)pos;
	return KH_OK;
}

void kh_api_write_next(struct kh_json_writer *w, int64_t last)
{
	char text[CURSOR_LEN + 1];
	snprintf(text, sizeof(text), CURSOR_PREFIX "%016llx", (unsigned long long)last);
	kh_json_key(w, "next");
	kh_json_cstr(w, text);
}

struct api_audit {
	struct kh_api_call *c;
	const char *operation;
	int64_t keystore_id;
	kh_rc outcome;
	const char *detail;
};

static kh_rc api_audit_fn(struct kh_store_tx *tx, void *arg)
{
	struct api_audit *a = arg;
	char who[KH_PRINCIPAL_NAME_MAX];
	kh_keys_principal_name(&a->c->who, who, sizeof(who));
	struct kh_audit_event ev = {
	    .request_id = a->c->req->request_id,
	    .principal = who,
	    .source = a->c->req->remote_addr,
	    .operation = a->operation,
	    .keystore_id = a->keystore_id,
	    .result = a->outcome == KH_OK ? "ok" : kh_rc_name(a->outcome),
	    .detail = a->detail,
	};
	return kh_audit_append(a->c->api->audit, tx, &ev, NULL);
}

kh_rc kh_api_audit(struct kh_api_call *c, const char *operation, int64_t keystore_id, kh_rc outcome,
                   const char *detail)
{
	struct api_audit a = {c, operation, keystore_id, outcome, detail};
	return kh_store_write(c->api->store, api_audit_fn, &a);
}

const char *kh_api_result_code(const char *stored)
{
	kh_rc rc = KH_OK;
	if (strcmp(stored, "ok") == 0 || kh_rc_parse(stored, &rc) != KH_OK)
		return stored;
	return rc == KH_OK ? "ok" : kh_api_error_of(rc).code;
}

void kh_api_write_key(struct kh_json_writer *w, const struct kh_key_info *k)
{
	kh_json_object_begin(w);
	kh_json_key(w, "tag");
	kh_json_cstr(w, k->tag);
	kh_json_key(w, "name");
	kh_json_cstr(w, k->name);
	kh_json_key(w, "type");
	kh_json_cstr(w, kh_key_type_name(k->type));
	kh_json_key(w, "usage");
	kh_json_cstr(w, kh_key_usage_name(k->usage));
	kh_json_key(w, "state");
	kh_json_cstr(w, kh_key_state_name(k->state));
	kh_json_key(w, "current_version");
	kh_json_uint(w, k->current_version);
	kh_json_key(w, "rotation_period_days");
	kh_json_uint(w, k->rotation_period_days);
	if (k->pending_period_days >= 0) {
		kh_json_key(w, "pending_rotation_period_days");
		kh_json_int(w, k->pending_period_days);
	}
	kh_json_key(w, "next_rotation_at");
	if (k->next_rotation_at != 0)
		kh_json_time(w, k->next_rotation_at);
	else
		kh_json_null(w);
	kh_json_key(w, "created_at");
	kh_json_time(w, k->created_at);
	if (k->deletion_at != 0) {
		kh_json_key(w, "deletion_at");
		kh_json_time(w, k->deletion_at);
	}
	if (k->deleted_at != 0) {
		kh_json_key(w, "deleted_at");
		kh_json_time(w, k->deleted_at);
	}
	kh_json_key(w, "usage_count");
	kh_json_uint(w, k->usage_count);
	kh_json_key(w, "last_used_at");
	if (k->last_used_at != 0)
		kh_json_time(w, k->last_used_at);
	else
		kh_json_null(w);
	kh_json_key(w, "convergent");
	kh_json_bool(w, k->convergent);
	kh_json_key(w, "description");
	kh_json_cstr(w, k->description);
	kh_json_object_end(w);
}

kh_rc kh_api_secure_body(struct kh_api_call *c)
{
	struct kh_buf *b = &c->resp->body;
	size_t max = b->max;
	KH_ENSURE(b->len == 0, KH_ERR_INTERNAL);
	kh_buf_cleanup(b);
	kh_buf_init(b, max, KH_BUF_SECURE);
	kh_json_writer_init(&c->w, b);
	return KH_OK;
}
