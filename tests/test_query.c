/*
 * test_query.c - cross-tract queries and waiting (tract/query.h,
 * tract/wait.h) on the backend of TRACT_TEST_BACKEND: the timeline of
 * every tract in creation order with its filters and early stop; search
 * of message text (never JSON keys), its case rule, filters, snippets and
 * JSON; tract_wait_ref() woken by another process, and its timeout.
 */
#include "helpers.h"

#include <sys/wait.h>
#include <time.h>

#include "tract/agents.h"
#include "tract/query.h"
#include "tract/wait.h"

/* Two tracts: A (the fixture's) and B, commits interleaved in time. */
typedef struct {
	fx *f;
	tract *b;
	char a1[65], b1[65], a2[65], b2[65], a3[65];
	tract_time t_mid; /* between a2 and b2 */
} qx;

static void say(tract *t, char out[65], const char *role, const char *text)
{
	tract_commit *c = NULL;

	if (tract_commit_create_dialogue(&c, t, role, text, NULL, NULL) != 0)
		fail_msg("commit: %s", tract_error_last()->message);
	memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static qx *qx_new(void)
{
	qx *q = calloc(1, sizeof(*q));
	tract_commit *c = NULL;

	assert_non_null(q);
	q->f = fx_new(NULL);
	if (tract_create(&q->b, q->f->store, NULL, NULL, NULL) != 0)
		fail_msg("create: %s", tract_error_last()->message);
	say(q->f->t, q->a1, "user", "Hello there, what is the role of a Café?");
	pause_ms(2);
	say(q->b, q->b1, "assistant", "The content_type of text is plain.");
	pause_ms(2);
	if (tract_commit_create_instruction(&c, q->f->t, "Always answer HELLO first.", NULL) != 0)
		fail_msg("commit: %s", tract_error_last()->message);
	memcpy(q->a2, tract_commit_hash(c), 65);
	tract_commit_free(c);
	pause_ms(2);
	q->t_mid = tract_time_now();
	pause_ms(2);
	say(q->b, q->b2, "user", "line one\nline two mentions zebra\tand more words after it to cut");
	pause_ms(2);
	say(q->f->t, q->a3, "assistant", "no match in this one");
	return q;
}

static void qx_free(qx *q)
{
	tract_free(q->b);
	fx_free(q->f);
	free(q);
}

static void expect_list(const tract_commit_list *l, size_t n, ...)
{
	va_list ap;

	assert_int_equal(l->count, n);
	va_start(ap, n);
	for (size_t k = 0; k < n; k++)
		assert_string_equal(tract_commit_hash(l->items[k]), va_arg(ap, const char *));
	va_end(ap);
}

static void test_timeline_all_tracts_in_order(void **state)
{
	qx *q = qx_new();
	tract_timeline_options o = TRACT_TIMELINE_OPTIONS_INIT;
	tract_commit_list *l = NULL;

	(void)state;
	assert_int_equal(tract_timeline_list(&l, q->f->store, NULL), 0);
	expect_list(l, 5, q->a1, q->b1, q->a2, q->b2, q->a3);
	assert_string_equal(tract_commit_tract_id(l->items[1]), tract_id(q->b));
	assert_null(tract_commit_content(l->items[0])); /* no blob read by default */
	tract_commit_list_free(l);

	o.tract_id = tract_id(q->b);
	assert_int_equal(tract_timeline_list(&l, q->f->store, &o), 0);
	expect_list(l, 2, q->b1, q->b2);
	tract_commit_list_free(l);

	o.tract_id = NULL;
	o.content_type = "instruction";
	o.content = 1;
	assert_int_equal(tract_timeline_list(&l, q->f->store, &o), 0);
	expect_list(l, 1, q->a2);
	assert_non_null(strstr(tract_commit_content(l->items[0]), "HELLO first"));
	tract_commit_list_free(l);

	o.content_type = NULL;
	o.since = q->t_mid;
	assert_int_equal(tract_timeline_list(&l, q->f->store, &o), 0);
	expect_list(l, 2, q->b2, q->a3);
	tract_commit_list_free(l);

	o.since = TRACT_TIME_NONE;
	o.until = q->t_mid;
	o.limit = 2;
	assert_int_equal(tract_timeline_list(&l, q->f->store, &o), 0);
	expect_list(l, 2, q->a1, q->b1); /* the oldest two before t_mid */
	tract_commit_list_free(l);

	o.limit = 0;
	o.tract_id = "no-such-tract";
	assert_int_equal(tract_timeline_list(&l, q->f->store, &o), 0);
	assert_int_equal(l->count, 0);
	tract_commit_list_free(l);
	qx_free(q);
}

static int stop_after_two(const tract_commit *c, void *payload)
{
	int *n = payload;

	(void)c;
	return ++*n == 2 ? 1 : 0;
}

static int fail_cb(const tract_commit *c, void *payload)
{
	(void)c;
	(void)payload;
	return tract_error_set(TRACT_EINVAL, "callback refused");
}

static void test_timeline_stream_stops(void **state)
{
	qx *q = qx_new();
	int n = 0;

	(void)state;
	assert_int_equal(tract_timeline_foreach(q->f->store, NULL, stop_after_two, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(tract_timeline_foreach(q->f->store, NULL, fail_cb, NULL), TRACT_EINVAL);
	assert_string_equal(tract_error_last()->message, "callback refused");
	/* The store is usable afterwards (the read transaction ended). */
	say(q->f->t, q->a3, "user", "after");
	assert_int_equal(tract_timeline_foreach(NULL, NULL, stop_after_two, &n), TRACT_EINVAL);
	qx_free(q);
}

static tract_search_list *search(qx *q, const char *term, const tract_search_options *o)
{
	tract_search_list *l = NULL;

	if (tract_search_run(&l, q->f->store, term, o) != 0)
		fail_msg("search '%s': %s", term, tract_error_last()->message);
	return l;
}

static void test_search_message_text_not_keys(void **state)
{
	qx *q = qx_new();
	tract_search_list *l;

	(void)state;
	/* Keys and type names of the stored JSON never match. */
	l = search(q, "role\"", NULL);
	assert_int_equal(l->count, 0);
	tract_search_list_free(l);
	l = search(q, "dialogue", NULL);
	assert_int_equal(l->count, 0);
	tract_search_list_free(l);
	/* ... but the same words inside a message do. */
	l = search(q, "content_type", NULL);
	assert_int_equal(l->count, 1);
	assert_string_equal(l->items[0].commit_hash, q->b1);
	assert_string_equal(l->items[0].tract_id, tract_id(q->b));
	tract_search_list_free(l);
	l = search(q, "role", NULL);
	assert_int_equal(l->count, 1);
	assert_string_equal(l->items[0].commit_hash, q->a1);
	tract_search_list_free(l);
	/* ASCII case-insensitive, oldest first, across tracts. */
	l = search(q, "hello", NULL);
	assert_int_equal(l->count, 2);
	assert_string_equal(l->items[0].commit_hash, q->a1);
	assert_string_equal(l->items[1].commit_hash, q->a2);
	assert_string_equal(l->items[1].content_type, "instruction");
	tract_search_list_free(l);
	/* Non-ASCII exact: café matches Café's "afé", CAFÉ does not. */
	l = search(q, "CAFé", NULL);
	assert_int_equal(l->count, 1);
	tract_search_list_free(l);
	l = search(q, "CAFÉ", NULL);
	assert_int_equal(l->count, 0);
	tract_search_list_free(l);
	/* A term spanning a line break matches the text as compiled. */
	l = search(q, "one\nline", NULL);
	assert_int_equal(l->count, 1);
	tract_search_list_free(l);
	qx_free(q);
}

static void test_search_filters_and_snippets(void **state)
{
	qx *q = qx_new();
	tract_search_options o = TRACT_SEARCH_OPTIONS_INIT;
	tract_search_list *l;
	char side[65], *json = NULL;
	cJSON *doc;

	(void)state;
	o.tract_id = tract_id(q->f->t);
	l = search(q, "hello", &o);
	assert_int_equal(l->count, 2);
	tract_search_list_free(l);
	o.tract_id = tract_id(q->b);
	l = search(q, "hello", &o);
	assert_int_equal(l->count, 0);
	tract_search_list_free(l);
	o.tract_id = NULL;
	o.content_type = "dialogue";
	l = search(q, "hello", &o);
	assert_int_equal(l->count, 1);
	assert_string_equal(l->items[0].commit_hash, q->a1);
	tract_search_list_free(l);
	o.content_type = NULL;
	o.since = q->t_mid;
	l = search(q, "e", &o);
	assert_int_equal(l->count, 2); /* b2 and a3 only */
	tract_search_list_free(l);
	o.since = TRACT_TIME_NONE;
	o.limit = 1;
	l = search(q, "e", &o);
	assert_int_equal(l->count, 1);
	assert_string_equal(l->items[0].commit_hash, q->a1);
	tract_search_list_free(l);
	o.limit = 0;

	/* Branch: a commit on another branch is found without the filter,
	 * not with it. */
	{
		tract_store *s = q->f->store;
		char head[65];

		assert_int_equal(tract_revision_resolve(head, q->f->t, "HEAD"), 0);
		tract_ref_row was;

		memset(&was, 0, sizeof(was));
		was.symbolic_target = "refs/heads/main";
		assert_int_equal(tract_txn_begin(s, TRACT_TXN_WRITE), 0);
		assert_int_equal(s->be->ref_cas(s->conn, tract_id(q->f->t), "refs/heads/side", head,
						NULL, NULL),
				 0);
		assert_int_equal(s->be->ref_cas(s->conn, tract_id(q->f->t), "HEAD", NULL,
						"refs/heads/side", &was),
				 0);
		assert_int_equal(tract_txn_end(s, 0), 0);
		say(q->f->t, side, "user", "hello from the side branch");
	}
	l = search(q, "side branch", NULL);
	assert_int_equal(l->count, 1);
	tract_search_list_free(l);
	o.tract_id = tract_id(q->f->t);
	o.branch = "main";
	l = search(q, "hello", &o);
	assert_int_equal(l->count, 2);
	tract_search_list_free(l);
	o.branch = "side";
	l = search(q, "hello", &o);
	assert_int_equal(l->count, 3);
	assert_string_equal(l->items[2].commit_hash, side);
	tract_search_list_free(l);
	o.branch = "nope";
	assert_int_equal(tract_search_run(&l, q->f->store, "hello", &o), TRACT_ENOTFOUND);
	assert_null(l);
	o.branch = NULL;
	o.tract_id = NULL;

	/* Snippets: one line, cut with an ellipsis on both sides. */
	o.snippet_context = 5;
	l = search(q, "zebra", &o);
	assert_int_equal(l->count, 1);
	assert_string_equal(l->items[0].snippet, "\xe2\x80\xa6ions zebra and \xe2\x80\xa6");
	assert_int_equal(tract_search_list_to_json(&json, l), 0);
	doc = cJSON_Parse(json);
	assert_non_null(doc);
	assert_int_equal(cJSON_GetArraySize(doc), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(doc, 0), "commit_hash")->valuestring,
			    q->b2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(doc, 0), "tract_id")->valuestring,
			    tract_id(q->b));
	assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(doc, 0), "created_at")->valuestring);
	cJSON_Delete(doc);
	tract_string_free(json);
	tract_search_list_free(l);
	o.snippet_context = 0;
	l = search(q, "Hello there", &o);
	assert_string_equal(l->items[0].snippet, "Hello there, what is the role of a Caf\xc3\xa9?");
	tract_search_list_free(l);

	/* Bad input. */
	assert_int_equal(tract_search_run(&l, q->f->store, "", NULL), TRACT_EINVAL);
	assert_int_equal(tract_search_run(&l, q->f->store, "\xff", NULL), TRACT_EINVAL);
	o.branch = "main";
	assert_int_equal(tract_search_run(&l, q->f->store, "x", &o), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "needs a tract"));
	assert_null(l);
	qx_free(q);
}

