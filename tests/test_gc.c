/*
 * test_gc.c - garbage collection (spec/agents.md §3 with DECISIONS.md) on
 * the backend of TRACT_TEST_BACKEND: roots (branches, tags, HEAD attached
 * or detached, one branch only, spawn points, collapse commits and what
 * they summarized), retention of orphans and archives, compression
 * records rewritten, refs and blobs removed with their commits, nothing
 * written by a dry run or a failure, links of surviving commits intact.
 */
#include "helpers.h"

#include "tract/gc.h"

/* ---- refs written the way a reset or checkout leaves them ---- */

typedef struct {
	char hash[65], sym[300];
	int found;
} ref_copy;

static int ref_copy_cb(const tract_ref_row *row, void *payload)
{
	ref_copy *r = payload;

	r->found = 1;
	snprintf(r->hash, sizeof(r->hash), "%s", row->commit_hash ? row->commit_hash : "");
	snprintf(r->sym, sizeof(r->sym), "%s", row->symbolic_target ? row->symbolic_target : "");
	return 0;
}

static ref_copy get_ref(fx *f, const char *name)
{
	tract_store *s = f->store;
	ref_copy r;
	int rc;

	memset(&r, 0, sizeof(r));
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_READ), 0);
	rc = s->be->ref_get(s->conn, f->t->id, name, ref_copy_cb, &r);
	assert_true(rc == 0 || rc == TRACT_ENOTFOUND);
	assert_int_equal(s->be->commit(s->conn), 0);
	return r;
}

/* Set ref name of the tract to a hash (or a symbolic target). */
static void set_ref(fx *f, const char *name, const char *hash, const char *sym)
{
	tract_store *s = f->store;
	ref_copy cur = get_ref(f, name);
	tract_ref_row exp;

	memset(&exp, 0, sizeof(exp));
	exp.commit_hash = cur.hash[0] ? cur.hash : NULL;
	exp.symbolic_target = cur.sym[0] ? cur.sym : NULL;
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(s->be->ref_cas(s->conn, f->t->id, name, hash, sym, cur.found ? &exp : NULL),
			 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	s->cache_epoch++;
}

static int count_member(const char *id, const char *hash, int64_t position, void *payload)
{
	(void)id;
	(void)hash;
	(void)position;
	(*(int *)payload)++;
	return 0;
}

static int commit_exists(fx *f, const char *hash)
{
	tract_store *s = f->store;
	int n = 0, rc;

	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_READ), 0);
	rc = s->be->commit_get(s->conn, f->t->id, hash, (tract_commit_cb)fx_count_cb, &n);
	assert_true(rc == 0 || rc == TRACT_ENOTFOUND);
	assert_int_equal(s->be->commit(s->conn), 0);
	return n == 1;
}

static int fsck_errors(fx *f)
{
	tract_fsck_report *rep = NULL;
	size_t errors;

	assert_int_equal(tract_fsck_run(&rep, f->store), 0);
	errors = rep->errors;
	for (size_t i = 0; i < rep->count; i++)
		fprintf(stderr, "fsck: %s\n", rep->problems[i].message);
	tract_fsck_report_free(rep);
	return (int)errors;
}

static tract_gc_result *gc(fx *f, double orphan_days, double archive_days, const char *branch,
			   int dry_run)
{
	tract_gc_options o = TRACT_GC_OPTIONS_INIT;
	tract_gc_result *r = NULL;

	o.orphan_retention_days = orphan_days;
	o.archive_retention_days = archive_days;
	o.branch = branch;
	o.dry_run = dry_run;
	if (tract_gc(&r, f->t, &o) != 0)
		fail_msg("gc: %s", tract_error_last()->message);
	return r;
}

static char *compile_json(fx *f)
{
	tract_context *ctx = fx_compile(f, NULL);
	char *out = NULL;

	assert_int_equal(tract_context_render(&out, ctx, TRACT_FORMAT_JSON), 0);
	tract_context_free(ctx);
	return out;
}

/* Five commits on main: h[0] .. h[4]. */
static void five(fx *f, char h[5][65])
{
	char text[16];

	for (int i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		fx_say(f, h[i], "user", text);
	}
}

