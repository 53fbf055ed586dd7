/*
 * test_lmdb_damage.c - an LMDB store that is damaged or busy gives clean
 * errors: a data.mdb truncated to several sizes (before the open and under
 * an open handle), records with corrupt bytes or with LMDB's size of them
 * corrupt, and a writer that waits for the write lock no longer than
 * busy_timeout while another process holds it stopped (or another thread
 * of its own holds it).
 *
 * The damaged stores are read in a child process: a page past the end of
 * the file is SIGBUS, and a sanitizer turns a crash into a report and an
 * exit status, so only the child's clean exit 0 proves each operation
 * returned an error. The parent compares the file's bytes before and
 * after: nothing may be written to a damaged store.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin.h"
#include "tract.h"
#include "tract/sys/backend.h"

#define TURNS 300

/* ---- fixture ---------------------------------------------------------------- */

struct fx {
	char dir[256];   /* temporary directory, removed at teardown */
	char store[300]; /* the store directory inside it */
	char data[320];  /* its data.mdb */
	char uri[320];
	char id[80];     /* the tract written by fill() */
	const tract_backend *be;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/tract-lmdb-damage-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
	snprintf(f->data, sizeof(f->data), "%s/data.mdb", f->store);
	snprintf(f->uri, sizeof(f->uri), "lmdb:%s", f->store);
	assert_int_equal(tract_plugin_backend(&f->be, "lmdb"), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* A turn of about 300 bytes that names its number. */
static const char *turn_text(int i)
{
	static char buf[400];
	int n = snprintf(buf, sizeof(buf), "turn %d:", i);

	while (n < 300)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, " words of turn %d", i);
	return buf;
}

/* A store of one tract with TURNS turns (a few hundred KB, many pages). */
static void fill(struct fx *f)
{
	tract_store *s = NULL;
	tract *t = NULL;
	int i;

	assert_int_equal(tract_store_open(&s, f->uri, TRACT_STORE_CREATE), 0);
	assert_int_equal(tract_create(&t, s, NULL, NULL, NULL), 0);
	snprintf(f->id, sizeof(f->id), "%s", tract_id(t));
	assert_int_equal(tract_batch_begin(t), 0);
	for (i = 0; i < TURNS; i++)
		assert_int_equal(tract_commit_create_dialogue(NULL, t, "user", turn_text(i), NULL,
							      NULL),
				 0);
	assert_int_equal(tract_batch_commit(t), 0);
	tract_free(t);
	tract_store_free(s);
}

static unsigned char *read_all(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *b;
	long len;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	assert_true(len >= 0);
	rewind(fp);
	b = malloc((size_t)len + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	*n = (size_t)len;
	return b;
}

static void write_all(const char *path, const unsigned char *b, size_t n)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(b, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

/* The file holds exactly n bytes of b. */
static void assert_bytes(const char *path, const unsigned char *b, size_t n)
{
	size_t m;
	unsigned char *now = read_all(path, &m);

	assert_int_equal(m, n);
	assert_memory_equal(now, b, n);
	free(now);
}

/* Run fn in a child; it must exit 0 by itself (no signal, no sanitizer). */
static void in_child(int (*fn)(const struct fx *f, size_t arg), const struct fx *f, size_t arg)
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(f, arg));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("the child died of signal %d", WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("the child exited with %d", WEXITSTATUS(status));
}

/* ---- in the child: every operation fails cleanly ------------------------------ */

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
				tract_error_last()->message);                                      \
			return 10 + __LINE__ % 100;                                                \
		}                                                                                  \
	} while (0)

/* A corrupt store's error: the code, and a message that says so. */
static bool corrupt_error(int rc, const char *word)
{
	return rc == TRACT_ECORRUPT && strstr(tract_error_last()->message, word) &&
	       !strchr(tract_error_last()->message, '\n');
}

/* log, compile, fsck and commit on an open store: all refused. */
static int ops_fail(tract_store *s, tract *t, const char *word)
{
	tract_commit_list *l = NULL;
	tract_context *ctx = NULL;
	tract_fsck_report *r = NULL;
	int rc;

	rc = tract_log_list(&l, t, NULL);
	CHECK(corrupt_error(rc, word) && !l);
	rc = tract_context_compile(&ctx, t, NULL);
	CHECK(corrupt_error(rc, word) && !ctx);
	/* fsck either reports problems or fails as a whole, named. */
	rc = tract_fsck_run(&r, s);
	if (rc == 0) {
		CHECK(r->count > 0);
		tract_fsck_report_free(r);
	} else {
		CHECK(corrupt_error(rc, word));
	}
	rc = tract_commit_create_dialogue(NULL, t, "user", "must not land", NULL, NULL);
	CHECK(corrupt_error(rc, word));
	return 0;
}

