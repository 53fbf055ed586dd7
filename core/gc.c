/*
 * gc.c - garbage collection (spec/agents.md §3 with DECISIONS.md; the
 * rules are in include/tract/gc.h). Operations layer.
 *
 * One pass over the store's commits finds the tract's commits and the
 * collapse commits of other tracts that point into it; roots come from
 * the refs, spawn pointers and collapse metadata; a walk over every edge
 * that makes a commit's hash (first parent, merge parents, response_to)
 * marks what stays. Commits kept only by retention keep what they point
 * at as well, so no surviving commit ever loses a parent or a
 * response_to (which would change what its hash covers).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "internal.h"
#include "json.h"
#include "reflog.h"
#include "tract/gc.h"

enum {
	N_REACH = 1,    /* reachable from a root (or kept with something that is) */
	N_ARCHIVE = 2,  /* named by a compression record */
	N_REMOVE = 4,   /* goes */
	N_COLLAPSE = 8, /* a collapse commit: a root */
};

typedef struct {
	char hash[65];
	char parent[65];
	char response_to[65];
	char content_hash[65];
	tract_time created_at;
	int64_t tokens;
	unsigned flags;
	size_t first_extra, n_extra; /* merge parents: extras[first_extra ..] */
} gc_node;

typedef struct {
	size_t child;
	char parent[65];
} gc_extra;

struct gc_key {
	const char *hash; /* the node's */
	size_t node;
};

typedef struct {
	tract *t;
	tract_store *s;
	gc_node *nodes;
	size_t n, cap;
	struct gc_key *by_hash; /* the nodes sorted by hash */
	gc_extra *extras;
	size_t n_extras, cap_extras;
	char (*roots)[65];
	size_t n_roots, cap_roots;
	tract_ref_row *refs; /* the store's refs (strings owned) */
	size_t n_refs, cap_refs;
	/* the ref log (reflog.c): a record younger than the orphan retention
	 * keeps the commit it names; older records go */
	double retention_days;
	tract_time now;
	char **expired; /* keys of records to delete */
	size_t n_expired, cap_expired;
	int rc;
} gc_state;

int tract_gc_options_init(tract_gc_options *opts, unsigned int version)
{
	tract_gc_options defaults = TRACT_GC_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_gc_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_GC_OPTIONS_VERSION, "tract_gc_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	void *p;
	size_t c;

	if (need <= *cap)
		return 0;
	c = *cap ? *cap * 2 : 64;
	while (c < need)
		c *= 2;
	p = realloc(*v, c * size);
	if (!p)
		return tract_error_oom();
	*v = p;
	*cap = c;
	return 0;
}

static int add_root(gc_state *g, const char *hash)
{
	if (!hash || !hash[0])
		return 0;
	if (grow((void **)&g->roots, &g->cap_roots, g->n_roots + 1, sizeof(*g->roots)) < 0)
		return TRACT_ENOMEM;
	tract_copy_id(g->roots[g->n_roots++], hash);
	return 0;
}

/* A string member of a commit's metadata, or NULL. */
static char *meta_string(const char *metadata_json, const char *key)
{
	cJSON *m = NULL, *v;
	char *out = NULL;

	if (!metadata_json || !strstr(metadata_json, key))
		return NULL;
	if (tract_json_parse(&m, metadata_json, strlen(metadata_json),
			     TRACT_JSON_NONFINITE_TO_NULL, NULL, 0) < 0)
		return NULL;
	v = cJSON_GetObjectItemCaseSensitive(m, key);
	if (cJSON_IsString(v))
		out = strdup(v->valuestring);
	cJSON_Delete(m);
	return out;
}

