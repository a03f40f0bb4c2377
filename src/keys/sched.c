// SPDX-License-Identifier: Apache-2.0
/*
 * The schedulers, as plain functions of the injected clock: rotations that are due, deletions
 * whose 72-hour wait is over, and deleted keys whose 365 days of readable metadata have passed.
 * The server calls them from a background thread (at kh_keys_next_due); tests call them after
 * moving a fake clock. Each item is its own transaction, audited as the system's doing.
 */
#include "keys/kh_keys_int.h"
#include "store/kh_store_keys.h"
#include "store/kh_store_xks.h"

#define DUE_BATCH 64u

/* Ids returned by a due query at the clock's now (or a cutoff), at most max. */
static kh_rc due_ids(struct kh_keys *k, const struct kh_store_query *q, int64_t at, size_t max,
                     int64_t *ids, size_t *out_n)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	size_t n = 0;
	struct kh_store_val v[] = {KH_SV_INT(at), KH_SV_INT(max)};
	KH_GUARD(kh_store_read_begin(k->store, &tx));
	KH_GUARD_OUT(kh_store_query(tx, q, v, KH_SV_COUNT(v), &rows));
	for (;;) {
		bool row = false;
		KH_GUARD_OUT(kh_store_rows_next(rows, &row));
		if (!row || n == max)
			break;
		KH_GUARD_OUT(kh_store_rows_int(rows, 0, &ids[n]));
		n++;
	}
	*out_n = n;
out:
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc;
}

typedef kh_rc (*due_fn)(struct kh_keys *k, int64_t key_id, bool *out_done);

static kh_rc run_due(struct kh_keys *k, const struct kh_store_query *q, int64_t at, due_fn fn,
                     size_t max, size_t *out_count)
{
	int64_t ids[DUE_BATCH];
	size_t count = 0, n = 0;
	do {
		size_t want = max - count < DUE_BATCH ? max - count : DUE_BATCH;
		if (want == 0)
			break;
		KH_GUARD(due_ids(k, q, at, want, ids, &n));
		size_t done_here = 0;
		for (size_t i = 0; i < n; i++) {
			bool done = false;
			KH_GUARD(fn(k, ids[i], &done));
			done_here += done ? 1 : 0;
		}
		count += done_here;
		/* Nothing moved in this batch (all raced away): stop rather than spin. */
		if (done_here == 0)
			break;
	} while (n == DUE_BATCH);
	*out_count = count;
	return KH_OK;
}

kh_rc kh_keys_rotate_due(struct kh_keys *k, size_t max, size_t *out_count)
{
	return run_due(k, &kh_q_key_rotation_due, kh_clock_now(k->clock), kh_keys_rotate_scheduled,
	               max, out_count);
}

kh_rc kh_keys_delete_due(struct kh_keys *k, size_t max, size_t *out_count)
{
	return run_due(k, &kh_q_key_deletion_due, kh_clock_now(k->clock), kh_keys_destroy_due, max,
	               out_count);
}

/* ---- purge ---- */

static kh_rc purge_apply(struct kh_keys_change *c, struct kh_store_tx *tx)
{
	KH_GUARD(kh_keys_load_id(tx, c->key.id, &c->key));
	c->have_key = true;
	if (c->key.state != KH_KEY_DELETED || c->key.deleted_at + KH_KEY_PURGE_AFTER_NS > c->now)
		return KH_ERR_CONFLICT;
	struct kh_store_val v[] = {KH_SV_INT(c->key.id)};
	KH_GUARD(kh_audit_usage_purge(c->k->audit, tx, c->key.id));
	KH_GUARD(kh_store_exec(tx, &kh_q_grant_delete_all, v, 1, NULL));
	/* An XKS key store still naming the key loses it with the key. */
	KH_GUARD(kh_store_exec(tx, &kh_q_xks_key_delete_of, v, 1, NULL));
	KH_GUARD(kh_store_exec(tx, &kh_q_version_delete_all, v, 1, NULL));
	KH_GUARD(kh_store_exec(tx, &kh_q_key_delete, v, 1, NULL));
	/* The audit record keeps the tag; the row is gone, so it is not reloaded. */
	c->gone = true;
	return KH_OK;
}

static kh_rc purge_one(struct kh_keys *k, int64_t key_id, bool *out_done)
{
	static const struct kh_principal sys = {
	    .kind = KH_PRINCIPAL_SYSTEM, .request_id = "scheduler", .source = ""};
	struct kh_keys_change c = {.k = k, .p = &sys, .op = KH_OP_PURGE, .apply = purge_apply};
	c.key.id = key_id;
	kh_rc rc = kh_keys_change_run(&c);
	*out_done = rc == KH_OK;
	if (rc == KH_OK)
		kh_keys_xks_invalidate(k); /* a store's key count may have changed */
	return rc == KH_ERR_CONFLICT ? KH_OK : rc;
}

kh_rc kh_keys_purge_due(struct kh_keys *k, size_t max, size_t *out_count)
{
	int64_t cutoff = kh_clock_now(k->clock) - KH_KEY_PURGE_AFTER_NS;
	return run_due(k, &kh_q_key_purge_due, cutoff, purge_one, max, out_count);
}

kh_rc kh_keys_next_due(struct kh_keys *k, int64_t *out_at)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	int64_t at = INT64_MAX;
	KH_GUARD(kh_store_read_begin(k->store, &tx));
	KH_GUARD_OUT(kh_store_query_one(tx, &kh_q_key_next_due, NULL, 0, &rows, &found));
	KH_ENSURE_OUT(found, KH_ERR_STORAGE);
	for (unsigned col = 0; col < 3; col++) {
		int64_t t = 0;
		bool is_null = true;
		KH_GUARD_OUT(kh_store_rows_int_opt(rows, col, &t, &is_null));
		if (is_null)
			continue;
		if (col == 2)
			t += KH_KEY_PURGE_AFTER_NS;
		if (t < at)
			at = t;
	}
	*out_at = at;
out:
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc;
}
