/*
 * compile.c - turns the commit chain into the messages sent to a model
 * (spec/core.md §6): first-parent walk, merge expansion, time travel, edit
 * resolution, priorities; the compile cache in front of it (compile layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"
#include "reflog.h"
#include "row.h"
#include "walk.h"

/* ---- hash set of commit hashes ------------------------------------------------- */

typedef struct {
	const char **keys;
	size_t *vals;
	size_t cap, count;
} hset;

static size_t hset_slot(const char *h, size_t cap)
{
	uint64_t x = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < 16 && h[i]; i++)
		x = (x ^ (unsigned char)h[i]) * 1099511628211ULL;
	return (size_t)x & (cap - 1);
}

/* Grow to the next power of two >= min_cap (at least double). */
static int hset_resize(hset *s, size_t min_cap)
{
	hset n = {0};
	size_t i;

	n.cap = s->cap ? s->cap * 2 : 64;
	while (n.cap < min_cap)
		n.cap *= 2;
	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.vals = calloc(n.cap, sizeof(*n.vals));
	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return TRACT_ENOMEM;
	}
	for (i = 0; i < s->cap; i++) {
		if (s->keys[i]) {
			size_t j = hset_slot(s->keys[i], n.cap);
			while (n.keys[j])
				j = (j + 1) & (n.cap - 1);
			n.keys[j] = s->keys[i];
			n.vals[j] = s->vals[i];
		}
	}
	n.count = s->count;
	free(s->keys);
	free(s->vals);
	*s = n;
	return 0;
}

static int hset_grow(hset *s)
{
	return hset_resize(s, 0);
}

/* Room for n keys without growing. */
static int hset_reserve(hset *s, size_t n)
{
	return (n + 1) * 2 > s->cap ? hset_resize(s, (n + 1) * 2) : 0;
}

/* Insert or overwrite; keys are borrowed. */
static int hset_put(hset *s, const char *key, size_t val)
{
	size_t j;

	if ((s->count + 1) * 2 > s->cap && hset_grow(s) < 0)
		return TRACT_ENOMEM;
	j = hset_slot(key, s->cap);
	while (s->keys[j] && strcmp(s->keys[j], key) != 0)
		j = (j + 1) & (s->cap - 1);
	if (!s->keys[j])
		s->count++;
	s->keys[j] = key;
	s->vals[j] = val;
	return 0;
}

static int hset_get(const hset *s, const char *key, size_t *val)
{
	size_t j;

	if (!s->cap)
		return 0;
	j = hset_slot(key, s->cap);
	while (s->keys[j]) {
		if (strcmp(s->keys[j], key) == 0) {
			if (val)
				*val = s->vals[j];
			return 1;
		}
		j = (j + 1) & (s->cap - 1);
	}
	return 0;
}

static void hset_dispose(hset *s)
{
	free(s->keys);
	free(s->vals);
	memset(s, 0, sizeof(*s));
}

/* ---- the chain ------------------------------------------------------------------ */

/* Free a row of the walk with the message built for it, if any. */
static void row_free(tract_row *r)
{
	tract_msg_release(r->msg);
	r->msg = NULL;
	tract_row_dispose(r);
	free(r);
}

typedef struct {
	tract_row **rows;
	size_t count, cap;
} row_vec;

static int vec_push(row_vec *v, tract_row *r)
{
	if (v->count == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 64;
		tract_row **p = realloc(v->rows, ncap * sizeof(*p));
		if (!p)
			return TRACT_ENOMEM;
		v->rows = p;
		v->cap = ncap;
	}
	v->rows[v->count++] = r;
	return 0;
}

static void vec_reverse(row_vec *v, size_t from)
{
	size_t i = from, j = v->count;

	while (j > i + 1) {
		tract_row *tmp = v->rows[i];
		v->rows[i++] = v->rows[--j];
		v->rows[j] = tmp;
	}
}

static void vec_dispose(row_vec *v)
{
	size_t i;

	for (i = 0; i < v->count; i++) {
		if (!v->rows[i])
			continue;
		row_free(v->rows[i]);
	}
	free(v->rows);
	memset(v, 0, sizeof(*v));
}

