/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-principal rate limiter on a fake clock: a bucket gives its burst and then refills at
 * the rate, with Retry-After rounded up to whole seconds; buckets are independent; off means
 * off; the table never grows past its fixed size, and an evicted bucket comes back full; a clock
 * that goes back refills nothing; concurrent takes never give more than the burst. Client
 * addresses become keys (IPv6 by /64), and 429 TooManyRequests is the error model's answer;
 * allocation failures.
 */
#include "kh_test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/kh_api_int.h"
#include "crypto/kh_crypto.h"

#define START_NS (INT64_C(1800000000) * KH_NS_PER_SEC)

struct fixture {
	struct kh_clock clock;
	struct kh_ratelimit *rl;
};

static struct fixture *fixture_new(unsigned rate, unsigned burst)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	assert_non_null(f);
	kh_clock_fake_init(&f->clock, START_NS);
	struct kh_ratelimit_options o = {rate, burst, &f->clock};
	assert_int_equal(kh_ratelimit_new(&o, &f->rl), KH_OK);
	return f;
}

static void fixture_free(struct fixture *f)
{
	kh_ratelimit_free(&f->rl);
	assert_null(f->rl);
	test_free(f);
}

static unsigned takes(struct fixture *f, const char *key, unsigned n)
{
	unsigned ok = 0, retry = 0;
	for (unsigned i = 0; i < n; i++)
		ok += kh_ratelimit_take(f->rl, key, &retry) ? 1u : 0u;
	return ok;
}

static void a_bucket_gives_its_burst_then_refuses(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(2, 4);
	unsigned retry = 0;
	assert_int_equal(takes(f, "account:1", 4), 4);
	assert_false(kh_ratelimit_take(f->rl, "account:1", &retry));
	assert_int_equal(retry, 1);
	fixture_free(f);
}

static void tokens_come_back_at_the_rate(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(2, 4);
	unsigned retry = 0;
	assert_int_equal(takes(f, "operator", 4), 4);
	/* Two per second: one every 500 ms. */
	kh_clock_fake_advance(&f->clock, 499 * KH_NS_PER_MS);
	assert_false(kh_ratelimit_take(f->rl, "operator", &retry));
	kh_clock_fake_advance(&f->clock, KH_NS_PER_MS);
	assert_true(kh_ratelimit_take(f->rl, "operator", &retry));
	assert_false(kh_ratelimit_take(f->rl, "operator", &retry));
	/* A long pause refills to the burst, not beyond. */
	kh_clock_fake_advance(&f->clock, 3600 * KH_NS_PER_SEC);
	assert_int_equal(takes(f, "operator", 10), 4);
	fixture_free(f);
}

static void retry_after_is_rounded_up_to_whole_seconds(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(1, 1);
	unsigned retry = 0;
	assert_true(kh_ratelimit_take(f->rl, "k", &retry));
	assert_false(kh_ratelimit_take(f->rl, "k", &retry));
	assert_int_equal(retry, 1);
	/* 1 ns short of the next token: still refused, still "1" (never "0"). */
	kh_clock_fake_advance(&f->clock, KH_NS_PER_SEC - 1);
	retry = 0;
	assert_false(kh_ratelimit_take(f->rl, "k", &retry));
	assert_int_equal(retry, 1);
	kh_clock_fake_advance(&f->clock, 1);
	assert_true(kh_ratelimit_take(f->rl, "k", &retry));
	fixture_free(f);
}

static void buckets_are_per_key(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(1, 3);
	assert_int_equal(takes(f, "account:1", 10), 3);
	assert_int_equal(takes(f, "account:2", 10), 3);
	assert_int_equal(takes(f, "operator", 10), 3);
	assert_int_equal(takes(f, "ip:127.0.0.1", 10), 3);
	assert_int_equal(kh_ratelimit_size(f->rl), 4);
	fixture_free(f);
}

