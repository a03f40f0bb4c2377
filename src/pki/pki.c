// SPDX-License-Identifier: Apache-2.0
/*
 * The PKI context, who may do what, the change shape with its audit records, the text forms
 * of the stored enums, and small helpers shared by the other files of pki/.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/kh_codec.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "pki/kh_pki_int.h"

kh_rc kh_pki_new(const struct kh_pki_options *opts, struct kh_pki **out)
{
	KH_ENSURE(opts != NULL && opts->keys != NULL && opts->store != NULL &&
	              opts->audit != NULL && opts->clock != NULL,
	          KH_ERR_INTERNAL);
	struct kh_pki *pk = kh_calloc(1, sizeof(*pk));
	KH_ENSURE(pk != NULL, KH_ERR_NOMEM);
	pk->keys = opts->keys;
	pk->store = opts->store;
	pk->audit = opts->audit;
	pk->clock = opts->clock;
	pk->sign_max = opts->ocsp_sign_max != 0 ? opts->ocsp_sign_max : KH_PKI_OCSP_SIGN_DEFAULT;
	pk->barrier = opts->barrier;
	if (pthread_mutex_init(&pk->kmc_mu, NULL) != 0) {
		kh_free(&pk);
		return KH_ERR_INTERNAL;
	}
	pk->kmc_pool_size =
	    opts->kmc_pool_size != 0 ? opts->kmc_pool_size : KH_PKI_KMC_POOL_DEFAULT;
	pk->kmc_retention_days = opts->kmc_retention_days != 0 ? opts->kmc_retention_days
	                                                       : KH_PKI_KMC_RETENTION_DAYS_DEFAULT;
	pk->kmc_quorum =
	    opts->kmc_recovery_quorum != 0 ? opts->kmc_recovery_quorum : KH_PKI_KMC_QUORUM_DEFAULT;
	pk->kmc_recovery_ttl_hours = opts->kmc_recovery_ttl_hours != 0
	                                 ? opts->kmc_recovery_ttl_hours
	                                 : KH_PKI_KMC_RECOVERY_TTL_HOURS_DEFAULT;
	kh_rc rc = kh_pki_ocsp_cache_new(opts->ocsp_cache_max != 0 ? opts->ocsp_cache_max
	                                                           : KH_PKI_OCSP_CACHE_DEFAULT,
	                                 &pk->ocsp);
	if (rc != KH_OK) {
		kh_free(&pk);
		return rc;
	}
	/* The wait for a signing slot is timed on the monotonic clock. */
	pthread_condattr_t attr;
	bool ok = pthread_condattr_init(&attr) == 0;
	if (ok) {
		ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
		     pthread_cond_init(&pk->sign_cv, &attr) == 0;
		pthread_condattr_destroy(&attr);
	}
	if (ok && pthread_mutex_init(&pk->sign_mu, NULL) != 0) {
		pthread_cond_destroy(&pk->sign_cv);
		ok = false;
	}
	if (!ok) {
		kh_pki_ocsp_cache_free(&pk->ocsp);
		kh_free(&pk);
		return KH_ERR_NOMEM;
	}
	*out = pk;
	return KH_OK;
}

void kh_pki_free(struct kh_pki **pk)
{
	if (pk == NULL || *pk == NULL)
		return;
	kh_pki_ocsp_cache_free(&(*pk)->ocsp);
	pthread_cond_destroy(&(*pk)->sign_cv);
	pthread_mutex_destroy(&(*pk)->sign_mu);
	pthread_mutex_destroy(&(*pk)->kmc_mu);
	kh_free(pk);
}

