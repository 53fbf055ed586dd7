/*
 * test_sqlite.c - what only the SQLite backend promises: files written by
 * tract's Python library (schema versions 1-4) migrate and read back as
 * the reference wrote them, the exact v4 schema, pragmas and the stored
 * value formats, checked with raw sqlite3 queries next to the plugin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
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

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "plugin.h"
#include "tract/common.h"
#include "tract/sys/backend.h"

/* 2024-01-02 03:04:05 UTC, in microseconds. */
#define T0 (INT64_C(1704164645) * 1000000)

static const char *const v4_tables[] = {
	"_trace_meta",	 "annotations",		"blobs",	       "commit_parents",
	"commits",	 "compression_results", "compression_sources", "compressions",
	"refs",		 "spawn_pointers",
};
static const char *const v4_indexes[] = {
	"ix_annotations_target_time", "ix_annotations_tract_id", "ix_commit_parents_commit",
	"ix_commits_response_to",     "ix_commits_tract_id",	 "ix_commits_tract_time",
	"ix_commits_tract_type",      "ix_compressions_tract_id", "ix_spawn_child_tract",
	"ix_spawn_parent_tract",
};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fixture -------------------------------------------------------------- */

struct fx {
	char dir[256];
	char path[300];
	const tract_backend *be;
	tract_backend_conn *c;
	char err[512];
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
	snprintf(f->dir, sizeof(f->dir), "%s/tract-sqlite-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	assert_int_equal(tract_plugin_backend(&f->be, "sqlite"), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->c)
		f->be->close(f->c);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int open_be(struct fx *f, unsigned flags)
{
	f->err[0] = '\0';
	return f->be->open(&f->c, f->path, flags, f->err, sizeof(f->err));
}

static void close_be(struct fx *f)
{
	f->be->close(f->c);
	f->c = NULL;
}

/* The fixtures in the repository (tests/fixtures/py-tract), as meson test
 * names them; without them the test fails. */
static const char *fixtures_dir(void)
{
	const char *d = getenv("TRACT_FIXTURES");

	if (!d || !*d)
		fail_msg("TRACT_FIXTURES is unset: it must name tests/fixtures/py-tract "
			 "(meson test sets it)");
	return d;
}

/* Copy fixture NAME.db to the test's own file (opening migrates it). */
static void copy_fixture(struct fx *f, const char *name)
{
	char src[512], buf[65536];
	FILE *in, *out;
	size_t n;

	snprintf(src, sizeof(src), "%s/%s.db", fixtures_dir(), name);
	in = fopen(src, "rb");
	if (!in)
		fail_msg("fixture %s: %s", src, strerror(errno));
	out = fopen(f->path, "wb");
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static cJSON *load_expected(const char *name)
{
	char path[512];
	FILE *in;
	long len;
	char *text;
	cJSON *j;

	snprintf(path, sizeof(path), "%s/%s.expected.json", fixtures_dir(), name);
	in = fopen(path, "rb");
	if (!in)
		fail_msg("fixture %s: %s", path, strerror(errno));
	fseek(in, 0, SEEK_END);
	len = ftell(in);
	fseek(in, 0, SEEK_SET);
	text = malloc((size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, in), (size_t)len);
	text[len] = '\0';
	fclose(in);
	j = cJSON_Parse(text);
	free(text);
	assert_non_null(j);
	return j;
}

/* ---- raw sqlite3 ---------------------------------------------------------- */

static sqlite3 *raw_open(const struct fx *f)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

/* First column of the first row as text ("<none>" without rows, "<null>" for NULL). */
static char *raw_text(sqlite3 *db, const char *sql, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	const char *arg;
	char *out;
	int i = 1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	va_start(ap, sql);
	while ((arg = va_arg(ap, const char *)) != NULL)
		sqlite3_bind_text(st, i++, arg, -1, SQLITE_TRANSIENT);
	va_end(ap);
	if (sqlite3_step(st) != SQLITE_ROW)
		out = strdup("<none>");
	else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		out = strdup("<null>");
	else
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	assert_non_null(out);
	return out;
}

/* Check the first column of the first row; the arguments end with NULL. */
static void assert_raw(sqlite3 *db, const char *expected, const char *sql, ...)
{
	const char *args[4] = {NULL, NULL, NULL, NULL};
	va_list ap;
	char *got;
	int i;

	va_start(ap, sql);
	for (i = 0; i < 3 && (args[i] = va_arg(ap, const char *)) != NULL; i++)
		;
	va_end(ap);
	got = raw_text(db, sql, args[0], args[1], args[2], (const char *)NULL);
	if (strcmp(got, expected) != 0) {
		print_error("%s [%s]: got '%s', expected '%s'\n", sql, args[0] ? args[0] : "",
			    got, expected);
		free(got);
		fail();
	}
	free(got);
}

static bool raw_has(sqlite3 *db, const char *type, const char *name)
{
	char *got = raw_text(db, "SELECT count(*) FROM sqlite_master WHERE type = ?1 AND name = ?2",
			     type, name, (const char *)NULL);
	bool has = strcmp(got, "1") == 0;

	free(got);
	return has;
}

/* The schema as text: every table's columns, keys and foreign keys, every index. */
static char *raw_schema_signature(sqlite3 *db)
{
	static const char sql[] =
		"SELECT group_concat(line, char(10)) FROM ("
		"SELECT m.name || '.' || p.cid || ' ' || p.name || ' ' || p.type || ' nn' || "
		"p.\"notnull\" || ' pk' || p.pk AS line "
		"FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' "
		"UNION ALL SELECT 'fk ' || m.name || ' ' || k.\"from\" || ' -> ' || k.\"table\" || "
		"'.' || k.\"to\" || ' ' || k.on_delete FROM sqlite_master m, "
		"pragma_foreign_key_list(m.name) k WHERE m.type = 'table' "
		"UNION ALL SELECT 'ix ' || m.tbl_name || ' ' || m.name || ' ' || i.seqno || ' ' || "
		"i.name FROM sqlite_master m, pragma_index_info(m.name) i WHERE m.type = 'index' "
		"ORDER BY 1)";

	return raw_text(db, sql, (const char *)NULL);
}

/* ---- backend row helpers -------------------------------------------------- */

struct ref_out {
	char commit[80];
	char symbolic[300];
	bool found;
};

static int on_ref(const tract_ref_row *row, void *payload)
{
	struct ref_out *o = payload;

	o->found = true;
	snprintf(o->commit, sizeof(o->commit), "%s", row->commit_hash ? row->commit_hash : "");
	snprintf(o->symbolic, sizeof(o->symbolic), "%s",
		 row->symbolic_target ? row->symbolic_target : "");
	return 0;
}

/* HEAD's commit hash of a tract ("" when none). */
static void resolve_head(struct fx *f, const char *tract_id, char out[80])
{
	struct ref_out r = {0};

	out[0] = '\0';
	if (f->be->ref_get(f->c, tract_id, "HEAD", on_ref, &r) != 0)
		return;
	if (r.symbolic[0]) {
		char target[300];
		snprintf(target, sizeof(target), "%s", r.symbolic);
		memset(&r, 0, sizeof(r));
		if (f->be->ref_get(f->c, tract_id, target, on_ref, &r) != 0)
			return;
	}
	snprintf(out, 80, "%s", r.commit);
}

/* Chain rows checked against the reference's log, one by one. */
struct log_check {
	const cJSON *log;
	int i;
	int with_extra;
};

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void assert_same_str(const char *got, const char *want)
{
	if (!got || !want)
		assert_ptr_equal(got, want);
	else
		assert_string_equal(got, want);
}

static int check_log_row(const tract_chain_row *row, void *payload)
{
	struct log_check *lc = payload;
	const cJSON *e = cJSON_GetArrayItem(lc->log, lc->i);
	const tract_commit_row *c = &row->commit;
	tract_time t;

	assert_non_null(e);
	assert_string_equal(c->commit_hash, json_str(e, "commit_hash"));
	assert_string_equal(c->tract_id, json_str(e, "tract_id"));
	assert_same_str(c->parent_hash, json_str(e, "parent_hash"));
	assert_string_equal(c->content_hash, json_str(e, "content_hash"));
	assert_string_equal(c->content_type, json_str(e, "content_type"));
	assert_same_str(c->response_to, json_str(e, "response_to"));
	assert_same_str(c->message, json_str(e, "message"));
	assert_int_equal(c->operation, strcmp(json_str(e, "operation"), "edit") == 0
					       ? TRACT_OP_EDIT
					       : TRACT_OP_APPEND);
	assert_int_equal(c->token_count,
			 cJSON_GetObjectItemCaseSensitive(e, "token_count")->valuedouble);
	assert_int_equal(c->metadata_json == NULL,
			 cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "metadata")));
	assert_int_equal(c->generation_config_json == NULL,
			 cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "generation_config")));
	assert_int_equal(tract_time_parse(&t, json_str(e, "created_at")), 0);
	assert_true(c->created_at == t);
	assert_non_null(row->payload_json);
	lc->with_extra += row->n_extra_parents > 0;
	lc->i++;
	return 0;
}

