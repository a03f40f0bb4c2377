/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PKI library (pki/kh_pki.h) up to issuance: ECDSA P-256 and SM2 two-tier PKIs (root,
 * intermediate, leaf through request and approval) verified with kh_pki_chain_verify; profiles
 * that approve automatically; pending requests rejected; CSRs refused with clear messages;
 * serials; external CAs whose certificate comes from an outside root; who may do what; the
 * audit records; and a disabled CA key stopping issuance.
 */
#include "kh_test_pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T(name) cmocka_unit_test_setup_teardown(name, kh_test_pki_setup, kh_test_pki_teardown)

static struct kh_buf new_buf(void)
{
	struct kh_buf b;
	kh_buf_init(&b, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	return b;
}

/* Root -> intermediate -> leaf through request and approval, then the chain verifies. */
static void two_tier(struct kh_test_pki *e, enum kh_key_type ca_type, enum kh_pkey_type leaf_type,
                     const char *sig_oid)
{
	struct kh_pki_ca root = kh_test_pki_ca(e, "root", KH_PKI_CA_ROOT, ca_type, 0);
	struct kh_pki_ca sub =
	    kh_test_pki_ca(e, "issuing", KH_PKI_CA_INTERMEDIATE, ca_type, root.id);
	assert_int_equal(sub.parent_id, root.id);
	assert_true(sub.has_certificate);
	assert_true(sub.not_after <= root.not_after);
	(void)kh_test_pki_profile(e, sub.id, "tls", true);

	struct kh_buf csr = kh_test_pki_csr(leaf_type, "CN=leaf.example.com,O=keyhold test", NULL);
	struct kh_pki_submit s = {.ca_id = sub.id, .profile = "tls", .csr = kh_buf_slice(&csr)};
	struct kh_pki_request r;
	char msg[KH_PKI_MESSAGE_MAX];
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, msg, sizeof(msg)), KH_OK);
	assert_int_equal(r.status, KH_PKI_REQ_PENDING);
	assert_string_equal(r.sans, "DNS:leaf.example.com");
	assert_string_equal(r.serial, "");
	kh_test_keys_advance(e->t, 60 * KH_NS_PER_SEC);
	assert_int_equal(kh_pki_request_approve(e->pk, &e->officer, r.id, &r), KH_OK);
	assert_int_equal(r.status, KH_PKI_REQ_ISSUED);
	assert_string_equal(r.officer, "account:3");

	struct kh_pki_certificate c;
	struct kh_buf der = new_buf(), chain = new_buf();
	assert_int_equal(kh_pki_certificate_get(e->pk, &e->user, r.serial, &c, &der, &chain),
	                 KH_OK);
	assert_int_equal(c.status, KH_PKI_CERT_GOOD);
	assert_int_equal(c.request_id, r.id);
	assert_int_equal(c.ca_id, sub.id);
	assert_non_null(strstr((const char *)chain.ptr, "BEGIN CERTIFICATE"));

	struct kh_buf root_der = kh_test_pki_ca_cert(e, root.id);
	struct kh_buf sub_der = kh_test_pki_ca_cert(e, sub.id);
	struct kh_slice inter[] = {kh_buf_slice(&sub_der)};
	struct kh_slice roots[] = {kh_buf_slice(&root_der)};
	char why[128] = "";
	assert_int_equal(kh_pki_chain_verify(kh_buf_slice(&der), inter, 1, roots, 1,
	                                     kh_test_pki_now_s(e), why, sizeof(why)),
	                 KH_OK);
	/* Without the intermediate the leaf does not chain to the root. */
	assert_int_equal(kh_pki_chain_verify(kh_buf_slice(&der), NULL, 0, roots, 1,
	                                     kh_test_pki_now_s(e), why, sizeof(why)),
	                 KH_ERR_BAD_SIGNATURE);

	struct kh_pki_cert_info *info = NULL;
	assert_int_equal(kh_pki_cert_info_read(kh_buf_slice(&der), &info), KH_OK);
	assert_string_equal(info->serial_hex, r.serial);
	assert_string_equal(info->sig_alg_oid, sig_oid);
	assert_false(info->is_ca);
	assert_int_equal(info->key_type, leaf_type);
	assert_int_equal(info->not_after - info->not_before, 365 * 86400);
	assert_int_equal(info->crl_url_count, 1);
	assert_non_null(strstr(info->crl_urls[0], "/crl"));
	assert_non_null(strstr(info->ocsp_url, "/ocsp"));
	assert_int_equal(info->eku_count, 2);
	assert_int_equal(info->san_count, 1);
	kh_pki_cert_info_free(&info);

	kh_buf_cleanup(&csr);
	kh_buf_cleanup(&der);
	kh_buf_cleanup(&chain);
	kh_buf_cleanup(&root_der);
	kh_buf_cleanup(&sub_der);
}

