/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shamir secret sharing (Shamir, "How to share a secret", CACM 1979) over GF(2^8), one
 * polynomial per secret byte, for splitting the root unseal key among custodians. The field
 * arithmetic is our own rather than libgfshare's: its log/exp tables are indexed by secret
 * bytes (a cache-timing channel) and it draws coefficients through a global, non-cryptographic
 * RNG hook. Here multiplication is a branch-free shift-and-add, inversion a fixed exponent
 * chain, coefficients come from kh_rand_secret into secure memory, and only public values
 * (indexes, degrees, lengths) ever decide a branch or a loop bound.
 *
 * Split empties each output buffer and writes exactly one share into it; on failure every
 * buffer is wiped and released. Combine validates every share given (form, checksum, agreement
 * on threshold, length and set id, distinct indexes) and then interpolates from the first
 * threshold of them; extra shares are checked but not used. The recovered secret is appended to
 * the caller's secure buffer and goes nowhere else: it is computed straight into that buffer,
 * so no stack copy of it exists to wipe.
 */
#include <string.h>

#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto_int.h"
#include "crypto/kh_shamir_int.h"

_Static_assert(KH_SHAMIR_OFF_Y + KH_SHAMIR_CHECKSUM_LEN == KH_SHAMIR_OVERHEAD,
               "share layout and KH_SHAMIR_OVERHEAD disagree");
_Static_assert(KH_SHAMIR_OFF_SET_ID + KH_SHAMIR_SET_ID_LEN == KH_SHAMIR_OFF_Y,
               "set id must end where the y values start");
_Static_assert(KH_LIMIT_SHARES_MAX == 255u, "GF(2^8) has exactly 255 non-zero points");

/* FIPS 197 section 4.2: reduction modulo m(x) = x^8 + x^4 + x^3 + x + 1. */
#define GF_POLY 0x11bu

uint8_t kh_gf256_mul(uint8_t a, uint8_t b)
{
	unsigned x = a;
	unsigned y = b;
	unsigned p = 0;

	/* FIPS 197 section 4.2.1: add x * b for each set bit of a, multiplying by x (xtime)
	 * between steps. Masks (0 or all ones) replace the branches on secret bits. */
	for (unsigned i = 0; i < 8; i++) {
		p ^= x & (0u - (y & 1u));
		x = (x << 1) ^ (GF_POLY & (0u - (x >> 7)));
		y >>= 1;
	}
	return (uint8_t)p;
}

uint8_t kh_gf256_inv(uint8_t a)
{
	/* The multiplicative group has order 255, so a^254 = a^-1 for a != 0, and 0^254 = 0.
	 * 254 = 0b11111110: square seven times and multiply each square in, a fixed chain. */
	uint8_t sq = a;
	uint8_t r = 1;

	for (unsigned i = 1; i < 8; i++) {
		sq = kh_gf256_mul(sq, sq);
		r = kh_gf256_mul(r, sq);
	}
	return r;
}

uint8_t kh_shamir_eval(const uint8_t *coeffs, unsigned degree_plus_one, uint8_t x)
{
	uint8_t y = 0;

	for (unsigned t = degree_plus_one; t-- > 0;)
		y = (uint8_t)(kh_gf256_mul(y, x) ^ coeffs[t]);
	return y;
}

kh_rc kh_shamir_checksum(struct kh_slice data, uint8_t out[KH_SHAMIR_CHECKSUM_LEN])
{
	uint8_t md[KH_HASH_MAX_LEN];

	KH_GUARD(kh_hash(KH_HASH_SHA256, data, md, sizeof(md)));
	memcpy(out, md, KH_SHAMIR_CHECKSUM_LEN);
	kh_wipe(md, sizeof(md));
	return KH_OK;
}

