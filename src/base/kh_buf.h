/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Borrowed bytes (struct kh_slice) and owned, bounded bytes (struct kh_buf).
 *
 * A kh_buf has a hard maximum fixed at init: growth past it is KH_ERR_TOO_LARGE, so a peer can
 * never make us allocate more than the limit we chose. A secure kh_buf lives in the secure
 * arena; it grows by allocate-copy-wipe, never realloc, so no stale copy of a secret is left in
 * freed memory. Buffers always keep one spare byte so the contents can be NUL-terminated for
 * libraries that want C strings (kh_buf_cstr).
 */
#ifndef KH_BUF_H
#define KH_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kh_rc.h"

struct kh_slice {
	const uint8_t *ptr;
	size_t len;
};

#define KH_SLICE(p, n) ((struct kh_slice){.ptr = (const uint8_t *)(p), .len = (n)})
/* A slice over a string literal, without its NUL. */
#define KH_SLICE_LIT(s) ((struct kh_slice){.ptr = (const uint8_t *)(s), .len = sizeof(s) - 1})
#define KH_SLICE_EMPTY ((struct kh_slice){.ptr = NULL, .len = 0})

struct kh_slice kh_slice_from_cstr(const char *s);
bool kh_slice_eq(struct kh_slice a, struct kh_slice b); /* not constant time: public data only */

enum kh_buf_flags {
	KH_BUF_PLAIN = 0,
	KH_BUF_SECURE = 1, /* contents are secret: secure arena, wiped on reset and free */
};

struct kh_buf {
	uint8_t *ptr;
	size_t len;
	size_t cap;
	size_t max;
	unsigned flags;
};

/* A ready, empty buffer; allocation happens on first write. */
void kh_buf_init(struct kh_buf *b, size_t max, unsigned flags);
/* Wipes (if secure) and releases the storage; the buffer can be reused after kh_buf_init. */
void kh_buf_cleanup(struct kh_buf *b);
/* Forgets the contents (wiping them if secure) but keeps the storage. */
void kh_buf_clear(struct kh_buf *b);

KH_MUST_CHECK kh_rc kh_buf_reserve(struct kh_buf *b, size_t extra);
KH_MUST_CHECK kh_rc kh_buf_append(struct kh_buf *b, struct kh_slice s);
KH_MUST_CHECK kh_rc kh_buf_append_byte(struct kh_buf *b, uint8_t c);
KH_MUST_CHECK kh_rc kh_buf_append_cstr(struct kh_buf *b, const char *s);
/*
 * Makes room for n more bytes and returns where they go; the caller writes them and then calls
 * kh_buf_commit(b, n). Lets encoders and crypto write straight into the buffer.
 */
KH_MUST_CHECK kh_rc kh_buf_extend(struct kh_buf *b, size_t n, uint8_t **out_ptr);
void kh_buf_commit(struct kh_buf *b, size_t n);
/* Drops bytes from the end (wiping them if secure). n <= len. */
void kh_buf_truncate(struct kh_buf *b, size_t new_len);

static inline struct kh_slice kh_buf_slice(const struct kh_buf *b)
{
	return (struct kh_slice){.ptr = b->ptr, .len = b->len};
}

/* NUL-terminated view of the contents (a buffer with no storage yields ""). */
const char *kh_buf_cstr(const struct kh_buf *b);

#endif
