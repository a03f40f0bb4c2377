/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KHE1 envelope format without a server, under a fixed data key: round trips at every
 * awkward length around the chunk size, the documented layout (each chunk opened by hand with
 * the nonce and AAD that docs/cli.md describes), the header's strict decoding, and refusal of
 * every single-byte change, every truncation (cuts at chunk boundaries named as such), any
 * extension, reordered chunks and a wrong key; allocation failures on both directions.
 */
#include "kh_test.h"

#include <stdio.h>
#include <string.h>

#include "base/kh_endian.h"
#include "base/kh_mem.h"
#include "client/kh_envelope.h"
#include "crypto/kh_crypto.h"

#define CHUNK 1024u
#define TAG "0123456789abcdef0123456789abcdef"
#define DK "kh:v1:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8="

static const uint8_t key_bytes[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                      12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                      23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
#define KEY KH_SLICE(key_bytes, sizeof(key_bytes))

static int setup(void **state)
{
	(void)state;
	return kh_crypto_init() == KH_OK ? 0 : -1;
}

/* A temporary stream holding bytes. */
static FILE *stream_of(const uint8_t *p, size_t n)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	if (n > 0)
		assert_int_equal(fwrite(p, 1, n, f), n);
	rewind(f);
	return f;
}

/* The whole contents of a stream into a fresh plain buffer. */
static struct kh_buf contents(FILE *f)
{
	struct kh_buf b;
	uint8_t tmp[4096];
	size_t n;
	kh_buf_init(&b, 64u * 1024u * 1024u, KH_BUF_PLAIN);
	rewind(f);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		assert_int_equal(kh_buf_append(&b, KH_SLICE(tmp, n)), KH_OK);
	return b;
}

static struct kh_buf pattern(size_t n)
{
	struct kh_buf b;
	kh_buf_init(&b, n + 1, KH_BUF_PLAIN);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(kh_buf_append_byte(&b, (uint8_t)(i * 7 + 3)), KH_OK);
	return b;
}

/* Seals pt into a fresh envelope (chunk size CHUNK). */
static struct kh_buf seal(struct kh_slice pt, struct kh_envelope_header *h)
{
	FILE *in = stream_of(pt.ptr, pt.len), *out = tmpfile();
	assert_non_null(out);
	assert_int_equal(kh_envelope_header_init(h, TAG, DK, CHUNK), KH_OK);
	assert_int_equal(kh_envelope_seal(h, KEY, in, out, NULL), KH_OK);
	struct kh_buf env = contents(out);
	fclose(in);
	fclose(out);
	return env;
}

/* Opens an envelope: the header's result, then the chunks' (pt gets what was written). */
static kh_rc open_env(struct kh_slice env, struct kh_slice key, struct kh_buf *pt,
                      struct kh_envelope_fault *fault)
{
	struct kh_envelope_header h;
	char err[128] = "";
	FILE *in = stream_of(env.ptr, env.len), *out = tmpfile();
	assert_non_null(out);
	kh_rc rc = kh_envelope_header_read(in, &h, err, sizeof(err));
	if (rc == KH_OK)
		rc = kh_envelope_open(&h, key, in, out, NULL, fault);
	if (pt != NULL)
		*pt = contents(out);
	fclose(in);
	fclose(out);
	return rc;
}

static void round_trips_every_length_around_the_chunk_size(void **state)
{
	static const size_t lengths[] = {0,         1,         CHUNK - 1,     CHUNK,
	                                 CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17};
	(void)state;
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		struct kh_envelope_header h;
		struct kh_buf pt = pattern(lengths[i]), back;
		struct kh_buf env = seal(kh_buf_slice(&pt), &h);
		/* One record per started chunk; an empty input still has its final chunk. */
		size_t chunks = lengths[i] == 0 ? 1 : (lengths[i] + CHUNK - 1) / CHUNK;
		size_t header = 22 + strlen(TAG) + 2 + strlen(DK);
		assert_int_equal(env.len, header + lengths[i] + chunks * 16);
		assert_int_equal(open_env(kh_buf_slice(&env), KEY, &back, NULL), KH_OK);
		assert_int_equal(back.len, pt.len);
		if (pt.len > 0)
			assert_memory_equal(back.ptr, pt.ptr, pt.len);
		kh_buf_cleanup(&pt);
		kh_buf_cleanup(&back);
		kh_buf_cleanup(&env);
	}
}

