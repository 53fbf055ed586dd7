/*
 * test_api_json.c - the library calls behind the `tract` command's output:
 * URI redaction, UTF-8 checks, the JSON layout, previews, the content
 * builder and the --json documents, through the public API only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "tract.h"

/* *out equals want; release it. */
static void expect_str(char *out, const char *want)
{
	assert_non_null(out);
	assert_string_equal(out, want);
	tract_string_free(out);
}

/* rc is code and the last error's message contains part. */
static void expect_error(int rc, int code, const char *part)
{
	assert_int_equal(rc, code);
	assert_int_equal(tract_error_last()->code, code);
	if (!strstr(tract_error_last()->message, part))
		fail_msg("message '%s' lacks '%s'", tract_error_last()->message, part);
}

/* ---- URI redaction ---------------------------------------------------------- */

static void test_uri_redact(void **state)
{
	static const char *const secret_uris[] = {
	    "postgres://u:pw@h/db",
	    "postgresql://u:pw@h/db?password=pw2",
	    "postgresql://u@h:5432/db?sslmode=require&password=pw2&x=1",
	    "postgresql://h/db?sslpassword=pw2#frag",
	    "postgres://u:p@w@h/db",
	    "host=h password=pw",
	    "host=h password = pw dbname=d",
	    "host=h password='p w\\' x' user=u",
	    "host=h PASSWORD=pw",
	};
	char *out = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(secret_uris) / sizeof(secret_uris[0]); i++) {
		assert_int_equal(tract_uri_redact(&out, secret_uris[i]), 0);
		if (strstr(out, "pw") || strstr(out, "p w"))
			fail_msg("%s -> %s shows the password", secret_uris[i], out);
		assert_non_null(strstr(out, "***"));
		tract_string_free(out);
	}
	assert_int_equal(tract_uri_redact(&out, "postgres://u:pw@h/db"), 0);
	expect_str(out, "postgres://u:***@h/db");
	assert_int_equal(tract_uri_redact(&out, "postgresql://u:pw@h/db?password=pw2"), 0);
	expect_str(out, "postgresql://u:***@h/db?password=***");
	assert_int_equal(tract_uri_redact(&out, "host=h password=pw"), 0);
	expect_str(out, "host=h password=***");
	assert_int_equal(tract_uri_redact(&out, "host=h password='p w\\' x' user=u"), 0);
	expect_str(out, "host=h password=*** user=u");
	/* nothing to hide */
	assert_int_equal(tract_uri_redact(&out, "postgres://u@h:5432/db?sslmode=off"), 0);
	expect_str(out, "postgres://u@h:5432/db?sslmode=off");
	assert_int_equal(tract_uri_redact(&out, "sqlite:./my.db"), 0);
	expect_str(out, "sqlite:./my.db");
	assert_int_equal(tract_uri_redact(&out, "lmdb:/tmp/x"), 0);
	expect_str(out, "lmdb:/tmp/x");
	assert_int_equal(tract_uri_redact(&out, ""), 0);
	expect_str(out, "");

	expect_error(tract_uri_redact(NULL, "x"), TRACT_EINVAL, "out is NULL");
	out = (char *)"junk";
	expect_error(tract_uri_redact(&out, NULL), TRACT_EINVAL, "uri is NULL");
	assert_null(out);
}

/* The clone's messages name a store in the same form. */
static void test_clone_message_redacted(void **state)
{
	int rc;

	(void)state;
	rc = tract_store_clone(NULL, "/nonexistent/dir/no.db?password=pw", ":memory:", NULL);
	assert_true(rc < 0);
	assert_null(strstr(tract_error_last()->message, "=pw"));
}

/* ---- UTF-8, JSON layout, one-line texts ------------------------------------- */

