/*
 * example.c - tract-provider-example.so: an offline, deterministic LLM
 * provider, and the template to copy when writing your own (README.md
 * beside this file walks through it).
 *
 * It answers without a network or a key, always the same way for the same
 * request, so the demo, the tests and every feature that calls a model
 * (generate, compression, collapse, merge) run end to end:
 *   - the last message is a tool result: a text reply quoting it;
 *   - tools are offered (and tool_choice is not "none"): a call of the
 *     first tool (or the one tool_choice names), its required arguments
 *     filled from the last user message;
 *   - a request to summarize: the first sentences of the text it is given
 *     (extractive), opening with "Previously in this conversation: " or
 *     "Subagent completed: " when the system prompt asks for it;
 *   - a merge-resolver request: the "Branch B content:" block (a
 *     cherry-pick or rebase issue: the "Commit content:" block);
 *   - anything else: "Example reply: " and the first sentence of the last
 *     user message.
 *
 * Options (tract_provider_option): model (default "example-1"), sentences
 * (how many a summary keeps, 1 to 20, default 2), timeout (accepted and
 * ignored: nothing here waits), api_key (accepted and ignored: a fallback
 * list may hand one to every provider). Any other key is EINVAL.
 *
 * Like every provider it includes tract/sys/provider.h only and links
 * neither libtract nor its internals; cJSON reads the tool definitions.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "tract/sys/provider.h"

#define EXPORT __attribute__((visibility("default")))

/* A client: what the options said. */
struct tract_provider_client {
	char model[128];
	int sentences;
};

/* What a reply points into (reply->provider_data). */
typedef struct {
	char *text;
	char *finish;
	char *model;
	char *raw;
	tract_tool_call call;
	char *call_id, *call_name, *call_args;
} reply_data;

static void set_error(tract_provider_error *err, tract_provider_error_kind kind, const char *msg)
{
	err->kind = kind;
	err->http_status = 0;
	err->retry_after = -1;
	snprintf(err->message, sizeof(err->message), "%s", msg);
}

/* ---- a small growable string -------------------------------------------- */

typedef struct {
	char *p;
	size_t len, cap;
	int failed;
} str;

static void str_putn(str *s, const char *t, size_t n)
{
	if (s->failed)
		return;
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 64;
		char *np;
		while (cap < s->len + n + 1)
			cap *= 2;
		np = realloc(s->p, cap);
		if (!np) {
			s->failed = 1;
			return;
		}
		s->p = np;
		s->cap = cap;
	}
	memcpy(s->p + s->len, t, n);
	s->len += n;
	s->p[s->len] = '\0';
}

static void str_puts(str *s, const char *t)
{
	str_putn(s, t, strlen(t));
}

static char *str_done(str *s)
{
	if (s->failed || !s->p) {
		free(s->p);
		return s->failed ? NULL : strdup("");
	}
	return s->p;
}

/* ---- client ------------------------------------------------------------- */

static int example_client_create(tract_provider_client **out, const tract_provider_option *options,
                                 size_t n_options, tract_provider_error *err)
{
	struct tract_provider_client *c;
	size_t i;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		set_error(err, TRACT_PROVIDER_ERR_REQUEST, "out of memory");
		return TRACT_ENOMEM;
	}
	snprintf(c->model, sizeof(c->model), "example-1");
	c->sentences = 2;
	for (i = 0; i < n_options; i++) {
		const char *k = options[i].key, *v = options[i].value;
		if (strcmp(k, "model") == 0) {
			if (!*v || strlen(v) >= sizeof(c->model)) {
				set_error(err, TRACT_PROVIDER_ERR_REQUEST,
				          "option model: 1 to 127 bytes");
				free(c);
				return TRACT_EINVAL;
			}
			snprintf(c->model, sizeof(c->model), "%s", v);
		} else if (strcmp(k, "sentences") == 0) {
			char *end;
			long n = strtol(v, &end, 10);
			if (*end || end == v || n < 1 || n > 20) {
				set_error(err, TRACT_PROVIDER_ERR_REQUEST,
				          "option sentences: an integer from 1 to 20");
				free(c);
				return TRACT_EINVAL;
			}
			c->sentences = (int)n;
		} else if (strcmp(k, "timeout") == 0) {
			char *end;
			double t = strtod(v, &end);
			if (*end || end == v || !(t >= 0)) {
				set_error(err, TRACT_PROVIDER_ERR_REQUEST,
				          "option timeout: a number of seconds >= 0");
				free(c);
				return TRACT_EINVAL;
			}
		} else if (strcmp(k, "api_key") != 0) {
			char msg[200];
			/* Name the key, never its value. */
			snprintf(msg, sizeof(msg),
			         "unknown option '%.64s' (model, sentences, timeout, api_key)", k);
			set_error(err, TRACT_PROVIDER_ERR_REQUEST, msg);
			free(c);
			return TRACT_EINVAL;
		}
	}
	*out = c;
	return 0;
}

