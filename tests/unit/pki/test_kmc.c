// SPDX-License-Identifier: Apache-2.0
/*
 * The key management centre: the pool, dual-certificate issuance with each envelope form
 * (opened by the test's own code, independently of crypto/envelope.c), the archive's states on
 * revocation, update and expiry, server key generation, and k-of-n recovery with its refusals,
 * its timeout and its audit trail.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <unistd.h>

#include "barrier/kh_backup.h"
#include "kh_test_envelope.h"
#include "kh_test_pki.h"
#include "kh_test_store.h"

#define HOUR_NS (INT64_C(3600) * KH_NS_PER_SEC)

/* One integer from a test-only statement. The store caches statements by the query object's
 * address, so each text keeps one object for the whole run. */
static int64_t sql(struct kh_test_pki *e, const char *text)
{
	static struct kh_store_query qs[16];
	size_t i = 0;
	while (i < 16 && qs[i].sql != NULL && strcmp(qs[i].sql, text) != 0)
		i++;
	assert_true(i < 16);
	qs[i] = (struct kh_store_query){"test.kmc", text};
	return kh_test_keys_sql_int(e->t, &qs[i], NULL, 0);
}

/* An SM2 (or P-256, RSA) CA with an encryption profile "enc" and a signing profile "sign"
 * whose twin it is. */
static struct kh_pki_ca dual_ca(struct kh_test_pki *e, enum kh_key_type ca_type, unsigned key_types,
                                bool approval)
{
	struct kh_pki_ca ca = kh_test_pki_ca(e, "dual", KH_PKI_CA_ROOT, ca_type, 0);
	struct kh_pki_profile enc = {
	    .ca_id = ca.id,
	    .key_types = key_types,
	    .validity_days = 365,
	    .path_len = -1,
	    .kind = KH_PKI_CERT_ENCRYPT,
	};
	snprintf(enc.name, sizeof(enc.name), "enc");
	assert_int_equal(kh_pki_profile_create(e->pk, &e->mgr, &enc), KH_OK);
	struct kh_pki_profile sign = enc;
	snprintf(sign.name, sizeof(sign.name), "sign");
	sign.kind = KH_PKI_CERT_SIGN;
	sign.approval_required = approval;
	snprintf(sign.dual_profile, sizeof(sign.dual_profile), "enc");
	assert_int_equal(kh_pki_profile_create(e->pk, &e->mgr, &sign), KH_OK);
	return ca;
}

struct dual {
	struct kh_pki_request req;
	struct kh_pkey *sign_key; /* the requester's signing key (private) */
	struct kh_buf envelope;
	enum kh_envelope_form form;
};

/* A dual request by the user, approved by the officer, and its envelope fetched. */
static struct dual dual_issue(struct kh_test_pki *e, int64_t ca_id, enum kh_pkey_type type,
                              enum kh_envelope_form form)
{
	struct dual d = {0};
	struct kh_buf csr = kh_test_pki_csr(type, "CN=alice,O=keyhold test", &d.sign_key);
	struct kh_pki_submit s = {
	    .ca_id = ca_id, .profile = "sign", .csr = kh_buf_slice(&csr), .form = form};
	char msg[KH_PKI_MESSAGE_MAX];
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &d.req, msg, sizeof(msg)),
	                 KH_OK);
	if (d.req.status == KH_PKI_REQ_PENDING) {
		assert_false(d.req.has_envelope);
		assert_int_equal(kh_pki_request_approve(e->pk, &e->officer, d.req.id, &d.req),
		                 KH_OK);
	}
	assert_int_equal(d.req.status, KH_PKI_REQ_ISSUED);
	assert_true(d.req.enc_serial[0] != '\0');
	assert_string_not_equal(d.req.enc_serial, d.req.serial);
	assert_true(d.req.has_envelope);
	kh_buf_init(&d.envelope, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_request_envelope(e->pk, &e->user, d.req.id, &d.form, &d.envelope),
	                 KH_OK);
	kh_buf_cleanup(&csr);
	return d;
}

static void dual_free(struct dual *d)
{
	kh_pkey_free(&d->sign_key);
	kh_buf_cleanup(&d->envelope);
}

/* The public key of a stored certificate. */
static struct kh_pkey *cert_key(struct kh_test_pki *e, const char *serial,
                                struct kh_pki_certificate *out)
{
	struct kh_buf der;
	struct kh_pkey *key = NULL;
	kh_buf_init(&der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_certificate_get(e->pk, &e->mgr, serial, out, &der, NULL), KH_OK);
	assert_int_equal(kh_pki_cert_public_key(kh_buf_slice(&der), &key), KH_OK);
	kh_buf_cleanup(&der);
	return key;
}

