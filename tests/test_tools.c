/*
 * test_tools.c - tool calls as data (DESIGN.md §9, core/chat.h): tool_io's
 * call_id (reference hashes unchanged), the provider messages and the
 * openai / anthropic request bodies (calls grouped, ids given or derived,
 * results paired, orphans and unanswered calls kept as text, Anthropic's
 * turn rules, reasoning), the commit-time check of a result's call id,
 * and the bodies validated against the providers' published request
 * schemas (tests/schemas/, a small JSON Schema validator below) and the
 * pairing rules the schemas cannot say. Runs on every backend
 * (TRACT_TEST_BACKEND).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <sys/stat.h>

#include "helpers.h"
#include "chat.h"

#ifndef TOOLS_SCHEMA_DIR
#error "TOOLS_SCHEMA_DIR must name tests/schemas"
#endif
#ifndef TOOLS_FIXTURES_DIR
#error "TOOLS_FIXTURES_DIR must name tests/fixtures/py-tract"
#endif

#include "schema_check.h"

/* Render ctx in both wire formats and check each against its schema and
 * rules; the bodies in *openai / *anthropic (free them) when not NULL. */
static void check_bodies(const tract_context *c, unsigned flags, char **openai, char **anthropic)
{
	char why[600];
	char *o = NULL, *a = NULL, *r = NULL;

	assert_int_equal(tract_chat_body_render(&o, c, "openai", flags), 0);
	assert_int_equal(tract_chat_body_render(&a, c, "anthropic", flags), 0);
	/* The public rendering is the very same text (compile --format). */
	assert_int_equal(
	    tract_context_render_with(&r, NULL, c, TRACT_FORMAT_OPENAI,
	                              flags & TRACT_CHAT_REASONING ? TRACT_RENDER_REASONING : 0),
	    0);
	assert_string_equal(r, o);
	tract_string_free(r);
	assert_int_equal(
	    tract_context_render_with(&r, NULL, c, TRACT_FORMAT_ANTHROPIC,
	                              flags & TRACT_CHAT_REASONING ? TRACT_RENDER_REASONING : 0),
	    0);
	assert_string_equal(r, a);
	tract_string_free(r);
	if (c->count) {
		if (!schema_valid("openai-chat.schema.json", o, why, sizeof(why)))
			fail_msg("openai body refused by the schema (%s): %s", why, o);
		if (!openai_rules(o, why, sizeof(why)))
			fail_msg("openai body breaks a rule (%s): %s", why, o);
	}
	if (!schema_valid("anthropic-messages.schema.json", a, why, sizeof(why)))
		fail_msg("anthropic body refused by the schema (%s): %s", why, a);
	if (!anthropic_rules(a, why, sizeof(why)))
		fail_msg("anthropic body breaks a rule (%s): %s", why, a);
	if (openai)
		*openai = o;
	else
		free(o);
	if (anthropic)
		*anthropic = a;
	else
		free(a);
}

/* ------------------------------------------------------------------ */
/* helpers                                                              */
/* ------------------------------------------------------------------ */

static void tool(fx *f, char out[65], const char *name, const char *dir, const char *call_id,
                 const char *status, const char *payload)
{
	char json[2048];

	snprintf(
	    json, sizeof(json),
	    "{\"content_type\":\"tool_io\",\"tool_name\":\"%s\",\"direction\":\"%s\"%s%s%s%s%s%s,"
	    "\"payload\":%s}",
	    name, dir, call_id ? ",\"call_id\":\"" : "", call_id ? call_id : "",
	    call_id ? "\"" : "", status ? ",\"status\":\"" : "", status ? status : "",
	    status ? "\"" : "", payload);
	fx_commit(f, out, json, NULL);
}

static void derived(char out[30], const char *hash)
{
	snprintf(out, 30, "call_%.24s", hash);
}

static const cJSON *msg_at(const cJSON *body, int i)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItem(body, "messages"), i);
}

