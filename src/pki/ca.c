// SPDX-License-Identifier: Apache-2.0
/*
 * Certificate authorities: a root signs itself, an intermediate is signed by another CA of the
 * same key store, an external CA sends a CSR out and later receives its certificate. The CA's
 * key is a keyhold key "pki-ca.<name>" created through keys/ (usage sign-verify, no automatic
 * rotation: a new version would no longer match the certificate). The key is made first (RSA
 * generation is slow and belongs outside any transaction), the certificate or CSR is signed
 * through kh_keys_with_signer, then one write stores the CA with its audit record. A failure
 * after the key was made leaves the key (audited, disabled by nobody): the name check before
 * keeps that to concurrent creations of one name.
 */
#include <stdio.h>
#include <string.h>

#include "pki/kh_pki_int.h"

#define MAX_VALIDITY_DAYS 36500u
#define DAY_S INT64_C(86400)

/* ---- rows ---- */

static kh_rc blob_opt(struct kh_store_rows *rows, unsigned col, struct kh_buf *out, bool *present)
{
	*present = !kh_store_rows_is_null(rows, col);
	if (!*present || out == NULL)
		return KH_OK;
	struct kh_slice s;
	KH_GUARD(kh_store_rows_blob(rows, col, &s));
	return kh_buf_append(out, s);
}

kh_rc kh_pki_ca_decode(struct kh_store_rows *rows, struct kh_pki_ca *out, struct kh_buf *cert_der,
                       struct kh_buf *csr)
{
	struct kh_pki_ca ca = {0};
	struct kh_slice s;
	int64_t parent = 0, number = 0;
	bool is_null = false, has_csr = false;
	KH_GUARD(kh_store_rows_int(rows, KH_QPC_ID, &ca.id));
	KH_GUARD(kh_store_rows_int(rows, KH_QPC_KEYSTORE_ID, &ca.keystore_id));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPC_NAME, ca.name, sizeof(ca.name)));
	KH_GUARD(kh_store_rows_text(rows, KH_QPC_KIND, &s));
	KH_ENSURE(kh_pki_ca_kind_parse(s, &ca.kind) == KH_OK, KH_ERR_STORAGE);
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPC_KEY_TAG, ca.key_tag, sizeof(ca.key_tag)));
	KH_GUARD(kh_store_rows_int_opt(rows, KH_QPC_PARENT_ID, &parent, &is_null));
	ca.parent_id = is_null ? 0 : parent;
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QPC_SUBJECT, ca.subject, sizeof(ca.subject)));
	KH_GUARD(kh_store_rows_int(rows, KH_QPC_NOT_AFTER, &ca.not_after));
	KH_GUARD(kh_store_rows_int(rows, KH_QPC_NEXT_CRL_NUMBER, &number));
	KH_ENSURE(number >= 1, KH_ERR_STORAGE);
	ca.next_crl_number = (uint64_t)number;
	KH_GUARD(kh_store_rows_int(rows, KH_QPC_CREATED_AT, &ca.created_at));
	KH_GUARD(kh_store_rows_int_opt(rows, KH_QPC_ANCHOR_ID, &ca.anchor_id, &is_null));
	if (!kh_store_rows_is_null(rows, KH_QPC_RESPONDER_KEY_TAG)) {
		KH_GUARD(kh_store_rows_text_copy(rows, KH_QPC_RESPONDER_KEY_TAG,
		                                 ca.responder_key_tag,
		                                 sizeof(ca.responder_key_tag)));
		KH_GUARD(
		    kh_store_rows_int(rows, KH_QPC_RESPONDER_NOT_AFTER, &ca.responder_not_after));
	}
	KH_GUARD(kh_store_rows_int(rows, KH_QPC_RESPONDER_GENERATION, &ca.responder_generation));
	KH_GUARD(blob_opt(rows, KH_QPC_CERTIFICATE, cert_der, &ca.has_certificate));
	KH_GUARD(blob_opt(rows, KH_QPC_CSR, csr, &has_csr));
	KH_ENSURE(ca.has_certificate || ca.kind == KH_PKI_CA_EXTERNAL, KH_ERR_STORAGE);
	*out = ca;
	return KH_OK;
}