static void test_utf8_check(void **state)
{
	(void)state;
	assert_int_equal(tract_utf8_check("", 0), 0);
	assert_int_equal(tract_utf8_check("h\xC3\xA9 \xF0\x9F\x98\x80", 9), 0);
	assert_int_equal(tract_utf8_check("a\0b", 3), 0); /* U+0000 is a character */
	expect_error(tract_utf8_check("\xC0\x80", 2), TRACT_EINVAL, "UTF-8");  /* overlong */
	expect_error(tract_utf8_check("\xED\xA0\x80", 3), TRACT_EINVAL, "UTF-8"); /* surrogate */
	expect_error(tract_utf8_check("\xE2\x82", 2), TRACT_EINVAL, "UTF-8");  /* cut */
	expect_error(tract_utf8_check("\xF4\x90\x80\x80", 4), TRACT_EINVAL, "UTF-8");
	expect_error(tract_utf8_check("\xFF", 1), TRACT_EINVAL, "UTF-8");
	/* len counts: the bad byte beyond it is not looked at */
	assert_int_equal(tract_utf8_check("ok\xFF", 2), 0);
	expect_error(tract_utf8_check(NULL, 0), TRACT_EINVAL, "NULL");
}

static void test_json_pretty(void **state)
{
	char *out = NULL;

	(void)state;
	assert_int_equal(
	    tract_json_pretty(&out, "{\"a\":1.50,\"b\": [ ],\"c\":{\"d\":[1e5,\"x,{y}:\\\"\"]},"
				    "\"e\":{}}"),
	    0);
	expect_str(out, "{\n  \"a\": 1.50,\n  \"b\": [],\n  \"c\": {\n    \"d\": [\n      1e5,\n"
			"      \"x,{y}:\\\"\"\n    ]\n  },\n  \"e\": {}\n}");
	assert_int_equal(tract_json_pretty(&out, "[]"), 0);
	expect_str(out, "[]");
	assert_int_equal(tract_json_pretty(&out, " 12345678901234567890 "), 0);
	expect_str(out, "12345678901234567890");
	out = (char *)"junk";
	expect_error(tract_json_pretty(&out, "{\"a\":"), TRACT_EINVAL, "not valid JSON");
	assert_null(out);
	expect_error(tract_json_pretty(&out, NULL), TRACT_EINVAL, "NULL");
	expect_error(tract_json_pretty(NULL, "{}"), TRACT_EINVAL, "NULL");
}

static void test_text_lines(void **state)
{
	char *out = NULL;

	(void)state;
	assert_int_equal(tract_text_first_line(&out, "a\tb\x01" "c\r\nsecond"), 0);
	expect_str(out, "a b c");
	assert_int_equal(tract_text_first_line(&out, ""), 0);
	expect_str(out, "");
	assert_int_equal(tract_text_first_line(&out, "\nx"), 0);
	expect_str(out, "");
	assert_int_equal(tract_text_truncate(&out, "h\xC3\xA9llo world", 5), 0);
	expect_str(out, "h\xC3\xA9ll\xE2\x80\xA6");
	assert_int_equal(tract_text_truncate(&out, "h\xC3\xA9llo", 5), 0);
	expect_str(out, "h\xC3\xA9llo");
	assert_int_equal(tract_text_truncate(&out, "hello", 1), 0);
	expect_str(out, "\xE2\x80\xA6");
	assert_int_equal(tract_text_truncate(&out, "hello", 0), 0);
	expect_str(out, "hello");
	expect_error(tract_text_truncate(&out, NULL, 3), TRACT_EINVAL, "NULL");
	expect_error(tract_text_first_line(NULL, "x"), TRACT_EINVAL, "NULL");
}

static void test_text_sanitize(void **state)
{
	static const char evil[] = "a\x1b[31mb\r\n\tc\x7f" /* C0, DEL */
				   "\xC2\x85"                  /* U+0085 (C1) */
				   "\xE2\x80\xAE" "d"          /* U+202E */
				   "\xE2\x81\xA6"              /* U+2066 */
				   "\xFF" "\xC0\x80"            /* not UTF-8 */
				   "\xC3\xA9";                 /* é stays */
	char *out = NULL;

	(void)state;
	assert_int_equal(tract_text_sanitize(&out, evil, sizeof(evil) - 1, 0), 0);
	expect_str(out, "a\\x1B[31mb\\x0D\\x0A\\x09c\\x7F\\u0085\\u202Ed\\u2066"
			"\\xFF\\xC0\\x80\xC3\xA9");
	assert_int_equal(tract_text_sanitize(&out, "l1\nl2\t\x01", 7,
					     TRACT_SANITIZE_KEEP_NEWLINES),
			 0);
	expect_str(out, "l1\nl2\t\\x01");
	assert_int_equal(tract_text_sanitize(&out, "a\0b", 3, 0), 0);
	expect_str(out, "a\\x00b");
	assert_int_equal(tract_text_sanitize(&out, "", 0, 0), 0);
	expect_str(out, "");
	expect_error(tract_text_sanitize(&out, NULL, 0, 0), TRACT_EINVAL, "NULL");
	expect_error(tract_text_sanitize(NULL, "x", 1, 0), TRACT_EINVAL, "NULL");
}

