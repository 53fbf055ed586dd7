/*
 * generate.c - tract_generate(): compile HEAD, ask the model through the
 * provider layer (llm.c), commit its reply (text, tool calls) with its
 * generation config in one transaction; and the per-tract LLM defaults kept
 * in store metadata (operations layer).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chat.h"
#include "internal.h"
#include "json.h"
#include "llm.h"
#include "plugin.h"

#define TRACT_META_PROVIDER "provider"
#define TRACT_META_MODEL "model"
/* The largest tools_json accepted (tool schemas are small). */
#define MAX_TOOLS_JSON (4u << 20)

struct tract_generate_result {
	tract_chat_result *reply;
	char (*hashes)[TRACT_HASH_HEXSIZE + 1];
	size_t n;
};

/* ---- settings -------------------------------------------------------------------- */

/* A name that asks to store a secret. */
static int secret_like(const char *name)
{
	static const char *const words[] = {"key",        "secret", "password", "token",
	                                    "credential", "auth",   NULL};
	char low[64];
	size_t i, n = strlen(name);

	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[n] = '\0';
	for (i = 0; words[i]; i++)
		if (strstr(low, words[i]))
			return 1;
	return 0;
}

static int check_setting(const char *name, const char *value)
{
	size_t i, n;

	if (!name)
		return tract_error_set(TRACT_EINVAL, "no setting named");
	if (secret_like(name))
		return tract_error_set(TRACT_EINVAL,
		                       "refusing to store '%.40s': API keys and other secrets are "
		                       "never stored; give them as provider options or in the "
		                       "environment",
		                       name);
	if (strcmp(name, TRACT_META_PROVIDER) != 0 && strcmp(name, TRACT_META_MODEL) != 0)
		return tract_error_set(TRACT_EINVAL,
		                       "unknown LLM setting '%.40s' (provider or model)", name);
	if (!value)
		return 0;
	n = strlen(value);
	if (n == 0 || n > 200)
		return tract_error_set(TRACT_EINVAL, "the %s setting must be 1 to 200 bytes", name);
	for (i = 0; i < n; i++)
		if ((unsigned char)value[i] <= 0x20 || value[i] == 0x7f)
			return tract_error_set(
			    TRACT_EINVAL, "the %s setting holds a space or a control character",
			    name);
	/* A value that looks like a key is refused too (never echoed). */
	if (strncmp(value, "sk-", 3) == 0 || strncmp(value, "sk_", 3) == 0)
		return tract_error_set(TRACT_EINVAL,
		                       "refusing to store a %s that looks like an API key", name);
	if (strcmp(name, TRACT_META_PROVIDER) == 0) {
		const char *p = value;
		size_t count = 0;
		for (;;) {
			size_t len = strcspn(p, ",");
			char one[64];
			if (len == 0 || len >= sizeof(one) || ++count > 8)
				return tract_error_set(TRACT_EINVAL,
				                       "invalid provider list for the setting");
			memcpy(one, p, len);
			one[len] = '\0';
			if (!tract_plugin_name_valid(one))
				return tract_error_set(TRACT_EINVAL,
				                       "invalid provider name %zu in the setting",
				                       count);
			if (!p[len])
				break;
			p += len + 1;
		}
	}
	return 0;
}

/* meta_set / meta_delete of one setting inside an open write transaction. */
static int setting_write(tract *t, const char *name, const char *value)
{
	char key[128];
	int rc;

	tract_meta_key(key, sizeof(key), t->id, name);
	if (value) {
		rc = t->store->be->meta_set(t->store->conn, key, value);
	} else {
		rc = t->store->be->meta_delete(t->store->conn, key);
		if (rc == TRACT_ENOTFOUND)
			rc = 0;
	}
	return rc < 0 ? tract_backend_error(t->store, rc, "store the LLM setting") : 0;
}

int tract_llm_setting_set(tract *t, const char *name, const char *value)
{
	int rc;

	if (!t)
		return tract_error_set(TRACT_EINVAL, "tract_llm_setting_set: t is NULL");
	rc = check_setting(name, value);
	if (rc < 0)
		return rc;
	rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
	if (rc < 0)
		return rc;
	rc = setting_write(t, name, value);
	return tract_txn_end(t->store, rc);
}

