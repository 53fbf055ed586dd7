/*
 * sqlite.c - the SQLite storage backend (tract-backend-sqlite.so).
 *
 * The schema is exactly tract's schema version 4 (spec/core.md §1.6), so
 * files written by tract's Python library open unchanged; versions 1-3
 * migrate forward on open. Statements are prepared once per connection.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tract/common.h"
#include "tract/sys/backend.h"

#define SCHEMA_VERSION 4
#define ERRLEN 512
/* Separator of the merge parents packed by the chain walk (ASCII US). */
#define PARENT_SEP '\x1f'

/* ---- schema --------------------------------------------------------------- */

#define DDL_V1                                                                                     \
	"CREATE TABLE IF NOT EXISTS blobs (\n"                                                     \
	"\tcontent_hash VARCHAR(64) NOT NULL,\n"                                                   \
	"\tpayload_json TEXT NOT NULL,\n"                                                          \
	"\tbyte_size INTEGER NOT NULL,\n"                                                          \
	"\ttoken_count INTEGER NOT NULL,\n"                                                        \
	"\tcreated_at DATETIME NOT NULL,\n"                                                        \
	"\tPRIMARY KEY (content_hash)\n"                                                           \
	");\n"                                                                                     \
	"CREATE TABLE IF NOT EXISTS _trace_meta (\n"                                               \
	"\t\"key\" VARCHAR(255) NOT NULL,\n"                                                       \
	"\tvalue TEXT NOT NULL,\n"                                                                 \
	"\tPRIMARY KEY (\"key\")\n"                                                                \
	");\n"                                                                                     \
	"CREATE TABLE IF NOT EXISTS commits (\n"                                                   \
	"\tcommit_hash VARCHAR(64) NOT NULL,\n"                                                    \
	"\ttract_id VARCHAR(64) NOT NULL,\n"                                                       \
	"\tparent_hash VARCHAR(64),\n"                                                             \
	"\tcontent_hash VARCHAR(64) NOT NULL,\n"                                                   \
	"\tcontent_type VARCHAR(50) NOT NULL,\n"                                                   \
	"\toperation VARCHAR(6) NOT NULL,\n"                                                       \
	"\tresponse_to VARCHAR(64),\n"                                                             \
	"\tmessage TEXT,\n"                                                                        \
	"\ttoken_count INTEGER NOT NULL,\n"                                                        \
	"\tmetadata_json JSON,\n"                                                                  \
	"\tgeneration_config_json JSON,\n"                                                         \
	"\tcreated_at DATETIME NOT NULL,\n"                                                        \
	"\tPRIMARY KEY (commit_hash),\n"                                                           \
	"\tFOREIGN KEY(parent_hash) REFERENCES commits (commit_hash) ON DELETE SET NULL,\n"        \
	"\tFOREIGN KEY(content_hash) REFERENCES blobs (content_hash),\n"                           \
	"\tFOREIGN KEY(response_to) REFERENCES commits (commit_hash) ON DELETE SET NULL\n"         \
	");\n"                                                                                     \
	"CREATE INDEX IF NOT EXISTS ix_commits_response_to ON commits (response_to);\n"            \
	"CREATE INDEX IF NOT EXISTS ix_commits_tract_type ON commits (tract_id, content_type);\n"  \
	"CREATE INDEX IF NOT EXISTS ix_commits_tract_id ON commits (tract_id);\n"                  \
	"CREATE INDEX IF NOT EXISTS ix_commits_tract_time ON commits (tract_id, created_at);\n"    \
	"CREATE TABLE IF NOT EXISTS refs (\n"                                                      \
	"\ttract_id VARCHAR(64) NOT NULL,\n"                                                       \
	"\tref_name VARCHAR(255) NOT NULL,\n"                                                      \
	"\tcommit_hash VARCHAR(64),\n"                                                             \
	"\tsymbolic_target VARCHAR(255),\n"                                                        \
	"\tPRIMARY KEY (tract_id, ref_name),\n"                                                    \
	"\tFOREIGN KEY(commit_hash) REFERENCES commits (commit_hash)\n"                            \
	");\n"                                                                                     \
	"CREATE TABLE IF NOT EXISTS annotations (\n"                                               \
	"\tid INTEGER NOT NULL,\n"                                                                 \
	"\ttract_id VARCHAR(64) NOT NULL,\n"                                                       \
	"\ttarget_hash VARCHAR(64) NOT NULL,\n"                                                    \
	"\tpriority VARCHAR(6) NOT NULL,\n"                                                        \
	"\treason TEXT,\n"                                                                         \
	"\tcreated_at DATETIME NOT NULL,\n"                                                        \
	"\tPRIMARY KEY (id),\n"                                                                    \
	"\tFOREIGN KEY(target_hash) REFERENCES commits (commit_hash)\n"                            \
	");\n"                                                                                     \
	"CREATE INDEX IF NOT EXISTS ix_annotations_target_time ON annotations "                    \
	"(target_hash, created_at);\n"                                                             \
	"CREATE INDEX IF NOT EXISTS ix_annotations_tract_id ON annotations (tract_id);\n"

/* Added by schema version 2. */
#define DDL_V2                                                                                     \
	"CREATE TABLE IF NOT EXISTS commit_parents (\n"                                            \
	"\tcommit_hash VARCHAR(64) NOT NULL,\n"                                                    \
	"\tparent_hash VARCHAR(64) NOT NULL,\n"                                                    \
	"\tposition INTEGER NOT NULL,\n"                                                           \
	"\tPRIMARY KEY (commit_hash, parent_hash),\n"                                              \
	"\tFOREIGN KEY(commit_hash) REFERENCES commits (commit_hash),\n"                           \
	"\tFOREIGN KEY(parent_hash) REFERENCES commits (commit_hash)\n"                            \
	");\n"                                                                                     \
	"CREATE INDEX IF NOT EXISTS ix_commit_parents_commit ON commit_parents (commit_hash);\n"

/* Added by schema version 3. */
#define DDL_V3                                                                                     \
	"CREATE TABLE IF NOT EXISTS compressions (\n"                                              \
	"\tcompression_id VARCHAR(64) NOT NULL,\n"                                                 \
	"\ttract_id VARCHAR(64) NOT NULL,\n"                                                       \
	"\tbranch_name VARCHAR(255),\n"                                                            \
	"\tcreated_at DATETIME NOT NULL,\n"                                                        \
	"\toriginal_tokens INTEGER NOT NULL,\n"                                                    \
	"\tcompressed_tokens INTEGER NOT NULL,\n"                                                  \
	"\ttarget_tokens INTEGER,\n"                                                               \
	"\tinstructions TEXT,\n"                                                                   \
	"\tPRIMARY KEY (compression_id)\n"                                                         \
	");\n"                                                                                     \
	"CREATE INDEX IF NOT EXISTS ix_compressions_tract_id ON compressions (tract_id);\n"        \
	"CREATE TABLE IF NOT EXISTS compression_sources (\n"                                       \
	"\tcompression_id VARCHAR(64) NOT NULL,\n"                                                 \
	"\tcommit_hash VARCHAR(64) NOT NULL,\n"                                                    \
	"\tposition INTEGER NOT NULL,\n"                                                           \
	"\tPRIMARY KEY (compression_id, commit_hash),\n"                                           \
	"\tFOREIGN KEY(compression_id) REFERENCES compressions (compression_id),\n"                \
	"\tFOREIGN KEY(commit_hash) REFERENCES commits (commit_hash)\n"                            \
	");\n"                                                                                     \
	"CREATE TABLE IF NOT EXISTS compression_results (\n"                                       \
	"\tcompression_id VARCHAR(64) NOT NULL,\n"                                                 \
	"\tcommit_hash VARCHAR(64) NOT NULL,\n"                                                    \
	"\tposition INTEGER NOT NULL,\n"                                                           \
	"\tPRIMARY KEY (compression_id, commit_hash),\n"                                           \
	"\tFOREIGN KEY(compression_id) REFERENCES compressions (compression_id),\n"                \
	"\tFOREIGN KEY(commit_hash) REFERENCES commits (commit_hash)\n"                            \
	");\n"

/* Added by schema version 4. */
#define DDL_V4                                                                                     \
	"CREATE TABLE IF NOT EXISTS spawn_pointers (\n"                                            \
	"\tid INTEGER NOT NULL,\n"                                                                 \
	"\tparent_tract_id VARCHAR(64) NOT NULL,\n"                                                \
	"\tparent_commit_hash VARCHAR(64),\n"                                                      \
	"\tchild_tract_id VARCHAR(64) NOT NULL,\n"                                                 \
	"\tpurpose TEXT NOT NULL,\n"                                                               \
	"\tinheritance_mode VARCHAR(20) NOT NULL,\n"                                               \
	"\tdisplay_name VARCHAR(255),\n"                                                           \
	"\tcreated_at DATETIME NOT NULL,\n"                                                        \
	"\tPRIMARY KEY (id),\n"                                                                    \
	"\tFOREIGN KEY(parent_commit_hash) REFERENCES commits (commit_hash) ON DELETE SET NULL\n"  \
	");\n"                                                                                     \
	"CREATE INDEX IF NOT EXISTS ix_spawn_child_tract ON spawn_pointers (child_tract_id);\n"    \
	"CREATE INDEX IF NOT EXISTS ix_spawn_parent_tract ON spawn_pointers (parent_tract_id);\n"

/* What each migration step ensures before it sets the next version. */
static const char *const migration_ddl[SCHEMA_VERSION + 1] = {
	[2] = DDL_V2,
	[3] = DDL_V3,
	[4] = DDL_V4,
};

/* ---- cached statements ------------------------------------------------------ */

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
	ST_COUNT
};

/*
 * Ranges written "col >= ?lo AND col < ?hi" implement literal prefix
 * matches through an index; an open upper end is bound as the empty BLOB,
 * which sorts after every TEXT value.
 */
