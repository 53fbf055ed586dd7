/*
 * pg_writer.c - the worker of test_pg_faults.sh, through the public API.
 *
 *   pg_writer append URI TRACT N TAG   append N dialogue turns to the tract,
 *                                      printing each new commit's hash on
 *                                      stdout once its transaction is done;
 *                                      a failed append prints "error: ..."
 *                                      on stderr and the writer goes on
 *                                      (it gives up, exit 2, after 50 in a
 *                                      row)
 *   pg_writer verify URI TRACT FILE... every hash listed in the files is on
 *                                      the tract's branch, the branch is one
 *                                      linear chain holding every commit of
 *                                      the tract, and fsck is clean
 *   pg_writer drop URI SCHEMA          drop a schema (cleanup, libpq)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "tract.h"

#define MAX_FAILS_IN_A_ROW 50

static int usage(void)
{
	fprintf(stderr, "usage: pg_writer append URI TRACT N TAG | verify URI TRACT FILE... | "
			"drop URI SCHEMA\n");
	return 2;
}

static int lib_fail(const char *what)
{
	const tract_error *e = tract_error_last();

	fprintf(stderr, "error: %s: %s (%s)\n", what, e->message, tract_error_name(e->code));
	return 1;
}

static int cmd_append(const char *uri, const char *id, long n, const char *tag)
{
	tract_store *s = NULL;
	tract *t = NULL;
	char text[128];
	long i, failed = 0, in_a_row = 0;

	if (tract_store_open(&s, uri, 0) < 0 || tract_open(&t, s, id, NULL) < 0)
		return lib_fail("open");
	for (i = 0; i < n; i++) {
		tract_commit *c = NULL;
		snprintf(text, sizeof(text), "%s, turn %ld", tag, i);
		if (tract_commit_create_dialogue(&c, t, i % 2 ? "assistant" : "user", text, NULL, NULL) < 0) {
			lib_fail("append");
			failed++;
			if (++in_a_row >= MAX_FAILS_IN_A_ROW) {
				fprintf(stderr, "giving up after %ld failures in a row\n", in_a_row);
				return 2;
			}
			continue;
		}
		in_a_row = 0;
		printf("%s\n", tract_commit_hash(c));
		fflush(stdout);
		tract_commit_free(c);
	}
	fprintf(stderr, "done: %ld appended, %ld failed\n", n - failed, failed);
	tract_free(t);
	tract_store_free(s);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_verify(const char *uri, const char *id, char **files, int n_files)
{
	tract_store *s = NULL;
	tract *t = NULL;
	tract_commit_list *log = NULL;
	tract_fsck_report *report = NULL;
	tract_fsck_problem *problems;
	tract_info_list *infos = NULL;
	size_t n_problems, i, reported = 0;
	int64_t stored = -1;
	char **sorted, line[256];
	int f, bad = 0;

	if (tract_store_open(&s, uri, 0) < 0 || tract_open(&t, s, id, NULL) < 0 ||
	    tract_log_list(&log, t, NULL) < 0 ||
	    tract_store_list_tracts(&infos, s) < 0)
		return lib_fail("verify");
	for (i = 0; i < infos->count; i++)
		if (strcmp(infos->items[i].tract_id, id) == 0)
			stored = infos->items[i].commit_count;
	tract_info_list_free(infos);
	if (stored != (int64_t)log->count) {
		fprintf(stderr, "verify: %lld commits stored, %zu on the branch\n",
			(long long)stored, log->count);
		bad = 1;
	}
	for (i = 0; i + 1 < log->count; i++) {
		const char *p = tract_commit_parent(log->items[i]);
		if (!p || strcmp(p, tract_commit_hash(log->items[i + 1])) != 0) {
			fprintf(stderr, "verify: the branch is not linear at %s\n",
				tract_commit_hash(log->items[i]));
			bad = 1;
		}
	}
	sorted = malloc((log->count ? log->count : 1) * sizeof(*sorted));
	if (!sorted)
		return 1;
	for (i = 0; i < log->count; i++)
		sorted[i] = (char *)tract_commit_hash(log->items[i]);
	qsort(sorted, log->count, sizeof(*sorted), cmp_str);
	for (f = 0; f < n_files; f++) {
		FILE *in = fopen(files[f], "r");
		if (!in) {
			perror(files[f]);
			return 1;
		}
		while (fgets(line, sizeof(line), in)) {
			char *key = line;
			line[strcspn(line, "\n")] = '\0';
			if (!*line)
				continue;
			reported++;
			if (!bsearch(&key, sorted, log->count, sizeof(*sorted), cmp_str)) {
				fprintf(stderr, "verify: reported commit %s is missing\n", line);
				bad = 1;
			}
		}
		fclose(in);
	}
	if (tract_fsck_run(&report, s) < 0)
		return lib_fail("fsck");
	problems = report->problems;
	n_problems = report->count;
	for (i = 0; i < n_problems; i++) {
		fprintf(stderr, "fsck: %s: %s\n", problems[i].object, problems[i].message);
		bad = 1;
	}
	if (!bad)
		printf("verify: %zu commits on one linear branch, all %zu reported ones among "
		       "them, fsck clean\n",
		       log->count, reported);
	tract_fsck_report_free(report);
	free(sorted);
	tract_commit_list_free(log);
	tract_free(t);
	tract_store_free(s);
	return bad;
}

static int cmd_drop(const char *uri, const char *schema)
{
	PGconn *pg = PQconnectdb(uri);
	char *ident, *sql = NULL;
	int rc = 1;

	if (PQstatus(pg) == CONNECTION_OK &&
	    (ident = PQescapeIdentifier(pg, schema, strlen(schema))) != NULL) {
		if (asprintf(&sql, "SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s "
				   "CASCADE", ident) > 0) {
			PGresult *res = PQexec(pg, sql);
			rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : 1;
			PQclear(res);
		}
		free(sql);
		PQfreemem(ident);
	}
	if (rc)
		fprintf(stderr, "drop %s: %s", schema, PQerrorMessage(pg));
	PQfinish(pg);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "append") == 0)
		return cmd_append(argv[2], argv[3], strtol(argv[4], NULL, 10), argv[5]);
	if (argc >= 4 && strcmp(argv[1], "verify") == 0)
		return cmd_verify(argv[2], argv[3], argv + 4, argc - 4);
	if (argc == 4 && strcmp(argv[1], "drop") == 0)
		return cmd_drop(argv[2], argv[3]);
	return usage();
}