struct tract_seen {
	char id[80];
	int64_t commits;
	tract_time last;
};

struct tracts_out {
	size_t n;
	struct tract_seen t[16];
};

static int on_tract(const tract_tract_row *row, void *payload)
{
	struct tracts_out *o = payload;

	assert_true(o->n < 16);
	snprintf(o->t[o->n].id, sizeof(o->t[o->n].id), "%s", row->tract_id);
	o->t[o->n].commits = row->commit_count;
	o->t[o->n].last = row->last_activity;
	o->n++;
	return 0;
}

static const struct tract_seen *find_tract(const struct tracts_out *o, const char *id)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if (strcmp(o->t[i].id, id) == 0)
			return &o->t[i];
	return NULL;
}

struct parents_out {
	size_t n;
	char hash[8][80];
	int64_t pos[8];
};

static int on_parent(const char *commit_hash, const char *parent_hash, int64_t position,
		     void *payload)
{
	struct parents_out *o = payload;

	(void)commit_hash;
	assert_true(o->n < 8);
	snprintf(o->hash[o->n], sizeof(o->hash[o->n]), "%s", parent_hash);
	o->pos[o->n++] = position;
	return 0;
}

static int on_extra(const tract_chain_row *row, void *payload)
{
	struct parents_out *o = payload;
	size_t i;

	for (i = 0; i < row->n_extra_parents && o->n < 8; i++)
		snprintf(o->hash[o->n++], sizeof(o->hash[0]), "%s", row->extra_parents[i]);
	return 0;
}

