// SPDX-License-Identifier: Apache-2.0
/*
 * The generic half of storage: opening a back-end, migrations, the reader pool, typed column
 * access and group commit.
 *
 * Group commit: kh_store_write() and kh_store_write_async() queue their function; the store's
 * writer thread takes everything queued (up to GROUP_MAX), runs each function in its own
 * savepoint of one transaction, commits once (one fsync), then tells each caller: a waiting
 * kh_store_write wakes on its own condition variable, an asynchronous one gets its done call.
 * Writers that arrive during that fsync form the next group. A lone writer pays one
 * transaction, as without grouping; many concurrent writers share the sync cost, and callers
 * that do not wait (a server releasing an answer once its audit record is on disk) need no
 * thread per write in flight.
 */
#include <errno.h>
#include <string.h>

#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "store/kh_store_int.h"

#define GROUP_MAX 256u
#define READERS_DEFAULT 4u
#define READERS_MAX 64u

struct kh_store_rows {
	struct kh_store_tx *tx;
};

struct kh_store_tx {
	struct kh_store *s;
	struct kh_store_conn *conn;
	bool write;
	bool rows_open;
	struct kh_store_rows rows;
	size_t reader_slot;
};

/* A waiting kh_store_write: its op and the condition it sleeps on. */
struct write_wait {
	struct kh_store_async op;
	struct kh_store *s;
	bool done;
	pthread_cond_t wake;
};

struct kh_store {
	const struct kh_store_backend *be;
	struct kh_store_conn *writer;

	pthread_mutex_t wmu;
	pthread_cond_t wcond; /* the writer thread waits here for work */
	struct kh_store_async *queue_head;
	struct kh_store_async **queue_tail;
	bool writer_idle; /* the writer thread sleeps on wcond */
	bool stopping;
	bool writer_started;
	pthread_t writer_thread;
	struct kh_store_stats stats;

	pthread_mutex_t rmu;
	pthread_cond_t rcond;
	struct kh_store_conn **readers;
	bool *reader_busy;
	size_t reader_count;
};

/* ---- rows ---- */

static kh_rc query_start(struct kh_store_tx *tx, const struct kh_store_query *q,
                         const struct kh_store_val *params, size_t param_count)
{
	KH_ENSURE(tx != NULL && q != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(!tx->rows_open, KH_ERR_INTERNAL);
	KH_ENSURE(param_count == 0 || params != NULL, KH_ERR_INTERNAL);
	return tx->s->be->start(tx->conn, q, params, param_count);
}

kh_rc kh_store_exec(struct kh_store_tx *tx, const struct kh_store_query *q,
                    const struct kh_store_val *params, size_t param_count, uint64_t *out_changes)
{
	KH_GUARD(query_start(tx, q, params, param_count));
	bool row = false;
	kh_rc rc = tx->s->be->step(tx->conn, &row);
	if (rc == KH_OK && out_changes != NULL)
		*out_changes = tx->s->be->changes(tx->conn);
	tx->s->be->finish(tx->conn);
	return rc;
}

kh_rc kh_store_query(struct kh_store_tx *tx, const struct kh_store_query *q,
                     const struct kh_store_val *params, size_t param_count,
                     struct kh_store_rows **out)
{
	KH_GUARD(query_start(tx, q, params, param_count));
	tx->rows_open = true;
	tx->rows.tx = tx;
	*out = &tx->rows;
	return KH_OK;
}

kh_rc kh_store_rows_next(struct kh_store_rows *rows, bool *out_has_row)
{
	KH_ENSURE(rows != NULL && rows->tx != NULL && rows->tx->rows_open, KH_ERR_INTERNAL);
	return rows->tx->s->be->step(rows->tx->conn, out_has_row);
}

void kh_store_rows_close(struct kh_store_rows **rows)
{
	if (*rows == NULL)
		return;
	struct kh_store_tx *tx = (*rows)->tx;
	tx->s->be->finish(tx->conn);
	tx->rows_open = false;
	*rows = NULL;
}

kh_rc kh_store_query_one(struct kh_store_tx *tx, const struct kh_store_query *q,
                         const struct kh_store_val *params, size_t param_count,
                         struct kh_store_rows **out, bool *out_found)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_GUARD(kh_store_query(tx, q, params, param_count, &rows));
	kh_rc rc = kh_store_rows_next(rows, &found);
	if (rc != KH_OK) {
		kh_store_rows_close(&rows);
		return rc;
	}
	*out = rows;
	*out_found = found;
	return KH_OK;
}

