/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside store/: the contract between the generic front (store.c: transactions, group commit,
 * reader pool, migrations, typed accessors) and a back-end (sqlite.c; postgres later). A
 * back-end only knows connections and statements.
 */
#ifndef KH_STORE_INT_H
#define KH_STORE_INT_H

#include <pthread.h>

#include "store/kh_store.h"

struct kh_store_migration {
	int64_t version;
	const char *const *statements;
	size_t statement_count;
};
extern const struct kh_store_migration kh_store_migrations[];
extern const size_t kh_store_migration_count;

/* One connection of a back-end, used by one thread at a time. */
struct kh_store_conn;

/* The transaction statements store.c runs on every read and write, so a back-end can keep them
 * prepared instead of parsing them each time. */
enum kh_store_ctl {
	KH_STORE_CTL_BEGIN,           /* a read transaction */
	KH_STORE_CTL_BEGIN_IMMEDIATE, /* a write transaction */
	KH_STORE_CTL_COMMIT,
	KH_STORE_CTL_ROLLBACK,
	KH_STORE_CTL_SAVEPOINT_W, /* each write function of a group */
	KH_STORE_CTL_RELEASE_W,
	KH_STORE_CTL_ROLLBACK_TO_W,
	KH_STORE_CTL_SAVEPOINT_T, /* kh_store_tx_try */
	KH_STORE_CTL_RELEASE_T,
	KH_STORE_CTL_ROLLBACK_TO_T,
	KH_STORE_CTL_COUNT
};

struct kh_store_backend {
	const char *name;
	/* writer: the connection that writes (and runs migrations); readers never write. */
	kh_rc (*connect)(const struct kh_store_options *opts, bool writer,
	                 struct kh_store_conn **out);
	void (*disconnect)(struct kh_store_conn **c);
	/* Plain statements without parameters or rows: BEGIN, COMMIT, SAVEPOINT, DDL. */
	kh_rc (*exec_sql)(struct kh_store_conn *c, const char *sql);
	/* One of the transaction statements above. */
	kh_rc (*control)(struct kh_store_conn *c, enum kh_store_ctl what);
	/* Binds and starts a named query; the first row (if any) is fetched by step. */
	kh_rc (*start)(struct kh_store_conn *c, const struct kh_store_query *q,
	               const struct kh_store_val *params, size_t param_count);
	/* Next row of the started query: *out_has_row false at the end. */
	kh_rc (*step)(struct kh_store_conn *c, bool *out_has_row);
	uint64_t (*changes)(struct kh_store_conn *c);
	/* Ends the started query (always called, also after errors). */
	void (*finish)(struct kh_store_conn *c);
	unsigned (*column_count)(struct kh_store_conn *c);
	enum kh_store_type (*column_type)(struct kh_store_conn *c, unsigned col);
	int64_t (*column_int)(struct kh_store_conn *c, unsigned col);
	struct kh_slice (*column_bytes)(struct kh_store_conn *c, unsigned col);
	/* Copies the database as of one moment into a new file at path (kh_store_snapshot), on a
	 * reader connection with no transaction open. */
	kh_rc (*snapshot)(struct kh_store_conn *c, const char *path);
};

extern const struct kh_store_backend kh_store_sqlite;

#endif
