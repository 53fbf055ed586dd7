/*
 * bench_agents.c - figures of the multi-agent operations (spec/agents.md
 * §6) on each backend: spawn with full_clone of a 10,000-commit parent,
 * head_snapshot spawn from a cold parent handle (fresh store connection,
 * empty compile cache) of the same size, and a manual collapse of a
 * 10,000-commit child. SQLite and LMDB always; PostgreSQL when
 * TRACT_TEST_PG_URI names a server (a schema of its own, dropped at the
 * end). Prints one figure per line with its target; never asserts a time.
 *
 *   bench_agents [--commits N] [--runs R]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tract.h"

#define BENCH_NAME "bench_agents"
#include "bench_util.h"

/* n commits on t (a user/assistant dialogue with an instruction first), in
 * batches of 1000. */
static void fill(tract *t, int n, const char *tag)
{
	char text[160];

	for (int i = 0; i < n; i++) {
		if (i % 1000 == 0)
			CHECK(tract_batch_begin(t));
		snprintf(text, sizeof(text),
		         "%s message %d: the quick brown fox jumps over the lazy dog, again.", tag,
		         i);
		if (i == 0)
			CHECK(tract_commit_create_instruction(NULL, t, "You are a careful agent.",
			                                      NULL));
		else
			CHECK(tract_commit_create_dialogue(NULL, t, i % 2 ? "user" : "assistant",
			                                   text, NULL, NULL));
		if (i % 1000 == 999 || i == n - 1)
			CHECK(tract_batch_commit(t));
	}
}

static double *cpu_v; /* CPU times of the runs, beside the wall times */

static void report(const char *backend, const char *what, double ms, const char *target)
{
	printf("%-9s %-50s %8.1f ms wall   (target %s)\n", backend, what, ms, target);
	fflush(stdout);
}

static void report_cpu(const char *backend, int runs)
{
	printf("%-9s %-50s %8.1f ms CPU\n", backend, "", median(cpu_v, runs));
	fflush(stdout);
}

