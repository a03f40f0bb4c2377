// SPDX-License-Identifier: Apache-2.0
/*
 * Versions and grants of a key. A version has its own state (enabled or disabled) under the
 * key's state; the current version cannot be disabled, because it is the one that encrypts.
 * Grants give accounts of the key's key store a role on the key. Both are listed a page at a
 * time, in keyset order (a position in the list, never an offset), like the keys themselves.
 */
#include <stdio.h>
#include <string.h>

#include "keys/kh_keys_int.h"
#include "store/kh_store_keys.h"

/* ---- versions ---- */

static kh_rc version_state(struct kh_store_tx *tx, int64_t key_id, uint32_t version,
                           enum kh_version_state *out)
{
	struct kh_store_rows *rows = NULL;
	struct kh_slice s;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(key_id), KH_SV_INT(version)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_version_get, v, KH_SV_COUNT(v), &rows, &found));
	kh_rc rc = found ? kh_store_rows_text(rows, 1, &s) : KH_ERR_NOT_FOUND;
	if (rc == KH_OK && kh_version_state_parse(s, out) != KH_OK)
		rc = KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	return rc;
}

struct version_arg {
	uint32_t version;
	enum kh_version_state to;
};

static kh_rc version_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct version_arg *a = c->arg;
	struct kh_key_info *key = &c->key;
	enum kh_version_state now;
	c->version = a->version;
	KH_ENSURE(key->state != KH_KEY_DELETED, KH_ERR_CONFLICT);
	KH_ENSURE(key->state != KH_KEY_PENDING_DELETION, KH_ERR_KEY_PENDING_DELETION);
	KH_GUARD(version_state(tx, key->id, a->version, &now));
	KH_ENSURE(a->to == KH_VERSION_ENABLED || a->version != key->current_version,
	          KH_ERR_CONFLICT);
	if (now == a->to)
		return KH_OK;
	struct kh_store_val v[] = {KH_SV_TEXT(kh_version_state_name(a->to)), KH_SV_INT(key->id),
	                           KH_SV_INT(a->version)};
	KH_GUARD(kh_store_exec(tx, &kh_q_version_set_state, v, KH_SV_COUNT(v), NULL));
	c->event = a->to == KH_VERSION_ENABLED ? "key.version_enabled" : "key.version_disabled";
	snprintf(c->detail, sizeof(c->detail), "{\"version\":%u}", a->version);
	return KH_OK;
}

static kh_rc version_change(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                            uint32_t version, enum kh_version_state to)
{
	struct version_arg a = {version, to};
	struct kh_keys_change c = {.k = k,
	                           .p = p,
	                           .op = to == KH_VERSION_ENABLED ? KH_OP_VERSION_ENABLE
	                                                          : KH_OP_VERSION_DISABLE,
	                           .tag = tag,
	                           .apply = version_apply,
	                           .arg = &a};
	return kh_keys_change_run(&c);
}

kh_rc kh_keys_version_disable(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                              uint32_t version)
{
	return version_change(k, p, tag, version, KH_VERSION_DISABLED);
}

kh_rc kh_keys_version_enable(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                             uint32_t version)
{
	return version_change(k, p, tag, version, KH_VERSION_ENABLED);
}

/* ---- lists: one page at a time ---- */

/* Runs a listing of one key in a read transaction, then records it. input is the outcome of
 * checking the request (KH_OK, or the refusal of a malformed one). */
typedef kh_rc (*key_read_fn)(struct kh_store_tx *tx, const struct kh_key_info *key, void *arg);

static kh_rc read_and_record(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                             enum kh_keys_op op, kh_rc input, key_read_fn fn, void *arg)
{
	struct kh_store_tx *tx = NULL;
	struct kh_key_info key;
	bool found = false;
	kh_rc rc = KH_ERR_FORBIDDEN;
	if (p->kind == KH_PRINCIPAL_ACCOUNT) {
		rc = input;
		if (rc == KH_OK)
			rc = kh_store_read_begin(k->store, &tx);
		if (rc == KH_OK)
			rc = kh_keys_load(tx, p->keystore_id, tag, &key);
		found = rc == KH_OK;
		if (rc == KH_OK)
			rc = kh_keys_authorize(tx, p, &key, op);
		if (rc == KH_OK)
			rc = fn(tx, &key, arg);
		kh_store_read_end(&tx);
	}
	return kh_keys_record(k, p, op, found ? &key : NULL, 0, rc);
}

