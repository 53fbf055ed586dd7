/*
 * conformance_txn.c - conformance tests of deletion, transactions (rollback,
 * nesting, snapshots) and values that must round-trip (timestamps, SQL
 * metacharacters, Unicode, re-entrant callbacks).
 */
#include "conformance_int.h"

/* ---- deletion ------------------------------------------------------------- */

static void test_commit_delete_set_null(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[3], *m = H("e0"), *side = H("5e");
	tract_spawn_row sp = {0, "t", NULL, "kid", "p", "full_clone", NULL, T0};
	tract_commit_row r;
	struct strings s = {0};
	struct spawns ss = {0};
	int64_t id;

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 3, blob, h);
	r = commit_row(side, "t", h[1], blob, T0 + 10);
	r.operation = TRACT_OP_EDIT;
	r.response_to = h[0];
	assert_int_equal(f->be->commit_put(f->c, &r), 0);
	put_commit(f, m, "t", h[2], blob, T0 + 20);
	assert_int_equal(f->be->parent_put(f->c, m, h[2], 0), 0);
	assert_int_equal(f->be->parent_put(f->c, m, side, 1), 0);
	sp.parent_commit_hash = h[0];
	assert_int_equal(f->be->spawn_put(f->c, &sp, &id), 0);
	commit_txn(f);

	begin_write(f);
	/* The merge commit goes with its commit_parents rows. */
	assert_int_equal(f->be->commit_delete(f->c, m), 0);
	assert_int_equal(f->be->commit_delete(f->c, m), TRACT_ENOTFOUND);
	/* The root: children's parent_hash / response_to and the spawn pointer blank. */
	assert_int_equal(f->be->commit_delete(f->c, h[0]), 0);
	commit_txn(f);

	assert_int_equal(f->be->parent_foreach(f->c, on_parent, &s), 0);
	assert_int_equal(s.n, 0);
	r = get_commit(f, NULL, h[1]);
	assert_null(r.parent_hash);
	r = get_commit(f, NULL, side);
	assert_null(r.response_to);
	assert_string_equal(r.parent_hash, h[1]);
	assert_int_equal(f->be->spawn_foreach(f->c, "t", on_spawn, &ss), 0);
	assert_int_equal(ss.n, 1);
	assert_null(ss.r[0].parent_commit_hash);
	assert_int_equal(f->be->commit_get(f->c, NULL, h[0], on_commit, &(struct commits){0}),
			 TRACT_ENOTFOUND);
}

/* ---- transactions --------------------------------------------------------- */

static void test_rollback_discards_everything(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[1];
	struct strings s = {0};
	struct commits c = {0};
	struct refs rs = {0};
	struct annotations a = {0};
	struct tracts ts = {0};

	begin_write(f);
	assert_int_equal(f->be->meta_set(f->c, "tract:t:keep", "kept"), 0);
	commit_txn(f);

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 1, blob, h);
	assert_int_equal(f->be->ref_cas(f->c, "t", "HEAD", h[0], NULL, NULL), 0);
	put_annotation(f, h[0], TRACT_PRIORITY_PINNED, T0, NULL);
	assert_int_equal(f->be->meta_set(f->c, "tract:t:new", "v"), 0);
	assert_int_equal(f->be->meta_set(f->c, "tract:t:keep", "changed"), 0);
	/* The transaction sees its own writes. */
	assert_int_equal(f->be->commit_get(f->c, "t", h[0], on_commit, &c), 0);
	assert_int_equal(f->be->rollback(f->c), 0);

	assert_int_equal(f->be->blob_foreach(f->c, on_blob, &s), 0);
	assert_int_equal(s.n, 0);
	c.n = 0;
	assert_int_equal(f->be->commit_foreach(f->c, NULL, on_commit, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(f->be->ref_foreach(f->c, NULL, NULL, on_ref, &rs), 0);
	assert_int_equal(rs.n, 0);
	assert_int_equal(f->be->annotation_foreach(f->c, NULL, on_annotation, &a), 0);
	assert_int_equal(a.n, 0);
	assert_int_equal(f->be->meta_foreach(f->c, "tract:t:", on_meta, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.s[0], "tract:t:keep=kept");
	assert_int_equal(f->be->tract_foreach(f->c, on_tract, &ts), 0);
	assert_int_equal(ts.n, 0);
}

static void test_failed_write_then_rollback(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob;
	tract_commit_row r;
	struct commits c = {0};

	begin_write(f);
	blob = blob_default(f);
	put_commit(f, H("c1"), "t", NULL, blob, T0);
	r = commit_row(H("c1"), "t", NULL, blob, T0);
	expect_txn_fails(f, f->be->commit_put(f->c, &r), TRACT_EEXISTS);
	assert_int_equal(f->be->commit_foreach(f->c, NULL, on_commit, &c), 0);
	assert_int_equal(c.n, 0);
	/* A new transaction can start after the rollback. */
	begin_write(f);
	put_commit(f, H("c1"), "t", NULL, blob_default(f), T0);
	commit_txn(f);
}

/* Transactions do not nest; commit needs one, rollback does not. */
static void test_transaction_rules(void **state)
{
	struct conf *f = STORE(*state);

	assert_int_equal(f->be->commit(f->c), TRACT_EINVAL);
	assert_int_equal(f->be->rollback(f->c), 0);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), TRACT_EINVAL);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_WRITE), TRACT_EINVAL);
	assert_int_equal(f->be->commit(f->c), 0);
	begin_write(f);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_WRITE), TRACT_EINVAL);
	assert_int_equal(f->be->meta_set(f->c, "k", "v"), 0);
	commit_txn(f);
	assert_int_equal(f->be->commit(f->c), TRACT_EINVAL);
}

