/*
 * teststore.h - the backend a test program runs on, from the environment:
 * TRACT_TEST_BACKEND=sqlite (default) | lmdb | postgres, PostgreSQL's server
 * from TRACT_TEST_PG_URI. Fresh stores per test (a temporary directory, or a
 * new schema dropped afterwards) and the selection of the SQLite-only tests.
 */
#ifndef TRACT_TEST_STORE_H
#define TRACT_TEST_STORE_H

#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

/* A store location made for one test. */
typedef struct {
	char dir[256];    /* temporary directory ("" for postgres) */
	char uri[600];    /* the store's URI, nothing there yet */
	char schema[64];  /* postgres: the schema to drop ("" otherwise) */
} ts_store;

/* "sqlite", "lmdb" or "postgres" (checked by ts_init). */
const char *ts_backend(void);

/* Nonzero when the backend under test is name. */
int ts_is(const char *name);

/*
 * Call first in main(): 0 to go on; 77 (after saying why) when the backend
 * is postgres and TRACT_TEST_PG_URI is unset, the suite's one opt-in skip;
 * 1 for an unknown TRACT_TEST_BACKEND.
 */
int ts_init(const char *suite);

/* A fresh location of the backend under test; tag names the temporary
 * directory ("test": /tmp/tract-test-XXXXXX, the SQLite file t.db in it, the
 * LMDB environment store/) or the schema (tract_test_PID_N). Returns 0, or
 * -1 after printing why. */
int ts_fresh(ts_store *st, const char *tag);

/* Remove what ts_fresh made and the store in it (directory or schema);
 * st->dir and st->schema are emptied. */
void ts_destroy(ts_store *st);

/* Remove a directory tree (LMDB's environment is a subdirectory). */
void ts_rmtree(const char *dir);

/** Drop schema (with everything in it) on the PostgreSQL server of
 *  server_uri; a failure is printed on stderr. Needs only libpq. */
void ts_pg_drop_schema(const char *server_uri, const char *schema);

/*
 * Run the group: every test of all, then those of sqlite_only when the
 * backend is SQLite (tests that read SQLite files or its schema).
 * The group is named "suite (backend)". Returns cmocka's count of failures.
 */
int ts_run(const char *suite, const struct CMUnitTest *all, size_t n_all,
	   const struct CMUnitTest *sqlite_only, size_t n_sqlite);

#define TS_COUNT(a) (sizeof(a) / sizeof((a)[0]))

#endif
