/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit log: records follow the documented canonical form and chain; verify finds every
 * kind of tampering (edited field, edited hash, deleted, reordered, forged records, a cut-off
 * tail, a missing or forged head, a damaged row, a deleted key) at the right sequence number,
 * and appends after tampering never hide it; verification scoped to a key store counts only its
 * records and places a break only at one of them; the audit key is a barrier secret (sealed means
 * KH_ERR_SEALED), never stored in clear, and survives restart; a record rolls back with the
 * write it belongs to without leaving a gap; field limits; listing with filters and paging;
 * concurrent appends; allocation failures.
 */
#include "audit_fixture.h"

#include <pthread.h>

#include "base/kh_limits.h"

/* Test-only statements: the attacker with write access to the database file. */
static const struct kh_store_query q_set_result = {"test.set_result",
                                                   "UPDATE audit SET result = ? WHERE seq = ?"};
static const struct kh_store_query q_set_detail = {"test.set_detail",
                                                   "UPDATE audit SET detail = ? WHERE seq = ?"};
static const struct kh_store_query q_set_keystore = {
    "test.set_keystore", "UPDATE audit SET keystore_id = ? WHERE seq = ?"};
static const struct kh_store_query q_set_at_text = {
    "test.set_at_text", "UPDATE audit SET at = 'yesterday' WHERE seq = ?"};
static const struct kh_store_query q_set_hash = {"test.set_hash",
                                                 "UPDATE audit SET hash = ? WHERE seq = ?"};
static const struct kh_store_query q_get_hash = {"test.get_hash",
                                                 "SELECT hash FROM audit WHERE seq = ?"};
static const struct kh_store_query q_renumber = {"test.renumber",
                                                 "UPDATE audit SET seq = ? WHERE seq = ?"};
static const struct kh_store_query q_delete = {"test.delete", "DELETE FROM audit WHERE seq = ?"};
static const struct kh_store_query q_forge = {
    "test.forge", "INSERT INTO audit (seq, at, request_id, principal, source, operation,"
                  " keystore_id, key_tag, version, result, detail, hash)"
                  " VALUES (?, 0, 'r', 'operator', '', 'sys.seal', 0, NULL, 0, 'ok', '', ?)"};
static const struct kh_store_query q_delete_head = {"test.delete_head",
                                                    "DELETE FROM meta WHERE name = 'audit.head'"};
static const struct kh_store_query q_set_head = {
    "test.set_head", "UPDATE meta SET value = ? WHERE name = 'audit.head'"};
static const struct kh_store_query q_get_head = {
    "test.get_head", "SELECT value FROM meta WHERE name = 'audit.head'"};
static const struct kh_store_query q_delete_key = {
    "test.delete_key", "DELETE FROM sealed WHERE scope = 'sys/audit-key'"};
static const struct kh_store_query q_count_key = {
    "test.count_key", "SELECT COUNT(*) FROM sealed WHERE scope = 'sys/audit-key'"};
static const struct kh_store_query q_count = {"test.count", "SELECT COUNT(*) FROM audit"};
static const struct kh_store_query q_row = {
    "test.row", "SELECT at, keystore_id, key_tag, version FROM audit WHERE seq = ?"};

/* ---- helpers ---- */

struct append_op {
	struct kh_audit *a;
	const struct kh_audit_event *ev;
	unsigned times;  /* appends in the one write (default 1) */
	kh_rc fail_with; /* what the write function returns after appending */
	int64_t seq;
};

static kh_rc append_fn(struct kh_store_tx *tx, void *arg)
{
	struct append_op *op = arg;
	unsigned n = op->times == 0 ? 1 : op->times;
	for (unsigned i = 0; i < n; i++)
		KH_GUARD(kh_audit_append(op->a, tx, op->ev, &op->seq));
	return op->fail_with;
}

static kh_rc append(struct fixture *f, const struct kh_audit_event *ev, int64_t *out_seq)
{
	struct append_op op = {.a = f->a, .ev = ev};
	kh_rc rc = kh_store_write(f->store, append_fn, &op);
	if (rc == KH_OK && out_seq != NULL)
		*out_seq = op.seq;
	return rc;
}

static const struct kh_audit_event ev_ok = {
    .request_id = "req",
    .principal = "operator",
    .source = "127.0.0.1",
    .operation = "sys.status",
    .result = "ok",
};

/* Appends n varied records, one second apart, checking their sequence numbers. */
static void seed(struct fixture *f, int n)
{
	for (int i = 1; i <= n; i++) {
		char req[32], tag[32], detail[32];
		snprintf(req, sizeof(req), "req-%d", i);
		snprintf(tag, sizeof(tag), "key-%d", i);
		snprintf(detail, sizeof(detail), "{\"i\":%d}", i);
		struct kh_audit_event ev = {
		    .request_id = req,
		    .principal = i % 2 ? "account:12" : "operator",
		    .source = "192.0.2.7",
		    .operation = i % 2 ? "key.encrypt" : "sys.status",
		    .keystore_id = i % 2 ? 7 : 0,
		    .key_tag = i % 2 ? tag : NULL,
		    .version = i % 2 ? 3u : 0u,
		    .result = "ok",
		    .detail = detail,
		};
		int64_t seq = 0;
		kh_clock_fake_advance(&f->clock, KH_NS_PER_SEC);
		assert_int_equal(append(f, &ev, &seq), KH_OK);
		assert_int_equal(seq, i);
	}
}