static void test_content_preview(void **state)
{
	char *out = NULL;

	(void)state;
	assert_int_equal(tract_content_preview(&out, "{\"text\": \"one\\ntwo\"}", 0), 0);
	expect_str(out, "one");
	assert_int_equal(tract_content_preview(&out, "{\"content\": \"c\", \"summary\": \"s\"}", 0),
			 0);
	expect_str(out, "c");
	assert_int_equal(tract_content_preview(&out,
					       "{\"content_type\": \"tool_io\", \"direction\": "
					       "\"call\", \"tool_name\": \"grep\", \"payload\": {}}",
					       0),
			 0);
	expect_str(out, "Tool call: grep");
	assert_int_equal(
	    tract_content_preview(&out, "{\"content_type\": \"freeform\", \"payload\": {\"a\": 1}}", 0),
	    0);
	expect_str(out, "{\"a\":1}");
	assert_int_equal(tract_content_preview(&out, "{\"text\": \"abcdefghijkl\"}", 4), 0);
	expect_str(out, "abc\xE2\x80\xA6");
	assert_int_equal(tract_content_preview(&out, NULL, 10), 0);
	expect_str(out, "");
	assert_int_equal(tract_content_preview(&out, "not json", 10), 0);
	expect_str(out, "");
	expect_error(tract_content_preview(NULL, "{}", 1), TRACT_EINVAL, "NULL");
}

static void test_json_object_helpers(void **state)
{
	char *out = NULL;

	(void)state;
	assert_int_equal(tract_json_object_check("{\"a\": [1, 2.5]}", "--metadata"), 0);
	expect_error(tract_json_object_check("{", "--metadata"), TRACT_EINVAL,
		     "--metadata is not valid JSON");
	expect_error(tract_json_object_check("[1]", "--config"), TRACT_EINVAL,
		     "--config must be a JSON object");
	expect_error(tract_json_object_check("{\"a\": 1e400}", "X"), TRACT_EINVAL,
		     "X holds a number that is not finite");
	expect_error(tract_json_object_check("{\"a\": \"\xFF\"}", "X"), TRACT_EINVAL,
		     "X is not valid UTF-8");
	expect_error(tract_json_object_check(NULL, NULL), TRACT_EINVAL, "NULL");
	assert_int_equal(tract_json_object_pairs(&out, "{\"t\": 0.5, \"m\": \"x\", \"l\": [1]}"), 0);
	expect_str(out, "t=0.5, m=\"x\", l=[1]");
	assert_int_equal(tract_json_object_pairs(&out, "{}"), 0);
	expect_str(out, "");
	expect_error(tract_json_object_pairs(&out, "[1]"), TRACT_EINVAL, "not a JSON object");
}

/* ---- content building -------------------------------------------------------- */

static void test_content_kinds(void **state)
{
	const char *type = NULL, *role = NULL;
	size_t n = 0;

	(void)state;
	assert_true(tract_content_type_is_builtin("tool_io"));
	assert_true(tract_content_type_is_builtin("session"));
	assert_false(tract_content_type_is_builtin("user"));
	assert_false(tract_content_type_is_builtin(NULL));
	while (tract_content_type_builtin(n))
		assert_true(tract_content_type_is_builtin(tract_content_type_builtin(n++)));
	assert_int_equal(n, 8);
	assert_int_equal(tract_content_shortcut_parse(&type, &role, "assistant"), 0);
	assert_string_equal(type, "dialogue");
	assert_string_equal(role, "assistant");
	assert_int_equal(tract_content_shortcut_parse(&type, &role, "instruction"), 0);
	assert_string_equal(type, "instruction");
	assert_null(role);
	expect_error(tract_content_shortcut_parse(&type, &role, "tool_io"), TRACT_EINVAL,
		     "not a shortcut");
	assert_null(type);
	expect_error(tract_content_shortcut_parse(NULL, NULL, NULL), TRACT_EINVAL, "shortcut");
}

