/*
 * conformance_ancestry.c - conformance tests of commit_ancestry (ABI
 * version 3, OPTIONAL): the breadth-first walk over all parents, each
 * commit once with its time and parents in position order, the tract
 * restriction, missing starts, limits, stops, pruning and parent cycles.
 */
#include "conformance_int.h"

#define MAXA 64

/* What a walk handed over, copied. */
struct anc {
	int n;
	char *hash[MAXA];
	tract_time t[MAXA];
	char *parents[MAXA]; /* joined by ',' */
	const char *prune;   /* return TRACT_ANCESTRY_PRUNE for this commit */
	int stop_after;      /* > 0: stop after that many rows */
	int fail_with;       /* with stop_after: return it instead of 1 */
};

static int on_anc(const tract_ancestry_row *row, void *payload)
{
	struct anc *a = payload;
	char buf[1024] = "";
	size_t i;

	assert_true(a->n < MAXA);
	assert_non_null(row->commit_hash);
	for (i = 0; i < row->n_parents; i++) {
		assert_non_null(row->parents[i]);
		if (i)
			strcat(buf, ",");
		assert_true(strlen(buf) + strlen(row->parents[i]) < sizeof(buf) - 2);
		strcat(buf, row->parents[i]);
	}
	a->hash[a->n] = keep(row->commit_hash);
	a->t[a->n] = row->created_at;
	a->parents[a->n] = keep(buf);
	a->n++;
	if (a->stop_after && a->n >= a->stop_after)
		return a->fail_with ? a->fail_with : 1;
	if (a->prune && strcmp(row->commit_hash, a->prune) == 0)
		return TRACT_ANCESTRY_PRUNE;
	return 0;
}

static int find(const struct anc *a, const char *h)
{
	int i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->hash[i], h) == 0)
			return i;
	return -1;
}

/* Each commit once; each row a start or a parent of an earlier row. */
static void assert_walk_shape(const struct anc *a, const char *const *starts, size_t n_starts)
{
	int i, j;

	for (i = 0; i < a->n; i++) {
		int ok = 0;
		size_t k;

		for (j = 0; j < i; j++)
			assert_string_not_equal(a->hash[i], a->hash[j]);
		for (k = 0; k < n_starts && !ok; k++)
			ok = strcmp(starts[k], a->hash[i]) == 0;
		for (j = 0; j < i && !ok; j++)
			ok = strstr(a->parents[j], a->hash[i]) != NULL;
		if (!ok)
			fail_msg("row %d (%s) is neither a start nor a parent of an earlier row", i,
				 a->hash[i]);
	}
}

static int walk(struct conf *f, struct anc *a, const char *tract, const char *const *starts,
		size_t n, size_t limit)
{
	a->n = 0;
	return f->be->commit_ancestry(f->c, tract, starts, n, limit, on_anc, a);
}

/*
 * r <- a1 <- m <- c, r <- b1 <- m (m's second parent), a commit y of "t"
 * whose parent x is in tract "u".
 */
struct shape {
	const char *r, *a1, *b1, *m, *c, *x, *y;
};

static struct shape build(struct conf *f)
{
	struct shape s = {H("a0"), H("a1"), H("b1"), H("a2"), H("a3"), H("c0"), H("c1")};
	const char *blob;

	begin_write(f);
	blob = blob_default(f);
	put_commit(f, s.r, "t", NULL, blob, T0);
	put_commit(f, s.a1, "t", s.r, blob, T0 + SEC);
	put_commit(f, s.b1, "t", s.r, blob, T0 + 2 * SEC);
	put_commit(f, s.m, "t", s.a1, blob, T0 + 3 * SEC);
	assert_int_equal(f->be->parent_put(f->c, s.m, s.a1, 0), 0);
	assert_int_equal(f->be->parent_put(f->c, s.m, s.b1, 1), 0);
	put_commit(f, s.c, "t", s.m, blob, T0 + 4 * SEC);
	put_commit(f, s.x, "u", NULL, blob, T0 + 5 * SEC);
	put_commit(f, s.y, "t", s.x, blob, T0 + 6 * SEC);
	commit_txn(f);
	return s;
}

