/*
 * test_lmdb_crash.c - the LMDB store survives its writer being killed.
 *
 * Each round forks a writer that appends commits to one tract through the
 * public API (single commits, batches, an annotation now and then) and
 * reports every commit it saw succeed on a pipe. The parent kills it with
 * SIGKILL after a random delay, then reopens the store: fsck must be
 * clean and every reported commit must be on the tract's history. The
 * rounds rotate through the sync modes and a tiny map (the writer is then
 * killed in the middle of map growth and replays as well).
 *
 *   test_lmdb_crash [ROUNDS]      (default 24; TRACT_CRASH_SEED=N repeats a run)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tract.h"

#define HASH_LEN 64

static const char *const round_opts[] = {
	"",                    /* sync=1, the default */
	"?sync=0",
	"?map_size=64K&sync=0", /* killed while the map grows */
	"?sync=data",
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("test_lmdb_crash: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---- the writer (child) ------------------------------------------------------ */

static void report(int fd, const char *hash)
{
	char line[HASH_LEN + 1];

	memcpy(line, hash, HASH_LEN);
	line[HASH_LEN] = '\n';
	/* One write of less than PIPE_BUF: a line arrives whole or not at all. */
	if (write(fd, line, sizeof(line)) != (ssize_t)sizeof(line))
		_exit(5);
}

/* Append until killed; report each commit once it is durable to the API. */
static int writer(const char *uri, const char *id, int fd, unsigned seed)
{
	char hashes[20][HASH_LEN + 1], text[96];
	tract_store *s = NULL;
	tract *t = NULL;
	tract_commit *c = NULL;
	unsigned n = 0;
	int k, batch;

	if (tract_store_open(&s, uri, 0) != 0 || tract_open(&t, s, id, NULL) != 0) {
		fprintf(stderr, "writer: %s\n", tract_error_last()->message);
		return 2;
	}
	srand(seed);
	for (;;) {
		batch = rand() % 4 == 0 ? 1 + rand() % 20 : 0;
		if (batch && tract_batch_begin(t) != 0)
			return 3;
		for (k = 0; k < (batch ? batch : 1); k++) {
			snprintf(text, sizeof(text), "turn %u of writer %u, %s", n++, seed,
				 batch ? "batched" : "alone");
			const char *role = k % 2 ? "assistant" : "user";

			if (tract_commit_create_dialogue(&c, t, role, text, NULL, NULL)) {
				fprintf(stderr, "writer: %s\n", tract_error_last()->message);
				return 3;
			}
			memcpy(hashes[k], tract_commit_hash(c), HASH_LEN + 1);
			tract_commit_free(c);
			c = NULL;
		}
		if (batch && tract_batch_commit(t) != 0) {
			fprintf(stderr, "writer: %s\n", tract_error_last()->message);
			return 4;
		}
		for (k = 0; k < (batch ? batch : 1); k++)
			report(fd, hashes[k]);
		if (rand() % 16 == 0 &&
		    tract_annotation_create(NULL, t, hashes[0], TRACT_PRIORITY_PINNED, "keep") != 0) {
			fprintf(stderr, "writer: %s\n", tract_error_last()->message);
			return 6;
		}
	}
}

/* ---- the check (parent) -------------------------------------------------------- */

struct hashes {
	char (*h)[HASH_LEN + 1];
	size_t n, cap;
};

static void hashes_add(struct hashes *l, const char *h)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->h = realloc(l->h, l->cap * sizeof(*l->h));
		if (!l->h)
			die("out of memory");
	}
	memcpy(l->h[l->n], h, HASH_LEN);
	l->h[l->n][HASH_LEN] = '\0';
	l->n++;
}

static int cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, HASH_LEN);
}

