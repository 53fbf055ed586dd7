/*
 * openai_parse.c - reads OpenAI chat completion replies, whole and
 * streamed (openai_parse.h).
 */
#include "openai_parse.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define WHO "openai"

static int bad(tract_provider_error *err, const char *what)
{
	tp_err_set(err, TRACT_PROVIDER_ERR_BAD_RESPONSE, 200, WHO ": bad reply: %s", what);
	return TRACT_EPROVIDER;
}

static int oom(tract_provider_error *err)
{
	tp_err_set(err, TRACT_PROVIDER_ERR_BAD_RESPONSE, 200,
	           WHO ": out of memory reading the reply");
	return TRACT_ENOMEM;
}

static int buf_fail(tract_provider_error *err, int rc)
{
	if (rc == TP_BUF_ELIMIT)
		return bad(err, "a text or tool call is larger than max_response_bytes");
	return oom(err);
}

static int64_t number(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble > 9e15)
		return -1;
	return (int64_t)v->valuedouble;
}

static void usage(tp_reply *r, const cJSON *u)
{
	if (!cJSON_IsObject(u))
		return;
	r->usage.prompt_tokens = number(u, "prompt_tokens");
	r->usage.completion_tokens = number(u, "completion_tokens");
	r->usage.total_tokens = number(u, "total_tokens");
	tp_reply_usage_total(r);
}

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int set_model(tp_reply *r, const cJSON *root, tract_provider_error *err)
{
	const char *m = str(root, "model");

	if (m && tp_reply_set(&r->model, m, strlen(m)) != 0)
		return oom(err);
	return 0;
}

/* content: a string, null, or an array of parts ({"type":"text","text"}) */
static int content(tp_reply *r, const cJSON *c, tract_provider_error *err)
{
	const cJSON *part;
	int rc;

	if (cJSON_IsString(c)) {
		if ((rc = tp_reply_text(r, c->valuestring, strlen(c->valuestring))) != 0)
			return buf_fail(err, rc);
		return 0;
	}
	if (!cJSON_IsArray(c))
		return 0;
	if ((rc = tp_reply_text(r, "", 0)) != 0) /* parts without text: an empty text */
		return buf_fail(err, rc);
	cJSON_ArrayForEach(part, c)
	{
		const char *t = str(part, "text");
		if (t && (rc = tp_reply_text(r, t, strlen(t))) != 0)
			return buf_fail(err, rc);
	}
	return 0;
}

/* Arguments: the string OpenAI sends, or an object some servers send. */
static int arguments(tp_buf *b, const cJSON *a, tract_provider_error *err)
{
	char *text;
	int rc;

	if (cJSON_IsString(a))
		rc = tp_buf_puts(b, a->valuestring);
	else if (cJSON_IsObject(a)) {
		if (!(text = cJSON_PrintUnformatted(a)))
			return oom(err);
		rc = tp_buf_puts(b, text);
		cJSON_free(text);
	} else
		return 0;
	return rc ? buf_fail(err, rc) : 0;
}

static int tool_calls(tp_reply *r, const cJSON *calls, tract_provider_error *err)
{
	const cJSON *tc;
	long i = 0;

	cJSON_ArrayForEach(tc, calls)
	{
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
		const char *id = str(tc, "id"), *name = str(fn, "name");
		size_t slot;
		int added, rc;

		if (!cJSON_IsObject(fn) || !name || !*name)
			return bad(err, "a tool call without a function name");
		if ((rc = tp_reply_call(r, i++, &slot, &added)) != 0)
			return buf_fail(err, rc);
		if ((id && (rc = tp_buf_puts(&r->calls[slot].id, id)) != 0) ||
		    (rc = tp_buf_puts(&r->calls[slot].name, name)) != 0)
			return buf_fail(err, rc);
		if ((rc = arguments(&r->calls[slot].args,
		                    cJSON_GetObjectItemCaseSensitive(fn, "arguments"), err)) != 0)
			return rc;
	}
	return 0;
}

