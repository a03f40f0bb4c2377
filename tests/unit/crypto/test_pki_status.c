/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate status: CRLs and OCSP responses from RSA and ECDSA CAs checked by an independent
 * verifier (the openssl command line: crl, verify -crl_check, ocsp), OCSP requests made by
 * openssl ocsp parsed and matched, a delegated responder, SM2 CRLs and responses checked by our
 * own verifier and shown to fail with an empty ID or a changed byte, garbage refused.
 */
#include "kh_test_crypto.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "base/kh_codec.h"
#include "base/kh_mem.h"
#include "crypto/kh_pki_status.h"

extern char **environ;

enum {
	BUF_MAX = 16 * 1024 * 1024,
	DAY = 86400,
};

/* Now, whole seconds: openssl checks CRL and response times against its clock. */
static int64_t NOW;

struct ca {
	char dir[256];
	struct kh_pkey *key;
	struct kh_buf pem, der;
};

static const char *at(const struct ca *c, const char *name, char *out, size_t out_len)
{
	assert_true((size_t)snprintf(out, out_len, "%s/%s", c->dir, name) < out_len);
	return out;
}

static void write_file(const char *path, struct kh_slice s)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(s.ptr, 1, s.len, f), s.len);
	assert_int_equal(fclose(f), 0);
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

/* Runs openssl with a fixed argv, its output (both streams) into <dir>/out.txt; exit status. */
static int run(const struct ca *c, const char *const *argv)
{
	char out[512];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = 0;
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1,
	                                                  at(c, "out.txt", out, sizeof(out)),
	                                                  O_WRONLY | O_CREAT | O_TRUNC, 0600),
	                 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, 1, 2), 0);
	assert_int_equal(
	    posix_spawnp(&pid, "openssl", &fa, NULL, (char *const *)(uintptr_t)argv, environ), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	posix_spawn_file_actions_destroy(&fa);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool output_has(const struct ca *c, const char *text, bool report)
{
	char out[512];
	if (kh_test_file_contains(at(c, "out.txt", out, sizeof(out)), kh_slice_from_cstr(text)))
		return true;
	if (!report)
		return false;
	struct kh_buf b = read_file(out);
	print_message("missing \"%s\" in:\n%s\n", text, kh_buf_cstr(&b));
	kh_buf_cleanup(&b);
	return false;
}

#define assert_output(c, text) assert_true(output_has(c, text, true))

/* PEM file -> DER bytes through openssl. */
static struct kh_buf pem_to_der(const struct ca *c, const char *pem_path, const char *kind)
{
	char der[512];
	at(c, "conv.der", der, sizeof(der));
	const char *argv[] = {"openssl", kind,   "-in", pem_path, "-outform",
	                      "DER",     "-out", der,   NULL};
	assert_int_equal(run(c, argv), 0);
	return read_file(der);
}

static void key_file(const struct kh_pkey *key, const char *path)
{
	struct kh_buf pem;
	kh_buf_init(&pem, 65536, KH_BUF_SECURE);
	assert_int_equal(kh_pkey_export_private_pem(key, &pem), KH_OK);
	write_file(path, kh_buf_slice(&pem));
	kh_buf_cleanup(&pem);
}

/* A CA in a fresh directory: ca.pem, cakey.pem, and its DER in c->der. SM2 CAs are made by
 * openssl req (the X.509 helper signs with SHA-256 only). */
static void ca_new(struct ca *c, enum kh_pkey_type type)
{
	char ca[512], cakey[512];
	kh_test_tmpdir(c->dir, sizeof(c->dir));
	assert_int_equal(kh_pkey_generate(type, &c->key), KH_OK);
	kh_buf_init(&c->pem, 65536, KH_BUF_PLAIN);
	at(c, "ca.pem", ca, sizeof(ca));
	at(c, "cakey.pem", cakey, sizeof(cakey));
	key_file(c->key, cakey);
	if (type == KH_PKEY_SM2) {
		const char *argv[] = {"openssl",
		                      "req",
		                      "-x509",
		                      "-new",
		                      "-key",
		                      cakey,
		                      "-subj",
		                      "/CN=keyhold SM2 test CA",
		                      "-sm3",
		                      "-sigopt",
		                      "distid:1234567812345678",
		                      "-days",
		                      "30",
		                      "-out",
		                      ca,
		                      NULL};
		assert_int_equal(run(c, argv), 0);
		kh_buf_cleanup(&c->pem);
		c->pem = read_file(ca);
	} else {
		assert_int_equal(
		    kh_x509_self_signed_ca(c->key, "keyhold status test CA", 30, &c->pem), KH_OK);
		write_file(ca, kh_buf_slice(&c->pem));
	}
	c->der = pem_to_der(c, ca, "x509");
}

static void ca_free(struct ca *c)
{
	kh_test_rmtree(c->dir);
	kh_pkey_free(&c->key);
	kh_buf_cleanup(&c->pem);
	kh_buf_cleanup(&c->der);
}

/* A leaf certificate issued by c in <dir>/<name>; its serial's bytes in serial. */
static void leaf_new(const struct ca *c, const char *name, struct kh_buf *serial)
{
	static const char *const dns[] = {"leaf.example", NULL};
	struct kh_pkey *key = NULL;
	struct kh_buf pem, text, hex;
	char path[512], out[512];
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &key), KH_OK);
	kh_buf_init(&pem, 65536, KH_BUF_PLAIN);
	assert_int_equal(
	    kh_x509_issue_server(c->key, kh_buf_slice(&c->pem), key, name, dns, NULL, 7, &pem),
	    KH_OK);
	write_file(at(c, name, path, sizeof(path)), kh_buf_slice(&pem));
	const char *argv[] = {"openssl", "x509", "-in", path, "-noout", "-serial", NULL};
	assert_int_equal(run(c, argv), 0);
	text = read_file(at(c, "out.txt", out, sizeof(out)));
	/* "serial=0123ABCD\n" */
	assert_true(text.len > 8 && memcmp(text.ptr, "serial=", 7) == 0);
	kh_buf_init(&hex, 64, KH_BUF_PLAIN);
	kh_buf_init(serial, 64, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&hex, KH_SLICE(text.ptr + 7, text.len - 8)), KH_OK);
	assert_int_equal(kh_hex_decode(kh_buf_slice(&hex), serial), KH_OK);
	kh_buf_cleanup(&hex);
	kh_buf_cleanup(&text);
	kh_buf_cleanup(&pem);
	kh_pkey_free(&key);
}

static struct kh_pki_crl_params crl_params(const struct ca *c,
                                           const struct kh_pki_crl_entry *entries, size_t count)
{
	return (struct kh_pki_crl_params){
	    .ca_cert = kh_buf_slice(&c->der),
	    .crl_number = 7,
	    .this_update = NOW - DAY,
	    .next_update = NOW + 7 * DAY,
	    .entries = entries,
	    .entry_count = count,
	};
}