static int count_commit(const tract_commit_row *row, void *payload)
{
	(void)row;
	(*(int64_t *)payload)++;
	return 0;
}

/* ---- migration of the reference's files ----------------------------------- */

static void check_v4_schema(struct fx *f)
{
	sqlite3 *db = raw_open(f);
	size_t i;

	assert_raw(db, "4", "SELECT value FROM _trace_meta WHERE \"key\" = 'schema_version'",
		   (const char *)NULL);
	assert_raw(db, "text",
		   "SELECT typeof(value) FROM _trace_meta WHERE \"key\" = 'schema_version'",
		   (const char *)NULL);
	for (i = 0; i < N_OF(v4_tables); i++)
		if (!raw_has(db, "table", v4_tables[i]))
			fail_msg("table %s missing", v4_tables[i]);
	for (i = 0; i < N_OF(v4_indexes); i++)
		if (!raw_has(db, "index", v4_indexes[i]))
			fail_msg("index %s missing", v4_indexes[i]);
	assert_raw(db, "wal", "PRAGMA journal_mode", (const char *)NULL);
	sqlite3_close(db);
}

/* Every tract of the fixture: HEAD and the whole first-parent log as the reference gave it. */
static void check_tracts_against_expected(struct fx *f, const cJSON *exp)
{
	unsigned all = TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS | TRACT_CHAIN_PRIORITY;
	const cJSON *tracts = cJSON_GetObjectItemCaseSensitive(exp, "tracts"), *t;
	struct tracts_out seen = {0};
	int64_t total = 0, want_total = 0;

	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->tract_foreach(f->c, on_tract, &seen), 0);
	assert_int_equal(seen.n, cJSON_GetArraySize(tracts));
	cJSON_ArrayForEach(t, tracts)
	{
		const char *id = json_str(t, "tract_id"), *head = json_str(t, "head");
		const cJSON *log = cJSON_GetObjectItemCaseSensitive(t, "log");
		struct log_check lc = {log, 0, 0};
		const struct tract_seen *ts = find_tract(&seen, id);
		char got_head[80];
		int64_t rows = 0;

		assert_non_null(ts);
		assert_int_equal(ts->commits,
				 cJSON_GetObjectItemCaseSensitive(t, "commit_rows")->valuedouble);
		want_total += ts->commits;
		assert_int_equal(f->be->commit_foreach(f->c, id, count_commit, &rows), 0);
		assert_int_equal(rows, ts->commits);
		resolve_head(f, id, got_head);
		assert_string_equal(got_head, head);
		assert_int_equal(f->be->commit_chain(f->c, id, head, 0, all, INT64_MAX,
						     check_log_row, &lc),
				 0);
		/* The walk reaches the root the reference's log ends with. */
		assert_int_equal(lc.i, cJSON_GetArraySize(log));
		assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetArrayItem(log, lc.i - 1), "parent_hash")));
	}
	assert_int_equal(f->be->commit_foreach(f->c, NULL, count_commit, &total), 0);
	assert_int_equal(total, want_total);
	assert_int_equal(f->be->commit(f->c), 0);
}

/* Merge commits: parents listed in position order, the chain's extra parent. */
static void check_merge_commits(struct fx *f, const cJSON *exp)
{
	const cJSON *m, *merges = cJSON_GetObjectItemCaseSensitive(exp, "merge_commits");
	struct parents_out extra;
	sqlite3 *db = raw_open(f);

	cJSON_ArrayForEach(m, merges)
	{
		struct parents_out p = {0};
		size_t i;

		assert_int_equal(f->be->parent_list(f->c, m->valuestring, on_parent, &p), 0);
		assert_true(p.n >= 2);
		for (i = 0; i < p.n; i++) {
			char pos[32];
			snprintf(pos, sizeof(pos), "%zu", i);
			assert_int_equal(p.pos[i], i);
			assert_raw(db, p.hash[i],
				   "SELECT parent_hash FROM commit_parents WHERE commit_hash = ?1 "
				   "AND position = CAST(?2 AS INTEGER)",
				   m->valuestring, pos, (const char *)NULL);
		}
		assert_raw(db, p.hash[0], "SELECT parent_hash FROM commits WHERE commit_hash = ?1",
			   m->valuestring, (const char *)NULL);
		extra.n = 0;
		assert_int_equal(f->be->commit_chain(f->c, NULL, m->valuestring, 1,
						     TRACT_CHAIN_PARENTS, INT64_MAX, on_extra,
						     &extra),
				 0);
		assert_int_equal(extra.n, p.n - 1);
		for (i = 1; i < p.n; i++)
			assert_string_equal(extra.hash[i - 1], p.hash[i]);
	}
	sqlite3_close(db);
}

/* Open a copy of NAME.db, then check it against NAME.expected.json. */
static void migrate_fixture(struct fx *f, const char *name)
{
	cJSON *exp = load_expected(name);

	copy_fixture(f, name);
	if (open_be(f, 0) != 0)
		fail_msg("open %s: %s", name, f->err);
	close_be(f);
	check_v4_schema(f);
	assert_int_equal(open_be(f, 0), 0);
	check_tracts_against_expected(f, exp);
	check_merge_commits(f, exp);
	close_be(f);
	cJSON_Delete(exp);
}

