/*
 * agents.h - multi-agent sessions (spec/agents.md §6 with DECISIONS.md):
 * many tracts in one store, a parent spawning children, collapsing a
 * child's work into its parent, expanding a collapse commit back to the
 * child, session-boundary commits and resuming the right tract.
 *
 * Every operation here is atomic: validated first, written in one backend
 * transaction, nothing written on failure.
 */
#ifndef TRACT_AGENTS_H
#define TRACT_AGENTS_H

#include "common.h"
#include "store.h"
#include "commit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tract_llm tract_llm;

/* ---- tracts of a store -------------------------------------------------- */

/**
 * The tracts of a store (§6.2 list_tracts with DECISIONS.md): every tract
 * created by init or spawn or holding commits, most recently active first,
 * with its persisted display name, spawning parent and is_active (0 when
 * the latest session commit on its current branch is an `end`). The same
 * as tract_store_list_tracts(). Release with tract_info_list_free().
 */
TRACT_EXTERN(int) tract_store_tract_list(tract_info_list **out, tract_store *store);

/** One tract's record (as in the list); TRACT_ENOTFOUND when the store has
 *  no such tract. Release with tract_info_free(). */
TRACT_EXTERN(int) tract_store_tract_get(tract_info **out, tract_store *store, const char *tract_id);
TRACT_EXTERN(void) tract_info_free(tract_info *info);

/** A tract's record as one object of CLI.md's `tracts --json` array. */
TRACT_EXTERN(int) tract_info_to_json(char **out, const tract_info *info);

/* ---- spawn pointers ------------------------------------------------------- */

/** A spawn pointer (§6.1 SpawnInfo). */
typedef struct {
	int64_t spawn_id;
	char *parent_tract_id;
	char *parent_commit_hash; /**< parent HEAD at spawn time, NULL when none */
	char *child_tract_id;
	char *purpose;
	char *inheritance_mode; /**< "head_snapshot", "full_clone", "selective" */
	char *display_name;     /**< NULL when none */
	tract_time created_at;
} tract_spawn_info;

typedef struct {
	tract_spawn_info *items;
	size_t count;
} tract_spawn_info_list;

/** The pointer whose child is child_tract_id (the tract's parent);
 *  TRACT_ENOTFOUND for a root tract. Release with tract_spawn_info_free(). */
TRACT_EXTERN(int)
tract_spawn_info_get(tract_spawn_info **out, tract_store *store, const char *child_tract_id);
/** The pointers whose parent is parent_tract_id, oldest first (may be
 *  empty). Release with tract_spawn_info_list_free(). */
TRACT_EXTERN(int)
tract_spawn_children_list(tract_spawn_info_list **out, tract_store *store,
                          const char *parent_tract_id);
TRACT_EXTERN(void) tract_spawn_info_free(tract_spawn_info *info);
TRACT_EXTERN(void) tract_spawn_info_list_free(tract_spawn_info_list *list);
/** A pointer as a JSON object (the SpawnInfo fields, created_at ISO 8601). */
TRACT_EXTERN(int) tract_spawn_info_to_json(char **out, const tract_spawn_info *info);

/**
 * *out = 1 when candidate is a spawning ancestor of tract_id (its parent,
 * the parent's parent...). The walk is iterative with a visited set, so a
 * cycle in stored pointers ends it (false) and no depth limit applies.
 * (X, X) is 0 unless stored pointers lead back to X.
 */
TRACT_EXTERN(int)
tract_store_tract_has_ancestor(int *out, tract_store *store, const char *tract_id,
                               const char *candidate);

/* ---- spawn -------------------------------------------------------------- */

typedef enum {
	/** The child starts with one pinned instruction holding the parent's
	 *  compiled context as "[role]: content" lines. */
	TRACT_INHERIT_HEAD_SNAPSHOT = 0,
	/** The child gets a copy of every commit of the parent (every branch,
	 *  tag, edit, annotation, custom type), rehashed. */
	TRACT_INHERIT_FULL_CLONE = 1,
	/** The child gets the commits the caller names (commits) and/or every
	 *  commit of the parent's current branch whose content type is listed
	 *  (content_types), in history order, as a linear chain. */
	TRACT_INHERIT_SELECTIVE = 2,
} tract_inherit_mode;

