/*
 * test_llm.c - the provider layer (include/tract/llm.h): loading provider
 * plugins (missing, no symbol, wrong ABI, missing member, bad names), the
 * retry policy with a scripted in-process provider and the waits seen
 * through the sleep hook (no real sleeping), the fallback list, error
 * codes, streaming, secrets kept out of every message and log line, and
 * the example provider's answers.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "llm.h"
#include "tract.h"

static char base_path[4096];

static void set_path(const char *extra)
{
	char p[8192];

	snprintf(p, sizeof(p), "%s:%s", extra, base_path);
	setenv("TRACT_PLUGIN_PATH", p, 1);
}

/* ---- the waits ----------------------------------------------------------- */

static double waits[64];
static size_t n_waits;
static double fixed_random;

static void fake_sleep(double s, void *payload)
{
	(void)payload;
	if (n_waits < 64)
		waits[n_waits] = s;
	n_waits++;
}

static double fake_random(void *payload)
{
	(void)payload;
	return fixed_random;
}

/* ---- debug lines ------------------------------------------------------------ */

static char debug_log[16384];

static void capture_debug(const char *msg, void *payload)
{
	(void)payload;
	strncat(debug_log, msg, sizeof(debug_log) - strlen(debug_log) - 2);
	strcat(debug_log, "\n");
}

/* ---- a scripted provider ------------------------------------------------------- */

/* One step of the script: how attempt n fails, or succeeds (kind NONE). */
typedef struct {
	tract_provider_error_kind kind;
	int status;
	double retry_after;
	int rc; /* the code returned; 0 = TRACT_EPROVIDER on failure */
} step;

typedef struct {
	const step *steps;
	size_t n_steps;
	size_t calls;
	const char *answer;
	const char *message;  /* err->message of failures */
	const char *seen_key; /* the api_key option the client got */
	char last_model[64];
	int stream_fail_after_delta;
} script;

static script scripts[2];

struct tract_provider_client {
	script *s;
	char key[128];
};

static int scripted_create(tract_provider_client **out, const tract_provider_option *o, size_t n,
                           tract_provider_error *err, script *s)
{
	tract_provider_client *c = calloc(1, sizeof(*c));
	size_t i;

	(void)err;
	assert_non_null(c);
	c->s = s;
	for (i = 0; i < n; i++) {
		if (strcmp(o[i].key, "api_key") == 0) {
			snprintf(c->key, sizeof(c->key), "%s", o[i].value);
		} else if (strcmp(o[i].key, "model") != 0) {
			snprintf(err->message, sizeof(err->message), "unknown option '%s'",
			         o[i].key);
			err->kind = TRACT_PROVIDER_ERR_REQUEST;
			free(c);
			return TRACT_EINVAL;
		}
	}
	s->seen_key = c->key[0] ? "yes" : NULL;
	*out = c;
	return 0;
}

static int create_a(tract_provider_client **out, const tract_provider_option *o, size_t n,
                    tract_provider_error *err)
{
	return scripted_create(out, o, n, err, &scripts[0]);
}

static int create_b(tract_provider_client **out, const tract_provider_option *o, size_t n,
                    tract_provider_error *err)
{
	return scripted_create(out, o, n, err, &scripts[1]);
}

static void scripted_free(tract_provider_client *c)
{
	free(c);
}

static int scripted_chat(tract_provider_client *c, const tract_chat_request *req,
                         tract_chat_reply *reply, tract_provider_error *err)
{
	script *s = c->s;
	const step *st = s->calls < s->n_steps ? &s->steps[s->calls] : NULL;
	char *text;

	s->calls++;
	snprintf(s->last_model, sizeof(s->last_model), "%s", req->model ? req->model : "");
	if (st && st->kind != TRACT_PROVIDER_ERR_NONE) {
		err->kind = st->kind;
		err->http_status = st->status;
		err->retry_after = st->retry_after;
		/* A careless provider: the key in its message (the core masks it). */
		snprintf(err->message, sizeof(err->message), "%s (key %s)",
		         s->message ? s->message : "failed", c->key);
		return st->rc ? st->rc : TRACT_EPROVIDER;
	}
	text = strdup(s->answer ? s->answer : "ok");
	assert_non_null(text);
	reply->text = text;
	reply->finish_reason = "stop";
	reply->usage.prompt_tokens = 11;
	reply->usage.completion_tokens = 2;
	reply->usage.total_tokens = 13;
	reply->raw_json = "{\"choices\":[]}";
	reply->provider_data = text;
	return 0;
}

static void scripted_clear(tract_provider_client *c, tract_chat_reply *reply)
{
	(void)c;
	free(reply->provider_data);
	memset(reply, 0, sizeof(*reply));
}