static void p256_two_tier_pki_verifies(void **state)
{
	two_tier(*state, KH_KEY_ECDSA_P256, KH_PKEY_EC_P256, "1.2.840.10045.4.3.2");
}

static void sm2_two_tier_pki_verifies(void **state)
{
	two_tier(*state, KH_KEY_SM2, KH_PKEY_SM2, "1.2.156.10197.1.501");
}

static void auto_approving_profile_issues_at_once(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca root = kh_test_pki_ca(e, "root", KH_PKI_CA_ROOT, KH_KEY_ECDSA_P256, 0);
	(void)kh_test_pki_profile(e, root.id, "auto", false);
	int64_t seq = kh_test_keys_audit_last(e->t);
	struct kh_buf csr = kh_test_pki_csr(KH_PKEY_ED25519, "CN=auto.example.com", NULL);
	struct kh_pki_submit s = {.ca_id = root.id, .profile = "auto", .csr = kh_buf_slice(&csr)};
	struct kh_pki_request r;
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, NULL, 0), KH_OK);
	assert_int_equal(r.status, KH_PKI_REQ_ISSUED);
	assert_string_equal(r.officer, "auto");
	assert_int_equal(strlen(r.serial), 2 * KH_PKI_SERIAL_LEN);

	/* The key use, then the submission and the issuance in one transaction. */
	struct kh_test_audit_rec recs[8];
	size_t n = kh_test_keys_audit_since(e->t, seq, recs, 8);
	assert_int_equal(n, 3);
	assert_string_equal(recs[0].operation, "key.sign_with");
	assert_string_equal(recs[0].principal, "system");
	assert_string_equal(recs[1].operation, "pki.request.submit");
	assert_string_equal(recs[1].principal, "account:4");
	assert_string_equal(recs[2].operation, "pki.certificate.issue");
	assert_non_null(strstr(recs[2].detail, r.serial));
	assert_int_equal(recs[2].keystore_id, e->ks);
	kh_buf_cleanup(&csr);
}

static void pending_request_is_rejected_once(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca root = kh_test_pki_ca(e, "root", KH_PKI_CA_ROOT, KH_KEY_ECDSA_P256, 0);
	(void)kh_test_pki_profile(e, root.id, "tls", true);
	struct kh_buf csr = kh_test_pki_csr(KH_PKEY_EC_P256, "CN=no.example.com", NULL);
	struct kh_pki_submit s = {.ca_id = root.id, .profile = "tls", .csr = kh_buf_slice(&csr)};
	struct kh_pki_request r;
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, NULL, 0), KH_OK);
	assert_int_equal(kh_pki_request_reject(e->pk, &e->officer, r.id, "", &r), KH_ERR_BAD_INPUT);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_pki_request_reject(e->pk, &e->officer, r.id, "unknown host", &r),
	                 KH_OK);
	kh_test_keys_audit_one(e->t, seq, "pki.request.reject", &e->officer, KH_OK);
	assert_int_equal(r.status, KH_PKI_REQ_REJECTED);
	assert_string_equal(r.reason, "unknown host");
	assert_int_equal(kh_pki_request_approve(e->pk, &e->officer, r.id, &r), KH_ERR_CONFLICT);
	assert_int_equal(kh_pki_request_reject(e->pk, &e->mgr, r.id, "again", &r), KH_ERR_CONFLICT);

	kh_buf_cleanup(&csr);
}

