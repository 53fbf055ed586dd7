/*
 * test_compress_llm.c - compression through a real provider plugin
 * (openai) against the scripted HTTP server (mock_llm.c), on the backend
 * of TRACT_TEST_BACKEND: LLM mode sends one summary request per group
 * with target_tokens and the instructions in the request body, and a
 * failing provider writes nothing; and the auto-compress budget policy:
 * a commit over the budget compresses the oldest normal commits (pinned
 * ones verbatim) down to the target fraction, with the provider set on
 * the handle or stored for the tract, and writes nothing when it cannot
 * get under the budget (no provider, provider failing, summaries too
 * long), a REJECT budget saying why.
 */
#include "helpers.h"

#include <cjson/cJSON.h>

#include "mock_llm.h"
#include "tract/compact.h"
#include "tract/compress.h"
#include "tract/fsck.h"
#include "tract/llm.h"

#define KEY "sk-compress-test-key"

/* An OpenAI chat completion whose text is text (static storage). */
static char reply_bufs[8][4096];
static size_t reply_next;

static mock_response reply(const char *text)
{
	mock_response r;
	char *b = reply_bufs[reply_next++ % 8];
	int n;

	memset(&r, 0, sizeof(r));
	/* a reply longer than the buffer is a test bug: fail, never cut */
	n = snprintf(b, sizeof(reply_bufs[0]),
	         "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"sum-1\",\"choices\":"
	         "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"%s\"},"
	         "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
	         "\"completion_tokens\":9,\"total_tokens\":18}}",
	         text);
	assert_true(n > 0 && (size_t)n < sizeof(reply_bufs[0]));
	r.body = b;
	return r;
}

static mock_response failure(void)
{
	mock_response r;

	memset(&r, 0, sizeof(r));
	r.status = 500;
	r.body = "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}";
	return r;
}

static tract_llm *open_llm(mock_llm *m)
{
	tract_provider_option opts[2];
	tract_llm_options lo = TRACT_LLM_OPTIONS_INIT;
	tract_llm *llm = NULL;

	opts[0] = (tract_provider_option){"base_url", mock_url(m)};
	opts[1] = (tract_provider_option){"api_key", KEY};
	lo.options = opts;
	lo.n_options = 2;
	lo.max_retries = 0;
	if (tract_llm_open(&llm, "openai", &lo) != 0)
		fail_msg("open openai: %s", tract_error_last()->message);
	return llm;
}

static void pin(fx *f, const char *hash)
{
	if (tract_annotation_create(NULL, f->t, hash, TRACT_PRIORITY_PINNED, NULL) != 0)
		fail_msg("annotate: %s", tract_error_last()->message);
}

/* The compiled texts joined with '|'. */
static char *texts(fx *f)
{
	tract_context *c = fx_compile(f, NULL);
	size_t n = tract_context_count(c), cap = 1;
	char *s;

	for (size_t i = 0; i < n; i++)
		cap += strlen(tract_context_content(c, i)) + 1;
	s = calloc(1, cap);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, "|");
		strcat(s, tract_context_content(c, i));
	}
	tract_context_free(c);
	return s;
}

static int64_t tokens(fx *f)
{
	tract_context *c = fx_compile(f, NULL);
	int64_t n = tract_context_token_count(c);

	tract_context_free(c);
	return n;
}

/* The user message of request i (the summarize prompt), owned. */
static char *request_user(mock_llm *m, size_t i, char **system)
{
	const mock_request *rq = mock_request_get(m, i);
	cJSON *o, *msgs, *u, *sy;
	char *out;

	assert_non_null(rq);
	assert_string_equal(rq->method, "POST");
	o = cJSON_Parse(rq->body);
	assert_non_null(o);
	msgs = cJSON_GetObjectItemCaseSensitive(o, "messages");
	assert_int_equal(cJSON_GetArraySize(msgs), 2);
	sy = cJSON_GetArrayItem(msgs, 0);
	u = cJSON_GetArrayItem(msgs, 1);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(sy, "role")->valuestring, "system");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(u, "role")->valuestring, "user");
	out = strdup(cJSON_GetObjectItemCaseSensitive(u, "content")->valuestring);
	if (system)
		*system = strdup(cJSON_GetObjectItemCaseSensitive(sy, "content")->valuestring);
	cJSON_Delete(o);
	return out;
}