static int commit_cb(const tract_commit_row *row, void *payload)
{
	gc_state *g = payload;
	gc_node *n;

	if (strcmp(row->tract_id, g->t->id) != 0) {
		/* Another tract's collapse of this one keeps what it summarized. */
		char *child = meta_string(row->metadata_json, "collapse_source_tract_id");
		int rc = 0;

		if (child && strcmp(child, g->t->id) == 0) {
			char *head = meta_string(row->metadata_json, "collapse_source_head");
			rc = add_root(g, head);
			free(head);
		}
		free(child);
		return rc;
	}
	if (grow((void **)&g->nodes, &g->cap, g->n + 1, sizeof(*g->nodes)) < 0)
		return TRACT_ENOMEM;
	n = &g->nodes[g->n++];
	memset(n, 0, sizeof(*n));
	tract_copy_id(n->hash, row->commit_hash);
	tract_copy_id(n->parent, row->parent_hash);
	tract_copy_id(n->response_to, row->response_to);
	tract_copy_id(n->content_hash, row->content_hash);
	n->created_at = row->created_at;
	n->tokens = row->token_count;
	if (row->metadata_json && strstr(row->metadata_json, "collapse_source_tract_id")) {
		char *child = meta_string(row->metadata_json, "collapse_source_tract_id");
		if (child)
			n->flags |= N_COLLAPSE;
		free(child);
	}
	return 0;
}

static int by_hash_cmp(const void *a, const void *b)
{
	return strcmp(((const struct gc_key *)a)->hash, ((const struct gc_key *)b)->hash);
}

/* The node of a hash, or (size_t)-1. */
static size_t find(const gc_state *g, const char *hash)
{
	size_t lo = 0, hi = g->n;

	if (!hash || !hash[0])
		return (size_t)-1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(g->by_hash[mid].hash, hash);
		if (c == 0)
			return g->by_hash[mid].node;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (size_t)-1;
}

static int extra_cb(const char *commit_hash, const char *parent_hash, int64_t position,
		    void *payload)
{
	gc_state *g = payload;
	size_t c = find(g, commit_hash);

	if (c == (size_t)-1 || position < 1)
		return 0;
	if (grow((void **)&g->extras, &g->cap_extras, g->n_extras + 1, sizeof(*g->extras)) < 0)
		return TRACT_ENOMEM;
	g->extras[g->n_extras].child = c;
	tract_copy_id(g->extras[g->n_extras].parent, parent_hash);
	g->n_extras++;
	return 0;
}

