/*
 * test_compile.c - every compile rule of spec/core.md §6 (roles, texts,
 * names, edits, priorities, time travel, merge expansion, token formula),
 * the compile cache (§7), budgets (§4.6), batches and rollback (§4.7),
 * record_usage (§4.8) and query_by_config (§4.9).
 */
#include "helpers.h"

#include <inttypes.h>
#include <pthread.h>

#include "json.h"
#include "tokenizer.h"

static void assert_msg(tract_context *c, size_t i, const char *role, const char *content)
{
	assert_true(i < tract_context_count(c));
	assert_string_equal(tract_context_role(c, i), role);
	assert_string_equal(tract_context_content(c, i), content);
}

/* Expected token count with the default counter. */
static int64_t tok(const char *s)
{
	int64_t n = -1;

	assert_int_equal(tract_tokenizer_count(&n, NULL, s, strlen(s)), 0);
	return n;
}

/* The default counter is exact o200k_base whenever the table is there
 * (the estimate only when it is not), and compile reports it. */
static void assert_default_source(tract_context *c)
{
	tract_tokenizer *bpe = NULL, *def = NULL;
	const char *want = tract_tokenizer_bpe(&bpe, "o200k_base") == 0 && bpe
				   ? "tiktoken:o200k_base"
				   : "estimate:bytes/4";

	assert_int_equal(tract_tokenizer_default(&def), 0);
	assert_string_equal(def->source, want);
	assert_string_equal(tract_context_token_source(c), want);
}

static void test_roles_and_texts(void **state)
{
	fx *f = fx_new(NULL);
	tract_context *c;
	int64_t want;
	size_t i;

	(void)state;
	fx_commit(f, NULL, "{\"content_type\":\"instruction\",\"text\":\"sys\"}", NULL);
	fx_commit(f, NULL, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"hi\",\"name\":\"bob\"}", NULL);
	fx_commit(f, NULL, "{\"content_type\":\"dialogue\",\"role\":\"system\",\"text\":\"own role\"}", NULL);
	fx_commit(f, NULL, "{\"content_type\":\"tool_io\",\"tool_name\":\"calc\",\"direction\":\"call\",\"payload\":{}}", NULL);
	fx_commit(f, NULL, "{\"content_type\":\"tool_io\",\"tool_name\":\"search\",\"direction\":\"result\",\"status\":\"error\",\"payload\":{\"z\":null,\"q\":\"x\",\"n\":1.5}}", NULL);
	fx_commit(f, NULL, "{\"content_type\":\"reasoning\",\"text\":\"think\"}", NULL);
	fx_commit(f, NULL, "{\"content_type\":\"artifact\",\"artifact_type\":\"code\",\"content\":\"x = 1\",\"language\":\"python\"}", NULL);
	fx_commit(f, NULL, "{\"content_type\":\"output\",\"text\":\"# done\",\"format\":\"markdown\"}", NULL);
	fx_commit(f, NULL, "{\"content_type\":\"freeform\",\"payload\":{\"k\":\"v\",\"a\":[1,{\"b\":2}]}}", NULL);
	fx_commit(f, NULL, "{\"content_type\":\"session\",\"session_type\":\"end\",\"summary\":\"\xc3\xa9\"}", NULL);
	fx_commit(f, NULL, "{\"content_type\":\"dialogue\",\"role\":\"assistant\",\"text\":\"\",\"name\":\"\"}", NULL);
	c = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(c), 11);
	assert_msg(c, 0, "system", "sys");
	assert_msg(c, 1, "user", "hi");
	assert_string_equal(tract_context_name(c, 1), "bob");
	assert_msg(c, 2, "system", "own role");
	assert_null(tract_context_name(c, 2));
	assert_msg(c, 3, "tool", "Tool call: calc\n{}");
	assert_msg(c, 4, "tool",
		   "Tool result: search (error)\n{\n  \"n\": 1.5,\n  \"q\": \"x\",\n  \"z\": null\n}");
	assert_msg(c, 5, "assistant", "think");
	assert_msg(c, 6, "assistant", "x = 1");
	assert_msg(c, 7, "assistant", "# done");
	assert_msg(c, 8, "assistant",
		   "{\n  \"a\": [\n    1,\n    {\n      \"b\": 2\n    }\n  ],\n  \"k\": \"v\"\n}");
	assert_msg(c, 9, "system",
		   "{\"content_type\": \"session\", \"decisions\": [], \"failed_approaches\": [], "
		   "\"next_steps\": [], \"session_type\": \"end\", \"summary\": \"\\u00e9\"}");
	/* An empty name counts as present. */
	assert_string_equal(tract_context_name(c, 10), "");
	want = 3;
	for (i = 0; i < tract_context_count(c); i++) {
		want += 3 + tok(tract_context_role(c, i)) + tok(tract_context_content(c, i));
		if (tract_context_name(c, i))
			want += tok(tract_context_name(c, i)) + 1;
	}
	assert_int_equal(tract_context_token_count(c), want);
	assert_default_source(c);
	assert_string_equal(tract_context_generation_config(c, 0), "{}");
	tract_context_free(c);
	fx_free(f);
}

