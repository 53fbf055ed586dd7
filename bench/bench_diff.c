/*
 * bench_diff.c - figures of `tract diff` and `tract log --graph` on large
 * histories, on SQLite and LMDB (and PostgreSQL when TRACT_TEST_PG_URI
 * names a server: scripts/pg.sh run -- bench_diff):
 *
 *   diff      two revisions 1,000 commits apart on a 10,000-commit history
 *             (tract_diff on a fresh handle: both contexts compiled, aligned,
 *             token deltas; target <= 40 ms on SQLite; the Python reference
 *             took 6,572 ms)
 *   graph     log --graph -n 50 --all on a 100,000-commit history with 100
 *             branches (tract_graph_foreach, lines drawn, nothing printed)
 *
 * Histories are built with the batch API, one transaction per 1,000 commits
 * (branches and merge parents written through the backend in the same
 * transactions). Prints one figure per line; never asserts a timing.
 * BENCH_DIFF_SMALL=1 builds a tenth of each history (a quick check).
 * Arguments: [diff|graph|all [sqlite|lmdb|postgres]] pick a group and a backend.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "internal.h" /* refs and merge parents written through the backend */
#include "tract.h"

#define BENCH_NAME "bench_diff"
#include "bench_util.h"

#define RUNS 7

static size_t n_diff_hist = 10000, diff_gap = 1000;
static size_t n_graph_main = 90860, n_branches = 100, branch_len = 90;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the process: on a loaded machine it moves less than the wall
 * clock. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median_ms(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return (double)v[n / 2] / 1e6;
}

static const char *const words[] = {
	"the",   "context", "model",  "should", "we",    "could",  "function", "returns",
	"error", "when",    "input",  "is",     "empty", "please", "explain",  "why",
	"this",  "test",    "fails",  "on",     "linux", "index",  "latency",  "token",
};

/* A 100-300 byte turn, distinct per serial. */
static void make_text(char *buf, size_t len, unsigned *rng, size_t serial)
{
	size_t target = 100 + (size_t)(rand_r(rng) % 201), o = 0;

	while (o < target && o + 16 < len) {
		const char *w = words[(size_t)rand_r(rng) % (sizeof(words) / sizeof(words[0]))];
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? " " : "", w);
	}
	snprintf(buf + o, len - o, " (%zu).", serial);
}

/* ---- stores ------------------------------------------------------------------ */

static char tmpdir[256];
static const char *pg_base;
static char pg_schema[64];

static void pg_exec(const char *sql)
{
	bench_pg_exec(pg_base, sql);
}

/* A fresh store of backend for name; its URI in buf. */
static void fresh_uri(char *buf, size_t len, const char *backend, const char *name)
{
	if (strcmp(backend, "lmdb") == 0) {
		snprintf(buf, len, "lmdb:%s/%s.lmdb", tmpdir, name);
	} else if (strcmp(backend, "postgres") == 0) {
		char sql[160];
		snprintf(pg_schema, sizeof(pg_schema), "tract_bench_diff_%ld_%s", (long)getpid(), name);
		snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", pg_schema);
		pg_exec(sql);
		snprintf(buf, len, "%s%sschema=%s", pg_base, strchr(pg_base, '?') ? "&" : "?",
			 pg_schema);
	} else {
		snprintf(buf, len, "%s/%s.db", tmpdir, name);
	}
}

static void drop_store(const char *backend)
{
	if (strcmp(backend, "postgres") == 0 && pg_schema[0]) {
		char sql[160];
		snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", pg_schema);
		pg_exec(sql);
		pg_schema[0] = '\0';
	}
}

/* ---- history building --------------------------------------------------------- */

static void say(tract *t, unsigned *rng, size_t serial, char out[65])
{
	char text[400];
	tract_commit *c = NULL;

	make_text(text, sizeof(text), rng, serial);
	CHECK(tract_commit_create_dialogue(out ? &c : NULL, t, serial % 2 ? "assistant" : "user",
					   text, NULL, NULL));
	if (out) {
		memcpy(out, tract_commit_hash(c), 65);
		tract_commit_free(c);
	}
}