/* The envelope opens with the signing key and holds the encryption certificate's key. */
static void check_envelope(struct kh_test_pki *e, const struct dual *d, const char *serial)
{
	struct kh_pki_certificate cert;
	struct kh_pkey *pub = cert_key(e, serial, &cert);
	assert_true(kh_test_envelope_holds(d->form, kh_buf_slice(&d->envelope), d->sign_key, pub));
	kh_pkey_free(&pub);
}

static void pool_fills_and_counts(void **state)
{
	struct kh_test_pki *e = *state;
	uint64_t depth = 0;
	size_t made = 0;
	assert_int_equal(kh_pki_kmc_fill(e->pk, KH_PKEY_SM2, 3, &made), KH_OK);
	assert_int_equal(made, 3);
	assert_int_equal(kh_pki_kmc_depth(e->pk, KH_PKEY_SM2, &depth), KH_OK);
	assert_int_equal(depth, 3);
	/* The refill tops each family up to the pool size (4 in the fixture), in passes of a
	 * bounded time. */
	size_t total = 0;
	for (int pass = 0; pass < 100; pass++) {
		assert_int_equal(kh_pki_kmc_refill(e->pk, 100, &made), KH_OK);
		total += made;
		if (made == 0)
			break;
	}
	assert_int_equal(total, 1 + 4 + 4);
	static const enum kh_pkey_type fams[] = {KH_PKEY_SM2, KH_PKEY_EC_P256, KH_PKEY_RSA_2048};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(kh_pki_kmc_depth(e->pk, fams[i], &depth), KH_OK);
		assert_int_equal(depth, 4);
	}
	assert_int_equal(kh_pki_kmc_refill(e->pk, 100, &made), KH_OK);
	assert_int_equal(made, 0);
	/* Only pool families. */
	assert_int_equal(kh_pki_kmc_fill(e->pk, KH_PKEY_EC_P384, 1, NULL), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_pki_kmc_fill(e->pk, KH_PKEY_ED25519, 1, NULL), KH_ERR_BAD_INPUT);
	/* Spare pairs are secrets of the barrier: one per pair. */
	assert_int_equal(sql(e, "SELECT count(*) FROM sealed WHERE scope LIKE "
	                        "'kmc/%'"),
	                 3 + 1 + 4 + 4);
}

