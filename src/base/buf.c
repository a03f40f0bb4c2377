/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded byte buffers (see kh_buf.h).
 */
#include "base/kh_buf.h"

#include <string.h>

#include "base/kh_mem.h"

enum {
	MIN_CAP = 64
};

struct kh_slice kh_slice_from_cstr(const char *s)
{
	return s == NULL ? KH_SLICE_EMPTY : KH_SLICE(s, strlen(s));
}

bool kh_slice_eq(struct kh_slice a, struct kh_slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

void kh_buf_init(struct kh_buf *b, size_t max, unsigned flags)
{
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->flags = flags;
}

static void storage_free(struct kh_buf *b)
{
	if (b->ptr == NULL)
		return;
	if (b->flags & KH_BUF_SECURE)
		kh_secure_free(&b->ptr);
	else
		kh_free(&b->ptr);
}

void kh_buf_cleanup(struct kh_buf *b)
{
	storage_free(b);
	b->len = 0;
	b->cap = 0;
}

void kh_buf_clear(struct kh_buf *b)
{
	if (b->ptr != NULL && (b->flags & KH_BUF_SECURE))
		kh_wipe(b->ptr, b->len);
	b->len = 0;
}

kh_rc kh_buf_reserve(struct kh_buf *b, size_t extra)
{
	size_t need;
	size_t cap;
	uint8_t *p;

	/* The last test keeps need (and max + 1 below) from wrapping for max = SIZE_MAX. */
	KH_ENSURE(extra <= b->max && b->len <= b->max - extra && b->len + extra < SIZE_MAX,
	          KH_ERR_TOO_LARGE);
	need = b->len + extra + 1; /* + room for a NUL */
	if (need <= b->cap)
		return KH_OK;
	cap = b->cap < MIN_CAP ? MIN_CAP : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (b->max < SIZE_MAX && cap > b->max + 1)
		cap = b->max + 1;

	p = (b->flags & KH_BUF_SECURE) ? kh_secure_alloc(cap) : kh_alloc(cap);
	KH_ENSURE(p != NULL, KH_ERR_NOMEM);
	if (b->len > 0)
		memcpy(p, b->ptr, b->len);
	storage_free(b); /* wipes the old copy when secure */
	b->ptr = p;
	b->cap = cap;
	return KH_OK;
}

kh_rc kh_buf_append(struct kh_buf *b, struct kh_slice s)
{
	if (s.len == 0)
		return KH_OK;
	KH_GUARD(kh_buf_reserve(b, s.len));
	memcpy(b->ptr + b->len, s.ptr, s.len);
	b->len += s.len;
	return KH_OK;
}

kh_rc kh_buf_append_byte(struct kh_buf *b, uint8_t c)
{
	return kh_buf_append(b, KH_SLICE(&c, 1));
}

kh_rc kh_buf_append_cstr(struct kh_buf *b, const char *s)
{
	return kh_buf_append(b, kh_slice_from_cstr(s));
}

kh_rc kh_buf_extend(struct kh_buf *b, size_t n, uint8_t **out_ptr)
{
	KH_GUARD(kh_buf_reserve(b, n));
	*out_ptr = b->ptr + b->len;
	return KH_OK;
}

void kh_buf_commit(struct kh_buf *b, size_t n)
{
	/* Programmer invariant: commit only what kh_buf_extend reserved. */
	if (b->ptr == NULL || n >= b->cap - b->len)
		__builtin_trap();
	b->len += n;
}

void kh_buf_truncate(struct kh_buf *b, size_t new_len)
{
	if (new_len >= b->len)
		return;
	if (b->flags & KH_BUF_SECURE)
		kh_wipe(b->ptr + new_len, b->len - new_len);
	b->len = new_len;
}

const char *kh_buf_cstr(const struct kh_buf *b)
{
	if (b->ptr == NULL)
		return "";
	b->ptr[b->len] = '\0'; /* reserve always leaves this byte */
	return (const char *)b->ptr;
}
