/*
 * postgres.c - the PostgreSQL storage backend (tract-backend-postgres.so).
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
 * (annotation_put without *out_id) wait and travel with the next statement
 * that needs an answer, or with COMMIT. Every other call gets its answer
 * in its own call: an append is four round trips (BEGIN + HEAD and branch
 * read together, blob + commit insert, ref compare-and-swap, COMMIT).
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
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "tract/common.h"
#include "tract/sys/backend.h"

#define SCHEMA_VERSION 4
/* The SQLSTATE of tract_ref_move() when the compare-and-swap is lost. */
#define STALE_STATE "TR001"
#define ERRLEN 512
/* Separator of the merge parents packed by the chain walk (ASCII US). */
#define PARENT_SEP '\x1f'
/* Unix epoch - PostgreSQL epoch (2000-01-01), in microseconds. */
#define PG_EPOCH_USEC INT64_C(946684800000000)
/* Deferred writes held at most before they are sent anyway. */
#define MAX_DEFERRED 64
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

/* ---- schema -------------------------------------------------------------- */

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
	"$fn$;\n";

/* Revision of the PostgreSQL-specific objects (the function above), in
 * _trace_meta under this key: a store without it gets the DDL again. */
#define LAYOUT_KEY "postgres_layout"
#define LAYOUT_VERSION "1"

/* ---- statements ---------------------------------------------------------- */

#define COMMIT_COLS                                                                                \
	"commit_hash, tract_id, parent_hash, content_hash, content_type, operation, "              \
	"response_to, message, token_count, metadata_json, generation_config_json, created_at"
#define BLOB_COLS "content_hash, payload_json, byte_size, token_count, created_at"
#define REF_COLS "tract_id, ref_name, commit_hash, symbolic_target"
#define ANN_COLS "id, tract_id, target_hash, priority, reason, created_at"
#define COMP_COLS                                                                                  \
	"compression_id, tract_id, branch_name, created_at, original_tokens, "                     \
	"compressed_tokens, target_tokens, instructions"
#define SPAWN_COLS                                                                                 \
	"id, parent_tract_id, parent_commit_hash, child_tract_id, purpose, inheritance_mode, "     \
	"display_name, created_at"
#define COMMIT_EXISTS(p) "EXISTS (SELECT 1 FROM commits WHERE commit_hash = " p ")"

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
	ST_COUNT
};

/* The chain walk's recursive CTE, one prepared statement per set of flags. */
#define N_CHAIN_VARIANTS 8
#define N_PREPARED (ST_COUNT + N_CHAIN_VARIANTS)

struct stmt_def {
	const char *sql;
	const char *types; /* one letter per parameter: t text, i int8, z timestamptz */
};

static const struct stmt_def stmts[ST_COUNT] = {
	/* Write transactions read the latest committed values (and lock the
	 * refs they read); read transactions are one snapshot. */
	[ST_BEGIN_READ] = {"BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", ""},
	[ST_BEGIN_WRITE] = {"BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE", ""},
	[ST_TXN_COMMIT] = {"COMMIT", ""},
	[ST_TXN_ROLLBACK] = {"ROLLBACK", ""},
	[ST_BLOB_PUT] = {"INSERT INTO blobs (" BLOB_COLS ") VALUES ($1, $2, $3, $4, $5) "
			 "ON CONFLICT (content_hash) DO NOTHING",
			 "ttiiz"},
	[ST_BLOB_GET] = {"SELECT " BLOB_COLS " FROM blobs WHERE content_hash = $1", "t"},
	[ST_BLOB_ALL] = {"SELECT " BLOB_COLS " FROM blobs ORDER BY content_hash", ""},
	[ST_BLOB_DELETE] = {"DELETE FROM blobs WHERE content_hash = $1", "t"},
	/* Held back: an existing hash or a missing blob / parent raises the
	 * key's error (deferred_failed() words it). */
	[ST_COMMIT_PUT] = {"INSERT INTO commits (" COMMIT_COLS ") "
			   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
			   "ttttttttittz"},
	[ST_COMMIT_GET] = {"SELECT " COMMIT_COLS " FROM commits "
			   "WHERE commit_hash = $1 AND ($2::text IS NULL OR tract_id = $2)",
			   "tt"},
	[ST_COMMIT_PREFIX] = {"SELECT " COMMIT_COLS " FROM commits "
			      "WHERE commit_hash >= $1 AND commit_hash < $2 "
			      "AND ($3::text IS NULL OR tract_id = $3) ORDER BY commit_hash LIMIT $4",
			      "ttti"},
	[ST_COMMIT_PREFIX_OPEN] = {"SELECT " COMMIT_COLS " FROM commits WHERE commit_hash >= $1 "
				   "AND ($2::text IS NULL OR tract_id = $2) "
				   "ORDER BY commit_hash LIMIT $3",
				   "tti"},
	[ST_COMMIT_ALL] = {"SELECT " COMMIT_COLS " FROM commits ORDER BY created_at, commit_hash",
			   ""},
	[ST_COMMIT_TRACT] = {"SELECT " COMMIT_COLS " FROM commits WHERE tract_id = $1 "
			     "ORDER BY created_at, commit_hash",
			     "t"},
	[ST_COMMIT_CONFIG_ALL] = {"SELECT " COMMIT_COLS " FROM commits "
				  "WHERE generation_config_json IS NOT NULL "
				  "AND generation_config_json <> 'null' "
				  "ORDER BY created_at, commit_hash",
				  ""},
	[ST_COMMIT_CONFIG_TRACT] = {"SELECT " COMMIT_COLS " FROM commits WHERE tract_id = $1 "
				    "AND generation_config_json IS NOT NULL "
				    "AND generation_config_json <> 'null' "
				    "ORDER BY created_at, commit_hash",
				    "t"},
	/* Children's parent_hash / response_to and spawn pointers are blanked
	 * by their ON DELETE SET NULL keys. */
	[ST_COMMIT_DELETE] = {"DELETE FROM commits WHERE commit_hash = $1", "t"},
	[ST_PARENT_PUT] = {"INSERT INTO commit_parents (commit_hash, parent_hash, position) "
			   "SELECT $1, $2, $3 WHERE " COMMIT_EXISTS("$1") " AND " COMMIT_EXISTS("$2")
			   " ON CONFLICT (commit_hash, parent_hash) DO NOTHING",
			   "tti"},
	[ST_PARENT_LIST] = {"SELECT commit_hash, parent_hash, position FROM commit_parents "
			    "WHERE commit_hash = $1 ORDER BY position, parent_hash",
			    "t"},
	[ST_PARENT_ALL] = {"SELECT commit_hash, parent_hash, position FROM commit_parents "
			   "ORDER BY commit_hash, position, parent_hash",
			   ""},
	[ST_PARENT_DELETE_CHILD] = {"DELETE FROM commit_parents WHERE commit_hash = $1", "t"},
	/* The ref and, when it is symbolic, its target, in one read. */
	[ST_REF_GET] = {"SELECT " REF_COLS " FROM refs WHERE tract_id = $1 AND ref_name = ANY "
			"(ARRAY[$2, (SELECT symbolic_target FROM refs WHERE tract_id = $1 "
			"AND ref_name = $2)])",
			"tt"},
	[ST_REF_GET_LOCK] = {"SELECT " REF_COLS " FROM refs WHERE tract_id = $1 AND ref_name = ANY "
			     "(ARRAY[$2, (SELECT symbolic_target FROM refs WHERE tract_id = $1 "
			     "AND ref_name = $2)]) FOR UPDATE",
			     "tt"},
	/* Held back: a ref that exists raises the primary key's error, a
	 * missing commit the foreign key's; tract_ref_move() raises
	 * STALE_STATE when the ref moved. */
	[ST_REF_INSERT] = {"INSERT INTO refs (" REF_COLS ") VALUES ($1, $2, $3, $4)", "tttt"},
	[ST_REF_MOVE] = {"SELECT tract_ref_move($1, $2, $3, $4, $5, $6)", "tttttt"},
	/*
	 * An append's three writes as one statement: what ST_BLOB_PUT,
	 * ST_COMMIT_PUT and ST_REF_MOVE held back in a row become, when they
	 * are sent (the commit row is inserted before the ref is moved to it).
	 */
	[ST_APPEND] = {"WITH b AS (INSERT INTO blobs (" BLOB_COLS ") VALUES ($1, $2, $3, $4, $5) "
		       "ON CONFLICT (content_hash) DO NOTHING), "
		       "c AS (INSERT INTO commits (" COMMIT_COLS ") VALUES ($6, $7, $8, $9, $10, "
		       "$11, $12, $13, $14, $15, $16, $17) RETURNING commit_hash) "
		       "SELECT tract_ref_move($18, $19, $20, $21, $22, $23) FROM c",
		       "ttiiz" "ttttttttittz" "tttttt"},
	[ST_REF_EXISTS] = {"SELECT EXISTS (SELECT 1 FROM refs WHERE tract_id = $1 "
			   "AND ref_name = $2)",
			   "tt"},
	[ST_REF_DELETE] = {"DELETE FROM refs WHERE tract_id = $1 AND ref_name = $2 "
			   "AND ($3 = 0 OR (commit_hash IS NOT DISTINCT FROM $4 "
			   "AND symbolic_target IS NOT DISTINCT FROM $5))",
			   "ttitt"},
	[ST_REF_TRACT] = {"SELECT " REF_COLS " FROM refs WHERE tract_id = $1 "
			  "AND ref_name >= $2 AND ref_name < $3 ORDER BY ref_name",
			  "ttt"},
	[ST_REF_TRACT_OPEN] = {"SELECT " REF_COLS " FROM refs WHERE tract_id = $1 "
			       "AND ref_name >= $2 ORDER BY ref_name",
			       "tt"},
	[ST_REF_ALL] = {"SELECT " REF_COLS " FROM refs WHERE ref_name >= $1 AND ref_name < $2 "
			"ORDER BY tract_id, ref_name",
			"tt"},
	[ST_REF_ALL_OPEN] = {"SELECT " REF_COLS " FROM refs WHERE ref_name >= $1 "
			     "ORDER BY tract_id, ref_name",
			     "t"},
	[ST_ANN_PUT] = {"INSERT INTO annotations (tract_id, target_hash, priority, reason, "
			"created_at) SELECT $1, $2, $3, $4, $5 WHERE " COMMIT_EXISTS("$2")
			" RETURNING id",
			"ttttz"},
	/* Deferred: a missing target raises the foreign key's error. */
	[ST_ANN_PUT_DEFERRED] = {"INSERT INTO annotations (tract_id, target_hash, priority, "
				 "reason, created_at) VALUES ($1, $2, $3, $4, $5)",
				 "ttttz"},
	[ST_ANN_LIST] = {"SELECT " ANN_COLS " FROM annotations WHERE target_hash = $1 "
			 "ORDER BY created_at, id",
			 "t"},
	[ST_ANN_TRACT] = {"SELECT " ANN_COLS " FROM annotations WHERE tract_id = $1 ORDER BY id",
			  "t"},
	[ST_ANN_ALL] = {"SELECT " ANN_COLS " FROM annotations ORDER BY id", ""},
	[ST_ANN_DELETE_TARGET] = {"DELETE FROM annotations WHERE target_hash = $1", "t"},
	[ST_COMP_PUT] = {"INSERT INTO compressions (" COMP_COLS ") "
			 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
			 "ON CONFLICT (compression_id) DO NOTHING",
			 "tttziiit"},
	[ST_COMP_SOURCE_PUT] = {"INSERT INTO compression_sources (compression_id, commit_hash, "
				"position) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM "
				"compressions WHERE compression_id = $1) AND " COMMIT_EXISTS("$2")
				" ON CONFLICT (compression_id, commit_hash) DO NOTHING",
				"tti"},
	[ST_COMP_RESULT_PUT] = {"INSERT INTO compression_results (compression_id, commit_hash, "
				"position) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM "
				"compressions WHERE compression_id = $1) AND " COMMIT_EXISTS("$2")
				" ON CONFLICT (compression_id, commit_hash) DO NOTHING",
				"tti"},
	[ST_COMP_GET] = {"SELECT " COMP_COLS " FROM compressions WHERE compression_id = $1", "t"},
	[ST_COMP_TRACT] = {"SELECT " COMP_COLS " FROM compressions WHERE tract_id = $1 "
			   "ORDER BY created_at, compression_id",
			   "t"},
	[ST_COMP_ALL] = {"SELECT " COMP_COLS " FROM compressions "
			 "ORDER BY created_at, compression_id",
			 ""},
	[ST_COMP_SOURCES] = {"SELECT compression_id, commit_hash, position FROM "
			     "compression_sources WHERE compression_id = $1 "
			     "ORDER BY position, commit_hash",
			     "t"},
	[ST_COMP_RESULTS] = {"SELECT compression_id, commit_hash, position FROM "
			     "compression_results WHERE compression_id = $1 "
			     "ORDER BY position, commit_hash",
			     "t"},
	[ST_COMP_DELETE] = {"DELETE FROM compressions WHERE compression_id = $1", "t"},
	[ST_COMP_SOURCES_DELETE] = {"DELETE FROM compression_sources WHERE compression_id = $1",
				    "t"},
	[ST_COMP_RESULTS_DELETE] = {"DELETE FROM compression_results WHERE compression_id = $1",
				    "t"},
	[ST_SPAWN_PUT] = {"INSERT INTO spawn_pointers (parent_tract_id, parent_commit_hash, "
			  "child_tract_id, purpose, inheritance_mode, display_name, created_at) "
			  "SELECT $1, $2, $3, $4, $5, $6, $7 "
			  "WHERE $2::text IS NULL OR " COMMIT_EXISTS("$2") " RETURNING id",
			  "ttttttz"},
	[ST_SPAWN_PARENT] = {"SELECT " SPAWN_COLS " FROM spawn_pointers "
			     "WHERE parent_tract_id = $1 ORDER BY id",
			     "t"},
	[ST_SPAWN_ALL] = {"SELECT " SPAWN_COLS " FROM spawn_pointers ORDER BY id", ""},
	[ST_SPAWN_CHILD] = {"SELECT " SPAWN_COLS " FROM spawn_pointers "
			    "WHERE child_tract_id = $1 ORDER BY id",
			    "t"},
	[ST_SPAWN_DELETE] = {"DELETE FROM spawn_pointers WHERE id = $1", "i"},
	[ST_META_GET] = {"SELECT \"key\", value FROM _trace_meta WHERE \"key\" = $1", "t"},
	[ST_META_SET] = {"INSERT INTO _trace_meta (\"key\", value) VALUES ($1, $2) "
			 "ON CONFLICT (\"key\") DO UPDATE SET value = excluded.value",
			 "tt"},
	[ST_META_DELETE] = {"DELETE FROM _trace_meta WHERE \"key\" = $1", "t"},
	[ST_META_RANGE] = {"SELECT \"key\", value FROM _trace_meta "
			   "WHERE \"key\" >= $1 AND \"key\" < $2 ORDER BY \"key\"",
			   "tt"},
	[ST_META_RANGE_OPEN] = {"SELECT \"key\", value FROM _trace_meta "
				"WHERE \"key\" >= $1 ORDER BY \"key\"",
				"t"},
	[ST_TRACTS] = {"SELECT tract_id, sum(n)::bigint, max(last) FROM ("
		       "SELECT tract_id, count(*) AS n, max(created_at) AS last FROM commits "
		       "GROUP BY tract_id UNION ALL SELECT tract_id, 0, NULL FROM refs) AS s "
		       "GROUP BY tract_id ORDER BY tract_id",
		       ""},
};

