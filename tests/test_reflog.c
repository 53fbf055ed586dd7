/*
 * test_reflog.c - compile as of a time across history rewrites (the ref
 * log, core/reflog.c) on the backend of TRACT_TEST_BACKEND: the context
 * before a reset --hard, a compression, a rebase, a switch and a branch
 * rename; fast-forward moves write no record; gc keeps what a retained
 * record names and drops expired records.
 */
#include "helpers.h"

#include "internal.h"
#include "tract/compress.h"
#include "tract/gc.h"
#include "tract/rebase.h"

/* The compiled texts as of at, joined with '|'. */
static char *texts_at(tract *t, tract_time at)
{
	tract_compile_options o = TRACT_COMPILE_OPTIONS_INIT;
	tract_context *ctx = NULL;
	char *buf = calloc(1, 4096);
	size_t i;

	assert_non_null(buf);
	o.at_time = at;
	if (tract_context_compile(&ctx, t, at == TRACT_TIME_NONE ? NULL : &o) != 0)
		fail_msg("compile: %s", tract_error_last()->message);
	for (i = 0; i < tract_context_count(ctx); i++) {
		if (i)
			strcat(buf, "|");
		strncat(buf, tract_context_content(ctx, i), 4000 - strlen(buf));
	}
	tract_context_free(ctx);
	return buf;
}

static void expect_at(tract *t, tract_time at, const char *want)
{
	char *got = texts_at(t, at);

	assert_string_equal(got, want);
	free(got);
}

static int count_cb(const char *key, const char *value, void *payload)
{
	(void)key;
	(void)value;
	(*(int *)payload)++;
	return 0;
}

/* How many ref-log records the tract has. */
static int records(fx *f)
{
	char prefix[200];
	int n = 0;

	snprintf(prefix, sizeof(prefix), "reflog:%s:", tract_id(f->t));
	assert_int_equal(f->store->be->meta_foreach(f->store->conn, prefix, count_cb, &n), 0);
	return n;
}

static void test_before_reset_hard(void **state)
{
	fx *f = fx_new(NULL);
	char a1[65], a2[65], out[65];
	tract_time before, t_a1, t_all;

	(void)state;
	before = tract_time_now();
	fx_say(f, a1, "user", "one");
	t_a1 = tract_time_now();
	fx_say(f, a2, "user", "two");
	fx_say(f, NULL, "user", "three");
	t_all = tract_time_now();
	assert_int_equal(records(f), 0); /* fast-forwards: no record */
	assert_int_equal(tract_reset(out, f->t, a1, TRACT_RESET_HARD), 0);
	assert_int_equal(records(f), 1);
	fx_say(f, NULL, "user", "four");
	expect_at(f->t, t_all, "one|two|three");
	expect_at(f->t, t_a1, "one");
	expect_at(f->t, before, "");
	expect_at(f->t, tract_time_now(), "one|four");
	expect_at(f->t, TRACT_TIME_NONE, "one|four");
	/* A reset forward (a fast-forward) is not recorded. */
	assert_int_equal(tract_reset(out, f->t, "HEAD~1", TRACT_RESET_HARD), 0);
	assert_int_equal(records(f), 2);
	fx_free(f);
}

static void test_before_compress(void **state)
{
	fx *f = fx_new(NULL);
	tract_compress_options co = TRACT_COMPRESS_OPTIONS_INIT;
	tract_compress_result *r = NULL;
	const char *summary = "S: a summary";
	tract_time t_before;

	(void)state;
	fx_say(f, NULL, "user", "alpha");
	fx_say(f, NULL, "assistant", "beta");
	fx_say(f, NULL, "user", "gamma");
	t_before = tract_time_now();
	co.summaries = &summary;
	co.n_summaries = 1;
	if (tract_compress(&r, NULL, f->t, &co) != 0)
		fail_msg("compress: %s", tract_error_last()->message);
	tract_compress_result_free(r);
	expect_at(f->t, TRACT_TIME_NONE, "S: a summary");
	expect_at(f->t, t_before, "alpha|beta|gamma");
	fx_free(f);
}

static void test_before_rebase(void **state)
{
	fx *f = fx_new(NULL);
	tract_rebase_result *r = NULL;
	char out[65];
	tract_time t_before;

	(void)state;
	fx_say(f, NULL, "user", "base");
	assert_int_equal(tract_branch_create(out, f->t, "feature", NULL, 0), 0);
	fx_say(f, NULL, "user", "on main");
	assert_int_equal(tract_switch(out, f->t, "feature", NULL), 0);
	fx_say(f, NULL, "user", "f1");
	fx_say(f, NULL, "user", "f2");
	t_before = tract_time_now();
	if (tract_rebase(&r, f->t, "main", NULL) != 0)
		fail_msg("rebase: %s", tract_error_last()->message);
	tract_rebase_result_free(r);
	expect_at(f->t, TRACT_TIME_NONE, "base|on main|f1|f2");
	expect_at(f->t, t_before, "base|f1|f2");
	fx_free(f);
}

