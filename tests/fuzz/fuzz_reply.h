/*
 * fuzz_reply.h - the driver of the reply parsers' fuzz targets
 * (fuzz_openai.c, fuzz_anthropic.c): one wire format's parsers as a
 * tp_parser table (plugins/common/reply.h). First byte even: the rest is a
 * whole reply body; odd: a streamed reply, cut into feeds by the second
 * byte. Either fails with an error kind and a one-line message, or gives a
 * well-formed reply; a streamed one whose pieces (text, each call's id,
 * name and argument fragments) add up to it.
 */
#ifndef TRACT_FUZZ_REPLY_H
#define TRACT_FUZZ_REPLY_H

#include "fuzz_provider.h"

static inline void fr_check_error(int rc, const tract_provider_error *err)
{
	if (rc >= 0)
		fp_fail("failure code %d", rc);
	if (err->kind == TRACT_PROVIDER_ERR_NONE || !err->message[0] || strchr(err->message, '\n'))
		fp_fail("failure without a kind or a one-line message");
}

static inline void fr_whole(const tp_parser *ps, const uint8_t *data, size_t size)
{
	tract_provider_error err;
	tract_chat_reply out;
	tp_reply r;
	int rc;

	memset(&err, 0, sizeof(err));
	memset(&out, 0, sizeof(out));
	tp_reply_init(&r, 1 << 20);
	rc = ps->parse(&r, (const char *)data, size, &err);
	if (rc != 0) {
		fr_check_error(rc, &err);
	} else {
		if (!r.raw || strlen(r.raw) > size || memcmp(r.raw, data, strlen(r.raw)) != 0)
			fp_fail("raw is not the body");
		if (tp_reply_hand_over(&r, &out) != 0)
			abort();
		fp_check_reply(&out, NULL);
		tp_reply_release(&out);
	}
	tp_reply_dispose(&r);
}

static inline void fr_streamed(const tp_parser *ps, const uint8_t *data, size_t size, uint32_t seed)
{
	tract_provider_error err;
	tract_chat_reply out;
	void *s = calloc(1, ps->stream_size);
	fp_pieces p;
	size_t off = 0;
	int rc = 0;

	if (!s)
		abort();
	memset(&err, 0, sizeof(err));
	memset(&out, 0, sizeof(out));
	fp_pieces_init(&p);
	ps->stream_init(s, 1 << 20, fp_on_delta, &p, &err);
	while (rc == 0 && off < size) {
		size_t n = fp_piece(&seed, size - off);
		rc = ps->stream_feed(s, (const char *)data + off, n);
		off += n;
	}
	if (rc == 0)
		rc = ps->stream_end(s);
	if (rc != 0) {
		fr_check_error(rc, &err);
	} else {
		if (tp_reply_hand_over(ps->stream_reply(s), &out) != 0)
			abort();
		fp_check_reply(&out, &p);
		tp_reply_release(&out);
	}
	ps->stream_dispose(s);
	free(s);
	fp_pieces_dispose(&p);
}

/* The body of a target's LLVMFuzzerTestOneInput. */
static inline int fr_run(const tp_parser *ps, const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (data[0] % 2 == 0)
		fr_whole(ps, data + 2, size - 2);
	else
		fr_streamed(ps, data + 2, size - 2, data[1]);
	return 0;
}

#endif
