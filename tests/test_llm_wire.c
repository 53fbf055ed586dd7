/*
 * test_llm_wire.c - the core's own LLM calls (the --llm resolver of merge,
 * cherry-pick and rebase; autonomous collapse; LLM compression) through the
 * real HTTP plugins, openai and anthropic, against the scripted loopback
 * server (mock_llm.c), on the backend of TRACT_TEST_BACKEND. Each call
 * succeeds, the body the server received is valid for the provider's
 * published request schema and pairing rules (schema_check.h), holds the
 * prompt the spec gives (history.md / agents.md), the answer is what is
 * committed, and a failing provider writes nothing. And the request
 * builder they share (tract_llm_chat_messages, core/llm.h): the order and
 * roles of the messages in each wire format, anthropic's system messages
 * joined, and what it cannot render refused before any request.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "helpers.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "llm.h"
#include "mock_llm.h"
#include "schema_check.h"
#include "tract/agents.h"
#include "tract/compress.h"
#include "tract/llm.h"
#include "tract/llm_resolver.h"

#define KEY "sk-llm-wire-SECRET-77"

typedef struct {
	const char *name, *schema, *path;
	int (*rules)(const char *, char *, size_t);
} wire;

static const wire openai = {"openai", "openai-chat.schema.json", "/chat/completions",
                            openai_rules};
static const wire anthropic = {"anthropic", "anthropic-messages.schema.json", "/v1/messages",
                               anthropic_rules};

/* ---- replies ------------------------------------------------------------------ */

static char reply_bufs[8][2048];
static size_t reply_next;