void kh_pki_say(char *msg, size_t len, const char *fmt, ...)
{
	if (msg == NULL || len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
}

/* ---- who ---- */

kh_rc kh_pki_may(const struct kh_principal *p, int64_t keystore_id, unsigned who)
{
	if (p->kind == KH_PRINCIPAL_OPERATOR)
		return (who & KH_PKI_OPERATOR) != 0 ? KH_OK : KH_ERR_FORBIDDEN;
	KH_ENSURE(p->kind == KH_PRINCIPAL_ACCOUNT, KH_ERR_FORBIDDEN);
	KH_ENSURE(p->keystore_id == keystore_id, KH_ERR_NOT_FOUND);
	unsigned is = 0;
	if ((p->policies & KH_POLICY_KMS_MANAGER) != 0)
		is |= KH_PKI_MANAGER;
	if ((p->policies & KH_POLICY_RA_OFFICER) != 0)
		is |= KH_PKI_OFFICER;
	if ((p->policies & KH_POLICY_KMS_USER) != 0)
		is |= KH_PKI_USER;
	if ((p->policies & KH_POLICY_RECOVERY_OFFICER) != 0)
		is |= KH_PKI_RECOVERY;
	KH_ENSURE((is & who) != 0, KH_ERR_FORBIDDEN);
	return KH_OK;
}

/* ---- changes and their records ---- */

static bool is_our_failure(kh_rc rc)
{
	enum kh_rc_class cls = kh_rc_class_of(rc);
	return cls == KH_CLASS_STORAGE || cls == KH_CLASS_NOMEM || cls == KH_CLASS_INTERNAL ||
	       cls == KH_CLASS_SEALED;
}

static kh_rc audit_in(struct kh_pki *pk, struct kh_store_tx *tx, const struct kh_principal *p,
                      const char *op, int64_t keystore_id, kh_rc outcome, const char *detail)
{
	char who[KH_PRINCIPAL_NAME_MAX];
	kh_keys_principal_name(p, who, sizeof(who));
	int64_t ks = keystore_id != 0 ? keystore_id
	             : p->kind == KH_PRINCIPAL_ACCOUNT || p->kind == KH_PRINCIPAL_SYSTEM
	                 ? p->keystore_id
	                 : 0;
	struct kh_audit_event ev = {
	    .request_id = p->request_id,
	    .principal = who,
	    .source = p->source,
	    .operation = op,
	    .keystore_id = ks,
	    .result = outcome == KH_OK ? "ok" : kh_rc_name(outcome),
	    .detail = detail != NULL && detail[0] != '\0' ? detail : NULL,
	};
	return kh_audit_append(pk->audit, tx, &ev, NULL);
}

static kh_rc body_fn(struct kh_store_tx *tx, void *arg)
{
	struct kh_pki_change *c = arg;
	return c->apply(c, tx);
}

static kh_rc change_fn(struct kh_store_tx *tx, void *arg)
{
	struct kh_pki_change *c = arg;
	c->keystore_id = 0;
	c->detail[0] = '\0';
	c->op2 = NULL;
	c->detail2[0] = '\0';
	c->now = kh_clock_now(c->pk->clock);
	kh_rc rc = kh_store_tx_try(tx, body_fn, c);
	if (is_our_failure(rc))
		return rc;
	/* The uses of keys that led to this change land with it, whatever its outcome. */
	if (c->defer != NULL && c->defer->count > 0)
		KH_GUARD(kh_keys_defer_write(c->pk->keys, tx, c->defer));
	c->outcome = rc;
	KH_GUARD(audit_in(c->pk, tx, c->p, c->op, c->keystore_id, rc, c->detail));
	if (rc == KH_OK && c->op2 != NULL)
		KH_GUARD(audit_in(c->pk, tx, c->p, c->op2, c->keystore_id, rc, c->detail2));
	return KH_OK;
}

kh_rc kh_pki_change_run(struct kh_pki_change *c)
{
	KH_ENSURE(c->p != NULL && c->apply != NULL, KH_ERR_INTERNAL);
	KH_GUARD(kh_store_write(c->pk->store, change_fn, c));
	return c->outcome;
}

kh_rc kh_pki_change_ca(struct kh_pki_change *c, struct kh_store_tx *tx, int64_t ca_id, unsigned who,
                       struct kh_pki_ca *out)
{
	KH_GUARD(kh_pki_ca_load(tx, ca_id, out, NULL, NULL));
	KH_GUARD(kh_pki_may(c->p, out->keystore_id, who));
	c->keystore_id = out->keystore_id;
	return KH_OK;
}

struct refusal {
	struct kh_pki *pk;
	const struct kh_principal *p;
	const char *op;
	int64_t keystore_id;
	kh_rc rc;
};

static kh_rc refusal_fn(struct kh_store_tx *tx, void *arg)
{
	struct refusal *r = arg;
	return audit_in(r->pk, tx, r->p, r->op, r->keystore_id, r->rc, NULL);
}

kh_rc kh_pki_refused(struct kh_pki *pk, const struct kh_principal *p, const char *op,
                     int64_t keystore_id, kh_rc rc)
{
	if (is_our_failure(rc)) {
		KH_LOG_WARN("pki operation failed", KH_LF_STR("operation", op), KH_LF_RC(rc));
		return rc;
	}
	struct refusal r = {pk, p, op, keystore_id, rc};
	KH_GUARD(kh_store_write(pk->store, refusal_fn, &r));
	return rc;
}

/* ---- signing with a CA's key ---- */

kh_rc kh_pki_with_ca_key(struct kh_pki *pk, const struct kh_principal *p,
                         const struct kh_pki_ca *ca, kh_keys_signer_fn fn, void *arg)
{
	return kh_pki_with_ca_key_defer(pk, p, ca, NULL, fn, arg);
}

kh_rc kh_pki_with_ca_key_defer(struct kh_pki *pk, const struct kh_principal *p,
                               const struct kh_pki_ca *ca, struct kh_keys_defer *defer,
                               kh_keys_signer_fn fn, void *arg)
{
	if (p->kind == KH_PRINCIPAL_ACCOUNT && p->keystore_id == ca->keystore_id &&
	    (p->policies & KH_POLICY_KMS_MANAGER) != 0) {
		struct kh_principal own = *p;
		own.defer = defer;
		return kh_keys_with_signer(pk->keys, &own, ca->key_tag, fn, arg);
	}
	/* The CA signs what the RA decided: as the service of the CA's key store, under the
	 * caller's request id so that both records tell the same story. */
	struct kh_principal sys = {
	    .kind = KH_PRINCIPAL_SYSTEM,
	    .keystore_id = ca->keystore_id,
	    .request_id = p->request_id,
	    .source = p->source,
	    .defer = defer,
	};
	return kh_keys_with_signer(pk->keys, &sys, ca->key_tag, fn, arg);
}

/* ---- pages ---- */

kh_rc kh_pki_page(struct kh_store *store, const struct kh_store_query *q,
                  const struct kh_store_val *v, size_t n, unsigned limit, kh_pki_row_fn fn,
                  void *arg, bool *out_more)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	unsigned got = 0;
	bool more = false;
	KH_ENSURE(limit >= 1 && limit <= KH_LIMIT_PAGE_MAX, KH_ERR_BAD_INPUT);
	KH_GUARD(kh_store_read_begin(store, &tx));
	KH_GUARD_OUT(kh_store_query(tx, q, v, n, &rows));
	for (;;) {
		bool row = false;
		KH_GUARD_OUT(kh_store_rows_next(rows, &row));
		if (!row)
			break;
		if (got == limit) {
			more = true;
			break;
		}
		KH_GUARD_OUT(fn(rows, arg));
		got++;
	}
	*out_more = more;
out:
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc;
}

