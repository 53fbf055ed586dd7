/*
 * bench_memory.c - peak memory (maximum RSS, from /usr/bin/time -v) and wall
 * time of the `tract` command on large inputs and stores: a commit of one
 * 10 MB single-letter text, and log --json, log -n 1 --oneline, fsck,
 * clone and tracts on a store of N commits of S bytes (default 20,000 of
 * 10 KB, ~200 MB). Prints one figure per line beside its target: the peak
 * RSS from time(1), and the sampled peaks of its heap (RssAnon) and of its
 * mapped files (RssFile: SQLite reads the store through a mapping of up to
 * 256 MiB); never asserts. Not run by `meson test`.
 *
 *   bench_memory [--commits N] [--size BYTES] [--text BYTES] [--dir DIR]
 *
 * The store is built once through the library (batched) in DIR (default a
 * fresh directory under $TMPDIR or /tmp, removed at the end unless
 * BENCH_KEEP=1; an existing DIR/big.db is reused). TRACT_BIN overrides
 * the path of the command.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tract.h"

#define BENCH_NAME "bench_memory"
#include "bench_util.h"

#ifndef BENCH_TRACT_BIN
#define BENCH_TRACT_BIN "tract"
#endif
#define BATCH 500

static const char *bin;
static char dir[512];

/* Peak RssAnon and RssFile (KiB) of process pid and its children, sampled
 * from /proc every 5 ms until it ends (the heap against the mapped store:
 * SQLite reads through a mapping, whose pages count as RSS). */
static long status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			v = strtol(line + strlen(field), NULL, 10);
	fclose(f);
	return v;
}

/* Run `sh -c cmd` under /usr/bin/time -v: peak RSS in KiB, wall seconds,
 * and the sampled peaks of the command's own process (exec'd by sh). */
static int measure(const char *cmd, long *rss_kib, double *secs, long *anon, long *file)
{
	char line[1024], timefile[600], *full = NULL;
	pid_t pid;
	int status = 0;
	FILE *f;

	snprintf(timefile, sizeof(timefile), "%s/time.txt", dir);
	if (asprintf(&full, "exec /usr/bin/time -v -o '%s' sh -c 'exec %s' >/dev/null 2>&1",
		     timefile, cmd) < 0)
		return -1;
	*anon = *file = 0;
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", full, (char *)NULL);
		_exit(127);
	}
	free(full);
	for (;;) {
		char path[64], task[64];
		pid_t r = waitpid(pid, &status, WNOHANG);
		FILE *ch;
		if (r == pid || r < 0)
			break;
		/* time's child (sh, then the command exec'd in its place) */
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
		if ((ch = fopen(path, "r"))) {
			if (fgets(task, sizeof(task), ch)) {
				pid_t c = (pid_t)strtol(task, NULL, 10);
				long a = status_kib(c, "RssAnon:"), fl = status_kib(c, "RssFile:");
				if (a > *anon)
					*anon = a;
				if (fl > *file)
					*file = fl;
			}
			fclose(ch);
		}
		usleep(5000);
	}
	*rss_kib = -1;
	*secs = -1;
	f = fopen(timefile, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p;
		if ((p = strstr(line, "Maximum resident set size (kbytes):")))
			*rss_kib = strtol(p + 35, NULL, 10);
		else if ((p = strstr(line, "Elapsed (wall clock) time (h:mm:ss or m:ss):"))) {
			double a = 0, b = 0, c = 0;
			int n = sscanf(p + 45, "%lf:%lf:%lf", &a, &b, &c);
			*secs = n == 3 ? a * 3600 + b * 60 + c : a * 60 + b;
		}
		else if ((p = strstr(line, "Exit status:")))
			status = (int)strtol(p + 12, NULL, 10);
	}
	fclose(f);
	return status;
}

static void figure(const char *name, const char *cmd, const char *target)
{
	long rss, anon, file;
	double secs;
	int rc = measure(cmd, &rss, &secs, &anon, &file);

	printf("%-30s peak %7.1f MB (heap %6.1f, mapped %6.1f) %6.2f s%s  (target: %s)\n", name,
	       rss / 1024.0, anon / 1024.0, file / 1024.0, secs, rc ? " [exit != 0]" : "",
	       target);
	fflush(stdout);
}

/* A text of about size bytes, different for every i (no deduplication). */
static void make_text(char *buf, size_t size, size_t i)
{
	static const char *words[] = {"the",   "agent", "context", "window", "commit", "token",
				      "store", "blob",  "history", "tract",  "memory", "log"};
	size_t n = 0, k = i * 2654435761u;

	n += (size_t)snprintf(buf, size, "message %zu:", i);
	while (n + 12 < size) {
		const char *w = words[(k >> 7) % 12];
		k = k * 6364136223846793005u + 1442695040888963407u;
		buf[n++] = ' ';
		memcpy(buf + n, w, strlen(w));
		n += strlen(w);
	}
	buf[n] = '\0';
}