static void test_nothing_to_collect(void **state)
{
	fx *f = fx_new(NULL);
	char h[5][65];
	tract_gc_result *r;

	(void)state;
	r = gc(f, 0, 0, NULL, 0); /* empty tract */
	assert_int_equal(r->commits_removed, 0);
	tract_gc_result_free(r);
	five(f, h);
	r = gc(f, 0, 0, NULL, 0);
	assert_int_equal(r->commits_removed, 0);
	assert_int_equal(r->blobs_removed, 0);
	assert_int_equal(r->tokens_freed, 0);
	assert_int_equal(r->archives_removed, 0);
	assert_null(r->removed);
	tract_gc_result_free(r);
	for (int i = 0; i < 5; i++)
		assert_true(commit_exists(f, h[i]));
	fx_free(f);
}

/* reset to the first of five commits, then gc(0): four go with their rows. */
static void test_reset_then_collect(void **state)
{
	fx *f = fx_new(NULL);
	char h[5][65], *before, *after;
	tract_gc_result *r;
	fx_counts c0, c1;

	(void)state;
	five(f, h);
	assert_int_equal(tract_annotation_create(NULL, f->t, h[3], TRACT_PRIORITY_SKIP, "x"), 0);
	set_ref(f, "refs/heads/main", h[0], NULL);
	set_ref(f, "ORIG_HEAD", h[4], NULL);
	before = compile_json(f);

	/* retention 7: the orphans are too young */
	r = gc(f, 7, -1, NULL, 0);
	assert_int_equal(r->commits_removed, 0);
	tract_gc_result_free(r);

	/* a dry run lists them, oldest first, and writes nothing */
	c0 = fx_count(f);
	r = gc(f, 0, -1, NULL, 1);
	assert_int_equal(r->commits_removed, 4);
	assert_true(r->dry_run);
	for (int i = 0; i < 4; i++)
		assert_string_equal(r->removed[i], h[i + 1]);
	assert_int_equal(r->blobs_removed, 0);
	tract_gc_result_free(r);
	fx_assert_same_counts(c0, fx_count(f));

	r = gc(f, 0, -1, NULL, 0);
	assert_int_equal(r->commits_removed, 4);
	assert_int_equal(r->blobs_removed, 4);
	assert_true(r->tokens_freed > 0);
	tract_gc_result_free(r);
	c1 = fx_count(f);
	assert_int_equal(c1.commits, c0.commits - 4);
	assert_int_equal(c1.blobs, c0.blobs - 4);
	assert_int_equal(c1.annotations, c0.annotations - 1); /* the SKIP of h[3] */
	assert_int_equal(c1.refs, c0.refs - 1);               /* ORIG_HEAD */
	assert_false(get_ref(f, "ORIG_HEAD").found);
	for (int i = 1; i < 5; i++)
		assert_false(commit_exists(f, h[i]));
	assert_true(commit_exists(f, h[0]));
	after = compile_json(f);
	assert_string_equal(before, after); /* compile unchanged */
	free(before);
	free(after);
	assert_int_equal(fsck_errors(f), 0);

	r = gc(f, 0, -1, NULL, 0); /* a second run finds nothing */
	assert_int_equal(r->commits_removed, 0);
	tract_gc_result_free(r);
	fx_free(f);
}

