/*
 * clone.c - copies a whole store into another one through the backend ABI
 * alone, so any backend clones to any other. Rows stream from the source's
 * iterations straight into the destination inside one write transaction;
 * the only rows held in memory are commits met before their parent (the
 * source orders commits by time, which is parents first only in practice).
 * The copy is checked with fsck inside that transaction before it commits.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "plugin.h"

/* Rows between two progress reports. */
#define PROGRESS_EVERY 256

/* Slots of the cache of commits just copied (a power of two). */
#define RECENT_SLOTS 1024

/* ---- commits waiting for a parent ------------------------------------------ */

/* A commit row copied out of the source, waiting for the commit named by
 * waiting_on (its parent_hash or response_to) to reach the destination. */
typedef struct deferred {
	struct deferred *next;
	const char *waiting_on;
	tract_commit_row row;
	char mem[]; /* the row's strings */
} deferred;

typedef struct {
	tract_store *src, *dst;
	const tract_clone_options *opts;
	tract_clone_stats *st;
	/* progress of the current phase */
	const char *phase;
	int64_t done, total, reported;
	int64_t commit_total; /* the sources' commit count, from its tract list */
	/* deferred commits, chained in buckets by the hash they wait for */
	deferred **buckets;
	size_t nbuckets, ndeferred;
	/* hashes of commits copied lately, direct-mapped: a parent is nearly
	 * always one of them, which saves a lookup in the destination */
	char (*recent)[65];
	/* metadata keys the empty destination already held: its backend's */
	char **own_keys;
	size_t n_own_keys;
	/* set when a callback already recorded the thread's error */
	int failed;
} clone_ctx;

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603u; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211u;
	return h;
}

static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static const char *str_place(char **p, const char *s)
{
	char *out;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	out = *p;
	memcpy(out, s, n);
	*p += n;
	return out;
}

static deferred *deferred_new(const tract_commit_row *r)
{
	size_t n = str_size(r->commit_hash) + str_size(r->tract_id) + str_size(r->parent_hash) +
		   str_size(r->content_hash) + str_size(r->content_type) +
		   str_size(r->response_to) + str_size(r->message) + str_size(r->metadata_json) +
		   str_size(r->generation_config_json);
	deferred *d = malloc(sizeof(*d) + n);
	char *p;

	if (!d)
		return NULL;
	p = d->mem;
	d->next = NULL;
	d->waiting_on = NULL;
	d->row = *r;
	d->row.commit_hash = str_place(&p, r->commit_hash);
	d->row.tract_id = str_place(&p, r->tract_id);
	d->row.parent_hash = str_place(&p, r->parent_hash);
	d->row.content_hash = str_place(&p, r->content_hash);
	d->row.content_type = str_place(&p, r->content_type);
	d->row.response_to = str_place(&p, r->response_to);
	d->row.message = str_place(&p, r->message);
	d->row.metadata_json = str_place(&p, r->metadata_json);
	d->row.generation_config_json = str_place(&p, r->generation_config_json);
	return d;
}

static int defer_grow(clone_ctx *c)
{
	size_t n = c->nbuckets ? c->nbuckets * 2 : 256, i;
	deferred **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return tract_error_oom();
	for (i = 0; i < c->nbuckets; i++) {
		deferred *d = c->buckets[i], *next;
		for (; d; d = next) {
			size_t b = hash_str(d->waiting_on) & (n - 1);
			next = d->next;
			d->next = nb[b];
			nb[b] = d;
		}
	}
	free(c->buckets);
	c->buckets = nb;
	c->nbuckets = n;
	return 0;
}

/* Park d until waiting_on is copied (d->waiting_on points into d). */
static int defer_add(clone_ctx *c, deferred *d)
{
	size_t b;
	int rc;

	if (c->ndeferred >= c->nbuckets * 2) {
		rc = defer_grow(c);
		if (rc < 0)
			return rc;
	}
	b = hash_str(d->waiting_on) & (c->nbuckets - 1);
	d->next = c->buckets[b];
	c->buckets[b] = d;
	c->ndeferred++;
	if ((int64_t)c->ndeferred > c->st->peak_deferred)
		c->st->peak_deferred = (int64_t)c->ndeferred;
	return 0;
}

