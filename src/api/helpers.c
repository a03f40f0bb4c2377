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

/* ---- RFC 3339 times (audit ?since=, XKS key expiry) ---- */

/* n decimal digits at s; false at the first other byte (NUL included, so never reads past). */
static bool digits(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t days_in_month(int64_t y, int64_t m)
{
	static const int64_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
	return days[m - 1] + (m == 2 && leap ? 1 : 0);
}

/* Fraction digits after '.', as nanoseconds (digits past the ninth are read and dropped). */
static const char *fraction(const char *p, int64_t *out_ns)
{
	int64_t ns = 0, scale = KH_NS_PER_SEC / 10;
	const char *start = p;
	for (; *p >= '0' && *p <= '9'; p++) {
		ns += (*p - '0') * scale;
		scale /= 10;
	}
	*out_ns = ns;
	return p > start ? p : NULL;
}

/* time-offset: "Z" or +hh:mm / -hh:mm, in seconds east of UTC; NULL when malformed. */
static const char *offset(const char *p, int64_t *out_seconds)
{
	int64_t h = 0, m = 0;
	*out_seconds = 0;
	if (*p == 'Z' || *p == 'z')
		return p + 1;
	if ((*p != '+' && *p != '-') || !digits(p + 1, 2, &h) || p[3] != ':' ||
	    !digits(p + 4, 2, &m) || h > 23 || m > 59)
		return NULL;
	*out_seconds = (*p == '-' ? -1 : 1) * (h * 3600 + m * 60);
	return p + 6;
}

kh_rc kh_api_time_parse(const char *s, int64_t *out_ns)
{
	int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ns = 0, off = 0;
	KH_ENSURE(strnlen(s, 20) == 20, KH_ERR_BAD_INPUT);
	bool ok = digits(s, 4, &y) && s[4] == '-' && digits(s + 5, 2, &mo) && s[7] == '-' &&
	          digits(s + 8, 2, &d) && (s[10] == 'T' || s[10] == 't') && digits(s + 11, 2, &h) &&
	          s[13] == ':' && digits(s + 14, 2, &mi) && s[16] == ':' && digits(s + 17, 2, &sec);
	KH_ENSURE(ok, KH_ERR_BAD_INPUT);
	/* Second 60 is a leap second (RFC 3339 5.7); Unix time folds it into the next one. */
	KH_ENSURE(mo >= 1 && mo <= 12 && d >= 1 && d <= days_in_month(y, mo) && h <= 23 &&
	              mi <= 59 && sec <= 60,
	          KH_ERR_BAD_INPUT);
	const char *p = s + 19;
	if (*p == '.')
		p = fraction(p + 1, &ns);
	if (p != NULL)
		p = offset(p, &off);
	KH_ENSURE(p != NULL && *p == '\0', KH_ERR_BAD_INPUT);
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	KH_ENSURE(t >= 0 && t < INT64_MAX / KH_NS_PER_SEC, KH_ERR_BAD_INPUT);
	*out_ns = t * KH_NS_PER_SEC + ns;
	return KH_OK;
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
