// SPDX-License-Identifier: Apache-2.0
/*
 * Usage history: the latest KH_AUDIT_USAGE_KEEP uses of each key, appended with the operation
 * that used the key and trimmed in the same transaction, so a key's history never grows past
 * that however busy the key is.
 */
#include "audit/kh_audit_int.h"
#include "base/kh_mem.h"
#include "store/kh_store_audit.h"

/* The text columns of kh_q_usage_list, in order. */
enum {
	U_OPERATION,
	U_PRINCIPAL,
	U_RESULT,
	U_COUNT
};

kh_rc kh_audit_usage_append(struct kh_audit *a, struct kh_store_tx *tx,
                            const struct kh_audit_usage *u)
{
	struct kh_slice op, principal, result;
	KH_ENSURE(a != NULL && tx != NULL && u != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(u->key_id > 0, KH_ERR_BAD_INPUT);
	KH_GUARD(kh_audit_field(u->operation, true, &op));
	KH_GUARD(kh_audit_field(u->principal, false, &principal));
	KH_GUARD(kh_audit_field(u->result, true, &result));
	struct kh_store_val v[] = {
	    KH_SV_INT(u->key_id),   KH_SV_INT(kh_clock_now(a->clock)),
	    KH_SV_TEXTN(op),        KH_SV_INT(u->version),
	    KH_SV_TEXTN(principal), KH_SV_TEXTN(result),
	};
	KH_GUARD(kh_store_exec(tx, &kh_q_usage_insert, v, KH_SV_COUNT(v), NULL));
	struct kh_store_val t[] = {KH_SV_INT(u->key_id), KH_SV_INT(u->key_id),
	                           KH_SV_INT(KH_AUDIT_USAGE_KEEP - 1)};
	return kh_store_exec(tx, &kh_q_usage_trim, t, KH_SV_COUNT(t), NULL);
}

static kh_rc usage_emit(struct kh_store_rows *rows, int64_t key_id, char *texts,
                        kh_audit_usage_fn fn, void *arg)
{
	struct kh_slice s[U_COUNT];
	int64_t id = 0, at = 0, version = 0;
	KH_GUARD(kh_audit_col_int(rows, 0, false, 1, INT64_MAX, &id));
	KH_GUARD(kh_audit_col_int(rows, 1, false, INT64_MIN, INT64_MAX, &at));
	KH_GUARD(kh_audit_col_text(rows, 2, false, &s[U_OPERATION]));
	KH_GUARD(kh_audit_col_int(rows, 3, true, 0, UINT32_MAX, &version));
	KH_GUARD(kh_audit_col_text(rows, 4, false, &s[U_PRINCIPAL]));
	KH_GUARD(kh_audit_col_text(rows, 5, false, &s[U_RESULT]));
	struct kh_audit_usage_record r = {
	    .id = id,
	    .at = at,
	    .u = {.key_id = key_id,
	          .operation = kh_audit_cstr(s[U_OPERATION], texts),
	          .version = (uint32_t)version,
	          .principal = kh_audit_cstr(s[U_PRINCIPAL], texts + KH_AUDIT_TEXT_SIZE),
	          .result = kh_audit_cstr(s[U_RESULT], texts + 2 * KH_AUDIT_TEXT_SIZE)},
	};
	return fn(&r, arg);
}

static kh_rc usage_rows(struct kh_store_tx *tx, int64_t key_id, unsigned limit, char *texts,
                        kh_audit_usage_fn fn, void *arg)
{
	struct kh_store_rows *rows = NULL;
	bool has_row = false;
	kh_rc rc = KH_OK;
	struct kh_store_val v[] = {KH_SV_INT(key_id), KH_SV_INT(limit)};
	KH_GUARD(kh_store_query(tx, &kh_q_usage_list, v, KH_SV_COUNT(v), &rows));
	for (;;) {
		KH_GUARD_OUT(kh_store_rows_next(rows, &has_row));
		if (!has_row)
			break;
		KH_GUARD_OUT(usage_emit(rows, key_id, texts, fn, arg));
	}
out:
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_audit_usage_list(struct kh_audit *a, struct kh_store_tx *tx, int64_t key_id,
                          unsigned limit, kh_audit_usage_fn fn, void *arg)
{
	KH_ENSURE(a != NULL && tx != NULL && fn != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(key_id > 0, KH_ERR_BAD_INPUT);
	KH_GUARD(kh_audit_limit(limit, KH_AUDIT_USAGE_KEEP));
	char *texts = kh_calloc(U_COUNT, KH_AUDIT_TEXT_SIZE);
	KH_ENSURE(texts != NULL, KH_ERR_NOMEM);
	kh_rc rc = usage_rows(tx, key_id, limit, texts, fn, arg);
	kh_free(&texts);
	return rc;
}

kh_rc kh_audit_usage_purge(struct kh_audit *a, struct kh_store_tx *tx, int64_t key_id)
{
	KH_ENSURE(a != NULL && tx != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(key_id > 0, KH_ERR_BAD_INPUT);
	struct kh_store_val v[] = {KH_SV_INT(key_id)};
	return kh_store_exec(tx, &kh_q_usage_purge, v, KH_SV_COUNT(v), NULL);
}
