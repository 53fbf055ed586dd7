/*
 * test_clone.c - tract_store_clone(): every fixture written by tract's
 * Python library and a store built here with every kind of row (merges,
 * edits, annotations, branches, a detached HEAD, spawn pointers,
 * compression records, metadata) clone SQLite -> SQLite with every table
 * equal row for row, every tract compiling and logging identically and
 * fsck clean; commits met before their parent still copy; refusals and
 * failures midway leave nothing behind; a 20k-commit clone runs in bounded
 * memory.
 *
 * Extra backends: TRACT_CLONE_TEST_URIS="URI;URI..." runs, for each URI,
 * every source SQLite -> URI -> SQLite and checks the middle store and the
 * round trip. "{}" in a URI is replaced by a fresh name per round trip;
 * without it the store at URI is EMPTIED (through the backend's delete
 * calls) before each round trip. Not run at all when unset (the suite's
 * clone-lmdb and clone-postgres tests set it: tests/run_clone_backends.sh).
 */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#if defined(__SANITIZE_ADDRESS__)
/* From <sanitizer/allocator_interface.h>, which gcc does not install:
 * bytes in live heap chunks (freed ones in quarantine excluded). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include "hash.h"
#include "internal.h"
#include "testutil.h"
#include "tract.h"

#define CHECK_OK(expr)                                                                             \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		if (rc_ != 0)                                                                      \
			fail_msg("%s returned %d (%s): %s", #expr, rc_, tract_error_name(rc_),     \
				 tract_error_last()->message);                                     \
	} while (0)

static const char *const fixture_names[] = {"v1_basic", "v2_basic", "v3_basic", "v4_basic"};
#define N_FIXTURES (sizeof(fixture_names) / sizeof(fixture_names[0]))

/* ------------------------------------------------------------------ */
/* files                                                               */
/* ------------------------------------------------------------------ */

