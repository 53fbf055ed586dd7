/*
 * test_merge.c - merge (spec/history.md §8 with DECISIONS.md): the checks
 * in order, fast-forward, --no-ff, already merged, merge commits hashed
 * over all parents, compiling merges, the three conflict kinds and their
 * order, resolvers, strategies, review-then-commit, auto-commit,
 * delete_branch, and nothing written on every failure. Each reference NOTE
 * the decisions fix has a test that fails on the reference behaviour.
 */
#include "helpers.h"

#include "hash.h"

/* ---- branches and HEAD through the store (no branch API on this branch) --- */

static void set_ref(fx *f, const char *name, const char *commit, const char *symbolic)
{
	tract_store *s = f->store;
	tract_ref_value cur;
	tract_ref_row exp;

	assert_int_equal(tract_txn_begin(s, TRACT_TXN_WRITE), 0);
	assert_int_equal(tract_ref_read(&cur, s, tract_id(f->t), name), 0);
	memset(&exp, 0, sizeof(exp));
	exp.commit_hash = cur.commit[0] ? cur.commit : NULL;
	exp.symbolic_target = cur.symbolic[0] ? cur.symbolic : NULL;
	assert_int_equal(s->be->ref_cas(s->conn, tract_id(f->t), name, commit, symbolic,
					cur.exists ? &exp : NULL),
			 0);
	assert_int_equal(tract_txn_end(s, 0), 0);
}

/* Create or move branch name to hash. */
static void branch_at(fx *f, const char *name, const char *hash)
{
	char ref[300];

	snprintf(ref, sizeof(ref), "refs/heads/%s", name);
	set_ref(f, ref, hash, NULL);
}

/* Attach HEAD to a branch (git switch). */
static void switch_to(fx *f, const char *name)
{
	char ref[300];

	snprintf(ref, sizeof(ref), "refs/heads/%s", name);
	set_ref(f, "HEAD", NULL, ref);
}

static void detach_at(fx *f, const char *hash)
{
	set_ref(f, "HEAD", hash, NULL);
}

static int branch_exists(fx *f, const char *name, char tip[65])
{
	tract_ref_value v;
	char ref[300];

	snprintf(ref, sizeof(ref), "refs/heads/%s", name);
	assert_int_equal(tract_txn_begin(f->store, TRACT_TXN_READ), 0);
	assert_int_equal(tract_ref_read(&v, f->store, tract_id(f->t), ref), 0);
	assert_int_equal(tract_txn_end(f->store, 0), 0);
	if (tip)
		memcpy(tip, v.commit, 65);
	return v.exists;
}

static void head_hash(fx *f, char out[65])
{
	assert_int_equal(tract_head_get(out, NULL, NULL, f->t), 0);
}

static void edit(fx *f, char out[65], const char *target, const char *text)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;

	o.operation = TRACT_OP_EDIT;
	o.response_to = target;
	if (tract_commit_create_dialogue(&c, f->t, "user", text, NULL, &o) != 0)
		fail_msg("edit: %s", tract_error_last()->message);
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static void skip_commit(fx *f, const char *hash)
{
	assert_int_equal(tract_annotation_create(NULL, f->t, hash, TRACT_PRIORITY_SKIP, NULL), 0);
}

static int parent_rows_cb(const char *c, const char *p, int64_t pos, void *payload)
{
	char(*rows)[65] = payload;

	(void)c;
	assert_true(pos >= 0 && pos < 4);
	memcpy(rows[pos], p, 65);
	return 0;
}

static int n_parent_rows_cb(const char *c, const char *p, int64_t pos, void *payload)
{
	(void)c;
	(void)p;
	(void)pos;
	(*(int *)payload)++;
	return 0;
}

static int parent_row_total(fx *f)
{
	int n = 0;

	assert_int_equal(tract_txn_begin(f->store, TRACT_TXN_READ), 0);
	assert_int_equal(f->store->be->parent_foreach(f->store->conn, n_parent_rows_cb, &n), 0);
	assert_int_equal(tract_txn_end(f->store, 0), 0);
	return n;
}

static void fsck_clean(fx *f)
{
	tract_fsck_report *rep = NULL;

	assert_int_equal(tract_fsck_run(&rep, f->store), 0);
	if (rep->count) {
		char *json = NULL;
		tract_fsck_report_to_json(&json, rep);
		fail_msg("fsck: %s", json);
	}
	tract_fsck_report_free(rep);
}

/* The compiled messages joined as "content|content|..." */
static char *compiled(fx *f, const tract_compile_options *o)
{
	tract_context *ctx = fx_compile(f, o);
	tract_buf b = TRACT_BUF_INIT;
	size_t i;

	for (i = 0; i < tract_context_count(ctx); i++)
		tract_buf_printf(&b, "%s%s", i ? "|" : "", tract_context_content(ctx, i));
	tract_context_free(ctx);
	if (!b.ptr)
		tract_buf_puts(&b, "");
	return b.ptr;
}

static void assert_compiled(fx *f, const char *want)
{
	char *got = compiled(f, NULL);

	assert_string_equal(got, want);
	free(got);
}

static tract_merge_result *merge_ok(fx *f, const char *source, const tract_merge_options *o)
{
	tract_merge_result *r = NULL;

	if (tract_merge(&r, f->t, source, o) != 0)
		fail_msg("merge %s: %s", source, tract_error_last()->message);
	assert_non_null(r);
	return r;
}

static void merge_fails(fx *f, const char *source, const tract_merge_options *o, int code,
			const char *msg)
{
	tract_merge_result *r = (tract_merge_result *)1;
	fx_counts before = fx_count(f);
	int parents = parent_row_total(f);

	assert_int_equal(tract_merge(&r, f->t, source, o), code);
	assert_null(r);
	assert_int_equal(tract_error_last()->code, code);
	if (msg && !strstr(tract_error_last()->message, msg))
		fail_msg("message '%s' lacks '%s'", tract_error_last()->message, msg);
	fx_assert_same_counts(before, fx_count(f));
	assert_int_equal(parents, parent_row_total(f));
}

/*
 * The usual diverged history:
 *   main:    root - m1
 *   feature: root - f1 - f2
 * HEAD on main.
 */
