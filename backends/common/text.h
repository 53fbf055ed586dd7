/*
 * text.h - text helpers of the backend plugins: plain integers (a stored
 * schema version), UTF-8 validity, and the upper end of a literal prefix
 * range (what an index range scan "key >= prefix AND key < upper" needs).
 */
#ifndef TRACT_BACKEND_COMMON_TEXT_H
#define TRACT_BACKEND_COMMON_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True when text is a plain decimal integer of 1-9 digits (no sign, no
 * spaces): small enough for strtol() into an int, whatever long is. */
bool bc_is_plain_integer(const char *text);

/* True when s is valid UTF-8 (no overlong forms, surrogates, or code
 * points past U+10FFFF). */
bool bc_utf8_valid(const char *s);

/*
 * The upper end of a literal prefix range, written to buf: the least
 * string greater than every string that starts with prefix. Returns false
 * when there is none (the range is open above) or, see each, when buf is
 * too small. Two variants, because the engines compare different things:
 *
 * bc_prefix_upper_bytes: any bytes, compared bytewise (SQLite's BINARY
 * collation, whose TEXT may hold bytes that are not UTF-8): the prefix
 * with its last byte incremented, 0xff bytes carried away. Exact for
 * every stored value; but the bound may be invalid UTF-8 ("\x7f" gives
 * "\x80"), which an engine that checks text encoding refuses.
 *
 * bc_prefix_upper_utf8: prefix must be valid UTF-8 (bc_utf8_valid), for
 * engines whose text is always valid UTF-8 (PostgreSQL, encoding UTF8,
 * COLLATE "C": code point order, which is bytewise order): the prefix
 * with its last character replaced by the next code point (U+10FFFF
 * characters dropped first, surrogates skipped). The bound is valid
 * UTF-8; between it and the bytewise one lie only strings that are not.
 *
 * buf needs strlen(prefix) + 1 bytes for the first, strlen(prefix) + 5
 * for the second; with less, both return false.
 */
bool bc_prefix_upper_bytes(const char *prefix, char *buf, size_t len);
bool bc_prefix_upper_utf8(const char *prefix, char *buf, size_t len);

#endif
