/*
 * conformance.c - the backend conformance suite: the same tests run against
 * every storage backend, at the ABI of tract/sys/backend.h, through the
 * store factory of conformance.h. Every test gets a fresh, empty store from
 * the factory; behaviour only some backends have is told by its flags.
 *
 * A backend may hold a write back and send it with a later call of the
 * transaction (backend.h): a refused write (an existing commit, a lost
 * compare-and-swap, a missing row it names) fails at the call or, at the
 * latest, at commit(), and then nothing of the transaction is written.
 * expect_txn_fails() accepts either when the factory says so.
 *
 * Only public headers, cmocka and libc: this file must build out of tree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conformance.h"

/* 2024-01-02 03:04:05 UTC, in microseconds. */
#define T0 (INT64_C(1704164645) * 1000000)
#define SEC INT64_C(1000000)

/* ---- fixture -------------------------------------------------------------- */

/* The factory of the running suite (cmocka tests take no argument). */
static const tract_conformance_factory *factory;

struct conf {
	char *location; /* the fresh store's URI, as handed to open() */
	void *cookie;   /* the factory's, for destroy_store() */
	const tract_backend *be;
	tract_backend_conn *c;
};

/* Strings kept for the current test, freed at teardown. */
static char **kept;
static size_t n_kept, cap_kept;

static char *keep_owned(char *s)
{
	if (n_kept == cap_kept) {
		cap_kept = cap_kept ? cap_kept * 2 : 64;
		kept = realloc(kept, cap_kept * sizeof(*kept));
		assert_non_null(kept);
	}
	kept[n_kept++] = s;
	return s;
}

/* A copy of s (NULL stays NULL) that lives until the end of the test. */
static char *keep(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	assert_non_null(d);
	return keep_owned(d);
}

__attribute__((format(printf, 1, 2))) static char *keepf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	return keep_owned(s);
}

static void free_kept(void)
{
	size_t i;

	for (i = 0; i < n_kept; i++)
		free(kept[i]);
	free(kept);
	kept = NULL;
	n_kept = cap_kept = 0;
}

static bool has_flag(unsigned flag)
{
	return (factory->flags & flag) != 0;
}

/* The deletion members are OPTIONAL (all five or none, checked by run). */
static bool has_deletion(const struct conf *f)
{
	return f->be->commit_delete != NULL;
}

/* A location of the backend that does not exist (NULL: not applicable);
 * *path the file-system entry that must stay absent (NULL: none). */
static const char *conf_missing_location(const struct conf *f, const char **path)
{
	char *uri, *p = NULL;

	*path = NULL;
	if (!factory->missing_uri)
		return NULL;
	uri = factory->missing_uri(factory->self, f->cookie, &p);
	if (p)
		*path = keep_owned(p);
	return uri ? keep_owned(uri) : NULL;
}

static int open_store(struct conf *f, unsigned flags)
{
	char err[512] = "";
	int rc = f->be->open(&f->c, f->location, flags, err, sizeof(err));

	if (rc < 0)
		print_error("open %s: %s\n", f->location, err);
	return rc;
}

static int setup(void **state)
{
	struct conf *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->be = factory->backend;
	f->location = factory->fresh_uri(factory->self, &f->cookie);
	if (f->location)
		assert_int_equal(open_store(f, TRACT_BACKEND_CREATE), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct conf *f = *state;

	if (f->be && f->c)
		f->be->close(f->c);
	if (f->location && factory->destroy_store)
		factory->destroy_store(factory->self, f->cookie);
	free(f->location);
	free(f);
	free_kept();
	return 0;
}

/* Each test starts with this: the store, or a skip when none can be made. */
#define STORE(state)                                                                               \
	((struct conf *)(state))->c ? (struct conf *)(state) : (skip(), (struct conf *)NULL)

/* ---- helpers -------------------------------------------------------------- */

/* A 64-character hash: stem padded with '0'. */
static const char *H(const char *stem)
{
	return keepf("%s%0*d", stem, (int)(64 - strlen(stem)), 0);
}

static void begin_write(struct conf *f)
{
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_WRITE), 0);
}

static void commit_txn(struct conf *f)
{
	int rc = f->be->commit(f->c);

	if (rc != 0)
		print_error("commit: %s\n", f->be->last_error(f->c));
	assert_int_equal(rc, 0);
}

/*
 * rc is the result of a write that must be refused with code (0: any
 * failure): at the call, or else by commit() when the backend holds writes
 * back. Either way the transaction is then rolled back.
 */
