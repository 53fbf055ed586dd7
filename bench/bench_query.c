/*
 * bench_query.c - figures of the cross-tract queries (core/query.c,
 * core/wait.c): timeline and search over 100 tracts x 1,000 commits,
 * compile_at halfway through a 10,000-commit tract, and the wake-up
 * latency of tract_wait_ref() when another process moves the branch. On
 * SQLite and LMDB, and on PostgreSQL when TRACT_TEST_PG_URI names a
 * server. Prints one figure per line (median of the runs); never asserts
 * a timing.
 *
 *   bench_query [--tracts N] [--commits N] [--backends sqlite,lmdb,postgres]
 *   scripts/pg.sh run -- build-release/bench/bench_query
 *
 * The store: N tracts of M commits each (dialogue turns of 8 to 20 words
 * drawn from a 2,000-word vocabulary; "the" in about one message in
 * three, "zyzzyva" in exactly one), written as rows through the backend
 * in one write transaction, commits of the tracts interleaved in time.
 * compile_at: one more tract of 10,000 commits made through the library,
 * compiled as of the time of its 5,000th commit.
 *
 * Targets (issue 14) on SQLite: timeline of 100,000 rows <= 100 ms and its
 * first page <= 1 ms; search <= 10 ms over 100,000 commits for any word;
 * compile_at <= 20 ms; wake-up <= 50 ms on PostgreSQL; LMDB at least as
 * fast as SQLite.
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

#include "internal.h"
#include "tract/query.h"
#include "tract/wait.h"

#define BENCH_NAME "bench_query"
#include "bench_util.h"

static long n_tracts = 100, n_per = 1000;
static char tmpdir[256];

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void hex_of(char out[65], uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
	int k;

	for (k = 0; k < 4; k++) {
		x ^= x >> 31;
		x *= 0xbf58476d1ce4e5b9ull;
		x ^= x >> 29;
		snprintf(out + 16 * k, 17, "%016" PRIx64, x);
	}
}

/* A made-up word: consonant-vowel syllables from its number. */
static void word_of(char *out, unsigned w)
{
	static const char cons[] = "bcdfglmnprstvk", vow[] = "aeiou";
	int n = 2 + (int)(w % 3), i;

	for (i = 0; i < n; i++) {
		*out++ = cons[(w / 7 + (unsigned)i * 5) % 14];
		*out++ = vow[(w / 3 + (unsigned)i) % 5];
		w = w * 31 + 7;
	}
	*out = '\0';
}

