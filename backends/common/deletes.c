/*
 * deletes.c - the batched deletions as loops of row-by-row ones (deletes.h).
 */
#include "deletes.h"

int bc_commits_delete_each(tract_backend_conn *conn, const char *const *hashes, size_t n,
                           size_t *deleted, bc_delete_fn annotation_delete,
                           bc_delete_fn commit_delete)
{
	size_t k, done = 0;
	int rc = 0;

	for (k = 0; k < n && rc == 0; k++) {
		rc = annotation_delete(conn, hashes[k]);
		if (rc == 0)
			rc = commit_delete(conn, hashes[k]);
		if (rc == 0)
			done++;
		else if (rc == TRACT_ENOTFOUND)
			rc = 0;
	}
	if (deleted)
		*deleted = done;
	return rc;
}

int bc_blobs_delete_unused_each(tract_backend_conn *conn, const char *const *hashes, size_t n,
                                size_t *deleted, bc_delete_fn blob_delete)
{
	size_t k, done = 0;
	int rc = 0;

	for (k = 0; k < n && rc == 0; k++) {
		rc = blob_delete(conn, hashes[k]);
		if (rc == 0)
			done++;
		else if (rc == TRACT_ENOTFOUND || rc == TRACT_ESTORAGE)
			rc = 0; /* missing, or a commit uses it: kept */
	}
	if (deleted)
		*deleted = done;
	return rc;
}
