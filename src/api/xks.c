// SPDX-License-Identifier: Apache-2.0
/*
 * XKS management (API.md "XKS management", XKS.md): the external key stores AWS KMS reaches
 * through keyhold, their SigV4 credentials and their keys. Each handler decodes and checks its
 * request here, so a client gets a 400 that names the member at fault, calls one function of
 * keys/kh_keys_xks.h, and writes the answer; keys/ decides who may (the kms-managers of the
 * XKS store's key store, and the operator) and audits every change and refusal.
 *
 * A new credential's answer (the secret, and the AWS console file that repeats it) is written
 * into a secure response body: the secret is shown once and never stored in the clear.
 *
 * Stores are paged by id with the ?next= cursor of helpers.c; an XKS store's keys by external
 * key id, whose cursor is "k1." and the last id (external key ids are unreserved URL
 * characters, so the cursor is too). External key ids travel in paths up to 128 characters
 * (KH_API_LONG_PARAMS).
 */
#include <stdio.h>
#include <string.h>

#include "api/kh_api_int.h"
#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "keys/kh_keys_xks.h"

#define URI_PATH_MAX (KH_XKS_PREFIX_MAX + sizeof("//kms/xks/v1"))
#define KEY_CURSOR_PREFIX "k1."

/* ---- the checks of XKS.md, with their messages ---- */

static bool in_set(char ch, const char *extra)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch != '\0' && strchr(extra, ch) != NULL);
}

/* 1-117 of [A-Za-z0-9/_-], no leading or trailing '/', no "//". */
static bool prefix_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > KH_XKS_PREFIX_MAX || s[0] == '/' || s[n - 1] == '/' ||
	    strstr(s, "//") != NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!in_set(s[i], "/_-"))
			return false;
	}
	return true;
}

/* [a-z0-9-], "" for any region. */
static bool region_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	}
	return true;
}

/* 1-128 of [A-Za-z0-9._-]; "." and ".." cannot travel as a path segment. */
static bool external_id_ok(const char *s)
{
	size_t n = strnlen(s, KH_XKS_EXTERNAL_KEY_ID_MAX + 1);
	if (n == 0 || n > KH_XKS_EXTERNAL_KEY_ID_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!in_set(s[i], "._-"))
			return false;
	}
	return true;
}

/* What we issue and what AWS may present: 20-30 of [A-Z2-7]. */
static bool access_key_ok(const char *s)
{
	size_t n = strnlen(s, KH_XKS_ACCESS_KEY_MAX + 1);
	if (n < KH_XKS_ACCESS_KEY_LEN || n > KH_XKS_ACCESS_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '2' && s[i] <= '7')))
			return false;
	}
	return true;
}

/* The member name of the body, whatever its type; NULL when absent. */
static const struct kh_json *body_member(const struct kh_api_call *c, const char *name)
{
	void *cursor = NULL;
	struct kh_slice n;
	const struct kh_json *v = NULL;
	if (c->body == NULL)
		return NULL;
	while (kh_json_object_next(c->body, &cursor, &n, &v)) {
		if (kh_slice_eq(n, kh_slice_from_cstr(name)))
			return v;
	}
	return NULL;
}

/* Client messages for what keys/ refuses; what is not special to XKS is the key's. */
static kh_rc xks_error(struct kh_api_call *c, kh_rc rc, const char *not_found, const char *conflict)
{
	switch (rc) {
	case KH_ERR_NOT_FOUND:
		return kh_api_fail(c, rc, not_found);
	case KH_ERR_FORBIDDEN:
		return kh_api_fail(c, rc,
		                   "only the operator and the kms-managers of the key store manage "
		                   "its XKS key stores");
	case KH_ERR_CONFLICT:
		return kh_api_fail(c, rc, conflict);
	case KH_ERR_BAD_INPUT:
		return c->message[0] != '\0'
		           ? rc
		           : kh_api_fail(c, rc, "a value is outside the rules of XKS key stores");
	default:
		return kh_api_key_error(c, rc);
	}
}

static kh_rc store_error(struct kh_api_call *c, kh_rc rc)
{
	return xks_error(c, rc, "no such XKS key store",
	                 "the XKS key store's state does not allow this operation");
}

static kh_rc store_param(struct kh_api_call *c, int64_t *out)
{
	kh_rc rc = kh_api_param_id(c, 0, out);
	return rc == KH_ERR_NOT_FOUND ? kh_api_fail(c, rc, "no such XKS key store") : rc;
}

/* ---- store objects ---- */

