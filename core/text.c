/*
 * text.c - text for people: UTF-8 checking, the 2-space re-indentation of
 * JSON the CLI prints, first lines, truncation with "…" and the one-line
 * preview of a content payload. Infrastructure: no store, no tract.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"

#define ELLIPSIS "\xE2\x80\xA6" /* … */


int tract_utf8_check(const char *s, size_t len)
{
	if (!s)
		return tract_error_set(TRACT_EINVAL, "tract_utf8_check: s is NULL");
	if (!tract_utf8_valid(s, len))
		return tract_error_set(TRACT_EINVAL, "not valid UTF-8");
	return 0;
}

/* ---- JSON re-indentation -------------------------------------------------- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int put_indent(tract_buf *b, int depth)
{
	int rc = tract_buf_putc(b, '\n');

	for (int i = 0; i < depth && rc == 0; i++)
		rc = tract_buf_put(b, "  ", 2);
	return rc;
}

/* Re-indent valid JSON text token by token: literals are copied as they are. */
static int pretty(tract_buf *b, const char *p)
{
	int depth = 0, rc = tract_buf_put(b, "", 0);

	while (*p && rc == 0) {
		char c = *p;

		if (is_space(c)) {
			p++;
		} else if (c == '"') {
			const char *start = p++;

			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			if (*p)
				p++;
			rc = tract_buf_put(b, start, (size_t)(p - start));
		} else if (c == '{' || c == '[') {
			char close = c == '{' ? '}' : ']';
			const char *q = p + 1;

			while (is_space(*q))
				q++;
			if (*q == close) { /* an empty container stays on its line */
				rc = tract_buf_putc(b, c);
				if (rc == 0)
					rc = tract_buf_putc(b, close);
				p = q + 1;
				continue;
			}
			rc = tract_buf_putc(b, c);
			if (rc == 0)
				rc = put_indent(b, ++depth);
			p++;
		} else if (c == '}' || c == ']') {
			if (depth > 0)
				depth--;
			rc = put_indent(b, depth);
			if (rc == 0)
				rc = tract_buf_putc(b, c);
			p++;
		} else if (c == ',') {
			rc = tract_buf_putc(b, ',');
			if (rc == 0)
				rc = put_indent(b, depth);
			p++;
		} else if (c == ':') {
			rc = tract_buf_put(b, ": ", 2);
			p++;
		} else {
			rc = tract_buf_putc(b, c);
			p++;
		}
	}
	return rc;
}

int tract_json_pretty(char **out, const char *json)
{
	tract_buf b = TRACT_BUF_INIT;
	cJSON *v;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_json_pretty: out is NULL");
	*out = NULL;
	if (!json)
		return tract_error_set(TRACT_EINVAL, "tract_json_pretty: json is NULL");
	v = cJSON_ParseWithOpts(json, NULL, 1);
	if (!v)
		return tract_error_set(TRACT_EINVAL, "tract_json_pretty: not valid JSON");
	cJSON_Delete(v);
	if (pretty(&b, json) < 0) {
		tract_buf_dispose(&b);
		return tract_error_oom();
	}
	*out = tract_buf_detach(&b);
	return *out ? 0 : tract_error_oom();
}

int tract_json_object_pairs(char **out, const char *json)
{
	tract_buf b = TRACT_BUF_INIT;
	const cJSON *m;
	cJSON *obj;
	int rc = 0;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_json_object_pairs: out is NULL");
	*out = NULL;
	if (!json)
		return tract_error_set(TRACT_EINVAL, "tract_json_object_pairs: json is NULL");
	obj = cJSON_Parse(json);
	if (!obj || !cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		return tract_error_set(TRACT_EINVAL, "tract_json_object_pairs: not a JSON object");
	}
	cJSON_ArrayForEach(m, obj)
	{
		char *v = cJSON_PrintUnformatted(m);

		if (!v || tract_buf_printf(&b, "%s%s=%s", b.len ? ", " : "", m->string, v)) {
			rc = TRACT_ENOMEM;
			free(v);
			break;
		}
		free(v);
	}
	cJSON_Delete(obj);
	return tract_buf_finish(out, &b, rc);
}

/* ---- one-line texts ------------------------------------------------------- */

/* Append the first line of s, control characters as spaces. */
static int put_first_line(tract_buf *b, const char *s)
{
	size_t n = strcspn(s, "\r\n");
	int rc = tract_buf_grow(b, n);

	if (rc == 0)
		rc = tract_buf_put(b, "", 0); /* NUL-terminated even when empty */

	for (size_t i = 0; i < n && rc == 0; i++)
		rc = tract_buf_putc(b, (unsigned char)s[i] < 0x20 ? ' ' : s[i]);
	return rc;
}

/* Cut b's text to max code points (the last one "…") when longer; 0 keeps all. */
static int cut(tract_buf *b, size_t max)
{
	size_t bytes = 0, cps = 0;

	if (max == 0)
		return 0;
	for (size_t i = 0; i < b->len; i++)
		if (((unsigned char)b->ptr[i] & 0xC0) != 0x80)
			cps++;
	if (cps <= max)
		return 0;
	for (cps = 0; bytes < b->len; bytes++) {
		if (((unsigned char)b->ptr[bytes] & 0xC0) != 0x80) {
			if (cps == max - 1)
				break;
			cps++;
		}
	}
	b->len = bytes;
	b->ptr[bytes] = '\0';
	return tract_buf_puts(b, ELLIPSIS);
}