/* docs/cli.md: nonce = base XOR (0^32 || BE64(i)), AAD = SHA-256(header) || BE64(i) || final. */
static void chunks_follow_the_documented_layout(void **state)
{
	struct kh_envelope_header h;
	struct kh_buf pt = pattern(CHUNK + 100);
	struct kh_buf env = seal(kh_buf_slice(&pt), &h);
	struct kh_aead_key *k = NULL;
	uint8_t hash[32], nonce[12], aad[41], out[CHUNK];
	size_t header = 22 + strlen(TAG) + 2 + strlen(DK);
	(void)state;
	assert_memory_equal(env.ptr, "KHE1\x01", 5);
	assert_int_equal(kh_be32_get(env.ptr + 5), CHUNK);
	assert_int_equal(env.ptr[21], strlen(TAG));
	assert_memory_equal(env.ptr + 22, TAG, strlen(TAG));
	assert_int_equal((size_t)env.ptr[54] << 8 | env.ptr[55], strlen(DK));
	assert_int_equal(kh_hash(KH_HASH_SHA256, KH_SLICE(env.ptr, header), hash, 32), KH_OK);
	assert_memory_equal(hash, h.hash, 32);
	assert_int_equal(kh_aead_key_new(KH_AEAD_AES_256_GCM, KEY, &k), KH_OK);
	const uint8_t *rec = env.ptr + header;
	for (uint64_t i = 0; i < 2; i++) {
		size_t n = i == 0 ? CHUNK : 100;
		memcpy(nonce, env.ptr + 9, 12);
		nonce[11] ^= (uint8_t)i;
		memcpy(aad, hash, 32);
		kh_be64_put(aad + 32, i);
		aad[40] = i == 1;
		assert_int_equal(kh_aead_open(k, KH_SLICE(nonce, 12), KH_SLICE(aad, 41),
		                              KH_SLICE(rec, n), KH_SLICE(rec + n, 16), out),
		                 KH_OK);
		assert_memory_equal(out, pt.ptr + i * CHUNK, n);
		rec += n + 16;
	}
	kh_aead_key_free(&k);
	kh_buf_cleanup(&pt);
	kh_buf_cleanup(&env);
}

static void header_round_trips_and_two_envelopes_differ(void **state)
{
	struct kh_envelope_header a, b, r;
	struct kh_buf pt = pattern(10);
	struct kh_buf e1 = seal(kh_buf_slice(&pt), &a), e2 = seal(kh_buf_slice(&pt), &b);
	char err[128];
	(void)state;
	FILE *in = stream_of(e1.ptr, e1.len);
	assert_int_equal(kh_envelope_header_read(in, &r, err, sizeof(err)), KH_OK);
	fclose(in);
	assert_string_equal(r.key_tag, TAG);
	assert_string_equal(r.dk_ciphertext, DK);
	assert_int_equal(r.chunk_size, CHUNK);
	assert_memory_equal(r.nonce_base, a.nonce_base, 12);
	assert_memory_equal(r.hash, a.hash, 32);
	/* A fresh random nonce base each time: the same input never seals the same way. */
	assert_memory_not_equal(a.nonce_base, b.nonce_base, 12);
	assert_memory_not_equal(e1.ptr, e2.ptr, e1.len);
	kh_buf_cleanup(&pt);
	kh_buf_cleanup(&e1);
	kh_buf_cleanup(&e2);
}

static void header_init_refuses_bad_tags_data_keys_and_chunk_sizes(void **state)
{
	struct kh_envelope_header h;
	(void)state;
	assert_int_equal(kh_envelope_header_init(&h, "a/b", DK, 0), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_envelope_header_init(&h, "..", DK, 0), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_envelope_header_init(&h, "", DK, 0), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_envelope_header_init(&h, TAG, "v1:abc", 0), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_envelope_header_init(&h, TAG, "kh:v1:a b", 0), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_envelope_header_init(&h, TAG, DK, 512), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_envelope_header_init(&h, TAG, DK, 2u * 1024u * 1024u),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_envelope_header_init(&h, TAG, DK, 0), KH_OK);
	assert_int_equal(h.chunk_size, KH_ENVELOPE_CHUNK_DEFAULT);
}

