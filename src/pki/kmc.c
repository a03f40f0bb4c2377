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

kh_rc kh_pki_kmc_refill(struct kh_pki *pk, size_t budget, size_t *out_made)
{
	size_t made = 0;
	if (out_made != NULL)
		*out_made = 0;
	if (pk->barrier == NULL)
		return KH_OK;
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

/*
 * A pair is chosen for an issuance before its certificate is signed (the certificate names its
 * public key), but leaves the pool only in the issuance's own transaction (kh_pki_kmc_bind),
 * so one durable commit covers both. Between the two it is reserved in memory, so that two
 * issuances on this node never choose the same one; a node that finds its choice taken by
 * another (a shared store) gets KH_ERR_CONFLICT from the bind.
 */
static bool reserve(struct kh_pki *pk, int64_t id)
{
	bool ok = true;
	pthread_mutex_lock(&pk->kmc_mu);
	for (size_t i = 0; i < pk->kmc_reserved_n && ok; i++)
		ok = pk->kmc_reserved[i] != id;
	ok = ok && pk->kmc_reserved_n < KH_PKI_KMC_RESERVED_MAX;
	if (ok)
		pk->kmc_reserved[pk->kmc_reserved_n++] = id;
	pthread_mutex_unlock(&pk->kmc_mu);
	return ok;
}

static void unreserve(struct kh_pki *pk, int64_t id)
{
	pthread_mutex_lock(&pk->kmc_mu);
	for (size_t i = 0; i < pk->kmc_reserved_n; i++)
		if (pk->kmc_reserved[i] == id) {
			pk->kmc_reserved[i] = pk->kmc_reserved[--pk->kmc_reserved_n];
			break;
		}
	pthread_mutex_unlock(&pk->kmc_mu);
}

/* Whether the reserved pair is still spare, seen in a snapshot taken after the reservation
 * (so after any issuance that held it before has committed), and its private key. */
static kh_rc still_spare(struct kh_pki *pk, int64_t id, struct kh_buf *priv)
{
	struct kh_store_tx *tx = NULL;
	struct kh_kmc_key k;
	char scope[32];
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_pki_kmc_key_load(tx, &kh_q_kmc_key_get, KH_SV_INT(id), &k);
	if (rc == KH_OK && k.state != KH_KMC_SPARE)
		rc = KH_ERR_CONFLICT;
	if (rc == KH_OK) {
		scope_of(id, scope);
		rc = kh_barrier_get(pk->barrier, tx, scope, priv);
	}
	kh_store_read_end(&tx);
	return rc;
}

/* A spare pair of the family that no issuance of this node holds, reserved, its private key
 * into priv; KH_ERR_NOT_FOUND when there is none. */
static kh_rc choose(struct kh_pki *pk, enum kh_pkey_type family, int64_t *out_id,
                    struct kh_buf *priv)
{
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	int64_t ids[KH_PKI_KMC_CHOICES];
	size_t n = 0;
	struct kh_store_val v[] = {KH_SV_TEXT(kh_pki_pkey_type_name(family)),
	                           KH_SV_INT(KH_PKI_KMC_CHOICES)};
	*out_id = 0;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_store_query(tx, &kh_q_kmc_key_spares, v, 2, &rows);
	while (rc == KH_OK && n < KH_PKI_KMC_CHOICES) {
		bool row = false;
		rc = kh_store_rows_next(rows, &row);
		if (rc != KH_OK || !row)
			break;
		rc = kh_store_rows_int(rows, 0, &ids[n]);
		n += rc == KH_OK;
	}
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	/* That snapshot may predate an issuance that took a pair and let go of it since: each
	 * candidate is checked again once reserved. */
	for (size_t i = 0; i < n; i++) {
		if (!reserve(pk, ids[i]))
			continue;
		rc = still_spare(pk, ids[i], priv);
		if (rc == KH_OK) {
			*out_id = ids[i];
			return KH_OK;
		}
		unreserve(pk, ids[i]);
		kh_buf_clear(priv);
		if (rc != KH_ERR_CONFLICT && rc != KH_ERR_NOT_FOUND)
			return rc;
	}
	return KH_ERR_NOT_FOUND;
}

kh_rc kh_pki_kmc_take(struct kh_pki *pk, enum kh_pkey_type family, struct kh_pki_kmc_pair *out)
{
	struct kh_buf priv;
	*out = (struct kh_pki_kmc_pair){.family = family};
	KH_ENSURE(pk->barrier != NULL, KH_ERR_CONFLICT);
	KH_ENSURE(family_ok(family), KH_ERR_BAD_INPUT);
	kh_buf_init(&priv, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_SECURE);
	kh_rc rc = choose(pk, family, &out->id, &priv);
	if (rc == KH_ERR_NOT_FOUND) {
		/* The pool is dry: make this one now (the bind archives it) and count the miss. */
		atomic_fetch_add_explicit(&pk->kmc_misses, 1, memory_order_relaxed);
		kh_buf_init(&out->made_priv, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_SECURE);
		kh_buf_init(&out->made_pub, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
		out->made = true;
		rc = make_pair(family, &out->made_priv, &out->made_pub);
		if (rc == KH_OK)
			rc = kh_buf_append(&priv, kh_buf_slice(&out->made_priv));
	}
	if (rc == KH_OK)
		rc = kh_pkey_import_private(kh_buf_slice(&priv), &out->key);
	kh_buf_cleanup(&priv);
	if (rc != KH_OK)
		kh_pki_kmc_release(pk, out);
	return rc;
}

void kh_pki_kmc_release(struct kh_pki *pk, struct kh_pki_kmc_pair *pair)
{
	if (pair->id != 0 && !pair->made)
		unreserve(pk, pair->id);
	if (pair->made) {
		kh_buf_cleanup(&pair->made_priv);
		kh_buf_cleanup(&pair->made_pub);
	}
	kh_pkey_free(&pair->key);
	*pair = (struct kh_pki_kmc_pair){0};
}

kh_rc kh_pki_kmc_bind(struct kh_pki *pk, struct kh_store_tx *tx, struct kh_pki_kmc_pair *pair,
                      const struct kh_pki_kmc_use *use)
{
	uint64_t changed = 0;
	if (pair->made) {
		/* Made on demand: archived now, in use from the start. */
		struct kh_store_rows *rows = NULL;
		bool found = false;
		char scope[32];
		struct kh_store_val v[] = {
		    KH_SV_TEXT(kh_pki_pkey_type_name(pair->family)), KH_SV_TEXT("spare"),
		    KH_SV_BLOB(kh_buf_slice(&pair->made_pub)), KH_SV_INT(use->now), KH_SV_NULL};
		KH_GUARD(
		    kh_store_query_one(tx, &kh_q_kmc_key_insert, v, KH_SV_COUNT(v), &rows, &found));
		kh_rc rc = found ? kh_store_rows_int(rows, 0, &pair->id) : KH_ERR_STORAGE;
		kh_store_rows_close(&rows);
		KH_GUARD(rc);
		scope_of(pair->id, scope);
		KH_GUARD(kh_barrier_put(pk->barrier, tx, scope, kh_buf_slice(&pair->made_priv)));
	}
	struct kh_store_val v[] = {
	    KH_SV_INT(use->now),
	    KH_SV_INT(use->keystore_id),
	    KH_SV_INT(use->ca_id),
	    KH_SV_TEXT(use->serial),
	    use->request_id != 0 ? KH_SV_INT(use->request_id) : KH_SV_NULL,
	    KH_SV_INT(pair->id),
	};
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

struct key_page {
	kh_kmc_key_fn fn;
	void *arg;
};

static kh_rc key_row(struct kh_store_rows *rows, void *arg)
{
	struct key_page *pg = arg;
	struct kh_kmc_key k;
	KH_GUARD(key_decode(rows, &k));
	return pg->fn(&k, pg->arg);
}

kh_rc kh_pki_kmc_key_list(struct kh_pki *pk, const struct kh_principal *p,
                          const struct kh_kmc_key_filter *f, kh_kmc_key_fn fn, void *arg,
                          bool *out_more)
{
	int64_t ks = p->kind == KH_PRINCIPAL_OPERATOR ? f->keystore_id : p->keystore_id;
	KH_GUARD(kh_pki_may(p, ks, ARCHIVE_READERS));
	const char *state = f->state != 0 ? kh_pki_kmc_state_text(f->state) : "";
	struct kh_store_val v[] = {KH_SV_INT(ks), KH_SV_TEXT(state), KH_SV_INT(f->after_id),
	                           KH_SV_INT((int64_t)f->limit + 1)};
	struct key_page pg = {fn, arg};
	return kh_pki_page(pk->store, &kh_q_kmc_key_list, v, KH_SV_COUNT(v), f->limit, key_row, &pg,
	                   out_more);
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