static void refused(struct kh_test_pki *e, int64_t ca_id, const char *profile, struct kh_slice csr,
                    kh_rc want, const char *want_msg)
{
	struct kh_pki_submit s = {.ca_id = ca_id, .profile = profile, .csr = csr};
	struct kh_pki_request r;
	char msg[KH_PKI_MESSAGE_MAX];
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, msg, sizeof(msg)), want);
	assert_non_null(strstr(msg, want_msg));
	kh_test_keys_audit_one(e->t, seq, "pki.request.submit", &e->user, want);
}

static void bad_requests_are_refused_with_clear_messages(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca root = kh_test_pki_ca(e, "root", KH_PKI_CA_ROOT, KH_KEY_ECDSA_P256, 0);
	struct kh_pki_profile pr = kh_test_pki_profile(e, root.id, "tls", true);
	pr.key_types = KH_PKI_KEY_TYPE_BIT(KH_PKEY_SM2);
	snprintf(pr.name, sizeof(pr.name), "sm2only");
	assert_int_equal(kh_pki_profile_create(e->pk, &e->mgr, &pr), KH_OK);

	struct kh_buf good = kh_test_pki_csr(KH_PKEY_EC_P256, "CN=x.example.com", NULL);
	struct kh_buf der = new_buf();
	struct kh_buf ext = kh_test_read_data("pki/p256_extra_ext.csr.pem");
	struct kh_buf empty_id = kh_test_read_data("pki/sm2_empty_id.csr.pem");
	/* A flipped bit in the signature: proof of possession fails. */
	struct kh_buf tampered = kh_test_read_data("pki/rsa2048.csr.der");
	tampered.ptr[tampered.len - 3] ^= 0x01;

	refused(e, root.id, "tls", kh_buf_slice(&tampered), KH_ERR_BAD_SIGNATURE,
	        "proof of possession");
	refused(e, root.id, "sm2only", kh_buf_slice(&empty_id), KH_ERR_BAD_SIGNATURE,
	        "proof of possession");
	refused(e, root.id, "tls", kh_buf_slice(&ext), KH_ERR_BAD_INPUT,
	        "requested extension 2.16.840.1.113730.1.13 is not allowed");
	refused(e, root.id, "sm2only", kh_buf_slice(&good), KH_ERR_BAD_INPUT,
	        "key type not allowed by profile \"sm2only\"");
	refused(e, root.id, "nosuch", kh_buf_slice(&good), KH_ERR_BAD_INPUT,
	        "unknown profile \"nosuch\"");
	refused(e, root.id, "tls", KH_SLICE_LIT("not a csr"), KH_ERR_BAD_INPUT, "does not parse");
	refused(e, 999, "tls", kh_buf_slice(&good), KH_ERR_NOT_FOUND, "no such CA");
	kh_buf_cleanup(&good);
	kh_buf_cleanup(&der);
	kh_buf_cleanup(&ext);
	kh_buf_cleanup(&empty_id);
	kh_buf_cleanup(&tampered);
}

static kh_rc collect_serial(const struct kh_pki_certificate *c, void *arg)
{
	char(*serials)[KH_PKI_SERIAL_HEX_MAX] = arg;
	size_t i = 0;
	while (serials[i][0] != '\0')
		i++;
	memcpy(serials[i], c->serial, sizeof(serials[i]));
	return KH_OK;
}

