/*
 * test_nul.c - U+0000 in texts (core/json.h): "\u0000" parses, renders back
 * as "\u0000" in every JSON style, sorts as the lowest code point, hashes
 * as the reference hashes it; a store whose texts hold it (a fresh one, and
 * a copy of the reference's v4_basic.db) compiles, counts the NUL byte as
 * tiktoken does, and gives the lengths of its texts.
 *
 * Where the expected values come from: the JSON strings and hashes follow
 * Python's rules (json.dumps escapes U+0000 as \u0000 whatever
 * ensure_ascii says; sort_keys orders by code point) and were checked with
 * python3's json and hashlib; the hashes are also computed here with
 * OpenSSL over the expected canonical text. Token counts come from the real
 * tiktoken@1.0.22 in node (build-ci/data/tiktoken-1.0.22.tgz):
 *   get_encoding('o200k_base').encode_ordinary(text).length
 *   "a\x00b" 3, "hi\x00there" 3, "bob\x00x" 3, "system" 1, "user" 1,
 *   "tool" 1, '{"v": "\\u0000"}' 8,
 *   'Tool call: t\x00x\n{\n  "v": "\\u0000"\n}' 18
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "tract/fsck.h"
#include "helpers.h"
#include "json.h"

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

static cJSON *parse_ok(const char *text)
{
	char err[128];
	cJSON *v = NULL;

	if (tract_json_parse(&v, text, strlen(text), 0, err, sizeof(err)) != 0)
		fail_msg("parse %s: %s", text, err);
	return v;
}

static void assert_renders(const cJSON *v, tract_json_style st, const char *want)
{
	char *got = tract_json_render_str(v, st);

	assert_non_null(got);
	if (strcmp(got, want) != 0)
		fail_msg("style %d: got %s, want %s", (int)st, got, want);
	free(got);
}

static void test_string_round_trip(void **state)
{
	static const tract_json_style all[] = {TRACT_JSON_CANON,  TRACT_JSON_STORE,
					       TRACT_JSON_COLUMN, TRACT_JSON_TOKEN,
					       TRACT_JSON_PRETTY, TRACT_JSON_FLAT};
	cJSON *v = parse_ok("\"a\\u0000b\"");
	size_t i;

	(void)state;
	/* Inside the core: C0 80, so the C string holds all of it. */
	assert_true(cJSON_IsString(v));
	assert_string_equal(v->valuestring, "a\xC0\x80" "b");
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		assert_renders(v, all[i], "\"a\\u0000b\"");
	cJSON_Delete(v);

	/* json.dumps({"a": "x\x00y"}, sort_keys=True, separators=(",", ":"),
	 * ensure_ascii=False) */
	v = parse_ok("{\"a\": \"x\\u0000y\"}");
	assert_renders(v, TRACT_JSON_CANON, "{\"a\":\"x\\u0000y\"}");
	assert_renders(v, TRACT_JSON_STORE, "{\"a\": \"x\\u0000y\"}");
	cJSON_Delete(v);

	/* Only escapes, next to a surrogate pair; json.dumps(..., indent=2). */
	v = parse_ok("{\"k\": [\"\\u0000\\u0000x\\u0000\\ud83d\\ude00\\u0000\"]}");
	assert_renders(v, TRACT_JSON_PRETTY,
		       "{\n  \"k\": [\n    \"\\u0000\\u0000x\\u0000\\ud83d\\ude00\\u0000\"\n  ]\n}");
	assert_renders(v, TRACT_JSON_CANON,
		       "{\"k\":[\"\\u0000\\u0000x\\u0000\xF0\x9F\x98\x80\\u0000\"]}");
	cJSON_Delete(v);

	/* Escapes that only look like it stay what they are. */
	v = parse_ok("[\"\\\\u0000\", \"\\u00000\", \"\\u0001\"]");
	assert_string_equal(cJSON_GetArrayItem(v, 0)->valuestring, "\\u0000");
	assert_string_equal(cJSON_GetArrayItem(v, 1)->valuestring, "\xC0\x80" "0");
	assert_renders(v, TRACT_JSON_CANON, "[\"\\\\u0000\",\"\\u00000\",\"\\u0001\"]");
	cJSON_Delete(v);
}

