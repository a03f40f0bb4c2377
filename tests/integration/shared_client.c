/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A C program that knows keyhold only through include/keyhold/keyhold.h and libkeyhold.so, as a
 * user's would, run against the real keyholdd by libkeyhold.sh:
 *   shared_client ADDRESS CA_FILE TOKEN_FILE WORK_DIR
 * It creates an AES key and an ECDSA P-256 key, encrypts and decrypts with a context (and fails
 * with the wrong one), asks for a data key, signs and verifies (and rejects an altered message),
 * and envelope-encrypts a 300 KiB file and decrypts it back. Exit 0 only if all of it held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyhold/keyhold.h"

static int failures;

static void check(int ok, const char *what, struct keyhold_client *c)
{
	if (ok)
		return;
	failures++;
	fprintf(stderr, "FAIL: %s (%s: %s)\n", what, c != NULL ? keyhold_client_error_code(c) : "",
	        c != NULL ? keyhold_client_error(c) : "");
}

static int same_files(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int same = fa != NULL && fb != NULL;
	while (same) {
		int ca = fgetc(fa), cb = fgetc(fb);
		same = ca == cb;
		if (ca == EOF || cb == EOF)
			break;
	}
	if (fa != NULL)
		fclose(fa);
	if (fb != NULL)
		fclose(fb);
	return same;
}

static void crypto(struct keyhold_client *c)
{
	char aes[KEYHOLD_TAG_SIZE], ec[KEYHOLD_TAG_SIZE];
	struct keyhold_buf ct = {0}, pt = {0}, dk = {0}, sealed = {0}, sig = {0};
	static const uint8_t msg[] = "attack at dawn";
	static const uint8_t ctx[] = "order:42", other[] = "order:43";
	bool valid = false;

	check(keyhold_key_create(c, "shared-aes", NULL, NULL, aes) == KEYHOLD_OK, "create aes", c);
	check(keyhold_key_create(c, "shared-ec", "ecdsa-p256", "sign-verify", ec) == KEYHOLD_OK,
	      "create ecdsa-p256", c);
	check(keyhold_encrypt(c, aes, msg, sizeof(msg), ctx, sizeof(ctx), &ct) == KEYHOLD_OK &&
	          ct.len > 6 && strncmp((const char *)ct.data, "kh:v1:", 6) == 0,
	      "encrypt", c);
	check(keyhold_decrypt(c, aes, (const char *)ct.data, ctx, sizeof(ctx), &pt) == KEYHOLD_OK &&
	          pt.len == sizeof(msg) && memcmp(pt.data, msg, sizeof(msg)) == 0,
	      "decrypt gives the plaintext back", c);
	keyhold_buf_free(&pt);
	check(keyhold_decrypt(c, aes, (const char *)ct.data, other, sizeof(other), &pt) ==
	              KEYHOLD_ERR_INVALID_CIPHERTEXT &&
	          strcmp(keyhold_client_error_code(c), "InvalidCiphertext") == 0,
	      "decrypt with another context is InvalidCiphertext", NULL);
	check(keyhold_data_key(c, aes, 256, NULL, 0, &dk, &sealed) == KEYHOLD_OK && dk.len == 32,
	      "data key", c);
	keyhold_buf_free(&pt);
	check(keyhold_decrypt(c, aes, (const char *)sealed.data, NULL, 0, &pt) == KEYHOLD_OK &&
	          pt.len == dk.len && memcmp(pt.data, dk.data, dk.len) == 0,
	      "the sealed data key decrypts to the data key", c);
	check(keyhold_sign(c, ec, msg, sizeof(msg), 0, NULL, &sig) == KEYHOLD_OK, "sign", c);
	check(keyhold_verify(c, ec, msg, sizeof(msg), 0, NULL, (const char *)sig.data, &valid) ==
	              KEYHOLD_OK &&
	          valid,
	      "verify", c);
	check(keyhold_verify(c, ec, msg, sizeof(msg) - 1, 0, NULL, (const char *)sig.data,
	                     &valid) == KEYHOLD_OK &&
	          !valid,
	      "an altered message does not verify", c);
	keyhold_buf_free(&ct);
	keyhold_buf_free(&pt);
	keyhold_buf_free(&dk);
	keyhold_buf_free(&sealed);
	keyhold_buf_free(&sig);
}

static void envelope(struct keyhold_client *c, const char *work)
{
	char aes[KEYHOLD_TAG_SIZE], plain[512], sealed[512], back[512];
	snprintf(plain, sizeof(plain), "%s/plain.bin", work);
	snprintf(sealed, sizeof(sealed), "%s/plain.bin.khe", work);
	snprintf(back, sizeof(back), "%s/back.bin", work);
	FILE *f = fopen(plain, "wb");
	check(f != NULL, "write the test file", NULL);
	if (f == NULL)
		return;
	for (unsigned i = 0; i < 300u * 1024u; i++)
		fputc((int)((i * 2654435761u) >> 24), f);
	fclose(f);
	check(keyhold_key_create(c, "shared-envelope", NULL, NULL, aes) == KEYHOLD_OK,
	      "create envelope key", c);
	check(keyhold_envelope_encrypt_file(c, aes, plain, sealed, NULL) == KEYHOLD_OK,
	      "envelope encrypt", c);
	check(!same_files(plain, sealed), "the envelope is not the plaintext", NULL);
	check(keyhold_envelope_decrypt_file(c, sealed, back, NULL) == KEYHOLD_OK,
	      "envelope decrypt", c);
	check(same_files(plain, back), "the envelope decrypts to the file", NULL);
}

int main(int argc, char **argv)
{
	struct keyhold_client *c = NULL;
	if (argc != 5) {
		fprintf(stderr, "usage: shared_client ADDRESS CA_FILE TOKEN_FILE WORK_DIR\n");
		return 2;
	}
	if (keyhold_global_init(0) != KEYHOLD_OK || keyhold_client_new(argv[1], &c) != KEYHOLD_OK ||
	    keyhold_client_set_ca_file(c, argv[2]) != KEYHOLD_OK ||
	    keyhold_client_set_token_file(c, argv[3]) != KEYHOLD_OK) {
		fprintf(stderr, "FAIL: client set-up\n");
		keyhold_client_free(&c);
		return 1;
	}
	crypto(c);
	envelope(c, argv[4]);
	keyhold_client_free(&c);
	if (failures == 0)
		printf("shared_client: all checks passed\n");
	return failures == 0 ? 0 : 1;
}