/*
 * Messages built during the walk, from the payload the backend hands over:
 * the row then needs no copy of its payload. Compile keeps such a message
 * unless an edit applies to the row; an edit's message comes from the
 * edit row, which keeps its payload. (This used to be a worker thread fed
 * with row copies; once a message cost a few thousand instructions, the
 * handoff and the second thread's allocations cost more than they saved
 * on a shared two-core machine.)
 */
typedef struct {
	tract *t;
	const tract_compile_options *o;
	int reuse;
	tract_role_counts *roles;
	int rc;         /* a message failed to build */
	char err[1024]; /* its error message */
} prebuild;

/* Does a commit give a message of its own (before edits are considered)? */
static int gives_message(tract_operation op, tract_priority prio, const char *content_type,
			 size_t n_extra, const tract_compile_options *o)
{
	if (op != TRACT_OP_APPEND)
		return 0;
	if (prio == TRACT_PRIORITY_NONE)
		prio = tract_content_default_priority(content_type ? content_type : "unknown");
	if (prio == TRACT_PRIORITY_SKIP)
		return 0;
	/* DECISIONS.md: a merge commit compiles to no message unless the
	 * caller asks for the reference's JSON message. */
	return n_extra == 0 || (o && o->merge_messages);
}

static int row_gives_message(const tract_row *r, const tract_compile_options *o)
{
	return gives_message(r->operation, r->priority, r->content_type, r->n_extra, o);
}

typedef struct {
	row_vec *out;
	const hset *stop; /* stop before a commit in this set */
	prebuild *pb;     /* build messages on the way, or NULL */
} walk_ctx;

static int walk_cb(const tract_chain_row *row, void *payload)
{
	walk_ctx *w = payload;
	prebuild *pb = w->pb;
	tract_row *r;
	int rc, build;

	if (w->stop && hset_get(w->stop, row->commit.commit_hash, NULL))
		return 1;
	build = pb && gives_message(row->commit.operation, row->priority,
				    row->commit.content_type, row->n_extra_parents, pb->o);
	r = malloc(sizeof(*r));
	if (!r)
		return TRACT_ENOMEM;
	/* Compile reads neither message nor metadata. */
	/* A merge commit keeps its payload: its resolutions apply as edits. */
	if (tract_row_copy_chain_part(r, row,
				      TRACT_ROW_SKIP_TEXTS |
					      (build && !row->n_extra_parents ? TRACT_ROW_SKIP_PAYLOAD
									      : 0)) < 0) {
		free(r);
		return TRACT_ENOMEM;
	}
	if (build) {
		rc = tract_msg_build(&r->msg, pb->t, r->hash, row->payload_json, r->config,
				     r->config, r, pb->reuse, 0, pb->roles);
		if (rc < 0) {
			pb->rc = rc;
			snprintf(pb->err, sizeof(pb->err), "%s", tract_error_last()->message);
			goto fail;
		}
	}
	rc = vec_push(w->out, r);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	row_free(r);
	return rc;
}

/* Walk first parents from head into out (chronological order); with pb,
 * build the messages of the rows on the way. */
static int walk(row_vec *out, tract *t, const char *tract_id, const char *head,
		const hset *stop, tract_time cutoff, prebuild *pb)
{
	walk_ctx w = {out, stop, pb};
	size_t from = out->count;
	int rc;

	rc = tract_chain_walk(t->store, tract_id, head, 0,
			      TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS | TRACT_CHAIN_PRIORITY,
			      cutoff, walk_cb, &w, "walk history", NULL);
	if (pb && pb->rc < 0)
		return tract_error_set(pb->rc, "%s", pb->err);
	if (rc < 0)
		return rc;
	vec_reverse(out, from);
	return 0;
}

/*
 * Merge expansion (§6.2 with DECISIONS.md): before each merge commit,
 * insert the commits reachable from each further parent (position order)
 * that are not yet seen, expanding merges nested inside them too.
 */