/* The store was truncated before the open: the open is refused. */
static int child_open_truncated(const struct fx *f, size_t size)
{
	tract_store *s = NULL;
	int rc;

	(void)size;
	rc = tract_store_open(&s, f->uri, 0);
	CHECK(corrupt_error(rc, "truncated") && !s);
	CHECK(strstr(tract_error_last()->message, "data.mdb"));
	/* Twice: nothing of the first attempt stays behind. */
	rc = tract_store_open(&s, f->uri, 0);
	CHECK(corrupt_error(rc, "truncated") && !s);
	return 0;
}

/* The file is cut under an open handle: every later transaction refuses it. */
static int child_cut_while_open(const struct fx *f, size_t size)
{
	tract_store *s = NULL;
	tract *t = NULL;
	int rc;

	CHECK(tract_store_open(&s, f->uri, 0) == 0);
	CHECK(tract_open(&t, s, f->id, NULL) == 0);
	CHECK(truncate(f->data, (off_t)size) == 0);
	rc = ops_fail(s, t, "truncated");
	tract_free(t);
	tract_store_free(s);
	return rc;
}

/* Records with corrupt bytes: reads and the commit are refused. */
static int child_corrupt_records(const struct fx *f, size_t unused)
{
	tract_store *s = NULL;
	tract *t = NULL;
	int rc;

	(void)unused;
	CHECK(tract_store_open(&s, f->uri, 0) == 0);
	CHECK(tract_open(&t, s, f->id, NULL) == 0);
	rc = ops_fail(s, t, "unreadable");
	tract_free(t);
	tract_store_free(s);
	return rc;
}

/* ---- truncation ------------------------------------------------------------- */

static void test_truncated(void **state)
{
	struct fx *f = *state;
	unsigned char *orig;
	size_t n, i, sizes[4];

	fill(f);
	orig = read_all(f->data, &n);
	assert_true(n >= 64 * 4096); /* many pages: the cuts fall inside the tree */
	sizes[0] = 8192;             /* the two meta pages only */
	sizes[1] = n / 4;
	sizes[2] = n / 2;
	sizes[3] = n / 10 * 9;
	for (i = 0; i < 4; i++) {
		/* Cut before the open. */
		write_all(f->data, orig, sizes[i]);
		in_child(child_open_truncated, f, sizes[i]);
		assert_bytes(f->data, orig, sizes[i]);
		/* Cut under an open handle. */
		write_all(f->data, orig, n);
		in_child(child_cut_while_open, f, sizes[i]);
		assert_bytes(f->data, orig, sizes[i]);
	}
	/* Restored, the store is whole again. */
	write_all(f->data, orig, n);
	{
		tract_store *s = NULL;
		tract_fsck_report *r = NULL;

		assert_int_equal(tract_store_open(&s, f->uri, 0), 0);
		assert_int_equal(tract_fsck_run(&r, s), 0);
		assert_int_equal(r->count, 0);
		tract_fsck_report_free(r);
		tract_store_free(s);
	}
	free(orig);
}

/* ---- corrupt records ---------------------------------------------------------- */

/*
 * In every commit record, the 32-bit length before the tract id (a
 * 32-character string) becomes far larger than the record. The bytes
 * are found by content: the layout of LMDB's pages is not assumed.
 */
static size_t corrupt_lengths(unsigned char *b, size_t n, const char *id)
{
	size_t idlen = strlen(id), i, hits = 0;
	uint32_t len = (uint32_t)idlen, big = 0x7ffffff0u;

	for (i = 4; i + idlen <= n; i++)
		if (memcmp(b + i, id, idlen) == 0 && memcmp(b + i - 4, &len, 4) == 0) {
			memcpy(b + i - 4, &big, 4);
			hits++;
		}
	return hits;
}

static void test_corrupt_records(void **state)
{
	struct fx *f = *state;
	unsigned char *b;
	size_t n;

	fill(f);
	b = read_all(f->data, &n);
	assert_true(corrupt_lengths(b, n, f->id) >= TURNS);
	write_all(f->data, b, n);
	in_child(child_corrupt_records, f, 0);
	assert_bytes(f->data, b, n);
	free(b);
}

/*
 * Worse: LMDB's own record of each commit value's size (the node header
 * before the 8-byte key) says 2 GiB, and the tract id's length says 1
 * GiB, so a decoder that trusted the value's size would read far past
 * the end of the file. The layout assumed is LMDB 0.9's leaf node: sizes
 * (low, high 16 bits), flags, key size, key, value.
 */
