/*
 * test_llm_resolver.c - the built-in LLM resolver (tract/llm_resolver.h)
 * on every backend: the prompts it sends (system + user, lower-case
 * conflict types, per-issue-type prompts for cherry-pick and rebase with
 * the commit's text and description), the call settings (model,
 * temperature 0.3, max_tokens 2048), merge with the resolved text in the
 * compiled context and the generation config {"model", "temperature",
 * "source": "infrastructure:merge", "usage"} on the merge commit;
 * cherry-pick and rebase resolved by it; a provider failure, a reply
 * without text and an abort write nothing and keep their codes; the key
 * never in a message; the example provider end to end.
 */
#include "helpers.h"

#include <math.h>

#include "llm.h"

/* ---- an in-process provider that records the requests -------------------- */

typedef struct {
	int calls;
	char system[2][2048]; /* the last two requests */
	char user[2][4096];
	size_t n_messages;
	char model[64];
	int has_temperature;
	double temperature;
	int64_t max_tokens;
	const char *answers[4]; /* per call; NULL = tool calls only */
	tract_provider_error_kind fail;
	char key[64];
} rec;

static rec R;

struct tract_provider_client {
	int unused;
};

static int rec_create(tract_provider_client **out, const tract_provider_option *o, size_t n,
                      tract_provider_error *err)
{
	(void)err;
	for (size_t i = 0; i < n; i++)
		if (strcmp(o[i].key, "api_key") == 0)
			snprintf(R.key, sizeof(R.key), "%s", o[i].value);
	*out = calloc(1, sizeof(**out));
	assert_non_null(*out);
	return 0;
}

static void rec_free(tract_provider_client *c)
{
	free(c);
}

static const tract_tool_call a_call = {"call_1", "lookup", "{}"};

static int rec_chat(tract_provider_client *c, const tract_chat_request *req,
                    tract_chat_reply *reply, tract_provider_error *err)
{
	int slot = R.calls % 2;

	(void)c;
	R.n_messages = req->n_messages;
	snprintf(R.system[slot], sizeof(R.system[slot]), "%s|%s", req->messages[0].role,
	         req->messages[0].content ? req->messages[0].content : "");
	if (req->n_messages > 1)
		snprintf(R.user[slot], sizeof(R.user[slot]), "%s|%s", req->messages[1].role,
		         req->messages[1].content ? req->messages[1].content : "");
	snprintf(R.model, sizeof(R.model), "%s", req->model ? req->model : "");
	R.has_temperature = req->has_temperature;
	R.temperature = req->temperature;
	R.max_tokens = req->max_tokens;
	R.calls++;
	if (R.fail) {
		err->kind = R.fail;
		err->http_status = R.fail == TRACT_PROVIDER_ERR_AUTH ? 401 : 500;
		/* a careless provider quoting its key: the core masks it */
		snprintf(err->message, sizeof(err->message), "refused key %s", R.key);
		return TRACT_EPROVIDER;
	}
	reply->text = R.answers[(R.calls - 1) % 4];
	if (!reply->text) {
		reply->tool_calls = &a_call;
		reply->n_tool_calls = 1;
	}
	reply->finish_reason = "stop";
	reply->model = "rec-model-9";
	reply->usage.prompt_tokens = 30;
	reply->usage.completion_tokens = 4;
	reply->usage.total_tokens = 34;
	return 0;
}

static void rec_clear(tract_provider_client *c, tract_chat_reply *reply)
{
	(void)c;
	memset(reply, 0, sizeof(*reply));
}

static const tract_provider table = {
    .version = TRACT_PROVIDER_VERSION,
    .name = "rec",
    .default_model = "rec-default",
    .client_create = rec_create,
    .client_free = rec_free,
    .chat = rec_chat,
    .reply_clear = rec_clear,
};

#define SECRET "sk-test-SECRET-4242"

static tract_llm *open_rec(void)
{
	static const tract_provider_option key = {"api_key", SECRET};
	tract_llm_options o = TRACT_LLM_OPTIONS_INIT;
	tract_llm *llm = NULL;

	o.max_retries = 0;
	o.options = &key;
	o.n_options = 1;
	if (tract_llm_open_provider(&llm, &table, &o) != 0)
		fail_msg("open: %s", tract_error_last()->message);
	return llm;
}

static int setup(void **state)
{
	(void)state;
	memset(&R, 0, sizeof(R));
	R.answers[0] = R.answers[1] = R.answers[2] = R.answers[3] = "resolved";
	return 0;
}

/* ---- history helpers ----------------------------------------------------------- */

