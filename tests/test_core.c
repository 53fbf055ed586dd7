/*
 * test_core.c - hashing test vectors, content types and their validation,
 * the commit engine (edits, auto-annotation, HEAD movement, atomicity),
 * reference resolution, stores and tract handles.
 */
#include "helpers.h"

#include <pthread.h>

#include "hash.h"
#include "json.h"
#include "plugin.h"

/* ---- §2.5 test vectors -------------------------------------------------- */

static void normalize(fx *f, const char *json, char **out, char hash[65])
{
	if (tract_content_normalize(out, hash, f->t, json) != 0)
		fail_msg("normalize %s: %s", json, tract_error_last()->message);
}

static void test_content_hash_vectors(void **state)
{
	fx *f = fx_new(NULL);
	char *payload, hash[65];

	(void)state;
	normalize(f, "{\"content_type\":\"instruction\",\"text\":\"You are helpful.\"}", &payload,
		  hash);
	assert_string_equal(hash, "2a96809641b4a1fbe1161ba3ba0943f31826e57e1bb77d46d6a416c39a7b28d8");
	assert_string_equal(payload,
			    "{\"content_type\": \"instruction\", \"text\": \"You are helpful.\"}");
	assert_int_equal(strlen(payload), 59);
	free(payload);

	normalize(f, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"Hi\"}", &payload,
		  hash);
	assert_string_equal(hash, "adcb062e466730e58f218c284c6d7e69f976e86c87f65e82cc15b4997ce3fbde");
	assert_int_equal(strlen(payload), 72);
	free(payload);

	normalize(f,
		  "{\"content_type\":\"tool_io\",\"tool_name\":\"calc\",\"direction\":\"call\","
		  "\"payload\":{\"b\":1,\"a\":\"\xc3\xa9\"}}",
		  &payload, hash);
	assert_string_equal(hash, "858cf0725e405ded358a3cafd1e12b12e6e53fb658e94a59ddcab08c47c9812e");
	assert_int_equal(strlen(payload), 117);
	free(payload);
	fx_free(f);
}

static void test_commit_hash_vectors(void **state)
{
	tract_commit_hash_input in;
	char root[65], edit[65];
	tract_time t;

	(void)state;
	assert_int_equal(tract_time_parse(&t, "2024-01-02T03:04:05.123456+00:00"), 0);
	memset(&in, 0, sizeof(in));
	in.content_hash = "2a96809641b4a1fbe1161ba3ba0943f31826e57e1bb77d46d6a416c39a7b28d8";
	in.content_type = "instruction";
	in.operation = TRACT_OP_APPEND;
	in.created_at = t;
	assert_int_equal(tract_commit_hash_compute(root, &in), 0);
	assert_string_equal(root, "aa37e58940c9a1b4161c27b6a09dc2157b970ec2df7ce9756e390bda525c47f1");

	assert_int_equal(tract_time_parse(&t, "2024-01-02T03:04:06+00:00"), 0);
	in.content_hash = "adcb062e466730e58f218c284c6d7e69f976e86c87f65e82cc15b4997ce3fbde";
	in.content_type = "dialogue";
	in.operation = TRACT_OP_EDIT;
	in.parent_hash = root;
	in.response_to = root;
	in.created_at = t;
	assert_int_equal(tract_commit_hash_compute(edit, &in), 0);
	assert_string_equal(edit, "5a149000ae5bb6701307214a50e61418cfce2027174e63d0e07372ddfb62fd95");
}

static void test_commit_hash_parent_hashes_form(void **state)
{
	tract_commit_hash_input in;
	const char *extra[] = {"bbbb"};
	char plain[65], merged[65], again[65];

	(void)state;
	memset(&in, 0, sizeof(in));
	in.content_hash = "c";
	in.content_type = "freeform";
	in.parent_hash = "cccc";
	in.created_at = 0;
	assert_int_equal(tract_commit_hash_compute(plain, &in), 0);
	in.extra_parents = extra;
	in.n_extra = 1;
	assert_int_equal(tract_commit_hash_compute(merged, &in), 0);
	assert_string_not_equal(plain, merged);
	/* The same J-CANON text hashed by hand: parents sorted ascending. */
	{
		const char *h = "{\"content_hash\":\"c\",\"content_type\":\"freeform\","
				"\"operation\":\"append\",\"parent_hash\":\"cccc\","
				"\"parent_hashes\":[\"bbbb\",\"cccc\"],"
				"\"timestamp_iso\":\"1970-01-01T00:00:00+00:00\"}";
		assert_int_equal(tract_sha256_hex(again, h, strlen(h)), 0);
		assert_string_equal(merged, again);
	}
}

static void test_time_format_parse(void **state)
{
	char buf[48];
	tract_time t;

	(void)state;
	assert_int_equal(tract_time_parse(&t, "2024-01-02T03:04:05.5-05:00"), 0);
	assert_int_equal(tract_time_format(buf, sizeof(buf), t), 0);
	assert_string_equal(buf, "2024-01-02T08:04:05.500000+00:00");
	assert_int_equal(tract_time_parse(&t, "2024-01-02 03:04:05"), 0);
	assert_int_equal(tract_time_format(buf, sizeof(buf), t), 0);
	assert_string_equal(buf, "2024-01-02T03:04:05.000000+00:00");
	assert_int_equal(tract_time_format(buf, 10, t), TRACT_EINVAL);
	assert_string_equal(buf, "");
	assert_int_equal(tract_time_parse(&t, "1969-12-31T23:59:59.999999Z"), 0);
	assert_int_equal(t, -1);
	assert_int_equal(tract_time_parse(&t, "2024-02-30T00:00:00Z"), TRACT_EINVAL);
	assert_int_equal(tract_time_parse(&t, "yesterday"), TRACT_EINVAL);
	assert_int_equal(tract_time_parse(&t, "2024-01-02T03:04:05+25:00"), TRACT_EINVAL);
	{
		tract_time a = tract_time_now(), b = tract_time_now();
		assert_true(b > a);
	}
}

/* ---- content types -------------------------------------------------------- */

static void expect_payload(fx *f, const char *in, const char *want)
{
	char *payload = NULL, hash[65];

	normalize(f, in, &payload, hash);
	assert_string_equal(payload, want);
	free(payload);
}

