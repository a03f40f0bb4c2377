/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Big-endian integers in byte strings: the order of every binary format we define (stored
 * blobs, associated data, canonical audit records), independent of the host.
 */
#ifndef KH_ENDIAN_H
#define KH_ENDIAN_H

#include <stdint.h>

static inline void kh_be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t kh_be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void kh_be64_put(uint8_t *p, uint64_t v)
{
	kh_be32_put(p, (uint32_t)(v >> 32));
	kh_be32_put(p + 4, (uint32_t)v);
}

static inline uint64_t kh_be64_get(const uint8_t *p)
{
	return (uint64_t)kh_be32_get(p) << 32 | kh_be32_get(p + 4);
}

#endif