static void uri_path_of(const char *prefix, char out[URI_PATH_MAX])
{
	snprintf(out, URI_PATH_MAX, "/%s/kms/xks/v1", prefix);
}

static void write_store(struct kh_json_writer *w, const struct kh_xks_store_info *s)
{
	char uri[URI_PATH_MAX];
	uri_path_of(s->prefix, uri);
	kh_json_object_begin(w);
	kh_json_key(w, "id");
	kh_json_int(w, s->id);
	kh_json_key(w, "keystore_id");
	kh_json_int(w, s->keystore_id);
	kh_json_key(w, "prefix");
	kh_json_cstr(w, s->prefix);
	kh_json_key(w, "uri_path");
	kh_json_cstr(w, uri);
	kh_json_key(w, "region");
	kh_json_cstr(w, s->region);
	kh_json_key(w, "secondary_auth");
	kh_json_bool(w, s->secondary_auth);
	kh_json_key(w, "enabled");
	kh_json_bool(w, s->enabled);
	kh_json_key(w, "quota_rps");
	kh_json_uint(w, s->quota_rps);
	kh_json_key(w, "credential_count");
	kh_json_uint(w, s->credential_count);
	kh_json_key(w, "key_count");
	kh_json_uint(w, s->key_count);
	kh_json_key(w, "created_at");
	kh_json_time(w, s->created_at);
	kh_json_key(w, "updated_at");
	kh_json_time(w, s->updated_at);
	kh_json_object_end(w);
}

/* ---- stores ---- */

struct store_fields {
	char prefix[KH_XKS_PREFIX_MAX + 1];
	char region[KH_XKS_REGION_MAX + 1];
};

static kh_rc opt_region(struct kh_api_call *c, char *out, bool *out_present)
{
	KH_GUARD(kh_api_opt_string(c, "region", out, KH_XKS_REGION_MAX + 1, out_present));
	if (*out_present && !region_ok(out))
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "region",
		                          "is an AWS region name of a-z 0-9 - (\"\" for any)");
	return KH_OK;
}

static kh_rc store_create_decode(struct kh_api_call *c, struct store_fields *f,
                                 struct kh_xks_store_create *req)
{
	int64_t quota = 0, ks = 0;
	bool have = false;
	KH_GUARD(kh_api_req_string(c, "prefix", f->prefix, sizeof(f->prefix)));
	if (!prefix_ok(f->prefix))
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "prefix",
		                          "is 1-117 of A-Z a-z 0-9 / _ -, without a leading or "
		                          "trailing / or //");
	KH_GUARD(opt_region(c, f->region, &have));
	KH_GUARD(kh_api_opt_bool(c, "secondary_auth", &req->secondary_auth));
	KH_GUARD(kh_api_opt_int(c, "quota_rps", 0, KH_XKS_QUOTA_MAX, &quota, &have));
	KH_GUARD(kh_api_opt_int(c, "keystore_id", 1, INT64_MAX, &ks, &have));
	if (!have && c->who.kind == KH_PRINCIPAL_OPERATOR)
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "keystore_id",
		                          "is required for the operator");
	req->keystore_id = ks;
	req->prefix = f->prefix;
	req->region = f->region;
	req->quota_rps = (unsigned)quota;
	return KH_OK;
}

static kh_rc xks_store_create(struct kh_api_call *c)
{
	struct store_fields f = {"", ""};
	struct kh_xks_store_create req = {0};
	struct kh_xks_store_info s;
	KH_GUARD(store_create_decode(c, &f, &req));
	kh_rc rc = kh_keys_xks_store_create(c->api->keys, &c->who, &req, &s);
	if (rc == KH_ERR_NOT_FOUND)
		return kh_api_fail(c, rc, "no such key store");
	KH_GUARD(xks_error(c, rc, "no such key store", "that prefix is taken"));
	c->status = 201;
	write_store(&c->w, &s);
	return KH_OK;
}

/* ?limit= and ?next= (API.md "Lists are paged"). */
static kh_rc page_limit(struct kh_api_call *c, unsigned *out)
{
	uint64_t limit = KH_LIMIT_PAGE_DEFAULT;
	KH_GUARD(kh_api_query_uint(c, "limit", 1, KH_LIMIT_PAGE_MAX, &limit));
	*out = (unsigned)limit;
	return KH_OK;
}

struct store_page {
	struct kh_json_writer *w;
	int64_t last_id;
};

