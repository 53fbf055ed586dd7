/*
 * graph.c - `log --graph`: a lazy walk of the commits reachable from the
 * chosen tips in git's graph order, and the column drawing of git's
 * graph.c (the same states and rules, written anew) (model layer).
 *
 * The walk. git shows commits "in graph order" with --graph: a commit only
 * after all its children, and from a LIFO of ready commits, so that after
 * a commit the parent that became ready last (a merge's second parent)
 * comes next. Counting the children of a commit needs every commit that
 * could be one of them: with generation numbers, git counts them
 * incrementally (an "indegree" walk from the tips down to the generation
 * of the oldest commit it is about to show). Here commit dates play the
 * generation: a child is taken to be no older than its parent, so the
 * indegree walk pops commits newest first and stops at the date of the
 * parent being released. Nothing older is read: `log --graph -n 50` reads
 * the commits newer than the oldest parent of what it prints.
 *
 * Reading: commits come in first-parent runs of one backend chain walk
 * each (TRACT_CHAIN_PARENTS gives merge parents), so a long line costs a
 * few round trips, not one per commit. A parent that cannot be read (gc,
 * another tract) is left out of the drawing.
 *
 * The drawing (graph_* below) follows git's: columns are the commits
 * expected next; each commit's line is followed by the lines that fan
 * its parents out (post-merge) and those that move columns left until
 * each sits at its place (collapsing); lines are padded to the width the
 * graph has around the commit.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "internal.h"
#include "row.h"
#include "walk.h"

/* ---- commits known to the walk -------------------------------------------- */

typedef struct {
	char hash[65];
	tract_time date;
	uint32_t poff, npar; /* parents: g->par[poff .. poff + npar) */
	int indegree;        /* 0: not counted; 1: ready; 1 + children pending */
	unsigned loaded : 1, missing : 1, queued : 1, emitted : 1;
} node;

typedef struct {
	tract_time date;
	uint64_t seq;
	uint32_t idx;
} heap_ent;

/* A ref that decorates a commit. */
typedef struct {
	uint32_t node;
	char *name;  /* as shown: "main", "tag: v1", "HEAD" */
	int is_head; /* the HEAD decoration */
} deco;

typedef struct graph graph;

typedef struct {
	tract *t;
	node *nodes;
	uint32_t nnodes;
	size_t capnodes;
	uint32_t *table; /* open addressing: node index + 1 */
	size_t tcap;
	uint32_t *par;
	size_t npar, cappar;
	size_t chunk; /* rows asked of the next chain walk */
	size_t got;   /* rows the last walk gave */
	int met_known; /* the last walk reached a commit already read */
	/* the indegree walk */
	heap_ent *heap;
	size_t nheap, capheap;
	uint64_t seq;
	tract_time min_gen;
	/* ready commits (LIFO) */
	uint32_t *stack;
	size_t nstack, capstack;
	/* decorations */
	deco *decos;
	size_t ndecos;
	char head_branch[256]; /* "main" when HEAD is attached, else "" */
} walker;

static uint64_t hash_key(const char *h)
{
	uint64_t k = 1469598103934665603ULL;

	for (; *h; h++) {
		k ^= (unsigned char)*h;
		k *= 1099511628211ULL;
	}
	return k;
}

static int table_grow(walker *w)
{
	size_t cap = w->tcap ? 2 * w->tcap : 1024;
	uint32_t *t = calloc(cap, sizeof(*t));

	if (!t)
		return tract_error_oom();
	for (uint32_t i = 0; i < w->nnodes; i++) {
		size_t s = (size_t)hash_key(w->nodes[i].hash) & (cap - 1);
		while (t[s])
			s = (s + 1) & (cap - 1);
		t[s] = i + 1;
	}
	free(w->table);
	w->table = t;
	w->tcap = cap;
	return 0;
}

/* The node of hash, created (not loaded) when new. */
static int node_of(uint32_t *out, walker *w, const char *hash)
{
	size_t s;

	if (2 * ((size_t)w->nnodes + 1) > w->tcap) {
		int rc = table_grow(w);
		if (rc < 0)
			return rc;
	}
	s = (size_t)hash_key(hash) & (w->tcap - 1);
	while (w->table[s]) {
		uint32_t i = w->table[s] - 1;
		if (strcmp(w->nodes[i].hash, hash) == 0) {
			*out = i;
			return 0;
		}
		s = (s + 1) & (w->tcap - 1);
	}
	if (tract_array_reserve(&w->nodes, &w->capnodes, (size_t)w->nnodes + 1, sizeof(node), 256) < 0)
		return TRACT_ENOMEM;
	memset(&w->nodes[w->nnodes], 0, sizeof(node));
	tract_copy_id(w->nodes[w->nnodes].hash, hash);
	w->table[s] = w->nnodes + 1;
	*out = w->nnodes++;
	return 0;
}