static int scripted_stream(tract_provider_client *c, const tract_chat_request *req,
                           tract_chat_delta_cb cb, void *payload, tract_chat_reply *reply,
                           tract_provider_error *err)
{
	tract_chat_delta d = {.text = "part", .tool_call_index = -1};

	if (c->s->stream_fail_after_delta) {
		c->s->calls++;
		if (cb(&d, payload))
			goto stopped;
		err->kind = TRACT_PROVIDER_ERR_TRANSPORT;
		snprintf(err->message, sizeof(err->message), "connection reset");
		return TRACT_EPROVIDER;
	}
	return scripted_chat(c, req, reply, err);
stopped:
	err->kind = TRACT_PROVIDER_ERR_CANCELLED;
	return TRACT_EABORTED;
}

/* A careless streamer: goes on after the callback said stop. */
static int deaf_stream(tract_provider_client *c, const tract_chat_request *req,
                       tract_chat_delta_cb cb, void *payload, tract_chat_reply *reply,
                       tract_provider_error *err)
{
	tract_chat_delta d = {.text = "one ", .tool_call_index = -1};

	(void)cb(&d, payload);
	d.text = "two";
	(void)cb(&d, payload);
	return scripted_chat(c, req, reply, err);
}

static const tract_provider table_a = {
    .version = TRACT_PROVIDER_VERSION,
    .name = "scripted",
    .default_model = "script-model",
    .client_create = create_a,
    .client_free = scripted_free,
    .chat = scripted_chat,
    .reply_clear = scripted_clear,
};

static const tract_provider table_b = {
    .version = TRACT_PROVIDER_VERSION,
    .name = "backup",
    .client_create = create_b,
    .client_free = scripted_free,
    .chat = scripted_chat,
    .reply_clear = scripted_clear,
};

static const tract_chat_message hello[] = {
    {.role = "system", .content = "Be brief."},
    {.role = "user", .content = "Hello there. How are you?"}};

static tract_chat_request request(void)
{
	tract_chat_request r = {0};

	r.version = TRACT_CHAT_REQUEST_VERSION;
	r.messages = hello;
	r.n_messages = 2;
	return r;
}

static int setup(void **state)
{
	(void)state;
	memset(scripts, 0, sizeof(scripts));
	n_waits = 0;
	fixed_random = 0;
	debug_log[0] = '\0';
	tract_llm_test_hooks_set(fake_sleep, fake_random, NULL);
	tract_debug_hook_set(capture_debug, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tract_llm_test_hooks_set(NULL, NULL, NULL);
	tract_debug_hook_set(NULL, NULL);
	return 0;
}

/* Run one chat with table_a and max_retries; returns the code. */
static int run_a(tract_chat_result **res, int max_retries, const step *steps, size_t n)
{
	tract_llm_options o = TRACT_LLM_OPTIONS_INIT;
	tract_chat_request r = request();
	tract_llm *llm = NULL;
	int rc;

	scripts[0].steps = steps;
	scripts[0].n_steps = n;
	o.max_retries = max_retries;
	assert_int_equal(tract_llm_open_provider(&llm, &table_a, &o), 0);
	rc = tract_llm_chat(res, llm, &r);
	tract_llm_free(llm);
	return rc;
}

/* ---- plugin loading --------------------------------------------------------------- */

static void test_missing_plugin(void **state)
{
	tract_llm *llm = (tract_llm *)1;

	(void)state;
	set_path("/nonexistent/dir");
	assert_int_equal(tract_llm_open(&llm, "nothere", NULL), TRACT_EPLUGIN);
	assert_null(llm);
	assert_non_null(
	    strstr(tract_error_last()->message, "/nonexistent/dir/tract-provider-nothere.so"));
	assert_non_null(strstr(tract_error_last()->message, "not found"));
}

static void test_broken_plugins(void **state)
{
	tract_llm *llm = NULL;

	(void)state;
	set_path(TEST_PLUGIN_DIR);
	assert_int_equal(tract_llm_open(&llm, "nosym", NULL), TRACT_EPLUGIN);
	assert_non_null(strstr(tract_error_last()->message, "lacks the entry symbol "
	                                                    "tract_provider_entry"));
	assert_int_equal(tract_llm_open(&llm, "badabi", NULL), TRACT_EPLUGIN);
	assert_non_null(strstr(tract_error_last()->message, "provider ABI version 99"));
	assert_non_null(strstr(tract_error_last()->message, "tract-provider-badabi.so"));
	assert_int_equal(tract_llm_open(&llm, "nomember", NULL), TRACT_EPLUGIN);
	assert_non_null(strstr(tract_error_last()->message, "required member chat"));
	assert_int_equal(tract_llm_open(&llm, "misnamed", NULL), TRACT_EPLUGIN);
	assert_non_null(strstr(tract_error_last()->message, "someone-else"));
	/* A good name after a broken one: the whole list fails. */
	assert_int_equal(tract_llm_open(&llm, "example,badabi", NULL), TRACT_EPLUGIN);
	assert_null(llm);
}

static void test_bad_names(void **state)
{
	static const char *const bad[] = {
	    "../example",       "sub/dir",          "x.so", "", ",", "example,", ",example", "a b",
	    "example,,example", "a,b,c,d,e,f,g,h,i"};
	tract_llm *llm = NULL;
	size_t i;

	(void)state;
	set_path(TEST_PLUGIN_DIR);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tract_llm_open(&llm, bad[i], NULL), TRACT_EINVAL);
		assert_null(llm);
		assert_true(strlen(tract_error_last()->message) > 10);
	}
	assert_int_equal(tract_llm_open(&llm, NULL, NULL), TRACT_EINVAL);
}

