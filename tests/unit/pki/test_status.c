/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate status in the PKI library: revocation, hold and release (and revoking twice);
 * full and delta CRLs, signed by the CA's key, verified with kh_pki_crl_verify and read back
 * with kh_pki_crl_parse (entries, numbers, base); OCSP answers good, revoked and unknown for
 * requests made by the openssl command line, verified with kh_pki_ocsp_verify and parsed; the
 * cache of responses and its invalidation on revocation; who may do what; the audit records.
 */
#include "kh_test_pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T(name) cmocka_unit_test_setup_teardown(name, kh_test_pki_setup, kh_test_pki_teardown)

static struct kh_buf new_buf(void)
{
	struct kh_buf b;
	kh_buf_init(&b, 1024 * 1024, KH_BUF_PLAIN);
	return b;
}

struct pki {
	struct kh_pki_ca root, ca;
	struct kh_buf ca_der;
	char serial[3][KH_PKI_SERIAL_HEX_MAX];
};

/* root -> issuing CA with three leaves (auto-approved). */
static void pki_new(struct kh_test_pki *e, struct pki *x, enum kh_key_type type)
{
	x->root = kh_test_pki_ca(e, "root", KH_PKI_CA_ROOT, type, 0);
	x->ca = kh_test_pki_ca(e, "issuing", KH_PKI_CA_INTERMEDIATE, type, x->root.id);
	(void)kh_test_pki_profile(e, x->ca.id, "auto", false);
	x->ca_der = kh_test_pki_ca_cert(e, x->ca.id);
	for (int i = 0; i < 3; i++) {
		struct kh_pki_request r =
		    kh_test_pki_issue(e, x->ca.id, "auto",
		                      type == KH_KEY_SM2 ? KH_PKEY_SM2 : KH_PKEY_EC_P256, "leaf");
		memcpy(x->serial[i], r.serial, sizeof(x->serial[i]));
	}
}

static void pki_free(struct pki *x)
{
	kh_buf_cleanup(&x->ca_der);
}

static enum kh_pki_cert_status status_of(struct kh_test_pki *e, const char *serial)
{
	struct kh_pki_certificate c;
	assert_int_equal(kh_pki_certificate_get(e->pk, &e->mgr, serial, &c, NULL, NULL), KH_OK);
	return c.status;
}

static kh_rc count_cert(const struct kh_pki_certificate *c, void *arg)
{
	(void)c;
	(*(size_t *)arg)++;
	return KH_OK;
}