static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN_READ] = "BEGIN",
	[ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_BLOB_PUT] = "INSERT INTO blobs (" BLOB_COLS ") VALUES (?1, ?2, ?3, ?4, ?5) "
			"ON CONFLICT (content_hash) DO NOTHING",
	[ST_BLOB_GET] = "SELECT " BLOB_COLS " FROM blobs WHERE content_hash = ?1",
	[ST_BLOB_ALL] = "SELECT " BLOB_COLS " FROM blobs ORDER BY content_hash",
	[ST_BLOB_DELETE] = "DELETE FROM blobs WHERE content_hash = ?1",
	[ST_COMMIT_PUT] = "INSERT INTO commits (" COMMIT_COLS ") "
			  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[ST_COMMIT_GET] = "SELECT " COMMIT_COLS " FROM commits "
			  "WHERE commit_hash = ?1 AND (?2 IS NULL OR tract_id = ?2)",
	[ST_COMMIT_PREFIX] = "SELECT " COMMIT_COLS " FROM commits "
			     "WHERE commit_hash >= ?1 AND commit_hash < ?2 "
			     "AND (?3 IS NULL OR tract_id = ?3) ORDER BY commit_hash LIMIT ?4",
	[ST_COMMIT_ALL] = "SELECT " COMMIT_COLS " FROM commits ORDER BY created_at, commit_hash",
	[ST_COMMIT_TRACT] = "SELECT " COMMIT_COLS " FROM commits WHERE tract_id = ?1 "
			    "ORDER BY created_at, commit_hash",
	[ST_COMMIT_CONFIG_ALL] = "SELECT " COMMIT_COLS " FROM commits "
				 "WHERE generation_config_json IS NOT NULL "
				 "AND generation_config_json != 'null' "
				 "ORDER BY created_at, commit_hash",
	[ST_COMMIT_CONFIG_TRACT] = "SELECT " COMMIT_COLS " FROM commits WHERE tract_id = ?1 "
				   "AND generation_config_json IS NOT NULL "
				   "AND generation_config_json != 'null' "
				   "ORDER BY created_at, commit_hash",
	[ST_COMMIT_DELETE] = "DELETE FROM commits WHERE commit_hash = ?1",
	[ST_COMMIT_UNLINK_SPAWN] = "UPDATE spawn_pointers SET parent_commit_hash = NULL "
				   "WHERE parent_commit_hash = ?1",
	[ST_PARENT_PUT] = "INSERT INTO commit_parents (commit_hash, parent_hash, position) "
			  "VALUES (?1, ?2, ?3)",
	[ST_PARENT_LIST] = "SELECT commit_hash, parent_hash, position FROM commit_parents "
			   "WHERE commit_hash = ?1 ORDER BY position, parent_hash",
	[ST_PARENT_ALL] = "SELECT commit_hash, parent_hash, position FROM commit_parents "
			  "ORDER BY commit_hash, position, parent_hash",
	[ST_PARENT_DELETE_CHILD] = "DELETE FROM commit_parents WHERE commit_hash = ?1",
	[ST_REF_GET] = "SELECT " REF_COLS " FROM refs WHERE tract_id = ?1 AND ref_name = ?2",
	[ST_REF_INSERT] = "INSERT INTO refs (" REF_COLS ") VALUES (?1, ?2, ?3, ?4) "
			  "ON CONFLICT (tract_id, ref_name) DO NOTHING",
	[ST_REF_UPDATE] = "UPDATE refs SET commit_hash = ?3, symbolic_target = ?4 "
			  "WHERE tract_id = ?1 AND ref_name = ?2 "
			  "AND commit_hash IS ?5 AND symbolic_target IS ?6",
	[ST_REF_DELETE] = "DELETE FROM refs WHERE tract_id = ?1 AND ref_name = ?2 "
			  "AND (?3 = 0 OR (commit_hash IS ?4 AND symbolic_target IS ?5))",
	[ST_REF_TRACT] = "SELECT " REF_COLS " FROM refs WHERE tract_id = ?1 "
			 "AND ref_name >= ?2 AND ref_name < ?3 ORDER BY ref_name",
	[ST_REF_ALL] = "SELECT " REF_COLS " FROM refs WHERE ref_name >= ?1 AND ref_name < ?2 "
		       "ORDER BY tract_id, ref_name",
	[ST_ANN_PUT] = "INSERT INTO annotations (tract_id, target_hash, priority, reason, "
		       "created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_ANN_LIST] = "SELECT " ANN_COLS " FROM annotations WHERE target_hash = ?1 "
			"ORDER BY created_at, id",
	[ST_ANN_TRACT] = "SELECT " ANN_COLS " FROM annotations WHERE tract_id = ?1 ORDER BY id",
	[ST_ANN_ALL] = "SELECT " ANN_COLS " FROM annotations ORDER BY id",
	[ST_ANN_DELETE_TARGET] = "DELETE FROM annotations WHERE target_hash = ?1",
	[ST_COMP_PUT] = "INSERT INTO compressions (" COMP_COLS ") "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_COMP_SOURCE_PUT] = "INSERT INTO compression_sources (compression_id, commit_hash, "
			       "position) VALUES (?1, ?2, ?3)",
	[ST_COMP_RESULT_PUT] = "INSERT INTO compression_results (compression_id, commit_hash, "
			       "position) VALUES (?1, ?2, ?3)",
	[ST_COMP_GET] = "SELECT " COMP_COLS " FROM compressions WHERE compression_id = ?1",
	[ST_COMP_TRACT] = "SELECT " COMP_COLS " FROM compressions WHERE tract_id = ?1 "
			  "ORDER BY created_at, compression_id",
	[ST_COMP_ALL] = "SELECT " COMP_COLS " FROM compressions "
			"ORDER BY created_at, compression_id",
	[ST_COMP_SOURCES] = "SELECT compression_id, commit_hash, position FROM "
			    "compression_sources WHERE compression_id = ?1 "
			    "ORDER BY position, commit_hash",
	[ST_COMP_RESULTS] = "SELECT compression_id, commit_hash, position FROM "
			    "compression_results WHERE compression_id = ?1 "
			    "ORDER BY position, commit_hash",
	[ST_COMP_DELETE] = "DELETE FROM compressions WHERE compression_id = ?1",
	[ST_COMP_SOURCES_DELETE] = "DELETE FROM compression_sources WHERE compression_id = ?1",
	[ST_COMP_RESULTS_DELETE] = "DELETE FROM compression_results WHERE compression_id = ?1",
	[ST_SPAWN_PUT] = "INSERT INTO spawn_pointers (parent_tract_id, parent_commit_hash, "
			 "child_tract_id, purpose, inheritance_mode, display_name, created_at) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_SPAWN_PARENT] = "SELECT " SPAWN_COLS " FROM spawn_pointers "
			    "WHERE parent_tract_id = ?1 ORDER BY id",
	[ST_SPAWN_ALL] = "SELECT " SPAWN_COLS " FROM spawn_pointers ORDER BY id",
	[ST_SPAWN_CHILD] = "SELECT " SPAWN_COLS " FROM spawn_pointers "
			   "WHERE child_tract_id = ?1 ORDER BY id",
	[ST_SPAWN_DELETE] = "DELETE FROM spawn_pointers WHERE id = ?1",
	[ST_META_GET] = "SELECT \"key\", value FROM _trace_meta WHERE \"key\" = ?1",
	[ST_META_SET] = "INSERT INTO _trace_meta (\"key\", value) VALUES (?1, ?2) "
			"ON CONFLICT (\"key\") DO UPDATE SET value = excluded.value",
	[ST_META_DELETE] = "DELETE FROM _trace_meta WHERE \"key\" = ?1",
	[ST_META_RANGE] = "SELECT \"key\", value FROM _trace_meta "
			  "WHERE \"key\" >= ?1 AND \"key\" < ?2 ORDER BY \"key\"",
	/* The commits' part reads ix_commits_tract_time alone, in order. */
	[ST_TRACTS] = "SELECT tract_id, sum(n), max(last) FROM ("
		      "SELECT tract_id, count(*) AS n, max(created_at) AS last FROM commits "
		      "GROUP BY tract_id UNION ALL SELECT tract_id, 0, NULL FROM refs) "
		      "GROUP BY tract_id ORDER BY tract_id",
	/* Side tables of the chain scan (chain_scan). Within a key, rows
	 * come in the order the CTE's subqueries rank them. */
	[ST_CHAIN_SIDES] = "SELECT (SELECT rowid FROM commits WHERE commit_hash = ?1 "
			   "AND tract_id = ?2), (SELECT min(rowid) FROM commits "
			   "INDEXED BY ix_commits_tract_id WHERE tract_id = ?2), "
			   "(SELECT max(rowid) FROM blobs), (SELECT max(rowid) FROM annotations), "
			   "(SELECT max(rowid) FROM commit_parents)",
	[ST_CHAIN_ROWID] = "SELECT rowid FROM commits WHERE commit_hash = ?1 AND tract_id = ?2",
	[ST_CHAIN_BLOBS] = "SELECT content_hash, payload_json FROM blobs",
	[ST_CHAIN_ANNOTATIONS] = "SELECT target_hash, priority FROM annotations "
				 "WHERE (?1 IS NULL OR created_at <= ?1) "
				 "ORDER BY target_hash, created_at, id",
	[ST_CHAIN_PARENTS] = "SELECT commit_hash, parent_hash FROM commit_parents "
			     "WHERE position >= 1 ORDER BY commit_hash, position, parent_hash",
};

/*
 * The chain walk: one recursive CTE per combination of TRACT_CHAIN_*
 * flags, assembled from these fixed fragments. ?1 head, ?2 tract (NULL:
 * any), ?3 row limit (0: none), ?4 annotation cutoff (NULL: none).
 *
 * The CTE carries only rowids (cheaper than whole rows) and runs as a
 * co-routine, so rows stream to the callback as they are found and an
 * early stop saves the rest of the walk. Each step joins
 * on the primary key, so the queue never holds more than one row and rows
 * come out newest first by construction; walk_chain() checks the depth
 * column rather than paying for an ORDER BY that would materialize every
 * payload. Without a limit the walk is bounded by max(rowid) of commits
 * (>= the number of commits), so a corrupt parent cycle ends. The last
 * column, the row's rowid, serves the switch to the tract scan
 * (sqlite_commit_chain).
 */
#define N_CHAIN_VARIANTS 8
static const char chain_head_sql[] =
	"WITH RECURSIVE chain(depth, rid, parent_hash) AS ("
	"SELECT 0, rowid, parent_hash FROM commits "
	"WHERE commit_hash = ?1 AND (?2 IS NULL OR tract_id = ?2) "
	"UNION ALL "
	"SELECT chain.depth + 1, c.rowid, c.parent_hash "
	"FROM chain JOIN commits AS c ON c.commit_hash = chain.parent_hash "
	"WHERE (?2 IS NULL OR c.tract_id = ?2) "
	"LIMIT CASE WHEN ?3 > 0 THEN ?3 "
	"ELSE coalesce((SELECT max(rowid) FROM commits), 0) END) "
	"SELECT c.commit_hash, c.tract_id, c.parent_hash, c.content_hash, c.content_type, "
	"c.operation, c.response_to, c.message, c.token_count, c.metadata_json, "
	"c.generation_config_json, c.created_at, chain.depth, chain.rid";
static const char chain_payload_col[] = ", b.payload_json";
static const char chain_priority_col[] =
	", (SELECT a.priority FROM annotations AS a WHERE a.target_hash = c.commit_hash "
	"AND (?4 IS NULL OR a.created_at <= ?4) ORDER BY a.created_at DESC, a.id DESC LIMIT 1)";
/*
 * Merge parents packed as "position SP hash" items joined by US. sqlite
 * 3.40 has no ORDER BY inside group_concat and an ordered subquery costs a
 * sorter per row, so split_parents() puts the few items in order.
 */
static const char chain_parents_col[] =
	", (SELECT group_concat(position || ' ' || parent_hash, char(31)) FROM commit_parents "
	"WHERE commit_hash = c.commit_hash AND position >= 1)";
static const char chain_from_sql[] = " FROM chain CROSS JOIN commits AS c ON c.rowid = chain.rid";
static const char chain_payload_join[] =
	" LEFT JOIN blobs AS b ON b.content_hash = c.content_hash";

/*
 * The scan of a tract (chain_scan): the commits of tract ?2 with rowid in
 * [?5, ?6], newest first, in one statement. Two shapes: through the table
 * itself, a rowid range read in order where the tract's rows are dense,
 * and through ix_commits_tract_id where they are sparse. (Going through
 * the index costs a table seek per row, which SQLite only shortcuts in
 * ascending order.) The extras are the CTE's fragments.
 */
static const char chain_scan_head_sql[] =
	"SELECT c.commit_hash, c.parent_hash, c.content_hash, c.content_type, c.operation, "
	"c.response_to, c.message, c.token_count, c.metadata_json, c.generation_config_json, "
	"c.created_at";
static const char *const chain_scan_from_sql[2] = {
	" FROM commits AS c NOT INDEXED",
	" FROM commits AS c INDEXED BY ix_commits_tract_id",
};
static const char chain_scan_where_sql[] =
	" WHERE c.rowid BETWEEN ?5 AND ?6 AND c.tract_id = ?2 ORDER BY c.rowid DESC";

/* ---- connection ----------------------------------------------------------- */

/* Side files SQLite may keep next to a database. */
static const char *const side_file_suffixes[] = {"-wal", "-shm", "-journal"};
#define N_SIDE_FILES (sizeof(side_file_suffixes) / sizeof(side_file_suffixes[0]))

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
	char err[ERRLEN];
};

/* A statement in use: the cached one, or a transient copy when the cached
 * one is already running (a callback re-entering the same operation). */
struct query {
	sqlite3_stmt *st;
	bool transient;
};

/* ---- errors --------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int fail(tract_backend_conn *conn, int code,
						       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(conn->err, sizeof(conn->err), fmt, ap);
	va_end(ap);
	return code;
}

static int code_of_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return TRACT_ENOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return TRACT_ECORRUPT;
	default:
		return TRACT_ESTORAGE;
	}
}

/* Record the engine's failure rc as the connection's last error. */
static int fail_db(tract_backend_conn *conn, int rc)
{
	const char *msg = sqlite3_errmsg(conn->db);

	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return fail(conn, TRACT_ESTORAGE, "sqlite: %s (store busy: another writer holds it)",
			    msg);
	return fail(conn, code_of_sqlite(rc), "sqlite: %s", msg);
}

/* ---- time ----------------------------------------------------------------- */

#define USEC_PER_SEC INT64_C(1000000)
#define USEC_PER_DAY (INT64_C(86400) * USEC_PER_SEC)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* "YYYY-MM-DD HH:MM:SS.ffffff" (UTC), the stored form. buf >= 40 bytes. */
static void time_format(char *buf, size_t len, tract_time t)
{
	int64_t days = t / USEC_PER_DAY, rem = t % USEC_PER_DAY, y;
	int m, d;

	if (rem < 0) {
		rem += USEC_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04" PRId64 "-%02d-%02d %02d:%02d:%02d.%06d", y, m, d,
		 (int)(rem / (3600 * USEC_PER_SEC)), (int)(rem / (60 * USEC_PER_SEC) % 60),
		 (int)(rem / USEC_PER_SEC % 60), (int)(rem % USEC_PER_SEC));
}

