/*
 * dag.c - commit-graph queries over all parents (model layer): ancestry
 * test, best common ancestors (git's merge-base), commits unique to a
 * branch, ahead/behind (history.md §6 as DECISIONS.md amends it).
 *
 * Every query loads the commits it visits, and only those, into a graph
 * (a hash table of nodes: created_at and the parents in position order:
 * parent_hash, then the commit_parents rows). The graph stays on the store
 * handle between queries (what a commit hash stands for never changes), so
 * a query over commits earlier queries met reads nothing but its start
 * commits from the backend; only the paint is per query. The walks are git's: a priority queue by created_at,
 * newest first, with flags painted down from the start commits (PARENT1,
 * PARENT2, STALE for merge-base; one flag per side for the others), and
 * they stop as soon as what remains in the queue cannot change the
 * answer. The stopping rules rely on a commit being no newer than its
 * children (created_at never decreases from parent to child, which is how
 * commits are made); equal timestamps are fine: a commit whose flags grow
 * after it left the queue goes back in, so flags always reach every
 * ancestor. Parent cycles (a tampered store) met on the way are
 * TRACT_ECORRUPT. Everything is iterative.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "row.h"

enum {
	ST_UNKNOWN = 0,
	ST_LOADED = 1,
	ST_MISSING = 2,
};

/* Paint flags. */
enum {
	F_P1 = 1u << 0,     /* reached from the first start (a, tip) */
	F_P2 = 1u << 1,     /* reached from the second start (b, base) */
	F_STALE = 1u << 2,  /* an ancestor of a common ancestor */
	F_RESULT = 1u << 3, /* taken as a candidate base */
	F_CHAIN = 1u << 4,  /* on the tip's first-parent chain (unique) */
};

#define NONE UINT32_MAX

typedef struct {
	char hash[65];
	uint8_t state;
	uint8_t flags;
	uint8_t queued;
	uint8_t color; /* cycle check */
	uint8_t touched; /* in g->touched (this query's state to clear) */
	tract_time time;
	uint32_t par;  /* first parent's index in g->pars */
	uint32_t npar;
	uint32_t mark; /* stamp of the last sub-walk that saw it */
	uint32_t aux;  /* topo_unique: position among the members */
} dag_node;

typedef struct {
	uint32_t *v;
	size_t n, cap;
} dag_heap;

struct tract_dag_graph {
	tract_store *s;
	char tract_id[65];
	dag_node *nodes;
	size_t n, cap;
	uint32_t *pars;
	size_t npars, pcap;
	uint32_t *slots; /* open addressing: node index + 1, 0 = empty */
	size_t nslots;
	uint32_t stamp;
	dag_heap q;  /* the paint queue */
	dag_heap q2; /* sub-walks */
	/* loading: parents of the commit being read */
	char (*tmp)[65];
	size_t ntmp, tcap;
	size_t batch;   /* rows of the last ancestry walk */
	size_t nloaded; /* nodes ST_LOADED by this query */
	int cb_rc;    /* a failure inside the walk's callback */
	/* The nodes this query gave flags, queued, found missing or loaded:
	 * what dag_end() clears and what the whole-graph passes visit. */
	uint32_t *touched;
	size_t ntouched, ttcap;
};

typedef struct tract_dag_graph dag;

/* ---- the graph --------------------------------------------------------- */

static uint64_t hash_str(const char *h)
{
	uint64_t x = 1469598103934665603ull;

	for (; *h; h++) {
		x ^= (unsigned char)*h;
		x *= 1099511628211ull;
	}
	return x;
}

static void dag_dispose(dag *g)
{
	free(g->nodes);
	free(g->pars);
	free(g->slots);
	free(g->q.v);
	free(g->q2.v);
	free(g->tmp);
	free(g->touched);
	memset(g, 0, sizeof(*g));
}

void tract_dag_cache_drop(tract_store *s)
{
	if (!s || !s->dag)
		return;
	dag_dispose(s->dag);
	free(s->dag);
	s->dag = NULL;
}

/*
 * The graph a query works on: the store's, kept between queries. A loaded
 * node records what a commit hash stands for (its created_at and parents),
 * which never changes, so the nodes earlier queries of this store handle
 * loaded are answered from memory; a commit the graph has not met (written
 * later, by this handle or another process) is read from the backend when
 * a walk reaches it. One tract at a time: a query on another tract starts
 * a new graph. Start commits are always checked against the backend, so a
 * commit gc removed is not found even when the graph remembers it (its
 * ancestors, which gc kept, are still right). A rolled-back write
 * transaction drops the graph (core/store.c): it may hold commits that
 * were never written.
 */
static int dag_begin(dag **out, tract_store *s, const char *tract_id)
{
	dag *g = s->dag;

	*out = NULL;
	if (!tract_id || strnlen(tract_id, 65) > 64)
		return tract_error_set(TRACT_EINVAL, "invalid tract id");
	if (g && strcmp(g->tract_id, tract_id) != 0)
		tract_dag_cache_drop(s);
	if (!s->dag) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return tract_error_oom();
		g->s = s;
		tract_copy_id(g->tract_id, tract_id);
		s->dag = g;
	}
	*out = s->dag;
	return 0;
}

/* Bigger than this (about 100 bytes a commit: ~100 MB), the graph is
 * dropped after the query rather than kept. */
#define DAG_KEEP_MAX (1u << 20)

/*
 * End of a query: clear what it painted. A failed query drops the graph
 * (a damaged store is read afresh next time; a parent cycle is met again).
 */
