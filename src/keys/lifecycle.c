// SPDX-License-Identifier: Apache-2.0
/*
 * A key's life (API.md "Lifecycle rules"): creation, reading and listing, description and
 * rotation period, manual rotation, enable and disable, scheduled deletion with its 72-hour
 * wait, cancellation back to disabled, and destruction.
 *
 *   enabled <-> disabled;  enabled|disabled -> pending-deletion -> deleted
 *   pending-deletion --cancel--> disabled;  pending-deletion --destroy--> deleted (at once)
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "keys/kh_keys_int.h"
#include "store/kh_store_keys.h"

/* ---- schedule arithmetic ---- */

static int64_t days_ns(unsigned days)
{
	return (int64_t)days * KH_NS_PER_DAY;
}

/* The first time after now on the schedule that had `from` as a date. */
static int64_t next_after(int64_t from, unsigned period, int64_t now)
{
	int64_t step = days_ns(period);
	int64_t n = from + step;
	if (n <= now)
		n += ((now - n) / step + 1) * step;
	return n;
}

struct schedule {
	unsigned period;
	int pending;  /* -1: none */
	int64_t next; /* 0: none */
};

/* A period change takes effect at the next scheduled rotation; with no rotation scheduled it
 * applies now and the schedule starts from now. */
static struct schedule schedule_change(const struct kh_key_info *key, unsigned period, int64_t now)
{
	struct schedule s = {key->rotation_period_days, key->pending_period_days,
	                     key->next_rotation_at};
	if (s.next == 0) {
		s.period = period;
		s.pending = -1;
		s.next = period > 0 ? now + days_ns(period) : 0;
	} else {
		s.pending = period == key->rotation_period_days ? -1 : (int)period;
	}
	return s;
}

/* After a scheduled rotation: a pending period becomes the period and counts from the date
 * that just passed. */
static struct schedule schedule_after_rotation(const struct kh_key_info *key, int64_t now)
{
	struct schedule s = {key->rotation_period_days, -1, 0};
	if (key->pending_period_days >= 0)
		s.period = (unsigned)key->pending_period_days;
	if (s.period > 0)
		s.next = next_after(key->next_rotation_at, s.period, now);
	return s;
}

static struct kh_store_val opt_time(int64_t t)
{
	return t != 0 ? KH_SV_INT(t) : KH_SV_NULL;
}

static kh_rc store_rotation(struct kh_store_tx *tx, const struct kh_key_info *key, uint32_t version,
                            const struct schedule *s, int64_t now)
{
	struct kh_store_val v[] = {
	    KH_SV_INT(version),
	    KH_SV_INT(s->period),
	    s->pending >= 0 ? KH_SV_INT(s->pending) : KH_SV_NULL,
	    opt_time(s->next),
	    KH_SV_INT(now),
	    KH_SV_INT(key->id),
	};
	return kh_store_exec(tx, &kh_q_key_set_rotation, v, KH_SV_COUNT(v), NULL);
}

static kh_rc store_state(struct kh_store_tx *tx, const struct kh_key_info *key,
                         enum kh_key_state state, int64_t deletion_at, int64_t deleted_at,
                         int64_t now)
{
	struct kh_store_val v[] = {
	    KH_SV_TEXT(kh_key_state_name(state)),
	    opt_time(deletion_at),
	    opt_time(deleted_at),
	    KH_SV_INT(now),
	    KH_SV_INT(key->id),
	};
	return kh_store_exec(tx, &kh_q_key_set_state, v, KH_SV_COUNT(v), NULL);
}

/* ---- create ---- */

struct create_arg {
	const struct kh_key_create *req;
	kh_rc valid; /* outcome of validation, reported inside the audited change */
	enum kh_key_type type;
	enum kh_key_usage usage;
	unsigned period;
	struct kh_keys_newmat mat;
};

