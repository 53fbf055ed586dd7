/*
 * merge_refs.c - the refs the merge CLI test needs before `tract branch`
 * and `tract switch` exist: create or move a branch, attach HEAD to a
 * branch, detach HEAD, through the store's compare-and-swap.
 * Usage: merge_refs URI TRACT_ID branch NAME HASH | switch NAME | detach HASH
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static int set_ref(tract_store *s, const char *tid, const char *name, const char *commit,
		   const char *symbolic)
{
	tract_ref_value cur;
	tract_ref_row exp;
	int rc = tract_txn_begin(s, TRACT_TXN_WRITE);

	if (rc == 0)
		rc = tract_ref_read(&cur, s, tid, name);
	if (rc == 0) {
		memset(&exp, 0, sizeof(exp));
		exp.commit_hash = cur.commit[0] ? cur.commit : NULL;
		exp.symbolic_target = cur.symbolic[0] ? cur.symbolic : NULL;
		rc = s->be->ref_cas(s->conn, tid, name, commit, symbolic, cur.exists ? &exp : NULL);
		if (rc < 0)
			rc = tract_backend_error(s, rc, "set ref");
	}
	return tract_txn_end(s, rc);
}

int main(int argc, char **argv)
{
	tract_store *s = NULL;
	char ref[300];
	int rc;

	if (argc < 5) {
		fprintf(stderr, "usage: merge_refs URI TRACT_ID branch NAME HASH | switch NAME | "
				"detach HASH\n");
		return 2;
	}
	if (tract_store_open(&s, argv[1], 0) != 0) {
		fprintf(stderr, "merge_refs: %s\n", tract_error_last()->message);
		return 1;
	}
	if (strcmp(argv[3], "branch") == 0 && argc == 6) {
		snprintf(ref, sizeof(ref), "refs/heads/%s", argv[4]);
		rc = set_ref(s, argv[2], ref, argv[5], NULL);
	} else if (strcmp(argv[3], "switch") == 0) {
		snprintf(ref, sizeof(ref), "refs/heads/%s", argv[4]);
		rc = set_ref(s, argv[2], "HEAD", NULL, ref);
	} else if (strcmp(argv[3], "detach") == 0) {
		rc = set_ref(s, argv[2], "HEAD", argv[4], NULL);
	} else {
		fprintf(stderr, "merge_refs: unknown operation %s\n", argv[3]);
		rc = -1;
	}
	if (rc < 0 && tract_error_last()->code)
		fprintf(stderr, "merge_refs: %s\n", tract_error_last()->message);
	tract_store_free(s);
	return rc < 0 ? 1 : 0;
}