/* Set a ref inside the open batch (no compare: these refs are ours). */
static void put_ref(tract *t, const char *name, const char *commit, const char *sym)
{
	tract_store *s = t->store;
	tract_ref_value cur;
	tract_ref_row exp = {0};

	CHECK(tract_ref_read(&cur, s, t->id, name));
	exp.commit_hash = cur.commit[0] ? cur.commit : NULL;
	exp.symbolic_target = cur.symbolic[0] ? cur.symbolic : NULL;
	if (s->be->ref_cas(s->conn, t->id, name, commit, sym, cur.exists ? &exp : NULL) < 0)
		die("ref_cas");
	tract_cache_clear(t->cache);
}

/* Every BATCH commits, commit the batch and open the next. */
static void tick(tract *t, size_t *n)
{
	if (++*n % 1000 == 0) {
		CHECK(tract_batch_commit(t));
		CHECK(tract_batch_begin(t));
	}
}

/* ---- diff ------------------------------------------------------------------------ */

static void bench_diff(const char *backend)
{
	char uri[2048], *hashes = malloc(n_diff_hist * 65);
	tract_store *s;
	tract *t;
	unsigned rng = 7;
	uint64_t runs[RUNS], cpu[RUNS], t0, c0;
	size_t n = 0;
	tract_diff_result *r = NULL;
	const char *a, *b;

	fresh_uri(uri, sizeof(uri), backend, "diff");
	CHECK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK(tract_create(&t, s, NULL, NULL, NULL));
	t0 = now_ns();
	CHECK(tract_batch_begin(t));
	for (size_t i = 0; i < n_diff_hist; i++) {
		say(t, &rng, i, hashes + i * 65);
		tick(t, &n);
	}
	CHECK(tract_batch_commit(t));
	printf("%-8s build: %zu commits in %.0f ms\n", backend, n_diff_hist,
	       (double)(now_ns() - t0) / 1e6);
	tract_free(t);
	a = hashes + (n_diff_hist - 1 - diff_gap) * 65;
	b = hashes + (n_diff_hist - 1) * 65;
	for (int k = 0; k < RUNS; k++) {
		char id[65];
		tract_store *s2;
		tract *t2;
		tract_info_list *l = NULL;
		/* a fresh handle per run: nothing cached */
		CHECK(tract_store_open(&s2, uri, 0));
		CHECK(tract_store_list_tracts(&l, s2));
		snprintf(id, sizeof(id), "%s", l->items[0].tract_id);
		tract_info_list_free(l);
		CHECK(tract_open(&t2, s2, id, NULL));
		t0 = now_ns();
		c0 = cpu_ns();
		CHECK(tract_diff(&r, t2, a, b, NULL));
		cpu[k] = cpu_ns() - c0;
		runs[k] = now_ns() - t0;
		if (r->stat.added != diff_gap || r->stat.unchanged != n_diff_hist - diff_gap)
			die("diff result");
		if (k == 0)
			printf("%-8s diff: %zu unchanged, %zu added, token delta %+" PRId64 "\n",
			       backend, r->stat.unchanged, r->stat.added, r->stat.total_token_delta);
		tract_diff_result_free(r);
		tract_free(t2);
		tract_store_free(s2);
	}
	printf("%-8s diff of two revisions %zu commits apart, %zu-commit history (fresh "
	       "handle): %.2f ms median of %d (CPU %.2f ms)   [target <= 40 ms on sqlite; "
	       "reference 6,572 ms]\n",
	       backend, diff_gap, n_diff_hist, median_ms(runs, RUNS), RUNS, median_ms(cpu, RUNS));
	/* the same pair the other way round, and HEAD against its parent */
	{
		tract_store *s2;
		tract *t2;
		tract_info_list *l = NULL;
		char id[65];
		CHECK(tract_store_open(&s2, uri, 0));
		CHECK(tract_store_list_tracts(&l, s2));
		snprintf(id, sizeof(id), "%s", l->items[0].tract_id);
		tract_info_list_free(l);
		CHECK(tract_open(&t2, s2, id, NULL));
		for (int k = 0; k < RUNS; k++) {
			t0 = now_ns();
			CHECK(tract_diff(&r, t2, b, a, NULL));
			runs[k] = now_ns() - t0;
			tract_diff_result_free(r);
		}
		printf("%-8s diff B A (the same, reversed): %.2f ms median of %d\n", backend,
		       median_ms(runs, RUNS), RUNS);
		for (int k = 0; k < RUNS; k++) {
			t0 = now_ns();
			CHECK(tract_diff(&r, t2, NULL, NULL, NULL));
			runs[k] = now_ns() - t0;
			tract_diff_result_free(r);
		}
		printf("%-8s diff (HEAD against its parent, %zu messages): %.2f ms median of %d\n",
		       backend, n_diff_hist, median_ms(runs, RUNS), RUNS);
		tract_free(t2);
		tract_store_free(s2);
	}
	tract_store_free(s);
	drop_store(backend);
	free(hashes);
}

