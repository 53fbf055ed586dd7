/*
 * compact.h - tool-result compaction: old tool output replaced by short
 * stubs through edit commits (the originals stay in history).
 */
#ifndef TRACT_COMPACT_H
#define TRACT_COMPACT_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of tract_compact_tools(): TRACT_COMPACT_OPTIONS_INIT or
 *  tract_compact_options_init(). */
typedef struct {
	unsigned int version;
	/** Results of the last keep_last_turns turns are kept as they are. A
	 *  turn starts at an assistant-side message (assistant text, a tool
	 *  call, reasoning) that does not follow another one: one model step
	 *  with the results of its calls. 0 = every turn is old. */
	unsigned int keep_last_turns;
	/** Only results whose text is at least min_bytes long are compacted
	 *  (0 = any result a stub makes shorter). */
	size_t min_bytes;
	/** Results longer than max_bytes are compacted even inside the kept
	 *  turns (0 = off). */
	size_t max_bytes;
	/** Old failed results (status "error") and the calls they answer are
	 *  dropped together (SKIP annotations on both) instead of stubbed. */
	int drop_failed;
	/** Plan only: report what would be done, write nothing. */
	int dry_run;
} tract_compact_options;

#define TRACT_COMPACT_OPTIONS_VERSION 1
#define TRACT_COMPACT_KEEP_LAST_TURNS_DEFAULT 2
#define TRACT_COMPACT_OPTIONS_INIT \
	{TRACT_COMPACT_OPTIONS_VERSION, TRACT_COMPACT_KEEP_LAST_TURNS_DEFAULT, 0, 0, 0, 0}

/** Initialize opts as TRACT_COMPACT_OPTIONS_INIT with the given version. */
TRACT_EXTERN(int) tract_compact_options_init(tract_compact_options *opts, unsigned int version);

/** The text a compacted result's payload holds ({"text": STUB}) starts
 *  with this. */
#define TRACT_COMPACT_STUB_PREFIX "[compacted tool output"

/** What compaction did (or, dry run, would do). */
typedef struct {
	size_t compacted;      /**< results replaced by a stub (edit commits) */
	size_t dropped;        /**< failed calls and results skipped (commits annotated) */
	int64_t tokens_before; /**< token count of the compiled context before */
	int64_t tokens_after;  /**< ... and after */
	/** The edit commits written (none on a dry run), oldest first. */
	char (*edits)[TRACT_HASH_HEXSIZE + 1];
	size_t n_edits;
	/** The commits stubbed or dropped (original hashes), in context order. */
	char (*targets)[TRACT_HASH_HEXSIZE + 1];
	size_t n_targets;
} tract_compact_result;

/**
 * Compact the tool results of the current branch's compiled context
 * (spec: issue 13 item 2). Each selected result becomes one edit commit of
 * its original whose content keeps the tool_name, call_id and status and
 * whose payload is {"text": "[compacted tool output: FIRST LINE] (N bytes)"},
 * so every call keeps its result and request bodies stay valid; with
 * drop_failed, an old failed result and its call get SKIP annotations.
 * A result already compacted, or that a stub would not make shorter, is
 * left alone, so running it again does nothing. Everything in one
 * transaction; nothing written on failure. The budget is not checked:
 * compaction only shrinks the context. Errors: TRACT_EDETACHED,
 * TRACT_EINVAL (options). *out may be NULL; release it with
 * tract_compact_result_free().
 */
TRACT_EXTERN(int) tract_compact_tools(tract_compact_result **out, tract *t,
				      const tract_compact_options *opts);
TRACT_EXTERN(void) tract_compact_result_free(tract_compact_result *res);

/**
 * The result as JSON: {"compacted", "dropped", "tokens_before",
 * "tokens_after", "dry_run", "edits": [...], "targets": [...]}. Release
 * *out with tract_string_free().
 */
TRACT_EXTERN(int) tract_compact_result_to_json(char **out, const tract_compact_result *res,
					       int dry_run);

/** What a commit does when its compiled context would exceed the budget,
 *  before the budget's action applies. */
typedef enum {
	TRACT_BUDGET_POLICY_NONE = 0,
	/** Compact tool results first (in the commit's transaction): the
	 *  default compaction (TRACT_COMPACT_OPTIONS_INIT), or if that is not
	 *  enough, every turn's results with failed pairs dropped; written
	 *  only when it gets the context under the budget, else nothing is
	 *  written and the budget's action applies. */
	TRACT_BUDGET_POLICY_AUTO_COMPACT = 1,
	/** AUTO_COMPACT, and when compaction alone does not get under the
	 *  budget, compress the oldest normal commits of the branch (pinned
	 *  ones are kept verbatim) down to the target fraction of the budget
	 *  (tract_budget_target_set, 0.5 by default) instead, in the commit's
	 *  transaction. The summaries come from an LLM: the provider of
	 *  tract_budget_llm_set (compress.h), else the tract's stored
	 *  provider (tract_llm_setting_set); it is called while the commit's
	 *  write transaction is open. Without one, or when the provider
	 *  fails or the summaries would not get under the budget, nothing is
	 *  compressed: a REJECT budget refuses the commit saying why, the
	 *  others warn and apply their action. A compression that still
	 *  leaves the context over the budget fails the commit
	 *  (TRACT_EBUDGET) and nothing is written. Stored as
	 *  "auto_compress". */
	TRACT_BUDGET_POLICY_AUTO_COMPRESS = 2,
} tract_budget_policy;

/**
 * Set the budget policy of a tract handle; when persist is non-zero it is
 * stored (metadata key "tract:<id>:budget_policy", value "auto_compact" or
 * "auto_compress", removed for NONE) and later handles load it.
 */
TRACT_EXTERN(int) tract_budget_policy_set(tract *t, tract_budget_policy policy, int persist);
/** The handle's budget policy. */
TRACT_EXTERN(tract_budget_policy) tract_budget_policy_get(const tract *t);

#ifdef __cplusplus
}
#endif
#endif
