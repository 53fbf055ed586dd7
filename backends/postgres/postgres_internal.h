/*
 * postgres_internal.h - what the files of the PostgreSQL backend share:
 * the connection, the statements' ids, parameters and round trips
 * (postgres_stmt.c), errors and connecting (postgres_conn.c), the schema
 * (postgres_schema.c), the chain walk (postgres_chain.c) and the
 * operations (postgres_ops.c) the table in postgres_backend.c points at.
 */
#ifndef TRACT_POSTGRES_INTERNAL_H
#define TRACT_POSTGRES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "tract/common.h"
#include "tract/sys/backend.h"
#include "uri.h"

#define SCHEMA_VERSION 4
/* The SQLSTATE of tract_ref_move() when the compare-and-swap is lost. */
#define STALE_STATE "TR001"
#define ERRLEN 512
/* Unix epoch - PostgreSQL epoch (2000-01-01), in microseconds. */
#define PG_EPOCH_USEC INT64_C(946684800000000)
/* Deferred writes held at most before they are sent anyway (a run of
 * appends among them travels as one statement: ST_APPEND_RUN). */
#define MAX_DEFERRED 1536
/* ...and their parameters' bytes at most (large blobs go sooner). */
#define MAX_DEFERRED_BYTES (16u << 20)
/* commit_foreach: rows of its first page, and of the largest (each page
 * is four times the one before). */
#define FOREACH_FIRST_PAGE 64
#define FOREACH_MAX_PAGE 16384
/* Rows of the chain walk's recursive CTE before the tract scan takes over. */
#define CHAIN_PROBE_ROWS 64
/* Reconnection: attempts, first pause and longest pause (ms). */
#define RECONNECT_TRIES 12
#define RECONNECT_FIRST_MS 25
#define RECONNECT_MAX_MS 1000

/* Type OIDs of the parameters (pg_type.h). */
#define OID_INT8 20
#define OID_TEXT 25
#define OID_TIMESTAMPTZ 1184
/* ...and of their arrays (ST_APPEND_RUN's columns). */
#define OID_TEXT_ARRAY 1009
#define OID_INT8_ARRAY 1016
#define OID_TIMESTAMPTZ_ARRAY 1185

/* Revision of the PostgreSQL-specific objects (tract_ref_move() in ddl_sql), in
 * _trace_meta under this key: a store without it gets the DDL again. */
#define LAYOUT_KEY "postgres_layout"
/* 2: the refs trigger that NOTIFYs waiters; 3: ix_commits_time */
#define LAYOUT_VERSION "3"

/* The prepared statements (their SQL: stmts in postgres_stmt.c). */
enum stmt_id {
	ST_BEGIN_READ,
	ST_BEGIN_WRITE,
	ST_TXN_COMMIT,
	ST_TXN_ROLLBACK,
	ST_BLOB_PUT,
	ST_BLOB_GET,
	ST_BLOB_ALL,
	ST_BLOB_DELETE,
	ST_COMMIT_PUT,
	ST_COMMIT_GET,
	ST_COMMIT_PREFIX,
	ST_COMMIT_PREFIX_OPEN,
	ST_COMMIT_ALL,
	ST_COMMIT_TRACT,
	ST_COMMIT_CONFIG_ALL,
	ST_COMMIT_CONFIG_TRACT,
	ST_COMMIT_DELETE,
	ST_PARENT_PUT,
	ST_PARENT_LIST,
	ST_PARENT_ALL,
	ST_PARENT_DELETE_CHILD,
	ST_REF_GET,
	ST_REF_GET_LOCK,
	ST_REF_INSERT,
	ST_REF_MOVE,
	ST_APPEND,
	ST_REF_EXISTS,
	ST_REF_DELETE,
	ST_REF_TRACT,
	ST_REF_TRACT_OPEN,
	ST_REF_ALL,
	ST_REF_ALL_OPEN,
	ST_ANN_PUT,
	ST_ANN_PUT_DEFERRED,
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
	ST_META_RANGE_OPEN,
	ST_TRACTS,
	ST_ANCESTRY,
	ST_SEARCH_PUT, /* postgres_search.c */
	ST_APPEND_RUN,
	ST_COMP_SOURCE_PUT_DEFERRED,
	ST_COMP_RESULT_PUT_DEFERRED,
	/* A run of one held-back write as one statement, an element of its
	 * array parameters per write (see batch_of in postgres_stmt.c). */
	ST_BLOB_PUT_RUN,
	ST_COMMIT_PUT_RUN,
	ST_ANN_PUT_RUN,
	ST_ANN_DELETE_RUN,
	ST_COMP_SOURCE_RUN,
	ST_COMP_RESULT_RUN,
	ST_COMMITS_DELETE,
	ST_BLOBS_DELETE_UNUSED,
	ST_COMMIT_ALL_PAGE,
	ST_COMMIT_TRACT_PAGE,
	ST_COMMIT_GET_NEAR,
	ST_ANN_LIST_NEAR,
	ST_COUNT
};