static void test_empty_and_null_counter(void **state)
{
	tract_open_options o = TRACT_OPEN_OPTIONS_INIT;
	fx *f;
	tract_context *c;

	(void)state;
	o.tokenizer = tract_tokenizer_null();
	f = fx_new(&o);
	c = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(c), 0);
	assert_int_equal(tract_context_token_count(c), 0);
	assert_string_equal(tract_context_token_source(c), "");
	tract_context_free(c);
	fx_say(f, NULL, "user", "some words here");
	c = fx_compile(f, NULL);
	/* null counter: only the fixed overheads remain. */
	assert_int_equal(tract_context_token_count(c), 3 + 3);
	assert_string_equal(tract_context_token_source(c), "");
	tract_context_free(c);
	fx_free(f);
}

static void test_edits_and_configs(void **state)
{
	fx *f = fx_new(NULL);
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_compile_options co = TRACT_COMPILE_OPTIONS_INIT;
	tract_context *c;
	char a[65], u[65];

	(void)state;
	fx_say(f, u, "user", "question");
	o.generation_config_json = "{\"model\":\"m1\",\"temperature\":0.7}";
	fx_commit(f, a, "{\"content_type\":\"dialogue\",\"role\":\"assistant\",\"text\":\"v1\"}", &o);
	/* Edit without config inherits the original's. */
	o.operation = TRACT_OP_EDIT;
	o.response_to = a;
	o.generation_config_json = NULL;
	fx_commit(f, NULL, "{\"content_type\":\"dialogue\",\"role\":\"assistant\",\"text\":\"v2\"}", &o);
	c = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(c), 2);
	assert_msg(c, 1, "assistant", "v2");
	assert_string_equal(tract_context_commit_hash(c, 1), a);
	assert_string_equal(tract_context_generation_config(c, 1),
			    "{\"model\": \"m1\", \"temperature\": 0.7}");
	tract_context_free(c);
	/* A later edit wins, an explicit {} config replaces, and the edit may
	 * change the content type. */
	o.generation_config_json = "{}";
	fx_commit(f, NULL, "{\"content_type\":\"output\",\"text\":\"v3\"}", &o);
	c = fx_compile(f, NULL);
	assert_msg(c, 1, "assistant", "v3");
	assert_string_equal(tract_context_generation_config(c, 1), "{}");
	tract_context_free(c);
	/* A later edit without a config shows the original's config again,
	 * not the one the previous edit set: incrementally and fresh. */
	o.generation_config_json = NULL;
	fx_commit(f, NULL, "{\"content_type\":\"output\",\"text\":\"v4\"}", &o);
	c = fx_compile(f, NULL);
	assert_msg(c, 1, "assistant", "v4");
	assert_string_equal(tract_context_generation_config(c, 1),
			    "{\"model\": \"m1\", \"temperature\": 0.7}");
	tract_context_free(c);
	tract_cache_clear(f->t->cache);
	c = fx_compile(f, NULL);
	assert_string_equal(tract_context_generation_config(c, 1),
			    "{\"model\": \"m1\", \"temperature\": 0.7}");
	tract_context_free(c);
	co.edit_markers = 1;
	c = fx_compile(f, &co);
	assert_msg(c, 0, "user", "question");
	assert_msg(c, 1, "assistant", "v4 [edited]");
	tract_context_free(c);
	/* An edit that precedes its target in the list still applies; edits
	 * of a SKIPped target are hidden with it. */
	assert_int_equal(tract_annotation_create(NULL, f->t, a, TRACT_PRIORITY_SKIP, NULL), 0);
	c = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(c), 1);
	tract_context_free(c);
	fx_free(f);
}

static void test_annotations_in_compile(void **state)
{
	fx *f = fx_new(NULL);
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_context *c;
	char ins[65], a[65], e[65];

	(void)state;
	fx_commit(f, ins, "{\"content_type\":\"instruction\",\"text\":\"rules\"}", NULL);
	fx_say(f, a, "assistant", "answer");
	o.operation = TRACT_OP_EDIT;
	o.response_to = a;
	fx_commit(f, e, "{\"content_type\":\"dialogue\",\"role\":\"assistant\",\"text\":\"fixed\"}", &o);
	/* SKIP on an edit commit has no effect. */
	assert_int_equal(tract_annotation_create(NULL, f->t, e, TRACT_PRIORITY_SKIP, "x"), 0);
	c = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(c), 2);
	assert_msg(c, 1, "assistant", "fixed");
	tract_context_free(c);
	/* SKIP removes an instruction despite its PINNED default; NORMAL restores. */
	assert_int_equal(tract_annotation_create(NULL, f->t, ins, TRACT_PRIORITY_SKIP, NULL), 0);
	c = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(c), 1);
	tract_context_free(c);
	assert_int_equal(tract_annotation_create(NULL, f->t, ins, TRACT_PRIORITY_NORMAL, NULL), 0);
	c = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(c), 2);
	tract_context_free(c);
	assert_int_equal(tract_annotation_create(NULL, f->t, "deadbeef", TRACT_PRIORITY_SKIP, NULL),
			 TRACT_ENOTFOUND);
	assert_int_equal(tract_annotation_create(NULL, f->t, a, (tract_priority)7, NULL), TRACT_EINVAL);
	fx_free(f);
}