static void test_content_normalization(void **state)
{
	fx *f = fx_new(NULL);

	(void)state;
	expect_payload(f, "{\"content_type\":\"dialogue\",\"role\":\"assistant\",\"text\":\"x\",\"extra\":1}",
		       "{\"content_type\": \"dialogue\", \"name\": null, \"role\": \"assistant\", "
		       "\"text\": \"x\"}");
	expect_payload(f, "{\"content_type\":\"output\",\"text\":\"\"}",
		       "{\"content_type\": \"output\", \"format\": \"text\", \"text\": \"\"}");
	expect_payload(f, "{\"content_type\":\"session\",\"session_type\":\"start\",\"summary\":\"s\"}",
		       "{\"content_type\": \"session\", \"decisions\": [], \"failed_approaches\": "
		       "[], \"next_steps\": [], \"session_type\": \"start\", \"summary\": \"s\"}");
	expect_payload(f, "{\"content_type\":\"artifact\",\"artifact_type\":\"code\",\"content\":\"x=1\"}",
		       "{\"artifact_type\": \"code\", \"content\": \"x=1\", \"content_type\": "
		       "\"artifact\", \"language\": null}");
	expect_payload(f, "{\"content_type\":\"freeform\",\"payload\":{\"z\":[1,2.50,-0],\"a\":{}}}",
		       "{\"content_type\": \"freeform\", \"payload\": {\"a\": {}, \"z\": [1, 2.5, 0]}}");
	expect_payload(f, "{\"content_type\":\"reasoning\",\"text\":\"\\u00e9\"}",
		       "{\"content_type\": \"reasoning\", \"text\": \"\xc3\xa9\"}");
	/* Content payloads: non-finite numbers become null (spec §2.1). */
	expect_payload(f, "{\"content_type\":\"freeform\",\"payload\":{\"x\":1e400}}",
		       "{\"content_type\": \"freeform\", \"payload\": {\"x\": null}}");
	/* Big integers survive exactly. */
	expect_payload(f, "{\"content_type\":\"freeform\",\"payload\":{\"n\":100000000000000000000}}",
		       "{\"content_type\": \"freeform\", \"payload\": {\"n\": 100000000000000000000}}");
	expect_payload(f, "{\"content_type\":\"tool_io\",\"tool_name\":\"t\",\"direction\":\"result\",\"payload\":{},\"status\":\"error\"}",
		       "{\"content_type\": \"tool_io\", \"direction\": \"result\", \"payload\": {}, "
		       "\"status\": \"error\", \"tool_name\": \"t\"}");
	fx_free(f);
}

static void expect_invalid(fx *f, const char *json, const char *fragment)
{
	fx_counts before = fx_count(f), after;
	int rc = tract_commit_create(NULL, f->t, json, NULL);

	assert_int_equal(rc, TRACT_EINVAL);
	assert_int_equal(tract_error_last()->code, TRACT_EINVAL);
	if (!strstr(tract_error_last()->message, fragment))
		fail_msg("message '%s' lacks '%s'", tract_error_last()->message, fragment);
	after = fx_count(f);
	fx_assert_same_counts(before, after);
}

static void test_content_validation_errors(void **state)
{
	fx *f = fx_new(NULL);
	char h[65];

	(void)state;
	fx_say(f, h, "user", "so the tract is not empty");
	expect_invalid(f, "{\"text\":\"x\"}", "Content validation failed: missing 'content_type'");
	expect_invalid(f, "{\"content_type\":\"nope\"}", "unknown content type 'nope'");
	expect_invalid(f, "{\"content_type\":5}", "'content_type' must be a string");
	expect_invalid(f, "[1]", "must be a JSON object");
	expect_invalid(f, "{\"content_type\":\"instruction\"}", "'text' is required");
	expect_invalid(f, "{\"content_type\":\"instruction\",\"text\":5}", "'text' must be a string");
	expect_invalid(f, "{\"content_type\":\"dialogue\",\"role\":\"robot\",\"text\":\"x\"}",
		       "'role' must be one of");
	expect_invalid(f, "{\"content_type\":\"dialogue\",\"role\":\"User\",\"text\":\"x\"}",
		       "'role' must be one of");
	expect_invalid(f, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"x\",\"name\":3}",
		       "'name' must be a string or null");
	expect_invalid(f, "{\"content_type\":\"tool_io\",\"tool_name\":\"t\",\"direction\":\"call\",\"payload\":[]}",
		       "'payload' must be an object");
	expect_invalid(f, "{\"content_type\":\"tool_io\",\"tool_name\":\"t\",\"direction\":\"up\",\"payload\":{}}",
		       "'direction' must be one of");
	expect_invalid(f, "{\"content_type\":\"tool_io\",\"tool_name\":\"t\",\"direction\":\"call\",\"payload\":{},\"status\":\"ok\"}",
		       "'status' must be one of");
	expect_invalid(f, "{\"content_type\":\"output\",\"text\":\"x\",\"format\":null}",
		       "'format' must be one of");
	expect_invalid(f, "{\"content_type\":\"output\",\"text\":\"x\",\"format\":\"html\"}",
		       "'format' must be one of");
	expect_invalid(f, "{\"content_type\":\"artifact\",\"artifact_type\":\"c\"}",
		       "'content' is required");
	expect_invalid(f, "{\"content_type\":\"freeform\"}", "'payload' is required");
	expect_invalid(f, "{\"content_type\":\"session\",\"session_type\":\"pause\",\"summary\":\"s\"}",
		       "'session_type' must be one of");
	expect_invalid(f, "{\"content_type\":\"session\",\"session_type\":\"end\",\"summary\":\"s\",\"decisions\":[1]}",
		       "must contain only strings");
	expect_invalid(f, "{\"content_type\":\"session\",\"session_type\":\"end\",\"summary\":\"s\",\"next_steps\":\"x\"}",
		       "must be an array of strings");
	/* Malformed JSON, invalid UTF-8 (a raw C0 80 too: U+0000 is "\u0000"). */
	expect_invalid(f, "{\"content_type\":\"instruction\",\"text\":\"x\"", "Content validation failed");
	expect_invalid(f, "{\"content_type\":\"instruction\",\"text\":\"\xff\"}", "UTF-8");
	expect_invalid(f, "{\"content_type\":\"instruction\",\"text\":\"a\xc0\x80" "b\"}", "UTF-8");
	expect_invalid(f, "", "Content validation failed");
	fx_free(f);
}

static void test_metadata_and_config_validation(void **state)
{
	fx *f = fx_new(NULL);
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	fx_counts before = fx_count(f);
	const char *dlg = "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"x\"}";

	(void)state;
	o.metadata_json = "[1,2]";
	assert_int_equal(tract_commit_create(NULL, f->t, dlg, &o), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "metadata"));
	o.metadata_json = "{\"a\":1e999}";
	assert_int_equal(tract_commit_create(NULL, f->t, dlg, &o), TRACT_EINVAL);
	o.metadata_json = NULL;
	o.generation_config_json = "{\"temperature\":";
	assert_int_equal(tract_commit_create(NULL, f->t, dlg, &o), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "generation config"));
	o.generation_config_json = NULL;
	o.message = "bad \xc3";
	assert_int_equal(tract_commit_create(NULL, f->t, dlg, &o), TRACT_EINVAL);
	fx_assert_same_counts(before, fx_count(f));
	fx_free(f);
}

static int reject_all(char **out, const char *in, char *err, size_t len, void *p)
{
	(void)out;
	(void)in;
	(void)p;
	snprintf(err, len, "nothing passes");
	return 1;
}

/* A custom type: keeps "text" and "score"; defaults score to 0. */
static int note_validator(char **out, const char *in, char *err, size_t len, void *p)
{
	cJSON *v = cJSON_Parse(in), *n = cJSON_CreateObject(), *x;

	(*(int *)p)++;
	x = cJSON_GetObjectItem(v, "text");
	if (!x) {
		snprintf(err, len, "text missing");
		cJSON_Delete(v);
		cJSON_Delete(n);
		return 1;
	}
	cJSON_AddItemToObject(n, "text", cJSON_Duplicate(x, 1));
	x = cJSON_GetObjectItem(v, "score");
	cJSON_AddItemToObject(n, "score", x ? cJSON_Duplicate(x, 1) : cJSON_CreateNumber(0));
	cJSON_AddStringToObject(n, "content_type", "something-else");
	*out = cJSON_PrintUnformatted(n);
	cJSON_Delete(v);
	cJSON_Delete(n);
	return 0;
}

