/*
 * test_generate.c - tract_generate() on every backend: the reply committed
 * as an assistant message or as tool-call commits with the model's call
 * ids and the generation config; the whole tool loop from C with the
 * requests checked (neutral messages and the wire-format bodies); nothing
 * committed on a failed call, a stopped stream, bad arguments or a HEAD
 * that moved; the fallback; the per-tract settings (never a secret).
 */
#include "helpers.h"

#include <math.h>

#include "chat.h"
#include "llm.h"

/* ---- an in-process provider that records what it was sent --------------- */

typedef struct {
	const char *text; /* reply text (NULL: none) */
	const tract_tool_call *calls;
	size_t n_calls;
	tract_provider_error_kind fail; /* NONE: answer */
	int fail_times;                 /* how many attempts fail first (0 = all when fail set) */
	fx *interloper;                 /* commits on this tract during the call */
	/* what the last request held */
	int calls_made;
	char roles[32][16];
	char tool_call_ids[32][64]; /* per message: its first tool call's id, or the
	                             * tool_call_id of a tool message */
	size_t n_messages;
	char body[8192];
	char tools[1024];
	char model[64];
	int has_temperature;
	double temperature;
} rec;

static rec recs[2];

struct tract_provider_client {
	rec *r;
};

static int rec_create(tract_provider_client **out, const tract_provider_option *o, size_t n,
                      tract_provider_error *err, rec *r)
{
	(void)o, (void)n, (void)err;
	*out = calloc(1, sizeof(**out));
	assert_non_null(*out);
	(*out)->r = r;
	return 0;
}

static int create_0(tract_provider_client **out, const tract_provider_option *o, size_t n,
                    tract_provider_error *err)
{
	return rec_create(out, o, n, err, &recs[0]);
}

static int create_1(tract_provider_client **out, const tract_provider_option *o, size_t n,
                    tract_provider_error *err)
{
	return rec_create(out, o, n, err, &recs[1]);
}

static void rec_free(tract_provider_client *c)
{
	free(c);
}

static int rec_chat(tract_provider_client *c, const tract_chat_request *req,
                    tract_chat_reply *reply, tract_provider_error *err)
{
	rec *r = c->r;
	size_t i;

	r->calls_made++;
	r->n_messages = req->n_messages;
	for (i = 0; i < req->n_messages && i < 32; i++) {
		const tract_chat_message *m = &req->messages[i];
		snprintf(r->roles[i], sizeof(r->roles[i]), "%s", m->role);
		r->tool_call_ids[i][0] = '\0';
		if (m->n_tool_calls)
			snprintf(r->tool_call_ids[i], 64, "%s", m->tool_calls[0].id);
		else if (m->tool_call_id)
			snprintf(r->tool_call_ids[i], 64, "%s", m->tool_call_id);
	}
	snprintf(r->body, sizeof(r->body), "%s", req->body_json ? req->body_json : "");
	snprintf(r->tools, sizeof(r->tools), "%s", req->tools_json ? req->tools_json : "");
	snprintf(r->model, sizeof(r->model), "%s", req->model ? req->model : "");
	r->has_temperature = req->has_temperature;
	r->temperature = req->temperature;
	if (r->interloper) {
		fx_say(r->interloper, NULL, "user", "meanwhile");
		r->interloper = NULL;
	}
	if (r->fail && (r->fail_times == 0 || r->calls_made <= r->fail_times)) {
		err->kind = r->fail;
		err->http_status = r->fail == TRACT_PROVIDER_ERR_AUTH ? 401 : 500;
		snprintf(err->message, sizeof(err->message), "scripted failure");
		return TRACT_EPROVIDER;
	}
	reply->text = r->text;
	reply->tool_calls = r->calls;
	reply->n_tool_calls = r->n_calls;
	reply->finish_reason = r->n_calls ? "tool_calls" : "stop";
	reply->model = "rec-model-1";
	reply->usage.prompt_tokens = 40;
	reply->usage.completion_tokens = 5;
	reply->usage.total_tokens = 45;
	return 0;
}

static void rec_clear(tract_provider_client *c, tract_chat_reply *reply)
{
	(void)c;
	memset(reply, 0, sizeof(*reply));
}

static const tract_provider neutral = {
    .version = TRACT_PROVIDER_VERSION,
    .name = "rec",
    .default_model = "rec-default",
    .client_create = create_0,
    .client_free = rec_free,
    .chat = rec_chat,
    .reply_clear = rec_clear,
};

