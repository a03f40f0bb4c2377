/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The storage interface on its SQLite back-end: migrations applied once and recorded, the file
 * private and in WAL mode with synchronous=FULL and secure_delete, typed column access that
 * refuses wrong types and NULLs, unique constraints reported as conflicts, a failing write
 * rolled back without touching the writes grouped with it, many concurrent writers sharing
 * commits, asynchronous writes reported only once committed (and finished by close), data
 * surviving close and reopen, and snapshots that copy one committed moment while writes go on.
 */
#include "kh_test.h"
#include "kh_test_store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/kh_store.h"

/* Test-only statements against tables of the real schema. */
static const struct kh_store_query q_put = {"test.put",
                                            "INSERT INTO meta (name, value) VALUES (?, ?)"};
static const struct kh_store_query q_get = {"test.get", "SELECT value FROM meta WHERE name = ?"};
static const struct kh_store_query q_count = {"test.count", "SELECT COUNT(*) FROM meta"};
static const struct kh_store_query q_types = {"test.types",
                                              "SELECT 42, 'text', x'0102', NULL, 1.5"};
static const struct kh_store_query q_pragma_journal = {"test.journal", "PRAGMA journal_mode"};
static const struct kh_store_query q_pragma_sync = {"test.sync", "PRAGMA synchronous"};
static const struct kh_store_query q_pragma_secdel = {"test.secdel", "PRAGMA secure_delete"};
static const struct kh_store_query q_set_version = {
    "test.set_version", "INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)"};