int tp_openai_parse(tp_reply *r, const char *body, size_t len, tract_provider_error *err)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *choices, *choice, *msg, *calls, *c;
	const char *fr;
	int rc;

	if (!root)
		return bad(err, "not JSON");
	if (!cJSON_IsObject(root)) {
		rc = bad(err, "not a JSON object");
		goto done;
	}
	if (cJSON_GetObjectItemCaseSensitive(root, "error") &&
	    !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "error"))) {
		rc = tp_stream_error(body, len, err, WHO);
		goto done;
	}
	choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
	if (!cJSON_IsArray(choices) || !(choice = cJSON_GetArrayItem(choices, 0))) {
		rc = bad(err, "no choices");
		goto done;
	}
	msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
	if (!cJSON_IsObject(msg)) {
		rc = bad(err, "the choice has no message");
		goto done;
	}
	c = cJSON_GetObjectItemCaseSensitive(msg, "content");
	calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
	if (!cJSON_IsString(c) && !cJSON_IsArray(c) &&
	    cJSON_IsString(cJSON_GetObjectItemCaseSensitive(msg, "refusal")))
		c = cJSON_GetObjectItemCaseSensitive(msg, "refusal");
	if (!cJSON_IsString(c) && !cJSON_IsArray(c) &&
	    (!cJSON_IsArray(calls) || cJSON_GetArraySize(calls) == 0)) {
		rc = bad(err, "the message has neither content nor tool calls");
		goto done;
	}
	if ((rc = content(r, c, err)) != 0)
		goto done;
	if (cJSON_IsArray(calls) && (rc = tool_calls(r, calls, err)) != 0)
		goto done;
	fr = str(choice, "finish_reason");
	r->finish_reason = tp_finish_reason(fr);
	usage(r, cJSON_GetObjectItemCaseSensitive(root, "usage"));
	if ((rc = set_model(r, root, err)) != 0)
		goto done;
	if (tp_reply_set(&r->raw, body, len) != 0)
		rc = oom(err);
done:
	cJSON_Delete(root);
	return rc;
}

/* ---- streaming ---- */

static int stream_calls(tp_openai_stream *s, const cJSON *calls)
{
	tp_reply *r = &s->reply;
	const cJSON *tc;
	long pos = 0;

	cJSON_ArrayForEach(tc, calls)
	{
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
		const cJSON *ix = cJSON_GetObjectItemCaseSensitive(tc, "index");
		const char *id = str(tc, "id"), *name = str(fn, "name");
		const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
		tract_chat_delta d;
		size_t slot, before;
		long key = pos++;
		int added, rc;
		tp_call *c;

		if (cJSON_IsNumber(ix)) {
			if (!(ix->valuedouble >= 0 && ix->valuedouble < 1e6))
				return bad(s->err, "a tool call index out of range");
			key = (long)ix->valuedouble;
		}
		if ((rc = tp_reply_call(r, key, &slot, &added)) != 0)
			return buf_fail(s->err, rc);
		c = &r->calls[slot];
		memset(&d, 0, sizeof(d));
		d.tool_call_index = (int)slot;
		if (id && *id && c->id.len == 0) {
			if ((rc = tp_buf_puts(&c->id, id)) != 0)
				return buf_fail(s->err, rc);
			d.tool_call_id = c->id.ptr;
		}
		if (name && *name && c->name.len == 0) {
			if ((rc = tp_buf_puts(&c->name, name)) != 0)
				return buf_fail(s->err, rc);
			d.tool_name = c->name.ptr;
		}
		before = c->args.len;
		if ((rc = arguments(&c->args, args, s->err)) != 0)
			return rc;
		if (c->args.len > before)
			d.arguments_fragment = c->args.ptr + before;
		if (added && !d.tool_name)
			return bad(s->err, "a streamed tool call starts without a function name");
		if ((d.tool_call_id || d.tool_name || d.arguments_fragment) &&
		    (rc = tp_emit(s->cb, s->payload, &d, s->err, WHO)) != 0)
			return rc;
	}
	return 0;
}

