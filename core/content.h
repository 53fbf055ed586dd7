/*
 * content.h - content types (internal): validation and normalization of the
 * eight built-in types and of custom ones (spec/core.md §3), the text a
 * commit's token count is taken from (§3.5), and the message a payload
 * compiles to (§6.7).
 */
#ifndef TRACT_CORE_CONTENT_H
#define TRACT_CORE_CONTENT_H

#include <cjson/cJSON.h>

#include "buf.h"
#include "tract/content.h"

typedef struct {
	char *name;
	tract_content_validator validate;
	void *payload;
} tract_custom_type;

typedef struct {
	tract_custom_type *types;
	size_t count;
} tract_content_registry;

void tract_content_registry_dispose(tract_content_registry *reg);
int tract_content_registry_add(tract_content_registry *reg, const char *name,
			       tract_content_validator fn, void *payload);

/**
 * Validate and normalize content (a parsed JSON value) into N: an object
 * with content_type and every declared field, keys sorted. reg may be NULL.
 * Errors are TRACT_EINVAL with the spec's message prefixes.
 */
int tract_content_normalize_json(cJSON **out, const tract_content_registry *reg,
				 const cJSON *content);

/** Which text a payload yields. */
typedef enum {
	TRACT_TEXT_NONE = 0,  /* empty text */
	TRACT_TEXT_MEMBER,    /* the "text" string */
	TRACT_TEXT_CONTENT,   /* the "content" string */
	TRACT_TEXT_PAYLOAD,   /* J-TOKEN of "payload" (count only) */
	TRACT_TEXT_TOOL,      /* tool_io header + J-PRETTY (compile only) */
	TRACT_TEXT_PRETTY,    /* J-PRETTY of "payload" (freeform, compile only) */
	TRACT_TEXT_FLAT,      /* J-FLAT of the whole payload */
} tract_text_kind;

/** The text a commit's token count is taken from (§3.5; session: the
 *  compiled text, per DECISIONS.md). Appends to out, with U+0000 as a
 *  real 0x00 byte (json.h): the bytes tiktoken counts. */
int tract_content_count_text(tract_buf *out, tract_text_kind *kind, const cJSON *n);

/** Built-in default priority used by auto-annotation and compile. */
tract_priority tract_content_default_priority(const char *content_type);

/** Longest tool call id tool_io's call_id takes (DESIGN.md §9). */
#define TRACT_CALL_ID_MAXLEN 64

/** True when id is 1 to TRACT_CALL_ID_MAXLEN characters of [A-Za-z0-9_-]:
 *  valid as an OpenAI tool_call_id and as an Anthropic tool_use id (which
 *  must match ^[a-zA-Z0-9_-]+$). */
int tract_call_id_valid(const char *id);

/** What a compiled message is beyond its text, for the provider
 *  renderings (core/chat.c). */
typedef enum {
	TRACT_MSG_TEXT = 0,    /* an ordinary message */
	TRACT_MSG_TOOL_CALL,   /* tool_io, direction "call" */
	TRACT_MSG_TOOL_RESULT, /* tool_io, direction "result" */
	TRACT_MSG_REASONING,   /* content type reasoning */
} tract_msg_kind;

/** A compiled message built from a payload (§6.7). */
typedef struct {
	const char *role;  /* static string */
	char *content;     /* malloc'd; NUL after content_len bytes */
	char *name;        /* malloc'd or NULL; NUL after name_len bytes */
	size_t content_len; /* U+0000 is a 0x00 byte in both, so the */
	size_t name_len;    /* lengths, not strlen(), tell where they end */
	tract_text_kind kind;
	/* The tool call or result a tool_io payload holds (mkind says which);
	 * all NULL for other messages. */
	tract_msg_kind mkind;
	char *tool_name;    /* malloc'd */
	char *call_id;      /* malloc'd, NULL when absent or not a valid id */
	const char *status; /* static "success" / "error", or NULL */
	char *tool_body;    /* malloc'd: a call's arguments (J-CANON of the
			     * payload); a result's text (the payload's only
			     * member when that is a string "text" or
			     * "content", else J-CANON of the payload), with
			     * U+0000 as a 0x00 byte */
	size_t tool_body_len;
} tract_message_parts;

/** Build role/content/name from a parsed payload. */
int tract_content_message(tract_message_parts *out, const cJSON *payload);
/**
 * The same parts as tract_content_message() read straight from a stored
 * payload's text, for the common flat payloads whose message is their
 * "text" or "content" string (out->kind is then also the kind
 * tract_content_count_text() gives). Returns 1 when done, 0 when the
 * payload needs the parsed path, or TRACT_ENOMEM.
 */
int tract_content_message_flat(tract_message_parts *out, const char *payload, size_t len);
void tract_message_parts_dispose(tract_message_parts *m);

/**
 * True when the compiled content of payload is exactly the text its
 * per-commit token count was taken from, so a stored count can be reused.
 */
int tract_content_count_reusable(tract_text_kind count_kind, tract_text_kind message_kind);

#endif
