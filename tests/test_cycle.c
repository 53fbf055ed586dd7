/*
 * test_cycle.c - a parent cycle written into a SQLite store (SQL), an LMDB
 * one (liblmdb, the record's parent link rewritten) or a PostgreSQL one
 * (SQL, on TRACT_TEST_PG_URI's server when set) behind the
 * library's back: log, compile and commit fail with TRACT_ECORRUPT
 * "parent cycle at HASH" (commit when a budget makes it compile its
 * parent), fsck names the cycle, and so does the CLI (argv[1], the tract
 * executable), which exits 1 rather than printing the history forever.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <lmdb.h>
#include <sqlite3.h>
#include <stdint.h>

#include "tract.h"
#include "testutil.h"

static const char *tract_exe;

enum { SQLITE, LMDB, POSTGRES };

struct fx {
	char dir[128], uri[700], schema[64], hashes[6][TRACT_HASH_HEXSIZE + 1];
	tract_store *s;
	tract *t;
};

static void sql(const char *path, const char *stmt)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys=OFF", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, stmt, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* The hash of an LMDB commit record (the plugin's layout, lmdb_codec.c:
 * 4 bytes, 3 sequence numbers of 8 after 16 bytes, then strings as a
 * 4-byte length and the bytes with a NUL (UINT32_MAX alone for NULL):
 * hash, tract id, parent hash...). */
#define REC_STRINGS 44
#define REC_PARENT_SEQ 20

