/*
 * openai_parse.h - the OpenAI wire format's replies: a whole chat
 * completion body, and a streamed one (chat.completion.chunk events over
 * server-sent events, ending with [DONE]). Pure functions over bytes (no
 * I/O), so the fuzz targets call them directly.
 */
#ifndef TRACT_OPENAI_PARSE_H
#define TRACT_OPENAI_PARSE_H

#include <stddef.h>

#include "reply.h"
#include "sse.h"

/* Parse a chat.completion body into r (initialised by the caller): the
 * first choice's text (a string, or an array of text parts), tool calls,
 * finish reason, usage, model; raw is the body. 0, or a negative TRACT_E*
 * code with err filled (BAD_RESPONSE: not JSON, no choices, no message, a
 * message with neither content nor tool calls, a tool call without a name;
 * an {"error": ...} body is classified as the server's error). */
int tp_openai_parse(tp_reply *r, const char *body, size_t len, tract_provider_error *err);

/* A streamed reply being read. */
typedef struct {
	tp_reply reply;
	tp_sse_parser sse;
	int done;          /* data: [DONE] seen */
	int finished;      /* a finish_reason seen */
	int choices;       /* a chunk with a choice seen */
	tp_buf last;       /* the last chunk's JSON: the reply's raw_json */
	tract_chat_delta_cb cb;
	void *payload;
	tract_provider_error *err;
	int rc;            /* the first failure (err filled) */
} tp_openai_stream;

void tp_openai_stream_init(tp_openai_stream *s, size_t limit, tract_chat_delta_cb cb,
			   void *payload, tract_provider_error *err);
/* Bytes of the stream as they arrive: 0, or a negative TRACT_E* code with
 * err filled (then stop feeding). */
int tp_openai_stream_feed(tp_openai_stream *s, const char *bytes, size_t n);
/* The stream has ended: 0 when the reply is complete ([DONE], or a finish
 * reason from a server that sends no [DONE]; a choice that never said
 * anything is an empty text); BAD_RESPONSE otherwise (no choice at all). */
int tp_openai_stream_end(tp_openai_stream *s);
void tp_openai_stream_dispose(tp_openai_stream *s);

/* The functions above as a table (the client's and the fuzz targets'). */
extern const tp_parser tp_openai_parser;

#endif