static void edit(fx *f, char out[65], const char *target, const char *text)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;

	o.operation = TRACT_OP_EDIT;
	o.response_to = target;
	if (tract_commit_create_dialogue(&c, f->t, "user", text, NULL, &o) != 0)
		fail_msg("edit: %s", tract_error_last()->message);
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static void sw(fx *f, const char *branch)
{
	if (tract_switch(NULL, f->t, branch, NULL) != 0)
		fail_msg("switch %s: %s", branch, tract_error_last()->message);
}

static void branch(fx *f, const char *name, const char *start)
{
	if (tract_branch_create(NULL, f->t, name, start, 0) != 0)
		fail_msg("branch %s: %s", name, tract_error_last()->message);
}

/* The compiled messages joined as "content|content|..." */
static char *compiled(fx *f)
{
	tract_context *ctx = fx_compile(f, NULL);
	tract_buf b = TRACT_BUF_INIT;
	size_t i;

	for (i = 0; i < tract_context_count(ctx); i++)
		tract_buf_printf(&b, "%s%s", i ? "|" : "", tract_context_content(ctx, i));
	tract_context_free(ctx);
	if (!b.ptr)
		tract_buf_puts(&b, "");
	return b.ptr;
}

static void assert_compiled(fx *f, const char *want)
{
	char *got = compiled(f);

	assert_string_equal(got, want);
	free(got);
}

static void assert_has(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("'%s' lacks '%s'", hay ? hay : "(null)", needle);
}

/* x, y shared; feature edits x then y, main edits y then x: two both_edit
 * conflicts, y first (the current side's edit order). */
typedef struct {
	char x[65], y[65];
} both;

static void make_both_edit(fx *f, both *s)
{
	fx_say(f, s->x, "user", "x");
	fx_say(f, s->y, "assistant", "y");
	branch(f, "feature", NULL);
	sw(f, "feature");
	edit(f, NULL, s->x, "x by feature");
	edit(f, NULL, s->y, "y by feature");
	sw(f, "main");
	edit(f, NULL, s->y, "y by main");
	edit(f, NULL, s->x, "x by main");
}

/* ---- tests ------------------------------------------------------------------ */

static void test_options(void **state)
{
	tract_llm_resolver_options o;
	tract_llm_resolver *r = (tract_llm_resolver *)1;
	tract_llm *llm = open_rec();

	(void)state;
	assert_int_equal(tract_llm_resolver_options_init(&o, 99), TRACT_EINVAL);
	assert_int_equal(tract_llm_resolver_options_init(&o, TRACT_LLM_RESOLVER_OPTIONS_VERSION), 0);
	assert_true(fabs(o.temperature - 0.3) < 1e-9);
	assert_int_equal(o.max_tokens, 2048);
	assert_int_equal(tract_llm_resolver_new(&r, NULL, &o), TRACT_EINVAL);
	assert_null(r);
	o.temperature = -1;
	assert_int_equal(tract_llm_resolver_new(&r, llm, &o), TRACT_EINVAL);
	o.temperature = 0.3;
	o.max_tokens = 0;
	assert_int_equal(tract_llm_resolver_new(&r, llm, &o), TRACT_EINVAL);
	o.max_tokens = 10;
	o.model = "";
	assert_int_equal(tract_llm_resolver_new(&r, llm, &o), TRACT_EINVAL);
	o.model = "m";
	o.system_prompt = "bad \xff";
	assert_int_equal(tract_llm_resolver_new(&r, llm, &o), TRACT_EINVAL);
	assert_null(r);
	/* the default system prompt: the required phrase (agents.md §5) */
	assert_has(tract_llm_resolver_default_system_prompt(), "context merge resolver");
	assert_true(strlen(tract_llm_resolver_default_system_prompt()) > 50);
	tract_llm_free(llm);
}

/* Merge: two conflicts, the prompts, the settings, the compiled context
 * and the merge commit's generation config. */
