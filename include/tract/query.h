/*
 * tract/query.h - cross-tract queries over a whole store (spec/agents.md
 * §6.7 with DECISIONS.md): the timeline of every commit of every tract,
 * and search of message text.
 *
 * Both read every tract of the store, reachable commits or not, and hold
 * no transaction open between calls: each call sees the commits other
 * connections (processes, hosts) have committed before it began.
 */
#ifndef TRACT_QUERY_H
#define TRACT_QUERY_H

#include "common.h"
#include "commit.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of tract_timeline_foreach(): TRACT_TIMELINE_OPTIONS_INIT or
 *  tract_timeline_options_init(). */
typedef struct {
	unsigned int version;
	/** Only this tract's commits; NULL = every tract. */
	const char *tract_id;
	/** Only commits of this content type ("dialogue"...); NULL = all. */
	const char *content_type;
	/** Only commits created at or after since; TRACT_TIME_NONE = no bound. */
	tract_time since;
	/** Only commits created before until; TRACT_TIME_NONE = no bound. */
	tract_time until;
	/** At most this many commits (the oldest that pass the filters); 0 = all. */
	size_t limit;
	/** Non-zero: read each commit's content (tract_commit_content());
	 *  0: no blob is read and the content is NULL. */
	int content;
} tract_timeline_options;

#define TRACT_TIMELINE_OPTIONS_VERSION 1
#define TRACT_TIMELINE_OPTIONS_INIT \
	{TRACT_TIMELINE_OPTIONS_VERSION, NULL, NULL, TRACT_TIME_NONE, TRACT_TIME_NONE, 0, 0}

TRACT_EXTERN(int) tract_timeline_options_init(tract_timeline_options *opts, unsigned int version);

/**
 * Every commit of the store (or of opts->tract_id) that passes the filters,
 * oldest first (created_at, then commit hash), each handed to cb as it is
 * read: the first rows arrive before the rest are read, and memory does not
 * grow with the store. Commits carry their content only with
 * opts->content. cb returns 0 to go on, > 0 to stop (the call returns 0), < 0 to
 * stop with that code (set the error first). cb must not write to store.
 */
TRACT_EXTERN(int) tract_timeline_foreach(tract_store *store, const tract_timeline_options *opts,
					 tract_log_cb cb, void *payload);

/** tract_timeline_foreach() into a list; release with tract_commit_list_free(). */
TRACT_EXTERN(int) tract_timeline_list(tract_commit_list **out, tract_store *store,
				      const tract_timeline_options *opts);

/** Options of tract_search_run(): TRACT_SEARCH_OPTIONS_INIT or
 *  tract_search_options_init(). */
typedef struct {
	unsigned int version;
	/** Only this tract's commits; NULL = every tract. */
	const char *tract_id;
	/** Only commits of this content type; NULL = all. */
	const char *content_type;
	/** Created at or after since / before until; TRACT_TIME_NONE = no bound. */
	tract_time since;
	tract_time until;
	/** Only commits on this branch of tract_id (reachable from
	 *  refs/heads/BRANCH along first parents); needs tract_id. NULL = any. */
	const char *branch;
	/** At most this many hits (the oldest); 0 = all. */
	size_t limit;
	/** Characters of context on each side of the match in a snippet
	 *  (code points); 0 = 30. */
	size_t snippet_context;
} tract_search_options;

#define TRACT_SEARCH_OPTIONS_VERSION 1
#define TRACT_SEARCH_OPTIONS_INIT \
	{TRACT_SEARCH_OPTIONS_VERSION, NULL, NULL, TRACT_TIME_NONE, TRACT_TIME_NONE, NULL, 0, 0}

TRACT_EXTERN(int) tract_search_options_init(tract_search_options *opts, unsigned int version);

/** One search hit. */
typedef struct {
	char tract_id[TRACT_ID_MAXLEN + 1];
	char commit_hash[TRACT_HASH_HEXSIZE + 1];
	char *content_type;
	tract_time created_at;
	/** The message text around the first match, on one line (line breaks
	 *  and tabs as spaces), "…" where it was cut. */
	char *snippet;
} tract_search_hit;

typedef struct {
	tract_search_hit *items;
	size_t count;
	/** 1 when the backend's search index answered (ABI version 5:
	 *  SQLite's FTS5 trigram table, PostgreSQL's pg_trgm index, LMDB's
	 *  trigram database); 0 when every commit's blob was read (a backend
	 *  without an index, or a store without one that this connection
	 *  may not write: a read-only file). */
	int indexed;
	/** How many blobs were read and matched outside the index: every
	 *  blob of a scan; with an index, those queued since it was last
	 *  brought up to date (blobs another writer added, on a store this
	 *  connection could not write). */
	size_t scanned;
} tract_search_list;

/**
 * Commits whose message text (the content compile shows for them, never
 * the JSON keys of their payload nor their commit message) contains term,
 * oldest first. Matching is of substrings, as the reference's SQL LIKE
 * '%term%' (spec/agents.md §6.7): "ell" finds "Hello"; case-insensitive
 * for ASCII letters and exact for every other character; term must be
 * valid UTF-8 without NUL and not empty.
 *
 * Through an index where the backend has one (see tract_search_list's
 * indexed): the first search that may write the store makes it (the
 * blobs' message text, extracted once) and every search first indexes
 * the blobs written since, by any writer (an older tract, tract's Python
 * library): results are always complete. The index narrows the commits
 * to read; each candidate is checked again with the rules above, so
 * results are the same with or without it. A store this connection
 * cannot write is never written: its index, if it has one, answers and
 * the blobs it lacks are read; without one every blob is read (a scan).
 * See README "Cross-tract queries" for the figures.
 */
TRACT_EXTERN(int) tract_search_run(tract_search_list **out, tract_store *store, const char *term,
				   const tract_search_options *opts);
TRACT_EXTERN(void) tract_search_list_free(tract_search_list *list);

/**
 * A JSON array of {"tract_id", "commit_hash", "content_type", "created_at",
 * "snippet"} (CLI `search --json`). Release *out with tract_string_free().
 */
TRACT_EXTERN(int) tract_search_list_to_json(char **out, const tract_search_list *list);

#ifdef __cplusplus
}
#endif

#endif
