/*
 * bench_compress.c - figures of compression (core/compress.c) on SQLite
 * and LMDB, and on PostgreSQL when TRACT_TEST_PG_URI is set: a history of
 * 10,000 commits holding 100 pinned commits spread through it; the first
 * 9,000 compressed in manual mode, one summary per group (the pins split
 * the range), the 1,000 later commits replayed on top; then a compile of
 * the new head. Each figure is printed with its target and the Python
 * reference's time; never asserts a timing.
 *
 *   bench_compress [--backends LIST] [RUNS]
 *                         RUNS: compressions per backend (default 3; the
 *                         branch is set back to its old tip between runs)
 *
 * Stores are fresh, on disk in a temporary directory ($TMPDIR or /tmp) or
 * in a PostgreSQL schema of their own (tract_bench_compress_PID), removed
 * at the end (BENCH_KEEP=1 keeps them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bench_wait.h"
#include "internal.h" /* refs written straight through the backend */
#include "tract.h"
#include "tract/compress.h"

#define BENCH_NAME "bench_compress"
#include "bench_util.h"

#define N_TOTAL 10000
#define N_RANGE 9000
#define N_PINNED 100


static void line(const char *name, const char *value, const char *target)
{
	printf("  %-44s %24s   %s\n", name, value, target);
	fflush(stdout);
}

/* Set a ref of the tract through the backend (branches and HEAD). */
static void set_ref(tract *t, const char *name, const char *commit, const char *sym)
{
	tract_store *s = tract_owner(t);
	tract_ref_value cur;
	tract_ref_row exp;

	memset(&exp, 0, sizeof(exp));
	CHECK(tract_txn_begin(s, TRACT_TXN_WRITE));
	CHECK(tract_ref_read(&cur, s, tract_id(t), name));
	exp.commit_hash = cur.commit[0] ? cur.commit : NULL;
	exp.symbolic_target = cur.symbolic[0] ? cur.symbolic : NULL;
	if (s->be->ref_cas(s->conn, tract_id(t), name, commit, sym, cur.exists ? &exp : NULL) < 0)
		die_msg("set %s: %s", name, s->be->last_error(s->conn));
	CHECK(tract_txn_end(s, 0));
}

/* ---- the figures ------------------------------------------------------------------- */

