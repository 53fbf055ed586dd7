/*
 * bench_gc.c - garbage collection figures (issue: "gc of a 20,000-commit
 * store where 10,000 are unreachable", target on SQLite <= 1 s and linear
 * in what it removes; LMDB at least as fast; PostgreSQL within 3x): a
 * history of N commits, main moved back to the middle, then tract_gc with
 * no retention. Also half the size, to show the cost grows with what goes.
 * Prints one line per backend and size; never asserts a timing.
 *
 *   bench_gc [N]            N commits (default 20000); SQLite and LMDB, and
 *                           PostgreSQL when TRACT_TEST_PG_URI is set (a
 *                           schema of its own, dropped afterwards)
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bench_wait.h"
#include "internal.h"
#include "tract/gc.h"

#define BENCH_NAME "bench_gc"
#include "bench_util.h"

/* One run: n commits, main back to the middle, gc(0). */
static void run(const char *backend, const char *uri, long n)
{
	tract_gc_options o = TRACT_GC_OPTIONS_INIT;
	tract_gc_result *r = NULL;
	tract_store *s = NULL;
	tract *t = NULL;
	tract_commit *c = NULL;
	tract_ref_row exp;
	char middle[65] = "", tip[65] = "", text[64];
	double t0, t1, c0, c1;
	bench_wait w;
	char wbuf[160];
	long i;

	CHECK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK(tract_create(&t, s, "bench", NULL, NULL));
	CHECK(tract_batch_begin(t));
	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "message %ld of the history", i);
		CHECK(tract_commit_create_dialogue(&c, t, i % 2 ? "assistant" : "user", text, NULL,
						   NULL));
		if (i == n / 2 - 1)
			memcpy(middle, tract_commit_hash(c), 65);
		memcpy(tip, tract_commit_hash(c), 65);
		tract_commit_free(c);
		if (i % 1000 == 999) {
			CHECK(tract_batch_commit(t));
			CHECK(tract_batch_begin(t));
		}
	}
	CHECK(tract_batch_commit(t));
	memset(&exp, 0, sizeof(exp));
	exp.commit_hash = tip;
	CHECK(s->be->begin(s->conn, TRACT_TXN_WRITE));
	CHECK(s->be->ref_cas(s->conn, t->id, "refs/heads/main", middle, NULL, &exp));
	CHECK(s->be->commit(s->conn));
	s->cache_epoch++;

	o.orphan_retention_days = 0;
	c0 = cpu_s();
	t0 = now_s();
	bench_wait_start(&w);
	CHECK(tract_gc(&r, t, &o));
	bench_wait_stop(&w);
	t1 = now_s();
	c1 = cpu_s();
	printf("%-8s gc of %6ld commits, %6zu unreachable: %8.1f ms, CPU %7.1f ms  (%zu removed, "
	       "%zu blobs; target on SQLite: <= 1000 ms for 20000/10000)\n",
	       backend, n, r->commits_removed, (t1 - t0) * 1e3, (c1 - c0) * 1e3,
	       r->commits_removed, r->blobs_removed);
	printf("%-8s   where the time went: %s\n", backend, bench_wait_text(&w, wbuf, sizeof(wbuf)));
	fflush(stdout);
	tract_gc_result_free(r);
	tract_free(t);
	tract_store_free(s);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
	const char *pg = getenv("TRACT_TEST_PG_URI");
	char dir[] = "/tmp/bench_gc.XXXXXX", uri[600];
	long sizes[2];
	int k;

	if (n < 2) {
		fprintf(stderr, "usage: bench_gc [N >= 2]\n");
		return 2;
	}
	sizes[0] = n / 2;
	sizes[1] = n;
	if (!mkdtemp(dir))
		return 1;
	for (k = 0; k < 2; k++) {
		snprintf(uri, sizeof(uri), "sqlite:%s/s%d.db", dir, k);
		run("sqlite", uri, sizes[k]);
		snprintf(uri, sizeof(uri), "lmdb:%s/l%d", dir, k);
		run("lmdb", uri, sizes[k]);
		if (pg) {
			char schema[64], stmt[128];
			snprintf(schema, sizeof(schema), "tract_bench_gc_%ld_%d", (long)getpid(), k);
			snprintf(uri, sizeof(uri), "%s%sschema=%s", pg, strchr(pg, '?') ? "&" : "?",
				 schema);
			run("postgres", uri, sizes[k]);
			snprintf(stmt, sizeof(stmt), "DROP SCHEMA %s CASCADE", schema);
			bench_pg_exec(pg, stmt);
		}
	}
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_gc: could not remove %s\n", dir);
	}
	return 0;
}
