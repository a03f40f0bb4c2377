// SPDX-License-Identifier: Apache-2.0
/* The PKI test fixture (kh_test_pki.h). */
#include "kh_test_pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kh_test_pki *kh_test_pki_new(void)
{
	struct kh_test_pki *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->t = kh_test_keys_new(0);
	struct kh_pki_options o = {.keys = e->t->keys,
	                           .store = e->t->store,
	                           .audit = e->t->audit,
	                           .clock = &e->t->clock,
	                           .barrier = e->t->barrier,
	                           .kmc_pool_size = 4};
	assert_int_equal(kh_pki_new(&o, &e->pk), KH_OK);
	e->ks = kh_test_keys_keystore(e->t, "acme");
	e->ks2 = kh_test_keys_keystore(e->t, "other");
	e->mgr = kh_test_keys_manager(e->t, e->ks, "admin");
	e->mgr2 = kh_test_keys_manager(e->t, e->ks, "admin2");
	e->officer = kh_test_keys_account(e->t, e->ks, "officer", KH_POLICY_RA_OFFICER);
	e->user = kh_test_keys_user(e->t, e->ks, "client");
	e->other = kh_test_keys_manager(e->t, e->ks2, "stranger");
	e->rec1 = kh_test_keys_account(e->t, e->ks, "rec1", KH_POLICY_RECOVERY_OFFICER);
	e->rec2 = kh_test_keys_account(e->t, e->ks, "rec2", KH_POLICY_RECOVERY_OFFICER);
	e->rec3 = kh_test_keys_account(e->t, e->ks, "rec3", KH_POLICY_RECOVERY_OFFICER);
	e->op = kh_test_keys_operator();
	return e;
}

void kh_test_pki_free(struct kh_test_pki **e)
{
	if (*e == NULL)
		return;
	kh_pki_free(&(*e)->pk);
	kh_test_keys_free(&(*e)->t);
	free(*e);
	*e = NULL;
}

int kh_test_pki_setup(void **state)
{
	*state = kh_test_pki_new();
	return 0;
}

int kh_test_pki_teardown(void **state)
{
	struct kh_test_pki *e = *state;
	kh_test_pki_free(&e);
	return 0;
}

int64_t kh_test_pki_now_s(struct kh_test_pki *e)
{
	return kh_test_keys_now(e->t) / KH_NS_PER_SEC;
}

struct kh_pki_ca kh_test_pki_ca(struct kh_test_pki *e, const char *name, enum kh_pki_ca_kind kind,
                                enum kh_key_type type, int64_t parent)
{
	char subject[128];
	snprintf(subject, sizeof(subject), "CN=%s,O=keyhold test,C=CN", name);
	struct kh_pki_ca_create req = {
	    .name = name,
	    .kind = kind,
	    .key_type = type,
	    .subject = subject,
	    .validity_days = kind == KH_PKI_CA_ROOT ? 3650 : 1825,
	    .path_len = kind == KH_PKI_CA_ROOT ? 1 : 0,
	    .parent_id = parent,
	};
	struct kh_pki_ca ca;
	assert_int_equal(kh_pki_ca_create(e->pk, &e->mgr, &req, &ca, NULL), KH_OK);
	return ca;
}

struct kh_buf kh_test_pki_ca_cert(struct kh_test_pki *e, int64_t ca_id)
{
	struct kh_buf der;
	struct kh_pki_ca ca;
	kh_buf_init(&der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_ca_get(e->pk, &e->mgr, ca_id, &ca, &der, NULL), KH_OK);
	return der;
}

