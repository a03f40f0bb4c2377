// SPDX-License-Identifier: Apache-2.0
/*
 * The audit log: appending records to the HMAC chain inside the caller's transaction, keeping
 * the authenticated head in meta, verifying chain and head, and listing records. The chain
 * format is the one documented in kh_audit.h.
 *
 * The audit key is a barrier secret loaded once and cached in secure memory until the barrier
 * seals. A cached key is trusted for an append only when the stored head authenticates under
 * it: a key created in a transaction that was then rolled back (the caller's function failed,
 * or the group commit did) leaves no head behind, so the next append reloads the key from the
 * store instead of chaining under a key nobody kept.
 *
 * Tampering never heals: when the log and an authentic head disagree (records cut off the
 * end), the next record continues after the head, leaving the gap for verify to find; when the
 * head is missing or forged while records exist, appends go on but write no new head, so
 * verify keeps reporting it.
 */
#include <string.h>

#include "audit/kh_audit_int.h"
#include "base/kh_endian.h"
#include "base/kh_limits.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "store/kh_store_audit.h"
#include "store/kh_store_barrier.h"

#define AUDIT_KEY_SCOPE "sys/audit-key"
#define HEAD_NAME "audit.head"
#define HASH_LEN 32u
#define HEAD_LEN (8u + HASH_LEN + HASH_LEN) /* seq | hash | mac */
/* "keyhold/v1/audit" 0x00 | seq | at | keystore id | version */
#define CANON_FIXED_LEN (sizeof(canon_label) + 8u + 8u + 8u + 4u)

static const char canon_label[] = "keyhold/v1/audit"; /* sizeof counts the 0x00 */
static const char head_label[] = "head";

/* The text fields in canonical order. */
enum {
	F_REQUEST_ID,
	F_PRINCIPAL,
	F_SOURCE,
	F_OPERATION,
	F_KEY_TAG,
	F_RESULT,
	F_DETAIL,
	F_COUNT
};

struct record {
	int64_t seq;
	int64_t at;
	int64_t keystore_id;
	uint32_t version;
	struct kh_slice text[F_COUNT];
};

/* A point of the chain: a sequence number and the hash of that record (0 and zeros before the
 * first one). */
struct chain_pos {
	int64_t seq;
	uint8_t hash[HASH_LEN];
};

struct head {
	bool found;       /* meta has an audit.head value */
	bool well_formed; /* ... of the right type and length */
	struct chain_pos pos;
	uint8_t mac[HASH_LEN];
};

/* ---- the key ---- */

static void on_seal(void *arg)
{
	struct kh_audit *a = arg;
	pthread_mutex_lock(&a->mu);
	kh_wipe(a->key, KH_AUDIT_KEY_LEN);
	a->have_key = false;
	a->seal_count++;
	pthread_mutex_unlock(&a->mu);
}

static bool cache_get(struct kh_audit *a, uint8_t out[KH_AUDIT_KEY_LEN])
{
	pthread_mutex_lock(&a->mu);
	bool have = a->have_key;
	if (have)
		memcpy(out, a->key, KH_AUDIT_KEY_LEN);
	pthread_mutex_unlock(&a->mu);
	return have;
}

static uint64_t cache_seals(struct kh_audit *a)
{
	pthread_mutex_lock(&a->mu);
	uint64_t n = a->seal_count;
	pthread_mutex_unlock(&a->mu);
	return n;
}

/* Caches key unless the barrier sealed since it was loaded (seals_before). */
static void cache_put(struct kh_audit *a, const uint8_t key[KH_AUDIT_KEY_LEN],
                      uint64_t seals_before)
{
	pthread_mutex_lock(&a->mu);
	if (a->seal_count == seals_before) {
		memcpy(a->key, key, KH_AUDIT_KEY_LEN);
		a->have_key = true;
	}
	pthread_mutex_unlock(&a->mu);
}

static kh_rc key_create(struct kh_audit *a, struct kh_store_tx *tx, struct kh_buf *k)
{
	uint8_t *p = NULL;
	KH_GUARD(kh_buf_extend(k, KH_AUDIT_KEY_LEN, &p));
	KH_GUARD(kh_rand_secret(p, KH_AUDIT_KEY_LEN));
	kh_buf_commit(k, KH_AUDIT_KEY_LEN);
	KH_GUARD(kh_barrier_put(a->barrier, tx, AUDIT_KEY_SCOPE, kh_buf_slice(k)));
	KH_LOG_INFO("audit key created", KH_LF_NONE);
	return KH_OK;
}

