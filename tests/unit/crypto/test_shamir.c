/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shamir secret sharing over GF(2^8): the field arithmetic against FIPS 197 section 4.2 and a
 * slow reference, recovery from every threshold-sized subset, perfect secrecy of threshold - 1
 * shares proven by enumerating every polynomial, and refusal of mistyped, foreign, duplicated,
 * forged, truncated and too few shares with the offending position named. Split and combine
 * must keep shares and secrets in secure memory, clear their outputs on failure, and return
 * KH_ERR_NOMEM without leaking when any allocation fails.
 */
#include "kh_test_crypto.h"

#include <string.h>

#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "crypto/kh_shamir_int.h"

#define SHARE_MAX (KH_SHAMIR_OVERHEAD + KH_LIMIT_SHAMIR_SECRET_BYTES)
#define MAX_SHARES KH_LIMIT_SHARES_MAX

static const uint8_t fixed_set_id[KH_SHAMIR_SET_ID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};

/* Deterministic choices (subsets, orders) so that a failure reproduces. */
static uint32_t rng_state = 0x9e3779b9u;

static uint32_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* ---- Helpers ---- */

static void init_shares(struct kh_buf *bufs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		kh_buf_init(&bufs[i], SHARE_MAX, KH_BUF_SECURE);
}

static void free_shares(struct kh_buf *bufs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		kh_buf_cleanup(&bufs[i]);
}

static void split_ok(struct kh_slice secret, unsigned n, unsigned k, struct kh_buf *bufs)
{
	init_shares(bufs, n);
	assert_int_equal(kh_shamir_split(secret, n, k, bufs), KH_OK);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(bufs[i].len, KH_SHAMIR_OVERHEAD + secret.len);
		assert_true(kh_secure_owns(bufs[i].ptr));
	}
}

/* Shares split with fixed coefficients c(j, t) = 17 j + 31 t + 5 and fixed set id. */
static void split_fixed(struct kh_slice secret, unsigned n, unsigned k, struct kh_buf *bufs)
{
	uint8_t coeffs[KH_LIMIT_SHAMIR_SECRET_BYTES * (MAX_SHARES - 1)];
	size_t len = secret.len * (k - 1);

	for (size_t j = 0; j < secret.len; j++)
		for (size_t t = 1; t < k; t++)
			coeffs[j * (k - 1) + t - 1] = (uint8_t)(17 * j + 31 * t + 5);
	init_shares(bufs, n);
	assert_int_equal(
	    kh_shamir_split_with_coeffs(secret, n, k, fixed_set_id, KH_SLICE(coeffs, len), bufs),
	    KH_OK);
}

/* Combines and asserts the exact secret comes back, in secure memory. */
static void combine_ok(const struct kh_slice *shares, size_t count, struct kh_slice want)
{
	struct kh_buf out;
	size_t bad = 12345;

	kh_buf_init(&out, KH_LIMIT_SHAMIR_SECRET_BYTES, KH_BUF_SECURE);
	assert_int_equal(kh_shamir_combine(shares, count, &out, &bad), KH_OK);
	assert_int_equal(bad, 12345); /* only written for KH_ERR_BAD_SHARE */
	assert_int_equal(out.len, want.len);
	assert_memory_equal(out.ptr, want.ptr, want.len);
	assert_true(kh_secure_owns(out.ptr));
	kh_buf_cleanup(&out);
}

/* Combine must fail with KH_ERR_BAD_SHARE naming position pos, and leave out as it was. */
static void combine_bad(const struct kh_slice *shares, size_t count, size_t pos)
{
	struct kh_buf out;
	size_t bad = 12345;

	kh_buf_init(&out, KH_LIMIT_SHAMIR_SECRET_BYTES + 4, KH_BUF_SECURE);
	assert_int_equal(kh_buf_append(&out, KH_SLICE_LIT("keep")), KH_OK);
	assert_int_equal(kh_shamir_combine(shares, count, &out, &bad), KH_ERR_BAD_SHARE);
	assert_int_equal(bad, pos);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.ptr, "keep", 4);
	/* NULL out_bad_share is allowed. */
	assert_int_equal(kh_shamir_combine(shares, count, &out, NULL), KH_ERR_BAD_SHARE);
	kh_buf_cleanup(&out);
}

static void pick(const struct kh_buf *bufs, const unsigned *idx, size_t count, struct kh_slice *out)
{
	for (size_t i = 0; i < count; i++)
		out[i] = kh_buf_slice(&bufs[idx[i]]);
}

/* Recomputes the checksum of a share edited in place. */
static void reseal(uint8_t *share, size_t len)
{
	size_t body = len - KH_SHAMIR_CHECKSUM_LEN;

	assert_int_equal(kh_shamir_checksum(KH_SLICE(share, body), share + body), KH_OK);
}

/* Edits a share byte through a pointer (the slices under test alias these bytes). */
static void flip(uint8_t *byte, uint8_t mask)
{
	*byte ^= mask;
}

/* ---- GF(2^8) ---- */

/* Reference multiply: carry-less product, then long division by the AES polynomial. */
static uint8_t slow_mul(uint8_t a, uint8_t b)
{
	unsigned prod = 0;

	for (unsigned i = 0; i < 8; i++)
		if (b & (1u << i))
			prod ^= (unsigned)a << i;
	for (unsigned bit = 14; bit >= 8; bit--)
		if (prod & (1u << bit))
			prod ^= 0x11bu << (bit - 8);
	return (uint8_t)prod;
}

