// SPDX-License-Identifier: Apache-2.0
/*
 * Keys (API.md "Keys"): create, list, read and update keys, their lifecycle (rotate, disable,
 * enable, deletion), versions, grants and usage history. Each handler decodes its request into
 * the struct keys/ takes, calls that one function, and writes the answer; keys/ decides who
 * may, what the state allows, and audits. The key store is always the caller's own. The keys,
 * a key's versions and its grants are paged alike: ?limit= and the ?next= cursor, which for
 * versions and grants is the position keys/ gives for the next page.
 */
#include <string.h>

#include "api/kh_api_int.h"
#include "base/kh_limits.h"

#define HISTORY_MAX KH_AUDIT_USAGE_KEEP

/* ---- shared pieces ---- */

/* The key object as the whole answer. */
static void write_key_answer(struct kh_api_call *c, const struct kh_key_info *k)
{
	kh_api_write_key(&c->w, k);
}

static const char *tag_of(const struct kh_api_call *c)
{
	return c->params[0];
}

/* Path parameter 1 as a version number; anything else names no version. */
static kh_rc version_param(struct kh_api_call *c, uint32_t *out)
{
	int64_t v = 0;
	KH_GUARD(kh_api_param_id(c, 1, &v));
	if (v > (int64_t)UINT32_MAX)
		return kh_api_fail(c, KH_ERR_NOT_FOUND, "no such key version");
	*out = (uint32_t)v;
	return KH_OK;
}

/* ?limit= and ?next= of the lists here (API.md "Lists are paged"). */
static kh_rc page_query(struct kh_api_call *c, unsigned *out_limit, int64_t *out_after)
{
	uint64_t limit = KH_LIMIT_PAGE_DEFAULT;
	KH_GUARD(kh_api_query_uint(c, "limit", 1, KH_LIMIT_PAGE_MAX, &limit));
	KH_GUARD(kh_api_query_cursor(c, out_after));
	*out_limit = (unsigned)limit;
	return KH_OK;
}

/* The page of a list about one key was checked here but for its cursor's meaning: what keys/
 * refuses as bad input is a cursor that names no place in that list. */
static kh_rc key_page_error(struct kh_api_call *c, kh_rc rc)
{
	return rc == KH_ERR_BAD_INPUT ? kh_api_cursor_fail(c) : kh_api_key_error(c, rc);
}

/* ---- create ---- */

/* A member naming one value of a vocabulary (type, usage, role): absent leaves *present false. */
static kh_rc opt_name(struct kh_api_call *c, const char *member, struct kh_slice *out,
                      bool *out_present)
{
	*out_present = false;
	kh_rc rc = kh_json_get_string(c->body, member, out);
	if (rc == KH_ERR_NOT_FOUND)
		return KH_OK;
	if (rc != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "type and usage must be strings");
	*out_present = true;
	return KH_OK;
}

/* Type and usage by name, and the combination API.md allows. */
static kh_rc create_kind(struct kh_api_call *c, struct kh_key_create *req)
{
	struct kh_slice s;
	bool have = false;
	req->type = KH_KEY_AES_256_GCM;
	KH_GUARD(opt_name(c, "type", &s, &have));
	if (have && kh_key_type_parse(s, &req->type) != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "unknown key type");
	KH_GUARD(opt_name(c, "usage", &s, &have));
	if (have && kh_key_usage_parse(s, &req->usage) != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "unknown key usage");
	if (req->usage != 0 && !kh_key_type_allows(req->type, req->usage))
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "the key type does not allow that usage");
	return KH_OK;
}

struct create_fields {
	char name[KH_LIMIT_NAME_MAX + 1];
	char description[KH_LIMIT_DESCRIPTION_BYTES + 1];
};