/* The chain walk's recursive CTE, one prepared statement per set of flags. */
#define N_CHAIN_VARIANTS 8
#define N_PREPARED (ST_COUNT + N_CHAIN_VARIANTS)

#define MAXP 24

/* Parameters of one statement: text ones point at the caller's strings,
 * integers are kept here in network order. */
struct params {
	int n;
	const char *v[MAXP];
	int len[MAXP];
	int fmt[MAXP];
	unsigned char num[MAXP][8];
};

/*
 * A write held back until the next round trip. Its failure is an error the
 * server raises, so a COMMIT sent after it does not run; it is reported by
 * the call that sent it, worded from what the write was.
 */
struct deferred {
	int stmt;
	struct params p;   /* text values point into mem */
	char *mem;
	char *context;     /* what it was, for a violated key (NULL: the server's words) */
	int unique_code;   /* a unique violation: this code and message */
	char *unique_msg;
};

/* Refs read in the current transaction (the symbolic target comes with
 * its ref). Valid until the transaction ends; our own writes update it. */
#define REF_CACHE 8
struct ref_entry {
	char *tract_id, *name, *commit, *symbolic;
	bool exists;
};

/* Commit rows a write transaction read, kept until it ends (each a row of
 * a kept result): commit_get answers from them without a round trip. */
struct cc_slot {
	const char *hash; /* NULL: free */
	uint32_t res;
	int row;
	int n;     /* the annotation cache: rows from row on (0: none) */
	bool gone; /* the annotation cache: written since, ask the server */
};
struct commit_cache {
	PGresult **res;
	size_t n_res, cap_res;
	struct cc_slot *slots;
	size_t size, used; /* size: a power of two, or 0 */
	unsigned misses;   /* commit_get misses in this transaction */
};
/* Commits a miss reads at most: the commit and those after it in its
 * tract (whole rows for commit_get; for annotation_list a hash each,
 * with the few annotations). */
#define CC_MAX_PREFETCH 256
#define AC_MAX_PREFETCH 4096
#define CC_MAX_ROWS 65536

enum txn_state {
	TXN_NONE,   /* no transaction */
	TXN_QUEUED, /* begin() called, BEGIN not sent yet */
	TXN_OPEN,   /* BEGIN sent */
};

struct tract_backend_conn {
	PGconn *pg;
	char *schema;       /* the store's schema */
	char *schema_ident; /* ...quoted for SQL */
	bool prepared[N_PREPARED];
	char *chain_sql[N_CHAIN_VARIANTS];
	enum txn_state txn;
	tract_txn_kind kind;
	bool txn_failed; /* the server aborted the open transaction */
	bool poisoned;   /* the connection is in an unknown state: start a new one */
	bool opening;    /* in open(): messages name the step that failed */
	struct deferred *queue;
	size_t n_queue, cap_queue;
	size_t queue_bytes; /* the held-back writes' parameters */
	struct ref_entry refs[REF_CACHE];
	size_t n_refs;
	struct commit_cache cc;
	struct commit_cache ac; /* annotation_list's, the same way */
	char *secrets[6]; /* never shown in error text */
	/* The oid (text) of the schema this connection's open() created, for
	 * destroy(); "" when open() created none. */
	char created_oid[24];
	bool listening; /* ref_watch(): LISTEN sent on this connection */
	bool search_index; /* the search index's tables exist (postgres_search.c) */
	long search_puts_left; /* puts until a large sync is done (then ANALYZE) */
	char err[ERRLEN];
};

