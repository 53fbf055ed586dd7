/*
 * merge_sides.c - the two sides of a merge: the merge base and the commits
 * each side has that the other does not, read with what conflict detection
 * needs of them (two chain walks for linear histories, core/dag.c else).
 */
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "internal.h"
#include "merge_priv.h"
#include "walk.h"

/* ---- reading commits -------------------------------------------------------------- */


static int side_commit_cb(const tract_commit_row *row, void *payload)
{
	side_commit *c = payload;

	tract_copy_id(c->hash, row->commit_hash);
	c->op = row->operation;
	tract_copy_id(c->response_to, row->response_to);
	tract_copy_id(c->content_hash, row->content_hash);
	c->at = row->created_at;
	return 0;
}

static int load_side(side *out, tract *t, const tract_dag_list *hashes)
{
	tract_store *s = t->store;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!hashes->count)
		return 0;
	out->items = calloc(hashes->count, sizeof(*out->items));
	if (!out->items)
		return tract_error_oom();
	for (i = 0; i < hashes->count; i++) {
		rc = s->be->commit_get(s->conn, NULL, hashes->items[i], side_commit_cb,
				       &out->items[i]);
		if (rc < 0)
			return tract_backend_error(s, rc, "read commit");
		if (out->items[i].op == TRACT_OP_APPEND && !out->has_append) {
			out->has_append = 1;
			out->first_append = i;
		}
		out->count++;
	}
	return 0;
}

/*
 * The fast path of a side: when the first-parent chain from tip reaches
 * base (or, without a base, a root) through commits none of which is a
 * merge, the ancestors of tip are that stretch plus the ancestors of base,
 * so the stretch is exactly the commits unique to tip: one chain walk (one
 * round trip) instead of the graph walk. Otherwise the caller falls back
 * to tract_dag_unique().
 */
typedef struct {
	side *sd;
	size_t cap;
	const char *base;
	int reached; /* met base */
	int merge;   /* met a merge commit: no fast path */
	int oom;
} chain_collect;

static int chain_collect_cb(const tract_chain_row *row, void *payload)
{
	chain_collect *cc = payload;
	side_commit *c;

	if (cc->base[0] && strcmp(row->commit.commit_hash, cc->base) == 0) {
		cc->reached = 1;
		return 1;
	}
	if (row->n_extra_parents) {
		cc->merge = 1;
		return 1;
	}
	if (cc->sd->count == cc->cap) {
		size_t ncap = cc->cap ? cc->cap * 2 : 64;
		side_commit *p = realloc(cc->sd->items, ncap * sizeof(*p));
		if (!p) {
			cc->oom = 1;
			return 1;
		}
		cc->sd->items = p;
		cc->cap = ncap;
	}
	c = &cc->sd->items[cc->sd->count++];
	tract_copy_id(c->hash, row->commit.commit_hash);
	c->op = row->commit.operation;
	tract_copy_id(c->response_to, row->commit.response_to);
	tract_copy_id(c->content_hash, row->commit.content_hash);
	return 0;
}

/* ---- linear histories: base and sides in two chain walks ------------------------ */

/*
 * When neither side's first-parent chain meets a merge commit before the
 * two chains join (the commit where they join may be one), the chains are
 * two paths that join at the merge base and stay joined: the base is the first commit of the current side's
 * chain that the source side's chain also holds, and each side's unique
 * commits are its chain above the base. Both chains are walked newest
 * first in chunks (one round trip each), always advancing the one whose
 * last commit is newer, each stopping as soon as it meets a commit the
 * other holds; git's merge-base does the same walk commit by commit. A
 * chain stops at a merge commit the other has not met (the other side may
 * still come to it); a merge commit that is not where the chains join, a
 * parent newer than its child (a damaged store) or a very long walk hand
 * over to core/dag.c.
 */
typedef struct {
	side sd;          /* rows, newest first */
	size_t cap;
	char next[65];    /* where the next chunk starts, "" when the chain ended */
	tract_time frontier;
	size_t chunk;
	int merge, bad, oom;
	size_t found;     /* index of the first row the other side holds, or SIZE_MAX */
} lin_side;

typedef struct {
	uint32_t *slot;   /* 1 + index into the side's rows, 0 empty */
	size_t cap;
	size_t count;
} row_set;

static uint64_t hash_key(const char *h)
{
	uint64_t x = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < 16 && h[i]; i++)
		x = (x ^ (unsigned char)h[i]) * 1099511628211ULL;
	return x;
}