static int dag_end(dag *g, int rc)
{
	size_t i;

	for (i = 0; i < g->ntouched; i++) {
		dag_node *x = &g->nodes[g->touched[i]];

		x->flags = 0;
		x->queued = 0;
		x->color = 0;
		x->touched = 0;
		if (x->state == ST_MISSING)
			x->state = ST_UNKNOWN; /* it may be written later */
	}
	g->ntouched = 0;
	g->nloaded = 0;
	g->q.n = 0;
	g->q2.n = 0;
	if (rc < 0 || g->n > DAG_KEEP_MAX)
		tract_dag_cache_drop(g->s);
	return rc;
}

static int touch(dag *g, uint32_t i)
{
	if (g->nodes[i].touched)
		return 0;
	if (g->ntouched == g->ttcap) {
		size_t cap = g->ttcap ? g->ttcap * 2 : 256;
		uint32_t *v = realloc(g->touched, cap * sizeof(*v));

		if (!v)
			return tract_error_oom();
		g->touched = v;
		g->ttcap = cap;
	}
	g->nodes[i].touched = 1;
	g->touched[g->ntouched++] = i;
	return 0;
}

static int rehash(dag *g)
{
	size_t n = g->nslots ? g->nslots * 2 : 1024, i;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return tract_error_oom();
	for (i = 0; i < g->n; i++) {
		size_t j = (size_t)hash_str(g->nodes[i].hash) & (n - 1);

		while (slots[j])
			j = (j + 1) & (n - 1);
		slots[j] = (uint32_t)i + 1;
	}
	free(g->slots);
	g->slots = slots;
	g->nslots = n;
	return 0;
}

/* The node of hash, created (unknown) when new. */
static int intern(dag *g, const char *hash, uint32_t *out)
{
	size_t j;

	if ((g->n + 1) * 2 > g->nslots && rehash(g) < 0)
		return TRACT_ENOMEM;
	j = (size_t)hash_str(hash) & (g->nslots - 1);
	while (g->slots[j]) {
		uint32_t i = g->slots[j] - 1;

		if (strcmp(g->nodes[i].hash, hash) == 0) {
			*out = i;
			return 0;
		}
		j = (j + 1) & (g->nslots - 1);
	}
	if (g->n >= UINT32_MAX - 1)
		return tract_error_set(TRACT_ENOMEM, "commit graph too large");
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 256;
		dag_node *nodes = realloc(g->nodes, cap * sizeof(*nodes));

		if (!nodes)
			return tract_error_oom();
		g->nodes = nodes;
		g->cap = cap;
	}
	memset(&g->nodes[g->n], 0, sizeof(g->nodes[0]));
	tract_copy_id(g->nodes[g->n].hash, hash);
	g->slots[j] = (uint32_t)g->n + 1;
	*out = (uint32_t)g->n++;
	return 0;
}

static int push_par(dag *g, uint32_t p)
{
	if (g->npars == g->pcap) {
		size_t cap = g->pcap ? g->pcap * 2 : 512;
		uint32_t *pars = realloc(g->pars, cap * sizeof(*pars));

		if (!pars)
			return tract_error_oom();
		g->pars = pars;
		g->pcap = cap;
	}
	g->pars[g->npars++] = p;
	return 0;
}

static int tmp_add(dag *g, const char *hash)
{
	size_t i;

	if (!hash || !*hash)
		return 0;
	for (i = 0; i < g->ntmp; i++)
		if (strcmp(g->tmp[i], hash) == 0)
			return 0; /* position 0 repeats parent_hash */
	if (g->ntmp == g->tcap) {
		size_t cap = g->tcap ? g->tcap * 2 : 8;
		char(*tmp)[65] = realloc(g->tmp, cap * sizeof(*tmp));

		if (!tmp)
			return tract_error_oom();
		g->tmp = tmp;
		g->tcap = cap;
	}
	tract_copy_id(g->tmp[g->ntmp++], hash);
	return 0;
}

/* Record node i as loaded with the parents in g->tmp. */
static int set_loaded(dag *g, uint32_t i, tract_time t)
{
	size_t k;
	uint32_t first = (uint32_t)g->npars;

	/* Intern first (it may move g->nodes), then append the indices. */
	for (k = 0; k < g->ntmp; k++) {
		uint32_t p;
		int rc = intern(g, g->tmp[k], &p);

		if (rc < 0)
			return rc;
		rc = push_par(g, p);
		if (rc < 0)
			return rc;
	}
	g->nodes[i].par = first;
	g->nodes[i].npar = (uint32_t)g->ntmp;
	g->nodes[i].time = t;
	g->nodes[i].state = ST_LOADED;
	g->nloaded++;
	return touch(g, i);
}

struct get_row {
	dag *g;
	tract_time time;
	int rc;
};

static int get_cb(const tract_commit_row *row, void *payload)
{
	struct get_row *r = payload;

	r->time = row->created_at;
	r->rc = tmp_add(r->g, row->parent_hash);
	return r->rc < 0 ? r->rc : 1;
}

static int plist_cb(const char *commit_hash, const char *parent_hash, int64_t position,
		    void *payload)
{
	(void)commit_hash;
	(void)position;
	return tmp_add(payload, parent_hash);
}

/* A commit of the backend's ancestry walk: loaded (its parents known),
 * the walk pruned where the graph has the commit already. */
