/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who is asking: API tokens and the principals they stand for (API.md "Authentication").
 *
 * A token is "kh_" followed by 64 lowercase hex digits (256 random bits). It is shown once, when
 * issued, and stored only as HMAC-SHA-256(pepper, token), where the pepper is a barrier secret
 * ("sys/token-pepper"), so a copy of the database does not let anyone try tokens offline.
 * Tokens belong to the operator or to one account, may expire (TTL) and can be revoked; each
 * issue and revocation is audited. Authentication needs the barrier unsealed (KH_ERR_SEALED).
 *
 * Thread-safe.
 */
#ifndef KH_AUTHZ_H
#define KH_AUTHZ_H

#include <stdint.h>

#include "keys/kh_keys.h"

#define KH_TOKEN_PREFIX "kh_"
#define KH_TOKEN_LEN 67u /* "kh_" + 64 hex digits */
#define KH_TOKEN_TTL_MAX_SECONDS (INT64_C(10) * 366 * 86400)

struct kh_authz;

struct kh_authz_options {
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	struct kh_keys *keys;
	const struct kh_clock *clock;
};
KH_MUST_CHECK kh_rc kh_authz_new(const struct kh_authz_options *opts, struct kh_authz **out);
/* Free before the barrier it listens to. */
void kh_authz_free(struct kh_authz **a);

/*
 * Issues a token for account_id (0: the operator). Who may: the operator, for the operator or
 * any account; an account, for itself; a kms-manager, for accounts of its key store
 * (KH_ERR_FORBIDDEN otherwise; KH_ERR_NOT_FOUND for an unknown account). ttl_seconds 0: no
 * expiry; at most KH_TOKEN_TTL_MAX_SECONDS. out_secret (KH_BUF_SECURE) gets the token text.
 */
KH_MUST_CHECK kh_rc kh_authz_token_issue(struct kh_authz *a, const struct kh_principal *by,
                                         int64_t account_id, int64_t ttl_seconds, int64_t *out_id,
                                         struct kh_buf *out_secret);
/* The operator's first token, at init: no principal asks yet (audited as the system). */
KH_MUST_CHECK kh_rc kh_authz_token_issue_initial(struct kh_authz *a, int64_t *out_id,
                                                 struct kh_buf *out_secret);
/* Revokes at once. Who may: the operator; an account, its own tokens; a kms-manager, tokens
 * of its key store's accounts. Unknown or already revoked: KH_ERR_NOT_FOUND. */
KH_MUST_CHECK kh_rc kh_authz_token_revoke(struct kh_authz *a, const struct kh_principal *by,
                                          int64_t token_id);

/*
 * Resolves a bearer token into its principal (request_id and source are copied into it as
 * given). KH_ERR_UNAUTHENTICATED for a malformed, unknown, expired or revoked token (the caller
 * cannot tell which), KH_ERR_SEALED while sealed. *out_token_id (optional) gets the token's id.
 */
KH_MUST_CHECK kh_rc kh_authz_authenticate(struct kh_authz *a, struct kh_slice bearer,
                                          const char *request_id, const char *source,
                                          struct kh_principal *out, int64_t *out_token_id);

#endif