/* ---- log --graph --------------------------------------------------------------------- */

static int show_lines; /* BENCH_DIFF_SHOW=1: print the drawing */

static int count_cb(const tract_graph_line *line, void *payload)
{
	size_t *n = payload;

	if (show_lines)
		printf("%s%.8s %s\n", line->graph, line->commit ? tract_commit_hash(line->commit) : "",
		       line->decoration);
	(*n)++;
	return 0;
}

static void bench_graph(const char *backend)
{
	char uri[2048], main_tip[65], name[64];
	char (*tips)[65] = calloc(n_branches, 65);
	tract_store *s;
	tract *t;
	unsigned rng = 11;
	uint64_t runs[RUNS], cpu[RUNS], t0, c0;
	size_t n = 0, serial = 0, lines = 0;
	tract_graph_options go = TRACT_GRAPH_OPTIONS_INIT;

	fresh_uri(uri, sizeof(uri), backend, "graph");
	CHECK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK(tract_create(&t, s, NULL, NULL, NULL));
	t0 = now_ns();
	CHECK(tract_batch_begin(t));
	/* main: a long line; branch b forks from its last 1,000 commits */
	for (size_t i = 0; i < n_graph_main; i++) {
		char h[65];
		say(t, &rng, serial++, h);
		tick(t, &n);
		if (i + 1 + n_branches * 10 > n_graph_main &&
		    (n_graph_main - 1 - i) % 10 == 0 && (n_graph_main - 1 - i) / 10 < n_branches)
			memcpy(tips[(n_graph_main - 1 - i) / 10], h, 65);
	}
	for (size_t b = 0; b < n_branches; b++) {
		snprintf(name, sizeof(name), "refs/heads/b%03zu", b);
		put_ref(t, name, tips[b], NULL);
	}
	/* the branches move on side by side (and main too, every round) */
	for (size_t round = 0; round < branch_len; round++) {
		for (size_t b = 0; b < n_branches; b++) {
			snprintf(name, sizeof(name), "refs/heads/b%03zu", b);
			put_ref(t, "HEAD", NULL, name);
			say(t, &rng, serial++, NULL);
			tick(t, &n);
		}
		put_ref(t, "HEAD", NULL, "refs/heads/main");
		say(t, &rng, serial++, NULL);
		tick(t, &n);
	}
	/* every other branch merged into main */
	for (size_t b = 0; b < n_branches; b += 2) {
		char tip[65], merge[65];
		tract_store *st = t->store;
		CHECK(tract_head_get(main_tip, NULL, NULL, t));
		snprintf(name, sizeof(name), "b%03zu", b);
		CHECK(tract_revision_resolve(tip, t, name));
		say(t, &rng, serial++, merge);
		if (st->be->parent_put(st->conn, merge, main_tip, 0) < 0 ||
		    st->be->parent_put(st->conn, merge, tip, 1) < 0)
			die("parent_put");
		tract_cache_clear(t->cache);
		tick(t, &n);
	}
	CHECK(tract_batch_commit(t));
	printf("%-8s build: %zu commits, %zu branches in %.0f ms\n", backend, serial, n_branches,
	       (double)(now_ns() - t0) / 1e6);
	go.all = 1;
	go.limit = 50;
	for (int k = 0; k < RUNS; k++) {
		lines = 0;
		t0 = now_ns();
		c0 = cpu_ns();
		CHECK(tract_graph_foreach(t, &go, TRACT_LOG_CONTENT, count_cb, &lines));
		cpu[k] = cpu_ns() - c0;
		runs[k] = now_ns() - t0;
	}
	printf("%-8s log --graph --all -n 50, %zu commits, %zu branches: %.2f ms median of %d "
	       "(CPU %.2f ms; %zu lines)\n",
	       backend, serial, n_branches, median_ms(runs, RUNS), RUNS, median_ms(cpu, RUNS), lines);
	go.all = 0;
	for (int k = 0; k < RUNS; k++) {
		lines = 0;
		t0 = now_ns();
		CHECK(tract_graph_foreach(t, &go, TRACT_LOG_CONTENT, count_cb, &lines));
		runs[k] = now_ns() - t0;
	}
	printf("%-8s log --graph -n 50 (HEAD), same history: %.2f ms median of %d (%zu lines)\n",
	       backend, median_ms(runs, RUNS), RUNS, lines);
	/* for scale: the whole drawing, every commit read */
	go.all = 1;
	go.limit = 0;
	lines = 0;
	t0 = now_ns();
	c0 = cpu_ns();
	CHECK(tract_graph_foreach(t, &go, 0, count_cb, &lines));
	printf("%-8s log --graph --all (no limit, for scale): %.0f ms (CPU %.0f ms; %zu lines)\n",
	       backend, (double)(now_ns() - t0) / 1e6, (double)(cpu_ns() - c0) / 1e6, lines);
	tract_free(t);
	tract_store_free(s);
	drop_store(backend);
	free(tips);
}

