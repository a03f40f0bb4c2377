// SPDX-License-Identifier: Apache-2.0
/*
 * Rate limiting per principal: a token bucket for the operator, for each account, and for each
 * source address of requests without a valid token (IPv6 by /64, since one host may hold a
 * whole /64). A bucket holds up to `burst` tokens and refills at `rate` per second; a request
 * takes one or is refused with the seconds until the next token (Retry-After).
 *
 * Memory is fixed: KH_RATELIMIT_SLOTS entries in stripes of STRIPE_SLOTS, each stripe with its
 * own lock, so requests of different principals rarely wait on each other. A key unseen so far
 * takes a free entry of its stripe or else the least recently used one; a bucket idle long
 * enough to be evicted has usually refilled, so evicting it changes nothing. The stripe comes
 * from a hash keyed with a random seed, so a client cannot aim its keys at another's stripe.
 *
 * Tokens are counted in billionths, so that a bucket gains exactly `rate` units per nanosecond
 * (integers: no rounding is ever lost between refills), and the refill after a long idle time
 * is capped at a full bucket before multiplying, so nothing overflows (1e6 x 1e9 < 2^63).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/kh_api_int.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

#define STRIPE_SLOTS 64u
#define STRIPE_COUNT (KH_RATELIMIT_SLOTS / STRIPE_SLOTS)
#define UNIT UINT64_C(1000000000) /* one token */
#define RATE_MAX 1000000u

struct entry {
	uint64_t hash;
	int64_t last_ns; /* last refill, and last use (for LRU) */
	uint64_t tokens; /* billionths of a token */
	char key[KH_RATELIMIT_KEY_MAX];
	bool used;
};

struct stripe {
	pthread_mutex_t mu;
	struct entry e[STRIPE_SLOTS];
};

struct kh_ratelimit {
	uint64_t rate;     /* tokens per second */
	uint64_t capacity; /* billionths */
	int64_t fill_ns;   /* time to refill an empty bucket */
	uint64_t seed;
	const struct kh_clock *clock;
	struct stripe *stripes;
};

static int64_t now_ns(const struct kh_ratelimit *rl)
{
	return rl->clock != NULL ? kh_clock_now(rl->clock) : kh_clock_mono_ns();
}

/* FNV-1a from a random basis, then a 64-bit finaliser (splitmix64) to spread the bits. */
static uint64_t hash_key(uint64_t seed, const char *key)
{
	uint64_t h = seed ^ UINT64_C(0xcbf29ce484222325);
	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
		h ^= *p;
		h *= UINT64_C(0x100000001b3);
	}
	h ^= h >> 30;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 27;
	h *= UINT64_C(0x94d049bb133111eb);
	return h ^ (h >> 31);
}

