/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Statements of keys/ for XKS key stores (kh_keys_xks.h): the stores, their credentials, the
 * keys attached to them, and the nodes of the cluster. Store rows are read in one fixed order,
 * KH_Q_XKS_STORE_COLUMNS; an attached key is read as the key's columns (KH_Q_KEY_COLUMNS, so
 * keys/ decodes it with its own decoder) followed by KH_Q_XKS_KEY_COLUMNS, so the XKS path
 * reads the key, its attachment and its store's switches with one statement.
 */
#ifndef KH_STORE_XKS_H
#define KH_STORE_XKS_H

#include "store/kh_store.h"
#include "store/kh_store_keys.h"

/* Column order of every statement returning a store row (the counts are of live credentials
 * and attached keys). */
enum kh_q_xks_store_col {
	KH_QXS_ID,
	KH_QXS_KEYSTORE_ID,
	KH_QXS_PREFIX,
	KH_QXS_REGION,
	KH_QXS_SECONDARY_AUTH,
	KH_QXS_ENABLED,
	KH_QXS_QUOTA_RPS,
	KH_QXS_CREATED_AT,
	KH_QXS_UPDATED_AT,
	KH_QXS_CREDENTIAL_COUNT,
	KH_QXS_KEY_COUNT,
};

/* After the key columns (KH_QK_*), in this order. */
enum kh_q_xks_key_col {
	KH_QXK_STORE_ID = KH_QK_LAST_USED_AT + 1,
	KH_QXK_EXTERNAL_KEY_ID,
	KH_QXK_USAGES,
	KH_QXK_EXPIRES_AT,
	KH_QXK_ADMINISTRATORS,
	KH_QXK_USERS,
	KH_QXK_CREATED_AT,
	KH_QXK_UPDATED_AT,
	KH_QXK_STORE_ENABLED,
	KH_QXK_STORE_SECONDARY_AUTH,
};

/* keystore_id, prefix, region, secondary_auth, enabled, quota_rps, created_at, updated_at
 * -> id */
extern const struct kh_store_query kh_q_xks_store_insert;
/* id -> store columns */
extern const struct kh_store_query kh_q_xks_store_get;
/* prefix -> store columns */
extern const struct kh_store_query kh_q_xks_store_by_prefix;
/* keystore_id (0: every key store), after_id, limit -> store columns, by id */
extern const struct kh_store_query kh_q_xks_store_list;
/* region, secondary_auth, enabled, quota_rps, updated_at, id */
extern const struct kh_store_query kh_q_xks_store_update;
/* id */
extern const struct kh_store_query kh_q_xks_store_delete;

/* access_key_id, store_id, created_at */
extern const struct kh_store_query kh_q_xks_cred_insert;
/* store_id, access_key_id -> created_at (live credentials only) */
extern const struct kh_store_query kh_q_xks_cred_live;
/* store_id -> access_key_id, created_at (live, oldest first) */
extern const struct kh_store_query kh_q_xks_cred_list;
/* revoked_at, store_id, access_key_id (a live one) */
extern const struct kh_store_query kh_q_xks_cred_revoke;
/* store_id: every credential row of the store */
extern const struct kh_store_query kh_q_xks_cred_delete_all;

/* store_id, external_key_id, key_id, usages, expires_at (or NULL), administrators, users,
 * created_at, updated_at */
extern const struct kh_store_query kh_q_xks_key_insert;
/* store_id, external_key_id -> key columns, XKS key columns */
extern const struct kh_store_query kh_q_xks_key_get;
/* store_id, after external_key_id ('' from the start), limit -> key columns, XKS key columns */
extern const struct kh_store_query kh_q_xks_key_list;
/* usages, expires_at (or NULL), administrators, users, updated_at, store_id, external_key_id */
extern const struct kh_store_query kh_q_xks_key_update;
/* store_id, external_key_id */
extern const struct kh_store_query kh_q_xks_key_delete;
/* key_id -> store_id, external_key_id (the key's attachment, if any) */
extern const struct kh_store_query kh_q_xks_key_of;
/* key_id: removes the key's attachment (purge) */
extern const struct kh_store_query kh_q_xks_key_delete_of;

/* id, sealed, healthy, seen_at: inserts or replaces the node's row */
extern const struct kh_store_query kh_q_node_beat;
/* since -> id, sealed, healthy, seen_at of nodes seen at or after since, by id */
extern const struct kh_store_query kh_q_node_live;

#endif
