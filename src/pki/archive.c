// SPDX-License-Identifier: Apache-2.0
/*
 * The key archive's own backup (PKI.md "KMC": backup): every archived pair, its row and its
 * private key, written through an encrypted backup (barrier/kh_backup.h, KH_BACKUP_ARCHIVE)
 * that only this barrier opens, and read back into a store that lacks some of them (a store
 * restored from an older whole backup, say). Import never replaces: a pair whose id exists
 * with the same public key is skipped, with another key it is counted as a conflict and left.
 *
 * Record (integers big-endian; text and blobs as u32 length then bytes):
 *   length (4, of what follows) | "KMCR" | format 1 (1) | id (8) | algorithm | state
 *   | keystore id (8, 0 none) | CA id (8) | serial | request id (8) | history reason
 *   | created (8) | used (8) | history (8) | retain until (8) | public key | private key
 * The private key (PKCS#8) is only ever in secure buffers on its way in and out.
 */
#include <stdio.h>
#include <string.h>

#include "barrier/kh_backup.h"
#include "base/kh_endian.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "pki/kh_pki_int.h"

#define RECORD_MAX (16u * 1024u)
#define PAGE 256u
#define IMPORT_BATCH 64u

static const struct kh_store_query q_page = {
    "kmc_archive.page",
    "SELECT id, algorithm, state, public_key, keystore_id, ca_id, serial, request_id,"
    " history_reason, created_at, used_at, history_at, retain_until FROM kmc_keys WHERE id > ?"
    " ORDER BY id LIMIT ?"};
/* Missing key stores, CAs and requests become NULL: the pair is kept all the same. */
static const struct kh_store_query q_insert = {
    "kmc_archive.insert",
    "INSERT INTO kmc_keys (id, algorithm, state, public_key, keystore_id, ca_id, serial,"
    " request_id, history_reason, created_at, used_at, history_at, retain_until) VALUES (?, ?, ?,"
    " ?, (SELECT id FROM keystores WHERE id = ?), (SELECT id FROM pki_cas WHERE id = ?), ?,"
    " (SELECT id FROM pki_requests WHERE id = ?), ?, ?, ?, ?, ?)"};
static const struct kh_store_query q_public = {"kmc_archive.public",
                                               "SELECT public_key FROM kmc_keys WHERE id = ?"};

/* ---- encoding ---- */

static kh_rc put_u32(struct kh_buf *b, uint32_t v)
{
	uint8_t x[4];
	kh_be32_put(x, v);
	return kh_buf_append(b, KH_SLICE(x, 4));
}

static kh_rc put_i64(struct kh_buf *b, int64_t v)
{
	uint8_t x[8];
	kh_be64_put(x, (uint64_t)v);
	return kh_buf_append(b, KH_SLICE(x, 8));
}

static kh_rc put_bytes(struct kh_buf *b, struct kh_slice s)
{
	KH_ENSURE(s.len <= RECORD_MAX, KH_ERR_TOO_LARGE);
	KH_GUARD(put_u32(b, (uint32_t)s.len));
	return kh_buf_append(b, s);
}

static kh_rc put_text(struct kh_buf *b, const char *s)
{
	return put_bytes(b, kh_slice_from_cstr(s));
}

struct rec {
	struct kh_kmc_key k;
	struct kh_slice pub;
	struct kh_slice priv; /* points into a secure buffer */
};

static kh_rc encode(struct kh_buf *out, const struct rec *r)
{
	size_t start = out->len;
	KH_GUARD(put_u32(out, 0));
	KH_GUARD(kh_buf_append(out, KH_SLICE_LIT("KMCR\x01")));
	KH_GUARD(put_i64(out, r->k.id));
	KH_GUARD(put_text(out, kh_pki_pkey_type_name(r->k.algorithm)));
	KH_GUARD(put_text(out, kh_pki_kmc_state_text(r->k.state)));
	KH_GUARD(put_i64(out, r->k.keystore_id));
	KH_GUARD(put_i64(out, r->k.ca_id));
	KH_GUARD(put_text(out, r->k.serial));
	KH_GUARD(put_i64(out, r->k.request_id));
	KH_GUARD(put_text(out, r->k.history_reason));
	KH_GUARD(put_i64(out, r->k.created_at));
	KH_GUARD(put_i64(out, r->k.used_at));
	KH_GUARD(put_i64(out, r->k.history_at));
	KH_GUARD(put_i64(out, r->k.retain_until));
	KH_GUARD(put_bytes(out, r->pub));
	KH_GUARD(put_bytes(out, r->priv));
	KH_ENSURE(out->len - start - 4 <= RECORD_MAX, KH_ERR_TOO_LARGE);
	kh_be32_put(out->ptr + start, (uint32_t)(out->len - start - 4));
	return KH_OK;
}