/* Loads the key from the store (creating it when absent and create is set) and caches it. */
static kh_rc key_load(struct kh_audit *a, struct kh_store_tx *tx, bool create,
                      uint8_t out[KH_AUDIT_KEY_LEN])
{
	kh_rc rc = KH_OK;
	struct kh_buf k;
	uint64_t seals = cache_seals(a);
	kh_buf_init(&k, KH_BARRIER_SECRET_MAX, KH_BUF_SECURE);
	rc = kh_barrier_get(a->barrier, tx, AUDIT_KEY_SCOPE, &k);
	if (rc == KH_ERR_NOT_FOUND && create)
		rc = key_create(a, tx, &k);
	KH_GUARD_OUT(rc);
	KH_ENSURE_OUT(k.len == KH_AUDIT_KEY_LEN, KH_ERR_STORAGE);
	memcpy(out, k.ptr, KH_AUDIT_KEY_LEN);
	cache_put(a, out, seals);
out:
	kh_buf_cleanup(&k);
	return rc;
}

/* ---- hashes ---- */

/* hash(n) = HMAC-SHA-256(key, hash(n-1) || canonical(record n)) */
static kh_rc record_hash(const uint8_t key[KH_AUDIT_KEY_LEN], const uint8_t prev[HASH_LEN],
                         const struct record *r, uint8_t out[HASH_LEN])
{
	uint8_t fixed[CANON_FIXED_LEN];
	uint8_t lens[F_COUNT][4];
	struct kh_slice parts[2 + 2 * F_COUNT];
	uint8_t *p = fixed + sizeof(canon_label);
	memcpy(fixed, canon_label, sizeof(canon_label));
	kh_be64_put(p, (uint64_t)r->seq);
	kh_be64_put(p + 8, (uint64_t)r->at);
	kh_be64_put(p + 16, (uint64_t)r->keystore_id);
	kh_be32_put(p + 24, r->version);
	parts[0] = KH_SLICE(prev, HASH_LEN);
	parts[1] = KH_SLICE(fixed, sizeof(fixed));
	for (size_t i = 0; i < F_COUNT; i++) {
		kh_be32_put(lens[i], (uint32_t)r->text[i].len);
		parts[2 + 2 * i] = KH_SLICE(lens[i], 4);
		parts[3 + 2 * i] = r->text[i];
	}
	return kh_hmac_parts(KH_HASH_SHA256, KH_SLICE(key, KH_AUDIT_KEY_LEN), parts,
	                     sizeof(parts) / sizeof(parts[0]), out, HASH_LEN);
}

/* HMAC(key, "head" | seq | hash) */
static kh_rc head_mac(const uint8_t key[KH_AUDIT_KEY_LEN], const struct chain_pos *pos,
                      uint8_t out[HASH_LEN])
{
	uint8_t seq[8];
	kh_be64_put(seq, (uint64_t)pos->seq);
	struct kh_slice parts[] = {KH_SLICE(head_label, sizeof(head_label) - 1),
	                           KH_SLICE(seq, sizeof(seq)), KH_SLICE(pos->hash, HASH_LEN)};
	return kh_hmac_parts(KH_HASH_SHA256, KH_SLICE(key, KH_AUDIT_KEY_LEN), parts,
	                     sizeof(parts) / sizeof(parts[0]), out, HASH_LEN);
}

static kh_rc head_authentic(const uint8_t key[KH_AUDIT_KEY_LEN], const struct head *h, bool *out)
{
	uint8_t mac[HASH_LEN];
	*out = false;
	if (!h->well_formed)
		return KH_OK;
	KH_GUARD(head_mac(key, &h->pos, mac));
	*out = kh_ct_eq(KH_SLICE(mac, HASH_LEN), KH_SLICE(h->mac, HASH_LEN));
	return KH_OK;
}

static bool pos_eq(const struct chain_pos *a, const struct chain_pos *b)
{
	return a->seq == b->seq &&
	       kh_ct_eq(KH_SLICE(a->hash, HASH_LEN), KH_SLICE(b->hash, HASH_LEN));
}

/* ---- reading the chain ---- */