/*
 * The chain walk's recursive CTE: $1 head, $2 tract (NULL: any), $3 the
 * row limit, $4 the annotation cutoff (NULL: none). The CTE carries whole
 * rows, so each step is one primary-key lookup; seq must decrease at each
 * step (a parent is always older than its child), which ends a corrupt
 * cycle. Rows come back in any order with their depth; walk_cte() puts
 * them in order.
 */
static const char chain_cte_head[] =
	"WITH RECURSIVE chain AS ("
	"SELECT 0::bigint AS depth, c.commit_hash, c.tract_id, c.parent_hash, c.content_hash, "
	"c.content_type, c.operation, c.response_to, c.message, c.token_count, c.metadata_json, "
	"c.generation_config_json, c.created_at, c.seq FROM commits c "
	"WHERE c.commit_hash = $1 AND ($2::text IS NULL OR c.tract_id = $2) "
	"UNION ALL "
	"SELECT ch.depth + 1, c.commit_hash, c.tract_id, c.parent_hash, c.content_hash, "
	"c.content_type, c.operation, c.response_to, c.message, c.token_count, c.metadata_json, "
	"c.generation_config_json, c.created_at, c.seq FROM chain ch "
	"JOIN commits c ON c.commit_hash = ch.parent_hash "
	"WHERE ch.depth + 1 < $3 AND c.seq < ch.seq AND ($2::text IS NULL OR c.tract_id = $2)) "
	"SELECT ch.commit_hash, ch.tract_id, ch.parent_hash, ch.content_hash, ch.content_type, "
	"ch.operation, ch.response_to, ch.message, ch.token_count, ch.metadata_json, "
	"ch.generation_config_json, ch.created_at, ch.depth";
static const char chain_cte_payload[] = ", b.payload_json";
static const char chain_cte_priority[] =
	", (SELECT a.priority FROM annotations a WHERE a.target_hash = ch.commit_hash "
	"AND ($4::timestamptz IS NULL OR a.created_at <= $4) "
	"ORDER BY a.created_at DESC, a.id DESC LIMIT 1)";
static const char chain_cte_parents[] =
	", (SELECT string_agg(p.parent_hash, chr(31) ORDER BY p.position, p.parent_hash) "
	"FROM commit_parents p WHERE p.commit_hash = ch.commit_hash AND p.position >= 1)";
static const char chain_cte_from[] = " FROM chain ch";
static const char chain_cte_join[] = " LEFT JOIN blobs b ON b.content_hash = ch.content_hash";

/*
 * The tract scan of a long walk: every commit of tract $2 inserted no
 * later than $1 (seq), with the extras joined set-wise, so the planner can
 * hash-join the blobs of a long history rather than look each one up.
 * walk_scan() follows the first parents from $1 through the rows. $3 is
 * the annotation cutoff. Planned on each use (unnamed statement): the right
 * join strategy depends on the tract's size.
 */
static const char chain_scan_head[] =
	"WITH s AS MATERIALIZED (SELECT seq FROM commits WHERE commit_hash = $1 "
	"AND tract_id = $2) "
	"SELECT c.commit_hash, c.tract_id, c.parent_hash, c.content_hash, c.content_type, "
	"c.operation, c.response_to, c.message, c.token_count, c.metadata_json, "
	"c.generation_config_json, c.created_at, c.seq";
static const char chain_scan_payload[] = ", b.payload_json";
static const char chain_scan_priority[] = ", an.priority";
static const char chain_scan_parents[] = ", pp.parents";
static const char chain_scan_from[] = " FROM commits c";
static const char chain_scan_join_payload[] =
	" LEFT JOIN blobs b ON b.content_hash = c.content_hash";
static const char chain_scan_join_priority[] =
	" LEFT JOIN (SELECT DISTINCT ON (a.target_hash) a.target_hash, a.priority "
	"FROM annotations a WHERE a.target_hash IN (SELECT y.commit_hash FROM commits y "
	"WHERE y.tract_id = $2 AND y.seq <= (SELECT seq FROM s)) "
	"AND ($3::timestamptz IS NULL OR a.created_at <= $3) "
	"ORDER BY a.target_hash, a.created_at DESC, a.id DESC) an "
	"ON an.target_hash = c.commit_hash";
static const char chain_scan_join_parents[] =
	" LEFT JOIN (SELECT p.commit_hash, string_agg(p.parent_hash, chr(31) "
	"ORDER BY p.position, p.parent_hash) AS parents FROM commit_parents p "
	"WHERE p.position >= 1 AND p.commit_hash IN (SELECT y.commit_hash FROM commits y "
	"WHERE y.tract_id = $2 AND y.seq <= (SELECT seq FROM s)) GROUP BY p.commit_hash) pp "
	"ON pp.commit_hash = c.commit_hash";
static const char chain_scan_where[] = " WHERE c.tract_id = $2 AND c.seq <= (SELECT seq FROM s)";

/* ---- connection ---------------------------------------------------------- */

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
	struct ref_entry refs[REF_CACHE];
	size_t n_refs;
	char *secrets[6]; /* never shown in error text */
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

/* ---- errors -------------------------------------------------------------- */

/* Replace every occurrence of the secrets in msg (in place, within len). */
static void scrub(const tract_backend_conn *conn, char *msg, size_t len)
{
	char tmp[ERRLEN];
	size_t i;

	for (i = 0; i < sizeof(conn->secrets) / sizeof(conn->secrets[0]); i++) {
		const char *s = conn->secrets[i], *hit;
		size_t n = s ? strlen(s) : 0, o = 0;
		const char *at = msg;

		if (n == 0 || !strstr(msg, s))
			continue;
		while ((hit = strstr(at, s)) != NULL && o < sizeof(tmp) - 1) {
			size_t k = (size_t)(hit - at);
			if (k > sizeof(tmp) - 1 - o)
				k = sizeof(tmp) - 1 - o;
			memcpy(tmp + o, at, k);
			o += k;
			if (o + 3 < sizeof(tmp)) {
				memcpy(tmp + o, "***", 3);
				o += 3;
			}
			at = hit + n;
		}
		n = strlen(at);
		if (n > sizeof(tmp) - 1 - o)
			n = sizeof(tmp) - 1 - o;
		memcpy(tmp + o, at, n);
		o += n;
		tmp[o] = '\0';
		snprintf(msg, len, "%s", tmp);
	}
}

/* One line: control characters become spaces, trailing spaces go. */
static void one_line(char *msg)
{
	size_t n;
	char *p;

	for (p = msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == ' ')
		msg[--n] = '\0';
}

__attribute__((format(printf, 3, 4))) static int fail(tract_backend_conn *conn, int code,
						       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(conn->err, sizeof(conn->err), fmt, ap);
	va_end(ap);
	one_line(conn->err);
	scrub(conn, conn->err, sizeof(conn->err));
	return code;
}

static bool connection_lost(const tract_backend_conn *conn)
{
	return conn->poisoned || PQstatus(conn->pg) != CONNECTION_OK;
}

/* The code for a failed statement's SQLSTATE. */
static int code_of_state(const char *state)
{
	if (!state)
		return TRACT_ESTORAGE;
	/* serialization_failure, deadlock_detected: another writer won. */
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, STALE_STATE) == 0)
		return TRACT_ESTALE;
	if (strcmp(state, "XX001") == 0 || strcmp(state, "XX002") == 0)
		return TRACT_ECORRUPT;
	return TRACT_ESTORAGE;
}

/* libpq's connection-level message on one line: its lines joined with
 * "; " (first_only: the first line alone). */
static const char *conn_message(const tract_backend_conn *conn, char *buf, size_t len,
				bool first_only)
{
	const char *m = conn->pg ? PQerrorMessage(conn->pg) : NULL;
	size_t o = 0;

	if (!m || !*m)
		m = "connection failed";
	while (*m && o + 3 < len) {
		if (*m == '\n') {
			while (*m == '\n' || *m == '\t' || *m == ' ')
				m++;
			if (!*m || first_only)
				break;
			buf[o++] = ';';
			buf[o++] = ' ';
			continue;
		}
		buf[o++] = *m == '\t' ? ' ' : *m;
		m++;
	}
	buf[o] = '\0';
	one_line(buf);
	return buf;
}

/* Record a failed statement (res may be NULL: a connection failure). */
static int fail_res(tract_backend_conn *conn, const PGresult *res, const char *what)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char buf[ERRLEN];

	/* The caller names the operation; open() has no caller that does. */
	if (!conn->opening)
		what = NULL;
	if (connection_lost(conn) || !res || (state && strncmp(state, "08", 2) == 0)) {
		conn_message(conn, buf, sizeof(buf), true);
		return fail(conn, TRACT_ESTORAGE, "postgres: %s%sconnection to the server lost (%s)",
			    what ? what : "", what ? ": " : "", primary ? primary : buf);
	}
	if (!primary)
		primary = PQresultErrorMessage(res);
	if (state && strcmp(state, STALE_STATE) == 0)
		return fail(conn, TRACT_ESTALE, "%s", primary);
	if (code_of_state(state) == TRACT_ESTALE)
		return fail(conn, TRACT_ESTALE,
			    "postgres: %s (another writer got there first; retry)", primary);
	return fail(conn, code_of_state(state), "postgres: %s%s%s [%s]", what ? what : "",
		    what ? ": " : "", primary, state ? state : "?");
}