/* ---- search through the backend's index (ABI version 5) ------------------ */

/* say(), also giving the commit's content hash. */
static void say2(tract *t, char out[65], char blob[65], const char *text)
{
	tract_commit *c = NULL;

	if (tract_commit_create_dialogue(&c, t, "user", text, NULL, NULL) != 0)
		fail_msg("commit: %s", tract_error_last()->message);
	memcpy(out, tract_commit_hash(c), 65);
	memcpy(blob, tract_commit_content_hash(c), 65);
	tract_commit_free(c);
}

/* The hits of term, as "hash hash ..." in order. */
static size_t hits(qx *q, const char *term, const char *first)
{
	tract_search_list *l = search(q, term, NULL);
	size_t n = l->count;

	if (first) {
		assert_true(n > 0);
		assert_string_equal(l->items[0].commit_hash, first);
	}
	tract_search_list_free(l);
	return n;
}

/* The index is made by the first search, from commits written before it;
 * later commits, LIKE's special characters, deletions (as gc makes them)
 * and a deleted blob written again are all seen. */
static void test_search_index_follows_writes(void **state)
{
	qx *q = qx_new();
	tract_store *s = q->f->store;
	tract_search_list *l;
	int want_index = 1; /* every backend has one (ABI version 5) */
	char g[65], gb[65], p1[65], pb[65], p2[65], after[65], g2[65], g2b[65];

	(void)state;
	l = search(q, "ZEBRA", NULL); /* written before any index existed */
	assert_int_equal(l->count, 1);
	assert_string_equal(l->items[0].commit_hash, q->b2);
	assert_int_equal(l->indexed, want_index);
	if (!want_index)
		assert_int_equal(l->scanned, 5); /* a scan reads every blob */
	tract_search_list_free(l);

	say2(q->b, g, gb, "a GIRAFFE walks in");
	say2(q->b, p1, pb, "sure at 100% of a_b, say \"hi\"");
	say2(q->b, p2, pb, "x-y and 100 percent");
	say(q->b, after, "user", "the last word");
	l = search(q, "giraffe", NULL);
	assert_int_equal(l->count, 1);
	assert_string_equal(l->items[0].commit_hash, g);
	assert_int_equal(l->indexed, want_index);
	if (want_index)
		assert_int_equal(l->scanned, 0); /* indexed before it answered */
	tract_search_list_free(l);
	/* LIKE's wildcards and FTS5's quotes match only themselves. */
	assert_int_equal(hits(q, "0%", p1), 1);
	assert_int_equal(hits(q, "a_b", p1), 1);
	assert_int_equal(hits(q, "x_y", NULL), 0);
	assert_int_equal(hits(q, "%", p1), 1);
	assert_int_equal(hits(q, "_", q->b1), 2); /* content_type, a_b */
	assert_int_equal(hits(q, "\"hi\"", p1), 1);
	assert_int_equal(hits(q, "y \"", p1), 1);
	assert_int_equal(hits(q, "100 p", p2), 1);
	assert_int_equal(hits(q, "e%", NULL), 0);

	/* Delete g and its blob as gc does: no longer found. */
	assert_int_equal(tract_txn_begin(s, TRACT_TXN_WRITE), 0);
	assert_int_equal(s->be->commit_delete(s->conn, g), 0);
	assert_int_equal(s->be->blob_delete(s->conn, gb), 0);
	assert_int_equal(tract_txn_end(s, 0), 0);
	assert_int_equal(hits(q, "giraffe", NULL), 0);
	assert_int_equal(hits(q, "walks", NULL), 0);
	/* The same text again: the same blob, written anew, is found. */
	say2(q->b, g2, g2b, "a GIRAFFE walks in");
	assert_string_equal(g2b, gb);
	assert_int_equal(hits(q, "giraffe", g2), 1);
	assert_int_equal(hits(q, "walks", g2), 1);
	qx_free(q);
}

