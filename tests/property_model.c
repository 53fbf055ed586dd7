/*
 * property_model.c - the property test's independent model of a tract (commits,
 * edits, annotations) and its compile, and the comparisons of a compiled
 * context with the model and with another context.
 */
#include "property.h"

void model_truncate(model *m, size_t nc, size_t na)
{
	while (m->nc > nc) {
		mcommit *c = &m->c[--m->nc];
		free(c->content);
		free(c->name);
		free(c->config);
	}
	m->na = na < m->na ? na : m->na;
}

void model_dispose(model *m)
{
	model_truncate(m, 0, 0);
	free(m->c);
	free(m->a);
	memset(m, 0, sizeof(*m));
}

mcommit *model_push(model *m)
{
	if (m->nc == m->capc) {
		m->capc = m->capc ? m->capc * 2 : 64;
		m->c = realloc(m->c, m->capc * sizeof(*m->c));
		CHECK(m->c != NULL, "out of memory");
	}
	memset(&m->c[m->nc], 0, sizeof(m->c[0]));
	return &m->c[m->nc++];
}

void model_annotate(model *m, int target, tract_priority p, tract_time at)
{
	if (m->na == m->capa) {
		m->capa = m->capa ? m->capa * 2 : 64;
		m->a = realloc(m->a, m->capa * sizeof(*m->a));
		CHECK(m->a != NULL, "out of memory");
	}
	m->a[m->na].target = target;
	m->a[m->na].p = p;
	m->a[m->na].at = at;
	m->na++;
}

/*
 * The expected compile: commits [0, upto] with created_at <= cutoff; the
 * latest edit of each target wins; annotations in force at ann_cutoff
 * (the latest wins; default PINNED for instruction and session, NORMAL
 * otherwise, and only SKIP matters); an edit's config replaces the
 * original's unless the edit has none (§6.3-6.5).
 */
size_t model_compile(mmsg *out, const model *m, size_t upto, tract_time cutoff,
                     tract_time ann_cutoff)
{
	size_t i, k, n = 0;
	int *edit = calloc(m->nc + 1, sizeof(*edit));

	CHECK(edit != NULL, "out of memory");
	for (i = 0; i < m->nc; i++)
		edit[i] = -1;
	for (i = 0; i <= upto && i < m->nc; i++)
		if (m->c[i].is_edit && m->c[i].at <= cutoff)
			edit[m->c[i].target] = (int)i; /* later in the chain = later in time */
	for (i = 0; i <= upto && i < m->nc; i++) {
		const mcommit *c = &m->c[i], *src = c;
		int skipped = 0;
		if (c->is_edit || c->at > cutoff)
			continue;
		for (k = 0; k < m->na; k++)
			if (m->a[k].target == (int)i && m->a[k].at <= ann_cutoff)
				skipped = m->a[k].p == TRACT_PRIORITY_SKIP;
		if (skipped)
			continue;
		if (edit[i] >= 0)
			src = &m->c[edit[i]];
		out[n].role = src->role;
		out[n].content = src->content;
		out[n].name = src->name;
		out[n].config = edit[i] >= 0 && src->config ? src->config
		                : c->config                 ? c->config
		                                            : "{}";
		out[n].hash = c->hash;
		out[n].edited = edit[i] >= 0;
		n++;
	}
	free(edit);
	return n;
}

/* ------------------------------------------------------------------ */
/* comparisons                                                          */
/* ------------------------------------------------------------------ */

int json_same(const char *a, const char *b)
{
	cJSON *x = cJSON_Parse(a), *y = cJSON_Parse(b);
	int same = x && y && cJSON_Compare(x, y, 1);

	cJSON_Delete(x);
	cJSON_Delete(y);
	return same;
}