/* Writes der as crl.der and crl.pem. */
static void crl_files(const struct ca *c, struct kh_slice der)
{
	char path[512];
	struct kh_buf pem;
	kh_buf_init(&pem, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_der_to_pem(der, "X509 CRL", &pem), KH_OK);
	write_file(at(c, "crl.der", path, sizeof(path)), der);
	write_file(at(c, "crl.pem", path, sizeof(path)), kh_buf_slice(&pem));
	kh_buf_cleanup(&pem);
}

static void crl_checked_by_openssl(enum kh_pkey_type type)
{
	static const uint8_t other[] = {0x01, 0x02, 0x03};
	struct ca c = {0};
	struct kh_buf revoked, good, crl;
	struct kh_pki_crl_info info;
	char ca[512], crl_der[512], crl_pem[512], leaf[512];

	ca_new(&c, type);
	leaf_new(&c, "revoked.pem", &revoked);
	leaf_new(&c, "good.pem", &good);
	const struct kh_pki_crl_entry entries[] = {
	    {.serial = KH_SLICE(other, sizeof(other)), .revoked_at = NOW - 3 * DAY},
	    {.serial = kh_buf_slice(&revoked),
	     .revoked_at = NOW - 2 * DAY,
	     .reason = KH_CRL_REASON_KEY_COMPROMISE,
	     .invalidity_date = NOW - 4 * DAY},
	};
	struct kh_pki_crl_params p = crl_params(&c, entries, 2);
	kh_buf_init(&crl, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_crl_build(c.key, &p, &crl), KH_OK);
	crl_files(&c, kh_buf_slice(&crl));
	at(&c, "ca.pem", ca, sizeof(ca));
	at(&c, "crl.der", crl_der, sizeof(crl_der));
	at(&c, "crl.pem", crl_pem, sizeof(crl_pem));

	const char *crl_argv[] = {"openssl", "crl",     "-in", crl_der,  "-inform",
	                          "DER",     "-CAfile", ca,    "-noout", NULL};
	assert_int_equal(run(&c, crl_argv), 0);
	assert_output(&c, "verify OK");

	const char *verify_argv[] = {"openssl", "verify", "-crl_check", "-CRLfile", crl_pem,
	                             "-CAfile", ca,       leaf,         NULL};
	at(&c, "revoked.pem", leaf, sizeof(leaf));
	assert_int_not_equal(run(&c, verify_argv), 0);
	assert_output(&c, "certificate revoked");
	at(&c, "good.pem", leaf, sizeof(leaf));
	assert_int_equal(run(&c, verify_argv), 0);
	assert_output(&c, ": OK");

	/* Our own verifier agrees, and the CRL reads back. */
	assert_int_equal(kh_pki_crl_verify(kh_buf_slice(&crl), kh_buf_slice(&c.der)), KH_OK);
	assert_int_equal(kh_pki_crl_parse(kh_buf_slice(&crl), &info), KH_OK);
	assert_true(info.has_number && info.crl_number == 7 && !info.delta);
	assert_int_equal(info.this_update, NOW - DAY);
	assert_int_equal(info.next_update, NOW + 7 * DAY);
	assert_int_equal(info.entry_count, 2);
	assert_false(info.entries[0].has_reason);
	assert_memory_equal(info.entries[0].serial, other, sizeof(other));
	assert_true(info.entries[1].has_reason);
	assert_int_equal(info.entries[1].reason, KH_CRL_REASON_KEY_COMPROMISE);
	assert_int_equal(info.entries[1].revoked_at, NOW - 2 * DAY);
	assert_int_equal(info.entries[1].invalidity_date, NOW - 4 * DAY);
	assert_int_equal(info.entries[1].serial_len, revoked.len);
	assert_memory_equal(info.entries[1].serial, revoked.ptr, revoked.len);
	kh_pki_crl_info_cleanup(&info);

	kh_buf_cleanup(&crl);
	kh_buf_cleanup(&revoked);
	kh_buf_cleanup(&good);
	ca_free(&c);
}

static void rsa_crl_is_verified_by_openssl_and_revokes_a_leaf(void **state)
{
	(void)state;
	crl_checked_by_openssl(KH_PKEY_RSA_2048);
}

static void p256_crl_is_verified_by_openssl_and_revokes_a_leaf(void **state)
{
	(void)state;
	crl_checked_by_openssl(KH_PKEY_EC_P256);
}

static void p384_crl_is_verified_by_openssl_and_revokes_a_leaf(void **state)
{
	(void)state;
	crl_checked_by_openssl(KH_PKEY_EC_P384);
}

static void ed25519_crl_is_verified_by_openssl_and_revokes_a_leaf(void **state)
{
	(void)state;
	crl_checked_by_openssl(KH_PKEY_ED25519);
}

static void a_delta_crl_carries_its_base_and_hold_reasons(void **state)
{
	static const uint8_t s1[] = {0x11}, s2[] = {0x00, 0x80, 0x22}; /* leading zero dropped */
	struct ca c = {0};
	struct kh_buf crl;
	struct kh_pki_crl_info info;
	char ca[512], crl_der[512];
	(void)state;

	ca_new(&c, KH_PKEY_EC_P256);
	const struct kh_pki_crl_entry entries[] = {
	    {.serial = KH_SLICE(s1, 1),
	     .revoked_at = NOW,
	     .reason = KH_CRL_REASON_CERTIFICATE_HOLD},
	    {.serial = KH_SLICE(s2, 3), .revoked_at = NOW, .reason = KH_CRL_REASON_REMOVE_FROM_CRL},
	};
	struct kh_pki_crl_params p = crl_params(&c, entries, 2);
	kh_buf_init(&crl, BUF_MAX, KH_BUF_PLAIN);
	/* removeFromCRL belongs in delta CRLs only (RFC 5280 5.3.1). */
	assert_int_equal(kh_pki_crl_build(c.key, &p, &crl), KH_ERR_BAD_INPUT);
	p.delta = true;
	p.base_crl_number = 7;
	assert_int_equal(kh_pki_crl_build(c.key, &p, &crl), KH_ERR_BAD_INPUT); /* base < number */
	assert_int_equal(crl.len, 0);
	p.crl_number = 9;
	assert_int_equal(kh_pki_crl_build(c.key, &p, &crl), KH_OK);
	crl_files(&c, kh_buf_slice(&crl));
	const char *argv[] = {
	    "openssl", "crl",    "-in",     at(&c, "crl.der", crl_der, sizeof(crl_der)),
	    "-inform", "DER",    "-CAfile", at(&c, "ca.pem", ca, sizeof(ca)),
	    "-text",   "-noout", NULL};
	assert_int_equal(run(&c, argv), 0);
	assert_output(&c, "verify OK");
	assert_output(&c, "Delta CRL Indicator: critical");
	assert_output(&c, "Certificate Hold");
	assert_output(&c, "Remove From CRL");
	assert_int_equal(kh_pki_crl_parse(kh_buf_slice(&crl), &info), KH_OK);
	assert_true(info.delta && info.base_crl_number == 7 && info.crl_number == 9);
	assert_int_equal(info.entry_count, 2);
	assert_int_equal(info.entries[0].reason, KH_CRL_REASON_CERTIFICATE_HOLD);
	assert_int_equal(info.entries[1].reason, KH_CRL_REASON_REMOVE_FROM_CRL);
	assert_int_equal(info.entries[1].serial_len, 2);
	kh_pki_crl_info_cleanup(&info);
	kh_buf_cleanup(&crl);
	ca_free(&c);
}

