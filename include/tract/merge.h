/*
 * merge.h - merging a branch into the current one (spec/history.md §8 with
 * spec/DECISIONS.md): fast-forward, merge commits over all parents, the
 * three structural conflicts, resolvers (tract/resolver.h) and the
 * review-then-commit of a merge with conflicts.
 *
 * A merge writes nothing until it commits: a fast-forward and a clean
 * merge commit at once; a merge with conflicts returns them, each with a
 * resolution key (the edited commit), and commits when every key has a
 * resolution (auto_commit) or when the caller calls tract_merge_commit()
 * after setting the texts it chose. Every call is one transaction.
 *
 * The merge commit is the reference's: content freeform, payload
 * {"message": "Merged <source> into <target>"} plus "resolutions":
 * {key: text} when conflicts were resolved, operation append, message
 * "Merge branch '<source>' into <target>", both parents in commit_parents.
 * Unlike the reference its hash covers every parent (the parent_hashes
 * form of spec/core.md §2.4). It compiles to no message unless
 * tract_compile_options.merge_messages asks for the reference's JSON one,
 * and each resolution applies to the compiled context as an edit of its
 * key timed at the merge commit: the resolved text replaces the content
 * of the edited commit's message (role, name kept), unless a later edit
 * of that commit overrides it. The reasoning of each resolution is kept
 * in the merge commit's metadata, {"resolution_reasoning": {key: text}}.
 */
#ifndef TRACT_MERGE_H
#define TRACT_MERGE_H

#include "common.h"
#include "resolver.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a merge did (or found). */
typedef enum {
	/** Nothing to do: the source is the current head or already merged
	 *  into it. Nothing written. */
	TRACT_MERGE_UP_TO_DATE = 0,
	/** The current branch moved to the source tip; no commit made. */
	TRACT_MERGE_FAST_FORWARD = 1,
	/** A merge commit without conflicts. */
	TRACT_MERGE_CLEAN = 2,
	/** Conflicts were found; committed once every key is resolved. */
	TRACT_MERGE_CONFLICT = 3,
} tract_merge_type;

/** "up_to_date", "fast_forward", "clean", "conflict". */
TRACT_EXTERN(const char *) tract_merge_type_name(tract_merge_type type);

/** How conflicts are decided. */
typedef enum {
	/** By the resolver of the options, if any; otherwise returned. */
	TRACT_MERGE_STRATEGY_AUTO = 0,
	/** Every conflict takes the current (target) side's text. */
	TRACT_MERGE_STRATEGY_OURS = 1,
	/** Every conflict takes the source side's text. */
	TRACT_MERGE_STRATEGY_THEIRS = 2,
} tract_merge_strategy;

/** "auto", "ours", "theirs" <-> enum (parse: case-insensitive,
 *  TRACT_EINVAL when unknown). */
TRACT_EXTERN(const char *) tract_merge_strategy_name(tract_merge_strategy s);
TRACT_EXTERN(int) tract_merge_strategy_parse(tract_merge_strategy *out, const char *name);

/** Options of tract_merge(): TRACT_MERGE_OPTIONS_INIT or
 *  tract_merge_options_init(). */
typedef struct {
	unsigned int version;
	/** Make a merge commit even when a fast-forward is possible. */
	int no_ff;
	/** OURS and THEIRS are the built-in resolvers below; they exclude
	 *  a resolver of one's own (TRACT_EINVAL when both are given). */
	tract_merge_strategy strategy;
	/** Called once per conflict, in conflict order (NULL: none). */
	tract_resolver_cb resolver;
	void *resolver_payload;
	/** Commit at once when every conflict's key has a resolution. */
	int auto_commit;
	/** Delete the source branch once the merge is committed (a
	 *  fast-forward included), in the same transaction. */
	int delete_branch;
} tract_merge_options;

#define TRACT_MERGE_OPTIONS_VERSION 1
#define TRACT_MERGE_OPTIONS_INIT                                                          \
	{TRACT_MERGE_OPTIONS_VERSION, 0, TRACT_MERGE_STRATEGY_AUTO, NULL, NULL, 0, 0}

/** Initialize opts as TRACT_MERGE_OPTIONS_INIT with the given version. */
TRACT_EXTERN(int) tract_merge_options_init(tract_merge_options *opts, unsigned int version);

/** The outcome of a merge; it borrows its tract, which must outlive it. */
typedef struct tract_merge_result tract_merge_result;

/**
 * Merge the branch source_branch into the current branch (history.md §8).
 * Checks, in order: HEAD detached (TRACT_EDETACHED "Cannot merge in
 * detached HEAD state"), source branch missing (TRACT_ENOTFOUND "Branch
 * not found: NAME"), no commit on the current branch (TRACT_ENOTFOUND
 * "Cannot merge: no commits on current branch"). Then, with *out set:
 * the source at or behind HEAD is TRACT_MERGE_UP_TO_DATE; HEAD behind the
 * source a fast-forward (unless no_ff); otherwise the merge base (a best
 * common ancestor) and the commits unique to each side (over all parents)
 * give the conflicts, in a fixed order: both_edit (in the order of the
 * current side's edits), skip_vs_edit with the editor on the source side,
 * then on the current side, edit_plus_append with the editor on the
 * current side, then on the source side. Without conflicts a merge commit
 * is made. With conflicts the resolver (or strategy) is asked about each
 * in order; TRACT_RESOLVE_ABORT fails the call with TRACT_EABORTED
 * ("Resolver aborted merge: REASON"), a resolver's negative return with
 * its code. Nothing is written on any failure. Other errors: TRACT_EINVAL
 * (options, a resolved text that is not UTF-8, a generation config that
 * is not a JSON object), TRACT_EBUDGET, TRACT_ESTALE (the branch moved
 * during the call), TRACT_ESTORAGE.
 */
