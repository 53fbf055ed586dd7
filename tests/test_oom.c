/*
 * test_oom.c - allocation-failure injection in the style of SQLite's tests:
 * every allocation the core makes goes through a counting hook that fails
 * the Nth one, N swept over every allocation of an operation; each failure
 * must return TRACT_ENOMEM, leak nothing and leave the store as it was.
 *
 * How the allocations are reached. The program links the core's static
 * archive with -Wl,--wrap=malloc,calloc,realloc,strdup,strndup,free, so the
 * core's calls (and this file's) land in __wrap_* below, which count, fail
 * when armed and otherwise call __real_* (under ASan that is ASan's own
 * malloc). cJSON is a shared library: cJSON_InitHooks routes its nodes and
 * printed strings through the same hooks. The core calls no other
 * allocating function of its own (checked with grep and nm: no
 * posix_memalign, asprintf, open_memstream; realpath allocates inside libc
 * and its result is freed through the wrap as an untracked pointer).
 * Outside the sweep: allocations inside the backend plugin (SQLite's,
 * dlopen'ed, resolved to the real malloc; sqlite3_config is not reachable
 * from the core), libcrypto and PCRE2 (the BPE counter's regex). The
 * plugin and the BPE table are loaded once before the sweeps (process-wide
 * caches that are never freed).
 *
 * One sweep, per operation: an unarmed run counts the allocations K the
 * operation makes from a known state; then for N = 1..K, from the same
 * state (a fresh copy of a prepared SQLite file, store and tract handles
 * opened and prepared unarmed), the Nth allocation fails, in two modes:
 * once (the allocations after it succeed) and persistent (every one from
 * the Nth on fails, which exercises error paths that allocate). Checks:
 *  - the operation returns TRACT_ENOMEM and tract_error_last() says
 *    ENOMEM. An operation that survives the failure (an allocation it may
 *    do without) must have succeeded correctly: its result and the store
 *    are compared with the unarmed run's. Whether it survived is counted;
 *  - the store is as it was: row counts through the backend (commits,
 *    blobs, annotations, refs, metadata keys), the log's hashes and the
 *    JSON rendering of the compiled context, read through the same tract
 *    handle (its compile cache and counters must not have kept anything
 *    of the failed operation) and through a fresh one;
 *  - then the operation, unarmed on the same handles, succeeds, and the
 *    result matches the unarmed run's (hashes aside: timestamps differ);
 *  - no leak: every allocation made during the iteration is recorded in a
 *    table of live pointers with its sequence number; once the handles
 *    are freed none made since the iteration began may be left.
 *    LeakSanitizer checks the whole process again at exit.
 * Backend faults: the plugin's own allocations are not reached, so a second
 * sweep per operation on an open store swaps the store's backend table for
 * a copy whose Nth data call returns TRACT_ENOMEM (what a plugin returns
 * when its allocation fails) without calling the plugin; the same checks
 * apply. close, rollback and last_error are never failed.
 * The operations run from a small history (six commits, one edit with its
 * own generation config, an annotation) so every N of every operation is
 * swept; no stride. Whole run: about 30 s under ASan+UBSan. Set
 * TRACT_OOM_VERBOSE=1 to print where a survived failure was made.
 * Single-threaded: the hooks take no lock.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "tract.h"
#include "testutil.h"

/* ---- the allocation hooks ------------------------------------------------------ */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void __wrap_free(void *p);

static struct {
	int counting;    /* count (and maybe fail) allocations */
	long count;      /* allocations counted since arming */
	long fail_at;    /* fail the fail_at-th one (0: none) */
	int persistent;  /* and every one after it */
	long failed;     /* allocations failed */
	unsigned long seq; /* every allocation, for the live table */
	void *fail_caller; /* where the (first) failed allocation was made */
} hk;

/* Live pointers allocated through the hooks: address -> sequence number. */
#define LIVE_BUCKETS 4096
typedef struct live_node {
	struct live_node *next;
	void *p;
	unsigned long seq;
	void *caller;
} live_node;
static live_node *live[LIVE_BUCKETS];

static size_t live_slot(const void *p)
{
	uintptr_t x = (uintptr_t)p >> 4;

	return (size_t)((x ^ (x >> 12)) % LIVE_BUCKETS);
}

static void live_add(void *p, void *caller)
{
	live_node *n;

	if (!p)
		return;
	n = __real_malloc(sizeof(*n));
	if (!n)
		abort();
	n->p = p;
	n->seq = ++hk.seq;
	n->caller = caller;
	n->next = live[live_slot(p)];
	live[live_slot(p)] = n;
}

static void live_del(void *p)
{
	live_node **pp;

	if (!p)
		return;
	for (pp = &live[live_slot(p)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->p == p) {
			live_node *n = *pp;
			*pp = n->next;
			__real_free(n);
			return;
		}
	}
	/* not ours: allocated by libc (realpath) or before the hooks */
}

/* Allocations still live that were made after sequence number since. */
static size_t live_since(unsigned long since, int print)
{
	size_t i, n = 0;
	live_node *l;

	for (i = 0; i < LIVE_BUCKETS; i++)
		for (l = live[i]; l; l = l->next)
			if (l->seq > since) {
				if (print)
					fprintf(stderr, "  leaked: %p (allocation %lu, from %p)\n",
						l->p, l->seq, l->caller);
				n++;
			}
	return n;
}