static const tract_provider second = {
    .version = TRACT_PROVIDER_VERSION,
    .name = "second",
    .wire_format = "anthropic",
    .client_create = create_1,
    .client_free = rec_free,
    .chat = rec_chat,
    .reply_clear = rec_clear,
};

static void no_sleep(double s, void *p)
{
	(void)s, (void)p;
}

static tract_llm *open_llm(const tract_provider *table)
{
	tract_llm_options o = TRACT_LLM_OPTIONS_INIT;
	tract_llm *llm = NULL;

	o.max_retries = 1;
	if (tract_llm_open_provider(&llm, table, &o) != 0)
		fail_msg("open: %s", tract_error_last()->message);
	return llm;
}

static int setup(void **state)
{
	(void)state;
	memset(recs, 0, sizeof(recs));
	tract_llm_test_hooks_set(no_sleep, NULL, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tract_llm_test_hooks_set(NULL, NULL, NULL);
	return 0;
}

static void head_of(fx *f, char out[65])
{
	assert_int_equal(tract_head_get(out, NULL, NULL, f->t), 0);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_text_reply_committed(void **state)
{
	fx *f = fx_new(NULL);
	tract_generate_options go = TRACT_GENERATE_OPTIONS_INIT;
	tract_generate_result *gr = NULL;
	tract_commit *c = NULL;
	tract_context *ctx;
	tract_llm *llm = open_llm(&neutral);
	char head[65], asked[65];
	cJSON *cfg;

	(void)state;
	fx_commit(f, NULL, "{\"content_type\":\"instruction\",\"text\":\"Be brief.\"}", NULL);
	fx_say(f, asked, "user", "Hello?");
	recs[0].text = "Hi, how can I help?";
	go.model = "asked-model";
	go.has_temperature = 1;
	go.temperature = 0.25;
	go.max_tokens = 300;
	go.message = "the answer";
	assert_int_equal(tract_generate(&gr, f->t, llm, &go), 0);
	/* What was sent. */
	assert_int_equal(recs[0].calls_made, 1);
	assert_int_equal(recs[0].n_messages, 2);
	assert_string_equal(recs[0].roles[0], "system");
	assert_string_equal(recs[0].roles[1], "user");
	assert_string_equal(recs[0].body, ""); /* no wire format: no body */
	assert_string_equal(recs[0].model, "asked-model");
	assert_true(recs[0].has_temperature && recs[0].temperature == 0.25);
	/* What was committed. */
	assert_int_equal(tract_generate_result_commit_count(gr), 1);
	head_of(f, head);
	assert_string_equal(head, tract_generate_result_commit_hash(gr, 0));
	assert_string_equal(tract_chat_result_text(tract_generate_result_reply(gr)),
	                    "Hi, how can I help?");
	assert_int_equal(tract_commit_lookup(&c, f->t, head), 0);
	assert_string_equal(tract_commit_content_type(c), "dialogue");
	assert_string_equal(tract_commit_message(c), "the answer");
	assert_string_equal(tract_commit_response_to(c), asked);
	assert_non_null(strstr(tract_commit_content(c), "\"role\": \"assistant\""));
	cfg = cJSON_Parse(tract_commit_generation_config(c));
	assert_non_null(cfg);
	assert_string_equal(cJSON_GetObjectItem(cfg, "model")->valuestring, "rec-model-1");
	assert_string_equal(cJSON_GetObjectItem(cfg, "provider")->valuestring, "rec");
	assert_true(cJSON_GetObjectItem(cfg, "temperature")->valuedouble == 0.25);
	assert_int_equal(cJSON_GetObjectItem(cfg, "max_tokens")->valueint, 300);
	assert_string_equal(cJSON_GetObjectItem(cfg, "finish_reason")->valuestring, "stop");
	assert_int_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(cfg, "usage"), "prompt_tokens")->valueint, 40);
	assert_int_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(cfg, "usage"), "total_tokens")->valueint, 45);
	cJSON_Delete(cfg);
	tract_commit_free(c);
	ctx = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(ctx), 3);
	assert_string_equal(tract_context_role(ctx, 2), "assistant");
	assert_string_equal(tract_context_content(ctx, 2), "Hi, how can I help?");
	tract_context_free(ctx);
	tract_generate_result_free(gr);
	tract_llm_free(llm);
	fx_free(f);
}

/* The whole loop: generate -> two tool calls committed -> results
 * committed naming them -> generate again -> text. */