static kh_rc store_one(const struct kh_xks_store_info *s, void *arg)
{
	struct store_page *pg = arg;
	write_store(pg->w, s);
	pg->last_id = s->id;
	return KH_OK;
}

static kh_rc xks_store_list(struct kh_api_call *c)
{
	struct store_page pg = {&c->w, 0};
	unsigned limit = 0;
	int64_t after = 0;
	bool more = false;
	KH_GUARD(page_limit(c, &limit));
	KH_GUARD(kh_api_query_cursor(c, &after));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "stores");
	kh_json_array_begin(&c->w);
	KH_GUARD(store_error(
	    c, kh_keys_xks_store_list(c->api->keys, &c->who, after, limit, store_one, &pg, &more)));
	kh_json_array_end(&c->w);
	if (more && pg.last_id > 0)
		kh_api_write_next(&c->w, pg.last_id);
	kh_json_object_end(&c->w);
	return KH_OK;
}

static kh_rc xks_store_get(struct kh_api_call *c)
{
	struct kh_xks_store_info s;
	int64_t id = 0;
	KH_GUARD(store_param(c, &id));
	KH_GUARD(store_error(c, kh_keys_xks_store_get(c->api->keys, &c->who, id, &s)));
	write_store(&c->w, &s);
	return KH_OK;
}

static kh_rc opt_flag(struct kh_api_call *c, const char *name, int *out)
{
	bool v = false;
	if (body_member(c, name) == NULL)
		return KH_OK;
	KH_GUARD(kh_api_opt_bool(c, name, &v));
	*out = v ? 1 : 0;
	return KH_OK;
}

static kh_rc xks_store_update(struct kh_api_call *c)
{
	char region[KH_XKS_REGION_MAX + 1] = "";
	struct kh_xks_store_update u = {NULL, -1, -1, -1};
	struct kh_xks_store_info s;
	int64_t id = 0, quota = -1;
	bool have_region = false, have_quota = false;
	KH_GUARD(store_param(c, &id));
	KH_GUARD(opt_region(c, region, &have_region));
	KH_GUARD(opt_flag(c, "secondary_auth", &u.secondary_auth));
	KH_GUARD(opt_flag(c, "enabled", &u.enabled));
	KH_GUARD(kh_api_opt_int(c, "quota_rps", 0, KH_XKS_QUOTA_MAX, &quota, &have_quota));
	if (!have_region && !have_quota && u.secondary_auth < 0 && u.enabled < 0)
		return kh_api_fail(
		    c, KH_ERR_BAD_INPUT,
		    "give \"region\", \"secondary_auth\", \"enabled\" or \"quota_rps\"");
	u.region = have_region ? region : NULL;
	u.quota_rps = quota;
	KH_GUARD(store_error(c, kh_keys_xks_store_update(c->api->keys, &c->who, id, &u, &s)));
	write_store(&c->w, &s);
	return KH_OK;
}

static kh_rc xks_store_delete(struct kh_api_call *c)
{
	int64_t id = 0;
	KH_GUARD(store_param(c, &id));
	KH_GUARD(xks_error(c, kh_keys_xks_store_delete(c->api->keys, &c->who, id),
	                   "no such XKS key store",
	                   "the XKS key store still has keys: detach them first"));
	c->status = 204;
	return KH_OK;
}

/* ---- credentials ---- */

static void write_console_file(struct kh_json_writer *w, const char *prefix, const char *ak,
                               struct kh_slice secret)
{
	char uri[URI_PATH_MAX];
	uri_path_of(prefix, uri);
	kh_json_object_begin(w);
	kh_json_key(w, "XksProxyUriPath");
	kh_json_cstr(w, uri);
	kh_json_key(w, "XksProxyAuthenticationCredential");
	kh_json_object_begin(w);
	kh_json_key(w, "AccessKeyId");
	kh_json_cstr(w, ak);
	kh_json_key(w, "RawSecretAccessKey");
	kh_json_string(w, secret);
	kh_json_object_end(w);
	kh_json_object_end(w);
}

static kh_rc write_credential(struct kh_api_call *c, const struct kh_xks_store_info *s,
                              const struct kh_xks_credential_info *cred,
                              const struct kh_buf *secret)
{
	struct kh_json_writer *w = &c->w;
	/* The secret goes out once, from wiped memory. */
	KH_GUARD(kh_api_secure_body(c));
	kh_json_object_begin(w);
	kh_json_key(w, "access_key_id");
	kh_json_cstr(w, cred->access_key_id);
	kh_json_key(w, "secret_access_key");
	kh_json_string(w, kh_buf_slice(secret));
	kh_json_key(w, "created_at");
	kh_json_time(w, cred->created_at);
	kh_json_key(w, "console_file");
	write_console_file(w, s->prefix, cred->access_key_id, kh_buf_slice(secret));
	kh_json_object_end(w);
	return KH_OK;
}

