/*
 * test_reorder.c - compile-time reorder (spec/agents.md §2 with
 * DECISIONS.md) on the backend of TRACT_TEST_BACKEND: the named messages
 * first and the rest in compiled order, edits naming their targets,
 * duplicates and messageless commits refused, the checks on the final
 * sequence (response chain, tool result before its call), strict mode,
 * the same token count, nothing written.
 */
#include "helpers.h"

#include "tract/reorder.h"

typedef struct {
	fx *f;
	char i[65], u[65], a[65], v[65];
} rx;

static rx *rx_new(void)
{
	rx *r = calloc(1, sizeof(*r));
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;

	assert_non_null(r);
	r->f = fx_new(NULL);
	fx_commit(r->f, r->i, "{\"content_type\": \"instruction\", \"text\": \"Be brief.\"}", NULL);
	fx_say(r->f, r->u, "user", "What is two plus two?");
	o.response_to = r->u;
	fx_commit(r->f, r->a,
		  "{\"content_type\": \"dialogue\", \"role\": \"assistant\", \"text\": \"Four.\"}", &o);
	fx_say(r->f, r->v, "user", "Thanks.");
	return r;
}

static void rx_free(rx *r)
{
	fx_free(r->f);
	free(r);
}

static tract_context *reorder(rx *r, tract_reorder_warning_list **w, int strict, size_t n, ...)
{
	tract_reorder_options o = TRACT_REORDER_OPTIONS_INIT;
	const char *order[8];
	tract_context *ctx = NULL;
	va_list ap;

	va_start(ap, n);
	for (size_t k = 0; k < n; k++)
		order[k] = va_arg(ap, const char *);
	va_end(ap);
	o.strict = strict;
	if (tract_context_reorder(&ctx, w, r->f->t, order, n, &o) != 0)
		return NULL;
	return ctx;
}

static void expect_hashes(const tract_context *c, size_t n, ...)
{
	va_list ap;

	assert_int_equal(tract_context_count(c), n);
	va_start(ap, n);
	for (size_t k = 0; k < n; k++)
		assert_string_equal(tract_context_commit_hash(c, k), va_arg(ap, const char *));
	va_end(ap);
}

static void test_named_first_rest_in_order(void **state)
{
	rx *r = rx_new();
	tract_reorder_warning_list *w = NULL;
	tract_context *orig = fx_compile(r->f, NULL), *c;
	fx_counts before = fx_count(r->f);

	(void)state;
	c = reorder(r, &w, 0, 1, r->v);
	assert_non_null(c);
	expect_hashes(c, 4, r->v, r->i, r->u, r->a);
	assert_int_equal(w->count, 0);
	assert_int_equal(tract_context_token_count(c), tract_context_token_count(orig));
	assert_string_equal(tract_context_content(c, 0), "Thanks.");
	tract_context_free(c);
	tract_reorder_warning_list_free(w);

	/* an empty order is the compile itself; prefixes work */
	c = reorder(r, NULL, 0, 0);
	expect_hashes(c, 4, r->i, r->u, r->a, r->v);
	tract_context_free(c);
	{
		char prefix[9];
		memcpy(prefix, r->a, 8);
		prefix[8] = '\0';
		c = reorder(r, NULL, 0, 3, r->v, r->u, prefix);
		expect_hashes(c, 4, r->v, r->u, r->a, r->i);
		tract_context_free(c);
	}
	fx_assert_same_counts(before, fx_count(r->f)); /* a view: nothing written */
	tract_context_free(orig);
	rx_free(r);
}

