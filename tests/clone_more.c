/*
 * clone_more.c - clone tests beyond SQLite -> SQLite: a 20k-commit clone in
 * bounded memory, and the round trips through other backends of
 * TRACT_CLONE_TEST_URIS (emptying a store through the deletion calls).
 */
#include "clone_test.h"

/* ------------------------------------------------------------------ */
/* tests: bounded memory                                               */
/* ------------------------------------------------------------------ */

/* Bytes of heap in use by the process. */
static int64_t heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return (int64_t)__sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();
	return (int64_t)(mi.uordblks + mi.hblkhd);
#endif
}

/* Heap in use outside SQLite (whose page caches are bounded by their own
 * cache_size, whatever the store's size). */
static int64_t heap_outside_sqlite(void)
{
	return heap_in_use() - sqlite3_memory_used();
}

typedef struct {
	int64_t base, peak;
	int samples;
} heap_probe;

static int sample_heap(const char *phase, int64_t done, int64_t total, void *payload)
{
	heap_probe *h = payload;
	int64_t v = heap_outside_sqlite() - h->base;

	(void)phase;
	(void)done;
	(void)total;
	if (v > h->peak)
		h->peak = v;
	h->samples++;
	return 0;
}

#define BIG_COMMITS 20000
#define BIG_PAYLOAD 1000

void test_bounded_memory(void **state)
{
	char dir[256], src[300], dst[300];
	static char text[BIG_PAYLOAD + 1];
	tract_clone_options o = TRACT_CLONE_OPTIONS_INIT;
	tract_clone_stats *st = NULL;
	tract_store *s;
	tract *t[4];
	heap_probe hp;
	tract_time t0;
	int i;

	(void)state;
	tmp_dir(dir);
	snprintf(src, sizeof(src), "%s/big.db", dir);
	snprintf(dst, sizeof(dst), "%s/copy.db", dir);
	CHECK_OK(tract_store_open(&s, src, TRACT_STORE_CREATE));
	for (i = 0; i < 4; i++) {
		char id[16];
		snprintf(id, sizeof(id), "big-%d", i);
		CHECK_OK(tract_create(&t[i], s, id, NULL, NULL));
	}
	for (i = 0; i < BIG_COMMITS; i++) {
		tract *tr = t[i % 4];
		if (i % 1000 == 0 && i)
			for (int k = 0; k < 4; k++)
				CHECK_OK(tract_batch_commit(t[k]));
		if (i % 1000 == 0)
			for (int k = 0; k < 4; k++)
				CHECK_OK(tract_batch_begin(t[k]));
		memset(text, 'a' + i % 26, BIG_PAYLOAD);
		snprintf(text, BIG_PAYLOAD, "message %d ", i);
		text[strlen(text)] = 'x';
		text[BIG_PAYLOAD] = '\0';
		CHECK_OK(tract_commit_create_dialogue(NULL, tr, i % 2 ? "assistant" : "user", text, NULL, NULL));
	}
	for (i = 0; i < 4; i++) {
		CHECK_OK(tract_batch_commit(t[i]));
		tract_free(t[i]);
	}
	tract_store_free(s);

	memset(&hp, 0, sizeof(hp));
	hp.base = heap_outside_sqlite();
	o.progress = sample_heap;
	o.progress_payload = &hp;
	t0 = tract_time_now();
	clone_ok(&st, src, dst, &o);
	t0 = tract_time_now() - t0;
	assert_int_equal(st->commits, BIG_COMMITS);
	assert_int_equal(st->blobs, BIG_COMMITS);
	assert_int_equal(st->peak_deferred, 0);
	assert_non_null(st->fsck);
	assert_int_equal(st->fsck->count, 0);
	tract_clone_stats_free(st);
	print_message("clone of %d commits (%d MB of payloads) with fsck: %lld ms, %d heap "
		      "samples, peak heap growth outside SQLite %lld KB\n",
		      BIG_COMMITS, BIG_COMMITS * BIG_PAYLOAD / 1000000, (long long)(t0 / 1000),
		      hp.samples, (long long)(hp.peak / 1024));
	/* Sampled through the copy of the commits, not just at phase ends. */
	assert_true(hp.samples > BIG_COMMITS / 256);
	/* Holding the rows would cost at least their payloads (20 MB). */
	assert_true(hp.peak < 2 * 1024 * 1024);
	tu_remove_dir(dir);
}

