/*
 * bench_dag.c - figures of the commit-graph queries (core/dag.c over the
 * backends' commit_ancestry): merge base, ahead/behind and the ancestry
 * test on a 100,000-commit history with 100 branches, on SQLite and LMDB,
 * and on PostgreSQL when TRACT_TEST_PG_URI names a server. Prints one
 * figure per line (median of the runs); never asserts a timing.
 *
 *   bench_dag [--commits N] [--backends sqlite,lmdb,postgres] [--no-far]
 *                                    N defaults to 100000
 *   scripts/pg.sh run -- build-release/bench/bench_dag
 *
 * The history: a main branch and 99 others started one after the other
 * (branch k forks from main's tip after k * N/200 commits), each commit on
 * a branch picked at random; now and then a branch merges main in, or is
 * merged into main (merge commits with their commit_parents rows). Then
 * two branches p and q fork from main's tip and take 1,000 commits each,
 * interleaved: the "near" pairs are (p~k, q~k) whose merge base is k
 * commits from both; the "far" pairs run from the tips to commits near
 * the root. Rows go in through the backend in one write transaction (what
 * matters here is the reading).
 *
 * The near queries run twice: cold (the commit graph core/dag.c keeps on
 * the store handle dropped before each run: every commit is read from the
 * backend, as in a fresh process) and warm (the graph kept: a handle that
 * has answered queries over these commits before).
 *
 * Targets (issue 11): SQLite merge base <= 1 ms when the base is within
 * 1,000 commits of both tips, whatever the history size; LMDB at least as
 * fast; PostgreSQL within 3x of SQLite.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "dag.h"
#include "internal.h"

#define BENCH_NAME "bench_dag"
#include "bench_util.h"

#define N_BRANCHES 100
#define SIDE 1000 /* commits of p and of q */

static long n_commits = 100000;
static int no_far; /* --no-far: leave out the far queries (minutes on PostgreSQL) */
static char tmpdir[256];

/* The median CPU time of the last time_query(), milliseconds: on a shared
 * machine the wall clock includes the waits for a core. */
static double cpu;

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ---- the history ------------------------------------------------------------- */

typedef struct {
	char (*h)[65]; /* every commit's hash, in creation order */
	long n;
	long tips[N_BRANCHES];
	long p[SIDE + 1], q[SIDE + 1]; /* p[0] = q[0] = the fork point */
	long merges;
} history;

static void hash_of(char out[65], long i)
{
	uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
	int k;

	for (k = 0; k < 4; k++) {
		x ^= x >> 31;
		x *= 0xbf58476d1ce4e5b9ull;
		x ^= x >> 29;
		snprintf(out + 16 * k, 17, "%016" PRIx64, x);
	}
}

static void put(tract_store *s, const char *tract_id, history *hy, long p0, long p1)
{
	tract_commit_row r = {0};
	long i = hy->n++;
	int rc;

	hash_of(hy->h[i], i);
	r.commit_hash = hy->h[i];
	r.tract_id = tract_id;
	r.parent_hash = p0 >= 0 ? hy->h[p0] : NULL;
	r.content_hash = "b10b000000000000000000000000000000000000000000000000000000000000";
	r.content_type = "freeform";
	r.operation = TRACT_OP_APPEND;
	r.token_count = 1;
	r.created_at = INT64_C(1704164645000000) + i * 1000; /* a millisecond apart */
	rc = s->be->commit_put(s->conn, &r);
	if (rc == 0 && p1 >= 0) {
		rc = s->be->parent_put(s->conn, hy->h[i], hy->h[p0], 0);
		if (rc == 0)
			rc = s->be->parent_put(s->conn, hy->h[i], hy->h[p1], 1);
		hy->merges++;
	}
	if (rc < 0)
		die_msg("write commit %ld: %s", i, s->be->last_error(s->conn));
}

