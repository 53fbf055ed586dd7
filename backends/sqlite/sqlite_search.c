/*
 * sqlite_search.c - the message-text search index (ABI version 5): an
 * FTS5 table with the trigram tokenizer over each blob's message text
 * (the core extracts the text), a map from content hash to the FTS row,
 * and a queue of the blobs the index lacks, filled by triggers on blobs
 * so that every writer of the file (an older tract, tract's Python
 * library) queues the blobs it inserts or deletes.
 *
 * None of it is part of the reference's schema, and the Python library
 * ignores it: the tables are made by the first search that may write the
 * store (search_index_open with create), never by a read-only open. The
 * triggers only touch plain tables, so a writer whose SQLite lacks FTS5
 * still writes the store. ix_tract_search_commits covers what a hit needs
 * of its commits, found by content hash (a third faster than a lookup of
 * each commit row for a common word).
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"

#define SEARCH_DDL                                                                                 \
	"CREATE TABLE IF NOT EXISTS tract_search_queue (\n"                                        \
	"\tcontent_hash VARCHAR(64) NOT NULL PRIMARY KEY\n"                                        \
	") WITHOUT ROWID;\n"                                                                       \
	"CREATE TABLE IF NOT EXISTS tract_search_map (\n"                                          \
	"\tcontent_hash VARCHAR(64) NOT NULL PRIMARY KEY,\n"                                       \
	"\tdoc INTEGER NOT NULL\n"                                                                 \
	") WITHOUT ROWID;\n"                                                                       \
	"CREATE VIRTUAL TABLE IF NOT EXISTS tract_search_text USING fts5(\n"                       \
	"\tcontent_hash UNINDEXED, text, tokenize = 'trigram');\n"                                 \
	"CREATE TRIGGER IF NOT EXISTS tract_search_blob_insert AFTER INSERT ON blobs BEGIN\n"      \
	"\tINSERT OR IGNORE INTO tract_search_queue (content_hash) VALUES (new.content_hash);\n"    \
	"END;\n"                                                                                   \
	"CREATE TRIGGER IF NOT EXISTS tract_search_blob_delete AFTER DELETE ON blobs BEGIN\n"      \
	"\tINSERT OR IGNORE INTO tract_search_queue (content_hash) VALUES (old.content_hash);\n"    \
	"END;\n"                                                                                   \
	"CREATE INDEX IF NOT EXISTS ix_tract_search_commits ON commits (\n"                         \
	"\tcontent_hash, commit_hash, tract_id, content_type, created_at);\n"                      \
	"INSERT OR IGNORE INTO tract_search_queue (content_hash) SELECT content_hash FROM blobs;\n"

enum {
	SS_PENDING,
	SS_MAP_GET,
	SS_TEXT_DELETE,
	SS_TEXT_INSERT,
	SS_MAP_SET,
	SS_MAP_DELETE,
	SS_QUEUE_DELETE,
	SS_QUERY_MATCH,
	SS_QUERY_LIKE,
	SS_QUERY_QUEUED,
};

static const char *const search_sql[N_SEARCH_STMTS] = {
	[SS_PENDING] = "SELECT q.content_hash, b.payload_json FROM tract_search_queue q "
		       "LEFT JOIN blobs b ON b.content_hash = q.content_hash",
	[SS_MAP_GET] = "SELECT doc FROM tract_search_map WHERE content_hash = ?1",
	[SS_TEXT_DELETE] = "DELETE FROM tract_search_text WHERE rowid = ?1",
	[SS_TEXT_INSERT] = "INSERT INTO tract_search_text (content_hash, text) VALUES (?1, ?2)",
	[SS_MAP_SET] = "INSERT OR REPLACE INTO tract_search_map (content_hash, doc) VALUES (?1, ?2)",
	[SS_MAP_DELETE] = "DELETE FROM tract_search_map WHERE content_hash = ?1",
	[SS_QUEUE_DELETE] = "DELETE FROM tract_search_queue WHERE content_hash = ?1",
	[SS_QUERY_MATCH] = "SELECT c.commit_hash, c.tract_id, c.content_hash, c.content_type, "
			   "c.created_at, f.text FROM tract_search_text f "
			   "CROSS JOIN commits c ON c.content_hash = f.content_hash "
			   "WHERE tract_search_text MATCH ?1 AND (?2 IS NULL OR c.tract_id = ?2)",
	[SS_QUERY_LIKE] = "SELECT c.commit_hash, c.tract_id, c.content_hash, c.content_type, "
			  "c.created_at, f.text FROM tract_search_text f "
			  "CROSS JOIN commits c ON c.content_hash = f.content_hash "
			  "WHERE f.text LIKE ?1 ESCAPE '\\' AND (?2 IS NULL OR c.tract_id = ?2)",
	[SS_QUERY_QUEUED] = "SELECT c.commit_hash, c.tract_id, c.content_hash, c.content_type, "
			    "c.created_at, NULL FROM tract_search_queue q "
			    "CROSS JOIN commits c ON c.content_hash = q.content_hash "
			    "WHERE ?2 IS NULL OR c.tract_id = ?2",
};

static int start(tract_backend_conn *conn, int id, struct query *q)
{
	return use_cached(conn, &conn->search[id], search_sql[id], q);
}

/* 1 when the index's tables exist, 0 when not, < 0 on failure. */
static int index_exists(tract_backend_conn *conn)
{
	sqlite3_stmt *st = NULL;
	int rc, found;

	if (conn->search_index)
		return 1;
	rc = sqlite3_prepare_v2(conn->db,
				"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
				"('tract_search_queue', 'tract_search_map', 'tract_search_text')",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail_db(conn, rc);
	rc = sqlite3_step(st);
	found = rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 3;
	if (rc != SQLITE_ROW) {
		rc = fail_db(conn, rc);
		sqlite3_finalize(st);
		return rc;
	}
	sqlite3_finalize(st);
	conn->search_index = found;
	return found;
}

int sqlite_search_index_open(tract_backend_conn *conn, int create)
{
	int rc;

	CHECK_CONN(conn);
	rc = index_exists(conn);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return 0;
	if (!create)
		return fail(conn, TRACT_ENOTFOUND, "sqlite: no search index in this store");
	if (sqlite3_db_readonly(conn->db, "main") == 1)
		return fail(conn, TRACT_ENOTFOUND,
			    "sqlite: no search index in this store (read-only, not made)");
	if (sqlite3_get_autocommit(conn->db))
		return fail(conn, TRACT_EINVAL, "sqlite: search_index_open outside a transaction");
	rc = sqlite3_exec(conn->db, SEARCH_DDL, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fail_db(conn, rc);
	conn->search_index = 1;
	return 0;
}

int sqlite_search_pending(tract_backend_conn *conn, tract_search_pending_cb cb, void *payload)
{
	struct query q;
	int rc, cb_rc;

	CHECK_ARG(conn, cb);
	rc = index_exists(conn);
	if (rc <= 0)
		return rc;
	rc = start(conn, SS_PENDING, &q);
	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(q.st)) == SQLITE_ROW) {
		cb_rc = cb(col_text(q.st, 0), col_text(q.st, 1), payload);
		if (cb_rc != 0) {
			query_done(&q);
			return cb_rc < 0 ? cb_rc : 0;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : fail_db(conn, rc);
	query_done(&q);
	return rc;
}

/* Run a bound write of the search statement id with one or two text
 * arguments (b NULL: one). */
static int write_keyed(tract_backend_conn *conn, int id, const char *a, int64_t n)
{
	struct query q;
	int rc = start(conn, id, &q), b;

	if (rc < 0)
		return rc;
	b = a ? bind_text(q.st, 1, a) : sqlite3_bind_int64(q.st, 1, n);
	return run_write(conn, &q, b, NULL);
}

int sqlite_search_index_put(tract_backend_conn *conn, const char *content_hash,
			    const char *text)
{
	struct query q;
	int64_t doc = 0;
	int rc, b, have = 0;

	CHECK_ARG(conn, content_hash);
	rc = index_exists(conn);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return fail(conn, TRACT_ENOTFOUND, "sqlite: no search index in this store");
	rc = start(conn, SS_MAP_GET, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, content_hash);
	if (b != SQLITE_OK) {
		query_done(&q);
		return fail_db(conn, b);
	}
	rc = sqlite3_step(q.st);
	if (rc == SQLITE_ROW) {
		have = 1;
		doc = sqlite3_column_int64(q.st, 0);
	} else if (rc != SQLITE_DONE) {
		rc = fail_db(conn, rc);
		query_done(&q);
		return rc;
	}
	query_done(&q);
	if (have && (rc = write_keyed(conn, SS_TEXT_DELETE, NULL, doc)) < 0)
		return rc;
	if (text) {
		rc = start(conn, SS_TEXT_INSERT, &q);
		if (rc < 0)
			return rc;
		b = bind_text(q.st, 1, content_hash);
		b = b ? b : bind_text(q.st, 2, text);
		rc = run_write(conn, &q, b, NULL);
		if (rc < 0)
			return rc;
		doc = sqlite3_last_insert_rowid(conn->db);
		rc = start(conn, SS_MAP_SET, &q);
		if (rc < 0)
			return rc;
		b = bind_text(q.st, 1, content_hash);
		b = b ? b : sqlite3_bind_int64(q.st, 2, doc);
		rc = run_write(conn, &q, b, NULL);
	} else {
		rc = write_keyed(conn, SS_MAP_DELETE, content_hash, 0);
	}
	if (rc < 0)
		return rc;
	return write_keyed(conn, SS_QUEUE_DELETE, content_hash, 0);
}

/* Hand every row of a bound candidate query to cb. */
static int emit_candidates(tract_backend_conn *conn, struct query *q, tract_search_cb cb,
			   void *payload)
{
	tract_search_row r;
	int rc, cb_rc;

	while ((rc = sqlite3_step(q->st)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		r.commit_hash = col_text(q->st, 0);
		r.tract_id = col_text(q->st, 1);
		r.content_hash = col_text(q->st, 2);
		r.content_type = col_text(q->st, 3);
		r.text = col_text(q->st, 5);
		cb_rc = col_time(conn, q->st, 4, &r.created_at);
		if (cb_rc == 0)
			cb_rc = cb(&r, payload);
		if (cb_rc != 0) {
			query_done(q);
			return cb_rc < 0 ? cb_rc : 1;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : fail_db(conn, rc);
	query_done(q);
	return rc;
}

/* Characters (code points) of a UTF-8 string. */
static size_t n_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* term as an FTS5 string ("..." with quotes doubled), or as a LIKE
 * pattern (%...% with \, % and _ escaped). */
static char *quote_term(const char *term, int like)
{
	size_t n = strlen(term), o = 0, i;
	char *s = malloc(2 * n + 3);

	if (!s)
		return NULL;
	s[o++] = like ? '%' : '"';
	for (i = 0; i < n; i++) {
		char c = term[i];

		if (!like && c == '"')
			s[o++] = '"';
		else if (like && (c == '\\' || c == '%' || c == '_'))
			s[o++] = '\\';
		s[o++] = c;
	}
	s[o++] = like ? '%' : '"';
	s[o] = '\0';
	return s;
}

int sqlite_search_query(tract_backend_conn *conn, const char *term, const char *tract_id,
			tract_search_cb cb, void *payload)
{
	struct query q;
	char *pattern;
	int rc, b, like;

	CHECK_ARG(conn, term && *term && cb);
	rc = index_exists(conn);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return fail(conn, TRACT_ENOTFOUND, "sqlite: no search index in this store");
	/* The trigram index answers terms of 3 characters or more; a shorter
	 * one is matched by LIKE over the indexed text (not the blobs). */
	like = n_chars(term) < 3;
	pattern = quote_term(term, like);
	if (!pattern)
		return fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
	rc = start(conn, like ? SS_QUERY_LIKE : SS_QUERY_MATCH, &q);
	if (rc == 0) {
		b = bind_text(q.st, 1, pattern);
		b = b ? b : bind_text(q.st, 2, tract_id);
		if (b != SQLITE_OK) {
			query_done(&q);
			rc = fail_db(conn, b);
		} else {
			rc = emit_candidates(conn, &q, cb, payload);
		}
	}
	free(pattern);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	rc = start(conn, SS_QUERY_QUEUED, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 2, tract_id);
	if (b != SQLITE_OK) {
		query_done(&q);
		return fail_db(conn, b);
	}
	rc = emit_candidates(conn, &q, cb, payload);
	return rc < 0 ? rc : 0;
}

/* blob_delete's part: the deleted blob leaves the index at once (the
 * trigger queued it; this takes it off the queue again). */
int sqlite_search_forget(tract_backend_conn *conn, const char *content_hash)
{
	int rc = index_exists(conn);

	if (rc <= 0)
		return rc;
	return sqlite_search_index_put(conn, content_hash, NULL);
}

void sqlite_search_finalize(tract_backend_conn *conn)
{
	size_t i;

	for (i = 0; i < N_SEARCH_STMTS; i++) {
		sqlite3_finalize(conn->search[i]);
		conn->search[i] = NULL;
	}
}