static kh_rc column(struct kh_store_rows *rows, unsigned col, enum kh_store_type want,
                    bool *out_null)
{
	KH_ENSURE(rows != NULL && rows->tx->rows_open, KH_ERR_INTERNAL);
	const struct kh_store_backend *be = rows->tx->s->be;
	KH_ENSURE(col < be->column_count(rows->tx->conn), KH_ERR_INTERNAL);
	enum kh_store_type t = be->column_type(rows->tx->conn, col);
	if (t == KH_STORE_NULL && out_null != NULL) {
		*out_null = true;
		return KH_OK;
	}
	if (t != want) {
		KH_LOG_ERROR("unexpected value in database", KH_LF_UINT("column", col),
		             KH_LF_INT("type", t));
		return KH_ERR_STORAGE;
	}
	if (out_null != NULL)
		*out_null = false;
	return KH_OK;
}

bool kh_store_rows_is_null(struct kh_store_rows *rows, unsigned col)
{
	if (rows == NULL || !rows->tx->rows_open)
		return false;
	const struct kh_store_backend *be = rows->tx->s->be;
	if (col >= be->column_count(rows->tx->conn))
		return false;
	return be->column_type(rows->tx->conn, col) == KH_STORE_NULL;
}

kh_rc kh_store_rows_int_opt(struct kh_store_rows *rows, unsigned col, int64_t *out, bool *out_null)
{
	bool is_null = false;
	KH_GUARD(column(rows, col, KH_STORE_INT, &is_null));
	if (!is_null)
		*out = rows->tx->s->be->column_int(rows->tx->conn, col);
	*out_null = is_null;
	return KH_OK;
}

kh_rc kh_store_rows_int(struct kh_store_rows *rows, unsigned col, int64_t *out)
{
	KH_GUARD(column(rows, col, KH_STORE_INT, NULL));
	*out = rows->tx->s->be->column_int(rows->tx->conn, col);
	return KH_OK;
}

static kh_rc bytes_opt(struct kh_store_rows *rows, unsigned col, enum kh_store_type t,
                       struct kh_slice *out, bool *out_null)
{
	KH_GUARD(column(rows, col, t, out_null));
	if (out_null == NULL || !*out_null)
		*out = rows->tx->s->be->column_bytes(rows->tx->conn, col);
	return KH_OK;
}

kh_rc kh_store_rows_text(struct kh_store_rows *rows, unsigned col, struct kh_slice *out)
{
	return bytes_opt(rows, col, KH_STORE_TEXT, out, NULL);
}

kh_rc kh_store_rows_text_opt(struct kh_store_rows *rows, unsigned col, struct kh_slice *out,
                             bool *out_null)
{
	return bytes_opt(rows, col, KH_STORE_TEXT, out, out_null);
}

kh_rc kh_store_rows_blob(struct kh_store_rows *rows, unsigned col, struct kh_slice *out)
{
	return bytes_opt(rows, col, KH_STORE_BLOB, out, NULL);
}

kh_rc kh_store_rows_text_copy(struct kh_store_rows *rows, unsigned col, char *out, size_t out_len)
{
	struct kh_slice s;
	KH_GUARD(kh_store_rows_text(rows, col, &s));
	KH_ENSURE(out_len > 0 && s.len < out_len, KH_ERR_STORAGE);
	KH_ENSURE(memchr(s.ptr, '\0', s.len) == NULL, KH_ERR_STORAGE);
	if (s.len > 0)
		memcpy(out, s.ptr, s.len);
	out[s.len] = '\0';
	return KH_OK;
}

/* ---- reads ---- */

/* Takes a free reader connection of the pool, waiting for one; returns its slot. */
static size_t reader_take(struct kh_store *s)
{
	pthread_mutex_lock(&s->rmu);
	size_t slot = s->reader_count;
	for (;;) {
		for (size_t i = 0; i < s->reader_count; i++) {
			if (!s->reader_busy[i]) {
				slot = i;
				break;
			}
		}
		if (slot < s->reader_count)
			break;
		pthread_cond_wait(&s->rcond, &s->rmu);
	}
	s->reader_busy[slot] = true;
	pthread_mutex_unlock(&s->rmu);
	return slot;
}

static void reader_give(struct kh_store *s, size_t slot)
{
	pthread_mutex_lock(&s->rmu);
	s->reader_busy[slot] = false;
	pthread_cond_signal(&s->rcond);
	pthread_mutex_unlock(&s->rmu);
}

