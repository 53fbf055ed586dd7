/*
 * commit.h - creating and reading commits, resolving references,
 * annotations and configuration queries.
 */
#ifndef TRACT_COMMIT_H
#define TRACT_COMMIT_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A commit read from the store (immutable). */
typedef struct tract_commit tract_commit;

/** Options of tract_commit_create() and its shortcuts:
 *  TRACT_COMMIT_OPTIONS_INIT or tract_commit_options_init(). */
typedef struct {
	unsigned int version;
	tract_operation operation;   /**< TRACT_OP_APPEND (default) or TRACT_OP_EDIT */
	/** Edit target (required for edits) or the commit an append answers;
	 *  a full hash, a branch name or a unique prefix of this tract. */
	const char *response_to;
	const char *message;         /**< free-text commit message, may be NULL */
	const char *metadata_json;   /**< a JSON object or NULL */
	const char *generation_config_json; /**< a JSON object or NULL */
} tract_commit_options;

#define TRACT_COMMIT_OPTIONS_VERSION 1
#define TRACT_COMMIT_OPTIONS_INIT {TRACT_COMMIT_OPTIONS_VERSION, TRACT_OP_APPEND, NULL, NULL, NULL, NULL}

/** Initialize opts as TRACT_COMMIT_OPTIONS_INIT with the given version. */
TRACT_EXTERN(int) tract_commit_options_init(tract_commit_options *opts, unsigned int version);

/**
 * Commit content (a JSON object whose "content_type" selects the type,
 * spec/core.md §3) on HEAD. The content is validated and normalized, the
 * blob stored once, the commit hashed and HEAD moved, all in one
 * transaction. out may be NULL. Errors: TRACT_EINVAL (bad content, JSON,
 * metadata...), TRACT_EDETACHED, TRACT_EEDIT, TRACT_EBUDGET,
 * TRACT_ESTALE (another writer moved the branch and the retry budget was
 * exhausted), TRACT_ESTORAGE.
 */
TRACT_EXTERN(int) tract_commit_create(tract_commit **out, tract *t, const char *content_json,
				      const tract_commit_options *opts);

/**
 * Shortcuts that build the content object: an instruction; a dialogue
 * turn (role "user", "assistant" or "system"; name may be NULL). opts as
 * for tract_commit_create() (may be NULL).
 */
TRACT_EXTERN(int) tract_commit_create_instruction(tract_commit **out, tract *t, const char *text,
						  const tract_commit_options *opts);
TRACT_EXTERN(int) tract_commit_create_dialogue(tract_commit **out, tract *t, const char *role,
					       const char *text, const char *name,
					       const tract_commit_options *opts);

/**
 * Resolve a revision of this tract to a full hash: an exact hash, a
 * unique hex prefix of at least 4 characters (case-insensitive, literal),
 * HEAD (or @), ORIG_HEAD, PREV_HEAD, a tag, a branch or a full ref name,
 * then any chain of ~N, ^ and ^N suffixes (refs.h describes the grammar
 * and which name wins). Errors: TRACT_ENOTFOUND, TRACT_EAMBIGUOUS,
 * TRACT_EINVAL (a malformed suffix, a number of more than 9 digits, more
 * than 4096 bytes).
 */
TRACT_EXTERN(int) tract_revision_resolve(char out[TRACT_HASH_HEXSIZE + 1], tract *t,
					 const char *ref);

/** Look up a commit by reference (see tract_revision_resolve), with its content. */
TRACT_EXTERN(int) tract_commit_lookup(tract_commit **out, tract *t, const char *ref);

TRACT_EXTERN(void) tract_commit_free(tract_commit *c);

TRACT_EXTERN(const char *) tract_commit_hash(const tract_commit *c);
TRACT_EXTERN(const char *) tract_commit_tract_id(const tract_commit *c);
TRACT_EXTERN(const char *) tract_commit_parent(const tract_commit *c); /**< NULL for a root */
TRACT_EXTERN(const char *) tract_commit_content_hash(const tract_commit *c);
TRACT_EXTERN(const char *) tract_commit_content_type(const tract_commit *c);
TRACT_EXTERN(tract_operation) tract_commit_operation(const tract_commit *c);
TRACT_EXTERN(const char *) tract_commit_response_to(const tract_commit *c); /**< or NULL */
TRACT_EXTERN(const char *) tract_commit_message(const tract_commit *c);     /**< or NULL */
TRACT_EXTERN(int64_t) tract_commit_token_count(const tract_commit *c);
TRACT_EXTERN(const char *) tract_commit_metadata(const tract_commit *c);   /**< JSON or NULL */
TRACT_EXTERN(const char *) tract_commit_generation_config(const tract_commit *c); /**< JSON or NULL */
TRACT_EXTERN(tract_time) tract_commit_time(const tract_commit *c);
/** The stored content (payload_json) or NULL when not loaded/missing. */
TRACT_EXTERN(const char *) tract_commit_content(const tract_commit *c);
/** Merge parents beyond the first (position >= 1), or 0 for ordinary commits. */
TRACT_EXTERN(size_t) tract_commit_extra_parent_count(const tract_commit *c);
TRACT_EXTERN(const char *) tract_commit_extra_parent(const tract_commit *c, size_t i);

/** Flags of tract_commit_to_json() and tract_commit_list_to_json(). */
enum {
	/** Add "merge_parents": [hash...] when the commit has any. */
	TRACT_COMMIT_JSON_MERGE_PARENTS = 1u << 0,
	/** Add "content": the stored payload as stored, or null. */
	TRACT_COMMIT_JSON_CONTENT = 1u << 1,
	/** The object of CLI.md's `show --json`. */
	TRACT_COMMIT_JSON_SHOW = TRACT_COMMIT_JSON_MERGE_PARENTS | TRACT_COMMIT_JSON_CONTENT,
};

