/*
 * lmdb_records.c - the records kept beside the commit graph: annotations,
 * compression records and their members, spawn pointers, and the store's
 * metadata. Writes are op_* functions run through run_write().
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lmdb_internal.h"

/* ---- annotations ------------------------------------------------------------------------ */

/* s: tract, target, reason; i[0] priority, i[1] created_at; out: the id. */
int op_ann_put(tract_backend_conn *c, struct logent *e)
{
	tract_annotation_row a = {
		.tract_id = e->s[0],
		.target_hash = e->s[1],
		.reason = e->s[2],
		.priority = (tract_priority)e->i[0],
		.created_at = e->i[1],
	};
	unsigned char ib[8], code = (unsigned char)prio_code(a.priority);
	struct key tk, rk;
	MDB_val kv, v;
	uint64_t id, target;
	int rc;

	/* Measured with the largest id, filled in below. */
	k_init(&tk);
	k_str(&tk, a.target_hash);
	k_u64(&tk, signed_bits(a.created_at));
	k_u64(&tk, UINT64_MAX);
	k_init(&rk);
	k_str(&rk, a.tract_id);
	k_u64(&rk, UINT64_MAX);
	if (k_over(c, &tk) || k_over(c, &rk))
		return fail_key(c, "target hash or tract id");
	rc = seq_of(c, DB_COMMIT_HASH, a.target_hash, &target);
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ESTORAGE, "lmdb: annotation target %s is not a stored commit",
			    a.target_hash);
	if (rc == 0)
		rc = next_seq(c, DB_ANN, &id);
	if (rc)
		return rc;
	bc_put_be64(tk.b + tk.n - 8, id);
	bc_put_be64(rk.b + rk.n - 8, id);
	kv = u64_val(ib, id);
	rc = db_put_rec(c, DB_ANN, &kv, enc_annotation, &a, MDB_APPEND, "store an annotation");
	kv = k_val(&tk);
	v.mv_size = 1;
	v.mv_data = &code;
	if (rc == 0)
		rc = db_put(c, DB_ANN_TARGET, &kv, &v, 0, "index an annotation");
	if (rc == 0)
		rc = db_put_key(c, DB_ANN_TRACT, &rk, "index an annotation");
	if (rc == 0)
		rc = commit_flags(c, target, CF_ANNOTATED, 0);
	e->out = (int64_t)id;
	return rc;
}

int lmdb_annotation_put(tract_backend_conn *c, const tract_annotation_row *row, int64_t *out_id)
{
	struct logent e = {.op = OP_ANN_PUT};
	int rc;

	CHECK_ARG(c, row && row->tract_id && row->target_hash && prio_code(row->priority));
	e.s[0] = row->tract_id;
	e.s[1] = row->target_hash;
	e.s[2] = row->reason;
	e.i[0] = row->priority;
	e.i[1] = row->created_at;
	rc = run_write(c, &e);
	if (rc == 0 && out_id)
		*out_id = e.out;
	return rc;
}

static int emit_annotation(tract_backend_conn *c, uint64_t id, tract_annotation_cb cb,
			   void *payload)
{
	unsigned char ib[8];
	MDB_val k = u64_val(ib, id), v;
	tract_annotation_row a;
	void *held;
	int rc = db_get(c, DB_ANN, &k, &v, "read an annotation");

	if (rc == NOT_FOUND)
		return fail_corrupt(c, "annotation index", "entry");
	if (rc == 0)
		rc = hold(c, &v, &held);
	if (rc < 0)
		return rc;
	if (!dec_annotation(&v, &a)) {
		rc = fail_corrupt(c, "annotation", NULL);
	} else {
		a.id = (int64_t)id;
		rc = cb(&a, payload);
	}
	free(held);
	return rc;
}

/* Index keys ending with an 8-byte id. */
static int visit_ann_index(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;

	(void)v;
	if (k->mv_size < 8)
		return fail_corrupt(c, "annotation index", "entry");
	return emit_annotation(c, bc_get_be64((const unsigned char *)k->mv_data + k->mv_size - 8),
			       sk->fn.annotation, sk->payload);
}