static void a_crl_needs_the_ca_key_and_sound_parameters(void **state)
{
	static const uint8_t zero[] = {0x00}, long_serial[21] = {0x01};
	struct ca c = {0};
	struct kh_pkey *other = NULL;
	struct kh_buf crl;
	(void)state;

	ca_new(&c, KH_PKEY_EC_P256);
	kh_buf_init(&crl, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &other), KH_OK);
	struct kh_pki_crl_params p = crl_params(&c, NULL, 0);
	assert_int_equal(kh_pki_crl_build(other, &p, &crl), KH_ERR_BAD_KEY);
	p.ca_cert = KH_SLICE_LIT("not a certificate");
	assert_int_equal(kh_pki_crl_build(c.key, &p, &crl), KH_ERR_BAD_KEY);
	p = crl_params(&c, NULL, 0);
	p.next_update = p.this_update;
	assert_int_equal(kh_pki_crl_build(c.key, &p, &crl), KH_ERR_BAD_INPUT);
	struct kh_pki_crl_entry e = {.serial = KH_SLICE(zero, 1), .revoked_at = NOW};
	p = crl_params(&c, &e, 1);
	assert_int_equal(kh_pki_crl_build(c.key, &p, &crl), KH_ERR_BAD_INPUT);
	e.serial = KH_SLICE(long_serial, sizeof(long_serial));
	assert_int_equal(kh_pki_crl_build(c.key, &p, &crl), KH_ERR_BAD_INPUT);
	e.serial = KH_SLICE(long_serial, 20);
	e.reason = (enum kh_crl_reason)7;
	assert_int_equal(kh_pki_crl_build(c.key, &p, &crl), KH_ERR_BAD_INPUT);
	assert_int_equal(crl.len, 0);
	/* An empty CRL is fine; a certificate of another key does not verify it. */
	p = crl_params(&c, NULL, 0);
	assert_int_equal(kh_pki_crl_build(c.key, &p, &crl), KH_OK);
	assert_int_equal(kh_pki_crl_verify(kh_buf_slice(&crl), kh_buf_slice(&c.der)), KH_OK);
	struct ca d = {0};
	ca_new(&d, KH_PKEY_EC_P256);
	assert_int_equal(kh_pki_crl_verify(kh_buf_slice(&crl), kh_buf_slice(&d.der)),
	                 KH_ERR_BAD_SIGNATURE);
	assert_int_equal(kh_pki_crl_verify(KH_SLICE_LIT("junk"), kh_buf_slice(&d.der)),
	                 KH_ERR_BAD_INPUT);
	ca_free(&d);
	kh_pkey_free(&other);
	kh_buf_cleanup(&crl);
	ca_free(&c);
}

static void a_large_crl_builds_and_reads_back(void **state)
{
	enum {
		COUNT = 100000
	};
	struct ca c = {0};
	struct kh_buf crl;
	struct kh_pki_crl_info info;
	(void)state;

	ca_new(&c, KH_PKEY_EC_P256);
	struct kh_pki_crl_entry *e = kh_calloc(COUNT, sizeof(*e));
	uint8_t(*serials)[16] = kh_calloc(COUNT, 16);
	assert_non_null(e);
	assert_non_null(serials);
	for (size_t i = 0; i < COUNT; i++) {
		assert_int_equal(kh_rand_bytes(serials[i], 16), KH_OK);
		serials[i][0] |= 0x01;
		e[i] = (struct kh_pki_crl_entry){.serial = KH_SLICE(serials[i], 16),
		                                 .revoked_at = NOW - (int64_t)i,
		                                 .reason = (enum kh_crl_reason)(i % 7)};
	}
	struct kh_pki_crl_params p = crl_params(&c, e, COUNT);
	kh_buf_init(&crl, 64u * 1024 * 1024, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_crl_build(c.key, &p, &crl), KH_OK);
	assert_int_equal(kh_pki_crl_verify(kh_buf_slice(&crl), kh_buf_slice(&c.der)), KH_OK);
	assert_int_equal(kh_pki_crl_parse(kh_buf_slice(&crl), &info), KH_OK);
	assert_int_equal(info.entry_count, COUNT);
	assert_memory_equal(info.entries[COUNT - 1].serial, serials[COUNT - 1], 16);
	kh_pki_crl_info_cleanup(&info);
	kh_free(&serials);
	kh_free(&e);
	kh_buf_cleanup(&crl);
	ca_free(&c);
}

/* Three leaves of c (good, revoked, unknown to the responder) and a request for them. */
struct ocsp_case {
	struct kh_buf serial[3];
	struct kh_ocsp_request req;
	struct kh_ocsp_single singles[3];
	char ca[512], req_der[512], resp_der[512], leaf[3][512];
};

static const char *const LEAVES[] = {"good.pem", "revoked.pem", "unknown.pem"};