static kh_rc create_validate(const struct kh_key_create *req, struct create_arg *a)
{
	KH_ENSURE(req != NULL && kh_keys_name_valid(req->name), KH_ERR_BAD_INPUT);
	a->type = req->type != 0 ? req->type : KH_KEY_AES_256_GCM;
	KH_ENSURE(kh_key_type_name(a->type) != NULL, KH_ERR_BAD_INPUT);
	a->usage = req->usage != 0 ? req->usage : kh_key_type_default_usage(a->type);
	KH_ENSURE(kh_key_type_allows(a->type, a->usage), KH_ERR_BAD_INPUT);
	/* -1 asks for the default; other negative values are not periods. */
	KH_ENSURE(req->rotation_period_days >= -1, KH_ERR_BAD_INPUT);
	int period = req->rotation_period_days < 0 ? KH_KEY_DEFAULT_ROTATION_DAYS
	                                           : req->rotation_period_days;
	KH_ENSURE(period <= KH_KEY_MAX_ROTATION_DAYS, KH_ERR_BAD_INPUT);
	a->period = (unsigned)period;
	KH_ENSURE(!req->convergent || kh_key_type_is_symmetric(a->type), KH_ERR_BAD_INPUT);
	KH_ENSURE(req->description == NULL ||
	              strnlen(req->description, KH_LIMIT_DESCRIPTION_BYTES + 1) <=
	                  KH_LIMIT_DESCRIPTION_BYTES,
	          KH_ERR_TOO_LARGE);
	return KH_OK;
}

static kh_rc new_tag(char out[KH_KEY_TAG_LEN + 1])
{
	uint8_t raw[KH_KEY_TAG_LEN / 2];
	struct kh_buf hex;
	kh_buf_init(&hex, KH_KEY_TAG_LEN + 1, KH_BUF_PLAIN);
	kh_rc rc = kh_rand_bytes(raw, sizeof(raw));
	if (rc == KH_OK)
		rc = kh_hex_encode(KH_SLICE(raw, sizeof(raw)), &hex);
	if (rc == KH_OK && hex.len == KH_KEY_TAG_LEN) {
		memcpy(out, hex.ptr, KH_KEY_TAG_LEN);
		out[KH_KEY_TAG_LEN] = '\0';
	} else if (rc == KH_OK) {
		rc = KH_ERR_INTERNAL;
	}
	kh_buf_cleanup(&hex);
	return rc;
}

static kh_rc create_insert(struct kh_store_tx *tx, int64_t keystore_id, struct create_arg *a,
                           int64_t now, int64_t *out_id)
{
	char tag[KH_KEY_TAG_LEN + 1];
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_GUARD(new_tag(tag));
	const char *desc = a->req->description != NULL ? a->req->description : "";
	struct kh_store_val v[] = {
	    KH_SV_INT(keystore_id),
	    KH_SV_TEXT(tag),
	    KH_SV_TEXT(a->req->name),
	    KH_SV_TEXT(kh_key_type_name(a->type)),
	    KH_SV_TEXT(kh_key_usage_name(a->usage)),
	    KH_SV_TEXT(kh_key_state_name(KH_KEY_ENABLED)),
	    KH_SV_INT(1),
	    KH_SV_INT(a->req->convergent ? 1 : 0),
	    KH_SV_INT(a->period),
	    opt_time(a->period > 0 ? now + days_ns(a->period) : 0),
	    KH_SV_TEXT(desc),
	    KH_SV_INT(now),
	    KH_SV_INT(now),
	};
	KH_GUARD(kh_store_query_one(tx, &kh_q_key_insert, v, KH_SV_COUNT(v), &rows, &found));
	kh_rc rc = found ? kh_store_rows_int(rows, 0, out_id) : KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	return rc;
}

