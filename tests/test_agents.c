/*
 * test_agents.c - multi-agent sessions (spec/agents.md §6 with
 * DECISIONS.md) on the backend of TRACT_TEST_BACKEND: the store's tracts
 * with persisted display names, spawn pointers and the ancestry walk,
 * spawn in its three inheritance modes (atomic), collapse in its three
 * modes (only the work since the previous collapse; drafts approved or
 * discarded from another handle; stale drafts refused), expand, session
 * commits, resume, an orchestrator with three children, and the
 * reference's schema-4 fixture read back through these calls.
 */
#include "helpers.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tract/agents.h"
#include "tract/llm.h"

/* ---- helpers ---- */

static tract *spawn(fx *f, tract *parent, const char *purpose, tract_inherit_mode mode,
                    const char *name)
{
	tract_spawn_options o = TRACT_SPAWN_OPTIONS_INIT;
	tract *child = NULL;

	o.purpose = purpose;
	o.inherit = mode;
	o.display_name = name;
	if (tract_spawn(&child, parent ? parent : f->t, &o) != 0)
		fail_msg("spawn: %s", tract_error_last()->message);
	return child;
}

static void say(tract *t, char out[65], const char *role, const char *text)
{
	tract_commit *c = NULL;

	if (tract_commit_create_dialogue(&c, t, role, text, NULL, NULL) != 0)
		fail_msg("dialogue: %s", tract_error_last()->message);
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static void head_of(tract *t, char out[65])
{
	assert_int_equal(tract_head_get(out, NULL, NULL, t), 0);
}

static tract_collapse_result *collapse_manual(tract *parent, const char *child, const char *text)
{
	tract_collapse_options o = TRACT_COLLAPSE_OPTIONS_INIT;
	tract_collapse_result *r = NULL;

	o.summary = text;
	if (tract_collapse(&r, parent, child, &o) != 0)
		fail_msg("collapse: %s", tract_error_last()->message);
	return r;
}

static int fsck_errors(tract_store *s)
{
	tract_fsck_report *rep = NULL;
	size_t errors;

	assert_int_equal(tract_fsck_run(&rep, s), 0);
	errors = rep->errors;
	for (size_t i = 0; i < rep->count; i++)
		fprintf(stderr, "fsck: %s\n", rep->problems[i].message);
	tract_fsck_report_free(rep);
	return (int)errors;
}

static int count_spawn_cb(const tract_spawn_row *row, void *payload)
{
	(void)row;
	(*(int *)payload)++;
	return 0;
}

static int spawn_rows(fx *f)
{
	tract_store *s = f->store;
	int n = 0;

	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_READ), 0);
	assert_int_equal(s->be->spawn_foreach(s->conn, NULL, count_spawn_cb, &n), 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	return n;
}

static size_t log_count(tract *t)
{
	tract_commit_list *l = NULL;
	size_t n;

	if (tract_log_list(&l, t, NULL) != 0)
		fail_msg("log: %s", tract_error_last()->message);
	n = l->count;
	tract_commit_list_free(l);
	return n;
}

static tract_commit *newest(tract *t)
{
	tract_commit *c = NULL;

	if (tract_commit_lookup(&c, t, "HEAD") != 0) {
		char h[65];
		head_of(t, h);
		if (tract_commit_lookup(&c, t, h) != 0)
			fail_msg("lookup: %s", tract_error_last()->message);
	}
	return c;
}

static tract_priority latest_priority(tract *t, const char *hash)
{
	tract_annotation_list *l = NULL;
	tract_priority p = TRACT_PRIORITY_NONE;

	assert_int_equal(tract_annotation_list_get(&l, t, hash), 0);
	if (l->count)
		p = l->items[l->count - 1].priority;
	tract_annotation_list_free(l);
	return p;
}

static tract_info *info_of(fx *f, const char *id)
{
	tract_info *i = NULL;

	if (tract_store_tract_get(&i, f->store, id) != 0)
		fail_msg("tract_get: %s", tract_error_last()->message);
	return i;
}

/* ---- store-level tracts and pointers ---- */

static void test_display_names_persisted(void **state)
{
	fx *f = fx_new(NULL);
	tract *named = NULL, *child;
	tract_info *i;
	char key[200], value[300];
	int found;

	(void)state;
	assert_int_equal(tract_create(&named, f->store, "root-2", "Planner", NULL), 0);
	i = info_of(f, "root-2");
	assert_string_equal(i->display_name, "Planner"); /* reference: lost (§6.2 NOTE) */
	assert_null(i->parent_tract_id);
	assert_int_equal(i->is_active, 1);
	tract_info_free(i);
	child = spawn(f, named, "dig", TRACT_INHERIT_HEAD_SNAPSHOT, "Digger");
	tract_meta_key(key, sizeof(key), tract_id(child), "display_name");
	assert_int_equal(tract_meta_read(f->store, key, value, sizeof(value), &found), 0);
	assert_true(found);
	assert_string_equal(value, "Digger");
	i = info_of(f, tract_id(child));
	assert_string_equal(i->display_name, "Digger");
	assert_string_equal(i->parent_tract_id, "root-2");
	tract_info_free(i);
	assert_int_equal(tract_store_tract_get(&i, f->store, "nope"), TRACT_ENOTFOUND);
	assert_null(i);
	tract_free(child);
	tract_free(named);
	fx_free(f);
}

