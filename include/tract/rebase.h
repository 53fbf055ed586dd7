/*
 * rebase.h - copying commits onto the current branch: cherry-pick (one
 * commit) and rebase (every commit of the current branch that the target
 * lacks), spec/history.md §9 and §10 with DECISIONS.md.
 *
 * Both replay a commit the same way: a new commit through the normal
 * commit path (token budget, default annotations) with the original's
 * content (same content hash and blob), operation, message, metadata and
 * generation config, a new timestamp and the current head as parent; its
 * response_to follows the commits already replayed by the same operation
 * (an edit of a replayed commit edits the new copy), and the original's
 * latest explicit annotation (SKIP, PINNED, NORMAL set by someone, not
 * the default one a content type gets) is copied to the new commit.
 *
 * Each call is one transaction: it succeeds whole, or fails and leaves
 * every ref and row as it was.
 */
#ifndef TRACT_REBASE_H
#define TRACT_REBASE_H

#include "common.h"
#include "commit.h"
#include "resolver.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * An issue found before anything is written: an edit whose target is not
 * on the destination (TRACT_ISSUE_EDIT_TARGET_MISSING, the only kind
 * these operations produce). The same issue is handed to the resolver.
 */
typedef struct {
	tract_issue_kind kind;
	char commit[TRACT_HASH_HEXSIZE + 1];         /**< the commit picked or replayed */
	char missing_target[TRACT_HASH_HEXSIZE + 1]; /**< its edit target */
	/** The destination: the current head (cherry-pick; "" when the
	 *  branch has no commit) or the target's tip (rebase). */
	char destination[TRACT_HASH_HEXSIZE + 1];
	char *description; /**< one line (§9 step 2, §10 step 8) */
	/** The resolver's answer, or -1 when no resolver saw the issue. */
	int action;
} tract_replay_issue;

/** Options of tract_cherry_pick(): TRACT_CHERRY_PICK_OPTIONS_INIT or
 *  tract_cherry_pick_options_init(). */
typedef struct {
	unsigned int version;
	/** Decides the issues (resolver.h); NULL: any issue fails the pick
	 *  with TRACT_ECONFLICT. */
	tract_resolver_cb resolver;
	void *resolver_payload;
} tract_cherry_pick_options;

#define TRACT_CHERRY_PICK_OPTIONS_VERSION 1
#define TRACT_CHERRY_PICK_OPTIONS_INIT {TRACT_CHERRY_PICK_OPTIONS_VERSION, NULL, NULL}

/** Initialize opts as TRACT_CHERRY_PICK_OPTIONS_INIT with the given version. */
TRACT_EXTERN(int) tract_cherry_pick_options_init(tract_cherry_pick_options *opts,
						 unsigned int version);

/** What a cherry-pick did. */
typedef struct {
	tract_commit *original;   /**< the commit picked (with its content) */
	tract_commit *new_commit; /**< the copy, NULL when the resolver skipped it */
	tract_replay_issue *issues; /**< as detected, resolved or not */
	size_t issue_count;
	char new_head[TRACT_HASH_HEXSIZE + 1]; /**< HEAD after the pick */
} tract_cherry_pick_result;

/**
 * Copy the commit rev names (a full hash, a branch name, HEAD or a unique
 * prefix of this tract) onto HEAD. An edit whose target is not an
 * ancestor of HEAD (or with no commit on the branch) is an issue: the
 * resolver (opts) decides it, per issue in order:
 *   RESOLVED with text  the new commit is an APPEND of the original's
 *                       content type with that text (its "text" or
 *                       "content"; a session's summary; tool_io and
 *                       freeform get {"text": ...} as payload), metadata
 *                       plus original_operation "EDIT" and
 *                       original_response_to, no response_to
 *   RESOLVED, no text   left unresolved: TRACT_ECONFLICT
 *   SKIP                nothing is written; the result has no new commit
 *   ABORT               TRACT_EABORTED "Resolver aborted cherry-pick: ..."
 * The resolver's issue: operation "cherry-pick", key and commit_b the
 * picked commit, text_b its text, target_hash the missing target,
 * commit_a/branch_a the current head and branch, branch_b rev as given.
 * Without a resolver an issue is TRACT_ECONFLICT ("Cherry-pick has <n>
 * issue(s): ..."). Other errors: TRACT_EDETACHED (HEAD detached, as for
 * a commit), TRACT_ENOTFOUND / TRACT_EAMBIGUOUS (rev), TRACT_ECORRUPT
 * (the commit's blob is missing or invalid), and those of a commit
 * (TRACT_EBUDGET...). A commit already on the branch is copied again.
 * Release *out with tract_cherry_pick_result_free().
 */
TRACT_EXTERN(int) tract_cherry_pick(tract_cherry_pick_result **out, tract *t, const char *rev,
				    const tract_cherry_pick_options *opts);

TRACT_EXTERN(void) tract_cherry_pick_result_free(tract_cherry_pick_result *result);

/**
 * The result as the `cherry-pick --json` object: {"original_commit":
 * {...}, "new_commit": {...}|null, "new_head": "<hash>", "issues":
 * [{"issue_type", "commit", "missing_target", "target_branch_head",
 * "description", "resolution"}]} (commits as in `log --json`;
 * resolution "resolved", "skip", "abort" or null). Release *out with
 * tract_string_free().
 */
