/*
 * test_pg.c - the PostgreSQL backend beyond the conformance suite: schema
 * creation and version, schema= isolation, quoting, secrets in errors,
 * libpq parameters passed through, writers queueing on a branch,
 * deadlocks, a connection killed mid-transaction, N processes
 * appending to one branch through the public API, and a failed clone
 * that leaves no schema (destroy).
 *
 * Runs against the server in TRACT_TEST_PG_URI (scripts/pg.sh); skips the
 * whole program (exit 77) without it. Every test works in a schema of its
 * own, dropped afterwards. TRACT_PG_CONC_WRITERS x TRACT_PG_CONC_APPENDS
 * (default 8 x 500) sizes the concurrency test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "plugin.h"
#include "testutil.h"
#include "tract.h"
#include "tract/sys/backend.h"

static const char *base_uri;
static unsigned serial;

struct pgfx {
	char schema[128];
	char uri[1024];     /* base URI with schema= */
	PGconn *admin;      /* a plain libpq connection */
	const tract_backend *be;
};

/* ---- helpers ------------------------------------------------------------- */

static char *uri_with(const char *extra)
{
	char *s = NULL;

	assert_true(asprintf(&s, "%s%s%s", base_uri, strchr(base_uri, '?') ? "&" : "?", extra) > 0);
	return s;
}