static void example_client_free(tract_provider_client *client)
{
	free(client);
}

/* ---- answering ------------------------------------------------------------ */

static const tract_chat_message *last_of_role(const tract_chat_request *req, const char *role)
{
	size_t i = req->n_messages;

	while (i-- > 0)
		if (req->messages[i].role && strcmp(req->messages[i].role, role) == 0)
			return &req->messages[i];
	return NULL;
}

static int system_says(const tract_chat_request *req, const char *phrase)
{
	size_t i;

	for (i = 0; i < req->n_messages; i++)
		if (strcmp(req->messages[i].role, "system") == 0 && req->messages[i].content &&
		    strstr(req->messages[i].content, phrase))
			return 1;
	return 0;
}

static int contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

/* Append the first max sentences of text, whitespace runs as one space. */
static void put_sentences(str *out, const char *text, int max, size_t max_bytes)
{
	int n = 0, space = 0;
	size_t start = out->len;

	while (*text && isspace((unsigned char)*text))
		text++;
	for (; *text && n < max && out->len - start < max_bytes; text++) {
		char ch = *text;
		if (isspace((unsigned char)ch)) {
			space = 1;
			continue;
		}
		if (space && out->len > start)
			str_putn(out, " ", 1);
		space = 0;
		str_putn(out, &ch, 1);
		if ((ch == '.' || ch == '!' || ch == '?') &&
		    (!text[1] || isspace((unsigned char)text[1])))
			n++;
	}
}

/* The text to summarize: what follows the request's first line, else the
 * conversation before it. */
static void summary_source(str *src, const tract_chat_request *req, const tract_chat_message *u)
{
	const char *nl = strchr(u->content, '\n');
	size_t i;

	if (nl && nl[strspn(nl, " \t\r\n")]) {
		str_puts(src, nl + 1);
		return;
	}
	for (i = 0; i < req->n_messages; i++) {
		const tract_chat_message *m = &req->messages[i];
		if (m == u || strcmp(m->role, "system") == 0 || !m->content)
			continue;
		str_puts(src, m->content);
		str_puts(src, "\n");
	}
}