typedef struct {
	char root[65], m1[65], f1[65], f2[65];
} diverged;

static void make_diverged(fx *f, diverged *d)
{
	fx_say(f, d->root, "user", "root");
	branch_at(f, "feature", d->root);
	switch_to(f, "feature");
	fx_say(f, d->f1, "user", "f1");
	fx_say(f, d->f2, "user", "f2");
	switch_to(f, "main");
	fx_say(f, d->m1, "user", "m1");
}

/* ---- §8.1 checks, in order ------------------------------------------------------ */

static void test_checks_in_order(void **state)
{
	fx *f = fx_new(NULL);
	diverged d;

	(void)state;
	/* an empty tract: no HEAD row is not "detached" (NOTE of §8.1) */
	merge_fails(f, "feature", NULL, TRACT_ENOTFOUND, "Branch not found: feature");
	assert_null(strstr(tract_error_last()->message, "detached"));
	make_diverged(f, &d);
	/* 1. detached wins over a missing source */
	detach_at(f, d.m1);
	merge_fails(f, "ghost", NULL, TRACT_EDETACHED, "Cannot merge in detached HEAD state");
	switch_to(f, "main");
	/* 2. the source branch */
	merge_fails(f, "ghost", NULL, TRACT_ENOTFOUND, "Branch not found: ghost");
	/* 3. a current branch without commits, named as such */
	switch_to(f, "unborn");
	merge_fails(f, "feature", NULL, TRACT_ENOTFOUND,
		    "Cannot merge: no commits on current branch");
	assert_null(strstr(tract_error_last()->message, "detached"));
	switch_to(f, "main");
	/* bad arguments */
	merge_fails(f, "", NULL, TRACT_EINVAL, NULL);
	{
		tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
		o.strategy = TRACT_MERGE_STRATEGY_OURS;
		o.resolver = tract_merge_resolver_theirs;
		merge_fails(f, "feature", &o, TRACT_EINVAL, "not both");
		o.resolver = NULL;
		o.version = 99;
		merge_fails(f, "feature", &o, TRACT_EINVAL, NULL);
		o.version = TRACT_MERGE_OPTIONS_VERSION;
		o.strategy = (tract_merge_strategy)7;
		merge_fails(f, "feature", &o, TRACT_EINVAL, NULL);
	}
	fx_free(f);
}

/* ---- up to date, fast-forward, --no-ff ---------------------------------------------- */

static void test_up_to_date(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
	tract_merge_result *r;
	char a[65], b[65];
	fx_counts before;

	(void)state;
	fx_say(f, a, "user", "a");
	branch_at(f, "same", a);
	branch_at(f, "old", a);
	fx_say(f, b, "user", "b");
	branch_at(f, "same", b);
	before = fx_count(f);
	/* the same commit (also a branch merged into itself) */
	r = merge_ok(f, "same", NULL);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_UP_TO_DATE);
	assert_false(tract_merge_result_committed(r));
	assert_null(tract_merge_result_commit(r));
	tract_merge_result_free(r);
	r = merge_ok(f, "main", NULL);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_UP_TO_DATE);
	tract_merge_result_free(r);
	/* already merged: the source is behind, with or without no_ff */
	o.no_ff = 1;
	r = merge_ok(f, "old", &o);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_UP_TO_DATE);
	assert_string_equal(tract_merge_result_base(r), a);
	assert_int_equal(tract_merge_commit(r), TRACT_EINVAL);
	tract_merge_result_free(r);
	fx_assert_same_counts(before, fx_count(f));
	fx_free(f);
}

static void test_fast_forward(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_result *r;
	char a[65], b[65], c[65], h[65], *json = NULL;
	fx_counts before;

	(void)state;
	fx_say(f, a, "user", "a");
	branch_at(f, "feature", a);
	switch_to(f, "feature");
	fx_say(f, b, "user", "b");
	fx_say(f, c, "assistant", "c");
	switch_to(f, "main");
	before = fx_count(f);
	r = merge_ok(f, "feature", NULL);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_FAST_FORWARD);
	assert_true(tract_merge_result_committed(r));
	assert_string_equal(tract_merge_result_commit(r), c);
	assert_string_equal(tract_merge_result_source_tip(r), c);
	assert_string_equal(tract_merge_result_target_tip(r), a);
	assert_null(tract_merge_result_base(r));
	assert_int_equal(tract_merge_result_conflict_count(r), 0);
	assert_string_equal(tract_merge_result_target_branch(r), "main");
	assert_string_equal(tract_merge_result_source_branch(r), "feature");
	assert_int_equal(tract_merge_result_to_json(&json, r), 0);
	assert_non_null(strstr(json, "\"merge_type\": \"fast_forward\""));
	assert_non_null(strstr(json, "\"merge_base_hash\": null"));
	tract_string_free(json);
	/* a fast-forward is not committed twice */
	assert_int_equal(tract_merge_commit(r), TRACT_EINVAL);
	tract_merge_result_free(r);
	head_hash(f, h);
	assert_string_equal(h, c);
	/* no commit, no commit_parents rows; HEAD still attached */
	{
		fx_counts after = fx_count(f);
		assert_int_equal(after.commits, before.commits);
		assert_int_equal(parent_row_total(f), 0);
	}
	{
		char *br = NULL;
		int det = 1;
		assert_int_equal(tract_head_get(h, &br, &det, f->t), 0);
		assert_string_equal(br, "main");
		assert_false(det);
		tract_string_free(br);
	}
	assert_compiled(f, "a|b|c");
	fx_free(f);
}

static void test_fast_forward_delete_branch(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
	tract_merge_result *r;
	char a[65], b[65];

	(void)state;
	fx_say(f, a, "user", "a");
	branch_at(f, "feature", a);
	switch_to(f, "feature");
	fx_say(f, b, "user", "b");
	switch_to(f, "main");
	o.delete_branch = 1;
	r = merge_ok(f, "feature", &o);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_FAST_FORWARD);
	tract_merge_result_free(r);
	assert_false(branch_exists(f, "feature", NULL));
	fsck_clean(f);
	fx_free(f);
}

