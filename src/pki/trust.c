// SPDX-License-Identifier: Apache-2.0
/*
 * Trust anchors (PKI.md "CA"): root certificates a key store trusts without holding their
 * keys, checked when added (self-issued CA certificate, self-signature, dates), at most
 * KH_PKI_ANCHOR_MAX per key store. An external CA's certificate is checked against the anchor
 * named as its issuer (ca.c), and that anchor then ends the CA's chain. The trust list is what
 * a relying party of the key store should trust: its anchors and its own roots.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_codec.h"
#include "crypto/kh_crypto.h"
#include "pki/kh_pki_int.h"

static kh_rc decode(struct kh_store_rows *rows, struct kh_pki_anchor *out, struct kh_buf *der)
{
	struct kh_pki_anchor a = {0};
	KH_GUARD(kh_store_rows_int(rows, KH_QPA_ID, &a.id));
	KH_GUARD(kh_store_rows_int(rows, KH_QPA_KEYSTORE_ID, &a.keystore_id));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPA_NAME, a.name, sizeof(a.name)));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPA_FINGERPRINT, a.fingerprint,
	                                 sizeof(a.fingerprint)));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPA_SUBJECT, a.subject, sizeof(a.subject)));
	KH_GUARD(kh_store_rows_int(rows, KH_QPA_NOT_AFTER, &a.not_after));
	KH_GUARD(kh_store_rows_int(rows, KH_QPA_CREATED_AT, &a.created_at));
	if (der != NULL) {
		struct kh_slice s;
		KH_GUARD(kh_store_rows_blob(rows, KH_QPA_CERTIFICATE, &s));
		KH_GUARD(kh_buf_append(der, s));
	}
	*out = a;
	return KH_OK;
}

kh_rc kh_pki_anchor_load(struct kh_store_tx *tx, int64_t id, struct kh_pki_anchor *out,
                         struct kh_buf *der)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_anchor_get, v, 1, &rows, &found));
	kh_rc rc = found ? decode(rows, out, der) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_pki_anchor_each(struct kh_store_tx *tx, int64_t keystore_id, kh_pki_anchor_der_fn fn,
                         void *arg)
{
	kh_rc rc = KH_OK;
	struct kh_store_rows *rows = NULL;
	struct kh_buf der;
	kh_buf_init(&der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	struct kh_store_val v[] = {KH_SV_INT(keystore_id), KH_SV_INT(0),
	                           KH_SV_INT(KH_PKI_ANCHOR_MAX)};
	KH_GUARD_OUT(kh_store_query(tx, &kh_q_pki_anchor_list, v, KH_SV_COUNT(v), &rows));
	for (;;) {
		bool more = false;
		struct kh_pki_anchor a;
		KH_GUARD_OUT(kh_store_rows_next(rows, &more));
		if (!more)
			break;
		kh_buf_clear(&der);
		KH_GUARD_OUT(decode(rows, &a, &der));
		KH_GUARD_OUT(fn(&a, kh_buf_slice(&der), arg));
	}
out:
	kh_store_rows_close(&rows);
	kh_buf_cleanup(&der);
	return rc;
}

/* ---- adding ---- */

struct add {
	const char *name;
	struct kh_slice der;
	const struct kh_pki_cert_info *info;
	char fingerprint[KH_PKI_FINGERPRINT_HEX_MAX];
	int64_t id;
};

static kh_rc count_fn(const struct kh_pki_anchor *a, struct kh_slice der, void *arg)
{
	(void)a;
	(void)der;
	(*(size_t *)arg)++;
	return KH_OK;
}

static kh_rc add_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct add *in = ch->arg;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	size_t count = 0;
	struct kh_store_val c[] = {KH_SV_INT(ch->p->keystore_id), KH_SV_TEXT(in->name),
	                           KH_SV_TEXT(in->fingerprint)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_anchor_clash, c, KH_SV_COUNT(c), &rows, &found));
	kh_store_rows_close(&rows);
	KH_ENSURE(!found, KH_ERR_CONFLICT);
	KH_GUARD(kh_pki_anchor_each(tx, ch->p->keystore_id, count_fn, &count));
	KH_ENSURE(count < KH_PKI_ANCHOR_MAX, KH_ERR_TOO_LARGE);
	struct kh_store_val v[] = {
	    KH_SV_INT(ch->p->keystore_id),
	    KH_SV_TEXT(in->name),
	    KH_SV_TEXT(in->fingerprint),
	    KH_SV_TEXT(in->info->subject),
	    KH_SV_INT(in->info->not_after * KH_NS_PER_SEC),
	    KH_SV_BLOB(in->der),
	    KH_SV_INT(ch->now),
	};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_anchor_insert, v, KH_SV_COUNT(v), &rows, &found));
	kh_rc rc = found ? kh_store_rows_int(rows, 0, &in->id) : KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"anchor\":%lld,\"name\":\"%s\",\"fingerprint\":\"%s\"}", (long long)in->id,
	         in->name, in->fingerprint);
	return KH_OK;
}

