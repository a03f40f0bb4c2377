// SPDX-License-Identifier: Apache-2.0
/*
 * The key management centre (PKI.md "KMC"): encryption key pairs made ahead in a pool, sealed
 * by the barrier, archived for their whole life (spare -> in use -> history) and handed out
 * only as envelopes.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "pki/kh_pki_int.h"

enum kh_pkey_type kh_pki_kmc_family(enum kh_pkey_type t)
{
	switch (t) {
	case KH_PKEY_SM2:
		return KH_PKEY_SM2;
	case KH_PKEY_EC_P256:
	case KH_PKEY_EC_P384:
		return KH_PKEY_EC_P256;
	case KH_PKEY_RSA_2048:
	case KH_PKEY_RSA_3072:
	case KH_PKEY_RSA_4096:
		return KH_PKEY_RSA_2048;
	case KH_PKEY_ED25519:
		break;
	}
	return 0;
}

const char *kh_pki_pkey_type_name(enum kh_pkey_type t)
{
	switch (t) {
	case KH_PKEY_RSA_2048:
		return "rsa-2048";
	case KH_PKEY_RSA_3072:
		return "rsa-3072";
	case KH_PKEY_RSA_4096:
		return "rsa-4096";
	case KH_PKEY_EC_P256:
		return "ecdsa-p256";
	case KH_PKEY_EC_P384:
		return "ecdsa-p384";
	case KH_PKEY_ED25519:
		return "ed25519";
	case KH_PKEY_SM2:
		return "sm2";
	}
	return "unknown";
}

/* ---- sealed pairs ---- */

#define FILL_BATCH 64u
#define REFILL_PASS_NS (KH_NS_PER_SEC / 4)
#define UNCLAIMED_NS (600 * KH_NS_PER_SEC)
#define DAY_NS (INT64_C(86400) * KH_NS_PER_SEC)

static void scope_of(int64_t id, char out[32])
{
	snprintf(out, 32, "kmc/%lld", (long long)id);
}

struct fill_batch {
	struct kh_pki *pk;
	enum kh_pkey_type family;
	int64_t now;
	size_t n;
	struct kh_buf priv[FILL_BATCH]; /* secure: PKCS#8 */
	struct kh_buf pub[FILL_BATCH];  /* SubjectPublicKeyInfo */
	size_t stored;
};

static kh_rc store_batch(struct kh_store_tx *tx, void *arg)
{
	struct fill_batch *b = arg;
	for (size_t i = 0; i < b->n; i++) {
		struct kh_store_rows *rows = NULL;
		bool found = false;
		int64_t id = 0;
		char scope[32];
		struct kh_store_val v[] = {
		    KH_SV_TEXT(kh_pki_pkey_type_name(b->family)),
		    KH_SV_TEXT("spare"),
		    KH_SV_BLOB(kh_buf_slice(&b->pub[i])),
		    KH_SV_INT(b->now),
		    KH_SV_NULL,
		};
		KH_GUARD(
		    kh_store_query_one(tx, &kh_q_kmc_key_insert, v, KH_SV_COUNT(v), &rows, &found));
		kh_rc rc = found ? kh_store_rows_int(rows, 0, &id) : KH_ERR_STORAGE;
		kh_store_rows_close(&rows);
		KH_GUARD(rc);
		scope_of(id, scope);
		KH_GUARD(kh_barrier_put(b->pk->barrier, tx, scope, kh_buf_slice(&b->priv[i])));
	}
	b->stored = b->n;
	return KH_OK;
}

/* One pair, exported: the private half only into secure memory. */
static kh_rc make_pair(enum kh_pkey_type family, struct kh_buf *priv, struct kh_buf *pub)
{
	struct kh_pkey *key = NULL;
	KH_GUARD(kh_pkey_generate(family, &key));
	kh_rc rc = kh_pkey_export_private_der(key, priv);
	if (rc == KH_OK)
		rc = kh_pkey_export_public_der(key, pub);
	kh_pkey_free(&key);
	return rc;
}