static void test_migrate_v1(void **state)
{
	migrate_fixture(*state, "v1_basic");
}

static void test_migrate_v2(void **state)
{
	struct fx *f = *state;
	cJSON *exp = load_expected("v2_basic");

	/* The file really has a merge commit to check. */
	assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(exp, "merge_commits")) > 0);
	cJSON_Delete(exp);
	migrate_fixture(f, "v2_basic");
}

static void test_migrate_v3(void **state)
{
	migrate_fixture(*state, "v3_basic");
}

static void test_migrate_v4(void **state)
{
	struct fx *f = *state;
	cJSON *exp = load_expected("v4_basic"), *lt;
	struct tracts_out seen = {0};

	migrate_fixture(f, "v4_basic");
	/* Listing: commit counts and newest commit time as the reference lists them. */
	assert_int_equal(open_be(f, 0), 0);
	assert_int_equal(f->be->tract_foreach(f->c, on_tract, &seen), 0);
	cJSON_ArrayForEach(lt, cJSON_GetObjectItemCaseSensitive(exp, "list_tracts"))
	{
		const struct tract_seen *ts = find_tract(&seen, json_str(lt, "tract_id"));
		tract_time t;

		assert_non_null(ts);
		assert_int_equal(ts->commits,
				 cJSON_GetObjectItemCaseSensitive(lt, "commit_count")->valuedouble);
		assert_int_equal(tract_time_parse(&t, json_str(lt, "latest_commit_at")), 0);
		assert_true(ts->last == t);
	}
	cJSON_Delete(exp);
}

static char *file_schema_signature(struct fx *f)
{
	sqlite3 *db = raw_open(f);
	char *sig = raw_schema_signature(db);

	sqlite3_close(db);
	return sig;
}

/* Fresh and migrated stores have exactly the reference's v4 columns, keys and indexes. */
static void test_schema_matches_reference(void **state)
{
	struct fx *f = *state;
	char *reference, *sig;

	copy_fixture(f, "v4_basic");
	reference = file_schema_signature(f);
	assert_non_null(strstr(reference, "commits.11 created_at DATETIME nn1 pk0"));
	assert_non_null(strstr(reference, "fk commits parent_hash -> commits.commit_hash SET NULL"));

	assert_int_equal(remove(f->path), 0);
	assert_int_equal(open_be(f, TRACT_BACKEND_CREATE), 0);
	close_be(f);
	sig = file_schema_signature(f);
	assert_string_equal(sig, reference);
	free(sig);

	copy_fixture(f, "v1_basic");
	assert_int_equal(open_be(f, 0), 0);
	close_be(f);
	sig = file_schema_signature(f);
	assert_string_equal(sig, reference);
	free(sig);
	free(reference);
}

/* A v4 file's sqlite_master is byte-identical after opening it. */
static void test_open_leaves_v4_schema_alone(void **state)
{
	static const char sql[] = "SELECT group_concat(type || ' ' || name || ' ' || "
				  "coalesce(sql, ''), char(10)) FROM "
				  "(SELECT * FROM sqlite_master ORDER BY name)";
	struct fx *f = *state;
	char *before, *after;
	sqlite3 *db;

	copy_fixture(f, "v4_basic");
	db = raw_open(f);
	before = raw_text(db, sql, (const char *)NULL);
	sqlite3_close(db);
	assert_int_equal(open_be(f, 0), 0);
	close_be(f);
	db = raw_open(f);
	after = raw_text(db, sql, (const char *)NULL);
	sqlite3_close(db);
	assert_string_equal(after, before);
	free(before);
	free(after);
}

/* An unsupported version is refused and the file is left as it was. */
static void check_refused(struct fx *f, const char *version, const char *message)
{
	sqlite3 *db;

	copy_fixture(f, "v1_basic");
	db = raw_open(f);
	raw_exec(db, "PRAGMA journal_mode=DELETE");
	{
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(db,
						    "UPDATE _trace_meta SET value = ?1 "
						    "WHERE \"key\" = 'schema_version'",
						    -1, &st, NULL),
				 SQLITE_OK);
		sqlite3_bind_text(st, 1, version, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);

	assert_int_equal(open_be(f, 0), TRACT_EVERSION);
	assert_null(f->c);
	if (!strstr(f->err, message))
		fail_msg("message '%s' lacks '%s'", f->err, message);
	db = raw_open(f);
	assert_raw(db, version, "SELECT value FROM _trace_meta WHERE \"key\" = 'schema_version'",
		   (const char *)NULL);
	/* No migration step ran, not even the table creation. */
	assert_false(raw_has(db, "table", "commit_parents"));
	assert_false(raw_has(db, "table", "spawn_pointers"));
	assert_raw(db, "delete", "PRAGMA journal_mode", (const char *)NULL);
	sqlite3_close(db);
}

static void test_refuse_newer_version(void **state)
{
	check_refused(*state, "5", "store schema version 5 is newer than this tract supports (4)");
	check_refused(*state, "7", "store schema version 7 is newer than this tract supports (4)");
}

static void test_refuse_non_integer_version(void **state)
{
	check_refused(*state, "abc", "not an integer");
	check_refused(*state, "4.0", "not an integer");
	check_refused(*state, "", "not an integer");
}