static void build(tract_store *s, const char *tract_id, history *hy)
{
	tract_blob_row b = {0};
	long main_n = n_commits - 2 * SIDE, i, k;
	int started[N_BRANCHES] = {0};
	const char *payload = "{\"content_type\": \"freeform\", \"payload\": {}}";

	memset(hy->tips, 0xff, sizeof(hy->tips));
	b.content_hash = "b10b000000000000000000000000000000000000000000000000000000000000";
	b.payload_json = payload;
	b.byte_size = (int64_t)strlen(payload);
	b.token_count = 3;
	b.created_at = 1;
	if (s->be->begin(s->conn, TRACT_TXN_WRITE) < 0 || s->be->blob_put(s->conn, &b, NULL) < 0)
		die_msg("write: %s", s->be->last_error(s->conn));
	put(s, tract_id, hy, -1, -1);
	hy->tips[0] = 0;
	started[0] = 1;
	while (hy->n < main_n) {
		long live = 1 + hy->n / (main_n / (2 * N_BRANCHES) + 1);
		uint64_t r;

		if (live > N_BRANCHES)
			live = N_BRANCHES;
		k = (long)(next_rand() % (uint64_t)live);
		if (!started[k]) {
			put(s, tract_id, hy, hy->tips[0], -1);
			hy->tips[k] = hy->n - 1;
			started[k] = 1;
			continue;
		}
		r = next_rand() % 100;
		if (k != 0 && r < 3) /* main merged into the branch */
			put(s, tract_id, hy, hy->tips[k], hy->tips[0]);
		else if (k != 0 && r < 5) { /* the branch merged into main */
			put(s, tract_id, hy, hy->tips[0], hy->tips[k]);
			hy->tips[0] = hy->n - 1;
			continue;
		} else
			put(s, tract_id, hy, hy->tips[k], -1);
		hy->tips[k] = hy->n - 1;
	}
	hy->p[0] = hy->q[0] = hy->tips[0];
	for (i = 1; i <= SIDE; i++) {
		put(s, tract_id, hy, hy->p[i - 1], -1);
		hy->p[i] = hy->n - 1;
		put(s, tract_id, hy, hy->q[i - 1], -1);
		hy->q[i] = hy->n - 1;
	}
	if (s->be->ref_cas(s->conn, tract_id, "refs/heads/p", hy->h[hy->p[SIDE]], NULL, NULL) < 0 ||
	    s->be->ref_cas(s->conn, tract_id, "refs/heads/q", hy->h[hy->q[SIDE]], NULL, NULL) < 0 ||
	    s->be->commit(s->conn) < 0)
		die_msg("write: %s", s->be->last_error(s->conn));
}

typedef enum { Q_BASE, Q_AB, Q_ANC, Q_API_BASE, Q_GET } query;

/* Cold runs: the store's commit graph (core/dag.c keeps it between
 * queries) is dropped before each run, so every commit comes from the
 * backend; warm runs keep it (the query repeated on the same handle). */
static int cold;

/* Median milliseconds of runs queries (each in its own read transaction). */
static double time_query(tract *t, history *hy, query qk, long a, long b, int runs,
                         const char *want, size_t *x_out, size_t *y_out)
{
	double *ms = calloc((size_t)runs, sizeof(*ms)), med;
	double *cms = calloc((size_t)runs, sizeof(*cms));
	tract_store *s = t->store;
	int i;

	if (!ms || !cms)
		die_msg("out of memory");
	for (i = 0; i < runs; i++) {
		char out[65];
		size_t x = 0, y = 0;
		int yes = 0;
		double t0, c0;

		if (cold)
			tract_dag_cache_drop(s);
		c0 = cpu_s();
		t0 = now_s();

		if (qk == Q_API_BASE) {
			CHECK(tract_merge_base(out, t, "p", "q"));
		} else if (qk == Q_GET) {
			char rev[65];

			CHECK(tract_revision_resolve(rev, t, hy->h[a]));
		} else {
			CHECK(tract_txn_begin(s, TRACT_TXN_READ));
			if (qk == Q_BASE)
				CHECK(tract_dag_merge_base(out, s, t->id, hy->h[a], hy->h[b]));
			else if (qk == Q_AB)
				CHECK(tract_dag_ahead_behind(&x, &y, s, t->id, hy->h[a], hy->h[b]));
			else
				CHECK(tract_dag_is_ancestor(&yes, s, t->id, hy->h[a], hy->h[b]));
			CHECK(tract_txn_end(s, 0));
		}
		ms[i] = (now_s() - t0) * 1e3;
		cms[i] = (cpu_s() - c0) * 1e3;
		if (want && (qk == Q_BASE || qk == Q_API_BASE) && strcmp(out, want) != 0)
			die_msg("wrong merge base");
		if (qk == Q_ANC && yes != (want != NULL))
			die_msg("wrong ancestry answer");
		if (x_out) {
			*x_out = x;
			*y_out = y;
		}
	}
	qsort(ms, (size_t)runs, sizeof(*ms), cmp_double);
	med = ms[runs / 2];
	qsort(cms, (size_t)runs, sizeof(*cms), cmp_double);
	cpu = cms[runs / 2];
	free(ms);
	free(cms);
	return med;
}

