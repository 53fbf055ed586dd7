/*
 * merge_result.c - the merge's names and options, the result object a
 * merge hands back (accessors, resolutions set for review) and its JSON form
 * (spec/history.md §8).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"
#include "merge_priv.h"

/* ---- names and options ------------------------------------------------------- */

const char *tract_merge_type_name(tract_merge_type type)
{
	switch (type) {
	case TRACT_MERGE_UP_TO_DATE: return "up_to_date";
	case TRACT_MERGE_FAST_FORWARD: return "fast_forward";
	case TRACT_MERGE_CLEAN: return "clean";
	case TRACT_MERGE_CONFLICT: return "conflict";
	}
	return "unknown";
}

const char *tract_merge_strategy_name(tract_merge_strategy s)
{
	switch (s) {
	case TRACT_MERGE_STRATEGY_AUTO: return "auto";
	case TRACT_MERGE_STRATEGY_OURS: return "ours";
	case TRACT_MERGE_STRATEGY_THEIRS: return "theirs";
	}
	return "unknown";
}

int tract_merge_strategy_parse(tract_merge_strategy *out, const char *name)
{
	if (!out || !name)
		return tract_error_set(TRACT_EINVAL, "tract_merge_strategy_parse: NULL argument");
	if (strcasecmp(name, "auto") == 0)
		*out = TRACT_MERGE_STRATEGY_AUTO;
	else if (strcasecmp(name, "ours") == 0)
		*out = TRACT_MERGE_STRATEGY_OURS;
	else if (strcasecmp(name, "theirs") == 0)
		*out = TRACT_MERGE_STRATEGY_THEIRS;
	else
		return tract_error_set(TRACT_EINVAL,
				       "unknown merge strategy '%s' (auto, ours or theirs)", name);
	return 0;
}

int tract_merge_options_init(tract_merge_options *opts, unsigned int version)
{
	tract_merge_options defaults = TRACT_MERGE_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_merge_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_MERGE_OPTIONS_VERSION, "tract_merge_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}


/* ---- the result ------------------------------------------------------------------ */

void tract_merge_result_free(tract_merge_result *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n_conflicts; i++) {
		free(r->conflicts[i].text_a);
		free(r->conflicts[i].text_b);
		free(r->conflicts[i].description);
		free(r->conflicts[i].unchanged);
	}
	for (i = 0; i < r->n_res; i++) {
		free(r->res[i].text);
		free(r->res[i].reasoning);
		free(r->res[i].config);
	}
	free(r->conflicts);
	free(r->res);
	free(r->merged);
	free(r->source);
	free(r->target);
	free(r);
}

tract_merge_type tract_merge_result_type(const tract_merge_result *r)
{
	return r ? r->type : TRACT_MERGE_UP_TO_DATE;
}

int tract_merge_result_committed(const tract_merge_result *r)
{
	return r ? r->committed : 0;
}

const char *tract_merge_result_source_branch(const tract_merge_result *r)
{
	return r ? r->source : NULL;
}

const char *tract_merge_result_target_branch(const tract_merge_result *r)
{
	return r ? r->target : NULL;
}

static const char *or_null(const char *h)
{
	return h[0] ? h : NULL;
}

const char *tract_merge_result_base(const tract_merge_result *r)
{
	return r ? or_null(r->base) : NULL;
}

const char *tract_merge_result_source_tip(const tract_merge_result *r)
{
	return r ? or_null(r->source_tip) : NULL;
}

const char *tract_merge_result_target_tip(const tract_merge_result *r)
{
	return r ? or_null(r->target_tip) : NULL;
}

const char *tract_merge_result_commit(const tract_merge_result *r)
{
	return r ? or_null(r->commit) : NULL;
}

size_t tract_merge_result_conflict_count(const tract_merge_result *r)
{
	return r ? r->n_conflicts : 0;
}

const tract_issue *tract_merge_result_conflict(const tract_merge_result *r, size_t i)
{
	return r && i < r->n_conflicts ? &r->conflicts[i].issue : NULL;
}

merge_resolution *merge_res_find(const tract_merge_result *r, const char *key)
{
	size_t i;

	for (i = 0; key && i < r->n_res; i++)
		if (strcmp(r->res[i].key, key) == 0)
			return &r->res[i];
	return NULL;
}

size_t tract_merge_result_unresolved_count(const tract_merge_result *r)
{
	size_t i, n = 0;

	if (!r)
		return 0;
	for (i = 0; i < r->n_conflicts; i++) {
		merge_resolution *e = merge_res_find(r, r->conflicts[i].key);
		if (!e || !e->text)
			n++;
	}
	return n;
}

const char *tract_merge_result_resolution(const tract_merge_result *r, const char *key)
{
	merge_resolution *e = r ? merge_res_find(r, key) : NULL;

	return e ? e->text : NULL;
}