static void test_custom_types(void **state)
{
	fx *f = fx_new(NULL);
	tract_context *ctx;
	tract_commit *c = NULL;
	int calls = 0;
	char h[65];

	(void)state;
	assert_int_equal(tract_content_type_register(f->t, "bad name", note_validator, &calls),
			 TRACT_EINVAL);
	assert_int_equal(tract_content_type_register(f->t, "note", NULL, NULL), TRACT_EINVAL);
	assert_int_equal(tract_content_type_register(f->t, "note", note_validator, &calls), 0);
	fx_commit(f, h, "{\"content_type\":\"note\",\"text\":\"remember\",\"junk\":1}", NULL);
	assert_int_equal(calls, 1);
	assert_int_equal(tract_commit_lookup(&c, f->t, h), 0);
	/* content_type forced to the registered name, keys sorted. */
	assert_string_equal(tract_commit_content_type(c), "note");
	assert_string_equal(tract_commit_content(c),
			    "{\"content_type\": \"note\", \"score\": 0, \"text\": \"remember\"}");
	tract_commit_free(c);
	ctx = fx_compile(f, NULL);
	assert_int_equal(tract_context_count(ctx), 1);
	assert_string_equal(tract_context_role(ctx, 0), "assistant");
	assert_string_equal(tract_context_content(ctx, 0), "remember");
	tract_context_free(ctx);
	expect_invalid(f, "{\"content_type\":\"note\"}",
		       "Custom content type 'note' validation failed: text missing");
	/* Non-string text is refused even when the validator lets it through. */
	expect_invalid(f, "{\"content_type\":\"note\",\"text\":[1]}",
		       "Custom content type 'note' validation failed: field 'text' must be a string");
	/* A custom type shadows a built-in name. */
	assert_int_equal(tract_content_type_register(f->t, "dialogue", reject_all, NULL), 0);
	expect_invalid(f, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"x\"}",
		       "Custom content type 'dialogue' validation failed: nothing passes");
	fx_free(f);
}

/* ---- commits ------------------------------------------------------------------ */

static void test_first_commit_creates_main(void **state)
{
	fx *f = fx_new(NULL);
	tract_ref_value head, main_ref;
	char h1[65], h2[65], head_hash[65];
	char *branch = NULL;
	int detached = 1;
	tract_commit *c = NULL;

	(void)state;
	assert_int_equal(tract_head_get(head_hash, &branch, &detached, f->t), 0);
	assert_string_equal(head_hash, "");
	assert_null(branch);
	assert_int_equal(detached, 0);
	fx_say(f, h1, "user", "one");
	fx_say(f, h2, "assistant", "two");
	assert_int_equal(f->store->be->begin(f->store->conn, TRACT_TXN_READ), 0);
	assert_int_equal(tract_ref_read(&head, f->store, f->t->id, "HEAD"), 0);
	assert_int_equal(tract_ref_read(&main_ref, f->store, f->t->id, "refs/heads/main"), 0);
	f->store->be->commit(f->store->conn);
	assert_string_equal(head.symbolic, "refs/heads/main");
	assert_string_equal(head.commit, "");
	assert_string_equal(main_ref.commit, h2);
	assert_int_equal(tract_head_get(head_hash, &branch, &detached, f->t), 0);
	assert_string_equal(head_hash, h2);
	assert_string_equal(branch, "main");
	tract_string_free(branch);
	assert_int_equal(tract_commit_lookup(&c, f->t, h2), 0);
	assert_string_equal(tract_commit_parent(c), h1);
	assert_int_equal(tract_commit_operation(c), TRACT_OP_APPEND);
	tract_commit_free(c);
	assert_int_equal(tract_commit_lookup(&c, f->t, h1), 0);
	assert_null(tract_commit_parent(c));
	tract_commit_free(c);
	fx_free(f);
}

static void test_default_branch_honoured(void **state)
{
	tract_open_options o = TRACT_OPEN_OPTIONS_INIT;
	fx *f;
	char *branch = NULL, head[65];

	(void)state;
	o.default_branch = "trunk";
	f = fx_new(&o);
	fx_say(f, NULL, "user", "x");
	assert_int_equal(tract_head_get(head, &branch, NULL, f->t), 0);
	assert_string_equal(branch, "trunk");
	tract_string_free(branch);
	o.default_branch = "bad..name";
	{
		tract *t2 = (tract *)&o;
		assert_int_equal(tract_open(&t2, f->store, NULL, &o), TRACT_EINVAL);
		assert_null(t2);
	}
	fx_free(f);
}

static void test_dedup_and_distinct_commits(void **state)
{
	fx *f = fx_new(NULL);
	tract_commit *a = NULL, *b = NULL;
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	fx_counts n;

	(void)state;
	assert_int_equal(tract_commit_create_dialogue(&a, f->t, "user", "same", NULL, NULL), 0);
	o.generation_config_json = "{\"temperature\":0.5}";
	assert_int_equal(tract_commit_create(&b, f->t,
					     "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"same\"}",
					     &o),
			 0);
	assert_string_equal(tract_commit_content_hash(a), tract_commit_content_hash(b));
	assert_string_not_equal(tract_commit_hash(a), tract_commit_hash(b));
	assert_true(tract_commit_time(b) > tract_commit_time(a));
	assert_string_equal(tract_commit_generation_config(b), "{\"temperature\": 0.5}");
	assert_null(tract_commit_generation_config(a));
	n = fx_count(f);
	assert_int_equal(n.commits, 2);
	assert_int_equal(n.blobs, 1);
	tract_commit_free(a);
	tract_commit_free(b);
	fx_free(f);
}

static void test_metadata_column_format(void **state)
{
	fx *f = fx_new(NULL);
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;
	char h[65];

	(void)state;
	o.metadata_json = "{\"z\":\"\xc3\xa9\",\"a\":[1,2.0]}";
	o.message = "first";
	fx_commit(f, h, "{\"content_type\":\"reasoning\",\"text\":\"t\"}", &o);
	assert_int_equal(tract_commit_lookup(&c, f->t, h), 0);
	/* J-COLUMN: caller's key order, ", " / ": ", non-ASCII escaped. */
	assert_string_equal(tract_commit_metadata(c), "{\"z\": \"\\u00e9\", \"a\": [1, 2.0]}");
	assert_string_equal(tract_commit_message(c), "first");
	tract_commit_free(c);
	fx_free(f);
}

static int count_annotations(fx *f, const char *ref, tract_priority *last)
{
	tract_annotation_list *l = NULL;
	tract_annotation *a;
	size_t n;

	assert_int_equal(tract_annotation_list_get(&l, f->t, ref), 0);
	a = l->items;
	n = l->count;
	if (n && last)
		*last = a[n - 1].priority;
	if (n)
		assert_string_equal(a[0].target_hash, ref);
	tract_annotation_list_free(l);
	return (int)n;
}

