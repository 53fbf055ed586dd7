/*
 * conformance_chain.c - conformance tests of commit_chain, the walk from a
 * commit to the root: order, limits, stops, payloads, priorities, merge
 * parents, long chains and branches.
 */
#include "conformance_int.h"

/* ---- chain walk ----------------------------------------------------------- */

static void test_chain_order_limit_stop(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[5];
	struct chain c = {0};
	size_t i;

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 5, blob, h);
	commit_txn(f);

	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->commit_chain(f->c, "t", h[4], 0, 0, INT64_MAX, on_chain, &c), 0);
	assert_int_equal(c.n, 5);
	for (i = 0; i < 5; i++) {
		assert_string_equal(c.r[i].commit_hash, h[4 - i]);
		assert_null(c.payload[i]);
		assert_int_equal(c.prio[i], TRACT_PRIORITY_NONE);
		assert_int_equal(c.n_extra[i], 0);
	}
	assert_null(c.r[4].parent_hash);

	memset(&c, 0, sizeof(c));
	assert_int_equal(f->be->commit_chain(f->c, NULL, h[3], 2, 0, INT64_MAX, on_chain, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.r[0].commit_hash, h[3]);
	assert_string_equal(c.r[1].commit_hash, h[2]);

	memset(&c, 0, sizeof(c));
	c.stop_after = 3;
	assert_int_equal(f->be->commit_chain(f->c, "t", h[4], 0, 0, INT64_MAX, on_chain, &c), 0);
	assert_int_equal(c.n, 3);

	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	c.fail_with = -1234;
	assert_int_equal(f->be->commit_chain(f->c, "t", h[4], 0, 0, INT64_MAX, on_chain, &c),
			 -1234);
	assert_int_equal(c.n, 2);

	/* Missing head, or a head of another tract: nothing, no error. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(f->be->commit_chain(f->c, "t", H("99"), 0, 0, INT64_MAX, on_chain, &c),
			 0);
	assert_int_equal(f->be->commit_chain(f->c, "u", h[4], 0, 0, INT64_MAX, on_chain, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(f->be->commit(f->c), 0);
}

static void test_chain_tract_restriction(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *a[3], *b1 = H("b1"), *b2 = H("b2");
	struct chain c = {0};

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "parent", "a", 3, blob, a);
	/* A child tract whose first commit continues the parent's chain. */
	put_commit(f, b1, "child", a[2], blob, T0 + 10 * SEC);
	put_commit(f, b2, "child", b1, blob, T0 + 11 * SEC);
	commit_txn(f);

	assert_int_equal(f->be->commit_chain(f->c, "child", b2, 0, 0, INT64_MAX, on_chain, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.r[1].commit_hash, b1);

	memset(&c, 0, sizeof(c));
	assert_int_equal(f->be->commit_chain(f->c, NULL, b2, 0, 0, INT64_MAX, on_chain, &c), 0);
	assert_int_equal(c.n, 5);
	assert_string_equal(c.r[4].commit_hash, a[0]);
	assert_string_equal(c.r[2].tract_id, "parent");
}

static void test_chain_payload(void **state)
{
	struct conf *f = STORE(*state);
	const char *h[3];
	struct chain c = {0};

	begin_write(f);
	put_blob_at(f, H("b0"), "{\"text\":\"zero\"}", T0);
	put_blob_at(f, H("b1"), "{\"text\":\"one\"}", T0);
	put_commit(f, H("c0"), "t", NULL, H("b0"), T0);
	put_commit(f, H("c1"), "t", H("c0"), H("b1"), T0 + 1);
	put_commit(f, H("c2"), "t", H("c1"), H("b0"), T0 + 2);
	commit_txn(f);
	h[0] = H("c2");
	h[1] = H("c1");
	h[2] = H("c0");

	assert_int_equal(f->be->commit_chain(f->c, "t", h[0], 0, TRACT_CHAIN_PAYLOAD, INT64_MAX,
					     on_chain, &c),
			 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.r[1].commit_hash, h[1]);
	assert_string_equal(c.payload[0], "{\"text\":\"zero\"}");
	assert_string_equal(c.payload[1], "{\"text\":\"one\"}");
	assert_string_equal(c.payload[2], "{\"text\":\"zero\"}");
	assert_int_equal(c.prio[0], TRACT_PRIORITY_NONE);
}

void put_annotation(struct conf *f, const char *target, tract_priority p, tract_time t,
			   int64_t *id)
{
	tract_annotation_row a = {
		.tract_id = "t",
		.target_hash = target,
		.priority = p,
		.reason = "because",
		.created_at = t,
	};

	assert_int_equal(f->be->annotation_put(f->c, &a, id), 0);
}

static void test_chain_priority(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[3];
	struct chain c = {0};
	unsigned fl = TRACT_CHAIN_PRIORITY;

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 3, blob, h);
	put_annotation(f, h[1], TRACT_PRIORITY_NORMAL, T0 + 100, NULL);
	put_annotation(f, h[1], TRACT_PRIORITY_SKIP, T0 + 200, NULL);
	/* Same instant, written later: wins the tie. */
	put_annotation(f, h[1], TRACT_PRIORITY_PINNED, T0 + 200, NULL);
	put_annotation(f, h[1], TRACT_PRIORITY_SKIP, T0 + 100, NULL);
	put_annotation(f, h[0], TRACT_PRIORITY_PINNED, T0 + 300, NULL);
	commit_txn(f);

	assert_int_equal(f->be->commit_chain(f->c, "t", h[2], 0, fl, INT64_MAX, on_chain, &c), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.prio[0], TRACT_PRIORITY_NONE);
	assert_int_equal(c.prio[1], TRACT_PRIORITY_PINNED);
	assert_int_equal(c.prio[2], TRACT_PRIORITY_PINNED);
	assert_null(c.payload[0]);

	memset(&c, 0, sizeof(c));
	assert_int_equal(f->be->commit_chain(f->c, "t", h[2], 0, fl, T0 + 150, on_chain, &c), 0);
	assert_int_equal(c.prio[1], TRACT_PRIORITY_SKIP);
	assert_int_equal(c.prio[2], TRACT_PRIORITY_NONE);

	memset(&c, 0, sizeof(c));
	assert_int_equal(f->be->commit_chain(f->c, "t", h[2], 0, fl, T0 + 200, on_chain, &c), 0);
	assert_int_equal(c.prio[1], TRACT_PRIORITY_PINNED);

	memset(&c, 0, sizeof(c));
	assert_int_equal(f->be->commit_chain(f->c, "t", h[2], 0, fl, T0 + 99, on_chain, &c), 0);
	assert_int_equal(c.prio[1], TRACT_PRIORITY_NONE);

	/* Without the flag no priority is looked up. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(f->be->commit_chain(f->c, "t", h[2], 0, 0, INT64_MAX, on_chain, &c), 0);
	assert_int_equal(c.prio[1], TRACT_PRIORITY_NONE);
}

static void test_chain_extra_parents(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *a[2], *p1 = H("p1"), *p2 = H("p2"), *m = H("e0");
	unsigned all = TRACT_CHAIN_PARENTS | TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PRIORITY;
	struct chain c = {0};

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 2, blob, a);
	put_commit(f, p2, "t", NULL, blob, T0);
	put_commit(f, p1, "t", NULL, blob, T0);
	put_commit(f, m, "t", a[1], blob, T0 + 10 * SEC);
	/* Written out of order on purpose. */
	assert_int_equal(f->be->parent_put(f->c, m, p2, 2), 0);
	assert_int_equal(f->be->parent_put(f->c, m, a[1], 0), 0);
	assert_int_equal(f->be->parent_put(f->c, m, p1, 1), 0);
	put_annotation(f, a[0], TRACT_PRIORITY_SKIP, T0, NULL);
	commit_txn(f);

	assert_int_equal(f->be->commit_chain(f->c, "t", m, 0, all, INT64_MAX, on_chain, &c), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.n_extra[0], 2);
	assert_string_equal(c.extra[0], keepf("%s,%s", p1, p2));
	assert_int_equal(c.n_extra[1], 0);
	assert_int_equal(c.n_extra[2], 0);
	assert_non_null(c.payload[0]);
	assert_int_equal(c.prio[2], TRACT_PRIORITY_SKIP);

	memset(&c, 0, sizeof(c));
	assert_int_equal(f->be->commit_chain(f->c, "t", m, 1, TRACT_CHAIN_PARENTS, INT64_MAX,
					     on_chain, &c),
			 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.extra[0], keepf("%s,%s", p1, p2));
}