static void test_tool_loop(void **state)
{
	static const tract_tool_call calls[] = {{"call_A1", "lookup", "{\"q\": \"bike\"}"},
	                                        {"toolu_B2", "weather", "{}"}};
	fx *f = fx_new(NULL);
	tract_generate_options go = TRACT_GENERATE_OPTIONS_INIT;
	tract_content_build_options bo = TRACT_CONTENT_BUILD_OPTIONS_INIT;
	tract_generate_result *gr = NULL;
	tract_llm *llm = open_llm(&neutral);
	tract_commit *c = NULL;
	char *content = NULL, *body = NULL;
	tract_context *ctx;
	cJSON *b, *msgs, *m;

	(void)state;
	fx_say(f, NULL, "user", "Find my bike and the weather.");
	recs[0].text = "Let me look.";
	recs[0].calls = calls;
	recs[0].n_calls = 2;
	go.tools_json = "[{\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"parameters\":"
	                "{\"type\":\"object\"}}},{\"type\":\"function\",\"function\":{\"name\":"
	                "\"weather\"}}]";
	go.tool_choice = "auto";
	assert_int_equal(tract_generate(&gr, f->t, llm, &go), 0);
	assert_string_equal(recs[0].tools, go.tools_json);
	assert_int_equal(tract_generate_result_commit_count(gr), 3);
	assert_int_equal(tract_commit_lookup(&c, f->t, tract_generate_result_commit_hash(gr, 1)),
	                 0);
	assert_string_equal(tract_commit_content_type(c), "tool_io");
	assert_non_null(strstr(tract_commit_content(c), "\"call_id\": \"call_A1\""));
	assert_non_null(strstr(tract_commit_content(c), "\"direction\": \"call\""));
	assert_non_null(strstr(tract_commit_content(c), "\"payload\": {\"q\": \"bike\"}"));
	assert_non_null(strstr(tract_commit_generation_config(c), "\"finish_reason\": "
	                                                          "\"tool_calls\""));
	tract_commit_free(c);
	assert_int_equal(tract_commit_lookup(&c, f->t, tract_generate_result_commit_hash(gr, 2)),
	                 0);
	assert_non_null(strstr(tract_commit_content(c), "\"call_id\": \"toolu_B2\""));
	tract_commit_free(c);
	tract_generate_result_free(gr);
	/* The results, naming the calls. */
	bo.tool_name = "lookup";
	bo.call_id = "call_A1";
	assert_int_equal(tract_content_build(&content, "tool-result", "Trek FX 2", NULL, &bo), 0);
	fx_commit(f, NULL, content, NULL);
	tract_string_free(content);
	bo.tool_name = "weather";
	bo.call_id = "toolu_B2";
	bo.status = "error";
	assert_int_equal(tract_content_build(&content, "tool-result", "offline", NULL, &bo), 0);
	fx_commit(f, NULL, content, NULL);
	tract_string_free(content);
	/* Again: the request pairs them. */
	recs[0].calls = NULL;
	recs[0].n_calls = 0;
	recs[0].text = "Your bike is a Trek FX 2.";
	assert_int_equal(tract_generate(&gr, f->t, llm, &go), 0);
	assert_int_equal(recs[0].n_messages, 4);
	assert_string_equal(recs[0].roles[0], "user");
	assert_string_equal(recs[0].roles[1], "assistant");
	assert_string_equal(recs[0].tool_call_ids[1], "call_A1");
	assert_string_equal(recs[0].roles[2], "tool");
	assert_string_equal(recs[0].tool_call_ids[2], "call_A1");
	assert_string_equal(recs[0].roles[3], "tool");
	assert_string_equal(recs[0].tool_call_ids[3], "toolu_B2");
	assert_int_equal(tract_generate_result_commit_count(gr), 1);
	tract_generate_result_free(gr);
	/* The openai body of the history: every call answered by id. */
	ctx = fx_compile(f, NULL);
	assert_int_equal(tract_chat_body_render(&body, ctx, "openai", 0), 0);
	b = cJSON_Parse(body);
	assert_non_null(b);
	msgs = cJSON_GetObjectItem(b, "messages");
	assert_int_equal(cJSON_GetArraySize(msgs), 5);
	m = cJSON_GetArrayItem(msgs, 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m, "tool_calls")), 2);
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 3), "tool_call_id")->valuestring,
	    "toolu_B2");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 4), "role")->valuestring,
	                    "assistant");
	cJSON_Delete(b);
	free(body);
	tract_context_free(ctx);
	tract_llm_free(llm);
	fx_free(f);
}

