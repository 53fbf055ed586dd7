/*
 * usage.c - recording the token usage a provider reported for HEAD
 * (spec/core.md §4.8): later compiles at that HEAD report the API figures.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"

/* ---- record_usage (§4.8) ---------------------------------------------------------------- */

static int usage_int(int64_t *out, const cJSON *obj, const char *key, int required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = 0;
	if (!v || cJSON_IsNull(v)) {
		if (required)
			return tract_error_set(TRACT_EINVAL, "Content validation failed: usage "
							     "member '%s' is missing",
					       key);
		return 0;
	}
	if (!cJSON_IsNumber(v) || !tract_json_is_int(v) || v->valuedouble < 0 ||
	    v->valuedouble > 9.0e15)
		return tract_error_set(TRACT_EINVAL,
				       "Content validation failed: usage member '%s' must be a "
				       "non-negative integer",
				       key);
	*out = (int64_t)v->valuedouble;
	return 0;
}

static int parse_usage(int64_t *prompt, int64_t *completion, const char *json)
{
	char err[128];
	cJSON *u = NULL;
	int rc;

	if (!json)
		return tract_error_set(TRACT_EINVAL, "Expected TokenUsage or dict, got None");
	rc = tract_json_parse(&u, json, strlen(json), 0, err, sizeof(err));
	if (rc < 0)
		return tract_error_set(rc, "invalid usage JSON: %s", err);
	if (!cJSON_IsObject(u)) {
		rc = tract_error_set(TRACT_EINVAL, "Expected TokenUsage or dict, got %s",
				     cJSON_IsArray(u) ? "list" : "a JSON scalar");
	} else if (cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens")) {
		rc = usage_int(prompt, u, "prompt_tokens", 1);
		if (rc == 0)
			rc = usage_int(completion, u, "completion_tokens", 0);
	} else if (cJSON_GetObjectItemCaseSensitive(u, "input_tokens")) {
		rc = usage_int(prompt, u, "input_tokens", 1);
		if (rc == 0)
			rc = usage_int(completion, u, "output_tokens", 0);
	} else {
		tract_buf keys = TRACT_BUF_INIT;
		const cJSON *m;
		for (m = u->child; m; m = m->next)
			tract_buf_printf(&keys, "%s'%s'", keys.len ? ", " : "", m->string);
		rc = tract_error_set(TRACT_EINVAL,
				     "Unrecognized usage dict format. Expected 'prompt_tokens' "
				     "(OpenAI) or 'input_tokens' (Anthropic). Got keys: [%s]",
				     keys.ptr ? keys.ptr : "");
		tract_buf_dispose(&keys);
	}
	cJSON_Delete(u);
	return rc;
}

int tract_usage_record(tract_context **out, tract *t, const char *usage_json,
		       const char *head_hash)
{
	int64_t prompt = 0, completion = 0;
	char source[64], head[65];
	tract_context *base = NULL, *c;
	int rc;

	if (out)
		*out = NULL;
	rc = parse_usage(&prompt, &completion, usage_json);
	if (rc < 0)
		return rc;
	rc = tract_head_get(head, NULL, NULL, t);
	if (rc < 0)
		return rc;
	if (!head[0])
		return tract_error_set(TRACT_ERROR, "Cannot record usage: no commits exist");
	if (head_hash && strcmp(head_hash, head) != 0)
		return tract_error_set(TRACT_ERROR,
				       "Cannot record usage: head_hash %s does not match current "
				       "HEAD %s",
				       head_hash, head);
	rc = tract_context_compile(&base, t, NULL);
	if (rc < 0)
		return rc;
	c = tract_context_share(base);
	tract_context_free(base);
	if (!c)
		return tract_error_oom();
	free(c->token_source);
	snprintf(source, sizeof(source), "api:%" PRId64 "+%" PRId64, prompt, completion);
	c->token_source = strdup(source);
	if (!c->token_source) {
		tract_context_free(c);
		return tract_error_oom();
	}
	c->token_count = prompt;
	tract_cache_put(t->cache, c);
	if (out)
		*out = c;
	else
		tract_context_free(c);
	return 0;
}