static int oom(tract_backend_conn *conn)
{
	return fail(conn, TRACT_ENOMEM, "postgres: out of memory");
}

/* ---- parameters and results ---------------------------------------------- */

static void put_be64(unsigned char *b, int64_t v)
{
	uint64_t u = (uint64_t)v;
	int i;

	for (i = 7; i >= 0; i--) {
		b[i] = (unsigned char)(u & 0xff);
		u >>= 8;
	}
}

static int64_t get_be64(const unsigned char *b)
{
	uint64_t u = 0;
	int i;

	for (i = 0; i < 8; i++)
		u = (u << 8) | b[i];
	return (int64_t)u;
}

static void p_text(struct params *p, const char *s)
{
	p->v[p->n] = s;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

static void p_int(struct params *p, int64_t x)
{
	put_be64(p->num[p->n], x);
	p->v[p->n] = (const char *)p->num[p->n];
	p->len[p->n] = 8;
	p->fmt[p->n] = 1;
	p->n++;
}

static void p_time(struct params *p, tract_time t)
{
	p_int(p, t - PG_EPOCH_USEC);
}

static void p_null(struct params *p)
{
	p->v[p->n] = NULL;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

/* A cutoff of INT64_MAX is "none". */
static void p_cutoff(struct params *p, tract_time t)
{
	if (t == INT64_MAX)
		p_null(p);
	else
		p_time(p, t);
}

static const char *col_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* A JSON column: SQL NULL and the text 'null' both mean none. */
static const char *col_json(const PGresult *r, int row, int col)
{
	const char *s = col_text(r, row, col);

	return s && strcmp(s, "null") == 0 ? NULL : s;
}

/* An integer column in binary form (int8, int4 or int2). */
static int64_t col_int(const PGresult *r, int row, int col)
{
	const unsigned char *v = (const unsigned char *)PQgetvalue(r, row, col);

	if (PQgetisnull(r, row, col))
		return 0;
	switch (PQgetlength(r, row, col)) {
	case 8:
		return get_be64(v);
	case 4:
		return (int32_t)(((uint32_t)v[0] << 24) | ((uint32_t)v[1] << 16) |
				 ((uint32_t)v[2] << 8) | v[3]);
	case 2:
		return (int16_t)(((uint16_t)v[0] << 8) | v[1]);
	default:
		return 0;
	}
}

static tract_time col_time(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return TRACT_TIME_NONE;
	return col_int(r, row, col) + PG_EPOCH_USEC;
}

static bool col_bool(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetlength(r, row, col) == 1 &&
	       PQgetvalue(r, row, col)[0] != 0;
}

/* Rows changed by a write (or returned by INSERT ... RETURNING). */
static long changed_rows(const PGresult *r)
{
	const char *n = PQcmdTuples((PGresult *)r);

	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return PQntuples(r);
	return n && *n ? strtol(n, NULL, 10) : 0;
}

/* ---- enums --------------------------------------------------------------- */

/* ---- text helpers -------------------------------------------------------- */

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p, n, cp, i;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		p += n + 1;
	}
	return true;
}