static int par_push(walker *w, uint32_t idx)
{
	if (tract_array_reserve(&w->par, &w->cappar, w->npar + 1, sizeof(*w->par), 1024) < 0)
		return TRACT_ENOMEM;
	w->par[w->npar++] = idx;
	return 0;
}

static int load_cb(const tract_chain_row *row, void *payload)
{
	walker *w = payload;
	uint32_t n, p;
	int rc = node_of(&n, w, row->commit.commit_hash);

	if (rc < 0)
		return rc;
	if (w->nodes[n].loaded) {
		w->met_known = 1;
		return 1; /* the rest of this line is known */
	}
	w->got++;
	w->nodes[n].date = row->commit.created_at;
	w->nodes[n].poff = (uint32_t)w->npar;
	if (row->commit.parent_hash) {
		if ((rc = node_of(&p, w, row->commit.parent_hash)) < 0 || (rc = par_push(w, p)) < 0)
			return rc;
	}
	for (size_t i = 0; i < row->n_extra_parents; i++) {
		uint32_t k;
		if ((rc = node_of(&p, w, row->extra_parents[i])) < 0)
			return rc;
		/* a parent listed twice is one edge */
		for (k = w->nodes[n].poff; k < w->npar && w->par[k] != p; k++)
			;
		if (k == w->npar && (rc = par_push(w, p)) < 0)
			return rc;
	}
	w->nodes[n].npar = (uint32_t)(w->npar - w->nodes[n].poff);
	w->nodes[n].loaded = 1;
	return 0;
}

/* Read a commit (and the first-parent run below it) unless known. */
static int ensure_loaded(walker *w, uint32_t idx)
{
	char hash[65];
	int rc;

	if (w->nodes[idx].loaded || w->nodes[idx].missing)
		return 0;
	memcpy(hash, w->nodes[idx].hash, sizeof(hash));
	w->got = 0;
	w->met_known = 0;
	rc = tract_chain_walk(w->t->store, w->t->id, hash, w->chunk, TRACT_CHAIN_PARENTS,
			      INT64_MAX, load_cb, w, "read history", NULL);
	if (rc < 0)
		return rc;
	/* A line read to the end of the chunk is likely longer: ask more next
	 * time. One that joined known history was a short side line: a
	 * backend may do the whole chunk's work before the walk stops, so
	 * start small again. */
	if (w->met_known || w->got < w->chunk)
		w->chunk = 16;
	else if (w->chunk < 4096)
		w->chunk *= 2;
	if (!w->nodes[idx].loaded)
		w->nodes[idx].missing = 1;
	return 0;
}

/* ---- the indegree walk ----------------------------------------------------- */

static int heap_less(const heap_ent *a, const heap_ent *b)
{
	/* max-heap on date; equal dates: first queued first */
	if (a->date != b->date)
		return a->date > b->date;
	return a->seq < b->seq;
}

static int heap_push(walker *w, uint32_t idx)
{
	size_t i;

	if (tract_array_reserve(&w->heap, &w->capheap, w->nheap + 1, sizeof(*w->heap), 256) < 0)
		return TRACT_ENOMEM;
	i = w->nheap++;
	w->heap[i] = (heap_ent){w->nodes[idx].date, w->seq++, idx};
	while (i && heap_less(&w->heap[i], &w->heap[(i - 1) / 2])) {
		heap_ent tmp = w->heap[i];
		w->heap[i] = w->heap[(i - 1) / 2];
		w->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
	return 0;
}

static uint32_t heap_pop(walker *w)
{
	uint32_t top = w->heap[0].idx;
	size_t i = 0;

	w->heap[0] = w->heap[--w->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < w->nheap && heap_less(&w->heap[l], &w->heap[m]))
			m = l;
		if (r < w->nheap && heap_less(&w->heap[r], &w->heap[m]))
			m = r;
		if (m == i)
			break;
		heap_ent tmp = w->heap[i];
		w->heap[i] = w->heap[m];
		w->heap[m] = tmp;
		i = m;
	}
	return top;
}

/* Count the children of every commit down to date gen. */
static int count_to(walker *w, tract_time gen)
{
	while (w->nheap && w->heap[0].date >= gen) {
		uint32_t c = heap_pop(w);
		for (uint32_t k = 0; k < w->nodes[c].npar; k++) {
			uint32_t p = w->par[w->nodes[c].poff + k];
			int rc = ensure_loaded(w, p);
			if (rc < 0)
				return rc;
			if (w->nodes[p].missing)
				continue;
			w->nodes[p].indegree = w->nodes[p].indegree ? w->nodes[p].indegree + 1 : 2;
			if (!w->nodes[p].queued) {
				w->nodes[p].queued = 1;
				if ((rc = heap_push(w, p)) < 0)
					return rc;
			}
		}
	}
	return 0;
}

