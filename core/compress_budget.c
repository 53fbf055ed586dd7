/*
 * compress_budget.c - the compression step of the auto-compress budget
 * policy (issue 13 item 3, spec/agents.md §1 and §3 of the budget): when
 * a commit would take the compiled context over the tract's budget and
 * tool-result compaction alone does not get it under, the oldest normal
 * commits of the branch are compressed, in the commit's transaction, down
 * to the target fraction of the budget. Summaries are written by an LLM
 * (a compression cannot invent text): the provider set with
 * tract_budget_llm_set, else the tract's stored provider. Nothing is
 * written when the policy cannot get the context under the budget.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress_int.h"
#include "tract/compact.h"
#include "tract/llm.h"
#include "warning.h"

#define DEFAULT_TARGET 0.5
/* the smallest summary length the policy asks for */
#define MIN_SUMMARY_TOKENS 32

int tract_budget_llm_set(tract *t, tract_llm *llm)
{
	if (!t)
		return tract_error_set(TRACT_EINVAL, "tract_budget_llm_set: NULL tract");
	t->budget_llm = llm;
	return 0;
}

static int target_valid(double f)
{
	return f > 0.0 && f <= 1.0;
}

int tract_budget_target_set(tract *t, double fraction, int persist)
{
	char key[128], value[32];
	int rc = 0;

	if (!t)
		return tract_error_set(TRACT_EINVAL, "tract_budget_target_set: NULL tract");
	if (!target_valid(fraction))
		return tract_error_set(TRACT_EINVAL,
		                       "the budget target is a fraction of the budget in (0, 1], "
		                       "not %g",
		                       fraction);
	if (persist) {
		rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
		if (rc < 0)
			return rc;
		tract_meta_key(key, sizeof(key), t->id, TRACT_META_BUDGET_TARGET);
		snprintf(value, sizeof(value), "%.6g", fraction);
		rc = t->store->be->meta_set(t->store->conn, key, value);
		if (rc < 0)
			rc = tract_backend_error(t->store, rc, "persist the budget target");
		rc = tract_txn_end(t->store, rc);
		if (rc < 0)
			return rc;
	}
	t->budget_target = fraction;
	return 0;
}

/* The handle's target, else the stored one, else the default. */
static int target_read(double *out, tract *t)
{
	char key[128], value[64];
	int found = 0, rc;

	if (t->budget_target > 0.0) {
		*out = t->budget_target;
		return 0;
	}
	tract_meta_key(key, sizeof(key), t->id, TRACT_META_BUDGET_TARGET);
	rc = tract_meta_read(t->store, key, value, sizeof(value), &found);
	if (rc < 0)
		return rc;
	*out = DEFAULT_TARGET;
	if (found) {
		char *end = NULL;
		double f = strtod(value, &end);

		if (end && !*end && target_valid(f))
			*out = f;
	}
	t->budget_target = *out;
	return 0;
}

int tract_budget_target_get(double *out, tract *t)
{
	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_budget_target_get: NULL argument");
	return target_read(out, t);
}

/* The policy cannot compress: a REJECT budget refuses the commit with the
 * reason, the others warn and let the budget's action decide. */
static int cannot(tract *t, int64_t total, const char *why)
{
	if (t->budget_action == TRACT_BUDGET_REJECT)
		return tract_error_set(TRACT_EBUDGET,
		                       "Token budget exceeded: %" PRId64 " tokens (max: %" PRId64
		                       "); the auto-compress policy cannot get under it: %s",
		                       total, t->budget_max, why);
	tract_warn("auto-compress policy: cannot compress: %s", why);
	return 0;
}

/* The range [0, *end] of the oldest commits whose NORMAL tokens, less a
 * summary of *per_group tokens per group, save at least need tokens. */
static int range_choose(size_t *end, size_t *groups, const chain *c, int64_t need,
                        int64_t per_group)
{
	int64_t normal = 0;
	size_t g = 0;
	int open = 0;

	for (size_t i = 0; i < c->n; i++) {
		const tract_row *r = &c->rows[i];

		if (r->n_extra) {
			open = 0;
			continue;
		}
		if (r->priority == TRACT_PRIORITY_PINNED) {
			open = 0;
		} else if (r->priority != TRACT_PRIORITY_SKIP) {
			if (!open)
				g++;
			open = 1;
			normal += r->token_count;
		}
		if (g && normal - (int64_t)g * per_group >= need) {
			*end = i;
			*groups = g;
			return 1;
		}
	}
	return 0;
}