static kh_rc fill_some(struct kh_pki *pk, struct fill_batch *b, size_t n)
{
	kh_rc rc = KH_OK;
	b->n = 0;
	b->stored = 0;
	for (size_t i = 0; i < n; i++) {
		kh_buf_init(&b->priv[i], KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_SECURE);
		kh_buf_init(&b->pub[i], KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
		b->n = i + 1;
		rc = make_pair(b->family, &b->priv[i], &b->pub[i]);
		if (rc != KH_OK)
			break;
	}
	if (rc == KH_OK) {
		b->now = kh_clock_now(pk->clock);
		rc = kh_store_write(pk->store, store_batch, b);
	}
	for (size_t i = 0; i < b->n; i++) {
		kh_buf_cleanup(&b->priv[i]);
		kh_buf_cleanup(&b->pub[i]);
	}
	return rc;
}

static bool family_ok(enum kh_pkey_type f)
{
	return f != 0 && kh_pki_kmc_family(f) == f;
}

kh_rc kh_pki_kmc_fill(struct kh_pki *pk, enum kh_pkey_type family, size_t count, size_t *out_made)
{
	size_t made = 0;
	kh_rc rc = KH_OK;
	KH_ENSURE(pk->barrier != NULL, KH_ERR_CONFLICT);
	KH_ENSURE(family_ok(family), KH_ERR_BAD_INPUT);
	struct fill_batch *b = kh_calloc(1, sizeof(*b));
	KH_ENSURE(b != NULL, KH_ERR_NOMEM);
	b->pk = pk;
	b->family = family;
	while (rc == KH_OK && made < count) {
		size_t n = count - made < FILL_BATCH ? count - made : FILL_BATCH;
		rc = fill_some(pk, b, n);
		made += b->stored;
	}
	kh_free(&b);
	if (out_made != NULL)
		*out_made = made;
	return rc;
}

static const enum kh_pkey_type families[] = {KH_PKEY_SM2, KH_PKEY_EC_P256, KH_PKEY_RSA_2048};

kh_rc kh_pki_kmc_depth(struct kh_pki *pk, enum kh_pkey_type family, uint64_t *out)
{
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	int64_t n = 0;
	struct kh_store_val v[] = {KH_SV_TEXT(kh_pki_pkey_type_name(family))};
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_store_query_one(tx, &kh_q_kmc_key_depth, v, 1, &rows, &found);
	if (rc == KH_OK)
		rc = found ? kh_store_rows_int(rows, 0, &n) : KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	*out = n > 0 ? (uint64_t)n : 0;
	return rc;
}

static kh_rc unclaimed_fn(struct kh_store_tx *tx, void *arg)
{
	struct kh_store_val v[] = {KH_SV_INT(*(const int64_t *)arg)};
	return kh_store_exec(tx, &kh_q_kmc_key_unclaimed, v, 1, NULL);
}

kh_rc kh_pki_kmc_refill(struct kh_pki *pk, size_t budget, size_t *out_made)
{
	size_t made = 0;
	if (out_made != NULL)
		*out_made = 0;
	if (pk->barrier == NULL)
		return KH_OK;
	int64_t before = kh_clock_now(pk->clock) - UNCLAIMED_NS;
	KH_GUARD(kh_store_write(pk->store, unclaimed_fn, &before));
	/* Round-robin in small steps, so that a slow family (RSA) does not starve the others;
	 * a pass ends after REFILL_PASS_NS so that the scheduler's other work is not held up. */
	int64_t end = kh_clock_mono_ns() + REFILL_PASS_NS;
	for (bool more = true; more && made < budget && kh_clock_mono_ns() < end;) {
		more = false;
		for (size_t i = 0; i < sizeof(families) / sizeof(families[0]) && made < budget;
		     i++) {
			uint64_t depth = 0;
			KH_GUARD(kh_pki_kmc_depth(pk, families[i], &depth));
			if (depth >= pk->kmc_pool_size)
				continue;
			size_t want = pk->kmc_pool_size - (size_t)depth;
			size_t step = families[i] == KH_PKEY_RSA_2048 ? 1 : 16;
			step = want < step ? want : step;
			step = budget - made < step ? budget - made : step;
			size_t n = 0;
			KH_GUARD(kh_pki_kmc_fill(pk, families[i], step, &n));
			made += n;
			more = true;
		}
	}
	if (out_made != NULL)
		*out_made = made;
	return KH_OK;
}

unsigned kh_pki_kmc_pool_size(const struct kh_pki *pk)
{
	return pk->kmc_pool_size;
}

uint64_t kh_pki_kmc_pool_misses(struct kh_pki *pk)
{
	return atomic_load_explicit(&pk->kmc_misses, memory_order_relaxed);
}

/* ---- taking a pair for a certificate ---- */

struct take_arg {
	struct kh_pki *pk;
	enum kh_pkey_type family;
	int64_t now;
	struct kh_buf *priv; /* secure */
	struct kh_buf *pub;  /* made on demand: store these */
	int64_t id;
};

static kh_rc take_fn(struct kh_store_tx *tx, void *arg)
{
	struct take_arg *a = arg;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	char scope[32];
	if (a->pub == NULL) {
		struct kh_store_val v[] = {KH_SV_INT(a->now),
		                           KH_SV_TEXT(kh_pki_pkey_type_name(a->family))};
		KH_GUARD(kh_store_query_one(tx, &kh_q_kmc_key_take, v, 2, &rows, &found));
	} else {
		struct kh_store_val v[] = {KH_SV_TEXT(kh_pki_pkey_type_name(a->family)),
		                           KH_SV_TEXT("in_use"), KH_SV_BLOB(kh_buf_slice(a->pub)),
		                           KH_SV_INT(a->now), KH_SV_INT(a->now)};
		KH_GUARD(
		    kh_store_query_one(tx, &kh_q_kmc_key_insert, v, KH_SV_COUNT(v), &rows, &found));
	}
	kh_rc rc = found ? kh_store_rows_int(rows, 0, &a->id) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	scope_of(a->id, scope);
	if (a->pub != NULL)
		return kh_barrier_put(a->pk->barrier, tx, scope, kh_buf_slice(a->priv));
	return kh_barrier_get(a->pk->barrier, tx, scope, a->priv);
}

kh_rc kh_pki_kmc_take(struct kh_pki *pk, enum kh_pkey_type family, struct kh_pki_kmc_pair *out)
{
	struct kh_buf priv, pub;
	*out = (struct kh_pki_kmc_pair){0};
	KH_ENSURE(pk->barrier != NULL, KH_ERR_CONFLICT);
	KH_ENSURE(family_ok(family), KH_ERR_BAD_INPUT);
	kh_buf_init(&priv, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_SECURE);
	kh_buf_init(&pub, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	struct take_arg a = {pk, family, kh_clock_now(pk->clock), &priv, NULL, 0};
	kh_rc rc = kh_store_write(pk->store, take_fn, &a);
	if (rc == KH_ERR_NOT_FOUND) {
		/* The pool is dry: make this one now (archived the same way) and count the miss. */
		atomic_fetch_add_explicit(&pk->kmc_misses, 1, memory_order_relaxed);
		kh_buf_clear(&priv);
		rc = make_pair(family, &priv, &pub);
		a.pub = &pub;
		if (rc == KH_OK)
			rc = kh_store_write(pk->store, take_fn, &a);
	}
	if (rc == KH_OK)
		rc = kh_pkey_import_private(kh_buf_slice(&priv), &out->key);
	if (rc == KH_OK)
		out->id = a.id;
	else if (a.id != 0)
		kh_pki_kmc_put_back(pk, &(struct kh_pki_kmc_pair){.id = a.id});
	kh_buf_cleanup(&priv);
	kh_buf_cleanup(&pub);
	return rc;
}

static kh_rc put_back_fn(struct kh_store_tx *tx, void *arg)
{
	struct kh_store_val v[] = {KH_SV_INT(*(const int64_t *)arg)};
	return kh_store_exec(tx, &kh_q_kmc_key_put_back, v, 1, NULL);
}

void kh_pki_kmc_put_back(struct kh_pki *pk, struct kh_pki_kmc_pair *pair)
{
	if (pair->id != 0 && kh_store_write(pk->store, put_back_fn, &pair->id) != KH_OK)
		KH_LOG_WARN("a KMC key pair could not go back to the pool; the refill will take it"
		            " back later",
		            KH_LF_INT("pair", pair->id));
	kh_pki_kmc_pair_free(pair);
}

void kh_pki_kmc_pair_free(struct kh_pki_kmc_pair *pair)
{
	kh_pkey_free(&pair->key);
	pair->id = 0;
}

kh_rc kh_pki_kmc_bind(struct kh_store_tx *tx, int64_t id, int64_t keystore_id, int64_t ca_id,
                      const char *serial, int64_t request_id)
{
	uint64_t changed = 0;
	struct kh_store_val v[] = {KH_SV_INT(keystore_id), KH_SV_INT(ca_id), KH_SV_TEXT(serial),
	                           request_id != 0 ? KH_SV_INT(request_id) : KH_SV_NULL,
	                           KH_SV_INT(id)};
	KH_GUARD(kh_store_exec(tx, &kh_q_kmc_key_bind, v, KH_SV_COUNT(v), &changed));
	KH_ENSURE(changed == 1, KH_ERR_CONFLICT);
	return KH_OK;
}

kh_rc kh_pki_kmc_retire(struct kh_pki *pk, struct kh_store_tx *tx, const char *serial,
                        const char *why, int64_t now, int64_t *out_id)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	*out_id = 0;
	int64_t until = now + (int64_t)pk->kmc_retention_days * DAY_NS;
	struct kh_store_val v[] = {KH_SV_TEXT(why), KH_SV_INT(now), KH_SV_INT(until),
	                           KH_SV_TEXT(serial)};
	KH_GUARD(
	    kh_store_query_one(tx, &kh_q_kmc_key_to_history, v, KH_SV_COUNT(v), &rows, &found));
	kh_rc rc = found ? kh_store_rows_int(rows, 0, out_id) : KH_OK;
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_pki_kmc_private(struct kh_pki *pk, struct kh_store_tx *tx, int64_t id,
                         struct kh_pkey **out)
{
	char scope[32];
	struct kh_buf priv;
	KH_ENSURE(pk->barrier != NULL, KH_ERR_CONFLICT);
	kh_buf_init(&priv, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_SECURE);
	scope_of(id, scope);
	kh_rc rc = kh_barrier_get(pk->barrier, tx, scope, &priv);
	if (rc == KH_OK)
		rc = kh_pkey_import_private(kh_buf_slice(&priv), out);
	kh_buf_cleanup(&priv);
	return rc;
}

kh_rc kh_pki_kmc_retire_change(struct kh_pki_change *ch, struct kh_store_tx *tx, const char *serial,
                               const char *why)
{
	int64_t id = 0;
	KH_GUARD(kh_pki_kmc_retire(ch->pk, tx, serial, why, ch->now, &id));
	if (id != 0) {
		ch->op2 = "pki.kmc.history";
		snprintf(ch->detail2, sizeof(ch->detail2),
		         "{\"kmc_key\":%lld,\"serial\":\"%s\",\"reason\":\"%s\"}", (long long)id,
		         serial, why);
	}
	return KH_OK;
}

/* ---- the archive ---- */

const char *kh_pki_kmc_state_text(enum kh_kmc_state s)
{
	switch (s) {
	case KH_KMC_SPARE:
		return "spare";
	case KH_KMC_IN_USE:
		return "in_use";
	case KH_KMC_HISTORY:
		return "history";
	}
	return "";
}

kh_rc kh_pki_kmc_state_parse(struct kh_slice s, enum kh_kmc_state *out)
{
	for (enum kh_kmc_state st = KH_KMC_SPARE; st <= KH_KMC_HISTORY; st++)
		if (kh_slice_eq(s, kh_slice_from_cstr(kh_pki_kmc_state_text(st)))) {
			*out = st;
			return KH_OK;
		}
	return KH_ERR_BAD_INPUT;
}

static kh_rc family_parse(struct kh_slice s, enum kh_pkey_type *out)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (kh_slice_eq(s, kh_slice_from_cstr(kh_pki_pkey_type_name(families[i])))) {
			*out = families[i];
			return KH_OK;
		}
	return KH_ERR_STORAGE;
}

kh_rc kh_pki_rows_int0(struct kh_store_rows *rows, unsigned col, int64_t *out)
{
	*out = 0;
	return kh_store_rows_is_null(rows, col) ? KH_OK : kh_store_rows_int(rows, col, out);
}

static kh_rc key_decode(struct kh_store_rows *rows, struct kh_kmc_key *out)
{
	struct kh_kmc_key k = {0};
	struct kh_slice s;
	KH_GUARD(kh_store_rows_int(rows, KH_QKK_ID, &k.id));
	KH_GUARD(kh_store_rows_text(rows, KH_QKK_ALGORITHM, &s));
	KH_GUARD(family_parse(s, &k.algorithm));
	KH_GUARD(kh_store_rows_text(rows, KH_QKK_STATE, &s));
	KH_ENSURE(kh_pki_kmc_state_parse(s, &k.state) == KH_OK, KH_ERR_STORAGE);
	KH_GUARD(kh_pki_rows_int0(rows, KH_QKK_KEYSTORE_ID, &k.keystore_id));
	KH_GUARD(kh_pki_rows_int0(rows, KH_QKK_CA_ID, &k.ca_id));
	KH_GUARD(kh_pki_rows_int0(rows, KH_QKK_REQUEST_ID, &k.request_id));
	if (!kh_store_rows_is_null(rows, KH_QKK_SERIAL))
		KH_GUARD(kh_store_rows_text_copy(rows, KH_QKK_SERIAL, k.serial, sizeof(k.serial)));
	if (!kh_store_rows_is_null(rows, KH_QKK_HISTORY_REASON))
		KH_GUARD(kh_store_rows_text_copy(rows, KH_QKK_HISTORY_REASON, k.history_reason,
		                                 sizeof(k.history_reason)));
	KH_GUARD(kh_store_rows_int(rows, KH_QKK_CREATED_AT, &k.created_at));
	KH_GUARD(kh_pki_rows_int0(rows, KH_QKK_USED_AT, &k.used_at));
	KH_GUARD(kh_pki_rows_int0(rows, KH_QKK_HISTORY_AT, &k.history_at));
	KH_GUARD(kh_pki_rows_int0(rows, KH_QKK_RETAIN_UNTIL, &k.retain_until));
	*out = k;
	return KH_OK;
}

#define ARCHIVE_READERS (KH_PKI_MANAGER | KH_PKI_RECOVERY | KH_PKI_OPERATOR)

kh_rc kh_pki_kmc_key_load(struct kh_store_tx *tx, const struct kh_store_query *q,
                          struct kh_store_val key, struct kh_kmc_key *out)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_GUARD(kh_store_query_one(tx, q, &key, 1, &rows, &found));
	kh_rc rc = found ? key_decode(rows, out) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_pki_kmc_key_get(struct kh_pki *pk, const struct kh_principal *p, int64_t id,
                         struct kh_kmc_key *out)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_pki_kmc_key_load(tx, &kh_q_kmc_key_get, KH_SV_INT(id), out);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	/* A spare pair is nobody's yet: only the operator sees it. */
	if (out->keystore_id == 0)
		return p->kind == KH_PRINCIPAL_OPERATOR ? KH_OK : KH_ERR_NOT_FOUND;
	return kh_pki_may(p, out->keystore_id, ARCHIVE_READERS);
}