static void gf256_mul_matches_fips197_section_4_2_examples(void **state)
{
	(void)state;
	/* FIPS 197 section 4.2: {57} * {83} = {c1}. Section 4.2.1: {57} * {13} = {fe} via the
	 * xtime chain {57} {ae} {47} {8e} {07}. */
	assert_int_equal(kh_gf256_mul(0x57, 0x83), 0xc1);
	assert_int_equal(kh_gf256_mul(0x57, 0x13), 0xfe);
	assert_int_equal(kh_gf256_mul(0x57, 0x02), 0xae);
	assert_int_equal(kh_gf256_mul(0x57, 0x04), 0x47);
	assert_int_equal(kh_gf256_mul(0x57, 0x08), 0x8e);
	assert_int_equal(kh_gf256_mul(0x57, 0x10), 0x07);
	/* The AES S-box derivation: {53}^-1 = {ca}. */
	assert_int_equal(kh_gf256_inv(0x53), 0xca);
	assert_int_equal(kh_gf256_inv(0xca), 0x53);
}

static void gf256_mul_agrees_with_a_slow_reference_on_all_65536_pairs_and_commutes(void **state)
{
	(void)state;
	for (unsigned a = 0; a < 256; a++) {
		for (unsigned b = 0; b < 256; b++) {
			uint8_t p = kh_gf256_mul((uint8_t)a, (uint8_t)b);

			assert_int_equal(p, slow_mul((uint8_t)a, (uint8_t)b));
			assert_int_equal(p, kh_gf256_mul((uint8_t)b, (uint8_t)a));
		}
		assert_int_equal(kh_gf256_mul((uint8_t)a, 0), 0);
		assert_int_equal(kh_gf256_mul((uint8_t)a, 1), a);
	}
}

static void gf256_mul_is_associative_and_distributes_over_xor(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 20000; i++) {
		uint32_t r = rng_next();
		uint8_t a = (uint8_t)r, b = (uint8_t)(r >> 8), c = (uint8_t)(r >> 16);

		assert_int_equal(kh_gf256_mul(kh_gf256_mul(a, b), c),
		                 kh_gf256_mul(a, kh_gf256_mul(b, c)));
		assert_int_equal(kh_gf256_mul(a, (uint8_t)(b ^ c)),
		                 kh_gf256_mul(a, b) ^ kh_gf256_mul(a, c));
	}
}

static void gf256_inv_times_a_is_1_for_all_255_nonzero_a_and_inv_0_is_0(void **state)
{
	(void)state;
	assert_int_equal(kh_gf256_inv(0), 0);
	for (unsigned a = 1; a < 256; a++) {
		uint8_t inv = kh_gf256_inv((uint8_t)a);

		assert_int_equal(kh_gf256_mul((uint8_t)a, inv), 1);
		assert_int_equal(slow_mul((uint8_t)a, inv), 1);
		assert_int_equal(kh_gf256_inv(inv), a);
	}
}

static void eval_is_horner_over_the_field(void **state)
{
	const uint8_t c[4] = {0x42, 0x03, 0x99, 0xfe};
	(void)state;
	assert_int_equal(kh_shamir_eval(c, 0, 7), 0);
	for (unsigned x = 0; x < 256; x++) {
		uint8_t xx = (uint8_t)x;
		uint8_t x2 = kh_gf256_mul(xx, xx);
		uint8_t x3 = kh_gf256_mul(x2, xx);
		uint8_t want = (uint8_t)(c[0] ^ kh_gf256_mul(c[1], xx) ^ kh_gf256_mul(c[2], x2) ^
		                         kh_gf256_mul(c[3], x3));

		assert_int_equal(kh_shamir_eval(c, 1, xx), c[0]);
		assert_int_equal(kh_shamir_eval(c, 4, xx), want);
	}
	assert_int_equal(kh_shamir_eval(c, 4, 0), c[0]); /* f(0) is the secret */
}

/* ---- Split layout and recovery ---- */

static void split_with_coeffs_gives_the_hand_computed_y_values_and_layout(void **state)
{
	/* f(x) = 0x42 + 3x: f(1) = 0x41, f(2) = 0x42 ^ 0x06 = 0x44, f(3) = 0x42 ^ 0x05 = 0x47. */
	const uint8_t secret = 0x42, coeff = 0x03;
	const uint8_t want_y[3] = {0x41, 0x44, 0x47};
	struct kh_buf bufs[3];
	(void)state;
	init_shares(bufs, 3);
	assert_int_equal(kh_shamir_split_with_coeffs(KH_SLICE(&secret, 1), 3, 2, fixed_set_id,
	                                             KH_SLICE(&coeff, 1), bufs),
	                 KH_OK);
	for (unsigned i = 0; i < 3; i++) {
		struct kh_shamir_info info;
		uint8_t sum[KH_SHAMIR_CHECKSUM_LEN];
		const uint8_t *p = bufs[i].ptr;

		assert_int_equal(bufs[i].len, 16);
		assert_int_equal(p[0], 1);
		assert_int_equal(p[1], 2);
		assert_int_equal(p[2], i + 1);
		assert_memory_equal(p + 3, fixed_set_id, 8);
		assert_int_equal(p[11], want_y[i]);
		assert_int_equal(kh_shamir_checksum(KH_SLICE(p, 12), sum), KH_OK);
		assert_memory_equal(p + 12, sum, 4);
		assert_int_equal(kh_shamir_share_parse(kh_buf_slice(&bufs[i]), &info), KH_OK);
		assert_int_equal(info.version, 1);
		assert_int_equal(info.threshold, 2);
		assert_int_equal(info.index, i + 1);
		assert_memory_equal(info.set_id, fixed_set_id, 8);
		assert_int_equal(info.secret_len, 1);
	}
	free_shares(bufs, 3);
}