static int extra_cmp(const void *a, const void *b)
{
	const gc_extra *x = a, *y = b;

	return x->child < y->child ? -1 : x->child > y->child;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int ref_cb(const tract_ref_row *row, void *payload)
{
	gc_state *g = payload;
	tract_ref_row *r;

	if (grow((void **)&g->refs, &g->cap_refs, g->n_refs + 1, sizeof(*g->refs)) < 0)
		return TRACT_ENOMEM;
	r = &g->refs[g->n_refs];
	memset(r, 0, sizeof(*r));
	r->tract_id = strdup(row->tract_id);
	r->ref_name = strdup(row->ref_name);
	r->commit_hash = dup_or_null(row->commit_hash);
	r->symbolic_target = dup_or_null(row->symbolic_target);
	g->n_refs++;
	if (!r->tract_id || !r->ref_name || (row->commit_hash && !r->commit_hash) ||
	    (row->symbolic_target && !r->symbolic_target))
		return TRACT_ENOMEM;
	return 0;
}

static const tract_ref_row *own_ref(const gc_state *g, const char *name)
{
	size_t i;

	for (i = 0; i < g->n_refs; i++)
		if (strcmp(g->refs[i].tract_id, g->t->id) == 0 &&
		    strcmp(g->refs[i].ref_name, name) == 0)
			return &g->refs[i];
	return NULL;
}

static int spawn_cb(const tract_spawn_row *row, void *payload)
{
	return add_root(payload, row->parent_commit_hash);
}

/* A ref-log record: a root while retained, else expired (deleted). */
static int reflog_cb(const char *key, const char *value, void *payload)
{
	gc_state *g = payload;
	tract_time when;
	cJSON *obj, *old;
	int rc = 0;

	if (tract_reflog_key_time(&when, key) < 0)
		return 0; /* not a record */
	if ((double)(g->now - when) / 86400e6 >= g->retention_days) {
		char *k;

		if (grow((void **)&g->expired, &g->cap_expired, g->n_expired + 1,
			 sizeof(*g->expired)) < 0 ||
		    !(k = strdup(key)))
			return TRACT_ENOMEM;
		g->expired[g->n_expired++] = k;
		return 0;
	}
	obj = cJSON_Parse(value);
	old = obj ? cJSON_GetObjectItemCaseSensitive(obj, "old") : NULL;
	if (cJSON_IsString(old) && strlen(old->valuestring) == 64)
		rc = add_root(g, old->valuestring);
	cJSON_Delete(obj);
	return rc;
}

static int roots_from_reflog(gc_state *g)
{
	char prefix[TRACT_REFLOG_KEY_MAX];
	int rc;

	rc = tract_reflog_prefix(prefix, sizeof(prefix), g->t->id, NULL);
	if (rc < 0)
		return rc;
	rc = g->s->be->meta_foreach(g->s->conn, prefix, reflog_cb, g);
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(g->s, rc, "gc: read the ref log");
	return 0;
}

static int roots_from_refs(gc_state *g, const char *branch)
{
	const tract_ref_row *head = own_ref(g, "HEAD");
	size_t i;
	int rc = 0;

	if (branch) {
		char name[300];
		const tract_ref_row *b;

		snprintf(name, sizeof(name), "refs/heads/%s", branch);
		b = own_ref(g, name);
		if (!b || !b->commit_hash)
			return tract_error_set(TRACT_ENOTFOUND, "Branch not found: %s", branch);
		rc = add_root(g, b->commit_hash);
	}
	/* HEAD is always a root: attached, its branch's tip; detached, itself. */
	if (rc == 0 && head) {
		if (head->symbolic_target) {
			const tract_ref_row *b = own_ref(g, head->symbolic_target);
			if (b)
				rc = add_root(g, b->commit_hash);
		} else {
			rc = add_root(g, head->commit_hash);
		}
	}
	for (i = 0; rc == 0 && i < g->n_refs; i++) {
		const tract_ref_row *r = &g->refs[i];
		int own = strcmp(r->tract_id, g->t->id) == 0;

		if (!r->commit_hash)
			continue;
		if (!own) {
			/* another tract's ref on one of ours (a clone, a pick
			 * across tracts) keeps it */
			if (find(g, r->commit_hash) != (size_t)-1)
				rc = add_root(g, r->commit_hash);
		} else if (!branch && (strncmp(r->ref_name, "refs/heads/", 11) == 0 ||
				       strncmp(r->ref_name, "refs/tags/", 10) == 0)) {
			rc = add_root(g, r->commit_hash);
		}
	}
	return rc;
}

/* Flag start and everything it needs (parents, merge parents,
 * response_to), iteratively: each commit is pushed once. */
static int keep_closure(gc_state *g, size_t start, unsigned flag)
{
	size_t *stack = NULL, cap = 0, top = 0;
	int rc = 0;

	if (g->nodes[start].flags & flag)
		return 0;
	g->nodes[start].flags |= flag;
	if (grow((void **)&stack, &cap, 1, sizeof(*stack)) < 0)
		return TRACT_ENOMEM;
	stack[top++] = start;
	while (top) {
		size_t cur = stack[--top], k, n_edges = 2 + g->nodes[cur].n_extra;

		for (k = 0; k < n_edges; k++) {
			const gc_node *n = &g->nodes[cur];
			const char *h = k == 0   ? n->parent
					: k == 1 ? n->response_to
						 : g->extras[n->first_extra + k - 2].parent;
			size_t i = find(g, h);

			if (i == (size_t)-1 || (g->nodes[i].flags & flag))
				continue;
			g->nodes[i].flags |= flag;
			if (grow((void **)&stack, &cap, top + 1, sizeof(*stack)) < 0) {
				rc = TRACT_ENOMEM;
				goto out;
			}
			stack[top++] = i;
		}
	}
out:
	free(stack);
	return rc;
}

static void gc_dispose(gc_state *g)
{
	size_t i;

	for (i = 0; i < g->n_refs; i++) {
		free((char *)g->refs[i].tract_id);
		free((char *)g->refs[i].ref_name);
		free((char *)g->refs[i].commit_hash);
		free((char *)g->refs[i].symbolic_target);
	}
	free(g->refs);
	free(g->nodes);
	free(g->by_hash);
	free(g->extras);
	free(g->roots);
	for (i = 0; i < g->n_expired; i++)
		free(g->expired[i]);
	free(g->expired);
}

/* ---- compression records: provenance marks archives ---------------------- */

typedef struct {
	char hash[65];
	int64_t position;
	int side;
} gc_member;

typedef struct {
	tract_compression_row row; /* strings owned */
	gc_member *members;
	size_t n_members, cap_members;
	int touched; /* a member goes */
} gc_record;

typedef struct {
	gc_record *items;
	size_t count, cap;
	gc_record *cur; /* while listing members: the record and its side */
	int side;
} gc_records;

static int record_cb(const tract_compression_row *row, void *payload)
{
	gc_records *r = payload;
	gc_record *x;

	if (grow((void **)&r->items, &r->cap, r->count + 1, sizeof(*r->items)) < 0)
		return TRACT_ENOMEM;
	x = &r->items[r->count++];
	memset(x, 0, sizeof(*x));
	x->row = *row;
	x->row.compression_id = strdup(row->compression_id);
	x->row.tract_id = strdup(row->tract_id);
	x->row.branch_name = dup_or_null(row->branch_name);
	x->row.instructions = dup_or_null(row->instructions);
	if (!x->row.compression_id || !x->row.tract_id ||
	    (row->branch_name && !x->row.branch_name) ||
	    (row->instructions && !x->row.instructions))
		return TRACT_ENOMEM;
	return 0;
}

static int member_cb(const char *compression_id, const char *commit_hash, int64_t position,
		     void *payload)
{
	gc_records *r = payload;
	gc_record *x = r->cur;
	gc_member *m;

	(void)compression_id;
	if (grow((void **)&x->members, &x->cap_members, x->n_members + 1, sizeof(*x->members)) < 0)
		return TRACT_ENOMEM;
	m = &x->members[x->n_members++];
	tract_copy_id(m->hash, commit_hash);
	m->position = position;
	m->side = r->side;
	return 0;
}

static void records_dispose(gc_records *r)
{
	size_t i;

	for (i = 0; i < r->count; i++) {
		free((char *)r->items[i].row.compression_id);
		free((char *)r->items[i].row.tract_id);
		free((char *)r->items[i].row.branch_name);
		free((char *)r->items[i].row.instructions);
		free(r->items[i].members);
	}
	free(r->items);
}

/* Read the tract's records and their members; flag the archives. */
static int load_records(gc_state *g, gc_records *recs)
{
	tract_store *s = g->s;
	size_t i, k;
	int rc;

	rc = s->be->compression_foreach(s->conn, g->t->id, record_cb, recs);
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "gc: read compressions");
	for (i = 0; i < recs->count; i++) {
		recs->cur = &recs->items[i];
		for (k = 0; k < 2 && rc == 0; k++) {
			recs->side = (int)k;
			rc = s->be->compression_members(
			    s->conn, k ? TRACT_COMPRESSION_RESULTS : TRACT_COMPRESSION_SOURCES,
			    recs->cur->row.compression_id, member_cb, recs);
		}
		if (rc < 0)
			return rc == TRACT_ENOMEM
				   ? tract_error_oom()
				   : tract_backend_error(s, rc, "gc: read compression members");
	}
	for (i = 0; i < recs->count; i++)
		for (k = 0; k < recs->items[i].n_members; k++) {
			size_t n = find(g, recs->items[i].members[k].hash);
			if (n != (size_t)-1)
				g->nodes[n].flags |= N_ARCHIVE;
		}
	return 0;
}