static void revoke_hold_and_release(void **state)
{
	struct kh_test_pki *e = *state;
	struct pki x;
	pki_new(e, &x, KH_KEY_ECDSA_P256);
	const char *a = x.serial[0], *b = x.serial[1];

	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_pki_certificate_revoke(e->pk, &e->mgr, a, KH_CRL_REASON_KEY_COMPROMISE),
	                 KH_OK);
	kh_test_keys_audit_one(e->t, seq, "pki.certificate.revoke", &e->mgr, KH_OK);
	assert_int_equal(status_of(e, a), KH_PKI_CERT_REVOKED);
	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_pki_certificate_revoke(e->pk, &e->mgr, a, KH_CRL_REASON_SUPERSEDED),
	                 KH_ERR_CONFLICT);
	kh_test_keys_audit_one(e->t, seq, "pki.certificate.revoke", &e->mgr, KH_ERR_CONFLICT);
	assert_int_equal(kh_pki_certificate_hold(e->pk, &e->mgr, a), KH_ERR_CONFLICT);
	assert_int_equal(kh_pki_certificate_release(e->pk, &e->mgr, a), KH_ERR_CONFLICT);

	/* Reasons that are not revocations. */
	assert_int_equal(
	    kh_pki_certificate_revoke(e->pk, &e->mgr, b, KH_CRL_REASON_CERTIFICATE_HOLD),
	    KH_ERR_BAD_INPUT);
	assert_int_equal(
	    kh_pki_certificate_revoke(e->pk, &e->mgr, b, KH_CRL_REASON_REMOVE_FROM_CRL),
	    KH_ERR_BAD_INPUT);
	assert_int_equal(kh_pki_certificate_revoke(e->pk, &e->mgr, b, (enum kh_crl_reason)7),
	                 KH_ERR_BAD_INPUT);

	/* Hold, release, hold again, then revoke while held; the operator may. */
	assert_int_equal(kh_pki_certificate_release(e->pk, &e->mgr, b), KH_ERR_CONFLICT);
	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_pki_certificate_hold(e->pk, &e->op, b), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "pki.certificate.hold", &e->op, KH_OK);
	assert_int_equal(status_of(e, b), KH_PKI_CERT_HOLD);
	assert_int_equal(kh_pki_certificate_hold(e->pk, &e->mgr, b), KH_ERR_CONFLICT);
	seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_pki_certificate_release(e->pk, &e->mgr, b), KH_OK);
	kh_test_keys_audit_one(e->t, seq, "pki.certificate.release", &e->mgr, KH_OK);
	assert_int_equal(status_of(e, b), KH_PKI_CERT_GOOD);
	assert_int_equal(kh_pki_certificate_hold(e->pk, &e->mgr, b), KH_OK);
	assert_int_equal(kh_pki_certificate_revoke(e->pk, &e->op, b, KH_CRL_REASON_UNSPECIFIED),
	                 KH_OK);
	assert_int_equal(status_of(e, b), KH_PKI_CERT_REVOKED);

	/* Who: not the officer, the user, or another key store; unknown serials. */
	const char *c = x.serial[2];
	assert_int_equal(
	    kh_pki_certificate_revoke(e->pk, &e->officer, c, KH_CRL_REASON_UNSPECIFIED),
	    KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_certificate_revoke(e->pk, &e->user, c, KH_CRL_REASON_UNSPECIFIED),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_certificate_hold(e->pk, &e->other, c), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_pki_certificate_revoke(e->pk, &e->mgr, "00", KH_CRL_REASON_UNSPECIFIED),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(status_of(e, c), KH_PKI_CERT_GOOD);

	/* Lists by status. */
	struct kh_pki_certificate_filter f = {.status = KH_PKI_CERT_REVOKED, .limit = 10};
	bool more = true;
	size_t n = 0;
	assert_int_equal(kh_pki_certificate_list(e->pk, &e->user, &f, count_cert, &n, &more),
	                 KH_OK);
	assert_false(more);
	assert_int_equal(n, 2);
	pki_free(&x);
}

static bool has_entry(const struct kh_pki_crl_info *info, const char *serial_hex,
                      enum kh_crl_reason reason)
{
	struct kh_buf want = kh_test_hex(serial_hex);
	bool found = false;
	for (size_t i = 0; i < info->entry_count; i++) {
		const struct kh_pki_crl_info_entry *en = &info->entries[i];
		if (en->serial_len == want.len && memcmp(en->serial, want.ptr, want.len) == 0)
			found = reason == KH_CRL_REASON_UNSPECIFIED
			            ? !en->has_reason
			            : en->has_reason && en->reason == reason;
	}
	kh_buf_cleanup(&want);
	return found;
}

static void crl(struct kh_test_pki *e, struct pki *x, bool delta, uint64_t number,
                struct kh_pki_crl_info *info)
{
	struct kh_pki_crl c;
	struct kh_buf der = new_buf(), cur = new_buf();
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_pki_crl_generate(e->pk, &e->mgr, x->ca.id, delta, &c, &der), KH_OK);
	struct kh_test_audit_rec recs[4];
	assert_int_equal(kh_test_keys_audit_since(e->t, seq, recs, 4), 2);
	assert_string_equal(recs[0].operation, "key.sign_with");
	assert_string_equal(recs[1].operation, "pki.crl.generate");
	assert_int_equal(c.number, number);
	assert_int_equal(c.delta, delta);
	assert_int_equal(kh_pki_crl_verify(kh_buf_slice(&der), kh_buf_slice(&x->ca_der)), KH_OK);
	assert_int_equal(kh_pki_crl_parse(kh_buf_slice(&der), info), KH_OK);
	assert_true(info->has_number);
	assert_int_equal(info->crl_number, number);
	assert_int_equal(info->delta, delta);
	assert_int_equal(info->entry_count, c.entry_count);
	/* The stored current CRL of that kind is this one. */
	assert_int_equal(kh_pki_crl_current(e->pk, x->ca.id, delta, &cur), KH_OK);
	assert_int_equal(cur.len, der.len);
	assert_memory_equal(cur.ptr, der.ptr, der.len);
	kh_buf_cleanup(&der);
	kh_buf_cleanup(&cur);
}