/* One statement of a round trip. */
struct op {
	int stmt;                 /* a prepared statement, or -1: sql */
	const char *sql;          /* unnamed statement (stmt < 0) */
	const char *types;        /* its parameter types */
	const struct params *p;   /* NULL: no parameters */
	bool write;               /* may change data */
	PGresult *res;            /* its result, after the round trip */
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

typedef int (*row_emit_fn)(const PGresult *r, int row, const struct sink *sk);

/* Argument checks (backends/common/uri.h). */
#define CHECK_CONN(conn) BC_CHECK_CONN(conn)
#define CHECK_ARG(conn, cond) BC_CHECK_ARG(fail, "postgres", conn, cond)

/* ---- postgres_conn.c: errors, the URI, connecting ----------------------- */

/* Record a failure as the connection's last error (one line, secrets
 * scrubbed); returns code. */
__attribute__((format(printf, 3, 4))) int fail(tract_backend_conn *conn, int code,
					       const char *fmt, ...);
bool connection_lost(const tract_backend_conn *conn);
int fail_res(tract_backend_conn *conn, const PGresult *res, const char *what);
int oom(tract_backend_conn *conn);
bool has_prefix(const char *s, const char *p);
int add_secret(tract_backend_conn *conn, const char *s, size_t n);
int note_secrets(tract_backend_conn *conn, const char *uri);
int split_location(tract_backend_conn *conn, const char *location, char **uri);
void redact_quoted(char *msg, size_t len);
int setup_exec(tract_backend_conn *conn, const char *sql, int n, const char *const *values,
	       PGresult **out, const char *what);
int session_setup(tract_backend_conn *conn);
int enter_pipeline(tract_backend_conn *conn);
int connect_db(tract_backend_conn *conn, const char *uri);
int reconnect(tract_backend_conn *conn);
/* The advisory lock open() and destroy() take on the schema (its xact lock). */
#define SCHEMA_LOCK_SQL "SELECT pg_catalog.pg_advisory_xact_lock(7236, pg_catalog.hashtext($1))"

/* ---- postgres_stmt.c: parameters, round trips, rows --------------------- */

void p_text(struct params *p, const char *s);
void p_int(struct params *p, int64_t x);
void p_time(struct params *p, tract_time t);
void p_null(struct params *p);
void p_cutoff(struct params *p, tract_time t);
const char *col_text(const PGresult *r, int row, int col);
const char *col_json(const PGresult *r, int row, int col);
int64_t col_int(const PGresult *r, int row, int col);
tract_time col_time(const PGresult *r, int row, int col);
bool col_bool(const PGresult *r, int row, int col);
long changed_rows(const PGresult *r);
unsigned char *text_array(const char *const *v, size_t n, size_t *len);
void queue_clear(tract_backend_conn *conn);
int round_trip(tract_backend_conn *conn, struct op *ops, int n, const char *what);
int run(tract_backend_conn *conn, int stmt, const struct params *p, bool write,
	PGresult **res, const char *what);
int run_write(tract_backend_conn *conn, int stmt, const struct params *p, long *changed,
	      const char *what);
int defer_write(tract_backend_conn *conn, int stmt, const struct params *p,
		const char *context, int unique_code, const char *unique_msg);
int run_guarded(tract_backend_conn *conn, struct op *ops, int n, const char *what);
int query_each(tract_backend_conn *conn, int stmt, const struct params *p,
	       row_emit_fn emit, const struct sink *sk, int *n_rows, const char *what);
int query_one(tract_backend_conn *conn, int stmt, const struct params *p,
	      row_emit_fn emit, const struct sink *sk, const char *what, const char *key);
void read_commit(const PGresult *r, int i, tract_commit_row *c);
int emit_blob(const PGresult *r, int i, const struct sink *sk);
int emit_commit(const PGresult *r, int i, const struct sink *sk);
int emit_ref(const PGresult *r, int i, const struct sink *sk);
int emit_annotation(const PGresult *r, int i, const struct sink *sk);
int emit_parent(const PGresult *r, int i, const struct sink *sk);
int emit_member(const PGresult *r, int i, const struct sink *sk);
int emit_compression(const PGresult *r, int i, const struct sink *sk);
int emit_spawn(const PGresult *r, int i, const struct sink *sk);
int emit_meta(const PGresult *r, int i, const struct sink *sk);
int emit_tract(const PGresult *r, int i, const struct sink *sk);

/* ---- postgres_schema.c -------------------------------------------------- */

int resolve_schema(tract_backend_conn *conn);
int ensure_store(tract_backend_conn *conn, unsigned flags);

/* ---- postgres_chain.c --------------------------------------------------- */

int pg_commit_chain(tract_backend_conn *conn, const char *tract_id, const char *head,
		    size_t limit, unsigned flags, tract_time annotation_cutoff,
		    tract_chain_cb cb, void *payload);
int pg_commit_ancestry(tract_backend_conn *conn, const char *tract_id,
		       const char *const *starts, size_t n_starts, size_t limit,
		       tract_ancestry_cb cb, void *payload);

/* ---- postgres_wait.c ---------------------------------------------------- */

int pg_ref_watch(tract_backend_conn *conn, const char *tract_id, int64_t timeout_ms);

/* ---- postgres_search.c: the message-text search index (ABI version 5) -- */

int pg_search_index_open(tract_backend_conn *conn, int create);
int pg_search_pending(tract_backend_conn *conn, tract_search_pending_cb cb, void *payload);
int pg_search_index_put(tract_backend_conn *conn, const char *content_hash, const char *text);
int pg_search_query(tract_backend_conn *conn, const char *term, const char *tract_id,
		    tract_search_cb cb, void *payload);

/* ---- postgres_ops.c ----------------------------------------------------- */

void ref_cache_clear(tract_backend_conn *conn);
void commit_cache_clear(tract_backend_conn *conn);
int pg_blob_put(tract_backend_conn *conn, const tract_blob_row *row, int *inserted);
int pg_blob_get(tract_backend_conn *conn, const char *content_hash, tract_blob_cb cb,
		void *payload);
int pg_blob_foreach(tract_backend_conn *conn, tract_blob_cb cb, void *payload);
int pg_blob_delete(tract_backend_conn *conn, const char *content_hash);
int pg_commits_delete(tract_backend_conn *conn, const char *const *hashes, size_t n,
		      size_t *deleted);
int pg_blobs_delete_unused(tract_backend_conn *conn, const char *const *hashes, size_t n,
			   size_t *deleted);
int pg_commit_put(tract_backend_conn *conn, const tract_commit_row *row);
int pg_commit_get(tract_backend_conn *conn, const char *tract_id, const char *commit_hash,
		  tract_commit_cb cb, void *payload);
int pg_commit_prefix(tract_backend_conn *conn, const char *tract_id, const char *prefix,
		     size_t max, tract_commit_cb cb, void *payload);
int pg_commit_foreach(tract_backend_conn *conn, const char *tract_id, tract_commit_cb cb,
		      void *payload);
int pg_commit_foreach_with_config(tract_backend_conn *conn, const char *tract_id,
				  tract_commit_cb cb, void *payload);
int pg_commit_delete(tract_backend_conn *conn, const char *commit_hash);
int pg_parent_put(tract_backend_conn *conn, const char *commit_hash,
		  const char *parent_hash, int64_t position);
int pg_parent_list(tract_backend_conn *conn, const char *commit_hash, tract_parent_cb cb,
		   void *payload);
int pg_parent_foreach(tract_backend_conn *conn, tract_parent_cb cb, void *payload);
int pg_ref_get(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
	       tract_ref_cb cb, void *payload);
int pg_ref_cas(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
	       const char *commit_hash, const char *symbolic_target,
	       const tract_ref_row *expected);
int pg_ref_delete(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		  const tract_ref_row *expected);
int pg_ref_foreach(tract_backend_conn *conn, const char *tract_id, const char *prefix,
		   tract_ref_cb cb, void *payload);
int pg_annotation_put(tract_backend_conn *conn, const tract_annotation_row *row,
		      int64_t *out_id);
int pg_annotation_list(tract_backend_conn *conn, const char *target_hash,
		       tract_annotation_cb cb, void *payload);
int pg_annotation_foreach(tract_backend_conn *conn, const char *tract_id,
			  tract_annotation_cb cb, void *payload);
int pg_annotation_delete_target(tract_backend_conn *conn, const char *target_hash);
int pg_compression_put(tract_backend_conn *conn, const tract_compression_row *row);
int pg_compression_member_put(tract_backend_conn *conn, tract_compression_side side,
			      const char *compression_id, const char *commit_hash,
			      int64_t position);
int pg_compression_get(tract_backend_conn *conn, const char *compression_id,
		       tract_compression_cb cb, void *payload);
int pg_compression_foreach(tract_backend_conn *conn, const char *tract_id,
			   tract_compression_cb cb, void *payload);
int pg_compression_members(tract_backend_conn *conn, tract_compression_side side,
			   const char *compression_id, tract_member_cb cb, void *payload);
int pg_compression_delete(tract_backend_conn *conn, const char *compression_id);
int pg_spawn_put(tract_backend_conn *conn, const tract_spawn_row *row, int64_t *out_id);
int pg_spawn_foreach(tract_backend_conn *conn, const char *parent_tract_id,
		     tract_spawn_cb cb, void *payload);
int pg_spawn_by_child(tract_backend_conn *conn, const char *child_tract_id,
		      tract_spawn_cb cb, void *payload);
int pg_spawn_delete(tract_backend_conn *conn, int64_t id);
int pg_meta_get(tract_backend_conn *conn, const char *key, tract_meta_cb cb,
		void *payload);
int pg_meta_set(tract_backend_conn *conn, const char *key, const char *value);
int pg_meta_delete(tract_backend_conn *conn, const char *key);
int pg_meta_foreach(tract_backend_conn *conn, const char *prefix, tract_meta_cb cb,
		    void *payload);
int pg_tract_foreach(tract_backend_conn *conn, tract_tract_cb cb, void *payload);

#endif
