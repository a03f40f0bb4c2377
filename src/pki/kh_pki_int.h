/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside pki/: the context, who may do what, the shape of every change (one write transaction
 * whose audit record commits with the change or with the refusal, as keys/ does), row loaders
 * and the signing step shared by issuance and CA creation.
 */
#ifndef KH_PKI_INT_H
#define KH_PKI_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "pki/kh_pki.h"
#include "store/kh_store_pki.h"

struct kh_pki_ocsp_cache;

/* Issuances choosing a KMC pair at once, at most (more wait for the pool's next pairs or make
 * their own), and the spare pairs looked at per choice. */
#define KH_PKI_KMC_RESERVED_MAX 256u
#define KH_PKI_KMC_CHOICES 64u

struct kh_pki {
	struct kh_keys *keys;
	struct kh_store *store;
	struct kh_audit *audit;
	const struct kh_clock *clock;
	struct kh_pki_ocsp_cache *ocsp; /* ocsp.c */
	/* OCSP signatures in flight (ocsp.c) */
	pthread_mutex_t sign_mu;
	pthread_cond_t sign_cv;
	unsigned signing, sign_max;
	uint64_t try_later;
	/* the key management centre (kmc.c, recovery.c) */
	struct kh_barrier *barrier;
	unsigned kmc_pool_size, kmc_retention_days, kmc_quorum, kmc_recovery_ttl_hours;
	atomic_uint_fast64_t kmc_misses;
	pthread_mutex_t kmc_mu; /* the pairs chosen by issuances in flight */
	int64_t kmc_reserved[KH_PKI_KMC_RESERVED_MAX];
	size_t kmc_reserved_n;
};

/* Who a function admits (kh_pki_may). */
#define KH_PKI_MANAGER 1u
#define KH_PKI_OFFICER 2u
#define KH_PKI_USER 4u
#define KH_PKI_OPERATOR 8u
#define KH_PKI_RECOVERY 16u /* a recovery-officer (KH_POLICY_RECOVERY_OFFICER) */
#define KH_PKI_ANY_ACCOUNT (KH_PKI_MANAGER | KH_PKI_OFFICER | KH_PKI_USER)

/* KH_OK when p is one of `who` for an object of keystore_id; an account of another key store
 * gets KH_ERR_NOT_FOUND, one of this key store with another policy KH_ERR_FORBIDDEN. */
KH_MUST_CHECK kh_rc kh_pki_may(const struct kh_principal *p, int64_t keystore_id, unsigned who);

/* One change: apply runs in a savepoint of a write transaction; then the audit record of op
 * (and of op2 on success when set) is appended whatever the outcome. */
struct kh_pki_change;
typedef kh_rc (*kh_pki_change_fn)(struct kh_pki_change *c, struct kh_store_tx *tx);
struct kh_pki_change {
	struct kh_pki *pk;
	const struct kh_principal *p;
	const char *op;
	kh_pki_change_fn apply;
	void *arg;
	/* set by apply */
	int64_t keystore_id; /* of the record (0: the caller's) */
	char detail[256];
	const char *op2;
	char detail2[256];
	/* Staged uses of keys made for this change (signatures), written in its transaction
	 * before its own records; NULL: none. */
	struct kh_keys_defer *defer;
	/* set by the run */
	int64_t now;
	kh_rc outcome;
};
KH_MUST_CHECK kh_rc kh_pki_change_run(struct kh_pki_change *c);
/* Inside apply: the CA the change is about, loaded, p one of `who` for it, and the record
 * for the CA's key store. */
KH_MUST_CHECK kh_rc kh_pki_change_ca(struct kh_pki_change *c, struct kh_store_tx *tx, int64_t ca_id,
                                     unsigned who, struct kh_pki_ca *out);
/* A record of a refusal found before any write (keystore_id 0: the caller's); returns rc. */
KH_MUST_CHECK kh_rc kh_pki_refused(struct kh_pki *pk, const struct kh_principal *p, const char *op,
                                   int64_t keystore_id, kh_rc rc);

/* Rows. Loaders give KH_ERR_NOT_FOUND when absent; cert_der/csr (may be NULL) get the blobs. */
KH_MUST_CHECK kh_rc kh_pki_ca_load(struct kh_store_tx *tx, int64_t id, struct kh_pki_ca *out,
                                   struct kh_buf *cert_der, struct kh_buf *csr);
KH_MUST_CHECK kh_rc kh_pki_ca_decode(struct kh_store_rows *rows, struct kh_pki_ca *out,
                                     struct kh_buf *cert_der, struct kh_buf *csr);