static int set_has(const row_set *rs, const lin_side *ls, const char *h)
{
	size_t j;

	if (!rs->cap)
		return 0;
	for (j = hash_key(h) & (rs->cap - 1); rs->slot[j]; j = (j + 1) & (rs->cap - 1))
		if (strcmp(ls->sd.items[rs->slot[j] - 1].hash, h) == 0)
			return 1;
	return 0;
}

static int set_add(row_set *rs, const lin_side *ls, size_t idx)
{
	size_t j;

	if ((rs->count + 1) * 2 > rs->cap) {
		size_t ncap = rs->cap ? rs->cap * 2 : 256, i;
		uint32_t *n = calloc(ncap, sizeof(*n));
		if (!n)
			return TRACT_ENOMEM;
		for (i = 0; i < rs->cap; i++) {
			if (!rs->slot[i])
				continue;
			j = hash_key(ls->sd.items[rs->slot[i] - 1].hash) & (ncap - 1);
			while (n[j])
				j = (j + 1) & (ncap - 1);
			n[j] = rs->slot[i];
		}
		free(rs->slot);
		rs->slot = n;
		rs->cap = ncap;
	}
	j = hash_key(ls->sd.items[idx].hash) & (rs->cap - 1);
	while (rs->slot[j])
		j = (j + 1) & (rs->cap - 1);
	rs->slot[j] = (uint32_t)idx + 1;
	rs->count++;
	return 0;
}

typedef struct {
	lin_side *me, *other;
	row_set *my_set, *other_set;
} lin_walk;

#define LIN_MAX_ROWS 1000000

static int lin_cb(const tract_chain_row *row, void *payload)
{
	lin_walk *w = payload;
	lin_side *ls = w->me;
	side_commit *c;
	size_t idx = ls->sd.count;

	if (row->commit.created_at > ls->frontier || idx >= LIN_MAX_ROWS) {
		ls->bad = 1;
		return 1;
	}
	if (idx == ls->cap) {
		size_t ncap = ls->cap ? ls->cap * 2 : 128;
		side_commit *p = realloc(ls->sd.items, ncap * sizeof(*p));
		if (!p) {
			ls->oom = 1;
			return 1;
		}
		ls->sd.items = p;
		ls->cap = ncap;
	}
	c = &ls->sd.items[idx];
	tract_copy_id(c->hash, row->commit.commit_hash);
	c->op = row->commit.operation;
	tract_copy_id(c->response_to, row->commit.response_to);
	tract_copy_id(c->content_hash, row->commit.content_hash);
	c->at = row->commit.created_at;
	ls->sd.count++;
	ls->frontier = c->at;
	tract_copy_id(ls->next, row->commit.parent_hash);
	if (set_add(w->my_set, ls, idx) < 0) {
		ls->oom = 1;
		return 1;
	}
	if (set_has(w->other_set, w->other, c->hash)) {
		ls->found = idx;
		return 1;
	}
	if (row->n_extra_parents) {
		/* A merge commit the other side has not met: this chain stops
		 * here; it is the base if the other side comes to it. */
		ls->merge = 1;
		ls->next[0] = '\0';
		return 1;
	}
	return 0;
}

/* Keep rows [0, n) of a side, oldest first. */
static void lin_finish(side *out, lin_side *ls, size_t n)
{
	size_t i;

	*out = ls->sd;
	out->count = n;
	memset(&ls->sd, 0, sizeof(ls->sd));
	for (i = 0; i < n / 2; i++) {
		side_commit tmp = out->items[i];
		out->items[i] = out->items[n - 1 - i];
		out->items[n - 1 - i] = tmp;
	}
	out->has_append = 0;
	for (i = 0; i < n; i++)
		if (out->items[i].op == TRACT_OP_APPEND) {
			out->has_append = 1;
			out->first_append = i;
			break;
		}
}

/*
 * 1 with base (or "" for unrelated histories) and both sides filled when
 * the histories are linear up to the base, 0 when core/dag.c must decide
 * (nothing filled), or a negative code.
 */