/* Recompute a merge commit's hash both ways. */
static void check_merge_hash(fx *f, const char *merge, const char *first, const char *second)
{
	tract_commit *c = NULL;
	tract_commit_hash_input in;
	const char *extra[1] = {second};
	char with[65], without[65];

	assert_int_equal(tract_commit_lookup(&c, f->t, merge), 0);
	memset(&in, 0, sizeof(in));
	in.content_hash = tract_commit_content_hash(c);
	in.parent_hash = first;
	in.content_type = "freeform";
	in.operation = TRACT_OP_APPEND;
	in.created_at = tract_commit_time(c);
	assert_int_equal(tract_commit_hash_compute(without, &in), 0);
	in.extra_parents = extra;
	in.n_extra = 1;
	assert_int_equal(tract_commit_hash_compute(with, &in), 0);
	/* DECISIONS.md: the hash covers every parent (the reference's does not) */
	assert_string_equal(merge, with);
	assert_string_not_equal(merge, without);
	assert_string_equal(tract_commit_parent(c), first);
	assert_int_equal(tract_commit_extra_parent_count(c), 1);
	assert_string_equal(tract_commit_extra_parent(c, 0), second);
	assert_string_equal(tract_commit_content_type(c), "freeform");
	assert_int_equal(tract_commit_operation(c), TRACT_OP_APPEND);
	tract_commit_free(c);
}

static void check_parent_rows(fx *f, const char *merge, const char *first, const char *second)
{
	char rows[4][65];

	memset(rows, 0, sizeof(rows));
	assert_int_equal(tract_txn_begin(f->store, TRACT_TXN_READ), 0);
	assert_int_equal(f->store->be->parent_list(f->store->conn, merge, parent_rows_cb, rows), 0);
	assert_int_equal(tract_txn_end(f->store, 0), 0);
	assert_string_equal(rows[0], first);
	assert_string_equal(rows[1], second);
	assert_string_equal(rows[2], "");
}

static void test_no_ff(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
	tract_merge_result *r;
	char a[65], b[65], h[65];

	(void)state;
	fx_say(f, a, "user", "a");
	branch_at(f, "feature", a);
	switch_to(f, "feature");
	fx_say(f, b, "user", "b");
	switch_to(f, "main");
	o.no_ff = 1;
	r = merge_ok(f, "feature", &o);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_CLEAN);
	assert_true(tract_merge_result_committed(r));
	assert_string_equal(tract_merge_result_base(r), a);
	assert_int_equal(tract_merge_result_merged_count(r), 1);
	assert_string_equal(tract_merge_result_merged(r, 0), b);
	head_hash(f, h);
	assert_string_equal(h, tract_merge_result_commit(r));
	check_merge_hash(f, h, a, b);
	check_parent_rows(f, h, a, b);
	tract_merge_result_free(r);
	assert_compiled(f, "a|b");
	fsck_clean(f);
	fx_free(f);
}

/* ---- clean merge ------------------------------------------------------------------------ */

static int blob_cb(const tract_blob_row *row, void *payload)
{
	snprintf(payload, 512, "%s", row->payload_json);
	return 0;
}

static void test_clean_merge(void **state)
{
	fx *f = fx_new(NULL);
	tract_compile_options co = TRACT_COMPILE_OPTIONS_INIT;
	tract_merge_result *r;
	tract_commit *c = NULL;
	char h[65], payload[512], *got;
	diverged d;

	(void)state;
	make_diverged(f, &d);
	r = merge_ok(f, "feature", NULL);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_CLEAN);
	assert_string_equal(tract_merge_result_base(r), d.root);
	assert_string_equal(tract_merge_result_source_tip(r), d.f2);
	assert_string_equal(tract_merge_result_target_tip(r), d.m1);
	/* the current side's commits, then the source's, oldest first */
	assert_int_equal(tract_merge_result_merged_count(r), 3);
	assert_string_equal(tract_merge_result_merged(r, 0), d.m1);
	assert_string_equal(tract_merge_result_merged(r, 1), d.f1);
	assert_string_equal(tract_merge_result_merged(r, 2), d.f2);
	head_hash(f, h);
	assert_string_equal(h, tract_merge_result_commit(r));
	tract_merge_result_free(r);
	check_merge_hash(f, h, d.m1, d.f2);
	check_parent_rows(f, h, d.m1, d.f2);
	assert_int_equal(tract_commit_lookup(&c, f->t, h), 0);
	assert_string_equal(tract_commit_message(c), "Merge branch 'feature' into main");
	assert_null(tract_commit_metadata(c));
	assert_null(tract_commit_generation_config(c));
	assert_int_equal(tract_txn_begin(f->store, TRACT_TXN_READ), 0);
	assert_int_equal(f->store->be->blob_get(f->store->conn, tract_commit_content_hash(c),
						blob_cb, payload),
			 0);
	assert_int_equal(tract_txn_end(f->store, 0), 0);
	assert_string_equal(payload, "{\"content_type\": \"freeform\", \"payload\": {\"message\": "
				     "\"Merged feature into main\"}}");
	tract_commit_free(c);
	/* a merge compiles to no message (the reference's JSON message pollutes
	 * the context); the branch's commits come before the merge */
	assert_compiled(f, "root|m1|f1|f2");
	/* ... unless asked for */
	co.merge_messages = 1;
	got = compiled(f, &co);
	assert_string_equal(got, "root|m1|f1|f2|{\n  \"message\": \"Merged feature into main\"\n}");
	free(got);
	fsck_clean(f);
	fx_free(f);
}

/* NOTE of §6.2 (branch_commits): after feature was merged into main, merging
 * main back into feature must not count shared history as unique. */