/* Read exactly n decimal digits at *p. */
static bool read_digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool read_char(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

/* Optional fraction: 1-9 digits, microseconds kept (extra digits dropped). */
static int64_t read_fraction(const char **p)
{
	int64_t usec = 0;
	int n = 0;

	if (!read_char(p, '.'))
		return 0;
	while (**p >= '0' && **p <= '9') {
		if (n < 6)
			usec = usec * 10 + (**p - '0');
		n++;
		(*p)++;
	}
	for (; n < 6; n++)
		usec *= 10;
	return usec;
}

/* Optional zone: "Z", "+HH:MM", "-HH:MM"; *offset gets seconds east of UTC. */
static bool read_zone(const char **p, int64_t *offset)
{
	int sign, hh, mm;

	*offset = 0;
	if (**p == '\0')
		return true;
	if (read_char(p, 'Z'))
		return **p == '\0';
	if (**p != '+' && **p != '-')
		return false;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (!read_digits(p, 2, &hh) || !read_char(p, ':') || !read_digits(p, 2, &mm) ||
	    **p != '\0' || hh > 23 || mm > 59)
		return false;
	*offset = sign * (hh * 3600 + mm * 60);
	return true;
}

/*
 * Parse a stored timestamp: "YYYY-MM-DD HH:MM:SS[.ffffff]", leniently
 * also with a 'T' separator and a zone suffix.
 */
static bool time_parse(const char *text, tract_time *out)
{
	const char *p = text;
	int y, mo, d, h, mi, s;
	int64_t usec, offset;

	if (!text || !read_digits(&p, 4, &y) || !read_char(&p, '-') ||
	    !read_digits(&p, 2, &mo) || !read_char(&p, '-') || !read_digits(&p, 2, &d))
		return false;
	if (!read_char(&p, ' ') && !read_char(&p, 'T'))
		return false;
	if (!read_digits(&p, 2, &h) || !read_char(&p, ':') || !read_digits(&p, 2, &mi) ||
	    !read_char(&p, ':') || !read_digits(&p, 2, &s))
		return false;
	usec = read_fraction(&p);
	if (!read_zone(&p, &offset))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
		return false;
	*out = days_from_civil(y, mo, d) * USEC_PER_DAY +
	       ((int64_t)h * 3600 + mi * 60 + s - offset) * USEC_PER_SEC + usec;
	return true;
}

/* ---- enums ---------------------------------------------------------------- */

/* ---- statements ----------------------------------------------------------- */

static int prepare(tract_backend_conn *conn, const char *sql, sqlite3_stmt **out)
{
	int rc = sqlite3_prepare_v3(conn->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);

	if (rc != SQLITE_OK) {
		*out = NULL;
		return fail_db(conn, rc);
	}
	return 0;
}

/* Hand out a cached statement, preparing it on first use. */
static int use_cached(tract_backend_conn *conn, sqlite3_stmt **slot, const char *sql,
		      struct query *q)
{
	int rc;

	q->st = NULL;
	q->transient = false;
	if (*slot && sqlite3_stmt_busy(*slot)) {
		q->transient = true;
		return prepare(conn, sql, &q->st);
	}
	if (!*slot) {
		rc = prepare(conn, sql, slot);
		if (rc < 0)
			return rc;
	}
	q->st = *slot;
	return 0;
}

static int query_start(tract_backend_conn *conn, enum stmt_id id, struct query *q)
{
	return use_cached(conn, &conn->stmts[id], stmt_sql[id], q);
}

/* Give a statement back: reset and unbind a cached one, free a transient one. */
static void query_done(struct query *q)
{
	if (!q->st)
		return;
	if (q->transient) {
		sqlite3_finalize(q->st);
	} else {
		sqlite3_reset(q->st);
		sqlite3_clear_bindings(q->st);
	}
	q->st = NULL;
}

/* Bind helpers; a NULL string binds SQL NULL. They return SQLite codes. */
static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (!s)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* JSON columns store "none" as the 4-character text 'null'. */
static int bind_json(sqlite3_stmt *st, int i, const char *s)
{
	return sqlite3_bind_text(st, i, s ? s : "null", -1, SQLITE_STATIC);
}

static int bind_time(sqlite3_stmt *st, int i, tract_time t)
{
	char buf[48];

	time_format(buf, sizeof(buf), t);
	return sqlite3_bind_text(st, i, buf, -1, SQLITE_TRANSIENT);
}

/* Upper end of a literal prefix range: the prefix with its last byte
 * incremented (0xff bytes carried away). Returns false when unbounded. */
static bool prefix_upper(const char *prefix, char *buf, size_t len)
{
	size_t n = strlen(prefix);

	if (n >= len)
		return false;
	memcpy(buf, prefix, n + 1);
	while (n > 0) {
		unsigned char c = (unsigned char)buf[n - 1];
		if (c < 0xff) {
			buf[n - 1] = (char)(c + 1);
			buf[n] = '\0';
			return true;
		}
		n--;
	}
	return false;
}

/* Bind ?lo and ?hi of a prefix range (NULL prefix: everything). */
static int bind_prefix_range(sqlite3_stmt *st, int lo, const char *prefix, char *buf,
			     size_t len)
{
	int rc;

	rc = bind_text(st, lo, prefix ? prefix : "");
	if (rc != SQLITE_OK)
		return rc;
	if (prefix && prefix_upper(prefix, buf, len))
		return sqlite3_bind_text(st, lo + 1, buf, -1, SQLITE_STATIC);
	return sqlite3_bind_zeroblob(st, lo + 1, 0);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* A JSON column: SQL NULL and the text 'null' both mean none. */
static const char *col_json(sqlite3_stmt *st, int i)
{
	const char *s = col_text(st, i);

	if (s && strcmp(s, "null") == 0)
		return NULL;
	return s;
}

static int col_time(tract_backend_conn *conn, sqlite3_stmt *st, int i, tract_time *out)
{
	const char *s = col_text(st, i);

	if (!time_parse(s, out))
		return fail(conn, TRACT_ECORRUPT, "sqlite: unreadable timestamp '%s' in %s",
			    s ? s : "NULL", sqlite3_column_name(st, i));
	return 0;
}

/* ---- running statements --------------------------------------------------- */

/* Step a statement that returns no rows. */
static int exec_query(tract_backend_conn *conn, struct query *q)
{
	int rc = sqlite3_step(q->st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return fail_db(conn, rc);
	return 0;
}

/* Step a write and report how many rows it changed. */
static int exec_changes(tract_backend_conn *conn, struct query *q, int *changes)
{
	int rc = exec_query(conn, q);

	*changes = rc < 0 ? 0 : sqlite3_changes(conn->db);
	return rc;
}

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

/*
 * Step through every row, handing each to emit. Stops when the callback
 * returns > 0 (result 0) or < 0 (result as is). *n_rows (may be NULL)
 * counts the rows handed over.
 */
static int query_each(tract_backend_conn *conn, struct query *q, row_emit_fn emit,
		      const struct sink *sk, size_t *n_rows)
{
	int rc, cb_rc;

	if (n_rows)
		*n_rows = 0;
	while ((rc = sqlite3_step(q->st)) == SQLITE_ROW) {
		cb_rc = emit(conn, q->st, sk);
		if (n_rows)
			(*n_rows)++;
		if (cb_rc != 0)
			return cb_rc < 0 ? cb_rc : 0;
	}
	if (rc != SQLITE_DONE)
		return fail_db(conn, rc);
	return 0;
}

/* query_each on a finished bind; always gives the statement back. */
static int run_each(tract_backend_conn *conn, struct query *q, int bind_rc, row_emit_fn emit,
		    const struct sink *sk, size_t *n_rows)
{
	int rc;

	if (bind_rc != SQLITE_OK)
		rc = fail_db(conn, bind_rc);
	else
		rc = query_each(conn, q, emit, sk, n_rows);
	query_done(q);
	return rc;
}

/* Run a query expected to produce one row: ENOTFOUND (with what) when none. */
static int run_one(tract_backend_conn *conn, struct query *q, int bind_rc, row_emit_fn emit,
		   const struct sink *sk, const char *what, const char *key)
{
	size_t n = 0;
	int rc = run_each(conn, q, bind_rc, emit, sk, &n);

	if (rc == 0 && n == 0)
		return fail(conn, TRACT_ENOTFOUND, "%s not found: %s", what, key);
	return rc;
}

/* Run a write statement; *changes (may be NULL) gets the changed rows. */
static int run_write(tract_backend_conn *conn, struct query *q, int bind_rc, int *changes)
{
	int n = 0, rc;

	if (bind_rc != SQLITE_OK)
		rc = fail_db(conn, bind_rc);
	else
		rc = exec_changes(conn, q, &n);
	query_done(q);
	if (changes)
		*changes = n;
	return rc;
}

/* ---- row decoders --------------------------------------------------------- */

static int read_blob(tract_backend_conn *conn, sqlite3_stmt *st, tract_blob_row *r)
{
	r->content_hash = col_text(st, 0);
	r->payload_json = col_text(st, 1);
	r->byte_size = sqlite3_column_int64(st, 2);
	r->token_count = sqlite3_column_int64(st, 3);
	return col_time(conn, st, 4, &r->created_at);
}

static int read_commit(tract_backend_conn *conn, sqlite3_stmt *st, tract_commit_row *r)
{
	r->commit_hash = col_text(st, 0);
	r->tract_id = col_text(st, 1);
	r->parent_hash = col_text(st, 2);
	r->content_hash = col_text(st, 3);
	r->content_type = col_text(st, 4);
	r->operation = tract_backend_operation_parse(col_text(st, 5));
	r->response_to = col_text(st, 6);
	r->message = col_text(st, 7);
	r->token_count = sqlite3_column_int64(st, 8);
	r->metadata_json = col_json(st, 9);
	r->generation_config_json = col_json(st, 10);
	return col_time(conn, st, 11, &r->created_at);
}

static int read_compression(tract_backend_conn *conn, sqlite3_stmt *st,
			    tract_compression_row *r)
{
	r->compression_id = col_text(st, 0);
	r->tract_id = col_text(st, 1);
	r->branch_name = col_text(st, 2);
	r->original_tokens = sqlite3_column_int64(st, 4);
	r->compressed_tokens = sqlite3_column_int64(st, 5);
	r->target_tokens =
		sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 6);
	r->instructions = col_text(st, 7);
	return col_time(conn, st, 3, &r->created_at);
}

static int read_spawn(tract_backend_conn *conn, sqlite3_stmt *st, tract_spawn_row *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->parent_tract_id = col_text(st, 1);
	r->parent_commit_hash = col_text(st, 2);
	r->child_tract_id = col_text(st, 3);
	r->purpose = col_text(st, 4);
	r->inheritance_mode = col_text(st, 5);
	r->display_name = col_text(st, 6);
	return col_time(conn, st, 7, &r->created_at);
}

static int emit_blob(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	tract_blob_row r;
	int rc = read_blob(conn, st, &r);

	return rc < 0 ? rc : sk->fn.blob(&r, sk->payload);
}

static int emit_commit(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	tract_commit_row r;
	int rc = read_commit(conn, st, &r);

	return rc < 0 ? rc : sk->fn.commit(&r, sk->payload);
}

static int emit_ref(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	tract_ref_row r = {
		.tract_id = col_text(st, 0),
		.ref_name = col_text(st, 1),
		.commit_hash = col_text(st, 2),
		.symbolic_target = col_text(st, 3),
	};

	(void)conn;
	return sk->fn.ref(&r, sk->payload);
}

static int emit_annotation(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	tract_annotation_row r = {
		.id = sqlite3_column_int64(st, 0),
		.tract_id = col_text(st, 1),
		.target_hash = col_text(st, 2),
		.priority = tract_backend_priority_parse(col_text(st, 3)),
		.reason = col_text(st, 4),
	};
	int rc = col_time(conn, st, 5, &r.created_at);

	return rc < 0 ? rc : sk->fn.annotation(&r, sk->payload);
}

static int emit_parent(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	(void)conn;
	return sk->fn.parent(col_text(st, 0), col_text(st, 1), sqlite3_column_int64(st, 2),
			     sk->payload);
}

static int emit_compression(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	tract_compression_row r;
	int rc = read_compression(conn, st, &r);

	return rc < 0 ? rc : sk->fn.compression(&r, sk->payload);
}

static int emit_member(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	(void)conn;
	return sk->fn.member(col_text(st, 0), col_text(st, 1), sqlite3_column_int64(st, 2),
			     sk->payload);
}

static int emit_spawn(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	tract_spawn_row r;
	int rc = read_spawn(conn, st, &r);

	return rc < 0 ? rc : sk->fn.spawn(&r, sk->payload);
}

static int emit_meta(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	(void)conn;
	return sk->fn.meta(col_text(st, 0), col_text(st, 1), sk->payload);
}

static int emit_tract(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	tract_tract_row r = {
		.tract_id = col_text(st, 0),
		.commit_count = sqlite3_column_int64(st, 1),
		.last_activity = TRACT_TIME_NONE,
	};
	int rc = 0;

	if (sqlite3_column_type(st, 2) != SQLITE_NULL)
		rc = col_time(conn, st, 2, &r.last_activity);
	return rc < 0 ? rc : sk->fn.tract(&r, sk->payload);
}

/* ---- schema and migration -------------------------------------------------- */

/*
 * Speed, per connection, with the same durability (WAL, synchronous=NORMAL:
 * a commit is in the operating system when it returns, the WAL is synced
 * at checkpoints). Nothing here is stored in the file.
 *  - cache_size: up to 64 MiB of page cache (allocated as used) keeps the
 *    random-key index pages an append touches (commit and blob hashes)
 *    across transactions; the default 2 MiB thrashes past a few thousand
 *    commits.
 *  - mmap_size: the database file is read through a 256 MiB mapping
 *    instead of a read() copy per page; a cold compile reads every page
 *    of the tract once. (Address space only; WAL frames are still read.)
 *  - temp_store: sorts and temporary indexes that spill stay in memory.
 *  - wal_autocheckpoint: a checkpoint (two fdatasyncs and the copy back)
 *    every 10,000 WAL pages instead of 1,000, i.e. every ~800 appends
 *    rather than every ~80 at 12 pages per commit.
 *  - journal_size_limit: after a checkpoint the WAL is cut back to 64 MiB
 *    when something (a large transaction, a long reader) grew it further;
 *    the steady ~40 MiB of one checkpoint cycle is reused rather than
 *    regrown, which measured faster than truncating it every time.
 * The WAL is still removed when the last connection closes.
 */
#define TUNING_PRAGMAS                                                                             \
	"PRAGMA cache_size=-65536;"                                                                \
	"PRAGMA mmap_size=268435456;"                                                              \
	"PRAGMA temp_store=MEMORY;"                                                                \
	"PRAGMA wal_autocheckpoint=10000;"                                                         \
	"PRAGMA journal_size_limit=67108864;"

static int exec_sql(tract_backend_conn *conn, const char *sql)
{
	int rc = sqlite3_exec(conn->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : fail_db(conn, rc);
}

/*
 * The reference's pragmas. journal_mode=WAL is the only one that writes to
 * the file, so it waits until the schema version has been accepted.
 */
static int apply_pragmas(tract_backend_conn *conn)
{
	int rc;

	/* Before anything that may wait on a lock. */
	rc = exec_sql(conn, "PRAGMA busy_timeout=5000");
	if (rc == 0)
		rc = exec_sql(conn, "PRAGMA synchronous=NORMAL");
	if (rc == 0)
		rc = exec_sql(conn, "PRAGMA foreign_keys=ON");
	if (rc == 0)
		rc = exec_sql(conn, TUNING_PRAGMAS);
	return rc;
}

/* True when text is a plain decimal integer (digits only, no sign). */
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

static int has_meta_table(tract_backend_conn *conn, bool *has)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*has = false;
	rc = prepare(conn,
		     "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_trace_meta'",
		     &st);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	*has = rc == SQLITE_ROW;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail_db(conn, rc);
	sqlite3_finalize(st);
	return rc;
}

/* Check a stored version text: an integer in 1..4, EVERSION otherwise. */
static int parse_schema_version(tract_backend_conn *conn, const char *text, int *version)
{
	long v;

	if (!is_plain_integer(text))
		return fail(conn, TRACT_EVERSION,
			    "store schema version '%s' is not an integer (this tract supports %d)",
			    text ? text : "NULL", SCHEMA_VERSION);
	v = strtol(text, NULL, 10);
	if (v > SCHEMA_VERSION)
		return fail(conn, TRACT_EVERSION,
			    "store schema version %ld is newer than this tract supports (%d)", v,
			    SCHEMA_VERSION);
	if (v < 1)
		return fail(conn, TRACT_EVERSION,
			    "store schema version %ld is not supported (this tract supports 1-%d)",
			    v, SCHEMA_VERSION);
	*version = (int)v;
	return 0;
}

/*
 * Read _trace_meta.schema_version: *version 0 when the table or row is
 * missing, EVERSION when the value is not an integer in 1..4.
 */
static int read_schema_version(tract_backend_conn *conn, int *version)
{
	sqlite3_stmt *st = NULL;
	bool has;
	int rc;

	*version = 0;
	rc = has_meta_table(conn, &has);
	if (rc < 0 || !has)
		return rc;
	rc = prepare(conn, "SELECT value FROM _trace_meta WHERE \"key\" = 'schema_version'", &st);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = parse_schema_version(conn, col_text(st, 0), version);
	else
		rc = rc == SQLITE_DONE ? 0 : fail_db(conn, rc);
	sqlite3_finalize(st);
	return rc;
}

static int write_schema_version(tract_backend_conn *conn, int version, bool insert)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = prepare(conn,
		     insert ? "INSERT INTO _trace_meta (\"key\", value) VALUES ('schema_version', ?1)"
			    : "UPDATE _trace_meta SET value = ?1 WHERE \"key\" = 'schema_version'",
		     &st);
	if (rc < 0)
		goto done;
	rc = sqlite3_bind_int(st, 1, version);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : fail_db(conn, rc);
done:
	sqlite3_finalize(st);
	return rc;
}

/* Create what is missing, then step the stored version up to 4 (§1.5). */
static int migrate_in_txn(tract_backend_conn *conn)
{
	int version, rc;

	rc = read_schema_version(conn, &version);
	if (rc < 0)
		return rc;
	rc = exec_sql(conn, DDL_V1 DDL_V2 DDL_V3 DDL_V4);
	if (rc < 0)
		return rc;
	if (version == 0)
		return write_schema_version(conn, SCHEMA_VERSION, true);
	while (version < SCHEMA_VERSION) {
		rc = exec_sql(conn, migration_ddl[version + 1]);
		if (rc == 0)
			rc = write_schema_version(conn, version + 1, false);
		if (rc < 0)
			return rc;
		version++;
	}
	return 0;
}

static int migrate(tract_backend_conn *conn)
{
	int version, rc;

	/* Refuse an unsupported file before touching it at all. */
	rc = read_schema_version(conn, &version);
	if (rc == 0)
		rc = exec_sql(conn, "PRAGMA journal_mode=WAL");
	if (rc == 0)
		rc = exec_sql(conn, "BEGIN IMMEDIATE");
	if (rc < 0)
		return rc;
	rc = migrate_in_txn(conn);
	if (rc == 0)
		rc = exec_sql(conn, "COMMIT");
	if (rc < 0 && !sqlite3_get_autocommit(conn->db))
		sqlite3_exec(conn->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void finalize_all(tract_backend_conn *conn)
{
	size_t i;

	for (i = 0; i < ST_COUNT; i++) {
		sqlite3_finalize(conn->stmts[i]);
		conn->stmts[i] = NULL;
	}
	for (i = 0; i < N_CHAIN_VARIANTS; i++) {
		sqlite3_finalize(conn->chain[i]);
		conn->chain[i] = NULL;
		sqlite3_finalize(conn->scan[0][i]);
		sqlite3_finalize(conn->scan[1][i]);
		conn->scan[0][i] = conn->scan[1][i] = NULL;
	}
}

static void sqlite_close(tract_backend_conn *conn)
{
	if (!conn)
		return;
	finalize_all(conn);
	if (conn->db && !sqlite3_get_autocommit(conn->db))
		sqlite3_exec(conn->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(conn->db);
	free(conn->created);
	free(conn);
}

static int open_db(tract_backend_conn *conn, const char *location, unsigned flags)
{
	bool memory = strcmp(location, ":memory:") == 0;
	int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	struct stat sb;
	bool existed = memory || stat(location, &sb) == 0 || errno != ENOENT;
	size_t i;
	int rc;

	if (memory || (flags & TRACT_BACKEND_CREATE))
		oflags |= SQLITE_OPEN_CREATE;
	else if (!existed)
		return fail(conn, TRACT_ENOTFOUND, "store not found: %s", location);
	if (!existed) {
		conn->created = strdup(location);
		if (!conn->created)
			return fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
		for (i = 0; i < N_SIDE_FILES; i++) {
			char side[4096];
			snprintf(side, sizeof(side), "%s%s", location, side_file_suffixes[i]);
			conn->side_existed[i] = stat(side, &sb) == 0 || errno != ENOENT;
		}
	}
	rc = sqlite3_open_v2(location, &conn->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		if (!conn->db)
			return fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
		return fail(conn, code_of_sqlite(rc), "sqlite: %s: %s", sqlite3_errmsg(conn->db),
			    location);
	}
	sqlite3_extended_result_codes(conn->db, 1);
	return 0;
}

static int sqlite_open(tract_backend_conn **out, const char *uri, unsigned flags,
		       char *errbuf, size_t errlen)
{
	tract_backend_conn *conn = NULL;
	const char *location = uri && strncmp(uri, "sqlite:", 7) == 0 ? uri + 7 : uri;
	int rc;

	if (out)
		*out = NULL;
	if (!out || !location || !*location) {
		rc = TRACT_EINVAL;
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "sqlite: store URI '%s' has no location",
				 uri ? uri : "");
		goto fail;
	}
	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		rc = TRACT_ENOMEM;
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "sqlite: out of memory");
		goto fail;
	}
	rc = open_db(conn, location, flags);
	if (rc == 0)
		rc = apply_pragmas(conn);
	if (rc == 0)
		rc = migrate(conn);
	if (rc == 0 && conn->created) {
		struct stat sb;
		if (stat(conn->created, &sb) == 0) {
			conn->created_dev = sb.st_dev;
			conn->created_ino = sb.st_ino;
		} else {
			free(conn->created); /* cannot tell it is ours: never remove it */
			conn->created = NULL;
		}
	}
	if (rc < 0) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s", conn->err);
		goto fail;
	}
	conn->err[0] = '\0';
	*out = conn;
	return 0;
fail:
	sqlite_close(conn);
	return rc;
}

