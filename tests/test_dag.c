/*
 * test_dag.c - commit-graph queries over all parents (core/dag.c): ancestry,
 * best common ancestors (criss-cross, bases reached through second
 * parents), commits unique to a branch and their order, ahead/behind,
 * unrelated histories, parent cycles, and random graphs checked against a
 * brute-force reference. Graphs are written row by row through the backend
 * (commit rows with chosen times, commit_parents rows for merges), each in
 * a tract of its own.
 */
#include "helpers.h"

#include <inttypes.h>
#include <sys/wait.h>

#include "dag.h"

#define MAXN 48

/* A graph under construction: node i is h[i], made at t[i]. */
typedef struct {
	fx *f;
	char tract[64];
	char blob[65];
	int n;
	char h[MAXN][65];
	tract_time t[MAXN];
	int par[MAXN][3];
	int npar[MAXN];
	uint64_t salt;
} G;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void g_init(G *g, fx *f, const char *tid, uint64_t salt)
{
	tract_store *s = f->store;
	tract_blob_row b = {0};
	const char *payload = "{\"content_type\": \"freeform\", \"payload\": {}}";

	memset(g, 0, sizeof(*g));
	g->f = f;
	g->salt = salt;
	snprintf(g->tract, sizeof(g->tract), "%s", tid);
	snprintf(g->blob, sizeof(g->blob), "%064d", 7);
	b.content_hash = g->blob;
	b.payload_json = payload;
	b.byte_size = (int64_t)strlen(payload);
	b.token_count = 3;
	b.created_at = 1;
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(s->be->blob_put(s->conn, &b, NULL), 0);
}

/* Node with parents p0, p1, p2 (-1: none) at time t; returns its index. */
static int g_node(G *g, tract_time t, int p0, int p1, int p2)
{
	tract_store *s = g->f->store;
	tract_commit_row r = {0};
	int i = g->n++, k, ps[3] = {p0, p1, p2};
	uint64_t x = mix(g->salt * 1000003u + (uint64_t)i);

	assert_true(i < MAXN);
	snprintf(g->h[i], 65, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, x,
		 mix(x), mix(x + 1), mix(x + 2));
	g->t[i] = t;
	for (k = 0; k < 3 && ps[k] >= 0; k++)
		g->par[i][g->npar[i]++] = ps[k];
	r.commit_hash = g->h[i];
	r.tract_id = g->tract;
	r.parent_hash = p0 >= 0 ? g->h[p0] : NULL;
	r.content_hash = g->blob;
	r.content_type = "freeform";
	r.operation = TRACT_OP_APPEND;
	r.token_count = 1;
	r.created_at = t;
	assert_int_equal(s->be->commit_put(s->conn, &r), 0);
	if (g->npar[i] > 1)
		for (k = 0; k < g->npar[i]; k++)
			assert_int_equal(s->be->parent_put(s->conn, g->h[i], g->h[g->par[i][k]], k), 0);
	return i;
}

static void g_done(G *g)
{
	tract_store *s = g->f->store;

	assert_int_equal(s->be->commit(s->conn), 0);
}

/* Set: every query starts without the graph the store keeps between
 * queries (cold: every commit read from the backend). */
static int cold_queries;

/* The dag functions run inside a read transaction. */
static void rd(fx *f)
{
	if (cold_queries)
		tract_dag_cache_drop(f->store);
	assert_int_equal(tract_txn_begin(f->store, TRACT_TXN_READ), 0);
}

static void rd_end(fx *f)
{
	assert_int_equal(tract_txn_end(f->store, 0), 0);
}

static int is_anc(G *g, int a, int d)
{
	int out = -1;

	rd(g->f);
	if (tract_dag_is_ancestor(&out, g->f->store, g->tract, g->h[a], g->h[d]) != 0)
		fail_msg("is_ancestor: %s", tract_error_last()->message);
	rd_end(g->f);
	return out;
}

static void base_is(G *g, int a, int b, int want)
{
	char out[65] = "x";

	rd(g->f);
	if (tract_dag_merge_base(out, g->f->store, g->tract, g->h[a], g->h[b]) != 0)
		fail_msg("merge_base: %s", tract_error_last()->message);
	rd_end(g->f);
	assert_string_equal(out, want < 0 ? "" : g->h[want]);
}

/* want: indices, -1 terminated. */
static void list_is(G *g, const tract_dag_list *l, const int *want)
{
	size_t n = 0;

	while (want[n] >= 0)
		n++;
	if (l->count != n) {
		size_t i;

		for (i = 0; i < l->count; i++) {
			int k;

			for (k = 0; k < g->n && strcmp(g->h[k], l->items[i]) != 0; k++)
				;
			print_message("  got[%zu] = node %d\n", i, k);
		}
		fail_msg("list of %zu commits, wanted %zu", l->count, n);
	}
	for (n = 0; n < l->count; n++)
		if (strcmp(l->items[n], g->h[want[n]]) != 0)
			fail_msg("item %zu is not node %d", n, want[n]);
}

static void bases_are(G *g, int a, int b, const int *want)
{
	tract_dag_list l;

	rd(g->f);
	if (tract_dag_merge_bases(&l, g->f->store, g->tract, g->h[a], g->h[b]) != 0)
		fail_msg("merge_bases: %s", tract_error_last()->message);
	rd_end(g->f);
	list_is(g, &l, want);
	tract_dag_list_dispose(&l);
}

static void unique_is(G *g, int tip, int base, const int *want)
{
	tract_dag_list l;

	rd(g->f);
	if (tract_dag_unique(&l, g->f->store, g->tract, g->h[tip], base < 0 ? NULL : g->h[base]) !=
	    0)
		fail_msg("unique: %s", tract_error_last()->message);
	rd_end(g->f);
	list_is(g, &l, want);
	tract_dag_list_dispose(&l);
}