static const char *str_at(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int count_msgs(const cJSON *body)
{
	return cJSON_GetArraySize(cJSON_GetObjectItem(body, "messages"));
}

/* ------------------------------------------------------------------ */
/* call_id in tool_io                                                   */
/* ------------------------------------------------------------------ */

static void test_call_id_and_hashes(void **state)
{
	fx *f = fx_new(NULL);
	char h[65], h2[65], *json = NULL;
	fx_counts before;
	tract_commit *c = NULL;
	static const char *const bad[] = {
	    "\"\"",
	    "\"a b\"",
	    "\"call.1\"",
	    "\"caf\xc3\xa9\"",
	    "1",
	    "{}",
	    "[\"x\"]",
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"" /* 65 */};
	size_t i;

	(void)state;
	/* spec/core.md §2.5: the reference's vector, without call_id. */
	assert_int_equal(
	    tract_content_normalize(&json, h, f->t,
	                            "{\"content_type\":\"tool_io\",\"tool_name\":"
	                            "\"calc\",\"direction\":\"call\",\"payload\":{\"b\":"
	                            "1,\"a\":\"\xc3\xa9\"}}"),
	    0);
	assert_string_equal(h, "858cf0725e405ded358a3cafd1e12b12e6e53fb658e94a59ddcab08c47c9812e");
	assert_null(strstr(json, "call_id"));
	tract_string_free(json);
	/* call_id null is the same content: absent from N. */
	assert_int_equal(tract_content_normalize(&json, h2, f->t,
	                                         "{\"content_type\":\"tool_io\",\"tool_name\":"
	                                         "\"calc\",\"direction\":\"call\",\"call_id\":null,"
	                                         "\"payload\":{\"b\":1,\"a\":\"\xc3\xa9\"}}"),
	                 0);
	assert_string_equal(h2, h);
	tract_string_free(json);
	/* With an id: stored, and a different hash. */
	assert_int_equal(
	    tract_content_normalize(&json, h2, f->t,
	                            "{\"content_type\":\"tool_io\",\"tool_name\":"
	                            "\"calc\",\"direction\":\"call\",\"call_id\":"
	                            "\"toolu_01A-b\",\"payload\":{\"b\":1,\"a\":\"\xc3\xa9\"}}"),
	    0);
	assert_string_not_equal(h2, h);
	assert_non_null(strstr(json, "\"call_id\": \"toolu_01A-b\""));
	tract_string_free(json);
	/* 64 characters is the most. */
	assert_int_equal(
	    tract_content_normalize(NULL, NULL, f->t,
	                            "{\"content_type\":\"tool_io\",\"tool_name\":\"t\","
	                            "\"direction\":\"call\",\"payload\":{},\"call_id\":"
	                            "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	                            "aaaaaaaaaaaaa\"}"),
	    0);
	before = fx_count(f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char content[512];
		snprintf(content, sizeof(content),
		         "{\"content_type\":\"tool_io\",\"tool_name\":\"t\",\"direction\":\"call\","
		         "\"payload\":{},\"call_id\":%s}",
		         bad[i]);
		assert_int_equal(tract_commit_create(&c, f->t, content, NULL), TRACT_EINVAL);
		assert_null(c);
		assert_non_null(strstr(tract_error_last()->message, "call_id"));
	}
	fx_assert_same_counts(before, fx_count(f));
	/* Committed, the id is in the stored payload. */
	tool(f, h, "calc", "call", "call_7", NULL, "{\"x\":1}");
	assert_int_equal(tract_commit_lookup(&c, f->t, h), 0);
	assert_non_null(strstr(tract_commit_content(c), "\"call_id\": \"call_7\""));
	tract_commit_free(c);
	fx_free(f);
}

/* ------------------------------------------------------------------ */
/* grouping, ids, pairing                                               */
/* ------------------------------------------------------------------ */

static void test_parallel_calls_grouped(void **state)
{
	fx *f = fx_new(NULL);
	char ha[65], hb[65], ida[30], idb[30], *o, *a;
	tract_context *c;
	cJSON *jo, *ja;
	const cJSON *m, *calls, *blocks;

	(void)state;
	fx_commit(f, NULL, "{\"content_type\":\"instruction\",\"text\":\"Use tools.\"}", NULL);
	fx_say(f, NULL, "user", "weather and time?");
	tool(f, ha, "weather", "call", NULL, NULL, "{\"city\":\"Paris\",\"n\":1.5}");
	tool(f, hb, "clock", "call", NULL, NULL, "{}");
	tool(f, NULL, "clock", "result", NULL, NULL, "{\"text\":\"12:00\"}");
	tool(f, NULL, "weather", "result", NULL, "error", "{\"code\":503,\"msg\":\"down\"}");
	fx_say(f, NULL, "assistant", "It is noon; weather is unavailable.");
	derived(ida, ha);
	derived(idb, hb);
	c = fx_compile(f, NULL);
	check_bodies(c, 0, &o, &a);
	jo = cJSON_Parse(o);
	ja = cJSON_Parse(a);

	/* openai: system, user, one assistant with both calls, two tool
	 * messages in the results' order, the answer. */
	assert_int_equal(count_msgs(jo), 6);
	m = msg_at(jo, 2);
	assert_string_equal(str_at(m, "role"), "assistant");
	assert_null(cJSON_GetObjectItem(m, "content"));
	calls = cJSON_GetObjectItem(m, "tool_calls");
	assert_int_equal(cJSON_GetArraySize(calls), 2);
	assert_string_equal(str_at(cJSON_GetArrayItem(calls, 0), "id"), ida);
	assert_string_equal(str_at(cJSON_GetArrayItem(calls, 0), "type"), "function");
	assert_string_equal(
	    str_at(cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 0), "function"), "name"),
	    "weather");
	/* arguments: a JSON string, J-CANON of the payload */
	assert_string_equal(
	    str_at(cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 0), "function"), "arguments"),
	    "{\"city\":\"Paris\",\"n\":1.5}");
	assert_string_equal(str_at(cJSON_GetArrayItem(calls, 1), "id"), idb);
	assert_string_equal(
	    str_at(cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 1), "function"), "arguments"),
	    "{}");
	m = msg_at(jo, 3);
	assert_string_equal(str_at(m, "role"), "tool");
	assert_string_equal(str_at(m, "tool_call_id"), idb);
	assert_string_equal(str_at(m, "content"), "12:00"); /* the only "text" member */
	m = msg_at(jo, 4);
	assert_string_equal(str_at(m, "tool_call_id"), ida);
	assert_string_equal(str_at(m, "content"), "{\"code\":503,\"msg\":\"down\"}");

	/* anthropic: system apart; user, assistant [tool_use, tool_use],
	 * user [tool_result, tool_result (is_error)], assistant. */
	assert_string_equal(str_at(ja, "system"), "Use tools.");
	assert_int_equal(count_msgs(ja), 4);
	blocks = cJSON_GetObjectItem(msg_at(ja, 1), "content");
	assert_int_equal(cJSON_GetArraySize(blocks), 2);
	assert_string_equal(str_at(cJSON_GetArrayItem(blocks, 0), "type"), "tool_use");
	assert_string_equal(str_at(cJSON_GetArrayItem(blocks, 0), "id"), ida);
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetArrayItem(blocks, 0), "input")));
	assert_int_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(blocks, 0), "input"), "n")
	            ->valuedouble == 1.5,
	    1);
	blocks = cJSON_GetObjectItem(msg_at(ja, 2), "content");
	assert_string_equal(str_at(msg_at(ja, 2), "role"), "user");
	assert_int_equal(cJSON_GetArraySize(blocks), 2);
	assert_string_equal(str_at(cJSON_GetArrayItem(blocks, 0), "tool_use_id"), idb);
	assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(blocks, 0), "is_error"));
	assert_string_equal(str_at(cJSON_GetArrayItem(blocks, 1), "tool_use_id"), ida);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(blocks, 1), "is_error")));

	cJSON_Delete(jo);
	cJSON_Delete(ja);
	free(o);
	free(a);
	tract_context_free(c);
	fx_free(f);
}