static void test_merge_resolved(void **state)
{
	fx *f = fx_new(NULL);
	tract_llm *llm = open_rec();
	tract_llm_resolver_options ro = TRACT_LLM_RESOLVER_OPTIONS_INIT;
	tract_llm_resolver *res = NULL;
	tract_merge_options mo = TRACT_MERGE_OPTIONS_INIT;
	tract_merge_result *r = NULL;
	tract_commit *c = NULL;
	both s;
	char want[4096];

	(void)state;
	make_both_edit(f, &s);
	ro.model = "resolver-model";
	ro.tract = f->t;
	assert_int_equal(tract_llm_resolver_new(&res, llm, &ro), 0);
	R.answers[0] = "y merged";
	R.answers[1] = "x merged";
	mo.resolver = tract_llm_resolver_resolve;
	mo.resolver_payload = res;
	mo.auto_commit = 1;
	if (tract_merge(&r, f->t, "feature", &mo) != 0)
		fail_msg("merge: %s", tract_error_last()->message);
	assert_true(tract_merge_result_committed(r));
	assert_int_equal(R.calls, 2);
	assert_int_equal(tract_llm_resolver_calls(res), 2);
	/* [system, user], the settings of agents.md §4.4 */
	assert_int_equal(R.n_messages, 2);
	assert_has(R.system[0], "system|");
	assert_has(R.system[0], "context merge resolver");
	assert_string_equal(R.model, "resolver-model");
	assert_true(R.has_temperature);
	assert_true(fabs(R.temperature - 0.3) < 1e-9);
	assert_int_equal(R.max_tokens, 2048);
	/* the first conflict (y): lower-case type, both sides, the ancestor */
	snprintf(want, sizeof(want),
	         "user|Conflict type: both_edit\n\nBranch A content:\ny by main\n\n"
	         "Branch B content:\ny by feature\n\nCommon ancestor content:\ny");
	assert_string_equal(R.user[0], want);
	assert_null(strstr(R.user[0], "ConflictType"));
	assert_has(R.user[1], "Branch A content:\nx by main");
	/* the resolved texts are what compiles */
	assert_string_equal(tract_merge_result_resolution(r, s.y), "y merged");
	assert_string_equal(tract_merge_result_reasoning(r, s.y),
	                    "LLM-resolved using model rec-model-9");
	assert_compiled(f, "x merged|y merged");
	assert_int_equal(tract_commit_lookup(&c, f->t, tract_merge_result_commit(r)), 0);
	{
		const char *g = tract_commit_generation_config(c);
		assert_has(g, "\"model\": \"rec-model-9\"");
		assert_has(g, "\"temperature\": 0.3");
		assert_has(g, "\"source\": \"infrastructure:merge\"");
		assert_has(g, "\"usage\"");
		assert_has(g, "\"total_tokens\": 34");
		assert_has(tract_commit_metadata(c), "LLM-resolved using model rec-model-9");
	}
	tract_commit_free(c);
	tract_merge_result_free(r);
	tract_llm_resolver_free(res);
	tract_llm_free(llm);
	fx_free(f);
}

static void merge_fails(fx *f, tract_llm_resolver *res, tract_resolver_cb cb, int code,
                        const char *msg)
{
	tract_merge_options mo = TRACT_MERGE_OPTIONS_INIT;
	tract_merge_result *r = (tract_merge_result *)1;
	fx_counts before = fx_count(f);
	char head[65], head2[65];

	assert_int_equal(tract_head_get(head, NULL, NULL, f->t), 0);
	mo.resolver = cb;
	mo.resolver_payload = res;
	mo.auto_commit = 1;
	assert_int_equal(tract_merge(&r, f->t, "feature", &mo), code);
	assert_null(r);
	if (msg)
		assert_has(tract_error_last()->message, msg);
	assert_null(strstr(tract_error_last()->message, SECRET));
	fx_assert_same_counts(before, fx_count(f));
	assert_int_equal(tract_head_get(head2, NULL, NULL, f->t), 0);
	assert_string_equal(head, head2);
}

/* The LLM for the first conflict, then abort. */
static int llm_then_abort(tract_resolution *out, const tract_issue *issue, void *payload)
{
	static int n;

	if (n++ % 2 == 0)
		return tract_llm_resolver_resolve(out, issue, payload);
	out->action = TRACT_RESOLVE_ABORT;
	out->reasoning = "second thoughts";
	return 0;
}

