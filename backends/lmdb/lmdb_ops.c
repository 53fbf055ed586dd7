/*
 * lmdb_ops.c - operations on the commit graph: blobs, commits, merge
 * parents, refs and the list of tracts. A write is an op_* function that
 * run_write() runs (and replays after the map grew); the lmdb_* functions
 * are the ones the table in lmdb_backend.c lists.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "lmdb_internal.h"

/* ---- blobs ------------------------------------------------------------------------------ */

int op_blob_put(tract_backend_conn *c, struct logent *e)
{
	tract_blob_row b = {e->s[0], e->s[1], e->i[0], e->i[1], e->i[2]};
	unsigned char sb[8];
	struct key hk;
	MDB_val kv, sv, v;
	uint64_t seq;
	int rc;

	k_init(&hk);
	k_str(&hk, b.content_hash);
	if (k_over(c, &hk))
		return fail_key(c, "content hash");
	kv = k_val(&hk);
	e->out = 0;
	rc = db_get(c, DB_BLOB_HASH, &kv, &v, "look up a blob");
	if (rc <= 0)
		return rc; /* present: left untouched */
	rc = next_seq(c, DB_BLOBS, &seq);
	if (rc)
		return rc;
	sv = u64_val(sb, seq);
	rc = db_put_rec(c, DB_BLOBS, &sv, enc_blob, &b, MDB_APPEND, "store a blob");
	if (rc)
		return rc;
	v = u64_val(sb, seq);
	rc = db_put(c, DB_BLOB_HASH, &kv, &v, 0, "index a blob");
	e->out = rc == 0;
	return rc;
}

int lmdb_blob_put(tract_backend_conn *c, const tract_blob_row *row, int *inserted)
{
	struct logent e = {.op = OP_BLOB_PUT};
	int rc;

	if (inserted)
		*inserted = 0;
	CHECK_ARG(c, row && row->content_hash && row->payload_json);
	e.s[0] = row->content_hash;
	e.s[1] = row->payload_json;
	e.i[0] = row->byte_size;
	e.i[1] = row->token_count;
	e.i[2] = row->created_at;
	rc = run_write(c, &e);
	if (inserted)
		*inserted = rc == 0 && e.out;
	return rc;
}

/* Hand the blob under seq to cb. */
static int emit_blob(tract_backend_conn *c, uint64_t seq, tract_blob_cb cb, void *payload)
{
	unsigned char sb[8];
	MDB_val k = u64_val(sb, seq), v;
	tract_blob_row b;
	void *held;
	int rc;

	rc = db_get(c, DB_BLOBS, &k, &v, "read a blob");
	if (rc == NOT_FOUND)
		return fail_corrupt(c, "blob index", "entry");
	if (rc == 0)
		rc = hold(c, &v, &held);
	if (rc < 0)
		return rc;
	if (!dec_blob(&v, &b))
		rc = fail_corrupt(c, "blob", NULL);
	else
		rc = cb(&b, payload);
	free(held);
	return rc;
}

static int blob_get(tract_backend_conn *c, const char *hash, tract_blob_cb cb, void *payload)
{
	uint64_t seq;
	int rc = seq_of(c, DB_BLOB_HASH, hash, &seq);

	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "blob not found: %s", hash);
	if (rc < 0)
		return rc;
	rc = emit_blob(c, seq, cb, payload);
	return rc > 0 ? 0 : rc;
}

int lmdb_blob_get(tract_backend_conn *c, const char *content_hash, tract_blob_cb cb, void *payload)
{
	CHECK_ARG(c, content_hash && cb);
	READ_OP(c, blob_get(c, content_hash, cb, payload));
}

static int visit_blob(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;

	(void)k;
	if (v->mv_size != 8)
		return fail_corrupt(c, "blob index", "entry");
	return emit_blob(c, bc_get_be64(v->mv_data), sk->fn.blob, sk->payload);
}

int lmdb_blob_foreach(tract_backend_conn *c, tract_blob_cb cb, void *payload)
{
	struct sink sk = {.fn.blob = cb, .payload = payload};

	CHECK_ARG(c, cb);
	READ_OP(c, foreach_range(c, DB_BLOB_HASH, NULL, 0, visit_blob, &sk));
}

