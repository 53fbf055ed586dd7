/*
 * postgres_search.c - the message-text search index (ABI version 5): a
 * table of each blob's message text (the core extracts it) with a GIN
 * trigram index (pg_trgm) answering ILIKE '%term%', and a queue of the
 * blobs the table lacks, filled by a trigger on blobs so that every
 * writer of the schema (an older tract, tract's Python library) queues
 * the blobs it inserts; a deleted blob leaves the table in the same
 * statement.
 *
 * Made by the first search that may write the store (search_index_open
 * with create), never by a read-only role or a plain read. pg_trgm is
 * created when the server has it and the role may (it is a trusted
 * extension from PostgreSQL 13 on); without it the table is read whole
 * (still no blob is read nor parsed), and `tract search` is then slower
 * but the same.
 */
#include <stdlib.h>
#include <string.h>

#include "postgres_internal.h"

static const char *const search_ddl[] = {
	"CREATE TABLE IF NOT EXISTS tract_search_queue (\n"
	"\tcontent_hash text COLLATE \"C\" PRIMARY KEY)",
	"CREATE TABLE IF NOT EXISTS tract_search_text (\n"
	"\tcontent_hash text COLLATE \"C\" PRIMARY KEY,\n"
	"\ttext text NOT NULL)",
	/* SET search_path: the trigger finds the store's tables whatever
	 * the writer's own search_path. */
	"CREATE OR REPLACE FUNCTION tract_search_blob_change() RETURNS trigger\n"
	"LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$\n"
	"BEGIN\n"
	"\tIF TG_OP = 'DELETE' THEN\n"
	"\t\tDELETE FROM tract_search_text WHERE content_hash = OLD.content_hash;\n"
	"\t\tDELETE FROM tract_search_queue WHERE content_hash = OLD.content_hash;\n"
	"\tELSE\n"
	"\t\tINSERT INTO tract_search_queue (content_hash) VALUES (NEW.content_hash)\n"
	"\t\t\tON CONFLICT DO NOTHING;\n"
	"\tEND IF;\n"
	"\tRETURN NULL;\n"
	"END\n"
	"$fn$",
	"DROP TRIGGER IF EXISTS tract_search_blobs ON blobs",
	"CREATE TRIGGER tract_search_blobs AFTER INSERT OR DELETE ON blobs\n"
	"\tFOR EACH ROW EXECUTE FUNCTION tract_search_blob_change()",
	"INSERT INTO tract_search_queue (content_hash) SELECT content_hash FROM blobs\n"
	"\tON CONFLICT DO NOTHING",
};

/* Queued blobs from which a sync ends with ANALYZE. */
#define SEARCH_ANALYZE_ROWS 1000

#define QUERY_COLS "c.commit_hash, c.tract_id, c.content_hash, c.content_type, c.created_at"

static const char query_sql[] =
	"SELECT " QUERY_COLS ", t.text FROM tract_search_text t "
	"JOIN commits c ON c.content_hash = t.content_hash "
	"WHERE t.text ILIKE $1 AND ($2::text IS NULL OR c.tract_id = $2) "
	"UNION ALL "
	"SELECT " QUERY_COLS ", NULL FROM tract_search_queue q "
	"JOIN commits c ON c.content_hash = q.content_hash "
	"WHERE $2::text IS NULL OR c.tract_id = $2";

/* Run one unnamed statement; *res (may be NULL) gets its result. */
static int exec1(tract_backend_conn *conn, const char *sql, const char *types,
		 const struct params *p, bool write, PGresult **res, const char *what)
{
	struct op o = {.stmt = -1, .sql = sql, .types = types, .p = p, .write = write};
	int rc = round_trip(conn, &o, 1, what);

	if (rc < 0)
		return rc;
	if (res)
		*res = o.res;
	else
		PQclear(o.res);
	return 0;
}

/* 1 when the index's tables exist, 0 when not. */
static int index_exists(tract_backend_conn *conn)
{
	struct params p = {0};
	PGresult *res = NULL;
	int rc, found;

	if (conn->search_index)
		return 1; /* never dropped once made */
	p_text(&p, conn->schema);
	rc = exec1(conn,
		   "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = $1 "
		   "AND tablename IN ('tract_search_queue', 'tract_search_text')",
		   "t", &p, false, &res, "look for the search index");
	if (rc < 0)
		return rc;
	found = PQntuples(res) == 1 && col_int(res, 0, 0) == 2;
	PQclear(res);
	conn->search_index = found; /* forgotten by rollback() */
	return found;
}

/* The trigram index, when pg_trgm is there or may be created: in a
 * savepoint, so that a server or role without it leaves the index
 * without (the table alone still answers). */
static void trigram_index(tract_backend_conn *conn)
{
	static const char *const make[] = {
		"CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public",
		"CREATE EXTENSION IF NOT EXISTS pg_trgm",
	};
	PGresult *res = NULL;
	char *sql, *ns;
	size_t i, n;
	struct op o;

	for (i = 0; i < 2; i++) {
		o = (struct op){.stmt = -1, .sql = make[i], .write = true};
		if (run_guarded(conn, &o, 1, "create pg_trgm") == 0) {
			PQclear(o.res);
			break;
		}
	}
	if (exec1(conn,
		  "SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n "
		  "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'",
		  "", NULL, false, &res, "look for pg_trgm") < 0)
		return;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return;
	}
	ns = PQescapeIdentifier(conn->pg, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)));
	PQclear(res);
	if (!ns)
		return;
	n = strlen(ns) + 160;
	sql = malloc(n);
	if (sql) {
		snprintf(sql, n,
			 "CREATE INDEX IF NOT EXISTS ix_tract_search_trgm ON tract_search_text "
			 "USING gin (text %s.gin_trgm_ops)",
			 ns);
		o = (struct op){.stmt = -1, .sql = sql, .write = true};
		if (run_guarded(conn, &o, 1, "create the trigram index") == 0)
			PQclear(o.res);
		free(sql);
	}
	PQfreemem(ns);
}