static void build(tract_store *s)
{
	char (*ids)[65] = calloc((size_t)n_tracts, 65);
	char (*heads)[65] = calloc((size_t)n_tracts, 65);
	long total = n_tracts * n_per, i, rare;
	double t0 = now_s();

	if (!ids || !heads)
		die_msg("out of memory");
	rare = total / 2 + 17;
	CHECK(tract_txn_begin(s, TRACT_TXN_WRITE));
	for (i = 0; i < n_tracts; i++)
		snprintf(ids[i], 65, "bench%04ld", i);
	for (i = 0; i < total; i++) {
		long tr = i % n_tracts;
		char text[400], payload[600], chash[65], hash[65];
		int words = 8 + (int)(next_rand() % 13), w, o = 0, rc;
		tract_blob_row b = {0};
		tract_commit_row r = {0};

		for (w = 0; w < words; w++) {
			char wd[16];

			if (w == 3 && next_rand() % 3 == 0)
				snprintf(wd, sizeof(wd), "the");
			else
				word_of(wd, (unsigned)(next_rand() % 2000));
			o += snprintf(text + o, sizeof(text) - (size_t)o, "%s%s", w ? " " : "", wd);
		}
		if (i == rare)
			o += snprintf(text + o, sizeof(text) - (size_t)o, " zyzzyva");
		snprintf(payload, sizeof(payload),
			 "{\"content_type\": \"dialogue\", \"name\": null, \"role\": \"%s\", "
			 "\"text\": \"%s\"}",
			 i % 2 ? "assistant" : "user", text);
		hex_of(chash, (uint64_t)i * 2 + 1);
		hex_of(hash, (uint64_t)i * 2);
		b.content_hash = chash;
		b.payload_json = payload;
		b.byte_size = (int64_t)strlen(payload);
		b.token_count = words;
		b.created_at = INT64_C(1704164645000000) + i * 1000;
		r.commit_hash = hash;
		r.tract_id = ids[tr];
		r.parent_hash = heads[tr][0] ? heads[tr] : NULL;
		r.content_hash = chash;
		r.content_type = "dialogue";
		r.operation = TRACT_OP_APPEND;
		r.token_count = words;
		r.created_at = b.created_at;
		rc = s->be->blob_put(s->conn, &b, NULL);
		if (rc == 0)
			rc = s->be->commit_put(s->conn, &r);
		if (rc < 0)
			die_msg("write commit %ld: %s", i, s->be->last_error(s->conn));
		memcpy(heads[tr], hash, 65);
	}
	for (i = 0; i < n_tracts; i++) {
		if (s->be->ref_cas(s->conn, ids[i], "refs/heads/main", heads[i], NULL, NULL) < 0 ||
		    s->be->ref_cas(s->conn, ids[i], "HEAD", NULL, "refs/heads/main", NULL) < 0)
			die_msg("refs: %s", s->be->last_error(s->conn));
	}
	CHECK(tract_txn_end(s, 0));
	printf("  store: %ld tracts x %ld commits written in %.1f s\n", n_tracts, n_per,
	       now_s() - t0);
	free(ids);
	free(heads);
}

static int count_cb(const tract_commit *c, void *payload)
{
	(void)c;
	(*(long *)payload)++;
	return 0;
}

static void bench_timeline(tract_store *s)
{
	tract_timeline_options o = TRACT_TIMELINE_OPTIONS_INIT;
	double v[5];
	long rows = 0;
	int k;

	for (k = 0; k < 5; k++) {
		double t0 = now_s();

		rows = 0;
		CHECK(tract_timeline_foreach(s, NULL, count_cb, &rows));
		v[k] = now_s() - t0;
	}
	printf("  timeline, all %ld rows: %.1f ms (%.2f us a row)\n", rows, median(v, 5) * 1e3,
	       median(v, 5) * 1e6 / (double)rows);
	o.limit = 50;
	for (k = 0; k < 5; k++) {
		double t0 = now_s();

		rows = 0;
		CHECK(tract_timeline_foreach(s, &o, count_cb, &rows));
		v[k] = now_s() - t0;
	}
	printf("  timeline, first page of %ld: %.3f ms\n", rows, median(v, 5) * 1e3);
	o.limit = 0;
	o.tract_id = "bench0042";
	for (k = 0; k < 5; k++) {
		double t0 = now_s();

		rows = 0;
		CHECK(tract_timeline_foreach(s, &o, count_cb, &rows));
		v[k] = now_s() - t0;
	}
	printf("  timeline of one tract (%ld rows): %.2f ms\n", rows, median(v, 5) * 1e3);
}

static void bench_search(tract_store *s, const char *term)
{
	tract_search_list *l = NULL;
	double v[3];
	size_t hits = 0;
	int k;

	for (k = 0; k < 3; k++) {
		double t0 = now_s();

		CHECK(tract_search_run(&l, s, term, NULL));
		v[k] = now_s() - t0;
		hits = l->count;
		tract_search_list_free(l);
	}
	printf("  search '%s' (%zu hits): %.2f ms\n", term, hits, median(v, 3) * 1e3);
}

/* The first search after the store was written: it makes the backend's
 * search index (ABI version 5) from every blob, or, without one, scans. */