static kh_rc xks_credential_issue(struct kh_api_call *c)
{
	struct kh_xks_store_info s;
	struct kh_xks_credential_info cred;
	struct kh_buf secret;
	int64_t id = 0;
	KH_GUARD(store_param(c, &id));
	/* The prefix for the console file, read first: a credential is never issued unshown. */
	KH_GUARD(store_error(c, kh_keys_xks_store_get(c->api->keys, &c->who, id, &s)));
	kh_buf_init(&secret, KH_XKS_SECRET_LEN + 32, KH_BUF_SECURE);
	kh_rc rc = kh_keys_xks_credential_issue(c->api->keys, &c->who, id, &cred, &secret);
	if (rc == KH_OK)
		rc = write_credential(c, &s, &cred, &secret);
	kh_buf_cleanup(&secret);
	KH_GUARD(xks_error(c, rc, "no such XKS key store",
	                   "the XKS key store has the most live credentials it may have (4): "
	                   "revoke one first"));
	c->status = 201;
	return KH_OK;
}

static kh_rc credential_one(const struct kh_xks_credential_info *cred, void *arg)
{
	struct kh_json_writer *w = arg;
	kh_json_object_begin(w);
	kh_json_key(w, "access_key_id");
	kh_json_cstr(w, cred->access_key_id);
	kh_json_key(w, "created_at");
	kh_json_time(w, cred->created_at);
	kh_json_object_end(w);
	return KH_OK;
}

static kh_rc xks_credential_list(struct kh_api_call *c)
{
	int64_t id = 0;
	KH_GUARD(store_param(c, &id));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "credentials");
	kh_json_array_begin(&c->w);
	KH_GUARD(store_error(
	    c, kh_keys_xks_credentials(c->api->keys, &c->who, id, credential_one, &c->w)));
	kh_json_array_end(&c->w);
	kh_json_object_end(&c->w);
	return KH_OK;
}

static kh_rc xks_credential_revoke(struct kh_api_call *c)
{
	int64_t id = 0;
	KH_GUARD(store_param(c, &id));
	if (!access_key_ok(c->params[1]))
		return kh_api_fail(c, KH_ERR_NOT_FOUND, "no such credential");
	KH_GUARD(xks_error(
	    c, kh_keys_xks_credential_revoke(c->api->keys, &c->who, id, c->params[1]),
	    "no such XKS key store or credential", "the credential cannot be revoked now"));
	c->status = 204;
	return KH_OK;
}

/* ---- XKS keys: the members ---- */

/* The ARN patterns of an XKS key, '\n'-joined as keys/ keeps them. */
struct patterns {
	char text[KH_XKS_PATTERN_LIST_MAX + 1];
};

static kh_rc pattern_fail(struct kh_api_call *c, const char *name)
{
	char what[128];
	snprintf(what, sizeof(what),
	         "is an array of at most %u ARN patterns of 1-%u visible ASCII characters, %u "
	         "bytes in all",
	         KH_XKS_PATTERNS_MAX, KH_XKS_PATTERN_MAX, KH_XKS_PATTERN_LIST_MAX);
	return kh_api_member_fail(c, KH_ERR_BAD_INPUT, name, what);
}

static bool visible_ascii(struct kh_slice s)
{
	for (size_t i = 0; i < s.len; i++) {
		if (s.ptr[i] <= 0x20 || s.ptr[i] >= 0x7f)
			return false;
	}
	return s.len > 0;
}

/* An array member of patterns; *out_present false when absent. */
static kh_rc opt_patterns(struct kh_api_call *c, const char *name, struct patterns *out,
                          bool *out_present)
{
	const struct kh_json *arr = NULL;
	size_t count = 0, used = 0;
	struct kh_slice s;
	*out_present = false;
	out->text[0] = '\0';
	kh_rc rc =
	    c->body != NULL ? kh_json_get_array(c->body, name, &arr, &count) : KH_ERR_NOT_FOUND;
	if (rc == KH_ERR_NOT_FOUND)
		return KH_OK;
	if (rc != KH_OK || count > KH_XKS_PATTERNS_MAX)
		return pattern_fail(c, name);
	for (size_t i = 0; i < count; i++) {
		if (kh_json_as_string(kh_json_array_at(arr, i), &s) != KH_OK ||
		    s.len > KH_XKS_PATTERN_MAX || !visible_ascii(s) ||
		    used + (i > 0) + s.len > KH_XKS_PATTERN_LIST_MAX)
			return pattern_fail(c, name);
		if (i > 0)
			out->text[used++] = '\n';
		memcpy(out->text + used, s.ptr, s.len);
		used += s.len;
	}
	out->text[used] = '\0';
	*out_present = true;
	return KH_OK;
}

