/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The set-up the PKI tests share: the keys fixture (fake clock, real engine) with a PKI on top,
 * a key store "acme" with a manager, a second manager, an ra-officer and a user, and a second
 * key store "other" with its manager; helpers to make CAs, profiles, CSRs and certificates.
 */
#ifndef KH_TEST_PKI_H
#define KH_TEST_PKI_H

#include "kh_test_keys.h"
#include "pki/kh_pki.h"

struct kh_test_pki {
	struct kh_test_keys *t;
	struct kh_pki *pk;
	int64_t ks, ks2;
	struct kh_principal mgr, mgr2, officer, user, other, op;
	struct kh_principal rec1, rec2, rec3; /* recovery officers (quorum 2 by default) */
};

struct kh_test_pki *kh_test_pki_new(void);
void kh_test_pki_free(struct kh_test_pki **e);
int kh_test_pki_setup(void **state);
int kh_test_pki_teardown(void **state);
/* Seconds of the fake clock. */
int64_t kh_test_pki_now_s(struct kh_test_pki *e);

/* A CA made by the manager (must succeed); parent 0 for a root. */
struct kh_pki_ca kh_test_pki_ca(struct kh_test_pki *e, const char *name, enum kh_pki_ca_kind kind,
                                enum kh_key_type type, int64_t parent);
/* The CA's certificate DER (must succeed). */
struct kh_buf kh_test_pki_ca_cert(struct kh_test_pki *e, int64_t ca_id);
/* A leaf profile for every key type (must succeed): digitalSignature, serverAuth and
 * clientAuth, 365 days, CRL and OCSP URLs under http://pki.example/. */
struct kh_pki_profile kh_test_pki_profile(struct kh_test_pki *e, int64_t ca_id, const char *name,
                                          bool approval);
/* A PEM CSR for a fresh key of that type (kept in *out_key when not NULL). */
struct kh_buf kh_test_pki_csr(enum kh_pkey_type type, const char *subject,
                              struct kh_pkey **out_key);
/* Submits as the user (must succeed) and, when pending, approves as the officer; returns the
 * serial of the certificate. */
struct kh_pki_request kh_test_pki_issue(struct kh_test_pki *e, int64_t ca_id, const char *profile,
                                        enum kh_pkey_type type, const char *cn);

/* An OCSP request made by `openssl ocsp -reqout` for the serials (hex) under the CA, parsed. */
void kh_test_pki_ocsp_request(const struct kh_buf *ca_der, const char *const *serials, size_t n,
                              bool nonce, struct kh_ocsp_request *out);

#endif
