/*
 * helpers.h - shared fixtures of the core tests: a fresh store per test on
 * the backend of TRACT_TEST_BACKEND (teststore.h; SQLite by default), raw
 * row counts through the backend, quick commits.
 */
#ifndef TRACT_TEST_HELPERS_H
#define TRACT_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "teststore.h"
#include "testutil.h"

typedef struct {
	ts_store loc;   /* where the store lives (directory or schema) */
	char dir[256];  /* its temporary directory ("" on PostgreSQL) */
	char uri[600];
	tract_store *store;
	tract *t;
} fx;

/* A fresh store with one tract; opts may be NULL. */
static inline fx *fx_new(const tract_open_options *opts)
{
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	if (ts_fresh(&f->loc, "test") != 0)
		fail_msg("no fresh %s store", ts_backend());
	memcpy(f->dir, f->loc.dir, sizeof(f->dir));
	memcpy(f->uri, f->loc.uri, sizeof(f->uri));
	if (tract_store_open(&f->store, f->uri, TRACT_STORE_CREATE) != 0)
		fail_msg("store: %s", tract_error_last()->message);
	if (tract_create(&f->t, f->store, NULL, NULL, opts) != 0)
		fail_msg("create: %s", tract_error_last()->message);
	return f;
}

static inline void fx_free(fx *f)
{
	tract_free(f->t);
	tract_store_free(f->store);
	ts_destroy(&f->loc);
	free(f);
}

static int fx_count_cb(const void *row, void *payload)
{
	(void)row;
	(*(int *)payload)++;
	return 0;
}

/* Rows in the store: commits, blobs, annotations, refs (for "nothing written"). */
typedef struct {
	int commits, blobs, annotations, refs;
} fx_counts;

static inline fx_counts fx_count(fx *f)
{
	fx_counts c = {0, 0, 0, 0};
	tract_store *s = f->store;

	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_READ), 0);
	assert_int_equal(s->be->commit_foreach(s->conn, NULL, (tract_commit_cb)fx_count_cb,
					       &c.commits),
			 0);
	assert_int_equal(s->be->blob_foreach(s->conn, (tract_blob_cb)fx_count_cb, &c.blobs), 0);
	assert_int_equal(s->be->annotation_foreach(s->conn, NULL,
						   (tract_annotation_cb)fx_count_cb,
						   &c.annotations),
			 0);
	assert_int_equal(s->be->ref_foreach(s->conn, NULL, NULL, (tract_ref_cb)fx_count_cb,
					    &c.refs),
			 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	return c;
}

static inline void fx_assert_same_counts(fx_counts a, fx_counts b)
{
	assert_int_equal(a.commits, b.commits);
	assert_int_equal(a.blobs, b.blobs);
	assert_int_equal(a.annotations, b.annotations);
	assert_int_equal(a.refs, b.refs);
}

/* Commit JSON content; fails the test on error; returns the hash in out. */
static inline void fx_commit(fx *f, char out[65], const char *json, const tract_commit_options *o)
{
	tract_commit *c = NULL;

	if (tract_commit_create(&c, f->t, json, o) != 0)
		fail_msg("commit %s: %s", json, tract_error_last()->message);
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static inline void fx_say(fx *f, char out[65], const char *role, const char *text)
{
	tract_commit *c = NULL;

	if (tract_commit_create_dialogue(&c, f->t, role, text, NULL, NULL) != 0)
		fail_msg("dialogue: %s", tract_error_last()->message);
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static inline tract_context *fx_compile(fx *f, const tract_compile_options *o)
{
	tract_context *ctx = NULL;

	if (tract_context_compile(&ctx, f->t, o) != 0)
		fail_msg("compile: %s", tract_error_last()->message);
	return ctx;
}

#endif
