/*
 * test_compact.c - tool-result compaction and the token budget (issue 13
 * items 2 and 3) on the backend of TRACT_TEST_BACKEND: old results
 * stubbed by edit commits keeping tool, call id and status, request bodies
 * still pairing every call with its result, failed pairs dropped together,
 * the originals kept, reruns doing nothing, dry runs and failures writing
 * nothing; the budget persisted per tract; the auto-compact policy writing
 * compaction only when it gets a commit under the budget.
 */
#include "helpers.h"

#include "tract/compact.h"
#include "tract/refs.h"

/* A long result text: "first line N" then many lines. */
static char *long_text(int n)
{
	tract_buf b = TRACT_BUF_INIT;

	assert_int_equal(tract_buf_printf(&b, "first line %d", n), 0);
	for (int i = 0; i < 60; i++)
		assert_int_equal(tract_buf_printf(&b, "\nrow %d of result %d: lorem ipsum dolor", i, n), 0);
	return tract_buf_detach(&b);
}

static void call(fx *f, char out[65], const char *tool, const char *id)
{
	char json[512];

	snprintf(json, sizeof(json),
		 "{\"content_type\": \"tool_io\", \"direction\": \"call\", \"tool_name\": \"%s\", "
		 "\"call_id\": \"%s\", \"payload\": {\"q\": \"x\"}}",
		 tool, id);
	fx_commit(f, out, json, NULL);
}

static void result(fx *f, char out[65], const char *tool, const char *id, const char *status,
		   const char *text)
{
	cJSON *o = cJSON_CreateObject(), *p;
	char *json;

	cJSON_AddStringToObject(o, "content_type", "tool_io");
	cJSON_AddStringToObject(o, "direction", "result");
	cJSON_AddStringToObject(o, "tool_name", tool);
	if (id)
		cJSON_AddStringToObject(o, "call_id", id);
	if (status)
		cJSON_AddStringToObject(o, "status", status);
	p = cJSON_AddObjectToObject(o, "payload");
	cJSON_AddStringToObject(p, "text", text);
	json = cJSON_PrintUnformatted(o);
	fx_commit(f, out, json, NULL);
	free(json);
	cJSON_Delete(o);
}

/* user; then turns t = 0..3, each a call and its (long) result; turn 1's
 * result failed; then an assistant reply (a fifth turn). */
typedef struct {
	char user[65], calls[4][65], results[4][65], reply[65];
} agent;

static void agent_history(fx *f, agent *a)
{
	fx_say(f, a->user, "user", "find the bug");
	for (int i = 0; i < 4; i++) {
		char id[16], *text = long_text(i);
		snprintf(id, sizeof(id), "c%d", i);
		call(f, a->calls[i], i == 1 ? "ls" : "grep", id);
		result(f, a->results[i], i == 1 ? "ls" : "grep", id, i == 1 ? "error" : "success",
		       text);
		free(text);
	}
	fx_say(f, a->reply, "assistant", "found it");
}

static tract_compact_result *compact(fx *f, unsigned keep, int drop_failed, int dry_run)
{
	tract_compact_options o = TRACT_COMPACT_OPTIONS_INIT;
	tract_compact_result *r = NULL;

	o.keep_last_turns = keep;
	o.drop_failed = drop_failed;
	o.dry_run = dry_run;
	if (tract_compact_tools(&r, f->t, &o) != 0)
		fail_msg("compact: %s", tract_error_last()->message);
	return r;
}

static const tract_msg *msg_of(const tract_context *ctx, const char *hash)
{
	for (size_t i = 0; i < ctx->count; i++)
		if (strcmp(tract_context_msg(ctx, i)->hash, hash) == 0)
			return tract_context_msg(ctx, i);
	return NULL;
}