static void expect_ok(struct fixture *f, uint64_t checked)
{
	struct kh_audit_verify_result r;
	assert_int_equal(kh_audit_verify(f->a, -1, &r), KH_OK);
	assert_true(r.ok);
	assert_int_equal(r.checked, checked);
	assert_int_equal(r.first_bad_seq, 0);
}

static void expect_bad(struct fixture *f, uint64_t first_bad)
{
	struct kh_audit_verify_result r;
	assert_int_equal(kh_audit_verify(f->a, -1, &r), KH_OK);
	assert_false(r.ok);
	assert_int_equal(r.first_bad_seq, first_bad);
	/* Everything before the first bad record verified. */
	assert_int_equal(r.checked, first_bad - 1);
}

static void get_hash(struct fixture *f, int64_t seq, uint8_t out[32])
{
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	struct kh_slice h;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(seq)};
	assert_int_equal(kh_store_read_begin(f->store, &tx), KH_OK);
	assert_int_equal(kh_store_query_one(tx, &q_get_hash, v, 1, &rows, &found), KH_OK);
	assert_true(found);
	assert_int_equal(kh_store_rows_blob(rows, 0, &h), KH_OK);
	assert_int_equal(h.len, 32);
	memcpy(out, h.ptr, 32);
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
}

static void set_hash(struct fixture *f, int64_t seq, const uint8_t hash[32], size_t len)
{
	struct kh_store_val v[] = {KH_SV_BLOB(KH_SLICE(hash, len)), KH_SV_INT(seq)};
	assert_int_equal(fx_exec(f, &q_set_hash, v, 2), 1);
}

static void renumber(struct fixture *f, int64_t from, int64_t to)
{
	struct kh_store_val v[] = {KH_SV_INT(to), KH_SV_INT(from)};
	assert_int_equal(fx_exec(f, &q_renumber, v, 2), 1);
}

static void delete_seq(struct fixture *f, int64_t seq)
{
	struct kh_store_val v[] = {KH_SV_INT(seq)};
	assert_int_equal(fx_exec(f, &q_delete, v, 1), 1);
}

/* Reads the audit key the way an insider with the unsealed barrier could (secure buffer). */
static void read_audit_key(struct fixture *f, uint8_t out[32])
{
	struct kh_store_tx *tx = NULL;
	struct kh_buf k;
	kh_buf_init(&k, 64, KH_BUF_SECURE);
	assert_int_equal(kh_store_read_begin(f->store, &tx), KH_OK);
	assert_int_equal(kh_barrier_get(f->b, tx, "sys/audit-key", &k), KH_OK);
	kh_store_read_end(&tx);
	assert_int_equal(k.len, 32);
	memcpy(out, k.ptr, 32);
	kh_buf_cleanup(&k);
}

/* ---- format ---- */

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void canon_field(struct kh_buf *b, const char *s)
{
	uint8_t len[4];
	size_t n = s == NULL ? 0 : strlen(s);
	put_be(len, n, 4);
	assert_int_equal(kh_buf_append(b, KH_SLICE(len, 4)), KH_OK);
	assert_int_equal(kh_buf_append(b, KH_SLICE(s, n)), KH_OK);
}

/* canonical(record), written out from the header's description, independently of audit.c. */
static void canonical(struct kh_buf *b, int64_t seq, int64_t at, const struct kh_audit_event *ev)
{
	uint8_t fixed[28];
	assert_int_equal(kh_buf_append(b, KH_SLICE("keyhold/v1/audit", 17)), KH_OK);
	put_be(fixed, (uint64_t)seq, 8);
	put_be(fixed + 8, (uint64_t)at, 8);
	put_be(fixed + 16, (uint64_t)ev->keystore_id, 8);
	put_be(fixed + 24, ev->version, 4);
	assert_int_equal(kh_buf_append(b, KH_SLICE(fixed, sizeof(fixed))), KH_OK);
	canon_field(b, ev->request_id);
	canon_field(b, ev->principal);
	canon_field(b, ev->source);
	canon_field(b, ev->operation);
	canon_field(b, ev->key_tag);
	canon_field(b, ev->result);
	canon_field(b, ev->detail);
}

static void chain_hash(const uint8_t key[32], const uint8_t prev[32], int64_t seq, int64_t at,
                       const struct kh_audit_event *ev, uint8_t out[32])
{
	struct kh_buf b;
	kh_buf_init(&b, 1u << 16, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&b, KH_SLICE(prev, 32)), KH_OK);
	canonical(&b, seq, at, ev);
	assert_int_equal(kh_hmac(KH_HASH_SHA256, KH_SLICE(key, 32), kh_buf_slice(&b), out, 32),
	                 KH_OK);
	kh_buf_cleanup(&b);
}

