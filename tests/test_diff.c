/*
 * test_diff.c - tract_diff() (spec/history.md §11 with DECISIONS.md): the
 * matcher against difflib's known opcodes (popularity rule included), the
 * pinned examples of §11.7, the hello/bob example of §11.5, hunks, role
 * changes, token deltas, sorted config changes, an edit against its
 * parent, the empty root side, errors, the JSON document; and
 * tract_graph_foreach() against the text `git log --graph --oneline
 * --decorate` prints for the same history (every backend).
 *
 * The expected opcodes and unified diffs were computed once with Python's
 * difflib and pasted here; the graphs were printed once by git 2.39 for the
 * same commits made in the same order (hashes cut out) and pasted here.
 */
#include "helpers.h"

#include <inttypes.h>

#include "seqmatch.h"

/* ---- the matcher ----------------------------------------------------------- */

/* Opcodes of two lists of strings, as "tag i1 i2 j1 j2;" text. */
static char *opcodes_text(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	tract_seq_str *sa = calloc(na + 1, sizeof(*sa)), *sb = calloc(nb + 1, sizeof(*sb));
	uint32_t *ia = NULL, *ib = NULL, nsym = 0;
	tract_seq_ops ops;
	static const char *tags[] = {"equal", "replace", "delete", "insert"};
	tract_buf out = TRACT_BUF_INIT;

	for (size_t i = 0; i < na; i++)
		sa[i] = (tract_seq_str){a[i], strlen(a[i])};
	for (size_t i = 0; i < nb; i++)
		sb[i] = (tract_seq_str){b[i], strlen(b[i])};
	assert_int_equal(tract_seq_intern(&ia, &ib, &nsym, sa, na, sb, nb), 0);
	assert_int_equal(tract_seq_opcodes(&ops, ia, na, ib, nb, nsym), 0);
	tract_buf_puts(&out, "");
	for (size_t k = 0; k < ops.count; k++)
		tract_buf_printf(&out, "%s %zu %zu %zu %zu;", tags[ops.ops[k].tag], ops.ops[k].i1,
				 ops.ops[k].i2, ops.ops[k].j1, ops.ops[k].j2);
	tract_seq_ops_dispose(&ops);
	free(ia);
	free(ib);
	free(sa);
	free(sb);
	return tract_buf_detach(&out);
}

static void check_ops(const char *a, const char *b, const char *want)
{
	const char *la[16], *lb[16];
	char bufa[32][2], bufb[32][2];
	size_t na = strlen(a), nb = strlen(b);
	char *got;

	for (size_t i = 0; i < na; i++) {
		bufa[i][0] = a[i];
		bufa[i][1] = '\0';
		la[i] = bufa[i];
	}
	for (size_t i = 0; i < nb; i++) {
		bufb[i][0] = b[i];
		bufb[i][1] = '\0';
		lb[i] = bufb[i];
	}
	got = opcodes_text(la, na, lb, nb);
	assert_string_equal(got, want);
	free(got);
}

/* A list: count copies of "p", then "n<from>".. "n<to - 1>". */
static const char **plist(size_t *n, size_t pops, int from, int to)
{
	const char **l = calloc(pops + (size_t)(to - from) + 1, sizeof(*l));
	static char names[512][8];
	size_t k = 0;

	for (size_t i = 0; i < pops; i++)
		l[k++] = "p";
	for (int i = from; i < to; i++) {
		snprintf(names[i], sizeof(names[i]), "n%d", i);
		l[k++] = names[i];
	}
	*n = k;
	return l;
}

