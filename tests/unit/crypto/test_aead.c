/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Authenticated encryption. Known answers: AES-256-GCM from McGrew and Viega, "The Galois/Counter
 * Mode of Operation (GCM)" (the NIST submission), test cases 13 to 16; ChaCha20-Poly1305 from
 * RFC 8439 section 2.8.2; SM4-CTR + HMAC-SM3 from the openssl command line via
 * tests/data/gen_sm4_aead_vectors.sh (no standard defines this composition; the script first
 * checks the tool against the GM/T 0002-2012 SM4 and GM/T 0004-2012 SM3 samples). Then round
 * trips at awkward sizes (also in place), every kind of tampering, wrong lengths, key
 * duplication and allocation failures.
 */
#include "kh_test_crypto.h"

#include <string.h>

#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

static const enum kh_aead all_aeads[] = {KH_AEAD_AES_256_GCM, KH_AEAD_CHACHA20_POLY1305,
                                         KH_AEAD_SM4_CTR_HMAC_SM3};
#define ALL_AEAD_COUNT (sizeof(all_aeads) / sizeof(all_aeads[0]))

struct aead_vector {
	enum kh_aead alg;
	const char *key, *nonce, *aad, *pt, *ct, *tag;
};

#define GCM_K15 "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define GCM_P15                                                                                    \
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24" \
	"49a6b525b16aedf5aa0de657ba637b39"
#define GCM_C15                                                                                    \
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10" \
	"56828838c5f61e6393ba7a0abcc9f662"