static kh_rc create_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct create_arg *a = c->arg;
	int64_t id = 0;
	const struct kh_principal *p = c->p;
	KH_ENSURE(p->kind == KH_PRINCIPAL_ACCOUNT && (p->policies & KH_POLICY_KMS_MANAGER) != 0,
	          KH_ERR_FORBIDDEN);
	KH_GUARD(a->valid);
	KH_GUARD(create_insert(tx, p->keystore_id, a, c->now, &id));
	KH_GUARD(kh_keys_load_id(tx, id, &c->key));
	c->have_key = true;
	c->version = 1;
	KH_GUARD(kh_keys_version_store(c->k, tx, &c->key, 1, &a->mat, c->now));
	snprintf(c->detail, sizeof(c->detail), "{\"name\":\"%s\",\"type\":\"%s\"}", c->key.name,
	         kh_key_type_name(c->key.type));
	return KH_OK;
}

kh_rc kh_keys_create(struct kh_keys *k, const struct kh_principal *p,
                     const struct kh_key_create *req, struct kh_key_info *out)
{
	struct create_arg a = {.req = req};
	a.valid = create_validate(req, &a);
	bool may = p->kind == KH_PRINCIPAL_ACCOUNT && (p->policies & KH_POLICY_KMS_MANAGER) != 0;
	/* Material only for requests that can succeed: RSA generation is slow. */
	if (a.valid == KH_OK && may) {
		kh_rc rc = kh_keys_newmat_make(a.type, &a.mat);
		if (rc != KH_OK)
			return rc;
	}
	struct kh_keys_change c = {
	    .k = k, .p = p, .op = KH_OP_CREATE, .apply = create_apply, .arg = &a};
	kh_rc rc = kh_keys_change_run(&c);
	kh_keys_newmat_cleanup(&a.mat);
	if (rc == KH_OK && out != NULL)
		*out = c.key;
	return rc;
}

kh_rc kh_keys_create_check(const struct kh_key_create *req, enum kh_key_type *out_type)
{
	struct create_arg a = {.req = req};
	KH_GUARD(create_validate(req, &a));
	*out_type = a.type;
	return KH_OK;
}

kh_rc kh_keys_create_in(struct kh_keys *k, struct kh_store_tx *tx, int64_t keystore_id,
                        const struct kh_key_create *req, const struct kh_keys_newmat *m,
                        int64_t now, struct kh_key_info *out)
{
	struct create_arg a = {.req = req};
	struct kh_key_info key;
	int64_t id = 0;
	KH_GUARD(create_validate(req, &a));
	KH_GUARD(create_insert(tx, keystore_id, &a, now, &id));
	KH_GUARD(kh_keys_load_id(tx, id, &key));
	KH_GUARD(kh_keys_version_store(k, tx, &key, 1, m, now));
	*out = key;
	return KH_OK;
}

/* ---- read ---- */

/* Loads and authorises in a read transaction. *out_found tells whether key was loaded. */
static kh_rc read_key(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                      enum kh_keys_op op, struct kh_key_info *key, bool *out_found)
{
	struct kh_store_tx *tx = NULL;
	*out_found = false;
	KH_ENSURE(p->kind == KH_PRINCIPAL_ACCOUNT, KH_ERR_FORBIDDEN);
	KH_GUARD(kh_store_read_begin(k->store, &tx));
	kh_rc rc = kh_keys_load(tx, p->keystore_id, tag, key);
	if (rc == KH_OK) {
		*out_found = true;
		rc = kh_keys_authorize(tx, p, key, op);
	}
	kh_store_read_end(&tx);
	return rc;
}

kh_rc kh_keys_get(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                  struct kh_key_info *out)
{
	struct kh_key_info key;
	bool found = false;
	kh_rc rc = read_key(k, p, tag, KH_OP_GET, &key, &found);
	KH_GUARD(kh_keys_record(k, p, KH_OP_GET, found ? &key : NULL, 0, rc));
	*out = key;
	return KH_OK;
}

/*
 * A kms-user still sees the deleted keys it holds the manager role on (kh_keys_authorize). Roles
 * cannot be read while the list's cursor is open, so a first pass over the same page (the read
 * transaction is a snapshot) collects the ids of those keys, ascending like the page.
 */