static int count_chain(const tract_chain_row *row, void *payload)
{
	size_t *n = payload;

	(*n)++;
	return row->payload_json ? 0 : -999;
}

static void test_chain_long(void **state)
{
	struct conf *f = STORE(*state);
	char hash[65], parent[65] = "";
	const char *blob;
	size_t n = 0;
	int i;

	begin_write(f);
	blob = blob_default(f);
	for (i = 0; i < 5000; i++) {
		tract_commit_row r;
		snprintf(hash, sizeof(hash), "%064x", i + 1);
		r = commit_row(hash, "t", i ? parent : NULL, blob, T0 + i);
		assert_int_equal(f->be->commit_put(f->c, &r), 0);
		memcpy(parent, hash, sizeof(hash));
	}
	commit_txn(f);
	assert_int_equal(f->be->commit_chain(f->c, "t", hash, 0, TRACT_CHAIN_PAYLOAD, INT64_MAX,
					     count_chain, &n),
			 0);
	assert_int_equal(n, 5000);
}

/*
 * Long walks: a backend may walk a long history without a limit in another
 * way than a short or limited one (the SQLite backend switches from its
 * recursive CTE to a scan of the tract after a few dozen rows), so these
 * compare a walk without limit against the same walk with a limit above
 * its length, field by field, on histories with branches, other tracts
 * interleaved, annotations and merge parents.
 */
