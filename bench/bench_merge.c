/*
 * bench_merge.c - merge figures (history.md §8): a clean merge of a
 * 100-commit branch that diverged 1,000 commits back into a 10,000-commit
 * main, and a fast-forward of main over 100 commits, on SQLite and LMDB,
 * and on PostgreSQL when TRACT_TEST_PG_URI is set (scripts/pg.sh run --
 * bench_merge). Each figure is the median and the best of RUNS merges of
 * the same store (main is put back at its tip between runs). Prints the
 * figures with their targets; never asserts a timing.
 *   bench_merge [--backends sqlite,lmdb,postgres] [--main N] [--runs N]
 * Stores are fresh, on disk in a temporary directory ($TMPDIR or /tmp), or
 * a schema of their own dropped at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "internal.h" /* refs by compare-and-swap: the branches */
#include "tract.h"

#define BENCH_NAME "bench_merge"
#include "bench_util.h"

#define DIVERGED 1000
#define BRANCH 100
#define AHEAD 100

static int n_main = 10000;
static int runs = 7;

static void set_ref(tract *t, const char *name, const char *commit, const char *symbolic)
{
	tract_store *s = tract_owner(t);
	tract_ref_value cur;
	tract_ref_row exp;
	int rc = tract_txn_begin(s, TRACT_TXN_WRITE);

	if (rc == 0)
		rc = tract_ref_read(&cur, s, tract_id(t), name);
	if (rc == 0) {
		memset(&exp, 0, sizeof(exp));
		exp.commit_hash = cur.commit[0] ? cur.commit : NULL;
		exp.symbolic_target = cur.symbolic[0] ? cur.symbolic : NULL;
		rc = s->be->ref_cas(s->conn, tract_id(t), name, commit, symbolic,
				    cur.exists ? &exp : NULL);
		if (rc < 0)
			rc = tract_backend_error(s, rc, "set ref");
	}
	CHECK(tract_txn_end(s, rc));
}

/* n dialogue commits on HEAD in batches of 1,000; the last hash in tip. */
static void commits(tract *t, int n, const char *what, char tip[65])
{
	tract_commit *c = NULL;
	char text[128];
	int i;

	CHECK(tract_batch_begin(t));
	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "%s %d: a line of the conversation, long enough to "
					     "look like one",
			 what, i);
		CHECK(tract_commit_create_dialogue(&c, t, i % 2 ? "assistant" : "user", text, NULL,
						   NULL));
		if (i == n - 1)
			memcpy(tip, tract_commit_hash(c), 65);
		tract_commit_free(c);
		if (i % 1000 == 999) {
			CHECK(tract_batch_commit(t));
			CHECK(tract_batch_begin(t));
		}
	}
	CHECK(tract_batch_commit(t));
}

static void report(const char *backend, const char *what, double *ms, const char *target)
{
	qsort(ms, (size_t)runs, sizeof(*ms), cmp_double);
	printf("  %-9s %-54s median %8.2f ms  best %8.2f ms%s%s%s\n", backend, what,
	       ms[runs / 2], ms[0], *target ? "  (" : "", target, *target ? ")" : "");
}

static void bench_store(const char *backend, const char *uri)
{
	char fork_at[65], main_tip[65], feature_tip[65], ahead_tip[65], what[128];
	tract_merge_options no_opts = TRACT_MERGE_OPTIONS_INIT;
	tract_merge_result *r;
	tract_store *s;
	tract *t;
	double *ms = calloc((size_t)runs, sizeof(double)), t0, c0, build;
	double *cpu = calloc((size_t)runs, sizeof(double));
	int i;

	if (!ms || !cpu)
		exit(1);
	CHECK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK(tract_create(&t, s, NULL, "bench", NULL));
	t0 = now_ms();
	commits(t, n_main - DIVERGED, "main", fork_at);
	set_ref(t, "refs/heads/feature", fork_at, NULL);
	commits(t, DIVERGED, "main after the fork", main_tip);
	set_ref(t, "HEAD", NULL, "refs/heads/feature");
	commits(t, BRANCH, "feature", feature_tip);
	set_ref(t, "refs/heads/ahead", main_tip, NULL);
	set_ref(t, "HEAD", NULL, "refs/heads/ahead");
	commits(t, AHEAD, "ahead", ahead_tip);
	set_ref(t, "HEAD", NULL, "refs/heads/main");
	build = now_ms() - t0;
	printf("  %-9s store: main %d commits, feature %d commits forked %d back, ahead %d "
	       "(built in %.0f ms)\n",
	       backend, n_main, BRANCH, DIVERGED, AHEAD, build);

	for (i = 0; i < runs; i++) {
		t0 = now_ms();
		c0 = cpu_ms();
		CHECK(tract_merge(&r, t, "feature", &no_opts));
		ms[i] = now_ms() - t0;
		cpu[i] = cpu_ms() - c0;
		if (tract_merge_result_type(r) != TRACT_MERGE_CLEAN ||
		    tract_merge_result_merged_count(r) != DIVERGED + BRANCH) {
			fprintf(stderr, "bench_merge: not a clean merge of %d commits\n",
				DIVERGED + BRANCH);
			exit(1);
		}
		tract_merge_result_free(r);
		set_ref(t, "refs/heads/main", main_tip, NULL);
	}
	snprintf(what, sizeof(what), "clean merge (%d-commit branch, %d back, %d main)", BRANCH,
		 DIVERGED, n_main);
	report(backend, what, ms,
	       strcmp(backend, "sqlite") == 0 ? "target <= 20 ms; Python reference 7318 ms"
					      : "Python reference 7318 ms (SQLite)");
	report(backend, "  ...its CPU time", cpu, "");

	for (i = 0; i < runs; i++) {
		t0 = now_ms();
		CHECK(tract_merge(&r, t, "ahead", &no_opts));
		ms[i] = now_ms() - t0;
		if (tract_merge_result_type(r) != TRACT_MERGE_FAST_FORWARD) {
			fprintf(stderr, "bench_merge: not a fast-forward\n");
			exit(1);
		}
		tract_merge_result_free(r);
		set_ref(t, "refs/heads/main", main_tip, NULL);
	}
	snprintf(what, sizeof(what), "fast-forward (%d commits ahead, %d main)", AHEAD, n_main);
	report(backend, what, ms, "Python reference 36 ms (SQLite)");
	{
		/* the merged context compiles like the reference's, without the
		 * merge message: one compile of the merge for the record */
		tract_context *ctx = NULL;
		CHECK(tract_merge(&r, t, "feature", &no_opts));
		tract_merge_result_free(r);
		t0 = now_ms();
		CHECK(tract_context_compile(&ctx, t, NULL));
		printf("  %-9s %-54s %8.2f ms  (%zu messages)\n", backend,
		       "cold compile of the merged main", now_ms() - t0, tract_context_count(ctx));
		tract_context_free(ctx);
	}
	free(ms);
	free(cpu);
	tract_free(t);
	tract_store_free(s);
}