kh_rc kh_pki_kmc_key_list(struct kh_pki *pk, const struct kh_principal *p,
                          const struct kh_kmc_key_filter *f, kh_kmc_key_fn fn, void *arg,
                          bool *out_more)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	unsigned n = 0;
	bool more = false;
	int64_t ks = p->kind == KH_PRINCIPAL_OPERATOR ? f->keystore_id : p->keystore_id;
	KH_GUARD(kh_pki_may(p, ks, ARCHIVE_READERS));
	KH_ENSURE(f->limit >= 1 && f->limit <= KH_LIMIT_PAGE_MAX, KH_ERR_BAD_INPUT);
	const char *state = f->state != 0 ? kh_pki_kmc_state_text(f->state) : "";
	struct kh_store_val v[] = {KH_SV_INT(ks), KH_SV_TEXT(state), KH_SV_INT(f->after_id),
	                           KH_SV_INT(f->limit + 1)};
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	KH_GUARD_OUT(kh_store_query(tx, &kh_q_kmc_key_list, v, KH_SV_COUNT(v), &rows));
	for (;;) {
		bool row = false;
		struct kh_kmc_key k;
		KH_GUARD_OUT(kh_store_rows_next(rows, &row));
		if (!row)
			break;
		if (n == f->limit) {
			more = true;
			break;
		}
		KH_GUARD_OUT(key_decode(rows, &k));
		KH_GUARD_OUT(fn(&k, arg));
		n++;
	}
	*out_more = more;