static void test_time_travel(void **state)
{
	fx *f = fx_new(NULL);
	tract_compile_options o = TRACT_COMPILE_OPTIONS_INIT;
	tract_context *c;
	char a[65], b[65], d[65];
	tract_time mid, between;

	(void)state;
	fx_say(f, a, "user", "A");
	mid = tract_time_now();
	fx_say(f, b, "assistant", "B");
	fx_say(f, d, "user", "D");
	o.at_time = mid;
	c = fx_compile(f, &o);
	assert_int_equal(tract_context_count(c), 1);
	assert_msg(c, 0, "user", "A");
	tract_context_free(c);
	o.at_time = TRACT_TIME_NONE;
	o.at_commit = b;
	c = fx_compile(f, &o);
	assert_int_equal(tract_context_count(c), 2);
	tract_context_free(c);
	o.at_time = mid;
	assert_int_equal(tract_context_compile(&c, f->t, &o), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "Cannot specify both"));
	o.at_time = TRACT_TIME_NONE;
	o.at_commit = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	assert_int_equal(tract_context_compile(&c, f->t, &o), TRACT_ENOTFOUND);
	/* Annotations in force at the time: skip at t1, normal at t2. */
	assert_int_equal(tract_annotation_create(NULL, f->t, b, TRACT_PRIORITY_SKIP, NULL), 0);
	between = tract_time_now();
	assert_int_equal(tract_annotation_create(NULL, f->t, b, TRACT_PRIORITY_NORMAL, NULL), 0);
	o.at_commit = NULL;
	o.at_time = between;
	c = fx_compile(f, &o);
	assert_int_equal(tract_context_count(c), 2);
	assert_msg(c, 1, "user", "D");
	tract_context_free(c);
	c = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(c), 3);
	tract_context_free(c);
	fx_free(f);
}

/* Point a ref of the tract straight through the backend. */
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
}

static void add_parents(fx *f, const char *merge, const char *p0, const char *p1,
			const char *p2)
{
	tract_store *s = f->store;

	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(s->be->parent_put(s->conn, merge, p0, 0), 0);
	assert_int_equal(s->be->parent_put(s->conn, merge, p1, 1), 0);
	if (p2)
		assert_int_equal(s->be->parent_put(s->conn, merge, p2, 2), 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	tract_cache_clear(f->t->cache);
}

static const char *merge_json = "{\"content_type\":\"freeform\",\"payload\":{\"message\":\"Merge\"}}";

static void test_merge_expansion(void **state)
{
	fx *f = fx_new(NULL);
	tract_compile_options o = TRACT_COMPILE_OPTIONS_INIT;
	tract_context *c;
	char a[65], b[65], m1[65], f1[65], f2[65], g1[65], n1[65], merge[65], merge2[65];
	const char *want[] = {"A", "B", "M1", "F1", "N1", "G1"};
	size_t i;

	(void)state;
	fx_say(f, a, "user", "A");
	fx_say(f, b, "user", "B");
	/* feature forked at B */
	set_ref(f, "refs/heads/feature", b, NULL);
	set_ref(f, "HEAD", NULL, "refs/heads/feature");
	fx_say(f, f1, "user", "F1");
	/* nested: side branch from F1 merged into feature */
	set_ref(f, "refs/heads/side", f1, NULL);
	set_ref(f, "HEAD", NULL, "refs/heads/side");
	fx_say(f, g1, "user", "G1");
	set_ref(f, "HEAD", NULL, "refs/heads/feature");
	fx_say(f, n1, "user", "N1");
	fx_commit(f, f2, merge_json, NULL);
	add_parents(f, f2, n1, g1, NULL);
	set_ref(f, "HEAD", NULL, "refs/heads/main");
	fx_say(f, m1, "user", "M1");
	fx_commit(f, merge, merge_json, NULL);
	add_parents(f, merge, m1, f2, NULL);
	c = fx_compile(f, NULL);
	/* A B M1, then the feature block F1 N1 [F2] in which the nested side
	 * block G1 sits just before its own merge F2; merge commits give no
	 * message. */
	assert_int_equal(tract_context_count(c), 6);
	for (i = 0; i < 6; i++)
		assert_string_equal(tract_context_content(c, i), want[i]);
	tract_context_free(c);
	o.merge_messages = 1;
	c = fx_compile(f, &o);
	assert_int_equal(tract_context_count(c), 8);
	assert_string_equal(tract_context_content(c, 6), "{\n  \"message\": \"Merge\"\n}");
	assert_string_equal(tract_context_commit_hash(c, 6), f2);
	assert_string_equal(tract_context_commit_hash(c, 7), merge);
	tract_context_free(c);
	/* A third parent is expanded too (DECISIONS.md). */
	set_ref(f, "refs/heads/third", a, NULL);
	set_ref(f, "HEAD", NULL, "refs/heads/third");
	fx_say(f, NULL, "user", "T1");
	{
		char t1[65];
		assert_int_equal(tract_revision_resolve(t1, f->t, "third"), 0);
		set_ref(f, "HEAD", NULL, "refs/heads/main");
		fx_commit(f, merge2, merge_json, NULL);
		add_parents(f, merge2, merge, f2, t1);
	}
	c = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(c), 7);
	assert_string_equal(tract_context_content(c, 6), "T1");
	tract_context_free(c);
	fx_free(f);
}

