/*
 * bench_compact.c - tool-result compaction figures (issue 13 item 9:
 * "tool-result compaction of 1,000 results", target <= 100 ms on SQLite;
 * LMDB at least as fast; PostgreSQL within 3x): a history of N tool calls
 * each with a result of about 2 KB, a user turn first and an assistant
 * reply last, then tract_compact_tools with keep_last_turns 1 (every
 * result but none of the reply's turn: N edit commits in one transaction).
 * Also half the size. Prints one line per backend and size; never asserts
 * a timing.
 *
 *   bench_compact [N]       N results (default 1000); SQLite and LMDB, and
 *                           PostgreSQL when TRACT_TEST_PG_URI is set (a
 *                           schema of its own, dropped afterwards)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bench_wait.h"
#include "internal.h"
#include "tract/compact.h"

#define BENCH_NAME "bench_compact"
#include "bench_util.h"

static void run(const char *backend, const char *uri, long n)
{
	tract_compact_options o = TRACT_COMPACT_OPTIONS_INIT;
	tract_compact_result *r = NULL;
	tract_store *s = NULL;
	tract *t = NULL;
	char json[2600];
	double t0, t1, c0, c1;
	bench_wait w;
	char wbuf[160];
	long i;
	int k;

	CHECK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK(tract_create(&t, s, "bench", NULL, NULL));
	CHECK(tract_batch_begin(t));
	CHECK(tract_commit_create_dialogue(NULL, t, "user", "look through the logs", NULL, NULL));
	for (i = 0; i < n; i++) {
		snprintf(json, sizeof(json),
			 "{\"content_type\": \"tool_io\", \"direction\": \"call\", \"tool_name\": "
			 "\"read_log\", \"call_id\": \"c%ld\", \"payload\": {\"file\": \"log%ld\"}}",
			 i, i);
		CHECK(tract_commit_create(NULL, t, json, NULL));
		k = snprintf(json, sizeof(json),
			     "{\"content_type\": \"tool_io\", \"direction\": \"result\", "
			     "\"tool_name\": \"read_log\", \"call_id\": \"c%ld\", \"status\": "
			     "\"success\", \"payload\": {\"text\": \"log %ld",
			     i, i);
		while (k < 2200)
			k += snprintf(json + k, sizeof(json) - (size_t)k,
				      "\\n%05d request served in %d ms", k, k % 97);
		snprintf(json + k, sizeof(json) - (size_t)k, "\"}}");
		CHECK(tract_commit_create(NULL, t, json, NULL));
		if (i % 500 == 499) {
			CHECK(tract_batch_commit(t));
			CHECK(tract_batch_begin(t));
		}
	}
	CHECK(tract_commit_create_dialogue(NULL, t, "assistant", "nothing unusual", NULL, NULL));
	CHECK(tract_batch_commit(t));

	o.keep_last_turns = 1;
	{
		/* The plan alone (a dry run; the handle's cached context). */
		o.dry_run = 1;
		t0 = now_s();
		c0 = cpu_s();
		CHECK(tract_compact_tools(&r, t, &o));
		c1 = cpu_s();
		t1 = now_s();
		printf("%-8s plan (dry run) of %5ld results: %8.1f ms (CPU %.1f ms)\n", backend, n,
		       (t1 - t0) * 1e3, (c1 - c0) * 1e3);
		tract_compact_result_free(r);
		r = NULL;
		o.dry_run = 0;
	}
	t0 = now_s();
	c0 = cpu_s();
	bench_wait_start(&w);
	CHECK(tract_compact_tools(&r, t, &o));
	bench_wait_stop(&w);
	c1 = cpu_s();
	t1 = now_s();
	printf("%-8s compaction of %5ld results: %8.1f ms (CPU %.1f ms)  (%zu edits, %lld -> %lld "
	       "tokens; target on SQLite: <= 100 ms for 1000)\n",
	       backend, n, (t1 - t0) * 1e3, (c1 - c0) * 1e3, r->n_edits, (long long)r->tokens_before,
	       (long long)r->tokens_after);
	printf("%-8s   where the time went: %s\n", backend, bench_wait_text(&w, wbuf, sizeof(wbuf)));
	fflush(stdout);
	if ((long)r->compacted != n) {
		fprintf(stderr, "bench_compact: compacted %zu of %ld\n", r->compacted, n);
		exit(1);
	}
	tract_compact_result_free(r);
	tract_free(t);
	tract_store_free(s);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
	const char *pg = getenv("TRACT_TEST_PG_URI");
	char dir[] = "/tmp/bench_compact.XXXXXX", uri[600];
	long sizes[2];
	int k;

	if (n < 2) {
		fprintf(stderr, "usage: bench_compact [N >= 2]\n");
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
			snprintf(schema, sizeof(schema), "tract_bench_compact_%ld_%d", (long)getpid(), k);
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
			fprintf(stderr, "bench_compact: could not remove %s\n", dir);
	}
	return 0;
}
