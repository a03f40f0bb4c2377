// SPDX-License-Identifier: Apache-2.0
/*
 * Who may do what (API.md "Who may do what"), key rows as read from storage, and the records
 * every operation leaves: audit, usage history, usage count.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "keys/kh_keys_int.h"
#include "store/kh_store_keys.h"

#define R(role) KH_ROLE_BIT(KH_ROLE_##role)
#define READERS (R(MANAGER) | R(REVIEWER))
#define ANY_ROLE (R(MANAGER) | R(ENCRYPTOR) | R(DECRYPTOR) | R(ENCRYPTOR_DECRYPTOR) | R(REVIEWER))
#define USERS (R(MANAGER) | R(ENCRYPTOR_DECRYPTOR))

/* Managers of the key store may do everything; this table is for per-key roles. */
const struct kh_keys_op_def kh_keys_ops[KH_OP_COUNT] = {
    [KH_OP_KEYSTORE_CREATE] = {"keystore.create", NULL, 0},
    [KH_OP_ACCOUNT_CREATE] = {"account.create", NULL, 0},
    [KH_OP_CREATE] = {"key.create", NULL, 0},
    [KH_OP_GET] = {"key.get", NULL, ANY_ROLE},
    [KH_OP_LIST] = {"key.list", NULL, ANY_ROLE},
    [KH_OP_UPDATE] = {"key.update", NULL, R(MANAGER)},
    [KH_OP_ROTATE] = {"key.rotate", NULL, R(MANAGER)},
    [KH_OP_DISABLE] = {"key.disable", NULL, R(MANAGER)},
    [KH_OP_ENABLE] = {"key.enable", NULL, R(MANAGER)},
    [KH_OP_SCHEDULE_DELETION] = {"key.schedule_deletion", NULL, R(MANAGER)},
    [KH_OP_CANCEL_DELETION] = {"key.cancel_deletion", NULL, R(MANAGER)},
    [KH_OP_DESTROY] = {"key.destroy", NULL, R(MANAGER)},
    [KH_OP_VERSIONS] = {"key.versions", NULL, READERS},
    [KH_OP_VERSION_DISABLE] = {"key.version_disable", NULL, R(MANAGER)},
    [KH_OP_VERSION_ENABLE] = {"key.version_enable", NULL, R(MANAGER)},
    [KH_OP_GRANTS] = {"key.grants", NULL, R(MANAGER)},
    [KH_OP_GRANT_ADD] = {"key.grant_add", NULL, R(MANAGER)},
    [KH_OP_GRANT_REVOKE] = {"key.grant_revoke", NULL, R(MANAGER)},
    [KH_OP_HISTORY] = {"key.history", NULL, READERS},
    [KH_OP_ENCRYPT] = {"key.encrypt", "encrypt", USERS | R(ENCRYPTOR)},
    [KH_OP_DECRYPT] = {"key.decrypt", "decrypt", USERS | R(DECRYPTOR)},
    [KH_OP_DATA_KEY] = {"key.data_key", "data-key", USERS | R(ENCRYPTOR)},
    [KH_OP_REENCRYPT] = {"key.reencrypt", "reencrypt", USERS},
    [KH_OP_SIGN] = {"key.sign", "sign", USERS | R(ENCRYPTOR)},
    [KH_OP_SIGN_WITH] = {"key.sign_with", "sign", USERS | R(ENCRYPTOR)},
    [KH_OP_VERIFY] = {"key.verify", "verify", USERS | R(DECRYPTOR)},
    [KH_OP_MAC] = {"key.mac", "mac", USERS | R(ENCRYPTOR)},
    [KH_OP_VERIFY_MAC] = {"key.verify_mac", "verify-mac", USERS | R(DECRYPTOR)},
    [KH_OP_PUBLIC_KEY] = {"key.public_key", "public-key", USERS | R(ENCRYPTOR) | R(DECRYPTOR)},
    [KH_OP_SCHEDULED_ROTATION] = {"key.scheduled_rotation", NULL, 0},
    [KH_OP_SCHEDULED_DELETION] = {"key.scheduled_deletion", NULL, 0},
    [KH_OP_PURGE] = {"key.purge", NULL, 0},
    /* XKS: the managers of the store's key store and the operator (xks.c decides); the uses
     * by AWS KMS through a store's credential (xks_ops.c). */
    [KH_OP_XKS_STORE_CREATE] = {"xks.store.create", NULL, 0},
    [KH_OP_XKS_STORE_GET] = {"xks.store.get", NULL, 0},
    [KH_OP_XKS_STORE_LIST] = {"xks.store.list", NULL, 0},
    [KH_OP_XKS_STORE_UPDATE] = {"xks.store.update", NULL, 0},
    [KH_OP_XKS_STORE_DELETE] = {"xks.store.delete", NULL, 0},
    [KH_OP_XKS_CREDENTIAL_ISSUE] = {"xks.credential.issue", NULL, 0},
    [KH_OP_XKS_CREDENTIAL_REVOKE] = {"xks.credential.revoke", NULL, 0},
    [KH_OP_XKS_CREDENTIAL_LIST] = {"xks.credential.list", NULL, 0},
    [KH_OP_XKS_KEY_ATTACH] = {"xks.key.attach", NULL, 0},
    [KH_OP_XKS_KEY_GET] = {"xks.key.get", NULL, 0},
    [KH_OP_XKS_KEY_LIST] = {"xks.key.list", NULL, 0},
    [KH_OP_XKS_KEY_UPDATE] = {"xks.key.update", NULL, 0},
    [KH_OP_XKS_KEY_DETACH] = {"xks.key.detach", NULL, 0},
    [KH_OP_XKS_METADATA] = {"xks.metadata", "xks-metadata", 0},
    [KH_OP_XKS_ENCRYPT] = {"xks.encrypt", "xks-encrypt", 0},
    [KH_OP_XKS_DECRYPT] = {"xks.decrypt", "xks-decrypt", 0},
};