static void test_auto_annotation(void **state)
{
	fx *f = fx_new(NULL);
	tract_annotation_list *l = NULL;
	tract_annotation *a;
	tract_commit *c = NULL;
	char ins[65], dlg[65], ses[65];
	size_t n;

	(void)state;
	assert_int_equal(tract_commit_create_instruction(&c, f->t, "Be brief.", NULL), 0);
	memcpy(ins, tract_commit_hash(c), 65);
	assert_int_equal(tract_annotation_list_get(&l, f->t, ins), 0);
	a = l->items;
	n = l->count;
	assert_int_equal(n, 1);
	assert_int_equal(a[0].priority, TRACT_PRIORITY_PINNED);
	assert_string_equal(a[0].reason, "Default priority for instruction");
	assert_int_equal(a[0].created_at, tract_commit_time(c));
	tract_annotation_list_free(l);
	tract_commit_free(c);
	fx_say(f, dlg, "user", "hello");
	assert_int_equal(count_annotations(f, dlg, NULL), 0);
	fx_commit(f, ses, "{\"content_type\":\"session\",\"session_type\":\"start\",\"summary\":\"s\"}",
		  NULL);
	assert_int_equal(tract_annotation_list_get(&l, f->t, ses), 0);
	a = l->items;
	n = l->count;
	assert_int_equal(n, 1);
	assert_string_equal(a[0].reason, "Default priority for session");
	tract_annotation_list_free(l);
	fx_free(f);
}

static void test_session_token_count_is_compiled_text(void **state)
{
	fx *f = fx_new(NULL);
	tract_context *ctx;
	tract_commit *c = NULL;
	char h[65];
	int64_t want = -1;

	(void)state;
	fx_commit(f, h, "{\"content_type\":\"session\",\"session_type\":\"end\",\"summary\":\"done here\"}",
		  NULL);
	assert_int_equal(tract_commit_lookup(&c, f->t, h), 0);
	ctx = fx_compile(f, NULL);
	assert_true(tract_commit_token_count(c) > 0);
	assert_int_equal(tract_tokenizer_count(&want, NULL, tract_context_content(ctx, 0),
					       strlen(tract_context_content(ctx, 0))),
			 0);
	assert_int_equal(tract_commit_token_count(c), want);
	tract_context_free(ctx);
	tract_commit_free(c);
	fx_free(f);
}

static void test_edit_rules(void **state)
{
	fx *f = fx_new(NULL), *g = fx_new(NULL);
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	const char *dlg = "{\"content_type\":\"dialogue\",\"role\":\"assistant\",\"text\":\"v2\"}";
	char a[65], e1[65], other[65];
	fx_counts before;

	(void)state;
	fx_say(f, a, "assistant", "v1");
	fx_say(g, other, "user", "other tract");
	before = fx_count(f);
	o.operation = TRACT_OP_EDIT;
	assert_int_equal(tract_commit_create(NULL, f->t, dlg, &o), TRACT_EEDIT);
	assert_string_equal(tract_error_last()->message,
			    "EDIT operation requires response_to to be set");
	o.response_to = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	assert_int_equal(tract_commit_create(NULL, f->t, dlg, &o), TRACT_EEDIT);
	assert_non_null(strstr(tract_error_last()->message, "EDIT target commit not found"));
	/* Targets must be in the same tract (DECISIONS.md). */
	o.response_to = other;
	assert_int_equal(tract_commit_create(NULL, f->t, dlg, &o), TRACT_EEDIT);
	fx_assert_same_counts(before, fx_count(f));
	o.response_to = a;
	fx_commit(f, e1, dlg, &o);
	o.response_to = e1;
	before = fx_count(f);
	assert_int_equal(tract_commit_create(NULL, f->t, dlg, &o), TRACT_EEDIT);
	assert_non_null(strstr(tract_error_last()->message, "Cannot edit an EDIT commit"));
	fx_assert_same_counts(before, fx_count(f));
	/* response_to on an append must exist in the tract. */
	{
		tract_commit_options ap = TRACT_COMMIT_OPTIONS_INIT;
		ap.response_to = other;
		assert_int_equal(tract_commit_create(NULL, f->t, dlg, &ap), TRACT_ENOTFOUND);
		ap.response_to = a;
		fx_commit(f, NULL, dlg, &ap);
	}
	fx_free(g);
	fx_free(f);
}

static void test_detached_head_refuses_commit(void **state)
{
	fx *f = fx_new(NULL);
	tract_ref_row exp = {0};
	char a[65], b[65];
	fx_counts before;
	int detached = 0;
	char head[65];

	(void)state;
	fx_say(f, a, "user", "a");
	fx_say(f, b, "user", "b");
	exp.symbolic_target = "refs/heads/main";
	assert_int_equal(f->store->be->begin(f->store->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->store->be->ref_cas(f->store->conn, f->t->id, "HEAD", a, NULL, &exp), 0);
	assert_int_equal(f->store->be->commit(f->store->conn), 0);
	assert_int_equal(tract_head_get(head, NULL, &detached, f->t), 0);
	assert_int_equal(detached, 1);
	assert_string_equal(head, a);
	before = fx_count(f);
	assert_int_equal(tract_commit_create_dialogue(NULL, f->t, "user", "c", NULL, NULL), TRACT_EDETACHED);
	assert_non_null(strstr(tract_error_last()->message, "detached HEAD"));
	assert_non_null(strstr(tract_error_last()->message, "checkout"));
	fx_assert_same_counts(before, fx_count(f));
	fx_free(f);
}

/* ---- resolution ------------------------------------------------------------------ */

static void test_resolve(void **state)
{
	fx *f = fx_new(NULL);
	char h[65], out[65], upper[65], p1[5] = "", dup_a[65] = "", dup_b[65] = "";
	char seen[2000][5];
	size_t i, j, n = 0;

	(void)state;
	fx_say(f, h, "user", "x");
	assert_int_equal(tract_revision_resolve(out, f->t, h), 0);
	assert_string_equal(out, h);
	assert_int_equal(tract_revision_resolve(out, f->t, "main"), 0);
	assert_string_equal(out, h);
	assert_int_equal(tract_revision_resolve(out, f->t, "HEAD"), 0);
	assert_string_equal(out, h);
	for (i = 0; i < 8; i++)
		upper[i] = (char)(h[i] >= 'a' ? h[i] - 32 : h[i]);
	upper[8] = '\0';
	assert_int_equal(tract_revision_resolve(out, f->t, upper), 0);
	assert_string_equal(out, h);
	memcpy(p1, h, 3);
	p1[3] = '\0';
	assert_int_equal(tract_revision_resolve(out, f->t, p1), TRACT_ENOTFOUND);
	assert_int_equal(tract_revision_resolve(out, f->t, "____"), TRACT_ENOTFOUND);
	assert_int_equal(tract_revision_resolve(out, f->t, "%%%%"), TRACT_ENOTFOUND);
	assert_int_equal(tract_revision_resolve(out, f->t, "nobranch"), TRACT_ENOTFOUND);
	assert_string_equal(tract_error_last()->message, "Commit not found: nobranch");
	/* Make commits until two share a 4-hex prefix: ambiguity. */
	memcpy(seen[n++], h, 4);
	seen[0][4] = '\0';
	for (i = 0; i < 1500 && !dup_a[0]; i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "message %zu", i);
		fx_say(f, h, "user", buf);
		for (j = 0; j < n; j++)
			if (strncmp(seen[j], h, 4) == 0)
				break;
		if (j < n) {
			memcpy(dup_a, h, 65);
			memcpy(p1, h, 4);
			p1[4] = '\0';
		} else {
			memcpy(seen[n], h, 4);
			seen[n++][4] = '\0';
		}
	}
	assert_true(dup_a[0]);
	assert_int_equal(tract_revision_resolve(out, f->t, p1), TRACT_EAMBIGUOUS);
	assert_non_null(strstr(tract_error_last()->message, "Ambiguous prefix '"));
	assert_non_null(strstr(tract_error_last()->message, "..."));
	(void)dup_b;
	fx_free(f);
}