int main(int argc, char **argv)
{
	const char *backends[3] = {"sqlite", "lmdb", NULL};
	const char *small = getenv("BENCH_DIFF_SMALL");
	const char *only = argc > 1 && strcmp(argv[1], "all") != 0 ? argv[1] : NULL;
	const char *backend_only = argc > 2 ? argv[2] : NULL;

	setvbuf(stdout, NULL, _IOLBF, 0); /* figures as they come, also into a file */
#ifdef BENCH_PLUGIN_PATH
	if (!getenv("TRACT_PLUGIN_PATH"))
		setenv("TRACT_PLUGIN_PATH", BENCH_PLUGIN_PATH, 1);
#endif
	if (small && *small && strcmp(small, "0") != 0) {
		n_diff_hist = 1000;
		diff_gap = 100;
		n_graph_main = 9000;
		n_branches = 10;
		branch_len = 90;
	}
	show_lines = getenv("BENCH_DIFF_SHOW") && strcmp(getenv("BENCH_DIFF_SHOW"), "0") != 0;
	pg_base = getenv("TRACT_TEST_PG_URI");
	if (pg_base && *pg_base)
		backends[2] = "postgres";
	snprintf(tmpdir, sizeof(tmpdir), "%s/tract-bench-diff.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("bench_diff: mkdtemp");
		return 1;
	}
	for (int i = 0; i < 3 && backends[i]; i++) {
		if (backend_only && strcmp(backend_only, backends[i]) != 0)
			continue;
		if (!only || strcmp(only, "diff") == 0)
			bench_diff(backends[i]);
		if (!only || strcmp(only, "graph") == 0)
			bench_graph(backends[i]);
	}
	rm_tree(tmpdir);
	return 0;
}
