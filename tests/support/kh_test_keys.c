/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The keys test fixture (see kh_test_keys.h).
 */
#include "kh_test_keys.h"

#include "kh_test_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/kh_crypto.h"

static const struct kh_store_query q_audit_max = {"test.audit_max",
                                                  "SELECT COALESCE(MAX(seq), 0) FROM audit"};
static const struct kh_store_query q_sealed_prefix = {
    "test.sealed_prefix", "SELECT COUNT(*) FROM sealed WHERE substr(scope, 1, length(?1)) = ?1"};

struct kh_test_keys *kh_test_keys_new(unsigned cache_max)
{
	struct kh_test_keys *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	assert_int_equal(kh_crypto_init(), KH_OK);
	kh_test_tmpdir(t->dir, sizeof(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/keyhold.db", t->dir);
	kh_clock_fake_init(&t->clock, KH_TEST_KEYS_START_NS);
	t->cache_max = cache_max;
	kh_test_keys_open(t);
	return t;
}

void kh_test_keys_free(struct kh_test_keys **tp)
{
	struct kh_test_keys *t = *tp;
	if (t == NULL)
		return;
	if (t->store != NULL) {
		kh_test_keys_unseal(t);
		kh_test_keys_audit_ok(t);
		kh_test_keys_close(t);
	}
	kh_barrier_shares_free(&t->shares);
	kh_test_rmtree(t->dir);
	free(t);
	*tp = NULL;
}

int kh_test_keys_setup(void **state)
{
	*state = kh_test_keys_new(0);
	return 0;
}

int kh_test_keys_teardown(void **state)
{
	struct kh_test_keys *t = *state;
	kh_test_keys_free(&t);
	return 0;
}

void kh_test_keys_unseal(struct kh_test_keys *t)
{
	struct kh_barrier_progress p;
	assert_int_equal(kh_barrier_unseal(t->barrier, kh_buf_slice(&t->shares->share[0]), &p),
	                 KH_OK);
	assert_false(p.sealed);
}

void kh_test_keys_open(struct kh_test_keys *t)
{
	struct kh_store_options so = {.path = t->path};
	assert_int_equal(kh_store_open(&so, &t->store), KH_OK);
	struct kh_barrier_options bo = {.store = t->store, .clock = &t->clock};
	assert_int_equal(kh_barrier_new(&bo, &t->barrier), KH_OK);
	if (t->shares == NULL)
		assert_int_equal(kh_barrier_init(t->barrier, 1, 1, &t->shares), KH_OK);
	kh_test_keys_unseal(t);
	struct kh_audit_options ao = {.store = t->store, .barrier = t->barrier, .clock = &t->clock};
	assert_int_equal(kh_audit_new(&ao, &t->audit), KH_OK);
	struct kh_keys_options ko = {.store = t->store,
	                             .barrier = t->barrier,
	                             .audit = t->audit,
	                             .clock = &t->clock,
	                             .cache_max = t->cache_max};
	assert_int_equal(kh_keys_new(&ko, &t->keys), KH_OK);
}

/* Keys and audit first (each leaves the barrier's seal listeners), then the barrier (its free
 * seals), then the store under them all. */
void kh_test_keys_close(struct kh_test_keys *t)
{
	kh_keys_free(&t->keys);
	assert_null(t->keys);
	kh_audit_free(&t->audit);
	kh_barrier_free(&t->barrier);
	kh_store_close(&t->store);
	assert_null(t->store);
}

void kh_test_keys_reopen(struct kh_test_keys *t)
{
	kh_test_keys_close(t);
	kh_test_keys_open(t);
}

void kh_test_keys_advance(struct kh_test_keys *t, int64_t delta_ns)
{
	kh_clock_fake_advance(&t->clock, delta_ns);
}

int64_t kh_test_keys_now(struct kh_test_keys *t)
{
	return kh_clock_now(&t->clock);
}

/* ---- principals ---- */

struct kh_principal kh_test_keys_operator(void)
{
	return (struct kh_principal){
	    .kind = KH_PRINCIPAL_OPERATOR, .request_id = "test-request", .source = "127.0.0.1"};
}

int64_t kh_test_keys_keystore(struct kh_test_keys *t, const char *name)
{
	struct kh_principal op = kh_test_keys_operator();
	int64_t id = 0;
	assert_int_equal(kh_keys_keystore_create(t->keys, &op, name, &id), KH_OK);
	assert_true(id > 0);
	return id;
}

struct kh_principal kh_test_keys_account(struct kh_test_keys *t, int64_t keystore_id,
                                         const char *name, unsigned policies)
{
	struct kh_principal op = kh_test_keys_operator();
	int64_t id = 0;
	assert_int_equal(kh_keys_account_create(t->keys, &op, keystore_id, name, policies, &id),
	                 KH_OK);
	assert_true(id > 0);
	return (struct kh_principal){.kind = KH_PRINCIPAL_ACCOUNT,
	                             .account_id = id,
	                             .keystore_id = keystore_id,
	                             .policies = policies,
	                             .request_id = "test-request",
	                             .source = "127.0.0.1"};
}

struct kh_principal kh_test_keys_manager(struct kh_test_keys *t, int64_t keystore_id,
                                         const char *name)
{
	return kh_test_keys_account(t, keystore_id, name, KH_POLICY_KMS_MANAGER);
}

struct kh_principal kh_test_keys_user(struct kh_test_keys *t, int64_t keystore_id, const char *name)
{
	return kh_test_keys_account(t, keystore_id, name, KH_POLICY_KMS_USER);
}

/* ---- keys ---- */

struct kh_key_info kh_test_keys_create_usage(struct kh_test_keys *t, const struct kh_principal *p,
                                             const char *name, enum kh_key_type type,
                                             enum kh_key_usage usage)
{
	struct kh_key_create req = {
	    .name = name, .type = type, .usage = usage, .rotation_period_days = -1};
	struct kh_key_info info;
	memset(&info, 0, sizeof(info));
	assert_int_equal(kh_keys_create(t->keys, p, &req, &info), KH_OK);
	assert_int_equal(strlen(info.tag), KH_KEY_TAG_LEN);
	assert_string_equal(info.name, name);
	assert_int_equal(info.state, KH_KEY_ENABLED);
	assert_int_equal(info.current_version, 1);
	return info;
}

struct kh_key_info kh_test_keys_create(struct kh_test_keys *t, const struct kh_principal *p,
                                       const char *name, enum kh_key_type type)
{
	return kh_test_keys_create_usage(t, p, name, type, 0);
}

struct kh_key_info kh_test_keys_get(struct kh_test_keys *t, const struct kh_principal *p,
                                    const char *tag)
{
	struct kh_key_info info;
	assert_int_equal(kh_keys_get(t->keys, p, tag, &info), KH_OK);
	assert_string_equal(info.tag, tag);
	return info;
}

void kh_test_keys_grant(struct kh_test_keys *t, const struct kh_principal *mgr, const char *tag,
                        const struct kh_principal *to, enum kh_role role)
{
	assert_int_equal(kh_keys_grant_add(t->keys, mgr, tag, to->account_id, role), KH_OK);
}

struct versions_acc {
	struct kh_key_version_info *out;
	size_t max;
	size_t n;
};

static kh_rc versions_fn(const struct kh_key_version_info *v, void *arg)
{
	struct versions_acc *a = arg;
	if (a->n < a->max)
		a->out[a->n] = *v;
	a->n++;
	return KH_OK;
}

size_t kh_test_keys_versions(struct kh_test_keys *t, const struct kh_principal *p, const char *tag,
                             struct kh_key_version_info *out, size_t max)
{
	struct versions_acc a = {out, max, 0};
	struct kh_key_page pg = {0, KH_LIMIT_PAGE_MAX};
	int64_t next = 0;
	do {
		assert_int_equal(kh_keys_versions(t->keys, p, tag, &pg, versions_fn, &a, &next),
		                 KH_OK);
		pg.after = next;
	} while (next != 0);
	return a.n;
}

struct history_acc {
	int64_t *ids;
	char (*ops)[32];
	size_t max;
	size_t n;
};

static kh_rc history_fn(const struct kh_audit_usage_record *r, void *arg)
{
	struct history_acc *a = arg;
	if (a->n < a->max) {
		if (a->ids != NULL)
			a->ids[a->n] = r->id;
		if (a->ops != NULL)
			snprintf(a->ops[a->n], sizeof(a->ops[a->n]), "%s", r->u.operation);
	}
	a->n++;
	return KH_OK;
}

size_t kh_test_keys_history(struct kh_test_keys *t, const struct kh_principal *p, const char *tag,
                            unsigned limit, int64_t *out_ids, char (*out_ops)[32], size_t max)
{
	struct history_acc a = {out_ids, out_ops, max, 0};
	assert_int_equal(kh_keys_history(t->keys, p, tag, limit, history_fn, &a), KH_OK);
	return a.n;
}

struct kh_buf kh_test_keys_encrypt(struct kh_test_keys *t, const struct kh_principal *p,
                                   const char *tag, const char *plaintext)
{
	struct kh_buf out;
	kh_buf_init(&out, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	assert_int_equal(
	    kh_keys_encrypt(t->keys, p, tag, kh_slice_from_cstr(plaintext), KH_SLICE_EMPTY, &out),
	    KH_OK);
	assert_true(out.len > 0);
	return out;
}

kh_rc kh_test_keys_decrypt(struct kh_test_keys *t, const struct kh_principal *p, const char *tag,
                           struct kh_slice text, const char *want)
{
	struct kh_buf out;
	kh_buf_init(&out, KH_LIMIT_PLAINTEXT_BYTES, KH_BUF_SECURE);
	kh_rc rc = kh_keys_decrypt(t->keys, p, tag, text, KH_SLICE_EMPTY, &out);
	if (rc == KH_OK) {
		assert_non_null(want);
		assert_true(kh_slice_eq(kh_buf_slice(&out), kh_slice_from_cstr(want)));
	} else {
		assert_int_equal(out.len, 0);
	}
	kh_buf_cleanup(&out);
	return rc;
}

/* ---- audit and notices ---- */

int64_t kh_test_keys_audit_last(struct kh_test_keys *t)
{
	return kh_test_keys_sql_int(t, &q_audit_max, NULL, 0);
}

struct audit_acc {
	struct kh_test_audit_rec *out;
	size_t max;
	size_t n;
	int64_t last;
};

static void copy_field(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src != NULL ? src : "");
}

static kh_rc audit_fn(const struct kh_audit_record *r, void *arg)
{
	struct audit_acc *a = arg;
	a->last = r->seq;
	if (a->n < a->max) {
		struct kh_test_audit_rec *o = &a->out[a->n];
		o->seq = r->seq;
		o->keystore_id = r->ev.keystore_id;
		o->version = r->ev.version;
		copy_field(o->principal, sizeof(o->principal), r->ev.principal);
		copy_field(o->operation, sizeof(o->operation), r->ev.operation);
		copy_field(o->key_tag, sizeof(o->key_tag), r->ev.key_tag);
		copy_field(o->result, sizeof(o->result), r->ev.result);
		copy_field(o->detail, sizeof(o->detail), r->ev.detail);
	}
	a->n++;
	return KH_OK;
}

size_t kh_test_keys_audit_since(struct kh_test_keys *t, int64_t after_seq,
                                struct kh_test_audit_rec *out, size_t max)
{
	struct audit_acc a = {out, max, 0, after_seq};
	bool more = true;
	while (more) {
		struct kh_audit_filter f = {
		    .keystore_id = -1, .after_seq = a.last, .limit = KH_LIMIT_PAGE_MAX};
		assert_int_equal(kh_audit_list(t->audit, &f, audit_fn, &a, &more), KH_OK);
	}
	return a.n;
}

void kh_test_keys_audit_one(struct kh_test_keys *t, int64_t after_seq, const char *operation,
                            const struct kh_principal *p, kh_rc rc)
{
	struct kh_test_audit_rec r[2];
	char who[48];
	if (p->kind == KH_PRINCIPAL_OPERATOR)
		snprintf(who, sizeof(who), "operator");
	else
		snprintf(who, sizeof(who), "account:%lld", (long long)p->account_id);
	size_t n = kh_test_keys_audit_since(t, after_seq, r, 2);
	if (n != 1) {
		for (size_t i = 0; i < n && i < 2; i++)
			print_error("record %zu: %s by %s: %s\n", i, r[i].operation, r[i].principal,
			            r[i].result);
		fail_msg("%zu audit records for %s, want 1", n, operation);
	}
	assert_string_equal(r[0].operation, operation);
	assert_string_equal(r[0].principal, who);
	assert_string_equal(r[0].result, rc == KH_OK ? "ok" : kh_rc_name(rc));
}

void kh_test_keys_audit_ok(struct kh_test_keys *t)
{
	struct kh_audit_verify_result v;
	memset(&v, 0, sizeof(v));
	assert_int_equal(kh_audit_verify(t->audit, -1, &v), KH_OK);
	assert_true(v.ok);
	assert_int_equal(v.first_bad_seq, 0);
	assert_int_equal(v.checked, (uint64_t)kh_test_keys_audit_last(t));
}

struct inbox_acc {
	const char *event;
	const char *tag;
	size_t n;
};

static kh_rc inbox_fn(const struct kh_audit_notice_record *r, void *arg)
{
	struct inbox_acc *a = arg;
	bool event_ok = a->event == NULL || strcmp(r->n.event, a->event) == 0;
	bool tag_ok = a->tag == NULL || strcmp(r->n.key_tag, a->tag) == 0;
	if (event_ok && tag_ok)
		a->n++;
	return KH_OK;
}

size_t kh_test_keys_inbox_count(struct kh_test_keys *t, int64_t account_id, const char *event,
                                const char *tag)
{
	struct inbox_acc a = {event, tag, 0};
	assert_int_equal(
	    kh_audit_inbox_list(t->audit, account_id, 0, KH_LIMIT_PAGE_MAX, inbox_fn, &a), KH_OK);
	return a.n;
}

/* ---- raw storage ---- */

int64_t kh_test_keys_sql_int(struct kh_test_keys *t, const struct kh_store_query *q,
                             const struct kh_store_val *v, size_t n)
{
	return kh_test_sql_int(t->store, q, v, n);
}

int64_t kh_test_keys_sealed_rows(struct kh_test_keys *t, const struct kh_key_info *key)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "key/%lld/%lld/", (long long)key->keystore_id,
	         (long long)key->id);
	struct kh_store_val v[] = {KH_SV_TEXT(prefix)};
	return kh_test_keys_sql_int(t, &q_sealed_prefix, v, KH_SV_COUNT(v));
}
