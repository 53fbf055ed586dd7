/*
 * sse.h - an incremental parser of server-sent events (the WHATWG
 * "text/event-stream" format) for the streamed replies of the HTTP
 * providers. Bytes go in as they arrive, cut anywhere; each complete event
 * comes out through a callback. Lines end in CRLF, LF or CR (a CRLF split
 * across two feeds counts once); ':' lines are comments; several data
 * lines join with LF; a field without a colon has an empty value; one
 * leading space of a value is dropped; a leading byte order mark is
 * skipped; "id" and "retry" are read and ignored; an event with no data is
 * not dispatched (as the standard says). An event left unfinished when the
 * stream ends is dropped (tp_sse_pending() tells whether there was one).
 */
#ifndef TRACT_PLUGIN_COMMON_SSE_H
#define TRACT_PLUGIN_COMMON_SSE_H

#include <stddef.h>

#include "buf.h"

/* One event: its type ("message" when the stream named none) and its data
 * (NUL-terminated, len bytes; it may hold NUL bytes). Return 0 to go on;
 * anything else stops the parser, and tp_sse_feed returns it. */
typedef int (*tp_sse_event_fn)(void *payload, const char *event, const char *data, size_t len);

/* The parser's own return codes (the callback's must differ from these). */
#define TP_SSE_ENOMEM (-1001)
#define TP_SSE_ELIMIT (-1002) /* a line or an event's data past max_bytes */

typedef struct {
	tp_buf line;    /* the unfinished line of the last feed */
	tp_buf data;    /* the data lines of the current event */
	tp_buf event;   /* the current event's type */
	int has_data;   /* a data field was seen since the last dispatch */
	int skip_lf;    /* the last feed ended in CR: a leading LF closes nothing */
	int at_start;   /* nothing read yet (a BOM may come) */
	size_t bom;     /* BOM bytes matched so far at the start */
	size_t events;  /* events dispatched */
	tp_sse_event_fn cb;
	void *payload;
} tp_sse_parser;

/* Start a parser; max_bytes bounds a line and an event's data (0 = none). */
void tp_sse_init(tp_sse_parser *p, size_t max_bytes, tp_sse_event_fn cb, void *payload);
/* Parse n more bytes: 0, TP_SSE_ENOMEM, TP_SSE_ELIMIT or the callback's
 * non-zero return (after which the parser must not be fed again). */
int tp_sse_feed(tp_sse_parser *p, const char *bytes, size_t n);
/* True when the stream so far ends inside an event (data or a partial line
 * not yet closed by a blank line). */
int tp_sse_pending(const tp_sse_parser *p);
void tp_sse_dispose(tp_sse_parser *p);

#endif