static void test_listing_shows_providers(void **state)
{
	tract_plugin_info_list *list = NULL;
	int example = 0, badabi = 0;
	size_t i;

	(void)state;
	set_path(TEST_PLUGIN_DIR);
	assert_int_equal(tract_plugin_list(&list), 0);
	for (i = 0; i < list->count; i++) {
		const tract_plugin_info *p = &list->items[i];
		if (p->kind != TRACT_PLUGIN_PROVIDER)
			continue;
		if (strcmp(p->name, "example") == 0) {
			example = 1;
			assert_int_equal(p->abi_version, 1);
			assert_null(p->error);
		} else if (strcmp(p->name, "badabi") == 0) {
			badabi = 1;
			assert_int_equal(p->abi_version, 99);
			assert_non_null(p->error);
		} else if (strcmp(p->name, "nomember") == 0) {
			assert_non_null(p->error);
		}
	}
	assert_true(example);
	assert_true(badabi);
	tract_plugin_info_list_free(list);
}

static void test_in_process_table_checked(void **state)
{
	tract_provider t = table_a;
	tract_llm *llm = NULL;

	(void)state;
	t.version = 99;
	assert_int_equal(tract_llm_open_provider(&llm, &t, NULL), TRACT_EPLUGIN);
	assert_non_null(strstr(tract_error_last()->message, "ABI version 99"));
	t = table_a;
	t.reply_clear = NULL;
	assert_int_equal(tract_llm_open_provider(&llm, &t, NULL), TRACT_EPLUGIN);
	assert_non_null(strstr(tract_error_last()->message, "reply_clear"));
	t = table_a;
	t.name = "bad/name";
	assert_int_equal(tract_llm_open_provider(&llm, &t, NULL), TRACT_EPLUGIN);
	t = table_a;
	t.wire_format = "soap";
	assert_int_equal(tract_llm_open_provider(&llm, &t, NULL), TRACT_EPLUGIN);
	assert_null(llm);
}

/* ---- retries -------------------------------------------------------------------- */

static void test_auth_not_retried(void **state)
{
	static const step s401[] = {{TRACT_PROVIDER_ERR_AUTH, 401, -1, TRACT_EAUTH}};
	static const step s403[] = {{TRACT_PROVIDER_ERR_AUTH, 403, -1, 0}};
	tract_chat_result *res = (tract_chat_result *)1;

	(void)state;
	assert_int_equal(run_a(&res, 5, s401, 1), TRACT_EAUTH);
	assert_null(res);
	assert_int_equal(scripts[0].calls, 1);
	assert_int_equal(n_waits, 0);
	assert_non_null(strstr(tract_error_last()->message, "HTTP 401"));
	setup(NULL);
	assert_int_equal(run_a(&res, 5, s403, 1), TRACT_EAUTH);
	assert_int_equal(scripts[0].calls, 1);
	assert_int_equal(n_waits, 0);
}

static void test_rate_limit_retry_after(void **state)
{
	static const step s[] = {{TRACT_PROVIDER_ERR_RATE_LIMIT, 429, 2.5, TRACT_ERATELIMIT},
	                         {TRACT_PROVIDER_ERR_NONE, 0, 0, 0}};
	static const step capped[] = {{TRACT_PROVIDER_ERR_RATE_LIMIT, 429, 600, 0},
	                              {TRACT_PROVIDER_ERR_NONE, 0, 0, 0}};
	tract_chat_result *res = NULL;

	(void)state;
	fixed_random = 0.9; /* no jitter on a wait the server asked for */
	assert_int_equal(run_a(&res, 2, s, 2), 0);
	assert_int_equal(scripts[0].calls, 2);
	assert_int_equal(n_waits, 1);
	assert_true(fabs(waits[0] - 2.5) < 1e-9);
	assert_int_equal(tract_chat_result_attempts(res), 2);
	assert_string_equal(tract_chat_result_provider(res), "scripted");
	tract_chat_result_free(res);
	setup(NULL);
	assert_int_equal(run_a(&res, 2, capped, 2), 0);
	assert_int_equal(n_waits, 1);
	assert_true(fabs(waits[0] - TRACT_LLM_RETRY_AFTER_MAX) < 1e-9);
	tract_chat_result_free(res);
}

static void test_rate_limit_exhausted(void **state)
{
	static const step s[] = {{TRACT_PROVIDER_ERR_RATE_LIMIT, 429, -1, 0},
	                         {TRACT_PROVIDER_ERR_RATE_LIMIT, 429, -1, 0},
	                         {TRACT_PROVIDER_ERR_RATE_LIMIT, 429, -1, 0}};
	tract_chat_result *res = NULL;

	(void)state;
	assert_int_equal(run_a(&res, 2, s, 3), TRACT_ERATELIMIT);
	assert_int_equal(scripts[0].calls, 3);
	assert_int_equal(n_waits, 2);
	assert_non_null(strstr(tract_error_last()->message, "after 3 attempts"));
}

