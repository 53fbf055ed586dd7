/*
 * dag.h - questions about a tract's commit graph, over all parents (merge
 * commits' second and later parents included): the merge base, ancestry,
 * how far two branches have diverged, and the commits one has that
 * another lacks. Revisions are anything tract_revision_resolve() accepts
 * (a branch, HEAD, a full hash or a unique prefix...). Each call reads in
 * one read transaction of its own and only the commits it needs: on a
 * long history the cost follows the distance between the commits, not
 * the length of the history. The store handle keeps the commits these
 * calls have read (their created_at and parents: one tract's, in memory,
 * until the handle is freed), so a later call over the same stretch of
 * history reads only its two ends from the store; commits written since,
 * by this handle or any other, are read when a walk meets them.
 *
 * Every walk stops on the assumption that a commit is no newer than its
 * children (created_at never decreases from parent to child, which is
 * how commits are made); a parent cycle met on the way (a damaged store)
 * is TRACT_ECORRUPT.
 */
#ifndef TRACT_DAG_H
#define TRACT_DAG_H

#include "common.h"
#include "commit.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The best common ancestor of two revisions (git merge-base): a commit
 * both reach whose descendants include no other commit both reach. When
 * several are best (criss-cross merges), the newest by created_at, ties
 * by the least hash. TRACT_ENOTFOUND when the histories share no commit
 * (or a revision does not resolve); out is "" on failure.
 */
TRACT_EXTERN(int) tract_merge_base(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *rev_a,
				   const char *rev_b);

/**
 * *out = 1 when ancestor_rev's commit is reachable from descendant_rev's
 * over all parents (a commit is its own ancestor), else 0 (git merge-base
 * --is-ancestor). Stops as soon as it knows.
 */
TRACT_EXTERN(int) tract_is_ancestor(int *out, tract *t, const char *ancestor_rev,
				    const char *descendant_rev);

/**
 * How far two revisions diverged (git rev-list --count --left-right
 * A...B): *ahead the commits reachable from rev_a and not from rev_b,
 * *behind the commits reachable from rev_b and not from rev_a.
 */
TRACT_EXTERN(int) tract_ahead_behind(size_t *ahead, size_t *behind, tract *t, const char *rev_a,
				     const char *rev_b);

/**
 * The commits reachable from tip_rev and not from base_rev (git rev-list
 * base..tip; base_rev NULL: every ancestor of tip_rev), oldest first in a
 * topological order: parents before children; among commits whose order
 * the graph leaves open, those on tip_rev's first-parent chain first,
 * then the oldest, then the least hash. Each commit with its content
 * and merge parents. Release *out with tract_commit_list_free().
 */
TRACT_EXTERN(int) tract_commits_unique(tract_commit_list **out, tract *t, const char *tip_rev,
				       const char *base_rev);

#ifdef __cplusplus
}
#endif

#endif