/* A whole (not streamed) text reply of w's API carrying text. */
static mock_response reply(const wire *w, const char *text)
{
	mock_response r;
	char *b = reply_bufs[reply_next++ % 8];
	cJSON *o = cJSON_CreateObject(), *c, *m;
	char *s;

	assert_non_null(o);
	if (w == &openai) {
		cJSON_AddStringToObject(o, "id", "chatcmpl-1");
		cJSON_AddStringToObject(o, "object", "chat.completion");
		cJSON_AddStringToObject(o, "model", "wire-model-1");
		c = cJSON_AddArrayToObject(o, "choices");
		m = cJSON_CreateObject();
		cJSON_AddItemToArray(c, m);
		cJSON_AddNumberToObject(m, "index", 0);
		cJSON_AddStringToObject(m, "finish_reason", "stop");
		m = cJSON_AddObjectToObject(m, "message");
		cJSON_AddStringToObject(m, "role", "assistant");
		cJSON_AddStringToObject(m, "content", text);
		m = cJSON_AddObjectToObject(o, "usage");
		cJSON_AddNumberToObject(m, "prompt_tokens", 20);
		cJSON_AddNumberToObject(m, "completion_tokens", 5);
		cJSON_AddNumberToObject(m, "total_tokens", 25);
	} else {
		cJSON_AddStringToObject(o, "id", "msg_1");
		cJSON_AddStringToObject(o, "type", "message");
		cJSON_AddStringToObject(o, "role", "assistant");
		cJSON_AddStringToObject(o, "model", "wire-model-1");
		c = cJSON_AddArrayToObject(o, "content");
		m = cJSON_CreateObject();
		cJSON_AddItemToArray(c, m);
		cJSON_AddStringToObject(m, "type", "text");
		cJSON_AddStringToObject(m, "text", text);
		cJSON_AddStringToObject(o, "stop_reason", "end_turn");
		cJSON_AddNullToObject(o, "stop_sequence");
		m = cJSON_AddObjectToObject(o, "usage");
		cJSON_AddNumberToObject(m, "input_tokens", 20);
		cJSON_AddNumberToObject(m, "output_tokens", 5);
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	assert_non_null(s);
	assert_true(strlen(s) < 2048);
	strcpy(b, s);
	free(s);
	memset(&r, 0, sizeof(r));
	r.body = b;
	return r;
}

static mock_response failure(void)
{
	mock_response r;

	memset(&r, 0, sizeof(r));
	r.status = 500;
	r.body = "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"overloaded\"}}";
	return r;
}

static tract_llm *open_llm(const wire *w, mock_llm *m)
{
	tract_provider_option opts[2];
	tract_llm_options lo = TRACT_LLM_OPTIONS_INIT;
	tract_llm *llm = NULL;

	opts[0] = (tract_provider_option){"base_url", mock_url(m)};
	opts[1] = (tract_provider_option){"api_key", KEY};
	lo.options = opts;
	lo.n_options = 2;
	lo.max_retries = 0;
	if (tract_llm_open(&llm, w->name, &lo) != 0)
		fail_msg("open %s: %s", w->name, tract_error_last()->message);
	return llm;
}

/* ---- the bodies the server received --------------------------------------------- */

typedef struct {
	char *system, *user; /* the system prompt and the one user message */
	char *model;
	int has_temperature;
	double temperature;
	int64_t max_tokens; /* -1 = absent */
} sent;

static void sent_free(sent *s)
{
	free(s->system);
	free(s->user);
	free(s->model);
	memset(s, 0, sizeof(*s));
}

/*
 * Request i: a POST to w's path without the key in its body; the plugin's
 * members taken out, the rest valid for the schema and the rules; exactly
 * [system, user] (openai: two messages; anthropic: "system" and one user
 * message), both plain text.
 */
static sent body_of(mock_llm *m, const wire *w, size_t i)
{
	static const char *const added[] = {"model", "max_tokens", "tools", "tool_choice",
	                                    "stream", "stream_options", "temperature"};
	const mock_request *q = mock_request_get(m, i);
	cJSON *d, *msgs, *x;
	char why[512], *rest;
	sent s;

	memset(&s, 0, sizeof(s));
	s.max_tokens = -1;
	assert_non_null(q);
	assert_string_equal(q->method, "POST");
	assert_non_null(strstr(q->path, w->path));
	assert_null(strstr(q->body, KEY));
	d = cJSON_Parse(q->body);
	assert_non_null(d);
	x = cJSON_GetObjectItemCaseSensitive(d, "model");
	assert_true(cJSON_IsString(x) && x->valuestring[0]);
	s.model = strdup(x->valuestring);
	x = cJSON_GetObjectItemCaseSensitive(d, "temperature");
	if (x) {
		assert_true(cJSON_IsNumber(x));
		s.has_temperature = 1;
		s.temperature = x->valuedouble;
	}
	x = cJSON_GetObjectItemCaseSensitive(d, "max_tokens");
	if (x) {
		assert_true(cJSON_IsNumber(x));
		s.max_tokens = (int64_t)x->valuedouble;
	}
	if (w == &anthropic)
		assert_true(s.max_tokens >= 1);
	x = cJSON_GetObjectItemCaseSensitive(d, "stream");
	assert_true(!x || cJSON_IsFalse(x));
	assert_null(cJSON_GetObjectItemCaseSensitive(d, "tools"));
	for (size_t k = 0; k < sizeof(added) / sizeof(added[0]); k++)
		cJSON_DeleteItemFromObjectCaseSensitive(d, added[k]);
	rest = cJSON_PrintUnformatted(d);
	assert_non_null(rest);
	if (!schema_valid(w->schema, rest, why, sizeof(why)))
		fail_msg("%s request %zu refused by the schema (%s): %s", w->name, i, why, q->body);
	if (!w->rules(rest, why, sizeof(why)))
		fail_msg("%s request %zu breaks a rule (%s): %s", w->name, i, why, q->body);
	free(rest);
	msgs = cJSON_GetObjectItemCaseSensitive(d, "messages");
	if (w == &openai) {
		cJSON *sy = cJSON_GetArrayItem(msgs, 0), *u = cJSON_GetArrayItem(msgs, 1);

		assert_int_equal(cJSON_GetArraySize(msgs), 2);
		assert_string_equal(cJSON_GetObjectItemCaseSensitive(sy, "role")->valuestring,
		                    "system");
		assert_string_equal(cJSON_GetObjectItemCaseSensitive(u, "role")->valuestring, "user");
		x = cJSON_GetObjectItemCaseSensitive(sy, "content");
		assert_true(cJSON_IsString(x));
		s.system = strdup(x->valuestring);
		x = cJSON_GetObjectItemCaseSensitive(u, "content");
		assert_true(cJSON_IsString(x));
		s.user = strdup(x->valuestring);
	} else {
		cJSON *u = cJSON_GetArrayItem(msgs, 0);

		assert_int_equal(cJSON_GetArraySize(msgs), 1);
		x = cJSON_GetObjectItemCaseSensitive(d, "system");
		assert_true(cJSON_IsString(x));
		s.system = strdup(x->valuestring);
		assert_string_equal(cJSON_GetObjectItemCaseSensitive(u, "role")->valuestring, "user");
		x = cJSON_GetObjectItemCaseSensitive(u, "content");
		assert_true(cJSON_IsString(x));
		s.user = strdup(x->valuestring);
	}
	cJSON_Delete(d);
	assert_non_null(s.system);
	assert_non_null(s.user);
	return s;
}

static void assert_has(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("'%s' lacks '%s'", hay ? hay : "(null)", needle);
}

/* The compiled messages joined as "content|content|..." (owned). */
static char *compiled(tract *t)
{
	tract_context *ctx = NULL;
	tract_buf b = TRACT_BUF_INIT;

	if (tract_context_compile(&ctx, t, NULL) != 0)
		fail_msg("compile: %s", tract_error_last()->message);
	for (size_t i = 0; i < tract_context_count(ctx); i++)
		tract_buf_printf(&b, "%s%s", i ? "|" : "", tract_context_content(ctx, i));
	tract_context_free(ctx);
	if (!b.ptr)
		tract_buf_puts(&b, "");
	return b.ptr;
}

static void assert_compiled(tract *t, const char *want)
{
	char *got = compiled(t);

	assert_string_equal(got, want);
	free(got);
}

/* ---- the resolver (history.md §8, agents.md §4.4) -------------------------------- */

static void edit(fx *f, const char *target, const char *text)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;

	o.operation = TRACT_OP_EDIT;
	o.response_to = target;
	if (tract_commit_create_dialogue(&c, f->t, "user", text, NULL, &o) != 0)
		fail_msg("edit: %s", tract_error_last()->message);
	tract_commit_free(c);
}

