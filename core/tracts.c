/*
 * tracts.c - the tracts of a store and their spawn pointers: listing, one tract,
 * parent and children, the ancestry walk with its cycle guard
 * (spec/agents.md §6.2, §6.4; operations layer).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "agents_internal.h"
#include "hash.h"
#include "json.h"
#include "walk.h"
#include "tract/llm.h"

/* ---- tracts of a store ---------------------------------------------------- */

int tract_store_tract_list(tract_info_list **out, tract_store *store)
{
	return tract_store_list_tracts(out, store);
}

static int info_copy(tract_info *dst, const tract_info *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->tract_id = strdup(src->tract_id);
	dst->display_name = dup_or_null(src->display_name);
	dst->head = dup_or_null(src->head);
	dst->branch = dup_or_null(src->branch);
	dst->parent_tract_id = dup_or_null(src->parent_tract_id);
	dst->commit_count = src->commit_count;
	dst->last_activity = src->last_activity;
	dst->is_active = src->is_active;
	if (!dst->tract_id || DUP_FAILED(dst->display_name, src->display_name) ||
	    DUP_FAILED(dst->head, src->head) || DUP_FAILED(dst->branch, src->branch) ||
	    DUP_FAILED(dst->parent_tract_id, src->parent_tract_id))
		return tract_error_oom();
	return 0;
}

void tract_info_free(tract_info *info)
{
	if (!info)
		return;
	free(info->tract_id);
	free(info->display_name);
	free(info->head);
	free(info->branch);
	free(info->parent_tract_id);
	free(info);
}

int tract_store_tract_get(tract_info **out, tract_store *store, const char *tract_id)
{
	tract_info_list *l = NULL;
	tract_info *info;
	size_t i;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_store_tract_get: out is NULL");
	*out = NULL;
	if (!store || !tract_id)
		return tract_error_set(TRACT_EINVAL, "tract_store_tract_get: NULL argument");
	rc = tract_store_list_tracts(&l, store);
	if (rc < 0)
		return rc;
	for (i = 0; i < l->count; i++)
		if (strcmp(l->items[i].tract_id, tract_id) == 0)
			break;
	if (i == l->count) {
		tract_info_list_free(l);
		return tract_error_set(TRACT_ENOTFOUND, "Tract not found: %s", tract_id);
	}
	info = calloc(1, sizeof(*info));
	rc = info ? info_copy(info, &l->items[i]) : tract_error_oom();
	tract_info_list_free(l);
	if (rc < 0) {
		tract_info_free(info);
		return rc;
	}
	*out = info;
	return 0;
}

/* ---- spawn pointers --------------------------------------------------------- */

typedef struct {
	tract_spawn_info *items;
	size_t count, cap;
} spawn_vec;

void tract_spawn_info_dispose(tract_spawn_info *i)
{
	free(i->parent_tract_id);
	free(i->parent_commit_hash);
	free(i->child_tract_id);
	free(i->purpose);
	free(i->inheritance_mode);
	free(i->display_name);
}

static int spawn_collect_cb(const tract_spawn_row *row, void *payload)
{
	spawn_vec *v = payload;
	tract_spawn_info *i;

	if (v->count == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 4;
		tract_spawn_info *p = realloc(v->items, ncap * sizeof(*p));
		if (!p)
			return TRACT_ENOMEM;
		v->items = p;
		v->cap = ncap;
	}
	i = &v->items[v->count++];
	memset(i, 0, sizeof(*i));
	i->spawn_id = row->id;
	i->parent_tract_id = dup_or_null(row->parent_tract_id);
	i->parent_commit_hash = dup_or_null(row->parent_commit_hash);
	i->child_tract_id = dup_or_null(row->child_tract_id);
	i->purpose = dup_or_null(row->purpose);
	i->inheritance_mode = dup_or_null(row->inheritance_mode);
	i->display_name = dup_or_null(row->display_name);
	i->created_at = row->created_at;
	if (DUP_FAILED(i->parent_tract_id, row->parent_tract_id) ||
	    DUP_FAILED(i->parent_commit_hash, row->parent_commit_hash) ||
	    DUP_FAILED(i->child_tract_id, row->child_tract_id) ||
	    DUP_FAILED(i->purpose, row->purpose) ||
	    DUP_FAILED(i->inheritance_mode, row->inheritance_mode) ||
	    DUP_FAILED(i->display_name, row->display_name))
		return TRACT_ENOMEM;
	return 0;
}