struct walk {
	size_t n, cap;
	char **rows; /* every field of a row, joined with '|' */
	int stop_after;
	int fail_with;
};

/* The hash of stem's commit number i. */
static const char *HN(const char *stem, int i)
{
	return keepf("%s%04x%0*d", stem, i, (int)(60 - strlen(stem)), 0);
}

static const char *N(const char *s)
{
	return s ? s : "<null>";
}

static int on_walk(const tract_chain_row *row, void *payload)
{
	struct walk *w = payload;
	const tract_commit_row *c = &row->commit;
	char *extra = keep("");
	size_t i;

	for (i = 0; i < row->n_extra_parents; i++)
		extra = keepf("%s%s%s", extra, i ? "," : "", row->extra_parents[i]);
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->rows = realloc(w->rows, w->cap * sizeof(*w->rows));
		assert_non_null(w->rows);
	}
	w->rows[w->n++] = keepf("%s|%s|%s|%s|%s|%d|%s|%s|%lld|%s|%s|%lld|%s|%d|%s",
				N(c->commit_hash), N(c->tract_id), N(c->parent_hash),
				N(c->content_hash), N(c->content_type), (int)c->operation,
				N(c->response_to), N(c->message), (long long)c->token_count,
				N(c->metadata_json), N(c->generation_config_json),
				(long long)c->created_at, N(row->payload_json), (int)row->priority,
				extra);
	if (w->fail_with && (int)w->n >= w->stop_after)
		return w->fail_with;
	return w->stop_after > 0 && (int)w->n >= w->stop_after;
}

static void walk_free(struct walk *w)
{
	free(w->rows);
	memset(w, 0, sizeof(*w));
}

/* Walk into w (emptied first); returns the walk's result. */
static int walk_into(struct conf *f, struct walk *w, const char *tract, const char *head,
		     size_t limit, unsigned flags, tract_time cutoff)
{
	int stop = w->stop_after, fail = w->fail_with;

	walk_free(w);
	w->stop_after = stop;
	w->fail_with = fail;
	return f->be->commit_chain(f->c, tract, head, limit, flags, cutoff, on_walk, w);
}

