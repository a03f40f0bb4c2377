// SPDX-License-Identifier: Apache-2.0
/*
 * The keyring: root key terms, their stored form (encrypted under the unseal key), rotation
 * (a new term for new writes) and rewrap (moving old secrets to the current term, then
 * retiring terms nothing uses any more).
 */
#include <string.h>

#include "barrier/kh_barrier_int.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "store/kh_store_barrier.h"

#define RING_HEADER_LEN 9u /* format | current | count */
#define RING_ENTRY_LEN 44u /* term | created | key */
#define RING_MAX_LEN (RING_HEADER_LEN + KH_BARRIER_MAX_TERMS * RING_ENTRY_LEN)
#define AEAD_OVERHEAD (KH_AEAD_NONCE_LEN + KH_AEAD_TAG_LEN)

static const char keyring_ad[] = "keyhold/v1/keyring";

kh_rc kh_barrier_aead_seal(struct kh_slice key, struct kh_slice aad, struct kh_slice pt,
                           struct kh_buf *out)
{
	kh_rc rc = KH_OK;
	struct kh_aead_key *k = NULL;
	uint8_t *p = NULL;
	KH_GUARD(kh_aead_key_new(KH_AEAD_AES_256_GCM, key, &k));
	KH_GUARD_OUT(kh_buf_extend(out, pt.len + AEAD_OVERHEAD, &p));
	KH_GUARD_OUT(kh_rand_bytes(p, KH_AEAD_NONCE_LEN));
	KH_GUARD_OUT(kh_aead_seal(k, KH_SLICE(p, KH_AEAD_NONCE_LEN), aad, pt, p + KH_AEAD_NONCE_LEN,
	                          p + KH_AEAD_NONCE_LEN + pt.len));
	kh_buf_commit(out, pt.len + AEAD_OVERHEAD);
out:
	kh_aead_key_free(&k);
	return rc;
}

kh_rc kh_barrier_aead_open(struct kh_slice key, struct kh_slice aad, struct kh_slice blob,
                           struct kh_buf *out)
{
	kh_rc rc = KH_OK;
	struct kh_aead_key *k = NULL;
	uint8_t *p = NULL;
	KH_ENSURE(blob.len >= AEAD_OVERHEAD, KH_ERR_DECRYPT);
	size_t ct_len = blob.len - AEAD_OVERHEAD;
	KH_GUARD(kh_aead_key_new(KH_AEAD_AES_256_GCM, key, &k));
	KH_GUARD_OUT(kh_buf_extend(out, ct_len, &p));
	KH_GUARD_OUT(kh_aead_open(k, KH_SLICE(blob.ptr, KH_AEAD_NONCE_LEN), aad,
	                          KH_SLICE(blob.ptr + KH_AEAD_NONCE_LEN, ct_len),
	                          KH_SLICE(blob.ptr + KH_AEAD_NONCE_LEN + ct_len, KH_AEAD_TAG_LEN),
	                          p));
	kh_buf_commit(out, ct_len);
out:
	kh_aead_key_free(&k);
	return rc;
}

void kh_barrier_keyring_wipe(struct kh_barrier_keyring *ring)
{
	for (size_t i = 0; i < ring->count; i++)
		kh_secure_free(&ring->terms[i].key);
	ring->count = 0;
	ring->current = 0;
}

static kh_rc ring_push(struct kh_barrier_keyring *ring, uint32_t term, int64_t created_ns,
                       const uint8_t *key)
{
	KH_ENSURE(ring->count < KH_BARRIER_MAX_TERMS, KH_ERR_CONFLICT);
	uint8_t *k = kh_secure_alloc(KH_BARRIER_KEY_LEN);
	KH_ENSURE(k != NULL, KH_ERR_NOMEM);
	if (key != NULL) {
		memcpy(k, key, KH_BARRIER_KEY_LEN);
	} else {
		kh_rc rc = kh_rand_secret(k, KH_BARRIER_KEY_LEN);
		if (rc != KH_OK) {
			kh_secure_free(&k);
			return rc;
		}
	}
	ring->terms[ring->count++] =
	    (struct kh_barrier_term){.term = term, .created_ns = created_ns, .key = k};
	return KH_OK;
}