static void test_merge_failures_write_nothing(void **state)
{
	fx *f = fx_new(NULL);
	tract_llm *llm = open_rec();
	tract_llm_resolver *res = NULL;
	both s;

	(void)state;
	make_both_edit(f, &s);
	assert_int_equal(tract_llm_resolver_new(&res, llm, NULL), 0);
	/* the provider's error and code, the key masked */
	R.fail = TRACT_PROVIDER_ERR_AUTH;
	merge_fails(f, res, tract_llm_resolver_resolve, TRACT_EAUTH, NULL);
	assert_int_equal(R.calls, 1);
	R.fail = TRACT_PROVIDER_ERR_SERVER;
	merge_fails(f, res, tract_llm_resolver_resolve, TRACT_EPROVIDER, NULL);
	R.fail = 0;
	/* a reply with tool calls only */
	R.answers[0] = R.answers[1] = R.answers[2] = R.answers[3] = NULL;
	merge_fails(f, res, tract_llm_resolver_resolve, TRACT_EPROVIDER,
	            "Cannot extract content from LLM response");
	/* an abort after an LLM answer */
	R.answers[0] = R.answers[1] = R.answers[2] = R.answers[3] = "fine";
	R.calls = 0;
	merge_fails(f, res, llm_then_abort, TRACT_EABORTED, "Resolver aborted merge: second thoughts");
	assert_int_equal(R.calls, 1);
	/* then it works */
	{
		tract_merge_options mo = TRACT_MERGE_OPTIONS_INIT;
		tract_merge_result *r = NULL;
		mo.resolver = tract_llm_resolver_resolve;
		mo.resolver_payload = res;
		mo.auto_commit = 1;
		assert_int_equal(tract_merge(&r, f->t, "feature", &mo), 0);
		assert_true(tract_merge_result_committed(r));
		assert_compiled(f, "fine|fine");
		tract_merge_result_free(r);
	}
	tract_llm_resolver_free(res);
	tract_llm_free(llm);
	fx_free(f);
}

/* skip_vs_edit: its lower-case name in the prompt, "[SKIPPED]" as a side. */
static void test_skip_vs_edit_prompt(void **state)
{
	fx *f = fx_new(NULL);
	tract_llm *llm = open_rec();
	tract_llm_resolver *res = NULL;
	tract_issue is;
	char x[65], *p = NULL;

	(void)state;
	fx_say(f, x, "user", "x");
	assert_int_equal(tract_llm_resolver_new(&res, llm, NULL), 0);
	memset(&is, 0, sizeof(is));
	is.kind = TRACT_ISSUE_SKIP_VS_EDIT;
	is.operation = "merge";
	is.key = x;
	is.target_hash = x;
	is.text_a = "[SKIPPED]";
	is.text_b = "x edited";
	assert_int_equal(tract_llm_resolver_prompt(&p, res, &is), 0);
	/* no tract given: no ancestor block */
	assert_string_equal(p, "Conflict type: skip_vs_edit\n\nBranch A content:\n[SKIPPED]\n\n"
	                       "Branch B content:\nx edited");
	tract_string_free(p);
	is.text_a = "";
	is.kind = TRACT_ISSUE_EDIT_PLUS_APPEND;
	assert_int_equal(tract_llm_resolver_prompt(&p, res, &is), 0);
	assert_string_equal(p, "Conflict type: edit_plus_append\n\nBranch B content:\nx edited");
	tract_string_free(p);
	tract_llm_resolver_free(res);
	tract_llm_free(llm);
	fx_free(f);
}

/*
 *   main:    root - m1
 *   feature: root - f1 - e (an edit of f1)
 * Picking e onto main: its target is missing.
 */
static void make_pick(fx *f, char root[65], char f1[65], char e[65])
{
	fx_say(f, root, "user", "root");
	branch(f, "feature", NULL);
	fx_say(f, NULL, "user", "m1");
	sw(f, "feature");
	fx_say(f, f1, "user", "f1");
	edit(f, e, f1, "f1 corrected");
	sw(f, "main");
}

static void test_cherry_pick(void **state)
{
	fx *f = fx_new(NULL);
	tract_llm *llm = open_rec();
	tract_llm_resolver *res = NULL;
	tract_cherry_pick_options po = TRACT_CHERRY_PICK_OPTIONS_INIT;
	tract_cherry_pick_result *r = NULL;
	char root[65], f1[65], e[65], want[512];
	fx_counts before;

	(void)state;
	make_pick(f, root, f1, e);
	assert_int_equal(tract_llm_resolver_new(&res, llm, NULL), 0);
	po.resolver = tract_llm_resolver_resolve;
	po.resolver_payload = res;
	/* a failing provider: nothing written */
	R.fail = TRACT_PROVIDER_ERR_RATE_LIMIT;
	before = fx_count(f);
	assert_int_equal(tract_cherry_pick(&r, f->t, e, &po), TRACT_ERATELIMIT);
	fx_assert_same_counts(before, fx_count(f));
	assert_null(strstr(tract_error_last()->message, SECRET));
	R.fail = 0;
	R.calls = 0;
	R.answers[0] = "f1, corrected, as it stands on main";
	assert_int_equal(tract_cherry_pick(&r, f->t, e, &po), 0);
	/* the per-issue-type prompt: type, operation, description, the text */
	snprintf(want, sizeof(want),
	         "user|Conflict type: edit_target_missing\n\nOperation: cherry-pick\n\n"
	         "Description: EDIT commit targets %.12s...",
	         f1);
	assert_has(R.user[0], want);
	assert_has(R.user[0], "\n\nCommit content:\nf1 corrected\n\n");
	assert_non_null(r->new_commit);
	assert_int_equal(tract_commit_operation(r->new_commit), TRACT_OP_APPEND);
	assert_compiled(f, "root|m1|f1, corrected, as it stands on main");
	tract_cherry_pick_result_free(r);
	tract_llm_resolver_free(res);
	tract_llm_free(llm);
	fx_free(f);
}

