/*
 * test_e2e_tools.c - the whole tool loop against the scripted loopback
 * server (mock_llm.c) through the real plugins, loaded by name with
 * tract_llm_open() from TRACT_PLUGIN_PATH: generate -> two parallel tool
 * calls committed with the server's call ids -> both results committed
 * naming their calls -> generate again -> the text reply committed; in
 * both wire formats (openai, anthropic), whole and streamed. Every
 * request body the server received is checked against the provider's
 * published request schema and the pairing rules (schema_check.h), and
 * the API key is in no body, no commit and no error message.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "helpers.h"

#include <cjson/cJSON.h>

#include "llm.h"
#include "mock_llm.h"
#include "schema_check.h"

#define KEY "sk-e2e-SECRET-key-8d8d"

#define TOOLS                                                                                      \
	"[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":"       \
	"\"Weather of a city\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":"   \
	"{\"type\":\"string\"}},\"required\":[\"city\"]}}},"                                     \
	"{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{\"type\":"  \
	"\"object\",\"properties\":{\"tz\":{\"type\":\"string\"}}}}}]"

/* ---- the replies, as the real APIs send them ------------------------------ */

#define OA_CHUNK(delta, fr)                                                                        \
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini-1\","   \
	"\"choices\":[{\"index\":0,\"delta\":" delta ",\"finish_reason\":" fr "}]}\n\n"

#define AN_EV(name, data) "event: " name "\ndata: " data "\n\n"
#define AN_START                                                                                   \
	AN_EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":"   \
			       "\"message\",\"role\":\"assistant\",\"content\":[],\"model\":"          \
			       "\"claude-e2e-1\",\"stop_reason\":null,\"usage\":"                     \
			       "{\"input_tokens\":40,\"output_tokens\":1}}}")
#define AN_STOP(i) AN_EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" i "}")
#define AN_DELTA(sr)                                                                            \
	AN_EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"" sr \
			       "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9}}")
#define AN_END AN_EV("message_stop", "{\"type\":\"message_stop\"}")

typedef struct {
	const char *name, *schema, *path, *model;
	const char *tools, *tools_sse, *text, *text_sse;
	const char *id_a, *id_b;
	int (*rules)(const char *, char *, size_t);
} wire;

static const wire openai = {
    .name = "openai",
    .schema = "openai-chat.schema.json",
    .path = "/chat/completions",
    .model = "gpt-4o-mini-1",
    .tools = "{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini-1\","
	     "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
	     "\"tool_calls\":[{\"id\":\"call_a\",\"type\":\"function\",\"function\":"
	     "{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
	     "{\"id\":\"call_b\",\"type\":\"function\",\"function\":"
	     "{\"name\":\"get_time\",\"arguments\":\"{\\\"tz\\\":\\\"CET\\\"}\"}}]},"
	     "\"finish_reason\":\"tool_calls\"}],"
	     "\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":20,\"total_tokens\":60}}",
    .tools_sse = OA_CHUNK("{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,"
			  "\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":"
			  "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]}",
			  "null")
	OA_CHUNK("{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\","
		 "\"function\":{\"name\":\"get_time\",\"arguments\":\"{\\\"tz\\\":\\\"CET\\\"}\"}}]}",
		 "null") OA_CHUNK("{}", "\"tool_calls\"") "data: [DONE]\n\n",
    .text = "{\"id\":\"chatcmpl-3\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini-1\","
	    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
	    "\"Sunny in Paris at noon.\"},\"finish_reason\":\"stop\"}],"
	    "\"usage\":{\"prompt_tokens\":80,\"completion_tokens\":7,\"total_tokens\":87}}",
    .text_sse = OA_CHUNK("{\"role\":\"assistant\",\"content\":\"Sunny in \"}", "null")
	OA_CHUNK("{\"content\":\"Paris at noon.\"}", "null") OA_CHUNK("{}", "\"stop\"")
	"data: [DONE]\n\n",
    .id_a = "call_a",
    .id_b = "call_b",
    .rules = openai_rules,
};

