/*
 * postgres_ops.c - the PostgreSQL backend's operations on rows: blobs,
 * commits, merge parents, refs (read through a per-transaction cache,
 * moved by compare-and-swap), annotations, compression records, spawn
 * pointers, store metadata, the tract list, and the deletions of garbage
 * collection.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres_internal.h"
#include "text.h"

/* ---- blobs -------------------------------------------------------------- */

int pg_blob_put(tract_backend_conn *conn, const tract_blob_row *row, int *inserted)
{
	struct params p = {0};
	long changed = 0;
	int rc;

	CHECK_ARG(conn, row && row->content_hash && row->payload_json);
	p_text(&p, row->content_hash);
	p_text(&p, row->payload_json);
	p_int(&p, row->byte_size);
	p_int(&p, row->token_count);
	p_time(&p, row->created_at);
	if (!inserted)
		return defer_write(conn, ST_BLOB_PUT, &p, NULL, 0, NULL);
	rc = run_write(conn, ST_BLOB_PUT, &p, &changed, "store blob");
	*inserted = rc == 0 && changed > 0;
	return rc;
}

int pg_blob_get(tract_backend_conn *conn, const char *content_hash, tract_blob_cb cb,
		void *payload)
{
	struct sink sk = {.fn.blob = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, content_hash && cb);
	p_text(&p, content_hash);
	return query_one(conn, ST_BLOB_GET, &p, emit_blob, &sk, "blob", content_hash);
}

