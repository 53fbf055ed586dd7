/*
 * branch.c - branches and tags: create (from any revision, resolved),
 * list (current, tip, ahead/behind the default branch), rename (HEAD
 * follows), delete (the unmerged check against HEAD), git's name rules;
 * tags as refs/tags/NAME (spec/history.md §5, DECISIONS.md; operations).
 * Writes go through the two phases of nav.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dag.h"
#include "json.h"
#include "nav.h"

/* The ref of a name under prefix ("refs/heads/", "refs/tags/") when it can
 * exist (valid UTF-8, fits the column): 0, else 1. */
static int ref_of(char ref[TRACT_REF_NAME_MAX + 1], const char *prefix, const char *name)
{
	size_t lp = strlen(prefix), ln = strlen(name);

	if (!name[0] || !tract_utf8_valid(name, ln) || lp + ln > TRACT_REF_NAME_MAX)
		return 1;
	/* memcpy, not snprintf: the length is checked above (gcc -O3 cannot
	 * see that and warns of truncation) */
	memcpy(ref, prefix, lp);
	memcpy(ref + lp, name, ln + 1);
	return 0;
}

/* Read the ref of name under prefix (absent when it cannot exist). */
static int read_named(tract_ref_value *out, char ref[TRACT_REF_NAME_MAX + 1], tract *t,
		      const char *prefix, const char *name)
{
	memset(out, 0, sizeof(*out));
	if (ref_of(ref, prefix, name) != 0)
		return 0;
	return tract_ref_read(out, t->store, t->id, ref);
}

/* ---- create ------------------------------------------------------------------------ */

typedef struct {
	const char *name;
	const char *start;
	unsigned flags;
	const char *prefix; /* "refs/heads/" or "refs/tags/" */
	const char *kind;   /* "Branch" or "Tag" */
} create_args;

static int plan_create(nav_plan *p, tract *t, void *arg)
{
	create_args *a = arg;
	tract_head_state hs;
	tract_ref_value cur;
	char ref[TRACT_REF_NAME_MAX + 1], start[65];
	int rc;

	snprintf(p->reason, sizeof(p->reason), "branch");

	rc = tract_head_read(&hs, t);
	if (rc == 0)
		rc = read_named(&cur, ref, t, a->prefix, a->name);
	if (rc < 0)
		return rc;
	if (cur.exists)
		return tract_error_set(TRACT_EEXISTS, "%s already exists: %s", a->kind, a->name);
	if (a->start) {
		/* The start is a revision, resolved (DECISIONS.md: not used
		 * verbatim as the reference does). */
		rc = tract_resolve_in_txn(start, t, a->start);
		if (rc < 0)
			return rc;
	} else if (hs.hash[0]) {
		memcpy(start, hs.hash, 65);
	} else {
		return tract_error_set(TRACT_ENOTFOUND, "Cannot create %s: no commits exist",
				       a->prefix[5] == 'h' ? "branch" : "tag");
	}
	nav_plan_add(p, NAV_SET_DIRECT, ref, start, &cur);
	if (a->flags & TRACT_BRANCH_CREATE_SWITCH)
		nav_plan_add(p, NAV_SET_SYMBOLIC, "HEAD", ref, &hs.head);
	else if (!a->start)
		nav_plan_add(p, NAV_GUARD, "HEAD", NULL, &hs.head);
	/* made at HEAD: HEAD's branch must still be there */
	if (!a->start && hs.head.symbolic[0])
		nav_plan_add(p, NAV_GUARD, hs.head.symbolic, NULL, &hs.branch);
	memcpy(p->result, start, 65);
	return 0;
}

int tract_branch_create(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *name,
			const char *start, unsigned int flags)
{
	create_args a = {name, start, flags, "refs/heads/", "Branch"};
	int rc;

	if (!t)
		return tract_error_set(TRACT_EINVAL, "tract_branch_create: NULL tract");
	if (flags & ~(unsigned)TRACT_BRANCH_CREATE_SWITCH)
		return tract_error_set(TRACT_EINVAL, "tract_branch_create: unknown flags 0x%x",
				       flags);
	rc = tract_branch_name_check(name);
	if (rc < 0)
		return rc;
	return nav_run(out, t, plan_create, &a);
}

int tract_tag_create(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *name,
		     const char *rev)
{
	create_args a = {name, rev, 0, "refs/tags/", "Tag"};
	int rc;

	if (!t)
		return tract_error_set(TRACT_EINVAL, "tract_tag_create: NULL tract");
	rc = tract_tag_name_check(name);
	if (rc < 0)
		return rc;
	return nav_run(out, t, plan_create, &a);
}

/* ---- delete ------------------------------------------------------------------------ */