static char tmpdir[256];

static void pg_exec(const char *base, const char *sql)
{
	char conninfo[1024];
	const char *q;
	PGconn *pg;
	PGresult *res;

	/* libpq takes the URI without our own query parameters */
	snprintf(conninfo, sizeof(conninfo), "%s", base);
	q = strchr(conninfo, '?');
	if (q)
		conninfo[q - conninfo] = '\0';
	pg = PQconnectdb(conninfo);
	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "bench_merge: PostgreSQL: %s", PQerrorMessage(pg));
		exit(1);
	}
	res = PQexec(pg, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "bench_merge: %s: %s", sql, PQerrorMessage(pg));
		exit(1);
	}
	PQclear(res);
	PQfinish(pg);
}

int main(int argc, char **argv)
{
	const char *backends = "sqlite,lmdb,postgres", *pg_base = getenv("TRACT_TEST_PG_URI");
	char uri[1200];
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--backends") == 0 && i + 1 < argc)
			backends = argv[++i];
		else if (strcmp(argv[i], "--main") == 0 && i + 1 < argc)
			n_main = atoi(argv[++i]);
		else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench_merge [--backends sqlite,lmdb,postgres] "
					"[--main N] [--runs N]\n");
			return 2;
		}
	}
	if (n_main <= DIVERGED || runs < 1) {
		fprintf(stderr, "bench_merge: --main must exceed %d, --runs be >= 1\n", DIVERGED);
		return 2;
	}
#ifdef BENCH_PLUGIN_PATH
	if (!getenv("TRACT_PLUGIN_PATH"))
		setenv("TRACT_PLUGIN_PATH", BENCH_PLUGIN_PATH, 1);
#endif
	snprintf(tmpdir, sizeof(tmpdir), "%s/tract-bench-merge-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "bench_merge: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	printf("bench_merge: %d runs per figure\n", runs);
	if (strstr(backends, "sqlite")) {
		snprintf(uri, sizeof(uri), "%s/merge.db", tmpdir);
		bench_store("sqlite", uri);
	}
	if (strstr(backends, "lmdb")) {
		snprintf(uri, sizeof(uri), "lmdb:%s/merge.lmdb", tmpdir);
		bench_store("lmdb", uri);
	}
	if (strstr(backends, "postgres")) {
		if (!pg_base || !*pg_base) {
			printf("  postgres  skipped: TRACT_TEST_PG_URI is not set "
			       "(scripts/pg.sh run -- bench_merge)\n");
		} else {
			char schema[64], sql[256];
			snprintf(schema, sizeof(schema), "tract_bench_merge_%ld", (long)getpid());
			snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
			pg_exec(pg_base, sql);
			snprintf(uri, sizeof(uri), "%s%sschema=%s", pg_base,
				 strchr(pg_base, '?') ? "&" : "?", schema);
			bench_store("postgres", uri);
			snprintf(sql, sizeof(sql),
				 "SET client_min_messages TO warning; DROP SCHEMA IF EXISTS %s CASCADE",
				 schema);
			pg_exec(pg_base, sql);
		}
	}
	if (!getenv("BENCH_KEEP"))
		rm_tree(tmpdir);
	return 0;
}