int pg_blob_foreach(tract_backend_conn *conn, tract_blob_cb cb, void *payload)
{
	struct sink sk = {.fn.blob = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return query_each(conn, ST_BLOB_ALL, NULL, emit_blob, &sk, NULL, "list blobs");
}

int pg_blob_delete(tract_backend_conn *conn, const char *content_hash)
{
	struct params p = {0};
	struct op o;
	long n;
	int rc;

	CHECK_ARG(conn, content_hash);
	p_text(&p, content_hash);
	o = (struct op){.stmt = ST_BLOB_DELETE, .p = &p, .write = true};
	rc = run_guarded(conn, &o, 1, "delete blob");
	if (rc < 0)
		return rc;
	n = changed_rows(o.res);
	PQclear(o.res);
	if (n == 0)
		return fail(conn, TRACT_ENOTFOUND, "blob not found: %s", content_hash);
	return 0;
}

/* ---- commits ------------------------------------------------------------ */

/* Held back: its failure (EEXISTS, a missing blob or parent: ESTORAGE)
 * is reported by the call that sends it, at the latest commit(). */
int pg_commit_put(tract_backend_conn *conn, const tract_commit_row *row)
{
	struct params p = {0};
	char ctx[160], exists[160];

	CHECK_ARG(conn, row && row->commit_hash && row->tract_id && row->content_hash &&
				row->content_type && tract_backend_operation_name(row->operation));
	p_text(&p, row->commit_hash);
	p_text(&p, row->tract_id);
	p_text(&p, row->parent_hash);
	p_text(&p, row->content_hash);
	p_text(&p, row->content_type);
	p_text(&p, tract_backend_operation_name(row->operation));
	p_text(&p, row->response_to);
	p_text(&p, row->message);
	p_int(&p, row->token_count);
	p_text(&p, row->metadata_json ? row->metadata_json : "null");
	p_text(&p, row->generation_config_json ? row->generation_config_json : "null");
	p_time(&p, row->created_at);
	snprintf(ctx, sizeof(ctx), "commit %.64s refused: its blob or a commit it names is missing",
		 row->commit_hash);
	snprintf(exists, sizeof(exists), "postgres: commit already exists: %.64s",
		 row->commit_hash);
	return defer_write(conn, ST_COMMIT_PUT, &p, ctx, TRACT_EEXISTS, exists);
}

/* ---- the commit cache of a write transaction --------------------------- */

static void ann_cache_forget(tract_backend_conn *conn, const char *target_hash);

static uint64_t cc_hash(const char *s)
{
	uint64_t h = UINT64_C(1469598103934665603);

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
	return h ^ (h >> 29);
}

static void cache_clear(struct commit_cache *c)
{
	size_t i;

	for (i = 0; i < c->n_res; i++)
		PQclear(c->res[i]);
	c->n_res = 0;
	if (c->used)
		memset(c->slots, 0, c->size * sizeof(*c->slots));
	c->used = 0;
	c->misses = 0;
}

/* Both caches (the transaction ends, or commits are deleted). */
void commit_cache_clear(tract_backend_conn *conn)
{
	cache_clear(&conn->cc);
	cache_clear(&conn->ac);
}

static struct cc_slot *cc_find(struct commit_cache *c, const char *hash)
{
	size_t j;

	if (!c->size)
		return NULL;
	for (j = cc_hash(hash) & (c->size - 1); c->slots[j].hash; j = (j + 1) & (c->size - 1))
		if (strcmp(c->slots[j].hash, hash) == 0)
			return &c->slots[j];
	return NULL;
}

static void cc_insert(struct commit_cache *c, const char *hash, uint32_t res, int row, int n)
{
	size_t j;

	for (j = cc_hash(hash) & (c->size - 1); c->slots[j].hash; j = (j + 1) & (c->size - 1))
		if (strcmp(c->slots[j].hash, hash) == 0)
			return;
	c->slots[j] = (struct cc_slot){hash, res, row, n, false};
	c->used++;
}

/* Keep res (its rows answer commit_get until the transaction ends); false
 * when it cannot be kept (the caller clears it). annotations: res is
 * ST_ANN_LIST_NEAR's, a run of rows per commit. */
static bool cc_keep(struct commit_cache *c, PGresult *res, bool annotations)
{
	size_t need = c->used + (size_t)PQntuples(res), i;
	int r;

	if (need > CC_MAX_ROWS)
		return false;
	if (c->n_res == c->cap_res) {
		size_t ncap = c->cap_res ? 2 * c->cap_res : 16;
		PGresult **nr = realloc(c->res, ncap * sizeof(*nr));
		if (!nr)
			return false;
		c->res = nr;
		c->cap_res = ncap;
	}
	if (2 * need > c->size) {
		size_t nsize = c->size ? c->size : 1024;
		struct cc_slot *ns, *old = c->slots;
		size_t osize = c->size;
		while (2 * need > nsize)
			nsize *= 2;
		ns = calloc(nsize, sizeof(*ns));
		if (!ns)
			return false;
		c->slots = ns;
		c->size = nsize;
		c->used = 0;
		for (i = 0; i < osize; i++)
			if (old[i].hash) {
				cc_insert(c, old[i].hash, old[i].res, old[i].row, old[i].n);
				if (old[i].gone)
					cc_find(c, old[i].hash)->gone = true;
			}
		free(old);
	}
	c->res[c->n_res] = res;
	for (r = 0; r < PQntuples(res);) {
		int k = 1;
		if (annotations)
			while (r + k < PQntuples(res) &&
			       strcmp(PQgetvalue(res, r + k, 0), PQgetvalue(res, r, 0)) == 0)
				k++;
		cc_insert(c, PQgetvalue(res, r, 0), (uint32_t)c->n_res, r,
			  annotations && PQgetisnull(res, r, 1) ? 0 : k);
		r += annotations ? k : 1;
	}
	c->n_res++;
	return true;
}

/*
 * commit_get in a write transaction: from the rows read before in it, or
 * one round trip that reads the commit and, from the third miss on, more
 * and more of the commits inserted after it in its tract (at most
 * CC_MAX_PREFETCH), which are what a compaction or a replay reads next.
 * The rows stay valid until the transaction ends (commit rows never
 * change; a delete in the transaction empties the cache).
 */
static int commit_get_cached(tract_backend_conn *conn, const char *tract_id,
			     const char *commit_hash, const struct sink *sk)
{
	struct commit_cache *c = &conn->cc;
	struct cc_slot *slot = cc_find(c, commit_hash);
	struct params p = {0};
	PGresult *res = NULL;
	int64_t limit;
	int rc;

	if (slot) {
		const PGresult *r = c->res[slot->res];
		if (tract_id && strcmp(col_text(r, slot->row, 1), tract_id) != 0)
			return fail(conn, TRACT_ENOTFOUND, "commit not found: %s", commit_hash);
		rc = emit_commit(r, slot->row, sk);
		return rc < 0 ? rc : 0;
	}
	limit = c->misses < 2 ? 1 : (int64_t)1 << (c->misses < 10 ? c->misses : 10);
	if (limit > CC_MAX_PREFETCH)
		limit = CC_MAX_PREFETCH;
	c->misses++;
	p_text(&p, commit_hash);
	p_text(&p, tract_id);
	p_int(&p, limit);
	rc = run(conn, ST_COMMIT_GET_NEAR, &p, false, &res, "commit");
	if (rc < 0)
		return rc;
	if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), commit_hash) != 0) {
		PQclear(res);
		return fail(conn, TRACT_ENOTFOUND, "commit not found: %s", commit_hash);
	}
	if (cc_keep(c, res, false)) {
		rc = emit_commit(res, 0, sk);
	} else {
		rc = emit_commit(res, 0, sk);
		PQclear(res);
	}
	return rc < 0 ? rc : 0;
}

int pg_commit_get(tract_backend_conn *conn, const char *tract_id, const char *commit_hash,
		  tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, commit_hash && cb);
	if (conn->txn != TXN_NONE && conn->kind == TRACT_TXN_WRITE)
		return commit_get_cached(conn, tract_id, commit_hash, &sk);
	p_text(&p, commit_hash);
	p_text(&p, tract_id);
	return query_one(conn, ST_COMMIT_GET, &p, emit_commit, &sk, "commit", commit_hash);
}