/* ---- cache ---------------------------------------------------------------------- */

static void assert_same_context(tract_context *x, tract_context *y)
{
	size_t i;

	assert_int_equal(tract_context_count(x), tract_context_count(y));
	for (i = 0; i < tract_context_count(x); i++) {
		assert_string_equal(tract_context_role(x, i), tract_context_role(y, i));
		assert_string_equal(tract_context_content(x, i), tract_context_content(y, i));
		assert_string_equal(tract_context_commit_hash(x, i), tract_context_commit_hash(y, i));
		assert_string_equal(tract_context_generation_config(x, i),
				    tract_context_generation_config(y, i));
	}
	assert_int_equal(tract_context_token_count(x), tract_context_token_count(y));
	assert_string_equal(tract_context_token_source(x), tract_context_token_source(y));
}

static tract_context *fresh_compile(fx *f)
{
	tract_open_options o = TRACT_OPEN_OPTIONS_INIT;
	tract_context *c = NULL;
	tract *t = NULL;

	o.compile_cache_size = 0;
	assert_int_equal(tract_open(&t, f->store, f->t->id, &o), 0);
	assert_int_equal(tract_context_compile(&c, t, NULL), 0);
	tract_free(t);
	return c;
}

static void test_cache_append_and_lru(void **state)
{
	tract_open_options o = TRACT_OPEN_OPTIONS_INIT;
	fx *f;
	tract_context *c, *d;
	char h1[65], h2[65], h3[65];

	(void)state;
	o.compile_cache_size = 2;
	o.verify_cache = 1;
	f = fx_new(&o);
	fx_say(f, h1, "user", "one");
	c = fx_compile(f, NULL);
	assert_non_null(tract_cache_get(f->t->cache, h1));
	tract_context_free(c);
	fx_say(f, h2, "assistant", "two");
	/* The append extended the snapshot: HEAD is cached without a compile. */
	assert_non_null(tract_cache_get(f->t->cache, h2));
	fx_say(f, h3, "user", "three");
	assert_int_equal(tract_cache_size(f->t->cache), 2);
	assert_null(tract_cache_get(f->t->cache, h1)); /* oldest evicted */
	c = fx_compile(f, NULL);
	d = fresh_compile(f);
	assert_same_context(c, d);
	tract_context_free(c);
	tract_context_free(d);
	fx_free(f);
}

static void test_cache_annotate_patch(void **state)
{
	fx *f = fx_new(NULL);
	tract_context *c, *d;
	char h1[65], h2[65], h3[65];

	(void)state;
	fx_say(f, h1, "user", "one");
	fx_say(f, h2, "assistant", "two");
	c = fx_compile(f, NULL);
	tract_context_free(c);
	fx_say(f, h3, "user", "three");
	/* Every commit derived its snapshot from its parent's, the first one
	 * from the empty context. */
	assert_int_equal(tract_cache_size(f->t->cache), 3);
	assert_int_equal(tract_annotation_create(NULL, f->t, h2, TRACT_PRIORITY_SKIP, NULL), 0);
	/* Other heads dropped, the patched current one kept. */
	assert_int_equal(tract_cache_size(f->t->cache), 1);
	c = tract_cache_get(f->t->cache, h3);
	assert_non_null(c);
	assert_int_equal(tract_context_count(c), 2);
	c = fx_compile(f, NULL);
	d = fresh_compile(f);
	assert_same_context(c, d);
	tract_context_free(c);
	tract_context_free(d);
	/* Un-skipping leaves no snapshot: the next compile is full. */
	assert_int_equal(tract_annotation_create(NULL, f->t, h2, TRACT_PRIORITY_NORMAL, NULL), 0);
	assert_int_equal(tract_cache_size(f->t->cache), 0);
	c = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(c), 3);
	tract_context_free(c);
	fx_free(f);
}

static void test_cache_edit_patch_and_results_are_copies(void **state)
{
	fx *f = fx_new(NULL);
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_compile_options co = TRACT_COMPILE_OPTIONS_INIT;
	tract_context *c, *d;
	char a[65], e[65];

	(void)state;
	fx_say(f, a, "assistant", "v1");
	fx_say(f, NULL, "user", "more");
	c = fx_compile(f, NULL);
	o.operation = TRACT_OP_EDIT;
	o.response_to = a;
	fx_commit(f, e, "{\"content_type\":\"dialogue\",\"role\":\"assistant\",\"text\":\"v2\"}", &o);
	d = tract_cache_get(f->t->cache, e);
	assert_non_null(d);
	assert_msg(d, 0, "assistant", "v2");
	/* The earlier result is unchanged by the later edit. */
	assert_msg(c, 0, "assistant", "v1");
	tract_context_free(c);
	/* Time travel neither reads nor disturbs the HEAD snapshot. */
	co.at_commit = a;
	c = fx_compile(f, &co);
	assert_int_equal(tract_context_count(c), 1);
	assert_msg(c, 0, "assistant", "v1");
	tract_context_free(c);
	assert_non_null(tract_cache_get(f->t->cache, e));
	c = fx_compile(f, NULL);
	d = fresh_compile(f);
	assert_same_context(c, d);
	tract_context_free(c);
	tract_context_free(d);
	fx_free(f);
}