/* Row i of w is the commit hash. */
static void assert_row_is(const struct walk *w, size_t i, const char *hash)
{
	assert_true(i < w->n);
	assert_int_equal(strncmp(w->rows[i], hash, strlen(hash)), 0);
	assert_int_equal(w->rows[i][strlen(hash)], '|');
}

/* The walk without a limit equals the limited one, for every set of flags. */
static void assert_walk_consistent(struct conf *f, const char *tract, const char *head,
				   tract_time cutoff, size_t expect_rows)
{
	static const unsigned flag_sets[] = {
		0,
		TRACT_CHAIN_PAYLOAD,
		TRACT_CHAIN_PRIORITY,
		TRACT_CHAIN_PARENTS,
		TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PRIORITY | TRACT_CHAIN_PARENTS,
	};
	struct walk all = {0}, limited = {0};
	size_t k, i;

	for (k = 0; k < sizeof(flag_sets) / sizeof(flag_sets[0]); k++) {
		assert_int_equal(walk_into(f, &all, tract, head, 0, flag_sets[k], cutoff), 0);
		assert_int_equal(
			walk_into(f, &limited, tract, head, 100000, flag_sets[k], cutoff), 0);
		assert_int_equal(all.n, expect_rows);
		assert_int_equal(limited.n, expect_rows);
		for (i = 0; i < all.n; i++)
			assert_string_equal(all.rows[i], limited.rows[i]);
	}
	walk_free(&all);
	walk_free(&limited);
}

static const char *put_blob_n(struct conf *f, const char *stem, int i)
{
	const char *h = HN(stem, i);

	put_blob_at(f, h, keepf("{\"text\":\"%s %d\"}", stem, i), T0);
	return h;
}

static void put_annotation_in(struct conf *f, const char *tract, const char *target,
			      tract_priority p, tract_time t)
{
	tract_annotation_row a = {
		.tract_id = tract,
		.target_hash = target,
		.priority = p,
		.created_at = t,
	};

	assert_int_equal(f->be->annotation_put(f->c, &a, NULL), 0);
}

