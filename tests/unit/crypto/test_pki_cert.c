/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PKI certificate toolkit: for every CA key type, a root, an intermediate issued from the
 * intermediate's CSR and a leaf issued from the leaf's CSR, verified by kh_pki_chain_verify
 * and (RSA, ECDSA, Ed25519) by the openssl command line, with the extensions read back; SM2
 * chains only verify when every certificate is checked with the GM/T ID; CSRs written by
 * `openssl req` parse, and bad, truncated, oversized or unsupported ones are refused with the
 * documented codes; the builder refuses bad serials and a signer that is not the issuer.
 */
#include "kh_test_crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "crypto/kh_pki_cert.h"

enum {
	BUF_MAX = 64 * 1024
};

static const char *const crl_urls[] = {"http://pki.example.com/crl/inter.crl"};
static const char *const ekus[] = {"serverAuth", "clientAuth"};
static const struct kh_pki_san leaf_sans[] = {
    {KH_PKI_SAN_DNS, "leaf.example.com"},
    {KH_PKI_SAN_IP, "192.0.2.1"},
    {KH_PKI_SAN_EMAIL, "ops@example.com"},
    {KH_PKI_SAN_URI, "https://example.com/leaf"},
};

struct chain {
	struct kh_pkey *root_key, *inter_key, *leaf_key;
	struct kh_buf root, inter, leaf;
};

static void write_file(const char *path, struct kh_slice s)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(s.ptr, 1, s.len, f), s.len);
	assert_int_equal(fclose(f), 0);
}

/* Runs an openssl command line; returns its exit status. */
static int openssl(const char *args)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "openssl %s >/dev/null 2>&1", args);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static struct kh_buf read_file(const char *path)
{
	struct kh_buf b;
	uint8_t chunk[4096];
	size_t n;
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	kh_buf_init(&b, BUF_MAX, KH_BUF_PLAIN);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(kh_buf_append(&b, KH_SLICE(chunk, n)), KH_OK);
	assert_int_equal(fclose(f), 0);
	return b;
}

static struct kh_pki_cert_spec base_spec(uint8_t *serial)
{
	int64_t now = (int64_t)time(NULL);
	assert_int_equal(kh_pki_serial_random(serial, 16), KH_OK);
	return (struct kh_pki_cert_spec){
	    .serial = KH_SLICE(serial, 16),
	    .not_before = now - 300,
	    .not_after = now + 30 * 86400,
	    .path_len = -1,
	};
}

/* A CSR for key made and parsed back: the parsed key is the one the certificate carries. */
static struct kh_pki_csr *csr_for(const struct kh_pkey *key, const char *subject,
                                  const struct kh_pki_san *sans, size_t san_count)
{
	struct kh_buf pem;
	struct kh_pki_csr *csr = NULL;
	kh_buf_init(&pem, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_csr_build(key, subject, sans, san_count, &pem), KH_OK);
	assert_int_equal(kh_pki_csr_parse(kh_buf_slice(&pem), &csr), KH_OK);
	assert_string_equal(csr->subject, subject);
	assert_int_equal(kh_pkey_type_of(csr->key), kh_pkey_type_of(key));
	kh_buf_cleanup(&pem);
	return csr;
}

static void build_root(struct chain *c)
{
	uint8_t serial[16];
	struct kh_pki_cert_spec s = base_spec(serial);
	s.subject = "CN=keyhold test root,O=keyhold,C=CN";
	s.subject_key = c->root_key;
	s.is_ca = true;
	s.key_usage = KH_PKI_KU_KEY_CERT_SIGN | KH_PKI_KU_CRL_SIGN;
	assert_int_equal(kh_pki_cert_build(&s, c->root_key, &c->root), KH_OK);
}

