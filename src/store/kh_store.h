/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storage: the one interface every layer above uses to keep data. It speaks in named queries
 * (struct kh_store_query, defined in this folder next to their SQL), typed values and
 * transactions, never in types of the engine underneath, so a PostgreSQL back-end can be added
 * beside the SQLite one without touching a caller.
 *
 * Durability: a write transaction that returned KH_OK has been committed and synced; it survives
 * kill -9 and power loss (SQLite: WAL with synchronous=FULL). Writes go through
 * kh_store_write() (or kh_store_write_async()), which runs the caller's function on the store's
 * writer thread inside a transaction shared with other writers arriving at the same time (group
 * commit): each function runs in its own savepoint, so a failing one rolls back alone, and all
 * of them wait for the one fsync. Reads run on their own
 * connections in parallel with writes and see the last committed state.
 *
 * Threads: a struct kh_store is shared by all threads. A transaction belongs to the thread that
 * holds it; row cursors belong to their transaction and at most one is open at a time.
 */
#ifndef KH_STORE_H
#define KH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kh_buf.h"
#include "base/kh_rc.h"

struct kh_store;
struct kh_store_tx;
struct kh_store_rows;

/*
 * A statement, written once in this folder. `sql` uses `?` placeholders and the SQL subset both
 * back-ends share; a back-end may translate it (e.g. `?` to `$n`) and caches the prepared form.
 * Queries are static objects compared by address.
 */
struct kh_store_query {
	const char *name; /* for logs and errors: "keys.insert" */
	const char *sql;
};

enum kh_store_type {
	KH_STORE_NULL = 0,
	KH_STORE_INT,
	KH_STORE_TEXT,
	KH_STORE_BLOB,
};

/* A parameter: borrowed for the duration of the call. */
struct kh_store_val {
	enum kh_store_type type;
	int64_t i;
	struct kh_slice s;
};

#define KH_SV_NULL ((struct kh_store_val){.type = KH_STORE_NULL})
#define KH_SV_INT(x) ((struct kh_store_val){.type = KH_STORE_INT, .i = (int64_t)(x)})
#define KH_SV_TEXT(cstr)                                                                           \
	((struct kh_store_val){.type = KH_STORE_TEXT, .s = kh_slice_from_cstr(cstr)})
#define KH_SV_TEXTN(slice) ((struct kh_store_val){.type = KH_STORE_TEXT, .s = (slice)})
#define KH_SV_BLOB(slice) ((struct kh_store_val){.type = KH_STORE_BLOB, .s = (slice)})
#define KH_SV_COUNT(arr) (sizeof(arr) / sizeof((arr)[0]))

struct kh_store_options {
	/* "sqlite" (default when NULL); later "postgres". */
	const char *backend;
	/* SQLite: path of the database file (created with mode 0600 if missing). */
	const char *path;
	/* Reader connections kept open (default 4). */
	unsigned readers;
};

/* Opens (creating if needed) and applies pending migrations in one transaction. */
KH_MUST_CHECK kh_rc kh_store_open(const struct kh_store_options *opts, struct kh_store **out);
void kh_store_close(struct kh_store **s);
/* Number of the newest migration applied (for health and tests). */
KH_MUST_CHECK kh_rc kh_store_schema_version(struct kh_store *s, int64_t *out_version);
/* The newest migration this build knows. */
int64_t kh_store_schema_latest(void);

/*
 * Runs fn(tx, arg) in a write transaction and returns after it is durably committed. fn's own
 * result is returned; if fn fails its changes are rolled back (and nothing else's). If the
 * commit itself fails every function of the group gets KH_ERR_STORAGE. fn must not keep tx
 * beyond its return and must not call kh_store_write() or kh_store_read_begin() itself. It runs
 * on the store's writer thread, so it must only touch its arg. Must not be called from a
 * kh_store_async done function (KH_ERR_INTERNAL: it would wait for itself).
 */
typedef kh_rc (*kh_store_write_fn)(struct kh_store_tx *tx, void *arg);
KH_MUST_CHECK kh_rc kh_store_write(struct kh_store *s, kh_store_write_fn fn, void *arg);

/*
 * The same write without waiting: fn(tx, arg) joins the next group, and done(op, rc) runs on the
 * store's writer thread once the group is durably committed (rc is fn's result) or has failed
 * (KH_ERR_STORAGE), never inside kh_store_write_async itself. The caller owns op and keeps it
 * valid until done runs; done may free it. done must be quick and must not write to the store:
 * the next group waits for it. A server uses this to release an answer only once the record
 * of it is on disk, without a thread waiting for the sync.
 */