static void full_and_delta_crls(struct kh_test_pki *e, enum kh_key_type type)
{
	struct pki x;
	struct kh_pki_crl_info info;
	struct kh_pki_crl c;
	struct kh_buf der = new_buf();
	pki_new(e, &x, type);
	const char *a = x.serial[0], *b = x.serial[1], *d = x.serial[2];

	/* No full CRL yet: no delta, nothing current. */
	assert_int_equal(kh_pki_crl_generate(e->pk, &e->mgr, x.ca.id, true, &c, NULL),
	                 KH_ERR_CONFLICT);
	assert_int_equal(kh_pki_crl_current(e->pk, x.ca.id, false, &der), KH_ERR_NOT_FOUND);

	assert_int_equal(kh_pki_certificate_revoke(e->pk, &e->mgr, a, KH_CRL_REASON_KEY_COMPROMISE),
	                 KH_OK);
	assert_int_equal(kh_pki_certificate_hold(e->pk, &e->mgr, b), KH_OK);
	/* Past the deltas' look-back before their base. */
	kh_test_keys_advance(e->t, 2 * 60 * KH_NS_PER_SEC);
	crl(e, &x, false, 1, &info);
	assert_int_equal(info.entry_count, 2);
	assert_true(has_entry(&info, a, KH_CRL_REASON_KEY_COMPROMISE));
	assert_true(has_entry(&info, b, KH_CRL_REASON_CERTIFICATE_HOLD));
	assert_int_equal(info.next_update - info.this_update, 24 * 3600);
	kh_pki_crl_info_cleanup(&info);

	/* After the base: b released, d revoked. The delta has just those two. */
	kh_test_keys_advance(e->t, 10 * KH_NS_PER_SEC);
	assert_int_equal(kh_pki_certificate_release(e->pk, &e->mgr, b), KH_OK);
	assert_int_equal(kh_pki_certificate_revoke(e->pk, &e->mgr, d, KH_CRL_REASON_SUPERSEDED),
	                 KH_OK);
	crl(e, &x, true, 2, &info);
	assert_int_equal(info.base_crl_number, 1);
	assert_int_equal(info.entry_count, 2);
	assert_true(has_entry(&info, b, KH_CRL_REASON_REMOVE_FROM_CRL));
	assert_true(has_entry(&info, d, KH_CRL_REASON_SUPERSEDED));
	assert_false(has_entry(&info, a, KH_CRL_REASON_KEY_COMPROMISE));
	kh_pki_crl_info_cleanup(&info);

	/* The next full CRL has a and d; numbers keep increasing. */
	kh_test_keys_advance(e->t, 2 * 60 * KH_NS_PER_SEC);
	crl(e, &x, false, 3, &info);
	assert_int_equal(info.entry_count, 2);
	assert_true(has_entry(&info, a, KH_CRL_REASON_KEY_COMPROMISE));
	assert_true(has_entry(&info, d, KH_CRL_REASON_SUPERSEDED));
	kh_pki_crl_info_cleanup(&info);
	kh_test_keys_advance(e->t, 10 * KH_NS_PER_SEC);
	crl(e, &x, true, 4, &info);
	assert_int_equal(info.base_crl_number, 3);
	assert_int_equal(info.entry_count, 0);
	kh_pki_crl_info_cleanup(&info);

	/* Who: the service of the key store, not the operator, officer or another key store. */
	struct kh_principal sys = {.kind = KH_PRINCIPAL_SYSTEM, .keystore_id = e->ks};
	struct kh_principal sys2 = {.kind = KH_PRINCIPAL_SYSTEM, .keystore_id = e->ks2};
	assert_int_equal(kh_pki_crl_generate(e->pk, &sys, x.ca.id, false, &c, NULL), KH_OK);
	assert_int_equal(c.number, 5);
	assert_int_equal(kh_pki_crl_generate(e->pk, &sys2, x.ca.id, false, &c, NULL),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_pki_crl_generate(e->pk, &e->op, x.ca.id, false, &c, NULL),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_crl_generate(e->pk, &e->officer, x.ca.id, false, &c, NULL),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_crl_generate(e->pk, &e->other, x.ca.id, false, &c, NULL),
	                 KH_ERR_NOT_FOUND);
	kh_buf_cleanup(&der);
	pki_free(&x);
}

