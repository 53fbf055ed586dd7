/*
 * bench_wait.h - where a benchmark's wall-clock time went, for the
 * benchmarks that run on a shared machine: the process's CPU time, the
 * time it waited in the run queue for a core (/proc/self/schedstat, the
 * scheduler's own account), and the rest, time spent blocked (I/O,
 * fsync, locks), with the voluntary context switches (getrusage).
 *
 *   bench_wait w;
 *   bench_wait_start(&w);
 *   ... the measured call ...
 *   bench_wait_stop(&w);
 *   printf("%s\n", bench_wait_text(&w, buf, sizeof(buf)));
 *
 * Single-threaded callers only (schedstat and the clock are the calling
 * thread's); without /proc the run-queue figure reads 0.
 */
#ifndef TRACT_BENCH_WAIT_H
#define TRACT_BENCH_WAIT_H

#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

typedef struct {
	double wall_ms, cpu_ms, runq_ms, blocked_ms;
	long vol_switches;
	/* at start */
	double wall0, cpu0, runq0;
	long vol0;
} bench_wait;

static double bench_wait_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The thread's run-queue wait so far (ms). */
static double bench_wait_runq(void)
{
	unsigned long long run = 0, wait = 0;
	FILE *f = fopen("/proc/thread-self/schedstat", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &run, &wait) != 2)
		wait = 0;
	fclose(f);
	return (double)wait / 1e6;
}

static long bench_wait_vol(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nvcsw : 0;
}

static void bench_wait_start(bench_wait *w)
{
	w->runq0 = bench_wait_runq();
	w->vol0 = bench_wait_vol();
	w->cpu0 = bench_wait_clock(CLOCK_THREAD_CPUTIME_ID);
	w->wall0 = bench_wait_clock(CLOCK_MONOTONIC);
}

static void bench_wait_stop(bench_wait *w)
{
	w->wall_ms = bench_wait_clock(CLOCK_MONOTONIC) - w->wall0;
	w->cpu_ms = bench_wait_clock(CLOCK_THREAD_CPUTIME_ID) - w->cpu0;
	w->runq_ms = bench_wait_runq() - w->runq0;
	w->vol_switches = bench_wait_vol() - w->vol0;
	w->blocked_ms = w->wall_ms - w->cpu_ms - w->runq_ms;
	if (w->blocked_ms < 0)
		w->blocked_ms = 0;
}

/* "CPU 12.3 ms, waiting for a core 45.6 ms, blocked 7.8 ms (9 waits)" */
static const char *bench_wait_text(const bench_wait *w, char *buf, size_t len)
{
	snprintf(buf, len, "CPU %.1f ms, waiting for a core %.1f ms, blocked %.1f ms (%ld waits)",
		 w->cpu_ms, w->runq_ms, w->blocked_ms, w->vol_switches);
	return buf;
}

#endif
