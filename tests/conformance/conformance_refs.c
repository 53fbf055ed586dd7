/*
 * conformance_refs.c - conformance tests of the tables beside the commits:
 * merge parents, refs (compare-and-swap), annotations, compression records,
 * spawn pointers, store metadata and the tract listing.
 */
#include "conformance_int.h"

/* ---- merge parents -------------------------------------------------------- */

static void test_parents(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *a[3];
	struct strings s = {0};

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 3, blob, a);
	assert_int_equal(f->be->parent_put(f->c, a[2], a[0], 1), 0);
	assert_int_equal(f->be->parent_put(f->c, a[2], a[1], 0), 0);
	assert_int_equal(f->be->parent_put(f->c, a[1], a[0], 0), 0);
	/* The same pair twice is refused. */
	assert_true(f->be->parent_put(f->c, a[2], a[0], 3) < 0);
	commit_txn(f);

	assert_int_equal(f->be->parent_list(f->c, a[2], on_parent, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.s[0], keepf("%s>%s", a[2], a[1]));
	assert_int_equal(s.num[0], 0);
	assert_string_equal(s.s[1], keepf("%s>%s", a[2], a[0]));
	assert_int_equal(s.num[1], 1);

	s.n = 0;
	assert_int_equal(f->be->parent_list(f->c, a[0], on_parent, &s), 0);
	assert_int_equal(s.n, 0);

	assert_int_equal(f->be->parent_foreach(f->c, on_parent, &s), 0);
	assert_int_equal(s.n, 3);
}

/* ---- refs ----------------------------------------------------------------- */

static void test_ref_cas(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[3];
	tract_ref_row r, expected;
	struct refs rs = {0};
	struct strings s = {0};

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 3, blob, h);
	assert_int_equal(f->be->ref_get(f->c, "t", "refs/heads/main", on_ref, &rs),
			 TRACT_ENOTFOUND);
	/* Create: expected NULL means "must not exist". */
	assert_int_equal(f->be->ref_cas(f->c, "t", "refs/heads/main", h[0], NULL, NULL), 0);
	assert_int_equal(f->be->ref_cas(f->c, "t", "HEAD", NULL, "refs/heads/main", NULL), 0);
	commit_txn(f);
	/* Creating it again is a lost race, and the transaction writes nothing. */
	begin_write(f);
	assert_int_equal(f->be->meta_set(f->c, "lost", "race"), 0);
	expect_txn_fails(f, f->be->ref_cas(f->c, "t", "refs/heads/main", h[1], NULL, NULL),
			 TRACT_ESTALE);
	assert_int_equal(f->be->meta_get(f->c, "lost", on_meta, &s), TRACT_ENOTFOUND);

	r = get_ref(f, "t", "refs/heads/main");
	assert_string_equal(r.tract_id, "t");
	assert_string_equal(r.ref_name, "refs/heads/main");
	assert_string_equal(r.commit_hash, h[0]);
	assert_null(r.symbolic_target);
	r = get_ref(f, "t", "HEAD");
	assert_null(r.commit_hash);
	assert_string_equal(r.symbolic_target, "refs/heads/main");

	begin_write(f);
	/* Move with the right expectation. */
	expected = (tract_ref_row){.commit_hash = h[0]};
	assert_int_equal(f->be->ref_cas(f->c, "t", "refs/heads/main", h[1], NULL, &expected), 0);
	/* Detach HEAD: symbolic -> direct. */
	expected = (tract_ref_row){.symbolic_target = "refs/heads/main"};
	assert_int_equal(f->be->ref_cas(f->c, "t", "HEAD", h[0], NULL, &expected), 0);
	/* Exactly one of commit_hash and symbolic_target. */
	assert_int_equal(f->be->ref_cas(f->c, "t", "X", NULL, NULL, NULL), TRACT_EINVAL);
	assert_int_equal(f->be->ref_cas(f->c, "t", "X", h[0], "refs/heads/main", NULL),
			 TRACT_EINVAL);
	commit_txn(f);
	/* Lost race: expected is stale, nothing written. */
	begin_write(f);
	expected = (tract_ref_row){.commit_hash = h[0]};
	expect_txn_fails(f, f->be->ref_cas(f->c, "t", "refs/heads/main", h[2], NULL, &expected),
			 TRACT_ESTALE);
	/* A symbolic expectation on a direct ref is a mismatch too. */
	begin_write(f);
	expected = (tract_ref_row){.symbolic_target = h[1]};
	expect_txn_fails(f, f->be->ref_cas(f->c, "t", "refs/heads/main", h[2], NULL, &expected),
			 TRACT_ESTALE);
	/* Expecting a ref that does not exist. */
	begin_write(f);
	expected = (tract_ref_row){.commit_hash = h[1]};
	expect_txn_fails(f, f->be->ref_cas(f->c, "t", "refs/heads/nope", h[2], NULL, &expected),
			 TRACT_ESTALE);

	r = get_ref(f, "t", "refs/heads/main");
	assert_string_equal(r.commit_hash, h[1]);
	r = get_ref(f, "t", "HEAD");
	assert_string_equal(r.commit_hash, h[0]);
	assert_null(r.symbolic_target);
	rs.n = 0;
	assert_int_equal(f->be->ref_get(f->c, "t", "refs/heads/nope", on_ref, &rs),
			 TRACT_ENOTFOUND);
	assert_int_equal(f->be->ref_get(f->c, "other", "HEAD", on_ref, &rs), TRACT_ENOTFOUND);
}

