/*
 * lmdb_walk.c - the chain walk (commit_chain): from a head along the parent
 * seqs with cursors, with each step's payload, priority and merge parents
 * on request. The hot read path of a compile.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "ancestry.h"
#include "lmdb_internal.h"

/*
 * The walk follows parent seqs through a cursor on commits (and one on
 * blobs): a parent written just before its child is one MDB_PREV away,
 * anything else one MDB_SET_KEY. Each record's hash is checked against
 * the parent hash that led to it; a mismatch (a damaged seq) falls back
 * to the hash index. Annotations and merge parents are looked up only
 * for commits flagged as having them.
 */
struct walk {
	tract_backend_conn *c;
	unsigned flags;
	tract_time cutoff;
	MDB_cursor *cc, *bc, *ac, *pc; /* commits, blobs, ann_target, parents */
	uint64_t gen;                  /* of the cursors' transaction */
	uint64_t cpos, bpos;           /* seq under cc and bc, 0: unknown */
	void *held_c, *held_b;         /* copies of the row (write transactions) */
	char *ptext;                   /* merge parents of the row */
	size_t ptext_cap;
	const char **extra;
	size_t extra_cap;
	char expect[KEY_MAX + 1];      /* the hash the next commit must have */
};

static int walk_cursor(struct walk *w, enum db db, MDB_cursor **cur)
{
	int rc;

	if (*cur)
		return 0;
	rc = mdb_cursor_open(w->c->txn, dbi_of(w->c, db), cur);
	if (rc) {
		*cur = NULL;
		return fail_mdb(w->c, rc, "open a cursor");
	}
	return 0;
}

/* After a callback: cursors of a rebuilt transaction are gone, and in a
 * write transaction the next rows are found by seeking, not stepping (the
 * callback may have written). */
static int walk_check(struct walk *w)
{
	if (w->c->kind == TRACT_TXN_WRITE)
		w->cpos = w->bpos = 0;
	if (w->gen == w->c->gen)
		return 0;
	if (!w->c->txn || w->c->kind != TRACT_TXN_WRITE)
		return fail(w->c, TRACT_ESTORAGE,
			    "lmdb: the transaction ended during a chain walk");
	w->cc = w->bc = w->ac = w->pc = NULL; /* LMDB freed them */
	w->cpos = w->bpos = 0;
	w->gen = w->c->gen;
	return 0;
}

static void walk_close(struct walk *w)
{
	if (w->gen == w->c->gen) {
		if (w->cc)
			mdb_cursor_close(w->cc);
		if (w->bc)
			mdb_cursor_close(w->bc);
		if (w->ac)
			mdb_cursor_close(w->ac);
		if (w->pc)
			mdb_cursor_close(w->pc);
	}
	free(w->held_c);
	free(w->held_b);
	free(w->ptext);
	free(w->extra);
}

/* Position cur on seq: 0, NOT_FOUND, or an error. */
static int walk_seek(struct walk *w, MDB_cursor *cur, uint64_t *pos, uint64_t seq, MDB_val *v)
{
	unsigned char sb[8];
	MDB_val k;
	int rc;

	if (*pos && seq + 1 == *pos) {
		rc = mdb_cursor_get(cur, &k, v, MDB_PREV);
		if (rc == 0 && (k.mv_size != 8 || bc_get_be64(k.mv_data) != seq))
			rc = MDB_NOTFOUND;
	} else {
		k = u64_val(sb, seq);
		rc = mdb_cursor_get(cur, &k, v, MDB_SET_KEY);
	}
	*pos = rc == 0 ? seq : 0;
	if (rc == MDB_NOTFOUND)
		return NOT_FOUND;
	if (rc == 0 && (!val_sane(w->c, &k, true) || !val_sane(w->c, v, false)))
		return fail_corrupt(w->c, "commit or blob", "(its size runs past the file)");
	return rc ? fail_mdb(w->c, rc, "read a commit") : 0;
}

/* The commit w->expect names, through seq when known (0: by its hash). */
static int walk_commit(struct walk *w, uint64_t seq, struct crec *r)
{
	bool by_hash = seq == 0;
	MDB_val v;
	int rc;

	for (;;) {
		if (by_hash) {
			rc = seq_of(w->c, DB_COMMIT_HASH, w->expect, &seq);
			if (rc)
				return rc; /* NOT_FOUND: the commit is missing, the walk ends */
		}
		rc = walk_seek(w, w->cc, &w->cpos, seq, &v);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			free(w->held_c);
			rc = hold(w->c, &v, &w->held_c);
			if (rc < 0)
				return rc;
			if (!dec_commit(&v, r))
				return fail_corrupt(w->c, "commit", w->expect);
			if (strcmp(r->row.commit_hash, w->expect) == 0)
				return 0;
		}
		if (by_hash)
			return fail_corrupt(w->c, "commit index entry of", w->expect);
		by_hash = true; /* a stale seq: go by the hash */
	}
}