static void ab_is(G *g, int a, int b, size_t ahead, size_t behind)
{
	size_t x = 99, y = 99;

	rd(g->f);
	if (tract_dag_ahead_behind(&x, &y, g->f->store, g->tract, g->h[a], g->h[b]) != 0)
		fail_msg("ahead_behind: %s", tract_error_last()->message);
	rd_end(g->f);
	assert_int_equal(x, ahead);
	assert_int_equal(y, behind);
}

#define SEC INT64_C(1000000)
#define T(k) (INT64_C(1704164645000000) + (k) * SEC)
#define L(...) ((const int[]){__VA_ARGS__, -1})
#define EMPTY ((const int[]){-1})

/* ---- fixed shapes ------------------------------------------------------------ */

static void test_linear(void **state)
{
	fx *f = fx_new(NULL);
	G g;
	int a, b, c, d;

	(void)state;
	g_init(&g, f, "lin", 1);
	a = g_node(&g, T(0), -1, -1, -1);
	b = g_node(&g, T(1), a, -1, -1);
	c = g_node(&g, T(2), b, -1, -1);
	d = g_node(&g, T(3), c, -1, -1);
	g_done(&g);
	base_is(&g, b, d, b);
	base_is(&g, d, b, b);
	base_is(&g, a, d, a);
	assert_int_equal(is_anc(&g, b, d), 1);
	assert_int_equal(is_anc(&g, d, b), 0);
	assert_int_equal(is_anc(&g, a, d), 1);
	unique_is(&g, d, b, L(c, d));
	unique_is(&g, b, d, EMPTY);
	unique_is(&g, d, -1, L(a, b, c, d));
	ab_is(&g, d, b, 2, 0);
	ab_is(&g, b, d, 0, 2);
	fx_free(f);
}

static void test_self(void **state)
{
	fx *f = fx_new(NULL);
	G g;
	int a, b;

	(void)state;
	g_init(&g, f, "self", 2);
	a = g_node(&g, T(0), -1, -1, -1);
	b = g_node(&g, T(1), a, -1, -1);
	g_done(&g);
	base_is(&g, b, b, b);
	bases_are(&g, b, b, L(b));
	assert_int_equal(is_anc(&g, b, b), 1);
	assert_int_equal(is_anc(&g, a, a), 1);
	unique_is(&g, b, b, EMPTY);
	ab_is(&g, b, b, 0, 0);
	fx_free(f);
}

static void test_fork(void **state)
{
	fx *f = fx_new(NULL);
	G g;
	int r, a1, a2, b1, x;

	(void)state;
	g_init(&g, f, "fork", 3);
	x = g_node(&g, T(0), -1, -1, -1);
	r = g_node(&g, T(1), x, -1, -1);
	a1 = g_node(&g, T(2), r, -1, -1);
	b1 = g_node(&g, T(3), r, -1, -1);
	a2 = g_node(&g, T(4), a1, -1, -1);
	g_done(&g);
	base_is(&g, a2, b1, r);
	base_is(&g, b1, a2, r);
	assert_int_equal(is_anc(&g, a1, b1), 0);
	assert_int_equal(is_anc(&g, r, b1), 1);
	unique_is(&g, a2, b1, L(a1, a2));
	unique_is(&g, b1, a2, L(b1));
	ab_is(&g, a2, b1, 2, 1);
	ab_is(&g, b1, a2, 1, 2);
	fx_free(f);
}

static void test_criss_cross(void **state)
{
	fx *f = fx_new(NULL);
	G g;
	int r, a1, b1, a2, b2, a3, b3, first, second;

	(void)state;
	g_init(&g, f, "criss", 4);
	r = g_node(&g, T(0), -1, -1, -1);
	a1 = g_node(&g, T(1), r, -1, -1);
	b1 = g_node(&g, T(2), r, -1, -1);      /* newer than a1 */
	a2 = g_node(&g, T(3), a1, b1, -1);     /* merge b1 into a */
	b2 = g_node(&g, T(4), b1, a1, -1);     /* merge a1 into b */
	g_done(&g);
	/* Two best bases; the newest comes first. */
	bases_are(&g, a2, b2, L(b1, a1));
	bases_are(&g, b2, a2, L(b1, a1));
	base_is(&g, a2, b2, b1);
	base_is(&g, b2, a2, b1);
	ab_is(&g, a2, b2, 1, 1);
	unique_is(&g, b2, a2, L(b2));

	/* Equal times: ties by least hash. */
	g_init(&g, f, "criss2", 5);
	r = g_node(&g, T(0), -1, -1, -1);
	a1 = g_node(&g, T(1), r, -1, -1);
	b1 = g_node(&g, T(1), r, -1, -1);
	a3 = g_node(&g, T(2), a1, b1, -1);
	b3 = g_node(&g, T(2), b1, a1, -1);
	g_done(&g);
	first = strcmp(g.h[a1], g.h[b1]) < 0 ? a1 : b1;
	second = first == a1 ? b1 : a1;
	bases_are(&g, a3, b3, L(first, second));
	base_is(&g, a3, b3, first);
	fx_free(f);
}

/* history.md §6.2's NOTE: the base reached only through a second parent. */
static void test_second_parent_base(void **state)
{
	fx *f = fx_new(NULL);
	G g;
	int m0, m1, f1, m2, f2, f3;

	(void)state;
	g_init(&g, f, "second", 6);
	m0 = g_node(&g, T(0), -1, -1, -1);
	m1 = g_node(&g, T(1), m0, -1, -1);
	f1 = g_node(&g, T(2), m0, -1, -1);
	m2 = g_node(&g, T(3), m1, f1, -1); /* feature merged into main */
	f2 = g_node(&g, T(4), f1, -1, -1); /* feature goes on */
	g_done(&g);
	base_is(&g, f2, m2, f1);
	base_is(&g, m2, f2, f1);
	assert_int_equal(is_anc(&g, f1, m2), 1);
	/* main's own commits: m1 and the merge, not the shared root. */
	unique_is(&g, m2, f2, L(m1, m2));
	unique_is(&g, f2, m2, L(f2));
	ab_is(&g, m2, f2, 2, 1);
	/* main merged into feature: main is now behind by nothing. */
	g_init(&g, f, "second2", 16);
	m0 = g_node(&g, T(0), -1, -1, -1);
	m1 = g_node(&g, T(1), m0, -1, -1);
	f1 = g_node(&g, T(2), m0, -1, -1);
	m2 = g_node(&g, T(3), m1, f1, -1);
	f2 = g_node(&g, T(4), f1, -1, -1);
	f3 = g_node(&g, T(5), f2, m2, -1);
	g_done(&g);
	base_is(&g, f3, m2, m2);
	assert_int_equal(is_anc(&g, m2, f3), 1);
	assert_int_equal(is_anc(&g, m1, f3), 1);
	unique_is(&g, f3, m2, L(f2, f3));
	ab_is(&g, f3, m2, 2, 0);
	fx_free(f);
}