/* Branches and tags are roots; --branch keeps only one branch (and HEAD). */
static void test_branches_tags_and_one_branch(void **state)
{
	fx *f = fx_new(NULL);
	char h[5][65], x[65], y[65];
	tract_gc_result *r;
	fx_counts c0;

	(void)state;
	five(f, h);
	/* feature: two commits on top of h[2] */
	set_ref(f, "refs/heads/feature", h[2], NULL);
	set_ref(f, "HEAD", NULL, "refs/heads/feature");
	fx_say(f, x, "user", "f1");
	fx_say(f, y, "user", "f2");
	set_ref(f, "HEAD", NULL, "refs/heads/main");
	set_ref(f, "refs/tags/v1", h[4], NULL);

	r = gc(f, 0, 0, NULL, 0);
	assert_int_equal(r->commits_removed, 0); /* feature keeps x and y */
	tract_gc_result_free(r);

	/* an unknown branch is an error and writes nothing (DECISIONS.md) */
	c0 = fx_count(f);
	{
		tract_gc_options o = TRACT_GC_OPTIONS_INIT;
		tract_gc_result *none = (tract_gc_result *)1;
		o.orphan_retention_days = 0;
		o.branch = "typo";
		assert_int_equal(tract_gc(&none, f->t, &o), TRACT_ENOTFOUND);
		assert_null(none);
		assert_non_null(strstr(tract_error_last()->message, "Branch not found: typo"));
		o.branch = NULL;
		o.orphan_retention_days = -1;
		assert_int_equal(tract_gc(&none, f->t, &o), TRACT_EINVAL);
	}
	fx_assert_same_counts(c0, fx_count(f));

	/* main only: x and y go, and the feature ref that pointed at y */
	set_ref(f, "refs/tags/v1", h[1], NULL); /* tags do not count with --branch */
	r = gc(f, 0, 0, "main", 0);
	assert_int_equal(r->commits_removed, 2);
	assert_string_equal(r->removed[0], x);
	assert_string_equal(r->removed[1], y);
	tract_gc_result_free(r);
	assert_false(get_ref(f, "refs/heads/feature").found);
	assert_true(get_ref(f, "refs/tags/v1").found);
	assert_true(commit_exists(f, h[4]));
	assert_int_equal(fsck_errors(f), 0);

	/* a tag alone keeps its history */
	set_ref(f, "refs/tags/v1", h[4], NULL);
	set_ref(f, "refs/heads/main", h[1], NULL);
	r = gc(f, 0, 0, NULL, 0);
	assert_int_equal(r->commits_removed, 0);
	tract_gc_result_free(r);
	fx_free(f);
}

/* A detached HEAD keeps its ancestors; HEAD is a root even with --branch. */
static void test_detached_head(void **state)
{
	fx *f = fx_new(NULL);
	char h[5][65];
	tract_gc_result *r;

	(void)state;
	five(f, h);
	set_ref(f, "refs/heads/side", h[0], NULL);
	set_ref(f, "HEAD", h[3], NULL); /* detached at h[3] */
	set_ref(f, "refs/heads/main", h[0], NULL);
	r = gc(f, 0, 0, "side", 0);
	assert_int_equal(r->commits_removed, 1); /* only h[4] */
	assert_string_equal(r->removed[0], h[4]);
	tract_gc_result_free(r);
	for (int i = 0; i < 4; i++)
		assert_true(commit_exists(f, h[i]));
	assert_int_equal(fsck_errors(f), 0);
	fx_free(f);
}

/* Compression provenance: archives are kept unless their retention says so;
 * records lose the members that go, and go when none is left. */
static void test_archives(void **state)
{
	fx *f = fx_new(NULL);
	tract_store *s = f->store;
	char h[5][65];
	tract_compression_row row;
	tract_gc_result *r;
	int records = 0;

	(void)state;
	five(f, h);
	memset(&row, 0, sizeof(row));
	row.compression_id = "cmp1";
	row.tract_id = f->t->id;
	row.created_at = tract_time_now();
	row.original_tokens = 10;
	row.compressed_tokens = 3;
	row.target_tokens = -1;
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(s->be->compression_put(s->conn, &row), 0);
	assert_int_equal(s->be->compression_member_put(s->conn, TRACT_COMPRESSION_SOURCES, "cmp1",
						       h[3], 0),
			 0);
	assert_int_equal(s->be->compression_member_put(s->conn, TRACT_COMPRESSION_SOURCES, "cmp1",
						       h[4], 1),
			 0);
	assert_int_equal(s->be->compression_member_put(s->conn, TRACT_COMPRESSION_RESULTS, "cmp1",
						       h[1], 0),
			 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	set_ref(f, "refs/heads/main", h[2], NULL); /* h[3], h[4] unreachable */

	r = gc(f, 0, -1, NULL, 0); /* archives kept forever by default */
	assert_int_equal(r->commits_removed, 0);
	tract_gc_result_free(r);
	r = gc(f, 0, 30, NULL, 0); /* younger than 30 days */
	assert_int_equal(r->commits_removed, 0);
	tract_gc_result_free(r);
	r = gc(f, 0, 0, NULL, 0);
	assert_int_equal(r->commits_removed, 2);
	assert_int_equal(r->archives_removed, 2);
	tract_gc_result_free(r);
	/* the record keeps its result member (h[1] is reachable) */
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_READ), 0);
	assert_int_equal(s->be->compression_foreach(s->conn, f->t->id,
						    (tract_compression_cb)fx_count_cb, &records),
			 0);
	{
		int sources = 0, results = 0;
		assert_int_equal(s->be->compression_members(s->conn, TRACT_COMPRESSION_SOURCES,
							    "cmp1", count_member,
							    &sources),
				 0);
		assert_int_equal(s->be->compression_members(s->conn, TRACT_COMPRESSION_RESULTS,
							    "cmp1", count_member,
							    &results),
				 0);
		assert_int_equal(sources, 0);
		assert_int_equal(results, 1);
	}
	assert_int_equal(s->be->commit(s->conn), 0);
	assert_int_equal(records, 1);

	/* once its last member goes, the record goes too */
	set_ref(f, "refs/heads/main", h[0], NULL);
	r = gc(f, 0, 0, NULL, 0);
	assert_int_equal(r->commits_removed, 2); /* h[1] (an archive: a result) and h[2] */
	assert_int_equal(r->archives_removed, 1);
	tract_gc_result_free(r);
	records = 0;
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_READ), 0);
	assert_int_equal(s->be->compression_foreach(s->conn, f->t->id,
						    (tract_compression_cb)fx_count_cb, &records),
			 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	assert_int_equal(records, 0);
	assert_int_equal(fsck_errors(f), 0);
	fx_free(f);
}