/* ---- batches and rollback --------------------------------------------------------- */

static void test_batch_commit_and_rollback(void **state)
{
	fx *f = fx_new(NULL);
	tract_context *before, *after;
	fx_counts n0;
	char h[65], head[65];

	(void)state;
	fx_say(f, h, "user", "base");
	before = fx_compile(f, NULL);
	n0 = fx_count(f);
	assert_int_equal(tract_batch_begin(f->t), 0);
	assert_int_equal(tract_cache_size(f->t->cache), 0); /* entering clears */
	fx_say(f, NULL, "assistant", "in batch");
	assert_int_equal(tract_batch_begin(f->t), 0); /* nested joins */
	assert_int_equal(tract_annotation_create(NULL, f->t, h, TRACT_PRIORITY_SKIP, NULL), 0);
	assert_int_equal(tract_batch_commit(f->t), 0);
	/* Reads inside see the pending writes. */
	after = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(after), 1);
	tract_context_free(after);
	assert_int_equal(tract_batch_rollback(f->t), 0);
	fx_assert_same_counts(n0, fx_count(f));
	after = fx_compile(f, NULL);
	assert_same_context(before, after);
	tract_context_free(after);
	assert_int_equal(tract_head_get(head, NULL, NULL, f->t), 0);
	assert_string_equal(head, h);
	/* Operations that fail validation inside a batch write nothing and
	 * leave the batch usable; the rest of it commits. */
	assert_int_equal(tract_batch_begin(f->t), 0);
	fx_say(f, NULL, "assistant", "kept");
	assert_int_equal(tract_commit_create(NULL, f->t, "{bad", NULL), TRACT_EINVAL);
	assert_int_equal(tract_annotation_create(NULL, f->t, "ffffffff", TRACT_PRIORITY_SKIP, NULL),
			 TRACT_ENOTFOUND);
	assert_int_equal(tract_batch_commit(f->t), 0);
	assert_int_equal(fx_count(f).commits, n0.commits + 1);
	n0 = fx_count(f);
	/* A successful batch persists everything at once. */
	assert_int_equal(tract_batch_begin(f->t), 0);
	fx_say(f, NULL, "assistant", "x");
	fx_say(f, NULL, "user", "y");
	assert_int_equal(tract_batch_commit(f->t), 0);
	assert_int_equal(fx_count(f).commits, n0.commits + 2);
	assert_int_equal(tract_batch_commit(f->t), TRACT_EINVAL);
	tract_context_free(before);
	fx_free(f);
}

/* ---- budget ------------------------------------------------------------------------ */

static int warned;
static void count_warning(const char *msg, void *payload)
{
	(void)payload;
	if (strstr(msg, "Token budget exceeded"))
		warned++;
}

static int64_t cb_current, cb_max;
static int refuse(int64_t current, int64_t max, void *payload)
{
	cb_current = current;
	cb_max = max;
	return *(int *)payload;
}

static void test_budget(void **state)
{
	fx *f = fx_new(NULL);
	tract_context *c;
	fx_counts n;
	int64_t cur;
	int answer = 1;
	char h[65];

	(void)state;
	fx_say(f, h, "user", "0123456789012345678901234567890123456789");
	c = fx_compile(f, NULL);
	cur = tract_context_token_count(c);
	tract_context_free(c);
	/* Compiled count after a short message: cur + 3 + tok(role) + tok("ok"). */
	assert_int_equal(tract_budget_set(f->t, cur + 3 + tok("assistant") + tok("ok") - 1,
					  TRACT_BUDGET_REJECT, NULL, NULL, 0),
			 0);
	n = fx_count(f);
	assert_int_equal(tract_commit_create_dialogue(NULL, f->t, "assistant", "ok", NULL, NULL), TRACT_EBUDGET);
	assert_non_null(strstr(tract_error_last()->message, "Token budget exceeded: "));
	fx_assert_same_counts(n, fx_count(f));
	/* Equality passes. */
	assert_int_equal(tract_budget_set(f->t, cur + 3 + tok("assistant") + tok("ok"),
					  TRACT_BUDGET_REJECT, NULL, NULL, 0),
			 0);
	fx_say(f, NULL, "assistant", "ok");
	/* The compiled count is what matters: skipping frees room. */
	assert_int_equal(tract_annotation_create(NULL, f->t, h, TRACT_PRIORITY_SKIP, NULL), 0);
	fx_say(f, NULL, "user", "0123456789012345678901234567890123456789");
	/* warn: logs and goes on */
	tract_warning_hook_set(count_warning, NULL);
	assert_int_equal(tract_budget_set(f->t, 1, TRACT_BUDGET_WARN, NULL, NULL, 0), 0);
	warned = 0;
	fx_say(f, NULL, "assistant", "over");
	assert_int_equal(warned, 1);
	tract_warning_hook_set(NULL, NULL);
	/* callback: sees (current, max); non-zero refuses */
	assert_int_equal(tract_budget_set(f->t, 2, TRACT_BUDGET_CALLBACK, refuse, &answer, 0), 0);
	n = fx_count(f);
	assert_int_equal(tract_commit_create_dialogue(NULL, f->t, "user", "x", NULL, NULL), TRACT_EBUDGET);
	assert_int_equal(cb_max, 2);
	assert_true(cb_current > 2);
	fx_assert_same_counts(n, fx_count(f));
	answer = 0;
	fx_say(f, NULL, "user", "x");
	/* Persisted budgets reach new handles; status reports them. */
	assert_int_equal(tract_budget_set(f->t, 5000, TRACT_BUDGET_WARN, NULL, NULL, 1), 0);
	{
		tract *t2 = NULL;
		tract_status *st = NULL;
		assert_int_equal(tract_open(&t2, f->store, f->t->id, NULL), 0);
		assert_int_equal(tract_status_get(&st, t2), 0);
		assert_int_equal(st->max_tokens, 5000);
		assert_string_equal(st->branch, "main");
		assert_int_equal(st->detached, 0);
		c = fx_compile(f, NULL);
		assert_int_equal(st->commit_count, (int64_t)tract_context_count(c));
		assert_int_equal(st->token_count, tract_context_token_count(c));
		tract_context_free(c);
		tract_status_free(st);
		tract_free(t2);
	}
	assert_int_equal(tract_budget_set(f->t, 1, (tract_budget_action)9, NULL, NULL, 0),
			 TRACT_EINVAL);
	fx_free(f);
}