/* A file with tables but no version row gets "4" (the reference does the same). */
static void test_missing_version_row(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;

	copy_fixture(f, "v2_basic");
	db = raw_open(f);
	raw_exec(db, "DELETE FROM _trace_meta");
	sqlite3_close(db);
	assert_int_equal(open_be(f, 0), 0);
	close_be(f);
	check_v4_schema(f);
}

/* ---- open ----------------------------------------------------------------- */

static void test_missing_file_not_created(void **state)
{
	struct fx *f = *state;
	char want[400];
	struct stat sb;

	assert_int_equal(open_be(f, 0), TRACT_ENOTFOUND);
	assert_null(f->c);
	snprintf(want, sizeof(want), "store not found: %s", f->path);
	assert_string_equal(f->err, want);
	assert_int_not_equal(stat(f->path, &sb), 0);
	/* A directory that does not exist, even with the create flag. */
	snprintf(f->path + strlen(f->path), 32, "/deeper/t.db");
	assert_true(open_be(f, TRACT_BACKEND_CREATE) < 0);
	assert_true(strlen(f->err) > 0);
}

static void test_fresh_store(void **state)
{
	struct fx *f = *state;

	assert_int_equal(open_be(f, TRACT_BACKEND_CREATE), 0);
	close_be(f);
	check_v4_schema(f);
}

static int on_meta_count(const char *key, const char *value, void *payload)
{
	(void)key;
	(void)value;
	(*(int *)payload)++;
	return 0;
}

static void test_memory_is_private(void **state)
{
	struct fx *f = *state;
	tract_backend_conn *a = NULL, *b = NULL;
	int n = 0;

	assert_int_equal(f->be->open(&a, ":memory:", 0, NULL, 0), 0);
	assert_int_equal(f->be->open(&b, ":memory:", 0, NULL, 0), 0);
	assert_int_equal(f->be->meta_set(a, "tract:x:k", "v"), 0);
	assert_int_equal(f->be->meta_foreach(a, "tract:", on_meta_count, &n), 0);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(f->be->meta_foreach(b, "tract:", on_meta_count, &n), 0);
	assert_int_equal(n, 0);
	f->be->close(a);
	f->be->close(b);
}

static void test_close_rolls_back(void **state)
{
	struct fx *f = *state;
	int n = 0;

	assert_int_equal(open_be(f, TRACT_BACKEND_CREATE), 0);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->meta_set(f->c, "tract:x:k", "v"), 0);
	close_be(f);
	assert_int_equal(open_be(f, 0), 0);
	assert_int_equal(f->be->meta_foreach(f->c, "tract:", on_meta_count, &n), 0);
	assert_int_equal(n, 0);
	/* Nested begin is refused; commit without a transaction too. */
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_WRITE), TRACT_EINVAL);
	assert_int_equal(f->be->rollback(f->c), 0);
	assert_int_equal(f->be->commit(f->c), TRACT_EINVAL);
	assert_int_equal(f->be->rollback(f->c), 0);
}

/* A writer holding the lock past busy_timeout: ESTORAGE with a clear message. */
static void test_busy_is_estorage(void **state)
{
	struct fx *f = *state;
	tract_backend_conn *other = NULL;

	assert_int_equal(open_be(f, TRACT_BACKEND_CREATE), 0);
	assert_int_equal(f->be->open(&other, f->path, 0, NULL, 0), 0);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->begin(other, TRACT_TXN_WRITE), TRACT_ESTORAGE);
	assert_non_null(strstr(f->be->last_error(other), "locked"));
	assert_int_equal(f->be->commit(f->c), 0);
	assert_int_equal(f->be->begin(other, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->commit(other), 0);
	f->be->close(other);
}

/*
 * A reader never waits for a writer (WAL): while one connection holds a
 * write transaction, another opens the store and reads. (Opening used to
 * run the migration in BEGIN IMMEDIATE, so every open took the write lock
 * and waited out the busy timeout.)
 */