static void test_server_errors_backoff(void **state)
{
	static const step s[] = {{TRACT_PROVIDER_ERR_SERVER, 500, -1, 0},
	                         {TRACT_PROVIDER_ERR_SERVER, 503, -1, 0},
	                         {TRACT_PROVIDER_ERR_NONE, 0, 0, 0}};
	tract_chat_result *res = NULL;

	(void)state;
	fixed_random = 0;
	assert_int_equal(run_a(&res, 3, s, 3), 0);
	assert_int_equal(scripts[0].calls, 3);
	assert_int_equal(n_waits, 2);
	assert_true(fabs(waits[0] - 1.0) < 1e-9);
	assert_true(fabs(waits[1] - 2.0) < 1e-9);
	assert_string_equal(tract_chat_result_text(res), "ok");
	assert_int_equal(tract_chat_result_attempts(res), 3);
	tract_chat_result_free(res);
	/* The jitter adds up to half the wait. */
	setup(NULL);
	fixed_random = 0.5;
	assert_int_equal(run_a(&res, 3, s, 3), 0);
	assert_true(fabs(waits[0] - 1.25) < 1e-9);
	assert_true(fabs(waits[1] - 2.5) < 1e-9);
	tract_chat_result_free(res);
}

static void test_backoff_capped(void **state)
{
	static const step s[] = {{TRACT_PROVIDER_ERR_SERVER, 502, -1, 0},
	                         {TRACT_PROVIDER_ERR_SERVER, 502, -1, 0},
	                         {TRACT_PROVIDER_ERR_SERVER, 502, -1, 0},
	                         {TRACT_PROVIDER_ERR_SERVER, 502, -1, 0}};
	tract_llm_options o = TRACT_LLM_OPTIONS_INIT;
	tract_chat_request r = request();
	tract_chat_result *res = NULL;
	tract_llm *llm = NULL;

	(void)state;
	scripts[0].steps = s;
	scripts[0].n_steps = 4;
	o.max_retries = 3;
	o.backoff_base = 4;
	o.backoff_max = 10;
	assert_int_equal(tract_llm_open_provider(&llm, &table_a, &o), 0);
	assert_int_equal(tract_llm_chat(&res, llm, &r), TRACT_EPROVIDER);
	assert_int_equal(n_waits, 3);
	assert_true(fabs(waits[0] - 4) < 1e-9);
	assert_true(fabs(waits[1] - 8) < 1e-9);
	assert_true(fabs(waits[2] - 10) < 1e-9);
	tract_llm_free(llm);
}

static void test_exhausted_then_fallback(void **state)
{
	static const step fail5[] = {{TRACT_PROVIDER_ERR_SERVER, 500, -1, 0},
	                             {TRACT_PROVIDER_ERR_SERVER, 500, -1, 0},
	                             {TRACT_PROVIDER_ERR_SERVER, 500, -1, 0},
	                             {TRACT_PROVIDER_ERR_SERVER, 500, -1, 0}};
	tract_llm_options o = TRACT_LLM_OPTIONS_INIT;
	tract_chat_request r = request();
	tract_chat_result *res = NULL;
	tract_llm *llm = NULL;

	(void)state;
	scripts[0].steps = fail5;
	scripts[0].n_steps = 4;
	scripts[1].answer = "from the backup";
	o.max_retries = 2;
	/* Alone: an error after exactly the configured attempts. */
	assert_int_equal(tract_llm_open_provider(&llm, &table_a, &o), 0);
	assert_int_equal(tract_llm_chat(&res, llm, &r), TRACT_EPROVIDER);
	assert_null(res);
	assert_int_equal(scripts[0].calls, 3);
	assert_non_null(strstr(tract_error_last()->message, "provider 'scripted'"));
	assert_non_null(strstr(tract_error_last()->message, "server error (HTTP 500)"));
	/* With a fallback: the next provider answers and the result says so. */
	scripts[0].calls = 0;
	n_waits = 0;
	assert_int_equal(tract_llm_add_provider(llm, &table_b), 0);
	assert_int_equal(tract_llm_provider_count(llm), 2);
	assert_string_equal(tract_llm_provider_name(llm, 1), "backup");
	assert_int_equal(tract_llm_chat(&res, llm, &r), 0);
	assert_int_equal(scripts[0].calls, 3);
	assert_int_equal(scripts[1].calls, 1);
	assert_int_equal(n_waits, 2);
	assert_string_equal(tract_chat_result_provider(res), "backup");
	assert_string_equal(tract_chat_result_text(res), "from the backup");
	assert_int_equal(tract_chat_result_attempts(res), 4);
	assert_non_null(strstr(debug_log, "falling back to 'backup'"));
	tract_chat_result_free(res);
	/* Both fail: the message names both, the code is the last one's. */
	{
		static const step auth[] = {{TRACT_PROVIDER_ERR_AUTH, 401, -1, 0}};
		scripts[0].calls = 0;
		scripts[1].steps = auth;
		scripts[1].n_steps = 1;
		scripts[1].calls = 0;
		assert_int_equal(tract_llm_chat(&res, llm, &r), TRACT_EAUTH);
		assert_non_null(strstr(tract_error_last()->message, "provider 'scripted'"));
		assert_non_null(strstr(tract_error_last()->message, "provider 'backup'"));
		assert_int_equal(scripts[1].calls, 1);
	}
	tract_llm_free(llm);
}

