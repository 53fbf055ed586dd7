/*
 * driver.c - the crash driver: a writer runs one operation of ops.c in a
 * loop in a child process, reporting each success on a pipe; the parent
 * SIGKILLs it after a random delay, then reopens the store: fsck clean,
 * every reported commit on the history and the history linear, every
 * reported annotation and clone there, a rebase killed midway left its
 * branch all old or all new, and one more commit succeeds.
 *
 *   crash_driver [ROUNDS]   backend from TRACT_TEST_BACKEND (tests/teststore.h);
 *                           TRACT_CRASH_SEED=N repeats a run, TRACT_CRASH_SECONDS
 *                           bounds it (default 4; at least one round per operation)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "dag.h" /* kind 'm': reachable from main over all parents */
#include "internal.h" /* the backend, to find a child tract's commit */
#include "teststore.h"

/* LMDB's sync modes and a tiny map (killed while the map grows). */
static const char *const lmdb_opts[] = {"", "?sync=0", "?map_size=64K&sync=0", "?sync=data"};

void crash_die(const char *fmt, ...)
{
	va_list ap;

	fputs("crash_driver: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void crash_report(const crash_child *ch, char kind, const char *what)
{
	char line[CRASH_LINE];

	memset(line, ' ', sizeof(line));
	line[0] = kind;
	memcpy(line + 2, what, strnlen(what, CRASH_LINE - 3));
	line[CRASH_LINE - 1] = '\n';
	/* One write of less than PIPE_BUF: a line arrives whole or not at all. */
	if (write(ch->fd, line, sizeof(line)) != (ssize_t)sizeof(line))
		_exit(5);
}

/* ---- what the writers reported ----------------------------------------------- */

typedef struct {
	char (*h)[CRASH_LINE];
	size_t n, cap;
} lines;

static void lines_add(lines *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->h = realloc(l->h, l->cap * sizeof(*l->h));
		if (!l->h)
			crash_die("out of memory");
	}
	memcpy(l->h[l->n], s, CRASH_LINE);
	l->n++;
}

static int cmp_line(const void *a, const void *b)
{
	return memcmp(a, b, HASH_LEN);
}

/* Read report lines until wait_ms passed (-1: until EOF). */
static void collect(int fd, lines *got, char *part, size_t *plen, int wait_ms)
{
	struct timespec t0, now;
	char buf[4096];
	int left = wait_ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		int r = poll(&p, 1, left);
		ssize_t n, i;

		if (r < 0 && errno != EINTR)
			crash_die("poll: %s", strerror(errno));
		if (r > 0) {
			n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				return; /* EOF: the writer is gone */
			for (i = 0; i < n; i++) {
				part[(*plen)++] = buf[i];
				if (*plen == CRASH_LINE) {
					if (buf[i] != '\n')
						crash_die("a torn report line");
					lines_add(got, part);
					*plen = 0;
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

/* ---- the check after each kill ------------------------------------------------- */

static void fsck_clean(tract_store *s, const char *what)
{
	tract_fsck_report *rep = NULL;
	size_t i;

	if (tract_fsck_run(&rep, s) != 0)
		crash_die("fsck of %s: %s", what, tract_error_last()->message);
	for (i = 0; i < rep->count; i++)
		fprintf(stderr, "fsck %s: %s: %s\n", what, rep->problems[i].object,
		        rep->problems[i].message);
	if (rep->count)
		crash_die("fsck found %zu problems in %s", rep->count, what);
	tract_fsck_report_free(rep);
}

/* A clone destination: absent, or a whole store that passes fsck. */
static void check_clone(const char *uri, int reported)
{
	tract_store *s = NULL;

	if (tract_store_open(&s, uri, 0) != 0) {
		if (reported)
			crash_die("reported clone %s does not open: %s", uri,
			          tract_error_last()->message);
		return;
	}
	fsck_clean(s, uri);
	tract_store_free(s);
}

/* Every line of kind k in got, sorted by its text. */
static char (*of_kind(const lines *got, char k, size_t *n))[HASH_LEN + 1]
{
	char(*v)[HASH_LEN + 1] = malloc((got->n + 1) * sizeof(*v));
	size_t i;

	if (!v)
		crash_die("out of memory");
	*n = 0;
	for (i = 0; i < got->n; i++) {
		if (got->h[i][0] != k)
			continue;
		memcpy(v[*n], got->h[i] + 2, HASH_LEN);
		v[(*n)++][HASH_LEN] = '\0';
	}
	return v;
}

static tract_commit *lookup(tract *t, const char *rev)
{
	tract_commit *c = NULL;

	if (tract_commit_lookup(&c, t, rev) != 0)
		crash_die("look up %s: %s", rev, tract_error_last()->message);
	return c;
}

/*
 * A rebase killed after its 'b' line (main's tip just before it) and
 * before its 'c' line: main is all old (that tip) or all new (the tip's
 * two commits replayed, same contents, on crash-onto's tip), nothing in
 * between (ops.c op_rebase).
 */
static size_t rebases_cut, rebases_cut_new;

static void check_rebase(tract *t, const lines *got, size_t round_from)
{
	tract_commit *now, *old, *now_p, *old_p;
	char head[HASH_LEN + 1], onto[HASH_LEN + 1], b[HASH_LEN + 1];

	if (got->n <= round_from || got->h[got->n - 1][0] != 'b')
		return;
	memcpy(b, got->h[got->n - 1] + 2, HASH_LEN);
	b[HASH_LEN] = '\0';
	if (tract_head_get(head, NULL, NULL, t) != 0 ||
	    tract_revision_resolve(onto, t, "crash-onto") != 0)
		crash_die("read refs: %s", tract_error_last()->message);
	rebases_cut++;
	if (strcmp(head, b) == 0)
		return; /* all old */
	rebases_cut_new++;
	now = lookup(t, head);
	old = lookup(t, b);
	now_p = lookup(t, tract_commit_parent(now));
	old_p = lookup(t, tract_commit_parent(old));
	if (strcmp(tract_commit_content_hash(now), tract_commit_content_hash(old)) != 0 ||
	    strcmp(tract_commit_content_hash(now_p), tract_commit_content_hash(old_p)) != 0 ||
	    !tract_commit_parent(now_p) || strcmp(tract_commit_parent(now_p), onto) != 0)
		crash_die("a killed rebase left main at %s: neither its old tip %s nor its "
		          "commits replayed on %s",
		          head, b, onto);
	tract_commit_free(now);
	tract_commit_free(old);
	tract_commit_free(now_p);
	tract_commit_free(old_p);
}

static int count_commit_cb(const tract_commit_row *row, void *payload)
{
	(void)row;
	(*(int *)payload)++;
	return 0;
}

/* resume (agents.h) gives the most recently active tract that is not
 * ended, roots first. */
static void check_resume(tract_store *s)
{
	tract_info_list *l = NULL;
	const char *want = NULL;
	tract *t = NULL;
	size_t i;
	int rc;

	if (tract_store_tract_list(&l, s) != 0)
		crash_die("tract list: %s", tract_error_last()->message);
	for (i = 0; i < l->count && !want; i++)
		if (l->items[i].is_active && l->items[i].commit_count && !l->items[i].parent_tract_id)
			want = l->items[i].tract_id;
	for (i = 0; i < l->count && !want; i++)
		if (l->items[i].is_active && l->items[i].commit_count)
			want = l->items[i].tract_id;
	rc = tract_resume(&t, s, NULL);
	if (want ? rc != 0 || strcmp(tract_id(t), want) != 0 : rc != TRACT_ENOTFOUND)
		crash_die("resume gave %s, not %s", rc == 0 ? tract_id(t) : "nothing",
		          want ? want : "nothing");
	tract_free(t);
	tract_info_list_free(l);
}

/*
 * A compression killed after its 'z' line (main's tip, the last of three
 * turns whose middle one is pinned) and before its 'c' line: main is that
 * tip, or summary, pinned copy, summary on the first turn's parent,
 * nothing in between (ops.c op_compress).
 */
static size_t compress_cut, compress_cut_new;

static void check_compress(tract *t, const lines *got, size_t round_from)
{
	tract_commit *s2, *pc, *s1, *pinned;
	char head[HASH_LEN + 1], z[HASH_LEN + 1], rev[HASH_LEN + 8], base[HASH_LEN + 1];

	if (got->n <= round_from || got->h[got->n - 1][0] != 'z')
		return;
	memcpy(z, got->h[got->n - 1] + 2, HASH_LEN);
	z[HASH_LEN] = '\0';
	if (tract_head_get(head, NULL, NULL, t) != 0)
		crash_die("read HEAD: %s", tract_error_last()->message);
	compress_cut++;
	if (strcmp(head, z) == 0)
		return; /* all old */
	compress_cut_new++;
	snprintf(rev, sizeof(rev), "%s~3", z);
	if (tract_revision_resolve(base, t, rev) != 0)
		crash_die("resolve %s: %s", rev, tract_error_last()->message);
	snprintf(rev, sizeof(rev), "%s~1", z);
	pinned = lookup(t, rev);
	s2 = lookup(t, head);
	pc = lookup(t, tract_commit_parent(s2));
	s1 = lookup(t, tract_commit_parent(pc));
	if (strcmp(tract_commit_message(s2) ? tract_commit_message(s2) : "",
	           "Compressed 1 commits") != 0 ||
	    strcmp(tract_commit_content_hash(pc), tract_commit_content_hash(pinned)) != 0 ||
	    strcmp(tract_commit_message(s1) ? tract_commit_message(s1) : "",
	           "Compressed 1 commits") != 0 ||
	    !tract_commit_parent(s1) || strcmp(tract_commit_parent(s1), base) != 0)
		crash_die("a killed compression left main at %s: neither its old tip %s nor "
		          "the compressed form",
		          head, z);
	tract_commit_free(s2);
	tract_commit_free(pc);
	tract_commit_free(s1);
	tract_commit_free(pinned);
}

/*
 * A gc killed after its 'g' line (the orphan it is to remove) and before
 * its next line: main is still the kept commit, and the orphan is either
 * there (nothing removed) or gone (the whole gc); fsck is clean either way.
 */
static size_t gc_cut, gc_cut_new;

static void check_gc(tract *t, const lines *got, size_t round_from)
{
	tract_commit *c = NULL;
	char head[HASH_LEN + 1], drop[HASH_LEN + 1];
	const char *keep = NULL;
	int rc;

	if (got->n <= round_from || got->h[got->n - 1][0] != 'g')
		return;
	memcpy(drop, got->h[got->n - 1] + 2, HASH_LEN);
	drop[HASH_LEN] = '\0';
	for (size_t i = got->n - 1; i-- > 0 && !keep;)
		if (got->h[i][0] == 'c')
			keep = got->h[i] + 2;
	if (tract_head_get(head, NULL, NULL, t) != 0)
		crash_die("read HEAD: %s", tract_error_last()->message);
	if (keep && strncmp(head, keep, HASH_LEN) != 0)
		crash_die("a killed gc moved main to %s (it was %.64s)", head, keep);
	gc_cut++;
	rc = tract_commit_lookup(&c, t, drop);
	if (rc == 0)
		tract_commit_free(c);
	else if (rc == TRACT_ENOTFOUND)
		gc_cut_new++;
	else
		crash_die("lookup %s: %s", drop, tract_error_last()->message);
}

static size_t verify(crash_ctx *cx, const lines *got, size_t clones_from, size_t round_from)
{
	tract_commit_list *log = NULL;
	tract_store *s = NULL;
	tract *t = NULL;
	tract_commit *c = NULL;
	char(*have)[HASH_LEN + 1], (*want)[HASH_LEN + 1];
	size_t n_log, n_want, i;

	if (tract_store_open(&s, cx->uri, 0) != 0 || tract_open(&t, s, cx->id, NULL) != 0)
		crash_die("reopen: %s", tract_error_last()->message);
	fsck_clean(s, "the store");
	if (tract_log_list(&log, t, NULL) != 0)
		crash_die("log: %s", tract_error_last()->message);
	n_log = log->count;
	have = malloc((n_log + 1) * sizeof(*have));
	if (!have)
		crash_die("out of memory");
	for (i = 0; i < n_log; i++) {
		const char *parent = tract_commit_parent(log->items[i]);

		/* Linear: each commit's parent is the next one, the last a root. */
		if (i + 1 < n_log ? !parent || strcmp(parent, tract_commit_hash(log->items[i + 1]))
		                  : parent != NULL)
			crash_die("the history is not linear at %s",
			          tract_commit_hash(log->items[i]));
		memcpy(have[i], tract_commit_hash(log->items[i]), HASH_LEN + 1);
	}
	tract_commit_list_free(log);
	qsort(have, n_log, sizeof(*have), cmp_line);
	want = of_kind(got, 'c', &n_want);
	for (i = 0; i < n_want; i++)
		if (!bsearch(want[i], have, n_log, sizeof(*have), cmp_line))
			crash_die("commit %s was reported done but is not on the history", want[i]);
	free(want);
	want = of_kind(got, 'a', &n_want);
	for (i = 0; i < n_want; i++) {
		tract_annotation_list *al = NULL;

		if (tract_annotation_list_get(&al, t, want[i]) != 0 || al->count == 0)
			crash_die("the annotation of %s was reported done but is not there",
			          want[i]);
		tract_annotation_list_free(al);
	}
	free(want);
	/* 'm': commits main reaches over all parents (merges) */
	want = of_kind(got, 'm', &n_want);
	if (n_want) {
		tract_ref_value main_ref;
		if (tract_txn_begin(s, TRACT_TXN_READ) != 0 ||
		    tract_ref_read(&main_ref, s, cx->id, "refs/heads/main") != 0)
			crash_die("read main: %s", tract_error_last()->message);
		for (i = 0; i < n_want; i++) {
			int yes = 0;
			if (tract_dag_is_ancestor(&yes, s, cx->id, want[i], main_ref.commit) != 0)
				crash_die("is_ancestor: %s", tract_error_last()->message);
			if (!yes)
				crash_die("commit %s was reported merged but main does not reach it",
					  want[i]);
		}
		tract_txn_end(s, 0);
	}
	free(want);
	check_rebase(t, got, round_from);
	/* Commits in child tracts: in the store. */
	want = of_kind(got, 'x', &n_want);
	for (i = 0; i < n_want; i++) {
		int n = 0, rc;
		if (s->be->begin(s->conn, TRACT_TXN_READ) != 0)
			crash_die("begin: %s", s->be->last_error(s->conn));
		rc = s->be->commit_get(s->conn, NULL, want[i], count_commit_cb, &n);
		s->be->commit(s->conn);
		if (rc != 0 || n != 1)
			crash_die("child commit %s was reported done but is not in the store", want[i]);
	}
	free(want);
	check_resume(s);
	check_compress(t, got, round_from);
	check_gc(t, got, round_from);
	/* Usable: one more commit. */
	if (tract_commit_create_dialogue(&c, t, "user", "after the crash", NULL, NULL) != 0)
		crash_die("a commit after the crash: %s", tract_error_last()->message);
	tract_commit_free(c);
	free(have);
	tract_free(t);
	tract_store_free(s);
	/* This round's clones: the reported ones whole, a killed one absent
	 * or whole. */
	for (i = clones_from; i < cx->n_clones; i++) {
		char uri[CRASH_URI], num[HASH_LEN + 1];
		size_t k;
		int rep = 0;

		crash_clone_uri(uri, cx, i);
		snprintf(num, sizeof(num), "%zu", i);
		for (k = 0; k < got->n && !rep; k++)
			rep = got->h[k][0] == 'k' &&
			      strncmp(got->h[k] + 2, num, strlen(num)) == 0 &&
			      got->h[k][2 + strlen(num)] == ' ';
		check_clone(uri, rep);
	}
	return n_log + 1;
}

void crash_clone_uri(char out[CRASH_URI], const crash_ctx *cx, size_t n)
{
	if (strcmp(cx->backend, "lmdb") == 0)
		snprintf(out, CRASH_URI, "lmdb:%s/clone-%zu", cx->dir, n);
	else
		snprintf(out, CRASH_URI, "sqlite:%s/clone-%zu.db", cx->dir, n);
}

/* The line kind that starts an operation the inside mode aims at. */
static char op_marker(const char *name)
{
	return strcmp(name, "compress") == 0 ? 'z' : strcmp(name, "gc") == 0 ? 'g' : 0;
}

static int marker_after(const lines *got, size_t from, char kind)
{
	for (size_t i = from; i < got->n; i++)
		if (got->h[i][0] == kind)
			return 1;
	return 0;
}

/* Every selected operation with a marker was killed inside n times. */
static int inside_done(const size_t *sel, size_t n_sel, size_t n)
{
	for (size_t i = 0; i < n_sel; i++) {
		const char *name = crash_op_get(sel[i])->name;
		if (strcmp(name, "compress") == 0 && compress_cut < n)
			return 0;
		if (strcmp(name, "gc") == 0 && gc_cut < n)
			return 0;
	}
	return 1;
}

static double elapsed(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
	const char *seed_env = getenv("TRACT_CRASH_SEED"),
	           *secs_env = getenv("TRACT_CRASH_SECONDS");
	int rounds = argc > 1 ? atoi(argv[1]) : 200, r, status, pg;
	unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10)
	                         : (unsigned)time(NULL) ^ (unsigned)getpid();
	double secs = secs_env ? atof(secs_env) : 4.0;
	/* TRACT_CRASH_INSIDE=N: kill each writer shortly after the line
	 * that starts its operation ('z' compress, 'g' gc) and run until
	 * every selected operation was killed inside N times (ROUNDS caps) */
	const char *inside_env = getenv("TRACT_CRASH_INSIDE");
	size_t inside = inside_env ? (size_t)strtoul(inside_env, NULL, 10) : 0;
	size_t n_ops = crash_op_count(), plen = 0, on_chain = 0;
	size_t *kills = calloc(n_ops, sizeof(size_t)), *done = calloc(n_ops, sizeof(size_t));
	size_t *sel = calloc(n_ops, sizeof(size_t)), n_sel = 0;
	char part[CRASH_LINE], clone_dir[] = "/tmp/tract-crash-clones-XXXXXX";
	struct timespec t0;
	lines got = {0};
	crash_ctx cx;
	ts_store st;
	tract_store *s;
	tract *t;

	r = ts_init("crash");
	if (r != 0)
		return r;
	if (rounds < 1 || !kills || !done || !sel)
		crash_die("usage: crash_driver [ROUNDS]");
	memset(&cx, 0, sizeof(cx));
	cx.backend = ts_backend();
	pg = ts_is("postgres");
	if (ts_fresh(&st, "crash") != 0 || !mkdtemp(clone_dir))
		crash_die("cannot make a store location");
	cx.dir = clone_dir;
	printf("%s: seed %u (TRACT_CRASH_SEED=%u repeats this run), at most %d rounds, %.1f s\n",
	       cx.backend, seed, seed, rounds, secs);
	srand(seed);
	if (tract_store_open(&s, st.uri, TRACT_STORE_CREATE) != 0 ||
	    tract_create(&t, s, NULL, "crash", NULL) != 0)
		crash_die("create: %s", tract_error_last()->message);
	snprintf(cx.id, sizeof(cx.id), "%s", tract_id(t));
	tract_free(t);
	tract_store_free(s);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* TRACT_CRASH_OPS=a,b,...: only those operations (their rounds rotate). */
	{
		const char *only = getenv("TRACT_CRASH_OPS");
		size_t k = 0;
		for (size_t i = 0; i < n_ops; i++) {
			const char *name = crash_op_get(i)->name, *p = only;
			size_t nl = strlen(name);
			int keep = !only || !*only;
			while (!keep && p && *p) {
				if (strncmp(p, name, nl) == 0 && (p[nl] == ',' || p[nl] == '\0'))
					keep = 1;
				p = strchr(p, ',');
				if (p)
					p++;
			}
			if (keep)
				sel[k++] = i;
		}
		n_sel = k;
		if (n_sel == 0)
			crash_die("TRACT_CRASH_OPS names no operation");
	}
	for (r = 0; r < rounds && (inside ? !inside_done(sel, n_sel, inside)
	                                  : ((size_t)r < n_sel || elapsed(&t0) < secs));
	     r++) {
		size_t oi = sel[(size_t)r % n_sel];
		const crash_op *op = crash_op_get(oi);
		const char *opts = ts_is("lmdb") ? lmdb_opts[(size_t)(r / (int)n_sel) % 4] : "";
		crash_child ch;
		/* A PostgreSQL writer needs a connection first. */
		int fds[2], delay_ms = (pg ? 30 : 2) + rand() % (op->max_ms * (pg ? 3 : 1));
		size_t before = got.n;
		pid_t pid;

		snprintf(cx.uri, sizeof(cx.uri), "%s%s", st.uri, opts);
		memset(&ch, 0, sizeof(ch));
		ch.cx = &cx;
		ch.seed = (unsigned)rand();
		ch.clone_base = cx.n_clones;
		/* Room for the clones this round may make (the writer is killed
		 * long before). */
		cx.n_clones += op->clones;
		if (pipe(fds) != 0)
			crash_die("pipe: %s", strerror(errno));
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			crash_die("fork: %s", strerror(errno));
		if (pid == 0) {
			close(fds[0]);
			ch.fd = fds[1];
			_exit(op->run(&ch));
		}
		close(fds[1]);
		if (inside && op_marker(op->name)) {
			/* wait for the operation to start, then a short random
			 * delay: most kills land inside it */
			struct timespec w0;
			clock_gettime(CLOCK_MONOTONIC, &w0);
			while (!marker_after(&got, before, op_marker(op->name)) &&
			       elapsed(&w0) < 20.0)
				collect(fds[0], &got, part, &plen, 2);
			delay_ms = rand() % (pg ? 120 : 30);
		}
		collect(fds[0], &got, part, &plen, delay_ms);
		if (kill(pid, SIGKILL) != 0 && errno != ESRCH)
			crash_die("kill: %s", strerror(errno));
		if (waitpid(pid, &status, 0) != pid)
			crash_die("waitpid: %s", strerror(errno));
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			crash_die("round %d (%s): the writer ended by itself (status %d)", r,
			          op->name, status);
		/* What it reported before it died is still in the pipe. */
		collect(fds[0], &got, part, &plen, -1);
		close(fds[0]);
		if (plen)
			crash_die("round %d: a torn report line", r);
		snprintf(cx.uri, sizeof(cx.uri), "%s", st.uri);
		on_chain = verify(&cx, &got, ch.clone_base, before);
		kills[oi]++;
		done[oi] += got.n - before;
		printf("round %3d %-11s %-21s killed after %3d ms: %4zu reported, %5zu on the "
		       "history, fsck clean\n",
		       r, op->name, *opts ? opts + 1 : "", delay_ms, got.n - before, on_chain);
	}
	for (size_t i = 0; i < n_ops; i++)
		printf("%-11s %3zu kills, %5zu successes reported\n", crash_op_get(i)->name,
		       kills[i], done[i]);
	if (rebases_cut)
		printf("rebases killed after their start: %zu (%zu all new, the others all old)\n",
		       rebases_cut, rebases_cut_new);
	if (compress_cut)
		printf("compressions killed after their start: %zu (%zu all new, the others all "
		       "old)\n",
		       compress_cut, compress_cut_new);
	if (gc_cut)
		printf("gcs killed after their start: %zu (%zu removed the orphan, the others "
		       "nothing)\n",
		       gc_cut, gc_cut_new);
	if (inside && !inside_done(sel, n_sel, inside))
		crash_die("%d rounds did not kill every operation inside it %zu times "
		          "(compress %zu, gc %zu)",
		          r, inside, compress_cut, gc_cut);
	if (got.n == 0)
		crash_die("no writer reported anything");
	printf("%s: %d writers killed; everything reported is there\n", cx.backend, r);
	free(got.h);
	free(sel);
	free(kills);
	free(done);
	ts_destroy(&st);
	ts_rmtree(clone_dir);
	return 0;
}
