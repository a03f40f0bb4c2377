// SPDX-License-Identifier: Apache-2.0
/*
 * Key stores (tenants) and their accounts. The operator creates key stores and their first
 * accounts; a key store's managers may add accounts to it. Authentication (tokens) lives above,
 * in authz/; this file only keeps who belongs where with which policy.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "keys/kh_keys_int.h"
#include "store/kh_store_keys.h"

struct named {
	const char *name;
	int64_t keystore_id;
	unsigned policies;
	int64_t id;
};

static kh_rc insert_returning_id(struct kh_store_tx *tx, const struct kh_store_query *q,
                                 const struct kh_store_val *v, size_t n, int64_t *out)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_GUARD(kh_store_query_one(tx, q, v, n, &rows, &found));
	kh_rc rc = found ? kh_store_rows_int(rows, 0, out) : KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	return rc;
}

static kh_rc keystore_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct named *a = c->arg;
	KH_ENSURE(c->p->kind == KH_PRINCIPAL_OPERATOR, KH_ERR_FORBIDDEN);
	KH_ENSURE(kh_keys_name_valid(a->name), KH_ERR_BAD_INPUT);
	struct kh_store_val v[] = {KH_SV_TEXT(a->name), KH_SV_INT(c->now)};
	KH_GUARD(insert_returning_id(tx, &kh_q_keystore_insert, v, KH_SV_COUNT(v), &a->id));
	snprintf(c->detail, sizeof(c->detail), "{\"keystore\":%lld}", (long long)a->id);
	return KH_OK;
}

kh_rc kh_keys_keystore_create(struct kh_keys *k, const struct kh_principal *p, const char *name,
                              int64_t *out_id)
{
	struct named a = {.name = name};
	struct kh_keys_change c = {
	    .k = k, .p = p, .op = KH_OP_KEYSTORE_CREATE, .apply = keystore_apply, .arg = &a};
	KH_GUARD(kh_keys_change_run(&c));
	*out_id = a.id;
	return KH_OK;
}

kh_rc kh_keys_keystore_exists(struct kh_store_tx *tx, int64_t id)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_keystore_exists, v, 1, &rows, &found));
	kh_store_rows_close(&rows);
	return found ? KH_OK : KH_ERR_NOT_FOUND;
}

bool kh_keys_policy_valid(unsigned policies)
{
	return policies == KH_POLICY_KMS_MANAGER || policies == KH_POLICY_KMS_USER ||
	       policies == KH_POLICY_RA_OFFICER || policies == KH_POLICY_RECOVERY_OFFICER;
}

static kh_rc account_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	struct named *a = c->arg;
	const struct kh_principal *p = c->p;
	bool manager_here = p->kind == KH_PRINCIPAL_ACCOUNT && p->keystore_id == a->keystore_id &&
	                    (p->policies & KH_POLICY_KMS_MANAGER) != 0;
	KH_ENSURE(p->kind == KH_PRINCIPAL_OPERATOR || manager_here, KH_ERR_FORBIDDEN);
	KH_ENSURE(kh_keys_name_valid(a->name), KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_keys_policy_valid(a->policies), KH_ERR_BAD_INPUT);
	KH_GUARD(kh_keys_keystore_exists(tx, a->keystore_id));
	struct kh_store_val v[] = {KH_SV_INT(a->keystore_id), KH_SV_TEXT(a->name),
	                           KH_SV_INT(a->policies), KH_SV_INT(c->now)};
	KH_GUARD(insert_returning_id(tx, &kh_q_account_insert, v, KH_SV_COUNT(v), &a->id));
	snprintf(c->detail, sizeof(c->detail), "{\"keystore\":%lld,\"account\":%lld}",
	         (long long)a->keystore_id, (long long)a->id);
	return KH_OK;
}

kh_rc kh_keys_account_create(struct kh_keys *k, const struct kh_principal *p, int64_t keystore_id,
                             const char *name, unsigned policies, int64_t *out_id)
{
	struct named a = {.name = name, .keystore_id = keystore_id, .policies = policies};
	struct kh_keys_change c = {
	    .k = k, .p = p, .op = KH_OP_ACCOUNT_CREATE, .apply = account_apply, .arg = &a};
	KH_GUARD(kh_keys_change_run(&c));
	*out_id = a.id;
	return KH_OK;
}

kh_rc kh_keys_account_get(struct kh_keys *k, int64_t account_id, struct kh_account *out)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	struct kh_account a = {0};
	bool found = false;
	int64_t policies = 0;
	struct kh_store_val v[] = {KH_SV_INT(account_id)};
	KH_GUARD(kh_store_read_begin(k->store, &tx));
	KH_GUARD_OUT(kh_store_query_one(tx, &kh_q_account_get, v, 1, &rows, &found));
	KH_ENSURE_OUT(found, KH_ERR_NOT_FOUND);
	KH_GUARD_OUT(kh_store_rows_int(rows, 0, &a.id));
	KH_GUARD_OUT(kh_store_rows_int(rows, 1, &a.keystore_id));
	KH_GUARD_OUT(kh_store_rows_text_copy(rows, 2, a.name, sizeof(a.name)));
	KH_GUARD_OUT(kh_store_rows_int(rows, 3, &policies));
	KH_GUARD_OUT(kh_store_rows_int(rows, 4, &a.created_at));
	KH_ENSURE_OUT(policies >= 0 && policies <= UINT_MAX &&
	                  kh_keys_policy_valid((unsigned)policies),
	              KH_ERR_STORAGE);
	a.policies = (unsigned)policies;
	*out = a;
out:
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc;
}