/* A page of one key's list: the request, the callback, and where the next page starts. */
struct list_arg {
	const struct kh_key_page *pg;
	kh_key_version_fn version_fn;
	kh_key_grant_fn grant_fn;
	void *arg;
	int64_t next; /* 0: this page is the last */
};

static kh_rc page_check(const struct kh_key_page *pg)
{
	KH_ENSURE(pg->limit >= 1 && pg->limit <= KH_LIMIT_PAGE_MAX, KH_ERR_BAD_INPUT);
	KH_ENSURE(pg->after >= 0, KH_ERR_BAD_INPUT);
	return KH_OK;
}

/* ---- the versions list ---- */

static kh_rc version_decode(struct kh_store_rows *rows, struct kh_key_version_info *out)
{
	int64_t version = 0, destroyed = 0;
	struct kh_slice state;
	struct kh_key_version_info info = {0};
	KH_GUARD(kh_store_rows_int(rows, 0, &version));
	KH_GUARD(kh_store_rows_text(rows, 1, &state));
	KH_GUARD(kh_store_rows_int(rows, 2, &info.created_at));
	KH_GUARD(kh_store_rows_int(rows, 3, &destroyed));
	KH_ENSURE(version >= 1 && version <= UINT32_MAX, KH_ERR_STORAGE);
	KH_ENSURE(kh_version_state_parse(state, &info.state) == KH_OK, KH_ERR_STORAGE);
	info.version = (uint32_t)version;
	info.destroyed = destroyed != 0;
	*out = info;
	return KH_OK;
}

/*
 * Walks the rows of a page query asked for limit + 1 rows (one more says whether another page
 * follows): emit decodes a row, hands it on and gives its position. *next is the position of
 * the page's last row when another follows, else left 0. Closes rows.
 */
typedef kh_rc (*page_row_fn)(struct kh_store_rows *rows, struct list_arg *a, int64_t *out_pos);

static kh_rc page_walk(struct kh_store_rows *rows, struct list_arg *a, page_row_fn emit)
{
	kh_rc rc = KH_OK;
	int64_t last = 0;
	for (unsigned n = 0;; n++) {
		bool row = false;
		KH_GUARD_OUT(kh_store_rows_next(rows, &row));
		if (!row)
			break;
		if (n == a->pg->limit) {
			a->next = last;
			break;
		}
		KH_GUARD_OUT(emit(rows, a, &last));
	}
out:
	kh_store_rows_close(&rows);
	return rc;
}

/* The position of a version in the list is its number. */
static kh_rc version_emit(struct kh_store_rows *rows, struct list_arg *a, int64_t *out_pos)
{
	struct kh_key_version_info info;
	KH_GUARD(version_decode(rows, &info));
	KH_GUARD(a->version_fn(&info, a->arg));
	*out_pos = info.version;
	return KH_OK;
}

static kh_rc versions_read(struct kh_store_tx *tx, const struct kh_key_info *key, void *arg)
{
	struct list_arg *a = arg;
	struct kh_store_rows *rows = NULL;
	struct kh_store_val v[] = {KH_SV_INT(key->id), KH_SV_INT(a->pg->after),
	                           KH_SV_INT((int64_t)a->pg->limit + 1)};
	KH_GUARD(kh_store_query(tx, &kh_q_version_list, v, KH_SV_COUNT(v), &rows));
	return page_walk(rows, a, version_emit);
}

kh_rc kh_keys_versions(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                       const struct kh_key_page *pg, kh_key_version_fn fn, void *arg,
                       int64_t *out_next)
{
	struct list_arg a = {.pg = pg, .version_fn = fn, .arg = arg};
	KH_ENSURE(pg != NULL && fn != NULL && out_next != NULL, KH_ERR_BAD_INPUT);
	KH_GUARD(read_and_record(k, p, tag, KH_OP_VERSIONS, page_check(pg), versions_read, &a));
	*out_next = a.next;
	return KH_OK;
}

/* ---- grants ---- */

struct grant_arg {
	int64_t account_id;
	enum kh_role role;
};