static void test_matcher_difflib(void **state)
{
	const char **a, **b, **b2;
	size_t na, nb, nb2;
	char *got;

	(void)state;
	/* difflib.SequenceMatcher(None, a, b).get_opcodes() */
	check_ops("abcd", "acdx", "equal 0 1 0 1;delete 1 2 1 1;equal 2 4 1 3;insert 4 4 3 4;");
	check_ops("abab", "ab", "equal 0 2 0 2;delete 2 4 2 2;");
	check_ops("xab", "abxab", "insert 0 0 0 2;equal 0 3 2 5;");
	check_ops("abcxyz", "abQRz", "equal 0 2 0 2;replace 2 5 2 4;equal 5 6 4 5;");
	check_ops("", "ab", "insert 0 0 0 2;");
	check_ops("ab", "", "delete 0 2 0 0;");
	check_ops("", "", "");

	/* popularity: b has 210 elements, "p" occurs 150 > 210 / 100 + 1 times */
	b = plist(&nb, 150, 0, 60);
	{
		const char *la[] = {"p", "p", "p", "p", "p", "n0", "n1", "p", "p", "n5"};
		got = opcodes_text(la, 10, b, nb);
		assert_string_equal(got, "insert 0 0 0 145;equal 0 7 145 152;replace 7 9 152 155;"
					 "equal 9 10 155 156;insert 10 10 156 210;");
		free(got);
	}
	{
		/* no seed at all: the empty match at (0, 0) grows over the
		 * popular elements */
		const char *la[] = {"p", "p", "p", "p", "p", "p", "p", "p", "p", "p"};
		got = opcodes_text(la, 10, b, nb);
		assert_string_equal(got, "equal 0 10 0 10;insert 10 10 10 210;");
		free(got);
	}
	{
		/* seeded by n3, extended left over ten popular elements */
		const char *la[] = {"p", "p", "p", "p", "p", "p", "p", "p", "p", "p", "n3"};
		got = opcodes_text(la, 11, b, nb);
		assert_string_equal(got, "equal 0 10 0 10;insert 10 10 10 153;equal 10 11 153 154;"
					 "insert 11 11 154 210;");
		free(got);
	}
	free(b);
	/* fewer than 200 elements: no popularity */
	b2 = plist(&nb2, 100, 0, 60);
	{
		const char *la[] = {"p", "p", "p", "p", "p", "n0", "n1", "p", "p", "n5"};
		got = opcodes_text(la, 10, b2, nb2);
		assert_string_equal(got, "insert 0 0 0 95;equal 0 7 95 102;replace 7 9 102 105;"
					 "equal 9 10 105 106;insert 10 10 106 160;");
		free(got);
	}
	free(b2);
	/* a popular run around a unique seed extends both ways */
	{
		const char **bb = calloc(205, sizeof(*bb));
		static char names[100][8];
		size_t k = 0;
		const char *la[] = {"z", "p", "k", "p", "y"};
		for (int i = 0; i < 100; i++) {
			snprintf(names[i], sizeof(names[i]), "n%d", i);
			bb[k++] = names[i];
		}
		bb[k++] = "p";
		bb[k++] = "p";
		bb[k++] = "k";
		bb[k++] = "p";
		for (int i = 0; i < 100; i++)
			bb[k++] = "p";
		got = opcodes_text(la, 5, bb, k);
		assert_string_equal(got, "replace 0 1 0 101;equal 1 4 101 104;replace 4 5 104 204;");
		free(got);
		free(bb);
	}
	(void)a;
	(void)na;
}

static void test_splitlines(void **state)
{
	tract_seq_str *l = NULL;
	size_t *term = NULL, n = 0;
	const char text[] = "a\r\nb\rc\nd\xe2\x80\xa8" "e\xc2\x85" "f\x0b" "g";

	(void)state;
	assert_int_equal(tract_seq_splitlines(&l, &term, &n, text, sizeof(text) - 1), 0);
	assert_int_equal(n, 7);
	assert_int_equal(l[0].len, 3);
	assert_int_equal(term[0], 2);
	assert_int_equal(term[1], 1);
	assert_int_equal(term[3], 3);
	assert_int_equal(term[4], 2);
	assert_int_equal(term[5], 1);
	assert_int_equal(l[6].len, 1);
	assert_int_equal(term[6], 0);
	free(l);
	free(term);
	assert_int_equal(tract_seq_splitlines(&l, &term, &n, "", 0), 0);
	assert_int_equal(n, 0);
	free(l);
	free(term);
}

/* ---- diffs ------------------------------------------------------------------ */

static void say(fx *f, char out[65], const char *role, const char *text, const char *name,
		const char *config)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;

	o.generation_config_json = config;
	if (tract_commit_create_dialogue(&c, f->t, role, text, name, &o) != 0)
		fail_msg("dialogue: %s", tract_error_last()->message);
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static void edit(fx *f, char out[65], const char *target, const char *role, const char *text)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;

	o.operation = TRACT_OP_EDIT;
	o.response_to = target;
	if (tract_commit_create_dialogue(&c, f->t, role, text, NULL, &o) != 0)
		fail_msg("edit: %s", tract_error_last()->message);
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static tract_diff_result *diff(fx *f, const char *a, const char *b)
{
	tract_diff_result *r = NULL;

	if (tract_diff(&r, f->t, a, b, NULL) != 0)
		fail_msg("diff: %s", tract_error_last()->message);
	return r;
}

static void assert_lines(const tract_diff_entry *e, const char *const *want, size_t n)
{
	assert_int_equal(e->line_count, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(e->line_lens[i], strlen(want[i]));
		assert_string_equal(e->lines[i], want[i]);
	}
}

