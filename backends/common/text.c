/*
 * text.c - text helpers of the backend plugins: plain integers, UTF-8
 * validity and the upper ends of literal prefix ranges (see text.h for
 * why there are two of those).
 */
#include <string.h>

#include "text.h"

bool bc_is_plain_integer(const char *text)
{
	size_t i;

	if (!text || !*text || strlen(text) > 9)
		return false;
	for (i = 0; text[i]; i++)
		if (text[i] < '0' || text[i] > '9')
			return false;
	return true;
}

bool bc_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p, n, cp, i;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		p += n + 1;
	}
	return true;
}

/* Encode a code point as UTF-8 at out (4 bytes room); returns the length. */
static size_t utf8_put(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

bool bc_prefix_upper_bytes(const char *prefix, char *buf, size_t len)
{
	size_t n = strlen(prefix);

	if (n >= len)
		return false;
	memcpy(buf, prefix, n + 1);
	while (n > 0) {
		unsigned char c = (unsigned char)buf[n - 1];
		if (c < 0xff) {
			buf[n - 1] = (char)(c + 1);
			buf[n] = '\0';
			return true;
		}
		n--;
	}
	return false;
}

bool bc_prefix_upper_utf8(const char *prefix, char *buf, size_t len)
{
	size_t n = strlen(prefix);

	if (n + 4 >= len)
		return false;
	memcpy(buf, prefix, n + 1);
	while (n > 0) {
		size_t start = n - 1;
		unsigned cp = 0, i;

		while (start > 0 && ((unsigned char)buf[start] & 0xc0) == 0x80)
			start--;
		for (i = (unsigned)start; i < n; i++) {
			unsigned char c = (unsigned char)buf[i];
			if (i == start)
				cp = c < 0x80 ? c : c < 0xe0 ? c & 0x1f : c < 0xf0 ? c & 0x0f : c & 0x07;
			else
				cp = (cp << 6) | (c & 0x3f);
		}
		if (cp < 0x10ffff) {
			cp++;
			if (cp == 0xd800)
				cp = 0xe000;
			n = start + utf8_put(buf + start, cp);
			buf[n] = '\0';
			return true;
		}
		n = start;
	}
	return false;
}
