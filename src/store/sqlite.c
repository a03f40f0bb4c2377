// SPDX-License-Identifier: Apache-2.0
/*
 * The SQLite back-end: one database file in WAL mode with synchronous=FULL (a commit is on disk
 * before it returns, so kill -9 or power loss never loses an acknowledged write) and
 * secure_delete=ON (deleted rows, such as destroyed key material, are overwritten with zeros in
 * the file instead of lingering in free pages). One writer connection, several readers; each
 * connection keeps its prepared statements, keyed by the address of the query object.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "store/kh_store_int.h"

/* Milliseconds a connection waits for a lock held by another process before failing. */
#define SQLITE_BUSY_TIMEOUT_MS 10000

struct cached_stmt {
	const struct kh_store_query *q;
	sqlite3_stmt *stmt;
};

struct kh_store_conn {
	sqlite3 *db;
	struct cached_stmt *cache;
	size_t cache_len;
	size_t cache_cap;
	sqlite3_stmt *ctl[KH_STORE_CTL_COUNT]; /* transaction statements, prepared on first use */
	sqlite3_stmt *cur;                     /* the started query */
	const char *cur_name;
};

static kh_rc sqlite_rc(struct kh_store_conn *c, int code, const char *what)
{
	int base = code & 0xff;
	if (base == SQLITE_CONSTRAINT)
		return KH_ERR_CONFLICT;
	if (base == SQLITE_NOMEM)
		return KH_ERR_NOMEM;
	KH_LOG_ERROR("sqlite failure", KH_LF_STR("during", what), KH_LF_INT("code", code),
	             KH_LF_STR("detail", c != NULL && c->db != NULL ? sqlite3_errmsg(c->db) : ""));
	return KH_ERR_STORAGE;
}

static kh_rc sqlite_exec_sql(struct kh_store_conn *c, const char *sql)
{
	int code = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	if (code != SQLITE_OK)
		return sqlite_rc(c, code, sql);
	return KH_OK;
}

static const char *const ctl_sql[KH_STORE_CTL_COUNT] = {
    [KH_STORE_CTL_BEGIN] = "BEGIN",
    [KH_STORE_CTL_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [KH_STORE_CTL_COMMIT] = "COMMIT",
    [KH_STORE_CTL_ROLLBACK] = "ROLLBACK",
    [KH_STORE_CTL_SAVEPOINT_W] = "SAVEPOINT w",
    [KH_STORE_CTL_RELEASE_W] = "RELEASE w",
    [KH_STORE_CTL_ROLLBACK_TO_W] = "ROLLBACK TO w",
    [KH_STORE_CTL_SAVEPOINT_T] = "SAVEPOINT t",
    [KH_STORE_CTL_RELEASE_T] = "RELEASE t",
    [KH_STORE_CTL_ROLLBACK_TO_T] = "ROLLBACK TO t",
};

static kh_rc sqlite_control(struct kh_store_conn *c, enum kh_store_ctl what)
{
	KH_ENSURE((unsigned)what < KH_STORE_CTL_COUNT, KH_ERR_INTERNAL);
	if (c->ctl[what] == NULL) {
		int code = sqlite3_prepare_v3(c->db, ctl_sql[what], -1, SQLITE_PREPARE_PERSISTENT,
		                              &c->ctl[what], NULL);
		if (code != SQLITE_OK)
			return sqlite_rc(c, code, ctl_sql[what]);
	}
	int code = sqlite3_step(c->ctl[what]);
	(void)sqlite3_reset(c->ctl[what]);
	if (code != SQLITE_DONE)
		return sqlite_rc(c, code, ctl_sql[what]);
	return KH_OK;
}

/* Creates the file with mode 0600 first: SQLite would use the umask, and the WAL and shared
 * memory files it creates later copy the database file's permissions. */
static kh_rc create_private_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		KH_LOG_ERROR("cannot open database file", KH_LF_STR("path", path),
		             KH_LF_STR("reason", strerror(errno)));
		return KH_ERR_STORAGE;
	}
	close(fd);
	return KH_OK;
}

static const char *const writer_pragmas[] = {
    "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",   "PRAGMA secure_delete=ON",
    "PRAGMA foreign_keys=ON",  "PRAGMA cell_size_check=ON",
};
static const char *const reader_pragmas[] = {
    "PRAGMA foreign_keys=ON",
    "PRAGMA query_only=ON",
    "PRAGMA cell_size_check=ON",
};

static kh_rc apply_pragmas(struct kh_store_conn *c, bool writer)
{
	const char *const *list = writer ? writer_pragmas : reader_pragmas;
	size_t n = writer ? sizeof(writer_pragmas) / sizeof(writer_pragmas[0])
	                  : sizeof(reader_pragmas) / sizeof(reader_pragmas[0]);
	for (size_t i = 0; i < n; i++)
		KH_GUARD(sqlite_exec_sql(c, list[i]));
	return KH_OK;
}