static void test_unique_order(void **state)
{
	fx *f = fx_new(NULL);
	G g;
	int r, a1, a2, a3, b1, b2, m, o;

	(void)state;
	g_init(&g, f, "order", 7);
	r = g_node(&g, T(0), -1, -1, -1);
	b1 = g_node(&g, T(1), r, -1, -1); /* the side branch is older */
	b2 = g_node(&g, T(2), b1, -1, -1);
	a1 = g_node(&g, T(3), r, -1, -1);
	a2 = g_node(&g, T(4), a1, -1, -1);
	a3 = g_node(&g, T(5), a2, -1, -1);
	m = g_node(&g, T(6), a3, b2, -1);
	o = g_node(&g, T(7), m, -1, -1);
	g_done(&g);
	/* First-parent chain first, then the merged side, then the merge. */
	unique_is(&g, o, r, L(a1, a2, a3, b1, b2, m, o));
	unique_is(&g, m, a2, L(a3, b1, b2, m));
	unique_is(&g, o, -1, L(r, a1, a2, a3, b1, b2, m, o));
	ab_is(&g, o, b2, 5, 0);
	fx_free(f);
}

static void test_three_parents(void **state)
{
	fx *f = fx_new(NULL);
	G g;
	int r, a, b, c, m;

	(void)state;
	g_init(&g, f, "octopus", 8);
	r = g_node(&g, T(0), -1, -1, -1);
	a = g_node(&g, T(1), r, -1, -1);
	b = g_node(&g, T(2), r, -1, -1);
	c = g_node(&g, T(3), r, -1, -1);
	m = g_node(&g, T(4), a, b, c);
	g_done(&g);
	assert_int_equal(is_anc(&g, c, m), 1);
	base_is(&g, m, c, c);
	unique_is(&g, m, b, L(a, c, m));
	fx_free(f);
}

static void test_unrelated(void **state)
{
	fx *f = fx_new(NULL);
	G g;
	int a0, a1, b0, b1, b2;

	(void)state;
	g_init(&g, f, "unrel", 9);
	a0 = g_node(&g, T(0), -1, -1, -1);
	b0 = g_node(&g, T(1), -1, -1, -1);
	a1 = g_node(&g, T(2), a0, -1, -1);
	b1 = g_node(&g, T(3), b0, -1, -1);
	b2 = g_node(&g, T(4), b1, -1, -1);
	g_done(&g);
	base_is(&g, a1, b2, -1);
	bases_are(&g, a1, b2, EMPTY);
	assert_int_equal(is_anc(&g, a0, b2), 0);
	assert_int_equal(is_anc(&g, b0, a1), 0);
	unique_is(&g, b2, a1, L(b0, b1, b2));
	ab_is(&g, a1, b2, 2, 3);
	fx_free(f);
}

/* Missing commits, and commits of another tract, are not found. */
static void test_not_found(void **state)
{
	fx *f = fx_new(NULL);
	G g, o;
	int a, b, x;
	char out[65], nope[65];
	tract_dag_list l;
	size_t n1, n2;
	int yes;

	(void)state;
	g_init(&o, f, "other", 10);
	x = g_node(&o, T(0), -1, -1, -1);
	g_done(&o);
	g_init(&g, f, "mine", 11);
	a = g_node(&g, T(1), -1, -1, -1);
	b = g_node(&g, T(2), a, -1, -1);
	g_done(&g);
	memset(nope, 'e', 64);
	nope[64] = '\0';
	rd(f);
	assert_int_equal(tract_dag_is_ancestor(&yes, f->store, g.tract, nope, g.h[b]),
			 TRACT_ENOTFOUND);
	assert_int_equal(tract_dag_is_ancestor(&yes, f->store, g.tract, o.h[x], g.h[b]),
			 TRACT_ENOTFOUND);
	assert_int_equal(tract_dag_merge_base(out, f->store, g.tract, g.h[a], nope),
			 TRACT_ENOTFOUND);
	assert_int_equal(tract_dag_merge_bases(&l, f->store, g.tract, nope, g.h[a]),
			 TRACT_ENOTFOUND);
	assert_null(l.items);
	assert_int_equal(tract_dag_unique(&l, f->store, g.tract, g.h[b], nope), TRACT_ENOTFOUND);
	assert_int_equal(tract_dag_unique(&l, f->store, o.tract, g.h[b], NULL), TRACT_ENOTFOUND);
	assert_int_equal(tract_dag_ahead_behind(&n1, &n2, f->store, g.tract, nope, g.h[b]),
			 TRACT_ENOTFOUND);
	assert_non_null(strstr(tract_error_last()->message, "not found"));
	{
		/* One missing tip among good ones fails the whole list, and
		 * leaves every count 0. */
		char tips[3][65];
		size_t ah[3] = {9, 9, 9}, be[3] = {9, 9, 9};

		memcpy(tips[0], g.h[a], 65);
		memcpy(tips[1], o.h[x], 65);
		memcpy(tips[2], g.h[b], 65);
		assert_int_equal(tract_dag_ahead_behind_many(ah, be, f->store, g.tract,
							     (const char(*)[65])tips, 3, g.h[b]),
				 TRACT_ENOTFOUND);
		assert_true(ah[0] == 0 && be[0] == 0 && ah[2] == 0 && be[2] == 0);
		assert_int_equal(tract_dag_ahead_behind_many(ah, be, f->store, g.tract,
							     (const char(*)[65])tips, 1, nope),
				 TRACT_ENOTFOUND);
		assert_int_equal(tract_dag_ahead_behind_many(ah, be, f->store, g.tract,
							     (const char(*)[65])tips, 1, g.h[b]),
				 0);
		assert_true(ah[0] == 0 && be[0] == 1);
	}
	rd_end(f);
	fx_free(f);
}

