/*
 * lmdb_delete.c - deleting a commit: refused while a ref, an annotation, a
 * merge or a compression record names it; the commits and spawn pointers
 * that refer to it lose the reference (the SQL backends' ON DELETE SET NULL).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deletes.h"
#include "lmdb_internal.h"

struct ref_scan {
	const char *hash;
	char tract[KEY_MAX], name[KEY_MAX];
	bool found;
};

static int visit_ref_naming(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct ref_scan *rs = ctx;
	const char *tract, *name;
	struct refval rv;

	if (!split_ref_key(k, &tract, &name) || !dec_ref(v, &rv))
		return fail_corrupt(c, "ref", NULL);
	if (!rv.commit_hash || strcmp(rv.commit_hash, rs->hash) != 0)
		return 0;
	snprintf(rs->tract, sizeof(rs->tract), "%s", tract);
	snprintf(rs->name, sizeof(rs->name), "%s", name);
	rs->found = true;
	return 1;
}

/* What still names the commit and makes deleting it fail. */
static int commit_in_use(tract_backend_conn *c, const char *hash, uint64_t seq)
{
	struct ref_scan rs = {.hash = hash};
	unsigned char sb[8];
	struct key k;
	bool any;
	int rc;

	/* Refs are few: scanned rather than indexed (they move on every commit). */
	rc = foreach_range(c, DB_REFS, NULL, 0, visit_ref_naming, &rs);
	if (rc < 0)
		return rc;
	if (rs.found)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: cannot delete commit %s: ref %s of tract %s names it", hash,
			    rs.name, rs.tract);
	k_init(&k);
	k_str(&k, hash);
	rc = range_any(c, DB_ANN_TARGET, k.b, k.n, &any);
	if (rc == 0 && any)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: cannot delete commit %s: annotations target it", hash);
	bc_put_be64(sb, seq);
	if (rc == 0)
		rc = range_any(c, DB_PARENT_OF, sb, 8, &any);
	if (rc == 0 && any)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: cannot delete commit %s: it is a merge parent of another commit",
			    hash);
	if (rc == 0)
		rc = range_any(c, DB_MEMBER_OF, sb, 8, &any);
	if (rc == 0 && any)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: cannot delete commit %s: a compression record lists it", hash);
	return rc;
}

/* The commit's own commit_parents rows (as the child) go with it. */
static int delete_own_parents(tract_backend_conn *c, const char *hash, uint64_t seq)
{
	const char *child, *parent;
	struct keylist l;
	struct key k;
	uint64_t pos, pseq;
	size_t i;
	int rc;

	k_init(&k);
	k_str(&k, hash);
	rc = collect_keys(c, DB_PARENTS, k.b, k.n, &l);
	for (i = 0; rc == 0 && i < l.n; i++) {
		if (!split_key(l.k[i].mv_data, l.k[i].mv_size, &child, &pos, &parent)) {
			rc = fail_corrupt(c, "merge parent", hash);
			break;
		}
		rc = seq_of(c, DB_COMMIT_HASH, parent, &pseq);
		if (rc == 0) {
			seq_pair(&k, pseq, seq);
			rc = db_del_key(c, DB_PARENT_OF, &k, "delete a merge parent");
		} else if (rc == NOT_FOUND) {
			rc = 0;
		}
		if (rc == 0)
			rc = db_del(c, DB_PARENTS, &l.k[i], "delete a merge parent");
		if (rc == NOT_FOUND)
			rc = 0;
	}
	keylist_free(&l);
	return rc;
}

/* ON DELETE SET NULL: the commits whose parent (or response_to) it was. */
static int unlink_commits(tract_backend_conn *c, enum db links, uint64_t seq, bool parent)
{
	struct keylist l;
	unsigned char sb[8];
	struct crec r;
	void *held;
	uint64_t other;
	size_t i;
	int rc;

	bc_put_be64(sb, seq);
	rc = collect_keys(c, links, sb, 8, &l);
	for (i = 0; rc == 0 && i < l.n; i++) {
		if (l.k[i].mv_size != 16) {
			rc = fail_corrupt(c, db_names[links], "entry");
			break;
		}
		other = bc_get_be64((const unsigned char *)l.k[i].mv_data + 8);
		rc = load_commit(c, other, &r, &held);
		if (rc == 0) {
			if (parent) {
				r.row.parent_hash = NULL;
				r.parent_seq = 0;
			} else {
				r.row.response_to = NULL;
				r.response_seq = 0;
			}
			rc = store_commit(c, other, &r, 0);
			free(held);
		} else if (rc == NOT_FOUND) {
			rc = 0;
		}
		if (rc == 0)
			rc = db_del(c, links, &l.k[i], "unlink a commit");
		if (rc == NOT_FOUND)
			rc = 0;
	}
	keylist_free(&l);
	return rc;
}