static void test_unique_over_all_parents(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_result *r;
	char m2[65], merge1[65];
	diverged d;
	size_t i;

	(void)state;
	make_diverged(f, &d);
	r = merge_ok(f, "feature", NULL);
	memcpy(merge1, tract_merge_result_commit(r), 65);
	tract_merge_result_free(r);
	fx_say(f, m2, "user", "m2");
	switch_to(f, "feature");
	r = merge_ok(f, "main", NULL);
	/* feature is an ancestor of main now: a fast-forward */
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_FAST_FORWARD);
	tract_merge_result_free(r);
	/* diverge again and merge main into feature with no_ff: shared
	 * history (root, f1, f2, m1) is not unique to either side */
	{
		tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
		char f3[65], m3[65];
		fx_say(f, f3, "user", "f3");
		switch_to(f, "main");
		fx_say(f, m3, "user", "m3");
		switch_to(f, "feature");
		o.no_ff = 1;
		r = merge_ok(f, "main", &o);
		assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_CLEAN);
		assert_string_equal(tract_merge_result_base(r), m2);
		assert_int_equal(tract_merge_result_merged_count(r), 2);
		assert_string_equal(tract_merge_result_merged(r, 0), f3);
		assert_string_equal(tract_merge_result_merged(r, 1), m3);
		for (i = 0; i < tract_merge_result_merged_count(r); i++)
			assert_string_not_equal(tract_merge_result_merged(r, i), d.root);
		tract_merge_result_free(r);
	}
	assert_compiled(f, "root|m1|f1|f2|m2|f3|m3");
	fsck_clean(f);
	fx_free(f);
}

/* ---- conflicts ------------------------------------------------------------------------------ */

/* shared: x, y (pre-merge-base); feature edits x then y, main edits y then x */
typedef struct {
	char x[65], y[65], ax[65], ay[65], bx[65], by[65];
} both;

static void make_both_edit(fx *f, both *s)
{
	fx_say(f, s->x, "user", "x");
	fx_say(f, s->y, "assistant", "y");
	branch_at(f, "feature", s->y);
	switch_to(f, "feature");
	edit(f, s->bx, s->x, "x by feature");
	edit(f, s->by, s->y, "y by feature");
	switch_to(f, "main");
	edit(f, s->ay, s->y, "y by main");
	edit(f, s->ax, s->x, "x by main");
}

static void test_both_edit_order(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_result *r;
	const tract_issue *c;
	fx_counts before;
	char h[65], *json = NULL;
	both s;

	(void)state;
	make_both_edit(f, &s);
	before = fx_count(f);
	head_hash(f, h);
	r = merge_ok(f, "feature", NULL);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_CONFLICT);
	assert_false(tract_merge_result_committed(r));
	assert_null(tract_merge_result_commit(r));
	assert_string_equal(tract_merge_result_base(r), s.y);
	/* nothing written */
	fx_assert_same_counts(before, fx_count(f));
	{
		char now[65];
		head_hash(f, now);
		assert_string_equal(now, h);
	}
	/* both_edit in the order of the current side's edits: y, then x */
	assert_int_equal(tract_merge_result_conflict_count(r), 2);
	c = tract_merge_result_conflict(r, 0);
	assert_int_equal(c->kind, TRACT_ISSUE_BOTH_EDIT);
	assert_string_equal(c->operation, "merge");
	assert_string_equal(c->key, s.y);
	assert_string_equal(c->target_hash, s.y);
	assert_string_equal(c->commit_a, s.ay);
	assert_string_equal(c->commit_b, s.by);
	assert_string_equal(c->text_a, "y by main");
	assert_string_equal(c->text_b, "y by feature");
	assert_string_equal(c->branch_a, "main");
	assert_string_equal(c->branch_b, "feature");
	assert_non_null(strstr(c->description, "both branches edited"));
	c = tract_merge_result_conflict(r, 1);
	assert_string_equal(c->key, s.x);
	assert_string_equal(c->commit_a, s.ax);
	assert_string_equal(c->commit_b, s.bx);
	assert_null(tract_merge_result_conflict(r, 2));
	assert_int_equal(tract_merge_result_unresolved_count(r), 2);
	assert_int_equal(tract_merge_result_to_json(&json, r), 0);
	assert_non_null(strstr(json, "\"conflict_type\": \"both_edit\""));
	assert_non_null(strstr(json, "\"unresolved\": 2"));
	assert_non_null(strstr(json, "\"content_a_text\": \"y by main\""));
	tract_string_free(json);
	tract_merge_result_free(r);
	/* the same again: deterministic */
	r = merge_ok(f, "feature", NULL);
	assert_string_equal(tract_merge_result_conflict(r, 0)->key, s.y);
	assert_string_equal(tract_merge_result_conflict(r, 1)->key, s.x);
	tract_merge_result_free(r);
	fx_free(f);
}

/*
 * Every kind, in the documented order:
 *   shared: p (both edit), q (skipped, feature edits), s (skipped, main
 *   edits), u (main edits, feature appends), v (feature edits, main appends)
 * Expected: both_edit p; skip_vs_edit q (editor on the source);
 * skip_vs_edit s (editor on the current side); edit_plus_append for s and
 * u (editor on the current side) in main's edit order; edit_plus_append
 * for p? no (both edited); for q and v (editor on the source) in feature's
 * edit order.
 */
