// SPDX-License-Identifier: Apache-2.0
/*
 * The keyring: root key terms, their stored form (encrypted under the unseal key), and rotation
 * (a new term for new writes); rewrap.c moves old secrets to the current term.
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

kh_rc kh_barrier_keyring_push(struct kh_barrier_keyring *ring, uint32_t term, int64_t created_ns,
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
	KH_GUARD(kh_barrier_keyring_push(ring, term, created_ns, NULL));
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
		KH_GUARD(kh_barrier_keyring_push(out, term, (int64_t)kh_be64_get(e + 4), e + 12));
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
		KH_GUARD(kh_barrier_keyring_push(to, from->terms[i].term, from->terms[i].created_ns,
		                                 from->terms[i].key));
	to->current = from->current;
	return KH_OK;
}

/* Stores next as the keyring and, once committed, makes it the live one. Caller holds admin. */
kh_rc kh_barrier_ring_replace(struct kh_barrier *b, struct kh_barrier_keyring *next)
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

kh_rc kh_barrier_ring_live_copy(struct kh_barrier *b, struct kh_barrier_keyring *out)
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
	KH_GUARD_OUT(kh_barrier_ring_live_copy(b, &next));
	uint32_t term = next.current + 1;
	KH_GUARD_OUT(kh_barrier_keyring_add(&next, term, kh_clock_now(b->clock)));
	KH_GUARD_OUT(kh_barrier_ring_replace(b, &next));
	KH_LOG_INFO("root key rotated", KH_LF_UINT("term", term));
	*out_term = term;
out:
	kh_barrier_keyring_wipe(&next);
	pthread_mutex_unlock(&b->admin);
	return rc;
}

/* ---- for backups ---- */

kh_rc kh_barrier_backup_source(struct kh_barrier *b, struct kh_barrier_config *out_cfg,
                               struct kh_buf *out_keyring, struct kh_barrier_keyring *out_ring)
{
	kh_rc rc = KH_OK;
	bool found = false;
	struct kh_barrier_config cfg;
	struct kh_barrier_keyring ring = {0};
	pthread_mutex_lock(&b->admin);
	KH_GUARD_OUT(kh_barrier_ring_live_copy(b, &ring));
	KH_GUARD_OUT(kh_barrier_config_load(b, &cfg, &found));
	KH_ENSURE_OUT(found, KH_ERR_STORAGE);
	KH_GUARD_OUT(kh_barrier_meta_read(b, KH_META_KEYRING, out_keyring, &found));
	KH_ENSURE_OUT(found, KH_ERR_STORAGE);
	*out_cfg = cfg;
	*out_ring = ring;
	ring.count = 0;
out:
	kh_barrier_keyring_wipe(&ring);
	pthread_mutex_unlock(&b->admin);
	return rc;
}

kh_rc kh_barrier_ring_open_live(struct kh_barrier *b, struct kh_slice blob,
                                struct kh_barrier_keyring *out)
{
	pthread_rwlock_rdlock(&b->lock);
	kh_rc rc =
	    b->unsealed
	        ? kh_barrier_keyring_open(blob, KH_SLICE(b->unseal_key, KH_BARRIER_KEY_LEN), out)
	        : KH_ERR_SEALED;
	pthread_rwlock_unlock(&b->lock);
	return rc;
}