static void test_before_switch_and_rename(void **state)
{
	fx *f = fx_new(NULL);
	char out[65], a1[65];
	tract_time t_main, t_side, t_trunk, t_detached;

	(void)state;
	fx_say(f, a1, "user", "m1");
	fx_say(f, NULL, "user", "m2");
	t_main = tract_time_now();
	assert_int_equal(tract_branch_create(out, f->t, "side", a1, 0), 0);
	assert_int_equal(tract_switch(out, f->t, "side", NULL), 0);
	fx_say(f, NULL, "user", "s1");
	/* HEAD was on main at t_main: main's line, not side's. */
	expect_at(f->t, t_main, "m1|m2");
	expect_at(f->t, TRACT_TIME_NONE, "m1|s1");
	t_side = tract_time_now();
	assert_int_equal(tract_branch_rename(f->t, "side", "trunk"), 0);
	fx_say(f, NULL, "user", "t1");
	expect_at(f->t, t_side, "m1|s1");
	expect_at(f->t, t_main, "m1|m2");
	/* Detached, then back: HEAD's own moves. */
	t_trunk = tract_time_now();
	assert_int_equal(tract_checkout(out, f->t, a1), 0);
	t_detached = tract_time_now();
	expect_at(f->t, TRACT_TIME_NONE, "m1");
	assert_int_equal(tract_checkout(out, f->t, "trunk"), 0);
	expect_at(f->t, t_detached, "m1");
	expect_at(f->t, t_trunk, "m1|s1|t1");
	expect_at(f->t, t_side, "m1|s1");
	expect_at(f->t, TRACT_TIME_NONE, "m1|s1|t1");
	fx_free(f);
}

static void test_gc_keeps_retained_records(void **state)
{
	fx *f = fx_new(NULL);
	tract_gc_options go = TRACT_GC_OPTIONS_INIT;
	tract_gc_result *g = NULL;
	char a1[65], out[65];
	tract_time t_all;

	(void)state;
	fx_say(f, a1, "user", "one");
	fx_say(f, NULL, "user", "two");
	fx_say(f, NULL, "user", "three");
	t_all = tract_time_now();
	assert_int_equal(tract_reset(out, f->t, a1, TRACT_RESET_HARD), 0);
	/* Default retention: the record is young, its commits stay. */
	if (tract_gc(&g, f->t, &go) != 0)
		fail_msg("gc: %s", tract_error_last()->message);
	assert_int_equal(g->commits_removed, 0);
	tract_gc_result_free(g);
	assert_int_equal(records(f), 1);
	expect_at(f->t, t_all, "one|two|three");
	/* Retention 0: the record expires and the two commits go with it
	 * (spec/agents.md §3.4: reset --hard then gc(0) removes them). */
	go.orphan_retention_days = 0;
	if (tract_gc(&g, f->t, &go) != 0)
		fail_msg("gc: %s", tract_error_last()->message);
	assert_int_equal(g->commits_removed, 2);
	tract_gc_result_free(g);
	assert_int_equal(records(f), 0);
	expect_at(f->t, t_all, "one");
	fx_free(f);
}

/* A record older than the retention is dropped; a dry run keeps it. */
static void test_gc_dry_run_keeps_records(void **state)
{
	fx *f = fx_new(NULL);
	tract_gc_options go = TRACT_GC_OPTIONS_INIT;
	tract_gc_result *g = NULL;
	char a1[65], out[65];

	(void)state;
	fx_say(f, a1, "user", "one");
	fx_say(f, NULL, "user", "two");
	assert_int_equal(tract_reset(out, f->t, a1, TRACT_RESET_HARD), 0);
	go.orphan_retention_days = 0;
	go.dry_run = 1;
	if (tract_gc(&g, f->t, &go) != 0)
		fail_msg("gc: %s", tract_error_last()->message);
	assert_int_equal(g->commits_removed, 1);
	tract_gc_result_free(g);
	assert_int_equal(records(f), 1);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_before_reset_hard),
	    cmocka_unit_test(test_before_compress),
	    cmocka_unit_test(test_before_rebase),
	    cmocka_unit_test(test_before_switch_and_rename),
	    cmocka_unit_test(test_gc_keeps_retained_records),
	    cmocka_unit_test(test_gc_dry_run_keeps_records),
	};
	int rc = ts_init("reflog");

	if (rc)
		return rc;
	return ts_run("reflog", tests, TS_COUNT(tests), NULL, 0);
}