static char *answer_text(const struct tract_provider_client *c, const tract_chat_request *req)
{
	const tract_chat_message *last = &req->messages[req->n_messages - 1];
	const tract_chat_message *u = last_of_role(req, "user");
	str out = {0};

	if (strcmp(last->role, "tool") == 0) {
		const char *tool = "the tool";
		size_t i, j;
		for (i = 0; i < req->n_messages; i++)
			for (j = 0; j < req->messages[i].n_tool_calls; j++)
				if (last->tool_call_id && req->messages[i].tool_calls[j].id &&
				    strcmp(req->messages[i].tool_calls[j].id, last->tool_call_id) ==
				        0)
					tool = req->messages[i].tool_calls[j].name;
		str_puts(&out, last->is_error ? "The tool " : "The tool ");
		str_puts(&out, tool);
		str_puts(&out, last->is_error ? " failed: " : " returned: ");
		put_sentences(&out, last->content ? last->content : "", c->sentences, 300);
		return str_done(&out);
	}
	if (system_says(req, "context merge resolver") && u && u->content) {
		const char *b = strstr(u->content, "Branch B content:\n");
		const char *a = strstr(u->content, "Branch A content:\n");
		/* a cherry-pick or rebase issue: the commit's own text */
		const char *k = strstr(u->content, "Commit content:\n");
		const char *pick = b ? b + 18 : a ? a + 18 : k ? k + 16 : u->content;
		const char *end = strstr(pick, "\n\n");
		str_putn(&out, pick, end ? (size_t)(end - pick) : strlen(pick));
		return str_done(&out);
	}
	if (u && u->content && contains_ci(u->content, "summar")) {
		str src = {0};
		if (system_says(req, "Subagent completed:"))
			str_puts(&out, "Subagent completed: ");
		else if (system_says(req, "Previously in this conversation:"))
			str_puts(&out, "Previously in this conversation: ");
		summary_source(&src, req, u);
		put_sentences(&out, src.p ? src.p : "", c->sentences, 2000);
		free(src.p);
		return str_done(&out);
	}
	str_puts(&out, "Example reply: ");
	put_sentences(&out, u && u->content ? u->content : "(nothing asked)", 1, 200);
	return str_done(&out);
}

/* A JSON value for one required parameter of the schema type. */
static cJSON *argument_for(const cJSON *schema, const tract_chat_message *u)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
	const char *t = cJSON_IsString(type) ? type->valuestring : "string";

	if (strcmp(t, "integer") == 0 || strcmp(t, "number") == 0)
		return cJSON_CreateNumber(1);
	if (strcmp(t, "boolean") == 0)
		return cJSON_CreateTrue();
	if (strcmp(t, "array") == 0)
		return cJSON_CreateArray();
	if (strcmp(t, "object") == 0)
		return cJSON_CreateObject();
	{
		str s = {0};
		char *text;
		cJSON *v;
		put_sentences(&s, u && u->content ? u->content : "", 1, 200);
		text = str_done(&s);
		v = cJSON_CreateString(text ? text : "");
		free(text);
		return v;
	}
}

/* The call of the tool to use: 1 when made, 0 when no tool applies, -1 on
 * a bad tools_json (err filled). */
static int make_tool_call(reply_data *d, const tract_chat_request *req, tract_provider_error *err)
{
	cJSON *tools, *pick = NULL, *fn, *name, *params, *props, *required, *args = NULL, *it;
	const tract_chat_message *u = last_of_role(req, "user");
	char id[64];
	int rc = -1;

	if (req->tool_choice && strcmp(req->tool_choice, "none") == 0)
		return 0;
	tools = cJSON_Parse(req->tools_json);
	if (!cJSON_IsArray(tools)) {
		set_error(err, TRACT_PROVIDER_ERR_REQUEST, "tools_json is not a JSON array");
		goto done;
	}
	cJSON_ArrayForEach(it, tools)
	{
		fn = cJSON_GetObjectItemCaseSensitive(it, "function");
		name = cJSON_GetObjectItemCaseSensitive(fn, "name");
		if (!cJSON_IsString(name) || !*name->valuestring) {
			set_error(err, TRACT_PROVIDER_ERR_REQUEST,
			          "a tool of tools_json has no function name");
			goto done;
		}
		if (!pick && (!req->tool_choice || strcmp(req->tool_choice, "auto") == 0 ||
		              strcmp(req->tool_choice, "required") == 0 ||
		              strcmp(req->tool_choice, name->valuestring) == 0))
			pick = it;
	}
	if (!pick) {
		rc = 0;
		goto done;
	}
	fn = cJSON_GetObjectItemCaseSensitive(pick, "function");
	name = cJSON_GetObjectItemCaseSensitive(fn, "name");
	params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
	props = cJSON_GetObjectItemCaseSensitive(params, "properties");
	required = cJSON_GetObjectItemCaseSensitive(params, "required");
	args = cJSON_CreateObject();
	if (!args)
		goto oom;
	cJSON_ArrayForEach(it, required)
	{
		const cJSON *schema;
		cJSON *v;
		if (!cJSON_IsString(it))
			continue;
		schema = cJSON_GetObjectItemCaseSensitive(props, it->valuestring);
		v = argument_for(schema, u);
		if (!v || !cJSON_AddItemToObject(args, it->valuestring, v)) {
			cJSON_Delete(v);
			goto oom;
		}
	}
	snprintf(id, sizeof(id), "call_example_%zu", req->n_messages);
	d->call_id = strdup(id);
	d->call_name = strdup(name->valuestring);
	d->call_args = cJSON_PrintUnformatted(args);
	if (!d->call_id || !d->call_name || !d->call_args)
		goto oom;
	d->call.id = d->call_id;
	d->call.name = d->call_name;
	d->call.arguments_json = d->call_args;
	rc = 1;
	goto done;
oom:
	set_error(err, TRACT_PROVIDER_ERR_REQUEST, "out of memory");
	rc = -1;
done:
	cJSON_Delete(args);
	cJSON_Delete(tools);
	return rc;
}

