/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A key's versions and grants a page at a time (API.md "Lists are paged"): a page of exactly
 * the limit is the last, one item more gives a position to go on from, an empty list or a
 * position past the end gives an empty last page; walking pages of every size yields each item
 * once, in order, grants by account and then role name (an account's roles spread over pages
 * too); a position from another key's list only places this key's list, never shows the other
 * key's items; a limit or position out of range is refused and audited like any refusal,
 * after the operator's own refusal; an account id a position cannot hold is a storage error.
 * Every test ends with the audit chain verified.
 */
#include "kh_test_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kh_test_store.h"

#define MAX_ITEMS 64u
#define BIT(role) (1u << (role))

/* An account with an id far above any a store hands out. */
static const struct kh_store_query q_huge_account = {
    "test.huge_account", "INSERT INTO accounts (id, keystore_id, name, policies, created_at)"
                         " VALUES (?, ?, 'huge', 2, 0)"};

struct env {
	struct kh_test_keys *t;
	struct kh_keys *k;
	int64_t ks;
	struct kh_principal mgr;
	struct kh_principal users[6]; /* kms-user accounts to grant roles to */
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->t = kh_test_keys_new(0);
	e->k = e->t->keys;
	e->ks = kh_test_keys_keystore(e->t, "acme");
	e->mgr = kh_test_keys_manager(e->t, e->ks, "admin");
	for (size_t i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof(name), "user%zu", i);
		e->users[i] = kh_test_keys_user(e->t, e->ks, name);
	}
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	kh_test_keys_free(&e->t);
	free(e);
	return 0;
}

/* An AES key with `versions` versions. */
static struct kh_key_info key_with_versions(struct env *e, const char *name, unsigned versions)
{
	struct kh_key_info k = kh_test_keys_create(e->t, &e->mgr, name, KH_KEY_AES_256_GCM);
	for (unsigned v = 1; v < versions; v++)
		assert_int_equal(kh_keys_rotate(e->k, &e->mgr, k.tag, &k), KH_OK);
	assert_int_equal(k.current_version, versions);
	return k;
}

/* ---- collecting a page ---- */

struct page {
	size_t n;
	uint32_t versions[MAX_ITEMS];
	struct kh_key_grant grants[MAX_ITEMS];
	int64_t next;
};

static kh_rc version_fn(const struct kh_key_version_info *v, void *arg)
{
	struct page *pg = arg;
	assert_true(pg->n < MAX_ITEMS);
	pg->versions[pg->n++] = v->version;
	return KH_OK;
}

static kh_rc grant_fn(const struct kh_key_grant *g, void *arg)
{
	struct page *pg = arg;
	assert_true(pg->n < MAX_ITEMS);
	pg->grants[pg->n++] = *g;
	return KH_OK;
}

static kh_rc versions_page(struct env *e, const struct kh_principal *p, const char *tag,
                           int64_t after, unsigned limit, struct page *out)
{
	struct kh_key_page req = {after, limit};
	memset(out, 0, sizeof(*out));
	out->next = -1; /* written only on success */
	return kh_keys_versions(e->k, p, tag, &req, version_fn, out, &out->next);
}

static kh_rc grants_page(struct env *e, const struct kh_principal *p, const char *tag,
                         int64_t after, unsigned limit, struct page *out)
{
	struct kh_key_page req = {after, limit};
	memset(out, 0, sizeof(*out));
	out->next = -1;
	return kh_keys_grants(e->k, p, tag, &req, grant_fn, out, &out->next);
}

/* ---- versions ---- */