static kh_rc create_decode(struct kh_api_call *c, struct create_fields *f,
                           struct kh_key_create *req)
{
	int64_t period = -1;
	bool have_period = false, have_desc = false;
	KH_GUARD(kh_api_req_string(c, "name", f->name, sizeof(f->name)));
	KH_GUARD(create_kind(c, req));
	KH_GUARD(kh_api_opt_int(c, "rotation_period_days", 0, KH_KEY_MAX_ROTATION_DAYS, &period,
	                        &have_period));
	KH_GUARD(kh_api_opt_string(c, "description", f->description, sizeof(f->description),
	                           &have_desc));
	KH_GUARD(kh_api_opt_bool(c, "convergent", &req->convergent));
	if (req->convergent && !kh_key_type_is_symmetric(req->type))
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "only symmetric keys can be convergent");
	req->name = f->name;
	req->rotation_period_days = (int)period;
	req->description = have_desc ? f->description : NULL;
	return KH_OK;
}

static kh_rc key_create(struct kh_api_call *c)
{
	struct create_fields f;
	struct kh_key_create req = {0};
	struct kh_key_info key;
	KH_GUARD(create_decode(c, &f, &req));
	kh_rc rc = kh_keys_create(c->api->keys, &c->who, &req, &key);
	if (rc == KH_ERR_CONFLICT)
		return kh_api_fail(c, rc, "a key with that name exists in the key store");
	/* Everything else was checked above; what keys/ still refuses is the name. */
	if (rc == KH_ERR_BAD_INPUT)
		return kh_api_fail(c, rc, "names are 1-64 of A-Z a-z 0-9 _ . -");
	if (rc == KH_ERR_FORBIDDEN)
		return kh_api_fail(c, rc, "only kms-manager accounts create keys");
	KH_GUARD(rc);
	c->status = 201;
	write_key_answer(c, &key);
	return KH_OK;
}

/* ---- list ---- */

struct list_page {
	struct kh_json_writer *w;
	int64_t last_id;
};

static kh_rc list_one(const struct kh_key_info *key, void *arg)
{
	struct list_page *pg = arg;
	kh_api_write_key(pg->w, key);
	pg->last_id = key->id;
	return KH_OK;
}

static kh_rc list_filter(struct kh_api_call *c, struct kh_key_filter *f)
{
	const char *state = kh_http_request_query(c->req, "state");
	if (state != NULL && kh_key_state_parse(kh_slice_from_cstr(state), &f->state) != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "unknown key state");
	return page_query(c, &f->limit, &f->after_id);
}

static kh_rc key_list(struct kh_api_call *c)
{
	struct kh_key_filter f = {0};
	struct list_page pg = {&c->w, 0};
	bool more = false;
	KH_GUARD(list_filter(c, &f));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "keys");
	kh_json_array_begin(&c->w);
	KH_GUARD(
	    kh_api_key_error(c, kh_keys_list(c->api->keys, &c->who, &f, list_one, &pg, &more)));
	kh_json_array_end(&c->w);
	if (more && pg.last_id > 0)
		kh_api_write_next(&c->w, pg.last_id);
	kh_json_object_end(&c->w);
	return KH_OK;
}

/* ---- read, update ---- */

static kh_rc key_get(struct kh_api_call *c)
{
	struct kh_key_info key;
	KH_GUARD(kh_api_key_error(c, kh_keys_get(c->api->keys, &c->who, tag_of(c), &key)));
	write_key_answer(c, &key);
	return KH_OK;
}

static kh_rc key_update(struct kh_api_call *c)
{
	char description[KH_LIMIT_DESCRIPTION_BYTES + 1];
	struct kh_key_update u = {NULL, -1};
	struct kh_key_info key;
	int64_t period = -1;
	bool have_desc = false, have_period = false;
	KH_GUARD(kh_api_opt_string(c, "description", description, sizeof(description), &have_desc));
	KH_GUARD(kh_api_opt_int(c, "rotation_period_days", 0, KH_KEY_MAX_ROTATION_DAYS, &period,
	                        &have_period));
	if (!have_desc && !have_period)
		return kh_api_fail(c, KH_ERR_BAD_INPUT,
		                   "give \"description\" or \"rotation_period_days\"");
	u.description = have_desc ? description : NULL;
	u.rotation_period_days = (int)period;
	KH_GUARD(kh_api_key_error(c, kh_keys_update(c->api->keys, &c->who, tag_of(c), &u, &key)));
	write_key_answer(c, &key);
	return KH_OK;
}