static void test_content_build(void **state)
{
	tract_content_build_options o = TRACT_CONTENT_BUILD_OPTIONS_INIT;
	char *out = NULL;

	(void)state;
	assert_int_equal(tract_content_build(&out, "instruction", "Be brief.", NULL, NULL), 0);
	expect_str(out, "{\"content_type\": \"instruction\", \"text\": \"Be brief.\"}");
	assert_int_equal(tract_content_build(&out, "assistant", "\xC3\xA9\n", NULL, NULL), 0);
	expect_str(out, "{\"content_type\": \"dialogue\", \"name\": null, \"role\": \"assistant\", "
			"\"text\": \"\xC3\xA9\\n\"}");
	o.name = "bob";
	assert_int_equal(tract_content_build(&out, "user", "hi \"x\"", NULL, &o), 0);
	expect_str(out, "{\"content_type\": \"dialogue\", \"name\": \"bob\", \"role\": \"user\", "
			"\"text\": \"hi \\\"x\\\"\"}");
	/* the caller's text is kept: numbers and layout unchanged */
	assert_int_equal(tract_content_build(&out, "user", NULL, " {\"text\": \"t\", \"n\": 1.50}",
					     &o),
			 0);
	expect_str(out, " {\"content_type\": \"dialogue\", \"role\": \"user\", \"name\": \"bob\", "
			"\"text\": \"t\", \"n\": 1.50}");
	o.name = NULL;
	assert_int_equal(tract_content_build(&out, "freeform", NULL, "{}", &o), 0);
	expect_str(out, "{\"content_type\": \"freeform\"}");
	assert_int_equal(tract_content_build(&out, "mytype", NULL,
					     "{\"content_type\": \"mytype\", \"v\": 1e5}", NULL),
			 0);
	expect_str(out, "{\"content_type\": \"mytype\", \"v\": 1e5}");

	/* errors name the JSON by its label */
	o.label = "--json";
	out = (char *)"junk";
	expect_error(tract_content_build(&out, "user", NULL, "{", &o), TRACT_EINVAL,
		     "--json is not valid JSON");
	assert_null(out);
	expect_error(tract_content_build(&out, "user", NULL, "[]", &o), TRACT_EINVAL,
		     "--json must be a JSON object");
	expect_error(tract_content_build(&out, "user", NULL, "{\"a\": \"\xC3\"}", &o),
		     TRACT_EINVAL, "--json is not valid UTF-8");
	expect_error(tract_content_build(&out, "user", NULL, "{\"a\": -1e999}", &o), TRACT_EINVAL,
		     "--json holds a number that is not finite");
	expect_error(tract_content_build(&out, "user", NULL, "{\"content_type\": \"instruction\"}",
					 &o),
		     TRACT_EINVAL, "--json: content_type 'instruction' does not match KIND 'user'");
	expect_error(tract_content_build(&out, "user", NULL, "{\"content_type\": 1}", &o),
		     TRACT_EINVAL, "--json: \"content_type\" must be a string");
	expect_error(tract_content_build(&out, "user", NULL, "{\"role\": \"system\"}", &o),
		     TRACT_EINVAL, "--json: \"role\" must be \"user\" here");
	o.label = NULL;
	expect_error(tract_content_build(&out, "user", NULL, "{", &o), TRACT_EINVAL,
		     "content is not valid JSON");
	/* kinds, texts and names */
	expect_error(tract_content_build(&out, "tool_io", "x", NULL, NULL), TRACT_EINVAL,
		     "KIND tool_io needs a JSON object");
	expect_error(tract_content_build(&out, "nosuch", "x", NULL, NULL), TRACT_EINVAL,
		     "unknown content type: nosuch");
	o.name = "n";
	expect_error(tract_content_build(&out, "instruction", "x", NULL, &o), TRACT_EINVAL,
		     "a name needs KIND user, assistant or system");
	o.name = NULL;
	expect_error(tract_content_build(&out, "user", "\xFF", NULL, NULL), TRACT_EINVAL,
		     "TEXT is not valid UTF-8");
	expect_error(tract_content_build(&out, "user", "a", "{}", NULL), TRACT_EINVAL,
		     "cannot be combined");
	expect_error(tract_content_build(&out, "user", NULL, NULL, NULL), TRACT_EINVAL, "missing");
	expect_error(tract_content_build(&out, "", "x", NULL, NULL), TRACT_EINVAL, "empty KIND");
	expect_error(tract_content_build(&out, NULL, "x", NULL, NULL), TRACT_EINVAL, "empty KIND");
	expect_error(tract_content_build(NULL, "user", "x", NULL, NULL), TRACT_EINVAL, "NULL");
	o.version = 99;
	expect_error(tract_content_build(&out, "user", "x", NULL, &o), TRACT_EINVAL,
		     "tract_content_build_options");
	assert_int_equal(tract_content_build_options_init(&o, TRACT_CONTENT_BUILD_OPTIONS_VERSION),
			 0);
	assert_null(o.name);
	assert_int_equal(tract_content_build_options_init(&o, 0), TRACT_EINVAL);
}