int op_blob_delete(tract_backend_conn *c, struct logent *e)
{
	const char *hash = e->s[0];
	unsigned char sb[8];
	struct key hk;
	MDB_val k, kv;
	uint64_t seq;
	bool used;
	int rc;

	rc = seq_of(c, DB_BLOB_HASH, hash, &seq);
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "blob not found: %s", hash);
	if (rc < 0)
		return rc;
	bc_put_be64(sb, seq);
	rc = range_any(c, DB_BLOB_USERS, sb, 8, &used);
	if (rc < 0)
		return rc;
	if (used)
		return fail(c, TRACT_ESTORAGE, "lmdb: cannot delete blob %s: a commit uses it",
			    hash);
	k = u64_val(sb, seq);
	rc = db_del(c, DB_BLOBS, &k, "delete a blob");
	if (rc == 0) {
		k_init(&hk);
		k_str(&hk, hash);
		kv = k_val(&hk);
		rc = db_del(c, DB_BLOB_HASH, &kv, "delete a blob");
	}
	if (rc == 0)
		rc = search_forget(c, seq);
	return rc == NOT_FOUND ? fail_corrupt(c, "blob index", hash) : rc;
}

int lmdb_blob_delete(tract_backend_conn *c, const char *content_hash)
{
	struct logent e = {.op = OP_BLOB_DELETE};

	CHECK_ARG(c, content_hash);
	e.s[0] = content_hash;
	return run_write(c, &e);
}

/* ---- commits ---------------------------------------------------------------------------- */

/* The commit record under seq (NOT_FOUND when absent); *held frees it. */
int load_commit(tract_backend_conn *c, uint64_t seq, struct crec *r, void **held)
{
	unsigned char sb[8];
	MDB_val k = u64_val(sb, seq), v;
	int rc;

	*held = NULL;
	rc = db_get(c, DB_COMMITS, &k, &v, "read a commit");
	if (rc == 0)
		rc = hold(c, &v, held);
	if (rc)
		return rc;
	if (!dec_commit(&v, r)) {
		free(*held);
		*held = NULL;
		return fail_corrupt(c, "commit", NULL);
	}
	return 0;
}

/* Store a (changed) commit record; r must not point into the map. */
int store_commit(tract_backend_conn *c, uint64_t seq, const struct crec *r, unsigned flags)
{
	unsigned char sb[8];
	MDB_val k = u64_val(sb, seq);

	return db_put_rec(c, DB_COMMITS, &k, enc_commit, r, flags, "store a commit");
}

/* Set and clear flags of the commit under seq. */
int commit_flags(tract_backend_conn *c, uint64_t seq, unsigned set, unsigned clear)
{
	struct crec r;
	void *held;
	unsigned flags;
	int rc = load_commit(c, seq, &r, &held);

	if (rc)
		return rc == NOT_FOUND ? fail_corrupt(c, "commit index", "entry") : rc;
	flags = (r.flags | set) & ~clear;
	if (flags != r.flags) {
		r.flags = flags;
		rc = store_commit(c, seq, &r, 0);
	}
	free(held);
	return rc;
}

/* Hand the commit under seq to cb if it is in tract (NULL: any); *matched tells. */
static int emit_commit(tract_backend_conn *c, uint64_t seq, const char *tract,
		       tract_commit_cb cb, void *payload, bool *matched)
{
	struct crec r;
	void *held;
	int rc = load_commit(c, seq, &r, &held);

	*matched = false;
	if (rc == NOT_FOUND)
		return fail_corrupt(c, "commit index", "entry");
	if (rc < 0)
		return rc;
	if (!tract || strcmp(r.row.tract_id, tract) == 0) {
		*matched = true;
		rc = cb(&r.row, payload);
	}
	free(held);
	return rc;
}