static int ann_by_key(tract_backend_conn *c, enum db index, const char *s, struct sink *sk)
{
	struct key k;

	if (!s)
		return foreach_range(c, DB_ANN, NULL, 0, visit_ann_index, sk);
	k_init(&k);
	k_str(&k, s);
	if (k_over(c, &k))
		return 0;
	return foreach_range(c, index, k.b, k.n, visit_ann_index, sk);
}

int lmdb_annotation_list(tract_backend_conn *c, const char *target_hash, tract_annotation_cb cb,
			 void *payload)
{
	struct sink sk = {.fn.annotation = cb, .payload = payload};

	CHECK_ARG(c, target_hash && cb);
	READ_OP(c, ann_by_key(c, DB_ANN_TARGET, target_hash, &sk));
}

int lmdb_annotation_foreach(tract_backend_conn *c, const char *tract_id, tract_annotation_cb cb,
			    void *payload)
{
	struct sink sk = {.fn.annotation = cb, .payload = payload};

	CHECK_ARG(c, cb);
	READ_OP(c, ann_by_key(c, DB_ANN_TRACT, tract_id, &sk));
}

/* s: target. */
int op_ann_delete_target(tract_backend_conn *c, struct logent *e)
{
	const char *target = e->s[0];
	struct keylist l;
	struct key k, rk;
	tract_annotation_row a;
	unsigned char ib[8];
	MDB_val kv, v;
	uint64_t id, seq;
	size_t i;
	int rc;

	k_init(&k);
	k_str(&k, target);
	if (k_over(c, &k))
		return 0;
	rc = collect_keys(c, DB_ANN_TARGET, k.b, k.n, &l);
	for (i = 0; rc == 0 && i < l.n; i++) {
		if (l.k[i].mv_size < 8) {
			rc = fail_corrupt(c, "annotation index", target);
			break;
		}
		id = bc_get_be64((const unsigned char *)l.k[i].mv_data + l.k[i].mv_size - 8);
		kv = u64_val(ib, id);
		rc = db_get(c, DB_ANN, &kv, &v, "read an annotation");
		if (rc == 0 && !dec_annotation(&v, &a))
			rc = fail_corrupt(c, "annotation", target);
		if (rc == 0) {
			k_init(&rk);
			k_str(&rk, a.tract_id);
			k_u64(&rk, id);
			rc = db_del_key(c, DB_ANN_TRACT, &rk, "delete an annotation");
		}
		if (rc == 0) {
			kv = u64_val(ib, id);
			rc = db_del(c, DB_ANN, &kv, "delete an annotation");
		}
		if (rc == 0)
			rc = db_del(c, DB_ANN_TARGET, &l.k[i], "delete an annotation");
		if (rc == NOT_FOUND)
			rc = fail_corrupt(c, "annotation index", target);
	}
	if (rc == 0 && l.n > 0) {
		rc = seq_of(c, DB_COMMIT_HASH, target, &seq);
		if (rc == 0)
			rc = commit_flags(c, seq, 0, CF_ANNOTATED);
		else if (rc == NOT_FOUND)
			rc = 0;
	}
	keylist_free(&l);
	return rc;
}

int lmdb_annotation_delete_target(tract_backend_conn *c, const char *target_hash)
{
	struct logent e = {.op = OP_ANN_DELETE_TARGET};

	CHECK_ARG(c, target_hash);
	e.s[0] = target_hash;
	return run_write(c, &e);
}

/* ---- compression records ---------------------------------------------------------------- */

static void comp_time_keys(struct key *tk, struct key *ak, const char *tract, tract_time t,
			   const char *id)
{
	time_keys(tk, ak, tract, t, id);
}