static void ocsp_case_new(const struct ca *c, struct ocsp_case *oc, const char *digest, bool nonce)
{
	at(c, "ca.pem", oc->ca, sizeof(oc->ca));
	at(c, "req.der", oc->req_der, sizeof(oc->req_der));
	at(c, "resp.der", oc->resp_der, sizeof(oc->resp_der));
	for (size_t i = 0; i < 3; i++) {
		leaf_new(c, LEAVES[i], &oc->serial[i]);
		at(c, LEAVES[i], oc->leaf[i], sizeof(oc->leaf[i]));
	}
	const char *argv[] = {"openssl",   "ocsp",
	                      "-issuer",   oc->ca,
	                      digest,      "-cert",
	                      oc->leaf[0], "-cert",
	                      oc->leaf[1], "-cert",
	                      oc->leaf[2], "-reqout",
	                      oc->req_der, nonce ? "-nonce" : "-no_nonce",
	                      NULL};
	assert_int_equal(run(c, argv), 0);
	struct kh_buf der = read_file(oc->req_der);
	assert_int_equal(kh_pki_ocsp_request_parse(kh_buf_slice(&der), &oc->req), KH_OK);
	kh_buf_cleanup(&der);
	assert_int_equal(oc->req.id_count, 3);
	assert_int_equal(oc->req.has_nonce, nonce);
	for (size_t i = 0; i < 3; i++) {
		const struct kh_ocsp_certid *id = &oc->req.ids[i];
		bool match = false;
		assert_int_equal(id->hash, strcmp(digest, "-sha256") == 0 ? KH_OCSP_HASH_SHA256
		                                                          : KH_OCSP_HASH_SHA1);
		assert_int_equal(kh_pki_ocsp_certid_matches(id, kh_buf_slice(&c->der), &match),
		                 KH_OK);
		assert_true(match);
		assert_int_equal(id->serial_len, oc->serial[i].len);
		assert_memory_equal(id->serial, oc->serial[i].ptr, oc->serial[i].len);
		oc->singles[i] = (struct kh_ocsp_single){
		    .id = *id,
		    .status = (enum kh_ocsp_cert_status)i,
		    .this_update = NOW - 60,
		    .next_update = NOW + DAY,
		};
	}
	oc->singles[1].revoked_at = NOW - DAY;
	oc->singles[1].has_reason = true;
	oc->singles[1].reason = KH_CRL_REASON_SUPERSEDED;
}

static void ocsp_case_free(struct ocsp_case *oc)
{
	for (size_t i = 0; i < 3; i++)
		kh_buf_cleanup(&oc->serial[i]);
}

/*
 * openssl ocsp reads resp.der for the three leaves (CertIDs made with digest) and checks its
 * signature; -no_nonce, since naming certificates makes it build a request of its own.
 */
static int ocsp_check(const struct ca *c, struct ocsp_case *oc, const char *digest)
{
	const char *argv[] = {"openssl",   "ocsp",       "-respin",   oc->resp_der, "-CAfile",
	                      oc->ca,      "-issuer",    oc->ca,      digest,       "-cert",
	                      oc->leaf[0], "-cert",      oc->leaf[1], "-cert",      oc->leaf[2],
	                      "-no_nonce", "-resp_text", NULL};
	return run(c, argv);
}

/* openssl ocsp compares the response's nonce with the one in req.der (-reqin). */
static int ocsp_nonce_check(const struct ca *c, struct ocsp_case *oc)
{
	const char *argv[] = {"openssl",       "ocsp",       "-reqin",  oc->req_der,
	                      "-respin",       oc->resp_der, "-CAfile", oc->ca,
	                      "-verify_other", oc->ca,       NULL};
	return run(c, argv);
}

static void ocsp_checked_by_openssl(enum kh_pkey_type type, const char *digest)
{
	struct ca c = {0};
	struct ocsp_case oc;
	struct kh_buf resp;
	struct kh_ocsp_response_info info;

	memset(&oc, 0, sizeof(oc));
	ca_new(&c, type);
	ocsp_case_new(&c, &oc, digest, true);
	struct kh_ocsp_response_params p = {
	    .signer_cert = kh_buf_slice(&c.der),
	    .produced_at = NOW,
	    .singles = oc.singles,
	    .single_count = 3,
	    .nonce = KH_SLICE(oc.req.nonce, oc.req.nonce_len),
	};
	kh_buf_init(&resp, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_ocsp_response_build(c.key, &p, &resp), KH_OK);
	write_file(oc.resp_der, kh_buf_slice(&resp));
	assert_int_equal(ocsp_check(&c, &oc, digest), 0);
	assert_output(&c, "Response verify OK");
	assert_output(&c, "good.pem: good");
	assert_output(&c, "revoked.pem: revoked");
	assert_output(&c, "Reason: superseded");
	assert_output(&c, "unknown.pem: unknown");
	assert_int_equal(kh_pki_ocsp_verify(kh_buf_slice(&resp), kh_buf_slice(&c.der)), KH_OK);
	assert_int_equal(kh_pki_ocsp_response_parse(kh_buf_slice(&resp), &info), KH_OK);
	assert_int_equal(info.status, KH_OCSP_SUCCESSFUL);
	assert_int_equal(info.produced_at, NOW);
	assert_int_equal(info.single_count, 3);
	assert_int_equal(info.singles[0].status, KH_OCSP_GOOD);
	assert_int_equal(info.singles[1].status, KH_OCSP_REVOKED);
	assert_int_equal(info.singles[1].revoked_at, NOW - DAY);
	assert_int_equal(info.singles[1].reason, KH_CRL_REASON_SUPERSEDED);
	assert_int_equal(info.singles[2].status, KH_OCSP_UNKNOWN);
	assert_true(info.has_nonce);
	assert_int_equal(info.nonce_len, oc.req.nonce_len);
	assert_memory_equal(info.nonce, oc.req.nonce, oc.req.nonce_len);
	assert_int_equal(ocsp_nonce_check(&c, &oc), 0);
	assert_output(&c, "Response verify OK");
	assert_false(output_has(&c, "no nonce", false));

	/* A nonce other than the request's is caught: the check can fail. */
	oc.req.nonce[0] ^= 1;
	kh_buf_clear(&resp);
	assert_int_equal(kh_pki_ocsp_response_build(c.key, &p, &resp), KH_OK);
	write_file(oc.resp_der, kh_buf_slice(&resp));
	assert_int_not_equal(ocsp_nonce_check(&c, &oc), 0);
	assert_output(&c, "Nonce Verify error");
	/* And a response signed by another key does not verify. */
	struct ca d = {0};
	ca_new(&d, type);
	p.nonce = KH_SLICE_EMPTY;
	p.signer_cert = kh_buf_slice(&d.der);
	kh_buf_clear(&resp);
	assert_int_equal(kh_pki_ocsp_response_build(c.key, &p, &resp), KH_ERR_BAD_KEY);
	assert_int_equal(kh_pki_ocsp_response_build(d.key, &p, &resp), KH_OK);
	write_file(oc.resp_der, kh_buf_slice(&resp));
	(void)ocsp_check(&c, &oc, digest);
	assert_output(&c, "Response Verify Failure");
	assert_int_equal(kh_pki_ocsp_verify(kh_buf_slice(&resp), kh_buf_slice(&c.der)),
	                 KH_ERR_BAD_SIGNATURE);
	ca_free(&d);

	kh_buf_cleanup(&resp);
	ocsp_case_free(&oc);
	ca_free(&c);
}

static void rsa_ocsp_response_is_verified_by_openssl(void **state)
{
	(void)state;
	ocsp_checked_by_openssl(KH_PKEY_RSA_2048, "-sha1");
}

static void p256_ocsp_response_is_verified_by_openssl(void **state)
{
	(void)state;
	ocsp_checked_by_openssl(KH_PKEY_EC_P256, "-sha256");
}

