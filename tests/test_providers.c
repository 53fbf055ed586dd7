/*
 * test_providers.c - the openai and anthropic provider plugins, loaded with
 * dlopen from the build tree and called through their tables, against the
 * scripted loopback server of mock_llm.c. Every case runs in both wire
 * formats: replies whole and streamed (text, parallel tool calls), what
 * each plugin sends (path, headers, body members), the classification of
 * failures (401/403 after exactly one request, 429 with Retry-After in
 * both forms, 5xx and 529, other 4xx, connection refused, a server that
 * stalls before answering and one that stalls mid-stream, malformed JSON
 * and SSE, missing choices or content, a 50 MB body), options and the
 * environment, cancellation, concurrent calls on one client, and that the
 * API key shows in no message and no raw reply.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "mock_llm.h"
#include "tract/sys/provider.h"

#define KEY "sk-test-SECRET-0123456789abcdef"

/* ---- the two wire formats ---- */

typedef struct {
	const char *name;
	const char *plugin;     /* path of the built .so */
	const char *path;       /* where the plugin POSTs */
	const char *body_json;  /* the core's rendering of the conversation */
	const char *ok;         /* a whole reply "Hello there.", usage 12/3 */
	const char *ok_sse;     /* the same, streamed */
	const char *tools;      /* two parallel calls (and maybe text) */
	const char *tools_sse;
	const char *tools_text; /* the text that comes with the calls, NULL = none */
	const char *id_a, *id_b;
	const char *model;      /* the model the replies name */
	const char *no_content; /* a 200 whose shape lacks the reply */
	const char *sse_no_end; /* a stream cut before its end marker */
	const char *sse_bad;    /* a stream with an event that is not JSON */
	const char *sse_error;  /* a stream carrying an overloaded error */
	const tract_provider *p;
} wire;

#define OA_CHUNK(delta, fr) \
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini-2024-07-18\"," \
	"\"choices\":[{\"index\":0,\"delta\":" delta ",\"finish_reason\":" fr "}]}\n\n"
#define OA_USAGE \
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini-2024-07-18\"," \
	"\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}\n\n"

static wire openai_wire = {
	.name = "openai",
	.plugin = TEST_OPENAI_PLUGIN,
	.path = "/chat/completions",
	.body_json = "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
		     "{\"role\":\"user\",\"content\":\"Hi\"}]}",
	.ok = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,"
	      "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":"
	      "{\"role\":\"assistant\",\"content\":\"Hello there.\"},\"finish_reason\":\"stop\"}],"
	      "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}",
	.ok_sse = OA_CHUNK("{\"role\":\"assistant\",\"content\":\"\"}", "null")
		  ": a comment line\n\n"
		  OA_CHUNK("{\"content\":\"Hello\"}", "null")
		  OA_CHUNK("{\"content\":\" there.\"}", "null")
		  OA_CHUNK("{}", "\"stop\"")
		  OA_USAGE
		  "data: [DONE]\n\n",
	.tools = "{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini-2024-07-18\","
		 "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
		 "\"tool_calls\":[{\"id\":\"call_a\",\"type\":\"function\",\"function\":"
		 "{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
		 "{\"id\":\"call_b\",\"type\":\"function\",\"function\":"
		 "{\"name\":\"get_time\",\"arguments\":\"{\\\"tz\\\":\\\"CET\\\"}\"}}]},"
		 "\"finish_reason\":\"tool_calls\"}],"
		 "\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":20,\"total_tokens\":60}}",
	.tools_sse =
		OA_CHUNK("{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,"
			 "\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
			 "\"arguments\":\"\"}}]}", "null")
		OA_CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}", "null")
		OA_CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}", "null")
		OA_CHUNK("{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\","
			 "\"function\":{\"name\":\"get_time\",\"arguments\":\"\"}}]}", "null")
		OA_CHUNK("{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{\\\"tz\\\":\\\"CET\\\"}\"}}]}", "null")
		OA_CHUNK("{}", "\"tool_calls\"")
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":20,\"total_tokens\":60}}\n\n"
		"data: [DONE]\n\n",
	.tools_text = NULL,
	.id_a = "call_a",
	.id_b = "call_b",
	.model = "gpt-4o-mini-2024-07-18",
	.no_content = "{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"m\",\"usage\":{}}",
	.sse_no_end = OA_CHUNK("{\"content\":\"Hello\"}", "null"),
	.sse_bad = OA_CHUNK("{\"content\":\"Hello\"}", "null") "data: {\"choices\": [ oops\n\n",
	.sse_error = OA_CHUNK("{\"content\":\"Hello\"}", "null")
		     "data: {\"error\":{\"message\":\"The server is overloaded\",\"type\":\"server_error\"}}\n\n",
};

#define AN_EV(name, data) "event: " name "\ndata: " data "\n\n"
#define AN_START_N(in)                                                                             \
	AN_EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":"   \
			       "\"message\",\"role\":\"assistant\",\"content\":[],\"model\":"          \
			       "\"claude-sonnet-4-5-20250929\",\"stop_reason\":null,\"usage\":"       \
			       "{\"input_tokens\":" in ",\"output_tokens\":1}}}")
#define AN_START AN_START_N("12")
#define AN_TEXT_START(i) \
	AN_EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":" i \
				     ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
#define AN_TEXT(i, t) \
	AN_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":" i \
				     ",\"delta\":{\"type\":\"text_delta\",\"text\":\"" t "\"}}")
#define AN_TOOL_START(i, id, name)                                                            \
	AN_EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":" i           \
				     ",\"content_block\":{\"type\":\"tool_use\",\"id\":\"" id     \
				     "\",\"name\":\"" name "\",\"input\":{}}}")
#define AN_JSON(i, j) \
	AN_EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":" i \
				     ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"" j "\"}}")
#define AN_STOP(i) AN_EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" i "}")
#define AN_DELTA(sr, out)                                                                    \
	AN_EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"" sr \
			       "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":" out "}}")
#define AN_END AN_EV("message_stop", "{\"type\":\"message_stop\"}")

static wire anthropic_wire = {
	.name = "anthropic",
	.plugin = TEST_ANTHROPIC_PLUGIN,
	.path = "/v1/messages",
	.body_json = "{\"system\":\"Be brief.\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
	.ok = "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
	      "\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[{\"type\":\"text\","
	      "\"text\":\"Hello there.\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
	      "\"usage\":{\"input_tokens\":12,\"output_tokens\":3}}",
	.ok_sse = AN_START AN_TEXT_START("0") AN_EV("ping", "{\"type\": \"ping\"}")
		AN_TEXT("0", "Hello") AN_TEXT("0", " there.") AN_STOP("0") AN_DELTA("end_turn", "3")
		AN_END,
	.tools = "{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\","
		 "\"model\":\"claude-sonnet-4-5-20250929\",\"content\":["
		 "{\"type\":\"text\",\"text\":\"Let me check.\"},"
		 "{\"type\":\"tool_use\",\"id\":\"toolu_a\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}},"
		 "{\"type\":\"tool_use\",\"id\":\"toolu_b\",\"name\":\"get_time\",\"input\":{\"tz\":\"CET\"}}],"
		 "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":40,\"output_tokens\":20}}",
	.tools_sse = AN_START_N("40") AN_TEXT_START("0") AN_TEXT("0", "Let me check.") AN_STOP("0")
		AN_TOOL_START("1", "toolu_a", "get_weather") AN_JSON("1", "{\\\"city\\\":")
		AN_JSON("1", "\\\"Paris\\\"}") AN_STOP("1")
		AN_TOOL_START("2", "toolu_b", "get_time") AN_JSON("2", "{\\\"tz\\\":\\\"CET\\\"}")
		AN_STOP("2") AN_DELTA("tool_use", "20") AN_END,
	.tools_text = "Let me check.",
	.id_a = "toolu_a",
	.id_b = "toolu_b",
	.model = "claude-sonnet-4-5-20250929",
	.no_content = "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
		      "\"stop_reason\":\"end_turn\"}",
	.sse_no_end = AN_START AN_TEXT_START("0") AN_TEXT("0", "Hello"),
	.sse_bad = AN_START AN_TEXT_START("0") AN_TEXT("0", "Hello")
		"event: content_block_delta\ndata: {\"type\": oops\n\n",
	.sse_error = AN_START AN_TEXT_START("0") AN_TEXT("0", "Hello")
		AN_EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
			       "\"message\":\"Overloaded\"}}"),
};

