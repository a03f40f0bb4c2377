/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded buffers: the maximum is hard, secure buffers stay in secure memory as they grow,
 * extend/commit writes in place, and every path survives allocation failure without leaks.
 */
#include "kh_test.h"

#include <string.h>

#include "base/kh_mem.h"

static void append_stops_at_the_maximum(void **state)
{
	struct kh_buf b;
	(void)state;
	kh_buf_init(&b, 10, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&b, KH_SLICE_LIT("0123456789")), KH_OK);
	assert_int_equal(kh_buf_append_byte(&b, 'x'), KH_ERR_TOO_LARGE);
	assert_int_equal(b.len, 10);
	assert_string_equal(kh_buf_cstr(&b), "0123456789");
	assert_int_equal(kh_buf_reserve(&b, SIZE_MAX), KH_ERR_TOO_LARGE);
	kh_buf_cleanup(&b);
	assert_null(b.ptr);
	assert_int_equal(b.len, 0);
}

/* A buffer without a practical bound (max = SIZE_MAX) still grows: max + 1 must not wrap. */
static void an_unbounded_buffer_grows(void **state)
{
	(void)state;
	struct kh_buf b;
	kh_buf_init(&b, SIZE_MAX, KH_BUF_PLAIN);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(kh_buf_append_cstr(&b, "0123456789"), KH_OK);
	assert_int_equal(b.len, 10000);
	assert_true(b.cap > b.len);
	assert_memory_equal(b.ptr + 9990, "0123456789", 10);
	assert_int_equal(kh_buf_reserve(&b, SIZE_MAX - b.len), KH_ERR_TOO_LARGE);
	kh_buf_cleanup(&b);
}

static void growth_keeps_contents(void **state)
{
	struct kh_buf b;
	char expect[5000];
	(void)state;
	kh_buf_init(&b, sizeof(expect), KH_BUF_PLAIN);
	for (size_t i = 0; i < sizeof(expect) - 1; i++) {
		expect[i] = (char)('a' + i % 26);
		assert_int_equal(kh_buf_append_byte(&b, (uint8_t)expect[i]), KH_OK);
	}
	expect[sizeof(expect) - 1] = '\0';
	assert_string_equal(kh_buf_cstr(&b), expect);
	assert_true(b.cap <= sizeof(expect) + 1);
	kh_buf_cleanup(&b);
}

static void secure_buffers_live_in_secure_memory_while_growing(void **state)
{
	struct kh_buf b;
	uint8_t chunk[300];
	(void)state;
	memset(chunk, 0x42, sizeof(chunk));
	kh_buf_init(&b, 4096, KH_BUF_SECURE);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(kh_buf_append(&b, KH_SLICE(chunk, sizeof(chunk))), KH_OK);
		assert_true(kh_secure_owns(b.ptr));
	}
	assert_int_equal(b.len, 3000);
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.ptr[i], 0x42);
	kh_buf_cleanup(&b);
}

static void truncate_and_clear_wipe_secure_bytes(void **state)
{
	struct kh_buf b;
	uint8_t *p;
	(void)state;
	kh_buf_init(&b, 64, KH_BUF_SECURE);
	assert_int_equal(kh_buf_append(&b, KH_SLICE_LIT("secretsecret")), KH_OK);
	p = b.ptr;
	kh_buf_truncate(&b, 6);
	assert_int_equal(b.len, 6);
	assert_int_equal(p[6], 0);
	assert_int_equal(p[11], 0);
	kh_buf_clear(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(p[0], 0);
	assert_ptr_equal(b.ptr, p); /* storage kept for reuse */
	kh_buf_truncate(&b, 10);    /* longer than len: no effect */
	assert_int_equal(b.len, 0);
	kh_buf_cleanup(&b);
}

static void extend_then_commit_writes_in_place(void **state)
{
	struct kh_buf b;
	uint8_t *w;
	(void)state;
	kh_buf_init(&b, 8, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&b, KH_SLICE_LIT("ab")), KH_OK);
	assert_int_equal(kh_buf_extend(&b, 3, &w), KH_OK);
	memcpy(w, "cde", 3);
	kh_buf_commit(&b, 3);
	assert_string_equal(kh_buf_cstr(&b), "abcde");
	assert_int_equal(kh_buf_extend(&b, 4, &w), KH_ERR_TOO_LARGE);
	kh_buf_cleanup(&b);
}

static void empty_buffer_reads_as_empty_string(void **state)
{
	struct kh_buf b;
	(void)state;
	kh_buf_init(&b, 8, KH_BUF_PLAIN);
	assert_string_equal(kh_buf_cstr(&b), "");
	assert_int_equal(kh_buf_append(&b, KH_SLICE_EMPTY), KH_OK);
	assert_null(b.ptr);
	kh_buf_cleanup(&b);
}

static void slices_compare_by_content(void **state)
{
	(void)state;
	assert_true(kh_slice_eq(KH_SLICE_LIT("abc"), kh_slice_from_cstr("abc")));
	assert_false(kh_slice_eq(KH_SLICE_LIT("abc"), KH_SLICE_LIT("abd")));
	assert_false(kh_slice_eq(KH_SLICE_LIT("abc"), KH_SLICE_LIT("ab")));
	assert_true(kh_slice_eq(KH_SLICE_EMPTY, kh_slice_from_cstr(NULL)));
}

static kh_rc grow_two_buffers(void *arg)
{
	struct kh_buf a, s;
	kh_rc rc;
	(void)arg;
	kh_buf_init(&a, 1 << 16, KH_BUF_PLAIN);
	kh_buf_init(&s, 1 << 16, KH_BUF_SECURE);
	for (int i = 0; i < 8; i++) {
		KH_GUARD_OUT(kh_buf_append(&a, KH_SLICE_LIT("0123456789abcdef0123456789abcdef")));
		KH_GUARD_OUT(kh_buf_append(&s, kh_buf_slice(&a)));
	}
out:
	kh_buf_cleanup(&a);
	kh_buf_cleanup(&s);
	return rc;
}

static void buffers_survive_allocation_failures(void **state)
{
	(void)state;
	kh_test_alloc_failures(grow_two_buffers, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(append_stops_at_the_maximum),
	    cmocka_unit_test(growth_keeps_contents),
	    cmocka_unit_test(secure_buffers_live_in_secure_memory_while_growing),
	    cmocka_unit_test(truncate_and_clear_wipe_secure_bytes),
	    cmocka_unit_test(extend_then_commit_writes_in_place),
	    cmocka_unit_test(empty_buffer_reads_as_empty_string),
	    cmocka_unit_test(slices_compare_by_content),
	    cmocka_unit_test(buffers_survive_allocation_failures),
	    cmocka_unit_test(an_unbounded_buffer_grows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