static void sm2_dual_skf(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca ca =
	    dual_ca(e, KH_KEY_SM2, KH_PKI_KEY_TYPE_BIT(KH_PKEY_SM2), /* approval */ true);
	assert_int_equal(kh_pki_kmc_fill(e->pk, KH_PKEY_SM2, 2, NULL), KH_OK);
	int64_t seq = kh_test_keys_audit_last(e->t);
	struct dual d = dual_issue(e, ca.id, KH_PKEY_SM2, 0);
	assert_int_equal(d.form, KH_ENVELOPE_SKF);
	assert_int_equal(d.envelope.len, 388);
	check_envelope(e, &d, d.req.enc_serial);
	/* The pair came from the pool, is in use and archived with its certificate. */
	uint64_t depth = 0;
	assert_int_equal(kh_pki_kmc_depth(e->pk, KH_PKEY_SM2, &depth), KH_OK);
	assert_int_equal(depth, 1);
	assert_int_equal(kh_pki_kmc_pool_misses(e->pk), 0);
	struct kh_kmc_key k;
	assert_int_equal(sql(e, "SELECT count(*) FROM kmc_keys WHERE state ="
	                        " 'in_use'"),
	                 1);
	int64_t id = sql(e, "SELECT id FROM kmc_keys WHERE state = 'in_use'");
	assert_int_equal(kh_pki_kmc_key_get(e->pk, &e->mgr, id, &k), KH_OK);
	assert_int_equal(k.state, KH_KMC_IN_USE);
	assert_string_equal(k.serial, d.req.enc_serial);
	assert_int_equal(k.keystore_id, e->ks);
	assert_int_equal(k.request_id, d.req.id);
	/* The encryption certificate is an encryption certificate. */
	struct kh_pki_certificate cert;
	struct kh_buf der;
	struct kh_pki_cert_info *info = NULL;
	kh_buf_init(&der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	assert_int_equal(
	    kh_pki_certificate_get(e->pk, &e->mgr, d.req.enc_serial, &cert, &der, NULL), KH_OK);
	assert_int_equal(kh_pki_cert_info_read(kh_buf_slice(&der), &info), KH_OK);
	assert_int_equal(info->key_usage, KH_PKI_KU_KEY_ENCIPHERMENT | KH_PKI_KU_DATA_ENCIPHERMENT |
	                                      KH_PKI_KU_KEY_AGREEMENT);
	kh_pki_cert_info_free(&info);
	assert_string_equal(cert.subject, "CN=alice,O=keyhold test");
	kh_buf_cleanup(&der);
	/* Only the requester fetches the envelope; each fetch and refusal is recorded. */
	struct kh_buf other;
	enum kh_envelope_form form;
	kh_buf_init(&other, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_request_envelope(e->pk, &e->mgr, d.req.id, &form, &other),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_request_envelope(e->pk, &e->other, d.req.id, &form, &other),
	                 KH_ERR_NOT_FOUND);
	kh_buf_cleanup(&other);
	struct kh_test_audit_rec recs[16];
	size_t n = kh_test_keys_audit_since(e->t, seq, recs, 16);
	bool approve = false, deliver = false, issue = false;
	for (size_t i = 0; i < n; i++) {
		approve |= strcmp(recs[i].operation, "pki.request.approve") == 0;
		deliver |= strcmp(recs[i].operation, "pki.kmc.deliver") == 0 &&
		           strcmp(recs[i].result, "ok") == 0;
		issue |= strcmp(recs[i].operation, "pki.certificate.issue") == 0 &&
		         strstr(recs[i].detail, d.req.enc_serial) != NULL;
	}
	assert_true(approve && deliver && issue);
	dual_free(&d);
	kh_test_keys_audit_ok(e->t);
}

static void sm2_dual_gmt0009(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca ca = dual_ca(e, KH_KEY_SM2, KH_PKI_KEY_TYPE_BIT(KH_PKEY_SM2), false);
	/* Empty pool: the pair is made on demand and counted. */
	struct dual d = dual_issue(e, ca.id, KH_PKEY_SM2, KH_ENVELOPE_GMT0009);
	assert_int_equal(d.form, KH_ENVELOPE_GMT0009);
	assert_string_equal(d.req.officer, "auto");
	check_envelope(e, &d, d.req.enc_serial);
	assert_int_equal(kh_pki_kmc_pool_misses(e->pk), 1);
	dual_free(&d);
}

static void ecdsa_and_rsa_dual_cms(void **state)
{
	struct kh_test_pki *e = *state;
	unsigned types = KH_PKI_KEY_TYPE_BIT(KH_PKEY_EC_P256) |
	                 KH_PKI_KEY_TYPE_BIT(KH_PKEY_EC_P384) |
	                 KH_PKI_KEY_TYPE_BIT(KH_PKEY_RSA_2048);
	struct kh_pki_ca ca = dual_ca(e, KH_KEY_ECDSA_P256, types, false);
	static const enum kh_pkey_type users[] = {KH_PKEY_EC_P256, KH_PKEY_RSA_2048};
	for (size_t i = 0; i < 2; i++) {
		struct dual d = dual_issue(e, ca.id, users[i], 0);
		assert_int_equal(d.form, KH_ENVELOPE_CMS);
		check_envelope(e, &d, d.req.enc_serial);
		dual_free(&d);
	}
	/* An SM2 envelope for an ECDSA key is refused, with the reason. */
	struct kh_buf csr = kh_test_pki_csr(KH_PKEY_EC_P256, "CN=bob", NULL);
	struct kh_pki_submit s = {
	    .ca_id = ca.id, .profile = "sign", .csr = kh_buf_slice(&csr), .form = KH_ENVELOPE_SKF};
	struct kh_pki_request r;
	char msg[KH_PKI_MESSAGE_MAX];
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, msg, sizeof(msg)),
	                 KH_ERR_BAD_INPUT);
	assert_non_null(strstr(msg, "cannot open"));
	kh_buf_cleanup(&csr);
}