static void run(const char *backend, const char *uri, int n, int runs)
{
	tract_store *s = NULL;
	tract *parent = NULL, *child = NULL;
	char parent_id[65], child_id[65], label[96];
	double *v = calloc((size_t)runs, sizeof(double));
	int is_sqlite = strcmp(backend, "sqlite") == 0;

	cpu_v = calloc((size_t)runs, sizeof(double));
	if (!v || !cpu_v)
		exit(1);
	CHECK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK(tract_create(&parent, s, NULL, "parent", NULL));
	snprintf(parent_id, sizeof(parent_id), "%s", tract_id(parent));
	fill(parent, n, "parent");

	/* spawn full_clone: every commit copied, rehashed, one transaction */
	for (int r = 0; r < runs; r++) {
		tract_spawn_options o = TRACT_SPAWN_OPTIONS_INIT;
		double t0, cpu0;
		o.purpose = "clone bench";
		o.inherit = TRACT_INHERIT_FULL_CLONE;
		t0 = now_ms();
		cpu0 = cpu_ms();
		CHECK(tract_spawn(&child, parent, &o));
		v[r] = now_ms() - t0;
		cpu_v[r] = cpu_ms() - cpu0;
		tract_free(child);
		child = NULL;
	}
	snprintf(label, sizeof(label), "spawn full_clone, %d-commit parent", n);
	report(backend, label, median(v, runs),
	       is_sqlite ? "<= 200 ms on SQLite; Python 19.5 s" : "-");
	report_cpu(backend, runs);

	/* head_snapshot spawn from a cold parent: reopen store and tract */
	for (int r = 0; r < runs; r++) {
		tract_spawn_options o = TRACT_SPAWN_OPTIONS_INIT;
		double t0, cpu0;
		tract_free(parent);
		tract_store_free(s);
		parent = NULL;
		s = NULL;
		CHECK(tract_store_open(&s, uri, 0));
		CHECK(tract_open(&parent, s, parent_id, NULL));
		o.purpose = "snapshot bench";
		t0 = now_ms();
		cpu0 = cpu_ms();
		CHECK(tract_spawn(&child, parent, &o));
		v[r] = now_ms() - t0;
		cpu_v[r] = cpu_ms() - cpu0;
		tract_free(child);
		child = NULL;
	}
	snprintf(label, sizeof(label), "spawn head_snapshot, cold %d-commit parent", n);
	report(backend, label, median(v, runs),
	       is_sqlite ? "<= 30 ms on SQLite; Python 3.3 s" : "-");
	report_cpu(backend, runs);

	/* collapse of a 10,000-commit child (manual summary), cold handles */
	{
		tract_spawn_options o = TRACT_SPAWN_OPTIONS_INIT;
		tract *small = NULL;
		CHECK(tract_create(&small, s, NULL, "orchestrator", NULL));
		CHECK(tract_commit_create_instruction(NULL, small, "Coordinate.", NULL));
		o.purpose = "long task";
		CHECK(tract_spawn(&child, small, &o));
		snprintf(child_id, sizeof(child_id), "%s", tract_id(child));
		fill(child, n, "child");
		tract_free(child);
		child = NULL;
		for (int r = 0; r < runs; r++) {
			tract_collapse_options co = TRACT_COLLAPSE_OPTIONS_INIT;
			tract_collapse_result *res = NULL;
			char small_id[65];
			double t0, cpu0;
			/* one new child commit per run: each collapse has work */
			CHECK(tract_open(&child, s, child_id, NULL));
			CHECK(tract_commit_create_dialogue(NULL, child, "assistant",
			                                   "one more step", NULL, NULL));
			tract_free(child);
			child = NULL;
			snprintf(small_id, sizeof(small_id), "%s", tract_id(small));
			tract_free(small);
			tract_free(parent);
			tract_store_free(s);
			parent = small = NULL;
			CHECK(tract_store_open(&s, uri, 0));
			CHECK(tract_open(&small, s, small_id, NULL));
			co.summary = "Subagent completed: the long task is done.";
			/* the first run summarizes the whole child, later ones the one
			 * new commit: report the first separately */
			t0 = now_ms();
			cpu0 = cpu_ms();
			CHECK(tract_collapse(&res, small, child_id, &co));
			v[r] = now_ms() - t0;
			cpu_v[r] = cpu_ms() - cpu0;
			tract_collapse_result_free(res);
			if (r == 0) {
				snprintf(label, sizeof(label),
				         "collapse (manual), %d-commit child, first", n);
				report(backend, label, v[0],
				       is_sqlite ? "<= 30 ms on SQLite; Python 3.5 s" : "-");
				report_cpu(backend, 1);
			}
			CHECK(tract_open(&parent, s, parent_id, NULL));
		}
		if (runs > 1) {
			snprintf(label, sizeof(label),
			         "collapse again (1 new commit), %d-commit child", n);
			report(backend, label, median(v + 1, runs - 1), "-");
			memmove(cpu_v, cpu_v + 1, (size_t)(runs - 1) * sizeof(double));
			report_cpu(backend, runs - 1);
		}
		tract_free(small);
	}
	tract_free(parent);
	tract_store_free(s);
	free(v);
	free(cpu_v);
}

static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	int n = 10000, runs = 3;
	char dir[512], uri[700];
	const char *tmp = getenv("TMPDIR"), *pg = getenv("TRACT_TEST_PG_URI");

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--commits") == 0 && i + 1 < argc)
			n = atoi(argv[++i]);
		else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench_agents [--commits N] [--runs R]\n");
			return 2;
		}
	}
	if (n < 2 || runs < 1) {
		fprintf(stderr, "bench_agents: --commits >= 2 and --runs >= 1\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/tract-bench-agents-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "bench_agents: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	printf("bench_agents: %d commits, median of %d run(s)\n", n, runs);
	snprintf(uri, sizeof(uri), "sqlite:%s/agents.db", dir);
	run("sqlite", uri, n, runs);
	snprintf(uri, sizeof(uri), "lmdb:%s/agents.lmdb", dir);
	run("lmdb", uri, n, runs);
	if (pg && *pg) {
		char schema[64], sql[128];
		PGconn *c;
		snprintf(schema, sizeof(schema), "tract_bench_agents_%ld", (long)getpid());
		snprintf(uri, sizeof(uri), "%s%sschema=%s", pg, strchr(pg, '?') ? "&" : "?",
		         schema);
		run("postgres", uri, n, runs);
		c = PQconnectdb(pg);
		PQsetNoticeProcessor(c, quiet_notice, NULL);
		snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", schema);
		if (PQstatus(c) == CONNECTION_OK)
			PQclear(PQexec(c, sql));
		PQfinish(c);
	} else {
		printf("postgres  (skipped: TRACT_TEST_PG_URI is unset)\n");
	}
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