static void test_keys(void **state)
{
	char err[128];
	cJSON *v, *w;

	(void)state;
	/* json.dumps(..., sort_keys=True, separators=(",", ":"),
	 * ensure_ascii=False): U+0000 sorts first, after the end of a key. */
	v = parse_ok("{\"a\": 3, \"\\u0001\": 2, \"\": 0, \"\\u0000\": 1, "
		     "\"\\u0000\\u0000\": 5, \"a\\u0000\": 4}");
	assert_renders(v, TRACT_JSON_CANON,
		       "{\"\":0,\"\\u0000\":1,\"\\u0000\\u0000\":5,\"\\u0001\":2,\"a\":3,"
		       "\"a\\u0000\":4}");
	assert_renders(v, TRACT_JSON_COLUMN,
		       "{\"a\": 3, \"\\u0001\": 2, \"\": 0, \"\\u0000\": 1, "
		       "\"\\u0000\\u0000\": 5, \"a\\u0000\": 4}");
	/* tract_json_sort gives the same order as the sorted renderings. */
	w = tract_json_dup(v);
	assert_non_null(w);
	tract_json_sort(w);
	assert_renders(w, TRACT_JSON_FLAT,
		       "{\"\": 0, \"\\u0000\": 1, \"\\u0000\\u0000\": 5, \"\\u0001\": 2, \"a\": 3, "
		       "\"a\\u0000\": 4}");
	assert_true(tract_json_equal(cJSON_GetObjectItemCaseSensitive(v, "a\xC0\x80"),
				     cJSON_GetObjectItemCaseSensitive(w, "a\xC0\x80")));
	cJSON_Delete(w);
	cJSON_Delete(v);

	/* "a\u0000" and "a" are two keys; the same key twice is refused. */
	v = parse_ok("{\"a\\u0000\": 1, \"a\": 2}");
	cJSON_Delete(v);
	v = NULL;
	{
		static const char dup[] = "{\"a\\u0000b\": 1, \"a\\u0000b\": 2}";

		assert_int_equal(tract_json_parse(&v, dup, strlen(dup), 0, err, sizeof(err)),
				 TRACT_EINVAL);
	}
	assert_null(v);
	assert_string_equal(err, "duplicate key \"a\\u0000b\"");
}

static void test_raw_c080_refused(void **state)
{
	static const char *const bad[] = {"\"a\xC0\x80" "b\"", "{\"k\xC0\x80\": 1}",
					  "\"\xC0\x80\xC0\x80\xC0\x80\"", "\"\xC0\""};
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *v = NULL;

		assert_int_equal(tract_json_parse(&v, bad[i], strlen(bad[i]), 0, err, sizeof(err)),
				 TRACT_EINVAL);
		assert_null(v);
		assert_non_null(strstr(err, "invalid UTF-8"));
	}
	/* The input check (tract_utf8_valid) refuses it as well. */
	assert_false(tract_utf8_valid("a\xC0\x80", 3));
}

static void test_bytes(void **state)
{
	char s[] = "\xC0\x80x\xC0\x80\xC0\x80\xC3\xA9\xC0\x80";
	char plain[] = "plain \xC3\xA9";
	tract_buf b = TRACT_BUF_INIT;

	(void)state;
	assert_int_equal(tract_mutf8_to_bytes(s, sizeof(s) - 1), 7);
	assert_memory_equal(s, "\0x\0\0\xC3\xA9\0", 8);
	assert_int_equal(tract_mutf8_to_bytes(plain, strlen(plain)), strlen(plain));
	assert_string_equal(plain, "plain \xC3\xA9");
	assert_int_equal(tract_mutf8_to_bytes(NULL, 0), 0);
	/* A real 0x00 byte given by length is escaped the same way. */
	assert_int_equal(tract_json_escape(&b, "a\0b", 3, 1), 0);
	assert_int_equal(tract_json_escape(&b, "a\xC0\x80" "b", 4, 0), 0);
	assert_string_equal(b.ptr, "\"a\\u0000b\"\"a\\u0000b\"");
	tract_buf_dispose(&b);
}