static void p384_ocsp_response_is_verified_by_openssl(void **state)
{
	(void)state;
	ocsp_checked_by_openssl(KH_PKEY_EC_P384, "-sha256");
}

static void ed25519_ocsp_response_is_verified_by_openssl(void **state)
{
	(void)state;
	ocsp_checked_by_openssl(KH_PKEY_ED25519, "-sha1");
}

static void a_delegated_responder_signs_with_its_certificate_included(void **state)
{
	struct ca c = {0};
	struct ocsp_case oc;
	struct kh_pkey *rkey = NULL;
	struct kh_buf resp, rcert;
	char rkey_path[512], rcert_path[512], cakey[512];
	(void)state;

	memset(&oc, 0, sizeof(oc));
	ca_new(&c, KH_PKEY_EC_P256);
	ocsp_case_new(&c, &oc, "-sha1", false);
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &rkey), KH_OK);
	key_file(rkey, at(&c, "rkey.pem", rkey_path, sizeof(rkey_path)));
	const char *argv[] = {"openssl", "req",
	                      "-x509",   "-new",
	                      "-key",    rkey_path,
	                      "-CA",     oc.ca,
	                      "-CAkey",  at(&c, "cakey.pem", cakey, sizeof(cakey)),
	                      "-subj",   "/CN=keyhold OCSP responder",
	                      "-addext", "extendedKeyUsage=critical,OCSPSigning",
	                      "-days",   "7",
	                      "-out",    at(&c, "responder.pem", rcert_path, sizeof(rcert_path)),
	                      NULL};
	assert_int_equal(run(&c, argv), 0);
	rcert = pem_to_der(&c, rcert_path, "x509");
	struct kh_ocsp_response_params p = {
	    .signer_cert = kh_buf_slice(&rcert),
	    .include_signer_cert = true,
	    .produced_at = NOW,
	    .singles = oc.singles,
	    .single_count = 3,
	};
	kh_buf_init(&resp, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_ocsp_response_build(c.key, &p, &resp), KH_ERR_BAD_KEY);
	assert_int_equal(kh_pki_ocsp_response_build(rkey, &p, &resp), KH_OK);
	write_file(oc.resp_der, kh_buf_slice(&resp));
	assert_int_equal(ocsp_check(&c, &oc, "-sha1"), 0);
	assert_output(&c, "Response verify OK");
	assert_output(&c, "revoked.pem: revoked");
	assert_output(&c, "keyhold OCSP responder");
	assert_int_equal(kh_pki_ocsp_verify(kh_buf_slice(&resp), kh_buf_slice(&rcert)), KH_OK);
	assert_int_equal(kh_pki_ocsp_verify(kh_buf_slice(&resp), kh_buf_slice(&c.der)),
	                 KH_ERR_BAD_SIGNATURE);
	kh_buf_cleanup(&resp);
	kh_buf_cleanup(&rcert);
	kh_pkey_free(&rkey);
	ocsp_case_free(&oc);
	ca_free(&c);
}

/* ---- SM2: our verifier, which must also be able to fail ---- */

/* Reads one TLV's header from *in (definite length), returning its content. */
static struct kh_slice der_take(struct kh_slice *in, uint8_t tag)
{
	assert_true(in->len >= 2 && in->ptr[0] == tag);
	size_t len = in->ptr[1], hl = 2;
	if (len & 0x80) {
		size_t n = len & 0x7f;
		assert_true(n >= 1 && n <= 3 && in->len >= 2 + n);
		len = 0;
		for (size_t i = 0; i < n; i++)
			len = len << 8 | in->ptr[2 + i];
		hl += n;
	}
	assert_true(hl + len <= in->len);
	struct kh_slice content = KH_SLICE(in->ptr + hl, len);
	in->ptr += hl + len;
	in->len -= hl + len;
	return content;
}

static void der_put(struct kh_buf *out, uint8_t tag, struct kh_slice content)
{
	uint8_t h[5] = {tag};
	size_t hl = 2;
	if (content.len < 0x80) {
		h[1] = (uint8_t)content.len;
	} else if (content.len < 0x100) {
		h[1] = 0x81;
		h[2] = (uint8_t)content.len;
		hl = 3;
	} else if (content.len < 0x10000) {
		h[1] = 0x82;
		h[2] = (uint8_t)(content.len >> 8);
		h[3] = (uint8_t)content.len;
		hl = 4;
	} else {
		fail();
	}
	assert_int_equal(kh_buf_append(out, KH_SLICE(h, hl)), KH_OK);
	assert_int_equal(kh_buf_append(out, content), KH_OK);
}

/* SEQUENCE { tbs, SM2-with-SM3, BIT STRING } with tbs signed by openssl pkeyutl under the
 * given distid option (NULL: OpenSSL's default, the empty ID). */
static struct kh_buf resign_sm2(const struct ca *c, struct kh_slice tbs_tlv, const char *distid)
{
	static const uint8_t algid[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x81,
	                                0x1c, 0xcf, 0x55, 0x01, 0x83, 0x75};
	char tbs[512], sig[512], key[512];
	struct kh_buf body, out, bits;
	write_file(at(c, "tbs.bin", tbs, sizeof(tbs)), tbs_tlv);
	const char *argv[] = {"openssl",
	                      "pkeyutl",
	                      "-sign",
	                      "-rawin",
	                      "-digest",
	                      "sm3",
	                      "-inkey",
	                      at(c, "cakey.pem", key, sizeof(key)),
	                      "-in",
	                      tbs,
	                      "-out",
	                      at(c, "sig.bin", sig, sizeof(sig)),
	                      distid != NULL ? "-pkeyopt" : NULL,
	                      distid,
	                      NULL};
	assert_int_equal(run(c, argv), 0);
	struct kh_buf raw = read_file(sig);
	kh_buf_init(&bits, 4096, KH_BUF_PLAIN);
	kh_buf_init(&body, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append_byte(&bits, 0), KH_OK);
	assert_int_equal(kh_buf_append(&bits, kh_buf_slice(&raw)), KH_OK);
	assert_int_equal(kh_buf_append(&body, tbs_tlv), KH_OK);
	assert_int_equal(kh_buf_append(&body, KH_SLICE(algid, sizeof(algid))), KH_OK);
	der_put(&body, 0x03, kh_buf_slice(&bits));
	der_put(&out, 0x30, kh_buf_slice(&body));
	kh_buf_cleanup(&raw);
	kh_buf_cleanup(&bits);
	kh_buf_cleanup(&body);
	return out;
}

/* The whole first TLV inside the SEQUENCE signed. */
static struct kh_slice tbs_of(struct kh_slice signed_der)
{
	struct kh_slice body = der_take(&signed_der, 0x30);
	struct kh_slice rest = body;
	(void)der_take(&rest, 0x30);
	return KH_SLICE(body.ptr, (size_t)(rest.ptr - body.ptr));
}