static int hook_fail_at(void *caller)
{
	if (!hk.counting)
		return 0;
	hk.count++;
	if (hk.fail_at > 0 &&
	    (hk.count == hk.fail_at || (hk.persistent && hk.count > hk.fail_at))) {
		if (!hk.failed++)
			hk.fail_caller = caller;
		return 1;
	}
	return 0;
}

#define hook_fail() hook_fail_at(__builtin_return_address(0))

void *__wrap_malloc(size_t n)
{
	void *p;

	if (hook_fail())
		return NULL;
	p = __real_malloc(n);
	live_add(p, __builtin_return_address(0));
	return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
	void *p;

	if (hook_fail())
		return NULL;
	p = __real_calloc(n, size);
	live_add(p, __builtin_return_address(0));
	return p;
}

void *__wrap_realloc(void *old, size_t n)
{
	void *p;

	if (hook_fail())
		return NULL;
	p = __real_realloc(old, n);
	if (p || n == 0)
		live_del(old);
	live_add(p, __builtin_return_address(0));
	return p;
}

char *__wrap_strdup(const char *s)
{
	char *p;

	if (hook_fail())
		return NULL;
	p = __real_strdup(s);
	live_add(p, __builtin_return_address(0));
	return p;
}

char *__wrap_strndup(const char *s, size_t n)
{
	char *p;

	if (hook_fail())
		return NULL;
	p = __real_strndup(s, n);
	live_add(p, __builtin_return_address(0));
	return p;
}

void __wrap_free(void *p)
{
	live_del(p);
	__real_free(p);
}

/* cJSON's hooks: its own calls through the same counter. */
static void *cjson_malloc(size_t n)
{
	void *p;

	if (hook_fail())
		return NULL;
	p = __real_malloc(n);
	live_add(p, __builtin_return_address(0));
	return p;
}

static void cjson_free(void *p)
{
	__wrap_free(p);
}

/*
 * Backend faults: the store's backend table swapped for a copy whose data
 * calls fail the Nth one with TRACT_ENOMEM (what a plugin returns when its
 * own allocation fails) instead of calling the plugin, which the core must
 * report as ENOMEM and roll back. close, rollback, last_error stay real.
 */
static struct {
	int sweep;        /* this sweep fails backend calls, not allocations */
	int counting;
	long count, fail_at;
	int persistent;
	const tract_backend *real;
	tract_backend faulty;
} bf;

static int bf_fail(void)
{
	if (!bf.counting)
		return 0;
	bf.count++;
	return bf.fail_at > 0 &&
	       (bf.count == bf.fail_at || (bf.persistent && bf.count > bf.fail_at));
}

#define BF(name, params, args)                                                         \
	static int bf_##name params                                                    \
	{                                                                              \
		return bf_fail() ? TRACT_ENOMEM : bf.real->name args;                  \
	}
#define C tract_backend_conn *c
BF(begin, (C, tract_txn_kind k), (c, k))
BF(commit, (C), (c))
BF(blob_put, (C, const tract_blob_row *r, int *ins), (c, r, ins))
BF(blob_get, (C, const char *h, tract_blob_cb cb, void *p), (c, h, cb, p))
BF(blob_foreach, (C, tract_blob_cb cb, void *p), (c, cb, p))
BF(commit_put, (C, const tract_commit_row *r), (c, r))
BF(commit_get, (C, const char *t, const char *h, tract_commit_cb cb, void *p),
   (c, t, h, cb, p))
BF(commit_prefix, (C, const char *t, const char *pre, size_t max, tract_commit_cb cb, void *p),
   (c, t, pre, max, cb, p))
BF(commit_chain, (C, const char *t, const char *h, size_t lim, unsigned fl, tract_time cut,
		  tract_chain_cb cb, void *p), (c, t, h, lim, fl, cut, cb, p))
BF(commit_foreach, (C, const char *t, tract_commit_cb cb, void *p), (c, t, cb, p))
BF(parent_list, (C, const char *h, tract_parent_cb cb, void *p), (c, h, cb, p))
BF(ref_get, (C, const char *t, const char *n, tract_ref_cb cb, void *p), (c, t, n, cb, p))
BF(ref_cas, (C, const char *t, const char *n, const char *h, const char *sym,
	     const tract_ref_row *exp), (c, t, n, h, sym, exp))
BF(ref_foreach, (C, const char *t, const char *pre, tract_ref_cb cb, void *p),
   (c, t, pre, cb, p))
BF(annotation_put, (C, const tract_annotation_row *r, int64_t *id), (c, r, id))
BF(annotation_list, (C, const char *h, tract_annotation_cb cb, void *p), (c, h, cb, p))
BF(annotation_foreach, (C, const char *t, tract_annotation_cb cb, void *p), (c, t, cb, p))
BF(compression_foreach, (C, const char *t, tract_compression_cb cb, void *p), (c, t, cb, p))
BF(spawn_foreach, (C, const char *t, tract_spawn_cb cb, void *p), (c, t, cb, p))
BF(meta_get, (C, const char *k, tract_meta_cb cb, void *p), (c, k, cb, p))
BF(meta_set, (C, const char *k, const char *v), (c, k, v))
BF(meta_foreach, (C, const char *pre, tract_meta_cb cb, void *p), (c, pre, cb, p))
BF(tract_foreach, (C, tract_tract_cb cb, void *p), (c, cb, p))
#undef C