static void serials_are_random_positive_and_unique(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca root = kh_test_pki_ca(e, "root", KH_PKI_CA_ROOT, KH_KEY_ECDSA_P256, 0);
	(void)kh_test_pki_profile(e, root.id, "auto", false);
	char serials[21][KH_PKI_SERIAL_HEX_MAX];
	memset(serials, 0, sizeof(serials));
	for (int i = 0; i < 20; i++) {
		struct kh_pki_request r =
		    kh_test_pki_issue(e, root.id, "auto", KH_PKEY_EC_P256, "many.example.com");
		/* 16 bytes, positive, minimally encoded: first byte 0x01..0x7f. */
		assert_int_equal(strlen(r.serial), 32);
		assert_true(strspn(r.serial, "0123456789ABCDEF") == 32);
		assert_true(r.serial[0] <= '7');
		assert_false(r.serial[0] == '0' && r.serial[1] == '0');
	}
	struct kh_pki_certificate_filter f = {.ca_id = root.id, .limit = 20};
	bool more = true;
	assert_int_equal(
	    kh_pki_certificate_list(e->pk, &e->mgr, &f, collect_serial, serials, &more), KH_OK);
	assert_false(more);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(strlen(serials[i]), 32);
		for (int j = 0; j < i; j++)
			assert_true(strcmp(serials[i], serials[j]) < 0 ||
			            strcmp(serials[i], serials[j]) > 0);
		if (i > 0)
			assert_true(strcmp(serials[i - 1], serials[i]) < 0); /* listed by serial */
	}
}

/* The test acts as the national root with the crypto toolkit. */
static struct kh_buf national_root_issue(struct kh_pkey *root_key, struct kh_slice csr_pem,
                                         int64_t now_s, struct kh_buf *root_der)
{
	uint8_t serial[16];
	assert_int_equal(kh_pki_serial_random(serial, sizeof(serial)), KH_OK);
	struct kh_pki_cert_spec rs = {
	    .serial = KH_SLICE(serial, sizeof(serial)),
	    .subject = "CN=National Root,O=State,C=CN",
	    .not_before = now_s,
	    .not_after = now_s + 20 * 365 * 86400LL,
	    .subject_key = root_key,
	    .is_ca = true,
	    .path_len = -1,
	    .key_usage = KH_PKI_KU_KEY_CERT_SIGN | KH_PKI_KU_CRL_SIGN,
	};
	assert_int_equal(kh_pki_cert_build(&rs, root_key, root_der), KH_OK);
	struct kh_pki_csr *csr = NULL;
	assert_int_equal(kh_pki_csr_parse(csr_pem, &csr), KH_OK);
	assert_int_equal(kh_pki_serial_random(serial, sizeof(serial)), KH_OK);
	struct kh_pki_cert_spec cs = {
	    .serial = KH_SLICE(serial, sizeof(serial)),
	    .subject_der = KH_SLICE(csr->subject_der, csr->subject_der_len),
	    .issuer_cert_der = kh_buf_slice(root_der),
	    .not_before = now_s,
	    .not_after = now_s + 10 * 365 * 86400LL,
	    .subject_key = csr->key,
	    .is_ca = true,
	    .path_len = 0,
	    .key_usage = KH_PKI_KU_KEY_CERT_SIGN | KH_PKI_KU_CRL_SIGN,
	};
	struct kh_buf der = new_buf();
	assert_int_equal(kh_pki_cert_build(&cs, root_key, &der), KH_OK);
	kh_pki_csr_free(&csr);
	return der;
}