struct cursor {
	struct kh_slice s;
	bool bad;
};

static void take(struct cursor *c, size_t n, struct kh_slice *out)
{
	if (c->bad || c->s.len < n) {
		c->bad = true;
		*out = KH_SLICE(NULL, 0);
		return;
	}
	*out = KH_SLICE(c->s.ptr, n);
	c->s.ptr += n;
	c->s.len -= n;
}

static int64_t get_i64(struct cursor *c)
{
	struct kh_slice s;
	take(c, 8, &s);
	return c->bad ? 0 : (int64_t)kh_be64_get(s.ptr);
}

static struct kh_slice get_bytes(struct cursor *c)
{
	struct kh_slice s;
	take(c, 4, &s);
	size_t n = c->bad ? 0 : kh_be32_get(s.ptr);
	take(c, n, &s);
	return s;
}

/* Text of at most max - 1 bytes, without NUL. */
static void get_text(struct cursor *c, char *out, size_t max)
{
	struct kh_slice s = get_bytes(c);
	if (c->bad || s.len >= max || memchr(s.ptr, '\0', s.len) != NULL) {
		c->bad = true;
		out[0] = '\0';
		return;
	}
	memcpy(out, s.ptr, s.len);
	out[s.len] = '\0';
}

static kh_rc decode(struct kh_slice body, struct rec *r)
{
	struct cursor c = {body, false};
	struct kh_slice magic;
	char alg[16], state[16];
	memset(r, 0, sizeof(*r));
	take(&c, 5, &magic);
	KH_ENSURE(!c.bad && memcmp(magic.ptr, "KMCR\x01", 5) == 0, KH_ERR_BAD_INPUT);
	r->k.id = get_i64(&c);
	get_text(&c, alg, sizeof(alg));
	get_text(&c, state, sizeof(state));
	r->k.keystore_id = get_i64(&c);
	r->k.ca_id = get_i64(&c);
	get_text(&c, r->k.serial, sizeof(r->k.serial));
	r->k.request_id = get_i64(&c);
	get_text(&c, r->k.history_reason, sizeof(r->k.history_reason));
	r->k.created_at = get_i64(&c);
	r->k.used_at = get_i64(&c);
	r->k.history_at = get_i64(&c);
	r->k.retain_until = get_i64(&c);
	r->pub = get_bytes(&c);
	r->priv = get_bytes(&c);
	KH_ENSURE(!c.bad && c.s.len == 0 && r->k.id > 0 && r->pub.len > 0 && r->priv.len > 0,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_pki_kmc_state_parse(kh_slice_from_cstr(state), &r->k.state) == KH_OK,
	          KH_ERR_BAD_INPUT);
	for (enum kh_pkey_type t = KH_PKEY_RSA_2048; t <= KH_PKEY_SM2; t++)
		if (strcmp(alg, kh_pki_pkey_type_name(t)) == 0 && kh_pki_kmc_family(t) == t)
			r->k.algorithm = t;
	KH_ENSURE(r->k.algorithm != 0, KH_ERR_BAD_INPUT);
	return KH_OK;
}

/* ---- export ---- */

static kh_rc row_to_rec(struct kh_store_rows *rows, struct rec *r)
{
	struct kh_slice s;
	memset(r, 0, sizeof(*r));
	KH_GUARD(kh_store_rows_int(rows, 0, &r->k.id));
	KH_GUARD(kh_store_rows_text(rows, 1, &s));
	for (enum kh_pkey_type t = KH_PKEY_RSA_2048; t <= KH_PKEY_SM2; t++)
		if (kh_slice_eq(s, kh_slice_from_cstr(kh_pki_pkey_type_name(t))))
			r->k.algorithm = t;
	KH_GUARD(kh_store_rows_text(rows, 2, &s));
	KH_ENSURE(kh_pki_kmc_state_parse(s, &r->k.state) == KH_OK, KH_ERR_STORAGE);
	KH_GUARD(kh_store_rows_blob(rows, 3, &r->pub));
	KH_GUARD(kh_pki_rows_int0(rows, 4, &r->k.keystore_id));
	KH_GUARD(kh_pki_rows_int0(rows, 5, &r->k.ca_id));
	if (!kh_store_rows_is_null(rows, 6))
		KH_GUARD(kh_store_rows_text_copy(rows, 6, r->k.serial, sizeof(r->k.serial)));
	KH_GUARD(kh_pki_rows_int0(rows, 7, &r->k.request_id));
	if (!kh_store_rows_is_null(rows, 8))
		KH_GUARD(kh_store_rows_text_copy(rows, 8, r->k.history_reason,
		                                 sizeof(r->k.history_reason)));
	KH_GUARD(kh_store_rows_int(rows, 9, &r->k.created_at));
	KH_GUARD(kh_pki_rows_int0(rows, 10, &r->k.used_at));
	KH_GUARD(kh_pki_rows_int0(rows, 11, &r->k.history_at));
	KH_GUARD(kh_pki_rows_int0(rows, 12, &r->k.retain_until));
	KH_ENSURE(r->k.algorithm != 0, KH_ERR_STORAGE);
	return KH_OK;
}