static void test_reader_does_not_wait_for_writer(void **state)
{
	struct fx *f = *state;
	tract_backend_conn *reader = NULL;
	char err[256] = "";
	int n = 0;

	assert_int_equal(open_be(f, TRACT_BACKEND_CREATE), 0);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->meta_set(f->c, "tract:x:k", "v"), 0);
	/* The writer holds the lock: the reader opens and reads anyway. */
	assert_int_equal(f->be->open(&reader, f->path, 0, err, sizeof(err)), 0);
	assert_int_equal(f->be->begin(reader, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->meta_foreach(reader, "tract:", on_meta_count, &n), 0);
	assert_int_equal(n, 0); /* the writer's row is not committed */
	assert_int_equal(f->be->commit(reader), 0);
	assert_int_equal(f->be->commit(f->c), 0);
	assert_int_equal(f->be->begin(reader, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->meta_foreach(reader, "tract:", on_meta_count, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(f->be->commit(reader), 0);
	f->be->close(reader);
}

/*
 * An open that does not create never writes: an empty file, or another
 * application's SQLite database, is "not a tract store" and stays exactly
 * as it was (no tract table, no WAL switch); a creating open makes it one.
 */
static void test_foreign_file_untouched(void **state)
{
	struct fx *f = *state;
	struct stat sb;
	sqlite3 *db;
	FILE *fp;

	fp = fopen(f->path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(open_be(f, 0), TRACT_ENOTFOUND);
	assert_non_null(strstr(f->err, "not a tract store"));
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	unlink(f->path);

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	raw_exec(db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
		     "INSERT INTO notes (body) VALUES ('mine')");
	sqlite3_close(db);
	assert_int_equal(open_be(f, 0), TRACT_ENOTFOUND);
	assert_non_null(strstr(f->err, "not a tract store"));
	db = raw_open(f);
	assert_raw(db, "1", "SELECT count(*) FROM sqlite_master", (const char *)NULL);
	assert_raw(db, "delete", "PRAGMA journal_mode", (const char *)NULL);
	assert_raw(db, "mine", "SELECT body FROM notes", (const char *)NULL);
	sqlite3_close(db);

	assert_int_equal(open_be(f, TRACT_BACKEND_CREATE), 0);
	close_be(f);
	db = raw_open(f);
	assert_true(raw_has(db, "table", "_trace_meta"));
	assert_raw(db, "mine", "SELECT body FROM notes", (const char *)NULL);
	sqlite3_close(db);
}

/* Eight processes create one new store at once, round after round: every
 * one succeeds (the busy timeout covers the creation of the schema). */
static void test_concurrent_create(void **state)
{
	struct fx *f = *state;
	int round, i, status;
	pid_t pids[8];

	for (round = 0; round < 20; round++) {
		snprintf(f->path, sizeof(f->path), "%s/c%d.db", f->dir, round);
		for (i = 0; i < 8; i++) {
			pids[i] = fork();
			assert_true(pids[i] >= 0);
			if (pids[i] == 0) {
				tract_backend_conn *c = NULL;
				char err[256];
				int rc = f->be->open(&c, f->path, TRACT_BACKEND_CREATE, err,
						     sizeof(err));
				if (rc < 0)
					fprintf(stderr, "child %d: %s\n", i, err);
				f->be->close(c);
				_exit(rc < 0 ? 1 : 0);
			}
		}
		for (i = 0; i < 8; i++) {
			assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
		}
		check_v4_schema(f);
	}
}

/* ---- stored formats ------------------------------------------------------- */

static void put_sample_rows(struct fx *f)
{
	tract_blob_row b = {"b0", "{\"text\":\"hi\"}", 13, 2, T0 + 123456};
	tract_blob_row old = {"b1", "{}", 2, 1, -1};
	tract_commit_row c = {"c0", "t", NULL, "b0", "dialogue", TRACT_OP_APPEND, NULL, NULL,
			      2, NULL, NULL, T0 + 123456};
	tract_commit_row e = {"c1", "t", "c0", "b0", "dialogue", TRACT_OP_EDIT, "c0", "m",
			      2, "{}", "{\"temperature\": 0.5}", T0};
	tract_annotation_row a = {0, "t", "c0", TRACT_PRIORITY_PINNED, NULL, T0};
	tract_compression_row cr = {"k", "t", NULL, T0, 10, 5, -1, NULL};

	assert_int_equal(open_be(f, TRACT_BACKEND_CREATE), 0);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->blob_put(f->c, &b, NULL), 0);
	assert_int_equal(f->be->blob_put(f->c, &old, NULL), 0);
	assert_int_equal(f->be->commit_put(f->c, &c), 0);
	assert_int_equal(f->be->commit_put(f->c, &e), 0);
	assert_int_equal(f->be->annotation_put(f->c, &a, NULL), 0);
	a.priority = TRACT_PRIORITY_SKIP;
	assert_int_equal(f->be->annotation_put(f->c, &a, NULL), 0);
	a.priority = TRACT_PRIORITY_NORMAL;
	assert_int_equal(f->be->annotation_put(f->c, &a, NULL), 0);
	assert_int_equal(f->be->compression_put(f->c, &cr), 0);
	assert_int_equal(f->be->commit(f->c), 0);
	close_be(f);
}

static void test_stored_formats(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;

	put_sample_rows(f);
	db = raw_open(f);
	assert_raw(db, "text|null|text|null",
		   "SELECT typeof(metadata_json) || '|' || metadata_json || '|' || "
		   "typeof(generation_config_json) || '|' || generation_config_json "
		   "FROM commits WHERE commit_hash = 'c0'",
		   (const char *)NULL);
	assert_raw(db, "{}|{\"temperature\": 0.5}",
		   "SELECT metadata_json || '|' || generation_config_json FROM commits "
		   "WHERE commit_hash = 'c1'",
		   (const char *)NULL);
	assert_raw(db, "2024-01-02 03:04:05.123456",
		   "SELECT created_at FROM commits WHERE commit_hash = ?1", "c0", (const char *)NULL);
	assert_raw(db, "2024-01-02 03:04:05.000000",
		   "SELECT created_at FROM commits WHERE commit_hash = ?1", "c1", (const char *)NULL);
	assert_raw(db, "text", "SELECT typeof(created_at) FROM commits WHERE commit_hash = ?1",
		   "c1", (const char *)NULL);
	assert_raw(db, "2024-01-02 03:04:05.123456",
		   "SELECT created_at FROM blobs WHERE content_hash = ?1", "b0", (const char *)NULL);
	assert_raw(db, "1969-12-31 23:59:59.999999",
		   "SELECT created_at FROM blobs WHERE content_hash = ?1", "b1", (const char *)NULL);
	assert_raw(db, "APPEND", "SELECT operation FROM commits WHERE commit_hash = ?1", "c0",
		   (const char *)NULL);
	assert_raw(db, "EDIT", "SELECT operation FROM commits WHERE commit_hash = ?1", "c1",
		   (const char *)NULL);
	assert_raw(db, "<null>", "SELECT message FROM commits WHERE commit_hash = ?1", "c0",
		   (const char *)NULL);
	assert_raw(db, "PINNED,SKIP,NORMAL",
		   "SELECT group_concat(priority) FROM (SELECT priority FROM annotations "
		   "ORDER BY id)",
		   (const char *)NULL);
	assert_raw(db, "<null>", "SELECT target_tokens FROM compressions", (const char *)NULL);
	assert_raw(db, "integer", "SELECT typeof(token_count) FROM commits WHERE commit_hash = 'c0'",
		   (const char *)NULL);
	sqlite3_close(db);
}

struct commit_out {
	tract_time t;
	tract_operation op;
	char metadata[64];
	int has_metadata;
};

static int on_commit_out(const tract_commit_row *row, void *payload)
{
	struct commit_out *o = payload;

	o->t = row->created_at;
	o->op = row->operation;
	o->has_metadata = row->metadata_json != NULL;
	snprintf(o->metadata, sizeof(o->metadata), "%s",
		 row->metadata_json ? row->metadata_json : "");
	return 0;
}

/* Rows written by other hands: lenient timestamps, SQL NULL JSON, unknown enums. */
static void test_reads_foreign_values(void **state)
{
	static const struct {
		const char *stored;
		tract_time want;
	} times[] = {
		{"2024-01-02 03:04:05", T0},
		{"2024-01-02T03:04:05.5", T0 + 500000},
		{"2024-01-02 03:04:05.123456+00:00", T0 + 123456},
		{"2024-01-02T05:04:05.000001+02:00", T0 + 1},
		{"2024-01-02 03:04:05.1234567Z", T0 + 123456},
	};
	struct fx *f = *state;
	struct commit_out o;
	sqlite3 *db;
	size_t i;

	put_sample_rows(f);
	db = raw_open(f);
	raw_exec(db, "UPDATE commits SET metadata_json = NULL, operation = 'append' "
		     "WHERE commit_hash = 'c0'");
	raw_exec(db, "UPDATE annotations SET priority = 'HIGH'");
	sqlite3_close(db);
	for (i = 0; i < N_OF(times); i++) {
		db = raw_open(f);
		{
			sqlite3_stmt *st;
			sqlite3_prepare_v2(db,
					   "UPDATE commits SET created_at = ?1 "
					   "WHERE commit_hash = 'c1'",
					   -1, &st, NULL);
			sqlite3_bind_text(st, 1, times[i].stored, -1, SQLITE_STATIC);
			assert_int_equal(sqlite3_step(st), SQLITE_DONE);
			sqlite3_finalize(st);
		}
		sqlite3_close(db);
		assert_int_equal(open_be(f, 0), 0);
		assert_int_equal(f->be->commit_get(f->c, NULL, "c1", on_commit_out, &o), 0);
		if (o.t != times[i].want)
			fail_msg("'%s' read as %lld", times[i].stored, (long long)o.t);
		close_be(f);
	}
	assert_int_equal(open_be(f, 0), 0);
	assert_int_equal(f->be->commit_get(f->c, NULL, "c0", on_commit_out, &o), 0);
	assert_int_equal(o.op, TRACT_OP_UNKNOWN);
	assert_int_equal(o.has_metadata, 0);
	close_be(f);

	/* An unreadable timestamp is a corrupt row. */
	db = raw_open(f);
	raw_exec(db, "UPDATE commits SET created_at = 'yesterday' WHERE commit_hash = 'c1'");
	sqlite3_close(db);
	assert_int_equal(open_be(f, 0), 0);
	assert_int_equal(f->be->commit_get(f->c, NULL, "c1", on_commit_out, &o), TRACT_ECORRUPT);
	assert_non_null(strstr(f->be->last_error(f->c), "yesterday"));
}

static int on_priority(const tract_chain_row *row, void *payload)
{
	*(tract_priority *)payload = row->priority;
	return 0;
}

static void test_unknown_priority(void **state)
{
	struct fx *f = *state;
	tract_priority p = TRACT_PRIORITY_PINNED;
	sqlite3 *db;

	put_sample_rows(f);
	db = raw_open(f);
	raw_exec(db, "UPDATE annotations SET priority = 'pinned'");
	sqlite3_close(db);
	assert_int_equal(open_be(f, 0), 0);
	assert_int_equal(
		f->be->commit_chain(f->c, "t", "c0", 0, TRACT_CHAIN_PRIORITY, INT64_MAX, on_priority, &p),
		0);
	assert_int_equal(p, TRACT_PRIORITY_NONE);
}

static int count_chain(const tract_chain_row *row, void *payload)
{
	(void)row;
	(*(int *)payload)++;
	return 0;
}

/* A corrupt parent cycle (written with foreign keys off) still ends the walk. */
static void test_parent_cycle_terminates(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	int n = 0;

	put_sample_rows(f);
	db = raw_open(f);
	raw_exec(db, "UPDATE commits SET parent_hash = 'c1' WHERE commit_hash = 'c0'");
	sqlite3_close(db);
	assert_int_equal(open_be(f, 0), 0);
	assert_int_equal(f->be->commit_chain(f->c, NULL, "c1", 0, 0, INT64_MAX, count_chain, &n), 0);
	assert_true(n >= 2 && n <= 10);
}

/*
 * A linear chain c00..c(n-1) in tract t, written through the plugin after
 * `noise` unrelated root commits of the same tract.
 */
static void put_chain(struct fx *f, int n, int noise)
{
	tract_blob_row b = {"b0", "{\"text\":\"hi\"}", 13, 2, T0};
	char hash[8], parent[8];
	int i;

	assert_int_equal(open_be(f, TRACT_BACKEND_CREATE), 0);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->blob_put(f->c, &b, NULL), 0);
	for (i = 0; i < noise; i++) {
		tract_commit_row c = {hash, "t", NULL, "b0", "dialogue", TRACT_OP_APPEND,
				      NULL, NULL, 2, NULL, NULL, T0};
		snprintf(hash, sizeof(hash), "n%03d", i);
		assert_int_equal(f->be->commit_put(f->c, &c), 0);
	}
	for (i = 0; i < n; i++) {
		tract_commit_row c = {hash, "t", i ? parent : NULL, "b0", "dialogue",
				      TRACT_OP_APPEND, NULL, NULL, 2, NULL, NULL, T0 + i};
		snprintf(hash, sizeof(hash), "c%02d", i);
		assert_int_equal(f->be->commit_put(f->c, &c), 0);
		memcpy(parent, hash, sizeof(hash));
	}
	assert_int_equal(f->be->commit(f->c), 0);
	close_be(f);
}

struct hashes {
	int n;
	char h[256][8];
};

static int collect_hashes(const tract_chain_row *row, void *payload)
{
	struct hashes *hs = payload;

	if (hs->n < 256)
		snprintf(hs->h[hs->n], sizeof(hs->h[0]), "%s", row->commit.commit_hash);
	hs->n++;
	return 0;
}

/*
 * A parent written after its child (foreign keys off, as an import might
 * do) has the greater rowid: a long walk still finds it and goes on.
 */
static void test_chain_parent_written_later(void **state)
{
	struct fx *f = *state;
	struct hashes all = {0}, limited = {0};
	sqlite3 *db;
	int i;

	put_chain(f, 60, 100);
	db = raw_open(f);
	raw_exec(db, "PRAGMA foreign_keys=OFF");
	raw_exec(db, "INSERT INTO commits (commit_hash, tract_id, parent_hash, content_hash, "
		     "content_type, operation, token_count, metadata_json, "
		     "generation_config_json, created_at) SELECT 'late', 't', NULL, content_hash, "
		     "content_type, operation, token_count, metadata_json, "
		     "generation_config_json, created_at FROM commits WHERE commit_hash = 'c00'");
	raw_exec(db, "UPDATE commits SET parent_hash = 'late' WHERE commit_hash = 'c00'");
	sqlite3_close(db);
	assert_int_equal(open_be(f, 0), 0);
	assert_int_equal(f->be->commit_chain(f->c, "t", "c59", 0, TRACT_CHAIN_PAYLOAD, INT64_MAX,
					     collect_hashes, &all),
			 0);
	assert_int_equal(f->be->commit_chain(f->c, "t", "c59", 1000, TRACT_CHAIN_PAYLOAD,
					     INT64_MAX, collect_hashes, &limited),
			 0);
	assert_int_equal(all.n, 61);
	assert_int_equal(limited.n, 61);
	for (i = 0; i < 61; i++)
		assert_string_equal(all.h[i], limited.h[i]);
	assert_string_equal(all.h[60], "late");
}

/* A corrupt cycle in a long chain of one tract ends the walk too. */
static void test_long_parent_cycle_terminates(void **state)
{
	struct fx *f = *state;
	struct hashes hs = {0};
	sqlite3 *db;

	put_chain(f, 60, 100);
	db = raw_open(f);
	raw_exec(db, "UPDATE commits SET parent_hash = 'c59' WHERE commit_hash = 'c00'");
	sqlite3_close(db);
	assert_int_equal(open_be(f, 0), 0);
	assert_int_equal(f->be->commit_chain(f->c, "t", "c59", 0, 0, INT64_MAX, collect_hashes,
					     &hs),
			 0);
	assert_true(hs.n >= 60 && hs.n <= 256);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_migrate_v1),
		T(test_migrate_v2),
		T(test_migrate_v3),
		T(test_migrate_v4),
		T(test_schema_matches_reference),
		T(test_open_leaves_v4_schema_alone),
		T(test_refuse_newer_version),
		T(test_refuse_non_integer_version),
		T(test_missing_version_row),
		T(test_missing_file_not_created),
		T(test_fresh_store),
		T(test_memory_is_private),
		T(test_close_rolls_back),
		T(test_busy_is_estorage),
		T(test_reader_does_not_wait_for_writer),
		T(test_foreign_file_untouched),
		T(test_concurrent_create),
		T(test_stored_formats),
		T(test_reads_foreign_values),
		T(test_unknown_priority),
		T(test_parent_cycle_terminates),
		T(test_chain_parent_written_later),
		T(test_long_parent_cycle_terminates),
	};

	return cmocka_run_group_tests_name("sqlite backend", tests, NULL, NULL);
}
