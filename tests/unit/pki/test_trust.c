// SPDX-License-Identifier: Apache-2.0
/*
 * Trust anchors (checked when added; an external CA's certificate verified under the anchor
 * named as its issuer, which then ends its chain; the trust list), delegated OCSP responders
 * (responses signed by the responder and verifiable only under its certificate, renewal by the
 * service with the same key, the CA's key when the responder's cannot sign, removal), the
 * bound on OCSP signatures in flight, and the sign / encrypt profile kinds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kh_test.h"
#include "kh_test_pki.h"
#include "pki/kh_pki_int.h"

#define T(name) cmocka_unit_test_setup_teardown(name, kh_test_pki_setup, kh_test_pki_teardown)
#define DAY_NS (INT64_C(86400) * KH_NS_PER_SEC)

static struct kh_buf new_buf(void)
{
	struct kh_buf b;
	kh_buf_init(&b, 1024 * 1024, KH_BUF_PLAIN);
	return b;
}

/* A certificate of subject for key, signed by signer (issuer: NULL for self-signed). */
static struct kh_buf make_cert(struct kh_test_pki *e, const char *subject,
                               const struct kh_pkey *key, const struct kh_pkey *signer,
                               const struct kh_buf *issuer, bool is_ca)
{
	uint8_t serial[16];
	struct kh_buf der = new_buf();
	assert_int_equal(kh_pki_serial_random(serial, sizeof(serial)), KH_OK);
	struct kh_pki_cert_spec spec = {
	    .serial = KH_SLICE(serial, sizeof(serial)),
	    .subject = subject,
	    .issuer_cert_der = issuer != NULL ? kh_buf_slice(issuer) : KH_SLICE_EMPTY,
	    .not_before = kh_test_pki_now_s(e) - 60,
	    .not_after = kh_test_pki_now_s(e) + 3650 * 86400,
	    .subject_key = key,
	    .is_ca = is_ca,
	    .path_len = -1,
	    .key_usage =
	        is_ca ? KH_PKI_KU_KEY_CERT_SIGN | KH_PKI_KU_CRL_SIGN : KH_PKI_KU_DIGITAL_SIGNATURE,
	};
	assert_int_equal(kh_pki_cert_build(&spec, signer, &der), KH_OK);
	return der;
}