static kh_rc deleted_readable(struct kh_store_tx *tx, const struct kh_principal *p,
                              const struct kh_store_val *v, size_t n, unsigned limit, int64_t *ids,
                              size_t *out_n)
{
	kh_rc rc = KH_OK;
	struct kh_store_rows *rows = NULL;
	size_t count = 0, kept = 0;
	KH_GUARD(kh_store_query(tx, &kh_q_key_list_granted, v, n, &rows));
	for (unsigned i = 0; i < limit; i++) {
		bool row = false;
		struct kh_key_info key;
		KH_GUARD_OUT(kh_store_rows_next(rows, &row));
		if (!row)
			break;
		KH_GUARD_OUT(kh_keys_row_decode(rows, &key));
		if (key.state == KH_KEY_DELETED)
			ids[count++] = key.id;
	}
	kh_store_rows_close(&rows);
	for (size_t i = 0; i < count; i++) {
		struct kh_key_info key = {
		    .id = ids[i], .keystore_id = p->keystore_id, .state = KH_KEY_DELETED};
		rc = kh_keys_authorize(tx, p, &key, KH_OP_LIST);
		if (rc == KH_OK)
			ids[kept++] = ids[i];
		else if (rc != KH_ERR_NOT_FOUND)
			return rc;
	}
	*out_n = kept;
	return KH_OK;
out:
	kh_store_rows_close(&rows);
	return rc;
}

static kh_rc list_rows(struct kh_store_tx *tx, const struct kh_principal *p,
                       const struct kh_key_filter *f, const int64_t *deleted_ok, size_t deleted_n,
                       kh_key_info_fn fn, void *arg, bool *out_more)
{
	kh_rc rc = KH_OK;
	struct kh_store_rows *rows = NULL;
	const char *state = f->state != 0 ? kh_key_state_name(f->state) : "";
	bool manager = (p->policies & KH_POLICY_KMS_MANAGER) != 0;
	size_t next_deleted = 0;
	struct kh_store_val all[] = {KH_SV_INT(p->keystore_id), KH_SV_TEXT(state),
	                             KH_SV_INT(f->after_id), KH_SV_INT(f->limit + 1)};
	struct kh_store_val granted[] = {KH_SV_INT(p->keystore_id), KH_SV_INT(p->account_id),
	                                 KH_SV_TEXT(state), KH_SV_INT(f->after_id),
	                                 KH_SV_INT(f->limit + 1)};
	if (manager)
		KH_GUARD(kh_store_query(tx, &kh_q_key_list, all, KH_SV_COUNT(all), &rows));
	else
		KH_GUARD(kh_store_query(tx, &kh_q_key_list_granted, granted, KH_SV_COUNT(granted),
		                        &rows));
	*out_more = false;
	for (unsigned n = 0;; n++) {
		bool row = false;
		struct kh_key_info key;
		KH_GUARD_OUT(kh_store_rows_next(rows, &row));
		if (!row)
			break;
		if (n == f->limit) {
			*out_more = true;
			break;
		}
		KH_GUARD_OUT(kh_keys_row_decode(rows, &key));
		/* Deleted keys stay visible to their managers only. */
		if (key.state == KH_KEY_DELETED && !manager) {
			if (next_deleted == deleted_n || deleted_ok[next_deleted] != key.id)
				continue;
			next_deleted++;
		}
		KH_GUARD_OUT(fn(&key, arg));
	}
out:
	kh_store_rows_close(&rows);
	return rc;
}

