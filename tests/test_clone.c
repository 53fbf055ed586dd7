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
 *
 * This file has the copies, refusals and failures midway; clone_compare.c,
 * clone_stores.c and clone_more.c (bounded memory, other backends) the rest.
 */
#include "clone_test.h"

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