int pg_commit_prefix(tract_backend_conn *conn, const char *tract_id, const char *prefix,
		     size_t max, tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};
	struct params p = {0};
	char upper[256];
	bool bounded;

	CHECK_ARG(conn, prefix && *prefix && cb);
	if (strlen(prefix) >= 200 || !bc_utf8_valid(prefix))
		return 0; /* longer than any hash, or no stored text: matches nothing */
	bounded = bc_prefix_upper_utf8(prefix, upper, sizeof(upper));
	p_text(&p, prefix);
	if (bounded)
		p_text(&p, upper);
	p_text(&p, tract_id);
	if (max > 0 && max < INT64_MAX)
		p_int(&p, (int64_t)max);
	else
		p_null(&p);
	return query_each(conn, bounded ? ST_COMMIT_PREFIX : ST_COMMIT_PREFIX_OPEN, &p,
			  emit_commit, &sk, NULL, "look up prefix");
}

/* Iterate one of the (all, one tract) statement pairs. */
static int foreach_scoped(tract_backend_conn *conn, int all, int scoped, const char *scope,
			  row_emit_fn emit, const struct sink *sk, const char *what)
{
	struct params p = {0};

	if (!scope)
		return query_each(conn, all, NULL, emit, sk, NULL, what);
	p_text(&p, scope);
	return query_each(conn, scoped, &p, emit, sk, NULL, what);
}

/*
 * Inside a transaction, commit_foreach reads a page at a time (each four
 * times the one before), after the last row of the page before: a caller
 * that stops early (the timeline's first page) costs the rows it read,
 * not a transfer of every commit of the store. The pages of a read
 * transaction are one snapshot; a write transaction reads committed
 * rows and its own.
 */
static int commit_foreach_paged(tract_backend_conn *conn, const char *tract_id,
				const struct sink *sk)
{
	int64_t page = FOREACH_FIRST_PAGE;
	tract_time last_at = 0;
	char *last = NULL;
	int rc = 0;

	for (;;) {
		struct params p = {0};
		PGresult *res = NULL;
		int i, n;

		if (last) {
			p_time(&p, last_at);
			p_text(&p, last);
		} else {
			p_null(&p);
			p_null(&p);
		}
		p_int(&p, page);
		if (tract_id)
			p_text(&p, tract_id);
		rc = run(conn, tract_id ? ST_COMMIT_TRACT_PAGE : ST_COMMIT_ALL_PAGE, &p, false, &res,
			 "list commits");
		if (rc < 0)
			break;
		n = PQntuples(res);
		for (i = 0; i < n && rc == 0; i++)
			rc = emit_commit(res, i, sk);
		if (rc == 0 && n == page) {
			free(last);
			last_at = col_time(res, n - 1, 11);
			last = strdup(col_text(res, n - 1, 0));
			if (!last)
				rc = oom(conn);
		}
		PQclear(res);
		if (rc != 0 || n < page)
			break;
		if (page < FOREACH_MAX_PAGE)
			page *= 4;
	}
	free(last);
	return rc < 0 ? rc : 0;
}

int pg_commit_foreach(tract_backend_conn *conn, const char *tract_id, tract_commit_cb cb,
		      void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	if (conn->txn != TXN_NONE)
		return commit_foreach_paged(conn, tract_id, &sk);
	return foreach_scoped(conn, ST_COMMIT_ALL, ST_COMMIT_TRACT, tract_id, emit_commit, &sk,
			      "list commits");
}

int pg_commit_foreach_with_config(tract_backend_conn *conn, const char *tract_id,
				  tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_COMMIT_CONFIG_ALL, ST_COMMIT_CONFIG_TRACT, tract_id,
			      emit_commit, &sk, "list commits");
}

int pg_commit_delete(tract_backend_conn *conn, const char *commit_hash)
{
	struct params p = {0};
	struct op o[2];
	long n;
	int rc;

	CHECK_ARG(conn, commit_hash);
	commit_cache_clear(conn);
	p_text(&p, commit_hash);
	o[0] = (struct op){.stmt = ST_PARENT_DELETE_CHILD, .p = &p, .write = true};
	o[1] = (struct op){.stmt = ST_COMMIT_DELETE, .p = &p, .write = true};
	rc = run_guarded(conn, o, 2, "delete commit");
	if (rc < 0)
		return rc;
	n = changed_rows(o[1].res);
	PQclear(o[0].res);
	PQclear(o[1].res);
	if (n == 0)
		return fail(conn, TRACT_ENOTFOUND, "commit not found: %s", commit_hash);
	return 0;
}

/* The batched deletions (ABI version 5): one statement each, guarded
 * like the row-by-row ones (a refused call undoes itself alone). */
static int delete_many(tract_backend_conn *conn, int stmt, const char *const *hashes, size_t n,
		       size_t *deleted, const char *what)
{
	struct params p = {0};
	struct op o;
	unsigned char *arr;
	size_t k, len;
	int rc;

	CHECK_ARG(conn, hashes || n == 0);
	for (k = 0; k < n; k++)
		CHECK_ARG(conn, hashes[k] != NULL);
	if (deleted)
		*deleted = 0;
	if (n == 0)
		return 0;
	commit_cache_clear(conn);
	arr = text_array(hashes, n, &len);
	if (!arr)
		return oom(conn);
	p.v[0] = (const char *)arr;
	p.len[0] = (int)len;
	p.fmt[0] = 1;
	p.n = 1;
	o = (struct op){.stmt = stmt, .p = &p, .write = true};
	rc = run_guarded(conn, &o, 1, what);
	free(arr);
	if (rc < 0)
		return rc;
	if (deleted)
		*deleted = stmt == ST_COMMITS_DELETE ? (size_t)col_int(o.res, 0, 0)
						     : (size_t)changed_rows(o.res);
	PQclear(o.res);
	return 0;
}