bool kh_keys_name_valid(const char *name)
{
	return kh_name_valid(name, KH_LIMIT_NAME_MAX);
}

void kh_keys_principal_name(const struct kh_principal *p, char *out, size_t out_len)
{
	switch (p->kind) {
	case KH_PRINCIPAL_OPERATOR:
		snprintf(out, out_len, "operator");
		break;
	case KH_PRINCIPAL_ACCOUNT:
		snprintf(out, out_len, "account:%lld", (long long)p->account_id);
		break;
	case KH_PRINCIPAL_SYSTEM:
		snprintf(out, out_len, "system");
		break;
	case KH_PRINCIPAL_XKS:
		/* The access key id is [A-Z2-7] (authz/ found its secret), at most 30 of them. */
		snprintf(out, out_len, "xks:%lld:%.30s", (long long)p->xks_store_id,
		         p->xks_access_key != NULL ? p->xks_access_key : "");
		break;
	default:
		snprintf(out, out_len, "unknown");
		break;
	}
}

kh_rc kh_keys_state_error(enum kh_key_state s)
{
	switch (s) {
	case KH_KEY_ENABLED:
		return KH_OK;
	case KH_KEY_DISABLED:
		return KH_ERR_KEY_DISABLED;
	case KH_KEY_PENDING_DELETION:
		return KH_ERR_KEY_PENDING_DELETION;
	default:
		return KH_ERR_CONFLICT;
	}
}

/* ---- rows ---- */

static kh_rc opt_int(struct kh_store_rows *rows, unsigned col, int64_t *out)
{
	bool is_null = false;
	int64_t v = 0;
	KH_GUARD(kh_store_rows_int_opt(rows, col, &v, &is_null));
	*out = is_null ? 0 : v;
	return KH_OK;
}

static kh_rc enum_col(struct kh_store_rows *rows, unsigned col,
                      kh_rc (*parse)(struct kh_slice, int *), int *out)
{
	struct kh_slice s;
	KH_GUARD(kh_store_rows_text(rows, col, &s));
	return parse(s, out) == KH_OK ? KH_OK : KH_ERR_STORAGE;
}

/* Adapters so one helper parses every enum column. */
#define PARSER(fn, type)                                                                           \
	static kh_rc fn##_int(struct kh_slice s, int *out)                                         \
	{                                                                                          \
		type v;                                                                            \
		KH_GUARD(fn(s, &v));                                                               \
		*out = (int)v;                                                                     \
		return KH_OK;                                                                      \
	}
PARSER(kh_key_type_parse, enum kh_key_type)
PARSER(kh_key_usage_parse, enum kh_key_usage)
PARSER(kh_key_state_parse, enum kh_key_state)

