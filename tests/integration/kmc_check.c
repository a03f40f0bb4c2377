/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opens an SM2 envelope a live keyholdd delivered, for tests/integration/kmc.sh, without
 * keyhold's own envelope code: the test support's reading of PKI.md "Envelope for the
 * encryption private key" (kh_test_envelope.c) takes the GM/T 0016 blob apart field by field,
 * SM2-decrypts the SM4 key with the recipient's private key and SM4-ECB-decrypts the scalar (or
 * reads the GM/T 0009 DER), and the scalar d must then give the public key of the encryption
 * certificate (d * G on the SM2 curve):
 *
 *   kmc_check skf|gmt0009 ENVELOPE RECIPIENT_KEY.pem CERT.pem
 *
 * Prints "<form> ok: the private key matches the certificate" and exits 0; a key that does not
 * match, or an envelope the recipient cannot open, prints "FAIL: ..." on stderr and exits 1;
 * a malformed field fails the support code's assertion (exit status not 0); usage errors exit
 * 2. The scalar is wiped before exit.
 */
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "kh_test_envelope.h"

/* An SKF blob is 388 bytes and GM/T 0009 about 250: 64 KiB is far above either. */
#define FILE_MAX (64u * 1024u)

static int failed(const char *what)
{
	fprintf(stderr, "FAIL: %s\n", what);
	return 1;
}

static size_t file_read(const char *path, uint8_t *out, size_t max)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	size_t n = fread(out, 1, max, f);
	bool more = fgetc(f) != EOF;
	fclose(f);
	return more ? 0 : n;
}

static EVP_PKEY *key_read(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static X509 *cert_read(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

int main(int argc, char **argv)
{
	static uint8_t env[FILE_MAX];
	uint8_t point[65], d[32];
	if (argc != 5 || (strcmp(argv[1], "skf") != 0 && strcmp(argv[1], "gmt0009") != 0)) {
		fputs("usage: kmc_check skf|gmt0009 ENVELOPE RECIPIENT_KEY.pem CERT.pem\n", stderr);
		return 2;
	}
	bool skf = strcmp(argv[1], "skf") == 0;
	size_t env_len = file_read(argv[2], env, sizeof(env));
	if (env_len == 0)
		return failed("cannot read the envelope");
	EVP_PKEY *recipient = key_read(argv[3]);
	X509 *cert = cert_read(argv[4]);
	if (recipient == NULL || cert == NULL) {
		EVP_PKEY_free(recipient);
		X509_free(cert);
		return failed("cannot read the recipient key or the certificate");
	}
	/* The certificate's key must be SM2's curve: its encoded point is 04 || X || Y. */
	kh_test_sm2_point(X509_get0_pubkey(cert), point);
	/* SKF carries the enveloped pair's public key (offsets 80 and 144, right-aligned in 64
	 * bytes): say so plainly when it is another certificate's, before the support code's
	 * field-by-field assertions would stop at it. */
	if (skf && env_len == KH_ENVELOPE_SKF_LEN &&
	    (memcmp(env + 112, point + 1, 32) != 0 || memcmp(env + 176, point + 33, 32) != 0)) {
		EVP_PKEY_free(recipient);
		X509_free(cert);
		return failed("the envelope's public key is not the certificate's");
	}
	struct kh_slice blob = {env, env_len};
	bool opened = skf ? kh_test_skf_open(blob, recipient, point, d)
	                  : kh_test_gmt0009_open(blob, recipient, point, d);
	bool matches = opened && kh_test_sm2_scalar_matches(d, point);
	OPENSSL_cleanse(d, sizeof(d));
	EVP_PKEY_free(recipient);
	X509_free(cert);
	if (!opened)
		return failed("the recipient key does not open the envelope");
	if (!matches)
		return failed("the enveloped private key is not the certificate's");
	printf("%s ok: the private key matches the certificate\n", argv[1]);
	return 0;
}
