/* SPDX-License-Identifier: Apache-2.0 */
/* Statements of authz/: API tokens. */
#ifndef KH_STORE_AUTHZ_H
#define KH_STORE_AUTHZ_H

#include "store/kh_store.h"

/* account_id (or NULL: operator), hash, created_at, expires_at (or NULL), created_by -> id */
extern const struct kh_store_query kh_q_token_insert;
/* hash -> id, account_id (NULL: operator), expires_at, revoked_at */
extern const struct kh_store_query kh_q_token_by_hash;
/* id -> id, account_id, revoked_at, the account's keystore_id (NULLs for the operator) */
extern const struct kh_store_query kh_q_token_get;
/* revoked_at, id: only while not revoked */
extern const struct kh_store_query kh_q_token_revoke;

#endif
