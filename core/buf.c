/*
 * buf.c - growable byte buffer used by the JSON renderers, the compiler and
 * every place that builds a string.
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tract/common.h"

void tract_buf_init_sink(tract_buf *b, tract_buf_sink sink, void *ctx)
{
	memset(b, 0, sizeof(*b));
	b->sink = sink;
	b->sink_ctx = ctx;
}

int tract_buf_flush(tract_buf *b)
{
	int rc = 0;

	if (b->sink && b->len) {
		rc = b->sink(b->sink_ctx, b->ptr, b->len);
		b->len = 0;
		b->ptr[0] = '\0';
	}
	return rc;
}

int tract_buf_grow(tract_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1)
		return TRACT_ENOMEM;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	if (b->sink && b->len) {
		/* Make room by sending what is there. */
		int rc = tract_buf_flush(b);
		if (rc < 0)
			return rc;
		need = extra + 1;
		if (need <= b->cap)
			return 0;
	}
	/* Double (amortized appends), or take exactly what is asked when that
	 * is more (a large reservation is not rounded up to a power of 2). */
	cap = !b->cap ? 64 : b->cap > SIZE_MAX / 2 ? need : b->cap * 2;
	if (cap < need)
		cap = need;
	p = realloc(b->ptr, cap);
	if (!p)
		return TRACT_ENOMEM;
	b->ptr = p;
	b->cap = cap;
	return 0;
}

int tract_buf_put(tract_buf *b, const char *data, size_t len)
{
	int rc;

	if (b->sink && len >= TRACT_BUF_SINK_CHUNK) {
		/* A long piece goes straight through, after what is there. */
		rc = tract_buf_flush(b);
		return rc < 0 ? rc : b->sink(b->sink_ctx, data, len);
	}
	if (b->sink && b->len + len >= TRACT_BUF_SINK_CHUNK) {
		rc = tract_buf_flush(b);
		if (rc < 0)
			return rc;
	}
	rc = tract_buf_grow(b, len);
	if (rc < 0)
		return rc;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return 0;
}

int tract_buf_puts(tract_buf *b, const char *s)
{
	return tract_buf_put(b, s, strlen(s));
}

int tract_buf_putc(tract_buf *b, char c)
{
	return tract_buf_put(b, &c, 1);
}

int tract_buf_vprintf(tract_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return TRACT_ENOMEM;
	if (tract_buf_grow(b, (size_t)n) < 0)
		return TRACT_ENOMEM;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int tract_buf_printf(tract_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = tract_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *tract_buf_detach(tract_buf *b)
{
	char *p = b->ptr;

	if (!p)
		p = calloc(1, 1);
	else if (b->cap - b->len > ((size_t)1 << 20)) {
		/* a large buffer is handed over at its size, not its doubling's */
		char *fit = realloc(p, b->len + 1);
		if (fit)
			p = fit;
	}
	b->ptr = NULL;
	b->len = b->cap = 0;
	return p;
}

void tract_buf_clear(tract_buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

void tract_buf_dispose(tract_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

int tract_buf_finish(char **out, tract_buf *b, int rc)
{
	if (rc == 0)
		*out = tract_buf_detach(b);
	if (rc || !*out) {
		tract_buf_dispose(b);
		return tract_error_oom();
	}
	return 0;
}