static void bench_search_first(tract_store *s)
{
	tract_search_list *l = NULL;
	double t0 = now_s();

	CHECK(tract_search_run(&l, s, "zyzzyva", NULL));
	printf("  search: first search (%s): %.1f ms\n",
	       l->indexed ? "makes the index of every blob" : "no index: a scan",
	       (now_s() - t0) * 1e3);
	tract_search_list_free(l);
}

static void bench_compile_at(tract_store *s)
{
	tract_compile_options co = TRACT_COMPILE_OPTIONS_INIT;
	tract_open_options oo = TRACT_OPEN_OPTIONS_INIT;
	tract_time half = 0;
	tract_context *ctx = NULL;
	tract *t = NULL;
	double v[5], cpu[5], t0 = now_s();
	long i;
	int k;

	oo.compile_cache_size = 0;
	CHECK(tract_create(&t, s, "bench_long", NULL, &oo));
	CHECK(tract_batch_begin(t));
	for (i = 0; i < 10000; i++) {
		tract_commit *c = NULL;
		char text[80];

		snprintf(text, sizeof(text), "message %ld of the long tract, some words", i);
		CHECK(tract_commit_create_dialogue(&c, t, i % 2 ? "assistant" : "user", text, NULL,
						   NULL));
		if (i == 4999)
			half = tract_commit_time(c);
		tract_commit_free(c);
	}
	CHECK(tract_batch_commit(t));
	printf("  compile_at: 10,000 commits made through the library in %.1f s\n", now_s() - t0);
	co.at_time = half;
	for (k = 0; k < 5; k++) {
		struct timespec c0, c1;

		t0 = now_s();
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
		CHECK(tract_context_compile(&ctx, t, &co));
		v[k] = now_s() - t0;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
		cpu[k] = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
		if (tract_context_count(ctx) != 5000)
			die_msg("compile_at gave %zu messages, not 5000", tract_context_count(ctx));
		tract_context_free(ctx);
	}
	printf("  compile_at halfway (5,000 of 10,000 messages): %.1f ms (CPU %.1f ms)\n",
	       median(v, 5) * 1e3, median(cpu, 5) * 1e3);
	tract_free(t);
}

/* Wake-up latency: a child process (forked before the parent opens the
 * store: no handle crosses the fork) commits when told; the parent waits
 * in tract_wait_ref() and notes when it wakes. */
static void bench_wait(const char *uri)
{
	int go[2], done[2], k, n = 10;
	tract_store *s = NULL;
	tract *t = NULL;
	double v[10], worst = 0;
	pid_t pid;

	CHECK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK(tract_create(&t, s, "waiter", NULL, NULL));
	{
		tract_commit *c = NULL;
		CHECK(tract_commit_create_dialogue(&c, t, "user", "start", NULL, NULL));
		tract_commit_free(c);
	}
	tract_free(t);
	tract_store_free(s);
	if (pipe(go) != 0 || pipe(done) != 0)
		die_msg("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		char b;

		close(go[1]);
		close(done[0]);
		if (tract_store_open(&s, uri, 0) != 0 || tract_open(&t, s, "waiter", NULL) != 0)
			_exit(3);
		while (read(go[0], &b, 1) == 1) {
			tract_commit *c = NULL;
			struct timespec ts = {0, 30 * 1000000L};
			double at;

			nanosleep(&ts, NULL); /* the parent is in the wait by now */
			if (tract_commit_create_dialogue(&c, t, "assistant", "moved", NULL, NULL) != 0)
				_exit(4);
			at = now_s();
			tract_commit_free(c);
			if (write(done[1], &at, sizeof(at)) != sizeof(at))
				_exit(5);
		}
		tract_free(t);
		tract_store_free(s);
		_exit(0);
	}
	close(go[0]);
	close(done[1]);
	CHECK(tract_store_open(&s, uri, 0));
	CHECK(tract_open(&t, s, "waiter", NULL));
	for (k = 0; k < n; k++) {
		tract_wait_options o = TRACT_WAIT_OPTIONS_INIT;
		char out[65];
		double woke, at;

		o.timeout_ms = 10000;
		if (write(go[1], "g", 1) != 1)
			die_msg("pipe write");
		CHECK(tract_wait_ref(out, t, &o));
		woke = now_s();
		if (read(done[0], &at, sizeof(at)) != sizeof(at))
			die_msg("child failed");
		v[k] = woke - at;
		if (v[k] > worst)
			worst = v[k];
	}
	close(go[1]);
	waitpid(pid, NULL, 0);
	close(done[0]);
	printf("  wait: wake-up after another process's commit: median %.1f ms, worst %.1f ms "
	       "(%d runs)\n",
	       median(v, n) * 1e3, worst * 1e3, n);
	tract_free(t);
	tract_store_free(s);
}

