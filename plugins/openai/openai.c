/*
 * openai.c - the "openai" provider plugin: chat completions on any
 * OpenAI-compatible server (OpenAI, vLLM, llama.cpp's server, Ollama, LM
 * Studio...), whole or streamed over server-sent events.
 *
 * POST {base_url}/chat/completions with the body the core renders for the
 * "openai" wire format ({"messages": [...]}) plus model, max_tokens,
 * temperature, tools, tool_choice, stream (with stream_options
 * {"include_usage": true}) and the request's extra_json members (which win
 * over all of these).
 *
 * Options (tract_provider_option; unknown keys are EINVAL):
 *   api_key             sent as "Authorization: Bearer ..."; none: no header
 *                       (llama.cpp, Ollama, vLLM need none)
 *   base_url            default https://api.openai.com/v1
 *   model               default gpt-4o-mini
 *   timeout             seconds, default 120: the whole call; a streamed
 *                       call fails after this long without a byte
 *   max_response_bytes  bound of a reply, default 16777216 (16 MiB)
 *   organization        sent as OpenAI-Organization
 * Environment, for what the options leave out: TRACT_OPENAI_API_KEY, else
 * OPENAI_API_KEY; TRACT_OPENAI_BASE_URL, else OPENAI_BASE_URL. Proxies come
 * from the environment as curl reads them (https_proxy, no_proxy...).
 *
 * One attempt per call; failures are classified for the core's retries
 * (plugins/common/http.h). The key never appears in a message or in the
 * raw reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "openai_parse.h"

#define WHO "openai"

static int option(tp_client *c, const char *key, const char *value, tract_provider_error *err)
{
	if (strcmp(key, "organization") == 0)
		return *value ? tp_set_string(&c->organization, value) : 0;
	return 1;
}

static const char *const key_env[] = {"TRACT_OPENAI_API_KEY", "OPENAI_API_KEY", NULL};
static const char *const url_env[] = {"TRACT_OPENAI_BASE_URL", "OPENAI_BASE_URL", NULL};

static struct curl_slist *headers(const tp_client *c, int stream)
{
	struct curl_slist *l = tp_headers_json(stream);

	if (c->api_key)
		l = tp_header_add(l, "Authorization: Bearer ", c->api_key);
	if (c->organization)
		l = tp_header_add(l, "OpenAI-Organization: ", c->organization);
	return l;
}

#define oom(err) tp_err_oom(err, WHO)

static int body(const tp_client *c, const tract_chat_request *rq, int stream, cJSON *root,
		tract_provider_error *err)
{
	if (rq->max_tokens < 0) {
		tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, WHO ": max_tokens is negative");
		return TRACT_EINVAL;
	}
	if (rq->max_tokens > 0 &&
	    !cJSON_AddNumberToObject(root, "max_tokens", (double)rq->max_tokens))
		return oom(err);
	if (rq->has_temperature && !cJSON_AddNumberToObject(root, "temperature", rq->temperature))
		return oom(err);
	if (rq->tools_json) {
		cJSON *tools = cJSON_Parse(rq->tools_json);
		if (!cJSON_IsArray(tools)) {
			cJSON_Delete(tools);
			tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0,
				   WHO ": tools_json is not a JSON array");
			return TRACT_EINVAL;
		}
		cJSON_AddItemToObject(root, "tools", tools);
	}
	if (rq->tool_choice) {
		cJSON *choice;
		if (tp_tool_choice_is_mode(rq->tool_choice)) {
			choice = cJSON_CreateString(rq->tool_choice);
		} else {
			cJSON *fn;
			choice = cJSON_CreateObject();
			if (choice && (!cJSON_AddStringToObject(choice, "type", "function") ||
				       !(fn = cJSON_AddObjectToObject(choice, "function")) ||
				       !cJSON_AddStringToObject(fn, "name", rq->tool_choice))) {
				cJSON_Delete(choice);
				choice = NULL;
			}
		}
		if (!choice)
			return oom(err);
		cJSON_AddItemToObject(root, "tool_choice", choice);
	}
	if (stream) {
		cJSON *so;
		if (!cJSON_AddTrueToObject(root, "stream") ||
		    !(so = cJSON_AddObjectToObject(root, "stream_options")) ||
		    !cJSON_AddTrueToObject(so, "include_usage"))
			return oom(err);
	}
	return 0;
}

static const tp_wire wire = {
	.path = "/chat/completions",
	.headers = headers,
	.body = body,
	.parser = &tp_openai_parser,
};

static const tp_client_spec spec = {
	.who = WHO,
	.default_model = "gpt-4o-mini",
	.default_base_url = "https://api.openai.com/v1",
	.key_env = key_env,
	.url_env = url_env,
	.option = option,
	.wire = &wire,
};

static int client_create(tract_provider_client **out, const tract_provider_option *options,
			 size_t n_options, tract_provider_error *err)
{
	return tp_client_create(out, &spec, options, n_options, err);
}

static const tract_provider openai_provider = {
	.version = TRACT_PROVIDER_VERSION,
	.name = WHO,
	.wire_format = "openai",
	.default_model = "gpt-4o-mini",
	.client_create = client_create,
	.client_free = tp_client_free,
	.chat = tp_chat,
	.reply_clear = tp_reply_clear,
	.chat_stream = tp_chat_stream,
};

__attribute__((visibility("default"))) const tract_provider *tract_provider_entry(void);

const tract_provider *tract_provider_entry(void)
{
	return &openai_provider;
}