/* s: id, tract, branch, instructions; i: created_at, original, compressed, target. */
int op_comp_put(tract_backend_conn *c, struct logent *e)
{
	tract_compression_row x = {
		.compression_id = e->s[0],
		.tract_id = e->s[1],
		.branch_name = e->s[2],
		.instructions = e->s[3],
		.created_at = e->i[0],
		.original_tokens = e->i[1],
		.compressed_tokens = e->i[2],
		.target_tokens = e->i[3],
	};
	struct key k, tk, ak;
	MDB_val kv, v;
	int rc;

	k_init(&k);
	k_str(&k, x.compression_id);
	comp_time_keys(&tk, &ak, x.tract_id, x.created_at, x.compression_id);
	if (k_over(c, &k) || k_over(c, &tk))
		return fail_key(c, "compression id with tract id");
	kv = k_val(&k);
	rc = db_get(c, DB_COMP, &kv, &v, "read a compression record");
	if (rc == 0)
		return fail(c, TRACT_ESTORAGE, "lmdb: compression record already exists: %s",
			    x.compression_id);
	if (rc < 0)
		return rc;
	rc = db_put_rec(c, DB_COMP, &kv, enc_compression, &x, 0, "store a compression record");
	if (rc == 0)
		rc = db_put_key(c, DB_COMP_TRACT_TIME, &tk, "index a compression record");
	if (rc == 0)
		rc = db_put_key(c, DB_COMP_TIME, &ak, "index a compression record");
	return rc;
}

int lmdb_compression_put(tract_backend_conn *c, const tract_compression_row *row)
{
	struct logent e = {.op = OP_COMP_PUT};

	CHECK_ARG(c, row && row->compression_id && row->tract_id);
	e.s[0] = row->compression_id;
	e.s[1] = row->tract_id;
	e.s[2] = row->branch_name;
	e.s[3] = row->instructions;
	e.i[0] = row->created_at;
	e.i[1] = row->original_tokens;
	e.i[2] = row->compressed_tokens;
	e.i[3] = row->target_tokens;
	return run_write(c, &e);
}

/* member_of key of a commit in a record: cseq side id\0. */
static void member_of_key(struct key *k, uint64_t cseq, unsigned side, const char *id)
{
	k_init(k);
	k_u64(k, cseq);
	k_u8(k, side);
	k_str(k, id);
}

/* s: id, commit; i[0] side, i[1] position. */
int op_member_put(tract_backend_conn *c, struct logent *e)
{
	const char *id = e->s[0], *commit = e->s[1];
	unsigned side = (unsigned)e->i[0];
	struct key k, mk, ok;
	MDB_val kv, v;
	uint64_t cseq;
	bool dup;
	int rc;

	k_init(&k);
	k_str(&k, id);
	k_init(&mk);
	k_u8(&mk, side);
	k_str(&mk, id);
	k_u64(&mk, signed_bits(e->i[1]));
	k_str(&mk, commit);
	member_of_key(&ok, 0, side, id);
	if (k_over(c, &k) || k_over(c, &mk) || k_over(c, &ok))
		return fail_key(c, "compression id with commit hash");
	kv = k_val(&k);
	rc = db_get(c, DB_COMP, &kv, &v, "read a compression record");
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ESTORAGE, "lmdb: compression record %s is not stored", id);
	if (rc == 0) {
		rc = seq_of(c, DB_COMMIT_HASH, commit, &cseq);
		if (rc == NOT_FOUND)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: compression record %s: commit %s is not stored", id,
				    commit);
	}
	if (rc)
		return rc;
	member_of_key(&ok, cseq, side, id);
	rc = range_any(c, DB_MEMBER_OF, ok.b, ok.n, &dup);
	if (rc < 0)
		return rc;
	if (dup)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: commit %s is already listed by compression %s", commit, id);
	rc = db_put_key(c, DB_COMP_MEMBERS, &mk, "store a compression member");
	if (rc == 0)
		rc = db_put_key(c, DB_MEMBER_OF, &ok, "store a compression member");
	return rc;
}

int lmdb_compression_member_put(tract_backend_conn *c, tract_compression_side side,
				const char *compression_id, const char *commit_hash,
				int64_t position)
{
	struct logent e = {.op = OP_MEMBER_PUT};

	CHECK_ARG(c, bc_valid_side(side) && compression_id && commit_hash);
	e.s[0] = compression_id;
	e.s[1] = commit_hash;
	e.i[0] = side;
	e.i[1] = position;
	return run_write(c, &e);
}

