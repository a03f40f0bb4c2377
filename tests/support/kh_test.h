/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the unit tests: cmocka in the right include order, hex vectors, and an
 * allocation-failure sweep.
 */
#ifndef KH_TEST_H
#define KH_TEST_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/kh_buf.h"

/* Decodes a hex literal into a fresh plain buffer (test failure on bad hex). */
struct kh_buf kh_test_hex(const char *hex);
/* Asserts that buf holds exactly the bytes of the hex literal. */
void kh_test_assert_hex(struct kh_slice got, const char *hex);
/* Reads a whole file under tests/data into a plain buffer (test failure if missing). */
struct kh_buf kh_test_read_data(const char *relative_path);

/*
 * Runs fn with the 1st, 2nd, ... allocation failing until a run makes no failing allocation.
 * Every failing run must return KH_ERR_NOMEM (LeakSanitizer then checks nothing leaked), and
 * the final run must return KH_OK. fn must clean up after itself on every path.
 */
typedef kh_rc (*kh_test_alloc_fn)(void *arg);
void kh_test_alloc_failures(kh_test_alloc_fn fn, void *arg);

/* Creates a fresh private directory under $TMPDIR or /tmp; out gets its path. */
void kh_test_tmpdir(char *out, size_t out_len);
/* Removes a directory tree made by kh_test_tmpdir. */
void kh_test_rmtree(const char *path);
/* Whether the file (e.g. a database or its WAL) contains the bytes; false if it does not exist.
 * Used to prove secrets are never written in clear. */
bool kh_test_file_contains(const char *path, struct kh_slice needle);

#endif