static void tmp_dir(char dir[256])
{
	snprintf(dir, 256, "/tmp/tract-clone-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static int exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* No file at path, nor its SQLite side files. */
static void assert_absent(const char *path)
{
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	char p[600];
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		if (exists(p))
			fail_msg("%s exists after a failed clone", p);
	}
}

/* Copy fixture NAME.db into dir. The fixtures are in the repository
 * (tests/fixtures/py-tract, named by TRACT_FIXTURES as meson test sets it):
 * one that cannot be read fails the test. */
static void copy_fixture(char out[600], const char *dir, const char *name)
{
	const char *root = getenv("TRACT_FIXTURES");
	char src[600];
	size_t len;
	char *data;
	FILE *f;

	if (!root || !*root)
		fail_msg("TRACT_FIXTURES is unset: it must name tests/fixtures/py-tract "
			 "(meson test sets it)");
	snprintf(src, sizeof(src), "%s/%s.db", root, name);
	data = tu_read_file(src, &len);
	if (!data)
		fail_msg("fixture %s cannot be read: %s", src, strerror(errno));
	snprintf(out, 600, "%s/%s.db", dir, name);
	f = fopen(out, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(data);
}

/* Run SQL on a SQLite file directly (foreign keys off: to damage it). */
static void sql(const char *path, const char *stmt)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, stmt, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("sql %s: %s", stmt, err);
	assert_true(sqlite3_changes(db) > 0);
	sqlite3_close(db);
}

/* The text of a one-value query on a SQLite file (malloc'd). */
static char *sql_value(const char *path, const char *query)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char *out = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, query, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

/* ------------------------------------------------------------------ */
/* dumps: every table through the backend ABI, as text                 */
/* ------------------------------------------------------------------ */

enum { T_BLOBS, T_COMMITS, T_PARENTS, T_REFS, T_ANNOTATIONS, T_COMPRESSIONS, T_SPAWN, T_META, T_N };
static const char *const table_names[T_N] = {"blobs",       "commits",      "commit_parents",
					     "refs",        "annotations",  "compressions",
					     "spawn_pointers", "metadata"};

typedef struct {
	tract_buf t[T_N];
	int64_t rows[T_N];
	tract_store *s; /* while dumping */
} dump;

#define S(x) ((x) ? (x) : "\\N")

static void line(dump *d, int table, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void line(dump *d, int table, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	assert_int_equal(tract_buf_vprintf(&d->t[table], fmt, ap), 0);
	va_end(ap);
	assert_int_equal(tract_buf_putc(&d->t[table], '\n'), 0);
	d->rows[table]++;
}

static int d_blob(const tract_blob_row *r, void *p)
{
	line(p, T_BLOBS, "%s|%s|%lld|%lld|%lld", r->content_hash, r->payload_json,
	     (long long)r->byte_size, (long long)r->token_count, (long long)r->created_at);
	return 0;
}

static int d_commit(const tract_commit_row *r, void *p)
{
	line(p, T_COMMITS, "%s|%s|%s|%s|%s|%d|%s|%s|%lld|%s|%s|%lld", r->commit_hash, r->tract_id,
	     S(r->parent_hash), r->content_hash, r->content_type, (int)r->operation,
	     S(r->response_to), S(r->message), (long long)r->token_count, S(r->metadata_json),
	     S(r->generation_config_json), (long long)r->created_at);
	return 0;
}

static int d_parent(const char *c, const char *parent, int64_t pos, void *p)
{
	line(p, T_PARENTS, "%s|%s|%lld", c, parent, (long long)pos);
	return 0;
}

static int d_ref(const tract_ref_row *r, void *p)
{
	line(p, T_REFS, "%s|%s|%s|%s", r->tract_id, r->ref_name, S(r->commit_hash),
	     S(r->symbolic_target));
	return 0;
}

/* Annotations and spawn pointers in id order, ids left out (the copy
 * numbers them afresh). */
static int d_annotation(const tract_annotation_row *r, void *p)
{
	line(p, T_ANNOTATIONS, "%s|%s|%d|%s|%lld", r->tract_id, r->target_hash, (int)r->priority,
	     S(r->reason), (long long)r->created_at);
	return 0;
}

static int d_member(const char *id, const char *c, int64_t pos, void *p)
{
	dump *d = p;

	(void)id;
	assert_int_equal(tract_buf_printf(&d->t[T_COMPRESSIONS], " %s@%lld", c, (long long)pos),
			 0);
	return 0;
}

static int d_compression(const tract_compression_row *r, void *p)
{
	dump *d = p;

	assert_int_equal(tract_buf_printf(&d->t[T_COMPRESSIONS],
					  "%s|%s|%s|%lld|%lld|%lld|%lld|%s|sources:",
					  r->compression_id, r->tract_id, S(r->branch_name),
					  (long long)r->created_at, (long long)r->original_tokens,
					  (long long)r->compressed_tokens, (long long)r->target_tokens,
					  S(r->instructions)),
			 0);
	CHECK_OK(d->s->be->compression_members(d->s->conn, TRACT_COMPRESSION_SOURCES,
					       r->compression_id, d_member, d));
	assert_int_equal(tract_buf_puts(&d->t[T_COMPRESSIONS], "|results:"), 0);
	CHECK_OK(d->s->be->compression_members(d->s->conn, TRACT_COMPRESSION_RESULTS,
					       r->compression_id, d_member, d));
	line(d, T_COMPRESSIONS, "%s", "");
	return 0;
}

static int d_spawn(const tract_spawn_row *r, void *p)
{
	line(p, T_SPAWN, "%s|%s|%s|%s|%s|%s|%lld", r->parent_tract_id, S(r->parent_commit_hash),
	     r->child_tract_id, r->purpose, r->inheritance_mode, S(r->display_name),
	     (long long)r->created_at);
	return 0;
}

static int d_meta(const char *key, const char *value, void *p)
{
	if (strcmp(key, "schema_version") != 0)
		line(p, T_META, "%s=%s", key, value);
	return 0;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort the lines of a table: where rows come in the order of a text
 * column, that order is the backend's collation, not the clone's doing. */
static void sort_lines(tract_buf *b)
{
	char **lines = NULL, *p, *save = NULL, *copy;
	size_t n = 0, i;
	tract_buf out = TRACT_BUF_INIT;

	if (!b->ptr || !b->len)
		return;
	copy = strdup(b->ptr);
	assert_non_null(copy);
	for (p = strtok_r(copy, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		lines = realloc(lines, (n + 1) * sizeof(*lines));
		assert_non_null(lines);
		lines[n++] = p;
	}
	qsort(lines, n, sizeof(*lines), cmp_line);
	for (i = 0; i < n; i++)
		assert_int_equal(tract_buf_printf(&out, "%s\n", lines[i]), 0);
	free(lines);
	free(copy);
	tract_buf_dispose(b);
	*b = out;
}

static void dump_store(dump *d, const char *uri)
{
	tract_store *s;
	const tract_backend *be;

	memset(d, 0, sizeof(*d));
	CHECK_OK(tract_store_open(&s, uri, 0));
	be = s->be;
	d->s = s;
	CHECK_OK(be->begin(s->conn, TRACT_TXN_READ));
	CHECK_OK(be->blob_foreach(s->conn, d_blob, d));
	CHECK_OK(be->commit_foreach(s->conn, NULL, d_commit, d));
	CHECK_OK(be->parent_foreach(s->conn, d_parent, d));
	CHECK_OK(be->ref_foreach(s->conn, NULL, NULL, d_ref, d));
	CHECK_OK(be->annotation_foreach(s->conn, NULL, d_annotation, d));
	CHECK_OK(be->compression_foreach(s->conn, NULL, d_compression, d));
	CHECK_OK(be->spawn_foreach(s->conn, NULL, d_spawn, d));
	CHECK_OK(be->meta_foreach(s->conn, NULL, d_meta, d));
	CHECK_OK(be->commit(s->conn));
	d->s = NULL;
	tract_store_free(s);
	/* Annotations and spawn pointers stay in id order: the copy keeps it. */
	for (int i = 0; i < T_N; i++) {
		if (i != T_ANNOTATIONS && i != T_SPAWN)
			sort_lines(&d->t[i]);
		if (!d->t[i].ptr)
			assert_int_equal(tract_buf_puts(&d->t[i], ""), 0);
	}
}

static void dump_dispose(dump *d)
{
	for (int i = 0; i < T_N; i++)
		tract_buf_dispose(&d->t[i]);
}

/* Every line of a appears in b (metadata of a store whose backend keeps
 * keys of its own). */
static void assert_lines_in(const char *a, const char *b, const char *what)
{
	const char *p = a;

	while (*p) {
		size_t n = strcspn(p, "\n");
		const char *q = b;
		int found = 0;
		while (*q && !found) {
			size_t m = strcspn(q, "\n");
			found = m == n && strncmp(p, q, n) == 0;
			q += m + (q[m] == '\n');
		}
		if (!found)
			fail_msg("%s: row '%.*s' is missing from the copy", what, (int)n, p);
		p += n + (p[n] == '\n');
	}
}

/* ------------------------------------------------------------------ */
/* comparing two stores                                                */
/* ------------------------------------------------------------------ */

enum { CMP_META_SUBSET = 1 };

static int str_eq(const char *a, const char *b)
{
	return (!a || !b) ? a == b : strcmp(a, b) == 0;
}

static char *render(tract *t, const char *at)
{
	tract_compile_options o = TRACT_COMPILE_OPTIONS_INIT;
	tract_context *ctx = NULL;
	char *json = NULL, *out;
	tract_buf b = TRACT_BUF_INIT;

	o.at_commit = at;
	CHECK_OK(tract_context_compile(&ctx, t, at ? &o : NULL));
	CHECK_OK(tract_context_render(&json, ctx, TRACT_FORMAT_JSON));
	assert_int_equal(tract_buf_printf(&b, "%s|%lld|%s", json,
					  (long long)tract_context_token_count(ctx),
					  tract_context_token_source(ctx)),
			 0);
	tract_string_free(json);
	tract_context_free(ctx);
	out = tract_buf_detach(&b);
	assert_non_null(out);
	return out;
}

static char *log_text(tract *t)
{
	tract_commit_list *l = NULL;
	tract_buf b = TRACT_BUF_INIT;
	char head[65];
	size_t i;

	CHECK_OK(tract_head_get(head, NULL, NULL, t));
	if (head[0]) {
		CHECK_OK(tract_log_list(&l, t, NULL));
		for (i = 0; i < l->count; i++) {
			char *j = NULL;
			CHECK_OK(tract_commit_to_json(&j, l->items[i]));
			assert_int_equal(tract_buf_printf(&b, "%s\n", j), 0);
			tract_string_free(j);
		}
		tract_commit_list_free(l);
	}
	assert_int_equal(tract_buf_puts(&b, ""), 0);
	return tract_buf_detach(&b);
}

typedef struct {
	char **names;
	size_t n;
} strlist;

static void sl_add(strlist *l, const char *s)
{
	l->names = realloc(l->names, (l->n + 1) * sizeof(*l->names));
	assert_non_null(l->names);
	l->names[l->n] = strdup(s);
	assert_non_null(l->names[l->n]);
	l->n++;
}

static void sl_free(strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	l->names = NULL;
	l->n = 0;
}

static int branch_cb(const tract_ref_row *r, void *p)
{
	if (r->commit_hash)
		sl_add(p, r->commit_hash);
	return 0;
}

/* Compile HEAD and every branch tip, and log, of tract id in both stores. */
static void compare_tract(tract_store *a, tract_store *b, const char *id)
{
	tract *ta, *tb;
	strlist tips = {NULL, 0};
	char ha[65], hb[65], *x, *y;
	char *bra = NULL, *brb = NULL;
	int da, db;

	CHECK_OK(tract_open(&ta, a, id, NULL));
	CHECK_OK(tract_open(&tb, b, id, NULL));
	CHECK_OK(tract_head_get(ha, &bra, &da, ta));
	CHECK_OK(tract_head_get(hb, &brb, &db, tb));
	assert_string_equal(ha, hb);
	assert_true(str_eq(bra, brb));
	assert_int_equal(da, db);
	tract_string_free(bra);
	tract_string_free(brb);
	if (ha[0]) {
		x = render(ta, NULL);
		y = render(tb, NULL);
		if (strcmp(x, y) != 0)
			fail_msg("tract %s compiles differently:\n%s\n%s", id, x, y);
		free(x);
		free(y);
	}
	CHECK_OK(a->be->begin(a->conn, TRACT_TXN_READ));
	CHECK_OK(a->be->ref_foreach(a->conn, id, "refs/heads/", branch_cb, &tips));
	CHECK_OK(a->be->commit(a->conn));
	for (size_t i = 0; i < tips.n; i++) {
		x = render(ta, tips.names[i]);
		y = render(tb, tips.names[i]);
		if (strcmp(x, y) != 0)
			fail_msg("tract %s at %s compiles differently", id, tips.names[i]);
		free(x);
		free(y);
	}
	sl_free(&tips);
	x = log_text(ta);
	y = log_text(tb);
	assert_string_equal(x, y);
	free(x);
	free(y);
	tract_free(ta);
	tract_free(tb);
}

static size_t fsck_errors(const char *uri, size_t *warnings)
{
	tract_fsck_report *r = NULL;
	tract_fsck_problem *p;
	tract_store *s;
	size_t n, nerr = 0;

	CHECK_OK(tract_store_open(&s, uri, 0));
	CHECK_OK(tract_fsck_run(&r, s));
	p = r->problems;
	n = r->count;
	for (size_t i = 0; i < n; i++) {
		if (p[i].severity == TRACT_FSCK_ERROR) {
			print_message("fsck %s: %s: %s\n", uri, p[i].object, p[i].message);
			nerr++;
		}
	}
	if (warnings)
		*warnings = n - nerr;
	assert_int_equal(r->errors, nerr);
	tract_fsck_report_free(r);
	tract_store_free(s);
	return nerr;
}

/* The copy b of a: every table, the tract list, every compile and log, fsck. */
static void compare_stores(const char *a_uri, const char *b_uri, unsigned flags)
{
	dump da, db;
	tract_store *a, *b;
	tract_info_list *la, *lb;
	tract_info *ia, *ib;
	size_t na, nb, wa, wb;

	dump_store(&da, a_uri);
	dump_store(&db, b_uri);
	for (int i = 0; i < T_N; i++) {
		if (i == T_META && (flags & CMP_META_SUBSET)) {
			assert_lines_in(da.t[i].ptr, db.t[i].ptr, table_names[i]);
			continue;
		}
		if (strcmp(da.t[i].ptr, db.t[i].ptr) != 0)
			fail_msg("table %s differs:\n--- %s\n%s--- %s\n%s", table_names[i], a_uri,
				 da.t[i].ptr, b_uri, db.t[i].ptr);
	}
	dump_dispose(&da);
	dump_dispose(&db);

	CHECK_OK(tract_store_open(&a, a_uri, 0));
	CHECK_OK(tract_store_open(&b, b_uri, 0));
	CHECK_OK(tract_store_list_tracts(&la, a));
	CHECK_OK(tract_store_list_tracts(&lb, b));
	ia = la->items;
	na = la->count;
	ib = lb->items;
	nb = lb->count;
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++) {
		assert_string_equal(ia[i].tract_id, ib[i].tract_id);
		assert_true(str_eq(ia[i].display_name, ib[i].display_name));
		assert_true(str_eq(ia[i].head, ib[i].head));
		assert_true(str_eq(ia[i].branch, ib[i].branch));
		assert_true(str_eq(ia[i].parent_tract_id, ib[i].parent_tract_id));
		assert_int_equal(ia[i].commit_count, ib[i].commit_count);
		assert_int_equal(ia[i].last_activity, ib[i].last_activity);
		compare_tract(a, b, ia[i].tract_id);
	}
	tract_info_list_free(la);
	tract_info_list_free(lb);
	tract_store_free(a);
	tract_store_free(b);

	assert_int_equal(fsck_errors(b_uri, &wb), 0);
	assert_int_equal(fsck_errors(a_uri, &wa), 0);
	assert_int_equal(wa, wb);
}

/* The stats agree with the rows of the store. */
static void check_stats(const tract_clone_stats *st, const char *uri)
{
	dump d;

	dump_store(&d, uri);
	assert_int_equal(st->blobs, d.rows[T_BLOBS]);
	assert_int_equal(st->commits, d.rows[T_COMMITS]);
	assert_int_equal(st->commit_parents, d.rows[T_PARENTS]);
	assert_int_equal(st->refs, d.rows[T_REFS]);
	assert_int_equal(st->annotations, d.rows[T_ANNOTATIONS]);
	assert_int_equal(st->compressions, d.rows[T_COMPRESSIONS]);
	assert_int_equal(st->spawn_pointers, d.rows[T_SPAWN]);
	assert_int_equal(st->metadata, d.rows[T_META]);
	assert_true(st->verified);
	dump_dispose(&d);
}

static void clone_ok(tract_clone_stats **st, const char *src, const char *dst,
		     const tract_clone_options *o)
{
	int rc = tract_store_clone(st, src, dst, o);

	if (rc != 0)
		fail_msg("clone %s -> %s: %d %s: %s", src, dst, rc, tract_error_name(rc),
			 tract_error_last()->message);
}

/* ------------------------------------------------------------------ */
/* stores built here                                                   */
/* ------------------------------------------------------------------ */

static void say(char out[65], tract *t, const char *role, const char *text)
{
	tract_commit *c = NULL;

	CHECK_OK(tract_commit_create_dialogue(&c, t, role, text, NULL, NULL));
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static void commit_json(char out[65], tract *t, const char *json, const tract_commit_options *o)
{
	tract_commit *c = NULL;

	CHECK_OK(tract_commit_create(&c, t, json, o));
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static void set_ref(tract_store *s, const char *id, const char *name, const char *commit,
		    const char *symbolic, const tract_ref_row *expected)
{
	CHECK_OK(s->be->begin(s->conn, TRACT_TXN_WRITE));
	CHECK_OK(s->be->ref_cas(s->conn, id, name, commit, symbolic, expected));
	CHECK_OK(s->be->commit(s->conn));
}

/* The row of commit hash (strings borrowed until the next call). */
typedef struct {
	char content_hash[65];
	char content_type[64];
	int64_t tokens;
} commit_facts;

static int facts_cb(const tract_commit_row *r, void *p)
{
	commit_facts *f = p;

	snprintf(f->content_hash, sizeof(f->content_hash), "%s", r->content_hash);
	snprintf(f->content_type, sizeof(f->content_type), "%s", r->content_type);
	f->tokens = r->token_count;
	return 0;
}

static void facts(commit_facts *out, tract_store *s, const char *hash)
{
	CHECK_OK(s->be->begin(s->conn, TRACT_TXN_READ));
	CHECK_OK(s->be->commit_get(s->conn, NULL, hash, facts_cb, out));
	CHECK_OK(s->be->commit(s->conn));
}

/* Insert a commit row with its correct hash (extra: a merge's second
 * parent or NULL) inside an open write transaction. */
static void put_row(char out[65], tract_store *s, const char *tract_id, const char *parent,
		    const commit_facts *f, tract_operation op, const char *response_to,
		    const char *message, tract_time when, const char *extra)
{
	tract_commit_hash_input in;
	tract_commit_row row;
	const char *extras[1] = {extra};

	memset(&in, 0, sizeof(in));
	in.content_hash = f->content_hash;
	in.parent_hash = parent;
	in.content_type = f->content_type;
	in.operation = op;
	in.response_to = response_to;
	in.created_at = when;
	in.extra_parents = extra ? extras : NULL;
	in.n_extra = extra ? 1 : 0;
	CHECK_OK(tract_commit_hash_compute(out, &in));
	memset(&row, 0, sizeof(row));
	row.commit_hash = out;
	row.tract_id = tract_id;
	row.parent_hash = parent;
	row.content_hash = f->content_hash;
	row.content_type = f->content_type;
	row.operation = op;
	row.response_to = response_to;
	row.message = message;
	row.token_count = f->tokens;
	row.created_at = when;
	CHECK_OK(s->be->commit_put(s->conn, &row));
	if (extra) {
		CHECK_OK(s->be->parent_put(s->conn, out, parent, 0));
		CHECK_OK(s->be->parent_put(s->conn, out, extra, 1));
	}
}

/*
 * Eight tracts: one with an instruction, turns, a branch merged back with
 * a merge commit, an edit, annotations, metadata, a generation config and
 * a persisted budget; one with a detached HEAD and extra refs; five small
 * ones with display names; one created without commits. Plus two spawn
 * pointers, two compression records and a custom metadata key.
 */
static void rich_store(const char *uri)
{
	static const tract_ref_row on_main = {NULL, NULL, NULL, "refs/heads/main"};
	static const tract_ref_row on_feature = {NULL, NULL, NULL, "refs/heads/feature"};
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_store *s;
	tract *t[8];
	char m1[65], m2[65], f1[65], c1[65], c2[65], merge[65], e1[65], d[4][65], h[65];
	char name[32];
	commit_facts cf;
	tract_ref_row exp;
	int i, k;

	CHECK_OK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK_OK(tract_create(&t[0], s, "planner", "Trip planner", NULL));
	CHECK_OK(tract_commit_create_instruction(NULL, t[0], "You plan trips.", NULL));
	commit_json(m1, t[0], "{\"content_type\":\"instruction\",\"text\":\"Be brief.\"}", NULL);
	o.metadata_json = "{\"source\":\"web\",\"n\":3}";
	commit_json(m2, t[0],
		    "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"Lisbon?\","
		    "\"name\":\"ana\"}",
		    &o);
	/* Branch feature at m1, one commit on it, back to main. */
	set_ref(s, "planner", "refs/heads/feature", m1, NULL, NULL);
	set_ref(s, "planner", "HEAD", NULL, "refs/heads/feature", &on_main);
	say(f1, t[0], "assistant", "Feature idea: trams.");
	set_ref(s, "planner", "HEAD", NULL, "refs/heads/main", &on_feature);
	o = (tract_commit_options)TRACT_COMMIT_OPTIONS_INIT;
	o.generation_config_json = "{\"temperature\":0.7,\"model\":\"m\"}";
	o.response_to = m2;
	commit_json(c1, t[0], "{\"content_type\":\"dialogue\",\"role\":\"assistant\",\"text\":\"Go.\"}",
		    &o);
	commit_json(c2, t[0], "{\"content_type\":\"freeform\",\"payload\":{\"merge\":\"feature\"}}",
		    NULL);
	/* A merge commit (parent_hashes form) of main and feature. */
	facts(&cf, s, c2);
	CHECK_OK(s->be->begin(s->conn, TRACT_TXN_WRITE));
	put_row(merge, s, "planner", c2, &cf, TRACT_OP_APPEND, NULL, "Merge branch 'feature'",
		tract_time_now(), f1);
	memset(&exp, 0, sizeof(exp));
	exp.commit_hash = c2;
	CHECK_OK(s->be->ref_cas(s->conn, "planner", "refs/heads/main", merge, NULL, &exp));
	CHECK_OK(s->be->commit(s->conn));
	say(NULL, t[0], "user", "After the merge.");
	o = (tract_commit_options)TRACT_COMMIT_OPTIONS_INIT;
	o.operation = TRACT_OP_EDIT;
	o.response_to = c1;
	o.message = "fix the answer";
	commit_json(e1, t[0],
		    "{\"content_type\":\"dialogue\",\"role\":\"assistant\",\"text\":\"Go in May.\"}",
		    &o);
	CHECK_OK(tract_annotation_create(NULL, t[0], m2, TRACT_PRIORITY_SKIP, "noise"));
	CHECK_OK(tract_annotation_create(NULL, t[0], m2, TRACT_PRIORITY_NORMAL, NULL));
	CHECK_OK(tract_annotation_create(NULL, t[0], m1, TRACT_PRIORITY_PINNED, "keep"));
	CHECK_OK(tract_budget_set(t[0], 5000, TRACT_BUDGET_WARN, NULL, NULL, 1));

	/* Detached HEAD at the second of four commits, ORIG_HEAD, PREV_BRANCH. */
	CHECK_OK(tract_create(&t[1], s, "detached", NULL, NULL));
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "turn %d", i);
		say(d[i], t[1], i % 2 ? "assistant" : "user", name);
	}
	set_ref(s, "detached", "HEAD", d[1], NULL, &on_main);
	set_ref(s, "detached", "ORIG_HEAD", d[3], NULL, NULL);
	set_ref(s, "detached", "PREV_BRANCH", NULL, "refs/heads/main", NULL);
	CHECK_OK(tract_annotation_create(NULL, t[1], d[2], TRACT_PRIORITY_SKIP, NULL));

	/* Small tracts with display names, one of each content type. */
	for (k = 2; k < 7; k++) {
		char id[16], disp[32];
		snprintf(id, sizeof(id), "small-%d", k);
		snprintf(disp, sizeof(disp), "Small %d", k);
		CHECK_OK(tract_create(&t[k], s, id, disp, NULL));
		commit_json(NULL, t[k], "{\"content_type\":\"instruction\",\"text\":\"sys\"}", NULL);
		commit_json(NULL, t[k],
			    "{\"content_type\":\"tool_io\",\"tool_name\":\"calc\",\"direction\":"
			    "\"call\",\"payload\":{\"x\":1}}",
			    NULL);
		commit_json(NULL, t[k],
			    "{\"content_type\":\"tool_io\",\"tool_name\":\"calc\",\"direction\":"
			    "\"result\",\"status\":\"success\",\"payload\":{\"y\":2.5}}",
			    NULL);
		commit_json(NULL, t[k], "{\"content_type\":\"reasoning\",\"text\":\"hmm\"}", NULL);
		snprintf(name, sizeof(name), "answer %d \xc3\xa9", k);
		say(h, t[k], "assistant", name);
	}
	/* A tract created without commits: only its metadata. */
	CHECK_OK(tract_create(&t[7], s, "empty", "Nothing yet", NULL));

	CHECK_OK(s->be->begin(s->conn, TRACT_TXN_WRITE));
	{
		tract_spawn_row sp = {0, "planner", m2, "small-2", "find trams", "head_snapshot",
				      "tram scout", tract_time_now()};
		tract_spawn_row sp2 = {0, "planner", NULL, "small-3", "draft", "full_clone", NULL,
				       tract_time_now()};
		tract_compression_row cr = {"cmp-1", "planner", "main", tract_time_now(), 120, 40,
					    50, "keep the facts"};
		tract_compression_row cr2 = {"cmp-2", "detached", NULL, tract_time_now(), 10, 5,
					     -1, NULL};
		CHECK_OK(s->be->spawn_put(s->conn, &sp, NULL));
		CHECK_OK(s->be->spawn_put(s->conn, &sp2, NULL));
		CHECK_OK(s->be->compression_put(s->conn, &cr));
		CHECK_OK(s->be->compression_member_put(s->conn, TRACT_COMPRESSION_SOURCES, "cmp-1",
						       m1, 0));
		CHECK_OK(s->be->compression_member_put(s->conn, TRACT_COMPRESSION_SOURCES, "cmp-1",
						       m2, 1));
		CHECK_OK(s->be->compression_member_put(s->conn, TRACT_COMPRESSION_RESULTS, "cmp-1",
						       c1, 0));
		CHECK_OK(s->be->compression_put(s->conn, &cr2));
		CHECK_OK(s->be->meta_set(s->conn, "custom:flag", "on"));
	}
	CHECK_OK(s->be->commit(s->conn));
	for (k = 0; k < 8; k++)
		tract_free(t[k]);
	tract_store_free(s);
}

/*
 * A tract "skewed" of n commits whose timestamps run backwards (each child
 * older than its parent, as after clock skew), ending with an edit older
 * than all of them, plus the tract "scratch" whose commits made the blobs.
 */
static void skewed_store(const char *uri, int n)
{
	tract_store *s;
	tract *t;
	commit_facts *f = calloc((size_t)n, sizeof(*f));
	char (*h)[65] = calloc((size_t)n + 1, 65);
	char text[64], prev[65] = "";
	tract_time base = tract_time_now() + INT64_C(3600000000);
	int i;

	assert_non_null(f);
	assert_non_null(h);
	CHECK_OK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK_OK(tract_create(&t, s, "scratch", NULL, NULL));
	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "skewed turn %d", i);
		say(h[i], t, i % 2 ? "assistant" : "user", text);
		facts(&f[i], s, h[i]);
	}
	CHECK_OK(s->be->begin(s->conn, TRACT_TXN_WRITE));
	for (i = 0; i < n; i++) {
		put_row(h[i], s, "skewed", i ? prev : NULL, &f[i], TRACT_OP_APPEND, NULL, NULL,
			base - (tract_time)i * 1000, NULL);
		memcpy(prev, h[i], 65);
	}
	/* An edit of the second commit, older than everything. */
	put_row(h[n], s, "skewed", prev, &f[0], TRACT_OP_EDIT, h[1], "edit",
		base - (tract_time)n * 1000 - 7, NULL);
	CHECK_OK(s->be->ref_cas(s->conn, "skewed", "refs/heads/main", h[n], NULL, NULL));
	CHECK_OK(s->be->ref_cas(s->conn, "skewed", "HEAD", NULL, "refs/heads/main", NULL));
	CHECK_OK(s->be->commit(s->conn));
	tract_free(t);
	tract_store_free(s);
	free(f);
	free(h);
}

/* ------------------------------------------------------------------ */
/* tests: copies                                                       */
/* ------------------------------------------------------------------ */

/* Progress reports seen: phases in order, and checks on the counts. */
typedef struct {
	char phases[16][32];
	int n;
	int64_t last_done;
	int64_t commits_total;
	int64_t commits_done;
	int calls;
} progress_log;

static int log_progress(const char *phase, int64_t done, int64_t total, void *payload)
{
	progress_log *p = payload;

	p->calls++;
	if (p->n == 0 || strcmp(p->phases[p->n - 1], phase) != 0) {
		assert_true(p->n < 16);
		snprintf(p->phases[p->n++], 32, "%s", phase);
		p->last_done = 0;
	}
	assert_true(done >= p->last_done);
	p->last_done = done;
	if (strcmp(phase, "commits") == 0) {
		p->commits_total = total;
		p->commits_done = done;
		assert_true(total < 0 || done <= total);
	} else if (strcmp(phase, "fsck") != 0) {
		assert_int_equal(total, -1);
	}
	return 0;
}

static void test_fixtures(void **state)
{
	char dir[256], src[600], dst[600];

	(void)state;
	for (size_t i = 0; i < N_FIXTURES; i++) {
		tract_clone_stats *st = NULL;
		tract_clone_options o = TRACT_CLONE_OPTIONS_INIT;
		progress_log pl;
		static const char *const order[] = {"blobs",       "commits",      "commit_parents",
						    "refs",        "annotations",  "compressions",
						    "spawn_pointers", "metadata",  "fsck"};

		tmp_dir(dir);
		copy_fixture(src, dir, fixture_names[i]);
		memset(&pl, 0, sizeof(pl));
		o.progress = log_progress;
		o.progress_payload = &pl;
		snprintf(dst, sizeof(dst), "%s/copy.db", dir);
		clone_ok(&st, src, dst, &o);
		check_stats(st, dst);
		assert_int_equal(st->commits_deferred, 0);
		assert_int_equal(st->metadata_skipped, 1); /* schema_version */
		assert_int_equal(pl.n, 9);
		for (int k = 0; k < 9; k++)
			assert_string_equal(pl.phases[k], order[k]);
		assert_int_equal(pl.commits_total, st->commits);
		assert_int_equal(pl.commits_done, st->commits);
		tract_clone_stats_free(st);
		compare_stores(src, dst, 0);
		/* The copy is at the current schema version, whatever the source's. */
		{
			char *v = sql_value(dst, "SELECT value FROM _trace_meta WHERE key = "
						 "'schema_version'");
			assert_string_equal(v, "4");
			free(v);
		}
		tu_remove_dir(dir);
	}
}

static void test_rich_store(void **state)
{
	char dir[256], src[300], dst[300], again[300];
	tract_clone_stats *st = NULL;

	(void)state;
	tmp_dir(dir);
	snprintf(src, sizeof(src), "%s/rich.db", dir);
	snprintf(dst, sizeof(dst), "sqlite:%s/copy.db", dir);
	snprintf(again, sizeof(again), "%s/again.db", dir);
	rich_store(src);
	clone_ok(&st, src, dst, NULL);
	check_stats(st, dst);
	assert_int_equal(st->tracts, 7); /* the eighth has no refs or commits */
	assert_int_equal(st->commit_parents, 2);
	assert_int_equal(st->spawn_pointers, 2);
	assert_int_equal(st->compressions, 2);
	assert_int_equal(st->compression_sources, 2);
	assert_int_equal(st->compression_results, 1);
	assert_true(st->metadata >= 8 * 2 + 2); /* created_at + counter each, custom, budget */
	assert_non_null(st->fsck);
	assert_int_equal(st->fsck->count, 0);
	tract_clone_stats_free(st);
	compare_stores(src, dst, 0);
	/* A clone of the clone is the same store again. */
	clone_ok(NULL, dst, again, NULL);
	compare_stores(src, again, 0);
	tu_remove_dir(dir);
}

/* An existing empty store is a fine destination; its own keys stay. */
static void test_into_empty_store(void **state)
{
	char dir[256], src[300], dst[300];
	tract_store *s;
	tract_clone_stats *st = NULL;

	(void)state;
	tmp_dir(dir);
	snprintf(src, sizeof(src), "%s/rich.db", dir);
	snprintf(dst, sizeof(dst), "%s/empty.db", dir);
	rich_store(src);
	CHECK_OK(tract_store_open(&s, dst, TRACT_STORE_CREATE));
	tract_store_free(s);
	clone_ok(&st, src, dst, NULL);
	assert_int_equal(st->metadata_skipped, 1);
	tract_clone_stats_free(st);
	compare_stores(src, dst, 0);
	tu_remove_dir(dir);
}

static void test_out_of_order(void **state)
{
	char dir[256], src[300], dst[300];
	tract_clone_stats *st = NULL;
	const int n = 300;

	(void)state;
	tmp_dir(dir);
	snprintf(src, sizeof(src), "%s/skewed.db", dir);
	snprintf(dst, sizeof(dst), "%s/copy.db", dir);
	skewed_store(src, n);
	clone_ok(&st, src, dst, NULL);
	check_stats(st, dst);
	/* Every skewed commit came before its parent; all waited at once. */
	assert_int_equal(st->commits_deferred, n);
	assert_int_equal(st->peak_deferred, n);
	assert_int_equal(st->commits, 2 * n + 1);
	tract_clone_stats_free(st);
	compare_stores(src, dst, 0);
	tu_remove_dir(dir);
}

/* ------------------------------------------------------------------ */
/* tests: refusals write nothing                                       */
/* ------------------------------------------------------------------ */

static void expect_fail(int code, const char *needle, const char *src, const char *dst,
			const tract_clone_options *o)
{
	tract_clone_stats *st = NULL;
	int rc = tract_store_clone(&st, src, dst, o);

	if (rc != code)
		fail_msg("clone %s -> %s: got %d (%s: %s), want %d", src, dst, rc,
			 tract_error_name(rc), tract_error_last()->message, code);
	assert_int_equal(tract_error_last()->code, code);
	if (!strstr(tract_error_last()->message, needle))
		fail_msg("error '%s' lacks '%s'", tract_error_last()->message, needle);
	tract_clone_stats_free(st);
}

static void test_refuse_nonempty(void **state)
{
	char dir[256], src[300], dst[300];
	tract_store *s;
	tract *t;
	dump before, after;

	(void)state;
	tmp_dir(dir);
	snprintf(src, sizeof(src), "%s/rich.db", dir);
	snprintf(dst, sizeof(dst), "%s/full.db", dir);
	rich_store(src);

	/* A destination with one commit. */
	CHECK_OK(tract_store_open(&s, dst, TRACT_STORE_CREATE));
	CHECK_OK(tract_create(&t, s, "mine", NULL, NULL));
	say(NULL, t, "user", "keep me");
	tract_free(t);
	tract_store_free(s);
	dump_store(&before, dst);
	expect_fail(TRACT_EEXISTS, "already holds tracts", src, dst, NULL);
	dump_store(&after, dst);
	for (int i = 0; i < T_N; i++)
		assert_string_equal(before.t[i].ptr, after.t[i].ptr);
	dump_dispose(&before);
	dump_dispose(&after);
	unlink(dst);

	/* A destination holding only a tract created without commits. */
	CHECK_OK(tract_store_open(&s, dst, TRACT_STORE_CREATE));
	CHECK_OK(tract_create(&t, s, "fresh", NULL, NULL));
	tract_free(t);
	tract_store_free(s);
	expect_fail(TRACT_EEXISTS, "already holds tract metadata", src, dst, NULL);
	unlink(dst);

	/* A destination holding only a blob. */
	CHECK_OK(tract_store_open(&s, dst, TRACT_STORE_CREATE));
	{
		tract_blob_row b = {"00", "{}", 2, 1, 0};
		CHECK_OK(s->be->begin(s->conn, TRACT_TXN_WRITE));
		CHECK_OK(s->be->blob_put(s->conn, &b, NULL));
		CHECK_OK(s->be->commit(s->conn));
	}
	tract_store_free(s);
	expect_fail(TRACT_EEXISTS, "already holds blobs", src, dst, NULL);
	tu_remove_dir(dir);
}

static void test_refuse_same_store(void **state)
{
	char dir[256], src[300], other[600], link_path[300];
	dump before, after;

	(void)state;
	tmp_dir(dir);
	snprintf(src, sizeof(src), "%s/rich.db", dir);
	rich_store(src);
	dump_store(&before, src);
	expect_fail(TRACT_EINVAL, "same store", src, src, NULL);
	snprintf(other, sizeof(other), "sqlite:%s/../%s/rich.db", dir, strrchr(dir, '/') + 1);
	expect_fail(TRACT_EINVAL, "same store", src, other, NULL);
	snprintf(link_path, sizeof(link_path), "%s/link.db", dir);
	assert_int_equal(link(src, link_path), 0);
	expect_fail(TRACT_EINVAL, "same store", link_path, src, NULL);
	unlink(link_path);
	dump_store(&after, src);
	for (int i = 0; i < T_N; i++)
		assert_string_equal(before.t[i].ptr, after.t[i].ptr);
	dump_dispose(&before);
	dump_dispose(&after);
	tu_remove_dir(dir);
}

static void test_refuse_bad_uris(void **state)
{
	char dir[256], src[600], dst[300], missing[300];
	char *v;

	(void)state;
	tmp_dir(dir);
	snprintf(dst, sizeof(dst), "%s/copy.db", dir);
	snprintf(missing, sizeof(missing), "%s/missing.db", dir);
	expect_fail(TRACT_ENOTFOUND, "source store not found", missing, dst, NULL);
	assert_absent(dst);
	assert_absent(missing);
	expect_fail(TRACT_EINVAL, "empty store URI", "", dst, NULL);
	expect_fail(TRACT_EPLUGIN, "not found", "nosuchbackend:x", dst, NULL);
	assert_absent(dst);
	{
		tract_clone_options o = TRACT_CLONE_OPTIONS_INIT;
		o.version = 99;
		expect_fail(TRACT_EINVAL, "options version", missing, dst, &o);
	}
	/* A bad destination URI must not even open (and so migrate) the
	 * source: a v1 fixture keeps its schema version. */
	copy_fixture(src, dir, "v1_basic");
	expect_fail(TRACT_EPLUGIN, "not found", src, "nosuchbackend:y", NULL);
	expect_fail(TRACT_EINVAL, "empty store URI", src, "", NULL);
	expect_fail(TRACT_EINVAL, "has no location", src, "lmdb:", NULL);
	v = sql_value(src, "SELECT value FROM _trace_meta WHERE key = 'schema_version'");
	assert_string_equal(v, "1");
	free(v);
	/* A destination that cannot be created. */
	expect_fail(TRACT_ESTORAGE, "opening the destination", src, "/nonexistent-dir/x/copy.db",
		    NULL);
	tu_remove_dir(dir);
}

/* ------------------------------------------------------------------ */
/* tests: failures midway leave nothing                                */
/* ------------------------------------------------------------------ */

/* A copy of the rich store damaged by stmt, then cloned: fails with code
 * and needle, leaving no destination file (and an empty existing one). */
static void damaged(const char *stmt, int code, const char *needle)
{
	char dir[256], src[300], dst[300], empty[300];
	tract_store *s;
	dump d;

	tmp_dir(dir);
	snprintf(src, sizeof(src), "%s/rich.db", dir);
	snprintf(dst, sizeof(dst), "%s/copy.db", dir);
	snprintf(empty, sizeof(empty), "%s/empty.db", dir);
	rich_store(src);
	sql(src, stmt);
	expect_fail(code, needle, src, dst, NULL);
	assert_absent(dst);
	CHECK_OK(tract_store_open(&s, empty, TRACT_STORE_CREATE));
	tract_store_free(s);
	expect_fail(code, needle, src, empty, NULL);
	assert_true(exists(empty));
	dump_store(&d, empty);
	for (int i = 0; i < T_N; i++)
		if (d.rows[i])
			fail_msg("table %s of the destination is not empty after a failure",
				 table_names[i]);
	dump_dispose(&d);
	tu_remove_dir(dir);
}

static void test_missing_blob(void **state)
{
	(void)state;
	damaged("DELETE FROM blobs WHERE content_hash = (SELECT content_hash FROM commits "
		"WHERE tract_id = 'planner' ORDER BY created_at DESC LIMIT 1)",
		TRACT_ECORRUPT, "is missing from the source store");
}

static void test_dangling_parent(void **state)
{
	(void)state;
	damaged("UPDATE commits SET parent_hash = '" 
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' "
		"WHERE commit_hash = (SELECT commit_hash FROM commits WHERE tract_id = 'small-4' "
		"ORDER BY created_at DESC LIMIT 1)",
		TRACT_ECORRUPT, "names parent ffffffff");
}

static void test_parent_cycle(void **state)
{
	(void)state;
	/* The root of small-5 gets its own last commit as parent. */
	damaged("UPDATE commits SET parent_hash = (SELECT commit_hash FROM commits WHERE "
		"tract_id = 'small-5' ORDER BY created_at DESC LIMIT 1) WHERE tract_id = "
		"'small-5' AND parent_hash IS NULL",
		TRACT_ECORRUPT, "cycle");
}

static void test_dangling_merge_parent(void **state)
{
	(void)state;
	damaged("UPDATE commit_parents SET parent_hash = "
		"'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee' "
		"WHERE position = 1",
		TRACT_ECORRUPT, "names commit eeee");
}

static void test_dangling_annotation(void **state)
{
	(void)state;
	damaged("UPDATE annotations SET target_hash = "
		"'dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd' "
		"WHERE reason = 'keep'",
		TRACT_ECORRUPT, "names commit dddd");
}

static void test_dangling_ref(void **state)
{
	(void)state;
	damaged("UPDATE refs SET commit_hash = "
		"'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc' "
		"WHERE tract_id = 'detached' AND ref_name = 'ORIG_HEAD'",
		TRACT_ECORRUPT, "ref detached:ORIG_HEAD names commit cccc");
}

static void test_dangling_compression_member(void **state)
{
	(void)state;
	damaged("UPDATE compression_sources SET commit_hash = "
		"'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' "
		"WHERE position = 1",
		TRACT_ECORRUPT, "compression record cmp-1 names commit bbbb");
}

static void test_unknown_values(void **state)
{
	(void)state;
	damaged("UPDATE annotations SET priority = 'LOUD' WHERE reason = 'noise'",
		TRACT_ECORRUPT, "unknown priority");
	damaged("UPDATE commits SET operation = 'SPLICE' WHERE tract_id = 'small-3' AND "
		"content_type = 'reasoning'",
		TRACT_ECORRUPT, "unknown operation");
}

/* A row whose hash does not recompute: fsck on the copy refuses it, and
 * TRACT_CLONE_NO_VERIFY copies it as it is. */
static void test_verify(void **state)
{
	char dir[256], src[300], dst[300];
	tract_clone_options o = TRACT_CLONE_OPTIONS_INIT;
	tract_clone_stats *st = NULL;
	int rc;

	(void)state;
	tmp_dir(dir);
	snprintf(src, sizeof(src), "%s/rich.db", dir);
	snprintf(dst, sizeof(dst), "%s/copy.db", dir);
	rich_store(src);
	sql(src, "UPDATE commits SET content_type = 'reasoning' WHERE tract_id = 'small-6' "
		 "AND content_type = 'instruction'");
	rc = tract_store_clone(&st, src, dst, NULL);
	assert_int_equal(rc, TRACT_ECORRUPT);
	assert_non_null(strstr(tract_error_last()->message, "fails fsck with 1 error"));
	assert_true(st->verified);
	assert_non_null(st->fsck);
	assert_int_equal(st->fsck->count, 1);
	assert_int_equal(st->fsck->errors, 1);
	assert_int_equal(st->fsck->problems[0].severity, TRACT_FSCK_ERROR);
	assert_non_null(strstr(st->fsck->problems[0].message, "hash mismatch"));
	tract_clone_stats_free(st);
	assert_absent(dst);

	o.flags = TRACT_CLONE_NO_VERIFY;
	clone_ok(&st, src, dst, &o);
	assert_false(st->verified);
	assert_null(st->fsck); /* fsck did not run: no findings */
	tract_clone_stats_free(st);
	assert_int_equal(fsck_errors(dst, NULL), 1);
	tu_remove_dir(dir);
}

/* Cancelled by the progress callback after commits were written. */
static int cancel_at_refs(const char *phase, int64_t done, int64_t total, void *payload)
{
	(void)done;
	(void)total;
	(*(int *)payload)++;
	return strcmp(phase, "refs") == 0;
}

static void test_cancel(void **state)
{
	char dir[256], src[300], dst[300];
	tract_clone_options o = TRACT_CLONE_OPTIONS_INIT;
	tract_clone_stats *st = NULL;
	int calls = 0;

	(void)state;
	tmp_dir(dir);
	snprintf(src, sizeof(src), "%s/rich.db", dir);
	snprintf(dst, sizeof(dst), "%s/copy.db", dir);
	rich_store(src);
	o.progress = cancel_at_refs;
	o.progress_payload = &calls;
	assert_int_equal(tract_store_clone(&st, src, dst, &o), TRACT_ERROR);
	assert_non_null(strstr(tract_error_last()->message, "cancelled"));
	assert_true(st->commits > 0);
	assert_int_equal(st->refs, 0);
	assert_true(calls > 3);
	tract_clone_stats_free(st);
	assert_absent(dst);
	tu_remove_dir(dir);
}

/* ------------------------------------------------------------------ */
/* tests: bounded memory                                               */
/* ------------------------------------------------------------------ */

/* Bytes of heap in use by the process. */
static int64_t heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return (int64_t)__sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();
	return (int64_t)(mi.uordblks + mi.hblkhd);
#endif
}

