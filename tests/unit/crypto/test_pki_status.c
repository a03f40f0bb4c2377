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

static bool output_has(const struct ca *c, const char *text)
{
	char out[512];
	return kh_test_file_contains(at(c, "out.txt", out, sizeof(out)), kh_slice_from_cstr(text));
}

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
	assert_true(output_has(&c, "verify OK"));

	const char *verify_argv[] = {"openssl", "verify", "-crl_check", "-CRLfile", crl_pem,
	                             "-CAfile", ca,       leaf,         NULL};
	at(&c, "revoked.pem", leaf, sizeof(leaf));
	assert_int_not_equal(run(&c, verify_argv), 0);
	assert_true(output_has(&c, "certificate revoked"));
	at(&c, "good.pem", leaf, sizeof(leaf));
	assert_int_equal(run(&c, verify_argv), 0);
	assert_true(output_has(&c, ": OK"));

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
	assert_true(output_has(&c, "verify OK"));
	assert_true(output_has(&c, "Delta CRL Indicator: critical"));
	assert_true(output_has(&c, "Certificate Hold"));
	assert_true(output_has(&c, "Remove From CRL"));
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

int main(void)
{
	NOW = (int64_t)time(NULL);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rsa_crl_is_verified_by_openssl_and_revokes_a_leaf),
	    cmocka_unit_test(p256_crl_is_verified_by_openssl_and_revokes_a_leaf),
	    cmocka_unit_test(p384_crl_is_verified_by_openssl_and_revokes_a_leaf),
	    cmocka_unit_test(a_delta_crl_carries_its_base_and_hold_reasons),
	    cmocka_unit_test(a_crl_needs_the_ca_key_and_sound_parameters),
	    cmocka_unit_test(a_large_crl_builds_and_reads_back),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