static void bf_install(tract_store *s)
{
	bf.real = s->be;
	bf.faulty = *s->be;
#define SET(name) bf.faulty.name = bf_##name
	SET(begin);
	SET(commit);
	SET(blob_put);
	SET(blob_get);
	SET(blob_foreach);
	SET(commit_put);
	SET(commit_get);
	SET(commit_prefix);
	SET(commit_chain);
	SET(commit_foreach);
	SET(parent_list);
	SET(ref_get);
	SET(ref_cas);
	SET(ref_foreach);
	SET(annotation_put);
	SET(annotation_list);
	SET(annotation_foreach);
	SET(compression_foreach);
	SET(spawn_foreach);
	SET(meta_get);
	SET(meta_set);
	SET(meta_foreach);
	SET(tract_foreach);
#undef SET
	s->be = &bf.faulty;
}

static void arm(long fail_at, int persistent)
{
	if (bf.sweep) {
		bf.count = 0;
		bf.fail_at = fail_at;
		bf.persistent = persistent;
		bf.counting = 1;
		return;
	}
	hk.count = 0;
	hk.failed = 0;
	hk.fail_at = fail_at;
	hk.persistent = persistent;
	hk.counting = 1;
}

static long disarm(void)
{
	if (bf.sweep) {
		bf.counting = 0;
		bf.fail_at = 0;
		return bf.count;
	}
	hk.counting = 0;
	hk.fail_at = 0;
	return hk.count;
}

/* ---- the prepared store -------------------------------------------------------- */

#define TRACT_ID "oomtract"

static char dir[256];
static char template_path[300], work_path[300], work_uri[310], new_path[300], new_uri[310];

static void copy_file(const char *from, const char *to)
{
	size_t len;
	char *data = tu_read_file(from, &len);
	FILE *f;
	char side[320];

	assert_non_null(data);
	f = fopen(to, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(data);
	snprintf(side, sizeof(side), "%s-wal", to);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", to);
	unlink(side);
	snprintf(side, sizeof(side), "%s-journal", to);
	unlink(side);
}

static void remove_store_file(const char *path)
{
	char side[320];

	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-journal", path);
	unlink(side);
}

static int file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

#define CHECK(expr)                                                                    \
	do {                                                                           \
		if ((expr) < 0)                                                        \
			fail_msg("%s: %s", #expr, tract_error_last()->message);        \
	} while (0)

static char edit_target[65], first_hash[65];

static void prepare_template(void)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;
	tract_store *s = NULL;
	tract *t = NULL;
	char uri[320];

	snprintf(uri, sizeof(uri), "sqlite:%s", template_path);
	CHECK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK(tract_create(&t, s, TRACT_ID, "OOM sweep", NULL));
	CHECK(tract_commit_create_instruction(&c, t, "You are terse.", NULL));
	memcpy(first_hash, tract_commit_hash(c), 65);
	tract_commit_free(c);
	CHECK(tract_commit_create_dialogue(NULL, t, "user", "What is a tract?", "ann", NULL));
	o.generation_config_json = "{\"temperature\":0.5,\"model\":\"m1\"}";
	o.message = "answer";
	CHECK(tract_commit_create_dialogue(&c, t, "assistant", "A history of messages.", NULL,
					   &o));
	memcpy(edit_target, tract_commit_hash(c), 65);
	tract_commit_free(c);
	CHECK(tract_commit_create_dialogue(NULL, t, "user", "And a store?", NULL, NULL));
	o = (tract_commit_options)TRACT_COMMIT_OPTIONS_INIT;
	o.operation = TRACT_OP_EDIT;
	o.response_to = edit_target;
	o.generation_config_json = "{\"temperature\":0.2}";
	CHECK(tract_commit_create_dialogue(NULL, t, "assistant", "An ordered history.", NULL,
					   &o));
	CHECK(tract_commit_create_dialogue(NULL, t, "assistant", "Many tracts.", NULL, NULL));
	CHECK(tract_annotation_create(NULL, t, first_hash, TRACT_PRIORITY_PINNED, "keep"));
	tract_free(t);
	tract_store_free(s);
}

/* ---- describing a store and a tract ---------------------------------------------- */

static int count_cb(const void *row, void *payload)
{
	(void)row;
	(*(int *)payload)++;
	return 0;
}

static int meta_count_cb(const char *key, const char *value, void *payload)
{
	(void)key;
	(void)value;
	(*(int *)payload)++;
	return 0;
}

static void describe_counts(tract_buf *b, tract_store *s)
{
	int commits = 0, blobs = 0, annotations = 0, refs = 0, meta = 0;

	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_READ), 0);
	assert_int_equal(s->be->commit_foreach(s->conn, NULL, (tract_commit_cb)count_cb,
					       &commits), 0);
	assert_int_equal(s->be->blob_foreach(s->conn, (tract_blob_cb)count_cb, &blobs), 0);
	assert_int_equal(s->be->annotation_foreach(s->conn, NULL, (tract_annotation_cb)count_cb,
						   &annotations), 0);
	assert_int_equal(s->be->ref_foreach(s->conn, NULL, NULL, (tract_ref_cb)count_cb, &refs),
			 0);
	assert_int_equal(s->be->meta_foreach(s->conn, NULL, meta_count_cb, &meta), 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	tract_buf_printf(b, "commits %d blobs %d annotations %d refs %d meta %d\n", commits, blobs,
			 annotations, refs, meta);
}

/*
 * The state a tract shows: counts, log hashes (with_hashes) and the compiled
 * context (JSON with hashes, else the text rendering), as one string.
 */