static kh_rc decode_enums(struct kh_store_rows *rows, struct kh_key_info *k)
{
	int type = 0, usage = 0, state = 0;
	KH_GUARD(enum_col(rows, KH_QK_TYPE, kh_key_type_parse_int, &type));
	KH_GUARD(enum_col(rows, KH_QK_USAGE, kh_key_usage_parse_int, &usage));
	KH_GUARD(enum_col(rows, KH_QK_STATE, kh_key_state_parse_int, &state));
	k->type = (enum kh_key_type)type;
	k->usage = (enum kh_key_usage)usage;
	k->state = (enum kh_key_state)state;
	return KH_OK;
}

static kh_rc decode_numbers(struct kh_store_rows *rows, struct kh_key_info *k)
{
	int64_t version = 0, convergent = 0, period = 0, pending = -1, count = 0;
	bool pending_null = true;
	KH_GUARD(kh_store_rows_int(rows, KH_QK_ID, &k->id));
	KH_GUARD(kh_store_rows_int(rows, KH_QK_KEYSTORE_ID, &k->keystore_id));
	KH_GUARD(kh_store_rows_int(rows, KH_QK_CURRENT_VERSION, &version));
	KH_GUARD(kh_store_rows_int(rows, KH_QK_CONVERGENT, &convergent));
	KH_GUARD(kh_store_rows_int(rows, KH_QK_ROTATION_PERIOD_DAYS, &period));
	KH_GUARD(kh_store_rows_int_opt(rows, KH_QK_PENDING_PERIOD_DAYS, &pending, &pending_null));
	KH_GUARD(opt_int(rows, KH_QK_NEXT_ROTATION_AT, &k->next_rotation_at));
	KH_GUARD(kh_store_rows_int(rows, KH_QK_CREATED_AT, &k->created_at));
	KH_GUARD(kh_store_rows_int(rows, KH_QK_UPDATED_AT, &k->updated_at));
	KH_GUARD(opt_int(rows, KH_QK_DELETION_AT, &k->deletion_at));
	KH_GUARD(opt_int(rows, KH_QK_DELETED_AT, &k->deleted_at));
	KH_GUARD(kh_store_rows_int(rows, KH_QK_USAGE_COUNT, &count));
	KH_GUARD(opt_int(rows, KH_QK_LAST_USED_AT, &k->last_used_at));
	KH_ENSURE(version >= 1 && version <= UINT32_MAX, KH_ERR_STORAGE);
	KH_ENSURE(period >= 0 && period <= KH_KEY_MAX_ROTATION_DAYS, KH_ERR_STORAGE);
	KH_ENSURE(pending_null || (pending >= 0 && pending <= KH_KEY_MAX_ROTATION_DAYS),
	          KH_ERR_STORAGE);
	KH_ENSURE(count >= 0, KH_ERR_STORAGE);
	k->current_version = (uint32_t)version;
	k->convergent = convergent != 0;
	k->rotation_period_days = (unsigned)period;
	k->pending_period_days = pending_null ? -1 : (int)pending;
	k->usage_count = (uint64_t)count;
	return KH_OK;
}

kh_rc kh_keys_row_decode(struct kh_store_rows *rows, struct kh_key_info *out)
{
	struct kh_key_info k = {0};
	KH_GUARD(decode_numbers(rows, &k));
	KH_GUARD(decode_enums(rows, &k));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QK_TAG, k.tag, sizeof(k.tag)));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QK_NAME, k.name, sizeof(k.name)));
	KH_GUARD(
	    kh_store_rows_text_copy(rows, KH_QK_DESCRIPTION, k.description, sizeof(k.description)));
	*out = k;
	return KH_OK;
}

static kh_rc load_one(struct kh_store_tx *tx, const struct kh_store_query *q,
                      const struct kh_store_val *v, size_t n, struct kh_key_info *out)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_GUARD(kh_store_query_one(tx, q, v, n, &rows, &found));
	kh_rc rc = found ? kh_keys_row_decode(rows, out) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_keys_load(struct kh_store_tx *tx, int64_t keystore_id, const char *tag,
                   struct kh_key_info *out)
{
	KH_ENSURE(tag != NULL && strnlen(tag, KH_KEY_TAG_LEN + 1) == KH_KEY_TAG_LEN,
	          KH_ERR_NOT_FOUND);
	struct kh_store_val v[] = {KH_SV_INT(keystore_id), KH_SV_TEXT(tag)};
	return load_one(tx, &kh_q_key_by_tag, v, KH_SV_COUNT(v), out);
}

