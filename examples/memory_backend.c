/*
 * memory_backend.c - a complete storage backend that keeps its stores in
 * memory, written against include/tract/sys/backend.h only: the template to
 * copy for a new backend. "mem:NAME" names a store in a process-wide
 * registry, so two connections to "mem:x" share one store until exit.
 *
 * Model (clarity first, not speed):
 * - A store's state is a struct db: one sorted array of row pointers per
 *   table. The last committed db is immutable; readers share it.
 * - A read transaction holds a reference to the committed db: a snapshot
 *   that never blocks, nor waits for, the writer.
 * - A write transaction (one per store at a time; a second writer waits up
 *   to BUSY_TIMEOUT_MS) works on a private deep copy, published by commit()
 *   and freed by rollback(). So rollback discards everything, and nobody
 *   sees uncommitted rows. The price: a write transaction costs a copy of
 *   the store, fine for tests and demos, not for large stores.
 * - A read outside any transaction sees the last committed db.
 * - Every write checks everything before it changes anything: a refused
 *   write changes nothing, and the transaction stays usable.
 * - Callbacks may read through the connection again; they must not write
 *   to a table being iterated.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tract/sys/backend.h"

#define BUSY_TIMEOUT_MS 5000
#define MAX_NAME 200

/* ---- rows and tables ------------------------------------------------------ */

/* Rows the public header has no struct for. */
struct parent_row {
	const char *commit_hash;
	const char *parent_hash;
	int64_t position;
};

struct member_row {
	const char *compression_id;
	int64_t side;
	int64_t position;
	const char *commit_hash;
};

struct meta_row {
	const char *key;
	const char *value;
};

/* A table: row pointers kept sorted by the table's key. */
struct table {
	void **rows;
	size_t n, cap;
};

enum { BLOBS, COMMITS, PARENTS, REFS, ANNOTATIONS, COMPRESSIONS, MEMBERS, SPAWNS, META, N_TABLES };

/* The state of a store at one point: committed (shared, immutable) or a
 * write transaction's private copy. */
struct db {
	struct table t[N_TABLES];
	int64_t next_annotation_id, next_spawn_id;
	int users; /* snapshots and the store holding it, under lock */
};

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_blob(const void *a, const void *b)
{
	return cmp_str(((const tract_blob_row *)a)->content_hash,
		       ((const tract_blob_row *)b)->content_hash);
}

static int cmp_commit(const void *a, const void *b)
{
	return cmp_str(((const tract_commit_row *)a)->commit_hash,
		       ((const tract_commit_row *)b)->commit_hash);
}

static int cmp_parent(const void *a, const void *b)
{
	const struct parent_row *x = a, *y = b;
	int c = cmp_str(x->commit_hash, y->commit_hash);

	return c ? c : cmp_i64(x->position, y->position);
}

static int cmp_ref(const void *a, const void *b)
{
	const tract_ref_row *x = a, *y = b;
	int c = cmp_str(x->tract_id, y->tract_id);

	return c ? c : cmp_str(x->ref_name, y->ref_name);
}

/* By target, then (created_at, id): annotation_list's order, and the last
 * row of a target at or before a cutoff is the priority in force. */
static int cmp_annotation(const void *a, const void *b)
{
	const tract_annotation_row *x = a, *y = b;
	int c = cmp_str(x->target_hash, y->target_hash);

	if (c == 0)
		c = cmp_i64(x->created_at, y->created_at);
	return c ? c : cmp_i64(x->id, y->id);
}

static int cmp_compression(const void *a, const void *b)
{
	return cmp_str(((const tract_compression_row *)a)->compression_id,
		       ((const tract_compression_row *)b)->compression_id);
}

static int cmp_member(const void *a, const void *b)
{
	const struct member_row *x = a, *y = b;
	int c = cmp_str(x->compression_id, y->compression_id);

	if (c == 0)
		c = cmp_i64(x->side, y->side);
	return c ? c : cmp_i64(x->position, y->position);
}

static int cmp_spawn(const void *a, const void *b)
{
	return cmp_i64(((const tract_spawn_row *)a)->id, ((const tract_spawn_row *)b)->id);
}

static int cmp_meta(const void *a, const void *b)
{
	return cmp_str(((const struct meta_row *)a)->key, ((const struct meta_row *)b)->key);
}

/* What the generic code knows of a table: row size, owned strings, order. */
struct kind {
	size_t size;
	size_t strings[10]; /* offsets of the row's owned strings... */
	size_t n_strings;   /* ...how many */
	int (*cmp)(const void *a, const void *b);
};

#define OFF(type, m) offsetof(type, m)
static const struct kind kinds[N_TABLES] = {
	[BLOBS] = {sizeof(tract_blob_row),
		   {OFF(tract_blob_row, content_hash), OFF(tract_blob_row, payload_json)}, 2,
		   cmp_blob},
	[COMMITS] = {sizeof(tract_commit_row),
		     {OFF(tract_commit_row, commit_hash), OFF(tract_commit_row, tract_id),
		      OFF(tract_commit_row, parent_hash), OFF(tract_commit_row, content_hash),
		      OFF(tract_commit_row, content_type), OFF(tract_commit_row, response_to),
		      OFF(tract_commit_row, message), OFF(tract_commit_row, metadata_json),
		      OFF(tract_commit_row, generation_config_json)},
		     9, cmp_commit},
	[PARENTS] = {sizeof(struct parent_row),
		     {OFF(struct parent_row, commit_hash), OFF(struct parent_row, parent_hash)}, 2,
		     cmp_parent},
	[REFS] = {sizeof(tract_ref_row),
		  {OFF(tract_ref_row, tract_id), OFF(tract_ref_row, ref_name),
		   OFF(tract_ref_row, commit_hash), OFF(tract_ref_row, symbolic_target)},
		  4, cmp_ref},
	[ANNOTATIONS] = {sizeof(tract_annotation_row),
			 {OFF(tract_annotation_row, tract_id),
			  OFF(tract_annotation_row, target_hash), OFF(tract_annotation_row, reason)},
			 3, cmp_annotation},
	[COMPRESSIONS] = {sizeof(tract_compression_row),
			  {OFF(tract_compression_row, compression_id),
			   OFF(tract_compression_row, tract_id),
			   OFF(tract_compression_row, branch_name),
			   OFF(tract_compression_row, instructions)},
			  4, cmp_compression},
	[MEMBERS] = {sizeof(struct member_row),
		     {OFF(struct member_row, compression_id), OFF(struct member_row, commit_hash)},
		     2, cmp_member},
	[SPAWNS] = {sizeof(tract_spawn_row),
		    {OFF(tract_spawn_row, parent_tract_id), OFF(tract_spawn_row, parent_commit_hash),
		     OFF(tract_spawn_row, child_tract_id), OFF(tract_spawn_row, purpose),
		     OFF(tract_spawn_row, inheritance_mode), OFF(tract_spawn_row, display_name)},
		    6, cmp_spawn},
	[META] = {sizeof(struct meta_row), {OFF(struct meta_row, key), OFF(struct meta_row, value)},
		  2, cmp_meta},
};

/* The owned string at offset off of a row. */
static const char **string_at(void *row, size_t off)
{
	return (const char **)((char *)row + off);
}

static void row_free(int table, void *row)
{
	size_t i;

	if (!row)
		return;
	for (i = 0; i < kinds[table].n_strings; i++)
		free((void *)*string_at(row, kinds[table].strings[i]));
	free(row);
}

/* A copy of row with copies of its strings (NULL stays NULL); NULL when
 * out of memory. */