static void rate_zero_never_limits_and_keeps_nothing(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(0, 5);
	assert_int_equal(takes(f, "account:1", 10000), 10000);
	assert_int_equal(kh_ratelimit_size(f->rl), 0);
	fixture_free(f);
	/* A NULL limiter (none configured) lets everything through too. */
	unsigned retry = 0;
	assert_true(kh_ratelimit_take(NULL, "account:1", &retry));
}

static void burst_zero_means_the_rate(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(7, 0);
	assert_int_equal(takes(f, "account:1", 100), 7);
	fixture_free(f);
}

static void out_of_range_options_are_refused(void **state)
{
	(void)state;
	struct kh_ratelimit *rl = NULL;
	struct kh_ratelimit_options big_rate = {1000001, 1, NULL};
	struct kh_ratelimit_options big_burst = {1, 1000001, NULL};
	assert_int_equal(kh_ratelimit_new(&big_rate, &rl), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_ratelimit_new(&big_burst, &rl), KH_ERR_BAD_INPUT);
	assert_null(rl);
	/* The largest values work without overflow: a full bucket after a year of idling. */
	struct fixture *f = fixture_new(1000000, 1000000);
	assert_int_equal(takes(f, "k", 1000000), 1000000);
	kh_clock_fake_advance(&f->clock, 365 * KH_NS_PER_DAY);
	assert_int_equal(takes(f, "k", 1000001), 1000000);
	fixture_free(f);
}

static void memory_is_bounded_and_an_evicted_bucket_comes_back_full(void **state)
{
	(void)state;
	char key[KH_RATELIMIT_KEY_MAX];
	struct fixture *f = fixture_new(1, 2);
	assert_int_equal(takes(f, "victim", 2), 2);
	/* Many more keys than slots, each a little later: the table stays at its size. */
	for (unsigned i = 0; i < 4 * KH_RATELIMIT_SLOTS; i++) {
		snprintf(key, sizeof(key), "ip:10.%u.%u.%u", i >> 16 & 0xff, i >> 8 & 0xff,
		         i & 0xff);
		kh_clock_fake_advance(&f->clock, 1);
		assert_int_equal(takes(f, key, 1), 1);
		if (i % 512 == 0)
			assert_true(kh_ratelimit_size(f->rl) <= KH_RATELIMIT_SLOTS);
	}
	assert_int_equal(kh_ratelimit_size(f->rl), KH_RATELIMIT_SLOTS);
	/* The victim, least recently used, was evicted; 16 us of refill is no token, so its two
	 * tokens prove it starts over with a full bucket. */
	assert_int_equal(takes(f, "victim", 3), 2);
	fixture_free(f);
}

static void a_full_stripe_never_evicts_a_recent_bucket(void **state)
{
	(void)state;
	char key[KH_RATELIMIT_KEY_MAX];
	struct fixture *f = fixture_new(1, 1);
	/* A stripe holds 64: however 64 keys hash, none is evicted, so each stays drained. */
	for (unsigned i = 0; i < 64; i++) {
		snprintf(key, sizeof(key), "account:%u", i + 1);
		assert_int_equal(takes(f, key, 2), 1);
	}
	for (unsigned i = 0; i < 64; i++) {
		snprintf(key, sizeof(key), "account:%u", i + 1);
		assert_int_equal(takes(f, key, 1), 0);
	}
	fixture_free(f);
}

static void a_clock_going_back_refills_nothing(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(1, 2);
	assert_int_equal(takes(f, "k", 2), 2);
	kh_clock_fake_set(&f->clock, START_NS - 3600 * KH_NS_PER_SEC);
	assert_int_equal(takes(f, "k", 1), 0);
	/* Back to where it was and one second on: one token, as if it had never gone back. */
	kh_clock_fake_set(&f->clock, START_NS + KH_NS_PER_SEC);
	assert_int_equal(takes(f, "k", 5), 1);
	fixture_free(f);
}

struct hammer {
	struct kh_ratelimit *rl;
	unsigned allowed;
};

static void *hammer_fn(void *arg)
{
	struct hammer *h = arg;
	unsigned retry = 0;
	for (unsigned i = 0; i < 2000; i++)
		h->allowed += kh_ratelimit_take(h->rl, "shared", &retry) ? 1u : 0u;
	return NULL;
}