struct kh_pki_profile kh_test_pki_profile(struct kh_test_pki *e, int64_t ca_id, const char *name,
                                          bool approval)
{
	struct kh_pki_profile pr = {
	    .ca_id = ca_id,
	    .key_types = KH_PKI_KEY_TYPE_BIT(KH_PKEY_EC_P256) | KH_PKI_KEY_TYPE_BIT(KH_PKEY_SM2) |
	                 KH_PKI_KEY_TYPE_BIT(KH_PKEY_RSA_2048) |
	                 KH_PKI_KEY_TYPE_BIT(KH_PKEY_ED25519),
	    .validity_days = 365,
	    .key_usage = KH_PKI_KU_DIGITAL_SIGNATURE,
	    .path_len = -1,
	    .approval_required = approval,
	    .kind = KH_PKI_CERT_SIGN,
	};
	snprintf(pr.name, sizeof(pr.name), "%s", name);
	snprintf(pr.ekus, sizeof(pr.ekus), "serverAuth,clientAuth");
	snprintf(pr.crl_url, sizeof(pr.crl_url), "http://pki.example/%lld/crl", (long long)ca_id);
	snprintf(pr.ocsp_url, sizeof(pr.ocsp_url), "http://pki.example/%lld/ocsp",
	         (long long)ca_id);
	snprintf(pr.ca_issuers_url, sizeof(pr.ca_issuers_url), "http://pki.example/%lld/ca.crt",
	         (long long)ca_id);
	assert_int_equal(kh_pki_profile_create(e->pk, &e->mgr, &pr), KH_OK);
	return pr;
}

struct kh_buf kh_test_pki_csr(enum kh_pkey_type type, const char *subject, struct kh_pkey **out_key)
{
	struct kh_pkey *key = NULL;
	struct kh_buf pem;
	struct kh_pki_san san = {.type = KH_PKI_SAN_DNS};
	snprintf(san.value, sizeof(san.value), "leaf.example.com");
	kh_buf_init(&pem, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	assert_int_equal(kh_pkey_generate(type, &key), KH_OK);
	assert_int_equal(kh_pki_csr_build(key, subject, &san, 1, &pem), KH_OK);
	if (out_key != NULL)
		*out_key = key;
	else
		kh_pkey_free(&key);
	return pem;
}

struct kh_pki_request kh_test_pki_issue(struct kh_test_pki *e, int64_t ca_id, const char *profile,
                                        enum kh_pkey_type type, const char *cn)
{
	char subject[128];
	snprintf(subject, sizeof(subject), "CN=%s,O=keyhold test", cn);
	struct kh_buf csr = kh_test_pki_csr(type, subject, NULL);
	struct kh_pki_submit s = {.ca_id = ca_id, .profile = profile, .csr = kh_buf_slice(&csr)};
	struct kh_pki_request r;
	char msg[KH_PKI_MESSAGE_MAX];
	assert_int_equal(kh_pki_request_submit(e->pk, &e->user, &s, &r, msg, sizeof(msg)), KH_OK);
	if (r.status == KH_PKI_REQ_PENDING)
		assert_int_equal(kh_pki_request_approve(e->pk, &e->officer, r.id, &r), KH_OK);
	assert_int_equal(r.status, KH_PKI_REQ_ISSUED);
	kh_buf_cleanup(&csr);
	return r;
}

void kh_test_pki_ocsp_request(const struct kh_buf *ca_der, const char *const *serials, size_t n,
                              bool nonce, struct kh_ocsp_request *out)
{
	char dir[256], path[320], cmd[2048];
	kh_test_tmpdir(dir, sizeof(dir));
	struct kh_buf pem;
	kh_buf_init(&pem, 1024 * 1024, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_cert_to_pem(kh_buf_slice(ca_der), &pem), KH_OK);
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(pem.ptr, 1, pem.len, f), pem.len);
	fclose(f);
	int w = snprintf(cmd, sizeof(cmd), "openssl ocsp -issuer %s/ca.pem -reqout %s/req.der %s",
	                 dir, dir, nonce ? "-nonce" : "-no_nonce");
	for (size_t i = 0; i < n; i++)
		w += snprintf(cmd + w, sizeof(cmd) - (size_t)w, " -serial 0x%s", serials[i]);
	assert_true(w > 0 && (size_t)w < sizeof(cmd));
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/req.der", dir);
	f = fopen(path, "rb");
	assert_non_null(f);
	uint8_t buf[4096];
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(kh_pki_ocsp_request_parse(KH_SLICE(buf, len), out), KH_OK);
	kh_test_rmtree(dir);
	kh_buf_cleanup(&pem);
}
