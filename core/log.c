/*
 * log.c - history along first parents from HEAD or a revision, newest
 * first, in one backend walk (CLI `log`; model layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "row.h"
#include "walk.h"

typedef struct {
	tract_commit_list *list;
	size_t cap, limit;
	tract_operation filter;
} log_walk;

static int log_cb(const tract_chain_row *row, void *payload)
{
	log_walk *w = payload;
	tract_row r;
	int rc;

	if (w->filter != TRACT_OP_UNKNOWN && row->commit.operation != w->filter)
		return 0;
	rc = tract_row_copy_chain(&r, row);
	if (rc == 0)
		rc = tract_commit_list_push(w->list, &w->cap, &r);
	if (rc < 0)
		return rc;
	return w->limit && w->list->count >= w->limit ? 1 : 0;
}

int tract_log_options_init(tract_log_options *opts, unsigned int version)
{
	tract_log_options defaults = TRACT_LOG_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_log_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_LOG_OPTIONS_VERSION, "tract_log_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

int tract_log_list(tract_commit_list **out, tract *t, const tract_log_options *opts)
{
	tract_log_options defaults = TRACT_LOG_OPTIONS_INIT;
	tract_commit_list *list;
	log_walk w;
	tract_head_state hs;
	char head[TRACT_HASH_HEXSIZE + 1];
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_log_list: NULL argument");
	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_LOG_OPTIONS_VERSION, "tract_log_options") < 0)
		return TRACT_EINVAL;
	if (opts->operation != TRACT_OP_UNKNOWN && opts->operation != TRACT_OP_APPEND &&
	    opts->operation != TRACT_OP_EDIT)
		return tract_error_set(TRACT_EINVAL, "unknown operation %d", (int)opts->operation);
	list = calloc(1, sizeof(*list));
	if (!list)
		return tract_error_oom();
	memset(&w, 0, sizeof(w));
	w.list = list;
	w.limit = opts->limit;
	w.filter = opts->operation;
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		goto done;
	if (opts->start) {
		rc = tract_resolve_in_txn(head, t, opts->start);
	} else {
		rc = tract_head_read(&hs, t);
		memcpy(head, hs.hash, sizeof(head));
	}
	if (rc == 0 && head[0]) {
		rc = tract_chain_walk(t->store, t->id, head,
				      w.filter == TRACT_OP_UNKNOWN ? w.limit : 0,
				      TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS, INT64_MAX, log_cb, &w,
				      "walk history", NULL);
	}
	rc = tract_txn_end(t->store, rc);
done:
	if (rc < 0) {
		tract_commit_list_free(list);
		return rc;
	}
	*out = list;
	return 0;
}
