/*
 * conformance_rows.c - conformance tests of opening a store, null arguments,
 * blobs and commits (put, get, prefix lookup, iteration).
 */
#include "conformance_int.h"

/* ---- open ----------------------------------------------------------------- */

static void test_open_create_and_reopen(void **state)
{
	struct conf *f = STORE(*state);
	struct strings s = {0};

	begin_write(f);
	assert_int_equal(f->be->meta_set(f->c, "tract:x:max_tokens", "100"), 0);
	commit_txn(f);
	f->be->close(f->c);
	f->c = NULL;
	/* An existing store opens without the create flag and keeps its data. */
	assert_int_equal(open_store(f, 0), 0);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->meta_get(f->c, "tract:x:max_tokens", on_meta, &s), 0);
	assert_int_equal(f->be->commit(f->c), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.s[0], "tract:x:max_tokens=100");
	/* Create on an existing store is harmless. */
	f->be->close(f->c);
	f->c = NULL;
	assert_int_equal(open_store(f, TRACT_BACKEND_CREATE), 0);
	assert_string_equal(f->be->name, factory->name);
	assert_int_equal(f->be->version, TRACT_BACKEND_VERSION);
}

static void test_open_missing_is_enotfound(void **state)
{
	struct conf *f = STORE(*state);
	const char *path, *missing = conf_missing_location(f, &path);
	tract_backend_conn *c = (tract_backend_conn *)f;
	char err[256] = "";
	struct stat sb;

	if (!missing)
		fail_msg("%s: missing_uri returned NULL", factory->name);
	assert_int_equal(f->be->open(&c, missing, 0, err, sizeof(err)), TRACT_ENOTFOUND);
	assert_null(c);
	assert_non_null(strstr(err, "not found"));
	assert_non_null(strstr(err, missing));
	/* Nothing was created: not on disk, and not for the next open either. */
	if (path)
		assert_int_not_equal(stat(path, &sb), 0);
	c = (tract_backend_conn *)f;
	assert_int_equal(f->be->open(&c, missing, 0, err, sizeof(err)), TRACT_ENOTFOUND);
	assert_null(c);
	/* With the flag it is created, and then opens without it. */
	assert_int_equal(f->be->open(&c, missing, TRACT_BACKEND_CREATE, err, sizeof(err)), 0);
	assert_non_null(c);
	f->be->close(c);
	if (path)
		assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(f->be->open(&c, missing, 0, err, sizeof(err)), 0);
	f->be->close(c);
}

static void test_null_arguments(void **state)
{
	struct conf *f = STORE(*state);
	struct commits c = {0};
	tract_backend_conn *out;

	assert_int_equal(f->be->open(NULL, f->location, 0, NULL, 0), TRACT_EINVAL);
	assert_int_equal(f->be->open(&out, NULL, 0, NULL, 0), TRACT_EINVAL);
	assert_int_equal(f->be->blob_put(f->c, NULL, NULL), TRACT_EINVAL);
	assert_int_equal(f->be->blob_get(f->c, NULL, on_blob, &c), TRACT_EINVAL);
	assert_int_equal(f->be->commit_put(f->c, NULL), TRACT_EINVAL);
	assert_int_equal(f->be->commit_get(f->c, NULL, NULL, on_commit, &c), TRACT_EINVAL);
	assert_int_equal(f->be->commit_get(f->c, NULL, H("ab"), NULL, NULL), TRACT_EINVAL);
	assert_int_equal(f->be->commit_chain(f->c, NULL, NULL, 0, 0, INT64_MAX, NULL, NULL),
			 TRACT_EINVAL);
	assert_int_equal(f->be->ref_cas(f->c, "t", NULL, H("ab"), NULL, NULL), TRACT_EINVAL);
	assert_int_equal(f->be->meta_set(f->c, NULL, "v"), TRACT_EINVAL);
	assert_int_equal(f->be->blob_put(NULL, NULL, NULL), TRACT_EINVAL);
	assert_non_null(f->be->last_error(f->c));
	f->be->close(NULL);
}

/* ---- blobs ---------------------------------------------------------------- */