static void build_store(const char *path, size_t commits, size_t size)
{
	tract_open_options o = TRACT_OPEN_OPTIONS_INIT;
	tract_store *s;
	tract *t;
	char *text = malloc(size + 1);
	size_t i;

	if (!text)
		exit(1);
	o.compile_cache_size = 0;
	CHECK(tract_store_open(&s, path, TRACT_STORE_CREATE));
	CHECK(tract_create(&t, s, "big", NULL, &o));
	CHECK(tract_batch_begin(t));
	for (i = 0; i < commits; i++) {
		make_text(text, size + 1, i);
		CHECK(tract_commit_create_dialogue(NULL, t, i % 2 ? "assistant" : "user", text,
						   NULL, NULL));
		if ((i + 1) % BATCH == 0) {
			CHECK(tract_batch_commit(t));
			CHECK(tract_batch_begin(t));
		}
	}
	CHECK(tract_batch_commit(t));
	tract_free(t);
	tract_store_free(s);
	free(text);
}

int main(int argc, char **argv)
{
	size_t commits = 20000, size = 10000, text = 10 * 1000 * 1000;
	const char *keep = getenv("BENCH_KEEP");
	char store[700], cmd[2048], textfile[600];
	struct stat st;
	int own_dir = 1;

	bin = getenv("TRACT_BIN") ? getenv("TRACT_BIN") : BENCH_TRACT_BIN;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--commits") && i + 1 < argc)
			commits = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			size = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--text") && i + 1 < argc)
			text = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			snprintf(dir, sizeof(dir), "%s", argv[++i]);
			own_dir = 0;
		} else {
			fprintf(stderr, "usage: bench_memory [--commits N] [--size BYTES] "
					"[--text BYTES] [--dir DIR]\n");
			return 2;
		}
	}
	if (access("/usr/bin/time", X_OK) != 0) {
		fprintf(stderr, "bench_memory: needs /usr/bin/time (GNU time)\n");
		return 1;
	}
	if (own_dir) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/bench_memory.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
	} else {
		mkdir(dir, 0700);
	}
	printf("tract %s; store: %zu commits of %zu bytes; text: %zu bytes\n", bin, commits,
	       size, text);

	/* 1. commit of one single-letter text */
	snprintf(textfile, sizeof(textfile), "%s/letter.txt", dir);
	{
		FILE *f = fopen(textfile, "w");
		char chunk[4096];
		size_t left = text;
		memset(chunk, 'a', sizeof(chunk));
		while (f && left) {
			size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
			fwrite(chunk, 1, n, f);
			left -= n;
		}
		if (f)
			fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "rm -f %s/small.db; %s --db %s/small.db init", dir, bin, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_memory: %s failed\n", cmd);
	snprintf(cmd, sizeof(cmd), "%s --db %s/small.db commit user - < %s", bin, dir, textfile);
	figure("commit (first, 10 MB letter)", cmd, "<= 3x the text");
	figure("commit (second, same text)", cmd, "<= 3x the text");
	snprintf(cmd, sizeof(cmd), "%s --db %s/small.db log -n 1 --oneline", bin, dir);
	figure("log -n 1 --oneline (1 commit)", cmd, "-");

	/* 2. the large store */
	snprintf(store, sizeof(store), "%s/big.db", dir);
	if (stat(store, &st) != 0) {
		fprintf(stderr, "building %s...\n", store);
		build_store(store, commits, size);
		stat(store, &st);
	}
	printf("store file: %.1f MB\n", st.st_size / 1e6);
	snprintf(cmd, sizeof(cmd), "%s --db %s log -n 1 --oneline", bin, store);
	figure("log -n 1 --oneline", cmd, "reads 1 blob: time ~ the 1-commit store's");
	snprintf(cmd, sizeof(cmd), "%s --db %s log -n 20", bin, store);
	figure("log -n 20", cmd, "bounded");
	snprintf(cmd, sizeof(cmd), "%s --db %s log --all --oneline", bin, store);
	figure("log --all --oneline", cmd, "bounded");
	snprintf(cmd, sizeof(cmd), "%s --db %s log --all --json", bin, store);
	figure("log --all --json", cmd, "bounded");
	snprintf(cmd, sizeof(cmd), "%s --db %s fsck", bin, store);
	figure("fsck", cmd, "bounded");
	snprintf(cmd, sizeof(cmd), "rm -f %s/copy.db", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_memory: %s failed\n", cmd);
	snprintf(cmd, sizeof(cmd), "%s clone %s %s/copy.db", bin, store, dir);
	figure("clone (verify included)", cmd, "bounded");
	snprintf(cmd, sizeof(cmd), "%s --db %s tracts", bin, store);
	figure("tracts", cmd, "bounded");

	if (own_dir && !(keep && keep[0] == '1'))
		rm_tree(dir);
	else
		printf("kept in %s\n", dir);
	return 0;
}