int pg_commits_delete(tract_backend_conn *conn, const char *const *hashes, size_t n,
		      size_t *deleted)
{
	return delete_many(conn, ST_COMMITS_DELETE, hashes, n, deleted, "delete commits");
}

int pg_blobs_delete_unused(tract_backend_conn *conn, const char *const *hashes, size_t n,
			   size_t *deleted)
{
	return delete_many(conn, ST_BLOBS_DELETE_UNUSED, hashes, n, deleted, "delete blobs");
}

/* ---- merge parents ------------------------------------------------------ */

int pg_parent_put(tract_backend_conn *conn, const char *commit_hash,
		  const char *parent_hash, int64_t position)
{
	struct params p = {0};
	long changed = 0;
	int rc;

	CHECK_ARG(conn, commit_hash && parent_hash && position >= 0);
	p_text(&p, commit_hash);
	p_text(&p, parent_hash);
	p_int(&p, position);
	rc = run_write(conn, ST_PARENT_PUT, &p, &changed, "store merge parent");
	if (rc == 0 && changed != 1)
		return fail(conn, TRACT_ESTORAGE,
			    "postgres: merge parent %s of %s refused: already recorded, or a "
			    "commit is missing",
			    parent_hash, commit_hash);
	return rc;
}

int pg_parent_list(tract_backend_conn *conn, const char *commit_hash, tract_parent_cb cb,
		   void *payload)
{
	struct sink sk = {.fn.parent = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, commit_hash && cb);
	p_text(&p, commit_hash);
	return query_each(conn, ST_PARENT_LIST, &p, emit_parent, &sk, NULL, "list parents");
}

int pg_parent_foreach(tract_backend_conn *conn, tract_parent_cb cb, void *payload)
{
	struct sink sk = {.fn.parent = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return query_each(conn, ST_PARENT_ALL, NULL, emit_parent, &sk, NULL, "list parents");
}

/* ---- refs --------------------------------------------------------------- */

void ref_cache_clear(tract_backend_conn *conn)
{
	size_t i;

	for (i = 0; i < conn->n_refs; i++) {
		struct ref_entry *e = &conn->refs[i];
		free(e->tract_id);
		free(e->name);
		free(e->commit);
		free(e->symbolic);
	}
	memset(conn->refs, 0, sizeof(conn->refs));
	conn->n_refs = 0;
}

static struct ref_entry *ref_cache_find(tract_backend_conn *conn, const char *tract_id,
					const char *name)
{
	size_t i;

	for (i = 0; i < conn->n_refs; i++)
		if (strcmp(conn->refs[i].name, name) == 0 &&
		    strcmp(conn->refs[i].tract_id, tract_id) == 0)
			return &conn->refs[i];
	return NULL;
}

static void ref_cache_drop(tract_backend_conn *conn, const char *tract_id, const char *name)
{
	struct ref_entry *e = ref_cache_find(conn, tract_id, name);

	if (!e)
		return;
	free(e->tract_id);
	free(e->name);
	free(e->commit);
	free(e->symbolic);
	*e = conn->refs[--conn->n_refs];
	memset(&conn->refs[conn->n_refs], 0, sizeof(*e));
}

/* Remember a ref's value (exists false: known to be absent). Only inside
 * a transaction; a full cache simply stops remembering. */
static void ref_cache_put(tract_backend_conn *conn, const char *tract_id, const char *name,
			  bool exists, const char *commit, const char *symbolic)
{
	struct ref_entry *e;

	if (conn->txn == TXN_NONE)
		return;
	ref_cache_drop(conn, tract_id, name);
	if (conn->n_refs == REF_CACHE)
		return;
	e = &conn->refs[conn->n_refs];
	e->tract_id = strdup(tract_id);
	e->name = strdup(name);
	e->commit = commit ? strdup(commit) : NULL;
	e->symbolic = symbolic ? strdup(symbolic) : NULL;
	e->exists = exists;
	if (!e->tract_id || !e->name || (commit && !e->commit) || (symbolic && !e->symbolic)) {
		free(e->tract_id);
		free(e->name);
		free(e->commit);
		free(e->symbolic);
		memset(e, 0, sizeof(*e));
		return;
	}
	conn->n_refs++;
}

int pg_ref_get(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
	       tract_ref_cb cb, void *payload)
{
	struct ref_entry *e;
	struct params p = {0};
	PGresult *res = NULL;
	const char *sym = NULL;
	int i, n, found = -1, rc;

	CHECK_ARG(conn, tract_id && ref_name && cb);
	e = ref_cache_find(conn, tract_id, ref_name);
	if (e) {
		tract_ref_row r = {tract_id, ref_name, e->commit, e->symbolic};
		if (!e->exists)
			return fail(conn, TRACT_ENOTFOUND, "ref not found: %s", ref_name);
		rc = cb(&r, payload);
		return rc < 0 ? rc : 0;
	}
	p_text(&p, tract_id);
	p_text(&p, ref_name);
	/* A write transaction locks the refs it reads until it ends: a second
	 * writer of the same branch waits here and then reads the new head. */
	rc = run(conn,
		 conn->txn != TXN_NONE && conn->kind == TRACT_TXN_WRITE ? ST_REF_GET_LOCK
									 : ST_REF_GET,
		 &p, false, &res, "read ref");
	if (rc < 0)
		return rc;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		const char *name = col_text(res, i, 1);
		ref_cache_put(conn, tract_id, name, true, col_text(res, i, 2), col_text(res, i, 3));
		if (strcmp(name, ref_name) == 0) {
			found = i;
			sym = col_text(res, i, 3);
		}
	}
	if (found < 0) {
		ref_cache_put(conn, tract_id, ref_name, false, NULL, NULL);
		PQclear(res);
		return fail(conn, TRACT_ENOTFOUND, "ref not found: %s", ref_name);
	}
	if (sym && !ref_cache_find(conn, tract_id, sym))
		ref_cache_put(conn, tract_id, sym, false, NULL, NULL);
	{
		tract_ref_row r = {col_text(res, found, 0), col_text(res, found, 1),
				   col_text(res, found, 2), col_text(res, found, 3)};
		rc = cb(&r, payload);
	}
	PQclear(res);
	return rc < 0 ? rc : 0;
}