/* A parent cycle written through commit_parents: TRACT_ECORRUPT. */
static void test_cycle(void **state)
{
	fx *f = fx_new(NULL);
	G g;
	tract_store *s = f->store;
	int r, a, b, c, yes;
	char out[65];
	tract_dag_list l;
	size_t n1, n2;

	(void)state;
	g_init(&g, f, "cycle", 12);
	r = g_node(&g, T(0), -1, -1, -1);
	a = g_node(&g, T(1), r, -1, -1);
	b = g_node(&g, T(2), a, -1, -1);
	c = g_node(&g, T(3), b, -1, -1);
	/* a's merge parents: r, then b (a descendant of a). */
	assert_int_equal(s->be->parent_put(s->conn, g.h[a], g.h[r], 0), 0);
	assert_int_equal(s->be->parent_put(s->conn, g.h[a], g.h[b], 1), 0);
	g_done(&g);
	rd(f);
	assert_int_equal(tract_dag_is_ancestor(&yes, s, g.tract, g.h[r], g.h[c]), TRACT_ECORRUPT);
	assert_non_null(strstr(tract_error_last()->message, "parent cycle"));
	assert_int_equal(tract_dag_merge_base(out, s, g.tract, g.h[c], g.h[r]), TRACT_ECORRUPT);
	assert_int_equal(tract_dag_unique(&l, s, g.tract, g.h[c], NULL), TRACT_ECORRUPT);
	assert_null(l.items);
	assert_int_equal(tract_dag_ahead_behind(&n1, &n2, s, g.tract, g.h[c], g.h[r]),
			 TRACT_ECORRUPT);
	rd_end(f);
	fx_free(f);
}

/* ---- random graphs against a brute-force reference --------------------------------- */

typedef uint64_t set;

static uint64_t rng_next(uint64_t *st)
{
	*st = *st * 6364136223846793005ull + 1442695040888963407ull;
	return mix(*st);
}

/* Reference order of unique(tip, base): Kahn, one ready commit at a time,
 * picked by (first-parent chain of tip, oldest, least hash). */
static int ref_unique(const G *g, set u, int tip, int *order)
{
	set chain = 0, done = 0;
	int n = 0, i = tip, k;

	while (i >= 0 && (u >> i & 1)) {
		chain |= (set)1 << i;
		i = g->npar[i] ? g->par[i][0] : -1;
	}
	for (;;) {
		int best = -1;

		for (i = 0; i < g->n; i++) {
			int ready = (u >> i & 1) && !(done >> i & 1);

			for (k = 0; ready && k < g->npar[i]; k++)
				if ((u >> g->par[i][k] & 1) && !(done >> g->par[i][k] & 1))
					ready = 0;
			if (!ready)
				continue;
			if (best < 0) {
				best = i;
				continue;
			}
			{
				int ci = (int)(chain >> i & 1), cb = (int)(chain >> best & 1);

				if (ci != cb ? ci > cb
					     : g->t[i] != g->t[best] ? g->t[i] < g->t[best]
								     : strcmp(g->h[i], g->h[best]) < 0)
					best = i;
			}
		}
		if (best < 0)
			break;
		done |= (set)1 << best;
		order[n++] = best;
	}
	order[n] = -1;
	return n;
}

/* Random graphs, each in a tract of its own, against the brute-force
 * reference; the queries of a graph share the graph the store keeps
 * between queries (warm) unless cold_queries is set. */
