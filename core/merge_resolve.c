/*
 * merge_resolve.c - resolving conflicts (spec/history.md §8.7): the
 * built-in resolvers of the ours / theirs strategies and the loop that asks
 * a resolver about each conflict and records its answers.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"
#include "merge_priv.h"

/* ---- built-in resolvers -------------------------------------------------------- */

static int content_hash_cb(const tract_commit_row *row, void *payload)
{
	tract_copy_id(payload, row->content_hash);
	return 0;
}

static int unchanged_text(char **out, strategy_ctx *sc, const char *target)
{
	tract *t = sc->r->t;
	char ch[65] = "";
	size_t i;
	int rc;

	*out = NULL;
	if (!sc->base_done) {
		sc->base_done = 1;
		if (sc->r->base[0]) {
			rc = tract_compile_full(&sc->base_ctx, t, sc->r->base, NULL);
			if (rc < 0)
				return rc;
		}
	}
	for (i = 0; sc->base_ctx && i < sc->base_ctx->count; i++) {
		const tract_msg *m = tract_context_msg(sc->base_ctx, i);
		if (strcmp(m->hash, target) == 0) {
			*out = strndup(m->content, m->content_len);
			return *out ? 0 : tract_error_oom();
		}
	}
	rc = t->store->be->commit_get(t->store->conn, NULL, target, content_hash_cb, ch);
	if (rc < 0 && rc != TRACT_ENOTFOUND)
		return tract_backend_error(t->store, rc, "read commit");
	if (!ch[0]) {
		*out = strdup(UNAVAILABLE_TEXT);
		return *out ? 0 : tract_error_oom();
	}
	return merge_content_text(out, t->store, ch);
}

static int resolve_side(tract_resolution *out, const tract_issue *issue, int ours, void *payload)
{
	strategy_ctx *sc = payload;
	size_t i;

	if (!out || !issue)
		return tract_error_set(TRACT_EINVAL, "resolver: NULL argument");
	out->action = TRACT_RESOLVE_RESOLVED;
	out->text = ours ? (issue->text_a ? issue->text_a : "")
			 : (issue->text_b ? issue->text_b : "");
	out->reasoning = ours ? "strategy ours" : "strategy theirs";
	out->generation_config_json = NULL;
	if (!sc || sc->magic != STRATEGY_MAGIC || issue->kind == TRACT_ISSUE_BOTH_EDIT ||
	    !issue->target_hash)
		return 0;
	for (i = 0; i < sc->r->n_conflicts; i++) {
		merge_conflict *c = &sc->r->conflicts[i];
		int rc;
		if (&c->issue != issue)
			continue;
		if (c->editor_a == ours)
			return 0; /* the chosen side made the edit: its text */
		if (!c->unchanged) {
			rc = unchanged_text(&c->unchanged, sc, c->target);
			if (rc < 0)
				return rc;
		}
		out->text = c->unchanged;
		return 0;
	}
	return 0;
}

int tract_merge_resolver_ours(tract_resolution *out, const tract_issue *issue, void *payload)
{
	return resolve_side(out, issue, 1, payload);
}

int tract_merge_resolver_theirs(tract_resolution *out, const tract_issue *issue, void *payload)
{
	return resolve_side(out, issue, 0, payload);
}


/* ---- the resolver loop (§8.7) ------------------------------------------------------ */

static int check_config(const char *json)
{
	cJSON *o = NULL;
	int rc = tract_parse_object(&o, json, "resolver generation config");

	cJSON_Delete(o);
	return rc;
}

int merge_run_resolver(tract_merge_result *r, tract_resolver_cb cb, void *payload)
{
	size_t i;
	int rc;

	for (i = 0; i < r->n_conflicts; i++) {
		merge_conflict *c = &r->conflicts[i];
		merge_resolution *e = merge_res_find(r, c->key);
		tract_resolution ans;

		memset(&ans, 0, sizeof(ans));
		tract_error_clear();
		rc = cb(&ans, &c->issue, payload);
		if (rc < 0) {
			if (tract_error_last()->code != rc)
				tract_error_set(rc, "resolver failed on conflict %zu (%s)", i + 1,
						tract_issue_kind_name(c->issue.kind));
			return rc;
		}
		if (ans.action == TRACT_RESOLVE_ABORT)
			return tract_error_set(TRACT_EABORTED, "Resolver aborted merge: %s",
					       ans.reasoning && ans.reasoning[0]
						       ? ans.reasoning
						       : "(no reason given)");
		if (ans.action != TRACT_RESOLVE_RESOLVED || !ans.text)
			continue;
		if (!tract_utf8_valid(ans.text, strlen(ans.text)))
			return tract_error_set(TRACT_EINVAL,
					       "resolver's text for conflict %zu is not valid UTF-8",
					       i + 1);
		if (ans.reasoning && !tract_utf8_valid(ans.reasoning, strlen(ans.reasoning)))
			return tract_error_set(TRACT_EINVAL, "resolver's reasoning for conflict "
							     "%zu is not valid UTF-8",
					       i + 1);
		if (ans.generation_config_json && check_config(ans.generation_config_json) < 0)
			return TRACT_EINVAL;
		rc = merge_set_str(&e->text, ans.text);
		if (rc == 0 && ans.reasoning && ans.reasoning[0])
			rc = merge_set_str(&e->reasoning, ans.reasoning);
		if (rc == 0 && ans.generation_config_json)
			rc = merge_set_str(&e->config, ans.generation_config_json);
		if (rc < 0)
			return rc;
	}
	return 0;
}