/* The intermediate from its CSR, signed by the root with sm2_id (empty = default). */
static void build_inter(struct chain *c, struct kh_slice sm2_id)
{
	uint8_t serial[16];
	struct kh_pki_cert_spec s = base_spec(serial);
	struct kh_pki_csr *csr =
	    csr_for(c->inter_key, "CN=keyhold test issuing CA,O=keyhold", NULL, 0);
	s.subject_der = KH_SLICE(csr->subject_der, csr->subject_der_len);
	s.subject_key = csr->key;
	s.issuer_cert_der = kh_buf_slice(&c->root);
	s.is_ca = true;
	s.path_len = 0;
	s.key_usage = KH_PKI_KU_KEY_CERT_SIGN | KH_PKI_KU_CRL_SIGN | KH_PKI_KU_DIGITAL_SIGNATURE;
	s.ocsp_url = "http://pki.example.com/ocsp";
	s.ca_issuers_url = "http://pki.example.com/root.cer";
	s.sm2_id = sm2_id;
	assert_int_equal(kh_pki_cert_build(&s, c->root_key, &c->inter), KH_OK);
	kh_pki_csr_free(&csr);
}

static void build_leaf(struct chain *c)
{
	uint8_t serial[16];
	struct kh_pki_cert_spec s = base_spec(serial);
	struct kh_pki_csr *csr = csr_for(c->leaf_key, "CN=leaf.example.com", leaf_sans,
	                                 sizeof(leaf_sans) / sizeof(leaf_sans[0]));
	assert_int_equal(csr->san_count, 4);
	assert_int_equal(csr->ext_count, 1);
	assert_string_equal(csr->ext_oids[0], "2.5.29.17");
	s.subject = csr->subject;
	s.subject_key = csr->key;
	s.issuer_cert_der = kh_buf_slice(&c->inter);
	s.key_usage = KH_PKI_KU_DIGITAL_SIGNATURE;
	s.ekus = ekus;
	s.eku_count = 2;
	s.sans = csr->sans;
	s.san_count = csr->san_count;
	s.crl_urls = crl_urls;
	s.crl_url_count = 1;
	s.ocsp_url = "http://pki.example.com/ocsp";
	s.ca_issuers_url = "http://pki.example.com/inter.cer";
	assert_int_equal(kh_pki_cert_build(&s, c->inter_key, &c->leaf), KH_OK);
	kh_pki_csr_free(&csr);
}

static void chain_make(struct chain *c, enum kh_pkey_type ca_type, enum kh_pkey_type leaf_type,
                       struct kh_slice inter_sm2_id)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(kh_pkey_generate(ca_type, &c->root_key), KH_OK);
	assert_int_equal(kh_pkey_generate(ca_type, &c->inter_key), KH_OK);
	assert_int_equal(kh_pkey_generate(leaf_type, &c->leaf_key), KH_OK);
	kh_buf_init(&c->root, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&c->inter, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&c->leaf, BUF_MAX, KH_BUF_PLAIN);
	build_root(c);
	build_inter(c, inter_sm2_id);
	build_leaf(c);
}

static void chain_free(struct chain *c)
{
	kh_pkey_free(&c->root_key);
	kh_pkey_free(&c->inter_key);
	kh_pkey_free(&c->leaf_key);
	kh_buf_cleanup(&c->root);
	kh_buf_cleanup(&c->inter);
	kh_buf_cleanup(&c->leaf);
}

static kh_rc verify_at(const struct chain *c, int64_t at, char *reason, size_t reason_len)
{
	struct kh_slice inter = kh_buf_slice(&c->inter), root = kh_buf_slice(&c->root);
	return kh_pki_chain_verify(kh_buf_slice(&c->leaf), &inter, 1, &root, 1, at, reason,
	                           reason_len);
}

static void verified_by_us(const struct chain *c)
{
	char reason[128] = "";
	struct kh_slice root = kh_buf_slice(&c->root);
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(verify_at(c, now, reason, sizeof(reason)), KH_OK);
	/* The checks can fail: after expiry, and without the intermediate. */
	assert_int_equal(verify_at(c, now + 60 * 86400, reason, sizeof(reason)),
	                 KH_ERR_BAD_SIGNATURE);
	assert_string_equal(reason, "certificate has expired");
	assert_int_equal(
	    kh_pki_chain_verify(kh_buf_slice(&c->leaf), NULL, 0, &root, 1, now, NULL, 0),
	    KH_ERR_BAD_SIGNATURE);
}