static void split_shares_one_random_set_id_per_split_and_number_shares_from_1(void **state)
{
	const uint8_t secret[5] = {1, 2, 3, 4, 5};
	struct kh_buf a[4], b[4];
	struct kh_shamir_info ia, ib;
	(void)state;
	split_ok(KH_SLICE(secret, 5), 4, 3, a);
	split_ok(KH_SLICE(secret, 5), 4, 3, b);
	assert_int_equal(kh_shamir_share_parse(kh_buf_slice(&b[0]), &ib), KH_OK);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(kh_shamir_share_parse(kh_buf_slice(&a[i]), &ia), KH_OK);
		assert_int_equal(ia.index, i + 1);
		assert_int_equal(ia.threshold, 3);
		assert_int_equal(ia.secret_len, 5);
		assert_memory_equal(ia.set_id, a[0].ptr + KH_SHAMIR_OFF_SET_ID, 8);
		assert_memory_not_equal(ia.set_id, ib.set_id, 8);
	}
	/* Fresh coefficients each time: the same secret never gives the same y values. */
	assert_memory_not_equal(a[0].ptr + KH_SHAMIR_OFF_Y, b[0].ptr + KH_SHAMIR_OFF_Y, 5);
	free_shares(a, 4);
	free_shares(b, 4);
}

/* Every k-subset of n shares, in increasing and in reversed order, recovers the secret. */
static void all_subsets(unsigned n, unsigned k, struct kh_slice secret)
{
	struct kh_buf bufs[8];
	struct kh_slice picked[8];

	split_ok(secret, n, k, bufs);
	for (unsigned mask = 0; mask < (1u << n); mask++) {
		unsigned idx[8];
		unsigned count = 0;

		for (unsigned i = 0; i < n; i++)
			if (mask & (1u << i))
				idx[count++] = i;
		if (count != k)
			continue;
		pick(bufs, idx, k, picked);
		combine_ok(picked, k, secret);
		for (unsigned i = 0; i < k; i++)
			picked[i] = kh_buf_slice(&bufs[idx[k - 1 - i]]);
		combine_ok(picked, k, secret);
	}
	free_shares(bufs, n);
}

static void every_k_subset_recovers_the_secret_for_2of2_2of3_3of5_6of6(void **state)
{
	static const unsigned nk[][2] = {{2, 2}, {3, 2}, {5, 3}, {6, 6}};
	static const size_t lens[] = {1, 2, 17, KH_LIMIT_SHAMIR_SECRET_BYTES};
	uint8_t secret[KH_LIMIT_SHAMIR_SECRET_BYTES];
	(void)state;
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		assert_int_equal(kh_rand_bytes(secret, lens[l]), KH_OK);
		for (size_t c = 0; c < sizeof(nk) / sizeof(nk[0]); c++)
			all_subsets(nk[c][0], nk[c][1], KH_SLICE(secret, lens[l]));
	}
	/* All-zero and all-ones secrets are not special. */
	memset(secret, 0, sizeof(secret));
	all_subsets(5, 3, KH_SLICE(secret, 32));
	memset(secret, 0xff, sizeof(secret));
	all_subsets(5, 3, KH_SLICE(secret, 32));
}

static void a_32_byte_secret_split_3_of_5_comes_back_byte_for_byte_from_every_3_subset(void **state)
{
	uint8_t secret[32];
	struct kh_buf bufs[5];
	struct kh_slice picked[3];
	unsigned subsets = 0;
	(void)state;
	for (unsigned i = 0; i < 32; i++)
		secret[i] = (uint8_t)(0xa0 + i);
	split_ok(KH_SLICE(secret, 32), 5, 3, bufs);
	for (unsigned a = 0; a < 5; a++)
		for (unsigned b = a + 1; b < 5; b++)
			for (unsigned c = b + 1; c < 5; c++) {
				const unsigned idx[3] = {a, b, c};

				pick(bufs, idx, 3, picked);
				combine_ok(picked, 3, KH_SLICE(secret, 32));
				subsets++;
			}
	assert_int_equal(subsets, 10);
	free_shares(bufs, 5);
}

/* A random k-subset of 0..n-1 in random order (partial Fisher-Yates). */
static void random_subset(unsigned n, unsigned k, unsigned *idx)
{
	unsigned all[MAX_SHARES];

	for (unsigned i = 0; i < n; i++)
		all[i] = i;
	for (unsigned i = 0; i < k; i++) {
		unsigned j = i + rng_next() % (n - i);
		unsigned t = all[i];

		all[i] = all[j];
		all[j] = t;
		idx[i] = all[i];
	}
}