static void fsck_clean(fx *f)
{
	tract_fsck_report *rep = NULL;

	assert_int_equal(tract_fsck_run(&rep, f->store), 0);
	if (rep->count)
		fail_msg("fsck: %s: %s", rep->problems[0].object, rep->problems[0].message);
	tract_fsck_report_free(rep);
}

static size_t n_records(fx *f)
{
	tract_compression_record *r = NULL;
	size_t n = 0;

	assert_int_equal(tract_compression_records(&r, &n, f->t), 0);
	tract_compression_records_free(r, n);
	return n;
}

/* ---- LLM mode through the plugin --------------------------------------------------- */

static void test_llm_mode_mock(void **state)
{
	fx *f = fx_new(NULL);
	mock_llm *m = mock_start();
	mock_response rs[3];
	tract_compress_options o = TRACT_COMPRESS_OPTIONS_INIT;
	tract_compress_result *r = NULL;
	tract_llm *llm;
	char h[6][65], *u0, *u1, *sys = NULL, *ctx;
	fx_counts before;

	(void)state;
	assert_non_null(m);
	fx_say(f, h[0], "user", "The launch is on March 3rd.");
	fx_say(f, h[1], "assistant", "March 3rd noted.");
	fx_say(f, h[2], "user", "PINNED: the budget is 40k.");
	pin(f, h[2]);
	fx_say(f, h[3], "user", "Invite Ana and Bo.");
	fx_say(f, h[4], "assistant", "Both invited.");
	fx_say(f, h[5], "user", "Later turn.");
	llm = open_llm(m);
	o.llm = llm;
	o.to_commit = h[4];
	o.target_tokens = 77;
	o.instructions = "Keep every date.";

	/* a failing provider: nothing written */
	rs[0] = failure();
	mock_script(m, rs, 1);
	before = fx_count(f);
	assert_true(tract_compress(&r, NULL, f->t, &o) < 0);
	assert_null(r);
	fx_assert_same_counts(before, fx_count(f));
	assert_int_equal(n_records(f), 0);
	/* the second group's call failing: the first summary is not written either */
	rs[0] = reply("Previously in this conversation: a March 3rd launch.");
	rs[1] = failure();
	mock_script(m, rs, 2);
	assert_true(tract_compress(&r, NULL, f->t, &o) < 0);
	assert_int_equal(mock_request_count(m), 2);
	fx_assert_same_counts(before, fx_count(f));

	/* one request per group, in group order */
	rs[0] = reply("Previously in this conversation: a March 3rd launch.");
	rs[1] = reply("Previously in this conversation: Ana and Bo invited.");
	mock_script(m, rs, 2);
	if (tract_compress(&r, NULL, f->t, &o) != 0)
		fail_msg("compress: %s", tract_error_last()->message);
	assert_int_equal(mock_request_count(m), 2);
	u0 = request_user(m, 0, &sys);
	u1 = request_user(m, 1, NULL);
	assert_non_null(strstr(sys, "Previously in this conversation:"));
	assert_non_null(strstr(u0, "Summarize the following conversation segment"));
	assert_non_null(strstr(u0, "[user]: The launch is on March 3rd.\n\n[assistant]: March 3rd "
	                           "noted."));
	assert_null(strstr(u0, "Ana"));
	assert_null(strstr(u0, "PINNED"));
	assert_non_null(strstr(u1, "[user]: Invite Ana and Bo.\n\n[assistant]: Both invited."));
	assert_null(strstr(u1, "March"));
	assert_non_null(strstr(u0, "77 tokens"));
	assert_non_null(strstr(u1, "77 tokens"));
	assert_non_null(strstr(u0, "Keep every date."));
	assert_non_null(strstr(u1, "Keep every date."));
	{
		char auth[256];
		assert_int_equal(mock_header(mock_request_get(m, 0), "Authorization", auth,
		                             sizeof(auth)),
		                 0);
		assert_non_null(strstr(auth, KEY));
	}
	ctx = texts(f);
	assert_string_equal(ctx, "Previously in this conversation: a March 3rd launch.|PINNED: the "
	                         "budget is 40k.|Previously in this conversation: Ana and Bo "
	                         "invited.|Later turn.");
	assert_int_equal(r->n_summary, 2);
	assert_int_equal(r->n_source, 4);
	{
		tract_compression_record *rec = NULL;
		assert_int_equal(tract_compression_lookup(&rec, f->t, r->summary_commits[1],
		                                          TRACT_COMPRESSION_AS_RESULT),
		                 0);
		assert_int_equal(rec->target_tokens, 77);
		assert_string_equal(rec->instructions, "Keep every date.");
		tract_compression_record_free(rec);
	}
	free(ctx);
	free(u0);
	free(u1);
	free(sys);
	tract_compress_result_free(r);
	fsck_clean(f);
	tract_llm_free(llm);
	mock_stop(m);
	fx_free(f);
}

