/*
 * compress.h - history compression (spec/agents.md §1 with DECISIONS.md):
 * a stretch of the current branch's first-parent chain is replaced by
 * summary commits; PINNED commits are kept verbatim, SKIP commits are
 * dropped, the commits after the stretch are replayed on top, and the
 * provenance (compressions, compression_sources, compression_results) is
 * written, all in one transaction.
 *
 * Range: an explicit list of full hashes (contiguous on the chain), or
 * from/to (full hashes, inclusive, either may be NULL), or the whole
 * chain. Classification per range commit: in preserve -> PINNED, else the
 * latest priority annotation (pinned / skip / normal), else NORMAL.
 * Groups: runs of NORMAL commits split at PINNED commits (SKIP commits do
 * not split). One summary per group:
 *   manual  summaries given (one text per group; one text when there is
 *           one group); an empty or blank summary is rejected;
 *   LLM     one call per group through llm (prompt of spec/agents.md §5,
 *           target_tokens and instructions in the request);
 *   review  (review set) the plan and its draft summaries are stored
 *           (store metadata tract:<id>:pending:<pending id>) and nothing
 *           else is written; the caller reads, edits, approves or
 *           discards it by id, from any process.
 *
 * The rewrite: the branch ref moves to the parent of the first range
 * commit; the range is walked in order (summary commit at the first
 * member of each group, "Compressed <n> commits"; pinned commits
 * re-committed with the same content, operation, message, metadata and
 * config, their content hash verified - a mismatch aborts - and their
 * explicit annotation copied); then every later commit is replayed.
 * response_to follows the copies: a target that was summarized points at
 * its summary, one that was skipped is dropped; an edit whose target was
 * summarized or skipped becomes an append of the same content. A merge
 * commit after the range is refused (TRACT_EINVAL), and so is one inside
 * it unless the range is first-parent linear: each of its merge parents
 * is a commit of the first-parent chain before it (it brought in nothing
 * the chain lacks); such a merge gives no message and is dropped (listed
 * with the skipped commits).
 *
 * Errors: TRACT_EDETACHED (detached HEAD), TRACT_EINVAL (empty tract,
 * range errors, nothing to compress, wrong number of summaries, empty
 * summary, no LLM and no summary, a bad LLM reply), TRACT_ESTALE (the
 * range changed between planning and writing), TRACT_ECORRUPT (a pinned
 * copy does not hash as its original), TRACT_EBUDGET, and the provider
 * errors of llm.h.
 */
#ifndef TRACT_COMPRESS_H
#define TRACT_COMPRESS_H

#include "common.h"
#include "llm.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	unsigned int version;
	/** Explicit commits (full hashes); used when has_commits is set, even
	 *  with n_commits 0 (an error: nothing matched). */
	const char *const *commits;
	size_t n_commits;
	int has_commits;
	/** Range ends, full hashes, inclusive; NULL = root / HEAD. */
	const char *from_commit;
	const char *to_commit;
	/** Hashes treated as PINNED for this call. */
	const char *const *preserve;
	size_t n_preserve;
	/** Manual mode: one summary per group (or one text for one group). */
	const char *const *summaries;
	size_t n_summaries;
	/** LLM mode (when no summaries): the provider set to call. */
	tract_llm *llm;
	/** Length hint for the LLM, stored in the record; <= 0 = none. */
	int64_t target_tokens;
	/** Extra LLM instructions, stored in the record; NULL = none. */
	const char *instructions;
	/** Replaces the default summarizer system prompt (not stored). */
	const char *system_prompt;
	/** Store a pending compression instead of writing (review mode). */
	int review;
	/** Plan (and draft, with llm) only; nothing stored: *pending gets the
	 *  plan with an empty id. */
	int dry_run;
} tract_compress_options;

#define TRACT_COMPRESS_OPTIONS_VERSION 1
#define TRACT_COMPRESS_OPTIONS_INIT                                                                \
	{                                                                                          \
		TRACT_COMPRESS_OPTIONS_VERSION, NULL, 0, 0, NULL, NULL, NULL, 0, NULL, 0, NULL,    \
		    -1, NULL, NULL, 0, 0                                                           \
	}
TRACT_EXTERN(int) tract_compress_options_init(tract_compress_options *opts, unsigned int version);

typedef char tract_hash_hex[TRACT_HASH_HEXSIZE + 1];

/** What a compression wrote. Token figures: compressed_tokens =
 *  summary_tokens + preserved_tokens; compression_ratio = compressed /
 *  original (0 when original is 0). */