static int stack_push(walker *w, uint32_t idx)
{
	if (tract_array_reserve(&w->stack, &w->capstack, w->nstack + 1, sizeof(*w->stack), 64) < 0)
		return TRACT_ENOMEM;
	w->stack[w->nstack++] = idx;
	return 0;
}

/* After c is shown: release its parents; a parent whose children are all
 * shown is ready. */
static int expand(walker *w, uint32_t c)
{
	for (uint32_t k = 0; k < w->nodes[c].npar; k++) {
		uint32_t p = w->par[w->nodes[c].poff + k];
		int rc = ensure_loaded(w, p);
		if (rc < 0)
			return rc;
		if (w->nodes[p].missing)
			continue;
		if (w->nodes[p].date < w->min_gen) {
			w->min_gen = w->nodes[p].date;
			if ((rc = count_to(w, w->min_gen)) < 0)
				return rc;
		}
		if (--w->nodes[p].indegree == 1 && (rc = stack_push(w, p)) < 0)
			return rc;
	}
	w->nodes[c].indegree = 0;
	return 0;
}

/* ---- the drawing (git's graph.c) -------------------------------------------- */

enum { G_PADDING, G_SKIP, G_PRE_COMMIT, G_COMMIT, G_POST_MERGE, G_COLLAPSING };

struct graph {
	int64_t commit; /* node, -1 before the first */
	const uint32_t *parents; /* the commit's parents that are drawn */
	int num_parents;
	int width, expansion_row;
	int state, prev_state;
	int commit_index, prev_commit_index;
	int merge_layout, edges_added, prev_edges_added;
	int num_columns, num_new_columns, mapping_size, capacity;
	int64_t *columns, *new_columns; /* nodes */
	int *mapping, *old_mapping;
	tract_buf line;
	int line_width;
};

static int graph_init(graph *g)
{
	memset(g, 0, sizeof(*g));
	g->commit = -1;
	g->state = g->prev_state = G_PADDING;
	g->capacity = 30;
	g->columns = malloc(sizeof(int64_t) * (size_t)g->capacity);
	g->new_columns = malloc(sizeof(int64_t) * (size_t)g->capacity);
	g->mapping = malloc(sizeof(int) * 2 * (size_t)g->capacity);
	g->old_mapping = malloc(sizeof(int) * 2 * (size_t)g->capacity);
	if (!g->columns || !g->new_columns || !g->mapping || !g->old_mapping)
		return tract_error_oom();
	for (int i = 0; i < 2 * g->capacity; i++)
		g->mapping[i] = g->old_mapping[i] = -1;
	return 0;
}

static void graph_dispose(graph *g)
{
	free(g->columns);
	free(g->new_columns);
	free(g->mapping);
	free(g->old_mapping);
	tract_buf_dispose(&g->line);
}

static int graph_ensure(graph *g, int n)
{
	int cap = g->capacity;
	void *p;

	if (cap >= n)
		return 0;
	while (cap < n)
		cap *= 2;
	if (!(p = realloc(g->columns, sizeof(int64_t) * (size_t)cap)))
		return tract_error_oom();
	g->columns = p;
	if (!(p = realloc(g->new_columns, sizeof(int64_t) * (size_t)cap)))
		return tract_error_oom();
	g->new_columns = p;
	if (!(p = realloc(g->mapping, sizeof(int) * 2 * (size_t)cap)))
		return tract_error_oom();
	g->mapping = p;
	if (!(p = realloc(g->old_mapping, sizeof(int) * 2 * (size_t)cap)))
		return tract_error_oom();
	g->old_mapping = p;
	for (int i = 2 * g->capacity; i < 2 * cap; i++)
		g->mapping[i] = g->old_mapping[i] = -1;
	g->capacity = cap;
	return 0;
}

static void set_state(graph *g, int s)
{
	g->prev_state = g->state;
	g->state = s;
}

static int find_new_column(const graph *g, int64_t commit)
{
	for (int i = 0; i < g->num_new_columns; i++)
		if (g->new_columns[i] == commit)
			return i;
	return -1;
}

