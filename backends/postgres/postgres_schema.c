/*
 * postgres_schema.c - the PostgreSQL backend's schema: the layout (tables
 * of core.md §1 in PostgreSQL types, and tract_ref_move()), which schema
 * the store lives in, the version check that refuses a newer or
 * unreadable store untouched, and creation / migration under a lock.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres_internal.h"
#include "text.h"

/* ---- schema ------------------------------------------------------------- */

/*
 * The whole layout. Every statement is idempotent; the migration runs it
 * under an advisory lock, then steps schema_version up to 4.
 */
static const char ddl_sql[] =
	"CREATE TABLE IF NOT EXISTS blobs (\n"
	"\tcontent_hash text COLLATE \"C\" NOT NULL PRIMARY KEY,\n"
	"\tpayload_json text NOT NULL,\n"
	"\tbyte_size bigint NOT NULL,\n"
	"\ttoken_count bigint NOT NULL,\n"
	"\tcreated_at timestamptz NOT NULL\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS _trace_meta (\n"
	"\t\"key\" text COLLATE \"C\" NOT NULL PRIMARY KEY,\n"
	"\tvalue text NOT NULL\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS commits (\n"
	"\tcommit_hash text COLLATE \"C\" NOT NULL PRIMARY KEY,\n"
	"\ttract_id text COLLATE \"C\" NOT NULL,\n"
	"\tparent_hash text COLLATE \"C\" REFERENCES commits (commit_hash) ON DELETE SET NULL,\n"
	"\tcontent_hash text COLLATE \"C\" NOT NULL REFERENCES blobs (content_hash),\n"
	"\tcontent_type text COLLATE \"C\" NOT NULL,\n"
	"\toperation text COLLATE \"C\" NOT NULL,\n"
	"\tresponse_to text COLLATE \"C\" REFERENCES commits (commit_hash) ON DELETE SET NULL,\n"
	"\tmessage text,\n"
	"\ttoken_count bigint NOT NULL,\n"
	"\tmetadata_json text,\n"
	"\tgeneration_config_json text,\n"
	"\tcreated_at timestamptz NOT NULL,\n"
	"\tseq bigint GENERATED ALWAYS AS IDENTITY\n"
	");\n"
	"CREATE INDEX IF NOT EXISTS ix_commits_tract_seq ON commits (tract_id, seq);\n"
	"CREATE INDEX IF NOT EXISTS ix_commits_tract_time ON commits (tract_id, created_at, "
	"commit_hash);\n"
	"CREATE INDEX IF NOT EXISTS ix_commits_parent ON commits (parent_hash);\n"
	"CREATE INDEX IF NOT EXISTS ix_commits_response_to ON commits (response_to) "
	"WHERE response_to IS NOT NULL;\n"
	"CREATE TABLE IF NOT EXISTS refs (\n"
	"\ttract_id text COLLATE \"C\" NOT NULL,\n"
	"\tref_name text COLLATE \"C\" NOT NULL,\n"
	"\tcommit_hash text COLLATE \"C\" REFERENCES commits (commit_hash),\n"
	"\tsymbolic_target text COLLATE \"C\",\n"
	"\tPRIMARY KEY (tract_id, ref_name)\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS annotations (\n"
	"\tid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
	"\ttract_id text COLLATE \"C\" NOT NULL,\n"
	"\ttarget_hash text COLLATE \"C\" NOT NULL REFERENCES commits (commit_hash),\n"
	"\tpriority text COLLATE \"C\" NOT NULL,\n"
	"\treason text,\n"
	"\tcreated_at timestamptz NOT NULL\n"
	");\n"
	"CREATE INDEX IF NOT EXISTS ix_annotations_target_time ON annotations "
	"(target_hash, created_at, id);\n"
	"CREATE INDEX IF NOT EXISTS ix_annotations_tract_id ON annotations (tract_id, id);\n"
	"CREATE TABLE IF NOT EXISTS commit_parents (\n"
	"\tcommit_hash text COLLATE \"C\" NOT NULL REFERENCES commits (commit_hash),\n"
	"\tparent_hash text COLLATE \"C\" NOT NULL REFERENCES commits (commit_hash),\n"
	"\tposition bigint NOT NULL,\n"
	"\tPRIMARY KEY (commit_hash, parent_hash)\n"
	");\n"
	"CREATE INDEX IF NOT EXISTS ix_commit_parents_parent ON commit_parents (parent_hash);\n"
	"CREATE TABLE IF NOT EXISTS compressions (\n"
	"\tcompression_id text COLLATE \"C\" NOT NULL PRIMARY KEY,\n"
	"\ttract_id text COLLATE \"C\" NOT NULL,\n"
	"\tbranch_name text COLLATE \"C\",\n"
	"\tcreated_at timestamptz NOT NULL,\n"
	"\toriginal_tokens bigint NOT NULL,\n"
	"\tcompressed_tokens bigint NOT NULL,\n"
	"\ttarget_tokens bigint,\n"
	"\tinstructions text\n"
	");\n"
	"CREATE INDEX IF NOT EXISTS ix_compressions_tract_id ON compressions (tract_id);\n"
	"CREATE TABLE IF NOT EXISTS compression_sources (\n"
	"\tcompression_id text COLLATE \"C\" NOT NULL REFERENCES compressions (compression_id),\n"
	"\tcommit_hash text COLLATE \"C\" NOT NULL REFERENCES commits (commit_hash),\n"
	"\tposition bigint NOT NULL,\n"
	"\tPRIMARY KEY (compression_id, commit_hash)\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS compression_results (\n"
	"\tcompression_id text COLLATE \"C\" NOT NULL REFERENCES compressions (compression_id),\n"
	"\tcommit_hash text COLLATE \"C\" NOT NULL REFERENCES commits (commit_hash),\n"
	"\tposition bigint NOT NULL,\n"
	"\tPRIMARY KEY (compression_id, commit_hash)\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS spawn_pointers (\n"
	"\tid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
	"\tparent_tract_id text COLLATE \"C\" NOT NULL,\n"
	"\tparent_commit_hash text COLLATE \"C\" REFERENCES commits (commit_hash) "
	"ON DELETE SET NULL,\n"
	"\tchild_tract_id text COLLATE \"C\" NOT NULL,\n"
	"\tpurpose text NOT NULL,\n"
	"\tinheritance_mode text COLLATE \"C\" NOT NULL,\n"
	"\tdisplay_name text,\n"
	"\tcreated_at timestamptz NOT NULL\n"
	");\n"
	"CREATE INDEX IF NOT EXISTS ix_spawn_child_tract ON spawn_pointers (child_tract_id, id);\n"
	"CREATE INDEX IF NOT EXISTS ix_spawn_parent_tract ON spawn_pointers (parent_tract_id, id);\n"
	/* What deleting a commit or a blob (gc) looks up: the foreign keys
	 * that name them, so a delete does not scan a table. */
	"CREATE INDEX IF NOT EXISTS ix_commits_content ON commits (content_hash);\n"
	"CREATE INDEX IF NOT EXISTS ix_refs_commit ON refs (commit_hash) "
	"WHERE commit_hash IS NOT NULL;\n"
	"CREATE INDEX IF NOT EXISTS ix_compression_sources_commit ON compression_sources "
	"(commit_hash);\n"
	"CREATE INDEX IF NOT EXISTS ix_compression_results_commit ON compression_results "
	"(commit_hash);\n"
	"CREATE INDEX IF NOT EXISTS ix_spawn_parent_commit ON spawn_pointers (parent_commit_hash) "
	"WHERE parent_commit_hash IS NOT NULL;\n"
	/* The store-wide timeline (commit_foreach with no tract) reads commits
	 * in this order, a page at a time. */
	"CREATE INDEX IF NOT EXISTS ix_commits_time ON commits (created_at, commit_hash);\n"
	/* The compare-and-swap of an existing ref, as one statement that
	 * fails when the ref no longer holds the expected value: sent with
	 * other statements and COMMIT, its failure keeps COMMIT from running. */
	"CREATE OR REPLACE FUNCTION tract_ref_move(p_tract text, p_name text, p_commit text,\n"
	"\tp_symbolic text, p_exp_commit text, p_exp_symbolic text) RETURNS void\n"
	"LANGUAGE plpgsql AS $fn$\n"
	"BEGIN\n"
	"\tUPDATE refs SET commit_hash = p_commit, symbolic_target = p_symbolic\n"
	"\tWHERE tract_id = p_tract AND ref_name = p_name\n"
	"\t\tAND commit_hash IS NOT DISTINCT FROM p_exp_commit\n"
	"\t\tAND symbolic_target IS NOT DISTINCT FROM p_exp_symbolic;\n"
	"\tIF NOT FOUND THEN\n"
	"\t\tRAISE EXCEPTION 'ref % of tract % moved (compare-and-swap lost)', p_name, p_tract\n"
	"\t\t\tUSING ERRCODE = '" STALE_STATE "';\n"
	"\tEND IF;\n"
	"END\n"
	"$fn$;\n"
	/* Waiters (ref_watch) LISTEN on the store's channel: every change of a
	 * ref notifies its tract id when the transaction commits (PostgreSQL
	 * folds repeats within one transaction). The channel names the schema
	 * through a digest, as a channel name is at most 63 bytes. */
	"CREATE OR REPLACE FUNCTION tract_ref_notify() RETURNS trigger\n"
	"LANGUAGE plpgsql AS $fn$\n"
	"BEGIN\n"
	"\tPERFORM pg_notify('tract_' || left(md5(TG_TABLE_SCHEMA), 24),\n"
	"\t\tCASE WHEN TG_OP = 'DELETE' THEN OLD.tract_id ELSE NEW.tract_id END);\n"
	"\tRETURN NULL;\n"
	"END\n"
	"$fn$;\n"
	"DROP TRIGGER IF EXISTS tract_refs_notify ON refs;\n"
	"CREATE TRIGGER tract_refs_notify AFTER INSERT OR UPDATE OR DELETE ON refs\n"
	"\tFOR EACH ROW EXECUTE FUNCTION tract_ref_notify();\n";