/* A result without an id answers the latest unanswered call of its tool. */
static void test_pairing_latest_unanswered(void **state)
{
	fx *f = fx_new(NULL);
	char h1[65], h2[65], h3[65], id1[30], id2[30], id3[30], *o;
	tract_context *c;
	cJSON *jo;

	(void)state;
	fx_say(f, NULL, "user", "search twice");
	tool(f, h1, "search", "call", NULL, NULL, "{\"q\":\"one\"}");
	tool(f, h2, "search", "call", NULL, NULL, "{\"q\":\"two\"}");
	tool(f, h3, "fetch", "call", NULL, NULL, "{\"u\":\"x\"}");
	tool(f, NULL, "search", "result", NULL, NULL, "{\"text\":\"R-two\"}");
	tool(f, NULL, "fetch", "result", NULL, NULL, "{\"text\":\"R-fetch\"}");
	tool(f, NULL, "search", "result", NULL, NULL, "{\"text\":\"R-one\"}");
	derived(id1, h1);
	derived(id2, h2);
	derived(id3, h3);
	c = fx_compile(f, NULL);
	check_bodies(c, 0, &o, NULL);
	jo = cJSON_Parse(o);
	assert_int_equal(count_msgs(jo), 5);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(msg_at(jo, 1), "tool_calls")), 3);
	assert_string_equal(str_at(msg_at(jo, 2), "tool_call_id"), id2);
	assert_string_equal(str_at(msg_at(jo, 2), "content"), "R-two");
	assert_string_equal(str_at(msg_at(jo, 3), "tool_call_id"), id3);
	assert_string_equal(str_at(msg_at(jo, 4), "tool_call_id"), id1);
	assert_string_equal(str_at(msg_at(jo, 4), "content"), "R-one");
	cJSON_Delete(jo);
	free(o);
	tract_context_free(c);
	fx_free(f);
}

/* Given ids are kept and pair exactly; a repeated given id yields to a
 * derived one; a result may name a derived id. */
static void test_given_ids(void **state)
{
	fx *f = fx_new(NULL);
	char h3[65], id3[30], *o, *a;
	tract_context *c;
	cJSON *jo;
	const cJSON *calls;

	(void)state;
	fx_say(f, NULL, "user", "go");
	tool(f, NULL, "search", "call", "toolu_A", NULL, "{\"q\":1}");
	tool(f, NULL, "search", "call", "toolu_B", NULL, "{\"q\":2}");
	tool(f, h3, "search", "call", "toolu_A", NULL, "{\"q\":3}"); /* a repeat */
	derived(id3, h3);
	/* by id, in any order; the third names the derived id */
	tool(f, NULL, "search", "result", "toolu_A", NULL, "{\"text\":\"a\"}");
	tool(f, NULL, "search", "result", id3, NULL, "{\"text\":\"c\"}");
	tool(f, NULL, "search", "result", "toolu_B", NULL, "{\"text\":\"b\"}");
	c = fx_compile(f, NULL);
	check_bodies(c, 0, &o, &a);
	jo = cJSON_Parse(o);
	calls = cJSON_GetObjectItem(msg_at(jo, 1), "tool_calls");
	assert_string_equal(str_at(cJSON_GetArrayItem(calls, 0), "id"), "toolu_A");
	assert_string_equal(str_at(cJSON_GetArrayItem(calls, 1), "id"), "toolu_B");
	assert_string_equal(str_at(cJSON_GetArrayItem(calls, 2), "id"), id3);
	assert_string_equal(str_at(msg_at(jo, 2), "tool_call_id"), "toolu_A");
	assert_string_equal(str_at(msg_at(jo, 2), "content"), "a");
	assert_string_equal(str_at(msg_at(jo, 3), "tool_call_id"), id3);
	assert_string_equal(str_at(msg_at(jo, 3), "content"), "c");
	assert_string_equal(str_at(msg_at(jo, 4), "tool_call_id"), "toolu_B");
	cJSON_Delete(jo);
	free(o);
	free(a);
	tract_context_free(c);
	fx_free(f);

	/* A given id longer than OpenAI takes (40): the derived id is sent,
	 * and the result naming the given id still answers the call. */
	f = fx_new(NULL);
	fx_say(f, NULL, "user", "go");
	tool(f, h3, "s", "call", "id_of_41_characters_xxxxxxxxxxxxxxxxxxxxx", NULL, "{}");
	tool(f, NULL, "s", "result", "id_of_41_characters_xxxxxxxxxxxxxxxxxxxxx", NULL,
	     "{\"text\":\"r\"}");
	derived(id3, h3);
	c = fx_compile(f, NULL);
	check_bodies(c, 0, &o, &a);
	jo = cJSON_Parse(o);
	calls = cJSON_GetObjectItem(msg_at(jo, 1), "tool_calls");
	assert_string_equal(str_at(cJSON_GetArrayItem(calls, 0), "id"), id3);
	assert_string_equal(str_at(msg_at(jo, 2), "tool_call_id"), id3);
	cJSON_Delete(jo);
	free(o);
	free(a);
	tract_context_free(c);
	fx_free(f);
}

/* Calls without their result right after, and results without a call,
 * stay text: the bodies stay valid. */