static char *describe(tract *t, int with_hashes)
{
	tract_buf b = TRACT_BUF_INIT;
	tract_commit_list *log = NULL;
	tract_annotation_list *al = NULL;
	tract_context *ctx = NULL;
	char *text = NULL;
	size_t i;

	describe_counts(&b, t->store);
	CHECK(tract_log_list(&log, t, NULL));
	tract_buf_printf(&b, "log %zu\n", log->count);
	for (i = 0; with_hashes && i < log->count; i++)
		tract_buf_printf(&b, "%s\n", tract_commit_hash(log->items[i]));
	tract_commit_list_free(log);
	CHECK(tract_annotation_list_get(&al, t, first_hash));
	for (i = 0; i < al->count; i++)
		tract_buf_printf(&b, "annotation %s %s\n",
				 tract_priority_name(al->items[i].priority),
				 al->items[i].reason ? al->items[i].reason : "-");
	tract_annotation_list_free(al);
	CHECK(tract_context_compile(&ctx, t, NULL));
	CHECK(tract_context_render(&text, ctx, with_hashes ? TRACT_FORMAT_JSON : TRACT_FORMAT_TEXT));
	tract_buf_printf(&b, "%s\ntokens %" PRId64 " %s\n", text, tract_context_token_count(ctx),
			 tract_context_token_source(ctx));
	tract_string_free(text);
	tract_context_free(ctx);
	assert_non_null(b.ptr);
	return b.ptr;
}

/* The same through a fresh store handle and tract handle. */
static char *describe_fresh(const char *uri, int with_hashes)
{
	tract_store *s = NULL;
	tract *t = NULL;
	char *d;

	CHECK(tract_store_open(&s, uri, 0));
	CHECK(tract_open(&t, s, TRACT_ID, NULL));
	d = describe(t, with_hashes);
	tract_free(t);
	tract_store_free(s);
	return d;
}

static void assert_same(const char *what, long n, int persistent, const char *want,
			const char *got)
{
	if (strcmp(want, got) != 0) {
		fprintf(stderr, "--- want\n%s\n--- got\n%s\n", want, got);
		fail_msg("%s: after allocation %ld failed%s: the state differs", what, n,
			 persistent ? " (persistent)" : "");
	}
}

/* ---- the operations ------------------------------------------------------------ */

typedef struct {
	tract_store *s;
	tract *t;
	/* outputs, freed by out_free */
	tract_commit *commit;
	tract_context *ctx;
	tract_commit_list *log;
	tract_fsck_report *report;
	tract_clone_stats *stats;
	tract_gc_result *gc;
	tract_store *s2;
	tract *t2;
	char *text;
	int64_t id;
} env;

typedef struct {
	const char *name;
	int open_store;           /* open the work store before (unarmed) */
	int open_tract;           /* and the tract */
	void (*prep)(env *e);     /* unarmed preparation, may be NULL */
	int (*run)(env *e);       /* the operation, armed */
	int writes;               /* success changes the store */
	void (*check)(env *e);    /* checks a successful run's output, may be NULL */
} op;

static void out_free(env *e)
{
	tract_commit_free(e->commit);
	tract_context_free(e->ctx);
	tract_commit_list_free(e->log);
	tract_fsck_report_free(e->report);
	tract_clone_stats_free(e->stats);
	tract_gc_result_free(e->gc);
	e->gc = NULL;
	tract_free(e->t2);
	tract_store_free(e->s2);
	tract_string_free(e->text);
	e->commit = NULL;
	e->ctx = NULL;
	e->log = NULL;
	e->report = NULL;
	e->stats = NULL;
	e->t2 = NULL;
	e->s2 = NULL;
	e->text = NULL;
}

static int run_store_open(env *e)
{
	return tract_store_open(&e->s2, work_uri, 0);
}

static int run_store_create(env *e)
{
	return tract_store_open(&e->s2, new_uri, TRACT_STORE_CREATE);
}

static int run_tract_open(env *e)
{
	return tract_open(&e->t2, e->s, TRACT_ID, NULL);
}

static int run_tract_discover(env *e)
{
	return tract_open(&e->t2, e->s, NULL, NULL);
}

static int run_tract_create(env *e)
{
	return tract_create(&e->t2, e->s, "second", "Second tract", NULL);
}

static int run_commit(env *e)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;

	o.message = "a question";
	o.metadata_json = "{\"source\":\"test\",\"n\":[1,2]}";
	o.generation_config_json = "{\"temperature\":0.7,\"stop\":[\"x\"]}";
	return tract_commit_create(&e->commit, e->t,
				   "{\"content_type\":\"dialogue\",\"role\":\"user\","
				   "\"text\":\"Which backends are there?\"}",
				   &o);
}

static int run_commit_edit(env *e)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;

	o.operation = TRACT_OP_EDIT;
	o.response_to = first_hash;
	o.generation_config_json = "{\"model\":\"m2\"}";
	return tract_commit_create_instruction(&e->commit, e->t, "You are very terse.", &o);
}

/* A cached snapshot at HEAD: a commit derives the next one from it. */
static void prep_warm(env *e)
{
	tract_context *ctx = NULL;

	CHECK(tract_context_compile(&ctx, e->t, NULL));
	tract_context_free(ctx);
}

/* A budget (warn only): the commit compiles HEAD when nothing is cached. */
static void prep_budget(env *e)
{
	CHECK(tract_budget_set(e->t, 100000, TRACT_BUDGET_REJECT, NULL, NULL, 0));
}

