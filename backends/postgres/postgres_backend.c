/*
 * postgres_backend.c - the PostgreSQL storage backend
 * (tract-backend-postgres.so): open, close, destroy, transactions and the
 * table; the other postgres_*.c files hold the rest (postgres_internal.h).
 *
 * Location: the whole URI, postgres://... or postgresql://..., given to
 * libpq as it is (sslmode, connect_timeout, options, application_name...
 * all pass through), except for our own query parameter schema=NAME, which
 * is taken out: the store lives in that schema (created with the store),
 * otherwise in the first existing schema of the connection's search_path
 * (so ?options=-csearch_path%3Dname works too). The session's search_path
 * is then pinned to that one schema. client_encoding is always UTF8.
 *
 * Schema: the tables of core.md §1 in PostgreSQL types: text COLLATE "C"
 * for hashes, ids and names (ordering and prefix ranges are bytewise, as
 * in SQLite), bigint counts, timestamptz times (exchanged in binary, int64
 * µs, so nothing depends on the session's DateStyle or TimeZone), JSON
 * columns as text (byte for byte as written; "none" is the text 'null').
 * commits.seq is an identity column, the insertion order: a parent is
 * always inserted before its children (foreign key), so seq strictly
 * decreases along a chain; the chain walk relies on that (cycle guard, scan
 * order). _trace_meta.schema_version is "4"; a newer or non-integer
 * version is refused before anything is touched. Creation and migration
 * run in one transaction under an advisory lock.
 *
 * Round trips: statements are prepared once per session and run in
 * libpq's pipeline mode. BEGIN travels with the first statement of a
 * transaction; writes that cannot fail on a stored condition (blob_put
 * without *inserted, meta_set) or whose failure can be told later
 * (commit_put, ref_cas, annotation_put without *out_id, compression
 * members in a write transaction) wait and travel with the next statement
 * that needs an answer, or with COMMIT (at most MAX_DEFERRED of them);
 * the server's error for one of them fails the call that sent it and
 * aborts the transaction, so nothing of it is written. Held-back writes
 * travel as few statements: an append's three writes as one, a run of
 * appends moving one ref as one (the rows as arrays, one compare-and-swap
 * from the run's first expected head to its last commit), a run of one
 * kind of write as one multi-row statement. Inside a write transaction
 * commit_get and annotation_list keep what they read and, after a few
 * misses, read ahead the commits inserted after the one asked for in its
 * tract (what a compaction or a replay asks for next); commit_foreach
 * reads pages in a transaction. gc deletes through commits_delete and
 * blobs_delete_unused (ABI version 5), a statement each.
 *
 * Concurrency: read transactions are REPEATABLE READ READ ONLY snapshots;
 * write transactions are READ COMMITTED and lock the refs they read
 * (SELECT ... FOR UPDATE), so writers of one branch queue instead of
 * racing; refs still move only by compare-and-swap (an UPDATE that matches
 * the expected value, or an INSERT that finds no row). Serialization
 * failures and deadlocks are TRACT_ESTALE, which the commit engine retries.
 *
 * Connection loss: a connection found dead when a transaction begins (or
 * by the first round trip of a transaction, which held no COMMIT) is
 * re-established, retrying for a few seconds; a loss inside a transaction
 * is an error (the server has rolled the transaction back); a loss during
 * COMMIT is an error that says the outcome is unknown. Error text never
 * contains the password or the connection string.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres_internal.h"

/* ---- lifecycle ---------------------------------------------------------- */

static void pg_close(tract_backend_conn *conn)
{
	size_t i;

	if (!conn)
		return;
	/* Closing the connection rolls an open transaction back. */
	PQfinish(conn->pg);
	queue_clear(conn);
	free(conn->queue);
	ref_cache_clear(conn);
	commit_cache_clear(conn);
	free(conn->cc.res);
	free(conn->cc.slots);
	free(conn->ac.res);
	free(conn->ac.slots);
	for (i = 0; i < N_CHAIN_VARIANTS; i++)
		free(conn->chain_sql[i]);
	for (i = 0; i < sizeof(conn->secrets) / sizeof(conn->secrets[0]); i++)
		free(conn->secrets[i]);
	free(conn->schema);
	PQfreemem(conn->schema_ident);
	free(conn);
}