static void sqlite_disconnect(struct kh_store_conn **cp)
{
	struct kh_store_conn *c = *cp;
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->cache_len; i++)
		sqlite3_finalize(c->cache[i].stmt);
	for (size_t i = 0; i < KH_STORE_CTL_COUNT; i++)
		sqlite3_finalize(c->ctl[i]);
	kh_free(&c->cache);
	sqlite3_close(c->db);
	kh_free(cp);
}

static kh_rc sqlite_connect(const struct kh_store_options *opts, bool writer,
                            struct kh_store_conn **out)
{
	kh_rc rc = KH_OK;
	struct kh_store_conn *c = NULL;
	KH_ENSURE(opts->path != NULL && opts->path[0] != '\0', KH_ERR_BAD_INPUT);
	if (writer)
		KH_GUARD(create_private_file(opts->path));
	c = kh_calloc(1, sizeof(*c));
	KH_ENSURE(c != NULL, KH_ERR_NOMEM);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
	int code = sqlite3_open_v2(opts->path, &c->db, flags, NULL);
	KH_ENSURE_OUT(code == SQLITE_OK, sqlite_rc(c, code, "open"));
	sqlite3_extended_result_codes(c->db, 1);
	code = sqlite3_busy_timeout(c->db, SQLITE_BUSY_TIMEOUT_MS);
	KH_ENSURE_OUT(code == SQLITE_OK, sqlite_rc(c, code, "busy_timeout"));
	KH_GUARD_OUT(apply_pragmas(c, writer));
	*out = c;
	c = NULL;
out:
	sqlite_disconnect(&c);
	return rc;
}