typedef struct {
	const char *name;
	int force;
} delete_args;

static int plan_branch_delete(nav_plan *p, tract *t, void *arg)
{
	delete_args *a = arg;
	tract_head_state hs;
	tract_ref_value br;
	char ref[TRACT_REF_NAME_MAX + 1];
	int rc, merged;

	snprintf(p->reason, sizeof(p->reason), "branch -d");

	rc = tract_head_read(&hs, t);
	if (rc == 0)
		rc = read_named(&br, ref, t, "refs/heads/", a->name);
	if (rc < 0)
		return rc;
	if (!br.exists)
		return tract_error_set(TRACT_ENOTFOUND, "Branch not found: %s", a->name);
	if (hs.head.symbolic[0] && strcmp(hs.head.symbolic, ref) == 0)
		return tract_error_set(TRACT_EINVAL, "Cannot delete the current branch '%s'",
				       a->name);
	/* Unmerged: the tip is not in HEAD's history (all parents), checked
	 * against HEAD even when detached; no check without a HEAD commit. */
	if (!a->force && hs.hash[0] && br.commit[0] && strcmp(br.commit, hs.hash) != 0) {
		rc = tract_dag_is_ancestor(&merged, t->store, t->id, br.commit, hs.hash);
		if (rc < 0)
			return rc;
		if (!merged)
			return tract_error_set(TRACT_EUNMERGED,
					       "Branch '%s' has unmerged commits (its tip %.8s is "
					       "not in HEAD's history)",
					       a->name, br.commit);
	}
	/* HEAD is guarded: the merge check was made against it. */
	nav_plan_add(p, NAV_GUARD, "HEAD", NULL, &hs.head);
	if (hs.head.symbolic[0])
		nav_plan_add(p, NAV_GUARD, hs.head.symbolic, NULL, &hs.branch);
	nav_plan_add(p, NAV_DELETE, ref, NULL, &br);
	memcpy(p->result, br.commit, 65);
	return 0;
}

int tract_branch_delete(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *name, int force)
{
	delete_args a = {name, force};

	if (!t || !name)
		return tract_error_set(TRACT_EINVAL, "tract_branch_delete: NULL argument");
	return nav_run(out, t, plan_branch_delete, &a);
}

static int plan_tag_delete(nav_plan *p, tract *t, void *arg)
{
	const char *name = arg;
	tract_ref_value tag;
	char ref[TRACT_REF_NAME_MAX + 1];
	int rc;

	rc = read_named(&tag, ref, t, "refs/tags/", name);
	if (rc < 0)
		return rc;
	if (!tag.exists)
		return tract_error_set(TRACT_ENOTFOUND, "Tag not found: %s", name);
	nav_plan_add(p, NAV_DELETE, ref, NULL, &tag);
	memcpy(p->result, tag.commit, 65);
	return 0;
}

int tract_tag_delete(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *name)
{
	if (!t || !name)
		return tract_error_set(TRACT_EINVAL, "tract_tag_delete: NULL argument");
	return nav_run(out, t, plan_tag_delete, (void *)name);
}

/* ---- rename ------------------------------------------------------------------------ */

typedef struct {
	const char *old_name, *new_name;
} rename_args;

static int plan_rename(nav_plan *p, tract *t, void *arg)
{
	rename_args *a = arg;
	tract_head_state hs;
	tract_ref_value old_br, new_br, prev_branch;
	char old_ref[TRACT_REF_NAME_MAX + 1], new_ref[TRACT_REF_NAME_MAX + 1];
	int rc;

	snprintf(p->reason, sizeof(p->reason), "branch -m");

	rc = tract_head_read(&hs, t);
	if (rc == 0)
		rc = read_named(&old_br, old_ref, t, "refs/heads/", a->old_name);
	if (rc == 0)
		rc = read_named(&new_br, new_ref, t, "refs/heads/", a->new_name);
	if (rc == 0)
		rc = tract_ref_read(&prev_branch, t->store, t->id, "PREV_BRANCH");
	if (rc < 0)
		return rc;
	if (!old_br.exists || !old_br.commit[0])
		return tract_error_set(TRACT_ENOTFOUND, "Branch not found: %s", a->old_name);
	memcpy(p->result, old_br.commit, 65);
	if (strcmp(a->old_name, a->new_name) == 0)
		return 0;
	if (new_br.exists)
		return tract_error_set(TRACT_EEXISTS, "Branch already exists: %s", a->new_name);
	nav_plan_add(p, NAV_SET_DIRECT, new_ref, old_br.commit, &new_br);
	if (hs.head.symbolic[0] && strcmp(hs.head.symbolic, old_ref) == 0)
		nav_plan_add(p, NAV_SET_SYMBOLIC, "HEAD", new_ref, &hs.head);
	else
		nav_plan_add(p, NAV_GUARD, "HEAD", NULL, &hs.head);
	if (prev_branch.exists && strcmp(prev_branch.symbolic, old_ref) == 0)
		nav_plan_add(p, NAV_SET_SYMBOLIC, "PREV_BRANCH", new_ref, &prev_branch);
	nav_plan_add(p, NAV_DELETE, old_ref, NULL, &old_br);
	return 0;
}