static int pg_open(tract_backend_conn **out, const char *location, unsigned flags, char *errbuf,
		   size_t errlen)
{
	tract_backend_conn *conn = NULL;
	PQconninfoOption *opts;
	char *uri = NULL, *perr = NULL;
	int rc;

	if (out)
		*out = NULL;
	if (!out || !location || !*location) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "postgres: no connection URI given");
		return TRACT_EINVAL;
	}
	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "postgres: out of memory");
		return TRACT_ENOMEM;
	}
	conn->opening = true;
	rc = note_secrets(conn, location);
	if (rc < 0) {
		rc = oom(conn);
		goto done;
	}
	if (!has_prefix(location, "postgres://") && !has_prefix(location, "postgresql://")) {
		rc = fail(conn, TRACT_EINVAL,
			  "postgres: the location must be a postgres:// or postgresql:// URI");
		goto done;
	}
	rc = split_location(conn, location, &uri);
	if (rc < 0)
		goto done;
	rc = add_secret(conn, uri, strlen(uri));
	if (rc < 0) {
		rc = oom(conn);
		goto done;
	}
	/* Parse first: a URI libpq cannot read gives a message without the
	 * parts it quotes, and the password it holds is known from here on. */
	opts = PQconninfoParse(uri, &perr);
	if (!opts) {
		char msg[ERRLEN];
		snprintf(msg, sizeof(msg), "%s", perr ? perr : "out of memory");
		PQfreemem(perr);
		redact_quoted(msg, sizeof(msg));
		rc = fail(conn, TRACT_EINVAL, "postgres: invalid connection URI: %s", msg);
		goto done;
	} else {
		PQconninfoOption *o;
		for (o = opts; o->keyword; o++)
			if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
				rc = add_secret(conn, o->val, strlen(o->val));
		PQconninfoFree(opts);
		if (rc < 0) {
			rc = oom(conn);
			goto done;
		}
	}
	rc = connect_db(conn, uri);
	if (rc == 0)
		rc = resolve_schema(conn);
	if (rc == 0)
		rc = session_setup(conn);
	if (rc == 0)
		rc = ensure_store(conn, flags);
	if (rc == 0)
		rc = enter_pipeline(conn);
done:
	free(uri);
	if (rc < 0) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s", conn->err);
		pg_close(conn);
		return rc;
	}
	conn->err[0] = '\0';
	conn->opening = false;
	*out = conn;
	return 0;
}

static const char *pg_last_error(tract_backend_conn *conn)
{
	return conn ? conn->err : "postgres: no connection";
}

/* ---- transactions ------------------------------------------------------- */

static int pg_begin(tract_backend_conn *conn, tract_txn_kind kind)
{
	int rc;

	CHECK_ARG(conn, kind == TRACT_TXN_READ || kind == TRACT_TXN_WRITE);
	if (conn->txn != TXN_NONE)
		return fail(conn, TRACT_EINVAL, "postgres: a transaction is already open");
	if (connection_lost(conn)) {
		rc = reconnect(conn);
		if (rc < 0)
			return rc;
	}
	ref_cache_clear(conn);
	commit_cache_clear(conn);
	conn->kind = kind;
	conn->txn = TXN_QUEUED;
	conn->txn_failed = false;
	return 0;
}

static void txn_reset(tract_backend_conn *conn)
{
	queue_clear(conn);
	ref_cache_clear(conn);
	commit_cache_clear(conn);
	conn->txn = TXN_NONE;
	conn->txn_failed = false;
}

static int pg_commit(tract_backend_conn *conn)
{
	struct op o = {.stmt = ST_TXN_COMMIT, .write = true};
	const char *status;
	int rc;

	CHECK_CONN(conn);
	if (conn->txn == TXN_NONE)
		return fail(conn, TRACT_EINVAL, "postgres: commit without a transaction");
	if (conn->txn == TXN_QUEUED && conn->n_queue == 0) {
		txn_reset(conn); /* nothing was sent: nothing to commit */
		return 0;
	}
	rc = round_trip(conn, &o, 1, "commit");
	if (rc < 0) {
		/* The transaction is over, or aborted and waiting for rollback(). */
		if (conn->txn != TXN_OPEN || connection_lost(conn))
			txn_reset(conn);
		else
			conn->txn_failed = true;
		return rc;
	}
	status = PQcmdStatus(o.res);
	if (!status || strcmp(status, "COMMIT") != 0)
		rc = fail(conn, TRACT_ESTORAGE,
			  "postgres: commit: the server rolled the transaction back");
	PQclear(o.res);
	txn_reset(conn);
	return rc;
}

static int pg_rollback(tract_backend_conn *conn)
{
	struct op o = {.stmt = ST_TXN_ROLLBACK};
	bool open;
	int rc;

	CHECK_CONN(conn);
	open = conn->txn == TXN_OPEN;
	queue_clear(conn);
	ref_cache_clear(conn);
	commit_cache_clear(conn);
	conn->txn_failed = false;
	conn->search_index = false; /* the transaction may have made it */
	if (!open || connection_lost(conn)) {
		/* Never sent, or the server rolled it back when the connection
		 * went. */
		txn_reset(conn);
		return 0;
	}
	rc = round_trip(conn, &o, 1, "rollback");
	PQclear(o.res);
	txn_reset(conn);
	if (rc < 0 && connection_lost(conn))
		return 0;
	return rc;
}

/* ---- removal ------------------------------------------------------------ */

/*
 * Close, after dropping the schema this connection's open() created, if
 * it is still that schema (the same oid). Under the lock open() takes, so
 * an open() of the same schema meanwhile waits, then creates it anew.
 */