static int chunk(tp_openai_stream *s, const cJSON *root, const char *data, size_t len)
{
	tp_reply *r = &s->reply;
	const cJSON *choices, *choice, *delta, *c, *e;
	const char *fr;
	int rc;

	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (e && !cJSON_IsNull(e))
		return tp_stream_error(data, len, s->err, WHO);
	choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
	if (choices && !cJSON_IsArray(choices))
		return bad(s->err, "a chunk's choices is not an array");
	if ((choice = cJSON_GetArrayItem(choices, 0)) != NULL) {
		if (!cJSON_IsObject(choice))
			return bad(s->err, "a chunk's choice is not an object");
		s->choices = 1;
		delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
		c = cJSON_GetObjectItemCaseSensitive(delta, "content");
		if (cJSON_IsString(c)) {
			size_t before = r->text.len;
			if ((rc = tp_reply_text(r, c->valuestring, strlen(c->valuestring))) != 0)
				return buf_fail(s->err, rc);
			if (r->text.len > before) {
				tract_chat_delta d;
				memset(&d, 0, sizeof(d));
				d.tool_call_index = -1;
				d.text = r->text.ptr + before;
				if ((rc = tp_emit(s->cb, s->payload, &d, s->err, WHO)) != 0)
					return rc;
			}
		}
		c = cJSON_GetObjectItemCaseSensitive(delta, "tool_calls");
		if (cJSON_IsArray(c) && (rc = stream_calls(s, c)) != 0)
			return rc;
		if ((fr = str(choice, "finish_reason")) != NULL) {
			s->finished = 1;
			r->finish_reason = tp_finish_reason(fr);
		}
	}
	usage(r, cJSON_GetObjectItemCaseSensitive(root, "usage"));
	if ((rc = set_model(r, root, s->err)) != 0)
		return rc;
	tp_buf_clear(&s->last);
	if ((rc = tp_buf_put(&s->last, data, len)) != 0)
		return buf_fail(s->err, rc);
	return 0;
}

static int on_event(void *payload, const char *event, const char *data, size_t len)
{
	tp_openai_stream *s = payload;
	cJSON *root;
	int rc;

	(void)event;
	if (s->done)
		return 0; /* nothing counts after [DONE] */
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		s->done = 1;
		return 0;
	}
	if (!(root = cJSON_ParseWithLength(data, len)))
		return bad(s->err, "an event of the stream is not JSON");
	if (!cJSON_IsObject(root))
		rc = bad(s->err, "an event of the stream is not a JSON object");
	else
		rc = chunk(s, root, data, len);
	cJSON_Delete(root);
	return rc;
}

void tp_openai_stream_init(tp_openai_stream *s, size_t limit, tract_chat_delta_cb cb,
			   void *payload, tract_provider_error *err)
{
	memset(s, 0, sizeof(*s));
	tp_reply_init(&s->reply, limit);
	tp_sse_init(&s->sse, limit, on_event, s);
	s->last.limit = limit;
	s->cb = cb;
	s->payload = payload;
	s->err = err;
}

int tp_openai_stream_feed(tp_openai_stream *s, const char *bytes, size_t n)
{
	int rc;

	if (s->rc)
		return s->rc;
	rc = tp_sse_feed(&s->sse, bytes, n);
	if (rc == TP_SSE_ENOMEM)
		rc = oom(s->err);
	else if (rc == TP_SSE_ELIMIT)
		rc = bad(s->err, "an event is larger than max_response_bytes");
	return s->rc = rc;
}

int tp_openai_stream_end(tp_openai_stream *s)
{
	size_t i;

	if (s->rc)
		return s->rc;
	if (!s->done && !s->finished)
		return s->rc = bad(s->err, "the stream ended before the reply was complete");
	if (!s->choices)
		return s->rc = bad(s->err, "the stream held no choice");
	if (!s->reply.has_text && s->reply.n_calls == 0 && tp_reply_text(&s->reply, "", 0) != 0)
		return s->rc = oom(s->err);
	if (s->last.len && tp_reply_set(&s->reply.raw, s->last.ptr, s->last.len) != 0)
		return s->rc = oom(s->err);
	/* a call that got no arguments has "{}", in the pieces too */
	for (i = 0; i < s->reply.n_calls; i++) {
		tp_call *c = &s->reply.calls[i];
		tract_chat_delta d;
		int rc;

		if (c->args.len)
			continue;
		if ((rc = tp_buf_puts(&c->args, "{}")) != 0)
			return s->rc = buf_fail(s->err, rc);
		memset(&d, 0, sizeof(d));
		d.tool_call_index = (int)i;
		d.arguments_fragment = c->args.ptr;
		if ((rc = tp_emit(s->cb, s->payload, &d, s->err, WHO)) != 0)
			return s->rc = rc;
	}
	return 0;
}

void tp_openai_stream_dispose(tp_openai_stream *s)
{
	tp_reply_dispose(&s->reply);
	tp_sse_dispose(&s->sse);
	tp_buf_dispose(&s->last);
}

TP_PARSER_DEFINE(openai);
