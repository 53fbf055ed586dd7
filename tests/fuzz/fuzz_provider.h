/*
 * fuzz_provider.h - what the provider parsers' fuzz targets share (they
 * link the plugins' parsers and plugins/common, not libtract): a failed
 * invariant aborts with a message, inputs are cut into pieces by a seed,
 * and a delta collector checks that the streamed pieces add up to the
 * reply the stream ends with.
 */
#ifndef TRACT_FUZZ_PROVIDER_H
#define TRACT_FUZZ_PROVIDER_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((format(printf, 1, 2), noreturn)) static inline void fp_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz: invariant broken: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* The next piece's length (1..32) from a xorshift state; seed 0 = all. */
static inline size_t fp_piece(uint32_t *state, size_t left)
{
	size_t n;

	if (*state == 0)
		return left;
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	n = 1 + *state % 32;
	return n < left ? n : left;
}

#define FP_CALLS 64

/* The pieces a stream handed out. */
typedef struct {
	tp_buf text;
	tp_buf args[FP_CALLS];
	int ids[FP_CALLS], names[FP_CALLS];
	int max_index;
	int deltas;
} fp_pieces;

static inline int fp_on_delta(const tract_chat_delta *d, void *payload)
{
	fp_pieces *p = payload;

	p->deltas++;
	if (d->text && tp_buf_puts(&p->text, d->text) != 0)
		abort();
	if (d->tool_call_index < -1)
		fp_fail("delta index %d", d->tool_call_index);
	if (d->tool_call_index >= 0) {
		int i = d->tool_call_index;
		if (i > p->max_index + 1)
			fp_fail("delta index %d skips past %d", i, p->max_index);
		if (i > p->max_index)
			p->max_index = i;
		if (i >= FP_CALLS)
			return 0;
		if (d->tool_call_id)
			p->ids[i]++;
		if (d->tool_name)
			p->names[i]++;
		if (d->arguments_fragment && tp_buf_puts(&p->args[i], d->arguments_fragment) != 0)
			abort();
	} else if (d->tool_call_id || d->tool_name || d->arguments_fragment) {
		fp_fail("a tool-call piece without an index");
	}
	return 0;
}

static inline void fp_pieces_init(fp_pieces *p)
{
	memset(p, 0, sizeof(*p));
	p->max_index = -1;
}

static inline void fp_pieces_dispose(fp_pieces *p)
{
	int i;

	tp_buf_dispose(&p->text);
	for (i = 0; i < FP_CALLS; i++)
		tp_buf_dispose(&p->args[i]);
}

/* A reply handed over: well formed, and (streamed) what the pieces say. */
static inline void fp_check_reply(const tract_chat_reply *r, const fp_pieces *p)
{
	size_t i;

	if (!r->text && r->n_tool_calls == 0)
		fp_fail("a reply with neither text nor tool calls");
	if (r->finish_reason && strcmp(r->finish_reason, "stop") &&
	    strcmp(r->finish_reason, "length") && strcmp(r->finish_reason, "tool_calls") &&
	    strcmp(r->finish_reason, "content_filter"))
		fp_fail("finish reason '%s'", r->finish_reason);
	if (r->usage.prompt_tokens < -1 || r->usage.completion_tokens < -1 ||
	    r->usage.total_tokens < -1)
		fp_fail("usage below -1");
	if (r->usage.prompt_tokens >= 0 && r->usage.completion_tokens >= 0 &&
	    r->usage.total_tokens < 0)
		fp_fail("usage without the total of prompt and completion");
	for (i = 0; i < r->n_tool_calls; i++) {
		const tract_tool_call *c = &r->tool_calls[i];
		if (!c->id || !*c->id || !c->name || !*c->name || !c->arguments_json ||
		    !*c->arguments_json)
			fp_fail("call %zu incomplete", i);
	}
	if (!p)
		return;
	if (strcmp(r->text ? r->text : "", p->text.ptr ? p->text.ptr : "") != 0)
		fp_fail("the text pieces do not add up to the reply's text");
	if ((size_t)(p->max_index + 1) != r->n_tool_calls)
		fp_fail("%d call indexes in the pieces, %zu calls", p->max_index + 1,
		        r->n_tool_calls);
	for (i = 0; i < r->n_tool_calls && i < FP_CALLS; i++) {
		if (strcmp(r->tool_calls[i].arguments_json, p->args[i].ptr ? p->args[i].ptr : "") !=
		    0)
			fp_fail("call %zu: the argument pieces do not add up", i);
		if (p->names[i] != 1 || p->ids[i] > 1)
			fp_fail("call %zu: name given %d times, id %d times", i, p->names[i],
			        p->ids[i]);
	}
}

#endif