static void server_keygen_envelopes_the_certified_key(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca ca = kh_test_pki_ca(e, "est", KH_PKI_CA_ROOT, KH_KEY_ECDSA_P256, 0);
	kh_test_pki_profile(e, ca.id, "tls", false);
	struct kh_pkey *csr_key = NULL;
	struct kh_buf csr = kh_test_pki_csr(KH_PKEY_EC_P256, "CN=device-7", &csr_key);
	struct kh_pki_submit s = {
	    .ca_id = ca.id, .profile = "tls", .csr = kh_buf_slice(&csr), .server_keygen = true};
	struct kh_pki_request r;
	char msg[KH_PKI_MESSAGE_MAX];
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, msg, sizeof(msg)), KH_OK);
	assert_true(r.server_keygen);
	assert_true(r.has_envelope);
	assert_string_equal(r.enc_serial, "");
	struct kh_buf env;
	enum kh_envelope_form form;
	kh_buf_init(&env, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_request_envelope(e->pk, &e->user, r.id, &form, &env), KH_OK);
	assert_int_equal(form, KH_ENVELOPE_CMS);
	/* The certificate is for the KMC's pair, not for the CSR's key. */
	struct kh_pki_certificate cert;
	struct kh_pkey *pub = cert_key(e, r.serial, &cert);
	assert_true(kh_test_envelope_holds(form, kh_buf_slice(&env), csr_key, pub));
	struct kh_buf a, b;
	kh_buf_init(&a, 4096, KH_BUF_PLAIN);
	kh_buf_init(&b, 4096, KH_BUF_PLAIN);
	assert_int_equal(kh_pkey_export_public_der(pub, &a), KH_OK);
	assert_int_equal(kh_pkey_export_public_der(csr_key, &b), KH_OK);
	assert_false(a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0);
	kh_buf_cleanup(&a);
	kh_buf_cleanup(&b);
	kh_pkey_free(&pub);
	kh_pkey_free(&csr_key);
	kh_buf_cleanup(&env);
	kh_buf_cleanup(&csr);
}

static void revocation_update_and_expiry_move_pairs_to_history(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca ca = dual_ca(e, KH_KEY_SM2, KH_PKI_KEY_TYPE_BIT(KH_PKEY_SM2), false);
	struct kh_kmc_key k;
	/* Revoked: history, kept for ten years. */
	struct dual d1 = dual_issue(e, ca.id, KH_PKEY_SM2, 0);
	assert_int_equal(kh_pki_certificate_revoke(e->pk, &e->mgr, d1.req.enc_serial,
	                                           KH_CRL_REASON_KEY_COMPROMISE),
	                 KH_OK);
	int64_t id1 = sql(e, "SELECT id FROM kmc_keys ORDER BY id LIMIT 1");
	assert_int_equal(kh_pki_kmc_key_get(e->pk, &e->rec1, id1, &k), KH_OK);
	assert_int_equal(k.state, KH_KMC_HISTORY);
	assert_string_equal(k.history_reason, "revoked");
	assert_true(k.retain_until - k.history_at >= 3650 * 24 * HOUR_NS);
	/* Updated: a new pair and certificate, the old certificate superseded, the old pair in
	 * history; the new envelope opens with the same signing key. */
	struct dual d2 = dual_issue(e, ca.id, KH_PKEY_SM2, 0);
	char old[KH_PKI_SERIAL_HEX_MAX];
	snprintf(old, sizeof(old), "%s", d2.req.enc_serial);
	struct kh_pki_request upd;
	assert_int_equal(kh_pki_kmc_update(e->pk, &e->officer, d2.req.id, &upd), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_kmc_update(e->pk, &e->user, d2.req.id, &upd), KH_OK);
	assert_string_not_equal(upd.enc_serial, old);
	assert_string_equal(upd.serial, d2.req.serial);
	struct kh_pki_certificate cert;
	struct kh_pkey *pub = cert_key(e, old, &cert);
	assert_int_equal(cert.status, KH_PKI_CERT_REVOKED);
	assert_int_equal(cert.reason, KH_CRL_REASON_SUPERSEDED);
	kh_pkey_free(&pub);
	kh_buf_clear(&d2.envelope);
	assert_int_equal(
	    kh_pki_request_envelope(e->pk, &e->user, d2.req.id, &d2.form, &d2.envelope), KH_OK);
	check_envelope(e, &d2, upd.enc_serial);
	assert_int_equal(sql(e, "SELECT count(*) FROM kmc_keys WHERE state ="
	                        " 'history' AND history_reason = 'updated'"),
	                 1);
	/* Expired: the scheduler moves the pair once its certificate has ended. */
	size_t moved = 0;
	assert_int_equal(kh_pki_kmc_expire_due(e->pk, 10, &moved), KH_OK);
	assert_int_equal(moved, 0);
	kh_test_keys_advance(e->t, 366 * 24 * HOUR_NS);
	assert_int_equal(kh_pki_kmc_expire_due(e->pk, 10, &moved), KH_OK);
	assert_int_equal(moved, 1);
	assert_int_equal(sql(e, "SELECT count(*) FROM kmc_keys WHERE state ="
	                        " 'in_use'"),
	                 0);
	/* The archive lists by state, for managers and recovery officers only. */
	struct kh_kmc_key_filter f = {.state = KH_KMC_HISTORY, .limit = 10};
	bool more = true;
	assert_int_equal(kh_pki_kmc_key_list(e->pk, &e->user, &f, NULL, NULL, &more),
	                 KH_ERR_FORBIDDEN);
	dual_free(&d1);
	dual_free(&d2);
	kh_test_keys_audit_ok(e->t);
}