/* "usages": an array of distinct "encrypt" and "decrypt" ([] for none). */
static kh_rc opt_usages(struct kh_api_call *c, unsigned *out, bool *out_present)
{
	const struct kh_json *arr = NULL;
	size_t count = 0;
	struct kh_slice s;
	unsigned bits = 0;
	*out_present = false;
	kh_rc rc =
	    c->body != NULL ? kh_json_get_array(c->body, "usages", &arr, &count) : KH_ERR_NOT_FOUND;
	if (rc == KH_ERR_NOT_FOUND)
		return KH_OK;
	for (size_t i = 0; rc == KH_OK && i < count; i++) {
		unsigned bit = 0;
		if (kh_json_as_string(kh_json_array_at(arr, i), &s) != KH_OK)
			bit = 0;
		else if (kh_slice_eq(s, KH_SLICE_LIT("encrypt")))
			bit = KH_XKS_USE_ENCRYPT;
		else if (kh_slice_eq(s, KH_SLICE_LIT("decrypt")))
			bit = KH_XKS_USE_DECRYPT;
		if (bit == 0 || (bits & bit) != 0)
			rc = KH_ERR_BAD_INPUT;
		bits |= bit;
	}
	if (rc != KH_OK)
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "usages",
		                          "is an array of distinct \"encrypt\" and \"decrypt\" "
		                          "([] for none)");
	*out = bits;
	*out_present = true;
	return KH_OK;
}

/* "expires_at": an RFC 3339 time in the future, or null for never (0). */
static kh_rc opt_expiry(struct kh_api_call *c, int64_t *out, bool *out_present)
{
	char text[KH_RFC3339_MAX + 16];
	const struct kh_json *v = body_member(c, "expires_at");
	bool have = false;
	int64_t t = 0;
	*out_present = false;
	if (v == NULL)
		return KH_OK;
	if (kh_json_kind_of(v) != KH_JSON_NULL) {
		if (kh_api_opt_string(c, "expires_at", text, sizeof(text), &have) != KH_OK ||
		    kh_api_time_parse(text, &t) != KH_OK)
			return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "expires_at",
			                          "is an RFC 3339 date-time, or null for never");
		if (t <= kh_clock_now(c->api->clock))
			return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "expires_at",
			                          "must be in the future");
	}
	*out = t;
	*out_present = true;
	return KH_OK;
}

static kh_rc opt_rotation(struct kh_api_call *c, int *out, bool *out_present)
{
	int64_t days = -1;
	KH_GUARD(
	    kh_api_opt_int(c, "rotation_days", 0, KH_KEY_MAX_ROTATION_DAYS, &days, out_present));
	*out = (int)days;
	return KH_OK;
}

static kh_rc key_error(struct kh_api_call *c, kh_rc rc)
{
	return xks_error(c, rc, "no such XKS key store or external key",
	                 "the key's state does not allow this operation");
}

/* Path parameter 1: an external key id (a malformed one names nothing). */
static kh_rc external_param(struct kh_api_call *c, int64_t *out_store)
{
	KH_GUARD(store_param(c, out_store));
	if (!external_id_ok(c->params[1]))
		return kh_api_fail(c, KH_ERR_NOT_FOUND, "no such XKS key store or external key");
	return KH_OK;
}

/* ---- XKS keys: objects ---- */

static void write_patterns(struct kh_json_writer *w, const char *text)
{
	kh_json_array_begin(w);
	while (*text != '\0') {
		size_t n = strcspn(text, "\n");
		if (n > 0)
			kh_json_string(w, KH_SLICE((const uint8_t *)text, n));
		text += n;
		if (*text == '\n')
			text++;
	}
	kh_json_array_end(w);
}

static void write_usages(struct kh_json_writer *w, unsigned usages)
{
	kh_json_array_begin(w);
	if ((usages & KH_XKS_USE_ENCRYPT) != 0)
		kh_json_cstr(w, "encrypt");
	if ((usages & KH_XKS_USE_DECRYPT) != 0)
		kh_json_cstr(w, "decrypt");
	kh_json_array_end(w);
}