static void test_unanswered_and_orphans(void **state)
{
	fx *f = fx_new(NULL);
	char *o, *a, hl[65], idl[30];
	tract_context *c;
	cJSON *jo, *ja;
	const cJSON *blocks;

	(void)state;
	tool(f, NULL, "lost", "result", NULL, NULL, "{\"text\":\"orphan\"}"); /* no call */
	fx_say(f, NULL, "user", "hi");
	tool(f, hl, "late", "call", NULL, NULL, "{}");
	derived(idl, hl);
	fx_say(f, NULL, "user", "still there?"); /* between the call and its result */
	tool(f, NULL, "late", "result", NULL, NULL, "{\"text\":\"late result\"}");
	/* a second result of the same call: answers nothing */
	tool(f, NULL, "late", "result", idl, NULL, "{\"v\":1}");
	fx_say(f, NULL, "assistant", "ok");
	tool(f, NULL, "pending", "call", NULL, NULL, "{\"a\":[1]}"); /* at the end */
	c = fx_compile(f, NULL);
	check_bodies(c, 0, &o, &a);
	jo = cJSON_Parse(o);
	ja = cJSON_Parse(a);
	/* openai: no tool message and no tool_calls at all */
	assert_null(strstr(o, "tool_calls"));
	assert_null(strstr(o, "\"tool\""));
	assert_int_equal(count_msgs(jo), 8);
	assert_string_equal(str_at(msg_at(jo, 0), "role"), "user");
	assert_string_equal(str_at(msg_at(jo, 0), "content"), "Tool result: lost\n{\n  \"text\": "
	                                                      "\"orphan\"\n}");
	assert_string_equal(str_at(msg_at(jo, 2), "role"), "assistant");
	assert_string_equal(str_at(msg_at(jo, 2), "content"), "Tool call: late\n{}");
	assert_string_equal(str_at(msg_at(jo, 4), "role"), "user");
	assert_string_equal(str_at(msg_at(jo, 7), "role"), "assistant");
	assert_string_equal(str_at(msg_at(jo, 7), "content"),
	                    "Tool call: pending\n{\n  \"a\": [\n    1\n  ]\n}");
	/* anthropic: the user texts merged into turns of blocks */
	assert_int_equal(count_msgs(ja), 4);
	blocks = cJSON_GetObjectItem(msg_at(ja, 0), "content");
	assert_int_equal(cJSON_GetArraySize(blocks), 2);
	assert_string_equal(str_at(cJSON_GetArrayItem(blocks, 1), "text"), "hi");
	cJSON_Delete(jo);
	cJSON_Delete(ja);
	free(o);
	free(a);
	tract_context_free(c);
	fx_free(f);
}

/* Derived ids come from the commit hashes: the same across compiles,
 * handles, caches and backends (the fixture test compares backends). */
static void test_derived_ids_stable(void **state)
{
	tract_open_options oo = TRACT_OPEN_OPTIONS_INIT;
	fx *f = fx_new(NULL);
	tract_context *c;
	tract *t2;
	char h[65], id[30], *o1, *o2, *a1, *a2;

	(void)state;
	fx_say(f, NULL, "user", "q");
	tool(f, h, "calc", "call", NULL, NULL, "{\"e\":\"1+1\"}");
	tool(f, NULL, "calc", "result", NULL, NULL, "{\"text\":\"2\"}");
	derived(id, h);
	c = fx_compile(f, NULL);
	check_bodies(c, 0, &o1, &a1);
	tract_context_free(c);
	assert_non_null(strstr(o1, id));
	assert_non_null(strstr(a1, id));
	/* another handle, no cache */
	oo.compile_cache_size = 0;
	assert_int_equal(tract_open(&t2, f->store, tract_id(f->t), &oo), 0);
	assert_int_equal(tract_context_compile(&c, t2, NULL), 0);
	check_bodies(c, 0, &o2, &a2);
	assert_string_equal(o1, o2);
	assert_string_equal(a1, a2);
	free(o2);
	free(a2);
	tract_context_free(c);
	tract_free(t2);
	/* the snapshot a commit derives gives the same body as a full compile */
	fx_say(f, NULL, "assistant", "2");
	c = fx_compile(f, NULL);
	assert_int_equal(tract_chat_body_render(&o2, c, "openai", 0), 0);
	assert_non_null(strstr(o2, id));
	assert_int_equal(strncmp(o1, o2, strlen(o1) - 2), 0);
	free(o2);
	tract_context_free(c);
	free(o1);
	free(a1);
	fx_free(f);
}

/* ------------------------------------------------------------------ */
/* Anthropic's turn rules, reasoning, edits and skips                   */
/* ------------------------------------------------------------------ */

static void test_anthropic_rules(void **state)
{
	fx *f = fx_new(NULL);
	char *a;
	tract_context *c;
	cJSON *ja;
	const cJSON *blocks;

	(void)state;
	fx_say(f, NULL, "assistant", "Hello! How can I help?"); /* leading assistant */
	fx_commit(f, NULL, "{\"content_type\":\"instruction\",\"text\":\"Be kind.\"}", NULL);
	fx_say(f, NULL, "user", "one");
	fx_say(f, NULL, "system", "Mid-way note.");
	fx_say(f, NULL, "user", "two");           /* merged with "one" */
	fx_say(f, NULL, "user", " \n\t");         /* blank: left out */
	fx_say(f, NULL, "assistant", "");         /* empty: left out */
	fx_say(f, NULL, "assistant", "Done. \n"); /* final: trimmed */
	c = fx_compile(f, NULL);
	check_bodies(c, 0, NULL, &a);
	ja = cJSON_Parse(a);
	assert_string_equal(str_at(ja, "system"), "Be kind.\n\nMid-way note.");
	assert_int_equal(count_msgs(ja), 4);
	assert_string_equal(str_at(msg_at(ja, 0), "role"), "user");
	assert_string_equal(str_at(msg_at(ja, 0), "content"), TRACT_CHAT_LEAD_TEXT);
	assert_string_equal(str_at(msg_at(ja, 1), "content"), "Hello! How can I help?");
	blocks = cJSON_GetObjectItem(msg_at(ja, 2), "content");
	assert_int_equal(cJSON_GetArraySize(blocks), 2);
	assert_string_equal(str_at(cJSON_GetArrayItem(blocks, 0), "text"), "one");
	assert_string_equal(str_at(cJSON_GetArrayItem(blocks, 1), "text"), "two");
	assert_string_equal(str_at(msg_at(ja, 3), "content"), "Done.");
	cJSON_Delete(ja);
	free(a);
	tract_context_free(c);

	/* No system text: no "system" member. An empty context: no messages. */
	fx_free(f);
	f = fx_new(NULL);
	fx_say(f, NULL, "user", "hi");
	c = fx_compile(f, NULL);
	check_bodies(c, 0, NULL, &a);
	assert_string_equal(a, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}");
	free(a);
	tract_context_free(c);
	fx_free(f);
}