/* ...and spawn pointers' parent_commit_hash. */
static int unlink_spawns(tract_backend_conn *c, uint64_t seq)
{
	struct keylist l;
	unsigned char sb[8], ib[8];
	struct srec s;
	MDB_val kv;
	void *held;
	uint64_t id;
	size_t i;
	int rc;

	bc_put_be64(sb, seq);
	rc = collect_keys(c, DB_SPAWN_COMMIT, sb, 8, &l);
	for (i = 0; rc == 0 && i < l.n; i++) {
		if (l.k[i].mv_size != 16) {
			rc = fail_corrupt(c, "spawn index", "entry");
			break;
		}
		id = bc_get_be64((const unsigned char *)l.k[i].mv_data + 8);
		rc = load_spawn(c, id, &s, &held);
		if (rc == 0) {
			s.row.parent_commit_hash = NULL;
			s.commit_seq = 0;
			kv = u64_val(ib, id);
			rc = db_put_rec(c, DB_SPAWNS, &kv, enc_spawn, &s, 0,
					"update a spawn pointer");
			free(held);
		} else if (rc == NOT_FOUND) {
			rc = 0;
		}
		if (rc == 0)
			rc = db_del(c, DB_SPAWN_COMMIT, &l.k[i], "update a spawn pointer");
		if (rc == NOT_FOUND)
			rc = 0;
	}
	keylist_free(&l);
	return rc;
}

/* s: hash. */
int op_commit_delete(tract_backend_conn *c, struct logent *e)
{
	const char *hash = e->s[0];
	struct key hk, tk, ak, pk;
	unsigned char sb[8];
	struct crec r;
	MDB_val kv;
	void *held = NULL;
	uint64_t seq;
	int rc;

	rc = seq_of(c, DB_COMMIT_HASH, hash, &seq);
	if (rc == 0)
		rc = load_commit(c, seq, &r, &held); /* a copy: it outlives the writes */
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "commit not found: %s", hash);
	if (rc < 0)
		return rc;
	rc = commit_in_use(c, hash, seq);
	if (rc == 0)
		rc = delete_own_parents(c, hash, seq);
	if (rc == 0)
		rc = unlink_commits(c, DB_CHILDREN, seq, true);
	if (rc == 0)
		rc = unlink_commits(c, DB_RESPONSES, seq, false);
	if (rc == 0)
		rc = unlink_spawns(c, seq);
	seq_pair(&pk, r.blob_seq, seq);
	if (rc == 0)
		rc = db_del_key(c, DB_BLOB_USERS, &pk, "delete a commit");
	seq_pair(&pk, r.parent_seq, seq);
	if (rc == 0 && r.parent_seq)
		rc = db_del_key(c, DB_CHILDREN, &pk, "delete a commit");
	seq_pair(&pk, r.response_seq, seq);
	if (rc == 0 && r.response_seq)
		rc = db_del_key(c, DB_RESPONSES, &pk, "delete a commit");
	time_keys(&tk, &ak, r.row.tract_id, r.row.created_at, r.row.commit_hash);
	if (rc == 0)
		rc = db_del_key(c, DB_TRACT_TIME, &tk, "delete a commit");
	if (rc == 0)
		rc = db_del_key(c, DB_TIME, &ak, "delete a commit");
	if (rc == 0 && r.row.generation_config_json)
		rc = db_del_key(c, DB_TRACT_CONFIG, &tk, "delete a commit");
	if (rc == 0 && r.row.generation_config_json)
		rc = db_del_key(c, DB_CONFIG, &ak, "delete a commit");
	k_init(&hk);
	k_str(&hk, hash);
	if (rc == 0)
		rc = db_del_key(c, DB_COMMIT_HASH, &hk, "delete a commit");
	kv = u64_val(sb, seq);
	if (rc == 0)
		rc = db_del(c, DB_COMMITS, &kv, "delete a commit");
	if (rc == 0)
		rc = tract_count_add(c, r.row.tract_id, -1);
	free(held);
	return rc == NOT_FOUND ? fail_corrupt(c, "commit", hash) : rc;
}

int lmdb_commit_delete(tract_backend_conn *c, const char *commit_hash)
{
	struct logent e = {.op = OP_COMMIT_DELETE};

	CHECK_ARG(c, commit_hash);
	e.s[0] = commit_hash;
	return run_write(c, &e);
}

/* The batched deletions (ABI version 5): the row-by-row members in a
 * loop (backends/common/deletes.c), which costs LMDB nothing more. */
int lmdb_commits_delete(tract_backend_conn *c, const char *const *hashes, size_t n, size_t *deleted)
{
	CHECK_ARG(c, hashes || n == 0);
	for (size_t k = 0; k < n; k++)
		CHECK_ARG(c, hashes[k] != NULL);
	return bc_commits_delete_each(c, hashes, n, deleted, lmdb_annotation_delete_target,
	                              lmdb_commit_delete);
}

int lmdb_blobs_delete_unused(tract_backend_conn *c, const char *const *hashes, size_t n,
                             size_t *deleted)
{
	CHECK_ARG(c, hashes || n == 0);
	for (size_t k = 0; k < n; k++)
		CHECK_ARG(c, hashes[k] != NULL);
	return bc_blobs_delete_unused_each(c, hashes, n, deleted, lmdb_blob_delete);
}