KH_MUST_CHECK kh_rc kh_pki_profile_load(struct kh_store_tx *tx, int64_t ca_id, const char *name,
                                        struct kh_pki_profile *out);
/* Certificate rows (cert.c); der (may be NULL) gets the certificate. */
KH_MUST_CHECK kh_rc kh_pki_certrow_decode(struct kh_store_rows *rows,
                                          struct kh_pki_certificate *out, int64_t *keystore_id,
                                          struct kh_buf *der);
KH_MUST_CHECK kh_rc kh_pki_certrow_load(struct kh_store_tx *tx, const char *serial,
                                        struct kh_pki_certificate *out, int64_t *keystore_id,
                                        struct kh_buf *der);
/* Trust anchors (trust.c): one by id (der may be NULL), and each of a key store's with its
 * certificate. */
KH_MUST_CHECK kh_rc kh_pki_anchor_load(struct kh_store_tx *tx, int64_t id,
                                       struct kh_pki_anchor *out, struct kh_buf *der);
typedef kh_rc (*kh_pki_anchor_der_fn)(const struct kh_pki_anchor *a, struct kh_slice der,
                                      void *arg);
KH_MUST_CHECK kh_rc kh_pki_anchor_each(struct kh_store_tx *tx, int64_t keystore_id,
                                       kh_pki_anchor_der_fn fn, void *arg);

/* The chain of a CA as PEM: its certificate then its parents', then the trust anchor that
 * issued the topmost one if any (within tx). */
KH_MUST_CHECK kh_rc kh_pki_chain_pem(struct kh_store_tx *tx, int64_t ca_id, struct kh_buf *out);

/* Signs with the CA's key: as p when p is a kms-manager of the CA's key store (its own use of
 * the key), else as the service for that key store. */
KH_MUST_CHECK kh_rc kh_pki_with_ca_key(struct kh_pki *pk, const struct kh_principal *p,
                                       const struct kh_pki_ca *ca, kh_keys_signer_fn fn, void *arg);
/* The same with the use staged in defer (NULL: committed before it returns). */
KH_MUST_CHECK kh_rc kh_pki_with_ca_key_defer(struct kh_pki *pk, const struct kh_principal *p,
                                             const struct kh_pki_ca *ca,
                                             struct kh_keys_defer *defer, kh_keys_signer_fn fn,
                                             void *arg);

/* Serial bytes <-> upper-case hex (as kh_pki_cert_info writes it). */
void kh_pki_serial_hex(const uint8_t *serial, size_t len, char out[KH_PKI_SERIAL_HEX_MAX]);

/* "DNS:a,IP:b" of the SANs (KH_ERR_TOO_LARGE past out_len). */
KH_MUST_CHECK kh_rc kh_pki_sans_text(const struct kh_pki_san *sans, size_t n, char *out,
                                     size_t out_len);

/* Appends the DER of one PEM block (Base64 between the armour lines), or data itself when it
 * is not PEM. */
KH_MUST_CHECK kh_rc kh_pki_der_of(struct kh_slice data, struct kh_buf *out);

/* Writes why a request was refused into msg (NULL or 0 length: nowhere). */
__attribute__((format(printf, 3, 4))) void kh_pki_say(char *msg, size_t len, const char *fmt, ...);

/* Names 1..max of [A-Za-z0-9_.-]. */
bool kh_pki_name_valid(const char *name, size_t max);

/* Statuses and kinds as stored. */
const char *kh_pki_ca_kind_name(enum kh_pki_ca_kind k);
KH_MUST_CHECK kh_rc kh_pki_ca_kind_parse(struct kh_slice s, enum kh_pki_ca_kind *out);
const char *kh_pki_request_status_name(enum kh_pki_request_status s);
KH_MUST_CHECK kh_rc kh_pki_request_status_parse(struct kh_slice s, enum kh_pki_request_status *out);
const char *kh_pki_cert_status_name(enum kh_pki_cert_status s);
KH_MUST_CHECK kh_rc kh_pki_cert_status_parse(struct kh_slice s, enum kh_pki_cert_status *out);
const char *kh_pki_cert_kind_name(enum kh_pki_cert_kind k);
KH_MUST_CHECK kh_rc kh_pki_cert_kind_parse(struct kh_slice s, enum kh_pki_cert_kind *out);

/* The OCSP cache (ocsp.c): made with the context; a certificate whose status changed is
 * forgotten. */
