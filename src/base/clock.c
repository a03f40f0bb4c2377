/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Real and fake clocks (see kh_clock.h).
 */
#include "base/kh_clock.h"

#include <stdio.h>
#include <time.h>

static int64_t real_now(const struct kh_clock *c)
{
	struct timespec ts;

	(void)c;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * KH_NS_PER_SEC + ts.tv_nsec;
}

static int64_t fake_now(const struct kh_clock *c)
{
	return atomic_load(&c->fake_ns);
}

static struct kh_clock real_clock = {.now = real_now};

const struct kh_clock *kh_clock_real(void)
{
	return &real_clock;
}

void kh_clock_fake_init(struct kh_clock *c, int64_t start_ns)
{
	c->now = fake_now;
	atomic_store(&c->fake_ns, start_ns);
}

void kh_clock_fake_set(struct kh_clock *c, int64_t ns)
{
	atomic_store(&c->fake_ns, ns);
}

void kh_clock_fake_advance(struct kh_clock *c, int64_t delta_ns)
{
	atomic_fetch_add(&c->fake_ns, delta_ns);
}

int64_t kh_clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * KH_NS_PER_SEC + ts.tv_nsec;
}

kh_rc kh_time_format_rfc3339(int64_t unix_ns, int with_ms, char *out, size_t out_len)
{
	int64_t secs = unix_ns / KH_NS_PER_SEC;
	int64_t rem = unix_ns % KH_NS_PER_SEC;
	struct tm tm;
	time_t t;
	int n;

	KH_ENSURE(out_len >= KH_RFC3339_MAX, KH_ERR_INTERNAL);
	if (rem < 0) {
		rem += KH_NS_PER_SEC;
		secs--;
	}
	t = (time_t)secs;
	KH_ENSURE(gmtime_r(&t, &tm) != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(tm.tm_year >= -1900 && tm.tm_year <= 9999 - 1900, KH_ERR_BAD_INPUT);
	if (with_ms)
		n = snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		             (int)(rem / KH_NS_PER_MS));
	else
		n = snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
		             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	KH_ENSURE(n > 0 && (size_t)n < out_len, KH_ERR_INTERNAL);
	return KH_OK;
}
