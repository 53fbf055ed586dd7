/*
 * anthropic.c - the "anthropic" provider plugin: the Anthropic Messages
 * API, whole or streamed over server-sent events.
 *
 * POST {base_url}/v1/messages with the body the core renders for the
 * "anthropic" wire format ({"system": ..., "messages": [...]}) plus model,
 * max_tokens (required by the API: the request's, else the client's),
 * temperature, tools (converted from OpenAI's function format to
 * {name, description, input_schema}), tool_choice ("auto" → {"type":
 * "auto"}, "required" → {"type": "any"}, "none" → {"type": "none"}, a
 * name → {"type": "tool", "name": ...}), stream, and the request's
 * extra_json members (which win over all of these). Headers: x-api-key,
 * anthropic-version.
 *
 * Options (tract_provider_option; unknown keys are EINVAL):
 *   api_key             sent as x-api-key; none: no header
 *   base_url            default https://api.anthropic.com
 *   model               default claude-sonnet-4-5
 *   timeout             seconds, default 120: the whole call; a streamed
 *                       call fails after this long without a byte
 *   max_response_bytes  bound of a reply, default 16777216 (16 MiB)
 *   anthropic_version   default 2023-06-01
 *   max_tokens          max_tokens when the request gives none, default 4096
 * Environment, for what the options leave out: TRACT_ANTHROPIC_API_KEY,
 * else ANTHROPIC_API_KEY; TRACT_ANTHROPIC_BASE_URL, else ANTHROPIC_BASE_URL.
 *
 * Replies: text blocks joined, tool_use blocks as tool calls, stop_reason
 * as OpenAI's finish reasons; 429 and 529 (overloaded) carry the server's
 * retry-after. One attempt per call; the key never appears in a message or
 * in the raw reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic_parse.h"
#include "client.h"

#define WHO "anthropic"
#define DEFAULT_MODEL "claude-sonnet-4-5"

static int option(tp_client *c, const char *key, const char *value, tract_provider_error *err)
{
	if (strcmp(key, "anthropic_version") == 0) {
		if (!*value || strpbrk(value, "\r\n")) {
			tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0,
				   WHO ": option anthropic_version: empty or not one line");
			return TRACT_EINVAL;
		}
		return tp_set_string(&c->anthropic_version, value);
	}
	if (strcmp(key, "max_tokens") == 0) {
		uint64_t v;
		if (tp_parse_count(value, 1000000000, &v) != 0) {
			tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0,
				   WHO ": option max_tokens: not a count from 1 to 10^9");
			return TRACT_EINVAL;
		}
		c->max_tokens = (int64_t)v;
		return 0;
	}
	return 1;
}

static const char *const key_env[] = {"TRACT_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY", NULL};
static const char *const url_env[] = {"TRACT_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL", NULL};

static struct curl_slist *headers(const tp_client *c, int stream)
{
	struct curl_slist *l = tp_headers_json(stream);

	l = tp_header_add(l,
	        "anthropic-version: ", c->anthropic_version ? c->anthropic_version : "2023-06-01");
	if (c->api_key)
		l = tp_header_add(l, "x-api-key: ", c->api_key);
	return l;
}

#define oom(err) tp_err_oom(err, WHO)

static int bad_tools(tract_provider_error *err, const char *why)
{
	tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, WHO ": tools_json: %s", why);
	return TRACT_EINVAL;
}

/* OpenAI's [{"type":"function","function":{name, description, parameters}}]
 * as Anthropic's [{name, description, input_schema}]; a tool already in
 * Anthropic's form (a top-level name) goes as it is. */