static void revoking_the_signing_certificate_revokes_its_twin(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca ca = dual_ca(e, KH_KEY_SM2, KH_PKI_KEY_TYPE_BIT(KH_PKEY_SM2), false);
	struct dual d = dual_issue(e, ca.id, KH_PKEY_SM2, 0);
	assert_int_equal(kh_pki_certificate_revoke(e->pk, &e->mgr, d.req.serial,
	                                           KH_CRL_REASON_AFFILIATION_CHANGED),
	                 KH_OK);
	struct kh_pki_certificate cert;
	struct kh_pkey *pub = cert_key(e, d.req.enc_serial, &cert);
	kh_pkey_free(&pub);
	assert_int_equal(cert.status, KH_PKI_CERT_REVOKED);
	assert_int_equal(cert.reason, KH_CRL_REASON_AFFILIATION_CHANGED);
	assert_int_equal(sql(e, "SELECT count(*) FROM kmc_keys WHERE state = 'history' AND"
	                        " history_reason = 'revoked'"),
	                 1);
	/* Both are on the CRL. */
	struct kh_pki_crl crl;
	struct kh_buf der;
	kh_buf_init(&der, 1024 * 1024, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_crl_generate(e->pk, &e->mgr, ca.id, false, &crl, &der), KH_OK);
	assert_int_equal(crl.entry_count, 2);
	kh_buf_cleanup(&der);
	dual_free(&d);
	kh_test_keys_audit_ok(e->t);
}

/* A recovery of d's pair by the user for a fresh key of type t. */
static struct kh_kmc_recovery recover(struct kh_test_pki *e, const struct dual *d,
                                      enum kh_pkey_type t, struct kh_pkey **out_key)
{
	struct kh_buf csr = kh_test_pki_csr(t, "CN=alice recovery", out_key);
	struct kh_kmc_recovery_ask ask = {.serial = d->req.enc_serial,
	                                  .reason = "lost token",
	                                  .recipient_csr = kh_buf_slice(&csr)};
	struct kh_kmc_recovery r;
	char msg[KH_PKI_MESSAGE_MAX];
	assert_int_equal(kh_pki_kmc_recovery_request(e->pk, &e->user, &ask, &r, msg, sizeof(msg)),
	                 KH_OK);
	assert_int_equal(r.status, KH_KMC_REC_PENDING);
	assert_int_equal(r.quorum, 2);
	kh_buf_cleanup(&csr);
	return r;
}

