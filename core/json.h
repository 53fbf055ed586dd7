/*
 * json.h - JSON for tract on top of cJSON: parsing that keeps the literal
 * text of numbers, and the six byte-exact renderings of spec/core.md §2.1.
 *
 * Number items produced by tract_json_parse() (and by the constructors
 * below) carry their canonical text in item->valuestring: an integer as
 * its exact decimal digits ("-0" becomes "0"; any size is kept), a float
 * as Python's repr of the double ("0.5", "1e-05", "1e+16"). A number is an
 * integer when its literal has neither a fraction nor an exponent. The
 * renderers print valuestring for numbers, so integers beyond 2^53 survive.
 * cJSON_Delete frees valuestring, so such trees are ordinary cJSON trees.
 *
 * U+0000. JSON strings may hold it ("\u0000"; the reference stores such
 * texts), but cJSON strings, keys included, end at a NUL byte. Inside the
 * core a string holding U+0000 keeps it as the two bytes C0 80 ("modified
 * UTF-8", as Java does). The input check refuses a raw C0 80 (an overlong
 * form), so in a tree C0 80 can only mean U+0000. Every rendering writes
 * it back as "\u0000", which is what Python's json.dumps writes in every
 * mode, so canonical JSON and content hashes equal the reference's; keys
 * sort with it as the lowest code point. Where text leaves the core as
 * bytes (a compiled message, the text a token count is taken from),
 * tract_mutf8_to_bytes() makes it a real 0x00 byte with an explicit
 * length.
 */
#ifndef TRACT_CORE_JSON_H
#define TRACT_CORE_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum {
	TRACT_JSON_CANON,  /* sorted keys, "," ":"  raw UTF-8 */
	TRACT_JSON_STORE,  /* sorted keys, ", " ": " raw UTF-8 */
	TRACT_JSON_COLUMN, /* given order, ", " ": " \uXXXX escapes */
	TRACT_JSON_TOKEN,  /* sorted keys, ", " ": " \uXXXX escapes */
	TRACT_JSON_PRETTY, /* given order, ",\n" ": " \uXXXX, indent 2 */
	TRACT_JSON_FLAT,   /* given order, ", " ": " \uXXXX escapes */
} tract_json_style;

/** Flags of tract_json_parse(). */
enum {
	/** NaN/Infinity (also overflowing literals like 1e400) become null
	 *  instead of being an error (content payloads, spec §2.1). */
	TRACT_JSON_NONFINITE_TO_NULL = 1u << 0,
};

/**
 * Parse len bytes of JSON text. Strict RFC 8259: one value, optional
 * surrounding whitespace, nothing after it. Rejects, with a message in
 * errbuf: invalid UTF-8 (also inside strings after unescaping: lone
 * surrogates; also a raw C0 80), duplicate keys in one object, non-finite numbers (unless
 * TRACT_JSON_NONFINITE_TO_NULL), nesting deeper than 512.
 * "\u0000" in a string or key becomes C0 80 (see above).
 * Returns 0 or TRACT_EINVAL / TRACT_ENOMEM.
 */
int tract_json_parse(cJSON **out, const char *text, size_t len, unsigned flags, char *errbuf,
		     size_t errlen);

/** A member of an object read in place by tract_json_read_flat(). */
typedef struct {
	const char *key;    /* the key's bytes in the text (no escapes) */
	size_t key_len;
	const char *str;    /* the string value's body, escapes undecoded; NULL for null */
	size_t str_len;
	size_t decoded_len; /* its length once decoded */
} tract_json_flat_member;

/**
 * Read text, without building a tree, as an object whose values are all
 * strings or null: the common shape of stored payloads. Returns the
 * number of members (at most max), or -1 when text is not that simple:
 * any other value, a \u escape in a string, an escaped or duplicate key,
 * more than max members, anything after the object. Callers then take
 * the full parser, so the fast read only has to agree with cJSON on
 * plain input.
 */
int tract_json_read_flat(tract_json_flat_member *m, size_t max, const char *text, size_t len);

/** The member named key (key_len bytes, at least one), or NULL. */
const tract_json_flat_member *tract_json_flat_get_n(const tract_json_flat_member *m, size_t n,
						    const char *key, size_t key_len);
/** The same for a string literal key. */
#define tract_json_flat_get(m, n, key) tract_json_flat_get_n((m), (n), "" key, sizeof(key) - 1)

/** Decode a member's string into dst (decoded_len + 1 bytes, NUL added). */
void tract_json_flat_decode(char *dst, const tract_json_flat_member *m);

/** Render item in style, appending to b. Returns 0 or TRACT_ENOMEM. */
int tract_json_render(tract_buf *b, const cJSON *item, tract_json_style style);
/** Render to a new malloc'd string (NULL on out of memory). */
char *tract_json_render_str(const cJSON *item, tract_json_style style);
/** Render in pieces of at most TRACT_BUF_SINK_CHUNK bytes (a long string
 *  straight through) handed to sink, keeping none: 0, TRACT_ENOMEM, or the
 *  sink's negative code. */
int tract_json_render_to(tract_buf_sink sink, void *ctx, const cJSON *item,
			 tract_json_style style);

/** Append a JSON string literal (quotes included) for UTF-8 s of len bytes;
 *  ascii_only selects \uXXXX escaping of everything above U+007E. Both a
 *  0x00 byte and C0 80 are written "\u0000". */
int tract_json_escape(tract_buf *b, const char *s, size_t len, int ascii_only);

/** Python repr() of a finite double into out (at least 32 bytes). */
void tract_json_float_repr(char *out, size_t outlen, double d);

/** Number constructors that set the canonical literal (NULL on OOM). */
cJSON *tract_json_new_int(int64_t v);
cJSON *tract_json_new_float(double v);

/** True when a number item is an integer (literal without '.', 'e', 'E'). */
int tract_json_is_int(const cJSON *item);

/** Deep copy keeping number literals (cJSON_Duplicate does; this is an alias
 *  documented here for clarity). NULL on OOM. */
cJSON *tract_json_dup(const cJSON *item);

/** Sort object members by key (UTF-8 byte order) at every level, in place. */
void tract_json_sort(cJSON *item);

/**
 * Turn each C0 80 (U+0000 inside the core) of s[0..len) into a 0x00 byte,
 * in place; returns the new length. A byte after it is set to NUL when the
 * text shrank, so a NUL-terminated s stays terminated at the new length.
 */
size_t tract_mutf8_to_bytes(char *s, size_t len);

/**
 * strcmp() of two strings of a tree in code point order, also for the C0 80
 * that stands for U+0000 (first of all characters, as a 0x00 byte would be
 * in a length-aware comparison, SQLite's or Python's).
 */
int tract_json_strcmp(const char *a, const char *b);

/** Return 1 when s[0..len) is valid UTF-8 (no surrogates, no overlongs;
 *  so also no C0 80: this checks input, not the core's strings). */
int tract_utf8_valid(const char *s, size_t len);

/** Compare two JSON values for equality (numbers by literal text, objects
 *  as ordered member lists). */
int tract_json_equal(const cJSON *a, const cJSON *b);

#endif