/* One page of rows (after *after) encoded into out; *n of them. */
static kh_rc export_page(struct kh_pki *pk, int64_t *after, struct kh_buf *out, size_t *n)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	struct rec r[PAGE];
	struct kh_buf pubs, privs;
	size_t count = 0;
	char scope[32];
	*n = 0;
	kh_buf_init(&pubs, PAGE * KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&privs, PAGE * KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_SECURE);
	size_t pub_at[PAGE], pub_len[PAGE], priv_at[PAGE], priv_len[PAGE];
	struct kh_store_val v[] = {KH_SV_INT(*after), KH_SV_INT(PAGE)};
	KH_GUARD_OUT(kh_store_read_begin(pk->store, &tx));
	KH_GUARD_OUT(kh_store_query(tx, &q_page, v, 2, &rows));
	for (;;) {
		bool row = false;
		KH_GUARD_OUT(kh_store_rows_next(rows, &row));
		if (!row)
			break;
		KH_GUARD_OUT(row_to_rec(rows, &r[count]));
		pub_at[count] = pubs.len;
		pub_len[count] = r[count].pub.len;
		KH_GUARD_OUT(kh_buf_append(&pubs, r[count].pub));
		count++;
	}
	kh_store_rows_close(&rows);
	/* The private keys, once the rows are closed (one statement at a time per snapshot). */
	for (size_t i = 0; i < count; i++) {
		snprintf(scope, sizeof(scope), "kmc/%lld", (long long)r[i].k.id);
		priv_at[i] = privs.len;
		KH_GUARD_OUT(kh_barrier_get(pk->barrier, tx, scope, &privs));
		priv_len[i] = privs.len - priv_at[i];
	}
	for (size_t i = 0; i < count; i++) {
		r[i].pub = KH_SLICE(pubs.ptr + pub_at[i], pub_len[i]);
		r[i].priv = KH_SLICE(privs.ptr + priv_at[i], priv_len[i]);
		KH_GUARD_OUT(encode(out, &r[i]));
		*after = r[i].k.id;
	}
	*n = count;
out:
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	kh_buf_cleanup(&pubs);
	kh_buf_cleanup(&privs);
	return rc;
}

kh_rc kh_pki_kmc_archive_write(struct kh_pki *pk, struct kh_backup_writer *w, uint64_t *out_count)
{
	kh_rc rc = KH_OK;
	int64_t after = 0;
	struct kh_buf page;
	*out_count = 0;
	KH_ENSURE(pk->barrier != NULL, KH_ERR_CONFLICT);
	kh_buf_init(&page, PAGE * (RECORD_MAX + 4), KH_BUF_SECURE);
	for (;;) {
		size_t n = 0;
		kh_buf_clear(&page);
		KH_GUARD_OUT(export_page(pk, &after, &page, &n));
		if (n == 0)
			break;
		KH_GUARD_OUT(kh_backup_write(w, kh_buf_slice(&page)));
		*out_count += n;
	}
out:
	kh_buf_cleanup(&page);
	return rc;
}

/* ---- import ---- */

struct import_batch {
	struct kh_pki *pk;
	struct rec r[IMPORT_BATCH];
	size_t n;
	struct kh_pki_kmc_import *totals;
};

