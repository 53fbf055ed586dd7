/*
 * clone_compare.c - how the clone tests compare stores: temporary files and
 * fixture copies, SQL on SQLite files, a text dump of every table through
 * the backend ABI, per-tract renderings and logs, fsck counts and stats.
 */
#include "clone_test.h"

/* ------------------------------------------------------------------ */
/* files                                                               */
/* ------------------------------------------------------------------ */

void tmp_dir(char dir[256])
{
	snprintf(dir, 256, "/tmp/tract-clone-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

int exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* No file at path, nor its SQLite side files. */
void assert_absent(const char *path)
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
void copy_fixture(char out[600], const char *dir, const char *name)
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
void sql(const char *path, const char *stmt)
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
char *sql_value(const char *path, const char *query)
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

void dump_store(dump *d, const char *uri)
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

void dump_dispose(dump *d)
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
			CHECK_OK(tract_commit_to_json(&j, l->items[i], 0));
			assert_int_equal(tract_buf_printf(&b, "%s\n", j), 0);
			tract_string_free(j);
		}
		tract_commit_list_free(l);
	}
	assert_int_equal(tract_buf_puts(&b, ""), 0);
	return tract_buf_detach(&b);
}

void sl_add(strlist *l, const char *s)
{
	l->names = realloc(l->names, (l->n + 1) * sizeof(*l->names));
	assert_non_null(l->names);
	l->names[l->n] = strdup(s);
	assert_non_null(l->names[l->n]);
	l->n++;
}

void sl_free(strlist *l)
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

size_t fsck_errors(const char *uri, size_t *warnings)
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
void compare_stores(const char *a_uri, const char *b_uri, unsigned flags)
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
void check_stats(const tract_clone_stats *st, const char *uri)
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

void clone_ok(tract_clone_stats **st, const char *src, const char *dst,
		     const tract_clone_options *o)
{
	int rc = tract_store_clone(st, src, dst, o);

	if (rc != 0)
		fail_msg("clone %s -> %s: %d %s: %s", src, dst, rc, tract_error_name(rc),
			 tract_error_last()->message);
}
