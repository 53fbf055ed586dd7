/*
 * sqlite_internal.h - what the files of the SQLite backend share: the
 * connection, the cached statements' ids, the statement helpers
 * (sqlite_stmt.c), the schema (sqlite_schema.c), the chain walk
 * (sqlite_chain.c) and the operations (sqlite_ops.c) the table in
 * sqlite_backend.c points at.
 */
#ifndef TRACT_SQLITE_INTERNAL_H
#define TRACT_SQLITE_INTERNAL_H

/* The page cache of a connection (PRAGMA cache_size, KiB when negative),
 * and the smaller one a large blob is written with (sqlite_blob_put). */
#define SQLITE_CACHE_PRAGMA "PRAGMA cache_size=-65536;"
#define SQLITE_CACHE_PRAGMA_LARGE_WRITE "PRAGMA cache_size=-4096;"
/* A payload this large is written with the small cache. */
#define SQLITE_LARGE_BLOB ((int64_t)4 << 20)

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "tract/common.h"
#include "tract/sys/backend.h"
#include "uri.h"

#define SCHEMA_VERSION 4
#define ERRLEN 512
/* Variants of the chain walk: one per combination of TRACT_CHAIN_* flags. */
#define N_CHAIN_VARIANTS 8
/* Cached statements of the search index (sqlite_search.c). */
#define N_SEARCH_STMTS 10
/* Side files SQLite may keep next to a database ("-wal", "-shm", "-journal"). */
#define N_SIDE_FILES 3

/* The cached statements (their SQL: stmt_sql in sqlite_stmt.c). */
enum stmt_id {
	ST_BEGIN_READ,
	ST_BEGIN_WRITE,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_BLOB_PUT,
	ST_BLOB_GET,
	ST_BLOB_ALL,
	ST_BLOB_DELETE,
	ST_COMMIT_PUT,
	ST_COMMIT_GET,
	ST_COMMIT_PREFIX,
	ST_COMMIT_ALL,
	ST_COMMIT_TRACT,
	ST_COMMIT_CONFIG_ALL,
	ST_COMMIT_CONFIG_TRACT,
	ST_COMMIT_DELETE,
	ST_COMMIT_UNLINK_SPAWN,
	ST_PARENT_PUT,
	ST_PARENT_LIST,
	ST_PARENT_ALL,
	ST_PARENT_DELETE_CHILD,
	ST_REF_GET,
	ST_REF_INSERT,
	ST_REF_UPDATE,
	ST_REF_DELETE,
	ST_REF_TRACT,
	ST_REF_ALL,
	ST_ANN_PUT,
	ST_ANN_LIST,
	ST_ANN_TRACT,
	ST_ANN_ALL,
	ST_ANN_DELETE_TARGET,
	ST_COMP_PUT,
	ST_COMP_SOURCE_PUT,
	ST_COMP_RESULT_PUT,
	ST_COMP_GET,
	ST_COMP_TRACT,
	ST_COMP_ALL,
	ST_COMP_SOURCES,
	ST_COMP_RESULTS,
	ST_COMP_DELETE,
	ST_COMP_SOURCES_DELETE,
	ST_COMP_RESULTS_DELETE,
	ST_SPAWN_PUT,
	ST_SPAWN_PARENT,
	ST_SPAWN_ALL,
	ST_SPAWN_CHILD,
	ST_SPAWN_DELETE,
	ST_META_GET,
	ST_META_SET,
	ST_META_DELETE,
	ST_META_RANGE,
	ST_TRACTS,
	ST_CHAIN_SIDES,
	ST_CHAIN_ROWID,
	ST_CHAIN_BLOBS,
	ST_CHAIN_ANNOTATIONS,
	ST_CHAIN_PARENTS,
	ST_ANCESTRY,
	ST_COUNT
};


struct tract_backend_conn {
	sqlite3 *db;
	sqlite3_stmt *stmts[ST_COUNT];
	sqlite3_stmt *chain[N_CHAIN_VARIANTS];
	sqlite3_stmt *scan[2][N_CHAIN_VARIANTS];
	/* Set when this connection's open created the file (for destroy):
	 * its path, identity and which side files already existed. */
	char *created;
	dev_t created_dev;
	ino_t created_ino;
	bool side_existed[N_SIDE_FILES];
	bool delete_indexes; /* ensure_delete_indexes() ran on this connection */
	bool time_index;     /* ensure_time_index() ran on this connection */
	bool search_index;   /* the search index's tables exist (sqlite_search.c) */
	sqlite3_stmt *search[N_SEARCH_STMTS];
	char err[ERRLEN];
};

/* A statement in use: the cached one, or a transient copy when the cached
 * one is already running (a callback re-entering the same operation). */
struct query {
	sqlite3_stmt *st;
	bool transient;
};