static int prefetch_cb(const tract_ancestry_row *row, void *payload)
{
	dag *g = payload;
	uint32_t x;
	size_t k;
	int rc = intern(g, row->commit_hash, &x);

	if (rc < 0)
		return g->cb_rc = rc;
	if (g->nodes[x].state == ST_LOADED)
		return TRACT_ANCESTRY_PRUNE;
	g->ntmp = 0;
	for (k = 0; k < row->n_parents && rc == 0; k++)
		rc = tmp_add(g, row->parents[k]);
	if (rc == 0)
		rc = set_loaded(g, x, row->created_at);
	return rc < 0 ? (g->cb_rc = rc) : 0;
}

/*
 * Load node i and what lies behind it in one backend walk (commit_ancestry,
 * ABI version 3): breadth first, half as many commits as the query has
 * loaded so far (DAG_BATCH_FIRST to DAG_BATCH_MAX), so a long walk costs
 * a few round trips (the batches grow by half each time) and what is read
 * beyond the answer stays within half of what the query needed.
 */
#define DAG_BATCH_FIRST 16
#define DAG_BATCH_MAX 4096

static int prefetch(dag *g, uint32_t i)
{
	tract_store *s = g->s;
	char hash[65];
	const char *starts[1];
	int rc;

	memcpy(hash, g->nodes[i].hash, sizeof(hash));
	starts[0] = hash;
	g->batch = g->nloaded / 2;
	if (g->batch < DAG_BATCH_FIRST)
		g->batch = DAG_BATCH_FIRST;
	if (g->batch > DAG_BATCH_MAX)
		g->batch = DAG_BATCH_MAX;
	g->cb_rc = 0;
	rc = s->be->commit_ancestry(s->conn, g->tract_id, starts, 1, g->batch, prefetch_cb, g);
	if (g->cb_rc < 0)
		return g->cb_rc;
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "walk the ancestry");
	if (g->nodes[i].state == ST_UNKNOWN) {
		g->nodes[i].state = ST_MISSING;
		return touch(g, i);
	}
	return 0;
}

/* Read node i from the backend unless known: its created_at and parents,
 * or ST_MISSING when the tract has no such commit. */
static int load(dag *g, uint32_t i)
{
	tract_store *s = g->s;
	struct get_row r;
	char hash[65];
	int rc;

	if (g->nodes[i].state != ST_UNKNOWN)
		return 0;
	if (s->be->commit_ancestry)
		return prefetch(g, i);
	memcpy(hash, g->nodes[i].hash, sizeof(hash));
	g->ntmp = 0;
	r.g = g;
	r.time = 0;
	r.rc = 0;
	rc = s->be->commit_get(s->conn, g->tract_id, hash, get_cb, &r);
	if (rc == TRACT_ENOTFOUND) {
		g->nodes[i].state = ST_MISSING;
		return touch(g, i);
	}
	if (r.rc < 0)
		return r.rc;
	if (rc < 0)
		return tract_backend_error(s, rc, "read commit");
	rc = s->be->parent_list(s->conn, hash, plist_cb, g);
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "read merge parents");
	return set_loaded(g, i, r.time);
}

static int exists_cb(const tract_commit_row *row, void *payload)
{
	(void)row;
	(void)payload;
	return 1;
}

/* The node of a start commit; TRACT_ENOTFOUND when the tract lacks it. A
 * node an earlier query loaded is checked against the backend (one
 * lookup): the commit may have been removed since (gc). */
static int start(dag *g, const char *hash, uint32_t *out)
{
	tract_store *s = g->s;
	int rc;

	if (!hash || !*hash)
		return tract_error_set(TRACT_EINVAL, "no commit given");
	if (strnlen(hash, 65) > 64)
		return tract_error_set(TRACT_ENOTFOUND, "commit %.64s... not found", hash);
	rc = intern(g, hash, out);
	if (rc < 0)
		return rc;
	if (g->nodes[*out].state == ST_LOADED && !g->nodes[*out].touched) {
		rc = s->be->commit_get(s->conn, g->tract_id, hash, exists_cb, NULL);
		if (rc == TRACT_ENOTFOUND)
			return tract_error_set(TRACT_ENOTFOUND, "commit %s not found", hash);
		if (rc < 0)
			return tract_backend_error(s, rc, "read commit");
		rc = touch(g, *out);
	}
	if (rc == 0)
		rc = load(g, *out);
	if (rc < 0)
		return rc;
	if (g->nodes[*out].state != ST_LOADED)
		return tract_error_set(TRACT_ENOTFOUND, "commit %s not found", hash);
	return 0;
}

/* ---- priority queues: newest first, ties by hash (greatest first) ------ */

static int before(const dag *g, uint32_t a, uint32_t b)
{
	const dag_node *x = &g->nodes[a], *y = &g->nodes[b];

	if (x->time != y->time)
		return x->time > y->time;
	return strcmp(x->hash, y->hash) > 0;
}

static int heap_push(dag *g, dag_heap *h, uint32_t i)
{
	size_t k;

	if (touch(g, i) < 0)
		return TRACT_ENOMEM;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 256;
		uint32_t *v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return tract_error_oom();
		h->v = v;
		h->cap = cap;
	}
	k = h->n++;
	while (k > 0) {
		size_t up = (k - 1) / 2;

		if (!before(g, i, h->v[up]))
			break;
		h->v[k] = h->v[up];
		k = up;
	}
	h->v[k] = i;
	return 0;
}