/* ---- record_usage --------------------------------------------------------------------- */

static void test_record_usage(void **state)
{
	fx *f = fx_new(NULL);
	tract_context *c = NULL;
	char h[65];

	(void)state;
	assert_int_equal(tract_usage_record(&c, f->t, "{\"prompt_tokens\":1}", NULL), TRACT_ERROR);
	assert_string_equal(tract_error_last()->message, "Cannot record usage: no commits exist");
	fx_say(f, h, "user", "hello");
	assert_int_equal(tract_usage_record(&c, f->t,
					    "{\"prompt_tokens\":100,\"completion_tokens\":50,"
					    "\"total_tokens\":150}",
					    NULL),
			 0);
	assert_int_equal(tract_context_token_count(c), 100);
	assert_string_equal(tract_context_token_source(c), "api:100+50");
	tract_context_free(c);
	c = fx_compile(f, NULL);
	assert_string_equal(tract_context_token_source(c), "api:100+50");
	tract_context_free(c);
	assert_int_equal(tract_usage_record(&c, f->t, "{\"input_tokens\":200,\"output_tokens\":80}",
					    h),
			 0);
	assert_string_equal(tract_context_token_source(c), "api:200+80");
	assert_int_equal(tract_context_token_count(c), 200);
	tract_context_free(c);
	assert_int_equal(tract_usage_record(&c, f->t, "{\"tokens\":1,\"x\":2}", NULL), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "Got keys: ['tokens', 'x']"));
	assert_int_equal(tract_usage_record(&c, f->t, "[1]", NULL), TRACT_EINVAL);
	assert_int_equal(tract_usage_record(&c, f->t, "{\"prompt_tokens\":-1}", NULL), TRACT_EINVAL);
	assert_int_equal(tract_usage_record(&c, f->t, "{\"usage\":{\"prompt_tokens\":1}}", NULL),
			 TRACT_EINVAL);
	assert_int_equal(tract_usage_record(&c, f->t, "{\"prompt_tokens\":1}",
					    "0000000000000000000000000000000000000000000000000000000000000000"),
			 TRACT_ERROR);
	assert_non_null(strstr(tract_error_last()->message, "does not match current HEAD"));
	/* The next commit goes back to the counter. */
	fx_say(f, NULL, "assistant", "reply");
	c = fx_compile(f, NULL);
	assert_default_source(c);
	tract_context_free(c);
	fx_free(f);
}

/* ---- query_by_config ------------------------------------------------------------------- */

static void commit_cfg(fx *f, const char *cfg)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;

	o.generation_config_json = cfg;
	fx_commit(f, NULL, "{\"content_type\":\"dialogue\",\"role\":\"assistant\",\"text\":\"x\"}", &o);
}

static size_t query(fx *f, const char *field, const char *op, const char *value)
{
	tract_commit_list *l = NULL;
	size_t n;

	if (tract_config_query(&l, f->t, field, op, value) != 0)
		fail_msg("query: %s", tract_error_last()->message);
	n = l->count;
	tract_commit_list_free(l);
	return n;
}