kh_rc kh_keys_load_id(struct kh_store_tx *tx, int64_t id, struct kh_key_info *out)
{
	struct kh_store_val v[] = {KH_SV_INT(id)};
	return load_one(tx, &kh_q_key_by_id, v, 1, out);
}

/* ---- authorisation ---- */

static kh_rc roles_of(struct kh_store_tx *tx, int64_t key_id, int64_t account_id,
                      unsigned *out_roles)
{
	kh_rc rc = KH_OK;
	struct kh_store_rows *rows = NULL;
	unsigned roles = 0;
	struct kh_store_val v[] = {KH_SV_INT(key_id), KH_SV_INT(account_id)};
	KH_GUARD(kh_store_query(tx, &kh_q_grant_roles, v, KH_SV_COUNT(v), &rows));
	for (;;) {
		bool more = false;
		struct kh_slice s;
		enum kh_role role;
		KH_GUARD_OUT(kh_store_rows_next(rows, &more));
		if (!more)
			break;
		KH_GUARD_OUT(kh_store_rows_text(rows, 0, &s));
		KH_ENSURE_OUT(kh_role_parse(s, &role) == KH_OK, KH_ERR_STORAGE);
		roles |= KH_ROLE_BIT(role);
	}
	*out_roles = roles;
out:
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_keys_authorize(struct kh_store_tx *tx, const struct kh_principal *p,
                        const struct kh_key_info *key, enum kh_keys_op op)
{
	unsigned roles = 0;
	/* The operator runs the service and never uses or reads tenant keys. */
	KH_ENSURE(p->kind == KH_PRINCIPAL_ACCOUNT, KH_ERR_FORBIDDEN);
	KH_ENSURE(key->keystore_id == p->keystore_id, KH_ERR_NOT_FOUND);
	if ((p->policies & KH_POLICY_KMS_MANAGER) != 0)
		return KH_OK;
	KH_GUARD(roles_of(tx, key->id, p->account_id, &roles));
	KH_ENSURE(roles != 0, KH_ERR_NOT_FOUND);
	/* A deleted key stays readable to its managers only. */
	KH_ENSURE(key->state != KH_KEY_DELETED || (roles & KH_ROLE_BIT(KH_ROLE_MANAGER)) != 0,
	          KH_ERR_NOT_FOUND);
	KH_ENSURE((roles & kh_keys_ops[op].roles) != 0, KH_ERR_FORBIDDEN);
	return KH_OK;
}

/* ---- records ---- */

kh_rc kh_keys_audit(struct kh_keys *k, struct kh_store_tx *tx, const struct kh_principal *p,
                    enum kh_keys_op op, const struct kh_key_info *key, uint32_t version,
                    kh_rc outcome, const char *detail)
{
	return kh_keys_audit_in(k, tx, p, op, 0, key, version, outcome, detail);
}

kh_rc kh_keys_audit_in(struct kh_keys *k, struct kh_store_tx *tx, const struct kh_principal *p,
                       enum kh_keys_op op, int64_t keystore_id, const struct kh_key_info *key,
                       uint32_t version, kh_rc outcome, const char *detail)
{
	char who[KH_PRINCIPAL_NAME_MAX];
	kh_keys_principal_name(p, who, sizeof(who));
	bool tenant = p->kind == KH_PRINCIPAL_ACCOUNT || p->kind == KH_PRINCIPAL_XKS;
	int64_t keystore = key != NULL        ? key->keystore_id
	                   : keystore_id != 0 ? keystore_id
	                   : tenant           ? p->keystore_id
	                                      : 0;
	struct kh_audit_event ev = {
	    .request_id = p->request_id,
	    .principal = who,
	    .source = p->source,
	    .operation = kh_keys_ops[op].name,
	    .keystore_id = keystore,
	    .key_tag = key != NULL ? key->tag : NULL,
	    .version = version,
	    .result = outcome == KH_OK ? "ok" : kh_rc_name(outcome),
	    .detail = detail,
	};
	return kh_audit_append(k->audit, tx, &ev, NULL);
}

/* Reads up to 64 grantee accounts after `after` (one cursor at a time per transaction). */
static kh_rc grantees_page(struct kh_store_tx *tx, int64_t key_id, int64_t after, int64_t *ids,
                           size_t *out_n)
{
	kh_rc rc = KH_OK;
	struct kh_store_rows *rows = NULL;
	size_t n = 0;
	struct kh_store_val v[] = {KH_SV_INT(key_id), KH_SV_INT(after), KH_SV_INT(64)};
	KH_GUARD(kh_store_query(tx, &kh_q_grant_accounts, v, KH_SV_COUNT(v), &rows));
	for (;;) {
		bool row = false;
		KH_GUARD_OUT(kh_store_rows_next(rows, &row));
		if (!row || n == 64)
			break;
		KH_GUARD_OUT(kh_store_rows_int(rows, 0, &ids[n]));
		n++;
	}
	*out_n = n;
out:
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_keys_notify_grantees(struct kh_keys *k, struct kh_store_tx *tx,
                              const struct kh_key_info *key, const char *event, const char *detail)
{
	int64_t ids[64];
	size_t n = 0;
	int64_t after = 0;
	do {
		KH_GUARD(grantees_page(tx, key->id, after, ids, &n));
		for (size_t i = 0; i < n; i++) {
			struct kh_audit_notice notice = {ids[i], event, key->tag, detail};
			KH_GUARD(kh_audit_notify(k->audit, tx, &notice));
			after = ids[i];
		}
	} while (n == 64);
	return KH_OK;
}

struct record_arg {
	struct kh_keys *k;
	const struct kh_principal *p;
	enum kh_keys_op op;
	const struct kh_key_info *key;
	uint32_t version;
	kh_rc outcome;
	int64_t now;
	int64_t keystore_id;
	const char *detail;
};

static kh_rc record_usage(struct record_arg *r, struct kh_store_tx *tx)
{
	char who[KH_PRINCIPAL_NAME_MAX];
	kh_keys_principal_name(r->p, who, sizeof(who));
	struct kh_audit_usage u = {
	    .key_id = r->key->id,
	    .operation = kh_keys_ops[r->op].usage,
	    .version = r->version,
	    .principal = who,
	    .result = r->outcome == KH_OK ? "ok" : kh_rc_name(r->outcome),
	};
	KH_GUARD(kh_audit_usage_append(r->k->audit, tx, &u));
	if (r->outcome != KH_OK)
		return KH_OK;
	struct kh_store_val v[] = {KH_SV_INT(1), KH_SV_INT(r->now), KH_SV_INT(r->key->id)};
	return kh_store_exec(tx, &kh_q_key_add_usage, v, KH_SV_COUNT(v), NULL);
}

static kh_rc record_fn(struct kh_store_tx *tx, void *arg)
{
	struct record_arg *r = arg;
	KH_GUARD(kh_keys_audit_in(r->k, tx, r->p, r->op, r->keystore_id, r->key, r->version,
	                          r->outcome, r->detail));
	if (r->key != NULL && kh_keys_ops[r->op].usage != NULL)
		KH_GUARD(record_usage(r, tx));
	return KH_OK;
}

#define KH_STAGED_TEXT_MAX 80u
static kh_rc stage(struct kh_keys_defer *d, const struct record_arg *r);

kh_rc kh_keys_record(struct kh_keys *k, const struct kh_principal *p, enum kh_keys_op op,
                     const struct kh_key_info *key, uint32_t version, kh_rc outcome)
{
	struct kh_keys_use_record u = {.op = op, .key = key, .version = version};
	return kh_keys_record_use(k, p, &u, outcome);
}

kh_rc kh_keys_record_use(struct kh_keys *k, const struct kh_principal *p,
                         const struct kh_keys_use_record *u, kh_rc outcome)
{
	enum kh_keys_op op = u->op;
	/* Failures of our own (storage, memory, sealed) are not the caller's doing: they are
	 * logged, not audited, and returned as they are. */
	enum kh_rc_class cls = kh_rc_class_of(outcome);
	if (cls == KH_CLASS_STORAGE || cls == KH_CLASS_NOMEM || cls == KH_CLASS_INTERNAL ||
	    cls == KH_CLASS_SEALED) {
		KH_LOG_WARN("key operation failed", KH_LF_STR("operation", kh_keys_ops[op].name),
		            KH_LF_RC(outcome));
		return outcome;
	}
	struct record_arg r = {
	    k,        p, op, u->key, u->version, outcome, kh_clock_now(k->clock), u->keystore_id,
	    u->detail};
	if (p->defer != NULL) {
		KH_GUARD(stage(p->defer, &r));
		return outcome;
	}
	KH_GUARD(kh_store_write(k->store, record_fn, &r));
	return outcome;
}

/* ---- deferred records ---- */

/* Everything a record needs, copied out of the caller's stack. */
struct kh_keys_staged {
	struct kh_keys_staged *next;
	struct record_arg r;
	struct kh_principal p;
	struct kh_key_info key;
	char request_id[KH_STAGED_TEXT_MAX];
	char source[KH_STAGED_TEXT_MAX];
	char xks_access_key[KH_STAGED_TEXT_MAX];
	char detail[]; /* the record's detail, when it has one */
};

static void copy_text(char *dst, const char *src)
{
	if (src == NULL) {
		dst[0] = '\0';
		return;
	}
	size_t n = strnlen(src, KH_STAGED_TEXT_MAX - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static kh_rc stage(struct kh_keys_defer *d, const struct record_arg *r)
{
	size_t detail_len = r->detail != NULL ? strnlen(r->detail, KH_AUDIT_FIELD_MAX) : 0;
	struct kh_keys_staged *st =
	    kh_calloc(1, sizeof(*st) + (r->detail != NULL ? detail_len + 1 : 0));
	KH_ENSURE(st != NULL, KH_ERR_NOMEM);
	st->r = *r;
	st->p = *r->p;
	st->p.defer = NULL;
	copy_text(st->request_id, r->p->request_id);
	copy_text(st->source, r->p->source);
	copy_text(st->xks_access_key, r->p->xks_access_key);
	st->p.request_id = r->p->request_id != NULL ? st->request_id : NULL;
	st->p.source = r->p->source != NULL ? st->source : NULL;
	st->p.xks_access_key = r->p->xks_access_key != NULL ? st->xks_access_key : NULL;
	if (r->detail != NULL) {
		memcpy(st->detail, r->detail, detail_len);
		st->detail[detail_len] = '\0';
		st->r.detail = st->detail;
	}
	st->r.p = &st->p;
	if (r->key != NULL) {
		st->key = *r->key;
		st->r.key = &st->key;
	}
	/* Newest first; committed oldest first (records_fn reverses). */
	st->next = d->head;
	d->head = st;
	d->count++;
	return KH_OK;
}

static void staged_free(struct kh_keys_staged *st)
{
	while (st != NULL) {
		struct kh_keys_staged *next = st->next;
		kh_free(&st);
		st = next;
	}
}

/* Takes the records out of d, oldest first. */
static struct kh_keys_staged *take_staged(struct kh_keys_defer *d)
{
	struct kh_keys_staged *rev = NULL;
	for (struct kh_keys_staged *st = d->head, *next; st != NULL; st = next) {
		next = st->next;
		st->next = rev;
		rev = st;
	}
	*d = (struct kh_keys_defer){0};
	return rev;
}

static kh_rc records_fn(struct kh_store_tx *tx, void *arg)
{
	for (struct kh_keys_staged *st = arg; st != NULL; st = st->next)
		KH_GUARD(record_fn(tx, &st->r));
	return KH_OK;
}

kh_rc kh_keys_defer_flush(struct kh_keys *k, struct kh_keys_defer *d)
{
	KH_ENSURE(k != NULL && d != NULL, KH_ERR_INTERNAL);
	struct kh_keys_staged *list = take_staged(d);
	if (list == NULL)
		return KH_OK;
	kh_rc rc = kh_store_write(k->store, records_fn, list);
	staged_free(list);
	return rc;
}

kh_rc kh_keys_defer_write(struct kh_keys *k, struct kh_store_tx *tx, struct kh_keys_defer *d)
{
	KH_ENSURE(k != NULL && tx != NULL && d != NULL, KH_ERR_INTERNAL);
	struct kh_keys_staged *list = take_staged(d);
	kh_rc rc = records_fn(tx, list);
	staged_free(list);
	return rc;
}

static void commit_done(struct kh_store_async *op, kh_rc rc)
{
	struct kh_keys_commit *c = (struct kh_keys_commit *)op; /* op is its first member */
	staged_free(c->staged);
	c->staged = NULL;
	/* The last use of c: done may free it. */
	c->done(c->arg, rc);
}

void kh_keys_defer_commit(struct kh_keys *k, struct kh_keys_defer *d, struct kh_keys_commit *c,
                          kh_keys_defer_done_fn done, void *arg)
{
	c->staged = take_staged(d);
	c->done = done;
	c->arg = arg;
	c->op = (struct kh_store_async){.fn = records_fn, .arg = c->staged, .done = commit_done};
	kh_store_write_async(k->store, &c->op);
}