static void sw(fx *f, const char *branch)
{
	if (tract_switch(NULL, f->t, branch, NULL) != 0)
		fail_msg("switch %s: %s", branch, tract_error_last()->message);
}

/* x, y shared; feature edits x then y, main edits y then x: two both_edit
 * conflicts, y first. */
static void make_both_edit(fx *f, char x[65], char y[65])
{
	fx_say(f, x, "user", "x");
	fx_say(f, y, "assistant", "y");
	if (tract_branch_create(NULL, f->t, "feature", NULL, 0) != 0)
		fail_msg("branch: %s", tract_error_last()->message);
	sw(f, "feature");
	edit(f, x, "x by feature");
	edit(f, y, "y by feature");
	sw(f, "main");
	edit(f, y, "y by main");
	edit(f, x, "x by main");
}

static void resolver_merge(const wire *w)
{
	fx *f = fx_new(NULL);
	mock_llm *m = mock_start();
	tract_llm *llm;
	tract_llm_resolver_options ro = TRACT_LLM_RESOLVER_OPTIONS_INIT;
	tract_llm_resolver *res = NULL;
	tract_merge_options mo = TRACT_MERGE_OPTIONS_INIT;
	tract_merge_result *r = NULL;
	mock_response rs[2];
	fx_counts before;
	char x[65], y[65];
	sent s0, s1;

	assert_non_null(m);
	make_both_edit(f, x, y);
	llm = open_llm(w, m);
	ro.model = "resolver-model";
	ro.tract = f->t;
	assert_int_equal(tract_llm_resolver_new(&res, llm, &ro), 0);
	mo.resolver = tract_llm_resolver_resolve;
	mo.resolver_payload = res;
	mo.auto_commit = 1;

	/* a failing provider: nothing written, the provider's code */
	rs[0] = failure();
	mock_script(m, rs, 1);
	before = fx_count(f);
	assert_int_equal(tract_merge(&r, f->t, "feature", &mo), TRACT_EPROVIDER);
	assert_null(r);
	assert_int_equal(mock_request_count(m), 1);
	fx_assert_same_counts(before, fx_count(f));
	assert_compiled(f->t, "x by main|y by main");
	/* the second conflict's call failing: the first resolution is not written */
	rs[0] = reply(w, "y merged");
	rs[1] = failure();
	mock_script(m, rs, 2);
	assert_int_equal(tract_merge(&r, f->t, "feature", &mo), TRACT_EPROVIDER);
	assert_int_equal(mock_request_count(m), 2);
	fx_assert_same_counts(before, fx_count(f));

	/* both resolved through the plugin */
	rs[0] = reply(w, "y merged");
	rs[1] = reply(w, "x merged");
	mock_script(m, rs, 2);
	if (tract_merge(&r, f->t, "feature", &mo) != 0)
		fail_msg("%s merge: %s", w->name, tract_error_last()->message);
	assert_true(tract_merge_result_committed(r));
	assert_int_equal(mock_request_count(m), 2);
	s0 = body_of(m, w, 0);
	s1 = body_of(m, w, 1);
	/* agents.md §4.4: the resolver's system prompt, model, temperature 0.3,
	 * max_tokens 2048; history.md: the conflict's prompt */
	assert_has(s0.system, "context merge resolver");
	assert_string_equal(s0.system, tract_llm_resolver_default_system_prompt());
	assert_string_equal(s0.model, "resolver-model");
	assert_true(s0.has_temperature);
	assert_true(fabs(s0.temperature - 0.3) < 1e-9);
	assert_int_equal(s0.max_tokens, 2048);
	assert_string_equal(s0.user, "Conflict type: both_edit\n\nBranch A content:\ny by main\n\n"
	                             "Branch B content:\ny by feature\n\nCommon ancestor "
	                             "content:\ny");
	assert_has(s1.user, "Branch A content:\nx by main\n\nBranch B content:\nx by feature");
	/* the answers are what is committed */
	assert_string_equal(tract_merge_result_resolution(r, y), "y merged");
	assert_string_equal(tract_merge_result_resolution(r, x), "x merged");
	assert_string_equal(tract_merge_result_reasoning(r, y),
	                    "LLM-resolved using model wire-model-1");
	assert_compiled(f->t, "x merged|y merged");
	{
		tract_commit *c = NULL;
		const char *g;

		assert_int_equal(tract_commit_lookup(&c, f->t, tract_merge_result_commit(r)), 0);
		g = tract_commit_generation_config(c);
		assert_has(g, "\"model\": \"wire-model-1\"");
		assert_has(g, "\"source\": \"infrastructure:merge\"");
		assert_has(g, w == &openai ? "\"total_tokens\": 25" : "\"prompt_tokens\": 20");
		tract_commit_free(c);
	}
	sent_free(&s0);
	sent_free(&s1);
	tract_merge_result_free(r);
	tract_llm_resolver_free(res);
	tract_llm_free(llm);
	mock_stop(m);
	fx_free(f);
}