static void test_ref_delete(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[2];
	tract_ref_row expected;
	struct refs rs = {0};

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 2, blob, h);
	assert_int_equal(f->be->ref_cas(f->c, "t", "refs/heads/x", h[0], NULL, NULL), 0);
	assert_int_equal(f->be->ref_cas(f->c, "t", "PREV_BRANCH", NULL, "refs/heads/x", NULL), 0);
	assert_int_equal(f->be->ref_cas(f->c, "t", "ORIG_HEAD", h[1], NULL, NULL), 0);
	expected = (tract_ref_row){.commit_hash = h[1]};
	assert_int_equal(f->be->ref_delete(f->c, "t", "refs/heads/x", &expected), TRACT_ESTALE);
	assert_int_equal(rs.n, 0);
	expected = (tract_ref_row){.commit_hash = h[0]};
	assert_int_equal(f->be->ref_delete(f->c, "t", "refs/heads/x", &expected), 0);
	assert_int_equal(f->be->ref_delete(f->c, "t", "refs/heads/x", &expected),
			 TRACT_ENOTFOUND);
	expected = (tract_ref_row){.symbolic_target = "refs/heads/x"};
	assert_int_equal(f->be->ref_delete(f->c, "t", "PREV_BRANCH", &expected), 0);
	/* No expectation: unconditional. */
	assert_int_equal(f->be->ref_delete(f->c, "t", "ORIG_HEAD", NULL), 0);
	assert_int_equal(f->be->ref_delete(f->c, "t", "ORIG_HEAD", NULL), TRACT_ENOTFOUND);
	commit_txn(f);
	assert_int_equal(f->be->ref_foreach(f->c, "t", NULL, on_ref, &rs), 0);
	assert_int_equal(rs.n, 0);
}