static size_t count_str(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void test_old_results_stubbed(void **state)
{
	fx *f = fx_new(NULL);
	tract_compact_result *r;
	tract_context *before, *after;
	tract_commit *orig = NULL;
	char *body = NULL;
	agent a;

	(void)state;
	agent_history(f, &a);
	before = fx_compile(f, NULL);
	/* Turns: call0, call1, call2, call3, reply: the last two are call3's
	 * and the reply, so results 0, 1, 2 are old. */
	r = compact(f, 2, 0, 0);
	assert_int_equal(r->compacted, 3);
	assert_int_equal(r->dropped, 0);
	assert_int_equal(r->n_edits, 3);
	assert_string_equal(r->targets[0], a.results[0]);
	assert_string_equal(r->targets[1], a.results[1]);
	assert_string_equal(r->targets[2], a.results[2]);
	after = fx_compile(f, NULL);
	assert_int_equal(after->count, before->count);
	assert_int_equal(r->tokens_before, before->token_count);
	assert_int_equal(r->tokens_after, after->token_count);
	assert_true(after->token_count < before->token_count / 2);
	for (int i = 0; i < 3; i++) {
		const tract_msg *m = msg_of(after, a.results[i]);
		char want[64];
		assert_non_null(m);
		assert_int_equal(m->kind, TRACT_MSG_TOOL_RESULT);
		assert_string_equal(m->tool_name, i == 1 ? "ls" : "grep");
		snprintf(want, sizeof(want), "c%d", i);
		assert_string_equal(m->call_id, want);
		assert_string_equal(m->status, i == 1 ? "error" : "success");
		snprintf(want, sizeof(want), TRACT_COMPACT_STUB_PREFIX ": first line %d]", i);
		assert_non_null(strstr(m->tool_body, want));
		assert_non_null(strstr(m->tool_body, "bytes)"));
		assert_null(strstr(m->tool_body, "row 1 of"));
	}
	/* The kept turn's result is untouched. */
	assert_non_null(strstr(msg_of(after, a.results[3])->tool_body, "row 59 of result 3"));
	/* Every call keeps its result in the request body. */
	assert_int_equal(tract_context_render(&body, after, TRACT_FORMAT_OPENAI), 0);
	assert_int_equal(count_str(body, "\"tool_call_id\""), 4);
	assert_int_equal(count_str(body, "\"tool_calls\""), 4);
	tract_string_free(body);
	/* The original stays in history. */
	assert_int_equal(tract_commit_lookup(&orig, f->t, a.results[0]), 0);
	assert_non_null(strstr(tract_commit_content(orig), "row 59 of result 0"));
	tract_commit_free(orig);
	/* The edits name their originals. */
	assert_int_equal(tract_commit_lookup(&orig, f->t, r->edits[0]), 0);
	assert_int_equal(tract_commit_operation(orig), TRACT_OP_EDIT);
	assert_string_equal(tract_commit_response_to(orig), a.results[0]);
	tract_commit_free(orig);
	tract_compact_result_free(r);
	tract_context_free(before);
	tract_context_free(after);
	fx_free(f);
}

static void test_rerun_does_nothing(void **state)
{
	fx *f = fx_new(NULL);
	tract_compact_result *r;
	fx_counts c0;
	agent a;

	(void)state;
	agent_history(f, &a);
	tract_compact_result_free(compact(f, 0, 0, 0));
	c0 = fx_count(f);
	r = compact(f, 0, 0, 0);
	assert_int_equal(r->compacted, 0);
	assert_int_equal(r->n_edits, 0);
	assert_int_equal(r->tokens_before, r->tokens_after);
	fx_assert_same_counts(c0, fx_count(f));
	tract_compact_result_free(r);
	fx_free(f);
}

static void test_dry_run_writes_nothing(void **state)
{
	fx *f = fx_new(NULL);
	tract_compact_result *dry, *real;
	fx_counts c0;
	char *json = NULL;
	agent a;

	(void)state;
	agent_history(f, &a);
	c0 = fx_count(f);
	dry = compact(f, 1, 1, 1);
	fx_assert_same_counts(c0, fx_count(f));
	assert_int_equal(dry->n_edits, 0);
	real = compact(f, 1, 1, 0);
	assert_int_equal(dry->compacted, real->compacted);
	assert_int_equal(dry->dropped, real->dropped);
	assert_int_equal(dry->tokens_after, real->tokens_after);
	assert_int_equal(dry->n_targets, real->n_targets);
	assert_int_equal(tract_compact_result_to_json(&json, dry, 1), 0);
	assert_non_null(strstr(json, "\"dry_run\":true"));
	assert_non_null(strstr(json, "\"compacted\":3"));
	assert_non_null(strstr(json, a.results[0]));
	tract_string_free(json);
	tract_compact_result_free(dry);
	tract_compact_result_free(real);
	fx_free(f);
}

static void test_drop_failed_pairs(void **state)
{
	fx *f = fx_new(NULL);
	tract_compact_result *r;
	tract_context *ctx;
	fx_counts c0;
	char *body = NULL;
	agent a;

	(void)state;
	agent_history(f, &a);
	c0 = fx_count(f);
	r = compact(f, 2, 1, 0);
	assert_int_equal(r->compacted, 2); /* results 0 and 2 */
	assert_int_equal(r->dropped, 2);   /* call 1 and result 1 */
	assert_int_equal(fx_count(f).annotations, c0.annotations + 2);
	assert_int_equal(fx_count(f).commits, c0.commits + 2);
	ctx = fx_compile(f, NULL);
	assert_null(msg_of(ctx, a.calls[1]));
	assert_null(msg_of(ctx, a.results[1]));
	assert_non_null(msg_of(ctx, a.calls[0]));
	assert_int_equal(r->tokens_after, ctx->token_count);
	assert_int_equal(tract_context_render(&body, ctx, TRACT_FORMAT_ANTHROPIC), 0);
	assert_int_equal(count_str(body, "\"tool_use_id\""), 3);
	assert_int_equal(count_str(body, "\"tool_use\""), 3);
	assert_null(strstr(body, "\"is_error\""));
	tract_string_free(body);
	tract_context_free(ctx);
	tract_compact_result_free(r);
	fx_free(f);
}

/* The N edits of a compaction are written as one batch whose snapshot is
 * derived once from the context at HEAD: what the handle caches for the
 * new HEAD must be what a full compile of it gives (verify_cache checks
 * every hit against one), with drops between the edits, an earlier edit
 * that set a generation config (the stub shows the original's config),
 * and the edits chained one on the other, the last one HEAD. */
static void test_batch_snapshot_is_a_full_compile(void **state)
{
	tract_open_options oo = TRACT_OPEN_OPTIONS_INIT;
	tract_commit_options co = TRACT_COMMIT_OPTIONS_INIT;
	tract_compact_result *r;
	tract_context *ctx, *cold;
	tract_commit *c = NULL;
	tract *t2 = NULL;
	char edit[65], head[65], *json;
	cJSON *o, *p;
	fx *f;
	agent a;

	(void)state;
	oo.verify_cache = 1;
	f = fx_new(&oo);
	agent_history(f, &a);
	/* Result 2 edited with a config of its own before the compaction. */
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "content_type", "tool_io");
	cJSON_AddStringToObject(o, "direction", "result");
	cJSON_AddStringToObject(o, "tool_name", "grep");
	cJSON_AddStringToObject(o, "call_id", "c2");
	cJSON_AddStringToObject(o, "status", "success");
	p = cJSON_AddObjectToObject(o, "payload");
	json = long_text(22);
	cJSON_AddStringToObject(p, "text", json);
	free(json);
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	co.operation = TRACT_OP_EDIT;
	co.response_to = a.results[2];
	co.generation_config_json = "{\"temperature\": 0.25}";
	fx_commit(f, edit, json, &co);
	free(json);
	ctx = fx_compile(f, NULL); /* cached: the compaction derives from it */
	assert_string_equal(msg_of(ctx, a.results[2])->config, "{\"temperature\": 0.25}");
	tract_context_free(ctx);

	r = compact(f, 2, 1, 0); /* stub 0, drop call 1 and result 1, stub 2 */
	assert_int_equal(r->compacted, 2);
	assert_int_equal(r->dropped, 2);
	assert_int_equal(r->n_edits, 2);
	/* Chained: the second edit's parent is the first, HEAD the second. */
	assert_int_equal(tract_commit_lookup(&c, f->t, r->edits[1]), 0);
	assert_string_equal(tract_commit_parent(c), r->edits[0]);
	tract_commit_free(c);
	assert_int_equal(tract_commit_lookup(&c, f->t, r->edits[0]), 0);
	assert_string_equal(tract_commit_parent(c), edit);
	tract_commit_free(c);
	assert_int_equal(tract_revision_resolve(head, f->t, "HEAD"), 0);
	assert_string_equal(head, r->edits[1]);
	/* The cached snapshot (verified against a full compile). */
	assert_non_null(tract_cache_get(f->t->cache, head));
	ctx = fx_compile(f, NULL);
	assert_int_equal(r->tokens_after, ctx->token_count);
	assert_null(msg_of(ctx, a.calls[1]));
	assert_null(msg_of(ctx, a.results[1]));
	assert_non_null(strstr(msg_of(ctx, a.results[2])->tool_body, ": first line 22]"));
	assert_string_equal(msg_of(ctx, a.results[2])->config, "{}");
	/* And a handle that never saw it compiles the same. */
	assert_int_equal(tract_open(&t2, f->store, tract_id(f->t), NULL), 0);
	assert_int_equal(tract_context_compile(&cold, t2, NULL), 0);
	assert_int_equal(cold->count, ctx->count);
	assert_int_equal(cold->token_count, ctx->token_count);
	for (size_t i = 0; i < ctx->count; i++) {
		assert_string_equal(tract_context_msg(cold, i)->hash, tract_context_msg(ctx, i)->hash);
		assert_int_equal(tract_context_msg(cold, i)->tokens, tract_context_msg(ctx, i)->tokens);
	}
	tract_context_free(cold);
	tract_free(t2);
	tract_context_free(ctx);
	tract_compact_result_free(r);
	fx_free(f);
}