static const wire anthropic = {
    .name = "anthropic",
    .schema = "anthropic-messages.schema.json",
    .path = "/v1/messages",
    .model = "claude-e2e-1",
    .tools = "{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
	     "\"claude-e2e-1\",\"content\":["
	     "{\"type\":\"tool_use\",\"id\":\"toolu_a\",\"name\":\"get_weather\",\"input\":"
	     "{\"city\":\"Paris\"}},"
	     "{\"type\":\"tool_use\",\"id\":\"toolu_b\",\"name\":\"get_time\",\"input\":"
	     "{\"tz\":\"CET\"}}],"
	     "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":40,\"output_tokens\":20}}",
    .tools_sse = AN_START AN_EV("content_block_start",
				"{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
				"{\"type\":\"tool_use\",\"id\":\"toolu_a\",\"name\":\"get_weather\","
				"\"input\":{}}}")
	AN_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
				     "{\"type\":\"input_json_delta\",\"partial_json\":"
				     "\"{\\\"city\\\":\\\"Paris\\\"}\"}}") AN_STOP("0")
	    AN_EV("content_block_start",
		  "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":"
		  "{\"type\":\"tool_use\",\"id\":\"toolu_b\",\"name\":\"get_time\",\"input\":{}}}")
		AN_EV("content_block_delta",
		      "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
		      "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"tz\\\":\\\"CET\\\"}\"}}")
		    AN_STOP("1") AN_DELTA("tool_use") AN_END,
    .text = "{\"id\":\"msg_3\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
	    "\"claude-e2e-1\",\"content\":[{\"type\":\"text\",\"text\":\"Sunny in Paris at noon.\"}],"
	    "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
	    "\"usage\":{\"input_tokens\":80,\"output_tokens\":7}}",
    .text_sse = AN_START AN_EV("content_block_start",
			       "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
			       "{\"type\":\"text\",\"text\":\"\"}}")
	AN_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
				     "{\"type\":\"text_delta\",\"text\":\"Sunny in \"}}")
	    AN_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
					 "{\"type\":\"text_delta\",\"text\":\"Paris at noon.\"}}")
		AN_STOP("0") AN_DELTA("end_turn") AN_END,
    .id_a = "toolu_a",
    .id_b = "toolu_b",
    .rules = anthropic_rules,
};

static mock_response reply(const char *body, int sse)
{
	mock_response r;

	memset(&r, 0, sizeof(r));
	r.body = body;
	if (sse) {
		r.content_type = "text/event-stream";
		r.chunked = 1;
		r.chunk_size = 64;
	}
	return r;
}

/*
 * The members a plugin adds to the core's rendering (the schemas cover
 * the rendering: messages, system): checked here by hand against the
 * published API reference, then removed so the rest is validated by the
 * schema (Anthropic's refuses any other member).
 */
static void check_plugin_members(cJSON *d, const wire *w, int stream)
{
	const cJSON *model = cJSON_GetObjectItem(d, "model");
	const cJSON *tools = cJSON_GetObjectItem(d, "tools"), *t;
	const cJSON *st = cJSON_GetObjectItem(d, "stream");
	static const char *const added[] = {"model", "max_tokens", "tools", "tool_choice",
	                                    "stream", "stream_options", "temperature"};

	assert_true(cJSON_IsString(model) && model->valuestring[0]);
	if (strcmp(w->name, "anthropic") == 0) {
		const cJSON *mt = cJSON_GetObjectItem(d, "max_tokens");
		/* required, an integer >= 1 */
		assert_true(cJSON_IsNumber(mt) && mt->valuedouble >= 1 &&
		            mt->valuedouble == (double)(int64_t)mt->valuedouble);
	}
	assert_true(cJSON_IsArray(tools) && cJSON_GetArraySize(tools) == 2);
	cJSON_ArrayForEach(t, tools)
	{
		if (strcmp(w->name, "anthropic") == 0) {
			/* {name, description?, input_schema: {type: "object"...}} */
			const cJSON *is = cJSON_GetObjectItem(t, "input_schema");
			assert_true(cJSON_IsString(cJSON_GetObjectItem(t, "name")));
			assert_true(cJSON_IsObject(is));
			assert_string_equal(cJSON_GetObjectItem(is, "type")->valuestring, "object");
			assert_null(cJSON_GetObjectItem(t, "function"));
		} else {
			/* {type: "function", function: {name, description?, parameters?}} */
			const cJSON *fn = cJSON_GetObjectItem(t, "function");
			assert_string_equal(cJSON_GetObjectItem(t, "type")->valuestring, "function");
			assert_true(cJSON_IsObject(fn));
			assert_true(cJSON_IsString(cJSON_GetObjectItem(fn, "name")));
		}
	}
	if (stream)
		assert_true(cJSON_IsTrue(st));
	else
		assert_true(!st || cJSON_IsFalse(st));
	for (size_t i = 0; i < sizeof(added) / sizeof(added[0]); i++)
		cJSON_DeleteItemFromObject(d, added[i]);
}