static void test_ref_foreach_prefix(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[1];
	struct refs rs = {0};

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 1, blob, h);
	assert_int_equal(f->be->ref_cas(f->c, "t", "refs/heads/zeta", h[0], NULL, NULL), 0);
	assert_int_equal(f->be->ref_cas(f->c, "t", "refs/heads/alpha", h[0], NULL, NULL), 0);
	assert_int_equal(f->be->ref_cas(f->c, "t", "HEAD", NULL, "refs/heads/alpha", NULL), 0);
	assert_int_equal(f->be->ref_cas(f->c, "t", "refs/headsX", h[0], NULL, NULL), 0);
	assert_int_equal(f->be->ref_cas(f->c, "s", "refs/heads/main", h[0], NULL, NULL), 0);
	commit_txn(f);

	assert_int_equal(f->be->ref_foreach(f->c, "t", "refs/heads/", on_ref, &rs), 0);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.r[0].ref_name, "refs/heads/alpha");
	assert_string_equal(rs.r[1].ref_name, "refs/heads/zeta");

	rs.n = 0;
	assert_int_equal(f->be->ref_foreach(f->c, "t", NULL, on_ref, &rs), 0);
	assert_int_equal(rs.n, 4);
	assert_string_equal(rs.r[0].ref_name, "HEAD");
	assert_string_equal(rs.r[0].symbolic_target, "refs/heads/alpha");

	rs.n = 0;
	assert_int_equal(f->be->ref_foreach(f->c, NULL, "refs/heads/", on_ref, &rs), 0);
	assert_int_equal(rs.n, 3);
	assert_string_equal(rs.r[0].tract_id, "s");
	assert_string_equal(rs.r[1].tract_id, "t");

	rs.n = 0;
	assert_int_equal(f->be->ref_foreach(f->c, NULL, "refs/heads/%", on_ref, &rs), 0);
	assert_int_equal(f->be->ref_foreach(f->c, NULL, "refs_heads", on_ref, &rs), 0);
	assert_int_equal(rs.n, 0);
}

/* Two connections to one store: the one that moves a ref second loses. */
static void test_ref_cas_two_connections(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[3];
	tract_backend_conn *other = NULL;
	tract_ref_row seen;
	char err[256] = "";

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 3, blob, h);
	assert_int_equal(f->be->ref_cas(f->c, "t", "refs/heads/main", h[0], NULL, NULL), 0);
	commit_txn(f);
	assert_int_equal(f->be->open(&other, f->location, 0, err, sizeof(err)), 0);

	/* Both read the branch at h[0]... */
	seen = get_ref(f, "t", "refs/heads/main");
	assert_string_equal(seen.commit_hash, h[0]);
	/* ...the other connection moves it first... */
	assert_int_equal(f->be->begin(other, TRACT_TXN_WRITE), 0);
	assert_int_equal(f->be->ref_cas(other, "t", "refs/heads/main", h[1], NULL, &seen), 0);
	assert_int_equal(f->be->commit(other), 0);
	/* ...so this one's move is stale and writes nothing. */
	begin_write(f);
	expect_txn_fails(f, f->be->ref_cas(f->c, "t", "refs/heads/main", h[2], NULL, &seen),
			 TRACT_ESTALE);
	assert_string_equal(get_ref(f, "t", "refs/heads/main").commit_hash, h[1]);
	f->be->close(other);
}

/* ---- annotations ---------------------------------------------------------- */

static void test_annotations(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[2];
	struct annotations a = {0};
	int64_t id1, id2, id3, id4;
	tract_annotation_row row;

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 2, blob, h);
	put_annotation(f, h[0], TRACT_PRIORITY_PINNED, T0 + 30, &id1);
	put_annotation(f, h[0], TRACT_PRIORITY_SKIP, T0 + 10, &id2);
	put_annotation(f, h[1], TRACT_PRIORITY_NORMAL, T0 + 20, &id3);
	row = (tract_annotation_row){.tract_id = "other", .target_hash = h[0],
				     .priority = TRACT_PRIORITY_NORMAL, .created_at = T0 + 10};
	assert_int_equal(f->be->annotation_put(f->c, &row, &id4), 0);
	row.priority = TRACT_PRIORITY_NONE;
	assert_int_equal(f->be->annotation_put(f->c, &row, NULL), TRACT_EINVAL);
	commit_txn(f);
	assert_true(id1 < id2 && id2 < id3 && id3 < id4);

	/* By (created_at, id), any tract. */
	assert_int_equal(f->be->annotation_list(f->c, h[0], on_annotation, &a), 0);
	assert_int_equal(a.n, 3);
	assert_true(a.r[0].id == id2);
	assert_int_equal(a.r[0].priority, TRACT_PRIORITY_SKIP);
	assert_string_equal(a.r[0].reason, "because");
	assert_true(a.r[0].created_at == T0 + 10);
	assert_true(a.r[1].id == id4);
	assert_null(a.r[1].reason);
	assert_string_equal(a.r[1].tract_id, "other");
	assert_true(a.r[2].id == id1);
	assert_string_equal(a.r[2].target_hash, h[0]);

	a.n = 0;
	assert_int_equal(f->be->annotation_foreach(f->c, "t", on_annotation, &a), 0);
	assert_int_equal(a.n, 3);
	assert_true(a.r[0].id == id1 && a.r[1].id == id2 && a.r[2].id == id3);
	a.n = 0;
	assert_int_equal(f->be->annotation_foreach(f->c, NULL, on_annotation, &a), 0);
	assert_int_equal(a.n, 4);

	if (!has_deletion(f))
		return;
	begin_write(f);
	assert_int_equal(f->be->annotation_delete_target(f->c, h[0]), 0);
	assert_int_equal(f->be->annotation_delete_target(f->c, h[0]), 0);
	commit_txn(f);
	a.n = 0;
	assert_int_equal(f->be->annotation_foreach(f->c, NULL, on_annotation, &a), 0);
	assert_int_equal(a.n, 1);
	assert_true(a.r[0].id == id3);
}