static int convert_tools(const char *json, cJSON **out, tract_provider_error *err)
{
	cJSON *in = cJSON_Parse(json), *tools, *t;
	int rc = 0;

	*out = NULL;
	if (!cJSON_IsArray(in)) {
		cJSON_Delete(in);
		return bad_tools(err, "not a JSON array");
	}
	if (!(tools = cJSON_CreateArray())) {
		cJSON_Delete(in);
		return oom(err);
	}
	cJSON_ArrayForEach(t, in)
	{
		cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
		cJSON *name, *desc, *params, *tool;

		if (cJSON_IsObject(t) && !fn &&
		    cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "name"))) {
			if (!(tool = cJSON_Duplicate(t, 1)))
				goto oom;
			cJSON_AddItemToArray(tools, tool);
			continue;
		}
		name = cJSON_GetObjectItemCaseSensitive(fn, "name");
		if (!cJSON_IsObject(fn) || !cJSON_IsString(name)) {
			rc = bad_tools(err, "a tool without function.name");
			goto done;
		}
		desc = cJSON_GetObjectItemCaseSensitive(fn, "description");
		params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
		if (!(tool = cJSON_CreateObject()))
			goto oom;
		cJSON_AddItemToArray(tools, tool);
		if (!cJSON_AddStringToObject(tool, "name", name->valuestring))
			goto oom;
		if (cJSON_IsString(desc) &&
		    !cJSON_AddStringToObject(tool, "description", desc->valuestring))
			goto oom;
		if (cJSON_IsObject(params)) {
			cJSON *copy = cJSON_Duplicate(params, 1);
			if (!copy)
				goto oom;
			cJSON_AddItemToObject(tool, "input_schema", copy);
		} else {
			cJSON *schema = cJSON_AddObjectToObject(tool, "input_schema");
			if (!schema || !cJSON_AddStringToObject(schema, "type", "object") ||
			    !cJSON_AddObjectToObject(schema, "properties"))
				goto oom;
		}
	}
	*out = tools;
	tools = NULL;
	goto done;
oom:
	rc = oom(err);
done:
	cJSON_Delete(tools);
	cJSON_Delete(in);
	return rc;
}

static int body(const tp_client *c, const tract_chat_request *rq, int stream, cJSON *root,
		tract_provider_error *err)
{
	int64_t max_tokens = rq->max_tokens > 0 ? rq->max_tokens : c->max_tokens;
	int rc;

	if (rq->max_tokens < 0) {
		tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, WHO ": max_tokens is negative");
		return TRACT_EINVAL;
	}
	if (!cJSON_AddNumberToObject(root, "max_tokens", (double)max_tokens))
		return oom(err);
	if (rq->has_temperature && !cJSON_AddNumberToObject(root, "temperature", rq->temperature))
		return oom(err);
	if (rq->tools_json) {
		cJSON *tools;
		if ((rc = convert_tools(rq->tools_json, &tools, err)) != 0)
			return rc;
		cJSON_AddItemToObject(root, "tools", tools);
	}
	if (rq->tool_choice) {
		cJSON *choice = cJSON_CreateObject();
		const char *type = strcmp(rq->tool_choice, "auto") == 0       ? "auto"
				   : strcmp(rq->tool_choice, "required") == 0 ? "any"
				   : strcmp(rq->tool_choice, "none") == 0     ? "none"
									      : "tool";
		if (!choice || !cJSON_AddStringToObject(choice, "type", type) ||
		    (strcmp(type, "tool") == 0 &&
		     !cJSON_AddStringToObject(choice, "name", rq->tool_choice))) {
			cJSON_Delete(choice);
			return oom(err);
		}
		cJSON_AddItemToObject(root, "tool_choice", choice);
	}
	if (stream && !cJSON_AddTrueToObject(root, "stream"))
		return oom(err);
	return 0;
}

static const tp_wire wire = {
	.path = "/v1/messages",
	.headers = headers,
	.body = body,
	.parser = &tp_anthropic_parser,
};

static const tp_client_spec spec = {
	.who = WHO,
	.default_model = DEFAULT_MODEL,
	.default_base_url = "https://api.anthropic.com",
	.key_env = key_env,
	.url_env = url_env,
	.option = option,
	.wire = &wire,
};

static int client_create(tract_provider_client **out, const tract_provider_option *options,
			 size_t n_options, tract_provider_error *err)
{
	int rc = tp_client_create(out, &spec, options, n_options, err);

	if (rc == 0 && (*out)->max_tokens == 0)
		(*out)->max_tokens = 4096;
	return rc;
}

static const tract_provider anthropic_provider = {
	.version = TRACT_PROVIDER_VERSION,
	.name = WHO,
	.wire_format = "anthropic",
	.default_model = DEFAULT_MODEL,
	.client_create = client_create,
	.client_free = tp_client_free,
	.chat = tp_chat,
	.reply_clear = tp_reply_clear,
	.chat_stream = tp_chat_stream,
};

__attribute__((visibility("default"))) const tract_provider *tract_provider_entry(void);

const tract_provider *tract_provider_entry(void)
{
	return &anthropic_provider;
}
