/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Statements of keys/: key stores, accounts, keys, versions, grants. The key columns are read
 * in one fixed order, KH_Q_KEY_COLUMNS, so every query that returns keys shares one decoder.
 */
#ifndef KH_STORE_KEYS_H
#define KH_STORE_KEYS_H

#include "store/kh_store.h"

/* Column order of every statement returning a key row. */
#define KH_Q_KEY_COLUMNS                                                                           \
	"id, keystore_id, tag, name, type, usage, state, current_version, convergent,"             \
	" rotation_period_days, pending_period_days, next_rotation_at, description, created_at,"   \
	" updated_at, deletion_at, deleted_at, usage_count, last_used_at"
enum kh_q_key_col {
	KH_QK_ID,
	KH_QK_KEYSTORE_ID,
	KH_QK_TAG,
	KH_QK_NAME,
	KH_QK_TYPE,
	KH_QK_USAGE,
	KH_QK_STATE,
	KH_QK_CURRENT_VERSION,
	KH_QK_CONVERGENT,
	KH_QK_ROTATION_PERIOD_DAYS,
	KH_QK_PENDING_PERIOD_DAYS,
	KH_QK_NEXT_ROTATION_AT,
	KH_QK_DESCRIPTION,
	KH_QK_CREATED_AT,
	KH_QK_UPDATED_AT,
	KH_QK_DELETION_AT,
	KH_QK_DELETED_AT,
	KH_QK_USAGE_COUNT,
	KH_QK_LAST_USED_AT,
};

/* name, created_at -> id */
extern const struct kh_store_query kh_q_keystore_insert;
/* id -> id */
extern const struct kh_store_query kh_q_keystore_exists;
/* keystore_id, name, policies, created_at -> id */
extern const struct kh_store_query kh_q_account_insert;
/* id -> id, keystore_id, name, policies, created_at */
extern const struct kh_store_query kh_q_account_get;

/* keystore_id, tag, name, type, usage, state, current_version, convergent,
 * rotation_period_days, next_rotation_at, description, created_at, updated_at -> id */
extern const struct kh_store_query kh_q_key_insert;
/* keystore_id, tag -> key columns */
extern const struct kh_store_query kh_q_key_by_tag;
/* id -> key columns */
extern const struct kh_store_query kh_q_key_by_id;
/* keystore_id, state ('' = any), after_id, limit -> key columns (all keys of the store) */
extern const struct kh_store_query kh_q_key_list;
/* keystore_id, account_id, state ('' = any), after_id, limit -> key columns (keys the
 * account holds any role on) */
extern const struct kh_store_query kh_q_key_list_granted;
/* state, deletion_at, deleted_at, updated_at, id */
extern const struct kh_store_query kh_q_key_set_state;
/* description, rotation_period_days, pending_period_days, next_rotation_at, updated_at, id */
extern const struct kh_store_query kh_q_key_set_schedule;
/* current_version, rotation_period_days, pending_period_days, next_rotation_at, updated_at, id */
extern const struct kh_store_query kh_q_key_set_rotation;
/* count, last_used_at, id */
extern const struct kh_store_query kh_q_key_add_usage;
/* id */
extern const struct kh_store_query kh_q_key_delete;

/* now, limit -> ids of keys due for rotation */
extern const struct kh_store_query kh_q_key_rotation_due;
/* now, limit -> ids of keys pending deletion whose wait is over */
extern const struct kh_store_query kh_q_key_deletion_due;
/* cutoff, limit -> ids of deleted keys deleted before cutoff */
extern const struct kh_store_query kh_q_key_purge_due;
/* -> earliest next_rotation_at, deletion_at, deleted_at (each may be NULL) */
extern const struct kh_store_query kh_q_key_next_due;
/* -> state, count: keys of every key store by state (metrics) */
extern const struct kh_store_query kh_q_key_count_by_state;

/* key_id, version, state, created_at, public_key (or NULL) */
extern const struct kh_store_query kh_q_version_insert;
/* key_id, version -> version, state, created_at, public_key, destroyed */
extern const struct kh_store_query kh_q_version_get;
/* key_id, after version, limit -> version, state, created_at, destroyed (ascending) */
extern const struct kh_store_query kh_q_version_list;
/* state, key_id, version */
extern const struct kh_store_query kh_q_version_set_state;
/* key_id: marks every version destroyed and forgets public keys */
extern const struct kh_store_query kh_q_version_destroy_all;
/* key_id */
extern const struct kh_store_query kh_q_version_delete_all;

/* key_id, account_id, role, created_at */
extern const struct kh_store_query kh_q_grant_insert;
/* key_id, account_id, role */
extern const struct kh_store_query kh_q_grant_delete;
/* key_id */
extern const struct kh_store_query kh_q_grant_delete_all;
/* key_id, after account_id, after role (both: grants after that one; 0, '': from the start),
 * limit -> account_id, role, created_at (by account_id, then role) */
extern const struct kh_store_query kh_q_grant_list;
/* key_id, account_id -> role */
extern const struct kh_store_query kh_q_grant_roles;
/* key_id -> count */
extern const struct kh_store_query kh_q_grant_count;
/* key_id, after account_id, limit -> distinct account_id (ascending) */
extern const struct kh_store_query kh_q_grant_accounts;

#endif