/* Held back: a lost compare-and-swap (ESTALE) or a missing commit
 * (ESTORAGE) is reported by the call that sends it, at the latest
 * commit(); nothing of the transaction is then written. */
int pg_ref_cas(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
	       const char *commit_hash, const char *symbolic_target,
	       const tract_ref_row *expected)
{
	struct params p = {0};
	char ctx[600], stale[600];
	int rc;

	CHECK_ARG(conn, tract_id && ref_name && (!commit_hash != !symbolic_target));
	p_text(&p, tract_id);
	p_text(&p, ref_name);
	p_text(&p, commit_hash);
	p_text(&p, symbolic_target);
	if (expected) {
		p_text(&p, expected->commit_hash);
		p_text(&p, expected->symbolic_target);
	}
	snprintf(ctx, sizeof(ctx), "ref %.255s: commit %.64s does not exist", ref_name,
		 commit_hash ? commit_hash : "");
	snprintf(stale, sizeof(stale),
		 "ref %.255s of tract %.64s already exists (compare-and-swap lost)", ref_name,
		 tract_id);
	rc = defer_write(conn, expected ? ST_REF_MOVE : ST_REF_INSERT, &p, ctx, TRACT_ESTALE,
			 stale);
	if (rc == 0)
		ref_cache_put(conn, tract_id, ref_name, true, commit_hash, symbolic_target);
	else
		ref_cache_drop(conn, tract_id, ref_name);
	return rc;
}

int pg_ref_delete(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		  const tract_ref_row *expected)
{
	struct params p = {0};
	PGresult *res = NULL;
	long changed = 0;
	bool exists;
	int rc;

	CHECK_ARG(conn, tract_id && ref_name);
	ref_cache_drop(conn, tract_id, ref_name);
	p_text(&p, tract_id);
	p_text(&p, ref_name);
	p_int(&p, expected != NULL);
	p_text(&p, expected ? expected->commit_hash : NULL);
	p_text(&p, expected ? expected->symbolic_target : NULL);
	rc = run_write(conn, ST_REF_DELETE, &p, &changed, "delete ref");
	if (rc < 0 || changed > 0)
		return rc;
	p.n = 0;
	p_text(&p, tract_id);
	p_text(&p, ref_name);
	rc = run(conn, ST_REF_EXISTS, &p, false, &res, "delete ref");
	if (rc < 0)
		return rc;
	exists = col_bool(res, 0, 0);
	PQclear(res);
	if (exists)
		return fail(conn, TRACT_ESTALE, "ref %s of tract %s moved (compare-and-swap lost)",
			    ref_name, tract_id);
	return fail(conn, TRACT_ENOTFOUND, "ref not found: %s", ref_name);
}

/* Bind a literal prefix range from column lo on: true when bounded. */
static bool p_prefix(struct params *p, const char *prefix, char *buf, size_t len)
{
	p_text(p, prefix ? prefix : "");
	if (prefix && bc_prefix_upper_utf8(prefix, buf, len)) {
		p_text(p, buf);
		return true;
	}
	return false;
}

int pg_ref_foreach(tract_backend_conn *conn, const char *tract_id, const char *prefix,
		   tract_ref_cb cb, void *payload)
{
	struct sink sk = {.fn.ref = cb, .payload = payload};
	struct params p = {0};
	char upper[512];
	bool bounded;

	CHECK_ARG(conn, cb);
	if (prefix && (strlen(prefix) >= 500 || !bc_utf8_valid(prefix)))
		return 0; /* longer than any ref name, or no stored text */
	if (tract_id)
		p_text(&p, tract_id);
	bounded = p_prefix(&p, prefix, upper, sizeof(upper));
	return query_each(conn,
			  tract_id ? (bounded ? ST_REF_TRACT : ST_REF_TRACT_OPEN)
				   : (bounded ? ST_REF_ALL : ST_REF_ALL_OPEN),
			  &p, emit_ref, &sk, NULL, "list refs");
}

