/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the "kh:v<N>:<base64>" text parser and decryption of whatever blob comes out of it (and
 * of the raw input taken as a blob), under fixed AES-256-GCM, SM4 and ChaCha20-Poly1305 keys and
 * an SM2 key made at start-up. Properties beyond "no crash":
 *   - the parser accepts only the canonical form: a text it accepts is re-encoded byte for byte
 *     from the version and blob it returned, and a refusal leaves the blob buffer empty;
 *   - nothing decrypts except the seeds made from SEED_PT under the fixed symmetric keys and
 *     binding (so any other success is a forgery), and a refusal leaves the plaintext buffer
 *     empty.
 * The valid seeds (corpus/keys_text/valid_*) are kh_keymat_encrypt(key, convergent or not,
 * {"fuzz-key-tag", 7, "fuzz context"}, SEED_PT) under the fixed key bytes below.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kh_codec.h"
#include "crypto/kh_crypto.h"
#include "keys/kh_keymat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEED_PT "fuzzing plaintext"
#define BUF_MAX (128u * 1024u)

static const uint8_t key_bytes[32] = "keyhold fuzzing key of 32 bytes";
/* keys[0..2]: AES-256-GCM, SM4, ChaCha20-Poly1305 from key_bytes; keys[3]: a fresh SM2 key. */
enum {
	SYMMETRIC_KEYS = 3
};
static struct kh_keymat *keys[4];
static size_t key_count;

static void setup(void)
{
	static const enum kh_key_type types[] = {KH_KEY_AES_256_GCM, KH_KEY_SM4,
	                                         KH_KEY_CHACHA20_POLY1305};
	struct kh_buf secret;
	struct kh_buf pub;

	if (kh_crypto_init() != KH_OK)
		abort();
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (kh_keymat_load(types[i], KH_SLICE(key_bytes, sizeof(key_bytes)),
		                   &keys[key_count++]) != KH_OK)
			abort();
	kh_buf_init(&secret, BUF_MAX, KH_BUF_SECURE);
	kh_buf_init(&pub, BUF_MAX, KH_BUF_PLAIN);
	if (kh_keymat_generate(KH_KEY_SM2, &secret, &pub) != KH_OK ||
	    kh_keymat_load(KH_KEY_SM2, kh_buf_slice(&secret), &keys[key_count++]) != KH_OK)
		abort();
	kh_buf_cleanup(&secret);
	kh_buf_cleanup(&pub);
}

/* An accepted text is exactly what the encoder makes of its parts. */
static void check_canonical(struct kh_slice text, uint32_t version, const struct kh_buf *blob)
{
	char prefix[KH_KEYMAT_PREFIX_MAX + 1];
	struct kh_buf again;

	if (version == 0 || blob->len == 0)
		abort();
	kh_buf_init(&again, BUF_MAX, KH_BUF_PLAIN);
	snprintf(prefix, sizeof(prefix), "kh:v%lu:", (unsigned long)version);
	if (kh_buf_append_cstr(&again, prefix) != KH_OK ||
	    kh_base64_encode(kh_buf_slice(blob), &again) != KH_OK ||
	    !kh_slice_eq(kh_buf_slice(&again), text))
		abort();
	kh_buf_cleanup(&again);
}

/* Success only for a seed: its plaintext, under a fixed symmetric key and the seeds' binding. */
static void try_decrypt(size_t key, struct kh_slice blob, uint32_t version)
{
	const struct kh_keymat_bind bind = {.key_tag = KH_SLICE_LIT("fuzz-key-tag"),
	                                    .version = version == 0 ? 7 : version,
	                                    .context = KH_SLICE_LIT("fuzz context")};
	struct kh_buf pt;
	kh_rc rc;

	kh_buf_init(&pt, BUF_MAX, KH_BUF_SECURE);
	rc = kh_keymat_decrypt(keys[key], &bind, blob, &pt);
	if (rc == KH_OK) {
		if (key >= SYMMETRIC_KEYS || bind.version != 7 ||
		    !kh_slice_eq(kh_buf_slice(&pt), KH_SLICE_LIT(SEED_PT)))
			abort();
	} else if (pt.len != 0) {
		abort();
	}
	kh_buf_cleanup(&pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct kh_slice in = KH_SLICE(data, size);
	struct kh_buf blob;
	uint32_t version = 0;

	if (!ready) {
		setup();
		ready = 1;
	}
	kh_buf_init(&blob, BUF_MAX, KH_BUF_PLAIN);
	if (kh_keymat_text_parse(in, &version, &blob) == KH_OK) {
		check_canonical(in, version, &blob);
		for (size_t i = 0; i < key_count; i++)
			try_decrypt(i, kh_buf_slice(&blob), version);
	} else if (blob.len != 0 || version != 0) {
		abort();
	}
	kh_buf_cleanup(&blob);

	/* The raw bytes as a blob reach the format checks without passing Base64 first. */
	for (size_t i = 0; i < key_count; i++)
		try_decrypt(i, in, 0);
	return 0;
}