static void p256_full_and_delta_crls(void **state)
{
	full_and_delta_crls(*state, KH_KEY_ECDSA_P256);
}

static void sm2_full_and_delta_crls(void **state)
{
	full_and_delta_crls(*state, KH_KEY_SM2);
}

/* An OCSP request for the serials made by openssl ocsp with the CA's certificate. */
static void ocsp_answer(struct kh_test_pki *e, struct pki *x, const struct kh_ocsp_request *req,
                        struct kh_ocsp_response_info *info)
{
	struct kh_buf resp = new_buf();
	assert_int_equal(kh_pki_ocsp_respond(e->pk, x->ca.id, req, &resp), KH_OK);
	assert_int_equal(kh_pki_ocsp_verify(kh_buf_slice(&resp), kh_buf_slice(&x->ca_der)), KH_OK);
	assert_int_equal(kh_pki_ocsp_response_parse(kh_buf_slice(&resp), info), KH_OK);
	assert_int_equal(info->status, KH_OCSP_SUCCESSFUL);
	assert_int_equal(info->single_count, req->id_count);
	kh_buf_cleanup(&resp);
}

static void ocsp_good_revoked_unknown(struct kh_test_pki *e, enum kh_key_type type)
{
	struct pki x;
	pki_new(e, &x, type);
	assert_int_equal(
	    kh_pki_certificate_revoke(e->pk, &e->mgr, x.serial[1], KH_CRL_REASON_KEY_COMPROMISE),
	    KH_OK);
	assert_int_equal(kh_pki_certificate_hold(e->pk, &e->mgr, x.serial[2]), KH_OK);
	const char *serials[] = {x.serial[0], x.serial[1], x.serial[2], "0102030405060708"};
	struct kh_ocsp_request req;
	struct kh_ocsp_response_info *info = calloc(1, sizeof(*info));
	assert_non_null(info);
	kh_test_pki_ocsp_request(&x.ca_der, serials, 4, true, &req);
	ocsp_answer(e, &x, &req, info);
	assert_int_equal(info->singles[0].status, KH_OCSP_GOOD);
	assert_int_equal(info->singles[1].status, KH_OCSP_REVOKED);
	assert_true(info->singles[1].has_reason);
	assert_int_equal(info->singles[1].reason, KH_CRL_REASON_KEY_COMPROMISE);
	assert_int_equal(info->singles[2].status, KH_OCSP_REVOKED);
	assert_int_equal(info->singles[2].reason, KH_CRL_REASON_CERTIFICATE_HOLD);
	assert_int_equal(info->singles[3].status, KH_OCSP_UNKNOWN);
	assert_true(info->has_nonce);
	assert_int_equal(info->nonce_len, req.nonce_len);
	assert_memory_equal(info->nonce, req.nonce, req.nonce_len);

	/* A CertID of another issuer (the root) is unknown, even for an issued serial. */
	struct kh_buf root_der = kh_test_pki_ca_cert(e, x.root.id);
	struct kh_ocsp_request other;
	kh_test_pki_ocsp_request(&root_der, serials, 1, false, &other);
	ocsp_answer(e, &x, &other, info);
	assert_int_equal(info->singles[0].status, KH_OCSP_UNKNOWN);
	kh_buf_cleanup(&root_der);
	free(info);
	pki_free(&x);
}

static void p256_ocsp_good_revoked_unknown(void **state)
{
	ocsp_good_revoked_unknown(*state, KH_KEY_ECDSA_P256);
}

static void sm2_ocsp_good_revoked_unknown(void **state)
{
	ocsp_good_revoked_unknown(*state, KH_KEY_SM2);
}