static void pem_file(const char *path, const struct kh_buf *der)
{
	struct kh_buf pem, back;
	kh_buf_init(&pem, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&back, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_cert_to_pem(kh_buf_slice(der), &pem), KH_OK);
	assert_int_equal(kh_pki_cert_from_pem(kh_buf_slice(&pem), &back), KH_OK);
	assert_true(kh_slice_eq(kh_buf_slice(&back), kh_buf_slice(der)));
	write_file(path, kh_buf_slice(&pem));
	kh_buf_cleanup(&pem);
	kh_buf_cleanup(&back);
}

/* `openssl verify` (RFC 5280 path validation by an independent caller), and the extensions as
 * `openssl x509 -text` prints them. */
static void verified_by_openssl(const struct chain *c)
{
	char dir[256], root[300], inter[300], leaf[300], args[2400];
	kh_test_tmpdir(dir, sizeof(dir));
	snprintf(root, sizeof(root), "%s/root.pem", dir);
	snprintf(inter, sizeof(inter), "%s/inter.pem", dir);
	snprintf(leaf, sizeof(leaf), "%s/leaf.pem", dir);
	pem_file(root, &c->root);
	pem_file(inter, &c->inter);
	pem_file(leaf, &c->leaf);
	snprintf(args, sizeof(args),
	         "verify -x509_strict -purpose sslserver -verify_hostname leaf.example.com "
	         "-CAfile %s -untrusted %s %s",
	         root, inter, leaf);
	assert_int_equal(openssl(args), 0);
	snprintf(args, sizeof(args), "verify -CAfile %s %s", root, leaf);
	assert_int_not_equal(openssl(args), 0); /* no path without the intermediate */
	snprintf(
	    args, sizeof(args),
	    "x509 -in %s -noout -text | grep -q 'CA:TRUE, pathlen:0' && "
	    "openssl x509 -in %s -noout -text | grep -q 'OCSP - URI:http://pki.example.com/ocsp' "
	    "&& openssl x509 -in %s -noout -text | grep -q "
	    "'URI:http://pki.example.com/crl/inter.crl' && openssl x509 -in %s -noout -ext "
	    "subjectAltName | grep -q 'DNS:leaf.example.com, IP Address:192.0.2.1'",
	    inter, leaf, leaf, leaf);
	assert_int_equal(openssl(args), 0);
	kh_test_rmtree(dir);
}

/* The fields read back are the ones the spec asked for. */
static void fields_read_back(const struct chain *c)
{
	struct kh_pki_cert_info *root = NULL, *inter = NULL, *leaf = NULL;
	assert_int_equal(kh_pki_cert_info_read(kh_buf_slice(&c->root), &root), KH_OK);
	assert_int_equal(kh_pki_cert_info_read(kh_buf_slice(&c->inter), &inter), KH_OK);
	assert_int_equal(kh_pki_cert_info_read(kh_buf_slice(&c->leaf), &leaf), KH_OK);
	assert_string_equal(root->subject, "CN=keyhold test root,O=keyhold,C=CN");
	assert_string_equal(root->issuer, root->subject);
	assert_true(root->is_ca);
	assert_int_equal(root->path_len, -1);
	assert_string_equal(inter->issuer, root->subject);
	assert_true(inter->is_ca);
	assert_int_equal(inter->path_len, 0);
	assert_int_equal(inter->key_usage, KH_PKI_KU_KEY_CERT_SIGN | KH_PKI_KU_CRL_SIGN |
	                                       KH_PKI_KU_DIGITAL_SIGNATURE);
	assert_int_equal(inter->key_type, kh_pkey_type_of(c->inter_key));
	assert_int_equal(inter->ski_len, 20);
	assert_memory_equal(inter->aki, root->ski, 20);
	assert_memory_equal(leaf->aki, inter->ski, 20);
	assert_memory_equal(root->aki, root->ski, 20);
	assert_false(leaf->is_ca);
	assert_int_equal(leaf->key_usage, KH_PKI_KU_DIGITAL_SIGNATURE);
	assert_int_equal(leaf->eku_count, 2);
	assert_string_equal(leaf->ekus[0], "1.3.6.1.5.5.7.3.1");
	assert_string_equal(leaf->ekus[1], "1.3.6.1.5.5.7.3.2");
	assert_int_equal(leaf->san_count, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(leaf->sans[i].type, leaf_sans[i].type);
		assert_string_equal(leaf->sans[i].value, leaf_sans[i].value);
	}
	assert_int_equal(leaf->crl_url_count, 1);
	assert_string_equal(leaf->crl_urls[0], crl_urls[0]);
	assert_string_equal(leaf->ocsp_url, "http://pki.example.com/ocsp");
	assert_string_equal(leaf->ca_issuers_url, "http://pki.example.com/inter.cer");
	assert_int_equal(strlen(leaf->serial_hex), 32);
	assert_true(leaf->not_after - leaf->not_before == 30 * 86400 + 300);
	kh_pki_cert_info_free(&root);
	kh_pki_cert_info_free(&inter);
	kh_pki_cert_info_free(&leaf);
	assert_null(leaf);
}

