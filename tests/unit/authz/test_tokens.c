/* SPDX-License-Identifier: Apache-2.0 */
/*
 * API tokens: the operator's first token; tokens for accounts resolve to their principal; who
 * may issue and revoke; expiry; revocation at once; malformed and unknown tokens look the same;
 * nothing works while sealed; tokens survive a restart; the token text is never stored.
 */
#include "kh_test_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/kh_authz.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

struct env {
	struct kh_test_keys *t;
	struct kh_authz *a;
	int64_t ks, other_ks;
	struct kh_principal op, mgr, user, stranger;
};

static void authz_open(struct env *e)
{
	struct kh_authz_options o = {e->t->store, e->t->barrier, e->t->audit, e->t->keys,
	                             &e->t->clock};
	assert_int_equal(kh_authz_new(&o, &e->a), KH_OK);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->t = kh_test_keys_new(0);
	authz_open(e);
	e->op = kh_test_keys_operator();
	e->ks = kh_test_keys_keystore(e->t, "acme");
	e->other_ks = kh_test_keys_keystore(e->t, "globex");
	e->mgr = kh_test_keys_manager(e->t, e->ks, "admin");
	e->user = kh_test_keys_user(e->t, e->ks, "alice");
	e->stranger = kh_test_keys_manager(e->t, e->other_ks, "boss");
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	kh_authz_free(&e->a);
	assert_null(e->a);
	kh_test_keys_free(&e->t);
	free(e);
	return 0;
}

/* Issues a token (must succeed) into a fresh secure buffer. */
static struct kh_buf issue(struct env *e, const struct kh_principal *by, int64_t account,
                           int64_t ttl, int64_t *out_id)
{
	struct kh_buf tok;
	int64_t id = 0;
	kh_buf_init(&tok, 128, KH_BUF_SECURE);
	assert_int_equal(kh_authz_token_issue(e->a, by, account, ttl, &id, &tok), KH_OK);
	assert_int_equal(tok.len, KH_TOKEN_LEN);
	assert_memory_equal(tok.ptr, KH_TOKEN_PREFIX, 3);
	assert_true(kh_secure_owns(tok.ptr));
	if (out_id != NULL)
		*out_id = id;
	return tok;
}

static kh_rc auth(struct env *e, const struct kh_buf *tok, struct kh_principal *out)
{
	return kh_authz_authenticate(e->a, kh_buf_slice(tok), "req-1", "127.0.0.1", out, NULL);
}

static void the_initial_token_is_the_operators(void **state)
{
	struct env *e = *state;
	struct kh_buf tok;
	struct kh_principal p;
	int64_t id = 0;
	kh_buf_init(&tok, 128, KH_BUF_SECURE);
	assert_int_equal(kh_authz_token_issue_initial(e->a, &id, &tok), KH_OK);
	assert_true(id > 0);
	assert_int_equal(auth(e, &tok, &p), KH_OK);
	assert_int_equal(p.kind, KH_PRINCIPAL_OPERATOR);
	assert_string_equal(p.request_id, "req-1");
	assert_string_equal(p.source, "127.0.0.1");
	kh_buf_cleanup(&tok);
}

static void an_account_token_resolves_to_the_account(void **state)
{
	struct env *e = *state;
	struct kh_principal p;
	struct kh_buf tok = issue(e, &e->op, e->user.account_id, 0, NULL);
	assert_int_equal(auth(e, &tok, &p), KH_OK);
	assert_int_equal(p.kind, KH_PRINCIPAL_ACCOUNT);
	assert_int_equal(p.account_id, e->user.account_id);
	assert_int_equal(p.keystore_id, e->ks);
	assert_int_equal(p.policies, KH_POLICY_KMS_USER);
	/* Two tokens of one account are different and both work. */
	struct kh_buf tok2 = issue(e, &e->op, e->user.account_id, 0, NULL);
	assert_false(kh_slice_eq(kh_buf_slice(&tok), kh_buf_slice(&tok2)));
	assert_int_equal(auth(e, &tok2, &p), KH_OK);
	kh_buf_cleanup(&tok);
	kh_buf_cleanup(&tok2);
}

