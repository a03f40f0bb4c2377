// SPDX-License-Identifier: Apache-2.0
/*
 * Secrets at rest: every secret the layers above store is encrypted here under the current
 * root key term, bound by associated data to its scope (its row address) and term, so a blob
 * moved to another row, or relabelled with another term, does not decrypt.
 */
#include <string.h>

#include "barrier/kh_barrier_int.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "store/kh_store_barrier.h"

#define SECRET_HEADER_LEN 5u /* format | term */
#define SECRET_AD_PREFIX "keyhold/v1/sealed"
#define SECRET_AD_MAX (sizeof(SECRET_AD_PREFIX) + 4u + KH_BARRIER_SCOPE_MAX)

static kh_rc check_scope(const char *scope, size_t *out_len)
{
	KH_ENSURE(scope != NULL, KH_ERR_BAD_INPUT);
	size_t len = strnlen(scope, KH_BARRIER_SCOPE_MAX + 1);
	KH_ENSURE(len >= 1 && len <= KH_BARRIER_SCOPE_MAX, KH_ERR_BAD_INPUT);
	*out_len = len;
	return KH_OK;
}

/* AD = "keyhold/v1/sealed" 0x00 | term (4) | scope */
static size_t secret_ad(uint8_t *ad, uint32_t term, const char *scope, size_t scope_len)
{
	memcpy(ad, SECRET_AD_PREFIX, sizeof(SECRET_AD_PREFIX)); /* with its NUL */
	kh_be32_put(ad + sizeof(SECRET_AD_PREFIX), term);
	memcpy(ad + sizeof(SECRET_AD_PREFIX) + 4, scope, scope_len);
	return sizeof(SECRET_AD_PREFIX) + 4 + scope_len;
}

static kh_rc seal_under(const struct kh_barrier_term *t, const char *scope, struct kh_slice secret,
                        struct kh_buf *out)
{
	size_t scope_len = 0;
	uint8_t ad[SECRET_AD_MAX];
	uint8_t header[SECRET_HEADER_LEN];
	KH_GUARD(check_scope(scope, &scope_len));
	KH_ENSURE(secret.len >= 1, KH_ERR_BAD_INPUT);
	KH_ENSURE(secret.len <= KH_BARRIER_SECRET_MAX, KH_ERR_TOO_LARGE);
	size_t ad_len = secret_ad(ad, t->term, scope, scope_len);
	header[0] = KH_BARRIER_FORMAT;
	kh_be32_put(header + 1, t->term);
	KH_GUARD(kh_buf_append(out, KH_SLICE(header, sizeof(header))));
	return kh_barrier_aead_seal(KH_SLICE(t->key, KH_BARRIER_KEY_LEN), KH_SLICE(ad, ad_len),
	                            secret, out);
}

/* Opens a stored blob with the ring (caller holds the lock that keeps ring alive). */
static kh_rc open_with(const struct kh_barrier_keyring *ring, const char *scope,
                       struct kh_slice blob, struct kh_buf *out)
{
	size_t scope_len = 0;
	uint8_t ad[SECRET_AD_MAX];
	KH_GUARD(check_scope(scope, &scope_len));
	KH_ENSURE(blob.len > SECRET_HEADER_LEN && blob.ptr[0] == KH_BARRIER_FORMAT, KH_ERR_DECRYPT);
	uint32_t term = kh_be32_get(blob.ptr + 1);
	const struct kh_barrier_term *t = kh_barrier_keyring_find(ring, term);
	KH_ENSURE(t != NULL, KH_ERR_DECRYPT);
	size_t ad_len = secret_ad(ad, term, scope, scope_len);
	return kh_barrier_aead_open(
	    KH_SLICE(t->key, KH_BARRIER_KEY_LEN), KH_SLICE(ad, ad_len),
	    KH_SLICE(blob.ptr + SECRET_HEADER_LEN, blob.len - SECRET_HEADER_LEN), out);
}