static void test_chain_long_matches_limited(void **state)
{
	struct conf *f = STORE(*state);
	const char *h[700], *x1 = H("e1"), *x2 = H("e2"), *u1 = H("f1"), *parent = NULL;
	int i;

	begin_write(f);
	put_commit(f, u1, "u", NULL, blob_default(f), T0);
	for (i = 0; i < 700; i++) {
		tract_commit_row r;

		if (i == 20) {
			/* Roots of merged branches, off the first-parent chain. */
			put_commit(f, x1, "t", NULL, put_blob_n(f, "x", 1), T0);
			put_commit(f, x2, "t", NULL, put_blob_n(f, "x", 2), T0);
		}
		h[i] = HN("c", i);
		r = commit_row(h[i], "t", parent, put_blob_n(f, "c", i), T0 + i * SEC);
		r.message = i % 3 == 0 ? keepf("message %d", i) : NULL;
		r.metadata_json = i % 4 == 0 ? "{\"k\":1}" : NULL;
		r.generation_config_json = i % 5 == 0 ? "{\"temperature\":0.5}" : NULL;
		r.response_to = i % 7 == 0 && i > 0 ? h[i - 1] : NULL;
		r.operation = i % 9 == 0 && i > 0 ? TRACT_OP_EDIT : TRACT_OP_APPEND;
		r.token_count = i;
		assert_int_equal(f->be->commit_put(f->c, &r), 0);
		parent = h[i];
	}
	/* Deep in the history: a walk's first few dozen rows may be found
	 * another way than the rest. */
	put_annotation_in(f, "t", h[3], TRACT_PRIORITY_PINNED, T0 + 30 * SEC);
	put_annotation_in(f, "t", h[50], TRACT_PRIORITY_NORMAL, T0 + 10 * SEC);
	put_annotation_in(f, "t", h[50], TRACT_PRIORITY_SKIP, T0 + 20 * SEC);
	put_annotation_in(f, "u", h[50], TRACT_PRIORITY_PINNED, T0 + 20 * SEC);
	put_annotation_in(f, "t", h[70], TRACT_PRIORITY_SKIP, T0 + 5 * SEC);
	put_annotation_in(f, "t", h[699], TRACT_PRIORITY_SKIP, T0 + 40 * SEC);
	assert_int_equal(f->be->parent_put(f->c, h[20], x2, 2), 0);
	assert_int_equal(f->be->parent_put(f->c, h[20], h[19], 0), 0);
	assert_int_equal(f->be->parent_put(f->c, h[20], x1, 1), 0);
	assert_int_equal(f->be->parent_put(f->c, h[40], h[39], 0), 0);
	assert_int_equal(f->be->parent_put(f->c, h[40], u1, 1), 0);
	assert_int_equal(f->be->parent_put(f->c, h[100], h[99], 0), 0);
	assert_int_equal(f->be->parent_put(f->c, h[100], x1, 1), 0);
	commit_txn(f);

	assert_walk_consistent(f, "t", h[699], INT64_MAX, 700);
	assert_walk_consistent(f, "t", h[699], T0 + 20 * SEC, 700);
	assert_walk_consistent(f, "t", h[699], T0 + 15 * SEC, 700);
	assert_walk_consistent(f, "t", h[350], T0 + 10 * SEC, 351);
	assert_walk_consistent(f, "t", h[100], T0 + 10 * SEC, 101);
	assert_walk_consistent(f, "t", h[40], T0, 41);

	/* The extras themselves, on the long walk. */
	{
		struct walk w = {0};
		unsigned all = TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PRIORITY | TRACT_CHAIN_PARENTS;

		assert_int_equal(walk_into(f, &w, "t", h[699], 0, all, INT64_MAX), 0);
		assert_int_equal(w.n, 700);
		assert_row_is(&w, 0, h[699]);
		assert_row_is(&w, 699, h[0]);
		assert_non_null(strstr(w.rows[699 - 20], keepf("|%s,%s", x1, x2)));
		assert_non_null(strstr(w.rows[699 - 40], keepf("|%s", u1)));
		assert_non_null(strstr(w.rows[699 - 100], keepf("|%s", x1)));
		assert_non_null(strstr(w.rows[699 - 7], "{\"text\":\"c 7\"}"));
		/* h[50]: the latest annotation, a tie broken by the later write. */
		assert_non_null(strstr(w.rows[699 - 50], keepf("|%d|", TRACT_PRIORITY_PINNED)));
		assert_non_null(strstr(w.rows[699 - 70], keepf("|%d|", TRACT_PRIORITY_SKIP)));
		assert_non_null(strstr(w.rows[699 - 71], keepf("|%d|", TRACT_PRIORITY_NONE)));
		walk_free(&w);
	}
}