static void header_read_refuses_other_files_with_a_reason(void **state)
{
#define FIXED(alg, size, tag_len) "KHE1" alg size "............" tag_len
#define CASE(bytes, why)                                                                           \
	{                                                                                          \
		bytes, sizeof(bytes) - 1, why                                                      \
	}
	static const struct {
		const char *bytes;
		size_t len;
		const char *why;
	} cases[] = {
	    CASE("PK\x03\x04 a zip file, not ours.....", "not a keyhold envelope"),
	    CASE("KHE", "not a keyhold envelope"),
	    CASE("KHE1\x02", "not a keyhold envelope"), /* cut short in the fixed part */
	    CASE(FIXED("\x02", "\x00\x00\x04\x00", "\x01") "a", "unknown envelope algorithm"),
	    CASE(FIXED("\x01", "\x00\x00\x00\x10", "\x01") "a", "chunk size"),
	    CASE(FIXED("\x01", "\x00\x00\x04\x00", "\x00") "a", "tag length"),
	    CASE(FIXED("\x01", "\x00\x00\x04\x00", "\x01") "/"
	                                                   "\x00\x05"
	                                                   "kh:v1",
	         "tag malformed"),
	    CASE(FIXED("\x01", "\x00\x00\x04\x00", "\x01") "a"
	                                                   "\x00\x00",
	         "data key length"),
	    CASE(FIXED("\x01", "\x00\x00\x04\x00", "\x01") "a"
	                                                   "\x00\x05"
	                                                   "kh:v",
	         "cut short"),
	    CASE(FIXED("\x01", "\x00\x00\x04\x00", "\x01") "a"
	                                                   "\x00\x05"
	                                                   "xx:v1",
	         "data key malformed"),
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kh_envelope_header h;
		char err[128] = "";
		FILE *in = stream_of((const uint8_t *)cases[i].bytes, cases[i].len);
		assert_int_equal(kh_envelope_header_read(in, &h, err, sizeof(err)),
		                 KH_ERR_BAD_INPUT);
		assert_non_null(strstr(err, cases[i].why));
		fclose(in);
	}
}

static void any_changed_byte_is_refused(void **state)
{
	struct kh_envelope_header h;
	struct kh_buf pt = pattern(2 * CHUNK + 5);
	struct kh_buf env = seal(kh_buf_slice(&pt), &h);
	(void)state;
	for (size_t i = 0; i < env.len; i++) {
		struct kh_buf back;
		env.ptr[i] ^= 0x20;
		kh_rc rc = open_env(kh_buf_slice(&env), KEY, &back, NULL);
		assert_true(rc == KH_ERR_DECRYPT || rc == KH_ERR_BAD_INPUT);
		/* Nothing of the chunk that failed (or after it) reached the output. */
		assert_true(back.len <= pt.len && back.len % CHUNK == 0);
		env.ptr[i] ^= 0x20;
		kh_buf_cleanup(&back);
	}
	kh_buf_cleanup(&pt);
	kh_buf_cleanup(&env);
}

static void every_truncation_is_refused_and_cuts_at_chunks_are_named(void **state)
{
	struct kh_envelope_header h;
	struct kh_buf pt = pattern(3 * CHUNK);
	struct kh_buf env = seal(kh_buf_slice(&pt), &h);
	size_t header = env.len - 3 * (CHUNK + 16);
	(void)state;
	for (size_t n = 0; n < env.len; n++) {
		struct kh_envelope_fault f = {0, false};
		kh_rc rc = open_env(KH_SLICE(env.ptr, n), KEY, NULL, &f);
		assert_true(rc == KH_ERR_DECRYPT || rc == KH_ERR_BAD_INPUT);
		bool boundary = n > header && (n - header) % (CHUNK + 16) == 0;
		if (rc == KH_ERR_DECRYPT && (boundary || n == header))
			assert_true(f.truncated);
		if (boundary)
			assert_int_equal(f.chunk, (n - header) / (CHUNK + 16) - 1);
	}
	kh_buf_cleanup(&pt);
	kh_buf_cleanup(&env);
}

