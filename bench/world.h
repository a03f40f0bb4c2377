/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-process benchmarks' world (bench_keys, bench_pki): a fresh directory under $TMPDIR
 * (else /tmp), removed at exit whatever happens; a store in it, a barrier initialised 1-of-1 and
 * unsealed, the audit log and keys; one key store with its accounts. A failure anywhere prints
 * where and exits 1: a benchmark has no partial answer.
 */
#ifndef KH_BENCH_WORLD_H
#define KH_BENCH_WORLD_H

#include <stdio.h>
#include <stdlib.h>

#include "keys/kh_keys.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "bench: %s failed at line %d\n", #x, __LINE__);            \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

#define CHECK_RC(x)                                                                                \
	do {                                                                                       \
		kh_rc rc_ = (x);                                                                   \
		if (rc_ != KH_OK) {                                                                \
			fprintf(stderr, "bench: %s: %s at line %d\n", #x, kh_rc_name(rc_),         \
			        __LINE__);                                                         \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

struct bench_world {
	char dir[256];
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	struct kh_keys *keys;
	int64_t keystore_id; /* "bench" */
};

/* Opens everything and makes the key store "bench". One world per process. */
void bench_world_open(struct bench_world *w);
/* An account of the key store with these policies, as a principal (request id "bench"). */
struct kh_principal bench_world_account(struct bench_world *w, const char *name,
                                        unsigned policies);
/* The filesystem the directory is on ("ext4", "tmpfs", ...): fsync costs depend on it. */
const char *bench_world_fs(const struct bench_world *w);
/* Closes everything and removes the directory. */
void bench_world_close(struct bench_world *w);

#endif
