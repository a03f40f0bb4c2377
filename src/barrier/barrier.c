// SPDX-License-Identifier: Apache-2.0
/*
 * Sealing and unsealing: init makes the unseal key and its shares, unseal collects shares until
 * the threshold and opens the keyring, seal wipes it, rekey replaces the shares. The unseal key
 * itself is never stored, only its shares handed out (and, with a token, its wrapping).
 */
#include <string.h>

#include "barrier/kh_barrier_int.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "store/kh_store_barrier.h"

#define SHARE_MAX (KH_SHAMIR_OVERHEAD + KH_BARRIER_KEY_LEN)

static const char hsm_ad[] = "keyhold/v1/hsm-unseal-key";

static void config_encode(const struct kh_barrier_config *c, uint8_t out[KH_BARRIER_CONFIG_LEN])
{
	out[0] = KH_BARRIER_FORMAT;
	out[1] = (uint8_t)c->kind;
	out[2] = (uint8_t)c->shares;
	out[3] = (uint8_t)c->threshold;
	memcpy(out + 4, c->set_id, KH_BARRIER_SET_ID_LEN);
}

/* ---- life cycle ---- */

kh_rc kh_barrier_new(const struct kh_barrier_options *opts, struct kh_barrier **out)
{
	KH_ENSURE(opts != NULL && opts->store != NULL && opts->clock != NULL, KH_ERR_BAD_INPUT);
	struct kh_barrier *b = kh_calloc(1, sizeof(*b));
	KH_ENSURE(b != NULL, KH_ERR_NOMEM);
	b->store = opts->store;
	b->clock = opts->clock;
	b->pkcs11 = opts->pkcs11;
	pthread_mutex_init(&b->admin, NULL);
	pthread_rwlock_init(&b->lock, NULL);
	pthread_mutex_init(&b->listeners_mu, NULL);
	for (size_t i = 0; i < KH_LIMIT_SHARES_MAX; i++)
		kh_buf_init(&b->pending[i], SHARE_MAX, KH_BUF_SECURE);
	*out = b;
	return KH_OK;
}

static void pending_reset(struct kh_barrier *b)
{
	for (unsigned i = 0; i < b->pending_count; i++)
		kh_buf_cleanup(&b->pending[i]);
	b->pending_count = 0;
}

/* Wipes the unsealed state; returns whether it was unsealed. */
static bool wipe_unsealed(struct kh_barrier *b)
{
	pthread_rwlock_wrlock(&b->lock);
	bool was = b->unsealed;
	b->unsealed = false;
	kh_barrier_keyring_wipe(&b->ring);
	kh_secure_free(&b->unseal_key);
	pthread_rwlock_unlock(&b->lock);
	return was;
}

/* Listeners run under listeners_mu, so kh_barrier_off_seal cannot return while one of them is
 * still running (its owner may free what arg points to right after). */
static void notify_sealed(struct kh_barrier *b)
{
	pthread_mutex_lock(&b->listeners_mu);
	for (size_t i = 0; i < b->listener_count; i++)
		b->listeners[i].fn(b->listeners[i].arg);
	pthread_mutex_unlock(&b->listeners_mu);
}

void kh_barrier_free(struct kh_barrier **bp)
{
	struct kh_barrier *b = *bp;
	if (b == NULL)
		return;
	if (wipe_unsealed(b))
		notify_sealed(b);
	pending_reset(b);
	pthread_mutex_destroy(&b->admin);
	pthread_rwlock_destroy(&b->lock);
	pthread_mutex_destroy(&b->listeners_mu);
	kh_free(bp);
}

kh_rc kh_barrier_on_seal(struct kh_barrier *b, kh_barrier_seal_fn fn, void *arg)
{
	KH_ENSURE(fn != NULL, KH_ERR_BAD_INPUT);
	pthread_mutex_lock(&b->listeners_mu);
	kh_rc rc = KH_ERR_TOO_LARGE;
	if (b->listener_count < KH_BARRIER_MAX_LISTENERS) {
		b->listeners[b->listener_count++] = (struct kh_barrier_listener){fn, arg};
		rc = KH_OK;
	}
	pthread_mutex_unlock(&b->listeners_mu);
	return rc;
}