kh_rc kh_store_read_begin(struct kh_store *s, struct kh_store_tx **out)
{
	struct kh_store_tx *tx = kh_calloc(1, sizeof(*tx));
	KH_ENSURE(tx != NULL, KH_ERR_NOMEM);
	size_t slot = reader_take(s);
	tx->s = s;
	tx->conn = s->readers[slot];
	tx->reader_slot = slot;
	kh_rc rc = s->be->control(tx->conn, KH_STORE_CTL_BEGIN);
	if (rc != KH_OK) {
		kh_store_read_end(&tx);
		return rc;
	}
	*out = tx;
	return KH_OK;
}

void kh_store_read_end(struct kh_store_tx **txp)
{
	struct kh_store_tx *tx = *txp;
	if (tx == NULL)
		return;
	struct kh_store *s = tx->s;
	if (tx->rows_open) {
		s->be->finish(tx->conn);
		tx->rows_open = false;
	}
	/* A read transaction has nothing to commit; ending it releases the WAL snapshot. */
	(void)s->be->control(tx->conn, KH_STORE_CTL_ROLLBACK);
	reader_give(s, tx->reader_slot);
	kh_free(txp);
}

kh_rc kh_store_snapshot(struct kh_store *s, const char *path)
{
	KH_ENSURE(s != NULL && path != NULL && path[0] != '\0', KH_ERR_BAD_INPUT);
	/* A reader connection of the pool, taken so no other thread uses it meanwhile; the
	 * back-end opens its own read transaction for the copy. */
	size_t slot = reader_take(s);
	kh_rc rc = s->be->snapshot(s->readers[slot], path);
	reader_give(s, slot);
	return rc;
}

/* ---- writes (group commit) ---- */

static void run_one(struct kh_store *s, struct kh_store_tx *tx, struct kh_store_async *op)
{
	op->rc = s->be->control(s->writer, KH_STORE_CTL_SAVEPOINT_W);
	if (op->rc != KH_OK)
		return;
	op->rc = op->fn(tx, op->arg);
	if (tx->rows_open) {
		/* The function left a cursor open: close it so the savepoint can end. */
		s->be->finish(s->writer);
		tx->rows_open = false;
	}
	if (op->rc != KH_OK && s->be->control(s->writer, KH_STORE_CTL_ROLLBACK_TO_W) != KH_OK)
		op->rc = KH_ERR_STORAGE;
	kh_rc rel = s->be->control(s->writer, KH_STORE_CTL_RELEASE_W);
	if (op->rc == KH_OK && rel != KH_OK)
		op->rc = rel;
}

kh_rc kh_store_tx_try(struct kh_store_tx *tx, kh_store_write_fn fn, void *arg)
{
	KH_ENSURE(tx != NULL && tx->write && !tx->rows_open, KH_ERR_INTERNAL);
	const struct kh_store_backend *be = tx->s->be;
	KH_GUARD(be->control(tx->conn, KH_STORE_CTL_SAVEPOINT_T));
	kh_rc rc = fn(tx, arg);
	if (tx->rows_open) {
		be->finish(tx->conn);
		tx->rows_open = false;
	}
	if (rc != KH_OK && be->control(tx->conn, KH_STORE_CTL_ROLLBACK_TO_T) != KH_OK)
		return KH_ERR_STORAGE;
	kh_rc rel = be->control(tx->conn, KH_STORE_CTL_RELEASE_T);
	return rc != KH_OK ? rc : rel;
}

/* Runs a group in one transaction; afterwards every op has its rc. */
static void run_group(struct kh_store *s, struct kh_store_async *group)
{
	struct kh_store_tx tx = {.s = s, .conn = s->writer, .write = true};
	kh_rc rc = s->be->control(s->writer, KH_STORE_CTL_BEGIN_IMMEDIATE);
	if (rc == KH_OK) {
		for (struct kh_store_async *op = group; op != NULL; op = op->next)
			run_one(s, &tx, op);
		rc = s->be->control(s->writer, KH_STORE_CTL_COMMIT);
		if (rc != KH_OK)
			(void)s->be->control(s->writer, KH_STORE_CTL_ROLLBACK);
	}
	if (rc != KH_OK) {
		for (struct kh_store_async *op = group; op != NULL; op = op->next)
			op->rc = KH_ERR_STORAGE;
	}
}

static struct kh_store_async *take_group(struct kh_store *s)
{
	struct kh_store_async *head = s->queue_head;
	struct kh_store_async *last = head;
	for (unsigned n = 1; n < GROUP_MAX && last->next != NULL; n++)
		last = last->next;
	s->queue_head = last->next;
	if (s->queue_head == NULL)
		s->queue_tail = &s->queue_head;
	last->next = NULL;
	return head;
}