static void the_limits_255_of_255_and_2_of_255_recover_from_random_subsets(void **state)
{
	static struct kh_buf bufs[MAX_SHARES];
	static struct kh_slice picked[MAX_SHARES];
	unsigned idx[MAX_SHARES];
	uint8_t secret[KH_LIMIT_SHAMIR_SECRET_BYTES];
	(void)state;
	assert_int_equal(kh_rand_bytes(secret, sizeof(secret)), KH_OK);

	split_ok(KH_SLICE(secret, sizeof(secret)), MAX_SHARES, MAX_SHARES, bufs);
	for (unsigned r = 0; r < 4; r++) {
		random_subset(MAX_SHARES, MAX_SHARES, idx); /* every share, shuffled */
		pick(bufs, idx, MAX_SHARES, picked);
		combine_ok(picked, MAX_SHARES, KH_SLICE(secret, sizeof(secret)));
	}
	combine_bad(picked, MAX_SHARES - 1, MAX_SHARES - 1);
	free_shares(bufs, MAX_SHARES);

	split_ok(KH_SLICE(secret, 32), MAX_SHARES, 2, bufs);
	for (unsigned r = 0; r < 64; r++) {
		random_subset(MAX_SHARES, 2, idx);
		pick(bufs, idx, 2, picked);
		combine_ok(picked, 2, KH_SLICE(secret, 32));
	}
	/* The extreme indexes 1 and 255 together. */
	idx[0] = 0;
	idx[1] = MAX_SHARES - 1;
	pick(bufs, idx, 2, picked);
	combine_ok(picked, 2, KH_SLICE(secret, 32));
	free_shares(bufs, MAX_SHARES);
}

static void more_than_threshold_shares_recover_and_are_all_validated(void **state)
{
	uint8_t secret[16];
	struct kh_buf bufs[5], other[5];
	struct kh_slice s[5];
	const unsigned idx[5] = {4, 0, 2, 1, 3};
	(void)state;
	assert_int_equal(kh_rand_bytes(secret, sizeof(secret)), KH_OK);
	split_ok(KH_SLICE(secret, 16), 5, 3, bufs);
	split_ok(KH_SLICE(secret, 16), 5, 3, other);
	pick(bufs, idx, 5, s);
	combine_ok(s, 4, KH_SLICE(secret, 16));
	combine_ok(s, 5, KH_SLICE(secret, 16));
	/* Only the first three are used, but a foreign or duplicate fifth is still refused. */
	s[4] = kh_buf_slice(&other[3]);
	combine_bad(s, 5, 4);
	s[4] = s[1];
	combine_bad(s, 5, 4);
	free_shares(bufs, 5);
	free_shares(other, 5);
}

/* ---- Perfect secrecy ---- */

/*
 * For k = 2 and 1-byte secrets, every coefficient a in GF(2^8) gives one split; a single share
 * y = s + a x (x != 0) takes each of the 256 values exactly once, whatever s is.
 */
static void one_share_of_2_is_exactly_uniform_over_all_256_polynomials(void **state)
{
	static const uint8_t secrets[] = {0x00, 0x5a, 0xff, 0x01};
	struct kh_buf bufs[4];
	(void)state;
	init_shares(bufs, 4);
	for (size_t s = 0; s < sizeof(secrets); s++) {
		unsigned counts[4][256];

		memset(counts, 0, sizeof(counts));
		for (unsigned a = 0; a < 256; a++) {
			uint8_t coeff = (uint8_t)a;

			assert_int_equal(kh_shamir_split_with_coeffs(KH_SLICE(&secrets[s], 1), 4, 2,
			                                             fixed_set_id,
			                                             KH_SLICE(&coeff, 1), bufs),
			                 KH_OK);
			for (unsigned i = 0; i < 4; i++)
				counts[i][bufs[i].ptr[KH_SHAMIR_OFF_Y]]++;
		}
		for (unsigned i = 0; i < 4; i++)
			for (unsigned y = 0; y < 256; y++)
				assert_int_equal(counts[i][y], 1);
	}
	free_shares(bufs, 4);
}

/*
 * For k = 3, all 65536 coefficient pairs (a1, a2): every pair of shares (y_i, y_j) takes each
 * of the 65536 values exactly once, for each secret. So two shares of a 3-threshold split are
 * distributed identically whatever the secret: they carry no information about it.
 */
static void two_shares_of_3_are_exactly_uniform_over_all_65536_polynomials(void **state)
{
	static const uint8_t secrets[] = {0x00, 0x5a, 0xff};
	static const unsigned pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
	static uint8_t counts[3][65536];
	struct kh_buf bufs[3];
	(void)state;
	init_shares(bufs, 3);
	for (size_t s = 0; s < sizeof(secrets); s++) {
		memset(counts, 0, sizeof(counts));
		for (unsigned a = 0; a < 65536; a++) {
			const uint8_t coeffs[2] = {(uint8_t)a, (uint8_t)(a >> 8)};

			assert_int_equal(kh_shamir_split_with_coeffs(KH_SLICE(&secrets[s], 1), 3, 3,
			                                             fixed_set_id,
			                                             KH_SLICE(coeffs, 2), bufs),
			                 KH_OK);
			for (unsigned p = 0; p < 3; p++) {
				unsigned y0 = bufs[pairs[p][0]].ptr[KH_SHAMIR_OFF_Y];
				unsigned y1 = bufs[pairs[p][1]].ptr[KH_SHAMIR_OFF_Y];

				counts[p][y0 << 8 | y1]++;
			}
		}
		for (unsigned p = 0; p < 3; p++)
			for (unsigned t = 0; t < 65536; t++)
				if (counts[p][t] != 1)
					fail_msg("secret %02x pair %u tuple %04x seen %u times",
					         (unsigned)secrets[s], p, t,
					         (unsigned)counts[p][t]);
	}
	free_shares(bufs, 3);
}