/* The checks look at the final sequence (DECISIONS.md): A responds to U. */
static void test_response_chain_break_and_strict(void **state)
{
	rx *r = rx_new();
	tract_reorder_warning_list *w = NULL;
	tract_context *c;

	(void)state;
	c = reorder(r, &w, 0, 1, r->a);
	assert_non_null(c);
	expect_hashes(c, 4, r->a, r->i, r->u, r->v);
	assert_int_equal(w->count, 1);
	assert_string_equal(w->items[0].kind, "response_chain_break");
	assert_string_equal(w->items[0].severity, "semantic");
	assert_string_equal(w->items[0].commit_hash, r->a);
	{
		char *json = NULL;
		assert_int_equal(tract_reorder_warning_list_to_json(&json, w), 0);
		assert_non_null(strstr(json, "\"kind\": \"response_chain_break\""));
		tract_string_free(json);
	}
	tract_context_free(c);
	tract_reorder_warning_list_free(w);

	/* U then A: the chain holds, even though U was not first before */
	c = reorder(r, &w, 0, 2, r->u, r->a);
	assert_int_equal(w->count, 0);
	tract_context_free(c);
	tract_reorder_warning_list_free(w);

	/* strict: refused */
	w = (tract_reorder_warning_list *)1;
	assert_null(reorder(r, &w, 1, 1, r->a));
	assert_null(w);
	assert_int_equal(tract_error_last()->code, TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "strict"));
	rx_free(r);
}

static void test_edits_duplicates_and_missing(void **state)
{
	rx *r = rx_new();
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	char e[65];
	tract_context *c;

	(void)state;
	o.operation = TRACT_OP_EDIT;
	o.response_to = r->u;
	fx_commit(r->f, e,
		  "{\"content_type\": \"dialogue\", \"role\": \"user\", \"text\": \"What is 2+2?\"}", &o);
	/* the edit names the message it edits, which shows the edited text */
	c = reorder(r, NULL, 0, 1, e);
	assert_non_null(c);
	expect_hashes(c, 4, r->u, r->i, r->a, r->v);
	assert_string_equal(tract_context_content(c, 0), "What is 2+2?");
	tract_context_free(c);

	/* a message named twice (directly, or through its edit) */
	assert_null(reorder(r, NULL, 0, 2, r->v, r->v));
	assert_int_equal(tract_error_last()->code, TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "named twice"));
	assert_null(reorder(r, NULL, 0, 2, e, r->u));
	assert_int_equal(tract_error_last()->code, TRACT_EINVAL);

	/* a skipped commit makes no message; an unknown revision */
	assert_int_equal(tract_annotation_create(NULL, r->f->t, r->v, TRACT_PRIORITY_SKIP, NULL), 0);
	assert_null(reorder(r, NULL, 0, 1, r->v));
	assert_int_equal(tract_error_last()->code, TRACT_ENOTFOUND);
	assert_null(reorder(r, NULL, 0, 1, "feedbeef"));
	assert_int_equal(tract_error_last()->code, TRACT_ENOTFOUND);
	assert_null(reorder(r, NULL, 0, 1, ""));
	rx_free(r);
}

/* A tool result moved before its call would make a provider reject the
 * request: structural warning. */
static void test_tool_result_before_call(void **state)
{
	rx *r = rx_new();
	tract_reorder_warning_list *w = NULL;
	char call[65], result[65];
	tract_context *c;

	(void)state;
	fx_commit(r->f, call,
		  "{\"content_type\": \"tool_io\", \"tool_name\": \"calc\", \"direction\": \"call\", "
		  "\"payload\": {\"a\": 2, \"b\": 2}}",
		  NULL);
	fx_commit(r->f, result,
		  "{\"content_type\": \"tool_io\", \"tool_name\": \"calc\", \"direction\": "
		  "\"result\", \"payload\": {\"sum\": 4}, \"status\": \"success\"}",
		  NULL);
	c = reorder(r, &w, 0, 1, result);
	assert_non_null(c);
	assert_int_equal(w->count, 1);
	assert_string_equal(w->items[0].kind, "tool_result_before_call");
	assert_string_equal(w->items[0].severity, "structural");
	assert_string_equal(w->items[0].commit_hash, result);
	tract_context_free(c);
	tract_reorder_warning_list_free(w);
	/* call then result, both moved up: fine */
	c = reorder(r, &w, 0, 2, call, result);
	assert_int_equal(w->count, 0);
	tract_context_free(c);
	tract_reorder_warning_list_free(w);
	rx_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_named_first_rest_in_order),
	    cmocka_unit_test(test_response_chain_break_and_strict),
	    cmocka_unit_test(test_edits_duplicates_and_missing),
	    cmocka_unit_test(test_tool_result_before_call),
	};
	int rc = ts_init("reorder");

	if (rc)
		return rc;
	return ts_run("reorder", tests, TS_COUNT(tests), NULL, 0);
}