static void random_graphs(int graphs, uint64_t st)
{
	fx *f = fx_new(NULL);
	int gi;
	const tract_backend *orig = f->store->be;
	tract_backend nowalk;

	assert_non_null(orig->commit_ancestry); /* all three backends have it */
	for (gi = 0; gi < graphs; gi++) {
		G g;
		set anc[MAXN];
		char tid[32];
		int n = 1 + (int)(rng_next(&st) % 24), i, q;
		int ties = (int)(rng_next(&st) % 3) == 0;

		snprintf(tid, sizeof(tid), "r%d", gi);
		g_init(&g, f, tid, 100 + (uint64_t)gi);
		for (i = 0; i < n; i++) {
			int np = 0, ps[3] = {-1, -1, -1}, k;
			tract_time t = T(0);
			uint64_t r = rng_next(&st) % 10;

			if (i > 0 && r >= 1)
				np = r < 6 ? 1 : r < 9 ? 2 : 3;
			if (np > i)
				np = i;
			for (k = 0; k < np; k++) {
				int p, dup, j;

				do {
					/* mostly recent commits */
					int span = i < 6 ? i : 6;

					p = rng_next(&st) % 3 ? i - 1 - (int)(rng_next(&st) % span)
							     : (int)(rng_next(&st) % i);
					for (dup = 0, j = 0; j < k; j++)
						dup |= ps[j] == p;
				} while (dup);
				ps[k] = p;
			}
			for (k = 0; k < np; k++)
				if (g.t[ps[k]] > t)
					t = g.t[ps[k]];
			t += ties ? (tract_time)(rng_next(&st) % 2) * SEC
				  : (tract_time)(1 + rng_next(&st) % 3) * SEC;
			g_node(&g, t, ps[0], ps[1], ps[2]);
			anc[i] = (set)1 << i;
			for (k = 0; k < np; k++)
				anc[i] |= anc[ps[k]];
		}
		g_done(&g);
		/* Every other graph through the core's fallback: commit_get and
		 * parent_list, as for a backend without commit_ancestry. */
		nowalk = *orig;
		nowalk.commit_ancestry = NULL;
		f->store->be = gi % 2 ? &nowalk : orig;
		for (q = 0; q < 6; q++) {
			int a = (int)(rng_next(&st) % (uint64_t)n), b = (int)(rng_next(&st) % (uint64_t)n);
			set common = anc[a] & anc[b], best = 0;
			int want[MAXN + 1], nw = 0, j, k;

			/* is_ancestor both ways */
			assert_int_equal(is_anc(&g, a, b), (int)(anc[b] >> a & 1));
			assert_int_equal(is_anc(&g, b, a), (int)(anc[a] >> b & 1));
			/* best common ancestors, newest first, ties by least hash */
			for (i = 0; i < n; i++) {
				int ok = (int)(common >> i & 1);

				for (j = 0; ok && j < n; j++)
					if (j != i && (common >> j & 1) && (anc[j] >> i & 1))
						ok = 0;
				if (ok)
					best |= (set)1 << i;
			}
			for (i = 0; i < n; i++)
				if (best >> i & 1)
					want[nw++] = i;
			for (j = 1; j < nw; j++)
				for (k = j; k > 0; k--) {
					int x = want[k], y = want[k - 1];

					if (g.t[x] > g.t[y] || (g.t[x] == g.t[y] && strcmp(g.h[x], g.h[y]) < 0)) {
						want[k] = y;
						want[k - 1] = x;
					}
				}
			want[nw] = -1;
			bases_are(&g, a, b, want);
			base_is(&g, a, b, nw ? want[0] : -1);
			/* unique both ways and from the root */
			ref_unique(&g, anc[a] & ~anc[b], a, want);
			unique_is(&g, a, b, want);
			ref_unique(&g, anc[b] & ~anc[a], b, want);
			unique_is(&g, b, a, want);
			if (q == 0) {
				ref_unique(&g, anc[a], a, want);
				unique_is(&g, a, -1, want);
			}
			ab_is(&g, a, b, (size_t)__builtin_popcountll(anc[a] & ~anc[b]),
			      (size_t)__builtin_popcountll(anc[b] & ~anc[a]));
		}
		/* Every commit (in a shuffled order, some twice) against one base in
		 * one shared graph, as the branch list asks. */
		{
			char tips[2 * MAXN][65];
			size_t ah[2 * MAXN], be[2 * MAXN];
			int who[2 * MAXN], nt = 0, b = (int)(rng_next(&st) % (uint64_t)n);

			for (i = 0; i < n; i++)
				who[nt++] = i;
			for (i = 0; i < n / 2; i++)
				who[nt++] = (int)(rng_next(&st) % (uint64_t)n);
			for (i = nt - 1; i > 0; i--) {
				int j = (int)(rng_next(&st) % (uint64_t)(i + 1)), x = who[i];

				who[i] = who[j];
				who[j] = x;
			}
			for (i = 0; i < nt; i++)
				memcpy(tips[i], g.h[who[i]], 65);
			rd(f);
			if (tract_dag_ahead_behind_many(ah, be, f->store, g.tract,
							(const char(*)[65])tips, (size_t)nt,
							g.h[b]) != 0)
				fail_msg("ahead_behind_many: %s", tract_error_last()->message);
			rd_end(f);
			for (i = 0; i < nt; i++) {
				assert_int_equal(ah[i], (size_t)__builtin_popcountll(anc[who[i]] &
										   ~anc[b]));
				assert_int_equal(be[i], (size_t)__builtin_popcountll(anc[b] &
										   ~anc[who[i]]));
			}
		}
		f->store->be = orig;
	}
	fx_free(f);
}

static void test_random(void **state)
{
	int graphs = 200;
	const char *env = getenv("TRACT_DAG_GRAPHS");

	(void)state;
	if (env && atoi(env) > 0)
		graphs = atoi(env);
	random_graphs(graphs, 12345);
}

/* The same queries with the graph dropped before each: the answers read
 * straight from the backend agree with the reference too. */
static void test_random_cold(void **state)
{
	int graphs = 100;
	const char *env = getenv("TRACT_DAG_GRAPHS");

	(void)state;
	if (env && atoi(env) > 0)
		graphs = atoi(env);
	cold_queries = 1;
	random_graphs(graphs, 54321);
	cold_queries = 0;
}

/* ---- the public calls (tract/dag.h), on commits made through the API ----------------- */

/* Point a ref of the tract straight through the backend. */
static void set_ref(fx *f, const char *name, const char *commit, const char *sym)
{
	tract_ref_value cur;
	tract_ref_row exp = {0};
	tract_store *s = f->store;

	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(tract_ref_read(&cur, s, f->t->id, name), 0);
	exp.commit_hash = cur.commit[0] ? cur.commit : NULL;
	exp.symbolic_target = cur.symbolic[0] ? cur.symbolic : NULL;
	assert_int_equal(s->be->ref_cas(s->conn, f->t->id, name, commit, sym,
					cur.exists ? &exp : NULL),
			 0);
	assert_int_equal(s->be->commit(s->conn), 0);
}