int tract_llm_setting_get(char **out, tract *t, const char *name)
{
	char key[128], value[256];
	int found = 0, rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_llm_setting_get: out is NULL");
	*out = NULL;
	if (!t)
		return tract_error_set(TRACT_EINVAL, "tract_llm_setting_get: t is NULL");
	if (!name ||
	    (strcmp(name, TRACT_META_PROVIDER) != 0 && strcmp(name, TRACT_META_MODEL) != 0))
		return tract_error_set(TRACT_EINVAL,
		                       "unknown LLM setting '%.40s' (provider or model)",
		                       name ? name : "(null)");
	tract_meta_key(key, sizeof(key), t->id, name);
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_meta_read(t->store, key, value, sizeof(value), &found);
	rc = tract_txn_end(t->store, rc);
	if (rc < 0)
		return rc;
	if (found && !(*out = strdup(value)))
		return tract_error_oom();
	return 0;
}

/* ---- generate -------------------------------------------------------------------------- */

int tract_generate_options_init(tract_generate_options *opts, unsigned int version)
{
	tract_generate_options defaults = TRACT_GENERATE_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_generate_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_GENERATE_OPTIONS_VERSION, "tract_generate_options") <
	    0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

void tract_generate_result_free(tract_generate_result *r)
{
	if (!r)
		return;
	tract_chat_result_free(r->reply);
	free(r->hashes);
	free(r);
}

const tract_chat_result *tract_generate_result_reply(const tract_generate_result *r)
{
	return r ? r->reply : NULL;
}

size_t tract_generate_result_commit_count(const tract_generate_result *r)
{
	return r ? r->n : 0;
}

const char *tract_generate_result_commit_hash(const tract_generate_result *r, size_t i)
{
	return r && i < r->n ? r->hashes[i] : NULL;
}

static int tool_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/* tools_json: an array of {"type": "function", "function": {"name", ...}}
 * (OpenAI's function format); tool_choice one of auto/none/required or the
 * name of one of them. */
static int check_tools(const char *tools_json, const char *tool_choice)
{
	char err[160];
	cJSON *tools = NULL, *it;
	int rc, found = 0;

	if (!tools_json) {
		if (tool_choice && strcmp(tool_choice, "auto") != 0 &&
		    strcmp(tool_choice, "none") != 0)
			return tract_error_set(TRACT_EINVAL, "tool_choice '%.64s' without tools",
			                       tool_choice);
		return 0;
	}
	if (strlen(tools_json) > MAX_TOOLS_JSON)
		return tract_error_set(TRACT_EINVAL, "tools: larger than %u bytes", MAX_TOOLS_JSON);
	rc = tract_json_parse(&tools, tools_json, strlen(tools_json), 0, err, sizeof(err));
	if (rc < 0)
		return tract_error_set(rc, "tools: not valid JSON: %s", err);
	if (!cJSON_IsArray(tools) || !cJSON_GetArraySize(tools)) {
		cJSON_Delete(tools);
		return tract_error_set(TRACT_EINVAL,
		                       "tools: a non-empty JSON array of tool "
		                       "definitions is needed (OpenAI's function format)");
	}
	rc = 0;
	cJSON_ArrayForEach(it, tools)
	{
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(it, "function");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
		const cJSON *desc = cJSON_GetObjectItemCaseSensitive(fn, "description");
		if (!cJSON_IsObject(it) || !cJSON_IsString(type) ||
		    strcmp(type->valuestring, "function") != 0 || !cJSON_IsObject(fn)) {
			rc = tract_error_set(TRACT_EINVAL,
			                     "tools: each tool must be "
			                     "{\"type\": \"function\", \"function\": {...}}");
			break;
		}
		if (!cJSON_IsString(name) || !tool_name_ok(name->valuestring)) {
			rc = tract_error_set(TRACT_EINVAL, "tools: a function name must be 1 to 64 "
			                                   "letters, digits, '_' or '-'");
			break;
		}
		if ((params && !cJSON_IsObject(params)) || (desc && !cJSON_IsString(desc))) {
			rc = tract_error_set(TRACT_EINVAL,
			                     "tools: '%s': parameters must be an object (a JSON "
			                     "Schema) and description a string",
			                     name->valuestring);
			break;
		}
		if (tool_choice && strcmp(tool_choice, name->valuestring) == 0)
			found = 1;
	}
	cJSON_Delete(tools);
	if (rc == 0 && tool_choice && !found && strcmp(tool_choice, "auto") != 0 &&
	    strcmp(tool_choice, "none") != 0 && strcmp(tool_choice, "required") != 0)
		rc = tract_error_set(TRACT_EINVAL, "tool_choice '%.64s' names no tool offered",
		                     tool_choice);
	return rc;
}