int tract_text_first_line(char **out, const char *text)
{
	tract_buf b = TRACT_BUF_INIT;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_text_first_line: out is NULL");
	*out = NULL;
	if (!text)
		return tract_error_set(TRACT_EINVAL, "tract_text_first_line: text is NULL");
	return tract_buf_finish(out, &b, put_first_line(&b, text));
}

int tract_text_truncate(char **out, const char *text, size_t max_chars)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_text_truncate: out is NULL");
	*out = NULL;
	if (!text)
		return tract_error_set(TRACT_EINVAL, "tract_text_truncate: text is NULL");
	rc = tract_buf_puts(&b, text);
	if (rc == 0)
		rc = cut(&b, max_chars);
	return tract_buf_finish(out, &b, rc);
}

/* The first line of a payload's text, of a tool call's header, or of its
 * flat JSON (what log --oneline shows for a commit without a message). */
static int put_payload_line(tract_buf *b, const char *payload_json)
{
	const cJSON *text, *ct;
	cJSON *v;
	int rc;

	v = payload_json ? cJSON_Parse(payload_json) : NULL;
	if (!v)
		return tract_buf_put(b, "", 0);
	ct = cJSON_GetObjectItemCaseSensitive(v, "content_type");
	text = cJSON_GetObjectItemCaseSensitive(v, "text");
	if (!cJSON_IsString(text))
		text = cJSON_GetObjectItemCaseSensitive(v, "content");
	if (!cJSON_IsString(text))
		text = cJSON_GetObjectItemCaseSensitive(v, "summary");
	if (cJSON_IsString(text)) {
		rc = put_first_line(b, text->valuestring);
	} else if (cJSON_IsString(ct) && strcmp(ct->valuestring, "tool_io") == 0) {
		const cJSON *dir = cJSON_GetObjectItemCaseSensitive(v, "direction");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "tool_name");
		tract_buf head = TRACT_BUF_INIT;

		rc = tract_buf_printf(&head, "Tool %s: %s",
				      cJSON_IsString(dir) ? dir->valuestring : "?",
				      cJSON_IsString(name) ? name->valuestring : "?");
		if (rc == 0)
			rc = put_first_line(b, head.ptr);
		tract_buf_dispose(&head);
	} else {
		const cJSON *payload = cJSON_GetObjectItemCaseSensitive(v, "payload");
		char *flat = cJSON_PrintUnformatted(payload ? payload : v);

		rc = flat ? put_first_line(b, flat) : TRACT_ENOMEM;
		free(flat);
	}
	cJSON_Delete(v);
	return rc;
}

int tract_content_preview(char **out, const char *payload_json, size_t max_chars)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_content_preview: out is NULL");
	*out = NULL;
	rc = put_payload_line(&b, payload_json);
	if (rc == 0)
		rc = cut(&b, max_chars);
	return tract_buf_finish(out, &b, rc);
}

/* ---- sanitizing text for a terminal --------------------------------------- */

/* Length of the well-formed UTF-8 sequence at p (at most n bytes) and its
 * code point, or 0 when the bytes there are not one. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		len = 2;
		c = p[0] & 0x1F;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		len = 3;
		c = p[0] & 0x0F;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		len = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3F);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10FFFF)))
		return 0;
	*cp = c;
	return len;
}

/* Code points that reorder or hide text on a terminal: bidi embeddings,
 * overrides, isolates and marks, line and paragraph separators, the
 * interlinear annotation characters, the byte order mark. */
static int is_format_hazard(uint32_t c)
{
	return c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x2028 && c <= 0x202E) ||
	       (c >= 0x2066 && c <= 0x2069) || (c >= 0xFFF9 && c <= 0xFFFB) || c == 0xFEFF;
}

int tract_text_sanitize(char **out, const char *text, size_t len, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)text;
	tract_buf b = TRACT_BUF_INIT;
	size_t i = 0;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_text_sanitize: out is NULL");
	*out = NULL;
	if (!text)
		return tract_error_set(TRACT_EINVAL, "tract_text_sanitize: text is NULL");
	rc = tract_buf_put(&b, "", 0);
	while (i < len && rc == 0) {
		uint32_t c = 0;
		size_t n = utf8_decode(p + i, len - i, &c);

		if (n == 0) {
			rc = tract_buf_printf(&b, "\\x%02X", p[i]);
			i++;
			continue;
		}
		if ((c == '\n' || c == '\t') && (flags & TRACT_SANITIZE_KEEP_NEWLINES))
			rc = tract_buf_putc(&b, (char)c);
		else if (c < 0x20 || c == 0x7F)
			rc = tract_buf_printf(&b, "\\x%02X", (unsigned)c);
		else if ((c >= 0x80 && c <= 0x9F) || is_format_hazard(c))
			rc = tract_buf_printf(&b, "\\u%04X", (unsigned)c);
		else
			rc = tract_buf_put(&b, text + i, n);
		i += n;
	}
	return tract_buf_finish(out, &b, rc);
}