/* A provider with a wire format gets body_json exactly as compile
 * --format renders it; the fallback list renders per provider. */
static void test_bodies_per_wire_format(void **state)
{
	fx *f = fx_new(NULL);
	tract_generate_result *gr = NULL;
	tract_llm *llm = open_llm(&neutral);
	tract_context *ctx;
	char *expect = NULL;

	(void)state;
	fx_commit(f, NULL, "{\"content_type\":\"instruction\",\"text\":\"Sys.\"}", NULL);
	fx_say(f, NULL, "user", "Hi");
	ctx = fx_compile(f, NULL);
	assert_int_equal(tract_chat_body_render(&expect, ctx, "anthropic", 0), 0);
	tract_context_free(ctx);
	recs[0].fail = TRACT_PROVIDER_ERR_SERVER;
	recs[1].text = "from second";
	assert_int_equal(tract_llm_add_provider(llm, &second), 0);
	assert_int_equal(tract_generate(&gr, f->t, llm, NULL), 0);
	assert_int_equal(recs[0].calls_made, 2); /* max_retries 1 */
	assert_string_equal(recs[0].body, "");
	assert_int_equal(recs[1].calls_made, 1);
	assert_string_equal(recs[1].body, expect);
	assert_non_null(strstr(recs[1].body, "\"system\""));
	assert_string_equal(tract_chat_result_provider(tract_generate_result_reply(gr)), "second");
	{
		tract_commit *c = NULL;
		assert_int_equal(tract_commit_lookup(&c, f->t, "HEAD"), 0);
		assert_non_null(strstr(tract_commit_generation_config(c), "\"provider\": "
		                                                          "\"second\""));
		tract_commit_free(c);
	}
	free(expect);
	tract_generate_result_free(gr);
	tract_llm_free(llm);
	fx_free(f);
}

static void test_failures_commit_nothing(void **state)
{
	static const tract_tool_call bad_args[] = {{"call_1", "lookup", "not json"}};
	static const tract_tool_call bad_id[] = {{"bad id with spaces", "lookup", "{}"}};
	fx *f = fx_new(NULL);
	tract_generate_result *gr = NULL;
	tract_llm *llm = open_llm(&neutral);
	fx_counts before;
	char h0[65], h1[65];

	(void)state;
	fx_say(f, NULL, "user", "Hello");
	head_of(f, h0);
	before = fx_count(f);
	/* Auth failure: one attempt, EAUTH. */
	recs[0].fail = TRACT_PROVIDER_ERR_AUTH;
	assert_int_equal(tract_generate(&gr, f->t, llm, NULL), TRACT_EAUTH);
	assert_null(gr);
	assert_int_equal(recs[0].calls_made, 1);
	/* Server errors on every attempt: EPROVIDER. */
	recs[0].fail = TRACT_PROVIDER_ERR_SERVER;
	assert_int_equal(tract_generate(&gr, f->t, llm, NULL), TRACT_EPROVIDER);
	/* Arguments that are no JSON object. */
	recs[0].fail = TRACT_PROVIDER_ERR_NONE;
	recs[0].calls = bad_args;
	recs[0].n_calls = 1;
	assert_int_equal(tract_generate(&gr, f->t, llm, NULL), TRACT_EPROVIDER);
	assert_non_null(strstr(tract_error_last()->message, "lookup"));
	/* A call id the store cannot take. */
	recs[0].calls = bad_id;
	recs[0].text = "text first";
	assert_true(tract_generate(&gr, f->t, llm, NULL) < 0);
	fx_assert_same_counts(before, fx_count(f));
	head_of(f, h1);
	assert_string_equal(h0, h1);
	tract_llm_free(llm);
	fx_free(f);
}

static void test_head_moved(void **state)
{
	fx *f = fx_new(NULL);
	tract_generate_result *gr = NULL;
	tract_llm *llm = open_llm(&neutral);
	tract_context *ctx;
	fx_counts before;

	(void)state;
	fx_say(f, NULL, "user", "Hello");
	before = fx_count(f);
	recs[0].text = "late answer";
	recs[0].interloper = f;
	assert_int_equal(tract_generate(&gr, f->t, llm, NULL), TRACT_ESTALE);
	assert_non_null(strstr(tract_error_last()->message, "HEAD moved"));
	assert_int_equal(fx_count(f).commits, before.commits + 1); /* the interloper's only */
	ctx = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(ctx), 2);
	assert_string_equal(tract_context_content(ctx, 1), "meanwhile");
	tract_context_free(ctx);
	tract_llm_free(llm);
	fx_free(f);
}

