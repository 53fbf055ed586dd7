/*
 * store.h - opening stores and tracts.
 *
 * A tract_store is one opened storage location (one backend connection);
 * it holds many tracts. A tract is one history inside a store. Either
 * handle is used by one thread at a time; processes and hosts coordinate
 * through the backend.
 */
#ifndef TRACT_STORE_H
#define TRACT_STORE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tract_store tract_store;
typedef struct tract tract;


/** Flags of tract_store_open(). */
enum {
	/** Create the store when it does not exist (otherwise ENOTFOUND). */
	TRACT_STORE_CREATE = 1u << 0,
};

/**
 * Open a store by URI: a plain path or "sqlite:PATH" (default backend),
 * "lmdb:DIR", "postgres://..." / "postgresql://...". The scheme selects
 * the backend plugin (DESIGN.md §5 for the search path). ":memory:" is a
 * private in-memory SQLite store. Without TRACT_STORE_CREATE a store that
 * does not exist is a TRACT_ENOTFOUND error and nothing is created.
 */
TRACT_EXTERN(int) tract_store_open(tract_store **out, const char *uri, unsigned flags);

/**
 * Release a store handle. Tracts opened from it keep it alive: the
 * connection closes when the store and every tract of it are freed, in
 * any order. NULL is a no-op.
 */
TRACT_EXTERN(void) tract_store_free(tract_store *store);

/**
 * The display form of a store URI, for messages: every password hidden
 * as "***" - the user-info password of scheme://user:PASSWORD@host, a
 * query parameter named *password (?password=, &sslpassword=) and a
 * *password key of a key=value connection string (quoted or not). The
 * rest is kept (user, host, port, path, other parameters); a path is
 * returned as it is. Release *out with tract_string_free().
 */
TRACT_EXTERN(int) tract_uri_redact(char **out, const char *uri);

/** Name of the backend serving the store ("sqlite"...). */
TRACT_EXTERN(const char *) tract_store_backend_name(const tract_store *store);

/** One tract of a store, as listed by tract_store_list_tracts(). */
typedef struct {
	char *tract_id;
	char *display_name;    /**< NULL when none */
	char *head;            /**< NULL when the tract has no commit */
	char *branch;          /**< NULL when detached or empty */
	int64_t commit_count;  /**< commits stored for the tract */
	tract_time last_activity; /**< newest commit, TRACT_TIME_NONE if none */
	char *parent_tract_id; /**< spawning parent, NULL when none */
	/** 0 when the latest session commit on the current branch is an
	 *  `end` (agents.h), else 1. */
	int is_active;
} tract_info;

/** The tracts of a store. */
typedef struct {
	tract_info *items;
	size_t count;
} tract_info_list;

/** List the tracts of a store, most recently active first. Release the
 *  list with tract_info_list_free(). */
TRACT_EXTERN(int) tract_store_list_tracts(tract_info_list **out, tract_store *store);
TRACT_EXTERN(void) tract_info_list_free(tract_info_list *list);

/**
 * A store's tracts as CLI.md's `tracts --json` array: objects of
 * tract_id, display_name, head, branch, commit_count, last_activity (ISO
 * 8601) and parent_tract_id, null when absent. Release *out with
 * tract_string_free().
 */
TRACT_EXTERN(int) tract_info_list_to_json(char **out, const tract_info_list *list);

/** Options of tract_create() and tract_open(): TRACT_OPEN_OPTIONS_INIT or
 *  tract_open_options_init(). */
typedef struct {
	unsigned int version;
	/** Compile cache capacity in snapshots (LRU). 0 disables the cache. */
	size_t compile_cache_size;
	/** Token counter; NULL = the default counter (tokenizer.h). Borrowed. */
	tract_tokenizer *tokenizer;
	/** Branch created by the first commit; NULL = "main". */
	const char *default_branch;
	/** Testing aid: every cache hit is checked against a fresh compile. */
	int verify_cache;
	/* ---- version 2 ---- */
	/** Largest content JSON a commit accepts, in bytes, checked before it
	 *  is parsed (a larger one is a TRACT_EINVAL error); 0 = the default,
	 *  TRACT_MAX_CONTENT_DEFAULT; SIZE_MAX = no limit. Version 1 callers
	 *  get the default. */
	size_t max_content_bytes;
} tract_open_options;

/** The default maximum content size: 64 MiB, well above any context window. */
#define TRACT_MAX_CONTENT_DEFAULT ((size_t)64 << 20)