void kh_barrier_off_seal(struct kh_barrier *b, kh_barrier_seal_fn fn, void *arg)
{
	pthread_mutex_lock(&b->listeners_mu);
	for (size_t i = 0; i < b->listener_count; i++) {
		if (b->listeners[i].fn == fn && b->listeners[i].arg == arg) {
			b->listeners[i] = b->listeners[--b->listener_count];
			break;
		}
	}
	pthread_mutex_unlock(&b->listeners_mu);
}

kh_rc kh_barrier_seal(struct kh_barrier *b)
{
	pthread_mutex_lock(&b->admin);
	pending_reset(b);
	bool was = wipe_unsealed(b);
	pthread_mutex_unlock(&b->admin);
	if (was) {
		KH_LOG_INFO("barrier sealed", KH_LF_NONE);
		notify_sealed(b);
	}
	return KH_OK;
}

kh_rc kh_barrier_status(struct kh_barrier *b, struct kh_barrier_status *out)
{
	struct kh_barrier_config cfg = {0};
	bool found = false;
	KH_GUARD(kh_barrier_config_load(b, &cfg, &found));
	struct kh_barrier_status st = {.initialized = found, .sealed = true};
	if (found) {
		st.hsm = cfg.kind == KH_SEAL_SHARES_HSM;
		st.shares = cfg.shares;
		st.threshold = cfg.threshold;
	}
	pthread_mutex_lock(&b->admin);
	st.progress = b->pending_count;
	pthread_mutex_unlock(&b->admin);
	pthread_rwlock_rdlock(&b->lock);
	st.sealed = !b->unsealed;
	if (b->unsealed) {
		st.term = b->ring.current;
		st.oldest_term = b->ring.current;
		for (size_t i = 0; i < b->ring.count; i++) {
			if (b->ring.terms[i].term < st.oldest_term)
				st.oldest_term = b->ring.terms[i].term;
		}
	}
	pthread_rwlock_unlock(&b->lock);
	*out = st;
	return KH_OK;
}

/* ---- shares ---- */

void kh_barrier_shares_free(struct kh_barrier_shares **sp)
{
	struct kh_barrier_shares *s = *sp;
	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->count; i++)
		kh_buf_cleanup(&s->share[i]);
	kh_free(sp);
}

/* Splits key into n shares with threshold k; out_set_id gets the split's set id. */
static kh_rc split_key(struct kh_slice key, unsigned n, unsigned k, struct kh_barrier_shares **out,
                       uint8_t out_set_id[KH_BARRIER_SET_ID_LEN])
{
	kh_rc rc = KH_OK;
	struct kh_shamir_info info;
	KH_ENSURE(n >= 1 && n <= KH_LIMIT_SHARES_MAX, KH_ERR_BAD_INPUT);
	KH_ENSURE(k >= 1 && k <= n && (k >= 2 || n == 1), KH_ERR_BAD_INPUT);
	struct kh_barrier_shares *s = kh_calloc(1, sizeof(*s) + n * sizeof(s->share[0]));
	KH_ENSURE(s != NULL, KH_ERR_NOMEM);
	s->count = n;
	for (unsigned i = 0; i < n; i++)
		kh_buf_init(&s->share[i], SHARE_MAX, KH_BUF_SECURE);
	KH_GUARD_OUT(kh_shamir_split(key, n, k, s->share));
	KH_GUARD_OUT(kh_shamir_share_parse(kh_buf_slice(&s->share[0]), &info));
	memcpy(out_set_id, info.set_id, KH_BARRIER_SET_ID_LEN);
	*out = s;
	s = NULL;
out:
	kh_barrier_shares_free(&s);
	return rc;
}