static void insert_new_column(graph *g, int64_t commit, int idx)
{
	int i = find_new_column(g, commit), mapping_idx;

	if (i < 0) {
		i = g->num_new_columns++;
		g->new_columns[i] = commit;
	}
	if (g->num_parents > 1 && idx > -1 && g->merge_layout == -1) {
		/* a merge's first parent: lean the merge left when that parent
		 * sits in a column left of the merge */
		int dist = idx - i, shift = dist > 1 ? 2 * dist - 3 : 1;

		g->merge_layout = dist > 0 ? 0 : 1;
		g->edges_added = g->num_parents + g->merge_layout - 2;
		mapping_idx = g->width + (g->merge_layout - 1) * shift;
		g->width += 2 * g->merge_layout;
	} else if (g->edges_added > 0 && g->width >= 2 && i == g->mapping[g->width - 2]) {
		/* the parent is the last existing column: join it at once */
		mapping_idx = g->width - 2;
		g->edges_added = -1;
	} else {
		mapping_idx = g->width;
		g->width += 2;
	}
	g->mapping[mapping_idx] = i;
}

static int update_columns(graph *g)
{
	int64_t *tmp = g->columns;
	int i, seen_this = 0, max_new, rc;

	g->columns = g->new_columns;
	g->new_columns = tmp;
	g->num_columns = g->num_new_columns;
	g->num_new_columns = 0;
	max_new = g->num_columns + g->num_parents;
	if ((rc = graph_ensure(g, max_new + 1)) < 0)
		return rc;
	g->mapping_size = 2 * max_new;
	for (i = 0; i < g->mapping_size; i++)
		g->mapping[i] = -1;
	g->width = 0;
	g->prev_edges_added = g->edges_added;
	g->edges_added = 0;
	for (i = 0; i <= g->num_columns; i++) {
		int64_t col;
		if (i == g->num_columns) {
			if (seen_this)
				break;
			col = g->commit;
		} else {
			col = g->columns[i];
		}
		if (col == g->commit) {
			seen_this = 1;
			g->commit_index = i;
			g->merge_layout = -1;
			for (int p = 0; p < g->num_parents; p++)
				insert_new_column(g, g->parents[p], i);
			if (g->num_parents == 0)
				g->width += 2;
		} else {
			insert_new_column(g, col, -1);
		}
	}
	while (g->mapping_size > 1 && g->mapping[g->mapping_size - 1] < 0)
		g->mapping_size--;
	return 0;
}

static int dashed_parents(const graph *g)
{
	return g->num_parents + g->merge_layout - 3;
}

static int needs_pre_commit(const graph *g)
{
	return g->num_parents >= 3 && g->commit_index < g->num_columns - 1 &&
	       g->expansion_row < dashed_parents(g) * 2;
}

static int graph_update(graph *g, int64_t commit, const uint32_t *parents, int n)
{
	int rc;

	g->commit = commit;
	g->parents = parents;
	g->num_parents = n;
	g->prev_commit_index = g->commit_index;
	if ((rc = update_columns(g)) < 0)
		return rc;
	g->expansion_row = 0;
	if (g->state != G_PADDING)
		g->state = G_SKIP;
	else if (needs_pre_commit(g))
		g->state = G_PRE_COMMIT;
	else
		g->state = G_COMMIT;
	return 0;
}

static int mapping_correct(const graph *g)
{
	for (int i = 0; i < g->mapping_size; i++)
		if (g->mapping[i] >= 0 && g->mapping[i] != i / 2)
			return 0;
	return 1;
}

static int addch(graph *g, char c)
{
	g->line_width++;
	return tract_buf_putc(&g->line, c);
}

static int addchars(graph *g, char c, int n)
{
	int rc = 0;

	while (n-- > 0 && rc == 0)
		rc = addch(g, c);
	return rc;
}

static int out_padding(graph *g)
{
	int rc = 0;

	for (int i = 0; i < g->num_new_columns && rc == 0; i++)
		rc = addch(g, '|') | addch(g, ' ');
	return rc;
}

static int out_skip(graph *g)
{
	int rc = addchars(g, '.', 3);

	set_state(g, needs_pre_commit(g) ? G_PRE_COMMIT : G_COMMIT);
	return rc;
}

static int out_pre_commit(graph *g)
{
	int seen_this = 0, rc = 0;

	for (int i = 0; i < g->num_columns && rc == 0; i++) {
		if (g->columns[i] == g->commit) {
			seen_this = 1;
			rc = addch(g, '|') | addchars(g, ' ', g->expansion_row);
		} else if (seen_this && g->expansion_row == 0) {
			rc = addch(g, g->prev_state == G_POST_MERGE && g->prev_commit_index < i ? '\\'
												   : '|');
		} else if (seen_this) {
			rc = addch(g, '\\');
		} else {
			rc = addch(g, '|');
		}
		rc |= addch(g, ' ');
	}
	g->expansion_row++;
	if (!needs_pre_commit(g))
		set_state(g, G_COMMIT);
	return rc;
}