/* ---- per-test state ---- */

typedef struct {
	wire *w;
	mock_llm *m;
	tract_provider_client *c;
} ctx;

static const tract_provider *load(wire *w)
{
	void *h;
	tract_provider_entry_fn entry;

	if (w->p)
		return w->p;
	h = dlopen(w->plugin, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		fail_msg("dlopen %s: %s", w->plugin, dlerror());
	*(void **)&entry = dlsym(h, TRACT_PROVIDER_ENTRY);
	assert_non_null(entry);
	return w->p = entry();
}

/* A client of the plugin on the mock server, with extra options. */
static tract_provider_client *client_with(ctx *t, const tract_provider_option *extra, size_t n)
{
	tract_provider_option o[16];
	tract_provider_error err;
	tract_provider_client *c = NULL;
	size_t k = 0, i;

	o[k++] = (tract_provider_option){"base_url", mock_url(t->m)};
	o[k++] = (tract_provider_option){"api_key", KEY};
	o[k++] = (tract_provider_option){"timeout", "10"};
	for (i = 0; i < n; i++)
		o[k++] = extra[i];
	memset(&err, 0, sizeof(err));
	if (t->w->p->client_create(&c, o, k, &err) != 0)
		fail_msg("client_create: %s", err.message);
	return c;
}

static int setup(void **state)
{
	ctx *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->w = *state;
	load(t->w);
	assert_non_null(t->m = mock_start());
	t->c = client_with(t, NULL, 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	ctx *t = *state;

	t->w->p->client_free(t->c);
	mock_stop(t->m);
	free(t);
	return 0;
}

static void script1(ctx *t, mock_response r)
{
	mock_script(t->m, &r, 1);
}

static tract_chat_request request(const wire *w)
{
	tract_chat_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.version = TRACT_CHAT_REQUEST_VERSION;
	rq.body_json = w->body_json;
	return rq;
}

/* ---- the streamed pieces a callback saw ---- */

typedef struct {
	char text[4096];
	char id[4][64], name[4][64], args[4][256];
	int ids_seen[4], names_seen[4];
	int deltas;
	int stop_after; /* > 0: return 1 on this delta */
} pieces;

static int on_delta(const tract_chat_delta *d, void *payload)
{
	pieces *p = payload;

	p->deltas++;
	if (d->text)
		strncat(p->text, d->text, sizeof(p->text) - strlen(p->text) - 1);
	if (d->tool_call_index >= 0) {
		int i = d->tool_call_index;
		assert_true(i < 4);
		if (d->tool_call_id) {
			p->ids_seen[i]++;
			snprintf(p->id[i], sizeof(p->id[i]), "%s", d->tool_call_id);
		}
		if (d->tool_name) {
			p->names_seen[i]++;
			snprintf(p->name[i], sizeof(p->name[i]), "%s", d->tool_name);
		}
		if (d->arguments_fragment)
			strncat(p->args[i], d->arguments_fragment, sizeof(p->args[i]) - strlen(p->args[i]) - 1);
	}
	return p->stop_after && p->deltas >= p->stop_after;
}

/* ---- helpers ---- */

static int call(ctx *t, const tract_chat_request *rq, int stream, pieces *p, tract_chat_reply *reply,
		tract_provider_error *err)
{
	memset(reply, 0, sizeof(*reply));
	memset(err, 0, sizeof(*err));
	if (stream)
		return t->w->p->chat_stream(t->c, rq, on_delta, p, reply, err);
	return t->w->p->chat(t->c, rq, reply, err);
}

/* A failed call: its code, kind, one line without the key. */
static void assert_failed(int rc, const tract_provider_error *err, int code,
			  tract_provider_error_kind kind)
{
	if (rc != code || err->kind != kind)
		fail_msg("rc %d kind %d (want %d, %d): %s", rc, err->kind, code, kind, err->message);
	assert_true(strlen(err->message) > 0);
	assert_null(strchr(err->message, '\n'));
	assert_null(strstr(err->message, KEY));
	assert_null(strstr(err->message, "Bearer"));
}

static cJSON *sent_body(ctx *t, size_t i)
{
	const mock_request *r = mock_request_get(t->m, i);
	cJSON *b;

	assert_non_null(r);
	b = cJSON_Parse(r->body);
	if (!b)
		fail_msg("the plugin sent a body that is not JSON: %s", r->body);
	return b;
}

static void assert_reply_ok(const tract_chat_reply *r, const wire *w)
{
	assert_non_null(r->text);
	assert_string_equal(r->text, "Hello there.");
	assert_int_equal(r->n_tool_calls, 0);
	assert_non_null(r->finish_reason);
	assert_string_equal(r->finish_reason, "stop");
	assert_int_equal(r->usage.prompt_tokens, 12);
	assert_int_equal(r->usage.completion_tokens, 3);
	assert_int_equal(r->usage.total_tokens, 15);
	assert_non_null(r->model);
	assert_string_equal(r->model, w->model);
	assert_non_null(r->raw_json);
}

static void assert_key_header(ctx *t, const mock_request *r)
{
	char v[256];

	if (strcmp(t->w->name, "openai") == 0) {
		assert_int_equal(mock_header(r, "Authorization", v, sizeof(v)), 0);
		assert_string_equal(v, "Bearer " KEY);
	} else {
		assert_int_equal(mock_header(r, "x-api-key", v, sizeof(v)), 0);
		assert_string_equal(v, KEY);
		assert_int_equal(mock_header(r, "anthropic-version", v, sizeof(v)), 0);
		assert_string_equal(v, "2023-06-01");
	}
}

static mock_response sse(const char *body, size_t chunk, int pause_ms)
{
	mock_response r;

	memset(&r, 0, sizeof(r));
	r.content_type = "text/event-stream";
	r.body = body;
	r.chunked = 1;
	r.chunk_size = chunk;
	r.chunk_pause_ms = pause_ms;
	return r;
}

static mock_response json(int status, const char *body)
{
	mock_response r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.body = body;
	return r;
}

/* ---- the table ---- */

static void test_table(void **state)
{
	ctx *t = *state;
	const tract_provider *p = t->w->p;

	assert_int_equal(p->version, TRACT_PROVIDER_VERSION);
	assert_string_equal(p->name, t->w->name);
	assert_string_equal(p->wire_format, t->w->name);
	assert_non_null(p->default_model);
	assert_non_null(p->client_create);
	assert_non_null(p->client_free);
	assert_non_null(p->chat);
	assert_non_null(p->reply_clear);
	assert_non_null(p->chat_stream);
}

/* ---- success ---- */

static void test_whole_reply(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	const mock_request *r;
	cJSON *b, *msgs;
	char v[128];

	script1(t, json(200, t->w->ok));
	rq.has_temperature = 1;
	rq.temperature = 0.25;
	assert_int_equal(call(t, &rq, 0, NULL, &reply, &err), 0);
	assert_reply_ok(&reply, t->w);
	assert_string_equal(reply.raw_json, t->w->ok);
	t->w->p->reply_clear(t->c, &reply);
	assert_null(reply.text);

	/* what was sent */
	assert_int_equal(mock_request_count(t->m), 1);
	r = mock_request_get(t->m, 0);
	assert_string_equal(r->method, "POST");
	assert_string_equal(r->path, t->w->path);
	assert_key_header(t, r);
	assert_int_equal(mock_header(r, "Content-Type", v, sizeof(v)), 0);
	assert_string_equal(v, "application/json");
	b = sent_body(t, 0);
	assert_string_equal(cJSON_GetObjectItem(b, "model")->valuestring, t->w->p->default_model);
	msgs = cJSON_GetObjectItem(b, "messages");
	assert_true(cJSON_IsArray(msgs));
	assert_true(fabs(cJSON_GetObjectItem(b, "temperature")->valuedouble - 0.25) < 1e-9);
	assert_null(cJSON_GetObjectItem(b, "stream"));
	assert_null(cJSON_GetObjectItem(b, "tools"));
	if (strcmp(t->w->name, "openai") == 0) {
		assert_int_equal(cJSON_GetArraySize(msgs), 2);
		assert_null(cJSON_GetObjectItem(b, "max_tokens")); /* the server's default */
	} else {
		assert_string_equal(cJSON_GetObjectItem(b, "system")->valuestring, "Be brief.");
		assert_int_equal(cJSON_GetArraySize(msgs), 1);
		assert_int_equal(cJSON_GetObjectItem(b, "max_tokens")->valueint, 4096); /* required */
	}
	cJSON_Delete(b);
}

static void test_request_members(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	cJSON *b;

	script1(t, json(200, t->w->ok));
	rq.model = "my-model";
	rq.max_tokens = 77;
	rq.extra_json = "{\"top_p\":0.5,\"seed\":3,\"max_tokens\":88}";
	assert_int_equal(call(t, &rq, 0, NULL, &reply, &err), 0);
	t->w->p->reply_clear(t->c, &reply);
	b = sent_body(t, 0);
	assert_string_equal(cJSON_GetObjectItem(b, "model")->valuestring, "my-model");
	/* extra_json's members win over the plugin's */
	assert_int_equal(cJSON_GetObjectItem(b, "max_tokens")->valueint, 88);
	assert_true(fabs(cJSON_GetObjectItem(b, "top_p")->valuedouble - 0.5) < 1e-9);
	assert_int_equal(cJSON_GetObjectItem(b, "seed")->valueint, 3);
	assert_null(cJSON_GetObjectItem(b, "temperature"));
	cJSON_Delete(b);
}

static int members_named(const cJSON *o, const char *name)
{
	const cJSON *i;
	int n = 0;

	cJSON_ArrayForEach(i, o)
	{
		if (strcmp(i->string, name) == 0)
			n++;
	}
	return n;
}

/* The client splices its members into the rendered body without parsing
 * it, after checking it is one JSON object; a body that already has a
 * member the client sets takes the slow path: one member, the client's. */
static void test_body_splice(void **state)
{
	static const struct {
		const char *body, *extra;
		const char *member;  /* appears once, with value */
		const char *value;   /* a string, or NULL: the messages are extra's [] */
	} ok[] = {
		{NULL, NULL, "model", "gpt-test"},
		{"{\"model\":\"old\",\"messages\":[]}", NULL, "model", "gpt-test"},
		{"{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", "{\"messages\":[]}",
		 "messages", NULL},
		{" {\"mess\\u0061ges\" : [ ] , \"n\": -1.5e+3, \"t\":[true,false,null,{}] }\n", NULL,
		 "model", "gpt-test"},
		{"{}", NULL, "model", "gpt-test"},
	};
	static const char *const bad[] = {
		"[1, 2]", "{\"a\":}", "{\"a\":1} x", "{\"a\":1,}", "{\"a\":01}", "{\"a\":\"\x01\"}",
		"{\"a\":tru}", "{", "{\"a\":\"\\q\"}", "{\"a\":\"\\u12G4\"}", "{\"a\" 1}", "",
		"{\"a\":[1 2]}", "{\"a\":-}", "{\"a\":1.}", "{\"a\":1e}", "{1:2}",
	};
	ctx *t = *state;
	tract_chat_reply reply;
	tract_provider_error err;
	char deep[2100];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		tract_chat_request rq = request(t->w);
		const char *body = ok[i].body ? ok[i].body : t->w->body_json;
		const mock_request *r;
		cJSON *b;

		script1(t, json(200, t->w->ok));
		rq.body_json = body;
		rq.model = "gpt-test";
		rq.extra_json = ok[i].extra;
		if (call(t, &rq, 0, NULL, &reply, &err) != 0)
			fail_msg("case %zu: %s", i, err.message);
		t->w->p->reply_clear(t->c, &reply);
		r = mock_request_get(t->m, 0);
		b = sent_body(t, 0);
		assert_int_equal(members_named(b, ok[i].member), 1);
		assert_int_equal(members_named(b, "model"), 1);
		if (ok[i].value)
			assert_string_equal(cJSON_GetObjectItem(b, ok[i].member)->valuestring,
					    ok[i].value);
		else
			assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(b, "messages")), 0);
		if (!ok[i].body) /* the core's rendering goes as it is, the members after it */
			assert_memory_equal(r->body, body, strlen(body) - 1);
		cJSON_Delete(b);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]) + 1; i++) {
		tract_chat_request rq = request(t->w);
		int rc;

		if (i < sizeof(bad) / sizeof(bad[0])) {
			rq.body_json = bad[i];
		} else { /* nested deeper than cJSON's limit (1000) */
			memset(deep, 0, sizeof(deep));
			memcpy(deep, "{\"a\":", 5);
			memset(deep + 5, '[', 1001);
			memset(deep + 5 + 1001, ']', 1001);
			deep[5 + 2002] = '}';
			rq.body_json = deep;
		}
		script1(t, json(200, t->w->ok));
		rc = call(t, &rq, 0, NULL, &reply, &err);
		assert_failed(rc, &err, -4 /* TRACT_EINVAL */, TRACT_PROVIDER_ERR_REQUEST);
		assert_non_null(strstr(err.message, "body_json is not a JSON object"));
		assert_int_equal(mock_request_count(t->m), 0); /* nothing sent */
	}
}