/* Heap in use outside SQLite (whose page caches are bounded by their own
 * cache_size, whatever the store's size). */
static int64_t heap_outside_sqlite(void)
{
	return heap_in_use() - sqlite3_memory_used();
}

typedef struct {
	int64_t base, peak;
	int samples;
} heap_probe;

static int sample_heap(const char *phase, int64_t done, int64_t total, void *payload)
{
	heap_probe *h = payload;
	int64_t v = heap_outside_sqlite() - h->base;

	(void)phase;
	(void)done;
	(void)total;
	if (v > h->peak)
		h->peak = v;
	h->samples++;
	return 0;
}

#define BIG_COMMITS 20000
#define BIG_PAYLOAD 1000

static void test_bounded_memory(void **state)
{
	char dir[256], src[300], dst[300];
	static char text[BIG_PAYLOAD + 1];
	tract_clone_options o = TRACT_CLONE_OPTIONS_INIT;
	tract_clone_stats *st = NULL;
	tract_store *s;
	tract *t[4];
	heap_probe hp;
	tract_time t0;
	int i;

	(void)state;
	tmp_dir(dir);
	snprintf(src, sizeof(src), "%s/big.db", dir);
	snprintf(dst, sizeof(dst), "%s/copy.db", dir);
	CHECK_OK(tract_store_open(&s, src, TRACT_STORE_CREATE));
	for (i = 0; i < 4; i++) {
		char id[16];
		snprintf(id, sizeof(id), "big-%d", i);
		CHECK_OK(tract_create(&t[i], s, id, NULL, NULL));
	}
	for (i = 0; i < BIG_COMMITS; i++) {
		tract *tr = t[i % 4];
		if (i % 1000 == 0 && i)
			for (int k = 0; k < 4; k++)
				CHECK_OK(tract_batch_commit(t[k]));
		if (i % 1000 == 0)
			for (int k = 0; k < 4; k++)
				CHECK_OK(tract_batch_begin(t[k]));
		memset(text, 'a' + i % 26, BIG_PAYLOAD);
		snprintf(text, BIG_PAYLOAD, "message %d ", i);
		text[strlen(text)] = 'x';
		text[BIG_PAYLOAD] = '\0';
		CHECK_OK(tract_commit_create_dialogue(NULL, tr, i % 2 ? "assistant" : "user", text, NULL, NULL));
	}
	for (i = 0; i < 4; i++) {
		CHECK_OK(tract_batch_commit(t[i]));
		tract_free(t[i]);
	}
	tract_store_free(s);

	memset(&hp, 0, sizeof(hp));
	hp.base = heap_outside_sqlite();
	o.progress = sample_heap;
	o.progress_payload = &hp;
	t0 = tract_time_now();
	clone_ok(&st, src, dst, &o);
	t0 = tract_time_now() - t0;
	assert_int_equal(st->commits, BIG_COMMITS);
	assert_int_equal(st->blobs, BIG_COMMITS);
	assert_int_equal(st->peak_deferred, 0);
	assert_non_null(st->fsck);
	assert_int_equal(st->fsck->count, 0);
	tract_clone_stats_free(st);
	print_message("clone of %d commits (%d MB of payloads) with fsck: %lld ms, %d heap "
		      "samples, peak heap growth outside SQLite %lld KB\n",
		      BIG_COMMITS, BIG_COMMITS * BIG_PAYLOAD / 1000000, (long long)(t0 / 1000),
		      hp.samples, (long long)(hp.peak / 1024));
	/* Sampled through the copy of the commits, not just at phase ends. */
	assert_true(hp.samples > BIG_COMMITS / 256);
	/* Holding the rows would cost at least their payloads (20 MB). */
	assert_true(hp.peak < 2 * 1024 * 1024);
	tu_remove_dir(dir);
}

