/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keystore engine cost: the rate of key operations through keys/, next to the work underneath
 * them, measured in the same run. Every keyhold operation here ends in a durable write (the
 * audit record with the usage history and usage count, or the new key with its record),
 * committed with an fsync (SQLite WAL, synchronous=FULL) before the call returns. So these
 * rates are set by that write and the disk, hardly by the crypto, and that is the point: the
 * crypto rows show how far the synced audit trail puts an operation from the bare primitive,
 * the durable-write rows how close creating or rotating a key comes to one bare durable
 * commit. With 8 threads, group commit lets concurrent callers share one fsync; the
 * writes/commit column shows how many did.
 *
 * As in bench_crypto, rounds alternate between the two sides and the ratio is the median of the
 * per-round ratios. The database lives in a fresh directory under $TMPDIR (or /tmp), removed at
 * the end: point TMPDIR at the disk you mean to measure (on tmpfs an fsync costs nothing).
 *
 * The bare-commit reference writes one row into meta through kh_store_write with a query of its
 * own: the one place outside src/store/ with SQL in it, because it measures the store.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kh_clock.h"
#include "base/kh_int.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "keys/kh_keys.h"
#include "world.h"

enum {
	PAYLOAD = 1024,
	ROUNDS = 5,
	THREADS = 8
};

static double round_seconds = 0.5;
static const char *filter; /* only operations whose name contains this */

/* ---- the world: a store with one key store, its manager and the keys used ---- */

static struct bench_world world;
static struct kh_store *store;
static struct kh_barrier *barrier;
static struct kh_audit *audit;
static struct kh_keys *keys;
static struct kh_principal manager;
static char enc_tag[KH_KEY_TAG_LEN + 1]; /* aes-256-gcm */
static char sig_tag[KH_KEY_TAG_LEN + 1]; /* ecdsa-p256 */
static struct kh_buf ciphertext;         /* msg under enc_tag, "kh:v1:..." */
static atomic_uint_fast64_t key_seq;     /* names of created keys */

/* The references: the same primitives on ready keys, no storage. */
static uint8_t msg[PAYLOAD];
static uint8_t nonce[KH_AEAD_NONCE_LEN];
static struct kh_aead_key *raw_aead;
static uint8_t raw_ct[PAYLOAD], raw_tag[KH_AEAD_TAG_LEN];
static struct kh_pkey *raw_pkey;

/* One per thread; the references and single-threaded rows use workers[0]. */
struct worker {
	struct kh_buf out;   /* ciphertexts, signatures */
	struct kh_buf plain; /* decrypted plaintext */
	uint8_t buf[PAYLOAD];
	uint8_t tag[KH_AEAD_TAG_LEN];
	char rotate_tag[KH_KEY_TAG_LEN + 1]; /* this thread's key for rotations */
	uint64_t commits;                    /* value written by the bare commit */
	/* the round in progress */
	void (*fn)(struct worker *w);
	int64_t deadline;
	unsigned batch; /* operations between two looks at the clock */
	uint64_t count;
	pthread_t thread;
};
typedef void (*op_fn)(struct worker *w);
static struct worker workers[THREADS];

static void create_key(const char *name, enum kh_key_type type, char tag[KH_KEY_TAG_LEN + 1])
{
	struct kh_key_create req = {.name = name, .type = type, .rotation_period_days = -1};
	struct kh_key_info info;
	CHECK_RC(kh_keys_create(keys, &manager, &req, &info));
	memcpy(tag, info.tag, KH_KEY_TAG_LEN + 1);
}

/* The shared world (world.h) and the manager account. */
static void world_open(void)
{
	bench_world_open(&world);
	store = world.store;
	barrier = world.barrier;
	audit = world.audit;
	keys = world.keys;
	manager = bench_world_account(&world, "bench-manager", KH_POLICY_KMS_MANAGER);
}

static void world_close(void)
{
	bench_world_close(&world);
}