static void test_sizes(void **state)
{
	tract_compact_options o = TRACT_COMPACT_OPTIONS_INIT;
	tract_compact_result *r = NULL;
	fx *f = fx_new(NULL);
	char c[65], small[65], big[65], *text = long_text(9);

	(void)state;
	fx_say(f, NULL, "user", "go");
	call(f, c, "t", "a1");
	result(f, small, "t", "a1", NULL, "ok"); /* a stub would be longer */
	call(f, c, "t", "a2");
	result(f, big, "t", "a2", NULL, text);
	/* min_bytes above the big result: nothing. */
	o.keep_last_turns = 0;
	o.min_bytes = strlen(text) + 1;
	assert_int_equal(tract_compact_tools(&r, f->t, &o), 0);
	assert_int_equal(r->compacted, 0);
	tract_compact_result_free(r);
	/* Everything kept by turns, but max_bytes reaches into them. */
	o.keep_last_turns = 10;
	o.min_bytes = 0;
	o.max_bytes = 100;
	assert_int_equal(tract_compact_tools(&r, f->t, &o), 0);
	assert_int_equal(r->compacted, 1);
	assert_string_equal(r->targets[0], big);
	tract_compact_result_free(r);
	/* The small result is never stubbed. */
	o.keep_last_turns = 0;
	o.max_bytes = 0;
	assert_int_equal(tract_compact_tools(&r, f->t, &o), 0);
	assert_int_equal(r->compacted, 0);
	tract_compact_result_free(r);
	free(text);
	fx_free(f);
}