static uint32_t heap_pop(dag *g, dag_heap *h)
{
	uint32_t top = h->v[0], last = h->v[--h->n];
	size_t k = 0;

	for (;;) {
		size_t c = 2 * k + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && before(g, h->v[c + 1], h->v[c]))
			c++;
		if (!before(g, h->v[c], last))
			break;
		h->v[k] = h->v[c];
		k = c;
	}
	if (h->n)
		h->v[k] = last;
	return top;
}

/* ---- parent cycles ------------------------------------------------------- */

/* Iterative depth-first search over the loaded nodes: a parent cycle
 * among them is TRACT_ECORRUPT naming one of its commits. */
static int check_cycles(dag *g)
{
	uint32_t *stack = NULL, *next = NULL;
	size_t i, sp = 0;
	int rc = 0;

	if (!g->ntouched)
		return 0;
	stack = malloc(g->ntouched * sizeof(*stack));
	next = malloc(g->ntouched * sizeof(*next));
	if (!stack || !next) {
		free(stack);
		free(next);
		return tract_error_oom();
	}
	for (i = 0; i < g->ntouched; i++)
		g->nodes[g->touched[i]].color = 0;
	for (i = 0; i < g->ntouched && rc == 0; i++) {
		uint32_t v = g->touched[i];

		if (g->nodes[v].color || g->nodes[v].state != ST_LOADED)
			continue;
		sp = 0;
		stack[sp] = v;
		next[sp++] = 0;
		g->nodes[v].color = 1;
		while (sp && rc == 0) {
			dag_node *x = &g->nodes[stack[sp - 1]];

			if (next[sp - 1] < x->npar) {
				uint32_t p = g->pars[x->par + next[sp - 1]++];
				dag_node *y = &g->nodes[p];

				if (y->state != ST_LOADED || !y->touched || y->color == 2)
					continue;
				if (y->color == 1) {
					rc = tract_error_set(TRACT_ECORRUPT, "parent cycle at %s",
							     y->hash);
					break;
				}
				y->color = 1;
				stack[sp] = p;
				next[sp++] = 0;
			} else {
				x->color = 2;
				sp--;
			}
		}
	}
	free(stack);
	free(next);
	return rc;
}

/* ---- ancestry ------------------------------------------------------------ */

/* Is node anc reachable from node desc? Walks newest first and leaves out
 * commits older than anc (they cannot descend from it). */
static int reaches(dag *g, uint32_t anc, uint32_t desc, int *out)
{
	dag_heap *h = &g->q2;
	tract_time floor;
	int rc;

	*out = 0;
	if (anc == desc) {
		*out = 1;
		return 0;
	}
	floor = g->nodes[anc].time;
	h->n = 0;
	g->stamp++;
	g->nodes[desc].mark = g->stamp;
	rc = heap_push(g, h, desc);
	while (rc == 0 && h->n) {
		uint32_t x = heap_pop(g, h), k;

		for (k = 0; k < g->nodes[x].npar; k++) {
			uint32_t p = g->pars[g->nodes[x].par + k];

			if (p == anc) {
				*out = 1;
				h->n = 0;
				return 0;
			}
			if (g->nodes[p].mark == g->stamp)
				continue;
			g->nodes[p].mark = g->stamp;
			rc = load(g, p);
			if (rc < 0)
				break;
			if (g->nodes[p].state != ST_LOADED || g->nodes[p].time < floor)
				continue;
			rc = heap_push(g, h, p);
			if (rc < 0)
				break;
		}
	}
	h->n = 0;
	return rc;
}

int tract_dag_is_ancestor(int *out, tract_store *s, const char *tract_id, const char *ancestor,
			  const char *descendant)
{
	dag *g;
	uint32_t a, d;
	int rc, found = 0;

	if (out)
		*out = 0;
	if (!out || !s)
		return tract_error_set(TRACT_EINVAL, "invalid argument");
	rc = dag_begin(&g, s, tract_id);
	if (rc < 0)
		return rc;
	rc = start(g, ancestor, &a);
	if (rc == 0)
		rc = start(g, descendant, &d);
	if (rc == 0)
		rc = reaches(g, a, d, &found);
	if (rc == 0)
		rc = check_cycles(g);
	if (rc == 0)
		*out = found;
	dag_end(g, rc);
	return rc;
}

/* ---- merge base ------------------------------------------------------------ */

/* Queue i unless queued; *nonstale counts the queued non-stale nodes. */
static int enqueue(dag *g, uint32_t i, size_t *nonstale)
{
	if (g->nodes[i].queued)
		return 0;
	g->nodes[i].queued = 1;
	if (!(g->nodes[i].flags & F_STALE))
		(*nonstale)++;
	return heap_push(g, &g->q, i);
}

/* Give node p the flags f (and queue it when they are new to it). */
static int paint_parent(dag *g, uint32_t p, unsigned f, size_t *nonstale)
{
	dag_node *y;
	int rc = load(g, p);

	if (rc < 0)
		return rc;
	y = &g->nodes[p];
	if (y->state != ST_LOADED || (y->flags & f) == f)
		return 0;
	if (y->queued && !(y->flags & F_STALE) && (f & F_STALE))
		(*nonstale)--;
	y->flags |= (uint8_t)f;
	return enqueue(g, p, nonstale);
}

static int newer(const dag *g, uint32_t a, uint32_t b);

/* git's paint_down_to_common and remove_redundant: the best common
 * ancestors of a and b into out (indices), newest first. */