/* ---- version check and migration ---------------------------------------- */

/* Which schema: schema=, or the first existing one of the search_path. */
int resolve_schema(tract_backend_conn *conn)
{
	PGresult *res = NULL;
	int rc;

	if (!conn->schema) {
		rc = setup_exec(conn, "SELECT pg_catalog.current_schema()", 0, NULL, &res,
				"find the schema");
		if (rc < 0)
			return rc;
		if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
			PQclear(res);
			return fail(conn, TRACT_ENOTFOUND,
				    "postgres: no schema of the search_path exists; create one or "
				    "name one with schema=NAME in the URI");
		}
		conn->schema = strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (!conn->schema)
			return oom(conn);
	}
	conn->schema_ident = PQescapeIdentifier(conn->pg, conn->schema, strlen(conn->schema));
	if (!conn->schema_ident)
		return fail(conn, TRACT_EINVAL, "postgres: invalid schema name");
	return 0;
}

/*
 * The store's state: *schema_exists, *tables (the meta table exists),
 * *version (0: no version row) and *layout_ok (our own objects are
 * current). EVERSION for a version not in 1..4.
 */
static int read_version(tract_backend_conn *conn, bool *schema_exists, bool *tables,
			int *version, bool *layout_ok)
{
	const char *v[1] = {conn->schema};
	PGresult *res = NULL;
	const char *text;
	long n;
	int rc;

	*schema_exists = *tables = *layout_ok = false;
	*version = 0;
	rc = setup_exec(conn,
			"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1), "
			"EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
			"ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = "
			"'_trace_meta')",
			1, v, &res, "look for the store");
	if (rc < 0)
		return rc;
	*schema_exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	*tables = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	if (!*tables)
		return 0;
	rc = setup_exec(conn,
			"SELECT (SELECT value FROM _trace_meta WHERE \"key\" = 'schema_version'), "
			"(SELECT value FROM _trace_meta WHERE \"key\" = '" LAYOUT_KEY "')",
			0, NULL, &res, "read the schema version");
	if (rc < 0)
		return rc;
	*layout_ok = !PQgetisnull(res, 0, 1) && strcmp(PQgetvalue(res, 0, 1), LAYOUT_VERSION) == 0;
	if (PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return 0;
	}
	text = PQgetvalue(res, 0, 0);
	if (!bc_is_plain_integer(text)) {
		rc = fail(conn, TRACT_EVERSION,
			  "store schema version '%.40s' is not an integer (this tract supports %d)",
			  text, SCHEMA_VERSION);
	} else if ((n = strtol(text, NULL, 10)) > SCHEMA_VERSION) {
		rc = fail(conn, TRACT_EVERSION,
			  "store schema version %ld is newer than this tract supports (%d)", n,
			  SCHEMA_VERSION);
	} else if (n < 1) {
		rc = fail(conn, TRACT_EVERSION,
			  "store schema version %ld is not supported (this tract supports 1-%d)",
			  n, SCHEMA_VERSION);
	} else {
		*version = (int)n;
	}
	PQclear(res);
	return rc;
}