/* ------------------------------------------------------------------ */
/* A store                                                             */
/* ------------------------------------------------------------------ */

static void sha256_hex(char out[65], const char *s)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	assert_int_equal(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(n, 32);
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* A fresh store counted with o200k_base; the table is test data. */
static fx *nul_store(tract_tokenizer **tok)
{
	tract_open_options o = TRACT_OPEN_OPTIONS_INIT;

	if (tract_tokenizer_bpe(tok, "o200k_base") != 0 || !*tok)
		fail_msg("o200k_base table not available (%s); build with scripts/build.sh, or "
			 "run scripts/fetch-encodings.sh BUILDDIR/data/encodings",
			 tract_error_last()->message);
	o.tokenizer = *tok;
	return fx_new(&o);
}

static const char instruction[] = "{\"content_type\": \"instruction\", \"text\": \"a\\u0000b\"}";
static const char dialogue[] = "{\"content_type\": \"dialogue\", \"role\": \"user\", "
			       "\"text\": \"hi\\u0000there\", \"name\": \"bob\\u0000x\"}";
static const char tool[] = "{\"content_type\": \"tool_io\", \"tool_name\": \"t\\u0000x\", "
			   "\"direction\": \"call\", \"payload\": {\"v\": \"\\u0000\"}}";
static const char tool_text[] = "Tool call: t\0x\n{\n  \"v\": \"\\u0000\"\n}";

/* What the three commits compile to, whichever way the context was built. */
static void check_context(tract_context *c)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(tract_context_count(c), 3);
	assert_int_equal(tract_context_content_len(c, 0), 3);
	assert_memory_equal(tract_context_content(c, 0), "a\0b", 4);
	assert_int_equal(tract_context_name_len(c, 0), 0);
	assert_null(tract_context_name(c, 0));
	assert_int_equal(tract_context_content_len(c, 1), 8);
	assert_memory_equal(tract_context_content(c, 1), "hi\0there", 9);
	assert_int_equal(tract_context_name_len(c, 1), 5);
	assert_memory_equal(tract_context_name(c, 1), "bob\0x", 6);
	assert_string_equal(tract_context_role(c, 2), "tool");
	assert_int_equal(tract_context_content_len(c, 2), sizeof(tool_text) - 1);
	assert_memory_equal(tract_context_content(c, 2), tool_text, sizeof(tool_text));
	assert_int_equal(tract_context_content_len(c, 3), 0);
	/* 3 + (3 + system 1 + "a\0b" 3) + (3 + user 1 + "hi\0there" 3 +
	 * "bob\0x" 3 + 1) + (3 + tool 1 + tool text 18), tiktoken's counts. */
	assert_string_equal(tract_context_token_source(c), "tiktoken:o200k_base");
	assert_int_equal(tract_context_token_count(c), 3 + 7 + 11 + 22);

	assert_int_equal(tract_context_render(&out, c, TRACT_FORMAT_JSON), 0);
	assert_non_null(strstr(out, "{\"role\": \"system\", \"content\": \"a\\u0000b\"}"));
	assert_non_null(strstr(out, "{\"role\": \"user\", \"content\": \"hi\\u0000there\", "
				    "\"name\": \"bob\\u0000x\"}"));
	assert_non_null(strstr(out, "\"content\": \"Tool call: t\\u0000x\\n{\\n  \\\"v\\\": "
				    "\\\"\\\\u0000\\\"\\n}\""));
	tract_string_free(out);
	assert_int_equal(tract_context_render(&out, c, TRACT_FORMAT_ANTHROPIC), 0);
	assert_non_null(strstr(out, "{\"system\": \"a\\u0000b\", "));
	tract_string_free(out);
	/* The text rendering writes the byte itself. */
	assert_int_equal(tract_context_render_n(&out, &len, c, TRACT_FORMAT_TEXT), 0);
	{
		static const char want[] = "[system]\na\0b\n\n[user bob\0x]\nhi\0there\n\n[tool]\n"
					   "Tool call: t\0x\n{\n  \"v\": \"\\u0000\"\n}\n";

		assert_int_equal(len, sizeof(want) - 1);
		assert_memory_equal(out, want, sizeof(want));
	}
	tract_string_free(out);
}

