/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The set-up the keys tests share: a fresh store in a temporary directory, a barrier initialised
 * with one share and unsealed, a fake clock, the audit log and the keys context; principals for
 * the operator and for accounts of key stores; and readers for what the tests check besides
 * return codes: audit records since a point, inbox notices, versions, history, test-only SQL and
 * raw bytes in the database files.
 */
#ifndef KH_TEST_KEYS_H
#define KH_TEST_KEYS_H

#include <stdbool.h>

#include "kh_test.h"
#include "keys/kh_keys.h"

#define KH_TEST_KEYS_START_NS (INT64_C(1800000000) * KH_NS_PER_SEC)

struct kh_test_keys {
	char dir[256];
	char path[300];
	struct kh_clock clock;
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_barrier_shares *shares;
	struct kh_audit *audit;
	struct kh_keys *keys;
	unsigned cache_max;
};

/* A fresh fixture (cache_max 0: the default) with the clock at KH_TEST_KEYS_START_NS. */
struct kh_test_keys *kh_test_keys_new(unsigned cache_max);
/* Checks the audit chain, closes everything and removes the directory. */
void kh_test_keys_free(struct kh_test_keys **t);
/* cmocka setup and teardown around kh_test_keys_new(0) / kh_test_keys_free. */
int kh_test_keys_setup(void **state);
int kh_test_keys_teardown(void **state);

/* Opens store, barrier (initialising it the first time), audit and keys, and unseals. */
void kh_test_keys_open(struct kh_test_keys *t);
void kh_test_keys_close(struct kh_test_keys *t);
void kh_test_keys_reopen(struct kh_test_keys *t);
void kh_test_keys_unseal(struct kh_test_keys *t);
void kh_test_keys_advance(struct kh_test_keys *t, int64_t delta_ns);
int64_t kh_test_keys_now(struct kh_test_keys *t);

/* ---- principals ---- */

struct kh_principal kh_test_keys_operator(void);
/* A key store made by the operator. */
int64_t kh_test_keys_keystore(struct kh_test_keys *t, const char *name);
/* An account of the key store made by the operator, as a principal. */
struct kh_principal kh_test_keys_account(struct kh_test_keys *t, int64_t keystore_id,
                                         const char *name, unsigned policies);
struct kh_principal kh_test_keys_manager(struct kh_test_keys *t, int64_t keystore_id,
                                         const char *name);
struct kh_principal kh_test_keys_user(struct kh_test_keys *t, int64_t keystore_id,
                                      const char *name);

/* ---- keys ---- */

/* A key made by p (must succeed): rotation period -1 (90 days), default usage. */
struct kh_key_info kh_test_keys_create(struct kh_test_keys *t, const struct kh_principal *p,
                                       const char *name, enum kh_key_type type);
struct kh_key_info kh_test_keys_create_usage(struct kh_test_keys *t, const struct kh_principal *p,
                                             const char *name, enum kh_key_type type,
                                             enum kh_key_usage usage);
/* The key as p sees it (must succeed). */
struct kh_key_info kh_test_keys_get(struct kh_test_keys *t, const struct kh_principal *p,
                                    const char *tag);
void kh_test_keys_grant(struct kh_test_keys *t, const struct kh_principal *mgr, const char *tag,
                        const struct kh_principal *to, enum kh_role role);
/* Versions as p sees them (must succeed); returns how many. */
size_t kh_test_keys_versions(struct kh_test_keys *t, const struct kh_principal *p, const char *tag,
                             struct kh_key_version_info *out, size_t max);
/* Usage history as p sees it (must succeed), newest first; returns how many. */
size_t kh_test_keys_history(struct kh_test_keys *t, const struct kh_principal *p, const char *tag,
                            unsigned limit, int64_t *out_ids, char (*out_ops)[32], size_t max);
/* Encrypts with empty context (must succeed) into a fresh plain buffer. */
struct kh_buf kh_test_keys_encrypt(struct kh_test_keys *t, const struct kh_principal *p,
                                   const char *tag, const char *plaintext);
/* Decrypts text with empty context; on success checks the plaintext equals want. */
kh_rc kh_test_keys_decrypt(struct kh_test_keys *t, const struct kh_principal *p, const char *tag,
                           struct kh_slice text, const char *want);

/* ---- audit and notices ---- */

struct kh_test_audit_rec {
	int64_t seq;
	int64_t keystore_id;
	uint32_t version;
	char principal[48];
	char operation[48];
	char key_tag[KH_KEY_TAG_LEN + 1];
	char result[48];
	char detail[256];
};
/* Sequence number of the newest audit record (0 when none). */
int64_t kh_test_keys_audit_last(struct kh_test_keys *t);
/* Records after seq, oldest first; returns how many there are (fills at most max). */
size_t kh_test_keys_audit_since(struct kh_test_keys *t, int64_t after_seq,
                                struct kh_test_audit_rec *out, size_t max);
/* Asserts that exactly one record was appended after seq, for operation by principal with
 * result "ok" (rc KH_OK) or kh_rc_name(rc). */
void kh_test_keys_audit_one(struct kh_test_keys *t, int64_t after_seq, const char *operation,
                            const struct kh_principal *p, kh_rc rc);
/* kh_audit_verify says ok. */
void kh_test_keys_audit_ok(struct kh_test_keys *t);
/* Notices of the account's inbox with this event about this key tag (NULL: any event). */
size_t kh_test_keys_inbox_count(struct kh_test_keys *t, int64_t account_id, const char *event,
                                const char *tag);

/* ---- raw storage ---- */

/* Runs a test-only statement (static object) returning one integer. */
int64_t kh_test_keys_sql_int(struct kh_test_keys *t, const struct kh_store_query *q,
                             const struct kh_store_val *v, size_t n);
/* Secrets stored through the barrier for this key (all versions), counted in `sealed`. */
int64_t kh_test_keys_sealed_rows(struct kh_test_keys *t, const struct kh_key_info *key);

#endif