/* Every body the server got: the plugin's members right, the rendering
 * valid for the schema and the rules, no key. */
static void check_bodies(mock_llm *m, const wire *w, size_t want, int stream)
{
	char why[512];

	assert_int_equal(mock_request_count(m), want);
	for (size_t i = 0; i < want; i++) {
		const mock_request *q = mock_request_get(m, i);
		cJSON *d;
		char *rest;

		assert_string_equal(q->method, "POST");
		assert_non_null(strstr(q->path, w->path));
		assert_null(strstr(q->body, KEY));
		d = cJSON_Parse(q->body);
		assert_non_null(d);
		check_plugin_members(d, w, stream);
		rest = cJSON_PrintUnformatted(d);
		cJSON_Delete(d);
		assert_non_null(rest);
		if (!schema_valid(w->schema, rest, why, sizeof(why)))
			fail_msg("%s request %zu refused by the schema (%s): %s", w->name, i, why,
			         q->body);
		if (!w->rules(rest, why, sizeof(why)))
			fail_msg("%s request %zu breaks a rule (%s): %s", w->name, i, why, q->body);
		free(rest);
	}
}

typedef struct {
	char text[256];
	int deltas;
} collected;

static int collect(const tract_chat_delta *d, void *payload)
{
	collected *c = payload;

	c->deltas++;
	if (d->text)
		strncat(c->text, d->text, sizeof(c->text) - strlen(c->text) - 1);
	return 0;
}

static void commit_result(fx *f, const char *tool, const char *id, const char *text)
{
	tract_content_build_options bo = TRACT_CONTENT_BUILD_OPTIONS_INIT;
	char *content = NULL;

	bo.tool_name = tool;
	bo.call_id = id;
	assert_int_equal(tract_content_build(&content, "tool-result", text, NULL, &bo), 0);
	fx_commit(f, NULL, content, NULL);
	tract_string_free(content);
}

