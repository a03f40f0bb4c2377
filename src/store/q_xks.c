// SPDX-License-Identifier: Apache-2.0
/* The statements of XKS key stores and cluster nodes (see kh_store_xks.h). */
#include "store/kh_store_xks.h"

#define STORE_COLUMNS                                                                              \
	"s.id, s.keystore_id, s.prefix, s.region, s.secondary_auth, s.enabled, s.quota_rps,"       \
	" s.created_at, s.updated_at,"                                                             \
	" (SELECT COUNT(*) FROM xks_credentials c WHERE c.store_id = s.id"                         \
	"  AND c.revoked_at IS NULL),"                                                             \
	" (SELECT COUNT(*) FROM xks_keys x WHERE x.store_id = s.id)"

/* The key's own columns (unqualified, as keys/ reads them) joined to its attachment, whose
 * columns are renamed so that no name is ambiguous. */
#define XKS_KEY_SELECT                                                                             \
	"SELECT " KH_Q_KEY_COLUMNS ", xk_store_id, xk_external_key_id, xk_usages, xk_expires_at,"  \
	" xk_administrators, xk_users, xk_created_at, xk_updated_at, xk_enabled,"                  \
	" xk_secondary_auth FROM keys JOIN (SELECT x.key_id AS xk_key_id,"                         \
	" x.store_id AS xk_store_id, x.external_key_id AS xk_external_key_id,"                     \
	" x.usages AS xk_usages, x.expires_at AS xk_expires_at,"                                   \
	" x.administrators AS xk_administrators, x.users AS xk_users,"                             \
	" x.created_at AS xk_created_at, x.updated_at AS xk_updated_at,"                           \
	" s.enabled AS xk_enabled, s.secondary_auth AS xk_secondary_auth"                          \
	" FROM xks_keys x JOIN xks_stores s ON s.id = x.store_id"

const struct kh_store_query kh_q_xks_store_insert = {
    "xks_store.insert",
    "INSERT INTO xks_stores (keystore_id, prefix, region, secondary_auth, enabled, quota_rps,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"};
const struct kh_store_query kh_q_xks_store_get = {
    "xks_store.get", "SELECT " STORE_COLUMNS " FROM xks_stores s WHERE s.id = ?"};
const struct kh_store_query kh_q_xks_store_by_prefix = {
    "xks_store.by_prefix", "SELECT " STORE_COLUMNS " FROM xks_stores s WHERE s.prefix = ?"};
const struct kh_store_query kh_q_xks_store_list = {
    "xks_store.list", "SELECT " STORE_COLUMNS " FROM xks_stores s"
                      " WHERE (?1 = 0 OR s.keystore_id = ?1) AND s.id > ?2 ORDER BY s.id LIMIT ?3"};
const struct kh_store_query kh_q_xks_store_update = {
    "xks_store.update", "UPDATE xks_stores SET region = ?, secondary_auth = ?, enabled = ?,"
                        " quota_rps = ?, updated_at = ? WHERE id = ?"};
const struct kh_store_query kh_q_xks_store_delete = {"xks_store.delete",
                                                     "DELETE FROM xks_stores WHERE id = ?"};

const struct kh_store_query kh_q_xks_cred_insert = {
    "xks_cred.insert",
    "INSERT INTO xks_credentials (access_key_id, store_id, created_at) VALUES (?, ?, ?)"};
const struct kh_store_query kh_q_xks_cred_live = {
    "xks_cred.live", "SELECT created_at FROM xks_credentials WHERE store_id = ?"
                     " AND access_key_id = ? AND revoked_at IS NULL"};
const struct kh_store_query kh_q_xks_cred_list = {
    "xks_cred.list", "SELECT access_key_id, created_at FROM xks_credentials WHERE store_id = ?"
                     " AND revoked_at IS NULL ORDER BY created_at, access_key_id"};
const struct kh_store_query kh_q_xks_cred_revoke = {
    "xks_cred.revoke", "UPDATE xks_credentials SET revoked_at = ? WHERE store_id = ?"
                       " AND access_key_id = ? AND revoked_at IS NULL"};
const struct kh_store_query kh_q_xks_cred_delete_all = {
    "xks_cred.delete_all", "DELETE FROM xks_credentials WHERE store_id = ?"};

const struct kh_store_query kh_q_xks_key_insert = {
    "xks_key.insert",
    "INSERT INTO xks_keys (store_id, external_key_id, key_id, usages, expires_at, administrators,"
    " users, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"};
const struct kh_store_query kh_q_xks_key_get = {
    "xks_key.get", XKS_KEY_SELECT " WHERE x.store_id = ? AND x.external_key_id = ?) AS xk"
                                  " ON keys.id = xk.xk_key_id"};
const struct kh_store_query kh_q_xks_key_list = {
    "xks_key.list", XKS_KEY_SELECT " WHERE x.store_id = ?1 AND x.external_key_id > ?2) AS xk"
                                   " ON keys.id = xk.xk_key_id"
                                   " ORDER BY xk_external_key_id LIMIT ?3"};
const struct kh_store_query kh_q_xks_key_update = {
    "xks_key.update", "UPDATE xks_keys SET usages = ?, expires_at = ?, administrators = ?,"
                      " users = ?, updated_at = ? WHERE store_id = ? AND external_key_id = ?"};
const struct kh_store_query kh_q_xks_key_delete = {
    "xks_key.delete", "DELETE FROM xks_keys WHERE store_id = ? AND external_key_id = ?"};
const struct kh_store_query kh_q_xks_key_of = {
    "xks_key.of", "SELECT store_id, external_key_id FROM xks_keys WHERE key_id = ?"};

const struct kh_store_query kh_q_xks_key_delete_of = {"xks_key.delete_of",
                                                      "DELETE FROM xks_keys WHERE key_id = ?"};

const struct kh_store_query kh_q_node_beat = {
    "node.beat", "INSERT INTO nodes (id, sealed, healthy, seen_at) VALUES (?, ?, ?, ?)"
                 " ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed,"
                 " healthy = excluded.healthy, seen_at = excluded.seen_at"};
const struct kh_store_query kh_q_node_live = {
    "node.live", "SELECT id, sealed, healthy, seen_at FROM nodes WHERE seen_at >= ? ORDER BY id"};