/* Both passes of a list in one read transaction. */
static kh_rc list_in(struct kh_store_tx *tx, const struct kh_principal *p,
                     const struct kh_key_filter *f, kh_key_info_fn fn, void *arg, bool *out_more)
{
	const char *state = f->state != 0 ? kh_key_state_name(f->state) : "";
	KH_ENSURE(state != NULL, KH_ERR_BAD_INPUT);
	if ((p->policies & KH_POLICY_KMS_MANAGER) != 0)
		return list_rows(tx, p, f, NULL, 0, fn, arg, out_more);
	size_t n = 0;
	int64_t *ids = kh_calloc(f->limit, sizeof(*ids));
	KH_ENSURE(ids != NULL, KH_ERR_NOMEM);
	struct kh_store_val v[] = {KH_SV_INT(p->keystore_id), KH_SV_INT(p->account_id),
	                           KH_SV_TEXT(state), KH_SV_INT(f->after_id), KH_SV_INT(f->limit)};
	kh_rc rc = deleted_readable(tx, p, v, KH_SV_COUNT(v), f->limit, ids, &n);
	if (rc == KH_OK)
		rc = list_rows(tx, p, f, ids, n, fn, arg, out_more);
	kh_free(&ids);
	return rc;
}

kh_rc kh_keys_list(struct kh_keys *k, const struct kh_principal *p, const struct kh_key_filter *f,
                   kh_key_info_fn fn, void *arg, bool *out_more)
{
	struct kh_store_tx *tx = NULL;
	bool more = false;
	kh_rc rc = KH_ERR_FORBIDDEN;
	if (p->kind == KH_PRINCIPAL_ACCOUNT) {
		rc = f != NULL && f->limit >= 1 && f->limit <= KH_LIMIT_PAGE_MAX && fn != NULL
		         ? KH_OK
		         : KH_ERR_BAD_INPUT;
		if (rc == KH_OK)
			rc = kh_store_read_begin(k->store, &tx);
		if (rc == KH_OK)
			rc = list_in(tx, p, f, fn, arg, &more);
		kh_store_read_end(&tx);
	}
	KH_GUARD(kh_keys_record(k, p, KH_OP_LIST, NULL, 0, rc));
	*out_more = more;
	return KH_OK;
}

/* ---- update ---- */

static kh_rc update_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	const struct kh_key_update *u = c->arg;
	struct kh_key_info *key = &c->key;
	KH_ENSURE(u != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(key->state != KH_KEY_DELETED, KH_ERR_CONFLICT);
	KH_ENSURE(key->state != KH_KEY_PENDING_DELETION, KH_ERR_KEY_PENDING_DELETION);
	KH_ENSURE(u->rotation_period_days >= -1 &&
	              u->rotation_period_days <= KH_KEY_MAX_ROTATION_DAYS,
	          KH_ERR_BAD_INPUT);
	const char *desc = u->description != NULL ? u->description : key->description;
	KH_ENSURE(strnlen(desc, KH_LIMIT_DESCRIPTION_BYTES + 1) <= KH_LIMIT_DESCRIPTION_BYTES,
	          KH_ERR_TOO_LARGE);
	struct schedule s = {key->rotation_period_days, key->pending_period_days,
	                     key->next_rotation_at};
	if (u->rotation_period_days >= 0)
		s = schedule_change(key, (unsigned)u->rotation_period_days, c->now);
	struct kh_store_val v[] = {
	    KH_SV_TEXT(desc),
	    KH_SV_INT(s.period),
	    s.pending >= 0 ? KH_SV_INT(s.pending) : KH_SV_NULL,
	    opt_time(s.next),
	    KH_SV_INT(c->now),
	    KH_SV_INT(key->id),
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_key_set_schedule, v, KH_SV_COUNT(v), NULL));
	if (u->rotation_period_days >= 0)
		snprintf(c->detail, sizeof(c->detail), "{\"rotation_period_days\":%d}",
		         u->rotation_period_days);
	return KH_OK;
}