/* Under wmu: counts a finished group. */
static void count_group(struct kh_store *s, const struct kh_store_async *group)
{
	bool committed = false;
	for (const struct kh_store_async *op = group; op != NULL; op = op->next) {
		if (op->rc == KH_OK) {
			s->stats.write_calls++;
			committed = true;
		} else {
			s->stats.write_failures++;
		}
	}
	if (committed)
		s->stats.write_groups++;
}

static void *writer_main(void *arg)
{
	struct kh_store *s = arg;
	pthread_mutex_lock(&s->wmu);
	for (;;) {
		while (s->queue_head == NULL && !s->stopping) {
			s->writer_idle = true;
			pthread_cond_wait(&s->wcond, &s->wmu);
			s->writer_idle = false;
		}
		if (s->queue_head == NULL)
			break; /* stopping, and nothing left */
		struct kh_store_async *group = take_group(s);
		pthread_mutex_unlock(&s->wmu);
		run_group(s, group);
		pthread_mutex_lock(&s->wmu);
		count_group(s, group);
		pthread_mutex_unlock(&s->wmu);
		/* done may free its op: read the link first. */
		for (struct kh_store_async *op = group, *next; op != NULL; op = next) {
			next = op->next;
			op->done(op, op->rc);
		}
		pthread_mutex_lock(&s->wmu);
	}
	pthread_mutex_unlock(&s->wmu);
	return NULL;
}

static void enqueue(struct kh_store *s, struct kh_store_async *op)
{
	op->next = NULL;
	op->rc = KH_OK;
	pthread_mutex_lock(&s->wmu);
	*s->queue_tail = op;
	s->queue_tail = &op->next;
	if (s->writer_idle)
		pthread_cond_signal(&s->wcond);
	pthread_mutex_unlock(&s->wmu);
}

void kh_store_write_async(struct kh_store *s, struct kh_store_async *op)
{
	enqueue(s, op);
}

static void wait_done(struct kh_store_async *op, kh_rc rc)
{
	struct write_wait *w = (struct write_wait *)op; /* op is its first member */
	(void)rc;
	pthread_mutex_lock(&w->s->wmu);
	w->done = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->s->wmu);
}

kh_rc kh_store_write(struct kh_store *s, kh_store_write_fn fn, void *arg)
{
	KH_ENSURE(s != NULL && fn != NULL, KH_ERR_INTERNAL);
	/* On the writer thread (a done function) this would wait for itself. */
	KH_ENSURE(!pthread_equal(pthread_self(), s->writer_thread), KH_ERR_INTERNAL);
	struct write_wait w = {.op = {.fn = fn, .arg = arg, .done = wait_done}, .s = s};
	pthread_cond_init(&w.wake, NULL);
	// cppcheck-suppress autoVariables
	enqueue(s, &w.op);
	pthread_mutex_lock(&s->wmu);
	while (!w.done)
		pthread_cond_wait(&w.wake, &s->wmu);
	pthread_mutex_unlock(&s->wmu);
	/* wait_done signals under wmu, so it is finished with w here. */
	pthread_cond_destroy(&w.wake);
	return w.op.rc;
}

void kh_store_stats_get(struct kh_store *s, struct kh_store_stats *out)
{
	pthread_mutex_lock(&s->wmu);
	*out = s->stats;
	pthread_mutex_unlock(&s->wmu);
}

/* ---- migrations ---- */

static const struct kh_store_query q_migrations_create = {
    "store.migrations_create",
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
};
static const struct kh_store_query q_migrations_max = {
    "store.migrations_max",
    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
};
static const struct kh_store_query q_migrations_add = {
    "store.migrations_add",
    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)",
};

static kh_rc current_version(struct kh_store_tx *tx, int64_t *out)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_GUARD(kh_store_query_one(tx, &q_migrations_max, NULL, 0, &rows, &found));
	kh_rc rc = found ? kh_store_rows_int(rows, 0, out) : KH_ERR_STORAGE;
	kh_store_rows_close(&rows);
	return rc;
}

static kh_rc apply_migration(struct kh_store_tx *tx, const struct kh_store_migration *m)
{
	for (size_t i = 0; i < m->statement_count; i++)
		KH_GUARD(tx->s->be->exec_sql(tx->conn, m->statements[i]));
	struct kh_store_val v[] = {KH_SV_INT(m->version)};
	return kh_store_exec(tx, &q_migrations_add, v, 1, NULL);
}

