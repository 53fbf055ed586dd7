/*
 * buf.h - a growable byte buffer for the HTTP provider plugins, always
 * NUL-terminated (so its bytes read as a C string when they hold no NUL),
 * with an optional limit past which it refuses to grow.
 */
#ifndef TRACT_PLUGIN_COMMON_BUF_H
#define TRACT_PLUGIN_COMMON_BUF_H

#include <stddef.h>

typedef struct {
	char *ptr;    /* NULL until the first byte (or tp_buf_terminate) */
	size_t len;
	size_t cap;
	size_t limit; /* 0 = none; a put past it fails with TP_BUF_ELIMIT */
} tp_buf;

#define TP_BUF_INIT {NULL, 0, 0, 0}

/* Return codes of the puts: 0, or one of these. */
#define TP_BUF_ENOMEM (-1)
#define TP_BUF_ELIMIT (-2)

int tp_buf_put(tp_buf *b, const char *data, size_t n);
int tp_buf_puts(tp_buf *b, const char *s);
int tp_buf_putc(tp_buf *b, char c);
/* Make ptr a valid (maybe empty) C string. */
int tp_buf_terminate(tp_buf *b);
/* Empty the buffer, keeping its memory. */
void tp_buf_clear(tp_buf *b);
/* Hand the bytes over (a C string the caller frees; "" when empty), or
 * NULL on out of memory; the buffer is left empty. */
char *tp_buf_detach(tp_buf *b);
void tp_buf_dispose(tp_buf *b);

#endif
