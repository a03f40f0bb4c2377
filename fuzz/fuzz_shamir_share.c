/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the Shamir share parser and combine, which read shares typed in by custodians.
 * Properties checked on every input, not only "no crash": a share that parses reports exactly
 * the fields its bytes hold; a combine that succeeds was given at least threshold shares that
 * each parse, and appended exactly secret_len bytes; a combine that fails leaves the output as
 * it was and names a position no greater than the share count. The input is also cut into up
 * to five shares, at the delimiter "#%#" when it holds one, else into equal pieces whose count
 * the first byte chooses. Finally a deterministic split of the input's first bytes (coefficients
 * taken from the input too) must combine back to exactly those bytes.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/kh_limits.h"
#include "crypto/kh_crypto.h"
#include "crypto/kh_shamir_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	MAX_PIECES = 5,
	MAX_K = 5,
	MAX_N = 7,
};

static const uint8_t delim[3] = {'#', '%', '#'};

static void check_parse(struct kh_slice in)
{
	struct kh_shamir_info info;

	if (kh_shamir_share_parse(in, &info) != KH_OK)
		return;
	if (info.version != 1 || info.threshold < 1 || info.threshold != in.ptr[1] ||
	    info.index == 0 || info.index != in.ptr[2] ||
	    memcmp(info.set_id, in.ptr + KH_SHAMIR_OFF_SET_ID, KH_SHAMIR_SET_ID_LEN) != 0 ||
	    info.secret_len + KH_SHAMIR_OVERHEAD != in.len ||
	    info.secret_len > KH_LIMIT_SHAMIR_SECRET_BYTES)
		abort();
}

/* Cuts in into pieces at the delimiter; returns the count, 0 when there is no delimiter. */
static size_t cut_at_delimiter(struct kh_slice in, struct kh_slice *pieces)
{
	size_t count = 0;
	size_t start = 0;

	for (size_t i = 0; i + sizeof(delim) <= in.len && count + 1 < MAX_PIECES; i++) {
		if (memcmp(in.ptr + i, delim, sizeof(delim)) != 0)
			continue;
		pieces[count++] = KH_SLICE(in.ptr + start, i - start);
		i += sizeof(delim) - 1;
		start = i + 1;
	}
	if (count == 0)
		return 0;
	pieces[count++] = KH_SLICE(in.ptr + start, in.len - start);
	return count;
}

static size_t cut_evenly(struct kh_slice in, struct kh_slice *pieces)
{
	size_t count;
	size_t each;

	if (in.len == 0)
		return 0;
	count = (size_t)in.ptr[0] % MAX_PIECES + 1;
	each = (in.len - 1) / count;
	for (size_t i = 0; i < count; i++)
		pieces[i] = KH_SLICE(in.ptr + 1 + i * each, each);
	return count;
}

static void check_combine(const struct kh_slice *pieces, size_t count)
{
	struct kh_shamir_info info;
	struct kh_buf out;
	size_t bad = (size_t)-1;
	kh_rc rc;

	kh_buf_init(&out, KH_LIMIT_SHAMIR_SECRET_BYTES + 2, KH_BUF_SECURE);
	if (kh_buf_append(&out, KH_SLICE_LIT("ab")) != KH_OK)
		abort();
	rc = kh_shamir_combine(pieces, count, &out, &bad);
	if (rc == KH_OK) {
		if (count == 0 || kh_shamir_share_parse(pieces[0], &info) != KH_OK ||
		    count < info.threshold || out.len != 2 + info.secret_len)
			abort();
		for (size_t i = 1; i < count; i++)
			if (kh_shamir_share_parse(pieces[i], NULL) != KH_OK)
				abort();
	} else {
		if (rc != KH_ERR_BAD_SHARE || bad > count || out.len != 2)
			abort();
	}
	if (memcmp(out.ptr, "ab", 2) != 0)
		abort();
	kh_buf_cleanup(&out);
}

/* Splits the first bytes of the input with coefficients drawn from it, then recovers them
 * from the last threshold shares in reverse order. */
static void check_round_trip(struct kh_slice in)
{
	uint8_t coeffs[KH_LIMIT_SHAMIR_SECRET_BYTES * (MAX_K - 1)];
	struct kh_buf shares[MAX_N];
	struct kh_slice picked[MAX_K];
	struct kh_buf out;
	struct kh_slice secret;
	unsigned k;
	unsigned n;

	k = 2u + in.ptr[0] % (MAX_K - 1);
	n = k + in.ptr[1] % (MAX_N - k + 1);
	secret = KH_SLICE(
	    in.ptr, in.len < KH_LIMIT_SHAMIR_SECRET_BYTES ? in.len : KH_LIMIT_SHAMIR_SECRET_BYTES);
	for (size_t i = 0; i < secret.len * (k - 1); i++)
		coeffs[i] = (uint8_t)(in.ptr[(i * 7 + 3) % in.len] ^ i);
	for (unsigned i = 0; i < n; i++)
		kh_buf_init(&shares[i], KH_SHAMIR_OVERHEAD + KH_LIMIT_SHAMIR_SECRET_BYTES,
		            KH_BUF_SECURE);
	kh_buf_init(&out, KH_LIMIT_SHAMIR_SECRET_BYTES, KH_BUF_SECURE);
	/* The set id is the input's first 8 bytes (the caller guarantees that many). */
	if (kh_shamir_split_with_coeffs(secret, n, k, in.ptr,
	                                KH_SLICE(coeffs, secret.len * (k - 1)), shares) != KH_OK)
		abort();
	for (unsigned i = 0; i < k; i++)
		picked[i] = kh_buf_slice(&shares[n - 1 - i]);
	if (kh_shamir_combine(picked, k, &out, NULL) != KH_OK ||
	    !kh_ct_eq(kh_buf_slice(&out), secret))
		abort();
	kh_buf_cleanup(&out);
	for (unsigned i = 0; i < n; i++)
		kh_buf_cleanup(&shares[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct kh_slice in = KH_SLICE(data, size);
	struct kh_slice pieces[MAX_PIECES];
	size_t count;

	if (!ready) {
		if (kh_crypto_init() != KH_OK)
			abort();
		ready = true;
	}
	check_parse(in);
	count = cut_at_delimiter(in, pieces);
	if (count == 0)
		count = cut_evenly(in, pieces);
	for (size_t i = 0; i < count; i++)
		check_parse(pieces[i]);
	check_combine(pieces, count);
	if (size >= KH_SHAMIR_SET_ID_LEN)
		check_round_trip(in);
	return 0;
}