/** "head_snapshot" / "full_clone" / "selective" <-> enum. */
TRACT_EXTERN(const char *) tract_inherit_mode_name(tract_inherit_mode mode);
TRACT_EXTERN(int) tract_inherit_mode_parse(tract_inherit_mode *out, const char *name);

typedef struct {
	unsigned int version;
	/** What the child is for (required; may be ""). */
	const char *purpose;
	tract_inherit_mode inherit;
	/** Persisted display name of the child, or NULL. */
	const char *display_name;
	/** The child's id; NULL = a fresh random one. An existing tract is
	 *  TRACT_EEXISTS. */
	const char *child_tract_id;
	/** head_snapshot: largest token count of the inherited text; the
	 *  oldest non-pinned messages are dropped first (then the oldest
	 *  pinned ones, the last message is always kept). -1 = no limit. */
	int64_t max_tokens;
	/** selective: references of parent commits to carry (may be 0). */
	const char *const *commits;
	size_t n_commits;
	/** selective: content types whose commits (current branch) are carried. */
	const char *const *content_types;
	size_t n_content_types;
	/** Options of the child handle; NULL = defaults. */
	const tract_open_options *child_options;
} tract_spawn_options;

#define TRACT_SPAWN_OPTIONS_VERSION 1
#define TRACT_SPAWN_OPTIONS_INIT                                                                   \
	{                                                                                          \
		TRACT_SPAWN_OPTIONS_VERSION, NULL, TRACT_INHERIT_HEAD_SNAPSHOT, NULL, NULL, -1,    \
		    NULL, 0, NULL, 0, NULL                                                         \
	}

TRACT_EXTERN(int) tract_spawn_options_init(tract_spawn_options *opts, unsigned int version);

/**
 * Spawn a child of parent (§6.3 with DECISIONS.md), in one transaction:
 * the spawn pointer (parent_commit_hash = the parent's HEAD before the
 * spawn commit), the child's inherited history, the child's display name
 * and the spawn commit in the parent (system dialogue "Spawned subagent
 * for: <purpose>", message "spawn: <purpose>"). A detached parent is
 * TRACT_EDETACHED. *child is a handle on the new tract.
 */
TRACT_EXTERN(int) tract_spawn(tract **child, tract *parent, const tract_spawn_options *opts);

/* ---- collapse --------------------------------------------------------- */

typedef enum {
	/** The caller's summary is committed; no LLM is ever called. */
	TRACT_COLLAPSE_MANUAL = 0,
	/** A draft (the caller's summary or the LLM's) is stored; approve or
	 *  discard it by id, from any process. */
	TRACT_COLLAPSE_COLLABORATIVE = 1,
	/** The summary (the caller's or the LLM's) is committed at once. */
	TRACT_COLLAPSE_AUTONOMOUS = 2,
} tract_collapse_mode;

TRACT_EXTERN(const char *) tract_collapse_mode_name(tract_collapse_mode mode);
TRACT_EXTERN(int) tract_collapse_mode_parse(tract_collapse_mode *out, const char *name);

typedef struct {
	unsigned int version;
	tract_collapse_mode mode;
	/** The summary text; required in manual mode. */
	const char *summary;
	/** Provider used when summary is NULL (collaborative, autonomous). */
	tract_llm *llm;
	/** Extra instructions for the LLM, or NULL. */
	const char *instructions;
	/** Target length for the LLM, -1 = none. */
	int64_t target_tokens;
} tract_collapse_options;

#define TRACT_COLLAPSE_OPTIONS_VERSION 1
#define TRACT_COLLAPSE_OPTIONS_INIT                                                                \
	{                                                                                          \
		TRACT_COLLAPSE_OPTIONS_VERSION, TRACT_COLLAPSE_MANUAL, NULL, NULL, NULL, -1        \
	}

TRACT_EXTERN(int) tract_collapse_options_init(tract_collapse_options *opts, unsigned int version);

/** What a collapse did (§6.1 CollapseResult). */
typedef struct {
	char *parent_commit_hash; /**< the collapse commit, NULL for a draft */
	char *child_tract_id;
	char *summary_text;
	int64_t summary_tokens; /**< the parent's count of summary_text */
	int64_t source_tokens;  /**< tokens of the child's messages summarized */
	char *purpose;
	char *source_head; /**< the child commit summarized up to ("" empty child) */
	char *since_head;  /**< the previous collapse's source head, NULL for the first */
	char *draft_id;    /**< collaborative: the stored draft, else NULL */
} tract_collapse_result;