/* Spawn points and collapse commits are protected (DECISIONS.md), and so
 * is what a collapse in another tract summarized. */
static void test_spawn_and_collapse_protected(void **state)
{
	fx *f = fx_new(NULL);
	tract_store *s = f->store;
	tract *child = NULL;
	char h[5][65], c1[65], c2[65], c3[65], col[65], meta[300];
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_spawn_row sp;
	tract_commit *c = NULL;
	tract_gc_result *r;

	(void)state;
	five(f, h);
	assert_int_equal(tract_create(&child, s, "kid", NULL, NULL), 0);
	assert_int_equal(tract_commit_create_dialogue(&c, child, "user", "k1", NULL, NULL), 0);
	memcpy(c1, tract_commit_hash(c), 65);
	tract_commit_free(c);
	assert_int_equal(tract_commit_create_dialogue(&c, child, "user", "k2", NULL, NULL), 0);
	memcpy(c2, tract_commit_hash(c), 65);
	tract_commit_free(c);
	assert_int_equal(tract_commit_create_dialogue(&c, child, "user", "k3", NULL, NULL), 0);
	memcpy(c3, tract_commit_hash(c), 65);
	tract_commit_free(c);

	memset(&sp, 0, sizeof(sp));
	sp.parent_tract_id = f->t->id;
	sp.parent_commit_hash = h[1];
	sp.child_tract_id = "kid";
	sp.purpose = "test";
	sp.inheritance_mode = "head_snapshot";
	sp.created_at = tract_time_now();
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(s->be->spawn_put(s->conn, &sp, NULL), 0);
	assert_int_equal(s->be->commit(s->conn), 0);

	/* a collapse commit in the parent naming c2 as what it summarized */
	snprintf(meta, sizeof(meta),
		 "{\"collapse_source_tract_id\": \"kid\", \"collapse_source_head\": \"%s\"}", c2);
	o.metadata_json = meta;
	o.message = "collapse: test";
	fx_commit(f, col, "{\"content_type\": \"dialogue\", \"role\": \"assistant\", \"text\": \"s\"}",
		  &o);

	/* the parent: main back to h[0]; h[1] (spawn point) and the collapse
	 * commit (and so everything below it) stay */
	set_ref(f, "refs/heads/main", h[0], NULL);
	r = gc(f, 0, 0, NULL, 0);
	assert_int_equal(r->commits_removed, 0);
	tract_gc_result_free(r);
	assert_true(commit_exists(f, col));
	assert_true(commit_exists(f, h[1]));

	/* the child: main back to c1; c2 is what the collapse summarized
	 * and stays, c3 goes */
	{
		fx g = *f;
		g.t = child;
		set_ref(&g, "refs/heads/main", c1, NULL);
		r = NULL;
		{
			tract_gc_options go = TRACT_GC_OPTIONS_INIT;
			go.orphan_retention_days = 0;
			assert_int_equal(tract_gc(&r, child, &go), 0);
		}
		assert_int_equal(r->commits_removed, 1);
		assert_string_equal(r->removed[0], c3);
		tract_gc_result_free(r);
	}
	assert_int_equal(fsck_errors(f), 0);
	tract_free(child);
	fx_free(f);
}