static void run_backend(const char *name, const char *uri)
{
	tract_store *s = NULL;
	tract *t = NULL;
	history hy;
	double t0, ms;
	size_t x = 0, y = 0;
	static const long near[] = {10, 100, 1000};
	size_t i;

	memset(&hy, 0, sizeof(hy));
	rng = 0x2545f4914f6cdd1dull; /* the same history on every backend */
	hy.h = malloc((size_t)n_commits * sizeof(*hy.h));
	if (!hy.h)
		die_msg("out of memory");
	CHECK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK(tract_create(&t, s, NULL, NULL, NULL));
	t0 = now_s();
	build(s, t->id, &hy);
	printf("%-8s history: %ld commits (%ld merges), %d branches, written in %.1f s\n", name,
	       hy.n, hy.merges, N_BRANCHES + 2, now_s() - t0);
	{
		/* Reopen: the queries read a store at rest (SQLite's WAL
		 * checkpointed into the database file by the last close). */
		char id[65];

		tract_copy_id(id, t->id);
		tract_free(t);
		tract_store_free(s);
		CHECK(tract_store_open(&s, uri, 0));
		CHECK(tract_open(&t, s, id, NULL));
	}
	fflush(stdout);
	ms = time_query(t, &hy, Q_GET, hy.p[SIDE], 0, 51, NULL, NULL, NULL);
	printf("%-8s (for scale: resolving a full hash, one lookup: %.3f ms)\n", name, ms);
	for (i = 0; i < 2 * sizeof(near) / sizeof(near[0]); i++) {
		long k = near[i % 3];
		const char *how;

		cold = i < 3;
		how = cold ? "cold" : "warm";
		if (i == 0)
			printf(
			    "%-8s cold: the graph dropped before each run (every commit read from "
			    "the backend)\n",
			    name);
		if (i == 3)
			printf("%-8s warm: the same queries, the graph kept by the store handle\n",
			       name);

		ms = time_query(t, &hy, Q_BASE, hy.p[k], hy.q[k], k >= 1000 ? 21 : 51,
		                hy.h[hy.p[0]], NULL, NULL);
		printf(
		    "%-8s %s merge base, base %4ld commits from both tips: %8.3f ms (CPU %.3f)%s\n",
		    name, how, k, ms, cpu, k == 1000 ? "  (target <= 1 ms on SQLite)" : "");
		ms = time_query(t, &hy, Q_AB, hy.p[k], hy.q[k], k >= 1000 ? 21 : 51, NULL, &x, &y);
		printf("%-8s %s ahead/behind (%zu, %zu):                %8.3f ms (CPU %.3f)\n",
		       name, how, x, y, ms, cpu);
		ms = time_query(t, &hy, Q_ANC, hy.p[0], hy.p[k], 51, "yes", NULL, NULL);
		printf("%-8s %s is_ancestor, %4ld commits down (yes):     %8.3f ms (CPU %.3f)\n",
		       name, how, k, ms, cpu);
		ms = time_query(t, &hy, Q_ANC, hy.q[1], hy.p[k], 51, NULL, NULL, NULL);
		printf("%-8s %s is_ancestor, %4ld commits down (no):      %8.3f ms (CPU %.3f)\n",
		       name, how, k, ms, cpu);
	}
	ms = time_query(t, &hy, Q_API_BASE, 0, 0, 21, hy.h[hy.p[0]], NULL, NULL);
	printf("%-8s warm tract_merge_base(\"p\", \"q\") (public call):  %8.3f ms (CPU %.3f)\n",
	       name, ms, cpu);
	cold = 1; /* the far queries: cold */
	if (no_far)
		goto done;
	/* far apart: main's second commit against the tips */
	ms = time_query(t, &hy, Q_ANC, 1, hy.p[SIDE], 3, "yes", NULL, NULL);
	printf("%-8s is_ancestor, root area to tip (far, yes): %8.3f ms (CPU %.3f)\n", name, ms,
	       cpu);
	ms = time_query(t, &hy, Q_BASE, hy.tips[1], hy.p[SIDE], 3, NULL, NULL, NULL);
	printf("%-8s merge base, oldest branch vs p (far):     %8.3f ms (CPU %.3f)\n", name, ms,
	       cpu);
	ms = time_query(t, &hy, Q_AB, hy.tips[1], hy.p[SIDE], 3, NULL, &x, &y);
	printf("%-8s ahead/behind (%zu, %zu), far:          %8.3f ms (CPU %.3f)\n", name, x, y, ms,
	       cpu);
	ms = time_query(t, &hy, Q_BASE, hy.tips[N_BRANCHES - 1], hy.tips[N_BRANCHES / 2], 3, NULL,
	                NULL, NULL);
	printf("%-8s merge base, two side branches:            %8.3f ms (CPU %.3f)\n", name, ms,
	       cpu);
done:
	fflush(stdout);
	tract_free(t);
	tract_store_free(s);
	free(hy.h);
}