TRACT_EXTERN(int) tract_cherry_pick_result_to_json(char **out,
						   const tract_cherry_pick_result *result);

/** Flags of tract_rebase_options. */
enum {
	/**
	 * Check only: write nothing and call no resolver; the result tells
	 * what the rebase would do (outcome, onto, original_commits and every
	 * warning, none of them an error), with no replayed commits and
	 * new_head the current head.
	 */
	TRACT_REBASE_CHECK_ONLY = 1u << 0,
};

/** Options of tract_rebase(): TRACT_REBASE_OPTIONS_INIT or
 *  tract_rebase_options_init(). */
typedef struct {
	unsigned int version;
	/** Decides the warnings (resolver.h); NULL: any warning fails the
	 *  rebase with TRACT_ECONFLICT. */
	tract_resolver_cb resolver;
	void *resolver_payload;
	unsigned int flags; /**< TRACT_REBASE_* */
} tract_rebase_options;

#define TRACT_REBASE_OPTIONS_VERSION 1
#define TRACT_REBASE_OPTIONS_INIT {TRACT_REBASE_OPTIONS_VERSION, NULL, NULL, 0}

/** Initialize opts as TRACT_REBASE_OPTIONS_INIT with the given version. */
TRACT_EXTERN(int) tract_rebase_options_init(tract_rebase_options *opts, unsigned int version);

/** How a rebase ended. */
typedef enum {
	TRACT_REBASE_UP_TO_DATE = 0,   /**< nothing to do: the target is already in the branch */
	TRACT_REBASE_FAST_FORWARD = 1, /**< the branch was strictly behind: moved to the target */
	TRACT_REBASE_REPLAYED = 2,     /**< the branch's own commits were replayed on the target */
} tract_rebase_outcome;

/** What a rebase did. */
typedef struct {
	tract_rebase_outcome outcome;
	tract_commit_list *original_commits; /**< replayed, oldest first (empty list when none) */
	tract_commit_list *replayed_commits; /**< their copies, in the same order */
	tract_replay_issue *warnings;        /**< as detected, accepted or resolved */
	size_t warning_count;
	char onto[TRACT_HASH_HEXSIZE + 1];     /**< the target's tip */
	char new_head[TRACT_HASH_HEXSIZE + 1]; /**< the branch's tip after the rebase */
} tract_rebase_result;

/**
 * Replay the current branch's own commits (those reachable from HEAD and
 * not from onto, oldest first) on top of onto (a branch name, or any
 * revision of this tract), then move the branch to the last copy; HEAD
 * stays attached. A branch strictly behind onto is fast-forwarded; one
 * that already contains onto is left alone. ORIG_HEAD and PREV_HEAD are
 * not touched.
 *
 * An edit is retargeted to the copy of its target when the target is
 * replayed too; an edit whose target is neither replayed nor an ancestor
 * of onto is a warning, which the resolver (opts) decides, per warning in
 * order:
 *   SKIP                accept it: the edit is replayed as it is
 *   RESOLVED with text  the edit becomes an APPEND of that text, as in
 *                       tract_cherry_pick()
 *   RESOLVED, no text   left unresolved: TRACT_ECONFLICT
 *   ABORT               TRACT_EABORTED "Resolver aborted rebase: ..."
 * The resolver's issue: operation "rebase", key and commit_b the commit
 * to replay, text_b its text, target_hash the missing target, commit_a
 * onto's tip and branch_a onto as given (the destination), branch_b the
 * current branch (where the commits come from).
 * Without a resolver a warning is TRACT_ECONFLICT ("Rebase has <n>
 * semantic safety warning(s): ..."; TRACT_REBASE_CHECK_ONLY lists them
 * all, where the message may be cut). Other errors: TRACT_EDETACHED
 * ("Cannot rebase in detached HEAD state"), TRACT_ENOTFOUND ("Cannot
 * rebase: no commits on current branch", "Branch not found: <onto>"),
 * TRACT_EINVAL ("Cannot rebase branch containing merge commits"),
 * TRACT_ECORRUPT (a blob missing or invalid), TRACT_ESTALE (the branch
 * moved meanwhile) and those of a commit (TRACT_EBUDGET...). Release *out
 * with tract_rebase_result_free().
 */
TRACT_EXTERN(int) tract_rebase(tract_rebase_result **out, tract *t, const char *onto,
			       const tract_rebase_options *opts);

TRACT_EXTERN(void) tract_rebase_result_free(tract_rebase_result *result);

/**
 * The result as the `rebase --json` object: {"outcome": "up_to_date" |
 * "fast_forward" | "replayed", "onto": "<hash>", "new_head": "<hash>",
 * "original_commits": [...], "replayed_commits": [...] (as in `log
 * --json`), "warnings": [{"issue_type", "commit", "missing_target",
 * "new_base", "description", "resolution"}]}. Release *out with
 * tract_string_free().
 */
TRACT_EXTERN(int) tract_rebase_result_to_json(char **out, const tract_rebase_result *result);

/** "up_to_date", "fast_forward", "replayed". */
TRACT_EXTERN(const char *) tract_rebase_outcome_name(tract_rebase_outcome outcome);

#ifdef __cplusplus
}
#endif
#endif