kh_rc kh_shamir_share_parse(struct kh_slice share, struct kh_shamir_info *out)
{
	const uint8_t *p = share.ptr;
	uint8_t sum[KH_SHAMIR_CHECKSUM_LEN];
	size_t body_len;

	KH_ENSURE(share.len > KH_SHAMIR_OVERHEAD &&
	              share.len <= KH_SHAMIR_OVERHEAD + KH_LIMIT_SHAMIR_SECRET_BYTES,
	          KH_ERR_BAD_SHARE);
	KH_ENSURE(p != NULL, KH_ERR_BAD_SHARE);
	KH_ENSURE(p[KH_SHAMIR_OFF_VERSION] == KH_SHAMIR_VERSION, KH_ERR_BAD_SHARE);
	KH_ENSURE(p[KH_SHAMIR_OFF_THRESHOLD] >= 1, KH_ERR_BAD_SHARE);
	KH_ENSURE(p[KH_SHAMIR_OFF_INDEX] != 0, KH_ERR_BAD_SHARE); /* f(0) is the secret */
	body_len = share.len - KH_SHAMIR_CHECKSUM_LEN;
	KH_GUARD(kh_shamir_checksum(KH_SLICE(p, body_len), sum));
	KH_ENSURE(kh_ct_eq(KH_SLICE(sum, sizeof(sum)), KH_SLICE(p + body_len, sizeof(sum))),
	          KH_ERR_BAD_SHARE);
	if (out != NULL) {
		out->version = p[KH_SHAMIR_OFF_VERSION];
		out->threshold = p[KH_SHAMIR_OFF_THRESHOLD];
		out->index = p[KH_SHAMIR_OFF_INDEX];
		memcpy(out->set_id, p + KH_SHAMIR_OFF_SET_ID, KH_SHAMIR_SET_ID_LEN);
		out->secret_len = share.len - KH_SHAMIR_OVERHEAD;
	}
	return KH_OK;
}

/* ---- Split ---- */

/* Wipes and releases every output buffer; they stay usable (flags and max are kept). */
static void clear_all(struct kh_buf *shares_out, unsigned share_count)
{
	for (unsigned i = 0; i < share_count; i++) {
		kh_buf_clear(&shares_out[i]);
		kh_buf_cleanup(&shares_out[i]);
	}
}

/*
 * The counts are checked before any buffer is touched: a share_count out of range may not
 * describe the caller's array, so it cannot be trusted to size the clean-up either.
 */