static void a_page_of_exactly_the_limit_is_the_last(void **state)
{
	struct env *e = *state;
	struct page pg;
	struct kh_key_info k = key_with_versions(e, "three", 3);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(versions_page(e, &e->mgr, k.tag, 0, 3, &pg), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "key.versions", &e->mgr, KH_OK);
	assert_int_equal(pg.n, 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(pg.versions[i], i + 1);
	assert_int_equal(pg.next, 0);
}

static void one_more_than_the_limit_gives_a_next_page(void **state)
{
	struct env *e = *state;
	struct page pg;
	struct kh_key_info k = key_with_versions(e, "four", 4);
	assert_int_equal(versions_page(e, &e->mgr, k.tag, 0, 3, &pg), KH_OK);
	assert_int_equal(pg.n, 3);
	assert_int_equal(pg.versions[2], 3);
	assert_int_equal(pg.next, 3);
	assert_int_equal(versions_page(e, &e->mgr, k.tag, pg.next, 3, &pg), KH_OK);
	assert_int_equal(pg.n, 1);
	assert_int_equal(pg.versions[0], 4);
	assert_int_equal(pg.next, 0);
}

static void a_position_at_or_past_the_end_gives_an_empty_last_page(void **state)
{
	struct env *e = *state;
	struct page pg;
	struct kh_key_info k = key_with_versions(e, "two", 2);
	static const int64_t afters[] = {2, 3, 1000, (int64_t)UINT32_MAX + 1, INT64_MAX};
	for (size_t i = 0; i < sizeof(afters) / sizeof(afters[0]); i++) {
		assert_int_equal(versions_page(e, &e->mgr, k.tag, afters[i], 10, &pg), KH_OK);
		assert_int_equal(pg.n, 0);
		assert_int_equal(pg.next, 0);
	}
}

static void pages_of_every_size_yield_each_version_once_in_order(void **state)
{
	struct env *e = *state;
	struct page pg;
	struct kh_key_info k = key_with_versions(e, "seven", 7);
	for (unsigned limit = 1; limit <= 8; limit++) {
		uint32_t want = 1;
		int64_t after = 0;
		unsigned pages = 0;
		do {
			assert_int_equal(versions_page(e, &e->mgr, k.tag, after, limit, &pg),
			                 KH_OK);
			for (size_t i = 0; i < pg.n; i++)
				assert_int_equal(pg.versions[i], want++);
			assert_true(pg.n == limit || pg.next == 0);
			after = pg.next;
			pages++;
		} while (after != 0);
		assert_int_equal(want, 8);
		assert_int_equal(pages, (7 + limit - 1) / limit);
	}
	/* A reviewer pages them too; a user with another role may not list them. */
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &e->users[0], KH_ROLE_REVIEWER);
	assert_int_equal(versions_page(e, &e->users[0], k.tag, 4, 2, &pg), KH_OK);
	assert_int_equal(pg.n, 2);
	assert_int_equal(pg.versions[0], 5);
	assert_int_equal(pg.next, 6);
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &e->users[1], KH_ROLE_ENCRYPTOR);
	assert_int_equal(versions_page(e, &e->users[1], k.tag, 4, 2, &pg), KH_ERR_FORBIDDEN);
	assert_int_equal(pg.next, -1);
}

static void a_position_from_another_keys_versions_places_this_keys_list(void **state)
{
	struct env *e = *state;
	struct page pg;
	struct kh_key_info a = key_with_versions(e, "a", 6);
	struct kh_key_info b = key_with_versions(e, "b", 4);
	struct kh_key_info c = key_with_versions(e, "c", 2);
	assert_int_equal(versions_page(e, &e->mgr, a.tag, 0, 3, &pg), KH_OK);
	int64_t from_a = pg.next;
	assert_int_equal(from_a, 3);
	/* On b it is the place after b's version 3: b's version 4, nothing of a's. */
	assert_int_equal(versions_page(e, &e->mgr, b.tag, from_a, 3, &pg), KH_OK);
	assert_int_equal(pg.n, 1);
	assert_int_equal(pg.versions[0], 4);
	assert_int_equal(pg.next, 0);
	/* On c, whose versions all come before it, an empty last page. */
	assert_int_equal(versions_page(e, &e->mgr, c.tag, from_a, 3, &pg), KH_OK);
	assert_int_equal(pg.n, 0);
	assert_int_equal(pg.next, 0);
}