static size_t corrupt_node_sizes(unsigned char *b, size_t n, const char *id)
{
	size_t idlen = strlen(id), i, hits = 0;
	uint32_t len = (uint32_t)idlen, big = 0x40000000u;
	uint16_t hi = 0x7fff, ksize = 8;

	for (i = 4 + 117 + 16; i + idlen <= n; i++) {
		unsigned char *rec = b + i - 117, *node = rec - 16;

		if (memcmp(b + i, id, idlen) != 0 || memcmp(b + i - 4, &len, 4) != 0 ||
		    rec[0] != 1 || memcmp(node + 6, &ksize, 2) != 0)
			continue;
		memcpy(node + 2, &hi, 2);
		memcpy(b + i - 4, &big, 4);
		hits++;
	}
	return hits;
}

static void test_corrupt_node_sizes(void **state)
{
	struct fx *f = *state;
	unsigned char *b;
	size_t n;

	fill(f);
	b = read_all(f->data, &n);
	assert_true(corrupt_node_sizes(b, n, f->id) >= TURNS);
	write_all(f->data, b, n);
	in_child(child_corrupt_records, f, 0);
	assert_bytes(f->data, b, n);
	free(b);
}

/* ---- busy timeout ------------------------------------------------------------- */

static void write_byte(int fd, char c)
{
	assert_int_equal(write(fd, &c, 1), 1);
}

static char read_byte(int fd)
{
	char c = 0;

	if (read(fd, &c, 1) != 1)
		return 0;
	return c;
}

static int on_meta_copy(const char *key, const char *value, void *payload)
{
	(void)key;
	snprintf(payload, 64, "%s", value);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child: take the write transaction, write, then stop until continued. */
static int holder_child(const struct fx *f, int to_parent)
{
	tract_backend_conn *c;
	char err[256];

	if (f->be->open(&c, f->store, 0, err, sizeof(err)) != 0 ||
	    f->be->begin(c, TRACT_TXN_WRITE) != 0 || f->be->meta_set(c, "k", "held") != 0)
		return 2;
	write_byte(to_parent, 'w');
	raise(SIGSTOP); /* a hung writer: it holds both locks */
	if (f->be->commit(c) != 0)
		return 3;
	f->be->close(c);
	return 0;
}

static void test_busy_timeout(void **state)
{
	struct fx *f = *state;
	tract_backend_conn *c, *r;
	char err[256], loc[400], v[64] = "";
	int up[2], status = 0;
	int64_t t0, waited;
	pid_t pid;

	assert_int_equal(f->be->open(&c, f->store, TRACT_BACKEND_CREATE, err, sizeof(err)), 0);
	assert_int_equal(f->be->meta_set(c, "k", "before"), 0);
	f->be->close(c);
	assert_int_equal(pipe(up), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(up[0]);
		_exit(holder_child(f, up[1]));
	}
	close(up[1]);
	assert_int_equal(read_byte(up[0]), 'w');
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));

	snprintf(loc, sizeof(loc), "%s?busy_timeout=200", f->store);
	assert_int_equal(f->be->open(&c, loc, 0, err, sizeof(err)), 0);
	/* A writer gives up after the timeout, with SQLite's words... */
	alarm(20); /* a writer that waits for ever fails the test */
	t0 = now_ms();
	assert_int_equal(f->be->begin(c, TRACT_TXN_WRITE), TRACT_ESTORAGE);
	waited = now_ms() - t0;
	assert_non_null(strstr(f->be->last_error(c), "store busy: another writer holds it"));
	assert_true(waited >= 190);
	assert_true(waited < 3000);
	/* ...so does a write outside a transaction... */
	assert_int_equal(f->be->meta_set(c, "k", "mine"), TRACT_ESTORAGE);
	assert_non_null(strstr(f->be->last_error(c), "store busy"));
	/* ...while readers read the last committed state. */
	assert_int_equal(f->be->open(&r, f->store, 0, err, sizeof(err)), 0);
	assert_int_equal(f->be->meta_get(r, "k", on_meta_copy, v), 0);
	assert_string_equal(v, "before");

	/* Continued, the holder commits; then the writer goes through. */
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(f->be->meta_set(c, "k", "mine"), 0);
	alarm(0);
	assert_int_equal(f->be->meta_get(r, "k", on_meta_copy, v), 0);
	assert_string_equal(v, "mine");
	f->be->close(r);
	f->be->close(c);
	close(up[0]);
}