/* Changes one character of the CA's name inside der ("SM2 test" -> "TM2 test"). */
static void alter_name(struct kh_buf *der)
{
	static const char needle[] = "SM2 test";
	for (size_t i = 0; i + sizeof(needle) - 1 <= der->len; i++) {
		if (memcmp(der->ptr + i, needle, sizeof(needle) - 1) == 0) {
			der->ptr[i] = 'T';
			return;
		}
	}
	fail_msg("name not found");
}

static void sm2_crl_verifies_only_with_the_default_id_and_intact_bytes(void **state)
{
	static const uint8_t serial[] = {0x5a, 0x01};
	struct ca c = {0};
	struct kh_buf crl;
	(void)state;

	ca_new(&c, KH_PKEY_SM2);
	const struct kh_pki_crl_entry e = {.serial = KH_SLICE(serial, 2),
	                                   .revoked_at = NOW - DAY,
	                                   .reason = KH_CRL_REASON_CA_COMPROMISE};
	struct kh_pki_crl_params p = crl_params(&c, &e, 1);
	kh_buf_init(&crl, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_crl_build(c.key, &p, &crl), KH_OK);
	assert_int_equal(kh_pki_crl_verify(kh_buf_slice(&crl), kh_buf_slice(&c.der)), KH_OK);

	/* The same TBS signed by openssl: with the GM/T ID it verifies, with the empty ID not. */
	struct kh_buf ok = resign_sm2(&c, tbs_of(kh_buf_slice(&crl)), "distid:1234567812345678");
	assert_int_equal(kh_pki_crl_verify(kh_buf_slice(&ok), kh_buf_slice(&c.der)), KH_OK);
	struct kh_buf empty = resign_sm2(&c, tbs_of(kh_buf_slice(&crl)), NULL);
	assert_int_equal(kh_pki_crl_verify(kh_buf_slice(&empty), kh_buf_slice(&c.der)),
	                 KH_ERR_BAD_SIGNATURE);

	/* One changed byte of the TBS. */
	alter_name(&crl);
	assert_int_equal(kh_pki_crl_verify(kh_buf_slice(&crl), kh_buf_slice(&c.der)),
	                 KH_ERR_BAD_SIGNATURE);
	kh_buf_cleanup(&ok);
	kh_buf_cleanup(&empty);
	kh_buf_cleanup(&crl);
	ca_free(&c);
}

/* OCSPResponse { successful, [0] { SEQUENCE { id-pkix-ocsp-basic, OCTET STRING basic } } } */
static struct kh_buf ocsp_wrap(struct kh_slice basic)
{
	static const uint8_t status[] = {0x0a, 0x01, 0x00};
	static const uint8_t oid[] = {0x06, 0x09, 0x2b, 0x06, 0x01, 0x05,
	                              0x05, 0x07, 0x30, 0x01, 0x01};
	struct kh_buf a, b, out;
	kh_buf_init(&a, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&b, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&a, KH_SLICE(oid, sizeof(oid))), KH_OK);
	der_put(&a, 0x04, basic);
	der_put(&b, 0x30, kh_buf_slice(&a));
	kh_buf_clear(&a);
	assert_int_equal(kh_buf_append(&a, KH_SLICE(status, sizeof(status))), KH_OK);
	der_put(&a, 0xa0, kh_buf_slice(&b));
	der_put(&out, 0x30, kh_buf_slice(&a));
	kh_buf_cleanup(&a);
	kh_buf_cleanup(&b);
	return out;
}

/* The BasicOCSPResponse inside an OCSPResponse. */
static struct kh_slice basic_of(struct kh_slice resp)
{
	struct kh_slice body = der_take(&resp, 0x30);
	(void)der_take(&body, 0x0a);
	struct kh_slice rb = der_take(&body, 0xa0);
	struct kh_slice seq = der_take(&rb, 0x30);
	(void)der_take(&seq, 0x06);
	return der_take(&seq, 0x04);
}

static void sm2_ocsp_response_verifies_only_with_the_default_id_and_intact_bytes(void **state)
{
	struct ca c = {0};
	struct kh_ocsp_request req;
	struct kh_buf resp;
	char ca[512], req_der[512];
	bool match = false;
	(void)state;

	ca_new(&c, KH_PKEY_SM2);
	const char *argv[] = {
	    "openssl", "ocsp",   "-issuer", at(&c, "ca.pem", ca, sizeof(ca)),
	    "-serial", "0x5A01", "-reqout", at(&c, "req.der", req_der, sizeof(req_der)),
	    "-nonce",  NULL};
	assert_int_equal(run(&c, argv), 0);
	struct kh_buf der = read_file(req_der);
	assert_int_equal(kh_pki_ocsp_request_parse(kh_buf_slice(&der), &req), KH_OK);
	assert_int_equal(kh_pki_ocsp_certid_matches(&req.ids[0], kh_buf_slice(&c.der), &match),
	                 KH_OK);
	assert_true(match);
	const struct kh_ocsp_single single = {.id = req.ids[0],
	                                      .status = KH_OCSP_REVOKED,
	                                      .revoked_at = NOW - DAY,
	                                      .this_update = NOW};
	const struct kh_ocsp_response_params p = {.signer_cert = kh_buf_slice(&c.der),
	                                          .produced_at = NOW,
	                                          .singles = &single,
	                                          .single_count = 1,
	                                          .nonce = KH_SLICE(req.nonce, req.nonce_len)};
	kh_buf_init(&resp, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pki_ocsp_response_build(c.key, &p, &resp), KH_OK);
	assert_int_equal(kh_pki_ocsp_verify(kh_buf_slice(&resp), kh_buf_slice(&c.der)), KH_OK);

	struct kh_slice tbs = tbs_of(basic_of(kh_buf_slice(&resp)));
	struct kh_buf basic_ok = resign_sm2(&c, tbs, "distid:1234567812345678");
	struct kh_buf ok = ocsp_wrap(kh_buf_slice(&basic_ok));
	assert_int_equal(kh_pki_ocsp_verify(kh_buf_slice(&ok), kh_buf_slice(&c.der)), KH_OK);
	struct kh_buf basic_empty = resign_sm2(&c, tbs, NULL);
	struct kh_buf empty = ocsp_wrap(kh_buf_slice(&basic_empty));
	assert_int_equal(kh_pki_ocsp_verify(kh_buf_slice(&empty), kh_buf_slice(&c.der)),
	                 KH_ERR_BAD_SIGNATURE);

	/* One changed byte of the TBS: the last byte of the echoed nonce. */
	size_t at_nonce = (size_t)(tbs.ptr - resp.ptr) + tbs.len - 1;
	assert_int_equal(resp.ptr[at_nonce], req.nonce[req.nonce_len - 1]);
	resp.ptr[at_nonce] ^= 0x01;
	assert_int_equal(kh_pki_ocsp_verify(kh_buf_slice(&resp), kh_buf_slice(&c.der)),
	                 KH_ERR_BAD_SIGNATURE);
	kh_buf_cleanup(&basic_ok);
	kh_buf_cleanup(&ok);
	kh_buf_cleanup(&basic_empty);
	kh_buf_cleanup(&empty);
	kh_buf_cleanup(&der);
	kh_buf_cleanup(&resp);
	ca_free(&c);
}