static kh_rc check_counts(unsigned share_count, unsigned threshold, const struct kh_buf *shares_out)
{
	KH_ENSURE(shares_out != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(share_count <= KH_LIMIT_SHARES_MAX, KH_ERR_BAD_INPUT);
	/* Threshold 1 is only the degenerate 1-of-1 split (dev mode): the one share then carries
	 * the secret itself, which is what a single custodian holds anyway. */
	KH_ENSURE(threshold >= 2 || (threshold == 1 && share_count == 1), KH_ERR_BAD_INPUT);
	KH_ENSURE(threshold <= share_count, KH_ERR_BAD_INPUT);
	return KH_OK;
}

static kh_rc check_secret_and_buffers(struct kh_slice secret, unsigned share_count,
                                      const struct kh_buf *shares_out)
{
	KH_ENSURE(secret.len > 0 && secret.ptr != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(secret.len <= KH_LIMIT_SHAMIR_SECRET_BYTES, KH_ERR_TOO_LARGE);
	for (unsigned i = 0; i < share_count; i++)
		KH_REQUIRE_SECURE(&shares_out[i]);
	return KH_OK;
}

/* Writes share number x (1-based) into buf; polys holds one polynomial of threshold
 * coefficients per secret byte, constant term first. */
static kh_rc write_share(struct kh_buf *buf, unsigned threshold, uint8_t x,
                         const uint8_t set_id[KH_SHAMIR_SET_ID_LEN], const uint8_t *polys,
                         size_t secret_len)
{
	size_t total = KH_SHAMIR_OVERHEAD + secret_len;
	uint8_t *p = NULL;

	kh_buf_clear(buf);
	KH_GUARD(kh_buf_extend(buf, total, &p));
	p[KH_SHAMIR_OFF_VERSION] = KH_SHAMIR_VERSION;
	p[KH_SHAMIR_OFF_THRESHOLD] = (uint8_t)threshold;
	p[KH_SHAMIR_OFF_INDEX] = x;
	memcpy(p + KH_SHAMIR_OFF_SET_ID, set_id, KH_SHAMIR_SET_ID_LEN);
	for (size_t j = 0; j < secret_len; j++)
		p[KH_SHAMIR_OFF_Y + j] = kh_shamir_eval(polys + j * threshold, threshold, x);
	/* On failure the uncommitted y values are wiped when clear_all releases the buffer. */
	KH_GUARD(kh_shamir_checksum(KH_SLICE(p, KH_SHAMIR_OFF_Y + secret_len),
	                            p + KH_SHAMIR_OFF_Y + secret_len));
	kh_buf_commit(buf, total);
	return KH_OK;
}

/*
 * The split proper. set_id_in and coeffs are NULL to draw them at random (the public path),
 * or supplied by kh_shamir_split_with_coeffs; the counts have already been checked.
 */
static kh_rc split_run(struct kh_slice secret, unsigned share_count, unsigned threshold,
                       const uint8_t *set_id_in, const uint8_t *coeffs, struct kh_buf *shares_out)
{
	uint8_t set_id[KH_SHAMIR_SET_ID_LEN];
	uint8_t *polys = NULL;
	size_t poly_len;
	size_t k = threshold;
	kh_rc rc;

	KH_GUARD_OUT(check_secret_and_buffers(secret, share_count, shares_out));
	poly_len = secret.len * k; /* at most 64 * 255 */
	polys = kh_secure_alloc(poly_len);
	KH_ENSURE_OUT(polys != NULL, KH_ERR_NOMEM);
	if (set_id_in != NULL)
		memcpy(set_id, set_id_in, sizeof(set_id));
	else
		KH_GUARD_OUT(kh_rand_bytes(set_id, sizeof(set_id)));
	if (coeffs == NULL) {
		/* Every coefficient uniform, the leading one included: forcing it non-zero would
		 * make k-1 shares exclude some secrets (for k = 2, y != secret). */
		KH_GUARD_OUT(kh_rand_secret(polys, poly_len));
	} else {
		for (size_t j = 0; j < secret.len; j++)
			memcpy(polys + j * k + 1, coeffs + j * (k - 1), k - 1);
	}
	for (size_t j = 0; j < secret.len; j++)
		polys[j * k] = secret.ptr[j];
	for (unsigned i = 0; i < share_count; i++)
		KH_GUARD_OUT(write_share(&shares_out[i], threshold, (uint8_t)(i + 1), set_id, polys,
		                         secret.len));
	rc = KH_OK;
out:
	kh_secure_free(&polys); /* wipes */
	if (rc != KH_OK)
		clear_all(shares_out, share_count);
	return rc;
}

kh_rc kh_shamir_split(struct kh_slice secret, unsigned share_count, unsigned threshold,
                      struct kh_buf *shares_out)
{
	KH_GUARD(check_counts(share_count, threshold, shares_out));
	return split_run(secret, share_count, threshold, NULL, NULL, shares_out);
}

kh_rc kh_shamir_split_with_coeffs(struct kh_slice secret, unsigned share_count, unsigned threshold,
                                  const uint8_t set_id[KH_SHAMIR_SET_ID_LEN],
                                  struct kh_slice coeffs, struct kh_buf *shares_out)
{
	KH_GUARD(check_counts(share_count, threshold, shares_out));
	if (set_id == NULL || coeffs.ptr == NULL || coeffs.len != secret.len * (threshold - 1)) {
		clear_all(shares_out, share_count);
		return KH_ERR_BAD_INPUT;
	}
	return split_run(secret, share_count, threshold, set_id, coeffs.ptr, shares_out);
}

/* ---- Combine ---- */

/*
 * Parses one share and checks it against the first share (NULL for the first itself) and the
 * indexes seen so far. Any fault is KH_ERR_BAD_SHARE, blamed on this share's position.
 */
static kh_rc check_member(struct kh_slice share, const struct kh_shamir_info *first,
                          bool seen[KH_LIMIT_SHARES_MAX + 1], struct kh_shamir_info *out)
{
	struct kh_shamir_info info;

	KH_GUARD(kh_shamir_share_parse(share, &info));
	if (first != NULL) {
		/* Mixed thresholds or lengths, or a share from another split. */
		KH_ENSURE(info.threshold == first->threshold, KH_ERR_BAD_SHARE);
		KH_ENSURE(info.secret_len == first->secret_len, KH_ERR_BAD_SHARE);
		KH_ENSURE(kh_ct_eq(KH_SLICE(info.set_id, KH_SHAMIR_SET_ID_LEN),
		                   KH_SLICE(first->set_id, KH_SHAMIR_SET_ID_LEN)),
		          KH_ERR_BAD_SHARE);
	}
	KH_ENSURE(!seen[info.index], KH_ERR_BAD_SHARE); /* duplicate: blame the later copy */
	seen[info.index] = true;
	*out = info;
	return KH_OK;
}

/*
 * Lagrange interpolation at x = 0 from shares[0..k) (Shamir 1979; in characteristic 2,
 * subtraction is XOR): secret = sum_i y_i * prod_{m != i} x_m / (x_m + x_i). The basis values
 * depend only on the public indexes; the y values enter only through constant-time multiplies.
 */
static kh_rc interpolate(const struct kh_slice *shares, unsigned k, size_t secret_len,
                         struct kh_buf *secret_out)
{
	uint8_t xs[KH_LIMIT_SHARES_MAX];
	uint8_t basis[KH_LIMIT_SHARES_MAX];
	uint8_t *dst = NULL;

	KH_GUARD(kh_buf_extend(secret_out, secret_len, &dst));
	for (unsigned i = 0; i < k; i++)
		xs[i] = shares[i].ptr[KH_SHAMIR_OFF_INDEX];
	for (unsigned i = 0; i < k; i++) {
		uint8_t num = 1;
		uint8_t den = 1;

		for (unsigned m = 0; m < k; m++) {
			if (m == i)
				continue;
			num = kh_gf256_mul(num, xs[m]);
			den = kh_gf256_mul(den, (uint8_t)(xs[m] ^ xs[i])); /* non-zero: distinct */
		}
		basis[i] = kh_gf256_mul(num, kh_gf256_inv(den));
	}
	for (size_t j = 0; j < secret_len; j++) {
		uint8_t acc = 0;

		for (unsigned i = 0; i < k; i++)
			acc ^= kh_gf256_mul(shares[i].ptr[KH_SHAMIR_OFF_Y + j], basis[i]);
		dst[j] = acc;
	}
	kh_buf_commit(secret_out, secret_len);
	return KH_OK;
}

kh_rc kh_shamir_combine(const struct kh_slice *shares, size_t count, struct kh_buf *secret_out,
                        size_t *out_bad_share)
{
	bool seen[KH_LIMIT_SHARES_MAX + 1] = {false};
	struct kh_shamir_info first = {0};
	struct kh_shamir_info info;
	size_t bad = 0;
	kh_rc rc;

	KH_REQUIRE_SECURE(secret_out);
	KH_ENSURE(count == 0 || shares != NULL, KH_ERR_BAD_INPUT);
	/* Every share is checked, even beyond the threshold: a bad extra share means the
	 * custodians' set is not what they think, and they should hear about it. At most 255
	 * shares can pass (distinct indexes), so a huge count fails early. */
	for (size_t i = 0; i < count; i++) {
		bad = i;
		KH_GUARD_OUT(check_member(shares[i], i == 0 ? NULL : &first, seen, &info));
		if (i == 0)
			first = info;
	}
	bad = count;
	KH_ENSURE_OUT(count > 0 && count >= first.threshold, KH_ERR_BAD_SHARE);
	/* More than threshold shares: the first threshold of them determine the secret. */
	KH_GUARD_OUT(interpolate(shares, first.threshold, first.secret_len, secret_out));
	rc = KH_OK;
out:
	if (rc == KH_ERR_BAD_SHARE && out_bad_share != NULL)
		*out_bad_share = bad;
	return rc;
}