/*
 * The newest record's position, or 0 and zeros for an empty log. A newest row of the wrong type
 * or length sets out_damaged instead of failing: the head can still say where the chain is.
 */
static kh_rc last_read(struct kh_store_tx *tx, struct chain_pos *out, bool *out_damaged)
{
	struct kh_store_rows *rows = NULL;
	struct kh_slice h = KH_SLICE_EMPTY;
	bool found = false;
	int64_t seq = 0;
	KH_GUARD(kh_store_query_one(tx, &kh_q_audit_last, NULL, 0, &rows, &found));
	kh_rc rc = KH_OK;
	memset(out, 0, sizeof(*out));
	*out_damaged = false;
	if (found) {
		rc = kh_audit_col_int(rows, 0, false, 1, INT64_MAX - 1, &seq);
		if (rc == KH_OK)
			rc = kh_store_rows_blob(rows, 1, &h);
		if (rc == KH_OK && h.len == HASH_LEN) {
			out->seq = seq;
			memcpy(out->hash, h.ptr, HASH_LEN);
		} else if (rc == KH_OK || rc == KH_ERR_STORAGE) {
			*out_damaged = true;
			rc = KH_OK;
		}
	}
	kh_store_rows_close(&rows);
	return rc;
}

static void head_decode(struct kh_slice v, struct head *out)
{
	if (v.len != HEAD_LEN)
		return;
	uint64_t seq = kh_be64_get(v.ptr);
	if (seq >= INT64_MAX)
		return;
	out->pos.seq = (int64_t)seq;
	memcpy(out->pos.hash, v.ptr + 8, HASH_LEN);
	memcpy(out->mac, v.ptr + 8 + HASH_LEN, HASH_LEN);
	out->well_formed = true;
}

/* Reads audit.head; a value of the wrong type or length is a damaged head, not an error. */
static kh_rc head_read(struct kh_store_tx *tx, struct head *out)
{
	struct kh_store_rows *rows = NULL;
	struct kh_slice v;
	bool found = false;
	struct kh_store_val p[] = {KH_SV_TEXT(HEAD_NAME)};
	memset(out, 0, sizeof(*out));
	KH_GUARD(kh_store_query_one(tx, &kh_q_meta_get, p, KH_SV_COUNT(p), &rows, &found));
	kh_rc rc = KH_OK;
	if (found) {
		out->found = true;
		rc = kh_store_rows_blob(rows, 0, &v);
		if (rc == KH_OK)
			head_decode(v, out);
		else if (rc == KH_ERR_STORAGE)
			rc = KH_OK;
	}
	kh_store_rows_close(&rows);
	return rc;
}

static kh_rc head_write(struct kh_store_tx *tx, const uint8_t key[KH_AUDIT_KEY_LEN],
                        const struct chain_pos *pos)
{
	uint8_t v[HEAD_LEN];
	kh_be64_put(v, (uint64_t)pos->seq);
	memcpy(v + 8, pos->hash, HASH_LEN);
	KH_GUARD(head_mac(key, pos, v + 8 + HASH_LEN));
	struct kh_store_val p[] = {KH_SV_TEXT(HEAD_NAME), KH_SV_BLOB(KH_SLICE(v, sizeof(v)))};
	return kh_store_exec(tx, &kh_q_meta_put, p, KH_SV_COUNT(p), NULL);
}

/*
 * Decodes a row of kh_q_audit_all or kh_q_audit_list, checking every type, range and length;
 * KH_ERR_STORAGE for a damaged row. With hash, out_hash gets the stored hash (32 bytes).
 */