static void test_streamed_reply(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	pieces p;
	char v[128];
	cJSON *b;

	memset(&p, 0, sizeof(p));
	/* 7-byte chunks: every line and every CRLF cut somewhere */
	script1(t, sse(t->w->ok_sse, 7, 1));
	assert_int_equal(call(t, &rq, 1, &p, &reply, &err), 0);
	assert_reply_ok(&reply, t->w);
	assert_string_equal(p.text, "Hello there.");
	assert_true(p.deltas >= 2);
	/* raw_json: the last event that says something (usage / message_delta) */
	assert_non_null(strstr(reply.raw_json, strcmp(t->w->name, "openai") == 0
						       ? "\"completion_tokens\":3"
						       : "\"type\":\"message_delta\""));
	{
		cJSON *raw = cJSON_Parse(reply.raw_json);
		assert_non_null(raw);
		cJSON_Delete(raw);
	}
	t->w->p->reply_clear(t->c, &reply);

	b = sent_body(t, 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
	if (strcmp(t->w->name, "openai") == 0)
		assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "stream_options"),
							     "include_usage")));
	cJSON_Delete(b);
	assert_int_equal(mock_header(mock_request_get(t->m, 0), "Accept", v, sizeof(v)), 0);
	assert_string_equal(v, "text/event-stream");
	assert_key_header(t, mock_request_get(t->m, 0));
}

/* The same stream with CRLF line ends, in one piece. */
static void test_streamed_crlf(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	pieces p;
	char *crlf = malloc(2 * strlen(t->w->ok_sse) + 1), *o = crlf;
	const char *s;

	for (s = t->w->ok_sse; *s; s++) {
		if (*s == '\n')
			*o++ = '\r';
		*o++ = *s;
	}
	*o = '\0';
	memset(&p, 0, sizeof(p));
	script1(t, sse(crlf, 0, 0));
	assert_int_equal(call(t, &rq, 1, &p, &reply, &err), 0);
	assert_reply_ok(&reply, t->w);
	assert_string_equal(p.text, "Hello there.");
	t->w->p->reply_clear(t->c, &reply);
	free(crlf);
}

