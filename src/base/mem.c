/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ordinary and secure allocation (see kh_mem.h).
 *
 * The secure arena is a first-fit allocator over one locked mapping: a free list sorted by
 * address, coalesced on free, 16-byte blocks with a small header. Secret allocations are few
 * and small (keys, shares, plaintext of one request), so simplicity wins over speed here.
 * Under AddressSanitizer the headers and free space are poisoned, so overflows and
 * use-after-free inside the arena are still caught.
 */
#include "base/kh_mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

enum {
	ALIGN = 16,
	DEFAULT_ARENA = 4 * 1024 * 1024,
};

static const uint64_t BLOCK_USED = 0x6b68757365643a31ULL; /* "khused:1" */
static const uint64_t BLOCK_FREE = 0x6b68667265653a31ULL; /* "khfree:1" */

/* Every block starts with this header; a free block also links to the next free one. */
struct block {
	uint64_t magic;
	uint64_t len; /* whole block, header included */
	struct block *next_free;
};
#define HDR ((size_t)offsetof(struct block, next_free)) /* 16: what a used block costs */
#define MIN_BLOCK ((size_t)32)

static struct {
	pthread_mutex_t lock;
	uint8_t *map;
	size_t map_len;
	uint8_t *start; /* first usable byte, after the front guard page */
	size_t len;
	struct block *free_list;
	size_t in_use;
	size_t peak;
	bool locked;
	bool dontdump;
} arena = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_ulong alloc_count;
static atomic_ulong fail_at;

void kh_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		explicit_bzero(p, len);
}

void kh_mem_fail_at(unsigned long nth)
{
	atomic_store(&alloc_count, 0);
	atomic_store(&fail_at, nth);
}

unsigned long kh_mem_alloc_count(void)
{
	return atomic_load(&alloc_count);
}

/* True when this allocation must fail (test hook). */
static bool injected_failure(void)
{
	unsigned long n = atomic_fetch_add(&alloc_count, 1) + 1;
	unsigned long f = atomic_load(&fail_at);
	return f != 0 && n == f;
}

void *kh_alloc(size_t len)
{
	if (injected_failure())
		return NULL;
	return malloc(len == 0 ? 1 : len);
}

void *kh_calloc(size_t count, size_t size)
{
	if (injected_failure())
		return NULL;
	if (count == 0 || size == 0)
		return calloc(1, 1);
	return calloc(count, size);
}

void kh_free_ptr(void *p)
{
	free(p);
}

void kh_free(void *pp)
{
	void *p;

	if (pp == NULL)
		return;
	memcpy(&p, pp, sizeof(p));
	free(p);
	p = NULL;
	memcpy(pp, &p, sizeof(p));
}

static size_t page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	return ps > 0 ? (size_t)ps : 4096;
}