static int expand(row_vec *dst, row_vec *src, tract *t, hset *seen, tract_time cutoff)
{
	size_t i, k;
	int rc;

	for (i = 0; i < src->count; i++) {
		tract_row *r = src->rows[i];
		for (k = 0; k < r->n_extra; k++) {
			row_vec block = {0};
			size_t j;
			if (hset_get(seen, r->extra_parents[k], NULL))
				continue;
			rc = walk(&block, t, NULL, r->extra_parents[k], seen, cutoff, NULL);
			for (j = 0; rc == 0 && j < block.count; j++)
				if (hset_put(seen, block.rows[j]->hash, 0) < 0)
					rc = tract_error_oom();
			if (rc == 0)
				rc = expand(dst, &block, t, seen, cutoff);
			/* expand() moved the rows it took into dst */
			vec_dispose(&block);
			if (rc < 0)
				return rc;
		}
		src->rows[i] = NULL;
		rc = vec_push(dst, r);
		if (rc < 0) {
			row_free(r);
			return tract_error_oom();
		}
	}
	return 0;
}

static int expanded_chain(row_vec *out, tract *t, const char *head, tract_time cutoff,
			  prebuild *pb)
{
	row_vec first = {0};
	hset seen = {0};
	size_t i;
	int rc, any_merge = 0;

	rc = walk(&first, t, t->id, head, NULL, cutoff, pb);
	for (i = 0; rc == 0 && i < first.count; i++)
		any_merge |= first.rows[i]->n_extra > 0;
	if (rc == 0 && !any_merge) {
		*out = first;
		return 0;
	}
	/* The set of commits seen, presized for the first-parent chain. */
	if (rc == 0 && hset_reserve(&seen, first.count) < 0)
		rc = tract_error_oom();
	for (i = 0; rc == 0 && i < first.count; i++)
		if (hset_put(&seen, first.rows[i]->hash, 0) < 0)
			rc = tract_error_oom();
	if (rc == 0)
		rc = expand(out, &first, t, &seen, cutoff);
	vec_dispose(&first);
	hset_dispose(&seen);
	return rc;
}

/* ---- full compile ------------------------------------------------------------------ */

static int is_default(const tract_compile_options *o)
{
	return !o || (!o->at_commit && o->at_time == TRACT_TIME_NONE && !o->edit_markers &&
		      !o->merge_messages);
}

/*
 * Resolutions of merge commits (DECISIONS.md, include/tract/merge.h): the
 * payload {"message": ..., "resolutions": {target: text}} of a merge
 * commit resolves each target as an edit made at the merge commit's time
 * and list position would: the resolved text replaces the content of the
 * target's message (its role and name kept) unless a later edit of the
 * target overrides it.
 */
typedef struct {
	const char *target; /* in tree */
	char *text;         /* bytes (U+0000 as 0x00) */
	size_t len;
	size_t row;         /* the merge commit's position in the list */
} resolution;

typedef struct {
	cJSON **trees;
	size_t n_trees;
	resolution *items;
	size_t count, cap;
	hset map; /* target -> index of the resolution in force */
} resolutions;

static void resolutions_dispose(resolutions *rs)
{
	size_t i;

	for (i = 0; i < rs->n_trees; i++)
		cJSON_Delete(rs->trees[i]);
	for (i = 0; i < rs->count; i++)
		free(rs->items[i].text);
	free(rs->trees);
	free(rs->items);
	hset_dispose(&rs->map);
	memset(rs, 0, sizeof(*rs));
}

/* Later time wins; ties: later in the list. */
static int later(const row_vec *list, size_t a, size_t b)
{
	const tract_row *x = list->rows[a], *y = list->rows[b];

	return x->created_at > y->created_at || (x->created_at == y->created_at && a > b);
}