static int out_commit(graph *g)
{
	int seen_this = 0, rc = 0;

	for (int i = 0; i <= g->num_columns && rc == 0; i++) {
		int64_t col;
		if (i == g->num_columns) {
			if (seen_this)
				break;
			col = g->commit;
		} else {
			col = g->columns[i];
		}
		if (col == g->commit) {
			seen_this = 1;
			rc = addch(g, '*');
			if (g->num_parents > 2) {
				int d = dashed_parents(g);
				/* the dashes of an octopus merge */
				for (int k = 0; k < d && rc == 0; k++)
					rc = addch(g, '-') | addch(g, k == d - 1 ? '.' : '-');
			}
		} else if (seen_this && g->edges_added > 1) {
			rc = addch(g, '\\');
		} else if (seen_this && g->edges_added == 1) {
			rc = addch(g, g->prev_state == G_POST_MERGE && g->prev_edges_added > 0 &&
					      g->prev_commit_index < i
					  ? '\\'
					  : '|');
		} else if (g->prev_state == G_COLLAPSING && g->old_mapping[2 * i + 1] == i &&
			   g->mapping[2 * i] < i) {
			rc = addch(g, '/');
		} else {
			rc = addch(g, '|');
		}
		rc |= addch(g, ' ');
	}
	if (g->num_parents > 1)
		set_state(g, G_POST_MERGE);
	else if (mapping_correct(g))
		set_state(g, G_PADDING);
	else
		set_state(g, G_COLLAPSING);
	return rc;
}

static int out_post_merge(graph *g)
{
	static const char merge_chars[] = {'/', '|', '\\'};
	int seen_this = 0, rc = 0, have_parent_col = 0;
	int64_t first_parent = g->num_parents ? (int64_t)g->parents[0] : -2;

	for (int i = 0; i <= g->num_columns && rc == 0; i++) {
		int64_t col;
		if (i == g->num_columns) {
			if (seen_this)
				break;
			col = g->commit;
		} else {
			col = g->columns[i];
		}
		if (col == g->commit) {
			int idx = g->merge_layout;
			seen_this = 1;
			for (int j = 0; j < g->num_parents && rc == 0; j++) {
				rc = addch(g, merge_chars[idx]);
				if (idx == 2) {
					if (g->edges_added > 0 || j < g->num_parents - 1)
						rc |= addch(g, ' ');
				} else {
					idx++;
				}
			}
			if (g->edges_added == 0)
				rc |= addch(g, ' ');
		} else if (seen_this) {
			rc = addch(g, g->edges_added > 0 ? '\\' : '|') | addch(g, ' ');
		} else {
			rc = addch(g, '|');
			if (g->merge_layout != 0 || i != g->commit_index - 1)
				rc |= addch(g, have_parent_col ? '_' : ' ');
		}
		if (col == first_parent)
			have_parent_col = 1;
	}
	set_state(g, mapping_correct(g) ? G_PADDING : G_COLLAPSING);
	return rc;
}

static int out_collapsing(graph *g)
{
	int *tmp = g->mapping, i, rc = 0, used_horizontal = 0;
	int horizontal_edge = -1, horizontal_edge_target = -1;

	g->mapping = g->old_mapping;
	g->old_mapping = tmp;
	for (i = 0; i < g->mapping_size; i++)
		g->mapping[i] = -1;
	for (i = 0; i < g->mapping_size; i++) {
		int target = g->old_mapping[i];
		if (target < 0)
			continue;
		/* columns only ever move left */
		if (target * 2 == i) {
			g->mapping[i] = target;
		} else if (g->mapping[i - 1] < 0) {
			/* nothing to the left: move one step left */
			g->mapping[i - 1] = target;
			if (horizontal_edge == -1) {
				horizontal_edge = i;
				horizontal_edge_target = target;
				for (int j = target * 2 + 3; j < i - 2; j += 2)
					g->mapping[j] = target;
			}
		} else if (g->mapping[i - 1] == target) {
			/* joins the line to its left: same parent */
		} else {
			/* crosses the line to its left */
			g->mapping[i - 2] = target;
			if (horizontal_edge == -1) {
				horizontal_edge_target = target;
				horizontal_edge = i - 1;
				for (int j = target * 2 + 3; j < i - 2; j += 2)
					g->mapping[j] = target;
			}
		}
	}
	memcpy(g->old_mapping, g->mapping, sizeof(int) * (size_t)g->mapping_size);
	if (g->mapping[g->mapping_size - 1] < 0)
		g->mapping_size--;
	for (i = 0; i < g->mapping_size && rc == 0; i++) {
		int target = g->mapping[i];
		if (target < 0) {
			rc = addch(g, ' ');
		} else if (target * 2 == i) {
			rc = addch(g, '|');
		} else if (target == horizontal_edge_target && i != horizontal_edge - 1) {
			/* only the first segment continues on the next line */
			if (i != target * 2 + 3)
				g->mapping[i] = -1;
			used_horizontal = 1;
			rc = addch(g, '_');
		} else {
			if (used_horizontal && i < horizontal_edge)
				g->mapping[i] = -1;
			rc = addch(g, '/');
		}
	}
	if (mapping_correct(g))
		set_state(g, G_PADDING);
	return rc;
}

