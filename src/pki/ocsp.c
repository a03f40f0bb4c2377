// SPDX-License-Identifier: Apache-2.0
/*
 * The OCSP responder's answers (RFC 6960): statuses read in one read transaction, a response
 * signed by the CA's key as the service of its key store. Responses to one CertID without a
 * nonce are cached: a table of KH_PKI_OCSP_CACHE_DEFAULT slots chosen by serial, one response
 * each (a newer one replaces an older), kept for half their validity. A status change forgets
 * the serial's slot; a generation counter, bumped by every change, keeps a response read
 * before the change from entering the cache after it.
 *
 * A miss is signed by the CA's delegated responder when it has a valid one, else by the CA's
 * key. Signatures in flight are bounded (kh_pki.sign_max): a miss waits a little for a slot,
 * then gets tryLater, so uncacheable requests (nonces, many serials) cannot hold every worker.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "pki/kh_pki_int.h"

struct slot {
	int64_t ca_id; /* 0: empty */
	struct kh_ocsp_certid id;
	int64_t fresh_until;
	uint8_t *der;
	size_t der_len;
};

struct kh_pki_ocsp_cache {
	pthread_mutex_t mu;
	struct slot *slots;
	size_t count;
	uint64_t gen;
	uint64_t hits;
};

kh_rc kh_pki_ocsp_cache_new(unsigned max, struct kh_pki_ocsp_cache **out)
{
	struct kh_pki_ocsp_cache *c = kh_calloc(1, sizeof(*c));
	KH_ENSURE(c != NULL, KH_ERR_NOMEM);
	c->slots = kh_calloc(max, sizeof(*c->slots));
	if (c->slots == NULL || pthread_mutex_init(&c->mu, NULL) != 0) {
		kh_free(&c->slots);
		kh_free(&c);
		return KH_ERR_NOMEM;
	}
	c->count = max;
	*out = c;
	return KH_OK;
}

void kh_pki_ocsp_cache_free(struct kh_pki_ocsp_cache **c)
{
	if (c == NULL || *c == NULL)
		return;
	for (size_t i = 0; i < (*c)->count; i++)
		kh_free(&(*c)->slots[i].der);
	kh_free(&(*c)->slots);
	pthread_mutex_destroy(&(*c)->mu);
	kh_free(c);
}

/* FNV-1a of the serial: the slot of every response about that certificate. */
static size_t slot_of(const struct kh_pki_ocsp_cache *c, const uint8_t *serial, size_t len)
{
	uint64_t h = UINT64_C(14695981039346656037);
	for (size_t i = 0; i < len; i++)
		h = (h ^ serial[i]) * UINT64_C(1099511628211);
	return (size_t)(h % c->count);
}

static bool same_id(const struct kh_ocsp_certid *a, const struct kh_ocsp_certid *b)
{
	return a->hash == b->hash && a->hash_len == b->hash_len &&
	       memcmp(a->name_hash, b->name_hash, a->hash_len) == 0 &&
	       memcmp(a->key_hash, b->key_hash, a->hash_len) == 0 &&
	       a->serial_len == b->serial_len && memcmp(a->serial, b->serial, a->serial_len) == 0;
}

static void slot_clear(struct slot *s)
{
	kh_free(&s->der);
	memset(s, 0, sizeof(*s));
}