static void ocsp_cache_serves_and_forgets_on_revocation(void **state)
{
	struct kh_test_pki *e = *state;
	struct pki x;
	pki_new(e, &x, KH_KEY_ECDSA_P256);
	const char *serials[] = {x.serial[0]};
	struct kh_ocsp_request req;
	struct kh_ocsp_response_info *info = calloc(1, sizeof(*info));
	assert_non_null(info);
	kh_test_pki_ocsp_request(&x.ca_der, serials, 1, false, &req);
	struct kh_key_info key;

	ocsp_answer(e, &x, &req, info);
	assert_int_equal(info->singles[0].status, KH_OCSP_GOOD);
	assert_int_equal(kh_pki_ocsp_cache_hits(e->pk), 0);
	assert_int_equal(kh_keys_get(e->t->keys, &e->mgr, x.ca.key_tag, &key), KH_OK);
	uint64_t uses = key.usage_count;
	ocsp_answer(e, &x, &req, info);
	assert_int_equal(kh_pki_ocsp_cache_hits(e->pk), 1);
	assert_int_equal(kh_keys_get(e->t->keys, &e->mgr, x.ca.key_tag, &key), KH_OK);
	assert_int_equal(key.usage_count, uses); /* no new signature */

	/* Revoked: the cached "good" is gone at once. */
	assert_int_equal(kh_pki_certificate_revoke(e->pk, &e->mgr, x.serial[0],
	                                           KH_CRL_REASON_CESSATION_OF_OPERATION),
	                 KH_OK);
	ocsp_answer(e, &x, &req, info);
	assert_int_equal(info->singles[0].status, KH_OCSP_REVOKED);
	assert_int_equal(kh_pki_ocsp_cache_hits(e->pk), 1);
	ocsp_answer(e, &x, &req, info);
	assert_int_equal(kh_pki_ocsp_cache_hits(e->pk), 2);

	/* Stale after half the validity: signed again. */
	kh_test_keys_advance(e->t, KH_PKI_OCSP_VALIDITY_NS / 2);
	ocsp_answer(e, &x, &req, info);
	assert_int_equal(kh_pki_ocsp_cache_hits(e->pk), 2);

	/* A disabled CA key answers nothing new (the cache may still serve what it signed). */
	assert_int_equal(kh_keys_disable(e->t->keys, &e->mgr, x.ca.key_tag, &key), KH_OK);
	const char *s2[] = {x.serial[1]};
	struct kh_ocsp_request req2;
	struct kh_buf resp = new_buf();
	kh_test_pki_ocsp_request(&x.ca_der, s2, 1, false, &req2);
	assert_int_equal(kh_pki_ocsp_respond(e->pk, x.ca.id, &req2, &resp), KH_ERR_KEY_DISABLED);
	assert_int_equal(resp.len, 0);
	assert_int_equal(kh_pki_ocsp_respond(e->pk, 999, &req2, &resp), KH_ERR_NOT_FOUND);
	kh_buf_cleanup(&resp);
	free(info);
	pki_free(&x);
}

/* publish.c: what the service does on its own. The CA's certificate for anyone; a first CRL
 * (a full one before a first delta) made when a client asks before anybody generated one;
 * the full and delta CRLs after a status change; the scheduler's refresh of full CRLs older
 * than half their validity (and of CAs without any), as the service of each CA's key store. */