/* busy_timeout=0 fails at once; the option is checked. */
static void test_busy_timeout_option(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {"busy_timeout=", "busy_timeout=-1", "busy_timeout=5s",
					  "busy_timeout=1K", "busy_timeout=86400001"};
	tract_backend_conn *c;
	char err[256], loc[400];
	int64_t t0;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(loc, sizeof(loc), "%s?%s", f->store, bad[i]);
		assert_int_equal(f->be->open(&c, loc, TRACT_BACKEND_CREATE, err, sizeof(err)),
				 TRACT_EINVAL);
		assert_non_null(strstr(err, "for option busy_timeout"));
	}
	/* Zero: a held lock fails the writer at once (a child holds it; a
	 * second handle of this thread would be refused without waiting). */
	assert_int_equal(f->be->open(&c, f->store, TRACT_BACKEND_CREATE, err, sizeof(err)), 0);
	f->be->close(c);
	snprintf(loc, sizeof(loc), "%s?busy_timeout=0&sync=0", f->store);
	assert_int_equal(f->be->open(&c, loc, 0, err, sizeof(err)), 0);
	{
		int up[2], down[2], status;
		pid_t pid;

		assert_int_equal(pipe(up), 0);
		assert_int_equal(pipe(down), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			tract_backend_conn *h;

			close(up[0]);
			close(down[1]);
			if (f->be->open(&h, f->store, 0, err, sizeof(err)) != 0 ||
			    f->be->begin(h, TRACT_TXN_WRITE) != 0)
				_exit(2);
			write_byte(up[1], 'w');
			read_byte(down[0]);
			f->be->rollback(h);
			f->be->close(h);
			_exit(0);
		}
		close(up[1]);
		close(down[0]);
		assert_int_equal(read_byte(up[0]), 'w');
		t0 = now_ms();
		assert_int_equal(f->be->meta_set(c, "k", "v"), TRACT_ESTORAGE);
		assert_true(now_ms() - t0 < 1000);
		assert_non_null(strstr(f->be->last_error(c), "store busy"));
		write_byte(down[1], 'x');
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		close(up[0]);
		close(down[1]);
	}
	assert_int_equal(f->be->meta_set(c, "k", "v"), 0);
	f->be->close(c);
}

/* A handle of another thread holds the write transaction. */
struct holder {
	const struct fx *f;
	tract_backend_conn *c;
	int up[2], down[2];
	int rc;
};

static void *holder_thread(void *arg)
{
	struct holder *h = arg;

	h->rc = h->f->be->begin(h->c, TRACT_TXN_WRITE);
	if (h->rc == 0)
		h->rc = h->f->be->meta_set(h->c, "k", "thread");
	write_byte(h->up[1], 'w');
	read_byte(h->down[0]);
	if (h->rc == 0)
		h->rc = h->f->be->commit(h->c);
	return NULL;
}

/* Within one process the wait for another thread's writer is bounded too. */
static void test_busy_timeout_threads(void **state)
{
	struct fx *f = *state;
	struct holder h = {.f = f};
	tract_backend_conn *c;
	char err[256], loc[400], v[64] = "";
	pthread_t th;
	int64_t t0, waited;

	assert_int_equal(f->be->open(&h.c, f->store, TRACT_BACKEND_CREATE, err, sizeof(err)), 0);
	snprintf(loc, sizeof(loc), "%s?busy_timeout=150", f->store);
	assert_int_equal(f->be->open(&c, loc, 0, err, sizeof(err)), 0);
	assert_int_equal(pipe(h.up), 0);
	assert_int_equal(pipe(h.down), 0);
	assert_int_equal(pthread_create(&th, NULL, holder_thread, &h), 0);
	assert_int_equal(read_byte(h.up[0]), 'w');
	assert_int_equal(h.rc, 0);
	alarm(20);
	t0 = now_ms();
	assert_int_equal(f->be->meta_set(c, "k", "main"), TRACT_ESTORAGE);
	waited = now_ms() - t0;
	assert_non_null(strstr(f->be->last_error(c), "store busy: another writer holds it"));
	assert_true(waited >= 140 && waited < 3000);
	write_byte(h.down[1], 'x');
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(h.rc, 0);
	assert_int_equal(f->be->meta_set(c, "k", "main"), 0);
	alarm(0);
	assert_int_equal(f->be->meta_get(h.c, "k", on_meta_copy, v), 0);
	assert_string_equal(v, "main");
	f->be->close(c);
	f->be->close(h.c);
	close(h.up[0]);
	close(h.up[1]);
	close(h.down[0]);
	close(h.down[1]);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_truncated),
		T(test_corrupt_records),
		T(test_corrupt_node_sizes),
		T(test_busy_timeout),
		T(test_busy_timeout_option),
		T(test_busy_timeout_threads),
	};

	return cmocka_run_group_tests_name("lmdb-damage", tests, NULL, NULL);
}
