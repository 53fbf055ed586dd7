/*
 * gc.h - garbage collection of commits no ref reaches (spec/agents.md §3
 * with DECISIONS.md).
 *
 * Roots: HEAD (always), every branch and tag of the tract (or only the
 * named branch, which must exist), the commits spawn pointers name as a
 * child's starting point, collapse commits (commits whose metadata names
 * a collapse_source_tract_id) and the child commit each collapse
 * summarized (collapse_source_head), and the commit each ref-log record
 * younger than orphan_retention_days names as a ref's old position
 * (compile as of a time needs it; older records are deleted by gc, not by
 * a dry run). A commit reachable from a root over
 * all parents stays. An unreachable commit that a compression record
 * names (as a source or a result: provenance) is an archive, removed only
 * when archive_retention_days is set and it is that old; any other
 * unreachable commit is an orphan, removed once orphan_retention_days old.
 *
 * Removing a commit removes its annotations, its merge-parent rows, the
 * refs that point at it (ORIG_HEAD, PREV_HEAD...), its compression
 * member rows (a record left with no member goes too), and its blob when
 * no commit of the store uses that content any more. Everything happens
 * in one transaction: all of it or nothing. Needs a backend with the
 * deletion members (ABI v2; the three shipped backends have them).
 */
#ifndef TRACT_GC_H
#define TRACT_GC_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	unsigned int version;
	/** Orphans at least this many days old go (0 = every orphan). */
	double orphan_retention_days;
	/** Archives at least this many days old go; < 0 = archives are kept. */
	double archive_retention_days;
	/** Only this branch's history (and HEAD's) is kept; NULL = every ref. */
	const char *branch;
	/** Compute what would go, remove nothing. */
	int dry_run;
} tract_gc_options;

#define TRACT_GC_OPTIONS_VERSION 1
#define TRACT_GC_OPTIONS_INIT {TRACT_GC_OPTIONS_VERSION, 7.0, -1.0, NULL, 0}
TRACT_EXTERN(int) tract_gc_options_init(tract_gc_options *opts, unsigned int version);

typedef struct {
	size_t commits_removed;  /**< (would be, with dry_run) */
	size_t archives_removed; /**< of which archives */
	size_t blobs_removed;    /**< blobs no commit uses any more (0 with dry_run) */
	int64_t tokens_freed;    /**< sum of the removed commits' token counts */
	double duration_seconds;
	int dry_run;
	/** The removed commits, oldest first. */
	char (*removed)[TRACT_HASH_HEXSIZE + 1];
} tract_gc_result;

/**
 * Collect the tract's garbage. TRACT_ENOTFOUND for an unknown branch,
 * TRACT_EINVAL for a negative or non-finite orphan retention, TRACT_EPLUGIN
 * when the backend cannot delete. Release *out with tract_gc_result_free().
 */
TRACT_EXTERN(int) tract_gc(tract_gc_result **out, tract *t, const tract_gc_options *opts);
TRACT_EXTERN(void) tract_gc_result_free(tract_gc_result *result);
/** {"dry_run", "commits_removed", "archives_removed", "blobs_removed",
 *  "tokens_freed", "duration_seconds", "removed": [hashes]}. */
TRACT_EXTERN(int) tract_gc_result_to_json(char **out, const tract_gc_result *result);

#ifdef __cplusplus
}
#endif
#endif