/* Add delta to a tract's commit count (the entry goes at zero). */
int tract_count_add(tract_backend_conn *c, const char *tract, int64_t delta)
{
	struct key k;
	MDB_val kv, v;
	int64_t n = 0;
	int rc;

	k_init(&k);
	k_str(&k, tract);
	kv = k_val(&k);
	rc = db_get(c, DB_TRACTS, &kv, &v, "read a tract");
	if (rc < 0)
		return rc;
	if (rc == 0) {
		if (v.mv_size != 8)
			return fail_corrupt(c, "tract", tract);
		memcpy(&n, v.mv_data, 8);
	}
	n += delta;
	if (n <= 0) {
		rc = db_del(c, DB_TRACTS, &kv, "update a tract");
		return rc == NOT_FOUND ? 0 : rc;
	}
	v.mv_size = 8;
	v.mv_data = &n;
	return db_put(c, DB_TRACTS, &kv, &v, 0, "update a tract");
}

/* The commit under seq exists, decodes, and is the one named hash. */
static int check_commit(tract_backend_conn *c, uint64_t seq, const char *hash)
{
	struct crec r;
	void *held;
	int rc = load_commit(c, seq, &r, &held);

	if (rc == NOT_FOUND)
		return fail_corrupt(c, "commit index", hash);
	if (rc == 0 && strcmp(r.row.commit_hash, hash) != 0)
		rc = fail_corrupt(c, "commit index", hash);
	free(held);
	return rc;
}

/* JSON columns: NULL and the text "null" both mean none. */
static const char *json_or_null(const char *s)
{
	return s && strcmp(s, "null") != 0 ? s : NULL;
}

int op_commit_put(tract_backend_conn *c, struct logent *e)
{
	struct crec r = {0};
	struct key hk, tk, ak, pk;
	unsigned char sb[8];
	MDB_val kv, sv;
	uint64_t seq;
	int rc;

	r.row.commit_hash = e->s[0];
	r.row.tract_id = e->s[1];
	r.row.parent_hash = e->s[2];
	r.row.content_hash = e->s[3];
	r.row.content_type = e->s[4];
	r.row.response_to = e->s[5];
	r.row.message = e->s[6];
	r.row.metadata_json = json_or_null(e->s[7]);
	r.row.generation_config_json = json_or_null(e->s[8]);
	r.row.operation = (tract_operation)e->i[0];
	r.row.token_count = e->i[1];
	r.row.created_at = e->i[2];

	k_init(&hk);
	k_str(&hk, r.row.commit_hash);
	time_keys(&tk, &ak, r.row.tract_id, r.row.created_at, r.row.commit_hash);
	if (k_over(c, &hk) || k_over(c, &tk))
		return fail_key(c, "commit hash with tract id");
	rc = seq_of(c, DB_COMMIT_HASH, r.row.commit_hash, &seq);
	if (rc == 0)
		return fail(c, TRACT_EEXISTS, "lmdb: commit already exists: %s", r.row.commit_hash);
	if (rc < 0)
		return rc;
	rc = seq_of(c, DB_BLOB_HASH, r.row.content_hash, &r.blob_seq);
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ESTORAGE, "lmdb: commit %s: its blob %s is not stored",
			    r.row.commit_hash, r.row.content_hash);
	if (rc == 0 && r.row.parent_hash) {
		rc = seq_of(c, DB_COMMIT_HASH, r.row.parent_hash, &r.parent_seq);
		if (rc == NOT_FOUND)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: commit %s: its parent %s is not stored",
				    r.row.commit_hash, r.row.parent_hash);
	}
	if (rc == 0 && r.row.response_to) {
		rc = seq_of(c, DB_COMMIT_HASH, r.row.response_to, &r.response_seq);
		if (rc == NOT_FOUND)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: commit %s: the commit it responds to, %s, is not stored",
				    r.row.commit_hash, r.row.response_to);
	}
	/* The parent's record must be readable: a commit on top of a corrupt
	 * one would hide the damage under a history that looks whole, and
	 * the seq the index gave must name a commit that exists. */
	if (rc == 0 && r.parent_seq)
		rc = check_commit(c, r.parent_seq, r.row.parent_hash);
	if (rc == 0)
		rc = next_seq(c, DB_COMMITS, &seq);
	if (rc)
		return rc;

	rc = store_commit(c, seq, &r, MDB_APPEND);
	kv = k_val(&hk);
	sv = u64_val(sb, seq);
	if (rc == 0)
		rc = db_put(c, DB_COMMIT_HASH, &kv, &sv, 0, "index a commit");
	kv = k_val(&tk);
	if (rc == 0)
		rc = db_put(c, DB_TRACT_TIME, &kv, &sv, 0, "index a commit");
	if (rc == 0 && r.row.generation_config_json)
		rc = db_put(c, DB_TRACT_CONFIG, &kv, &sv, 0, "index a commit");
	kv = k_val(&ak);
	if (rc == 0)
		rc = db_put(c, DB_TIME, &kv, &sv, 0, "index a commit");
	if (rc == 0 && r.row.generation_config_json)
		rc = db_put(c, DB_CONFIG, &kv, &sv, 0, "index a commit");
	seq_pair(&pk, r.blob_seq, seq);
	if (rc == 0)
		rc = db_put_key(c, DB_BLOB_USERS, &pk, "link a commit to its blob");
	seq_pair(&pk, r.parent_seq, seq);
	if (rc == 0 && r.parent_seq)
		rc = db_put_key(c, DB_CHILDREN, &pk, "link a commit to its parent");
	seq_pair(&pk, r.response_seq, seq);
	if (rc == 0 && r.response_seq)
		rc = db_put_key(c, DB_RESPONSES, &pk, "link a response");
	if (rc == 0)
		rc = tract_count_add(c, r.row.tract_id, 1);
	return rc;
}