static void test_store(void **state)
{
	tract_tokenizer *tok = NULL;
	fx *f = nul_store(&tok);
	tract_compile_options co = TRACT_COMPILE_OPTIONS_INIT;
	tract_fsck_report *rep = NULL;
	tract_commit *c = NULL;
	tract_context *ctx;
	char want[65], h1[65], h3[65];
	char *json = NULL, *again = NULL;

	(void)state;
	assert_int_equal(tract_commit_create(&c, f->t, instruction, NULL), 0);
	/* The content hash is sha256 of json.dumps(N, sort_keys=True,
	 * separators=(",", ":"), ensure_ascii=False): U+0000 as \u0000. */
	sha256_hex(want, "{\"content_type\":\"instruction\",\"text\":\"a\\u0000b\"}");
	assert_string_equal(want,
			    "7fd3db1624103299dee9880b9a5bfce09ecb4becfec814a9da3587987bc6e80e");
	assert_string_equal(tract_commit_content_hash(c), want);
	assert_int_equal(tract_commit_token_count(c), 3);
	memcpy(h1, tract_commit_hash(c), 65);
	tract_commit_free(c);
	/* Stored as the reference stores it: the STORE rendering. */
	assert_int_equal(tract_commit_lookup(&c, f->t, h1), 0);
	assert_non_null(tract_commit_content(c));
	assert_string_equal(tract_commit_content(c),
			    "{\"content_type\": \"instruction\", \"text\": \"a\\u0000b\"}");
	tract_commit_free(c);

	assert_int_equal(tract_commit_create(&c, f->t, dialogue, NULL), 0);
	sha256_hex(want, "{\"content_type\":\"dialogue\",\"name\":\"bob\\u0000x\",\"role\":\"user\","
			 "\"text\":\"hi\\u0000there\"}");
	assert_string_equal(want,
			    "6bbc98cae65335782f104aeee26415a457137b846d542a310e7cb33aa3715f31");
	assert_string_equal(tract_commit_content_hash(c), want);
	assert_int_equal(tract_commit_token_count(c), 3);
	tract_commit_free(c);

	/* tool_io counts its payload's J-TOKEN: {"v": "\u0000"}, 8 tokens. */
	assert_int_equal(tract_commit_create(&c, f->t, tool, NULL), 0);
	sha256_hex(want, "{\"content_type\":\"tool_io\",\"direction\":\"call\",\"payload\":{\"v\":"
			 "\"\\u0000\"},\"status\":null,\"tool_name\":\"t\\u0000x\"}");
	assert_string_equal(tract_commit_content_hash(c), want);
	assert_int_equal(tract_commit_token_count(c), 8);
	memcpy(h3, tract_commit_hash(c), 65);
	tract_commit_free(c);

	/* The snapshot the commits derived (plain compile, the cache). */
	ctx = fx_compile(f, NULL);
	check_context(ctx);
	assert_int_equal(tract_context_render(&json, ctx, TRACT_FORMAT_JSON), 0);
	tract_context_free(ctx);
	/* A full compile from the stored rows (stored counts reused). */
	co.at_commit = h3;
	ctx = fx_compile(f, &co);
	check_context(ctx);
	assert_int_equal(tract_context_render(&again, ctx, TRACT_FORMAT_JSON), 0);
	assert_string_equal(again, json);
	tract_string_free(again);
	tract_context_free(ctx);
	/* An edit of the first message: its " [edited]" marker follows the NUL. */
	co.at_commit = NULL;
	co.edit_markers = 1;
	{
		tract_commit_options eo = TRACT_COMMIT_OPTIONS_INIT;

		eo.operation = TRACT_OP_EDIT;
		eo.response_to = h1;
		assert_int_equal(tract_commit_create(&c, f->t,
						     "{\"content_type\": \"instruction\", "
						     "\"text\": \"\\u0000z\"}",
						     &eo),
				 0);
		tract_commit_free(c);
	}
	ctx = fx_compile(f, &co);
	assert_int_equal(tract_context_content_len(ctx, 0), 11);
	assert_memory_equal(tract_context_content(ctx, 0), "\0z [edited]", 12);
	tract_context_free(ctx);

	assert_int_equal(tract_fsck_run(&rep, f->store), 0);
	assert_int_equal(rep->count, 0);
	tract_fsck_report_free(rep);

	/* Reopened: the rows compile to the same JSON. */
	{
		char id[65];
		tract_open_options o = TRACT_OPEN_OPTIONS_INIT;

		snprintf(id, sizeof(id), "%s", tract_id(f->t));
		tract_free(f->t);
		f->t = NULL;
		o.tokenizer = tok;
		assert_int_equal(tract_open(&f->t, f->store, id, &o), 0);
		co.at_commit = h3;
		co.edit_markers = 0;
		ctx = fx_compile(f, &co);
		check_context(ctx);
		assert_int_equal(tract_context_render(&again, ctx, TRACT_FORMAT_JSON), 0);
		assert_string_equal(again, json);
		tract_string_free(again);
		tract_context_free(ctx);
	}
	tract_string_free(json);
	fx_free(f);
}

