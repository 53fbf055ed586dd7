/*
 * llm_resolver.c - the built-in LLM resolver of merge, cherry-pick and
 * rebase (include/tract/llm_resolver.h; spec/agents.md §4.4 and §5,
 * spec/history.md §8.11 with DECISIONS.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "content.h"
#include "error.h"
#include "internal.h"
#include "json.h"
#include "llm.h"
#include "tract/llm_resolver.h"

static const char default_system_prompt[] =
    "You are a context merge resolver. You receive conflicting context from two branches "
    "of an assistant's conversation history (or a commit that no longer fits the branch "
    "it is copied onto), with the common ancestor's content when it is known. Decide what "
    "the context should say and answer with only the resolved content text: no "
    "explanation, no preamble, no quotes or markup around it.";

struct tract_llm_resolver {
	tract_llm *llm;
	char *model;
	double temperature;
	int64_t max_tokens;
	char *system_prompt;
	tract *t;
	size_t calls;
	/* the last answer, alive until the next call or the free */
	char *text;
	char *reasoning;
	char *config;
};

int tract_llm_resolver_options_init(tract_llm_resolver_options *opts, unsigned int version)
{
	tract_llm_resolver_options init = TRACT_LLM_RESOLVER_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "options must not be NULL");
	if (version != TRACT_LLM_RESOLVER_OPTIONS_VERSION)
		return tract_error_set(TRACT_EINVAL, "unsupported llm resolver options version %u",
				       version);
	*opts = init;
	return 0;
}

const char *tract_llm_resolver_default_system_prompt(void)
{
	return default_system_prompt;
}

static void clear_answer(tract_llm_resolver *r)
{
	free(r->text);
	free(r->reasoning);
	free(r->config);
	r->text = r->reasoning = r->config = NULL;
}

void tract_llm_resolver_free(tract_llm_resolver *r)
{
	if (!r)
		return;
	clear_answer(r);
	free(r->model);
	free(r->system_prompt);
	free(r);
}

static int dup_opt(char **out, const char *s, const char *what)
{
	*out = NULL;
	if (!s)
		return 0;
	if (!tract_utf8_valid(s, strlen(s)))
		return tract_error_set(TRACT_EINVAL, "llm resolver %s is not valid UTF-8", what);
	*out = strdup(s);
	return *out ? 0 : tract_error_set(TRACT_ENOMEM, "out of memory");
}

int tract_llm_resolver_new(tract_llm_resolver **out, tract_llm *llm,
			   const tract_llm_resolver_options *opts)
{
	tract_llm_resolver_options defaults = TRACT_LLM_RESOLVER_OPTIONS_INIT;
	tract_llm_resolver *r;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "out must not be NULL");
	*out = NULL;
	if (!llm)
		return tract_error_set(TRACT_EINVAL, "llm resolver needs an llm handle");
	if (!opts)
		opts = &defaults;
	if (opts->version != TRACT_LLM_RESOLVER_OPTIONS_VERSION)
		return tract_error_set(TRACT_EINVAL, "unsupported llm resolver options version %u",
				       opts->version);
	if (!isfinite(opts->temperature) || opts->temperature < 0 || opts->temperature > 2)
		return tract_error_set(TRACT_EINVAL,
				       "llm resolver temperature must be from 0 to 2");
	if (opts->max_tokens < 1)
		return tract_error_set(TRACT_EINVAL, "llm resolver max_tokens must be >= 1");
	if (opts->model && !opts->model[0])
		return tract_error_set(TRACT_EINVAL, "llm resolver model must not be empty");
	r = calloc(1, sizeof(*r));
	if (!r)
		return tract_error_set(TRACT_ENOMEM, "out of memory");
	r->llm = llm;
	r->temperature = opts->temperature;
	r->max_tokens = opts->max_tokens;
	r->t = opts->tract;
	rc = dup_opt(&r->model, opts->model, "model");
	if (rc == 0)
		rc = dup_opt(&r->system_prompt, opts->system_prompt, "system prompt");
	if (rc < 0) {
		tract_llm_resolver_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

size_t tract_llm_resolver_calls(const tract_llm_resolver *r)
{
	return r ? r->calls : 0;
}

/* The edited commit's own text (the common ancestor's content), or NULL. */
static char *ancestor_text(tract *t, const char *hash)
{
	tract_message_parts parts;
	tract_commit *c = NULL;
	const char *payload;
	char *text = NULL;

	if (!t || !hash)
		return NULL;
	if (tract_commit_lookup(&c, t, hash) != 0) {
		tract_error_clear();
		return NULL;
	}
	payload = tract_commit_content(c);
	memset(&parts, 0, sizeof(parts));
	if (payload) {
		int rc = tract_content_message_flat(&parts, payload, strlen(payload));

		if (rc == 0) {
			cJSON *p = NULL;
			char err[64];

			if (tract_json_parse(&p, payload, strlen(payload),
					     TRACT_JSON_NONFINITE_TO_NULL, err, sizeof(err)) == 0)
				rc = tract_content_message(&parts, p) == 0 ? 1 : -1;
			cJSON_Delete(p);
		}
		if (rc == 1) {
			text = parts.content;
			parts.content = NULL;
		}
	}
	tract_error_clear();
	tract_message_parts_dispose(&parts);
	tract_commit_free(c);
	return text;
}

static int block(tract_buf *b, const char *label, const char *text)
{
	if (!text || !text[0])
		return 0;
	return tract_buf_printf(b, "\n\n%s\n%s", label, text);
}

int tract_llm_resolver_prompt(char **out, tract_llm_resolver *r, const tract_issue *issue)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "out must not be NULL");
	*out = NULL;
	if (!r || !issue)
		return tract_error_set(TRACT_EINVAL, "resolver and issue must not be NULL");
	rc = tract_buf_printf(&b, "Conflict type: %s", tract_issue_kind_name(issue->kind));
	if (issue->kind == TRACT_ISSUE_EDIT_TARGET_MISSING) {
		/* cherry-pick and rebase (DECISIONS.md): the commit's text and
		 * the issue's description, not an empty conflict */
		if (rc == 0 && issue->operation)
			rc = tract_buf_printf(&b, "\n\nOperation: %s", issue->operation);
		if (rc == 0 && issue->description && issue->description[0])
			rc = tract_buf_printf(&b, "\n\nDescription: %s", issue->description);
		if (rc == 0)
			rc = block(&b, "Commit content:", issue->text_b);
		if (rc == 0)
			rc = tract_buf_puts(&b, "\n\nThe commit is an edit of a message that is not "
						"in the destination branch. Answer with the "
						"text that should stand in the destination "
						"branch in its place.");
	} else {
		char *anc = NULL;

		if (rc == 0)
			rc = block(&b, "Branch A content:", issue->text_a);
		if (rc == 0)
			rc = block(&b, "Branch B content:", issue->text_b);
		if (rc == 0 && r->t && issue->target_hash) {
			anc = ancestor_text(r->t, issue->target_hash);
			rc = block(&b, "Common ancestor content:", anc);
			free(anc);
		}
	}
	if (rc < 0) {
		tract_buf_dispose(&b);
		return tract_error_set(TRACT_ENOMEM, "out of memory");
	}
	*out = tract_buf_detach(&b);
	return 0;
}

