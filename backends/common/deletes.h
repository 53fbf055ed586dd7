/*
 * deletes.h - the batched deletions of backend ABI version 5
 * (commits_delete, blobs_delete_unused) for a backend whose row-by-row
 * deletion members cost no more than a batch would (an embedded store):
 * those members in a loop, with the batch's rules for missing and kept
 * rows. The caller has checked the arguments.
 */
#ifndef TRACT_BACKEND_COMMON_DELETES_H
#define TRACT_BACKEND_COMMON_DELETES_H

#include <stddef.h>

#include "tract/sys/backend.h"

typedef int (*bc_delete_fn)(tract_backend_conn *conn, const char *hash);

/* Each commit's annotations (annotation_delete), then the commit
 * (commit_delete); a missing commit is skipped. */
int bc_commits_delete_each(tract_backend_conn *conn, const char *const *hashes, size_t n,
                           size_t *deleted, bc_delete_fn annotation_delete,
                           bc_delete_fn commit_delete);

/* Each blob through blob_delete; a missing blob, or one a commit uses
 * (TRACT_ESTORAGE), is kept without an error. */
int bc_blobs_delete_unused_each(tract_backend_conn *conn, const char *const *hashes, size_t n,
                                size_t *deleted, bc_delete_fn blob_delete);

#endif
