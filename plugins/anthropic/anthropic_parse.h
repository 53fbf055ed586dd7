/*
 * anthropic_parse.h - the Anthropic Messages API's replies: a whole
 * message, and a streamed one (message_start, content_block_start /
 * _delta / _stop, message_delta, message_stop, ping and error events over
 * server-sent events). Pure functions over bytes (no I/O), so the fuzz
 * targets call them directly.
 */
#ifndef TRACT_ANTHROPIC_PARSE_H
#define TRACT_ANTHROPIC_PARSE_H

#include <stddef.h>

#include "reply.h"
#include "sse.h"

/* Parse a message body into r (initialised by the caller): the text
 * blocks joined, tool_use blocks as tool calls (input printed as JSON),
 * stop_reason mapped to OpenAI's names (end_turn and stop_sequence: stop,
 * max_tokens: length, tool_use: tool_calls, refusal: content_filter),
 * usage (prompt = input + cache creation + cache read tokens), model; raw
 * is the body. 0, or a negative TRACT_E* code with err filled
 * (BAD_RESPONSE: not JSON, no content array, a tool_use block without a
 * name; a {"type": "error"} body is classified as the server's error). */
int tp_anthropic_parse(tp_reply *r, const char *body, size_t len, tract_provider_error *err);

/* A streamed reply being read. */
typedef struct {
	tp_reply reply;
	tp_sse_parser sse;
	int started;     /* message_start seen */
	int stopped;     /* message_stop seen */
	long open_block; /* the content block being streamed, -1 = none */
	int open_call;   /* its slot when it is a tool_use block, -1 = text or other */
	char *start_input; /* the tool_use block's input of content_block_start */
	int64_t cache_tokens; /* cache creation + read input tokens of message_start */
	tract_chat_delta_cb cb;
	void *payload;
	tract_provider_error *err;
	int rc;
} tp_anthropic_stream;

void tp_anthropic_stream_init(tp_anthropic_stream *s, size_t limit, tract_chat_delta_cb cb,
			      void *payload, tract_provider_error *err);
/* Bytes of the stream as they arrive: 0, or a negative TRACT_E* code with
 * err filled (then stop feeding). */
int tp_anthropic_stream_feed(tp_anthropic_stream *s, const char *bytes, size_t n);
/* The stream has ended: 0 when message_stop came; BAD_RESPONSE otherwise. */
int tp_anthropic_stream_end(tp_anthropic_stream *s);
void tp_anthropic_stream_dispose(tp_anthropic_stream *s);

/* The functions above as a table (the client's and the fuzz targets'). */
extern const tp_parser tp_anthropic_parser;

#endif
