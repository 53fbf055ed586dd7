/*
 * bench_util.h - what the benchmarks share: failing with the library's
 * error, clocks, order statistics and, for the benchmarks that include
 * <ftw.h> (with nftw) or libpq-fe.h first, removing a scratch directory
 * and running one statement on a PostgreSQL server.
 *
 *   #define BENCH_NAME "bench_rebase"
 *   #include "bench_util.h"
 *
 * Header-only (static inline): each benchmark is one executable.
 */
#ifndef TRACT_BENCH_UTIL_H
#define TRACT_BENCH_UTIL_H

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_util.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tract.h"

/* A message on stderr, prefixed with the benchmark's name, and exit 1. */
__attribute__((format(printf, 1, 2), noreturn)) static inline void die_msg(const char *fmt, ...)
{
	va_list ap;

	fputs(BENCH_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* what failed, with the library's last error. */
__attribute__((noreturn)) static inline void die(const char *what)
{
	const tract_error *e = tract_error_last();

	die_msg("%s failed: %s (%s)", what, e->message, tract_error_name(e->code));
}

#define CHECK(call)                                                                                \
	do {                                                                                       \
		if ((call) < 0)                                                                    \
			die(#call);                                                                \
	} while (0)

static inline double bench_clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Wall clock (monotonic) and the process's CPU time: on a shared machine
 * the difference is mostly time spent waiting for a core. */
static inline double now_ms(void)
{
	return bench_clock_ms(CLOCK_MONOTONIC);
}

static inline double now_s(void)
{
	return now_ms() / 1e3;
}

static inline double cpu_ms(void)
{
	return bench_clock_ms(CLOCK_PROCESS_CPUTIME_ID);
}

static inline double cpu_s(void)
{
	return cpu_ms() / 1e3;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) of v[0..n), n > 0; sorts v. */
static inline double pct(double *v, size_t n, double p)
{
	size_t i;

	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static inline double median(double *v, size_t n)
{
	return pct(v, n, 50);
}

/* Whether backend is one of the comma-separated names of list
 * (--backends sqlite,lmdb,postgres). */
static inline int wanted(const char *list, const char *backend)
{
	size_t n = strlen(backend);

	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && strncmp(p, backend, n) == 0)
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

#ifdef FTW_PHYS /* <ftw.h> included with nftw (_XOPEN_SOURCE >= 500) */
static inline int bench_rm_entry(const char *path, const struct stat *sb, int flag,
				 struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove a scratch directory and everything in it. */
static inline void rm_tree(const char *path)
{
	nftw(path, bench_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
#endif

#ifdef LIBPQ_FE_H
/* One statement on the server of conninfo (notices quiet); exit on error. */
static inline void bench_pg_exec(const char *conninfo, const char *sql)
{
	PGconn *pg = PQconnectdb(conninfo);
	PGresult *res;

	if (PQstatus(pg) != CONNECTION_OK)
		die_msg("cannot connect: %s", PQerrorMessage(pg));
	PQclear(PQexec(pg, "SET client_min_messages = warning"));
	res = PQexec(pg, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die_msg("%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(pg);
}
#endif

#if defined(FTW_PHYS) && defined(LIBPQ_FE_H)
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Scratch stores: a temporary directory (under base_dir, else /tmp) and,
 * when the benchmark runs on PostgreSQL (TRACT_TEST_PG_URI), a schema of
 * its own; both removed at exit unless BENCH_KEEP is set. */
__attribute__((unused)) static char bench_dir[512], bench_schema[64];
__attribute__((unused)) static const char *bench_pg_base;

static inline void bench_scratch_cleanup(void)
{
	const char *keep = getenv("BENCH_KEEP");
	char sql[128];

	if (keep && *keep && strcmp(keep, "0") != 0) {
		printf("stores kept in %s%s%s\n", bench_dir, bench_schema[0] ? " and schema " : "",
		       bench_schema);
		return;
	}
	if (bench_dir[0])
		rm_tree(bench_dir);
	if (bench_schema[0]) {
		snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", bench_schema);
		bench_pg_exec(bench_pg_base, sql);
	}
}

/* want_pg: PostgreSQL is among the backends asked for (a schema is named
 * only when TRACT_TEST_PG_URI is set too; the backend creates it). */
static inline void bench_scratch_init(const char *base_dir, int want_pg)
{
	snprintf(bench_dir, sizeof(bench_dir), "%s/tract-" BENCH_NAME "-XXXXXX",
		 base_dir && *base_dir ? base_dir : "/tmp");
	if (!mkdtemp(bench_dir))
		die_msg("mkdtemp: %s", strerror(errno));
	bench_pg_base = getenv("TRACT_TEST_PG_URI");
	if (want_pg && bench_pg_base && *bench_pg_base)
		snprintf(bench_schema, sizeof(bench_schema), "tract_" BENCH_NAME "_%ld",
			 (long)getpid());
	atexit(bench_scratch_cleanup);
}

/* The URI of the scratch store of backend (sqlite, lmdb or postgres). */
static inline void bench_store_uri(char *buf, size_t len, const char *backend)
{
	if (strcmp(backend, "lmdb") == 0)
		snprintf(buf, len, "lmdb:%s/store.lmdb", bench_dir);
	else if (strcmp(backend, "postgres") == 0)
		snprintf(buf, len, "%s%sschema=%s", bench_pg_base,
			 strchr(bench_pg_base, '?') ? "&" : "?", bench_schema);
	else
		snprintf(buf, len, "%s/store.db", bench_dir);
}
#endif

#endif
