/*
 * refs.h - navigating a tract's history and managing its refs: reset,
 * checkout, switch, branches and tags (spec/history.md §1-§5).
 *
 * Revisions (tract_revision_resolve, commit.h) name commits everywhere:
 * a full hash, a unique hex prefix (at least 4 digits, case-insensitive),
 * HEAD (or @), ORIG_HEAD, PREV_HEAD, a tag, a branch, refs/..., each
 * followed by any chain of git's suffixes: REV~N (N first parents), REV^
 * (the first parent), REV^N (parent N of a merge, in commit_parents
 * position order; parent 1 is the commit's parent_hash), REV^0 (REV
 * itself), e.g. main~2^2~1.
 *
 * Every call that writes validates first, in a read transaction, then
 * writes in one transaction that checks that the refs it moves (and HEAD
 * with its branch, when the operation starts from them) are still as read:
 * when another writer moved one in between, the call fails with
 * TRACT_ESTALE and writes nothing (the other writer's change stands).
 * Inside a batch (tract_batch_begin) both happen in the batch's
 * transaction.
 */
#ifndef TRACT_REFS_H
#define TRACT_REFS_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reset, checkout, switch ------------------------------------------------ */

/** Modes of tract_reset(). There is no working tree: both move HEAD the
 *  same way; the mode is validated and reported. */
typedef enum {
	TRACT_RESET_SOFT = 0,
	TRACT_RESET_HARD = 1,
} tract_reset_mode;

/** "soft" / "hard". */
TRACT_EXTERN(const char *) tract_reset_mode_name(tract_reset_mode mode);

/**
 * Move HEAD to a revision (spec/history.md §3): the current branch when
 * HEAD is attached, the detached HEAD otherwise. The previous head is
 * saved as ORIG_HEAD. out receives the commit. Commits left ahead stay
 * in the store (resolvable by hash, ORIG_HEAD) until gc. Errors:
 * TRACT_ENOTFOUND, TRACT_EAMBIGUOUS, TRACT_EINVAL (bad revision or mode),
 * TRACT_ESTALE.
 */
TRACT_EXTERN(int) tract_reset(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *rev,
			      tract_reset_mode mode);

/**
 * Check out a branch or a commit (spec/history.md §4.1). A branch name
 * attaches HEAD to the branch; any other revision detaches HEAD at the
 * commit (read-only: commits are refused with TRACT_EDETACHED). The
 * position left is saved as PREV_HEAD (and PREV_BRANCH when it was a
 * branch). target "-" returns to that previous position: the previous
 * branch when it still exists, otherwise PREV_HEAD detached. out (may be
 * NULL) receives the commit HEAD is at - for "-" onto a branch, the saved
 * PREV_HEAD (the reference's value; the branch's tip unless it moved
 * since). Errors: TRACT_ENOTFOUND (unknown target, no previous position),
 * TRACT_EAMBIGUOUS, TRACT_EINVAL, TRACT_ESTALE.
 */
TRACT_EXTERN(int) tract_checkout(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *target);

/** Options of tract_switch(): TRACT_SWITCH_OPTIONS_INIT or tract_switch_options_init(). */
typedef struct {
	unsigned int version;
	/** Create the branch first (it must not exist), at start. */
	int create;
	/** With create: the revision the new branch starts at; NULL = HEAD. */
	const char *start;
} tract_switch_options;

#define TRACT_SWITCH_OPTIONS_VERSION 1
#define TRACT_SWITCH_OPTIONS_INIT {TRACT_SWITCH_OPTIONS_VERSION, 0, NULL}

/** Initialize opts as TRACT_SWITCH_OPTIONS_INIT with the given version. */
TRACT_EXTERN(int) tract_switch_options_init(tract_switch_options *opts, unsigned int version);

/**
 * Switch to a branch (spec/history.md §4.3): like tract_checkout() of a
 * branch name, but anything that is not a branch is TRACT_ENOTFOUND
 * ("Branch not found: NAME"). With opts->create the branch is created at
 * opts->start first (name rules as tract_branch_create()). branch "-" is
 * tract_checkout(t, "-"). out (may be NULL) receives the commit HEAD is at.
 */
TRACT_EXTERN(int) tract_switch(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *branch,
			       const tract_switch_options *opts);

/* ---- branches ------------------------------------------------------------------ */

/**
 * Check a branch name against git's check-ref-format rules (spec/history.md
 * §5.1 and DECISIONS.md): not empty, valid UTF-8, no "..", no whitespace
 * or ~ ^ : ? * [ \, no control character (C0, DEL, C1, bidirectional
 * controls), no "@{", not "@" nor "HEAD", not
 * starting with '-', no component starting with '.' or ending with
 * ".lock", no leading, trailing or doubled '/', not ending with '.', at
 * most TRACT_BRANCH_NAME_MAX bytes. TRACT_EINVAL "Invalid branch name
 * 'NAME': REASON" otherwise.
 */
TRACT_EXTERN(int) tract_branch_name_check(const char *name);