#define KEY_00_1F "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static const struct aead_vector gcm_vectors[] = {
    /* McGrew-Viega test case 13: empty plaintext and AAD. */
    {KH_AEAD_AES_256_GCM, "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    /* Test case 14: one zero block. */
    {KH_AEAD_AES_256_GCM, "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    /* Test case 15: four blocks, no AAD. */
    {KH_AEAD_AES_256_GCM, GCM_K15, "cafebabefacedbaddecaf888", "", GCM_P15 "1aafd255",
     GCM_C15 "898015ad", "b094dac5d93471bdec1a502270e3cc6c"},
    /* Test case 16: 60 bytes of plaintext, 20 bytes of AAD. */
    {KH_AEAD_AES_256_GCM, GCM_K15, "cafebabefacedbaddecaf888",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2", GCM_P15, GCM_C15,
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

/*
 * AES-256-GCM with the 16-byte nonces AWS XKS may send. No published vector uses a 128-bit IV
 * with a 256-bit key, so these were computed from NIST SP 800-38D section 7.1 directly (J0 =
 * GHASH_H(IV || 0^64 || [len(IV)]_64), GCTR and GHASH written out in Python over an AES-ECB
 * block function) and agreed byte for byte with pyca/cryptography's AESGCM. The 12-byte
 * vector under the same key lets one key object switch between nonce lengths.
 */
static const struct aead_vector gcm_nonce16_vectors[] = {
    {KH_AEAD_AES_256_GCM, KEY_00_1F, "000102030405060708090a0b0c0d0e0f",
     "6b6579686f6c6420786b732031362d62797465206976" /* "keyhold xks 16-byte iv" */,
     "48656c6c6f20576f726c6421" /* "Hello World!" */, "2f09cc1a56c41d47ef93bf08",
     "da6ce5304db8a7a7882aa37ed4a54b28"},
    {KH_AEAD_AES_256_GCM, KEY_00_1F, "000102030405060708090a0b",
     "6b6579686f6c6420786b732031362d62797465206976", "48656c6c6f20576f726c6421",
     "0f67ba77aac59574ff2df3aa", "4046a4538df5fbc53b62493f6f1cb3d4"},
    {KH_AEAD_AES_256_GCM, KEY_00_1F, "101112131415161718191a1b1c1d1e1f", "",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c"
     "2d2e2f3031",
     "8a5b3863e3743da863029462bbad1f0ea09473cb241913da1219a6a044ea93494d0fa1b6e8b92ccb93afe23076"
     "f268b6d513",
     "fc3c83027bb79a2fadd340fe744b2f45"},
};

/* RFC 8439 section 2.8.2. */
static const struct aead_vector chacha_vectors[] = {
    {KH_AEAD_CHACHA20_POLY1305, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
     "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7",
     "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a20496620492"
     "0"
     "636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f7220746865206675747572652c2073"
     "756e73637265656e20776f756c642062652069742e",
     "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da927"
     "2"
     "8b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b48"
     "31d7bc3ff4def08e4b7a9de576d26586cec64b6116",
     "1ae10b594f09e26a7e902ecbd0600691"},
};

/* tests/data/gen_sm4_aead_vectors.sh (openssl enc -sm4-ctr and openssl mac HMAC-SM3); also
 * agreed with pyca/cryptography's SM4-CTR and HMAC-SM3. MAC_KEY = 00..0f, ENC_KEY = the
 * GM/T 0002-2012 sample key. */
#define SM4_KEY "000102030405060708090a0b0c0d0e0f0123456789abcdeffedcba9876543210"
static const struct aead_vector sm4_vectors[] = {
    /* No AAD; 43 bytes: two blocks and a partial one. */
    {KH_AEAD_SM4_CTR_HMAC_SM3, SM4_KEY, "101112131415161718191a1b", "",
     "54686520717569636b2062726f776e20666f78206a756d7073206f76657220746865206c617a7920646f67",
     "c62fa22ca5e844eaa2c1af92b6bd917f71ac1ae2d05d7a544a280f2a6cc3ede6b996ef44b8ec2f8ab385e2",
     "32bb83c3abf3895c4c7cbf5cf4bce940"},
    /* 20 bytes of AAD; exactly two blocks. */
    {KH_AEAD_SM4_CTR_HMAC_SM3, SM4_KEY, "202122232425262728292a2b",
     "6b6579686f6c6420736d34206161642074657374",
     "7369787465656e206279746520626c6b7369787465656e206279746520626c6b",
     "e7acfd11dfa100c328f395bd0fca1286772911027d19cdf5edcbc1ef11f13bbd",
     "7b94bb8f30a29c1e49b255b6387e8c04"},
    /* AAD with an empty plaintext. */
    {KH_AEAD_SM4_CTR_HMAC_SM3, SM4_KEY, "303132333435363738393a3b", "686561646572206f6e6c79", "",
     "", "8fff46c8efceb9606a07a548d66b194f"},
    /* Nothing but the nonce. */
    {KH_AEAD_SM4_CTR_HMAC_SM3, SM4_KEY, "404142434445464748494a4b", "", "", "",
     "d49a4253b5c31bf26c1225cae43476c1"},
};

struct vector_bufs {
	struct kh_buf key, nonce, aad, pt, ct, tag;
};

static void vector_load(const struct aead_vector *v, struct vector_bufs *b)
{
	b->key = kh_test_hex(v->key);
	b->nonce = kh_test_hex(v->nonce);
	b->aad = kh_test_hex(v->aad);
	b->pt = kh_test_hex(v->pt);
	b->ct = kh_test_hex(v->ct);
	b->tag = kh_test_hex(v->tag);
}

static void vector_free(struct vector_bufs *b)
{
	kh_buf_cleanup(&b->key);
	kh_buf_cleanup(&b->nonce);
	kh_buf_cleanup(&b->aad);
	kh_buf_cleanup(&b->pt);
	kh_buf_cleanup(&b->ct);
	kh_buf_cleanup(&b->tag);
}

/* Seals and opens one vector with key object k, separately and in place. */
static void vector_check_with(struct kh_aead_key *k, const struct aead_vector *v)
{
	struct vector_bufs b;
	uint8_t out[256];
	uint8_t tag[KH_AEAD_TAG_LEN];

	vector_load(v, &b);
	assert_true(b.pt.len <= sizeof(out));
	assert_int_equal(b.tag.len, KH_AEAD_TAG_LEN);
	assert_int_equal(kh_aead_seal(k, kh_buf_slice(&b.nonce), kh_buf_slice(&b.aad),
	                              kh_buf_slice(&b.pt), out, tag),
	                 KH_OK);
	assert_memory_equal(out, b.ct.ptr, b.ct.len);
	assert_memory_equal(tag, b.tag.ptr, KH_AEAD_TAG_LEN);

	memset(out, 0xa5, sizeof(out));
	assert_int_equal(kh_aead_open(k, kh_buf_slice(&b.nonce), kh_buf_slice(&b.aad),
	                              kh_buf_slice(&b.ct), kh_buf_slice(&b.tag), out),
	                 KH_OK);
	assert_memory_equal(out, b.pt.ptr, b.pt.len);

	/* In place: the plaintext buffer becomes the ciphertext and back. */
	if (b.pt.len > 0) {
		memcpy(out, b.pt.ptr, b.pt.len);
		assert_int_equal(kh_aead_seal(k, kh_buf_slice(&b.nonce), kh_buf_slice(&b.aad),
		                              KH_SLICE(out, b.pt.len), out, tag),
		                 KH_OK);
		assert_memory_equal(out, b.ct.ptr, b.ct.len);
		assert_memory_equal(tag, b.tag.ptr, KH_AEAD_TAG_LEN);
		assert_int_equal(kh_aead_open(k, kh_buf_slice(&b.nonce), kh_buf_slice(&b.aad),
		                              KH_SLICE(out, b.ct.len), KH_SLICE(tag, sizeof(tag)),
		                              out),
		                 KH_OK);
		assert_memory_equal(out, b.pt.ptr, b.pt.len);
	}
	vector_free(&b);
}

/*
 * Each vector on a fresh key object (whose caller copy of the key is wiped at once), then all
 * vectors in order, twice, on one object per key: the per-message state must reset between
 * messages while the key schedule stays.
 */
static void vectors_check(const struct aead_vector *v, size_t count)
{
	struct kh_aead_key *shared = NULL;
	const char *shared_key = NULL;

	for (size_t i = 0; i < count; i++) {
		struct kh_buf key = kh_test_hex(v[i].key);
		struct kh_aead_key *k = NULL;

		assert_int_equal(kh_aead_key_new(v[i].alg, kh_buf_slice(&key), &k), KH_OK);
		kh_wipe(key.ptr, key.len);
		kh_buf_cleanup(&key);
		assert_int_equal(kh_aead_key_alg(k), v[i].alg);
		vector_check_with(k, &v[i]);
		kh_aead_key_free(&k);
		assert_null(k);
	}
	for (size_t round = 0; round < 2; round++) {
		for (size_t i = 0; i < count; i++) {
			if (shared == NULL || strcmp(shared_key, v[i].key) != 0) {
				struct kh_buf key = kh_test_hex(v[i].key);

				kh_aead_key_free(&shared);
				assert_int_equal(
				    kh_aead_key_new(v[i].alg, kh_buf_slice(&key), &shared), KH_OK);
				shared_key = v[i].key;
				kh_buf_cleanup(&key);
			}
			vector_check_with(shared, &v[i]);
		}
	}
	kh_aead_key_free(&shared);
}

static void aes_256_gcm_matches_mcgrew_viega_test_cases_13_to_16(void **state)
{
	(void)state;
	vectors_check(gcm_vectors, sizeof(gcm_vectors) / sizeof(gcm_vectors[0]));
}

static void aes_256_gcm_accepts_16_byte_xks_nonces_and_switches_back_to_12(void **state)
{
	(void)state;
	vectors_check(gcm_nonce16_vectors,
	              sizeof(gcm_nonce16_vectors) / sizeof(gcm_nonce16_vectors[0]));
}

static void chacha20_poly1305_matches_rfc8439_section_2_8_2(void **state)
{
	(void)state;
	vectors_check(chacha_vectors, sizeof(chacha_vectors) / sizeof(chacha_vectors[0]));
}

static void sm4_ctr_hmac_sm3_matches_independent_openssl_cli_vectors(void **state)
{
	(void)state;
	vectors_check(sm4_vectors, sizeof(sm4_vectors) / sizeof(sm4_vectors[0]));
}

/* ---- Round trips ---- */

static struct kh_aead_key *random_key(enum kh_aead alg)
{
	uint8_t raw[KH_AEAD_KEY_LEN];
	struct kh_aead_key *k = NULL;

	assert_int_equal(kh_rand_bytes(raw, sizeof(raw)), KH_OK);
	assert_int_equal(kh_aead_key_new(alg, KH_SLICE(raw, sizeof(raw)), &k), KH_OK);
	kh_wipe(raw, sizeof(raw));
	return k;
}

static const size_t round_trip_sizes[] = {0, 1, 15, 16, 17, 1024, 32768};

static void round_trip(struct kh_aead_key *k, size_t nonce_len, size_t aad_len, size_t len)
{
	uint8_t nonce[16];
	uint8_t aad[64];
	uint8_t tag[KH_AEAD_TAG_LEN];
	uint8_t tag2[KH_AEAD_TAG_LEN];
	uint8_t *pt = kh_alloc(len);
	uint8_t *ct = kh_alloc(len);
	uint8_t *back = kh_alloc(len);
	uint8_t *inplace = kh_alloc(len);
	struct kh_slice n = KH_SLICE(nonce, nonce_len);
	struct kh_slice a = KH_SLICE(aad, aad_len);

	assert_true(pt && ct && back && inplace);
	assert_int_equal(kh_rand_bytes(nonce, sizeof(nonce)), KH_OK);
	assert_int_equal(kh_rand_bytes(aad, sizeof(aad)), KH_OK);
	assert_int_equal(kh_rand_bytes(pt, len), KH_OK);

	assert_int_equal(kh_aead_seal(k, n, a, KH_SLICE(pt, len), ct, tag), KH_OK);
	if (len >= 16)
		assert_memory_not_equal(ct, pt, len);
	assert_int_equal(kh_aead_open(k, n, a, KH_SLICE(ct, len), KH_SLICE(tag, sizeof(tag)), back),
	                 KH_OK);
	assert_memory_equal(back, pt, len);

	/* In place gives the same ciphertext and tag, and opens in place. */
	memcpy(inplace, pt, len);
	assert_int_equal(kh_aead_seal(k, n, a, KH_SLICE(inplace, len), inplace, tag2), KH_OK);
	assert_memory_equal(inplace, ct, len);
	assert_memory_equal(tag2, tag, sizeof(tag));
	assert_int_equal(
	    kh_aead_open(k, n, a, KH_SLICE(inplace, len), KH_SLICE(tag, sizeof(tag)), inplace),
	    KH_OK);
	assert_memory_equal(inplace, pt, len);

	kh_free(&pt);
	kh_free(&ct);
	kh_free(&back);
	kh_free(&inplace);
}

static void every_aead_round_trips_random_data_of_awkward_sizes_also_in_place(void **state)
{
	(void)state;
	for (size_t a = 0; a < ALL_AEAD_COUNT; a++) {
		struct kh_aead_key *k = random_key(all_aeads[a]);

		for (size_t i = 0; i < sizeof(round_trip_sizes) / sizeof(round_trip_sizes[0]);
		     i++) {
			round_trip(k, KH_AEAD_NONCE_LEN, 0, round_trip_sizes[i]);
			round_trip(k, KH_AEAD_NONCE_LEN, 13, round_trip_sizes[i]);
			round_trip(k, KH_AEAD_NONCE_LEN, 64, round_trip_sizes[i]);
			if (all_aeads[a] == KH_AEAD_AES_256_GCM)
				round_trip(k, 16, 13, round_trip_sizes[i]);
		}
		kh_aead_key_free(&k);
	}
}

static void empty_aad_with_null_pointer_equals_empty_aad_with_a_pointer(void **state)
{
	uint8_t nonce[KH_AEAD_NONCE_LEN] = {1};
	uint8_t pt[20] = {2};
	uint8_t ct1[20], ct2[20], tag1[16], tag2[16];
	(void)state;
	for (size_t a = 0; a < ALL_AEAD_COUNT; a++) {
		struct kh_aead_key *k = random_key(all_aeads[a]);

		assert_int_equal(kh_aead_seal(k, KH_SLICE(nonce, sizeof(nonce)), KH_SLICE_EMPTY,
		                              KH_SLICE(pt, sizeof(pt)), ct1, tag1),
		                 KH_OK);
		assert_int_equal(kh_aead_seal(k, KH_SLICE(nonce, sizeof(nonce)), KH_SLICE(pt, 0),
		                              KH_SLICE(pt, sizeof(pt)), ct2, tag2),
		                 KH_OK);
		assert_memory_equal(ct1, ct2, sizeof(ct1));
		assert_memory_equal(tag1, tag2, sizeof(tag1));
		kh_aead_key_free(&k);
	}
}

/* ---- Tampering ---- */

enum {
	T_LEN = 33,
	T_AAD = 21
};

struct sealed {
	uint8_t nonce[KH_AEAD_NONCE_LEN];
	uint8_t aad[T_AAD];
	uint8_t pt[T_LEN];
	uint8_t ct[T_LEN];
	uint8_t tag[KH_AEAD_TAG_LEN + 1];
};

static void seal_sample(struct kh_aead_key *k, struct sealed *s)
{
	assert_int_equal(kh_rand_bytes(s->nonce, sizeof(s->nonce)), KH_OK);
	assert_int_equal(kh_rand_bytes(s->aad, sizeof(s->aad)), KH_OK);
	assert_int_equal(kh_rand_bytes(s->pt, sizeof(s->pt)), KH_OK);
	assert_int_equal(kh_aead_seal(k, KH_SLICE(s->nonce, sizeof(s->nonce)),
	                              KH_SLICE(s->aad, sizeof(s->aad)),
	                              KH_SLICE(s->pt, sizeof(s->pt)), s->ct, s->tag),
	                 KH_OK);
	s->tag[KH_AEAD_TAG_LEN] = 0;
}

/* Opening must fail with KH_ERR_DECRYPT and leave only zeros in pt_out. */
static void open_must_fail(struct kh_aead_key *k, struct kh_slice nonce, struct kh_slice aad,
                           struct kh_slice ct, struct kh_slice tag)
{
	uint8_t out[T_LEN + 8];
	uint8_t zero[T_LEN + 8] = {0};

	assert_true(ct.len <= sizeof(out));
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(kh_aead_open(k, nonce, aad, ct, tag, out), KH_ERR_DECRYPT);
	assert_memory_equal(out, zero, ct.len);
}

/* The object still works after failures: no state from a forgery leaks into the next call. */
static void open_must_succeed(struct kh_aead_key *k, const struct sealed *s)
{
	uint8_t out[T_LEN];

	assert_int_equal(
	    kh_aead_open(k, KH_SLICE(s->nonce, sizeof(s->nonce)), KH_SLICE(s->aad, sizeof(s->aad)),
	                 KH_SLICE(s->ct, sizeof(s->ct)), KH_SLICE(s->tag, KH_AEAD_TAG_LEN), out),
	    KH_OK);
	assert_memory_equal(out, s->pt, sizeof(out));
}

static void open_rejects_any_flipped_bit_of_tag_ciphertext_nonce_or_aad(void **state)
{
	(void)state;
	for (size_t a = 0; a < ALL_AEAD_COUNT; a++) {
		struct kh_aead_key *k = random_key(all_aeads[a]);
		struct sealed s;
		struct kh_slice n = KH_SLICE(s.nonce, sizeof(s.nonce));
		struct kh_slice aad = KH_SLICE(s.aad, sizeof(s.aad));
		struct kh_slice ct = KH_SLICE(s.ct, sizeof(s.ct));
		struct kh_slice tag = KH_SLICE(s.tag, KH_AEAD_TAG_LEN);

		seal_sample(k, &s);
		open_must_succeed(k, &s);
		for (size_t bit = 0; bit < KH_AEAD_TAG_LEN * 8; bit++) {
			s.tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			open_must_fail(k, n, aad, ct, tag);
			s.tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		for (size_t bit = 0; bit < sizeof(s.ct) * 8; bit++) {
			s.ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			open_must_fail(k, n, aad, ct, tag);
			s.ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		for (size_t bit = 0; bit < sizeof(s.nonce) * 8; bit++) {
			s.nonce[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			open_must_fail(k, n, aad, ct, tag);
			s.nonce[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		for (size_t bit = 0; bit < sizeof(s.aad) * 8; bit++) {
			s.aad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			open_must_fail(k, n, aad, ct, tag);
			s.aad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		open_must_succeed(k, &s);
		kh_aead_key_free(&k);
	}
}

static void open_rejects_missing_extra_or_moved_aad_and_truncated_ciphertext(void **state)
{
	(void)state;
	for (size_t a = 0; a < ALL_AEAD_COUNT; a++) {
		struct kh_aead_key *k = random_key(all_aeads[a]);
		struct sealed s;
		struct kh_slice n = KH_SLICE(s.nonce, sizeof(s.nonce));
		struct kh_slice tag = KH_SLICE(s.tag, KH_AEAD_TAG_LEN);
		uint8_t joined[T_AAD + T_LEN];

		seal_sample(k, &s);
		struct kh_slice ct = KH_SLICE(s.ct, sizeof(s.ct));
		open_must_fail(k, n, KH_SLICE_EMPTY, ct, tag);
		open_must_fail(k, n, KH_SLICE(s.aad, sizeof(s.aad) - 1), ct, tag);
		open_must_fail(k, n, KH_SLICE(s.aad + 1, sizeof(s.aad) - 1), ct, tag);
		/* Bytes moved across the AAD / ciphertext boundary (what the SM4 tag's AAD length
		 * field and GCM's length block exist to catch). */
		memcpy(joined, s.aad, sizeof(s.aad));
		memcpy(joined + sizeof(s.aad), s.ct, sizeof(s.ct));
		open_must_fail(k, n, KH_SLICE(joined, sizeof(s.aad) + 1),
		               KH_SLICE(joined + sizeof(s.aad) + 1, sizeof(s.ct) - 1), tag);
		open_must_fail(k, n, KH_SLICE(joined, sizeof(s.aad) - 1),
		               KH_SLICE(joined + sizeof(s.aad) - 1, sizeof(s.ct) + 1), tag);
		open_must_fail(k, n, KH_SLICE(s.aad, sizeof(s.aad)),
		               KH_SLICE(s.ct, sizeof(s.ct) - 1), tag);
		open_must_fail(k, n, KH_SLICE(s.aad, sizeof(s.aad)), KH_SLICE(s.ct, 0), tag);
		open_must_succeed(k, &s);
		kh_aead_key_free(&k);
	}
}

/* Documented in aead.c: a tag that is not exactly 16 bytes is a failed open (KH_ERR_DECRYPT),
 * even when it is a correct prefix. */
static void open_rejects_truncated_and_overlong_tags_as_decrypt_errors(void **state)
{
	(void)state;
	for (size_t a = 0; a < ALL_AEAD_COUNT; a++) {
		struct kh_aead_key *k = random_key(all_aeads[a]);
		struct sealed s;
		struct kh_slice n = KH_SLICE(s.nonce, sizeof(s.nonce));
		struct kh_slice aad = KH_SLICE(s.aad, sizeof(s.aad));
		struct kh_slice ct = KH_SLICE(s.ct, sizeof(s.ct));

		seal_sample(k, &s);
		for (size_t len = 0; len < KH_AEAD_TAG_LEN; len++)
			open_must_fail(k, n, aad, ct, KH_SLICE(s.tag, len));
		open_must_fail(k, n, aad, ct, KH_SLICE(s.tag, KH_AEAD_TAG_LEN + 1));
		open_must_fail(k, n, aad, ct, KH_SLICE_EMPTY);
		open_must_succeed(k, &s);
		kh_aead_key_free(&k);
	}
}

static void open_under_another_key_or_algorithm_fails(void **state)
{
	uint8_t raw[KH_AEAD_KEY_LEN];
	(void)state;
	assert_int_equal(kh_rand_bytes(raw, sizeof(raw)), KH_OK);
	for (size_t a = 0; a < ALL_AEAD_COUNT; a++) {
		struct kh_aead_key *k = NULL;
		struct kh_aead_key *other = random_key(all_aeads[a]);
		struct sealed s;

		assert_int_equal(kh_aead_key_new(all_aeads[a], KH_SLICE(raw, sizeof(raw)), &k),
		                 KH_OK);
		seal_sample(k, &s);
		open_must_fail(other, KH_SLICE(s.nonce, sizeof(s.nonce)),
		               KH_SLICE(s.aad, sizeof(s.aad)), KH_SLICE(s.ct, sizeof(s.ct)),
		               KH_SLICE(s.tag, KH_AEAD_TAG_LEN));
		/* The same key bytes under every other algorithm. */
		for (size_t b = 0; b < ALL_AEAD_COUNT; b++) {
			struct kh_aead_key *same_bytes = NULL;

			if (b == a)
				continue;
			assert_int_equal(
			    kh_aead_key_new(all_aeads[b], KH_SLICE(raw, sizeof(raw)), &same_bytes),
			    KH_OK);
			open_must_fail(same_bytes, KH_SLICE(s.nonce, sizeof(s.nonce)),
			               KH_SLICE(s.aad, sizeof(s.aad)), KH_SLICE(s.ct, sizeof(s.ct)),
			               KH_SLICE(s.tag, KH_AEAD_TAG_LEN));
			kh_aead_key_free(&same_bytes);
		}
		kh_aead_key_free(&k);
		kh_aead_key_free(&other);
	}
}

/* ---- Refusals ---- */

static void key_new_refuses_wrong_key_lengths_and_unknown_algorithms(void **state)
{
	static const size_t bad_lens[] = {0, 1, 16, 24, 31, 33, 64};
	static const int bad_algs[] = {0, KH_AEAD_SM4_CTR_HMAC_SM3 + 1, 99, -1};
	uint8_t raw[64] = {0};
	(void)state;
	for (size_t a = 0; a < ALL_AEAD_COUNT; a++) {
		for (size_t i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
			struct kh_aead_key *k = (struct kh_aead_key *)(uintptr_t)0x1;

			assert_int_equal(
			    kh_aead_key_new(all_aeads[a], KH_SLICE(raw, bad_lens[i]), &k),
			    KH_ERR_BAD_KEY);
			assert_true(k == (struct kh_aead_key *)(uintptr_t)0x1); /* untouched */
		}
	}
	for (size_t i = 0; i < sizeof(bad_algs) / sizeof(bad_algs[0]); i++) {
		struct kh_aead_key *k = NULL;

		assert_int_equal(
		    kh_aead_key_new((enum kh_aead)bad_algs[i], KH_SLICE(raw, KH_AEAD_KEY_LEN), &k),
		    KH_ERR_BAD_INPUT);
		assert_null(k);
	}
}

static void seal_and_open_refuse_wrong_nonce_lengths(void **state)
{
	static const size_t lens[] = {0, 1, 8, 11, 13, 15, 16, 17, 24, 32};
	uint8_t nonce[32] = {0};
	uint8_t buf[8] = {0};
	uint8_t out[8] = {0};
	uint8_t tag[KH_AEAD_TAG_LEN] = {0};
	(void)state;
	for (size_t a = 0; a < ALL_AEAD_COUNT; a++) {
		struct kh_aead_key *k = random_key(all_aeads[a]);

		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			struct kh_slice n = KH_SLICE(nonce, lens[i]);

			if (lens[i] == 16 && all_aeads[a] == KH_AEAD_AES_256_GCM)
				continue; /* the XKS length, accepted by GCM only */
			assert_int_equal(kh_aead_seal(k, n, KH_SLICE_EMPTY,
			                              KH_SLICE(buf, sizeof(buf)), out, tag),
			                 KH_ERR_BAD_INPUT);
			assert_int_equal(kh_aead_open(k, n, KH_SLICE_EMPTY,
			                              KH_SLICE(buf, sizeof(buf)),
			                              KH_SLICE(tag, sizeof(tag)), out),
			                 KH_ERR_BAD_INPUT);
		}
		kh_aead_key_free(&k);
	}
}

static void seal_and_open_refuse_inputs_above_2_pow_31_before_reading_them(void **state)
{
	uint8_t nonce[KH_AEAD_NONCE_LEN] = {0};
	uint8_t byte = 0;
	uint8_t tag[KH_AEAD_TAG_LEN] = {0};
	const size_t huge = ((size_t)1 << 31) + 1;
	(void)state;
	for (size_t a = 0; a < ALL_AEAD_COUNT; a++) {
		struct kh_aead_key *k = random_key(all_aeads[a]);
		struct kh_slice n = KH_SLICE(nonce, sizeof(nonce));

		/* The lengths are checked before any byte is touched, so a 1-byte buffer is safe.
		 */
		assert_int_equal(
		    kh_aead_seal(k, n, KH_SLICE_EMPTY, KH_SLICE(&byte, huge), &byte, tag),
		    KH_ERR_TOO_LARGE);
		assert_int_equal(
		    kh_aead_seal(k, n, KH_SLICE(&byte, huge), KH_SLICE(&byte, 1), &byte, tag),
		    KH_ERR_TOO_LARGE);
		assert_int_equal(kh_aead_open(k, n, KH_SLICE_EMPTY, KH_SLICE(&byte, huge),
		                              KH_SLICE(tag, sizeof(tag)), &byte),
		                 KH_ERR_TOO_LARGE);
		assert_int_equal(kh_aead_open(k, n, KH_SLICE(&byte, huge), KH_SLICE(&byte, 1),
		                              KH_SLICE(tag, sizeof(tag)), &byte),
		                 KH_ERR_TOO_LARGE);
		kh_aead_key_free(&k);
	}
}

/* ---- Key objects ---- */

static void key_dup_is_an_independent_equal_key(void **state)
{
	(void)state;
	for (size_t a = 0; a < ALL_AEAD_COUNT; a++) {
		struct kh_aead_key *k = random_key(all_aeads[a]);
		struct kh_aead_key *d = NULL;
		struct sealed s;

		assert_int_equal(kh_aead_key_dup(k, &d), KH_OK);
		assert_non_null(d);
		assert_ptr_not_equal(d, k);
		assert_int_equal(kh_aead_key_alg(d), all_aeads[a]);
		seal_sample(k, &s);
		open_must_succeed(d, &s);
		kh_aead_key_free(&k);
		/* The copy outlives the original. */
		open_must_succeed(d, &s);
		seal_sample(d, &s);
		open_must_succeed(d, &s);
		kh_aead_key_free(&d);
		kh_aead_key_free(&d);
	}
	kh_aead_key_free(NULL);
}

/* Create, seal, open, free: every allocation on the way may fail. */
static kh_rc key_lifecycle(void *p)
{
	enum kh_aead alg = *(const enum kh_aead *)p;
	static const uint8_t raw[KH_AEAD_KEY_LEN] = {7};
	uint8_t nonce[KH_AEAD_NONCE_LEN] = {0};
	uint8_t buf[24] = {0};
	uint8_t tag[KH_AEAD_TAG_LEN];
	struct kh_aead_key *k = NULL;
	kh_rc rc;

	rc = kh_aead_key_new(alg, KH_SLICE(raw, sizeof(raw)), &k);
	if (rc == KH_OK)
		rc = kh_aead_seal(k, KH_SLICE(nonce, sizeof(nonce)), KH_SLICE_EMPTY,
		                  KH_SLICE(buf, sizeof(buf)), buf, tag);
	if (rc == KH_OK)
		rc = kh_aead_open(k, KH_SLICE(nonce, sizeof(nonce)), KH_SLICE_EMPTY,
		                  KH_SLICE(buf, sizeof(buf)), KH_SLICE(tag, sizeof(tag)), buf);
	kh_aead_key_free(&k);
	return rc;
}

static struct kh_aead_key *dup_source;

static kh_rc dup_lifecycle(void *p)
{
	struct kh_aead_key *d = NULL;
	kh_rc rc;

	(void)p;
	rc = kh_aead_key_dup(dup_source, &d);
	kh_aead_key_free(&d);
	return rc;
}

static void key_new_and_dup_return_nomem_without_leaking_on_every_allocation_failure(void **state)
{
	(void)state;
	for (size_t a = 0; a < ALL_AEAD_COUNT; a++) {
		enum kh_aead alg = all_aeads[a];

		kh_test_alloc_failures(key_lifecycle, &alg);
		dup_source = random_key(all_aeads[a]);
		kh_test_alloc_failures(dup_lifecycle, NULL);
		kh_aead_key_free(&dup_source);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(aes_256_gcm_matches_mcgrew_viega_test_cases_13_to_16),
	    cmocka_unit_test(aes_256_gcm_accepts_16_byte_xks_nonces_and_switches_back_to_12),
	    cmocka_unit_test(chacha20_poly1305_matches_rfc8439_section_2_8_2),
	    cmocka_unit_test(sm4_ctr_hmac_sm3_matches_independent_openssl_cli_vectors),
	    cmocka_unit_test(every_aead_round_trips_random_data_of_awkward_sizes_also_in_place),
	    cmocka_unit_test(empty_aad_with_null_pointer_equals_empty_aad_with_a_pointer),
	    cmocka_unit_test(open_rejects_any_flipped_bit_of_tag_ciphertext_nonce_or_aad),
	    cmocka_unit_test(open_rejects_missing_extra_or_moved_aad_and_truncated_ciphertext),
	    cmocka_unit_test(open_rejects_truncated_and_overlong_tags_as_decrypt_errors),
	    cmocka_unit_test(open_under_another_key_or_algorithm_fails),
	    cmocka_unit_test(key_new_refuses_wrong_key_lengths_and_unknown_algorithms),
	    cmocka_unit_test(seal_and_open_refuse_wrong_nonce_lengths),
	    cmocka_unit_test(seal_and_open_refuse_inputs_above_2_pow_31_before_reading_them),
	    cmocka_unit_test(key_dup_is_an_independent_equal_key),
	    cmocka_unit_test(
	        key_new_and_dup_return_nomem_without_leaking_on_every_allocation_failure),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