struct kh_store_async {
	kh_store_write_fn fn;
	void *arg;
	void (*done)(struct kh_store_async *op, kh_rc rc);
	struct kh_store_async *next; /* the store's */
	kh_rc rc;                    /* the store's */
};
void kh_store_write_async(struct kh_store *s, struct kh_store_async *op);

/*
 * Inside a write function: runs fn(tx, arg) in a nested savepoint. If fn fails, its changes are
 * undone and the transaction goes on (e.g. to record the refusal in the audit log); fn's result
 * is returned.
 */
KH_MUST_CHECK kh_rc kh_store_tx_try(struct kh_store_tx *tx, kh_store_write_fn fn, void *arg);

/* A read-only snapshot; end it with kh_store_read_end (accepts NULL). */
KH_MUST_CHECK kh_rc kh_store_read_begin(struct kh_store *s, struct kh_store_tx **out);
void kh_store_read_end(struct kh_store_tx **tx);

/* Runs a statement that returns no rows; out_changes (optional) gets the rows changed. */
KH_MUST_CHECK kh_rc kh_store_exec(struct kh_store_tx *tx, const struct kh_store_query *q,
                                  const struct kh_store_val *params, size_t param_count,
                                  uint64_t *out_changes);

/*
 * Runs a statement that returns rows (SELECT or ... RETURNING). Step with kh_store_rows_next;
 * close with kh_store_rows_close (accepts NULL). Values read from a row are borrowed until the
 * next step or close.
 */
KH_MUST_CHECK kh_rc kh_store_query(struct kh_store_tx *tx, const struct kh_store_query *q,
                                   const struct kh_store_val *params, size_t param_count,
                                   struct kh_store_rows **out);
/* *out_has_row = false at the end. */
KH_MUST_CHECK kh_rc kh_store_rows_next(struct kh_store_rows *rows, bool *out_has_row);
void kh_store_rows_close(struct kh_store_rows **rows);

/*
 * Column accessors check the type they read, because values from the database are input too:
 * a NULL or a value of the wrong type is KH_ERR_STORAGE, except through the _opt forms, which
 * report NULL as *out_null = true.
 */
bool kh_store_rows_is_null(struct kh_store_rows *rows, unsigned col);
KH_MUST_CHECK kh_rc kh_store_rows_int(struct kh_store_rows *rows, unsigned col, int64_t *out);
KH_MUST_CHECK kh_rc kh_store_rows_int_opt(struct kh_store_rows *rows, unsigned col, int64_t *out,
                                          bool *out_null);
KH_MUST_CHECK kh_rc kh_store_rows_text(struct kh_store_rows *rows, unsigned col,
                                       struct kh_slice *out);
KH_MUST_CHECK kh_rc kh_store_rows_text_opt(struct kh_store_rows *rows, unsigned col,
                                           struct kh_slice *out, bool *out_null);
KH_MUST_CHECK kh_rc kh_store_rows_blob(struct kh_store_rows *rows, unsigned col,
                                       struct kh_slice *out);
/* Copies a text column into a NUL-terminated fixed buffer; too long is KH_ERR_STORAGE. */
KH_MUST_CHECK kh_rc kh_store_rows_text_copy(struct kh_store_rows *rows, unsigned col, char *out,
                                            size_t out_len);

/*
 * One-row helpers for the common case: runs q and expects exactly zero or one row. The row is
 * positioned for the accessors; *out_found says whether there was one. Close with
 * kh_store_rows_close as usual.
 */
KH_MUST_CHECK kh_rc kh_store_query_one(struct kh_store_tx *tx, const struct kh_store_query *q,
                                       const struct kh_store_val *params, size_t param_count,
                                       struct kh_store_rows **out, bool *out_found);

/*
 * Writes a consistent copy of the whole database, as of one committed moment, to a new file at
 * path (mode 0600; KH_ERR_CONFLICT if it exists). Runs on a reader connection while the server
 * goes on: writers are not blocked. On failure the file is removed. The copy is a database this
 * back-end opens (kh_store_open) as it is: a backup's payload.
 */
KH_MUST_CHECK kh_rc kh_store_snapshot(struct kh_store *s, const char *path);

/* Counters for metrics and benchmarks. */
struct kh_store_stats {
	uint64_t write_groups; /* committed transactions */
	uint64_t write_calls;  /* write functions committed (kh_store_write and _async) */
	uint64_t write_failures;
};
void kh_store_stats_get(struct kh_store *s, struct kh_store_stats *out);

#endif