static void full_chain(enum kh_pkey_type ca_type, enum kh_pkey_type leaf_type, const char *sig_oid)
{
	struct chain c;
	struct kh_pki_cert_info *info = NULL;
	chain_make(&c, ca_type, leaf_type, KH_SLICE_EMPTY);
	verified_by_us(&c);
	fields_read_back(&c);
	assert_int_equal(kh_pki_cert_info_read(kh_buf_slice(&c.leaf), &info), KH_OK);
	assert_string_equal(info->sig_alg_oid, sig_oid);
	kh_pki_cert_info_free(&info);
	if (ca_type != KH_PKEY_SM2)
		verified_by_openssl(&c);
	chain_free(&c);
}

static void rsa_chain_verifies(void **state)
{
	(void)state;
	full_chain(KH_PKEY_RSA_2048, KH_PKEY_RSA_2048, "1.2.840.113549.1.1.11");
}

static void p256_chain_verifies(void **state)
{
	(void)state;
	full_chain(KH_PKEY_EC_P256, KH_PKEY_EC_P256, "1.2.840.10045.4.3.2");
}

static void p384_chain_verifies(void **state)
{
	(void)state;
	full_chain(KH_PKEY_EC_P384, KH_PKEY_EC_P256, "1.2.840.10045.4.3.3");
}

static void ed25519_chain_verifies(void **state)
{
	(void)state;
	full_chain(KH_PKEY_ED25519, KH_PKEY_ED25519, "1.3.101.112");
}

static void sm2_chain_verifies_with_the_gmt_id(void **state)
{
	(void)state;
	full_chain(KH_PKEY_SM2, KH_PKEY_SM2, "1.2.156.10197.1.501");
}

/* An intermediate signed under another ID fails, though the leaf below it is signed right:
 * the verifier checks the intermediate's signature with the default ID, not just the leaf's. */
static void sm2_chain_with_another_id_on_the_intermediate_is_refused(void **state)
{
	struct chain c;
	char reason[128] = "";
	(void)state;
	chain_make(&c, KH_PKEY_SM2, KH_PKEY_SM2, KH_SLICE_LIT("ALICE123@YAHOO.COM"));
	assert_int_equal(verify_at(&c, (int64_t)time(NULL), reason, sizeof(reason)),
	                 KH_ERR_BAD_SIGNATURE);
	assert_string_equal(reason, "certificate signature failure");
	chain_free(&c);
}

/* The same with an empty ID (what OpenSSL 3.0 signs with by default): `openssl x509 -req`
 * signs the intermediate's CSR with the root key and no ID. */