/* {"model", "temperature", "source", "provider", "usage"}. */
static char *config_json(const tract_llm_resolver *r, const tract_chat_result *res,
			 const char *model)
{
	const tract_chat_usage *u = tract_chat_result_usage(res);
	cJSON *o = cJSON_CreateObject(), *usage;
	char *text;

	if (!o)
		return NULL;
	if (model)
		cJSON_AddStringToObject(o, "model", model);
	else
		cJSON_AddNullToObject(o, "model");
	cJSON_AddNumberToObject(o, "temperature", r->temperature);
	cJSON_AddStringToObject(o, "source", "infrastructure:merge");
	if (tract_chat_result_provider(res))
		cJSON_AddStringToObject(o, "provider", tract_chat_result_provider(res));
	if (u && (u->prompt_tokens >= 0 || u->completion_tokens >= 0 || u->total_tokens >= 0)) {
		usage = cJSON_AddObjectToObject(o, "usage");
		if (usage && u->prompt_tokens >= 0)
			cJSON_AddNumberToObject(usage, "prompt_tokens", (double)u->prompt_tokens);
		if (usage && u->completion_tokens >= 0)
			cJSON_AddNumberToObject(usage, "completion_tokens",
						(double)u->completion_tokens);
		if (usage && u->total_tokens >= 0)
			cJSON_AddNumberToObject(usage, "total_tokens", (double)u->total_tokens);
	}
	text = tract_json_render_str(o, TRACT_JSON_COLUMN);
	cJSON_Delete(o);
	return text;
}

int tract_llm_resolver_resolve(tract_resolution *out, const tract_issue *issue, void *payload)
{
	tract_llm_resolver *r = payload;
	tract_chat_request req;
	tract_chat_message msgs[2];
	tract_chat_result *res = NULL;
	const char *text, *model;
	char *prompt = NULL;
	int rc;

	if (!out || !issue || !r)
		return tract_error_set(TRACT_EINVAL,
				       "llm resolver: out, issue and payload must not be NULL");
	clear_answer(r);
	rc = tract_llm_resolver_prompt(&prompt, r, issue);
	if (rc < 0)
		return rc;
	memset(msgs, 0, sizeof(msgs));
	msgs[0].role = "system";
	msgs[0].content = r->system_prompt ? r->system_prompt : default_system_prompt;
	msgs[1].role = "user";
	msgs[1].content = prompt;
	memset(&req, 0, sizeof(req));
	req.version = TRACT_CHAT_REQUEST_VERSION;
	req.messages = msgs;
	req.n_messages = 2;
	req.model = r->model;
	req.has_temperature = 1;
	req.temperature = r->temperature;
	req.max_tokens = r->max_tokens;
	r->calls++;
	rc = tract_llm_chat_messages(&res, r->llm, &req);
	free(prompt);
	if (rc < 0)
		return rc;
	text = tract_chat_result_text(res);
	if (!text) {
		tract_chat_result_free(res);
		return tract_error_set(TRACT_EPROVIDER,
				       "Cannot extract content from LLM response: the reply "
				       "holds no text");
	}
	model = tract_chat_result_model(res);
	if (!model)
		model = r->model;
	if (!model)
		model = tract_llm_provider_model(r->llm, 0);
	r->text = strdup(text);
	if (r->text) {
		size_t n = strlen("LLM-resolved using model ") + strlen(model ? model : "(default)") + 1;
		r->reasoning = malloc(n);
		if (r->reasoning)
			snprintf(r->reasoning, n, "LLM-resolved using model %s",
				 model ? model : "(default)");
	}
	if (r->reasoning)
		r->config = config_json(r, res, model);
	tract_chat_result_free(res);
	if (!r->text || !r->reasoning || !r->config) {
		clear_answer(r);
		return tract_error_set(TRACT_ENOMEM, "out of memory");
	}
	out->action = TRACT_RESOLVE_RESOLVED;
	out->text = r->text;
	out->reasoning = r->reasoning;
	out->generation_config_json = r->config;
	return 0;
}