/* The callback given to an iteration, with one typed slot per row kind. */
struct sink {
	union {
		tract_blob_cb blob;
		tract_commit_cb commit;
		tract_ref_cb ref;
		tract_annotation_cb annotation;
		tract_parent_cb parent;
		tract_compression_cb compression;
		tract_member_cb member;
		tract_spawn_cb spawn;
		tract_meta_cb meta;
		tract_tract_cb tract;
	} fn;
	void *payload;
};

/* Decodes the current row and calls the sink; returns the callback's value. */
typedef int (*row_emit_fn)(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk);

/* Argument checks (backends/common/uri.h). */
#define CHECK_CONN(conn) BC_CHECK_CONN(conn)
#define CHECK_ARG(conn, cond) BC_CHECK_ARG(fail, "sqlite", conn, cond)

/* ---- sqlite_stmt.c: errors, statements, binding and columns -------------- */

/* Record a failure as the connection's last error; returns code. */
__attribute__((format(printf, 3, 4))) int fail(tract_backend_conn *conn, int code,
					       const char *fmt, ...);
/* The TRACT_E* code of an engine result code. */
int code_of_sqlite(int rc);
/* Record the engine's failure rc as the connection's last error. */
int fail_db(tract_backend_conn *conn, int rc);

/* Prepare a statement kept for the connection's lifetime. */
int prepare(tract_backend_conn *conn, const char *sql, sqlite3_stmt **out);
/* Hand out the statement cached in *slot (prepared from sql on first use),
 * or a transient copy when it is running already. */
int use_cached(tract_backend_conn *conn, sqlite3_stmt **slot, const char *sql,
	       struct query *q);
int query_start(tract_backend_conn *conn, enum stmt_id id, struct query *q);
/* Give a statement back: reset and unbind a cached one, free a transient one. */
void query_done(struct query *q);

/* Bind helpers; a NULL string binds SQL NULL. They return SQLite codes. */
int bind_text(sqlite3_stmt *st, int i, const char *s);
int bind_json(sqlite3_stmt *st, int i, const char *s);
int bind_time(sqlite3_stmt *st, int i, tract_time t);
int bind_prefix_range(sqlite3_stmt *st, int lo, const char *prefix, char *buf, size_t len);

const char *col_text(sqlite3_stmt *st, int i);
const char *col_json(sqlite3_stmt *st, int i);
int col_time(tract_backend_conn *conn, sqlite3_stmt *st, int i, tract_time *out);

/* Run a bound statement (bind_rc: the bind's result) and give it back. */
int run_each(tract_backend_conn *conn, struct query *q, int bind_rc, row_emit_fn emit,
	     const struct sink *sk, size_t *n_rows);
int run_one(tract_backend_conn *conn, struct query *q, int bind_rc, row_emit_fn emit,
	    const struct sink *sk, const char *what, const char *key);
int run_write(tract_backend_conn *conn, struct query *q, int bind_rc, int *changes);

/* Row decoders: the columns of COMMIT_COLS etc. in order. */
int read_commit(tract_backend_conn *conn, sqlite3_stmt *st, tract_commit_row *r);
int emit_blob(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk);
int emit_commit(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk);
int emit_ref(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk);
int emit_annotation(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk);
int emit_parent(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk);
int emit_compression(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk);
int emit_member(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk);
int emit_spawn(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk);
int emit_meta(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk);
int emit_tract(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk);

/* ---- sqlite_schema.c ----------------------------------------------------- */

/* The connection's pragmas (none of them writes to the file). */
int apply_pragmas(tract_backend_conn *conn);
/* How long a connection waits for another one's lock (also the retry
 * budget of a schema creation racing others). */
#define BUSY_TIMEOUT_MS 5000

/* Check the schema version, then create (when create is true) or migrate
 * the schema; a store of the current version is only read. */
int migrate(tract_backend_conn *conn, const char *location, bool create);

/* ---- sqlite_chain.c ------------------------------------------------------ */

int sqlite_commit_chain(tract_backend_conn *conn, const char *tract_id, const char *head,
			size_t limit, unsigned flags, tract_time annotation_cutoff,
			tract_chain_cb cb, void *payload);
int sqlite_commit_ancestry(tract_backend_conn *conn, const char *tract_id,
			   const char *const *starts, size_t n_starts, size_t limit,
			   tract_ancestry_cb cb, void *payload);

/* ---- sqlite_ops.c -------------------------------------------------------- */

int sqlite_blob_put(tract_backend_conn *conn, const tract_blob_row *row, int *inserted);
int sqlite_blob_get(tract_backend_conn *conn, const char *content_hash, tract_blob_cb cb,
		    void *payload);
int sqlite_blob_foreach(tract_backend_conn *conn, tract_blob_cb cb, void *payload);
int sqlite_blob_delete(tract_backend_conn *conn, const char *content_hash);
int sqlite_commit_put(tract_backend_conn *conn, const tract_commit_row *row);
int sqlite_commit_get(tract_backend_conn *conn, const char *tract_id,
		      const char *commit_hash, tract_commit_cb cb, void *payload);
