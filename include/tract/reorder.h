/*
 * reorder.h - a compiled context in another order (spec/agents.md §2 with
 * DECISIONS.md). Nothing is written: reordering is a view of a compile.
 *
 * The commits named come first, in the order given, then every other
 * message in its compiled order. A commit names its message: an edit
 * commit names the message of the commit it edits; a commit that compiles
 * to no message (skipped, a merge commit) is an error, as is a message
 * named twice. The checks look at the final sequence:
 *
 *   response_chain_break     (semantic)   a message now comes before the
 *                                         message its commit responds to
 *   tool_result_before_call  (structural) a tool result now comes before
 *                                         the call it answers (a provider
 *                                         would reject the request)
 *
 * Warnings are returned; with strict set, any warning makes the call fail
 * (TRACT_EINVAL naming the first) instead. Token counts are the compile's
 * per-message counts (name included), summed again.
 */
#ifndef TRACT_REORDER_H
#define TRACT_REORDER_H

#include "compile.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	const char *kind;      /**< "response_chain_break" | "tool_result_before_call" */
	const char *severity;  /**< "semantic" | "structural" */
	char commit_hash[TRACT_HASH_HEXSIZE + 1]; /**< the message that moved too early */
	char *description;
} tract_reorder_warning;

typedef struct {
	tract_reorder_warning *items;
	size_t count;
} tract_reorder_warning_list;

typedef struct {
	unsigned int version;
	/** How to compile before reordering (at_commit, at_time...); NULL = HEAD. */
	const tract_compile_options *compile;
	/** Fail on any warning instead of returning it. */
	int strict;
} tract_reorder_options;

#define TRACT_REORDER_OPTIONS_VERSION 1
#define TRACT_REORDER_OPTIONS_INIT {TRACT_REORDER_OPTIONS_VERSION, NULL, 0}
TRACT_EXTERN(int) tract_reorder_options_init(tract_reorder_options *opts, unsigned int version);

/**
 * Compile, then reorder: order holds n revisions (hashes, prefixes, refs).
 * *out gets the reordered context (release with tract_context_free);
 * *warnings (may be NULL: not wanted) the warnings, an empty list when
 * there are none (release with tract_reorder_warning_list_free).
 */
TRACT_EXTERN(int) tract_context_reorder(tract_context **out, tract_reorder_warning_list **warnings,
					tract *t, const char *const *order, size_t n,
					const tract_reorder_options *opts);
TRACT_EXTERN(void) tract_reorder_warning_list_free(tract_reorder_warning_list *list);
/** [{"kind", "severity", "commit_hash", "description"}...]. */
TRACT_EXTERN(int) tract_reorder_warning_list_to_json(char **out,
						     const tract_reorder_warning_list *list);

#ifdef __cplusplus
}
#endif
#endif
