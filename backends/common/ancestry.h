/*
 * ancestry.h - the breadth-first ancestry walk of commit_ancestry (ABI
 * version 3) over a backend's own lookup of one commit: the queue, the
 * set of commits seen, the parents in position order, each commit once.
 */
#ifndef TRACT_BACKEND_COMMON_ANCESTRY_H
#define TRACT_BACKEND_COMMON_ANCESTRY_H

#include <stddef.h>

#include "tract/sys/backend.h"

/* One commit as a backend's lookup found it; strings valid until the
 * next lookup. */
struct bc_ancestry_node {
	tract_time created_at;
	const char *parent_hash;       /* NULL: a root */
	const char *const *rows;       /* its commit_parents rows, by position */
	size_t n_rows;
};

/*
 * Look hash up in tract_id (NULL: any tract): 0 with *node filled, 1 when
 * the commit is missing or of another tract, or a negative code with the
 * connection's last error set.
 */
typedef int (*bc_ancestry_fetch)(void *ctx, const char *tract_id, const char *hash,
				 struct bc_ancestry_node *node);

/*
 * The walk of the ABI comment, looking each commit up with fetch(ctx...).
 * Returns 0, the callback's or fetch's negative code, or TRACT_ENOMEM
 * (without an error message: the backend records it).
 */
int bc_ancestry_walk(void *ctx, const char *tract_id, const char *const *starts, size_t n_starts,
		     size_t limit, bc_ancestry_fetch fetch, tract_ancestry_cb cb, void *payload);

#endif
