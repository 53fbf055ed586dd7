/*
 * annotation.c - priorities of commits: annotating (with the patch of the
 * compile cache of spec/core.md §7.3), listing a commit's annotations,
 * and the names of priorities (operations layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"

const char *tract_priority_name(tract_priority p)
{
	switch (p) {
	case TRACT_PRIORITY_SKIP: return "skip";
	case TRACT_PRIORITY_NORMAL: return "normal";
	case TRACT_PRIORITY_PINNED: return "pinned";
	default: return "none";
	}
}

int tract_priority_parse(tract_priority *out, const char *name)
{
	if (name && strcmp(name, "skip") == 0)
		*out = TRACT_PRIORITY_SKIP;
	else if (name && strcmp(name, "normal") == 0)
		*out = TRACT_PRIORITY_NORMAL;
	else if (name && strcmp(name, "pinned") == 0)
		*out = TRACT_PRIORITY_PINNED;
	else
		return tract_error_set(TRACT_EINVAL,
				       "unknown priority '%s' (skip, normal or pinned)",
				       name ? name : "(null)");
	return 0;
}

/* The patched snapshot of the current HEAD after an annotation (§7.3). */
static tract_context *patch_for_annotation(tract *t, const char *head, const char *target,
					   tract_priority p)
{
	tract_context *cur = tract_cache_get(t->cache, head), *c;
	size_t pos;

	if (!cur)
		return NULL;
	for (pos = 0; pos < cur->count; pos++)
		if (strcmp(tract_context_msg(cur, pos)->hash, target) == 0)
			break;
	if (p != TRACT_PRIORITY_SKIP)
		return pos < cur->count ? tract_context_ref(cur) : NULL;
	if (pos == cur->count)
		return tract_context_ref(cur);
	c = tract_context_rebuild(cur, pos, NULL);
	if (!c)
		return NULL;
	if (tract_context_recount(c, t) < 0) {
		tract_context_free(c);
		return NULL;
	}
	return c;
}

int tract_annotation_create(int64_t *out_id, tract *t, const char *ref, tract_priority priority,
		   const char *reason)
{
	tract_annotation_row ann;
	tract_head_state hs;
	tract_context *patched = NULL;
	char target[65];
	int64_t id = 0;
	int rc;

	if (!t)
		return tract_error_set(TRACT_EINVAL, "tract_annotation_create: NULL tract");
	if (priority < TRACT_PRIORITY_SKIP || priority > TRACT_PRIORITY_PINNED)
		return tract_error_set(TRACT_EINVAL, "unknown priority %d", (int)priority);
	if (reason && !tract_utf8_valid(reason, strlen(reason)))
		return tract_error_set(TRACT_EINVAL, "annotation reason is not valid UTF-8");
	rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
	if (rc < 0)
		return rc;
	rc = tract_resolve_in_txn(target, t, ref);
	if (rc == 0)
		rc = tract_head_read(&hs, t);
	if (rc == 0) {
		memset(&ann, 0, sizeof(ann));
		ann.tract_id = t->id;
		ann.target_hash = target;
		ann.priority = priority;
		ann.reason = reason;
		ann.created_at = tract_time_now();
		rc = t->store->be->annotation_put(t->store->conn, &ann, &id);
		if (rc < 0)
			rc = tract_backend_error(t->store, rc, "store annotation");
	}
	rc = tract_txn_end(t->store, rc);
	tract_cache_sync(t);
	if (rc < 0)
		return rc;
	if (hs.hash[0])
		patched = patch_for_annotation(t, hs.hash, target, priority);
	tract_cache_clear(t->cache);
	if (patched) {
		tract_cache_put(t->cache, patched);
		tract_context_free(patched);
	}
	if (out_id)
		*out_id = id;
	return 0;
}

typedef struct {
	tract_annotation *items;
	size_t count, cap;
} ann_list;

static int ann_cb(const tract_annotation_row *row, void *payload)
{
	ann_list *l = payload;
	tract_annotation *a;

	if (l->count == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 4;
		tract_annotation *p = realloc(l->items, ncap * sizeof(*p));
		if (!p)
			return TRACT_ENOMEM;
		l->items = p;
		l->cap = ncap;
	}
	a = &l->items[l->count];
	memset(a, 0, sizeof(*a));
	a->id = row->id;
	tract_copy_id(a->tract_id, row->tract_id);
	tract_copy_id(a->target_hash, row->target_hash);
	a->priority = row->priority;
	a->created_at = row->created_at;
	if (row->reason && !(a->reason = strdup(row->reason)))
		return TRACT_ENOMEM;
	l->count++;
	return 0;
}

int tract_annotation_list_get(tract_annotation_list **out, tract *t, const char *ref)
{
	ann_list l = {0};
	tract_annotation_list *list;
	char target[TRACT_HASH_HEXSIZE + 1];
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_annotation_list_get: NULL argument");
	*out = NULL;
	list = calloc(1, sizeof(*list));
	if (!list)
		return tract_error_oom();
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc == 0) {
		rc = tract_resolve_in_txn(target, t, ref);
		if (rc == 0) {
			rc = t->store->be->annotation_list(t->store->conn, target, ann_cb, &l);
			if (rc < 0)
				rc = rc == TRACT_ENOMEM ? tract_error_oom()
							: tract_backend_error(t->store, rc,
									      "read annotations");
		}
		rc = tract_txn_end(t->store, rc);
	}
	list->items = l.items;
	list->count = l.count;
	if (rc < 0) {
		tract_annotation_list_free(list);
		return rc;
	}
	*out = list;
	return 0;
}

void tract_annotation_list_free(tract_annotation_list *list)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < list->count; i++)
		free(list->items[i].reason);
	free(list->items);
	free(list);
}