/* ---- init ---- */

struct init_write {
	struct kh_slice config;
	struct kh_slice keyring;
	struct kh_slice hsm; /* empty without a token */
	bool rekey;
};

static kh_rc init_write_fn(struct kh_store_tx *tx, void *arg)
{
	struct init_write *w = arg;
	struct kh_buf existing;
	bool found = false;
	kh_buf_init(&existing, KH_BARRIER_META_MAX, KH_BUF_PLAIN);
	kh_rc rc = kh_barrier_meta_get(tx, KH_META_CONFIG, &existing, &found);
	kh_buf_cleanup(&existing);
	KH_GUARD(rc);
	/* Checked again inside the transaction: two nodes may race to initialise. */
	KH_ENSURE(found == w->rekey, KH_ERR_CONFLICT);
	KH_GUARD(kh_barrier_meta_put(tx, KH_META_CONFIG, w->config));
	KH_GUARD(kh_barrier_meta_put(tx, KH_META_KEYRING, w->keyring));
	if (w->hsm.len > 0)
		KH_GUARD(kh_barrier_meta_put(tx, KH_META_HSM, w->hsm));
	return KH_OK;
}

/* Wraps the unseal key in the token, creating the token key when create is set. */
static kh_rc hsm_wrap(struct kh_barrier *b, struct kh_slice unseal_key, bool create,
                      struct kh_buf *out)
{
	struct kh_pkcs11 *p = NULL;
	KH_GUARD(kh_pkcs11_open(b->pkcs11, &p));
	kh_rc rc = kh_pkcs11_key_find(p, create);
	if (rc == KH_OK)
		rc = kh_pkcs11_encrypt(p, unseal_key, KH_SLICE_LIT(hsm_ad), out);
	kh_pkcs11_close(&p);
	return rc;
}

/*
 * Stores a keyring under a fresh unseal key with fresh shares: used by init (with a new
 * keyring) and rekey (with the existing one). On success *out gets the shares and
 * *out_unseal_key the new key (secure).
 */