/* A fresh cached response, appended to out; *out_hit says whether there was one. */
static kh_rc cache_get(struct kh_pki_ocsp_cache *c, int64_t ca_id, const struct kh_ocsp_certid *id,
                       int64_t now, struct kh_buf *out, bool *out_hit, uint64_t *out_gen)
{
	kh_rc rc = KH_OK;
	pthread_mutex_lock(&c->mu);
	struct slot *s = &c->slots[slot_of(c, id->serial, id->serial_len)];
	*out_hit = s->ca_id == ca_id && same_id(&s->id, id) && now < s->fresh_until;
	if (*out_hit) {
		rc = kh_buf_append(out, KH_SLICE(s->der, s->der_len));
		c->hits++;
	}
	*out_gen = c->gen;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void cache_put(struct kh_pki_ocsp_cache *c, int64_t ca_id, const struct kh_ocsp_certid *id,
                      int64_t fresh_until, struct kh_slice der, uint64_t gen)
{
	uint8_t *copy = kh_alloc(der.len);
	if (copy == NULL)
		return; /* a cache only */
	memcpy(copy, der.ptr, der.len);
	pthread_mutex_lock(&c->mu);
	if (c->gen == gen) {
		struct slot *s = &c->slots[slot_of(c, id->serial, id->serial_len)];
		slot_clear(s);
		*s = (struct slot){.ca_id = ca_id,
		                   .id = *id,
		                   .fresh_until = fresh_until,
		                   .der = copy,
		                   .der_len = der.len};
		copy = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	kh_free(&copy);
}

void kh_pki_ocsp_forget(struct kh_pki *pk, int64_t ca_id, const char *serial_hex)
{
	struct kh_pki_ocsp_cache *c = pk->ocsp;
	uint8_t serial[KH_PKI_SERIAL_MAX_LEN];
	size_t len = 0;
	bool parsed = kh_pki_serial_bytes(serial_hex, serial, &len) == KH_OK;
	pthread_mutex_lock(&c->mu);
	c->gen++;
	if (parsed) {
		struct slot *s = &c->slots[slot_of(c, serial, len)];
		if (s->ca_id == ca_id)
			slot_clear(s);
	}
	pthread_mutex_unlock(&c->mu);
}

void kh_pki_ocsp_forget_ca(struct kh_pki *pk, int64_t ca_id)
{
	struct kh_pki_ocsp_cache *c = pk->ocsp;
	pthread_mutex_lock(&c->mu);
	c->gen++;
	for (size_t i = 0; i < c->count; i++)
		if (c->slots[i].ca_id == ca_id)
			slot_clear(&c->slots[i]);
	pthread_mutex_unlock(&c->mu);
}

uint64_t kh_pki_ocsp_cache_hits(struct kh_pki *pk)
{
	pthread_mutex_lock(&pk->ocsp->mu);
	uint64_t hits = pk->ocsp->hits;
	pthread_mutex_unlock(&pk->ocsp->mu);
	return hits;
}

/* ---- signing slots ---- */

static kh_rc slot_take(struct kh_pki *pk)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	int64_t ns = until.tv_nsec + KH_PKI_OCSP_SIGN_WAIT_NS;
	until.tv_sec += (time_t)(ns / KH_NS_PER_SEC);
	until.tv_nsec = (long)(ns % KH_NS_PER_SEC);
	pthread_mutex_lock(&pk->sign_mu);
	int err = 0;
	while (pk->signing >= pk->sign_max && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&pk->sign_cv, &pk->sign_mu, &until);
	bool got = pk->signing < pk->sign_max;
	if (got)
		pk->signing++;
	else
		pk->try_later++;
	pthread_mutex_unlock(&pk->sign_mu);
	return got ? KH_OK : KH_ERR_RATE_LIMITED;
}

static void slot_give(struct kh_pki *pk)
{
	pthread_mutex_lock(&pk->sign_mu);
	pk->signing--;
	pthread_cond_signal(&pk->sign_cv);
	pthread_mutex_unlock(&pk->sign_mu);
}

uint64_t kh_pki_ocsp_try_later(struct kh_pki *pk)
{
	pthread_mutex_lock(&pk->sign_mu);
	uint64_t n = pk->try_later;
	pthread_mutex_unlock(&pk->sign_mu);
	return n;
}

/* ---- answering ---- */

struct answer {
	struct kh_pki_ca ca;
	struct kh_buf ca_der;
	struct kh_buf responder_der; /* empty: the CA signs */
	bool by_responder;
	const struct kh_ocsp_request *req;
	struct kh_ocsp_single singles[KH_PKI_OCSP_CERTIDS_MAX];
	int64_t now;
	struct kh_buf *out;
	size_t mark; /* out's length before the response */
};

static kh_rc status_of(struct kh_store_tx *tx, int64_t ca_id, struct kh_ocsp_single *one)
{
	char hex[KH_PKI_SERIAL_HEX_MAX];
	struct kh_store_rows *rows = NULL;
	bool found = false;
	kh_pki_serial_hex(one->id.serial, one->id.serial_len, hex);
	struct kh_store_val v[] = {KH_SV_INT(ca_id), KH_SV_TEXT(hex)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_cert_status, v, KH_SV_COUNT(v), &rows, &found));
	kh_rc rc = KH_OK;
	struct kh_slice s;
	enum kh_pki_cert_status status = KH_PKI_CERT_GOOD;
	int64_t at = 0, reason = 0;
	bool is_null = false;
	if (!found) {
		one->status = KH_OCSP_UNKNOWN;
		goto out;
	}
	KH_GUARD_OUT(kh_store_rows_text(rows, 0, &s));
	KH_ENSURE_OUT(kh_pki_cert_status_parse(s, &status) == KH_OK, KH_ERR_STORAGE);
	if (status == KH_PKI_CERT_GOOD) {
		one->status = KH_OCSP_GOOD;
		goto out;
	}
	/* RFC 6960 2.2: a held certificate is "revoked" with reason certificateHold. */
	KH_GUARD_OUT(kh_store_rows_int(rows, 1, &at));
	KH_GUARD_OUT(kh_store_rows_int_opt(rows, 2, &reason, &is_null));
	KH_ENSURE_OUT(!is_null && reason >= 0 && reason <= KH_CRL_REASON_AA_COMPROMISE,
	              KH_ERR_STORAGE);
	one->status = KH_OCSP_REVOKED;
	one->revoked_at = kh_pki_sec(at);
	one->reason = (enum kh_crl_reason)reason;
	one->has_reason = one->reason != KH_CRL_REASON_UNSPECIFIED;
out:
	kh_store_rows_close(&rows);
	return rc;
}