static void loop(const wire *w, int stream)
{
	fx *f = fx_new(NULL);
	mock_llm *m = mock_start();
	mock_response rs[2];
	tract_provider_option opts[2];
	tract_llm_options lo = TRACT_LLM_OPTIONS_INIT;
	tract_generate_options go = TRACT_GENERATE_OPTIONS_INIT;
	tract_generate_result *gr = NULL;
	const tract_chat_result *r;
	tract_llm *llm = NULL;
	tract_commit *c = NULL;
	collected col;
	char *ctx_json = NULL;

	assert_non_null(m);
	memset(&col, 0, sizeof(col));
	fx_commit(f, NULL, "{\"content_type\":\"instruction\",\"text\":\"You report weather.\"}",
	          NULL);
	fx_say(f, NULL, "user", "Weather and time in Paris?");
	rs[0] = reply(stream ? w->tools_sse : w->tools, stream);
	rs[1] = reply(stream ? w->text_sse : w->text, stream);
	mock_script(m, rs, 2);
	opts[0] = (tract_provider_option){"base_url", mock_url(m)};
	opts[1] = (tract_provider_option){"api_key", KEY};
	lo.options = opts;
	lo.n_options = 2;
	lo.max_retries = 0;
	if (tract_llm_open(&llm, w->name, &lo) != 0)
		fail_msg("open %s: %s", w->name, tract_error_last()->message);
	go.tools_json = TOOLS;
	if (stream) {
		go.on_delta = collect;
		go.delta_payload = &col;
	}

	/* 1. two parallel calls, committed with the server's ids */
	if (tract_generate(&gr, f->t, llm, &go) != 0)
		fail_msg("generate 1: %s", tract_error_last()->message);
	r = tract_generate_result_reply(gr);
	assert_int_equal(tract_chat_result_tool_call_count(r), 2);
	assert_int_equal(tract_generate_result_commit_count(gr), 2);
	assert_string_equal(tract_chat_result_tool_call(r, 0)->id, w->id_a);
	assert_string_equal(tract_chat_result_tool_call(r, 1)->id, w->id_b);
	assert_int_equal(tract_commit_lookup(&c, f->t, tract_generate_result_commit_hash(gr, 1)),
	                 0);
	assert_non_null(strstr(tract_commit_content(c), w->id_b));
	assert_non_null(strstr(tract_commit_generation_config(c), w->model));
	tract_commit_free(c);
	tract_generate_result_free(gr);

	/* 2. the results, naming their calls */
	commit_result(f, "get_weather", w->id_a, "sunny, 24 C");
	commit_result(f, "get_time", w->id_b, "12:00");

	/* 3. generate again: the text */
	if (tract_generate(&gr, f->t, llm, &go) != 0)
		fail_msg("generate 2: %s", tract_error_last()->message);
	r = tract_generate_result_reply(gr);
	assert_string_equal(tract_chat_result_text(r), "Sunny in Paris at noon.");
	if (stream) {
		assert_string_equal(col.text, "Sunny in Paris at noon.");
		assert_true(col.deltas >= 2);
	}
	assert_int_equal(tract_commit_lookup(&c, f->t, "HEAD"), 0);
	assert_non_null(strstr(tract_commit_content(c), "Sunny in Paris at noon."));
	assert_string_equal(tract_commit_hash(c), tract_generate_result_commit_hash(gr, 0));
	tract_commit_free(c);
	tract_generate_result_free(gr);

	/* every body valid; the second pairs both calls with their results */
	check_bodies(m, w, 2, stream);
	{
		const char *b2 = mock_request_get(m, 1)->body;
		assert_non_null(strstr(b2, w->id_a));
		assert_non_null(strstr(b2, w->id_b));
		assert_non_null(strstr(b2, "sunny, 24 C"));
	}
	/* the key in no commit */
	{
		tract_context *ctx = fx_compile(f, NULL);
		assert_int_equal(tract_context_render(&ctx_json, ctx, TRACT_FORMAT_JSON), 0);
		assert_null(strstr(ctx_json, KEY));
		tract_string_free(ctx_json);
		tract_context_free(ctx);
	}

	/* 4. a refused key: TRACT_EAUTH after one request, nothing committed,
	 * the key in no message */
	{
		mock_response bad = reply("{\"error\":{\"message\":\"Incorrect API key provided: "
		                          "sk-e2e-SECRET-key-8d8d\",\"type\":\"invalid_request_error\"}}",
		                          0);
		fx_counts before = fx_count(f);
		bad.status = 401;
		mock_script(m, &bad, 1);
		assert_int_equal(tract_generate(&gr, f->t, llm, &go), TRACT_EAUTH);
		assert_null(strstr(tract_error_last()->message, KEY));
		assert_int_equal(mock_request_count(m), 1);
		fx_assert_same_counts(before, fx_count(f));
	}
	tract_llm_free(llm);
	mock_stop(m);
	fx_free(f);
}

static void test_openai_whole(void **state)
{
	(void)state;
	loop(&openai, 0);
}

static void test_openai_streamed(void **state)
{
	(void)state;
	loop(&openai, 1);
}

static void test_anthropic_whole(void **state)
{
	(void)state;
	loop(&anthropic, 0);
}

static void test_anthropic_streamed(void **state)
{
	(void)state;
	loop(&anthropic, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_openai_whole),
	    cmocka_unit_test(test_openai_streamed),
	    cmocka_unit_test(test_anthropic_whole),
	    cmocka_unit_test(test_anthropic_streamed),
	};
	int rc = ts_init("e2e_tools");

	if (rc)
		return rc;
	return ts_run("e2e_tools", tests, TS_COUNT(tests), NULL, 0);
}