int sqlite_commit_prefix(tract_backend_conn *conn, const char *tract_id,
			 const char *prefix, size_t max, tract_commit_cb cb, void *payload);
int sqlite_commit_foreach(tract_backend_conn *conn, const char *tract_id,
			  tract_commit_cb cb, void *payload);
int sqlite_commit_foreach_with_config(tract_backend_conn *conn, const char *tract_id,
				      tract_commit_cb cb, void *payload);
int sqlite_commit_delete(tract_backend_conn *conn, const char *commit_hash);
int sqlite_commits_delete(tract_backend_conn *conn, const char *const *hashes, size_t n,
			  size_t *deleted);
int sqlite_blobs_delete_unused(tract_backend_conn *conn, const char *const *hashes, size_t n,
			       size_t *deleted);
int sqlite_parent_put(tract_backend_conn *conn, const char *commit_hash,
		      const char *parent_hash, int64_t position);
int sqlite_parent_list(tract_backend_conn *conn, const char *commit_hash,
		       tract_parent_cb cb, void *payload);
int sqlite_parent_foreach(tract_backend_conn *conn, tract_parent_cb cb, void *payload);
int sqlite_ref_get(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		   tract_ref_cb cb, void *payload);
int sqlite_ref_cas(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		   const char *commit_hash, const char *symbolic_target,
		   const tract_ref_row *expected);
int sqlite_ref_delete(tract_backend_conn *conn, const char *tract_id,
		      const char *ref_name, const tract_ref_row *expected);
int sqlite_ref_foreach(tract_backend_conn *conn, const char *tract_id,
		       const char *prefix, tract_ref_cb cb, void *payload);
int sqlite_annotation_put(tract_backend_conn *conn, const tract_annotation_row *row,
			  int64_t *out_id);
int sqlite_annotation_list(tract_backend_conn *conn, const char *target_hash,
			   tract_annotation_cb cb, void *payload);
int sqlite_annotation_foreach(tract_backend_conn *conn, const char *tract_id,
			      tract_annotation_cb cb, void *payload);
int sqlite_annotation_delete_target(tract_backend_conn *conn, const char *target_hash);
int sqlite_compression_put(tract_backend_conn *conn, const tract_compression_row *row);
int sqlite_compression_member_put(tract_backend_conn *conn, tract_compression_side side,
				  const char *compression_id, const char *commit_hash,
				  int64_t position);
int sqlite_compression_get(tract_backend_conn *conn, const char *compression_id,
			   tract_compression_cb cb, void *payload);
int sqlite_compression_foreach(tract_backend_conn *conn, const char *tract_id,
			       tract_compression_cb cb, void *payload);
int sqlite_compression_members(tract_backend_conn *conn, tract_compression_side side,
			       const char *compression_id, tract_member_cb cb,
			       void *payload);
int sqlite_compression_delete(tract_backend_conn *conn, const char *compression_id);
int sqlite_spawn_put(tract_backend_conn *conn, const tract_spawn_row *row,
		     int64_t *out_id);
int sqlite_spawn_foreach(tract_backend_conn *conn, const char *parent_tract_id,
			 tract_spawn_cb cb, void *payload);
int sqlite_spawn_by_child(tract_backend_conn *conn, const char *child_tract_id,
			  tract_spawn_cb cb, void *payload);
int sqlite_spawn_delete(tract_backend_conn *conn, int64_t id);
int sqlite_meta_get(tract_backend_conn *conn, const char *key, tract_meta_cb cb,
		    void *payload);
int sqlite_meta_set(tract_backend_conn *conn, const char *key, const char *value);
int sqlite_meta_delete(tract_backend_conn *conn, const char *key);
int sqlite_meta_foreach(tract_backend_conn *conn, const char *prefix, tract_meta_cb cb,
			void *payload);
int sqlite_tract_foreach(tract_backend_conn *conn, tract_tract_cb cb, void *payload);

/* ---- sqlite_search.c: the message-text search index (ABI version 5) ------ */

int sqlite_search_index_open(tract_backend_conn *conn, int create);
int sqlite_search_pending(tract_backend_conn *conn, tract_search_pending_cb cb, void *payload);
int sqlite_search_index_put(tract_backend_conn *conn, const char *content_hash,
			    const char *text);
int sqlite_search_query(tract_backend_conn *conn, const char *term, const char *tract_id,
			tract_search_cb cb, void *payload);
/* Take a deleted blob out of the index (blob_delete); 0 without an index. */
int sqlite_search_forget(tract_backend_conn *conn, const char *content_hash);
void sqlite_search_finalize(tract_backend_conn *conn);

#endif