/* A server that answers a streamed call with one JSON body. */
static void test_stream_answered_whole(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	pieces p;

	memset(&p, 0, sizeof(p));
	script1(t, json(200, t->w->ok));
	assert_int_equal(call(t, &rq, 1, &p, &reply, &err), 0);
	assert_reply_ok(&reply, t->w);
	assert_string_equal(p.text, "Hello there.");
	assert_int_equal(p.deltas, 1);
	t->w->p->reply_clear(t->c, &reply);
}

/* ---- tool calls ---- */

static const char tools_json[] =
	"[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather\","
	"\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}},"
	"{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]";

static void assert_calls(const tract_chat_reply *r, const wire *w)
{
	assert_int_equal(r->n_tool_calls, 2);
	assert_string_equal(r->tool_calls[0].id, w->id_a);
	assert_string_equal(r->tool_calls[0].name, "get_weather");
	assert_string_equal(r->tool_calls[0].arguments_json, "{\"city\":\"Paris\"}");
	assert_string_equal(r->tool_calls[1].id, w->id_b);
	assert_string_equal(r->tool_calls[1].name, "get_time");
	assert_string_equal(r->tool_calls[1].arguments_json, "{\"tz\":\"CET\"}");
	assert_string_equal(r->finish_reason, "tool_calls");
	if (w->tools_text)
		assert_string_equal(r->text, w->tools_text);
	else
		assert_null(r->text);
	assert_int_equal(r->usage.prompt_tokens, 40);
	assert_int_equal(r->usage.completion_tokens, 20);
	assert_int_equal(r->usage.total_tokens, 60);
}

static void assert_tools_sent(ctx *t, const char *choice)
{
	cJSON *b = sent_body(t, 0), *tools = cJSON_GetObjectItem(b, "tools"), *tc;

	assert_int_equal(cJSON_GetArraySize(tools), 2);
	tc = cJSON_GetObjectItem(b, "tool_choice");
	if (strcmp(t->w->name, "openai") == 0) {
		cJSON *fn = cJSON_GetObjectItem(cJSON_GetArrayItem(tools, 0), "function");
		assert_string_equal(cJSON_GetObjectItem(fn, "name")->valuestring, "get_weather");
		if (strcmp(choice, "required") == 0) {
			assert_string_equal(tc->valuestring, "required");
		} else {
			assert_string_equal(cJSON_GetObjectItem(tc, "type")->valuestring, "function");
			assert_string_equal(
				cJSON_GetObjectItem(cJSON_GetObjectItem(tc, "function"), "name")->valuestring,
				choice);
		}
	} else {
		cJSON *t0 = cJSON_GetArrayItem(tools, 0), *t1 = cJSON_GetArrayItem(tools, 1);
		assert_string_equal(cJSON_GetObjectItem(t0, "name")->valuestring, "get_weather");
		assert_string_equal(cJSON_GetObjectItem(t0, "description")->valuestring, "Weather");
		assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
					    cJSON_GetObjectItem(t0, "input_schema"), "properties"), "city"),
					    "type")->valuestring, "string");
		assert_null(cJSON_GetObjectItem(t0, "function"));
		/* no parameters: an empty object schema */
		assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(t1, "input_schema"), "type")
					    ->valuestring, "object");
		if (strcmp(choice, "required") == 0) {
			assert_string_equal(cJSON_GetObjectItem(tc, "type")->valuestring, "any");
		} else {
			assert_string_equal(cJSON_GetObjectItem(tc, "type")->valuestring, "tool");
			assert_string_equal(cJSON_GetObjectItem(tc, "name")->valuestring, choice);
		}
	}
	cJSON_Delete(b);
}

static void test_tool_calls_whole(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;

	script1(t, json(200, t->w->tools));
	rq.tools_json = tools_json;
	rq.tool_choice = "required";
	assert_int_equal(call(t, &rq, 0, NULL, &reply, &err), 0);
	assert_calls(&reply, t->w);
	t->w->p->reply_clear(t->c, &reply);
	assert_tools_sent(t, "required");
}

static void test_tool_calls_streamed(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	pieces p;

	memset(&p, 0, sizeof(p));
	script1(t, sse(t->w->tools_sse, 11, 0));
	rq.tools_json = tools_json;
	rq.tool_choice = "get_time";
	assert_int_equal(call(t, &rq, 1, &p, &reply, &err), 0);
	assert_calls(&reply, t->w);
	/* the pieces add up to the calls; id and name come once */
	assert_string_equal(p.id[0], t->w->id_a);
	assert_string_equal(p.name[0], "get_weather");
	assert_string_equal(p.args[0], "{\"city\":\"Paris\"}");
	assert_string_equal(p.id[1], t->w->id_b);
	assert_string_equal(p.name[1], "get_time");
	assert_string_equal(p.args[1], "{\"tz\":\"CET\"}");
	assert_int_equal(p.ids_seen[0], 1);
	assert_int_equal(p.names_seen[0], 1);
	assert_int_equal(p.ids_seen[1], 1);
	assert_int_equal(p.names_seen[1], 1);
	assert_string_equal(p.text, t->w->tools_text ? t->w->tools_text : "");
	t->w->p->reply_clear(t->c, &reply);
	assert_tools_sent(t, "get_time");
}

static void test_bad_tools_json(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	int rc;

	rq.tools_json = "{\"not\":\"an array\"}";
	rc = call(t, &rq, 0, NULL, &reply, &err);
	assert_failed(rc, &err, -4 /* TRACT_EINVAL */, TRACT_PROVIDER_ERR_REQUEST);
	rq.tools_json = NULL;
	rq.body_json = "[1, 2]";
	rc = call(t, &rq, 0, NULL, &reply, &err);
	assert_failed(rc, &err, -4, TRACT_PROVIDER_ERR_REQUEST);
	assert_int_equal(mock_request_count(t->m), 0); /* nothing sent */
}

/* ---- failures by status ---- */

static void check_auth(ctx *t, int status, int stream)
{
	static char body[256];
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	pieces p;
	int rc;

	memset(&p, 0, sizeof(p));
	/* the server echoes the key: the message must not */
	snprintf(body, sizeof(body),
		 "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
		 "\"message\":\"Incorrect API key provided: %s\"}}", KEY);
	script1(t, json(status, body));
	rc = call(t, &rq, stream, &p, &reply, &err);
	assert_failed(rc, &err, -10 /* TRACT_EAUTH */, TRACT_PROVIDER_ERR_AUTH);
	assert_int_equal(err.http_status, status);
	assert_non_null(strstr(err.message, "Incorrect API key provided: ***"));
	assert_int_equal(mock_request_count(t->m), 1);
	assert_int_equal(p.deltas, 0);
	assert_null(reply.text);
}

static void test_auth_failures(void **state)
{
	ctx *t = *state;

	check_auth(t, 401, 0);
	check_auth(t, 403, 0);
	check_auth(t, 401, 1);
	check_auth(t, 403, 1);
}

static void test_rate_limit_then_success(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	mock_response rs[2];
	int rc;

	rs[0] = json(429, "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"rate_limit_error\"}}");
	rs[0].headers = "Retry-After: 2\r\n";
	rs[1] = json(200, t->w->ok);
	mock_script(t->m, rs, 2);
	rc = call(t, &rq, 0, NULL, &reply, &err);
	assert_failed(rc, &err, -11 /* TRACT_ERATELIMIT */, TRACT_PROVIDER_ERR_RATE_LIMIT);
	assert_int_equal(err.http_status, 429);
	assert_true(err.retry_after == 2.0);
	assert_non_null(strstr(err.message, "Rate limit reached"));
	/* the next attempt (the core's, after the wait) succeeds */
	assert_int_equal(call(t, &rq, 0, NULL, &reply, &err), 0);
	assert_reply_ok(&reply, t->w);
	t->w->p->reply_clear(t->c, &reply);
	assert_int_equal(mock_request_count(t->m), 2);
}