/* Encode a code point as UTF-8 at out (4 bytes room); returns the length. */
static size_t utf8_put(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * The least string greater than every string that starts with prefix
 * (valid UTF-8), in bytewise order: the prefix with its last character
 * replaced by the next code point (U+10FFFF characters dropped first).
 * Returns false when there is none (prefix is all U+10FFFF).
 */
static bool prefix_upper(const char *prefix, char *buf, size_t len)
{
	size_t n = strlen(prefix);

	if (n + 4 >= len)
		return false;
	memcpy(buf, prefix, n + 1);
	while (n > 0) {
		size_t start = n - 1;
		unsigned cp = 0, i;

		while (start > 0 && ((unsigned char)buf[start] & 0xc0) == 0x80)
			start--;
		for (i = (unsigned)start; i < n; i++) {
			unsigned char c = (unsigned char)buf[i];
			if (i == start)
				cp = c < 0x80 ? c : c < 0xe0 ? c & 0x1f : c < 0xf0 ? c & 0x0f : c & 0x07;
			else
				cp = (cp << 6) | (c & 0x3f);
		}
		if (cp < 0x10ffff) {
			cp++;
			if (cp == 0xd800)
				cp = 0xe000;
			n = start + utf8_put(buf + start, cp);
			buf[n] = '\0';
			return true;
		}
		n = start;
	}
	return false;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX escapes (a malformed one is kept as it is). */
static char *percent_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
			*o++ = (char)(hex_digit(s[i + 1]) << 4 | hex_digit(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* ---- the location -------------------------------------------------------- */

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static int add_secret(tract_backend_conn *conn, const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < sizeof(conn->secrets) / sizeof(conn->secrets[0]); i++) {
		if (!conn->secrets[i]) {
			conn->secrets[i] = strndup(s, n);
			return conn->secrets[i] ? 0 : TRACT_ENOMEM;
		}
	}
	return 0;
}

/*
 * Note what of the URI must never be shown: the password of the userinfo
 * and of a password= parameter (as written and decoded), and the URI
 * itself.
 */
static int note_secrets(tract_backend_conn *conn, const char *uri)
{
	const char *auth = strstr(uri, "://"), *end, *at, *colon, *q;
	int rc = add_secret(conn, uri, strlen(uri));
	char *dec;

	if (rc < 0 || !auth)
		return rc;
	auth += 3;
	end = auth + strcspn(auth, "/?");
	at = NULL;
	for (q = auth; q < end; q++)
		if (*q == '@')
			at = q;
	if (at) {
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (colon && colon + 1 < at) {
			rc = add_secret(conn, colon + 1, (size_t)(at - colon - 1));
			dec = percent_decode(colon + 1, (size_t)(at - colon - 1));
			if (!dec)
				return TRACT_ENOMEM;
			if (rc == 0)
				rc = add_secret(conn, dec, strlen(dec));
			free(dec);
		}
	}
	for (q = strchr(uri, '?'); rc == 0 && q; q = strchr(q + 1, '&')) {
		const char *v = q + 1;
		size_t n;
		if (!has_prefix(v, "password="))
			continue;
		v += 9;
		n = strcspn(v, "&");
		rc = add_secret(conn, v, n);
		dec = percent_decode(v, n);
		if (!dec)
			return TRACT_ENOMEM;
		if (rc == 0)
			rc = add_secret(conn, dec, strlen(dec));
		free(dec);
	}
	return rc;
}

/*
 * Split the location into the URI libpq gets (every parameter but ours)
 * and the schema= parameter (decoded, NULL when absent).
 */
static int split_location(tract_backend_conn *conn, const char *location, char **uri)
{
	const char *q = strchr(location, '?'), *item;
	size_t base = q ? (size_t)(q - location) : strlen(location), o;
	char *out;

	*uri = NULL;
	out = malloc(strlen(location) + 1);
	if (!out)
		return oom(conn);
	memcpy(out, location, base);
	o = base;
	for (item = q ? q + 1 : NULL; item; item = strchr(item, '&') ? strchr(item, '&') + 1 : NULL) {
		size_t n = strcspn(item, "&");
		if (n >= 7 && strncmp(item, "schema=", 7) == 0) {
			free(conn->schema);
			conn->schema = percent_decode(item + 7, n - 7);
			if (!conn->schema) {
				free(out);
				return oom(conn);
			}
			continue;
		}
		if (n == 0)
			continue;
		out[o] = o == base ? '?' : '&';
		o++;
		memcpy(out + o, item, n);
		o += n;
	}
	out[o] = '\0';
	*uri = out;
	if (conn->schema && (!*conn->schema || strlen(conn->schema) > 63 ||
			     !utf8_valid(conn->schema)))
		return fail(conn, TRACT_EINVAL,
			    "postgres: schema= must name a schema of 1-63 bytes of UTF-8");
	return 0;
}

/* libpq's message about a URI it cannot parse, with quoted parts removed
 * (they may quote the password). */
static void redact_quoted(char *msg, size_t len)
{
	char out[ERRLEN];
	size_t o = 0;
	bool in = false;
	const char *r;

	for (r = msg; *r && o + 6 < sizeof(out); r++) {
		if (*r == '"') {
			if (!in) {
				memcpy(out + o, "\"...\"", 5);
				o += 5;
			}
			in = !in;
			continue;
		}
		if (!in)
			out[o++] = *r;
	}
	out[o] = '\0';
	snprintf(msg, len, "%s", out);
}

/* ---- the round trip ------------------------------------------------------ */

static void ref_cache_clear(tract_backend_conn *conn);

static void deferred_free(struct deferred *d)
{
	free(d->mem);
	free(d->context);
	free(d->unique_msg);
	memset(d, 0, sizeof(*d));
}

static void queue_clear(tract_backend_conn *conn)
{
	size_t i;

	for (i = 0; i < conn->n_queue; i++)
		deferred_free(&conn->queue[i]);
	conn->n_queue = 0;
}

static void stmt_name(char *buf, size_t len, int stmt)
{
	snprintf(buf, len, "tract_%d", stmt);
}

static const char *stmt_sql(tract_backend_conn *conn, int stmt, const char **types)
{
	if (stmt >= ST_COUNT) {
		*types = "ttiz";
		return conn->chain_sql[stmt - ST_COUNT];
	}
	*types = stmts[stmt].types;
	return stmts[stmt].sql;
}

static void fill_types(Oid *oids, const char *types)
{
	size_t i;

	for (i = 0; types[i]; i++)
		oids[i] = types[i] == 'i' ? OID_INT8 : types[i] == 'z' ? OID_TIMESTAMPTZ : OID_TEXT;
}

/* Queue one statement on the pipeline (a Prepare first when it is not
 * prepared yet, nor being prepared by this round trip: pending). *prep is
 * set when a Prepare was sent for it. */
static bool send_op(tract_backend_conn *conn, const struct op *o, bool *pending, bool *prep)
{
	static const struct params none = {0};
	const struct params *p = o->p ? o->p : &none;
	Oid oids[MAXP];
	char name[32];
	const char *types, *sql;

	*prep = false;
	if (o->stmt < 0) {
		fill_types(oids, o->types ? o->types : "");
		return PQsendQueryParams(conn->pg, o->sql, p->n, p->n ? oids : NULL, p->v, p->len,
					 p->fmt, 1) == 1;
	}
	stmt_name(name, sizeof(name), o->stmt);
	if (!conn->prepared[o->stmt] && !pending[o->stmt]) {
		pending[o->stmt] = true;
		sql = stmt_sql(conn, o->stmt, &types);
		fill_types(oids, types);
		if (PQsendPrepare(conn->pg, name, sql, (int)strlen(types), oids) != 1)
			return false;
		*prep = true;
	}
	return PQsendQueryPrepared(conn->pg, name, p->n, p->v, p->len, p->fmt, 1) == 1;
}

/* What one sent message is: a Prepare (of stmt) or a statement. */
struct sent {
	int stmt;
	bool prepare;
	struct op *op;          /* the caller's op, or NULL */
	struct deferred *def;   /* a deferred write, or NULL (ST_APPEND: the first of 3) */
	bool begin;
	PGresult *res;
};

/* Three deferred writes that ST_APPEND sends as one statement? */
static bool is_append(const struct deferred *q, size_t n, size_t i)
{
	return i + 2 < n && q[i].stmt == ST_BLOB_PUT && q[i + 1].stmt == ST_COMMIT_PUT &&
	       q[i + 2].stmt == ST_REF_MOVE &&
	       strcmp(q[i + 1].p.v[0], q[i + 2].p.v[2] ? q[i + 2].p.v[2] : "") == 0 &&
	       strcmp(q[i].p.v[0], q[i + 1].p.v[3]) == 0;
}

/* The parameters of ST_APPEND: those of the three writes, in order. */
static void append_params(struct params *out, const struct deferred *q)
{
	int k, j;

	memset(out, 0, sizeof(*out));
	for (k = 0; k < 3; k++) {
		for (j = 0; j < q[k].p.n; j++) {
			out->v[out->n] = q[k].p.v[j];
			out->len[out->n] = q[k].p.len[j];
			out->fmt[out->n] = q[k].p.fmt[j];
			out->n++;
		}
	}
}

static int reconnect(tract_backend_conn *conn);

/* Word the failure of a held-back write. */
static int deferred_failed(tract_backend_conn *conn, const struct deferred *d, bool append,
			   const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

	/* Of an append's three writes, the commit's or the ref's failed. */
	if (append)
		d += constraint && strncmp(constraint, "refs_", 5) == 0 ? 2 : 1;

	if (state && strcmp(state, "23505") == 0 && d->unique_msg)
		return fail(conn, d->unique_code, "%s", d->unique_msg);
	if (state && strncmp(state, "23", 2) == 0 && d->context)
		return fail(conn, TRACT_ESTORAGE, "postgres: %s (%s)", d->context,
			    detail ? detail : primary ? primary : "constraint violated");
	return fail_res(conn, res, "write");
}

/*
 * One round trip: BEGIN when the transaction is still queued, the
 * deferred writes, then ops[0..n-1], and one Sync. On success every
 * ops[i].res holds its result (the caller clears it). A deferred write
 * whose expectation fails, or a failing statement, fails the call; the
 * other results are then cleared.
 *
 * A dead connection is re-established and everything sent again when
 * nothing of it can have been applied: a transaction whose BEGIN was part
 * of this round trip (it held no COMMIT), or statements outside any
 * transaction that write nothing.
 */
static int round_trip(tract_backend_conn *conn, struct op *ops, int n, const char *what)
{
	struct sent *sent = NULL;
	bool pending[N_PREPARED];
	size_t n_sent = 0, cap, i;
	bool begin = conn->txn == TXN_QUEUED, implicit_writes, broken = false, prep;
	int rc = 0, k, attempt;

	for (k = 0; k < n; k++)
		ops[k].res = NULL;
	/* Outside a transaction, writes commit at the Sync. */
	implicit_writes = conn->txn == TXN_NONE && conn->n_queue > 0;
	for (k = 0; k < n; k++)
		implicit_writes = implicit_writes || (conn->txn == TXN_NONE && ops[k].write);
	if (conn->txn == TXN_OPEN && conn->txn_failed)
		return fail(conn, TRACT_ESTORAGE,
			    "postgres: the transaction failed earlier and must be rolled back");
	cap = 2 * ((size_t)n + conn->n_queue + 1);
	sent = calloc(cap, sizeof(*sent));
	if (!sent)
		return oom(conn);
	for (attempt = 0;; attempt++) {
		if (connection_lost(conn) && conn->txn != TXN_OPEN) {
			rc = reconnect(conn);
			if (rc < 0)
				goto done;
		}
		n_sent = 0;
		broken = false;
		memset(pending, 0, sizeof(pending));
		if (begin) {
			struct op b = {.stmt = conn->kind == TRACT_TXN_WRITE ? ST_BEGIN_WRITE
									    : ST_BEGIN_READ};
			if (!send_op(conn, &b, pending, &prep))
				broken = true;
			if (prep)
				sent[n_sent++] = (struct sent){.stmt = b.stmt, .prepare = true};
			sent[n_sent++] = (struct sent){.stmt = b.stmt, .begin = true};
		}
		for (i = 0; !broken && i < conn->n_queue; i++) {
			struct deferred *d = &conn->queue[i];
			struct op o = {.stmt = d->stmt, .p = &d->p, .write = true};
			struct params ap;
			if (is_append(conn->queue, conn->n_queue, i)) {
				append_params(&ap, d);
				o.stmt = ST_APPEND;
				o.p = &ap;
			}
			if (!send_op(conn, &o, pending, &prep)) {
				broken = true;
				break;
			}
			if (prep)
				sent[n_sent++] = (struct sent){.stmt = o.stmt, .prepare = true};
			sent[n_sent++] = (struct sent){.stmt = o.stmt, .def = d};
			if (o.stmt == ST_APPEND)
				i += 2;
		}
		for (k = 0; !broken && k < n; k++) {
			if (!send_op(conn, &ops[k], pending, &prep)) {
				broken = true;
				break;
			}
			if (prep)
				sent[n_sent++] = (struct sent){.stmt = ops[k].stmt, .prepare = true};
			sent[n_sent++] = (struct sent){.stmt = ops[k].stmt, .op = &ops[k]};
		}
		if (!broken && PQpipelineSync(conn->pg) != 1)
			broken = true;
		/* Collect: each message's result, then NULL; then the Sync. */
		for (i = 0; !broken && i < n_sent; i++) {
			PGresult *r = PQgetResult(conn->pg), *extra;
			if (!r) {
				broken = true;
				break;
			}
			sent[i].res = r;
			while ((extra = PQgetResult(conn->pg)) != NULL) {
				if (PQresultStatus(extra) == PGRES_PIPELINE_SYNC) {
					/* Should not happen: a message without its NULL. */
					PQclear(extra);
					break;
				}
				PQclear(extra);
			}
			if (connection_lost(conn))
				broken = true;
		}
		if (!broken) {
			PGresult *s = PQgetResult(conn->pg);
			if (!s || PQresultStatus(s) != PGRES_PIPELINE_SYNC)
				broken = connection_lost(conn) || !s;
			PQclear(s);
		}
		if (!broken || !connection_lost(conn)) {
			if (broken) {
				/* Not where libpq should be: start afresh next time. */
				conn->poisoned = true;
				if (conn->txn == TXN_OPEN || begin)
					conn->txn_failed = true;
				if (begin)
					conn->txn = TXN_OPEN;
				for (i = 0; i < n_sent; i++)
					PQclear(sent[i].res);
				n_sent = 0;
				rc = fail(conn, TRACT_ESTORAGE,
					  "postgres: the connection lost its place");
				goto done;
			}
			break;
		}
		/*
		 * The connection is gone. Did anything of this round trip take
		 * effect? The server runs the messages in order and nothing
		 * after one it answered with an error; so when that message
		 * comes before the commit point (COMMIT, or the Sync of writes
		 * outside a transaction), nothing was committed. Everything
		 * answered, COMMIT included, means committed (only the Sync's
		 * answer went missing).
		 */
		{
			size_t bad, commit_at = n_sent;
			bool has_commit = implicit_writes, not_applied;

			for (i = 0; i < n_sent; i++)
				if (sent[i].op && sent[i].op->stmt == ST_TXN_COMMIT) {
					commit_at = i;
					has_commit = true;
				}
			for (bad = 0; bad < n_sent; bad++) {
				ExecStatusType st = sent[bad].res ? PQresultStatus(sent[bad].res)
								  : PGRES_FATAL_ERROR;
				if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
					break;
			}
			if (bad == n_sent && has_commit && commit_at < n_sent)
				break; /* all answered: go on with the results */
			not_applied = !has_commit || (bad < commit_at && sent[bad].res != NULL);
			for (i = 0; i < n_sent; i++)
				if (sent[i].res)
					PQclear(sent[i].res);
			n_sent = 0;
			if (attempt == 0 && not_applied && (begin || conn->txn == TXN_NONE)) {
				/* Nothing of it ran on a transaction of the server's:
				 * send it all again on a new connection. */
				rc = reconnect(conn);
				if (rc < 0)
					goto done;
				continue;
			}
			if (has_commit && !not_applied)
				rc = fail(conn, TRACT_ESTORAGE,
					  "postgres: connection to the server lost during COMMIT; "
					  "the transaction may or may not have been committed");
			else if (has_commit)
				rc = fail(conn, TRACT_ESTORAGE,
					  "postgres: connection to the server lost; the transaction "
					  "was not committed");
			else
				rc = fail_res(conn, NULL, what);
			if (conn->txn == TXN_OPEN || begin)
				conn->txn_failed = true;
			if (begin)
				conn->txn = TXN_OPEN;
			goto done;
		}
	}
	if (begin)
		conn->txn = TXN_OPEN;
	/* Interpret, in order: the first failure wins. */
	for (i = 0; i < n_sent; i++) {
		struct sent *s = &sent[i];
		ExecStatusType st = PQresultStatus(s->res);
		bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

		if (s->prepare) {
			if (ok)
				conn->prepared[s->stmt] = true;
			else if (rc == 0 && st != PGRES_PIPELINE_ABORTED)
				rc = fail_res(conn, s->res, what);
			continue;
		}
		if (!ok && rc == 0 && st != PGRES_PIPELINE_ABORTED)
			rc = s->def ? deferred_failed(conn, s->def, s->stmt == ST_APPEND, s->res)
				    : fail_res(conn, s->res, what);
		/* A failed statement aborts the server's transaction. */
		if (!ok && conn->txn == TXN_OPEN)
			conn->txn_failed = true;
	}
	for (i = 0; i < n_sent; i++) {
		if (sent[i].op && rc == 0) {
			sent[i].op->res = sent[i].res;
			continue;
		}
		PQclear(sent[i].res);
	}
	queue_clear(conn);
done:
	if (rc < 0)
		queue_clear(conn);
	free(sent);
	return rc;
}

/* Run one prepared statement; *res gets its result. */
static int run(tract_backend_conn *conn, int stmt, const struct params *p, bool write,
	       PGresult **res, const char *what)
{
	struct op o = {.stmt = stmt, .p = p, .write = write};
	int rc = round_trip(conn, &o, 1, what);

	*res = o.res;
	return rc;
}

/* Run a write; *changed (may be NULL) gets the rows it changed. */
static int run_write(tract_backend_conn *conn, int stmt, const struct params *p, long *changed,
		     const char *what)
{
	PGresult *res = NULL;
	int rc = run(conn, stmt, p, true, &res, what);

	if (changed)
		*changed = rc == 0 ? changed_rows(res) : 0;
	PQclear(res);
	return rc;
}

/*
 * Hold a write back for the next round trip; outside a transaction it is
 * sent at once. context (may be NULL) names the write in the message of a
 * violated key; a unique violation gives unique_code and unique_msg (NULL:
 * treated like any other key).
 */
static int defer_write(tract_backend_conn *conn, int stmt, const struct params *p,
		       const char *context, int unique_code, const char *unique_msg)
{
	struct deferred *d;
	size_t need = 0;
	char *at;
	int i, rc;

	if (conn->n_queue >= MAX_DEFERRED) {
		rc = round_trip(conn, NULL, 0, "write");
		if (rc < 0)
			return rc;
	}
	if (conn->n_queue == conn->cap_queue) {
		size_t ncap = conn->cap_queue ? 2 * conn->cap_queue : 8;
		struct deferred *q = realloc(conn->queue, ncap * sizeof(*q));
		if (!q)
			return oom(conn);
		conn->queue = q;
		conn->cap_queue = ncap;
	}
	d = &conn->queue[conn->n_queue];
	memset(d, 0, sizeof(*d));
	for (i = 0; i < p->n; i++)
		need += p->v[i] ? (p->fmt[i] ? 8 : strlen(p->v[i]) + 1) : 0;
	d->mem = malloc(need ? need : 1);
	d->context = context ? strdup(context) : NULL;
	d->unique_msg = unique_msg ? strdup(unique_msg) : NULL;
	if (!d->mem || (context && !d->context) || (unique_msg && !d->unique_msg)) {
		deferred_free(d);
		return oom(conn);
	}
	d->stmt = stmt;
	d->p = *p;
	d->unique_code = unique_code;
	at = d->mem;
	for (i = 0; i < p->n; i++) {
		size_t n;
		if (!p->v[i])
			continue;
		n = p->fmt[i] ? 8 : strlen(p->v[i]) + 1;
		memcpy(at, p->v[i], n);
		d->p.v[i] = at;
		at += n;
	}
	conn->n_queue++;
	if (conn->txn == TXN_NONE || conn->txn_failed)
		return round_trip(conn, NULL, 0, "write");
	return 0;
}

/* ---- iteration ----------------------------------------------------------- */

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

/* Hand every row of res to emit; the callback's value stops it. */
static int each_row(const PGresult *res, row_emit_fn emit, const struct sink *sk)
{
	int i, n = PQntuples(res), rc;

	for (i = 0; i < n; i++) {
		rc = emit(res, i, sk);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	return 0;
}

/* Run a query and hand its rows over. The result is complete before the
 * first callback, so callbacks may use the connection again. */
static int query_each(tract_backend_conn *conn, int stmt, const struct params *p,
		      row_emit_fn emit, const struct sink *sk, int *n_rows, const char *what)
{
	PGresult *res = NULL;
	int rc = run(conn, stmt, p, false, &res, what);

	if (n_rows)
		*n_rows = rc == 0 ? PQntuples(res) : 0;
	if (rc == 0)
		rc = each_row(res, emit, sk);
	PQclear(res);
	return rc;
}

/* A query expected to give one row: ENOTFOUND (naming what) when none. */
static int query_one(tract_backend_conn *conn, int stmt, const struct params *p,
		     row_emit_fn emit, const struct sink *sk, const char *what, const char *key)
{
	int n = 0, rc = query_each(conn, stmt, p, emit, sk, &n, what);

	if (rc == 0 && n == 0)
		return fail(conn, TRACT_ENOTFOUND, "%s not found: %s", what, key);
	return rc;
}

static void read_commit(const PGresult *r, int i, tract_commit_row *c)
{
	c->commit_hash = col_text(r, i, 0);
	c->tract_id = col_text(r, i, 1);
	c->parent_hash = col_text(r, i, 2);
	c->content_hash = col_text(r, i, 3);
	c->content_type = col_text(r, i, 4);
	c->operation = tract_backend_operation_parse(col_text(r, i, 5));
	c->response_to = col_text(r, i, 6);
	c->message = col_text(r, i, 7);
	c->token_count = col_int(r, i, 8);
	c->metadata_json = col_json(r, i, 9);
	c->generation_config_json = col_json(r, i, 10);
	c->created_at = col_time(r, i, 11);
}

static int emit_blob(const PGresult *r, int i, const struct sink *sk)
{
	tract_blob_row b = {
		.content_hash = col_text(r, i, 0),
		.payload_json = col_text(r, i, 1),
		.byte_size = col_int(r, i, 2),
		.token_count = col_int(r, i, 3),
		.created_at = col_time(r, i, 4),
	};

	return sk->fn.blob(&b, sk->payload);
}

static int emit_commit(const PGresult *r, int i, const struct sink *sk)
{
	tract_commit_row c;

	read_commit(r, i, &c);
	return sk->fn.commit(&c, sk->payload);
}

static int emit_ref(const PGresult *r, int i, const struct sink *sk)
{
	tract_ref_row ref = {
		.tract_id = col_text(r, i, 0),
		.ref_name = col_text(r, i, 1),
		.commit_hash = col_text(r, i, 2),
		.symbolic_target = col_text(r, i, 3),
	};

	return sk->fn.ref(&ref, sk->payload);
}

static int emit_annotation(const PGresult *r, int i, const struct sink *sk)
{
	tract_annotation_row a = {
		.id = col_int(r, i, 0),
		.tract_id = col_text(r, i, 1),
		.target_hash = col_text(r, i, 2),
		.priority = tract_backend_priority_parse(col_text(r, i, 3)),
		.reason = col_text(r, i, 4),
		.created_at = col_time(r, i, 5),
	};

	return sk->fn.annotation(&a, sk->payload);
}

static int emit_parent(const PGresult *r, int i, const struct sink *sk)
{
	return sk->fn.parent(col_text(r, i, 0), col_text(r, i, 1), col_int(r, i, 2), sk->payload);
}

static int emit_member(const PGresult *r, int i, const struct sink *sk)
{
	return sk->fn.member(col_text(r, i, 0), col_text(r, i, 1), col_int(r, i, 2), sk->payload);
}

static int emit_compression(const PGresult *r, int i, const struct sink *sk)
{
	tract_compression_row c = {
		.compression_id = col_text(r, i, 0),
		.tract_id = col_text(r, i, 1),
		.branch_name = col_text(r, i, 2),
		.created_at = col_time(r, i, 3),
		.original_tokens = col_int(r, i, 4),
		.compressed_tokens = col_int(r, i, 5),
		.target_tokens = PQgetisnull(r, i, 6) ? -1 : col_int(r, i, 6),
		.instructions = col_text(r, i, 7),
	};

	return sk->fn.compression(&c, sk->payload);
}

static int emit_spawn(const PGresult *r, int i, const struct sink *sk)
{
	tract_spawn_row s = {
		.id = col_int(r, i, 0),
		.parent_tract_id = col_text(r, i, 1),
		.parent_commit_hash = col_text(r, i, 2),
		.child_tract_id = col_text(r, i, 3),
		.purpose = col_text(r, i, 4),
		.inheritance_mode = col_text(r, i, 5),
		.display_name = col_text(r, i, 6),
		.created_at = col_time(r, i, 7),
	};

	return sk->fn.spawn(&s, sk->payload);
}

static int emit_meta(const PGresult *r, int i, const struct sink *sk)
{
	return sk->fn.meta(col_text(r, i, 0), col_text(r, i, 1), sk->payload);
}

static int emit_tract(const PGresult *r, int i, const struct sink *sk)
{
	tract_tract_row t = {
		.tract_id = col_text(r, i, 0),
		.commit_count = col_int(r, i, 1),
		.last_activity = col_time(r, i, 2),
	};

	return sk->fn.tract(&t, sk->payload);
}

/* ---- session, schema and migration --------------------------------------- */

static void no_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Run one statement outside pipeline mode (setup only). */
static int setup_exec(tract_backend_conn *conn, const char *sql, int n, const char *const *values,
		      PGresult **out, const char *what)
{
	PGresult *res = n || out ? PQexecParams(conn->pg, sql, n, NULL, values, NULL, NULL, 0)
				 : PQexec(conn->pg, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = fail_res(conn, res, what);
	if (out && rc == 0) {
		*out = res;
		return 0;
	}
	PQclear(res);
	return rc;
}

/* Pin the search_path to the store's schema; JIT off (it only slows the
 * short statements tract runs). Outside pipeline mode. */
static int session_setup(tract_backend_conn *conn)
{
	const char *v[1] = {conn->schema_ident};
	int rc;

	if (PQpipelineStatus(conn->pg) != PQ_PIPELINE_OFF && PQexitPipelineMode(conn->pg) != 1)
		return fail(conn, TRACT_ESTORAGE, "postgres: cannot leave pipeline mode");
	rc = setup_exec(conn,
			"SELECT pg_catalog.set_config('search_path', $1, false), "
			"pg_catalog.set_config('jit', 'off', false)",
			1, v, NULL, "set up the session");
	return rc;
}

static int enter_pipeline(tract_backend_conn *conn)
{
	if (PQpipelineStatus(conn->pg) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn->pg) != 1)
		return fail(conn, TRACT_ESTORAGE, "postgres: cannot enter pipeline mode");
	return 0;
}

/* Which schema: schema=, or the first existing one of the search_path. */
static int resolve_schema(tract_backend_conn *conn)
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

static bool is_plain_integer(const char *text)
{
	size_t i;

	if (!text || !*text || strlen(text) > 9)
		return false;
	for (i = 0; text[i]; i++)
		if (text[i] < '0' || text[i] > '9')
			return false;
	return true;
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
	if (!is_plain_integer(text)) {
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
	char vbuf[16], *sql = NULL;
	const char *vv[1] = {vbuf};
	bool schema_exists, tables, layout_ok;
	int version, rc;

	rc = setup_exec(conn, "BEGIN", 0, NULL, NULL, "create the store");
	if (rc < 0)
		return rc;
	rc = setup_exec(conn, "SELECT pg_catalog.pg_advisory_xact_lock(7236, pg_catalog.hashtext($1))",
			1, v, NULL, "lock the schema");
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
	if (rc < 0 && PQtransactionStatus(conn->pg) != PQTRANS_IDLE)
		PQclear(PQexec(conn->pg, "ROLLBACK"));
	free(sql);
	return rc;
}

static int ensure_store(tract_backend_conn *conn, unsigned flags)
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

static const char *const conn_keywords[] = {"fallback_application_name", "dbname",
					    "client_encoding", NULL};

static int connect_db(tract_backend_conn *conn, const char *uri)
{
	const char *values[] = {"tract", uri, "UTF8", NULL};
	char buf[ERRLEN];
	const char *dt;

	conn->pg = PQconnectdbParams(conn_keywords, values, 1);
	if (!conn->pg)
		return oom(conn);
	if (PQstatus(conn->pg) != CONNECTION_OK)
		return fail(conn, TRACT_ESTORAGE, "postgres: cannot connect: %s",
			    conn_message(conn, buf, sizeof(buf), false));
	PQsetNoticeProcessor(conn->pg, no_notices, NULL);
	dt = PQparameterStatus(conn->pg, "integer_datetimes");
	if (!dt || strcmp(dt, "on") != 0)
		return fail(conn, TRACT_ESTORAGE,
			    "postgres: the server stores times as floating point "
			    "(integer_datetimes off), which is not supported");
	if (PQserverVersion(conn->pg) < 120000)
		return fail(conn, TRACT_ESTORAGE,
			    "postgres: server version %d is older than 12, not supported",
			    PQserverVersion(conn->pg));
	return 0;
}

/*
 * Re-establish a lost connection, retrying with growing pauses for a few
 * seconds (a server restart), then set the session up again. Statements
 * are prepared anew.
 */
static int reconnect(tract_backend_conn *conn)
{
	char buf[ERRLEN];
	int i, rc, pause = RECONNECT_FIRST_MS;

	for (i = 0; i < RECONNECT_TRIES; i++) {
		if (i > 0) {
			struct timespec ts = {pause / 1000, (long)(pause % 1000) * 1000000L};
			nanosleep(&ts, NULL);
			pause = pause * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : pause * 2;
		}
		PQreset(conn->pg);
		if (PQstatus(conn->pg) == CONNECTION_OK)
			break;
	}
	memset(conn->prepared, 0, sizeof(conn->prepared));
	if (PQstatus(conn->pg) != CONNECTION_OK)
		return fail(conn, TRACT_ESTORAGE,
			    "postgres: connection to the server lost and not re-established: %s",
			    conn_message(conn, buf, sizeof(buf), false));
	conn->poisoned = false;
	rc = session_setup(conn);
	return rc < 0 ? rc : enter_pipeline(conn);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void ref_cache_clear(tract_backend_conn *conn)
{
	size_t i;

	for (i = 0; i < conn->n_refs; i++) {
		struct ref_entry *e = &conn->refs[i];
		free(e->tract_id);
		free(e->name);
		free(e->commit);
		free(e->symbolic);
	}
	memset(conn->refs, 0, sizeof(conn->refs));
	conn->n_refs = 0;
}

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

/* ---- argument checks ----------------------------------------------------- */

#define CHECK_CONN(conn)                                                                           \
	do {                                                                                       \
		if (!(conn))                                                                       \
			return TRACT_EINVAL;                                                       \
	} while (0)

#define CHECK_ARG(conn, cond)                                                                      \
	do {                                                                                       \
		if (!(conn))                                                                       \
			return TRACT_EINVAL;                                                       \
		if (!(cond))                                                                       \
			return fail((conn), TRACT_EINVAL, "postgres: %s: invalid argument (%s)",   \
				    __func__, #cond);                                              \
	} while (0)

/* ---- transactions -------------------------------------------------------- */

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
	conn->kind = kind;
	conn->txn = TXN_QUEUED;
	conn->txn_failed = false;
	return 0;
}

static void txn_reset(tract_backend_conn *conn)
{
	queue_clear(conn);
	ref_cache_clear(conn);
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
	conn->txn_failed = false;
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

/*
 * Run ops as one unit inside the caller's transaction: a failing
 * statement is undone alone (a savepoint), so the transaction goes on, as
 * a failed statement does in SQLite. Outside a transaction the round
 * trip's implicit transaction already makes them one unit.
 */
static int run_guarded(tract_backend_conn *conn, struct op *ops, int n, const char *what)
{
	struct op all[8];
	int k, rc;

	if (conn->txn == TXN_NONE)
		return round_trip(conn, ops, n, what);
	all[0] = (struct op){.stmt = -1, .sql = "SAVEPOINT tract_guard"};
	for (k = 0; k < n; k++)
		all[k + 1] = ops[k];
	all[n + 1] = (struct op){.stmt = -1, .sql = "RELEASE SAVEPOINT tract_guard"};
	rc = round_trip(conn, all, n + 2, what);
	if (rc == 0) {
		PQclear(all[0].res);
		PQclear(all[n + 1].res);
		for (k = 0; k < n; k++)
			ops[k].res = all[k + 1].res;
		return 0;
	}
	if (conn->txn == TXN_OPEN && conn->txn_failed && !connection_lost(conn)) {
		struct op undo[2] = {
			{.stmt = -1, .sql = "ROLLBACK TO SAVEPOINT tract_guard"},
			{.stmt = -1, .sql = "RELEASE SAVEPOINT tract_guard"},
		};
		char keep[ERRLEN];
		int rc2;

		memcpy(keep, conn->err, sizeof(keep));
		conn->txn_failed = false;
		rc2 = round_trip(conn, undo, 2, what);
		if (rc2 == 0) {
			PQclear(undo[0].res);
			PQclear(undo[1].res);
			memcpy(conn->err, keep, sizeof(keep));
		} else {
			conn->txn_failed = true;
		}
	}
	return rc;
}

/* ---- blobs --------------------------------------------------------------- */

static int pg_blob_put(tract_backend_conn *conn, const tract_blob_row *row, int *inserted)
{
	struct params p = {0};
	long changed = 0;
	int rc;

	CHECK_ARG(conn, row && row->content_hash && row->payload_json);
	p_text(&p, row->content_hash);
	p_text(&p, row->payload_json);
	p_int(&p, row->byte_size);
	p_int(&p, row->token_count);
	p_time(&p, row->created_at);
	if (!inserted)
		return defer_write(conn, ST_BLOB_PUT, &p, NULL, 0, NULL);
	rc = run_write(conn, ST_BLOB_PUT, &p, &changed, "store blob");
	*inserted = rc == 0 && changed > 0;
	return rc;
}

static int pg_blob_get(tract_backend_conn *conn, const char *content_hash, tract_blob_cb cb,
		       void *payload)
{
	struct sink sk = {.fn.blob = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, content_hash && cb);
	p_text(&p, content_hash);
	return query_one(conn, ST_BLOB_GET, &p, emit_blob, &sk, "blob", content_hash);
}

static int pg_blob_foreach(tract_backend_conn *conn, tract_blob_cb cb, void *payload)
{
	struct sink sk = {.fn.blob = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return query_each(conn, ST_BLOB_ALL, NULL, emit_blob, &sk, NULL, "list blobs");
}

static int pg_blob_delete(tract_backend_conn *conn, const char *content_hash)
{
	struct params p = {0};
	struct op o;
	long n;
	int rc;

	CHECK_ARG(conn, content_hash);
	p_text(&p, content_hash);
	o = (struct op){.stmt = ST_BLOB_DELETE, .p = &p, .write = true};
	rc = run_guarded(conn, &o, 1, "delete blob");
	if (rc < 0)
		return rc;
	n = changed_rows(o.res);
	PQclear(o.res);
	if (n == 0)
		return fail(conn, TRACT_ENOTFOUND, "blob not found: %s", content_hash);
	return 0;
}

/* ---- commits ------------------------------------------------------------- */

/* Held back: its failure (EEXISTS, a missing blob or parent: ESTORAGE)
 * is reported by the call that sends it, at the latest commit(). */
static int pg_commit_put(tract_backend_conn *conn, const tract_commit_row *row)
{
	struct params p = {0};
	char ctx[160], exists[160];

	CHECK_ARG(conn, row && row->commit_hash && row->tract_id && row->content_hash &&
				row->content_type && tract_backend_operation_name(row->operation));
	p_text(&p, row->commit_hash);
	p_text(&p, row->tract_id);
	p_text(&p, row->parent_hash);
	p_text(&p, row->content_hash);
	p_text(&p, row->content_type);
	p_text(&p, tract_backend_operation_name(row->operation));
	p_text(&p, row->response_to);
	p_text(&p, row->message);
	p_int(&p, row->token_count);
	p_text(&p, row->metadata_json ? row->metadata_json : "null");
	p_text(&p, row->generation_config_json ? row->generation_config_json : "null");
	p_time(&p, row->created_at);
	snprintf(ctx, sizeof(ctx), "commit %.64s refused: its blob or a commit it names is missing",
		 row->commit_hash);
	snprintf(exists, sizeof(exists), "postgres: commit already exists: %.64s",
		 row->commit_hash);
	return defer_write(conn, ST_COMMIT_PUT, &p, ctx, TRACT_EEXISTS, exists);
}

static int pg_commit_get(tract_backend_conn *conn, const char *tract_id, const char *commit_hash,
			 tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, commit_hash && cb);
	p_text(&p, commit_hash);
	p_text(&p, tract_id);
	return query_one(conn, ST_COMMIT_GET, &p, emit_commit, &sk, "commit", commit_hash);
}

static int pg_commit_prefix(tract_backend_conn *conn, const char *tract_id, const char *prefix,
			    size_t max, tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};
	struct params p = {0};
	char upper[256];
	bool bounded;

	CHECK_ARG(conn, prefix && *prefix && cb);
	if (strlen(prefix) >= 200 || !utf8_valid(prefix))
		return 0; /* longer than any hash, or no stored text: matches nothing */
	bounded = prefix_upper(prefix, upper, sizeof(upper));
	p_text(&p, prefix);
	if (bounded)
		p_text(&p, upper);
	p_text(&p, tract_id);
	if (max > 0 && max < INT64_MAX)
		p_int(&p, (int64_t)max);
	else
		p_null(&p);
	return query_each(conn, bounded ? ST_COMMIT_PREFIX : ST_COMMIT_PREFIX_OPEN, &p,
			  emit_commit, &sk, NULL, "look up prefix");
}

/* Iterate one of the (all, one tract) statement pairs. */
static int foreach_scoped(tract_backend_conn *conn, int all, int scoped, const char *scope,
			  row_emit_fn emit, const struct sink *sk, const char *what)
{
	struct params p = {0};

	if (!scope)
		return query_each(conn, all, NULL, emit, sk, NULL, what);
	p_text(&p, scope);
	return query_each(conn, scoped, &p, emit, sk, NULL, what);
}

static int pg_commit_foreach(tract_backend_conn *conn, const char *tract_id, tract_commit_cb cb,
			     void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_COMMIT_ALL, ST_COMMIT_TRACT, tract_id, emit_commit, &sk,
			      "list commits");
}

static int pg_commit_foreach_with_config(tract_backend_conn *conn, const char *tract_id,
					 tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_COMMIT_CONFIG_ALL, ST_COMMIT_CONFIG_TRACT, tract_id,
			      emit_commit, &sk, "list commits");
}

static int pg_commit_delete(tract_backend_conn *conn, const char *commit_hash)
{
	struct params p = {0};
	struct op o[2];
	long n;
	int rc;

	CHECK_ARG(conn, commit_hash);
	p_text(&p, commit_hash);
	o[0] = (struct op){.stmt = ST_PARENT_DELETE_CHILD, .p = &p, .write = true};
	o[1] = (struct op){.stmt = ST_COMMIT_DELETE, .p = &p, .write = true};
	rc = run_guarded(conn, o, 2, "delete commit");
	if (rc < 0)
		return rc;
	n = changed_rows(o[1].res);
	PQclear(o[0].res);
	PQclear(o[1].res);
	if (n == 0)
		return fail(conn, TRACT_ENOTFOUND, "commit not found: %s", commit_hash);
	return 0;
}

/* ---- chain walk ---------------------------------------------------------- */

static char *chain_cte_sql(unsigned flags)
{
	size_t n = sizeof(chain_cte_head) + sizeof(chain_cte_payload) + sizeof(chain_cte_priority) +
		   sizeof(chain_cte_parents) + sizeof(chain_cte_from) + sizeof(chain_cte_join);
	char *sql = malloc(n);

	if (!sql)
		return NULL;
	strcpy(sql, chain_cte_head);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_cte_payload);
	if (flags & TRACT_CHAIN_PRIORITY)
		strcat(sql, chain_cte_priority);
	if (flags & TRACT_CHAIN_PARENTS)
		strcat(sql, chain_cte_parents);
	strcat(sql, chain_cte_from);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_cte_join);
	return sql;
}

static char *chain_scan_sql(unsigned flags)
{
	size_t n = sizeof(chain_scan_head) + sizeof(chain_scan_payload) +
		   sizeof(chain_scan_priority) + sizeof(chain_scan_parents) +
		   sizeof(chain_scan_from) + sizeof(chain_scan_join_payload) +
		   sizeof(chain_scan_join_priority) + sizeof(chain_scan_join_parents) +
		   sizeof(chain_scan_where);
	char *sql = malloc(n);

	if (!sql)
		return NULL;
	strcpy(sql, chain_scan_head);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_scan_payload);
	if (flags & TRACT_CHAIN_PRIORITY)
		strcat(sql, chain_scan_priority);
	if (flags & TRACT_CHAIN_PARENTS)
		strcat(sql, chain_scan_parents);
	strcat(sql, chain_scan_from);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_scan_join_payload);
	if (flags & TRACT_CHAIN_PRIORITY)
		strcat(sql, chain_scan_join_priority);
	if (flags & TRACT_CHAIN_PARENTS)
		strcat(sql, chain_scan_join_parents);
	strcat(sql, chain_scan_where);
	return sql;
}