/* ---- lifecycle ---- */

typedef kh_rc (*key_change_fn)(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                               struct kh_key_info *out);

/* The changes that take nothing but the key and answer with it. */
static kh_rc key_change(struct kh_api_call *c, key_change_fn fn)
{
	struct kh_key_info key;
	KH_GUARD(kh_api_key_error(c, fn(c->api->keys, &c->who, tag_of(c), &key)));
	write_key_answer(c, &key);
	return KH_OK;
}

static kh_rc key_rotate(struct kh_api_call *c)
{
	return key_change(c, kh_keys_rotate);
}

static kh_rc key_disable(struct kh_api_call *c)
{
	return key_change(c, kh_keys_disable);
}

static kh_rc key_enable(struct kh_api_call *c)
{
	return key_change(c, kh_keys_enable);
}

static kh_rc key_cancel_deletion(struct kh_api_call *c)
{
	return key_change(c, kh_keys_cancel_deletion);
}

static kh_rc key_schedule_deletion(struct kh_api_call *c)
{
	char confirm[KH_LIMIT_NAME_MAX + 1];
	bool have = false;
	struct kh_key_info key;
	KH_GUARD(kh_api_opt_string(c, "confirm_name", confirm, sizeof(confirm), &have));
	kh_rc rc = kh_keys_schedule_deletion(c->api->keys, &c->who, tag_of(c),
	                                     have ? confirm : NULL, &key);
	if (rc == KH_ERR_BAD_INPUT)
		return kh_api_fail(c, rc,
		                   "\"confirm_name\" must equal the key's name (required when the "
		                   "key has grants)");
	KH_GUARD(kh_api_key_error(c, rc));
	write_key_answer(c, &key);
	return KH_OK;
}

static kh_rc key_destroy(struct kh_api_call *c)
{
	kh_rc rc = kh_keys_destroy(c->api->keys, &c->who, tag_of(c));
	if (rc == KH_ERR_CONFLICT)
		return kh_api_fail(c, rc, "only a key pending deletion can be destroyed");
	KH_GUARD(kh_api_key_error(c, rc));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "deleted");
	kh_json_bool(&c->w, true);
	kh_json_object_end(&c->w);
	return KH_OK;
}

/* ---- versions ---- */

static kh_rc version_one(const struct kh_key_version_info *v, void *arg)
{
	struct kh_json_writer *w = arg;
	kh_json_object_begin(w);
	kh_json_key(w, "version");
	kh_json_uint(w, v->version);
	kh_json_key(w, "state");
	kh_json_cstr(w, kh_version_state_name(v->state));
	kh_json_key(w, "created_at");
	kh_json_time(w, v->created_at);
	kh_json_key(w, "destroyed");
	kh_json_bool(w, v->destroyed);
	kh_json_object_end(w);
	return KH_OK;
}

static kh_rc key_versions(struct kh_api_call *c)
{
	struct kh_key_page pg = {0};
	int64_t next = 0;
	KH_GUARD(page_query(c, &pg.limit, &pg.after));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "versions");
	kh_json_array_begin(&c->w);
	KH_GUARD(key_page_error(
	    c, kh_keys_versions(c->api->keys, &c->who, tag_of(c), &pg, version_one, &c->w, &next)));
	kh_json_array_end(&c->w);
	if (next > 0)
		kh_api_write_next(&c->w, next);
	kh_json_object_end(&c->w);
	return KH_OK;
}

typedef kh_rc (*version_change_fn)(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                                   uint32_t version);