/* ------------------------------------------------------------------ */
/* tests: other backends (TRACT_CLONE_TEST_URIS)                       */
/* ------------------------------------------------------------------ */

typedef struct {
	strlist refs_tract, refs_name, ann, comp, blobs, commits, merges, meta;
	strlist spawn; /* ids as text */
} wipe_lists;

static int w_ref(const tract_ref_row *r, void *p)
{
	wipe_lists *w = p;

	sl_add(&w->refs_tract, r->tract_id);
	sl_add(&w->refs_name, r->ref_name);
	return 0;
}

static int w_ann(const tract_annotation_row *r, void *p)
{
	sl_add(&((wipe_lists *)p)->ann, r->target_hash);
	return 0;
}

static int w_comp(const tract_compression_row *r, void *p)
{
	sl_add(&((wipe_lists *)p)->comp, r->compression_id);
	return 0;
}

static int w_spawn(const tract_spawn_row *r, void *p)
{
	char id[32];

	snprintf(id, sizeof(id), "%lld", (long long)r->id);
	sl_add(&((wipe_lists *)p)->spawn, id);
	return 0;
}

static int w_blob(const tract_blob_row *r, void *p)
{
	sl_add(&((wipe_lists *)p)->blobs, r->content_hash);
	return 0;
}

static int w_commit(const tract_commit_row *r, void *p)
{
	sl_add(&((wipe_lists *)p)->commits, r->commit_hash);
	return 0;
}

static int w_merge(const char *c, const char *parent, int64_t pos, void *p)
{
	(void)parent;
	if (pos == 0)
		sl_add(&((wipe_lists *)p)->merges, c);
	return 0;
}

static int w_meta(const char *key, const char *value, void *p)
{
	(void)value;
	if (strncmp(key, "tract:", 6) == 0 || strncmp(key, "custom:", 7) == 0)
		sl_add(&((wipe_lists *)p)->meta, key);
	return 0;
}

static int deleted(int rc)
{
	return rc == 0 || rc == TRACT_ENOTFOUND ? 0 : rc;
}

/* Empty a store through the backend's delete calls (children first). */
static void wipe(const char *uri)
{
	tract_store *s;
	const tract_backend *be;
	wipe_lists w;
	size_t i;

	memset(&w, 0, sizeof(w));
	CHECK_OK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	be = s->be;
	CHECK_OK(be->begin(s->conn, TRACT_TXN_WRITE));
	CHECK_OK(be->ref_foreach(s->conn, NULL, NULL, w_ref, &w));
	CHECK_OK(be->annotation_foreach(s->conn, NULL, w_ann, &w));
	CHECK_OK(be->compression_foreach(s->conn, NULL, w_comp, &w));
	CHECK_OK(be->spawn_foreach(s->conn, NULL, w_spawn, &w));
	CHECK_OK(be->blob_foreach(s->conn, w_blob, &w));
	CHECK_OK(be->commit_foreach(s->conn, NULL, w_commit, &w));
	CHECK_OK(be->parent_foreach(s->conn, w_merge, &w));
	CHECK_OK(be->meta_foreach(s->conn, NULL, w_meta, &w));
	for (i = 0; i < w.refs_name.n; i++)
		CHECK_OK(deleted(be->ref_delete(s->conn, w.refs_tract.names[i], w.refs_name.names[i],
						NULL)));
	for (i = 0; i < w.ann.n; i++)
		CHECK_OK(be->annotation_delete_target(s->conn, w.ann.names[i]));
	for (i = 0; i < w.comp.n; i++)
		CHECK_OK(deleted(be->compression_delete(s->conn, w.comp.names[i])));
	for (i = 0; i < w.spawn.n; i++)
		CHECK_OK(deleted(be->spawn_delete(s->conn, strtoll(w.spawn.names[i], NULL, 10))));
	/* Merge commits newest first, then every commit newest first. */
	for (i = w.merges.n; i-- > 0;)
		CHECK_OK(deleted(be->commit_delete(s->conn, w.merges.names[i])));
	for (i = w.commits.n; i-- > 0;)
		CHECK_OK(deleted(be->commit_delete(s->conn, w.commits.names[i])));
	for (i = 0; i < w.blobs.n; i++)
		CHECK_OK(deleted(be->blob_delete(s->conn, w.blobs.names[i])));
	for (i = 0; i < w.meta.n; i++)
		CHECK_OK(deleted(be->meta_delete(s->conn, w.meta.names[i])));
	CHECK_OK(be->commit(s->conn));
	tract_store_free(s);
	sl_free(&w.refs_tract);
	sl_free(&w.refs_name);
	sl_free(&w.ann);
	sl_free(&w.comp);
	sl_free(&w.spawn);
	sl_free(&w.blobs);
	sl_free(&w.commits);
	sl_free(&w.merges);
	sl_free(&w.meta);
}