static void test_ancestry_walk(void **state)
{
	struct conf *f = STORE(*state);
	struct shape s = build(f);
	struct anc a = {0};
	const char *st[1] = {s.c};
	int i;

	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	assert_int_equal(walk(f, &a, "t", st, 1, 0), 0);
	assert_int_equal(a.n, 5);
	assert_walk_shape(&a, st, 1);
	/* breadth first: c, m, then a1 and b1, then r */
	assert_string_equal(a.hash[0], s.c);
	assert_string_equal(a.hash[1], s.m);
	assert_true(find(&a, s.a1) >= 2 && find(&a, s.a1) <= 3);
	assert_true(find(&a, s.b1) >= 2 && find(&a, s.b1) <= 3);
	assert_string_equal(a.hash[4], s.r);
	/* times and parents in position order, each once */
	i = find(&a, s.m);
	assert_int_equal(a.t[i], T0 + 3 * SEC);
	assert_string_equal(a.parents[i], keepf("%s,%s", s.a1, s.b1));
	i = find(&a, s.c);
	assert_int_equal(a.t[i], T0 + 4 * SEC);
	assert_string_equal(a.parents[i], s.m);
	i = find(&a, s.r);
	assert_int_equal(a.t[i], T0);
	assert_string_equal(a.parents[i], "");
	/* any tract: the same */
	assert_int_equal(walk(f, &a, NULL, st, 1, 0), 0);
	assert_int_equal(a.n, 5);
	assert_int_equal(f->be->commit(f->c), 0);
}

static void test_ancestry_tracts_and_missing(void **state)
{
	struct conf *f = STORE(*state);
	struct shape s = build(f);
	struct anc a = {0};
	const char *st[3] = {H("dead"), s.y, s.b1};

	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	/* y's parent x is of tract u: listed, not walked */
	assert_int_equal(walk(f, &a, "t", st + 1, 1, 0), 0);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.hash[0], s.y);
	assert_string_equal(a.parents[0], s.x);
	/* across tracts it is */
	assert_int_equal(walk(f, &a, NULL, st + 1, 1, 0), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.hash[1], s.x);
	/* a start of another tract, or missing, is skipped */
	assert_int_equal(walk(f, &a, "u", st + 1, 1, 0), 0);
	assert_int_equal(a.n, 0);
	assert_int_equal(walk(f, &a, "t", st, 3, 0), 0);
	assert_int_equal(a.n, 3);
	assert_walk_shape(&a, st, 3);
	assert_true(find(&a, s.y) >= 0 && find(&a, s.b1) >= 0 && find(&a, s.r) >= 0);
	assert_int_equal(walk(f, &a, "t", st, 0, 0), 0);
	assert_int_equal(a.n, 0);
	assert_int_equal(f->be->commit(f->c), 0);
}

static void test_ancestry_limit_stop_prune(void **state)
{
	struct conf *f = STORE(*state);
	struct shape s = build(f);
	struct anc a = {0};
	const char *st[2] = {s.c, s.r};
	const char *both[2] = {s.c, s.b1};

	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	assert_int_equal(walk(f, &a, "t", st, 1, 2), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.hash[0], s.c);
	assert_string_equal(a.hash[1], s.m);
	a.stop_after = 3;
	assert_int_equal(walk(f, &a, "t", st, 1, 0), 0);
	assert_int_equal(a.n, 3);
	a.fail_with = -1234;
	assert_int_equal(walk(f, &a, "t", st, 1, 0), -1234);
	assert_int_equal(a.n, 3);
	a.stop_after = 0;
	a.fail_with = 0;
	/* pruning goes on: the second start still comes */
	a.prune = s.c;
	assert_int_equal(walk(f, &a, "t", st, 2, 0), 0);
	assert_walk_shape(&a, st, 2);
	assert_true(find(&a, s.c) >= 0 && find(&a, s.r) >= 0);
	/* starts sharing history: each commit once */
	a.prune = NULL;
	assert_int_equal(walk(f, &a, "t", both, 2, 0), 0);
	assert_int_equal(a.n, 5);
	assert_walk_shape(&a, both, 2);
	assert_int_equal(f->be->commit(f->c), 0);
}

/* A parent cycle (a damaged store, through commit_parents) ends. */
static void test_ancestry_cycle(void **state)
{
	struct conf *f = STORE(*state);
	const char *h[4], *blob;
	struct anc a = {0};

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 4, blob, h);
	assert_int_equal(f->be->parent_put(f->c, h[1], h[0], 0), 0);
	assert_int_equal(f->be->parent_put(f->c, h[1], h[3], 1), 0);
	commit_txn(f);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	assert_int_equal(walk(f, &a, "t", &h[3], 1, 0), 0);
	assert_int_equal(a.n, 4);
	assert_walk_shape(&a, &h[3], 1);
	assert_string_equal(a.parents[find(&a, h[1])], keepf("%s,%s", h[0], h[3]));
	assert_int_equal(f->be->commit(f->c), 0);
}

const struct conf_test tract_conf_ancestry_tests[] = {
	CONF_TEST(test_ancestry_walk, CONF_NEEDS_ANCESTRY),
	CONF_TEST(test_ancestry_tracts_and_missing, CONF_NEEDS_ANCESTRY),
	CONF_TEST(test_ancestry_limit_stop_prune, CONF_NEEDS_ANCESTRY),
	CONF_TEST(test_ancestry_cycle, CONF_NEEDS_ANCESTRY),
	{NULL, NULL, 0},
};