/* Delete the records that lose a member; put back those that keep some. */
static int rewrite_records(gc_state *g, gc_records *recs)
{
	tract_store *s = g->s;
	size_t i, k, left;
	int rc = 0;

	for (i = 0; i < recs->count && rc == 0; i++) {
		gc_record *x = &recs->items[i];

		for (k = 0, left = 0; k < x->n_members; k++) {
			size_t n = find(g, x->members[k].hash);
			if (n != (size_t)-1 && (g->nodes[n].flags & N_REMOVE))
				x->touched = 1;
			else
				left++;
		}
		if (!x->touched)
			continue;
		rc = s->be->compression_delete(s->conn, x->row.compression_id);
		if (rc == 0 && left)
			rc = s->be->compression_put(s->conn, &x->row);
		for (k = 0; rc == 0 && left && k < x->n_members; k++) {
			size_t n = find(g, x->members[k].hash);
			if (n != (size_t)-1 && (g->nodes[n].flags & N_REMOVE))
				continue;
			rc = s->be->compression_member_put(
			    s->conn, x->members[k].side ? TRACT_COMPRESSION_RESULTS : TRACT_COMPRESSION_SOURCES,
			    x->row.compression_id, x->members[k].hash, x->members[k].position);
		}
		if (rc < 0)
			rc = tract_backend_error(s, rc, "gc: rewrite a compression record");
	}
	return rc;
}