static void external_ca_installs_the_certificate_for_its_key(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca_create req = {.name = "gov",
	                               .kind = KH_PKI_CA_EXTERNAL,
	                               .key_type = KH_KEY_SM2,
	                               .subject = "CN=Acme SM2 CA,O=Acme,C=CN",
	                               .path_len = 0};
	struct kh_pki_ca ca;
	struct kh_buf csr = new_buf(), csr2 = new_buf();
	assert_int_equal(kh_pki_ca_create(e->pk, &e->mgr, &req, &ca, &csr), KH_OK);
	assert_false(ca.has_certificate);
	assert_non_null(strstr((const char *)csr.ptr, "BEGIN CERTIFICATE REQUEST"));
	/* The request can be read again; it names the CA's key and verifies. */
	assert_int_equal(kh_pki_ca_get(e->pk, &e->mgr, ca.id, &ca, NULL, &csr2), KH_OK);
	struct kh_pki_csr *parsed = NULL;
	assert_int_equal(kh_pki_csr_parse(kh_buf_slice(&csr2), &parsed), KH_OK);
	assert_int_equal(kh_pkey_type_of(parsed->key), KH_PKEY_SM2);
	kh_pki_csr_free(&parsed);

	/* No issuance before the certificate is installed. */
	(void)kh_test_pki_profile(e, ca.id, "auto", false);
	struct kh_buf leaf_csr = kh_test_pki_csr(KH_PKEY_SM2, "CN=early", NULL);
	struct kh_pki_submit s = {
	    .ca_id = ca.id, .profile = "auto", .csr = kh_buf_slice(&leaf_csr)};
	struct kh_pki_request r;
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, NULL, 0), KH_ERR_CONFLICT);

	struct kh_pkey *root_key = NULL;
	assert_int_equal(kh_pkey_generate(KH_PKEY_SM2, &root_key), KH_OK);
	struct kh_buf root_der = new_buf(), other_root = new_buf();
	struct kh_buf cert =
	    national_root_issue(root_key, kh_buf_slice(&csr), kh_test_pki_now_s(e), &root_der);
	/* A certificate for another key is refused. */
	struct kh_buf foreign_csr =
	    kh_test_pki_csr(KH_PKEY_SM2, "CN=Acme SM2 CA,O=Acme,C=CN", NULL);
	struct kh_buf foreign = national_root_issue(root_key, kh_buf_slice(&foreign_csr),
	                                            kh_test_pki_now_s(e), &other_root);
	assert_int_equal(kh_pki_ca_install(e->pk, &e->mgr, ca.id, kh_buf_slice(&foreign), &ca),
	                 KH_ERR_BAD_KEY);
	assert_int_equal(kh_pki_ca_install(e->pk, &e->user, ca.id, kh_buf_slice(&cert), &ca),
	                 KH_ERR_FORBIDDEN);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_pki_ca_install(e->pk, &e->mgr, ca.id, kh_buf_slice(&cert), &ca), KH_OK);
	struct kh_test_audit_rec recs[4];
	assert_int_equal(kh_test_keys_audit_since(e->t, seq, recs, 4), 2);
	assert_string_equal(recs[1].operation, "pki.ca.install");
	assert_true(ca.has_certificate);
	assert_int_equal(kh_pki_ca_install(e->pk, &e->mgr, ca.id, kh_buf_slice(&cert), &ca),
	                 KH_ERR_CONFLICT);

	/* Now it issues, and the leaf chains to the national root. */
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, NULL, 0), KH_OK);
	struct kh_pki_certificate c;
	struct kh_buf leaf = new_buf();
	assert_int_equal(kh_pki_certificate_get(e->pk, &e->user, r.serial, &c, &leaf, NULL), KH_OK);
	struct kh_slice inter[] = {kh_buf_slice(&cert)};
	struct kh_slice roots[] = {kh_buf_slice(&root_der)};
	assert_int_equal(kh_pki_chain_verify(kh_buf_slice(&leaf), inter, 1, roots, 1,
	                                     kh_test_pki_now_s(e), NULL, 0),
	                 KH_OK);

	kh_pkey_free(&root_key);
	kh_buf_cleanup(&csr);
	kh_buf_cleanup(&csr2);
	kh_buf_cleanup(&leaf_csr);
	kh_buf_cleanup(&root_der);
	kh_buf_cleanup(&other_root);
	kh_buf_cleanup(&cert);
	kh_buf_cleanup(&foreign_csr);
	kh_buf_cleanup(&foreign);
	kh_buf_cleanup(&leaf);
}