int lmdb_commit_put(tract_backend_conn *c, const tract_commit_row *row)
{
	struct logent e = {.op = OP_COMMIT_PUT};

	CHECK_ARG(c, row && row->commit_hash && row->tract_id && row->content_hash &&
			     row->content_type && op_code(row->operation));
	e.s[0] = row->commit_hash;
	e.s[1] = row->tract_id;
	e.s[2] = row->parent_hash;
	e.s[3] = row->content_hash;
	e.s[4] = row->content_type;
	e.s[5] = row->response_to;
	e.s[6] = row->message;
	e.s[7] = row->metadata_json;
	e.s[8] = row->generation_config_json;
	e.i[0] = row->operation;
	e.i[1] = row->token_count;
	e.i[2] = row->created_at;
	return run_write(c, &e);
}

static int commit_get(tract_backend_conn *c, const char *tract, const char *hash,
		      tract_commit_cb cb, void *payload)
{
	uint64_t seq;
	bool matched = false;
	int rc = seq_of(c, DB_COMMIT_HASH, hash, &seq);

	if (rc == 0) {
		rc = emit_commit(c, seq, tract, cb, payload, &matched);
		if (rc > 0 && matched)
			rc = 0; /* the callback stopped (> 0): found all the same */
	}
	if (rc == NOT_FOUND || (rc >= 0 && !matched))
		return fail(c, TRACT_ENOTFOUND, "commit not found: %s", hash);
	return rc > 0 ? 0 : rc;
}

int lmdb_commit_get(tract_backend_conn *c, const char *tract_id, const char *commit_hash,
		    tract_commit_cb cb, void *payload)
{
	CHECK_ARG(c, commit_hash && cb);
	READ_OP(c, commit_get(c, tract_id, commit_hash, cb, payload));
}

/* A value naming a commit's seq: hand the commit over (sink filter: tract). */
static int visit_commit(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	bool matched;
	int rc;

	(void)k;
	if (v->mv_size != 8)
		return fail_corrupt(c, "commit index", "entry");
	rc = emit_commit(c, bc_get_be64(v->mv_data), sk->filter, sk->fn.commit, sk->payload,
			 &matched);
	if (rc == 0 && matched && sk->max && ++sk->n >= sk->max)
		return 1;
	return rc;
}

int lmdb_commit_prefix(tract_backend_conn *c, const char *tract_id, const char *prefix, size_t max,
		       tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload, .filter = tract_id, .max = max};

	CHECK_ARG(c, prefix && *prefix && cb);
	if (strlen(prefix) > KEY_MAX)
		return 0; /* longer than any hash: matches nothing */
	READ_OP(c, foreach_range(c, DB_COMMIT_HASH, prefix, strlen(prefix), visit_commit, &sk));
}

