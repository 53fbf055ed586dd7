/*
 * bench_rebase.c - figures of cherry-pick and rebase (core/replay.c) on
 * SQLite and LMDB, and on PostgreSQL when TRACT_TEST_PG_URI is set: a
 * rebase of a 1,000-commit branch onto a main that advanced 100 commits,
 * cherry-picks of an edit and of an append. Each figure is printed with
 * its target and the Python reference's time; never asserts a timing.
 *
 *   bench_rebase [--backends LIST] [RUNS]
 *                         RUNS: rebases per backend (default 5; the branch is
 *                         set back to its old tip between runs); LIST: some of
 *                         sqlite,lmdb,postgres (default all three, postgres
 *                         only with TRACT_TEST_PG_URI)
 *
 * Stores are fresh, on disk in a temporary directory ($TMPDIR or /tmp) or
 * in a PostgreSQL schema of their own (tract_bench_rebase_PID), removed at
 * the end (BENCH_KEEP=1 keeps them).
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

#include "internal.h" /* refs written straight through the backend */
#include "tract.h"

#define BENCH_NAME "bench_rebase"
#include "bench_util.h"

#define N_BASE 10
#define N_BRANCH 1000
#define N_MAIN 100
#define N_PICKS 200


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

static void head_of(tract *t, char out[65])
{
	CHECK(tract_head_get(out, NULL, NULL, t));
}

/* n dialogue turns of about 150 bytes, in one batch. */
static void turns(tract *t, const char *tag, size_t n)
{
	char text[256];

	CHECK(tract_batch_begin(t));
	for (size_t i = 0; i < n; i++) {
		snprintf(text, sizeof(text),
			 "%s turn %zu: the model should explain why this test fails on linux when "
			 "the input is empty, and then improve the latency of the query index.",
			 tag, i);
		CHECK(tract_commit_create_dialogue(NULL, t, i % 2 ? "assistant" : "user", text, NULL,
						   NULL));
	}
	CHECK(tract_batch_commit(t));
}

/* ---- the figures ------------------------------------------------------------------- */