static void test_blob_put_dedup(void **state)
{
	struct conf *f = STORE(*state);
	tract_blob_row b = {H("aa"), "{\"text\":\"one\"}", 14, 5, T0};
	struct strings s = {0};
	int inserted = -1;

	begin_write(f);
	assert_int_equal(f->be->blob_put(f->c, &b, &inserted), 0);
	assert_int_equal(inserted, 1);
	/* Same hash again: the existing row is left untouched. */
	b.payload_json = "{\"text\":\"two\"}";
	b.byte_size = 99;
	b.token_count = 42;
	b.created_at = T0 + SEC;
	assert_int_equal(f->be->blob_put(f->c, &b, &inserted), 0);
	assert_int_equal(inserted, 0);
	assert_int_equal(f->be->blob_put(f->c, &b, NULL), 0);
	commit_txn(f);
	assert_int_equal(f->be->blob_get(f->c, H("aa"), on_blob, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.s[0], keepf("%s|{\"text\":\"one\"}|14|5", H("aa")));
	assert_true(s.num[0] == T0);
}

static void test_blob_get_foreach_delete(void **state)
{
	struct conf *f = STORE(*state);
	struct strings s = {0};

	assert_int_equal(f->be->blob_get(f->c, H("ff"), on_blob, &s), TRACT_ENOTFOUND);
	assert_int_equal(s.n, 0);
	assert_non_null(strstr(f->be->last_error(f->c), "not found"));
	begin_write(f);
	put_blob_at(f, H("c3"), "{}", T0);
	put_blob_at(f, H("a1"), "[]", T0);
	put_blob_at(f, H("b2"), "1", T0);
	commit_txn(f);
	assert_int_equal(f->be->blob_foreach(f->c, on_blob, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.s[0], keepf("%s|[]|2|3", H("a1")));
	assert_string_equal(s.s[1], keepf("%s|1|1|3", H("b2")));
	assert_string_equal(s.s[2], keepf("%s|{}|2|3", H("c3")));
	if (!has_deletion(f))
		return;
	begin_write(f);
	assert_int_equal(f->be->blob_delete(f->c, H("b2")), 0);
	assert_int_equal(f->be->blob_delete(f->c, H("b2")), TRACT_ENOTFOUND);
	commit_txn(f);
	s.n = 0;
	assert_int_equal(f->be->blob_get(f->c, H("b2"), on_blob, &s), TRACT_ENOTFOUND);
}

/* ---- commits -------------------------------------------------------------- */

static void test_commit_put_get(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob, *c1 = H("c1"), *c2 = H("c2");
	tract_commit_row r, got;
	struct commits c = {0};

	begin_write(f);
	blob = blob_default(f);
	put_commit(f, c1, "tract-a", NULL, blob, T0);
	r = (tract_commit_row){
		.commit_hash = c2,
		.tract_id = "tract-a",
		.parent_hash = c1,
		.content_hash = blob,
		.content_type = "instruction",
		.operation = TRACT_OP_EDIT,
		.response_to = c1,
		.message = "fix the answer",
		.token_count = 123,
		.metadata_json = "{\"k\": [1, 2]}",
		.generation_config_json = "{}",
		.created_at = T0 + 123456,
	};
	assert_int_equal(f->be->commit_put(f->c, &r), 0);
	commit_txn(f);

	got = get_commit(f, NULL, c2);
	assert_string_equal(got.commit_hash, c2);
	assert_string_equal(got.tract_id, "tract-a");
	assert_string_equal(got.parent_hash, c1);
	assert_string_equal(got.content_hash, blob);
	assert_string_equal(got.content_type, "instruction");
	assert_int_equal(got.operation, TRACT_OP_EDIT);
	assert_string_equal(got.response_to, c1);
	assert_string_equal(got.message, "fix the answer");
	assert_int_equal(got.token_count, 123);
	assert_string_equal(got.metadata_json, "{\"k\": [1, 2]}");
	assert_string_equal(got.generation_config_json, "{}");
	assert_true(got.created_at == T0 + 123456);

	got = get_commit(f, "tract-a", c1);
	assert_null(got.parent_hash);
	assert_null(got.response_to);
	assert_null(got.message);
	assert_null(got.metadata_json);
	assert_null(got.generation_config_json);
	assert_int_equal(got.operation, TRACT_OP_APPEND);

	/* Scoped to another tract, or unknown: not found. */
	assert_int_equal(f->be->commit_get(f->c, "tract-b", c1, on_commit, &c), TRACT_ENOTFOUND);
	assert_int_equal(f->be->commit_get(f->c, NULL, H("c9"), on_commit, &c), TRACT_ENOTFOUND);
	assert_int_equal(c.n, 0);
}

static void test_commit_put_errors(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob;
	tract_commit_row r;

	begin_write(f);
	blob = blob_default(f);
	put_commit(f, H("c1"), "t", NULL, blob, T0);
	commit_txn(f);
	/* An existing hash; the good commit before it goes with it. */
	begin_write(f);
	put_commit(f, H("c5"), "t", NULL, blob, T0);
	r = commit_row(H("c1"), "t", NULL, blob, T0 + 1);
	expect_txn_fails(f, f->be->commit_put(f->c, &r), TRACT_EEXISTS);
	/* Missing blob, missing parent. */
	begin_write(f);
	r = commit_row(H("c2"), "t", NULL, H("0bad"), T0);
	expect_txn_fails(f, f->be->commit_put(f->c, &r), 0);
	begin_write(f);
	r = commit_row(H("c3"), "t", H("0bad"), blob, T0);
	expect_txn_fails(f, f->be->commit_put(f->c, &r), 0);
	/* A stored operation must be known (checked at the call). */
	begin_write(f);
	r = commit_row(H("c4"), "t", NULL, blob, T0);
	r.operation = TRACT_OP_UNKNOWN;
	assert_int_equal(f->be->commit_put(f->c, &r), TRACT_EINVAL);
	commit_txn(f);
	assert_int_equal(f->be->commit_get(f->c, NULL, H("c2"), on_commit, &(struct commits){0}),
			 TRACT_ENOTFOUND);
	assert_int_equal(f->be->commit_get(f->c, NULL, H("c3"), on_commit, &(struct commits){0}),
			 TRACT_ENOTFOUND);
	assert_int_equal(f->be->commit_get(f->c, NULL, H("c4"), on_commit, &(struct commits){0}),
			 TRACT_ENOTFOUND);
	assert_int_equal(f->be->commit_get(f->c, NULL, H("c5"), on_commit, &(struct commits){0}),
			 TRACT_ENOTFOUND);
	assert_true(get_commit(f, NULL, H("c1")).created_at == T0);
}

static void test_commit_prefix(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob;
	struct commits c = {0};

	begin_write(f);
	blob = blob_default(f);
	put_commit(f, H("abc2"), "t", NULL, blob, T0);
	put_commit(f, H("abc1"), "t", NULL, blob, T0 + 1);
	put_commit(f, H("abd0"), "t", NULL, blob, T0 + 2);
	put_commit(f, H("abc3"), "other", NULL, blob, T0 + 3);
	put_commit(f, H("ab0f"), "t", NULL, blob, T0 + 4);
	commit_txn(f);

	assert_int_equal(f->be->commit_prefix(f->c, "t", "abc", 10, on_commit, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.r[0].commit_hash, H("abc1"));
	assert_string_equal(c.r[1].commit_hash, H("abc2"));

	c.n = 0;
	assert_int_equal(f->be->commit_prefix(f->c, "t", "ab", 10, on_commit, &c), 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.r[0].commit_hash, H("ab0f"));
	assert_string_equal(c.r[3].commit_hash, H("abd0"));

	c.n = 0;
	assert_int_equal(f->be->commit_prefix(f->c, "t", "ab", 2, on_commit, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.r[1].commit_hash, H("abc1"));

	c.n = 0;
	assert_int_equal(f->be->commit_prefix(f->c, "t", H("abc2"), 10, on_commit, &c), 0);
	assert_int_equal(c.n, 1);

	/* Literal: SQL wildcards match nothing. */
	c.n = 0;
	assert_int_equal(f->be->commit_prefix(f->c, "t", "____", 10, on_commit, &c), 0);
	assert_int_equal(f->be->commit_prefix(f->c, "t", "%", 10, on_commit, &c), 0);
	assert_int_equal(f->be->commit_prefix(f->c, "t", "ab%", 10, on_commit, &c), 0);
	assert_int_equal(f->be->commit_prefix(f->c, "t", "a_c", 10, on_commit, &c), 0);
	assert_int_equal(f->be->commit_prefix(f->c, "t", "abc*", 10, on_commit, &c), 0);
	assert_int_equal(f->be->commit_prefix(f->c, "t", "ABC", 10, on_commit, &c), 0);
	assert_int_equal(f->be->commit_prefix(f->c, "nobody", "abc", 10, on_commit, &c), 0);
	assert_int_equal(c.n, 0);

	/* Restricted to the tract. */
	assert_int_equal(f->be->commit_prefix(f->c, "other", "abc", 10, on_commit, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.r[0].commit_hash, H("abc3"));
}

static void test_commit_foreach_order(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob;
	struct commits c = {0};

	begin_write(f);
	blob = blob_default(f);
	put_commit(f, H("c3"), "t", NULL, blob, T0 + 3 * SEC);
	put_commit(f, H("c1"), "t", NULL, blob, T0 + 1 * SEC);
	put_commit(f, H("c2b"), "t", NULL, blob, T0 + 2 * SEC);
	put_commit(f, H("c2a"), "t", NULL, blob, T0 + 2 * SEC);
	put_commit(f, H("d0"), "u", NULL, blob, T0);
	commit_txn(f);

	assert_int_equal(f->be->commit_foreach(f->c, "t", on_commit, &c), 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.r[0].commit_hash, H("c1"));
	assert_string_equal(c.r[1].commit_hash, H("c2a"));
	assert_string_equal(c.r[2].commit_hash, H("c2b"));
	assert_string_equal(c.r[3].commit_hash, H("c3"));

	c.n = 0;
	assert_int_equal(f->be->commit_foreach(f->c, NULL, on_commit, &c), 0);
	assert_int_equal(c.n, 5);
	assert_string_equal(c.r[0].commit_hash, H("d0"));

	c.n = 0;
	c.stop_after = 2;
	assert_int_equal(f->be->commit_foreach(f->c, NULL, on_commit, &c), 0);
	assert_int_equal(c.n, 2);
}

static void test_commit_foreach_with_config(void **state)
{
	struct conf *f = STORE(*state);
	const char *blob;
	tract_commit_row r;
	struct commits c = {0};

	begin_write(f);
	blob = blob_default(f);
	r = commit_row(H("c2"), "t", NULL, blob, T0 + 2 * SEC);
	r.generation_config_json = "{\"temperature\": 0.2}";
	assert_int_equal(f->be->commit_put(f->c, &r), 0);
	put_commit(f, H("c0"), "t", NULL, blob, T0);
	r = commit_row(H("c1"), "t", NULL, blob, T0 + 1 * SEC);
	r.generation_config_json = "{}";
	assert_int_equal(f->be->commit_put(f->c, &r), 0);
	r = commit_row(H("d1"), "u", NULL, blob, T0);
	r.generation_config_json = "{\"model\": \"x\"}";
	assert_int_equal(f->be->commit_put(f->c, &r), 0);
	commit_txn(f);

	assert_int_equal(f->be->commit_foreach_with_config(f->c, "t", on_commit, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.r[0].commit_hash, H("c1"));
	assert_string_equal(c.r[0].generation_config_json, "{}");
	assert_string_equal(c.r[1].commit_hash, H("c2"));
	assert_string_equal(c.r[1].generation_config_json, "{\"temperature\": 0.2}");
}

/* A lookup whose callback stops (returns > 0) still found the row: 0. */
static int stop_at_once(const tract_commit_row *row, void *payload)
{
	(*(int *)payload)++;
	return row ? 1 : 0;
}

static void test_commit_get_callback_stops(void **state)
{
	struct conf *f = STORE(*state);
	const char *h[1];
	int calls = 0;

	begin_write(f);
	put_linear(f, "t", "a", 1, blob_default(f), h);
	commit_txn(f);
	assert_int_equal(f->be->commit_get(f->c, "t", h[0], stop_at_once, &calls), 0);
	assert_int_equal(f->be->commit_get(f->c, NULL, h[0], stop_at_once, &calls), 0);
	assert_int_equal(calls, 2);
}

const struct conf_test tract_conf_rows_tests[] = {
	CONF_TEST(test_open_create_and_reopen, 0),
	CONF_TEST(test_open_missing_is_enotfound, CONF_NEEDS_MISSING_URI),
	CONF_TEST(test_null_arguments, 0),
	CONF_TEST(test_blob_put_dedup, 0),
	CONF_TEST(test_blob_get_foreach_delete, 0),
	CONF_TEST(test_commit_put_get, 0),
	CONF_TEST(test_commit_put_errors, 0),
	CONF_TEST(test_commit_prefix, 0),
	CONF_TEST(test_commit_foreach_order, 0),
	CONF_TEST(test_commit_foreach_with_config, 0),
	CONF_TEST(test_commit_get_callback_stops, 0),
	{NULL, NULL, 0},
};