static int emit_compression(tract_backend_conn *c, const char *id, bool must,
			    tract_compression_cb cb, void *payload)
{
	tract_compression_row x;
	struct key k;
	MDB_val kv, v;
	void *held;
	int rc;

	k_init(&k);
	k_str(&k, id);
	if (k_over(c, &k))
		rc = NOT_FOUND;
	else {
		kv = k_val(&k);
		rc = db_get(c, DB_COMP, &kv, &v, "read a compression record");
	}
	if (rc == NOT_FOUND)
		return must ? fail(c, TRACT_ENOTFOUND, "compression record not found: %s", id)
			    : fail_corrupt(c, "compression index", id);
	if (rc == 0)
		rc = hold(c, &v, &held);
	if (rc < 0)
		return rc;
	if (!dec_compression(&v, &x))
		rc = fail_corrupt(c, "compression", id);
	else
		rc = cb(&x, payload);
	free(held);
	return rc;
}

int lmdb_compression_get(tract_backend_conn *c, const char *compression_id, tract_compression_cb cb,
			 void *payload)
{
	int rc;

	CHECK_ARG(c, compression_id && cb);
	{
		bool own;

		rc = enter(c, TRACT_TXN_READ, &own);
		if (rc < 0)
			return rc;
		rc = emit_compression(c, compression_id, true, cb, payload);
		return leave(c, own, rc > 0 ? 0 : rc);
	}
}

/* Time index keys end with "time id\0"; skip the prefix and the time. */
static int visit_comp_index(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	const char *id = (const char *)k->mv_data + sk->n;

	(void)v;
	if (k->mv_size <= sk->n || ((const char *)k->mv_data)[k->mv_size - 1] != '\0')
		return fail_corrupt(c, "compression index", NULL);
	return emit_compression(c, id, false, sk->fn.compression, sk->payload);
}

static int compression_foreach(tract_backend_conn *c, const char *tract, struct sink *sk)
{
	struct key k;

	if (!tract) {
		sk->n = 8;
		return foreach_range(c, DB_COMP_TIME, NULL, 0, visit_comp_index, sk);
	}
	k_init(&k);
	k_str(&k, tract);
	if (k_over(c, &k))
		return 0;
	sk->n = k.n + 8;
	return foreach_range(c, DB_COMP_TRACT_TIME, k.b, k.n, visit_comp_index, sk);
}

int lmdb_compression_foreach(tract_backend_conn *c, const char *tract_id, tract_compression_cb cb,
			     void *payload)
{
	struct sink sk = {.fn.compression = cb, .payload = payload};

	CHECK_ARG(c, cb);
	READ_OP(c, compression_foreach(c, tract_id, &sk));
}

static int visit_member(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	const char *id, *commit;
	uint64_t pos;

	(void)v;
	if (k->mv_size < 1 ||
	    !split_key((const unsigned char *)k->mv_data + 1, k->mv_size - 1, &id, &pos, &commit))
		return fail_corrupt(c, "compression member", NULL);
	return sk->fn.member(id, commit, signed_value(pos), sk->payload);
}

static int compression_members(tract_backend_conn *c, tract_compression_side side,
			       const char *id, struct sink *sk)
{
	struct key k;

	k_init(&k);
	k_u8(&k, side);
	k_str(&k, id);
	if (k_over(c, &k))
		return 0;
	return foreach_range(c, DB_COMP_MEMBERS, k.b, k.n, visit_member, sk);
}

int lmdb_compression_members(tract_backend_conn *c, tract_compression_side side,
			     const char *compression_id, tract_member_cb cb, void *payload)
{
	struct sink sk = {.fn.member = cb, .payload = payload};

	CHECK_ARG(c, bc_valid_side(side) && compression_id && cb);
	READ_OP(c, compression_members(c, side, compression_id, &sk));
}

/* Delete one side's members of a record, with their reverse entries. */
static int delete_members(tract_backend_conn *c, unsigned side, const char *id)
{
	struct keylist l;
	struct key k, ok;
	const char *rid, *commit;
	uint64_t pos, cseq;
	size_t i;
	int rc;

	k_init(&k);
	k_u8(&k, side);
	k_str(&k, id);
	rc = collect_keys(c, DB_COMP_MEMBERS, k.b, k.n, &l);
	for (i = 0; rc == 0 && i < l.n; i++) {
		if (!split_key((const unsigned char *)l.k[i].mv_data + 1, l.k[i].mv_size - 1, &rid,
			       &pos, &commit)) {
			rc = fail_corrupt(c, "compression member", id);
			break;
		}
		rc = seq_of(c, DB_COMMIT_HASH, commit, &cseq);
		if (rc == 0) {
			member_of_key(&ok, cseq, side, id);
			rc = db_del_key(c, DB_MEMBER_OF, &ok, "delete a compression member");
		} else if (rc == NOT_FOUND) {
			rc = 0;
		}
		if (rc == 0)
			rc = db_del(c, DB_COMP_MEMBERS, &l.k[i], "delete a compression member");
		if (rc == NOT_FOUND)
			rc = 0;
	}
	keylist_free(&l);
	return rc;
}