/* main moved back to the edited answer (unarmed): three orphans. */
static void prep_orphans(env *e)
{
	tract_store *s = e->s;
	tract_ref_row exp;
	char head[65];

	CHECK(tract_head_get(head, NULL, NULL, e->t));
	memset(&exp, 0, sizeof(exp));
	exp.commit_hash = head;
	CHECK(s->be->begin(s->conn, TRACT_TXN_WRITE));
	CHECK(s->be->ref_cas(s->conn, TRACT_ID, "refs/heads/main", edit_target, NULL, &exp));
	CHECK(s->be->commit(s->conn));
	s->cache_epoch++;
}

static int run_gc(env *e)
{
	tract_gc_options o = TRACT_GC_OPTIONS_INIT;

	o.orphan_retention_days = 0;
	return tract_gc(&e->gc, e->t, &o);
}

static void check_gc(env *e)
{
	assert_int_equal(e->gc->commits_removed, 3);
}

static int run_list_tracts(env *e)
{
	tract_info_list *l = NULL;
	int rc = tract_store_list_tracts(&l, e->s);

	if (rc == 0) {
		assert_int_equal(l->count, 1);
		assert_string_equal(l->items[0].display_name, "OOM sweep");
		assert_int_equal(l->items[0].head != NULL, 1);
		assert_string_equal(l->items[0].branch, "main");
	}
	tract_info_list_free(l);
	return rc;
}

static void prep_compile_warm(env *e)
{
	tract_context *ctx = NULL;

	/* a cached snapshot at HEAD, then one commit: the next compile
	 * extends the cached one (incremental) */
	CHECK(tract_context_compile(&ctx, e->t, NULL));
	tract_context_free(ctx);
	CHECK(tract_commit_create_dialogue(NULL, e->t, "user", "Incremental?", NULL, NULL));
}

static int run_compile(env *e)
{
	int rc = tract_context_compile(&e->ctx, e->t, NULL);

	if (rc == 0)
		rc = tract_context_render(&e->text, e->ctx, TRACT_FORMAT_JSON);
	return rc;
}

static int run_compile_at(env *e)
{
	tract_compile_options o = TRACT_COMPILE_OPTIONS_INIT;

	o.at_commit = edit_target;
	o.edit_markers = 1;
	return tract_context_compile(&e->ctx, e->t, &o);
}

/* Tool calls as data (core/chat.c): compile, then the provider bodies of
 * a context holding a call, its result and reasoning. */
static void prep_tool_bodies(env *e)
{
	CHECK(tract_commit_create(NULL, e->t,
				  "{\"content_type\":\"tool_io\",\"tool_name\":\"calc\","
				  "\"direction\":\"call\",\"payload\":{\"e\":\"1+1\"}}",
				  NULL));
	CHECK(tract_commit_create(NULL, e->t,
				  "{\"content_type\":\"tool_io\",\"tool_name\":\"calc\","
				  "\"direction\":\"result\",\"status\":\"error\",\"payload\":"
				  "{\"text\":\"2\"}}",
				  NULL));
}

static int run_tool_bodies(env *e)
{
	char *o = NULL, *a = NULL;
	int rc = tract_context_compile(&e->ctx, e->t, NULL);

	if (rc == 0)
		rc = tract_context_render_with(&o, NULL, e->ctx, TRACT_FORMAT_OPENAI,
					       TRACT_RENDER_REASONING);
	if (rc == 0)
		rc = tract_context_render(&a, e->ctx, TRACT_FORMAT_ANTHROPIC);
	if (rc == 0) {
		size_t n = strlen(o) + strlen(a) + 2;
		e->text = malloc(n);
		if (!e->text)
			rc = tract_error_oom();
		else
			snprintf(e->text, n, "%s\n%s", o, a);
	}
	tract_string_free(o);
	tract_string_free(a);
	return rc;
}

/* A tool result naming its call: the commit checks the id against the
 * context compiled at HEAD. */
static void prep_tool_call(env *e)
{
	CHECK(tract_commit_create(NULL, e->t,
				  "{\"content_type\":\"tool_io\",\"tool_name\":\"calc\","
				  "\"direction\":\"call\",\"call_id\":\"call_1\",\"payload\":{}}",
				  NULL));
}

static int run_tool_result(env *e)
{
	return tract_commit_create(&e->commit, e->t,
				   "{\"content_type\":\"tool_io\",\"tool_name\":\"calc\","
				   "\"direction\":\"result\",\"call_id\":\"call_1\","
				   "\"payload\":{\"text\":\"2\"}}",
				   NULL);
}

/* tract_generate with an in-process provider answering a text and a tool
 * call (its own allocation: the client). */
struct tract_provider_client {
	int unused;
};

static int oom_client_create(tract_provider_client **out, const tract_provider_option *o,
			     size_t n, tract_provider_error *err)
{
	(void)o, (void)n;
	*out = calloc(1, sizeof(**out));
	if (!*out) {
		snprintf(err->message, sizeof(err->message), "out of memory");
		return TRACT_ENOMEM;
	}
	return 0;
}

static void oom_client_free(tract_provider_client *c)
{
	free(c);
}

static const tract_tool_call oom_calls[] = {{"call_oom_1", "calc", "{\"x\": 1}"}};

static int oom_chat(tract_provider_client *c, const tract_chat_request *req,
		    tract_chat_reply *reply, tract_provider_error *err)
{
	(void)c, (void)req, (void)err;
	reply->text = "Let me compute.";
	reply->tool_calls = oom_calls;
	reply->n_tool_calls = 1;
	reply->finish_reason = "tool_calls";
	reply->model = "oom-model";
	reply->usage.prompt_tokens = 10;
	reply->usage.completion_tokens = 3;
	reply->usage.total_tokens = 13;
	reply->raw_json = "{}";
	return 0;
}