kh_rc kh_barrier_keyring_add(struct kh_barrier_keyring *ring, uint32_t term, int64_t created_ns)
{
	KH_ENSURE(term > ring->current, KH_ERR_INTERNAL);
	KH_GUARD(ring_push(ring, term, created_ns, NULL));
	ring->current = term;
	return KH_OK;
}

const struct kh_barrier_term *kh_barrier_keyring_find(const struct kh_barrier_keyring *ring,
                                                      uint32_t term)
{
	for (size_t i = 0; i < ring->count; i++) {
		if (ring->terms[i].term == term)
			return &ring->terms[i];
	}
	return NULL;
}

kh_rc kh_barrier_keyring_seal(const struct kh_barrier_keyring *ring, struct kh_slice unseal_key,
                              struct kh_buf *out)
{
	kh_rc rc = KH_OK;
	struct kh_buf plain;
	uint8_t *p = NULL;
	kh_buf_init(&plain, RING_MAX_LEN, KH_BUF_SECURE);
	size_t len = RING_HEADER_LEN + ring->count * RING_ENTRY_LEN;
	KH_GUARD_OUT(kh_buf_extend(&plain, len, &p));
	p[0] = KH_BARRIER_FORMAT;
	kh_be32_put(p + 1, ring->current);
	kh_be32_put(p + 5, (uint32_t)ring->count);
	for (size_t i = 0; i < ring->count; i++) {
		uint8_t *e = p + RING_HEADER_LEN + i * RING_ENTRY_LEN;
		kh_be32_put(e, ring->terms[i].term);
		kh_be64_put(e + 4, (uint64_t)ring->terms[i].created_ns);
		memcpy(e + 12, ring->terms[i].key, KH_BARRIER_KEY_LEN);
	}
	kh_buf_commit(&plain, len);
	KH_GUARD_OUT(kh_buf_append_byte(out, KH_BARRIER_FORMAT));
	KH_GUARD_OUT(
	    kh_barrier_aead_seal(unseal_key, KH_SLICE_LIT(keyring_ad), kh_buf_slice(&plain), out));
out:
	kh_buf_cleanup(&plain);
	return rc;
}

/* Parses a decrypted keyring; values from storage are checked like any input. */
static kh_rc ring_parse(struct kh_slice p, struct kh_barrier_keyring *out)
{
	KH_ENSURE(p.len >= RING_HEADER_LEN && p.ptr[0] == KH_BARRIER_FORMAT, KH_ERR_STORAGE);
	uint32_t current = kh_be32_get(p.ptr + 1);
	uint32_t count = kh_be32_get(p.ptr + 5);
	KH_ENSURE(count >= 1 && count <= KH_BARRIER_MAX_TERMS, KH_ERR_STORAGE);
	KH_ENSURE(p.len == RING_HEADER_LEN + count * RING_ENTRY_LEN, KH_ERR_STORAGE);
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = p.ptr + RING_HEADER_LEN + i * RING_ENTRY_LEN;
		uint32_t term = kh_be32_get(e);
		KH_ENSURE(term >= 1 && kh_barrier_keyring_find(out, term) == NULL, KH_ERR_STORAGE);
		KH_GUARD(ring_push(out, term, (int64_t)kh_be64_get(e + 4), e + 12));
	}
	KH_ENSURE(kh_barrier_keyring_find(out, current) != NULL, KH_ERR_STORAGE);
	out->current = current;
	return KH_OK;
}