typedef struct {
	char text[256];
	int stop;
	int n;
} sink;

static int sink_cb(const tract_chat_delta *d, void *payload)
{
	sink *s = payload;

	s->n++;
	if (d->text)
		strncat(s->text, d->text, sizeof(s->text) - strlen(s->text) - 1);
	return s->stop;
}

static void test_stream(void **state)
{
	fx *f = fx_new(NULL);
	tract_generate_options go = TRACT_GENERATE_OPTIONS_INIT;
	tract_generate_result *gr = NULL;
	tract_llm *llm = open_llm(&neutral);
	fx_counts before;
	sink s = {"", 0, 0};

	(void)state;
	fx_say(f, NULL, "user", "Hello");
	recs[0].text = "streamed words";
	go.on_delta = sink_cb;
	go.delta_payload = &s;
	/* Stopped: EABORTED, nothing committed. */
	s.stop = 1;
	before = fx_count(f);
	assert_int_equal(tract_generate(&gr, f->t, llm, &go), TRACT_EABORTED);
	fx_assert_same_counts(before, fx_count(f));
	/* Completed: committed once. */
	s.stop = 0;
	s.text[0] = '\0';
	assert_int_equal(tract_generate(&gr, f->t, llm, &go), 0);
	assert_string_equal(s.text, "streamed words");
	assert_int_equal(fx_count(f).commits, before.commits + 1);
	tract_generate_result_free(gr);
	tract_llm_free(llm);
	fx_free(f);
}

static void test_bad_input(void **state)
{
	static const char *const bad_tools[] = {
	    "not json",
	    "{}",
	    "[]",
	    "[1]",
	    "[{\"type\":\"function\"}]",
	    "[{\"type\":\"other\",\"function\":{\"name\":\"a\"}}]",
	    "[{\"type\":\"function\",\"function\":{\"name\":\"a b\"}}]",
	    "[{\"type\":\"function\",\"function\":{\"name\":\"a\",\"parameters\":[]}}]"};
	fx *f = fx_new(NULL);
	tract_generate_options go = TRACT_GENERATE_OPTIONS_INIT;
	tract_generate_result *gr = NULL;
	tract_llm *llm = open_llm(&neutral);
	size_t i;

	(void)state;
	/* Nothing to send yet. */
	assert_int_equal(tract_generate(&gr, f->t, llm, NULL), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "empty"));
	fx_say(f, NULL, "user", "Hello");
	for (i = 0; i < sizeof(bad_tools) / sizeof(bad_tools[0]); i++) {
		go.tools_json = bad_tools[i];
		assert_int_equal(tract_generate(&gr, f->t, llm, &go), TRACT_EINVAL);
	}
	go.tools_json = "[{\"type\":\"function\",\"function\":{\"name\":\"a\"}}]";
	go.tool_choice = "b";
	assert_int_equal(tract_generate(&gr, f->t, llm, &go), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "names no tool"));
	go.tool_choice = NULL;
	go.has_temperature = 1;
	go.temperature = NAN;
	assert_int_equal(tract_generate(&gr, f->t, llm, &go), TRACT_EINVAL);
	go.has_temperature = 0;
	go.extra_json = "[1]";
	assert_int_equal(tract_generate(&gr, f->t, llm, &go), TRACT_EINVAL);
	go.extra_json = NULL;
	go.version = 99;
	assert_int_equal(tract_generate(&gr, f->t, llm, &go), TRACT_EINVAL);
	assert_int_equal(recs[0].calls_made, 0);
	assert_int_equal(tract_generate(NULL, f->t, llm, NULL), TRACT_EINVAL);
	tract_llm_free(llm);
	fx_free(f);
}