kh_rc kh_barrier_secret_reseal(const struct kh_barrier_keyring *ring, const char *scope,
                               struct kh_slice blob, struct kh_buf *out)
{
	kh_rc rc = KH_OK;
	struct kh_buf plain;
	const struct kh_barrier_term *cur = kh_barrier_keyring_find(ring, ring->current);
	KH_ENSURE(cur != NULL, KH_ERR_INTERNAL);
	kh_buf_init(&plain, KH_BARRIER_SECRET_MAX, KH_BUF_SECURE);
	KH_GUARD_OUT(open_with(ring, scope, blob, &plain));
	KH_GUARD_OUT(seal_under(cur, scope, kh_buf_slice(&plain), out));
out:
	kh_buf_cleanup(&plain);
	return rc;
}

kh_rc kh_barrier_put(struct kh_barrier *b, struct kh_store_tx *tx, const char *scope,
                     struct kh_slice secret)
{
	kh_rc rc = KH_OK;
	struct kh_buf blob;
	uint32_t term = 0;
	kh_buf_init(&blob, KH_BARRIER_SECRET_MAX + 64, KH_BUF_PLAIN);
	pthread_rwlock_rdlock(&b->lock);
	if (!b->unsealed) {
		rc = KH_ERR_SEALED;
	} else {
		const struct kh_barrier_term *cur =
		    kh_barrier_keyring_find(&b->ring, b->ring.current);
		term = b->ring.current;
		rc = cur != NULL ? seal_under(cur, scope, secret, &blob) : KH_ERR_INTERNAL;
	}
	pthread_rwlock_unlock(&b->lock);
	KH_GUARD_OUT(rc);
	struct kh_store_val v[] = {KH_SV_TEXT(scope), KH_SV_INT(term),
	                           KH_SV_BLOB(kh_buf_slice(&blob))};
	KH_GUARD_OUT(kh_store_exec(tx, &kh_q_sealed_put, v, KH_SV_COUNT(v), NULL));
out:
	kh_buf_cleanup(&blob);
	return rc;
}

kh_rc kh_barrier_get(struct kh_barrier *b, struct kh_store_tx *tx, const char *scope,
                     struct kh_buf *out)
{
	kh_rc rc = KH_OK;
	struct kh_store_rows *rows = NULL;
	struct kh_slice blob;
	bool found = false;
	size_t scope_len = 0;
	KH_GUARD(check_scope(scope, &scope_len));
	KH_ENSURE((out->flags & KH_BUF_SECURE) != 0, KH_ERR_INTERNAL);
	struct kh_store_val v[] = {KH_SV_TEXT(scope)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_sealed_get, v, 1, &rows, &found));
	KH_ENSURE_OUT(found, KH_ERR_NOT_FOUND);
	KH_GUARD_OUT(kh_store_rows_blob(rows, 0, &blob));
	pthread_rwlock_rdlock(&b->lock);
	rc = b->unsealed ? open_with(&b->ring, scope, blob, out) : KH_ERR_SEALED;
	pthread_rwlock_unlock(&b->lock);
out:
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_barrier_delete(struct kh_barrier *b, struct kh_store_tx *tx, const char *scope)
{
	size_t scope_len = 0;
	(void)b;
	KH_GUARD(check_scope(scope, &scope_len));
	struct kh_store_val v[] = {KH_SV_TEXT(scope)};
	return kh_store_exec(tx, &kh_q_sealed_delete, v, 1, NULL);
}

kh_rc kh_barrier_delete_prefix(struct kh_barrier *b, struct kh_store_tx *tx, const char *prefix)
{
	size_t len = 0;
	(void)b;
	KH_GUARD(check_scope(prefix, &len));
	struct kh_store_val v[] = {KH_SV_INT(len), KH_SV_TEXT(prefix)};
	return kh_store_exec(tx, &kh_q_sealed_delete_prefix, v, KH_SV_COUNT(v), NULL);
}