kh_rc kh_barrier_keyring_open(struct kh_slice blob, struct kh_slice unseal_key,
                              struct kh_barrier_keyring *out)
{
	kh_rc rc = KH_OK;
	struct kh_buf plain;
	struct kh_barrier_keyring ring = {0};
	kh_buf_init(&plain, RING_MAX_LEN, KH_BUF_SECURE);
	KH_ENSURE_OUT(blob.len > 1 && blob.ptr[0] == KH_BARRIER_FORMAT, KH_ERR_STORAGE);
	KH_GUARD_OUT(kh_barrier_aead_open(unseal_key, KH_SLICE_LIT(keyring_ad),
	                                  KH_SLICE(blob.ptr + 1, blob.len - 1), &plain));
	KH_GUARD_OUT(ring_parse(kh_buf_slice(&plain), &ring));
	*out = ring;
	ring.count = 0;
out:
	kh_barrier_keyring_wipe(&ring);
	kh_buf_cleanup(&plain);
	return rc;
}

/* ---- rotation ---- */

struct ring_write {
	struct kh_slice keyring;
};

static kh_rc ring_write_fn(struct kh_store_tx *tx, void *arg)
{
	struct ring_write *w = arg;
	return kh_barrier_meta_put(tx, KH_META_KEYRING, w->keyring);
}

/* Copies the in-memory ring (caller holds b->lock). */
static kh_rc ring_copy(const struct kh_barrier_keyring *from, struct kh_barrier_keyring *to)
{
	*to = (struct kh_barrier_keyring){0};
	for (size_t i = 0; i < from->count; i++)
		KH_GUARD(ring_push(to, from->terms[i].term, from->terms[i].created_ns,
		                   from->terms[i].key));
	to->current = from->current;
	return KH_OK;
}

/* Stores next as the keyring and, once committed, makes it the live one. Caller holds admin. */
static kh_rc ring_replace(struct kh_barrier *b, struct kh_barrier_keyring *next)
{
	kh_rc rc = KH_OK;
	struct kh_buf blob;
	kh_buf_init(&blob, RING_MAX_LEN + 64, KH_BUF_PLAIN);
	pthread_rwlock_rdlock(&b->lock);
	rc = b->unsealed
	         ? kh_barrier_keyring_seal(next, KH_SLICE(b->unseal_key, KH_BARRIER_KEY_LEN), &blob)
	         : KH_ERR_SEALED;
	pthread_rwlock_unlock(&b->lock);
	KH_GUARD_OUT(rc);
	struct ring_write w = {.keyring = kh_buf_slice(&blob)};
	KH_GUARD_OUT(kh_store_write(b->store, ring_write_fn, &w));
	pthread_rwlock_wrlock(&b->lock);
	if (b->unsealed) {
		kh_barrier_keyring_wipe(&b->ring);
		b->ring = *next;
		next->count = 0;
	}
	pthread_rwlock_unlock(&b->lock);
out:
	kh_buf_cleanup(&blob);
	return rc;
}

static kh_rc live_copy(struct kh_barrier *b, struct kh_barrier_keyring *out)
{
	pthread_rwlock_rdlock(&b->lock);
	kh_rc rc = b->unsealed ? ring_copy(&b->ring, out) : KH_ERR_SEALED;
	pthread_rwlock_unlock(&b->lock);
	return rc;
}

kh_rc kh_barrier_rotate_root(struct kh_barrier *b, uint32_t *out_term)
{
	kh_rc rc = KH_OK;
	struct kh_barrier_keyring next = {0};
	pthread_mutex_lock(&b->admin);
	KH_GUARD_OUT(live_copy(b, &next));
	uint32_t term = next.current + 1;
	KH_GUARD_OUT(kh_barrier_keyring_add(&next, term, kh_clock_now(b->clock)));
	KH_GUARD_OUT(ring_replace(b, &next));
	KH_LOG_INFO("root key rotated", KH_LF_UINT("term", term));
	*out_term = term;
out:
	kh_barrier_keyring_wipe(&next);
	pthread_mutex_unlock(&b->admin);
	return rc;
}

/* ---- rewrap ---- */

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
	KH_GUARD_OUT(ring_push(&next, cur->term, cur->created_ns, cur->key));
	next.current = cur->term;
	KH_GUARD_OUT(ring_replace(b, &next));
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
	KH_GUARD_OUT(live_copy(b, &live));
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