/* Commits through a (tract, time) index or the store-wide (time) one. */
static int foreach_timed(tract_backend_conn *c, enum db by_tract, enum db all, const char *tract,
			 tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};
	struct key k;

	if (!tract)
		return foreach_range(c, all, NULL, 0, visit_commit, &sk);
	k_init(&k);
	k_str(&k, tract);
	if (k_over(c, &k))
		return 0;
	return foreach_range(c, by_tract, k.b, k.n, visit_commit, &sk);
}

int lmdb_commit_foreach(tract_backend_conn *c, const char *tract_id, tract_commit_cb cb,
			void *payload)
{
	CHECK_ARG(c, cb);
	READ_OP(c, foreach_timed(c, DB_TRACT_TIME, DB_TIME, tract_id, cb, payload));
}

int lmdb_commit_foreach_with_config(tract_backend_conn *c, const char *tract_id, tract_commit_cb cb,
				    void *payload)
{
	CHECK_ARG(c, cb);
	READ_OP(c, foreach_timed(c, DB_TRACT_CONFIG, DB_CONFIG, tract_id, cb, payload));
}

/* ---- merge parents ---------------------------------------------------------------------- */

int op_parent_put(tract_backend_conn *c, struct logent *e)
{
	const char *commit = e->s[0], *parent = e->s[1];
	uint64_t cseq, pseq;
	struct key k, ok;
	bool dup;
	int rc;

	k_init(&k);
	k_str(&k, commit);
	k_u64(&k, (uint64_t)e->i[0]);
	k_str(&k, parent);
	if (k_over(c, &k))
		return fail_key(c, "commit hash with parent hash");
	rc = seq_of(c, DB_COMMIT_HASH, commit, &cseq);
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: merge parent of %s: that commit is not stored", commit);
	if (rc == 0) {
		rc = seq_of(c, DB_COMMIT_HASH, parent, &pseq);
		if (rc == NOT_FOUND)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: merge parent %s of %s: that commit is not stored",
				    parent, commit);
	}
	if (rc)
		return rc;
	seq_pair(&ok, pseq, cseq);
	rc = range_any(c, DB_PARENT_OF, ok.b, ok.n, &dup);
	if (rc < 0)
		return rc;
	if (dup)
		return fail(c, TRACT_ESTORAGE, "lmdb: %s is already a parent of %s", parent,
			    commit);
	rc = db_put_key(c, DB_PARENTS, &k, "store a merge parent");
	if (rc == 0)
		rc = db_put_key(c, DB_PARENT_OF, &ok, "store a merge parent");
	if (rc == 0)
		rc = commit_flags(c, cseq, CF_MERGE, 0);
	return rc;
}

int lmdb_parent_put(tract_backend_conn *c, const char *commit_hash, const char *parent_hash,
		    int64_t position)
{
	struct logent e = {.op = OP_PARENT_PUT};

	CHECK_ARG(c, commit_hash && parent_hash && position >= 0);
	e.s[0] = commit_hash;
	e.s[1] = parent_hash;
	e.i[0] = position;
	return run_write(c, &e);
}

static int visit_parent(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	const char *child, *parent;
	uint64_t pos;

	(void)v;
	if (!split_key(k->mv_data, k->mv_size, &child, &pos, &parent))
		return fail_corrupt(c, "merge parent", NULL);
	return sk->fn.parent(child, parent, (int64_t)pos, sk->payload);
}

static int parent_list(tract_backend_conn *c, const char *commit, struct sink *sk)
{
	struct key k;

	k_init(&k);
	k_str(&k, commit);
	if (k_over(c, &k))
		return 0;
	return foreach_range(c, DB_PARENTS, k.b, k.n, visit_parent, sk);
}

int lmdb_parent_list(tract_backend_conn *c, const char *commit_hash, tract_parent_cb cb,
		     void *payload)
{
	struct sink sk = {.fn.parent = cb, .payload = payload};

	CHECK_ARG(c, commit_hash && cb);
	READ_OP(c, parent_list(c, commit_hash, &sk));
}

int lmdb_parent_foreach(tract_backend_conn *c, tract_parent_cb cb, void *payload)
{
	struct sink sk = {.fn.parent = cb, .payload = payload};

	CHECK_ARG(c, cb);
	READ_OP(c, foreach_range(c, DB_PARENTS, NULL, 0, visit_parent, &sk));
}