int tract_branch_rename(tract *t, const char *old_name, const char *new_name)
{
	rename_args a = {old_name, new_name};
	int rc;

	if (!t || !old_name || !new_name)
		return tract_error_set(TRACT_EINVAL, "tract_branch_rename: NULL argument");
	rc = tract_branch_name_check(new_name);
	if (rc < 0)
		return rc;
	return nav_run(NULL, t, plan_rename, &a);
}

/* ---- lists ------------------------------------------------------------------------- */

typedef struct {
	char **names;
	char (*hashes)[65];
	size_t n, cap;
	size_t skip; /* length of the prefix listed */
} ref_rows;

static int ref_rows_cb(const tract_ref_row *row, void *payload)
{
	ref_rows *r = payload;

	if (!row->commit_hash)
		return 0; /* a symbolic row under refs/ is no branch or tag */
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		char **names = realloc(r->names, cap * sizeof(*names));
		char(*hashes)[65];
		if (!names)
			return tract_error_oom();
		r->names = names;
		hashes = realloc(r->hashes, cap * sizeof(*hashes));
		if (!hashes)
			return tract_error_oom();
		r->hashes = hashes;
		r->cap = cap;
	}
	r->names[r->n] = strdup(row->ref_name + r->skip);
	if (!r->names[r->n])
		return tract_error_oom();
	tract_copy_id(r->hashes[r->n], row->commit_hash);
	r->n++;
	return 0;
}

static void ref_rows_dispose(ref_rows *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->names[i]);
	free(r->names);
	free(r->hashes);
	memset(r, 0, sizeof(*r));
}

/* Sort by name, bytewise (the backends order by ref_name already; the
 * order is the API's promise, so it is made here). */
static void ref_rows_sort(ref_rows *r)
{
	size_t i, j;

	for (i = 1; i < r->n; i++) {
		for (j = i; j > 0 && strcmp(r->names[j - 1], r->names[j]) > 0; j--) {
			char *tn = r->names[j], th[65];
			memcpy(th, r->hashes[j], 65);
			r->names[j] = r->names[j - 1];
			memcpy(r->hashes[j], r->hashes[j - 1], 65);
			r->names[j - 1] = tn;
			memcpy(r->hashes[j - 1], th, 65);
		}
	}
}

static int read_rows(ref_rows *r, tract *t, const char *prefix)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->skip = strlen(prefix);
	rc = t->store->be->ref_foreach(t->store->conn, t->id, prefix, ref_rows_cb, r);
	if (rc < 0) {
		ref_rows_dispose(r);
		return rc == TRACT_ENOMEM ? rc : tract_backend_error(t->store, rc, "list refs");
	}
	ref_rows_sort(r);
	return 0;
}

void tract_branch_list_free(tract_branch_list *list)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < list->count; i++)
		free(list->items[i].name);
	free(list->items);
	free(list);
}

/* Ahead/behind of every branch against the default branch's tip, in one
 * shared walk (each commit read once for the whole list). */
static int branch_list_counts(tract_branch_list *l, tract *t, const char *base)
{
	char(*tips)[65] = malloc(l->count * sizeof(*tips));
	size_t *ahead = malloc(l->count * sizeof(*ahead));
	size_t *behind = malloc(l->count * sizeof(*behind));
	size_t i;
	int rc;

	if (!tips || !ahead || !behind) {
		free(tips);
		free(ahead);
		free(behind);
		return tract_error_oom();
	}
	for (i = 0; i < l->count; i++)
		memcpy(tips[i], l->items[i].tip, 65);
	rc = tract_dag_ahead_behind_many(ahead, behind, t->store, t->id,
					 (const char(*)[65])tips, l->count, base);
	for (i = 0; rc == 0 && i < l->count; i++) {
		l->items[i].ahead = (int64_t)ahead[i];
		l->items[i].behind = (int64_t)behind[i];
	}
	free(tips);
	free(ahead);
	free(behind);
	return rc;
}

