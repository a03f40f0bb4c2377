/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the fuzz targets that use OpenSSL (each target is one program, so this is a header
 * of static functions).
 *
 * OpenSSL's random generators keep their cipher contexts reachable only from its secure heap,
 * a mapping LeakSanitizer does not scan, so libFuzzer's leak check (run whenever an input's
 * allocations and frees differ, e.g. when OpenSSL fills a cache) would report them. They are
 * created once, with leak tracking off, by kh_fuzz_crypto_init; OpenSSL frees them at exit.
 * kh_fuzz_lsan_off/on bracket any other one-time set-up that makes such state.
 */
#ifndef KH_FUZZ_H
#define KH_FUZZ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "crypto/kh_crypto.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KH_FUZZ_LSAN 1
#endif
#elif defined(__SANITIZE_ADDRESS__)
#define KH_FUZZ_LSAN 1
#endif
#ifdef KH_FUZZ_LSAN
#include <sanitizer/lsan_interface.h>
#endif

static inline void kh_fuzz_lsan_off(void)
{
#ifdef KH_FUZZ_LSAN
	__lsan_disable();
#endif
}

static inline void kh_fuzz_lsan_on(void)
{
#ifdef KH_FUZZ_LSAN
	__lsan_enable();
#endif
}

/* Initialises crypto and the random generators once (abort on failure). */
static inline void kh_fuzz_crypto_init(void)
{
	static bool ready;
	uint8_t b;

	if (ready)
		return;
	kh_fuzz_lsan_off();
	if (kh_crypto_init() != KH_OK || kh_rand_bytes(&b, 1) != KH_OK ||
	    kh_rand_secret(&b, 1) != KH_OK)
		abort();
	kh_fuzz_lsan_on();
	ready = true;
}

#endif