static void records_follow_the_documented_format(void **state)
{
	struct fixture *f = *state;
	const struct kh_audit_event full = {
	    .request_id = "req-1",
	    .principal = "account:12",
	    .source = "10.0.0.1",
	    .operation = "key.encrypt",
	    .keystore_id = 3,
	    .key_tag = "tag-abc",
	    .version = 2,
	    .result = "ok",
	    .detail = "{\"n\":1}",
	};
	const struct kh_audit_event minimal = {.operation = "sys.seal", .result = "Forbidden"};
	int64_t seq = 0;
	assert_int_equal(append(f, &full, &seq), KH_OK);
	assert_int_equal(seq, 1);
	kh_clock_fake_advance(&f->clock, 1500);
	assert_int_equal(append(f, &minimal, &seq), KH_OK);
	assert_int_equal(seq, 2);

	uint8_t key[32], zero[32] = {0}, h1[32], h2[32], got[32];
	read_audit_key(f, key);
	chain_hash(key, zero, 1, FX_START_NS, &full, h1);
	chain_hash(key, h1, 2, FX_START_NS + 1500, &minimal, h2);
	get_hash(f, 1, got);
	assert_memory_equal(got, h1, 32);
	get_hash(f, 2, got);
	assert_memory_equal(got, h2, 32);

	/* audit.head = seq (8) | hash (32) | HMAC(key, "head" | seq | hash) */
	uint8_t head[72], mac_in[44];
	put_be(head, 2, 8);
	memcpy(head + 8, h2, 32);
	memcpy(mac_in, "head", 4);
	memcpy(mac_in + 4, head, 40);
	assert_int_equal(
	    kh_hmac(KH_HASH_SHA256, KH_SLICE(key, 32), KH_SLICE(mac_in, 44), head + 40, 32), KH_OK);
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	struct kh_slice v;
	bool found = false;
	assert_int_equal(kh_store_read_begin(f->store, &tx), KH_OK);
	assert_int_equal(kh_store_query_one(tx, &q_get_head, NULL, 0, &rows, &found), KH_OK);
	assert_true(found);
	assert_int_equal(kh_store_rows_blob(rows, 0, &v), KH_OK);
	assert_int_equal(v.len, 72);
	assert_memory_equal(v.ptr, head, 72);
	kh_store_rows_close(&rows);

	/* The time is the clock's; an absent key tag is stored as NULL. */
	struct kh_store_val p[] = {KH_SV_INT(2)};
	int64_t i = 0;
	assert_int_equal(kh_store_query_one(tx, &q_row, p, 1, &rows, &found), KH_OK);
	assert_true(found);
	assert_int_equal(kh_store_rows_int(rows, 0, &i), KH_OK);
	assert_int_equal(i, FX_START_NS + 1500);
	assert_true(kh_store_rows_is_null(rows, 2));
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	kh_wipe(key, sizeof(key));
	expect_ok(f, 2);
}

static void an_empty_log_verifies(void **state)
{
	struct fixture *f = *state;
	expect_ok(f, 0);
}

static void appended_records_verify(void **state)
{
	struct fixture *f = *state;
	seed(f, 9);
	expect_ok(f, 9);
	assert_int_equal(fx_int(f, &q_count, NULL, 0), 9);
}

/* ---- tampering ---- */

static void an_edited_result_is_detected(void **state)
{
	struct fixture *f = *state;
	seed(f, 5);
	struct kh_store_val v[] = {KH_SV_TEXT("Forbidden"), KH_SV_INT(3)};
	assert_int_equal(fx_exec(f, &q_set_result, v, 2), 1);
	expect_bad(f, 3);
}

static void an_edited_detail_is_detected(void **state)
{
	struct fixture *f = *state;
	seed(f, 5);
	struct kh_store_val v[] = {KH_SV_TEXT("{\"i\":99}"), KH_SV_INT(2)};
	assert_int_equal(fx_exec(f, &q_set_detail, v, 2), 1);
	expect_bad(f, 2);
}

static void an_edited_keystore_is_detected(void **state)
{
	struct fixture *f = *state;
	seed(f, 5);
	struct kh_store_val v[] = {KH_SV_INT(8), KH_SV_INT(5)};
	assert_int_equal(fx_exec(f, &q_set_keystore, v, 2), 1);
	expect_bad(f, 5);
}

static void an_edited_hash_is_detected(void **state)
{
	struct fixture *f = *state;
	uint8_t h[32];
	seed(f, 5);
	get_hash(f, 4, h);
	h[31] ^= 1;
	set_hash(f, 4, h, 32);
	expect_bad(f, 4);
}

static void a_hash_of_the_wrong_length_is_a_bad_record(void **state)
{
	struct fixture *f = *state;
	uint8_t h[32];
	seed(f, 5);
	get_hash(f, 2, h);
	set_hash(f, 2, h, 31);
	expect_bad(f, 2);
}

static void a_damaged_last_record_does_not_stop_appends(void **state)
{
	struct fixture *f = *state;
	uint8_t h[32];
	int64_t seq = 0;
	seed(f, 3);
	get_hash(f, 3, h);
	set_hash(f, 3, h, 31);
	/* The authentic head says where the chain is. */
	assert_int_equal(append(f, &ev_ok, &seq), KH_OK);
	assert_int_equal(seq, 4);
	expect_bad(f, 3);
	set_hash(f, 3, h, 32);
	expect_ok(f, 4);
	/* With the head gone too nothing says where the chain is: appending stops. */
	set_hash(f, 4, h, 31);
	assert_int_equal(fx_exec(f, &q_delete_head, NULL, 0), 1);
	assert_int_equal(append(f, &ev_ok, &seq), KH_ERR_STORAGE);
	assert_int_equal(fx_int(f, &q_count, NULL, 0), 4);
}

