/*
 * bench_tokload.c - what the first token count of a process costs: for each
 * encoding, fresh child processes (fork, nothing loaded yet) time
 * tract_tokenizer_bpe() plus a first count, and report the resident memory
 * it added (VmRSS before and after, after counting 1 MB of mixed text so
 * the pages a real workload touches are in). Also the same with the JSON
 * encoder file instead of the mapped binary table, to show what the binary
 * form saves. Targets (issue 3): <= 20 ms and <= 40 MB for o200k_base.
 * Prints figures; never asserts a timing.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpe.h"
#include "tract.h"

#define RUNS 15

/* tract_tokenizer_count's count, or its negative code. */
static int64_t count_text(tract_tokenizer *tok, const char *text, size_t len)
{
	int64_t n = 0;
	int rc = tract_tokenizer_count(&n, tok, text, len);

	return rc < 0 ? rc : n;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static char *mixed_text(size_t *len)
{
	static const char *const parts[] = {
	    "The quick brown fox jumps over the lazy dog, doesn't it? ",
	    "def f(x):\n    return x * 2  # double\n",
	    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}} ",
	    "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c\xe3\x80\x82 ",
	    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80! ",
	    "12345 67890 3.14159 ",
	};
	size_t cap = 1 << 20, n = 0, i = 0;
	char *t = malloc(cap + 64);

	if (!t)
		exit(1);
	while (n < cap) {
		size_t l = strlen(parts[i % 6]);
		memcpy(t + n, parts[i % 6], l);
		n += l;
		i = i * 7 + 3;
	}
	t[n] = 0;
	*len = n;
	return t;
}

/* In a child: load (from path when given, else by name), count once,
 * write "ms rss_kb" to fd. */
static void child(const char *enc, const char *path, int fd, const char *text, size_t len)
{
	double t0, t1;
	long r0, r1;
	char out[64];
	int64_t n;

	r0 = rss_kb();
	t0 = now_ms();
	if (path) {
		tract_bpe *b;
		if (tract_bpe_load(path, &b) < 0)
			_exit(2);
		n = tract_bpe_count(b, "hello world", 11);
		t1 = now_ms();
		n += tract_bpe_count(b, text, len);
	} else {
		tract_tokenizer *tok = NULL;
		if (tract_tokenizer_bpe(&tok, enc) < 0)
			_exit(2);
		n = count_text(tok, "hello world", 11);
		t1 = now_ms();
		n += count_text(tok, text, len);
	}
	r1 = rss_kb();
	if (n <= 0)
		_exit(3);
	snprintf(out, sizeof(out), "%.3f %ld\n", t1 - t0, r1 - r0);
	if (write(fd, out, strlen(out)) < 0)
		_exit(4);
	_exit(0);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void measure(const char *label, const char *enc, const char *path, const char *text,
                    size_t len)
{
	double ms[RUNS];
	long rss_max = 0;
	int i;

	for (i = 0; i < RUNS; i++) {
		int p[2], st;
		char buf[64] = "";
		long rss;
		pid_t pid;
		ssize_t got;

		if (pipe(p) != 0)
			exit(1);
		if ((pid = fork()) == 0) {
			close(p[0]);
			child(enc, path, p[1], text, len);
		}
		close(p[1]);
		got = read(p[0], buf, sizeof(buf) - 1);
		close(p[0]);
		waitpid(pid, &st, 0);
		if (got <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
		    sscanf(buf, "%lf %ld", &ms[i], &rss) != 2) {
			printf("  %-44s unavailable (table not found: run scripts/build.sh)\n", label);
			return;
		}
		if (rss > rss_max)
			rss_max = rss;
	}
	qsort(ms, RUNS, sizeof(ms[0]), cmp_d);
	printf("  %-44s %7.2f ms median  %7.2f ms max   +%5.1f MB RSS\n", label, ms[RUNS / 2],
	       ms[RUNS - 1], (double)rss_max / 1024.0);
}

int main(void)
{
	static const char *const encs[] = {"o200k_base", "cl100k_base"};
	size_t len, i;
	char *text = mixed_text(&len);

	printf("tract %s bench_tokload: first count in a fresh process (%d runs each)\n",
	       tract_version(), RUNS);
	printf("  targets: o200k_base <= 20 ms, <= 40 MB resident\n");
	for (i = 0; i < 2; i++) {
		char label[96], path[4096];
		const char *dir = NULL;
		int k;

		snprintf(label, sizeof(label), "%s (lookup: binary table)", encs[i]);
		measure(label, encs[i], NULL, text, len);
		for (k = 0; k < 3 && !dir; k++) {
			const char *d = tract_bpe_search_dirs(k);
			snprintf(path, sizeof(path), "%s/%s.json", d ? d : "", encs[i]);
			if (d && *d && access(path, R_OK) == 0)
				dir = d;
		}
		if (dir) {
			snprintf(label, sizeof(label), "%s (parsing the JSON instead)", encs[i]);
			measure(label, encs[i], path, text, len);
		}
	}
	free(text);
	return 0;
}