static kh_rc store_under_new_key(struct kh_barrier *b, const struct kh_barrier_keyring *ring,
                                 unsigned n, unsigned k, bool rekey, struct kh_barrier_shares **out,
                                 uint8_t **out_unseal_key)
{
	kh_rc rc = KH_OK;
	struct kh_barrier_shares *shares = NULL;
	struct kh_barrier_config cfg = {.shares = n, .threshold = k};
	uint8_t config[KH_BARRIER_CONFIG_LEN];
	struct kh_buf keyring, hsm;
	uint8_t *key = kh_secure_alloc(KH_BARRIER_KEY_LEN);
	kh_buf_init(&keyring, KH_BARRIER_META_MAX, KH_BUF_PLAIN);
	kh_buf_init(&hsm, KH_BARRIER_META_MAX, KH_BUF_PLAIN);
	KH_ENSURE_OUT(key != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(kh_rand_secret(key, KH_BARRIER_KEY_LEN));
	struct kh_slice key_s = KH_SLICE(key, KH_BARRIER_KEY_LEN);
	KH_GUARD_OUT(split_key(key_s, n, k, &shares, cfg.set_id));
	KH_GUARD_OUT(kh_barrier_keyring_seal(ring, key_s, &keyring));
	cfg.kind = KH_SEAL_SHARES;
	if (b->pkcs11 != NULL) {
		KH_GUARD_OUT(hsm_wrap(b, key_s, true, &hsm));
		cfg.kind = KH_SEAL_SHARES_HSM;
	}
	config_encode(&cfg, config);
	struct init_write w = {.config = KH_SLICE(config, sizeof(config)),
	                       .keyring = kh_buf_slice(&keyring),
	                       .hsm = kh_buf_slice(&hsm),
	                       .rekey = rekey};
	KH_GUARD_OUT(kh_store_write(b->store, init_write_fn, &w));
	*out = shares;
	shares = NULL;
	*out_unseal_key = key;
	key = NULL;
out:
	kh_barrier_shares_free(&shares);
	kh_secure_free(&key);
	kh_buf_cleanup(&keyring);
	kh_buf_cleanup(&hsm);
	return rc;
}

kh_rc kh_barrier_init(struct kh_barrier *b, unsigned n, unsigned k, struct kh_barrier_shares **out)
{
	kh_rc rc = KH_OK;
	struct kh_barrier_keyring ring = {0};
	struct kh_barrier_config cfg;
	uint8_t *key = NULL;
	bool found = false;
	pthread_mutex_lock(&b->admin);
	KH_GUARD_OUT(kh_barrier_config_load(b, &cfg, &found));
	KH_ENSURE_OUT(!found, KH_ERR_CONFLICT);
	KH_GUARD_OUT(kh_barrier_keyring_add(&ring, 1, kh_clock_now(b->clock)));
	KH_GUARD_OUT(store_under_new_key(b, &ring, n, k, false, out, &key));
	KH_LOG_INFO("barrier initialised", KH_LF_UINT("shares", n), KH_LF_UINT("threshold", k),
	            KH_LF_STR("token", b->pkcs11 != NULL ? "yes" : "no"));
out:
	kh_secure_free(&key);
	kh_barrier_keyring_wipe(&ring);
	pthread_mutex_unlock(&b->admin);
	return rc;
}

/* ---- unseal ---- */

/* Opens the stored keyring with key and makes the barrier unsealed. Caller holds admin. */
static kh_rc open_keyring(struct kh_barrier *b, struct kh_slice key)
{
	kh_rc rc = KH_OK;
	struct kh_buf blob;
	struct kh_barrier_keyring ring = {0};
	bool found = false;
	uint8_t *key_copy = kh_secure_alloc(KH_BARRIER_KEY_LEN);
	kh_buf_init(&blob, KH_BARRIER_META_MAX, KH_BUF_PLAIN);
	KH_ENSURE_OUT(key_copy != NULL, KH_ERR_NOMEM);
	KH_ENSURE_OUT(key.len == KH_BARRIER_KEY_LEN, KH_ERR_BAD_SHARE);
	KH_GUARD_OUT(kh_barrier_meta_read(b, KH_META_KEYRING, &blob, &found));
	KH_ENSURE_OUT(found, KH_ERR_STORAGE);
	KH_GUARD_OUT(kh_barrier_keyring_open(kh_buf_slice(&blob), key, &ring));
	memcpy(key_copy, key.ptr, key.len);
	pthread_rwlock_wrlock(&b->lock);
	kh_barrier_keyring_wipe(&b->ring);
	kh_secure_free(&b->unseal_key);
	b->ring = ring;
	ring.count = 0;
	b->unseal_key = key_copy;
	key_copy = NULL;
	b->unsealed = true;
	pthread_rwlock_unlock(&b->lock);
	KH_LOG_INFO("barrier unsealed", KH_LF_UINT("term", b->ring.current));
out:
	kh_secure_free(&key_copy);
	kh_barrier_keyring_wipe(&ring);
	kh_buf_cleanup(&blob);
	return rc;
}

/* Checks a share against the configuration: form, split, threshold. */
static kh_rc share_check(const struct kh_barrier_config *cfg, struct kh_slice share,
                         struct kh_shamir_info *out)
{
	KH_GUARD(kh_shamir_share_parse(share, out));
	KH_ENSURE(memcmp(out->set_id, cfg->set_id, KH_BARRIER_SET_ID_LEN) == 0, KH_ERR_BAD_SHARE);
	KH_ENSURE(out->threshold == cfg->threshold, KH_ERR_BAD_SHARE);
	KH_ENSURE(out->secret_len == KH_BARRIER_KEY_LEN, KH_ERR_BAD_SHARE);
	return KH_OK;
}

/* Combines checked shares into the unseal key (secure buffer). */
static kh_rc combine(const struct kh_slice *shares, size_t count, struct kh_buf *key)
{
	return kh_shamir_combine(shares, count, key, NULL);
}

static kh_rc unseal_with_pending(struct kh_barrier *b)
{
	struct kh_slice shares[KH_LIMIT_SHARES_MAX];
	struct kh_buf key;
	kh_buf_init(&key, KH_BARRIER_KEY_LEN, KH_BUF_SECURE);
	for (unsigned i = 0; i < b->pending_count; i++)
		shares[i] = kh_buf_slice(&b->pending[i]);
	kh_rc rc = combine(shares, b->pending_count, &key);
	if (rc == KH_OK)
		rc = open_keyring(b, kh_buf_slice(&key));
	kh_buf_cleanup(&key);
	pending_reset(b);
	/* Shares that combine but do not open the keyring are wrong shares. */
	return rc == KH_ERR_DECRYPT ? KH_ERR_BAD_SHARE : rc;
}

static kh_rc unseal_locked(struct kh_barrier *b, struct kh_slice share,
                           struct kh_barrier_progress *out)
{
	struct kh_barrier_config cfg;
	struct kh_shamir_info info;
	bool found = false;
	KH_GUARD(kh_barrier_config_load(b, &cfg, &found));
	KH_ENSURE(found, KH_ERR_CONFLICT);
	*out = (struct kh_barrier_progress){.sealed = true, .threshold = cfg.threshold};
	pthread_rwlock_rdlock(&b->lock);
	bool unsealed = b->unsealed;
	pthread_rwlock_unlock(&b->lock);
	if (unsealed) {
		out->sealed = false;
		return KH_OK;
	}
	KH_GUARD(share_check(&cfg, share, &info));
	for (unsigned i = 0; i < b->pending_count; i++) {
		struct kh_shamir_info given;
		KH_GUARD(kh_shamir_share_parse(kh_buf_slice(&b->pending[i]), &given));
		KH_ENSURE(given.index != info.index, KH_ERR_CONFLICT);
	}
	KH_GUARD(kh_buf_append(&b->pending[b->pending_count], share));
	b->pending_count++;
	out->progress = b->pending_count;
	if (b->pending_count < cfg.threshold)
		return KH_OK;
	KH_GUARD(unseal_with_pending(b));
	*out = (struct kh_barrier_progress){.sealed = false, .threshold = cfg.threshold};
	return KH_OK;
}

kh_rc kh_barrier_unseal(struct kh_barrier *b, struct kh_slice share,
                        struct kh_barrier_progress *out)
{
	struct kh_barrier_progress p;
	pthread_mutex_lock(&b->admin);
	kh_rc rc = unseal_locked(b, share, &p);
	pthread_mutex_unlock(&b->admin);
	if (rc == KH_OK)
		*out = p;
	return rc;
}

void kh_barrier_unseal_reset(struct kh_barrier *b)
{
	pthread_mutex_lock(&b->admin);
	pending_reset(b);
	pthread_mutex_unlock(&b->admin);
}

kh_rc kh_barrier_unseal_auto(struct kh_barrier *b)
{
	kh_rc rc = KH_OK;
	struct kh_barrier_config cfg;
	struct kh_pkcs11 *p = NULL;
	struct kh_buf wrapped, key;
	bool found = false;
	kh_buf_init(&wrapped, KH_BARRIER_META_MAX, KH_BUF_PLAIN);
	kh_buf_init(&key, KH_BARRIER_KEY_LEN, KH_BUF_SECURE);
	pthread_mutex_lock(&b->admin);
	KH_GUARD_OUT(kh_barrier_config_load(b, &cfg, &found));
	KH_ENSURE_OUT(found && cfg.kind == KH_SEAL_SHARES_HSM && b->pkcs11 != NULL,
	              KH_ERR_CONFLICT);
	KH_GUARD_OUT(kh_barrier_meta_read(b, KH_META_HSM, &wrapped, &found));
	KH_ENSURE_OUT(found, KH_ERR_STORAGE);
	KH_GUARD_OUT(kh_pkcs11_open(b->pkcs11, &p));
	KH_GUARD_OUT(kh_pkcs11_key_find(p, false));
	KH_GUARD_OUT(kh_pkcs11_decrypt(p, kh_buf_slice(&wrapped), KH_SLICE_LIT(hsm_ad), &key));
	KH_GUARD_OUT(open_keyring(b, kh_buf_slice(&key)));
	pending_reset(b);
out:
	kh_pkcs11_close(&p);
	kh_buf_cleanup(&key);
	kh_buf_cleanup(&wrapped);
	pthread_mutex_unlock(&b->admin);
	return rc;
}

/* ---- rekey ---- */

/* Opens the stored keyring with old shares into ring (without unsealing). */
static kh_rc open_with_shares(struct kh_barrier *b, const struct kh_barrier_config *cfg,
                              const struct kh_slice *shares, size_t count,
                              struct kh_barrier_keyring *ring)
{
	kh_rc rc = KH_OK;
	struct kh_shamir_info info;
	struct kh_buf key, blob;
	bool found = false;
	kh_buf_init(&key, KH_BARRIER_KEY_LEN, KH_BUF_SECURE);
	kh_buf_init(&blob, KH_BARRIER_META_MAX, KH_BUF_PLAIN);
	KH_ENSURE_OUT(count >= cfg->threshold && count <= KH_LIMIT_SHARES_MAX, KH_ERR_BAD_SHARE);
	for (size_t i = 0; i < count; i++)
		KH_GUARD_OUT(share_check(cfg, shares[i], &info));
	KH_GUARD_OUT(combine(shares, count, &key));
	KH_GUARD_OUT(kh_barrier_meta_read(b, KH_META_KEYRING, &blob, &found));
	KH_ENSURE_OUT(found, KH_ERR_STORAGE);
	rc = kh_barrier_keyring_open(kh_buf_slice(&blob), kh_buf_slice(&key), ring);
	if (rc == KH_ERR_DECRYPT)
		rc = KH_ERR_BAD_SHARE;
out:
	kh_buf_cleanup(&key);
	kh_buf_cleanup(&blob);
	return rc;
}

kh_rc kh_barrier_rekey(struct kh_barrier *b, const struct kh_slice *old_shares, size_t old_count,
                       unsigned n, unsigned k, struct kh_barrier_shares **out)
{
	kh_rc rc = KH_OK;
	struct kh_barrier_config cfg;
	struct kh_barrier_keyring ring = {0};
	uint8_t *key = NULL;
	bool found = false;
	KH_ENSURE(old_shares != NULL || old_count == 0, KH_ERR_BAD_INPUT);
	pthread_mutex_lock(&b->admin);
	KH_GUARD_OUT(kh_barrier_config_load(b, &cfg, &found));
	KH_ENSURE_OUT(found, KH_ERR_CONFLICT);
	KH_GUARD_OUT(open_with_shares(b, &cfg, old_shares, old_count, &ring));
	KH_GUARD_OUT(store_under_new_key(b, &ring, n, k, true, out, &key));
	pthread_rwlock_wrlock(&b->lock);
	if (b->unsealed) {
		kh_secure_free(&b->unseal_key);
		b->unseal_key = key;
		key = NULL;
	}
	pthread_rwlock_unlock(&b->lock);
	pending_reset(b);
	KH_LOG_INFO("barrier rekeyed", KH_LF_UINT("shares", n), KH_LF_UINT("threshold", k));
out:
	kh_secure_free(&key);
	kh_barrier_keyring_wipe(&ring);
	pthread_mutex_unlock(&b->admin);
	return rc;
}