static int collect_resolutions(resolutions *rs, const row_vec *list)
{
	size_t i;

	for (i = 0; i < list->count; i++) {
		const tract_row *r = list->rows[i];
		const cJSON *res, *m;
		cJSON *tree = NULL, **trees;
		char err[64];
		int rc;

		if (!r->n_extra || !r->payload || !strstr(r->payload, "\"resolutions\""))
			continue;
		rc = tract_json_parse(&tree, r->payload, strlen(r->payload),
				      TRACT_JSON_NONFINITE_TO_NULL, err, sizeof(err));
		if (rc == TRACT_ENOMEM)
			return tract_error_oom();
		if (rc < 0)
			continue; /* unreadable: the merge applies nothing */
		trees = realloc(rs->trees, (rs->n_trees + 1) * sizeof(*trees));
		if (!trees) {
			cJSON_Delete(tree);
			return tract_error_oom();
		}
		rs->trees = trees;
		rs->trees[rs->n_trees++] = tree;
		res = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(tree, "payload"), "resolutions");
		cJSON_ArrayForEach(m, res)
		{
			resolution *e;
			size_t prev;
			if (!cJSON_IsString(m) || !m->string)
				continue;
			if (rs->count == rs->cap) {
				size_t ncap = rs->cap ? rs->cap * 2 : 8;
				resolution *p = realloc(rs->items, ncap * sizeof(*p));
				if (!p)
					return tract_error_oom();
				rs->items = p;
				rs->cap = ncap;
			}
			e = &rs->items[rs->count];
			e->target = m->string;
			e->row = i;
			e->text = strdup(m->valuestring);
			if (!e->text)
				return tract_error_oom();
			e->len = tract_mutf8_to_bytes(e->text, strlen(e->text));
			rs->count++;
			if (hset_get(&rs->map, e->target, &prev) &&
			    !later(list, i, rs->items[prev].row))
				continue;
			if (hset_put(&rs->map, e->target, rs->count - 1) < 0)
				return tract_error_oom();
		}
	}
	return 0;
}

/*
 * The message of each row that gives one: the one built during the walk
 * unless an edit applies, otherwise built here from the edit's (or the
 * row's own) payload; then a merge's resolution of the row, if one is in
 * force. msgs[i] is row i's message or NULL.
 */
static int build_messages(tract_msg **msgs, tract *t, const row_vec *list, const hset *edits,
			  const resolutions *rs, const tract_compile_options *o, int reuse,
			  tract_role_counts *roles)
{
	size_t i, e, k;
	int rc;

	for (i = 0; i < list->count; i++) {
		tract_row *r = list->rows[i], *src = r;
		const resolution *res = NULL;
		const char *cfg;
		int edited;

		edited = edits->count && hset_get(edits, r->hash, &e);
		if (rs->count && hset_get(&rs->map, r->hash, &k) &&
		    (!edited || later(list, rs->items[k].row, e)))
			res = &rs->items[k];
		/* A prebuilt message means the row gives one. */
		if (!edited && r->msg) {
			msgs[i] = r->msg;
			r->msg = NULL;
		} else {
			if (!row_gives_message(r, o))
				continue;
			if (edited)
				src = list->rows[e];
			cfg = edited && src->config ? src->config : r->config;
			rc = tract_msg_build(&msgs[i], t, r->hash, src->payload, cfg, r->config,
					     src, reuse, !res && edited && o && o->edit_markers,
					     roles);
			if (rc < 0)
				return rc;
		}
		if (res) {
			tract_msg *m = NULL;
			rc = tract_msg_with_content(&m, t, msgs[i], res->text, res->len,
						    list->rows[res->row]->config,
						    o && o->edit_markers, roles);
			if (rc < 0)
				return rc;
			tract_msg_release(msgs[i]);
			msgs[i] = m;
		}
	}
	return 0;
}