/* The next line into g->line; *is_commit tells whether it is the commit's. */
static int graph_next_line(graph *g, int *is_commit)
{
	int rc = 0;

	tract_buf_clear(&g->line);
	g->line_width = 0;
	*is_commit = 0;
	switch (g->state) {
	case G_PADDING:
		rc = out_padding(g);
		break;
	case G_SKIP:
		rc = out_skip(g);
		break;
	case G_PRE_COMMIT:
		rc = out_pre_commit(g);
		break;
	case G_COMMIT:
		rc = out_commit(g);
		*is_commit = 1;
		break;
	case G_POST_MERGE:
		rc = out_post_merge(g);
		break;
	case G_COLLAPSING:
		rc = out_collapsing(g);
		break;
	}
	if (rc == 0 && g->line_width < g->width)
		rc = addchars(g, ' ', g->width - g->line_width);
	if (rc == 0 && !g->line.ptr)
		rc = tract_buf_puts(&g->line, "");
	return rc ? tract_error_oom() : 0;
}

/* ---- refs ------------------------------------------------------------------------ */

typedef struct {
	walker *w;
	uint32_t *tips;
	size_t ntips, captips;
	int all;
	int rc;
} ref_scan;

static int tip_push(ref_scan *r, uint32_t idx)
{
	if (tract_array_reserve(&r->tips, &r->captips, r->ntips + 1, sizeof(*r->tips), 16) < 0)
		return TRACT_ENOMEM;
	r->tips[r->ntips++] = idx;
	return 0;
}

static int deco_push(walker *w, uint32_t idx, const char *prefix, const char *name, int is_head)
{
	deco *d = realloc(w->decos, (w->ndecos + 1) * sizeof(*d));
	size_t len = strlen(prefix) + strlen(name) + 1;

	if (!d)
		return tract_error_oom();
	w->decos = d;
	d = &w->decos[w->ndecos];
	d->node = idx;
	d->is_head = is_head;
	d->name = malloc(len);
	if (!d->name)
		return tract_error_oom();
	snprintf(d->name, len, "%s%s", prefix, name);
	w->ndecos++;
	return 0;
}

static int ref_cb(const tract_ref_row *row, void *payload)
{
	ref_scan *r = payload;
	const char *n = row->ref_name;
	int is_branch = strncmp(n, "refs/heads/", 11) == 0;
	int is_tag = strncmp(n, "refs/tags/", 10) == 0;
	uint32_t idx;
	int rc;

	if ((!is_branch && !is_tag) || !row->commit_hash)
		return 0;
	rc = node_of(&idx, r->w, row->commit_hash);
	if (rc == 0)
		rc = deco_push(r->w, idx, is_tag ? "tag: " : "", n + (is_tag ? 10 : 11), 0);
	if (rc == 0 && r->all)
		rc = tip_push(r, idx);
	return rc;
}

/* git's decoration text of a commit: HEAD first, then the refs in reverse
 * name order. */
static int decoration_of(tract_buf *b, const walker *w, uint32_t idx)
{
	int rc = 0, n = 0, head_attached_here = 0;

	tract_buf_clear(b);
	for (size_t i = 0; i < w->ndecos; i++)
		if (w->decos[i].is_head && w->decos[i].node == idx && w->head_branch[0])
			for (size_t k = 0; k < w->ndecos; k++)
				if (!w->decos[k].is_head && w->decos[k].node == idx &&
				    strcmp(w->decos[k].name, w->head_branch) == 0)
					head_attached_here = 1;
	for (size_t i = 0; i < w->ndecos; i++) {
		const deco *d = &w->decos[i];
		if (!d->is_head || d->node != idx)
			continue;
		rc |= tract_buf_puts(b, "HEAD");
		if (head_attached_here)
			rc |= tract_buf_printf(b, " -> %s", w->head_branch);
		n++;
	}
	for (size_t i = w->ndecos; i-- > 0;) {
		const deco *d = &w->decos[i];
		if (d->is_head || d->node != idx)
			continue;
		if (head_attached_here && strcmp(d->name, w->head_branch) == 0)
			continue;
		rc |= tract_buf_printf(b, "%s%s", n++ ? ", " : "", d->name);
	}
	if (rc == 0 && !b->ptr)
		rc = tract_buf_puts(b, "");
	return rc ? tract_error_oom() : 0;
}