static void test_query_by_config(void **state)
{
	fx *f = fx_new(NULL);
	tract_commit_list *l = NULL;

	(void)state;
	commit_cfg(f, "{\"model\":\"gpt-4o\",\"temperature\":0.5}");
	commit_cfg(f, "{\"model\":\"gpt-4o\",\"temperature\":0.9,\"opts\":{\"seed\":7}}");
	commit_cfg(f, "{\"model\":\"o3\",\"temperature\":0.7,\"stream\":true}");
	commit_cfg(f, NULL);
	assert_int_equal(query(f, "model", "=", "\"gpt-4o\""), 2);
	assert_int_equal(query(f, "temperature", ">", "0.5"), 2);
	assert_int_equal(query(f, "temperature", "<=", "0.5"), 1);
	assert_int_equal(query(f, "model", "!=", "\"o3\""), 2); /* no-config rows excluded */
	assert_int_equal(query(f, "model", ">", "0.5"), 3);     /* text > numbers */
	assert_int_equal(query(f, "opts.seed", "=", "7"), 1);
	assert_int_equal(query(f, "stream", "=", "1"), 1);      /* true is 1 */
	assert_int_equal(query(f, "stream", "=", "true"), 1);
	assert_int_equal(query(f, "missing", "!=", "1"), 0);
	assert_int_equal(query(f, "model", "=", "null"), 0);
	assert_int_equal(tract_config_query(&l, f->t, "model", "LIKE", "\"g%\""), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "Unsupported operator: LIKE"));
	assert_int_equal(tract_config_query(&l, f->t, "model", "=", "'x'"), TRACT_EINVAL);
	assert_int_equal(tract_config_query(&l, f->t, "", "=", "1"), TRACT_EINVAL);
	fx_free(f);
}

/* ---- renderings ------------------------------------------------------------------------- */

static void test_renderings(void **state)
{
	fx *f = fx_new(NULL);
	tract_context *c;
	char *s = NULL, h[65];

	(void)state;
	fx_commit(f, NULL, "{\"content_type\":\"instruction\",\"text\":\"be \\\"nice\\\"\"}", NULL);
	fx_commit(f, h, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"caf\xc3\xa9\",\"name\":\"ann\"}", NULL);
	c = fx_compile(f, NULL);
	assert_int_equal(tract_context_render(&s, c, TRACT_FORMAT_OPENAI), 0);
	assert_string_equal(s, "{\"messages\": [{\"role\": \"system\", \"content\": \"be \\\"nice\\\"\"}, "
			       "{\"role\": \"user\", \"content\": \"caf\xc3\xa9\", \"name\": \"ann\"}]}");
	tract_string_free(s);
	assert_int_equal(tract_context_render(&s, c, TRACT_FORMAT_ANTHROPIC), 0);
	assert_string_equal(s, "{\"system\": \"be \\\"nice\\\"\", \"messages\": "
			       "[{\"role\": \"user\", \"content\": \"caf\xc3\xa9\"}]}");
	tract_string_free(s);
	assert_int_equal(tract_context_render(&s, c, TRACT_FORMAT_TEXT), 0);
	assert_string_equal(s, "[system]\nbe \"nice\"\n\n[user ann]\ncaf\xc3\xa9\n");
	tract_string_free(s);
	assert_int_equal(tract_context_render(&s, c, TRACT_FORMAT_JSON), 0);
	{
		cJSON *j = cJSON_Parse(s);
		assert_non_null(j);
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "messages")), 2);
		assert_int_equal(cJSON_GetObjectItem(j, "commit_count")->valueint, 2);
		assert_int_equal(cJSON_GetObjectItem(j, "token_count")->valuedouble,
				 (double)tract_context_token_count(c));
		assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "commit_hashes"), 1)
					    ->valuestring,
				    h);
		assert_true(cJSON_IsObject(
			cJSON_GetArrayItem(cJSON_GetObjectItem(j, "generation_configs"), 0)));
		cJSON_Delete(j);
	}
	tract_string_free(s);
	assert_int_equal(tract_context_render(&s, c, (tract_format)42), TRACT_EINVAL);
	tract_context_free(c);
	fx_free(f);
}

/* The default counter behind a wrapper without TRACT_TOKENIZER_THREADSAFE
 * that notes every call and whether it came from another thread than the
 * one that called compile. */
static struct {
	pthread_t compiling; /* the thread that calls tract_context_compile */
	long calls;	     /* count() calls (atomic) */
	long elsewhere;	     /* ... of them from another thread (atomic) */
} watched;

static int64_t watched_count(void *self, const char *text, size_t len)
{
	__atomic_add_fetch(&watched.calls, 1, __ATOMIC_SEQ_CST);
	if (!pthread_equal(pthread_self(), watched.compiling))
		__atomic_add_fetch(&watched.elsewhere, 1, __ATOMIC_SEQ_CST);
	return tract_tokenizer_default_get()->count(self, text, len);
}

/* Same messages and total; the token sources differ on purpose. */
static void assert_same_messages(tract_context *x, tract_context *y)
{
	size_t i;

	assert_int_equal(tract_context_count(x), tract_context_count(y));
	for (i = 0; i < tract_context_count(x); i++) {
		assert_string_equal(tract_context_role(x, i), tract_context_role(y, i));
		assert_string_equal(tract_context_content(x, i), tract_context_content(y, i));
		assert_string_equal(tract_context_commit_hash(x, i), tract_context_commit_hash(y, i));
		assert_string_equal(tract_context_generation_config(x, i),
				    tract_context_generation_config(y, i));
	}
	assert_int_equal(tract_context_token_count(x), tract_context_token_count(y));
}

/*
 * Compile builds the messages during the walk, on the calling thread. A
 * counter that does not promise thread safety (no TRACT_TOKENIZER_THREADSAFE)
 * and whose source differs from the one the commits were counted with (so
 * no stored count is reused) counts every message of a 6,000-commit history
 * (edits, a tool call every 500, a skip), and only from the thread that
 * called compile. Its result equals the default compile on the tract's own
 * handle (which reuses the counts stored at commit time), message for
 * message and in the token count; so does a time-travel compile with edit
 * markers.
 */
