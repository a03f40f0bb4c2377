// SPDX-License-Identifier: Apache-2.0
/* The statements of keys/ (see kh_store_keys.h). */
#include "store/kh_store_keys.h"

const struct kh_store_query kh_q_keystore_insert = {
    "keystore.insert", "INSERT INTO keystores (name, created_at) VALUES (?, ?) RETURNING id"};
const struct kh_store_query kh_q_keystore_exists = {"keystore.exists",
                                                    "SELECT id FROM keystores WHERE id = ?"};
const struct kh_store_query kh_q_account_insert = {
    "account.insert", "INSERT INTO accounts (keystore_id, name, policies, created_at)"
                      " VALUES (?, ?, ?, ?) RETURNING id"};
const struct kh_store_query kh_q_account_get = {
    "account.get", "SELECT id, keystore_id, name, policies, created_at FROM accounts WHERE id = ?"};

const struct kh_store_query kh_q_key_insert = {
    "key.insert",
    "INSERT INTO keys (keystore_id, tag, name, type, usage, state, current_version, convergent,"
    " rotation_period_days, next_rotation_at, description, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"};
const struct kh_store_query kh_q_key_by_tag = {
    "key.by_tag", "SELECT " KH_Q_KEY_COLUMNS " FROM keys WHERE keystore_id = ? AND tag = ?"};
const struct kh_store_query kh_q_key_by_id = {"key.by_id",
                                              "SELECT " KH_Q_KEY_COLUMNS " FROM keys WHERE id = ?"};
const struct kh_store_query kh_q_key_list = {
    "key.list", "SELECT " KH_Q_KEY_COLUMNS " FROM keys WHERE keystore_id = ?1"
                " AND (?2 = '' OR state = ?2) AND id > ?3 ORDER BY id LIMIT ?4"};
const struct kh_store_query kh_q_key_list_granted = {
    "key.list_granted", "SELECT " KH_Q_KEY_COLUMNS " FROM keys WHERE keystore_id = ?1"
                        " AND id IN (SELECT key_id FROM grants WHERE account_id = ?2)"
                        " AND (?3 = '' OR state = ?3) AND id > ?4 ORDER BY id LIMIT ?5"};
const struct kh_store_query kh_q_key_set_state = {
    "key.set_state", "UPDATE keys SET state = ?, deletion_at = ?, deleted_at = ?,"
                     " updated_at = ? WHERE id = ?"};
const struct kh_store_query kh_q_key_set_schedule = {
    "key.set_schedule",
    "UPDATE keys SET description = ?, rotation_period_days = ?, pending_period_days = ?,"
    " next_rotation_at = ?, updated_at = ? WHERE id = ?"};
const struct kh_store_query kh_q_key_set_rotation = {
    "key.set_rotation",
    "UPDATE keys SET current_version = ?, rotation_period_days = ?, pending_period_days = ?,"
    " next_rotation_at = ?, updated_at = ? WHERE id = ?"};
const struct kh_store_query kh_q_key_add_usage = {
    "key.add_usage",
    "UPDATE keys SET usage_count = usage_count + ?, last_used_at = ? WHERE id = ?"};
const struct kh_store_query kh_q_key_delete = {"key.delete", "DELETE FROM keys WHERE id = ?"};

const struct kh_store_query kh_q_key_rotation_due = {
    "key.rotation_due", "SELECT id FROM keys WHERE next_rotation_at IS NOT NULL"
                        " AND next_rotation_at <= ? AND state <> 'deleted'"
                        " ORDER BY next_rotation_at LIMIT ?"};
const struct kh_store_query kh_q_key_deletion_due = {
    "key.deletion_due", "SELECT id FROM keys WHERE deletion_at IS NOT NULL"
                        " AND deletion_at <= ? AND state = 'pending-deletion'"
                        " ORDER BY deletion_at LIMIT ?"};
const struct kh_store_query kh_q_key_purge_due = {
    "key.purge_due", "SELECT id FROM keys WHERE deleted_at IS NOT NULL AND deleted_at <= ?"
                     " AND state = 'deleted' ORDER BY deleted_at LIMIT ?"};
const struct kh_store_query kh_q_key_next_due = {
    "key.next_due",
    "SELECT (SELECT MIN(next_rotation_at) FROM keys WHERE next_rotation_at IS NOT NULL"
    "  AND state <> 'deleted'),"
    " (SELECT MIN(deletion_at) FROM keys WHERE deletion_at IS NOT NULL"
    "  AND state = 'pending-deletion'),"
    " (SELECT MIN(deleted_at) FROM keys WHERE deleted_at IS NOT NULL AND state = 'deleted')"};

const struct kh_store_query kh_q_key_count_by_state = {
    "key.count_by_state", "SELECT state, COUNT(*) FROM keys GROUP BY state ORDER BY state"};

const struct kh_store_query kh_q_version_insert = {
    "version.insert", "INSERT INTO key_versions (key_id, version, state, created_at, public_key)"
                      " VALUES (?, ?, ?, ?, ?)"};
const struct kh_store_query kh_q_version_get = {
    "version.get", "SELECT version, state, created_at, public_key, destroyed FROM key_versions"
                   " WHERE key_id = ? AND version = ?"};
const struct kh_store_query kh_q_version_list = {
    "version.list", "SELECT version, state, created_at, destroyed FROM key_versions"
                    " WHERE key_id = ? AND version > ? ORDER BY version LIMIT ?"};
const struct kh_store_query kh_q_version_set_state = {
    "version.set_state", "UPDATE key_versions SET state = ? WHERE key_id = ? AND version = ?"};
const struct kh_store_query kh_q_version_destroy_all = {
    "version.destroy_all",
    "UPDATE key_versions SET destroyed = 1, public_key = NULL WHERE key_id = ?"};
const struct kh_store_query kh_q_version_delete_all = {"version.delete_all",
                                                       "DELETE FROM key_versions WHERE key_id = ?"};

const struct kh_store_query kh_q_grant_insert = {
    "grant.insert",
    "INSERT INTO grants (key_id, account_id, role, created_at) VALUES (?, ?, ?, ?)"};
const struct kh_store_query kh_q_grant_delete = {
    "grant.delete", "DELETE FROM grants WHERE key_id = ? AND account_id = ? AND role = ?"};
const struct kh_store_query kh_q_grant_delete_all = {"grant.delete_all",
                                                     "DELETE FROM grants WHERE key_id = ?"};
/* A row value compares like the ORDER BY, so the primary key index serves both. */
const struct kh_store_query kh_q_grant_list = {
    "grant.list", "SELECT account_id, role, created_at FROM grants WHERE key_id = ?1"
                  " AND (account_id, role) > (?2, ?3) ORDER BY account_id, role LIMIT ?4"};
const struct kh_store_query kh_q_grant_roles = {
    "grant.roles", "SELECT role FROM grants WHERE key_id = ? AND account_id = ?"};
const struct kh_store_query kh_q_grant_count = {"grant.count",
                                                "SELECT COUNT(*) FROM grants WHERE key_id = ?"};
const struct kh_store_query kh_q_grant_accounts = {
    "grant.accounts", "SELECT DISTINCT account_id FROM grants WHERE key_id = ? AND account_id > ?"
                      " ORDER BY account_id LIMIT ?"};