int tract_compress_for_budget(tract *t, const tract_context *ctx, int64_t total, int *applied)
{
	tract_compress_options o = TRACT_COMPRESS_OPTIONS_INIT;
	tract_pending_compression *p = NULL;
	tract_compress_result *r = NULL;
	tract_context *after = NULL;
	tract_llm *llm = t->budget_llm, *owned = NULL;
	tract_head_state hs;
	chain c = {NULL, 0};
	char *provider = NULL, why[512];
	double frac = DEFAULT_TARGET;
	int64_t goal, need, delta, per_group, saved_max = t->budget_max;
	size_t end = 0, groups = 0;
	int rc, wrote = 0;

	*applied = 0;
	rc = target_read(&frac, t);
	if (rc < 0)
		return rc;
	goal = (int64_t)(frac * (double)t->budget_max);
	delta = total - (ctx ? ctx->token_count : 0); /* the new commit's share */
	need = total - goal;
	per_group = goal / 10 > MIN_SUMMARY_TOKENS ? goal / 10 : MIN_SUMMARY_TOKENS;
	if (!llm) {
		rc = tract_llm_setting_get(&provider, t, "provider");
		if (rc < 0)
			return rc;
		if (!provider)
			return cannot(t, total,
			              "no LLM provider to write the summaries (set one for the "
			              "tract, or tract_budget_llm_set)");
		rc = tract_llm_open(&owned, provider, NULL);
		if (rc < 0) {
			snprintf(why, sizeof(why), "the provider '%s' does not open: %s", provider,
			         tract_error_last()->message);
			tract_string_free(provider);
			return cannot(t, total, why);
		}
		tract_string_free(provider);
		llm = owned;
	}
	rc = tract_head_read(&hs, t);
	if (rc == 0)
		rc = tract_compress_chain_read(&c, t, hs.hash);
	if (rc < 0)
		goto done;
	/* down to the target fraction, else at least under the budget */
	if (!range_choose(&end, &groups, &c, need, per_group) &&
	    !range_choose(&end, &groups, &c, total - t->budget_max, per_group)) {
		snprintf(why, sizeof(why),
		         "compressing every normal commit would not bring %" PRId64
		         " tokens under %" PRId64,
		         total, t->budget_max);
		rc = cannot(t, total, why);
		goto done;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		rc = tract_error_oom();
		goto done;
	}
	o.to_commit = c.rows[end].hash;
	o.target_tokens = per_group;
	rc = tract_compress_plan(p, t, &hs, &c, &o);
	for (size_t g = 0; rc == 0 && g < p->n_groups; g++)
		rc = tract_compress_llm_summary(&p->summaries[g], llm, p, &c, 0, g, NULL);
	if (rc == 0)
		rc = tract_compress_estimate(p, t);
	if (rc < 0) {
		/* a bad range or a failing provider: nothing written */
		snprintf(why, sizeof(why), "%s", tract_error_last()->message);
		rc = cannot(t, total, why);
		goto done;
	}
	if (total - p->original_tokens + p->estimated_tokens > t->budget_max) {
		snprintf(why, sizeof(why),
		         "the summaries (%" PRId64 " tokens for %" PRId64
		         ") would not get the context under the budget",
		         p->estimated_tokens, p->original_tokens);
		rc = cannot(t, total, why);
		goto done;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		rc = tract_error_oom();
		goto done;
	}
	/* the rewrite only shrinks the context: no budget check inside it */
	t->budget_max = -1;
	rc = tract_compress_rewrite(r, t, p, &c, 0, &wrote);
	t->budget_max = saved_max;
	if (rc == 0 && r->new_head[0])
		rc = tract_compile_full(&after, t, r->new_head, NULL);
	if (rc == 0 && after && after->token_count + delta > t->budget_max)
		/* written in this transaction: the commit fails, all rolls back */
		rc = tract_error_set(TRACT_EBUDGET,
		                     "Token budget exceeded: the auto-compress policy compressed "
		                     "%zu commits but the context would still hold %" PRId64
		                     " tokens (max: %" PRId64 ")",
		                     r->n_source, after->token_count + delta, t->budget_max);
	if (rc == 0)
		*applied = 1;
done:
	tract_context_free(after);
	tract_compress_result_free(r);
	tract_pending_compression_free(p);
	tract_compress_chain_dispose(&c);
	tract_llm_free(owned);
	return rc;
}