kh_rc kh_keys_update(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                     const struct kh_key_update *u, struct kh_key_info *out)
{
	struct kh_keys_change c = {.k = k,
	                           .p = p,
	                           .op = KH_OP_UPDATE,
	                           .tag = tag,
	                           .apply = update_apply,
	                           .arg = (void *)(uintptr_t)u};
	KH_GUARD(kh_keys_change_run(&c));
	if (out != NULL)
		*out = c.key;
	return KH_OK;
}

kh_rc kh_keys_set_period_in(struct kh_store_tx *tx, const struct kh_key_info *key, int period_days,
                            int64_t now)
{
	KH_ENSURE(key->state != KH_KEY_DELETED, KH_ERR_CONFLICT);
	KH_ENSURE(key->state != KH_KEY_PENDING_DELETION, KH_ERR_KEY_PENDING_DELETION);
	KH_ENSURE(period_days >= 0 && period_days <= KH_KEY_MAX_ROTATION_DAYS, KH_ERR_BAD_INPUT);
	struct schedule s = schedule_change(key, (unsigned)period_days, now);
	struct kh_store_val v[] = {
	    KH_SV_TEXT(key->description),
	    KH_SV_INT(s.period),
	    s.pending >= 0 ? KH_SV_INT(s.pending) : KH_SV_NULL,
	    opt_time(s.next),
	    KH_SV_INT(now),
	    KH_SV_INT(key->id),
	};
	return kh_store_exec(tx, &kh_q_key_set_schedule, v, KH_SV_COUNT(v), NULL);
}

/* ---- rotation ---- */

struct rotate_arg {
	struct kh_keys_newmat mat;
	bool have_mat;
	enum kh_key_type type;
	bool scheduled;
};

static kh_rc rotate_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct rotate_arg *a = c->arg;
	struct kh_key_info *key = &c->key;
	KH_ENSURE(key->state != KH_KEY_DELETED, KH_ERR_CONFLICT);
	KH_ENSURE(a->scheduled || key->state != KH_KEY_PENDING_DELETION,
	          KH_ERR_KEY_PENDING_DELETION);
	KH_ENSURE(a->have_mat && a->type == key->type, KH_ERR_CONFLICT);
	KH_ENSURE(key->current_version < UINT32_MAX, KH_ERR_CONFLICT);
	uint32_t version = key->current_version + 1;
	/* A manual rotation leaves the schedule where it is. */
	struct schedule s = {key->rotation_period_days, key->pending_period_days,
	                     key->next_rotation_at};
	if (a->scheduled)
		s = schedule_after_rotation(key, c->now);
	KH_GUARD(kh_keys_version_store(c->k, tx, key, version, &a->mat, c->now));
	KH_GUARD(store_rotation(tx, key, version, &s, c->now));
	c->version = version;
	c->event = "key.rotated";
	snprintf(c->detail, sizeof(c->detail), "{\"version\":%u}", version);
	return KH_OK;
}

kh_rc kh_keys_rotate(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                     struct kh_key_info *out)
{
	struct rotate_arg a = {0};
	struct kh_key_info key;
	bool found = false;
	/* Authorised before the (possibly slow) generation; checked again in the change. */
	if (read_key(k, p, tag, KH_OP_ROTATE, &key, &found) == KH_OK) {
		KH_GUARD(kh_keys_newmat_make(key.type, &a.mat));
		a.have_mat = true;
		a.type = key.type;
	}
	struct kh_keys_change c = {
	    .k = k, .p = p, .op = KH_OP_ROTATE, .tag = tag, .apply = rotate_apply, .arg = &a};
	kh_rc rc = kh_keys_change_run(&c);
	if (a.have_mat)
		kh_keys_newmat_cleanup(&a.mat);
	if (rc == KH_OK && out != NULL)
		*out = c.key;
	return rc;
}

static kh_rc scheduled_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	int64_t id = c->key.id;
	KH_GUARD(kh_keys_load_id(tx, id, &c->key));
	c->have_key = true;
	/* Still due? Another node, or a period change, may have moved it. */
	if (c->key.next_rotation_at == 0 || c->key.next_rotation_at > c->now)
		return KH_ERR_CONFLICT;
	return rotate_apply(c, tx);
}