/* ---- annotations -------------------------------------------------------- */

int pg_annotation_put(tract_backend_conn *conn, const tract_annotation_row *row,
		      int64_t *out_id)
{
	struct params p = {0};
	PGresult *res = NULL;
	int rc;

	CHECK_ARG(conn, row && row->tract_id && row->target_hash &&
				tract_backend_priority_name(row->priority));
	ann_cache_forget(conn, row->target_hash);
	p_text(&p, row->tract_id);
	p_text(&p, row->target_hash);
	p_text(&p, tract_backend_priority_name(row->priority));
	p_text(&p, row->reason);
	p_time(&p, row->created_at);
	if (!out_id) {
		char ctx[ERRLEN];
		snprintf(ctx, sizeof(ctx), "annotation target commit not found: %s",
			 row->target_hash);
		return defer_write(conn, ST_ANN_PUT_DEFERRED, &p, ctx, 0, NULL);
	}
	rc = run(conn, ST_ANN_PUT, &p, true, &res, "store annotation");
	if (rc < 0)
		return rc;
	if (PQntuples(res) != 1)
		rc = fail(conn, TRACT_ESTORAGE, "postgres: annotation target commit not found: %s",
			  row->target_hash);
	else
		*out_id = col_int(res, 0, 0);
	PQclear(res);
	return rc;
}

/* Hand over the cached annotations of a commit (columns 1-6 of rows
 * row..row+n-1 of r). */