static void expect_txn_fails(struct conf *f, int rc, int code)
{
	if (rc == 0) {
		if (!has_flag(TRACT_CONF_HOLDS_BACK_WRITES))
			fail_msg("a refused write returned 0 (a backend that reports it later "
				 "sets TRACT_CONF_HOLDS_BACK_WRITES)");
		rc = f->be->commit(f->c);
	}
	if (code)
		assert_int_equal(rc, code);
	else
		assert_true(rc < 0);
	assert_true(strlen(f->be->last_error(f->c)) > 0);
	assert_int_equal(f->be->rollback(f->c), 0);
}

static void put_blob_at(struct conf *f, const char *hash, const char *payload, tract_time t)
{
	tract_blob_row b = {
		.content_hash = hash,
		.payload_json = payload,
		.byte_size = (int64_t)strlen(payload),
		.token_count = 3,
		.created_at = t,
	};
	int inserted = -1;

	assert_int_equal(f->be->blob_put(f->c, &b, &inserted), 0);
}

static const char *blob_default(struct conf *f)
{
	const char *h = H("b10b");

	put_blob_at(f, h, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"hi\"}", T0);
	return h;
}

static tract_commit_row commit_row(const char *hash, const char *tract, const char *parent,
				   const char *blob, tract_time t)
{
	tract_commit_row r = {
		.commit_hash = hash,
		.tract_id = tract,
		.parent_hash = parent,
		.content_hash = blob,
		.content_type = "dialogue",
		.operation = TRACT_OP_APPEND,
		.token_count = 7,
		.created_at = t,
	};

	return r;
}

static void put_commit(struct conf *f, const char *hash, const char *tract, const char *parent,
		       const char *blob, tract_time t)
{
	tract_commit_row r = commit_row(hash, tract, parent, blob, t);

	assert_int_equal(f->be->commit_put(f->c, &r), 0);
}

/* Build a linear chain stem0 <- stem1 <- ... in tract; hashes[i] out. */
static void put_linear(struct conf *f, const char *tract, const char *stem, int n,
		       const char *blob, const char **hashes)
{
	const char *parent = NULL;
	int i;

	for (i = 0; i < n; i++) {
		hashes[i] = H(keepf("%s%02x", stem, i));
		put_commit(f, hashes[i], tract, parent, blob, T0 + i * SEC);
		parent = hashes[i];
	}
}

/* ---- collectors ----------------------------------------------------------- */

#define MAXROWS 64

struct commits {
	size_t n;
	tract_commit_row r[MAXROWS];
	int stop_after; /* > 0: return 1 after that many rows */
};

static void copy_commit(tract_commit_row *d, const tract_commit_row *s)
{
	*d = *s;
	d->commit_hash = keep(s->commit_hash);
	d->tract_id = keep(s->tract_id);
	d->parent_hash = keep(s->parent_hash);
	d->content_hash = keep(s->content_hash);
	d->content_type = keep(s->content_type);
	d->response_to = keep(s->response_to);
	d->message = keep(s->message);
	d->metadata_json = keep(s->metadata_json);
	d->generation_config_json = keep(s->generation_config_json);
}

static int on_commit(const tract_commit_row *row, void *payload)
{
	struct commits *c = payload;

	assert_true(c->n < MAXROWS);
	copy_commit(&c->r[c->n++], row);
	return c->stop_after > 0 && (int)c->n >= c->stop_after;
}

static tract_commit_row get_commit(struct conf *f, const char *tract, const char *hash)
{
	struct commits c = {0};

	assert_int_equal(f->be->commit_get(f->c, tract, hash, on_commit, &c), 0);
	assert_int_equal(c.n, 1);
	return c.r[0];
}

struct chain {
	size_t n;
	tract_commit_row r[MAXROWS];
	const char *payload[MAXROWS];
	tract_priority prio[MAXROWS];
	const char *extra[MAXROWS]; /* extra parents joined with ',' */
	size_t n_extra[MAXROWS];
	int stop_after;
	int fail_with;
};

static int on_chain(const tract_chain_row *row, void *payload)
{
	struct chain *c = payload;
	char *joined = keep("");
	size_t i;

	assert_true(c->n < MAXROWS);
	copy_commit(&c->r[c->n], &row->commit);
	c->payload[c->n] = keep(row->payload_json);
	c->prio[c->n] = row->priority;
	for (i = 0; i < row->n_extra_parents; i++)
		joined = keepf("%s%s%s", joined, i ? "," : "", row->extra_parents[i]);
	c->extra[c->n] = joined;
	c->n_extra[c->n] = row->n_extra_parents;
	c->n++;
	if (c->fail_with && (int)c->n >= c->stop_after)
		return c->fail_with;
	return c->stop_after > 0 && (int)c->n >= c->stop_after;
}

struct refs {
	size_t n;
	tract_ref_row r[MAXROWS];
};