static void sm2_intermediate_signed_with_an_empty_id_is_refused(void **state)
{
	struct chain c;
	struct kh_buf key, csr_pem, inter_pem;
	char dir[256], path[5][300], args[3000];
	(void)state;
	chain_make(&c, KH_PKEY_SM2, KH_PKEY_SM2, KH_SLICE_EMPTY);
	kh_test_tmpdir(dir, sizeof(dir));
	const char *names[] = {"root.key", "root.pem", "inter.csr", "inter.pem", "ext.cnf"};
	for (size_t i = 0; i < 5; i++)
		snprintf(path[i], sizeof(path[i]), "%s/%s", dir, names[i]);
	kh_buf_init(&key, BUF_MAX, KH_BUF_SECURE);
	kh_buf_init(&csr_pem, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&inter_pem, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pkey_export_private_pem(c.root_key, &key), KH_OK);
	write_file(path[0], kh_buf_slice(&key));
	pem_file(path[1], &c.root);
	assert_int_equal(kh_pki_csr_build(c.inter_key, "CN=empty id CA", NULL, 0, &csr_pem), KH_OK);
	write_file(path[2], kh_buf_slice(&csr_pem));
	write_file(path[4], KH_SLICE_LIT("basicConstraints=critical,CA:TRUE\n"
	                                 "keyUsage=critical,keyCertSign,cRLSign\n"
	                                 "subjectKeyIdentifier=hash\n"
	                                 "authorityKeyIdentifier=keyid\n"));
	snprintf(args, sizeof(args),
	         "x509 -req -in %s -vfyopt distid:1234567812345678 -CA %s -CAkey %s -sm3 "
	         "-set_serial 0x1234567890abcdef -days 10 -extfile %s -out %s",
	         path[2], path[1], path[0], path[4], path[3]);
	assert_int_equal(openssl(args), 0);
	struct kh_buf pem_file_buf = read_file(path[3]);
	kh_buf_clear(&c.inter);
	assert_int_equal(kh_pki_cert_from_pem(kh_buf_slice(&pem_file_buf), &c.inter), KH_OK);
	kh_buf_cleanup(&pem_file_buf);
	/* A leaf under it, signed correctly with the default ID. */
	kh_buf_clear(&c.leaf);
	build_leaf(&c);
	assert_int_equal(verify_at(&c, (int64_t)time(NULL), NULL, 0), KH_ERR_BAD_SIGNATURE);
	kh_test_rmtree(dir);
	kh_buf_cleanup(&key);
	kh_buf_cleanup(&csr_pem);
	kh_buf_cleanup(&inter_pem);
	chain_free(&c);
}

static kh_rc parse_data(const char *name, struct kh_pki_csr **out)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "pki/%s", name);
	struct kh_buf b = kh_test_read_data(rel);
	kh_rc rc = kh_pki_csr_parse(kh_buf_slice(&b), out);
	kh_buf_cleanup(&b);
	return rc;
}

/* CSRs written by `openssl req` (tests/data/pki/gen_pki_csrs.sh). */
static void csrs_from_openssl_req_parse(void **state)
{
	static const struct {
		const char *file;
		enum kh_pkey_type type;
		enum kh_sig_alg alg;
		size_t sans;
	} cases[] = {
	    {"rsa2048.csr.pem", KH_PKEY_RSA_2048, KH_SIG_RSA_PKCS1_SHA256, 5},
	    {"rsa2048.csr.der", KH_PKEY_RSA_2048, KH_SIG_RSA_PKCS1_SHA256, 5},
	    {"p256.csr.pem", KH_PKEY_EC_P256, KH_SIG_ECDSA_SHA256, 5},
	    {"p384.csr.pem", KH_PKEY_EC_P384, KH_SIG_ECDSA_SHA384, 0},
	    {"ed25519.csr.pem", KH_PKEY_ED25519, KH_SIG_ED25519, 5},
	    {"sm2.csr.pem", KH_PKEY_SM2, KH_SIG_SM2_SM3, 5},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kh_pki_csr *csr = NULL;
		assert_int_equal(parse_data(cases[i].file, &csr), KH_OK);
		assert_int_equal(kh_pkey_type_of(csr->key), cases[i].type);
		assert_int_equal(csr->sig_alg, cases[i].alg);
		assert_string_equal(csr->subject, "CN=req.example.com,O=keyhold test,C=CN");
		assert_int_equal(csr->san_count, cases[i].sans);
		if (cases[i].sans > 0) {
			assert_int_equal(csr->sans[0].type, KH_PKI_SAN_DNS);
			assert_string_equal(csr->sans[0].value, "req.example.com");
			assert_int_equal(csr->sans[2].type, KH_PKI_SAN_IP);
			assert_string_equal(csr->sans[2].value, "192.0.2.7");
			assert_int_equal(csr->sans[3].type, KH_PKI_SAN_EMAIL);
			assert_int_equal(csr->sans[4].type, KH_PKI_SAN_URI);
			assert_string_equal(csr->sans[4].value, "https://example.com/id");
			assert_string_equal(csr->ext_oids[0], "2.5.29.17");
		}
		kh_pki_csr_free(&csr);
		assert_null(csr);
	}
}