int pg_search_index_open(tract_backend_conn *conn, int create)
{
	struct op ops[sizeof(search_ddl) / sizeof(search_ddl[0])];
	size_t i, n = sizeof(search_ddl) / sizeof(search_ddl[0]);
	int rc;

	CHECK_CONN(conn);
	rc = index_exists(conn);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return 0;
	if (!create)
		return fail(conn, TRACT_ENOTFOUND, "postgres: no search index in this store");
	if (conn->txn == TXN_NONE || conn->kind != TRACT_TXN_WRITE)
		return fail(conn, TRACT_EINVAL,
			    "postgres: search_index_open outside a write transaction");
	for (i = 0; i < n; i++)
		ops[i] = (struct op){.stmt = -1, .sql = search_ddl[i], .write = true};
	/* All or nothing; a role without the rights gets ENOTFOUND. */
	rc = run_guarded(conn, ops, (int)n, "create the search index");
	if (rc < 0) {
		char why[ERRLEN];

		memcpy(why, conn->err, sizeof(why));
		return fail(conn, TRACT_ENOTFOUND, "postgres: no search index in this store (%s)",
			    why);
	}
	for (i = 0; i < n; i++)
		PQclear(ops[i].res);
	trigram_index(conn);
	return 0;
}

int pg_search_pending(tract_backend_conn *conn, tract_search_pending_cb cb, void *payload)
{
	PGresult *res = NULL;
	int rc, i, n;

	CHECK_ARG(conn, cb);
	rc = index_exists(conn);
	if (rc <= 0)
		return rc;
	rc = exec1(conn,
		   "SELECT q.content_hash, b.payload_json FROM tract_search_queue q "
		   "LEFT JOIN blobs b ON b.content_hash = q.content_hash",
		   "", NULL, false, &res, "read the search queue");
	if (rc < 0)
		return rc;
	n = PQntuples(res);
	/* A large sync in this write transaction: the planner learns of the
	 * new rows when it ends (see pg_search_index_put). */
	conn->search_puts_left = conn->txn != TXN_NONE && conn->kind == TRACT_TXN_WRITE &&
					 n >= SEARCH_ANALYZE_ROWS
				     ? n
				     : 0;
	for (i = 0, rc = 0; i < n && rc == 0; i++)
		rc = cb(col_text(res, i, 0), col_text(res, i, 1), payload);
	PQclear(res);
	return rc < 0 ? rc : 0;
}

int pg_search_index_put(tract_backend_conn *conn, const char *content_hash, const char *text)
{
	struct params p = {0};
	struct op o;
	int rc;

	CHECK_ARG(conn, content_hash);
	p_text(&p, content_hash);
	if (text)
		p_text(&p, text);
	else
		p_null(&p);
	/* Held back like the other writes: a sync of many blobs is a few
	 * round trips. */
	rc = defer_write(conn, ST_SEARCH_PUT, &p, "search index", 0, NULL);
	if (rc < 0 || conn->search_puts_left <= 0 || --conn->search_puts_left > 0)
		return rc;
	/* The last put of a large sync: without fresh statistics the planner
	 * reads the whole text table rather than its trigram index, or hashes
	 * every commit for one hit (commits written in bulk just before), and
	 * autovacuum may come minutes later. */
	o = (struct op){.stmt = -1,
			.sql = "ANALYZE tract_search_text, tract_search_queue, commits",
			.write = true};
	rc = run_guarded(conn, &o, 1, "analyze the search index");
	if (rc == 0)
		PQclear(o.res);
	return rc;
}

int pg_search_query(tract_backend_conn *conn, const char *term, const char *tract_id,
		    tract_search_cb cb, void *payload)
{
	struct params p = {0};
	PGresult *res = NULL;
	tract_search_row r;
	size_t n = strlen(term), i, o = 0;
	char *pattern;
	int rc, k, rows;

	CHECK_ARG(conn, term && *term && cb);
	rc = index_exists(conn);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return fail(conn, TRACT_ENOTFOUND, "postgres: no search index in this store");
	pattern = malloc(2 * n + 3);
	if (!pattern)
		return oom(conn);
	pattern[o++] = '%';
	for (i = 0; i < n; i++) {
		if (term[i] == '\\' || term[i] == '%' || term[i] == '_')
			pattern[o++] = '\\';
		pattern[o++] = term[i];
	}
	pattern[o++] = '%';
	pattern[o] = '\0';
	p_text(&p, pattern);
	if (tract_id)
		p_text(&p, tract_id);
	else
		p_null(&p);
	rc = exec1(conn, query_sql, "tt", &p, false, &res, "search");
	free(pattern);
	if (rc < 0)
		return rc;
	rows = PQntuples(res);
	for (k = 0, rc = 0; k < rows && rc == 0; k++) {
		memset(&r, 0, sizeof(r));
		r.commit_hash = col_text(res, k, 0);
		r.tract_id = col_text(res, k, 1);
		r.content_hash = col_text(res, k, 2);
		r.content_type = col_text(res, k, 3);
		r.created_at = col_time(res, k, 4);
		r.text = col_text(res, k, 5);
		rc = cb(&r, payload);
	}
	PQclear(res);
	return rc < 0 ? rc : 0;
}