static void a_value_of_the_wrong_type_is_a_bad_record(void **state)
{
	struct fixture *f = *state;
	seed(f, 5);
	struct kh_store_val v[] = {KH_SV_INT(3)};
	assert_int_equal(fx_exec(f, &q_set_at_text, v, 1), 1);
	expect_bad(f, 3);
}

static void a_deleted_middle_record_is_detected(void **state)
{
	struct fixture *f = *state;
	seed(f, 5);
	delete_seq(f, 3);
	expect_bad(f, 3);
}

static void a_deleted_first_record_is_detected(void **state)
{
	struct fixture *f = *state;
	seed(f, 5);
	delete_seq(f, 1);
	expect_bad(f, 1);
}

static void a_deleted_last_record_is_detected_by_the_head(void **state)
{
	struct fixture *f = *state;
	seed(f, 5);
	delete_seq(f, 5);
	expect_bad(f, 5);
}

static void a_deleted_tail_stays_detected_after_more_appends(void **state)
{
	struct fixture *f = *state;
	int64_t seq = 0;
	seed(f, 5);
	delete_seq(f, 5);
	delete_seq(f, 4);
	/* The next record continues after the authentic head, leaving the gap visible. */
	assert_int_equal(append(f, &ev_ok, &seq), KH_OK);
	assert_int_equal(seq, 6);
	expect_bad(f, 4);
}

static void swapped_records_are_detected(void **state)
{
	struct fixture *f = *state;
	seed(f, 5);
	/* Whole rows, hashes included, change places. */
	renumber(f, 2, -2);
	renumber(f, 4, 2);
	renumber(f, -2, 4);
	expect_bad(f, 2);
}

static void swapped_contents_under_kept_hashes_are_detected(void **state)
{
	struct fixture *f = *state;
	uint8_t h2[32], h4[32];
	seed(f, 5);
	get_hash(f, 2, h2);
	get_hash(f, 4, h4);
	renumber(f, 2, -2);
	renumber(f, 4, 2);
	renumber(f, -2, 4);
	set_hash(f, 2, h2, 32);
	set_hash(f, 4, h4, 32);
	expect_bad(f, 2);
}

static void renumbered_records_are_detected(void **state)
{
	struct fixture *f = *state;
	seed(f, 5);
	renumber(f, 5, 6);
	expect_bad(f, 5);
}

static void a_forged_record_is_detected(void **state)
{
	struct fixture *f = *state;
	uint8_t h[32];
	seed(f, 5);
	get_hash(f, 5, h); /* a plausible hash: the last real one */
	struct kh_store_val v[] = {KH_SV_INT(6), KH_SV_BLOB(KH_SLICE(h, 32))};
	assert_int_equal(fx_exec(f, &q_forge, v, 2), 1);
	expect_bad(f, 6);
}

/* ---- verification scoped to a key store ---- */

/* kh_audit_verify for one scope; seed() puts odd records in key store 7, even ones in 0. */
static void expect_scoped(struct fixture *f, int64_t scope, bool ok, uint64_t checked,
                          uint64_t first_bad)
{
	struct kh_audit_verify_result r;
	assert_int_equal(kh_audit_verify(f->a, scope, &r), KH_OK);
	assert_int_equal(r.ok, ok);
	assert_int_equal(r.checked, checked);
	assert_int_equal(r.first_bad_seq, first_bad);
}

static void a_scope_counts_only_its_own_records(void **state)
{
	struct fixture *f = *state;
	struct kh_audit_verify_result r;
	seed(f, 9);
	expect_scoped(f, -1, true, 9, 0);
	expect_scoped(f, 7, true, 5, 0);
	expect_scoped(f, 0, true, 4, 0);
	expect_scoped(f, 8, true, 0, 0); /* a key store without records */
	assert_int_equal(kh_audit_verify(f->a, -2, &r), KH_ERR_BAD_INPUT);
}

static void a_break_elsewhere_is_reported_to_a_scope_without_its_place(void **state)
{
	struct fixture *f = *state;
	seed(f, 9);
	struct kh_store_val v[] = {KH_SV_TEXT("KH_ERR_FORBIDDEN"), KH_SV_INT(4)};
	assert_int_equal(fx_exec(f, &q_set_result, v, 2), 1);
	/* Record 4 is the system's: key store 7 learns that the chain is broken, and that its
	 * records 1 and 3 verified before the break, but not where the break is. */
	expect_scoped(f, 7, false, 2, 0);
	expect_scoped(f, 0, false, 1, 4);
	expect_scoped(f, -1, false, 3, 4);
}

static void a_break_in_a_scopes_own_record_is_reported_to_it(void **state)
{
	struct fixture *f = *state;
	seed(f, 9);
	struct kh_store_val v[] = {KH_SV_TEXT("{\"i\":99}"), KH_SV_INT(5)};
	assert_int_equal(fx_exec(f, &q_set_detail, v, 2), 1);
	expect_scoped(f, 7, false, 2, 5);
	expect_scoped(f, 0, false, 2, 0);
	expect_scoped(f, -1, false, 4, 5);
}