/* s: id. */
int op_comp_delete(tract_backend_conn *c, struct logent *e)
{
	const char *id = e->s[0];
	tract_compression_row x;
	struct key k, tk, ak;
	MDB_val kv, v;
	int rc;

	k_init(&k);
	k_str(&k, id);
	if (k_over(c, &k))
		return fail(c, TRACT_ENOTFOUND, "compression record not found: %s", id);
	kv = k_val(&k);
	rc = db_get(c, DB_COMP, &kv, &v, "read a compression record");
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "compression record not found: %s", id);
	if (rc < 0)
		return rc;
	if (!dec_compression(&v, &x))
		return fail_corrupt(c, "compression", id);
	comp_time_keys(&tk, &ak, x.tract_id, x.created_at, id); /* before any write */
	rc = delete_members(c, TRACT_COMPRESSION_SOURCES, id);
	if (rc == 0)
		rc = delete_members(c, TRACT_COMPRESSION_RESULTS, id);
	if (rc == 0)
		rc = db_del_key(c, DB_COMP_TRACT_TIME, &tk, "delete a compression record");
	if (rc == 0)
		rc = db_del_key(c, DB_COMP_TIME, &ak, "delete a compression record");
	if (rc == 0)
		rc = db_del_key(c, DB_COMP, &k, "delete a compression record");
	return rc;
}

int lmdb_compression_delete(tract_backend_conn *c, const char *compression_id)
{
	struct logent e = {.op = OP_COMP_DELETE};

	CHECK_ARG(c, compression_id);
	e.s[0] = compression_id;
	return run_write(c, &e);
}

/* ---- spawn pointers --------------------------------------------------------------------- */

static void id_key(struct key *k, const char *s, uint64_t id)
{
	k_init(k);
	k_str(k, s);
	k_u64(k, id);
}

/* s: parent tract, parent commit, child, purpose, mode, display name;
 * i[0] created_at; out: the id. */
int op_spawn_put(tract_backend_conn *c, struct logent *e)
{
	struct srec s = {0};
	struct key pk, ck, sk;
	unsigned char ib[8];
	MDB_val kv;
	uint64_t id;
	int rc;

	s.row.parent_tract_id = e->s[0];
	s.row.parent_commit_hash = e->s[1];
	s.row.child_tract_id = e->s[2];
	s.row.purpose = e->s[3];
	s.row.inheritance_mode = e->s[4];
	s.row.display_name = e->s[5];
	s.row.created_at = e->i[0];
	id_key(&pk, s.row.parent_tract_id, 0);
	id_key(&ck, s.row.child_tract_id, 0);
	if (k_over(c, &pk) || k_over(c, &ck))
		return fail_key(c, "tract id");
	if (s.row.parent_commit_hash) {
		rc = seq_of(c, DB_COMMIT_HASH, s.row.parent_commit_hash, &s.commit_seq);
		if (rc == NOT_FOUND)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: spawn pointer: parent commit %s is not stored",
				    s.row.parent_commit_hash);
		if (rc < 0)
			return rc;
	}
	rc = next_seq(c, DB_SPAWNS, &id);
	if (rc)
		return rc;
	bc_put_be64(pk.b + pk.n - 8, id);
	bc_put_be64(ck.b + ck.n - 8, id);
	kv = u64_val(ib, id);
	rc = db_put_rec(c, DB_SPAWNS, &kv, enc_spawn, &s, MDB_APPEND, "store a spawn pointer");
	if (rc == 0)
		rc = db_put_key(c, DB_SPAWN_PARENT, &pk, "index a spawn pointer");
	if (rc == 0)
		rc = db_put_key(c, DB_SPAWN_CHILD, &ck, "index a spawn pointer");
	seq_pair(&sk, s.commit_seq, id);
	if (rc == 0 && s.commit_seq)
		rc = db_put_key(c, DB_SPAWN_COMMIT, &sk, "index a spawn pointer");
	e->out = (int64_t)id;
	return rc;
}