/* ---- compression records -------------------------------------------------- */

static void test_compressions(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[4];
	tract_compression_row r = {
		.compression_id = "cmp-2",
		.tract_id = "t",
		.branch_name = "main",
		.created_at = T0 + 2 * SEC,
		.original_tokens = 1000,
		.compressed_tokens = 200,
		.target_tokens = -1,
		.instructions = NULL,
	};
	struct compressions c = {0};
	struct strings s = {0};

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 4, blob, h);
	assert_int_equal(f->be->compression_put(f->c, &r), 0);
	r = (tract_compression_row){"cmp-1", "t", NULL, T0 + SEC, 10, 5, 500, "keep names"};
	assert_int_equal(f->be->compression_put(f->c, &r), 0);
	r = (tract_compression_row){"cmp-3", "u", NULL, T0, 10, 5, 0, NULL};
	assert_int_equal(f->be->compression_put(f->c, &r), 0);
	assert_int_equal(f->be->compression_member_put(f->c, TRACT_COMPRESSION_SOURCES, "cmp-2",
						       h[1], 1),
			 0);
	assert_int_equal(f->be->compression_member_put(f->c, TRACT_COMPRESSION_SOURCES, "cmp-2",
						       h[0], 0),
			 0);
	assert_int_equal(f->be->compression_member_put(f->c, TRACT_COMPRESSION_RESULTS, "cmp-2",
						       h[3], 0),
			 0);
	commit_txn(f);

	assert_int_equal(f->be->compression_get(f->c, "cmp-2", on_compression, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.r[0].branch_name, "main");
	assert_true(c.r[0].created_at == T0 + 2 * SEC);
	assert_int_equal(c.r[0].original_tokens, 1000);
	assert_int_equal(c.r[0].compressed_tokens, 200);
	assert_int_equal(c.r[0].target_tokens, -1);
	assert_null(c.r[0].instructions);
	assert_int_equal(f->be->compression_get(f->c, "nope", on_compression, &c),
			 TRACT_ENOTFOUND);

	c.n = 0;
	assert_int_equal(f->be->compression_foreach(f->c, "t", on_compression, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.r[0].compression_id, "cmp-1");
	assert_int_equal(c.r[0].target_tokens, 500);
	assert_string_equal(c.r[0].instructions, "keep names");
	assert_null(c.r[0].branch_name);
	c.n = 0;
	assert_int_equal(f->be->compression_foreach(f->c, NULL, on_compression, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.r[0].compression_id, "cmp-3");
	assert_int_equal(c.r[0].target_tokens, 0);

	assert_int_equal(f->be->compression_members(f->c, TRACT_COMPRESSION_SOURCES, "cmp-2",
						    on_member, &s),
			 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.s[0], keepf("cmp-2>%s", h[0]));
	assert_string_equal(s.s[1], keepf("cmp-2>%s", h[1]));
	assert_int_equal(s.num[1], 1);
	s.n = 0;
	assert_int_equal(f->be->compression_members(f->c, TRACT_COMPRESSION_RESULTS, "cmp-2",
						    on_member, &s),
			 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.s[0], keepf("cmp-2>%s", h[3]));

	if (!has_deletion(f))
		return;
	begin_write(f);
	assert_int_equal(f->be->compression_delete(f->c, "cmp-2"), 0);
	assert_int_equal(f->be->compression_delete(f->c, "cmp-2"), TRACT_ENOTFOUND);
	commit_txn(f);
	s.n = 0;
	assert_int_equal(f->be->compression_members(f->c, TRACT_COMPRESSION_SOURCES, "cmp-2",
						    on_member, &s),
			 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(f->be->compression_get(f->c, "cmp-2", on_compression, &c),
			 TRACT_ENOTFOUND);
}

/* ---- spawn pointers ------------------------------------------------------- */

static void test_spawn(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[1];
	tract_spawn_row r = {
		.parent_tract_id = "parent",
		.child_tract_id = "child-1",
		.purpose = "find a venue",
		.inheritance_mode = "head_snapshot",
		.display_name = "Venue scout",
		.created_at = T0,
	};
	struct spawns s = {0};
	int64_t id1, id2, id3;

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "parent", "a", 1, blob, h);
	r.parent_commit_hash = h[0];
	assert_int_equal(f->be->spawn_put(f->c, &r, &id1), 0);
	r = (tract_spawn_row){0, "parent", NULL, "child-2", "p2", "full_clone", NULL, T0 + 1};
	assert_int_equal(f->be->spawn_put(f->c, &r, &id2), 0);
	r = (tract_spawn_row){0, "other", NULL, "child-1", "p3", "selective", NULL, T0 + 2};
	assert_int_equal(f->be->spawn_put(f->c, &r, &id3), 0);
	commit_txn(f);
	assert_true(id1 < id2 && id2 < id3);

	assert_int_equal(f->be->spawn_foreach(f->c, "parent", on_spawn, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(s.r[0].id == id1);
	assert_string_equal(s.r[0].parent_commit_hash, h[0]);
	assert_string_equal(s.r[0].child_tract_id, "child-1");
	assert_string_equal(s.r[0].purpose, "find a venue");
	assert_string_equal(s.r[0].inheritance_mode, "head_snapshot");
	assert_string_equal(s.r[0].display_name, "Venue scout");
	assert_true(s.r[0].created_at == T0);
	assert_null(s.r[1].parent_commit_hash);
	assert_null(s.r[1].display_name);

	s.n = 0;
	assert_int_equal(f->be->spawn_foreach(f->c, NULL, on_spawn, &s), 0);
	assert_int_equal(s.n, 3);
	s.n = 0;
	assert_int_equal(f->be->spawn_by_child(f->c, "child-1", on_spawn, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(s.r[0].id == id1 && s.r[1].id == id3);

	if (!has_deletion(f))
		return;
	begin_write(f);
	assert_int_equal(f->be->spawn_delete(f->c, id1), 0);
	assert_int_equal(f->be->spawn_delete(f->c, id1), TRACT_ENOTFOUND);
	commit_txn(f);
	s.n = 0;
	assert_int_equal(f->be->spawn_by_child(f->c, "child-1", on_spawn, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.r[0].id == id3);
}

/* ---- store metadata ------------------------------------------------------- */

static void test_meta(void **state)
{
	struct conf *f = STORE(*state);
	struct strings s = {0};

	assert_int_equal(f->be->meta_get(f->c, "tract:a:display_name", on_meta, &s),
			 TRACT_ENOTFOUND);
	begin_write(f);
	assert_int_equal(f->be->meta_set(f->c, "tract:a:display_name", "Alpha"), 0);
	assert_int_equal(f->be->meta_set(f->c, "tract:a:display_name", "Alpha 2"), 0);
	assert_int_equal(f->be->meta_set(f->c, "tract:a:max_tokens", "4096"), 0);
	assert_int_equal(f->be->meta_set(f->c, "tract:b:max_tokens", "10"), 0);
	assert_int_equal(f->be->meta_set(f->c, "tract:ab", "x"), 0);
	assert_int_equal(f->be->meta_set(f->c, "empty", ""), 0);
	commit_txn(f);

	assert_int_equal(f->be->meta_get(f->c, "tract:a:display_name", on_meta, &s), 0);
	assert_string_equal(s.s[0], "tract:a:display_name=Alpha 2");
	s.n = 0;
	assert_int_equal(f->be->meta_get(f->c, "empty", on_meta, &s), 0);
	assert_string_equal(s.s[0], "empty=");

	s.n = 0;
	assert_int_equal(f->be->meta_foreach(f->c, "tract:a:", on_meta, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.s[0], "tract:a:display_name=Alpha 2");
	assert_string_equal(s.s[1], "tract:a:max_tokens=4096");
	s.n = 0;
	assert_int_equal(f->be->meta_foreach(f->c, "tract:", on_meta, &s), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.s[2], "tract:ab=x");
	s.n = 0;
	assert_int_equal(f->be->meta_foreach(f->c, "tract:_:", on_meta, &s), 0);
	assert_int_equal(f->be->meta_foreach(f->c, "tract%", on_meta, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(f->be->meta_foreach(f->c, NULL, on_meta, &s), 0);
	assert_true(s.n >= 5);

	begin_write(f);
	assert_int_equal(f->be->meta_delete(f->c, "tract:ab"), 0);
	assert_int_equal(f->be->meta_delete(f->c, "tract:ab"), TRACT_ENOTFOUND);
	commit_txn(f);
	s.n = 0;
	assert_int_equal(f->be->meta_get(f->c, "tract:ab", on_meta, &s), TRACT_ENOTFOUND);
}

/* ---- tracts --------------------------------------------------------------- */

static void test_tract_foreach(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[3];
	const tract_tract_row *t;
	struct tracts ts = {0};

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "alpha", "a", 3, blob, h);
	put_commit(f, H("b0"), "beta", NULL, blob, T0 - SEC);
	assert_int_equal(f->be->ref_cas(f->c, "alpha", "refs/heads/main", h[2], NULL, NULL), 0);
	assert_int_equal(f->be->ref_cas(f->c, "alpha", "HEAD", NULL, "refs/heads/main", NULL), 0);
	/* A tract with a ref but no commit yet. */
	assert_int_equal(f->be->ref_cas(f->c, "gamma", "HEAD", NULL, "refs/heads/main", NULL), 0);
	commit_txn(f);

	assert_int_equal(f->be->tract_foreach(f->c, on_tract, &ts), 0);
	assert_int_equal(ts.n, 3);
	t = find_tract(&ts, "alpha");
	assert_non_null(t);
	assert_int_equal(t->commit_count, 3);
	assert_true(t->last_activity == T0 + 2 * SEC);
	t = find_tract(&ts, "beta");
	assert_non_null(t);
	assert_int_equal(t->commit_count, 1);
	assert_true(t->last_activity == T0 - SEC);
	t = find_tract(&ts, "gamma");
	assert_non_null(t);
	assert_int_equal(t->commit_count, 0);
	assert_true(t->last_activity == TRACT_TIME_NONE);
}

const struct conf_test tract_conf_refs_tests[] = {
	CONF_TEST(test_parents, 0),
	CONF_TEST(test_ref_cas, 0),
	CONF_TEST(test_ref_cas_two_connections, CONF_NEEDS_TWO_CONNECTIONS),
	CONF_TEST(test_ref_delete, 0),
	CONF_TEST(test_ref_foreach_prefix, 0),
	CONF_TEST(test_annotations, 0),
	CONF_TEST(test_compressions, 0),
	CONF_TEST(test_spawn, 0),
	CONF_TEST(test_meta, 0),
	CONF_TEST(test_tract_foreach, 0),
	{NULL, NULL, 0},
};