static void test_timeout_and_transport_retried(void **state)
{
	static const step s[] = {{TRACT_PROVIDER_ERR_TIMEOUT, 0, -1, TRACT_ETIMEOUT},
	                         {TRACT_PROVIDER_ERR_TRANSPORT, 0, -1, 0},
	                         {TRACT_PROVIDER_ERR_NONE, 0, 0, 0}};
	static const step t3[] = {{TRACT_PROVIDER_ERR_TIMEOUT, 0, -1, TRACT_ETIMEOUT},
	                          {TRACT_PROVIDER_ERR_TIMEOUT, 0, -1, TRACT_ETIMEOUT}};
	static const step tr[] = {{TRACT_PROVIDER_ERR_TRANSPORT, 0, -1, 0},
	                          {TRACT_PROVIDER_ERR_TRANSPORT, 0, -1, 0}};
	tract_chat_result *res = NULL;

	(void)state;
	assert_int_equal(run_a(&res, 2, s, 3), 0);
	assert_int_equal(scripts[0].calls, 3);
	tract_chat_result_free(res);
	setup(NULL);
	assert_int_equal(run_a(&res, 1, t3, 2), TRACT_ETIMEOUT);
	assert_int_equal(scripts[0].calls, 2);
	setup(NULL);
	assert_int_equal(run_a(&res, 1, tr, 2), TRACT_EPROVIDER);
	assert_int_equal(scripts[0].calls, 2);
	assert_non_null(strstr(tract_error_last()->message, "transport failure"));
}

static void test_not_retried(void **state)
{
	static const step bad[] = {{TRACT_PROVIDER_ERR_BAD_RESPONSE, 200, -1, 0}};
	static const step req[] = {{TRACT_PROVIDER_ERR_REQUEST, 400, -1, 0}};
	static const step unclassified[] = {{TRACT_PROVIDER_ERR_NONE, 0, -1, TRACT_ERROR}};
	tract_chat_result *res = NULL;
	step s;

	(void)state;
	assert_int_equal(run_a(&res, 4, bad, 1), TRACT_EPROVIDER);
	assert_int_equal(scripts[0].calls, 1);
	assert_non_null(strstr(tract_error_last()->message, "bad response"));
	setup(NULL);
	assert_int_equal(run_a(&res, 4, req, 1), TRACT_EPROVIDER);
	assert_int_equal(scripts[0].calls, 1);
	assert_non_null(strstr(tract_error_last()->message, "HTTP 400"));
	assert_int_equal(n_waits, 0);
	/* A failure without a kind: not retried, a library code. */
	(void)unclassified;
	setup(NULL);
	s.kind = TRACT_PROVIDER_ERR_SERVER;
	s.status = 0;
	s.retry_after = -1;
	s.rc = 42; /* not a library code */
	assert_int_equal(run_a(&res, 0, &s, 1), TRACT_EPROVIDER);
	assert_int_equal(scripts[0].calls, 1);
}

static void test_max_retries_zero(void **state)
{
	static const step s[] = {{TRACT_PROVIDER_ERR_SERVER, 500, -1, 0}};
	tract_chat_result *res = NULL;

	(void)state;
	assert_int_equal(run_a(&res, 0, s, 1), TRACT_EPROVIDER);
	assert_int_equal(scripts[0].calls, 1);
	assert_int_equal(n_waits, 0);
}

static void test_default_retries(void **state)
{
	static const step s[] = {{TRACT_PROVIDER_ERR_SERVER, 500, -1, 0},
	                         {TRACT_PROVIDER_ERR_SERVER, 500, -1, 0},
	                         {TRACT_PROVIDER_ERR_SERVER, 500, -1, 0},
	                         {TRACT_PROVIDER_ERR_SERVER, 500, -1, 0}};
	tract_chat_result *res = NULL;

	(void)state;
	/* -1: the default, two retries after the first attempt. */
	assert_int_equal(run_a(&res, -1, s, 4), TRACT_EPROVIDER);
	assert_int_equal(scripts[0].calls, 3);
}

/* ---- secrets -------------------------------------------------------------------- */