static void test_pinned_examples(void **state)
{
	fx *f = fx_new(NULL);
	char c1[65], c2[65], c3[65], e[65], p[65], q[65];
	tract_diff_result *r;

	(void)state;
	say(f, c1, "user", "one", NULL, NULL);
	say(f, c2, "assistant", "two", NULL, NULL);
	say(f, c3, "user", "three", NULL, NULL);
	/* 1 message vs 2: 1 unchanged, 1 added (the new one's role) */
	r = diff(f, c1, c2);
	assert_int_equal(r->count, 2);
	assert_int_equal(r->entries[0].status, TRACT_DIFF_UNCHANGED);
	assert_int_equal(r->entries[1].status, TRACT_DIFF_ADDED);
	assert_null(r->entries[1].role_a);
	assert_string_equal(r->entries[1].role_b, "assistant");
	assert_int_equal(r->entries[1].index, 1);
	assert_int_equal(r->stat.added, 1);
	assert_int_equal(r->stat.unchanged, 1);
	tract_diff_result_free(r);
	/* 3 vs 1: 1 unchanged, 2 removed */
	r = diff(f, c3, c1);
	assert_int_equal(r->count, 3);
	assert_int_equal(r->stat.unchanged, 1);
	assert_int_equal(r->stat.removed, 2);
	assert_int_equal(r->entries[1].status, TRACT_DIFF_REMOVED);
	assert_string_equal(r->entries[1].role_a, "assistant");
	assert_null(r->entries[1].role_b);
	assert_true(r->stat.total_token_delta < 0);
	tract_diff_result_free(r);
	/* an edit of the text: 1 modified with diff lines */
	edit(f, e, c3, "user", "three, edited");
	r = diff(f, c3, e);
	assert_int_equal(r->stat.modified, 1);
	assert_int_equal(r->stat.unchanged, 2);
	assert_int_equal(r->entries[2].status, TRACT_DIFF_MODIFIED);
	assert_true(r->entries[2].line_count > 0);
	tract_diff_result_free(r);
	/* configs: only temperature differs */
	say(f, p, "user", "x", NULL, "{\"temperature\": 0.5, \"model\": \"gpt-4\"}");
	say(f, q, "user", "y", NULL, "{\"temperature\": 0.9, \"model\": \"gpt-4\"}");
	r = diff(f, p, q);
	assert_int_equal(r->config_change_count, 1);
	assert_string_equal(r->config_changes[0].key, "temperature");
	assert_string_equal(r->config_changes[0].old_json, "0.5");
	assert_string_equal(r->config_changes[0].new_json, "0.9");
	tract_diff_result_free(r);
	/* prefixes for both sides */
	{
		char pa[9], pb[9];
		snprintf(pa, sizeof(pa), "%.8s", c1);
		snprintf(pb, sizeof(pb), "%.8s", c2);
		r = diff(f, pa, pb);
		assert_string_equal(r->commit_a, c1);
		assert_string_equal(r->commit_b, c2);
		tract_diff_result_free(r);
	}
	/* unknown references: not found, for either side */
	r = (tract_diff_result *)1;
	assert_int_equal(tract_diff(&r, f->t, "feedface", NULL, NULL), TRACT_ENOTFOUND);
	assert_null(r);
	assert_int_equal(tract_diff(&r, f->t, c1, "nosuchbranch", NULL), TRACT_ENOTFOUND);
	assert_non_null(strstr(tract_error_last()->message, "nosuchbranch"));
	fx_free(f);
}

static void test_hello_bob(void **state)
{
	fx *f = fx_new(NULL);
	char a[65], b[65], h1[9], h2[9], l0[32], l1[32];
	tract_diff_result *r;

	(void)state;
	say(f, a, "user", "Hello, how are you?", NULL, NULL);
	/* B: A's message replaced by bob's */
	{
		tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
		tract_commit *c = NULL;
		o.operation = TRACT_OP_EDIT;
		o.response_to = a;
		assert_int_equal(tract_commit_create_dialogue(&c, f->t, "user",
							      "Hello, how are you today?", "bob", &o),
				 0);
		memcpy(b, tract_commit_hash(c), 65);
		tract_commit_free(c);
	}
	r = diff(f, a, b);
	snprintf(h1, sizeof(h1), "%.8s", a);
	snprintf(h2, sizeof(h2), "%.8s", b);
	snprintf(l0, sizeof(l0), "--- commit %s", h1);
	snprintf(l1, sizeof(l1), "+++ commit %s", h2);
	{
		const char *want[] = {l0,
				      l1,
				      "@@ -1,3 +1,4 @@",
				      " role: user",
				      "+name: bob",
				      " ---",
				      "-Hello, how are you?",
				      "+Hello, how are you today?"};
		assert_int_equal(r->count, 1);
		assert_int_equal(r->entries[0].status, TRACT_DIFF_MODIFIED);
		assert_lines(&r->entries[0], want, TS_COUNT(want));
	}
	tract_diff_result_free(r);
	/* HEAD is that edit: alone, it is compared with its parent (the
	 * context just before it), which here is A's: one modified message */
	r = diff(f, NULL, NULL);
	assert_string_equal(r->commit_a, a);
	assert_string_equal(r->commit_b, b);
	assert_int_equal(r->stat.modified, 1);
	assert_int_equal(r->stat.added, 0);
	tract_diff_result_free(r);
	fx_free(f);
}