/* Called with the lock held. */
static kh_rc arena_create(size_t want)
{
	size_t ps = page_size();
	size_t len;
	void *map;

	if (want == 0 || want > ((size_t)1 << 32))
		return KH_ERR_BAD_INPUT;
	len = (want + ps - 1) / ps * ps;
	map = mmap(NULL, len + 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return KH_ERR_NOMEM;
	arena.map = map;
	arena.map_len = len + 2 * ps;
	arena.start = arena.map + ps;
	arena.len = len;
	/* Guard pages: a linear overflow out of the arena faults instead of reading neighbours. */
	if (mprotect(arena.map, ps, PROT_NONE) != 0 ||
	    mprotect(arena.start + len, ps, PROT_NONE) != 0) {
		munmap(map, arena.map_len);
		arena.map = NULL;
		return KH_ERR_INTERNAL;
	}
	arena.locked = mlock(arena.start, len) == 0;
	arena.dontdump = madvise(arena.start, len, MADV_DONTDUMP) == 0;

	arena.free_list = (struct block *)(void *)arena.start;
	arena.free_list->magic = BLOCK_FREE;
	arena.free_list->len = len;
	arena.free_list->next_free = NULL;
	POISON(arena.start, len);
	return KH_OK;
}

kh_rc kh_secure_init(size_t arena_len)
{
	kh_rc rc;

	pthread_mutex_lock(&arena.lock);
	rc = arena.map != NULL ? KH_ERR_CONFLICT : arena_create(arena_len);
	pthread_mutex_unlock(&arena.lock);
	return rc;
}

void kh_secure_stats_get(struct kh_secure_stats *out)
{
	pthread_mutex_lock(&arena.lock);
	out->arena_len = arena.len;
	out->in_use = arena.in_use;
	out->peak = arena.peak;
	out->locked = arena.locked;
	out->dontdump = arena.dontdump;
	pthread_mutex_unlock(&arena.lock);
}

bool kh_secure_owns(const void *p)
{
	const uint8_t *b = p;
	/* start and len are written once, before any pointer into the arena can exist. */
	return arena.start != NULL && b >= arena.start && b < arena.start + arena.len;
}

/* Takes want bytes (header included, aligned) from the first free block large enough.
 * Returns the block with its header unpoisoned. */
static struct block *arena_take(size_t want)
{
	struct block *prev = NULL;
	struct block *b = arena.free_list;

	while (b != NULL) {
		struct block *next;
		struct block *replacement;

		UNPOISON(b, sizeof(*b));
		next = b->next_free;
		if (b->len < want) {
			POISON(b, sizeof(*b));
			prev = b;
			b = next;
			continue;
		}
		replacement = next;
		if (b->len - want >= MIN_BLOCK) {
			struct block *rest = (struct block *)(void *)((uint8_t *)b + want);
			UNPOISON(rest, sizeof(*rest));
			rest->magic = BLOCK_FREE;
			rest->len = b->len - want;
			rest->next_free = next;
			POISON(rest, sizeof(*rest));
			replacement = rest;
			b->len = want;
		}
		if (prev == NULL) {
			arena.free_list = replacement;
		} else {
			UNPOISON(prev, sizeof(*prev));
			prev->next_free = replacement;
			POISON(prev, sizeof(*prev));
		}
		b->magic = BLOCK_USED;
		return b;
	}
	return NULL;
}

void *kh_secure_alloc(size_t len)
{
	struct block *b = NULL;
	size_t want;
	uint8_t *payload;

	if (len == 0 || len > ((size_t)1 << 31) || injected_failure())
		return NULL;
	want = (len + HDR + ALIGN - 1) / ALIGN * ALIGN;
	if (want < MIN_BLOCK)
		want = MIN_BLOCK;

	pthread_mutex_lock(&arena.lock);
	if (arena.map == NULL && arena_create(DEFAULT_ARENA) != KH_OK)
		goto out;
	b = arena_take(want);
	if (b != NULL) {
		arena.in_use += b->len;
		if (arena.in_use > arena.peak)
			arena.peak = arena.in_use;
	}
out:
	pthread_mutex_unlock(&arena.lock);
	if (b == NULL)
		return NULL;
	payload = (uint8_t *)b + HDR;
	POISON(b, (size_t)b->len);
	UNPOISON(payload, len);
	memset(payload, 0, len);
	return payload;
}

/* Inserts b into the address-sorted free list and merges it with free neighbours. */
static void arena_give_back(struct block *b)
{
	struct block *prev = NULL;
	struct block *cur = arena.free_list;

	while (cur != NULL && cur < b) {
		prev = cur;
		UNPOISON(cur, sizeof(*cur));
		cur = cur->next_free;
		POISON(prev, sizeof(*prev));
	}
	b->magic = BLOCK_FREE;
	b->next_free = cur;
	if (cur != NULL) {
		UNPOISON(cur, sizeof(*cur));
		if ((uint8_t *)b + b->len == (uint8_t *)cur) {
			b->len += cur->len;
			b->next_free = cur->next_free;
			kh_wipe(cur, sizeof(*cur));
		}
		POISON(cur, sizeof(*cur));
	}
	if (prev == NULL) {
		arena.free_list = b;
	} else {
		UNPOISON(prev, sizeof(*prev));
		prev->next_free = b;
		if ((uint8_t *)prev + prev->len == (uint8_t *)b) {
			prev->len += b->len;
			prev->next_free = b->next_free;
			kh_wipe(b, sizeof(*b));
		}
		POISON(prev, sizeof(*prev));
	}
	POISON(b, sizeof(*b));
}

void kh_secure_free(void *pp)
{
	void *p;
	struct block *b;
	size_t blen;

	if (pp == NULL)
		return;
	memcpy(&p, pp, sizeof(p));
	if (p == NULL)
		return;
	if (!kh_secure_owns(p))
		abort(); /* programmer error: not ours; continuing would corrupt the arena */
	b = (struct block *)(void *)((uint8_t *)p - HDR);

	pthread_mutex_lock(&arena.lock);
	UNPOISON(b, HDR);
	if (b->magic != BLOCK_USED)
		abort(); /* double free or corruption */
	blen = (size_t)b->len;
	UNPOISON(b, blen);
	kh_wipe((uint8_t *)b + HDR, blen - HDR);
	arena.in_use -= blen;
	arena_give_back(b);
	/* Headers and free space stay poisoned at rest; b may now be part of its neighbour. */
	POISON(b, blen);
	pthread_mutex_unlock(&arena.lock);

	p = NULL;
	memcpy(pp, &p, sizeof(p));
}

kh_rc kh_mem_harden_process(void)
{
	struct rlimit none = {0, 0};

	KH_ENSURE(setrlimit(RLIMIT_CORE, &none) == 0, KH_ERR_INTERNAL);
	KH_ENSURE(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0, KH_ERR_INTERNAL);
	return KH_OK;
}