/* A read transaction of another connection sees one snapshot: neither the
 * writer's uncommitted rows nor, until it ends, what the writer commits. */
static void test_read_snapshot(void **state)
{
	struct conf *f = STORE(*state);
	tract_backend_conn *other = NULL;
	struct strings s = {0};
	char err[256] = "";

	begin_write(f);
	assert_int_equal(f->be->meta_set(f->c, "k", "0"), 0);
	commit_txn(f);
	assert_int_equal(f->be->open(&other, f->location, 0, err, sizeof(err)), 0);
	assert_int_equal(f->be->begin(other, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->meta_get(other, "k", on_meta, &s), 0);

	begin_write(f);
	assert_int_equal(f->be->meta_set(f->c, "k", "1"), 0);
	assert_int_equal(f->be->meta_set(f->c, "new", "x"), 0);
	assert_int_equal(f->be->meta_get(other, "k", on_meta, &s), 0);
	assert_int_equal(f->be->meta_get(other, "new", on_meta, &s), TRACT_ENOTFOUND);
	commit_txn(f);
	assert_int_equal(f->be->meta_get(other, "k", on_meta, &s), 0);
	assert_int_equal(f->be->meta_get(other, "new", on_meta, &s), TRACT_ENOTFOUND);
	assert_int_equal(f->be->commit(other), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.s[0], "k=0");
	assert_string_equal(s.s[1], "k=0");
	assert_string_equal(s.s[2], "k=0");

	/* A new transaction sees the commit. */
	assert_int_equal(f->be->begin(other, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->meta_get(other, "new", on_meta, &s), 0);
	assert_int_equal(f->be->commit(other), 0);
	f->be->close(other);
}

/* ---- value round trips ---------------------------------------------------- */

static void test_timestamps_round_trip(void **state)
{
	struct conf *f = STORE(*state);
	static const tract_time times[] = {
		T0 + 123456,          /* 2024-01-02 03:04:05.123456 */
		T0,                   /* 2024-01-02 03:04:05.000000 */
		T0 + 999999,          /* .999999 */
		0,                    /* the epoch */
		INT64_C(951782400000000) + 1, /* 2000-02-29 00:00:00.000001 */
		INT64_C(4102444799999999),    /* 2099-12-31 23:59:59.999999 */
	};
	struct strings s = {0};
	struct commits c = {0};
	size_t i;

	begin_write(f);
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		const char *h = H(keepf("a%zu", i));
		put_blob_at(f, h, "{}", times[i]);
		put_commit(f, h, "t", NULL, h, times[i]);
	}
	commit_txn(f);
	assert_int_equal(f->be->blob_foreach(f->c, on_blob, &s), 0);
	assert_int_equal(f->be->commit_foreach(f->c, "t", on_commit, &c), 0);
	assert_int_equal(s.n, sizeof(times) / sizeof(times[0]));
	for (i = 0; i < s.n; i++) {
		assert_true(s.num[i] == times[i]);
		assert_string_equal(get_commit(f, NULL, H(keepf("a%zu", i))).commit_hash,
				    H(keepf("a%zu", i)));
		assert_true(get_commit(f, NULL, H(keepf("a%zu", i))).created_at == times[i]);
	}
	/* commit_foreach orders by time. */
	assert_true(c.r[0].created_at == 0);
	assert_true(c.r[c.n - 1].created_at == times[5]);
}

/* Text in every field must come back byte for byte. */
static void check_text_round_trip(struct conf *f, const char *text, const char *stem)
{
	const char *blob = H(keepf("%s0", stem)), *ch = H(keepf("%s1", stem));
	char *tract = keepf("tract %s", text), *key = keepf("k:%s", text);
	char *json = keepf("{\"v\": \"%s\"}", text);
	tract_blob_row b = {blob, json, 1, 1, T0};
	tract_commit_row r = commit_row(ch, tract, NULL, blob, T0);
	tract_annotation_row a = {0, tract, ch, TRACT_PRIORITY_NORMAL, text, T0};
	tract_compression_row cr = {keepf("cmp %s", text), tract, text, T0, 1, 1, -1, text};
	tract_spawn_row sp = {0, tract, ch, text, text, "full_clone", text, T0};
	struct strings s = {0};
	struct annotations as = {0};
	struct compressions cs = {0};
	struct spawns ss = {0};
	struct refs rs = {0};
	tract_commit_row got;
	int64_t id;

	r.content_type = text;
	r.message = text;
	r.metadata_json = json;
	r.generation_config_json = json;
	begin_write(f);
	assert_int_equal(f->be->blob_put(f->c, &b, NULL), 0);
	assert_int_equal(f->be->commit_put(f->c, &r), 0);
	assert_int_equal(f->be->ref_cas(f->c, tract, key, ch, NULL, NULL), 0);
	assert_int_equal(f->be->ref_cas(f->c, tract, "HEAD", NULL, key, NULL), 0);
	assert_int_equal(f->be->annotation_put(f->c, &a, &id), 0);
	assert_int_equal(f->be->compression_put(f->c, &cr), 0);
	assert_int_equal(f->be->spawn_put(f->c, &sp, &id), 0);
	assert_int_equal(f->be->meta_set(f->c, key, text), 0);
	commit_txn(f);

	got = get_commit(f, tract, ch);
	assert_string_equal(got.tract_id, tract);
	assert_string_equal(got.content_type, text);
	assert_string_equal(got.message, text);
	assert_string_equal(got.metadata_json, json);
	assert_string_equal(got.generation_config_json, json);
	assert_int_equal(f->be->blob_get(f->c, blob, on_blob, &s), 0);
	assert_string_equal(s.s[0], keepf("%s|%s|1|1", blob, json));
	assert_string_equal(get_ref(f, tract, key).commit_hash, ch);
	assert_string_equal(get_ref(f, tract, "HEAD").symbolic_target, key);
	assert_int_equal(f->be->ref_foreach(f->c, tract, key, on_ref, &rs), 0);
	assert_int_equal(rs.n, 1);
	assert_int_equal(f->be->annotation_foreach(f->c, tract, on_annotation, &as), 0);
	assert_int_equal(as.n, 1);
	assert_string_equal(as.r[0].reason, text);
	assert_int_equal(f->be->compression_get(f->c, cr.compression_id, on_compression, &cs), 0);
	assert_string_equal(cs.r[0].branch_name, text);
	assert_string_equal(cs.r[0].instructions, text);
	assert_int_equal(f->be->spawn_by_child(f->c, text, on_spawn, &ss), 0);
	assert_int_equal(ss.n, 1);
	assert_string_equal(ss.r[0].purpose, text);
	assert_string_equal(ss.r[0].display_name, text);
	s.n = 0;
	assert_int_equal(f->be->meta_foreach(f->c, key, on_meta, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.s[0], keepf("%s=%s", key, text));
}

static void test_sql_metacharacters(void **state)
{
	struct conf *f = STORE(*state);

	check_text_round_trip(f, "it's \"quoted\"; 100% _under_ -- DROP TABLE commits; \\ /*x*/",
			      "a");
	check_text_round_trip(f, "'); DELETE FROM refs; --", "b");
	check_text_round_trip(f, "%_%", "c");
}

static void test_unicode(void **state)
{
	struct conf *f = STORE(*state);

	check_text_round_trip(f, "h\xc3\xa9llo \xe2\x80\x94 \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x8e\x89",
			      "a");
	check_text_round_trip(f, "Lisboa: p\xc3\xa3o, caf\xc3\xa9 \xc3\xa0 tarde\n\ttab", "b");
}

/* Callbacks may use the connection again (even the same operation). */
struct nested {
	struct conf *f;
	size_t outer, inner;
};

static int on_nested_inner(const tract_commit_row *row, void *payload)
{
	struct nested *n = payload;

	(void)row;
	n->inner++;
	return 0;
}

static int on_nested_outer(const tract_commit_row *row, void *payload)
{
	struct nested *n = payload;

	n->outer++;
	assert_int_equal(n->f->be->commit_foreach(n->f->c, row->tract_id, on_nested_inner, n), 0);
	return 0;
}

static void test_reentrant_callbacks(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[3];
	struct nested n = {f, 0, 0};

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 3, blob, h);
	commit_txn(f);
	assert_int_equal(f->be->commit_foreach(f->c, "t", on_nested_outer, &n), 0);
	assert_int_equal(n.outer, 3);
	assert_int_equal(n.inner, 9);
}

const struct conf_test tract_conf_txn_tests[] = {
	CONF_TEST(test_commit_delete_set_null, CONF_NEEDS_DELETION),
	CONF_TEST(test_rollback_discards_everything, 0),
	CONF_TEST(test_failed_write_then_rollback, 0),
	CONF_TEST(test_transaction_rules, 0),
	CONF_TEST(test_read_snapshot, CONF_NEEDS_TWO_CONNECTIONS),
	CONF_TEST(test_timestamps_round_trip, 0),
	CONF_TEST(test_sql_metacharacters, 0),
	CONF_TEST(test_unicode, 0),
	CONF_TEST(test_reentrant_callbacks, 0),
	{NULL, NULL, 0},
};