#include <sqlite3.h>

static void sql_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : "?");
}

static int sql_count(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int n = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

#define INDEX_TABLES                                                                               \
	"SELECT count(*) FROM sqlite_master WHERE name LIKE 'tract_search%' AND type = 'table'"

/*
 * SQLite: a file written by tract's Python library (the v4 fixture) gets
 * its index at the first search and answers; rows another writer adds or
 * deletes with plain SQL (as the Python library does, knowing nothing of
 * the index) are queued by the triggers and seen by the next search; the
 * Python library's own view of the file is untouched.
 */
static void test_search_python_store(void **state)
{
	const char *root = getenv("TRACT_FIXTURES");
	char src[512], path[600], cmd[1400];
	tract_store *s = NULL;
	tract_search_list *l = NULL;
	sqlite3 *db = NULL;
	fx *f;

	(void)state;
	if (!ts_is("sqlite"))
		return; /* the fixture is a SQLite file */
	assert_non_null(root);
	f = fx_new(NULL);
	snprintf(src, sizeof(src), "%s/v4_basic.db", root);
	snprintf(path, sizeof(path), "%s/py.db", f->dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(sql_count(path, INDEX_TABLES), 0);
	assert_int_equal(tract_store_open(&s, path, 0), 0);
	assert_int_equal(tract_search_run(&l, s, "delegate RESEARCH", NULL), 0);
	assert_int_equal(l->count, 2);
	assert_int_equal(l->indexed, 1);
	assert_int_equal(l->scanned, 0);
	assert_non_null(strstr(l->items[0].snippet, "Delegate research"));
	tract_search_list_free(l);
	assert_true(sql_count(path, INDEX_TABLES) >= 3);
	assert_int_equal(sql_count(path, "SELECT count(*) FROM tract_search_map"),
			 sql_count(path, "SELECT count(*) FROM blobs"));

	/* Another writer adds a commit and deletes one, with plain SQL. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sql_exec(db, "PRAGMA foreign_keys = ON");
	sql_exec(db, "INSERT INTO blobs VALUES ('bb00000000000000000000000000000000000000000000000000"
		     "000000000001', '{\"content_type\": \"dialogue\", \"name\": null, \"role\": "
		     "\"user\", \"text\": \"Written by Python: OKAPI sighted\"}', 90, 5, "
		     "'2026-12-01 10:00:00.000000')");
	sql_exec(db, "INSERT INTO commits (commit_hash, tract_id, parent_hash, content_hash, "
		     "content_type, operation, response_to, message, token_count, metadata_json, "
		     "generation_config_json, created_at) SELECT "
		     "'cc00000000000000000000000000000000000000000000000000000000000001', tract_id, "
		     "NULL, 'bb00000000000000000000000000000000000000000000000000000000000001', "
		     "'dialogue', 'APPEND', NULL, NULL, 5, 'null', NULL, '2026-12-01 10:00:00.000000' "
		     "FROM commits LIMIT 1");
	sqlite3_close(db);
	assert_int_equal(sql_count(path, "SELECT count(*) FROM tract_search_queue"), 1);
	assert_int_equal(tract_search_run(&l, s, "okapi", NULL), 0);
	assert_int_equal(l->count, 1);
	assert_string_equal(l->items[0].commit_hash,
			    "cc00000000000000000000000000000000000000000000000000000000000001");
	tract_search_list_free(l);
	assert_int_equal(sql_count(path, "SELECT count(*) FROM tract_search_queue"), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sql_exec(db, "DELETE FROM commits WHERE commit_hash = "
		     "'cc00000000000000000000000000000000000000000000000000000000000001'");
	sql_exec(db, "DELETE FROM blobs WHERE content_hash = "
		     "'bb00000000000000000000000000000000000000000000000000000000000001'");
	sqlite3_close(db);
	assert_int_equal(tract_search_run(&l, s, "okapi", NULL), 0);
	assert_int_equal(l->count, 0);
	tract_search_list_free(l);
	/* The deleted blob's index row went with the queue entry. */
	assert_int_equal(sql_count(path, "SELECT count(*) FROM tract_search_map WHERE content_hash "
					 "LIKE 'bb000%'"),
			 0);
	assert_int_equal(sql_count(path, "SELECT count(*) FROM tract_search_queue"), 0);
	tract_store_free(s);
	fx_free(f);
}

/*
 * SQLite: a search that may not write (another connection holds the write
 * lock until the busy timeout) writes nothing: without an index it reads
 * every blob; with one, it reads the blobs still queued. Both complete.
 */
static void test_search_without_write(void **state)
{
	qx *q;
	tract_store *other = NULL;
	tract_search_list *l = NULL;
	char path[600], late[65];

	(void)state;
	if (!ts_is("sqlite"))
		return;
	q = qx_new();
	snprintf(path, sizeof(path), "%s/t.db", q->f->dir);
	assert_int_equal(tract_store_open(&other, q->f->uri, 0), 0);
	assert_int_equal(tract_txn_begin(other, TRACT_TXN_WRITE), 0);
	l = search(q, "zebra", NULL);
	assert_int_equal(l->count, 1);
	assert_int_equal(l->indexed, 0);
	assert_int_equal(l->scanned, 5);
	tract_search_list_free(l);
	assert_int_equal(sql_count(path, INDEX_TABLES), 0);
	assert_int_equal(tract_txn_end(other, 0), 0);

	l = search(q, "zebra", NULL); /* makes the index */
	assert_int_equal(l->indexed, 1);
	tract_search_list_free(l);
	say(q->b, late, "user", "a late zebra");
	assert_int_equal(tract_txn_begin(other, TRACT_TXN_WRITE), 0);
	l = search(q, "ZEBRA", NULL);
	assert_int_equal(l->count, 2);
	assert_string_equal(l->items[1].commit_hash, late);
	assert_int_equal(l->indexed, 1);
	assert_int_equal(l->scanned, 1); /* the queued one, read from its blob */
	tract_search_list_free(l);
	assert_int_equal(sql_count(path, "SELECT count(*) FROM tract_search_queue"), 1);
	assert_int_equal(tract_txn_end(other, 0), 0);
	tract_store_free(other);
	qx_free(q);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_wait_timeout_and_past(void **state)
{
	fx *f = fx_new(NULL);
	tract_wait_options o = TRACT_WAIT_OPTIONS_INIT;
	char a[65], b[65], out[65];
	int64_t t0;

	(void)state;
	fx_say(f, a, "user", "one");
	o.timeout_ms = 150;
	t0 = mono_ms();
	assert_int_equal(tract_wait_ref(out, f->t, &o), TRACT_ETIMEOUT);
	assert_true(mono_ms() - t0 >= 150);
	assert_non_null(strstr(tract_error_last()->message, "timed out"));
	assert_string_equal(out, "");
	/* Already past: returns at once with the current commit. */
	fx_say(f, b, "user", "two");
	o.past = a;
	o.timeout_ms = 0;
	assert_int_equal(tract_wait_ref(out, f->t, &o), 0);
	assert_string_equal(out, b);
	o.ref = "main";
	assert_int_equal(tract_wait_ref(out, f->t, &o), 0);
	assert_string_equal(out, b);
	o.past = b;
	assert_int_equal(tract_wait_ref(out, f->t, &o), TRACT_ETIMEOUT);
	o.past = "no-such-rev";
	assert_int_equal(tract_wait_ref(out, f->t, &o), TRACT_ENOTFOUND);
	o.past = NULL;
	o.ref = "";
	assert_int_equal(tract_wait_ref(out, f->t, &o), TRACT_EINVAL);
	fx_free(f);
}

/* Another process moves the branch: the waiter wakes soon after. */
static void test_wait_across_processes(void **state)
{
	fx *f = fx_new(NULL);
	tract_wait_options o = TRACT_WAIT_OPTIONS_INIT;
	char first[65], out[65], id[65], child_hash[65] = "";
	int64_t child_done = 0, woke;
	int fds[2], status;
	pid_t pid;

	(void)state;
	fx_say(f, first, "user", "before");
	memcpy(id, tract_id(f->t), 65);
	/* No handle crosses the fork (LMDB and libpq forbid it). */
	tract_free(f->t);
	tract_store_free(f->store);
	f->t = NULL;
	f->store = NULL;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		tract_store *s = NULL;
		tract *t = NULL;
		tract_commit *c = NULL;
		char msg[128];
		int64_t done;

		close(fds[0]);
		pause_ms(400);
		if (tract_store_open(&s, f->uri, 0) != 0 || tract_open(&t, s, id, NULL) != 0 ||
		    tract_commit_create_dialogue(&c, t, "assistant", "from the child", NULL, NULL) != 0)
			_exit(3);
		done = mono_ms();
		snprintf(msg, sizeof(msg), "%s %lld", tract_commit_hash(c), (long long)done);
		if (write(fds[1], msg, strlen(msg)) < 0)
			_exit(4);
		tract_commit_free(c);
		tract_free(t);
		tract_store_free(s);
		_exit(0);
	}
	close(fds[1]);
	if (tract_store_open(&f->store, f->uri, 0) != 0 ||
	    tract_open(&f->t, f->store, id, NULL) != 0)
		fail_msg("reopen: %s", tract_error_last()->message);
	o.past = first;
	o.timeout_ms = 30000;
	assert_int_equal(tract_wait_ref(out, f->t, &o), 0);
	woke = mono_ms();
	{
		char buf[128] = "";
		ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
		long long done = 0;

		assert_true(n > 0);
		buf[n] = '\0';
		assert_int_equal(sscanf(buf, "%64s %lld", child_hash, &done), 2);
		child_done = done;
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_string_equal(out, child_hash);
	/* The bound is loose (sanitizers, a shared machine); the polling
	 * backoff caps at 20 ms, bench_query measures the real figure. */
	assert_true(woke - child_done < 2000);
	fx_free(f);
}

/* A child of f's tract, spawned with a head_snapshot; its id into id. */
static void spawn_child(fx *f, char id[65], const char *purpose)
{
	tract_spawn_options o = TRACT_SPAWN_OPTIONS_INIT;
	tract *child = NULL;

	o.purpose = purpose;
	if (tract_spawn(&child, f->t, &o) != 0)
		fail_msg("spawn: %s", tract_error_last()->message);
	tract_copy_id(id, tract_id(child));
	tract_free(child);
}

static void collapse_child(tract *parent, const char *child, const char *summary, char out[65])
{
	tract_collapse_options o = TRACT_COLLAPSE_OPTIONS_INIT;
	tract_collapse_result *r = NULL;

	o.summary = summary;
	if (tract_collapse(&r, parent, child, &o) != 0)
		fail_msg("collapse: %s", tract_error_last()->message);
	if (out)
		tract_copy_id(out, r->parent_commit_hash);
	tract_collapse_result_free(r);
}

static void child_say(fx *f, const char *child, const char *text)
{
	tract *c = NULL;
	char h[65];

	if (tract_open(&c, f->store, child, NULL) != 0)
		fail_msg("open child: %s", tract_error_last()->message);
	say(c, h, "assistant", text);
	tract_free(c);
}

/* Waiting for a collapse: other moves are waited past; a collapse already
 * after past returns at once; errors for a non-child. */
static void test_wait_collapsed_in_process(void **state)
{
	fx *f = fx_new(NULL);
	tract_wait_options o = TRACT_WAIT_OPTIONS_INIT;
	char before[65], c1[65], c2[65], col[65], out[65], other[65];
	tract *other_t = NULL;

	(void)state;
	fx_say(f, before, "user", "plan");
	spawn_child(f, c1, "first");
	spawn_child(f, c2, "second");
	child_say(f, c1, "done one");
	child_say(f, c2, "done two");
	/* Nothing collapsed yet: the spawn commits after past do not count. */
	o.collapsed = c1;
	o.past = before;
	o.timeout_ms = 100;
	assert_int_equal(tract_wait_ref(out, f->t, &o), TRACT_ETIMEOUT);
	assert_non_null(strstr(tract_error_last()->message, "collapse of"));
	/* Another child's collapse is not the one waited for. */
	collapse_child(f->t, c2, "two is done", NULL);
	assert_int_equal(tract_wait_ref(out, f->t, &o), TRACT_ETIMEOUT);
	collapse_child(f->t, c1, "one is done", col);
	fx_say(f, NULL, "user", "later");
	/* Already there after past: at once, the collapse commit itself. */
	o.timeout_ms = 0;
	assert_int_equal(tract_wait_ref(out, f->t, &o), 0);
	assert_string_equal(out, col);
	/* past at (or after) the collapse: not found any more. */
	o.past = col;
	assert_int_equal(tract_wait_ref(out, f->t, &o), TRACT_ETIMEOUT);
	/* Not a child of this tract; no such child. */
	if (tract_create(&other_t, f->store, NULL, NULL, NULL) != 0)
		fail_msg("create: %s", tract_error_last()->message);
	say(other_t, other, "user", "x");
	o.past = NULL;
	assert_int_equal(tract_wait_ref(out, other_t, &o), TRACT_EINVAL);
	o.collapsed = "nosuchchild";
	assert_int_equal(tract_wait_ref(out, f->t, &o), TRACT_ENOTFOUND);
	o.collapsed = "";
	assert_int_equal(tract_wait_ref(out, f->t, &o), TRACT_EINVAL);
	tract_free(other_t);
	fx_free(f);
}

/* Another process works in the child, commits in the parent, then
 * collapses: the waiter wakes on the collapse, not on the other commit. */
static void test_wait_collapsed_across_processes(void **state)
{
	fx *f = fx_new(NULL);
	tract_wait_options o = TRACT_WAIT_OPTIONS_INIT;
	char before[65], spawned[65], out[65], id[65], child[65], done_hash[65] = "";
	int64_t woke, child_done = 0;
	int fds[2], status;
	pid_t pid;

	(void)state;
	fx_say(f, before, "user", "plan");
	spawn_child(f, child, "subtask");
	/* past: the spawn commit, so a collapse made before the wait begins
	 * is found all the same */
	assert_int_equal(tract_revision_resolve(spawned, f->t, "HEAD"), 0);
	memcpy(id, tract_id(f->t), 65);
	tract_free(f->t);
	tract_store_free(f->store);
	f->t = NULL;
	f->store = NULL;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		tract_store *s = NULL;
		tract *p = NULL, *c = NULL;
		tract_commit *cm = NULL;
		tract_collapse_options co = TRACT_COLLAPSE_OPTIONS_INIT;
		tract_collapse_result *r = NULL;
		char msg[160];
		int64_t done;

		close(fds[0]);
		pause_ms(300);
		if (tract_store_open(&s, f->uri, 0) != 0 || tract_open(&p, s, id, NULL) != 0 ||
		    tract_open(&c, s, child, NULL) != 0 ||
		    tract_commit_create_dialogue(&cm, c, "assistant", "child work", NULL, NULL) != 0)
			_exit(3);
		tract_commit_free(cm);
		cm = NULL;
		/* a parent commit that is not the collapse */
		if (tract_commit_create_dialogue(&cm, p, "user", "unrelated", NULL, NULL) != 0)
			_exit(4);
		tract_commit_free(cm);
		pause_ms(300);
		co.summary = "the subtask is done";
		if (tract_collapse(&r, p, child, &co) != 0)
			_exit(5);
		done = mono_ms();
		snprintf(msg, sizeof(msg), "%s %lld", r->parent_commit_hash, (long long)done);
		if (write(fds[1], msg, strlen(msg)) < 0)
			_exit(6);
		tract_collapse_result_free(r);
		tract_free(c);
		tract_free(p);
		tract_store_free(s);
		_exit(0);
	}
	close(fds[1]);
	if (tract_store_open(&f->store, f->uri, 0) != 0 ||
	    tract_open(&f->t, f->store, id, NULL) != 0)
		fail_msg("reopen: %s", tract_error_last()->message);
	o.collapsed = child;
	o.past = spawned;
	o.timeout_ms = 30000;
	assert_int_equal(tract_wait_ref(out, f->t, &o), 0);
	woke = mono_ms();
	{
		char buf[160] = "";
		ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
		long long done = 0;

		assert_true(n > 0);
		buf[n] = '\0';
		assert_int_equal(sscanf(buf, "%64s %lld", done_hash, &done), 2);
		child_done = done;
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_string_equal(out, done_hash);
	assert_true(woke - child_done < 2000);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timeline_all_tracts_in_order),
	    cmocka_unit_test(test_timeline_stream_stops),
	    cmocka_unit_test(test_search_message_text_not_keys),
	    cmocka_unit_test(test_search_filters_and_snippets),
	    cmocka_unit_test(test_search_index_follows_writes),
	    cmocka_unit_test(test_search_python_store),
	    cmocka_unit_test(test_search_without_write),
	    cmocka_unit_test(test_wait_timeout_and_past),
	    cmocka_unit_test(test_wait_across_processes),
	    cmocka_unit_test(test_wait_collapsed_in_process),
	    cmocka_unit_test(test_wait_collapsed_across_processes),
	};
	int rc = ts_init("query");

	if (rc)
		return rc;
	return ts_run("query", tests, TS_COUNT(tests), NULL, 0);
}