static void a_record_moved_to_another_key_store_is_reported_to_that_one(void **state)
{
	struct fixture *f = *state;
	seed(f, 9);
	/* The bad record is named to the key store it claims to be of, as the list shows it. */
	struct kh_store_val v[] = {KH_SV_INT(8), KH_SV_INT(5)};
	assert_int_equal(fx_exec(f, &q_set_keystore, v, 2), 1);
	expect_scoped(f, 8, false, 0, 5);
	expect_scoped(f, 7, false, 2, 0);
}

static void missing_records_are_not_placed_for_a_scope(void **state)
{
	struct fixture *f = *state;
	seed(f, 9);
	/* Whose the deleted record was, nothing left can say. */
	delete_seq(f, 5);
	expect_scoped(f, 7, false, 2, 0);
	expect_scoped(f, 0, false, 2, 0);
	expect_scoped(f, -1, false, 4, 5);
}

static void a_cut_off_tail_is_not_placed_for_a_scope(void **state)
{
	struct fixture *f = *state;
	seed(f, 9);
	/* Found by the head, which is nobody's record. */
	delete_seq(f, 9);
	expect_scoped(f, 7, false, 4, 0);
	expect_scoped(f, -1, false, 8, 9);
}

static void a_damaged_row_is_not_placed_for_a_scope(void **state)
{
	struct fixture *f = *state;
	uint8_t h[32];
	seed(f, 9);
	get_hash(f, 3, h);
	set_hash(f, 3, h, 31);
	expect_scoped(f, 7, false, 1, 0);
	expect_scoped(f, -1, false, 2, 3);
}

static void a_deleted_head_is_detected_and_stays_detected(void **state)
{
	struct fixture *f = *state;
	int64_t seq = 0;
	seed(f, 3);
	assert_int_equal(fx_exec(f, &q_delete_head, NULL, 0), 1);
	expect_bad(f, 4);
	/* Appending goes on but writes no fresh head that would hide a cut-off tail. */
	assert_int_equal(append(f, &ev_ok, &seq), KH_OK);
	assert_int_equal(seq, 4);
	expect_bad(f, 5);
}

static void a_forged_head_is_detected(void **state)
{
	struct fixture *f = *state;
	uint8_t forged[72] = {0};
	seed(f, 3);
	put_be(forged, 3, 8);
	get_hash(f, 3, forged + 8); /* the right seq and hash, but no valid MAC */
	struct kh_store_val v[] = {KH_SV_BLOB(KH_SLICE(forged, sizeof(forged)))};
	assert_int_equal(fx_exec(f, &q_set_head, v, 1), 1);
	expect_bad(f, 4);
	/* A head of the wrong length. */
	struct kh_store_val w[] = {KH_SV_BLOB(KH_SLICE(forged, 40))};
	assert_int_equal(fx_exec(f, &q_set_head, w, 1), 1);
	expect_bad(f, 4);
}

static void a_deleted_audit_key_fails_every_record(void **state)
{
	struct fixture *f = *state;
	int64_t seq = 0;
	seed(f, 3);
	assert_int_equal(fx_exec(f, &q_delete_key, NULL, 0), 1);
	expect_bad(f, 1);
	/* A new key is made for new records; the old ones still cannot verify. */
	assert_int_equal(append(f, &ev_ok, &seq), KH_OK);
	assert_int_equal(seq, 4);
	expect_bad(f, 1);
}

/* ---- the key and the barrier ---- */

static void the_audit_key_is_a_barrier_secret(void **state)
{
	struct fixture *f = *state;
	int64_t seq = 0;
	struct kh_audit_verify_result r;
	assert_int_equal(fx_int(f, &q_count_key, NULL, 0), 0);
	seed(f, 3);
	assert_int_equal(fx_int(f, &q_count_key, NULL, 0), 1);
	assert_int_equal(kh_barrier_seal(f->b), KH_OK);
	/* The cached key went with the seal. */
	assert_int_equal(append(f, &ev_ok, &seq), KH_ERR_SEALED);
	assert_int_equal(kh_audit_verify(f->a, -1, &r), KH_ERR_SEALED);
	assert_int_equal(fx_int(f, &q_count, NULL, 0), 3);
	fx_unseal(f);
	expect_ok(f, 3);
	assert_int_equal(append(f, &ev_ok, &seq), KH_OK);
	assert_int_equal(seq, 4);
	expect_ok(f, 4);
}

static void sealed_before_the_first_record_is_sealed(void **state)
{
	struct fixture *f = *state;
	struct kh_audit_verify_result r;
	assert_int_equal(kh_barrier_seal(f->b), KH_OK);
	assert_int_equal(append(f, &ev_ok, NULL), KH_ERR_SEALED);
	assert_int_equal(kh_audit_verify(f->a, -1, &r), KH_ERR_SEALED);
	assert_int_equal(fx_int(f, &q_count_key, NULL, 0), 0);
}

static void the_chain_survives_restart(void **state)
{
	struct fixture *f = *state;
	int64_t seq = 0;
	seed(f, 3);
	fx_close(f);
	fx_open(f);
	expect_ok(f, 3);
	assert_int_equal(append(f, &ev_ok, &seq), KH_OK);
	assert_int_equal(seq, 4);
	fx_close(f);
	fx_open(f);
	expect_ok(f, 4);
}