static void fewer_than_threshold_shares_are_refused_naming_the_count(void **state)
{
	uint8_t secret[8] = {9, 8, 7, 6, 5, 4, 3, 2};
	struct kh_buf bufs[5];
	struct kh_slice s[5];
	const unsigned idx[5] = {0, 1, 2, 3, 4};
	(void)state;
	split_ok(KH_SLICE(secret, 8), 5, 3, bufs);
	pick(bufs, idx, 5, s);
	combine_bad(s, 2, 2);
	combine_bad(s + 3, 2, 2);
	combine_bad(s, 1, 1);
	combine_bad(s, 0, 0);
	combine_bad(NULL, 0, 0);
	free_shares(bufs, 5);

	split_ok(KH_SLICE(secret, 8), 5, 5, bufs);
	pick(bufs, idx, 5, s);
	combine_bad(s, 4, 4);
	combine_ok(s, 5, KH_SLICE(secret, 8));
	free_shares(bufs, 5);
}

/* ---- Refusals ---- */

static void every_flipped_bit_and_byte_is_refused_at_its_position(void **state)
{
	uint8_t secret[4] = {0xde, 0xad, 0xbe, 0xef};
	struct kh_buf bufs[5];
	struct kh_slice s[3];
	uint8_t copy[3][SHARE_MAX];
	const unsigned idx[3] = {0, 2, 4};
	size_t len = KH_SHAMIR_OVERHEAD + 4;
	(void)state;
	/* Fixed coefficients: the test is deterministic, not right with probability 1 - 2^-32. */
	split_fixed(KH_SLICE(secret, 4), 5, 3, bufs);
	for (unsigned i = 0; i < 3; i++) {
		memcpy(copy[i], bufs[idx[i]].ptr, len);
		s[i] = KH_SLICE(copy[i], len);
	}
	combine_ok(s, 3, KH_SLICE(secret, 4));
	for (size_t pos = 0; pos < 3; pos++) {
		for (size_t b = 0; b < len; b++) {
			for (unsigned bit = 0; bit <= 8; bit++) {
				uint8_t mask = (uint8_t)(bit == 8 ? 0xffu : 1u << bit);

				flip(&copy[pos][b], mask);
				assert_int_equal(kh_shamir_share_parse(s[pos], NULL),
				                 KH_ERR_BAD_SHARE);
				combine_bad(s, 3, pos);
				flip(&copy[pos][b], mask);
			}
		}
	}
	combine_ok(s, 3, KH_SLICE(secret, 4));
	free_shares(bufs, 5);
}

static void a_share_from_another_split_of_the_same_secret_is_refused_as_foreign(void **state)
{
	uint8_t secret[32];
	struct kh_buf a[3], b[3];
	struct kh_slice s[3];
	(void)state;
	assert_int_equal(kh_rand_bytes(secret, sizeof(secret)), KH_OK);
	split_ok(KH_SLICE(secret, 32), 3, 2, a);
	split_ok(KH_SLICE(secret, 32), 3, 2, b);
	/* Distinct index, same k and length: only the set id tells it apart. */
	s[0] = kh_buf_slice(&a[0]);
	s[1] = kh_buf_slice(&b[1]);
	combine_bad(s, 2, 1);
	s[0] = kh_buf_slice(&b[1]);
	s[1] = kh_buf_slice(&a[0]);
	s[2] = kh_buf_slice(&a[2]);
	combine_bad(s, 3, 1); /* the first share sets the reference */
	free_shares(a, 3);
	free_shares(b, 3);
}

static void a_duplicated_share_is_refused_naming_the_later_copy(void **state)
{
	uint8_t secret[3] = {1, 2, 3};
	struct kh_buf bufs[4];
	struct kh_slice s[4];
	(void)state;
	split_ok(KH_SLICE(secret, 3), 4, 3, bufs);
	s[0] = kh_buf_slice(&bufs[1]);
	s[1] = kh_buf_slice(&bufs[3]);
	s[2] = kh_buf_slice(&bufs[1]);
	s[3] = kh_buf_slice(&bufs[0]);
	combine_bad(s, 4, 2);
	combine_bad(s, 3, 2);
	s[1] = s[0];
	combine_bad(s, 2, 1);
	free_shares(bufs, 4);
}

static void mixed_thresholds_and_mixed_lengths_are_refused(void **state)
{
	uint8_t secret[33];
	struct kh_buf k2[3], k3[3], shorter[3];
	struct kh_slice s[3];
	(void)state;
	assert_int_equal(kh_rand_bytes(secret, sizeof(secret)), KH_OK);
	split_fixed(KH_SLICE(secret, 32), 3, 2, k2);
	split_fixed(KH_SLICE(secret, 32), 3, 3, k3); /* same set id: only k differs */
	split_fixed(KH_SLICE(secret, 31), 3, 2, shorter);
	s[0] = kh_buf_slice(&k2[0]);
	s[1] = kh_buf_slice(&k3[1]);
	combine_bad(s, 2, 1);
	s[0] = kh_buf_slice(&k3[0]);
	s[1] = kh_buf_slice(&k3[1]);
	s[2] = kh_buf_slice(&k2[2]);
	combine_bad(s, 3, 2);
	s[0] = kh_buf_slice(&k2[0]);
	s[1] = kh_buf_slice(&shorter[1]);
	combine_bad(s, 2, 1);
	free_shares(k2, 3);
	free_shares(k3, 3);
	free_shares(shorter, 3);
}