static const char *sqlite_last_error(tract_backend_conn *conn)
{
	if (!conn)
		return "sqlite: no connection";
	return conn->err;
}

/* ---- transactions --------------------------------------------------------- */

static int run_simple(tract_backend_conn *conn, enum stmt_id id)
{
	struct query q;
	int rc = query_start(conn, id, &q);

	if (rc < 0)
		return rc;
	return run_write(conn, &q, SQLITE_OK, NULL);
}

static int sqlite_begin(tract_backend_conn *conn, tract_txn_kind kind)
{
	if (!conn || (kind != TRACT_TXN_READ && kind != TRACT_TXN_WRITE))
		return conn ? fail(conn, TRACT_EINVAL, "sqlite: bad transaction kind")
			    : TRACT_EINVAL;
	if (!sqlite3_get_autocommit(conn->db))
		return fail(conn, TRACT_EINVAL, "sqlite: a transaction is already open");
	return run_simple(conn, kind == TRACT_TXN_WRITE ? ST_BEGIN_WRITE : ST_BEGIN_READ);
}

static int sqlite_commit(tract_backend_conn *conn)
{
	if (!conn)
		return TRACT_EINVAL;
	if (sqlite3_get_autocommit(conn->db))
		return fail(conn, TRACT_EINVAL, "sqlite: commit without a transaction");
	return run_simple(conn, ST_COMMIT);
}

static int sqlite_rollback(tract_backend_conn *conn)
{
	if (!conn)
		return TRACT_EINVAL;
	/* The engine may already have rolled back after an I/O or busy error. */
	if (sqlite3_get_autocommit(conn->db))
		return 0;
	return run_simple(conn, ST_ROLLBACK);
}

/* ---- argument checks ------------------------------------------------------ */

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
			return fail((conn), TRACT_EINVAL, "sqlite: %s: invalid argument (%s)",     \
				    __func__, #cond);                                              \
	} while (0)

/* ---- blobs ---------------------------------------------------------------- */

static int sqlite_blob_put(tract_backend_conn *conn, const tract_blob_row *row, int *inserted)
{
	struct query q;
	int rc, b, changes = 0;

	CHECK_ARG(conn, row && row->content_hash && row->payload_json);
	rc = query_start(conn, ST_BLOB_PUT, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, row->content_hash);
	b = b ? b : bind_text(q.st, 2, row->payload_json);
	b = b ? b : sqlite3_bind_int64(q.st, 3, row->byte_size);
	b = b ? b : sqlite3_bind_int64(q.st, 4, row->token_count);
	b = b ? b : bind_time(q.st, 5, row->created_at);
	rc = run_write(conn, &q, b, &changes);
	if (inserted)
		*inserted = rc == 0 && changes > 0;
	return rc;
}

static int sqlite_blob_get(tract_backend_conn *conn, const char *content_hash, tract_blob_cb cb,
			   void *payload)
{
	struct sink sk = {.fn.blob = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, content_hash && cb);
	rc = query_start(conn, ST_BLOB_GET, &q);
	if (rc < 0)
		return rc;
	return run_one(conn, &q, bind_text(q.st, 1, content_hash), emit_blob, &sk, "blob",
		       content_hash);
}

static int sqlite_blob_foreach(tract_backend_conn *conn, tract_blob_cb cb, void *payload)
{
	struct sink sk = {.fn.blob = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, cb);
	rc = query_start(conn, ST_BLOB_ALL, &q);
	if (rc < 0)
		return rc;
	return run_each(conn, &q, SQLITE_OK, emit_blob, &sk, NULL);
}

/* Delete by one text key; ENOTFOUND (naming what) when nothing was deleted. */
static int delete_by_key(tract_backend_conn *conn, enum stmt_id id, const char *key,
			 const char *what)
{
	struct query q;
	int rc, changes = 0;

	rc = query_start(conn, id, &q);
	if (rc < 0)
		return rc;
	rc = run_write(conn, &q, bind_text(q.st, 1, key), &changes);
	if (rc == 0 && changes == 0 && what)
		return fail(conn, TRACT_ENOTFOUND, "%s not found: %s", what, key);
	return rc;
}

static int sqlite_blob_delete(tract_backend_conn *conn, const char *content_hash)
{
	CHECK_ARG(conn, content_hash);
	return delete_by_key(conn, ST_BLOB_DELETE, content_hash, "blob");
}

/* ---- commits -------------------------------------------------------------- */

static int bind_commit(sqlite3_stmt *st, const tract_commit_row *r)
{
	int b = bind_text(st, 1, r->commit_hash);

	b = b ? b : bind_text(st, 2, r->tract_id);
	b = b ? b : bind_text(st, 3, r->parent_hash);
	b = b ? b : bind_text(st, 4, r->content_hash);
	b = b ? b : bind_text(st, 5, r->content_type);
	b = b ? b : bind_text(st, 6, tract_backend_operation_name(r->operation));
	b = b ? b : bind_text(st, 7, r->response_to);
	b = b ? b : bind_text(st, 8, r->message);
	b = b ? b : sqlite3_bind_int64(st, 9, r->token_count);
	b = b ? b : bind_json(st, 10, r->metadata_json);
	b = b ? b : bind_json(st, 11, r->generation_config_json);
	b = b ? b : bind_time(st, 12, r->created_at);
	return b;
}