static void test_reasoning(void **state)
{
	fx *f = fx_new(NULL);
	char *o, *a, *j = NULL;
	tract_context *c;
	cJSON *jo;

	(void)state;
	fx_say(f, NULL, "user", "2+2?");
	fx_commit(f, NULL, "{\"content_type\":\"reasoning\",\"text\":\"add them\"}", NULL);
	fx_say(f, NULL, "assistant", "4");
	c = fx_compile(f, NULL);
	/* left out by default */
	check_bodies(c, 0, &o, &a);
	assert_null(strstr(o, "add them"));
	assert_null(strstr(a, "add them"));
	jo = cJSON_Parse(o);
	assert_int_equal(count_msgs(jo), 2);
	cJSON_Delete(jo);
	free(o);
	free(a);
	/* asked for: assistant text, merged with the answer for Anthropic */
	check_bodies(c, TRACT_CHAT_REASONING, &o, &a);
	jo = cJSON_Parse(o);
	assert_int_equal(count_msgs(jo), 3);
	assert_string_equal(str_at(msg_at(jo, 1), "role"), "assistant");
	assert_string_equal(str_at(msg_at(jo, 1), "content"), "add them");
	cJSON_Delete(jo);
	assert_non_null(strstr(a, "{\"type\": \"text\", \"text\": \"add them\"}, {\"type\": "
	                          "\"text\", \"text\": \"4\"}"));
	free(o);
	free(a);
	/* the json rendering is the reference's: reasoning is a message */
	assert_int_equal(tract_context_render(&j, c, TRACT_FORMAT_JSON), 0);
	assert_non_null(strstr(j, "\"content\": \"add them\""));
	tract_string_free(j);
	tract_context_free(c);
	fx_free(f);
}

/* Edits and skips act on tool commits as compile has them. */
static void test_edits_and_skips(void **state)
{
	fx *f = fx_new(NULL);
	tract_commit_options eo = TRACT_COMMIT_OPTIONS_INIT;
	char hc[65], hr[65], id[30], *o;
	tract_context *c;
	cJSON *jo;
	const cJSON *fn;

	(void)state;
	fx_say(f, NULL, "user", "q");
	tool(f, hc, "calc", "call", NULL, NULL, "{\"e\":\"1+1\"}");
	tool(f, hr, "calc", "result", NULL, NULL, "{\"text\":\"2\"}");
	derived(id, hc);
	/* an edit of the call: new arguments, the id of the original commit */
	eo.operation = TRACT_OP_EDIT;
	eo.response_to = hc;
	fx_commit(f, NULL,
	          "{\"content_type\":\"tool_io\",\"tool_name\":\"calc\",\"direction\":\"call\","
	          "\"payload\":{\"e\":\"2+2\"}}",
	          &eo);
	c = fx_compile(f, NULL);
	check_bodies(c, 0, &o, NULL);
	jo = cJSON_Parse(o);
	fn = cJSON_GetObjectItem(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(msg_at(jo, 1), "tool_calls"), 0), "function");
	assert_string_equal(str_at(fn, "arguments"), "{\"e\":\"2+2\"}");
	assert_string_equal(str_at(msg_at(jo, 2), "tool_call_id"), id);
	cJSON_Delete(jo);
	free(o);
	tract_context_free(c);
	/* the result skipped: the call is unanswered, kept as text */
	assert_int_equal(tract_annotation_create(NULL, f->t, hr, TRACT_PRIORITY_SKIP, NULL), 0);
	c = fx_compile(f, NULL);
	check_bodies(c, 0, &o, NULL);
	assert_null(strstr(o, "tool_calls"));
	assert_non_null(strstr(o, "Tool call: calc"));
	free(o);
	tract_context_free(c);
	fx_free(f);
}

/* ------------------------------------------------------------------ */
/* the neutral messages                                                 */
/* ------------------------------------------------------------------ */

static void test_neutral_messages(void **state)
{
	fx *f = fx_new(NULL);
	tract_chat_messages *cm = NULL;
	char h1[65], id1[30];
	tract_context *c;

	(void)state;
	fx_say(f, NULL, "user", "q");
	fx_commit(f, NULL, "{\"content_type\":\"reasoning\",\"text\":\"hmm\"}", NULL);
	fx_say(f, NULL, "assistant", "Let me look.");
	tool(f, h1, "search", "call", NULL, NULL, "{\"q\":\"x\"}");
	tool(f, NULL, "open", "call", "call_given", NULL, "{}");
	tool(f, NULL, "open", "result", "call_given", "error", "{\"text\":\"denied\"}");
	tool(f, NULL, "search", "result", NULL, "success", "{\"hits\":[]}");
	derived(id1, h1);
	c = fx_compile(f, NULL);
	assert_int_equal(tract_chat_messages_build(&cm, c, 0), 0);
	/* user; assistant "Let me look." with both calls; two tool messages */
	assert_int_equal(cm->count, 4);
	assert_string_equal(cm->items[0].role, "user");
	assert_string_equal(cm->items[1].role, "assistant");
	assert_string_equal(cm->items[1].content, "Let me look.");
	assert_int_equal(cm->items[1].n_tool_calls, 2);
	assert_string_equal(cm->items[1].tool_calls[0].id, id1);
	assert_string_equal(cm->items[1].tool_calls[0].name, "search");
	assert_string_equal(cm->items[1].tool_calls[0].arguments_json, "{\"q\":\"x\"}");
	assert_string_equal(cm->items[1].tool_calls[1].id, "call_given");
	assert_string_equal(cm->items[2].role, "tool");
	assert_string_equal(cm->items[2].tool_call_id, "call_given");
	assert_string_equal(cm->items[2].content, "denied");
	assert_int_equal(cm->items[2].is_error, 1);
	assert_string_equal(cm->items[3].tool_call_id, id1);
	assert_string_equal(cm->items[3].content, "{\"hits\":[]}");
	assert_int_equal(cm->items[3].is_error, 0);
	tract_chat_messages_free(cm);
	/* with reasoning: it is the assistant text the calls join */
	assert_int_equal(tract_chat_messages_build(&cm, c, TRACT_CHAT_REASONING), 0);
	assert_int_equal(cm->count, 5);
	assert_string_equal(cm->items[1].content, "hmm");
	assert_int_equal(cm->items[1].n_tool_calls, 0);
	assert_int_equal(cm->items[2].n_tool_calls, 2);
	tract_chat_messages_free(cm);
	/* the messages outlive the context they came from (a reference) */
	assert_int_equal(tract_chat_messages_build(&cm, c, 0), 0);
	tract_context_free(c);
	assert_string_equal(cm->items[3].tool_call_id, id1);
	tract_chat_messages_free(cm);
	tract_chat_messages_free(NULL);
	fx_free(f);
}

