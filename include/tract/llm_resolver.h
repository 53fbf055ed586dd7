/*
 * llm_resolver.h - the built-in LLM resolver of merge, cherry-pick and
 * rebase (spec/agents.md §4.4, prompt gist in §5; spec/history.md §8.11
 * with DECISIONS.md).
 *
 * A tract_llm_resolver holds a tract_llm (llm.h) and the call settings;
 * tract_llm_resolver_resolve() is a tract_resolver_cb (resolver.h) whose
 * payload is that handle:
 *
 *   tract_llm_resolver *res;
 *   tract_llm_resolver_new(&res, llm, NULL);
 *   mopts.resolver = tract_llm_resolver_resolve;
 *   mopts.resolver_payload = res;
 *   tract_merge(&r, t, "feature", &mopts);
 *   tract_llm_resolver_free(res);
 *
 * Each call sends two messages, [system, user]: the system prompt (the
 * default says the model is a context merge resolver that answers with
 * the resolved content text only) and the issue formatted per kind:
 *
 *   merge conflicts (both_edit, skip_vs_edit, edit_plus_append):
 *     "Conflict type: <kind>", then, each only when non-empty,
 *     "Branch A content:\n<text_a>", "Branch B content:\n<text_b>",
 *     "Common ancestor content:\n<text>" (the edited commit's own text,
 *     when the handle was given a tract to read it from);
 *   cherry-pick and rebase issues (edit_target_missing):
 *     "Conflict type: edit_target_missing", "Operation: <operation>",
 *     "Description: <description>", then "Commit content:\n<text_b>" and
 *     a request for the text that should stand in the destination branch
 *     in place of that edit;
 *
 * blocks separated by a blank line (the conflict type is the lower-case
 * name of tract_issue_kind_name(), never an enum spelling). The reply's
 * text is the resolution (action RESOLVED, not checked for emptiness),
 * with reasoning "LLM-resolved using model <model>" and generation
 * config {"model": <the model that answered, else the one asked for>,
 * "temperature": <t>, "source": "infrastructure:merge"} plus "usage"
 * ({"prompt_tokens", "completion_tokens", "total_tokens"}, those the
 * server gave) and "provider". It never answers SKIP or ABORT.
 *
 * A provider failure (after the llm's retries and fallback) fails the
 * operation with the provider's code (TRACT_EAUTH, TRACT_EPROVIDER...):
 * the operation writes nothing. A reply without text (tool calls only)
 * is TRACT_EPROVIDER "Cannot extract content from LLM response: ...".
 * Messages never hold an API key (llm.h).
 */
#ifndef TRACT_LLM_RESOLVER_H
#define TRACT_LLM_RESOLVER_H

#include "common.h"
#include "llm.h"
#include "resolver.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of tract_llm_resolver_new(): TRACT_LLM_RESOLVER_OPTIONS_INIT
 *  or tract_llm_resolver_options_init(). */
typedef struct {
	unsigned int version;
	const char *model;         /**< NULL = the provider's model */
	double temperature;        /**< 0.3 by default; 0 to 2 */
	int64_t max_tokens;        /**< 2048 by default; >= 1 */
	const char *system_prompt; /**< NULL = the default prompt */
	/** Optional: the tract the issues come from, to quote the edited
	 *  commit's own text as "Common ancestor content" (borrowed; NULL =
	 *  no ancestor block). */
	tract *tract;
} tract_llm_resolver_options;

#define TRACT_LLM_RESOLVER_OPTIONS_VERSION 1
#define TRACT_LLM_RESOLVER_OPTIONS_INIT \
	{TRACT_LLM_RESOLVER_OPTIONS_VERSION, NULL, 0.3, 2048, NULL, NULL}

TRACT_EXTERN(int) tract_llm_resolver_options_init(tract_llm_resolver_options *opts,
						  unsigned int version);

/** The default system prompt (static). */
TRACT_EXTERN(const char *) tract_llm_resolver_default_system_prompt(void);

typedef struct tract_llm_resolver tract_llm_resolver;

/**
 * A resolver over llm (borrowed: it must outlive the handle) with opts
 * (NULL = defaults; strings copied). TRACT_EINVAL for a bad option.
 * Release with tract_llm_resolver_free().
 */
TRACT_EXTERN(int) tract_llm_resolver_new(tract_llm_resolver **out, tract_llm *llm,
					 const tract_llm_resolver_options *opts);
TRACT_EXTERN(void) tract_llm_resolver_free(tract_llm_resolver *r);

/**
 * The user prompt the resolver sends for issue (as described above).
 * Release *out with tract_string_free().
 */
TRACT_EXTERN(int) tract_llm_resolver_prompt(char **out, tract_llm_resolver *r,
					    const tract_issue *issue);

/** The tract_resolver_cb: payload is a tract_llm_resolver. The strings
 *  put in *out stay valid until the next call or the handle's free. */
TRACT_EXTERN(int) tract_llm_resolver_resolve(tract_resolution *out, const tract_issue *issue,
					     void *payload);

/** Calls made so far and the tokens they used (-1 members not counted). */
TRACT_EXTERN(size_t) tract_llm_resolver_calls(const tract_llm_resolver *r);

#ifdef __cplusplus
}
#endif
#endif
