/*
 * resolver.h - the callback that decides conflicts and issues of merge,
 * cherry-pick and rebase (spec/history.md §8.11).
 *
 * One shape serves every history operation and every kind of resolver:
 * a program's own function, the built-in strategies (`ours`, `theirs`)
 * and the LLM resolver of the provider layer all are a tract_resolver_cb
 * with a payload. The operation calls it once per issue, in the issue
 * order the operation documents, and acts on the answer:
 *
 *   TRACT_RESOLVE_RESOLVED  text is the resolved text (required: a
 *                           "resolved" without text is left unresolved)
 *   TRACT_RESOLVE_SKIP      leave this issue unresolved (merge), skip the
 *                           commit (cherry-pick), accept the warning (rebase)
 *   TRACT_RESOLVE_ABORT     stop: the operation writes nothing and fails
 *                           with TRACT_EABORTED, quoting reasoning
 *
 * The callback returns 0, or a negative TRACT_E* code to fail the
 * operation with that code (nothing written; tract_error_set style
 * message left by the callback, if any). Strings it puts in the
 * resolution must stay valid until it returns to the operation's next
 * call of it or the operation returns, whichever comes first; the
 * operation copies them.
 */
#ifndef TRACT_RESOLVER_H
#define TRACT_RESOLVER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What an issue is about. */
typedef enum {
	/* merge conflicts (history.md §8.5) */
	TRACT_ISSUE_BOTH_EDIT = 1,        /**< both sides edited the same commit */
	TRACT_ISSUE_SKIP_VS_EDIT = 2,     /**< one side skipped what the other edited */
	TRACT_ISSUE_EDIT_PLUS_APPEND = 3, /**< an edit of shared history beside new appends */
	/* cherry-pick and rebase (§9, §10) */
	TRACT_ISSUE_EDIT_TARGET_MISSING = 4, /**< an edit whose target is not on the destination */
} tract_issue_kind;

/** "both_edit", "skip_vs_edit", "edit_plus_append", "edit_target_missing". */
TRACT_EXTERN(const char *) tract_issue_kind_name(tract_issue_kind kind);

/** One conflict or issue, as handed to a resolver. Borrowed for the call. */
typedef struct {
	tract_issue_kind kind;
	const char *operation;   /**< "merge", "cherry-pick" or "rebase" */
	/** The resolution key: the edited commit (merge conflicts), the commit
	 *  being picked or replayed (cherry-pick, rebase). */
	const char *key;
	const char *target_hash;  /**< the edited commit, NULL when none */
	const char *commit_a;     /**< current (target) side's commit, NULL when none */
	const char *commit_b;     /**< source side's commit (the picked/replayed commit) */
	const char *text_a;       /**< its text ("[SKIPPED]" for a skipped one), "" when none */
	const char *text_b;
	const char *branch_a;     /**< current branch name, NULL when detached */
	const char *branch_b;     /**< source branch or revision as given, NULL when none */
	const char *description;  /**< one line, for people and prompts */
} tract_issue;

typedef enum {
	TRACT_RESOLVE_SKIP = 0,
	TRACT_RESOLVE_RESOLVED = 1,
	TRACT_RESOLVE_ABORT = 2,
} tract_resolve_action;

/** A resolver's answer; the operation zeroes it before each call. */
typedef struct {
	tract_resolve_action action;
	const char *text;                   /**< resolved text */
	const char *reasoning;              /**< why (kept with a merge's resolutions) */
	const char *generation_config_json; /**< provenance of an LLM answer (JSON object) */
} tract_resolution;

typedef int (*tract_resolver_cb)(tract_resolution *out, const tract_issue *issue,
				 void *payload);

#ifdef __cplusplus
}
#endif
#endif