kh_rc kh_ratelimit_new(const struct kh_ratelimit_options *o, struct kh_ratelimit **out)
{
	KH_ENSURE(o != NULL && out != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(o->rate <= RATE_MAX && o->burst <= RATE_MAX, KH_ERR_BAD_INPUT);
	struct kh_ratelimit *rl = kh_calloc(1, sizeof(*rl));
	KH_ENSURE(rl != NULL, KH_ERR_NOMEM);
	rl->rate = o->rate;
	rl->capacity = (o->burst != 0 ? o->burst : o->rate) * UNIT;
	rl->fill_ns = rl->rate > 0 ? (int64_t)(rl->capacity / rl->rate) + 1 : 0;
	rl->clock = o->clock;
	if (rl->rate == 0) {
		*out = rl; /* off: no table at all */
		return KH_OK;
	}
	if (kh_rand_bytes((uint8_t *)&rl->seed, sizeof(rl->seed)) != KH_OK) {
		kh_free(&rl);
		return KH_ERR_INTERNAL;
	}
	rl->stripes = kh_calloc(STRIPE_COUNT, sizeof(*rl->stripes));
	if (rl->stripes == NULL) {
		kh_free(&rl);
		return KH_ERR_NOMEM;
	}
	for (size_t i = 0; i < STRIPE_COUNT; i++)
		pthread_mutex_init(&rl->stripes[i].mu, NULL);
	*out = rl;
	return KH_OK;
}

void kh_ratelimit_free(struct kh_ratelimit **rlp)
{
	struct kh_ratelimit *rl = *rlp;
	if (rl == NULL)
		return;
	if (rl->stripes != NULL) {
		for (size_t i = 0; i < STRIPE_COUNT; i++)
			pthread_mutex_destroy(&rl->stripes[i].mu);
		kh_free(&rl->stripes);
	}
	kh_free(rlp);
}

/* The key's entry in its stripe (under the stripe's lock): found, or a fresh full bucket in a
 * free or the least recently used slot. */
static struct entry *lookup(struct kh_ratelimit *rl, struct stripe *s, uint64_t h, const char *key,
                            int64_t now)
{
	struct entry *victim = NULL;
	for (size_t i = 0; i < STRIPE_SLOTS; i++) {
		struct entry *e = &s->e[i];
		if (e->used && e->hash == h && strcmp(e->key, key) == 0)
			return e;
		if (!e->used) {
			if (victim == NULL || victim->used)
				victim = e;
		} else if (victim == NULL || (victim->used && e->last_ns < victim->last_ns)) {
			victim = e;
		}
	}
	*victim = (struct entry){.hash = h, .last_ns = now, .tokens = rl->capacity, .used = true};
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	return victim;
}

static void refill(const struct kh_ratelimit *rl, struct entry *e, int64_t now)
{
	/* A clock that went back (an injected wall clock) refills nothing. */
	int64_t elapsed = now > e->last_ns ? now - e->last_ns : 0;
	if (elapsed > rl->fill_ns)
		elapsed = rl->fill_ns;
	/* elapsed <= capacity / rate + 1, so this stays below capacity + rate. */
	uint64_t add = (uint64_t)elapsed * rl->rate;
	e->tokens = e->tokens + add > rl->capacity ? rl->capacity : e->tokens + add;
	if (now > e->last_ns)
		e->last_ns = now;
}

bool kh_ratelimit_take(struct kh_ratelimit *rl, const char *key, unsigned *out_retry_after)
{
	if (rl == NULL || rl->rate == 0)
		return true;
	uint64_t h = hash_key(rl->seed, key);
	struct stripe *s = &rl->stripes[h % STRIPE_COUNT];
	int64_t now = now_ns(rl);
	bool ok = false;
	uint64_t missing = 0;
	pthread_mutex_lock(&s->mu);
	struct entry *e = lookup(rl, s, h, key, now);
	refill(rl, e, now);
	if (e->tokens >= UNIT) {
		e->tokens -= UNIT;
		ok = true;
	} else {
		missing = UNIT - e->tokens;
	}
	pthread_mutex_unlock(&s->mu);
	if (!ok) {
		/* Nanoseconds until the missing part has dripped in, as whole seconds rounded up.
		 */
		uint64_t wait_ns = (missing + rl->rate - 1) / rl->rate;
		uint64_t secs = (wait_ns + (uint64_t)KH_NS_PER_SEC - 1) / (uint64_t)KH_NS_PER_SEC;
		*out_retry_after = secs < 1 ? 1 : (unsigned)secs;
	}
	return ok;
}

size_t kh_ratelimit_size(struct kh_ratelimit *rl)
{
	size_t n = 0;
	if (rl == NULL || rl->stripes == NULL)
		return 0;
	for (size_t i = 0; i < STRIPE_COUNT; i++) {
		pthread_mutex_lock(&rl->stripes[i].mu);
		for (size_t j = 0; j < STRIPE_SLOTS; j++)
			n += rl->stripes[i].e[j].used ? 1 : 0;
		pthread_mutex_unlock(&rl->stripes[i].mu);
	}
	return n;
}

void kh_ratelimit_addr_key(const char *addr, char out[KH_RATELIMIT_KEY_MAX])
{
	unsigned char a6[16];
	if (strchr(addr, ':') == NULL || inet_pton(AF_INET6, addr, a6) != 1) {
		snprintf(out, KH_RATELIMIT_KEY_MAX, "ip:%.40s", addr);
		return;
	}
	/* An IPv4-mapped address is the IPv4 client it maps. */
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(a6, mapped, sizeof(mapped)) == 0) {
		snprintf(out, KH_RATELIMIT_KEY_MAX, "ip:%u.%u.%u.%u", a6[12], a6[13], a6[14],
		         a6[15]);
		return;
	}
	snprintf(out, KH_RATELIMIT_KEY_MAX, "ip6:%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", a6[0],
	         a6[1], a6[2], a6[3], a6[4], a6[5], a6[6], a6[7]);
}