static kh_rc migrate(struct kh_store_tx *tx, void *arg)
{
	(void)arg;
	int64_t have = 0;
	KH_GUARD(kh_store_exec(tx, &q_migrations_create, NULL, 0, NULL));
	KH_GUARD(current_version(tx, &have));
	if (have > kh_store_schema_latest()) {
		KH_LOG_ERROR("database schema is newer than this build",
		             KH_LF_INT("database", have),
		             KH_LF_INT("build", kh_store_schema_latest()));
		return KH_ERR_STORAGE;
	}
	for (size_t i = 0; i < kh_store_migration_count; i++) {
		const struct kh_store_migration *m = &kh_store_migrations[i];
		if (m->version <= have)
			continue;
		KH_GUARD(apply_migration(tx, m));
		KH_LOG_INFO("schema migration applied", KH_LF_INT("version", m->version));
	}
	return KH_OK;
}

kh_rc kh_store_schema_version(struct kh_store *s, int64_t *out_version)
{
	struct kh_store_tx *tx = NULL;
	KH_GUARD(kh_store_read_begin(s, &tx));
	kh_rc rc = current_version(tx, out_version);
	kh_store_read_end(&tx);
	return rc;
}

/* ---- open and close ---- */

static const struct kh_store_backend *backend_named(const char *name)
{
	if (name == NULL || strcmp(name, "sqlite") == 0)
		return &kh_store_sqlite;
	return NULL;
}

void kh_store_close(struct kh_store **sp)
{
	struct kh_store *s = *sp;
	if (s == NULL)
		return;
	if (s->writer_started) {
		/* The writer finishes what is queued, then leaves. */
		pthread_mutex_lock(&s->wmu);
		s->stopping = true;
		pthread_cond_signal(&s->wcond);
		pthread_mutex_unlock(&s->wmu);
		pthread_join(s->writer_thread, NULL);
	}
	for (size_t i = 0; i < s->reader_count; i++)
		s->be->disconnect(&s->readers[i]);
	kh_free(&s->readers);
	kh_free(&s->reader_busy);
	s->be->disconnect(&s->writer);
	pthread_mutex_destroy(&s->wmu);
	pthread_cond_destroy(&s->wcond);
	pthread_mutex_destroy(&s->rmu);
	pthread_cond_destroy(&s->rcond);
	kh_free(sp);
}

static kh_rc open_readers(struct kh_store *s, const struct kh_store_options *opts)
{
	size_t n = opts->readers == 0 ? READERS_DEFAULT : opts->readers;
	KH_ENSURE(n <= READERS_MAX, KH_ERR_BAD_INPUT);
	s->readers = kh_calloc(n, sizeof(*s->readers));
	s->reader_busy = kh_calloc(n, sizeof(*s->reader_busy));
	KH_ENSURE(s->readers != NULL && s->reader_busy != NULL, KH_ERR_NOMEM);
	for (size_t i = 0; i < n; i++) {
		KH_GUARD(s->be->connect(opts, false, &s->readers[i]));
		s->reader_count = i + 1;
	}
	return KH_OK;
}

kh_rc kh_store_open(const struct kh_store_options *opts, struct kh_store **out)
{
	kh_rc rc = KH_OK;
	KH_ENSURE(opts != NULL, KH_ERR_BAD_INPUT);
	const struct kh_store_backend *be = backend_named(opts->backend);
	KH_ENSURE(be != NULL, KH_ERR_BAD_INPUT);
	struct kh_store *s = kh_calloc(1, sizeof(*s));
	KH_ENSURE(s != NULL, KH_ERR_NOMEM);
	s->be = be;
	s->queue_tail = &s->queue_head;
	pthread_mutex_init(&s->wmu, NULL);
	pthread_cond_init(&s->wcond, NULL);
	pthread_mutex_init(&s->rmu, NULL);
	pthread_cond_init(&s->rcond, NULL);
	KH_GUARD_OUT(be->connect(opts, true, &s->writer));
	int err = pthread_create(&s->writer_thread, NULL, writer_main, s);
	KH_ENSURE_OUT(err == 0, err == EAGAIN ? KH_ERR_NOMEM : KH_ERR_INTERNAL);
	s->writer_started = true;
	KH_GUARD_OUT(kh_store_write(s, migrate, NULL));
	KH_GUARD_OUT(open_readers(s, opts));
	*out = s;
	s = NULL;
out:
	kh_store_close(&s);
	return rc;
}