/* ---- stores and tracts --------------------------------------------------------------- */

static void test_store_open_missing(void **state)
{
	tract_store *s = NULL;
	char path[300];

	(void)state;
	snprintf(path, sizeof(path), "/tmp/tract-missing-%d.db", (int)getpid());
	unlink(path);
	assert_int_equal(tract_store_open(&s, path, 0), TRACT_ENOTFOUND);
	assert_null(s);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(tract_store_open(&s, "lmdbx:/tmp/x", 0), TRACT_EPLUGIN);
	assert_non_null(strstr(tract_error_last()->message, "tract-backend-lmdbx.so"));
	assert_int_equal(tract_store_open(&s, "", 0), TRACT_EINVAL);
}

static void test_uri_scheme(void **state)
{
	const tract_backend *be = NULL;
	char scheme[32];

	(void)state;
	assert_int_equal(tract_uri_scheme(scheme, "x.db"), 0);
	assert_string_equal(scheme, "");
	assert_int_equal(tract_uri_scheme(scheme, "sqlite:/a/b.db"), 1);
	assert_string_equal(scheme, "sqlite");
	assert_int_equal(tract_uri_scheme(scheme, ":memory:"), 0);
	assert_int_equal(tract_uri_scheme(scheme, "c:/x.db"), 0);
	assert_int_equal(tract_uri_scheme(scheme, "lmdb:/data/dir"), 1);
	assert_string_equal(scheme, "lmdb");
	assert_int_equal(tract_uri_scheme(scheme, "postgresql://u@h/db?sslmode=require"), 1);
	assert_string_equal(scheme, "postgresql");
	assert_int_equal(tract_uri_scheme(scheme, ""), TRACT_EINVAL);
	assert_int_equal(tract_uri_scheme(scheme, "lmdb:"), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "has no location"));
	/* Plain paths go to the default backend; a scheme to the plugin that
	 * lists it, found by name or, failing that, by its table. */
	assert_int_equal(tract_plugin_backend_for_uri(&be, "x.db"), 0);
	assert_string_equal(be->name, "sqlite");
	assert_int_equal(tract_plugin_backend_for_uri(&be, "lmdb:/d"), 0);
	assert_string_equal(be->name, "lmdb");
	assert_int_equal(tract_plugin_backend_for_uri(&be, "postgresql://u@h/db"), 0);
	assert_string_equal(be->name, "postgres");
	assert_int_equal(tract_plugin_backend_for_uri(&be, "postgres://u@h/db"), 0);
	assert_string_equal(be->name, "postgres");
	assert_int_equal(tract_plugin_backend_for_uri(&be, "nosuch:x"), TRACT_EPLUGIN);
	assert_null(be);
	assert_non_null(strstr(tract_error_last()->message, "tract-backend-nosuch.so"));
	assert_int_equal(tract_plugin_backend(&(const tract_backend *){NULL}, "../evil"),
			 TRACT_EPLUGIN);
	assert_int_equal(tract_plugin_backend(&(const tract_backend *){NULL}, "a.b"),
			 TRACT_EPLUGIN);
}

static void test_tracts_and_discovery(void **state)
{
	fx *f = fx_new(NULL);
	tract *t2 = NULL, *o = NULL;
	tract_info_list *list = NULL;
	tract_info *infos;
	size_t n;

	(void)state;
	assert_int_equal(tract_create(&t2, f->store, "second", "Second one", NULL), 0);
	assert_int_equal(tract_create(NULL == NULL ? &o : &o, f->store, "second", NULL, NULL),
			 TRACT_EEXISTS);
	assert_null(o);
	assert_int_equal(tract_create(&o, f->store, "bad id!", NULL, NULL), TRACT_EINVAL);
	assert_int_equal(tract_create(&o, f->store, "x", "\xff", NULL), TRACT_EINVAL);
	fx_say(f, NULL, "user", "makes the first tract the most recent");
	assert_int_equal(tract_store_list_tracts(&list, f->store), 0);
	infos = list->items;
	n = list->count;
	assert_int_equal(n, 2);
	assert_string_equal(infos[0].tract_id, f->t->id);
	assert_int_equal(infos[0].commit_count, 1);
	assert_string_equal(infos[0].branch, "main");
	assert_string_equal(infos[1].tract_id, "second");
	assert_string_equal(infos[1].display_name, "Second one");
	assert_null(infos[1].head);
	tract_info_list_free(list);
	/* Discovery picks the most recently active tract. */
	assert_int_equal(tract_open(&o, f->store, NULL, NULL), 0);
	assert_string_equal(tract_id(o), f->t->id);
	tract_free(o);
	assert_int_equal(tract_open(&o, f->store, "nope", NULL), TRACT_ENOTFOUND);
	tract_free(t2);
	fx_free(f);
}

static void test_reopen_keeps_head(void **state)
{
	fx *f = fx_new(NULL);
	tract_store *s2 = NULL;
	tract *t2 = NULL;
	tract_context *a, *b;
	char head[65], h[65];

	(void)state;
	fx_say(f, NULL, "user", "one");
	fx_say(f, h, "assistant", "two");
	a = fx_compile(f, NULL);
	assert_int_equal(tract_store_open(&s2, f->uri, 0), 0);
	assert_int_equal(tract_open(&t2, s2, f->t->id, NULL), 0);
	assert_int_equal(tract_head_get(head, NULL, NULL, t2), 0);
	assert_string_equal(head, h);
	assert_int_equal(tract_context_compile(&b, t2, NULL), 0);
	assert_int_equal(tract_context_count(b), tract_context_count(a));
	assert_string_equal(tract_context_content(b, 1), "two");
	tract_context_free(a);
	tract_context_free(b);
	tract_free(t2);
	tract_store_free(s2);
	fx_free(f);
}

/* A failure on another thread: that thread's own error, not the caller's. */
static void *fail_elsewhere(void *arg)
{
	int *seen = arg;

	/* Nothing has failed on this thread yet. */
	seen[0] = tract_error_last()->code;
	seen[1] = (int)strlen(tract_error_last()->message);
	seen[2] = tract_priority_parse(&(tract_priority){0}, "elsewhere");
	seen[3] = tract_error_last()->code;
	seen[4] = strstr(tract_error_last()->message, "'elsewhere'") != NULL;
	return NULL;
}