static kh_rc record_decode(struct kh_store_rows *rows, struct record *out, uint8_t *out_hash)
{
	static const unsigned text_col[F_COUNT] = {
	    KH_Q_AUDIT_REQUEST_ID, KH_Q_AUDIT_PRINCIPAL, KH_Q_AUDIT_SOURCE, KH_Q_AUDIT_OPERATION,
	    KH_Q_AUDIT_KEY_TAG,    KH_Q_AUDIT_RESULT,    KH_Q_AUDIT_DETAIL};
	int64_t version = 0;
	KH_GUARD(kh_audit_col_int(rows, KH_Q_AUDIT_SEQ, false, 1, INT64_MAX, &out->seq));
	KH_GUARD(kh_audit_col_int(rows, KH_Q_AUDIT_AT, false, INT64_MIN, INT64_MAX, &out->at));
	KH_GUARD(
	    kh_audit_col_int(rows, KH_Q_AUDIT_KEYSTORE_ID, true, 0, INT64_MAX, &out->keystore_id));
	KH_GUARD(kh_audit_col_int(rows, KH_Q_AUDIT_VERSION, true, 0, UINT32_MAX, &version));
	out->version = (uint32_t)version;
	for (size_t i = 0; i < F_COUNT; i++) {
		bool nullable = text_col[i] == KH_Q_AUDIT_KEY_TAG;
		KH_GUARD(kh_audit_col_text(rows, text_col[i], nullable, &out->text[i]));
	}
	if (out_hash != NULL) {
		struct kh_slice h;
		KH_GUARD(kh_store_rows_blob(rows, KH_Q_AUDIT_HASH, &h));
		KH_ENSURE(h.len == HASH_LEN, KH_ERR_STORAGE);
		memcpy(out_hash, h.ptr, HASH_LEN);
	}
	return KH_OK;
}

/* ---- append ---- */

static kh_rc event_check(const struct kh_audit_event *ev, struct record *out)
{
	memset(out, 0, sizeof(*out));
	KH_GUARD(kh_audit_field(ev->request_id, false, &out->text[F_REQUEST_ID]));
	KH_GUARD(kh_audit_field(ev->principal, false, &out->text[F_PRINCIPAL]));
	KH_GUARD(kh_audit_field(ev->source, false, &out->text[F_SOURCE]));
	KH_GUARD(kh_audit_field(ev->operation, true, &out->text[F_OPERATION]));
	KH_GUARD(kh_audit_field(ev->key_tag, false, &out->text[F_KEY_TAG]));
	KH_GUARD(kh_audit_field(ev->result, true, &out->text[F_RESULT]));
	KH_GUARD(kh_audit_field(ev->detail, false, &out->text[F_DETAIL]));
	KH_ENSURE(ev->keystore_id >= 0, KH_ERR_BAD_INPUT);
	out->keystore_id = ev->keystore_id;
	out->version = ev->version;
	return KH_OK;
}

/*
 * The key for an append: the cached one if the stored head authenticates under it, else the
 * stored one (created now if there is none). out_authentic: the head authenticates under it.
 */
static kh_rc key_for_append(struct kh_audit *a, struct kh_store_tx *tx, const struct head *h,
                            uint8_t key[KH_AUDIT_KEY_LEN], bool *out_authentic)
{
	if (cache_get(a, key)) {
		KH_GUARD(head_authentic(key, h, out_authentic));
		if (*out_authentic)
			return KH_OK;
	}
	KH_GUARD(key_load(a, tx, true, key));
	return head_authentic(key, h, out_authentic);
}

/*
 * Where the new record goes: after the last record, unless the log and its head disagree. With
 * the last record damaged only an authentic head can say; without one, appending stops.
 */
static kh_rc chain_after(const struct chain_pos *last, bool last_damaged, const struct head *h,
                         bool authentic, struct chain_pos *out, bool *out_write_head)
{
	*out = *last;
	*out_write_head = true;
	if (!last_damaged &&
	    ((authentic && pos_eq(&h->pos, last)) || (!h->found && last->seq == 0)))
		return KH_OK;
	KH_LOG_ERROR("audit log does not match its head: appending so that verify reports it",
	             KH_LF_INT("last_seq", last->seq), KH_LF_INT("head_seq", h->pos.seq),
	             KH_LF_STR("last", last_damaged ? "damaged" : "readable"),
	             KH_LF_STR("head", authentic ? "authentic" : "missing or forged"));
	KH_ENSURE(authentic || !last_damaged, KH_ERR_STORAGE);
	if (authentic && (last_damaged || h->pos.seq >= last->seq))
		*out = h->pos; /* records were cut off the end: leave the gap */
	else if (!authentic)
		*out_write_head = false; /* never replace evidence with a fresh valid head */
	return KH_OK;
}