typedef struct {
	char compression_id[33];
	int64_t original_tokens;   /**< the NORMAL commits' token counts */
	int64_t summary_tokens;    /**< the summaries' token counts */
	int64_t preserved_tokens;  /**< the PINNED commits' token counts */
	int64_t compressed_tokens; /**< summary_tokens + preserved_tokens */
	double compression_ratio;
	tract_hash_hex *source_commits; /**< NORMAL, chain order */
	size_t n_source;
	tract_hash_hex *summary_commits; /**< new summaries, creation order */
	size_t n_summary;
	tract_hash_hex *preserved_commits; /**< PINNED originals, chain order */
	tract_hash_hex *preserved_copies;  /**< their copies, same order */
	size_t n_preserved;
	tract_hash_hex *skipped_commits; /**< SKIP, chain order */
	size_t n_skipped;
	tract_hash_hex *replayed_commits; /**< copies of the commits after the range */
	size_t n_replayed;
	char new_head[TRACT_HASH_HEXSIZE + 1];
} tract_compress_result;

/** A planned compression: its groups and draft summaries. */
typedef struct tract_pending_compression tract_pending_compression;

/**
 * Compress. Direct modes fill *out (pending may be NULL); review and
 * dry_run fill *pending (out may be NULL) and write no commit. Release
 * with tract_compress_result_free / tract_pending_compression_free.
 */
TRACT_EXTERN(int)
tract_compress(tract_compress_result **out, tract_pending_compression **pending, tract *t,
               const tract_compress_options *opts);
TRACT_EXTERN(void) tract_compress_result_free(tract_compress_result *r);
/** {"compression_id", "original_tokens", "summary_tokens",
 *  "preserved_tokens", "compressed_tokens", "compression_ratio",
 *  "source_commits", "summary_commits", "preserved_commits",
 *  "preserved_copies", "skipped_commits", "replayed_commits", "new_head"}. */
TRACT_EXTERN(int) tract_compress_result_to_json(char **out, const tract_compress_result *r);

/* ---- pending compressions (stored, by id) ------------------------------ */

/** Read a stored pending compression; TRACT_ENOTFOUND when unknown. */
TRACT_EXTERN(int)
tract_pending_compression_get(tract_pending_compression **out, tract *t, const char *id);
/** The ids of the tract's pending compressions, in id order; release with
 *  tract_pending_compression_ids_free. */
TRACT_EXTERN(int) tract_pending_compression_ids(char ***out, size_t *count, tract *t);
TRACT_EXTERN(void) tract_pending_compression_ids_free(char **ids, size_t count);
/** Replace draft summary index (stored); TRACT_EINVAL when out of range
 *  or blank. */
TRACT_EXTERN(int)
tract_pending_compression_edit(tract *t, const char *id, size_t index, const char *text);
/** Write the stored plan with its (edited) summaries and remove it.
 *  TRACT_ESTALE when the range is no longer on the current branch as
 *  planned. */
TRACT_EXTERN(int)
tract_pending_compression_approve(tract_compress_result **out, tract *t, const char *id);
/** Remove a stored pending compression; TRACT_ENOTFOUND when unknown. */
TRACT_EXTERN(int) tract_pending_compression_discard(tract *t, const char *id);

TRACT_EXTERN(const char *) tract_pending_compression_id(const tract_pending_compression *p);
TRACT_EXTERN(size_t) tract_pending_compression_group_count(const tract_pending_compression *p);
/** The source (NORMAL) commits of group i, chain order. */
TRACT_EXTERN(size_t)
tract_pending_compression_group_size(const tract_pending_compression *p, size_t i);
TRACT_EXTERN(const char *)
tract_pending_compression_group_commit(const tract_pending_compression *p, size_t group, size_t k);
/** Draft summary of group i (NULL when none: a dry run without drafts). */
TRACT_EXTERN(const char *)
tract_pending_compression_summary(const tract_pending_compression *p, size_t i);
TRACT_EXTERN(int64_t) tract_pending_compression_original_tokens(const tract_pending_compression *p);
TRACT_EXTERN(int64_t)
tract_pending_compression_estimated_tokens(const tract_pending_compression *p);
/** The stored form: {"id", "tract_id", "branch", "head", "range",
 *  "classes", "groups", "summaries", "target_tokens", "instructions",
 *  "original_tokens", "estimated_tokens", "created_at"}. */
