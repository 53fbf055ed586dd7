/*
 * test_fsck.c - fsck finds every kind of damage: tampered payloads and
 * sizes, commit fields that no longer hash, missing parents, blobs and ref
 * targets, unknown enum values; accepts both merge-hash forms; and reports
 * the reference gc's blanked parents as warnings, not corruption.
 */
#include "helpers.h"

#include <sqlite3.h>

#include "hash.h"

static void raw_sql(fx *f, const char *sql)
{
	char path[300];
	sqlite3 *db;
	char *err = NULL;

	snprintf(path, sizeof(path), "%s/t.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, "PRAGMA foreign_keys=OFF;", NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("sql %s: %s", sql, err);
	sqlite3_close(db);
}

/* Count problems of a severity whose object or message contains needle. */
static int problems(fx *f, tract_fsck_severity sev, const char *needle)
{
	tract_fsck_report *r = NULL;
	tract_fsck_problem *p;
	size_t n, i;
	int hits = 0;

	assert_int_equal(tract_fsck_run(&r, f->store), 0);
	p = r->problems;
	n = r->count;
	for (i = 0; i < n; i++)
		if (p[i].severity == sev &&
		    (strstr(p[i].message, needle) || strstr(p[i].object, needle)))
			hits++;
	tract_fsck_report_free(r);
	return hits;
}

static int total_problems(fx *f)
{
	tract_fsck_report *r = NULL;
	size_t n;

	assert_int_equal(tract_fsck_run(&r, f->store), 0);
	n = r->count;
	tract_fsck_report_free(r);
	return (int)n;
}

static fx *history(char a[65], char b[65], char c[65])
{
	fx *f = fx_new(NULL);
	tract_commit *x = NULL;

	assert_int_equal(tract_commit_create_instruction(&x, f->t, "rules", NULL), 0);
	memcpy(a, tract_commit_hash(x), 65);
	tract_commit_free(x);
	fx_say(f, b, "user", "caf\xc3\xa9");
	fx_say(f, c, "assistant", "answer");
	assert_int_equal(total_problems(f), 0);
	return f;
}

static void test_clean_store(void **state)
{
	char a[65], b[65], c[65];
	fx *f = history(a, b, c);

	(void)state;
	assert_int_equal(total_problems(f), 0);
	fx_free(f);
}

static void test_tampered_blob(void **state)
{
	char a[65], b[65], c[65], sql[512];
	fx *f = history(a, b, c);
	tract_commit *x = NULL;

	(void)state;
	assert_int_equal(tract_commit_lookup(&x, f->t, b), 0);
	snprintf(sql, sizeof(sql),
		 "UPDATE blobs SET payload_json = replace(payload_json, 'caf', 'cof') "
		 "WHERE content_hash = '%s'",
		 tract_commit_content_hash(x));
	raw_sql(f, sql);
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, "content hash mismatch"), 1);
	snprintf(sql, sizeof(sql), "UPDATE blobs SET byte_size = 3 WHERE content_hash = '%s'",
		 tract_commit_content_hash(x));
	raw_sql(f, sql);
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, "byte_size 3"), 1);
	snprintf(sql, sizeof(sql), "UPDATE blobs SET payload_json = '{not json' WHERE content_hash = '%s'",
		 tract_commit_content_hash(x));
	raw_sql(f, sql);
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, "not JSON"), 1);
	tract_commit_free(x);
	fx_free(f);
}

static void test_tampered_commit(void **state)
{
	char a[65], b[65], c[65], sql[512];
	fx *f = history(a, b, c);

	(void)state;
	snprintf(sql, sizeof(sql),
		 "UPDATE commits SET created_at = '2001-01-01 00:00:00.000000' WHERE commit_hash = '%s'",
		 b);
	raw_sql(f, sql);
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, "commit hash mismatch"), 1);
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, b), 1);
	snprintf(sql, sizeof(sql), "UPDATE commits SET operation = 'MERGE' WHERE commit_hash = '%s'", c);
	raw_sql(f, sql);
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, "unknown operation"), 1);
	fx_free(f);
}