/* ---- grants ---- */

static const char *role_name(enum kh_role r)
{
	return kh_role_name(r);
}

/* Grants on k: user i holds roles[i] (a set of BIT(role)). */
static size_t grant_set(struct env *e, const struct kh_key_info *k, const unsigned *roles,
                        size_t users)
{
	size_t n = 0;
	for (size_t i = 0; i < users; i++)
		for (int r = KH_ROLE_MANAGER; r <= KH_ROLE_MAX; r++)
			if ((roles[i] & BIT(r)) != 0) {
				kh_test_keys_grant(e->t, &e->mgr, k->tag, &e->users[i],
				                   (enum kh_role)r);
				n++;
			}
	return n;
}

/* (account, role name) strictly ascending. */
static bool grant_before(const struct kh_key_grant *x, const struct kh_key_grant *y)
{
	if (x->account_id != y->account_id)
		return x->account_id < y->account_id;
	return strcmp(role_name(x->role), role_name(y->role)) < 0;
}

static void an_empty_grant_list_is_one_empty_last_page(void **state)
{
	struct env *e = *state;
	struct page pg;
	struct kh_key_info k = key_with_versions(e, "lonely", 1);
	assert_int_equal(grants_page(e, &e->mgr, k.tag, 0, 1, &pg), KH_OK);
	assert_int_equal(pg.n, 0);
	assert_int_equal(pg.next, 0);
}

static void grants_page_by_account_then_role_name(void **state)
{
	struct env *e = *state;
	struct page pg;
	struct kh_key_info k = key_with_versions(e, "shared", 1);
	const unsigned all = 0x3e; /* every role, 1..5 */
	const unsigned roles[6] = {all, BIT(KH_ROLE_REVIEWER),
	                           0,   BIT(KH_ROLE_MANAGER) | BIT(KH_ROLE_DECRYPTOR),
	                           all, BIT(KH_ROLE_ENCRYPTOR_DECRYPTOR)};
	size_t total = grant_set(e, &k, roles, 6);
	assert_int_equal(total, 14);

	/* The whole list in one page: the reference order. */
	struct page whole;
	assert_int_equal(grants_page(e, &e->mgr, k.tag, 0, KH_LIMIT_PAGE_MAX, &whole), KH_OK);
	assert_int_equal(whole.n, total);
	assert_int_equal(whole.next, 0);
	for (size_t i = 1; i < whole.n; i++)
		assert_true(grant_before(&whole.grants[i - 1], &whole.grants[i]));
	/* The first account's five roles, by name: decryptor, encryptor, encryptor-decryptor,
	 * manager, reviewer. */
	assert_int_equal(whole.grants[0].role, KH_ROLE_DECRYPTOR);
	assert_int_equal(whole.grants[2].role, KH_ROLE_ENCRYPTOR_DECRYPTOR);
	assert_int_equal(whole.grants[4].role, KH_ROLE_REVIEWER);

	/* Every page size, pages cutting through one account's roles too. */
	for (unsigned limit = 1; limit <= total + 1; limit++) {
		size_t seen = 0;
		int64_t after = 0;
		do {
			assert_int_equal(grants_page(e, &e->mgr, k.tag, after, limit, &pg), KH_OK);
			assert_true(pg.n == limit || pg.next == 0);
			for (size_t i = 0; i < pg.n; i++, seen++) {
				assert_true(seen < total);
				assert_int_equal(pg.grants[i].account_id,
				                 whole.grants[seen].account_id);
				assert_int_equal(pg.grants[i].role, whole.grants[seen].role);
			}
			after = pg.next;
		} while (after != 0);
		assert_int_equal(seen, total);
	}
	/* Exactly the limit: the last page; one more: a next one. */
	assert_int_equal(grants_page(e, &e->mgr, k.tag, 0, (unsigned)total, &pg), KH_OK);
	assert_int_equal(pg.n, total);
	assert_int_equal(pg.next, 0);
	assert_int_equal(grants_page(e, &e->mgr, k.tag, 0, (unsigned)total - 1, &pg), KH_OK);
	assert_int_equal(pg.n, total - 1);
	assert_true(pg.next > 0);
	assert_int_equal(grants_page(e, &e->mgr, k.tag, pg.next, (unsigned)total, &pg), KH_OK);
	assert_int_equal(pg.n, 1);
	assert_int_equal(pg.grants[0].account_id, whole.grants[total - 1].account_id);
	assert_int_equal(pg.next, 0);
}