/* Read the writer's lines until deadline (ms, -1: until EOF). */
static void collect(int fd, struct hashes *reported, char *part, size_t *plen, int wait_ms)
{
	struct timespec t0, now;
	char buf[4096];
	ssize_t got;
	int left = wait_ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		int r = poll(&p, 1, left);
		size_t i;

		if (r < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (r > 0) {
			got = read(fd, buf, sizeof(buf));
			if (got <= 0)
				return; /* EOF: the writer is gone */
			for (i = 0; i < (size_t)got; i++) {
				if (buf[i] == '\n') {
					if (*plen != HASH_LEN)
						die("a torn report line");
					hashes_add(reported, part);
					*plen = 0;
				} else if (*plen < HASH_LEN) {
					part[(*plen)++] = buf[i];
				} else {
					die("an overlong report line");
				}
			}
		}
		if (wait_ms < 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = wait_ms - (int)((now.tv_sec - t0.tv_sec) * 1000 +
				       (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return;
	}
}

/* Reopen the store: fsck clean, every reported commit on the history. */
static size_t verify(const char *uri, const char *id, const struct hashes *reported)
{
	tract_fsck_report *report = NULL;
	tract_fsck_problem *problems;
	tract_commit_list *log = NULL;
	tract_store *s = NULL;
	tract *t = NULL;
	char (*have)[HASH_LEN + 1];
	size_t n = 0, i, on_chain;

	if (tract_store_open(&s, uri, 0) != 0 || tract_open(&t, s, id, NULL) != 0)
		die("reopen: %s", tract_error_last()->message);
	if (tract_fsck_run(&report, s) != 0)
		die("fsck: %s", tract_error_last()->message);
	problems = report->problems;
	n = report->count;
	for (i = 0; i < n; i++)
		fprintf(stderr, "fsck: %s: %s\n", problems[i].object, problems[i].message);
	if (n)
		die("fsck found %zu problems", n);
	tract_fsck_report_free(report);
	if (tract_log_list(&log, t, NULL) != 0)
		die("log: %s", tract_error_last()->message);
	on_chain = log->count;
	have = malloc((on_chain ? on_chain : 1) * sizeof(*have));
	if (!have)
		die("out of memory");
	for (i = 0; i < on_chain; i++)
		memcpy(have[i], tract_commit_hash(log->items[i]), HASH_LEN + 1);
	tract_commit_list_free(log);
	qsort(have, on_chain, sizeof(*have), cmp_hash);
	for (i = 0; i < reported->n; i++)
		if (!bsearch(reported->h[i], have, on_chain, sizeof(*have), cmp_hash))
			die("commit %s was reported done but is not in the store", reported->h[i]);
	if (on_chain < reported->n)
		die("%zu commits on the history, %zu reported", on_chain, reported->n);
	free(have);
	tract_free(t);
	tract_store_free(s);
	return on_chain;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR"), *seed_env = getenv("TRACT_CRASH_SEED");
	int rounds = argc > 1 ? atoi(argv[1]) : 24, r, status, total_kills = 0;
	unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10)
				 : (unsigned)time(NULL) ^ (unsigned)getpid();
	char dir[256], base[300], uri[400], id[64], part[HASH_LEN + 1];
	struct hashes reported = {0};
	tract_store *s;
	tract *t;
	size_t plen = 0, on_chain = 0;

	if (rounds < 1)
		die("usage: test_lmdb_crash [ROUNDS]");
	printf("seed %u (TRACT_CRASH_SEED=%u repeats this run), %d rounds\n", seed, seed, rounds);
	srand(seed);
	snprintf(dir, sizeof(dir), "%s/tract-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(base, sizeof(base), "lmdb:%s/store", dir);
	if (tract_store_open(&s, base, TRACT_STORE_CREATE) != 0 ||
	    tract_create(&t, s, NULL, "crash", NULL) != 0)
		die("create: %s", tract_error_last()->message);
	snprintf(id, sizeof(id), "%s", tract_id(t));
	tract_free(t);
	tract_store_free(s);

	for (r = 0; r < rounds; r++) {
		size_t n_opts = sizeof(round_opts) / sizeof(round_opts[0]);
		const char *opts = round_opts[(size_t)r % n_opts];
		unsigned child_seed = (unsigned)rand();
		int fds[2], delay_ms = 2 + rand() % 60;
		size_t before = reported.n;
		pid_t pid;

		snprintf(uri, sizeof(uri), "%s%s", base, opts);
		if (pipe(fds) != 0)
			die("pipe: %s", strerror(errno));
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			close(fds[0]);
			_exit(writer(uri, id, fds[1], child_seed));
		}
		close(fds[1]);
		collect(fds[0], &reported, part, &plen, delay_ms);
		if (kill(pid, SIGKILL) != 0 && errno != ESRCH)
			die("kill: %s", strerror(errno));
		if (waitpid(pid, &status, 0) != pid)
			die("waitpid: %s", strerror(errno));
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			die("round %d: the writer ended by itself (status %d)", r, status);
		total_kills++;
		/* What it reported before it died is still in the pipe. */
		collect(fds[0], &reported, part, &plen, -1);
		close(fds[0]);
		if (plen)
			die("round %d: a torn report line", r);
		on_chain = verify(base, id, &reported);
		printf("round %2d (%-21s killed after %2d ms): %4zu reported, %5zu in the store, "
		       "fsck clean\n",
		       r, *opts ? opts + 1 : "sync=1", delay_ms, reported.n - before, on_chain);
	}
	if (reported.n == 0)
		die("no writer reported a commit");
	printf("%d writers killed; %zu reported commits all present\n", total_kills, reported.n);
	free(reported.h);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