static void run_backend(const char *name, const char *uri, const char *wait_uri)
{
	tract_store *s = NULL;

	printf("%s\n", name);
	bench_wait(wait_uri);
	CHECK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	build(s);
	bench_timeline(s);
	bench_search_first(s);
	bench_search(s, "zyzzyva");
	bench_search(s, "the");
	bench_search(s, "ba");
	bench_compile_at(s);
	tract_store_free(s);
}

static void cleanup(void)
{
	char cmd[400];

	if (tmpdir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_query: could not remove %s\n", tmpdir);
	}
}

static const char *only;

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
	char uri[2048], wuri[2048];
	pid_t self = getpid();
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tracts") == 0 && i + 1 < argc) {
			n_tracts = atol(argv[++i]);
		} else if (strcmp(argv[i], "--commits") == 0 && i + 1 < argc) {
			n_per = atol(argv[++i]);
		} else if (strcmp(argv[i], "--backends") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr, "usage: bench_query [--tracts N] [--commits N] "
					"[--backends sqlite,lmdb,postgres]\n");
			return 2;
		}
	}
	if (n_tracts < 1 || n_tracts > 9999 || n_per < 1)
		die_msg("--tracts 1..9999, --commits >= 1");
#ifdef BENCH_PLUGIN_PATH
	if (!getenv("TRACT_PLUGIN_PATH"))
		setenv("TRACT_PLUGIN_PATH", BENCH_PLUGIN_PATH, 1);
#endif
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tract-bench-query-XXXXXX");
	if (!mkdtemp(tmpdir))
		die_msg("mkdtemp: %s", strerror(errno));
	atexit(cleanup);
	if (want("sqlite")) {
		snprintf(uri, sizeof(uri), "%s/q.db", tmpdir);
		snprintf(wuri, sizeof(wuri), "%s/w.db", tmpdir);
		run_backend("sqlite", uri, wuri);
	}
	if (want("lmdb")) {
		snprintf(uri, sizeof(uri), "lmdb:%s/lmdb", tmpdir);
		snprintf(wuri, sizeof(wuri), "lmdb:%s/lmdbw", tmpdir);
		run_backend("lmdb", uri, wuri);
	}
	if (!want("postgres")) {
	} else if (pg && *pg) {
		char schema[64], wschema[64], sql[160];

		snprintf(schema, sizeof(schema), "tract_bench_query_%ld", (long)self);
		snprintf(wschema, sizeof(wschema), "tract_bench_queryw_%ld", (long)self);
		snprintf(uri, sizeof(uri), "%s%sschema=%s", pg, strchr(pg, '?') ? "&" : "?", schema);
		snprintf(wuri, sizeof(wuri), "%s%sschema=%s", pg, strchr(pg, '?') ? "&" : "?",
			 wschema);
		run_backend("postgres", uri, wuri);
		snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s, %s CASCADE", schema, wschema);
		bench_pg_exec(pg, sql);
	} else {
		printf("postgres skipped: TRACT_TEST_PG_URI is not set "
		       "(scripts/pg.sh run -- bench_query)\n");
	}
	return 0;
}