static void test_all_kinds_in_order(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_result *r;
	const tract_issue *c;
	char p[65], q[65], s[65], u[65], v[65], base[65];
	char ap[65], as[65], au[65], bp[65], bq[65], bv[65], a_app[65], b_app[65], later[65];
	char inner[65];
	static const tract_issue_kind kinds[] = {
	    TRACT_ISSUE_BOTH_EDIT,        TRACT_ISSUE_SKIP_VS_EDIT,     TRACT_ISSUE_SKIP_VS_EDIT,
	    TRACT_ISSUE_EDIT_PLUS_APPEND, TRACT_ISSUE_EDIT_PLUS_APPEND, TRACT_ISSUE_EDIT_PLUS_APPEND,
	    TRACT_ISSUE_EDIT_PLUS_APPEND};
	size_t i;

	(void)state;
	fx_say(f, p, "user", "p");
	fx_say(f, q, "user", "q");
	fx_say(f, s, "user", "s");
	fx_say(f, u, "user", "u");
	fx_say(f, v, "user", "v");
	skip_commit(f, q);
	skip_commit(f, s);
	head_hash(f, base);
	branch_at(f, "feature", base);
	switch_to(f, "feature");
	fx_say(f, b_app, "user", "feature append");
	edit(f, bv, v, "v by feature");
	edit(f, bq, q, "q by feature");
	edit(f, bp, p, "p by feature");
	/* an edit of a commit made after the base never conflicts */
	fx_say(f, inner, "user", "inner");
	edit(f, NULL, inner, "inner edited");
	switch_to(f, "main");
	edit(f, au, u, "u by main");
	edit(f, as, s, "s by main");
	edit(f, ap, p, "p by main");
	fx_say(f, a_app, "assistant", "main append");
	fx_say(f, later, "assistant", "main later");
	r = merge_ok(f, "feature", NULL);
	assert_int_equal(tract_merge_result_conflict_count(r), TS_COUNT(kinds));
	for (i = 0; i < TS_COUNT(kinds); i++)
		assert_int_equal(tract_merge_result_conflict(r, i)->kind, kinds[i]);
	c = tract_merge_result_conflict(r, 0);
	assert_string_equal(c->key, p);
	/* skip_vs_edit, editor on the source: A is the skipped target */
	c = tract_merge_result_conflict(r, 1);
	assert_string_equal(c->key, q);
	assert_string_equal(c->commit_a, q);
	assert_string_equal(c->text_a, "[SKIPPED]");
	assert_string_equal(c->commit_b, bq);
	assert_string_equal(c->text_b, "q by feature");
	/* skip_vs_edit, editor on the current side */
	c = tract_merge_result_conflict(r, 2);
	assert_string_equal(c->key, s);
	assert_string_equal(c->commit_a, as);
	assert_string_equal(c->text_a, "s by main");
	assert_string_equal(c->commit_b, s);
	assert_string_equal(c->text_b, "[SKIPPED]");
	/* edit_plus_append, editor on the current side, in main's edit
	 * order (u, s); B's first append */
	c = tract_merge_result_conflict(r, 3);
	assert_string_equal(c->key, u);
	assert_string_equal(c->commit_a, au);
	assert_string_equal(c->commit_b, b_app);
	assert_string_equal(c->text_b, "feature append");
	c = tract_merge_result_conflict(r, 4);
	assert_string_equal(c->key, s);
	/* editor on the source, in feature's edit order (v, q); A's first append */
	c = tract_merge_result_conflict(r, 5);
	assert_string_equal(c->key, v);
	assert_string_equal(c->commit_a, a_app);
	assert_string_equal(c->commit_b, bv);
	assert_string_equal(c->text_a, "main append");
	c = tract_merge_result_conflict(r, 6);
	assert_string_equal(c->key, q);
	/* two conflicts share the keys q and s: 5 distinct keys */
	assert_int_equal(tract_merge_result_unresolved_count(r), 7);
	tract_merge_result_free(r);
	fx_free(f);
}

/* A side with only edits has no appends: no edit_plus_append. */
static void test_edits_only_no_append_conflict(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_result *r;
	char x[65], y[65];

	(void)state;
	fx_say(f, x, "user", "x");
	fx_say(f, y, "user", "y");
	branch_at(f, "feature", y);
	switch_to(f, "feature");
	edit(f, NULL, x, "x by feature");
	switch_to(f, "main");
	edit(f, NULL, y, "y by main");
	r = merge_ok(f, "feature", NULL);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_CLEAN);
	tract_merge_result_free(r);
	assert_compiled(f, "x by feature|y by main");
	fx_free(f);
}

/* ---- resolvers -------------------------------------------------------------------------------- */

typedef struct {
	const tract_resolve_action *actions; /* one per call */
	const char *const *texts;
	int calls;
	int fail_code; /* return this on the first call when nonzero */
	char seen[8][65];
} script;

static int scripted(tract_resolution *out, const tract_issue *issue, void *payload)
{
	script *s = payload;
	int i = s->calls++;

	assert_int_equal(out->action, TRACT_RESOLVE_SKIP);
	assert_null(out->text);
	if (i < 8)
		memcpy(s->seen[i], issue->key, 65);
	if (s->fail_code)
		return s->fail_code;
	out->action = s->actions[i];
	out->text = s->texts ? s->texts[i] : NULL;
	out->reasoning = out->action == TRACT_RESOLVE_ABORT ? "not my call" : "because";
	if (i == 0)
		out->generation_config_json = "{\"model\": \"m\", \"temperature\": 0.3}";
	return 0;
}

static void test_resolver_resolve_skip(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
	static const tract_resolve_action acts[] = {TRACT_RESOLVE_RESOLVED, TRACT_RESOLVE_SKIP};
	static const char *const texts[] = {"y resolved", "ignored"};
	script sc = {acts, texts, 0, 0, {{0}}};
	tract_merge_result *r;
	fx_counts before;
	both s;

	(void)state;
	make_both_edit(f, &s);
	before = fx_count(f);
	o.resolver = scripted;
	o.resolver_payload = &sc;
	o.auto_commit = 1;
	r = merge_ok(f, "feature", &o);
	assert_int_equal(sc.calls, 2);
	assert_string_equal(sc.seen[0], s.y);
	assert_string_equal(sc.seen[1], s.x);
	assert_string_equal(tract_merge_result_resolution(r, s.y), "y resolved");
	assert_string_equal(tract_merge_result_reasoning(r, s.y), "because");
	assert_null(tract_merge_result_resolution(r, s.x));
	assert_int_equal(tract_merge_result_unresolved_count(r), 1);
	/* one unresolved: not auto-committed */
	assert_false(tract_merge_result_committed(r));
	fx_assert_same_counts(before, fx_count(f));
	assert_int_equal(tract_merge_commit(r), TRACT_ECONFLICT);
	assert_non_null(strstr(tract_error_last()->message, "1 unresolved conflict(s)"));
	fx_assert_same_counts(before, fx_count(f));
	/* review: resolve the other key, then commit */
	assert_int_equal(tract_merge_result_set_resolution(r, "0123456789", "z"), TRACT_ENOTFOUND);
	assert_int_equal(tract_merge_result_set_resolution(r, s.x, "bad \xff"), TRACT_EINVAL);
	assert_int_equal(tract_merge_result_set_resolution(r, s.x, "x resolved"), 0);
	assert_int_equal(tract_merge_commit(r), 0);
	assert_true(tract_merge_result_committed(r));
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_CONFLICT);
	/* the resolved texts are what compiles (NOTE of §8.9) */
	assert_compiled(f, "x resolved|y resolved");
	{
		tract_commit *c = NULL;
		assert_int_equal(tract_commit_lookup(&c, f->t, tract_merge_result_commit(r)), 0);
		/* the reference's payload shape, the first resolution's config,
		 * the reasoning in the metadata */
		assert_non_null(strstr(tract_commit_content(c), "\"resolutions\""));
		assert_non_null(strstr(tract_commit_content(c), "x resolved"));
		assert_string_equal(tract_commit_generation_config(c),
				    "{\"model\": \"m\", \"temperature\": 0.3}");
		assert_non_null(strstr(tract_commit_metadata(c), "resolution_reasoning"));
		assert_non_null(strstr(tract_commit_metadata(c), "because"));
		tract_commit_free(c);
	}
	/* NOTE of §8.9: a second commit is refused */
	before = fx_count(f);
	assert_int_equal(tract_merge_commit(r), TRACT_EINVAL);
	assert_int_equal(tract_merge_result_set_resolution(r, s.x, "again"), TRACT_EINVAL);
	fx_assert_same_counts(before, fx_count(f));
	tract_merge_result_free(r);
	fsck_clean(f);
	fx_free(f);
}