static void test_missing_links(void **state)
{
	char a[65], b[65], c[65], sql[1024];
	fx *f = history(a, b, c);
	const char *ghost = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

	(void)state;
	snprintf(sql, sizeof(sql),
		 "UPDATE commits SET parent_hash = '%s' WHERE commit_hash = '%s';"
		 "UPDATE refs SET commit_hash = '%s' WHERE ref_name = 'refs/heads/main';"
		 "UPDATE annotations SET priority = 'MAYBE';"
		 "INSERT INTO annotations (tract_id, target_hash, priority, reason, created_at) "
		 "VALUES ('x', '%s', 'SKIP', NULL, '2024-01-01 00:00:00.000000');",
		 ghost, c, ghost, ghost);
	raw_sql(f, sql);
	assert_true(problems(f, TRACT_FSCK_ERROR, "parent ffffffff") >= 1);
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, "ref points at missing commit"), 1);
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, "unknown priority"), 1);
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, "target commit ffffffff"), 1);
	snprintf(sql, sizeof(sql), "DELETE FROM blobs WHERE content_hash = "
				   "(SELECT content_hash FROM commits WHERE commit_hash = '%s')",
		 a);
	raw_sql(f, sql);
	/* parent, annotation target and now the content blob */
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, "is missing"), 3);
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, "content blob"), 1);
	fx_free(f);
}

/* A merge commit hashed with parent_hashes (the decided form) and one hashed
 * like the reference (first parent only) both verify. */
static void test_both_merge_forms(void **state)
{
	char a[65], b[65], c[65], m[65];
	fx *f = history(a, b, c);
	tract_store *s = f->store;
	tract_commit_hash_input in;
	tract_commit_row row;
	tract *t = f->t;
	const char *extra[] = {b};
	tract_commit *x = NULL;

	(void)state;
	/* Reference form: an ordinary commit, then its parents recorded. */
	fx_commit(f, m, "{\"content_type\":\"freeform\",\"payload\":{\"message\":\"merge\"}}", NULL);
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(s->be->parent_put(s->conn, m, c, 0), 0);
	assert_int_equal(s->be->parent_put(s->conn, m, b, 1), 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	assert_int_equal(total_problems(f), 0);
	/* Decided form: hash over the sorted parent list. */
	assert_int_equal(tract_commit_lookup(&x, t, m), 0);
	memset(&in, 0, sizeof(in));
	in.content_hash = tract_commit_content_hash(x);
	in.parent_hash = m;
	in.content_type = "freeform";
	in.created_at = tract_commit_time(x) + 5;
	in.extra_parents = extra;
	in.n_extra = 1;
	assert_int_equal(tract_commit_hash_compute(a, &in), 0);
	memset(&row, 0, sizeof(row));
	row.commit_hash = a;
	row.tract_id = t->id;
	row.parent_hash = m;
	row.content_hash = in.content_hash;
	row.content_type = "freeform";
	row.created_at = in.created_at;
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(s->be->commit_put(s->conn, &row), 0);
	assert_int_equal(s->be->parent_put(s->conn, a, m, 0), 0);
	assert_int_equal(s->be->parent_put(s->conn, a, b, 1), 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	assert_int_equal(total_problems(f), 0);
	/* The same commit without its parent rows no longer verifies. */
	{
		char sql[256];
		snprintf(sql, sizeof(sql), "DELETE FROM commit_parents WHERE commit_hash = '%s'", a);
		raw_sql(f, sql);
	}
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, "commit hash mismatch"), 1);
	tract_commit_free(x);
	fx_free(f);
}

/* The reference's gc blanks a compression source's parent: a warning. */
static void test_gc_blanked_parent_is_a_warning(void **state)
{
	char a[65], b[65], c[65], sql[1024];
	fx *f = history(a, b, c);

	(void)state;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO compressions VALUES ('cmp1', '%s', 'main', '2024-01-01 00:00:00.000000', 10, 5, NULL, NULL);"
		 "INSERT INTO compression_sources VALUES ('cmp1', '%s', 0);"
		 "UPDATE commits SET parent_hash = NULL WHERE commit_hash = '%s';",
		 f->t->id, b, b);
	raw_sql(f, sql);
	assert_int_equal(problems(f, TRACT_FSCK_WARNING, "gc"), 1);
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, ""), 0);
	/* Without the compression record it is corruption. */
	raw_sql(f, "DELETE FROM compression_sources; DELETE FROM compressions;");
	assert_int_equal(problems(f, TRACT_FSCK_ERROR, "commit hash mismatch"), 1);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_store),
		cmocka_unit_test(test_tampered_blob),
		cmocka_unit_test(test_tampered_commit),
		cmocka_unit_test(test_missing_links),
		cmocka_unit_test(test_both_merge_forms),
		cmocka_unit_test(test_gc_blanked_parent_is_a_warning),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