static void an_sm2_csr_signed_with_an_empty_id_fails_proof_of_possession(void **state)
{
	struct kh_pki_csr *csr = NULL;
	(void)state;
	assert_int_equal(parse_data("sm2_empty_id.csr.pem", &csr), KH_ERR_BAD_SIGNATURE);
	assert_null(csr);
}

static void csr_keys_we_do_not_support_are_the_wrong_key_type(void **state)
{
	struct kh_pki_csr *csr = NULL;
	(void)state;
	assert_int_equal(parse_data("p521.csr.pem", &csr), KH_ERR_WRONG_KEY_TYPE);
	assert_int_equal(parse_data("rsa1024.csr.pem", &csr), KH_ERR_WRONG_KEY_TYPE);
	assert_null(csr);
}

static void a_csr_with_a_bad_self_signature_is_refused(void **state)
{
	struct kh_buf b = kh_test_read_data("pki/rsa2048.csr.der");
	struct kh_pki_csr *csr = NULL;
	(void)state;
	b.ptr[b.len - 1] ^= 0x01; /* the last byte of the signature */
	assert_int_equal(kh_pki_csr_parse(kh_buf_slice(&b), &csr), KH_ERR_BAD_SIGNATURE);
	b.ptr[b.len - 1] ^= 0x01;
	/* A changed subject byte ("req" -> "rer"): same length, signature no longer covers it. */
	uint8_t *cn = memmem(b.ptr, b.len, "req.example.com", 15);
	assert_non_null(cn);
	cn[2] = 'r';
	assert_int_equal(kh_pki_csr_parse(kh_buf_slice(&b), &csr), KH_ERR_BAD_SIGNATURE);
	assert_null(csr);
	kh_buf_cleanup(&b);
}

static void truncated_garbage_or_trailing_csrs_are_bad_input(void **state)
{
	struct kh_buf der = kh_test_read_data("pki/rsa2048.csr.der");
	struct kh_buf pem = kh_test_read_data("pki/p256.csr.pem");
	struct kh_buf big;
	struct kh_pki_csr *csr = NULL;
	(void)state;
	for (size_t n = 0; n < der.len; n++)
		assert_int_equal(kh_pki_csr_parse(KH_SLICE(der.ptr, n), &csr), KH_ERR_BAD_INPUT);
	for (size_t n = 0; n < pem.len - 40; n += 7)
		assert_int_equal(kh_pki_csr_parse(KH_SLICE(pem.ptr, n), &csr), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_buf_append_byte(&der, 0), KH_OK);
	assert_int_equal(kh_pki_csr_parse(kh_buf_slice(&der), &csr), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_buf_append_cstr(&pem, "junk\n"), KH_OK);
	assert_int_equal(kh_pki_csr_parse(kh_buf_slice(&pem), &csr), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_pki_csr_parse(KH_SLICE_LIT("-----BEGIN CERTIFICATE-----\nAAAA\n"
	                                               "-----END CERTIFICATE-----\n"),
	                                  &csr),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_pki_csr_parse(KH_SLICE_LIT("\x30\x03\x02\x01\x00"), &csr),
	                 KH_ERR_BAD_INPUT);
	kh_buf_init(&big, 128 * 1024, KH_BUF_PLAIN);
	for (size_t i = 0; i < 64 * 1024 + 1; i++)
		assert_int_equal(kh_buf_append_byte(&big, 0x30), KH_OK);
	assert_int_equal(kh_pki_csr_parse(kh_buf_slice(&big), &csr), KH_ERR_TOO_LARGE);
	assert_null(csr);
	kh_buf_cleanup(&big);
	kh_buf_cleanup(&der);
	kh_buf_cleanup(&pem);
}