static void test_resolver_merge_openai(void **state)
{
	(void)state;
	resolver_merge(&openai);
}

static void test_resolver_merge_anthropic(void **state)
{
	(void)state;
	resolver_merge(&anthropic);
}

/*
 *   main:    root - m1
 *   feature: root - f1 - e (an edit of f1)
 * Picking e onto main: its target is missing (history.md's per-issue-type
 * prompt).
 */
static void resolver_cherry_pick(const wire *w)
{
	fx *f = fx_new(NULL);
	mock_llm *m = mock_start();
	tract_llm *llm;
	tract_llm_resolver *res = NULL;
	tract_cherry_pick_options po = TRACT_CHERRY_PICK_OPTIONS_INIT;
	tract_cherry_pick_result *r = NULL;
	mock_response rs[1];
	fx_counts before;
	char root[65], f1[65], e[65], want[512];
	sent s;

	assert_non_null(m);
	fx_say(f, root, "user", "root");
	if (tract_branch_create(NULL, f->t, "feature", NULL, 0) != 0)
		fail_msg("branch: %s", tract_error_last()->message);
	fx_say(f, NULL, "user", "m1");
	sw(f, "feature");
	fx_say(f, f1, "user", "f1");
	edit(f, f1, "f1 corrected");
	assert_int_equal(tract_head_get(e, NULL, NULL, f->t), 0);
	sw(f, "main");
	llm = open_llm(w, m);
	assert_int_equal(tract_llm_resolver_new(&res, llm, NULL), 0);
	po.resolver = tract_llm_resolver_resolve;
	po.resolver_payload = res;
	rs[0] = failure();
	mock_script(m, rs, 1);
	before = fx_count(f);
	assert_int_equal(tract_cherry_pick(&r, f->t, e, &po), TRACT_EPROVIDER);
	fx_assert_same_counts(before, fx_count(f));
	rs[0] = reply(w, "f1, corrected, as it stands on main");
	mock_script(m, rs, 1);
	if (tract_cherry_pick(&r, f->t, e, &po) != 0)
		fail_msg("%s cherry-pick: %s", w->name, tract_error_last()->message);
	assert_int_equal(mock_request_count(m), 1);
	s = body_of(m, w, 0);
	assert_has(s.system, "context merge resolver");
	snprintf(want, sizeof(want),
	         "Conflict type: edit_target_missing\n\nOperation: cherry-pick\n\n"
	         "Description: EDIT commit targets %.12s...",
	         f1);
	assert_true(strncmp(s.user, want, strlen(want)) == 0);
	assert_has(s.user, "\n\nCommit content:\nf1 corrected\n\n");
	assert_compiled(f->t, "root|m1|f1, corrected, as it stands on main");
	sent_free(&s);
	tract_cherry_pick_result_free(r);
	tract_llm_resolver_free(res);
	tract_llm_free(llm);
	mock_stop(m);
	fx_free(f);
}

