/*
 * anthropic_parse.c - reads Anthropic Messages API replies, whole and
 * streamed (anthropic_parse.h).
 */
#include "anthropic_parse.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define WHO "anthropic"

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

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t number(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble > 9e15)
		return -1;
	return (int64_t)v->valuedouble;
}

static int64_t cache_tokens(const cJSON *u)
{
	int64_t a = number(u, "cache_creation_input_tokens"),
	        b = number(u, "cache_read_input_tokens");

	return (a > 0 ? a : 0) + (b > 0 ? b : 0);
}

/* Usage of a message or of a message_delta: only what it says replaces. */
static void usage(tp_reply *r, const cJSON *u, int64_t cache)
{
	int64_t in, out;

	if (!cJSON_IsObject(u))
		return;
	if ((in = number(u, "input_tokens")) >= 0)
		r->usage.prompt_tokens = in + cache;
	if ((out = number(u, "output_tokens")) >= 0)
		r->usage.completion_tokens = out;
	r->usage.total_tokens = -1;
	tp_reply_usage_total(r);
}

static int set_model(tp_reply *r, const cJSON *msg, tract_provider_error *err)
{
	const char *m = str(msg, "model");

	if (m && tp_reply_set(&r->model, m, strlen(m)) != 0)
		return oom(err);
	return 0;
}

static int print_input(tp_buf *b, const cJSON *input, tract_provider_error *err)
{
	char *text;
	int rc;

	if (!input)
		return 0;
	if (!(text = cJSON_PrintUnformatted(input)))
		return oom(err);
	rc = tp_buf_puts(b, text);
	cJSON_free(text);
	return rc ? buf_fail(err, rc) : 0;
}

int tp_anthropic_parse(tp_reply *r, const char *body, size_t len, tract_provider_error *err)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *content, *block;
	const char *type;
	long i = 0;
	int rc = 0;

	if (!root)
		return bad(err, "not JSON");
	if (!cJSON_IsObject(root)) {
		rc = bad(err, "not a JSON object");
		goto done;
	}
	type = str(root, "type");
	if (type && strcmp(type, "error") == 0) {
		rc = tp_stream_error(body, len, err, WHO);
		goto done;
	}
	content = cJSON_GetObjectItemCaseSensitive(root, "content");
	if (!cJSON_IsArray(content)) {
		rc = bad(err, "no content");
		goto done;
	}
	cJSON_ArrayForEach(block, content)
	{
		const char *bt = str(block, "type");

		if (!bt)
			continue;
		if (strcmp(bt, "text") == 0) {
			const char *t = str(block, "text");
			if (t && (rc = tp_reply_text(r, t, strlen(t))) != 0) {
				rc = buf_fail(err, rc);
				goto done;
			}
		} else if (strcmp(bt, "tool_use") == 0) {
			const char *id = str(block, "id"), *name = str(block, "name");
			size_t slot;
			int added;

			if (!name || !*name) {
				rc = bad(err, "a tool_use block without a name");
				goto done;
			}
			if ((rc = tp_reply_call(r, i++, &slot, &added)) != 0 ||
			    (id && (rc = tp_buf_puts(&r->calls[slot].id, id)) != 0) ||
			    (rc = tp_buf_puts(&r->calls[slot].name, name)) != 0) {
				rc = buf_fail(err, rc);
				goto done;
			}
			if ((rc = print_input(&r->calls[slot].args,
			                      cJSON_GetObjectItemCaseSensitive(block, "input"),
			                      err)) != 0)
				goto done;
		}
		/* thinking, redacted_thinking, server tool blocks: not ours */
	}
	if (!r->has_text && r->n_calls == 0 && (rc = tp_reply_text(r, "", 0)) != 0) {
		rc = buf_fail(err, rc); /* an empty reply is an empty text */
		goto done;
	}
	r->finish_reason = tp_finish_reason(str(root, "stop_reason"));
	{
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
		usage(r, u, cache_tokens(u));
	}
	if ((rc = set_model(r, root, err)) != 0)
		goto done;
	if (tp_reply_set(&r->raw, body, len) != 0)
		rc = oom(err);
done:
	cJSON_Delete(root);
	return rc;
}

/* ---- streaming ---- */