/* Config queries compare texts as SQLite does (bytes; U+0000 first). */
static void test_config_query(void **state)
{
	static const char *const configs[] = {"{\"k\": \"a\\u0000b\"}", "{\"k\": \"a\"}",
					      "{\"k\": \"a\\u0001\"}"};
	tract_tokenizer *tok = NULL;
	fx *f = nul_store(&tok);
	tract_commit_list *l = NULL;
	char h[3][65];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;

		o.generation_config_json = configs[i];
		fx_commit(f, h[i], instruction, &o);
	}
	assert_int_equal(tract_config_query(&l, f->t, "k", "=", "\"a\\u0000b\""), 0);
	assert_int_equal(l->count, 1);
	assert_string_equal(tract_commit_hash(l->items[0]), h[0]);
	tract_commit_list_free(l);
	/* "a" < "a\0b" < "a\1" */
	assert_int_equal(tract_config_query(&l, f->t, "k", "<", "\"a\\u0001\""), 0);
	assert_int_equal(l->count, 2);
	assert_string_equal(tract_commit_hash(l->items[0]), h[0]);
	assert_string_equal(tract_commit_hash(l->items[1]), h[1]);
	tract_commit_list_free(l);
	assert_int_equal(tract_config_query(&l, f->t, "k", ">", "\"a\""), 0);
	assert_int_equal(l->count, 2);
	assert_string_equal(tract_commit_hash(l->items[0]), h[0]);
	assert_string_equal(tract_commit_hash(l->items[1]), h[2]);
	tract_commit_list_free(l);
	fx_free(f);
}

/* The tract of a reference database that write tests may append to. */
static char *writeback_tract(const char *expected_path)
{
	char *text = tu_read_file(expected_path, NULL), *id = NULL;
	cJSON *exp = text ? cJSON_Parse(text) : NULL;
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(exp, "writeback_tract");

	if (cJSON_IsString(w))
		id = strdup(w->valuestring);
	cJSON_Delete(exp);
	free(text);
	if (!id)
		fail_msg("%s: no writeback_tract", expected_path);
	return id;
}

/*
 * A copy of a database the reference wrote, with a text holding U+0000
 * appended: the old messages stay as they were, the new one compiles and
 * is counted as tiktoken counts it, fsck stays clean, and a full compile
 * from the reopened file gives the same JSON.
 */