static void truncated_and_extended_shares_are_refused(void **state)
{
	uint8_t secret[KH_LIMIT_SHAMIR_SECRET_BYTES];
	uint8_t big[SHARE_MAX + 2];
	struct kh_buf bufs[2];
	struct kh_slice s[2];
	size_t len = SHARE_MAX;
	(void)state;
	memset(secret, 0x33, sizeof(secret));
	split_fixed(KH_SLICE(secret, sizeof(secret)), 2, 2, bufs);
	s[0] = kh_buf_slice(&bufs[0]);
	for (size_t cut = 0; cut < len; cut++) {
		s[1] = KH_SLICE(bufs[1].ptr, cut);
		assert_int_equal(kh_shamir_share_parse(s[1], NULL), KH_ERR_BAD_SHARE);
		combine_bad(s, 2, 1);
	}
	/* One byte longer than any share can be, and a valid-length share with an extra byte. */
	memcpy(big, bufs[1].ptr, len);
	big[len] = 0;
	big[len + 1] = 0;
	assert_int_equal(kh_shamir_share_parse(KH_SLICE(big, len + 1), NULL), KH_ERR_BAD_SHARE);
	reseal(big, len + 1);
	assert_int_equal(kh_shamir_share_parse(KH_SLICE(big, len + 1), NULL), KH_ERR_BAD_SHARE);
	free_shares(bufs, 2);

	split_fixed(KH_SLICE(secret, 8), 2, 2, bufs);
	memcpy(big, bufs[1].ptr, 23);
	big[23] = 0;
	s[0] = kh_buf_slice(&bufs[0]);
	s[1] = KH_SLICE(big, 24);
	combine_bad(s, 2, 1);
	/* Too short to hold a 1-byte secret, even with a valid checksum. */
	assert_int_equal(kh_shamir_share_parse(KH_SLICE(big, 15), NULL), KH_ERR_BAD_SHARE);
	reseal(big, 15);
	assert_int_equal(kh_shamir_share_parse(KH_SLICE(big, 15), NULL), KH_ERR_BAD_SHARE);
	assert_int_equal(kh_shamir_share_parse(KH_SLICE(NULL, 0), NULL), KH_ERR_BAD_SHARE);
	free_shares(bufs, 2);
}

/* A well-formed share (valid checksum) with one field set to value is still refused. */
static void forged_field_refused(size_t off, uint8_t value)
{
	uint8_t secret[2] = {7, 7};
	uint8_t forged[KH_SHAMIR_OVERHEAD + 2];
	struct kh_buf bufs[3];
	struct kh_slice s[3];

	split_fixed(KH_SLICE(secret, 2), 3, 2, bufs);
	memcpy(forged, bufs[2].ptr, sizeof(forged));
	forged[off] = value;
	reseal(forged, sizeof(forged));
	assert_int_equal(kh_shamir_share_parse(KH_SLICE(forged, sizeof(forged)), NULL),
	                 KH_ERR_BAD_SHARE);
	s[0] = kh_buf_slice(&bufs[0]);
	s[1] = KH_SLICE(forged, sizeof(forged));
	s[2] = kh_buf_slice(&bufs[1]);
	combine_bad(s, 3, 1);
	free_shares(bufs, 3);
}

static void well_formed_shares_with_index_0_version_0_or_2_or_threshold_0_are_refused(void **state)
{
	(void)state;
	forged_field_refused(KH_SHAMIR_OFF_INDEX, 0);
	forged_field_refused(KH_SHAMIR_OFF_VERSION, 2);
	forged_field_refused(KH_SHAMIR_OFF_VERSION, 0);
	/* Threshold 1 is legitimate (1-of-1); the barrier checks a share's threshold against the
	 * one it was initialised with. */
	forged_field_refused(KH_SHAMIR_OFF_THRESHOLD, 0);
}

/* Split must fail with want; buffers pre-filled with "old" must end empty if cleared is set,
 * untouched otherwise. */
static void split_fails(struct kh_slice secret, unsigned n, unsigned k, kh_rc want, bool cleared)
{
	static struct kh_buf bufs[MAX_SHARES + 1];

	init_shares(bufs, MAX_SHARES + 1);
	for (unsigned i = 0; i < MAX_SHARES + 1; i++)
		assert_int_equal(kh_buf_append(&bufs[i], KH_SLICE_LIT("old")), KH_OK);
	assert_int_equal(kh_shamir_split(secret, n, k, bufs), want);
	for (unsigned i = 0; i < MAX_SHARES + 1; i++) {
		if (cleared && i < n) {
			assert_int_equal(bufs[i].len, 0);
			assert_null(bufs[i].ptr);
		} else {
			assert_int_equal(bufs[i].len, 3);
		}
	}
	free_shares(bufs, MAX_SHARES + 1);
}