TRACT_EXTERN(int) tract_pending_compression_to_json(char **out, const tract_pending_compression *p);
TRACT_EXTERN(void) tract_pending_compression_free(tract_pending_compression *p);

/* ---- provenance (compression records, ours or the reference's) ---------- */

/** One compression record with its sources and results (positions order). */
typedef struct {
	char compression_id[TRACT_HASH_HEXSIZE + 1];
	char tract_id[TRACT_HASH_HEXSIZE + 1];
	char *branch_name; /**< NULL = none */
	tract_time created_at;
	int64_t original_tokens;
	int64_t compressed_tokens;
	int64_t target_tokens; /**< -1 = none */
	char *instructions;    /**< NULL = none */
	tract_hash_hex *sources;
	size_t n_sources;
	tract_hash_hex *results;
	size_t n_results;
	/** How many of sources (in order) each result replaced, n_results
	 *  entries read from the summaries' "Compressed <n> commits"
	 *  messages (spec/agents.md §1.8); NULL when they do not add up (a
	 *  summary collected by gc, another message): then every result
	 *  stands for all the sources. See tract_compression_record_group. */
	size_t *group_sizes;
} tract_compression_record;

/** The tract's compression records, oldest first; release with
 *  tract_compression_records_free. */
TRACT_EXTERN(int)
tract_compression_records(tract_compression_record **out, size_t *count, tract *t);
TRACT_EXTERN(void) tract_compression_records_free(tract_compression_record *records, size_t count);
/** A JSON array of {"compression_id", "tract_id", "branch_name", "created_at",
 *  "original_tokens", "compressed_tokens", "target_tokens", "instructions",
 *  "sources", "results"}. */
TRACT_EXTERN(int)
tract_compression_records_to_json(char **out, const tract_compression_record *records,
                                  size_t count);

/* ---- the auto-compress budget policy (compact.h) -------------------------- */

/** The provider that writes the auto-compress policy's summaries
 *  (borrowed: it must outlive its use by t); NULL = the tract's stored
 *  provider (tract_llm_setting_set "provider"), opened when needed. */
TRACT_EXTERN(int) tract_budget_llm_set(tract *t, tract_llm *llm);
/** The fraction of the budget (0 < fraction <= 1) the policy compresses
 *  the context down to; persisted (metadata key
 *  "tract:<id>:budget_target") when persist is non-zero. */
TRACT_EXTERN(int) tract_budget_target_set(tract *t, double fraction, int persist);
/** The handle's target, else the stored one, else 0.5. */
TRACT_EXTERN(int) tract_budget_target_get(double *out, tract *t);

/* ---- provenance of one commit (log, show) --------------------------------- */

/** Which side of a compression record a commit is looked up on. */
typedef enum {
	TRACT_COMPRESSION_AS_RESULT = 0, /**< a summary commit the compression wrote */
	TRACT_COMPRESSION_AS_SOURCE = 1, /**< a commit the compression replaced */
} tract_compression_role;

/**
 * The compression record that wrote commit_hash (a full hash) as a summary
 * (AS_RESULT: its sources are the commits the summary replaced), or that
 * replaced it (AS_SOURCE); the latest such record. Works on the records
 * the reference wrote too. TRACT_ENOTFOUND when there is none. Release
 * with tract_compression_record_free.
 */
TRACT_EXTERN(int)
tract_compression_lookup(tract_compression_record **out, tract *t, const char *commit_hash,
                         tract_compression_role role);
TRACT_EXTERN(void) tract_compression_record_free(tract_compression_record *r);
/** The index in records (from tract_compression_records) of the latest
 *  record naming commit_hash on the side role, or count when none: one
 *  read of the records serves a whole log. *member (may be NULL) gets
 *  the commit's index in that record's results or sources. */
TRACT_EXTERN(size_t)
tract_compression_records_find(const tract_compression_record *records, size_t count,
                               const char *commit_hash, tract_compression_role role,
                               size_t *member);
/** The sources summary result_index of r replaced: sources[*first ..
 *  *first + *count) (all of them when r->group_sizes is NULL); 0, or
 *  TRACT_EINVAL when result_index is out of range. */
TRACT_EXTERN(int)
tract_compression_record_group(size_t *first, size_t *count, const tract_compression_record *r,
                               size_t result_index);
/** One record as an object of tract_compression_records_to_json(). */
TRACT_EXTERN(int)
tract_compression_record_to_json(char **out, const tract_compression_record *r);

#ifdef __cplusplus
}
#endif
#endif
