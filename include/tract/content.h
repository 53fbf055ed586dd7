/*
 * content.h - content types: validation of the built-in types and
 * registration of custom ones.
 */
#ifndef TRACT_CONTENT_H
#define TRACT_CONTENT_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Validate custom content. content_json is the caller's object. On success
 * return 0 and set *out_json to the normalized object (malloc'd; the core
 * frees it with free()); it need not contain "content_type", which the
 * core forces to the registered name. On failure return non-zero and write
 * a reason into errbuf.
 */
typedef int (*tract_content_validator)(char **out_json, const char *content_json, char *errbuf,
				       size_t errlen, void *payload);

/**
 * Register (or replace) a custom content type for this handle. A custom
 * type may shadow a built-in name. Names: 1-50 characters of [A-Za-z0-9_-].
 */
TRACT_EXTERN(int) tract_content_type_register(tract *t, const char *name,
					      tract_content_validator validate, void *payload);

/**
 * Validate and normalize content without committing. On success
 * *out_json (may be NULL) receives the J-STORE rendering and
 * out_content_hash (may be NULL) the 64-hex content hash.
 */
TRACT_EXTERN(int) tract_content_normalize(char **out_json,
					  char out_content_hash[TRACT_HASH_HEXSIZE + 1], tract *t,
					  const char *content_json);

/** True when name is one of the eight built-in content types
 *  (instruction, dialogue, tool_io, reasoning, artifact, output, freeform,
 *  session). */
TRACT_EXTERN(int) tract_content_type_is_builtin(const char *name);

/** The name of built-in content type i (0 <= i < 8, in the order above),
 *  or NULL past the last one. */
TRACT_EXTERN(const char *) tract_content_type_builtin(size_t i);

/**
 * The content type and role a shortcut KIND stands for: "instruction" is
 * an instruction (role NULL); "user", "assistant" and "system" are
 * dialogue turns of that role. Any other kind is TRACT_EINVAL (both outs
 * NULL). out_type and out_role may be NULL. The strings are static.
 */
TRACT_EXTERN(int) tract_content_shortcut_parse(const char **out_type, const char **out_role,
					       const char *kind);

/** Options of tract_content_build(): TRACT_CONTENT_BUILD_OPTIONS_INIT or
 *  tract_content_build_options_init(). */
typedef struct {
	unsigned int version;
	/** The speaker's name of a dialogue turn (KIND user, assistant or
	 *  system only), or NULL. */
	const char *name;
	/** How messages about the caller's JSON name it ("--json", a file
	 *  name); NULL = "content". */
	const char *label;
	/* ---- version 2 ---- */
	/** KIND tool-call / tool-result: the tool's name (required). */
	const char *tool_name;
	/** KIND tool-call: the call's id, NULL = a fresh one ("call_" and 24
	 *  random hex digits); tool-result: the id of the call it answers
	 *  (NULL = none: compile pairs it with the latest unanswered call of
	 *  the same tool). 1 to 64 characters of [A-Za-z0-9_-]. */
	const char *call_id;
	/** KIND tool-result: "success", "error" or NULL (none). */
	const char *status;
} tract_content_build_options;

#define TRACT_CONTENT_BUILD_OPTIONS_VERSION 2
#define TRACT_CONTENT_BUILD_OPTIONS_INIT \
	{TRACT_CONTENT_BUILD_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL}

/** Initialize opts as TRACT_CONTENT_BUILD_OPTIONS_INIT with the given version. */
TRACT_EXTERN(int) tract_content_build_options_init(tract_content_build_options *opts,
						   unsigned int version);

/**
 * The content object of `tract commit KIND`, for tract_commit_create().
 * KIND is a shortcut (tract_content_shortcut_parse), a content type, or
 * one of the tool kinds (DESIGN.md §9), which take text and the options'
 * tool_name (required), call_id and status:
 *
 *  tool-call    text is the arguments, a JSON object: {"content_type":
 *               "tool_io", "direction": "call", "tool_name", "call_id"
 *               (given, or a fresh one), "payload": ARGS}.
 *  tool-result  text is the result: a JSON object is the payload as it
 *               is; any other text T gives the payload {"text": T} (which
 *               the provider renderings send as the plain text T). Adds
 *               "call_id" when given and "status" when given.
 *
 * The commit refuses a result whose call_id no tool call of the history
 * has (given or derived, tract_commit_create). Otherwise give exactly one
 * of:
 *
 *  text  (shortcuts only) {"content_type": T, ["role": R,] "text": TEXT
 *        [, "name": NAME]}; a built-in type other than a shortcut needs a
 *        JSON object, anything else is an unknown content type.
 *  json  the caller's JSON object, checked (valid UTF-8 and JSON, an
 *        object, finite numbers); its "content_type" must be the kind's
 *        type, a shortcut's "role" and the name must match when present;
 *        the missing ones are inserted after the opening brace and the
 *        rest of the text is kept as it is (numbers are not reformatted).
 *
 * The content itself is validated when committed. Errors: TRACT_EINVAL
 * with the message `tract commit` prints ("LABEL is not valid JSON",
 * "LABEL: content_type 'x' does not match KIND 'y'"...). Text, JSON and
 * name are C strings: one holding U+0000 must come as JSON with "\u0000".
 * Release *out with tract_string_free().
 */
TRACT_EXTERN(int) tract_content_build(char **out, const char *kind, const char *text,
				      const char *json, const tract_content_build_options *opts);

/**
 * One line previewing a content payload (stored JSON), as `log --oneline`
 * shows a commit without a message: the first line of its "text",
 * "content" or "summary" string, "Tool DIRECTION: NAME" for a tool call,
 * else its (or its "payload" member's) compact JSON; control characters
 * become spaces; cut to max_chars code points with "…" (0: no limit). A
 * NULL or unparsable payload previews as "". Release *out with
 * tract_string_free().
 */
TRACT_EXTERN(int) tract_content_preview(char **out, const char *payload_json, size_t max_chars);

#ifdef __cplusplus
}
#endif
#endif