static void who_may_do_what(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca_create req = {.name = "root",
	                               .kind = KH_PKI_CA_ROOT,
	                               .key_type = KH_KEY_ECDSA_P256,
	                               .subject = "CN=Root",
	                               .validity_days = 10,
	                               .path_len = -1};
	struct kh_pki_ca ca;
	/* Only a manager makes a CA: its key is a tenant key. */
	assert_int_equal(kh_pki_ca_create(e->pk, &e->op, &req, &ca, NULL), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_ca_create(e->pk, &e->officer, &req, &ca, NULL), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_ca_create(e->pk, &e->user, &req, &ca, NULL), KH_ERR_FORBIDDEN);
	ca = kh_test_pki_ca(e, "root", KH_PKI_CA_ROOT, KH_KEY_ECDSA_P256, 0);
	assert_int_equal(kh_pki_ca_create(e->pk, &e->mgr, &req, &ca, NULL), KH_ERR_CONFLICT);
	req.name = "bad name";
	assert_int_equal(kh_pki_ca_create(e->pk, &e->mgr, &req, &ca, NULL), KH_ERR_BAD_INPUT);
	req.name = "sym";
	req.key_type = KH_KEY_AES_256_GCM;
	assert_int_equal(kh_pki_ca_create(e->pk, &e->mgr, &req, &ca, NULL), KH_ERR_WRONG_KEY_TYPE);

	/* Another key store sees nothing. */
	struct kh_pki_ca got;
	assert_int_equal(kh_pki_ca_get(e->pk, &e->other, ca.id, &got, NULL, NULL),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_pki_ca_get(e->pk, &e->op, ca.id, &got, NULL, NULL), KH_OK);
	assert_int_equal(kh_pki_ca_get(e->pk, &e->officer, ca.id, &got, NULL, NULL), KH_OK);
	struct kh_pki_profile pr = {.ca_id = ca.id,
	                            .name = "p",
	                            .key_types = KH_PKI_KEY_TYPE_BIT(KH_PKEY_EC_P256),
	                            .validity_days = 30,
	                            .path_len = -1,
	                            .approval_required = true,
	                            .kind = KH_PKI_CERT_SIGN};
	assert_int_equal(kh_pki_profile_create(e->pk, &e->other, &pr), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_pki_profile_create(e->pk, &e->officer, &pr), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_profile_create(e->pk, &e->user, &pr), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_profile_create(e->pk, &e->op, &pr), KH_OK);
	assert_int_equal(kh_pki_profile_create(e->pk, &e->mgr, &pr), KH_ERR_CONFLICT);
	pr.validity_days = 90;
	assert_int_equal(kh_pki_profile_update(e->pk, &e->mgr, &pr), KH_OK);
	struct kh_pki_profile back;
	assert_int_equal(kh_pki_profile_get(e->pk, &e->user, ca.id, "p", &back), KH_OK);
	assert_int_equal(back.validity_days, 90);
	assert_int_equal(kh_pki_profile_get(e->pk, &e->other, ca.id, "p", &back), KH_ERR_NOT_FOUND);

	/* Requests: any account submits; the submitter cannot approve; a user cannot decide. */
	struct kh_buf csr = kh_test_pki_csr(KH_PKEY_EC_P256, "CN=w", NULL);
	struct kh_pki_submit s = {.ca_id = ca.id, .profile = "p", .csr = kh_buf_slice(&csr)};
	struct kh_pki_request r, r2;
	assert_int_equal(kh_pki_request_submit(e->pk, &e->other, &s, &r, NULL, 0),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_pki_request_submit(e->pk, &e->op, &s, &r, NULL, 0), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_request_submit(e->pk, &e->mgr, &s, &r, NULL, 0), KH_OK);
	assert_int_equal(kh_pki_request_approve(e->pk, &e->mgr, r.id, &r2), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_request_approve(e->pk, &e->user, r.id, &r2), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_request_approve(e->pk, &e->other, r.id, &r2), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_pki_request_get(e->pk, &e->user, r.id, &r2), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_request_get(e->pk, &e->officer, r.id, &r2), KH_OK);
	assert_int_equal(kh_pki_request_get(e->pk, &e->mgr, r.id, &r2), KH_OK);
	assert_int_equal(kh_pki_request_approve(e->pk, &e->mgr2, r.id, &r2), KH_OK);
	assert_int_equal(r2.status, KH_PKI_REQ_ISSUED);
	/* The operator approves too; the CA's key then signs as the service of the key store. */
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, NULL, 0), KH_OK);
	assert_int_equal(kh_pki_request_get(e->pk, &e->user, r.id, &r2), KH_OK);
	assert_int_equal(kh_pki_request_approve(e->pk, &e->op, r.id, &r2), KH_OK);

	struct kh_pki_certificate c;
	assert_int_equal(kh_pki_certificate_get(e->pk, &e->other, r2.serial, &c, NULL, NULL),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_pki_certificate_get(e->pk, &e->user, r2.serial, &c, NULL, NULL), KH_OK);
	assert_int_equal(kh_pki_certificate_get(e->pk, &e->op, r2.serial, &c, NULL, NULL), KH_OK);
	kh_buf_cleanup(&csr);
}