static void anchors_are_checked_listed_and_removed(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pkey *sm2 = NULL, *ec = NULL;
	char msg[KH_PKI_MESSAGE_MAX];
	struct kh_pki_anchor a, got;
	assert_int_equal(kh_pkey_generate(KH_PKEY_SM2, &sm2), KH_OK);
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &ec), KH_OK);
	/* An SM2 root: its self-signature checks with the GM/T ID. */
	struct kh_buf root = make_cert(e, "CN=GM Root,C=CN", sm2, sm2, NULL, true);
	assert_int_equal(
	    kh_pki_anchor_add(e->pk, &e->user, "gm", kh_buf_slice(&root), &a, msg, sizeof(msg)),
	    KH_ERR_FORBIDDEN);
	assert_int_equal(
	    kh_pki_anchor_add(e->pk, &e->mgr, "gm", kh_buf_slice(&root), &a, msg, sizeof(msg)),
	    KH_OK);
	assert_string_equal(a.name, "gm");
	assert_int_equal(strlen(a.fingerprint), 64);
	assert_int_equal(
	    kh_pki_anchor_add(e->pk, &e->mgr, "gm2", kh_buf_slice(&root), &got, msg, sizeof(msg)),
	    KH_ERR_CONFLICT);
	/* Not a CA; not self-issued; one flipped byte of the signature. */
	struct kh_buf leaf = make_cert(e, "CN=leaf", ec, ec, NULL, false);
	assert_int_equal(
	    kh_pki_anchor_add(e->pk, &e->mgr, "leaf", kh_buf_slice(&leaf), &got, msg, sizeof(msg)),
	    KH_ERR_BAD_INPUT);
	assert_non_null(strstr(msg, "not a CA"));
	struct kh_buf sub = make_cert(e, "CN=Sub", ec, sm2, &root, true);
	assert_int_equal(
	    kh_pki_anchor_add(e->pk, &e->mgr, "sub", kh_buf_slice(&sub), &got, msg, sizeof(msg)),
	    KH_ERR_BAD_INPUT);
	assert_non_null(strstr(msg, "self-issued"));
	struct kh_buf bad = make_cert(e, "CN=EC Root", ec, ec, NULL, true);
	bad.ptr[bad.len - 4] ^= 0x01;
	assert_int_equal(
	    kh_pki_anchor_add(e->pk, &e->mgr, "bad", kh_buf_slice(&bad), &got, msg, sizeof(msg)),
	    KH_ERR_BAD_SIGNATURE);
	/* Another key store sees nothing; the officer reads. */
	assert_int_equal(kh_pki_anchor_get(e->pk, &e->other, a.id, &got, NULL), KH_ERR_NOT_FOUND);
	struct kh_buf der = new_buf();
	assert_int_equal(kh_pki_anchor_get(e->pk, &e->officer, a.id, &got, &der), KH_OK);
	assert_memory_equal(der.ptr, root.ptr, root.len);
	/* The trust list: the anchor, then the key store's root CAs. */
	struct kh_pki_ca kr = kh_test_pki_ca(e, "root", KH_PKI_CA_ROOT, KH_KEY_ECDSA_P256, 0);
	(void)kh_test_pki_ca(e, "issuing", KH_PKI_CA_INTERMEDIATE, KH_KEY_ECDSA_P256, kr.id);
	struct kh_buf list = new_buf(), pub = new_buf(), pem = new_buf();
	assert_int_equal(kh_pki_trust_list(e->pk, &e->user, 0, &list), KH_OK);
	assert_int_equal(kh_pki_cert_to_pem(kh_buf_slice(&root), &pem), KH_OK);
	struct kh_buf krd = kh_test_pki_ca_cert(e, kr.id);
	assert_int_equal(kh_pki_cert_to_pem(kh_buf_slice(&krd), &pem), KH_OK);
	assert_int_equal(list.len, pem.len);
	assert_memory_equal(list.ptr, pem.ptr, pem.len);
	assert_int_equal(kh_pki_trust_list_public(e->pk, kr.id, &pub), KH_OK);
	assert_int_equal(pub.len, list.len);
	kh_buf_clear(&list);
	assert_int_equal(kh_pki_trust_list(e->pk, &e->other, 0, &list), KH_OK);
	assert_int_equal(list.len, 0);
	assert_int_equal(kh_pki_anchor_remove(e->pk, &e->user, a.id), KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_anchor_remove(e->pk, &e->mgr, a.id), KH_OK);
	assert_int_equal(kh_pki_anchor_remove(e->pk, &e->mgr, a.id), KH_ERR_NOT_FOUND);
	kh_buf_cleanup(&krd);
	kh_buf_cleanup(&pem);
	kh_buf_cleanup(&pub);
	kh_buf_cleanup(&list);
	kh_buf_cleanup(&der);
	kh_buf_cleanup(&bad);
	kh_buf_cleanup(&sub);
	kh_buf_cleanup(&leaf);
	kh_buf_cleanup(&root);
	kh_pkey_free(&sm2);
	kh_pkey_free(&ec);
}

/* The external CA's certificate, signed by signer as the anchor's subject. */
static struct kh_buf sign_external(struct kh_test_pki *e, int64_t ca_id,
                                   const struct kh_pkey *signer, const struct kh_buf *anchor)
{
	struct kh_pki_ca ca;
	struct kh_buf cert = new_buf(), csr_pem = new_buf();
	struct kh_pki_csr *csr = NULL;
	assert_int_equal(kh_pki_ca_get(e->pk, &e->mgr, ca_id, &ca, NULL, &csr_pem), KH_OK);
	assert_int_equal(kh_pki_csr_parse(kh_buf_slice(&csr_pem), &csr), KH_OK);
	kh_buf_clear(&cert);
	struct kh_buf out = make_cert(e, "CN=National Sub CA", csr->key, signer, anchor, true);
	kh_pki_csr_free(&csr);
	kh_buf_cleanup(&csr_pem);
	kh_buf_cleanup(&cert);
	return out;
}

