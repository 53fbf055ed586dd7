/*
 * refs.c - reading refs and resolving HEAD (symbolic or detached) to its
 * commit (model layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"

static int ref_copy_cb(const tract_ref_row *row, void *payload)
{
	tract_ref_value *v = payload;

	v->exists = 1;
	snprintf(v->commit, sizeof(v->commit), "%s", row->commit_hash ? row->commit_hash : "");
	snprintf(v->symbolic, sizeof(v->symbolic), "%s",
		 row->symbolic_target ? row->symbolic_target : "");
	return 0;
}

int tract_ref_read(tract_ref_value *out, tract_store *s, const char *tract_id, const char *name)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = s->be->ref_get(s->conn, tract_id, name, ref_copy_cb, out);
	if (rc == TRACT_ENOTFOUND)
		return 0;
	if (rc < 0)
		return tract_backend_error(s, rc, "read ref");
	return 0;
}

int tract_head_read(tract_head_state *out, tract *t)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = tract_ref_read(&out->head, t->store, t->id, "HEAD");
	if (rc < 0 || !out->head.exists)
		return rc;
	if (out->head.commit[0]) {
		memcpy(out->hash, out->head.commit, sizeof(out->hash));
		return 0;
	}
	rc = tract_ref_read(&out->branch, t->store, t->id, out->head.symbolic);
	if (rc == 0 && out->branch.exists)
		memcpy(out->hash, out->branch.commit, sizeof(out->hash));
	return rc;
}

int tract_head_get(char out_hash[TRACT_HASH_HEXSIZE + 1], char **out_branch, int *out_detached,
		   tract *t)
{
	tract_head_state hs;
	int rc;

	if (!out_hash || !t)
		return tract_error_set(TRACT_EINVAL, "tract_head_get: NULL argument");
	if (out_branch)
		*out_branch = NULL;
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_head_read(&hs, t);
	rc = tract_txn_end(t->store, rc);
	if (rc < 0)
		return rc;
	memcpy(out_hash, hs.hash, 65);
	if (out_detached)
		*out_detached = hs.head.exists && !hs.head.symbolic[0];
	if (out_branch && hs.head.exists && strncmp(hs.head.symbolic, "refs/heads/", 11) == 0) {
		*out_branch = strdup(hs.head.symbolic + 11);
		if (!*out_branch)
			return tract_error_oom();
	}
	return 0;
}