/* ---- the operation ------------------------------------------------------------ */

int tract_graph_options_init(tract_graph_options *opts, unsigned int version)
{
	tract_graph_options defaults = TRACT_GRAPH_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_graph_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_GRAPH_OPTIONS_VERSION, "tract_graph_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

typedef struct {
	tract_row row;
	int found;
} one_row;

static int one_row_cb(const tract_chain_row *row, void *payload)
{
	one_row *o = payload;
	int rc = tract_row_copy_chain(&o->row, row);

	if (rc < 0)
		return rc;
	o->found = 1;
	return 1;
}

static int emit_line(tract_graph_cb cb, void *payload, const char *text,
		     const tract_commit *c, const char *decoration)
{
	tract_graph_line line = {text, c, decoration ? decoration : ""};
	int rc = cb(&line, payload);

	return rc;
}

/* Draw commit c: the lines before its own, its line, the lines after. */
static int show_commit(walker *w, graph *g, tract_buf *deco_buf, uint32_t c, unsigned flags,
		       tract_graph_cb cb, void *payload)
{
	uint32_t *parents = NULL;
	int n = 0, rc, is_commit = 0, stop = 0;
	one_row o;

	parents = malloc(((size_t)w->nodes[c].npar + 1) * sizeof(*parents));
	if (!parents)
		return tract_error_oom();
	for (uint32_t k = 0; k < w->nodes[c].npar; k++) {
		uint32_t p = w->par[w->nodes[c].poff + k];
		if ((rc = ensure_loaded(w, p)) < 0)
			goto done;
		if (!w->nodes[p].missing)
			parents[n++] = p;
	}
	if ((rc = graph_update(g, c, parents, n)) < 0)
		goto done;
	memset(&o, 0, sizeof(o));
	rc = w->t->store->be->commit_chain(
	    w->t->store->conn, w->t->id, w->nodes[c].hash, 1,
	    TRACT_CHAIN_PARENTS | ((flags & TRACT_LOG_CONTENT) ? TRACT_CHAIN_PAYLOAD : 0u),
	    INT64_MAX, one_row_cb, &o);
	if (rc < 0) {
		if (o.found)
			tract_row_dispose(&o.row);
		rc = rc == TRACT_ENOMEM ? tract_error_oom()
					: tract_backend_error(w->t->store, rc, "read commit");
		goto done;
	}
	if (!o.found) {
		rc = tract_error_set(TRACT_ENOTFOUND, "Commit not found: %s", w->nodes[c].hash);
		goto done;
	}
	while (!is_commit && rc == 0 && !stop) {
		if ((rc = graph_next_line(g, &is_commit)) < 0)
			break;
		if (!is_commit) {
			rc = emit_line(cb, payload, g->line.ptr, NULL, NULL);
			stop = rc > 0;
		} else {
			tract_commit *commit = tract_commit_from_row(&o.row);
			o.found = 0;
			if (!commit) {
				rc = tract_error_oom();
				break;
			}
			rc = decoration_of(deco_buf, w, c);
			if (rc == 0) {
				rc = emit_line(cb, payload, g->line.ptr, commit, deco_buf->ptr);
				stop = rc > 0;
			}
			tract_commit_free(commit);
		}
	}
	if (o.found)
		tract_row_dispose(&o.row);
	/* the rest of the commit: fan-out and collapsing lines */
	while (rc == 0 && !stop && g->state != G_PADDING) {
		if ((rc = graph_next_line(g, &is_commit)) < 0)
			break;
		rc = emit_line(cb, payload, g->line.ptr, NULL, NULL);
		stop = rc > 0;
	}
done:
	g->parents = NULL; /* only read while this commit's lines are drawn */
	free(parents);
	return rc;
}

static int run(walker *w, const tract_graph_options *o, unsigned flags, tract_graph_cb cb,
	       void *payload)
{
	tract *t = w->t;
	tract_head_state hs;
	ref_scan rs;
	graph g;
	tract_buf deco_buf = TRACT_BUF_INIT;
	size_t shown = 0, ntips = 0;
	uint32_t *tips = NULL;
	int rc;

	memset(&rs, 0, sizeof(rs));
	rs.w = w;
	rs.all = o->all;
	if ((rc = graph_init(&g)) < 0)
		goto done;
	/* decorations and, with all, the tips: branches and tags in name
	 * order, then HEAD (git's --all) */
	rc = t->store->be->ref_foreach(t->store->conn, t->id, "refs/", ref_cb, &rs);
	if (rc < 0) {
		rc = rc == TRACT_ENOMEM ? tract_error_oom()
					: tract_backend_error(t->store, rc, "read refs");
		goto done;
	}
	if ((rc = tract_head_read(&hs, t)) < 0)
		goto done;
	if (hs.hash[0]) {
		uint32_t idx;
		if ((rc = node_of(&idx, w, hs.hash)) < 0 || (rc = deco_push(w, idx, "", "HEAD", 1)) < 0)
			goto done;
		if (hs.head.symbolic[0] && strncmp(hs.head.symbolic, "refs/heads/", 11) == 0)
			memcpy(w->head_branch, hs.head.symbolic + 11, strlen(hs.head.symbolic + 11) + 1);
		if ((o->all || !o->start) && (rc = tip_push(&rs, idx)) < 0)
			goto done;
	}
	if (o->start) {
		char hash[65];
		uint32_t idx;
		if ((rc = tract_resolve_in_txn(hash, t, o->start)) < 0 ||
		    (rc = node_of(&idx, w, hash)) < 0 || (rc = tip_push(&rs, idx)) < 0)
			goto done;
	}
	/* the tips: known, once each, newest first (stable) */
	tips = malloc((rs.ntips ? rs.ntips : 1) * sizeof(*tips));
	if (!tips) {
		rc = tract_error_oom();
		goto done;
	}
	for (size_t i = 0; i < rs.ntips; i++) {
		uint32_t x = rs.tips[i];
		if ((rc = ensure_loaded(w, x)) < 0)
			goto done;
		if (w->nodes[x].missing || w->nodes[x].queued)
			continue;
		w->nodes[x].queued = 1;
		w->nodes[x].indegree = 1;
		/* insertion sort by date, newest first, stable */
		size_t k = ntips++;
		while (k > 0 && w->nodes[tips[k - 1]].date < w->nodes[x].date) {
			tips[k] = tips[k - 1];
			k--;
		}
		tips[k] = x;
	}
	w->min_gen = INT64_MAX;
	for (size_t i = 0; i < ntips; i++) {
		if ((rc = heap_push(w, tips[i])) < 0)
			goto done;
		if (w->nodes[tips[i]].date < w->min_gen)
			w->min_gen = w->nodes[tips[i]].date;
	}
	if (ntips && (rc = count_to(w, w->min_gen)) < 0)
		goto done;
	/* ready tips on the LIFO so that the newest comes out first */
	for (size_t i = ntips; i-- > 0;)
		if (w->nodes[tips[i]].indegree == 1 && (rc = stack_push(w, tips[i])) < 0)
			goto done;
	while (w->nstack && (!o->limit || shown < o->limit)) {
		uint32_t c = w->stack[--w->nstack];
		if (w->nodes[c].emitted)
			continue;
		w->nodes[c].emitted = 1;
		rc = show_commit(w, &g, &deco_buf, c, flags, cb, payload);
		if (rc != 0)
			break;
		shown++;
		if (o->limit && shown >= o->limit)
			break;
		if ((rc = expand(w, c)) < 0)
			break;
	}
	if (rc > 0)
		rc = 0;
done:
	free(tips);
	free(rs.tips);
	tract_buf_dispose(&deco_buf);
	graph_dispose(&g);
	return rc;
}

int tract_graph_foreach(tract *t, const tract_graph_options *opts, unsigned int flags,
			tract_graph_cb cb, void *payload)
{
	tract_graph_options defaults = TRACT_GRAPH_OPTIONS_INIT;
	walker w;
	int rc;

	if (!t || !cb)
		return tract_error_set(TRACT_EINVAL, "tract_graph_foreach: NULL argument");
	if (flags & ~(unsigned int)TRACT_LOG_CONTENT)
		return tract_error_set(TRACT_EINVAL, "tract_graph_foreach: unknown flags %#x", flags);
	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_GRAPH_OPTIONS_VERSION, "tract_graph_options") <
	    0)
		return TRACT_EINVAL;
	memset(&w, 0, sizeof(w));
	w.t = t;
	w.chunk = 16;
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = run(&w, opts, flags, cb, payload);
	rc = tract_txn_end(t->store, rc);
	free(w.nodes);
	free(w.table);
	free(w.par);
	free(w.heap);
	free(w.stack);
	for (size_t i = 0; i < w.ndecos; i++)
		free(w.decos[i].name);
	free(w.decos);
	return rc;
}