/* ---- failures, one table: each case scripts one response, makes one
 * call and checks the outcome ---- */

/* Where a case's body comes from: a literal, or the wire's own. */
typedef enum { LIT, W_OK, W_OK_SSE, W_NO_CONTENT, W_SSE_NO_END, W_SSE_BAD, W_SSE_ERROR } body_of;

typedef struct {
	const char *only;         /* a wire's name, or NULL = both */
	int status;               /* 0 = 200 */
	body_of from;
	const char *body;         /* from == LIT */
	int sse;                  /* the body is an event stream, chunked */
	size_t chunk;
	const char *content_type; /* NULL = by sse */
	const char *headers;
	int delay_ms;             /* before the status line */
	const char *stall_after;  /* stall after the event holding this text... */
	size_t stall_bytes;       /* ...or after this many bytes (SIZE_MAX = half) */
	int stall_ms;
	int stream;               /* chat_stream() */
	double timeout;           /* the request's timeout_seconds, 0 = the client's */
	int code;
	tract_provider_error_kind kind;
	int http_status;          /* 0 = not checked */
	double retry_after;       /* NAN = not checked */
	const char *has, *lacks;  /* in the message */
	const char *text;         /* the streamed text handed on before the failure */
	int no_deltas;            /* nothing was handed on */
} fail_case;

#define NOT_CHECKED .retry_after = NAN

static const char *body_from(const wire *w, const fail_case *c)
{
	switch (c->from) {
	case W_OK:
		return w->ok;
	case W_OK_SSE:
		return w->ok_sse;
	case W_NO_CONTENT:
		return w->no_content;
	case W_SSE_NO_END:
		return w->sse_no_end;
	case W_SSE_BAD:
		return w->sse_bad;
	case W_SSE_ERROR:
		return w->sse_error;
	default:
		return c->body;
	}
}

static void run_failures(ctx *t, const fail_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const fail_case *c = &cases[i];
		const char *body = body_from(t->w, c);
		tract_chat_request rq = request(t->w);
		tract_chat_reply reply;
		tract_provider_error err;
		mock_response r;
		pieces p;
		int rc;

		if (c->only && strcmp(c->only, t->w->name) != 0)
			continue;
		r = c->sse ? sse(body, c->chunk, 0) : json(c->status, body);
		if (c->status)
			r.status = c->status;
		if (c->content_type)
			r.content_type = c->content_type;
		r.headers = c->headers;
		r.delay_ms = c->delay_ms;
		if (c->stall_after)
			r.stall_after = (size_t)(strstr(strstr(body, c->stall_after), "\n\n") + 2 - body);
		else if (c->stall_bytes)
			r.stall_after = c->stall_bytes == SIZE_MAX ? strlen(body) / 2 : c->stall_bytes;
		r.stall_ms = c->stall_ms;
		script1(t, r);
		memset(&p, 0, sizeof(p));
		rq.timeout_seconds = c->timeout;
		rc = call(t, &rq, c->stream, &p, &reply, &err);
		if (rc != c->code || err.kind != c->kind)
			fail_msg("%s case %zu: rc %d kind %d (want %d, %d): %s", t->w->name, i, rc,
				 err.kind, c->code, c->kind, err.message);
		assert_failed(rc, &err, c->code, c->kind);
		assert_null(reply.text);
		assert_int_equal(mock_request_count(t->m), 1); /* one attempt, no retry */
		if (c->http_status)
			assert_int_equal(err.http_status, c->http_status);
		if (!isnan(c->retry_after))
			assert_true(err.retry_after == c->retry_after);
		if (c->has && !strstr(err.message, c->has))
			fail_msg("%s case %zu: '%s' not in: %s", t->w->name, i, c->has, err.message);
		if (c->lacks)
			assert_null(strstr(err.message, c->lacks));
		if (c->text)
			assert_string_equal(p.text, c->text);
		if (c->no_deltas)
			assert_int_equal(p.deltas, 0);
	}
}

#define SERVER_ERROR_BODY(t) "{\"error\":{\"message\":\"" t "\",\"type\":\"server_error\"}}"

/* Failures by status: classified, the server's message kept (not its
 * HTML), Retry-After read in its forms (see also test_retry_after_date). */
static const fail_case status_cases[] = {
	{.status = 429, .body = "{}", .headers = "retry-after-ms: 1500\r\nRetry-After: 9\r\n",
	 .stream = 1, .code = -11, .kind = TRACT_PROVIDER_ERR_RATE_LIMIT, .http_status = 429,
	 .retry_after = 1.5},
	{.status = 429, .body = "{}", .code = -11, .kind = TRACT_PROVIDER_ERR_RATE_LIMIT,
	 .retry_after = -1}, /* none said */
	{.status = 429, .body = "{}", .headers = "Retry-After: soon\r\n", .code = -11,
	 .kind = TRACT_PROVIDER_ERR_RATE_LIMIT, .retry_after = -1},
	{.status = 429, .body = "{\"error\":{\"message\":\"Rate limit reached\",\"type\":"
				"\"rate_limit_error\"}}", .headers = "Retry-After: 2\r\n", .code = -11,
	 .kind = TRACT_PROVIDER_ERR_RATE_LIMIT, .http_status = 429, .retry_after = 2,
	 .has = "Rate limit reached"},
	/* a quota is not a rate limit: waiting does not help */
	{.status = 429, .body = "{\"error\":{\"message\":\"You exceeded your current quota\","
				"\"type\":\"insufficient_quota\",\"code\":\"insufficient_quota\"}}",
	 .code = -9, .kind = TRACT_PROVIDER_ERR_REQUEST, NOT_CHECKED, .has = "quota"},
	{.status = 500, .body = SERVER_ERROR_BODY("The server had an error"), .code = -9,
	 .kind = TRACT_PROVIDER_ERR_SERVER, .http_status = 500, NOT_CHECKED,
	 .has = "The server had an error"},
	{.status = 503, .body = "<html>busy</html>", .content_type = "text/html", .code = -9,
	 .kind = TRACT_PROVIDER_ERR_SERVER, .http_status = 503, NOT_CHECKED, .lacks = "<html>"},
	{.status = 529, .body = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
				"\"message\":\"Overloaded\"}}", .headers = "retry-after: 4\r\n",
	 .stream = 1, .code = -9, .kind = TRACT_PROVIDER_ERR_SERVER, .http_status = 529,
	 .retry_after = 4, .has = "Overloaded"},
	{.status = 400, .body = "{\"error\":{\"message\":\"messages: field required\",\"type\":"
				"\"invalid_request_error\"}}", .code = -9,
	 .kind = TRACT_PROVIDER_ERR_REQUEST, .http_status = 400, NOT_CHECKED,
	 .has = "messages: field required"},
	/* 408: the server gave up waiting; a redirect is not followed */
	{.status = 408, .body = "{}", .code = -12, .kind = TRACT_PROVIDER_ERR_TIMEOUT,
	 .http_status = 408, NOT_CHECKED},
	{.status = 307, .body = "", .headers = "Location: http://127.0.0.1:1/elsewhere\r\n",
	 .code = -9, .kind = TRACT_PROVIDER_ERR_REQUEST, .http_status = 307, NOT_CHECKED},
};