/* ---- documents of a store ----------------------------------------------------- */

typedef struct {
	tract_store *store;
	tract *t;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	if (!f || tract_store_open(&f->store, ":memory:", TRACT_STORE_CREATE) != 0 ||
	    tract_create(&f->t, f->store, "doc-test", "Zo\xC3\xAB", NULL) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	tract_free(f->t);
	tract_store_free(f->store);
	free(f);
	return 0;
}

/* The text parses as JSON; return the tree. */
static cJSON *parse(const char *text)
{
	cJSON *v = cJSON_Parse(text);

	if (!v)
		fail_msg("not JSON: %s", text);
	return v;
}

static void test_commit_documents(void **state)
{
	fixture *f = *state;
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_log_options lo = TRACT_LOG_OPTIONS_INIT;
	tract_commit_list *list = NULL;
	tract_commit *c = NULL, *c2 = NULL;
	char *base = NULL, *out = NULL;
	cJSON *v;

	o.message = "first line\nsecond";
	assert_int_equal(tract_commit_create(&c, f->t,
					     "{\"content_type\": \"freeform\", \"payload\": "
					     "{\"n\": 1.50}}",
					     &o),
			 0);
	/* looked up again: with its content */
	{
		tract_commit *created = c;

		assert_int_equal(tract_commit_lookup(&c, f->t, tract_commit_hash(created)), 0);
		tract_commit_free(created);
	}
	/* flags 0: the log --json object, its members in CLI.md's order */
	assert_int_equal(tract_commit_to_json(&base, c, 0), 0);
	assert_int_equal(strncmp(base, "{\"commit_hash\": \"", 16), 0);
	assert_true(strstr(base, "\"parent_hash\": ") < strstr(base, "\"content_type\": "));
	assert_true(strstr(base, "\"created_at\": ") < strstr(base, "\"generation_config\": "));
	assert_null(strstr(base, "\"content\": "));
	assert_null(strstr(base, "\"merge_parents\""));
	/* show: the same members, then the content as stored */
	assert_int_equal(tract_commit_to_json(&out, c, TRACT_COMMIT_JSON_SHOW), 0);
	assert_memory_equal(out, base, strlen(base) - 1);
	assert_string_equal(out + strlen(base) - 1,
			    ", \"content\": {\"content_type\": \"freeform\", \"payload\": {\"n\": "
			    "1.5}}}");
	v = parse(out);
	assert_null(cJSON_GetObjectItem(v, "merge_parents")); /* none */
	cJSON_Delete(v);
	tract_string_free(out);
	tract_string_free(base);
	expect_error(tract_commit_to_json(&out, c, 1u << 7), TRACT_EINVAL, "flags");
	expect_error(tract_commit_to_json(&out, NULL, 0), TRACT_EINVAL, "NULL");
	expect_error(tract_commit_to_json(NULL, c, 0), TRACT_EINVAL, "NULL");

	/* preview: the message's first line, cut */
	assert_int_equal(tract_commit_preview(&out, c, 0), 0);
	expect_str(out, "first line");
	assert_int_equal(tract_commit_preview(&out, c, 6), 0);
	expect_str(out, "first\xE2\x80\xA6");
	tract_commit_free(c);
	assert_int_equal(tract_commit_create_dialogue(&c, f->t, "user", "hello\nthere", NULL, NULL),
			 0);
	/* no message: the content's first line (once the content is loaded) */
	assert_int_equal(tract_commit_lookup(&c2, f->t, tract_commit_hash(c)), 0);
	assert_int_equal(tract_commit_preview(&out, c2, 0), 0);
	expect_str(out, "hello");
	tract_commit_free(c2);
	expect_error(tract_commit_preview(&out, NULL, 0), TRACT_EINVAL, "NULL");
	tract_commit_free(c);

	/* the log --json array */
	assert_int_equal(tract_log_list(&list, f->t, &lo), 0);
	assert_int_equal(tract_commit_list_to_json(&out, list, 0), 0);
	v = parse(out);
	assert_int_equal(cJSON_GetArraySize(v), 2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(v, 0), "commit_hash")->valuestring,
			    tract_commit_hash(list->items[0]));
	cJSON_Delete(v);
	tract_string_free(out);
	tract_commit_list_free(list);
	{
		tract_commit_list empty = {NULL, 0};

		assert_int_equal(tract_commit_list_to_json(&out, &empty, 0), 0);
		expect_str(out, "[]");
	}
	expect_error(tract_commit_list_to_json(&out, NULL, 0), TRACT_EINVAL, "NULL");
}