/* ------------------------------------------------------------------ */
/* tests: other backends (TRACT_CLONE_TEST_URIS)                       */
/* ------------------------------------------------------------------ */

typedef struct {
	strlist refs_tract, refs_name, ann, comp, blobs, commits, merges, meta;
	strlist spawn; /* ids as text */
} wipe_lists;

static int w_ref(const tract_ref_row *r, void *p)
{
	wipe_lists *w = p;

	sl_add(&w->refs_tract, r->tract_id);
	sl_add(&w->refs_name, r->ref_name);
	return 0;
}

static int w_ann(const tract_annotation_row *r, void *p)
{
	sl_add(&((wipe_lists *)p)->ann, r->target_hash);
	return 0;
}

static int w_comp(const tract_compression_row *r, void *p)
{
	sl_add(&((wipe_lists *)p)->comp, r->compression_id);
	return 0;
}

static int w_spawn(const tract_spawn_row *r, void *p)
{
	char id[32];

	snprintf(id, sizeof(id), "%lld", (long long)r->id);
	sl_add(&((wipe_lists *)p)->spawn, id);
	return 0;
}

static int w_blob(const tract_blob_row *r, void *p)
{
	sl_add(&((wipe_lists *)p)->blobs, r->content_hash);
	return 0;
}

static int w_commit(const tract_commit_row *r, void *p)
{
	sl_add(&((wipe_lists *)p)->commits, r->commit_hash);
	return 0;
}