static long block_index(const cJSON *root)
{
	const cJSON *ix = cJSON_GetObjectItemCaseSensitive(root, "index");

	if (!cJSON_IsNumber(ix) || !(ix->valuedouble >= 0 && ix->valuedouble < 1e6))
		return -1;
	return (long)ix->valuedouble;
}

static int emit_text(tp_anthropic_stream *s, const char *t)
{
	tp_reply *r = &s->reply;
	size_t before = r->text.len;
	tract_chat_delta d;
	int rc;

	if ((rc = tp_reply_text(r, t, strlen(t))) != 0)
		return buf_fail(s->err, rc);
	if (r->text.len == before)
		return 0;
	memset(&d, 0, sizeof(d));
	d.tool_call_index = -1;
	d.text = r->text.ptr + before;
	return tp_emit(s->cb, s->payload, &d, s->err, WHO);
}

static int emit_args(tp_anthropic_stream *s, const char *frag)
{
	tp_call *c = &s->reply.calls[s->open_call];
	size_t before = c->args.len;
	tract_chat_delta d;
	int rc;

	if (!*frag)
		return 0;
	if ((rc = tp_buf_puts(&c->args, frag)) != 0)
		return buf_fail(s->err, rc);
	memset(&d, 0, sizeof(d));
	d.tool_call_index = s->open_call;
	d.arguments_fragment = c->args.ptr + before;
	return tp_emit(s->cb, s->payload, &d, s->err, WHO);
}

static int block_start(tp_anthropic_stream *s, const cJSON *root)
{
	const cJSON *cb = cJSON_GetObjectItemCaseSensitive(root, "content_block");
	const char *type = str(cb, "type");
	long ix = block_index(root);
	tp_reply *r = &s->reply;
	tract_chat_delta d;
	size_t slot;
	int added, rc;

	if (ix < 0 || !cJSON_IsObject(cb) || !type)
		return bad(s->err, "content_block_start without an index or a block");
	if (s->open_block >= 0)
		return bad(s->err, "content_block_start inside another block");
	s->open_block = ix;
	s->open_call = -1;
	if (strcmp(type, "text") == 0) {
		const char *t = str(cb, "text");
		if (!r->has_text && (rc = tp_reply_text(r, "", 0)) != 0)
			return buf_fail(s->err, rc);
		return t ? emit_text(s, t) : 0;
	}
	if (strcmp(type, "tool_use") != 0)
		return 0;
	{
		const char *id = str(cb, "id"), *name = str(cb, "name");
		const cJSON *input = cJSON_GetObjectItemCaseSensitive(cb, "input");
		tp_call *c;

		if (!name || !*name)
			return bad(s->err, "a tool_use block without a name");
		if ((rc = tp_reply_call(r, ix, &slot, &added)) != 0)
			return buf_fail(s->err, rc);
		if (!added)
			return bad(s->err, "a content block index used twice");
		c = &r->calls[slot];
		if ((id && (rc = tp_buf_puts(&c->id, id)) != 0) ||
		    (rc = tp_buf_puts(&c->name, name)) != 0)
			return buf_fail(s->err, rc);
		s->open_call = (int)slot;
		free(s->start_input);
		s->start_input = NULL;
		/* the input arrives as input_json_delta fragments; a start that
		 * already holds a non-empty input is kept for a block without any */
		if (cJSON_IsObject(input) && input->child &&
		    !(s->start_input = cJSON_PrintUnformatted(input)))
			return oom(s->err);
		memset(&d, 0, sizeof(d));
		d.tool_call_index = (int)slot;
		d.tool_call_id = c->id.len ? c->id.ptr : NULL;
		d.tool_name = c->name.ptr;
		return tp_emit(s->cb, s->payload, &d, s->err, WHO);
	}
}

static int block_delta(tp_anthropic_stream *s, const cJSON *root)
{
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(root, "delta");
	const char *type = str(delta, "type");
	long ix = block_index(root);

	if (ix < 0 || ix != s->open_block || !type)
		return bad(s->err, "content_block_delta outside its block");
	if (strcmp(type, "text_delta") == 0) {
		const char *t = str(delta, "text");
		return t ? emit_text(s, t) : bad(s->err, "text_delta without text");
	}
	if (strcmp(type, "input_json_delta") == 0) {
		const char *p = str(delta, "partial_json");
		if (s->open_call < 0 || !p)
			return bad(s->err, "input_json_delta outside a tool_use block");
		return emit_args(s, p);
	}
	return 0; /* thinking_delta, signature_delta, citations_delta... */
}

