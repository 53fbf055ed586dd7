/*
 * bench_pg.c - figures of the PostgreSQL backend: append rates for 1, 2, 4
 * and 8 writer processes (one transaction per commit, through the public
 * API; each writer on a tract of its own, then all of them on one branch),
 * the server's bare rate for one-row INSERT transactions measured in the
 * same run with libpq (the physical limit), and a cold compile of 10,000
 * messages. Prints one figure per line with its target; never asserts a
 * timing.
 *
 *   bench_pg [URI]      URI defaults to $TRACT_TEST_PG_URI
 *   scripts/pg.sh run -- build-release/bench/bench_pg
 *
 * The machine this runs on is usually shared, so the one-writer figure and
 * the bare INSERTs it is compared with run interleaved, in chunks of
 * CHUNK, in one process; the multi-writer runs go 1, 2, 4, 8, 8, 4, 2, 1
 * writers and each figure is the better of its two runs.
 *
 * Everything happens in a schema of its own (tract_bench_PID), dropped at
 * the end (BENCH_KEEP=1 keeps it). BENCH_APPENDS sets the commits per
 * measurement (default 2000).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tract.h"

#define BENCH_NAME "bench_pg"
#include "bench_util.h"

#define N_HIST 10000
#define COLD_RUNS 9
#define BATCH 1000
#define CHUNK 100

static const char *base_uri;
static char schema[64];
static char store_uri[2048];
static long n_appends = 2000;

static void line(const char *name, const char *value, const char *target)
{
	printf("  %-44s %18s   %s\n", name, value, target ? target : "");
	fflush(stdout);
}

static const char *rate(char *buf, size_t len, double per_s)
{
	snprintf(buf, len, "%.0f commits/s", per_s);
	return buf;
}

/* ---- workload ------------------------------------------------------------ */

static const char *const words[] = {
	"the",     "context", "model",    "should",  "we",      "could",    "function", "returns",
	"error",   "when",    "input",    "is",      "empty",   "please",   "explain",  "why",
	"this",    "test",    "fails",    "on",      "linux",   "database", "query",    "index",
	"latency", "improve", "a",        "of",      "token",   "budget",   "summary",  "branch",
	"merge",   "history", "commit",   "answer",  "question", "memory",  "cache",    "file",
};

/* A 100-300 byte turn; serial makes every text (and blob) distinct. */
static void make_text(char *buf, size_t len, unsigned *rng, long serial)
{
	size_t target = 100 + (size_t)(rand_r(rng) % 201), o = 0;

	while (o < target && o + 16 < len) {
		const char *w = words[(size_t)rand_r(rng) % (sizeof(words) / sizeof(words[0]))];
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? " " : "", w);
	}
	snprintf(buf + o, len - o, " (%ld).", serial);
}

/* ---- the schema ---------------------------------------------------------- */

static PGconn *admin_connect(void)
{
	PGconn *pg = PQconnectdb(base_uri);

	if (PQstatus(pg) != CONNECTION_OK)
		die_msg("cannot connect: %s", PQerrorMessage(pg));
	PQclear(PQexec(pg, "SET client_min_messages = warning"));
	return pg;
}