static void test_resolver_abort_and_failure(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
	static const tract_resolve_action acts[] = {TRACT_RESOLVE_ABORT, TRACT_RESOLVE_RESOLVED};
	static const char *const texts[] = {NULL, "x"};
	script sc = {acts, texts, 0, 0, {{0}}};
	both s;

	(void)state;
	make_both_edit(f, &s);
	o.resolver = scripted;
	o.resolver_payload = &sc;
	o.auto_commit = 1;
	merge_fails(f, "feature", &o, TRACT_EABORTED, "Resolver aborted merge: not my call");
	/* later conflicts are not offered */
	assert_int_equal(sc.calls, 1);
	/* a resolver's own failure keeps its code */
	sc.calls = 0;
	sc.fail_code = TRACT_EPROVIDER;
	merge_fails(f, "feature", &o, TRACT_EPROVIDER, NULL);
	fx_free(f);
}

static int bad_text_resolver(tract_resolution *out, const tract_issue *issue, void *payload)
{
	(void)issue;
	out->action = TRACT_RESOLVE_RESOLVED;
	out->text = payload ? "ok" : "bad \xc3";
	out->generation_config_json = payload ? "[1]" : NULL;
	return 0;
}

static void test_resolver_bad_answers(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
	both s;

	(void)state;
	make_both_edit(f, &s);
	o.resolver = bad_text_resolver;
	o.auto_commit = 1;
	merge_fails(f, "feature", &o, TRACT_EINVAL, "not valid UTF-8");
	o.resolver_payload = &s;
	merge_fails(f, "feature", &o, TRACT_EINVAL, NULL);
	fx_free(f);
}

/* ---- strategies and auto-commit ---------------------------------------------------------------------- */

static void test_strategies(void **state)
{
	static const tract_merge_strategy strategies[] = {TRACT_MERGE_STRATEGY_OURS,
							  TRACT_MERGE_STRATEGY_THEIRS};
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		fx *f = fx_new(NULL);
		tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
		tract_merge_result *r;
		both s;

		make_both_edit(f, &s);
		o.strategy = strategies[k];
		/* without auto_commit: resolved, left for review */
		r = merge_ok(f, "feature", &o);
		assert_int_equal(tract_merge_result_unresolved_count(r), 0);
		assert_false(tract_merge_result_committed(r));
		tract_merge_result_free(r);
		o.auto_commit = 1;
		r = merge_ok(f, "feature", &o);
		assert_true(tract_merge_result_committed(r));
		assert_string_equal(tract_merge_result_reasoning(r, s.x),
				    k == 0 ? "strategy ours" : "strategy theirs");
		tract_merge_result_free(r);
		assert_compiled(f, k == 0 ? "x by main|y by main" : "x by feature|y by feature");
		fsck_clean(f);
		fx_free(f);
	}
	{
		tract_merge_strategy st;
		assert_int_equal(tract_merge_strategy_parse(&st, "THEIRS"), 0);
		assert_int_equal(st, TRACT_MERGE_STRATEGY_THEIRS);
		assert_int_equal(tract_merge_strategy_parse(&st, "semantic"), TRACT_EINVAL);
		assert_string_equal(tract_merge_strategy_name(TRACT_MERGE_STRATEGY_OURS), "ours");
	}
}

/*
 * edit_plus_append with the editor on the current side: ours keeps main's
 * edit, theirs keeps the commit as the source left it, which is its text
 * at the merge base (an edit made before the fork included).
 */
static void test_strategy_unchanged_side(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		fx *f = fx_new(NULL);
		tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
		tract_merge_result *r;
		tract_resolution res;
		char u[65], base[65];

		fx_say(f, u, "user", "u");
		edit(f, NULL, u, "u before the fork");
		head_hash(f, base);
		branch_at(f, "feature", base);
		switch_to(f, "feature");
		fx_say(f, NULL, "assistant", "f");
		switch_to(f, "main");
		edit(f, NULL, u, "u by main");
		o.strategy = k == 0 ? TRACT_MERGE_STRATEGY_OURS : TRACT_MERGE_STRATEGY_THEIRS;
		o.auto_commit = 1;
		r = merge_ok(f, "feature", &o);
		assert_int_equal(tract_merge_result_conflict_count(r), 1);
		assert_int_equal(tract_merge_result_conflict(r, 0)->kind,
				 TRACT_ISSUE_EDIT_PLUS_APPEND);
		/* the conflict names the source's append as its side */
		assert_string_equal(tract_merge_result_conflict(r, 0)->text_b, "f");
		/* called without tract_merge's payload: the issue's texts */
		memset(&res, 0, sizeof(res));
		assert_int_equal(tract_merge_resolver_theirs(&res, tract_merge_result_conflict(r, 0),
							     NULL),
				 0);
		assert_string_equal(res.text, "f");
		assert_true(tract_merge_result_committed(r));
		assert_string_equal(tract_merge_result_resolution(r, u),
				    k == 0 ? "u by main" : "u before the fork");
		tract_merge_result_free(r);
		assert_compiled(f, k == 0 ? "u by main|f" : "u before the fork|f");
		fx_free(f);
	}
}

