// SPDX-License-Identifier: Apache-2.0
/*
 * API tokens: issued at random, shown once, stored as HMAC-SHA-256 under a pepper that is a
 * barrier secret, revocable, optionally expiring. The pepper is created with the first token,
 * cached in secure memory while unsealed and dropped at seal.
 *
 * Lookup is by the keyed hash, an index equality in the store: the timing of that lookup can
 * only reveal bits of HMAC(pepper, token), which says nothing about any token to someone who
 * does not hold the pepper.
 *
 * Tokens that authenticated are remembered (by that keyed hash, in a fixed direct-mapped table)
 * so a busy client does not cost two reads per request. Accounts never change once created, so
 * only revocation and seal can make an entry wrong: both empty the table and advance an epoch,
 * and a lookup that read the store before that epoch moved does not fill the table. Expiry is
 * checked on every hit. One process owns the store (ARCHITECTURE.md), so no other writer can
 * revoke behind our back.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "authz/kh_authz.h"
#include "base/kh_codec.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "store/kh_store_authz.h"

#define PEPPER_SCOPE "sys/token-pepper"
#define PEPPER_LEN 32u
#define TOKEN_RANDOM_LEN 32u
#define HASH_LEN 32u
#define AUTH_CACHE_SLOTS 1024u /* a power of two */

struct auth_entry {
	bool used;
	uint8_t hash[HASH_LEN];
	int64_t token_id;
	int64_t expires_at;      /* 0: never */
	struct kh_principal who; /* request_id and source unset */
};

struct kh_authz {
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	struct kh_keys *keys;
	const struct kh_clock *clock;
	pthread_mutex_t mu;
	uint8_t *pepper;         /* secure; NULL until loaded */
	uint64_t seals;          /* seal count: a pepper loaded before a seal is not cached */
	uint64_t epoch;          /* advanced by every revocation and seal */
	struct auth_entry *auth; /* AUTH_CACHE_SLOTS entries */
};

/* ---- pepper ---- */

/* Under mu: forgets every authenticated token. */
static void auth_forget_all(struct kh_authz *a)
{
	a->epoch++;
	memset(a->auth, 0, AUTH_CACHE_SLOTS * sizeof(*a->auth));
}

static void on_seal(void *arg)
{
	struct kh_authz *a = arg;
	pthread_mutex_lock(&a->mu);
	kh_secure_free(&a->pepper);
	a->seals++;
	auth_forget_all(a);
	pthread_mutex_unlock(&a->mu);
}

static bool pepper_cached(struct kh_authz *a, uint8_t out[PEPPER_LEN], uint64_t *out_seals)
{
	pthread_mutex_lock(&a->mu);
	bool have = a->pepper != NULL;
	if (have)
		memcpy(out, a->pepper, PEPPER_LEN);
	*out_seals = a->seals;
	pthread_mutex_unlock(&a->mu);
	return have;
}

static uint64_t seal_count(struct kh_authz *a)
{
	pthread_mutex_lock(&a->mu);
	uint64_t n = a->seals;
	pthread_mutex_unlock(&a->mu);
	return n;
}

static void pepper_cache(struct kh_authz *a, const uint8_t p[PEPPER_LEN], uint64_t seals)
{
	pthread_mutex_lock(&a->mu);
	if (a->pepper == NULL && a->seals == seals) {
		a->pepper = kh_secure_alloc(PEPPER_LEN);
		if (a->pepper != NULL)
			memcpy(a->pepper, p, PEPPER_LEN);
	}
	pthread_mutex_unlock(&a->mu);
}

/* The pepper, from the cache or the barrier; with create (inside a write), made when absent.
 * A pepper created in a transaction is cached only after that transaction commits. */