/** Longest branch or tag name: the refs column holds 255 bytes with the
 *  "refs/heads/" prefix. */
#define TRACT_BRANCH_NAME_MAX 244

/** Flags of tract_branch_create(). */
enum {
	/** Attach HEAD to the new branch (the reference's default; PREV_HEAD
	 *  and PREV_BRANCH are not updated, spec/history.md §5.2). */
	TRACT_BRANCH_CREATE_SWITCH = 1u << 0,
};

/**
 * Create branch name at the revision start (NULL = HEAD); out (may be
 * NULL) receives its tip. Errors: TRACT_EINVAL (name), TRACT_EEXISTS
 * ("Branch already exists: NAME"), TRACT_ENOTFOUND (start, or no commit
 * yet: "Cannot create branch: no commits exist"), TRACT_EAMBIGUOUS,
 * TRACT_ESTALE.
 */
TRACT_EXTERN(int) tract_branch_create(char out[TRACT_HASH_HEXSIZE + 1], tract *t,
				      const char *name, const char *start, unsigned int flags);

/**
 * Delete a branch (its ref only; commits stay until gc). Refused for the
 * current branch (TRACT_EINVAL) and, unless force, for a branch whose tip
 * HEAD's history does not contain (TRACT_EUNMERGED; no check without a
 * HEAD commit). out (may be NULL) receives the tip it had. Errors:
 * TRACT_ENOTFOUND ("Branch not found: NAME"), TRACT_ESTALE.
 */
TRACT_EXTERN(int) tract_branch_delete(char out[TRACT_HASH_HEXSIZE + 1], tract *t,
				      const char *name, int force);

/**
 * Rename a branch; HEAD follows when it was attached to it, and so does
 * PREV_BRANCH. Renaming a branch to its own name does nothing. Errors:
 * TRACT_ENOTFOUND (old), TRACT_EINVAL (new name), TRACT_EEXISTS (new),
 * TRACT_ESTALE.
 */
TRACT_EXTERN(int) tract_branch_rename(tract *t, const char *old_name, const char *new_name);

/** One branch of tract_branch_list(). */
typedef struct {
	char *name;
	char tip[TRACT_HASH_HEXSIZE + 1];
	int current;     /**< HEAD is attached to it */
	/** Commits reachable from this branch and not from the default branch
	 *  (ahead), and the reverse (behind); -1 when the tract has no
	 *  default branch (tract_open_options.default_branch, "main"). */
	int64_t ahead;
	int64_t behind;
} tract_branch;

typedef struct {
	tract_branch *items;
	size_t count;
} tract_branch_list;

/** Every branch of the tract, by name (bytewise). Release the list with
 *  tract_branch_list_free(). */
TRACT_EXTERN(int) tract_branch_list_get(tract_branch_list **out, tract *t);
TRACT_EXTERN(void) tract_branch_list_free(tract_branch_list *list);

/** The list as a JSON array of {"name", "commit_hash", "current", "ahead",
 *  "behind"} (ahead and behind null when unknown). Release *out with
 *  tract_string_free(). */
TRACT_EXTERN(int) tract_branch_list_to_json(char **out, const tract_branch_list *list);

/* ---- tags ---------------------------------------------------------------------- */

/** Check a tag name: the rules of tract_branch_name_check() ("Invalid tag
 *  name 'NAME': REASON"). */
TRACT_EXTERN(int) tract_tag_name_check(const char *name);

/**
 * Create tag name (ref refs/tags/NAME) at revision rev (NULL = HEAD); out
 * (may be NULL) receives the commit. Tags are revisions, clone copies
 * them and gc keeps what they point at. Errors: TRACT_EINVAL (name),
 * TRACT_EEXISTS ("Tag already exists: NAME"), TRACT_ENOTFOUND,
 * TRACT_EAMBIGUOUS, TRACT_ESTALE.
 */
TRACT_EXTERN(int) tract_tag_create(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *name,
				   const char *rev);

/** Delete a tag; out (may be NULL) receives the commit it named. Errors:
 *  TRACT_ENOTFOUND ("Tag not found: NAME"), TRACT_ESTALE. */
TRACT_EXTERN(int) tract_tag_delete(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *name);

/** One tag of tract_tag_list_get(). */
typedef struct {
	char *name;
	char target[TRACT_HASH_HEXSIZE + 1];
} tract_tag;

typedef struct {
	tract_tag *items;
	size_t count;
} tract_tag_list;

/** Every tag of the tract, by name (bytewise). Release the list with
 *  tract_tag_list_free(). */
TRACT_EXTERN(int) tract_tag_list_get(tract_tag_list **out, tract *t);
TRACT_EXTERN(void) tract_tag_list_free(tract_tag_list *list);

/** The list as a JSON array of {"name", "commit_hash"}. Release *out with
 *  tract_string_free(). */
TRACT_EXTERN(int) tract_tag_list_to_json(char **out, const tract_tag_list *list);

#ifdef __cplusplus
}
#endif
#endif