static int w_merge(const char *c, const char *parent, int64_t pos, void *p)
{
	(void)parent;
	if (pos == 0)
		sl_add(&((wipe_lists *)p)->merges, c);
	return 0;
}

static int w_meta(const char *key, const char *value, void *p)
{
	(void)value;
	if (strncmp(key, "tract:", 6) == 0 || strncmp(key, "custom:", 7) == 0)
		sl_add(&((wipe_lists *)p)->meta, key);
	return 0;
}

static int deleted(int rc)
{
	return rc == 0 || rc == TRACT_ENOTFOUND ? 0 : rc;
}

/* Empty a store through the backend's delete calls (children first). */
static void wipe(const char *uri)
{
	tract_store *s;
	const tract_backend *be;
	wipe_lists w;
	size_t i;

	memset(&w, 0, sizeof(w));
	CHECK_OK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	be = s->be;
	CHECK_OK(be->begin(s->conn, TRACT_TXN_WRITE));
	CHECK_OK(be->ref_foreach(s->conn, NULL, NULL, w_ref, &w));
	CHECK_OK(be->annotation_foreach(s->conn, NULL, w_ann, &w));
	CHECK_OK(be->compression_foreach(s->conn, NULL, w_comp, &w));
	CHECK_OK(be->spawn_foreach(s->conn, NULL, w_spawn, &w));
	CHECK_OK(be->blob_foreach(s->conn, w_blob, &w));
	CHECK_OK(be->commit_foreach(s->conn, NULL, w_commit, &w));
	CHECK_OK(be->parent_foreach(s->conn, w_merge, &w));
	CHECK_OK(be->meta_foreach(s->conn, NULL, w_meta, &w));
	for (i = 0; i < w.refs_name.n; i++)
		CHECK_OK(deleted(be->ref_delete(s->conn, w.refs_tract.names[i], w.refs_name.names[i],
						NULL)));
	for (i = 0; i < w.ann.n; i++)
		CHECK_OK(be->annotation_delete_target(s->conn, w.ann.names[i]));
	for (i = 0; i < w.comp.n; i++)
		CHECK_OK(deleted(be->compression_delete(s->conn, w.comp.names[i])));
	for (i = 0; i < w.spawn.n; i++)
		CHECK_OK(deleted(be->spawn_delete(s->conn, strtoll(w.spawn.names[i], NULL, 10))));
	/* Merge commits newest first, then every commit newest first. */
	for (i = w.merges.n; i-- > 0;)
		CHECK_OK(deleted(be->commit_delete(s->conn, w.merges.names[i])));
	for (i = w.commits.n; i-- > 0;)
		CHECK_OK(deleted(be->commit_delete(s->conn, w.commits.names[i])));
	for (i = 0; i < w.blobs.n; i++)
		CHECK_OK(deleted(be->blob_delete(s->conn, w.blobs.names[i])));
	for (i = 0; i < w.meta.n; i++)
		CHECK_OK(deleted(be->meta_delete(s->conn, w.meta.names[i])));
	CHECK_OK(be->commit(s->conn));
	tract_store_free(s);
	sl_free(&w.refs_tract);
	sl_free(&w.refs_name);
	sl_free(&w.ann);
	sl_free(&w.comp);
	sl_free(&w.spawn);
	sl_free(&w.blobs);
	sl_free(&w.commits);
	sl_free(&w.merges);
	sl_free(&w.meta);
}