static int emit_cached_annotations(const PGresult *r, int row, int n, const struct sink *sk)
{
	int i, rc;

	for (i = row; i < row + n; i++) {
		tract_annotation_row a = {
			.id = col_int(r, i, 1),
			.tract_id = col_text(r, i, 2),
			.target_hash = col_text(r, i, 3),
			.priority = tract_backend_priority_parse(col_text(r, i, 4)),
			.reason = col_text(r, i, 5),
			.created_at = col_time(r, i, 6),
		};
		rc = sk->fn.annotation(&a, sk->payload);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	return 0;
}

/* A target's annotations changed in this transaction: ask the server. */
static void ann_cache_forget(tract_backend_conn *conn, const char *target_hash)
{
	struct cc_slot *slot = cc_find(&conn->ac, target_hash);

	if (slot)
		slot->gone = true;
}

/*
 * annotation_list in a write transaction, cached like commit_get (a
 * compression copying pinned commits reads each original's list): a miss
 * reads the commit's annotations and, from the third miss on, those of
 * more and more commits inserted after it in its tract. A target written
 * to in the transaction is read from the server again.
 */
static int annotation_list_cached(tract_backend_conn *conn, const char *target_hash,
				  const struct sink *sk)
{
	struct commit_cache *c = &conn->ac;
	struct cc_slot *slot = cc_find(c, target_hash);
	struct params p = {0};
	PGresult *res = NULL;
	int64_t limit;
	int rc, n;

	if (slot && !slot->gone)
		return emit_cached_annotations(c->res[slot->res], slot->row, slot->n, sk);
	limit = slot || c->misses < 2 ? 1
				      : (int64_t)1 << (c->misses < 12 ? c->misses : 12);
	if (limit > AC_MAX_PREFETCH)
		limit = AC_MAX_PREFETCH;
	c->misses++;
	if (slot) {
		/* written to since: not again from this cache */
		p_text(&p, target_hash);
		return query_each(conn, ST_ANN_LIST, &p, emit_annotation, sk, NULL,
				  "list annotations");
	}
	p_text(&p, target_hash);
	p_int(&p, limit);
	rc = run(conn, ST_ANN_LIST_NEAR, &p, false, &res, "list annotations");
	if (rc < 0)
		return rc;
	n = PQntuples(res);
	if (n == 0 || strcmp(PQgetvalue(res, 0, 0), target_hash) != 0) {
		/* not a commit: no annotation can name it */
		PQclear(res);
		return 0;
	}
	for (rc = 1; rc < n && strcmp(PQgetvalue(res, rc, 0), target_hash) == 0; rc++)
		;
	n = PQgetisnull(res, 0, 1) ? 0 : rc;
	rc = emit_cached_annotations(res, 0, n, sk);
	if (!cc_keep(c, res, true))
		PQclear(res);
	return rc;
}

int pg_annotation_list(tract_backend_conn *conn, const char *target_hash,
		       tract_annotation_cb cb, void *payload)
{
	struct sink sk = {.fn.annotation = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, target_hash && cb);
	if (conn->txn != TXN_NONE && conn->kind == TRACT_TXN_WRITE)
		return annotation_list_cached(conn, target_hash, &sk);
	p_text(&p, target_hash);
	return query_each(conn, ST_ANN_LIST, &p, emit_annotation, &sk, NULL, "list annotations");
}

int pg_annotation_foreach(tract_backend_conn *conn, const char *tract_id,
			  tract_annotation_cb cb, void *payload)
{
	struct sink sk = {.fn.annotation = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_ANN_ALL, ST_ANN_TRACT, tract_id, emit_annotation, &sk,
			      "list annotations");
}

int pg_annotation_delete_target(tract_backend_conn *conn, const char *target_hash)
{
	struct params p = {0};

	CHECK_ARG(conn, target_hash);
	ann_cache_forget(conn, target_hash);
	p_text(&p, target_hash);
	/* Held back (it cannot be refused: no row is fine, nothing names an
	 * annotation): gc's delete of an unreachable commit then costs the
	 * commit's delete round trip alone. */
	return defer_write(conn, ST_ANN_DELETE_TARGET, &p, NULL, 0, NULL);
}

/* ---- compression records ------------------------------------------------ */

int pg_compression_put(tract_backend_conn *conn, const tract_compression_row *row)
{
	struct params p = {0};
	long changed = 0;
	int rc;

	CHECK_ARG(conn, row && row->compression_id && row->tract_id);
	p_text(&p, row->compression_id);
	p_text(&p, row->tract_id);
	p_text(&p, row->branch_name);
	p_time(&p, row->created_at);
	p_int(&p, row->original_tokens);
	p_int(&p, row->compressed_tokens);
	if (row->target_tokens < 0)
		p_null(&p);
	else
		p_int(&p, row->target_tokens);
	p_text(&p, row->instructions);
	rc = run_write(conn, ST_COMP_PUT, &p, &changed, "store compression record");
	if (rc == 0 && changed != 1)
		return fail(conn, TRACT_ESTORAGE, "postgres: compression record already exists: %s",
			    row->compression_id);
	return rc;
}

int pg_compression_member_put(tract_backend_conn *conn, tract_compression_side side,
			      const char *compression_id, const char *commit_hash,
			      int64_t position)
{
	struct params p = {0};
	long changed = 0;
	char ctx[ERRLEN], dup[ERRLEN];
	int rc;

	CHECK_ARG(conn, bc_valid_side(side) && compression_id && commit_hash);
	p_text(&p, compression_id);
	p_text(&p, commit_hash);
	p_int(&p, position);
	/* Inside a write transaction, held back (compress writes thousands):
	 * a missing record or commit, or a member recorded already, is then
	 * reported by the call that sends it, commit() at the latest. */
	if (conn->txn != TXN_NONE && conn->kind == TRACT_TXN_WRITE) {
		snprintf(ctx, sizeof(ctx),
			 "compression member %.64s of %.200s refused: the record or the commit "
			 "is missing",
			 commit_hash, compression_id);
		snprintf(dup, sizeof(dup),
			 "postgres: compression member %.64s of %.200s refused: already recorded",
			 commit_hash, compression_id);
		return defer_write(conn,
				   side == TRACT_COMPRESSION_SOURCES ? ST_COMP_SOURCE_PUT_DEFERRED
								     : ST_COMP_RESULT_PUT_DEFERRED,
				   &p, ctx, TRACT_ESTORAGE, dup);
	}
	rc = run_write(conn,
		       side == TRACT_COMPRESSION_SOURCES ? ST_COMP_SOURCE_PUT : ST_COMP_RESULT_PUT,
		       &p, &changed, "store compression member");
	if (rc == 0 && changed != 1)
		return fail(conn, TRACT_ESTORAGE,
			    "postgres: compression member %s of %s refused: already recorded, or "
			    "the record or the commit is missing",
			    commit_hash, compression_id);
	return rc;
}

int pg_compression_get(tract_backend_conn *conn, const char *compression_id,
		       tract_compression_cb cb, void *payload)
{
	struct sink sk = {.fn.compression = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, compression_id && cb);
	p_text(&p, compression_id);
	return query_one(conn, ST_COMP_GET, &p, emit_compression, &sk, "compression record",
			 compression_id);
}

int pg_compression_foreach(tract_backend_conn *conn, const char *tract_id,
			   tract_compression_cb cb, void *payload)
{
	struct sink sk = {.fn.compression = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_COMP_ALL, ST_COMP_TRACT, tract_id, emit_compression, &sk,
			      "list compression records");
}

int pg_compression_members(tract_backend_conn *conn, tract_compression_side side,
			   const char *compression_id, tract_member_cb cb, void *payload)
{
	struct sink sk = {.fn.member = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, bc_valid_side(side) && compression_id && cb);
	p_text(&p, compression_id);
	return query_each(conn,
			  side == TRACT_COMPRESSION_SOURCES ? ST_COMP_SOURCES : ST_COMP_RESULTS, &p,
			  emit_member, &sk, NULL, "list compression members");
}

int pg_compression_delete(tract_backend_conn *conn, const char *compression_id)
{
	struct params p = {0};
	struct op o[3];
	long n;
	int rc, k;

	CHECK_ARG(conn, compression_id);
	p_text(&p, compression_id);
	o[0] = (struct op){.stmt = ST_COMP_SOURCES_DELETE, .p = &p, .write = true};
	o[1] = (struct op){.stmt = ST_COMP_RESULTS_DELETE, .p = &p, .write = true};
	o[2] = (struct op){.stmt = ST_COMP_DELETE, .p = &p, .write = true};
	rc = run_guarded(conn, o, 3, "delete compression record");
	if (rc < 0)
		return rc;
	n = changed_rows(o[2].res);
	for (k = 0; k < 3; k++)
		PQclear(o[k].res);
	if (n == 0)
		return fail(conn, TRACT_ENOTFOUND, "compression record not found: %s",
			    compression_id);
	return 0;
}

/* ---- spawn pointers ----------------------------------------------------- */

int pg_spawn_put(tract_backend_conn *conn, const tract_spawn_row *row, int64_t *out_id)
{
	struct params p = {0};
	PGresult *res = NULL;
	int rc;

	CHECK_ARG(conn, row && row->parent_tract_id && row->child_tract_id && row->purpose &&
				row->inheritance_mode);
	p_text(&p, row->parent_tract_id);
	p_text(&p, row->parent_commit_hash);
	p_text(&p, row->child_tract_id);
	p_text(&p, row->purpose);
	p_text(&p, row->inheritance_mode);
	p_text(&p, row->display_name);
	p_time(&p, row->created_at);
	rc = run(conn, ST_SPAWN_PUT, &p, true, &res, "store spawn pointer");
	if (rc < 0)
		return rc;
	if (PQntuples(res) != 1)
		rc = fail(conn, TRACT_ESTORAGE, "postgres: spawn pointer: commit %s does not exist",
			  row->parent_commit_hash);
	else if (out_id)
		*out_id = col_int(res, 0, 0);
	PQclear(res);
	return rc;
}

int pg_spawn_foreach(tract_backend_conn *conn, const char *parent_tract_id,
		     tract_spawn_cb cb, void *payload)
{
	struct sink sk = {.fn.spawn = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_SPAWN_ALL, ST_SPAWN_PARENT, parent_tract_id, emit_spawn,
			      &sk, "list spawn pointers");
}

int pg_spawn_by_child(tract_backend_conn *conn, const char *child_tract_id,
		      tract_spawn_cb cb, void *payload)
{
	struct sink sk = {.fn.spawn = cb, .payload = payload};

	CHECK_ARG(conn, child_tract_id && cb);
	return foreach_scoped(conn, ST_SPAWN_CHILD, ST_SPAWN_CHILD, child_tract_id, emit_spawn,
			      &sk, "list spawn pointers");
}

int pg_spawn_delete(tract_backend_conn *conn, int64_t id)
{
	struct params p = {0};
	long changed = 0;
	int rc;

	CHECK_CONN(conn);
	p_int(&p, id);
	rc = run_write(conn, ST_SPAWN_DELETE, &p, &changed, "delete spawn pointer");
	if (rc == 0 && changed == 0)
		return fail(conn, TRACT_ENOTFOUND, "spawn pointer not found: %" PRId64, id);
	return rc;
}

/* ---- store metadata ----------------------------------------------------- */

int pg_meta_get(tract_backend_conn *conn, const char *key, tract_meta_cb cb,
		void *payload)
{
	struct sink sk = {.fn.meta = cb, .payload = payload};
	struct params p = {0};

	CHECK_ARG(conn, key && cb);
	p_text(&p, key);
	return query_one(conn, ST_META_GET, &p, emit_meta, &sk, "metadata key", key);
}

int pg_meta_set(tract_backend_conn *conn, const char *key, const char *value)
{
	struct params p = {0};

	CHECK_ARG(conn, key && value);
	p_text(&p, key);
	p_text(&p, value);
	return defer_write(conn, ST_META_SET, &p, NULL, 0, NULL);
}

int pg_meta_delete(tract_backend_conn *conn, const char *key)
{
	struct params p = {0};
	long changed = 0;
	int rc;

	CHECK_ARG(conn, key);
	p_text(&p, key);
	rc = run_write(conn, ST_META_DELETE, &p, &changed, "delete metadata");
	if (rc == 0 && changed == 0)
		return fail(conn, TRACT_ENOTFOUND, "metadata key not found: %s", key);
	return rc;
}

int pg_meta_foreach(tract_backend_conn *conn, const char *prefix, tract_meta_cb cb,
		    void *payload)
{
	struct sink sk = {.fn.meta = cb, .payload = payload};
	struct params p = {0};
	char upper[512];
	bool bounded;

	CHECK_ARG(conn, cb);
	if (prefix && (strlen(prefix) >= 500 || !bc_utf8_valid(prefix)))
		return 0; /* longer than any key, or no stored text */
	bounded = p_prefix(&p, prefix, upper, sizeof(upper));
	return query_each(conn, bounded ? ST_META_RANGE : ST_META_RANGE_OPEN, &p, emit_meta, &sk,
			  NULL, "list metadata");
}

/* ---- tracts ------------------------------------------------------------- */

int pg_tract_foreach(tract_backend_conn *conn, tract_tract_cb cb, void *payload)
{
	struct sink sk = {.fn.tract = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return query_each(conn, ST_TRACTS, NULL, emit_tract, &sk, NULL, "list tracts");
}