/* Replies that are not what the wire format says. */
static const fail_case malformed_cases[] = {
	{.body = "{\"id\": \"x\", \"choices\": [ {\"message\": ", .code = -9,
	 .kind = TRACT_PROVIDER_ERR_BAD_RESPONSE, NOT_CHECKED, .has = "bad reply"},
	{.from = W_NO_CONTENT, .code = -9, .kind = TRACT_PROVIDER_ERR_BAD_RESPONSE, NOT_CHECKED,
	 .has = "bad reply"},
	{.body = "\"just a string\"", .code = -9, .kind = TRACT_PROVIDER_ERR_BAD_RESPONSE,
	 NOT_CHECKED, .has = "bad reply"},
	{.from = W_SSE_BAD, .sse = 1, .chunk = 5, .stream = 1, .code = -9,
	 .kind = TRACT_PROVIDER_ERR_BAD_RESPONSE, NOT_CHECKED, .has = "not JSON", .text = "Hello"},
	{.body = "data: {\"a\":1}\n\nthis is not an event stream at all\n", .sse = 1, .stream = 1,
	 .code = -9, .kind = TRACT_PROVIDER_ERR_BAD_RESPONSE, NOT_CHECKED},
	/* a clean end of an incomplete stream; a connection closed half way */
	{.from = W_SSE_NO_END, .sse = 1, .stream = 1, .code = -9,
	 .kind = TRACT_PROVIDER_ERR_BAD_RESPONSE, NOT_CHECKED, .has = "ended", .text = "Hello"},
	{.from = W_OK_SSE, .sse = 1, .stall_bytes = SIZE_MAX, .stall_ms = 1, .stream = 1,
	 .code = -9, .kind = TRACT_PROVIDER_ERR_TRANSPORT, NOT_CHECKED},
	/* an error the server sends inside a 200 stream */
	{.from = W_SSE_ERROR, .sse = 1, .stream = 1, .code = -9, .kind = TRACT_PROVIDER_ERR_SERVER,
	 NOT_CHECKED, .has = "verloaded", .text = "Hello"},
	/* OpenAI: no choice, no message, a message with neither content nor
	 * calls, a call without a name */
	{.only = "openai", .body = "{\"choices\":[]}", .code = -9,
	 .kind = TRACT_PROVIDER_ERR_BAD_RESPONSE, NOT_CHECKED},
	{.only = "openai", .body = "{\"choices\":[{\"index\":0,\"finish_reason\":\"stop\"}]}",
	 .code = -9, .kind = TRACT_PROVIDER_ERR_BAD_RESPONSE, NOT_CHECKED},
	{.only = "openai",
	 .body = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":null}}]}",
	 .code = -9, .kind = TRACT_PROVIDER_ERR_BAD_RESPONSE, NOT_CHECKED},
	{.only = "openai",
	 .body = "{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[{\"id\":\"c\","
		 "\"type\":\"function\",\"function\":{\"arguments\":\"{}\"}}]}}]}",
	 .code = -9, .kind = TRACT_PROVIDER_ERR_BAD_RESPONSE, NOT_CHECKED},
};

/* A server that stalls before answering, and one that stalls mid-stream
 * (what came before the stall is handed on) or mid-body. */
static const fail_case stall_cases[] = {
	{.from = W_OK, .delay_ms = 20000, .timeout = 0.5, .code = -12,
	 .kind = TRACT_PROVIDER_ERR_TIMEOUT, NOT_CHECKED},
	{.from = W_OK_SSE, .sse = 1, .delay_ms = 20000, .stream = 1, .timeout = 1, .code = -12,
	 .kind = TRACT_PROVIDER_ERR_TIMEOUT, NOT_CHECKED, .no_deltas = 1},
	{.from = W_OK_SSE, .sse = 1, .chunk = 16, .stall_after = "Hello", .stall_ms = 20000,
	 .stream = 1, .timeout = 1, .code = -12, .kind = TRACT_PROVIDER_ERR_TIMEOUT, NOT_CHECKED,
	 .text = "Hello"},
	{.from = W_OK, .stall_bytes = 20, .stall_ms = 20000, .timeout = 1, .code = -12,
	 .kind = TRACT_PROVIDER_ERR_TIMEOUT, NOT_CHECKED},
};

#define RUN_FAILURES(name, table)                                                                  \
	static void name(void **state)                                                             \
	{                                                                                          \
		run_failures(*state, table, sizeof(table) / sizeof(table[0]));                     \
	}
RUN_FAILURES(test_failures_by_status, status_cases)
RUN_FAILURES(test_malformed_replies, malformed_cases)
RUN_FAILURES(test_stalls, stall_cases)

/* Retry-After as an HTTP date, 30 s ahead. */
static void test_retry_after_date(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	mock_response r = json(429, "{}");
	char date_header[128];
	time_t when = time(NULL) + 30;
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(date_header, sizeof(date_header), "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
	r.headers = date_header;
	script1(t, r);
	assert_failed(call(t, &rq, 0, NULL, &reply, &err), &err, -11, TRACT_PROVIDER_ERR_RATE_LIMIT);
	assert_true(err.retry_after >= 25 && err.retry_after <= 31);
}

/* ---- transport ---- */

static void test_connection_refused(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	tract_provider_client *c = NULL;
	char url[64];
	tract_provider_option o[2] = {{"base_url", url}, {"api_key", KEY}};
	pieces p;
	int rc, stream;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", mock_free_port());
	assert_int_equal(t->w->p->client_create(&c, o, 2, &err), 0);
	for (stream = 0; stream < 2; stream++) {
		memset(&p, 0, sizeof(p));
		memset(&err, 0, sizeof(err));
		rc = stream ? t->w->p->chat_stream(c, &rq, on_delta, &p, &reply, &err)
			    : t->w->p->chat(c, &rq, &reply, &err);
		assert_failed(rc, &err, -9, TRACT_PROVIDER_ERR_TRANSPORT);
		assert_int_equal(err.http_status, 0);
	}
	t->w->p->client_free(c);
}

/* The client's timeout option, when the request gives none. */
static void test_timeout_option(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	tract_provider_option o[] = {{"timeout", "0.5"}};
	tract_provider_client *c = client_with(t, o, 1);
	mock_response rs[2];
	int rc;

	rs[0] = json(200, t->w->ok);
	rs[0].delay_ms = 20000;
	rs[1] = json(200, t->w->ok);
	rs[1].delay_ms = 100; /* within it */
	mock_script(t->m, rs, 2);
	memset(&err, 0, sizeof(err));
	rc = t->w->p->chat(c, &rq, &reply, &err);
	assert_failed(rc, &err, -12, TRACT_PROVIDER_ERR_TIMEOUT);
	assert_non_null(strstr(err.message, "0.5 s"));
	assert_int_equal(t->w->p->chat(c, &rq, &reply, &err), 0);
	assert_reply_ok(&reply, t->w);
	t->w->p->reply_clear(c, &reply);
	t->w->p->client_free(c);
}

/* Streams that end well but say little, and one with no choice at all. */
static void test_openai_stream_shapes(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	mock_response rs[3];
	pieces p;
	int rc;

	/* a finish reason without content (no [DONE]: some servers) */
	rs[0] = sse(OA_CHUNK("{\"role\":\"assistant\"}", "null") OA_CHUNK("{}", "\"length\""), 0, 0);
	/* a call whose arguments never came */
	rs[1] = sse(OA_CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"c9\",\"function\":"
			     "{\"name\":\"now\"}}]}", "\"tool_calls\"") "data: [DONE]\n\n", 0, 0);
	rs[2] = sse("data: [DONE]\n\n", 0, 0);
	mock_script(t->m, rs, 3);
	memset(&p, 0, sizeof(p));
	assert_int_equal(call(t, &rq, 1, &p, &reply, &err), 0);
	assert_string_equal(reply.text, "");
	assert_string_equal(reply.finish_reason, "length");
	assert_int_equal(reply.usage.prompt_tokens, -1);
	t->w->p->reply_clear(t->c, &reply);
	memset(&p, 0, sizeof(p));
	assert_int_equal(call(t, &rq, 1, &p, &reply, &err), 0);
	assert_int_equal(reply.n_tool_calls, 1);
	assert_string_equal(reply.tool_calls[0].arguments_json, "{}");
	assert_string_equal(p.args[0], "{}"); /* the pieces say so too */
	t->w->p->reply_clear(t->c, &reply);
	rc = call(t, &rq, 1, &p, &reply, &err);
	assert_failed(rc, &err, -9, TRACT_PROVIDER_ERR_BAD_RESPONSE);
	assert_non_null(strstr(err.message, "no choice"));
}