static void external_ca_verifies_under_its_anchor(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pkey *nat = NULL, *fake = NULL;
	char msg[KH_PKI_MESSAGE_MAX];
	struct kh_pki_anchor a;
	struct kh_pki_ca ca;
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &nat), KH_OK);
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &fake), KH_OK);
	struct kh_buf root = make_cert(e, "CN=National Root,C=CN", nat, nat, NULL, true);
	struct kh_buf fake_root = make_cert(e, "CN=National Root,C=CN", fake, fake, NULL, true);
	assert_int_equal(
	    kh_pki_anchor_add(e->pk, &e->mgr, "nat", kh_buf_slice(&root), &a, msg, sizeof(msg)),
	    KH_OK);
	struct kh_pki_ca ext = kh_test_pki_ca(e, "ext", KH_PKI_CA_EXTERNAL, KH_KEY_ECDSA_P256, 0);
	/* Signed by another key under the anchor's name: refused. */
	struct kh_buf forged = sign_external(e, ext.id, fake, &fake_root);
	assert_int_equal(kh_pki_ca_install(e->pk, &e->mgr, ext.id, kh_buf_slice(&forged), &ca),
	                 KH_ERR_BAD_SIGNATURE);
	struct kh_buf good = sign_external(e, ext.id, nat, &root);
	assert_int_equal(kh_pki_ca_install(e->pk, &e->mgr, ext.id, kh_buf_slice(&good), &ca),
	                 KH_OK);
	assert_int_equal(ca.anchor_id, a.id);
	/* A leaf's chain: the CA, then the anchor; the anchor cannot go while used. */
	(void)kh_test_pki_profile(e, ext.id, "auto", false);
	struct kh_pki_request r = kh_test_pki_issue(e, ext.id, "auto", KH_PKEY_EC_P256, "leaf");
	struct kh_pki_certificate c;
	struct kh_buf chain = new_buf(), want = new_buf();
	assert_int_equal(kh_pki_certificate_get(e->pk, &e->mgr, r.serial, &c, NULL, &chain), KH_OK);
	assert_int_equal(kh_pki_cert_to_pem(kh_buf_slice(&good), &want), KH_OK);
	assert_int_equal(kh_pki_cert_to_pem(kh_buf_slice(&root), &want), KH_OK);
	assert_int_equal(chain.len, want.len);
	assert_memory_equal(chain.ptr, want.ptr, want.len);
	assert_int_equal(kh_pki_anchor_remove(e->pk, &e->mgr, a.id), KH_ERR_CONFLICT);
	kh_buf_cleanup(&chain);
	kh_buf_cleanup(&want);
	kh_buf_cleanup(&good);
	kh_buf_cleanup(&forged);
	kh_buf_cleanup(&fake_root);
	kh_buf_cleanup(&root);
	kh_pkey_free(&nat);
	kh_pkey_free(&fake);
}

/* ---- delegated OCSP responders ---- */

struct ocsp_fixture {
	struct kh_pki_ca root, ca;
	struct kh_buf ca_der;
	struct kh_pki_request leaf;
	struct kh_ocsp_request req; /* one CertID, with a nonce: never cached */
};

static void ocsp_fixture(struct kh_test_pki *e, struct ocsp_fixture *f, enum kh_key_type type)
{
	f->root = kh_test_pki_ca(e, "root", KH_PKI_CA_ROOT, type, 0);
	f->ca = kh_test_pki_ca(e, "issuing", KH_PKI_CA_INTERMEDIATE, type, f->root.id);
	(void)kh_test_pki_profile(e, f->ca.id, "auto", false);
	f->ca_der = kh_test_pki_ca_cert(e, f->ca.id);
	f->leaf = kh_test_pki_issue(e, f->ca.id, "auto",
	                            type == KH_KEY_SM2 ? KH_PKEY_SM2 : KH_PKEY_EC_P256, "leaf");
	const char *serials[] = {f->leaf.serial};
	kh_test_pki_ocsp_request(&f->ca_der, serials, 1, true, &f->req);
}