/*
 * The last-error API: a failing call returns its code and leaves the same
 * code and a message naming the problem in tract_error_last(); a
 * succeeding call leaves it as it was (it is kept until the next failure on
 * the thread); the next failure replaces it; each thread has its own;
 * tract_error_clear() empties it.
 */
static void test_error_api(void **state)
{
	const tract_error *e;
	tract_priority p = TRACT_PRIORITY_NORMAL;
	tract_store *s = NULL;
	char path[300];
	int seen[5] = {-1, -1, -1, -1, -1};
	pthread_t th;

	(void)state;
	tract_error_clear();
	assert_int_equal(tract_error_last()->code, TRACT_OK);
	assert_string_equal(tract_error_last()->message, "");

	/* A failure: the code returned is the code stored, with a message that
	 * names what was wrong. */
	assert_int_equal(tract_priority_parse(&p, "SKIP"), TRACT_EINVAL);
	e = tract_error_last();
	assert_non_null(e);
	assert_int_equal(e->code, TRACT_EINVAL);
	assert_non_null(e->message);
	assert_non_null(strstr(e->message, "'SKIP'"));
	assert_int_equal(p, TRACT_PRIORITY_NORMAL); /* no output on failure */

	/* A success after it changes nothing. */
	assert_int_equal(tract_priority_parse(&p, "skip"), 0);
	assert_int_equal(p, TRACT_PRIORITY_SKIP);
	assert_int_equal(tract_error_last()->code, TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "'SKIP'"));

	/* The next failure replaces it, code and message. */
	snprintf(path, sizeof(path), "/tmp/tract-missing-err-%d.db", (int)getpid());
	unlink(path);
	assert_int_equal(tract_store_open(&s, path, 0), TRACT_ENOTFOUND);
	assert_null(s);
	assert_int_equal(tract_error_last()->code, TRACT_ENOTFOUND);
	assert_non_null(strstr(tract_error_last()->message, path));
	assert_null(strstr(tract_error_last()->message, "SKIP"));

	/* Per thread: another thread starts empty, and its failure is its own. */
	assert_int_equal(pthread_create(&th, NULL, fail_elsewhere, seen), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(seen[0], TRACT_OK);
	assert_int_equal(seen[1], 0);
	assert_int_equal(seen[2], TRACT_EINVAL);
	assert_int_equal(seen[3], TRACT_EINVAL);
	assert_int_equal(seen[4], 1);
	assert_int_equal(tract_error_last()->code, TRACT_ENOTFOUND);
	assert_non_null(strstr(tract_error_last()->message, path));

	tract_error_clear();
	assert_int_equal(tract_error_last()->code, TRACT_OK);
	assert_string_equal(tract_error_last()->message, "");

	assert_string_equal(tract_error_name(TRACT_OK), "OK");
	assert_string_equal(tract_error_name(TRACT_ESTALE), "ESTALE");
	assert_string_equal(tract_error_name(TRACT_EAMBIGUOUS), "EAMBIGUOUS");
	assert_string_equal(tract_error_name(TRACT_ENOTFOUND), "ENOTFOUND");
	assert_string_equal(tract_error_name(-12345), "EUNKNOWN");
	assert_string_equal(tract_version(), TRACT_VERSION);
}

/* ---- branch names, lifetimes, options versions ---------------------------------------- */

/*
 * A branch name of 200 characters, the longest valid one, resolves (the
 * resolver used to refuse names of 200 characters or more). There is no
 * branch API yet: the ref is made through the backend's ref_cas.
 */