/* ---- Requests that are not requests, GET decoding, error responses ---- */

/* A request for serials 1..count of c made by openssl ocsp, without a nonce. */
static struct kh_buf request_for(const struct ca *c, unsigned count)
{
	char ca[512], req_der[512], serials[32][12];
	const char *argv[80] = {"openssl",
	                        "ocsp",
	                        "-issuer",
	                        at(c, "ca.pem", ca, sizeof(ca)),
	                        "-no_nonce",
	                        "-reqout",
	                        at(c, "req.der", req_der, sizeof(req_der))};
	size_t n = 7;
	assert_true(count <= 32);
	for (unsigned i = 0; i < count; i++) {
		(void)snprintf(serials[i], sizeof(serials[i]), "%u", i + 1);
		argv[n++] = "-serial";
		argv[n++] = serials[i];
	}
	argv[n] = NULL;
	assert_int_equal(run(c, argv), 0);
	return read_file(req_der);
}

static void garbage_requests_are_refused(void **state)
{
	static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	struct ca c = {0};
	struct kh_ocsp_request req;
	struct kh_buf der, big;
	(void)state;

	ca_new(&c, KH_PKEY_EC_P256);
	assert_int_equal(kh_pki_ocsp_request_parse(KH_SLICE_EMPTY, &req), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_pki_ocsp_request_parse(KH_SLICE_LIT("GET / HTTP/1.1"), &req),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_pki_ocsp_request_parse(KH_SLICE(junk, sizeof(junk)), &req),
	                 KH_ERR_BAD_INPUT);
	/* 16 CertIDs are answered, 17 are too many. */
	der = request_for(&c, 16);
	assert_int_equal(kh_pki_ocsp_request_parse(kh_buf_slice(&der), &req), KH_OK);
	assert_int_equal(req.id_count, 16);
	assert_false(req.has_nonce);
	assert_int_equal(req.ids[15].serial_len, 1);
	assert_int_equal(req.ids[15].serial[0], 16);
	/* Truncated, or followed by a byte: refused. */
	assert_int_equal(kh_pki_ocsp_request_parse(KH_SLICE(der.ptr, der.len - 1), &req),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_buf_append_byte(&der, 0), KH_OK);
	assert_int_equal(kh_pki_ocsp_request_parse(kh_buf_slice(&der), &req), KH_ERR_BAD_INPUT);
	kh_buf_cleanup(&der);
	der = request_for(&c, 17);
	assert_int_equal(kh_pki_ocsp_request_parse(kh_buf_slice(&der), &req), KH_ERR_TOO_LARGE);
	kh_buf_cleanup(&der);
	/* Above 16 KiB, refused before parsing. */
	kh_buf_init(&big, BUF_MAX, KH_BUF_PLAIN);
	for (size_t i = 0; i <= 16 * 1024; i++)
		assert_int_equal(kh_buf_append_byte(&big, 0x30), KH_OK);
	assert_int_equal(kh_pki_ocsp_request_parse(kh_buf_slice(&big), &req), KH_ERR_TOO_LARGE);
	kh_buf_cleanup(&big);
	ca_free(&c);
}

static void the_get_form_decodes_to_the_request(void **state)
{
	struct ca c = {0};
	struct kh_buf der, b64, url, back;
	struct kh_ocsp_request req;
	(void)state;

	ca_new(&c, KH_PKEY_EC_P256);
	der = request_for(&c, 3);
	kh_buf_init(&b64, 65536, KH_BUF_PLAIN);
	kh_buf_init(&url, 65536, KH_BUF_PLAIN);
	kh_buf_init(&back, 65536, KH_BUF_PLAIN);
	assert_int_equal(kh_base64_encode(kh_buf_slice(&der), &b64), KH_OK);
	/* RFC 6960 A.1: url-encoding of the Base64; also accept it left unescaped. */
	for (size_t i = 0; i < b64.len; i++) {
		const char *esc = b64.ptr[i] == '+'   ? "%2B"
		                  : b64.ptr[i] == '/' ? "%2f"
		                  : b64.ptr[i] == '=' ? "%3D"
		                                      : NULL;
		if (esc != NULL)
			assert_int_equal(kh_buf_append_cstr(&url, esc), KH_OK);
		else
			assert_int_equal(kh_buf_append_byte(&url, b64.ptr[i]), KH_OK);
	}
	assert_int_equal(kh_pki_ocsp_get_decode(kh_buf_slice(&url), &back), KH_OK);
	assert_true(kh_slice_eq(kh_buf_slice(&back), kh_buf_slice(&der)));
	assert_int_equal(kh_pki_ocsp_request_parse(kh_buf_slice(&back), &req), KH_OK);
	assert_int_equal(req.id_count, 3);
	kh_buf_clear(&back);
	assert_int_equal(kh_pki_ocsp_get_decode(kh_buf_slice(&b64), &back), KH_OK);
	assert_true(kh_slice_eq(kh_buf_slice(&back), kh_buf_slice(&der)));
	kh_buf_clear(&back);
	/* Bad escapes, characters outside Base64, bad Base64: refused, nothing appended. */
	assert_int_equal(kh_pki_ocsp_get_decode(KH_SLICE_LIT("MAo%2"), &back), KH_ERR_BAD_ENCODING);
	assert_int_equal(kh_pki_ocsp_get_decode(KH_SLICE_LIT("MA%zzo"), &back),
	                 KH_ERR_BAD_ENCODING);
	assert_int_equal(kh_pki_ocsp_get_decode(KH_SLICE_LIT("MA o="), &back), KH_ERR_BAD_ENCODING);
	assert_int_equal(kh_pki_ocsp_get_decode(KH_SLICE_LIT("M%41%"), &back), KH_ERR_BAD_ENCODING);
	assert_int_equal(kh_pki_ocsp_get_decode(KH_SLICE_LIT("MAo"), &back), KH_ERR_BAD_ENCODING);
	assert_int_equal(kh_pki_ocsp_get_decode(KH_SLICE_EMPTY, &back), KH_ERR_BAD_INPUT);
	assert_int_equal(back.len, 0);
	kh_buf_cleanup(&der);
	kh_buf_cleanup(&b64);
	kh_buf_cleanup(&url);
	kh_buf_cleanup(&back);
	ca_free(&c);
}