/* The delegated responder's certificate, while it is valid. */
static kh_rc read_responder(struct answer *a, struct kh_store_tx *tx)
{
	if (a->ca.responder_key_tag[0] == '\0' || a->ca.responder_not_after <= a->now)
		return KH_OK;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(a->ca.id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_ca_responder, v, 1, &rows, &found));
	kh_rc rc = KH_OK;
	struct kh_slice der;
	if (found && kh_store_rows_blob(rows, 1, &der) == KH_OK)
		rc = kh_buf_append(&a->responder_der, der);
	kh_store_rows_close(&rows);
	return rc;
}

static kh_rc read_in(struct answer *a, struct kh_store_tx *tx, int64_t ca_id)
{
	KH_GUARD(kh_pki_ca_load(tx, ca_id, &a->ca, &a->ca_der, NULL));
	KH_ENSURE(a->ca.has_certificate, KH_ERR_NOT_FOUND);
	KH_GUARD(read_responder(a, tx));
	int64_t now_s = kh_pki_sec(a->now);
	for (size_t i = 0; i < a->req->id_count; i++) {
		struct kh_ocsp_single *one = &a->singles[i];
		bool match = false;
		*one = (struct kh_ocsp_single){
		    .id = a->req->ids[i],
		    .status = KH_OCSP_UNKNOWN,
		    .this_update = now_s,
		    .next_update = now_s + kh_pki_sec(KH_PKI_OCSP_VALIDITY_NS),
		};
		KH_GUARD(kh_pki_ocsp_certid_matches(&one->id, kh_buf_slice(&a->ca_der), &match));
		if (match)
			KH_GUARD(status_of(tx, ca_id, one));
	}
	return KH_OK;
}

static kh_rc sign_fn(void *arg, const struct kh_pkey *key)
{
	struct answer *a = arg;
	struct kh_ocsp_response_params params = {
	    .signer_cert = kh_buf_slice(a->by_responder ? &a->responder_der : &a->ca_der),
	    .include_signer_cert = a->by_responder,
	    .produced_at = kh_pki_sec(a->now),
	    .singles = a->singles,
	    .single_count = a->req->id_count,
	    .nonce =
	        a->req->has_nonce ? KH_SLICE(a->req->nonce, a->req->nonce_len) : KH_SLICE_EMPTY,
	};
	return kh_pki_ocsp_response_build(key, &params, a->out);
}

static kh_rc sign(struct kh_pki *pk, struct answer *a)
{
	struct kh_principal sys = {.kind = KH_PRINCIPAL_SYSTEM, .keystore_id = a->ca.keystore_id};
	if (a->responder_der.len > 0) {
		a->by_responder = true;
		kh_rc rc = kh_keys_with_signer(pk->keys, &sys, a->ca.responder_key_tag, sign_fn, a);
		if (rc == KH_OK || kh_rc_class_of(rc) == KH_CLASS_NOMEM)
			return rc;
		/* Disabled, or renewed between the read and now: the CA answers this one. */
		KH_LOG_WARN("OCSP responder key cannot sign; the CA signs",
		            KH_LF_INT("ca", a->ca.id), KH_LF_RC(rc));
		kh_buf_truncate(a->out, a->mark);
		a->by_responder = false;
	}
	return kh_keys_with_signer(pk->keys, &sys, a->ca.key_tag, sign_fn, a);
}

static kh_rc respond(struct kh_pki *pk, int64_t ca_id, struct answer *a)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = read_in(a, tx, ca_id);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	KH_GUARD(slot_take(pk));
	rc = sign(pk, a);
	slot_give(pk);
	return rc;
}

kh_rc kh_pki_ocsp_respond(struct kh_pki *pk, int64_t ca_id, const struct kh_ocsp_request *req,
                          struct kh_buf *out_der)
{
	KH_ENSURE(req->id_count >= 1 && req->id_count <= KH_PKI_OCSP_CERTIDS_MAX, KH_ERR_BAD_INPUT);
	int64_t now = kh_clock_now(pk->clock);
	bool cacheable = req->id_count == 1 && !req->has_nonce;
	bool hit = false;
	uint64_t gen = 0;
	size_t mark = out_der->len;
	if (cacheable) {
		KH_GUARD(cache_get(pk->ocsp, ca_id, &req->ids[0], now, out_der, &hit, &gen));
		if (hit)
			return KH_OK;
	}
	struct answer *a = kh_calloc(1, sizeof(*a));
	KH_ENSURE(a != NULL, KH_ERR_NOMEM);
	a->req = req;
	a->now = now;
	a->out = out_der;
	a->mark = mark;
	kh_buf_init(&a->ca_der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&a->responder_der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = respond(pk, ca_id, a);
	if (rc == KH_OK && cacheable)
		cache_put(pk->ocsp, ca_id, &req->ids[0], now + KH_PKI_OCSP_VALIDITY_NS / 2,
		          KH_SLICE(out_der->ptr + mark, out_der->len - mark), gen);
	if (rc != KH_OK && out_der->len > mark)
		kh_buf_truncate(out_der, mark);
	kh_buf_cleanup(&a->ca_der);
	kh_buf_cleanup(&a->responder_der);
	kh_free(&a);
	return rc;
}