static kh_rc pepper_get(struct kh_authz *a, struct kh_store_tx *tx, bool create,
                        uint8_t out[PEPPER_LEN], bool *out_created)
{
	kh_rc rc = KH_OK;
	struct kh_buf p;
	uint64_t seals = 0;
	*out_created = false;
	if (pepper_cached(a, out, &seals))
		return KH_OK;
	kh_buf_init(&p, PEPPER_LEN, KH_BUF_SECURE);
	rc = kh_barrier_get(a->barrier, tx, PEPPER_SCOPE, &p);
	if (rc == KH_ERR_NOT_FOUND && create) {
		uint8_t *dst = NULL;
		KH_GUARD_OUT(kh_buf_extend(&p, PEPPER_LEN, &dst));
		KH_GUARD_OUT(kh_rand_secret(dst, PEPPER_LEN));
		kh_buf_commit(&p, PEPPER_LEN);
		KH_GUARD_OUT(kh_barrier_put(a->barrier, tx, PEPPER_SCOPE, kh_buf_slice(&p)));
		*out_created = true;
	} else {
		KH_GUARD_OUT(rc);
	}
	KH_ENSURE_OUT(p.len == PEPPER_LEN, KH_ERR_STORAGE);
	memcpy(out, p.ptr, PEPPER_LEN);
	if (!*out_created)
		pepper_cache(a, out, seals);
out:
	kh_buf_cleanup(&p);
	return rc;
}

static kh_rc token_hash(const uint8_t pepper[PEPPER_LEN], struct kh_slice token,
                        uint8_t out[HASH_LEN])
{
	return kh_hmac(KH_HASH_SHA256, KH_SLICE(pepper, PEPPER_LEN), token, out, HASH_LEN);
}