/* ---- the collection ------------------------------------------------------ */

static int load(gc_state *g, const char *branch)
{
	tract_store *s = g->s;
	size_t i, e;
	int rc;

	rc = s->be->commit_foreach(s->conn, NULL, commit_cb, g);
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "gc: read commits");
	g->by_hash = malloc((g->n ? g->n : 1) * sizeof(*g->by_hash));
	if (!g->by_hash)
		return tract_error_oom();
	for (i = 0; i < g->n; i++) {
		g->by_hash[i].hash = g->nodes[i].hash;
		g->by_hash[i].node = i;
	}
	qsort(g->by_hash, g->n, sizeof(*g->by_hash), by_hash_cmp);
	rc = s->be->parent_foreach(s->conn, extra_cb, g);
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "gc: read merge parents");
	if (g->n_extras)
		qsort(g->extras, g->n_extras, sizeof(*g->extras), extra_cmp);
	for (e = 0; e < g->n_extras; e++) {
		gc_node *n = &g->nodes[g->extras[e].child];
		if (!n->n_extra)
			n->first_extra = e;
		n->n_extra++;
	}
	rc = s->be->ref_foreach(s->conn, NULL, NULL, ref_cb, g);
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "gc: read refs");
	rc = roots_from_refs(g, branch);
	if (rc < 0)
		return rc;
	rc = s->be->spawn_foreach(s->conn, g->t->id, spawn_cb, g);
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "gc: read spawn pointers");
	rc = roots_from_reflog(g);
	if (rc < 0)
		return rc;
	for (i = 0; i < g->n; i++)
		if (g->nodes[i].flags & N_COLLAPSE)
			if (add_root(g, g->nodes[i].hash) < 0)
				return TRACT_ENOMEM;
	for (i = 0; i < g->n_roots; i++) {
		size_t n = find(g, g->roots[i]);
		if (n != (size_t)-1 && keep_closure(g, n, N_REACH) < 0)
			return tract_error_oom();
	}
	return 0;
}

