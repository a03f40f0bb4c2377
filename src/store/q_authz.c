// SPDX-License-Identifier: Apache-2.0
/* The statements of authz/ (see kh_store_authz.h). */
#include "store/kh_store_authz.h"

const struct kh_store_query kh_q_token_insert = {
    "token.insert", "INSERT INTO tokens (account_id, hash, created_at, expires_at, created_by)"
                    " VALUES (?, ?, ?, ?, ?) RETURNING id"};
const struct kh_store_query kh_q_token_by_hash = {
    "token.by_hash", "SELECT id, account_id, expires_at, revoked_at FROM tokens WHERE hash = ?"};
const struct kh_store_query kh_q_token_get = {
    "token.get", "SELECT t.id, t.account_id, t.revoked_at, a.keystore_id FROM tokens t"
                 " LEFT JOIN accounts a ON a.id = t.account_id WHERE t.id = ?"};
const struct kh_store_query kh_q_token_revoke = {
    "token.revoke", "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"};