static void test_anthropic_shapes(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	mock_response rs[3];
	int rc;

	/* an empty content array is an empty text; a tool_use without input
	 * has "{}"; thinking blocks are left out; max_tokens maps to length */
	rs[0] = json(200, "{\"type\":\"message\",\"content\":[],\"stop_reason\":\"end_turn\","
			  "\"usage\":{\"input_tokens\":5,\"cache_read_input_tokens\":100,\"output_tokens\":0}}");
	rs[1] = json(200, "{\"type\":\"message\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\"},"
			  "{\"type\":\"tool_use\",\"id\":\"toolu_x\",\"name\":\"now\"},"
			  "{\"type\":\"text\",\"text\":\"cut\"}],\"stop_reason\":\"max_tokens\"}");
	rs[2] = json(200, "{\"type\":\"message\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\"}]}");
	mock_script(t->m, rs, 3);
	assert_int_equal(call(t, &rq, 0, NULL, &reply, &err), 0);
	assert_string_equal(reply.text, "");
	assert_int_equal(reply.usage.prompt_tokens, 105);
	assert_int_equal(reply.usage.completion_tokens, 0);
	assert_int_equal(reply.usage.total_tokens, 105);
	assert_null(reply.model);
	t->w->p->reply_clear(t->c, &reply);
	assert_int_equal(call(t, &rq, 0, NULL, &reply, &err), 0);
	assert_string_equal(reply.text, "cut");
	assert_int_equal(reply.n_tool_calls, 1);
	assert_string_equal(reply.tool_calls[0].arguments_json, "{}");
	assert_string_equal(reply.finish_reason, "length");
	assert_int_equal(reply.usage.prompt_tokens, -1);
	t->w->p->reply_clear(t->c, &reply);
	rc = call(t, &rq, 0, NULL, &reply, &err);
	assert_failed(rc, &err, -9, TRACT_PROVIDER_ERR_BAD_RESPONSE);
}

/* ---- size bound ---- */

static void test_huge_body(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	tract_provider_option small[] = {{"max_response_bytes", "4096"}};
	mock_response rs[3];
	tract_provider_client *c;
	pieces p;
	int rc;

	rs[0] = json(200, NULL);
	rs[0].fill = 50u << 20; /* 50 MB */
	rs[1] = sse(NULL, 65536, 0);
	rs[1].fill = 50u << 20;
	rs[2] = json(200, NULL);
	rs[2].fill = 10000;
	mock_script(t->m, rs, 3);
	rc = call(t, &rq, 0, NULL, &reply, &err);
	assert_failed(rc, &err, -9, TRACT_PROVIDER_ERR_BAD_RESPONSE);
	assert_non_null(strstr(err.message, "larger than 16777216 bytes"));
	memset(&p, 0, sizeof(p));
	rc = call(t, &rq, 1, &p, &reply, &err);
	assert_failed(rc, &err, -9, TRACT_PROVIDER_ERR_BAD_RESPONSE);
	assert_non_null(strstr(err.message, "larger than"));
	c = client_with(t, small, 1);
	rc = t->w->p->chat(c, &rq, &reply, &err);
	assert_failed(rc, &err, -9, TRACT_PROVIDER_ERR_BAD_RESPONSE);
	assert_non_null(strstr(err.message, "larger than 4096 bytes"));
	t->w->p->client_free(c);
}

/* ---- cancellation ---- */

static void test_cancel(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	mock_response rs[2];
	pieces p;
	int rc;

	rs[0] = sse(t->w->ok_sse, 9, 0);
	rs[1] = json(200, t->w->ok); /* a whole answer to a streamed call */
	mock_script(t->m, rs, 2);
	memset(&p, 0, sizeof(p));
	p.stop_after = 1;
	rc = call(t, &rq, 1, &p, &reply, &err);
	assert_failed(rc, &err, -19 /* TRACT_EABORTED */, TRACT_PROVIDER_ERR_CANCELLED);
	assert_int_equal(p.deltas, 1);
	memset(&p, 0, sizeof(p));
	p.stop_after = 1;
	rc = call(t, &rq, 1, &p, &reply, &err);
	assert_failed(rc, &err, -19, TRACT_PROVIDER_ERR_CANCELLED);
	assert_null(reply.text);
}

/* ---- the key ---- */

static void test_key_not_in_raw_reply(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	char body[1024];

	/* a server that echoes the key inside a successful reply */
	if (strcmp(t->w->name, "openai") == 0)
		snprintf(body, sizeof(body),
			 "{\"choices\":[{\"message\":{\"content\":\"ok\"}}],\"echo\":\"%s\"}", KEY);
	else
		snprintf(body, sizeof(body),
			 "{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}],\"echo\":\"%s\"}", KEY);
	script1(t, json(200, body));
	assert_int_equal(call(t, &rq, 0, NULL, &reply, &err), 0);
	assert_string_equal(reply.text, "ok");
	assert_null(strstr(reply.raw_json, KEY));
	assert_non_null(strstr(reply.raw_json, "\"echo\":\"***\""));
	t->w->p->reply_clear(t->c, &reply);
}

/* ---- threads ---- */

typedef struct {
	ctx *t;
	int stream;
	int rc;
	char text[64];
} worker;