static void bench_backend(const char *backend, int runs)
{
	tract_store *s = NULL;
	tract *t = NULL;
	tract_rebase_result *r = NULL;
	tract_cherry_pick_result *p = NULL;
	tract_commit_options eo = TRACT_COMMIT_OPTIONS_INIT;
	char uri[2048], base[65], feature_tip[65], target[65], edit_hash[65], append_hash[65];
	char value[96];
	double *ms = calloc((size_t)(runs > N_PICKS ? runs : N_PICKS), sizeof(double)), t0, c0;
	double *cpu = calloc((size_t)(runs > N_PICKS ? runs : N_PICKS), sizeof(double));

	if (!ms || !cpu)
		die_msg("out of memory");
	bench_store_uri(uri, sizeof(uri), backend);
	printf("%s\n", backend);
	CHECK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK(tract_create(&t, s, NULL, NULL, NULL));

	/* main: N_BASE commits; feature: N_BRANCH more; main: N_MAIN more */
	turns(t, "base", N_BASE);
	head_of(t, base);
	set_ref(t, "refs/heads/feature", base, NULL);
	set_ref(t, "HEAD", NULL, "refs/heads/feature");
	turns(t, "feature", N_BRANCH);
	head_of(t, feature_tip);
	set_ref(t, "HEAD", NULL, "refs/heads/main");
	turns(t, "main", N_MAIN);
	set_ref(t, "HEAD", NULL, "refs/heads/feature");

	for (int i = 0; i < runs; i++) {
		t0 = now_ms();
		c0 = cpu_ms();
		CHECK(tract_rebase(&r, t, "main", NULL));
		ms[i] = now_ms() - t0;
		cpu[i] = cpu_ms() - c0;
		if (r->replayed_commits->count != N_BRANCH)
			die_msg("rebase replayed %zu commits, not %d", r->replayed_commits->count,
				N_BRANCH);
		tract_rebase_result_free(r);
		set_ref(t, "refs/heads/feature", feature_tip, NULL);
	}
	{
		double best = pct(ms, (size_t)runs, 0), med = pct(ms, (size_t)runs, 50);

		snprintf(value, sizeof(value), "%.1f ms (median %.1f)", best, med);
		line("rebase 1,000 commits onto main +100 (min)", value,
		     "target <= 50 ms (SQLite); Python 9,347 ms");
		best = pct(cpu, (size_t)runs, 0);
		med = pct(cpu, (size_t)runs, 50);
		snprintf(value, sizeof(value), "%.1f ms (median %.1f)", best, med);
		line("  ...its CPU time (min)", value, "");
	}

	/* side (from main's tip): an edit of a main commit and an append */
	set_ref(t, "HEAD", NULL, "refs/heads/main");
	head_of(t, target);
	set_ref(t, "refs/heads/side", target, NULL);
	set_ref(t, "HEAD", NULL, "refs/heads/side");
	eo.operation = TRACT_OP_EDIT;
	eo.response_to = target;
	{
		tract_commit *c = NULL;

		CHECK(tract_commit_create_dialogue(&c, t, "user", "an edited turn of main", NULL,
						   &eo));
		memcpy(edit_hash, tract_commit_hash(c), 65);
		tract_commit_free(c);
		CHECK(tract_commit_create_dialogue(&c, t, "assistant", "a new answer from the side",
						   NULL, NULL));
		memcpy(append_hash, tract_commit_hash(c), 65);
		tract_commit_free(c);
	}
	set_ref(t, "HEAD", NULL, "refs/heads/main");
	for (int i = 0; i < N_PICKS; i++) {
		t0 = now_ms();
		c0 = cpu_ms();
		CHECK(tract_cherry_pick(&p, t, edit_hash, NULL));
		ms[i] = now_ms() - t0;
		cpu[i] = cpu_ms() - c0;
		tract_cherry_pick_result_free(p);
	}
	{
		double med = pct(ms, N_PICKS, 50), p90 = pct(ms, N_PICKS, 90);

		snprintf(value, sizeof(value), "%.2f ms (p90 %.2f)", med, p90);
		line("cherry-pick of an edit (median of 200)", value,
		     "target <= 5 ms; Python 3,319 ms");
		snprintf(value, sizeof(value), "%.2f ms", pct(cpu, N_PICKS, 50));
		line("  ...its CPU time (median)", value, "");
	}
	for (int i = 0; i < N_PICKS; i++) {
		t0 = now_ms();
		c0 = cpu_ms();
		CHECK(tract_cherry_pick(&p, t, append_hash, NULL));
		ms[i] = now_ms() - t0;
		cpu[i] = cpu_ms() - c0;
		tract_cherry_pick_result_free(p);
	}
	{
		double med = pct(ms, N_PICKS, 50), p90 = pct(ms, N_PICKS, 90);

		snprintf(value, sizeof(value), "%.2f ms (p90 %.2f)", med, p90);
		line("cherry-pick of an append (median of 200)", value, "Python 3.2 ms");
		snprintf(value, sizeof(value), "%.2f ms", pct(cpu, N_PICKS, 50));
		line("  ...its CPU time (median)", value, "");
	}
	free(ms);
	free(cpu);
	tract_free(t);
	tract_store_free(s);
}

int main(int argc, char **argv)
{
	const char *base_dir = getenv("TMPDIR"), *list = "sqlite,lmdb,postgres";
	int runs = 5, a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--backends") == 0 && a + 1 < argc)
			list = argv[++a];
		else if (argv[a][0] >= '1' && argv[a][0] <= '9' && atoi(argv[a]) <= 1000)
			runs = atoi(argv[a]);
		else {
			fprintf(stderr, "usage: bench_rebase [--backends sqlite,lmdb,postgres] [RUNS]\n");
			return 2;
		}
	}
#ifdef BENCH_PLUGIN_PATH
	if (!getenv("TRACT_PLUGIN_PATH"))
		setenv("TRACT_PLUGIN_PATH", BENCH_PLUGIN_PATH, 1);
#endif
	bench_scratch_init(base_dir, wanted(list, "postgres"));
	printf("bench_rebase: %d commits on main, a branch of %d, main +%d; %d rebase runs\n",
	       N_BASE, N_BRANCH, N_MAIN, runs);
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