static void admin_exec(PGconn *pg, const char *sql)
{
	PGresult *res = PQexec(pg, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		die_msg("%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
}

static void drop_schema(void)
{
	const char *keep = getenv("BENCH_KEEP");
	char sql[128];
	PGconn *pg;

	if (keep && *keep && strcmp(keep, "0") != 0) {
		printf("schema %s kept\n", schema);
		return;
	}
	pg = admin_connect();
	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", schema);
	admin_exec(pg, sql);
	PQfinish(pg);
}

/* ---- bare INSERT transactions -------------------------------------------- */

/*
 * The physical limit: one-row INSERT transactions (autocommit, one round
 * trip and one WAL flush each) of a row like a commit's (a 64-hex primary
 * key and a 200-byte text), from `procs` processes at once, prepared
 * statement, libpq only.
 */
static double bare_inserts(int procs, long total)
{
	long per = total / procs;
	int go[2], w;
	pid_t *pids = calloc((size_t)procs, sizeof(*pids));
	double t0, t1;
	char c;

	if (!pids || pipe(go) < 0)
		die_msg("out of resources");
	for (w = 0; w < procs; w++) {
		pids[w] = fork();
		if (pids[w] < 0)
			die_msg("fork: %s", strerror(errno));
		if (pids[w] == 0) {
			PGconn *pg = PQconnectdb(base_uri);
			char sql[256], key[80], val[256];
			const char *v[2] = {key, val};
			PGresult *res;
			unsigned rng = (unsigned)w + 1;
			long i;

			close(go[1]);
			if (PQstatus(pg) != CONNECTION_OK)
				_exit(2);
			snprintf(sql, sizeof(sql), "INSERT INTO %s.bare (k, v) VALUES ($1, $2)",
				 schema);
			res = PQprepare(pg, "ins", sql, 2, NULL);
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				_exit(3);
			PQclear(res);
			if (read(go[0], &c, 1) != 1)
				_exit(4);
			for (i = 0; i < per; i++) {
				snprintf(key, sizeof(key), "%016x%016lx%016x%016lx", w, i,
					 (unsigned)rand_r(&rng), (long)getpid());
				make_text(val, sizeof(val), &rng, i);
				res = PQexecPrepared(pg, "ins", 2, v, NULL, NULL, 0);
				if (PQresultStatus(res) != PGRES_COMMAND_OK)
					_exit(5);
				PQclear(res);
			}
			PQfinish(pg);
			_exit(0);
		}
	}
	close(go[0]);
	usleep(200000); /* let the children connect and prepare */
	t0 = now_s();
	for (w = 0; w < procs; w++)
		if (write(go[1], "g", 1) != 1)
			die_msg("pipe");
	for (w = 0; w < procs; w++) {
		int st;
		if (waitpid(pids[w], &st, 0) != pids[w] || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die_msg("bare insert process failed");
	}
	t1 = now_s();
	close(go[1]);
	free(pids);
	return (double)(per * procs) / (t1 - t0);
}

/* ---- appends through tract ----------------------------------------------- */

/*
 * `procs` writer processes append `total` commits in all, one transaction
 * per commit: each on a tract of its own (ids[w]), or all on ids[0]. The
 * clock runs from the moment every writer has opened its store.
 */
static double tract_appends(int procs, long total, char ids[][65], int shared)
{
	long per = total / procs;
	int go[2], ready[2], w;
	pid_t *pids = calloc((size_t)procs, sizeof(*pids));
	double t0, t1;
	char c;

	if (!pids || pipe(go) < 0 || pipe(ready) < 0)
		die_msg("out of resources");
	for (w = 0; w < procs; w++) {
		pids[w] = fork();
		if (pids[w] < 0)
			die_msg("fork: %s", strerror(errno));
		if (pids[w] == 0) {
			tract_store *s = NULL;
			tract *t = NULL;
			char text[400];
			unsigned rng = (unsigned)w * 7919u + 17u;
			long i;

			close(go[1]);
			close(ready[0]);
			if (tract_store_open(&s, store_uri, 0) < 0 ||
			    tract_open(&t, s, ids[shared ? 0 : w], NULL) < 0) {
				fprintf(stderr, "writer: %s\n", tract_error_last()->message);
				_exit(2);
			}
			if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
				_exit(3);
			for (i = 0; i < per; i++) {
				make_text(text, sizeof(text), &rng, (long)w * 1000000 + i);
				if (tract_commit_create_dialogue(NULL, t, i % 2 ? "assistant" : "user", text,
							  NULL, NULL) < 0) {
					fprintf(stderr, "writer: %s\n", tract_error_last()->message);
					_exit(4);
				}
			}
			tract_free(t);
			tract_store_free(s);
			_exit(0);
		}
	}
	close(go[0]);
	close(ready[1]);
	for (w = 0; w < procs; w++)
		if (read(ready[0], &c, 1) != 1)
			die_msg("a writer did not start");
	t0 = now_s();
	for (w = 0; w < procs; w++)
		if (write(go[1], "g", 1) != 1)
			die_msg("pipe");
	for (w = 0; w < procs; w++) {
		int st;
		if (waitpid(pids[w], &st, 0) != pids[w] || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die_msg("writer process failed");
	}
	t1 = now_s();
	close(go[1]);
	close(ready[0]);
	free(pids);
	return (double)(per * procs) / (t1 - t0);
}

static void new_tracts(char ids[][65], int n)
{
	tract_store *s = NULL;
	tract *t = NULL;
	int i;

	CHECK(tract_store_open(&s, store_uri, TRACT_STORE_CREATE));
	for (i = 0; i < n; i++) {
		CHECK(tract_create(&t, s, NULL, NULL, NULL));
		snprintf(ids[i], 65, "%s", tract_id(t));
		CHECK(tract_commit_create_instruction(NULL, t, "You are a benchmark.", NULL));
		tract_free(t);
	}
	tract_store_free(s);
}

/*
 * One writer against bare INSERTs, interleaved in chunks in this process:
 * each figure sees the same load. *tract_rate and *bare_rate get the rates.
 */
static void one_writer_vs_bare(double *tract_rate, double *bare_rate)
{
	PGconn *pg = PQconnectdb(base_uri);
	tract_store *s = NULL;
	tract *t = NULL;
	char sql[256], key[80], val[400], ids[1][65];
	const char *v[2] = {key, val};
	unsigned rng = 99;
	double t_tract = 0, t_bare = 0, t0;
	long done = 0, i;
	PGresult *res;

	if (PQstatus(pg) != CONNECTION_OK)
		die_msg("cannot connect: %s", PQerrorMessage(pg));
	snprintf(sql, sizeof(sql), "INSERT INTO %s.bare (k, v) VALUES ($1, $2)", schema);
	res = PQprepare(pg, "ins", sql, 2, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die_msg("prepare: %s", PQresultErrorMessage(res));
	PQclear(res);
	new_tracts(ids, 1);
	CHECK(tract_store_open(&s, store_uri, 0));
	CHECK(tract_open(&t, s, ids[0], NULL));
	while (done < n_appends) {
		t0 = now_s();
		for (i = 0; i < CHUNK; i++) {
			snprintf(key, sizeof(key), "%016lx%016x%032lx", done + i, (unsigned)rand_r(&rng),
				 (long)getpid());
			make_text(val, sizeof(val), &rng, 9000000 + done + i);
			res = PQexecPrepared(pg, "ins", 2, v, NULL, NULL, 0);
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				die_msg("bare insert: %s", PQresultErrorMessage(res));
			PQclear(res);
		}
		t_bare += now_s() - t0;
		t0 = now_s();
		for (i = 0; i < CHUNK; i++) {
			make_text(val, sizeof(val), &rng, 8000000 + done + i);
			CHECK(tract_commit_create_dialogue(NULL, t, i % 2 ? "assistant" : "user", val, NULL, NULL));
		}
		t_tract += now_s() - t0;
		done += CHUNK;
	}
	*tract_rate = (double)done / t_tract;
	*bare_rate = (double)done / t_bare;
	tract_free(t);
	tract_store_free(s);
	PQfinish(pg);
}

static void bench_appends(void)
{
	static const int procs[] = {1, 2, 4, 8};
	double tract1, bare1, bare8, own[4] = {0}, shared[4] = {0}, r;
	char buf[64], ids[8][65];
	int k, pass;

	printf("appends, one transaction per commit, %ld commits per figure\n", n_appends);
	one_writer_vs_bare(&tract1, &bare1);
	for (pass = 0; pass < 2; pass++) {
		for (k = 0; k < 4; k++) {
			int j = pass ? 3 - k : k;
			new_tracts(ids, procs[j]);
			r = tract_appends(procs[j], n_appends, ids, 0);
			own[j] = r > own[j] ? r : own[j];
		}
	}
	for (pass = 0; pass < 2; pass++) {
		for (k = 1; k < 4; k++) {
			int j = pass ? 4 - k : k;
			new_tracts(ids, 1);
			r = tract_appends(procs[j], n_appends, ids, 1);
			shared[j] = r > shared[j] ? r : shared[j];
		}
	}
	bare8 = bare_inserts(8, n_appends);

	snprintf(buf, sizeof(buf), "%.0f tx/s", bare1);
	line("bare one-row INSERT txns, 1 connection", buf, "(the physical limit)");
	line("tract append, 1 writer (interleaved)", rate(buf, sizeof(buf), tract1), NULL);
	snprintf(buf, sizeof(buf), "%.2f", tract1 / bare1);
	line("ratio 1 writer / bare INSERT txns", buf, "target >= 0.50");
	snprintf(buf, sizeof(buf), "%.0f tx/s", bare8);
	line("bare one-row INSERT txns, 8 connections", buf, "");
	for (k = 0; k < 4; k++) {
		char name[64];
		snprintf(name, sizeof(name), "tract append, %d writer%s, own tracts", procs[k],
			 procs[k] > 1 ? "s" : "");
		line(name, rate(buf, sizeof(buf), own[k]), NULL);
	}
	snprintf(buf, sizeof(buf), "%.2f", own[3] / own[0]);
	line("ratio 8 writers / 1 writer, own tracts", buf, "target >= 2.0");
	for (k = 1; k < 4; k++) {
		char name[64];
		snprintf(name, sizeof(name), "tract append, %d writers, one branch", procs[k]);
		line(name, rate(buf, sizeof(buf), shared[k]), NULL);
	}
	snprintf(buf, sizeof(buf), "%.2f", shared[3] / own[0]);
	line("ratio 8 writers one branch / 1 writer", buf, "(one branch is serial)");
}

/* ---- cold compile -------------------------------------------------------- */

static void bench_cold_compile(void)
{
	tract_store *s = NULL;
	tract *t = NULL;
	double ns[COLD_RUNS], t0;
	char id[65], text[400], buf[64];
	unsigned rng = 4242;
	size_t count = 0;
	long i;
	int r;

	CHECK(tract_store_open(&s, store_uri, TRACT_STORE_CREATE));
	CHECK(tract_create(&t, s, NULL, NULL, NULL));
	snprintf(id, sizeof(id), "%s", tract_id(t));
	t0 = now_s();
	CHECK(tract_batch_begin(t));
	for (i = 0; i < N_HIST; i++) {
		make_text(text, sizeof(text), &rng, 5000000 + i);
		CHECK(tract_commit_create_dialogue(NULL, t, i % 2 ? "assistant" : "user", text, NULL, NULL));
		if ((i + 1) % BATCH == 0) {
			CHECK(tract_batch_commit(t));
			if (i + 1 < N_HIST)
				CHECK(tract_batch_begin(t));
		}
	}
	printf("cold compile (history of %d messages built in %.1f s, batches of %d; then "
	       "VACUUM ANALYZE, as autovacuum would)\n",
	       N_HIST, now_s() - t0, BATCH);
	tract_free(t);
	tract_store_free(s);
	{
		static const char *const tables[] = {"blobs", "commits", "refs", "annotations",
						     "commit_parents"};
		PGconn *pg = admin_connect();
		char sql[128];
		size_t k;
		for (k = 0; k < sizeof(tables) / sizeof(tables[0]); k++) {
			snprintf(sql, sizeof(sql), "VACUUM (ANALYZE) %s.%s", schema, tables[k]);
			admin_exec(pg, sql);
		}
		PQfinish(pg);
	}
	for (r = 0; r < COLD_RUNS; r++) {
		tract_context *ctx = NULL;

		/* A fresh handle and connection each time: nothing cached. */
		CHECK(tract_store_open(&s, store_uri, 0));
		CHECK(tract_open(&t, s, id, NULL));
		t0 = now_s();
		CHECK(tract_context_compile(&ctx, t, NULL));
		ns[r] = (now_s() - t0) * 1e3;
		count = tract_context_count(ctx);
		tract_context_free(ctx);
		tract_free(t);
		tract_store_free(s);
	}
	if (count != N_HIST)
		die_msg("cold compile gave %zu messages, expected %d", count, N_HIST);
	qsort(ns, COLD_RUNS, sizeof(ns[0]), cmp_double);
	snprintf(buf, sizeof(buf), "%.1f ms", ns[0]);
	line("cold compile 10k msgs (min of 9)", buf, "target <= 50 ms");
	snprintf(buf, sizeof(buf), "%.1f ms", ns[COLD_RUNS / 2]);
	line("cold compile 10k msgs (median of 9)", buf, "target <= 50 ms");
}

int main(int argc, char **argv)
{
	const char *n = getenv("BENCH_APPENDS");
	PGconn *pg;
	char sql[256];

	base_uri = argc > 1 ? argv[1] : getenv("TRACT_TEST_PG_URI");
	if (!base_uri || !*base_uri)
		die_msg("no server: give a URI or set TRACT_TEST_PG_URI "
			"(scripts/pg.sh run -- bench_pg)");
#ifdef BENCH_PLUGIN_PATH
	/* The library finds the plugin in the build tree by itself; this only
	 * helps when the benchmark runs from elsewhere. */
	if (!getenv("TRACT_PLUGIN_PATH"))
		setenv("TRACT_PLUGIN_PATH", BENCH_PLUGIN_PATH, 1);
#endif
	if (n && *n)
		n_appends = strtol(n, NULL, 10);
	if (n_appends < 8)
		n_appends = 8;
	snprintf(schema, sizeof(schema), "tract_bench_%ld", (long)getpid());
	snprintf(store_uri, sizeof(store_uri), "%s%sschema=%s", base_uri,
		 strchr(base_uri, '?') ? "&" : "?", schema);
	pg = admin_connect();
	printf("PostgreSQL %d, libpq %d, schema %s\n", PQserverVersion(pg), PQlibVersion(), schema);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
	admin_exec(pg, sql);
	snprintf(sql, sizeof(sql), "CREATE TABLE %s.bare (k text PRIMARY KEY, v text NOT NULL)",
		 schema);
	admin_exec(pg, sql);
	PQfinish(pg);

	bench_appends();
	bench_cold_compile();
	drop_schema();
	return 0;
}