/* Unlink and return the commits waiting for hash (a list through next). */
static deferred *defer_take(clone_ctx *c, const char *hash)
{
	deferred **pp, *taken = NULL;

	if (!c->ndeferred)
		return NULL;
	pp = &c->buckets[hash_str(hash) & (c->nbuckets - 1)];
	while (*pp) {
		deferred *d = *pp;
		if (strcmp(d->waiting_on, hash) != 0) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		d->next = taken;
		taken = d;
		c->ndeferred--;
	}
	return taken;
}

static deferred *defer_any(clone_ctx *c)
{
	size_t i;

	for (i = 0; i < c->nbuckets; i++)
		if (c->buckets[i])
			return c->buckets[i];
	return NULL;
}

static void defer_free_all(clone_ctx *c)
{
	size_t i;

	for (i = 0; i < c->nbuckets; i++) {
		deferred *d = c->buckets[i], *next;
		for (; d; d = next) {
			next = d->next;
			free(d);
		}
	}
	free(c->buckets);
	c->buckets = NULL;
	c->nbuckets = c->ndeferred = 0;
}

/* ---- errors and progress ------------------------------------------------------ */

/* Record a failure of a destination write (message from its backend). */
static int dst_error(clone_ctx *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int dst_error(clone_ctx *c, int rc, const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	c->failed = 1;
	return tract_backend_error(c->dst, rc, what);
}

/* After an iteration of the source returned rc < 0. */
static int src_error(clone_ctx *c, int rc, const char *what)
{
	char msg[160];

	if (c->failed)
		return rc;
	if (rc == TRACT_ENOMEM)
		return tract_error_oom();
	snprintf(msg, sizeof(msg), "clone: reading the source's %s", what);
	return tract_backend_error(c->src, rc, msg);
}

static int report(clone_ctx *c)
{
	const tract_clone_options *o = c->opts;

	c->reported = c->done;
	if (o && o->progress && o->progress(c->phase, c->done, c->total, o->progress_payload)) {
		c->failed = 1;
		return tract_error_set(TRACT_ERROR, "clone: cancelled by the progress callback");
	}
	return 0;
}

static int phase_begin(clone_ctx *c, const char *phase, int64_t total)
{
	c->phase = phase;
	c->done = 0;
	c->total = total;
	return report(c);
}

/* One more row of the phase copied. */
static int tick(clone_ctx *c)
{
	c->done++;
	return c->done - c->reported >= PROGRESS_EVERY ? report(c) : 0;
}

/* ---- the copy, table by table -------------------------------------------------- */

static int blob_cb(const tract_blob_row *row, void *payload)
{
	clone_ctx *c = payload;
	int rc = c->dst->be->blob_put(c->dst->conn, row, NULL);

	if (rc < 0)
		return dst_error(c, rc, "clone: copying blob %s", row->content_hash);
	c->st->blobs++;
	return tick(c);
}

static int noop_commit_cb(const tract_commit_row *row, void *payload)
{
	(void)row;
	(void)payload;
	return 0;
}

static int noop_blob_cb(const tract_blob_row *row, void *payload)
{
	(void)row;
	(void)payload;
	return 0;
}

static char *recent_slot(clone_ctx *c, const char *hash)
{
	return c->recent[hash_str(hash) & (RECENT_SLOTS - 1)];
}

/* *out 1 when the destination holds commit hash. */
static int dst_has_commit(int *out, clone_ctx *c, const char *hash)
{
	int rc;

	if (strcmp(recent_slot(c, hash), hash) == 0) {
		*out = 1;
		return 0;
	}
	rc = c->dst->be->commit_get(c->dst->conn, NULL, hash, noop_commit_cb, NULL);
	*out = rc == 0;
	if (rc == TRACT_ENOTFOUND)
		return 0;
	return rc < 0 ? dst_error(c, rc, "clone: looking up commit %s", hash) : 0;
}

/* The first of parent_hash, response_to not copied yet (NULL: none). */
static int missing_link(const char **out, clone_ctx *c, const tract_commit_row *row)
{
	const char *links[2] = {row->parent_hash, row->response_to};
	int i, has, rc;

	*out = NULL;
	for (i = 0; i < 2; i++) {
		if (!links[i])
			continue;
		rc = dst_has_commit(&has, c, links[i]);
		if (rc < 0)
			return rc;
		if (!has) {
			*out = links[i];
			return 0;
		}
	}
	return 0;
}

/*
 * Insert a commit whose links are all in the destination. Every blob was
 * copied first, so the insert fails for want of its blob only when the
 * source lacks it: that is asked of the source, after the failure (the
 * destination's transaction may be unusable by then: PostgreSQL).
 */
static int put_commit(clone_ctx *c, const tract_commit_row *row)
{
	int rc;

	if (row->operation == TRACT_OP_UNKNOWN) {
		c->failed = 1;
		return tract_error_set(TRACT_ECORRUPT,
				       "clone: commit %s of the source has an unknown operation",
				       row->commit_hash);
	}
	rc = c->dst->be->commit_put(c->dst->conn, row);
	if (rc < 0) {
		dst_error(c, rc, "clone: copying commit %s", row->commit_hash);
		if (c->src->be->blob_get(c->src->conn, row->content_hash, noop_blob_cb, NULL) ==
		    TRACT_ENOTFOUND)
			return tract_error_set(TRACT_ECORRUPT,
					       "clone: commit %s: its content blob %s is missing "
					       "from the source store",
					       row->commit_hash, row->content_hash);
		return rc;
	}
	if (strlen(row->commit_hash) < 65)
		strcpy(recent_slot(c, row->commit_hash), row->commit_hash);
	c->st->commits++;
	return tick(c);
}

/*
 * hash was just copied: copy every commit that waited for it, then those
 * that waited for them, and so on (a work list, not recursion: a history
 * listed newest first would otherwise recurse once per commit).
 */
static int release_waiters(clone_ctx *c, const char *hash)
{
	deferred *ready = NULL, *cur = NULL, *w;
	const char *missing;
	int rc = 0;

	for (;;) {
		w = defer_take(c, hash);
		while (w) {
			deferred *d = w;
			w = w->next;
			if (rc == 0)
				rc = missing_link(&missing, c, &d->row);
			if (rc < 0) {
				free(d);
				continue;
			}
			if (missing) {
				d->waiting_on = missing;
				rc = defer_add(c, d);
				if (rc < 0)
					free(d);
				continue;
			}
			rc = put_commit(c, &d->row);
			d->next = ready;
			ready = d;
		}
		free(cur);
		cur = NULL;
		if (rc < 0 || !ready)
			break;
		cur = ready;
		ready = ready->next;
		hash = cur->row.commit_hash;
	}
	free(cur);
	while (ready) {
		w = ready->next;
		free(ready);
		ready = w;
	}
	return rc;
}

static int commit_cb(const tract_commit_row *row, void *payload)
{
	clone_ctx *c = payload;
	const char *missing;
	deferred *d;
	int rc;

	rc = missing_link(&missing, c, row);
	if (rc < 0)
		return rc;
	if (!missing) {
		rc = put_commit(c, row);
		return rc < 0 ? rc : release_waiters(c, row->commit_hash);
	}
	d = deferred_new(row);
	if (!d) {
		c->failed = 1;
		return tract_error_oom();
	}
	d->waiting_on = missing == row->parent_hash ? d->row.parent_hash : d->row.response_to;
	rc = defer_add(c, d);
	if (rc < 0) {
		free(d);
		c->failed = 1;
		return rc;
	}
	c->st->commits_deferred++;
	return 0;
}

static int exists_in_src(int *out, clone_ctx *c, const char *hash)
{
	int rc = c->src->be->commit_get(c->src->conn, NULL, hash, noop_commit_cb, NULL);

	*out = rc == 0;
	if (rc == TRACT_ENOTFOUND || rc == 0)
		return 0;
	return src_error(c, rc, "commits");
}

static const char *link_name(const deferred *d)
{
	return d->row.parent_hash && strcmp(d->waiting_on, d->row.parent_hash) == 0 ? "parent"
										    : "response_to";
}

/*
 * Commits still waiting after the whole table was read: one waits for a
 * commit the source does not have (a dangling link), or they wait on each
 * other (a cycle).
 */
static int explain_waiting(clone_ctx *c)
{
	deferred *d = NULL;
	size_t i;
	int in_src, rc;

	for (i = 0; i < c->nbuckets; i++) {
		for (d = c->buckets[i]; d; d = d->next) {
			rc = exists_in_src(&in_src, c, d->waiting_on);
			if (rc < 0)
				return rc;
			if (!in_src)
				return tract_error_set(TRACT_ECORRUPT,
						       "clone: commit %s names %s %s, which is "
						       "missing from the source store (see fsck)",
						       d->row.commit_hash, link_name(d),
						       d->waiting_on);
		}
	}
	d = defer_any(c);
	return tract_error_set(TRACT_ECORRUPT,
			       "clone: %zu commit(s) of the source wait on each other in a cycle "
			       "of parent/response_to links (e.g. %s waits for its %s %s)",
			       c->ndeferred, d->row.commit_hash, link_name(d), d->waiting_on);
}

/* ECORRUPT unless commit hash, named by the source's row described by
 * what, is in the destination (every commit was copied by now). */
static int need_commit(clone_ctx *c, const char *hash, const char *what)
{
	int has, rc = dst_has_commit(&has, c, hash);

	if (rc < 0 || has)
		return rc;
	c->failed = 1;
	return tract_error_set(TRACT_ECORRUPT,
			       "clone: %s names commit %s, which is missing from the source store "
			       "(see fsck)",
			       what, hash);
}

static int parent_cb(const char *commit_hash, const char *parent_hash, int64_t position,
		     void *payload)
{
	clone_ctx *c = payload;
	char what[128];
	int rc;

	snprintf(what, sizeof(what), "a merge-parent row of %.64s", commit_hash);
	rc = need_commit(c, commit_hash, what);
	if (rc == 0)
		rc = need_commit(c, parent_hash, what);
	if (rc < 0)
		return rc;
	rc = c->dst->be->parent_put(c->dst->conn, commit_hash, parent_hash, position);
	if (rc < 0)
		return dst_error(c, rc, "clone: copying merge parent %s of %s", parent_hash,
				 commit_hash);
	c->st->commit_parents++;
	return tick(c);
}

static int ref_cb(const tract_ref_row *row, void *payload)
{
	clone_ctx *c = payload;
	char what[400];
	int rc;

	snprintf(what, sizeof(what), "ref %s:%s", row->tract_id, row->ref_name);
	if (row->commit_hash && (rc = need_commit(c, row->commit_hash, what)) < 0)
		return rc;
	rc = c->dst->be->ref_cas(c->dst->conn, row->tract_id, row->ref_name, row->commit_hash,
				 row->symbolic_target, NULL);
	if (rc < 0)
		return dst_error(c, rc, "clone: copying %s", what);
	c->st->refs++;
	return tick(c);
}

static int annotation_cb(const tract_annotation_row *row, void *payload)
{
	clone_ctx *c = payload;
	char what[64];
	int rc;

	snprintf(what, sizeof(what), "annotation %lld", (long long)row->id);
	if (row->priority == TRACT_PRIORITY_NONE) {
		c->failed = 1;
		return tract_error_set(TRACT_ECORRUPT,
				       "clone: %s of the source has an unknown priority", what);
	}
	rc = need_commit(c, row->target_hash, what);
	if (rc < 0)
		return rc;
	rc = c->dst->be->annotation_put(c->dst->conn, row, NULL);
	if (rc < 0)
		return dst_error(c, rc, "clone: copying %s", what);
	c->st->annotations++;
	return tick(c);
}

typedef struct {
	clone_ctx *c;
	tract_compression_side side;
} member_ctx;

static int member_cb(const char *compression_id, const char *commit_hash, int64_t position,
		     void *payload)
{
	member_ctx *m = payload;
	clone_ctx *c = m->c;
	char what[128];
	int rc;

	snprintf(what, sizeof(what), "compression record %.64s", compression_id);
	rc = need_commit(c, commit_hash, what);
	if (rc < 0)
		return rc;
	rc = c->dst->be->compression_member_put(c->dst->conn, m->side, compression_id, commit_hash,
						position);
	if (rc < 0)
		return dst_error(c, rc, "clone: copying a member of %s (%s)", what, commit_hash);
	if (m->side == TRACT_COMPRESSION_SOURCES)
		c->st->compression_sources++;
	else
		c->st->compression_results++;
	return 0;
}

static int compression_cb(const tract_compression_row *row, void *payload)
{
	static const tract_compression_side sides[2] = {TRACT_COMPRESSION_SOURCES,
							TRACT_COMPRESSION_RESULTS};
	clone_ctx *c = payload;
	member_ctx m = {c, TRACT_COMPRESSION_SOURCES};
	int i, rc = c->dst->be->compression_put(c->dst->conn, row);

	if (rc < 0)
		return dst_error(c, rc, "clone: copying compression record %s",
				 row->compression_id);
	c->st->compressions++;
	for (i = 0; i < 2; i++) {
		m.side = sides[i];
		rc = c->src->be->compression_members(c->src->conn, m.side, row->compression_id,
						     member_cb, &m);
		if (rc < 0) {
			rc = src_error(c, rc, "compression members");
			c->failed = 1;
			return rc;
		}
	}
	return tick(c);
}

static int spawn_cb(const tract_spawn_row *row, void *payload)
{
	clone_ctx *c = payload;
	char what[64];
	int rc;

	snprintf(what, sizeof(what), "spawn pointer %lld", (long long)row->id);
	if (row->parent_commit_hash && (rc = need_commit(c, row->parent_commit_hash, what)) < 0)
		return rc;
	rc = c->dst->be->spawn_put(c->dst->conn, row, NULL);
	if (rc < 0)
		return dst_error(c, rc, "clone: copying %s (child %s)", what, row->child_tract_id);
	c->st->spawn_pointers++;
	return tick(c);
}

/* In a NULL-terminated list (NULL: empty)? */
static int listed(const char *const *keys, const char *key)
{
	size_t i;

	for (i = 0; keys && keys[i]; i++)
		if (strcmp(keys[i], key) == 0)
			return 1;
	return 0;
}

/* A key about a store's layout, not its data: private to the source's or
 * the destination's backend (its schema version...), or already held by
 * the empty destination (written by its backend on creation). */
static int is_backend_key(const clone_ctx *c, const char *key)
{
	size_t i;

	if (listed(c->src->be->private_meta_keys, key) ||
	    listed(c->dst->be->private_meta_keys, key))
		return 1;
	for (i = 0; i < c->n_own_keys; i++)
		if (strcmp(key, c->own_keys[i]) == 0)
			return 1;
	return 0;
}

static int meta_cb(const char *key, const char *value, void *payload)
{
	clone_ctx *c = payload;
	int rc;

	if (is_backend_key(c, key)) {
		c->st->metadata_skipped++;
		return 0;
	}
	rc = c->dst->be->meta_set(c->dst->conn, key, value);
	if (rc < 0)
		return dst_error(c, rc, "clone: copying metadata key %s", key);
	c->st->metadata++;
	return tick(c);
}

static int tract_cb(const tract_tract_row *row, void *payload)
{
	clone_ctx *c = payload;

	c->st->tracts++;
	c->commit_total += row->commit_count;
	return 0;
}

/* ---- the destination must be empty -------------------------------------------- */

static int first_row_cb(const void *row, void *payload)
{
	(void)row;
	*(int *)payload = 1;
	return 1;
}

static int first_key_cb(const char *key, const char *value, void *payload)
{
	(void)key;
	(void)value;
	*(int *)payload = 1;
	return 1;
}

static int own_key_cb(const char *key, const char *value, void *payload)
{
	clone_ctx *c = payload;
	char **n;

	(void)value;
	n = realloc(c->own_keys, (c->n_own_keys + 1) * sizeof(*n));
	if (!n)
		return TRACT_ENOMEM;
	c->own_keys = n;
	c->own_keys[c->n_own_keys] = strdup(key);
	if (!c->own_keys[c->n_own_keys])
		return TRACT_ENOMEM;
	c->n_own_keys++;
	return 0;
}

/*
 * *what names the first kind of tract data found in s, or stays NULL when
 * s holds none. Each probe stops at its first row.
 */
static int find_data(const char **what, tract_store *s)
{
	const tract_backend *be = s->be;
	int found = 0, rc;

	*what = NULL;
	rc = be->tract_foreach(s->conn, (tract_tract_cb)first_row_cb, &found);
	if (rc == 0 && found)
		*what = "tracts";
	if (rc == 0 && !*what) {
		rc = be->blob_foreach(s->conn, (tract_blob_cb)first_row_cb, &found);
		if (rc == 0 && found)
			*what = "blobs";
	}
	if (rc == 0 && !*what) {
		rc = be->annotation_foreach(s->conn, NULL, (tract_annotation_cb)first_row_cb,
					    &found);
		if (rc == 0 && found)
			*what = "annotations";
	}
	if (rc == 0 && !*what) {
		rc = be->compression_foreach(s->conn, NULL, (tract_compression_cb)first_row_cb,
					     &found);
		if (rc == 0 && found)
			*what = "compression records";
	}
	if (rc == 0 && !*what) {
		rc = be->spawn_foreach(s->conn, NULL, (tract_spawn_cb)first_row_cb, &found);
		if (rc == 0 && found)
			*what = "spawn pointers";
	}
	if (rc == 0 && !*what) {
		rc = be->meta_foreach(s->conn, "tract:", first_key_cb, &found);
		if (rc == 0 && found)
			*what = "tract metadata";
	}
	if (rc == TRACT_ENOMEM)
		return tract_error_oom();
	return rc < 0 ? tract_backend_error(s, rc, "clone: reading the destination") : 0;
}

/* ---- store names and locations ---------------------------------------------------- */

/* The store named for messages: tract_uri_redact()'s form (passwords
 * hidden), or the scheme alone when memory runs out. */
static void describe(char *buf, size_t len, const char *uri)
{
	char *shown = NULL;

	if (tract_uri_redact(&shown, uri) == 0)
		snprintf(buf, len, "%s", shown);
	else
		snprintf(buf, len, "%.*s", (int)strcspn(uri, ":"), uri);
	tract_string_free(shown);
}

/* Do two URIs name one store? The same backend, and the backend says so
 * (the same file by two paths...), or the same text. */
static int same_store(const tract_backend *be1, const char *uri1, const tract_backend *be2,
		      const char *uri2)
{
	if (be1 != be2)
		return 0;
	if (be1->same_store)
		return be1->same_store(uri1, uri2) == 1;
	return strcmp(uri1, uri2) == 0;
}

/* ---- the whole clone ------------------------------------------------------------- */

static int copy_all(clone_ctx *c)
{
	tract_store *src = c->src;
	const tract_backend *be = src->be;
	int rc;

	rc = be->tract_foreach(src->conn, tract_cb, c);
	if (rc < 0)
		return src_error(c, rc, "tracts");

	rc = phase_begin(c, "blobs", -1);
	if (rc == 0 && (rc = be->blob_foreach(src->conn, blob_cb, c)) < 0)
		rc = src_error(c, rc, "blobs");
	if (rc == 0)
		rc = report(c);

	c->recent = calloc(RECENT_SLOTS, sizeof(*c->recent));
	if (!c->recent)
		return tract_error_oom();
	if (rc == 0)
		rc = phase_begin(c, "commits", c->commit_total);
	if (rc == 0 && (rc = be->commit_foreach(src->conn, NULL, commit_cb, c)) < 0)
		rc = src_error(c, rc, "commits");
	if (rc == 0 && c->ndeferred)
		rc = explain_waiting(c);
	if (rc == 0)
		rc = report(c);

	if (rc == 0)
		rc = phase_begin(c, "commit_parents", -1);
	if (rc == 0 && (rc = be->parent_foreach(src->conn, parent_cb, c)) < 0)
		rc = src_error(c, rc, "merge parents");
	if (rc == 0)
		rc = report(c);

	if (rc == 0)
		rc = phase_begin(c, "refs", -1);
	if (rc == 0 && (rc = be->ref_foreach(src->conn, NULL, NULL, ref_cb, c)) < 0)
		rc = src_error(c, rc, "refs");
	if (rc == 0)
		rc = report(c);

	if (rc == 0)
		rc = phase_begin(c, "annotations", -1);
	if (rc == 0 && (rc = be->annotation_foreach(src->conn, NULL, annotation_cb, c)) < 0)
		rc = src_error(c, rc, "annotations");
	if (rc == 0)
		rc = report(c);

	if (rc == 0)
		rc = phase_begin(c, "compressions", -1);
	if (rc == 0 && (rc = be->compression_foreach(src->conn, NULL, compression_cb, c)) < 0)
		rc = src_error(c, rc, "compression records");
	if (rc == 0)
		rc = report(c);

	if (rc == 0)
		rc = phase_begin(c, "spawn_pointers", -1);
	if (rc == 0 && (rc = be->spawn_foreach(src->conn, NULL, spawn_cb, c)) < 0)
		rc = src_error(c, rc, "spawn pointers");
	if (rc == 0)
		rc = report(c);

	if (rc == 0)
		rc = phase_begin(c, "metadata", -1);
	if (rc == 0 && (rc = be->meta_foreach(src->conn, NULL, meta_cb, c)) < 0)
		rc = src_error(c, rc, "metadata");
	if (rc == 0)
		rc = report(c);
	return rc;
}

/* fsck the copy inside the open write transaction. */
static int verify(clone_ctx *c)
{
	tract_clone_stats *st = c->st;
	size_t i, nerr;
	int rc;

	rc = phase_begin(c, "fsck", st->commits);
	if (rc < 0)
		return rc;
	rc = tract_fsck_run(&st->fsck, c->dst);
	if (rc < 0)
		return tract_error_prefix("clone: checking the copy");
	st->verified = 1;
	c->done = st->commits;
	nerr = st->fsck->errors;
	if (nerr) {
		for (i = 0; st->fsck->problems[i].severity != TRACT_FSCK_ERROR; i++)
			;
		return tract_error_set(TRACT_ECORRUPT,
				       "clone: the copy fails fsck with %zu error(s), so nothing "
				       "was written (first: %s: %s)",
				       nerr, st->fsck->problems[i].object,
				       st->fsck->problems[i].message);
	}
	return report(c);
}

/* Open the destination; create it (noting so) when it does not exist. */
static int open_dst(tract_store **out, int *created, const char *uri)
{
	int rc;

	rc = tract_store_open(out, uri, 0);
	if (rc != TRACT_ENOTFOUND)
		return rc;
	rc = tract_store_open(out, uri, TRACT_STORE_CREATE);
	if (rc == 0)
		*created = 1;
	return rc;
}

static int clone_stores(clone_ctx *c, const char *src_uri, const char *dst_uri, int *created)
{
	const char *data;
	char name[300];
	int rc, rc2;

	rc = tract_store_open(&c->src, src_uri, 0);
	if (rc == TRACT_ENOTFOUND) {
		describe(name, sizeof(name), src_uri);
		return tract_error_set(rc, "clone: source store not found: %s", name);
	}
	if (rc < 0)
		return tract_error_prefix("clone: opening the source");
	rc = open_dst(&c->dst, created, dst_uri);
	if (rc < 0)
		return tract_error_prefix("clone: opening the destination");

	rc = tract_txn_begin(c->src, TRACT_TXN_READ);
	if (rc < 0)
		return tract_error_prefix("clone: reading the source");
	rc = tract_txn_begin(c->dst, TRACT_TXN_WRITE);
	if (rc < 0) {
		tract_error_prefix("clone: writing the destination");
		return tract_txn_end(c->src, rc);
	}
	rc = find_data(&data, c->dst);
	if (rc == 0 && data) {
		describe(name, sizeof(name), dst_uri);
		rc = tract_error_set(TRACT_EEXISTS,
				     "clone: the destination %s already holds %s; clone into a "
				     "new or empty store",
				     name, data);
	}
	if (rc == 0 && (rc2 = c->dst->be->meta_foreach(c->dst->conn, NULL, own_key_cb, c)) < 0)
		rc = rc2 == TRACT_ENOMEM ? tract_error_oom()
					 : tract_backend_error(c->dst, rc2,
							       "clone: reading the destination");
	if (rc == 0)
		rc = copy_all(c);
	if (rc == 0 && !(c->opts && (c->opts->flags & TRACT_CLONE_NO_VERIFY)))
		rc = verify(c);
	rc = tract_txn_end(c->dst, rc);
	return tract_txn_end(c->src, rc);
}

/* After a failure: remove a destination the clone created (through its
 * backend's destroy), unless someone else wrote into it meanwhile. */
static void undo_create(clone_ctx *c, int created)
{
	const char *data = NULL;
	int rc;

	if (!created || !c->dst)
		return;
	rc = tract_txn_begin(c->dst, TRACT_TXN_READ);
	if (rc == 0) {
		rc = find_data(&data, c->dst);
		rc = tract_txn_end(c->dst, rc);
	}
	if (rc == 0 && !data) {
		tract_store_destroy_created(c->dst);
		c->dst = NULL;
	}
}

int tract_clone_options_init(tract_clone_options *opts, unsigned int version)
{
	tract_clone_options defaults = TRACT_CLONE_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_clone_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_CLONE_OPTIONS_VERSION, "tract_clone_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

int tract_store_clone(tract_clone_stats **out_stats, const char *src_uri, const char *dst_uri,
		      const tract_clone_options *opts)
{
	const tract_backend *src_be = NULL, *dst_be = NULL;
	tract_error saved;
	char saved_msg[1024], name[300];
	clone_ctx c;
	size_t i;
	int rc, created = 0;

	if (out_stats)
		*out_stats = NULL;
	if (opts && tract_version_check(opts->version, TRACT_CLONE_OPTIONS_VERSION,
					"clone: tract_clone_options") < 0)
		return TRACT_EINVAL;
	if (!src_uri || !dst_uri)
		return tract_error_set(TRACT_EINVAL, "clone: a store URI is NULL");
	memset(&c, 0, sizeof(c));
	c.st = calloc(1, sizeof(*c.st));
	if (!c.st)
		return tract_error_oom();
	c.opts = opts;

	/* Every check that needs no store comes first: a bad destination URI
	 * must not cost an open (and migration) of the source. */
	rc = tract_plugin_backend_for_uri(&src_be, src_uri);
	if (rc == 0)
		rc = tract_plugin_backend_for_uri(&dst_be, dst_uri);
	if (rc < 0) {
		tract_error_prefix("clone");
		goto done;
	}
	if (same_store(src_be, src_uri, dst_be, dst_uri)) {
		describe(name, sizeof(name), dst_uri);
		rc = tract_error_set(TRACT_EINVAL,
				     "clone: source and destination are the same store (%s)", name);
		goto done;
	}

	rc = clone_stores(&c, src_uri, dst_uri, &created);
	if (rc < 0) {
		/* Keep the error across the clean-up's own calls. */
		saved = *tract_error_last();
		snprintf(saved_msg, sizeof(saved_msg), "%s", saved.message);
		undo_create(&c, created);
		tract_error_set(saved.code, "%s", saved_msg);
	}

done:
	defer_free_all(&c);
	free(c.recent);
	for (i = 0; i < c.n_own_keys; i++)
		free(c.own_keys[i]);
	free(c.own_keys);
	tract_store_free(c.dst);
	tract_store_free(c.src);
	if (out_stats)
		*out_stats = c.st;
	else
		tract_clone_stats_free(c.st);
	return rc;
}

void tract_clone_stats_free(tract_clone_stats *st)
{
	if (!st)
		return;
	tract_fsck_report_free(st->fsck);
	free(st);
}
