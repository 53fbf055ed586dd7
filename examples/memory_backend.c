/*
 * memory_backend.c - a complete storage backend that keeps its stores in
 * memory, written against include/tract/sys/backend.h only: the template to
 * copy for a new backend. "mem:NAME" names a store in a process-wide
 * registry, so two connections to "mem:x" share one store; stores live
 * until the process exits.
 *
 * Model (clarity first, not speed):
 * - A store's state is a struct db: one sorted array of row pointers per
 *   table. The last committed db is immutable; readers share it.
 * - A read transaction holds a reference to the committed db: a snapshot
 *   that never blocks, nor waits for, the writer.
 * - A write transaction (one per store at a time; a second writer waits up
 *   to BUSY_TIMEOUT_SEC) works on a private deep copy, published by commit()
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

#define BUSY_TIMEOUT_SEC 5
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

/*
 * What the generic code knows of a table: the size of a row, the offsets
 * of its owned strings, and its key: the fields rows are sorted by, each
 * the offset of a string member or, with INT_FIELD, of an int64 member.
 */
struct kind {
	size_t size;
	size_t strings[10], n_strings;
	size_t key[3], n_key;
};

#define INT_FIELD ((size_t)1 << 30)
#define S(type, m) offsetof(type, m)
#define I(type, m) (INT_FIELD | offsetof(type, m))
static const struct kind kinds[N_TABLES] = {
	[BLOBS] = {sizeof(tract_blob_row),
		   {S(tract_blob_row, content_hash), S(tract_blob_row, payload_json)}, 2,
		   {S(tract_blob_row, content_hash)}, 1},
	[COMMITS] = {sizeof(tract_commit_row),
		     {S(tract_commit_row, commit_hash), S(tract_commit_row, tract_id),
		      S(tract_commit_row, parent_hash), S(tract_commit_row, content_hash),
		      S(tract_commit_row, content_type), S(tract_commit_row, response_to),
		      S(tract_commit_row, message), S(tract_commit_row, metadata_json),
		      S(tract_commit_row, generation_config_json)},
		     9, {S(tract_commit_row, commit_hash)}, 1},
	[PARENTS] = {sizeof(struct parent_row),
		     {S(struct parent_row, commit_hash), S(struct parent_row, parent_hash)}, 2,
		     {S(struct parent_row, commit_hash), I(struct parent_row, position)}, 2},
	[REFS] = {sizeof(tract_ref_row),
		  {S(tract_ref_row, tract_id), S(tract_ref_row, ref_name),
		   S(tract_ref_row, commit_hash), S(tract_ref_row, symbolic_target)},
		  4, {S(tract_ref_row, tract_id), S(tract_ref_row, ref_name)}, 2},
	/* By target, then (created_at, id): annotation_list's order, and the
	 * last row of a target at or before a cutoff is the priority then. */
	[ANNOTATIONS] = {sizeof(tract_annotation_row),
			 {S(tract_annotation_row, tract_id), S(tract_annotation_row, target_hash),
			  S(tract_annotation_row, reason)},
			 3,
			 {S(tract_annotation_row, target_hash), I(tract_annotation_row, created_at),
			  I(tract_annotation_row, id)},
			 3},
	[COMPRESSIONS] = {sizeof(tract_compression_row),
			  {S(tract_compression_row, compression_id),
			   S(tract_compression_row, tract_id),
			   S(tract_compression_row, branch_name),
			   S(tract_compression_row, instructions)},
			  4, {S(tract_compression_row, compression_id)}, 1},
	[MEMBERS] = {sizeof(struct member_row),
		     {S(struct member_row, compression_id), S(struct member_row, commit_hash)}, 2,
		     {S(struct member_row, compression_id), I(struct member_row, side),
		      I(struct member_row, position)},
		     3},
	[SPAWNS] = {sizeof(tract_spawn_row),
		    {S(tract_spawn_row, parent_tract_id), S(tract_spawn_row, parent_commit_hash),
		     S(tract_spawn_row, child_tract_id), S(tract_spawn_row, purpose),
		     S(tract_spawn_row, inheritance_mode), S(tract_spawn_row, display_name)},
		    6, {I(tract_spawn_row, id)}, 1},
	[META] = {sizeof(struct meta_row), {S(struct meta_row, key), S(struct meta_row, value)}, 2,
		  {S(struct meta_row, key)}, 1},
};

/* The owned string at offset off of a row. */
static const char **string_at(void *row, size_t off)
{
	return (const char **)((char *)row + off);
}

/* Compare two rows of a table by the first n fields of its key. A lookup
 * passes a row with the key fields set, or just the value of a key that
 * is the row's first member. */
static int cmp_rows(int table, const void *a, const void *b, size_t n)
{
	const struct kind *k = &kinds[table];
	size_t i, off;
	int c = 0;

	for (i = 0; c == 0 && i < n && i < k->n_key; i++) {
		off = k->key[i] & ~INT_FIELD;
		if (k->key[i] & INT_FIELD)
			c = cmp_i64(*(const int64_t *)((const char *)a + off),
				    *(const int64_t *)((const char *)b + off));
		else
			c = cmp_str(*string_at((void *)a, off), *string_at((void *)b, off));
	}
	return c;
}

static void row_free(int table, void *row)
{
	size_t i;

	for (i = 0; row && i < kinds[table].n_strings; i++)
		free((void *)*string_at(row, kinds[table].strings[i]));
	free(row);
}