/* Branches inside one tract: each head walks only its own first parents. */
static void test_chain_long_branches(void **state)
{
	struct conf *f = STORE(*state);
	const char *m[80], *s[60], *q[40], *r[3], *l[40], *blob;
	struct walk w = {0};
	int i;

	begin_write(f);
	blob = blob_default(f);
	/* A side branch off m[10], written interleaved with the main line. */
	for (i = 0; i < 80; i++) {
		m[i] = HN("a", i);
		put_commit(f, m[i], "t", i ? m[i - 1] : NULL, blob, T0 + i);
		if (i >= 11 && i < 71) {
			s[i - 11] = HN("b", i - 11);
			put_commit(f, s[i - 11], "t", i > 11 ? s[i - 12] : m[10], blob, T0 + i);
		}
	}
	/* Written after everything: a short branch off an early commit and a
	 * long one off a late commit. */
	for (i = 0; i < 3; i++) {
		r[i] = HN("d", i);
		put_commit(f, r[i], "t", i ? r[i - 1] : m[5], blob, T0 + 100 + i);
	}
	for (i = 0; i < 40; i++) {
		q[i] = HN("e", i);
		put_commit(f, q[i], "t", i ? q[i - 1] : m[70], blob, T0 + 200 + i);
	}
	/* A long branch off an early commit, far below in the history. */
	for (i = 0; i < 40; i++) {
		l[i] = HN("f", i);
		put_commit(f, l[i], "t", i ? l[i - 1] : m[5], blob, T0 + 300 + i);
	}
	commit_txn(f);

	assert_int_equal(walk_into(f, &w, "t", m[79], 0, 0, INT64_MAX), 0);
	assert_int_equal(w.n, 80);
	for (i = 0; i < 80; i++)
		assert_row_is(&w, (size_t)i, m[79 - i]);

	assert_int_equal(walk_into(f, &w, "t", s[59], 0, 0, INT64_MAX), 0);
	assert_int_equal(w.n, 71);
	for (i = 0; i < 60; i++)
		assert_row_is(&w, (size_t)i, s[59 - i]);
	for (i = 0; i <= 10; i++)
		assert_row_is(&w, (size_t)(60 + i), m[10 - i]);

	assert_int_equal(walk_into(f, &w, "t", r[2], 0, 0, INT64_MAX), 0);
	assert_int_equal(w.n, 9);
	assert_row_is(&w, 3, m[5]);

	assert_int_equal(walk_into(f, &w, "t", q[39], 0, 0, INT64_MAX), 0);
	assert_int_equal(w.n, 111);
	assert_row_is(&w, 39, q[0]);
	assert_row_is(&w, 40, m[70]);
	assert_row_is(&w, 110, m[0]);

	assert_int_equal(walk_into(f, &w, "t", l[39], 0, 0, INT64_MAX), 0);
	assert_int_equal(w.n, 46);
	assert_row_is(&w, 39, l[0]);
	assert_row_is(&w, 40, m[5]);
	assert_row_is(&w, 45, m[0]);
	walk_free(&w);

	assert_walk_consistent(f, "t", m[79], INT64_MAX, 80);
	assert_walk_consistent(f, "t", s[59], INT64_MAX, 71);
	assert_walk_consistent(f, "t", q[39], INT64_MAX, 111);
	assert_walk_consistent(f, "t", s[30], INT64_MAX, 42);
	assert_walk_consistent(f, "t", l[39], INT64_MAX, 46);
}

/*
 * Several tracts written interleaved: a long walk stops where its chain
 * leaves the tract, and reads right whether the tract's commits are
 * dense or sparse among the others'. Enough annotations and merge
 * parents elsewhere that they outnumber the walked rows.
 */