static kh_rc record_insert(struct kh_store_tx *tx, const struct record *r,
                           const uint8_t hash[HASH_LEN])
{
	const struct kh_slice *t = r->text;
	struct kh_store_val v[] = {
	    KH_SV_INT(r->seq),
	    KH_SV_INT(r->at),
	    KH_SV_TEXTN(t[F_REQUEST_ID]),
	    KH_SV_TEXTN(t[F_PRINCIPAL]),
	    KH_SV_TEXTN(t[F_SOURCE]),
	    KH_SV_TEXTN(t[F_OPERATION]),
	    KH_SV_INT(r->keystore_id),
	    t[F_KEY_TAG].len > 0 ? KH_SV_TEXTN(t[F_KEY_TAG]) : KH_SV_NULL,
	    KH_SV_INT(r->version),
	    KH_SV_TEXTN(t[F_RESULT]),
	    KH_SV_TEXTN(t[F_DETAIL]),
	    KH_SV_BLOB(KH_SLICE(hash, HASH_LEN)),
	};
	uint64_t changes = 0;
	KH_GUARD(kh_store_exec(tx, &kh_q_audit_insert, v, KH_SV_COUNT(v), &changes));
	KH_ENSURE(changes == 1, KH_ERR_STORAGE);
	return KH_OK;
}

kh_rc kh_audit_append(struct kh_audit *a, struct kh_store_tx *tx, const struct kh_audit_event *ev,
                      int64_t *out_seq)
{
	kh_rc rc = KH_OK;
	struct record rec;
	struct chain_pos last, prev, pos;
	struct head h;
	uint8_t key[KH_AUDIT_KEY_LEN];
	bool last_damaged = false, authentic = false, write_head = true;
	KH_ENSURE(a != NULL && tx != NULL && ev != NULL, KH_ERR_INTERNAL);
	KH_GUARD(event_check(ev, &rec));
	KH_GUARD_OUT(last_read(tx, &last, &last_damaged));
	KH_GUARD_OUT(head_read(tx, &h));
	KH_GUARD_OUT(key_for_append(a, tx, &h, key, &authentic));
	KH_GUARD_OUT(chain_after(&last, last_damaged, &h, authentic, &prev, &write_head));
	KH_ENSURE_OUT(prev.seq < INT64_MAX, KH_ERR_STORAGE);
	rec.seq = prev.seq + 1;
	rec.at = kh_clock_now(a->clock);
	pos.seq = rec.seq;
	KH_GUARD_OUT(record_hash(key, prev.hash, &rec, pos.hash));
	KH_GUARD_OUT(record_insert(tx, &rec, pos.hash));
	if (write_head)
		KH_GUARD_OUT(head_write(tx, key, &pos));
	if (out_seq != NULL)
		*out_seq = rec.seq;
out:
	kh_wipe(key, sizeof(key));
	return rc;
}

/* ---- verify ---- */

struct verify_state {
	const uint8_t *key;  /* NULL: there is no audit key, so no record can verify */
	int64_t scope;       /* whose records are counted: as kh_audit_filter.keystore_id */
	struct chain_pos at; /* the last record that verified */
	uint64_t checked;    /* records in scope that verified */
	uint64_t first_bad;
	/* The key store of the row being checked, when it is readable and has the next seq, so
	 * that a bad one is a record someone can be told about; -1 otherwise. */
	int64_t row_keystore;
};

static bool in_scope(const struct verify_state *st, int64_t keystore_id)
{
	return st->scope < 0 || keystore_id == st->scope;
}

/* Checks one row against the chain so far; false when it breaks the chain. */
static kh_rc verify_row(struct verify_state *st, struct kh_store_rows *rows, bool *out_good)
{
	struct record r;
	uint8_t stored[HASH_LEN], want[HASH_LEN];
	*out_good = false;
	st->row_keystore = -1;
	kh_rc rc = record_decode(rows, &r, stored);
	if (rc == KH_ERR_STORAGE)
		return KH_OK; /* a damaged row is a bad record */
	KH_GUARD(rc);
	/* A seq other than the next one: a record is missing here, or records were renumbered. */
	if (r.seq != st->at.seq + 1)
		return KH_OK;
	st->row_keystore = r.keystore_id;
	if (st->key == NULL)
		return KH_OK;
	KH_GUARD(record_hash(st->key, st->at.hash, &r, want));
	if (!kh_ct_eq(KH_SLICE(want, HASH_LEN), KH_SLICE(stored, HASH_LEN)))
		return KH_OK;
	st->at.seq = r.seq;
	memcpy(st->at.hash, stored, HASH_LEN);
	if (in_scope(st, r.keystore_id))
		st->checked++;
	*out_good = true;
	return KH_OK;
}