static void test_keys_never_shown(void **state)
{
	static const step s[] = {{TRACT_PROVIDER_ERR_SERVER, 500, -1, 0},
	                         {TRACT_PROVIDER_ERR_AUTH, 401, -1, 0}};
	const char *key = "sk-test-SECRET-0123456789";
	tract_provider_option opt[] = {{"api_key", "sk-test-SECRET-0123456789"}};
	tract_llm_options o = TRACT_LLM_OPTIONS_INIT;
	tract_chat_request r = request();
	tract_chat_result *res = NULL;
	tract_llm *llm = NULL;

	(void)state;
	setenv("SOME_VENDOR_API_KEY", "envsecret-abcdef-987", 1);
	scripts[0].steps = s;
	scripts[0].n_steps = 2;
	scripts[0].message = "server says: envsecret-abcdef-987 rejected";
	o.options = opt;
	o.n_options = 1;
	assert_int_equal(tract_llm_open_provider(&llm, &table_a, &o), 0);
	assert_non_null(scripts[0].seen_key);
	assert_int_equal(tract_llm_chat(&res, llm, &r), TRACT_EAUTH);
	assert_null(strstr(tract_error_last()->message, key));
	assert_null(strstr(tract_error_last()->message, "envsecret-abcdef-987"));
	assert_non_null(strstr(tract_error_last()->message, "***"));
	assert_true(strlen(debug_log) > 0);
	assert_null(strstr(debug_log, key));
	assert_null(strstr(debug_log, "envsecret-abcdef-987"));
	tract_llm_free(llm);
	unsetenv("SOME_VENDOR_API_KEY");
}

static void test_options_routed(void **state)
{
	tract_provider_option opt[] = {
	    {"scripted.model", "m-a"}, {"backup.model", "m-b"}, {"api_key", "k-123456"}};
	tract_provider_option bad[] = {{"scripted.nosuch", "x"}};
	tract_llm_options o = TRACT_LLM_OPTIONS_INIT;
	tract_llm *llm = NULL;

	(void)state;
	o.options = opt;
	o.n_options = 3;
	assert_int_equal(tract_llm_open_provider(&llm, &table_a, &o), 0);
	assert_int_equal(tract_llm_add_provider(llm, &table_b), 0);
	assert_string_equal(tract_llm_provider_model(llm, 0), "m-a");
	assert_string_equal(tract_llm_provider_model(llm, 1), "m-b");
	tract_llm_free(llm);
	/* Unknown options are the provider's error, named; default model. */
	o.options = bad;
	o.n_options = 1;
	assert_int_equal(tract_llm_open_provider(&llm, &table_a, &o), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "unknown option 'nosuch'"));
	assert_int_equal(tract_llm_open_provider(&llm, &table_a, NULL), 0);
	assert_string_equal(tract_llm_provider_model(llm, 0), "script-model");
	tract_llm_free(llm);
	o.n_options = 0;
	o.max_retries = -5;
	assert_int_equal(tract_llm_open_provider(&llm, &table_a, &o), TRACT_EINVAL);
	o.max_retries = 0;
	o.timeout_seconds = NAN;
	assert_int_equal(tract_llm_open_provider(&llm, &table_a, &o), TRACT_EINVAL);
}

static void test_bad_requests(void **state)
{
	tract_chat_request r = request();
	tract_chat_result *res = NULL;
	tract_llm *llm = NULL;

	(void)state;
	assert_int_equal(tract_llm_open_provider(&llm, &table_a, NULL), 0);
	r.n_messages = 0;
	assert_int_equal(tract_llm_chat(&res, llm, &r), TRACT_EINVAL);
	r = request();
	r.version = 0;
	assert_int_equal(tract_llm_chat(&res, llm, &r), TRACT_EINVAL);
	r = request();
	r.has_temperature = 1;
	r.temperature = INFINITY;
	assert_int_equal(tract_llm_chat(&res, llm, &r), TRACT_EINVAL);
	assert_int_equal(tract_llm_chat(&res, llm, NULL), TRACT_EINVAL);
	assert_int_equal(scripts[0].calls, 0);
	tract_llm_free(llm);
}

/* ---- streaming ------------------------------------------------------------------- */

typedef struct {
	char text[1024];
	char args[1024];
	char call_id[64];
	char tool[64];
	int deltas;
	int stop_at;
} collected;

static int collect(const tract_chat_delta *d, void *payload)
{
	collected *c = payload;

	c->deltas++;
	if (d->text)
		strncat(c->text, d->text, sizeof(c->text) - strlen(c->text) - 1);
	if (d->tool_call_index >= 0) {
		if (d->tool_call_id)
			snprintf(c->call_id, sizeof(c->call_id), "%s", d->tool_call_id);
		if (d->tool_name)
			snprintf(c->tool, sizeof(c->tool), "%s", d->tool_name);
		if (d->arguments_fragment)
			strncat(c->args, d->arguments_fragment,
			        sizeof(c->args) - strlen(c->args) - 1);
	}
	return c->stop_at && c->deltas >= c->stop_at;
}

static void test_stream_without_chat_stream(void **state)
{
	tract_chat_request r = request();
	tract_chat_result *res = NULL;
	tract_llm *llm = NULL;
	collected c = {0};

	(void)state;
	scripts[0].answer = "whole answer";
	assert_int_equal(tract_llm_open_provider(&llm, &table_a, NULL), 0);
	assert_int_equal(tract_llm_chat_stream(&res, llm, &r, collect, &c), 0);
	assert_string_equal(c.text, "whole answer");
	assert_int_equal(c.deltas, 1);
	assert_string_equal(tract_chat_result_text(res), "whole answer");
	tract_chat_result_free(res);
	/* Stopped by the callback: EABORTED, no retry. */
	memset(&c, 0, sizeof(c));
	c.stop_at = 1;
	scripts[0].calls = 0;
	assert_int_equal(tract_llm_chat_stream(&res, llm, &r, collect, &c), TRACT_EABORTED);
	assert_null(res);
	assert_int_equal(scripts[0].calls, 1);
	tract_llm_free(llm);
}