const char *tract_merge_result_reasoning(const tract_merge_result *r, const char *key)
{
	merge_resolution *e = r ? merge_res_find(r, key) : NULL;

	return e ? e->reasoning : NULL;
}

size_t tract_merge_result_merged_count(const tract_merge_result *r)
{
	return r ? r->n_merged : 0;
}

const char *tract_merge_result_merged(const tract_merge_result *r, size_t i)
{
	return r && i < r->n_merged ? r->merged[i] : NULL;
}

/* Replace *dst with a copy of src (NULL clears). */
int merge_set_str(char **dst, const char *src)
{
	char *c = NULL;

	if (src && !(c = strdup(src)))
		return tract_error_oom();
	free(*dst);
	*dst = c;
	return 0;
}

int tract_merge_result_set_resolution(tract_merge_result *r, const char *key, const char *text)
{
	merge_resolution *e;

	if (!r || !key || !text)
		return tract_error_set(TRACT_EINVAL, "tract_merge_result_set_resolution: NULL argument");
	if (r->committed)
		return tract_error_set(TRACT_EINVAL, "the merge is already committed");
	e = merge_res_find(r, key);
	if (!e)
		return tract_error_set(TRACT_ENOTFOUND, "no conflict has the key %s", key);
	if (!tract_utf8_valid(text, strlen(text)))
		return tract_error_set(TRACT_EINVAL, "resolution text is not valid UTF-8");
	return merge_set_str(&e->text, text);
}


/* ---- JSON ---------------------------------------------------------------------------------- */

static cJSON *hash_or_null(const char *h)
{
	return h && h[0] ? cJSON_CreateString(h) : cJSON_CreateNull();
}

int tract_merge_result_to_json(char **out, const tract_merge_result *r)
{
	cJSON *o, *arr, *res, *why, *merged;
	size_t i;

	if (!out || !r)
		return tract_error_set(TRACT_EINVAL, "tract_merge_result_to_json: NULL argument");
	*out = NULL;
	o = cJSON_CreateObject();
	if (!o)
		return tract_error_oom();
	cJSON_AddStringToObject(o, "merge_type", tract_merge_type_name(r->type));
	cJSON_AddBoolToObject(o, "committed", r->committed);
	cJSON_AddStringToObject(o, "source_branch", r->source);
	cJSON_AddItemToObject(o, "target_branch",
			      r->target ? cJSON_CreateString(r->target) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "merge_base_hash", hash_or_null(r->base));
	cJSON_AddItemToObject(o, "source_tip_hash", hash_or_null(r->source_tip));
	cJSON_AddItemToObject(o, "target_tip_hash", hash_or_null(r->target_tip));
	cJSON_AddItemToObject(o, "merge_commit_hash", hash_or_null(r->commit));
	arr = cJSON_AddArrayToObject(o, "conflicts");
	for (i = 0; arr && i < r->n_conflicts; i++) {
		const merge_conflict *c = &r->conflicts[i];
		cJSON *x = cJSON_CreateObject();
		if (!x || !cJSON_AddItemToArray(arr, x))
			break;
		cJSON_AddStringToObject(x, "conflict_type", tract_issue_kind_name(c->issue.kind));
		cJSON_AddStringToObject(x, "key", c->key);
		cJSON_AddItemToObject(x, "target_hash", hash_or_null(c->target));
		cJSON_AddItemToObject(x, "commit_a", hash_or_null(c->a));
		cJSON_AddItemToObject(x, "commit_b", hash_or_null(c->b));
		cJSON_AddStringToObject(x, "content_a_text", c->text_a ? c->text_a : "");
		cJSON_AddStringToObject(x, "content_b_text", c->text_b ? c->text_b : "");
		cJSON_AddStringToObject(x, "description", c->description ? c->description : "");
	}
	res = cJSON_AddObjectToObject(o, "resolutions");
	why = cJSON_AddObjectToObject(o, "resolution_reasoning");
	for (i = 0; res && why && i < r->n_res; i++) {
		if (r->res[i].text)
			cJSON_AddStringToObject(res, r->res[i].key, r->res[i].text);
		if (r->res[i].reasoning)
			cJSON_AddStringToObject(why, r->res[i].key, r->res[i].reasoning);
	}
	cJSON_AddItemToObject(o, "unresolved",
			      tract_json_new_int((int64_t)tract_merge_result_unresolved_count(r)));
	merged = cJSON_AddArrayToObject(o, "auto_merged");
	for (i = 0; merged && i < r->n_merged; i++)
		cJSON_AddItemToArray(merged, cJSON_CreateString(r->merged[i]));
	*out = tract_json_render_str(o, TRACT_JSON_FLAT);
	cJSON_Delete(o);
	return *out ? 0 : tract_error_oom();
}