/* Per-walk scratch for the merge parents of the current row. */
struct parent_list {
	char *text;
	size_t cap;
	const char **items;
	size_t items_cap, n;
};

static void parent_list_free(struct parent_list *pl)
{
	free(pl->text);
	free(pl->items);
}

/* Split the packed merge parents (already in position order). */
static int split_parents(struct parent_list *pl, const char *packed)
{
	size_t len, count = 1, i;
	char *s;

	pl->n = 0;
	if (!packed || !*packed)
		return 0;
	len = strlen(packed);
	for (i = 0; i < len; i++)
		count += packed[i] == PARENT_SEP;
	if (len + 1 > pl->cap) {
		char *t = realloc(pl->text, len + 1);
		if (!t)
			return TRACT_ENOMEM;
		pl->text = t;
		pl->cap = len + 1;
	}
	if (count > pl->items_cap) {
		const char **it = realloc(pl->items, count * sizeof(*it));
		if (!it)
			return TRACT_ENOMEM;
		pl->items = it;
		pl->items_cap = count;
	}
	memcpy(pl->text, packed, len + 1);
	pl->items[pl->n++] = pl->text;
	for (s = pl->text; *s; s++) {
		if (*s == PARENT_SEP) {
			*s = '\0';
			pl->items[pl->n++] = s + 1;
		}
	}
	return 0;
}