/* Conflicts past an earlier merge: core/dag.c finds base and sides. */
static void test_conflicts_after_earlier_merge(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_result *r;
	char merge1[65], a_edit[65], b_edit[65];
	diverged d;

	(void)state;
	make_diverged(f, &d);
	r = merge_ok(f, "feature", NULL);
	memcpy(merge1, tract_merge_result_commit(r), 65);
	tract_merge_result_free(r);
	branch_at(f, "second", merge1);
	switch_to(f, "second");
	edit(f, b_edit, d.f1, "f1 by second");
	switch_to(f, "main");
	edit(f, a_edit, d.f1, "f1 by main");
	r = merge_ok(f, "second", NULL);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_CONFLICT);
	assert_string_equal(tract_merge_result_base(r), merge1);
	assert_int_equal(tract_merge_result_merged_count(r), 2);
	assert_int_equal(tract_merge_result_conflict_count(r), 1);
	assert_string_equal(tract_merge_result_conflict(r, 0)->commit_a, a_edit);
	assert_string_equal(tract_merge_result_conflict(r, 0)->commit_b, b_edit);
	assert_int_equal(tract_merge_result_set_resolution(r, d.f1, "f1 both"), 0);
	assert_int_equal(tract_merge_commit(r), 0);
	tract_merge_result_free(r);
	assert_compiled(f, "root|m1|f1 both|f2");
	/* an up-to-date check past merges */
	r = merge_ok(f, "feature", NULL);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_UP_TO_DATE);
	tract_merge_result_free(r);
	fsck_clean(f);
	fx_free(f);
}

/* A merge commit inside the source's unique commits (main merged into
 * feature earlier): core/dag.c takes over from the chain walks. */
static void test_merge_commit_inside_branch(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_result *r;
	char fm[65], f3[65], m2[65];
	diverged d;

	(void)state;
	make_diverged(f, &d);
	switch_to(f, "feature");
	r = merge_ok(f, "main", NULL);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_CLEAN);
	memcpy(fm, tract_merge_result_commit(r), 65);
	tract_merge_result_free(r);
	fx_say(f, f3, "user", "f3");
	switch_to(f, "main");
	fx_say(f, m2, "user", "m2");
	r = merge_ok(f, "feature", NULL);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_CLEAN);
	assert_string_equal(tract_merge_result_base(r), d.m1);
	/* over all parents: main's m2, then feature's f1, f2, the merge, f3 */
	assert_int_equal(tract_merge_result_merged_count(r), 5);
	assert_string_equal(tract_merge_result_merged(r, 0), m2);
	assert_string_equal(tract_merge_result_merged(r, 1), d.f1);
	assert_string_equal(tract_merge_result_merged(r, 2), d.f2);
	assert_string_equal(tract_merge_result_merged(r, 3), fm);
	assert_string_equal(tract_merge_result_merged(r, 4), f3);
	tract_merge_result_free(r);
	assert_compiled(f, "root|m1|m2|f1|f2|f3");
	fsck_clean(f);
	fx_free(f);
}

static int all_resolver(tract_resolution *out, const tract_issue *issue, void *payload)
{
	(void)payload;
	out->action = TRACT_RESOLVE_RESOLVED;
	out->text = issue->kind == TRACT_ISSUE_SKIP_VS_EDIT ? "kept" : "merged text";
	return 0;
}

/*
 * NOTE of §8.7: a target both skipped and edited on one side, with appends
 * on the other, gives two conflicts sharing one key; the reference then
 * never auto-commits, nor deletes the branch after an auto-commit. Here:
 * auto-commit for every strategy, then delete_branch.
 */
static void test_auto_commit_shared_key_and_delete(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < 3; k++) {
		fx *f = fx_new(NULL);
		tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
		tract_merge_result *r;
		char x[65], bx[65], app[65], tip[65];

		fx_say(f, x, "user", "x");
		skip_commit(f, x);
		branch_at(f, "feature", x);
		switch_to(f, "feature");
		edit(f, bx, x, "x by feature");
		switch_to(f, "main");
		fx_say(f, app, "user", "main append");
		o.auto_commit = 1;
		o.delete_branch = 1;
		if (k == 0) {
			o.resolver = all_resolver;
		} else {
			o.strategy = k == 1 ? TRACT_MERGE_STRATEGY_OURS : TRACT_MERGE_STRATEGY_THEIRS;
		}
		r = merge_ok(f, "feature", &o);
		assert_int_equal(tract_merge_result_conflict_count(r), 2);
		assert_int_equal(tract_merge_result_conflict(r, 0)->kind, TRACT_ISSUE_SKIP_VS_EDIT);
		assert_int_equal(tract_merge_result_conflict(r, 1)->kind,
				 TRACT_ISSUE_EDIT_PLUS_APPEND);
		assert_string_equal(tract_merge_result_conflict(r, 0)->key, x);
		assert_string_equal(tract_merge_result_conflict(r, 1)->key, x);
		assert_true(tract_merge_result_committed(r));
		assert_non_null(tract_merge_result_commit(r));
		/* ours keeps x as main left it (skipped, its own text), not the
		 * append or "[SKIPPED]" the conflicts name; theirs takes the edit */
		if (k == 1)
			assert_string_equal(tract_merge_result_resolution(r, x), "x");
		if (k == 2)
			assert_string_equal(tract_merge_result_resolution(r, x), "x by feature");
		head_hash(f, tip);
		assert_string_equal(tip, tract_merge_result_commit(r));
		tract_merge_result_free(r);
		assert_false(branch_exists(f, "feature", NULL));
		/* x stays skipped */
		assert_compiled(f, "main append");
		fsck_clean(f);
		fx_free(f);
	}
}

/* ---- commit_merge preconditions (NOTE of §8.9) ------------------------------------------------- */