static kh_rc version_change(struct kh_api_call *c, version_change_fn fn,
                            enum kh_version_state state)
{
	uint32_t version = 0;
	KH_GUARD(version_param(c, &version));
	kh_rc rc = fn(c->api->keys, &c->who, tag_of(c), version);
	if (rc == KH_ERR_CONFLICT && state == KH_VERSION_DISABLED)
		return kh_api_fail(c, rc,
		                   "the current version cannot be disabled, nor a version of a "
		                   "deleted key");
	if (rc == KH_ERR_NOT_FOUND)
		return kh_api_fail(c, rc, "no such key or key version");
	KH_GUARD(kh_api_key_error(c, rc));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "version");
	kh_json_uint(&c->w, version);
	kh_json_key(&c->w, "state");
	kh_json_cstr(&c->w, kh_version_state_name(state));
	kh_json_object_end(&c->w);
	return KH_OK;
}

static kh_rc version_disable(struct kh_api_call *c)
{
	return version_change(c, kh_keys_version_disable, KH_VERSION_DISABLED);
}

static kh_rc version_enable(struct kh_api_call *c)
{
	return version_change(c, kh_keys_version_enable, KH_VERSION_ENABLED);
}

/* ---- grants ---- */

static void write_grant(struct kh_json_writer *w, int64_t account, enum kh_role role)
{
	kh_json_key(w, "account");
	kh_json_int(w, account);
	kh_json_key(w, "role");
	kh_json_cstr(w, kh_role_name(role));
}

static kh_rc grant_one(const struct kh_key_grant *g, void *arg)
{
	struct kh_json_writer *w = arg;
	kh_json_object_begin(w);
	write_grant(w, g->account_id, g->role);
	kh_json_key(w, "created_at");
	kh_json_time(w, g->created_at);
	kh_json_object_end(w);
	return KH_OK;
}

static kh_rc grant_list(struct kh_api_call *c)
{
	struct kh_key_page pg = {0};
	int64_t next = 0;
	KH_GUARD(page_query(c, &pg.limit, &pg.after));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "grants");
	kh_json_array_begin(&c->w);
	KH_GUARD(key_page_error(
	    c, kh_keys_grants(c->api->keys, &c->who, tag_of(c), &pg, grant_one, &c->w, &next)));
	kh_json_array_end(&c->w);
	if (next > 0)
		kh_api_write_next(&c->w, next);
	kh_json_object_end(&c->w);
	return KH_OK;
}

static kh_rc grant_add(struct kh_api_call *c)
{
	int64_t account = 0;
	enum kh_role role;
	struct kh_slice name;
	kh_rc rc = kh_json_get_int(c->body, "account", 1, INT64_MAX, &account);
	if (rc != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "\"account\" must be an account id");
	if (kh_json_get_string(c->body, "role", &name) != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "\"role\" must be a role name");
	if (kh_role_parse(name, &role) != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "unknown role");
	rc = kh_keys_grant_add(c->api->keys, &c->who, tag_of(c), account, role);
	if (rc == KH_ERR_CONFLICT)
		return kh_api_fail(c, rc,
		                   "the account holds that role already, or the key is deleted");
	if (rc == KH_ERR_NOT_FOUND)
		return kh_api_fail(c, rc, "no such key, or no such account in its key store");
	KH_GUARD(kh_api_key_error(c, rc));
	c->status = 201;
	kh_json_object_begin(&c->w);
	write_grant(&c->w, account, role);
	kh_json_object_end(&c->w);
	return KH_OK;
}

static kh_rc grant_revoke(struct kh_api_call *c)
{
	int64_t account = 0;
	enum kh_role role;
	KH_GUARD(kh_api_param_id(c, 1, &account));
	if (kh_role_parse(kh_slice_from_cstr(c->params[2]), &role) != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "unknown role");
	kh_rc rc = kh_keys_grant_revoke(c->api->keys, &c->who, tag_of(c), account, role);
	if (rc == KH_ERR_NOT_FOUND)
		return kh_api_fail(c, rc, "no such key or grant");
	KH_GUARD(kh_api_key_error(c, rc));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "revoked");
	kh_json_bool(&c->w, true);
	kh_json_object_end(&c->w);
	return KH_OK;
}