void check_against_model(const char *what, const tract_context *ctx, const mmsg *want,
                         size_t n, tract_tokenizer *tok)
{
	const char **roles, **contents, **names;
	size_t i;
	int64_t tokens;

	CHECK(tract_context_count(ctx) == n, "%s: %zu messages, the model has %zu", what,
	      tract_context_count(ctx), n);
	roles = calloc(n + 1, sizeof(*roles));
	contents = calloc(n + 1, sizeof(*contents));
	names = calloc(n + 1, sizeof(*names));
	CHECK(roles && contents && names, "out of memory");
	for (i = 0; i < n; i++) {
		CHECK(str_eq(tract_context_commit_hash(ctx, i), want[i].hash),
		      "%s: message %zu hash %s, model %s", what, i,
		      SHOW(tract_context_commit_hash(ctx, i)), want[i].hash);
		CHECK(str_eq(tract_context_role(ctx, i), want[i].role),
		      "%s: message %zu role %s, model %s", what, i,
		      SHOW(tract_context_role(ctx, i)), want[i].role);
		CHECK(str_eq(tract_context_content(ctx, i), want[i].content),
		      "%s: message %zu content\n    got: %s\n  model: %s", what, i,
		      SHOW(tract_context_content(ctx, i)), want[i].content);
		CHECK(str_eq(tract_context_name(ctx, i), want[i].name),
		      "%s: message %zu name %s, model %s", what, i,
		      SHOW(tract_context_name(ctx, i)), SHOW(want[i].name));
		CHECK(json_same(tract_context_generation_config(ctx, i), want[i].config),
		      "%s: message %zu (%s) config %s, model %s", what, i, want[i].hash,
		      SHOW(tract_context_generation_config(ctx, i)), want[i].config);
		roles[i] = want[i].role;
		contents[i] = want[i].content;
		names[i] = want[i].name;
	}
	CHECK_RC(tract_tokenizer_count_messages(&tokens, tok, n, roles, contents, names));
	free(roles);
	free(contents);
	free(names);
	CHECK(tract_context_token_count(ctx) == tokens,
	      "%s: token_count %" PRId64 ", count_messages of the model's messages %" PRId64, what,
	      tract_context_token_count(ctx), tokens);
}

/* Cached vs fresh: everything identical, byte for byte. */
void check_same_context(const tract_context *a, const tract_context *b)
{
	size_t i, n = tract_context_count(a);

	CHECK(n == tract_context_count(b), "cached %zu messages, fresh %zu", n,
	      tract_context_count(b));
	for (i = 0; i < n; i++) {
		CHECK(str_eq(tract_context_role(a, i), tract_context_role(b, i)),
		      "message %zu: cached role %s, fresh %s", i, tract_context_role(a, i),
		      tract_context_role(b, i));
		CHECK(str_eq(tract_context_content(a, i), tract_context_content(b, i)),
		      "message %zu: cached content %s, fresh %s", i, tract_context_content(a, i),
		      tract_context_content(b, i));
		CHECK(str_eq(tract_context_name(a, i), tract_context_name(b, i)),
		      "message %zu: cached name %s, fresh %s", i, SHOW(tract_context_name(a, i)),
		      SHOW(tract_context_name(b, i)));
		CHECK(str_eq(tract_context_commit_hash(a, i), tract_context_commit_hash(b, i)),
		      "message %zu: cached hash %s, fresh %s", i, tract_context_commit_hash(a, i),
		      tract_context_commit_hash(b, i));
		CHECK(str_eq(tract_context_generation_config(a, i),
		             tract_context_generation_config(b, i)),
		      "message %zu (%s): cached config %s, fresh %s", i,
		      tract_context_commit_hash(a, i), tract_context_generation_config(a, i),
		      tract_context_generation_config(b, i));
	}
	CHECK(tract_context_token_count(a) == tract_context_token_count(b),
	      "cached token_count %" PRId64 ", fresh %" PRId64, tract_context_token_count(a),
	      tract_context_token_count(b));
	CHECK(str_eq(tract_context_token_source(a), tract_context_token_source(b)),
	      "cached token_source '%s', fresh '%s'", tract_context_token_source(a),
	      tract_context_token_source(b));
}