static kh_rc verify_chain(struct kh_store_tx *tx, struct verify_state *st)
{
	struct kh_store_rows *rows = NULL;
	bool has_row = false, good = true;
	kh_rc rc = KH_OK;
	KH_GUARD(kh_store_query(tx, &kh_q_audit_all, NULL, 0, &rows));
	for (;;) {
		KH_GUARD_OUT(kh_store_rows_next(rows, &has_row));
		if (!has_row)
			break;
		KH_GUARD_OUT(verify_row(st, rows, &good));
		if (!good) {
			st->first_bad = (uint64_t)st->at.seq + 1;
			break;
		}
	}
out:
	kh_store_rows_close(&rows);
	return rc;
}

/* After a good chain: the head must name its last record, under the audit key. */
static kh_rc verify_head(struct kh_store_tx *tx, struct verify_state *st)
{
	struct head h;
	bool authentic = false;
	KH_GUARD(head_read(tx, &h));
	if (!h.found && st->at.seq == 0)
		return KH_OK; /* an empty log that never had a record */
	if (st->key != NULL)
		KH_GUARD(head_authentic(st->key, &h, &authentic));
	if (!authentic || !pos_eq(&h.pos, &st->at)) {
		st->first_bad = (uint64_t)st->at.seq + 1;
		st->row_keystore = -1; /* no record: the end of the log is wrong */
	}
	return KH_OK;
}

/* Without an audit key nothing says whether the barrier is sealed: ask it. */
static kh_rc require_unsealed(struct kh_audit *a)
{
	struct kh_barrier_status status;
	KH_GUARD(kh_barrier_status(a->barrier, &status));
	KH_ENSURE(!status.sealed, KH_ERR_SEALED);
	return KH_OK;
}

/* Where the chain breaks, for this scope: only at a readable record of the scope. */
static uint64_t first_bad_in_scope(const struct verify_state *st)
{
	if (st->first_bad == 0 || st->scope < 0)
		return st->first_bad;
	return st->row_keystore >= 0 && in_scope(st, st->row_keystore) ? st->first_bad : 0;
}

kh_rc kh_audit_verify(struct kh_audit *a, int64_t keystore_id, struct kh_audit_verify_result *out)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	uint8_t key[KH_AUDIT_KEY_LEN];
	struct verify_state st = {.key = key, .scope = keystore_id, .row_keystore = -1};
	KH_ENSURE(a != NULL && out != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(keystore_id >= -1, KH_ERR_BAD_INPUT);
	KH_GUARD_OUT(kh_store_read_begin(a->store, &tx));
	/* The key as of this snapshot, not the cache: the snapshot is what we check. */
	rc = key_load(a, tx, false, key);
	if (rc == KH_ERR_NOT_FOUND)
		st.key = NULL;
	else
		KH_GUARD_OUT(rc);
	rc = KH_OK;
	KH_GUARD_OUT(verify_chain(tx, &st));
	if (st.first_bad == 0)
		KH_GUARD_OUT(verify_head(tx, &st));
	kh_store_read_end(&tx);
	if (st.key == NULL)
		KH_GUARD_OUT(require_unsealed(a));
	*out = (struct kh_audit_verify_result){.ok = st.first_bad == 0,
	                                       .checked = st.checked,
	                                       .first_bad_seq = first_bad_in_scope(&st)};
	if (st.first_bad != 0)
		KH_LOG_WARN("audit chain does not verify",
		            KH_LF_UINT("first_bad_seq", st.first_bad));
out:
	kh_store_read_end(&tx);
	kh_wipe(key, sizeof(key));
	return rc;
}

/* ---- list ---- */

static kh_rc filter_check(const struct kh_audit_filter *f)
{
	struct kh_slice s;
	KH_GUARD(kh_audit_limit(f->limit, KH_LIMIT_PAGE_MAX));
	KH_ENSURE(f->keystore_id >= -1 && f->after_seq >= 0 && f->since >= 0, KH_ERR_BAD_INPUT);
	KH_GUARD(kh_audit_field(f->key_tag, false, &s));
	KH_GUARD(kh_audit_field(f->principal, false, &s));
	return KH_OK;
}