static void a_failed_write_takes_its_record_with_it(void **state)
{
	struct fixture *f = *state;
	int64_t seq = 0;
	/* The very first append creates the key: it rolls back too. */
	struct append_op op = {.a = f->a, .ev = &ev_ok, .times = 2, .fail_with = KH_ERR_CONFLICT};
	assert_int_equal(kh_store_write(f->store, append_fn, &op), KH_ERR_CONFLICT);
	assert_int_equal(fx_int(f, &q_count, NULL, 0), 0);
	assert_int_equal(fx_int(f, &q_count_key, NULL, 0), 0);
	assert_int_equal(append(f, &ev_ok, &seq), KH_OK);
	assert_int_equal(seq, 1);
	op.times = 1;
	assert_int_equal(kh_store_write(f->store, append_fn, &op), KH_ERR_CONFLICT);
	assert_int_equal(append(f, &ev_ok, &seq), KH_OK);
	assert_int_equal(seq, 2);
	expect_ok(f, 2);
	/* Without any cached key: the records were chained under the key that was kept. */
	fx_close(f);
	fx_open(f);
	expect_ok(f, 2);
}

static void the_audit_key_is_never_stored_in_clear(void **state)
{
	struct fixture *f = *state;
	uint8_t key[32], h1[32];
	char wal[320];
	seed(f, 5);
	read_audit_key(f, key);
	get_hash(f, 1, h1);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_false(kh_test_file_contains(f->path, KH_SLICE(key, 32)) ||
	             kh_test_file_contains(wal, KH_SLICE(key, 32)));
	fx_close(f); /* checkpoints the WAL into the file */
	assert_false(kh_test_file_contains(f->path, KH_SLICE(key, 32)) ||
	             kh_test_file_contains(wal, KH_SLICE(key, 32)));
	/* The scan does see what is stored: the first record's hash. */
	assert_true(kh_test_file_contains(f->path, KH_SLICE(h1, 32)));
	kh_wipe(key, sizeof(key));
}

/* ---- input ---- */

static void fields_are_bounded(void **state)
{
	struct fixture *f = *state;
	char big[KH_AUDIT_FIELD_MAX + 2], max[KH_AUDIT_FIELD_MAX + 1];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(max, 'y', sizeof(max) - 1);
	max[sizeof(max) - 1] = '\0';
	struct kh_audit_event ev = ev_ok;
	const char **fields[] = {&ev.request_id, &ev.principal, &ev.source, &ev.operation,
	                         &ev.key_tag,    &ev.result,    &ev.detail};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		ev = ev_ok;
		*fields[i] = big;
		assert_int_equal(append(f, &ev, NULL), KH_ERR_TOO_LARGE);
	}
	ev = ev_ok;
	ev.operation = NULL;
	assert_int_equal(append(f, &ev, NULL), KH_ERR_BAD_INPUT);
	ev.operation = "";
	assert_int_equal(append(f, &ev, NULL), KH_ERR_BAD_INPUT);
	ev = ev_ok;
	ev.result = "";
	assert_int_equal(append(f, &ev, NULL), KH_ERR_BAD_INPUT);
	ev = ev_ok;
	ev.keystore_id = -1;
	assert_int_equal(append(f, &ev, NULL), KH_ERR_BAD_INPUT);
	assert_int_equal(fx_int(f, &q_count, NULL, 0), 0);
	/* Exactly the maximum in every field is fine. */
	struct kh_audit_event full = {max, max, max, max, 1, max, UINT32_MAX, max, max};
	int64_t seq = 0;
	assert_int_equal(append(f, &full, &seq), KH_OK);
	assert_int_equal(seq, 1);
	expect_ok(f, 1);
}

/* ---- list ---- */

#define LIST_MAX 16

struct listed {
	size_t count;
	int64_t seq[LIST_MAX];
	char key_tag[LIST_MAX][32];
	kh_rc fail_with;
};

static kh_rc collect(const struct kh_audit_record *r, void *arg)
{
	struct listed *l = arg;
	assert_true(l->count < LIST_MAX);
	assert_non_null(r->ev.key_tag);
	snprintf(l->key_tag[l->count], sizeof(l->key_tag[0]), "%s", r->ev.key_tag);
	l->seq[l->count++] = r->seq;
	return l->fail_with;
}

static void expect_list(struct fixture *f, struct kh_audit_filter flt, bool more,
                        const int64_t *want, size_t want_count)
{
	struct listed l = {0};
	bool got_more = !more;
	assert_int_equal(kh_audit_list(f->a, &flt, collect, &l, &got_more), KH_OK);
	assert_int_equal(l.count, want_count);
	for (size_t i = 0; i < want_count; i++)
		assert_int_equal(l.seq[i], want[i]);
	assert_int_equal(got_more, more);
}

static void append_as(struct fixture *f, int64_t ks, const char *principal, const char *tag)
{
	struct kh_audit_event ev = ev_ok;
	ev.keystore_id = ks;
	ev.principal = principal;
	ev.key_tag = tag;
	kh_clock_fake_advance(&f->clock, KH_NS_PER_SEC);
	assert_int_equal(append(f, &ev, NULL), KH_OK);
}