static void a_position_from_another_keys_grants_places_this_keys_list(void **state)
{
	struct env *e = *state;
	struct page pg;
	struct kh_key_info a = key_with_versions(e, "a", 1);
	struct kh_key_info b = key_with_versions(e, "b", 1);
	const unsigned on_a[3] = {BIT(KH_ROLE_MANAGER) | BIT(KH_ROLE_REVIEWER),
	                          BIT(KH_ROLE_DECRYPTOR), BIT(KH_ROLE_ENCRYPTOR)};
	const unsigned on_b[3] = {BIT(KH_ROLE_ENCRYPTOR) | BIT(KH_ROLE_REVIEWER), 0,
	                          BIT(KH_ROLE_MANAGER)};
	grant_set(e, &a, on_a, 3);
	grant_set(e, &b, on_b, 3);
	/* a's first page ends at (user0, manager). */
	assert_int_equal(grants_page(e, &e->mgr, a.tag, 0, 1, &pg), KH_OK);
	assert_int_equal(pg.grants[0].role, KH_ROLE_MANAGER);
	int64_t from_a = pg.next;
	assert_true(from_a > 0);
	/* On b: what follows (user0, manager) in b's list, b's grants only. */
	assert_int_equal(grants_page(e, &e->mgr, b.tag, from_a, 10, &pg), KH_OK);
	assert_int_equal(pg.n, 2);
	assert_int_equal(pg.grants[0].account_id, e->users[0].account_id);
	assert_int_equal(pg.grants[0].role, KH_ROLE_REVIEWER);
	assert_int_equal(pg.grants[1].account_id, e->users[2].account_id);
	assert_int_equal(pg.grants[1].role, KH_ROLE_MANAGER);
	assert_int_equal(pg.next, 0);
}

/* ---- refusals ---- */

