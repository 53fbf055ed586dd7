/*
 * fuzz_sse.c - libFuzzer target for the server-sent events parser of the
 * provider plugins (plugins/common/sse.c). The first byte seeds how the
 * rest is cut into feeds; the events must be the same whatever the cuts
 * (the input whole, byte by byte, and in the seeded pieces), and an event's
 * data never holds a line end the stream did not carry as data.
 */
#include "fuzz_provider.h"
#include "sse.h"

typedef struct {
	tp_buf log; /* type NUL data-length data, per event */
	size_t events;
} events;

static int on_event(void *payload, const char *type, const char *data, size_t len)
{
	events *e = payload;
	char n[32];

	if (strchr(type, '\n') || strchr(type, '\r'))
		fp_fail("an event type holds a line end");
	if (memchr(data, '\r', len))
		fp_fail("event data holds a CR");
	if (data[len] != '\0')
		fp_fail("event data not terminated");
	snprintf(n, sizeof(n), "%zu:", len);
	if (tp_buf_puts(&e->log, type) || tp_buf_putc(&e->log, '\0') || tp_buf_puts(&e->log, n) ||
	    tp_buf_put(&e->log, data, len))
		abort();
	e->events++;
	return 0;
}

/* Parse the input in the pieces the seed gives; the event log. */
static void parse(events *e, const uint8_t *data, size_t size, uint32_t seed, int byte_by_byte)
{
	tp_sse_parser p;
	size_t off = 0;

	memset(e, 0, sizeof(*e));
	tp_sse_init(&p, 1 << 20, on_event, e);
	while (off < size) {
		size_t n = byte_by_byte ? 1 : fp_piece(&seed, size - off);
		if (tp_sse_feed(&p, (const char *)data + off, n) != 0)
			fp_fail("feed failed");
		off += n;
	}
	if (p.events != e->events)
		fp_fail("event count");
	tp_sse_dispose(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	events whole, cut, bytes;

	if (size < 1)
		return 0;
	parse(&whole, data + 1, size - 1, 0, 0);
	parse(&cut, data + 1, size - 1, data[0] | 0x100u, 0);
	parse(&bytes, data + 1, size - 1, 0, 1);
	if (whole.events != cut.events || whole.log.len != cut.log.len ||
	    (whole.log.len && memcmp(whole.log.ptr, cut.log.ptr, whole.log.len) != 0))
		fp_fail("events differ when the input is cut in pieces");
	if (whole.events != bytes.events || whole.log.len != bytes.log.len ||
	    (whole.log.len && memcmp(whole.log.ptr, bytes.log.ptr, whole.log.len) != 0))
		fp_fail("events differ when the input is fed byte by byte");
	tp_buf_dispose(&whole.log);
	tp_buf_dispose(&cut.log);
	tp_buf_dispose(&bytes.log);
	return 0;
}