static void test_resolver_cherry_pick_openai(void **state)
{
	(void)state;
	resolver_cherry_pick(&openai);
}

static void test_resolver_cherry_pick_anthropic(void **state)
{
	(void)state;
	resolver_cherry_pick(&anthropic);
}

/* ---- autonomous collapse (agents.md §6.5) -------------------------------------- */

static void collapse_llm(const wire *w)
{
	fx *f = fx_new(NULL);
	mock_llm *m = mock_start();
	tract_llm *llm;
	tract_spawn_options so = TRACT_SPAWN_OPTIONS_INIT;
	tract_collapse_options o = TRACT_COLLAPSE_OPTIONS_INIT;
	tract_collapse_result *r = NULL;
	tract *child = NULL;
	mock_response rs[1];
	fx_counts before;
	tract_commit *c = NULL;
	char head[65];
	sent s;

	assert_non_null(m);
	fx_say(f, NULL, "user", "start");
	so.purpose = "measure latency";
	so.inherit = TRACT_INHERIT_HEAD_SNAPSHOT;
	if (tract_spawn(&child, f->t, &so) != 0)
		fail_msg("spawn: %s", tract_error_last()->message);
	{
		tract_commit *cc = NULL;
		if (tract_commit_create_dialogue(&cc, child, "assistant",
		                                 "The p99 latency is 42 ms. The cache hit rate "
		                                 "is 97 percent.",
		                                 NULL, NULL) != 0)
			fail_msg("dialogue: %s", tract_error_last()->message);
		tract_commit_free(cc);
	}
	llm = open_llm(w, m);
	o.mode = TRACT_COLLAPSE_AUTONOMOUS;
	o.llm = llm;
	o.target_tokens = 60;
	o.instructions = "Keep every number.";

	/* a failing provider: nothing written */
	rs[0] = failure();
	mock_script(m, rs, 1);
	before = fx_count(f);
	assert_true(tract_collapse(&r, f->t, tract_id(child), &o) < 0);
	assert_null(r);
	assert_has(tract_error_last()->message, "LLM call failed during collapse");
	fx_assert_same_counts(before, fx_count(f));
	assert_compiled(f->t, "start|Spawned subagent for: measure latency");

	rs[0] = reply(w, "Subagent completed: latency measured. p99 42 ms, hit rate 97%.");
	mock_script(m, rs, 1);
	if (tract_collapse(&r, f->t, tract_id(child), &o) != 0)
		fail_msg("%s collapse: %s", w->name, tract_error_last()->message);
	assert_int_equal(mock_request_count(m), 1);
	s = body_of(m, w, 0);
	assert_has(s.system, "Begin with \"Subagent completed: \"");
	assert_has(s.user, "Purpose: measure latency\n");
	assert_has(s.user, "The p99 latency is 42 ms. The cache hit rate is 97 percent.");
	assert_has(s.user, "approximately 60 tokens");
	assert_has(s.user, "Additional instructions: Keep every number.");
	/* the answer is the collapse commit */
	assert_string_equal(r->summary_text,
	                    "Subagent completed: latency measured. p99 42 ms, hit rate 97%.");
	assert_non_null(r->parent_commit_hash);
	assert_int_equal(tract_head_get(head, NULL, NULL, f->t), 0);
	assert_string_equal(head, r->parent_commit_hash);
	assert_int_equal(tract_commit_lookup(&c, f->t, head), 0);
	assert_has(tract_commit_content(c), "p99 42 ms, hit rate 97%");
	tract_commit_free(c);
	assert_compiled(f->t, "start|Spawned subagent for: measure latency|Subagent completed: "
	                      "latency measured. p99 42 ms, hit rate 97%.");
	sent_free(&s);
	tract_collapse_result_free(r);
	tract_free(child);
	tract_llm_free(llm);
	mock_stop(m);
	fx_free(f);
}