static kh_rc prepared(struct kh_store_conn *c, const struct kh_store_query *q, sqlite3_stmt **out)
{
	for (size_t i = 0; i < c->cache_len; i++) {
		if (c->cache[i].q == q) {
			*out = c->cache[i].stmt;
			return KH_OK;
		}
	}
	if (c->cache_len == c->cache_cap) {
		size_t cap = c->cache_cap == 0 ? 64 : c->cache_cap * 2;
		struct cached_stmt *grown = kh_calloc(cap, sizeof(*grown));
		KH_ENSURE(grown != NULL, KH_ERR_NOMEM);
		if (c->cache_len > 0)
			memcpy(grown, c->cache, c->cache_len * sizeof(*grown));
		kh_free(&c->cache);
		c->cache = grown;
		c->cache_cap = cap;
	}
	sqlite3_stmt *stmt = NULL;
	int code = sqlite3_prepare_v3(c->db, q->sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (code != SQLITE_OK)
		return sqlite_rc(c, code, q->name);
	c->cache[c->cache_len++] = (struct cached_stmt){.q = q, .stmt = stmt};
	*out = stmt;
	return KH_OK;
}

static kh_rc bind_one(struct kh_store_conn *c, sqlite3_stmt *stmt, int idx,
                      const struct kh_store_val *v)
{
	int code = SQLITE_MISUSE;
	switch (v->type) {
	case KH_STORE_NULL:
		code = sqlite3_bind_null(stmt, idx);
		break;
	case KH_STORE_INT:
		code = sqlite3_bind_int64(stmt, idx, v->i);
		break;
	case KH_STORE_TEXT:
		KH_ENSURE(v->s.len <= INT32_MAX, KH_ERR_TOO_LARGE);
		code = sqlite3_bind_text(stmt, idx, v->s.ptr != NULL ? (const char *)v->s.ptr : "",
		                         (int)v->s.len, SQLITE_STATIC);
		break;
	case KH_STORE_BLOB:
		KH_ENSURE(v->s.len <= INT32_MAX, KH_ERR_TOO_LARGE);
		code = sqlite3_bind_blob(stmt, idx, v->s.ptr != NULL ? v->s.ptr : (const void *)"",
		                         (int)v->s.len, SQLITE_STATIC);
		break;
	}
	if (code != SQLITE_OK)
		return sqlite_rc(c, code, "bind");
	return KH_OK;
}

static void sqlite_finish(struct kh_store_conn *c)
{
	if (c->cur == NULL)
		return;
	sqlite3_reset(c->cur);
	sqlite3_clear_bindings(c->cur);
	c->cur = NULL;
	c->cur_name = NULL;
}

static kh_rc sqlite_start(struct kh_store_conn *c, const struct kh_store_query *q,
                          const struct kh_store_val *params, size_t param_count)
{
	sqlite3_stmt *stmt = NULL;
	KH_ENSURE(c->cur == NULL, KH_ERR_INTERNAL);
	KH_GUARD(prepared(c, q, &stmt));
	KH_ENSURE((size_t)sqlite3_bind_parameter_count(stmt) == param_count, KH_ERR_INTERNAL);
	c->cur = stmt;
	c->cur_name = q->name;
	for (size_t i = 0; i < param_count; i++) {
		kh_rc rc = bind_one(c, stmt, (int)i + 1, &params[i]);
		if (rc != KH_OK) {
			sqlite_finish(c);
			return rc;
		}
	}
	return KH_OK;
}

static kh_rc sqlite_step(struct kh_store_conn *c, bool *out_has_row)
{
	KH_ENSURE(c->cur != NULL, KH_ERR_INTERNAL);
	int code = sqlite3_step(c->cur);
	if (code == SQLITE_ROW) {
		*out_has_row = true;
		return KH_OK;
	}
	if (code == SQLITE_DONE) {
		*out_has_row = false;
		return KH_OK;
	}
	return sqlite_rc(c, code, c->cur_name);
}

static uint64_t sqlite_changes(struct kh_store_conn *c)
{
	return (uint64_t)sqlite3_changes64(c->db);
}

static unsigned sqlite_column_count(struct kh_store_conn *c)
{
	return (unsigned)sqlite3_column_count(c->cur);
}

static enum kh_store_type sqlite_column_type(struct kh_store_conn *c, unsigned col)
{
	switch (sqlite3_column_type(c->cur, (int)col)) {
	case SQLITE_INTEGER:
		return KH_STORE_INT;
	case SQLITE_TEXT:
		return KH_STORE_TEXT;
	case SQLITE_BLOB:
		return KH_STORE_BLOB;
	default:
		/* NULL, and REAL which no column of ours holds: callers reject both. */
		return KH_STORE_NULL;
	}
}

static int64_t sqlite_column_int(struct kh_store_conn *c, unsigned col)
{
	return sqlite3_column_int64(c->cur, (int)col);
}

static struct kh_slice sqlite_column_bytes(struct kh_store_conn *c, unsigned col)
{
	/* The pointer first, then the length, as the SQLite documentation asks. */
	const void *p = sqlite3_column_type(c->cur, (int)col) == SQLITE_TEXT
	                    ? (const void *)sqlite3_column_text(c->cur, (int)col)
	                    : sqlite3_column_blob(c->cur, (int)col);
	int n = sqlite3_column_bytes(c->cur, (int)col);
	return KH_SLICE(p, n > 0 ? (size_t)n : 0);
}

/* SQLite's online backup (https://sqlite.org/backup.html) copies pages into a new database. All
 * pages go in one step: one read transaction on the source, so the copy is one consistent
 * snapshot even while the writer commits (in WAL mode readers never block it, and a step that
 * stopped half-way would have to restart after each of its commits). */
static kh_rc sqlite_snapshot(struct kh_store_conn *c, const char *path)
{
	kh_rc rc = KH_OK;
	sqlite3 *dst = NULL;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return KH_ERR_CONFLICT;
		KH_LOG_ERROR("cannot create the snapshot file", KH_LF_STR("path", path),
		             KH_LF_STR("reason", strerror(errno)));
		return KH_ERR_STORAGE;
	}
	close(fd);
	int code = sqlite3_open_v2(
	    path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
	if (code != SQLITE_OK) {
		rc = sqlite_rc(c, code, "snapshot open");
		goto out;
	}
	sqlite3_backup *bk = sqlite3_backup_init(dst, "main", c->db, "main");
	if (bk == NULL) {
		KH_LOG_ERROR("sqlite failure", KH_LF_STR("during", "backup_init"),
		             KH_LF_STR("detail", sqlite3_errmsg(dst)));
		rc = KH_ERR_STORAGE;
		goto out;
	}
	code = sqlite3_backup_step(bk, -1);
	int fin = sqlite3_backup_finish(bk);
	if (code != SQLITE_DONE)
		rc = sqlite_rc(c, code, "backup_step");
	else if (fin != SQLITE_OK)
		rc = sqlite_rc(c, fin, "backup_finish");
out:
	if (sqlite3_close(dst) != SQLITE_OK && rc == KH_OK)
		rc = KH_ERR_STORAGE;
	if (rc != KH_OK)
		unlink(path);
	return rc;
}

const struct kh_store_backend kh_store_sqlite = {
    .name = "sqlite",
    .connect = sqlite_connect,
    .disconnect = sqlite_disconnect,
    .exec_sql = sqlite_exec_sql,
    .control = sqlite_control,
    .start = sqlite_start,
    .step = sqlite_step,
    .changes = sqlite_changes,
    .finish = sqlite_finish,
    .column_count = sqlite_column_count,
    .column_type = sqlite_column_type,
    .column_int = sqlite_column_int,
    .column_bytes = sqlite_column_bytes,
    .snapshot = sqlite_snapshot,
};
