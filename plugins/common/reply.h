/*
 * reply.h - what both HTTP providers build a reply in, and how they report
 * a failure. A tp_reply collects text, tool calls (by the wire's index of
 * each call, in the order they first appear), finish reason, usage, model
 * and raw JSON, whether the reply came whole or in streamed pieces; then
 * tp_reply_hand_over() moves it into the tract_chat_reply the core reads,
 * and tp_reply_release() (the plugins' reply_clear) frees it.
 */
#ifndef TRACT_PLUGIN_COMMON_REPLY_H
#define TRACT_PLUGIN_COMMON_REPLY_H

#include <stddef.h>

#include "buf.h"
#include "tract/sys/provider.h"

typedef struct {
	long key;         /* the wire's index of the call */
	tp_buf id, name, args;
	int done;         /* the call's arguments are complete */
} tp_call;

typedef struct {
	tp_buf text;
	int has_text;               /* text was given (maybe empty) */
	tp_call *calls;
	size_t n_calls, cap_calls;
	const char *finish_reason;  /* static, OpenAI's names; NULL = unknown */
	tract_chat_usage usage;     /* -1 = not said */
	char *model;
	char *raw;
	size_t limit;               /* bound of each text/arguments buffer (0 = none) */
} tp_reply;

void tp_reply_init(tp_reply *r, size_t limit);
void tp_reply_dispose(tp_reply *r);
/* Append text (0, TP_BUF_ENOMEM or TP_BUF_ELIMIT). */
int tp_reply_text(tp_reply *r, const char *s, size_t n);
/* The call with wire index key, added (empty) when new; *slot gets its
 * position in the reply. *added is set when it was new. 0 or TP_BUF_ENOMEM. */
int tp_reply_call(tp_reply *r, long key, size_t *slot, int *added);
/* Replace a string member (model, raw): 0 or TP_BUF_ENOMEM. */
int tp_reply_set(char **dst, const char *s, size_t n);
/* Total = prompt + completion when the server gave both but no total. */
void tp_reply_usage_total(tp_reply *r);
/* Move r into out (r is left empty): 0 or TP_BUF_ENOMEM (r untouched). A
 * call without arguments gets "{}"; a call without an id gets "call_N". */
int tp_reply_hand_over(tp_reply *r, tract_chat_reply *out);
/* Free what tp_reply_hand_over put in out, and zero it. */
void tp_reply_release(tract_chat_reply *out);

/* ---- errors ---- */

/* Fill err: kind, HTTP status, and a one-line message (control characters
 * become spaces, cut to fit). retry_after is set to -1. */
__attribute__((format(printf, 4, 5))) void tp_err_set(tract_provider_error *err,
						       tract_provider_error_kind kind,
						       int http_status, const char *fmt, ...);
/* The TRACT_E* code a failure of this kind returns. */
int tp_err_code(tract_provider_error_kind kind);
/* Replace every occurrence of secret (when at least 4 bytes long) in
 * text, in place, by "***" (text only shrinks). */
void tp_scrub(char *text, const char *secret);
/* OpenAI's finish reason name for an Anthropic stop_reason, or for
 * another server's name of the same thing; NULL when unknown. */
const char *tp_finish_reason(const char *name);


/* ---- streaming ---- */

/* Hand a delta to the caller's callback: 0, or TRACT_EABORTED with err
 * (CANCELLED) when the callback asked to stop. A NULL cb takes nothing. */
int tp_emit(tract_chat_delta_cb cb, void *payload, const tract_chat_delta *d,
	    tract_provider_error *err, const char *who);
/* The whole of a reply as deltas (a server that answered a streamed call
 * with one JSON body): the text, then each call in one piece. */
int tp_emit_reply(tract_chat_delta_cb cb, void *payload, tp_reply *r, tract_provider_error *err,
		  const char *who);
/* An error the server sent inside a 200 stream ({"error": {...}}, or
 * Anthropic's "error" event): err filled, kind by the error's type
 * (overloaded/server/api → SERVER, rate limit → RATE_LIMIT, authentication
 * / permission → AUTH, invalid request → REQUEST, otherwise SERVER).
 * Returns the TRACT_E* code. */
int tp_stream_error(const char *data, size_t len, tract_provider_error *err, const char *who);
/* A wire format's reply parsers as one table (each *_parse.c exports one):
 * what the client calls and what the fuzz targets drive. */
typedef struct {
	/* A whole reply body. */
	int (*parse)(tp_reply *r, const char *body, size_t len, tract_provider_error *err);
	/* A streamed reply: state of stream_size bytes. */
	size_t stream_size;
	void (*stream_init)(void *s, size_t limit, tract_chat_delta_cb cb, void *payload,
			    tract_provider_error *err);
	int (*stream_feed)(void *s, const char *bytes, size_t n);
	int (*stream_end)(void *s);
	tp_reply *(*stream_reply)(void *s);
	void (*stream_dispose)(void *s);
} tp_parser;

/* Define tp_<P>_parser in <P>_parse.c from its functions tp_<P>_parse,
 * tp_<P>_stream_init/feed/end/dispose and its state type tp_<P>_stream
 * (which holds the reply as member "reply"). */
#define TP_PARSER_DEFINE(P)                                                                        \
	static void P##_s_init(void *s, size_t limit, tract_chat_delta_cb cb, void *payload,     \
			       tract_provider_error *err)                                          \
	{                                                                                          \
		tp_##P##_stream_init(s, limit, cb, payload, err);                                  \
	}                                                                                          \
	static int P##_s_feed(void *s, const char *bytes, size_t n)                               \
	{                                                                                          \
		return tp_##P##_stream_feed(s, bytes, n);                                          \
	}                                                                                          \
	static int P##_s_end(void *s)                                                              \
	{                                                                                          \
		return tp_##P##_stream_end(s);                                                     \
	}                                                                                          \
	static tp_reply *P##_s_reply(void *s)                                                      \
	{                                                                                          \
		return &((tp_##P##_stream *)s)->reply;                                             \
	}                                                                                          \
	static void P##_s_dispose(void *s)                                                         \
	{                                                                                          \
		tp_##P##_stream_dispose(s);                                                        \
	}                                                                                          \
	const tp_parser tp_##P##_parser = {                                                        \
		.parse = tp_##P##_parse,                                                           \
		.stream_size = sizeof(tp_##P##_stream),                                            \
		.stream_init = P##_s_init,                                                         \
		.stream_feed = P##_s_feed,                                                         \
		.stream_end = P##_s_end,                                                           \
		.stream_reply = P##_s_reply,                                                       \
		.stream_dispose = P##_s_dispose,                                                   \
	}

/* A usage number of a JSON reply: -1 unless a finite number >= 0. */
#define TP_NUM_ABSENT (-1)

#endif