static void test_status_and_tracts(void **state)
{
	fixture *f = *state;
	tract_info_list *infos = NULL;
	tract_status *st = NULL;
	char *out = NULL;

	assert_int_equal(tract_status_get(&st, f->t), 0);
	assert_int_equal(tract_status_to_json(&out, st), 0);
	expect_str(out, "{\"tract_id\": \"doc-test\", \"head\": null, \"branch\": null, "
			"\"detached\": false, \"commit_count\": 0, \"token_count\": 0, "
			"\"token_source\": \"\", \"max_tokens\": null}");
	tract_status_free(st);
	assert_int_equal(tract_commit_create_instruction(NULL, f->t, "Be brief.", NULL), 0);
	assert_int_equal(tract_budget_set(f->t, 1000, TRACT_BUDGET_WARN, NULL, NULL, 0), 0);
	assert_int_equal(tract_status_get(&st, f->t), 0);
	assert_int_equal(tract_status_to_json(&out, st), 0);
	{
		cJSON *v = parse(out);

		assert_string_equal(cJSON_GetObjectItem(v, "head")->valuestring, st->head);
		assert_string_equal(cJSON_GetObjectItem(v, "branch")->valuestring, "main");
		assert_int_equal(cJSON_GetObjectItem(v, "commit_count")->valueint, 1);
		assert_int_equal(cJSON_GetObjectItem(v, "max_tokens")->valueint, 1000);
		cJSON_Delete(v);
	}
	tract_string_free(out);
	tract_status_free(st);
	expect_error(tract_status_to_json(&out, NULL), TRACT_EINVAL, "NULL");

	assert_int_equal(tract_store_list_tracts(&infos, f->store), 0);
	assert_int_equal(tract_info_list_to_json(&out, infos), 0);
	{
		cJSON *v = parse(out), *o = cJSON_GetArrayItem(v, 0);

		assert_int_equal(cJSON_GetArraySize(v), 1);
		assert_string_equal(cJSON_GetObjectItem(o, "tract_id")->valuestring, "doc-test");
		assert_string_equal(cJSON_GetObjectItem(o, "display_name")->valuestring,
				    "Zo\xC3\xAB");
		assert_true(cJSON_IsString(cJSON_GetObjectItem(o, "last_activity")));
		assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "parent_tract_id")));
		cJSON_Delete(v);
	}
	tract_string_free(out);
	tract_info_list_free(infos);
	expect_error(tract_info_list_to_json(&out, NULL), TRACT_EINVAL, "NULL");
}