kh_rc kh_keys_rotate_scheduled(struct kh_keys *k, int64_t key_id, bool *out_rotated)
{
	static const struct kh_principal sys = {
	    .kind = KH_PRINCIPAL_SYSTEM, .request_id = "scheduler", .source = ""};
	struct rotate_arg a = {.scheduled = true};
	struct kh_store_tx *tx = NULL;
	struct kh_key_info key;
	KH_GUARD(kh_store_read_begin(k->store, &tx));
	kh_rc rc = kh_keys_load_id(tx, key_id, &key);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	KH_GUARD(kh_keys_newmat_make(key.type, &a.mat));
	a.have_mat = true;
	a.type = key.type;
	struct kh_keys_change c = {
	    .k = k, .p = &sys, .op = KH_OP_SCHEDULED_ROTATION, .apply = scheduled_apply, .arg = &a};
	c.key.id = key_id;
	rc = kh_keys_change_run(&c);
	kh_keys_newmat_cleanup(&a.mat);
	*out_rotated = rc == KH_OK;
	return rc == KH_ERR_CONFLICT ? KH_OK : rc;
}

/* ---- state ---- */

static kh_rc disable_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct kh_key_info *key = &c->key;
	KH_ENSURE(key->state != KH_KEY_DELETED, KH_ERR_CONFLICT);
	KH_ENSURE(key->state != KH_KEY_PENDING_DELETION, KH_ERR_KEY_PENDING_DELETION);
	if (key->state == KH_KEY_DISABLED)
		return KH_OK;
	c->event = "key.disabled";
	return store_state(tx, key, KH_KEY_DISABLED, 0, 0, c->now);
}

static kh_rc enable_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct kh_key_info *key = &c->key;
	KH_ENSURE(key->state != KH_KEY_DELETED, KH_ERR_CONFLICT);
	KH_ENSURE(key->state != KH_KEY_PENDING_DELETION, KH_ERR_KEY_PENDING_DELETION);
	if (key->state == KH_KEY_ENABLED)
		return KH_OK;
	c->event = "key.enabled";
	return store_state(tx, key, KH_KEY_ENABLED, 0, 0, c->now);
}

static kh_rc grant_count(struct kh_store_tx *tx, int64_t key_id, int64_t *out)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(key_id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_grant_count, v, 1, &rows, &found));
	kh_rc rc = found ? kh_store_rows_int(rows, 0, out) : KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	return rc;
}

static kh_rc schedule_deletion_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	const char *confirm = c->arg;
	struct kh_key_info *key = &c->key;
	int64_t grants = 0;
	KH_ENSURE(key->state != KH_KEY_DELETED, KH_ERR_CONFLICT);
	KH_ENSURE(key->state != KH_KEY_PENDING_DELETION, KH_ERR_KEY_PENDING_DELETION);
	KH_GUARD(grant_count(tx, key->id, &grants));
	/* Others depend on a key with grants: deleting it must be confirmed by its name. A name
	 * given for a key without grants must be its name too: it may have been meant for
	 * another key. */
	if (grants > 0 || confirm != NULL)
		KH_ENSURE(confirm != NULL && kh_slice_eq(kh_slice_from_cstr(confirm),
		                                         kh_slice_from_cstr(key->name)),
		          KH_ERR_BAD_INPUT);
	int64_t at = c->now + KH_KEY_DELETION_WAIT_NS;
	c->event = "key.deletion_scheduled";
	snprintf(c->detail, sizeof(c->detail), "{\"deletion_at\":%lld}", (long long)at);
	return store_state(tx, key, KH_KEY_PENDING_DELETION, at, 0, c->now);
}