static int bases(dag *g, uint32_t a, uint32_t b, uint32_t **out, size_t *count)
{
	uint32_t *c = NULL;
	size_t n = 0, cap = 0, nonstale = 0, i, j, k;
	int rc;

	*out = NULL;
	*count = 0;
	g->nodes[a].flags |= F_P1;
	g->nodes[b].flags |= F_P2;
	rc = enqueue(g, a, &nonstale);
	if (rc == 0)
		rc = enqueue(g, b, &nonstale);
	while (rc == 0 && nonstale) {
		uint32_t x = heap_pop(g, &g->q);
		unsigned f;

		g->nodes[x].queued = 0;
		f = g->nodes[x].flags & (F_P1 | F_P2 | F_STALE);
		if (!(f & F_STALE))
			nonstale--;
		if ((f & (F_P1 | F_P2)) == (F_P1 | F_P2) && !(f & F_STALE)) {
			if (!(g->nodes[x].flags & F_RESULT)) {
				g->nodes[x].flags |= F_RESULT;
				if (n == cap) {
					size_t nc = cap ? cap * 2 : 8;
					uint32_t *v = realloc(c, nc * sizeof(*v));

					if (!v) {
						rc = tract_error_oom();
						break;
					}
					c = v;
					cap = nc;
				}
				c[n++] = x;
			}
			f |= F_STALE;
		}
		for (k = 0; rc == 0 && k < g->nodes[x].npar; k++)
			rc = paint_parent(g, g->pars[g->nodes[x].par + k], f, &nonstale);
	}
	for (i = 0; i < g->q.n; i++)
		g->nodes[g->q.v[i]].queued = 0;
	g->q.n = 0;
	if (rc < 0) {
		free(c);
		return rc;
	}
	/* A candidate that turned stale later is not best. */
	for (i = j = 0; i < n; i++)
		if (!(g->nodes[c[i]].flags & F_STALE))
			c[j++] = c[i];
	n = j;
	/* remove_redundant: drop a candidate that another one descends from. */
	if (n > 1) {
		unsigned char *gone = calloc(n, 1);

		if (!gone) {
			free(c);
			return tract_error_oom();
		}
		for (i = 0; rc == 0 && i < n; i++)
			for (j = 0; rc == 0 && j < n; j++) {
				int r = 0;

				if (i == j || gone[j] || gone[i])
					continue;
				rc = reaches(g, c[i], c[j], &r);
				if (r)
					gone[i] = 1;
			}
		for (i = j = 0; i < n; i++)
			if (!gone[i])
				c[j++] = c[i];
		n = j;
		free(gone);
		if (rc < 0) {
			free(c);
			return rc;
		}
	}
	for (i = 1; i < n; i++) /* insertion sort: a handful at most */
		for (j = i; j > 0 && newer(g, c[j], c[j - 1]); j--) {
			uint32_t t = c[j];

			c[j] = c[j - 1];
			c[j - 1] = t;
		}
	*out = c;
	*count = n;
	return 0;
}

/* Newest first, ties by least hash. */
static int newer(const dag *g, uint32_t a, uint32_t b)
{
	const dag_node *x = &g->nodes[a], *y = &g->nodes[b];

	if (x->time != y->time)
		return x->time > y->time;
	return strcmp(x->hash, y->hash) < 0;
}

void tract_dag_list_dispose(tract_dag_list *l)
{
	if (!l)
		return;
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

static int list_from(tract_dag_list *out, const dag *g, const uint32_t *v, size_t n)
{
	size_t i;

	out->items = NULL;
	out->count = 0;
	if (!n)
		return 0;
	out->items = malloc(n * sizeof(*out->items));
	if (!out->items)
		return tract_error_oom();
	for (i = 0; i < n; i++)
		memcpy(out->items[i], g->nodes[v[i]].hash, 65);
	out->count = n;
	return 0;
}

int tract_dag_merge_bases(tract_dag_list *out, tract_store *s, const char *tract_id, const char *a,
			  const char *b)
{
	dag *g;
	uint32_t ia, ib, *v = NULL;
	size_t n = 0;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "invalid argument");
	out->items = NULL;
	out->count = 0;
	if (!s)
		return tract_error_set(TRACT_EINVAL, "invalid argument");
	rc = dag_begin(&g, s, tract_id);
	if (rc < 0)
		return rc;
	rc = start(g, a, &ia);
	if (rc == 0)
		rc = start(g, b, &ib);
	if (rc == 0)
		rc = bases(g, ia, ib, &v, &n);
	if (rc == 0)
		rc = check_cycles(g);
	if (rc == 0)
		rc = list_from(out, g, v, n);
	free(v);
	dag_end(g, rc);
	return rc;
}

int tract_dag_merge_base(char out[65], tract_store *s, const char *tract_id, const char *a,
			 const char *b)
{
	tract_dag_list l;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "invalid argument");
	out[0] = '\0';
	rc = tract_dag_merge_bases(&l, s, tract_id, a, b);
	if (rc < 0)
		return rc;
	if (l.count)
		memcpy(out, l.items[0], 65);
	tract_dag_list_dispose(&l);
	return 0;
}

/* ---- one side against the other ----------------------------------------------- */

/*
 * Paint F_P1 from a and F_P2 from b (NONE: none) until nothing in the queue
 * can change which commits carry one side's flag alone. `need` is the set
 * of flags a queued commit must carry for the walk to be over on that
 * account (F_P2 for unique: only commits of a alone matter; both for
 * ahead/behind); lone() says which commits are the answer. The walk also
 * goes on while the newest queued commit is as new as the oldest answer
 * commit seen, since an older commit cannot reach a newer one.
 */