struct fixture {
	char dir[256];
	char path[300];
	struct kh_store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	kh_test_tmpdir(f->dir, sizeof(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/keyhold.db", f->dir);
	struct kh_store_options o = {.path = f->path};
	assert_int_equal(kh_store_open(&o, &f->s), KH_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	kh_store_close(&f->s);
	assert_null(f->s);
	kh_test_rmtree(f->dir);
	free(f);
	return 0;
}

struct put_arg {
	const char *name;
	const char *value;
	bool fail_after;
};

static kh_rc put_fn(struct kh_store_tx *tx, void *arg)
{
	struct put_arg *a = arg;
	struct kh_store_val v[] = {KH_SV_TEXT(a->name), KH_SV_BLOB(kh_slice_from_cstr(a->value))};
	uint64_t changes = 0;
	KH_GUARD(kh_store_exec(tx, &q_put, v, KH_SV_COUNT(v), &changes));
	KH_ENSURE(changes == 1, KH_ERR_INTERNAL);
	return a->fail_after ? KH_ERR_CONFLICT : KH_OK;
}

static kh_rc put(struct kh_store *s, const char *name, const char *value)
{
	struct put_arg a = {.name = name, .value = value};
	return kh_store_write(s, put_fn, &a);
}

/* Reads meta[name] into out (NUL-terminated); returns whether it exists. */
static bool get(struct kh_store *s, const char *name, char *out, size_t out_len)
{
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_TEXT(name)};
	assert_int_equal(kh_store_read_begin(s, &tx), KH_OK);
	assert_int_equal(kh_store_query_one(tx, &q_get, v, 1, &rows, &found), KH_OK);
	if (found) {
		struct kh_slice b;
		assert_int_equal(kh_store_rows_blob(rows, 0, &b), KH_OK);
		assert_true(b.len < out_len);
		memcpy(out, b.ptr, b.len);
		out[b.len] = '\0';
	}
	kh_store_rows_close(&rows);
	assert_null(rows);
	kh_store_read_end(&tx);
	assert_null(tx);
	return found;
}

static int64_t count(struct kh_store *s)
{
	return kh_test_sql_int(s, &q_count, NULL, 0);
}

static void migrations_are_applied_once(void **state)
{
	struct fixture *f = *state;
	int64_t v = 0;
	assert_int_equal(kh_store_schema_version(f->s, &v), KH_OK);
	assert_int_equal(v, kh_store_schema_latest());
	assert_true(v >= 1);
	/* Reopening applies nothing again (a second CREATE TABLE would fail). */
	kh_store_close(&f->s);
	struct kh_store_options o = {.path = f->path};
	assert_int_equal(kh_store_open(&o, &f->s), KH_OK);
	assert_int_equal(kh_store_schema_version(f->s, &v), KH_OK);
	assert_int_equal(v, kh_store_schema_latest());
}

static kh_rc bump_version_fn(struct kh_store_tx *tx, void *arg)
{
	(void)arg;
	struct kh_store_val v[] = {KH_SV_INT(kh_store_schema_latest() + 1)};
	return kh_store_exec(tx, &q_set_version, v, 1, NULL);
}

static void a_newer_schema_is_refused(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(kh_store_write(f->s, bump_version_fn, NULL), KH_OK);
	kh_store_close(&f->s);
	struct kh_store_options o = {.path = f->path};
	assert_int_equal(kh_store_open(&o, &f->s), KH_ERR_STORAGE);
	assert_null(f->s);
}

static void pragma_text(struct kh_store *s, const struct kh_store_query *q, char *out,
                        size_t out_len)
{
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	assert_int_equal(kh_store_read_begin(s, &tx), KH_OK);
	assert_int_equal(kh_store_query_one(tx, q, NULL, 0, &rows, &found), KH_OK);
	assert_true(found);
	int64_t i = 0;
	if (kh_store_rows_int(rows, 0, &i) == KH_OK)
		snprintf(out, out_len, "%lld", (long long)i);
	else
		assert_int_equal(kh_store_rows_text_copy(rows, 0, out, out_len), KH_OK);
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
}

static void the_file_is_private_and_in_wal_mode(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char buf[32];
	pragma_text(f->s, &q_pragma_journal, buf, sizeof(buf));
	assert_string_equal(buf, "wal");
}

struct pragma_arg {
	int64_t sync;
	int64_t secdel;
};

static kh_rc writer_pragmas_fn(struct kh_store_tx *tx, void *arg)
{
	struct pragma_arg *a = arg;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_GUARD(kh_store_query_one(tx, &q_pragma_sync, NULL, 0, &rows, &found));
	kh_rc rc = found ? kh_store_rows_int(rows, 0, &a->sync) : KH_ERR_INTERNAL;
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	KH_GUARD(kh_store_query_one(tx, &q_pragma_secdel, NULL, 0, &rows, &found));
	rc = found ? kh_store_rows_int(rows, 0, &a->secdel) : KH_ERR_INTERNAL;
	kh_store_rows_close(&rows);
	return rc;
}

static void the_writer_syncs_fully_and_deletes_securely(void **state)
{
	struct fixture *f = *state;
	struct pragma_arg a = {-1, -1};
	assert_int_equal(kh_store_write(f->s, writer_pragmas_fn, &a), KH_OK);
	assert_int_equal(a.sync, 2); /* FULL */
	assert_int_equal(a.secdel, 1);
}

static void written_rows_are_read_back_and_survive_reopen(void **state)
{
	struct fixture *f = *state;
	char out[64];
	assert_int_equal(put(f->s, "a", "alpha"), KH_OK);
	assert_true(get(f->s, "a", out, sizeof(out)));
	assert_string_equal(out, "alpha");
	assert_false(get(f->s, "b", out, sizeof(out)));
	kh_store_close(&f->s);
	struct kh_store_options o = {.path = f->path};
	assert_int_equal(kh_store_open(&o, &f->s), KH_OK);
	assert_true(get(f->s, "a", out, sizeof(out)));
	assert_string_equal(out, "alpha");
}

static void a_unique_violation_is_a_conflict(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(put(f->s, "a", "1"), KH_OK);
	assert_int_equal(put(f->s, "a", "2"), KH_ERR_CONFLICT);
	char out[8];
	assert_true(get(f->s, "a", out, sizeof(out)));
	assert_string_equal(out, "1");
}

static void a_failing_write_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct put_arg a = {.name = "x", .value = "v", .fail_after = true};
	assert_int_equal(kh_store_write(f->s, put_fn, &a), KH_ERR_CONFLICT);
	char out[8];
	assert_false(get(f->s, "x", out, sizeof(out)));
	assert_int_equal(count(f->s), 0);
}

static void columns_are_type_checked(void **state)
{
	struct fixture *f = *state;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	int64_t i = 0;
	bool is_null = false;
	struct kh_slice s;
	char small[3];
	assert_int_equal(kh_store_read_begin(f->s, &tx), KH_OK);
	assert_int_equal(kh_store_query_one(tx, &q_types, NULL, 0, &rows, &found), KH_OK);
	assert_true(found);
	assert_int_equal(kh_store_rows_int(rows, 0, &i), KH_OK);
	assert_int_equal(i, 42);
	assert_int_equal(kh_store_rows_int(rows, 1, &i), KH_ERR_STORAGE);
	assert_int_equal(kh_store_rows_text(rows, 1, &s), KH_OK);
	assert_true(kh_slice_eq(s, KH_SLICE_LIT("text")));
	assert_int_equal(kh_store_rows_text_copy(rows, 1, small, sizeof(small)), KH_ERR_STORAGE);
	assert_int_equal(kh_store_rows_blob(rows, 1, &s), KH_ERR_STORAGE);
	assert_int_equal(kh_store_rows_blob(rows, 2, &s), KH_OK);
	assert_int_equal(s.len, 2);
	assert_int_equal(kh_store_rows_int(rows, 3, &i), KH_ERR_STORAGE);
	assert_true(kh_store_rows_is_null(rows, 3));
	assert_false(kh_store_rows_is_null(rows, 0));
	assert_int_equal(kh_store_rows_int_opt(rows, 3, &i, &is_null), KH_OK);
	assert_true(is_null);
	assert_int_equal(kh_store_rows_text_opt(rows, 1, &s, &is_null), KH_OK);
	assert_false(is_null);
	/* REAL is not a type we store: refused. */
	assert_int_equal(kh_store_rows_int(rows, 4, &i), KH_ERR_STORAGE);
	/* Past the last column: a programming error, reported, not a crash. */
	assert_int_equal(kh_store_rows_int(rows, 9, &i), KH_ERR_INTERNAL);
	bool more = true;
	assert_int_equal(kh_store_rows_next(rows, &more), KH_OK);
	assert_false(more);
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
}

static void a_wrong_parameter_count_is_refused(void **state)
{
	struct fixture *f = *state;
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	bool found = false;
	assert_int_equal(kh_store_read_begin(f->s, &tx), KH_OK);
	assert_int_equal(kh_store_query_one(tx, &q_get, NULL, 0, &rows, &found), KH_ERR_INTERNAL);
	/* The transaction is still usable. */
	struct kh_store_val v[] = {KH_SV_TEXT("none")};
	assert_int_equal(kh_store_query_one(tx, &q_get, v, 1, &rows, &found), KH_OK);
	assert_false(found);
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
}

#define THREADS 8
#define PER_THREAD 40

struct worker {
	struct kh_store *s;
	int id;
	int ok;
	int failed_as_expected;
};

static void *writer_thread(void *p)
{
	struct worker *w = p;
	for (int i = 0; i < PER_THREAD; i++) {
		char name[32];
		snprintf(name, sizeof(name), "t%d-%d", w->id, i);
		/* Every fifth write fails on purpose after inserting: it must vanish alone. */
		struct put_arg a = {.name = name, .value = "v", .fail_after = (i % 5) == 4};
		kh_rc rc = kh_store_write(w->s, put_fn, &a);
		if (rc == KH_OK)
			w->ok++;
		else if (rc == KH_ERR_CONFLICT && a.fail_after)
			w->failed_as_expected++;
	}
	return NULL;
}

static void concurrent_writers_share_commits_and_fail_alone(void **state)
{
	struct fixture *f = *state;
	pthread_t t[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.s = f->s, .id = i};
		assert_int_equal(pthread_create(&t[i], NULL, writer_thread, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	int ok = 0;
	for (int i = 0; i < THREADS; i++) {
		ok += w[i].ok;
		assert_int_equal(w[i].ok, PER_THREAD * 4 / 5);
		assert_int_equal(w[i].failed_as_expected, PER_THREAD / 5);
	}
	assert_int_equal(count(f->s), ok);
	char out[8];
	assert_true(get(f->s, "t3-0", out, sizeof(out)));
	assert_false(get(f->s, "t3-4", out, sizeof(out)));
	struct kh_store_stats st;
	kh_store_stats_get(f->s, &st);
	/* Opening the store committed one write of its own: the migrations. */
	assert_int_equal(st.write_calls, (uint64_t)ok + 1);
	assert_int_equal(st.write_failures, THREADS * PER_THREAD / 5);
	/* Never more transactions than calls; with 8 threads racing, some were grouped. */
	assert_true(st.write_groups <= st.write_calls);
	fprintf(stderr, "%llu writes in %llu commits\n", (unsigned long long)st.write_calls,
	        (unsigned long long)st.write_groups);
}

/* ---- asynchronous writes ---- */

#define ASYNC_OPS 200

struct async_write {
	struct kh_store_async op;
	struct put_arg put;
	char name[32];
	struct async_log *log;
};

struct async_log {
	pthread_mutex_t mu;
	struct kh_store *s;
	int done;
	int ok;
	int failed_as_expected;
	int visible;        /* done calls that found their row committed */
	kh_rc nested_write; /* kh_store_write from a done function */
};

static kh_rc noop_fn(struct kh_store_tx *tx, void *arg)
{
	(void)tx;
	(void)arg;
	return KH_OK;
}

static void async_done(struct kh_store_async *op, kh_rc rc)
{
	struct async_write *w = (struct async_write *)op;
	struct async_log *log = w->log;
	char out[8];
	/* The row is committed before done runs: a reader already sees it. */
	bool seen = rc == KH_OK && get(log->s, w->name, out, sizeof(out));
	kh_rc nested = kh_store_write(log->s, noop_fn, NULL);
	pthread_mutex_lock(&log->mu);
	log->done++;
	log->ok += rc == KH_OK;
	log->failed_as_expected += rc == KH_ERR_CONFLICT && w->put.fail_after;
	log->visible += seen;
	log->nested_write = nested;
	pthread_mutex_unlock(&log->mu);
	free(w);
}

static void async_writes_report_after_the_commit(void **state)
{
	struct fixture *f = *state;
	struct async_log log = {.s = f->s, .nested_write = KH_OK};
	pthread_mutex_init(&log.mu, NULL);
	for (int i = 0; i < ASYNC_OPS; i++) {
		struct async_write *w = calloc(1, sizeof(*w));
		assert_non_null(w);
		snprintf(w->name, sizeof(w->name), "a%d", i);
		w->put =
		    (struct put_arg){.name = w->name, .value = "v", .fail_after = (i % 10) == 9};
		w->op = (struct kh_store_async){.fn = put_fn, .arg = &w->put, .done = async_done};
		w->log = &log;
		kh_store_write_async(f->s, &w->op);
	}
	/* A waiting write queued after them returns after they are all committed. */
	assert_int_equal(put(f->s, "last", "v"), KH_OK);
	pthread_mutex_lock(&log.mu);
	int done = log.done;
	pthread_mutex_unlock(&log.mu);
	assert_int_equal(done, ASYNC_OPS);
	assert_int_equal(log.ok, ASYNC_OPS * 9 / 10);
	assert_int_equal(log.failed_as_expected, ASYNC_OPS / 10);
	assert_int_equal(log.visible, log.ok);
	/* A done function that writes would wait for itself: refused. */
	assert_int_equal(log.nested_write, KH_ERR_INTERNAL);
	assert_int_equal(count(f->s), log.ok + 1);
	struct kh_store_stats st;
	kh_store_stats_get(f->s, &st);
	/* Queued faster than a commit, they shared transactions. */
	assert_true(st.write_groups < st.write_calls);
	pthread_mutex_destroy(&log.mu);
}

static void close_finishes_queued_async_writes(void **state)
{
	struct fixture *f = *state;
	struct async_log log = {.s = NULL};
	pthread_mutex_init(&log.mu, NULL);
	for (int i = 0; i < 20; i++) {
		struct async_write *w = calloc(1, sizeof(*w));
		assert_non_null(w);
		snprintf(w->name, sizeof(w->name), "c%d", i);
		w->put = (struct put_arg){.name = w->name, .value = "v"};
		w->op = (struct kh_store_async){.fn = put_fn, .arg = &w->put, .done = async_done};
		w->log = &log;
		log.s = f->s;
		kh_store_write_async(f->s, &w->op);
	}
	kh_store_close(&f->s);
	assert_int_equal(log.done, 20);
	assert_int_equal(log.ok, 20);
	struct kh_store_options o = {.path = f->path};
	assert_int_equal(kh_store_open(&o, &f->s), KH_OK);
	assert_int_equal(count(f->s), 20);
	pthread_mutex_destroy(&log.mu);
}

/* Writes w0, w1, ... one by one until told to stop. */
struct steady_writer {
	struct kh_store *s;
	atomic_bool stop;
	int written;
};

static void *steady_main(void *p)
{
	struct steady_writer *w = p;
	while (!atomic_load(&w->stop) && w->written < 100000) {
		char name[32];
		snprintf(name, sizeof(name), "w%d", w->written);
		if (put(w->s, name, "v") != KH_OK)
			break;
		w->written++;
	}
	return NULL;
}

static void a_snapshot_is_consistent_while_writes_go_on(void **state)
{
	struct fixture *f = *state;
	char snap[320], out[64], name[32];
	struct stat st;
	struct kh_store *copy = NULL;
	pthread_t t;
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		assert_int_equal(put(f->s, name, "before"), KH_OK);
	}
	struct steady_writer w = {.s = f->s};
	assert_int_equal(pthread_create(&t, NULL, steady_main, &w), 0);
	while (w.written < 20)
		usleep(1000);
	snprintf(snap, sizeof(snap), "%s/snapshot.db", f->dir);
	assert_int_equal(kh_store_snapshot(f->s, snap), KH_OK);
	atomic_store(&w.stop, true);
	pthread_join(t, NULL);
	assert_int_equal(stat(snap, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A second snapshot never overwrites a file. */
	assert_int_equal(kh_store_snapshot(f->s, snap), KH_ERR_CONFLICT);

	/* The copy opens as a store: all rows from before, and the writer's rows up to one point
	 * with none missing before it (one committed moment). */
	struct kh_store_options o = {.path = snap};
	assert_int_equal(kh_store_open(&o, &copy), KH_OK);
	assert_true(get(copy, "a199", out, sizeof(out)));
	int64_t rows = kh_test_sql_int(copy, &q_count, NULL, 0);
	int64_t seen = rows - 200;
	assert_true(seen >= 20 && seen <= w.written);
	snprintf(name, sizeof(name), "w%d", (int)seen - 1);
	assert_true(get(copy, name, out, sizeof(out)));
	snprintf(name, sizeof(name), "w%d", (int)seen);
	assert_false(get(copy, name, out, sizeof(out)));
	kh_store_close(&copy);
}

static void bad_options_are_refused(void **state)
{
	(void)state;
	struct kh_store *s = NULL;
	struct kh_store_options none = {.path = NULL};
	assert_int_equal(kh_store_open(&none, &s), KH_ERR_BAD_INPUT);
	struct kh_store_options other = {.backend = "oracle", .path = "/tmp/x"};
	assert_int_equal(kh_store_open(&other, &s), KH_ERR_BAD_INPUT);
	struct kh_store_options nodir = {.path = "/nonexistent-dir/keyhold.db"};
	assert_int_equal(kh_store_open(&nodir, &s), KH_ERR_STORAGE);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(migrations_are_applied_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_newer_schema_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(the_file_is_private_and_in_wal_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(the_writer_syncs_fully_and_deletes_securely, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(written_rows_are_read_back_and_survive_reopen, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(a_unique_violation_is_a_conflict, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_failing_write_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(columns_are_type_checked, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_wrong_parameter_count_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(concurrent_writers_share_commits_and_fail_alone, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(async_writes_report_after_the_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(close_finishes_queued_async_writes, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_snapshot_is_consistent_while_writes_go_on, setup,
	                                    teardown),
	    cmocka_unit_test(bad_options_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