static int sqlite_commit_put(tract_backend_conn *conn, const tract_commit_row *row)
{
	struct query q;
	int rc;

	CHECK_ARG(conn, row && row->commit_hash && row->tract_id && row->content_hash &&
				row->content_type && tract_backend_operation_name(row->operation));
	rc = query_start(conn, ST_COMMIT_PUT, &q);
	if (rc < 0)
		return rc;
	rc = run_write(conn, &q, bind_commit(q.st, row), NULL);
	if (rc < 0 && sqlite3_extended_errcode(conn->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
		return fail(conn, TRACT_EEXISTS, "sqlite: commit already exists: %s",
			    row->commit_hash);
	return rc;
}

static int sqlite_commit_get(tract_backend_conn *conn, const char *tract_id,
			     const char *commit_hash, tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};
	struct query q;
	int rc, b;

	CHECK_ARG(conn, commit_hash && cb);
	rc = query_start(conn, ST_COMMIT_GET, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, commit_hash);
	b = b ? b : bind_text(q.st, 2, tract_id);
	return run_one(conn, &q, b, emit_commit, &sk, "commit", commit_hash);
}

static int sqlite_commit_prefix(tract_backend_conn *conn, const char *tract_id,
				const char *prefix, size_t max, tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};
	char upper[256];
	struct query q;
	int rc, b;

	CHECK_ARG(conn, prefix && *prefix && cb);
	if (strlen(prefix) >= sizeof(upper))
		return 0; /* longer than any hash: matches nothing */
	rc = query_start(conn, ST_COMMIT_PREFIX, &q);
	if (rc < 0)
		return rc;
	b = bind_prefix_range(q.st, 1, prefix, upper, sizeof(upper));
	b = b ? b : bind_text(q.st, 3, tract_id);
	b = b ? b : sqlite3_bind_int64(q.st, 4, max > 0 && max < INT64_MAX ? (int64_t)max : -1);
	return run_each(conn, &q, b, emit_commit, &sk, NULL);
}

/* Iterate one of the (all, one tract) statement pairs. */
static int foreach_scoped(tract_backend_conn *conn, enum stmt_id all, enum stmt_id scoped,
			  const char *scope, row_emit_fn emit, const struct sink *sk)
{
	struct query q;
	int rc;

	rc = query_start(conn, scope ? scoped : all, &q);
	if (rc < 0)
		return rc;
	return run_each(conn, &q, scope ? bind_text(q.st, 1, scope) : SQLITE_OK, emit, sk, NULL);
}

static int sqlite_commit_foreach(tract_backend_conn *conn, const char *tract_id,
				 tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_COMMIT_ALL, ST_COMMIT_TRACT, tract_id, emit_commit, &sk);
}

static int sqlite_commit_foreach_with_config(tract_backend_conn *conn, const char *tract_id,
					     tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_COMMIT_CONFIG_ALL, ST_COMMIT_CONFIG_TRACT, tract_id,
			      emit_commit, &sk);
}

static int sqlite_commit_delete(tract_backend_conn *conn, const char *commit_hash)
{
	int rc;

	CHECK_ARG(conn, commit_hash);
	/*
	 * Other commits' parent_hash / response_to are blanked by their ON
	 * DELETE SET NULL keys (foreign_keys is on for every connection);
	 * spawn pointers are blanked explicitly as well.
	 */
	rc = delete_by_key(conn, ST_PARENT_DELETE_CHILD, commit_hash, NULL);
	if (rc == 0)
		rc = delete_by_key(conn, ST_COMMIT_UNLINK_SPAWN, commit_hash, NULL);
	if (rc == 0)
		rc = delete_by_key(conn, ST_COMMIT_DELETE, commit_hash, "commit");
	return rc;
}

/* ---- chain walk ----------------------------------------------------------- */

static char *chain_sql(unsigned flags)
{
	size_t n = sizeof(chain_head_sql) + sizeof(chain_payload_col) +
		   sizeof(chain_priority_col) + sizeof(chain_parents_col) +
		   sizeof(chain_from_sql) + sizeof(chain_payload_join);
	char *sql = malloc(n);

	if (!sql)
		return NULL;
	strcpy(sql, chain_head_sql);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_payload_col);
	if (flags & TRACT_CHAIN_PRIORITY)
		strcat(sql, chain_priority_col);
	if (flags & TRACT_CHAIN_PARENTS)
		strcat(sql, chain_parents_col);
	strcat(sql, chain_from_sql);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_payload_join);
	return sql;
}

static char *chain_scan_sql(unsigned flags, int shape)
{
	size_t n = sizeof(chain_scan_head_sql) + sizeof(chain_payload_col) +
		   sizeof(chain_priority_col) + sizeof(chain_parents_col) +
		   strlen(chain_scan_from_sql[shape]) + sizeof(chain_payload_join) +
		   sizeof(chain_scan_where_sql);
	char *sql = malloc(n);

	if (!sql)
		return NULL;
	strcpy(sql, chain_scan_head_sql);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_payload_col);
	if (flags & TRACT_CHAIN_PRIORITY)
		strcat(sql, chain_priority_col);
	if (flags & TRACT_CHAIN_PARENTS)
		strcat(sql, chain_parents_col);
	strcat(sql, chain_scan_from_sql[shape]);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_payload_join);
	strcat(sql, chain_scan_where_sql);
	return sql;
}

/* Per-walk scratch for the merge parents of the current row. */
struct parent_list {
	char *text;
	size_t text_cap;
	const char **items;
	int64_t *positions;
	size_t items_cap;
	size_t n;
};

static int grow(void **ptr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 8;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*ptr, ncap * elem);
	if (!p)
		return TRACT_ENOMEM;
	*ptr = p;
	*cap = ncap;
	return 0;
}

static int grow_items(struct parent_list *pl, size_t need)
{
	size_t cap = pl->items_cap;

	if (grow((void **)&pl->items, &cap, need, sizeof(*pl->items)) < 0)
		return TRACT_ENOMEM;
	cap = pl->items_cap;
	if (grow((void **)&pl->positions, &cap, need, sizeof(*pl->positions)) < 0)
		return TRACT_ENOMEM;
	pl->items_cap = cap;
	return 0;
}

/* Append one "position SP hash" item (NUL-terminated in place). */
static int add_parent(struct parent_list *pl, char *item)
{
	char *hash = strchr(item, ' ');
	size_t i;

	if (!hash)
		return TRACT_ECORRUPT;
	*hash++ = '\0';
	if (grow_items(pl, pl->n + 1) < 0)
		return TRACT_ENOMEM;
	/* Insertion sort by position: merge commits have a handful of parents. */
	i = pl->n++;
	pl->positions[i] = strtoll(item, NULL, 10);
	pl->items[i] = hash;
	for (; i > 0 && pl->positions[i - 1] > pl->positions[i]; i--) {
		int64_t p = pl->positions[i];
		const char *h = pl->items[i];
		pl->positions[i] = pl->positions[i - 1];
		pl->items[i] = pl->items[i - 1];
		pl->positions[i - 1] = p;
		pl->items[i - 1] = h;
	}
	return 0;
}

/* Split the packed merge parents column into pl->items, in position order. */
static int split_parents(struct parent_list *pl, const char *packed)
{
	size_t len;
	char *s, *sep;
	int rc;

	pl->n = 0;
	if (!packed || !*packed)
		return 0;
	len = strlen(packed);
	if (grow((void **)&pl->text, &pl->text_cap, len + 1, 1) < 0)
		return TRACT_ENOMEM;
	memcpy(pl->text, packed, len + 1);
	for (s = pl->text;; s = sep + 1) {
		sep = strchr(s, PARENT_SEP);
		if (sep)
			*sep = '\0';
		rc = add_parent(pl, s);
		if (rc < 0 || !sep)
			return rc;
	}
}

/* Decode one chain row (extra columns follow the commit in flag order). */
static int read_chain_row(tract_backend_conn *conn, sqlite3_stmt *st, unsigned flags,
			  struct parent_list *pl, tract_chain_row *r)
{
	int col = 14, rc;

	memset(r, 0, sizeof(*r));
	r->priority = TRACT_PRIORITY_NONE;
	rc = read_commit(conn, st, &r->commit);
	if (rc < 0)
		return rc;
	if (flags & TRACT_CHAIN_PAYLOAD)
		r->payload_json = col_text(st, col++);
	if (flags & TRACT_CHAIN_PRIORITY)
		r->priority = tract_backend_priority_parse(col_text(st, col++));
	if (flags & TRACT_CHAIN_PARENTS) {
		rc = split_parents(pl, col_text(st, col++));
		if (rc == TRACT_ENOMEM)
			return fail(conn, rc, "sqlite: out of memory");
		if (rc < 0)
			return fail(conn, rc, "sqlite: unreadable merge parents of %s",
				    r->commit.commit_hash);
		r->extra_parents = pl->items;
		r->n_extra_parents = pl->n;
	}
	return 0;
}

static int bind_chain(sqlite3_stmt *st, const char *tract_id, const char *head, size_t limit,
		      unsigned flags, tract_time cutoff)
{
	int b = bind_text(st, 1, head);

	b = b ? b : bind_text(st, 2, tract_id);
	b = b ? b : sqlite3_bind_int64(st, 3, limit < INT64_MAX ? (int64_t)limit : 0);
	if (!b && (flags & TRACT_CHAIN_PRIORITY) && cutoff != INT64_MAX)
		b = bind_time(st, 4, cutoff);
	return b;
}

/* What a CTE walk saw, for the switch to the scan (may be NULL). */
struct walk_probe {
	size_t rows;          /* rows handed to the callback */
	bool stopped;         /* the callback stopped the walk (or failed) */
	char *parent;         /* parent_hash of row number limit - 1 (malloc'd), if any */
	int64_t first_rid;    /* rowid of the first row */
	int64_t last_rid;     /* rowid of row number limit - 1 */
};