static uint32_t rec_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Rewrite the record of hash from so that its first parent is to. */
static void lmdb_relink(const char *dir, const char *from, const char *to)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v, fk = {0, NULL};
	unsigned char fkey[8], *rec = NULL, *out;
	uint64_t to_seq = 0;
	size_t n = 0, at, plen, i;
	int op = MDB_FIRST;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "commits", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (; mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op) == 0; op = MDB_NEXT) {
		const unsigned char *p = v.mv_data;

		assert_int_equal(k.mv_size, 8);
		assert_int_equal(rec_u32(p + REC_STRINGS), 64);
		if (memcmp(p + REC_STRINGS + 4, to, 64) == 0)
			for (i = 0, to_seq = 0; i < 8; i++)
				to_seq = to_seq << 8 | ((const unsigned char *)k.mv_data)[i];
		if (memcmp(p + REC_STRINGS + 4, from, 64) == 0) {
			rec = malloc(v.mv_size);
			assert_non_null(rec);
			memcpy(rec, p, v.mv_size);
			memcpy(fkey, k.mv_data, 8);
			fk.mv_size = 8;
			fk.mv_data = fkey;
			n = v.mv_size;
		}
	}
	mdb_cursor_close(cur);
	assert_non_null(rec);
	assert_true(to_seq > 0);
	/* The parent hash field, after the hash and the tract id. */
	at = REC_STRINGS + 4 + 64 + 1;
	at += 4 + rec_u32(rec + at) + 1;
	/* The old field: its length, and its bytes with their NUL unless NULL. */
	plen = rec_u32(rec + at) == UINT32_MAX ? 0 : rec_u32(rec + at) + 1;
	out = malloc(n + 65);
	assert_non_null(out);
	memcpy(out, rec, at);
	memcpy(out + REC_PARENT_SEQ, &to_seq, 8);
	{
		uint32_t len = 64;

		memcpy(out + at, &len, 4);
	}
	memcpy(out + at + 4, to, 64);
	out[at + 4 + 64] = '\0';
	memcpy(out + at + 4 + 65, rec + at + 4 + plen, n - at - 4 - plen);
	v.mv_size = n - plen + 65;
	v.mv_data = out;
	assert_int_equal(mdb_put(txn, dbi, &fk, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(rec);
	free(out);
}

/* Run stmt in schema on TRACT_TEST_PG_URI's server. */
static void pg_sql(const char *schema, const char *stmt)
{
	PGconn *conn = PQconnectdb(getenv("TRACT_TEST_PG_URI"));
	char set[128];
	PGresult *res;

	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	snprintf(set, sizeof(set), "SET search_path TO %s", schema);
	PQclear(PQexec(conn, set));
	res = PQexec(conn, stmt);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", stmt, PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(conn);
}

/* Six commits c0..c5, then c[from]'s parent set to c[to] (to > from). */
static void make(struct fx *f, int from, int to, int backend)
{
	static unsigned serial;
	int lmdb = backend == LMDB;
	char path[200], stmt[400];
	tract_commit *c;
	int i;

	snprintf(f->dir, sizeof(f->dir), "/tmp/tract-cycle-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/%s", f->dir, lmdb ? "store" : "t.db");
	snprintf(f->uri, sizeof(f->uri), "%s:%s", lmdb ? "lmdb" : "sqlite", path);
	f->schema[0] = '\0';
	if (backend == POSTGRES) {
		const char *pg = getenv("TRACT_TEST_PG_URI");

		snprintf(f->schema, sizeof(f->schema), "tract_cycle_%ld_%u", (long)getpid(),
		         serial++);
		snprintf(f->uri, sizeof(f->uri), "%s%sschema=%s", pg, strchr(pg, '?') ? "&" : "?",
		         f->schema);
	}
	assert_int_equal(tract_store_open(&f->s, f->uri, TRACT_STORE_CREATE), 0);
	assert_int_equal(tract_create(&f->t, f->s, "cyc", "cycle", NULL), 0);
	for (i = 0; i < 6; i++) {
		char text[32];

		snprintf(text, sizeof(text), "turn %d", i);
		assert_int_equal(tract_commit_create_dialogue(
		                     &c, f->t, i % 2 ? "assistant" : "user", text, NULL, NULL),
		                 0);
		memcpy(f->hashes[i], tract_commit_hash(c), sizeof(f->hashes[i]));
		tract_commit_free(c);
	}
	tract_free(f->t);
	tract_store_free(f->s);
	snprintf(stmt, sizeof(stmt),
	         "UPDATE commits SET parent_hash = '%s' WHERE commit_hash = '%s'", f->hashes[to],
	         f->hashes[from]);
	if (lmdb)
		lmdb_relink(path, f->hashes[from], f->hashes[to]);
	else if (backend == POSTGRES)
		pg_sql(f->schema, stmt);
	else
		sql(path, stmt);
	assert_int_equal(tract_store_open(&f->s, f->uri, 0), 0);
	assert_int_equal(tract_open(&f->t, f->s, "cyc", NULL), 0);
}

static void done(struct fx *f)
{
	char stmt[160];

	tract_free(f->t);
	tract_store_free(f->s);
	snprintf(stmt, sizeof(stmt), "%s/store", f->dir); /* LMDB's environment */
	tu_remove_dir(stmt);
	tu_remove_dir(f->dir);
	if (f->schema[0]) {
		snprintf(stmt, sizeof(stmt), "DROP SCHEMA %s CASCADE", f->schema);
		pg_sql("public", stmt);
	}
}

static void expect_cycle(int rc)
{
	assert_int_equal(rc, TRACT_ECORRUPT);
	assert_non_null(strstr(tract_error_last()->message, "parent cycle at "));
}

/* Run the CLI; its exit status, stdout+stderr into out. */
static int cli(struct fx *f, const char *args, char *out, size_t cap)
{
	char cmd[800];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "timeout 20 '%s' --db '%s' --tract cyc %s 2>&1", tract_exe,
	         f->uri, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void check(int from, int to, int backend)
{
	struct fx f;
	tract_commit_list *log = NULL;
	tract_context *ctx = NULL;
	tract_commit *c = NULL;
	tract_fsck_report *rep = NULL;
	char out[8192];
	size_t i;
	int named = 0;

	if (backend == POSTGRES && !getenv("TRACT_TEST_PG_URI"))
		return; /* no server: the SQLite and LMDB runs only */
	make(&f, from, to, backend);
	expect_cycle(tract_log_list(&log, f.t, NULL));
	assert_null(log);
	expect_cycle(tract_context_compile(&ctx, f.t, NULL));
	assert_null(ctx);
	/* A commit walks the history it builds on: without a budget (commit
	 * rows only), and with one (it compiles its parent's context). */
	expect_cycle(tract_commit_create_dialogue(&c, f.t, "user", "more", NULL, NULL));
	assert_null(c);
	assert_int_equal(tract_budget_set(f.t, 1000000, TRACT_BUDGET_REJECT, NULL, NULL, 0), 0);
	expect_cycle(tract_commit_create_dialogue(&c, f.t, "user", "more", NULL, NULL));
	assert_null(c);
	assert_int_equal(tract_fsck_run(&rep, f.s), 0);
	for (i = 0; i < rep->count; i++) {
		const char *m = rep->problems[i].message;
		if (strncmp(m, "parent cycle: ", 14) == 0) {
			named++;
			/* Every commit of the cycle, from its least hash round to it. */
			for (int k = from; k <= to; k++)
				assert_non_null(strstr(m, f.hashes[k]));
			assert_int_equal(rep->problems[i].severity, TRACT_FSCK_ERROR);
		}
	}
	assert_int_equal(named, 1);
	tract_fsck_report_free(rep);

	if (tract_exe) {
		assert_int_equal(cli(&f, "log", out, sizeof(out)), 1);
		assert_non_null(strstr(out, "parent cycle at "));
		assert_true(strlen(out) < 1000);
		assert_int_equal(cli(&f, "compile", out, sizeof(out)), 1);
		assert_non_null(strstr(out, "parent cycle at "));
		assert_int_equal(cli(&f, "fsck", out, sizeof(out)), 1);
		assert_non_null(strstr(out, "parent cycle: "));
		assert_int_equal(cli(&f, "commit user more", out, sizeof(out)), 1);
		assert_non_null(strstr(out, "parent cycle at "));
	}
	done(&f);
}

/* The root points at HEAD: every commit is on the cycle. */
static void test_whole_chain(void **state)
{
	(void)state;
	check(0, 5, SQLITE);
	check(0, 5, LMDB);
	check(0, 5, POSTGRES);
}

/* A rho: HEAD, then a cycle of c2..c4. */
static void test_tail_and_loop(void **state)
{
	(void)state;
	check(2, 4, SQLITE);
	check(2, 4, LMDB);
	check(2, 4, POSTGRES);
}

/* A commit its own parent. */
static void test_self_parent(void **state)
{
	(void)state;
	check(3, 3, SQLITE);
	check(3, 3, LMDB);
	check(3, 3, POSTGRES);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_whole_chain),
	    cmocka_unit_test(test_tail_and_loop),
	    cmocka_unit_test(test_self_parent),
	};

	tract_exe = argc > 1 ? argv[1] : NULL;
	return cmocka_run_group_tests_name("cycle", tests, NULL, NULL);
}