static void test_refusals(void **state)
{
	tract_compact_options o = TRACT_COMPACT_OPTIONS_INIT;
	tract_compact_result *r = (tract_compact_result *)1;
	fx *f = fx_new(NULL);
	fx_counts c0;
	agent a;

	(void)state;
	/* Empty tract: nothing to do. */
	assert_int_equal(tract_compact_tools(&r, f->t, NULL), 0);
	assert_int_equal(r->compacted + r->dropped, 0);
	tract_compact_result_free(r);
	agent_history(f, &a);
	o.version = 99;
	assert_int_equal(tract_compact_tools(&r, f->t, &o), TRACT_EINVAL);
	assert_null(r);
	assert_int_equal(tract_checkout(NULL, f->t, a.results[2]), 0);
	c0 = fx_count(f);
	assert_int_equal(tract_compact_tools(&r, f->t, NULL), TRACT_EDETACHED);
	assert_null(r);
	fx_assert_same_counts(c0, fx_count(f));
	fx_free(f);
}

/* ---- the budget ---------------------------------------------------------------- */

static void test_budget_persisted(void **state)
{
	fx *f = fx_new(NULL);
	tract_status *st = NULL;
	tract *t2 = NULL;

	(void)state;
	fx_say(f, NULL, "user", "hello");
	assert_int_equal(tract_budget_set(f->t, 500, TRACT_BUDGET_WARN, NULL, NULL, 1), 0);
	assert_int_equal(tract_budget_policy_set(f->t, TRACT_BUDGET_POLICY_AUTO_COMPACT, 1), 0);
	assert_int_equal(tract_open(&t2, f->store, f->t->id, NULL), 0);
	assert_int_equal(tract_status_get(&st, t2), 0);
	assert_int_equal(st->max_tokens, 500);
	assert_true(st->token_count > 0);
	assert_int_equal(tract_budget_policy_get(t2), TRACT_BUDGET_POLICY_AUTO_COMPACT);
	tract_status_free(st);
	tract_free(t2);
	/* A budget not persisted stays with its handle. */
	assert_int_equal(tract_budget_set(f->t, 7, TRACT_BUDGET_WARN, NULL, NULL, 0), 0);
	assert_int_equal(tract_open(&t2, f->store, f->t->id, NULL), 0);
	assert_int_equal(tract_status_get(&st, t2), 0);
	assert_int_equal(st->max_tokens, 500);
	tract_status_free(st);
	tract_free(t2);
	/* Off, persisted. */
	assert_int_equal(tract_budget_set(f->t, -1, TRACT_BUDGET_WARN, NULL, NULL, 1), 0);
	assert_int_equal(tract_budget_policy_set(f->t, TRACT_BUDGET_POLICY_NONE, 1), 0);
	assert_int_equal(tract_open(&t2, f->store, f->t->id, NULL), 0);
	assert_int_equal(tract_status_get(&st, t2), 0);
	assert_int_equal(st->max_tokens, -1);
	assert_int_equal(tract_budget_policy_get(t2), TRACT_BUDGET_POLICY_NONE);
	tract_status_free(st);
	tract_free(t2);
	assert_int_equal(tract_budget_policy_set(f->t, (tract_budget_policy)7, 0), TRACT_EINVAL);
	fx_free(f);
}

