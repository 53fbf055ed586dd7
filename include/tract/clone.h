/*
 * clone.h - copying a whole store to another one, any backend to any:
 * every blob, commit, merge parent, ref, annotation, compression record,
 * spawn pointer and metadata key, rows copied as they are (hashes
 * preserved), streamed in bounded memory, in one write transaction on the
 * destination.
 */
#ifndef TRACT_CLONE_H
#define TRACT_CLONE_H

#include "common.h"
#include "fsck.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Progress of a clone. phase is one of "blobs", "commits",
 * "commit_parents", "refs", "annotations", "compressions",
 * "spawn_pointers", "metadata" (the order they are copied in), then
 * "fsck" while the copy is verified. done counts the rows of the phase
 * copied so far; total is the phase's row count when known in advance (for
 * "commits") and -1 otherwise. Called at the start and the end of each
 * phase and every few hundred rows in between. Return 0 to go on, non-zero
 * to cancel: the copy is then rolled back and tract_store_clone() fails
 * with TRACT_ERROR.
 */
typedef int (*tract_clone_progress_cb)(const char *phase, int64_t done, int64_t total,
				       void *payload);

/** Flags of tract_clone_options. */
enum {
	/** Do not run fsck on the copy before committing it. */
	TRACT_CLONE_NO_VERIFY = 1u << 0,
};

/** Options of tract_store_clone(): TRACT_CLONE_OPTIONS_INIT or
 *  tract_clone_options_init(). */
typedef struct {
	unsigned int version;
	unsigned int flags;               /**< TRACT_CLONE_* */
	tract_clone_progress_cb progress; /**< may be NULL */
	void *progress_payload;
} tract_clone_options;

#define TRACT_CLONE_OPTIONS_VERSION 1
#define TRACT_CLONE_OPTIONS_INIT {TRACT_CLONE_OPTIONS_VERSION, 0, NULL, NULL}

/** Initialize opts as TRACT_CLONE_OPTIONS_INIT with the given version. */
TRACT_EXTERN(int) tract_clone_options_init(tract_clone_options *opts, unsigned int version);

/** What a clone copied, per table, and what fsck said about the copy. */
typedef struct {
	int64_t tracts;              /**< tracts with refs or commits in the source */
	int64_t blobs;
	int64_t commits;
	int64_t commit_parents;      /**< merge-parent rows */
	int64_t refs;
	int64_t annotations;
	int64_t compressions;
	int64_t compression_sources;
	int64_t compression_results;
	int64_t spawn_pointers;
	int64_t metadata;            /**< metadata keys copied */
	int64_t metadata_skipped;    /**< keys of the backends themselves, not copied */
	int64_t commits_deferred;    /**< commits met before their parent, inserted later */
	int64_t peak_deferred;       /**< most commits waiting at once */
	int verified;                /**< fsck ran on the copy */
	/** fsck's findings on the copy (warnings only, unless the clone
	 *  failed with TRACT_ECORRUPT); NULL when fsck did not run. */
	tract_fsck_report *fsck;
} tract_clone_stats;

/**
 * Copy the whole store at src_uri into the store at dst_uri (URIs as for
 * tract_store_open; any backend to any). The destination is created when
 * missing; an existing one must hold no tract data (no blob, commit, ref,
 * annotation, compression record, spawn pointer or "tract:" metadata key),
 * otherwise TRACT_EEXISTS. src and dst naming the same store is
 * TRACT_EINVAL; a missing source TRACT_ENOTFOUND.
 *
 * Rows are copied unchanged (hashes, timestamps, token counts), commits
 * parents first: one met before its parent or response_to waits (in
 * memory) until that commit is copied. A row naming a commit the source
 * lacks (a dangling link; a link the reference's gc blanked is NULL and
 * copies as it is), a parent cycle, a missing blob or an unrecognised
 * stored value in the source is TRACT_ECORRUPT. Annotations and spawn
 * pointers are copied in id order (the destination assigns new ids, so
 * relative order holds). Metadata keys are copied except the backends' own ones: the
 * schema marker "schema_version" and any key the empty destination
 * already held.
 *
 * Everything is written in one transaction on the destination, and unless
 * TRACT_CLONE_NO_VERIFY the copy is checked with tract_fsck_run() inside it
 * before it commits: an error-severity problem (a corrupt source) rolls it
 * back with TRACT_ECORRUPT. On any failure nothing is left in the
 * destination; a destination file or directory the call created itself is
 * removed again (for file-based backends).
 *
 * *out_stats (out_stats may be NULL) receives the figures in both cases,
 * unless memory ran out; release them with tract_clone_stats_free(). opts
 * may be NULL.
 */
TRACT_EXTERN(int) tract_store_clone(tract_clone_stats **out_stats, const char *src_uri,
				    const char *dst_uri, const tract_clone_options *opts);

/** Release clone figures. NULL is a no-op. */
TRACT_EXTERN(void) tract_clone_stats_free(tract_clone_stats *stats);

/**
 * The figures as CLI.md's `clone --json` object: source and destination
 * as given (pass tract_uri_redact()'s forms to hide passwords), tracts,
 * "tables" (rows copied per table, in copy order), metadata_skipped,
 * commits_deferred and "fsck" (tract_fsck_report_to_json()'s object, null
 * when fsck did not run). Release *out with tract_string_free().
 */
TRACT_EXTERN(int) tract_clone_stats_to_json(char **out, const tract_clone_stats *stats,
					    const char *source, const char *destination);

#ifdef __cplusplus
}
#endif
#endif