/* ---- small helpers ---- */

void kh_pki_serial_hex(const uint8_t *serial, size_t len, char out[KH_PKI_SERIAL_HEX_MAX])
{
	static const char digits[] = "0123456789ABCDEF";
	size_t n = len > KH_PKI_SERIAL_MAX_LEN ? KH_PKI_SERIAL_MAX_LEN : len;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[serial[i] >> 4];
		out[2 * i + 1] = digits[serial[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

kh_rc kh_pki_serial_bytes(const char *hex, uint8_t *out, size_t *out_len)
{
	size_t n = strnlen(hex, KH_PKI_SERIAL_HEX_MAX);
	KH_ENSURE(n >= 2 && n % 2 == 0 && n < KH_PKI_SERIAL_HEX_MAX, KH_ERR_STORAGE);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		KH_ENSURE(hi >= 0 && lo >= 0, KH_ERR_STORAGE);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*out_len = n / 2;
	return KH_OK;
}

static const char *san_prefix(enum kh_pki_san_type t)
{
	switch (t) {
	case KH_PKI_SAN_DNS:
		return "DNS";
	case KH_PKI_SAN_IP:
		return "IP";
	case KH_PKI_SAN_EMAIL:
		return "email";
	case KH_PKI_SAN_URI:
		return "URI";
	default:
		return "other";
	}
}

kh_rc kh_pki_sans_text(const struct kh_pki_san *sans, size_t n, char *out, size_t out_len)
{
	size_t used = 0;
	KH_ENSURE(out_len > 0, KH_ERR_INTERNAL);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + used, out_len - used, "%s%s:%s", i > 0 ? "," : "",
		                 san_prefix(sans[i].type), sans[i].value);
		KH_ENSURE(w >= 0 && (size_t)w < out_len - used, KH_ERR_TOO_LARGE);
		used += (size_t)w;
	}
	return KH_OK;
}

kh_rc kh_pki_der_of(struct kh_slice data, struct kh_buf *out)
{
	static const char armour[] = "-----BEGIN ";
	if (data.len < sizeof(armour) - 1 || memcmp(data.ptr, armour, sizeof(armour) - 1) != 0)
		return kh_buf_append(out, data);
	const uint8_t *end = data.ptr + data.len;
	const uint8_t *body = memchr(data.ptr, '\n', data.len);
	KH_ENSURE(body != NULL, KH_ERR_BAD_INPUT);
	body++;
	const uint8_t *stop = memchr(body, '-', (size_t)(end - body));
	KH_ENSURE(stop != NULL, KH_ERR_BAD_INPUT);
	struct kh_buf b64;
	kh_buf_init(&b64, data.len, KH_BUF_PLAIN);
	kh_rc rc = KH_OK;
	for (const uint8_t *q = body; q < stop && rc == KH_OK; q++)
		if (*q != '\n' && *q != '\r')
			rc = kh_buf_append_byte(&b64, *q);
	if (rc == KH_OK)
		rc = kh_base64_decode(kh_buf_slice(&b64), out);
	kh_buf_cleanup(&b64);
	return rc;
}

bool kh_pki_name_valid(const char *name, size_t max)
{
	return kh_name_valid(name, max);
}

/* ---- stored enums ---- */

static const char *const ca_kinds[] = {NULL, "root", "intermediate", "external"};
static const char *const req_statuses[] = {NULL, "pending", "approved", "rejected", "issued"};
static const char *const cert_statuses[] = {NULL, "good", "revoked", "hold"};
static const char *const cert_kinds[] = {NULL, "sign", "encrypt", "both"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, size_t n, int v)
{
	return v > 0 && (size_t)v < n ? names[v] : "unknown";
}

static kh_rc parse_of(const char *const *names, size_t n, struct kh_slice s, int *out)
{
	for (size_t i = 1; i < n; i++) {
		if (kh_slice_eq(s, kh_slice_from_cstr(names[i]))) {
			*out = (int)i;
			return KH_OK;
		}
	}
	return KH_ERR_BAD_INPUT;
}

#define ENUM_TEXT(fn, type, names)                                                                 \
	const char *fn##_name(type v)                                                              \
	{                                                                                          \
		return name_of(names, COUNT(names), (int)v);                                       \
	}                                                                                          \
	kh_rc fn##_parse(struct kh_slice s, type *out)                                             \
	{                                                                                          \
		int v = 0;                                                                         \
		KH_GUARD(parse_of(names, COUNT(names), s, &v));                                    \
		*out = (type)v;                                                                    \
		return KH_OK;                                                                      \
	}
ENUM_TEXT(kh_pki_ca_kind, enum kh_pki_ca_kind, ca_kinds)
ENUM_TEXT(kh_pki_request_status, enum kh_pki_request_status, req_statuses)
ENUM_TEXT(kh_pki_cert_status, enum kh_pki_cert_status, cert_statuses)
ENUM_TEXT(kh_pki_cert_kind, enum kh_pki_cert_kind, cert_kinds)