/* ---- refs ------------------------------------------------------------------------------- */

static void ref_key(struct key *k, const char *tract, const char *name)
{
	k_init(k);
	k_str(k, tract);
	k_str(k, name);
}

/* Split a refs key "tract\0name\0". */
bool split_ref_key(const MDB_val *k, const char **tract, const char **name)
{
	const char *p = k->mv_data, *z = memchr(p, 0, k->mv_size);
	size_t rest;

	if (!z)
		return false;
	rest = k->mv_size - (size_t)(z + 1 - p);
	if (rest == 0 || z[rest] != '\0' || memchr(z + 1, 0, rest - 1))
		return false;
	*tract = p;
	*name = z + 1;
	return true;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static int ref_get(tract_backend_conn *c, const char *tract, const char *name, tract_ref_cb cb,
		   void *payload)
{
	tract_ref_row row = {.tract_id = tract, .ref_name = name};
	struct refval rv;
	struct key k;
	MDB_val kv, v;
	void *held;
	int rc;

	ref_key(&k, tract, name);
	if (k_over(c, &k))
		return fail(c, TRACT_ENOTFOUND, "ref not found: %s", name);
	kv = k_val(&k);
	rc = db_get(c, DB_REFS, &kv, &v, "read a ref");
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "ref not found: %s", name);
	if (rc == 0)
		rc = hold(c, &v, &held);
	if (rc < 0)
		return rc;
	if (!dec_ref(&v, &rv)) {
		free(held);
		return fail_corrupt(c, "ref", name);
	}
	row.commit_hash = rv.commit_hash;
	row.symbolic_target = rv.symbolic_target;
	rc = cb(&row, payload);
	free(held);
	return rc > 0 ? 0 : rc;
}

int lmdb_ref_get(tract_backend_conn *c, const char *tract_id, const char *ref_name, tract_ref_cb cb,
		 void *payload)
{
	CHECK_ARG(c, tract_id && ref_name && cb);
	READ_OP(c, ref_get(c, tract_id, ref_name, cb, payload));
}

/* The ref's current value: 0 (in *cur), NOT_FOUND, or an error. */
static int ref_current(tract_backend_conn *c, const struct key *k, const char *name,
		       struct refval *cur)
{
	MDB_val kv = k_val(k), v;
	int rc = db_get(c, DB_REFS, &kv, &v, "read a ref");

	if (rc == 0 && !dec_ref(&v, cur))
		return fail_corrupt(c, "ref", name);
	return rc;
}

/* s: tract, name, commit, symbolic, expected commit, expected symbolic;
 * i[0]: whether there is an expectation. */
int op_ref_cas(tract_backend_conn *c, struct logent *e)
{
	const char *tract = e->s[0], *name = e->s[1];
	struct refval now, cur;
	struct key k;
	MDB_val kv;
	uint64_t seq;
	int rc;

	now.commit_hash = e->s[2];
	now.symbolic_target = e->s[3];
	ref_key(&k, tract, name);
	if (k_over(c, &k))
		return fail_key(c, "tract id with ref name");
	rc = ref_current(c, &k, name, &cur);
	if (rc < 0)
		return rc;
	if (!e->i[0] && rc == 0)
		return fail(c, TRACT_ESTALE,
			    "ref %s of tract %s already exists (compare-and-swap lost)", name,
			    tract);
	if (e->i[0] && (rc == NOT_FOUND || !same_str(cur.commit_hash, e->s[4]) ||
			!same_str(cur.symbolic_target, e->s[5])))
		return fail(c, TRACT_ESTALE, "ref %s of tract %s moved (compare-and-swap lost)",
			    name, tract);
	if (now.commit_hash) {
		rc = seq_of(c, DB_COMMIT_HASH, now.commit_hash, &seq);
		if (rc == NOT_FOUND)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: ref %s of tract %s: commit %s is not stored", name,
				    tract, now.commit_hash);
		if (rc < 0)
			return rc;
	}
	kv = k_val(&k);
	return db_put_rec(c, DB_REFS, &kv, enc_ref, &now, 0, "store a ref");
}