/**
 * The commit as a JSON object. flags 0: the object of CLI.md's `log
 * --json` (commit_hash, parent_hash, content_type, operation,
 * response_to, message, token_count, created_at, metadata,
 * generation_config, plus tract_id and content_hash); the flags add
 * members, in the order merge_parents, content. Release *out with
 * tract_string_free().
 */
TRACT_EXTERN(int) tract_commit_to_json(char **out, const tract_commit *c, unsigned int flags);

/**
 * One line previewing a commit, as `log --oneline` prints it: the first
 * line of its message (control characters as spaces), or without a
 * message tract_content_preview() of its content; cut to max_chars code
 * points with "…" (0: no limit). Release *out with tract_string_free().
 */
TRACT_EXTERN(int) tract_commit_preview(char **out, const tract_commit *c, size_t max_chars);

/** A list of commits. */
typedef struct {
	tract_commit **items;
	size_t count;
} tract_commit_list;

/** Release a list and its commits. NULL is a no-op. */
TRACT_EXTERN(void) tract_commit_list_free(tract_commit_list *list);

/**
 * A JSON array of the commits' tract_commit_to_json() objects (flags 0:
 * CLI.md's `log --json`). Release *out with tract_string_free().
 */
TRACT_EXTERN(int) tract_commit_list_to_json(char **out, const tract_commit_list *list,
					    unsigned int flags);

/** Options of tract_log_list(): TRACT_LOG_OPTIONS_INIT or tract_log_options_init(). */
typedef struct {
	unsigned int version;
	/** Where the walk starts: a reference of the tract; NULL = HEAD. */
	const char *start;
	/** At most this many commits; 0 = all. */
	size_t limit;
	/** Only commits of this operation (counted against limit);
	 *  TRACT_OP_UNKNOWN = every operation. */
	tract_operation operation;
} tract_log_options;

#define TRACT_LOG_OPTIONS_VERSION 1
#define TRACT_LOG_OPTIONS_INIT {TRACT_LOG_OPTIONS_VERSION, NULL, 0, TRACT_OP_UNKNOWN}

/** Initialize opts as TRACT_LOG_OPTIONS_INIT with the given version. */
TRACT_EXTERN(int) tract_log_options_init(tract_log_options *opts, unsigned int version);

/**
 * History along first parents, newest first (opts NULL: from HEAD, every
 * commit). Release the list with tract_commit_list_free().
 */
TRACT_EXTERN(int) tract_log_list(tract_commit_list **out, tract *t, const tract_log_options *opts);

/**
 * Callback of tract_log_foreach(): one commit, borrowed for the call only.
 * Return 0 to go on, a positive value to stop (the walk then returns 0),
 * or a negative TRACT_E* code to stop with that result (set the error
 * with a message first).
 */
typedef int (*tract_log_cb)(const tract_commit *commit, void *payload);

/** Flags of tract_log_foreach(). */
enum {
	/** Read each commit's content (tract_commit_content()); without it
	 *  the content is NULL and no blob is read. */
	TRACT_LOG_CONTENT = 1u << 0,
};

/**
 * tract_log_list() as a stream: the same commits in the same order, each
 * handed to cb as it is read, in memory independent of the length of the
 * history. opts->limit rows are asked of the backend (no more when no
 * operation filter is set); blobs are read only with TRACT_LOG_CONTENT.
 */
TRACT_EXTERN(int) tract_log_foreach(tract *t, const tract_log_options *opts, unsigned int flags,
				    tract_log_cb cb, void *payload);

/**
 * Commits of the tract (every branch, edits included) whose generation
 * config member `field` (a dotted path) compares with value_json under op
 * ("=", "!=", ">", "<", ">=", "<=") by SQLite's rules. Oldest first.
 */
TRACT_EXTERN(int) tract_config_query(tract_commit_list **out, tract *t, const char *field,
				     const char *op, const char *value_json);

/** An annotation row. */
typedef struct {
	int64_t id;
	char tract_id[TRACT_ID_MAXLEN + 1];
	char target_hash[TRACT_HASH_HEXSIZE + 1];
	tract_priority priority;
	char *reason; /**< NULL when none */
	tract_time created_at;
} tract_annotation;

/** The annotations of one commit. */
typedef struct {
	tract_annotation *items;
	size_t count;
} tract_annotation_list;

/** Set the priority of a commit (reason may be NULL). out_id may be NULL. */
TRACT_EXTERN(int) tract_annotation_create(int64_t *out_id, tract *t, const char *ref,
					  tract_priority priority, const char *reason);

/** Every annotation of a commit, oldest first (ties by id). Release the
 *  list with tract_annotation_list_free(). */
TRACT_EXTERN(int) tract_annotation_list_get(tract_annotation_list **out, tract *t,
					    const char *ref);
TRACT_EXTERN(void) tract_annotation_list_free(tract_annotation_list *list);

/** "skip"/"normal"/"pinned" <-> enum. parse returns TRACT_EINVAL when unknown. */
TRACT_EXTERN(const char *) tract_priority_name(tract_priority p);
TRACT_EXTERN(int) tract_priority_parse(tract_priority *out, const char *name);

/** "append"/"edit" <-> enum (case-insensitive parse; TRACT_EINVAL when
 *  unknown); the name of TRACT_OP_UNKNOWN is "unknown". */
TRACT_EXTERN(const char *) tract_operation_name(tract_operation op);
TRACT_EXTERN(int) tract_operation_parse(tract_operation *out, const char *name);

#ifdef __cplusplus
}
#endif
#endif