static void write_xks_key(struct kh_json_writer *w, const struct kh_xks_key_info *k)
{
	kh_json_object_begin(w);
	kh_json_key(w, "external_key_id");
	kh_json_cstr(w, k->external_key_id);
	kh_json_key(w, "key");
	kh_json_cstr(w, k->key.tag);
	kh_json_key(w, "key_state");
	kh_json_cstr(w, kh_key_state_name(k->key.state));
	kh_json_key(w, "current_version");
	kh_json_uint(w, k->key.current_version);
	kh_json_key(w, "rotation_days");
	kh_json_uint(w, k->key.rotation_period_days);
	/* A period change applies from the next scheduled rotation (API.md "Lifecycle rules"). */
	if (k->key.pending_period_days >= 0) {
		kh_json_key(w, "pending_rotation_days");
		kh_json_int(w, k->key.pending_period_days);
	}
	kh_json_key(w, "usages");
	write_usages(w, k->usages);
	kh_json_key(w, "expires_at");
	if (k->expires_at != 0)
		kh_json_time(w, k->expires_at);
	else
		kh_json_null(w);
	kh_json_key(w, "administrators");
	write_patterns(w, k->administrators);
	kh_json_key(w, "users");
	write_patterns(w, k->users);
	kh_json_key(w, "created_at");
	kh_json_time(w, k->created_at);
	kh_json_key(w, "updated_at");
	kh_json_time(w, k->updated_at);
	kh_json_object_end(w);
}

/* ---- XKS keys: attach, list, read, update, detach ---- */

struct attach_fields {
	char external_key_id[KH_XKS_EXTERNAL_KEY_ID_MAX + 1];
	char key_tag[KH_KEY_TAG_LEN + 1];
	char name[KH_LIMIT_NAME_MAX + 1];
	struct patterns administrators;
	struct patterns users;
};

static kh_rc attach_key_members(struct kh_api_call *c, struct attach_fields *f,
                                struct kh_xks_key_attach *req)
{
	bool have_key = false, have_name = false;
	if (kh_api_opt_string(c, "key", f->key_tag, sizeof(f->key_tag), &have_key) != KH_OK)
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "key",
		                          "is the tag of an aes-256-gcm key of the key store");
	KH_GUARD(kh_api_opt_string(c, "name", f->name, sizeof(f->name), &have_name));
	if (have_key && have_name)
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "name",
		                          "names a new key: give it only without \"key\"");
	req->key_tag = have_key ? f->key_tag : NULL;
	req->name = have_name ? f->name : NULL;
	return KH_OK;
}

static kh_rc attach_decode(struct kh_api_call *c, struct attach_fields *f,
                           struct kh_xks_key_attach *req)
{
	bool have = false;
	KH_GUARD(kh_api_req_string(c, "external_key_id", f->external_key_id,
	                           sizeof(f->external_key_id)));
	if (!external_id_ok(f->external_key_id))
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "external_key_id",
		                          "is 1-128 of A-Z a-z 0-9 . _ - (not \".\" or \"..\")");
	KH_GUARD(attach_key_members(c, f, req));
	KH_GUARD(opt_usages(c, &req->usages, &have));
	if (!have)
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "usages",
		                          "is required: [\"encrypt\",\"decrypt\"], one, or []");
	KH_GUARD(opt_expiry(c, &req->expires_at, &have));
	KH_GUARD(opt_rotation(c, &req->rotation_days, &have));
	KH_GUARD(opt_patterns(c, "administrators", &f->administrators, &have));
	req->administrators = have ? f->administrators.text : NULL;
	KH_GUARD(opt_patterns(c, "users", &f->users, &have));
	req->users = have ? f->users.text : NULL;
	req->external_key_id = f->external_key_id;
	return KH_OK;
}

