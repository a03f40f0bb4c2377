/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The allocator: secure memory is zeroed, locked, excluded from dumps, wiped and reusable;
 * the arena coalesces so it never fragments into uselessness; allocation failures can be
 * injected; process hardening really disables core dumps.
 */
#include "kh_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/kh_mem.h"

static void secure_memory_is_zeroed_owned_and_freed_to_null(void **state)
{
	uint8_t *p = kh_secure_alloc(100);
	uint8_t zero[100] = {0};
	(void)state;
	assert_non_null(p);
	assert_memory_equal(p, zero, sizeof(zero));
	assert_true(kh_secure_owns(p));
	assert_true(kh_secure_owns(p + 99));
	memset(p, 0xa5, 100);
	kh_secure_free(&p);
	assert_null(p);
	kh_secure_free(&p); /* NULL is fine */
	kh_secure_free(NULL);
}

static void ordinary_and_stack_memory_is_not_secure(void **state)
{
	uint8_t local[8];
	void *heap = kh_alloc(8);
	(void)state;
	assert_non_null(heap);
	assert_false(kh_secure_owns(local));
	assert_false(kh_secure_owns(heap));
	assert_false(kh_secure_owns(NULL));
	kh_free(&heap);
	assert_null(heap);
}

static void freed_secrets_are_wiped_before_reuse(void **state)
{
	uint8_t *a = kh_secure_alloc(64);
	uint8_t *b;
	uint8_t zero[64] = {0};
	(void)state;
	assert_non_null(a);
	memset(a, 0x5a, 64);
	uint8_t *where = a;
	kh_secure_free(&a);
	b = kh_secure_alloc(64);
	assert_non_null(b);
	/* First fit hands the same block back: it must not still hold the old secret. */
	assert_ptr_equal(b, where);
	assert_memory_equal(b, zero, sizeof(zero));
	kh_secure_free(&b);
}

static void arena_is_locked_and_excluded_from_dumps(void **state)
{
	struct kh_secure_stats st;
	void *p = kh_secure_alloc(1);
	(void)state;
	kh_secure_stats_get(&st);
	assert_true(st.arena_len >= 1024 * 1024);
	assert_true(st.dontdump);
	if (geteuid() == 0)
		assert_true(st.locked);
	assert_true(st.in_use > 0);
	kh_secure_free(&p);
	assert_int_equal(kh_secure_init(1 << 20), KH_ERR_CONFLICT);
}

static void arena_fills_up_and_coalesces_back(void **state)
{
	enum {
		N = 4096
	};
	void **blocks = calloc(N, sizeof(void *));
	struct kh_secure_stats before, st;
	size_t count = 0;
	void *big;
	(void)state;
	assert_non_null(blocks);
	kh_secure_stats_get(&before);
	/* Fill the arena with 4 KiB blocks until it refuses: no fallback to plain memory. */
	while (count < N && (blocks[count] = kh_secure_alloc(4000)) != NULL)
		count++;
	assert_true(count > 100);
	assert_true(count < N);
	assert_null(kh_secure_alloc(before.arena_len));
	/* Free every other block, then the rest: neighbours must merge into one region. */
	for (size_t i = 0; i < count; i += 2)
		kh_secure_free(&blocks[i]);
	for (size_t i = 1; i < count; i += 2)
		kh_secure_free(&blocks[i]);
	kh_secure_stats_get(&st);
	assert_int_equal(st.in_use, before.in_use);
	big = kh_secure_alloc(before.arena_len - before.in_use - 64);
	assert_non_null(big);
	kh_secure_free(&big);
	free(blocks);
}

static void injected_failure_hits_exactly_the_nth_allocation(void **state)
{
	void *a, *b, *c, *d;
	(void)state;
	kh_mem_fail_at(2);
	a = kh_alloc(10);
	b = kh_secure_alloc(10);
	c = kh_calloc(2, 5);
	d = kh_secure_alloc(10);
	assert_int_equal(kh_mem_alloc_count(), 4);
	kh_mem_fail_at(0);
	assert_non_null(a);
	assert_null(b);
	assert_non_null(c);
	assert_non_null(d);
	kh_free(&a);
	kh_free(&c);
	kh_secure_free(&d);
}

static void zero_and_absurd_sizes_are_refused(void **state)
{
	(void)state;
	assert_null(kh_secure_alloc(0));
	assert_null(kh_secure_alloc((size_t)1 << 40));
	assert_int_equal(kh_secure_init(0), KH_ERR_CONFLICT); /* exists already */
}

static void hardening_disables_core_dumps(void **state)
{
	pid_t pid = fork();
	int status;
	(void)state;
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl;
		if (kh_mem_harden_process() != KH_OK)
			_exit(1);
		if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
			_exit(2);
		if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
			_exit(3);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

#if defined(__SANITIZE_ADDRESS__)
static void overflow_past_a_secure_block_is_caught(void **state)
{
	pid_t pid;
	int status;
	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The child's report is expected; keep it off the test output. */
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(0);
		volatile uint8_t *p = kh_secure_alloc(24);
		p[24] = 1; /* one byte past the end: ASan must stop us here */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(secure_memory_is_zeroed_owned_and_freed_to_null),
		cmocka_unit_test(ordinary_and_stack_memory_is_not_secure),
		cmocka_unit_test(freed_secrets_are_wiped_before_reuse),
		cmocka_unit_test(arena_is_locked_and_excluded_from_dumps),
		cmocka_unit_test(arena_fills_up_and_coalesces_back),
		cmocka_unit_test(injected_failure_hits_exactly_the_nth_allocation),
		cmocka_unit_test(zero_and_absurd_sizes_are_refused),
		cmocka_unit_test(hardening_disables_core_dumps),
#if defined(__SANITIZE_ADDRESS__)
		cmocka_unit_test(overflow_past_a_secure_block_is_caught),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