#define TRACT_OPEN_OPTIONS_VERSION 2
#define TRACT_OPEN_OPTIONS_INIT                                                                    \
	{TRACT_OPEN_OPTIONS_VERSION, 8, NULL, NULL, 0, TRACT_MAX_CONTENT_DEFAULT}

/** Initialize opts as TRACT_OPEN_OPTIONS_INIT with the given version
 *  (TRACT_OPEN_OPTIONS_VERSION, or older). */
TRACT_EXTERN(int) tract_open_options_init(tract_open_options *opts, unsigned int version);

/**
 * Create a new tract in the store. tract_id NULL generates a random one
 * (32 lowercase hex digits); display_name may be NULL. opts may be NULL.
 * An existing tract_id is a TRACT_EEXISTS error.
 */
TRACT_EXTERN(int) tract_create(tract **out, tract_store *store, const char *tract_id,
			       const char *display_name, const tract_open_options *opts);

/**
 * Open an existing tract. tract_id NULL picks the only tract of the store,
 * or the most recently active one when there are several; a store with no
 * tract gives TRACT_ENOTFOUND ("No tracts found in store").
 */
TRACT_EXTERN(int) tract_open(tract **out, tract_store *store, const char *tract_id,
			     const tract_open_options *opts);

/** Free a tract handle (the store stays open). NULL is a no-op. */
TRACT_EXTERN(void) tract_free(tract *t);

/** The tract's id. */
TRACT_EXTERN(const char *) tract_id(const tract *t);

/** The store a tract belongs to. */
TRACT_EXTERN(tract_store *) tract_owner(const tract *t);

/**
 * Current HEAD: out_hash receives the commit's hex hash, or "" when the
 * tract has no commit; *out_branch (may be NULL) receives the branch name
 * (release with tract_string_free) or NULL when detached or empty;
 * *out_detached (may be NULL) is set.
 */
TRACT_EXTERN(int) tract_head_get(char out_hash[TRACT_HASH_HEXSIZE + 1], char **out_branch,
				 int *out_detached, tract *t);

/** Status of a tract (CLI `status`). */
typedef struct {
	char tract_id[TRACT_ID_MAXLEN + 1];
	char head[TRACT_HASH_HEXSIZE + 1]; /**< "" when empty */
	char *branch;        /**< NULL when detached or empty */
	int detached;
	int64_t commit_count; /**< effective commits (compiled messages) */
	int64_t token_count;
	char *token_source;
	int64_t max_tokens;  /**< -1 when no budget */
} tract_status;

/** The status of a tract; release it with tract_status_free(). */
TRACT_EXTERN(int) tract_status_get(tract_status **out, tract *t);
TRACT_EXTERN(void) tract_status_free(tract_status *status);

/**
 * The status as CLI.md's `status --json` object: tract_id, head and
 * branch (null when none), detached, commit_count, token_count,
 * token_source, max_tokens (null without a budget). Release *out with
 * tract_string_free().
 */
TRACT_EXTERN(int) tract_status_to_json(char **out, const tract_status *status);

/** Budget actions. */
typedef enum {
	TRACT_BUDGET_WARN = 0,
	TRACT_BUDGET_REJECT = 1,
	TRACT_BUDGET_CALLBACK = 2,
} tract_budget_action;

/** Budget callback: return 0 to accept the commit, non-zero to refuse it. */
typedef int (*tract_budget_cb)(int64_t current, int64_t max, void *payload);

/**
 * Set the token budget: max_tokens < 0 removes it. The budget compares the
 * token count of the context compiled after the would-be commit. When
 * persist is non-zero max_tokens is stored in the store (metadata key
 * "tract:<id>:max_tokens") and later handles load it.
 */
TRACT_EXTERN(int) tract_budget_set(tract *t, int64_t max_tokens, tract_budget_action action,
				   tract_budget_cb cb, void *payload, int persist);

/**
 * Batches: every operation between begin and commit is written in one
 * backend transaction; rollback (or any failure inside, followed by
 * rollback) leaves store and caches as before. Batches nest.
 */
TRACT_EXTERN(int) tract_batch_begin(tract *t);
TRACT_EXTERN(int) tract_batch_commit(tract *t);
TRACT_EXTERN(int) tract_batch_rollback(tract *t);

#ifdef __cplusplus
}
#endif
#endif
