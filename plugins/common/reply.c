/*
 * reply.c - the reply the HTTP providers build, its hand-over to the core,
 * and error reporting (reply.h).
 */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tp_reply_init(tp_reply *r, size_t limit)
{
	memset(r, 0, sizeof(*r));
	r->text.limit = limit;
	r->limit = limit;
	r->usage.prompt_tokens = r->usage.completion_tokens = r->usage.total_tokens = -1;
}

static void call_dispose(tp_call *c)
{
	tp_buf_dispose(&c->id);
	tp_buf_dispose(&c->name);
	tp_buf_dispose(&c->args);
}

void tp_reply_dispose(tp_reply *r)
{
	size_t i;

	tp_buf_dispose(&r->text);
	for (i = 0; i < r->n_calls; i++)
		call_dispose(&r->calls[i]);
	free(r->calls);
	free(r->model);
	free(r->raw);
	tp_reply_init(r, r->limit);
}

int tp_reply_text(tp_reply *r, const char *s, size_t n)
{
	int rc = tp_buf_put(&r->text, s, n);

	if (rc == 0)
		r->has_text = 1;
	return rc;
}

int tp_reply_call(tp_reply *r, long key, size_t *slot, int *added)
{
	size_t i;
	tp_call *c;

	*added = 0;
	for (i = 0; i < r->n_calls; i++) {
		if (r->calls[i].key == key) {
			*slot = i;
			return 0;
		}
	}
	if (r->n_calls == r->cap_calls) {
		size_t cap = r->cap_calls ? 2 * r->cap_calls : 4;
		tp_call *p = realloc(r->calls, cap * sizeof(*p));
		if (!p)
			return TP_BUF_ENOMEM;
		r->calls = p;
		r->cap_calls = cap;
	}
	c = &r->calls[r->n_calls];
	memset(c, 0, sizeof(*c));
	c->key = key;
	c->id.limit = c->name.limit = c->args.limit = r->limit;
	*slot = r->n_calls++;
	*added = 1;
	return 0;
}

int tp_reply_set(char **dst, const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (!p)
		return TP_BUF_ENOMEM;
	memcpy(p, s, n);
	p[n] = '\0';
	free(*dst);
	*dst = p;
	return 0;
}

void tp_reply_usage_total(tp_reply *r)
{
	if (r->usage.total_tokens < 0 && r->usage.prompt_tokens >= 0 &&
	    r->usage.completion_tokens >= 0)
		r->usage.total_tokens = r->usage.prompt_tokens + r->usage.completion_tokens;
}

/* What provider_data points at: the reply's storage and the call table. */
typedef struct {
	tp_reply r;
	tract_tool_call *calls;
} tp_held;

int tp_reply_hand_over(tp_reply *r, tract_chat_reply *out)
{
	tp_held *h;
	size_t i;

	for (i = 0; i < r->n_calls; i++) {
		tp_call *c = &r->calls[i];
		int rc = 0;

		if (c->args.len == 0)
			rc |= tp_buf_puts(&c->args, "{}");
		if (c->id.len == 0) {
			char id[32];
			snprintf(id, sizeof(id), "call_%zu", i);
			rc |= tp_buf_puts(&c->id, id);
		}
		rc |= tp_buf_terminate(&c->name);
		if (rc)
			return TP_BUF_ENOMEM;
	}
	if ((r->has_text && tp_buf_terminate(&r->text) != 0) || !(h = calloc(1, sizeof(*h))))
		return TP_BUF_ENOMEM;
	if (r->n_calls && !(h->calls = calloc(r->n_calls, sizeof(*h->calls)))) {
		free(h);
		return TP_BUF_ENOMEM;
	}
	h->r = *r;
	for (i = 0; i < r->n_calls; i++) {
		h->calls[i].id = r->calls[i].id.ptr;
		h->calls[i].name = r->calls[i].name.ptr;
		h->calls[i].arguments_json = r->calls[i].args.ptr;
	}
	out->text = r->has_text ? r->text.ptr : NULL;
	out->tool_calls = h->calls;
	out->n_tool_calls = r->n_calls;
	out->finish_reason = r->finish_reason;
	out->usage = r->usage;
	out->model = r->model;
	out->raw_json = r->raw;
	out->provider_data = h;
	tp_reply_init(r, r->limit);
	return 0;
}