static int64_t approx_tokens(const char *text)
{
	return text ? (int64_t)(strlen(text) + 3) / 4 : 0;
}

/* The OpenAI-shaped response body of the reply. */
static char *raw_reply(const reply_data *d, const tract_chat_reply *r)
{
	cJSON *root = cJSON_CreateObject(), *choices, *choice, *msg, *usage;
	char *out;

	if (!root)
		return NULL;
	cJSON_AddStringToObject(root, "id", "example-reply");
	cJSON_AddStringToObject(root, "object", "chat.completion");
	cJSON_AddStringToObject(root, "model", d->model);
	choices = cJSON_AddArrayToObject(root, "choices");
	choice = cJSON_CreateObject();
	cJSON_AddItemToArray(choices, choice);
	cJSON_AddNumberToObject(choice, "index", 0);
	msg = cJSON_AddObjectToObject(choice, "message");
	cJSON_AddStringToObject(msg, "role", "assistant");
	if (d->text)
		cJSON_AddStringToObject(msg, "content", d->text);
	else
		cJSON_AddNullToObject(msg, "content");
	if (d->call_id) {
		cJSON *calls = cJSON_AddArrayToObject(msg, "tool_calls");
		cJSON *c = cJSON_CreateObject(), *f;
		cJSON_AddItemToArray(calls, c);
		cJSON_AddStringToObject(c, "id", d->call_id);
		cJSON_AddStringToObject(c, "type", "function");
		f = cJSON_AddObjectToObject(c, "function");
		cJSON_AddStringToObject(f, "name", d->call_name);
		cJSON_AddStringToObject(f, "arguments", d->call_args);
	}
	cJSON_AddStringToObject(choice, "finish_reason", d->finish);
	usage = cJSON_AddObjectToObject(root, "usage");
	cJSON_AddNumberToObject(usage, "prompt_tokens", (double)r->usage.prompt_tokens);
	cJSON_AddNumberToObject(usage, "completion_tokens", (double)r->usage.completion_tokens);
	cJSON_AddNumberToObject(usage, "total_tokens", (double)r->usage.total_tokens);
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

static void data_free(reply_data *d)
{
	if (!d)
		return;
	free(d->text);
	free(d->finish);
	free(d->model);
	free(d->raw);
	free(d->call_id);
	free(d->call_name);
	free(d->call_args);
	free(d);
}

static void example_reply_clear(tract_provider_client *client, tract_chat_reply *reply)
{
	(void)client;
	data_free(reply->provider_data);
	memset(reply, 0, sizeof(*reply));
}

static int example_chat(tract_provider_client *client, const tract_chat_request *request,
                        tract_chat_reply *reply, tract_provider_error *err)
{
	reply_data *d;
	const tract_chat_message *last;
	int64_t prompt = 0;
	size_t i;
	int called = 0;

	if (!request || request->version < 1 || request->n_messages == 0 || !request->messages) {
		set_error(err, TRACT_PROVIDER_ERR_REQUEST, "the request holds no messages");
		return TRACT_EINVAL;
	}
	for (i = 0; i < request->n_messages; i++) {
		if (!request->messages[i].role) {
			set_error(err, TRACT_PROVIDER_ERR_REQUEST, "a message has no role");
			return TRACT_EINVAL;
		}
		prompt += 3 + approx_tokens(request->messages[i].content);
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		set_error(err, TRACT_PROVIDER_ERR_REQUEST, "out of memory");
		return TRACT_ENOMEM;
	}
	last = &request->messages[request->n_messages - 1];
	if (request->tools_json && strcmp(last->role, "tool") != 0) {
		called = make_tool_call(d, request, err);
		if (called < 0) {
			data_free(d);
			return TRACT_EINVAL;
		}
	}
	if (!called)
		d->text = answer_text(client, request);
	d->finish = strdup(called ? "tool_calls" : "stop");
	d->model = strdup(request->model ? request->model : client->model);
	if ((!called && !d->text) || !d->finish || !d->model) {
		data_free(d);
		set_error(err, TRACT_PROVIDER_ERR_REQUEST, "out of memory");
		return TRACT_ENOMEM;
	}
	reply->text = d->text;
	if (called) {
		reply->tool_calls = &d->call;
		reply->n_tool_calls = 1;
	}
	reply->finish_reason = d->finish;
	reply->model = d->model;
	reply->usage.prompt_tokens = prompt;
	reply->usage.completion_tokens = approx_tokens(called ? d->call_args : d->text);
	reply->usage.total_tokens = reply->usage.prompt_tokens + reply->usage.completion_tokens;
	d->raw = raw_reply(d, reply);
	reply->raw_json = d->raw;
	reply->provider_data = d;
	return 0;
}

/* The same reply, handed out a word (and a tool call in two pieces) at a
 * time before the whole of it. */
static int example_chat_stream(tract_provider_client *client, const tract_chat_request *request,
                               tract_chat_delta_cb cb, void *payload, tract_chat_reply *reply,
                               tract_provider_error *err)
{
	tract_chat_delta delta;
	int rc = example_chat(client, request, reply, err);

	if (rc < 0)
		return rc;
	if (reply->text) {
		const char *p = reply->text;
		while (*p) {
			size_t n = strcspn(p, " ");
			char piece[256];
			n += p[n] == ' ';
			if (n >= sizeof(piece))
				n = sizeof(piece) - 1;
			memcpy(piece, p, n);
			piece[n] = '\0';
			memset(&delta, 0, sizeof(delta));
			delta.tool_call_index = -1;
			delta.text = piece;
			if (cb(&delta, payload))
				goto cancelled;
			p += n;
		}
	}
	if (reply->n_tool_calls) {
		const tract_tool_call *c = &reply->tool_calls[0];
		size_t half = strlen(c->arguments_json) / 2;
		char first[4096];
		if (half >= sizeof(first))
			half = sizeof(first) - 1;
		memcpy(first, c->arguments_json, half);
		first[half] = '\0';
		memset(&delta, 0, sizeof(delta));
		delta.tool_call_index = 0;
		delta.tool_call_id = c->id;
		delta.tool_name = c->name;
		delta.arguments_fragment = first;
		if (cb(&delta, payload))
			goto cancelled;
		memset(&delta, 0, sizeof(delta));
		delta.tool_call_index = 0;
		delta.arguments_fragment = c->arguments_json + half;
		if (cb(&delta, payload))
			goto cancelled;
	}
	return 0;
cancelled:
	example_reply_clear(client, reply);
	set_error(err, TRACT_PROVIDER_ERR_CANCELLED, "the delta callback stopped the call");
	return TRACT_EABORTED;
}

static const tract_provider example_provider = {
    .version = TRACT_PROVIDER_VERSION,
    .name = "example",
    .wire_format = NULL, /* reads the neutral messages */
    .default_model = "example-1",
    .client_create = example_client_create,
    .client_free = example_client_free,
    .chat = example_chat,
    .reply_clear = example_reply_clear,
    .chat_stream = example_chat_stream,
};

EXPORT const tract_provider *tract_provider_entry(void);
const tract_provider *tract_provider_entry(void)
{
	return &example_provider;
}
