/*
 * compile.h - compiling the commit chain into the messages sent to a model.
 */
#ifndef TRACT_COMPILE_H
#define TRACT_COMPILE_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A compiled context (immutable copy; owns its strings). */
typedef struct tract_context tract_context;

/** Options of tract_context_compile(): TRACT_COMPILE_OPTIONS_INIT or
 *  tract_compile_options_init(). */
typedef struct {
	unsigned int version;
	/** Compile as of this commit (a reference of the tract), or NULL. */
	const char *at_commit;
	/** Compile as of this instant (UTC µs), or TRACT_TIME_NONE: the tract
	 *  as it was then, also before a later reset, compression, rebase,
	 *  switch or branch rename (the ref log: where HEAD's line was at that
	 *  time, then its newest commit created at or before it). */
	tract_time at_time;
	/** Append " [edited]" to messages replaced by an edit. */
	int edit_markers;
	/** Give merge commits their reference JSON message (default: none). */
	int merge_messages;
} tract_compile_options;

#define TRACT_COMPILE_OPTIONS_VERSION 1
#define TRACT_COMPILE_OPTIONS_INIT {TRACT_COMPILE_OPTIONS_VERSION, NULL, TRACT_TIME_NONE, 0, 0}

/** Initialize opts as TRACT_COMPILE_OPTIONS_INIT with the given version. */
TRACT_EXTERN(int) tract_compile_options_init(tract_compile_options *opts, unsigned int version);

/**
 * Compile HEAD (spec/core.md §6). opts NULL means a plain compile, which
 * uses the compile cache. at_commit and at_time are exclusive
 * (TRACT_EINVAL); an unknown at_commit is TRACT_ENOTFOUND.
 */
TRACT_EXTERN(int) tract_context_compile(tract_context **out, tract *t, const tract_compile_options *opts);

TRACT_EXTERN(void) tract_context_free(tract_context *ctx);

TRACT_EXTERN(size_t) tract_context_count(const tract_context *ctx);
TRACT_EXTERN(const char *) tract_context_role(const tract_context *ctx, size_t i);
/**
 * Content of message i: tract_context_content_len() bytes of UTF-8 and a
 * NUL after them. A text may hold U+0000 (JSON allows it; the reference
 * stores such texts), which is a 0x00 byte here: used as a C string the
 * content ends at the first one, so callers that need all of it use the
 * length. The same goes for the name.
 */
TRACT_EXTERN(const char *) tract_context_content(const tract_context *ctx, size_t i);
/** Length in bytes of message i's content (0 when i is out of range). */
TRACT_EXTERN(size_t) tract_context_content_len(const tract_context *ctx, size_t i);
TRACT_EXTERN(const char *) tract_context_name(const tract_context *ctx, size_t i); /**< or NULL */
/** Length in bytes of message i's name (0 when it has none). */
TRACT_EXTERN(size_t) tract_context_name_len(const tract_context *ctx, size_t i);
TRACT_EXTERN(const char *) tract_context_commit_hash(const tract_context *ctx, size_t i);
/** Generation config of message i as JSON ("{}" when none). */
TRACT_EXTERN(const char *) tract_context_generation_config(const tract_context *ctx, size_t i);
TRACT_EXTERN(int64_t) tract_context_token_count(const tract_context *ctx);
/** "tiktoken:o200k_base", "estimate:...", "api:P+C" or "". */
TRACT_EXTERN(const char *) tract_context_token_source(const tract_context *ctx);

/** Renderings of a compiled context. */
typedef enum {
	/** CLI.md `compile --json`: messages, token_count, commit_count,
	 *  token_source, commit_hashes, generation_configs. */
	TRACT_FORMAT_JSON = 0,
	/** OpenAI Chat Completions request members: {"messages": [...]}, tool
	 *  calls as assistant tool_calls and results as "tool" messages with
	 *  tool_call_id (DESIGN.md §9; the rules are in the README). */
	TRACT_FORMAT_OPENAI = 1,
	/** Anthropic Messages request members: {"system": "...", "messages":
	 *  [...]}, tool_use and tool_result blocks, same-role turns merged. */
	TRACT_FORMAT_ANTHROPIC = 2,
	/** Plain text, one "[role] content" block per message. */
	TRACT_FORMAT_TEXT = 3,
} tract_format;

/** Render a context; release *out with tract_string_free(). */
TRACT_EXTERN(int) tract_context_render(char **out, const tract_context *ctx, tract_format fmt);
/**
 * The same, with the rendering's length in *len (may be NULL). The JSON
 * renderings write U+0000 as "\u0000"; TRACT_FORMAT_TEXT writes it as the
 * 0x00 byte it is, so a text rendering is all there only up to *len.
 */
TRACT_EXTERN(int) tract_context_render_n(char **out, size_t *len, const tract_context *ctx,
					 tract_format fmt);

/** tract_context_render_with() flag: put reasoning messages in the openai
 *  and anthropic renderings (as assistant text); they are left out
 *  otherwise. The json and text renderings always hold them. */
#define TRACT_RENDER_REASONING (1u << 0)

/** tract_context_render_n() with flags (TRACT_RENDER_*; 0 = the same). */
TRACT_EXTERN(int) tract_context_render_with(char **out, size_t *len, const tract_context *ctx,
					    tract_format fmt, unsigned flags);

/** "json", "openai", "anthropic", "text" <-> enum (parse: TRACT_EINVAL
 *  when unknown). */
TRACT_EXTERN(const char *) tract_format_name(tract_format fmt);
TRACT_EXTERN(int) tract_format_parse(tract_format *out, const char *name);

/**
 * Record the token usage a provider reported for the current HEAD (or
 * head_hash, which must equal HEAD). usage_json is an OpenAI
 * ({"prompt_tokens",...}) or Anthropic ({"input_tokens",...}) usage
 * object. Nothing is written to the store; later plain compiles at the
 * same HEAD report the API figures. out (may be NULL) receives the
 * updated context.
 */
TRACT_EXTERN(int) tract_usage_record(tract_context **out, tract *t, const char *usage_json,
				     const char *head_hash);

#ifdef __cplusplus
}
#endif
#endif