/* uri with "{}" replaced by tag (or uri itself), into out. */
static int expand_uri(char *out, size_t len, const char *uri, const char *tag)
{
	const char *ph = strstr(uri, "{}");

	if (!ph) {
		snprintf(out, len, "%s", uri);
		return 0;
	}
	snprintf(out, len, "%.*s%s%s", (int)(ph - uri), uri, tag, ph + 2);
	return 1;
}

static void round_trip(const char *src, const char *uri, const char *dir, const char *label)
{
	static int serial;
	char mid[1024], back[400], tag[64], scheme[32];
	size_t n;

	snprintf(tag, sizeof(tag), "clone%d_%d", (int)getpid(), serial++);
	if (!expand_uri(mid, sizeof(mid), uri, tag))
		wipe(mid);
	snprintf(back, sizeof(back), "%s/back-%s.db", dir, tag);
	/* The scheme alone: the URI may hold a password. */
	n = strcspn(uri, ":");
	n = n < sizeof(scheme) ? n : sizeof(scheme) - 1;
	memcpy(scheme, uri, n);
	scheme[n] = '\0';
	print_message("round trip %s: sqlite -> %s -> sqlite\n", label, scheme);
	clone_ok(NULL, src, mid, NULL);
	compare_stores(src, mid, CMP_META_SUBSET);
	clone_ok(NULL, mid, back, NULL);
	compare_stores(src, back, 0);
	wipe(mid);
}

void test_other_backends(void **state)
{
	const char *env = getenv("TRACT_CLONE_TEST_URIS");
	char dir[256], rich[300], skewed[300], fx[N_FIXTURES][600];
	char *list, *save = NULL, *uri;

	(void)state;
	assert_true(env && *env); /* registered only when set (main) */
	tmp_dir(dir);
	snprintf(rich, sizeof(rich), "%s/rich.db", dir);
	snprintf(skewed, sizeof(skewed), "%s/skewed.db", dir);
	rich_store(rich);
	skewed_store(skewed, 50);
	for (size_t i = 0; i < N_FIXTURES; i++)
		copy_fixture(fx[i], dir, fixture_names[i]);
	list = strdup(env);
	assert_non_null(list);
	for (uri = strtok_r(list, ";", &save); uri; uri = strtok_r(NULL, ";", &save)) {
		if (!*uri)
			continue;
		round_trip(rich, uri, dir, "rich store");
		round_trip(skewed, uri, dir, "skewed store");
		for (size_t i = 0; i < N_FIXTURES; i++)
			round_trip(fx[i], uri, dir, fixture_names[i]);
	}
	free(list);
	tu_remove_dir(dir);
}

/* test_clone [PATTERN]: only the tests whose names match PATTERN (cmocka's
 * test filter, '*' and '?' wildcards). */