static void who_may_issue(void **state)
{
	struct env *e = *state;
	struct kh_buf out;
	int64_t id = 0;
	kh_buf_init(&out, 128, KH_BUF_SECURE);
	struct kh_buf a = issue(e, &e->user, e->user.account_id, 0, NULL); /* itself */
	struct kh_buf b = issue(e, &e->mgr, e->user.account_id, 0, NULL);  /* its manager */
	assert_int_equal(kh_authz_token_issue(e->a, &e->user, e->mgr.account_id, 0, &id, &out),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_authz_token_issue(e->a, &e->mgr, 0, 0, &id, &out), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_authz_token_issue(e->a, &e->op, 999999, 0, &id, &out),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_authz_token_issue(e->a, &e->op, e->user.account_id, -1, &id, &out),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_authz_token_issue(e->a, &e->op, e->user.account_id,
	                                      KH_TOKEN_TTL_MAX_SECONDS + 1, &id, &out),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(out.len, 0);
	/* Refusals are audited. */
	struct kh_test_audit_rec recs[1];
	int64_t last = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_authz_token_issue(e->a, &e->user, e->mgr.account_id, 0, &id, &out),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_test_keys_audit_since(e->t, last, recs, 1), 1);
	assert_string_equal(recs[0].operation, "token.issue");
	assert_string_equal(recs[0].result, "KH_ERR_FORBIDDEN");
	kh_buf_cleanup(&a);
	kh_buf_cleanup(&b);
	kh_buf_cleanup(&out);
}

static void malformed_unknown_and_expired_tokens_are_unauthenticated(void **state)
{
	struct env *e = *state;
	struct kh_principal p;
	struct kh_buf tok = issue(e, &e->op, e->user.account_id, 60, NULL);
	assert_int_equal(auth(e, &tok, &p), KH_OK);
	/* One character changed, still well formed: unknown. */
	tok.ptr[10] = tok.ptr[10] == 'a' ? 'b' : 'a';
	assert_int_equal(auth(e, &tok, &p), KH_ERR_UNAUTHENTICATED);
	tok.ptr[10] = 'A'; /* uppercase hex is not our form */
	assert_int_equal(auth(e, &tok, &p), KH_ERR_UNAUTHENTICATED);
	static const char *const bad[] = {"", "kh_", "Bearer x", "kh_00", "xx_" /* + 64 */};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    kh_authz_authenticate(e->a, kh_slice_from_cstr(bad[i]), "r", "s", &p, NULL),
		    KH_ERR_UNAUTHENTICATED);
	kh_buf_cleanup(&tok);
	/* Expiry: valid until the last nanosecond before ttl. */
	tok = issue(e, &e->op, e->user.account_id, 60, NULL);
	kh_test_keys_advance(e->t, 60 * KH_NS_PER_SEC - 1);
	assert_int_equal(auth(e, &tok, &p), KH_OK);
	kh_test_keys_advance(e->t, 1);
	assert_int_equal(auth(e, &tok, &p), KH_ERR_UNAUTHENTICATED);
	kh_buf_cleanup(&tok);
}

/* Found by fuzz/fuzz_api.c: a manager asking for a token of another key store's account got
 * 403, and one of an unknown account 404, so key stores could count each other's accounts. */
static void another_key_stores_account_answers_as_an_unknown_one(void **state)
{
	struct env *e = *state;
	struct kh_buf out;
	int64_t id = 0;
	kh_buf_init(&out, 128, KH_BUF_SECURE);
	assert_int_equal(kh_authz_token_issue(e->a, &e->stranger, e->user.account_id, 0, &id, &out),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_authz_token_issue(e->a, &e->stranger, e->mgr.account_id, 0, &id, &out),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_authz_token_issue(e->a, &e->stranger, 999999, 0, &id, &out),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_authz_token_issue(e->a, &e->user, e->stranger.account_id, 0, &id, &out),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(out.len, 0);
	/* Still audited, as the refusal it is. */
	struct kh_test_audit_rec recs[1];
	int64_t last = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_authz_token_issue(e->a, &e->stranger, e->user.account_id, 0, &id, &out),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_test_keys_audit_since(e->t, last, recs, 1), 1);
	assert_string_equal(recs[0].operation, "token.issue");
	assert_string_equal(recs[0].result, "KH_ERR_NOT_FOUND");
	kh_buf_cleanup(&out);
}

