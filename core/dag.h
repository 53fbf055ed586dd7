/* core/dag.h - commit-graph queries over all parents (history.md §6 with
 * DECISIONS.md). Every function runs inside a transaction the caller has
 * opened (tract_txn_begin) and reads only commits of tract_id. Hashes are
 * full 64-hex. */
#ifndef TRACT_CORE_DAG_H
#define TRACT_CORE_DAG_H

#include <stddef.h>

#include "internal.h"

typedef struct { char (*items)[65]; size_t count; } tract_dag_list; /* free with tract_dag_list_dispose */
void tract_dag_list_dispose(tract_dag_list *l);
/* *out = 1 when `ancestor` is reachable from `descendant` over all parents
 * (a commit is its own ancestor), else 0. Stops as soon as it knows. */
int tract_dag_is_ancestor(int *out, tract_store *s, const char *tract_id, const char *ancestor, const char *descendant);
/* The best common ancestor (git's definition: a common ancestor no other
 * common ancestor descends from; when several are best, the one git would
 * print first: the newest by created_at, ties by hash). out = "" when none. */
int tract_dag_merge_base(char out[65], tract_store *s, const char *tract_id, const char *a, const char *b);
/* Every best common ancestor (git merge-base --all), newest first. */
int tract_dag_merge_bases(tract_dag_list *out, tract_store *s, const char *tract_id, const char *a, const char *b);
/* Commits reachable from tip and not from base (base NULL or "": every
 * ancestor of tip), oldest first in a topological order (parents before
 * children; among independent commits, first-parent chain first, then by
 * created_at, then hash). */
int tract_dag_unique(tract_dag_list *out, tract_store *s, const char *tract_id, const char *tip, const char *base);
/* git rev-list --count --left-right a...b: commits reachable from a and
 * not b (*ahead), from b and not a (*behind). */
int tract_dag_ahead_behind(size_t *ahead, size_t *behind, tract_store *s, const char *tract_id, const char *a, const char *b);

#endif