/* The payload of the row's blob (NULL when the blob is missing). */
static int walk_payload(struct walk *w, const struct crec *r, const char **payload)
{
	uint64_t seq = r->blob_seq;
	bool by_hash = seq == 0;
	tract_blob_row b;
	MDB_val v;
	int rc;

	*payload = NULL;
	rc = walk_cursor(w, DB_BLOBS, &w->bc);
	if (rc < 0)
		return rc;
	for (;;) {
		if (by_hash) {
			rc = seq_of(w->c, DB_BLOB_HASH, r->row.content_hash, &seq);
			if (rc)
				return rc == NOT_FOUND ? 0 : rc;
		}
		rc = walk_seek(w, w->bc, &w->bpos, seq, &v);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			free(w->held_b);
			rc = hold(w->c, &v, &w->held_b);
			if (rc < 0)
				return rc;
			if (!dec_blob(&v, &b))
				return fail_corrupt(w->c, "blob", r->row.content_hash);
			if (strcmp(b.content_hash, r->row.content_hash) == 0) {
				*payload = b.payload_json;
				return 0;
			}
		}
		if (by_hash)
			return fail_corrupt(w->c, "blob index entry of", r->row.content_hash);
		by_hash = true;
	}
}

/* The latest annotation of hash with created_at <= cutoff (ties: greatest id). */
static int walk_priority(struct walk *w, const char *hash, tract_priority *out)
{
	struct key k;
	MDB_val kv, v;
	size_t plen;
	int rc;

	*out = TRACT_PRIORITY_NONE;
	rc = walk_cursor(w, DB_ANN_TARGET, &w->ac);
	if (rc < 0)
		return rc;
	k_init(&k);
	k_str(&k, hash);
	plen = k.n;
	k_u64(&k, signed_bits(w->cutoff));
	k_u64(&k, UINT64_MAX);
	if (k.over)
		return 0;
	kv = k_val(&k);
	rc = mdb_cursor_get(w->ac, &kv, &v, MDB_SET_RANGE);
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(w->ac, &kv, &v, rc == 0 ? MDB_PREV : MDB_LAST);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return fail_mdb(w->c, rc, "read annotations");
	if (has_prefix(&kv, k.b, plen) && kv.mv_size == plen + 16 && v.mv_size == 1)
		*out = prio_of_code(*(const unsigned char *)v.mv_data);
	return 0;
}

/* Merge parents of hash from position min_pos on, in position order. */
static int walk_parents(struct walk *w, const char *hash, uint64_t min_pos,
			const char *const **extra, size_t *n)
{
	struct key pk;
	MDB_val k, v;
	size_t len = 0, count = 0, i, off;
	const char *child, *parent;
	uint64_t pos;
	int rc;

	*extra = NULL;
	*n = 0;
	rc = walk_cursor(w, DB_PARENTS, &w->pc);
	if (rc < 0)
		return rc;
	k_init(&pk);
	k_str(&pk, hash);
	if (pk.over)
		return 0;
	k = k_val(&pk);
	for (rc = mdb_cursor_get(w->pc, &k, &v, MDB_SET_RANGE);
	     rc == 0 && has_prefix(&k, pk.b, pk.n); rc = mdb_cursor_get(w->pc, &k, &v, MDB_NEXT)) {
		if (!split_key(k.mv_data, k.mv_size, &child, &pos, &parent))
			return fail_corrupt(w->c, "merge parent", hash);
		if (pos < min_pos)
			continue;
		off = strlen(parent) + 1;
		if (len + off > w->ptext_cap) {
			size_t cap = (len + off) * 2;
			char *p = realloc(w->ptext, cap);

			if (!p)
				return fail_oom(w->c);
			w->ptext = p;
			w->ptext_cap = cap;
		}
		memcpy(w->ptext + len, parent, off);
		len += off;
		count++;
	}
	if (rc && rc != MDB_NOTFOUND)
		return fail_mdb(w->c, rc, "read merge parents");
	if (count > w->extra_cap) {
		const char **p = realloc(w->extra, count * sizeof(*p));

		if (!p)
			return fail_oom(w->c);
		w->extra = p;
		w->extra_cap = count;
	}
	for (i = 0, off = 0; i < count; i++) {
		w->extra[i] = w->ptext + off;
		off += strlen(w->ptext + off) + 1;
	}
	*extra = w->extra;
	*n = count;
	return 0;
}