static void test_compile_counts_on_calling_thread(void **state)
{
	static tract_tokenizer serial = {TRACT_TOKENIZER_VERSION, "test:watched-default",
					 watched_count, NULL, 0};
	tract_open_options so = TRACT_OPEN_OPTIONS_INIT;
	tract_commit_options eo = TRACT_COMMIT_OPTIONS_INIT;
	fx *f = fx_new(NULL);
	tract *ser = NULL;
	tract_context *a, *b;
	char h[65], buf[96], first[65] = "", mid[65] = "", edit_mid[65];
	int i;

	(void)state;
	assert_int_equal(tract_batch_begin(f->t), 0);
	for (i = 0; i < 6000; i++) {
		snprintf(buf, sizeof(buf), "message %d with some text \u00e9 %d", i, i * 7);
		if (i % 500 == 7) {
			fx_commit(f, h, "{\"content_type\":\"tool_io\",\"tool_name\":\"t\","
					"\"direction\":\"call\",\"payload\":{\"n\":1.50}}", NULL);
		} else {
			char json[160];
			snprintf(json, sizeof(json),
				 "{\"content_type\":\"dialogue\",\"role\":\"%s\",\"text\":\"%s\"}",
				 i % 2 ? "assistant" : "user", buf);
			fx_commit(f, h, json, NULL);
		}
		if (i == 10)
			memcpy(first, h, 65);
		if (i == 4000)
			memcpy(mid, h, 65);
	}
	/* Edits and skips on both halves. */
	eo.operation = TRACT_OP_EDIT;
	eo.response_to = first;
	fx_commit(f, NULL, "{\"content_type\":\"output\",\"text\":\"edited first\"}", &eo);
	eo.response_to = mid;
	fx_commit(f, edit_mid, "{\"content_type\":\"output\",\"text\":\"edited mid\"}", &eo);
	assert_int_equal(tract_batch_commit(f->t), 0);
	assert_int_equal(tract_annotation_create(NULL, f->t, h, TRACT_PRIORITY_SKIP, NULL), 0);
	tract_cache_clear(f->t->cache);
	a = fx_compile(f, NULL);
	serial.self = tract_tokenizer_default_get()->self;
	so.tokenizer = &serial;
	so.compile_cache_size = 0; /* every compile through it counts afresh */
	assert_int_equal(tract_open(&ser, f->store, f->t->id, &so), 0);
	watched.compiling = pthread_self();
	watched.calls = watched.elsewhere = 0;
	assert_int_equal(tract_context_compile(&b, ser, NULL), 0);
	assert_int_equal(tract_context_count(a), 5999);
	/* Every one of the 5,999 messages was counted, all on this thread. */
	assert_true(__atomic_load_n(&watched.calls, __ATOMIC_SEQ_CST) >= 5999);
	assert_int_equal(__atomic_load_n(&watched.elsewhere, __ATOMIC_SEQ_CST), 0);
	assert_same_messages(a, b);
	assert_string_equal(tract_context_token_source(b), "test:watched-default");
	assert_string_equal(tract_context_content(a, 10), "edited first");
	assert_string_equal(tract_context_content(a, 4000), "edited mid");
	tract_context_free(a);
	tract_context_free(b);
	/* Time travel and markers take the same paths. */
	{
		tract_compile_options co = TRACT_COMPILE_OPTIONS_INIT;
		co.at_commit = edit_mid; /* before the last commit and its skip */
		co.edit_markers = 1;
		assert_int_equal(tract_context_compile(&a, f->t, &co), 0);
		watched.calls = 0;
		assert_int_equal(tract_context_compile(&b, ser, &co), 0);
		assert_true(__atomic_load_n(&watched.calls, __ATOMIC_SEQ_CST) > 4000);
		assert_int_equal(__atomic_load_n(&watched.elsewhere, __ATOMIC_SEQ_CST), 0);
		assert_string_equal(tract_context_content(a, 4000), "edited mid [edited]");
		assert_string_equal(tract_context_content(a, 4001), "message 4001 with some text \xc3\xa9 28007");
		assert_same_messages(a, b);
		tract_context_free(a);
		tract_context_free(b);
	}
	tract_free(ser);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles_and_texts),
		cmocka_unit_test(test_empty_and_null_counter),
		cmocka_unit_test(test_edits_and_configs),
		cmocka_unit_test(test_annotations_in_compile),
		cmocka_unit_test(test_time_travel),
		cmocka_unit_test(test_merge_expansion),
		cmocka_unit_test(test_cache_append_and_lru),
		cmocka_unit_test(test_cache_annotate_patch),
		cmocka_unit_test(test_cache_edit_patch_and_results_are_copies),
		cmocka_unit_test(test_batch_commit_and_rollback),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_record_usage),
		cmocka_unit_test(test_query_by_config),
		cmocka_unit_test(test_renderings),
		cmocka_unit_test(test_compile_counts_on_calling_thread),
	};
	int rc = ts_init("compile");

	if (rc)
		return rc;
	return ts_run("compile", tests, TS_COUNT(tests), NULL, 0);
}