static void a_signer_that_is_not_the_issuer_is_refused(void **state)
{
	struct chain c;
	struct kh_pkey *other = NULL;
	struct kh_buf out;
	uint8_t serial[16];
	struct kh_pki_cert_spec s = base_spec(serial);
	(void)state;
	chain_make(&c, KH_PKEY_EC_P256, KH_PKEY_EC_P256, KH_SLICE_EMPTY);
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &other), KH_OK);
	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	s.subject = "CN=x";
	s.subject_key = c.leaf_key;
	s.issuer_cert_der = kh_buf_slice(&c.inter);
	assert_int_equal(kh_pki_cert_build(&s, other, &out), KH_ERR_BAD_KEY);
	assert_int_equal(kh_pki_cert_build(&s, c.root_key, &out), KH_ERR_BAD_KEY);
	/* Self-signed: the subject key must be the signer. */
	s.issuer_cert_der = KH_SLICE_EMPTY;
	assert_int_equal(kh_pki_cert_build(&s, other, &out), KH_ERR_BAD_KEY);
	assert_int_equal(out.len, 0);
	kh_pkey_free(&other);
	kh_buf_cleanup(&out);
	chain_free(&c);
}

static void serials_are_positive_and_8_to_20_bytes(void **state)
{
	struct kh_pkey *key = NULL;
	struct kh_buf out;
	uint8_t serial[21];
	struct kh_pki_cert_spec s = base_spec(serial);
	struct kh_pki_cert_info *info = NULL;
	(void)state;
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &key), KH_OK);
	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	s.subject = "CN=serials";
	s.subject_key = key;
	memset(serial, 0x11, sizeof(serial));
	for (size_t len = 0; len <= 21; len++) {
		s.serial = KH_SLICE(serial, len);
		kh_buf_clear(&out);
		assert_int_equal(kh_pki_cert_build(&s, key, &out),
		                 len >= 8 && len <= 20 ? KH_OK : KH_ERR_BAD_INPUT);
	}
	s.serial = KH_SLICE(serial, 8);
	serial[0] = 0x80; /* negative */
	assert_int_equal(kh_pki_cert_build(&s, key, &out), KH_ERR_BAD_INPUT);
	serial[0] = 0x00; /* not minimal, and zero when all zero */
	assert_int_equal(kh_pki_cert_build(&s, key, &out), KH_ERR_BAD_INPUT);
	serial[0] = 0x7f;
	kh_buf_clear(&out);
	assert_int_equal(kh_pki_cert_build(&s, key, &out), KH_OK);
	assert_int_equal(kh_pki_cert_info_read(kh_buf_slice(&out), &info), KH_OK);
	assert_string_equal(info->serial_hex, "7F11111111111111");
	kh_pki_cert_info_free(&info);
	assert_int_equal(kh_pki_serial_random(serial, 7), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_pki_serial_random(serial, 21), KH_ERR_BAD_INPUT);
	kh_pkey_free(&key);
	kh_buf_cleanup(&out);
}

static void rfc4514_names_round_trip_and_bad_ones_are_refused(void **state)
{
	static const char *const good[] = {
	    "UID=x+CN=a\\,b,O=Ex\\+ample,C=CN", /* DER orders the SET */
	    "CN=\\#hash\\ ,O=\xe4\xb8\xad\xe6\x96\x87",
	    "2.5.4.3=dotted,DC=example,DC=com",
	};
	static const char *const bad[] = {
	    "CN=a, O=b",    "XX=y", "CN=", "CN=a,", "CN=#0403",    "CN=a;b",
	    "CN=trailing ", "=x",   "CN",  "C=CHN", "CN=\xff\xfe",
	};
	struct kh_pkey *key = NULL;
	struct kh_buf out;
	uint8_t serial[16];
	struct kh_pki_cert_spec s = base_spec(serial);
	struct kh_pki_cert_info *info = NULL;
	(void)state;
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &key), KH_OK);
	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	s.subject_key = key;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		s.subject = good[i];
		kh_buf_clear(&out);
		assert_int_equal(kh_pki_cert_build(&s, key, &out), KH_OK);
		assert_int_equal(kh_pki_cert_info_read(kh_buf_slice(&out), &info), KH_OK);
		if (i < 2)
			assert_string_equal(info->subject, good[i]);
		else
			assert_string_equal(info->subject, "CN=dotted,DC=example,DC=com");
		kh_pki_cert_info_free(&info);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.subject = bad[i];
		assert_int_equal(kh_pki_cert_build(&s, key, &out), KH_ERR_BAD_INPUT);
	}
	/* An empty subject needs SANs (RFC 5280 4.1.2.6). */
	s.subject = "";
	assert_int_equal(kh_pki_cert_build(&s, key, &out), KH_ERR_BAD_INPUT);
	kh_pkey_free(&key);
	kh_buf_cleanup(&out);
}