int merge_linear_base(char base[65], side *a, side *b, tract *t, const char *tip_a,
		      const char *tip_b)
{
	lin_side ls[2];
	row_set sets[2];
	size_t i, k;
	int rc = 0, result = 0;

	memset(ls, 0, sizeof(ls));
	memset(sets, 0, sizeof(sets));
	for (k = 0; k < 2; k++) {
		tract_copy_id(ls[k].next, k ? tip_b : tip_a);
		ls[k].frontier = INT64_MAX;
		ls[k].chunk = 32;
		ls[k].found = SIZE_MAX;
	}
	for (;;) {
		lin_walk w;
		if (!ls[0].next[0] && !ls[1].next[0])
			break; /* both chains ended: nothing in common */
		/* advance the side whose last commit is newer (the current
		 * side on a tie), or the one that has not ended */
		k = !ls[0].next[0] || (ls[1].next[0] && ls[1].frontier > ls[0].frontier);
		w.me = &ls[k];
		w.other = &ls[!k];
		w.my_set = &sets[k];
		w.other_set = &sets[!k];
		{
			char start[65];
			size_t before = ls[k].sd.count;
			memcpy(start, ls[k].next, sizeof(start));
			ls[k].next[0] = '\0';
			rc = tract_chain_walk(t->store, t->id, start, ls[k].chunk, TRACT_CHAIN_PARENTS,
					      INT64_MAX, lin_cb, &w, "walk history", NULL);
			if (rc < 0)
				goto done;
			if (ls[k].sd.count == before)
				ls[k].next[0] = '\0'; /* the start is not in the tract */
		}
		if (ls[k].oom) {
			rc = tract_error_oom();
			goto done;
		}
		if (ls[k].bad)
			goto done; /* core/dag.c decides */
		if (ls[k].found != SIZE_MAX)
			break;
		if (ls[k].chunk < 4096)
			ls[k].chunk *= 2;
	}
	/* Nothing in common: unrelated histories, unless a chain stopped at a
	 * merge commit (core/dag.c decides). */
	if (ls[0].found == SIZE_MAX && ls[1].found == SIZE_MAX && (ls[0].merge || ls[1].merge))
		goto done;
	/* the base: the first of the current side's rows the other side holds */
	base[0] = '\0';
	for (i = 0; i < ls[0].sd.count; i++)
		if (set_has(&sets[1], &ls[1], ls[0].sd.items[i].hash))
			break;
	if (i < ls[0].sd.count) {
		memcpy(base, ls[0].sd.items[i].hash, 65);
		lin_finish(a, &ls[0], i);
		for (i = 0; i < ls[1].sd.count; i++)
			if (strcmp(ls[1].sd.items[i].hash, base) == 0)
				break;
		lin_finish(b, &ls[1], i);
	} else {
		lin_finish(a, &ls[0], ls[0].sd.count);
		lin_finish(b, &ls[1], ls[1].sd.count);
	}
	result = 1;
done:
	for (k = 0; k < 2; k++) {
		free(ls[k].sd.items);
		free(sets[k].slot);
	}
	return rc < 0 ? rc : result;
}

/* The commits unique to tip (not reachable from base, "" for none),
 * oldest first, with what conflict detection reads of them. */
int merge_collect_side(side *out, tract *t, const char *tip, const char *base)
{
	chain_collect cc;
	tract_dag_list l;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strcmp(tip, base) == 0)
		return 0;
	memset(&cc, 0, sizeof(cc));
	cc.sd = out;
	cc.base = base;
	rc = tract_chain_walk(t->store, t->id, tip, 0, TRACT_CHAIN_PARENTS, INT64_MAX,
			      chain_collect_cb, &cc, "walk history", NULL);
	if (rc < 0 || cc.oom) {
		free(out->items);
		memset(out, 0, sizeof(*out));
		return rc < 0 ? rc : tract_error_oom();
	}
	if (!cc.merge && (cc.reached || !base[0])) {
		/* newest first: reverse */
		for (i = 0; i < out->count / 2; i++) {
			side_commit tmp = out->items[i];
			out->items[i] = out->items[out->count - 1 - i];
			out->items[out->count - 1 - i] = tmp;
		}
		for (i = 0; i < out->count; i++)
			if (out->items[i].op == TRACT_OP_APPEND) {
				out->has_append = 1;
				out->first_append = i;
				break;
			}
		return 0;
	}
	free(out->items);
	memset(out, 0, sizeof(*out));
	memset(&l, 0, sizeof(l));
	rc = tract_dag_unique(&l, t->store, t->id, tip, base);
	if (rc == 0)
		rc = load_side(out, t, &l);
	tract_dag_list_dispose(&l);
	if (rc < 0) {
		free(out->items);
		memset(out, 0, sizeof(*out));
	}
	return rc;
}