static int branch_list_fill(tract_branch_list *l, tract *t)
{
	tract_head_state hs;
	tract_ref_value def;
	char def_ref[TRACT_REF_NAME_MAX + 1];
	ref_rows r;
	size_t i;
	int rc;

	rc = tract_head_read(&hs, t);
	if (rc == 0)
		rc = read_named(&def, def_ref, t, "refs/heads/", t->default_branch);
	if (rc == 0)
		rc = read_rows(&r, t, "refs/heads/");
	if (rc < 0)
		return rc;
	l->items = calloc(r.n ? r.n : 1, sizeof(*l->items));
	if (!l->items) {
		ref_rows_dispose(&r);
		return tract_error_oom();
	}
	for (i = 0; i < r.n; i++) {
		tract_branch *b = &l->items[l->count++];
		b->name = r.names[i];
		r.names[i] = NULL;
		memcpy(b->tip, r.hashes[i], 65);
		b->current = hs.head.symbolic[0] && strncmp(hs.head.symbolic, "refs/heads/", 11) == 0 &&
			     strcmp(hs.head.symbolic + 11, b->name) == 0;
		b->ahead = b->behind = -1;
	}
	ref_rows_dispose(&r);
	if (def.exists && def.commit[0] && l->count)
		rc = branch_list_counts(l, t, def.commit);
	return rc;
}

int tract_branch_list_get(tract_branch_list **out, tract *t)
{
	tract_branch_list *l;
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_branch_list_get: NULL argument");
	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return tract_error_oom();
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc == 0) {
		rc = branch_list_fill(l, t);
		rc = tract_txn_end(t->store, rc);
	}
	if (rc < 0) {
		tract_branch_list_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void tract_tag_list_free(tract_tag_list *list)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < list->count; i++)
		free(list->items[i].name);
	free(list->items);
	free(list);
}

int tract_tag_list_get(tract_tag_list **out, tract *t)
{
	tract_tag_list *l;
	ref_rows r;
	size_t i;
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_tag_list_get: NULL argument");
	*out = NULL;
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc == 0) {
		rc = read_rows(&r, t, "refs/tags/");
		rc = tract_txn_end(t->store, rc);
	}
	if (rc < 0)
		return rc;
	l = calloc(1, sizeof(*l));
	if (l)
		l->items = calloc(r.n ? r.n : 1, sizeof(*l->items));
	if (!l || !l->items) {
		free(l);
		ref_rows_dispose(&r);
		return tract_error_oom();
	}
	for (i = 0; i < r.n; i++) {
		l->items[i].name = r.names[i];
		r.names[i] = NULL;
		memcpy(l->items[i].target, r.hashes[i], 65);
	}
	l->count = r.n;
	ref_rows_dispose(&r);
	*out = l;
	return 0;
}

/* ---- JSON -------------------------------------------------------------------------- */

static int put_count(tract_buf *b, const char *key, int64_t v)
{
	if (v < 0)
		return tract_buf_printf(b, ", \"%s\": null", key);
	return tract_buf_printf(b, ", \"%s\": %lld", key, (long long)v);
}

static int put_named(tract_buf *b, size_t i, const char *name, const char *hash)
{
	int rc = tract_buf_puts(b, i ? ", {\"name\": " : "{\"name\": ");

	rc |= tract_json_escape(b, name, strlen(name), 0);
	rc |= tract_buf_printf(b, ", \"commit_hash\": \"%s\"", hash);
	return rc;
}

int tract_branch_list_to_json(char **out, const tract_branch_list *list)
{
	tract_buf b = TRACT_BUF_INIT;
	size_t i;
	int rc;

	if (!out || !list)
		return tract_error_set(TRACT_EINVAL, "tract_branch_list_to_json: NULL argument");
	*out = NULL;
	rc = tract_buf_putc(&b, '[');
	for (i = 0; i < list->count; i++) {
		const tract_branch *br = &list->items[i];
		rc |= put_named(&b, i, br->name, br->tip);
		rc |= tract_buf_printf(&b, ", \"current\": %s", br->current ? "true" : "false");
		rc |= put_count(&b, "ahead", br->ahead);
		rc |= put_count(&b, "behind", br->behind);
		rc |= tract_buf_putc(&b, '}');
	}
	rc |= tract_buf_putc(&b, ']');
	return tract_buf_finish(out, &b, rc);
}

int tract_tag_list_to_json(char **out, const tract_tag_list *list)
{
	tract_buf b = TRACT_BUF_INIT;
	size_t i;
	int rc;

	if (!out || !list)
		return tract_error_set(TRACT_EINVAL, "tract_tag_list_to_json: NULL argument");
	*out = NULL;
	rc = tract_buf_putc(&b, '[');
	for (i = 0; i < list->count; i++) {
		rc |= put_named(&b, i, list->items[i].name, list->items[i].target);
		rc |= tract_buf_putc(&b, '}');
	}
	rc |= tract_buf_putc(&b, ']');
	return tract_buf_finish(out, &b, rc);
}