static void split_refuses_bad_counts_and_secret_lengths(void **state)
{
	uint8_t secret[KH_LIMIT_SHAMIR_SECRET_BYTES + 1] = {0};
	struct kh_slice ok = KH_SLICE(secret, 16);
	struct kh_buf bufs[2];
	(void)state;
	/* Counts out of range: nothing written, nothing touched. */
	split_fails(ok, 3, 1, KH_ERR_BAD_INPUT, false);
	split_fails(ok, 3, 0, KH_ERR_BAD_INPUT, false);
	split_fails(ok, 3, 4, KH_ERR_BAD_INPUT, false);
	split_fails(ok, 0, 0, KH_ERR_BAD_INPUT, false);
	split_fails(ok, 1, 2, KH_ERR_BAD_INPUT, false);
	split_fails(ok, 256, 2, KH_ERR_BAD_INPUT, false);
	split_fails(ok, 256, 256, KH_ERR_BAD_INPUT, false);
	/* Secret length out of range: every buffer cleared. */
	split_fails(KH_SLICE_EMPTY, 3, 2, KH_ERR_BAD_INPUT, true);
	split_fails(KH_SLICE(secret, 0), 3, 2, KH_ERR_BAD_INPUT, true);
	split_fails(KH_SLICE(secret, sizeof(secret)), 3, 2, KH_ERR_TOO_LARGE, true);
	assert_int_equal(kh_shamir_split(ok, 2, 2, NULL), KH_ERR_BAD_INPUT);
	/* The bounds themselves are allowed. */
	split_ok(KH_SLICE(secret, 1), 2, 2, bufs);
	free_shares(bufs, 2);
	split_ok(KH_SLICE(secret, KH_LIMIT_SHAMIR_SECRET_BYTES), 2, 2, bufs);
	free_shares(bufs, 2);
}

/* 1-of-1 (dev mode): the one share recovers the secret; threshold 1 with more shares is not a
 * sharing at all and stays refused (above). */
static void a_one_of_one_split_recovers_the_secret(void **state)
{
	const uint8_t secret[4] = {0xde, 0xad, 0xbe, 0xef};
	struct kh_buf share, out;
	struct kh_shamir_info info;
	struct kh_slice s;
	(void)state;
	kh_buf_init(&share, 256, KH_BUF_SECURE);
	kh_buf_init(&out, 256, KH_BUF_SECURE);
	assert_int_equal(kh_shamir_split(KH_SLICE(secret, 4), 1, 1, &share), KH_OK);
	s = kh_buf_slice(&share);
	assert_int_equal(kh_shamir_share_parse(s, &info), KH_OK);
	assert_int_equal(info.threshold, 1);
	assert_int_equal(kh_shamir_combine(&s, 1, &out, NULL), KH_OK);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.ptr, secret, 4);
	kh_buf_cleanup(&share);
	kh_buf_cleanup(&out);
}

static void split_with_coeffs_refuses_a_wrong_coefficient_count(void **state)
{
	uint8_t secret[4] = {0};
	uint8_t coeffs[16] = {0};
	struct kh_buf bufs[3];
	(void)state;
	init_shares(bufs, 3);
	assert_int_equal(kh_shamir_split_with_coeffs(KH_SLICE(secret, 4), 3, 3, fixed_set_id,
	                                             KH_SLICE(coeffs, 7), bufs),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(
	    kh_shamir_split_with_coeffs(KH_SLICE(secret, 4), 3, 3, NULL, KH_SLICE(coeffs, 8), bufs),
	    KH_ERR_BAD_INPUT);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(bufs[i].len, 0);
	assert_int_equal(kh_shamir_split_with_coeffs(KH_SLICE(secret, 4), 3, 3, fixed_set_id,
	                                             KH_SLICE(coeffs, 8), bufs),
	                 KH_OK);
	free_shares(bufs, 3);
}

static void split_replaces_old_contents_and_clears_all_buffers_when_one_is_too_small(void **state)
{
	uint8_t secret[20] = {5};
	struct kh_buf bufs[4];
	(void)state;
	init_shares(bufs, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(kh_buf_append(&bufs[i], KH_SLICE_LIT("old contents")), KH_OK);
	assert_int_equal(kh_shamir_split(KH_SLICE(secret, 20), 4, 2, bufs), KH_OK);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(bufs[i].len, KH_SHAMIR_OVERHEAD + 20);
		assert_int_equal(bufs[i].ptr[0], 1);
	}
	/* The third buffer cannot hold a share: the two already written are wiped too. */
	bufs[2].max = KH_SHAMIR_OVERHEAD + 19;
	assert_int_equal(kh_shamir_split(KH_SLICE(secret, 20), 4, 2, bufs), KH_ERR_TOO_LARGE);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(bufs[i].len, 0);
		assert_null(bufs[i].ptr);
	}
	free_shares(bufs, 4);
}

static void secrets_and_shares_go_only_to_secure_buffers(void **state)
{
	uint8_t secret[8] = {1};
	struct kh_buf bufs[3];
	struct kh_buf plain;
	struct kh_slice s[2];
	size_t bad = 77;
	(void)state;
	init_shares(bufs, 3);
	kh_buf_cleanup(&bufs[1]);
	kh_buf_init(&bufs[1], SHARE_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&bufs[0], KH_SLICE_LIT("x")), KH_OK);
	assert_int_equal(kh_shamir_split(KH_SLICE(secret, 8), 3, 2, bufs), KH_ERR_INTERNAL);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(bufs[i].len, 0);
	free_shares(bufs, 3);

	split_ok(KH_SLICE(secret, 8), 3, 2, bufs);
	s[0] = kh_buf_slice(&bufs[0]);
	s[1] = kh_buf_slice(&bufs[1]);
	kh_buf_init(&plain, 64, KH_BUF_PLAIN);
	assert_int_equal(kh_shamir_combine(s, 2, &plain, &bad), KH_ERR_INTERNAL);
	assert_int_equal(plain.len, 0);
	assert_int_equal(bad, 77);
	kh_buf_cleanup(&plain);
	free_shares(bufs, 3);
}