/**
 * Collapse child_id's work into parent (§6.5 with DECISIONS.md). parent
 * must be the child's recorded parent (TRACT_EINVAL otherwise); a child
 * without a spawn pointer is TRACT_ENOTFOUND. The child's HEAD is read
 * once; only its work since the previous collapse into this parent is
 * summarized (TRACT_EINVAL when there is none). The collapse commit is an
 * assistant dialogue with the summary, message "collapse: <purpose>" and
 * metadata collapse_source_tract_id / collapse_source_head (and
 * collapse_since_head after the first). Release *out with
 * tract_collapse_result_free().
 */
TRACT_EXTERN(int)
tract_collapse(tract_collapse_result **out, tract *parent, const char *child_id,
               const tract_collapse_options *opts);

/**
 * Commit a stored collaborative draft, with summary replacing its text
 * when not NULL. The draft is removed. TRACT_ENOTFOUND for an unknown id;
 * TRACT_ESTALE when the child was collapsed since, or its history no
 * longer holds the summarized commit.
 */
TRACT_EXTERN(int)
tract_collapse_draft_approve(tract_collapse_result **out, tract *parent, const char *draft_id,
                             const char *summary);
/** Remove a stored draft; TRACT_ENOTFOUND for an unknown id. */
TRACT_EXTERN(int) tract_collapse_draft_discard(tract *parent, const char *draft_id);
/** The stored drafts of parent, as results (parent_commit_hash NULL). */
TRACT_EXTERN(int)
tract_collapse_draft_list(tract_collapse_result ***out, size_t *count, tract *parent);

TRACT_EXTERN(void) tract_collapse_result_free(tract_collapse_result *result);
TRACT_EXTERN(int) tract_collapse_result_to_json(char **out, const tract_collapse_result *result);

/* ---- expand ------------------------------------------------------------ */

/** A collapse commit expanded to the work it summarized. */
typedef struct {
	char collapse_commit[TRACT_HASH_HEXSIZE + 1];
	char *parent_tract_id;
	char *child_tract_id;
	char *purpose;     /**< from the spawn pointer, NULL when none */
	char *source_head; /**< NULL when the child was empty */
	char *since_head;  /**< NULL for a first collapse */
	/** The child's commits summarized: since_head (excluded) to
	 *  source_head, newest first, with content. */
	tract_commit_list *commits;
} tract_expansion;

/**
 * Expand a collapse commit (a full hash or a unique prefix of at least 4
 * hex digits, looked up in the whole store). TRACT_ENOTFOUND when no such
 * commit; TRACT_EINVAL when it is not a collapse commit. Release with
 * tract_expansion_free(). The child tract opens with tract_open().
 */
TRACT_EXTERN(int) tract_expand(tract_expansion **out, tract_store *store, const char *ref);
TRACT_EXTERN(void) tract_expansion_free(tract_expansion *expansion);
TRACT_EXTERN(int) tract_expansion_to_json(char **out, const tract_expansion *expansion);

/* ---- sessions -------------------------------------------------------------- */

/** Content of a session-boundary commit (§6.1 SessionContent). */
typedef struct {
	unsigned int version;
	const char *session_type; /**< "start", "end", "handoff" or "checkpoint" */
	const char *summary;
	const char *const *decisions;
	size_t n_decisions;
	const char *const *failed_approaches;
	size_t n_failed_approaches;
	const char *const *next_steps;
	size_t n_next_steps;
} tract_session_content;

#define TRACT_SESSION_CONTENT_VERSION 1
#define TRACT_SESSION_CONTENT_INIT                                                                 \
	{                                                                                          \
		TRACT_SESSION_CONTENT_VERSION, NULL, NULL, NULL, 0, NULL, 0, NULL, 0               \
	}

/** Commit a session-boundary commit (auto-pinned). opts may be NULL. */
TRACT_EXTERN(int)
tract_commit_create_session(tract_commit **out, tract *t, const tract_session_content *session,
                            const tract_commit_options *opts);

/**
 * The tract to continue (§6.8 with DECISIONS.md): among tracts that are
 * not ended (latest session commit on the current branch is not an
 * `end`), most recently active first, the first root tract, else the
 * first child tract. TRACT_ENOTFOUND when there is none.
 */
TRACT_EXTERN(int) tract_resume(tract **out, tract_store *store, const tract_open_options *opts);

#ifdef __cplusplus
}
#endif
#endif