static void test_ancestry(void **state)
{
	fx *f = fx_new(NULL);
	tract *b, *c;
	tract_spawn_info *info = NULL;
	tract_spawn_info_list *kids = NULL;
	tract_store *s = f->store;
	tract_spawn_row row;
	int yes = -1;

	(void)state;
	say(f->t, NULL, "user", "root work");
	b = spawn(f, NULL, "b", TRACT_INHERIT_HEAD_SNAPSHOT, NULL);
	c = spawn(f, b, "c", TRACT_INHERIT_HEAD_SNAPSHOT, NULL);
	assert_int_equal(tract_store_tract_has_ancestor(&yes, s, tract_id(c), f->t->id), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(tract_store_tract_has_ancestor(&yes, s, tract_id(c), tract_id(b)), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(tract_store_tract_has_ancestor(&yes, s, f->t->id, tract_id(c)), 0);
	assert_int_equal(yes, 0);
	assert_int_equal(tract_store_tract_has_ancestor(&yes, s, f->t->id, f->t->id), 0);
	assert_int_equal(yes, 0);
	assert_int_equal(tract_spawn_info_get(&info, s, tract_id(c)), 0);
	assert_string_equal(info->parent_tract_id, tract_id(b));
	assert_string_equal(info->purpose, "c");
	assert_string_equal(info->inheritance_mode, "head_snapshot");
	tract_spawn_info_free(info);
	assert_int_equal(tract_spawn_info_get(&info, s, f->t->id), TRACT_ENOTFOUND);
	assert_int_equal(tract_spawn_children_list(&kids, s, f->t->id), 0);
	assert_int_equal(kids->count, 1);
	assert_string_equal(kids->items[0].child_tract_id, tract_id(b));
	tract_spawn_info_list_free(kids);

	/* A cycle of stored pointers (x -> y -> x) ends the walk. */
	memset(&row, 0, sizeof(row));
	row.purpose = "loop";
	row.inheritance_mode = "head_snapshot";
	row.created_at = tract_time_now();
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	row.parent_tract_id = "y";
	row.child_tract_id = "x";
	assert_int_equal(s->be->spawn_put(s->conn, &row, NULL), 0);
	row.parent_tract_id = "x";
	row.child_tract_id = "y";
	assert_int_equal(s->be->spawn_put(s->conn, &row, NULL), 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	assert_int_equal(tract_store_tract_has_ancestor(&yes, s, "x", "z"), 0);
	assert_int_equal(yes, 0);
	assert_int_equal(tract_store_tract_has_ancestor(&yes, s, "x", "x"), 0);
	assert_int_equal(yes, 1); /* the cycle leads back */
	tract_free(c);
	tract_free(b);
	fx_free(f);
}

/* ---- spawn ---- */

static void test_spawn_head_snapshot(void **state)
{
	fx *f = fx_new(NULL);
	tract *child;
	tract_spawn_info *info = NULL;
	tract_context *ctx;
	tract_commit *c;
	char before[65];

	(void)state;
	assert_int_equal(tract_commit_create_instruction(NULL, f->t, "Be brief.", NULL), 0);
	say(f->t, NULL, "user", "Find the bug.");
	head_of(f->t, before);
	child = spawn(f, NULL, "investigate", TRACT_INHERIT_HEAD_SNAPSHOT, NULL);
	assert_int_equal(log_count(child), 1);
	c = newest(child);
	assert_string_equal(tract_commit_content_type(c), "instruction");
	assert_string_equal(tract_commit_message(c),
	                    "Inherited context from parent (head_snapshot)");
	assert_int_equal(latest_priority(child, tract_commit_hash(c)), TRACT_PRIORITY_PINNED);
	tract_commit_free(c);
	ctx = NULL;
	assert_int_equal(tract_context_compile(&ctx, child, NULL), 0);
	assert_int_equal(tract_context_count(ctx), 1);
	assert_string_equal(tract_context_role(ctx, 0), "system");
	assert_string_equal(tract_context_content(ctx, 0),
	                    "[system]: Be brief.\n[user]: Find the bug.");
	tract_context_free(ctx);
	/* The parent: the spawn commit, after the captured head. */
	c = newest(f->t);
	assert_string_equal(tract_commit_message(c), "spawn: investigate");
	assert_string_equal(tract_commit_parent(c), before);
	assert_non_null(strstr(tract_commit_content(c), "Spawned subagent for: investigate"));
	tract_commit_free(c);
	assert_int_equal(tract_spawn_info_get(&info, f->store, tract_id(child)), 0);
	assert_string_equal(info->parent_commit_hash, before);
	tract_spawn_info_free(info);
	assert_int_equal(fsck_errors(f->store), 0);
	tract_free(child);
	fx_free(f);
}

static void test_spawn_empty_parent(void **state)
{
	fx *f = fx_new(NULL);
	tract *child, *again = NULL;
	tract_spawn_info *info = NULL;

	(void)state;
	child = spawn(f, NULL, "", TRACT_INHERIT_HEAD_SNAPSHOT, NULL); /* empty purpose is fine */
	assert_int_equal(log_count(child), 0);
	assert_int_equal(tract_spawn_info_get(&info, f->store, tract_id(child)), 0);
	assert_null(info->parent_commit_hash);
	tract_spawn_info_free(info);
	/* The empty child is found again (searching the whole store). */
	assert_int_equal(tract_open(&again, f->store, tract_id(child), NULL), 0);
	tract_free(again);
	tract_free(child);
	fx_free(f);
}

static void test_snapshot_truncation_keeps_pinned(void **state)
{
	fx *f = fx_new(NULL);
	tract_spawn_options o = TRACT_SPAWN_OPTIONS_INIT;
	tract *child = NULL;
	tract_context *ctx = NULL;
	const char *text;
	char longer[400];

	(void)state;
	assert_int_equal(tract_commit_create_instruction(NULL, f->t, "RULE: never guess.", NULL),
	                 0);
	for (int i = 0; i < 6; i++) {
		snprintf(longer, sizeof(longer),
		         "message %d with quite a few words in it to take up tokens", i);
		say(f->t, NULL, i % 2 ? "assistant" : "user", longer);
	}
	o.purpose = "p";
	o.max_tokens = 40;
	assert_int_equal(tract_spawn(&child, f->t, &o), 0);
	assert_int_equal(tract_context_compile(&ctx, child, NULL), 0);
	text = tract_context_content(ctx, 0);
	/* The pinned instruction survives (the reference dropped it first);
	 * the oldest dialogue goes; the newest stays. */
	assert_non_null(strstr(text, "RULE: never guess."));
	assert_null(strstr(text, "message 0 "));
	assert_non_null(strstr(text, "message 5 "));
	assert_true(tract_count(child, text, strlen(text)) <= 40);
	tract_context_free(ctx);
	tract_free(child);
	fx_free(f);
}

static int custom_validate(char **out_json, const char *content_json, char *errbuf, size_t errlen,
                           void *payload)
{
	(void)errbuf;
	(void)errlen;
	(void)payload;
	*out_json = strdup(content_json);
	return *out_json ? 0 : -1;
}

static void test_spawn_full_clone(void **state)
{
	fx *f = fx_new(NULL);
	tract *child;
	tract_context *a = NULL, *b = NULL;
	tract_commit_options eo = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit_list *l = NULL;
	tract_log_options lo = TRACT_LOG_OPTIONS_INIT;
	char h[4][65], side[65];
	size_t i;

	(void)state;
	assert_int_equal(tract_content_type_register(f->t, "note", custom_validate, NULL), 0);
	assert_int_equal(tract_commit_create_instruction(NULL, f->t, "sys", NULL), 0);
	say(f->t, h[0], "user", "one");
	say(f->t, h[1], "assistant", "two");
	say(f->t, h[2], "user", "three");
	fx_commit(f, NULL, "{\"content_type\": \"note\", \"text\": \"custom\"}", NULL);
	eo.operation = TRACT_OP_EDIT;
	eo.response_to = h[1];
	assert_int_equal(tract_commit_create_dialogue(NULL, f->t, "assistant", "TWO", NULL, &eo),
	                 0);
	assert_int_equal(tract_annotation_create(NULL, f->t, h[2], TRACT_PRIORITY_SKIP, "noise"),
	                 0);
	/* A side branch with its own commit. */
	{
		tract_store *s = f->store;
		assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
		assert_int_equal(
		    s->be->ref_cas(s->conn, f->t->id, "refs/heads/side", h[0], NULL, NULL), 0);
		assert_int_equal(
		    s->be->ref_cas(s->conn, f->t->id, "refs/tags/v1", h[1], NULL, NULL), 0);
		assert_int_equal(s->be->commit(s->conn), 0);
	}
	/* reference: full_clone failed on edits and custom types (§6.3 NOTE) */
	child = spawn(f, NULL, "clone", TRACT_INHERIT_FULL_CLONE, NULL);
	assert_int_equal(tract_context_compile(&b, child, NULL), 0);
	/* Compare with the parent as it was before its spawn commit. */
	{
		tract_compile_options co = TRACT_COMPILE_OPTIONS_INIT;
		tract_commit *spawn_c = newest(f->t);
		co.at_commit = tract_commit_parent(spawn_c);
		assert_int_equal(tract_context_compile(&a, f->t, &co), 0);
		tract_commit_free(spawn_c);
	}
	assert_int_equal(tract_context_count(a), tract_context_count(b));
	assert_int_equal(tract_context_count(a), 4); /* sys, one, TWO, note; three skipped */
	for (i = 0; i < tract_context_count(a); i++) {
		assert_string_equal(tract_context_role(a, i), tract_context_role(b, i));
		assert_string_equal(tract_context_content(a, i), tract_context_content(b, i));
	}
	assert_string_equal(tract_context_content(b, 2), "TWO");
	assert_int_equal(tract_context_token_count(a), tract_context_token_count(b));
	/* Branch and tag copied, pointing at the copies. */
	lo.start = "side";
	assert_int_equal(tract_log_list(&l, child, &lo), 0);
	assert_int_equal(l->count, 2); /* sys, one */
	tract_commit_list_free(l);
	{
		tract_ref_value tag;
		assert_int_equal(tract_ref_read(&tag, f->store, tract_id(child), "refs/tags/v1"),
		                 0);
		assert_true(tag.exists);
		memcpy(side, tag.commit, 65);
	}
	assert_string_not_equal(side, h[1]);
	{
		tract_commit *c = NULL;
		assert_int_equal(tract_commit_lookup(&c, child, side), 0);
		assert_non_null(strstr(tract_commit_content(c), "two"));
		tract_commit_free(c);
	}
	/* Custom type known to the child handle. */
	fx_commit(f, NULL, "{\"content_type\": \"note\", \"text\": \"more\"}", NULL);
	assert_int_equal(
	    tract_commit_create(NULL, child, "{\"content_type\": \"note\", \"text\": \"x\"}", NULL),
	    0);
	assert_int_equal(fsck_errors(f->store), 0);
	tract_context_free(a);
	tract_context_free(b);
	tract_free(child);
	fx_free(f);
}

static void test_spawn_selective(void **state)
{
	fx *f = fx_new(NULL);
	tract_spawn_options o = TRACT_SPAWN_OPTIONS_INIT;
	const char *types[] = {"instruction"};
	const char *commits[1];
	tract *child = NULL;
	tract_context *ctx = NULL;
	char h[3][65];

	(void)state;
	assert_int_equal(tract_commit_create_instruction(NULL, f->t, "rules", NULL), 0);
	say(f->t, h[0], "user", "chatter");
	say(f->t, h[1], "assistant", "the key finding");
	say(f->t, h[2], "user", "more chatter");
	commits[0] = h[1];
	o.purpose = "focus";
	o.inherit = TRACT_INHERIT_SELECTIVE;
	o.commits = commits;
	o.n_commits = 1;
	o.content_types = types;
	o.n_content_types = 1;
	assert_int_equal(tract_spawn(&child, f->t, &o), 0);
	assert_int_equal(tract_context_compile(&ctx, child, NULL), 0);
	assert_int_equal(tract_context_count(ctx), 2);
	assert_string_equal(tract_context_content(ctx, 0), "rules");
	assert_string_equal(tract_context_content(ctx, 1), "the key finding");
	tract_context_free(ctx);
	{
		tract_spawn_info *info = NULL;
		assert_int_equal(tract_spawn_info_get(&info, f->store, tract_id(child)), 0);
		assert_string_equal(info->inheritance_mode, "selective");
		tract_spawn_info_free(info);
	}
	assert_int_equal(fsck_errors(f->store), 0);
	tract_free(child);
	fx_free(f);
}

static void test_spawn_atomic(void **state)
{
	fx *f = fx_new(NULL);
	tract_spawn_options o = TRACT_SPAWN_OPTIONS_INIT;
	const char *bad[] = {"ffffffffff"};
	tract *child = NULL, *other = NULL;
	fx_counts before;
	char h[65];

	(void)state;
	say(f->t, h, "user", "one");
	say(f->t, NULL, "user", "two");
	before = fx_count(f);
	/* selective naming a commit that does not exist */
	o.purpose = "p";
	o.inherit = TRACT_INHERIT_SELECTIVE;
	o.commits = bad;
	o.n_commits = 1;
	assert_int_equal(tract_spawn(&child, f->t, &o), TRACT_ENOTFOUND);
	assert_null(child);
	/* an existing child id */
	assert_int_equal(tract_create(&other, f->store, "taken", NULL, NULL), 0);
	before = fx_count(f);
	o = (tract_spawn_options)TRACT_SPAWN_OPTIONS_INIT;
	o.purpose = "p";
	o.child_tract_id = "taken";
	assert_int_equal(tract_spawn(&child, f->t, &o), TRACT_EEXISTS);
	/* no purpose; unknown mode */
	o.child_tract_id = NULL;
	o.purpose = NULL;
	assert_int_equal(tract_spawn(&child, f->t, &o), TRACT_EINVAL);
	o.purpose = "p";
	o.inherit = (tract_inherit_mode)7;
	assert_int_equal(tract_spawn(&child, f->t, &o), TRACT_EINVAL);
	/* a detached parent */
	{
		tract_store *s = f->store;
		tract_ref_row exp;
		memset(&exp, 0, sizeof(exp));
		exp.symbolic_target = "refs/heads/main";
		assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
		assert_int_equal(s->be->ref_cas(s->conn, f->t->id, "HEAD", h, NULL, &exp), 0);
		assert_int_equal(s->be->commit(s->conn), 0);
		s->cache_epoch++;
	}
	before = fx_count(f);
	o.inherit = TRACT_INHERIT_FULL_CLONE;
	assert_int_equal(tract_spawn(&child, f->t, &o), TRACT_EDETACHED);
	fx_assert_same_counts(before, fx_count(f));
	assert_int_equal(spawn_rows(f), 0);
	tract_free(other);
	fx_free(f);
}

/* ---- collapse ---- */

static void test_collapse_manual_and_since(void **state)
{
	fx *f = fx_new(NULL);
	tract *child;
	tract_collapse_result *r1, *r2;
	tract_expansion *x = NULL;
	tract_commit *c;
	char ch1[65], ch2[65];
	cJSON *md;

	(void)state;
	say(f->t, NULL, "user", "delegate please");
	child = spawn(f, NULL, "research", TRACT_INHERIT_HEAD_SNAPSHOT, NULL);
	say(child, NULL, "user", "looked at A");
	say(child, ch1, "assistant", "A is fine");
	r1 = collapse_manual(f->t, tract_id(child), "Subagent completed: A checked.");
	assert_non_null(r1->parent_commit_hash);
	assert_string_equal(r1->source_head, ch1);
	assert_null(r1->since_head);
	assert_string_equal(r1->purpose, "research");
	assert_true(r1->source_tokens > 0);
	assert_int_equal(r1->summary_tokens,
	                 tract_count(f->t, r1->summary_text, strlen(r1->summary_text)));
	c = newest(f->t);
	assert_string_equal(tract_commit_hash(c), r1->parent_commit_hash);
	assert_string_equal(tract_commit_message(c), "collapse: research");
	assert_non_null(strstr(tract_commit_content(c), "\"assistant\""));
	md = cJSON_Parse(tract_commit_metadata(c));
	assert_string_equal(cJSON_GetObjectItem(md, "collapse_source_tract_id")->valuestring,
	                    tract_id(child));
	assert_string_equal(cJSON_GetObjectItem(md, "collapse_source_head")->valuestring, ch1);
	cJSON_Delete(md);
	tract_commit_free(c);

	/* Nothing new: refused. */
	{
		tract_collapse_options o = TRACT_COLLAPSE_OPTIONS_INIT;
		tract_collapse_result *r = NULL;
		fx_counts before = fx_count(f);
		o.summary = "again";
		assert_int_equal(tract_collapse(&r, f->t, tract_id(child), &o), TRACT_EINVAL);
		fx_assert_same_counts(before, fx_count(f));
	}
	/* New work: only it is summarized (reference: the whole child again). */
	say(child, ch2, "assistant", "B is broken");
	r2 = collapse_manual(f->t, tract_id(child), "Subagent completed: B broken.");
	assert_string_equal(r2->since_head, ch1);
	assert_string_equal(r2->source_head, ch2);
	assert_true(r2->source_tokens < r1->source_tokens);
	assert_int_equal(tract_expand(&x, f->store, r2->parent_commit_hash), 0);
	assert_int_equal(x->commits->count, 1);
	assert_string_equal(tract_commit_hash(x->commits->items[0]), ch2);
	assert_string_equal(x->since_head, ch1);
	tract_expansion_free(x);
	assert_int_equal(tract_expand(&x, f->store, r1->parent_commit_hash), 0);
	assert_int_equal(x->commits->count, 3); /* snapshot, A, A fine */
	assert_string_equal(x->child_tract_id, tract_id(child));
	assert_string_equal(x->purpose, "research");
	tract_expansion_free(x);
	assert_int_equal(fsck_errors(f->store), 0);
	tract_collapse_result_free(r1);
	tract_collapse_result_free(r2);
	tract_free(child);
	fx_free(f);
}

static int64_t compiled_tokens(tract *t)
{
	tract_context *ctx = NULL;
	int64_t n;

	if (tract_context_compile(&ctx, t, NULL) != 0)
		fail_msg("compile: %s", tract_error_last()->message);
	n = tract_context_token_count(ctx);
	tract_context_free(ctx);
	return n;
}

/* The span read alone (appends only) and the compiled fallback (an edit
 * in the span) count the same messages: SKIP-annotated commits out, the
 * edit's text in place of its target's. */
static void test_collapse_span_counts(void **state)
{
	fx *f = fx_new(NULL);
	tract *child, *probe = NULL;
	tract_collapse_result *r1, *r2, *r3;
	tract_commit_options eo = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;
	char skipped[65], a[65], b[65];

	(void)state;
	say(f->t, NULL, "user", "delegate please");
	child = spawn(f, NULL, "research", TRACT_INHERIT_HEAD_SNAPSHOT, NULL);
	say(child, a, "assistant", "finding one, at some length to count");
	say(child, skipped, "assistant", "noise that is skipped");
	assert_int_equal(tract_annotation_create(NULL, child, skipped, TRACT_PRIORITY_SKIP, NULL), 0);
	/* first collapse: the whole child, read along the chain */
	r1 = collapse_manual(f->t, tract_id(child), "Subagent completed: one.");
	assert_int_equal(r1->source_tokens, compiled_tokens(child));
	/* second: two appends, one skipped */
	say(child, b, "assistant", "finding two");
	say(child, skipped, "assistant", "more noise");
	assert_int_equal(tract_annotation_create(NULL, child, skipped, TRACT_PRIORITY_SKIP, NULL), 0);
	r2 = collapse_manual(f->t, tract_id(child), "Subagent completed: two.");
	/* the same as a tract holding only "finding two" */
	if (tract_create(&probe, f->store, NULL, NULL, NULL) != 0)
		fail_msg("create: %s", tract_error_last()->message);
	say(probe, NULL, "assistant", "finding two");
	assert_int_equal(r2->source_tokens, compiled_tokens(probe));
	/* third: an edit of b in the span (the compiled path): b's message
	 * with the edit's text is not new work by hash, the new append is */
	eo.operation = TRACT_OP_EDIT;
	eo.response_to = b;
	if (tract_commit_create_dialogue(&c, child, "assistant", "finding two, corrected", NULL,
					 &eo) != 0)
		fail_msg("edit: %s", tract_error_last()->message);
	tract_commit_free(c);
	say(child, NULL, "assistant", "finding three");
	r3 = collapse_manual(f->t, tract_id(child), "Subagent completed: three.");
	tract_free(probe);
	if (tract_create(&probe, f->store, NULL, NULL, NULL) != 0)
		fail_msg("create: %s", tract_error_last()->message);
	say(probe, NULL, "assistant", "finding three");
	assert_int_equal(r3->source_tokens, compiled_tokens(probe));
	tract_collapse_result_free(r1);
	tract_collapse_result_free(r2);
	tract_collapse_result_free(r3);
	tract_free(probe);
	tract_free(child);
	fx_free(f);
}

static void test_collapse_refusals(void **state)
{
	fx *f = fx_new(NULL);
	tract *child, *other = NULL;
	tract_collapse_options o = TRACT_COLLAPSE_OPTIONS_INIT;
	tract_collapse_result *r = NULL;
	fx_counts before;

	(void)state;
	say(f->t, NULL, "user", "x");
	child = spawn(f, NULL, "p", TRACT_INHERIT_HEAD_SNAPSHOT, NULL);
	assert_int_equal(tract_create(&other, f->store, "other", NULL, NULL), 0);
	say(other, NULL, "user", "y");
	before = fx_count(f);
	o.summary = "s";
	/* into must be the real parent (reference: not checked) */
	assert_int_equal(tract_collapse(&r, other, tract_id(child), &o), TRACT_EINVAL);
	assert_int_equal(tract_collapse(&r, f->t, "nochild", &o), TRACT_ENOTFOUND);
	assert_non_null(strstr(tract_error_last()->message, "No spawn pointer"));
	/* manual never calls an LLM: a summary is required */
	o.summary = NULL;
	assert_int_equal(tract_collapse(&r, f->t, tract_id(child), &o), TRACT_EINVAL);
	o.mode = TRACT_COLLAPSE_AUTONOMOUS;
	assert_int_equal(tract_collapse(&r, f->t, tract_id(child), &o), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "content or LLM client"));
	o.summary = "  \n";
	assert_int_equal(tract_collapse(&r, f->t, tract_id(child), &o), TRACT_EINVAL);
	assert_null(r);
	fx_assert_same_counts(before, fx_count(f));
	/* expand of a commit that is not a collapse */
	{
		tract_expansion *x = NULL;
		char h[65];
		head_of(other, h);
		assert_int_equal(tract_expand(&x, f->store, h), TRACT_EINVAL);
		assert_non_null(strstr(tract_error_last()->message, "not a collapse commit"));
		assert_int_equal(tract_expand(&x, f->store, "abcdabcd"), TRACT_ENOTFOUND);
		assert_int_equal(tract_expand(&x, f->store, "ab"), TRACT_EINVAL);
	}
	tract_free(other);
	tract_free(child);
	fx_free(f);
}

static void test_collapse_drafts(void **state)
{
	fx *f = fx_new(NULL);
	tract *child, *p2 = NULL;
	tract_collapse_options o = TRACT_COLLAPSE_OPTIONS_INIT;
	tract_collapse_result *d1 = NULL, *d2 = NULL, *ok = NULL, **list = NULL;
	size_t n = 0;
	fx_counts before;
	tract_commit *c;

	(void)state;
	say(f->t, NULL, "user", "go");
	child = spawn(f, NULL, "task", TRACT_INHERIT_HEAD_SNAPSHOT, NULL);
	say(child, NULL, "assistant", "did it");
	before = fx_count(f);
	o.mode = TRACT_COLLAPSE_COLLABORATIVE;
	o.summary = "draft text";
	assert_int_equal(tract_collapse(&d1, f->t, tract_id(child), &o), 0);
	assert_null(d1->parent_commit_hash);
	assert_non_null(d1->draft_id);
	fx_assert_same_counts(before, fx_count(f)); /* nothing committed */
	assert_int_equal(tract_collapse(&d2, f->t, tract_id(child), &o), 0);
	/* Another handle (another process would do the same) sees and approves it. */
	assert_int_equal(tract_open(&p2, f->store, f->t->id, NULL), 0);
	assert_int_equal(tract_collapse_draft_list(&list, &n, p2), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		tract_collapse_result_free(list[i]);
	free(list);
	assert_int_equal(tract_collapse_draft_approve(&ok, p2, d1->draft_id, "edited text"), 0);
	c = newest(f->t);
	assert_string_equal(tract_commit_hash(c), ok->parent_commit_hash);
	assert_non_null(strstr(tract_commit_content(c), "edited text"));
	tract_commit_free(c);
	tract_collapse_result_free(ok);
	ok = NULL;
	/* approved drafts are gone */
	assert_int_equal(tract_collapse_draft_approve(&ok, p2, d1->draft_id, NULL),
	                 TRACT_ENOTFOUND);
	/* d2 covered the same work: stale now */
	before = fx_count(f);
	assert_int_equal(tract_collapse_draft_approve(&ok, f->t, d2->draft_id, NULL), TRACT_ESTALE);
	fx_assert_same_counts(before, fx_count(f));
	assert_int_equal(tract_collapse_draft_discard(f->t, d2->draft_id), 0);
	assert_int_equal(tract_collapse_draft_discard(f->t, d2->draft_id), TRACT_ENOTFOUND);
	assert_int_equal(tract_collapse_draft_list(&list, &n, f->t), 0);
	assert_int_equal(n, 0);
	free(list);
	tract_collapse_result_free(d1);
	tract_collapse_result_free(d2);
	tract_free(p2);
	tract_free(child);
	fx_free(f);
}

static void test_collapse_autonomous_example(void **state)
{
	fx *f = fx_new(NULL);
	tract *child;
	tract_llm *llm = NULL;
	tract_collapse_options o = TRACT_COLLAPSE_OPTIONS_INIT;
	tract_collapse_result *r = NULL;

	(void)state;
	say(f->t, NULL, "user", "start");
	child = spawn(f, NULL, "measure latency", TRACT_INHERIT_HEAD_SNAPSHOT, NULL);
	say(child, NULL, "assistant",
	    "The p99 latency is 42 ms. The cache hit rate is 97 percent.");
	if (tract_llm_open(&llm, "example", NULL) != 0)
		fail_msg("example provider: %s", tract_error_last()->message);
	o.mode = TRACT_COLLAPSE_AUTONOMOUS;
	o.llm = llm;
	if (tract_collapse(&r, f->t, tract_id(child), &o) != 0)
		fail_msg("collapse: %s", tract_error_last()->message);
	assert_non_null(r->parent_commit_hash);
	assert_true(strncmp(r->summary_text, "Subagent completed: ", 20) == 0);
	tract_collapse_result_free(r);
	tract_llm_free(llm);
	tract_free(child);
	fx_free(f);
}

/* ---- sessions and resume ---- */

static void session(tract *t, const char *type, char out[65])
{
	tract_session_content sc = TRACT_SESSION_CONTENT_INIT;
	const char *next[] = {"step one"};
	tract_commit *c = NULL;

	sc.session_type = type;
	sc.summary = "summary";
	sc.next_steps = next;
	sc.n_next_steps = 1;
	if (tract_commit_create_session(&c, t, &sc, NULL) != 0)
		fail_msg("session: %s", tract_error_last()->message);
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static void test_session_commits(void **state)
{
	fx *f = fx_new(NULL);
	tract_session_content sc = TRACT_SESSION_CONTENT_INIT;
	tract_commit *c = NULL;
	tract_info *i;
	char h[65];

	(void)state;
	session(f->t, "start", h);
	assert_int_equal(latest_priority(f->t, h), TRACT_PRIORITY_PINNED);
	assert_int_equal(tract_commit_lookup(&c, f->t, h), 0);
	assert_string_equal(
	    tract_commit_content(c),
	    "{\"content_type\": \"session\", \"decisions\": [], \"failed_approaches\": "
	    "[], \"next_steps\": [\"step one\"], \"session_type\": \"start\", "
	    "\"summary\": \"summary\"}");
	tract_commit_free(c);
	sc.session_type = "pause";
	sc.summary = "x";
	assert_int_equal(tract_commit_create_session(NULL, f->t, &sc, NULL), TRACT_EINVAL);
	session(f->t, "end", NULL);
	i = info_of(f, f->t->id);
	assert_int_equal(i->is_active, 0);
	tract_info_free(i);
	/* a later start reopens it (reference: one end anywhere ends it forever) */
	session(f->t, "start", NULL);
	i = info_of(f, f->t->id);
	assert_int_equal(i->is_active, 1);
	tract_info_free(i);
	fx_free(f);
}

static void test_resume_rules(void **state)
{
	fx *f = fx_new(NULL);
	tract *child, *got = NULL, *root2 = NULL;

	(void)state;
	/* An empty store: nothing to resume. */
	{
		ts_store st;
		tract_store *s = NULL;
		assert_int_equal(ts_fresh(&st, "empty"), 0);
		assert_int_equal(tract_store_open(&s, st.uri, TRACT_STORE_CREATE), 0);
		assert_int_equal(tract_resume(&got, s, NULL), TRACT_ENOTFOUND);
		assert_null(got);
		tract_store_free(s);
		ts_destroy(&st);
	}
	say(f->t, NULL, "user", "root");
	child = spawn(f, NULL, "c", TRACT_INHERIT_HEAD_SNAPSHOT, NULL);
	say(child, NULL, "user", "child is newer");
	/* the newest active root wins over a newer child */
	assert_int_equal(tract_resume(&got, f->store, NULL), 0);
	assert_string_equal(tract_id(got), f->t->id);
	tract_free(got);
	/* ended root: the child */
	session(f->t, "end", NULL);
	say(child, NULL, "user", "still going");
	assert_int_equal(tract_resume(&got, f->store, NULL), 0);
	assert_string_equal(tract_id(got), tract_id(child));
	tract_free(got);
	/* a second root, older activity than the child but a root */
	assert_int_equal(tract_create(&root2, f->store, "root2", NULL, NULL), 0);
	say(root2, NULL, "user", "r2");
	say(child, NULL, "user", "child newest");
	assert_int_equal(tract_resume(&got, f->store, NULL), 0);
	assert_string_equal(tract_id(got), "root2");
	tract_free(got);
	/* after reopening the store */
	{
		tract_store *s = NULL;
		assert_int_equal(tract_store_open(&s, f->uri, 0), 0);
		assert_int_equal(tract_resume(&got, s, NULL), 0);
		assert_string_equal(tract_id(got), "root2");
		tract_free(got);
		tract_store_free(s);
	}
	tract_free(root2);
	tract_free(child);
	fx_free(f);
}

/* ---- an orchestrator with three children ---- */

static void test_orchestrator(void **state)
{
	fx *f = fx_new(NULL);
	tract *a, *b, *c, *got = NULL;
	tract_llm *llm = NULL;
	tract_collapse_options o = TRACT_COLLAPSE_OPTIONS_INIT;
	tract_collapse_result *ra, *rb = NULL;
	tract_info_list *l = NULL;
	tract_spawn_info_list *kids = NULL;
	tract_expansion *x = NULL;

	(void)state;
	session(f->t, "start", NULL);
	assert_int_equal(tract_commit_create_instruction(NULL, f->t, "Coordinate.", NULL), 0);
	say(f->t, NULL, "user", "Plan the offsite.");
	a = spawn(f, NULL, "venue", TRACT_INHERIT_HEAD_SNAPSHOT, "venue-scout");
	b = spawn(f, NULL, "agenda", TRACT_INHERIT_FULL_CLONE, "agenda-writer");
	c = spawn(f, NULL, "budget", TRACT_INHERIT_HEAD_SNAPSHOT, "budgeter");
	say(a, NULL, "assistant", "Casa do Rio fits.");
	say(b, NULL, "assistant", "Day one: workshops. Day two: hike.");
	say(c, NULL, "assistant", "Budget draft started.");
	ra = collapse_manual(f->t, tract_id(a), "Subagent completed: venue found.");
	assert_int_equal(tract_llm_open(&llm, "example", NULL), 0);
	o.mode = TRACT_COLLAPSE_AUTONOMOUS;
	o.llm = llm;
	assert_int_equal(tract_collapse(&rb, f->t, tract_id(b), &o), 0);
	session(f->t, "end", NULL);
	/* c is left running: resume picks it */
	assert_int_equal(tract_resume(&got, f->store, NULL), 0);
	assert_string_equal(tract_id(got), tract_id(c));
	say(got, NULL, "assistant", "Budget done.");
	tract_free(got);
	/* the resumed work is the running child's, after its own */
	{
		tract_context *cc = NULL;
		size_t n;

		assert_int_equal(tract_context_compile(&cc, c, NULL), 0);
		n = tract_context_count(cc);
		assert_true(n >= 2);
		assert_string_equal(tract_context_content(cc, n - 2), "Budget draft started.");
		assert_string_equal(tract_context_content(cc, n - 1), "Budget done.");
		tract_context_free(cc);
	}
	/* the manual and the provider's collapses are in the parent's history */
	assert_int_equal(tract_expand(&x, f->store, ra->parent_commit_hash), 0);
	assert_string_equal(x->child_tract_id, tract_id(a));
	tract_expansion_free(x);
	x = NULL;
	assert_int_equal(tract_store_tract_list(&l, f->store), 0);
	assert_int_equal(l->count, 4);
	for (size_t i = 0; i < l->count; i++) {
		if (strcmp(l->items[i].tract_id, f->t->id) == 0) {
			assert_int_equal(l->items[i].is_active, 0);
			assert_null(l->items[i].parent_tract_id);
		} else {
			assert_int_equal(l->items[i].is_active, 1);
			assert_string_equal(l->items[i].parent_tract_id, f->t->id);
			assert_non_null(l->items[i].display_name);
		}
	}
	tract_info_list_free(l);
	assert_int_equal(tract_spawn_children_list(&kids, f->store, f->t->id), 0);
	assert_int_equal(kids->count, 3);
	assert_string_equal(kids->items[1].inheritance_mode, "full_clone");
	tract_spawn_info_list_free(kids);
	assert_int_equal(tract_expand(&x, f->store, rb->parent_commit_hash), 0);
	assert_string_equal(x->child_tract_id, tract_id(b));
	tract_expansion_free(x);
	assert_int_equal(fsck_errors(f->store), 0);
	tract_collapse_result_free(ra);
	tract_collapse_result_free(rb);
	tract_llm_free(llm);
	tract_free(a);
	tract_free(b);
	tract_free(c);
	fx_free(f);
}

/* ---- a parent and 8 children in separate processes ---- */

#define N_KIDS 8
#define KID_COMMITS 15

/* Writer process: KID_COMMITS appends to its own child tract through its
 * own store handle (a separate connection), each hash reported on fd. */
static void kid_main(const char *uri, const char *id, int fd)
{
	tract_store *s = NULL;
	tract *t = NULL;
	char text[64];

	if (tract_store_open(&s, uri, 0) != 0 || tract_open(&t, s, id, NULL) != 0)
		_exit(2);
	for (int i = 0; i < KID_COMMITS; i++) {
		tract_commit *c = NULL;
		snprintf(text, sizeof(text), "child %.8s step %d", id, i);
		if (tract_commit_create_dialogue(&c, t, i % 2 ? "assistant" : "user", text, NULL,
		                                 NULL) != 0)
			_exit(3);
		if (write(fd, tract_commit_hash(c), 64) != 64)
			_exit(4);
		tract_commit_free(c);
	}
	tract_free(t);
	tract_store_free(s);
	_exit(0);
}

static void test_parent_and_children_processes(void **state)
{
	fx *f = fx_new(NULL);
	char ids[N_KIDS][65], parent_id[65], uri[600];
	char(*collapses)[65] = calloc(N_KIDS * (KID_COMMITS + 4), 65);
	size_t n_collapses = 0;
	pid_t pids[N_KIDS];
	int fds[N_KIDS][2], alive = N_KIDS;
	tract_store *s = NULL;
	tract *p = NULL;

	(void)state;
	assert_non_null(collapses);
	say(f->t, NULL, "user", "orchestrate");
	for (int i = 0; i < N_KIDS; i++) {
		tract *c = spawn(f, NULL, "parallel work", TRACT_INHERIT_HEAD_SNAPSHOT, NULL);
		memcpy(ids[i], tract_id(c), 65);
		tract_free(c);
	}
	memcpy(parent_id, f->t->id, 65);
	memcpy(uri, f->uri, sizeof(uri));
	/* No handle open across fork: every process opens its own. */
	tract_free(f->t);
	f->t = NULL;
	tract_store_free(f->store);
	f->store = NULL;
	for (int i = 0; i < N_KIDS; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(fds[i][0]);
			kid_main(uri, ids[i], fds[i][1]);
		}
		close(fds[i][1]);
	}
	assert_int_equal(tract_store_open(&s, uri, 0), 0);
	assert_int_equal(tract_open(&p, s, parent_id, NULL), 0);
	/* Collapse the children while they write: each takes the child's HEAD
	 * at one instant. */
	while (alive > 0) {
		for (int i = 0; i < N_KIDS; i++) {
			tract_collapse_options o = TRACT_COLLAPSE_OPTIONS_INIT;
			tract_collapse_result *r = NULL;
			int rc;
			o.summary = "Subagent completed: progress so far.";
			rc = tract_collapse(&r, p, ids[i], &o);
			if (rc == 0)
				memcpy(collapses[n_collapses++], r->parent_commit_hash, 65);
			else if (rc != TRACT_EINVAL) /* nothing new since the last one */
				fail_msg("collapse while writing: %s", tract_error_last()->message);
			tract_collapse_result_free(r);
		}
		alive = 0;
		for (int i = 0; i < N_KIDS; i++) {
			int st;
			if (pids[i] > 0) {
				pid_t w = waitpid(pids[i], &st, WNOHANG);
				if (w == pids[i]) {
					assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
					pids[i] = 0;
				} else {
					alive++;
				}
			}
		}
	}
	for (int i = 0; i < N_KIDS; i++) {
		tract_collapse_options o = TRACT_COLLAPSE_OPTIONS_INIT;
		tract_collapse_result *r = NULL;
		tract *c = NULL;
		tract_commit_list *l = NULL;
		char head[65], got[64 * KID_COMMITS + 1];
		ssize_t n = read(fds[i][0], got, sizeof(got));
		close(fds[i][0]);
		assert_int_equal(n, 64 * KID_COMMITS);
		o.summary = "Subagent completed: all done.";
		if (tract_collapse(&r, p, ids[i], &o) == 0)
			memcpy(collapses[n_collapses++], r->parent_commit_hash, 65);
		else
			assert_int_equal(tract_error_last()->code, TRACT_EINVAL);
		tract_collapse_result_free(r);
		/* Every reported commit is on the child's history. */
		assert_int_equal(tract_open(&c, s, ids[i], NULL), 0);
		assert_int_equal(tract_log_list(&l, c, NULL), 0);
		assert_int_equal(l->count, KID_COMMITS + 1); /* + the inherited snapshot */
		for (int k = 0; k < KID_COMMITS; k++)
			assert_memory_equal(tract_commit_hash(l->items[KID_COMMITS - 1 - k]),
			                    got + 64 * k, 64);
		head_of(c, head);
		tract_commit_list_free(l);
		tract_free(c);
		/* The latest collapse of the child summarized its final head. */
		{
			tract_log_options lo = TRACT_LOG_OPTIONS_INIT;
			tract_commit_list *pl = NULL;
			int seen = 0;
			assert_int_equal(tract_log_list(&pl, p, &lo), 0);
			for (size_t k = 0; k < pl->count && !seen; k++) {
				const char *md = tract_commit_metadata(pl->items[k]);
				if (md && strstr(md, ids[i])) {
					assert_non_null(strstr(md, head));
					seen = 1;
				}
			}
			assert_true(seen);
			tract_commit_list_free(pl);
		}
	}
	/* Every collapse is in the parent's history. */
	{
		tract_commit_list *pl = NULL;
		size_t found = 0;
		assert_int_equal(tract_log_list(&pl, p, NULL), 0);
		for (size_t k = 0; k < n_collapses; k++)
			for (size_t j = 0; j < pl->count; j++)
				if (strcmp(tract_commit_hash(pl->items[j]), collapses[k]) == 0) {
					found++;
					break;
				}
		assert_int_equal(found, n_collapses);
		assert_true(n_collapses >= N_KIDS);
		tract_commit_list_free(pl);
	}
	assert_int_equal(fsck_errors(s), 0);
	free(collapses);
	tract_free(p);
	f->store = s;
	fx_free(f);
}

/* ---- the reference's schema-4 fixture ---- */

static char *slurp(const char *path, size_t *len)
{
	char *d = tu_read_file(path, len);

	if (!d)
		fail_msg("cannot read %s: %s", path, strerror(errno));
	return d;
}

static void test_reference_fixture(void **state)
{
	const char *root = getenv("TRACT_FIXTURES");
	char src[1024], dir[] = "/tmp/tract-agents-XXXXXX", db[1100], uri[1200];
	char *data, *json;
	size_t len = 0;
	FILE *fp;
	cJSON *exp, *lt, *sp;
	ts_store st;
	tract_store *s = NULL;
	tract_info_list *l = NULL;
	tract *got = NULL;
	tract_expansion *x = NULL;

	(void)state;
	if (!root || !*root)
		fail_msg("TRACT_FIXTURES is unset (meson test sets it to tests/fixtures/py-tract)");
	snprintf(src, sizeof(src), "%s/v4_basic.expected.json", root);
	json = slurp(src, NULL);
	exp = cJSON_Parse(json);
	free(json);
	assert_non_null(exp);
	snprintf(src, sizeof(src), "%s/v4_basic.db", root);
	data = slurp(src, &len);
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/v4.db", dir);
	fp = fopen(db, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
	free(data);
	/* The same store on the backend under test. */
	snprintf(uri, sizeof(uri), "sqlite:%s", db);
	assert_int_equal(ts_fresh(&st, "v4"), 0);
	if (tract_store_clone(NULL, uri, st.uri, NULL) != 0)
		fail_msg("clone: %s", tract_error_last()->message);
	assert_int_equal(tract_store_open(&s, st.uri, 0), 0);

	assert_int_equal(tract_store_tract_list(&l, s), 0);
	lt = cJSON_GetObjectItem(exp, "list_tracts");
	assert_int_equal((size_t)cJSON_GetArraySize(lt), l->count);
	for (int i = 0; i < cJSON_GetArraySize(lt); i++) {
		const cJSON *e = cJSON_GetArrayItem(lt, i);
		const char *id = cJSON_GetObjectItem(e, "tract_id")->valuestring;
		const cJSON *dn = cJSON_GetObjectItem(e, "display_name"),
		            *par = cJSON_GetObjectItem(e, "parent_tract_id");
		const tract_info *in = NULL;
		tract_time t;
		for (size_t k = 0; k < l->count; k++)
			if (strcmp(l->items[k].tract_id, id) == 0)
				in = &l->items[k];
		assert_non_null(in);
		if (cJSON_IsString(dn))
			assert_string_equal(in->display_name, dn->valuestring);
		else
			assert_null(in->display_name);
		if (cJSON_IsString(par))
			assert_string_equal(in->parent_tract_id, par->valuestring);
		else
			assert_null(in->parent_tract_id);
		assert_int_equal(in->commit_count,
		                 (int64_t)cJSON_GetObjectItem(e, "commit_count")->valuedouble);
		assert_int_equal(in->is_active, cJSON_IsTrue(cJSON_GetObjectItem(e, "is_active")));
		assert_int_equal(
		    tract_time_parse(&t, cJSON_GetObjectItem(e, "latest_commit_at")->valuestring),
		    0);
		assert_int_equal(in->last_activity, t);
	}
	tract_info_list_free(l);

	sp = cJSON_GetArrayItem(cJSON_GetObjectItem(exp, "spawn_pointers"), 0);
	{
		tract_spawn_info *info = NULL;
		tract_time t;
		const char *child = cJSON_GetObjectItem(sp, "child_tract_id")->valuestring;
		assert_int_equal(tract_spawn_info_get(&info, s, child), 0);
		assert_string_equal(info->parent_tract_id,
		                    cJSON_GetObjectItem(sp, "parent_tract_id")->valuestring);
		assert_string_equal(info->parent_commit_hash,
		                    cJSON_GetObjectItem(sp, "parent_commit_hash")->valuestring);
		assert_string_equal(info->purpose, cJSON_GetObjectItem(sp, "purpose")->valuestring);
		assert_string_equal(info->inheritance_mode,
		                    cJSON_GetObjectItem(sp, "inheritance_mode")->valuestring);
		assert_string_equal(info->display_name,
		                    cJSON_GetObjectItem(sp, "display_name")->valuestring);
		assert_int_equal(
		    tract_time_parse(&t, cJSON_GetObjectItem(sp, "created_at")->valuestring), 0);
		assert_int_equal(info->created_at, t);
		tract_spawn_info_free(info);

		/* The orchestrator ended: resume gives the child. */
		assert_int_equal(tract_resume(&got, s, NULL), 0);
		assert_string_equal(tract_id(got), child);
		tract_free(got);

		/* The collapse commit (the assistant message after the spawn
		 * commit in the orchestrator's compiled context) expands to the
		 * child. */
		{
			const cJSON *tr = cJSON_GetArrayItem(cJSON_GetObjectItem(exp, "tracts"), 0);
			const cJSON *hashes = cJSON_GetObjectItem(
			    cJSON_GetObjectItem(cJSON_GetObjectItem(tr, "head_result"), "compile"),
			    "commit_hashes");
			const char *collapse = cJSON_GetArrayItem(hashes, 4)->valuestring;
			assert_int_equal(tract_expand(&x, s, collapse), 0);
			assert_string_equal(x->child_tract_id, child);
			assert_string_equal(x->purpose, "find venue options");
			assert_non_null(x->source_head);
			assert_true(x->commits->count >= 1);
			assert_string_equal(tract_commit_hash(x->commits->items[0]),
			                    x->source_head);
			assert_null(tract_commit_parent(x->commits->items[x->commits->count - 1]));
			tract_expansion_free(x);
		}
		/* Every tract compiles to what the reference reported: its
		 * session commits (start, end), the spawn and collapse commits
		 * and the child's inherited snapshot, on this backend. */
		for (int k = 0; k < cJSON_GetArraySize(cJSON_GetObjectItem(exp, "tracts")); k++) {
			const cJSON *tr = cJSON_GetArrayItem(cJSON_GetObjectItem(exp, "tracts"), k);
			const cJSON *cm = cJSON_GetObjectItem(cJSON_GetObjectItem(tr, "head_result"),
			                                      "compile");
			const cJSON *msgs = cJSON_GetObjectItem(cm, "messages");
			tract *tt = NULL;
			tract_context *ctx = NULL;

			assert_int_equal(tract_open(&tt, s, cJSON_GetObjectItem(tr, "tract_id")->valuestring,
			                            NULL),
			                 0);
			assert_int_equal(tract_context_compile(&ctx, tt, NULL), 0);
			assert_int_equal(tract_context_count(ctx), (size_t)cJSON_GetArraySize(msgs));
			for (int m = 0; m < cJSON_GetArraySize(msgs); m++) {
				const cJSON *e = cJSON_GetArrayItem(msgs, m);
				assert_string_equal(tract_context_role(ctx, (size_t)m),
				                    cJSON_GetObjectItem(e, "role")->valuestring);
				assert_string_equal(tract_context_content(ctx, (size_t)m),
				                    cJSON_GetObjectItem(e, "content")->valuestring);
				assert_string_equal(tract_context_commit_hash(ctx, (size_t)m),
				                    cJSON_GetArrayItem(cJSON_GetObjectItem(cm, "commit_hashes"),
				                                       m)->valuestring);
			}
			tract_context_free(ctx);
			tract_free(tt);
		}
	}
	tract_store_free(s);
	ts_destroy(&st);
	tu_remove_dir(dir);
	cJSON_Delete(exp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_display_names_persisted),
	    cmocka_unit_test(test_ancestry),
	    cmocka_unit_test(test_spawn_head_snapshot),
	    cmocka_unit_test(test_spawn_empty_parent),
	    cmocka_unit_test(test_snapshot_truncation_keeps_pinned),
	    cmocka_unit_test(test_spawn_full_clone),
	    cmocka_unit_test(test_spawn_selective),
	    cmocka_unit_test(test_spawn_atomic),
	    cmocka_unit_test(test_collapse_manual_and_since),
	    cmocka_unit_test(test_collapse_span_counts),
	    cmocka_unit_test(test_collapse_refusals),
	    cmocka_unit_test(test_collapse_drafts),
	    cmocka_unit_test(test_collapse_autonomous_example),
	    cmocka_unit_test(test_session_commits),
	    cmocka_unit_test(test_resume_rules),
	    cmocka_unit_test(test_orchestrator),
	    cmocka_unit_test(test_reference_fixture),
	    cmocka_unit_test(test_parent_and_children_processes),
	};
	int rc = ts_init("agents");

	if (rc)
		return rc;
	return ts_run("agents", tests, TS_COUNT(tests), NULL, 0);
}