static void *work(void *p)
{
	worker *w = p;
	tract_chat_request rq = request(w->t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	pieces pc;

	memset(&pc, 0, sizeof(pc));
	memset(&err, 0, sizeof(err));
	memset(&reply, 0, sizeof(reply));
	w->rc = w->stream ? w->t->w->p->chat_stream(w->t->c, &rq, on_delta, &pc, &reply, &err)
			  : w->t->w->p->chat(w->t->c, &rq, &reply, &err);
	if (w->rc == 0 && reply.text)
		snprintf(w->text, sizeof(w->text), "%s", reply.text);
	w->t->w->p->reply_clear(w->t->c, &reply);
	return NULL;
}

/* One client, eight calls at once (answered slowly), whole then streamed. */
static void test_concurrent_calls(void **state)
{
	ctx *t = *state;
	mock_response rs[8];
	pthread_t th[8];
	worker w[8];
	int i, stream;

	for (stream = 0; stream < 2; stream++) {
		for (i = 0; i < 8; i++) {
			rs[i] = stream ? sse(t->w->ok_sse, 13, 5) : json(200, t->w->ok);
			rs[i].delay_ms = 100;
		}
		mock_script(t->m, rs, 8);
		for (i = 0; i < 8; i++) {
			memset(&w[i], 0, sizeof(w[i]));
			w[i].t = t;
			w[i].stream = stream;
			assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
		}
		for (i = 0; i < 8; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(w[i].rc, 0);
			assert_string_equal(w[i].text, "Hello there.");
		}
		assert_int_equal(mock_request_count(t->m), 8);
	}
}

/* ---- options and environment ---- */

static void test_options(void **state)
{
	ctx *t = *state;
	const tract_provider *p = t->w->p;
	tract_provider_client *c = NULL;
	tract_provider_error err;
	static const struct {
		const char *key, *value, *says;
	} bad[] = {
		{"api_kee", KEY, "unknown option 'api_kee'"},
		{"timeout", "0", "timeout"},
		{"timeout", "soon", "timeout"},
		{"timeout", "nan", "timeout"},
		{"base_url", "ftp://example.com", "base_url"},
		{"max_response_bytes", "12", "max_response_bytes"},
		{"max_response_bytes", "-5", "max_response_bytes"},
		{"model", "", "model"},
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tract_provider_option o[2] = {{"api_key", KEY}, {bad[i].key, bad[i].value}};
		memset(&err, 0, sizeof(err));
		assert_int_equal(p->client_create(&c, o, 2, &err), -4);
		assert_null(c);
		assert_int_equal(err.kind, TRACT_PROVIDER_ERR_REQUEST);
		if (!strstr(err.message, bad[i].says))
			fail_msg("'%s' does not name '%s'", err.message, bad[i].says);
		assert_null(strstr(err.message, KEY));
	}
	/* the other provider's own options are not this one's */
	{
		tract_provider_option o = {strcmp(t->w->name, "openai") == 0 ? "anthropic_version"
									     : "organization", "x"};
		assert_int_equal(p->client_create(&c, &o, 1, &err), -4);
		assert_non_null(strstr(err.message, "unknown option"));
	}
	/* a NULL value */
	{
		tract_provider_option o = {"model", NULL};
		assert_int_equal(p->client_create(&c, &o, 1, &err), -4);
	}
}

static void test_provider_options_sent(void **state)
{
	ctx *t = *state;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	tract_provider_client *c;
	char v[128];
	cJSON *b;

	script1(t, json(200, t->w->ok));
	if (strcmp(t->w->name, "openai") == 0) {
		tract_provider_option o[] = {{"organization", "org-42"}, {"model", "local-llama"}};
		c = client_with(t, o, 2);
	} else {
		tract_provider_option o[] = {{"anthropic_version", "2024-01-01"}, {"max_tokens", "123"},
					     {"model", "local-llama"}};
		c = client_with(t, o, 3);
	}
	assert_int_equal(t->w->p->chat(c, &rq, &reply, &err), 0);
	t->w->p->reply_clear(c, &reply);
	t->w->p->client_free(c);
	b = sent_body(t, 0);
	assert_string_equal(cJSON_GetObjectItem(b, "model")->valuestring, "local-llama");
	if (strcmp(t->w->name, "openai") == 0) {
		assert_int_equal(mock_header(mock_request_get(t->m, 0), "OpenAI-Organization", v, sizeof(v)), 0);
		assert_string_equal(v, "org-42");
	} else {
		assert_int_equal(mock_header(mock_request_get(t->m, 0), "anthropic-version", v, sizeof(v)), 0);
		assert_string_equal(v, "2024-01-01");
		assert_int_equal(cJSON_GetObjectItem(b, "max_tokens")->valueint, 123);
	}
	cJSON_Delete(b);
}

static void env_names(const wire *w, const char **tkey, const char **key, const char **turl,
		      const char **url)
{
	int oa = strcmp(w->name, "openai") == 0;

	*tkey = oa ? "TRACT_OPENAI_API_KEY" : "TRACT_ANTHROPIC_API_KEY";
	*key = oa ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY";
	*turl = oa ? "TRACT_OPENAI_BASE_URL" : "TRACT_ANTHROPIC_BASE_URL";
	*url = oa ? "OPENAI_BASE_URL" : "ANTHROPIC_BASE_URL";
}

/* The key and URL from the environment (TRACT_ first); no key: no header. */
static void test_environment(void **state)
{
	ctx *t = *state;
	const char *tkey, *key, *turl, *url;
	tract_chat_request rq = request(t->w);
	tract_chat_reply reply;
	tract_provider_error err;
	tract_provider_client *c = NULL;
	const char *hdr = strcmp(t->w->name, "openai") == 0 ? "Authorization" : "x-api-key";
	mock_response rs[3] = {json(200, t->w->ok), json(200, t->w->ok), json(200, t->w->ok)};
	char v[256];

	env_names(t->w, &tkey, &key, &turl, &url);
	mock_script(t->m, rs, 3);
	setenv(tkey, "sk-from-tract-env", 1);
	setenv(key, "sk-from-plain-env", 1);
	setenv(url, mock_url(t->m), 1);
	assert_int_equal(t->w->p->client_create(&c, NULL, 0, &err), 0);
	assert_int_equal(t->w->p->chat(c, &rq, &reply, &err), 0);
	t->w->p->reply_clear(c, &reply);
	t->w->p->client_free(c);
	assert_int_equal(mock_header(mock_request_get(t->m, 0), hdr, v, sizeof(v)), 0);
	assert_non_null(strstr(v, "sk-from-tract-env"));

	unsetenv(tkey);
	setenv(turl, mock_url(t->m), 1);
	setenv(url, "http://127.0.0.1:1", 1); /* TRACT_ wins */
	assert_int_equal(t->w->p->client_create(&c, NULL, 0, &err), 0);
	assert_int_equal(t->w->p->chat(c, &rq, &reply, &err), 0);
	t->w->p->reply_clear(c, &reply);
	t->w->p->client_free(c);
	assert_int_equal(mock_header(mock_request_get(t->m, 1), hdr, v, sizeof(v)), 0);
	assert_non_null(strstr(v, "sk-from-plain-env"));

	/* a local server that needs no key: no key header at all */
	unsetenv(key);
	assert_int_equal(t->w->p->client_create(&c, NULL, 0, &err), 0);
	assert_int_equal(t->w->p->chat(c, &rq, &reply, &err), 0);
	assert_reply_ok(&reply, t->w);
	t->w->p->reply_clear(c, &reply);
	t->w->p->client_free(c);
	assert_int_equal(mock_header(mock_request_get(t->m, 2), hdr, v, sizeof(v)), -1);

	setenv(turl, "file:///etc/passwd", 1);
	assert_int_equal(t->w->p->client_create(&c, NULL, 0, &err), -4);
	assert_non_null(strstr(err.message, turl));
	assert_null(strstr(err.message, "/etc/passwd"));
	unsetenv(turl);
	unsetenv(url);
}

/* ---- registration ---- */

#define BOTH(f)                                                                      \
	cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, &openai_wire), \
		cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, &anthropic_wire)

int main(void)
{
	static const char *const clear[] = {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
					    "ALL_PROXY", "all_proxy", "OPENAI_API_KEY",
					    "OPENAI_BASE_URL", "TRACT_OPENAI_API_KEY",
					    "TRACT_OPENAI_BASE_URL", "ANTHROPIC_API_KEY",
					    "ANTHROPIC_BASE_URL", "TRACT_ANTHROPIC_API_KEY",
					    "TRACT_ANTHROPIC_BASE_URL"};
	const struct CMUnitTest tests[] = {
		BOTH(test_table),
		BOTH(test_whole_reply),
		BOTH(test_request_members),
		BOTH(test_body_splice),
		BOTH(test_streamed_reply),
		BOTH(test_streamed_crlf),
		BOTH(test_stream_answered_whole),
		BOTH(test_tool_calls_whole),
		BOTH(test_tool_calls_streamed),
		BOTH(test_bad_tools_json),
		BOTH(test_auth_failures),
		BOTH(test_rate_limit_then_success),
		BOTH(test_retry_after_date),
		BOTH(test_failures_by_status),
		BOTH(test_connection_refused),
		BOTH(test_timeout_option),
		BOTH(test_stalls),
		BOTH(test_malformed_replies),
		cmocka_unit_test_prestate_setup_teardown(test_openai_stream_shapes, setup, teardown,
							 &openai_wire),
		cmocka_unit_test_prestate_setup_teardown(test_anthropic_shapes, setup, teardown,
							 &anthropic_wire),
		BOTH(test_huge_body),
		BOTH(test_cancel),
		BOTH(test_key_not_in_raw_reply),
		BOTH(test_concurrent_calls),
		BOTH(test_options),
		BOTH(test_provider_options_sent),
		BOTH(test_environment),
	};
	size_t i;

	for (i = 0; i < sizeof(clear) / sizeof(clear[0]); i++)
		unsetenv(clear[i]);
	setenv("NO_PROXY", "127.0.0.1,localhost", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
