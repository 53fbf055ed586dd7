/*
 * buf.c - the plugins' growable byte buffer (buf.h).
 */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

static int grow(tp_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > (size_t)-1 - b->len - 1)
		return TP_BUF_ENOMEM;
	need = b->len + extra + 1;
	if (b->limit && b->len + extra > b->limit)
		return TP_BUF_ELIMIT;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > (size_t)-1 / 2 ? need : cap * 2;
	if (!(p = realloc(b->ptr, cap)))
		return TP_BUF_ENOMEM;
	b->ptr = p;
	b->cap = cap;
	return 0;
}

int tp_buf_put(tp_buf *b, const char *data, size_t n)
{
	int rc = grow(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->ptr + b->len, data, n);
	b->len += n;
	b->ptr[b->len] = '\0';
	return 0;
}

int tp_buf_puts(tp_buf *b, const char *s)
{
	return tp_buf_put(b, s, strlen(s));
}

int tp_buf_putc(tp_buf *b, char c)
{
	return tp_buf_put(b, &c, 1);
}

int tp_buf_terminate(tp_buf *b)
{
	return tp_buf_put(b, "", 0);
}

void tp_buf_clear(tp_buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

char *tp_buf_detach(tp_buf *b)
{
	char *p;

	if (tp_buf_terminate(b) != 0)
		return NULL;
	p = b->ptr;
	b->ptr = NULL;
	b->len = b->cap = 0;
	return p;
}

void tp_buf_dispose(tp_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}