static int pg_destroy(tract_backend_conn *conn)
{
	const char *v[2];
	PGresult *res = NULL;
	char *sql = NULL;
	size_t n;
	int rc = 0;

	if (!conn)
		return 0;
	if (!conn->created_oid[0])
		goto done;
	if (conn->txn != TXN_NONE)
		pg_rollback(conn);
	if (connection_lost(conn)) {
		rc = reconnect(conn);
		if (rc < 0)
			goto done;
	}
	/* Setup statements, like open()'s, run outside pipeline mode. */
	if (PQpipelineStatus(conn->pg) != PQ_PIPELINE_OFF && PQexitPipelineMode(conn->pg) != 1) {
		rc = fail(conn, TRACT_ESTORAGE, "postgres: cannot leave pipeline mode");
		goto done;
	}
	n = strlen(conn->schema_ident) + 32;
	sql = malloc(n);
	if (!sql) {
		rc = oom(conn);
		goto done;
	}
	snprintf(sql, n, "DROP SCHEMA %s CASCADE", conn->schema_ident);
	v[0] = conn->schema;
	v[1] = conn->created_oid;
	rc = setup_exec(conn, "BEGIN", 0, NULL, NULL, "remove the store");
	if (rc == 0)
		rc = setup_exec(conn, SCHEMA_LOCK_SQL, 1, v, NULL, "lock the schema");
	if (rc == 0)
		rc = setup_exec(conn,
				"SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1 "
				"AND oid::text = $2",
				2, v, &res, "remove the store");
	if (rc == 0 && PQntuples(res) == 1)
		rc = setup_exec(conn, sql, 0, NULL, NULL, "remove the store");
	if (rc == 0)
		rc = setup_exec(conn, "COMMIT", 0, NULL, NULL, "remove the store");
	if (rc < 0 && PQtransactionStatus(conn->pg) != PQTRANS_IDLE)
		PQclear(PQexec(conn->pg, "ROLLBACK"));
done:
	PQclear(res);
	free(sql);
	pg_close(conn);
	return rc;
}

/* ---- entry -------------------------------------------------------------- */

static const char *const postgres_schemes[] = {"postgres", "postgresql", NULL};
static const char *const postgres_private_keys[] = {"schema_version", LAYOUT_KEY, NULL};

static const tract_backend postgres_backend = {
	.version = TRACT_BACKEND_VERSION,
	.name = "postgres",
	.schemes = postgres_schemes,
	.private_meta_keys = postgres_private_keys,
	.description = "PostgreSQL through libpq (tract schema version 4), for many writers on "
		       "many hosts",
	.open = pg_open,
	.close = pg_close,
	.destroy = pg_destroy,
	.last_error = pg_last_error,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.blob_put = pg_blob_put,
	.blob_get = pg_blob_get,
	.blob_foreach = pg_blob_foreach,
	.commit_put = pg_commit_put,
	.commit_get = pg_commit_get,
	.commit_prefix = pg_commit_prefix,
	.commit_chain = pg_commit_chain,
	.commit_foreach = pg_commit_foreach,
	.commit_foreach_with_config = pg_commit_foreach_with_config,
	.parent_put = pg_parent_put,
	.parent_list = pg_parent_list,
	.parent_foreach = pg_parent_foreach,
	.ref_get = pg_ref_get,
	.ref_cas = pg_ref_cas,
	.ref_delete = pg_ref_delete,
	.ref_foreach = pg_ref_foreach,
	.annotation_put = pg_annotation_put,
	.annotation_list = pg_annotation_list,
	.annotation_foreach = pg_annotation_foreach,
	.compression_put = pg_compression_put,
	.compression_member_put = pg_compression_member_put,
	.compression_get = pg_compression_get,
	.compression_foreach = pg_compression_foreach,
	.compression_members = pg_compression_members,
	.spawn_put = pg_spawn_put,
	.spawn_foreach = pg_spawn_foreach,
	.spawn_by_child = pg_spawn_by_child,
	.meta_get = pg_meta_get,
	.meta_set = pg_meta_set,
	.meta_delete = pg_meta_delete,
	.meta_foreach = pg_meta_foreach,
	.tract_foreach = pg_tract_foreach,
	.commit_delete = pg_commit_delete,
	.blob_delete = pg_blob_delete,
	.annotation_delete_target = pg_annotation_delete_target,
	.compression_delete = pg_compression_delete,
	.spawn_delete = pg_spawn_delete,
	.commit_ancestry = pg_commit_ancestry,
	.ref_watch = pg_ref_watch,
	.search_index_open = pg_search_index_open,
	.search_pending = pg_search_pending,
	.search_index_put = pg_search_index_put,
	.search_query = pg_search_query,
	.commits_delete = pg_commits_delete,
	.blobs_delete_unused = pg_blobs_delete_unused,
};

__attribute__((visibility("default"))) const tract_backend *tract_backend_entry(void);

const tract_backend *tract_backend_entry(void)
{
	return &postgres_backend;
}
