/*
 * sqlite_schema.c - the SQLite backend's schema: exactly tract's schema
 * version 4 (spec/core.md §1.6), the migrations from versions 1-3, the
 * version check that refuses a newer or unreadable store untouched, and
 * the connection's pragmas.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "sqlite_internal.h"
#include "text.h"

/* ---- DDL ----------------------------------------------------------------- */

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

/* ---- version check and migration ----------------------------------------- */

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
	SQLITE_CACHE_PRAGMA                                                                        \
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
int apply_pragmas(tract_backend_conn *conn)
{
	int rc;

	/* Before anything that may wait on a lock. */
	rc = sqlite3_busy_timeout(conn->db, BUSY_TIMEOUT_MS) == SQLITE_OK ? 0
									  : fail_db(conn, SQLITE_ERROR);
	if (rc == 0)
		rc = exec_sql(conn, "PRAGMA synchronous=NORMAL");
	if (rc == 0)
		rc = exec_sql(conn, "PRAGMA foreign_keys=ON");
	if (rc == 0)
		rc = exec_sql(conn, TUNING_PRAGMAS);
	return rc;
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

	if (!bc_is_plain_integer(text))
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

/* True when the file holds a table named name. */
static int has_table(tract_backend_conn *conn, const char *name, bool *has)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*has = false;
	rc = prepare(conn, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", &st);
	if (rc < 0)
		return rc;
	rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	*has = rc == SQLITE_ROW;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail_db(conn, rc);
	sqlite3_finalize(st);
	return rc;
}

/* Switch to WAL unless the file is in WAL mode already (the switch takes
 * the write lock; reading the mode does not). */
static int ensure_wal(tract_backend_conn *conn)
{
	sqlite3_stmt *st = NULL;
	bool wal = false;
	int rc;

	rc = prepare(conn, "PRAGMA journal_mode", &st);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *mode = col_text(st, 0);
		wal = mode && strcmp(mode, "wal") == 0;
		rc = SQLITE_DONE;
	}
	rc = rc == SQLITE_DONE ? 0 : fail_db(conn, rc);
	sqlite3_finalize(st);
	if (rc == 0 && !wal)
		rc = exec_sql(conn, "PRAGMA journal_mode=WAL");
	return rc;
}

/* Switch to WAL if needed, then create or migrate the schema in one
 * write transaction. */
static int create_or_migrate(tract_backend_conn *conn)
{
	int rc;

	rc = ensure_wal(conn);
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

int migrate(tract_backend_conn *conn, const char *location, bool create)
{
	bool has_commits;
	int version, rc, waited_ms = 0;

	/* Refuse an unsupported file before touching it at all; a store of
	 * the current version needs no write, so an open that only reads
	 * never takes the write lock (readers never wait for a writer). */
	rc = read_schema_version(conn, &version);
	if (rc == 0 && version == SCHEMA_VERSION)
		return ensure_wal(conn);
	if (rc == 0 && version == 0 && !create) {
		/* Not a tract store (another application's database, an empty
		 * file): only a creating open may put tract's tables in it. */
		rc = has_table(conn, "commits", &has_commits);
		if (rc == 0 && !has_commits)
			return fail(conn, TRACT_ENOTFOUND,
				    "store not found: %s is not a tract store (an SQLite file "
				    "without tract's tables; `init` creates them)",
				    location);
	}
	if (rc < 0)
		return rc;
	/*
	 * Processes creating one new file at once meet SQLite's locks while
	 * it is still switching to WAL, where some paths answer SQLITE_BUSY
	 * without calling the busy handler: retry the whole step for as long
	 * as the busy timeout, with a growing pause. The step re-reads the
	 * version inside its transaction, so whoever comes second finds the
	 * schema made.
	 */
	for (;;) {
		rc = create_or_migrate(conn);
		if (rc == 0 || (sqlite3_extended_errcode(conn->db) & 0xff) != SQLITE_BUSY ||
		    waited_ms >= BUSY_TIMEOUT_MS)
			return rc;
		sqlite3_sleep(5 + waited_ms / 10);
		waited_ms += 5 + waited_ms / 10;
	}
}