static void test_policy_compacts_to_fit(void **state)
{
	fx *f = fx_new(NULL);
	tract_context *ctx;
	tract_commit *c = NULL;
	fx_counts c0;
	int64_t before;
	agent a;

	(void)state;
	agent_history(f, &a);
	ctx = fx_compile(f, NULL);
	before = ctx->token_count;
	tract_context_free(ctx);
	/* Without the policy, a reject budget refuses and writes nothing. */
	assert_int_equal(tract_budget_set(f->t, before / 2, TRACT_BUDGET_REJECT, NULL, NULL, 0), 0);
	c0 = fx_count(f);
	assert_int_equal(tract_commit_create_dialogue(&c, f->t, "user", "next", NULL, NULL),
			 TRACT_EBUDGET);
	fx_assert_same_counts(c0, fx_count(f));
	/* With it, old results are compacted first, then the commit. */
	assert_int_equal(tract_budget_policy_set(f->t, TRACT_BUDGET_POLICY_AUTO_COMPACT, 0), 0);
	assert_int_equal(tract_commit_create_dialogue(&c, f->t, "user", "next", NULL, NULL), 0);
	ctx = fx_compile(f, NULL);
	assert_true(ctx->token_count <= before / 2);
	assert_string_equal(tract_context_msg(ctx, ctx->count - 1)->hash, tract_commit_hash(c));
	assert_non_null(strstr(msg_of(ctx, a.results[0])->tool_body, TRACT_COMPACT_STUB_PREFIX));
	assert_true(fx_count(f).commits > c0.commits + 1);
	tract_context_free(ctx);
	tract_commit_free(c);
	fx_free(f);
}

static void test_policy_cannot_fit_writes_nothing(void **state)
{
	fx *f = fx_new(NULL);
	tract_commit *c = NULL;
	fx_counts c0;
	agent a;

	(void)state;
	agent_history(f, &a);
	assert_int_equal(tract_budget_set(f->t, 20, TRACT_BUDGET_REJECT, NULL, NULL, 0), 0);
	assert_int_equal(tract_budget_policy_set(f->t, TRACT_BUDGET_POLICY_AUTO_COMPACT, 0), 0);
	c0 = fx_count(f);
	assert_int_equal(tract_commit_create_dialogue(&c, f->t, "user", "next", NULL, NULL),
			 TRACT_EBUDGET);
	assert_null(c);
	fx_assert_same_counts(c0, fx_count(f));
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_old_results_stubbed),
	    cmocka_unit_test(test_rerun_does_nothing),
	    cmocka_unit_test(test_dry_run_writes_nothing),
	    cmocka_unit_test(test_drop_failed_pairs),
	    cmocka_unit_test(test_batch_snapshot_is_a_full_compile),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_budget_persisted),
	    cmocka_unit_test(test_policy_compacts_to_fit),
	    cmocka_unit_test(test_policy_cannot_fit_writes_nothing),
	};
	int rc = ts_init("compact");

	if (rc)
		return rc;
	return ts_run("compact", tests, TS_COUNT(tests), NULL, 0);
}