static kh_rc import_one(struct kh_store_tx *tx, struct kh_pki *pk, const struct rec *r,
                        struct kh_pki_kmc_import *t)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_slice pub;
	struct kh_store_val id[] = {KH_SV_INT(r->k.id)};
	KH_GUARD(kh_store_query_one(tx, &q_public, id, 1, &rows, &found));
	if (found) {
		kh_rc rc = kh_store_rows_blob(rows, 0, &pub);
		bool same = rc == KH_OK && kh_slice_eq(pub, r->pub);
		kh_store_rows_close(&rows);
		KH_GUARD(rc);
		if (same) {
			t->present++;
		} else {
			t->conflicts++;
			KH_LOG_WARN(
			    "archive import: a pair of this id with another key exists; left as it"
			    " is",
			    KH_LF_INT("pair", r->k.id));
		}
		return KH_OK;
	}
	kh_store_rows_close(&rows);
	char scope[32];
	struct kh_store_val v[] = {
	    KH_SV_INT(r->k.id),
	    KH_SV_TEXT(kh_pki_pkey_type_name(r->k.algorithm)),
	    KH_SV_TEXT(kh_pki_kmc_state_text(r->k.state)),
	    KH_SV_BLOB(r->pub),
	    KH_SV_INT(r->k.keystore_id),
	    KH_SV_INT(r->k.ca_id),
	    r->k.serial[0] != '\0' ? KH_SV_TEXT(r->k.serial) : KH_SV_NULL,
	    KH_SV_INT(r->k.request_id),
	    r->k.history_reason[0] != '\0' ? KH_SV_TEXT(r->k.history_reason) : KH_SV_NULL,
	    KH_SV_INT(r->k.created_at),
	    r->k.used_at != 0 ? KH_SV_INT(r->k.used_at) : KH_SV_NULL,
	    r->k.history_at != 0 ? KH_SV_INT(r->k.history_at) : KH_SV_NULL,
	    r->k.retain_until != 0 ? KH_SV_INT(r->k.retain_until) : KH_SV_NULL,
	};
	KH_GUARD(kh_store_exec(tx, &q_insert, v, KH_SV_COUNT(v), NULL));
	snprintf(scope, sizeof(scope), "kmc/%lld", (long long)r->k.id);
	KH_GUARD(kh_barrier_put(pk->barrier, tx, scope, r->priv));
	t->added++;
	return KH_OK;
}

static kh_rc import_fn(struct kh_store_tx *tx, void *arg)
{
	struct import_batch *b = arg;
	struct kh_pki_kmc_import t = {0};
	for (size_t i = 0; i < b->n; i++)
		KH_GUARD(import_one(tx, b->pk, &b->r[i], &t));
	b->totals->added += t.added;
	b->totals->present += t.present;
	b->totals->conflicts += t.conflicts;
	return KH_OK;
}

/* Decodes and imports the whole records at the front of *pending (the batch points into it,
 * so every batch is imported before pending changes); what is left is the start of the next
 * record. */
static kh_rc drain(struct import_batch *b, struct kh_buf *pending)
{
	size_t at = 0;
	for (;;) {
		size_t left = pending->len - at;
		if (left < 4)
			break;
		size_t len = kh_be32_get(pending->ptr + at);
		KH_ENSURE(len <= RECORD_MAX, KH_ERR_BAD_INPUT);
		if (left - 4 < len)
			break;
		KH_GUARD(decode(KH_SLICE(pending->ptr + at + 4, len), &b->r[b->n]));
		b->n++;
		at += 4 + len;
		if (b->n == IMPORT_BATCH) {
			KH_GUARD(kh_store_write(b->pk->store, import_fn, b));
			b->n = 0;
		}
	}
	if (b->n > 0) {
		KH_GUARD(kh_store_write(b->pk->store, import_fn, b));
		b->n = 0;
	}
	if (at > 0) {
		memmove(pending->ptr, pending->ptr + at, pending->len - at);
		kh_wipe(pending->ptr + pending->len - at, at);
		pending->len -= at;
	}
	return KH_OK;
}

kh_rc kh_pki_kmc_archive_read(struct kh_pki *pk, struct kh_backup_reader *r,
                              struct kh_pki_kmc_import *out)
{
	kh_rc rc = KH_OK;
	struct kh_buf pending;
	bool end = false;
	memset(out, 0, sizeof(*out));
	KH_ENSURE(pk->barrier != NULL, KH_ERR_CONFLICT);
	struct import_batch *b = kh_calloc(1, sizeof(*b));
	KH_ENSURE(b != NULL, KH_ERR_NOMEM);
	b->pk = pk;
	b->totals = out;
	/* A chunk, plus the start of a record from the chunk before. */
	kh_buf_init(&pending, KH_LIMIT_BACKUP_CHUNK_BYTES + RECORD_MAX + 4, KH_BUF_SECURE);
	while (!end) {
		KH_GUARD_OUT(kh_backup_read(r, &pending, &end));
		KH_GUARD_OUT(drain(b, &pending));
	}
	KH_ENSURE_OUT(pending.len == 0, KH_ERR_BAD_INPUT);
out:
	kh_buf_cleanup(&pending);
	kh_free(&b);
	return rc;
}
