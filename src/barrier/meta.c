// SPDX-License-Identifier: Apache-2.0
/*
 * The barrier's named values in meta: its configuration (seal kind, share count, threshold,
 * split id), the encrypted keyring and the token's wrapping of the unseal key. Values read back
 * are checked like any input.
 */
#include <string.h>

#include "barrier/kh_barrier_int.h"
#include "store/kh_store_barrier.h"

kh_rc kh_barrier_meta_get(struct kh_store_tx *tx, const char *name, struct kh_buf *out,
                          bool *out_found)
{
	struct kh_store_rows *rows = NULL;
	struct kh_slice v;
	bool found = false;
	struct kh_store_val p[] = {KH_SV_TEXT(name)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_meta_get, p, 1, &rows, &found));
	kh_rc rc = KH_OK;
	if (found) {
		rc = kh_store_rows_blob(rows, 0, &v);
		if (rc == KH_OK)
			rc = kh_buf_append(out, v);
	}
	kh_store_rows_close(&rows);
	if (rc == KH_OK)
		*out_found = found;
	return rc;
}

kh_rc kh_barrier_meta_put(struct kh_store_tx *tx, const char *name, struct kh_slice value)
{
	struct kh_store_val p[] = {KH_SV_TEXT(name), KH_SV_BLOB(value)};
	return kh_store_exec(tx, &kh_q_meta_put, p, KH_SV_COUNT(p), NULL);
}

/* Reads one meta value in its own read transaction. */
kh_rc kh_barrier_meta_read(struct kh_barrier *b, const char *name, struct kh_buf *out, bool *found)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(b->store, &tx));
	kh_rc rc = kh_barrier_meta_get(tx, name, out, found);
	kh_store_read_end(&tx);
	return rc;
}

kh_rc kh_barrier_config_load(struct kh_barrier *b, struct kh_barrier_config *out, bool *out_found)
{
	struct kh_buf v;
	bool found = false;
	kh_buf_init(&v, KH_BARRIER_META_MAX, KH_BUF_PLAIN);
	kh_rc rc = kh_barrier_meta_read(b, KH_META_CONFIG, &v, &found);
	if (rc == KH_OK && found) {
		const uint8_t *p = v.ptr;
		bool ok = v.len == KH_BARRIER_CONFIG_LEN && p[0] == KH_BARRIER_FORMAT &&
		          (p[1] == KH_SEAL_SHARES || p[1] == KH_SEAL_SHARES_HSM) && p[3] >= 1 &&
		          p[3] <= p[2];
		if (ok) {
			out->kind = (enum kh_seal_kind)p[1];
			out->shares = p[2];
			out->threshold = p[3];
			memcpy(out->set_id, p + 4, KH_BARRIER_SET_ID_LEN);
		} else {
			rc = KH_ERR_STORAGE;
		}
	}
	if (rc == KH_OK)
		*out_found = found;
	kh_buf_cleanup(&v);
	return rc;
}