static kh_rc account_in_keystore(struct kh_store_tx *tx, int64_t account_id, int64_t keystore_id)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	int64_t ks = 0;
	struct kh_store_val v[] = {KH_SV_INT(account_id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_account_get, v, 1, &rows, &found));
	kh_rc rc = found ? kh_store_rows_int(rows, 1, &ks) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	return ks == keystore_id ? KH_OK : KH_ERR_NOT_FOUND;
}

static kh_rc grant_add_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct grant_arg *a = c->arg;
	KH_ENSURE(c->key.state != KH_KEY_DELETED, KH_ERR_CONFLICT);
	KH_ENSURE(kh_role_name(a->role) != NULL, KH_ERR_BAD_INPUT);
	KH_GUARD(account_in_keystore(tx, a->account_id, c->key.keystore_id));
	struct kh_store_val v[] = {KH_SV_INT(c->key.id), KH_SV_INT(a->account_id),
	                           KH_SV_TEXT(kh_role_name(a->role)), KH_SV_INT(c->now)};
	KH_GUARD(kh_store_exec(tx, &kh_q_grant_insert, v, KH_SV_COUNT(v), NULL));
	c->event = "key.grant_added";
	snprintf(c->detail, sizeof(c->detail), "{\"account\":%lld,\"role\":\"%s\"}",
	         (long long)a->account_id, kh_role_name(a->role));
	return KH_OK;
}

/* Whether the account still holds any role on the key. */
static kh_rc holds_any_role(struct kh_store_tx *tx, int64_t key_id, int64_t account_id, bool *out)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(key_id), KH_SV_INT(account_id)};
	KH_GUARD(kh_store_query(tx, &kh_q_grant_roles, v, KH_SV_COUNT(v), &rows));
	kh_rc rc = kh_store_rows_next(rows, &found);
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	*out = found;
	return KH_OK;
}

static kh_rc grant_revoke_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct grant_arg *a = c->arg;
	uint64_t changes = 0;
	bool still_grantee = false;
	KH_ENSURE(c->key.state != KH_KEY_DELETED, KH_ERR_CONFLICT);
	KH_ENSURE(kh_role_name(a->role) != NULL, KH_ERR_BAD_INPUT);
	snprintf(c->detail, sizeof(c->detail), "{\"account\":%lld,\"role\":\"%s\"}",
	         (long long)a->account_id, kh_role_name(a->role));
	struct kh_store_val v[] = {KH_SV_INT(c->key.id), KH_SV_INT(a->account_id),
	                           KH_SV_TEXT(kh_role_name(a->role))};
	KH_GUARD(kh_store_exec(tx, &kh_q_grant_delete, v, KH_SV_COUNT(v), &changes));
	KH_ENSURE(changes == 1, KH_ERR_NOT_FOUND);
	/* The account losing the role hears of it too: as a grantee if it holds another role,
	 * else by a notice of its own (once either way). */
	KH_GUARD(holds_any_role(tx, c->key.id, a->account_id, &still_grantee));
	if (!still_grantee) {
		struct kh_audit_notice n = {a->account_id, "key.grant_revoked", c->key.tag,
		                            c->detail};
		KH_GUARD(kh_audit_notify(c->k->audit, tx, &n));
	}
	c->event = "key.grant_revoked";
	return KH_OK;
}

static kh_rc grant_change(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                          enum kh_keys_op op, kh_keys_change_fn apply, int64_t account_id,
                          enum kh_role role)
{
	struct grant_arg a = {account_id, role};
	struct kh_keys_change c = {.k = k, .p = p, .op = op, .tag = tag, .apply = apply, .arg = &a};
	return kh_keys_change_run(&c);
}

kh_rc kh_keys_grant_add(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                        int64_t account_id, enum kh_role role)
{
	return grant_change(k, p, tag, KH_OP_GRANT_ADD, grant_add_apply, account_id, role);
}

kh_rc kh_keys_grant_revoke(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                           int64_t account_id, enum kh_role role)
{
	return grant_change(k, p, tag, KH_OP_GRANT_REVOKE, grant_revoke_apply, account_id, role);
}

/*
 * Grants are listed by (account, role name). A position packs the two into one number,
 * 8 times the account plus the role, so that the API's one cursor helper carries it.
 */