static void oom_reply_clear(tract_provider_client *c, tract_chat_reply *reply)
{
	(void)c;
	memset(reply, 0, sizeof(*reply));
}

static const tract_provider oom_provider = {
	.version = TRACT_PROVIDER_VERSION,
	.name = "oom",
	.client_create = oom_client_create,
	.client_free = oom_client_free,
	.chat = oom_chat,
	.reply_clear = oom_reply_clear,
};

static int run_generate(env *e)
{
	tract_generate_options go = TRACT_GENERATE_OPTIONS_INIT;
	tract_generate_result *gr = NULL;
	tract_llm *llm = NULL;
	int rc;

	go.tools_json = "[{\"type\": \"function\", \"function\": {\"name\": \"calc\"}}]";
	rc = tract_llm_open_provider(&llm, &oom_provider, NULL);
	if (rc == 0)
		rc = tract_generate(&gr, e->t, llm, &go);
	if (rc == 0 && tract_generate_result_commit_count(gr) != 2)
		fail_msg("generate made %zu commits", tract_generate_result_commit_count(gr));
	tract_generate_result_free(gr);
	tract_llm_free(llm);
	return rc;
}

static int run_annotate(env *e)
{
	return tract_annotation_create(&e->id, e->t, edit_target, TRACT_PRIORITY_SKIP,
				       "not needed");
}

static int run_log(env *e)
{
	tract_buf b = TRACT_BUF_INIT;
	size_t i;
	int rc = tract_log_list(&e->log, e->t, NULL);

	/* and each commit as `log --json` prints it */
	for (i = 0; rc == 0 && i < e->log->count; i++) {
		char *json = NULL;
		rc = tract_commit_to_json(&json, e->log->items[i], 0);
		if (rc == 0 && tract_buf_printf(&b, "%s\n", json) < 0)
			rc = tract_error_oom();
		tract_string_free(json);
	}
	if (rc == 0)
		e->text = tract_buf_detach(&b);
	tract_buf_dispose(&b);
	return rc;
}

/* diff: the edit target against HEAD (an edit in between: both sides
 * compiled, a modified message with its unified diff), as JSON; then HEAD
 * against its parent (one side cut out of the other). */
static int run_diff(env *e)
{
	tract_diff_result *r = NULL;
	tract_buf b = TRACT_BUF_INIT;
	char *json = NULL;
	int rc = tract_diff(&r, e->t, edit_target, NULL, NULL);

	if (rc == 0)
		rc = tract_diff_result_to_json(&json, r);
	if (rc == 0 && tract_buf_printf(&b, "%s\n", json) < 0)
		rc = tract_error_oom();
	tract_string_free(json);
	json = NULL;
	tract_diff_result_free(r);
	r = NULL;
	if (rc == 0)
		rc = tract_diff(&r, e->t, NULL, NULL, NULL);
	if (rc == 0)
		rc = tract_diff_result_to_json(&json, r);
	if (rc == 0 && tract_buf_printf(&b, "%s\n", json) < 0)
		rc = tract_error_oom();
	tract_string_free(json);
	tract_diff_result_free(r);
	if (rc == 0)
		e->text = tract_buf_detach(&b);
	tract_buf_dispose(&b);
	return rc;
}

static void check_diff(env *e)
{
	assert_non_null(e->text);
	assert_non_null(strstr(e->text, "\"status\": \"modified\""));
	assert_non_null(strstr(e->text, "\"-A history of messages.\""));
	assert_non_null(strstr(e->text, "\"temperature\": [0.5, 0.2]") ||
			strstr(e->text, "\"config_changes\": {}"));
}

static int graph_cb(const tract_graph_line *line, void *payload)
{
	tract_buf *b = payload;

	if (tract_buf_printf(b, "%s%s %s\n", line->graph,
			     line->commit ? tract_commit_hash(line->commit) : "",
			     line->decoration) < 0)
		return tract_error_oom();
	return 0;
}

static int run_graph(env *e)
{
	tract_graph_options o = TRACT_GRAPH_OPTIONS_INIT;
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	o.all = 1;
	rc = tract_graph_foreach(e->t, &o, TRACT_LOG_CONTENT, graph_cb, &b);
	if (rc == 0)
		e->text = tract_buf_detach(&b);
	tract_buf_dispose(&b);
	return rc;
}

static void check_graph(env *e)
{
	assert_non_null(e->text);
	assert_non_null(strstr(e->text, "HEAD -> main"));
	assert_non_null(strstr(e->text, first_hash));
}

static int run_config_query(env *e)
{
	return tract_config_query(&e->log, e->t, "temperature", ">", "0.3");
}

static void check_config_query(env *e)
{
	assert_non_null(e->log);
	assert_int_equal(e->log->count, 1);
	assert_string_equal(tract_commit_generation_config(e->log->items[0]),
			    "{\"temperature\": 0.5, \"model\": \"m1\"}");
}

static int run_fsck(env *e)
{
	return tract_fsck_run(&e->report, e->s);
}

static int run_clone(env *e)
{
	char src[320];

	snprintf(src, sizeof(src), "sqlite:%s", work_path);
	return tract_store_clone(&e->stats, src, new_uri, NULL);
}