static void extension_reordering_and_a_wrong_key_are_refused(void **state)
{
	struct kh_envelope_header h;
	struct kh_buf pt = pattern(2 * CHUNK + 1);
	struct kh_buf env = seal(kh_buf_slice(&pt), &h);
	size_t rec = CHUNK + 16, header = env.len - 2 * rec - 17;
	uint8_t other[32];
	(void)state;
	/* A byte more, or the final chunk twice. */
	assert_int_equal(kh_buf_append_byte(&env, 0), KH_OK);
	assert_int_equal(open_env(kh_buf_slice(&env), KEY, NULL, NULL), KH_ERR_DECRYPT);
	kh_buf_truncate(&env, env.len - 1);
	struct kh_buf twice;
	kh_buf_init(&twice, env.len * 2, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&twice, kh_buf_slice(&env)), KH_OK);
	assert_int_equal(kh_buf_append(&twice, KH_SLICE(env.ptr + env.len - 17, 17)), KH_OK);
	assert_int_equal(open_env(kh_buf_slice(&twice), KEY, NULL, NULL), KH_ERR_DECRYPT);
	kh_buf_cleanup(&twice);
	/* Chunks 0 and 1 swapped. */
	uint8_t tmp[CHUNK + 16];
	memcpy(tmp, env.ptr + header, rec);
	memcpy(env.ptr + header, env.ptr + header + rec, rec);
	memcpy(env.ptr + header + rec, tmp, rec);
	assert_int_equal(open_env(kh_buf_slice(&env), KEY, NULL, NULL), KH_ERR_DECRYPT);
	memcpy(env.ptr + header + rec, env.ptr + header, rec);
	memcpy(env.ptr + header, tmp, rec);
	assert_int_equal(open_env(kh_buf_slice(&env), KEY, NULL, NULL), KH_OK);
	/* Another key. */
	memcpy(other, key_bytes, 32);
	other[0] ^= 1;
	assert_int_equal(open_env(kh_buf_slice(&env), KH_SLICE(other, 32), NULL, NULL),
	                 KH_ERR_DECRYPT);
	kh_buf_cleanup(&pt);
	kh_buf_cleanup(&env);
}

struct alloc_case {
	struct kh_buf pt;
	struct kh_buf env;
};

static kh_rc seal_for_alloc(void *arg)
{
	struct alloc_case *a = arg;
	struct kh_envelope_header h;
	FILE *in = stream_of(a->pt.ptr, a->pt.len), *out = tmpfile();
	assert_non_null(out);
	kh_rc rc = kh_envelope_header_init(&h, TAG, DK, CHUNK);
	if (rc == KH_OK)
		rc = kh_envelope_seal(&h, KEY, in, out, NULL);
	fclose(in);
	fclose(out);
	return rc;
}

static kh_rc open_for_alloc(void *arg)
{
	struct alloc_case *a = arg;
	return open_env(kh_buf_slice(&a->env), KEY, NULL, NULL);
}

static void allocation_failures_are_reported_without_leaks(void **state)
{
	struct kh_envelope_header h;
	struct alloc_case a;
	(void)state;
	a.pt = pattern(CHUNK + 3);
	a.env = seal(kh_buf_slice(&a.pt), &h);
	kh_test_alloc_failures(seal_for_alloc, &a);
	kh_test_alloc_failures(open_for_alloc, &a);
	kh_buf_cleanup(&a.pt);
	kh_buf_cleanup(&a.env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(round_trips_every_length_around_the_chunk_size),
	    cmocka_unit_test(chunks_follow_the_documented_layout),
	    cmocka_unit_test(header_round_trips_and_two_envelopes_differ),
	    cmocka_unit_test(header_init_refuses_bad_tags_data_keys_and_chunk_sizes),
	    cmocka_unit_test(header_read_refuses_other_files_with_a_reason),
	    cmocka_unit_test(any_changed_byte_is_refused),
	    cmocka_unit_test(every_truncation_is_refused_and_cuts_at_chunks_are_named),
	    cmocka_unit_test(extension_reordering_and_a_wrong_key_are_refused),
	    cmocka_unit_test(allocation_failures_are_reported_without_leaks),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