static kh_rc xks_key_attach(struct kh_api_call *c)
{
	struct attach_fields *f = kh_calloc(1, sizeof(*f));
	struct kh_xks_key_attach req = {0};
	struct kh_xks_key_info *k = kh_calloc(1, sizeof(*k));
	int64_t id = 0;
	kh_rc rc = f != NULL && k != NULL ? store_param(c, &id) : KH_ERR_NOMEM;
	if (rc == KH_OK)
		rc = attach_decode(c, f, &req);
	if (rc == KH_OK) {
		rc = kh_keys_xks_key_attach(c->api->keys, &c->who, id, &req, k);
		if (rc == KH_ERR_WRONG_KEY_TYPE)
			rc = kh_api_member_fail(c, KH_ERR_BAD_INPUT, "key",
			                        "must name an aes-256-gcm encrypt-decrypt key");
		else if (rc == KH_ERR_NOT_FOUND)
			rc = kh_api_fail(
			    c, rc,
			    req.key_tag != NULL
			        ? "no such XKS key store, or no such key in its key store"
			        : "no such XKS key store");
		rc = xks_error(c, rc, "no such XKS key store",
		               "that external key id is taken in this XKS key store, or the key is "
		               "attached already (here or in another XKS key store) or deleted");
	}
	if (rc == KH_OK) {
		c->status = 201;
		write_xks_key(&c->w, k);
	}
	kh_free(&f);
	kh_free(&k);
	return rc;
}

struct key_page {
	struct kh_json_writer *w;
	char last[KH_XKS_EXTERNAL_KEY_ID_MAX + 1];
};

static kh_rc key_one(const struct kh_xks_key_info *k, void *arg)
{
	struct key_page *pg = arg;
	write_xks_key(pg->w, k);
	snprintf(pg->last, sizeof(pg->last), "%s", k->external_key_id);
	return KH_OK;
}

/* ?next= of an XKS key list: "k1." and the last external key id of the previous page. */
static kh_rc key_cursor(struct kh_api_call *c, const char **out_after)
{
	const char *v = kh_http_request_query(c->req, "next");
	size_t n = sizeof(KEY_CURSOR_PREFIX) - 1;
	*out_after = NULL;
	if (v == NULL)
		return KH_OK;
	if (strncmp(v, KEY_CURSOR_PREFIX, n) != 0 || !external_id_ok(v + n))
		return kh_api_cursor_fail(c);
	*out_after = v + n;
	return KH_OK;
}

static kh_rc xks_key_list(struct kh_api_call *c)
{
	struct key_page *pg = kh_calloc(1, sizeof(*pg));
	const char *after = NULL;
	unsigned limit = 0;
	int64_t id = 0;
	bool more = false;
	KH_ENSURE(pg != NULL, KH_ERR_NOMEM);
	pg->w = &c->w;
	kh_rc rc = store_param(c, &id);
	if (rc == KH_OK)
		rc = page_limit(c, &limit);
	if (rc == KH_OK)
		rc = key_cursor(c, &after);
	if (rc == KH_OK) {
		kh_json_object_begin(&c->w);
		kh_json_key(&c->w, "keys");
		kh_json_array_begin(&c->w);
		rc = kh_keys_xks_key_list(c->api->keys, &c->who, id, after, limit, key_one, pg,
		                          &more);
		rc = rc == KH_ERR_BAD_INPUT ? kh_api_cursor_fail(c) : store_error(c, rc);
	}
	if (rc == KH_OK) {
		kh_json_array_end(&c->w);
		if (more && pg->last[0] != '\0') {
			char next[sizeof(KEY_CURSOR_PREFIX) + KH_XKS_EXTERNAL_KEY_ID_MAX];
			snprintf(next, sizeof(next), KEY_CURSOR_PREFIX "%s", pg->last);
			kh_json_key(&c->w, "next");
			kh_json_cstr(&c->w, next);
		}
		kh_json_object_end(&c->w);
	}
	kh_free(&pg);
	return rc;
}

static kh_rc xks_key_get(struct kh_api_call *c)
{
	struct kh_xks_key_info *k = kh_calloc(1, sizeof(*k));
	int64_t id = 0;
	kh_rc rc = k != NULL ? external_param(c, &id) : KH_ERR_NOMEM;
	if (rc == KH_OK)
		rc = key_error(c, kh_keys_xks_key_get(c->api->keys, &c->who, id, c->params[1], k));
	if (rc == KH_OK)
		write_xks_key(&c->w, k);
	kh_free(&k);
	return rc;
}

struct update_fields {
	struct patterns administrators;
	struct patterns users;
};