static int lone(unsigned flags, unsigned need)
{
	unsigned f = flags & (F_P1 | F_P2);

	return need == F_P2 ? f == F_P1 : (f == F_P1 || f == F_P2);
}

static int sides(dag *g, uint32_t a, uint32_t b, unsigned need)
{
	size_t open = 0, i, k;
	tract_time oldest = INT64_MAX;
	int rc = 0;

#define OPEN(fl) (((fl) & need) != need)
	g->nodes[a].flags |= F_P1;
	if (b != NONE)
		g->nodes[b].flags |= F_P2;
	g->nodes[a].queued = 1;
	open += OPEN(g->nodes[a].flags);
	rc = heap_push(g, &g->q, a);
	if (rc == 0 && b != NONE && !g->nodes[b].queued) {
		g->nodes[b].queued = 1;
		open += OPEN(g->nodes[b].flags);
		rc = heap_push(g, &g->q, b);
	}
	while (rc == 0 && g->q.n) {
		uint32_t x;
		unsigned f;

		if (!open && g->nodes[g->q.v[0]].time < oldest)
			break;
		x = heap_pop(g, &g->q);
		g->nodes[x].queued = 0;
		f = g->nodes[x].flags & (F_P1 | F_P2);
		if (OPEN(f))
			open--;
		if (lone(f, need) && g->nodes[x].time < oldest)
			oldest = g->nodes[x].time;
		for (k = 0; rc == 0 && k < g->nodes[x].npar; k++) {
			uint32_t p = g->pars[g->nodes[x].par + k];
			dag_node *y;

			rc = load(g, p);
			if (rc < 0)
				break;
			y = &g->nodes[p];
			if (y->state != ST_LOADED || (y->flags & f) == f)
				continue;
			if (y->queued) {
				if (OPEN(y->flags) && !OPEN(y->flags | f))
					open--;
				y->flags |= (uint8_t)f;
				continue;
			}
			y->flags |= (uint8_t)f;
			y->queued = 1;
			open += OPEN(y->flags);
			rc = heap_push(g, &g->q, p);
		}
	}
#undef OPEN
	for (i = 0; i < g->q.n; i++)
		g->nodes[g->q.v[i]].queued = 0;
	g->q.n = 0;
	return rc;
}

int tract_dag_ahead_behind(size_t *ahead, size_t *behind, tract_store *s, const char *tract_id,
			   const char *a, const char *b)
{
	dag *g;
	uint32_t ia, ib;
	size_t i, na = 0, nb = 0;
	int rc;

	if (ahead)
		*ahead = 0;
	if (behind)
		*behind = 0;
	if (!ahead || !behind || !s)
		return tract_error_set(TRACT_EINVAL, "invalid argument");
	rc = dag_begin(&g, s, tract_id);
	if (rc < 0)
		return rc;
	rc = start(g, a, &ia);
	if (rc == 0)
		rc = start(g, b, &ib);
	if (rc == 0)
		rc = sides(g, ia, ib, F_P1 | F_P2);
	if (rc == 0)
		rc = check_cycles(g);
	if (rc == 0) {
		for (i = 0; i < g->ntouched; i++) {
			unsigned f = g->nodes[g->touched[i]].flags & (F_P1 | F_P2);

			na += f == F_P1;
			nb += f == F_P2;
		}
		*ahead = na;
		*behind = nb;
	}
	dag_end(g, rc);
	return rc;
}

/*
 * Ahead/behind of every tip against one base in one graph: the commits read
 * for one tip stay loaded for the next (each commit is read from the backend
 * at most once for the whole list), and only the paint is cleared between
 * tips. Same answers as tract_dag_ahead_behind() tip by tip.
 */
int tract_dag_ahead_behind_many(size_t *ahead, size_t *behind, tract_store *s,
				const char *tract_id, const char (*tips)[65], size_t n,
				const char *base)
{
	dag *g;
	uint32_t ib, it;
	size_t i, j;
	int rc;

	if (!ahead || !behind || !s || (n && !tips))
		return tract_error_set(TRACT_EINVAL, "invalid argument");
	for (j = 0; j < n; j++)
		ahead[j] = behind[j] = 0;
	rc = dag_begin(&g, s, tract_id);
	if (rc < 0)
		return rc;
	rc = start(g, base, &ib);
	for (j = 0; rc == 0 && j < n; j++) {
		size_t na = 0, nb = 0;

		rc = start(g, tips[j], &it);
		if (rc < 0)
			break;
		for (i = 0; i < g->ntouched; i++) {
			g->nodes[g->touched[i]].flags = 0;
			g->nodes[g->touched[i]].queued = 0;
		}
		rc = sides(g, it, ib, F_P1 | F_P2);
		if (rc < 0)
			break;
		for (i = 0; i < g->ntouched; i++) {
			unsigned f = g->nodes[g->touched[i]].flags & (F_P1 | F_P2);

			na += f == F_P1;
			nb += f == F_P2;
		}
		ahead[j] = na;
		behind[j] = nb;
	}
	if (rc == 0)
		rc = check_cycles(g);
	if (rc < 0)
		for (j = 0; j < n; j++)
			ahead[j] = behind[j] = 0;
	dag_end(g, rc);
	return rc;
}