static void combine_appends_and_leaves_a_too_small_output_untouched(void **state)
{
	uint8_t secret[24];
	struct kh_buf bufs[2];
	struct kh_buf out;
	struct kh_slice s[2];
	(void)state;
	assert_int_equal(kh_rand_bytes(secret, sizeof(secret)), KH_OK);
	split_ok(KH_SLICE(secret, 24), 2, 2, bufs);
	s[0] = kh_buf_slice(&bufs[1]);
	s[1] = kh_buf_slice(&bufs[0]);
	kh_buf_init(&out, 26, KH_BUF_SECURE);
	assert_int_equal(kh_buf_append(&out, KH_SLICE_LIT("ab")), KH_OK);
	assert_int_equal(kh_shamir_combine(s, 2, &out, NULL), KH_OK);
	assert_int_equal(out.len, 26);
	assert_memory_equal(out.ptr, "ab", 2);
	assert_memory_equal(out.ptr + 2, secret, 24);
	assert_int_equal(kh_shamir_combine(s, 2, &out, NULL), KH_ERR_TOO_LARGE);
	assert_int_equal(out.len, 26);
	kh_buf_cleanup(&out);
	free_shares(bufs, 2);
}

static kh_rc split_combine_round(void *arg)
{
	static const uint8_t secret[32] = {0x10, 0x20, 0x30};
	struct kh_buf bufs[5];
	struct kh_buf out;
	kh_rc rc;

	(void)arg;
	init_shares(bufs, 5);
	kh_buf_init(&out, 32, KH_BUF_SECURE);
	rc = kh_shamir_split(KH_SLICE(secret, 32), 5, 3, bufs);
	if (rc == KH_OK) {
		const struct kh_slice s[3] = {kh_buf_slice(&bufs[4]), kh_buf_slice(&bufs[1]),
		                              kh_buf_slice(&bufs[2])};

		rc = kh_shamir_combine(s, 3, &out, NULL);
	} else {
		for (unsigned i = 0; i < 5; i++)
			if (bufs[i].len != 0 || bufs[i].ptr != NULL)
				rc = KH_ERR_INTERNAL; /* a failed split must clear every buffer */
	}
	if (rc == KH_OK && (out.len != 32 || memcmp(out.ptr, secret, 32) != 0))
		rc = KH_ERR_INTERNAL;
	if (rc != KH_OK && out.len != 0)
		rc = KH_ERR_INTERNAL;
	kh_buf_cleanup(&out);
	free_shares(bufs, 5);
	return rc;
}

static void split_and_combine_return_nomem_without_leaking_on_every_allocation_failure(void **state)
{
	(void)state;
	kh_test_alloc_failures(split_combine_round, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(gf256_mul_matches_fips197_section_4_2_examples),
	    cmocka_unit_test(
	        gf256_mul_agrees_with_a_slow_reference_on_all_65536_pairs_and_commutes),
	    cmocka_unit_test(gf256_mul_is_associative_and_distributes_over_xor),
	    cmocka_unit_test(gf256_inv_times_a_is_1_for_all_255_nonzero_a_and_inv_0_is_0),
	    cmocka_unit_test(eval_is_horner_over_the_field),
	    cmocka_unit_test(split_with_coeffs_gives_the_hand_computed_y_values_and_layout),
	    cmocka_unit_test(split_shares_one_random_set_id_per_split_and_number_shares_from_1),
	    cmocka_unit_test(every_k_subset_recovers_the_secret_for_2of2_2of3_3of5_6of6),
	    cmocka_unit_test(
	        a_32_byte_secret_split_3_of_5_comes_back_byte_for_byte_from_every_3_subset),
	    cmocka_unit_test(the_limits_255_of_255_and_2_of_255_recover_from_random_subsets),
	    cmocka_unit_test(more_than_threshold_shares_recover_and_are_all_validated),
	    cmocka_unit_test(one_share_of_2_is_exactly_uniform_over_all_256_polynomials),
	    cmocka_unit_test(two_shares_of_3_are_exactly_uniform_over_all_65536_polynomials),
	    cmocka_unit_test(fewer_than_threshold_shares_are_refused_naming_the_count),
	    cmocka_unit_test(every_flipped_bit_and_byte_is_refused_at_its_position),
	    cmocka_unit_test(a_share_from_another_split_of_the_same_secret_is_refused_as_foreign),
	    cmocka_unit_test(a_duplicated_share_is_refused_naming_the_later_copy),
	    cmocka_unit_test(mixed_thresholds_and_mixed_lengths_are_refused),
	    cmocka_unit_test(truncated_and_extended_shares_are_refused),
	    cmocka_unit_test(
	        well_formed_shares_with_index_0_version_0_or_2_or_threshold_0_are_refused),
	    cmocka_unit_test(split_refuses_bad_counts_and_secret_lengths),
	    cmocka_unit_test(a_one_of_one_split_recovers_the_secret),
	    cmocka_unit_test(split_with_coeffs_refuses_a_wrong_coefficient_count),
	    cmocka_unit_test(
	        split_replaces_old_contents_and_clears_all_buffers_when_one_is_too_small),
	    cmocka_unit_test(secrets_and_shares_go_only_to_secure_buffers),
	    cmocka_unit_test(combine_appends_and_leaves_a_too_small_output_untouched),
	    cmocka_unit_test(
	        split_and_combine_return_nomem_without_leaking_on_every_allocation_failure),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