/* A copy of row with copies of its strings (NULL stays NULL); NULL when
 * out of memory. */
static void *row_dup(int table, const void *row)
{
	const struct kind *k = &kinds[table];
	void *d = calloc(1, k->size);
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

/* Index of the first row not less than key (binary search); *found (may
 * be NULL) when that row equals key. */
static size_t seek(const struct db *db, int table, const void *key, bool *found)
{
	const struct table *t = &db->t[table];
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_rows(table, t->rows[mid], key, SIZE_MAX) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (found)
		*found = lo < t->n && cmp_rows(table, t->rows[lo], key, SIZE_MAX) == 0;
	return lo;
}

/* The row equal to key, or NULL. */
static void *find(const struct db *db, int table, const void *key)
{
	bool found;
	size_t at = seek(db, table, key, &found);

	return found ? db->t[table].rows[at] : NULL;
}

/*
 * A run of rows sharing the first n fields of their key with key: from
 * the first row not less than key on. Returns the index past the run; *at
 * its first row. (One commit's parents, one target's annotations, one side
 * of a compression record are each such a run.)
 */
static size_t run(const struct db *db, int table, const void *key, size_t n, size_t *at)
{
	size_t end;

	*at = seek(db, table, key, NULL);
	for (end = *at; end < db->t[table].n && !cmp_rows(table, db->t[table].rows[end], key, n);
	     end++)
		;
	return end;
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
	if (!(d = row_dup(table, row)))
		return TRACT_ENOMEM;
	memmove(&t->rows[at + 1], &t->rows[at], (t->n - at) * sizeof(*t->rows));
	t->rows[at] = d;
	t->n++;
	return 0;
}

/* Remove rows [at, end). */
static void remove_rows(struct db *db, int table, size_t at, size_t end)
{
	struct table *t = &db->t[table];
	size_t i;

	if (at == end)
		return;
	for (i = at; i < end; i++)
		row_free(table, t->rows[i]);
	memmove(&t->rows[at], &t->rows[end], (t->n - end) * sizeof(*t->rows));
	t->n -= end - at;
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

	for (i = 0; db && i < N_TABLES; i++) {
		remove_rows(db, i, 0, db->t[i].n);
		free(db->t[i].rows);
	}
	free(db);
}

/* An empty db, or a deep copy of src (the private state of a write
 * transaction); NULL when out of memory. */
static struct db *db_new(const struct db *src)
{
	struct db *db = calloc(1, sizeof(*db));
	int i;

	if (!db)
		return NULL;
	db->users = 1;
	db->next_annotation_id = src ? src->next_annotation_id : 1;
	db->next_spawn_id = src ? src->next_spawn_id : 1;
	for (i = 0; src && i < N_TABLES; i++) {
		struct table *t = &db->t[i];

		if (!src->t[i].n)
			continue;
		if (!(t->rows = malloc(src->t[i].n * sizeof(*t->rows))))
			goto fail;
		t->cap = src->t[i].n;
		for (; t->n < src->t[i].n; t->n++)
			if (!(t->rows[t->n] = row_dup(i, src->t[i].rows[t->n])))
				goto fail;
	}
	return db;
fail:
	db_free(db);
	return NULL;
}

/* ---- stores and connections ----------------------------------------------- */

/* One named store of the process: it lives until the process exits. */
struct store {
	char *name;
	struct db *db;      /* last committed state */
	bool writing;       /* a write transaction is open */
	struct store *next; /* registry list */
};

struct tract_backend_conn {
	struct store *store;
	struct db *db; /* the transaction's state; NULL outside one */
	int txn;       /* -1 none, else a tract_txn_kind */
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

	pthread_mutex_lock(&lock);
	last = --db->users == 0;
	pthread_mutex_unlock(&lock);
	if (last)
		db_free(db);
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
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789-_.";
	size_t len = uri ? strlen(uri) : 0;

	if (len <= 4 || len > 4 + MAX_NAME || strncmp(uri, "mem:", 4) != 0 ||
	    strspn(uri + 4, allowed) != len - 4)
		return NULL;
	return uri + 4;
}

static int mem_open(tract_backend_conn **out, const char *uri, unsigned flags, char *errbuf,
		    size_t errlen)
{
	const char *name = uri_name(uri);
	tract_backend_conn *c = NULL;
	struct store *s;
	int rc = TRACT_ENOMEM;

	if (!out || !name) {
		rc = TRACT_EINVAL;
		goto done;
	}
	pthread_mutex_lock(&lock);
	for (s = registry; s && strcmp(s->name, name) != 0; s = s->next)
		;
	if (!s && !(flags & TRACT_BACKEND_CREATE)) {
		rc = TRACT_ENOTFOUND;
	} else if (!s) {
		/* A new, empty store: its committed state is an empty db. */
		s = calloc(1, sizeof(*s));
		if (s && (!(s->name = strdup(name)) || !(s->db = db_new(NULL)))) {
			free(s->name);
			free(s);
			s = NULL;
		}
		if (s) {
			s->next = registry;
			registry = s;
		}
	}
	if (s && (c = calloc(1, sizeof(*c)))) {
		c->store = s;
		c->txn = -1;
		rc = 0;
	}
	pthread_mutex_unlock(&lock);
done:
	if (rc == TRACT_EINVAL && errbuf)
		snprintf(errbuf, errlen, "mem: not a store URI \"mem:NAME\" (NAME: letters, "
			 "digits, '-', '_', '.'): %.100s", uri ? uri : "(null)");
	else if (rc == TRACT_ENOTFOUND && errbuf)
		snprintf(errbuf, errlen, "%.200s: store not found", uri);
	else if (rc < 0 && errbuf)
		snprintf(errbuf, errlen, "mem: out of memory");
	if (out)
		*out = c;
	return rc;
}

static int mem_rollback(tract_backend_conn *c);

static void mem_close(tract_backend_conn *c)
{
	mem_rollback(c);
	free(c);
}

static const char *mem_last_error(tract_backend_conn *c)
{
	return c ? c->err : "";
}

/* ---- transactions --------------------------------------------------------- */

static int mem_begin(tract_backend_conn *c, tract_txn_kind kind)
{
	struct timespec until;
	struct db *snap;
	int rc = 0;

	if (!c || (kind != TRACT_TXN_READ && kind != TRACT_TXN_WRITE))
		return fail(c, TRACT_EINVAL, "mem: invalid transaction kind");
	if (c->txn >= 0)
		return fail(c, TRACT_EINVAL, "mem: a transaction is already open");
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += BUSY_TIMEOUT_SEC;
	pthread_mutex_lock(&lock);
	while (kind == TRACT_TXN_WRITE && c->store->writing && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&writer_done, &lock, &until);
	if (kind == TRACT_TXN_WRITE && c->store->writing) {
		pthread_mutex_unlock(&lock);
		return fail(c, TRACT_ESTORAGE, "mem: store busy: another writer holds it");
	}
	snap = c->store->db;
	snap->users++;
	if (kind == TRACT_TXN_WRITE)
		c->store->writing = true;
	pthread_mutex_unlock(&lock);
	c->db = snap;
	if (kind == TRACT_TXN_WRITE) {
		/* Nobody else writes: the copy is of the latest state. */
		c->db = db_new(snap);
		db_release(snap);
		if (!c->db) {
			pthread_mutex_lock(&lock);
			c->store->writing = false;
			pthread_cond_broadcast(&writer_done);
			pthread_mutex_unlock(&lock);
			return oom(c);
		}
	}
	c->txn = kind;
	return 0;
}

/* End the transaction: publish a write transaction's copy (commit) or
 * drop it (rollback). Readers that began before keep the db they hold. */
static void end_txn(tract_backend_conn *c, bool publish)
{
	struct db *drop = c->db;

	if (c->txn == TRACT_TXN_WRITE) {
		pthread_mutex_lock(&lock);
		if (publish) {
			drop = c->store->db;
			c->store->db = c->db;
		}
		c->store->writing = false;
		pthread_cond_broadcast(&writer_done);
		pthread_mutex_unlock(&lock);
	}
	db_release(drop);
	c->db = NULL;
	c->txn = -1;
}

static int mem_commit(tract_backend_conn *c)
{
	if (!c || c->txn < 0)
		return fail(c, TRACT_EINVAL, "mem: no transaction to commit");
	end_txn(c, true);
	return 0;
}

static int mem_rollback(tract_backend_conn *c)
{
	if (c && c->txn >= 0)
		end_txn(c, false);
	return 0;
}

/*
 * Every member starts with READING() or WRITING(): they check the
 * arguments (ok: none is missing) and set db to the state to work on, or
 * return TRACT_EINVAL with the error set. A read sees its transaction's
 * state or else the last committed one, held until done().
 */
#define READING(db, c, ok)                                                                         \
	if (!((db) = reading(c, ok, __func__)))                                                    \
		return TRACT_EINVAL
#define WRITING(db, c, ok)                                                                         \
	if (!((db) = writing(c, ok, __func__)))                                                    \
		return TRACT_EINVAL

static struct db *reading(tract_backend_conn *c, bool ok, const char *fn)
{
	struct db *db;

	if (!c || !ok) {
		fail(c, TRACT_EINVAL, "mem: %s: missing argument", fn);
		return NULL;
	}
	if (c->db)
		return c->db;
	pthread_mutex_lock(&lock);
	db = c->store->db;
	db->users++;
	pthread_mutex_unlock(&lock);
	return db;
}

static struct db *writing(tract_backend_conn *c, bool ok, const char *fn)
{
	if (!c || !ok) {
		fail(c, TRACT_EINVAL, "mem: %s: missing or invalid argument", fn);
		return NULL;
	}
	if (c->txn != TRACT_TXN_WRITE) {
		fail(c, TRACT_EINVAL, "mem: %s needs a write transaction", fn);
		return NULL;
	}
	return c->db;
}

/* End a read: release what reading() held; a callback's result rc > 0
 * (stop early) becomes 0, rc < 0 is returned as is. */
static int done(tract_backend_conn *c, struct db *db, int rc)
{
	if (db != c->db)
		db_release(db);
	return rc < 0 ? rc : 0;
}

/* ---- lookups used by several members -------------------------------------- */

static tract_commit_row *find_commit(const struct db *db, const char *hash)
{
	return find(db, COMMITS, &(tract_commit_row){.commit_hash = hash});
}

static tract_blob_row *find_blob(const struct db *db, const char *hash)
{
	return find(db, BLOBS, &(tract_blob_row){.content_hash = hash});
}

static bool same_string(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* keep() of select_rows: the row's tract (at offset *off) is arg, or arg
 * is NULL. */
static bool in_tract(const void *row, const void *arg, size_t off)
{
	return !arg || strcmp(*(const char *const *)((const char *)row + off), arg) == 0;
}

/*
 * The rows of a table whose tract_id (at offset off) is tract (NULL: all)
 * and, when config_only, whose generation config is set, sorted by order:
 * for the orders a table is not stored in. *out is malloc'ed.
 */
static int select_rows(const struct db *db, int table, size_t off, const char *tract,
		       bool config_only, int (*order)(const void *, const void *), void ***out,
		       size_t *n)
{
	const struct table *t = &db->t[table];
	size_t i;

	*n = 0;
	if (!(*out = malloc((t->n ? t->n : 1) * sizeof(**out))))
		return TRACT_ENOMEM;
	for (i = 0; i < t->n; i++)
		if (in_tract(t->rows[i], tract, off) &&
		    (!config_only || ((tract_commit_row *)t->rows[i])->generation_config_json))
			(*out)[(*n)++] = t->rows[i];
	qsort(*out, *n, sizeof(**out), order);
	return 0;
}

/* ---- blobs ---------------------------------------------------------------- */

static int mem_blob_put(tract_backend_conn *c, const tract_blob_row *row, int *inserted)
{
	struct db *db;
	bool exists;

	WRITING(db, c, row && row->content_hash && row->payload_json);
	/* Dedup: an existing blob is left as it is. */
	exists = find_blob(db, row->content_hash) != NULL;
	if (!exists && insert(db, BLOBS, row) < 0)
		return oom(c);
	if (inserted)
		*inserted = !exists;
	return 0;
}

static int mem_blob_get(tract_backend_conn *c, const char *hash, tract_blob_cb cb, void *payload)
{
	struct db *db;
	tract_blob_row *b;

	READING(db, c, hash && cb);
	if (!(b = find_blob(db, hash)))
		return done(c, db, fail(c, TRACT_ENOTFOUND, "blob not found: %s", hash));
	return done(c, db, cb(b, payload));
}

static int mem_blob_foreach(tract_backend_conn *c, tract_blob_cb cb, void *payload)
{
	struct db *db;
	size_t i;
	int rc = 0;

	READING(db, c, cb);
	for (i = 0; i < db->t[BLOBS].n && rc == 0; i++)
		rc = cb(db->t[BLOBS].rows[i], payload);
	return done(c, db, rc);
}

/* ---- commits -------------------------------------------------------------- */

static int mem_commit_put(tract_backend_conn *c, const tract_commit_row *row)
{
	struct db *db;

	WRITING(db, c, row && row->commit_hash && row->tract_id && row->content_hash &&
		row->content_type && tract_backend_operation_name(row->operation));
	if (find_commit(db, row->commit_hash))
		return fail(c, TRACT_EEXISTS, "commit exists: %s", row->commit_hash);
	/* The foreign keys an SQL schema would check. */
	if (!find_blob(db, row->content_hash) ||
	    (row->parent_hash && !find_commit(db, row->parent_hash)) ||
	    (row->response_to && !find_commit(db, row->response_to)))
		return fail(c, TRACT_ESTORAGE, "mem: %s: missing blob or commit", row->commit_hash);
	return insert(db, COMMITS, row) < 0 ? oom(c) : 0;
}

static int mem_commit_get(tract_backend_conn *c, const char *tract_id, const char *hash,
			  tract_commit_cb cb, void *payload)
{
	struct db *db;
	tract_commit_row *r;

	READING(db, c, hash && cb);
	r = find_commit(db, hash);
	if (!r || !in_tract(r, tract_id, offsetof(tract_commit_row, tract_id)))
		return done(c, db, fail(c, TRACT_ENOTFOUND, "commit not found: %s", hash));
	return done(c, db, cb(r, payload));
}

static int mem_commit_prefix(tract_backend_conn *c, const char *tract_id, const char *prefix,
			     size_t max, tract_commit_cb cb, void *payload)
{
	struct db *db;
	size_t i, sent = 0;
	int rc = 0;

	READING(db, c, prefix && cb);
	/* Hashes with the prefix are one run of the sorted table. */
	for (i = seek(db, COMMITS, &prefix, NULL); i < db->t[COMMITS].n && rc == 0; i++) {
		tract_commit_row *r = db->t[COMMITS].rows[i];

		if (strncmp(r->commit_hash, prefix, strlen(prefix)) != 0 || (max && sent == max))
			break;
		if (in_tract(r, tract_id, offsetof(tract_commit_row, tract_id))) {
			sent++;
			rc = cb(r, payload);
		}
	}
	return done(c, db, rc);
}

/* The priority in force for target at cutoff: the last annotation of the
 * target (by created_at, then id) with created_at <= cutoff. */
static tract_priority priority_at(const struct db *db, const char *target, tract_time cutoff)
{
	tract_annotation_row key = {.target_hash = target, .created_at = cutoff, .id = INT64_MAX};
	size_t at = seek(db, ANNOTATIONS, &key, NULL);
	tract_annotation_row *a = at ? db->t[ANNOTATIONS].rows[at - 1] : NULL;

	return a && strcmp(a->target_hash, target) == 0 ? a->priority : TRACT_PRIORITY_NONE;
}

static int mem_commit_chain(tract_backend_conn *c, const char *tract_id, const char *head,
			    size_t limit, unsigned flags, tract_time annotation_cutoff,
			    tract_chain_cb cb, void *payload)
{
	struct db *db;
	const char **parents = NULL;
	tract_commit_row *r;
	size_t sent = 0, at, end, i;
	int rc = 0;

	READING(db, c, head && cb);
	/* Merge parents are at most one per row of the table. */
	if ((flags & TRACT_CHAIN_PARENTS) &&
	    !(parents = malloc((db->t[PARENTS].n + 1) * sizeof(*parents))))
		return done(c, db, oom(c));
	for (r = find_commit(db, head); r && in_tract(r, tract_id, offsetof(tract_commit_row,
									   tract_id));
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
			struct parent_row key = {r->commit_hash, NULL, 1};

			end = run(db, PARENTS, &key, 1, &at);
			for (i = at; i < end; i++)
				parents[i - at] = ((struct parent_row *)db->t[PARENTS].rows[i])
							  ->parent_hash;
			row.extra_parents = parents;
			row.n_extra_parents = end - at;
		}
		if ((rc = cb(&row, payload)) != 0 || (limit && ++sent == limit))
			break;
	}
	free(parents);
	return done(c, db, rc);
}

static int order_commit_time(const void *a, const void *b)
{
	const tract_commit_row *x = *(void *const *)a, *y = *(void *const *)b;
	int o = cmp_i64(x->created_at, y->created_at);

	return o ? o : strcmp(x->commit_hash, y->commit_hash);
}

/* Commits of a tract (NULL: all), by (created_at, commit_hash). */
static int commits_by_time(tract_backend_conn *c, const char *tract_id, bool config_only,
			   tract_commit_cb cb, void *payload)
{
	struct db *db;
	void **rows = NULL;
	size_t i, n = 0;
	int rc;

	READING(db, c, cb);
	rc = select_rows(db, COMMITS, offsetof(tract_commit_row, tract_id), tract_id,
			 config_only, order_commit_time, &rows, &n);
	if (rc < 0)
		rc = oom(c);
	for (i = 0; rc == 0 && i < n; i++)
		rc = cb(rows[i], payload);
	free(rows);
	return done(c, db, rc);
}

static int mem_commit_foreach(tract_backend_conn *c, const char *tract_id, tract_commit_cb cb,
			      void *payload)
{
	return commits_by_time(c, tract_id, false, cb, payload);
}

static int mem_commit_foreach_with_config(tract_backend_conn *c, const char *tract_id,
					  tract_commit_cb cb, void *payload)
{
	return commits_by_time(c, tract_id, true, cb, payload);
}

/* ---- merge parents -------------------------------------------------------- */

static int mem_parent_put(tract_backend_conn *c, const char *commit_hash, const char *parent_hash,
			  int64_t position)
{
	struct db *db;
	struct parent_row row = {commit_hash, parent_hash, position};
	size_t at, end;

	WRITING(db, c, commit_hash && parent_hash && position >= 0);
	/* A (commit, position) and a (commit, parent) are each stored once. */
	row.position = INT64_MIN;
	end = run(db, PARENTS, &row, 1, &at);
	row.position = position;
	for (; at < end; at++) {
		struct parent_row *p = db->t[PARENTS].rows[at];

		if (p->position == position || strcmp(p->parent_hash, parent_hash) == 0)
			return fail(c, TRACT_EEXISTS, "mem: parent %s exists", parent_hash);
	}
	if (!find_commit(db, commit_hash) || !find_commit(db, parent_hash))
		return fail(c, TRACT_ESTORAGE, "mem: commit missing: %s", parent_hash);
	return insert(db, PARENTS, &row) < 0 ? oom(c) : 0;
}

/* Rows [at, end) of the parents table. */
static int send_parents(struct db *db, size_t at, size_t end, tract_parent_cb cb, void *payload)
{
	int rc = 0;

	for (; at < end && rc == 0; at++) {
		struct parent_row *p = db->t[PARENTS].rows[at];

		rc = cb(p->commit_hash, p->parent_hash, p->position, payload);
	}
	return rc;
}

static int mem_parent_list(tract_backend_conn *c, const char *commit_hash, tract_parent_cb cb,
			   void *payload)
{
	struct db *db;
	struct parent_row key = {commit_hash, NULL, INT64_MIN};
	size_t at, end;

	READING(db, c, commit_hash && cb);
	end = run(db, PARENTS, &key, 1, &at);
	return done(c, db, send_parents(db, at, end, cb, payload));
}

static int mem_parent_foreach(tract_backend_conn *c, tract_parent_cb cb, void *payload)
{
	struct db *db;

	READING(db, c, cb);
	return done(c, db, send_parents(db, 0, db->t[PARENTS].n, cb, payload));
}

/* ---- refs ----------------------------------------------------------------- */

static tract_ref_row *find_ref(const struct db *db, const char *tract_id, const char *name)
{
	return find(db, REFS, &(tract_ref_row){.tract_id = tract_id, .ref_name = name});
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

	READING(db, c, tract_id && ref_name && cb);
	r = find_ref(db, tract_id, ref_name);
	return done(c, db, r ? cb(r, payload)
			     : fail(c, TRACT_ENOTFOUND, "ref not found: %s", ref_name));
}

static int mem_ref_cas(tract_backend_conn *c, const char *tract_id, const char *ref_name,
		       const char *commit_hash, const char *symbolic_target,
		       const tract_ref_row *expected)
{
	tract_ref_row row = {tract_id, ref_name, commit_hash, symbolic_target}, *r;
	struct db *db;

	/* Exactly one of commit_hash and symbolic_target. */
	WRITING(db, c, tract_id && ref_name && !commit_hash != !symbolic_target);
	r = find_ref(db, tract_id, ref_name);
	if (!ref_matches(r, expected))
		return fail(c, TRACT_ESTALE, "mem: ref %s moved (stale)", ref_name);
	if (commit_hash && !find_commit(db, commit_hash))
		return fail(c, TRACT_ESTORAGE, "mem: commit missing: %s", commit_hash);
	if (!r)
		return insert(db, REFS, &row) < 0 ? oom(c) : 0;
	/* Set the new value first: only it can fail, and then nothing changed. */
	if (commit_hash ? set_string(&r->commit_hash, commit_hash) < 0
			: set_string(&r->symbolic_target, symbolic_target) < 0)
		return oom(c);
	set_string(commit_hash ? &r->symbolic_target : &r->commit_hash, NULL);
	return 0;
}

static int mem_ref_delete(tract_backend_conn *c, const char *tract_id, const char *ref_name,
			  const tract_ref_row *expected)
{
	struct db *db;
	tract_ref_row key = {.tract_id = tract_id, .ref_name = ref_name};
	bool found;
	size_t at;

	WRITING(db, c, tract_id && ref_name);
	at = seek(db, REFS, &key, &found);
	if (!found)
		return fail(c, TRACT_ENOTFOUND, "ref not found: %s", ref_name);
	if (expected && !ref_matches(db->t[REFS].rows[at], expected))
		return fail(c, TRACT_ESTALE, "mem: ref %s moved (stale)", ref_name);
	remove_rows(db, REFS, at, at + 1);
	return 0;
}

static int mem_ref_foreach(tract_backend_conn *c, const char *tract_id, const char *prefix,
			   tract_ref_cb cb, void *payload)
{
	tract_ref_row key = {.tract_id = tract_id};
	struct db *db;
	size_t at, end;
	int rc = 0;

	READING(db, c, cb);
	/* Stored by (tract_id, ref_name): one tract's refs are one run. */
	end = tract_id ? run(db, REFS, &key, 1, &at) : (at = 0, db->t[REFS].n);
	for (; at < end && rc == 0; at++) {
		tract_ref_row *r = db->t[REFS].rows[at];

		if (!prefix || strncmp(r->ref_name, prefix, strlen(prefix)) == 0)
			rc = cb(r, payload);
	}
	return done(c, db, rc);
}

/* ---- annotations ---------------------------------------------------------- */

static int mem_annotation_put(tract_backend_conn *c, const tract_annotation_row *row,
			      int64_t *out_id)
{
	tract_annotation_row copy;
	struct db *db;

	WRITING(db, c, row && row->tract_id && row->target_hash &&
		tract_backend_priority_name(row->priority));
	if (!find_commit(db, row->target_hash))
		return fail(c, TRACT_ESTORAGE, "mem: commit missing: %s", row->target_hash);
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
	struct db *db;
	tract_annotation_row key = {.target_hash = target_hash, .created_at = INT64_MIN,
				    .id = INT64_MIN};
	size_t at, end;
	int rc = 0;

	READING(db, c, target_hash && cb);
	end = run(db, ANNOTATIONS, &key, 1, &at);
	for (; at < end && rc == 0; at++)
		rc = cb(db->t[ANNOTATIONS].rows[at], payload);
	return done(c, db, rc);
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
	size_t i, n = 0;
	int rc;

	READING(db, c, cb);
	rc = select_rows(db, ANNOTATIONS, offsetof(tract_annotation_row, tract_id), tract_id,
			 false, order_annotation_id, &rows, &n);
	if (rc < 0)
		rc = oom(c);
	for (i = 0; rc == 0 && i < n; i++)
		rc = cb(rows[i], payload);
	free(rows);
	return done(c, db, rc);
}

/* ---- compression records -------------------------------------------------- */

static bool valid_side(tract_compression_side side)
{
	return side == TRACT_COMPRESSION_SOURCES || side == TRACT_COMPRESSION_RESULTS;
}

static int mem_compression_put(tract_backend_conn *c, const tract_compression_row *row)
{
	struct db *db;

	WRITING(db, c, row && row->compression_id && row->tract_id);
	if (find(db, COMPRESSIONS, &row->compression_id))
		return fail(c, TRACT_EEXISTS, "mem: record exists: %s", row->compression_id);
	return insert(db, COMPRESSIONS, row) < 0 ? oom(c) : 0;
}

static int mem_compression_member_put(tract_backend_conn *c, tract_compression_side side,
				      const char *compression_id, const char *commit_hash,
				      int64_t position)
{
	struct db *db;
	struct member_row row = {compression_id, side, position, commit_hash};

	WRITING(db, c, valid_side(side) && compression_id && commit_hash);
	if (find(db, MEMBERS, &row))
		return fail(c, TRACT_EEXISTS, "mem: member %" PRId64 " exists", position);
	if (!find(db, COMPRESSIONS, &compression_id) || !find_commit(db, commit_hash))
		return fail(c, TRACT_ESTORAGE, "mem: record or commit missing: %s", commit_hash);
	return insert(db, MEMBERS, &row) < 0 ? oom(c) : 0;
}

static int mem_compression_get(tract_backend_conn *c, const char *compression_id,
			       tract_compression_cb cb, void *payload)
{
	struct db *db;
	tract_compression_row *r;

	READING(db, c, compression_id && cb);
	r = find(db, COMPRESSIONS, &compression_id);
	return done(c, db, r ? cb(r, payload)
			     : fail(c, TRACT_ENOTFOUND, "record not found: %s", compression_id));
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
	size_t i, n = 0;
	int rc;

	READING(db, c, cb);
	rc = select_rows(db, COMPRESSIONS, offsetof(tract_compression_row, tract_id), tract_id,
			 false, order_compression_time, &rows, &n);
	if (rc < 0)
		rc = oom(c);
	for (i = 0; rc == 0 && i < n; i++)
		rc = cb(rows[i], payload);
	free(rows);
	return done(c, db, rc);
}

static int mem_compression_members(tract_backend_conn *c, tract_compression_side side,
				   const char *compression_id, tract_member_cb cb, void *payload)
{
	struct db *db;
	struct member_row key = {compression_id, side, INT64_MIN, NULL}, *m;
	size_t at, end;
	int rc = 0;

	READING(db, c, valid_side(side) && compression_id && cb);
	end = run(db, MEMBERS, &key, 2, &at);
	for (; at < end && rc == 0; at++) {
		m = db->t[MEMBERS].rows[at];
		rc = cb(m->compression_id, m->commit_hash, m->position, payload);
	}
	return done(c, db, rc);
}

/* ---- spawn pointers ------------------------------------------------------- */

static int mem_spawn_put(tract_backend_conn *c, const tract_spawn_row *row, int64_t *out_id)
{
	struct db *db;
	tract_spawn_row copy;

	WRITING(db, c, row && row->parent_tract_id && row->child_tract_id);
	if (row->parent_commit_hash && !find_commit(db, row->parent_commit_hash))
		return fail(c, TRACT_ESTORAGE, "mem: commit missing: %s", row->parent_commit_hash);
	copy = *row;
	copy.id = db->next_spawn_id;
	if (insert(db, SPAWNS, &copy) < 0)
		return oom(c);
	db->next_spawn_id++;
	if (out_id)
		*out_id = copy.id;
	return 0;
}

/* Spawn pointers, by id, whose parent (by_child false) or child is tract
 * (NULL: all). */
static int send_spawns(tract_backend_conn *c, const char *tract, bool by_child,
		       tract_spawn_cb cb, void *payload)
{
	struct db *db;
	size_t i;
	int rc = 0;

	READING(db, c, cb && (tract || !by_child));
	for (i = 0; i < db->t[SPAWNS].n && rc == 0; i++) {
		tract_spawn_row *s = db->t[SPAWNS].rows[i];

		if (!tract || strcmp(by_child ? s->child_tract_id : s->parent_tract_id, tract) == 0)
			rc = cb(s, payload);
	}
	return done(c, db, rc);
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
	struct db *db;
	struct meta_row *m;

	READING(db, c, key && cb);
	m = find(db, META, &key);
	return done(c, db, m ? cb(m->key, m->value, payload)
			     : fail(c, TRACT_ENOTFOUND, "metadata key not found: %s", key));
}

static int mem_meta_set(tract_backend_conn *c, const char *key, const char *value)
{
	struct db *db;
	struct meta_row row = {key, value}, *m;

	WRITING(db, c, key && value);
	if ((m = find(db, META, &row)))
		return set_string(&m->value, value) < 0 ? oom(c) : 0;
	return insert(db, META, &row) < 0 ? oom(c) : 0;
}

static int mem_meta_delete(tract_backend_conn *c, const char *key)
{
	struct db *db;
	bool found;
	size_t at;

	WRITING(db, c, key);
	at = seek(db, META, &key, &found);
	if (!found)
		return fail(c, TRACT_ENOTFOUND, "metadata key not found: %s", key);
	remove_rows(db, META, at, at + 1);
	return 0;
}

static int mem_meta_foreach(tract_backend_conn *c, const char *prefix, tract_meta_cb cb,
			    void *payload)
{
	struct db *db;
	const char *from = prefix ? prefix : "";
	size_t i;
	int rc = 0;

	READING(db, c, cb);
	/* Keys with the prefix are one run of the sorted table. */
	for (i = seek(db, META, &from, NULL); i < db->t[META].n && rc == 0; i++) {
		struct meta_row *m = db->t[META].rows[i];

		if (strncmp(m->key, from, strlen(from)) != 0)
			break;
		rc = cb(m->key, m->value, payload);
	}
	return done(c, db, rc);
}

/* ---- tracts --------------------------------------------------------------- */

static int order_tract(const void *a, const void *b)
{
	const tract_tract_row *x = a, *y = b;

	return strcmp(x->tract_id, y->tract_id);
}

static int mem_tract_foreach(tract_backend_conn *c, tract_tract_cb cb, void *payload)
{
	struct db *db;
	tract_tract_row *sums;
	size_t i, n = 0, m = 0;
	int rc = 0;

	READING(db, c, cb);
	/* One summary per commit and per ref, sorted by tract, then folded. */
	sums = malloc((db->t[COMMITS].n + db->t[REFS].n + 1) * sizeof(*sums));
	if (!sums)
		return done(c, db, oom(c));
	for (i = 0; i < db->t[COMMITS].n; i++) {
		tract_commit_row *r = db->t[COMMITS].rows[i];

		sums[n++] = (tract_tract_row){r->tract_id, 1, r->created_at};
	}
	for (i = 0; i < db->t[REFS].n; i++)
		sums[n++] = (tract_tract_row){((tract_ref_row *)db->t[REFS].rows[i])->tract_id, 0,
					      TRACT_TIME_NONE};
	qsort(sums, n, sizeof(*sums), order_tract);
	for (i = 0; i < n; i++) {
		tract_tract_row *t = m ? &sums[m - 1] : NULL;

		if (!t || strcmp(t->tract_id, sums[i].tract_id) != 0) {
			sums[m++] = sums[i];
			continue;
		}
		t->commit_count += sums[i].commit_count;
		/* TRACT_TIME_NONE is the smallest time. */
		if (sums[i].last_activity > t->last_activity)
			t->last_activity = sums[i].last_activity;
	}
	for (i = 0; i < m && rc == 0; i++)
		rc = cb(&sums[i], payload);
	free(sums);
	return done(c, db, rc);
}

/* ---- deletion (version 2) -------------------------------------------------
 * Plain scans: a real backend keeps indexes of the rows naming a commit;
 * here a delete costs a pass over the tables that may name it. */

/* Which row, the core should have removed first, still names the commit. */
static const char *still_named(const struct db *db, const char *hash)
{
	tract_annotation_row akey = {.target_hash = hash, .created_at = INT64_MIN, .id = INT64_MIN};
	size_t i, at;

	for (i = 0; i < db->t[REFS].n; i++)
		if (same_string(((tract_ref_row *)db->t[REFS].rows[i])->commit_hash, hash))
			return "a ref";
	if (run(db, ANNOTATIONS, &akey, 1, &at) > at)
		return "an annotation";
	for (i = 0; i < db->t[PARENTS].n; i++)
		if (strcmp(((struct parent_row *)db->t[PARENTS].rows[i])->parent_hash, hash) == 0)
			return "a merge commit";
	for (i = 0; i < db->t[MEMBERS].n; i++)
		if (strcmp(((struct member_row *)db->t[MEMBERS].rows[i])->commit_hash, hash) == 0)
			return "a compression record";
	return NULL;
}

static int mem_commit_delete(tract_backend_conn *c, const char *commit_hash)
{
	struct db *db;
	struct parent_row pkey = {commit_hash, NULL, INT64_MIN};
	const char *who;
	size_t at, end, i;
	bool found;

	WRITING(db, c, commit_hash);
	at = seek(db, COMMITS, &commit_hash, &found);
	if (!found)
		return fail(c, TRACT_ENOTFOUND, "commit not found: %s", commit_hash);
	if ((who = still_named(db, commit_hash)))
		return fail(c, TRACT_ESTORAGE, "mem: %s still names commit %s", who, commit_hash);
	/* ON DELETE SET NULL in the commits and spawn pointers naming it. */
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
	/* ON DELETE CASCADE: its own merge parents (a run), then the row. */
	end = run(db, PARENTS, &pkey, 1, &i);
	remove_rows(db, PARENTS, i, end);
	remove_rows(db, COMMITS, at, at + 1);
	return 0;
}

static int mem_blob_delete(tract_backend_conn *c, const char *content_hash)
{
	struct db *db;
	bool found;
	size_t at, i;

	WRITING(db, c, content_hash);
	at = seek(db, BLOBS, &content_hash, &found);
	if (!found)
		return fail(c, TRACT_ENOTFOUND, "blob not found: %s", content_hash);
	for (i = 0; i < db->t[COMMITS].n; i++)
		if (strcmp(((tract_commit_row *)db->t[COMMITS].rows[i])->content_hash,
			   content_hash) == 0)
			return fail(c, TRACT_ESTORAGE, "mem: a commit uses blob %s", content_hash);
	remove_rows(db, BLOBS, at, at + 1);
	return 0;
}

static int mem_annotation_delete_target(tract_backend_conn *c, const char *target_hash)
{
	struct db *db;
	tract_annotation_row key = {.target_hash = target_hash, .created_at = INT64_MIN,
				    .id = INT64_MIN};
	size_t at, end;

	WRITING(db, c, target_hash);
	end = run(db, ANNOTATIONS, &key, 1, &at);
	remove_rows(db, ANNOTATIONS, at, end);
	return 0;
}

static int mem_compression_delete(tract_backend_conn *c, const char *compression_id)
{
	struct member_row key = {compression_id, INT64_MIN, INT64_MIN, NULL};
	struct db *db;
	bool found;
	size_t at, first, end;

	WRITING(db, c, compression_id);
	at = seek(db, COMPRESSIONS, &compression_id, &found);
	if (!found)
		return fail(c, TRACT_ENOTFOUND, "record not found: %s", compression_id);
	/* Both sides of the record are one run (the key's first field). */
	end = run(db, MEMBERS, &key, 1, &first);
	remove_rows(db, MEMBERS, first, end);
	remove_rows(db, COMPRESSIONS, at, at + 1);
	return 0;
}

static int mem_spawn_delete(tract_backend_conn *c, int64_t id)
{
	struct db *db;
	bool found;
	size_t at;

	WRITING(db, c, true);
	/* The id is the row's first member, so it serves as the key. */
	at = seek(db, SPAWNS, &(tract_spawn_row){.id = id}, &found);
	if (!found)
		return fail(c, TRACT_ENOTFOUND, "spawn pointer not found: %" PRId64, id);
	remove_rows(db, SPAWNS, at, at + 1);
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
	/* destroy and same_store are OPTIONAL and left out: stores live until
	 * exit, and comparing "mem:NAME" URIs as strings is exact. */
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