static void revocation_is_immediate_and_limited_to_who_may(void **state)
{
	struct env *e = *state;
	struct kh_principal p;
	int64_t id_user = 0, id_mgr = 0, id_op = 0;
	struct kh_buf tu = issue(e, &e->op, e->user.account_id, 0, &id_user);
	struct kh_buf tm = issue(e, &e->op, e->mgr.account_id, 0, &id_mgr);
	struct kh_buf to = issue(e, &e->op, 0, 0, &id_op);
	/* Each has authenticated (twice: the second from the table of remembered tokens), so
	 * revocation must also forget them. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(auth(e, &tu, &p), KH_OK);
		assert_int_equal(p.account_id, e->user.account_id);
		assert_int_equal(auth(e, &tm, &p), KH_OK);
		assert_int_equal(p.account_id, e->mgr.account_id);
		assert_int_equal(auth(e, &to, &p), KH_OK);
		assert_int_equal(p.kind, KH_PRINCIPAL_OPERATOR);
	}
	/* A remembered token still carries this request's id and address. */
	assert_int_equal(kh_authz_authenticate(e->a, kh_buf_slice(&tu), "req-2", "::1", &p, NULL),
	                 KH_OK);
	assert_string_equal(p.request_id, "req-2");
	assert_string_equal(p.source, "::1");
	assert_int_equal(p.keystore_id, e->user.keystore_id);
	/* Strangers and plain users cannot touch others' tokens, nor learn they exist. */
	assert_int_equal(kh_authz_token_revoke(e->a, &e->stranger, id_user), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_authz_token_revoke(e->a, &e->user, id_mgr), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_authz_token_revoke(e->a, &e->mgr, id_op), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_authz_token_revoke(e->a, &e->op, 424242), KH_ERR_NOT_FOUND);
	/* Refused revocations changed nothing. */
	assert_int_equal(auth(e, &tu, &p), KH_OK);
	/* The key store's manager may revoke its user's token. */
	assert_int_equal(kh_authz_token_revoke(e->a, &e->mgr, id_user), KH_OK);
	assert_int_equal(auth(e, &tu, &p), KH_ERR_UNAUTHENTICATED);
	assert_int_equal(kh_authz_token_revoke(e->a, &e->mgr, id_user), KH_ERR_NOT_FOUND);
	/* An account may revoke its own; the operator any. */
	assert_int_equal(kh_authz_token_revoke(e->a, &e->mgr, id_mgr), KH_OK);
	assert_int_equal(auth(e, &tm, &p), KH_ERR_UNAUTHENTICATED);
	assert_int_equal(kh_authz_token_revoke(e->a, &e->op, id_op), KH_OK);
	assert_int_equal(auth(e, &to, &p), KH_ERR_UNAUTHENTICATED);
	kh_buf_cleanup(&tu);
	kh_buf_cleanup(&tm);
	kh_buf_cleanup(&to);
}

static void tokens_need_the_barrier_and_survive_a_restart(void **state)
{
	struct env *e = *state;
	struct kh_principal p;
	char wal[320];
	struct kh_buf tok = issue(e, &e->op, e->user.account_id, 0, NULL);
	assert_int_equal(kh_barrier_seal(e->t->barrier), KH_OK);
	assert_int_equal(auth(e, &tok, &p), KH_ERR_SEALED);
	kh_test_keys_unseal(e->t);
	assert_int_equal(auth(e, &tok, &p), KH_OK);
	kh_authz_free(&e->a);
	kh_test_keys_reopen(e->t);
	authz_open(e);
	assert_int_equal(auth(e, &tok, &p), KH_OK);
	assert_int_equal(p.account_id, e->user.account_id);
	/* The token text is stored nowhere. */
	snprintf(wal, sizeof(wal), "%s-wal", e->t->path);
	assert_false(kh_test_file_contains(e->t->path, kh_buf_slice(&tok)));
	assert_false(kh_test_file_contains(wal, kh_buf_slice(&tok)));
	kh_buf_cleanup(&tok);
}

int main(void)
{
	assert_int_equal(kh_crypto_init(), KH_OK);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(the_initial_token_is_the_operators, setup, teardown),
	    cmocka_unit_test_setup_teardown(an_account_token_resolves_to_the_account, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(who_may_issue, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        malformed_unknown_and_expired_tokens_are_unauthenticated, setup, teardown),
	    cmocka_unit_test_setup_teardown(another_key_stores_account_answers_as_an_unknown_one,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(revocation_is_immediate_and_limited_to_who_may, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tokens_need_the_barrier_and_survive_a_restart, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