static kh_rc count_request(const struct kh_pki_request *r, void *arg)
{
	(void)r;
	(*(size_t *)arg)++;
	return KH_OK;
}

static void requests_list_by_status_and_page(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca ca = kh_test_pki_ca(e, "root", KH_PKI_CA_ROOT, KH_KEY_ECDSA_P256, 0);
	(void)kh_test_pki_profile(e, ca.id, "tls", true);
	struct kh_buf csr = kh_test_pki_csr(KH_PKEY_EC_P256, "CN=l", NULL);
	struct kh_pki_submit s = {.ca_id = ca.id, .profile = "tls", .csr = kh_buf_slice(&csr)};
	struct kh_pki_request r;
	for (int i = 0; i < 3; i++)
		assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, NULL, 0), KH_OK);
	assert_int_equal(kh_pki_request_reject(e->pk, &e->officer, r.id, "dup", &r), KH_OK);
	size_t n = 0;
	bool more = false;
	struct kh_pki_request_filter f = {.status = KH_PKI_REQ_PENDING, .limit = 1};
	assert_int_equal(kh_pki_request_list(e->pk, &e->officer, &f, count_request, &n, &more),
	                 KH_OK);
	assert_int_equal(n, 1);
	assert_true(more);
	f.limit = 10;
	n = 0;
	assert_int_equal(kh_pki_request_list(e->pk, &e->officer, &f, count_request, &n, &more),
	                 KH_OK);
	assert_int_equal(n, 2);
	assert_false(more);
	f.status = 0;
	n = 0;
	assert_int_equal(kh_pki_request_list(e->pk, &e->mgr, &f, count_request, &n, &more), KH_OK);
	assert_int_equal(n, 3);
	assert_int_equal(kh_pki_request_list(e->pk, &e->user, &f, count_request, &n, &more),
	                 KH_ERR_FORBIDDEN);
	n = 0;
	assert_int_equal(kh_pki_request_list(e->pk, &e->other, &f, count_request, &n, &more),
	                 KH_OK);
	assert_int_equal(n, 0);
	kh_buf_cleanup(&csr);
}