static void service_publishes_certificates_and_crls(void **state)
{
	struct kh_test_pki *e = *state;
	struct pki x;
	struct kh_buf der = new_buf(), cert = new_buf();
	struct kh_pki_crl_info info;
	size_t done = 0;
	pki_new(e, &x, KH_KEY_ECDSA_P256);

	assert_int_equal(kh_pki_ca_certificate(e->pk, x.ca.id, &cert), KH_OK);
	assert_true(cert.len == x.ca_der.len && memcmp(cert.ptr, x.ca_der.ptr, cert.len) == 0);
	assert_int_equal(kh_pki_ca_certificate(e->pk, 999, &cert), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_pki_crl_serve(e->pk, 999, false, &der), KH_ERR_NOT_FOUND);

	/* No CRL yet: the delta asked first makes its base, then itself. */
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_pki_crl_serve(e->pk, x.ca.id, true, &der), KH_OK);
	assert_int_equal(kh_pki_crl_verify(kh_buf_slice(&der), kh_buf_slice(&x.ca_der)), KH_OK);
	assert_int_equal(kh_pki_crl_parse(kh_buf_slice(&der), &info), KH_OK);
	assert_true(info.delta);
	assert_int_equal(info.base_crl_number, 1);
	kh_pki_crl_info_cleanup(&info);
	struct kh_test_audit_rec recs[8];
	size_t n = kh_test_keys_audit_since(e->t, seq, recs, 8), generated = 0;
	for (size_t i = 0; i < n && i < 8; i++)
		if (strcmp(recs[i].operation, "pki.crl.generate") == 0) {
			assert_string_equal(recs[i].principal, "system");
			assert_string_equal(recs[i].result, "ok");
			generated++;
		}
	assert_int_equal(generated, 2);
	/* Then the stored ones are served, unchanged. */
	kh_buf_clear(&der);
	assert_int_equal(kh_pki_crl_serve(e->pk, x.ca.id, false, &der), KH_OK);
	assert_int_equal(kh_pki_crl_parse(kh_buf_slice(&der), &info), KH_OK);
	assert_int_equal(info.crl_number, 1);
	kh_pki_crl_info_cleanup(&info);

	/* After a revocation: a full CRL with it, then a delta. */
	assert_int_equal(
	    kh_pki_certificate_revoke(e->pk, &e->mgr, x.serial[0], KH_CRL_REASON_KEY_COMPROMISE),
	    KH_OK);
	assert_int_equal(kh_pki_crl_refresh(e->pk, x.ca.id, true), KH_OK);
	kh_buf_clear(&der);
	assert_int_equal(kh_pki_crl_current(e->pk, x.ca.id, false, &der), KH_OK);
	assert_int_equal(kh_pki_crl_parse(kh_buf_slice(&der), &info), KH_OK);
	assert_int_equal(info.crl_number, 3);
	assert_int_equal(info.entry_count, 1);
	kh_pki_crl_info_cleanup(&info);
	kh_buf_clear(&der);
	assert_int_equal(kh_pki_crl_current(e->pk, x.ca.id, true, &der), KH_OK);
	assert_int_equal(kh_pki_crl_parse(kh_buf_slice(&der), &info), KH_OK);
	assert_int_equal(info.crl_number, 4);
	assert_int_equal(info.base_crl_number, 3);
	kh_pki_crl_info_cleanup(&info);
	assert_int_equal(kh_pki_crl_refresh(e->pk, 999, false), KH_ERR_NOT_FOUND);

	/* The scheduler: the root has no CRL (due), the issuing CA's is fresh (not due). */
	assert_int_equal(kh_pki_crl_refresh_due(e->pk, 100, &done), KH_OK);
	assert_int_equal(done, 1);
	assert_int_equal(kh_pki_crl_refresh_due(e->pk, 100, &done), KH_OK);
	assert_int_equal(done, 0);
	/* Past half the validity both are due; max bounds a pass. */
	kh_test_keys_advance(e->t, KH_PKI_CRL_VALIDITY_NS / 2 + KH_NS_PER_SEC);
	assert_int_equal(kh_pki_crl_refresh_due(e->pk, 1, &done), KH_OK);
	assert_int_equal(done, 1);
	assert_int_equal(kh_pki_crl_refresh_due(e->pk, 100, &done), KH_OK);
	assert_int_equal(done, 1);
	assert_int_equal(kh_pki_crl_refresh_due(e->pk, 100, &done), KH_OK);
	assert_int_equal(done, 0);
	kh_buf_clear(&der);
	assert_int_equal(kh_pki_crl_current(e->pk, x.ca.id, false, &der), KH_OK);
	assert_int_equal(kh_pki_crl_parse(kh_buf_slice(&der), &info), KH_OK);
	assert_int_equal(info.entry_count, 1);
	kh_pki_crl_info_cleanup(&info);

	kh_buf_cleanup(&der);
	kh_buf_cleanup(&cert);
	pki_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(service_publishes_certificates_and_crls),
	    T(revoke_hold_and_release),
	    T(p256_full_and_delta_crls),
	    T(sm2_full_and_delta_crls),
	    T(p256_ocsp_good_revoked_unknown),
	    T(sm2_ocsp_good_revoked_unknown),
	    T(ocsp_cache_serves_and_forgets_on_revocation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
