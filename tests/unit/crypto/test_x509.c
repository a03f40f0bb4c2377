/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The minimal X.509 for TLS before the PKI: a CA and a server certificate it signs, checked by
 * an independent verifier (the openssl command line: chain, purpose sslserver, host and IP
 * names), for P-256, RSA and Ed25519 CAs; mismatched CA keys and bad arguments are refused.
 */
#include "kh_test_crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "crypto/kh_crypto.h"

struct pair {
	struct kh_pkey *ca_key, *server_key;
	struct kh_buf ca, server;
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
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "openssl %s >/dev/null 2>&1", args);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void issue(struct pair *p, enum kh_pkey_type ca_type)
{
	static const char *const dns[] = {"localhost", NULL};
	static const char *const ips[] = {"127.0.0.1", "::1", NULL};
	assert_int_equal(kh_pkey_generate(ca_type, &p->ca_key), KH_OK);
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &p->server_key), KH_OK);
	kh_buf_init(&p->ca, 65536, KH_BUF_PLAIN);
	kh_buf_init(&p->server, 65536, KH_BUF_PLAIN);
	assert_int_equal(kh_x509_self_signed_ca(p->ca_key, "keyhold test CA", 30, &p->ca), KH_OK);
	assert_int_equal(kh_x509_issue_server(p->ca_key, kh_buf_slice(&p->ca), p->server_key,
	                                      "localhost", dns, ips, 7, &p->server),
	                 KH_OK);
}

static void pair_free(struct pair *p)
{
	kh_pkey_free(&p->ca_key);
	kh_pkey_free(&p->server_key);
	kh_buf_cleanup(&p->ca);
	kh_buf_cleanup(&p->server);
}

static void verified_by_openssl(enum kh_pkey_type ca_type)
{
	struct pair p = {0};
	char dir[256], ca[300], srv[300], args[1024];
	issue(&p, ca_type);
	kh_test_tmpdir(dir, sizeof(dir));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(srv, sizeof(srv), "%s/server.pem", dir);
	write_file(ca, kh_buf_slice(&p.ca));
	write_file(srv, kh_buf_slice(&p.server));
	snprintf(args, sizeof(args),
	         "verify -CAfile %s -purpose sslserver -verify_hostname localhost %s", ca, srv);
	assert_int_equal(openssl(args), 0);
	snprintf(args, sizeof(args), "verify -CAfile %s -purpose sslserver -verify_ip 127.0.0.1 %s",
	         ca, srv);
	assert_int_equal(openssl(args), 0);
	/* A name the certificate does not carry fails: the check can fail. */
	snprintf(args, sizeof(args), "verify -CAfile %s -purpose sslserver -verify_ip 10.0.0.1 %s",
	         ca, srv);
	assert_int_not_equal(openssl(args), 0);
	/* The CA is a CA; the server certificate is not. */
	snprintf(args, sizeof(args), "verify -CAfile %s -purpose sslserver %s", srv, ca);
	assert_int_not_equal(openssl(args), 0);
	kh_test_rmtree(dir);
	pair_free(&p);
}

static void p256_ca(void **state)
{
	(void)state;
	verified_by_openssl(KH_PKEY_EC_P256);
}

static void rsa_ca(void **state)
{
	(void)state;
	verified_by_openssl(KH_PKEY_RSA_2048);
}

static void ed25519_ca(void **state)
{
	(void)state;
	verified_by_openssl(KH_PKEY_ED25519);
}

static void a_mismatched_ca_key_or_bad_arguments_are_refused(void **state)
{
	static const char *const dns[] = {"localhost", NULL};
	static const char *const none[] = {NULL};
	struct pair p = {0};
	struct kh_pkey *other = NULL;
	struct kh_buf out;
	(void)state;
	issue(&p, KH_PKEY_EC_P256);
	kh_buf_init(&out, 65536, KH_BUF_PLAIN);
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &other), KH_OK);
	assert_int_equal(
	    kh_x509_issue_server(other, kh_buf_slice(&p.ca), p.server_key, "x", dns, none, 1, &out),
	    KH_ERR_BAD_KEY);
	assert_int_equal(kh_x509_issue_server(p.ca_key, KH_SLICE_LIT("not a certificate"),
	                                      p.server_key, "x", dns, none, 1, &out),
	                 KH_ERR_BAD_KEY);
	assert_int_equal(kh_x509_issue_server(p.ca_key, kh_buf_slice(&p.ca), p.server_key, "x",
	                                      none, none, 1, &out),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_x509_self_signed_ca(p.ca_key, "", 1, &out), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_x509_self_signed_ca(p.ca_key, "ca", 0, &out), KH_ERR_BAD_INPUT);
	assert_int_equal(out.len, 0);
	kh_pkey_free(&other);
	kh_buf_cleanup(&out);
	pair_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(p256_ca),
	    cmocka_unit_test(rsa_ca),
	    cmocka_unit_test(ed25519_ca),
	    cmocka_unit_test(a_mismatched_ca_key_or_bad_arguments_are_refused),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