static void a_disabled_ca_key_stops_issuance(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca ca = kh_test_pki_ca(e, "root", KH_PKI_CA_ROOT, KH_KEY_ECDSA_P256, 0);
	(void)kh_test_pki_profile(e, ca.id, "tls", true);
	(void)kh_test_pki_profile(e, ca.id, "auto", false);
	struct kh_key_info key;
	assert_int_equal(kh_keys_get(e->t->keys, &e->mgr, ca.key_tag, &key), KH_OK);
	assert_int_equal(key.usage, KH_USAGE_SIGN_VERIFY);
	assert_int_equal(key.rotation_period_days, 0);
	assert_string_equal(key.name, "pki-ca.root");

	struct kh_buf csr = kh_test_pki_csr(KH_PKEY_EC_P256, "CN=d", NULL);
	struct kh_pki_submit s = {.ca_id = ca.id, .profile = "tls", .csr = kh_buf_slice(&csr)};
	struct kh_pki_request r;
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, NULL, 0), KH_OK);
	assert_int_equal(kh_keys_disable(e->t->keys, &e->mgr, ca.key_tag, &key), KH_OK);
	int64_t seq = kh_test_keys_audit_last(e->t);
	assert_int_equal(kh_pki_request_approve(e->pk, &e->officer, r.id, &r), KH_ERR_KEY_DISABLED);
	struct kh_test_audit_rec recs[4];
	assert_int_equal(kh_test_keys_audit_since(e->t, seq, recs, 4), 2);
	assert_string_equal(recs[0].operation, "key.sign_with");
	assert_string_equal(recs[0].result, "KH_ERR_KEY_DISABLED");
	assert_string_equal(recs[1].operation, "pki.request.approve");
	assert_string_equal(recs[1].result, "KH_ERR_KEY_DISABLED");
	assert_int_equal(kh_pki_request_get(e->pk, &e->officer, r.id, &r), KH_OK);
	assert_int_equal(r.status, KH_PKI_REQ_PENDING);
	s.profile = "auto";
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, NULL, 0),
	                 KH_ERR_KEY_DISABLED);
	/* Enabled again, it issues. */
	assert_int_equal(kh_keys_enable(e->t->keys, &e->mgr, ca.key_tag, &key), KH_OK);
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, NULL, 0), KH_OK);
	assert_int_equal(kh_keys_get(e->t->keys, &e->mgr, ca.key_tag, &key), KH_OK);
	assert_true(key.usage_count >= 2); /* the certificate and the issuance */
	kh_buf_cleanup(&csr);
}

static void validity_is_capped_by_the_ca(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca_create req = {.name = "short",
	                               .kind = KH_PKI_CA_ROOT,
	                               .key_type = KH_KEY_ED25519,
	                               .subject = "CN=Short Root",
	                               .validity_days = 30,
	                               .path_len = -1};
	struct kh_pki_ca ca;
	assert_int_equal(kh_pki_ca_create(e->pk, &e->mgr, &req, &ca, NULL), KH_OK);
	(void)kh_test_pki_profile(e, ca.id, "auto", false);
	struct kh_pki_request r = kh_test_pki_issue(e, ca.id, "auto", KH_PKEY_EC_P256, "cap");
	struct kh_pki_certificate c;
	assert_int_equal(kh_pki_certificate_get(e->pk, &e->mgr, r.serial, &c, NULL, NULL), KH_OK);
	assert_int_equal(c.not_after, ca.not_after);
	/* After the CA expired, nothing is issued. */
	kh_test_keys_advance(e->t, 31 * KH_NS_PER_DAY);
	struct kh_buf csr = kh_test_pki_csr(KH_PKEY_EC_P256, "CN=late", NULL);
	struct kh_pki_submit s = {.ca_id = ca.id, .profile = "auto", .csr = kh_buf_slice(&csr)};
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, NULL, 0), KH_ERR_CONFLICT);
	kh_buf_cleanup(&csr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(p256_two_tier_pki_verifies),
	    T(sm2_two_tier_pki_verifies),
	    T(auto_approving_profile_issues_at_once),
	    T(pending_request_is_rejected_once),
	    T(bad_requests_are_refused_with_clear_messages),
	    T(serials_are_random_positive_and_unique),
	    T(external_ca_installs_the_certificate_for_its_key),
	    T(who_may_do_what),
	    T(requests_list_by_status_and_page),
	    T(a_disabled_ca_key_stops_issuance),
	    T(validity_is_capped_by_the_ca),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