static void test_reference_database(void **state)
{
	const char *root = getenv("TRACT_FIXTURES");
	char src[1024], exp[1024], dir[] = "/tmp/tract-nul-XXXXXX", path[1100], uri[1200];
	tract_compile_options co = TRACT_COMPILE_OPTIONS_INIT;
	tract_open_options oo = TRACT_OPEN_OPTIONS_INIT;
	tract_tokenizer *tok = NULL;
	tract_context *before = NULL, *after = NULL, *again = NULL;
	tract_fsck_report *rep = NULL;
	tract_store *s = NULL;
	tract_commit *c = NULL;
	tract *t = NULL;
	char *data, *id, *json = NULL, *json2 = NULL, head[65];
	size_t len = 0, i, n, errors = 0;
	FILE *f;

	(void)state;
	if (!root || !*root)
		fail_msg("TRACT_FIXTURES is unset (tests/fixtures/py-tract)");
	snprintf(src, sizeof(src), "%s/v4_basic.db", root);
	snprintf(exp, sizeof(exp), "%s/v4_basic.expected.json", root);
	data = tu_read_file(src, &len);
	if (!data)
		fail_msg("%s: fixture not found", src);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v4.db", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(data);
	id = writeback_tract(exp);

	assert_int_equal(tract_tokenizer_bpe(&tok, "o200k_base"), 0);
	oo.tokenizer = tok;
	snprintf(uri, sizeof(uri), "sqlite:%s", path);
	assert_int_equal(tract_store_open(&s, uri, 0), 0);
	assert_int_equal(tract_open(&t, s, id, &oo), 0);
	assert_int_equal(tract_context_compile(&before, t, NULL), 0);
	n = tract_context_count(before);
	assert_true(n > 0);
	assert_int_equal(tract_commit_create(&c, t, instruction, NULL), 0);
	snprintf(head, sizeof(head), "%s", tract_commit_hash(c));
	assert_int_equal(tract_commit_token_count(c), 3);
	tract_commit_free(c);

	assert_int_equal(tract_context_compile(&after, t, NULL), 0);
	assert_int_equal(tract_context_count(after), n + 1);
	for (i = 0; i < n; i++) {
		assert_int_equal(tract_context_content_len(after, i),
				 tract_context_content_len(before, i));
		assert_memory_equal(tract_context_content(after, i),
				    tract_context_content(before, i),
				    tract_context_content_len(before, i));
	}
	assert_int_equal(tract_context_content_len(after, n), 3);
	assert_memory_equal(tract_context_content(after, n), "a\0b", 4);
	/* 3 + system 1 + "a\0b" 3 */
	assert_int_equal(tract_context_token_count(after), tract_context_token_count(before) + 7);
	assert_int_equal(tract_context_render(&json, after, TRACT_FORMAT_JSON), 0);
	assert_non_null(strstr(json, "{\"role\": \"system\", \"content\": \"a\\u0000b\"}]"));

	assert_int_equal(tract_fsck_run(&rep, s), 0);
	for (i = 0; i < rep->count; i++) {
		if (rep->problems[i].severity == TRACT_FSCK_ERROR) {
			print_error("fsck: %s: %s\n", rep->problems[i].object,
				    rep->problems[i].message);
			errors++;
		}
	}
	assert_int_equal(errors, 0);
	tract_fsck_report_free(rep);
	tract_free(t);
	tract_store_free(s);

	assert_int_equal(tract_store_open(&s, uri, 0), 0);
	assert_int_equal(tract_open(&t, s, id, &oo), 0);
	co.at_commit = head;
	assert_int_equal(tract_context_compile(&again, t, &co), 0);
	assert_int_equal(tract_context_render(&json2, again, TRACT_FORMAT_JSON), 0);
	assert_string_equal(json2, json);

	tract_string_free(json);
	tract_string_free(json2);
	tract_context_free(before);
	tract_context_free(after);
	tract_context_free(again);
	tract_free(t);
	tract_store_free(s);
	free(id);
	tu_remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_string_round_trip),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_raw_c080_refused),
	    cmocka_unit_test(test_bytes),
	    cmocka_unit_test(test_store),
	    cmocka_unit_test(test_config_query),
	    cmocka_unit_test(test_reference_database),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