static void bench_backend(const char *backend, int runs)
{
	tract_store *s = NULL;
	tract *t = NULL;
	char uri[2048], value[96], (*h)[65] = calloc(N_TOTAL, 65), old_tip[65];
	const char **sums = calloc(N_PINNED + 1, sizeof(char *));
	double *ms = calloc((size_t)runs, sizeof(double)),
	       *cpu = calloc((size_t)runs, sizeof(double));
	double *cms = calloc((size_t)runs, sizeof(double)), t0, c0;
	size_t groups = 0, replayed = 0;
	bench_wait w, wmin = {0}, wc;
	char wbuf[160];
	int in_group = 0;

	if (!h || !sums || !ms || !cpu || !cms)
		die_msg("out of memory");
	bench_store_uri(uri, sizeof(uri), backend);
	printf("%s\n", backend);
	CHECK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK(tract_create(&t, s, NULL, NULL, NULL));
	CHECK(tract_batch_begin(t));
	for (size_t i = 0; i < N_TOTAL; i++) {
		char text[256];
		tract_commit *c = NULL;
		int pinned = i % (N_TOTAL / N_PINNED) == 50;

		snprintf(text, sizeof(text),
		         "turn %zu: the model should explain why this test fails on linux when "
		         "the input is empty, and then improve the latency of the query index.",
		         i);
		CHECK(tract_commit_create_dialogue(&c, t, i % 2 ? "assistant" : "user", text, NULL,
		                                   NULL));
		memcpy(h[i], tract_commit_hash(c), 65);
		tract_commit_free(c);
		if (pinned)
			CHECK(tract_annotation_create(NULL, t, h[i], TRACT_PRIORITY_PINNED, NULL));
		if (i < N_RANGE) {
			if (pinned)
				in_group = 0;
			else if (!in_group) {
				in_group = 1;
				groups++;
			}
		}
	}
	CHECK(tract_batch_commit(t));
	memcpy(old_tip, h[N_TOTAL - 1], 65);
	for (size_t g = 0; g < groups; g++)
		sums[g] =
		    "Previously in this conversation: a stretch of turns about a failing test "
		    "on linux and the latency of the query index.";
	for (int r = 0; r < runs; r++) {
		tract_compress_options o = TRACT_COMPRESS_OPTIONS_INIT;
		tract_compress_result *res = NULL;
		tract_context *ctx = NULL;

		set_ref(t, "refs/heads/main", old_tip, NULL);
		o.to_commit = h[N_RANGE - 1];
		o.summaries = sums;
		o.n_summaries = groups;
		t0 = now_ms();
		c0 = cpu_ms();
		bench_wait_start(&w);
		CHECK(tract_compress(&res, NULL, t, &o));
		bench_wait_stop(&w);
		ms[r] = now_ms() - t0;
		cpu[r] = cpu_ms() - c0;
		if (r == 0 || w.wall_ms < wmin.wall_ms)
			wmin = w;
		replayed = res->n_replayed;
		if (res->n_summary != groups)
			die_msg("%zu summaries for %zu groups", res->n_summary, groups);
		tract_compress_result_free(res);
		t0 = now_ms();
		bench_wait_start(&wc);
		CHECK(tract_context_compile(&ctx, t, NULL));
		bench_wait_stop(&wc);
		cms[r] = now_ms() - t0;
		tract_context_free(ctx);
	}
	snprintf(value, sizeof(value), "%.1f ms (cpu %.1f)", pct(ms, (size_t)runs, 0),
	         pct(cpu, (size_t)runs, 0));
	line("compress 9,000 of 10,000, groups (min)", value,
	     strcmp(backend, "sqlite") == 0 ? "target <= 200 ms; python 3,316 ms (91 groups)"
	     : strcmp(backend, "lmdb") == 0 ? "target: at least as fast as sqlite"
	                                    : "target: within 3x sqlite");
	snprintf(value, sizeof(value), "%.1f ms", pct(ms, (size_t)runs, 50));
	line("compress (median)", value, "");
	printf("  the fastest run's wall time: %s\n", bench_wait_text(&wmin, wbuf, sizeof(wbuf)));
	snprintf(value, sizeof(value), "%zu groups, %zu replayed", groups, replayed);
	line("shape", value, "");
	snprintf(value, sizeof(value), "%.1f ms", pct(cms, (size_t)runs, 50));
	line("compile after it (median)", value, "");
	printf("  the last compile's wall time: %s\n", bench_wait_text(&wc, wbuf, sizeof(wbuf)));
	tract_free(t);
	tract_store_free(s);
	free(h);
	free(sums);
	free(ms);
	free(cpu);
	free(cms);
}

int main(int argc, char **argv)
{
	const char *base_dir = getenv("TMPDIR"), *list = "sqlite,lmdb,postgres";
	int runs = 3, a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--backends") == 0 && a + 1 < argc)
			list = argv[++a];
		else if (argv[a][0] >= '1' && argv[a][0] <= '9' && atoi(argv[a]) <= 1000)
			runs = atoi(argv[a]);
		else {
			fprintf(stderr,
			        "usage: bench_compress [--backends sqlite,lmdb,postgres] [RUNS]\n");
			return 2;
		}
	}
#ifdef BENCH_PLUGIN_PATH
	if (!getenv("TRACT_PLUGIN_PATH"))
		setenv("TRACT_PLUGIN_PATH", BENCH_PLUGIN_PATH, 1);
#endif
	bench_scratch_init(base_dir, wanted(list, "postgres"));
	printf("bench_compress: %d commits, %d pinned, the first %d compressed; %d runs\n", N_TOTAL,
	       N_PINNED, N_RANGE, runs);
	if (wanted(list, "sqlite"))
		bench_backend("sqlite", runs);
	if (wanted(list, "lmdb"))
		bench_backend("lmdb", runs);
	if (bench_schema[0])
		bench_backend("postgres", runs);
	else if (wanted(list, "postgres"))
		printf("postgres: skipped (TRACT_TEST_PG_URI is not set)\n");
	return 0;
}
