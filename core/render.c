/*
 * render.c - renderings of a compiled context: the JSON of `compile --json`,
 * plain text, and the OpenAI and Anthropic request bodies of chat.c
 * (renderings layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"
#include "chat.h"

/* ---- renderings -------------------------------------------------------------------------- */

static int put_str(tract_buf *b, const char *s)
{
	return tract_json_escape(b, s, strlen(s), 0);
}

/* Content and name by length: a U+0000 in them is a 0x00 byte, which
 * tract_json_escape() writes "\u0000". */
static int put_message(tract_buf *b, const tract_msg *m, const char *role)
{
	int rc = 0;

	rc |= tract_buf_puts(b, "{\"role\": ");
	rc |= put_str(b, role ? role : m->role);
	rc |= tract_buf_puts(b, ", \"content\": ");
	rc |= tract_json_escape(b, m->content, m->content_len, 0);
	if (m->name && !role) {
		rc |= tract_buf_puts(b, ", \"name\": ");
		rc |= tract_json_escape(b, m->name, m->name_len, 0);
	}
	rc |= tract_buf_putc(b, '}');
	return rc;
}

/* The reference's messages array (compile --json). */
static int render_messages(tract_buf *b, const tract_context *c)
{
	size_t i;
	int rc = tract_buf_putc(b, '[');

	for (i = 0; i < c->count; i++) {
		if (i)
			rc |= tract_buf_puts(b, ", ");
		rc |= put_message(b, tract_context_msg(c, i), NULL);
	}
	return rc | tract_buf_putc(b, ']');
}

static int render_json(tract_buf *b, const tract_context *c)
{
	size_t i;
	int rc = 0;

	rc |= tract_buf_puts(b, "{\"messages\": ");
	rc |= render_messages(b, c);
	rc |= tract_buf_printf(b, ", \"token_count\": %" PRId64 ", \"commit_count\": %zu",
			       c->token_count, c->count);
	rc |= tract_buf_puts(b, ", \"token_source\": ");
	rc |= put_str(b, tract_context_token_source(c));
	rc |= tract_buf_puts(b, ", \"commit_hashes\": [");
	for (i = 0; i < c->count; i++)
		rc |= tract_buf_printf(b, "%s\"%s\"", i ? ", " : "", tract_context_msg(c, i)->hash);
	rc |= tract_buf_puts(b, "], \"generation_configs\": [");
	for (i = 0; i < c->count; i++) {
		const char *text = tract_context_msg(c, i)->config;
		char err[64];
		cJSON *cfg = NULL;
		int prc;
		if (i)
			rc |= tract_buf_puts(b, ", ");
		prc = tract_json_parse(&cfg, text, strlen(text), TRACT_JSON_NONFINITE_TO_NULL, err,
				       sizeof(err));
		if (prc == 0) {
			rc |= tract_json_render(b, cfg, TRACT_JSON_FLAT);
			cJSON_Delete(cfg);
		} else if (prc == TRACT_ENOMEM) {
			rc |= prc; /* not an unreadable config: the rendering fails */
		} else {
			rc |= tract_buf_puts(b, "{}");
		}
	}
	return rc | tract_buf_puts(b, "]}");
}

/* The text as it is: a U+0000 is written as the 0x00 byte it is. */
static int render_text(tract_buf *b, const tract_context *c)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < c->count; i++) {
		const tract_msg *m = tract_context_msg(c, i);
		if (i)
			rc |= tract_buf_putc(b, '\n');
		rc |= tract_buf_printf(b, "[%s", m->role);
		if (m->name) {
			rc |= tract_buf_putc(b, ' ');
			rc |= tract_buf_put(b, m->name, m->name_len);
		}
		rc |= tract_buf_puts(b, "]\n");
		rc |= tract_buf_put(b, m->content, m->content_len);
		rc |= tract_buf_putc(b, '\n');
	}
	return rc;
}

static const char *const format_names[] = {"json", "openai", "anthropic", "text"};

const char *tract_format_name(tract_format fmt)
{
	return (unsigned)fmt < sizeof(format_names) / sizeof(format_names[0]) ? format_names[fmt]
									      : "unknown";
}

int tract_format_parse(tract_format *out, const char *name)
{
	size_t i;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_format_parse: out is NULL");
	for (i = 0; name && i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcmp(name, format_names[i]) == 0) {
			*out = (tract_format)i;
			return 0;
		}
	}
	return tract_error_set(TRACT_EINVAL,
			       "unknown format '%.64s' (json, openai, anthropic or text)",
			       name ? name : "(null)");
}

int tract_context_render(char **out, const tract_context *c, tract_format fmt)
{
	return tract_context_render_n(out, NULL, c, fmt);
}

int tract_context_render_n(char **out, size_t *len, const tract_context *c, tract_format fmt)
{
	return tract_context_render_with(out, len, c, fmt, 0);
}

int tract_context_render_with(char **out, size_t *len, const tract_context *c, tract_format fmt,
			      unsigned flags)
{
	unsigned chat_flags = (flags & TRACT_RENDER_REASONING) ? TRACT_CHAT_REASONING : 0;
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	if (len)
		*len = 0;
	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_context_render: out is NULL");
	*out = NULL;
	if (!c)
		return tract_error_set(TRACT_EINVAL, "tract_context_render: NULL context");
	switch (fmt) {
	case TRACT_FORMAT_JSON: rc = render_json(&b, c); break;
	case TRACT_FORMAT_OPENAI:
	case TRACT_FORMAT_ANTHROPIC:
		/* Exactly what the provider plugins send (chat.h). */
		rc = tract_chat_body_put(&b, c, fmt == TRACT_FORMAT_OPENAI ? "openai" : "anthropic",
					 chat_flags);
		if (rc < 0) {
			tract_buf_dispose(&b);
			return rc; /* the error is set */
		}
		break;
	case TRACT_FORMAT_TEXT: rc = render_text(&b, c); break;
	default: return tract_error_set(TRACT_EINVAL, "unknown format %d", (int)fmt);
	}
	if (rc) {
		tract_buf_dispose(&b);
		return tract_error_oom();
	}
	if (len)
		*len = b.len;
	*out = tract_buf_detach(&b);
	return *out ? 0 : tract_error_oom();
}