static void test_stream_failure_after_delta(void **state)
{
	tract_provider t = table_a;
	tract_chat_request r = request();
	tract_chat_result *res = NULL;
	tract_llm *llm = NULL;
	collected c = {0};

	(void)state;
	t.chat_stream = scripted_stream;
	scripts[0].stream_fail_after_delta = 1;
	assert_int_equal(tract_llm_open_provider(&llm, &t, NULL), 0);
	assert_int_equal(tract_llm_add_provider(llm, &table_b), 0);
	/* A transport failure would be retried, but part of the reply was
	 * seen: neither retried nor handed to the fallback. */
	assert_int_equal(tract_llm_chat_stream(&res, llm, &r, collect, &c), TRACT_EPROVIDER);
	assert_int_equal(scripts[0].calls, 1);
	assert_int_equal(scripts[1].calls, 0);
	assert_non_null(strstr(tract_error_last()->message, "streamed"));
	assert_int_equal(tract_llm_chat_stream(&res, llm, &r, NULL, NULL), TRACT_EINVAL);
	tract_llm_free(llm);
}

static void test_stream_stop_honoured(void **state)
{
	tract_provider t = table_a;
	tract_chat_request r = request();
	tract_chat_result *res = NULL;
	tract_llm *llm = NULL;
	collected c = {0};

	(void)state;
	t.chat_stream = deaf_stream;
	assert_int_equal(tract_llm_open_provider(&llm, &t, NULL), 0);
	c.stop_at = 1;
	assert_int_equal(tract_llm_chat_stream(&res, llm, &r, collect, &c), TRACT_EABORTED);
	assert_null(res);
	assert_int_equal(scripts[0].calls, 1);
	tract_llm_free(llm);
}

/* ---- the example provider ---------------------------------------------------------- */

static void test_example_answers(void **state)
{
	static const char *tools =
	    "[{\"type\":\"function\",\"function\":{\"name\":\"lookup\","
	    "\"description\":\"find\",\"parameters\":{\"type\":\"object\","
	    "\"properties\":{\"query\":{\"type\":\"string\"},\"n\":{\"type\":"
	    "\"integer\"}},\"required\":[\"query\",\"n\"]}}},{\"type\":"
	    "\"function\",\"function\":{\"name\":\"other\"}}]";
	tract_chat_request r = request();
	tract_chat_result *res = NULL, *again = NULL;
	tract_llm *llm = NULL;
	const tract_tool_call *call;

	(void)state;
	set_path(TEST_PLUGIN_DIR);
	assert_int_equal(tract_llm_open(&llm, "example", NULL), 0);
	assert_string_equal(tract_llm_provider_model(llm, 0), "example-1");
	/* A plain question. */
	assert_int_equal(tract_llm_chat(&res, llm, &r), 0);
	assert_string_equal(tract_chat_result_text(res), "Example reply: Hello there.");
	assert_string_equal(tract_chat_result_finish_reason(res), "stop");
	assert_string_equal(tract_chat_result_provider(res), "example");
	assert_string_equal(tract_chat_result_model(res), "example-1");
	assert_true(tract_chat_result_usage(res)->prompt_tokens > 0);
	assert_non_null(strstr(tract_chat_result_raw_json(res), "\"chat.completion\""));
	/* Deterministic. */
	assert_int_equal(tract_llm_chat(&again, llm, &r), 0);
	assert_string_equal(tract_chat_result_text(res), tract_chat_result_text(again));
	assert_string_equal(tract_chat_result_raw_json(res), tract_chat_result_raw_json(again));
	tract_chat_result_free(res);
	tract_chat_result_free(again);
	/* Tools offered: a call of the first, required arguments filled. */
	r.tools_json = tools;
	assert_int_equal(tract_llm_chat(&res, llm, &r), 0);
	assert_null(tract_chat_result_text(res));
	assert_int_equal(tract_chat_result_tool_call_count(res), 1);
	call = tract_chat_result_tool_call(res, 0);
	assert_string_equal(call->name, "lookup");
	assert_string_equal(call->id, "call_example_2");
	assert_string_equal(call->arguments_json, "{\"query\":\"Hello there.\",\"n\":1}");
	assert_string_equal(tract_chat_result_finish_reason(res), "tool_calls");
	assert_null(tract_chat_result_tool_call(res, 1));
	tract_chat_result_free(res);
	/* tool_choice names the other; "none" gives text. */
	r.tool_choice = "other";
	assert_int_equal(tract_llm_chat(&res, llm, &r), 0);
	assert_string_equal(tract_chat_result_tool_call(res, 0)->name, "other");
	assert_string_equal(tract_chat_result_tool_call(res, 0)->arguments_json, "{}");
	tract_chat_result_free(res);
	r.tool_choice = "none";
	assert_int_equal(tract_llm_chat(&res, llm, &r), 0);
	assert_int_equal(tract_chat_result_tool_call_count(res), 0);
	assert_non_null(tract_chat_result_text(res));
	tract_chat_result_free(res);
	/* Bad tools: a request error, not retried. */
	r.tool_choice = NULL;
	r.tools_json = "{\"not\":\"an array\"}";
	assert_int_equal(tract_llm_chat(&res, llm, &r), TRACT_EINVAL);
	tract_llm_free(llm);
}