/* Create what is missing and step the version up to 4, in one
 * transaction, under a lock that other processes opening the same schema
 * take too. */
static int migrate(tract_backend_conn *conn)
{
	const char *v[1] = {conn->schema};
	char vbuf[16], oid[sizeof(conn->created_oid)] = "", *sql = NULL;
	const char *vv[1] = {vbuf};
	bool schema_exists, tables, layout_ok;
	PGresult *res = NULL;
	int version, rc;

	rc = setup_exec(conn, "BEGIN", 0, NULL, NULL, "create the store");
	if (rc < 0)
		return rc;
	rc = setup_exec(conn, SCHEMA_LOCK_SQL, 1, v, NULL, "lock the schema");
	if (rc == 0)
		rc = read_version(conn, &schema_exists, &tables, &version, &layout_ok);
	if (rc == 0 && !schema_exists) {
		size_t n = strlen(conn->schema_ident) + 32;
		sql = malloc(n);
		if (!sql) {
			rc = oom(conn);
		} else {
			snprintf(sql, n, "CREATE SCHEMA %s", conn->schema_ident);
			rc = setup_exec(conn, sql, 0, NULL, NULL, "create the schema");
		}
		/* Its oid tells destroy() later that the schema is still ours. */
		if (rc == 0)
			rc = setup_exec(conn,
					"SELECT oid::text FROM pg_catalog.pg_namespace WHERE nspname = $1",
					1, v, &res, "create the schema");
		if (rc == 0) {
			snprintf(oid, sizeof(oid), "%s",
				 PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
			PQclear(res);
		}
	}
	if (rc == 0 && (version < SCHEMA_VERSION || !layout_ok))
		rc = setup_exec(conn, ddl_sql, 0, NULL, NULL, "create the tables");
	if (rc == 0 && !layout_ok)
		rc = setup_exec(conn,
				"INSERT INTO _trace_meta (\"key\", value) VALUES ('" LAYOUT_KEY
				"', '" LAYOUT_VERSION "') "
				"ON CONFLICT (\"key\") DO UPDATE SET value = excluded.value",
				0, NULL, NULL, "record the layout");
	if (rc == 0 && version < SCHEMA_VERSION) {
		snprintf(vbuf, sizeof(vbuf), "%d", SCHEMA_VERSION);
		rc = setup_exec(conn,
				"INSERT INTO _trace_meta (\"key\", value) VALUES ('schema_version', $1) "
				"ON CONFLICT (\"key\") DO UPDATE SET value = excluded.value",
				1, vv, NULL, "record the schema version");
	}
	if (rc == 0)
		rc = setup_exec(conn, "COMMIT", 0, NULL, NULL, "create the store");
	if (rc == 0)
		snprintf(conn->created_oid, sizeof(conn->created_oid), "%s", oid);
	if (rc < 0 && PQtransactionStatus(conn->pg) != PQTRANS_IDLE)
		PQclear(PQexec(conn->pg, "ROLLBACK"));
	free(sql);
	return rc;
}

int ensure_store(tract_backend_conn *conn, unsigned flags)
{
	bool schema_exists, tables, layout_ok;
	int version, rc;

	rc = read_version(conn, &schema_exists, &tables, &version, &layout_ok);
	if (rc < 0 || (version == SCHEMA_VERSION && layout_ok))
		return rc;
	if (!tables && !(flags & TRACT_BACKEND_CREATE))
		return fail(conn, TRACT_ENOTFOUND,
			    "store not found: schema \"%s\" holds no tract store (create it with "
			    "init)",
			    conn->schema);
	return migrate(conn);
}