void tp_reply_release(tract_chat_reply *out)
{
	tp_held *h;

	if (!out)
		return;
	if ((h = out->provider_data) != NULL) {
		tp_reply_dispose(&h->r);
		free(h->calls);
		free(h);
	}
	memset(out, 0, sizeof(*out));
}

void tp_err_set(tract_provider_error *err, tract_provider_error_kind kind, int http_status,
		const char *fmt, ...)
{
	va_list ap;
	char *p;

	if (!err)
		return;
	err->kind = kind;
	err->http_status = http_status;
	err->retry_after = -1;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	for (p = err->message; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

int tp_err_code(tract_provider_error_kind kind)
{
	switch (kind) {
	case TRACT_PROVIDER_ERR_NONE:
		return 0;
	case TRACT_PROVIDER_ERR_AUTH:
		return TRACT_EAUTH;
	case TRACT_PROVIDER_ERR_RATE_LIMIT:
		return TRACT_ERATELIMIT;
	case TRACT_PROVIDER_ERR_TIMEOUT:
		return TRACT_ETIMEOUT;
	case TRACT_PROVIDER_ERR_CANCELLED:
		return TRACT_EABORTED;
	default:
		return TRACT_EPROVIDER;
	}
}

void tp_scrub(char *text, const char *secret)
{
	size_t n;
	char *hit;

	if (!text || !secret || (n = strlen(secret)) < 4)
		return;
	while ((hit = strstr(text, secret)) != NULL) {
		memcpy(hit, "***", 3);
		memmove(hit + 3, hit + n, strlen(hit + n) + 1);
	}
}

const char *tp_finish_reason(const char *name)
{
	static const struct {
		const char *wire, *ours;
	} map[] = {
		{"stop", "stop"},
		{"length", "length"},
		{"tool_calls", "tool_calls"},
		{"content_filter", "content_filter"},
		{"function_call", "tool_calls"},
		{"end_turn", "stop"},
		{"stop_sequence", "stop"},
		{"max_tokens", "length"},
		{"tool_use", "tool_calls"},
		{"refusal", "content_filter"},
	};
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(name, map[i].wire) == 0)
			return map[i].ours;
	return NULL;
}

int tp_emit(tract_chat_delta_cb cb, void *payload, const tract_chat_delta *d,
	    tract_provider_error *err, const char *who)
{
	if (!cb || cb(d, payload) == 0)
		return 0;
	tp_err_set(err, TRACT_PROVIDER_ERR_CANCELLED, 0, "%s: the call was stopped by its callback",
		   who);
	return TRACT_EABORTED;
}

int tp_emit_reply(tract_chat_delta_cb cb, void *payload, tp_reply *r, tract_provider_error *err,
		  const char *who)
{
	tract_chat_delta d;
	size_t i;
	int rc;

	if (r->has_text && r->text.len) {
		memset(&d, 0, sizeof(d));
		d.tool_call_index = -1;
		d.text = r->text.ptr;
		if ((rc = tp_emit(cb, payload, &d, err, who)) != 0)
			return rc;
	}
	for (i = 0; i < r->n_calls; i++) {
		tp_call *c = &r->calls[i];
		memset(&d, 0, sizeof(d));
		d.tool_call_index = (int)i;
		d.tool_call_id = c->id.len ? c->id.ptr : NULL;
		d.tool_name = c->name.len ? c->name.ptr : NULL;
		d.arguments_fragment = c->args.len ? c->args.ptr : "{}";
		if ((rc = tp_emit(cb, payload, &d, err, who)) != 0)
			return rc;
	}
	return 0;
}
