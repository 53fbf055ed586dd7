/*
 * test_lmdb.c - what only the LMDB backend promises: URI options, a map
 * that grows from a tiny size (also in the middle of a transaction and of
 * an iteration whose callback writes), several handles in one process,
 * several processes on one store (appends that all land, readers that
 * never block the writer, a map another process grew), the store format
 * check, reopening.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
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
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "plugin.h"
#include "tract.h"
#include "tract/sys/backend.h"

/* 2024-01-02 03:04:05 UTC, in microseconds. */
#define T0 (INT64_C(1704164645) * 1000000)

/* ---- fixture ---------------------------------------------------------------- */

struct fx {
	char dir[256];   /* temporary directory, removed at teardown */
	char store[300]; /* the store directory inside it */
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
	snprintf(f->dir, sizeof(f->dir), "%s/tract-lmdb-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
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

/* "lmdb:STORE" plus options (may be ""). */
static const char *uri_of(const struct fx *f, const char *opts)
{
	static char buf[2][512];
	static int turn;

	turn ^= 1;
	snprintf(buf[turn], sizeof(buf[turn]), "lmdb:%s%s%s", f->store, *opts ? "?" : "", opts);
	return buf[turn];
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

static off_t file_size(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

static tract_store *store_open(const char *uri, unsigned flags)
{
	tract_store *s = NULL;

	if (tract_store_open(&s, uri, flags) != 0)
		fail_msg("open %s: %s", uri, tract_error_last()->message);
	return s;
}

static void assert_fsck_clean(tract_store *s)
{
	tract_fsck_report *r = NULL;
	tract_fsck_problem *p;
	size_t n, i;

	assert_int_equal(tract_fsck_run(&r, s), 0);
	p = r->problems;
	n = r->count;
	for (i = 0; i < n; i++)
		print_error("fsck: %s: %s\n", p[i].object, p[i].message);
	assert_int_equal(n, 0);
	tract_fsck_report_free(r);
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

/* Compile t and check it holds exactly turns 0..n-1, in order. */
static void assert_turns(tract *t, int n)
{
	tract_context *ctx = NULL;
	char want[32];
	int i;

	assert_int_equal(tract_context_compile(&ctx, t, NULL), 0);
	assert_int_equal(tract_context_count(ctx), n);
	for (i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "turn %d:", i);
		assert_true(strncmp(tract_context_content(ctx, (size_t)i), want, strlen(want)) ==
			    0);
	}
	tract_context_free(ctx);
}

static int on_meta_copy(const char *key, const char *value, void *payload)
{
	(void)key;
	snprintf(payload, 64, "%s", value);
	return 0;
}

/* ---- options ------------------------------------------------------------------ */

static void test_options_accepted(void **state)
{
	struct fx *f = *state;
	static const char *const good[] = {
		"",	"sync=0",	 "sync=1",	     "sync=data", "sync=off&map_size=1M",
		"map_size=65536", "map_size=64K", "map_size=2GiB", "map_size=1g&sync=yes",
		/* Far more than the machine's memory: the map is address space. */
		"map_size=4T",
	};
	tract_backend_conn *c;
	char loc[512], err[256];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(loc, sizeof(loc), "%s%s%s", f->store, *good[i] ? "?" : "", good[i]);
		err[0] = '\0';
		if (f->be->open(&c, loc, TRACT_BACKEND_CREATE, err, sizeof(err)) != 0)
			fail_msg("%s: %s", loc, err);
		/* Usable: a write and a read. */
		assert_int_equal(f->be->meta_set(c, "k", good[i]), 0);
		f->be->close(c);
	}
	assert_true(exists(f->store));
}

static void test_options_rejected(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *opts, *says;
	} bad[] = {
		{"sync=2", "'2' for option sync"},
		{"sync=", "'' for option sync"},
		{"sync=maybe", "'maybe' for option sync"},
		{"map_size=12", "'12' for option map_size"},
		{"map_size=abc", "'abc' for option map_size"},
		{"map_size=1X", "'1X' for option map_size"},
		{"map_size=-5", "'-5' for option map_size"},
		{"map_size=99999999999999999999999", "for option map_size"},
		{"map_size=17T", "'17T' for option map_size"},
		{"map_size=64KB2", "'64KB2' for option map_size"},
		{"frob=1", "unknown option 'frob'"},
		{"sync", "bad option 'sync'"},
		{"=1", "bad option '=1'"},
		{"sync=0&map_size=1", "'1' for option map_size"},
	};
	tract_backend_conn *c = (tract_backend_conn *)f;
	tract_store *s = (tract_store *)f;
	char loc[512], uri[520], err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(loc, sizeof(loc), "%s?%s", f->store, bad[i].opts);
		err[0] = '\0';
		assert_int_equal(f->be->open(&c, loc, TRACT_BACKEND_CREATE, err, sizeof(err)),
				 TRACT_EINVAL);
		assert_null(c);
		if (!strstr(err, bad[i].says))
			fail_msg("%s: message '%s' lacks '%s'", loc, err, bad[i].says);
		assert_null(strchr(err, '\n'));
		/* Nothing was created. */
		assert_false(exists(f->store));
		/* The same through the library. */
		snprintf(uri, sizeof(uri), "lmdb:%s", loc);
		assert_int_equal(tract_store_open(&s, uri, TRACT_STORE_CREATE), TRACT_EINVAL);
		assert_null(s);
		assert_non_null(strstr(tract_error_last()->message, bad[i].says));
		assert_false(exists(f->store));
	}
	err[0] = '\0';
	assert_int_equal(f->be->open(&c, "?sync=0", TRACT_BACKEND_CREATE, err, sizeof(err)),
			 TRACT_EINVAL);
	assert_non_null(strstr(err, "no store directory"));
}

/* ---- opening ---------------------------------------------------------------- */

static void test_open_missing_and_wrong(void **state)
{
	struct fx *f = *state;
	tract_backend_conn *c;
	char err[512], path[400];
	FILE *fp;

	/* A missing directory, and an empty one: not found, nothing created. */
	assert_int_equal(f->be->open(&c, f->store, 0, err, sizeof(err)), TRACT_ENOTFOUND);
	assert_non_null(strstr(err, "not found"));
	assert_false(exists(f->store));
	assert_int_equal(mkdir(f->store, 0755), 0);
	assert_int_equal(f->be->open(&c, f->store, 0, err, sizeof(err)), TRACT_ENOTFOUND);
	snprintf(path, sizeof(path), "%s/data.mdb", f->store);
	assert_false(exists(path));
	/* A regular file is not a store. */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("not a store", fp);
	fclose(fp);
	assert_int_equal(f->be->open(&c, path, TRACT_BACKEND_CREATE, err, sizeof(err)),
			 TRACT_EINVAL);
	assert_non_null(strstr(err, "not a directory"));
	/* No parent directory: a clear error, not a crash. */
	snprintf(path, sizeof(path), "%s/no/such/dir", f->dir);
	assert_true(f->be->open(&c, path, TRACT_BACKEND_CREATE, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot create the store directory"));
}

/* Write straight into the environment with liblmdb (a foreign writer). */
static void raw_put(const char *dir, const char *db, const char *key, const char *value)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	/* The plugin's string keys end with their NUL. */
	MDB_val k = {strlen(key) + 1, (void *)key}, v = {strlen(value) + 1, (void *)value};

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_format_checked(void **state)
{
	struct fx *f = *state;
	tract_backend_conn *c;
	char err[512];

	/* A newer store format is refused, named. */
	assert_int_equal(f->be->open(&c, f->store, TRACT_BACKEND_CREATE, err, sizeof(err)), 0);
	f->be->close(c);
	raw_put(f->store, "info", "format", "2");
	assert_int_equal(f->be->open(&c, f->store, 0, err, sizeof(err)), TRACT_EVERSION);
	assert_non_null(strstr(err, "format 2"));
	assert_null(c);

	/* An LMDB environment of something else is not taken over. */
	snprintf(f->store, sizeof(f->store), "%s/other", f->dir);
	assert_int_equal(mkdir(f->store, 0755), 0);
	raw_put(f->store, "accounts", "alice", "42");
	assert_int_equal(f->be->open(&c, f->store, TRACT_BACKEND_CREATE, err, sizeof(err)),
			 TRACT_ECORRUPT);
	assert_non_null(strstr(err, "not a tract store"));
}

static void test_reopen_and_shared_handles(void **state)
{
	struct fx *f = *state;
	tract_store *a, *b;
	tract *ta, *tb;
	char id[64], head[65];
	int i;

	a = store_open(uri_of(f, "sync=0"), TRACT_STORE_CREATE);
	assert_int_equal(tract_create(&ta, a, NULL, "shared", NULL), 0);
	snprintf(id, sizeof(id), "%s", tract_id(ta));
	/* A second handle in the same process (LMDB's environment is shared). */
	b = store_open(uri_of(f, ""), 0);
	assert_int_equal(tract_open(&tb, b, id, NULL), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(tract_commit_create_dialogue(NULL, i % 2 ? tb : ta, "user", turn_text(i),
						       NULL, NULL),
				 0);
	assert_turns(ta, 4);
	assert_turns(tb, 4);

	/* The write transaction of one handle makes the other's write in the
	 * same thread fail at once instead of waiting for ever. */
	assert_int_equal(tract_batch_begin(ta), 0);
	assert_int_equal(tract_commit_create_dialogue(NULL, ta, "user", turn_text(4), NULL, NULL), 0);
	assert_true(tract_commit_create_dialogue(NULL, tb, "user", "blocked", NULL, NULL) < 0);
	assert_non_null(strstr(tract_error_last()->message, "store busy"));
	assert_int_equal(tract_batch_commit(ta), 0);
	assert_int_equal(tract_commit_create_dialogue(NULL, tb, "user", turn_text(5), NULL, NULL), 0);

	/* Closing one handle leaves the other working. */
	tract_free(ta);
	tract_store_free(a);
	assert_turns(tb, 6);
	assert_int_equal(tract_head_get(head, NULL, NULL, tb), 0);
	tract_free(tb);
	tract_store_free(b);

	/* Reopened: everything is there. */
	a = store_open(uri_of(f, ""), 0);
	assert_int_equal(tract_open(&ta, a, id, NULL), 0);
	assert_turns(ta, 6);
	assert_fsck_clean(a);
	tract_free(ta);
	tract_store_free(a);
}

static int meta_rows;

static int on_meta_count(const char *key, const char *value, void *payload)
{
	(void)key;
	(void)value;
	(void)payload;
	meta_rows++;
	return 0;
}

/* LMDB keys have a size limit: a longer one is refused, named, unwritten. */
static void test_key_too_long(void **state)
{
	struct fx *f = *state;
	tract_backend_conn *c;
	char err[256], key[700], v[64];

	assert_int_equal(f->be->open(&c, f->store, TRACT_BACKEND_CREATE, err, sizeof(err)), 0);
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	assert_int_equal(f->be->meta_set(c, key, "v"), TRACT_EINVAL);
	assert_non_null(strstr(f->be->last_error(c), "metadata key is too long"));
	/* Nothing was written; reads of such a key find nothing. */
	assert_int_equal(f->be->meta_get(c, key, on_meta_copy, v), TRACT_ENOTFOUND);
	meta_rows = 0;
	assert_int_equal(f->be->meta_foreach(c, NULL, on_meta_count, NULL), 0);
	assert_int_equal(meta_rows, 0);
	/* The longest key that fits is fine. */
	key[510] = '\0';
	assert_int_equal(f->be->meta_set(c, key, "v"), 0);
	assert_int_equal(f->be->meta_get(c, key, on_meta_copy, v), 0);
	assert_string_equal(v, "v");
	f->be->close(c);
}

/* ---- map growth ------------------------------------------------------------- */

static void test_map_grows_from_tiny(void **state)
{
	struct fx *f = *state;
	tract_store *s;
	tract *t;
	char id[64], data[400];
	int i;

	s = store_open(uri_of(f, "map_size=64K&sync=0"), TRACT_STORE_CREATE);
	assert_int_equal(tract_create(&t, s, NULL, NULL, NULL), 0);
	snprintf(id, sizeof(id), "%s", tract_id(t));
	/* One transaction far larger than the map: it must grow (and the
	 * transaction be replayed) several times on the way. */
	assert_int_equal(tract_batch_begin(t), 0);
	for (i = 0; i < 1500; i++)
		if (tract_commit_create_dialogue(NULL, t, "user", turn_text(i), NULL, NULL) != 0)
			fail_msg("commit %d: %s", i, tract_error_last()->message);
	assert_int_equal(tract_batch_commit(t), 0);
	/* Then one transaction per commit. */
	for (; i < 2000; i++)
		if (tract_commit_create_dialogue(NULL, t, "user", turn_text(i), NULL, NULL) != 0)
			fail_msg("commit %d: %s", i, tract_error_last()->message);
	assert_turns(t, 2000);
	tract_free(t);
	tract_store_free(s);

	snprintf(data, sizeof(data), "%s/data.mdb", f->store);
	assert_true(file_size(data) > 1024 * 1024);

	/* Reopened without the option: the size the store grew to is kept. */
	s = store_open(uri_of(f, ""), 0);
	assert_int_equal(tract_open(&t, s, id, NULL), 0);
	assert_turns(t, 2000);
	assert_fsck_clean(s);
	tract_free(t);
	tract_store_free(s);
}

static int64_t count_blob_rows;

static int on_blob_count(const tract_blob_row *row, void *payload)
{
	(void)row;
	(void)payload;
	count_blob_rows++;
	return 0;
}

/* A callback that writes a large blob for every row it is given. */
struct grower {
	struct fx *f;
	tract_backend_conn *c;
	size_t rows, base; /* rows seen, and before the current walk */
	char last[65];
	bool ordered;
	char *big;
};

static void grower_put(struct grower *g)
{
	tract_blob_row b = {0};
	char hash[65];

	snprintf(hash, sizeof(hash), "%064zx", (size_t)0xb000000 + g->rows);
	b.content_hash = hash;
	b.payload_json = g->big;
	b.byte_size = (int64_t)strlen(g->big);
	b.created_at = T0;
	assert_int_equal(g->f->be->blob_put(g->c, &b, NULL), 0);
}

static int on_commit_grow(const tract_commit_row *row, void *payload)
{
	struct grower *g = payload;

	if (g->rows && strcmp(row->commit_hash, g->last) <= 0)
		g->ordered = false;
	snprintf(g->last, sizeof(g->last), "%s", row->commit_hash);
	g->rows++;
	grower_put(g);
	return 0;
}

static int on_chain_grow(const tract_chain_row *row, void *payload)
{
	struct grower *g = payload;

	/* Newest first: hashes count down. */
	if (g->rows > g->base && strcmp(row->commit.commit_hash, g->last) >= 0)
		g->ordered = false;
	if (!row->payload_json || !strstr(row->payload_json, "payload"))
		g->ordered = false;
	snprintf(g->last, sizeof(g->last), "%s", row->commit.commit_hash);
	g->rows++;
	grower_put(g);
	return 0;
}

/*
 * The map fills inside a callback of an iteration of a write transaction:
 * the transaction is rebuilt under it, and the iteration goes on where it
 * was, every row once, in order.
 */
static void test_map_grows_under_iteration(void **state)
{
	struct fx *f = *state;
	struct grower g = {.f = f, .ordered = true};
	tract_blob_row b = {0};
	tract_commit_row r = {0};
	char loc[400], err[256], hash[65], parent[65] = "", blob[65];
	int i;

	snprintf(loc, sizeof(loc), "%s?map_size=64K", f->store);
	assert_int_equal(f->be->open(&g.c, loc, TRACT_BACKEND_CREATE, err, sizeof(err)), 0);
	g.big = malloc(20000);
	assert_non_null(g.big);
	memset(g.big, 'x', 19999);
	g.big[19999] = '\0';
	memcpy(g.big, "\"big", 4);
	g.big[19998] = '"';

	assert_int_equal(f->be->begin(g.c, TRACT_TXN_WRITE), 0);
	for (i = 0; i < 60; i++) {
		snprintf(blob, sizeof(blob), "%064x", 0xa000 + i);
		b.content_hash = blob;
		b.payload_json = "{\"payload\":1}";
		b.created_at = T0;
		assert_int_equal(f->be->blob_put(g.c, &b, NULL), 0);
		snprintf(hash, sizeof(hash), "%064x", 0xc000 + i);
		r = (tract_commit_row){.commit_hash = hash,
				       .tract_id = "t",
				       .parent_hash = i ? parent : NULL,
				       .content_hash = blob,
				       .content_type = "dialogue",
				       .operation = TRACT_OP_APPEND,
				       .created_at = T0 + i};
		assert_int_equal(f->be->commit_put(g.c, &r), 0);
		memcpy(parent, hash, sizeof(hash));
	}
	/* 60 rows x 20 KB written from callbacks: the 64 KB map doubles
	 * several times, each time in the middle of the walk. */
	assert_int_equal(f->be->commit_foreach(g.c, "t", on_commit_grow, &g), 0);
	assert_int_equal(g.rows, 60);
	assert_true(g.ordered);
	g.base = g.rows;
	assert_int_equal(f->be->commit_chain(g.c, "t", parent, 0, TRACT_CHAIN_PAYLOAD,
					     INT64_MAX, on_chain_grow, &g),
			 0);
	assert_int_equal(g.rows, 120);
	assert_true(g.ordered);
	assert_int_equal(f->be->commit(g.c), 0);

	/* All of it was committed: 60 small blobs and 120 big ones. */
	count_blob_rows = 0;
	assert_int_equal(f->be->blob_foreach(g.c, on_blob_count, NULL), 0);
	assert_int_equal(count_blob_rows, 180);
	f->be->close(g.c);
	free(g.big);
}

/* A rolled back transaction that grew the map leaves nothing behind. */
static void test_growth_then_rollback(void **state)
{
	struct fx *f = *state;
	tract_backend_conn *c;
	tract_blob_row b = {0};
	char loc[400], err[256], hash[65], *big = malloc(50000);
	int i;

	assert_non_null(big);
	memset(big, 'y', 49999);
	big[49999] = '\0';
	snprintf(loc, sizeof(loc), "%s?map_size=64K", f->store);
	assert_int_equal(f->be->open(&c, loc, TRACT_BACKEND_CREATE, err, sizeof(err)), 0);
	assert_int_equal(f->be->begin(c, TRACT_TXN_WRITE), 0);
	for (i = 0; i < 40; i++) {
		snprintf(hash, sizeof(hash), "%064x", i);
		b.content_hash = hash;
		b.payload_json = big;
		assert_int_equal(f->be->blob_put(c, &b, NULL), 0);
	}
	assert_int_equal(f->be->rollback(c), 0);
	count_blob_rows = 0;
	assert_int_equal(f->be->blob_foreach(c, on_blob_count, NULL), 0);
	assert_int_equal(count_blob_rows, 0);
	/* The store still takes writes, and one that grows it outside a
	 * transaction of its own too. */
	b.content_hash = hash;
	b.payload_json = big;
	assert_int_equal(f->be->blob_put(c, &b, NULL), 0);
	count_blob_rows = 0;
	assert_int_equal(f->be->blob_foreach(c, on_blob_count, NULL), 0);
	assert_int_equal(count_blob_rows, 1);
	f->be->close(c);
	free(big);
}

/* ---- sequence numbers -------------------------------------------------------------- */

struct walked {
	size_t n;
	char hash[8][65];
	char parent[8][65];
	char payload[8][64];
};

static int on_walk(const tract_chain_row *row, void *payload)
{
	struct walked *w = payload;

	assert_true(w->n < 8);
	snprintf(w->hash[w->n], 65, "%s", row->commit.commit_hash);
	snprintf(w->parent[w->n], 65, "%s",
		 row->commit.parent_hash ? row->commit.parent_hash : "-");
	snprintf(w->payload[w->n], 64, "%s", row->payload_json ? row->payload_json : "-");
	w->n++;
	return 0;
}

static const char *hx(int i)
{
	static char buf[8][65];
	static int turn;

	turn = (turn + 1) % 8;
	snprintf(buf[turn], 65, "%064x", i);
	return buf[turn];
}

static void put_row(const struct fx *f, tract_backend_conn *c, int hash, int parent, int blob)
{
	char h[65], p[65], b[65], text[32];
	tract_blob_row br = {0};
	tract_commit_row r = {0};

	snprintf(h, sizeof(h), "%s", hx(hash));
	snprintf(p, sizeof(p), "%s", hx(parent));
	snprintf(b, sizeof(b), "%s", hx(blob));
	snprintf(text, sizeof(text), "{\"n\":%d}", blob);
	br.content_hash = b;
	br.payload_json = text;
	assert_int_equal(f->be->blob_put(c, &br, NULL), 0);
	r.commit_hash = h;
	r.tract_id = "t";
	r.parent_hash = parent ? p : NULL;
	r.content_hash = b;
	r.content_type = "dialogue";
	r.operation = TRACT_OP_APPEND;
	r.created_at = T0 + hash;
	assert_int_equal(f->be->commit_put(c, &r), 0);
}

/*
 * Records live under sequence numbers, and deleting the newest commit (or
 * blob) frees its number for the next one: walks through the reused
 * numbers must still find exactly the commits and payloads named.
 */
static void test_seq_reuse_after_delete(void **state)
{
	struct fx *f = *state;
	struct walked w = {0};
	tract_backend_conn *c;
	char err[256];

	assert_int_equal(f->be->open(&c, f->store, TRACT_BACKEND_CREATE, err, sizeof(err)), 0);
	put_row(f, c, 1, 0, 101);
	put_row(f, c, 2, 1, 102);
	put_row(f, c, 3, 2, 103);
	/* The newest commit and its blob go: seq 3 for both is free again. */
	assert_int_equal(f->be->commit_delete(c, hx(3)), 0);
	assert_int_equal(f->be->blob_delete(c, hx(103)), 0);
	put_row(f, c, 4, 2, 104); /* takes the freed numbers */
	put_row(f, c, 5, 4, 105);
	assert_int_equal(f->be->commit_chain(c, "t", hx(5), 0, TRACT_CHAIN_PAYLOAD, INT64_MAX,
					     on_walk, &w),
			 0);
	assert_int_equal(w.n, 4);
	assert_string_equal(w.hash[0], hx(5));
	assert_string_equal(w.hash[1], hx(4));
	assert_string_equal(w.payload[1], "{\"n\":104}");
	assert_string_equal(w.hash[2], hx(2));
	assert_string_equal(w.payload[2], "{\"n\":102}");
	assert_string_equal(w.hash[3], hx(1));
	assert_string_equal(w.parent[3], "-");

	/* A deleted middle commit: its child's parent becomes none, and a
	 * walk from the child ends there; the old chain is gone. */
	assert_int_equal(f->be->commit_delete(c, hx(4)), 0);
	memset(&w, 0, sizeof(w));
	assert_int_equal(f->be->commit_chain(c, "t", hx(5), 0, TRACT_CHAIN_PAYLOAD, INT64_MAX,
					     on_walk, &w),
			 0);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.parent[0], "-");
	assert_string_equal(w.payload[0], "{\"n\":105}");
	/* The deleted commit's hash can be written again, with another parent. */
	put_row(f, c, 4, 1, 104);
	memset(&w, 0, sizeof(w));
	assert_int_equal(f->be->commit_chain(c, "t", hx(4), 0, 0, INT64_MAX, on_walk, &w), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.hash[1], hx(1));
	f->be->close(c);
}

/* ---- several processes ---------------------------------------------------------- */

/* Append n turns (texts "p<who> <i>") to tract id of the store at uri. */
static int child_append(const char *uri, const char *id, int who, int n)
{
	tract_store *s = NULL;
	tract *t = NULL;
	char text[64];
	int i;

	if (tract_store_open(&s, uri, 0) != 0 || tract_open(&t, s, id, NULL) != 0)
		return 2;
	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "p%d %d", who, i);
		if (tract_commit_create_dialogue(NULL, t, "user", text, NULL, NULL) != 0) {
			fprintf(stderr, "child %d, commit %d: %s\n", who, i,
				tract_error_last()->message);
			return 3;
		}
	}
	tract_free(t);
	tract_store_free(s);
	return 0;
}

static void wait_ok(pid_t pid)
{
	int status = 0;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

#define PER_CHILD 150

/* Two processes append to one tract at once: no commit lost, one chain. */
static void test_two_processes_append(void **state)
{
	struct fx *f = *state;
	static const char *const opts[2] = {"sync=0", "sync=data"};
	tract_commit_list *l = NULL;
	tract_store *s;
	tract *t;
	char id[64];
	int seen[2][PER_CHILD] = {{0}};
	pid_t pid[2];
	size_t i;
	int k;

	s = store_open(uri_of(f, ""), TRACT_STORE_CREATE);
	assert_int_equal(tract_create(&t, s, NULL, NULL, NULL), 0);
	snprintf(id, sizeof(id), "%s", tract_id(t));
	tract_free(t);
	tract_store_free(s);

	for (k = 0; k < 2; k++) {
		const char *uri = uri_of(f, opts[k]);

		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0)
			_exit(child_append(uri, id, k, PER_CHILD));
	}
	wait_ok(pid[0]);
	wait_ok(pid[1]);

	s = store_open(uri_of(f, ""), 0);
	assert_int_equal(tract_open(&t, s, id, NULL), 0);
	/* One first-parent chain through all 300 commits... */
	assert_int_equal(tract_log_list(&l, t, NULL), 0);
	assert_int_equal(l->count, 2 * PER_CHILD);
	for (i = 0; i < l->count; i++) {
		const char *parent = tract_commit_parent(l->items[i]);

		if (i + 1 < l->count)
			assert_string_equal(parent, tract_commit_hash(l->items[i + 1]));
		else
			assert_null(parent);
	}
	tract_commit_list_free(l);
	/* ...holding each child's turns once, in each child's order. */
	{
		tract_context *ctx;
		int next[2] = {0, 0}, who, n;

		assert_int_equal(tract_context_compile(&ctx, t, NULL), 0);
		assert_int_equal(tract_context_count(ctx), 2 * PER_CHILD);
		for (i = 0; i < tract_context_count(ctx); i++) {
			assert_int_equal(sscanf(tract_context_content(ctx, i), "p%d %d", &who, &n),
					 2);
			assert_true(who == 0 || who == 1);
			assert_int_equal(n, next[who]);
			seen[who][n]++;
			next[who]++;
		}
		assert_int_equal(next[0], PER_CHILD);
		assert_int_equal(next[1], PER_CHILD);
		tract_context_free(ctx);
	}
	assert_fsck_clean(s);
	tract_free(t);
	tract_store_free(s);
}

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

/* The child: hold a read transaction while the parent writes. */
static int reader_child(const struct fx *f, int to_parent, int from_parent)
{
	tract_backend_conn *c;
	char err[256], v[64] = "";

	if (f->be->open(&c, f->store, 0, err, sizeof(err)) != 0 ||
	    f->be->begin(c, TRACT_TXN_READ) != 0 || f->be->meta_get(c, "k", on_meta_copy, v) != 0 ||
	    strcmp(v, "before") != 0)
		return 2;
	write_byte(to_parent, 'r'); /* holding the snapshot */
	if (read_byte(from_parent) != 'w')
		return 3;
	/* Still the snapshot... */
	if (f->be->meta_get(c, "k", on_meta_copy, v) != 0 || strcmp(v, "before") != 0)
		return 4;
	f->be->commit(c);
	/* ...and a new transaction sees the write. */
	if (f->be->meta_get(c, "k", on_meta_copy, v) != 0 || strcmp(v, "after") != 0)
		return 5;
	f->be->close(c);
	return 0;
}

/* A reader in another process does not block the writer. */
static void test_reader_does_not_block_writer(void **state)
{
	struct fx *f = *state;
	tract_backend_conn *c;
	int up[2], down[2];
	char err[256];
	pid_t pid;

	assert_int_equal(f->be->open(&c, f->store, TRACT_BACKEND_CREATE, err, sizeof(err)), 0);
	assert_int_equal(f->be->meta_set(c, "k", "before"), 0);
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		_exit(reader_child(f, up[1], down[0]));
	}
	close(up[1]);
	close(down[0]);
	assert_int_equal(read_byte(up[0]), 'r');
	/* The child holds its read transaction: the write goes through
	 * (a writer waiting for the reader would hang here until the alarm). */
	alarm(20);
	assert_int_equal(f->be->begin(c, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->meta_set(c, "k", "after"), 0);
	assert_int_equal(f->be->commit(c), 0);
	alarm(0);
	write_byte(down[1], 'w');
	wait_ok(pid);
	close(up[0]);
	close(down[1]);
	f->be->close(c);
}

/* Another process grows the map far beyond this handle's: it adopts it. */
static void test_map_grown_by_other_process(void **state)
{
	struct fx *f = *state;
	tract_store *s;
	tract *t;
	char id[64];
	pid_t pid;
	int i;

	s = store_open(uri_of(f, "map_size=64K"), TRACT_STORE_CREATE);
	assert_int_equal(tract_create(&t, s, NULL, NULL, NULL), 0);
	snprintf(id, sizeof(id), "%s", tract_id(t));
	assert_int_equal(tract_commit_create_dialogue(NULL, t, "user", turn_text(0), NULL, NULL), 0);
	assert_turns(t, 1);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		tract_store *cs = NULL;
		tract *ct = NULL;

		if (tract_store_open(&cs, uri_of(f, "sync=0"), 0) != 0 ||
		    tract_open(&ct, cs, id, NULL) != 0 || tract_batch_begin(ct) != 0)
			_exit(2);
		for (i = 1; i < 1200; i++)
			if (tract_commit_create_dialogue(NULL, ct, "user", turn_text(i), NULL, NULL) != 0)
				_exit(3);
		_exit(tract_batch_commit(ct) == 0 ? 0 : 4);
	}
	wait_ok(pid);
	/* This handle's map is still 64 KB; the data is megabytes now. */
	assert_turns(t, 1200);
	for (i = 1200; i < 1300; i++)
		assert_int_equal(tract_commit_create_dialogue(NULL, t, "user", turn_text(i), NULL, NULL), 0);
	assert_turns(t, 1300);
	assert_fsck_clean(s);
	tract_free(t);
	tract_store_free(s);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_options_accepted),
		T(test_options_rejected),
		T(test_open_missing_and_wrong),
		T(test_format_checked),
		T(test_reopen_and_shared_handles),
		T(test_key_too_long),
		T(test_map_grows_from_tiny),
		T(test_map_grows_under_iteration),
		T(test_growth_then_rollback),
		T(test_seq_reuse_after_delete),
		T(test_two_processes_append),
		T(test_reader_does_not_block_writer),
		T(test_map_grown_by_other_process),
	};

	return cmocka_run_group_tests_name("lmdb", tests, NULL, NULL);
}