/* Which unreachable commits go; what they need stays with them. */
static int choose(gc_state *g, const tract_gc_options *o, tract_time now)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		gc_node *n = &g->nodes[i];
		double age = (double)(now - n->created_at) / 86400e6;

		if (n->flags & N_REACH)
			continue;
		if (n->flags & N_ARCHIVE) {
			if (o->archive_retention_days >= 0 && age >= o->archive_retention_days)
				n->flags |= N_REMOVE;
		} else if (age >= o->orphan_retention_days) {
			n->flags |= N_REMOVE;
		}
	}
	/* A commit that stays keeps its parents and response_to target:
	 * never blank a surviving commit's links (DECISIONS.md). */
	for (i = 0; i < g->n; i++)
		if (!(g->nodes[i].flags & (N_REMOVE | N_REACH)))
			if (keep_closure(g, i, N_REACH) < 0)
				return tract_error_oom();
	for (i = 0; i < g->n; i++)
		if (g->nodes[i].flags & N_REACH)
			g->nodes[i].flags &= ~(unsigned)N_REMOVE;
	return 0;
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int remove_all(gc_state *g, gc_records *recs, tract_gc_result *res)
{
	tract_store *s = g->s;
	size_t i, k;
	int rc;

	rc = rewrite_records(g, recs);
	/* refs that point at what goes (ORIG_HEAD, PREV_HEAD, a branch left
	 * out by --branch) */
	for (i = 0; rc == 0 && i < g->n_refs; i++) {
		const tract_ref_row *r = &g->refs[i];
		size_t n = r->commit_hash ? find(g, r->commit_hash) : (size_t)-1;

		if (n == (size_t)-1 || !(g->nodes[n].flags & N_REMOVE))
			continue;
		rc = s->be->ref_delete(s->conn, r->tract_id, r->ref_name, r);
		if (rc < 0)
			rc = rc == TRACT_ESTALE ? tract_error_set(TRACT_ESTALE,
								  "gc: ref %s moved by another writer",
								  r->ref_name)
						: tract_backend_error(s, rc, "gc: delete a ref");
	}
	/* newest first: a merge goes before its parents; in one call when
	 * the backend has the batched members (ABI version 5) */
	if (rc == 0 && s->be->commits_delete) {
		const char **hashes = malloc((g->n ? g->n : 1) * sizeof(*hashes));
		size_t nh = 0, deleted = 0;

		if (!hashes)
			return tract_error_oom();
		for (i = g->n; i-- > 0;)
			if (g->nodes[i].flags & N_REMOVE)
				hashes[nh++] = g->nodes[i].hash;
		rc = s->be->commits_delete(s->conn, hashes, nh, &deleted);
		free(hashes);
		if (rc < 0)
			return tract_backend_error(s, rc, "gc: delete commits");
		if (deleted != nh)
			return tract_error_set(TRACT_ESTALE,
					       "gc: %zu of the %zu commits to delete were deleted by "
					       "another writer",
					       nh - deleted, nh);
	}
	for (i = g->n; rc == 0 && !s->be->commits_delete && i-- > 0;) {
		gc_node *n = &g->nodes[i];

		if (!(n->flags & N_REMOVE))
			continue;
		rc = s->be->annotation_delete_target(s->conn, n->hash);
		if (rc == 0)
			rc = s->be->commit_delete(s->conn, n->hash);
		if (rc < 0)
			rc = tract_backend_error(s, rc, "gc: delete a commit");
	}
	/* blobs no commit uses any more (a content shared with a commit that
	 * stays, in any tract, is refused by the backend and kept), each
	 * content once: the removed commits' contents sorted, repeats skipped */
	if (rc == 0) {
		const char **blobs = malloc((g->n ? g->n : 1) * sizeof(*blobs));
		size_t nb = 0;

		if (!blobs)
			return tract_error_oom();
		for (i = 0; i < g->n; i++)
			if ((g->nodes[i].flags & N_REMOVE) && g->nodes[i].content_hash[0])
				blobs[nb++] = g->nodes[i].content_hash;
		qsort(blobs, nb, sizeof(*blobs), str_ptr_cmp);
		if (s->be->blobs_delete_unused) {
			size_t nu = 0, deleted = 0;
			for (k = 0; k < nb; k++)
				if (k == 0 || strcmp(blobs[k], blobs[k - 1]) != 0)
					blobs[nu++] = blobs[k];
			rc = s->be->blobs_delete_unused(s->conn, blobs, nu, &deleted);
			if (rc < 0)
				rc = tract_backend_error(s, rc, "gc: delete blobs");
			else
				res->blobs_removed += deleted;
			nb = 0; /* done */
		}
		for (k = 0; rc == 0 && k < nb; k++) {
			if (k > 0 && strcmp(blobs[k], blobs[k - 1]) == 0)
				continue; /* tried already */
			rc = s->be->blob_delete(s->conn, blobs[k]);
			if (rc == 0)
				res->blobs_removed++;
			else if (rc == TRACT_ENOTFOUND || rc == TRACT_ESTORAGE)
				rc = 0;
			else
				rc = tract_backend_error(s, rc, "gc: delete a blob");
		}
		free(blobs);
	}
	return rc;
}