static void *row_dup(int table, const void *row)
{
	const struct kind *k = &kinds[table];
	void *d = malloc(k->size);
	size_t i;

	if (!d)
		return NULL;
	memcpy(d, row, k->size);
	for (i = 0; i < k->n_strings; i++)
		*string_at(d, k->strings[i]) = NULL;
	for (i = 0; i < k->n_strings; i++) {
		const char *s = *string_at((void *)row, k->strings[i]);

		if (s && !(*string_at(d, k->strings[i]) = strdup(s))) {
			row_free(table, d);
			return NULL;
		}
	}
	return d;
}

/* Index of the first row not less than key (binary search); *found when
 * that row equals key. */
static size_t seek(const struct db *db, int table, const void *key, bool *found)
{
	const struct table *t = &db->t[table];
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (kinds[table].cmp(t->rows[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (found)
		*found = lo < t->n && kinds[table].cmp(t->rows[lo], key) == 0;
	return lo;
}

/* The row equal to key, or NULL. */
static void *find(const struct db *db, int table, const void *key)
{
	bool found;
	size_t at = seek(db, table, key, &found);

	return found ? db->t[table].rows[at] : NULL;
}

/* Insert a copy of row at its place (the caller checked it is new). */
static int insert(struct db *db, int table, const void *row)
{
	struct table *t = &db->t[table];
	size_t at = seek(db, table, row, NULL);
	void *d;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		void **rows = realloc(t->rows, cap * sizeof(*rows));

		if (!rows)
			return TRACT_ENOMEM;
		t->rows = rows;
		t->cap = cap;
	}
	d = row_dup(table, row);
	if (!d)
		return TRACT_ENOMEM;
	memmove(&t->rows[at + 1], &t->rows[at], (t->n - at) * sizeof(*t->rows));
	t->rows[at] = d;
	t->n++;
	return 0;
}

/* Remove rows [at, at + count). */
static void remove_rows(struct db *db, int table, size_t at, size_t count)
{
	struct table *t = &db->t[table];
	size_t i;

	for (i = at; i < at + count; i++)
		row_free(table, t->rows[i]);
	memmove(&t->rows[at], &t->rows[at + count], (t->n - at - count) * sizeof(*t->rows));
	t->n -= count;
}

/* Replace the string *slot by a copy of s (NULL allowed). */
static int set_string(const char **slot, const char *s)
{
	char *d = NULL;

	if (s && !(d = strdup(s)))
		return TRACT_ENOMEM;
	free((void *)*slot);
	*slot = d;
	return 0;
}

static void db_free(struct db *db)
{
	int i;
	size_t j;

	if (!db)
		return;
	for (i = 0; i < N_TABLES; i++) {
		for (j = 0; j < db->t[i].n; j++)
			row_free(i, db->t[i].rows[j]);
		free(db->t[i].rows);
	}
	free(db);
}

static struct db *db_new(void)
{
	struct db *db = calloc(1, sizeof(*db));

	if (db) {
		db->next_annotation_id = 1;
		db->next_spawn_id = 1;
		db->users = 1;
	}
	return db;
}

/* A deep copy: the private state of a write transaction. */
static struct db *db_copy(const struct db *src)
{
	struct db *db = db_new();
	int i;
	size_t j;

	if (!db)
		return NULL;
	db->next_annotation_id = src->next_annotation_id;
	db->next_spawn_id = src->next_spawn_id;
	for (i = 0; i < N_TABLES; i++) {
		struct table *t = &db->t[i];

		t->cap = src->t[i].n;
		t->rows = t->cap ? malloc(t->cap * sizeof(*t->rows)) : NULL;
		if (t->cap && !t->rows)
			goto fail;
		for (j = 0; j < src->t[i].n; j++) {
			if (!(t->rows[j] = row_dup(i, src->t[i].rows[j])))
				goto fail;
			t->n++;
		}
	}
	return db;
fail:
	db_free(db);
	return NULL;
}

/* ---- stores and connections ----------------------------------------------- */

/* One named store of the process. */
struct store {
	char *name;
	struct db *db;      /* last committed state */
	bool writing;       /* a write transaction is open */
	bool removed;       /* destroy() took it out of the registry */
	int conns;          /* open connections */
	struct store *next; /* registry list */
};

struct tract_backend_conn {
	struct store *store;
	struct db *db;     /* the transaction's state; NULL outside one */
	int txn;           /* -1 none, else a tract_txn_kind */
	bool created;      /* open() created the store */
	char err[512];
};

/*
 * One lock guards the registry, every store's committed db and every
 * db's user count. It is never held while a callback runs: a snapshot is
 * immutable and a write transaction's copy is private, so reading them
 * needs no lock.
 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t writer_done = PTHREAD_COND_INITIALIZER;
static struct store *registry;

/* Drop one user of a db (a snapshot or a store's committed state). */
static void db_release(struct db *db)
{
	bool last;

	if (!db)
		return;
	pthread_mutex_lock(&lock);
	last = --db->users == 0;
	pthread_mutex_unlock(&lock);
	if (last)
		db_free(db);
}

/* Free a store nobody uses any more (lock held). */
static void store_free_locked(struct store *s)
{
	if (--s->db->users == 0)
		db_free(s->db);
	free(s->name);
	free(s);
}

__attribute__((format(printf, 3, 4))) static int fail(tract_backend_conn *c, int code,
						     const char *fmt, ...)
{
	va_list ap;

	if (c) {
		va_start(ap, fmt);
		vsnprintf(c->err, sizeof(c->err), fmt, ap);
		va_end(ap);
	}
	return code;
}

static int oom(tract_backend_conn *c)
{
	return fail(c, TRACT_ENOMEM, "mem: out of memory");
}

/* The NAME of "mem:NAME", or NULL when the URI is not one of ours. */
static const char *uri_name(const char *uri)
{
	const char *name, *p;

	if (!uri || strncmp(uri, "mem:", 4) != 0)
		return NULL;
	name = uri + 4;
	if (!*name || strlen(name) > MAX_NAME)
		return NULL;
	for (p = name; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
		      ('0' <= *p && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return NULL;
	return name;
}

static struct store *registry_find(const char *name)
{
	struct store *s;

	for (s = registry; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

static int mem_open(tract_backend_conn **out, const char *uri, unsigned flags, char *errbuf,
		    size_t errlen)
{
	tract_backend_conn *c = NULL;
	struct store *s = NULL, *made = NULL;
	const char *name = uri_name(uri);
	int rc = 0;

	if (!out)
		return TRACT_EINVAL;
	*out = NULL;
	if (!name) {
		rc = TRACT_EINVAL;
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "mem: not a store URI \"mem:NAME\" (NAME: 1 to %d "
				 "letters, digits, '-', '_', '.'): %.100s", MAX_NAME,
				 uri ? uri : "(null)");
		return rc;
	}
	/* Allocate first: nothing can fail while the lock is held. */
	c = calloc(1, sizeof(*c));
	made = calloc(1, sizeof(*made));
	if (made) {
		made->name = strdup(name);
		made->db = db_new();
	}
	if (!c || !made || !made->name || !made->db) {
		rc = TRACT_ENOMEM;
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "mem: out of memory");
		goto cleanup;
	}
	pthread_mutex_lock(&lock);
	s = registry_find(name);
	if (!s && (flags & TRACT_BACKEND_CREATE)) {
		s = made;
		made = NULL;
		s->next = registry;
		registry = s;
		c->created = true;
	}
	if (s)
		s->conns++;
	pthread_mutex_unlock(&lock);
	if (!s) {
		rc = TRACT_ENOTFOUND;
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s: store not found", uri);
		goto cleanup;
	}
	c->store = s;
	c->txn = -1;
	*out = c;
	c = NULL;
cleanup:
	free(c);
	if (made) {
		db_free(made->db);
		free(made->name);
		free(made);
	}
	return rc;
}

static int mem_rollback(tract_backend_conn *c);

static void mem_close(tract_backend_conn *c)
{
	struct store *s;

	if (!c)
		return;
	mem_rollback(c);
	s = c->store;
	pthread_mutex_lock(&lock);
	if (--s->conns == 0 && s->removed)
		store_free_locked(s);
	pthread_mutex_unlock(&lock);
	free(c);
}

static const char *mem_last_error(tract_backend_conn *c)
{
	return c ? c->err : "";
}

/* Remove the store if this connection made it: other connections keep
 * using it until they close, but no open() finds it any more. */
static int mem_destroy(tract_backend_conn *c)
{
	struct store **p;

	if (!c)
		return 0;
	pthread_mutex_lock(&lock);
	for (p = &registry; c->created && *p; p = &(*p)->next) {
		if (*p == c->store) {
			*p = c->store->next;
			c->store->removed = true;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	mem_close(c);
	return 0;
}

static int mem_same_store(const char *uri_a, const char *uri_b)
{
	const char *a = uri_name(uri_a), *b = uri_name(uri_b);

	return a && b && strcmp(a, b) == 0;
}

/* Free stores nobody has open when the plugin is unloaded. */
__attribute__((destructor)) static void mem_unload(void)
{
	struct store **p = &registry, *s;

	pthread_mutex_lock(&lock);
	while ((s = *p)) {
		if (s->conns == 0) {
			*p = s->next;
			store_free_locked(s);
		} else {
			p = &s->next;
		}
	}
	pthread_mutex_unlock(&lock);
}

/* ---- transactions --------------------------------------------------------- */

static int mem_begin(tract_backend_conn *c, tract_txn_kind kind)
{
	struct store *s;
	struct timespec until;
	struct db *snap;
	int rc = 0;

	if (!c || (kind != TRACT_TXN_READ && kind != TRACT_TXN_WRITE))
		return fail(c, TRACT_EINVAL, "mem: invalid transaction kind");
	if (c->txn >= 0)
		return fail(c, TRACT_EINVAL, "mem: a transaction is already open");
	s = c->store;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += BUSY_TIMEOUT_MS / 1000;
	until.tv_nsec += (long)(BUSY_TIMEOUT_MS % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&lock);
	while (kind == TRACT_TXN_WRITE && s->writing && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&writer_done, &lock, &until);
	if (kind == TRACT_TXN_WRITE && s->writing) {
		pthread_mutex_unlock(&lock);
		return fail(c, TRACT_ESTORAGE, "mem: store busy: another writer holds it");
	}
	snap = s->db;
	snap->users++;
	if (kind == TRACT_TXN_WRITE)
		s->writing = true;
	pthread_mutex_unlock(&lock);
	if (kind == TRACT_TXN_READ) {
		c->db = snap;
		c->txn = kind;
		return 0;
	}
	/* The snapshot cannot change under us: we are the only writer. */
	c->db = db_copy(snap);
	db_release(snap);
	if (!c->db) {
		pthread_mutex_lock(&lock);
		s->writing = false;
		pthread_cond_broadcast(&writer_done);
		pthread_mutex_unlock(&lock);
		return oom(c);
	}
	c->txn = kind;
	return 0;
}

static int mem_commit(tract_backend_conn *c)
{
	struct store *s;
	struct db *old;

	if (!c || c->txn < 0)
		return fail(c, TRACT_EINVAL, "mem: no transaction to commit");
	s = c->store;
	if (c->txn == TRACT_TXN_READ) {
		db_release(c->db);
	} else {
		/* Publish the copy: readers that began before keep the old one. */
		pthread_mutex_lock(&lock);
		old = s->db;
		s->db = c->db;
		s->writing = false;
		pthread_cond_broadcast(&writer_done);
		pthread_mutex_unlock(&lock);
		db_release(old);
	}
	c->db = NULL;
	c->txn = -1;
	return 0;
}

static int mem_rollback(tract_backend_conn *c)
{
	if (!c || c->txn < 0)
		return 0;
	if (c->txn == TRACT_TXN_WRITE) {
		db_free(c->db);
		pthread_mutex_lock(&lock);
		c->store->writing = false;
		pthread_cond_broadcast(&writer_done);
		pthread_mutex_unlock(&lock);
	} else {
		db_release(c->db);
	}
	c->db = NULL;
	c->txn = -1;
	return 0;
}

/* The state a read sees: its transaction's, or else the last committed
 * one, held until read_done(). */
static struct db *read_view(tract_backend_conn *c)
{
	struct db *db;

	if (c->db)
		return c->db;
	pthread_mutex_lock(&lock);
	db = c->store->db;
	db->users++;
	pthread_mutex_unlock(&lock);
	return db;
}

static int read_done(tract_backend_conn *c, struct db *db, int rc)
{
	if (db != c->db)
		db_release(db);
	return rc;
}

/* The write transaction's state, or NULL (and the error) outside one. */
static struct db *write_view(tract_backend_conn *c)
{
	if (c->txn != TRACT_TXN_WRITE) {
		fail(c, TRACT_EINVAL, "mem: a write needs a write transaction");
		return NULL;
	}
	return c->db;
}

/* What a callback's result means for the call: > 0 stops (0), < 0 aborts. */
static int cb_result(int rc)
{
	return rc < 0 ? rc : 0;
}

/* ---- lookups used by several members -------------------------------------- */

static tract_commit_row *find_commit(const struct db *db, const char *hash)
{
	tract_commit_row key = {.commit_hash = hash};

	return find(db, COMMITS, &key);
}

static tract_blob_row *find_blob(const struct db *db, const char *hash)
{
	tract_blob_row key = {.content_hash = hash};

	return find(db, BLOBS, &key);
}

/* A sorted copy of the row pointers of a table that pass keep(): for the
 * orders a table is not stored in. *out is malloc'ed (NULL when empty). */
static int select_rows(const struct db *db, int table, bool (*keep)(const void *, const void *),
		       const void *arg, int (*order)(const void *, const void *), void ***out,
		       size_t *n)
{
	const struct table *t = &db->t[table];
	size_t i;

	*n = 0;
	*out = t->n ? malloc(t->n * sizeof(**out)) : NULL;
	if (t->n && !*out)
		return TRACT_ENOMEM;
	for (i = 0; i < t->n; i++)
		if (keep(t->rows[i], arg))
			(*out)[(*n)++] = t->rows[i];
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), order);
	return 0;
}

/* ---- blobs ---------------------------------------------------------------- */

static int mem_blob_put(tract_backend_conn *c, const tract_blob_row *row, int *inserted)
{
	struct db *db;
	int rc;

	if (!c || !row || !row->content_hash || !row->payload_json)
		return fail(c, TRACT_EINVAL, "mem: blob_put needs a hash and a payload");
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	if (find_blob(db, row->content_hash)) {
		if (inserted)
			*inserted = 0;
		return 0;
	}
	if ((rc = insert(db, BLOBS, row)) < 0)
		return oom(c);
	if (inserted)
		*inserted = 1;
	return 0;
}

static int mem_blob_get(tract_backend_conn *c, const char *hash, tract_blob_cb cb, void *payload)
{
	struct db *db;
	tract_blob_row *b;
	int rc;

	if (!c || !hash || !cb)
		return fail(c, TRACT_EINVAL, "mem: blob_get needs a hash and a callback");
	db = read_view(c);
	b = find_blob(db, hash);
	rc = b ? cb_result(cb(b, payload)) : fail(c, TRACT_ENOTFOUND, "blob not found: %s", hash);
	return read_done(c, db, rc);
}

static int mem_blob_foreach(tract_backend_conn *c, tract_blob_cb cb, void *payload)
{
	struct db *db;
	size_t i;
	int rc = 0;

	if (!c || !cb)
		return fail(c, TRACT_EINVAL, "mem: blob_foreach needs a callback");
	db = read_view(c);
	for (i = 0; i < db->t[BLOBS].n && rc == 0; i++)
		rc = cb(db->t[BLOBS].rows[i], payload);
	return read_done(c, db, cb_result(rc));
}

/* ---- commits -------------------------------------------------------------- */

static int mem_commit_put(tract_backend_conn *c, const tract_commit_row *row)
{
	struct db *db;

	if (!c || !row || !row->commit_hash || !row->tract_id || !row->content_hash ||
	    !row->content_type)
		return fail(c, TRACT_EINVAL, "mem: commit_put needs hash, tract, blob and type");
	if (row->operation != TRACT_OP_APPEND && row->operation != TRACT_OP_EDIT)
		return fail(c, TRACT_EINVAL, "mem: unknown commit operation %d", row->operation);
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	if (find_commit(db, row->commit_hash))
		return fail(c, TRACT_EEXISTS, "commit exists: %s", row->commit_hash);
	/* The foreign keys an SQL schema would check. */
	if (!find_blob(db, row->content_hash))
		return fail(c, TRACT_ESTORAGE, "mem: commit %s: blob missing: %s", row->commit_hash,
			    row->content_hash);
	if (row->parent_hash && !find_commit(db, row->parent_hash))
		return fail(c, TRACT_ESTORAGE, "mem: commit %s: parent missing: %s",
			    row->commit_hash, row->parent_hash);
	if (row->response_to && !find_commit(db, row->response_to))
		return fail(c, TRACT_ESTORAGE, "mem: commit %s: response_to missing: %s",
			    row->commit_hash, row->response_to);
	return insert(db, COMMITS, row) < 0 ? oom(c) : 0;
}

static bool in_tract(const tract_commit_row *r, const char *tract_id)
{
	return !tract_id || strcmp(r->tract_id, tract_id) == 0;
}

static int mem_commit_get(tract_backend_conn *c, const char *tract_id, const char *hash,
			  tract_commit_cb cb, void *payload)
{
	struct db *db;
	tract_commit_row *r;
	int rc;

	if (!c || !hash || !cb)
		return fail(c, TRACT_EINVAL, "mem: commit_get needs a hash and a callback");
	db = read_view(c);
	r = find_commit(db, hash);
	if (r && in_tract(r, tract_id))
		rc = cb_result(cb(r, payload));
	else
		rc = fail(c, TRACT_ENOTFOUND, "commit not found: %s", hash);
	return read_done(c, db, rc);
}

static int mem_commit_prefix(tract_backend_conn *c, const char *tract_id, const char *prefix,
			     size_t max, tract_commit_cb cb, void *payload)
{
	tract_commit_row key = {.commit_hash = prefix};
	struct db *db;
	size_t i, len, sent = 0;
	int rc = 0;

	if (!c || !prefix || !cb)
		return fail(c, TRACT_EINVAL, "mem: commit_prefix needs a prefix and a callback");
	db = read_view(c);
	len = strlen(prefix);
	/* Hashes with the prefix are one run of the sorted table. */
	for (i = seek(db, COMMITS, &key, NULL); i < db->t[COMMITS].n && rc == 0; i++) {
		tract_commit_row *r = db->t[COMMITS].rows[i];

		if (strncmp(r->commit_hash, prefix, len) != 0 || (max && sent == max))
			break;
		if (!in_tract(r, tract_id))
			continue;
		sent++;
		rc = cb(r, payload);
	}
	return read_done(c, db, cb_result(rc));
}

/* The priority in force for target at cutoff: the last annotation of the
 * target (by created_at, then id) with created_at <= cutoff. */
static tract_priority priority_at(const struct db *db, const char *target, tract_time cutoff)
{
	tract_annotation_row key = {.target_hash = target, .created_at = cutoff, .id = INT64_MAX};
	size_t at = seek(db, ANNOTATIONS, &key, NULL);
	tract_annotation_row *a;

	if (at == 0)
		return TRACT_PRIORITY_NONE;
	a = db->t[ANNOTATIONS].rows[at - 1];
	return strcmp(a->target_hash, target) == 0 ? a->priority : TRACT_PRIORITY_NONE;
}

/* Merge parents of hash from position 1 on, in order, into *out
 * (malloc'ed, strings borrowed from db). */
static int extra_parents(const struct db *db, const char *hash, const char ***out, size_t *n)
{
	struct parent_row key = {.commit_hash = hash, .position = 1};
	size_t i, end;

	*out = NULL;
	*n = 0;
	i = seek(db, PARENTS, &key, NULL);
	for (end = i; end < db->t[PARENTS].n; end++)
		if (strcmp(((struct parent_row *)db->t[PARENTS].rows[end])->commit_hash, hash))
			break;
	if (end == i)
		return 0;
	*out = malloc((end - i) * sizeof(**out));
	if (!*out)
		return TRACT_ENOMEM;
	for (; i < end; i++)
		(*out)[(*n)++] = ((struct parent_row *)db->t[PARENTS].rows[i])->parent_hash;
	return 0;
}

static int mem_commit_chain(tract_backend_conn *c, const char *tract_id, const char *head,
			    size_t limit, unsigned flags, tract_time annotation_cutoff,
			    tract_chain_cb cb, void *payload)
{
	struct db *db;
	tract_commit_row *r;
	const char *const *parents = NULL;
	size_t sent = 0;
	int rc = 0;

	if (!c || !head || !cb)
		return fail(c, TRACT_EINVAL, "mem: commit_chain needs a head and a callback");
	db = read_view(c);
	for (r = find_commit(db, head); r && in_tract(r, tract_id);
	     r = r->parent_hash ? find_commit(db, r->parent_hash) : NULL) {
		tract_chain_row row = {.commit = *r, .priority = TRACT_PRIORITY_NONE};
		tract_blob_row *b;

		if (flags & TRACT_CHAIN_PAYLOAD) {
			b = find_blob(db, r->content_hash);
			row.payload_json = b ? b->payload_json : NULL;
		}
		if (flags & TRACT_CHAIN_PRIORITY)
			row.priority = priority_at(db, r->commit_hash, annotation_cutoff);
		if (flags & TRACT_CHAIN_PARENTS) {
			const char **list;

			if (extra_parents(db, r->commit_hash, &list, &row.n_extra_parents) < 0) {
				rc = oom(c);
				break;
			}
			row.extra_parents = parents = list;
		}
		rc = cb(&row, payload);
		free((void *)parents);
		parents = NULL;
		if (rc != 0 || (limit && ++sent == limit))
			break;
	}
	return read_done(c, db, cb_result(rc));
}

static int order_commit_time(const void *a, const void *b)
{
	const tract_commit_row *x = *(void *const *)a, *y = *(void *const *)b;
	int o = cmp_i64(x->created_at, y->created_at);

	return o ? o : strcmp(x->commit_hash, y->commit_hash);
}

static bool keep_commit(const void *row, const void *tract_id)
{
	return in_tract(row, tract_id);
}

static bool keep_commit_config(const void *row, const void *tract_id)
{
	return in_tract(row, tract_id) && ((const tract_commit_row *)row)->generation_config_json;
}

/* Commits passing keep, by (created_at, commit_hash). */
static int commits_by_time(tract_backend_conn *c, const char *tract_id,
			   bool (*keep)(const void *, const void *), tract_commit_cb cb,
			   void *payload)
{
	struct db *db;
	void **rows = NULL;
	size_t i, n;
	int rc;

	if (!c || !cb)
		return fail(c, TRACT_EINVAL, "mem: commit_foreach needs a callback");
	db = read_view(c);
	rc = select_rows(db, COMMITS, keep, tract_id, order_commit_time, &rows, &n);
	if (rc < 0)
		rc = oom(c);
	for (i = 0; rc == 0 && i < n; i++)
		rc = cb(rows[i], payload);
	free(rows);
	return read_done(c, db, cb_result(rc));
}

static int mem_commit_foreach(tract_backend_conn *c, const char *tract_id, tract_commit_cb cb,
			      void *payload)
{
	return commits_by_time(c, tract_id, keep_commit, cb, payload);
}

static int mem_commit_foreach_with_config(tract_backend_conn *c, const char *tract_id,
					  tract_commit_cb cb, void *payload)
{
	return commits_by_time(c, tract_id, keep_commit_config, cb, payload);
}

/* ---- merge parents -------------------------------------------------------- */

static int mem_parent_put(tract_backend_conn *c, const char *commit_hash, const char *parent_hash,
			  int64_t position)
{
	struct parent_row row = {commit_hash, parent_hash, position}, key = {commit_hash, NULL, 0};
	struct db *db;
	size_t i;

	if (!c || !commit_hash || !parent_hash || position < 0)
		return fail(c, TRACT_EINVAL, "mem: parent_put needs two hashes and a position");
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	/* A (commit, position) and a (commit, parent) are each stored once. */
	for (i = seek(db, PARENTS, &key, NULL); i < db->t[PARENTS].n; i++) {
		struct parent_row *p = db->t[PARENTS].rows[i];

		if (strcmp(p->commit_hash, commit_hash) != 0)
			break;
		if (p->position == position || strcmp(p->parent_hash, parent_hash) == 0)
			return fail(c, TRACT_EEXISTS, "mem: parent %s of %s exists", parent_hash,
				    commit_hash);
	}
	if (!find_commit(db, commit_hash) || !find_commit(db, parent_hash))
		return fail(c, TRACT_ESTORAGE, "mem: parent_put: commit missing: %s or %s",
			    commit_hash, parent_hash);
	return insert(db, PARENTS, &row) < 0 ? oom(c) : 0;
}

/* Rows of the parents table from index i while keep says so. */
static int send_parents(struct db *db, size_t i, const char *commit_hash, tract_parent_cb cb,
			void *payload)
{
	int rc = 0;

	for (; i < db->t[PARENTS].n && rc == 0; i++) {
		struct parent_row *p = db->t[PARENTS].rows[i];

		if (commit_hash && strcmp(p->commit_hash, commit_hash) != 0)
			break;
		rc = cb(p->commit_hash, p->parent_hash, p->position, payload);
	}
	return cb_result(rc);
}

static int mem_parent_list(tract_backend_conn *c, const char *commit_hash, tract_parent_cb cb,
			   void *payload)
{
	struct parent_row key = {commit_hash, NULL, INT64_MIN};
	struct db *db;

	if (!c || !commit_hash || !cb)
		return fail(c, TRACT_EINVAL, "mem: parent_list needs a hash and a callback");
	db = read_view(c);
	return read_done(c, db,
			 send_parents(db, seek(db, PARENTS, &key, NULL), commit_hash, cb, payload));
}

static int mem_parent_foreach(tract_backend_conn *c, tract_parent_cb cb, void *payload)
{
	struct db *db;

	if (!c || !cb)
		return fail(c, TRACT_EINVAL, "mem: parent_foreach needs a callback");
	db = read_view(c);
	return read_done(c, db, send_parents(db, 0, NULL, cb, payload));
}

/* ---- refs ----------------------------------------------------------------- */

static tract_ref_row *find_ref(const struct db *db, const char *tract_id, const char *name)
{
	tract_ref_row key = {.tract_id = tract_id, .ref_name = name};

	return find(db, REFS, &key);
}

static bool same_string(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Does the stored ref equal expected (NULL: "must not exist")? */
static bool ref_matches(const tract_ref_row *ref, const tract_ref_row *expected)
{
	if (!expected)
		return ref == NULL;
	return ref && same_string(ref->commit_hash, expected->commit_hash) &&
	       same_string(ref->symbolic_target, expected->symbolic_target);
}

static int mem_ref_get(tract_backend_conn *c, const char *tract_id, const char *ref_name,
		       tract_ref_cb cb, void *payload)
{
	struct db *db;
	tract_ref_row *r;
	int rc;

	if (!c || !tract_id || !ref_name || !cb)
		return fail(c, TRACT_EINVAL, "mem: ref_get needs a tract, a name and a callback");
	db = read_view(c);
	r = find_ref(db, tract_id, ref_name);
	rc = r ? cb_result(cb(r, payload))
	       : fail(c, TRACT_ENOTFOUND, "ref not found: %s", ref_name);
	return read_done(c, db, rc);
}

static int mem_ref_cas(tract_backend_conn *c, const char *tract_id, const char *ref_name,
		       const char *commit_hash, const char *symbolic_target,
		       const tract_ref_row *expected)
{
	tract_ref_row row = {tract_id, ref_name, commit_hash, symbolic_target};
	struct db *db;
	tract_ref_row *r;

	if (!c || !tract_id || !ref_name || !commit_hash == !symbolic_target)
		return fail(c, TRACT_EINVAL, "mem: ref_cas needs a tract, a name and exactly one "
			    "of commit hash and symbolic target");
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	r = find_ref(db, tract_id, ref_name);
	if (!ref_matches(r, expected))
		return fail(c, TRACT_ESTALE, "mem: ref %s moved (compare-and-swap lost)",
			    ref_name);
	if (commit_hash && !find_commit(db, commit_hash))
		return fail(c, TRACT_ESTORAGE, "mem: ref %s: commit missing: %s", ref_name,
			    commit_hash);
	if (!r)
		return insert(db, REFS, &row) < 0 ? oom(c) : 0;
	/* Both copies first, so that a failure leaves the ref as it was. */
	{
		char *h = commit_hash ? strdup(commit_hash) : NULL;
		char *t = symbolic_target ? strdup(symbolic_target) : NULL;

		if ((commit_hash && !h) || (symbolic_target && !t)) {
			free(h);
			free(t);
			return oom(c);
		}
		free((void *)r->commit_hash);
		free((void *)r->symbolic_target);
		r->commit_hash = h;
		r->symbolic_target = t;
	}
	return 0;
}

static int mem_ref_delete(tract_backend_conn *c, const char *tract_id, const char *ref_name,
			  const tract_ref_row *expected)
{
	tract_ref_row key = {.tract_id = tract_id, .ref_name = ref_name};
	struct db *db;
	bool found;
	size_t at;

	if (!c || !tract_id || !ref_name)
		return fail(c, TRACT_EINVAL, "mem: ref_delete needs a tract and a name");
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	at = seek(db, REFS, &key, &found);
	if (!found)
		return fail(c, TRACT_ENOTFOUND, "ref not found: %s", ref_name);
	if (expected && !ref_matches(db->t[REFS].rows[at], expected))
		return fail(c, TRACT_ESTALE, "mem: ref %s moved (compare-and-swap lost)",
			    ref_name);
	remove_rows(db, REFS, at, 1);
	return 0;
}

static int mem_ref_foreach(tract_backend_conn *c, const char *tract_id, const char *prefix,
			   tract_ref_cb cb, void *payload)
{
	tract_ref_row key = {.tract_id = tract_id, .ref_name = ""};
	struct db *db;
	size_t i, len = prefix ? strlen(prefix) : 0;
	int rc = 0;

	if (!c || !cb)
		return fail(c, TRACT_EINVAL, "mem: ref_foreach needs a callback");
	db = read_view(c);
	/* Stored by (tract_id, ref_name): one tract's refs are one run. */
	i = tract_id ? seek(db, REFS, &key, NULL) : 0;
	for (; i < db->t[REFS].n && rc == 0; i++) {
		tract_ref_row *r = db->t[REFS].rows[i];

		if (tract_id && strcmp(r->tract_id, tract_id) != 0)
			break;
		if (!prefix || strncmp(r->ref_name, prefix, len) == 0)
			rc = cb(r, payload);
	}
	return read_done(c, db, cb_result(rc));
}

/* ---- annotations ---------------------------------------------------------- */

static int mem_annotation_put(tract_backend_conn *c, const tract_annotation_row *row,
			      int64_t *out_id)
{
	tract_annotation_row copy;
	struct db *db;

	if (!c || !row || !row->tract_id || !row->target_hash)
		return fail(c, TRACT_EINVAL, "mem: annotation_put needs a tract and a target");
	if (row->priority != TRACT_PRIORITY_SKIP && row->priority != TRACT_PRIORITY_NORMAL &&
	    row->priority != TRACT_PRIORITY_PINNED)
		return fail(c, TRACT_EINVAL, "mem: invalid priority %d", row->priority);
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	if (!find_commit(db, row->target_hash))
		return fail(c, TRACT_ESTORAGE, "mem: annotation target missing: %s",
			    row->target_hash);
	copy = *row;
	copy.id = db->next_annotation_id;
	if (insert(db, ANNOTATIONS, &copy) < 0)
		return oom(c);
	db->next_annotation_id++;
	if (out_id)
		*out_id = copy.id;
	return 0;
}

static int mem_annotation_list(tract_backend_conn *c, const char *target_hash,
			       tract_annotation_cb cb, void *payload)
{
	tract_annotation_row key = {.target_hash = target_hash, .created_at = INT64_MIN,
				    .id = INT64_MIN};
	struct db *db;
	size_t i;
	int rc = 0;

	if (!c || !target_hash || !cb)
		return fail(c, TRACT_EINVAL, "mem: annotation_list needs a target and a callback");
	db = read_view(c);
	for (i = seek(db, ANNOTATIONS, &key, NULL); i < db->t[ANNOTATIONS].n && rc == 0; i++) {
		tract_annotation_row *a = db->t[ANNOTATIONS].rows[i];

		if (strcmp(a->target_hash, target_hash) != 0)
			break;
		rc = cb(a, payload);
	}
	return read_done(c, db, cb_result(rc));
}

static bool keep_annotation(const void *row, const void *tract_id)
{
	return !tract_id || strcmp(((const tract_annotation_row *)row)->tract_id, tract_id) == 0;
}

static int order_annotation_id(const void *a, const void *b)
{
	return cmp_i64((*(tract_annotation_row *const *)a)->id,
		       (*(tract_annotation_row *const *)b)->id);
}

static int mem_annotation_foreach(tract_backend_conn *c, const char *tract_id,
				  tract_annotation_cb cb, void *payload)
{
	struct db *db;
	void **rows = NULL;
	size_t i, n;
	int rc;

	if (!c || !cb)
		return fail(c, TRACT_EINVAL, "mem: annotation_foreach needs a callback");
	db = read_view(c);
	rc = select_rows(db, ANNOTATIONS, keep_annotation, tract_id, order_annotation_id, &rows,
			 &n);
	if (rc < 0)
		rc = oom(c);
	for (i = 0; rc == 0 && i < n; i++)
		rc = cb(rows[i], payload);
	free(rows);
	return read_done(c, db, cb_result(rc));
}

/* ---- compression records -------------------------------------------------- */

static tract_compression_row *find_compression(const struct db *db, const char *id)
{
	tract_compression_row key = {.compression_id = id};

	return find(db, COMPRESSIONS, &key);
}

static bool valid_side(tract_compression_side side)
{
	return side == TRACT_COMPRESSION_SOURCES || side == TRACT_COMPRESSION_RESULTS;
}

static int mem_compression_put(tract_backend_conn *c, const tract_compression_row *row)
{
	struct db *db;

	if (!c || !row || !row->compression_id || !row->tract_id)
		return fail(c, TRACT_EINVAL, "mem: compression_put needs an id and a tract");
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	if (find_compression(db, row->compression_id))
		return fail(c, TRACT_EEXISTS, "mem: compression record exists: %s",
			    row->compression_id);
	return insert(db, COMPRESSIONS, row) < 0 ? oom(c) : 0;
}

static int mem_compression_member_put(tract_backend_conn *c, tract_compression_side side,
				      const char *compression_id, const char *commit_hash,
				      int64_t position)
{
	struct member_row row = {compression_id, side, position, commit_hash};
	struct db *db;

	if (!c || !valid_side(side) || !compression_id || !commit_hash)
		return fail(c, TRACT_EINVAL, "mem: compression_member_put needs a side, a record "
			    "and a commit");
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	if (find(db, MEMBERS, &row))
		return fail(c, TRACT_EEXISTS, "mem: member %" PRId64 " of %s exists", position,
			    compression_id);
	if (!find_compression(db, compression_id) || !find_commit(db, commit_hash))
		return fail(c, TRACT_ESTORAGE, "mem: compression member: record %s or commit %s "
			    "missing", compression_id, commit_hash);
	return insert(db, MEMBERS, &row) < 0 ? oom(c) : 0;
}

static int mem_compression_get(tract_backend_conn *c, const char *compression_id,
			       tract_compression_cb cb, void *payload)
{
	struct db *db;
	tract_compression_row *r;
	int rc;

	if (!c || !compression_id || !cb)
		return fail(c, TRACT_EINVAL, "mem: compression_get needs an id and a callback");
	db = read_view(c);
	r = find_compression(db, compression_id);
	rc = r ? cb_result(cb(r, payload))
	       : fail(c, TRACT_ENOTFOUND, "compression record not found: %s", compression_id);
	return read_done(c, db, rc);
}

static bool keep_compression(const void *row, const void *tract_id)
{
	return !tract_id || strcmp(((const tract_compression_row *)row)->tract_id, tract_id) == 0;
}

static int order_compression_time(const void *a, const void *b)
{
	const tract_compression_row *x = *(void *const *)a, *y = *(void *const *)b;
	int o = cmp_i64(x->created_at, y->created_at);

	return o ? o : strcmp(x->compression_id, y->compression_id);
}

static int mem_compression_foreach(tract_backend_conn *c, const char *tract_id,
				   tract_compression_cb cb, void *payload)
{
	struct db *db;
	void **rows = NULL;
	size_t i, n;
	int rc;

	if (!c || !cb)
		return fail(c, TRACT_EINVAL, "mem: compression_foreach needs a callback");
	db = read_view(c);
	rc = select_rows(db, COMPRESSIONS, keep_compression, tract_id, order_compression_time,
			 &rows, &n);
	if (rc < 0)
		rc = oom(c);
	for (i = 0; rc == 0 && i < n; i++)
		rc = cb(rows[i], payload);
	free(rows);
	return read_done(c, db, cb_result(rc));
}

/* Index of the first member of (record, side) and how many follow. */
static size_t member_run(const struct db *db, const char *id, int64_t side, size_t *count)
{
	struct member_row key = {id, side, INT64_MIN, NULL};
	size_t at = seek(db, MEMBERS, &key, NULL), end;

	for (end = at; end < db->t[MEMBERS].n; end++) {
		struct member_row *m = db->t[MEMBERS].rows[end];

		if (strcmp(m->compression_id, id) != 0 || m->side != side)
			break;
	}
	*count = end - at;
	return at;
}

static int mem_compression_members(tract_backend_conn *c, tract_compression_side side,
				   const char *compression_id, tract_member_cb cb, void *payload)
{
	struct db *db;
	size_t at, n, i;
	int rc = 0;

	if (!c || !valid_side(side) || !compression_id || !cb)
		return fail(c, TRACT_EINVAL, "mem: compression_members needs a side, a record "
			    "and a callback");
	db = read_view(c);
	at = member_run(db, compression_id, side, &n);
	for (i = at; i < at + n && rc == 0; i++) {
		struct member_row *m = db->t[MEMBERS].rows[i];

		rc = cb(m->compression_id, m->commit_hash, m->position, payload);
	}
	return read_done(c, db, cb_result(rc));
}

/* ---- spawn pointers ------------------------------------------------------- */

static int mem_spawn_put(tract_backend_conn *c, const tract_spawn_row *row, int64_t *out_id)
{
	tract_spawn_row copy;
	struct db *db;

	if (!c || !row || !row->parent_tract_id || !row->child_tract_id)
		return fail(c, TRACT_EINVAL, "mem: spawn_put needs a parent and a child tract");
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	if (row->parent_commit_hash && !find_commit(db, row->parent_commit_hash))
		return fail(c, TRACT_ESTORAGE, "mem: spawn pointer: commit missing: %s",
			    row->parent_commit_hash);
	copy = *row;
	copy.id = db->next_spawn_id;
	if (insert(db, SPAWNS, &copy) < 0)
		return oom(c);
	db->next_spawn_id++;
	if (out_id)
		*out_id = copy.id;
	return 0;
}

/* Spawn pointers by id whose parent (by_child false) or child is tract. */
static int send_spawns(tract_backend_conn *c, const char *tract, bool by_child,
		       tract_spawn_cb cb, void *payload)
{
	struct db *db;
	size_t i;
	int rc = 0;

	if (!c || !cb || (by_child && !tract))
		return fail(c, TRACT_EINVAL, "mem: spawn lookups need a callback (and a child)");
	db = read_view(c);
	for (i = 0; i < db->t[SPAWNS].n && rc == 0; i++) {
		tract_spawn_row *s = db->t[SPAWNS].rows[i];
		const char *who = by_child ? s->child_tract_id : s->parent_tract_id;

		if (!tract || strcmp(who, tract) == 0)
			rc = cb(s, payload);
	}
	return read_done(c, db, cb_result(rc));
}

static int mem_spawn_foreach(tract_backend_conn *c, const char *parent_tract_id,
			     tract_spawn_cb cb, void *payload)
{
	return send_spawns(c, parent_tract_id, false, cb, payload);
}

static int mem_spawn_by_child(tract_backend_conn *c, const char *child_tract_id,
			      tract_spawn_cb cb, void *payload)
{
	return send_spawns(c, child_tract_id, true, cb, payload);
}

/* ---- store metadata ------------------------------------------------------- */

static int mem_meta_get(tract_backend_conn *c, const char *key, tract_meta_cb cb, void *payload)
{
	struct meta_row k = {key, NULL}, *m;
	struct db *db;
	int rc;

	if (!c || !key || !cb)
		return fail(c, TRACT_EINVAL, "mem: meta_get needs a key and a callback");
	db = read_view(c);
	m = find(db, META, &k);
	rc = m ? cb_result(cb(m->key, m->value, payload))
	       : fail(c, TRACT_ENOTFOUND, "metadata key not found: %s", key);
	return read_done(c, db, rc);
}

static int mem_meta_set(tract_backend_conn *c, const char *key, const char *value)
{
	struct meta_row row = {key, value}, *m;
	struct db *db;

	if (!c || !key || !value)
		return fail(c, TRACT_EINVAL, "mem: meta_set needs a key and a value");
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	m = find(db, META, &row);
	if (m)
		return set_string(&m->value, value) < 0 ? oom(c) : 0;
	return insert(db, META, &row) < 0 ? oom(c) : 0;
}

static int mem_meta_delete(tract_backend_conn *c, const char *key)
{
	struct meta_row k = {key, NULL};
	struct db *db;
	bool found;
	size_t at;

	if (!c || !key)
		return fail(c, TRACT_EINVAL, "mem: meta_delete needs a key");
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	at = seek(db, META, &k, &found);
	if (!found)
		return fail(c, TRACT_ENOTFOUND, "metadata key not found: %s", key);
	remove_rows(db, META, at, 1);
	return 0;
}

static int mem_meta_foreach(tract_backend_conn *c, const char *prefix, tract_meta_cb cb,
			    void *payload)
{
	struct meta_row k = {prefix ? prefix : "", NULL};
	struct db *db;
	size_t i, len = prefix ? strlen(prefix) : 0;
	int rc = 0;

	if (!c || !cb)
		return fail(c, TRACT_EINVAL, "mem: meta_foreach needs a callback");
	db = read_view(c);
	/* Keys with the prefix are one run of the sorted table. */
	for (i = seek(db, META, &k, NULL); i < db->t[META].n && rc == 0; i++) {
		struct meta_row *m = db->t[META].rows[i];

		if (strncmp(m->key, k.key, len) != 0)
			break;
		rc = cb(m->key, m->value, payload);
	}
	return read_done(c, db, cb_result(rc));
}

/* ---- tracts --------------------------------------------------------------- */

/* The summary of tract_id in the sorted array sums, added when missing. */
static tract_tract_row *summary_of(tract_tract_row *sums, size_t *n, const char *tract_id)
{
	size_t lo = 0, hi = *n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(sums[mid].tract_id, tract_id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == *n || strcmp(sums[lo].tract_id, tract_id) != 0) {
		memmove(&sums[lo + 1], &sums[lo], (*n - lo) * sizeof(*sums));
		sums[lo] = (tract_tract_row){tract_id, 0, TRACT_TIME_NONE};
		(*n)++;
	}
	return &sums[lo];
}

static int mem_tract_foreach(tract_backend_conn *c, tract_tract_cb cb, void *payload)
{
	struct db *db;
	tract_tract_row *sums = NULL, *t;
	size_t i, n = 0, most;
	int rc = 0;

	if (!c || !cb)
		return fail(c, TRACT_EINVAL, "mem: tract_foreach needs a callback");
	db = read_view(c);
	/* At most one summary per commit and per ref. */
	most = db->t[COMMITS].n + db->t[REFS].n;
	if (most && !(sums = malloc(most * sizeof(*sums)))) {
		rc = oom(c);
		goto done;
	}
	for (i = 0; i < db->t[COMMITS].n; i++) {
		tract_commit_row *r = db->t[COMMITS].rows[i];

		t = summary_of(sums, &n, r->tract_id);
		t->commit_count++;
		if (t->last_activity == TRACT_TIME_NONE || r->created_at > t->last_activity)
			t->last_activity = r->created_at;
	}
	for (i = 0; i < db->t[REFS].n; i++)
		summary_of(sums, &n, ((tract_ref_row *)db->t[REFS].rows[i])->tract_id);
	for (i = 0; i < n && rc == 0; i++)
		rc = cb(&sums[i], payload);
	rc = cb_result(rc);
done:
	free(sums);
	return read_done(c, db, rc);
}

/* ---- deletion (version 2) -------------------------------------------------
 * Plain scans: a real backend keeps indexes for the rows that name a
 * commit; here a delete costs a pass over the tables. */

static int mem_commit_delete(tract_backend_conn *c, const char *commit_hash)
{
	struct parent_row pkey = {commit_hash, NULL, INT64_MIN};
	tract_annotation_row akey = {.target_hash = commit_hash, .created_at = INT64_MIN,
				     .id = INT64_MIN};
	struct db *db;
	bool found;
	size_t at, i, end;
	tract_commit_row key = {.commit_hash = commit_hash};

	if (!c || !commit_hash)
		return fail(c, TRACT_EINVAL, "mem: commit_delete needs a hash");
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	at = seek(db, COMMITS, &key, &found);
	if (!found)
		return fail(c, TRACT_ENOTFOUND, "commit not found: %s", commit_hash);
	/* What the core removes first: refs, annotations, parent and member rows. */
	for (i = 0; i < db->t[REFS].n; i++)
		if (same_string(((tract_ref_row *)db->t[REFS].rows[i])->commit_hash, commit_hash))
			return fail(c, TRACT_ESTORAGE, "mem: a ref names commit %s", commit_hash);
	i = seek(db, ANNOTATIONS, &akey, NULL);
	if (i < db->t[ANNOTATIONS].n &&
	    strcmp(((tract_annotation_row *)db->t[ANNOTATIONS].rows[i])->target_hash,
		   commit_hash) == 0)
		return fail(c, TRACT_ESTORAGE, "mem: commit %s has annotations", commit_hash);
	for (i = 0; i < db->t[PARENTS].n; i++)
		if (strcmp(((struct parent_row *)db->t[PARENTS].rows[i])->parent_hash,
			   commit_hash) == 0)
			return fail(c, TRACT_ESTORAGE, "mem: commit %s is a merge parent",
				    commit_hash);
	for (i = 0; i < db->t[MEMBERS].n; i++)
		if (strcmp(((struct member_row *)db->t[MEMBERS].rows[i])->commit_hash,
			   commit_hash) == 0)
			return fail(c, TRACT_ESTORAGE, "mem: commit %s is in a compression record",
				    commit_hash);
	/* ON DELETE SET NULL in the rows naming it. */
	for (i = 0; i < db->t[COMMITS].n; i++) {
		tract_commit_row *r = db->t[COMMITS].rows[i];

		if (same_string(r->parent_hash, commit_hash))
			set_string(&r->parent_hash, NULL);
		if (same_string(r->response_to, commit_hash))
			set_string(&r->response_to, NULL);
	}
	for (i = 0; i < db->t[SPAWNS].n; i++) {
		tract_spawn_row *s = db->t[SPAWNS].rows[i];

		if (same_string(s->parent_commit_hash, commit_hash))
			set_string(&s->parent_commit_hash, NULL);
	}
	/* Its own merge parents (ON DELETE CASCADE), then the row. */
	i = seek(db, PARENTS, &pkey, NULL);
	for (end = i; end < db->t[PARENTS].n; end++)
		if (strcmp(((struct parent_row *)db->t[PARENTS].rows[end])->commit_hash,
			   commit_hash) != 0)
			break;
	remove_rows(db, PARENTS, i, end - i);
	remove_rows(db, COMMITS, at, 1);
	return 0;
}

static int mem_blob_delete(tract_backend_conn *c, const char *content_hash)
{
	tract_blob_row key = {.content_hash = content_hash};
	struct db *db;
	bool found;
	size_t at, i;

	if (!c || !content_hash)
		return fail(c, TRACT_EINVAL, "mem: blob_delete needs a hash");
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	at = seek(db, BLOBS, &key, &found);
	if (!found)
		return fail(c, TRACT_ENOTFOUND, "blob not found: %s", content_hash);
	for (i = 0; i < db->t[COMMITS].n; i++)
		if (strcmp(((tract_commit_row *)db->t[COMMITS].rows[i])->content_hash,
			   content_hash) == 0)
			return fail(c, TRACT_ESTORAGE, "mem: a commit uses blob %s", content_hash);
	remove_rows(db, BLOBS, at, 1);
	return 0;
}

static int mem_annotation_delete_target(tract_backend_conn *c, const char *target_hash)
{
	tract_annotation_row key = {.target_hash = target_hash, .created_at = INT64_MIN,
				    .id = INT64_MIN};
	struct db *db;
	size_t at, end;

	if (!c || !target_hash)
		return fail(c, TRACT_EINVAL, "mem: annotation_delete_target needs a target");
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	at = seek(db, ANNOTATIONS, &key, NULL);
	for (end = at; end < db->t[ANNOTATIONS].n; end++)
		if (strcmp(((tract_annotation_row *)db->t[ANNOTATIONS].rows[end])->target_hash,
			   target_hash) != 0)
			break;
	remove_rows(db, ANNOTATIONS, at, end - at);
	return 0;
}

static int mem_compression_delete(tract_backend_conn *c, const char *compression_id)
{
	tract_compression_row key = {.compression_id = compression_id};
	struct db *db;
	bool found;
	size_t at, n;
	int side;

	if (!c || !compression_id)
		return fail(c, TRACT_EINVAL, "mem: compression_delete needs an id");
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	at = seek(db, COMPRESSIONS, &key, &found);
	if (!found)
		return fail(c, TRACT_ENOTFOUND, "compression record not found: %s",
			    compression_id);
	for (side = TRACT_COMPRESSION_SOURCES; side <= TRACT_COMPRESSION_RESULTS; side++) {
		size_t first = member_run(db, compression_id, side, &n);

		remove_rows(db, MEMBERS, first, n);
	}
	remove_rows(db, COMPRESSIONS, at, 1);
	return 0;
}

static int mem_spawn_delete(tract_backend_conn *c, int64_t id)
{
	tract_spawn_row key = {.id = id};
	struct db *db;
	bool found;
	size_t at;

	if (!c)
		return TRACT_EINVAL;
	if (!(db = write_view(c)))
		return TRACT_EINVAL;
	at = seek(db, SPAWNS, &key, &found);
	if (!found)
		return fail(c, TRACT_ENOTFOUND, "spawn pointer not found: %" PRId64, id);
	remove_rows(db, SPAWNS, at, 1);
	return 0;
}

/* ---- the table ------------------------------------------------------------ */

static const char *const mem_schemes[] = {"mem", NULL};

static const tract_backend mem_backend = {
	.version = TRACT_BACKEND_VERSION,
	.name = "mem",
	.description = "stores kept in memory for the life of the process (example backend)",
	.schemes = mem_schemes,
	.private_meta_keys = NULL,
	.open = mem_open,
	.close = mem_close,
	.last_error = mem_last_error,
	.destroy = mem_destroy,
	.same_store = mem_same_store,
	.begin = mem_begin,
	.commit = mem_commit,
	.rollback = mem_rollback,
	.blob_put = mem_blob_put,
	.blob_get = mem_blob_get,
	.blob_foreach = mem_blob_foreach,
	.commit_put = mem_commit_put,
	.commit_get = mem_commit_get,
	.commit_prefix = mem_commit_prefix,
	.commit_chain = mem_commit_chain,
	.commit_foreach = mem_commit_foreach,
	.commit_foreach_with_config = mem_commit_foreach_with_config,
	.parent_put = mem_parent_put,
	.parent_list = mem_parent_list,
	.parent_foreach = mem_parent_foreach,
	.ref_get = mem_ref_get,
	.ref_cas = mem_ref_cas,
	.ref_delete = mem_ref_delete,
	.ref_foreach = mem_ref_foreach,
	.annotation_put = mem_annotation_put,
	.annotation_list = mem_annotation_list,
	.annotation_foreach = mem_annotation_foreach,
	.compression_put = mem_compression_put,
	.compression_member_put = mem_compression_member_put,
	.compression_get = mem_compression_get,
	.compression_foreach = mem_compression_foreach,
	.compression_members = mem_compression_members,
	.spawn_put = mem_spawn_put,
	.spawn_foreach = mem_spawn_foreach,
	.spawn_by_child = mem_spawn_by_child,
	.meta_get = mem_meta_get,
	.meta_set = mem_meta_set,
	.meta_delete = mem_meta_delete,
	.meta_foreach = mem_meta_foreach,
	.tract_foreach = mem_tract_foreach,
	.commit_delete = mem_commit_delete,
	.blob_delete = mem_blob_delete,
	.annotation_delete_target = mem_annotation_delete_target,
	.compression_delete = mem_compression_delete,
	.spawn_delete = mem_spawn_delete,
};

/* The one exported symbol (TRACT_BACKEND_ENTRY). */
__attribute__((visibility("default"))) const tract_backend *tract_backend_entry(void);

const tract_backend *tract_backend_entry(void)
{
	return &mem_backend;
}