TRACT_EXTERN(int) tract_merge(tract_merge_result **out, tract *t, const char *source_branch,
			      const tract_merge_options *opts);

/**
 * Set (or replace) the resolution of a conflict key (review before
 * commit). TRACT_ENOTFOUND when key is no conflict's key, TRACT_EINVAL
 * for a committed result or a text that is not UTF-8.
 */
TRACT_EXTERN(int) tract_merge_result_set_resolution(tract_merge_result *r, const char *key,
						    const char *text);

/**
 * Commit a merge with conflicts once every key is resolved: the merge
 * commit with the resolutions, then the source branch deleted if the
 * merge asked for it. TRACT_EINVAL for a result that is committed or has
 * nothing to commit; TRACT_ECONFLICT "Cannot commit merge: N unresolved
 * conflict(s)"; TRACT_EDETACHED when HEAD is detached; TRACT_ESTALE when
 * HEAD is not on the merge's target branch at the tip the merge saw (or
 * the source branch to delete moved). Nothing is written on failure.
 */
TRACT_EXTERN(int) tract_merge_commit(tract_merge_result *r);

TRACT_EXTERN(void) tract_merge_result_free(tract_merge_result *r);

TRACT_EXTERN(tract_merge_type) tract_merge_result_type(const tract_merge_result *r);
/** 1 once the merge is in the store (fast-forward, clean, committed). */
TRACT_EXTERN(int) tract_merge_result_committed(const tract_merge_result *r);
TRACT_EXTERN(const char *) tract_merge_result_source_branch(const tract_merge_result *r);
TRACT_EXTERN(const char *) tract_merge_result_target_branch(const tract_merge_result *r);
/** The merge base, NULL when none was computed or the histories share none. */
TRACT_EXTERN(const char *) tract_merge_result_base(const tract_merge_result *r);
TRACT_EXTERN(const char *) tract_merge_result_source_tip(const tract_merge_result *r);
TRACT_EXTERN(const char *) tract_merge_result_target_tip(const tract_merge_result *r);
/** The merge commit (the source tip after a fast-forward), NULL before
 *  the merge is committed. */
TRACT_EXTERN(const char *) tract_merge_result_commit(const tract_merge_result *r);

TRACT_EXTERN(size_t) tract_merge_result_conflict_count(const tract_merge_result *r);
/** Conflict i as a resolver sees it (borrowed), NULL when out of range. */
TRACT_EXTERN(const tract_issue *) tract_merge_result_conflict(const tract_merge_result *r,
							      size_t i);
/** Conflicts whose key has no resolution yet. */
TRACT_EXTERN(size_t) tract_merge_result_unresolved_count(const tract_merge_result *r);
/** The resolution of a key (NULL when none) and its reasoning (NULL). */
TRACT_EXTERN(const char *) tract_merge_result_resolution(const tract_merge_result *r,
							 const char *key);
TRACT_EXTERN(const char *) tract_merge_result_reasoning(const tract_merge_result *r,
							const char *key);

/** The commits the merge brings together: the current side's unique
 *  commits, then the source side's, each oldest first. */
TRACT_EXTERN(size_t) tract_merge_result_merged_count(const tract_merge_result *r);
TRACT_EXTERN(const char *) tract_merge_result_merged(const tract_merge_result *r, size_t i);

/**
 * The result as JSON: {"merge_type", "committed", "source_branch",
 * "target_branch", "merge_base_hash", "source_tip_hash",
 * "target_tip_hash", "merge_commit_hash", "conflicts": [{"conflict_type",
 * "key", "target_hash", "commit_a", "commit_b", "content_a_text",
 * "content_b_text", "description"}], "resolutions": {key: text},
 * "resolution_reasoning": {key: text}, "unresolved": N,
 * "auto_merged": [hash...]}. Release with tract_string_free().
 */
TRACT_EXTERN(int) tract_merge_result_to_json(char **out, const tract_merge_result *r);

/**
 * The built-in resolvers of the strategies: resolve every conflict the
 * current side's way (ours) or the source side's (theirs). The side that
 * made the conflict's edit resolves to that edit's text; the other side
 * resolves to the edited commit as it left it, its message when compiled
 * at the merge base (its own text when it compiles to none there, as a
 * skipped commit does), never to the append or "[SKIPPED]" the conflict
 * names for it. tract_merge() gives them what they need for that when
 * they are the strategy, or the resolver with a NULL payload; called
 * otherwise they answer text_a (ours) or text_b (theirs). A skipped
 * target stays skipped: the annotation is the tract's, not a branch's.
 */
TRACT_EXTERN(int) tract_merge_resolver_ours(tract_resolution *out, const tract_issue *issue,
					    void *payload);
TRACT_EXTERN(int) tract_merge_resolver_theirs(tract_resolution *out, const tract_issue *issue,
					      void *payload);

#ifdef __cplusplus
}
#endif
#endif