KH_MUST_CHECK kh_rc kh_pki_ocsp_cache_new(unsigned max, struct kh_pki_ocsp_cache **out);
void kh_pki_ocsp_cache_free(struct kh_pki_ocsp_cache **c);
void kh_pki_ocsp_forget(struct kh_pki *pk, int64_t ca_id, const char *serial_hex);
/* Every cached response of the CA (its signer changed). */
void kh_pki_ocsp_forget_ca(struct kh_pki *pk, int64_t ca_id);

/* Hex serial -> bytes (at most KH_PKI_SERIAL_MAX_LEN); KH_ERR_STORAGE when malformed. */
KH_MUST_CHECK kh_rc kh_pki_serial_bytes(const char *hex, uint8_t *out, size_t *out_len);

/* ---- key management centre (kmc.c) ---- */

/* The pool family that serves a requester's key type: SM2, P-256 (for P-256 and P-384) or
 * RSA-2048 (for any RSA size); 0 for Ed25519, which has no encryption use. */
enum kh_pkey_type kh_pki_kmc_family(enum kh_pkey_type t);
/* "sm2", "ecdsa-p256", ... as the API names key types. */
const char *kh_pki_pkey_type_name(enum kh_pkey_type t);

/* A pair taken for one certificate: its archive row (0 until bound when made on demand) and
 * its private key. */
struct kh_pki_kmc_pair {
	int64_t id;
	enum kh_pkey_type family;
	struct kh_pkey *key;
	bool made; /* the pool was dry: made now, archived by the bind */
	struct kh_buf made_priv, made_pub;
};
/* Chooses a spare pair of the family (reserved on this node until released) and loads its
 * private key; when the pool is dry, makes one. */
KH_MUST_CHECK kh_rc kh_pki_kmc_take(struct kh_pki *pk, enum kh_pkey_type family,
                                    struct kh_pki_kmc_pair *out);
/* After the issuance, bound or not: the reservation ends and the key is freed. */
void kh_pki_kmc_release(struct kh_pki *pk, struct kh_pki_kmc_pair *pair);
struct kh_pki_kmc_use {
	int64_t now, keystore_id, ca_id, request_id;
	const char *serial;
};
/* Inside the issuing change: the pair leaves the pool (or, made on demand, is archived) as the
 * key of that certificate; KH_ERR_CONFLICT when another node took it first. */
KH_MUST_CHECK kh_rc kh_pki_kmc_bind(struct kh_pki *pk, struct kh_store_tx *tx,
                                    struct kh_pki_kmc_pair *pair, const struct kh_pki_kmc_use *use);
/* Inside a change: the pair in use by that certificate (if any) moves to history, kept for
 * the retention; out_id gets it (0: the certificate had none). */
KH_MUST_CHECK kh_rc kh_pki_kmc_retire(struct kh_pki *pk, struct kh_store_tx *tx, const char *serial,
                                      const char *why, int64_t now, int64_t *out_id);
/* kh_pki_kmc_retire inside a change, with the record "pki.kmc.history" as its op2 when a pair
 * moved. */
KH_MUST_CHECK kh_rc kh_pki_kmc_retire_change(struct kh_pki_change *ch, struct kh_store_tx *tx,
                                             const char *serial, const char *why);
/* A page of a list: q (whose last parameter in v is limit + 1) read in one snapshot, fn called
 * on each of the first limit rows (1..KH_LIMIT_PAGE_MAX, else KH_ERR_BAD_INPUT); out_more when
 * a row was left. */
typedef kh_rc (*kh_pki_row_fn)(struct kh_store_rows *rows, void *arg);
KH_MUST_CHECK kh_rc kh_pki_page(struct kh_store *store, const struct kh_store_query *q,
                                const struct kh_store_val *v, size_t n, unsigned limit,
                                kh_pki_row_fn fn, void *arg, bool *out_more);

/* An integer column, 0 when NULL. */
KH_MUST_CHECK kh_rc kh_pki_rows_int0(struct kh_store_rows *rows, unsigned col, int64_t *out);
/* One archive row by the query's single key (id or serial); KH_ERR_NOT_FOUND when absent. */
KH_MUST_CHECK kh_rc kh_pki_kmc_key_load(struct kh_store_tx *tx, const struct kh_store_query *q,
                                        struct kh_store_val key, struct kh_kmc_key *out);
/* The private key of an archived pair (within tx). */
KH_MUST_CHECK kh_rc kh_pki_kmc_private(struct kh_pki *pk, struct kh_store_tx *tx, int64_t id,
                                       struct kh_pkey **out);

/* ns <-> certificate seconds. */
static inline int64_t kh_pki_sec(int64_t ns)
{
	return ns / KH_NS_PER_SEC;
}

#endif