_Static_assert(KH_ROLE_MAX < 8, "a grant position keeps the role in its three low bits");

static kh_rc grant_position(int64_t account_id, enum kh_role role, int64_t *out)
{
	KH_ENSURE(account_id >= 1 && account_id <= KH_KEY_GRANT_ACCOUNT_MAX, KH_ERR_STORAGE);
	*out = account_id * 8 + (int64_t)role;
	return KH_OK;
}

/* The grant a position names, for the query: (0, "") before the first. */
static kh_rc grant_after(int64_t after, int64_t *out_account, const char **out_role)
{
	*out_account = after / 8;
	*out_role = after == 0 ? "" : kh_role_name((enum kh_role)(after % 8));
	KH_ENSURE(after == 0 || (*out_account >= 1 && *out_role != NULL), KH_ERR_BAD_INPUT);
	return KH_OK;
}

static kh_rc grant_decode(struct kh_store_rows *rows, struct kh_key_grant *out)
{
	struct kh_slice role;
	struct kh_key_grant g = {0};
	KH_GUARD(kh_store_rows_int(rows, 0, &g.account_id));
	KH_GUARD(kh_store_rows_text(rows, 1, &role));
	KH_GUARD(kh_store_rows_int(rows, 2, &g.created_at));
	KH_ENSURE(kh_role_parse(role, &g.role) == KH_OK, KH_ERR_STORAGE);
	*out = g;
	return KH_OK;
}

static kh_rc grant_emit(struct kh_store_rows *rows, struct list_arg *a, int64_t *out_pos)
{
	struct kh_key_grant g;
	KH_GUARD(grant_decode(rows, &g));
	KH_GUARD(grant_position(g.account_id, g.role, out_pos));
	return a->grant_fn(&g, a->arg);
}

static kh_rc grants_read(struct kh_store_tx *tx, const struct kh_key_info *key, void *arg)
{
	struct list_arg *a = arg;
	struct kh_store_rows *rows = NULL;
	int64_t after_account = 0;
	const char *after_role = NULL;
	KH_GUARD(grant_after(a->pg->after, &after_account, &after_role));
	struct kh_store_val v[] = {KH_SV_INT(key->id), KH_SV_INT(after_account),
	                           KH_SV_TEXT(after_role), KH_SV_INT((int64_t)a->pg->limit + 1)};
	KH_GUARD(kh_store_query(tx, &kh_q_grant_list, v, KH_SV_COUNT(v), &rows));
	return page_walk(rows, a, grant_emit);
}

/* A malformed position is refused before the key is read, like a bad limit. */
static kh_rc grant_page_check(const struct kh_key_page *pg)
{
	int64_t account = 0;
	const char *role = NULL;
	KH_GUARD(page_check(pg));
	return grant_after(pg->after, &account, &role);
}

kh_rc kh_keys_grants(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                     const struct kh_key_page *pg, kh_key_grant_fn fn, void *arg, int64_t *out_next)
{
	struct list_arg a = {.pg = pg, .grant_fn = fn, .arg = arg};
	KH_ENSURE(pg != NULL && fn != NULL && out_next != NULL, KH_ERR_BAD_INPUT);
	KH_GUARD(read_and_record(k, p, tag, KH_OP_GRANTS, grant_page_check(pg), grants_read, &a));
	*out_next = a.next;
	return KH_OK;
}

/* ---- usage history ---- */

struct history_arg {
	struct kh_keys *k;
	unsigned limit;
	kh_audit_usage_fn fn;
	void *arg;
};

static kh_rc history_read(struct kh_store_tx *tx, const struct kh_key_info *key, void *arg)
{
	struct history_arg *a = arg;
	return kh_audit_usage_list(a->k->audit, tx, key->id, a->limit, a->fn, a->arg);
}

kh_rc kh_keys_history(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                      unsigned limit, kh_audit_usage_fn fn, void *arg)
{
	struct history_arg a = {k, limit, fn, arg};
	KH_ENSURE(fn != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(limit >= 1 && limit <= KH_AUDIT_USAGE_KEEP, KH_ERR_BAD_INPUT);
	return read_and_record(k, p, tag, KH_OP_HISTORY, KH_OK, history_read, &a);
}