static int on_ref(const tract_ref_row *row, void *payload)
{
	struct refs *c = payload;
	tract_ref_row *d = &c->r[c->n++];

	assert_true(c->n <= MAXROWS);
	d->tract_id = keep(row->tract_id);
	d->ref_name = keep(row->ref_name);
	d->commit_hash = keep(row->commit_hash);
	d->symbolic_target = keep(row->symbolic_target);
	return 0;
}

static tract_ref_row get_ref(struct conf *f, const char *tract, const char *name)
{
	struct refs c = {0};

	assert_int_equal(f->be->ref_get(f->c, tract, name, on_ref, &c), 0);
	assert_int_equal(c.n, 1);
	return c.r[0];
}

struct strings {
	size_t n;
	const char *s[MAXROWS];
	int64_t num[MAXROWS];
};

static int on_blob(const tract_blob_row *row, void *payload)
{
	struct strings *c = payload;

	assert_true(c->n < MAXROWS);
	c->num[c->n] = row->created_at;
	c->s[c->n++] = keepf("%s|%s|%lld|%lld", row->content_hash, row->payload_json,
			     (long long)row->byte_size, (long long)row->token_count);
	return 0;
}

static int on_parent(const char *commit_hash, const char *parent_hash, int64_t position,
		     void *payload)
{
	struct strings *c = payload;

	assert_true(c->n < MAXROWS);
	c->num[c->n] = position;
	c->s[c->n++] = keepf("%s>%s", commit_hash, parent_hash);
	return 0;
}

static int on_member(const char *compression_id, const char *commit_hash, int64_t position,
		     void *payload)
{
	return on_parent(compression_id, commit_hash, position, payload);
}

static int on_meta(const char *key, const char *value, void *payload)
{
	struct strings *c = payload;

	assert_true(c->n < MAXROWS);
	c->s[c->n++] = keepf("%s=%s", key, value);
	return 0;
}

struct annotations {
	size_t n;
	tract_annotation_row r[MAXROWS];
};

static int on_annotation(const tract_annotation_row *row, void *payload)
{
	struct annotations *c = payload;
	tract_annotation_row *d = &c->r[c->n++];

	assert_true(c->n <= MAXROWS);
	*d = *row;
	d->tract_id = keep(row->tract_id);
	d->target_hash = keep(row->target_hash);
	d->reason = keep(row->reason);
	return 0;
}

struct compressions {
	size_t n;
	tract_compression_row r[MAXROWS];
};

static int on_compression(const tract_compression_row *row, void *payload)
{
	struct compressions *c = payload;
	tract_compression_row *d = &c->r[c->n++];

	assert_true(c->n <= MAXROWS);
	*d = *row;
	d->compression_id = keep(row->compression_id);
	d->tract_id = keep(row->tract_id);
	d->branch_name = keep(row->branch_name);
	d->instructions = keep(row->instructions);
	return 0;
}

struct spawns {
	size_t n;
	tract_spawn_row r[MAXROWS];
};

static int on_spawn(const tract_spawn_row *row, void *payload)
{
	struct spawns *c = payload;
	tract_spawn_row *d = &c->r[c->n++];

	assert_true(c->n <= MAXROWS);
	*d = *row;
	d->parent_tract_id = keep(row->parent_tract_id);
	d->parent_commit_hash = keep(row->parent_commit_hash);
	d->child_tract_id = keep(row->child_tract_id);
	d->purpose = keep(row->purpose);
	d->inheritance_mode = keep(row->inheritance_mode);
	d->display_name = keep(row->display_name);
	return 0;
}

struct tracts {
	size_t n;
	tract_tract_row r[MAXROWS];
};

static int on_tract(const tract_tract_row *row, void *payload)
{
	struct tracts *c = payload;
	tract_tract_row *d = &c->r[c->n++];

	assert_true(c->n <= MAXROWS);
	*d = *row;
	d->tract_id = keep(row->tract_id);
	return 0;
}

static const tract_tract_row *find_tract(const struct tracts *t, const char *id)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->r[i].tract_id, id) == 0)
			return &t->r[i];
	return NULL;
}

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
		skip();
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