static void test_collapse_openai(void **state)
{
	(void)state;
	collapse_llm(&openai);
}

static void test_collapse_anthropic(void **state)
{
	(void)state;
	collapse_llm(&anthropic);
}

/* ---- LLM compression (agents.md §1), the third caller of the shared body --------- */

static void compress_llm(const wire *w)
{
	fx *f = fx_new(NULL);
	mock_llm *m = mock_start();
	tract_llm *llm;
	tract_compress_options o = TRACT_COMPRESS_OPTIONS_INIT;
	tract_compress_result *r = NULL;
	mock_response rs[1];
	fx_counts before;
	char h[3][65];
	sent s;

	assert_non_null(m);
	fx_say(f, h[0], "user", "The launch is on March 3rd.");
	fx_say(f, h[1], "assistant", "March 3rd noted.");
	fx_say(f, h[2], "user", "Later turn.");
	llm = open_llm(w, m);
	o.llm = llm;
	o.to_commit = h[1];
	rs[0] = failure();
	mock_script(m, rs, 1);
	before = fx_count(f);
	assert_true(tract_compress(&r, NULL, f->t, &o) < 0);
	assert_null(r);
	fx_assert_same_counts(before, fx_count(f));
	rs[0] = reply(w, "Previously in this conversation: a March 3rd launch.");
	mock_script(m, rs, 1);
	if (tract_compress(&r, NULL, f->t, &o) != 0)
		fail_msg("%s compress: %s", w->name, tract_error_last()->message);
	assert_int_equal(mock_request_count(m), 1);
	s = body_of(m, w, 0);
	assert_has(s.system, "Previously in this conversation:");
	assert_has(s.user, "Summarize the following conversation segment");
	assert_has(s.user, "[user]: The launch is on March 3rd.\n\n[assistant]: March 3rd noted.");
	assert_compiled(f->t, "Previously in this conversation: a March 3rd launch.|Later turn.");
	sent_free(&s);
	tract_compress_result_free(r);
	tract_llm_free(llm);
	mock_stop(m);
	fx_free(f);
}

static void test_compress_openai(void **state)
{
	(void)state;
	compress_llm(&openai);
}

static void test_compress_anthropic(void **state)
{
	(void)state;
	compress_llm(&anthropic);
}

/* ---- the shared request builder (core/llm.h tract_llm_chat_messages) ------------- */