static void test_public_api(void **state)
{
	fx *f = fx_new(NULL);
	G g;
	char a[65], b[65], f1[65], f2[65], m1[65], m[65], out[65], pre[9];
	size_t ahead = 9, behind = 9;
	tract_commit_list *l = NULL;
	tract_store *s = f->store;
	int yes = -1;
	fx_counts before;

	(void)state;
	fx_say(f, a, "user", "A");
	fx_say(f, b, "user", "B");
	set_ref(f, "refs/heads/feature", b, NULL);
	set_ref(f, "HEAD", NULL, "refs/heads/feature");
	fx_say(f, f1, "user", "F1");
	fx_say(f, f2, "user", "F2");
	set_ref(f, "HEAD", NULL, "refs/heads/main");
	fx_say(f, m1, "user", "M1");
	before = fx_count(f);

	assert_int_equal(tract_merge_base(out, f->t, "main", "feature"), 0);
	assert_string_equal(out, b);
	memcpy(pre, f2, 8);
	pre[8] = '\0';
	assert_int_equal(tract_merge_base(out, f->t, pre, "HEAD"), 0);
	assert_string_equal(out, b);
	assert_int_equal(tract_is_ancestor(&yes, f->t, a, "feature"), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(tract_is_ancestor(&yes, f->t, "feature", "main"), 0);
	assert_int_equal(yes, 0);
	assert_int_equal(tract_ahead_behind(&ahead, &behind, f->t, "feature", "main"), 0);
	assert_int_equal(ahead, 2);
	assert_int_equal(behind, 1);
	assert_int_equal(tract_commits_unique(&l, f->t, "feature", "main"), 0);
	assert_int_equal(l->count, 2);
	assert_string_equal(tract_commit_hash(l->items[0]), f1);
	assert_string_equal(tract_commit_hash(l->items[1]), f2);
	tract_commit_list_free(l);
	assert_int_equal(tract_commits_unique(&l, f->t, "feature", NULL), 0);
	assert_int_equal(l->count, 4);
	assert_string_equal(tract_commit_hash(l->items[0]), a);
	assert_string_equal(tract_commit_hash(l->items[3]), f2);
	tract_commit_list_free(l);
	assert_int_equal(tract_commits_unique(&l, f->t, "main", "main"), 0);
	assert_int_equal(l->count, 0);
	tract_commit_list_free(l);

	/* feature merged into main (a merge commit with its commit_parents rows) */
	fx_commit(f, m, "{\"content_type\":\"freeform\",\"payload\":{\"message\":\"Merge\"}}", NULL);
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(s->be->parent_put(s->conn, m, m1, 0), 0);
	assert_int_equal(s->be->parent_put(s->conn, m, f2, 1), 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	assert_int_equal(tract_merge_base(out, f->t, "main", "feature"), 0);
	assert_string_equal(out, f2);
	assert_int_equal(tract_is_ancestor(&yes, f->t, f1, "main"), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(tract_ahead_behind(&ahead, &behind, f->t, "main", "feature"), 0);
	assert_int_equal(ahead, 2);
	assert_int_equal(behind, 0);
	assert_int_equal(tract_commits_unique(&l, f->t, "main", "feature"), 0);
	assert_int_equal(l->count, 2);
	assert_string_equal(tract_commit_hash(l->items[0]), m1);
	assert_string_equal(tract_commit_hash(l->items[1]), m);
	assert_int_equal(tract_commit_extra_parent_count(l->items[1]), 1);
	assert_string_equal(tract_commit_extra_parent(l->items[1], 0), f2);
	tract_commit_list_free(l);

	/* an unrelated root on a branch of its own: no merge base */
	g_init(&g, f, f->t->id, 77);
	g_node(&g, T(0), -1, -1, -1);
	g_done(&g);
	set_ref(f, "refs/heads/orphan", g.h[0], NULL);
	assert_int_equal(tract_merge_base(out, f->t, "main", "orphan"), TRACT_ENOTFOUND);
	assert_string_equal(out, "");
	assert_non_null(strstr(tract_error_last()->message, "no merge base"));
	assert_int_equal(tract_ahead_behind(&ahead, &behind, f->t, "orphan", "main"), 0);
	assert_int_equal(ahead, 1);
	assert_int_equal(behind, 6);

	/* unknown revisions and NULL arguments fail cleanly, reading only */
	before = fx_count(f);
	assert_int_equal(tract_merge_base(out, f->t, "main", "nope"), TRACT_ENOTFOUND);
	assert_int_equal(tract_is_ancestor(&yes, f->t, "nope", "main"), TRACT_ENOTFOUND);
	assert_int_equal(yes, 0);
	assert_int_equal(tract_ahead_behind(&ahead, &behind, f->t, "main", "nope"),
			 TRACT_ENOTFOUND);
	assert_int_equal(tract_commits_unique(&l, f->t, "nope", NULL), TRACT_ENOTFOUND);
	assert_null(l);
	assert_int_equal(tract_commits_unique(&l, f->t, "main", "nope"), TRACT_ENOTFOUND);
	assert_int_equal(tract_merge_base(NULL, f->t, "main", "main"), TRACT_EINVAL);
	assert_int_equal(tract_merge_base(out, f->t, NULL, "main"), TRACT_EINVAL);
	assert_int_equal(tract_is_ancestor(NULL, f->t, "main", "main"), TRACT_EINVAL);
	assert_int_equal(tract_ahead_behind(&ahead, NULL, f->t, "main", "main"), TRACT_EINVAL);
	assert_int_equal(tract_commits_unique(NULL, f->t, "main", NULL), TRACT_EINVAL);
	assert_int_equal(tract_commits_unique(&l, NULL, "main", NULL), TRACT_EINVAL);
	fx_assert_same_counts(before, fx_count(f));
	assert_int_equal(f->store->txn_depth, 0);
	fx_free(f);
}

/* ---- the graph the store handle keeps between queries --------------------------------- */

/* A second handle on the same store (its own connection, its own graph):
 * what "another process" does, in this one. */
static void other_handle(fx *f, tract_store **s, tract **t)
{
	assert_int_equal(tract_store_open(s, f->uri, 0), 0);
	assert_int_equal(tract_open(t, *s, f->t->id, NULL), 0);
}

static void say_on(tract *t, char out[65], const char *text)
{
	tract_commit *c = NULL;

	if (tract_commit_create_dialogue(&c, t, "user", text, NULL, NULL) != 0)
		fail_msg("dialogue: %s", tract_error_last()->message);
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

/* Commits and a merge written through another handle after this one's
 * graph holds the history: the answers take them in. */
static void test_graph_other_handle(void **state)
{
	fx *f = fx_new(NULL);
	tract_store *s2 = NULL;
	tract *t2 = NULL;
	tract_merge_result *mr = NULL;
	char b[65], m1[65], s1[65], s3[65], out[65];
	size_t ahead = 9, behind = 9;
	int yes = -1;

	(void)state;
	fx_say(f, NULL, "user", "A");
	fx_say(f, b, "user", "B");
	assert_int_equal(tract_branch_create(NULL, f->t, "side", "main", 0), 0);
	fx_say(f, m1, "user", "M1");
	/* this handle's graph now holds A, B, M1 */
	assert_int_equal(tract_merge_base(out, f->t, "main", "side"), 0);
	assert_string_equal(out, b);
	assert_int_equal(tract_ahead_behind(&ahead, &behind, f->t, "main", "side"), 0);
	assert_int_equal(ahead, 1);
	assert_int_equal(behind, 0);
	assert_non_null(f->store->dag);

	other_handle(f, &s2, &t2);
	assert_int_equal(tract_switch(NULL, t2, "side", NULL), 0);
	say_on(t2, s1, "S1");
	say_on(t2, NULL, "S2");
	say_on(t2, s3, "S3");
	/* main merged into side: a merge commit with main's tip as a parent */
	assert_int_equal(tract_merge(&mr, t2, "main", NULL), 0);
	assert_int_equal(tract_merge_result_type(mr), TRACT_MERGE_CLEAN);
	assert_true(tract_merge_result_committed(mr));
	tract_merge_result_free(mr);

	/* this handle, its graph kept: side now contains main */
	assert_non_null(f->store->dag);
	assert_int_equal(tract_merge_base(out, f->t, "main", "side"), 0);
	assert_string_equal(out, m1);
	assert_int_equal(tract_is_ancestor(&yes, f->t, "main", "side"), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(tract_is_ancestor(&yes, f->t, s1, "main"), 0);
	assert_int_equal(yes, 0);
	assert_int_equal(tract_ahead_behind(&ahead, &behind, f->t, "main", "side"), 0);
	assert_int_equal(ahead, 0);
	assert_int_equal(behind, 4); /* S1, S2, S3 and the merge */
	assert_int_equal(tract_merge_base(out, f->t, s3, "main"), 0);
	assert_string_equal(out, b);
	/* and main moves on through the other handle too */
	assert_int_equal(tract_switch(NULL, t2, "main", NULL), 0);
	say_on(t2, NULL, "M2");
	assert_int_equal(tract_ahead_behind(&ahead, &behind, f->t, "main", "side"), 0);
	assert_int_equal(ahead, 1);
	assert_int_equal(behind, 4);
	assert_int_equal(tract_merge_base(out, f->t, "main", "side"), 0);
	assert_string_equal(out, m1);
	tract_free(t2);
	tract_store_free(s2);
	fx_free(f);
}

/* gc through another handle removes commits this handle's graph holds:
 * a removed commit is not found (not answered from memory), the rest is
 * answered as before. */
static void test_graph_after_gc(void **state)
{
	fx *f = fx_new(NULL);
	tract_store *s2 = NULL;
	tract *t2 = NULL;
	tract_gc_options go = TRACT_GC_OPTIONS_INIT;
	tract_gc_result *gr = NULL;
	char a[65], b[65], d1[65], d2[65], out[65];
	size_t ahead = 9, behind = 9;
	int yes = -1;

	(void)state;
	fx_say(f, a, "user", "A");
	fx_say(f, b, "user", "B");
	assert_int_equal(tract_branch_create(NULL, f->t, "doomed", "main",
					     TRACT_BRANCH_CREATE_SWITCH),
			 0);
	fx_say(f, d1, "user", "D1");
	fx_say(f, d2, "user", "D2");
	assert_int_equal(tract_switch(NULL, f->t, "main", NULL), 0);
	fx_say(f, NULL, "user", "C");
	assert_int_equal(tract_is_ancestor(&yes, f->t, b, d2), 0);
	assert_int_equal(yes, 1);
	assert_int_equal(tract_ahead_behind(&ahead, &behind, f->t, d2, "main"), 0);
	assert_int_equal(ahead, 2);
	assert_int_equal(behind, 1);
	assert_non_null(f->store->dag);

	other_handle(f, &s2, &t2);
	assert_int_equal(tract_branch_delete(NULL, t2, "doomed", 1), 0);
	go.orphan_retention_days = 0;
	assert_int_equal(tract_gc(&gr, t2, &go), 0);
	assert_int_equal(gr->commits_removed, 2);
	tract_gc_result_free(gr);
	tract_free(t2);
	tract_store_free(s2);

	assert_non_null(f->store->dag); /* still this handle's graph */
	assert_int_equal(tract_is_ancestor(&yes, f->t, b, d2), TRACT_ENOTFOUND);
	assert_int_equal(yes, 0);
	assert_int_equal(tract_ahead_behind(&ahead, &behind, f->t, d1, "main"), TRACT_ENOTFOUND);
	rd(f);
	assert_int_equal(tract_dag_merge_base(out, f->store, f->t->id, d2, a), TRACT_ENOTFOUND);
	rd_end(f);
	assert_int_equal(tract_merge_base(out, f->t, "main", a), 0);
	assert_string_equal(out, a);
	assert_int_equal(tract_is_ancestor(&yes, f->t, b, "main"), 0);
	assert_int_equal(yes, 1);
	fx_free(f);
}

/* A clone of the store answers as its source (which kept a graph). */
static void test_graph_after_clone(void **state)
{
	fx *f = fx_new(NULL);
	ts_store loc;
	tract_store *s2 = NULL;
	tract *t2 = NULL;
	tract_merge_result *mr = NULL;
	char b[65], f2[65], out[65];
	size_t ahead = 9, behind = 9;

	(void)state;
	fx_say(f, NULL, "user", "A");
	fx_say(f, b, "user", "B");
	assert_int_equal(tract_branch_create(NULL, f->t, "feature", "main",
					     TRACT_BRANCH_CREATE_SWITCH),
			 0);
	fx_say(f, NULL, "user", "F1");
	fx_say(f, f2, "user", "F2");
	assert_int_equal(tract_switch(NULL, f->t, "main", NULL), 0);
	fx_say(f, NULL, "user", "M1");
	assert_int_equal(tract_merge_base(out, f->t, "main", "feature"), 0);
	assert_string_equal(out, b);
	assert_int_equal(tract_merge(&mr, f->t, "feature", NULL), 0);
	tract_merge_result_free(mr);
	fx_say(f, NULL, "user", "M2");
	assert_int_equal(tract_merge_base(out, f->t, "main", "feature"), 0);
	assert_string_equal(out, f2);

	if (ts_fresh(&loc, "clone") != 0)
		fail_msg("no fresh %s store", ts_backend());
	assert_int_equal(tract_store_clone(NULL, f->uri, loc.uri, NULL), 0);
	assert_int_equal(tract_store_open(&s2, loc.uri, 0), 0);
	assert_int_equal(tract_open(&t2, s2, f->t->id, NULL), 0);
	assert_int_equal(tract_merge_base(out, t2, "main", "feature"), 0);
	assert_string_equal(out, f2);
	assert_int_equal(tract_ahead_behind(&ahead, &behind, t2, "main", "feature"), 0);
	assert_int_equal(ahead, 3); /* M1, the merge, M2 */
	assert_int_equal(behind, 0);
	/* the clone moves on alone: its own graph, not the source's */
	assert_int_equal(tract_switch(NULL, t2, "feature", NULL), 0);
	say_on(t2, NULL, "F3");
	assert_int_equal(tract_ahead_behind(&ahead, &behind, t2, "main", "feature"), 0);
	assert_int_equal(ahead, 3);
	assert_int_equal(behind, 1);
	assert_int_equal(tract_ahead_behind(&ahead, &behind, f->t, "main", "feature"), 0);
	assert_int_equal(ahead, 3);
	assert_int_equal(behind, 0);
	tract_free(t2);
	tract_store_free(s2);
	ts_destroy(&loc);
	fx_free(f);
}

/* The graph is one tract's: queries on two tracts of a store in turn
 * answer each from its own commits. */
static void test_graph_two_tracts(void **state)
{
	fx *f = fx_new(NULL);
	G g1, g2;
	int x0, x1, x2, y0, y1, y2;

	(void)state;
	g_init(&g1, f, "one", 301);
	x0 = g_node(&g1, T(0), -1, -1, -1);
	x1 = g_node(&g1, T(1), x0, -1, -1);
	x2 = g_node(&g1, T(2), x0, -1, -1);
	g_done(&g1);
	g_init(&g2, f, "two", 302);
	y0 = g_node(&g2, T(0), -1, -1, -1);
	y1 = g_node(&g2, T(1), y0, -1, -1);
	y2 = g_node(&g2, T(2), y1, -1, -1);
	g_done(&g2);
	base_is(&g1, x1, x2, x0);
	base_is(&g2, y1, y2, y1);
	ab_is(&g1, x1, x2, 1, 1);
	ab_is(&g2, y2, y0, 2, 0);
	/* a commit of the other tract is not found from this one */
	rd(f);
	{
		char out[65];

		assert_int_equal(tract_dag_merge_base(out, f->store, g1.tract, g1.h[x1], g2.h[y1]),
				 TRACT_ENOTFOUND);
	}
	rd_end(f);
	base_is(&g2, y2, y0, y0);
	base_is(&g1, x2, x1, x0);
	fx_free(f);
}

/* A write transaction rolled back drops the graph: it may hold commits
 * that were never written (the walk read them inside the transaction). */
static void test_graph_after_rollback(void **state)
{
	fx *f = fx_new(NULL);
	tract_store *s = f->store;
	tract_dag_list l;
	G g;
	int r, p, x, yes = -1;

	(void)state;
	g_init(&g, f, "rolled", 401);
	r = g_node(&g, T(0), -1, -1, -1);
	g_done(&g);
	base_is(&g, r, r, r);
	assert_non_null(s->dag);

	assert_int_equal(tract_txn_begin(s, TRACT_TXN_WRITE), 0);
	p = g_node(&g, T(1), r, -1, -1);
	x = g_node(&g, T(2), p, -1, -1);
	assert_int_equal(tract_dag_unique(&l, s, g.tract, g.h[x], g.h[r]), 0);
	list_is(&g, &l, L(p, x));
	tract_dag_list_dispose(&l);
	assert_non_null(s->dag);
	assert_int_equal(tract_txn_end(s, TRACT_ERROR), TRACT_ERROR); /* rolled back */
	assert_null(s->dag);

	rd(f);
	assert_int_equal(tract_dag_is_ancestor(&yes, s, g.tract, g.h[r], g.h[x]), TRACT_ENOTFOUND);
	assert_int_equal(tract_dag_unique(&l, s, g.tract, g.h[p], NULL), TRACT_ENOTFOUND);
	rd_end(f);
	base_is(&g, r, r, r);
	assert_non_null(s->dag); /* a query that succeeds keeps a graph again */
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear),
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_criss_cross),
		cmocka_unit_test(test_second_parent_base),
		cmocka_unit_test(test_unique_order),
		cmocka_unit_test(test_three_parents),
		cmocka_unit_test(test_unrelated),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_public_api),
		cmocka_unit_test(test_random_cold),
		cmocka_unit_test(test_graph_other_handle),
		cmocka_unit_test(test_graph_after_gc),
		cmocka_unit_test(test_graph_after_clone),
		cmocka_unit_test(test_graph_two_tracts),
		cmocka_unit_test(test_graph_after_rollback),
	};
	int rc = ts_init("dag");

	if (rc)
		return rc;
	return ts_run("dag", tests, TS_COUNT(tests), NULL, 0);
}