/* Ready commits of the topological sort: the first-parent chain first,
 * then oldest, then least hash. */
static int ready_before(const dag *g, uint32_t a, uint32_t b)
{
	const dag_node *x = &g->nodes[a], *y = &g->nodes[b];
	int cx = !!(x->flags & F_CHAIN), cy = !!(y->flags & F_CHAIN);

	if (cx != cy)
		return cx;
	if (x->time != y->time)
		return x->time < y->time;
	return strcmp(x->hash, y->hash) < 0;
}

/* A binary heap on ready_before (the ready set of Kahn's algorithm). */
static void ready_push(const dag *g, uint32_t *v, size_t *n, uint32_t i)
{
	size_t k = (*n)++;

	while (k > 0) {
		size_t up = (k - 1) / 2;

		if (!ready_before(g, i, v[up]))
			break;
		v[k] = v[up];
		k = up;
	}
	v[k] = i;
}

static uint32_t ready_pop(const dag *g, uint32_t *v, size_t *n)
{
	uint32_t top = v[0], last = v[--(*n)];
	size_t k = 0;

	for (;;) {
		size_t c = 2 * k + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && ready_before(g, v[c + 1], v[c]))
			c++;
		if (!ready_before(g, v[c], last))
			break;
		v[k] = v[c];
		k = c;
	}
	if (*n)
		v[k] = last;
	return top;
}

/* The commits flagged F_P1 alone, parents before children (Kahn). */
static int topo_unique(tract_dag_list *out, dag *g, uint32_t tip)
{
	uint32_t *members = NULL, *indeg = NULL, *coff = NULL, *kids = NULL;
	uint32_t *ready = NULL, *order = NULL;
	size_t n = 0, i, k, nready = 0, nout = 0, nkids = 0;
	int rc = 0;

	/* A member's position is its aux; pos(i) is NONE for the others
	 * (every flagged node is touched, an untouched one has no flags). */
#define POS(i) ((g->nodes[i].flags & (F_P1 | F_P2)) == F_P1 ? g->nodes[i].aux : NONE)
	for (i = 0; i < g->ntouched; i++)
		n += (g->nodes[g->touched[i]].flags & (F_P1 | F_P2)) == F_P1;
	if (!n)
		return 0;
	members = malloc(n * sizeof(*members));
	indeg = calloc(n, sizeof(*indeg));
	coff = calloc(n + 1, sizeof(*coff));
	ready = malloc(n * sizeof(*ready));
	order = malloc(n * sizeof(*order));
	if (!members || !indeg || !coff || !ready || !order) {
		rc = tract_error_oom();
		goto done;
	}
	for (i = 0, k = 0; i < g->ntouched; i++) {
		uint32_t v = g->touched[i];

		if ((g->nodes[v].flags & (F_P1 | F_P2)) == F_P1) {
			g->nodes[v].aux = (uint32_t)k;
			members[k++] = v;
		}
	}
	/* The tip's first-parent chain inside the set (bounded: a cycle
	 * would loop, so stop at n steps; Kahn reports it). */
	for (i = tip, k = 0; i != NONE && POS(i) != NONE && k < n; k++) {
		g->nodes[i].flags |= F_CHAIN;
		i = g->nodes[i].npar ? g->pars[g->nodes[i].par] : NONE;
	}
	/* Edges parent -> child inside the set, children by parent (CSR). */
	for (k = 0; k < n; k++) {
		dag_node *x = &g->nodes[members[k]];
		uint32_t j;

		for (j = 0; j < x->npar; j++) {
			uint32_t p = POS(g->pars[x->par + j]);

			if (p != NONE) {
				indeg[k]++;
				coff[p + 1]++;
				nkids++;
			}
		}
	}
	for (k = 0; k < n; k++)
		coff[k + 1] += coff[k];
	kids = malloc((nkids ? nkids : 1) * sizeof(*kids));
	if (!kids) {
		rc = tract_error_oom();
		goto done;
	}
	{
		uint32_t *fill = ready; /* reuse as cursors before the sort */

		for (k = 0; k < n; k++)
			fill[k] = coff[k];
		for (k = 0; k < n; k++) {
			dag_node *x = &g->nodes[members[k]];
			uint32_t j;

			for (j = 0; j < x->npar; j++) {
				uint32_t p = POS(g->pars[x->par + j]);

				if (p != NONE)
					kids[fill[p]++] = (uint32_t)k;
			}
		}
	}
	for (k = 0; k < n; k++)
		if (!indeg[k])
			ready_push(g, ready, &nready, members[k]);
	while (nready) {
		uint32_t x = ready_pop(g, ready, &nready), p = POS(x), j;

		order[nout++] = x;
		for (j = coff[p]; j < coff[p + 1]; j++)
			if (--indeg[kids[j]] == 0)
				ready_push(g, ready, &nready, members[kids[j]]);
	}
	if (nout < n) {
		for (k = 0; k < n && !indeg[k]; k++)
			;
		rc = tract_error_set(TRACT_ECORRUPT, "parent cycle at %s",
				     g->nodes[members[k < n ? k : 0]].hash);
		goto done;
	}
	rc = list_from(out, g, order, nout);
done:
	free(members);
	free(indeg);
	free(coff);
	free(kids);
	free(ready);
	free(order);
	return rc;
#undef POS
}