static void test_hunks_and_role_change(void **state)
{
	fx *f = fx_new(NULL);
	char a[65], b[65], c[65], d[65], l0[32], l1[32];
	tract_buf ta = TRACT_BUF_INIT, tb = TRACT_BUF_INIT;
	tract_diff_result *r;

	(void)state;
	for (int i = 1; i <= 20; i++) {
		tract_buf_printf(&ta, "%sline %d", i > 1 ? "\n" : "", i);
		tract_buf_printf(&tb, "%s%s %d", i > 1 ? "\n" : "", i == 2 || i == 18 ? "LINE" : "line",
				 i);
	}
	tract_buf_puts(&tb, "\nextra");
	say(f, a, "user", ta.ptr, NULL, NULL);
	edit(f, b, a, "user", tb.ptr);
	r = diff(f, a, b);
	snprintf(l0, sizeof(l0), "--- commit %.8s", a);
	snprintf(l1, sizeof(l1), "+++ commit %.8s", b);
	{
		/* difflib.unified_diff(..., lineterm="") with the line ends cut */
		const char *want[] = {l0,        l1,         "@@ -1,7 +1,7 @@",
				      " role: user", " ---",     " line 1",
				      "-line 2",   "+LINE 2",   " line 3",
				      " line 4",   " line 5",   "@@ -17,6 +17,7 @@",
				      " line 15",  " line 16",  " line 17",
				      "-line 18",  "+LINE 18",  " line 19",
				      "-line 20",  "+line 20",  "+extra"};
		assert_lines(&r->entries[0], want, TS_COUNT(want));
	}
	tract_diff_result_free(r);
	/* one line of context: the hunks shrink */
	{
		tract_diff_options o = TRACT_DIFF_OPTIONS_INIT;
		o.context_lines = 1;
		assert_int_equal(tract_diff(&r, f->t, a, b, &o), 0);
		assert_string_equal(r->entries[0].lines[2], "@@ -3,3 +3,3 @@");
		assert_string_equal(r->entries[0].lines[7], "@@ -19,4 +19,5 @@");
		tract_diff_result_free(r);
		o.no_lines = 1;
		assert_int_equal(tract_diff(&r, f->t, a, b, &o), 0);
		assert_int_equal(r->entries[0].line_count, 0);
		assert_int_equal(r->stat.modified, 1);
		tract_diff_result_free(r);
	}
	/* a role change is a modification; CRLF vs LF lines differ */
	say(f, c, "user", "x\r\ny", NULL, NULL);
	edit(f, d, c, "assistant", "x\ny");
	r = diff(f, c, d);
	snprintf(l0, sizeof(l0), "--- commit %.8s", c);
	snprintf(l1, sizeof(l1), "+++ commit %.8s", d);
	{
		const char *want[] = {l0,  l1,    "@@ -1,4 +1,4 @@", "-role: user", "+role: assistant",
				      " ---", "-x", "+x",             " y"};
		const tract_diff_entry *e = &r->entries[r->count - 1];
		assert_int_equal(e->status, TRACT_DIFF_MODIFIED);
		assert_string_equal(e->role_a, "user");
		assert_string_equal(e->role_b, "assistant");
		assert_lines(e, want, TS_COUNT(want));
	}
	tract_diff_result_free(r);
	tract_buf_dispose(&ta);
	tract_buf_dispose(&tb);
	fx_free(f);
}

static void test_token_deltas(void **state)
{
	fx *f = fx_new(NULL);
	char a[65], b[65], c[65], e[65];
	tract_context *ctx;
	tract_diff_result *r;
	int64_t t0, t1, t2, te;

	(void)state;
	say(f, a, "system", "You are terse.", NULL, NULL);
	say(f, b, "user", "What is the capital of France?", "ann", NULL);
	say(f, c, "assistant", "Paris.", NULL, NULL);
	ctx = fx_compile(f, NULL);
	t0 = tract_context_msg(ctx, 0)->tokens;
	t1 = tract_context_msg(ctx, 1)->tokens;
	t2 = tract_context_msg(ctx, 2)->tokens;
	tract_context_free(ctx);
	assert_true(t0 > 0 && t1 > 0 && t2 > 0);
	/* root: everything added, against the empty side */
	r = diff(f, NULL, a);
	assert_string_equal(r->commit_a, "(empty)");
	assert_int_equal(r->count, 1);
	assert_int_equal(r->entries[0].status, TRACT_DIFF_ADDED);
	assert_int_equal(r->entries[0].token_delta, t0);
	tract_diff_result_free(r);
	r = diff(f, a, c);
	assert_int_equal(r->entries[1].token_delta, t1);
	assert_int_equal(r->entries[2].token_delta, t2);
	assert_int_equal(r->entries[0].token_delta, 0);
	assert_int_equal(r->stat.total_token_delta, t1 + t2);
	tract_diff_result_free(r);
	r = diff(f, c, a);
	assert_int_equal(r->stat.total_token_delta, -(t1 + t2));
	assert_int_equal(r->entries[1].token_delta, -t1);
	tract_diff_result_free(r);
	/* a modified message: B's count minus A's */
	edit(f, e, c, "assistant", "Paris, on the Seine, since the tenth century.");
	ctx = fx_compile(f, NULL);
	te = tract_context_msg(ctx, 2)->tokens;
	tract_context_free(ctx);
	r = diff(f, NULL, NULL);
	assert_string_equal(r->commit_a, c);
	assert_int_equal(r->entries[2].status, TRACT_DIFF_MODIFIED);
	assert_int_equal(r->entries[2].token_delta, te - t2);
	assert_true(te - t2 > 0);
	tract_diff_result_free(r);
	/* X against itself: all unchanged */
	r = diff(f, b, b);
	assert_int_equal(r->stat.unchanged, 2);
	assert_int_equal(r->count, 2);
	assert_int_equal(r->stat.total_token_delta, 0);
	tract_diff_result_free(r);
	/* one revision: it against HEAD */
	r = diff(f, a, NULL);
	assert_string_equal(r->commit_a, a);
	assert_string_equal(r->commit_b, e);
	assert_int_equal(r->stat.added, 2);
	tract_diff_result_free(r);
	fx_free(f);
}