static void test_bad_arguments(void **state)
{
	fx *f = fx_new(NULL);
	tract_context *c;
	char *s = (char *)"x";

	(void)state;
	fx_say(f, NULL, "user", "q");
	c = fx_compile(f, NULL);
	assert_int_equal(tract_chat_body_render(&s, c, "gemini", 0), TRACT_EINVAL);
	assert_null(s);
	assert_int_equal(tract_chat_body_render(&s, NULL, "openai", 0), TRACT_EINVAL);
	assert_int_equal(tract_chat_messages_build(NULL, c, 0), TRACT_EINVAL);
	tract_context_free(c);
	fx_free(f);
}

/* ------------------------------------------------------------------ */
/* the commit-time check of a result's call id                          */
/* ------------------------------------------------------------------ */

static void test_result_call_id_checked(void **state)
{
	fx *f = fx_new(NULL);
	tract_commit *c = NULL;
	fx_counts before;
	char h[65], id[30];

	(void)state;
	/* on an empty tract: no call at all */
	before = fx_count(f);
	assert_int_equal(tract_commit_create(&c, f->t,
	                                     "{\"content_type\":\"tool_io\",\"tool_name\":\"t\","
	                                     "\"direction\":\"result\",\"call_id\":\"call_x\","
	                                     "\"payload\":{}}",
	                                     NULL),
	                 TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "call_x"));
	fx_assert_same_counts(before, fx_count(f));
	tool(f, NULL, "t", "call", "call_x", NULL, "{}");
	tool(f, h, "t", "call", NULL, NULL, "{}");
	derived(id, h);
	before = fx_count(f);
	assert_int_equal(tract_commit_create(&c, f->t,
	                                     "{\"content_type\":\"tool_io\",\"tool_name\":\"t\","
	                                     "\"direction\":\"result\",\"call_id\":\"call_y\","
	                                     "\"payload\":{}}",
	                                     NULL),
	                 TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message,
	                       "tool result answers call id 'call_y', which no tool call"));
	fx_assert_same_counts(before, fx_count(f));
	/* given and derived ids are known; a result without an id is not checked */
	tool(f, NULL, "t", "result", "call_x", NULL, "{}");
	tool(f, NULL, "t", "result", id, NULL, "{}");
	tool(f, NULL, "t", "result", NULL, NULL, "{}");
	/* inside a batch too, and a call made in the batch counts */
	assert_int_equal(tract_batch_begin(f->t), 0);
	tool(f, NULL, "t", "call", "call_z", NULL, "{}");
	tool(f, NULL, "t", "result", "call_z", NULL, "{}");
	assert_int_equal(tract_batch_commit(f->t), 0);
	fx_free(f);
}

/* ------------------------------------------------------------------ */
/* tract_content_build's tool kinds                                     */
/* ------------------------------------------------------------------ */

static void test_content_build_tools(void **state)
{
	tract_content_build_options o = TRACT_CONTENT_BUILD_OPTIONS_INIT;
	tract_content_build_options v1 = TRACT_CONTENT_BUILD_OPTIONS_INIT;
	char *s = NULL, *s2 = NULL;
	cJSON *j;

	(void)state;
	o.tool_name = "calc";
	/* a call without an id gets a fresh one */
	assert_int_equal(tract_content_build(&s, "tool-call", "{\"a\": 1.50}", NULL, &o), 0);
	assert_int_equal(tract_content_build(&s2, "tool-call", "{\"a\": 1.50}", NULL, &o), 0);
	j = cJSON_Parse(s);
	assert_string_equal(str_at(j, "content_type"), "tool_io");
	assert_string_equal(str_at(j, "direction"), "call");
	assert_string_equal(str_at(j, "tool_name"), "calc");
	assert_true(v_pattern("^call_[0-9a-f]{24}$", str_at(j, "call_id")));
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(j, "payload")));
	assert_non_null(strstr(s, "\"payload\": {\"a\": 1.50}")); /* as written */
	assert_string_not_equal(s, s2);
	cJSON_Delete(j);
	tract_string_free(s);
	tract_string_free(s2);
	/* arguments must be a JSON object */
	assert_int_equal(tract_content_build(&s, "tool-call", "[1]", NULL, &o), TRACT_EINVAL);
	assert_int_equal(tract_content_build(&s, "tool-call", "{", NULL, &o), TRACT_EINVAL);
	assert_int_equal(tract_content_build(&s, "tool-call", "{}", "{}", &o), TRACT_EINVAL);
	o.call_id = "bad id";
	assert_int_equal(tract_content_build(&s, "tool-call", "{}", NULL, &o), TRACT_EINVAL);
	assert_null(s);
	/* a result: text is {"text": TEXT}, an object is the payload */
	o.call_id = "call_1";
	o.status = "error";
	assert_int_equal(tract_content_build(&s, "tool-result", "no \"luck\"", NULL, &o), 0);
	j = cJSON_Parse(s);
	assert_string_equal(str_at(j, "call_id"), "call_1");
	assert_string_equal(str_at(j, "status"), "error");
	assert_string_equal(str_at(cJSON_GetObjectItem(j, "payload"), "text"), "no \"luck\"");
	cJSON_Delete(j);
	tract_string_free(s);
	assert_int_equal(tract_content_build(&s, "tool-result", "{\"rows\": 3}", NULL, &o), 0);
	assert_non_null(strstr(s, "\"payload\": {\"rows\": 3}"));
	tract_string_free(s);
	assert_int_equal(tract_content_build(&s, "tool-result", "[1, 2]", NULL, &o), 0);
	assert_non_null(strstr(s, "\"payload\": {\"text\": \"[1, 2]\"}"));
	tract_string_free(s);
	o.status = "failed";
	assert_int_equal(tract_content_build(&s, "tool-result", "x", NULL, &o), TRACT_EINVAL);
	/* a call has no status; tool options need a tool kind */
	o.status = "error";
	assert_int_equal(tract_content_build(&s, "tool-call", "{}", NULL, &o), TRACT_EINVAL);
	assert_int_equal(tract_content_build(&s, "user", "hi", NULL, &o), TRACT_EINVAL);
	/* the name is required; a version-1 struct has none */
	v1.version = 1;
	v1.tool_name = "ignored";
	assert_int_equal(tract_content_build(&s, "tool-call", "{}", NULL, &v1), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "tool's name"));
}