static void test_resolve_200_char_branch(void **state)
{
	fx *f = fx_new(NULL);
	char name[16 + 200], branch[201], h1[65], h2[65], out[65];
	tract_store *s = f->store;

	(void)state;
	memset(branch, 'q', 200);
	branch[200] = '\0';
	snprintf(name, sizeof(name), "refs/heads/%s", branch);
	fx_say(f, h1, "user", "on the long branch");
	fx_say(f, h2, "user", "on main");
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(s->be->ref_cas(s->conn, f->t->id, name, h1, NULL, NULL), 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	if (tract_revision_resolve(out, f->t, branch) != 0)
		fail_msg("resolve a 200-character branch: %s", tract_error_last()->message);
	assert_string_equal(out, h1);
	assert_int_equal(tract_revision_resolve(out, f->t, "main"), 0);
	assert_string_equal(out, h2);
	/* One character fewer names no branch; 201 is no valid name. */
	branch[199] = '\0';
	assert_int_equal(tract_revision_resolve(out, f->t, branch), TRACT_ENOTFOUND);
	{
		char longer[202];
		memset(longer, 'q', 201);
		longer[201] = '\0';
		assert_int_equal(tract_revision_resolve(out, f->t, longer), TRACT_ENOTFOUND);
	}
	fx_free(f);
}

/*
 * tract_store_free with tracts still open: the store stays alive until the
 * last of them is freed (no use after free under ASan, no leak), and what
 * was written through them is in the store afterwards.
 */
static void test_store_outlives_its_free(void **state)
{
	ts_store loc;
	tract_store *s = NULL;
	tract *a = NULL, *b = NULL;
	tract_commit_list *log = NULL;
	tract_context *ctx = NULL;
	char h[65];

	(void)state;
	assert_int_equal(ts_fresh(&loc, "life"), 0);
	assert_int_equal(tract_store_open(&s, loc.uri, TRACT_STORE_CREATE), 0);
	assert_int_equal(tract_create(&a, s, "first", NULL, NULL), 0);
	assert_int_equal(tract_create(&b, s, "second", NULL, NULL), 0);
	tract_store_free(s);
	s = NULL;
	/* Both tracts still work: commit, compile, log. */
	assert_int_equal(tract_commit_create_dialogue(NULL, a, "user", "one", NULL, NULL), 0);
	assert_int_equal(tract_commit_create_dialogue(NULL, a, "assistant", "two", NULL, NULL), 0);
	assert_int_equal(tract_context_compile(&ctx, a, NULL), 0);
	assert_int_equal(tract_context_count(ctx), 2);
	assert_string_equal(tract_context_content(ctx, 1), "two");
	tract_context_free(ctx);
	assert_int_equal(tract_log_list(&log, a, NULL), 0);
	assert_int_equal(log->count, 2);
	tract_commit_list_free(log);
	tract_free(a);
	/* The store is still open for the other one. */
	assert_int_equal(tract_commit_create_dialogue(NULL, b, "user", "three", NULL, NULL), 0);
	assert_int_equal(tract_head_get(h, NULL, NULL, b), 0);
	assert_int_equal(tract_context_compile(&ctx, b, NULL), 0);
	assert_int_equal(tract_context_count(ctx), 1);
	tract_context_free(ctx);
	tract_free(b); /* the last one: the store closes */
	/* Everything reached the store. */
	assert_int_equal(tract_store_open(&s, loc.uri, 0), 0);
	assert_int_equal(tract_open(&a, s, "first", NULL), 0);
	assert_int_equal(tract_log_list(&log, a, NULL), 0);
	assert_int_equal(log->count, 2);
	tract_commit_list_free(log);
	assert_int_equal(tract_open(&b, s, "second", NULL), 0);
	assert_int_equal(tract_revision_resolve(h, b, "HEAD"), 0);
	tract_free(a);
	tract_free(b);
	tract_store_free(s);
	ts_destroy(&loc);
}

/* A refused options version: TRACT_EINVAL naming the struct and the version. */
static void expect_bad_version(int rc, const char *what, unsigned version)
{
	char want[96];

	assert_int_equal(rc, TRACT_EINVAL);
	assert_int_equal(tract_error_last()->code, TRACT_EINVAL);
	snprintf(want, sizeof(want), "%s version %u is not one this library knows", what,
		 version);
	if (!strstr(tract_error_last()->message, want))
		fail_msg("message '%s' lacks '%s'", tract_error_last()->message, want);
}

/*
 * Every options struct: _init() with version 1 (the oldest) gives the
 * defaults of _INIT with that version, and such a struct is accepted;
 * version 0 and the current version + 1 are TRACT_EINVAL with a message,
 * from _init() and from the call taking the struct.
 */
static void test_options_versions(void **state)
{
	fx *f = fx_new(NULL);
	unsigned i;
	tract *t = NULL;
	tract_context *ctx = NULL;
	tract_commit_list *log = NULL;
	ts_store dst;

	(void)state;
	fx_say(f, NULL, "user", "hello");
	{
		tract_open_options o, def = TRACT_OPEN_OPTIONS_INIT;
		assert_int_equal(tract_open_options_init(&o, 1), 0);
		assert_int_equal(o.version, 1);
		assert_int_equal(o.compile_cache_size, def.compile_cache_size);
		assert_null(o.tokenizer);
		assert_null(o.default_branch);
		assert_int_equal(o.verify_cache, 0);
		assert_int_equal(tract_open(&t, f->store, f->t->id, &o), 0);
		tract_free(t);
		t = NULL;
		assert_int_equal(tract_open_options_init(NULL, 1), TRACT_EINVAL);
		for (i = 0; i < 2; i++) {
			unsigned v = i ? TRACT_OPEN_OPTIONS_VERSION + 1 : 0;
			expect_bad_version(tract_open_options_init(&o, v), "tract_open_options", v);
			o.version = v;
			expect_bad_version(tract_open(&t, f->store, f->t->id, &o),
					   "tract_open_options", v);
			assert_null(t);
			expect_bad_version(tract_create(&t, f->store, "other", NULL, &o),
					   "tract_open_options", v);
			assert_null(t);
		}
	}
	{
		tract_commit_options o;
		assert_int_equal(tract_commit_options_init(&o, 1), 0);
		assert_int_equal(o.version, 1);
		assert_int_equal(o.operation, TRACT_OP_APPEND);
		fx_commit(f, NULL, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"v1\"}",
			  &o);
		assert_int_equal(tract_commit_options_init(NULL, 1), TRACT_EINVAL);
		for (i = 0; i < 2; i++) {
			unsigned v = i ? TRACT_COMMIT_OPTIONS_VERSION + 1 : 0;
			fx_counts before = fx_count(f);
			expect_bad_version(tract_commit_options_init(&o, v), "tract_commit_options",
					   v);
			o.version = v;
			expect_bad_version(
				tract_commit_create(NULL, f->t,
						    "{\"content_type\":\"dialogue\",\"role\":"
						    "\"user\",\"text\":\"bad\"}",
						    &o),
				"tract_commit_options", v);
			fx_assert_same_counts(before, fx_count(f));
		}
	}
	{
		tract_compile_options o;
		assert_int_equal(tract_compile_options_init(&o, 1), 0);
		assert_int_equal(o.version, 1);
		assert_null(o.at_commit);
		assert_true(o.at_time == TRACT_TIME_NONE);
		assert_int_equal(tract_context_compile(&ctx, f->t, &o), 0);
		assert_int_equal(tract_context_count(ctx), 2);
		tract_context_free(ctx);
		ctx = NULL;
		assert_int_equal(tract_compile_options_init(NULL, 1), TRACT_EINVAL);
		for (i = 0; i < 2; i++) {
			unsigned v = i ? TRACT_COMPILE_OPTIONS_VERSION + 1 : 0;
			expect_bad_version(tract_compile_options_init(&o, v),
					   "tract_compile_options", v);
			o.version = v;
			expect_bad_version(tract_context_compile(&ctx, f->t, &o),
					   "tract_compile_options", v);
			assert_null(ctx);
		}
	}
	{
		tract_log_options o;
		assert_int_equal(tract_log_options_init(&o, 1), 0);
		assert_int_equal(o.version, 1);
		assert_null(o.start);
		assert_int_equal(o.limit, 0);
		assert_int_equal(o.operation, TRACT_OP_UNKNOWN);
		assert_int_equal(tract_log_list(&log, f->t, &o), 0);
		assert_int_equal(log->count, 2);
		tract_commit_list_free(log);
		log = NULL;
		assert_int_equal(tract_log_options_init(NULL, 1), TRACT_EINVAL);
		for (i = 0; i < 2; i++) {
			unsigned v = i ? TRACT_LOG_OPTIONS_VERSION + 1 : 0;
			expect_bad_version(tract_log_options_init(&o, v), "tract_log_options", v);
			o.version = v;
			expect_bad_version(tract_log_list(&log, f->t, &o), "tract_log_options", v);
			assert_null(log);
		}
	}
	{
		tract_clone_options o;
		tract_clone_stats *st = NULL;
		assert_int_equal(tract_clone_options_init(&o, 1), 0);
		assert_int_equal(o.version, 1);
		assert_int_equal(o.flags, 0);
		assert_null(o.progress);
		assert_int_equal(ts_fresh(&dst, "optclone"), 0);
		if (tract_store_clone(&st, f->uri, dst.uri, &o) != 0)
			fail_msg("clone with version-1 options: %s", tract_error_last()->message);
		assert_int_equal(st->commits, 2);
		tract_clone_stats_free(st);
		ts_destroy(&dst);
		assert_int_equal(tract_clone_options_init(NULL, 1), TRACT_EINVAL);
		for (i = 0; i < 2; i++) {
			unsigned v = i ? TRACT_CLONE_OPTIONS_VERSION + 1 : 0;
			expect_bad_version(tract_clone_options_init(&o, v), "tract_clone_options", v);
			o.version = v;
			assert_int_equal(ts_fresh(&dst, "optclone"), 0);
			expect_bad_version(tract_store_clone(NULL, f->uri, dst.uri, &o),
					   "tract_clone_options", v);
			ts_destroy(&dst);
		}
	}
	fx_free(f);
}

/* The maximum content size: a version-2 struct sets it, version 1 gets the
 * default; a larger content is refused before it is read whole (the
 * buffer below has no NUL within the limit + 1: ASan sees any read past). */
static void test_max_content(void **state)
{
	fx *f = fx_new(NULL);
	tract_open_options o = TRACT_OPEN_OPTIONS_INIT;
	static const char head[] = "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"";
	tract *t = NULL;
	tract_commit *c = NULL;
	char *big, *raw;
	size_t n = 2000;

	(void)state;
	fx_say(f, NULL, "user", "hello");
	assert_int_equal(o.version, 2);
	assert_true(o.max_content_bytes == TRACT_MAX_CONTENT_DEFAULT);
	assert_true(TRACT_MAX_CONTENT_DEFAULT == (size_t)64 << 20);
	big = malloc(n + 16);
	assert_non_null(big);
	memcpy(big, head, strlen(head));
	memset(big + strlen(head), 'a', n - strlen(head));
	strcpy(big + n, "\"}");

	o.max_content_bytes = 1000;
	assert_int_equal(tract_open(&t, f->store, f->t->id, &o), 0);
	assert_int_equal(tract_commit_create(&c, t, big, NULL), TRACT_EINVAL);
	assert_null(c);
	assert_non_null(strstr(tract_error_last()->message, "larger than the maximum of 1000"));
	/* no NUL in the first 1001 bytes: only those are read */
	raw = malloc(1001);
	assert_non_null(raw);
	memset(raw, 'x', 1001);
	assert_int_equal(tract_commit_create(NULL, t, raw, NULL), TRACT_EINVAL);
	free(raw);
	/* at the limit: accepted */
	big[1000 - 2] = '\0';
	strcat(big, "\"}");
	assert_int_equal(strlen(big), 1000);
	assert_int_equal(tract_commit_create(NULL, t, big, NULL), 0);
	tract_free(t);
	t = NULL;

	/* version 1: the member is not read, the default applies */
	memset(big + strlen(head), 'b', n - strlen(head));
	strcpy(big + n, "\"}");
	o.version = 1;
	assert_int_equal(tract_open(&t, f->store, f->t->id, &o), 0);
	assert_int_equal(tract_commit_create(NULL, t, big, NULL), 0);
	tract_free(t);
	t = NULL;
	/* 0: the default */
	o.version = 2;
	o.max_content_bytes = 0;
	big[strlen(head)] = 'c';
	assert_int_equal(tract_open(&t, f->store, f->t->id, &o), 0);
	assert_int_equal(tract_commit_create(NULL, t, big, NULL), 0);
	tract_free(t);
	free(big);
	fx_free(f);
}

typedef struct {
	char hashes[8][TRACT_HASH_HEXSIZE + 1];
	int content[8];
	size_t n, stop_at;
} log_seen;

static int log_seen_cb(const tract_commit *c, void *payload)
{
	log_seen *l = payload;

	assert_true(l->n < 8);
	strcpy(l->hashes[l->n], tract_commit_hash(c));
	l->content[l->n] = tract_commit_content(c) != NULL;
	l->n++;
	return l->stop_at && l->n == l->stop_at ? 1 : 0;
}

static int log_fail_cb(const tract_commit *c, void *payload)
{
	(void)c;
	(void)payload;
	return tract_error_set(TRACT_EBUDGET, "the callback says no");
}

/* tract_log_foreach() hands over tract_log_list()'s commits, in order,
 * with content only when asked; it stops early and passes failures on. */
static void test_log_foreach(void **state)
{
	fx *f = fx_new(NULL);
	tract_log_options o = TRACT_LOG_OPTIONS_INIT;
	tract_commit_list *list = NULL;
	log_seen l;
	size_t i;

	(void)state;
	memset(&l, 0, sizeof(l));
	assert_int_equal(tract_log_foreach(f->t, NULL, 0, log_seen_cb, &l), 0);
	assert_int_equal(l.n, 0);
	fx_say(f, NULL, "user", "one");
	fx_say(f, NULL, "assistant", "two");
	fx_say(f, NULL, "user", "three");
	fx_say(f, NULL, "assistant", "four");
	assert_int_equal(tract_log_list(&list, f->t, NULL), 0);
	assert_int_equal(list->count, 4);
	assert_int_equal(tract_log_foreach(f->t, NULL, 0, log_seen_cb, &l), 0);
	assert_int_equal(l.n, 4);
	for (i = 0; i < 4; i++) {
		assert_string_equal(l.hashes[i], tract_commit_hash(list->items[i]));
		assert_false(l.content[i]);
	}
	memset(&l, 0, sizeof(l));
	assert_int_equal(tract_log_foreach(f->t, NULL, TRACT_LOG_CONTENT, log_seen_cb, &l), 0);
	assert_int_equal(l.n, 4);
	for (i = 0; i < 4; i++)
		assert_true(l.content[i]);
	memset(&l, 0, sizeof(l));
	o.limit = 2;
	assert_int_equal(tract_log_foreach(f->t, &o, 0, log_seen_cb, &l), 0);
	assert_int_equal(l.n, 2);
	memset(&l, 0, sizeof(l));
	o.limit = 0;
	o.start = tract_commit_hash(list->items[1]);
	l.stop_at = 2;
	assert_int_equal(tract_log_foreach(f->t, &o, 0, log_seen_cb, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.hashes[0], tract_commit_hash(list->items[1]));
	assert_string_equal(l.hashes[1], tract_commit_hash(list->items[2]));
	memset(&l, 0, sizeof(l));
	o.start = NULL;
	o.operation = TRACT_OP_EDIT;
	assert_int_equal(tract_log_foreach(f->t, &o, 0, log_seen_cb, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(tract_log_foreach(f->t, NULL, 0, log_fail_cb, NULL), TRACT_EBUDGET);
	assert_string_equal(tract_error_last()->message, "the callback says no");
	assert_int_equal(tract_log_foreach(f->t, NULL, 0, NULL, NULL), TRACT_EINVAL);
	assert_int_equal(tract_log_foreach(f->t, NULL, 1u << 5, log_seen_cb, &l), TRACT_EINVAL);
	tract_commit_list_free(list);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_hash_vectors),
		cmocka_unit_test(test_commit_hash_vectors),
		cmocka_unit_test(test_commit_hash_parent_hashes_form),
		cmocka_unit_test(test_time_format_parse),
		cmocka_unit_test(test_content_normalization),
		cmocka_unit_test(test_content_validation_errors),
		cmocka_unit_test(test_metadata_and_config_validation),
		cmocka_unit_test(test_custom_types),
		cmocka_unit_test(test_first_commit_creates_main),
		cmocka_unit_test(test_default_branch_honoured),
		cmocka_unit_test(test_dedup_and_distinct_commits),
		cmocka_unit_test(test_metadata_column_format),
		cmocka_unit_test(test_auto_annotation),
		cmocka_unit_test(test_session_token_count_is_compiled_text),
		cmocka_unit_test(test_edit_rules),
		cmocka_unit_test(test_detached_head_refuses_commit),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_store_open_missing),
		cmocka_unit_test(test_uri_scheme),
		cmocka_unit_test(test_tracts_and_discovery),
		cmocka_unit_test(test_reopen_keeps_head),
		cmocka_unit_test(test_error_api),
		cmocka_unit_test(test_resolve_200_char_branch),
		cmocka_unit_test(test_store_outlives_its_free),
		cmocka_unit_test(test_options_versions),
		cmocka_unit_test(test_max_content),
		cmocka_unit_test(test_log_foreach),
	};
	int rc = ts_init("core");

	if (rc)
		return rc;
	return ts_run("core", tests, TS_COUNT(tests), NULL, 0);
}