/* ---- the auto-compress budget policy ------------------------------------------------ */

/* A history of n turns of ~30 tokens each, the second one pinned. */
static void history(fx *f, int n, char pinned[65])
{
	for (int i = 0; i < n; i++) {
		char text[400], h[65];

		snprintf(text, sizeof(text),
		         "Turn %d: the quarterly report lists revenue, costs, hiring plans, "
		         "vendor contracts and the roadmap for region %d in some detail.",
		         i, i);
		fx_say(f, h, i % 2 ? "assistant" : "user", text);
		if (i == 1) {
			pin(f, h);
			memcpy(pinned, h, 65);
		}
	}
}

static const char BIG[] = "New question: please compare the hiring plans of every region "
                          "against the costs and say which vendor contracts to renew first.";

/* Commit BIG; 0 or the error code. */
static int commit_big(fx *f, char out[65])
{
	tract_commit *c = NULL;
	int rc = tract_commit_create_dialogue(&c, f->t, "user", BIG, NULL, NULL);

	if (rc == 0 && out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
	return rc;
}

static void test_budget_auto_compress(void **state)
{
	fx *f = fx_new(NULL);
	mock_llm *m = mock_start();
	mock_response rs[2];
	tract_llm *llm;
	char pinned[65], big[65], *ctx, *u0;
	int64_t t0, budget, after;
	double frac = 0;
	tract *t2 = NULL;

	(void)state;
	assert_non_null(m);
	history(f, 16, pinned);
	t0 = tokens(f);
	budget = t0 + 10; /* the next commit goes over */
	assert_int_equal(tract_budget_set(f->t, budget, TRACT_BUDGET_REJECT, NULL, NULL, 1), 0);
	assert_int_equal(tract_budget_policy_set(f->t, TRACT_BUDGET_POLICY_AUTO_COMPRESS, 1), 0);
	assert_int_equal(tract_budget_target_set(f->t, 0.5, 1), 0);
	llm = open_llm(m);
	assert_int_equal(tract_budget_llm_set(f->t, llm), 0);
	rs[0] = reply("Previously in this conversation: early quarterly reports.");
	rs[1] = reply("Previously in this conversation: later quarterly reports.");
	mock_script(m, rs, 2);
	if (commit_big(f, big) != 0)
		fail_msg("commit over the budget: %s", tract_error_last()->message);
	/* summaries of the oldest commits around the pinned one, BIG on top */
	assert_true(mock_request_count(m) >= 1);
	u0 = request_user(m, 0, NULL);
	assert_non_null(strstr(u0, "Turn 0:"));
	assert_null(strstr(u0, "Turn 1:")); /* pinned */
	assert_non_null(strstr(u0, "tokens")); /* the target length */
	free(u0);
	ctx = texts(f);
	assert_non_null(strstr(ctx, "Previously in this conversation: early quarterly reports."));
	assert_non_null(strstr(ctx, "Turn 1: the quarterly report lists revenue"));
	assert_null(strstr(ctx, "Turn 0:"));
	assert_non_null(strstr(ctx, "Turn 15:")); /* the newest turns stay */
	assert_non_null(strstr(ctx, BIG));
	after = tokens(f);
	assert_true(after <= budget);
	assert_true(after <= (int64_t)(0.5 * (double)budget) + 40);
	assert_int_equal(n_records(f), 1);
	free(ctx);
	{
		/* the new HEAD is BIG, on top of the rewritten branch */
		char hh[65];
		assert_int_equal(tract_head_get(hh, NULL, NULL, f->t), 0);
		assert_string_equal(hh, big);
	}
	fsck_clean(f);
	/* the policy and target are persisted */
	assert_int_equal(tract_open(&t2, f->store, tract_id(f->t), NULL), 0);
	assert_int_equal(tract_budget_policy_get(t2), TRACT_BUDGET_POLICY_AUTO_COMPRESS);
	assert_int_equal(tract_budget_target_get(&frac, t2), 0);
	assert_true(frac > 0.49 && frac < 0.51);
	tract_free(t2);
	assert_int_equal(tract_budget_target_set(f->t, 0.0, 0), TRACT_EINVAL);
	assert_int_equal(tract_budget_target_set(f->t, 1.5, 0), TRACT_EINVAL);
	tract_llm_free(llm);
	mock_stop(m);
	fx_free(f);
}

static int warned;
static void warn_cb(const char *message, void *payload)
{
	(void)payload;
	if (strstr(message, "auto-compress"))
		warned++;
}

static void test_budget_auto_compress_refusals(void **state)
{
	fx *f = fx_new(NULL);
	mock_llm *m = mock_start();
	mock_response rs[2];
	tract_llm *llm;
	char pinned[65], *ctx0, *ctx;
	int64_t budget;
	fx_counts before;

	(void)state;
	assert_non_null(m);
	history(f, 8, pinned);
	budget = tokens(f) + 10;
	assert_int_equal(tract_budget_set(f->t, budget, TRACT_BUDGET_REJECT, NULL, NULL, 0), 0);
	assert_int_equal(tract_budget_policy_set(f->t, TRACT_BUDGET_POLICY_AUTO_COMPRESS, 0), 0);
	ctx0 = texts(f);
	before = fx_count(f);

	/* no provider (none set, none stored): refused, saying why */
	assert_int_equal(commit_big(f, NULL), TRACT_EBUDGET);
	assert_non_null(strstr(tract_error_last()->message, "no LLM provider"));
	fx_assert_same_counts(before, fx_count(f));

	/* a failing provider: refused, nothing written */
	llm = open_llm(m);
	assert_int_equal(tract_budget_llm_set(f->t, llm), 0);
	rs[0] = failure();
	rs[1] = failure();
	mock_script(m, rs, 2);
	assert_int_equal(commit_big(f, NULL), TRACT_EBUDGET);
	assert_non_null(strstr(tract_error_last()->message, "auto-compress"));
	fx_assert_same_counts(before, fx_count(f));
	assert_int_equal(n_records(f), 0);

	/* summaries too long to get under the budget: refused */
	{
		char longtext[900];
		size_t k = 0;
		k += (size_t)snprintf(longtext, sizeof(longtext), "Previously in this conversation:");
		while (k + 20 < sizeof(longtext))
			k += (size_t)snprintf(longtext + k, sizeof(longtext) - k,
			                      " many words here");
		rs[0] = reply(longtext);
		rs[1] = reply(longtext);
		mock_script(m, rs, 2);
	}
	assert_int_equal(commit_big(f, NULL), TRACT_EBUDGET);
	/* refused for its length, not for a reply the mock cut */
	assert_non_null(strstr(tract_error_last()->message, "would not get the context under the budget"));
	fx_assert_same_counts(before, fx_count(f));
	ctx = texts(f);
	assert_string_equal(ctx, ctx0);
	free(ctx);

	/* a WARN budget: the policy warns, the commit goes through
	 * uncompressed */
	tract_budget_llm_set(f->t, NULL);
	assert_int_equal(tract_budget_set(f->t, budget, TRACT_BUDGET_WARN, NULL, NULL, 0), 0);
	warned = 0;
	tract_warning_hook_set(warn_cb, NULL);
	assert_int_equal(commit_big(f, NULL), 0);
	tract_warning_hook_set(NULL, NULL);
	assert_true(warned >= 1);
	assert_int_equal(n_records(f), 0);
	ctx = texts(f);
	assert_non_null(strstr(ctx, "Turn 0:"));
	free(ctx);

	/* the budget policy AUTO_COMPACT never compresses */
	assert_int_equal(tract_budget_policy_set(f->t, TRACT_BUDGET_POLICY_AUTO_COMPACT, 0), 0);
	assert_int_equal(tract_budget_set(f->t, tokens(f) + 5, TRACT_BUDGET_REJECT, NULL, NULL, 0),
	                 0);
	assert_int_equal(tract_budget_llm_set(f->t, llm), 0);
	mock_script(m, rs, 0);
	assert_int_equal(commit_big(f, NULL), TRACT_EBUDGET);
	assert_int_equal(mock_request_count(m), 0);
	free(ctx0);
	fsck_clean(f);
	tract_llm_free(llm);
	mock_stop(m);
	fx_free(f);
}

/* The tract's stored provider is used when none is set on the handle (its
 * options come from the environment: TRACT_OPENAI_BASE_URL, _API_KEY). */
static void test_budget_stored_provider(void **state)
{
	fx *f = fx_new(NULL);
	mock_llm *m = mock_start();
	mock_response rs[2];
	char pinned[65], *ctx;
	int64_t budget;

	(void)state;
	assert_non_null(m);
	history(f, 8, pinned);
	budget = tokens(f) + 10;
	assert_int_equal(tract_budget_set(f->t, budget, TRACT_BUDGET_REJECT, NULL, NULL, 0), 0);
	assert_int_equal(tract_budget_policy_set(f->t, TRACT_BUDGET_POLICY_AUTO_COMPRESS, 0), 0);
	assert_int_equal(tract_llm_setting_set(f->t, "provider", "openai"), 0);
	setenv("TRACT_OPENAI_BASE_URL", mock_url(m), 1);
	setenv("TRACT_OPENAI_API_KEY", KEY, 1);
	rs[0] = reply("Previously in this conversation: stored provider summary.");
	rs[1] = reply("Previously in this conversation: stored provider summary.");
	mock_script(m, rs, 2);
	if (commit_big(f, NULL) != 0)
		fail_msg("commit: %s", tract_error_last()->message);
	unsetenv("TRACT_OPENAI_BASE_URL");
	unsetenv("TRACT_OPENAI_API_KEY");
	assert_true(mock_request_count(m) >= 1);
	ctx = texts(f);
	assert_non_null(strstr(ctx, "stored provider summary"));
	assert_non_null(strstr(ctx, "Turn 1:"));
	free(ctx);
	assert_true(tokens(f) <= budget);
	fsck_clean(f);
	mock_stop(m);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_llm_mode_mock),
	    cmocka_unit_test(test_budget_auto_compress),
	    cmocka_unit_test(test_budget_auto_compress_refusals),
	    cmocka_unit_test(test_budget_stored_provider),
	};
	int rc = ts_init("compress-llm");

	if (rc)
		return rc;
	return ts_run("compress-llm", tests, TS_COUNT(tests), NULL, 0);
}