static int walk_chain(tract_backend_conn *conn, struct query *q, unsigned flags, size_t limit,
		      tract_chain_cb cb, void *payload, struct walk_probe *probe)
{
	struct parent_list pl = {0};
	tract_chain_row row;
	int64_t depth = 0;
	int rc, cb_rc;

	while ((rc = sqlite3_step(q->st)) == SQLITE_ROW) {
		if (sqlite3_column_int64(q->st, 12) != depth++) {
			rc = fail(conn, TRACT_ESTORAGE, "sqlite: chain rows out of order");
			goto done;
		}
		cb_rc = read_chain_row(conn, q->st, flags, &pl, &row);
		if (probe && depth == 1)
			probe->first_rid = sqlite3_column_int64(q->st, 13);
		if (cb_rc == 0 && probe && (size_t)depth == limit && row.commit.parent_hash) {
			probe->last_rid = sqlite3_column_int64(q->st, 13);
			probe->parent = strdup(row.commit.parent_hash);
			if (!probe->parent)
				cb_rc = fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
		}
		if (cb_rc == 0)
			cb_rc = cb(&row, payload);
		if (probe) {
			probe->rows++;
			probe->stopped = cb_rc != 0;
		}
		if (cb_rc != 0) {
			rc = cb_rc < 0 ? cb_rc : 0;
			goto done;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : fail_db(conn, rc);
done:
	free(pl.text);
	free(pl.items);
	free(pl.positions);
	return rc;
}

/* The recursive CTE walk (limit 0: no limit). */
static int chain_cte(tract_backend_conn *conn, const char *tract_id, const char *head,
		     size_t limit, unsigned variant, tract_time annotation_cutoff,
		     tract_chain_cb cb, void *payload, struct walk_probe *probe)
{
	struct query q = {0};
	char *sql = NULL;
	int rc, b;

	/* The SQL text is only needed to prepare (first use, or re-entry). */
	if (!conn->chain[variant] || sqlite3_stmt_busy(conn->chain[variant])) {
		sql = chain_sql(variant);
		if (!sql)
			return fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
	}
	rc = use_cached(conn, &conn->chain[variant], sql, &q);
	if (rc < 0)
		goto done;
	b = bind_chain(q.st, tract_id, head, limit, variant, annotation_cutoff);
	if (b != SQLITE_OK) {
		rc = fail_db(conn, b);
		goto done;
	}
	rc = walk_chain(conn, &q, variant, limit, cb, payload, probe);
done:
	query_done(&q);
	free(sql);
	return rc;
}

/* ---- chain walk: the tract scan -------------------------------------------- */

/*
 * Payloads, annotations and merge parents of a scan each come from one of
 * three places: nowhere when their table is empty; the join or correlated
 * subquery of the CTE, an index seek per row; or, once a walk has proved
 * long (scan_sides), a side table read whole into memory, one sequential
 * read and then a hash probe per row, when it has at most twice as many
 * rows as the walk is expected to hand over still. A seek by 64-hex key
 * costs several times a row of a sequential read (a blob: ~4,700 against
 * ~1,600 instructions), so the side table wins well before that point.
 * All three give the same rows. max(rowid) stands for a table's size.
 */
enum side_mode {
	SIDE_NONE,
	SIDE_MEMORY,
	SIDE_QUERY,
};

struct side_key {
	size_t key;   /* text offset of the commit or content hash */
	size_t first; /* values: index of the first, and their number */
	size_t n;
	tract_priority priority; /* annotations: the latest one */
};

/* A side table in memory, by hash. Its strings live in one buffer and are
 * referred to by offset while it grows. */
struct side_table {
	char *text;
	size_t len, text_cap;
	struct side_key *keys;
	size_t n_keys, keys_cap;
	size_t *vals; /* text offsets of the values, grouped by key */
	size_t n_vals, vals_cap;
	const char **ptrs; /* the values as pointers, once loaded */
	size_t *slots;     /* open addressing: key index + 1, 0 = empty */
	size_t mask;
};

enum side_kind {
	SIDE_BLOBS,       /* content_hash -> payload_json */
	SIDE_ANNOTATIONS, /* target_hash -> latest priority */
	SIDE_PARENTS,     /* commit_hash -> merge parents from position 1 */
	N_SIDES
};

static const enum stmt_id side_stmt[N_SIDES] = {
	[SIDE_BLOBS] = ST_CHAIN_BLOBS,
	[SIDE_ANNOTATIONS] = ST_CHAIN_ANNOTATIONS,
	[SIDE_PARENTS] = ST_CHAIN_PARENTS,
};

/* The TRACT_CHAIN_* flag each side table stands in for. */
static const unsigned side_flag[N_SIDES] = {
	[SIDE_BLOBS] = TRACT_CHAIN_PAYLOAD,
	[SIDE_ANNOTATIONS] = TRACT_CHAIN_PRIORITY,
	[SIDE_PARENTS] = TRACT_CHAIN_PARENTS,
};

static void side_free(struct side_table *t)
{
	free(t->text);
	free(t->keys);
	free(t->vals);
	free(t->ptrs);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static int side_text(struct side_table *t, const char *s, size_t n, size_t *off)
{
	if (grow((void **)&t->text, &t->text_cap, t->len + n + 1, 1) < 0)
		return TRACT_ENOMEM;
	memcpy(t->text + t->len, s, n);
	t->text[t->len + n] = '\0';
	*off = t->len;
	t->len += n + 1;
	return 0;
}

/* The key entry for key: the last one again when rows come grouped by key. */
static struct side_key *side_group(struct side_table *t, const char *key, size_t n)
{
	struct side_key *k;

	if (t->n_keys && strcmp(t->text + t->keys[t->n_keys - 1].key, key) == 0)
		return &t->keys[t->n_keys - 1];
	if (grow((void **)&t->keys, &t->keys_cap, t->n_keys + 1, sizeof(*t->keys)) < 0)
		return NULL;
	k = &t->keys[t->n_keys];
	memset(k, 0, sizeof(*k));
	k->first = t->n_vals;
	k->priority = TRACT_PRIORITY_NONE;
	if (side_text(t, key, n, &k->key) < 0)
		return NULL;
	t->n_keys++;
	return k;
}

/* Add one row of the side table's statement: key, value. */
static int side_add(struct side_table *t, sqlite3_stmt *st, enum side_kind kind)
{
	const char *key = col_text(st, 0), *val = col_text(st, 1);
	struct side_key *k;

	if (!key || !val)
		return 0; /* NOT NULL columns: nothing the join would match */
	k = side_group(t, key, (size_t)sqlite3_column_bytes(st, 0));
	if (!k)
		return TRACT_ENOMEM;
	if (kind == SIDE_ANNOTATIONS) {
		/* Rows come by (created_at, id) within a key: the last wins. */
		k->priority = tract_backend_priority_parse(val);
		return 0;
	}
	if (kind == SIDE_BLOBS && k->n)
		return 0; /* a duplicate key: the join would see either */
	if (grow((void **)&t->vals, &t->vals_cap, t->n_vals + 1, sizeof(*t->vals)) < 0 ||
	    side_text(t, val, (size_t)sqlite3_column_bytes(st, 1), &t->vals[t->n_vals]) < 0)
		return TRACT_ENOMEM;
	t->n_vals++;
	k->n++;
	return 0;
}

/* A fast hash of a string (commit and content hashes are 64 hex digits). */
static uint64_t hash_str(const char *s)
{
	size_t n = strlen(s);
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 32;
	}
	for (; n > 0; s++, n--)
		h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	return h ^ (h >> 33);
}

/* Index the keys and turn the value offsets into pointers. */
static int side_index(struct side_table *t)
{
	size_t size = 16, i, j;

	while (size < 2 * t->n_keys)
		size *= 2;
	t->slots = calloc(size, sizeof(*t->slots));
	t->ptrs = malloc((t->n_vals ? t->n_vals : 1) * sizeof(*t->ptrs));
	if (!t->slots || !t->ptrs)
		return TRACT_ENOMEM;
	t->mask = size - 1;
	for (i = 0; i < t->n_keys; i++) {
		for (j = hash_str(t->text + t->keys[i].key) & t->mask; t->slots[j];
		     j = (j + 1) & t->mask)
			;
		t->slots[j] = i + 1;
	}
	for (i = 0; i < t->n_vals; i++)
		t->ptrs[i] = t->text + t->vals[i];
	return 0;
}

static const struct side_key *side_find(const struct side_table *t, const char *hash)
{
	size_t j, k;

	if (!hash || !t->slots)
		return NULL;
	for (j = hash_str(hash) & t->mask; (k = t->slots[j]) != 0; j = (j + 1) & t->mask)
		if (strcmp(t->text + t->keys[k - 1].key, hash) == 0)
			return &t->keys[k - 1];
	return NULL;
}

static int side_load(tract_backend_conn *conn, struct side_table *t, enum side_kind kind,
		     tract_time cutoff)
{
	struct query q;
	int rc, b = SQLITE_OK;

	rc = query_start(conn, side_stmt[kind], &q);
	if (rc < 0)
		return rc;
	if (kind == SIDE_ANNOTATIONS && cutoff != INT64_MAX)
		b = bind_time(q.st, 1, cutoff);
	if (b != SQLITE_OK) {
		rc = fail_db(conn, b);
	} else {
		while ((b = sqlite3_step(q.st)) == SQLITE_ROW)
			if ((rc = side_add(t, q.st, kind)) < 0)
				break;
		if (rc == 0 && b != SQLITE_DONE)
			rc = fail_db(conn, b);
	}
	query_done(&q);
	if (rc == 0)
		rc = side_index(t);
	return rc == TRACT_ENOMEM ? fail(conn, rc, "sqlite: out of memory") : rc;
}

/*
 * The scan hands over rows with the extras from the statement itself
 * (joins and subqueries) until SCAN_SIDE_ROWS rows; a walk that goes on
 * then loads the side tables worth it for the rest (scan_sides) and
 * continues with the statement without those extras. A short walk never
 * pays for a table it would barely use.
 */
#define SCAN_SIDE_ROWS 256

/*
 * Consecutive rows off the chain after which the scan looks up the
 * commit it waits for and jumps to it: a branch that forked long ago
 * reads a few rows of the history written since, not all of them.
 */
#define SCAN_GAP_ROWS 64

/* What one walk over the scan needs. */
struct scan_walk {
	const char *tract_id;
	int64_t lo, hi;          /* the rowid range still to scan */
	int shape;               /* 0: the table, 1: ix_commits_tract_id */
	unsigned cols;           /* TRACT_CHAIN_* the statement computes itself */
	int64_t side_max[N_SIDES]; /* max(rowid) of each side table, -1: empty */
	enum side_mode mode[N_SIDES];
	struct side_table side[N_SIDES];
	struct parent_list pl;
	char *next;              /* the commit the walk expects next, "" when done */
	size_t next_cap;
	size_t emitted, stepped; /* rows handed over and rows read by the scan */
	bool sides_planned;
};

/*
 * Plan the scan: its rowid range (the start commit down to the tract's
 * first) and its shape. The probe's rowid span tells how dense the chain
 * is among the rows of the range (other tracts' commits and abandoned
 * ones in between are read and skipped): at least 1 in 4 reads the table
 * in rowid order, sparser goes through the index. *found is false when
 * start is not a commit of the tract.
 */
static int scan_plan(tract_backend_conn *conn, struct scan_walk *w, const char *start,
		     unsigned flags, const struct walk_probe *probe, bool *found)
{
	sqlite3_int64 v[5] = {0};
	int64_t span = probe->first_rid - probe->last_rid + 1;
	struct query q;
	int rc, b, i;

	*found = false;
	rc = query_start(conn, ST_CHAIN_SIDES, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, start);
	b = b ? b : bind_text(q.st, 2, w->tract_id);
	if (b == SQLITE_OK)
		b = sqlite3_step(q.st);
	if (b == SQLITE_ROW) {
		/* -1 for NULL: the table is empty (or start is not there). */
		for (i = 0; i < 5; i++)
			v[i] = sqlite3_column_type(q.st, i) == SQLITE_NULL
				       ? -1
				       : sqlite3_column_int64(q.st, i);
	} else {
		rc = fail_db(conn, b);
	}
	query_done(&q);
	if (rc < 0 || v[0] == -1 || v[1] == -1)
		return rc;
	*found = true;
	w->hi = v[0];
	w->lo = v[1];
	if (span < (int64_t)probe->rows)
		span = (int64_t)probe->rows; /* rowids not in chain order */
	w->shape = span > 4 * (int64_t)probe->rows;
	for (i = 0; i < N_SIDES; i++) {
		w->side_max[i] = v[2 + i];
		w->mode[i] = (flags & side_flag[i]) && v[2 + i] != -1 ? SIDE_QUERY : SIDE_NONE;
		if (w->mode[i] == SIDE_QUERY)
			w->cols |= side_flag[i];
	}
	return 0;
}

/*
 * The rowid of the commit the walk expects, in the tract: *rid -1 when it
 * is not there (in another tract, or missing).
 */
static int scan_next_rowid(tract_backend_conn *conn, struct scan_walk *w, int64_t *rid)
{
	struct query q;
	int rc, b;

	*rid = -1;
	rc = query_start(conn, ST_CHAIN_ROWID, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, w->next);
	b = b ? b : bind_text(q.st, 2, w->tract_id);
	if (b == SQLITE_OK)
		b = sqlite3_step(q.st);
	if (b == SQLITE_ROW)
		*rid = sqlite3_column_int64(q.st, 0);
	else if (b != SQLITE_DONE)
		rc = fail_db(conn, b);
	query_done(&q);
	return rc;
}

/*
 * After SCAN_SIDE_ROWS rows: read whole the side tables with at most
 * twice as many rows as the walk is expected to hand over still (the
 * rows left in the range, at the density the scan has seen so far).
 */
static int scan_sides(tract_backend_conn *conn, struct scan_walk *w, int64_t next_rid,
		      tract_time cutoff)
{
	double est = (double)(next_rid - w->lo + 1) * (double)w->emitted / (double)w->stepped;
	int rc = 0, i;

	w->sides_planned = true;
	for (i = 0; rc == 0 && i < N_SIDES; i++) {
		if (w->mode[i] != SIDE_QUERY || (double)w->side_max[i] > 2 * est)
			continue;
		rc = side_load(conn, &w->side[i], (enum side_kind)i, cutoff);
		w->mode[i] = SIDE_MEMORY;
		w->cols &= ~side_flag[i];
	}
	return rc;
}

/* Decode a row of the scan statement (layout of chain_scan_head_sql). */
static int read_scan_row(tract_backend_conn *conn, sqlite3_stmt *st, struct scan_walk *w,
			 tract_chain_row *r)
{
	const struct side_key *k;
	int col = 11, rc;

	memset(r, 0, sizeof(*r));
	r->commit.commit_hash = col_text(st, 0);
	r->commit.tract_id = w->tract_id;
	r->commit.parent_hash = col_text(st, 1);
	r->commit.content_hash = col_text(st, 2);
	r->commit.content_type = col_text(st, 3);
	r->commit.operation = tract_backend_operation_parse(col_text(st, 4));
	r->commit.response_to = col_text(st, 5);
	r->commit.message = col_text(st, 6);
	r->commit.token_count = sqlite3_column_int64(st, 7);
	r->commit.metadata_json = col_json(st, 8);
	r->commit.generation_config_json = col_json(st, 9);
	rc = col_time(conn, st, 10, &r->commit.created_at);
	if (rc < 0)
		return rc;
	if (w->cols & TRACT_CHAIN_PAYLOAD)
		r->payload_json = col_text(st, col++);
	else if (w->mode[SIDE_BLOBS] == SIDE_MEMORY &&
		 (k = side_find(&w->side[SIDE_BLOBS], r->commit.content_hash)))
		r->payload_json = w->side[SIDE_BLOBS].ptrs[k->first];
	r->priority = TRACT_PRIORITY_NONE;
	if (w->cols & TRACT_CHAIN_PRIORITY)
		r->priority = tract_backend_priority_parse(col_text(st, col++));
	else if (w->mode[SIDE_ANNOTATIONS] == SIDE_MEMORY &&
		 (k = side_find(&w->side[SIDE_ANNOTATIONS], r->commit.commit_hash)))
		r->priority = k->priority;
	if (w->cols & TRACT_CHAIN_PARENTS) {
		rc = split_parents(&w->pl, col_text(st, col++));
		if (rc == TRACT_ENOMEM)
			return fail(conn, rc, "sqlite: out of memory");
		if (rc < 0)
			return fail(conn, rc, "sqlite: unreadable merge parents of %s",
				    r->commit.commit_hash);
		r->extra_parents = w->pl.items;
		r->n_extra_parents = w->pl.n;
	} else if (w->mode[SIDE_PARENTS] == SIDE_MEMORY &&
		   (k = side_find(&w->side[SIDE_PARENTS], r->commit.commit_hash))) {
		r->extra_parents = w->side[SIDE_PARENTS].ptrs + k->first;
		r->n_extra_parents = k->n;
	}
	return 0;
}

/* Copy s into *buf (grown as needed). */
static int set_str(char **buf, size_t *cap, const char *s)
{
	size_t n = strlen(s) + 1;

	if (grow((void **)buf, cap, n, 1) < 0)
		return TRACT_ENOMEM;
	memcpy(*buf, s, n);
	return 0;
}

/*
 * One pass of the scan over [lo, hi], handing over the rows of the chain
 * from w->next on. *again is set when the pass stopped to go on from
 * w->next (a gap, or side tables just loaded) with hi lowered to its
 * rowid; otherwise w->next is empty when the walk is complete, or names
 * the parent the scan did not reach.
 */
static int scan_pass(tract_backend_conn *conn, struct scan_walk *w, tract_time cutoff,
		     tract_chain_cb cb, void *payload, bool *again)
{
	sqlite3_stmt **slot = &conn->scan[w->shape][w->cols];
	struct query q = {0};
	tract_chain_row row;
	bool jump = false;
	size_t skipped = 0;
	int64_t rid;
	char *sql = NULL;
	const char *hash;
	int rc, b;

	*again = false;
	if (!*slot || sqlite3_stmt_busy(*slot)) {
		sql = chain_scan_sql(w->cols, w->shape);
		if (!sql)
			return fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
	}
	rc = use_cached(conn, slot, sql, &q);
	free(sql);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 2, w->tract_id);
	b = b ? b : sqlite3_bind_int64(q.st, 5, w->lo);
	b = b ? b : sqlite3_bind_int64(q.st, 6, w->hi);
	if (!b && (w->cols & TRACT_CHAIN_PRIORITY) && cutoff != INT64_MAX)
		b = bind_time(q.st, 4, cutoff);
	if (b != SQLITE_OK) {
		rc = fail_db(conn, b);
		goto done;
	}
	while ((b = sqlite3_step(q.st)) == SQLITE_ROW) {
		w->stepped++;
		hash = col_text(q.st, 0);
		if (!hash || strcmp(hash, w->next) != 0) {
			/* Off the chain: a side branch, an abandoned commit. */
			if (++skipped < SCAN_GAP_ROWS)
				continue;
			jump = true;
			break;
		}
		skipped = 0;
		rc = read_scan_row(conn, q.st, w, &row);
		if (rc == 0)
			rc = cb(&row, payload);
		if (rc != 0 || !row.commit.parent_hash) {
			rc = rc < 0 ? rc : 0;
			w->next[0] = '\0'; /* stopped, or the root: the walk is complete */
			goto done;
		}
		if (set_str(&w->next, &w->next_cap, row.commit.parent_hash) < 0) {
			rc = fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
			goto done;
		}
		if (++w->emitted >= SCAN_SIDE_ROWS && !w->sides_planned && w->cols) {
			jump = true;
			break;
		}
	}
	if (!jump) {
		if (b != SQLITE_DONE)
			rc = fail_db(conn, b);
		goto done;
	}
	query_done(&q);
	rc = scan_next_rowid(conn, w, &rid);
	if (rc == 0 && rid < 0)
		w->next[0] = '\0'; /* not in the tract: where the walk ends */
	if (rc < 0 || rid < 0 || rid >= w->hi)
		goto done; /* (a parent newer than its child: the CTE goes on) */
	if (w->emitted >= SCAN_SIDE_ROWS && !w->sides_planned)
		rc = scan_sides(conn, w, rid, cutoff);
	w->hi = rid;
	*again = rc == 0;
done:
	query_done(&q);
	return rc;
}

/*
 * Walk from start, a commit the probe reached, through scans of the
 * tract, newest rowid first. Rows stream to the callback as the statement
 * produces them: a row is handed over when it is the commit the walk
 * expects next (start, then each one's parent); the others are skipped.
 * Every commit is written after its parent, so a chain's rowids decrease
 * and each pass resumes below the last. A parent that the scan does not
 * reach is in another tract, missing, or (only in a store whose rows were
 * not written that way) newer than its child: the recursive CTE continues
 * from it and settles which.
 */
static int chain_scan(tract_backend_conn *conn, const char *tract_id, const char *start,
		      unsigned flags, tract_time cutoff, const struct walk_probe *probe,
		      tract_chain_cb cb, void *payload)
{
	struct scan_walk w = {.tract_id = tract_id};
	bool found, again = true;
	int rc, i;

	rc = scan_plan(conn, &w, start, flags, probe, &found);
	if (rc == 0 && found && set_str(&w.next, &w.next_cap, start) < 0)
		rc = fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
	while (rc == 0 && found && again)
		rc = scan_pass(conn, &w, cutoff, cb, payload, &again);
	if (rc == 0 && w.next && w.next[0])
		rc = chain_cte(conn, tract_id, w.next, 0, flags, cutoff, cb, payload, NULL);
	free(w.next);
	free(w.pl.text);
	free(w.pl.items);
	free(w.pl.positions);
	for (i = 0; i < N_SIDES; i++)
		side_free(&w.side[i]);
	return rc;
}

/*
 * Rows the recursive CTE walks before the scan takes over. Each CTE step
 * is a primary-key lookup by 64-hex text, several times the cost of a row
 * of the scan, but the scan has a setup of its own and reads the rows
 * between that are not on the chain. Probing with the CTE first keeps
 * short walks (a young tract, a branch of a few commits off an early one,
 * a callback that stops early) exactly as before, costs a long walk only
 * these few steps, and measures how densely the chain sits in the rowid
 * range for scan_plan(). Measured on a tract of 10,000 commits with every
 * extra: from the newest commit 33-47 ms by the CTE alone, 9-10 ms with
 * the scan; from the 5th commit 0.17 ms either way; from a 100-commit
 * branch off the 10th commit, written after all the others, 0.5 ms either
 * way (the scan jumps the gap).
 */
#define CHAIN_PROBE_ROWS 32

/*
 * The chain walk. With a limit (log -n 20) or across tracts (merge
 * expansion) it is the recursive CTE alone: it streams, and its cost
 * follows the rows asked for, not the history. Without a limit (compile)
 * the CTE probes the first CHAIN_PROBE_ROWS rows and a longer chain
 * continues with one scan of the tract (chain_scan).
 */
static int sqlite_commit_chain(tract_backend_conn *conn, const char *tract_id, const char *head,
			       size_t limit, unsigned flags, tract_time annotation_cutoff,
			       tract_chain_cb cb, void *payload)
{
	unsigned variant = flags & (TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS |
				    TRACT_CHAIN_PRIORITY);
	struct walk_probe probe = {0};
	int rc;

	CHECK_ARG(conn, head && cb);
	if (limit > 0 || !tract_id)
		return chain_cte(conn, tract_id, head, limit, variant, annotation_cutoff, cb,
				 payload, NULL);
	rc = chain_cte(conn, tract_id, head, CHAIN_PROBE_ROWS, variant, annotation_cutoff, cb,
		       payload, &probe);
	if (rc == 0 && !probe.stopped && probe.rows == CHAIN_PROBE_ROWS && probe.parent)
		rc = chain_scan(conn, tract_id, probe.parent, variant, annotation_cutoff, &probe,
				cb, payload);
	free(probe.parent);
	return rc;
}

/* ---- merge parents -------------------------------------------------------- */

/* Insert a (key, hash, position) triple, as commit_parents and the
 * compression member tables hold. */
static int put_triple(tract_backend_conn *conn, enum stmt_id id, const char *key,
		      const char *hash, int64_t position)
{
	struct query q;
	int rc, b;

	rc = query_start(conn, id, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, key);
	b = b ? b : bind_text(q.st, 2, hash);
	b = b ? b : sqlite3_bind_int64(q.st, 3, position);
	return run_write(conn, &q, b, NULL);
}

static int sqlite_parent_put(tract_backend_conn *conn, const char *commit_hash,
			     const char *parent_hash, int64_t position)
{
	CHECK_ARG(conn, commit_hash && parent_hash && position >= 0);
	return put_triple(conn, ST_PARENT_PUT, commit_hash, parent_hash, position);
}

static int sqlite_parent_list(tract_backend_conn *conn, const char *commit_hash,
			      tract_parent_cb cb, void *payload)
{
	struct sink sk = {.fn.parent = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, commit_hash && cb);
	rc = query_start(conn, ST_PARENT_LIST, &q);
	if (rc < 0)
		return rc;
	return run_each(conn, &q, bind_text(q.st, 1, commit_hash), emit_parent, &sk, NULL);
}

static int sqlite_parent_foreach(tract_backend_conn *conn, tract_parent_cb cb, void *payload)
{
	struct sink sk = {.fn.parent = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_PARENT_ALL, ST_PARENT_ALL, NULL, emit_parent, &sk);
}

/* ---- refs ----------------------------------------------------------------- */

static int sqlite_ref_get(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
			  tract_ref_cb cb, void *payload)
{
	struct sink sk = {.fn.ref = cb, .payload = payload};
	struct query q;
	int rc, b;

	CHECK_ARG(conn, tract_id && ref_name && cb);
	rc = query_start(conn, ST_REF_GET, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, tract_id);
	b = b ? b : bind_text(q.st, 2, ref_name);
	return run_one(conn, &q, b, emit_ref, &sk, "ref", ref_name);
}

/* Insert the ref unless it exists; *changes 0 when it did. */
static int ref_insert(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		      const char *commit_hash, const char *symbolic_target, int *changes)
{
	struct query q;
	int rc, b;

	rc = query_start(conn, ST_REF_INSERT, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, tract_id);
	b = b ? b : bind_text(q.st, 2, ref_name);
	b = b ? b : bind_text(q.st, 3, commit_hash);
	b = b ? b : bind_text(q.st, 4, symbolic_target);
	return run_write(conn, &q, b, changes);
}

/* Update the ref only when both columns still equal expected's. */
static int ref_update(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		      const char *commit_hash, const char *symbolic_target,
		      const tract_ref_row *expected, int *changes)
{
	struct query q;
	int rc, b;

	rc = query_start(conn, ST_REF_UPDATE, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, tract_id);
	b = b ? b : bind_text(q.st, 2, ref_name);
	b = b ? b : bind_text(q.st, 3, commit_hash);
	b = b ? b : bind_text(q.st, 4, symbolic_target);
	b = b ? b : bind_text(q.st, 5, expected->commit_hash);
	b = b ? b : bind_text(q.st, 6, expected->symbolic_target);
	return run_write(conn, &q, b, changes);
}

static int sqlite_ref_cas(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
			  const char *commit_hash, const char *symbolic_target,
			  const tract_ref_row *expected)
{
	int rc, changes = 0;

	CHECK_ARG(conn, tract_id && ref_name && (!commit_hash != !symbolic_target));
	if (!expected)
		rc = ref_insert(conn, tract_id, ref_name, commit_hash, symbolic_target, &changes);
	else
		rc = ref_update(conn, tract_id, ref_name, commit_hash, symbolic_target, expected,
				&changes);
	if (rc == 0 && changes == 0)
		return fail(conn, TRACT_ESTALE,
			    expected ? "ref %s of tract %s moved (compare-and-swap lost)"
				     : "ref %s of tract %s already exists (compare-and-swap lost)",
			    ref_name, tract_id);
	return rc;
}

static int ref_exists(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		      bool *exists)
{
	struct query q;
	size_t n = 0;
	int rc, b;

	*exists = false;
	rc = query_start(conn, ST_REF_GET, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, tract_id);
	b = b ? b : bind_text(q.st, 2, ref_name);
	if (b != SQLITE_OK) {
		rc = fail_db(conn, b);
	} else {
		rc = sqlite3_step(q.st);
		n = rc == SQLITE_ROW;
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail_db(conn, rc);
	}
	query_done(&q);
	*exists = n > 0;
	return rc;
}

static int sqlite_ref_delete(tract_backend_conn *conn, const char *tract_id,
			     const char *ref_name, const tract_ref_row *expected)
{
	struct query q;
	bool exists;
	int rc, b, changes = 0;

	CHECK_ARG(conn, tract_id && ref_name);
	rc = query_start(conn, ST_REF_DELETE, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, tract_id);
	b = b ? b : bind_text(q.st, 2, ref_name);
	b = b ? b : sqlite3_bind_int(q.st, 3, expected != NULL);
	b = b ? b : bind_text(q.st, 4, expected ? expected->commit_hash : NULL);
	b = b ? b : bind_text(q.st, 5, expected ? expected->symbolic_target : NULL);
	rc = run_write(conn, &q, b, &changes);
	if (rc < 0 || changes > 0)
		return rc;
	rc = ref_exists(conn, tract_id, ref_name, &exists);
	if (rc < 0)
		return rc;
	if (exists)
		return fail(conn, TRACT_ESTALE, "ref %s of tract %s moved (compare-and-swap lost)",
			    ref_name, tract_id);
	return fail(conn, TRACT_ENOTFOUND, "ref not found: %s", ref_name);
}

static int sqlite_ref_foreach(tract_backend_conn *conn, const char *tract_id,
			      const char *prefix, tract_ref_cb cb, void *payload)
{
	struct sink sk = {.fn.ref = cb, .payload = payload};
	char upper[512];
	struct query q;
	int rc, b;

	CHECK_ARG(conn, cb);
	if (prefix && strlen(prefix) >= sizeof(upper))
		return 0; /* longer than any ref name */
	rc = query_start(conn, tract_id ? ST_REF_TRACT : ST_REF_ALL, &q);
	if (rc < 0)
		return rc;
	if (tract_id) {
		b = bind_text(q.st, 1, tract_id);
		b = b ? b : bind_prefix_range(q.st, 2, prefix, upper, sizeof(upper));
	} else {
		b = bind_prefix_range(q.st, 1, prefix, upper, sizeof(upper));
	}
	return run_each(conn, &q, b, emit_ref, &sk, NULL);
}

/* ---- annotations ---------------------------------------------------------- */

static int sqlite_annotation_put(tract_backend_conn *conn, const tract_annotation_row *row,
				 int64_t *out_id)
{
	struct query q;
	int rc, b;

	CHECK_ARG(conn, row && row->tract_id && row->target_hash && tract_backend_priority_name(row->priority));
	rc = query_start(conn, ST_ANN_PUT, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, row->tract_id);
	b = b ? b : bind_text(q.st, 2, row->target_hash);
	b = b ? b : bind_text(q.st, 3, tract_backend_priority_name(row->priority));
	b = b ? b : bind_text(q.st, 4, row->reason);
	b = b ? b : bind_time(q.st, 5, row->created_at);
	rc = run_write(conn, &q, b, NULL);
	if (rc == 0 && out_id)
		*out_id = sqlite3_last_insert_rowid(conn->db);
	return rc;
}

static int sqlite_annotation_list(tract_backend_conn *conn, const char *target_hash,
				  tract_annotation_cb cb, void *payload)
{
	struct sink sk = {.fn.annotation = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, target_hash && cb);
	rc = query_start(conn, ST_ANN_LIST, &q);
	if (rc < 0)
		return rc;
	return run_each(conn, &q, bind_text(q.st, 1, target_hash), emit_annotation, &sk, NULL);
}

static int sqlite_annotation_foreach(tract_backend_conn *conn, const char *tract_id,
				     tract_annotation_cb cb, void *payload)
{
	struct sink sk = {.fn.annotation = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_ANN_ALL, ST_ANN_TRACT, tract_id, emit_annotation, &sk);
}

static int sqlite_annotation_delete_target(tract_backend_conn *conn, const char *target_hash)
{
	CHECK_ARG(conn, target_hash);
	return delete_by_key(conn, ST_ANN_DELETE_TARGET, target_hash, NULL);
}

/* ---- compression records -------------------------------------------------- */

static int sqlite_compression_put(tract_backend_conn *conn, const tract_compression_row *row)
{
	struct query q;
	int rc, b;

	CHECK_ARG(conn, row && row->compression_id && row->tract_id);
	rc = query_start(conn, ST_COMP_PUT, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, row->compression_id);
	b = b ? b : bind_text(q.st, 2, row->tract_id);
	b = b ? b : bind_text(q.st, 3, row->branch_name);
	b = b ? b : bind_time(q.st, 4, row->created_at);
	b = b ? b : sqlite3_bind_int64(q.st, 5, row->original_tokens);
	b = b ? b : sqlite3_bind_int64(q.st, 6, row->compressed_tokens);
	if (!b)
		b = row->target_tokens < 0 ? sqlite3_bind_null(q.st, 7)
					   : sqlite3_bind_int64(q.st, 7, row->target_tokens);
	b = b ? b : bind_text(q.st, 8, row->instructions);
	return run_write(conn, &q, b, NULL);
}

static bool valid_side(tract_compression_side side)
{
	return side == TRACT_COMPRESSION_SOURCES || side == TRACT_COMPRESSION_RESULTS;
}

static int sqlite_compression_member_put(tract_backend_conn *conn, tract_compression_side side,
					 const char *compression_id, const char *commit_hash,
					 int64_t position)
{
	CHECK_ARG(conn, valid_side(side) && compression_id && commit_hash);
	return put_triple(conn,
			  side == TRACT_COMPRESSION_SOURCES ? ST_COMP_SOURCE_PUT
							    : ST_COMP_RESULT_PUT,
			  compression_id, commit_hash, position);
}

static int sqlite_compression_get(tract_backend_conn *conn, const char *compression_id,
				  tract_compression_cb cb, void *payload)
{
	struct sink sk = {.fn.compression = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, compression_id && cb);
	rc = query_start(conn, ST_COMP_GET, &q);
	if (rc < 0)
		return rc;
	return run_one(conn, &q, bind_text(q.st, 1, compression_id), emit_compression, &sk,
		       "compression record", compression_id);
}

static int sqlite_compression_foreach(tract_backend_conn *conn, const char *tract_id,
				      tract_compression_cb cb, void *payload)
{
	struct sink sk = {.fn.compression = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_COMP_ALL, ST_COMP_TRACT, tract_id, emit_compression, &sk);
}

static int sqlite_compression_members(tract_backend_conn *conn, tract_compression_side side,
				      const char *compression_id, tract_member_cb cb,
				      void *payload)
{
	struct sink sk = {.fn.member = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, valid_side(side) && compression_id && cb);
	rc = query_start(conn,
			 side == TRACT_COMPRESSION_SOURCES ? ST_COMP_SOURCES : ST_COMP_RESULTS,
			 &q);
	if (rc < 0)
		return rc;
	return run_each(conn, &q, bind_text(q.st, 1, compression_id), emit_member, &sk, NULL);
}

static int sqlite_compression_delete(tract_backend_conn *conn, const char *compression_id)
{
	int rc;

	CHECK_ARG(conn, compression_id);
	rc = delete_by_key(conn, ST_COMP_SOURCES_DELETE, compression_id, NULL);
	if (rc == 0)
		rc = delete_by_key(conn, ST_COMP_RESULTS_DELETE, compression_id, NULL);
	if (rc == 0)
		rc = delete_by_key(conn, ST_COMP_DELETE, compression_id, "compression record");
	return rc;
}

/* ---- spawn pointers ------------------------------------------------------- */

static int sqlite_spawn_put(tract_backend_conn *conn, const tract_spawn_row *row,
			    int64_t *out_id)
{
	struct query q;
	int rc, b;

	CHECK_ARG(conn, row && row->parent_tract_id && row->child_tract_id && row->purpose &&
				row->inheritance_mode);
	rc = query_start(conn, ST_SPAWN_PUT, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, row->parent_tract_id);
	b = b ? b : bind_text(q.st, 2, row->parent_commit_hash);
	b = b ? b : bind_text(q.st, 3, row->child_tract_id);
	b = b ? b : bind_text(q.st, 4, row->purpose);
	b = b ? b : bind_text(q.st, 5, row->inheritance_mode);
	b = b ? b : bind_text(q.st, 6, row->display_name);
	b = b ? b : bind_time(q.st, 7, row->created_at);
	rc = run_write(conn, &q, b, NULL);
	if (rc == 0 && out_id)
		*out_id = sqlite3_last_insert_rowid(conn->db);
	return rc;
}

static int sqlite_spawn_foreach(tract_backend_conn *conn, const char *parent_tract_id,
				tract_spawn_cb cb, void *payload)
{
	struct sink sk = {.fn.spawn = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_SPAWN_ALL, ST_SPAWN_PARENT, parent_tract_id, emit_spawn,
			      &sk);
}

static int sqlite_spawn_by_child(tract_backend_conn *conn, const char *child_tract_id,
				 tract_spawn_cb cb, void *payload)
{
	struct sink sk = {.fn.spawn = cb, .payload = payload};

	CHECK_ARG(conn, child_tract_id && cb);
	return foreach_scoped(conn, ST_SPAWN_CHILD, ST_SPAWN_CHILD, child_tract_id, emit_spawn,
			      &sk);
}

static int sqlite_spawn_delete(tract_backend_conn *conn, int64_t id)
{
	struct query q;
	int rc, changes = 0;

	CHECK_CONN(conn);
	rc = query_start(conn, ST_SPAWN_DELETE, &q);
	if (rc < 0)
		return rc;
	rc = run_write(conn, &q, sqlite3_bind_int64(q.st, 1, id), &changes);
	if (rc == 0 && changes == 0)
		return fail(conn, TRACT_ENOTFOUND, "spawn pointer not found: %" PRId64, id);
	return rc;
}

/* ---- store metadata ------------------------------------------------------- */

static int sqlite_meta_get(tract_backend_conn *conn, const char *key, tract_meta_cb cb,
			   void *payload)
{
	struct sink sk = {.fn.meta = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, key && cb);
	rc = query_start(conn, ST_META_GET, &q);
	if (rc < 0)
		return rc;
	return run_one(conn, &q, bind_text(q.st, 1, key), emit_meta, &sk, "metadata key", key);
}

static int sqlite_meta_set(tract_backend_conn *conn, const char *key, const char *value)
{
	struct query q;
	int rc, b;

	CHECK_ARG(conn, key && value);
	rc = query_start(conn, ST_META_SET, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, key);
	b = b ? b : bind_text(q.st, 2, value);
	return run_write(conn, &q, b, NULL);
}

static int sqlite_meta_delete(tract_backend_conn *conn, const char *key)
{
	CHECK_ARG(conn, key);
	return delete_by_key(conn, ST_META_DELETE, key, "metadata key");
}

static int sqlite_meta_foreach(tract_backend_conn *conn, const char *prefix, tract_meta_cb cb,
			       void *payload)
{
	struct sink sk = {.fn.meta = cb, .payload = payload};
	char upper[512];
	struct query q;
	int rc;

	CHECK_ARG(conn, cb);
	if (prefix && strlen(prefix) >= sizeof(upper))
		return 0; /* longer than any key */
	rc = query_start(conn, ST_META_RANGE, &q);
	if (rc < 0)
		return rc;
	return run_each(conn, &q, bind_prefix_range(q.st, 1, prefix, upper, sizeof(upper)),
			emit_meta, &sk, NULL);
}

/* ---- tracts --------------------------------------------------------------- */

static int sqlite_tract_foreach(tract_backend_conn *conn, tract_tract_cb cb, void *payload)
{
	struct sink sk = {.fn.tract = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_TRACTS, ST_TRACTS, NULL, emit_tract, &sk);
}

/* ---- entry ---------------------------------------------------------------- */

/* Close, then remove the file this connection created (and the side
 * files that appeared with it) if the path still names that file. */
static int sqlite_destroy(tract_backend_conn *conn)
{
	char *path, side[4096];
	bool existed[N_SIDE_FILES];
	struct stat sb;
	dev_t dev;
	ino_t ino;
	size_t i;

	if (!conn)
		return 0;
	path = conn->created;
	conn->created = NULL;
	dev = conn->created_dev;
	ino = conn->created_ino;
	memcpy(existed, conn->side_existed, sizeof(existed));
	sqlite_close(conn);
	if (path && stat(path, &sb) == 0 && sb.st_dev == dev && sb.st_ino == ino &&
	    S_ISREG(sb.st_mode)) {
		unlink(path);
		for (i = 0; i < N_SIDE_FILES; i++) {
			if (existed[i])
				continue;
			snprintf(side, sizeof(side), "%s%s", path, side_file_suffixes[i]);
			unlink(side);
		}
	}
	free(path);
	return 0;
}

/* The path of a sqlite URI: "sqlite:PATH" or PATH. */
static const char *uri_path(const char *uri)
{
	return strncmp(uri, "sqlite:", 7) == 0 ? uri + 7 : uri;
}

/* The same file, by name or by identity; ":memory:" is never shared. */
static int sqlite_same_store(const char *uri_a, const char *uri_b)
{
	const char *a = uri_path(uri_a), *b = uri_path(uri_b);
	struct stat sa, sb;

	if (strcmp(a, ":memory:") == 0 || strcmp(b, ":memory:") == 0)
		return 0;
	if (strcmp(a, b) == 0)
		return 1;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static const char *const sqlite_schemes[] = {"sqlite", NULL};
static const char *const sqlite_private_keys[] = {"schema_version", NULL};

static const tract_backend sqlite_backend = {
	.version = TRACT_BACKEND_VERSION,
	.name = "sqlite",
	.schemes = sqlite_schemes,
	.private_meta_keys = sqlite_private_keys,
	.description = "SQLite file (tract schema version 4), the default embedded store",
	.open = sqlite_open,
	.destroy = sqlite_destroy,
	.same_store = sqlite_same_store,
	.close = sqlite_close,
	.last_error = sqlite_last_error,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.blob_put = sqlite_blob_put,
	.blob_get = sqlite_blob_get,
	.blob_foreach = sqlite_blob_foreach,
	.commit_put = sqlite_commit_put,
	.commit_get = sqlite_commit_get,
	.commit_prefix = sqlite_commit_prefix,
	.commit_chain = sqlite_commit_chain,
	.commit_foreach = sqlite_commit_foreach,
	.commit_foreach_with_config = sqlite_commit_foreach_with_config,
	.parent_put = sqlite_parent_put,
	.parent_list = sqlite_parent_list,
	.parent_foreach = sqlite_parent_foreach,
	.ref_get = sqlite_ref_get,
	.ref_cas = sqlite_ref_cas,
	.ref_delete = sqlite_ref_delete,
	.ref_foreach = sqlite_ref_foreach,
	.annotation_put = sqlite_annotation_put,
	.annotation_list = sqlite_annotation_list,
	.annotation_foreach = sqlite_annotation_foreach,
	.compression_put = sqlite_compression_put,
	.compression_member_put = sqlite_compression_member_put,
	.compression_get = sqlite_compression_get,
	.compression_foreach = sqlite_compression_foreach,
	.compression_members = sqlite_compression_members,
	.spawn_put = sqlite_spawn_put,
	.spawn_foreach = sqlite_spawn_foreach,
	.spawn_by_child = sqlite_spawn_by_child,
	.meta_get = sqlite_meta_get,
	.meta_set = sqlite_meta_set,
	.meta_delete = sqlite_meta_delete,
	.meta_foreach = sqlite_meta_foreach,
	.tract_foreach = sqlite_tract_foreach,
	.commit_delete = sqlite_commit_delete,
	.blob_delete = sqlite_blob_delete,
	.annotation_delete_target = sqlite_annotation_delete_target,
	.compression_delete = sqlite_compression_delete,
	.spawn_delete = sqlite_spawn_delete,
};

__attribute__((visibility("default"))) const tract_backend *tract_backend_entry(void);

const tract_backend *tract_backend_entry(void)
{
	return &sqlite_backend;
}
