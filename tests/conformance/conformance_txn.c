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

/* The batched deletions (v5): commits with their annotations and merge
 * parents in one call, missing ones skipped; blobs that no commit uses,
 * the others kept; a commit a ref names refuses the call. */
static void test_batched_deletion(void **state)
{
	struct conf *f = STORE(*state);
	const char *shared, *only = H("b2"), *h[4], *m = H("e0"), *side = H("5e");
	const char *dead[6], *blobs[4];
	struct strings s = {0};
	struct annotations a = {0};
	size_t n = 99;

	begin_write(f);
	shared = blob_default(f);
	put_blob_at(f, only, "{\"text\":\"only the deleted use this\"}", T0);
	put_linear(f, "t", "a", 4, shared, h);
	put_commit(f, side, "t", h[1], only, T0 + 10 * SEC);
	put_commit(f, m, "t", h[3], only, T0 + 20 * SEC);
	assert_int_equal(f->be->parent_put(f->c, m, h[3], 0), 0);
	assert_int_equal(f->be->parent_put(f->c, m, side, 1), 0);
	put_annotation(f, h[2], TRACT_PRIORITY_PINNED, T0, NULL);
	put_annotation(f, m, TRACT_PRIORITY_SKIP, T0, NULL);
	assert_int_equal(f->be->ref_cas(f->c, "t", "refs/heads/main", h[0], NULL, NULL), 0);
	commit_txn(f);

	/* children before parents; a hash that names nothing is skipped */
	dead[0] = m;
	dead[1] = side;
	dead[2] = h[3];
	dead[3] = H("dead");
	dead[4] = h[2];
	dead[5] = h[1];
	begin_write(f);
	assert_int_equal(f->be->commits_delete(f->c, dead, 6, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(f->be->commits_delete(f->c, dead, 0, NULL), 0);
	blobs[0] = only;
	blobs[1] = shared;
	blobs[2] = only;
	blobs[3] = H("b3");
	n = 99;
	assert_int_equal(f->be->blobs_delete_unused(f->c, blobs, 4, &n), 0);
	assert_int_equal(n, 1);
	commit_txn(f);

	assert_int_equal(get_commit(f, "t", h[0]).created_at, T0);
	assert_int_equal(f->be->commit_get(f->c, NULL, h[1], on_commit, &(struct commits){0}),
			 TRACT_ENOTFOUND);
	assert_int_equal(f->be->commit_get(f->c, NULL, m, on_commit, &(struct commits){0}),
			 TRACT_ENOTFOUND);
	assert_int_equal(f->be->parent_foreach(f->c, on_parent, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(f->be->annotation_foreach(f->c, NULL, on_annotation, &a), 0);
	assert_int_equal(a.n, 0);
	assert_int_equal(f->be->blob_foreach(f->c, on_blob, &s), 0);
	assert_int_equal(s.n, 1);

	/* the branch names h[0]: refused, and nothing of it stays */
	begin_write(f);
	expect_txn_fails(f, f->be->commits_delete(f->c, h, 1, NULL), TRACT_ESTORAGE);
	assert_int_equal(get_commit(f, "t", h[0]).created_at, T0);
}

/* Count rows (any number). */
static int count_commit(const tract_commit_row *row, void *payload)
{
	(void)row;
	++*(size_t *)payload;
	return 0;
}

/*
 * Appends the way the commit engine writes them (blob without asking
 * whether it was new, commit, branch moved from the previous head), many
 * in one transaction: a backend that holds them back and sends them
 * together must write every one, in order. Then the same with a commit
 * whose blob is missing in the middle: the failure surfaces (at the call
 * that sends it, commit() at the latest) and nothing is written.
 */
#define N_APPENDS 3000
static void appends(struct conf *f, const char *stem, int bad, int *rc_out)
{
	const char *prev = NULL;
	int i, rc = 0;

	for (i = 0; i < N_APPENDS && rc == 0; i++) {
		const char *blob = H(keepf("b%s%04x", stem, i));
		const char *hash = H(keepf("c%s%04x", stem, i));
		const char *payload = keepf("{\"text\":\"message %d\"}", i);
		tract_blob_row b = {blob, payload, (int64_t)strlen(payload), 2, T0 + i};
		tract_commit_row r = commit_row(hash, "t", prev, blob, T0 + i);
		tract_ref_row exp = {"t", "refs/heads/main", prev, NULL};

		if (i == bad)
			r.content_hash = H("bbbb");
		rc = f->be->blob_put(f->c, &b, NULL);
		if (rc == 0)
			rc = f->be->commit_put(f->c, &r);
		if (rc == 0)
			rc = f->be->ref_cas(f->c, "t", "refs/heads/main", hash, NULL,
					    prev ? &exp : NULL);
		prev = hash;
	}
	*rc_out = rc;
}

static void test_many_appends_in_one_transaction(void **state)
{
	struct conf *f = STORE(*state);
	size_t n = 0;
	int rc;

	begin_write(f);
	appends(f, "f", N_APPENDS / 2, &rc);
	expect_txn_fails(f, rc, TRACT_ESTORAGE);
	assert_int_equal(f->be->commit_foreach(f->c, NULL, count_commit, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(f->be->ref_get(f->c, "t", "refs/heads/main", on_ref,
					&(struct refs){0}),
			 TRACT_ENOTFOUND);

	begin_write(f);
	appends(f, "a", -1, &rc);
	assert_int_equal(rc, 0);
	commit_txn(f);
	assert_int_equal(f->be->commit_foreach(f->c, "t", count_commit, &n), 0);
	assert_int_equal(n, N_APPENDS);
	assert_string_equal(get_ref(f, "t", "refs/heads/main").commit_hash,
			    H(keepf("ca%04x", N_APPENDS - 1)));
	assert_string_equal(get_commit(f, "t", H(keepf("ca%04x", N_APPENDS - 1))).parent_hash,
			    H(keepf("ca%04x", N_APPENDS - 2)));

	/* a run that starts from a stale head: the compare-and-swap is lost */
	begin_write(f);
	{
		tract_blob_row b = {H("bz"), "{}", 2, 1, T0};
		tract_commit_row r = commit_row(H("cz1"), "t", H("ca0000"), H("bz"), T0);
		tract_commit_row r2 = commit_row(H("cz2"), "t", H("cz1"), H("bz"), T0);
		tract_ref_row exp = {"t", "refs/heads/main", H("ca0000"), NULL};
		tract_ref_row exp2 = {"t", "refs/heads/main", H("cz1"), NULL};

		rc = f->be->blob_put(f->c, &b, NULL);
		if (rc == 0)
			rc = f->be->commit_put(f->c, &r);
		if (rc == 0)
			rc = f->be->ref_cas(f->c, "t", "refs/heads/main", H("cz1"), NULL, &exp);
		if (rc == 0)
			rc = f->be->blob_put(f->c, &b, NULL);
		if (rc == 0)
			rc = f->be->commit_put(f->c, &r2);
		if (rc == 0)
			rc = f->be->ref_cas(f->c, "t", "refs/heads/main", H("cz2"), NULL, &exp2);
		expect_txn_fails(f, rc, TRACT_ESTALE);
	}
	assert_string_equal(get_ref(f, "t", "refs/heads/main").commit_hash,
			    H(keepf("ca%04x", N_APPENDS - 1)));
	assert_int_equal(f->be->commit_get(f->c, NULL, H("cz1"), on_commit, &(struct commits){0}),
			 TRACT_ENOTFOUND);
}

/* Appends of large blobs in one transaction (more bytes than a backend
 * that holds writes back keeps before sending them): all written. */
static void test_large_appends_in_one_transaction(void **state)
{
	struct conf *f = STORE(*state);
	enum { N = 10, SIZE = 2500000 };
	char *payload = malloc(SIZE + 32);
	const char *prev = NULL;
	size_t n = 0;
	int i;

	assert_non_null(payload);
	begin_write(f);
	for (i = 0; i < N; i++) {
		const char *blob = H(keepf("b1a%02x", i)), *hash = H(keepf("c1a%02x", i));
		tract_blob_row b;
		tract_commit_row r = commit_row(hash, "t", prev, blob, T0 + i);
		tract_ref_row exp = {"t", "refs/heads/main", prev, NULL};
		int len = snprintf(payload, 32, "{\"text\":\"%02d", i);

		memset(payload + len, 'x', SIZE - (size_t)len - 2);
		memcpy(payload + SIZE - 2, "\"}", 3);
		b = (tract_blob_row){blob, payload, SIZE, SIZE / 4, T0 + i};
		assert_int_equal(f->be->blob_put(f->c, &b, NULL), 0);
		assert_int_equal(f->be->commit_put(f->c, &r), 0);
		assert_int_equal(f->be->ref_cas(f->c, "t", "refs/heads/main", hash, NULL,
						prev ? &exp : NULL),
				 0);
		prev = hash;
	}
	commit_txn(f);
	free(payload);
	assert_int_equal(f->be->commit_foreach(f->c, "t", count_commit, &n), 0);
	assert_int_equal(n, N);
	assert_string_equal(get_ref(f, "t", "refs/heads/main").commit_hash, prev);
}

/*
 * Reads in a write transaction see its own writes however the backend
 * answers them (a network backend may keep the rows it read, and read
 * ahead): many commits read one after the other, an annotation written
 * between two lists of its target, a commit deleted after it was read,
 * and the tract filter of a commit already read.
 */
static void test_reads_after_writes_in_write_txn(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *h[200];
	struct annotations a = {0};
	int i;

	begin_write(f);
	blob = blob_default(f);
	put_linear(f, "t", "a", 200, blob, h); /* (at most 256: 2 hex digits) */
	put_annotation(f, h[7], TRACT_PRIORITY_SKIP, T0, NULL);
	commit_txn(f);

	begin_write(f);
	for (i = 0; i < 200; i++)
		assert_string_equal(get_commit(f, "t", h[i]).commit_hash, h[i]);
	assert_int_equal(f->be->commit_get(f->c, "u", h[3], on_commit, &(struct commits){0}),
			 TRACT_ENOTFOUND);
	for (i = 0; i < 20; i++) {
		a.n = 0;
		assert_int_equal(f->be->annotation_list(f->c, h[i], on_annotation, &a), 0);
		assert_int_equal(a.n, i == 7 ? 1 : 0);
	}
	put_annotation(f, h[5], TRACT_PRIORITY_PINNED, T0 + SEC, NULL);
	put_annotation(f, h[7], TRACT_PRIORITY_PINNED, T0 + SEC, NULL);
	a.n = 0;
	assert_int_equal(f->be->annotation_list(f->c, h[5], on_annotation, &a), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.r[0].priority, TRACT_PRIORITY_PINNED);
	a.n = 0;
	assert_int_equal(f->be->annotation_list(f->c, h[7], on_annotation, &a), 0);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.r[1].priority, TRACT_PRIORITY_PINNED);
	a.n = 0;
	assert_int_equal(f->be->annotation_list(f->c, h[6], on_annotation, &a), 0);
	assert_int_equal(a.n, 0);
	if (has_deletion(f)) {
		assert_int_equal(f->be->commit_delete(f->c, h[199]), 0);
		assert_int_equal(f->be->commit_get(f->c, "t", h[199], on_commit,
						   &(struct commits){0}),
				 TRACT_ENOTFOUND);
		assert_string_equal(get_commit(f, "t", h[198]).commit_hash, h[198]);
	}
	assert_int_equal(f->be->rollback(f->c), 0);
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
	CONF_TEST(test_batched_deletion, CONF_NEEDS_BATCHED_DELETION),
	CONF_TEST(test_many_appends_in_one_transaction, 0),
	CONF_TEST(test_reads_after_writes_in_write_txn, 0),
	CONF_TEST(test_large_appends_in_one_transaction, 0),
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