static void test_chain_long_interleaved_tracts(void **state)
{
	struct conf *f = STORE(*state);
	const char *p[40], *c[50], *big[300], *sp[60], *dense[40];
	struct walk w = {0};
	int i;

	begin_write(f);
	/* A child tract continuing the parent's chain, both still growing. */
	for (i = 0; i < 40; i++) {
		p[i] = HN("a", i);
		put_commit(f, p[i], "p", i ? p[i - 1] : NULL, put_blob_n(f, "pa", i), T0 + i);
	}
	for (i = 0; i < 50; i++) {
		c[i] = HN("b", i);
		put_commit(f, c[i], "c", i ? c[i - 1] : p[39], put_blob_n(f, "ch", i), T0 + i);
		put_commit(f, HN("c", i), "p", i ? HN("c", i - 1) : p[39],
			   put_blob_n(f, "pb", i), T0 + i);
	}
	/* A big tract with a sparse one among it, then a dense one. */
	for (i = 0; i < 300; i++) {
		big[i] = HN("d", i);
		put_commit(f, big[i], "big", i ? big[i - 1] : NULL, put_blob_n(f, "bg", i),
			   T0 + i);
		put_annotation_in(f, "big", big[i], TRACT_PRIORITY_SKIP, T0 + i);
		if (i >= 2) {
			assert_int_equal(f->be->parent_put(f->c, big[i], big[i - 1], 0), 0);
			assert_int_equal(f->be->parent_put(f->c, big[i], big[i - 2], 1), 0);
		}
		if (i % 5 == 0) {
			sp[i / 5] = HN("e", i / 5);
			put_commit(f, sp[i / 5], "sparse", i ? sp[i / 5 - 1] : NULL,
				   put_blob_n(f, "sp", i / 5), T0 + i);
		}
	}
	for (i = 0; i < 40; i++) {
		dense[i] = HN("f", i);
		put_commit(f, dense[i], "dense", i ? dense[i - 1] : NULL, put_blob_n(f, "de", i),
			   T0 + i);
		if (i % 3 == 0)
			put_annotation_in(f, "dense", dense[i], TRACT_PRIORITY_PINNED, T0 + i);
		if (i % 5 == 4) {
			assert_int_equal(f->be->parent_put(f->c, dense[i], dense[i - 1], 0), 0);
			assert_int_equal(f->be->parent_put(f->c, dense[i], big[i], 1), 0);
		}
	}
	put_annotation_in(f, "sparse", sp[10], TRACT_PRIORITY_PINNED, T0);
	commit_txn(f);

	assert_int_equal(walk_into(f, &w, "c", c[49], 0, TRACT_CHAIN_PAYLOAD, INT64_MAX), 0);
	assert_int_equal(w.n, 50);
	assert_row_is(&w, 49, c[0]);
	assert_int_equal(walk_into(f, &w, NULL, c[49], 0, 0, INT64_MAX), 0);
	assert_int_equal(w.n, 90);
	assert_row_is(&w, 50, p[39]);
	assert_int_equal(walk_into(f, &w, "p", HN("c", 49), 0, 0, INT64_MAX), 0);
	assert_int_equal(w.n, 90);
	walk_free(&w);

	assert_walk_consistent(f, "c", c[49], INT64_MAX, 50);
	assert_walk_consistent(f, "p", HN("c", 49), INT64_MAX, 90);
	assert_walk_consistent(f, "sparse", sp[59], INT64_MAX, 60);
	assert_walk_consistent(f, "sparse", sp[59], T0 - 1, 60);
	assert_walk_consistent(f, "dense", dense[39], INT64_MAX, 40);
	assert_walk_consistent(f, "dense", dense[39], T0 + 4, 40);
	assert_walk_consistent(f, "big", big[299], T0 + 100, 300);
}

/* A callback stops or fails a long walk wherever it likes. */
static void test_chain_long_stop(void **state)
{
	struct conf *f = STORE(*state);
	const char *h[100];
	struct walk w = {0};
	int stops[] = {1, 31, 32, 33, 34, 50, 99, 100}, i;
	size_t k;

	begin_write(f);
	put_linear(f, "t", "a", 100, blob_default(f), h);
	commit_txn(f);

	for (k = 0; k < sizeof(stops) / sizeof(stops[0]); k++) {
		w.stop_after = stops[k];
		w.fail_with = 0;
		assert_int_equal(walk_into(f, &w, "t", h[99], 0, TRACT_CHAIN_PAYLOAD, INT64_MAX),
				 0);
		assert_int_equal(w.n, stops[k]);
		for (i = 0; i < stops[k]; i++)
			assert_row_is(&w, (size_t)i, h[99 - i]);
		w.fail_with = -1234;
		assert_int_equal(walk_into(f, &w, "t", h[99], 0, TRACT_CHAIN_PAYLOAD, INT64_MAX),
				 -1234);
		assert_int_equal(w.n, stops[k]);
	}
	walk_free(&w);
}

const struct conf_test tract_conf_chain_tests[] = {
	CONF_TEST(test_chain_order_limit_stop, 0),
	CONF_TEST(test_chain_tract_restriction, 0),
	CONF_TEST(test_chain_payload, 0),
	CONF_TEST(test_chain_priority, 0),
	CONF_TEST(test_chain_extra_parents, 0),
	CONF_TEST(test_chain_long, 0),
	CONF_TEST(test_chain_long_matches_limited, 0),
	CONF_TEST(test_chain_long_branches, 0),
	CONF_TEST(test_chain_long_interleaved_tracts, 0),
	CONF_TEST(test_chain_long_stop, 0),
	{NULL, NULL, 0},
};