static void recovery_needs_k_of_n(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca ca = dual_ca(e, KH_KEY_SM2, KH_PKI_KEY_TYPE_BIT(KH_PKEY_SM2), false);
	struct dual d = dual_issue(e, ca.id, KH_PKEY_SM2, 0);
	struct kh_pkey *rkey = NULL;
	int64_t seq = kh_test_keys_audit_last(e->t);
	struct kh_kmc_recovery r = recover(e, &d, KH_PKEY_SM2, &rkey), out;
	struct kh_buf env;
	enum kh_envelope_form form;
	kh_buf_init(&env, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	/* Not officers, or the requester, may not decide. */
	assert_int_equal(kh_pki_kmc_recovery_decide(e->pk, &e->mgr, r.id, true, NULL, &out),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_kmc_recovery_decide(e->pk, &e->officer, r.id, true, NULL, &out),
	                 KH_ERR_FORBIDDEN);
	/* One approval of two: nothing to fetch yet. */
	assert_int_equal(kh_pki_kmc_recovery_decide(e->pk, &e->rec1, r.id, true, NULL, &out),
	                 KH_OK);
	assert_int_equal(out.status, KH_KMC_REC_PENDING);
	assert_int_equal(out.approvals, 1);
	assert_int_equal(kh_pki_kmc_recovery_envelope(e->pk, &e->user, r.id, &form, &env),
	                 KH_ERR_CONFLICT);
	/* The same officer twice counts once. */
	assert_int_equal(kh_pki_kmc_recovery_decide(e->pk, &e->rec1, r.id, true, NULL, &out),
	                 KH_ERR_CONFLICT);
	assert_int_equal(kh_pki_kmc_recovery_get(e->pk, &e->user, r.id, &out), KH_OK);
	assert_int_equal(out.approvals, 1);
	/* The second officer releases it. */
	assert_int_equal(kh_pki_kmc_recovery_decide(e->pk, &e->rec2, r.id, true, NULL, &out),
	                 KH_OK);
	assert_int_equal(out.status, KH_KMC_REC_APPROVED);
	/* Only the requester fetches it, and it holds the archived pair. */
	assert_int_equal(kh_pki_kmc_recovery_envelope(e->pk, &e->rec1, r.id, &form, &env),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_kmc_recovery_envelope(e->pk, &e->user, r.id, &form, &env), KH_OK);
	assert_int_equal(form, KH_ENVELOPE_SKF);
	struct kh_pki_certificate cert;
	struct kh_pkey *pub = cert_key(e, d.req.enc_serial, &cert);
	assert_true(kh_test_envelope_holds(form, kh_buf_slice(&env), rkey, pub));
	/* ... and not with the original signing key. */
	assert_false(kh_test_envelope_holds(form, kh_buf_slice(&env), d.sign_key, pub));
	assert_int_equal(kh_pki_kmc_recovery_get(e->pk, &e->mgr, r.id, &out), KH_OK);
	assert_int_equal(out.status, KH_KMC_REC_DELIVERED);
	/* Every step is in the audit log. */
	static const char *const steps[] = {"pki.kmc.recovery.request", "pki.kmc.recovery.approve",
	                                    "pki.kmc.recovery.release", "pki.kmc.recovery.deliver"};
	struct kh_test_audit_rec recs[32];
	size_t n = kh_test_keys_audit_since(e->t, seq, recs, 32);
	for (size_t s = 0; s < 4; s++) {
		size_t found = 0;
		for (size_t i = 0; i < n; i++)
			found += strcmp(recs[i].operation, steps[s]) == 0;
		assert_true(found >= 1);
	}
	kh_pkey_free(&pub);
	kh_pkey_free(&rkey);
	kh_buf_cleanup(&env);
	dual_free(&d);
	kh_test_keys_audit_ok(e->t);
}

static void recovery_refused_and_timed_out(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca ca = dual_ca(e, KH_KEY_SM2, KH_PKI_KEY_TYPE_BIT(KH_PKEY_SM2), false);
	struct dual d = dual_issue(e, ca.id, KH_PKEY_SM2, 0);
	struct kh_pkey *rkey = NULL;
	struct kh_kmc_recovery r = recover(e, &d, KH_PKEY_SM2, &rkey), out;
	kh_pkey_free(&rkey);
	/* A refusal needs a reason, and ends the request. */
	assert_int_equal(kh_pki_kmc_recovery_decide(e->pk, &e->rec1, r.id, false, NULL, &out),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(
	    kh_pki_kmc_recovery_decide(e->pk, &e->rec1, r.id, false, "not the owner", &out), KH_OK);
	assert_int_equal(out.status, KH_KMC_REC_REJECTED);
	assert_int_equal(kh_pki_kmc_recovery_decide(e->pk, &e->rec2, r.id, true, NULL, &out),
	                 KH_ERR_CONFLICT);
	/* Undecided past the wait: expired, by the scheduler or at the next vote. */
	struct kh_kmc_recovery r2 = recover(e, &d, KH_PKEY_EC_P256, &rkey);
	assert_int_equal(r2.form, KH_ENVELOPE_CMS);
	kh_pkey_free(&rkey);
	struct kh_kmc_recovery r3 = recover(e, &d, KH_PKEY_SM2, &rkey);
	kh_pkey_free(&rkey);
	assert_int_equal(kh_pki_kmc_recovery_decide(e->pk, &e->rec1, r2.id, true, NULL, &out),
	                 KH_OK);
	kh_test_keys_advance(e->t, 73 * HOUR_NS);
	assert_int_equal(kh_pki_kmc_recovery_decide(e->pk, &e->rec2, r2.id, true, NULL, &out),
	                 KH_ERR_CONFLICT);
	assert_int_equal(kh_pki_kmc_recovery_get(e->pk, &e->mgr, r2.id, &out), KH_OK);
	assert_int_equal(out.status, KH_KMC_REC_EXPIRED);
	size_t n = 0;
	assert_int_equal(kh_pki_kmc_recovery_expire_due(e->pk, 10, &n), KH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(kh_pki_kmc_recovery_get(e->pk, &e->mgr, r3.id, &out), KH_OK);
	assert_int_equal(out.status, KH_KMC_REC_EXPIRED);
	/* A certificate without an archived pair; another key store's certificate. */
	struct kh_buf csr = kh_test_pki_csr(KH_PKEY_SM2, "CN=x", NULL);
	struct kh_kmc_recovery_ask ask = {
	    .serial = d.req.serial, .reason = "why", .recipient_csr = kh_buf_slice(&csr)};
	char msg[KH_PKI_MESSAGE_MAX];
	assert_int_equal(kh_pki_kmc_recovery_request(e->pk, &e->user, &ask, &out, msg, sizeof(msg)),
	                 KH_ERR_NOT_FOUND);
	ask.serial = d.req.enc_serial;
	assert_int_equal(
	    kh_pki_kmc_recovery_request(e->pk, &e->other, &ask, &out, msg, sizeof(msg)),
	    KH_ERR_NOT_FOUND);
	kh_buf_cleanup(&csr);
	dual_free(&d);
	kh_test_keys_audit_ok(e->t);
}

struct racer {
	struct kh_test_pki *e;
	int64_t ca_id;
	int ok;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	for (int i = 0; i < 4; i++) {
		struct kh_buf csr = kh_test_pki_csr(KH_PKEY_SM2, "CN=racer", NULL);
		struct kh_pki_submit s = {
		    .ca_id = r->ca_id, .profile = "sign", .csr = kh_buf_slice(&csr)};
		struct kh_pki_request req;
		char msg[KH_PKI_MESSAGE_MAX];
		r->ok += kh_pki_request_submit(r->e->pk, &r->e->user, &s, &req, msg, sizeof(msg)) ==
		         KH_OK;
		kh_buf_cleanup(&csr);
	}
	return NULL;
}

/* Issuances at once never share a pair: each is chosen, reserved, and leaves the pool in its
 * issuance's own transaction; once the pool is dry the rest are made on demand. */
static void concurrent_issuances_take_distinct_pairs(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca ca = dual_ca(e, KH_KEY_SM2, KH_PKI_KEY_TYPE_BIT(KH_PKEY_SM2), false);
	assert_int_equal(kh_pki_kmc_fill(e->pk, KH_PKEY_SM2, 5, NULL), KH_OK);
	struct racer r[2] = {{e, ca.id, 0}, {e, ca.id, 0}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(r[0].ok + r[1].ok, 8);
	assert_int_equal(sql(e, "SELECT count(*) FROM kmc_keys WHERE state = 'in_use'"), 8);
	assert_int_equal(sql(e, "SELECT count(DISTINCT serial) FROM kmc_keys WHERE state ="
	                        " 'in_use'"),
	                 8);
	assert_int_equal(sql(e, "SELECT count(*) FROM kmc_keys WHERE state = 'spare'"), 0);
	assert_int_equal(kh_pki_kmc_pool_misses(e->pk), 3);
	assert_int_equal(sql(e, "SELECT count(*) FROM sealed WHERE scope LIKE 'kmc/%'"), 8);
	kh_test_keys_audit_ok(e->t);
}

static const struct kh_store_query q_forget = {
    "test.kmc.forget", "DELETE FROM kmc_keys WHERE id > (SELECT min(id) FROM kmc_keys)"};
static const struct kh_store_query q_forget_sealed = {
    "test.kmc.forget_sealed",
    "DELETE FROM sealed WHERE scope LIKE 'kmc/%' AND scope <> (SELECT 'kmc/' || min(id) FROM"
    " kmc_keys)"};

static void archive_backup_restores_lost_pairs(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca ca = dual_ca(e, KH_KEY_SM2, KH_PKI_KEY_TYPE_BIT(KH_PKEY_SM2), false);
	assert_int_equal(kh_pki_kmc_fill(e->pk, KH_PKEY_SM2, 3, NULL), KH_OK);
	struct dual d = dual_issue(e, ca.id, KH_PKEY_SM2, 0);
	char dir[256], path[300];
	kh_test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/archive.khb", dir);
	struct kh_backup_writer *w = NULL;
	uint64_t written = 0;
	assert_int_equal(kh_backup_writer_open(e->t->barrier, KH_BACKUP_ARCHIVE, path, &w), KH_OK);
	assert_int_equal(kh_pki_kmc_archive_write(e->pk, w, &written), KH_OK);
	assert_int_equal(kh_backup_writer_close(&w, NULL, NULL), KH_OK);
	assert_int_equal(written, 3);
	/* Lose every pair but the first (rows and sealed keys), then import. */
	int64_t in_use = sql(e, "SELECT id FROM kmc_keys WHERE state = 'in_use'");
	kh_test_sql_exec(e->t->store, &q_forget_sealed, NULL, 0);
	kh_test_sql_exec(e->t->store, &q_forget, NULL, 0);
	assert_int_equal(sql(e, "SELECT count(*) FROM kmc_keys"), 1);
	struct kh_backup_reader *r = NULL;
	enum kh_backup_kind kind = 0;
	struct kh_pki_kmc_import t;
	assert_int_equal(kh_backup_reader_open(e->t->barrier, path, &r, &kind), KH_OK);
	assert_int_equal(kind, KH_BACKUP_ARCHIVE);
	assert_int_equal(kh_pki_kmc_archive_read(e->pk, r, &t), KH_OK);
	kh_backup_reader_close(&r);
	assert_int_equal(t.added, 2);
	assert_int_equal(t.present, 1);
	assert_int_equal(t.conflicts, 0);
	/* The restored pair is whole: its certificate, its state, and a recovery opens to it. */
	struct kh_kmc_key k;
	assert_int_equal(kh_pki_kmc_key_get(e->pk, &e->mgr, in_use, &k), KH_OK);
	assert_int_equal(k.state, KH_KMC_IN_USE);
	assert_string_equal(k.serial, d.req.enc_serial);
	struct kh_pkey *rkey = NULL;
	struct kh_kmc_recovery rec = recover(e, &d, KH_PKEY_SM2, &rkey), out;
	assert_int_equal(kh_pki_kmc_recovery_decide(e->pk, &e->rec1, rec.id, true, NULL, &out),
	                 KH_OK);
	assert_int_equal(kh_pki_kmc_recovery_decide(e->pk, &e->rec3, rec.id, true, NULL, &out),
	                 KH_OK);
	struct kh_buf env;
	enum kh_envelope_form form;
	kh_buf_init(&env, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_kmc_recovery_envelope(e->pk, &e->user, rec.id, &form, &env), KH_OK);
	struct kh_pki_certificate cert;
	struct kh_pkey *pub = cert_key(e, d.req.enc_serial, &cert);
	assert_true(kh_test_envelope_holds(form, kh_buf_slice(&env), rkey, pub));
	/* Importing again adds nothing. */
	assert_int_equal(kh_backup_reader_open(e->t->barrier, path, &r, &kind), KH_OK);
	assert_int_equal(kh_pki_kmc_archive_read(e->pk, r, &t), KH_OK);
	kh_backup_reader_close(&r);
	assert_int_equal(t.added, 0);
	assert_int_equal(t.present, 3);
	kh_pkey_free(&pub);
	kh_pkey_free(&rkey);
	kh_buf_cleanup(&env);
	dual_free(&d);
	kh_test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(pool_fills_and_counts, kh_test_pki_setup,
	                                    kh_test_pki_teardown),
	    cmocka_unit_test_setup_teardown(sm2_dual_skf, kh_test_pki_setup, kh_test_pki_teardown),
	    cmocka_unit_test_setup_teardown(sm2_dual_gmt0009, kh_test_pki_setup,
	                                    kh_test_pki_teardown),
	    cmocka_unit_test_setup_teardown(ecdsa_and_rsa_dual_cms, kh_test_pki_setup,
	                                    kh_test_pki_teardown),
	    cmocka_unit_test_setup_teardown(server_keygen_envelopes_the_certified_key,
	                                    kh_test_pki_setup, kh_test_pki_teardown),
	    cmocka_unit_test_setup_teardown(revocation_update_and_expiry_move_pairs_to_history,
	                                    kh_test_pki_setup, kh_test_pki_teardown),
	    cmocka_unit_test_setup_teardown(revoking_the_signing_certificate_revokes_its_twin,
	                                    kh_test_pki_setup, kh_test_pki_teardown),
	    cmocka_unit_test_setup_teardown(recovery_needs_k_of_n, kh_test_pki_setup,
	                                    kh_test_pki_teardown),
	    cmocka_unit_test_setup_teardown(recovery_refused_and_timed_out, kh_test_pki_setup,
	                                    kh_test_pki_teardown),
	    cmocka_unit_test_setup_teardown(archive_backup_restores_lost_pairs, kh_test_pki_setup,
	                                    kh_test_pki_teardown),
	    cmocka_unit_test_setup_teardown(concurrent_issuances_take_distinct_pairs,
	                                    kh_test_pki_setup, kh_test_pki_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
