/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one allocator. Ordinary memory comes from malloc; secret memory (keys, plaintext,
 * tokens, shares) comes from a locked, non-dumpable arena and is wiped when freed. Both paths
 * count allocations so that tests can make the Nth one fail and check that the code returns
 * KH_ERR_NOMEM without leaking.
 *
 * The secure arena is one mapping with guard pages on both sides, mlock()ed and excluded from
 * core dumps with MADV_DONTDUMP. It is created on first use (or by kh_secure_init) with a fixed
 * size; when it is full, secure allocations fail rather than fall back to ordinary memory.
 */
#ifndef KH_MEM_H
#define KH_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/kh_rc.h"

void *kh_alloc(size_t len) __attribute__((malloc, alloc_size(1)));
void *kh_calloc(size_t count, size_t size) __attribute__((malloc, alloc_size(1, 2)));
/* Frees *p (NULL allowed) and sets *p to NULL. */
void kh_free(void *pp);
void kh_free_ptr(void *p);

/* Secure memory: zeroed on allocation, wiped on free. len must be non-zero. */
void *kh_secure_alloc(size_t len) __attribute__((malloc, alloc_size(1)));
/* Wipes and frees *p (NULL allowed) and sets *p to NULL. */
void kh_secure_free(void *pp);
/* True when p points into the secure arena (the logger uses this to refuse secrets). */
bool kh_secure_owns(const void *p);

struct kh_secure_stats {
	size_t arena_len; /* usable bytes */
	size_t in_use;    /* bytes handed out, headers included */
	size_t peak;
	bool locked; /* mlock succeeded */
	bool dontdump;
};

/*
 * Creates the arena with arena_len usable bytes (rounded up to pages). Optional: the first
 * secure allocation creates a default-sized arena. KH_ERR_CONFLICT if it already exists.
 * Locking may fail when RLIMIT_MEMLOCK is small; the arena still works and stats say so, and
 * the server decides whether that is acceptable.
 */
KH_MUST_CHECK kh_rc kh_secure_init(size_t arena_len);
void kh_secure_stats_get(struct kh_secure_stats *out);

/* Wipes len bytes in a way the compiler may not remove. */
void kh_wipe(void *p, size_t len);

/*
 * Process hardening for the daemon and CLI: no core dumps, not dumpable (blocks ptrace by
 * other users and /proc/pid/mem reads). Not used in tests: sanitizers need to ptrace.
 */
KH_MUST_CHECK kh_rc kh_mem_harden_process(void);

/*
 * Test hook: the nth allocation from now (1 = the next one), ordinary or secure, fails.
 * 0 disables. Process-wide; tests that use it run single-threaded.
 */
void kh_mem_fail_at(unsigned long nth);
/* Allocations made since the last kh_mem_fail_at call (both kinds). */
unsigned long kh_mem_alloc_count(void);

#endif