static void spawn_vec_dispose(spawn_vec *v)
{
	size_t i;

	for (i = 0; i < v->count; i++)
		tract_spawn_info_dispose(&v->items[i]);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

/* The pointer of a child (the first one stored), inside a transaction:
 * *found 0 when none. */
int tract_spawn_pointer_of(tract_spawn_info *out, int *found, tract_store *s, const char *child)
{
	spawn_vec v = {0};
	int rc = s->be->spawn_by_child(s->conn, child, spawn_collect_cb, &v);

	*found = 0;
	if (rc < 0) {
		spawn_vec_dispose(&v);
		return rc == TRACT_ENOMEM ? tract_error_oom()
		                          : tract_backend_error(s, rc, "read spawn pointers");
	}
	if (v.count) {
		*out = v.items[0];
		*found = 1;
		for (size_t i = 1; i < v.count; i++)
			tract_spawn_info_dispose(&v.items[i]);
	}
	free(v.items);
	return 0;
}

int tract_spawn_info_get(tract_spawn_info **out, tract_store *s, const char *child)
{
	tract_spawn_info info, *r;
	int rc, found = 0;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_spawn_info_get: out is NULL");
	*out = NULL;
	if (!s || !child)
		return tract_error_set(TRACT_EINVAL, "tract_spawn_info_get: NULL argument");
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_spawn_pointer_of(&info, &found, s, child);
	rc = tract_txn_end(s, rc);
	if (rc < 0)
		return rc;
	if (!found)
		return tract_error_set(TRACT_ENOTFOUND,
		                       "No spawn pointer found for child tract: %s", child);
	r = malloc(sizeof(*r));
	if (!r) {
		tract_spawn_info_dispose(&info);
		return tract_error_oom();
	}
	*r = info;
	*out = r;
	return 0;
}

int tract_spawn_children_list(tract_spawn_info_list **out, tract_store *s, const char *parent)
{
	spawn_vec v = {0};
	tract_spawn_info_list *l;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_spawn_children_list: out is NULL");
	*out = NULL;
	if (!s || !parent)
		return tract_error_set(TRACT_EINVAL, "tract_spawn_children_list: NULL argument");
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = s->be->spawn_foreach(s->conn, parent, spawn_collect_cb, &v);
	if (rc < 0)
		rc = rc == TRACT_ENOMEM ? tract_error_oom()
		                        : tract_backend_error(s, rc, "read spawn pointers");
	rc = tract_txn_end(s, rc);
	l = rc < 0 ? NULL : malloc(sizeof(*l));
	if (rc == 0 && !l)
		rc = tract_error_oom();
	if (rc < 0) {
		spawn_vec_dispose(&v);
		return rc;
	}
	l->items = v.items;
	l->count = v.count;
	*out = l;
	return 0;
}

void tract_spawn_info_free(tract_spawn_info *info)
{
	if (!info)
		return;
	tract_spawn_info_dispose(info);
	free(info);
}

void tract_spawn_info_list_free(tract_spawn_info_list *list)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < list->count; i++)
		tract_spawn_info_dispose(&list->items[i]);
	free(list->items);
	free(list);
}

/* Iterative ancestry walk with a visited set (§6.4), in a transaction. */
int tract_has_ancestor_locked(int *out, tract_store *s, const char *id, const char *candidate)
{
	tract_hexmap visited = {0};
	char cur[65];
	int rc = 0;

	*out = 0;
	tract_copy_id(cur, id);
	for (;;) {
		tract_spawn_info info;
		int found;
		if (tract_hexmap_get(&visited, cur))
			break; /* a cycle of stored pointers */
		rc = tract_hexmap_put(&visited, cur, NULL);
		if (rc < 0)
			break;
		rc = tract_spawn_pointer_of(&info, &found, s, cur);
		if (rc < 0 || !found)
			break;
		if (!info.parent_tract_id) {
			tract_spawn_info_dispose(&info);
			break;
		}
		if (strcmp(info.parent_tract_id, candidate) == 0)
			*out = 1;
		tract_copy_id(cur, info.parent_tract_id);
		tract_spawn_info_dispose(&info);
		if (*out)
			break;
	}
	tract_hexmap_dispose(&visited);
	return rc;
}

int tract_store_tract_has_ancestor(int *out, tract_store *s, const char *id, const char *candidate)
{
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_store_tract_has_ancestor: out is NULL");
	*out = 0;
	if (!s || !id || !candidate)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_store_tract_has_ancestor: NULL argument");
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_has_ancestor_locked(out, s, id, candidate);
	return tract_txn_end(s, rc);
}