static void fixtures_make(void)
{
	uint8_t key[KH_AEAD_KEY_LEN];
	char name[32];

	CHECK_RC(kh_rand_bytes(msg, sizeof(msg)));
	CHECK_RC(kh_rand_bytes(nonce, sizeof(nonce)));
	create_key("enc", KH_KEY_AES_256_GCM, enc_tag);
	create_key("sig", KH_KEY_ECDSA_P256, sig_tag);
	kh_buf_init(&ciphertext, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	CHECK_RC(kh_keys_encrypt(keys, &manager, enc_tag, KH_SLICE(msg, PAYLOAD), KH_SLICE_EMPTY,
	                         &ciphertext));

	CHECK_RC(kh_rand_secret(key, sizeof(key)));
	CHECK_RC(kh_aead_key_new(KH_AEAD_AES_256_GCM, KH_SLICE(key, sizeof(key)), &raw_aead));
	kh_wipe(key, sizeof(key));
	CHECK_RC(kh_aead_seal(raw_aead, KH_SLICE(nonce, sizeof(nonce)), KH_SLICE_EMPTY,
	                      KH_SLICE(msg, PAYLOAD), raw_ct, raw_tag));
	CHECK_RC(kh_pkey_generate(KH_PKEY_EC_P256, &raw_pkey));

	for (unsigned i = 0; i < THREADS; i++) {
		struct worker *w = &workers[i];
		kh_buf_init(&w->out, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
		kh_buf_init(&w->plain, KH_LIMIT_PLAINTEXT_BYTES, KH_BUF_SECURE);
		snprintf(name, sizeof(name), "rotate-%u", i);
		create_key(name, KH_KEY_AES_256_GCM, w->rotate_tag);
	}
}

static void fixtures_free(void)
{
	for (unsigned i = 0; i < THREADS; i++) {
		kh_buf_cleanup(&workers[i].out);
		kh_buf_cleanup(&workers[i].plain);
	}
	kh_buf_cleanup(&ciphertext);
	kh_aead_key_free(&raw_aead);
	kh_pkey_free(&raw_pkey);
}

/* ---- crypto operations: through keys/ (read, crypto, synced audit write) and raw ---- */

static void ours_encrypt(struct worker *w)
{
	kh_buf_clear(&w->out);
	CHECK_RC(kh_keys_encrypt(keys, &manager, enc_tag, KH_SLICE(msg, PAYLOAD), KH_SLICE_EMPTY,
	                         &w->out));
}

static void ours_decrypt(struct worker *w)
{
	kh_buf_clear(&w->plain);
	CHECK_RC(kh_keys_decrypt(keys, &manager, enc_tag, kh_buf_slice(&ciphertext), KH_SLICE_EMPTY,
	                         &w->plain));
}

static void ours_sign(struct worker *w)
{
	kh_buf_clear(&w->out);
	CHECK_RC(kh_keys_sign(keys, &manager, sig_tag, 0, false, KH_SLICE(msg, PAYLOAD), &w->out));
}

static void raw_seal(struct worker *w)
{
	CHECK_RC(kh_aead_seal(raw_aead, KH_SLICE(nonce, sizeof(nonce)), KH_SLICE_EMPTY,
	                      KH_SLICE(msg, PAYLOAD), w->buf, w->tag));
}

static void raw_open(struct worker *w)
{
	CHECK_RC(kh_aead_open(raw_aead, KH_SLICE(nonce, sizeof(nonce)), KH_SLICE_EMPTY,
	                      KH_SLICE(raw_ct, PAYLOAD), KH_SLICE(raw_tag, sizeof(raw_tag)),
	                      w->buf));
}

static void raw_sign(struct worker *w)
{
	kh_buf_clear(&w->out);
	CHECK_RC(kh_pkey_sign(raw_pkey, KH_SIG_ECDSA_SHA256, KH_SLICE(msg, PAYLOAD), KH_SLICE_EMPTY,
	                      &w->out));
}

/* ---- durable writes: key creation and rotation, and one bare commit ---- */

static void ours_create(struct worker *w)
{
	char name[32];
	(void)w;
	snprintf(name, sizeof(name), "k%llu", (unsigned long long)atomic_fetch_add(&key_seq, 1));
	struct kh_key_create req = {
	    .name = name, .type = KH_KEY_AES_256_GCM, .rotation_period_days = -1};
	CHECK_RC(kh_keys_create(keys, &manager, &req, NULL));
}

static void ours_rotate(struct worker *w)
{
	CHECK_RC(kh_keys_rotate(keys, &manager, w->rotate_tag, NULL));
}

static const struct kh_store_query q_meta_put = {
    "bench.meta_put",
    "INSERT OR REPLACE INTO meta(name, value) VALUES(?, ?)",
};

static kh_rc meta_put(struct kh_store_tx *tx, void *arg)
{
	const struct worker *w = arg;
	struct kh_store_val v[] = {KH_SV_TEXT("bench.commit"),
	                           KH_SV_BLOB(KH_SLICE(&w->commits, sizeof(w->commits)))};
	return kh_store_exec(tx, &q_meta_put, v, KH_SV_COUNT(v), NULL);
}

static void raw_commit(struct worker *w)
{
	w->commits++;
	CHECK_RC(kh_store_write(store, meta_put, w));
}

/* ---- measurement ---- */

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	do {
		for (unsigned i = 0; i < w->batch; i++)
			w->fn(w);
		w->count += w->batch;
	} while (kh_clock_mono_ns() < w->deadline);
	return NULL;
}

/*
 * Runs fn on `threads` threads for about round_seconds; returns operations per second of them
 * all. A lone thread runs in the caller and looks at the clock every 16 operations, as
 * bench_crypto does; threads look after each one (every operation there takes milliseconds).
 */
static double rate(op_fn fn, unsigned threads)
{
	int64_t start = kh_clock_mono_ns();
	int64_t deadline = start + (int64_t)(round_seconds * 1e9);
	uint64_t n = 0;

	for (unsigned i = 0; i < threads; i++) {
		workers[i].fn = fn;
		workers[i].deadline = deadline;
		workers[i].batch = threads == 1 ? 16 : 1;
		workers[i].count = 0;
	}
	if (threads == 1) {
		worker_run(&workers[0]);
	} else {
		for (unsigned i = 0; i < threads; i++)
			CHECK(pthread_create(&workers[i].thread, NULL, worker_run, &workers[i]) ==
			      0);
		for (unsigned i = 0; i < threads; i++)
			CHECK(pthread_join(workers[i].thread, NULL) == 0);
	}
	int64_t end = kh_clock_mono_ns();
	for (unsigned i = 0; i < threads; i++)
		n += workers[i].count;
	return (double)n * 1e9 / (double)(end - start);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * Alternates rounds of ours (on `threads` threads) and the reference (always one thread) and
 * prints the median rates, the median of the per-round ratios, and the kh_store_write calls
 * per committed transaction during our rounds.
 */
static void compare(const char *name, op_fn ours, unsigned threads, op_fn ref)
{
	double a[ROUNDS], b[ROUNDS], q[ROUNDS];
	struct kh_store_stats before, after;
	uint64_t calls = 0, groups = 0, failures = 0;

	if (filter != NULL && strstr(name, filter) == NULL)
		return;
	ours(&workers[0]); /* warm up both */
	ref(&workers[0]);
	for (int r = 0; r < ROUNDS; r++) {
		kh_store_stats_get(store, &before);
		a[r] = rate(ours, threads);
		kh_store_stats_get(store, &after);
		calls += after.write_calls - before.write_calls;
		groups += after.write_groups - before.write_groups;
		failures += after.write_failures - before.write_failures;
		b[r] = rate(ref, 1);
		q[r] = a[r] / b[r];
	}
	CHECK(failures == 0 && groups > 0);
	qsort(a, ROUNDS, sizeof(double), cmp_double);
	qsort(b, ROUNDS, sizeof(double), cmp_double);
	qsort(q, ROUNDS, sizeof(double), cmp_double);
	printf("%-34s %12.0f %14.0f %#9.3g %14.2f\n", name, a[ROUNDS / 2], b[ROUNDS / 2],
	       q[ROUNDS / 2], (double)calls / (double)groups);
	fflush(stdout);
}

/* The row for one thread, then the row for THREADS threads (same reference). */
static void compare_both(const char *name, op_fn ours, op_fn ref)
{
	char threaded[64];
	compare(name, ours, 1, ref);
	snprintf(threaded, sizeof(threaded), "%s, %d threads", name, THREADS);
	compare(threaded, ours, THREADS, ref);
}

static void print_columns(void)
{
	printf("%-34s %12s %14s %9s %14s\n", "operation", "keyhold op/s", "reference op/s", "ratio",
	       "writes/commit");
}

static void usage_exit(void)
{
	fprintf(stderr, "usage: bench_keys [--quick | --round-ms=N] [NAME]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const char round_opt[] = "--round-ms=";
	for (int i = 1; i < argc; i++) {
		uint64_t ms;
		if (strcmp(argv[i], "--quick") == 0) {
			round_seconds = 0.05;
		} else if (strncmp(argv[i], round_opt, sizeof(round_opt) - 1) == 0) {
			if (kh_parse_u64(kh_slice_from_cstr(argv[i] + sizeof(round_opt) - 1), 1,
			                 60000, &ms) != KH_OK)
				usage_exit();
			round_seconds = (double)ms / 1000.0;
		} else if (argv[i][0] == '-') {
			usage_exit();
		} else {
			filter = argv[i];
		}
	}
	kh_log_set_level(KH_LOG_WARN);
	CHECK_RC(kh_crypto_init());
	world_open();
	fixtures_make();
	const char *fs = bench_world_fs(&world);

	printf("keyhold keystore engine vs references measured in the same run (%s)\n"
	       "%d-byte payloads, median of %d alternating rounds of %.2f s\n"
	       "database: %s (%s)\n\n",
	       kh_crypto_library_version(), PAYLOAD, ROUNDS, round_seconds, world.dir, fs);
	printf("Every keyhold operation below returns after a synced write: its audit record\n"
	       "(with usage history and count, or with the new key version) committed with\n"
	       "fsync, SQLite WAL synchronous=FULL. Concurrent callers share one commit (group\n"
	       "commit); writes/commit is kh_store_write calls per committed transaction\n"
	       "during the keyhold rounds.\n");
	if (strcmp(fs, "tmpfs") == 0)
		printf("\nWARNING: the database is on tmpfs, where fsync costs nothing;\n"
		       "set TMPDIR to a directory on disk.\n");

	printf("\nCrypto operations, 1 KiB, empty context. Reference: the same primitive on\n"
	       "a ready key (kh_aead_seal / kh_aead_open, kh_pkey_sign), one thread, no\n"
	       "storage.\n\n");
	print_columns();
	compare_both("aes-256-gcm encrypt", ours_encrypt, raw_seal);
	compare_both("aes-256-gcm decrypt", ours_decrypt, raw_open);
	compare_both("ecdsa-p256 sign", ours_sign, raw_sign);

	printf("\nDurable writes, each with its audit record. Reference: one bare durable\n"
	       "commit (kh_store_write inserting one row into meta), one thread.\n\n");
	print_columns();
	compare_both("create aes-256-gcm key", ours_create, raw_commit);
	compare_both("rotate aes-256-gcm key", ours_rotate, raw_commit);

	fixtures_free();
	world_close();
	return 0;
}