static kh_rc first_record(const struct kh_audit_record *r, void *arg)
{
	struct kh_audit_record *out = arg;
	if (out->seq == 0) {
		assert_int_equal(r->seq, 2);
		assert_int_equal(r->at, FX_START_NS + 2 * KH_NS_PER_SEC);
		assert_int_equal(r->ev.keystore_id, 1);
		assert_string_equal(r->ev.principal, "account:1");
		assert_string_equal(r->ev.key_tag, "k1");
		assert_string_equal(r->ev.request_id, "req");
		assert_string_equal(r->ev.source, "127.0.0.1");
		assert_string_equal(r->ev.operation, "sys.status");
		assert_string_equal(r->ev.result, "ok");
		assert_string_equal(r->ev.detail, "");
		assert_int_equal(r->ev.version, 0);
		out->seq = r->seq;
	}
	return KH_OK;
}

static void records_list_with_filters_and_pages(void **state)
{
	struct fixture *f = *state;
	append_as(f, 0, "operator", NULL);
	append_as(f, 1, "account:1", "k1");
	append_as(f, 2, "account:2", "k2");
	append_as(f, 1, "account:1", "k1b");
	append_as(f, 1, "account:3", "k1");
	append_as(f, 0, "system", NULL);
	struct kh_audit_filter all = {.keystore_id = -1, .limit = 100};
	expect_list(f, all, false, (const int64_t[]){1, 2, 3, 4, 5, 6}, 6);
	struct kh_audit_filter flt = all;
	flt.keystore_id = 0;
	expect_list(f, flt, false, (const int64_t[]){1, 6}, 2);
	flt.keystore_id = 1;
	expect_list(f, flt, false, (const int64_t[]){2, 4, 5}, 3);
	flt.principal = "account:3";
	expect_list(f, flt, false, (const int64_t[]){5}, 1);
	flt = all;
	flt.key_tag = "k1";
	expect_list(f, flt, false, (const int64_t[]){2, 5}, 2);
	flt = all;
	flt.principal = "account:1";
	expect_list(f, flt, false, (const int64_t[]){2, 4}, 2);
	flt = all;
	flt.since = FX_START_NS + 4 * KH_NS_PER_SEC;
	expect_list(f, flt, false, (const int64_t[]){4, 5, 6}, 3);
	flt = all;
	flt.keystore_id = 3;
	expect_list(f, flt, false, NULL, 0);
	/* Pages of two. */
	flt = all;
	flt.limit = 2;
	expect_list(f, flt, true, (const int64_t[]){1, 2}, 2);
	flt.after_seq = 2;
	expect_list(f, flt, true, (const int64_t[]){3, 4}, 2);
	flt.after_seq = 4;
	expect_list(f, flt, false, (const int64_t[]){5, 6}, 2);
	/* What is listed is what was appended; an absent key tag is "". */
	struct kh_audit_record first = {0};
	bool more = false;
	flt = all;
	flt.after_seq = 1;
	assert_int_equal(kh_audit_list(f->a, &flt, first_record, &first, &more), KH_OK);
	assert_int_equal(first.seq, 2);
	struct listed l = {0};
	assert_int_equal(kh_audit_list(f->a, &all, collect, &l, &more), KH_OK);
	assert_string_equal(l.key_tag[0], "");
}

static void list_arguments_are_checked(void **state)
{
	struct fixture *f = *state;
	struct listed l = {0};
	bool more = false;
	seed(f, 3);
	struct kh_audit_filter flt = {.keystore_id = -1, .limit = 0};
	assert_int_equal(kh_audit_list(f->a, &flt, collect, &l, &more), KH_ERR_BAD_INPUT);
	flt.limit = KH_LIMIT_PAGE_MAX + 1;
	assert_int_equal(kh_audit_list(f->a, &flt, collect, &l, &more), KH_ERR_BAD_INPUT);
	flt.limit = KH_LIMIT_PAGE_MAX;
	flt.keystore_id = -2;
	assert_int_equal(kh_audit_list(f->a, &flt, collect, &l, &more), KH_ERR_BAD_INPUT);
	flt.keystore_id = -1;
	flt.after_seq = -1;
	assert_int_equal(kh_audit_list(f->a, &flt, collect, &l, &more), KH_ERR_BAD_INPUT);
	assert_int_equal(l.count, 0);
	/* The callback's error stops the listing and is returned. */
	flt.after_seq = 0;
	l.fail_with = KH_ERR_FORBIDDEN;
	assert_int_equal(kh_audit_list(f->a, &flt, collect, &l, &more), KH_ERR_FORBIDDEN);
	assert_int_equal(l.count, 1);
}

static void a_damaged_row_is_a_storage_error_in_a_list(void **state)
{
	struct fixture *f = *state;
	struct listed l = {0};
	bool more = false;
	seed(f, 3);
	struct kh_store_val v[] = {KH_SV_INT(2)};
	assert_int_equal(fx_exec(f, &q_set_at_text, v, 1), 1);
	struct kh_audit_filter flt = {.keystore_id = -1, .limit = 10};
	assert_int_equal(kh_audit_list(f->a, &flt, collect, &l, &more), KH_ERR_STORAGE);
	assert_int_equal(l.count, 1);
}

/* ---- threads ---- */

#define THREADS 8
#define PER_THREAD 25

struct worker {
	struct fixture *f;
	int ok;
};

static void *append_thread(void *p)
{
	struct worker *w = p;
	for (int i = 0; i < PER_THREAD; i++) {
		if (append(w->f, &ev_ok, NULL) == KH_OK)
			w->ok++;
	}
	return NULL;
}

