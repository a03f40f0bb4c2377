/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Time, injectable. Everything that depends on wall-clock time (rotation schedules, deletion
 * waits, token expiry, audit timestamps) takes a const struct kh_clock *, so tests can use a
 * fake clock and move it by 90 days in a microsecond. Times are nanoseconds since the Unix
 * epoch, UTC, in an int64_t (good until 2262).
 */
#ifndef KH_CLOCK_H
#define KH_CLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kh_rc.h"

#define KH_NS_PER_MS INT64_C(1000000)
#define KH_NS_PER_SEC INT64_C(1000000000)
#define KH_NS_PER_DAY (INT64_C(86400) * KH_NS_PER_SEC)

struct kh_clock {
	int64_t (*now)(const struct kh_clock *c);
	_Atomic int64_t fake_ns; /* used by fake clocks only */
};

/* The system's real-time clock (shared, immutable). */
const struct kh_clock *kh_clock_real(void);
/* A clock that stands still at start_ns until set or advanced; safe to read from threads. */
void kh_clock_fake_init(struct kh_clock *c, int64_t start_ns);
void kh_clock_fake_set(struct kh_clock *c, int64_t ns);
void kh_clock_fake_advance(struct kh_clock *c, int64_t delta_ns);

static inline int64_t kh_clock_now(const struct kh_clock *c)
{
	return c->now(c);
}

/* Monotonic nanoseconds for durations and deadlines (never injected, never goes back). */
int64_t kh_clock_mono_ns(void);

/* "2026-11-23T18:55:00Z" (seconds) or "2026-11-23T18:55:00.123Z" (milliseconds). */
#define KH_RFC3339_MAX 32
KH_MUST_CHECK kh_rc kh_time_format_rfc3339(int64_t unix_ns, int with_ms, char *out, size_t out_len);

#endif
