/*
 * bench_sse.c - throughput of the provider plugins' stream readers: the
 * server-sent events parser alone (plugins/common/sse.c), and the whole
 * OpenAI and Anthropic streamed-reply parsers (SSE + JSON + assembly of
 * text and tool-call pieces, a no-op delta callback). The input is a
 * synthetic stream of realistic events (~8 MB: one text token per event,
 * as servers send them), fed in 16 KiB pieces as curl hands them over, and
 * once in 7-byte pieces (the parser's worst case: every line cut). Prints
 * MB/s and events/s, the best of at least RUNS runs (and of half a second
 * of runs); never asserts a timing.
 *
 *   bench_sse [MEGABYTES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anthropic_parse.h"
#include "buf.h"
#include "openai_parse.h"
#include "sse.h"

#define RUNS 5

static const char *const words[] = {"The", " quick", " brown", " fox", " jumps", " over",
				    " the", " lazy", " dog", ",", " doesn't", " it", "?", "\\n",
				    " caf\xc3\xa9", " \\\"quoted\\\""};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put(tp_buf *b, const char *s)
{
	if (tp_buf_puts(b, s) != 0)
		abort();
}

/* An OpenAI stream of about `bytes` bytes; *events gets its event count. */
static void openai_stream(tp_buf *b, size_t bytes, size_t *events)
{
	char line[512];
	size_t i = 0;

	*events = 0;
	while (b->len < bytes) {
		snprintf(
		    line, sizeof(line),
		    "data: {\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":"
		    "\"chat.completion.chunk\",\"created\":1741570283,\"model\":"
		    "\"gpt-4o-2024-08-06\",\"system_fingerprint\":\"fp_eb9dce56a8\",\"choices\":"
		    "[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"logprobs\":null,"
		    "\"finish_reason\":null}],\"usage\":null}\n\n",
		    words[i++ % N_WORDS]);
		put(b, line);
		++*events;
	}
	put(b, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
	       "\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
	       "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
	       "\"completion_tokens\":12,\"total_tokens\":21}}\n\ndata: [DONE]\n\n");
	*events += 3;
}

static void anthropic_stream(tp_buf *b, size_t bytes, size_t *events)
{
	char line[512];
	size_t i = 0;

	put(b, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
	       "\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":"
	       "\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n"
	       "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
	       "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
	*events = 2;
	while (b->len < bytes) {
		snprintf(line, sizeof(line),
			 "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
			 "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}\n\n",
			 words[i++ % N_WORDS]);
		put(b, line);
		++*events;
	}
	put(b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
	       "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	       "\"end_turn\"},\"usage\":{\"output_tokens\":12}}\n\n"
	       "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
	*events += 3;
}

static size_t seen;

static int count_event(void *payload, const char *type, const char *data, size_t len)
{
	(void)payload;
	(void)type;
	(void)data;
	(void)len;
	seen++;
	return 0;
}

static int no_op(const tract_chat_delta *d, void *payload)
{
	(void)d;
	(void)payload;
	return 0;
}

enum { SSE_ONLY, OPENAI, ANTHROPIC };

/* Seconds of one parse of the stream in pieces of `piece` bytes. */
static double run(int kind, const tp_buf *in, size_t piece, size_t expect_events)
{
	tract_provider_error err;
	double t0 = now_s(), t;
	size_t off;
	int rc = 0;

	seen = 0;
	if (kind == SSE_ONLY) {
		tp_sse_parser p;
		tp_sse_init(&p, 1 << 24, count_event, NULL);
		for (off = 0; off < in->len && rc == 0; off += piece)
			rc = tp_sse_feed(&p, in->ptr + off,
			                 off + piece < in->len ? piece : in->len - off);
		t = now_s() - t0;
		tp_sse_dispose(&p);
		if (seen != expect_events)
			rc = -1;
	} else if (kind == OPENAI) {
		tp_openai_stream s;
		tp_openai_stream_init(&s, 1 << 26, no_op, NULL, &err);
		for (off = 0; off < in->len && rc == 0; off += piece)
			rc = tp_openai_stream_feed(&s, in->ptr + off,
						   off + piece < in->len ? piece : in->len - off);
		if (rc == 0)
			rc = tp_openai_stream_end(&s);
		t = now_s() - t0;
		tp_openai_stream_dispose(&s);
	} else {
		tp_anthropic_stream s;
		tp_anthropic_stream_init(&s, 1 << 26, no_op, NULL, &err);
		for (off = 0; off < in->len && rc == 0; off += piece)
			rc = tp_anthropic_stream_feed(
			    &s, in->ptr + off, off + piece < in->len ? piece : in->len - off);
		if (rc == 0)
			rc = tp_anthropic_stream_end(&s);
		t = now_s() - t0;
		tp_anthropic_stream_dispose(&s);
	}
	if (rc != 0) {
		fprintf(stderr, "bench_sse: parse failed (%d): %s\n", rc,
			kind == SSE_ONLY ? "event count" : err.message);
		exit(1);
	}
	return t;
}

static void report(const char *what, int kind, const tp_buf *in, size_t events, size_t piece)
{
	double best = 1e30, spent = 0;
	int i;

	/* at least RUNS runs and half a second: the fast ones take ~1 ms,
	 * too short for one run to dodge a busy neighbour */
	for (i = 0; i < RUNS || spent < 0.5; i++) {
		double t = run(kind, in, piece, events);
		spent += t;
		if (t < best)
			best = t;
	}
	printf("%-42s %5zu B pieces: %8.1f MB/s %12.0f events/s\n", what, piece,
	       (double)in->len / best / 1e6, (double)events / best);
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 8, oa_events, an_events;
	tp_buf oa = TP_BUF_INIT, an = TP_BUF_INIT;

	if (mb == 0 || mb > 1024) {
		fprintf(stderr, "usage: bench_sse [MEGABYTES (1-1024)]\n");
		return 2;
	}
	openai_stream(&oa, mb << 20, &oa_events);
	anthropic_stream(&an, mb << 20, &an_events);
	printf("OpenAI stream: %.1f MB, %zu events; Anthropic stream: %.1f MB, %zu events\n",
	       (double)oa.len / 1e6, oa_events, (double)an.len / 1e6, an_events);
	report("SSE parser (OpenAI stream)", SSE_ONLY, &oa, oa_events, 16384);
	report("SSE parser (OpenAI stream)", SSE_ONLY, &oa, oa_events, 7);
	report("SSE parser (Anthropic stream)", SSE_ONLY, &an, an_events, 16384);
	report("openai reply parser (SSE+JSON+deltas)", OPENAI, &oa, oa_events, 16384);
	report("anthropic reply parser (SSE+JSON+deltas)", ANTHROPIC, &an, an_events, 16384);
	tp_buf_dispose(&oa);
	tp_buf_dispose(&an);
	return 0;
}