static double seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tract_gc(tract_gc_result **out, tract *t, const tract_gc_options *opts)
{
	tract_gc_options o = TRACT_GC_OPTIONS_INIT;
	gc_state g;
	gc_records recs;
	tract_gc_result *res = NULL;
	double start = seconds_now();
	size_t i, k;
	int rc;

	if (out)
		*out = NULL;
	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_gc: NULL argument");
	if (opts) {
		if (tract_version_check(opts->version, TRACT_GC_OPTIONS_VERSION,
					"tract_gc_options") < 0)
			return TRACT_EINVAL;
		o = *opts;
	}
	if (!isfinite(o.orphan_retention_days) || o.orphan_retention_days < 0)
		return tract_error_set(TRACT_EINVAL,
				       "gc: the orphan retention must be a number of days >= 0");
	if (!isfinite(o.archive_retention_days))
		return tract_error_set(TRACT_EINVAL,
				       "gc: the archive retention must be a number of days");
	if (o.branch && !o.branch[0])
		return tract_error_set(TRACT_EINVAL, "gc: empty branch name");
	if (!o.dry_run &&
	    (!t->store->be->commit_delete || !t->store->be->blob_delete ||
	     !t->store->be->annotation_delete_target || !t->store->be->compression_delete ||
	     !t->store->be->spawn_delete))
		return tract_error_set(TRACT_EPLUGIN,
				       "gc: the %s backend cannot delete (no deletion members)",
				       t->store->be->name);
	memset(&g, 0, sizeof(g));
	memset(&recs, 0, sizeof(recs));
	g.t = t;
	g.s = t->store;
	g.retention_days = o.orphan_retention_days;
	g.now = tract_time_now();
	res = calloc(1, sizeof(*res));
	if (!res)
		return tract_error_oom();
	res->dry_run = o.dry_run;
	rc = tract_txn_begin(g.s, o.dry_run ? TRACT_TXN_READ : TRACT_TXN_WRITE);
	if (rc < 0) {
		free(res);
		return rc;
	}
	rc = load(&g, o.branch);
	if (rc == 0)
		rc = load_records(&g, &recs);
	if (rc == 0)
		rc = choose(&g, &o, g.now);
	for (i = 0; rc == 0 && i < g.n; i++) {
		if (!(g.nodes[i].flags & N_REMOVE))
			continue;
		res->commits_removed++;
		res->tokens_freed += g.nodes[i].tokens;
		if (g.nodes[i].flags & N_ARCHIVE)
			res->archives_removed++;
	}
	if (rc == 0 && res->commits_removed) {
		res->removed = malloc(res->commits_removed * sizeof(*res->removed));
		if (!res->removed)
			rc = tract_error_oom();
		for (i = 0, k = 0; rc == 0 && i < g.n; i++)
			if (g.nodes[i].flags & N_REMOVE)
				memcpy(res->removed[k++], g.nodes[i].hash, 65);
	}
	if (rc == 0 && !o.dry_run && res->commits_removed)
		rc = remove_all(&g, &recs, res);
	/* expired ref-log records (reflog.c) */
	for (i = 0; rc == 0 && !o.dry_run && i < g.n_expired; i++) {
		rc = g.s->be->meta_delete(g.s->conn, g.expired[i]);
		if (rc == TRACT_ENOTFOUND)
			rc = 0;
		else if (rc < 0)
			rc = tract_backend_error(g.s, rc, "gc: delete a ref-log record");
	}
	rc = tract_txn_end(g.s, rc);
	if (rc == 0 && !o.dry_run && res->commits_removed) {
		g.s->cache_epoch++; /* every handle's compile cache starts over */
		tract_dag_cache_drop(g.s); /* and this store's commit graph */
	}
	records_dispose(&recs);
	gc_dispose(&g);
	if (rc < 0) {
		tract_gc_result_free(res);
		return rc;
	}
	res->duration_seconds = seconds_now() - start;
	*out = res;
	return 0;
}

void tract_gc_result_free(tract_gc_result *result)
{
	if (!result)
		return;
	free(result->removed);
	free(result);
}

int tract_gc_result_to_json(char **out, const tract_gc_result *r)
{
	tract_buf b = TRACT_BUF_INIT;
	size_t i;
	int rc = 0;

	if (!out || !r)
		return tract_error_set(TRACT_EINVAL, "tract_gc_result_to_json: NULL argument");
	*out = NULL;
	rc |= tract_buf_printf(&b,
			       "{\"dry_run\": %s, \"commits_removed\": %zu, "
			       "\"archives_removed\": %zu, \"blobs_removed\": %zu, "
			       "\"tokens_freed\": %lld, \"duration_seconds\": %.6f, \"removed\": [",
			       r->dry_run ? "true" : "false", r->commits_removed,
			       r->archives_removed, r->blobs_removed, (long long)r->tokens_freed,
			       r->duration_seconds);
	for (i = 0; i < r->commits_removed; i++)
		rc |= tract_buf_printf(&b, "%s\"%s\"", i ? ", " : "", r->removed[i]);
	rc |= tract_buf_puts(&b, "]}");
	return tract_buf_finish(out, &b, rc);
}
