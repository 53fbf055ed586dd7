/*
 * sse.c - the incremental server-sent events parser (sse.h). A complete
 * line found inside one feed is read where it lies; only a line cut by the
 * end of a feed is copied. Line ends are found with memchr (LF, then CR
 * within the line), so a byte costs about two vectorised compares.
 */
#include "sse.h"

#include <string.h>

void tp_sse_init(tp_sse_parser *p, size_t max_bytes, tp_sse_event_fn cb, void *payload)
{
	memset(p, 0, sizeof(*p));
	p->line.limit = max_bytes;
	p->data.limit = max_bytes;
	p->event.limit = max_bytes;
	p->at_start = 1;
	p->cb = cb;
	p->payload = payload;
}

void tp_sse_dispose(tp_sse_parser *p)
{
	tp_buf_dispose(&p->line);
	tp_buf_dispose(&p->data);
	tp_buf_dispose(&p->event);
}

int tp_sse_pending(const tp_sse_parser *p)
{
	return p->has_data || p->line.len > 0;
}

static int buf_rc(int rc)
{
	return rc == TP_BUF_ELIMIT ? TP_SSE_ELIMIT : TP_SSE_ENOMEM;
}

static int dispatch(tp_sse_parser *p)
{
	const char *type;
	int rc;

	if (!p->has_data) {
		tp_buf_clear(&p->event);
		return 0;
	}
	/* the data ends with the LF of its last line: drop it */
	if (p->data.len)
		p->data.len--;
	if ((rc = tp_buf_terminate(&p->data)) != 0)
		return buf_rc(rc);
	type = p->event.len ? p->event.ptr : "message";
	p->events++;
	rc = p->cb(p->payload, type, p->data.ptr, p->data.len);
	tp_buf_clear(&p->data);
	tp_buf_clear(&p->event);
	p->has_data = 0;
	return rc;
}

/* One complete line (without its end). */
static int line(tp_sse_parser *p, const char *s, size_t n)
{
	const char *colon, *value;
	size_t flen, vlen;
	int rc;

	if (n == 0)
		return dispatch(p);
	if (s[0] == ':')
		return 0;
	colon = memchr(s, ':', n);
	flen = colon ? (size_t)(colon - s) : n;
	value = colon ? colon + 1 : s + n;
	vlen = (size_t)(s + n - value);
	if (vlen && value[0] == ' ') {
		value++;
		vlen--;
	}
	if (flen == 4 && memcmp(s, "data", 4) == 0) {
		if ((rc = tp_buf_put(&p->data, value, vlen)) != 0 ||
		    (rc = tp_buf_putc(&p->data, '\n')) != 0)
			return buf_rc(rc);
		p->has_data = 1;
	} else if (flen == 5 && memcmp(s, "event", 5) == 0) {
		tp_buf_clear(&p->event);
		if ((rc = tp_buf_put(&p->event, value, vlen)) != 0)
			return buf_rc(rc);
	}
	/* "id", "retry" and unknown fields: ignored */
	return 0;
}

int tp_sse_feed(tp_sse_parser *p, const char *bytes, size_t n)
{
	static const char bom[] = "\xef\xbb\xbf";
	const char *s = bytes, *end = bytes + n;
	int rc;

	while (p->at_start && s < end) {
		if ((unsigned char)*s == (unsigned char)bom[p->bom]) {
			s++;
			if (++p->bom == 3)
				p->at_start = 0;
			continue;
		}
		/* not a BOM after all: the bytes matched so far are text */
		p->at_start = 0;
		if (p->bom && (rc = tp_buf_put(&p->line, bom, p->bom)) != 0)
			return buf_rc(rc);
	}
	if (p->skip_lf && s < end) {
		if (*s == '\n')
			s++;
		p->skip_lf = 0;
	}
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *lim = nl ? nl : end;
		const char *cr = memchr(s, '\r', (size_t)(lim - s));
		const char *e = cr ? cr : lim;

		if (e == end) { /* the line goes on in the next feed */
			if ((rc = tp_buf_put(&p->line, s, (size_t)(e - s))) != 0)
				return buf_rc(rc);
			break;
		}
		if (p->line.len) {
			if ((rc = tp_buf_put(&p->line, s, (size_t)(e - s))) != 0)
				return buf_rc(rc);
			rc = line(p, p->line.ptr, p->line.len);
			tp_buf_clear(&p->line);
		} else {
			if (p->line.limit && (size_t)(e - s) > p->line.limit)
				return TP_SSE_ELIMIT;
			rc = line(p, s, (size_t)(e - s));
		}
		if (rc)
			return rc;
		if (*e == '\r') {
			if (e + 1 == end)
				p->skip_lf = 1;
			else if (e[1] == '\n')
				e++;
		}
		s = e + 1;
	}
	return 0;
}