static kh_rc fingerprint(struct kh_slice der, char out[KH_PKI_FINGERPRINT_HEX_MAX])
{
	uint8_t digest[32];
	struct kh_buf hex;
	KH_GUARD(kh_hash(KH_HASH_SHA256, der, digest, sizeof(digest)));
	kh_buf_init(&hex, KH_PKI_FINGERPRINT_HEX_MAX, KH_BUF_PLAIN);
	kh_rc rc = kh_hex_encode(KH_SLICE(digest, sizeof(digest)), &hex);
	if (rc == KH_OK) {
		memcpy(out, hex.ptr, hex.len);
		out[hex.len] = '\0';
	}
	kh_buf_cleanup(&hex);
	return rc;
}

static kh_rc add_check(struct kh_pki *pk, const struct kh_principal *p, const char *name,
                       struct kh_slice certificate, struct kh_buf *der,
                       struct kh_pki_cert_info **info, char *msg, size_t msg_len)
{
	KH_GUARD(kh_pki_may(p, p->keystore_id, KH_PKI_MANAGER));
	if (name == NULL || !kh_pki_name_valid(name, KH_LIMIT_NAME_MAX)) {
		snprintf(msg, msg_len, "the name must be 1 to %u of [A-Za-z0-9_.-]",
		         KH_LIMIT_NAME_MAX);
		return KH_ERR_BAD_INPUT;
	}
	if (kh_pki_cert_from_pem(certificate, der) != KH_OK)
		KH_GUARD(kh_buf_append(der, certificate));
	KH_GUARD(kh_pki_anchor_check(kh_buf_slice(der), kh_pki_sec(kh_clock_now(pk->clock)), msg,
	                             msg_len));
	return kh_pki_cert_info_read(kh_buf_slice(der), info);
}

kh_rc kh_pki_anchor_add(struct kh_pki *pk, const struct kh_principal *p, const char *name,
                        struct kh_slice certificate, struct kh_pki_anchor *out, char *message,
                        size_t message_len)
{
	char scratch[KH_PKI_MESSAGE_MAX];
	char *msg = message != NULL && message_len > 0 ? message : scratch;
	size_t msg_len = message != NULL && message_len > 0 ? message_len : sizeof(scratch);
	msg[0] = '\0';
	struct kh_buf der;
	struct kh_pki_cert_info *info = NULL;
	struct add in = {.name = name};
	kh_buf_init(&der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = add_check(pk, p, name, certificate, &der, &info, msg, msg_len);
	if (rc == KH_OK)
		rc = fingerprint(kh_buf_slice(&der), in.fingerprint);
	if (rc != KH_OK) {
		rc = kh_pki_refused(pk, p, "pki.trust.add", 0, rc);
		goto out;
	}
	in.der = kh_buf_slice(&der);
	in.info = info;
	struct kh_pki_change ch = {
	    .pk = pk, .p = p, .op = "pki.trust.add", .apply = add_fn, .arg = &in};
	rc = kh_pki_change_run(&ch);
	if (rc == KH_ERR_CONFLICT)
		snprintf(msg, msg_len, "a trust anchor with that name or certificate exists");
	else if (rc == KH_ERR_TOO_LARGE)
		snprintf(msg, msg_len, "a key store holds at most %u trust anchors",
		         KH_PKI_ANCHOR_MAX);
	if (rc == KH_OK)
		rc = kh_pki_anchor_get(pk, p, in.id, out, NULL);
out:
	kh_pki_cert_info_free(&info);
	kh_buf_cleanup(&der);
	return rc;
}

/* ---- reading ---- */

kh_rc kh_pki_anchor_get(struct kh_pki *pk, const struct kh_principal *p, int64_t id,
                        struct kh_pki_anchor *out, struct kh_buf *out_der)
{
	struct kh_store_tx *tx = NULL;
	struct kh_pki_anchor a;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_pki_anchor_load(tx, id, &a, out_der);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	KH_GUARD(kh_pki_may(p, a.keystore_id, KH_PKI_ANY_ACCOUNT | KH_PKI_OPERATOR));
	*out = a;
	return KH_OK;
}

struct list {
	kh_pki_anchor_fn fn;
	void *arg;
};

static kh_rc list_fn(const struct kh_pki_anchor *a, struct kh_slice der, void *arg)
{
	(void)der;
	struct list *l = arg;
	return l->fn(a, l->arg);
}

kh_rc kh_pki_anchor_list(struct kh_pki *pk, const struct kh_principal *p, int64_t keystore_id,
                         kh_pki_anchor_fn fn, void *arg)
{
	int64_t ks = p->kind == KH_PRINCIPAL_OPERATOR ? keystore_id : p->keystore_id;
	KH_GUARD(kh_pki_may(p, ks, KH_PKI_ANY_ACCOUNT | KH_PKI_OPERATOR));
	struct kh_store_tx *tx = NULL;
	struct list l = {fn, arg};
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_pki_anchor_each(tx, ks, list_fn, &l);
	kh_store_read_end(&tx);
	return rc;
}

/* ---- removing ---- */

static kh_rc remove_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	int64_t id = *(const int64_t *)ch->arg;
	struct kh_pki_anchor a;
	struct kh_store_rows *rows = NULL;
	bool used = false;
	uint64_t changed = 0;
	KH_GUARD(kh_pki_anchor_load(tx, id, &a, NULL));
	KH_GUARD(kh_pki_may(ch->p, a.keystore_id, KH_PKI_MANAGER));
	ch->keystore_id = a.keystore_id;
	struct kh_store_val v[] = {KH_SV_INT(id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_anchor_users, v, 1, &rows, &used));
	kh_store_rows_close(&rows);
	KH_ENSURE(!used, KH_ERR_CONFLICT);
	KH_GUARD(kh_store_exec(tx, &kh_q_pki_anchor_delete, v, 1, &changed));
	KH_ENSURE(changed == 1, KH_ERR_NOT_FOUND);
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"anchor\":%lld,\"name\":\"%s\",\"fingerprint\":\"%s\"}", (long long)id, a.name,
	         a.fingerprint);
	return KH_OK;
}