static int check_options(const tract_generate_options *o)
{
	cJSON *extra = NULL;
	int rc;

	if (tract_version_check(o->version, TRACT_GENERATE_OPTIONS_VERSION,
	                        "tract_generate_options") < 0)
		return TRACT_EINVAL;
	if (o->has_temperature &&
	    !(isfinite(o->temperature) && o->temperature >= 0 && o->temperature <= 100))
		return tract_error_set(TRACT_EINVAL, "temperature must be a finite number from 0 "
		                                     "to 100");
	if (o->max_tokens < 0)
		return tract_error_set(TRACT_EINVAL, "max_tokens must be >= 0");
	if (o->model &&
	    (!*o->model || strlen(o->model) > 200 || !tract_utf8_valid(o->model, strlen(o->model))))
		return tract_error_set(TRACT_EINVAL, "the model name must be 1 to 200 bytes of "
		                                     "UTF-8");
	if (o->message && !tract_utf8_valid(o->message, strlen(o->message)))
		return tract_error_set(TRACT_EINVAL, "the commit message is not valid UTF-8");
	if (o->save_defaults && o->model && check_setting(TRACT_META_MODEL, o->model) < 0)
		return TRACT_EINVAL;
	rc = check_tools(o->tools_json, o->tool_choice);
	if (rc < 0)
		return rc;
	rc = tract_parse_object(&extra, o->extra_json, "extra request members");
	cJSON_Delete(extra);
	return rc;
}

/* The bodies rendered for the providers' wire formats, once each. */
typedef struct {
	const tract_context *ctx;
	unsigned flags;
	char *openai;
	char *anthropic;
} bodies;

static const char *body_for(const char *wire_format, void *payload)
{
	bodies *b = payload;
	char **slot = strcmp(wire_format, "anthropic") == 0 ? &b->anthropic : &b->openai;

	if (!*slot && tract_chat_body_render(slot, b->ctx, wire_format, b->flags) < 0)
		return NULL;
	return *slot;
}

/* The generation config of the reply commits. */
static int reply_config(char **out, const tract_chat_result *res, const tract_generate_options *o)
{
	const tract_chat_usage *u = tract_chat_result_usage(res);
	cJSON *cfg = cJSON_CreateObject(), *usage;
	int ok = cfg != NULL;

	*out = NULL;
	if (ok && tract_chat_result_model(res))
		ok = cJSON_AddStringToObject(cfg, "model", tract_chat_result_model(res)) != NULL;
	if (ok)
		ok = cJSON_AddStringToObject(cfg, "provider", tract_chat_result_provider(res)) !=
		     NULL;
	if (ok && o->has_temperature)
		ok = cJSON_AddNumberToObject(cfg, "temperature", o->temperature) != NULL;
	if (ok && o->max_tokens > 0)
		ok = cJSON_AddNumberToObject(cfg, "max_tokens", (double)o->max_tokens) != NULL;
	if (ok && tract_chat_result_finish_reason(res))
		ok = cJSON_AddStringToObject(cfg, "finish_reason",
		                             tract_chat_result_finish_reason(res)) != NULL;
	if (ok && (u->prompt_tokens >= 0 || u->completion_tokens >= 0 || u->total_tokens >= 0)) {
		usage = cJSON_AddObjectToObject(cfg, "usage");
		ok = usage != NULL;
		if (ok && u->prompt_tokens >= 0)
			ok = cJSON_AddNumberToObject(usage, "prompt_tokens",
			                             (double)u->prompt_tokens) != NULL;
		if (ok && u->completion_tokens >= 0)
			ok = cJSON_AddNumberToObject(usage, "completion_tokens",
			                             (double)u->completion_tokens) != NULL;
		if (ok && u->total_tokens >= 0)
			ok = cJSON_AddNumberToObject(usage, "total_tokens",
			                             (double)u->total_tokens) != NULL;
	}
	if (ok)
		ok = (*out = tract_json_render_str(cfg, TRACT_JSON_COLUMN)) != NULL;
	cJSON_Delete(cfg);
	return ok ? 0 : tract_error_oom();
}