static void put_annotation(struct conf *f, const char *target, tract_priority p, tract_time t,
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

	if (has_flag(TRACT_CONF_SINGLE_CONNECTION))
		skip();
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

	if (!has_deletion(f))
		skip();
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

	if (has_flag(TRACT_CONF_SINGLE_CONNECTION))
		skip();
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

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

/* The members every table must set (backend.h: REQUIRED). */
static const char *missing_member(const tract_backend *be)
{
#define REQUIRE(m)                                                                                 \
	if (!be->m)                                                                                \
		return #m;
	REQUIRE(name);
	REQUIRE(schemes);
	REQUIRE(open);
	REQUIRE(close);
	REQUIRE(last_error);
	REQUIRE(begin);
	REQUIRE(commit);
	REQUIRE(rollback);
	REQUIRE(blob_put);
	REQUIRE(blob_get);
	REQUIRE(blob_foreach);
	REQUIRE(commit_put);
	REQUIRE(commit_get);
	REQUIRE(commit_prefix);
	REQUIRE(commit_chain);
	REQUIRE(commit_foreach);
	REQUIRE(commit_foreach_with_config);
	REQUIRE(parent_put);
	REQUIRE(parent_list);
	REQUIRE(parent_foreach);
	REQUIRE(ref_get);
	REQUIRE(ref_cas);
	REQUIRE(ref_delete);
	REQUIRE(ref_foreach);
	REQUIRE(annotation_put);
	REQUIRE(annotation_list);
	REQUIRE(annotation_foreach);
	REQUIRE(compression_put);
	REQUIRE(compression_member_put);
	REQUIRE(compression_get);
	REQUIRE(compression_foreach);
	REQUIRE(compression_members);
	REQUIRE(spawn_put);
	REQUIRE(spawn_foreach);
	REQUIRE(spawn_by_child);
	REQUIRE(meta_get);
	REQUIRE(meta_set);
	REQUIRE(meta_delete);
	REQUIRE(meta_foreach);
	REQUIRE(tract_foreach);
#undef REQUIRE
	if (!be->schemes[0])
		return "schemes (the list is empty)";
	return NULL;
}

/* A scheme or a name: 2 to 31 letters, digits, '_' or '-' (backend.h). */
static bool valid_word(const char *s)
{
	size_t n = strlen(s);

	return n >= 2 && n <= 31 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* The table is usable by the suite: what the core's loader checks too. */
static int check_table(const tract_conformance_factory *f)
{
	const tract_backend *be = f->backend;
	const char *missing;
	int deletion;
	size_t i;

	if (!be || !f->fresh_uri) {
		fprintf(stderr, "%s: the factory has no backend table or no fresh_uri\n",
			f->name ? f->name : "conformance");
		return -1;
	}
	if (be->version < 1 || be->version > TRACT_BACKEND_VERSION) {
		fprintf(stderr, "%s: backend ABI version %u, this kit knows 1 to %d\n", f->name,
			be->version, TRACT_BACKEND_VERSION);
		return -1;
	}
	missing = missing_member(be);
	if (missing) {
		fprintf(stderr, "%s: the table lacks the required member %s\n", f->name, missing);
		return -1;
	}
	for (i = 0; be->schemes[i]; i++) {
		if (!valid_word(be->schemes[i])) {
			fprintf(stderr, "%s: invalid URI scheme '%.40s' (2 to 31 letters, digits, "
				"'_' or '-')\n", f->name, be->schemes[i]);
			return -1;
		}
	}
	deletion = !!be->commit_delete + !!be->blob_delete + !!be->annotation_delete_target +
		   !!be->compression_delete + !!be->spawn_delete;
	if (deletion != 0 && deletion != 5) {
		fprintf(stderr, "%s: the deletion members are all set or all NULL\n", f->name);
		return -1;
	}
	return 0;
}

int tract_conformance_run(const tract_conformance_factory *f)
{
	const struct CMUnitTest tests[] = {
		T(test_open_create_and_reopen),
		T(test_open_missing_is_enotfound),
		T(test_null_arguments),
		T(test_blob_put_dedup),
		T(test_blob_get_foreach_delete),
		T(test_commit_put_get),
		T(test_commit_put_errors),
		T(test_commit_prefix),
		T(test_commit_foreach_order),
		T(test_commit_foreach_with_config),
		T(test_chain_order_limit_stop),
		T(test_chain_tract_restriction),
		T(test_chain_payload),
		T(test_chain_priority),
		T(test_chain_extra_parents),
		T(test_chain_long),
		T(test_chain_long_matches_limited),
		T(test_chain_long_branches),
		T(test_chain_long_interleaved_tracts),
		T(test_chain_long_stop),
		T(test_parents),
		T(test_ref_cas),
		T(test_ref_cas_two_connections),
		T(test_ref_delete),
		T(test_ref_foreach_prefix),
		T(test_annotations),
		T(test_compressions),
		T(test_spawn),
		T(test_meta),
		T(test_tract_foreach),
		T(test_commit_delete_set_null),
		T(test_rollback_discards_everything),
		T(test_failed_write_then_rollback),
		T(test_transaction_rules),
		T(test_read_snapshot),
		T(test_timestamps_round_trip),
		T(test_sql_metacharacters),
		T(test_unicode),
		T(test_reentrant_callbacks),
	};
	int failed;

	if (!f || check_table(f) < 0)
		return -1;
	factory = f;
	failed = cmocka_run_group_tests_name(f->name, tests, NULL, NULL);
	factory = NULL;
	return failed;
}