/* ---- usage history ---- */

static kh_rc history_one(const struct kh_audit_usage_record *r, void *arg)
{
	struct kh_json_writer *w = arg;
	kh_json_object_begin(w);
	kh_json_key(w, "at");
	kh_json_time(w, r->at);
	kh_json_key(w, "operation");
	kh_json_cstr(w, r->u.operation);
	kh_json_key(w, "version");
	if (r->u.version != 0)
		kh_json_uint(w, r->u.version);
	else
		kh_json_null(w);
	kh_json_key(w, "principal");
	kh_json_cstr(w, r->u.principal);
	kh_json_key(w, "result");
	kh_json_cstr(w, kh_api_result_code(r->u.result));
	kh_json_object_end(w);
	return KH_OK;
}

static kh_rc key_history(struct kh_api_call *c)
{
	uint64_t limit = HISTORY_MAX;
	KH_GUARD(kh_api_query_uint(c, "limit", 1, HISTORY_MAX, &limit));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "history");
	kh_json_array_begin(&c->w);
	KH_GUARD(kh_api_key_error(c, kh_keys_history(c->api->keys, &c->who, tag_of(c),
	                                             (unsigned)limit, history_one, &c->w)));
	kh_json_array_end(&c->w);
	kh_json_object_end(&c->w);
	return KH_OK;
}

/* ---- routes ---- */

static const char *const create_fields[] = {
    "name", "type", "usage", "rotation_period_days", "description", "convergent", NULL};
static const char *const update_fields[] = {"description", "rotation_period_days", NULL};
static const char *const deletion_fields[] = {"confirm_name", NULL};
static const char *const grant_fields[] = {"account", "role", NULL};

const struct kh_api_route kh_api_key_routes[] = {
    {KH_HTTP_POST, "/v1/keys", key_create, KH_API_BODY, create_fields},
    {KH_HTTP_GET, "/v1/keys", key_list, KH_API_DEFER, NULL},
    {KH_HTTP_GET, "/v1/keys/{}", key_get, KH_API_DEFER, NULL},
    {KH_HTTP_PATCH, "/v1/keys/{}", key_update, KH_API_BODY, update_fields},
    {KH_HTTP_DELETE, "/v1/keys/{}", key_destroy, 0, NULL},
    {KH_HTTP_POST, "/v1/keys/{}/rotate", key_rotate, 0, NULL},
    {KH_HTTP_POST, "/v1/keys/{}/disable", key_disable, 0, NULL},
    {KH_HTTP_POST, "/v1/keys/{}/enable", key_enable, 0, NULL},
    {KH_HTTP_POST, "/v1/keys/{}/schedule-deletion", key_schedule_deletion, KH_API_BODY_OPT,
     deletion_fields},
    {KH_HTTP_POST, "/v1/keys/{}/cancel-deletion", key_cancel_deletion, 0, NULL},
    {KH_HTTP_GET, "/v1/keys/{}/versions", key_versions, KH_API_DEFER, NULL},
    {KH_HTTP_POST, "/v1/keys/{}/versions/{}/disable", version_disable, 0, NULL},
    {KH_HTTP_POST, "/v1/keys/{}/versions/{}/enable", version_enable, 0, NULL},
    {KH_HTTP_GET, "/v1/keys/{}/grants", grant_list, KH_API_DEFER, NULL},
    {KH_HTTP_POST, "/v1/keys/{}/grants", grant_add, KH_API_BODY, grant_fields},
    {KH_HTTP_DELETE, "/v1/keys/{}/grants/{}/{}", grant_revoke, 0, NULL},
    {KH_HTTP_GET, "/v1/keys/{}/history", key_history, KH_API_DEFER, NULL},
    {0, NULL, NULL, 0, NULL},
};