/* The content objects of the reply: its text (unless it is only
 * whitespace beside tool calls), then one tool_io call per tool call. */
static int reply_contents(char ***out, size_t *n, const tract_chat_result *res)
{
	size_t i, k = 0, calls = tract_chat_result_tool_call_count(res);
	const char *text = tract_chat_result_text(res);
	char **c;
	int rc = 0, with_text;

	*out = NULL;
	*n = 0;
	with_text = text ? (!calls || text[strspn(text, " \t\r\n")] != '\0') : !calls;
	c = calloc(calls + 1, sizeof(*c));
	if (!c)
		return tract_error_oom();
	if (with_text) {
		tract_content_build_options bo = TRACT_CONTENT_BUILD_OPTIONS_INIT;
		if (text && !tract_utf8_valid(text, strlen(text)))
			rc =
			    tract_error_set(TRACT_EPROVIDER, "the reply's text is not valid UTF-8");
		else if (tract_content_build(&c[k], "assistant", text ? text : "", NULL, &bo) < 0)
			rc = tract_error_prefix("the reply's text");
		else
			k++;
	}
	for (i = 0; rc == 0 && i < calls; i++) {
		const tract_tool_call *tc = tract_chat_result_tool_call(res, i);
		tract_content_build_options bo = TRACT_CONTENT_BUILD_OPTIONS_INIT;
		bo.tool_name = tc->name;
		bo.call_id = tc->id;
		bo.label = "the arguments";
		if (tract_content_build(&c[k], "tool-call", tc->arguments_json, NULL, &bo) < 0) {
			rc = tract_error_last()->code == TRACT_ENOMEM
			         ? TRACT_ENOMEM
			         : tract_error_set(TRACT_EPROVIDER,
			                           "the model's call of tool '%.64s': %s", tc->name,
			                           tract_error_last()->message);
			break;
		}
		k++;
	}
	if (rc < 0) {
		for (i = 0; i < k; i++)
			tract_string_free(c[i]);
		free(c);
		return rc;
	}
	*out = c;
	*n = k;
	return 0;
}

static char *usage_json(const tract_chat_result *res)
{
	const tract_chat_usage *u = tract_chat_result_usage(res);
	char buf[128];

	if (u->prompt_tokens < 0)
		return NULL;
	snprintf(buf, sizeof(buf),
	         "{\"prompt_tokens\": %" PRId64 ", \"completion_tokens\": %" PRId64 "}",
	         u->prompt_tokens, u->completion_tokens < 0 ? 0 : u->completion_tokens);
	return strdup(buf);
}

/* Commit the reply inside one write transaction. */
static int commit_reply(tract_generate_result *gr, tract *t, tract_llm *llm, const char *head,
                        char **contents, size_t n, const char *config,
                        const tract_generate_options *o)
{
	tract_commit_options co = TRACT_COMMIT_OPTIONS_INIT;
	char now[TRACT_HASH_HEXSIZE + 1];
	char *usage = usage_json(gr->reply);
	size_t i;
	int rc;

	rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
	if (rc < 0) {
		free(usage);
		return rc;
	}
	rc = tract_head_get(now, NULL, NULL, t);
	if (rc == 0 && strcmp(now, head) != 0)
		rc = tract_error_set(TRACT_ESTALE,
		                     "HEAD moved while the model answered (from %.12s to %.12s): "
		                     "nothing committed",
		                     head, now[0] ? now : "none");
	/* The API's figure for the context that was sent (kept in the
	 * compile cache: nothing to keep without one); a rollback below
	 * drops it with the rest of the cache. */
	if (rc == 0 && usage && head[0] && tract_cache_capacity(t->cache) > 0) {
		/* Best effort (it only reads): a failure (out of memory) must
		 * not mark this transaction failed. */
		int was_failed = t->store->batch_failed;
		if (tract_usage_record(NULL, t, usage, head) < 0) {
			tract_error_clear();
			t->store->batch_failed = was_failed;
		}
	}
	co.message = o->message;
	co.generation_config_json = config;
	co.response_to = head; /* what the model answered */
	for (i = 0; rc == 0 && i < n; i++) {
		tract_commit *c = NULL;
		rc = tract_commit_create(&c, t, contents[i], &co);
		if (rc == 0) {
			memcpy(gr->hashes[gr->n++], tract_commit_hash(c), TRACT_HASH_HEXSIZE + 1);
			tract_commit_free(c);
		}
	}
	if (rc == 0 && o->save_defaults) {
		rc = setting_write(t, TRACT_META_PROVIDER, tract_llm_names(llm));
		if (rc == 0 && o->model)
			rc = setting_write(t, TRACT_META_MODEL, o->model);
	}
	free(usage);
	if (rc < 0) {
		/* Keep the failure's message through the rollback. */
		char msg[1024];
		int code = rc;
		snprintf(msg, sizeof(msg), "%s", tract_error_last()->message);
		tract_txn_end(t->store, rc);
		gr->n = 0;
		return tract_error_set(code, "%s", msg);
	}
	rc = tract_txn_end(t->store, 0);
	if (rc < 0)
		gr->n = 0;
	return rc;
}