static void concurrent_takes_never_exceed_the_burst(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(1, 100);
	pthread_t t[4];
	struct hammer h[4];
	for (size_t i = 0; i < 4; i++) {
		h[i] = (struct hammer){f->rl, 0};
		assert_int_equal(pthread_create(&t[i], NULL, hammer_fn, &h[i]), 0);
	}
	unsigned total = 0;
	for (size_t i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += h[i].allowed;
	}
	/* The fake clock stands still: exactly the burst, whatever the interleaving. */
	assert_int_equal(total, 100);
	fixture_free(f);
}

static void addresses_become_keys_ipv6_by_64(void **state)
{
	(void)state;
	char a[KH_RATELIMIT_KEY_MAX], b[KH_RATELIMIT_KEY_MAX];
	kh_ratelimit_addr_key("192.0.2.1", a);
	assert_string_equal(a, "ip:192.0.2.1");
	kh_ratelimit_addr_key("::ffff:192.0.2.1", b);
	assert_string_equal(b, "ip:192.0.2.1");
	kh_ratelimit_addr_key("2001:db8:1:2::5", a);
	kh_ratelimit_addr_key("2001:db8:1:2:ffff:eeee:dddd:1", b);
	assert_string_equal(a, b);
	assert_string_equal(a, "ip6:2001:0db8:0001:0002::/64");
	kh_ratelimit_addr_key("2001:db8:1:3::5", b);
	assert_string_not_equal(a, b);
	kh_ratelimit_addr_key("::1", a);
	assert_string_equal(a, "ip6:0000:0000:0000:0000::/64");
	/* Something that is not an address is still a bounded key of its own. */
	kh_ratelimit_addr_key("not:an:address:at:all:really:not:one:no", a);
	assert_true(strncmp(a, "ip:", 3) == 0);
	assert_true(strlen(a) < KH_RATELIMIT_KEY_MAX);
}

static void rate_limited_is_429_too_many_requests(void **state)
{
	(void)state;
	struct kh_api_error e = kh_api_error_of(KH_ERR_RATE_LIMITED);
	assert_int_equal(e.status, 429);
	assert_string_equal(e.code, "TooManyRequests");
}

static kh_rc limiter_alloc(void *arg)
{
	(void)arg;
	struct kh_ratelimit *rl = NULL;
	struct kh_ratelimit_options o = {10, 20, NULL};
	unsigned retry = 0;
	KH_GUARD(kh_ratelimit_new(&o, &rl));
	bool ok = kh_ratelimit_take(rl, "account:1", &retry);
	kh_ratelimit_free(&rl);
	return ok ? KH_OK : KH_ERR_INTERNAL;
}

static void allocation_failures_leak_nothing(void **state)
{
	(void)state;
	kh_test_alloc_failures(limiter_alloc, NULL);
}

static int setup(void **state)
{
	(void)state;
	return kh_crypto_init() == KH_OK ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_bucket_gives_its_burst_then_refuses),
	    cmocka_unit_test(tokens_come_back_at_the_rate),
	    cmocka_unit_test(retry_after_is_rounded_up_to_whole_seconds),
	    cmocka_unit_test(buckets_are_per_key),
	    cmocka_unit_test(rate_zero_never_limits_and_keeps_nothing),
	    cmocka_unit_test(burst_zero_means_the_rate),
	    cmocka_unit_test(out_of_range_options_are_refused),
	    cmocka_unit_test(memory_is_bounded_and_an_evicted_bucket_comes_back_full),
	    cmocka_unit_test(a_full_stripe_never_evicts_a_recent_bucket),
	    cmocka_unit_test(a_clock_going_back_refills_nothing),
	    cmocka_unit_test(concurrent_takes_never_exceed_the_burst),
	    cmocka_unit_test(addresses_become_keys_ipv6_by_64),
	    cmocka_unit_test(rate_limited_is_429_too_many_requests),
	    cmocka_unit_test(allocation_failures_leak_nothing),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