/* ------------------------------------------------------------------ */
/* the schemas refuse what the rendering used to send                   */
/* ------------------------------------------------------------------ */

static void test_schemas_refuse_broken_bodies(void **state)
{
	static const char *const bad_openai[] = {
	    /* the rendering before tool calls were data: tool messages
	     * without tool_call_id */
	    "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"tool\", "
	    "\"content\": \"Tool call: calc\\n{}\"}, {\"role\": \"tool\", \"content\": \"Tool "
	    "result: calc\\n{}\"}]}",
	    "{\"messages\": []}",
	    "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}",
	    "{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"id\": \"a\", "
	    "\"type\": \"function\", \"function\": {\"name\": \"f\"}}]}]}",
	    "{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"id\": \"a\", "
	    "\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": {}}}]}]}",
	    "{\"messages\": [{\"role\": \"user\"}]}",
	};
	static const char *const bad_anthropic[] = {
	    /* the same history sent as user text is valid JSON Schema-wise, but
	     * a "tool" role is not */
	    "{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}",
	    "{\"system\": \"s\", \"messages\": [{\"role\": \"system\", \"content\": \"x\"}]}",
	    "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": "
	    "\"\"}]}]}",
	    "{\"messages\": [{\"role\": \"assistant\", \"content\": [{\"type\": \"tool_use\", "
	    "\"id\": \"a b\", \"name\": \"f\", \"input\": {}}]}]}",
	    "{\"messages\": [{\"role\": \"assistant\", \"content\": [{\"type\": \"tool_use\", "
	    "\"id\": \"a\", \"name\": \"f\", \"input\": \"{}\"}]}]}",
	    "{\"messages\": [{\"role\": \"assistant\", \"content\": [{\"type\": \"tool_use\", "
	    "\"id\": \"a\", \"name\": \"\", \"input\": {}}]}]}",
	    "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"tool_result\", "
	    "\"tool_call_id\": \"a\"}]}]}",
	    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\", \"name\": \"bob\"}]}",
	    "{\"messages\": [], \"model\": \"m\"}",
	};
	static const char *const good_anthropic[] = {
	    "{\"messages\": []}",
	    "{\"system\": \"s\", \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": "
	    "\"tool_result\", \"tool_use_id\": \"a-1\", \"content\": \"x\", \"is_error\": "
	    "true}]}]}",
	};
	char why[600];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_openai) / sizeof(bad_openai[0]); i++)
		if (schema_valid("openai-chat.schema.json", bad_openai[i], why, sizeof(why)))
			fail_msg("openai schema accepts %s", bad_openai[i]);
	for (i = 0; i < sizeof(bad_anthropic) / sizeof(bad_anthropic[0]); i++)
		if (schema_valid("anthropic-messages.schema.json", bad_anthropic[i], why,
		                 sizeof(why)))
			fail_msg("anthropic schema accepts %s", bad_anthropic[i]);
	for (i = 0; i < sizeof(good_anthropic) / sizeof(good_anthropic[0]); i++)
		if (!schema_valid("anthropic-messages.schema.json", good_anthropic[i], why,
		                  sizeof(why)))
			fail_msg("anthropic schema refuses %s (%s)", good_anthropic[i], why);
	/* The rules: a call must be answered right after; a result must
	 * follow its call; turns alternate; no trailing whitespace at the end. */
	assert_false(openai_rules("{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": "
	                          "[{\"id\": \"a\", \"type\": \"function\", \"function\": "
	                          "{\"name\": \"f\", \"arguments\": \"{}\"}}]}, {\"role\": "
	                          "\"user\", \"content\": \"x\"}]}",
	                          why, sizeof(why)));
	assert_false(openai_rules("{\"messages\": [{\"role\": \"tool\", \"content\": \"x\", "
	                          "\"tool_call_id\": \"a\"}]}",
	                          why, sizeof(why)));
	assert_false(anthropic_rules("{\"messages\": [{\"role\": \"assistant\", \"content\": "
	                             "\"x\"}]}",
	                             why, sizeof(why)));
	assert_false(anthropic_rules("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, "
	                             "{\"role\": \"assistant\", \"content\": \"y \"}]}",
	                             why, sizeof(why)));
	assert_false(
	    anthropic_rules("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, "
	                    "{\"role\": \"assistant\", \"content\": [{\"type\": "
	                    "\"tool_use\", \"id\": \"a\", \"name\": \"f\", \"input\": "
	                    "{}}]}, {\"role\": \"user\", \"content\": [{\"type\": \"text\", "
	                    "\"text\": \"hi\"}, {\"type\": \"tool_result\", \"tool_use_id\": "
	                    "\"a\"}]}]}",
	                    why, sizeof(why)));
}

/* A tool name the API refuses (empty) keeps its call as text. */
static void test_unusable_tool_name(void **state)
{
	fx *f = fx_new(NULL);
	char *o, *a;
	tract_context *c;

	(void)state;
	fx_say(f, NULL, "user", "q");
	tool(f, NULL, "", "call", NULL, NULL, "{}");
	tool(f, NULL, "", "result", NULL, NULL, "{\"text\":\"r\"}");
	c = fx_compile(f, NULL);
	check_bodies(c, 0, &o, &a);
	assert_null(strstr(o, "tool_calls"));
	assert_null(strstr(a, "tool_use"));
	free(o);
	free(a);
	tract_context_free(c);
	fx_free(f);
}

/* U+0000 in a text: the bodies carry it as "\u0000". */
static void test_nul_in_text(void **state)
{
	fx *f = fx_new(NULL);
	char *o, *a;
	tract_context *c;

	(void)state;
	fx_commit(f, NULL,
	          "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"a\\u0000b\"}", NULL);
	tool(f, NULL, "t", "call", NULL, NULL, "{\"k\":\"x\\u0000y\"}");
	tool(f, NULL, "t", "result", NULL, NULL, "{\"text\":\"r\\u0000s\"}");
	c = fx_compile(f, NULL);
	check_bodies(c, 0, &o, &a);
	assert_non_null(strstr(o, "\"content\": \"a\\u0000b\""));
	assert_non_null(strstr(o, "\"content\": \"r\\u0000s\""));
	assert_non_null(strstr(o, "x\\\\u0000y")); /* inside the arguments string */
	assert_non_null(strstr(a, "\"input\": {\"k\":\"x\\u0000y\"}"));
	free(o);
	free(a);
	tract_context_free(c);
	fx_free(f);
}

