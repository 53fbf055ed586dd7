/*
 * batch.c - batches: several operations written in one backend transaction,
 * nesting, and the compile cache kept in step (operations layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"

int tract_batch_begin(tract *t)
{
	int rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);

	if (rc < 0)
		return rc;
	t->store->batch_depth++;
	t->batch_depth++;
	/* Spec §4.7: entering a batch clears the compile cache. */
	tract_cache_clear(t->cache);
	return 0;
}

static int batch_end(tract *t, int rc)
{
	if (t->batch_depth <= 0)
		return tract_error_set(TRACT_EINVAL, "no batch is open on this tract");
	t->batch_depth--;
	t->store->batch_depth--;
	rc = tract_txn_end(t->store, rc);
	tract_cache_sync(t);
	return rc;
}

int tract_batch_commit(tract *t)
{
	if (t->store->batch_failed && t->store->txn_depth == 1) {
		batch_end(t, TRACT_ERROR);
		return tract_error_set(TRACT_ERROR,
				       "batch rolled back: an operation inside it failed");
	}
	return batch_end(t, 0);
}

int tract_batch_rollback(tract *t)
{
	int rc = batch_end(t, TRACT_ERROR);

	if (rc == TRACT_ERROR) {
		tract_error_clear();
		return 0;
	}
	return rc;
}