out:
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc;
}

/* ---- expiry ---- */

struct expire_arg {
	const char *serial;
	int64_t keystore_id;
};

static kh_rc expire_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct expire_arg *a = ch->arg;
	ch->keystore_id = a->keystore_id;
	snprintf(ch->detail, sizeof(ch->detail), "{\"serial\":\"%s\"}", a->serial);
	return kh_pki_kmc_retire_change(ch, tx, a->serial, "expired");
}

kh_rc kh_pki_kmc_expire_due(struct kh_pki *pk, size_t max, size_t *out_count)
{
	char serials[32][KH_PKI_SERIAL_HEX_MAX];
	int64_t stores[32];
	size_t n = 0;
	*out_count = 0;
	max = max < 32 ? max : 32;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	struct kh_store_val v[] = {KH_SV_INT(kh_clock_now(pk->clock)), KH_SV_INT(max)};
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_store_query(tx, &kh_q_kmc_key_expired, v, 2, &rows);
	while (rc == KH_OK && n < max) {
		bool row = false;
		rc = kh_store_rows_next(rows, &row);
		if (rc != KH_OK || !row)
			break;
		rc = kh_store_rows_text_copy(rows, 0, serials[n], sizeof(serials[n]));
		if (rc == KH_OK)
			rc = kh_store_rows_int(rows, 1, &stores[n]);
		if (rc == KH_OK)
			n++;
	}
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	for (size_t i = 0; i < n; i++) {
		struct kh_principal sys = {.kind = KH_PRINCIPAL_SYSTEM,
		                           .keystore_id = stores[i],
		                           .request_id = "scheduler",
		                           .source = ""};
		struct expire_arg a = {serials[i], stores[i]};
		struct kh_pki_change ch = {
		    .pk = pk, .p = &sys, .op = "pki.kmc.expire", .apply = expire_fn, .arg = &a};
		KH_GUARD(kh_pki_change_run(&ch));
		(*out_count)++;
	}
	return KH_OK;
}