/* uri with "{}" replaced by tag (or uri itself), into out. */
static int expand_uri(char *out, size_t len, const char *uri, const char *tag)
{
	const char *ph = strstr(uri, "{}");

	if (!ph) {
		snprintf(out, len, "%s", uri);
		return 0;
	}
	snprintf(out, len, "%.*s%s%s", (int)(ph - uri), uri, tag, ph + 2);
	return 1;
}

static void round_trip(const char *src, const char *uri, const char *dir, const char *label)
{
	static int serial;
	char mid[1024], back[400], tag[64], scheme[32];
	size_t n;

	snprintf(tag, sizeof(tag), "clone%d_%d", (int)getpid(), serial++);
	if (!expand_uri(mid, sizeof(mid), uri, tag))
		wipe(mid);
	snprintf(back, sizeof(back), "%s/back-%s.db", dir, tag);
	/* The scheme alone: the URI may hold a password. */
	n = strcspn(uri, ":");
	n = n < sizeof(scheme) ? n : sizeof(scheme) - 1;
	memcpy(scheme, uri, n);
	scheme[n] = '\0';
	print_message("round trip %s: sqlite -> %s -> sqlite\n", label, scheme);
	clone_ok(NULL, src, mid, NULL);
	compare_stores(src, mid, CMP_META_SUBSET);
	clone_ok(NULL, mid, back, NULL);
	compare_stores(src, back, 0);
	wipe(mid);
}