static void check_clone(env *e)
{
	char *a, *b;

	assert_non_null(e->stats);
	assert_int_equal(e->stats->commits, 6);
	a = describe_fresh(work_uri, 1);
	b = describe_fresh(new_uri, 1);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

static void check_fsck(env *e)
{
	assert_non_null(e->report);
	assert_int_equal(e->report->errors, 0);
}

/* The rendering a fresh handle gives (format JSON). */
static char *fresh_render(void)
{
	tract_store *s = NULL;
	tract *t = NULL;
	tract_context *ctx = NULL;
	char *text = NULL;

	CHECK(tract_store_open(&s, work_uri, 0));
	CHECK(tract_open(&t, s, TRACT_ID, NULL));
	CHECK(tract_context_compile(&ctx, t, NULL));
	CHECK(tract_context_render(&text, ctx, TRACT_FORMAT_JSON));
	tract_context_free(ctx);
	tract_free(t);
	tract_store_free(s);
	return text;
}

static void check_log(env *e)
{
	assert_non_null(e->log);
	assert_int_equal(e->log->count, 6);
	assert_non_null(e->text);
	assert_non_null(strstr(e->text, "\"generation_config\": {\"temperature\": 0.5, "
					"\"model\": \"m1\"}"));
	assert_non_null(strstr(e->text, "\"metadata\": null"));
}

static void check_compile(env *e)
{
	char *want;

	assert_non_null(e->ctx);
	assert_true(tract_context_count(e->ctx) >= 5);
	if (!e->text)
		return;
	want = fresh_render();
	if (strcmp(want, e->text) != 0)
		fail_msg("compile: rendering differs\n--- want\n%s\n--- got\n%s", want, e->text);
	tract_string_free(want);
}

static void check_commit(env *e)
{
	assert_non_null(e->commit);
	assert_int_equal(strlen(tract_commit_hash(e->commit)), 64);
}

static void check_store(env *e)
{
	assert_non_null(e->s2);
}

static void check_tract(env *e)
{
	assert_non_null(e->t2);
}

static const op ops[] = {
	{"store open", 0, 0, NULL, run_store_open, 0, check_store},
	{"store create", 0, 0, NULL, run_store_create, 1, check_store},
	{"tract open", 1, 0, NULL, run_tract_open, 0, check_tract},
	{"tract open (discovery)", 1, 0, NULL, run_tract_discover, 0, check_tract},
	{"tract create", 1, 0, NULL, run_tract_create, 1, check_tract},
	{"list tracts", 1, 0, NULL, run_list_tracts, 0, NULL},
	{"commit", 1, 1, NULL, run_commit, 1, check_commit},
	{"commit (edit)", 1, 1, NULL, run_commit_edit, 1, check_commit},
	{"commit (cached parent)", 1, 1, prep_warm, run_commit, 1, check_commit},
	{"commit (edit, cached)", 1, 1, prep_warm, run_commit_edit, 1, check_commit},
	{"commit (budget)", 1, 1, prep_budget, run_commit, 1, check_commit},
	{"compile (cold)", 1, 1, NULL, run_compile, 0, check_compile},
	{"compile (incremental)", 1, 1, prep_compile_warm, run_compile, 0, check_compile},
	{"compile (at commit)", 1, 1, NULL, run_compile_at, 0, NULL},
	{"render (provider bodies)", 1, 1, prep_tool_bodies, run_tool_bodies, 0, NULL},
	{"commit (tool result)", 1, 1, prep_tool_call, run_tool_result, 1, check_commit},
	{"generate (text and a tool call)", 1, 1, NULL, run_generate, 1, NULL},
	{"annotate", 1, 1, NULL, run_annotate, 1, NULL},
	{"log", 1, 1, NULL, run_log, 0, check_log},
	{"config query", 1, 1, NULL, run_config_query, 0, check_config_query},
	{"diff", 1, 1, NULL, run_diff, 0, check_diff},
	{"log --graph", 1, 1, NULL, run_graph, 0, check_graph},
	{"fsck", 1, 0, NULL, run_fsck, 0, check_fsck},
	{"clone", 0, 0, NULL, run_clone, 1, check_clone},
	{"gc", 1, 1, prep_orphans, run_gc, 1, check_gc},
};

/* ---- one sweep ------------------------------------------------------------------- */

static void setup_env(env *e, const op *o)
{
	memset(e, 0, sizeof(*e));
	copy_file(template_path, work_path);
	remove_store_file(new_path);
	if (o->open_store)
		CHECK(tract_store_open(&e->s, work_uri, 0));
	if (o->open_tract)
		CHECK(tract_open(&e->t, e->s, TRACT_ID, NULL));
	if (o->prep)
		o->prep(e);
	if (bf.sweep)
		bf_install(e->s);
}

static void teardown_env(env *e)
{
	out_free(e);
	tract_free(e->t);
	tract_store_free(e->s);
}

/* The tract to describe the store through (the op's own handle if any). */
static char *describe_env(env *e, int with_hashes)
{
	if (e->t)
		return describe(e->t, with_hashes);
	return describe_fresh(work_uri, with_hashes);
}

typedef struct {
	long k;
	long survived;
	double seconds;
} sweep_result;

static sweep_result sweep(const op *o, int persistent)
{
	sweep_result r = {0, 0, 0};
	char *before, *after, *got;
	struct timespec t0, t1;
	unsigned long mark;
	long n;
	env e;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* unarmed: K and the state a successful run leaves (hashes aside) */
	setup_env(&e, o);
	arm(0, 0);
	rc = o->run(&e);
	r.k = disarm();
	if (rc < 0)
		fail_msg("%s: unarmed run failed: %s", o->name, tract_error_last()->message);
	if (o->check)
		o->check(&e);
	out_free(&e);
	after = describe_env(&e, 0);
	teardown_env(&e);

	for (n = 1; n <= r.k; n++) {
		mark = hk.seq;
		setup_env(&e, o);
		/* the state before, per iteration: a preparation may commit */
		before = describe_fresh(work_uri, 1);
		arm(n, persistent);
		rc = o->run(&e);
		disarm();
		if (rc == 0) {
			/* survived: it must have done its job */
			r.survived++;
			if (getenv("TRACT_OOM_VERBOSE")) {
				Dl_info info;
				if (dladdr(hk.fail_caller, &info) && info.dli_fbase)
					fprintf(stderr,
						"%s: survived allocation %ld (from %s+%#lx)\n",
						o->name, n, info.dli_fname,
						(unsigned long)((char *)hk.fail_caller -
								(char *)info.dli_fbase));
			}
			if (o->check)
				o->check(&e);
			out_free(&e);
			got = describe_env(&e, 0);
			assert_same(o->name, n, persistent, after, got);
			free(got);
			teardown_env(&e);
		} else {
			if (rc != TRACT_ENOMEM || tract_error_last()->code != TRACT_ENOMEM)
				fail_msg("%s: %s %ld of %ld failed%s: returned %s (%d), "
					 "last error %s: %s",
					 o->name, bf.sweep ? "backend call" : "allocation", n, r.k,
					 persistent ? " (persistent)" : "", tract_error_name(rc), rc,
					 tract_error_name(tract_error_last()->code),
					 tract_error_last()->message);
			out_free(&e);
			if (o->run == run_store_create || o->run == run_clone)
				assert_false(file_exists(new_path));
			/* the same handles see the store as it was */
			got = describe_env(&e, 1);
			assert_same(o->name, n, persistent, before, got);
			free(got);
			if (e.t) {
				got = describe_fresh(work_uri, 1);
				assert_same(o->name, n, persistent, before, got);
				free(got);
			}
			/* and the operation works on them */
			rc = o->run(&e);
			if (rc < 0)
				fail_msg("%s: after allocation %ld failed%s, the unarmed retry "
					 "failed: %s",
					 o->name, n, persistent ? " (persistent)" : "",
					 tract_error_last()->message);
			if (o->check)
				o->check(&e);
			out_free(&e);
			got = describe_env(&e, 0);
			assert_same(o->name, n, persistent, after, got);
			free(got);
			teardown_env(&e);
		}
		free(before);
		if (live_since(mark, 0) > 0) {
			live_since(mark, 1);
			fail_msg("%s: allocation %ld of %ld failed%s: %zu allocations leaked",
				 o->name, n, r.k, persistent ? " (persistent)" : "",
				 live_since(mark, 0));
		}
	}
	free(after);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r.seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return r;
}

static void test_sweep(void **state)
{
	const op *o = *state;
	sweep_result once, pers;

	/* a work file of its own: a failed sweep may leave a connection open */
	snprintf(work_path, sizeof(work_path), "%s/work-%d.db", dir, (int)(o - ops));
	snprintf(work_uri, sizeof(work_uri), "sqlite:%s", work_path);
	once = sweep(o, 0);
	pers = sweep(o, 1);
	printf("oom: %-24s allocations   %3ld  survived %ld (once) %ld (persistent)  %.2fs\n",
	       o->name, once.k, once.survived, pers.survived, once.seconds + pers.seconds);
	if (o->open_store) {
		bf.sweep = 1;
		once = sweep(o, 0);
		pers = sweep(o, 1);
		bf.sweep = 0;
		printf("oom: %-24s backend calls %3ld  survived %ld (once) %ld (persistent)  "
		       "%.2fs\n", o->name, once.k, once.survived, pers.survived,
		       once.seconds + pers.seconds);
	}
}

static void silence(const char *msg, void *payload)
{
	(void)msg;
	(void)payload;
}

int main(void)
{
	struct CMUnitTest tests[sizeof(ops) / sizeof(ops[0])];
	cJSON_Hooks hooks = {cjson_malloc, cjson_free};
	tract_store *s = NULL;
	tract *t = NULL;
	tract_context *ctx = NULL;
	size_t i;
	int rc;

	cJSON_InitHooks(&hooks);
	tract_warning_hook_set(silence, NULL);
	/* tmpfs when there is one: clone's sweep creates a store per N */
	snprintf(dir, sizeof(dir), "%s/tract-oom-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	snprintf(template_path, sizeof(template_path), "%s/template.db", dir);
	snprintf(work_path, sizeof(work_path), "%s/work.db", dir);
	snprintf(work_uri, sizeof(work_uri), "sqlite:%s", work_path);
	snprintf(new_path, sizeof(new_path), "%s/new.db", dir);
	snprintf(new_uri, sizeof(new_uri), "sqlite:%s", new_path);
	prepare_template();
	/* process-wide caches filled once, outside the sweeps: the plugin and
	 * the default token counter */
	copy_file(template_path, work_path);
	if (tract_store_open(&s, work_uri, 0) < 0 || tract_open(&t, s, TRACT_ID, NULL) < 0 ||
	    tract_context_compile(&ctx, t, NULL) < 0) {
		fprintf(stderr, "setup: %s\n", tract_error_last()->message);
		return 1;
	}
	tract_context_free(ctx);
	tract_free(t);
	tract_store_free(s);

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(test_sweep, (void *)&ops[i]);
		tests[i].name = ops[i].name;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	tu_remove_dir(dir);
	return rc;
}