/* ------------------------------------------------------------------ */
/* the reference's histories (tests/fixtures/py-tract)                  */
/* ------------------------------------------------------------------ */

typedef struct {
	const char *file, *tract_id, *call_commit; /* call_commit NULL: the call is skipped */
	const char *tool;
} fixture_case;

static char *copy_fixture(char dir[256], const char *file)
{
	char src[1024], *dst = malloc(1024), *data;
	size_t len = 0;
	FILE *out;

	snprintf(src, sizeof(src), "%s/%s", TOOLS_FIXTURES_DIR, file);
	snprintf(dir, 256, "/tmp/tract-tools-XXXXXX");
	assert_non_null(mkdtemp(dir));
	data = tu_read_file(src, &len);
	if (!data)
		fail_msg("%s: %s (the fixtures are in the repository)", src, strerror(errno));
	snprintf(dst, 1024, "%s/%s", dir, file);
	out = fopen(dst, "wb");
	assert_non_null(out);
	assert_int_equal(fwrite(data, 1, len, out), len);
	assert_int_equal(fclose(out), 0);
	free(data);
	return dst;
}

static void render_fixture(const char *uri, const fixture_case *fc, char **o, char **a)
{
	tract_store *s = NULL;
	tract *t = NULL;
	tract_context *c = NULL;
	tract_commit_list *log = NULL;
	tract_log_options lo = TRACT_LOG_OPTIONS_INIT;
	size_t i;
	int tools = 0;

	if (tract_store_open(&s, uri, 0) != 0 || tract_open(&t, s, fc->tract_id, NULL) != 0)
		fail_msg("%s: %s", uri, tract_error_last()->message);
	/* Every tool_io commit's content still hashes as the reference's. */
	lo.limit = 0;
	assert_int_equal(tract_log_list(&log, t, &lo), 0);
	for (i = 0; i < log->count; i++) {
		const tract_commit *cm = log->items[i];
		char h[65];
		if (strcmp(tract_commit_content_type(cm), "tool_io") != 0)
			continue;
		tools++;
		assert_int_equal(tract_content_normalize(NULL, h, t, tract_commit_content(cm)), 0);
		assert_string_equal(h, tract_commit_content_hash(cm));
	}
	assert_int_equal(tools, 2);
	tract_commit_list_free(log);
	assert_int_equal(tract_context_compile(&c, t, NULL), 0);
	check_bodies(c, 0, o, a);
	tract_context_free(c);
	tract_free(t);
	tract_store_free(s);
}

static void test_reference_fixtures(void **state)
{
	static const fixture_case cases[] = {
	    /* v4: a call and its result, without ids */
	    {"v4_basic.db", "1de8587a2f7f49bd815e7a5d656320df",
	     "cd852b14fba60d1a0c85eedd8df38269aad03ff099a8012ffc491c2178f7c838", "search_venues"},
	    /* v1: the call annotated SKIP, so its result is an orphan */
	    {"v1_basic.db", "6977cad8dbcb4eaa866b92a4843034b7", NULL, "get_quota"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const fixture_case *fc = &cases[i];
		char dir[256], uri[1100], *db, *o, *a, *o2, *a2, id[30];
		ts_store other;
		cJSON *jo;
		db = copy_fixture(dir, fc->file);
		snprintf(uri, sizeof(uri), "sqlite:%s", db);
		render_fixture(uri, fc, &o, &a);
		jo = cJSON_Parse(o);
		if (fc->call_commit) {
			const cJSON *call =
			    cJSON_GetArrayItem(cJSON_GetObjectItem(msg_at(jo, 1), "tool_calls"), 0);
			derived(id, fc->call_commit);
			assert_string_equal(str_at(call, "id"), id);
			assert_string_equal(str_at(cJSON_GetObjectItem(call, "function"), "name"),
			                    fc->tool);
			assert_string_equal(str_at(msg_at(jo, 2), "tool_call_id"), id);
		} else {
			assert_null(strstr(o, "tool_calls"));
			assert_non_null(strstr(o, "Tool result: get_quota (success)"));
		}
		cJSON_Delete(jo);
		/* The same bodies on the backend under test (a clone). */
		assert_int_equal(ts_fresh(&other, "tools"), 0);
		if (tract_store_clone(NULL, uri, other.uri, NULL) != 0)
			fail_msg("clone: %s", tract_error_last()->message);
		render_fixture(other.uri, fc, &o2, &a2);
		assert_string_equal(o2, o);
		assert_string_equal(a2, a);
		ts_destroy(&other);
		free(o);
		free(a);
		free(o2);
		free(a2);
		tu_remove_dir(dir);
		free(db);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_call_id_and_hashes),
	    cmocka_unit_test(test_parallel_calls_grouped),
	    cmocka_unit_test(test_pairing_latest_unanswered),
	    cmocka_unit_test(test_given_ids),
	    cmocka_unit_test(test_unanswered_and_orphans),
	    cmocka_unit_test(test_derived_ids_stable),
	    cmocka_unit_test(test_anthropic_rules),
	    cmocka_unit_test(test_reasoning),
	    cmocka_unit_test(test_edits_and_skips),
	    cmocka_unit_test(test_neutral_messages),
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test(test_result_call_id_checked),
	    cmocka_unit_test(test_content_build_tools),
	    cmocka_unit_test(test_schemas_refuse_broken_bodies),
	    cmocka_unit_test(test_unusable_tool_name),
	    cmocka_unit_test(test_nul_in_text),
	    cmocka_unit_test(test_reference_fixtures),
	};
	int rc = ts_init("tools");

	if (rc)
		return rc;
	return ts_run("tools", tests, TS_COUNT(tests), NULL, 0);
}