static void out_of_range_pages_are_refused_and_audited(void **state)
{
	struct env *e = *state;
	struct page pg;
	struct kh_key_info k = key_with_versions(e, "k", 2);
	kh_test_keys_grant(e->t, &e->mgr, k.tag, &e->users[0], KH_ROLE_MANAGER);
	static const unsigned bad_limits[] = {0, KH_LIMIT_PAGE_MAX + 1, UINT32_MAX};
	for (size_t i = 0; i < sizeof(bad_limits) / sizeof(bad_limits[0]); i++) {
		int64_t seq = kh_test_keys_audit_last(e->t);
		assert_int_equal(versions_page(e, &e->mgr, k.tag, 0, bad_limits[i], &pg),
		                 KH_ERR_BAD_INPUT);
		kh_test_keys_audit_one(e->t, seq, "key.versions", &e->mgr, KH_ERR_BAD_INPUT);
		assert_int_equal(pg.next, -1);
		seq = kh_test_keys_audit_last(e->t);
		assert_int_equal(grants_page(e, &e->mgr, k.tag, 0, bad_limits[i], &pg),
		                 KH_ERR_BAD_INPUT);
		kh_test_keys_audit_one(e->t, seq, "key.grants", &e->mgr, KH_ERR_BAD_INPUT);
		assert_int_equal(pg.n, 0);
	}
	assert_int_equal(versions_page(e, &e->mgr, k.tag, -1, 10, &pg), KH_ERR_BAD_INPUT);
	assert_int_equal(grants_page(e, &e->mgr, k.tag, -8, 10, &pg), KH_ERR_BAD_INPUT);
	/* Grant positions are account * 8 + role: no role 0, 6 or 7, no account 0. */
	int64_t acct = e->users[0].account_id;
	static const int64_t bad_roles[] = {0, 6, 7};
	for (size_t i = 0; i < sizeof(bad_roles) / sizeof(bad_roles[0]); i++) {
		int64_t seq = kh_test_keys_audit_last(e->t);
		assert_int_equal(grants_page(e, &e->mgr, k.tag, acct * 8 + bad_roles[i], 10, &pg),
		                 KH_ERR_BAD_INPUT);
		kh_test_keys_audit_one(e->t, seq, "key.grants", &e->mgr, KH_ERR_BAD_INPUT);
		assert_int_equal(pg.next, -1);
	}
	assert_int_equal(grants_page(e, &e->mgr, k.tag, KH_ROLE_MANAGER, 10, &pg),
	                 KH_ERR_BAD_INPUT);
	/* A malformed page is refused before the key is looked up: unknown tags too. */
	assert_int_equal(grants_page(e, &e->mgr, "0123456789abcdef0123456789abcdef", 7, 10, &pg),
	                 KH_ERR_BAD_INPUT);
	/* The operator is refused as the operator, whatever the page. */
	struct kh_principal op = kh_test_keys_operator();
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(versions_page(e, &op, k.tag, -1, 0, &pg), KH_ERR_FORBIDDEN);
	kh_test_keys_audit_one(e->t, seq, "key.versions", &op, KH_ERR_FORBIDDEN);
	assert_int_equal(grants_page(e, &op, k.tag, 7, 10, &pg), KH_ERR_FORBIDDEN);
	/* A good position of the right shape for an account holding nothing: empty. */
	assert_int_equal(grants_page(e, &e->mgr, k.tag, acct * 8 + KH_ROLE_REVIEWER, 10, &pg),
	                 KH_OK);
	assert_int_equal(pg.n, 0);
	/* Missing arguments are the caller's bug, refused before anything (not audited). */
	struct kh_key_page req = {0, 10};
	int64_t next = 0;
	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_keys_versions(e->k, &e->mgr, k.tag, NULL, version_fn, &pg, &next),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keys_versions(e->k, &e->mgr, k.tag, &req, version_fn, &pg, NULL),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_keys_grants(e->k, &e->mgr, k.tag, &req, NULL, &pg, &next),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_test_keys_audit_last(e->t), seq);
}

/* Values read back are checked: an account id no position can hold is a damaged store. */
static void an_account_id_a_position_cannot_hold_is_a_storage_error(void **state)
{
	struct env *e = *state;
	struct page pg;
	struct kh_key_info k = key_with_versions(e, "k", 1);
	struct kh_store_val v[] = {KH_SV_INT(KH_KEY_GRANT_ACCOUNT_MAX + 1), KH_SV_INT(e->ks)};
	assert_int_equal(kh_test_sql_exec(e->t->store, &q_huge_account, v, 2), 1);
	assert_int_equal(
	    kh_keys_grant_add(e->k, &e->mgr, k.tag, KH_KEY_GRANT_ACCOUNT_MAX + 1, KH_ROLE_REVIEWER),
	    KH_OK);
	assert_int_equal(grants_page(e, &e->mgr, k.tag, 0, 10, &pg), KH_ERR_STORAGE);
	assert_int_equal(pg.next, -1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(a_page_of_exactly_the_limit_is_the_last),
	    T(one_more_than_the_limit_gives_a_next_page),
	    T(a_position_at_or_past_the_end_gives_an_empty_last_page),
	    T(pages_of_every_size_yield_each_version_once_in_order),
	    T(a_position_from_another_keys_versions_places_this_keys_list),
	    T(an_empty_grant_list_is_one_empty_last_page),
	    T(grants_page_by_account_then_role_name),
	    T(a_position_from_another_keys_grants_places_this_keys_list),
	    T(out_of_range_pages_are_refused_and_audited),
	    T(an_account_id_a_position_cannot_hold_is_a_storage_error),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