static void test_config_changes_sorted(void **state)
{
	fx *f = fx_new(NULL);
	char a[65], b[65], c[65];
	tract_diff_result *r;
	char *json = NULL;
	cJSON *doc, *cc;

	(void)state;
	say(f, a, "user", "a", NULL,
	    "{\"z\": 1, \"model\": \"m1\", \"a\": {\"x\": [1, 2]}, \"same\": true, \"n\": 1}");
	say(f, b, "user", "b", NULL, NULL); /* no config: the last non-empty one counts */
	say(f, c, "user", "c", NULL,
	    "{\"model\": \"m2\", \"z\": 2, \"same\": true, \"k\": null, \"n\": 1.0, \"b\": \"new\"}");
	r = diff(f, b, c);
	/* sorted keys; absent is null; null equals absent; 1 == 1.0 */
	assert_int_equal(r->config_change_count, 4);
	assert_string_equal(r->config_changes[0].key, "a");
	assert_string_equal(r->config_changes[0].old_json, "{\"x\": [1, 2]}");
	assert_string_equal(r->config_changes[0].new_json, "null");
	assert_string_equal(r->config_changes[1].key, "b");
	assert_string_equal(r->config_changes[1].old_json, "null");
	assert_string_equal(r->config_changes[1].new_json, "\"new\"");
	assert_string_equal(r->config_changes[2].key, "model");
	assert_string_equal(r->config_changes[3].key, "z");
	assert_string_equal(r->config_changes[3].old_json, "1");
	assert_string_equal(r->config_changes[3].new_json, "2");
	assert_int_equal(tract_diff_result_to_json(&json, r), 0);
	doc = cJSON_Parse(json);
	assert_non_null(doc);
	cc = cJSON_GetObjectItem(doc, "config_changes");
	assert_string_equal(cc->child->string, "a");
	assert_true(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetObjectItem(cc, "a"), 1)));
	assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(cc, "z"), 1)->valueint, 2);
	assert_string_equal(cJSON_GetObjectItem(doc, "commit_a")->valuestring, b);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "messages")), 3);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "stat"), "added")->valueint, 1);
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "messages"), 2), "status")
		->valuestring,
	    "added");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "messages"), 2), "role_a")));
	cJSON_Delete(doc);
	tract_string_free(json);
	tract_diff_result_free(r);
	/* both sides without a config: no changes */
	r = diff(f, NULL, a);
	assert_int_equal(r->config_change_count, 5); /* (empty) vs a: every key new */
	assert_string_equal(r->config_changes[0].key, "a");
	assert_string_equal(r->config_changes[4].key, "z");
	tract_diff_result_free(r);
	fx_free(f);
}