int lmdb_ref_cas(tract_backend_conn *c, const char *tract_id, const char *ref_name,
		 const char *commit_hash, const char *symbolic_target,
		 const tract_ref_row *expected)
{
	struct logent e = {.op = OP_REF_CAS};

	CHECK_ARG(c, tract_id && ref_name && (!commit_hash != !symbolic_target));
	e.s[0] = tract_id;
	e.s[1] = ref_name;
	e.s[2] = commit_hash;
	e.s[3] = symbolic_target;
	e.s[4] = expected ? expected->commit_hash : NULL;
	e.s[5] = expected ? expected->symbolic_target : NULL;
	e.i[0] = expected != NULL;
	return run_write(c, &e);
}

/* s: tract, name, expected commit, expected symbolic; i[0]: expectation. */
int op_ref_delete(tract_backend_conn *c, struct logent *e)
{
	const char *tract = e->s[0], *name = e->s[1];
	struct refval cur;
	struct key k;
	MDB_val kv;
	int rc;

	ref_key(&k, tract, name);
	if (k_over(c, &k))
		return fail(c, TRACT_ENOTFOUND, "ref not found: %s", name);
	rc = ref_current(c, &k, name, &cur);
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "ref not found: %s", name);
	if (rc < 0)
		return rc;
	if (e->i[0] &&
	    (!same_str(cur.commit_hash, e->s[2]) || !same_str(cur.symbolic_target, e->s[3])))
		return fail(c, TRACT_ESTALE, "ref %s of tract %s moved (compare-and-swap lost)",
			    name, tract);
	kv = k_val(&k);
	rc = db_del(c, DB_REFS, &kv, "delete a ref");
	return rc == NOT_FOUND ? fail_corrupt(c, "ref", name) : rc;
}

int lmdb_ref_delete(tract_backend_conn *c, const char *tract_id, const char *ref_name,
		    const tract_ref_row *expected)
{
	struct logent e = {.op = OP_REF_DELETE};

	CHECK_ARG(c, tract_id && ref_name);
	e.s[0] = tract_id;
	e.s[1] = ref_name;
	e.s[2] = expected ? expected->commit_hash : NULL;
	e.s[3] = expected ? expected->symbolic_target : NULL;
	e.i[0] = expected != NULL;
	return run_write(c, &e);
}

static int visit_ref(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	tract_ref_row row;
	struct refval rv;

	if (!split_ref_key(k, &row.tract_id, &row.ref_name) || !dec_ref(v, &rv))
		return fail_corrupt(c, "ref", NULL);
	if (sk->filter && strncmp(row.ref_name, sk->filter, strlen(sk->filter)) != 0)
		return 0;
	row.commit_hash = rv.commit_hash;
	row.symbolic_target = rv.symbolic_target;
	return sk->fn.ref(&row, sk->payload);
}

static int ref_foreach(tract_backend_conn *c, const char *tract, const char *prefix,
		       struct sink *sk)
{
	struct key k;

	if (!tract) {
		sk->filter = prefix;
		return foreach_range(c, DB_REFS, NULL, 0, visit_ref, sk);
	}
	/* The tract's refs whose name starts with prefix: one key range. */
	k_init(&k);
	k_str(&k, tract);
	if (prefix)
		k_bytes(&k, prefix, strlen(prefix));
	if (k.over)
		return 0;
	return foreach_range(c, DB_REFS, k.b, k.n, visit_ref, sk);
}

int lmdb_ref_foreach(tract_backend_conn *c, const char *tract_id, const char *prefix,
		     tract_ref_cb cb, void *payload)
{
	struct sink sk = {.fn.ref = cb, .payload = payload};

	CHECK_ARG(c, cb);
	READ_OP(c, ref_foreach(c, tract_id, prefix, &sk));
}

/* ---- tracts ----------------------------------------------------------------------------- */

struct tract_list {
	tract_tract_row *rows;
	size_t n, cap;
};

