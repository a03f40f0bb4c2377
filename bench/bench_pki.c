/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key management centre cost: the rate at which the KMC fills its pool (each pair generated,
 * its private key sealed by the barrier, its row committed durably) and at which it serves
 * dual requests (a signing and an encryption certificate signed by the CA, the pool pair's
 * private key enveloped to the requester's key, everything committed with its audit records),
 * each next to the raw crypto underneath, measured in the same run on the same threads.
 *
 * As in bench_keys, rounds alternate between the two sides and the ratio is the median of the
 * per-round ratios; every row runs on THREADS threads (the cores of the machine the goals are
 * set for). The database lives in a fresh directory under $TMPDIR (or /tmp), removed at the
 * end: point TMPDIR at the disk you mean to measure (on tmpfs an fsync costs nothing). The dual
 * rows fill the pool before each of their rounds, so an issuance never waits for a key pair;
 * the "pool misses" note counts those that did anyway.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/kh_clock.h"
#include "base/kh_int.h"
#include "base/kh_log.h"
#include "crypto/kh_crypto.h"
#include "crypto/kh_envelope.h"
#include "crypto/kh_pki_cert.h"
#include "keys/kh_keys.h"
#include "pki/kh_pki.h"
#include "world.h"

enum {
	ROUNDS = 5,
	THREADS = 2, /* the 2-core machine of PKI.md's goals */
	THREADS_MAX = 8,
	CSRS = 64,      /* pre-made requests per dual row, round-robin */
	TBS_LEN = 512,  /* about a TBSCertificate: what the reference signs */
	POOL_MIN = 256, /* spare pairs before a dual round, at least */
};

static double round_seconds = 1.0;
static const char *filter; /* only rows whose name contains this */

/* ---- the world: store, barrier, audit, keys, pki; a key store with a manager and a user ---- */

static struct bench_world world;
static struct kh_store *store;
static struct kh_barrier *barrier;
static struct kh_audit *audit;
static struct kh_keys *keys;
static struct kh_pki *pki;
static struct kh_principal manager, user;
static uint8_t tbs[TBS_LEN];

/*
 * A dual row's CA: a root of ca_type with an encryption profile "enc" and a signing profile
 * "sign" (no approval) whose twin it is; CSRs of family made before timing; and for the
 * reference, ready keys standing for the CA's, the pool pair and the requester's.
 */
struct dual {
	const char *ca_name;
	enum kh_key_type ca_type;
	enum kh_pkey_type family;
	enum kh_sig_alg sig;
	int64_t ca_id;
	struct kh_buf csr[CSRS];
	struct kh_pkey *ca_key, *pool_key, *user_key;
	double last_rate; /* sizes the pool top-up before the next round */
};

static struct dual dual_sm2 = {
    .ca_name = "sm2-root", .ca_type = KH_KEY_SM2, .family = KH_PKEY_SM2, .sig = KH_SIG_SM2_SM3};
static struct dual dual_p256 = {.ca_name = "p256-root",
                                .ca_type = KH_KEY_ECDSA_P256,
                                .family = KH_PKEY_EC_P256,
                                .sig = KH_SIG_ECDSA_SHA256};

/* What one row measures: ours and the reference each do a unit of work per call and say how
 * many units (key pairs, issuances) they did. */
struct worker;
typedef uint64_t (*op_fn)(struct worker *w);
struct row {
	const char *name;
	op_fn ours, ref;
	enum kh_pkey_type family;
	size_t per_call; /* pool fills: pairs per kh_pki_kmc_fill call */
	struct dual *dual;
	unsigned threads; /* 0: THREADS */
	const char *note;
	double goal; /* units/s our side should reach; 0: none */
};

struct worker {
	const struct row *row;
	struct kh_buf out;
	unsigned next_csr;
	op_fn fn;
	int64_t deadline;
	uint64_t count;
	pthread_t thread;
};
static struct worker workers[THREADS_MAX];
static double cpu_cores; /* CPU time / wall time of the process in the last run() */

/* The shared world (world.h), the PKI over it, a manager and a user. */
static void world_open(void)
{
	bench_world_open(&world);
	store = world.store;
	barrier = world.barrier;
	audit = world.audit;
	keys = world.keys;
	struct kh_pki_options po = {.keys = keys,
	                            .store = store,
	                            .audit = audit,
	                            .clock = kh_clock_real(),
	                            .barrier = barrier};
	CHECK_RC(kh_pki_new(&po, &pki));
	manager = bench_world_account(&world, "bench-manager", KH_POLICY_KMS_MANAGER);
	user = bench_world_account(&world, "bench-user", KH_POLICY_KMS_USER);
	CHECK_RC(kh_rand_bytes(tbs, sizeof(tbs)));
	for (unsigned i = 0; i < THREADS_MAX; i++)
		kh_buf_init(&workers[i].out, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
}

static void world_close(void)
{
	for (unsigned i = 0; i < THREADS_MAX; i++)
		kh_buf_cleanup(&workers[i].out);
	kh_pki_free(&pki);
	bench_world_close(&world);
}

/* The CA, its two profiles, the CSRs and the reference's keys of one dual row. */
static void dual_make(struct dual *d)
{
	char subject[64];
	struct kh_pki_ca ca;
	snprintf(subject, sizeof(subject), "CN=%s,O=keyhold bench,C=CN", d->ca_name);
	struct kh_pki_ca_create req = {.name = d->ca_name,
	                               .kind = KH_PKI_CA_ROOT,
	                               .key_type = d->ca_type,
	                               .subject = subject,
	                               .validity_days = 3650,
	                               .path_len = 0};
	CHECK_RC(kh_pki_ca_create(pki, &manager, &req, &ca, NULL));
	d->ca_id = ca.id;

	struct kh_pki_profile enc = {.ca_id = ca.id,
	                             .key_types = KH_PKI_KEY_TYPE_BIT(d->family),
	                             .validity_days = 365,
	                             .path_len = -1,
	                             .kind = KH_PKI_CERT_ENCRYPT};
	snprintf(enc.name, sizeof(enc.name), "enc");
	CHECK_RC(kh_pki_profile_create(pki, &manager, &enc));
	struct kh_pki_profile sign = enc;
	snprintf(sign.name, sizeof(sign.name), "sign");
	sign.kind = KH_PKI_CERT_SIGN;
	snprintf(sign.dual_profile, sizeof(sign.dual_profile), "enc");
	CHECK_RC(kh_pki_profile_create(pki, &manager, &sign));

	for (unsigned i = 0; i < CSRS; i++) {
		struct kh_pkey *key = NULL;
		struct kh_pki_san san = {.type = KH_PKI_SAN_DNS};
		snprintf(san.value, sizeof(san.value), "user%u.example.com", i);
		snprintf(subject, sizeof(subject), "CN=user%u,O=keyhold bench", i);
		kh_buf_init(&d->csr[i], KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
		CHECK_RC(kh_pkey_generate(d->family, &key));
		CHECK_RC(kh_pki_csr_build(key, subject, &san, 1, &d->csr[i]));
		kh_pkey_free(&key);
	}
	CHECK_RC(kh_pkey_generate(d->family, &d->ca_key));
	CHECK_RC(kh_pkey_generate(d->family, &d->pool_key));
	CHECK_RC(kh_pkey_generate(d->family, &d->user_key));
}

static void dual_free(struct dual *d)
{
	for (unsigned i = 0; i < CSRS; i++)
		kh_buf_cleanup(&d->csr[i]);
	kh_pkey_free(&d->ca_key);
	kh_pkey_free(&d->pool_key);
	kh_pkey_free(&d->user_key);
}

/* ---- the pool: fills through the KMC against raw key generation ---- */

static uint64_t ours_fill(struct worker *w)
{
	size_t made = 0;
	CHECK_RC(kh_pki_kmc_fill(pki, w->row->family, w->row->per_call, &made));
	CHECK(made == w->row->per_call);
	return made;
}

static uint64_t raw_keygen(struct worker *w)
{
	struct kh_pkey *key = NULL;
	CHECK_RC(kh_pkey_generate(w->row->family, &key));
	kh_pkey_free(&key);
	return 1;
}

/* ---- dual issuance through the PKI against its raw crypto ---- */

static uint64_t ours_dual(struct worker *w)
{
	struct dual *d = w->row->dual;
	struct kh_pki_request r;
	char msg[KH_PKI_MESSAGE_MAX];
	struct kh_pki_submit s = {.ca_id = d->ca_id,
	                          .profile = "sign",
	                          .csr = kh_buf_slice(&d->csr[w->next_csr++ % CSRS])};
	kh_rc rc = kh_pki_request_submit(pki, &user, &s, &r, msg, sizeof(msg));
	if (rc != KH_OK) {
		fprintf(stderr, "bench: dual request: %s: %s\n", kh_rc_name(rc), msg);
		exit(1);
	}
	CHECK(r.status == KH_PKI_REQ_ISSUED && r.enc_serial[0] != '\0' && r.has_envelope);
	return 1;
}

/* Two CA signatures (the signing and the encryption certificate), then the envelope: for SM2
 * the one SM2 encryption of an SKF envelope (its 16-byte SM4 key), else a CMS seal. */
static uint64_t raw_dual(struct worker *w)
{
	const struct dual *d = w->row->dual;
	for (int i = 0; i < 2; i++) {
		kh_buf_clear(&w->out);
		CHECK_RC(kh_pkey_sign(d->ca_key, d->sig, KH_SLICE(tbs, sizeof(tbs)), KH_SLICE_EMPTY,
		                      &w->out));
	}
	kh_buf_clear(&w->out);
	if (d->family == KH_PKEY_SM2)
		CHECK_RC(kh_pkey_encrypt(d->user_key, KH_SLICE(tbs, 16), &w->out));
	else
		CHECK_RC(kh_envelope_seal(KH_ENVELOPE_CMS, d->pool_key, d->user_key, &w->out));
	return 1;
}

/* ---- measurement ---- */

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	do
		w->count += w->fn(w);
	while (kh_clock_mono_ns() < w->deadline);
	return NULL;
}

static int64_t cpu_ns(void)
{
	struct timespec ts;
	CHECK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs fn on the row's threads until deadline (each finishes the call in progress); returns
 * units per second of them all and sets cpu_cores (the store's writer thread included). */
static double run(const struct row *row, op_fn fn, int64_t deadline)
{
	unsigned threads = row->threads != 0 ? row->threads : THREADS;
	int64_t start = kh_clock_mono_ns(), cpu = cpu_ns();
	uint64_t n = 0;
	for (unsigned i = 0; i < threads; i++) {
		workers[i].row = row;
		workers[i].fn = fn;
		workers[i].deadline = deadline;
		workers[i].count = 0;
		CHECK(pthread_create(&workers[i].thread, NULL, worker_run, &workers[i]) == 0);
	}
	for (unsigned i = 0; i < threads; i++) {
		CHECK(pthread_join(workers[i].thread, NULL) == 0);
		n += workers[i].count;
	}
	int64_t wall = kh_clock_mono_ns() - start;
	cpu_cores = (double)(cpu_ns() - cpu) / (double)wall;
	return (double)n * 1e9 / (double)wall;
}

static double rate(const struct row *row, op_fn fn)
{
	return run(row, fn, kh_clock_mono_ns() + (int64_t)(round_seconds * 1e9));
}

/* Tops the pool of a dual row's family up to three rounds' worth at the last rate seen, on
 * the row's threads (not timed). */
static uint64_t pool_fill_one(struct worker *w)
{
	size_t made = 0;
	CHECK_RC(kh_pki_kmc_fill(pki, w->row->family, 64, &made));
	return made;
}

static void pool_top_up(const struct row *row)
{
	uint64_t depth = 0;
	double want = 3.0 * row->dual->last_rate * round_seconds;
	uint64_t target = want > POOL_MIN ? (uint64_t)want : POOL_MIN;
	CHECK_RC(kh_pki_kmc_depth(pki, row->family, &depth));
	while (depth < target) {
		(void)run(row, pool_fill_one, 0); /* one call of 64 per thread */
		CHECK_RC(kh_pki_kmc_depth(pki, row->family, &depth));
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Alternates rounds of ours and the reference and prints the median rates, the median of the
 * per-round ratios and the row's note. */
static void compare(const struct row *row)
{
	double a[ROUNDS], b[ROUNDS], q[ROUNDS], cores[ROUNDS];
	char note[160];
	uint64_t misses = 0;
	struct kh_store_stats before, after;
	uint64_t calls = 0, groups = 0;
	double units = 0;

	if (filter != NULL && strstr(row->name, filter) == NULL)
		return;
	if (row->dual != NULL)
		pool_top_up(row);
	misses = kh_pki_kmc_pool_misses(pki);
	workers[0].row = row; /* warm up both */
	(void)row->ours(&workers[0]);
	(void)row->ref(&workers[0]);
	for (int r = 0; r < ROUNDS; r++) {
		if (row->dual != NULL)
			pool_top_up(row);
		kh_store_stats_get(store, &before);
		int64_t t0 = kh_clock_mono_ns();
		a[r] = rate(row, row->ours);
		units += a[r] * (double)(kh_clock_mono_ns() - t0) / 1e9;
		kh_store_stats_get(store, &after);
		CHECK(after.write_failures == before.write_failures);
		calls += after.write_calls - before.write_calls;
		groups += after.write_groups - before.write_groups;
		cores[r] = cpu_cores;
		if (row->dual != NULL)
			row->dual->last_rate = a[r];
		b[r] = rate(row, row->ref);
		q[r] = a[r] / b[r];
	}
	qsort(a, ROUNDS, sizeof(double), cmp_double);
	qsort(b, ROUNDS, sizeof(double), cmp_double);
	qsort(q, ROUNDS, sizeof(double), cmp_double);
	qsort(cores, ROUNDS, sizeof(double), cmp_double);
	snprintf(note, sizeof(note), "cpu %.2f; writes/op %.2f, /commit %.2f; %s",
	         cores[ROUNDS / 2], (double)calls / units, (double)calls / (double)groups,
	         row->note);
	if (row->dual != NULL)
		snprintf(note + strlen(note), sizeof(note) - strlen(note), "; pool misses %llu",
		         (unsigned long long)(kh_pki_kmc_pool_misses(pki) - misses));
	if (row->goal > 0)
		snprintf(note + strlen(note), sizeof(note) - strlen(note), " (%s)",
		         a[ROUNDS / 2] >= row->goal ? "met" : "MISSED");
	printf("%-24s %10.0f %10.0f %#7.3g  %s\n", row->name, a[ROUNDS / 2], b[ROUNDS / 2],
	       q[ROUNDS / 2], note);
	fflush(stdout);
}

static const struct row rows[] = {
    {"pool fill sm2", ours_fill, raw_keygen, KH_PKEY_SM2, 64, NULL, 0,
     "goal >= 2000/s, LD/T 02.1 450/s", 2000},
    {"pool fill ecdsa-p256", ours_fill, raw_keygen, KH_PKEY_EC_P256, 64, NULL, 0, "-", 0},
    {"pool fill rsa-2048", ours_fill, raw_keygen, KH_PKEY_RSA_2048, 4, NULL, 0, "-", 0},
    {"dual issuance sm2", ours_dual, raw_dual, KH_PKEY_SM2, 0, &dual_sm2, 0, "skf", 0},
    {"dual issuance ecdsa-p256", ours_dual, raw_dual, KH_PKEY_EC_P256, 0, &dual_p256, 0, "cms", 0},
    /* More submitters than cores, as a server has concurrent requests: two threads spend
     * much of their time waiting for their commits. */
    {"dual sm2, 8 threads", ours_dual, raw_dual, KH_PKEY_SM2, 0, &dual_sm2, THREADS_MAX, "skf", 0},
    {"dual ecdsa-p256, 8 threads", ours_dual, raw_dual, KH_PKEY_EC_P256, 0, &dual_p256, THREADS_MAX,
     "cms", 0},
};

static void usage_exit(void)
{
	fprintf(stderr, "usage: bench_pki [--quick | --round-ms=N] [NAME]\n");
	exit(2);
}

static void args_read(int argc, char **argv)
{
	static const char round_opt[] = "--round-ms=";
	for (int i = 1; i < argc; i++) {
		uint64_t ms;
		if (strcmp(argv[i], "--quick") == 0) {
			round_seconds = 0.1;
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
}

int main(int argc, char **argv)
{
	args_read(argc, argv);
	kh_log_set_level(KH_LOG_WARN);
	CHECK_RC(kh_crypto_init());
	world_open();
	const char *fs = bench_world_fs(&world);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dual *d = rows[i].dual;
		if (d != NULL && d->ca_id == 0 && (filter == NULL || strstr(rows[i].name, filter)))
			dual_make(d);
	}

	printf("keyhold key management centre vs references measured in the same run (%s)\n"
	       "%d threads on each side (unless the row says), median of %d alternating\n"
	       "rounds of %.2f s\n"
	       "database: %s (%s)\n\n",
	       kh_crypto_library_version(), THREADS, ROUNDS, round_seconds, world.dir, fs);
	printf("pool fill: kh_pki_kmc_fill, each pair generated, its private key sealed by the\n"
	       "barrier and its row committed (fsync'd, 64 pairs a transaction; 4 for RSA).\n"
	       "Reference: kh_pkey_generate and free.\n"
	       "dual issuance: kh_pki_request_submit by a kms-user to a signing profile with an\n"
	       "encryption twin, no approval: two certificates signed by the CA key, a pool\n"
	       "pair's private key enveloped to the CSR's key, all committed with the audit\n"
	       "records. Reference: 2 signatures of %d bytes with a ready key of the CA's type,\n"
	       "then an SM2 encryption of 16 bytes (sm2) or a CMS seal (kh_envelope_seal).\n"
	       "note: cpu is the process's CPU time over wall time in keyhold's rounds (cores\n"
	       "busy; the store's writer thread included); writes/op is kh_store_write calls\n"
	       "per unit (pair, issuance), /commit per committed transaction (group commit);\n"
	       "the envelope's form; pool misses counts issuances that had to generate their\n"
	       "pair (the pool is topped up before each round, untimed).\n",
	       TBS_LEN);
	if (strcmp(fs, "tmpfs") == 0)
		printf("\nWARNING: the database is on tmpfs, where fsync costs nothing;\n"
		       "set TMPDIR to a directory on disk.\n");
	printf("\n%-24s %10s %10s %7s  %s\n", "operation", "keyhold/s", "ref/s", "ratio", "note");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		compare(&rows[i]);

	dual_free(&dual_sm2);
	dual_free(&dual_p256);
	world_close();
	return 0;
}