int lmdb_spawn_put(tract_backend_conn *c, const tract_spawn_row *row, int64_t *out_id)
{
	struct logent e = {.op = OP_SPAWN_PUT};
	int rc;

	CHECK_ARG(c, row && row->parent_tract_id && row->child_tract_id && row->purpose &&
			     row->inheritance_mode);
	e.s[0] = row->parent_tract_id;
	e.s[1] = row->parent_commit_hash;
	e.s[2] = row->child_tract_id;
	e.s[3] = row->purpose;
	e.s[4] = row->inheritance_mode;
	e.s[5] = row->display_name;
	e.i[0] = row->created_at;
	rc = run_write(c, &e);
	if (rc == 0 && out_id)
		*out_id = e.out;
	return rc;
}

/* The spawn pointer under id (NOT_FOUND when absent); *held frees it. */
int load_spawn(tract_backend_conn *c, uint64_t id, struct srec *s, void **held)
{
	unsigned char ib[8];
	MDB_val k = u64_val(ib, id), v;
	int rc;

	*held = NULL;
	rc = db_get(c, DB_SPAWNS, &k, &v, "read a spawn pointer");
	if (rc == 0)
		rc = hold(c, &v, held);
	if (rc)
		return rc;
	if (!dec_spawn(&v, s)) {
		free(*held);
		*held = NULL;
		return fail_corrupt(c, "spawn pointer", NULL);
	}
	s->row.id = (int64_t)id;
	return 0;
}

static int visit_spawn(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	struct srec s;
	void *held;
	int rc;

	(void)v;
	if (k->mv_size < 8)
		return fail_corrupt(c, "spawn index", NULL);
	rc = load_spawn(c, bc_get_be64((const unsigned char *)k->mv_data + k->mv_size - 8), &s,
			&held);
	if (rc == NOT_FOUND)
		return fail_corrupt(c, "spawn index", "entry");
	if (rc < 0)
		return rc;
	rc = sk->fn.spawn(&s.row, sk->payload);
	free(held);
	return rc;
}

static int spawn_by(tract_backend_conn *c, enum db index, const char *tract, struct sink *sk)
{
	struct key k;

	if (!tract)
		return foreach_range(c, DB_SPAWNS, NULL, 0, visit_spawn, sk);
	k_init(&k);
	k_str(&k, tract);
	if (k_over(c, &k))
		return 0;
	return foreach_range(c, index, k.b, k.n, visit_spawn, sk);
}

int lmdb_spawn_foreach(tract_backend_conn *c, const char *parent_tract_id, tract_spawn_cb cb,
		       void *payload)
{
	struct sink sk = {.fn.spawn = cb, .payload = payload};

	CHECK_ARG(c, cb);
	READ_OP(c, spawn_by(c, DB_SPAWN_PARENT, parent_tract_id, &sk));
}

int lmdb_spawn_by_child(tract_backend_conn *c, const char *child_tract_id, tract_spawn_cb cb,
			void *payload)
{
	struct sink sk = {.fn.spawn = cb, .payload = payload};

	CHECK_ARG(c, child_tract_id && cb);
	READ_OP(c, spawn_by(c, DB_SPAWN_CHILD, child_tract_id, &sk));
}

/* i[0]: id. */
int op_spawn_delete(tract_backend_conn *c, struct logent *e)
{
	uint64_t id = (uint64_t)e->i[0];
	struct key pk, ck, sk;
	unsigned char ib[8];
	struct srec s;
	MDB_val kv;
	void *held;
	int rc;

	if (e->i[0] <= 0)
		return fail(c, TRACT_ENOTFOUND, "spawn pointer not found: %" PRId64, e->i[0]);
	rc = load_spawn(c, id, &s, &held);
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "spawn pointer not found: %" PRId64, e->i[0]);
	if (rc < 0)
		return rc;
	id_key(&pk, s.row.parent_tract_id, id);
	id_key(&ck, s.row.child_tract_id, id);
	seq_pair(&sk, s.commit_seq, id);
	rc = db_del_key(c, DB_SPAWN_PARENT, &pk, "delete a spawn pointer");
	if (rc == 0)
		rc = db_del_key(c, DB_SPAWN_CHILD, &ck, "delete a spawn pointer");
	if (rc == 0 && s.commit_seq)
		rc = db_del_key(c, DB_SPAWN_COMMIT, &sk, "delete a spawn pointer");
	kv = u64_val(ib, id);
	if (rc == 0)
		rc = db_del(c, DB_SPAWNS, &kv, "delete a spawn pointer");
	free(held);
	return rc;
}