static kh_rc update_decode(struct kh_api_call *c, struct update_fields *f,
                           struct kh_xks_key_update *u)
{
	unsigned usages = 0;
	bool have_usages = false, have_exp = false, have_admins = false, have_users = false,
	     have_rot = false;
	KH_GUARD(opt_usages(c, &usages, &have_usages));
	KH_GUARD(opt_expiry(c, &u->expires_at, &have_exp));
	KH_GUARD(opt_patterns(c, "administrators", &f->administrators, &have_admins));
	KH_GUARD(opt_patterns(c, "users", &f->users, &have_users));
	KH_GUARD(opt_rotation(c, &u->rotation_days, &have_rot));
	KH_GUARD(opt_flag(c, "enabled", &u->enabled));
	if (!have_usages && !have_exp && !have_admins && !have_users && !have_rot && u->enabled < 0)
		return kh_api_fail(
		    c, KH_ERR_BAD_INPUT,
		    "give \"usages\", \"expires_at\", \"administrators\", \"users\", "
		    "\"rotation_days\" or \"enabled\"");
	u->usages = have_usages ? (int)usages : -1;
	u->administrators = have_admins ? f->administrators.text : NULL;
	u->users = have_users ? f->users.text : NULL;
	if (!have_exp)
		u->expires_at = -1;
	if (!have_rot)
		u->rotation_days = -1;
	return KH_OK;
}

static kh_rc xks_key_update(struct kh_api_call *c)
{
	struct update_fields *f = kh_calloc(1, sizeof(*f));
	struct kh_xks_key_info *k = kh_calloc(1, sizeof(*k));
	struct kh_xks_key_update u = {-1, -1, NULL, NULL, -1, -1};
	int64_t id = 0;
	kh_rc rc = f != NULL && k != NULL ? external_param(c, &id) : KH_ERR_NOMEM;
	if (rc == KH_OK)
		rc = update_decode(c, f, &u);
	if (rc == KH_OK)
		rc = key_error(
		    c, kh_keys_xks_key_update(c->api->keys, &c->who, id, c->params[1], &u, k));
	if (rc == KH_OK)
		write_xks_key(&c->w, k);
	kh_free(&f);
	kh_free(&k);
	return rc;
}

static kh_rc xks_key_detach(struct kh_api_call *c)
{
	int64_t id = 0;
	KH_GUARD(external_param(c, &id));
	KH_GUARD(key_error(c, kh_keys_xks_key_detach(c->api->keys, &c->who, id, c->params[1])));
	c->status = 204;
	return KH_OK;
}

/* ---- routes ---- */

static const char *const store_create_fields[] = {"prefix",    "region",      "secondary_auth",
                                                  "quota_rps", "keystore_id", NULL};
static const char *const store_update_fields[] = {"region", "secondary_auth", "enabled",
                                                  "quota_rps", NULL};
static const char *const attach_fields[] = {"external_key_id", "key",        "name",
                                            "usages",          "expires_at", "rotation_days",
                                            "administrators",  "users",      NULL};
static const char *const key_update_fields[] = {
    "usages", "expires_at", "administrators", "users", "rotation_days", "enabled", NULL};

#define KEY_PATH "/v1/xks/stores/{}/keys/{}"

const struct kh_api_route kh_api_xks_routes[] = {
    {KH_HTTP_POST, "/v1/xks/stores", xks_store_create, KH_API_BODY, store_create_fields},
    {KH_HTTP_GET, "/v1/xks/stores", xks_store_list, KH_API_DEFER, NULL},
    {KH_HTTP_GET, "/v1/xks/stores/{}", xks_store_get, KH_API_DEFER, NULL},
    {KH_HTTP_PATCH, "/v1/xks/stores/{}", xks_store_update, KH_API_BODY, store_update_fields},
    {KH_HTTP_DELETE, "/v1/xks/stores/{}", xks_store_delete, 0, NULL},
    {KH_HTTP_POST, "/v1/xks/stores/{}/credentials", xks_credential_issue, 0, NULL},
    {KH_HTTP_GET, "/v1/xks/stores/{}/credentials", xks_credential_list, KH_API_DEFER, NULL},
    {KH_HTTP_DELETE, "/v1/xks/stores/{}/credentials/{}", xks_credential_revoke, 0, NULL},
    {KH_HTTP_POST, "/v1/xks/stores/{}/keys", xks_key_attach, KH_API_BODY, attach_fields},
    {KH_HTTP_GET, "/v1/xks/stores/{}/keys", xks_key_list, KH_API_DEFER, NULL},
    {KH_HTTP_GET, KEY_PATH, xks_key_get, KH_API_DEFER | KH_API_LONG_PARAMS, NULL},
    {KH_HTTP_PATCH, KEY_PATH, xks_key_update, KH_API_BODY | KH_API_LONG_PARAMS, key_update_fields},
    {KH_HTTP_DELETE, KEY_PATH, xks_key_detach, KH_API_LONG_PARAMS, NULL},
    {0, NULL, NULL, 0, NULL},
};