static void test_other_backends(void **state)
{
	const char *env = getenv("TRACT_CLONE_TEST_URIS");
	char dir[256], rich[300], skewed[300], fx[N_FIXTURES][600];
	char *list, *save = NULL, *uri;

	(void)state;
	assert_true(env && *env); /* registered only when set (main) */
	tmp_dir(dir);
	snprintf(rich, sizeof(rich), "%s/rich.db", dir);
	snprintf(skewed, sizeof(skewed), "%s/skewed.db", dir);
	rich_store(rich);
	skewed_store(skewed, 50);
	for (size_t i = 0; i < N_FIXTURES; i++)
		copy_fixture(fx[i], dir, fixture_names[i]);
	list = strdup(env);
	assert_non_null(list);
	for (uri = strtok_r(list, ";", &save); uri; uri = strtok_r(NULL, ";", &save)) {
		if (!*uri)
			continue;
		round_trip(rich, uri, dir, "rich store");
		round_trip(skewed, uri, dir, "skewed store");
		for (size_t i = 0; i < N_FIXTURES; i++)
			round_trip(fx[i], uri, dir, fixture_names[i]);
	}
	free(list);
	tu_remove_dir(dir);
}

/* test_clone [PATTERN]: only the tests whose names match PATTERN (cmocka's
 * test filter, '*' and '?' wildcards). */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_rich_store),
		cmocka_unit_test(test_into_empty_store),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_refuse_nonempty),
		cmocka_unit_test(test_refuse_same_store),
		cmocka_unit_test(test_refuse_bad_uris),
		cmocka_unit_test(test_missing_blob),
		cmocka_unit_test(test_dangling_parent),
		cmocka_unit_test(test_parent_cycle),
		cmocka_unit_test(test_dangling_merge_parent),
		cmocka_unit_test(test_dangling_annotation),
		cmocka_unit_test(test_dangling_ref),
		cmocka_unit_test(test_dangling_compression_member),
		cmocka_unit_test(test_unknown_values),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_bounded_memory),
		/* Last, and only when asked for: see the top of the file. */
		cmocka_unit_test(test_other_backends),
	};
	const char *uris = getenv("TRACT_CLONE_TEST_URIS");
	size_t n = sizeof(tests) / sizeof(tests[0]);

	/* The round trips through other backends are opt-in: without
	 * TRACT_CLONE_TEST_URIS they are not run at all (rather than
	 * reported as skipped). */
	if (!uris || !*uris)
		n--;
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return _cmocka_run_group_tests("tests", tests, n, NULL, NULL);
}