int lmdb_spawn_delete(tract_backend_conn *c, int64_t id)
{
	struct logent e = {.op = OP_SPAWN_DELETE};

	CHECK_CONN(c);
	e.i[0] = id;
	return run_write(c, &e);
}

/* ---- store metadata --------------------------------------------------------------------- */

static int meta_get(tract_backend_conn *c, const char *key, tract_meta_cb cb, void *payload)
{
	const char *value;
	struct key k;
	MDB_val kv, v;
	void *held;
	int rc;

	k_init(&k);
	k_str(&k, key);
	if (k_over(c, &k))
		return fail(c, TRACT_ENOTFOUND, "metadata key not found: %s", key);
	kv = k_val(&k);
	rc = db_get(c, DB_META, &kv, &v, "read metadata");
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "metadata key not found: %s", key);
	if (rc == 0)
		rc = hold(c, &v, &held);
	if (rc < 0)
		return rc;
	if (!dec_text(&v, &value))
		rc = fail_corrupt(c, "metadata", key);
	else
		rc = cb(key, value, payload);
	free(held);
	return rc > 0 ? 0 : rc;
}

int lmdb_meta_get(tract_backend_conn *c, const char *key, tract_meta_cb cb, void *payload)
{
	CHECK_ARG(c, key && cb);
	READ_OP(c, meta_get(c, key, cb, payload));
}

/* s: key, value. */
int op_meta_set(tract_backend_conn *c, struct logent *e)
{
	struct key k;
	MDB_val kv, v;

	k_init(&k);
	k_str(&k, e->s[0]);
	if (k_over(c, &k))
		return fail_key(c, "metadata key");
	kv = k_val(&k);
	v.mv_size = strlen(e->s[1]) + 1;
	v.mv_data = (void *)e->s[1];
	return db_put(c, DB_META, &kv, &v, 0, "store metadata");
}

int lmdb_meta_set(tract_backend_conn *c, const char *key, const char *value)
{
	struct logent e = {.op = OP_META_SET};

	CHECK_ARG(c, key && value);
	e.s[0] = key;
	e.s[1] = value;
	return run_write(c, &e);
}

/* s: key. */
int op_meta_delete(tract_backend_conn *c, struct logent *e)
{
	struct key k;
	MDB_val kv;
	int rc;

	k_init(&k);
	k_str(&k, e->s[0]);
	if (k_over(c, &k))
		return fail(c, TRACT_ENOTFOUND, "metadata key not found: %s", e->s[0]);
	kv = k_val(&k);
	rc = db_del(c, DB_META, &kv, "delete metadata");
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "metadata key not found: %s", e->s[0]);
	return rc;
}

int lmdb_meta_delete(tract_backend_conn *c, const char *key)
{
	struct logent e = {.op = OP_META_DELETE};

	CHECK_ARG(c, key);
	e.s[0] = key;
	return run_write(c, &e);
}

static int visit_meta(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	const char *key, *value;

	if (!dec_text(k, &key) || !dec_text(v, &value))
		return fail_corrupt(c, "metadata", NULL);
	return sk->fn.meta(key, value, sk->payload);
}

int lmdb_meta_foreach(tract_backend_conn *c, const char *prefix, tract_meta_cb cb, void *payload)
{
	struct sink sk = {.fn.meta = cb, .payload = payload};

	CHECK_ARG(c, cb);
	if (prefix && strlen(prefix) > KEY_MAX)
		return 0; /* longer than any key */
	READ_OP(c, foreach_range(c, DB_META, prefix, prefix ? strlen(prefix) : 0, visit_meta,
				 &sk));
}