static void error_responses_carry_only_their_status(void **state)
{
	static const struct {
		enum kh_ocsp_response_status status;
		const char *hex;
	} cases[] = {
	    {KH_OCSP_MALFORMED_REQUEST, "30030a0101"},
	    {KH_OCSP_INTERNAL_ERROR, "30030a0102"},
	    {KH_OCSP_TRY_LATER, "30030a0103"},
	    {KH_OCSP_UNAUTHORIZED, "30030a0106"},
	};
	struct kh_buf out;
	struct kh_ocsp_response_info info;
	(void)state;

	kh_buf_init(&out, 1024, KH_BUF_PLAIN);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kh_buf_clear(&out);
		assert_int_equal(kh_pki_ocsp_error_response(cases[i].status, &out), KH_OK);
		kh_test_assert_hex(kh_buf_slice(&out), cases[i].hex);
		assert_int_equal(kh_pki_ocsp_response_parse(kh_buf_slice(&out), &info), KH_OK);
		assert_int_equal(info.status, cases[i].status);
		assert_int_equal(info.single_count, 0);
	}
	kh_buf_clear(&out);
	assert_int_equal(kh_pki_ocsp_error_response(KH_OCSP_SUCCESSFUL, &out), KH_ERR_BAD_INPUT);
	assert_int_equal(out.len, 0);
	kh_buf_cleanup(&out);
}

/* ---- Allocation failures ---- */

struct alloc_case {
	struct ca *c;
	const struct kh_pki_crl_entry *entries;
	const struct kh_ocsp_single *single;
};

/* Builds, verifies and reads back a CRL and an OCSP response; cleans up on every path. */
static kh_rc build_everything(void *arg)
{
	const struct alloc_case *ac = arg;
	struct kh_pki_crl_params p = crl_params(ac->c, ac->entries, 2);
	struct kh_pki_crl_info info = {0};
	struct kh_ocsp_response_info rinfo;
	struct kh_buf crl, resp;
	kh_rc rc;

	kh_buf_init(&crl, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&resp, BUF_MAX, KH_BUF_PLAIN);
	const struct kh_ocsp_response_params rp = {.signer_cert = kh_buf_slice(&ac->c->der),
	                                           .include_signer_cert = true,
	                                           .produced_at = NOW,
	                                           .singles = ac->single,
	                                           .single_count = 1,
	                                           .nonce = KH_SLICE_LIT("0123456789abcdef")};
	KH_GUARD_OUT(kh_pki_crl_build(ac->c->key, &p, &crl));
	KH_GUARD_OUT(kh_pki_crl_verify(kh_buf_slice(&crl), kh_buf_slice(&ac->c->der)));
	KH_GUARD_OUT(kh_pki_crl_parse(kh_buf_slice(&crl), &info));
	KH_GUARD_OUT(kh_pki_der_to_pem(kh_buf_slice(&crl), "X509 CRL", &resp));
	kh_buf_clear(&resp);
	KH_GUARD_OUT(kh_pki_ocsp_response_build(ac->c->key, &rp, &resp));
	KH_GUARD_OUT(kh_pki_ocsp_verify(kh_buf_slice(&resp), kh_buf_slice(&ac->c->der)));
	KH_GUARD_OUT(kh_pki_ocsp_response_parse(kh_buf_slice(&resp), &rinfo));
	kh_buf_clear(&resp);
	KH_GUARD_OUT(kh_pki_ocsp_error_response(KH_OCSP_TRY_LATER, &resp));
	kh_buf_clear(&resp);
	KH_GUARD_OUT(kh_pki_ocsp_get_decode(KH_SLICE_LIT("MAA%3D"), &resp));
out:
	kh_pki_crl_info_cleanup(&info);
	kh_buf_cleanup(&crl);
	kh_buf_cleanup(&resp);
	return rc;
}

static void allocation_failures_are_reported_without_leaks(void **state)
{
	static const uint8_t s1[] = {0x42}, s2[] = {0x43, 0x44};
	struct ca c = {0};
	(void)state;

	ca_new(&c, KH_PKEY_EC_P256);
	const struct kh_pki_crl_entry entries[] = {
	    {.serial = KH_SLICE(s1, 1), .revoked_at = NOW, .reason = KH_CRL_REASON_SUPERSEDED},
	    {.serial = KH_SLICE(s2, 2), .revoked_at = NOW, .invalidity_date = NOW - DAY},
	};
	const struct kh_ocsp_single single = {
	    .id = {.hash = KH_OCSP_HASH_SHA1, .hash_len = 20, .serial = {0x42}, .serial_len = 1},
	    .status = KH_OCSP_REVOKED,
	    .revoked_at = NOW,
	    .has_reason = true,
	    .reason = KH_CRL_REASON_KEY_COMPROMISE,
	    .this_update = NOW,
	    .next_update = NOW + DAY};
	struct alloc_case ac = {.c = &c, .entries = entries, .single = &single};
	kh_test_alloc_failures(build_everything, &ac);
	ca_free(&c);
}

int main(void)
{
	NOW = (int64_t)time(NULL);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rsa_crl_is_verified_by_openssl_and_revokes_a_leaf),
	    cmocka_unit_test(p256_crl_is_verified_by_openssl_and_revokes_a_leaf),
	    cmocka_unit_test(p384_crl_is_verified_by_openssl_and_revokes_a_leaf),
	    cmocka_unit_test(ed25519_crl_is_verified_by_openssl_and_revokes_a_leaf),
	    cmocka_unit_test(a_delta_crl_carries_its_base_and_hold_reasons),
	    cmocka_unit_test(a_crl_needs_the_ca_key_and_sound_parameters),
	    cmocka_unit_test(a_large_crl_builds_and_reads_back),
	    cmocka_unit_test(rsa_ocsp_response_is_verified_by_openssl),
	    cmocka_unit_test(p256_ocsp_response_is_verified_by_openssl),
	    cmocka_unit_test(p384_ocsp_response_is_verified_by_openssl),
	    cmocka_unit_test(ed25519_ocsp_response_is_verified_by_openssl),
	    cmocka_unit_test(a_delegated_responder_signs_with_its_certificate_included),
	    cmocka_unit_test(sm2_crl_verifies_only_with_the_default_id_and_intact_bytes),
	    cmocka_unit_test(sm2_ocsp_response_verifies_only_with_the_default_id_and_intact_bytes),
	    cmocka_unit_test(garbage_requests_are_refused),
	    cmocka_unit_test(the_get_form_decodes_to_the_request),
	    cmocka_unit_test(error_responses_carry_only_their_status),
	    cmocka_unit_test(allocation_failures_are_reported_without_leaks),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