static int build_context(tract_context **out, tract *t, const char *head, row_vec *list,
			 const tract_compile_options *o, int reuse, tract_role_counts *roles)
{
	hset edits = {0};
	resolutions rs;
	tract_context *c = NULL;
	tract_msg **msgs = NULL;
	size_t i, e;
	int rc = 0;

	memset(&rs, 0, sizeof(rs));

	/* Edit resolution: the latest edit of each target wins (ties: later
	 * in the list). */
	for (i = 0; i < list->count; i++) {
		tract_row *r = list->rows[i];
		if (r->operation != TRACT_OP_EDIT || !r->response_to)
			continue;
		if (hset_get(&edits, r->response_to, &e) &&
		    list->rows[e]->created_at > r->created_at)
			continue;
		if (hset_put(&edits, r->response_to, i) < 0)
			goto oom;
	}
	rc = collect_resolutions(&rs, list);
	if (rc < 0)
		goto done;
	c = tract_context_new(list->count);
	msgs = calloc(list->count ? list->count : 1, sizeof(*msgs));
	if (!c || !msgs)
		goto oom;
	rc = build_messages(msgs, t, list, &edits, &rs, o, reuse, roles);
	for (i = 0; i < list->count; i++) {
		if (!msgs[i])
			continue;
		if (rc == 0)
			rc = tract_context_push(c, msgs[i]);
		else
			tract_msg_release(msgs[i]);
	}
	if (rc < 0)
		goto done;
	tract_copy_id(c->head, head);
	c->token_source = strdup(t->tok->source ? t->tok->source : "");
	if (!c->token_source)
		goto oom;
	tract_context_sum(c);
	*out = c;
	c = NULL;
	goto done;
oom:
	rc = tract_error_oom();
done:
	free(msgs);
	tract_context_free(c);
	hset_dispose(&edits);
	resolutions_dispose(&rs);
	return rc;
}

static tract_context *empty_context(void)
{
	tract_context *c = tract_context_new(0);

	if (c && !(c->token_source = strdup(""))) {
		tract_context_free(c);
		c = NULL;
	}
	return c;
}

typedef struct {
	tract_time at;
	char hash[65];
} time_probe;

static int time_probe_cb(const tract_chain_row *row, void *payload)
{
	time_probe *p = payload;

	if (row->commit.created_at > p->at)
		return 0;
	tract_copy_id(p->hash, row->commit.commit_hash);
	return 1;
}

/*
 * The commit the tract's HEAD was at at time `at` (DECISIONS.md: compile_at
 * shows the state before a later compress, reset or rebase): where the ref
 * log (reflog.c) says HEAD's line was, then the newest commit of that line
 * created at or before `at`; "" when there was none.
 */
static int head_at_time(char out[65], tract *t, tract_time at)
{
	time_probe p;
	char tip[65];
	int rc;

	out[0] = '\0';
	rc = tract_reflog_tip_at(tip, t, at);
	if (rc < 0 || !tip[0])
		return rc;
	memset(&p, 0, sizeof(p));
	p.at = at;
	rc = tract_chain_walk(t->store, t->id, tip, 0, 0, INT64_MAX, time_probe_cb, &p,
			      "walk history", NULL);
	if (rc == 0)
		tract_copy_id(out, p.hash);
	return rc;
}

int tract_compile_full(tract_context **out, tract *t, const char *head,
		       const tract_compile_options *o)
{
	row_vec list = {0};
	tract_time cutoff = o && o->at_time != TRACT_TIME_NONE ? o->at_time : INT64_MAX;
	prebuild pb, *use_pb = NULL;
	tract_role_counts roles;
	char at[65] = "", when[65];
	size_t i;
	int rc, reuse = 0, timed = 0;

	*out = NULL;
	if (o && o->at_commit) {
		rc = tract_resolve_in_txn(at, t, o->at_commit);
		if (rc < 0)
			return rc;
	} else if (cutoff != INT64_MAX) {
		/* As of a time: start where HEAD was then; every commit on
		 * that line is then as old as the cut-off or older. */
		rc = head_at_time(when, t, cutoff);
		if (rc < 0)
			return rc;
		head = when;
		timed = 1;
	}
	if (!head || !head[0]) {
		*out = empty_context();
		return *out ? 0 : tract_error_oom();
	}
	rc = tract_counts_reusable(t, &reuse);
	if (rc < 0)
		return rc;
	memset(&roles, 0, sizeof(roles));
	/* Build messages during the walk, unless the compile is as of a
	 * commit (rows walked from HEAD may then be dropped); as of a time,
	 * the walk starts at the commit of that time. */
	memset(&pb, 0, sizeof(pb));
	if (!at[0] && (cutoff == INT64_MAX || timed)) {
		pb.t = t;
		pb.o = o;
		pb.reuse = reuse;
		pb.roles = &roles;
		use_pb = &pb;
	}
	rc = expanded_chain(&list, t, head, cutoff, use_pb);
	if (rc < 0)
		goto done;
	if (at[0]) {
		for (i = 0; i < list.count; i++)
			if (strcmp(list.rows[i]->hash, at) == 0)
				break;
		if (i < list.count) {
			while (list.count > i + 1) {
				row_free(list.rows[--list.count]);
			}
		} else {
			/* Not on HEAD's history: compile as of that commit. */
			vec_dispose(&list);
			rc = expanded_chain(&list, t, at, cutoff, NULL);
			if (rc < 0)
				goto done;
		}
	}
	if (cutoff != INT64_MAX) {
		size_t k = 0;
		for (i = 0; i < list.count; i++) {
			if (list.rows[i]->created_at <= cutoff) {
				list.rows[k++] = list.rows[i];
			} else {
				row_free(list.rows[i]);
			}
		}
		list.count = k;
	}
	rc = build_context(out, t, at[0] ? at : head, &list, o, reuse, &roles);
done:
	vec_dispose(&list);
	return rc;
}