static void test_settings(void **state)
{
	fx *f = fx_new(NULL);
	tract_generate_options go = TRACT_GENERATE_OPTIONS_INIT;
	tract_generate_result *gr = NULL;
	tract_llm *llm = open_llm(&neutral);
	char *v = NULL;

	(void)state;
	assert_int_equal(tract_llm_setting_get(&v, f->t, "provider"), 0);
	assert_null(v);
	assert_int_equal(tract_llm_setting_set(f->t, "provider", "openai,example"), 0);
	assert_int_equal(tract_llm_setting_set(f->t, "model", "gpt-4o-mini"), 0);
	assert_int_equal(tract_llm_setting_get(&v, f->t, "provider"), 0);
	assert_string_equal(v, "openai,example");
	tract_string_free(v);
	/* Secrets are never stored. */
	assert_int_equal(tract_llm_setting_set(f->t, "api_key", "sk-abc"), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "never stored"));
	assert_null(strstr(tract_error_last()->message, "sk-abc"));
	assert_int_equal(tract_llm_setting_set(f->t, "openai_token", "x"), TRACT_EINVAL);
	assert_int_equal(tract_llm_setting_set(f->t, "model", "sk-proj-abcdef"), TRACT_EINVAL);
	assert_null(strstr(tract_error_last()->message, "sk-proj"));
	assert_int_equal(tract_llm_setting_set(f->t, "colour", "x"), TRACT_EINVAL);
	assert_int_equal(tract_llm_setting_set(f->t, "provider", "a/b"), TRACT_EINVAL);
	assert_int_equal(tract_llm_setting_set(f->t, "model", "two words"), TRACT_EINVAL);
	assert_int_equal(tract_llm_setting_get(&v, f->t, "api_key"), TRACT_EINVAL);
	/* Removed. */
	assert_int_equal(tract_llm_setting_set(f->t, "model", NULL), 0);
	assert_int_equal(tract_llm_setting_get(&v, f->t, "model"), 0);
	assert_null(v);
	/* Saved by generate with the reply. */
	fx_say(f, NULL, "user", "Hello");
	recs[0].text = "ok";
	go.model = "m-7";
	go.save_defaults = 1;
	assert_int_equal(tract_generate(&gr, f->t, llm, &go), 0);
	tract_generate_result_free(gr);
	assert_int_equal(tract_llm_setting_get(&v, f->t, "provider"), 0);
	assert_string_equal(v, "rec");
	tract_string_free(v);
	assert_int_equal(tract_llm_setting_get(&v, f->t, "model"), 0);
	assert_string_equal(v, "m-7");
	tract_string_free(v);
	/* A failed generate saves nothing. */
	recs[0].fail = TRACT_PROVIDER_ERR_AUTH;
	go.model = "m-8";
	assert_int_equal(tract_generate(&gr, f->t, llm, &go), TRACT_EAUTH);
	assert_int_equal(tract_llm_setting_get(&v, f->t, "model"), 0);
	assert_string_equal(v, "m-7");
	tract_string_free(v);
	tract_llm_free(llm);
	fx_free(f);
}

/* The example plugin in the loop, as the CLI uses it. */
static void test_example_loop(void **state)
{
	fx *f = fx_new(NULL);
	tract_generate_options go = TRACT_GENERATE_OPTIONS_INIT;
	tract_content_build_options bo = TRACT_CONTENT_BUILD_OPTIONS_INIT;
	tract_generate_result *gr = NULL;
	tract_llm *llm = NULL;
	const tract_tool_call *call;
	char *content = NULL;
	tract_commit *c = NULL;

	(void)state;
	assert_int_equal(tract_llm_open(&llm, "example", NULL), 0);
	fx_say(f, NULL, "user", "Where is order 42?");
	go.tools_json = "[{\"type\":\"function\",\"function\":{\"name\":\"track\",\"parameters\":"
	                "{\"type\":\"object\",\"properties\":{\"order\":{\"type\":\"integer\"}},"
	                "\"required\":[\"order\"]}}}]";
	assert_int_equal(tract_generate(&gr, f->t, llm, &go), 0);
	call = tract_chat_result_tool_call(tract_generate_result_reply(gr), 0);
	assert_non_null(call);
	assert_string_equal(call->name, "track");
	bo.tool_name = "track";
	bo.call_id = call->id;
	assert_int_equal(tract_content_build(&content, "tool-result", "in transit", NULL, &bo), 0);
	tract_generate_result_free(gr);
	fx_commit(f, NULL, content, NULL);
	tract_string_free(content);
	assert_int_equal(tract_generate(&gr, f->t, llm, &go), 0);
	assert_string_equal(tract_chat_result_text(tract_generate_result_reply(gr)),
	                    "The tool track returned: in transit");
	assert_int_equal(tract_commit_lookup(&c, f->t, "HEAD"), 0);
	assert_non_null(strstr(tract_commit_generation_config(c), "\"model\": \"example-1\""));
	tract_commit_free(c);
	tract_generate_result_free(gr);
	tract_llm_free(llm);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_text_reply_committed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tool_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bodies_per_wire_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failures_commit_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_head_moved, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_example_loop, setup, teardown),
	};
	int rc = ts_init("generate");

	if (rc)
		return rc;
	return ts_run("generate", tests, TS_COUNT(tests), NULL, 0);
}
