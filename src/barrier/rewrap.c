// SPDX-License-Identifier: Apache-2.0
/*
 * Rewrap, the background work after a root key rotation: secrets stored under older terms are
 * re-encrypted with the current one, a batch per transaction; when none remain, the older terms
 * leave the keyring.
 */
#include "barrier/kh_barrier_int.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "store/kh_store_barrier.h"

struct old_row {
	char scope[KH_BARRIER_SCOPE_MAX + 1];
	struct kh_buf blob;
};

struct rewrap {
	struct kh_barrier *b;
	const struct kh_barrier_keyring *ring;
	size_t max_rows;
	struct old_row *rows;
	size_t row_count;
	size_t rewrapped;
	int64_t remaining;
};

static kh_rc load_old_rows(struct kh_store_tx *tx, struct rewrap *r)
{
	kh_rc rc = KH_OK;
	struct kh_store_rows *rows = NULL;
	struct kh_store_val v[] = {KH_SV_INT(r->ring->current), KH_SV_INT(r->max_rows)};
	KH_GUARD(kh_store_query(tx, &kh_q_sealed_older, v, KH_SV_COUNT(v), &rows));
	for (;;) {
		bool more = false;
		struct kh_slice blob;
		KH_GUARD_OUT(kh_store_rows_next(rows, &more));
		if (!more || r->row_count == r->max_rows)
			break;
		struct old_row *o = &r->rows[r->row_count];
		KH_GUARD_OUT(kh_store_rows_text_copy(rows, 0, o->scope, sizeof(o->scope)));
		KH_GUARD_OUT(kh_store_rows_blob(rows, 2, &blob));
		kh_buf_init(&o->blob, KH_BARRIER_SECRET_MAX + 64, KH_BUF_PLAIN);
		r->row_count++;
		KH_GUARD_OUT(kh_buf_append(&o->blob, blob));
	}
out:
	kh_store_rows_close(&rows);
	return rc;
}

static kh_rc count_older(struct kh_store_tx *tx, uint32_t term, int64_t *out)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(term)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_sealed_count_older, v, 1, &rows, &found));
	kh_rc rc = found ? kh_store_rows_int(rows, 0, out) : KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	return rc;
}

static kh_rc rewrap_fn(struct kh_store_tx *tx, void *arg)
{
	struct rewrap *r = arg;
	KH_GUARD(load_old_rows(tx, r));
	for (size_t i = 0; i < r->row_count; i++) {
		struct kh_buf fresh;
		kh_buf_init(&fresh, KH_BARRIER_SECRET_MAX + 64, KH_BUF_PLAIN);
		kh_rc rc = kh_barrier_secret_reseal(r->ring, r->rows[i].scope,
		                                    kh_buf_slice(&r->rows[i].blob), &fresh);
		if (rc == KH_OK) {
			struct kh_store_val v[] = {KH_SV_TEXT(r->rows[i].scope),
			                           KH_SV_INT(r->ring->current),
			                           KH_SV_BLOB(kh_buf_slice(&fresh))};
			rc = kh_store_exec(tx, &kh_q_sealed_update, v, KH_SV_COUNT(v), NULL);
		}
		kh_buf_cleanup(&fresh);
		KH_GUARD(rc);
		r->rewrapped++;
	}
	return count_older(tx, r->ring->current, &r->remaining);
}

static void rewrap_cleanup(struct rewrap *r)
{
	for (size_t i = 0; i < r->row_count; i++)
		kh_buf_cleanup(&r->rows[i].blob);
	kh_free(&r->rows);
}

/* Drops every term but the current one: called when no secret uses the others. */
static kh_rc retire_old_terms(struct kh_barrier *b, const struct kh_barrier_keyring *live)
{
	kh_rc rc = KH_OK;
	struct kh_barrier_keyring next = {0};
	const struct kh_barrier_term *cur = kh_barrier_keyring_find(live, live->current);
	KH_ENSURE(cur != NULL, KH_ERR_INTERNAL);
	KH_GUARD_OUT(kh_barrier_keyring_push(&next, cur->term, cur->created_ns, cur->key));
	next.current = cur->term;
	KH_GUARD_OUT(kh_barrier_ring_replace(b, &next));
	KH_LOG_INFO("old root key terms retired", KH_LF_UINT("term", next.current),
	            KH_LF_UINT("retired", live->count - 1));
out:
	kh_barrier_keyring_wipe(&next);
	return rc;
}

kh_rc kh_barrier_rewrap(struct kh_barrier *b, size_t max_rows, size_t *out_rewrapped,
                        size_t *out_remaining)
{
	kh_rc rc = KH_OK;
	struct kh_barrier_keyring live = {0};
	struct rewrap r = {.b = b, .ring = &live, .max_rows = max_rows};
	KH_ENSURE(max_rows >= 1 && max_rows <= 10000, KH_ERR_BAD_INPUT);
	pthread_mutex_lock(&b->admin);
	KH_GUARD_OUT(kh_barrier_ring_live_copy(b, &live));
	r.rows = kh_calloc(max_rows, sizeof(*r.rows));
	KH_ENSURE_OUT(r.rows != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(kh_store_write(b->store, rewrap_fn, &r));
	if (r.remaining == 0 && live.count > 1)
		KH_GUARD_OUT(retire_old_terms(b, &live));
	*out_rewrapped = r.rewrapped;
	*out_remaining = (size_t)r.remaining;
out:
	rewrap_cleanup(&r);
	kh_barrier_keyring_wipe(&live);
	pthread_mutex_unlock(&b->admin);
	return rc;
}