static int same_messages(const tract_context *a, const tract_context *b)
{
	size_t i;

	if (a->count != b->count)
		return 0;
	for (i = 0; i < a->count; i++) {
		const tract_msg *x = tract_context_msg(a, i), *y = tract_context_msg(b, i);
		if (strcmp(x->role, y->role) || x->content_len != y->content_len ||
		    memcmp(x->content, y->content, x->content_len) || (!x->name != !y->name) ||
		    (x->name && (x->name_len != y->name_len ||
				 memcmp(x->name, y->name, x->name_len))) ||
		    x->kind != y->kind || (!x->call_id != !y->call_id) ||
		    (x->call_id && strcmp(x->call_id, y->call_id)) ||
		    x->tool_body_len != y->tool_body_len ||
		    (x->tool_body && memcmp(x->tool_body, y->tool_body, x->tool_body_len)))
			return 0;
	}
	return 1;
}

static int verify_hit(tract *t, tract_context *cached)
{
	tract_context *fresh = NULL;
	int rc = tract_compile_full(&fresh, t, cached->head, NULL);

	if (rc < 0)
		return rc;
	if (!same_messages(cached, fresh))
		rc = tract_error_set(TRACT_ERROR, "Cache message mismatch: cached %zu msgs, "
						  "fresh %zu msgs",
				     cached->count, fresh->count);
	else if (strncmp(cached->token_source, "api:", 4) != 0 &&
		 cached->token_count != fresh->token_count)
		rc = tract_error_set(TRACT_ERROR,
				     "Cache token mismatch: cached %" PRId64 ", fresh %" PRId64,
				     cached->token_count, fresh->token_count);
	tract_context_free(fresh);
	return rc;
}

int tract_context_compile(tract_context **out, tract *t, const tract_compile_options *o)
{
	tract_head_state hs;
	tract_context *c = NULL;
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_context_compile: NULL argument");
	*out = NULL;
	if (o && tract_version_check(o->version, TRACT_COMPILE_OPTIONS_VERSION,
				     "tract_compile_options") < 0)
		return TRACT_EINVAL;
	if (o && o->at_commit && o->at_time != TRACT_TIME_NONE)
		return tract_error_set(TRACT_EINVAL, "Cannot specify both at_time and at_commit; "
						     "use one or the other.");
	tract_cache_sync(t);
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_head_read(&hs, t);
	if (rc < 0)
		goto done;
	if (is_default(o) && hs.hash[0]) {
		c = tract_cache_get(t->cache, hs.hash);
		if (c) {
			c = tract_context_ref(c);
			if (t->verify_cache)
				rc = verify_hit(t, c);
			goto done;
		}
	}
	rc = tract_compile_full(&c, t, hs.hash, o);
	if (rc == 0 && is_default(o) && hs.hash[0])
		tract_cache_put(t->cache, c);
done:
	rc = tract_txn_end(t->store, rc);
	if (rc < 0) {
		tract_context_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int tract_compile_options_init(tract_compile_options *opts, unsigned int version)
{
	tract_compile_options defaults = TRACT_COMPILE_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_compile_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_COMPILE_OPTIONS_VERSION, "tract_compile_options") <
	    0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}
