/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared test helpers (see kh_test.h).
 */
#include "kh_test.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_mem.h"

struct kh_buf kh_test_hex(const char *hex)
{
	struct kh_buf b;

	kh_buf_init(&b, 1u << 24, KH_BUF_PLAIN);
	assert_int_equal(kh_hex_decode(kh_slice_from_cstr(hex), &b), KH_OK);
	return b;
}

void kh_test_assert_hex(struct kh_slice got, const char *hex)
{
	struct kh_buf h;

	kh_buf_init(&h, 1u << 24, KH_BUF_PLAIN);
	assert_int_equal(kh_hex_encode(got, &h), KH_OK);
	assert_string_equal(kh_buf_cstr(&h), hex);
	kh_buf_cleanup(&h);
}

struct kh_buf kh_test_read_data(const char *relative_path)
{
	char path[1024];
	struct kh_buf b;
	uint8_t chunk[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", KH_TEST_DATA, relative_path);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	kh_buf_init(&b, 1u << 26, KH_BUF_PLAIN);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(kh_buf_append(&b, KH_SLICE(chunk, n)), KH_OK);
	fclose(f);
	return b;
}

void kh_test_alloc_failures(kh_test_alloc_fn fn, void *arg)
{
	unsigned long nth;

	for (nth = 1; nth < 100000; nth++) {
		kh_rc rc;

		kh_mem_fail_at(nth);
		rc = fn(arg);
		if (kh_mem_alloc_count() < nth) {
			/* The nth allocation never happened: this run saw no failure. */
			kh_mem_fail_at(0);
			assert_int_equal(rc, KH_OK);
			return;
		}
		if (rc != KH_ERR_NOMEM)
			fail_msg("allocation %lu failed but the code returned %s", nth,
			         kh_rc_name(rc));
	}
	kh_mem_fail_at(0);
	fail_msg("allocation sweep did not terminate");
}

void kh_test_tmpdir(char *out, size_t out_len)
{
	const char *base = getenv("TMPDIR");
	int n = snprintf(out, out_len, "%s/keyhold-test-XXXXXX",
	                 base != NULL && base[0] != '\0' ? base : "/tmp");
	assert_true(n > 0 && (size_t)n < out_len);
	assert_non_null(mkdtemp(out));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void kh_test_rmtree(const char *path)
{
	assert_int_equal(nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

bool kh_test_file_contains(const char *path, struct kh_slice needle)
{
	FILE *fp = fopen(path, "rb");
	struct kh_buf b;
	uint8_t chunk[65536];
	size_t n;
	bool found;

	if (fp == NULL)
		return false;
	kh_buf_init(&b, 1u << 30, KH_BUF_PLAIN);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		assert_int_equal(kh_buf_append(&b, KH_SLICE(chunk, n)), KH_OK);
	fclose(fp);
	found = needle.len > 0 && b.len >= needle.len &&
	        memmem(b.ptr, b.len, needle.ptr, needle.len) != NULL;
	kh_buf_cleanup(&b);
	return found;
}