static kh_rc cancel_deletion_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct kh_key_info *key = &c->key;
	KH_ENSURE(key->state == KH_KEY_PENDING_DELETION, KH_ERR_CONFLICT);
	c->event = "key.deletion_cancelled";
	return store_state(tx, key, KH_KEY_DISABLED, 0, 0, c->now);
}

/* Destroys the material and marks the key deleted (now or when its wait is over). */
static kh_rc destroy_now(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct kh_key_info *key = &c->key;
	KH_ENSURE(key->state == KH_KEY_PENDING_DELETION, KH_ERR_CONFLICT);
	KH_GUARD(kh_keys_material_destroy(c->k, tx, key));
	c->event = "key.deleted";
	return store_state(tx, key, KH_KEY_DELETED, 0, c->now, c->now);
}

kh_rc kh_keys_set_enabled_in(struct kh_store_tx *tx, const struct kh_key_info *key, bool enabled,
                             int64_t now, const char **out_event)
{
	*out_event = NULL;
	KH_ENSURE(key->state != KH_KEY_DELETED, KH_ERR_CONFLICT);
	KH_ENSURE(key->state != KH_KEY_PENDING_DELETION, KH_ERR_KEY_PENDING_DELETION);
	enum kh_key_state want = enabled ? KH_KEY_ENABLED : KH_KEY_DISABLED;
	if (key->state == want)
		return KH_OK;
	KH_GUARD(store_state(tx, key, want, 0, 0, now));
	*out_event = enabled ? "key.enabled" : "key.disabled";
	return KH_OK;
}

static kh_rc run_state_change(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                              enum kh_keys_op op, kh_keys_change_fn apply, void *arg,
                              struct kh_key_info *out)
{
	struct kh_keys_change c = {
	    .k = k, .p = p, .op = op, .tag = tag, .apply = apply, .arg = arg};
	KH_GUARD(kh_keys_change_run(&c));
	if (out != NULL)
		*out = c.key;
	return KH_OK;
}

kh_rc kh_keys_disable(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                      struct kh_key_info *out)
{
	return run_state_change(k, p, tag, KH_OP_DISABLE, disable_apply, NULL, out);
}

kh_rc kh_keys_enable(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                     struct kh_key_info *out)
{
	return run_state_change(k, p, tag, KH_OP_ENABLE, enable_apply, NULL, out);
}

kh_rc kh_keys_schedule_deletion(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                                const char *confirm_name, struct kh_key_info *out)
{
	return run_state_change(k, p, tag, KH_OP_SCHEDULE_DELETION, schedule_deletion_apply,
	                        (void *)(uintptr_t)confirm_name, out);
}

kh_rc kh_keys_cancel_deletion(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                              struct kh_key_info *out)
{
	return run_state_change(k, p, tag, KH_OP_CANCEL_DELETION, cancel_deletion_apply, NULL, out);
}

kh_rc kh_keys_destroy(struct kh_keys *k, const struct kh_principal *p, const char *tag)
{
	return run_state_change(k, p, tag, KH_OP_DESTROY, destroy_now, NULL, NULL);
}

static kh_rc deletion_due_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	KH_GUARD(kh_keys_load_id(tx, c->key.id, &c->key));
	c->have_key = true;
	if (c->key.state != KH_KEY_PENDING_DELETION || c->key.deletion_at > c->now)
		return KH_ERR_CONFLICT;
	return destroy_now(c, tx);
}

kh_rc kh_keys_destroy_due(struct kh_keys *k, int64_t key_id, bool *out_destroyed)
{
	static const struct kh_principal sys = {
	    .kind = KH_PRINCIPAL_SYSTEM, .request_id = "scheduler", .source = ""};
	struct kh_keys_change c = {
	    .k = k, .p = &sys, .op = KH_OP_SCHEDULED_DELETION, .apply = deletion_due_apply};
	c.key.id = key_id;
	kh_rc rc = kh_keys_change_run(&c);
	*out_destroyed = rc == KH_OK;
	return rc == KH_ERR_CONFLICT ? KH_OK : rc;
}