static void test_diff_errors(void **state)
{
	fx *f = fx_new(NULL);
	tract_diff_result *r = NULL;
	tract_diff_options o = TRACT_DIFF_OPTIONS_INIT;
	char a[65];

	(void)state;
	assert_int_equal(tract_diff(&r, f->t, NULL, NULL, NULL), TRACT_ENOTFOUND);
	assert_string_equal(tract_error_last()->message, "No commits to diff");
	say(f, a, "user", "x", NULL, NULL);
	assert_int_equal(tract_diff(NULL, f->t, NULL, NULL, NULL), TRACT_EINVAL);
	o.version = 99;
	assert_int_equal(tract_diff(&r, f->t, NULL, NULL, &o), TRACT_EINVAL);
	assert_int_equal(tract_diff_options_init(&o, 1), 0);
	assert_int_equal(o.context_lines, 3);
	/* an ambiguous or too short prefix is refused, not guessed */
	assert_int_equal(tract_diff(&r, f->t, "abc", NULL, NULL), TRACT_ENOTFOUND);
	/* text with U+0000 and a JSON rendering that keeps it */
	{
		char b[65], *json = NULL;
		tract_commit *c = NULL;
		assert_int_equal(tract_commit_create(&c, f->t,
						     "{\"content_type\":\"dialogue\",\"role\":"
						     "\"user\",\"text\":\"x\\u0000y\"}",
						     NULL),
				 0);
		memcpy(b, tract_commit_hash(c), 65);
		tract_commit_free(c);
		{
			tract_commit_options eo = TRACT_COMMIT_OPTIONS_INIT;
			eo.operation = TRACT_OP_EDIT;
			eo.response_to = b;
			assert_int_equal(tract_commit_create(&c, f->t,
							     "{\"content_type\":\"dialogue\",\"role\":"
							     "\"user\",\"text\":\"x\\u0000z\"}",
							     &eo),
					 0);
			tract_commit_free(c);
		}
		r = diff(f, NULL, NULL);
		assert_int_equal(r->entries[1].status, TRACT_DIFF_MODIFIED);
		assert_int_equal(r->entries[1].line_lens[5], 4);
		assert_memory_equal(r->entries[1].lines[5], "-x\0y", 4);
		assert_int_equal(tract_diff_result_to_json(&json, r), 0);
		assert_non_null(strstr(json, "\"-x\\u0000y\""));
		tract_string_free(json);
		tract_diff_result_free(r);
	}
	tract_diff_result_free(NULL);
	fx_free(f);
}

/* Every pair of revisions of a history with edits, a skipped message and
 * answers: each side of the diff holds what compile --at that revision
 * gives (the diff cuts one side out of the other when it can). */
static void test_sides_match_compile(void **state)
{
	fx *f = fx_new(NULL);
	char h[12][65];
	size_t n = 0;

	(void)state;
	say(f, h[n++], "system", "Be brief.", NULL, NULL);
	say(f, h[n++], "user", "First question?", NULL, "{\"temperature\": 0.1}");
	say(f, h[n++], "assistant", "First answer.", NULL, NULL);
	edit(f, h[n++], h[1], "user", "First question, reworded?");
	say(f, h[n++], "user", "Second question?", "ann", NULL);
	say(f, h[n++], "assistant", "Second answer.", NULL, "{\"temperature\": 0.7}");
	assert_int_equal(tract_annotation_create(NULL, f->t, h[2], TRACT_PRIORITY_SKIP, NULL), 0);
	say(f, h[n++], "user", "Third?", NULL, NULL);
	edit(f, h[n++], h[4], "user", "Second question, again?");
	say(f, h[n++], "assistant", "Third answer.", NULL, NULL);
	say(f, h[n++], "user", "Fourth?", NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			tract_compile_options o = TRACT_COMPILE_OPTIONS_INIT;
			tract_context *ca, *cb;
			tract_diff_result *r = diff(f, h[i], h[j]);
			size_t side_a = r->stat.unchanged + r->stat.modified + r->stat.removed;
			size_t side_b = r->stat.unchanged + r->stat.modified + r->stat.added;

			o.at_commit = h[i];
			ca = fx_compile(f, &o);
			o.at_commit = h[j];
			cb = fx_compile(f, &o);
			assert_int_equal(side_a, tract_context_count(ca));
			assert_int_equal(side_b, tract_context_count(cb));
			assert_int_equal(r->stat.total_token_delta, cb->tokens_sum - ca->tokens_sum);
			if (i == j)
				assert_int_equal(r->stat.unchanged, r->count);
			/* entries walk both sides in order: roles match the contexts */
			for (size_t k = 0, x = 0, y = 0; k < r->count; k++) {
				const tract_diff_entry *e = &r->entries[k];
				if (e->role_a)
					assert_string_equal(e->role_a, tract_context_role(ca, x++));
				if (e->role_b)
					assert_string_equal(e->role_b, tract_context_role(cb, y++));
			}
			tract_context_free(ca);
			tract_context_free(cb);
			tract_diff_result_free(r);
		}
	}
	fx_free(f);
}

/* ---- the graph ------------------------------------------------------------------ */

static void set_ref(fx *f, const char *name, const char *commit, const char *sym)
{
	tract_ref_value cur;
	tract_ref_row exp = {0};
	tract_store *s = f->store;

	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(tract_ref_read(&cur, s, f->t->id, name), 0);
	exp.commit_hash = cur.commit[0] ? cur.commit : NULL;
	exp.symbolic_target = cur.symbolic[0] ? cur.symbolic : NULL;
	assert_int_equal(s->be->ref_cas(s->conn, f->t->id, name, commit, sym,
					cur.exists ? &exp : NULL),
			 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	tract_cache_clear(f->t->cache);
}

/* A history built by name, like a git script: commits are named by their
 * message. */
typedef struct {
	fx *f;
	char names[64][16];
	char hashes[64][65];
	size_t n;
} hist;

static const char *hash_of(hist *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->names[i], name) == 0)
			return h->hashes[i];
	fail_msg("no commit %s", name);
	return NULL;
}