int tract_dag_unique(tract_dag_list *out, tract_store *s, const char *tract_id, const char *tip,
		     const char *base)
{
	dag *g;
	uint32_t it, ib = NONE;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "invalid argument");
	out->items = NULL;
	out->count = 0;
	if (!s)
		return tract_error_set(TRACT_EINVAL, "invalid argument");
	rc = dag_begin(&g, s, tract_id);
	if (rc < 0)
		return rc;
	rc = start(g, tip, &it);
	if (rc == 0 && base && *base)
		rc = start(g, base, &ib);
	if (rc == 0)
		rc = sides(g, it, ib, F_P2);
	if (rc == 0)
		rc = check_cycles(g);
	if (rc == 0)
		rc = topo_unique(out, g, it);
	dag_end(g, rc);
	return rc;
}

/* ---- the public calls (tract/dag.h) ----------------------------------------------- */

/* Resolve a revision inside the caller's read transaction. */
static int resolve(char out[65], tract *t, const char *rev)
{
	if (!rev)
		return tract_error_set(TRACT_EINVAL, "no revision given");
	return tract_revision_resolve(out, t, rev);
}

int tract_merge_base(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *rev_a,
		     const char *rev_b)
{
	char a[65], b[65], base[65] = "";
	int rc;

	if (out)
		out[0] = '\0';
	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_merge_base: NULL argument");
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = resolve(a, t, rev_a);
	if (rc == 0)
		rc = resolve(b, t, rev_b);
	if (rc == 0)
		rc = tract_dag_merge_base(base, t->store, t->id, a, b);
	if (rc == 0 && !base[0])
		rc = tract_error_set(TRACT_ENOTFOUND, "no merge base: %s and %s share no history",
				     rev_a, rev_b);
	rc = tract_txn_end(t->store, rc);
	if (rc == 0)
		memcpy(out, base, sizeof(base));
	return rc;
}

int tract_is_ancestor(int *out, tract *t, const char *ancestor_rev, const char *descendant_rev)
{
	char a[65], d[65];
	int rc, yes = 0;

	if (out)
		*out = 0;
	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_is_ancestor: NULL argument");
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = resolve(a, t, ancestor_rev);
	if (rc == 0)
		rc = resolve(d, t, descendant_rev);
	if (rc == 0)
		rc = tract_dag_is_ancestor(&yes, t->store, t->id, a, d);
	rc = tract_txn_end(t->store, rc);
	if (rc == 0)
		*out = yes;
	return rc;
}

int tract_ahead_behind(size_t *ahead, size_t *behind, tract *t, const char *rev_a,
		       const char *rev_b)
{
	char a[65], b[65];
	size_t x = 0, y = 0;
	int rc;

	if (ahead)
		*ahead = 0;
	if (behind)
		*behind = 0;
	if (!ahead || !behind || !t)
		return tract_error_set(TRACT_EINVAL, "tract_ahead_behind: NULL argument");
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = resolve(a, t, rev_a);
	if (rc == 0)
		rc = resolve(b, t, rev_b);
	if (rc == 0)
		rc = tract_dag_ahead_behind(&x, &y, t->store, t->id, a, b);
	rc = tract_txn_end(t->store, rc);
	if (rc == 0) {
		*ahead = x;
		*behind = y;
	}
	return rc;
}

struct one_row {
	tract_row row;
	int found, rc;
};

static int one_row_cb(const tract_chain_row *row, void *payload)
{
	struct one_row *o = payload;

	o->rc = tract_row_copy_chain(&o->row, row);
	if (o->rc < 0)
		return o->rc;
	o->found = 1;
	return 1;
}

/* The commits of list as objects (content and merge parents), in order. */
static int commits_of(tract_commit_list *out, tract *t, const tract_dag_list *l)
{
	tract_store *s = t->store;
	size_t i, cap = 0;
	int rc = 0;

	for (i = 0; i < l->count && rc == 0; i++) {
		struct one_row o;

		memset(&o, 0, sizeof(o));
		rc = s->be->commit_chain(s->conn, t->id, l->items[i], 1,
					 TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS, INT64_MAX,
					 one_row_cb, &o);
		if (rc < 0) {
			if (o.found)
				tract_row_dispose(&o.row);
			return o.rc < 0 || rc == TRACT_ENOMEM
				       ? tract_error_oom()
				       : tract_backend_error(s, rc, "read commit");
		}
		if (!o.found)
			return tract_error_set(TRACT_ENOTFOUND, "commit %s not found",
					       l->items[i]);
		rc = tract_commit_list_push(out, &cap, &o.row);
		if (rc < 0)
			return tract_error_oom();
	}
	return rc;
}

int tract_commits_unique(tract_commit_list **out, tract *t, const char *tip_rev,
			 const char *base_rev)
{
	char tip[65], base[65] = "";
	tract_dag_list l = {NULL, 0};
	tract_commit_list *list;
	int rc;

	if (out)
		*out = NULL;
	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_commits_unique: NULL argument");
	list = calloc(1, sizeof(*list));
	if (!list)
		return tract_error_oom();
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0) {
		free(list);
		return rc;
	}
	rc = resolve(tip, t, tip_rev);
	if (rc == 0 && base_rev)
		rc = resolve(base, t, base_rev);
	if (rc == 0)
		rc = tract_dag_unique(&l, t->store, t->id, tip, base);
	if (rc == 0)
		rc = commits_of(list, t, &l);
	tract_dag_list_dispose(&l);
	rc = tract_txn_end(t->store, rc);
	if (rc < 0) {
		tract_commit_list_free(list);
		return rc;
	}
	*out = list;
	return 0;
}