int tract_generate(tract_generate_result **out, tract *t, tract_llm *llm,
                   const tract_generate_options *opts)
{
	tract_generate_options defaults = TRACT_GENERATE_OPTIONS_INIT;
	tract_chat_request req;
	tract_chat_messages *msgs = NULL;
	tract_context *ctx = NULL;
	tract_generate_result *gr = NULL;
	bodies b = {0};
	char head[TRACT_HASH_HEXSIZE + 1];
	char **contents = NULL, *config = NULL;
	size_t i, n = 0;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_generate: out is NULL");
	*out = NULL;
	if (!t || !llm)
		return tract_error_set(TRACT_EINVAL, "tract_generate: t or llm is NULL");
	if (!opts)
		opts = &defaults;
	rc = check_options(opts);
	if (rc < 0)
		return rc;
	rc = tract_context_compile(&ctx, t, NULL);
	if (rc < 0)
		return rc;
	memcpy(head, ctx->head, sizeof(head));
	if (tract_context_count(ctx) == 0) {
		tract_context_free(ctx);
		return tract_error_set(TRACT_EINVAL, "nothing to send: the compiled context is "
		                                     "empty (commit a message first)");
	}
	b.ctx = ctx;
	b.flags = opts->include_reasoning ? TRACT_CHAT_REASONING : 0;
	rc = tract_chat_messages_build(&msgs, ctx, b.flags);
	if (rc < 0)
		goto done;
	memset(&req, 0, sizeof(req));
	req.version = TRACT_CHAT_REQUEST_VERSION;
	req.messages = msgs->items;
	req.n_messages = msgs->count;
	req.model = opts->model;
	req.has_temperature = opts->has_temperature;
	req.temperature = opts->temperature;
	req.max_tokens = opts->max_tokens;
	req.tools_json = opts->tools_json;
	req.tool_choice = opts->tool_choice;
	req.extra_json = opts->extra_json;
	gr = calloc(1, sizeof(*gr));
	if (!gr) {
		rc = tract_error_oom();
		goto done;
	}
	rc = tract_llm_chat_with_body(&gr->reply, llm, &req, body_for, &b, opts->on_delta,
	                              opts->delta_payload);
	if (rc < 0)
		goto done;
	rc = reply_contents(&contents, &n, gr->reply);
	if (rc == 0)
		rc = reply_config(&config, gr->reply, opts);
	if (rc == 0 && !(gr->hashes = calloc(n ? n : 1, sizeof(*gr->hashes))))
		rc = tract_error_oom();
	if (rc == 0)
		rc = commit_reply(gr, t, llm, head, contents, n, config, opts);
done:
	for (i = 0; i < n; i++)
		tract_string_free(contents[i]);
	free(contents);
	free(config);
	free(b.openai);
	free(b.anthropic);
	tract_chat_messages_free(msgs);
	tract_context_free(ctx);
	if (rc < 0) {
		tract_generate_result_free(gr);
		return rc;
	}
	*out = gr;
	return 0;
}