/* Hands one listed row to the callback, its strings copied out as C strings. */
static kh_rc list_emit(struct kh_store_rows *rows, char *texts, kh_audit_record_fn fn, void *arg)
{
	struct record r;
	const char *s[F_COUNT];
	KH_GUARD(record_decode(rows, &r, NULL));
	for (size_t i = 0; i < F_COUNT; i++)
		s[i] = kh_audit_cstr(r.text[i], texts + i * KH_AUDIT_TEXT_SIZE);
	struct kh_audit_record out = {
	    .seq = r.seq,
	    .at = r.at,
	    .ev = {.request_id = s[F_REQUEST_ID],
	           .principal = s[F_PRINCIPAL],
	           .source = s[F_SOURCE],
	           .operation = s[F_OPERATION],
	           .keystore_id = r.keystore_id,
	           .key_tag = s[F_KEY_TAG],
	           .version = r.version,
	           .result = s[F_RESULT],
	           .detail = s[F_DETAIL]},
	};
	return fn(&out, arg);
}

static kh_rc list_rows(struct kh_store_tx *tx, const struct kh_audit_filter *f, char *texts,
                       kh_audit_record_fn fn, void *arg, bool *out_more)
{
	struct kh_store_rows *rows = NULL;
	bool has_row = false;
	kh_rc rc = KH_OK;
	bool by_tag = f->key_tag != NULL && f->key_tag[0] != '\0';
	bool by_principal = f->principal != NULL && f->principal[0] != '\0';
	struct kh_store_val v[] = {
	    KH_SV_INT(f->after_seq),
	    KH_SV_INT(f->since),
	    KH_SV_INT(f->keystore_id),
	    KH_SV_INT(f->keystore_id),
	    KH_SV_INT(by_tag),
	    KH_SV_TEXT(by_tag ? f->key_tag : ""),
	    KH_SV_INT(by_principal),
	    KH_SV_TEXT(by_principal ? f->principal : ""),
	    KH_SV_INT((int64_t)f->limit + 1), /* one more says whether there are more */
	};
	KH_GUARD(kh_store_query(tx, &kh_q_audit_list, v, KH_SV_COUNT(v), &rows));
	for (unsigned n = 0;; n++) {
		KH_GUARD_OUT(kh_store_rows_next(rows, &has_row));
		if (!has_row || n == f->limit)
			break;
		KH_GUARD_OUT(list_emit(rows, texts, fn, arg));
	}
	*out_more = has_row;
out:
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_audit_list(struct kh_audit *a, const struct kh_audit_filter *f, kh_audit_record_fn fn,
                    void *arg, bool *out_more)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	char *texts = NULL;
	bool more = false;
	KH_ENSURE(a != NULL && f != NULL && fn != NULL && out_more != NULL, KH_ERR_INTERNAL);
	KH_GUARD(filter_check(f));
	texts = kh_calloc(F_COUNT, KH_AUDIT_TEXT_SIZE);
	KH_ENSURE_OUT(texts != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(kh_store_read_begin(a->store, &tx));
	KH_GUARD_OUT(list_rows(tx, f, texts, fn, arg, &more));
	*out_more = more;
out:
	kh_store_read_end(&tx);
	kh_free(&texts);
	return rc;
}

/* ---- life cycle ---- */

kh_rc kh_audit_new(const struct kh_audit_options *opts, struct kh_audit **out)
{
	kh_rc rc = KH_OK;
	KH_ENSURE(opts != NULL && opts->store != NULL && opts->barrier != NULL &&
	              opts->clock != NULL && out != NULL,
	          KH_ERR_BAD_INPUT);
	struct kh_audit *a = kh_calloc(1, sizeof(*a));
	KH_ENSURE(a != NULL, KH_ERR_NOMEM);
	a->store = opts->store;
	a->barrier = opts->barrier;
	a->clock = opts->clock;
	pthread_mutex_init(&a->mu, NULL);
	a->key = kh_secure_alloc(KH_AUDIT_KEY_LEN);
	KH_ENSURE_OUT(a->key != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(kh_barrier_on_seal(a->barrier, on_seal, a));
	*out = a;
	a = NULL;
out:
	kh_audit_free(&a);
	return rc;
}

void kh_audit_free(struct kh_audit **ap)
{
	struct kh_audit *a = *ap;
	if (a == NULL)
		return;
	kh_barrier_off_seal(a->barrier, on_seal, a);
	kh_secure_free(&a->key);
	pthread_mutex_destroy(&a->mu);
	kh_free(ap);
}
