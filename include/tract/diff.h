/*
 * diff.h - comparing the compiled contexts of two revisions
 * (spec/history.md §11): per-message status, unified text diffs of the
 * modified messages, token deltas and generation-config changes.
 */
#ifndef TRACT_DIFF_H
#define TRACT_DIFF_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What happened to one message between the two sides. */
typedef enum {
	TRACT_DIFF_UNCHANGED = 0,
	TRACT_DIFF_ADDED = 1,
	TRACT_DIFF_REMOVED = 2,
	TRACT_DIFF_MODIFIED = 3,
} tract_diff_status;

/** One entry of a diff, in diff order (not the order of either side). */
typedef struct {
	size_t index;             /**< 0, 1, 2... */
	tract_diff_status status;
	const char *role_a;       /**< NULL for an added message */
	const char *role_b;       /**< NULL for a removed message */
	/** Tokens of the B message minus those of the A message (each
	 *  counted with the tract's message counter, as compile counts
	 *  them): +B for added, -A for removed, 0 for unchanged. */
	int64_t token_delta;
	/**
	 * Modified entries: the unified diff of the two serialised messages
	 * (spec §11.5) without line terminators, headers included
	 * ("--- commit <a8>", "+++ commit <b8>", "@@ ... @@", then ' ', '-'
	 * or '+' lines). Lines may hold U+0000 as a 0x00 byte: line_lens
	 * gives their lengths. NULL / 0 for other entries, and for every
	 * entry when the diff was asked without lines.
	 */
	char **lines;
	size_t *line_lens;
	size_t line_count;
} tract_diff_entry;

/** Totals of a diff. */
typedef struct {
	size_t added, removed, modified, unchanged;
	int64_t total_token_delta; /**< sum of the entries' token deltas */
} tract_diff_stat;

/** One generation-config key whose value differs. */
typedef struct {
	char *key;
	char *old_json; /**< the A value as JSON, "null" when absent */
	char *new_json; /**< the B value as JSON, "null" when absent */
} tract_diff_config_change;

/** A diff; release it with tract_diff_result_free(). */
typedef struct {
	/** Full hash of side A, or "(empty)" when A is the empty context
	 *  before a root commit. */
	char commit_a[TRACT_HASH_HEXSIZE + 1];
	char commit_b[TRACT_HASH_HEXSIZE + 1]; /**< full hash of side B */
	tract_diff_entry *entries;
	size_t count;
	tract_diff_stat stat;
	/** Keys of the last non-empty generation config of each side whose
	 *  values differ, sorted by key (byte order). */
	tract_diff_config_change *config_changes;
	size_t config_change_count;
} tract_diff_result;

/** Options of tract_diff(): TRACT_DIFF_OPTIONS_INIT or tract_diff_options_init(). */
typedef struct {
	unsigned int version;
	/** Context lines around each change in the unified diffs (default 3). */
	unsigned int context_lines;
	/** Non-zero: no unified diff lines (statuses, deltas and config
	 *  changes only; what `diff --stat` prints). */
	int no_lines;
} tract_diff_options;

#define TRACT_DIFF_OPTIONS_VERSION 1
#define TRACT_DIFF_OPTIONS_INIT {TRACT_DIFF_OPTIONS_VERSION, 3, 0}

/** Initialize opts as TRACT_DIFF_OPTIONS_INIT with the given version. */
TRACT_EXTERN(int) tract_diff_options_init(tract_diff_options *opts, unsigned int version);

/**
 * Compare the compiled contexts of two revisions (each compiled as if HEAD
 * were there). rev_b NULL is HEAD (TRACT_ENOTFOUND "No commits to diff"
 * when the tract has none). rev_a NULL is B's first parent, which for an
 * edit is the context just before the edit, or the empty context when B
 * is a root. So: (NULL, NULL) = HEAD against its parent; (X, NULL) = X
 * against HEAD; (A, B) = A against B. Revisions are anything
 * tract_revision_resolve() accepts. Reads only.
 */
TRACT_EXTERN(int) tract_diff(tract_diff_result **out, tract *t, const char *rev_a,
			     const char *rev_b, const tract_diff_options *opts);

TRACT_EXTERN(void) tract_diff_result_free(tract_diff_result *result);

/** "unchanged", "added", "removed", "modified". */
TRACT_EXTERN(const char *) tract_diff_status_name(tract_diff_status status);

/**
 * The diff as the object of `tract diff --json`:
 * {"commit_a", "commit_b", "messages": [{"index", "status", "role_a",
 * "role_b", "token_delta", "lines": [...]}...], "stat": {"added",
 * "removed", "modified", "unchanged", "total_token_delta"},
 * "config_changes": {"key": [old, new]...}} (roles null when absent,
 * config values as JSON values, keys sorted). Release *out with
 * tract_string_free().
 */
TRACT_EXTERN(int) tract_diff_result_to_json(char **out, const tract_diff_result *result);

#ifdef __cplusplus
}
#endif
#endif