static PGresult *admin_exec(struct pgfx *f, const char *sql, int n, const char *const *values)
{
	PGresult *res = PQexecParams(f->admin, sql, n, NULL, values, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	return res;
}

/* The single value of a query, as text (static buffer). */
static const char *admin_value(struct pgfx *f, const char *sql, int n, const char *const *values)
{
	static char buf[256];
	PGresult *res = admin_exec(f, sql, n, values);

	assert_int_equal(PQntuples(res), 1);
	snprintf(buf, sizeof(buf), "%s", PQgetisnull(res, 0, 0) ? "<null>" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return buf;
}

/* Rows of a table of the fixture's schema. */
static long count_rows(struct pgfx *f, const char *table)
{
	char sql[512];
	char *ident = PQescapeIdentifier(f->admin, f->schema, strlen(f->schema));

	assert_non_null(ident);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.%s", ident, table);
	PQfreemem(ident);
	return strtol(admin_value(f, sql, 0, NULL), NULL, 10);
}

static void drop_schema(PGconn *pg, const char *schema)
{
	char *ident = PQescapeIdentifier(pg, schema, strlen(schema)), *sql = NULL;

	if (!ident)
		return;
	if (asprintf(&sql, "DROP SCHEMA IF EXISTS %s CASCADE", ident) > 0)
		PQclear(PQexec(pg, sql));
	free(sql);
	PQfreemem(ident);
}

/* A URI-safe schema name of this process. */
static void new_schema(struct pgfx *f, const char *stem)
{
	snprintf(f->schema, sizeof(f->schema), "tract_pgtest_%s_%ld_%u", stem, (long)getpid(),
		 serial++);
	snprintf(f->uri, sizeof(f->uri), "%s%sschema=%s", base_uri,
		 strchr(base_uri, '?') ? "&" : "?", f->schema);
}

static int setup(void **state)
{
	struct pgfx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	new_schema(f, "t");
	f->admin = PQconnectdb(base_uri);
	if (PQstatus(f->admin) != CONNECTION_OK)
		fail_msg("admin connection: %s", PQerrorMessage(f->admin));
	PQclear(PQexec(f->admin, "SET client_min_messages = warning"));
	/* A test that failed with a transaction open must not hang the
	 * teardown's DROP SCHEMA. */
	PQclear(PQexec(f->admin, "SET lock_timeout = '20s'"));
	assert_int_equal(tract_plugin_backend(&f->be, "postgres"), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct pgfx *f = *state;

	drop_schema(f->admin, f->schema);
	PQfinish(f->admin);
	free(f);
	return 0;
}

/* Open through the ABI; rc is the expected result, err (may be NULL) gets
 * the message. */
static tract_backend_conn *be_open(struct pgfx *f, const char *uri, unsigned flags, int rc,
				   char *err, size_t errlen)
{
	tract_backend_conn *c = NULL;
	char buf[512] = "";
	int got = f->be->open(&c, uri, flags, buf, sizeof(buf));

	if (got != rc)
		fail_msg("open gave %d (%s), expected %d", got, buf, rc);
	if (err)
		snprintf(err, errlen, "%s", buf);
	return c;
}

static const char *H(char *buf, const char *stem)
{
	snprintf(buf, 65, "%s%0*d", stem, (int)(64 - strlen(stem)), 0);
	return buf;
}

/* A blob and a root commit c of tract t, in the open transaction. */
static void put_root(struct pgfx *f, tract_backend_conn *c, const char *hash, const char *t)
{
	char b[65];
	tract_blob_row blob = {H(b, "b10b"), "{\"text\":\"x\"}", 12, 3, 1000000};
	tract_commit_row row = {.commit_hash = hash,
				.tract_id = t,
				.content_hash = b,
				.content_type = "dialogue",
				.operation = TRACT_OP_APPEND,
				.token_count = 3,
				.created_at = 1000000};

	assert_int_equal(f->be->blob_put(c, &blob, NULL), 0);
	assert_int_equal(f->be->commit_put(c, &row), 0);
}

/* ---- schema and version -------------------------------------------------- */

static void test_schema_created_with_version(void **state)
{
	struct pgfx *f = *state;
	const char *v[1] = {f->schema};
	tract_backend_conn *c;

	c = be_open(f, f->uri, TRACT_BACKEND_CREATE, 0, NULL, 0);
	f->be->close(c);
	assert_string_equal(admin_value(f,
					"SELECT count(*) FROM pg_catalog.pg_tables "
					"WHERE schemaname = $1",
					1, v),
			    "10");
	assert_string_equal(admin_value(f,
					"SELECT string_agg(tablename, ',' ORDER BY tablename) "
					"FROM pg_catalog.pg_tables WHERE schemaname = $1",
					1, v),
			    "_trace_meta,annotations,blobs,commit_parents,commits,compression_"
			    "results,compression_sources,compressions,refs,spawn_pointers");
	{
		char sql[256];
		snprintf(sql, sizeof(sql),
			 "SELECT value FROM \"%s\"._trace_meta WHERE key = 'schema_version'",
			 f->schema);
		assert_string_equal(admin_value(f, sql, 0, NULL), "4");
	}
	/* Times are timestamptz, JSON columns text, keys in the C collation. */
	assert_string_equal(admin_value(f,
					"SELECT data_type FROM information_schema.columns WHERE "
					"table_schema = $1 AND table_name = 'commits' AND "
					"column_name = 'created_at'",
					1, v),
			    "timestamp with time zone");
	assert_string_equal(admin_value(f,
					"SELECT collation_name FROM information_schema.columns "
					"WHERE table_schema = $1 AND table_name = 'refs' AND "
					"column_name = 'ref_name'",
					1, v),
			    "C");
	/* An existing store opens without the create flag, and again with it. */
	c = be_open(f, f->uri, 0, 0, NULL, 0);
	f->be->close(c);
	c = be_open(f, f->uri, TRACT_BACKEND_CREATE, 0, NULL, 0);
	f->be->close(c);
}

static void test_missing_store_is_enotfound(void **state)
{
	struct pgfx *f = *state;
	const char *v[1] = {f->schema};
	char err[512], sql[256];

	/* No schema: not found, and nothing is created. */
	be_open(f, f->uri, 0, TRACT_ENOTFOUND, err, sizeof(err));
	assert_non_null(strstr(err, "not found"));
	assert_non_null(strstr(err, f->schema));
	assert_string_equal(admin_value(f,
					"SELECT count(*) FROM pg_catalog.pg_namespace "
					"WHERE nspname = $1",
					1, v),
			    "0");
	/* An empty schema is no store either. */
	snprintf(sql, sizeof(sql), "CREATE SCHEMA \"%s\"", f->schema);
	PQclear(admin_exec(f, sql, 0, NULL));
	be_open(f, f->uri, 0, TRACT_ENOTFOUND, err, sizeof(err));
	assert_string_equal(admin_value(f,
					"SELECT count(*) FROM pg_catalog.pg_tables "
					"WHERE schemaname = $1",
					1, v),
			    "0");
}

static void set_version(struct pgfx *f, const char *version)
{
	char sql[256];
	const char *v[1] = {version};

	snprintf(sql, sizeof(sql), "UPDATE \"%s\"._trace_meta SET value = $1 WHERE key = "
		 "'schema_version'", f->schema);
	PQclear(admin_exec(f, sql, 1, v));
}

static const char *get_version(struct pgfx *f)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "SELECT value FROM \"%s\"._trace_meta WHERE key = 'schema_version'", f->schema);
	return admin_value(f, sql, 0, NULL);
}

static void test_newer_version_refused(void **state)
{
	struct pgfx *f = *state;
	tract_backend_conn *c;
	tract_store *s = NULL;
	char err[512];

	c = be_open(f, f->uri, TRACT_BACKEND_CREATE, 0, NULL, 0);
	f->be->close(c);

	set_version(f, "5");
	be_open(f, f->uri, TRACT_BACKEND_CREATE, TRACT_EVERSION, err, sizeof(err));
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(tract_store_open(&s, f->uri, 0), TRACT_EVERSION);
	assert_null(s);
	assert_string_equal(get_version(f), "5"); /* untouched */

	set_version(f, "4x");
	be_open(f, f->uri, 0, TRACT_EVERSION, err, sizeof(err));
	assert_non_null(strstr(err, "not an integer"));
	assert_string_equal(get_version(f), "4x");

	/* An older version is brought up to date on open. */
	set_version(f, "3");
	c = be_open(f, f->uri, 0, 0, NULL, 0);
	f->be->close(c);
	assert_string_equal(get_version(f), "4");
}

/* ---- schemas ------------------------------------------------------------- */

static int count_meta(const char *key, const char *value, void *payload)
{
	(void)key;
	(void)value;
	(*(int *)payload)++;
	return 0;
}

static int count_commit(const tract_commit_row *row, void *payload)
{
	(void)row;
	(*(int *)payload)++;
	return 0;
}

static void test_schema_isolation(void **state)
{
	struct pgfx *f = *state, g;
	tract_backend_conn *a, *b, *a2;
	char h[65], *opt_uri, opts[256];
	int n = 0;

	g = *f;
	new_schema(&g, "other");
	a = be_open(f, f->uri, TRACT_BACKEND_CREATE, 0, NULL, 0);
	b = be_open(f, g.uri, TRACT_BACKEND_CREATE, 0, NULL, 0);
	assert_int_equal(f->be->begin(a, TRACT_TXN_WRITE), 0);
	put_root(f, a, H(h, "aa"), "t");
	assert_int_equal(f->be->meta_set(a, "only:a", "1"), 0);
	assert_int_equal(f->be->commit(a), 0);

	assert_int_equal(f->be->meta_foreach(b, "only:", count_meta, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(f->be->commit_get(b, NULL, h, count_commit, &n),
			 TRACT_ENOTFOUND);
	assert_int_equal(count_rows(f, "commits"), 1);
	assert_int_equal(count_rows(&g, "commits"), 0);

	/* The same store named through libpq's options=-csearch_path=... */
	snprintf(opts, sizeof(opts), "options=-csearch_path%%3D%s", f->schema);
	opt_uri = uri_with(opts);
	a2 = be_open(f, opt_uri, 0, 0, NULL, 0);
	assert_int_equal(f->be->meta_foreach(a2, "only:", count_meta, &n), 0);
	assert_int_equal(n, 1);
	f->be->close(a2);
	free(opt_uri);
	f->be->close(a);
	f->be->close(b);
	drop_schema(f->admin, g.schema);
}

/* A schema name full of SQL metacharacters is one quoted identifier. */
static void test_schema_name_quoted(void **state)
{
	struct pgfx *f = *state;
	const char *name = "we\"ird'; DROP TABLE commits; --", *v[1];
	char uri[1024], h[65];
	tract_backend_conn *c;
	int n = 0;

	snprintf(f->schema, sizeof(f->schema), "%s %u", name, serial++);
	snprintf(uri, sizeof(uri), "%s%sschema=we%%22ird%%27%%3B%%20DROP%%20TABLE%%20commits%%3B"
		 "%%20--%%20%u", base_uri, strchr(base_uri, '?') ? "&" : "?", serial - 1);
	c = be_open(f, uri, TRACT_BACKEND_CREATE, 0, NULL, 0);
	assert_int_equal(f->be->begin(c, TRACT_TXN_WRITE), 0);
	put_root(f, c, H(h, "cc"), "t");
	assert_int_equal(f->be->commit(c), 0);
	f->be->close(c);
	v[0] = f->schema;
	assert_string_equal(admin_value(f,
					"SELECT count(*) FROM pg_catalog.pg_tables "
					"WHERE schemaname = $1",
					1, v),
			    "10");
	assert_int_equal(count_rows(f, "commits"), 1);
	c = be_open(f, uri, 0, 0, NULL, 0);
	assert_int_equal(f->be->commit_get(c, "t", h, count_commit, &n), 0);
	assert_int_equal(n, 1);
	f->be->close(c);
}

/* Text full of SQL metacharacters round-trips through the public API. */
static void test_metacharacters_public_api(void **state)
{
	struct pgfx *f = *state;
	const char *text = "it's \"q\"; 100% _x_ -- DROP TABLE commits; \\ /*x*/ $1 $$ E'\\n'";
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_store *s = NULL;
	tract *t = NULL;
	tract_commit *c = NULL, *got = NULL;
	tract_context *ctx = NULL;
	char *json = NULL, *content = NULL;

	assert_int_equal(tract_store_open(&s, f->uri, TRACT_STORE_CREATE), 0);
	assert_int_equal(tract_create(&t, s, NULL, text, NULL), 0);
	assert_true(asprintf(&content, "{\"content_type\": \"dialogue\", \"role\": \"user\", "
				       "\"text\": \"it's \\\"q\\\"; 100%% -- DROP; \\\\ $1\"}") > 0);
	o.message = text;
	o.metadata_json = "{\"k\": \"'; DELETE FROM blobs; --\"}";
	assert_int_equal(tract_commit_create(&c, t, content, &o), 0);
	assert_int_equal(tract_commit_lookup(&got, t, tract_commit_hash(c)), 0);
	assert_string_equal(tract_commit_message(got), text);
	assert_string_equal(tract_commit_metadata(got), "{\"k\": \"'; DELETE FROM blobs; --\"}");
	assert_non_null(strstr(tract_commit_content(got), "DROP; \\\\ $1"));
	assert_int_equal(tract_context_compile(&ctx, t, NULL), 0);
	assert_int_equal(tract_context_render(&json, ctx, TRACT_FORMAT_OPENAI), 0);
	assert_non_null(strstr(json, "100% -- DROP"));
	tract_string_free(json);
	tract_context_free(ctx);
	tract_commit_free(got);
	tract_commit_free(c);
	free(content);
	tract_free(t);
	tract_store_free(s);
}

/* ---- secrets and libpq parameters ---------------------------------------- */

/* The message of a failed open must not show the password nor the URI. */
static void check_secret_hidden(struct pgfx *f, const char *uri, const char *secret,
				const char *expect)
{
	tract_store *s = NULL;
	char err[512];
	const char *msg;

	tract_backend_conn *c = NULL;

	err[0] = '\0';
	assert_true(f->be->open(&c, uri, TRACT_BACKEND_CREATE, err, sizeof(err)) < 0);
	assert_null(c);
	assert_true(strlen(err) > 0);
	if (strstr(err, secret) || strstr(err, uri))
		fail_msg("secret shown: %s", err);
	if (expect && !strstr(err, expect))
		fail_msg("'%s' not in: %s", expect, err);
	assert_true(tract_store_open(&s, uri, TRACT_STORE_CREATE) < 0);
	msg = tract_error_last()->message;
	if (strstr(msg, secret) || strstr(msg, uri))
		fail_msg("secret shown: %s", msg);
}

static void test_password_never_in_errors(void **state)
{
	struct pgfx *f = *state;
	const char *port = strrchr(base_uri, ':') + 1;
	char uri[2048];
	tract_backend_conn *c;
	int rc;
	tract_commit_row row = {.commit_hash = "c0", .tract_id = "t", .content_hash = "missing",
				.content_type = "dialogue", .operation = TRACT_OP_APPEND,
				.created_at = 1};

	/* Nobody listens on port 1. */
	check_secret_hidden(f, "postgresql://tract:Sup3rS3cret@127.0.0.1:1/tract", "Sup3rS3cret",
			    "cannot connect");
	check_secret_hidden(f, "postgres://127.0.0.1:1/tract?user=tract&password=Sup3rS3cret",
			    "Sup3rS3cret", "cannot connect");
	/* libpq quotes the parts of a URI it cannot read. */
	check_secret_hidden(f, "postgresql://tract:Sup3r%zzS3cret@127.0.0.1/tract", "Sup3r",
			    "invalid connection URI");
	check_secret_hidden(f, "postgresql://tract@127.0.0.1/tract?password=Sup3rS3cret&bogus=1",
			    "Sup3rS3cret", "invalid connection URI");
	/* The server refuses after connecting (no such database). */
	snprintf(uri, sizeof(uri), "postgresql://tract:Sup3rS3cret@127.0.0.1:%.*s/no_such_db",
		 (int)strcspn(port, "/?"), port);
	check_secret_hidden(f, uri, "Sup3rS3cret", "no_such_db");
	/* Connected (trust ignores the password): statement errors hide it too. */
	snprintf(uri, sizeof(uri), "%s&password=Sup3rS3cret", f->uri);
	c = be_open(f, uri, TRACT_BACKEND_CREATE, 0, NULL, 0);
	assert_int_equal(f->be->begin(c, TRACT_TXN_WRITE), 0);
	/* (The write is held back: it fails when it is sent, at commit.) */
	rc = f->be->commit_put(c, &row);
	if (rc == 0)
		rc = f->be->commit(c);
	assert_int_equal(rc, TRACT_ESTORAGE);
	assert_null(strstr(f->be->last_error(c), "Sup3rS3cret"));
	assert_non_null(strstr(f->be->last_error(c), "missing"));
	assert_int_equal(f->be->rollback(c), 0);
	f->be->close(c);
}

static void test_libpq_parameters_pass_through(void **state)
{
	struct pgfx *f = *state;
	char uri[2048], name[64], err[512];
	const char *v[1] = {name};
	tract_backend_conn *c;

	/* sslmode=require on a server without SSL: libpq's own refusal. */
	snprintf(uri, sizeof(uri), "%s&sslmode=require", f->uri);
	be_open(f, uri, TRACT_BACKEND_CREATE, TRACT_ESTORAGE, err, sizeof(err));
	assert_non_null(strstr(err, "SSL was required"));
	/* sslmode=disable and application_name reach the server. */
	snprintf(name, sizeof(name), "tract_app_%ld", (long)getpid());
	snprintf(uri, sizeof(uri), "%s&sslmode=disable&application_name=%s&connect_timeout=5",
		 f->uri, name);
	c = be_open(f, uri, TRACT_BACKEND_CREATE, 0, NULL, 0);
	assert_string_equal(admin_value(f,
					"SELECT count(*) FROM pg_catalog.pg_stat_activity a "
					"JOIN pg_catalog.pg_stat_ssl s USING (pid) "
					"WHERE a.application_name = $1 AND NOT s.ssl",
					1, v),
			    "1");
	f->be->close(c);
	/* Unknown parameters are libpq's to refuse. */
	snprintf(uri, sizeof(uri), "%s&no_such_option=1", f->uri);
	be_open(f, uri, TRACT_BACKEND_CREATE, TRACT_EINVAL, err, sizeof(err));
	assert_non_null(strstr(err, "invalid"));
}

/* ---- writers, locks, deadlocks ------------------------------------------- */

static int copy_ref(const tract_ref_row *row, void *payload)
{
	snprintf(payload, 65, "%s", row->commit_hash ? row->commit_hash : "");
	return 0;
}

struct racer {
	struct pgfx *f;
	tract_backend_conn *c;
	const char *ref_a, *ref_b;
	char seen[65];
	int rc_begin, rc_first, rc_second;
	volatile int stage;
	struct timespec waited;
};

static void *second_writer(void *arg)
{
	struct racer *r = arg;
	struct timespec t0, t1;

	/* (No cmocka assertions off the main thread: results are checked
	 * after the join.) */
	r->rc_begin = r->f->be->begin(r->c, TRACT_TXN_WRITE);
	r->stage = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Blocks until the first writer commits, then sees its value. */
	r->rc_first = r->f->be->ref_get(r->c, "t", r->ref_a, copy_ref, r->seen);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->waited.tv_sec = t1.tv_sec - t0.tv_sec;
	r->waited.tv_nsec = t1.tv_nsec - t0.tv_nsec;
	r->f->be->rollback(r->c);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* A writer that read a branch holds it: a second writer queues behind it
 * and then reads the new head, rather than racing to a lost CAS. */
static void test_writers_queue_on_a_branch(void **state)
{
	struct pgfx *f = *state;
	struct racer r = {.f = f, .ref_a = "refs/heads/main"};
	tract_backend_conn *a;
	tract_ref_row exp = {0};
	char h0[65], h1[65], seen[65];
	pthread_t th;
	double waited;

	a = be_open(f, f->uri, TRACT_BACKEND_CREATE, 0, NULL, 0);
	r.c = be_open(f, f->uri, 0, 0, NULL, 0);
	assert_int_equal(f->be->begin(a, TRACT_TXN_WRITE), 0);
	put_root(f, a, H(h0, "a0"), "t");
	assert_int_equal(f->be->ref_cas(a, "t", "refs/heads/main", h0, NULL, NULL), 0);
	assert_int_equal(f->be->commit(a), 0);

	assert_int_equal(f->be->begin(a, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->ref_get(a, "t", "refs/heads/main", copy_ref, seen), 0);
	assert_string_equal(seen, h0);
	assert_int_equal(pthread_create(&th, NULL, second_writer, &r), 0);
	while (r.stage == 0)
		sleep_ms(1);
	sleep_ms(300);
	put_root(f, a, H(h1, "a1"), "t");
	exp.commit_hash = h0;
	assert_int_equal(f->be->ref_cas(a, "t", "refs/heads/main", h1, NULL, &exp), 0);
	assert_int_equal(f->be->commit(a), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(r.rc_begin, 0);
	assert_int_equal(r.rc_first, 0);
	assert_string_equal(r.seen, h1);
	waited = (double)r.waited.tv_sec + (double)r.waited.tv_nsec / 1e9;
	assert_true(waited > 0.2);
	f->be->close(a);
	f->be->close(r.c);
}

static void *deadlocker(void *arg)
{
	struct racer *r = arg;

	r->rc_begin = r->f->be->begin(r->c, TRACT_TXN_WRITE);
	r->rc_first = r->f->be->ref_get(r->c, "t", r->ref_b, copy_ref, r->seen);
	r->stage = 1;
	while (r->stage != 2)
		sleep_ms(1);
	r->rc_second = r->f->be->ref_get(r->c, "t", r->ref_a, copy_ref, r->seen);
	r->f->be->rollback(r->c);
	return NULL;
}

/* Two writers locking two branches in opposite orders: the server breaks
 * the deadlock and the victim gets the retryable stale-ref code. */
static void test_deadlock_is_estale(void **state)
{
	struct pgfx *f = *state;
	struct racer r = {.f = f, .ref_a = "refs/heads/x", .ref_b = "refs/heads/y"};
	tract_backend_conn *a;
	char h[65], seen[65];
	pthread_t th;
	int rc;

	a = be_open(f, f->uri, TRACT_BACKEND_CREATE, 0, NULL, 0);
	r.c = be_open(f, f->uri, 0, 0, NULL, 0);
	assert_int_equal(f->be->begin(a, TRACT_TXN_WRITE), 0);
	put_root(f, a, H(h, "d0"), "t");
	assert_int_equal(f->be->ref_cas(a, "t", "refs/heads/x", h, NULL, NULL), 0);
	assert_int_equal(f->be->ref_cas(a, "t", "refs/heads/y", h, NULL, NULL), 0);
	assert_int_equal(f->be->commit(a), 0);

	assert_int_equal(f->be->begin(a, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->ref_get(a, "t", "refs/heads/x", copy_ref, seen), 0);
	assert_int_equal(pthread_create(&th, NULL, deadlocker, &r), 0);
	while (r.stage != 1)
		sleep_ms(1);
	r.stage = 2;
	rc = f->be->ref_get(a, "t", "refs/heads/y", copy_ref, seen);
	if (rc == TRACT_ESTALE)
		assert_non_null(strstr(f->be->last_error(a), "deadlock"));
	f->be->rollback(a);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(r.rc_begin, 0);
	assert_int_equal(r.rc_first, 0);
	/* Exactly one of the two was chosen as the victim. */
	assert_true((rc == TRACT_ESTALE) != (r.rc_second == TRACT_ESTALE));
	assert_true(rc == 0 || rc == TRACT_ESTALE);
	assert_true(r.rc_second == 0 || r.rc_second == TRACT_ESTALE);
	f->be->close(a);
	f->be->close(r.c);
}

/* An append's writes go as one statement: its failures still read as
 * the write that failed, at commit, and nothing is written. */
static void test_append_statement_failures(void **state)
{
	struct pgfx *f = *state;
	tract_backend_conn *c;
	tract_ref_row exp = {0};
	char h0[65], h1[65], b1[65], other[65];
	tract_blob_row blob = {H(b1, "b1"), "{\"text\":\"one\"}", 14, 3, 2000000};
	tract_commit_row row = {.commit_hash = H(h1, "c1"), .tract_id = "t", .parent_hash = h0,
				.content_hash = b1, .content_type = "dialogue",
				.operation = TRACT_OP_APPEND, .created_at = 2000000};
	int rc;

	c = be_open(f, f->uri, TRACT_BACKEND_CREATE, 0, NULL, 0);
	assert_int_equal(f->be->begin(c, TRACT_TXN_WRITE), 0);
	put_root(f, c, H(h0, "c0"), "t");
	assert_int_equal(f->be->ref_cas(c, "t", "refs/heads/main", h0, NULL, NULL), 0);
	assert_int_equal(f->be->commit(c), 0);

	/* The branch is not where the writer thinks. */
	exp.commit_hash = H(other, "0ther");
	assert_int_equal(f->be->begin(c, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->blob_put(c, &blob, NULL), 0);
	assert_int_equal(f->be->commit_put(c, &row), 0);
	rc = f->be->ref_cas(c, "t", "refs/heads/main", h1, NULL, &exp);
	if (rc == 0)
		rc = f->be->commit(c);
	assert_int_equal(rc, TRACT_ESTALE);
	assert_non_null(strstr(f->be->last_error(c), "refs/heads/main"));
	assert_int_equal(f->be->rollback(c), 0);
	assert_int_equal(count_rows(f, "commits"), 1);
	assert_int_equal(count_rows(f, "blobs"), 1);

	/* The commit exists already. */
	exp.commit_hash = h0;
	row.commit_hash = h0;
	row.parent_hash = NULL;
	assert_int_equal(f->be->begin(c, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->blob_put(c, &blob, NULL), 0);
	assert_int_equal(f->be->commit_put(c, &row), 0);
	rc = f->be->ref_cas(c, "t", "refs/heads/main", h0, NULL, &exp);
	if (rc == 0)
		rc = f->be->commit(c);
	assert_int_equal(rc, TRACT_EEXISTS);
	assert_int_equal(f->be->rollback(c), 0);

	/* Its parent is missing. */
	row.commit_hash = h1;
	row.parent_hash = other;
	assert_int_equal(f->be->begin(c, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->blob_put(c, &blob, NULL), 0);
	assert_int_equal(f->be->commit_put(c, &row), 0);
	rc = f->be->ref_cas(c, "t", "refs/heads/main", h1, NULL, &exp);
	if (rc == 0)
		rc = f->be->commit(c);
	assert_int_equal(rc, TRACT_ESTORAGE);
	assert_non_null(strstr(f->be->last_error(c), "parent_hash"));
	assert_int_equal(f->be->rollback(c), 0);
	assert_int_equal(count_rows(f, "commits"), 1);
	assert_int_equal(count_rows(f, "blobs"), 1);

	/* And all three go through. */
	row.parent_hash = h0;
	assert_int_equal(f->be->begin(c, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->blob_put(c, &blob, NULL), 0);
	assert_int_equal(f->be->commit_put(c, &row), 0);
	assert_int_equal(f->be->ref_cas(c, "t", "refs/heads/main", h1, NULL, &exp), 0);
	assert_int_equal(f->be->commit(c), 0);
	assert_int_equal(count_rows(f, "commits"), 2);
	f->be->close(c);
}

/* ---- connections lost ---------------------------------------------------- */

/* Terminate the backends of an application name; wait until they are gone. */
static void kill_backends(struct pgfx *f, const char *app)
{
	const char *v[1] = {app};
	int i;

	PQclear(admin_exec(f,
			   "SELECT pg_catalog.pg_terminate_backend(pid) FROM "
			   "pg_catalog.pg_stat_activity WHERE application_name = $1",
			   1, v));
	for (i = 0; i < 500; i++) {
		if (strcmp(admin_value(f,
				       "SELECT count(*) FROM pg_catalog.pg_stat_activity "
				       "WHERE application_name = $1",
				       1, v),
			   "0") == 0)
			return;
		sleep_ms(10);
	}
	fail_msg("backend of %s did not go", app);
}

static void test_connection_killed_mid_transaction(void **state)
{
	struct pgfx *f = *state;
	char uri[2048], app[64], h[65], h2[65], seen[65];
	tract_backend_conn *c;
	int rc;

	snprintf(app, sizeof(app), "tract_victim_%ld", (long)getpid());
	snprintf(uri, sizeof(uri), "%s&application_name=%s", f->uri, app);
	c = be_open(f, uri, TRACT_BACKEND_CREATE, 0, NULL, 0);

	/* Killed between transactions: the next one reconnects by itself. */
	kill_backends(f, app);
	assert_int_equal(f->be->begin(c, TRACT_TXN_WRITE), 0);
	put_root(f, c, H(h, "e0"), "t");
	assert_int_equal(f->be->ref_cas(c, "t", "refs/heads/main", h, NULL, NULL), 0);
	assert_int_equal(f->be->commit(c), 0);
	assert_int_equal(count_rows(f, "commits"), 1);

	/* Killed inside a transaction, after its blob and commit went out
	 * (the read of the new commit sends them): the transaction fails,
	 * and nothing of it is stored. */
	assert_int_equal(f->be->begin(c, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->ref_get(c, "t", "refs/heads/main", copy_ref, seen), 0);
	{
		tract_blob_row blob = {"b2", "{\"text\":\"two\"}", 14, 3, 2000000};
		tract_commit_row row = {.commit_hash = H(h2, "e1"), .tract_id = "t",
					.parent_hash = h, .content_hash = "b2",
					.content_type = "dialogue", .operation = TRACT_OP_APPEND,
					.created_at = 2000000};
		int n = 0;
		assert_int_equal(f->be->blob_put(c, &blob, NULL), 0);
		assert_int_equal(f->be->commit_put(c, &row), 0);
		assert_int_equal(f->be->commit_get(c, "t", h2, count_commit, &n), 0);
		assert_int_equal(n, 1);
	}
	kill_backends(f, app);
	{
		tract_ref_row exp = {.commit_hash = h};
		rc = f->be->ref_cas(c, "t", "refs/heads/main", h2, NULL, &exp);
		if (rc == 0)
			rc = f->be->commit(c);
	}
	assert_int_equal(rc, TRACT_ESTORAGE);
	assert_non_null(strstr(f->be->last_error(c), "connection"));
	assert_int_equal(f->be->rollback(c), 0);
	assert_int_equal(count_rows(f, "commits"), 1);
	assert_int_equal(count_rows(f, "blobs"), 1);
	{
		char sql[256];
		snprintf(sql, sizeof(sql), "SELECT commit_hash FROM \"%s\".refs", f->schema);
		assert_string_equal(admin_value(f, sql, 0, NULL), h);
	}
	/* The handle works again: the same writes now go through. */
	assert_int_equal(f->be->begin(c, TRACT_TXN_WRITE), 0);
	{
		tract_blob_row blob = {"b2", "{\"text\":\"two\"}", 14, 3, 2000000};
		tract_commit_row row = {.commit_hash = h2, .tract_id = "t", .parent_hash = h,
					.content_hash = "b2", .content_type = "dialogue",
					.operation = TRACT_OP_APPEND, .created_at = 2000000};
		tract_ref_row exp = {.commit_hash = h};
		assert_int_equal(f->be->blob_put(c, &blob, NULL), 0);
		assert_int_equal(f->be->commit_put(c, &row), 0);
		assert_int_equal(f->be->ref_cas(c, "t", "refs/heads/main", h2, NULL, &exp), 0);
	}
	assert_int_equal(f->be->commit(c), 0);
	assert_int_equal(count_rows(f, "commits"), 2);
	f->be->close(c);
}

/* ---- many processes, one branch ------------------------------------------ */

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : def;
}

/* A child: appends n dialogue turns, writing each hash to its file. */
static int append_child(const char *uri, const char *id, long n, int w, const char *path)
{
	tract_store *s = NULL;
	tract *t = NULL;
	FILE *out = fopen(path, "w");
	char text[128];
	long i;

	if (!out || tract_store_open(&s, uri, 0) < 0 || tract_open(&t, s, id, NULL) < 0) {
		fprintf(stderr, "writer %d: %s\n", w, tract_error_last()->message);
		return 1;
	}
	for (i = 0; i < n; i++) {
		tract_commit *c = NULL;
		snprintf(text, sizeof(text), "writer %d, turn %ld", w, i);
		if (tract_commit_create_dialogue(&c, t, i % 2 ? "assistant" : "user", text, NULL, NULL) < 0) {
			fprintf(stderr, "writer %d, append %ld: %s (%s)\n", w, i,
				tract_error_last()->message,
				tract_error_name(tract_error_last()->code));
			fclose(out);
			return 1;
		}
		fprintf(out, "%s\n", tract_commit_hash(c));
		tract_commit_free(c);
	}
	fclose(out);
	tract_free(t);
	tract_store_free(s);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_processes_append_to_one_branch(void **state)
{
	struct pgfx *f = *state;
	long writers = env_long("TRACT_PG_CONC_WRITERS", 8),
	     appends = env_long("TRACT_PG_CONC_APPENDS", 500);
	char dir[] = "/tmp/tract-pgconc-XXXXXX", path[300], id[65], line[128];
	tract_store *s = NULL;
	tract *t = NULL;
	tract_commit *root = NULL;
	tract_commit_list *log = NULL;
	tract_fsck_report *report = NULL;
	tract_fsck_problem *problems;
	tract_info_list *infos = NULL;
	size_t n_problems, i, n_sorted = 0, n_reported = 0;
	char **sorted;
	pid_t *pids;
	struct timespec t0, t1;
	double secs;
	long w;
	int status;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(tract_store_open(&s, f->uri, TRACT_STORE_CREATE), 0);
	assert_int_equal(tract_create(&t, s, NULL, NULL, NULL), 0);
	snprintf(id, sizeof(id), "%s", tract_id(t));
	assert_int_equal(tract_commit_create_instruction(&root, t, "Many writers, one branch.", NULL), 0);
	tract_free(t);
	tract_store_free(s);
	t = NULL;
	s = NULL;

	pids = calloc((size_t)writers, sizeof(*pids));
	assert_non_null(pids);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (w = 0; w < writers; w++) {
		snprintf(path, sizeof(path), "%s/w%ld", dir, w);
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0)
			_exit(append_child(f->uri, id, appends, (int)w, path));
	}
	for (w = 0; w < writers; w++) {
		assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("      %ld processes x %ld appends to one branch: %.1f s (%.0f commits/s)\n",
		      writers, appends, secs, (double)(writers * appends) / secs);

	/* One linear chain: the first-parent walk from HEAD holds every commit
	 * of the tract, the root first. */
	assert_int_equal(tract_store_open(&s, f->uri, 0), 0);
	assert_int_equal(tract_open(&t, s, id, NULL), 0);
	assert_int_equal(tract_log_list(&log, t, NULL), 0);
	assert_int_equal(log->count, (size_t)(writers * appends + 1));
	assert_string_equal(tract_commit_hash(log->items[log->count - 1]), tract_commit_hash(root));
	for (i = 0; i + 1 < log->count; i++)
		assert_string_equal(tract_commit_parent(log->items[i]),
				    tract_commit_hash(log->items[i + 1]));
	assert_int_equal(tract_store_list_tracts(&infos, s), 0);
	assert_int_equal(infos->count, 1);
	assert_int_equal(infos->items[0].commit_count, writers * appends + 1);
	tract_info_list_free(infos);

	/* Every hash a writer reported is on it. */
	sorted = calloc(log->count, sizeof(*sorted));
	assert_non_null(sorted);
	for (i = 0; i < log->count; i++)
		sorted[n_sorted++] = (char *)tract_commit_hash(log->items[i]);
	qsort(sorted, n_sorted, sizeof(*sorted), cmp_str);
	for (w = 0; w < writers; w++) {
		FILE *in;
		snprintf(path, sizeof(path), "%s/w%ld", dir, w);
		in = fopen(path, "r");
		assert_non_null(in);
		while (fgets(line, sizeof(line), in)) {
			char *key = line;
			line[strcspn(line, "\n")] = '\0';
			if (!bsearch(&key, sorted, n_sorted, sizeof(*sorted), cmp_str))
				fail_msg("reported commit %s is not on the branch", line);
			n_reported++;
		}
		fclose(in);
		unlink(path);
	}
	rmdir(dir);
	assert_int_equal(n_reported, (size_t)(writers * appends));
	assert_int_equal(tract_fsck_run(&report, s), 0);
	problems = report->problems;
	n_problems = report->count;
	for (i = 0; i < n_problems; i++)
		print_error("fsck: %s: %s\n", problems[i].object, problems[i].message);
	assert_int_equal(n_problems, 0);
	tract_fsck_report_free(report);
	free(sorted);
	free(pids);
	tract_commit_list_free(log);
	tract_commit_free(root);
	tract_free(t);
	tract_store_free(s);
}

/* ---- destroy ------------------------------------------------------------- */

/* A SQLite store at uri whose one commit fails fsck (its hash is not the
 * hash of its content): a clone of it fails after the copy, at verify. */
static void corrupt_source(const char *uri)
{
	const tract_backend *sq;
	tract_backend_conn *c = NULL;
	char b[65], h[65];
	tract_blob_row blob = {H(b, "b10b"), "{\"text\":\"x\"}", 12, 3, 1000000};
	tract_commit_row row = {.commit_hash = H(h, "c0"),
				.tract_id = "t",
				.content_hash = b,
				.content_type = "dialogue",
				.operation = TRACT_OP_APPEND,
				.token_count = 3,
				.created_at = 1000000};

	assert_int_equal(tract_plugin_backend(&sq, "sqlite"), 0);
	assert_int_equal(sq->open(&c, uri, TRACT_BACKEND_CREATE, NULL, 0), 0);
	assert_int_equal(sq->begin(c, TRACT_TXN_WRITE), 0);
	assert_int_equal(sq->blob_put(c, &blob, NULL), 0);
	assert_int_equal(sq->commit_put(c, &row), 0);
	assert_int_equal(sq->ref_cas(c, "t", "refs/heads/main", h, NULL, NULL), 0);
	assert_int_equal(sq->ref_cas(c, "t", "HEAD", NULL, "refs/heads/main", NULL), 0);
	assert_int_equal(sq->commit(c), 0);
	sq->close(c);
}

/* A clone into PostgreSQL that fails leaves no schema when open() created
 * it (destroy drops it), and leaves an existing store as it was. */
static void test_failed_clone_leaves_no_schema(void **state)
{
	struct pgfx *f = *state;
	const char *v[1] = {f->schema};
	const char *exists = "SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = $1";
	char dir[] = "/tmp/tract_pgclone_XXXXXX", src[300];
	tract_backend_conn *c;
	tract_clone_stats *st = NULL;

	assert_non_null(mkdtemp(dir));
	snprintf(src, sizeof(src), "sqlite:%s/src.db", dir);
	corrupt_source(src);

	/* A fresh schema: created by the clone's open(), dropped again. */
	assert_string_equal(admin_value(f, exists, 1, v), "0");
	assert_int_equal(tract_store_clone(&st, src, f->uri, NULL), TRACT_ECORRUPT);
	assert_non_null(strstr(tract_error_last()->message, "fails fsck"));
	tract_clone_stats_free(st);
	assert_string_equal(admin_value(f, exists, 1, v), "0");

	/* An existing (empty) store: destroy is a plain close. */
	c = be_open(f, f->uri, TRACT_BACKEND_CREATE, 0, NULL, 0);
	f->be->close(c);
	assert_int_equal(tract_store_clone(&st, src, f->uri, NULL), TRACT_ECORRUPT);
	tract_clone_stats_free(st);
	assert_string_equal(admin_value(f, exists, 1, v), "1");
	assert_int_equal(count_rows(f, "commits"), 0);
	tu_remove_dir(dir);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_schema_created_with_version),
		T(test_missing_store_is_enotfound),
		T(test_newer_version_refused),
		T(test_schema_isolation),
		T(test_schema_name_quoted),
		T(test_metacharacters_public_api),
		T(test_password_never_in_errors),
		T(test_libpq_parameters_pass_through),
		T(test_writers_queue_on_a_branch),
		T(test_deadlock_is_estale),
		T(test_append_statement_failures),
		T(test_connection_killed_mid_transaction),
		T(test_processes_append_to_one_branch),
		T(test_failed_clone_leaves_no_schema),
	};

	base_uri = getenv("TRACT_TEST_PG_URI");
	if (!base_uri || !*base_uri) {
		printf("TRACT_TEST_PG_URI is not set (no PostgreSQL server): skipped\n");
		return 77;
	}
	return cmocka_run_group_tests_name("postgres", tests, NULL, NULL);
}
