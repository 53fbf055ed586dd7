/*
 * sqlite_stmt.c - the SQLite backend's statements: their SQL, prepared
 * once per connection and cached; errors; the stored time format;
 * binding parameters, reading columns, running statements and decoding
 * rows for the callbacks.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"
#include "text.h"

/* ---- cached statements --------------------------------------------------- */

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
	/* One step of the ancestry walk: the commit's time, first parent and
	 * commit_parents rows packed for bc_parents_split(). */
	[ST_ANCESTRY] = "SELECT c.created_at, c.parent_hash, "
			"(SELECT group_concat(p.position || ' ' || p.parent_hash, char(31)) "
			"FROM commit_parents AS p WHERE p.commit_hash = c.commit_hash) "
			"FROM commits AS c WHERE c.commit_hash = ?1 AND (?2 IS NULL OR c.tract_id = ?2)",
};

/* ---- errors -------------------------------------------------------------- */

int fail(tract_backend_conn *conn, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(conn->err, sizeof(conn->err), fmt, ap);
	va_end(ap);
	return code;
}

int code_of_sqlite(int rc)
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
int fail_db(tract_backend_conn *conn, int rc)
{
	const char *msg = sqlite3_errmsg(conn->db);

	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return fail(conn, TRACT_ESTORAGE, "sqlite: %s (store busy: another writer holds it)",
			    msg);
	return fail(conn, code_of_sqlite(rc), "sqlite: %s", msg);
}

/* ---- time ---------------------------------------------------------------- */

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

/* ---- statements ---------------------------------------------------------- */

int prepare(tract_backend_conn *conn, const char *sql, sqlite3_stmt **out)
{
	int rc = sqlite3_prepare_v3(conn->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);

	if (rc != SQLITE_OK) {
		*out = NULL;
		return fail_db(conn, rc);
	}
	return 0;
}

/* Hand out a cached statement, preparing it on first use. */
int use_cached(tract_backend_conn *conn, sqlite3_stmt **slot, const char *sql,
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

int query_start(tract_backend_conn *conn, enum stmt_id id, struct query *q)
{
	return use_cached(conn, &conn->stmts[id], stmt_sql[id], q);
}

/* Give a statement back: reset and unbind a cached one, free a transient one. */
void query_done(struct query *q)
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
int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (!s)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* JSON columns store "none" as the 4-character text 'null'. */
int bind_json(sqlite3_stmt *st, int i, const char *s)
{
	return sqlite3_bind_text(st, i, s ? s : "null", -1, SQLITE_STATIC);
}

int bind_time(sqlite3_stmt *st, int i, tract_time t)
{
	char buf[48];

	time_format(buf, sizeof(buf), t);
	return sqlite3_bind_text(st, i, buf, -1, SQLITE_TRANSIENT);
}

/* Bind ?lo and ?hi of a prefix range (NULL prefix: everything). */
int bind_prefix_range(sqlite3_stmt *st, int lo, const char *prefix, char *buf,
		      size_t len)
{
	int rc;

	rc = bind_text(st, lo, prefix ? prefix : "");
	if (rc != SQLITE_OK)
		return rc;
	if (prefix && bc_prefix_upper_bytes(prefix, buf, len))
		return sqlite3_bind_text(st, lo + 1, buf, -1, SQLITE_STATIC);
	return sqlite3_bind_zeroblob(st, lo + 1, 0);
}

const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* A JSON column: SQL NULL and the text 'null' both mean none. */
const char *col_json(sqlite3_stmt *st, int i)
{
	const char *s = col_text(st, i);

	if (s && strcmp(s, "null") == 0)
		return NULL;
	return s;
}

int col_time(tract_backend_conn *conn, sqlite3_stmt *st, int i, tract_time *out)
{
	const char *s = col_text(st, i);

	if (!time_parse(s, out))
		return fail(conn, TRACT_ECORRUPT, "sqlite: unreadable timestamp '%s' in %s",
			    s ? s : "NULL", sqlite3_column_name(st, i));
	return 0;
}

/* ---- running statements -------------------------------------------------- */

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
int run_each(tract_backend_conn *conn, struct query *q, int bind_rc, row_emit_fn emit,
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
int run_one(tract_backend_conn *conn, struct query *q, int bind_rc, row_emit_fn emit,
	    const struct sink *sk, const char *what, const char *key)
{
	size_t n = 0;
	int rc = run_each(conn, q, bind_rc, emit, sk, &n);

	if (rc == 0 && n == 0)
		return fail(conn, TRACT_ENOTFOUND, "%s not found: %s", what, key);
	return rc;
}

/* Run a write statement; *changes (may be NULL) gets the changed rows. */
int run_write(tract_backend_conn *conn, struct query *q, int bind_rc, int *changes)
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

/* ---- row decoders -------------------------------------------------------- */

static int read_blob(tract_backend_conn *conn, sqlite3_stmt *st, tract_blob_row *r)
{
	r->content_hash = col_text(st, 0);
	r->payload_json = col_text(st, 1);
	r->byte_size = sqlite3_column_int64(st, 2);
	r->token_count = sqlite3_column_int64(st, 3);
	return col_time(conn, st, 4, &r->created_at);
}

int read_commit(tract_backend_conn *conn, sqlite3_stmt *st, tract_commit_row *r)
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

int emit_blob(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	tract_blob_row r;
	int rc = read_blob(conn, st, &r);

	return rc < 0 ? rc : sk->fn.blob(&r, sk->payload);
}

int emit_commit(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	tract_commit_row r;
	int rc = read_commit(conn, st, &r);

	return rc < 0 ? rc : sk->fn.commit(&r, sk->payload);
}

int emit_ref(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
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

int emit_annotation(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
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

int emit_parent(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	(void)conn;
	return sk->fn.parent(col_text(st, 0), col_text(st, 1), sqlite3_column_int64(st, 2),
			     sk->payload);
}

int emit_compression(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	tract_compression_row r;
	int rc = read_compression(conn, st, &r);

	return rc < 0 ? rc : sk->fn.compression(&r, sk->payload);
}

int emit_member(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	(void)conn;
	return sk->fn.member(col_text(st, 0), col_text(st, 1), sqlite3_column_int64(st, 2),
			     sk->payload);
}

int emit_spawn(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	tract_spawn_row r;
	int rc = read_spawn(conn, st, &r);

	return rc < 0 ? rc : sk->fn.spawn(&r, sk->payload);
}

int emit_meta(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
{
	(void)conn;
	return sk->fn.meta(col_text(st, 0), col_text(st, 1), sk->payload);
}

int emit_tract(tract_backend_conn *conn, sqlite3_stmt *st, const struct sink *sk)
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