static int block_stop(tp_anthropic_stream *s, const cJSON *root)
{
	long ix = block_index(root);
	int rc = 0;

	if (ix < 0 || ix != s->open_block)
		return bad(s->err, "content_block_stop outside its block");
	if (s->open_call >= 0) {
		tp_call *c = &s->reply.calls[s->open_call];
		if (c->args.len == 0)
			rc = emit_args(s, s->start_input ? s->start_input : "{}");
		c->done = 1;
	}
	free(s->start_input);
	s->start_input = NULL;
	s->open_block = -1;
	s->open_call = -1;
	return rc;
}

static int event(tp_anthropic_stream *s, const char *name, const cJSON *root, const char *data,
		 size_t len)
{
	const char *type = str(root, "type");
	tp_reply *r = &s->reply;

	/* the data's "type" names the event; the SSE event name is the same */
	if (!type)
		type = name;
	if (strcmp(type, "error") == 0)
		return tp_stream_error(data, len, s->err, WHO);
	if (strcmp(type, "ping") == 0)
		return 0;
	if (strcmp(type, "message_start") == 0) {
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(msg, "usage");
		if (s->started || !cJSON_IsObject(msg))
			return bad(s->err, "a second or empty message_start");
		s->started = 1;
		s->cache_tokens = cache_tokens(u);
		usage(r, u, s->cache_tokens);
		return set_model(r, msg, s->err);
	}
	if (!s->started)
		return bad(s->err, "an event before message_start");
	if (s->stopped)
		return bad(s->err, "an event after message_stop");
	if (strcmp(type, "content_block_start") == 0)
		return block_start(s, root);
	if (strcmp(type, "content_block_delta") == 0)
		return block_delta(s, root);
	if (strcmp(type, "content_block_stop") == 0)
		return block_stop(s, root);
	if (strcmp(type, "message_delta") == 0) {
		const cJSON *delta = cJSON_GetObjectItemCaseSensitive(root, "delta");
		const char *sr = str(delta, "stop_reason");
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
		int64_t cache = cache_tokens(u);
		if (sr)
			r->finish_reason = tp_finish_reason(sr);
		usage(r, u, cache ? cache : s->cache_tokens);
		if (tp_reply_set(&r->raw, data, len) != 0)
			return oom(s->err);
		return 0;
	}
	if (strcmp(type, "message_stop") == 0) {
		if (s->open_block >= 0)
			return bad(s->err, "message_stop inside a content block");
		s->stopped = 1;
		return 0;
	}
	return 0; /* events added later are ignored, as the API asks */
}

static int on_event(void *payload, const char *name, const char *data, size_t len)
{
	tp_anthropic_stream *s = payload;
	cJSON *root;
	int rc;

	if (!(root = cJSON_ParseWithLength(data, len)))
		return bad(s->err, "an event of the stream is not JSON");
	if (!cJSON_IsObject(root))
		rc = bad(s->err, "an event of the stream is not a JSON object");
	else
		rc = event(s, name, root, data, len);
	cJSON_Delete(root);
	return rc;
}

void tp_anthropic_stream_init(tp_anthropic_stream *s, size_t limit, tract_chat_delta_cb cb,
			      void *payload, tract_provider_error *err)
{
	memset(s, 0, sizeof(*s));
	tp_reply_init(&s->reply, limit);
	tp_sse_init(&s->sse, limit, on_event, s);
	s->open_block = -1;
	s->open_call = -1;
	s->cb = cb;
	s->payload = payload;
	s->err = err;
}

int tp_anthropic_stream_feed(tp_anthropic_stream *s, const char *bytes, size_t n)
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

int tp_anthropic_stream_end(tp_anthropic_stream *s)
{
	if (s->rc)
		return s->rc;
	if (!s->stopped)
		return s->rc = bad(s->err, "the stream ended before message_stop");
	if (!s->reply.has_text && s->reply.n_calls == 0 && tp_reply_text(&s->reply, "", 0) != 0)
		return s->rc = oom(s->err);
	return 0;
}

void tp_anthropic_stream_dispose(tp_anthropic_stream *s)
{
	tp_reply_dispose(&s->reply);
	tp_sse_dispose(&s->sse);
	free(s->start_input);
	s->start_input = NULL;
}

TP_PARSER_DEFINE(anthropic);