static void concurrent_appends_form_one_chain(void **state)
{
	struct fixture *f = *state;
	pthread_t t[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.f = f};
		assert_int_equal(pthread_create(&t[i], NULL, append_thread, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].ok, PER_THREAD);
	}
	expect_ok(f, THREADS * PER_THREAD);
}

/* ---- allocation failures ---- */

static kh_rc append_once(void *arg)
{
	struct fixture *f = arg;
	return append(f, &ev_ok, NULL);
}

static kh_rc verify_once(void *arg)
{
	struct fixture *f = arg;
	struct kh_audit_verify_result r;
	KH_GUARD(kh_audit_verify(f->a, -1, &r));
	return r.ok ? KH_OK : KH_ERR_INTERNAL;
}

static kh_rc list_once(void *arg)
{
	struct fixture *f = arg;
	struct listed l = {0};
	bool more = false;
	struct kh_audit_filter flt = {.keystore_id = -1, .limit = 10};
	return kh_audit_list(f->a, &flt, collect, &l, &more);
}

static void allocation_failures_leave_the_chain_whole(void **state)
{
	struct fixture *f = *state;
	/* The first append creates the key; later ones use the cache. */
	kh_test_alloc_failures(append_once, f);
	kh_test_alloc_failures(append_once, f);
	assert_int_equal(fx_int(f, &q_count, NULL, 0), 2);
	kh_test_alloc_failures(verify_once, f);
	kh_test_alloc_failures(list_once, f);
	/* A fresh audit object loads the stored key. */
	fx_close(f);
	fx_open(f);
	kh_test_alloc_failures(append_once, f);
	expect_ok(f, 3);
}

static void bad_arguments_are_refused(void **state)
{
	struct fixture *f = *state;
	struct kh_audit *a = NULL;
	struct kh_audit_options none = {.store = f->store, .clock = &f->clock};
	assert_int_equal(kh_audit_new(&none, &a), KH_ERR_BAD_INPUT);
	assert_null(a);
	assert_int_equal(kh_audit_new(NULL, &a), KH_ERR_BAD_INPUT);
	kh_audit_free(&a);
	assert_int_equal(kh_audit_verify(f->a, -1, NULL), KH_ERR_INTERNAL);
	assert_int_equal(kh_audit_append(f->a, NULL, &ev_ok, NULL), KH_ERR_INTERNAL);
}

static void freed_audits_leave_the_barrier(void **state)
{
	struct fixture *f = *state;
	struct kh_audit_options ao = {.store = f->store, .barrier = f->b, .clock = &f->clock};
	/* More than the barrier's 8 listeners: each free removes its own. */
	for (int i = 0; i < 20; i++) {
		struct kh_audit *a = NULL;
		assert_int_equal(kh_audit_new(&ao, &a), KH_OK);
		kh_audit_free(&a);
		assert_null(a);
	}
	/* Sealing calls no freed listener (AddressSanitizer would see it). */
	assert_int_equal(kh_barrier_seal(f->b), KH_OK);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
	    T(records_follow_the_documented_format),
	    T(an_empty_log_verifies),
	    T(appended_records_verify),
	    T(an_edited_result_is_detected),
	    T(an_edited_detail_is_detected),
	    T(an_edited_keystore_is_detected),
	    T(an_edited_hash_is_detected),
	    T(a_hash_of_the_wrong_length_is_a_bad_record),
	    T(a_damaged_last_record_does_not_stop_appends),
	    T(a_value_of_the_wrong_type_is_a_bad_record),
	    T(a_deleted_middle_record_is_detected),
	    T(a_deleted_first_record_is_detected),
	    T(a_deleted_last_record_is_detected_by_the_head),
	    T(a_deleted_tail_stays_detected_after_more_appends),
	    T(swapped_records_are_detected),
	    T(swapped_contents_under_kept_hashes_are_detected),
	    T(renumbered_records_are_detected),
	    T(a_forged_record_is_detected),
	    T(a_scope_counts_only_its_own_records),
	    T(a_break_elsewhere_is_reported_to_a_scope_without_its_place),
	    T(a_break_in_a_scopes_own_record_is_reported_to_it),
	    T(a_record_moved_to_another_key_store_is_reported_to_that_one),
	    T(missing_records_are_not_placed_for_a_scope),
	    T(a_cut_off_tail_is_not_placed_for_a_scope),
	    T(a_damaged_row_is_not_placed_for_a_scope),
	    T(a_deleted_head_is_detected_and_stays_detected),
	    T(a_forged_head_is_detected),
	    T(a_deleted_audit_key_fails_every_record),
	    T(the_audit_key_is_a_barrier_secret),
	    T(sealed_before_the_first_record_is_sealed),
	    T(the_chain_survives_restart),
	    T(a_failed_write_takes_its_record_with_it),
	    T(the_audit_key_is_never_stored_in_clear),
	    T(fields_are_bounded),
	    T(records_list_with_filters_and_pages),
	    T(list_arguments_are_checked),
	    T(a_damaged_row_is_a_storage_error_in_a_list),
	    T(concurrent_appends_form_one_chain),
	    T(allocation_failures_leave_the_chain_whole),
	    T(bad_arguments_are_refused),
	    T(freed_audits_leave_the_barrier),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