/* Two unreachable commits with the same content share one blob: it goes
 * once (blobs_removed counts it once), and gc does not trip over it. */
static void test_shared_blob_of_removed_commits(void **state)
{
	fx *f = fx_new(NULL);
	char h[5][65], a[65], b[65];
	tract_gc_result *r;

	(void)state;
	five(f, h);
	fx_say(f, a, "user", "twin");
	fx_say(f, b, "user", "twin");
	set_ref(f, "refs/heads/main", h[4], NULL);
	r = gc(f, 0, -1, NULL, 0);
	assert_int_equal(r->commits_removed, 2);
	assert_int_equal(r->blobs_removed, 1);
	tract_gc_result_free(r);
	assert_false(commit_exists(f, a));
	assert_false(commit_exists(f, b));
	assert_true(commit_exists(f, h[4]));
	assert_int_equal(fsck_errors(f), 0);
	fx_free(f);
}

/* A commit kept by retention keeps its (older) parent: no surviving commit
 * loses a link (its hash would no longer recompute). A blob another commit
 * still uses stays. */
static void test_survivors_keep_their_links(void **state)
{
	fx *f = fx_new(NULL);
	char h[5][65], old1[65], young[65], dup[65];
	tract_gc_result *r;

	(void)state;
	five(f, h);
	fx_say(f, old1, "user", "m1"); /* same content as h[1]: shared blob */
	fx_say(f, dup, "user", "old-only");
	sleep(2);
	fx_say(f, young, "user", "young");
	set_ref(f, "refs/heads/main", h[4], NULL);
	/* old1, dup are 2 s old, young is not: with a retention of 1 s only
	 * old1 and dup would go, but young needs dup (its parent) and dup
	 * needs old1 */
	r = gc(f, 1.0 / 86400, -1, NULL, 0);
	assert_int_equal(r->commits_removed, 0);
	tract_gc_result_free(r);
	assert_true(commit_exists(f, dup));
	assert_int_equal(fsck_errors(f), 0);

	/* all three go with retention 0; h[1]'s blob (shared by old1) stays */
	r = gc(f, 0, -1, NULL, 0);
	assert_int_equal(r->commits_removed, 3);
	assert_int_equal(r->blobs_removed, 2);
	tract_gc_result_free(r);
	assert_true(commit_exists(f, h[1]));
	assert_int_equal(fsck_errors(f), 0);
	fx_free(f);
}

static void test_result_json(void **state)
{
	fx *f = fx_new(NULL);
	char h[5][65], *json = NULL;
	tract_gc_result *r;

	(void)state;
	five(f, h);
	set_ref(f, "refs/heads/main", h[3], NULL);
	r = gc(f, 0, -1, NULL, 1);
	assert_int_equal(tract_gc_result_to_json(&json, r), 0);
	assert_non_null(strstr(json, "\"dry_run\": true"));
	assert_non_null(strstr(json, "\"commits_removed\": 1"));
	assert_non_null(strstr(json, h[4]));
	tract_string_free(json);
	tract_gc_result_free(r);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nothing_to_collect),
	    cmocka_unit_test(test_reset_then_collect),
	    cmocka_unit_test(test_branches_tags_and_one_branch),
	    cmocka_unit_test(test_detached_head),
	    cmocka_unit_test(test_archives),
	    cmocka_unit_test(test_spawn_and_collapse_protected),
	    cmocka_unit_test(test_survivors_keep_their_links),
	    cmocka_unit_test(test_shared_blob_of_removed_commits),
	    cmocka_unit_test(test_result_json),
	};
	int rc = ts_init("gc");

	if (rc)
		return rc;
	return ts_run("gc", tests, TS_COUNT(tests), NULL, 0);
}