kh_rc kh_pki_ca_load(struct kh_store_tx *tx, int64_t id, struct kh_pki_ca *out,
                     struct kh_buf *cert_der, struct kh_buf *csr)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_ca_get, v, 1, &rows, &found));
	kh_rc rc = found ? kh_pki_ca_decode(rows, out, cert_der, csr) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_pki_chain_pem(struct kh_store_tx *tx, int64_t ca_id, struct kh_buf *out)
{
	kh_rc rc = KH_OK;
	struct kh_buf der;
	kh_buf_init(&der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	int64_t id = ca_id, anchor = 0;
	for (unsigned depth = 0; id != 0; depth++) {
		struct kh_pki_ca ca;
		KH_ENSURE_OUT(depth < KH_PKI_CHAIN_MAX, KH_ERR_STORAGE);
		kh_buf_clear(&der);
		KH_GUARD_OUT(kh_pki_ca_load(tx, id, &ca, &der, NULL));
		if (!ca.has_certificate)
			break;
		KH_GUARD_OUT(kh_pki_cert_to_pem(kh_buf_slice(&der), out));
		id = ca.parent_id;
		anchor = ca.anchor_id;
	}
	if (anchor != 0) {
		struct kh_pki_anchor a;
		kh_buf_clear(&der);
		KH_GUARD_OUT(kh_pki_anchor_load(tx, anchor, &a, &der));
		KH_GUARD_OUT(kh_pki_cert_to_pem(kh_buf_slice(&der), out));
	}
out:
	kh_buf_cleanup(&der);
	return rc;
}

/* ---- creation ---- */

struct create {
	struct kh_pki *pk;
	const struct kh_principal *p;
	const struct kh_pki_ca_create *req;
	struct kh_pki_ca parent;
	struct kh_buf parent_der;
	struct kh_key_info key;
	struct kh_pkey *pub; /* the new key's public half */
	int64_t now;
	struct kh_buf cert_der;
	struct kh_buf csr_pem;
	struct kh_buf csr_der;
	int64_t not_after; /* seconds */
	int64_t id;
};

static kh_rc check_request(const struct kh_pki_ca_create *r)
{
	KH_ENSURE(kh_pki_name_valid(r->name, KH_PKI_CA_NAME_MAX), KH_ERR_BAD_INPUT);
	KH_ENSURE(r->kind >= KH_PKI_CA_ROOT && r->kind <= KH_PKI_CA_EXTERNAL, KH_ERR_BAD_INPUT);
	KH_ENSURE(kh_key_type_is_asymmetric(r->key_type), KH_ERR_WRONG_KEY_TYPE);
	KH_ENSURE(r->subject != NULL && r->subject[0] != '\0' &&
	              strnlen(r->subject, KH_PKI_NAME_TEXT_MAX) < KH_PKI_NAME_TEXT_MAX,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(r->kind == KH_PKI_CA_EXTERNAL ||
	              (r->validity_days >= 1 && r->validity_days <= MAX_VALIDITY_DAYS),
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(r->path_len >= -1 && r->path_len <= 16, KH_ERR_BAD_INPUT);
	KH_ENSURE((r->kind == KH_PKI_CA_INTERMEDIATE) == (r->parent_id != 0), KH_ERR_BAD_INPUT);
	return KH_OK;
}

/* Before the key is made: who, the name is free, the parent can sign. */
static kh_rc precheck(struct create *c)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_GUARD(kh_pki_may(c->p, c->p->keystore_id, KH_PKI_MANAGER));
	KH_GUARD(check_request(c->req));
	struct kh_store_val v[] = {KH_SV_INT(c->p->keystore_id), KH_SV_TEXT(c->req->name)};
	KH_GUARD(kh_store_read_begin(c->pk->store, &tx));
	KH_GUARD_OUT(
	    kh_store_query_one(tx, &kh_q_pki_ca_by_name, v, KH_SV_COUNT(v), &rows, &found));
	KH_ENSURE_OUT(!found, KH_ERR_CONFLICT);
	kh_store_rows_close(&rows);
	if (c->req->kind == KH_PKI_CA_INTERMEDIATE) {
		KH_GUARD_OUT(
		    kh_pki_ca_load(tx, c->req->parent_id, &c->parent, &c->parent_der, NULL));
		KH_ENSURE_OUT(c->parent.keystore_id == c->p->keystore_id, KH_ERR_NOT_FOUND);
		KH_ENSURE_OUT(c->parent.has_certificate, KH_ERR_CONFLICT);
		KH_ENSURE_OUT(c->parent.not_after > c->now, KH_ERR_CONFLICT);
	}
out:
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc;
}

static kh_rc make_key(struct create *c)
{
	char name[KH_LIMIT_NAME_MAX + 1];
	struct kh_buf pem;
	snprintf(name, sizeof(name), "pki-ca.%s", c->req->name);
	struct kh_key_create kc = {
	    .name = name,
	    .type = c->req->key_type,
	    .usage = KH_USAGE_SIGN_VERIFY,
	    .rotation_period_days = 0,
	    .description = "PKI certificate authority key",
	};
	KH_GUARD(kh_keys_create(c->pk->keys, c->p, &kc, &c->key));
	uint32_t version = 0;
	kh_buf_init(&pem, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_keys_public_key(c->pk->keys, c->p, c->key.tag, 0, &version, &pem);
	if (rc == KH_OK)
		rc = kh_pkey_import_public(kh_buf_slice(&pem), &c->pub);
	kh_buf_cleanup(&pem);
	return rc;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static kh_rc sign_cert_fn(void *arg, const struct kh_pkey *key)
{
	struct create *c = arg;
	uint8_t serial[KH_PKI_SERIAL_LEN];
	KH_GUARD(kh_pki_serial_random(serial, sizeof(serial)));
	int64_t now_s = kh_pki_sec(c->now);
	c->not_after = now_s + (int64_t)c->req->validity_days * DAY_S;
	if (c->req->kind == KH_PKI_CA_INTERMEDIATE)
		c->not_after = min64(c->not_after, kh_pki_sec(c->parent.not_after));
	KH_ENSURE(c->not_after > now_s, KH_ERR_CONFLICT);
	struct kh_pki_cert_spec spec = {
	    .serial = KH_SLICE(serial, sizeof(serial)),
	    .subject = c->req->subject,
	    .issuer_cert_der = kh_buf_slice(&c->parent_der),
	    .not_before = now_s,
	    .not_after = c->not_after,
	    .subject_key = c->req->kind == KH_PKI_CA_ROOT ? key : c->pub,
	    .is_ca = true,
	    .path_len = c->req->path_len,
	    .key_usage = KH_PKI_KU_KEY_CERT_SIGN | KH_PKI_KU_CRL_SIGN | KH_PKI_KU_DIGITAL_SIGNATURE,
	};
	return kh_pki_cert_build(&spec, key, &c->cert_der);
}

static kh_rc sign_csr_fn(void *arg, const struct kh_pkey *key)
{
	struct create *c = arg;
	return kh_pki_csr_build(key, c->req->subject, NULL, 0, &c->csr_pem);
}

static kh_rc insert_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct create *c = ch->arg;
	bool cert = c->cert_der.len > 0;
	struct kh_store_val v[] = {
	    KH_SV_INT(c->p->keystore_id),
	    KH_SV_TEXT(c->req->name),
	    KH_SV_TEXT(kh_pki_ca_kind_name(c->req->kind)),
	    KH_SV_TEXT(c->key.tag),
	    c->req->parent_id != 0 ? KH_SV_INT(c->req->parent_id) : KH_SV_NULL,
	    cert ? KH_SV_BLOB(kh_buf_slice(&c->cert_der)) : KH_SV_NULL,
	    cert ? KH_SV_NULL : KH_SV_BLOB(kh_buf_slice(&c->csr_der)),
	    KH_SV_TEXT(c->req->subject),
	    KH_SV_INT(cert ? c->not_after * KH_NS_PER_SEC : 0),
	    KH_SV_INT(ch->now),
	};
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_GUARD(kh_store_query_one(tx, &kh_q_pki_ca_insert, v, KH_SV_COUNT(v), &rows, &found));
	kh_rc rc = found ? kh_store_rows_int(rows, 0, &c->id) : KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	snprintf(ch->detail, sizeof(ch->detail),
	         "{\"ca\":%lld,\"name\":\"%s\",\"kind\":\"%s\",\"key\":\"%s\"}", (long long)c->id,
	         c->req->name, kh_pki_ca_kind_name(c->req->kind), c->key.tag);
	return KH_OK;
}

static kh_rc read_back(struct kh_pki *pk, int64_t id, struct kh_pki_ca *out)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_pki_ca_load(tx, id, out, NULL, NULL);
	kh_store_read_end(&tx);
	return rc;
}

static kh_rc create_run(struct create *c, struct kh_pki_ca *out, struct kh_buf *out_csr_pem)
{
	kh_rc rc = precheck(c);
	if (rc != KH_OK)
		return kh_pki_refused(c->pk, c->p, "pki.ca.create", 0, rc);
	KH_GUARD(make_key(c));
	if (c->req->kind == KH_PKI_CA_EXTERNAL) {
		KH_GUARD(kh_keys_with_signer(c->pk->keys, c->p, c->key.tag, sign_csr_fn, c));
		KH_GUARD(kh_pki_der_of(kh_buf_slice(&c->csr_pem), &c->csr_der));
	} else if (c->req->kind == KH_PKI_CA_ROOT) {
		KH_GUARD(kh_keys_with_signer(c->pk->keys, c->p, c->key.tag, sign_cert_fn, c));
	} else {
		KH_GUARD(kh_pki_with_ca_key(c->pk, c->p, &c->parent, sign_cert_fn, c));
	}
	struct kh_pki_change ch = {
	    .pk = c->pk, .p = c->p, .op = "pki.ca.create", .apply = insert_fn, .arg = c};
	KH_GUARD(kh_pki_change_run(&ch));
	KH_GUARD(read_back(c->pk, c->id, out));
	if (out_csr_pem != NULL && c->csr_pem.len > 0)
		KH_GUARD(kh_buf_append(out_csr_pem, kh_buf_slice(&c->csr_pem)));
	return KH_OK;
}

kh_rc kh_pki_ca_create(struct kh_pki *pk, const struct kh_principal *p,
                       const struct kh_pki_ca_create *req, struct kh_pki_ca *out,
                       struct kh_buf *out_csr_pem)
{
	struct create c = {.pk = pk, .p = p, .req = req, .now = kh_clock_now(pk->clock)};
	kh_buf_init(&c.parent_der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&c.cert_der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&c.csr_pem, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&c.csr_der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = create_run(&c, out, out_csr_pem);
	kh_pkey_free(&c.pub);
	kh_buf_cleanup(&c.parent_der);
	kh_buf_cleanup(&c.cert_der);
	kh_buf_cleanup(&c.csr_pem);
	kh_buf_cleanup(&c.csr_der);
	return rc;
}

/* ---- installing an external CA's certificate ---- */

struct install {
	int64_t ca_id;
	struct kh_slice der;
	const struct kh_pkey *pub;
	const struct kh_pki_cert_info *info;
	struct kh_pki_ca ca;
	int64_t now_s;
	int64_t anchor_id; /* the anchor it verified under; 0: none has its issuer's name */
	bool anchor_named;
};

static kh_rc install_fn(struct kh_pki_change *ch, struct kh_store_tx *tx)
{
	struct install *in = ch->arg;
	uint64_t changed = 0;
	KH_GUARD(kh_pki_change_ca(ch, tx, in->ca_id, KH_PKI_MANAGER, &in->ca));
	KH_ENSURE(in->ca.kind == KH_PKI_CA_EXTERNAL && !in->ca.has_certificate, KH_ERR_CONFLICT);
	if (in->anchor_id != 0) {
		struct kh_pki_anchor a;
		kh_rc rc = kh_pki_anchor_load(tx, in->anchor_id, &a, NULL);
		KH_ENSURE(rc != KH_ERR_NOT_FOUND, KH_ERR_CONFLICT); /* removed meanwhile */
		KH_GUARD(rc);
	}
	struct kh_store_val v[] = {
	    KH_SV_BLOB(in->der), KH_SV_INT(in->info->not_after * KH_NS_PER_SEC),
	    in->anchor_id != 0 ? KH_SV_INT(in->anchor_id) : KH_SV_NULL, KH_SV_INT(in->ca_id)};
	KH_GUARD(kh_store_exec(tx, &kh_q_pki_ca_install, v, KH_SV_COUNT(v), &changed));
	KH_ENSURE(changed == 1, KH_ERR_CONFLICT);
	snprintf(ch->detail, sizeof(ch->detail), "{\"ca\":%lld,\"serial\":\"%s\",\"anchor\":%lld}",
	         (long long)in->ca_id, in->info->serial_hex, (long long)in->anchor_id);
	return KH_OK;
}

/* The certificate's key must be the CA's: a CRL signed by the CA's key then verifies under
 * it (the toolkit's own check that a signer matches its certificate). */
static kh_rc key_matches_fn(void *arg, const struct kh_pkey *key)
{
	struct install *in = arg;
	struct kh_buf crl;
	kh_buf_init(&crl, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	struct kh_pki_crl_params params = {
	    .ca_cert = in->der,
	    .crl_number = 1,
	    .this_update = in->info->not_before,
	    .next_update = in->info->not_before + 1,
	};
	kh_rc rc = kh_pki_crl_build(key, &params, &crl);
	kh_buf_cleanup(&crl);
	return rc;
}

/* An anchor of the key store named as the certificate's issuer must have signed it. */
static kh_rc anchor_fn(const struct kh_pki_anchor *a, struct kh_slice der, void *arg)
{
	struct install *in = arg;
	if (in->anchor_id != 0 || strcmp(a->subject, in->info->issuer) != 0)
		return KH_OK;
	in->anchor_named = true;
	kh_rc rc = kh_pki_chain_verify(in->der, NULL, 0, &der, 1, in->now_s, NULL, 0);
	if (rc == KH_OK)
		in->anchor_id = a->id;
	return rc == KH_ERR_BAD_SIGNATURE || rc == KH_ERR_BAD_INPUT ? KH_OK : rc;
}

static kh_rc find_anchor(struct kh_pki *pk, struct install *in)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	kh_rc rc = kh_pki_anchor_each(tx, in->ca.keystore_id, anchor_fn, in);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	KH_ENSURE(in->anchor_id != 0 || !in->anchor_named, KH_ERR_BAD_SIGNATURE);
	return KH_OK;
}

kh_rc kh_pki_ca_install(struct kh_pki *pk, const struct kh_principal *p, int64_t ca_id,
                        struct kh_slice certificate, struct kh_pki_ca *out)
{
	struct kh_buf der;
	struct kh_pki_cert_info *info = NULL;
	struct install in = {.ca_id = ca_id, .now_s = kh_pki_sec(kh_clock_now(pk->clock))};
	kh_buf_init(&der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	KH_GUARD_OUT(kh_store_read_begin(pk->store, &tx));
	rc = kh_pki_ca_load(tx, ca_id, &in.ca, NULL, NULL);
	kh_store_read_end(&tx);
	if (rc == KH_OK)
		rc = kh_pki_may(p, in.ca.keystore_id, KH_PKI_MANAGER);
	if (rc == KH_OK && (in.ca.kind != KH_PKI_CA_EXTERNAL || in.ca.has_certificate))
		rc = KH_ERR_CONFLICT;
	if (rc == KH_OK && kh_pki_cert_from_pem(certificate, &der) != KH_OK)
		rc = kh_buf_append(&der, certificate);
	if (rc == KH_OK)
		rc = kh_pki_cert_info_read(kh_buf_slice(&der), &info);
	if (rc == KH_OK && !info->is_ca)
		rc = KH_ERR_BAD_INPUT;
	if (rc != KH_OK) {
		rc = kh_pki_refused(pk, p, "pki.ca.install",
		                    rc == KH_ERR_NOT_FOUND ? 0 : in.ca.keystore_id, rc);
		goto out;
	}
	in.der = kh_buf_slice(&der);
	in.info = info;
	rc = kh_keys_with_signer(pk->keys, p, in.ca.key_tag, key_matches_fn, &in);
	if (rc == KH_OK)
		rc = find_anchor(pk, &in);
	if (rc != KH_OK) {
		rc = kh_pki_refused(pk, p, "pki.ca.install", in.ca.keystore_id, rc);
		goto out;
	}
	struct kh_pki_change ch = {
	    .pk = pk, .p = p, .op = "pki.ca.install", .apply = install_fn, .arg = &in};
	KH_GUARD_OUT(kh_pki_change_run(&ch));
	KH_GUARD_OUT(read_back(pk, ca_id, out));
out:
	kh_pki_cert_info_free(&info);
	kh_buf_cleanup(&der);
	return rc;
}

/* ---- reading ---- */

kh_rc kh_pki_ca_get(struct kh_pki *pk, const struct kh_principal *p, int64_t ca_id,
                    struct kh_pki_ca *out, struct kh_buf *out_cert_der, struct kh_buf *out_csr_pem)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_pki_ca ca;
	struct kh_buf cert, csr;
	kh_buf_init(&cert, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&csr, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	KH_GUARD_OUT(kh_store_read_begin(pk->store, &tx));
	KH_GUARD_OUT(kh_pki_ca_load(tx, ca_id, &ca, &cert, &csr));
	KH_GUARD_OUT(kh_pki_may(p, ca.keystore_id, KH_PKI_ANY_ACCOUNT | KH_PKI_OPERATOR));
	if (out_cert_der != NULL)
		KH_GUARD_OUT(kh_buf_append(out_cert_der, kh_buf_slice(&cert)));
	if (out_csr_pem != NULL && csr.len > 0)
		KH_GUARD_OUT(
		    kh_pki_der_to_pem(kh_buf_slice(&csr), "CERTIFICATE REQUEST", out_csr_pem));
	*out = ca;
out:
	kh_store_read_end(&tx);
	kh_buf_cleanup(&cert);
	kh_buf_cleanup(&csr);
	return rc;
}

kh_rc kh_pki_ca_list(struct kh_pki *pk, const struct kh_principal *p, int64_t keystore_id,
                     kh_pki_ca_fn fn, void *arg)
{
	return kh_pki_ca_list_after(pk, p, keystore_id, 0, fn, arg);
}

kh_rc kh_pki_ca_list_after(struct kh_pki *pk, const struct kh_principal *p, int64_t keystore_id,
                           int64_t after_id, kh_pki_ca_fn fn, void *arg)
{
	kh_rc rc = KH_OK;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	int64_t ks = p->kind == KH_PRINCIPAL_OPERATOR ? keystore_id : p->keystore_id;
	KH_GUARD(kh_pki_may(p, ks, KH_PKI_ANY_ACCOUNT | KH_PKI_OPERATOR));
	struct kh_store_val v[] = {KH_SV_INT(ks), KH_SV_INT(after_id),
	                           KH_SV_INT(KH_LIMIT_PAGE_MAX)};
	KH_GUARD(kh_store_read_begin(pk->store, &tx));
	KH_GUARD_OUT(kh_store_query(tx, &kh_q_pki_ca_list, v, KH_SV_COUNT(v), &rows));
	for (;;) {
		bool more = false;
		struct kh_pki_ca ca;
		KH_GUARD_OUT(kh_store_rows_next(rows, &more));
		if (!more)
			break;
		KH_GUARD_OUT(kh_pki_ca_decode(rows, &ca, NULL, NULL));
		KH_GUARD_OUT(fn(&ca, arg));
	}
out:
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc;
}
