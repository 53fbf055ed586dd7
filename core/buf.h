/*
 * buf.h - a growable byte buffer, the one string builder of the core.
 * Functions return 0 or TRACT_ENOMEM; the contents stay NUL-terminated.
 */
#ifndef TRACT_CORE_BUF_H
#define TRACT_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

/** Where a sink buffer sends its bytes: 0, or a negative code that the
 *  writing call returns. */
typedef int (*tract_buf_sink)(void *ctx, const char *data, size_t len);

typedef struct {
	char *ptr;
	size_t len;
	size_t cap;
	tract_buf_sink sink; /* NULL: the buffer keeps what is written */
	void *sink_ctx;
} tract_buf;

#define TRACT_BUF_INIT {NULL, 0, 0, NULL, NULL}

/** A buffer that keeps at most TRACT_BUF_SINK_CHUNK bytes: it hands what is
 *  written to sink in pieces, in order (a long piece straight through).
 *  tract_buf_flush() sends the rest; tract_buf_dispose() releases it. */
#define TRACT_BUF_SINK_CHUNK 65536
void tract_buf_init_sink(tract_buf *b, tract_buf_sink sink, void *ctx);
int tract_buf_flush(tract_buf *b);

int tract_buf_grow(tract_buf *b, size_t extra);
int tract_buf_put(tract_buf *b, const char *data, size_t len);
int tract_buf_puts(tract_buf *b, const char *s);
int tract_buf_putc(tract_buf *b, char c);
int tract_buf_printf(tract_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tract_buf_vprintf(tract_buf *b, const char *fmt, va_list ap);
/** Give up ownership of the string (never NULL on success: "" for empty). */
char *tract_buf_detach(tract_buf *b);
void tract_buf_clear(tract_buf *b);
/** Hand b's text to *out when rc is 0 (building it went well); otherwise,
 *  or when the text cannot be had, release b and return TRACT_ENOMEM with
 *  the error set. */
int tract_buf_finish(char **out, tract_buf *b, int rc);
void tract_buf_dispose(tract_buf *b);

#endif