static int chain_walk(tract_backend_conn *c, const char *tract, const char *head, size_t limit,
		      unsigned flags, tract_time cutoff, tract_chain_cb cb, void *payload)
{
	struct walk w = {.c = c, .flags = flags, .cutoff = cutoff, .gen = c->gen};
	char next[KEY_MAX + 1];
	tract_chain_row row;
	struct crec r;
	uint64_t seq = 0, steps = 0, max_steps;
	MDB_stat st;
	int rc;

	if (strlen(head) >= sizeof(w.expect))
		return 0;
	strcpy(w.expect, head);
	rc = mdb_stat(c->txn, dbi_of(c, DB_COMMITS), &st);
	if (rc)
		return fail_mdb(c, rc, "read the commits");
	/* Without a limit, a damaged parent cycle still ends. */
	max_steps = st.ms_entries;
	if (limit && limit < max_steps)
		max_steps = limit;
	rc = walk_cursor(&w, DB_COMMITS, &w.cc);
	while (rc == 0 && steps < max_steps) {
		rc = walk_commit(&w, seq, &r);
		if (rc)
			break;
		if (tract && strcmp(r.row.tract_id, tract) != 0)
			break;
		memset(&row, 0, sizeof(row));
		row.commit = r.row;
		row.priority = TRACT_PRIORITY_NONE;
		if (flags & TRACT_CHAIN_PAYLOAD)
			rc = walk_payload(&w, &r, &row.payload_json);
		if (rc == 0 && (flags & TRACT_CHAIN_PRIORITY) && (r.flags & CF_ANNOTATED))
			rc = walk_priority(&w, r.row.commit_hash, &row.priority);
		if (rc == 0 && (flags & TRACT_CHAIN_PARENTS) && (r.flags & CF_MERGE))
			rc = walk_parents(&w, r.row.commit_hash, 1, &row.extra_parents,
					  &row.n_extra_parents);
		if (rc < 0)
			break;
		/* What leads on, copied: the callback may write. */
		next[0] = '\0';
		if (r.row.parent_hash && strlen(r.row.parent_hash) < sizeof(next))
			strcpy(next, r.row.parent_hash);
		seq = r.parent_seq;
		steps++;
		rc = cb(&row, payload);
		if (rc != 0) {
			rc = rc < 0 ? rc : 0;
			break;
		}
		if (!next[0])
			break;
		strcpy(w.expect, next);
		rc = walk_check(&w);
		if (rc == 0 && !w.cc)
			rc = walk_cursor(&w, DB_COMMITS, &w.cc);
	}
	walk_close(&w);
	return rc == NOT_FOUND ? 0 : rc;
}

int lmdb_commit_chain(tract_backend_conn *c, const char *tract_id, const char *head, size_t limit,
		      unsigned flags, tract_time annotation_cutoff, tract_chain_cb cb,
		      void *payload)
{
	CHECK_ARG(c, head && cb);
	READ_OP(c, chain_walk(c, tract_id, head, limit, flags, annotation_cutoff, cb, payload));
}

/* ---- ancestry walk -------------------------------------------------------- */

/* One step of commit_ancestry (the shared breadth-first walk): the commit
 * by its hash through the walk's cursors, its merge parents when flagged. */
static int anc_fetch(void *ctx, const char *tract, const char *hash,
		     struct bc_ancestry_node *node)
{
	struct walk *w = ctx;
	struct crec r;
	int rc;

	rc = walk_check(w);
	if (rc == 0 && !w->cc)
		rc = walk_cursor(w, DB_COMMITS, &w->cc);
	if (rc < 0)
		return rc;
	if (strlen(hash) >= sizeof(w->expect))
		return 1;
	strcpy(w->expect, hash);
	rc = walk_commit(w, 0, &r);
	if (rc == NOT_FOUND)
		return 1;
	if (rc < 0)
		return rc;
	if (tract && strcmp(r.row.tract_id, tract) != 0)
		return 1;
	node->created_at = r.row.created_at;
	node->parent_hash = r.row.parent_hash;
	node->rows = NULL;
	node->n_rows = 0;
	if (r.flags & CF_MERGE)
		rc = walk_parents(w, hash, 0, &node->rows, &node->n_rows);
	return rc;
}

static int ancestry_walk(tract_backend_conn *c, const char *tract, const char *const *starts,
			 size_t n_starts, size_t limit, tract_ancestry_cb cb, void *payload)
{
	struct walk w = {.c = c, .gen = c->gen};
	int rc = bc_ancestry_walk(&w, tract, starts, n_starts, limit, anc_fetch, cb, payload);

	walk_close(&w);
	if (rc == TRACT_ENOMEM)
		return fail_oom(c);
	return rc;
}

int lmdb_commit_ancestry(tract_backend_conn *c, const char *tract_id, const char *const *starts,
			 size_t n_starts, size_t limit, tract_ancestry_cb cb, void *payload)
{
	CHECK_ARG(c, (starts || !n_starts) && cb);
	READ_OP(c, ancestry_walk(c, tract_id, starts, n_starts, limit, cb, payload));
}
