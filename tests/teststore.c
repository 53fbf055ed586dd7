/*
 * teststore.c - fresh stores on the backend named by TRACT_TEST_BACKEND
 * (teststore.h): a temporary directory for SQLite and LMDB, a new schema
 * (?schema=) on TRACT_TEST_PG_URI's server for PostgreSQL, dropped with
 * libpq afterwards (ts_pg_drop_schema, which the postgres conformance
 * driver uses too).
 */
#define _GNU_SOURCE
#include "teststore.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

static const char *backend_env(void)
{
	const char *b = getenv("TRACT_TEST_BACKEND");

	return b && *b ? b : "sqlite";
}

const char *ts_backend(void)
{
	return backend_env();
}

int ts_is(const char *name)
{
	return strcmp(backend_env(), name) == 0;
}

int ts_init(const char *suite)
{
	const char *pg = getenv("TRACT_TEST_PG_URI");

	if (!ts_is("sqlite") && !ts_is("lmdb") && !ts_is("postgres")) {
		fprintf(stderr, "%s: TRACT_TEST_BACKEND=%s: want sqlite, lmdb or postgres\n", suite,
			backend_env());
		return 1;
	}
	if (ts_is("postgres") && (!pg || !*pg)) {
		printf("%s: TRACT_TEST_PG_URI is not set (no PostgreSQL server): skipped\n", suite);
		return 77;
	}
	return 0;
}

int ts_fresh(ts_store *st, const char *tag)
{
	static unsigned serial;
	const char *pg;

	memset(st, 0, sizeof(*st));
	if (ts_is("postgres")) {
		pg = getenv("TRACT_TEST_PG_URI");
		snprintf(st->schema, sizeof(st->schema), "tract_%s_%ld_%u", tag, (long)getpid(),
			 serial++);
		snprintf(st->uri, sizeof(st->uri), "%s%sschema=%s", pg, strchr(pg, '?') ? "&" : "?",
			 st->schema);
		return 0;
	}
	snprintf(st->dir, sizeof(st->dir), "/tmp/tract-%s-XXXXXX", tag);
	if (!mkdtemp(st->dir)) {
		perror("mkdtemp");
		st->dir[0] = '\0';
		return -1;
	}
	if (ts_is("lmdb"))
		snprintf(st->uri, sizeof(st->uri), "lmdb:%s/store", st->dir);
	else
		snprintf(st->uri, sizeof(st->uri), "sqlite:%s/t.db", st->dir);
	return 0;
}

void ts_pg_drop_schema(const char *server_uri, const char *schema)
{
	PGconn *conn = PQconnectdb(server_uri);
	char *ident = NULL, *sql = NULL;
	PGresult *res;

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "drop schema %s: %s", schema, PQerrorMessage(conn));
		goto cleanup;
	}
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	ident = PQescapeIdentifier(conn, schema, strlen(schema));
	if (!ident || asprintf(&sql, "DROP SCHEMA IF EXISTS %s CASCADE", ident) < 0) {
		sql = NULL;
		goto cleanup;
	}
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fprintf(stderr, "drop schema %s: %s", schema, PQresultErrorMessage(res));
	PQclear(res);
cleanup:
	free(sql);
	PQfreemem(ident);
	PQfinish(conn);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void ts_rmtree(const char *dir)
{
	if (dir && *dir)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void ts_destroy(ts_store *st)
{
	if (st->schema[0])
		ts_pg_drop_schema(getenv("TRACT_TEST_PG_URI"), st->schema);
	if (st->dir[0])
		ts_rmtree(st->dir);
	st->schema[0] = '\0';
	st->dir[0] = '\0';
}

int ts_run(const char *suite, const struct CMUnitTest *all, size_t n_all,
	   const struct CMUnitTest *sqlite_only, size_t n_sqlite)
{
	size_t n = n_all + (ts_is("sqlite") ? n_sqlite : 0);
	struct CMUnitTest *tests = calloc(n ? n : 1, sizeof(*tests));
	char name[128];
	int failed;

	if (!tests)
		return 1;
	memcpy(tests, all, n_all * sizeof(*tests));
	if (n > n_all)
		memcpy(tests + n_all, sqlite_only, n_sqlite * sizeof(*tests));
	snprintf(name, sizeof(name), "%s (%s)", suite, ts_backend());
	failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
	free(tests);
	return failed;
}