static void head_hash(hist *h, char out[65])
{
	assert_int_equal(tract_head_get(out, NULL, NULL, h->f->t), 0);
}

static void g_commit(hist *h, const char *name)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;

	o.message = name;
	assert_int_equal(tract_commit_create_dialogue(&c, h->f->t, "user", name, NULL, &o), 0);
	snprintf(h->names[h->n], sizeof(h->names[0]), "%s", name);
	memcpy(h->hashes[h->n++], tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static void g_branch(hist *h, const char *name)
{
	char ref[64], head[65];

	head_hash(h, head);
	snprintf(ref, sizeof(ref), "refs/heads/%s", name);
	set_ref(h->f, ref, head, NULL);
}

static void g_tag(hist *h, const char *name)
{
	char ref[64], head[65];

	head_hash(h, head);
	snprintf(ref, sizeof(ref), "refs/tags/%s", name);
	set_ref(h->f, ref, head, NULL);
}

static void g_switch(hist *h, const char *name)
{
	char ref[64];

	snprintf(ref, sizeof(ref), "refs/heads/%s", name);
	set_ref(h->f, "HEAD", NULL, ref);
}

/* A merge commit of HEAD and the tips of the NULL-ended branches. */
static void g_merge(hist *h, const char *name, ...)
{
	tract_store *s = h->f->store;
	char first[65], tips[8][65];
	const char *b;
	size_t n = 0;
	va_list ap;

	head_hash(h, first);
	va_start(ap, name);
	while ((b = va_arg(ap, const char *))) {
		char *branch = NULL;
		assert_int_equal(tract_revision_resolve(tips[n++], h->f->t, b), 0);
		free(branch);
	}
	va_end(ap);
	g_commit(h, name);
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(s->be->parent_put(s->conn, h->hashes[h->n - 1], first, 0), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(s->be->parent_put(s->conn, h->hashes[h->n - 1], tips[i],
						   (int64_t)i + 1),
				 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	tract_cache_clear(h->f->t->cache);
}

/* Each line as git's --oneline draws it, with the hash left out. */
static int draw_cb(const tract_graph_line *line, void *payload)
{
	tract_buf *b = payload;

	tract_buf_puts(b, line->graph);
	if (line->commit) {
		if (line->decoration[0])
			tract_buf_printf(b, "(%s) ", line->decoration);
		tract_buf_puts(b, tract_commit_message(line->commit));
	}
	tract_buf_putc(b, '\n');
	return 0;
}

static char *draw(fx *f, const char *start, int all, size_t limit)
{
	tract_graph_options o = TRACT_GRAPH_OPTIONS_INIT;
	tract_buf b = TRACT_BUF_INIT;

	o.start = start;
	o.all = all;
	o.limit = limit;
	if (tract_graph_foreach(f->t, &o, 0, draw_cb, &b) != 0)
		fail_msg("graph: %s", tract_error_last()->message);
	tract_buf_puts(&b, "");
	return tract_buf_detach(&b);
}

static void assert_draw(fx *f, const char *start, int all, size_t limit, const char *want)
{
	char *got = draw(f, start, all, limit);

	if (strcmp(got, want) != 0)
		fail_msg("graph:\n%s\nwant:\n%s", got, want);
	free(got);
}

static void test_graph_branches_tags(void **state)
{
	hist h = {.f = fx_new(NULL)};

	(void)state;
	/* git: commit A, B; branch topic at A; feature from B: F1, F2; main:
	 * C, tag v1; merge feature (no-ff) as M; topic: T1; branches zed and
	 * aaa at main */
	g_commit(&h, "A");
	g_commit(&h, "B");
	set_ref(h.f, "refs/heads/topic", hash_of(&h, "A"), NULL);
	g_branch(&h, "feature");
	g_switch(&h, "feature");
	g_commit(&h, "F1");
	g_commit(&h, "F2");
	g_switch(&h, "main");
	g_commit(&h, "C");
	g_tag(&h, "v1");
	g_merge(&h, "M", "feature", NULL);
	g_switch(&h, "topic");
	g_commit(&h, "T1");
	g_switch(&h, "main");
	g_branch(&h, "zed");
	g_branch(&h, "aaa");
	/* git log --graph --oneline --decorate --all */
	assert_draw(h.f, NULL, 1, 0,
		    "* (topic) T1\n"
		    "| *   (HEAD -> main, zed, aaa) M\n"
		    "| |\\  \n"
		    "| | * (feature) F2\n"
		    "| | * F1\n"
		    "| * | (tag: v1) C\n"
		    "| |/  \n"
		    "| * B\n"
		    "|/  \n"
		    "* A\n");
	/* without --all: HEAD's history only */
	assert_draw(h.f, NULL, 0, 0,
		    "*   (HEAD -> main, zed, aaa) M\n"
		    "|\\  \n"
		    "| * (feature) F2\n"
		    "| * F1\n"
		    "* | (tag: v1) C\n"
		    "|/  \n"
		    "* B\n"
		    "* A\n");
	fx_free(h.f);
}

static void test_graph_octopus_detached(void **state)
{
	hist h = {.f = fx_new(NULL)};
	char c2[65];

	(void)state;
	/* the same commands as the git script whose output is pasted below */
	g_commit(&h, "c0");
	g_branch(&h, "x");
	g_branch(&h, "y");
	g_branch(&h, "z");
	g_switch(&h, "x");
	g_commit(&h, "x1");
	g_switch(&h, "y");
	g_commit(&h, "y1");
	g_commit(&h, "y2");
	g_switch(&h, "z");
	g_commit(&h, "z1");
	g_switch(&h, "main");
	g_commit(&h, "c1");
	g_merge(&h, "m1", "x", "y", "z", NULL);
	g_switch(&h, "y");
	g_commit(&h, "y3");
	g_switch(&h, "main");
	g_merge(&h, "m2", "y", NULL);
	g_commit(&h, "c2");
	g_tag(&h, "v2");
	g_switch(&h, "z");
	g_commit(&h, "z2");
	/* git checkout --detach main */
	memcpy(c2, hash_of(&h, "c2"), 65);
	set_ref(h.f, "HEAD", c2, NULL);
	assert_draw(h.f, NULL, 1, 0,
		    "* (z) z2\n"
		    "| * (HEAD, tag: v2, main) c2\n"
		    "| *   m2\n"
		    "| |\\  \n"
		    "| | * (y) y3\n"
		    "| | |       \n"
		    "| |  \\      \n"
		    "| |   \\     \n"
		    "| |    \\    \n"
		    "| *---. \\   m1\n"
		    "| |\\ \\ \\ \\  \n"
		    "| |_|_|/ /  \n"
		    "|/| | | /   \n"
		    "| | | |/    \n"
		    "* | | | z1\n"
		    "| | | * y2\n"
		    "| | | * y1\n"
		    "| |_|/  \n"
		    "|/| |   \n"
		    "| | * (x) x1\n"
		    "| |/  \n"
		    "|/|   \n"
		    "| * c1\n"
		    "|/  \n"
		    "* c0\n");
	/* git log --graph --oneline --decorate -n 4 (detached HEAD) */
	assert_draw(h.f, NULL, 0, 4,
		    "* (HEAD, tag: v2, main) c2\n"
		    "*   m2\n"
		    "|\\  \n"
		    "| * (y) y3\n"
		    "| |       \n"
		    "|  \\      \n"
		    "|   \\     \n"
		    "|    \\    \n"
		    "*---. \\   m1\n"
		    "|\\ \\ \\ \\  \n"
		    "| | | |/  \n"
		    "| | |/|   \n");
	/* git log --graph --oneline --decorate y */
	assert_draw(h.f, "y", 0, 0,
		    "* (y) y3\n"
		    "* y2\n"
		    "* y1\n"
		    "* c0\n");
	fx_free(h.f);
}

static void test_graph_empty_and_errors(void **state)
{
	fx *f = fx_new(NULL);
	tract_graph_options o = TRACT_GRAPH_OPTIONS_INIT;
	tract_buf b = TRACT_BUF_INIT;

	(void)state;
	assert_int_equal(tract_graph_foreach(f->t, NULL, 0, draw_cb, &b), 0);
	assert_int_equal(b.len, 0);
	o.start = "nosuch";
	assert_int_equal(tract_graph_foreach(f->t, &o, 0, draw_cb, &b), TRACT_ENOTFOUND);
	assert_int_equal(tract_graph_foreach(f->t, NULL, 0, NULL, &b), TRACT_EINVAL);
	o.version = 7;
	assert_int_equal(tract_graph_foreach(f->t, &o, 0, draw_cb, &b), TRACT_EINVAL);
	assert_int_equal(tract_graph_options_init(&o, 1), 0);
	assert_int_equal(tract_graph_foreach(f->t, &o, 0x80, draw_cb, &b), TRACT_EINVAL);
	tract_buf_dispose(&b);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matcher_difflib),
		cmocka_unit_test(test_splitlines),
		cmocka_unit_test(test_pinned_examples),
		cmocka_unit_test(test_hello_bob),
		cmocka_unit_test(test_hunks_and_role_change),
		cmocka_unit_test(test_token_deltas),
		cmocka_unit_test(test_config_changes_sorted),
		cmocka_unit_test(test_diff_errors),
		cmocka_unit_test(test_sides_match_compile),
		cmocka_unit_test(test_graph_branches_tags),
		cmocka_unit_test(test_graph_octopus_detached),
		cmocka_unit_test(test_graph_empty_and_errors),
	};
	int rc = ts_init("diff");

	if (rc)
		return rc;
	return ts_run("diff", tests, TS_COUNT(tests), NULL, 0);
}
