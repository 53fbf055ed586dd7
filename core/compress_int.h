/*
 * compress_int.h - what compress.c shares with compress_budget.c (the
 * budget policy's compression step): the plan, the chain, the LLM
 * summary of one group and the rewrite (internal, operations layer).
 */
#ifndef TRACT_CORE_COMPRESS_INT_H
#define TRACT_CORE_COMPRESS_INT_H

#include "internal.h"
#include "tract/compress.h"

/* Classes of range commits. */
enum { C_NORMAL = 'N', C_PINNED = 'P', C_SKIP = 'S' };

struct tract_pending_compression {
	char id[33];
	char tract_id[65];
	char branch[TRACT_REF_NAME_MAX + 1]; /* the branch ref, refs/heads/... */
	char head[65];
	tract_hash_hex *range;
	size_t n_range;
	char *classes; /* n_range classes, NUL-terminated */
	size_t n_groups;
	size_t *gfirst;  /* range index of each group's members: */
	size_t *members; /* range indices of NORMAL commits, chain order */
	size_t *gsize;   /* members per group */
	size_t *gstart;  /* offset of each group in members */
	size_t n_members;
	char **summaries; /* n_groups, NULL entries when none */
	int64_t target_tokens;
	char *instructions;
	int64_t original_tokens;
	int64_t estimated_tokens;
	tract_time created_at;
};

typedef struct {
	tract_row *rows; /* the first-parent chain, oldest first */
	size_t n;
} chain;

/** The chain from head, oldest first, with payloads, parents, priorities. */
int tract_compress_chain_read(chain *out, tract *t, const char *head);
void tract_compress_chain_dispose(chain *c);
/** §1.2-1.4, 1.6: the plan of opts on chain c (no summaries). */
int tract_compress_plan(tract_pending_compression *p, tract *t, const tract_head_state *hs,
                        const chain *c, const tract_compress_options *o);
/** §1.5.1: the LLM summary of group g; the range starts at c->rows[s]. */
int tract_compress_llm_summary(char **out, tract_llm *llm, const tract_pending_compression *p,
                               const chain *c, size_t s, size_t g, const char *system_prompt);
/** p->estimated_tokens from the summaries. */
int tract_compress_estimate(tract_pending_compression *p, tract *t);
/** §1.8-1.9 inside the open write transaction; the range is
 *  c->rows[s..s + p->n_range). */
int tract_compress_rewrite(tract_compress_result *r, tract *t, const tract_pending_compression *p,
                           const chain *c, size_t s, int *wrote);

/** The auto-compress policy's compression step (compress_budget.c),
 *  inside the commit's write transaction: ctx is HEAD's context, total
 *  the context's tokens with the new commit. *applied when it rewrote
 *  the branch (the commit starts again on the new HEAD); 0 without
 *  *applied when it cannot compress (a warning, or TRACT_EBUDGET with
 *  the reason when the budget refuses). */
int tract_compress_for_budget(tract *t, const tract_context *ctx, int64_t total, int *applied);

#endif
