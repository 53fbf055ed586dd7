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

/* One walk: each commit goes to emit (the list's push, or the caller's
 * callback through a borrowed commit). */
typedef struct log_walk log_walk;
struct log_walk {
	size_t seen, limit;
	tract_operation filter;
	int (*emit)(log_walk *w, tract_row *r);
	/* tract_log_list */
	tract_commit_list *list;
	size_t cap;
	/* tract_log_foreach */
	tract_log_cb cb;
	void *payload;
	int cb_rc; /* the callback's own failure, returned as is */
	char cb_msg[512]; /* ...with the last error it left */
	/* content wanted: read blob by blob (tract_log_foreach) */
	tract_store *store;
	int content;
};

/* A commit row with its blob's payload, copied while the blob is lent. */
struct blob_fetch {
	const tract_chain_row *row;
	tract_row *out;
	int rc, found;
};

static int blob_fetch_cb(const tract_blob_row *b, void *payload)
{
	struct blob_fetch *f = payload;
	tract_chain_row cr = *f->row;

	cr.payload_json = b->payload_json;
	f->rc = tract_row_copy_chain(f->out, &cr);
	f->found = 1;
	return 1;
}

/*
 * The row with its content, the blob read by its own lookup: a walk that
 * joins the payloads may read a store's every blob into memory first (the
 * SQLite backend does for long walks), which a stream must not.
 */
static int copy_with_blob(log_walk *w, tract_row *r, const tract_chain_row *row)
{
	struct blob_fetch f = {row, r, 0, 0};
	int rc = w->store->be->blob_get(w->store->conn, row->commit.content_hash, blob_fetch_cb,
					&f);

	if (rc < 0 && rc != TRACT_ENOTFOUND)
		return rc;
	if (f.found)
		return f.rc;
	return tract_row_copy_chain(r, row); /* the blob is missing: no content */
}

static int log_cb(const tract_chain_row *row, void *payload)
{
	log_walk *w = payload;
	tract_row r;
	int rc;

	if (w->filter != TRACT_OP_UNKNOWN && row->commit.operation != w->filter)
		return 0;
	rc = w->content ? copy_with_blob(w, &r, row) : tract_row_copy_chain(&r, row);
	if (rc == 0)
		rc = w->emit(w, &r);
	if (rc != 0)
		return rc;
	w->seen++;
	return w->limit && w->seen >= w->limit ? 1 : 0;
}

static int emit_list(log_walk *w, tract_row *r)
{
	return tract_commit_list_push(w->list, &w->cap, r);
}

static int emit_cb(log_walk *w, tract_row *r)
{
	tract_commit *c = tract_commit_from_row(r);
	int rc;

	if (!c)
		return TRACT_ENOMEM;
	rc = w->cb(c, w->payload);
	tract_commit_free(c);
	if (rc < 0) {
		w->cb_rc = rc;
		snprintf(w->cb_msg, sizeof(w->cb_msg), "%s", tract_error_last()->message);
	}
	return rc;
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

/* The walk of tract_log_list() and tract_log_foreach(): w's emit sees
 * each commit; chain flags TRACT_CHAIN_PAYLOAD only when content is asked. */
static int log_walk_run(tract *t, const tract_log_options *opts, log_walk *w, unsigned chain,
			const char *fn)
{
	tract_log_options defaults = TRACT_LOG_OPTIONS_INIT;
	tract_head_state hs;
	char head[TRACT_HASH_HEXSIZE + 1];
	int rc;

	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_LOG_OPTIONS_VERSION, "tract_log_options") < 0)
		return TRACT_EINVAL;
	if (opts->operation != TRACT_OP_UNKNOWN && opts->operation != TRACT_OP_APPEND &&
	    opts->operation != TRACT_OP_EDIT)
		return tract_error_set(TRACT_EINVAL, "%s: unknown operation %d", fn,
				       (int)opts->operation);
	w->limit = opts->limit;
	w->filter = opts->operation;
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	if (opts->start) {
		rc = tract_resolve_in_txn(head, t, opts->start);
	} else {
		rc = tract_head_read(&hs, t);
		memcpy(head, hs.hash, sizeof(head));
	}
	if (rc == 0 && head[0]) {
		/* Without a filter the backend stops after limit rows itself. */
		rc = tract_chain_walk(t->store, t->id, head,
				      w->filter == TRACT_OP_UNKNOWN ? w->limit : 0,
				      chain | TRACT_CHAIN_PARENTS, INT64_MAX, log_cb, w,
				      "walk history", NULL);
		/* The walk wrapped the callback's failure as a backend one:
		 * give the caller back its own code and message. */
		if (w->cb_rc)
			rc = tract_error_set(w->cb_rc, "%s", w->cb_msg);
	}
	return tract_txn_end(t->store, rc);
}

int tract_log_list(tract_commit_list **out, tract *t, const tract_log_options *opts)
{
	tract_commit_list *list;
	log_walk w;
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_log_list: NULL argument");
	*out = NULL;
	list = calloc(1, sizeof(*list));
	if (!list)
		return tract_error_oom();
	memset(&w, 0, sizeof(w));
	w.list = list;
	w.emit = emit_list;
	rc = log_walk_run(t, opts, &w, TRACT_CHAIN_PAYLOAD, "tract_log_list");
	if (rc < 0) {
		tract_commit_list_free(list);
		return rc;
	}
	*out = list;
	return 0;
}

int tract_log_foreach(tract *t, const tract_log_options *opts, unsigned int flags,
		      tract_log_cb cb, void *payload)
{
	log_walk w;

	if (!t || !cb)
		return tract_error_set(TRACT_EINVAL, "tract_log_foreach: NULL argument");
	if (flags & ~(unsigned int)TRACT_LOG_CONTENT)
		return tract_error_set(TRACT_EINVAL, "tract_log_foreach: unknown flags %#x", flags);
	memset(&w, 0, sizeof(w));
	w.emit = emit_cb;
	w.cb = cb;
	w.payload = payload;
	w.store = t->store;
	w.content = (flags & TRACT_LOG_CONTENT) != 0;
	return log_walk_run(t, opts, &w, 0, "tract_log_foreach");
}
