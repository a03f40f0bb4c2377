// SPDX-License-Identifier: Apache-2.0
/*
 * What the XKS health answer reports (XKS.md "health"): the deep check, a real AES-256-GCM
 * encryption and decryption with a dedicated internal test key (the barrier secret
 * "xks/selftest", made on first use), and the live nodes of the cluster, each of which upserts
 * its row in `nodes` every few seconds.
 */
#include <string.h>

#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "keys/kh_keys_xks_int.h"
#include "store/kh_store_xks.h"

#define SELFTEST_SCOPE "xks/selftest"
#define SELFTEST_BLOCK 32u

static kh_rc selftest_key_read(struct kh_keys *k, struct kh_buf *out)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(k->store, &tx));
	kh_rc rc = kh_barrier_get(k->barrier, tx, SELFTEST_SCOPE, out);
	kh_store_read_end(&tx);
	return rc;
}

struct make_arg {
	struct kh_keys *k;
	struct kh_buf *out;
};

/* Makes the key unless another thread or node did in the meantime. */
static kh_rc selftest_key_make(struct kh_store_tx *tx, void *arg)
{
	struct make_arg *a = arg;
	kh_rc rc = kh_barrier_get(a->k->barrier, tx, SELFTEST_SCOPE, a->out);
	if (rc != KH_ERR_NOT_FOUND)
		return rc;
	uint8_t *key = NULL;
	KH_GUARD(kh_buf_extend(a->out, KH_AEAD_KEY_LEN, &key));
	KH_GUARD(kh_rand_secret(key, KH_AEAD_KEY_LEN));
	kh_buf_commit(a->out, KH_AEAD_KEY_LEN);
	return kh_barrier_put(a->k->barrier, tx, SELFTEST_SCOPE, kh_buf_slice(a->out));
}

static kh_rc round_trip(struct kh_slice key_bytes)
{
	struct kh_aead_key *key = NULL;
	uint8_t nonce[KH_AEAD_NONCE_LEN], block[SELFTEST_BLOCK], ct[SELFTEST_BLOCK];
	uint8_t back[SELFTEST_BLOCK], tag[KH_AEAD_TAG_LEN];
	static const char ad[] = "keyhold/v1/xks-selftest";
	kh_rc rc;
	KH_GUARD(kh_aead_key_new(KH_AEAD_AES_256_GCM, key_bytes, &key));
	KH_GUARD_OUT(kh_rand_bytes(nonce, sizeof(nonce)));
	KH_GUARD_OUT(kh_rand_bytes(block, sizeof(block)));
	KH_GUARD_OUT(kh_aead_seal(key, KH_SLICE(nonce, sizeof(nonce)), KH_SLICE_LIT(ad),
	                          KH_SLICE(block, sizeof(block)), ct, tag));
	KH_ENSURE_OUT(memcmp(ct, block, sizeof(block)) != 0, KH_ERR_LIBCRYPTO);
	KH_GUARD_OUT(kh_aead_open(key, KH_SLICE(nonce, sizeof(nonce)), KH_SLICE_LIT(ad),
	                          KH_SLICE(ct, sizeof(ct)), KH_SLICE(tag, sizeof(tag)), back));
	KH_ENSURE_OUT(memcmp(back, block, sizeof(block)) == 0, KH_ERR_LIBCRYPTO);
out:
	kh_aead_key_free(&key);
	return rc;
}

kh_rc kh_keys_xks_selftest(struct kh_keys *k)
{
	struct kh_buf key;
	kh_buf_init(&key, KH_BARRIER_SECRET_MAX, KH_BUF_SECURE);
	kh_rc rc = selftest_key_read(k, &key);
	if (rc == KH_ERR_NOT_FOUND) {
		struct make_arg a = {k, &key};
		kh_buf_clear(&key);
		rc = kh_store_write(k->store, selftest_key_make, &a);
	}
	if (rc == KH_OK)
		rc = key.len == KH_AEAD_KEY_LEN ? round_trip(kh_buf_slice(&key)) : KH_ERR_STORAGE;
	kh_buf_cleanup(&key);
	return rc;
}

/* ---- nodes ---- */

static bool node_id_valid(const char *id)
{
	size_t n = strnlen(id, KH_XKS_NODE_ID_MAX + 1);
	if (n == 0 || n > KH_XKS_NODE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (id[i] <= 0x20 || id[i] >= 0x7f)
			return false;
	}
	return true;
}

struct beat_arg {
	const struct kh_xks_node *self;
	int64_t now;
};

static kh_rc beat_fn(struct kh_store_tx *tx, void *arg)
{
	struct beat_arg *a = arg;
	struct kh_store_val v[] = {KH_SV_TEXT(a->self->id), KH_SV_INT(a->self->sealed ? 1 : 0),
	                           KH_SV_INT(a->self->healthy ? 1 : 0), KH_SV_INT(a->now)};
	return kh_store_exec(tx, &kh_q_node_beat, v, KH_SV_COUNT(v), NULL);
}

/* The beat's time is the clock's, not the caller's: seen_at says when we heard from it. */
kh_rc kh_keys_node_beat(struct kh_keys *k, const struct kh_xks_node *self)
{
	KH_ENSURE(self != NULL && node_id_valid(self->id), KH_ERR_BAD_INPUT);
	struct beat_arg a = {self, kh_clock_now(k->clock)};
	return kh_store_write(k->store, beat_fn, &a);
}

static kh_rc nodes_in(struct kh_store_tx *tx, int64_t since, kh_xks_node_fn fn, void *arg)
{
	kh_rc rc = KH_OK;
	struct kh_store_rows *rows = NULL;
	struct kh_store_val v[] = {KH_SV_INT(since)};
	KH_GUARD(kh_store_query(tx, &kh_q_node_live, v, 1, &rows));
	for (;;) {
		bool row = false;
		int64_t sealed = 0, healthy = 0;
		struct kh_xks_node n = {0};
		KH_GUARD_OUT(kh_store_rows_next(rows, &row));
		if (!row)
			break;
		KH_GUARD_OUT(kh_store_rows_text_copy(rows, 0, n.id, sizeof(n.id)));
		KH_GUARD_OUT(kh_store_rows_int(rows, 1, &sealed));
		KH_GUARD_OUT(kh_store_rows_int(rows, 2, &healthy));
		KH_GUARD_OUT(kh_store_rows_int(rows, 3, &n.seen_at));
		n.sealed = sealed != 0;
		n.healthy = healthy != 0;
		KH_GUARD_OUT(fn(&n, arg));
	}
out:
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_keys_nodes_live(struct kh_keys *k, int64_t window_ns, kh_xks_node_fn fn, void *arg)
{
	struct kh_store_tx *tx = NULL;
	KH_ENSURE(window_ns >= 0 && fn != NULL, KH_ERR_BAD_INPUT);
	int64_t now = kh_clock_now(k->clock);
	int64_t since = now - window_ns;
	KH_GUARD(kh_store_read_begin(k->store, &tx));
	kh_rc rc = nodes_in(tx, since, fn, arg);
	kh_store_read_end(&tx);
	return rc;
}
