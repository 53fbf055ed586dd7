/*
 * json_flat.c - reading the common flat payloads in place (an object of
 * strings and nulls) without building a cJSON tree, for compile's hot
 * path; and turning the core's internal form of U+0000 (C0 80) back into
 * real bytes where text leaves the core.
 */
#include <stddef.h>
#include <string.h>

#include "json.h"

/* JSON whitespace (RFC 8259). */
static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* ------------------------------------------------------------------ */
/* Flat objects read in place                                          */
/* ------------------------------------------------------------------ */

/*
 * Scan the string body starting after an opening quote at s[*pos]; leave
 * *pos on the closing quote and the decoded length in *decoded. Only the
 * short escapes are taken: a \u escape ends the fast read, so what is
 * accepted decodes the same under cJSON and tract_json_parse. Raw control
 * characters are let through as cJSON does (the payload path this read
 * stands in for uses cJSON's tree).
 *
 * memchr() runs are the point: a payload is a few hundred bytes of plain
 * text, and glibc's vectorised memchr finds the closing quote several
 * times faster than a byte loop.
 */
static int flat_string(const char *s, size_t len, size_t *pos, size_t *decoded)
{
	size_t i = *pos, escapes = 0, stop = len - i < 16 ? len : i + 16;

	/* Keys and short values end within a few bytes: a plain loop costs
	 * less than the memchr() calls. */
	for (; i < stop && s[i] != '"' && s[i] != '\\'; i++)
		;
	if (i < stop && s[i] == '"') {
		*decoded = i - *pos;
		*pos = i;
		return 0;
	}
	/* The next quote is searched again only once an escape has moved
	 * past it (an escaped quote): a long text with many escapes (lines
	 * joined by \n) is then scanned once, not once per escape. */
	for (const char *q = NULL;;) {
		const char *bs;

		if (!q || q < s + i) {
			q = memchr(s + i, '"', len - i);
			if (!q)
				return -1;
		}
		bs = memchr(s + i, '\\', (size_t)(q - (s + i)));
		if (!bs) {
			i = (size_t)(q - s);
			break;
		}
		i = (size_t)(bs - s);
		if (i + 1 >= len)
			return -1;
		switch (s[i + 1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			break;
		default:
			return -1;
		}
		i += 2;
		escapes++;
	}
	*decoded = i - *pos - escapes;
	*pos = i;
	return 0;
}

static size_t skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len && is_ws(s[i]))
		i++;
	return i;
}

int tract_json_read_flat(tract_json_flat_member *m, size_t max, const char *text, size_t len)
{
	size_t i = skip_ws(text, len, 0), n = 0, k, key_end, dummy;

	if (i >= len || text[i] != '{')
		return -1;
	i = skip_ws(text, len, i + 1);
	if (i < len && text[i] == '}')
		goto end;
	for (;;) {
		if (n == max || i >= len || text[i] != '"')
			return -1;
		m[n].key = text + ++i;
		if (flat_string(text, len, &i, &dummy) < 0)
			return -1;
		key_end = i;
		m[n].key_len = key_end - (size_t)(m[n].key - text);
		/* Keys with escapes would need decoding to compare. */
		if (memchr(m[n].key, '\\', m[n].key_len))
			return -1;
		for (k = 0; k < n; k++)
			if (m[k].key_len == m[n].key_len && m[k].key[0] == m[n].key[0] &&
			    memcmp(m[k].key, m[n].key, m[n].key_len) == 0)
				return -1; /* duplicate keys: the strict parser decides */
		i = skip_ws(text, len, i + 1);
		if (i >= len || text[i] != ':')
			return -1;
		i = skip_ws(text, len, i + 1);
		if (i < len && text[i] == '"') {
			m[n].str = text + ++i;
			if (flat_string(text, len, &i, &m[n].decoded_len) < 0)
				return -1;
			m[n].str_len = i - (size_t)(m[n].str - text);
			i++;
		} else if (len - i >= 4 && memcmp(text + i, "null", 4) == 0) {
			m[n].str = NULL;
			m[n].str_len = m[n].decoded_len = 0;
			i += 4;
		} else {
			return -1;
		}
		n++;
		i = skip_ws(text, len, i);
		if (i < len && text[i] == ',') {
			i = skip_ws(text, len, i + 1);
			continue;
		}
		if (i < len && text[i] == '}')
			break;
		return -1;
	}
end:
	/* Nothing but whitespace may follow. */
	if (skip_ws(text, len, i + 1) != len)
		return -1;
	return (int)n;
}

const tract_json_flat_member *tract_json_flat_get_n(const tract_json_flat_member *m, size_t n,
						    const char *key, size_t key_len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (m[i].key_len == key_len && m[i].key[0] == key[0] &&
		    memcmp(m[i].key, key, key_len) == 0)
			return &m[i];
	return NULL;
}

void tract_json_flat_decode(char *dst, const tract_json_flat_member *m)
{
	const char *s = m->str, *end = m->str + m->str_len;

	if (m->decoded_len == m->str_len) {
		/* No escapes. */
		memcpy(dst, s, m->str_len);
		dst[m->str_len] = '\0';
		return;
	}
	while (s < end) {
		const char *bs = memchr(s, '\\', (size_t)(end - s));
		size_t run = bs ? (size_t)(bs - s) : (size_t)(end - s);

		memcpy(dst, s, run);
		dst += run;
		s += run;
		if (!bs)
			break;
		switch (s[1]) {
		case 'b': *dst++ = '\b'; break;
		case 'f': *dst++ = '\f'; break;
		case 'n': *dst++ = '\n'; break;
		case 'r': *dst++ = '\r'; break;
		case 't': *dst++ = '\t'; break;
		default: *dst++ = s[1]; break; /* '"', '\\', '/' */
		}
		s += 2;
	}
	*dst = '\0';
}

/* ------------------------------------------------------------------ */
/* U+0000                                                              */
/* ------------------------------------------------------------------ */

size_t tract_mutf8_to_bytes(char *s, size_t len)
{
	char *r, *w, *end = s + len;

	if (!len)
		return 0; /* s may be NULL then (an empty tract_buf) */
	r = memchr(s, '\xC0', len);
	if (!r)
		return len;
	for (w = r; r < end;) {
		if (*r == '\xC0' && r + 1 < end && r[1] == '\x80') {
			*w++ = '\0';
			r += 2;
		} else {
			*w++ = *r++;
		}
	}
	if (w < end)
		*w = '\0';
	return (size_t)(w - s);
}