/* Decode one chain row: the commit in columns 0-11, the extras from
 * column first on, in flag order. */
static int read_chain_row(tract_backend_conn *conn, const PGresult *r, int i, unsigned flags,
			  int first, struct parent_list *pl, tract_chain_row *row)
{
	int col = first;

	memset(row, 0, sizeof(*row));
	read_commit(r, i, &row->commit);
	row->priority = TRACT_PRIORITY_NONE;
	if (flags & TRACT_CHAIN_PAYLOAD)
		row->payload_json = col_text(r, i, col++);
	if (flags & TRACT_CHAIN_PRIORITY)
		row->priority = tract_backend_priority_parse(col_text(r, i, col++));
	if (flags & TRACT_CHAIN_PARENTS) {
		if (split_parents(pl, col_text(r, i, col++)) < 0)
			return oom(conn);
		row->extra_parents = pl->items;
		row->n_extra_parents = pl->n;
	}
	return 0;
}

/* What a walk handed over, for the switch to the scan. */
struct walk_probe {
	size_t rows;
	bool stopped;
	char *parent; /* parent_hash of the last row (malloc'd), if any */
};

/* The recursive CTE walk of at most limit rows (0: no limit). */
static int walk_cte(tract_backend_conn *conn, const char *tract_id, const char *head,
		    size_t limit, unsigned flags, tract_time cutoff, tract_chain_cb cb,
		    void *payload, struct walk_probe *probe)
{
	struct parent_list pl = {0};
	struct params p = {0};
	tract_chain_row row;
	PGresult *res = NULL;
	int *order = NULL, n, i, rc;

	if (!conn->chain_sql[flags]) {
		conn->chain_sql[flags] = chain_cte_sql(flags);
		if (!conn->chain_sql[flags])
			return oom(conn);
	}
	p_text(&p, head);
	p_text(&p, tract_id);
	p_int(&p, limit > 0 && limit < INT64_MAX ? (int64_t)limit : INT64_MAX);
	if (flags & TRACT_CHAIN_PRIORITY)
		p_cutoff(&p, cutoff);
	else
		p_null(&p);
	rc = run(conn, ST_COUNT + (int)flags, &p, false, &res, "walk history");
	if (rc < 0)
		return rc;
	n = PQntuples(res);
	order = malloc((size_t)(n ? n : 1) * sizeof(*order));
	if (!order) {
		rc = oom(conn);
		goto done;
	}
	for (i = 0; i < n; i++)
		order[i] = -1;
	for (i = 0; i < n; i++) {
		int64_t d = col_int(res, i, 12);
		if (d < 0 || d >= n || order[d] >= 0) {
			rc = fail(conn, TRACT_ESTORAGE, "postgres: chain rows out of order");
			goto done;
		}
		order[d] = i;
	}
	for (i = 0; i < n; i++) {
		rc = read_chain_row(conn, res, order[i], flags, 13, &pl, &row);
		if (rc == 0 && probe && i == n - 1 && row.commit.parent_hash) {
			probe->parent = strdup(row.commit.parent_hash);
			if (!probe->parent)
				rc = oom(conn);
		}
		if (rc == 0)
			rc = cb(&row, payload);
		if (probe) {
			probe->rows++;
			probe->stopped = rc != 0;
		}
		if (rc != 0) {
			rc = rc < 0 ? rc : 0;
			goto done;
		}
	}
done:
	free(order);
	parent_list_free(&pl);
	PQclear(res);
	return rc;
}