static void test_report_documents(void **state)
{
	tract_fsck_problem probs[] = {
	    {TRACT_FSCK_ERROR, (char *)"abc", (char *)"bad \"hash\""},
	    {TRACT_FSCK_WARNING, NULL, NULL},
	};
	tract_fsck_report report = {probs, 2, 1}, clean = {NULL, 0, 0};
	tract_plugin_info plugins[] = {
	    {TRACT_PLUGIN_BACKEND, (char *)"sqlite", (char *)"/p/s.so", 3, NULL},
	    {TRACT_PLUGIN_PROVIDER, NULL, NULL, 0, (char *)"no symbol"},
	};
	tract_plugin_info_list plist = {plugins, 2};
	tract_clone_stats st = {0};
	char *out = NULL;

	(void)state;
	assert_int_equal(tract_fsck_report_to_json(&out, &report), 0);
	expect_str(out, "{\"ok\": false, \"problems\": [{\"severity\": \"error\", \"object\": "
			"\"abc\", \"message\": \"bad \\\"hash\\\"\"},{\"severity\": \"warning\", "
			"\"object\": \"\", \"message\": \"\"}]}");
	assert_int_equal(tract_fsck_report_to_json(&out, &clean), 0);
	expect_str(out, "{\"ok\": true, \"problems\": []}");
	expect_error(tract_fsck_report_to_json(&out, NULL), TRACT_EINVAL, "NULL");

	assert_int_equal(tract_plugin_info_list_to_json(&out, &plist), 0);
	expect_str(out, "[{\"kind\": \"backend\", \"name\": \"sqlite\", \"path\": \"/p/s.so\", "
			"\"abi_version\": 3, \"error\": null},{\"kind\": \"provider\", \"name\": "
			"\"\", \"path\": \"\", \"abi_version\": 0, \"error\": \"no symbol\"}]");
	expect_error(tract_plugin_info_list_to_json(NULL, &plist), TRACT_EINVAL, "NULL");

	st.tracts = 2;
	st.blobs = 5;
	st.metadata = 3;
	st.metadata_skipped = 1;
	assert_int_equal(tract_clone_stats_to_json(&out, &st, "a.db", "postgresql://u:***@h/x"),
			 0);
	expect_str(out, "{\"source\": \"a.db\", \"destination\": \"postgresql://u:***@h/x\", "
			"\"tracts\": 2, \"tables\": {\"blobs\": 5, \"commits\": 0, "
			"\"commit_parents\": 0, \"refs\": 0, \"annotations\": 0, "
			"\"compressions\": 0, \"compression_sources\": 0, "
			"\"compression_results\": 0, \"spawn_pointers\": 0, \"metadata\": 3}, "
			"\"metadata_skipped\": 1, \"commits_deferred\": 0, \"fsck\": null}");
	st.verified = 1;
	st.fsck = &clean;
	assert_int_equal(tract_clone_stats_to_json(&out, &st, "a", "b"), 0);
	assert_non_null(strstr(out, "\"fsck\": {\"ok\": true, \"problems\": []}}"));
	tract_string_free(out);
	expect_error(tract_clone_stats_to_json(&out, &st, NULL, "b"), TRACT_EINVAL, "source");
	expect_error(tract_clone_stats_to_json(&out, NULL, "a", "b"), TRACT_EINVAL, "stats");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uri_redact),
	    cmocka_unit_test(test_clone_message_redacted),
	    cmocka_unit_test(test_utf8_check),
	    cmocka_unit_test(test_json_pretty),
	    cmocka_unit_test(test_text_lines),
	    cmocka_unit_test(test_text_sanitize),
	    cmocka_unit_test(test_content_preview),
	    cmocka_unit_test(test_json_object_helpers),
	    cmocka_unit_test(test_content_kinds),
	    cmocka_unit_test(test_content_build),
	    cmocka_unit_test_setup_teardown(test_commit_documents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_and_tracts, setup, teardown),
	    cmocka_unit_test(test_report_documents),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