static void test_example_tool_result_and_summary(void **state)
{
	tract_tool_call call = {"call_7", "lookup", "{\"q\":\"x\"}"};
	tract_chat_message loop[] = {{.role = "user", .content = "Find the bike."},
	                             {.role = "assistant", .tool_calls = &call, .n_tool_calls = 1},
	                             {.role = "tool",
	                              .content = "Trek FX 2, 4800 km. More data.",
	                              .tool_call_id = "call_7"}};
	tract_chat_message summ[] = {
	    {.role = "system",
	     .content = "You summarize. Begin with Previously in this conversation: always."},
	    {.role = "user",
	     .content = "Summarize the following conversation segment:\n\n[user] The chain skips. "
	                "It is old!  [assistant] Replace it? Yes. Done."}};
	tract_chat_request r = request();
	tract_provider_option opt[] = {{"sentences", "3"}};
	tract_llm_options o = TRACT_LLM_OPTIONS_INIT;
	tract_chat_result *res = NULL;
	tract_llm *llm = NULL;
	collected c = {0};

	(void)state;
	set_path(TEST_PLUGIN_DIR);
	o.options = opt;
	o.n_options = 1;
	assert_int_equal(tract_llm_open(&llm, "example", &o), 0);
	r.messages = loop;
	r.n_messages = 3;
	r.tools_json = "[{\"type\":\"function\",\"function\":{\"name\":\"lookup\"}}]";
	assert_int_equal(tract_llm_chat(&res, llm, &r), 0);
	assert_string_equal(tract_chat_result_text(res),
	                    "The tool lookup returned: Trek FX 2, 4800 km. More data.");
	tract_chat_result_free(res);
	r.messages = summ;
	r.n_messages = 2;
	r.tools_json = NULL;
	assert_int_equal(tract_llm_chat(&res, llm, &r), 0);
	assert_string_equal(tract_chat_result_text(res),
	                    "Previously in this conversation: [user] The chain skips. It is old! "
	                    "[assistant] Replace it?");
	tract_chat_result_free(res);
	/* Streamed: the pieces make the same text. */
	assert_int_equal(tract_llm_chat_stream(&res, llm, &r, collect, &c), 0);
	assert_true(c.deltas > 3);
	assert_string_equal(c.text, tract_chat_result_text(res));
	tract_chat_result_free(res);
	tract_llm_free(llm);
	/* Unknown options are refused, by name, without the value. */
	opt[0].key = "colour";
	opt[0].value = "sk-never-shown-1234";
	assert_int_equal(tract_llm_open(&llm, "example", &o), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "colour"));
	assert_null(strstr(tract_error_last()->message, "sk-never-shown-1234"));
}

static void test_example_streams_tool_calls(void **state)
{
	tract_chat_request r = request();
	tract_chat_result *res = NULL;
	tract_llm *llm = NULL;
	collected c = {0};

	(void)state;
	set_path(TEST_PLUGIN_DIR);
	assert_int_equal(tract_llm_open(&llm, "example", NULL), 0);
	r.tools_json = "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":"
	               "{\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"]}}}]";
	assert_int_equal(tract_llm_chat_stream(&res, llm, &r, collect, &c), 0);
	assert_string_equal(c.tool, "f");
	assert_string_equal(c.call_id, "call_example_2");
	assert_string_equal(c.args, tract_chat_result_tool_call(res, 0)->arguments_json);
	assert_int_equal(c.deltas, 2);
	tract_chat_result_free(res);
	/* Stopped mid-stream. */
	memset(&c, 0, sizeof(c));
	c.stop_at = 1;
	assert_int_equal(tract_llm_chat_stream(&res, llm, &r, collect, &c), TRACT_EABORTED);
	assert_null(res);
	tract_llm_free(llm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_missing_plugin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_plugins, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listing_shows_providers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_in_process_table_checked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_not_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rate_limit_retry_after, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rate_limit_exhausted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_errors_backoff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backoff_capped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exhausted_then_fallback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout_and_transport_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_retries_zero, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_default_retries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keys_never_shown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_options_routed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_without_chat_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_failure_after_delta, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_stop_honoured, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_example_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_example_tool_result_and_summary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_example_streams_tool_calls, setup, teardown),
	};
	const char *p = getenv("TRACT_PLUGIN_PATH");

	snprintf(base_path, sizeof(base_path), "%s", p ? p : "");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