static void chat_messages(const wire *w)
{
	mock_llm *m = mock_start();
	tract_llm *llm;
	tract_chat_message msgs[5];
	tract_chat_request req;
	tract_chat_result *res = NULL;
	tract_tool_call call = {"call_1", "lookup", "{}"};
	mock_response rs[1];
	const mock_request *q;
	cJSON *d, *x;
	char why[512], *rest;

	assert_non_null(m);
	llm = open_llm(w, m);
	memset(msgs, 0, sizeof(msgs));
	msgs[0].role = "system";
	msgs[0].content = "first rule";
	msgs[1].role = "system";
	msgs[1].content = "second \"rule\"\n";
	msgs[2].role = "user";
	msgs[2].content = "question";
	msgs[3].role = "assistant";
	msgs[3].content = "answer";
	msgs[4].role = "user";
	msgs[4].content = "again";
	memset(&req, 0, sizeof(req));
	req.version = TRACT_CHAT_REQUEST_VERSION;
	req.messages = msgs;
	req.n_messages = 5;
	rs[0] = reply(w, "done");
	mock_script(m, rs, 1);
	if (tract_llm_chat_messages(&res, llm, &req) != 0)
		fail_msg("%s chat: %s", w->name, tract_error_last()->message);
	assert_string_equal(tract_chat_result_text(res), "done");
	tract_chat_result_free(res);
	res = NULL;
	assert_int_equal(mock_request_count(m), 1);
	q = mock_request_get(m, 0);
	d = cJSON_Parse(q->body);
	assert_non_null(d);
	cJSON_DeleteItemFromObjectCaseSensitive(d, "model");
	cJSON_DeleteItemFromObjectCaseSensitive(d, "max_tokens");
	cJSON_DeleteItemFromObjectCaseSensitive(d, "stream");
	rest = cJSON_PrintUnformatted(d);
	assert_non_null(rest);
	if (!schema_valid(w->schema, rest, why, sizeof(why)) || !w->rules(rest, why, sizeof(why)))
		fail_msg("%s body refused (%s): %s", w->name, why, q->body);
	free(rest);
	x = cJSON_GetObjectItemCaseSensitive(d, "messages");
	if (w == &openai) {
		static const char *const roles[] = {"system", "system", "user", "assistant", "user"};
		assert_int_equal(cJSON_GetArraySize(x), 5);
		for (int i = 0; i < 5; i++) {
			cJSON *e = cJSON_GetArrayItem(x, i);
			assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "role")->valuestring,
			                    roles[i]);
			assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "content")->valuestring,
			                    msgs[i].content);
		}
		assert_null(cJSON_GetObjectItemCaseSensitive(d, "system"));
	} else {
		/* the system messages joined as "system", the rest in order */
		assert_string_equal(cJSON_GetObjectItemCaseSensitive(d, "system")->valuestring,
		                    "first rule\n\nsecond \"rule\"\n");
		assert_int_equal(cJSON_GetArraySize(x), 3);
		assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(x, 1), "role")
		                        ->valuestring,
		                    "assistant");
		assert_string_equal(
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(x, 2), "content")->valuestring,
		    "again");
	}
	cJSON_Delete(d);

	/* what it cannot render is refused before any request */
	mock_script(m, rs, 1);
	msgs[3].tool_calls = &call;
	msgs[3].n_tool_calls = 1;
	assert_int_equal(tract_llm_chat_messages(&res, llm, &req), TRACT_EINVAL);
	assert_null(res);
	msgs[3].tool_calls = NULL;
	msgs[3].n_tool_calls = 0;
	msgs[4].role = "tool";
	msgs[4].tool_call_id = "call_1";
	assert_int_equal(tract_llm_chat_messages(&res, llm, &req), TRACT_EINVAL);
	msgs[4].role = "user";
	msgs[4].tool_call_id = NULL;
	req.body_json = "{\"messages\":[]}";
	assert_int_equal(tract_llm_chat_messages(&res, llm, &req), TRACT_EINVAL);
	req.body_json = NULL;
	req.tools_json = "[]";
	assert_int_equal(tract_llm_chat_messages(&res, llm, &req), TRACT_EINVAL);
	assert_int_equal(mock_request_count(m), 0);
	tract_llm_free(llm);
	mock_stop(m);
}

static void test_chat_messages_openai(void **state)
{
	(void)state;
	chat_messages(&openai);
}

static void test_chat_messages_anthropic(void **state)
{
	(void)state;
	chat_messages(&anthropic);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chat_messages_openai),
	    cmocka_unit_test(test_chat_messages_anthropic),
	    cmocka_unit_test(test_resolver_merge_openai),
	    cmocka_unit_test(test_resolver_merge_anthropic),
	    cmocka_unit_test(test_resolver_cherry_pick_openai),
	    cmocka_unit_test(test_resolver_cherry_pick_anthropic),
	    cmocka_unit_test(test_collapse_openai),
	    cmocka_unit_test(test_collapse_anthropic),
	    cmocka_unit_test(test_compress_openai),
	    cmocka_unit_test(test_compress_anthropic),
	};
	int rc = ts_init("llm-wire");

	if (rc)
		return rc;
	return ts_run("llm-wire", tests, TS_COUNT(tests), NULL, 0);
}