/* A fast hash of a string (commit hashes are 64 hex digits). */
static uint64_t hash_str(const char *s)
{
	uint64_t h = UINT64_C(1469598103934665603);

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
	return h ^ (h >> 29);
}

/*
 * The rest of a long walk from start: one scan of the tract's commits
 * inserted no later than start, then the first parents followed through
 * them in memory. A parent the scan does not hold is in another tract (or
 * missing): the walk ends there, as the CTE's would.
 */
static int walk_scan(tract_backend_conn *conn, const char *tract_id, const char *start,
		     unsigned flags, tract_time cutoff, tract_chain_cb cb, void *payload)
{
	static const char *const types[] = {"tt", "ttz"};
	struct parent_list pl = {0};
	struct params p = {0};
	tract_chain_row row;
	struct op o = {.stmt = -1};
	size_t size = 16, mask, j;
	int *slots = NULL, n, i, rc;
	const char *next = start;
	int64_t last_seq = INT64_MAX;
	char *sql = chain_scan_sql(flags);

	if (!sql)
		return oom(conn);
	p_text(&p, start);
	p_text(&p, tract_id);
	if (flags & TRACT_CHAIN_PRIORITY)
		p_cutoff(&p, cutoff);
	o.sql = sql;
	o.types = types[(flags & TRACT_CHAIN_PRIORITY) ? 1 : 0];
	o.p = &p;
	rc = round_trip(conn, &o, 1, "walk history");
	free(sql);
	if (rc < 0)
		return rc;
	n = PQntuples(o.res);
	while (size < 2 * (size_t)n)
		size *= 2;
	mask = size - 1;
	slots = malloc(size * sizeof(*slots));
	if (!slots) {
		rc = oom(conn);
		goto done;
	}
	for (j = 0; j < size; j++)
		slots[j] = -1;
	for (i = 0; i < n; i++) {
		for (j = hash_str(PQgetvalue(o.res, i, 0)) & mask; slots[j] >= 0; j = (j + 1) & mask)
			;
		slots[j] = i;
	}
	while (next) {
		int at = -1;
		int64_t seq;

		for (j = hash_str(next) & mask; slots[j] >= 0; j = (j + 1) & mask) {
			if (strcmp(PQgetvalue(o.res, slots[j], 0), next) == 0) {
				at = slots[j];
				break;
			}
		}
		if (at < 0)
			break;
		seq = col_int(o.res, at, 12);
		if (seq >= last_seq) {
			rc = fail(conn, TRACT_ECORRUPT,
				  "postgres: commit %s is not older than its child (a parent cycle?)",
				  next);
			goto done;
		}
		last_seq = seq;
		rc = read_chain_row(conn, o.res, at, flags, 13, &pl, &row);
		if (rc == 0)
			rc = cb(&row, payload);
		if (rc != 0) {
			rc = rc < 0 ? rc : 0;
			goto done;
		}
		next = row.commit.parent_hash;
	}
done:
	free(slots);
	parent_list_free(&pl);
	PQclear(o.res);
	return rc;
}

/*
 * The chain walk. With a limit (log -n 20) or across tracts it is the
 * recursive CTE alone: its cost follows the rows asked for. Without a
 * limit (compile), the CTE hands over the first CHAIN_PROBE_ROWS rows and
 * a longer chain goes on with one scan of the tract: a step of the
 * recursive CTE costs a primary-key lookup and a pass of the executor
 * (~4 µs here), while the scan reads the tract's rows in one go and lets
 * the planner join the blobs wholesale.
 */
static int pg_commit_chain(tract_backend_conn *conn, const char *tract_id, const char *head,
			   size_t limit, unsigned flags, tract_time annotation_cutoff,
			   tract_chain_cb cb, void *payload)
{
	unsigned variant = flags & (TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS |
				    TRACT_CHAIN_PRIORITY);
	struct walk_probe probe = {0};
	int rc;

	CHECK_ARG(conn, head && cb);
	if (limit > 0 || !tract_id)
		return walk_cte(conn, tract_id, head, limit, variant, annotation_cutoff, cb,
				payload, NULL);
	rc = walk_cte(conn, tract_id, head, CHAIN_PROBE_ROWS, variant, annotation_cutoff, cb,
		      payload, &probe);
	if (rc == 0 && !probe.stopped && probe.rows == CHAIN_PROBE_ROWS && probe.parent)
		rc = walk_scan(conn, tract_id, probe.parent, variant, annotation_cutoff, cb,
			       payload);
	free(probe.parent);
	return rc;
}

/* ---- merge parents ------------------------------------------------------- */

static int pg_parent_put(tract_backend_conn *conn, const char *commit_hash,
			 const char *parent_hash, int64_t position)
{
	struct params p = {0};
	long changed = 0;
	int rc;

	CHECK_ARG(conn, commit_hash && parent_hash && position >= 0);
	p_text(&p, commit_hash);
	p_text(&p, parent_hash);
	p_int(&p, position);
	rc = run_write(conn, ST_PARENT_PUT, &p, &changed, "store merge parent");
	if (rc == 0 && changed != 1)
		return fail(conn, TRACT_ESTORAGE,
			    "postgres: merge parent %s of %s refused: already recorded, or a "
			    "commit is missing",
			    parent_hash, commit_hash);
	return rc;
}

static int pg_parent_list(tract_backend_conn *conn, const char *commit_hash, tract_parent_cb cb,
			  void *payload)
{
	struct sink sk = {.fn.parent = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, commit_hash && cb);
	p_text(&p, commit_hash);
	return query_each(conn, ST_PARENT_LIST, &p, emit_parent, &sk, NULL, "list parents");
}

static int pg_parent_foreach(tract_backend_conn *conn, tract_parent_cb cb, void *payload)
{
	struct sink sk = {.fn.parent = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return query_each(conn, ST_PARENT_ALL, NULL, emit_parent, &sk, NULL, "list parents");
}

/* ---- refs ---------------------------------------------------------------- */

static struct ref_entry *ref_cache_find(tract_backend_conn *conn, const char *tract_id,
					const char *name)
{
	size_t i;

	for (i = 0; i < conn->n_refs; i++)
		if (strcmp(conn->refs[i].name, name) == 0 &&
		    strcmp(conn->refs[i].tract_id, tract_id) == 0)
			return &conn->refs[i];
	return NULL;
}

static void ref_cache_drop(tract_backend_conn *conn, const char *tract_id, const char *name)
{
	struct ref_entry *e = ref_cache_find(conn, tract_id, name);

	if (!e)
		return;
	free(e->tract_id);
	free(e->name);
	free(e->commit);
	free(e->symbolic);
	*e = conn->refs[--conn->n_refs];
	memset(&conn->refs[conn->n_refs], 0, sizeof(*e));
}

/* Remember a ref's value (exists false: known to be absent). Only inside
 * a transaction; a full cache simply stops remembering. */
static void ref_cache_put(tract_backend_conn *conn, const char *tract_id, const char *name,
			  bool exists, const char *commit, const char *symbolic)
{
	struct ref_entry *e;

	if (conn->txn == TXN_NONE)
		return;
	ref_cache_drop(conn, tract_id, name);
	if (conn->n_refs == REF_CACHE)
		return;
	e = &conn->refs[conn->n_refs];
	e->tract_id = strdup(tract_id);
	e->name = strdup(name);
	e->commit = commit ? strdup(commit) : NULL;
	e->symbolic = symbolic ? strdup(symbolic) : NULL;
	e->exists = exists;
	if (!e->tract_id || !e->name || (commit && !e->commit) || (symbolic && !e->symbolic)) {
		free(e->tract_id);
		free(e->name);
		free(e->commit);
		free(e->symbolic);
		memset(e, 0, sizeof(*e));
		return;
	}
	conn->n_refs++;
}

static int pg_ref_get(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		      tract_ref_cb cb, void *payload)
{
	struct ref_entry *e;
	struct params p = {0};
	PGresult *res = NULL;
	const char *sym = NULL;
	int i, n, found = -1, rc;

	CHECK_ARG(conn, tract_id && ref_name && cb);
	e = ref_cache_find(conn, tract_id, ref_name);
	if (e) {
		tract_ref_row r = {tract_id, ref_name, e->commit, e->symbolic};
		if (!e->exists)
			return fail(conn, TRACT_ENOTFOUND, "ref not found: %s", ref_name);
		rc = cb(&r, payload);
		return rc < 0 ? rc : 0;
	}
	p_text(&p, tract_id);
	p_text(&p, ref_name);
	/* A write transaction locks the refs it reads until it ends: a second
	 * writer of the same branch waits here and then reads the new head. */
	rc = run(conn,
		 conn->txn != TXN_NONE && conn->kind == TRACT_TXN_WRITE ? ST_REF_GET_LOCK
									 : ST_REF_GET,
		 &p, false, &res, "read ref");
	if (rc < 0)
		return rc;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		const char *name = col_text(res, i, 1);
		ref_cache_put(conn, tract_id, name, true, col_text(res, i, 2), col_text(res, i, 3));
		if (strcmp(name, ref_name) == 0) {
			found = i;
			sym = col_text(res, i, 3);
		}
	}
	if (found < 0) {
		ref_cache_put(conn, tract_id, ref_name, false, NULL, NULL);
		PQclear(res);
		return fail(conn, TRACT_ENOTFOUND, "ref not found: %s", ref_name);
	}
	if (sym && !ref_cache_find(conn, tract_id, sym))
		ref_cache_put(conn, tract_id, sym, false, NULL, NULL);
	{
		tract_ref_row r = {col_text(res, found, 0), col_text(res, found, 1),
				   col_text(res, found, 2), col_text(res, found, 3)};
		rc = cb(&r, payload);
	}
	PQclear(res);
	return rc < 0 ? rc : 0;
}

/* Held back: a lost compare-and-swap (ESTALE) or a missing commit
 * (ESTORAGE) is reported by the call that sends it, at the latest
 * commit(); nothing of the transaction is then written. */
static int pg_ref_cas(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		      const char *commit_hash, const char *symbolic_target,
		      const tract_ref_row *expected)
{
	struct params p = {0};
	char ctx[600], stale[600];
	int rc;

	CHECK_ARG(conn, tract_id && ref_name && (!commit_hash != !symbolic_target));
	p_text(&p, tract_id);
	p_text(&p, ref_name);
	p_text(&p, commit_hash);
	p_text(&p, symbolic_target);
	if (expected) {
		p_text(&p, expected->commit_hash);
		p_text(&p, expected->symbolic_target);
	}
	snprintf(ctx, sizeof(ctx), "ref %.255s: commit %.64s does not exist", ref_name,
		 commit_hash ? commit_hash : "");
	snprintf(stale, sizeof(stale),
		 "ref %.255s of tract %.64s already exists (compare-and-swap lost)", ref_name,
		 tract_id);
	rc = defer_write(conn, expected ? ST_REF_MOVE : ST_REF_INSERT, &p, ctx, TRACT_ESTALE,
			 stale);
	if (rc == 0)
		ref_cache_put(conn, tract_id, ref_name, true, commit_hash, symbolic_target);
	else
		ref_cache_drop(conn, tract_id, ref_name);
	return rc;
}

static int pg_ref_delete(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
			 const tract_ref_row *expected)
{
	struct params p = {0};
	PGresult *res = NULL;
	long changed = 0;
	bool exists;
	int rc;

	CHECK_ARG(conn, tract_id && ref_name);
	ref_cache_drop(conn, tract_id, ref_name);
	p_text(&p, tract_id);
	p_text(&p, ref_name);
	p_int(&p, expected != NULL);
	p_text(&p, expected ? expected->commit_hash : NULL);
	p_text(&p, expected ? expected->symbolic_target : NULL);
	rc = run_write(conn, ST_REF_DELETE, &p, &changed, "delete ref");
	if (rc < 0 || changed > 0)
		return rc;
	p.n = 0;
	p_text(&p, tract_id);
	p_text(&p, ref_name);
	rc = run(conn, ST_REF_EXISTS, &p, false, &res, "delete ref");
	if (rc < 0)
		return rc;
	exists = col_bool(res, 0, 0);
	PQclear(res);
	if (exists)
		return fail(conn, TRACT_ESTALE, "ref %s of tract %s moved (compare-and-swap lost)",
			    ref_name, tract_id);
	return fail(conn, TRACT_ENOTFOUND, "ref not found: %s", ref_name);
}