static void test_rebase(void **state)
{
	fx *f = fx_new(NULL);
	tract_llm *llm = open_rec();
	tract_llm_resolver *res = NULL;
	tract_rebase_options o = TRACT_REBASE_OPTIONS_INIT;
	tract_rebase_result *r = NULL;
	char root[65], x[65], e[65];
	fx_counts before;

	(void)state;
	/* other: root - x; feature: root - e (an edit of x); main: root - m1 */
	fx_say(f, root, "user", "root");
	branch(f, "other", NULL);
	branch(f, "feature", NULL);
	fx_say(f, NULL, "user", "m1");
	sw(f, "other");
	fx_say(f, x, "user", "elsewhere");
	sw(f, "feature");
	edit(f, e, x, "edit of elsewhere");
	assert_int_equal(tract_llm_resolver_new(&res, llm, NULL), 0);
	o.resolver = tract_llm_resolver_resolve;
	o.resolver_payload = res;
	R.fail = TRACT_PROVIDER_ERR_SERVER;
	before = fx_count(f);
	assert_int_equal(tract_rebase(&r, f->t, "main", &o), TRACT_EPROVIDER);
	fx_assert_same_counts(before, fx_count(f));
	R.fail = 0;
	R.calls = 0;
	R.answers[0] = "a note about elsewhere";
	if (tract_rebase(&r, f->t, "main", &o) != 0)
		fail_msg("rebase: %s", tract_error_last()->message);
	assert_int_equal(r->warning_count, 1);
	assert_has(R.user[0], "Conflict type: edit_target_missing\n\nOperation: rebase\n\n"
	                      "Description: EDIT commit targets ");
	assert_has(R.user[0], "does not exist on target branch 'main'");
	assert_has(R.user[0], "Commit content:\nedit of elsewhere");
	assert_compiled(f, "root|m1|a note about elsewhere");
	tract_rebase_result_free(r);
	tract_llm_resolver_free(res);
	tract_llm_free(llm);
	fx_free(f);
}

/* The example plugin: offline, it answers the Branch B block. */
static void test_example_provider(void **state)
{
	fx *f = fx_new(NULL);
	tract_llm *llm = NULL;
	tract_llm_resolver *res = NULL;
	tract_merge_options mo = TRACT_MERGE_OPTIONS_INIT;
	tract_merge_result *r = NULL;
	tract_commit *c = NULL;
	both s;

	(void)state;
	make_both_edit(f, &s);
	assert_int_equal(tract_llm_open(&llm, "example", NULL), 0);
	assert_int_equal(tract_llm_resolver_new(&res, llm, NULL), 0);
	mo.resolver = tract_llm_resolver_resolve;
	mo.resolver_payload = res;
	mo.auto_commit = 1;
	if (tract_merge(&r, f->t, "feature", &mo) != 0)
		fail_msg("merge: %s", tract_error_last()->message);
	assert_compiled(f, "x by feature|y by feature");
	assert_int_equal(tract_commit_lookup(&c, f->t, "HEAD"), 0);
	assert_has(tract_commit_generation_config(c), "\"model\": \"example-1\"");
	assert_has(tract_commit_generation_config(c), "\"source\": \"infrastructure:merge\"");
	tract_commit_free(c);
	tract_merge_result_free(r);
	tract_llm_resolver_free(res);
	tract_llm_free(llm);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_options, setup),
	    cmocka_unit_test_setup(test_merge_resolved, setup),
	    cmocka_unit_test_setup(test_merge_failures_write_nothing, setup),
	    cmocka_unit_test_setup(test_skip_vs_edit_prompt, setup),
	    cmocka_unit_test_setup(test_cherry_pick, setup),
	    cmocka_unit_test_setup(test_rebase, setup),
	    cmocka_unit_test_setup(test_example_provider, setup),
	};
	int rc = ts_init("llm_resolver");

	if (rc)
		return rc;
	return ts_run("llm_resolver", tests, TS_COUNT(tests), NULL, 0);
}