/* Answers, and checks the response verifies under signer (and is good). */
static void answer_signed_by(struct kh_test_pki *e, struct ocsp_fixture *f,
                             const struct kh_buf *signer, const struct kh_buf *not_signer)
{
	struct kh_buf resp = new_buf();
	struct kh_ocsp_response_info *info = calloc(1, sizeof(*info));
	assert_non_null(info);
	assert_int_equal(kh_pki_ocsp_respond(e->pk, f->ca.id, &f->req, &resp), KH_OK);
	assert_int_equal(kh_pki_ocsp_verify(kh_buf_slice(&resp), kh_buf_slice(signer)), KH_OK);
	if (not_signer != NULL)
		assert_int_not_equal(
		    kh_pki_ocsp_verify(kh_buf_slice(&resp), kh_buf_slice(not_signer)), KH_OK);
	assert_int_equal(kh_pki_ocsp_response_parse(kh_buf_slice(&resp), info), KH_OK);
	assert_int_equal(info->singles[0].status, KH_OCSP_GOOD);
	free(info);
	kh_buf_cleanup(&resp);
}

static void responder(struct kh_test_pki *e, enum kh_key_type type)
{
	struct ocsp_fixture f;
	struct kh_pki_ca ca;
	struct kh_pki_responder_issue req = {.validity_days = 30};
	struct kh_buf r1 = new_buf(), r2 = new_buf();
	ocsp_fixture(e, &f, type);
	assert_int_equal(kh_pki_responder_certificate(e->pk, &e->user, f.ca.id, &r1),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_pki_responder_issue(e->pk, &e->officer, f.ca.id, &req, &ca, &r1),
	                 KH_ERR_FORBIDDEN);
	assert_int_equal(kh_pki_responder_issue(e->pk, &e->mgr, f.ca.id, &req, &ca, &r1), KH_OK);
	assert_true(ca.responder_key_tag[0] != '\0');

	/* The responder's certificate: issued by the CA, OCSPSigning, listed like any other. */
	struct kh_pki_cert_info *info = NULL;
	assert_int_equal(kh_pki_cert_info_read(kh_buf_slice(&r1), &info), KH_OK);
	assert_int_equal(info->eku_count, 1);
	assert_string_equal(info->ekus[0], "1.3.6.1.5.5.7.3.9");
	assert_false(info->is_ca);
	assert_int_equal(info->not_after - info->not_before, 30 * 86400);
	struct kh_pki_certificate c;
	assert_int_equal(kh_pki_certificate_get(e->pk, &e->mgr, info->serial_hex, &c, NULL, NULL),
	                 KH_OK);
	struct kh_buf root_der = kh_test_pki_ca_cert(e, f.root.id);
	struct kh_slice inter = kh_buf_slice(&f.ca_der), roots = kh_buf_slice(&root_der);
	assert_int_equal(kh_pki_chain_verify(kh_buf_slice(&r1), &inter, 1, &roots, 1,
	                                     kh_test_pki_now_s(e), NULL, 0),
	                 KH_OK);
	kh_pki_cert_info_free(&info);
	answer_signed_by(e, &f, &r1, &f.ca_der);

	/* Not yet due; then past two thirds of its life: renewed, same key, new certificate. */
	size_t n = 0;
	assert_int_equal(kh_pki_responder_renew_due(e->pk, 10, &n), KH_OK);
	assert_int_equal(n, 0);
	kh_test_keys_advance(e->t, 21 * DAY_NS);
	assert_int_equal(kh_pki_responder_renew_due(e->pk, 10, &n), KH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(kh_pki_responder_renew_due(e->pk, 10, &n), KH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(kh_pki_responder_certificate(e->pk, &e->user, f.ca.id, &r2), KH_OK);
	assert_false(r1.len == r2.len && memcmp(r1.ptr, r2.ptr, r1.len) == 0);
	struct kh_pkey *k1 = NULL, *k2 = NULL;
	struct kh_buf p1 = new_buf(), p2 = new_buf();
	assert_int_equal(kh_pki_cert_public_key(kh_buf_slice(&r1), &k1), KH_OK);
	assert_int_equal(kh_pki_cert_public_key(kh_buf_slice(&r2), &k2), KH_OK);
	assert_int_equal(kh_pkey_export_public_der(k1, &p1), KH_OK);
	assert_int_equal(kh_pkey_export_public_der(k2, &p2), KH_OK);
	assert_int_equal(p1.len, p2.len);
	assert_memory_equal(p1.ptr, p2.ptr, p1.len);
	answer_signed_by(e, &f, &r2, &f.ca_der);

	/* The responder's key disabled: the CA answers. */
	struct kh_pki_ca now;
	struct kh_key_info key;
	assert_int_equal(kh_pki_ca_get(e->pk, &e->mgr, f.ca.id, &now, NULL, NULL), KH_OK);
	assert_int_equal(kh_keys_disable(e->t->keys, &e->mgr, now.responder_key_tag, &key), KH_OK);
	answer_signed_by(e, &f, &f.ca_der, &r2);
	assert_int_equal(kh_keys_enable(e->t->keys, &e->mgr, now.responder_key_tag, &key), KH_OK);
	answer_signed_by(e, &f, &r2, NULL);

	/* Removed: the CA signs, the key is disabled. */
	assert_int_equal(kh_pki_responder_remove(e->pk, &e->mgr, f.ca.id), KH_OK);
	assert_int_equal(kh_pki_responder_remove(e->pk, &e->mgr, f.ca.id), KH_ERR_NOT_FOUND);
	answer_signed_by(e, &f, &f.ca_der, &r2);
	assert_int_equal(kh_keys_get(e->t->keys, &e->mgr, now.responder_key_tag, &key), KH_OK);
	assert_int_equal(key.state, KH_KEY_DISABLED);
	kh_pkey_free(&k1);
	kh_pkey_free(&k2);
	kh_buf_cleanup(&p1);
	kh_buf_cleanup(&p2);
	kh_buf_cleanup(&root_der);
	kh_buf_cleanup(&r1);
	kh_buf_cleanup(&r2);
	kh_buf_cleanup(&f.ca_der);
}

static void p256_responder(void **state)
{
	responder(*state, KH_KEY_ECDSA_P256);
}

static void sm2_responder(void **state)
{
	responder(*state, KH_KEY_SM2);
}

static void ocsp_signatures_in_flight_are_bounded(void **state)
{
	struct kh_test_pki *e = *state;
	struct ocsp_fixture f;
	struct kh_buf resp = new_buf();
	ocsp_fixture(e, &f, KH_KEY_ECDSA_P256);
	/* A cached answer first (no nonce), to be served while the slots are busy. */
	struct kh_ocsp_request cached = f.req;
	cached.has_nonce = false;
	assert_int_equal(kh_pki_ocsp_respond(e->pk, f.ca.id, &cached, &resp), KH_OK);
	/* Every slot taken (as by other workers): a miss waits, then tryLater. */
	pthread_mutex_lock(&e->pk->sign_mu);
	unsigned max = e->pk->sign_max;
	e->pk->signing = max;
	pthread_mutex_unlock(&e->pk->sign_mu);
	assert_int_equal(max, KH_PKI_OCSP_SIGN_DEFAULT);
	kh_buf_clear(&resp);
	assert_int_equal(kh_pki_ocsp_respond(e->pk, f.ca.id, &f.req, &resp), KH_ERR_RATE_LIMITED);
	assert_int_equal(resp.len, 0);
	assert_int_equal(kh_pki_ocsp_try_later(e->pk), 1);
	assert_int_equal(kh_pki_ocsp_respond(e->pk, f.ca.id, &cached, &resp), KH_OK);
	assert_true(resp.len > 0);
	/* One slot free again: answered. */
	pthread_mutex_lock(&e->pk->sign_mu);
	e->pk->signing = max - 1;
	pthread_mutex_unlock(&e->pk->sign_mu);
	kh_buf_clear(&resp);
	assert_int_equal(kh_pki_ocsp_respond(e->pk, f.ca.id, &f.req, &resp), KH_OK);
	assert_int_equal(e->pk->signing, max - 1);
	assert_int_equal(kh_pki_ocsp_try_later(e->pk), 1);
	pthread_mutex_lock(&e->pk->sign_mu);
	e->pk->signing = 0;
	pthread_mutex_unlock(&e->pk->sign_mu);
	kh_buf_cleanup(&resp);
	kh_buf_cleanup(&f.ca_der);
}

/* ---- profile kinds ---- */

static void profile_kinds_bound_key_usage(void **state)
{
	struct kh_test_pki *e = *state;
	struct kh_pki_ca root = kh_test_pki_ca(e, "root", KH_PKI_CA_ROOT, KH_KEY_ECDSA_P256, 0);
	struct kh_pki_profile pr = {
	    .ca_id = root.id,
	    .name = "enc",
	    .key_types = KH_PKI_KEY_TYPE_BIT(KH_PKEY_EC_P256) | KH_PKI_KEY_TYPE_BIT(KH_PKEY_SM2),
	    .validity_days = 30,
	    .key_usage = KH_PKI_KU_DIGITAL_SIGNATURE,
	    .path_len = -1,
	    .kind = KH_PKI_CERT_ENCRYPT,
	};
	assert_non_null(kh_pki_profile_kind_problem(&pr));
	assert_int_equal(kh_pki_profile_create(e->pk, &e->mgr, &pr), KH_ERR_BAD_INPUT);
	pr.key_usage = 0;
	pr.key_types |= KH_PKI_KEY_TYPE_BIT(KH_PKEY_ED25519);
	assert_int_equal(kh_pki_profile_create(e->pk, &e->mgr, &pr), KH_ERR_BAD_INPUT);
	pr.key_types &= ~KH_PKI_KEY_TYPE_BIT(KH_PKEY_ED25519);
	pr.is_ca = true;
	assert_int_equal(kh_pki_profile_create(e->pk, &e->mgr, &pr), KH_ERR_BAD_INPUT);
	pr.is_ca = false;
	assert_int_equal(kh_pki_profile_create(e->pk, &e->mgr, &pr), KH_OK);
	struct kh_pki_profile got;
	assert_int_equal(kh_pki_profile_get(e->pk, &e->mgr, root.id, "enc", &got), KH_OK);
	assert_int_equal(got.key_usage, KH_PKI_KU_KEY_ENCIPHERMENT | KH_PKI_KU_DATA_ENCIPHERMENT |
	                                    KH_PKI_KU_KEY_AGREEMENT);
	/* An encryption certificate for an SM2 key says exactly that. */
	struct kh_pki_request r = kh_test_pki_issue(e, root.id, "enc", KH_PKEY_SM2, "enc");
	struct kh_buf der = new_buf();
	struct kh_pki_certificate c;
	struct kh_pki_cert_info *info = NULL;
	assert_int_equal(kh_pki_certificate_get(e->pk, &e->mgr, r.serial, &c, &der, NULL), KH_OK);
	assert_int_equal(kh_pki_cert_info_read(kh_buf_slice(&der), &info), KH_OK);
	assert_true(info->has_key_usage);
	assert_int_equal(info->key_usage, got.key_usage);
	kh_pki_cert_info_free(&info);
	/* A signing profile refuses encipherment. */
	pr.kind = KH_PKI_CERT_SIGN;
	pr.key_usage = KH_PKI_KU_DIGITAL_SIGNATURE | KH_PKI_KU_KEY_AGREEMENT;
	snprintf(pr.name, sizeof(pr.name), "sig");
	assert_int_equal(kh_pki_profile_create(e->pk, &e->mgr, &pr), KH_ERR_BAD_INPUT);
	pr.kind = KH_PKI_CERT_BOTH;
	assert_int_equal(kh_pki_profile_create(e->pk, &e->mgr, &pr), KH_OK);
	kh_buf_cleanup(&der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(anchors_are_checked_listed_and_removed),
	    T(external_ca_verifies_under_its_anchor),
	    T(p256_responder),
	    T(sm2_responder),
	    T(ocsp_signatures_in_flight_are_bounded),
	    T(profile_kinds_bound_key_usage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