/* Bind a literal prefix range from column lo on: true when bounded. */
static bool p_prefix(struct params *p, const char *prefix, char *buf, size_t len)
{
	p_text(p, prefix ? prefix : "");
	if (prefix && prefix_upper(prefix, buf, len)) {
		p_text(p, buf);
		return true;
	}
	return false;
}

static int pg_ref_foreach(tract_backend_conn *conn, const char *tract_id, const char *prefix,
			  tract_ref_cb cb, void *payload)
{
	struct sink sk = {.fn.ref = cb, .payload = payload};
	struct params p = {0};
	char upper[512];
	bool bounded;

	CHECK_ARG(conn, cb);
	if (prefix && (strlen(prefix) >= 500 || !utf8_valid(prefix)))
		return 0; /* longer than any ref name, or no stored text */
	if (tract_id)
		p_text(&p, tract_id);
	bounded = p_prefix(&p, prefix, upper, sizeof(upper));
	return query_each(conn,
			  tract_id ? (bounded ? ST_REF_TRACT : ST_REF_TRACT_OPEN)
				   : (bounded ? ST_REF_ALL : ST_REF_ALL_OPEN),
			  &p, emit_ref, &sk, NULL, "list refs");
}

/* ---- annotations --------------------------------------------------------- */

static int pg_annotation_put(tract_backend_conn *conn, const tract_annotation_row *row,
			     int64_t *out_id)
{
	struct params p = {0};
	PGresult *res = NULL;
	int rc;

	CHECK_ARG(conn, row && row->tract_id && row->target_hash && tract_backend_priority_name(row->priority));
	p_text(&p, row->tract_id);
	p_text(&p, row->target_hash);
	p_text(&p, tract_backend_priority_name(row->priority));
	p_text(&p, row->reason);
	p_time(&p, row->created_at);
	if (!out_id) {
		char ctx[ERRLEN];
		snprintf(ctx, sizeof(ctx), "annotation target commit not found: %s",
			 row->target_hash);
		return defer_write(conn, ST_ANN_PUT_DEFERRED, &p, ctx, 0, NULL);
	}
	rc = run(conn, ST_ANN_PUT, &p, true, &res, "store annotation");
	if (rc < 0)
		return rc;
	if (PQntuples(res) != 1)
		rc = fail(conn, TRACT_ESTORAGE, "postgres: annotation target commit not found: %s",
			  row->target_hash);
	else
		*out_id = col_int(res, 0, 0);
	PQclear(res);
	return rc;
}

static int pg_annotation_list(tract_backend_conn *conn, const char *target_hash,
			      tract_annotation_cb cb, void *payload)
{
	struct sink sk = {.fn.annotation = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, target_hash && cb);
	p_text(&p, target_hash);
	return query_each(conn, ST_ANN_LIST, &p, emit_annotation, &sk, NULL, "list annotations");
}

static int pg_annotation_foreach(tract_backend_conn *conn, const char *tract_id,
				 tract_annotation_cb cb, void *payload)
{
	struct sink sk = {.fn.annotation = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_ANN_ALL, ST_ANN_TRACT, tract_id, emit_annotation, &sk,
			      "list annotations");
}

static int pg_annotation_delete_target(tract_backend_conn *conn, const char *target_hash)
{
	struct params p = {0};

	CHECK_ARG(conn, target_hash);
	p_text(&p, target_hash);
	return run_write(conn, ST_ANN_DELETE_TARGET, &p, NULL, "delete annotations");
}

/* ---- compression records ------------------------------------------------- */

static int pg_compression_put(tract_backend_conn *conn, const tract_compression_row *row)
{
	struct params p = {0};
	long changed = 0;
	int rc;

	CHECK_ARG(conn, row && row->compression_id && row->tract_id);
	p_text(&p, row->compression_id);
	p_text(&p, row->tract_id);
	p_text(&p, row->branch_name);
	p_time(&p, row->created_at);
	p_int(&p, row->original_tokens);
	p_int(&p, row->compressed_tokens);
	if (row->target_tokens < 0)
		p_null(&p);
	else
		p_int(&p, row->target_tokens);
	p_text(&p, row->instructions);
	rc = run_write(conn, ST_COMP_PUT, &p, &changed, "store compression record");
	if (rc == 0 && changed != 1)
		return fail(conn, TRACT_ESTORAGE, "postgres: compression record already exists: %s",
			    row->compression_id);
	return rc;
}

static bool valid_side(tract_compression_side side)
{
	return side == TRACT_COMPRESSION_SOURCES || side == TRACT_COMPRESSION_RESULTS;
}

static int pg_compression_member_put(tract_backend_conn *conn, tract_compression_side side,
				     const char *compression_id, const char *commit_hash,
				     int64_t position)
{
	struct params p = {0};
	long changed = 0;
	int rc;

	CHECK_ARG(conn, valid_side(side) && compression_id && commit_hash);
	p_text(&p, compression_id);
	p_text(&p, commit_hash);
	p_int(&p, position);
	rc = run_write(conn,
		       side == TRACT_COMPRESSION_SOURCES ? ST_COMP_SOURCE_PUT : ST_COMP_RESULT_PUT,
		       &p, &changed, "store compression member");
	if (rc == 0 && changed != 1)
		return fail(conn, TRACT_ESTORAGE,
			    "postgres: compression member %s of %s refused: already recorded, or "
			    "the record or the commit is missing",
			    commit_hash, compression_id);
	return rc;
}

static int pg_compression_get(tract_backend_conn *conn, const char *compression_id,
			      tract_compression_cb cb, void *payload)
{
	struct sink sk = {.fn.compression = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, compression_id && cb);
	p_text(&p, compression_id);
	return query_one(conn, ST_COMP_GET, &p, emit_compression, &sk, "compression record",
			 compression_id);
}

static int pg_compression_foreach(tract_backend_conn *conn, const char *tract_id,
				  tract_compression_cb cb, void *payload)
{
	struct sink sk = {.fn.compression = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_COMP_ALL, ST_COMP_TRACT, tract_id, emit_compression, &sk,
			      "list compression records");
}

static int pg_compression_members(tract_backend_conn *conn, tract_compression_side side,
				  const char *compression_id, tract_member_cb cb, void *payload)
{
	struct sink sk = {.fn.member = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, valid_side(side) && compression_id && cb);
	p_text(&p, compression_id);
	return query_each(conn,
			  side == TRACT_COMPRESSION_SOURCES ? ST_COMP_SOURCES : ST_COMP_RESULTS, &p,
			  emit_member, &sk, NULL, "list compression members");
}

static int pg_compression_delete(tract_backend_conn *conn, const char *compression_id)
{
	struct params p = {0};
	struct op o[3];
	long n;
	int rc, k;

	CHECK_ARG(conn, compression_id);
	p_text(&p, compression_id);
	o[0] = (struct op){.stmt = ST_COMP_SOURCES_DELETE, .p = &p, .write = true};
	o[1] = (struct op){.stmt = ST_COMP_RESULTS_DELETE, .p = &p, .write = true};
	o[2] = (struct op){.stmt = ST_COMP_DELETE, .p = &p, .write = true};
	rc = run_guarded(conn, o, 3, "delete compression record");
	if (rc < 0)
		return rc;
	n = changed_rows(o[2].res);
	for (k = 0; k < 3; k++)
		PQclear(o[k].res);
	if (n == 0)
		return fail(conn, TRACT_ENOTFOUND, "compression record not found: %s",
			    compression_id);
	return 0;
}

/* ---- spawn pointers ------------------------------------------------------ */

static int pg_spawn_put(tract_backend_conn *conn, const tract_spawn_row *row, int64_t *out_id)
{
	struct params p = {0};
	PGresult *res = NULL;
	int rc;

	CHECK_ARG(conn, row && row->parent_tract_id && row->child_tract_id && row->purpose &&
				row->inheritance_mode);
	p_text(&p, row->parent_tract_id);
	p_text(&p, row->parent_commit_hash);
	p_text(&p, row->child_tract_id);
	p_text(&p, row->purpose);
	p_text(&p, row->inheritance_mode);
	p_text(&p, row->display_name);
	p_time(&p, row->created_at);
	rc = run(conn, ST_SPAWN_PUT, &p, true, &res, "store spawn pointer");
	if (rc < 0)
		return rc;
	if (PQntuples(res) != 1)
		rc = fail(conn, TRACT_ESTORAGE, "postgres: spawn pointer: commit %s does not exist",
			  row->parent_commit_hash);
	else if (out_id)
		*out_id = col_int(res, 0, 0);
	PQclear(res);
	return rc;
}

static int pg_spawn_foreach(tract_backend_conn *conn, const char *parent_tract_id,
			    tract_spawn_cb cb, void *payload)
{
	struct sink sk = {.fn.spawn = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_SPAWN_ALL, ST_SPAWN_PARENT, parent_tract_id, emit_spawn,
			      &sk, "list spawn pointers");
}

static int pg_spawn_by_child(tract_backend_conn *conn, const char *child_tract_id,
			     tract_spawn_cb cb, void *payload)
{
	struct sink sk = {.fn.spawn = cb, .payload = payload};

	CHECK_ARG(conn, child_tract_id && cb);
	return foreach_scoped(conn, ST_SPAWN_CHILD, ST_SPAWN_CHILD, child_tract_id, emit_spawn,
			      &sk, "list spawn pointers");
}

static int pg_spawn_delete(tract_backend_conn *conn, int64_t id)
{
	struct params p = {0};
	long changed = 0;
	int rc;

	CHECK_CONN(conn);
	p_int(&p, id);
	rc = run_write(conn, ST_SPAWN_DELETE, &p, &changed, "delete spawn pointer");
	if (rc == 0 && changed == 0)
		return fail(conn, TRACT_ENOTFOUND, "spawn pointer not found: %" PRId64, id);
	return rc;
}

/* ---- store metadata ------------------------------------------------------ */

static int pg_meta_get(tract_backend_conn *conn, const char *key, tract_meta_cb cb,
		       void *payload)
{
	struct sink sk = {.fn.meta = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, key && cb);
	p_text(&p, key);
	return query_one(conn, ST_META_GET, &p, emit_meta, &sk, "metadata key", key);
}

static int pg_meta_set(tract_backend_conn *conn, const char *key, const char *value)
{
	struct params p = {0};

	CHECK_ARG(conn, key && value);
	p_text(&p, key);
	p_text(&p, value);
	return defer_write(conn, ST_META_SET, &p, NULL, 0, NULL);
}

static int pg_meta_delete(tract_backend_conn *conn, const char *key)
{
	struct params p = {0};
	long changed = 0;
	int rc;

	CHECK_ARG(conn, key);
	p_text(&p, key);
	rc = run_write(conn, ST_META_DELETE, &p, &changed, "delete metadata");
	if (rc == 0 && changed == 0)
		return fail(conn, TRACT_ENOTFOUND, "metadata key not found: %s", key);
	return rc;
}

static int pg_meta_foreach(tract_backend_conn *conn, const char *prefix, tract_meta_cb cb,
			   void *payload)
{
	struct sink sk = {.fn.meta = cb, .payload = payload};
	struct params p = {0};
	char upper[512];
	bool bounded;

	CHECK_ARG(conn, cb);
	if (prefix && (strlen(prefix) >= 500 || !utf8_valid(prefix)))
		return 0; /* longer than any key, or no stored text */
	bounded = p_prefix(&p, prefix, upper, sizeof(upper));
	return query_each(conn, bounded ? ST_META_RANGE : ST_META_RANGE_OPEN, &p, emit_meta, &sk,
			  NULL, "list metadata");
}

/* ---- tracts -------------------------------------------------------------- */

static int pg_tract_foreach(tract_backend_conn *conn, tract_tract_cb cb, void *payload)
{
	struct sink sk = {.fn.tract = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return query_each(conn, ST_TRACTS, NULL, emit_tract, &sk, NULL, "list tracts");
}

/* ---- entry --------------------------------------------------------------- */

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
};

__attribute__((visibility("default"))) const tract_backend *tract_backend_entry(void);

const tract_backend *tract_backend_entry(void)
{
	return &postgres_backend;
}