/* "kh_" + 64 lowercase hex digits, nothing else. */
static bool token_well_formed(struct kh_slice t)
{
	if (t.len != KH_TOKEN_LEN || memcmp(t.ptr, KH_TOKEN_PREFIX, 3) != 0)
		return false;
	for (size_t i = 3; i < t.len; i++) {
		uint8_t c = t.ptr[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

/* ---- issue ---- */

struct issue {
	struct kh_authz *a;
	const struct kh_principal *by;
	int64_t account_id;
	int64_t keystore_id;
	int64_t ttl_seconds;
	struct kh_slice token;
	int64_t id;
	kh_rc outcome;
	bool pepper_created;
	uint8_t pepper[PEPPER_LEN];
};

static kh_rc may_issue(const struct kh_principal *by, int64_t account_id, int64_t keystore_id)
{
	switch (by->kind) {
	case KH_PRINCIPAL_OPERATOR:
	case KH_PRINCIPAL_SYSTEM:
		return KH_OK;
	case KH_PRINCIPAL_ACCOUNT:
		if (account_id != 0 && by->account_id == account_id)
			return KH_OK;
		/* An account of another key store answers as an unknown one, so key stores
		 * cannot probe each other's accounts (as revocation and webhooks do). */
		if (account_id != 0 && by->keystore_id != keystore_id)
			return KH_ERR_NOT_FOUND;
		if (account_id != 0 && (by->policies & KH_POLICY_KMS_MANAGER) != 0)
			return KH_OK;
		return KH_ERR_FORBIDDEN;
	default:
		return KH_ERR_FORBIDDEN;
	}
}

static kh_rc issue_insert(struct kh_store_tx *tx, struct issue *is, int64_t now)
{
	char who[KH_PRINCIPAL_NAME_MAX];
	uint8_t hash[HASH_LEN];
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_GUARD(pepper_get(is->a, tx, true, is->pepper, &is->pepper_created));
	KH_GUARD(token_hash(is->pepper, is->token, hash));
	kh_keys_principal_name(is->by, who, sizeof(who));
	struct kh_store_val v[] = {
	    is->account_id != 0 ? KH_SV_INT(is->account_id) : KH_SV_NULL,
	    KH_SV_BLOB(KH_SLICE(hash, HASH_LEN)),
	    KH_SV_INT(now),
	    is->ttl_seconds != 0 ? KH_SV_INT(now + is->ttl_seconds * KH_NS_PER_SEC) : KH_SV_NULL,
	    KH_SV_TEXT(who),
	};
	KH_GUARD(kh_store_query_one(tx, &kh_q_token_insert, v, KH_SV_COUNT(v), &rows, &found));
	kh_rc rc = found ? kh_store_rows_int(rows, 0, &is->id) : KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	return rc;
}

static kh_rc issue_body(struct kh_store_tx *tx, void *arg)
{
	struct issue *is = arg;
	KH_GUARD(may_issue(is->by, is->account_id, is->keystore_id));
	KH_ENSURE(is->ttl_seconds >= 0 && is->ttl_seconds <= KH_TOKEN_TTL_MAX_SECONDS,
	          KH_ERR_BAD_INPUT);
	return issue_insert(tx, is, kh_clock_now(is->a->clock));
}

static kh_rc audit_token(struct kh_authz *a, struct kh_store_tx *tx, const struct kh_principal *by,
                         const char *operation, int64_t keystore_id, int64_t token_id,
                         int64_t account_id, kh_rc outcome)
{
	char who[KH_PRINCIPAL_NAME_MAX], detail[96];
	kh_keys_principal_name(by, who, sizeof(who));
	snprintf(detail, sizeof(detail), "{\"token\":%lld,\"account\":%lld}", (long long)token_id,
	         (long long)account_id);
	struct kh_audit_event ev = {
	    .request_id = by->request_id,
	    .principal = who,
	    .source = by->source,
	    .operation = operation,
	    .keystore_id = keystore_id,
	    .result = outcome == KH_OK ? "ok" : kh_rc_name(outcome),
	    .detail = detail,
	};
	return kh_audit_append(a->audit, tx, &ev, NULL);
}

static bool our_failure(kh_rc rc)
{
	enum kh_rc_class c = kh_rc_class_of(rc);
	return c == KH_CLASS_STORAGE || c == KH_CLASS_NOMEM || c == KH_CLASS_INTERNAL ||
	       c == KH_CLASS_SEALED;
}

static kh_rc issue_fn(struct kh_store_tx *tx, void *arg)
{
	struct issue *is = arg;
	kh_rc rc = kh_store_tx_try(tx, issue_body, is);
	if (our_failure(rc))
		return rc;
	is->outcome = rc;
	return audit_token(is->a, tx, is->by, "token.issue", is->keystore_id, is->id,
	                   is->account_id, rc);
}

/* Fills the random token text into a secure buffer. */
static kh_rc token_new(struct kh_buf *out)
{
	uint8_t raw[TOKEN_RANDOM_LEN];
	KH_GUARD(kh_buf_append_cstr(out, KH_TOKEN_PREFIX));
	kh_rc rc = kh_rand_secret(raw, sizeof(raw));
	if (rc == KH_OK)
		rc = kh_hex_encode(KH_SLICE(raw, sizeof(raw)), out);
	kh_wipe(raw, sizeof(raw));
	return rc;
}

static kh_rc issue_run(struct kh_authz *a, const struct kh_principal *by, int64_t account_id,
                       int64_t ttl_seconds, int64_t *out_id, struct kh_buf *out_secret)
{
	kh_rc rc = KH_OK;
	struct kh_account acct = {0};
	struct kh_buf token;
	struct issue is = {.a = a, .by = by, .account_id = account_id, .ttl_seconds = ttl_seconds};
	KH_ENSURE((out_secret->flags & KH_BUF_SECURE) != 0, KH_ERR_INTERNAL);
	kh_buf_init(&token, KH_TOKEN_LEN + 1, KH_BUF_SECURE);
	if (account_id != 0) {
		KH_GUARD_OUT(kh_keys_account_get(a->keys, account_id, &acct));
		is.keystore_id = acct.keystore_id;
	}
	KH_GUARD_OUT(token_new(&token));
	is.token = kh_buf_slice(&token);
	uint64_t seals = seal_count(a);
	KH_GUARD_OUT(kh_store_write(a->store, issue_fn, &is));
	KH_GUARD_OUT(is.outcome);
	/* A pepper made in that transaction is cached only now that it is committed. */
	if (is.pepper_created)
		pepper_cache(a, is.pepper, seals);
	KH_GUARD_OUT(kh_buf_append(out_secret, is.token));
	*out_id = is.id;
out:
	kh_wipe(is.pepper, sizeof(is.pepper));
	kh_buf_cleanup(&token);
	return rc;
}

kh_rc kh_authz_token_issue(struct kh_authz *a, const struct kh_principal *by, int64_t account_id,
                           int64_t ttl_seconds, int64_t *out_id, struct kh_buf *out_secret)
{
	KH_ENSURE(by != NULL && by->kind != KH_PRINCIPAL_SYSTEM, KH_ERR_FORBIDDEN);
	KH_ENSURE(account_id >= 0, KH_ERR_NOT_FOUND);
	return issue_run(a, by, account_id, ttl_seconds, out_id, out_secret);
}

kh_rc kh_authz_token_issue_initial(struct kh_authz *a, int64_t *out_id, struct kh_buf *out_secret)
{
	static const struct kh_principal sys = {
	    .kind = KH_PRINCIPAL_SYSTEM, .request_id = "init", .source = ""};
	return issue_run(a, &sys, 0, 0, out_id, out_secret);
}

/* ---- revoke ---- */

struct revoke {
	struct kh_authz *a;
	const struct kh_principal *by;
	int64_t token_id;
	int64_t account_id;
	int64_t keystore_id;
	kh_rc outcome;
};

/* The token's account and that account's key store (0 for operator tokens). */
static kh_rc revoke_load(struct kh_store_tx *tx, struct revoke *r)
{
	struct kh_store_rows *rows = NULL;
	bool found = false, is_null = true, revoked_null = true, ks_null = true;
	int64_t account = 0, revoked = 0, keystore = 0;
	struct kh_store_val v[] = {KH_SV_INT(r->token_id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_token_get, v, 1, &rows, &found));
	kh_rc rc = found ? kh_store_rows_int_opt(rows, 1, &account, &is_null) : KH_ERR_NOT_FOUND;
	if (rc == KH_OK)
		rc = kh_store_rows_int_opt(rows, 2, &revoked, &revoked_null);
	if (rc == KH_OK)
		rc = kh_store_rows_int_opt(rows, 3, &keystore, &ks_null);
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	KH_ENSURE(revoked_null, KH_ERR_NOT_FOUND);
	KH_ENSURE(is_null == ks_null, KH_ERR_STORAGE);
	r->account_id = is_null ? 0 : account;
	r->keystore_id = ks_null ? 0 : keystore;
	return KH_OK;
}

static kh_rc may_revoke(struct revoke *r)
{
	const struct kh_principal *by = r->by;
	if (by->kind == KH_PRINCIPAL_OPERATOR)
		return KH_OK;
	/* Accounts learn nothing of tokens they may not touch: not found. */
	KH_ENSURE(by->kind == KH_PRINCIPAL_ACCOUNT && r->account_id != 0, KH_ERR_NOT_FOUND);
	if (by->account_id == r->account_id)
		return KH_OK;
	KH_ENSURE(by->keystore_id == r->keystore_id && (by->policies & KH_POLICY_KMS_MANAGER) != 0,
	          KH_ERR_NOT_FOUND);
	return KH_OK;
}

static kh_rc revoke_body(struct kh_store_tx *tx, void *arg)
{
	struct revoke *r = arg;
	uint64_t changes = 0;
	KH_GUARD(revoke_load(tx, r));
	KH_GUARD(may_revoke(r));
	struct kh_store_val v[] = {KH_SV_INT(kh_clock_now(r->a->clock)), KH_SV_INT(r->token_id)};
	KH_GUARD(kh_store_exec(tx, &kh_q_token_revoke, v, KH_SV_COUNT(v), &changes));
	return changes == 1 ? KH_OK : KH_ERR_NOT_FOUND;
}

static kh_rc revoke_fn(struct kh_store_tx *tx, void *arg)
{
	struct revoke *r = arg;
	kh_rc rc = kh_store_tx_try(tx, revoke_body, r);
	if (our_failure(rc))
		return rc;
	r->outcome = rc;
	return audit_token(r->a, tx, r->by, "token.revoke", r->keystore_id, r->token_id,
	                   r->account_id, rc);
}

kh_rc kh_authz_token_revoke(struct kh_authz *a, const struct kh_principal *by, int64_t token_id)
{
	struct revoke r = {.a = a, .by = by, .token_id = token_id};
	KH_ENSURE(by != NULL, KH_ERR_FORBIDDEN);
	KH_GUARD(kh_store_write(a->store, revoke_fn, &r));
	if (r.outcome == KH_OK) {
		pthread_mutex_lock(&a->mu);
		auth_forget_all(a);
		pthread_mutex_unlock(&a->mu);
	}
	return r.outcome;
}

/* ---- authenticate ---- */

struct found_token {
	int64_t id;
	int64_t account_id;
	int64_t expires_at;
	bool revoked;
	bool cached;             /* from the table: who is set */
	struct kh_principal who; /* when cached */
};

static struct auth_entry *auth_slot(struct kh_authz *a, const uint8_t hash[HASH_LEN])
{
	/* The hash is an HMAC output: its first bytes are as good an index as any. */
	uint32_t i = (uint32_t)hash[0] | (uint32_t)hash[1] << 8 | (uint32_t)hash[2] << 16;
	return &a->auth[i & (AUTH_CACHE_SLOTS - 1u)];
}

static uint64_t auth_epoch(struct kh_authz *a)
{
	pthread_mutex_lock(&a->mu);
	uint64_t e = a->epoch;
	pthread_mutex_unlock(&a->mu);
	return e;
}

/* A remembered token, found without touching the store when the pepper is cached. */
static bool auth_cached(struct kh_authz *a, struct kh_slice bearer, struct found_token *out)
{
	uint8_t pepper[PEPPER_LEN], hash[HASH_LEN];
	uint64_t seals = 0;
	if (!pepper_cached(a, pepper, &seals))
		return false;
	kh_rc rc = token_hash(pepper, bearer, hash);
	kh_wipe(pepper, sizeof(pepper));
	if (rc != KH_OK)
		return false;
	pthread_mutex_lock(&a->mu);
	const struct auth_entry *e = auth_slot(a, hash);
	bool hit = e->used && kh_ct_eq(KH_SLICE(e->hash, HASH_LEN), KH_SLICE(hash, HASH_LEN));
	if (hit) {
		*out = (struct found_token){.id = e->token_id,
		                            .account_id = e->who.account_id,
		                            .expires_at = e->expires_at,
		                            .cached = true,
		                            .who = e->who};
	}
	pthread_mutex_unlock(&a->mu);
	return hit;
}

/* Remembers a token that authenticated, unless a revocation or seal happened since epoch (the
 * store read may predate it). */
static void auth_remember(struct kh_authz *a, uint64_t epoch, const uint8_t hash[HASH_LEN],
                          const struct found_token *t, const struct kh_principal *who)
{
	pthread_mutex_lock(&a->mu);
	if (a->epoch == epoch) {
		struct auth_entry *e = auth_slot(a, hash);
		*e = (struct auth_entry){
		    .used = true, .token_id = t->id, .expires_at = t->expires_at, .who = *who};
		memcpy(e->hash, hash, HASH_LEN);
		e->who.request_id = NULL;
		e->who.source = NULL;
	}
	pthread_mutex_unlock(&a->mu);
}

static kh_rc token_find(struct kh_authz *a, struct kh_slice bearer, struct found_token *out,
                        uint8_t out_hash[HASH_LEN])
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	uint8_t pepper[PEPPER_LEN];
	bool found = false, created = false, null_account = true, null_exp = true, null_rev = true;
	int64_t revoked = 0;
	KH_GUARD(kh_store_read_begin(a->store, &tx));
	rc = pepper_get(a, tx, false, pepper, &created);
	/* No pepper yet: no token was ever issued. */
	KH_ENSURE_OUT(rc != KH_ERR_NOT_FOUND, KH_ERR_UNAUTHENTICATED);
	KH_GUARD_OUT(rc);
	KH_GUARD_OUT(token_hash(pepper, bearer, out_hash));
	struct kh_store_val v[] = {KH_SV_BLOB(KH_SLICE(out_hash, HASH_LEN))};
	KH_GUARD_OUT(kh_store_query_one(tx, &kh_q_token_by_hash, v, 1, &rows, &found));
	KH_ENSURE_OUT(found, KH_ERR_UNAUTHENTICATED);
	KH_GUARD_OUT(kh_store_rows_int(rows, 0, &out->id));
	KH_GUARD_OUT(kh_store_rows_int_opt(rows, 1, &out->account_id, &null_account));
	KH_GUARD_OUT(kh_store_rows_int_opt(rows, 2, &out->expires_at, &null_exp));
	KH_GUARD_OUT(kh_store_rows_int_opt(rows, 3, &revoked, &null_rev));
	if (null_account)
		out->account_id = 0;
	if (null_exp)
		out->expires_at = 0;
	out->revoked = !null_rev;
out:
	kh_wipe(pepper, sizeof(pepper));
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc;
}

kh_rc kh_authz_authenticate(struct kh_authz *a, struct kh_slice bearer, const char *request_id,
                            const char *source, struct kh_principal *out, int64_t *out_token_id)
{
	struct found_token t = {0};
	struct kh_account acct;
	uint8_t hash[HASH_LEN];
	KH_ENSURE(token_well_formed(bearer), KH_ERR_UNAUTHENTICATED);
	uint64_t epoch = auth_epoch(a);
	if (!auth_cached(a, bearer, &t))
		KH_GUARD(token_find(a, bearer, &t, hash));
	KH_ENSURE(!t.revoked, KH_ERR_UNAUTHENTICATED);
	KH_ENSURE(t.expires_at == 0 || kh_clock_now(a->clock) < t.expires_at,
	          KH_ERR_UNAUTHENTICATED);
	struct kh_principal p = t.who;
	if (!t.cached) {
		p = (struct kh_principal){.kind = KH_PRINCIPAL_OPERATOR};
		if (t.account_id != 0) {
			kh_rc rc = kh_keys_account_get(a->keys, t.account_id, &acct);
			KH_ENSURE(rc != KH_ERR_NOT_FOUND, KH_ERR_UNAUTHENTICATED);
			KH_GUARD(rc);
			p.kind = KH_PRINCIPAL_ACCOUNT;
			p.account_id = acct.id;
			p.keystore_id = acct.keystore_id;
			p.policies = acct.policies;
		}
		auth_remember(a, epoch, hash, &t, &p);
	}
	p.request_id = request_id;
	p.source = source;
	*out = p;
	if (out_token_id != NULL)
		*out_token_id = t.id;
	return KH_OK;
}

/* ---- life cycle ---- */

kh_rc kh_authz_new(const struct kh_authz_options *opts, struct kh_authz **out)
{
	KH_ENSURE(opts != NULL && opts->store != NULL && opts->barrier != NULL &&
	              opts->audit != NULL && opts->keys != NULL && opts->clock != NULL,
	          KH_ERR_BAD_INPUT);
	struct kh_authz *a = kh_calloc(1, sizeof(*a));
	KH_ENSURE(a != NULL, KH_ERR_NOMEM);
	a->store = opts->store;
	a->barrier = opts->barrier;
	a->audit = opts->audit;
	a->keys = opts->keys;
	a->clock = opts->clock;
	a->auth = kh_calloc(AUTH_CACHE_SLOTS, sizeof(*a->auth));
	if (a->auth == NULL) {
		kh_free(&a);
		return KH_ERR_NOMEM;
	}
	pthread_mutex_init(&a->mu, NULL);
	kh_rc rc = kh_barrier_on_seal(a->barrier, on_seal, a);
	if (rc != KH_OK) {
		pthread_mutex_destroy(&a->mu);
		kh_free(&a->auth);
		kh_free(&a);
		return rc;
	}
	*out = a;
	return KH_OK;
}

void kh_authz_free(struct kh_authz **ap)
{
	struct kh_authz *a = *ap;
	if (a == NULL)
		return;
	kh_barrier_off_seal(a->barrier, on_seal, a);
	kh_secure_free(&a->pepper);
	kh_free(&a->auth);
	pthread_mutex_destroy(&a->mu);
	kh_free(ap);
}