/* ---- PostgreSQL schema --------------------------------------------------------- */

static void cleanup(void)
{
	char cmd[400];

	if (tmpdir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_dag: could not remove %s\n", tmpdir);
	}
}

static const char *only; /* --backends LIST: those alone */

static int want(const char *name)
{
	const char *p = only;
	size_t n = strlen(name);

	if (!only)
		return 1;
	while ((p = strstr(p, name)) != NULL) {
		if ((p == only || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return 1;
		p += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *pg = getenv("TRACT_TEST_PG_URI");
	char uri[2048];
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0); /* figures as they come, into a file too */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--commits") == 0 && i + 1 < argc) {
			n_commits = atol(argv[++i]);
			if (n_commits < 4 * SIDE)
				die_msg("--commits: at least %d", 4 * SIDE);
		} else if (strcmp(argv[i], "--backends") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else if (strcmp(argv[i], "--no-far") == 0) {
			no_far = 1;
		} else {
			fprintf(stderr, "usage: bench_dag [--commits N] [--backends "
			                "sqlite,lmdb,postgres] [--no-far]\n");
			return 2;
		}
	}
#ifdef BENCH_PLUGIN_PATH
	if (!getenv("TRACT_PLUGIN_PATH"))
		setenv("TRACT_PLUGIN_PATH", BENCH_PLUGIN_PATH, 1);
#endif
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tract-bench-dag-XXXXXX");
	if (!mkdtemp(tmpdir))
		die_msg("mkdtemp: %s", strerror(errno));
	atexit(cleanup);
	snprintf(uri, sizeof(uri), "%s/dag.db", tmpdir);
	if (want("sqlite"))
		run_backend("sqlite", uri);
	snprintf(uri, sizeof(uri), "lmdb:%s/lmdb", tmpdir);
	if (want("lmdb"))
		run_backend("lmdb", uri);
	if (!want("postgres")) {
	} else if (pg && *pg) {
		char schema[64], sql[128];

		snprintf(schema, sizeof(schema), "tract_bench_dag_%ld", (long)getpid());
		snprintf(uri, sizeof(uri), "%s%sschema=%s", pg, strchr(pg, '?') ? "&" : "?",
		         schema);
		run_backend("postgres", uri);
		snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", schema);
		if (getenv("BENCH_KEEP"))
			printf("schema %s kept\n", schema);
		else
			bench_pg_exec(pg, sql);
	} else {
		printf("postgres skipped: TRACT_TEST_PG_URI is not set "
		       "(scripts/pg.sh run -- bench_dag)\n");
	}
	return 0;
}