kh_rc kh_pki_anchor_remove(struct kh_pki *pk, const struct kh_principal *p, int64_t id)
{
	struct kh_pki_change ch = {
	    .pk = pk, .p = p, .op = "pki.trust.remove", .apply = remove_fn, .arg = &id};
	return kh_pki_change_run(&ch);
}

/* ---- the trust list ---- */

static kh_rc pem_fn(const struct kh_pki_anchor *a, struct kh_slice der, void *arg)
{
	(void)a;
	return kh_pki_cert_to_pem(der, arg);
}

static kh_rc trust_list_of(struct kh_store_tx *tx, int64_t keystore_id, struct kh_buf *out)
{
	KH_GUARD(kh_pki_anchor_each(tx, keystore_id, pem_fn, out));
	struct kh_store_rows *rows = NULL;
	kh_rc rc = KH_OK;
	struct kh_store_val v[] = {KH_SV_INT(keystore_id)};
	KH_GUARD(kh_store_query(tx, &kh_q_pki_ca_roots, v, 1, &rows));
	for (;;) {
		bool more = false;
		struct kh_slice der;
		KH_GUARD_OUT(kh_store_rows_next(rows, &more));
		if (!more)
			break;
		KH_GUARD_OUT(kh_store_rows_blob(rows, 0, &der));
		KH_GUARD_OUT(kh_pki_cert_to_pem(der, out));
	}
out:
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_pki_trust_list(struct kh_pki *pk, const struct kh_principal *p, int64_t keystore_id,
                        struct kh_buf *out_pem)
{
	int64_t ks = p->kind == KH_PRINCIPAL_OPERATOR ? keystore_id : p->keystore_id;
	KH_GUARD(kh_pki_may(p, ks, KH_PKI_ANY_ACCOUNT | KH_PKI_OPERATOR));
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = trust_list_of(tx, ks, out_pem);
	kh_store_read_end(&tx);
	return rc;
}

kh_rc kh_pki_trust_list_public(struct kh_pki *pk, int64_t ca_id, struct kh_buf *out_pem)
{
	struct kh_store_tx *tx = NULL;
	struct kh_pki_ca ca;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_pki_ca_load(tx, ca_id, &ca, NULL, NULL);
	if (rc == KH_OK)
		rc = trust_list_of(tx, ca.keystore_id, out_pem);
	kh_store_read_end(&tx);
	return rc;
}