struct round_arg {
	struct kh_slice csr;
	const struct kh_pkey *ca_key;
};

/* CSR parse, self-signed certificate from it, read-back: every path cleans up. */
static kh_rc csr_to_cert_once(void *p)
{
	const struct round_arg *a = p;
	struct kh_pki_csr *csr = NULL;
	struct kh_pki_cert_info *info = NULL;
	struct kh_buf der;
	uint8_t serial[8] = {0x01, 2, 3, 4, 5, 6, 7, 8};
	kh_rc rc;

	kh_buf_init(&der, BUF_MAX, KH_BUF_PLAIN);
	rc = kh_pki_csr_parse(a->csr, &csr);
	if (rc == KH_OK) {
		struct kh_pki_cert_spec s = {
		    .serial = KH_SLICE(serial, sizeof(serial)),
		    .subject = "CN=alloc",
		    .subject_key = a->ca_key,
		    .not_before = 1,
		    .not_after = 2,
		    .path_len = -1,
		    .sans = csr->sans,
		    .san_count = csr->san_count,
		};
		rc = kh_pki_cert_build(&s, a->ca_key, &der);
	}
	if (rc == KH_OK)
		rc = kh_pki_cert_info_read(kh_buf_slice(&der), &info);
	kh_pki_cert_info_free(&info);
	kh_pki_csr_free(&csr);
	kh_buf_cleanup(&der);
	return rc;
}

static void csr_parse_and_build_survive_allocation_failures(void **state)
{
	struct kh_buf pem = kh_test_read_data("pki/p256.csr.pem");
	struct kh_pkey *key = NULL;
	(void)state;
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &key), KH_OK);
	struct round_arg a = {kh_buf_slice(&pem), key};
	kh_test_alloc_failures(csr_to_cert_once, &a);
	kh_pkey_free(&key);
	kh_buf_cleanup(&pem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rsa_chain_verifies),
	    cmocka_unit_test(p256_chain_verifies),
	    cmocka_unit_test(p384_chain_verifies),
	    cmocka_unit_test(ed25519_chain_verifies),
	    cmocka_unit_test(sm2_chain_verifies_with_the_gmt_id),
	    cmocka_unit_test(sm2_chain_with_another_id_on_the_intermediate_is_refused),
	    cmocka_unit_test(sm2_intermediate_signed_with_an_empty_id_is_refused),
	    cmocka_unit_test(csrs_from_openssl_req_parse),
	    cmocka_unit_test(an_sm2_csr_signed_with_an_empty_id_fails_proof_of_possession),
	    cmocka_unit_test(csr_keys_we_do_not_support_are_the_wrong_key_type),
	    cmocka_unit_test(a_csr_with_a_bad_self_signature_is_refused),
	    cmocka_unit_test(truncated_garbage_or_trailing_csrs_are_bad_input),
	    cmocka_unit_test(a_signer_that_is_not_the_issuer_is_refused),
	    cmocka_unit_test(serials_are_positive_and_8_to_20_bytes),
	    cmocka_unit_test(rfc4514_names_round_trip_and_bad_ones_are_refused),
	    cmocka_unit_test(csr_parse_and_build_survive_allocation_failures),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