static int tract_list_add(tract_backend_conn *c, struct tract_list *l, const char *id,
			  int64_t count)
{
	if (l->n && strcmp(l->rows[l->n - 1].tract_id, id) == 0) {
		l->rows[l->n - 1].commit_count += count;
		return 0;
	}
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		tract_tract_row *p = realloc(l->rows, ncap * sizeof(*p));

		if (!p)
			return fail_oom(c);
		l->rows = p;
		l->cap = ncap;
	}
	l->rows[l->n].tract_id = strdup(id);
	if (!l->rows[l->n].tract_id)
		return fail_oom(c);
	l->rows[l->n].commit_count = count;
	l->rows[l->n].last_activity = TRACT_TIME_NONE;
	l->n++;
	return 0;
}

static int visit_tract_count(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	const char *id;
	int64_t n;

	if (!dec_text(k, &id) || v->mv_size != 8)
		return fail_corrupt(c, "tract", NULL);
	memcpy(&n, v->mv_data, 8);
	return tract_list_add(c, ctx, id, n);
}

static int visit_tract_ref(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	const char *tract, *name;

	(void)v;
	if (!split_ref_key(k, &tract, &name))
		return fail_corrupt(c, "ref", NULL);
	return tract_list_add(c, ctx, tract, 0);
}

static int cmp_tract_row(const void *a, const void *b)
{
	return strcmp(((const tract_tract_row *)a)->tract_id,
		      ((const tract_tract_row *)b)->tract_id);
}

/* The newest commit time of a tract: the last key of its time range. */
static int last_activity(tract_backend_conn *c, const char *tract, tract_time *out)
{
	MDB_cursor *cur;
	struct key k;
	MDB_val kv, v;
	size_t plen;
	int rc;

	*out = TRACT_TIME_NONE;
	k_init(&k);
	k_str(&k, tract);
	plen = k.n;
	k_u64(&k, UINT64_MAX);
	k_u8(&k, 0xff);
	if (k.over)
		return 0;
	rc = mdb_cursor_open(c->txn, dbi_of(c, DB_TRACT_TIME), &cur);
	if (rc)
		return fail_mdb(c, rc, "open a cursor");
	kv = k_val(&k);
	rc = mdb_cursor_get(cur, &kv, &v, MDB_SET_RANGE);
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &kv, &v, rc == 0 ? MDB_PREV : MDB_LAST);
	if (rc == 0 && has_prefix(&kv, k.b, plen) && kv.mv_size >= plen + 8)
		*out = signed_value(bc_get_be64((const unsigned char *)kv.mv_data + plen));
	mdb_cursor_close(cur);
	return rc && rc != MDB_NOTFOUND ? fail_mdb(c, rc, "read a tract's commits") : 0;
}

static int tract_foreach(tract_backend_conn *c, tract_tract_cb cb, void *payload)
{
	struct tract_list l = {0}, m = {0};
	size_t i;
	int rc;

	rc = foreach_range(c, DB_TRACTS, NULL, 0, visit_tract_count, &l);
	if (rc == 0)
		rc = foreach_range(c, DB_REFS, NULL, 0, visit_tract_ref, &l);
	if (rc == 0 && l.n > 1) {
		/* Merge the two sorted runs (and drop repeats). */
		qsort(l.rows, l.n, sizeof(*l.rows), cmp_tract_row);
		for (i = 0; rc == 0 && i < l.n; i++)
			rc = tract_list_add(c, &m, l.rows[i].tract_id, l.rows[i].commit_count);
	}
	if (rc == 0 && l.n > 1) {
		struct tract_list t = l;

		l = m;
		m = t;
	}
	for (i = 0; rc == 0 && i < l.n; i++)
		rc = last_activity(c, l.rows[i].tract_id, &l.rows[i].last_activity);
	for (i = 0; rc == 0 && i < l.n; i++) {
		rc = cb(&l.rows[i], payload);
		if (rc > 0) {
			rc = 0;
			break;
		}
	}
	for (i = 0; i < l.n; i++)
		free((char *)l.rows[i].tract_id);
	for (i = 0; i < m.n; i++)
		free((char *)m.rows[i].tract_id);
	free(l.rows);
	free(m.rows);
	return rc;
}

int lmdb_tract_foreach(tract_backend_conn *c, tract_tract_cb cb, void *payload)
{
	CHECK_ARG(c, cb);
	READ_OP(c, tract_foreach(c, cb, payload));
}