static void test_commit_requires_head_at_target(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_result *r;
	fx_counts before;
	char extra[65], tip[65];
	both s;

	(void)state;
	make_both_edit(f, &s);
	r = merge_ok(f, "feature", NULL);
	assert_int_equal(tract_merge_result_set_resolution(r, s.x, "x r"), 0);
	assert_int_equal(tract_merge_result_set_resolution(r, s.y, "y r"), 0);
	head_hash(f, tip);
	/* HEAD moved on the target branch */
	fx_say(f, extra, "user", "moved");
	before = fx_count(f);
	assert_int_equal(tract_merge_commit(r), TRACT_ESTALE);
	fx_assert_same_counts(before, fx_count(f));
	/* back at the tip but detached */
	detach_at(f, tip);
	assert_int_equal(tract_merge_commit(r), TRACT_EDETACHED);
	/* on another branch at the same commit */
	branch_at(f, "other", tip);
	switch_to(f, "other");
	before = fx_count(f);
	assert_int_equal(tract_merge_commit(r), TRACT_ESTALE);
	fx_assert_same_counts(before, fx_count(f));
	assert_int_equal(parent_row_total(f), 0);
	/* the target branch back where the merge saw it */
	branch_at(f, "main", tip);
	switch_to(f, "main");
	assert_int_equal(tract_merge_commit(r), 0);
	assert_compiled(f, "x r|y r");
	tract_merge_result_free(r);
	fsck_clean(f);
	fx_free(f);
}

/* A later edit of a resolved target overrides the resolution; compiling
 * as of before the merge shows no resolution. */
static void test_resolution_then_later_edit(void **state)
{
	fx *f = fx_new(NULL);
	tract_compile_options co = TRACT_COMPILE_OPTIONS_INIT;
	tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
	tract_merge_result *r;
	char before_merge[65], *got;
	both s;

	(void)state;
	make_both_edit(f, &s);
	head_hash(f, before_merge);
	o.strategy = TRACT_MERGE_STRATEGY_THEIRS;
	o.auto_commit = 1;
	r = merge_ok(f, "feature", &o);
	tract_merge_result_free(r);
	assert_compiled(f, "x by feature|y by feature");
	/* markers say the message was replaced */
	co.edit_markers = 1;
	got = compiled(f, &co);
	assert_string_equal(got, "x by feature [edited]|y by feature [edited]");
	free(got);
	co.edit_markers = 0;
	co.at_commit = before_merge;
	got = compiled(f, &co);
	assert_string_equal(got, "x by main|y by main");
	free(got);
	edit(f, NULL, s.x, "x after merge");
	assert_compiled(f, "x after merge|y by feature");
	fx_free(f);
}

/* ---- failures write nothing ---------------------------------------------------------------------- */

static void test_budget_refuses_merge(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_result *r;
	diverged d;

	(void)state;
	make_diverged(f, &d);
	assert_int_equal(tract_budget_set(f->t, 5, TRACT_BUDGET_REJECT, NULL, NULL, 0), 0);
	merge_fails(f, "feature", NULL, TRACT_EBUDGET, "Token budget exceeded");
	assert_int_equal(tract_budget_set(f->t, -1, TRACT_BUDGET_WARN, NULL, NULL, 0), 0);
	r = merge_ok(f, "feature", NULL);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_CLEAN);
	tract_merge_result_free(r);
	fsck_clean(f);
	fx_free(f);
}

/* Inside a batch a refused merge poisons nothing it did not write, and a
 * failure after its writes rolls the batch back. */
static void test_merge_in_batch(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_result *r = NULL;
	fx_counts before;
	diverged d;

	(void)state;
	make_diverged(f, &d);
	before = fx_count(f);
	assert_int_equal(tract_batch_begin(f->t), 0);
	assert_int_equal(tract_budget_set(f->t, 5, TRACT_BUDGET_REJECT, NULL, NULL, 0), 0);
	assert_int_equal(tract_merge(&r, f->t, "feature", NULL), TRACT_EBUDGET);
	assert_int_not_equal(tract_batch_commit(f->t), 0);
	fx_assert_same_counts(before, fx_count(f));
	assert_int_equal(tract_budget_set(f->t, -1, TRACT_BUDGET_WARN, NULL, NULL, 0), 0);
	assert_int_equal(tract_batch_begin(f->t), 0);
	r = merge_ok(f, "feature", NULL);
	tract_merge_result_free(r);
	assert_int_equal(tract_batch_commit(f->t), 0);
	assert_int_equal(fx_count(f).commits, before.commits + 1);
	fx_free(f);
}

static void test_unrelated_histories(void **state)
{
	fx *f = fx_new(NULL);
	tract_merge_result *r;
	char a[65], b[65], c[65];

	(void)state;
	fx_say(f, a, "user", "a");
	/* a second root on branch "other" */
	switch_to(f, "other");
	fx_say(f, b, "user", "b");
	fx_say(f, c, "user", "c");
	switch_to(f, "main");
	r = merge_ok(f, "other", NULL);
	assert_int_equal(tract_merge_result_type(r), TRACT_MERGE_CLEAN);
	assert_null(tract_merge_result_base(r));
	assert_int_equal(tract_merge_result_merged_count(r), 3);
	tract_merge_result_free(r);
	assert_compiled(f, "a|b|c");
	fsck_clean(f);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_checks_in_order),
	    cmocka_unit_test(test_up_to_date),
	    cmocka_unit_test(test_fast_forward),
	    cmocka_unit_test(test_fast_forward_delete_branch),
	    cmocka_unit_test(test_no_ff),
	    cmocka_unit_test(test_clean_merge),
	    cmocka_unit_test(test_unique_over_all_parents),
	    cmocka_unit_test(test_both_edit_order),
	    cmocka_unit_test(test_all_kinds_in_order),
	    cmocka_unit_test(test_edits_only_no_append_conflict),
	    cmocka_unit_test(test_resolver_resolve_skip),
	    cmocka_unit_test(test_resolver_abort_and_failure),
	    cmocka_unit_test(test_resolver_bad_answers),
	    cmocka_unit_test(test_strategies),
	    cmocka_unit_test(test_strategy_unchanged_side),
	    cmocka_unit_test(test_conflicts_after_earlier_merge),
	    cmocka_unit_test(test_merge_commit_inside_branch),
	    cmocka_unit_test(test_auto_commit_shared_key_and_delete),
	    cmocka_unit_test(test_commit_requires_head_at_target),
	    cmocka_unit_test(test_resolution_then_later_edit),
	    cmocka_unit_test(test_budget_refuses_merge),
	    cmocka_unit_test(test_merge_in_batch),
	    cmocka_unit_test(test_unrelated_histories),
	};
	int rc = ts_init("merge");

	if (rc)
		return rc == 77 ? 77 : 1;
	return ts_run("merge", tests, TS_COUNT(tests), NULL, 0);
}
