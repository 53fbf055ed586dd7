/*
 * lmdb_codec.c - records as bytes and their place in the store: the record
 * writer and reader, the stored codes of operations and priorities, the
 * encoder and decoder of each record type, and getting, putting and
 * deleting records and seq-keyed entries in the open transaction.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "lmdb_internal.h"

/* ---- records ------------------------------------------------------------------------ */

/* Writes a record, or with p NULL only measures it. */
struct wr {
	unsigned char *p;
	size_t n;
	bool big; /* a string of 4 GiB or more */
};

static void w_bytes(struct wr *w, const void *s, size_t n)
{
	if (w->p)
		memcpy(w->p + w->n, s, n);
	w->n += n;
}

static void w_u8(struct wr *w, unsigned v)
{
	unsigned char b = (unsigned char)v;

	w_bytes(w, &b, 1);
}

static void w_i64(struct wr *w, int64_t v)
{
	w_bytes(w, &v, 8);
}

static void w_u64(struct wr *w, uint64_t v)
{
	w_bytes(w, &v, 8);
}

static void w_str(struct wr *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	uint32_t len = s ? (uint32_t)n : STR_NULL;

	if (s && n >= STR_NULL) {
		w->big = true;
		len = 0;
		n = 0;
	}
	w_bytes(w, &len, 4);
	if (s) {
		w_bytes(w, s, n);
		w_u8(w, 0);
	}
}

/* Reads a record; bad is set at the first inconsistency. */
struct rd {
	const unsigned char *p;
	size_t n, off;
	bool bad;
};

static void rd_init(struct rd *r, const MDB_val *v)
{
	r->p = v->mv_data;
	r->n = v->mv_size;
	r->off = 0;
	r->bad = false;
}

static bool rd_need(struct rd *r, size_t n)
{
	if (r->bad || n > r->n - r->off) {
		r->bad = true;
		return false;
	}
	return true;
}

static unsigned r_u8(struct rd *r)
{
	if (!rd_need(r, 1))
		return 0;
	return r->p[r->off++];
}

static int64_t r_i64(struct rd *r)
{
	int64_t v;

	if (!rd_need(r, 8))
		return 0;
	memcpy(&v, r->p + r->off, 8);
	r->off += 8;
	return v;
}

static uint64_t r_u64(struct rd *r)
{
	return (uint64_t)r_i64(r);
}

static const char *r_str(struct rd *r)
{
	uint32_t len;
	const char *s;

	if (!rd_need(r, 4))
		return NULL;
	memcpy(&len, r->p + r->off, 4);
	r->off += 4;
	if (len == STR_NULL)
		return NULL;
	if (!rd_need(r, (size_t)len + 1) || r->p[r->off + len] != 0) {
		r->bad = true;
		return NULL;
	}
	s = (const char *)r->p + r->off;
	r->off += (size_t)len + 1;
	return s;
}

/* A string that must be there. */
static const char *r_str_nn(struct rd *r)
{
	const char *s = r_str(r);

	if (!s)
		r->bad = true;
	return s;
}

static bool rd_done(struct rd *r)
{
	return !r->bad && r->off == r->n;
}

/* ---- enums -------------------------------------------------------------------------- */

unsigned op_code(tract_operation op)
{
	switch (op) {
	case TRACT_OP_APPEND:
		return 1;
	case TRACT_OP_EDIT:
		return 2;
	default:
		return 0;
	}
}

static tract_operation op_of_code(unsigned code)
{
	switch (code) {
	case 1:
		return TRACT_OP_APPEND;
	case 2:
		return TRACT_OP_EDIT;
	default:
		return TRACT_OP_UNKNOWN;
	}
}

unsigned prio_code(tract_priority p)
{
	switch (p) {
	case TRACT_PRIORITY_SKIP:
		return 1;
	case TRACT_PRIORITY_NORMAL:
		return 2;
	case TRACT_PRIORITY_PINNED:
		return 3;
	default:
		return 0;
	}
}

tract_priority prio_of_code(unsigned code)
{
	switch (code) {
	case 1:
		return TRACT_PRIORITY_SKIP;
	case 2:
		return TRACT_PRIORITY_NORMAL;
	case 3:
		return TRACT_PRIORITY_PINNED;
	default:
		return TRACT_PRIORITY_NONE;
	}
}

/* ---- record types ------------------------------------------------------------------- */

void enc_commit(struct wr *w, const void *arg)
{
	const struct crec *c = arg;

	w_u8(w, REC_VERSION);
	w_u8(w, c->flags);
	w_u8(w, op_code(c->row.operation));
	w_u8(w, 0);
	w_i64(w, c->row.created_at);
	w_i64(w, c->row.token_count);
	w_u64(w, c->parent_seq);
	w_u64(w, c->blob_seq);
	w_u64(w, c->response_seq);
	w_str(w, c->row.commit_hash);
	w_str(w, c->row.tract_id);
	w_str(w, c->row.parent_hash);
	w_str(w, c->row.content_hash);
	w_str(w, c->row.content_type);
	w_str(w, c->row.response_to);
	w_str(w, c->row.message);
	w_str(w, c->row.metadata_json);
	w_str(w, c->row.generation_config_json);
}

bool dec_commit(const MDB_val *v, struct crec *c)
{
	struct rd r;

	rd_init(&r, v);
	if (r_u8(&r) != REC_VERSION)
		return false;
	c->flags = r_u8(&r);
	c->row.operation = op_of_code(r_u8(&r));
	(void)r_u8(&r);
	c->row.created_at = r_i64(&r);
	c->row.token_count = r_i64(&r);
	c->parent_seq = r_u64(&r);
	c->blob_seq = r_u64(&r);
	c->response_seq = r_u64(&r);
	c->row.commit_hash = r_str_nn(&r);
	c->row.tract_id = r_str_nn(&r);
	c->row.parent_hash = r_str(&r);
	c->row.content_hash = r_str_nn(&r);
	c->row.content_type = r_str_nn(&r);
	c->row.response_to = r_str(&r);
	c->row.message = r_str(&r);
	c->row.metadata_json = r_str(&r);
	c->row.generation_config_json = r_str(&r);
	return rd_done(&r);
}

void enc_blob(struct wr *w, const void *arg)
{
	const tract_blob_row *b = arg;

	w_u8(w, REC_VERSION);
	w_i64(w, b->created_at);
	w_i64(w, b->byte_size);
	w_i64(w, b->token_count);
	w_str(w, b->content_hash);
	w_str(w, b->payload_json);
}

bool dec_blob(const MDB_val *v, tract_blob_row *b)
{
	struct rd r;

	rd_init(&r, v);
	if (r_u8(&r) != REC_VERSION)
		return false;
	b->created_at = r_i64(&r);
	b->byte_size = r_i64(&r);
	b->token_count = r_i64(&r);
	b->content_hash = r_str_nn(&r);
	b->payload_json = r_str_nn(&r);
	return rd_done(&r);
}

void enc_annotation(struct wr *w, const void *arg)
{
	const tract_annotation_row *a = arg;

	w_u8(w, REC_VERSION);
	w_u8(w, prio_code(a->priority));
	w_i64(w, a->created_at);
	w_str(w, a->tract_id);
	w_str(w, a->target_hash);
	w_str(w, a->reason);
}

bool dec_annotation(const MDB_val *v, tract_annotation_row *a)
{
	struct rd r;

	rd_init(&r, v);
	if (r_u8(&r) != REC_VERSION)
		return false;
	a->priority = prio_of_code(r_u8(&r));
	a->created_at = r_i64(&r);
	a->tract_id = r_str_nn(&r);
	a->target_hash = r_str_nn(&r);
	a->reason = r_str(&r);
	return rd_done(&r);
}

void enc_compression(struct wr *w, const void *arg)
{
	const tract_compression_row *x = arg;

	w_u8(w, REC_VERSION);
	w_i64(w, x->created_at);
	w_i64(w, x->original_tokens);
	w_i64(w, x->compressed_tokens);
	w_i64(w, x->target_tokens < 0 ? -1 : x->target_tokens);
	w_str(w, x->compression_id);
	w_str(w, x->tract_id);
	w_str(w, x->branch_name);
	w_str(w, x->instructions);
}

bool dec_compression(const MDB_val *v, tract_compression_row *x)
{
	struct rd r;

	rd_init(&r, v);
	if (r_u8(&r) != REC_VERSION)
		return false;
	x->created_at = r_i64(&r);
	x->original_tokens = r_i64(&r);
	x->compressed_tokens = r_i64(&r);
	x->target_tokens = r_i64(&r);
	x->compression_id = r_str_nn(&r);
	x->tract_id = r_str_nn(&r);
	x->branch_name = r_str(&r);
	x->instructions = r_str(&r);
	return rd_done(&r);
}

void enc_spawn(struct wr *w, const void *arg)
{
	const struct srec *s = arg;

	w_u8(w, REC_VERSION);
	w_i64(w, s->row.created_at);
	w_u64(w, s->commit_seq);
	w_str(w, s->row.parent_tract_id);
	w_str(w, s->row.parent_commit_hash);
	w_str(w, s->row.child_tract_id);
	w_str(w, s->row.purpose);
	w_str(w, s->row.inheritance_mode);
	w_str(w, s->row.display_name);
}

bool dec_spawn(const MDB_val *v, struct srec *s)
{
	struct rd r;

	rd_init(&r, v);
	if (r_u8(&r) != REC_VERSION)
		return false;
	s->row.created_at = r_i64(&r);
	s->commit_seq = r_u64(&r);
	s->row.parent_tract_id = r_str_nn(&r);
	s->row.parent_commit_hash = r_str(&r);
	s->row.child_tract_id = r_str_nn(&r);
	s->row.purpose = r_str_nn(&r);
	s->row.inheritance_mode = r_str_nn(&r);
	s->row.display_name = r_str(&r);
	return rd_done(&r);
}

void enc_ref(struct wr *w, const void *arg)
{
	const struct refval *v = arg;

	w_u8(w, v->commit_hash ? 'c' : 's');
	w_str(w, v->commit_hash ? v->commit_hash : v->symbolic_target);
}

bool dec_ref(const MDB_val *v, struct refval *out)
{
	struct rd r;
	unsigned kind;
	const char *s;

	rd_init(&r, v);
	kind = r_u8(&r);
	s = r_str_nn(&r);
	out->commit_hash = kind == 'c' ? s : NULL;
	out->symbolic_target = kind == 's' ? s : NULL;
	return rd_done(&r) && (kind == 'c' || kind == 's');
}

/* A NUL-terminated string value (meta, info). */
bool dec_text(const MDB_val *v, const char **out)
{
	const char *s = v->mv_data;

	if (v->mv_size == 0 || s[v->mv_size - 1] != '\0' || memchr(s, 0, v->mv_size - 1))
		return false;
	*out = s;
	return true;
}

/* Split a key "text\0 <8 bytes> text\0" (parents, comp_members after the side). */
bool split_key(const unsigned char *p, size_t n, const char **a, uint64_t *num, const char **b)
{
	const unsigned char *z = memchr(p, 0, n);
	size_t off;

	if (!z)
		return false;
	off = (size_t)(z - p) + 1;
	if (n - off < 9 || p[n - 1] != 0 || memchr(p + off + 8, 0, n - off - 9))
		return false;
	*a = (const char *)p;
	*num = bc_get_be64(p + off);
	*b = (const char *)p + off + 8;
	return true;
}

/* ---- reading and writing -------------------------------------------------------------- */

/* 0 found, NOT_FOUND, or an error. */
int db_get(tract_backend_conn *c, enum db db, MDB_val *k, MDB_val *v, const char *what)
{
	int rc = mdb_get(c->txn, dbi_of(c, db), k, v);

	if (rc == MDB_NOTFOUND)
		return NOT_FOUND;
	if (rc == 0 && !val_sane(c, v, false))
		return fail_corrupt(c, db_names[db], "(its size runs past the file)");
	return rc ? fail_mdb(c, rc, what) : 0;
}

int db_put(tract_backend_conn *c, enum db db, MDB_val *k, MDB_val *v, unsigned flags,
	   const char *what)
{
	int rc = mdb_put(c->txn, dbi_of(c, db), k, v, flags);

	return rc ? fail_mdb(c, rc, what) : 0;
}

/* An index entry without a value. */
int db_put_key(tract_backend_conn *c, enum db db, const struct key *k, const char *what)
{
	MDB_val kv = k_val(k), v = {0, (void *)""};

	return db_put(c, db, &kv, &v, 0, what);
}

/* 0 deleted, NOT_FOUND, or an error. */
int db_del(tract_backend_conn *c, enum db db, MDB_val *k, const char *what)
{
	int rc = mdb_del(c->txn, dbi_of(c, db), k, NULL);

	if (rc == MDB_NOTFOUND)
		return NOT_FOUND;
	return rc ? fail_mdb(c, rc, what) : 0;
}

int db_del_key(tract_backend_conn *c, enum db db, const struct key *k, const char *what)
{
	MDB_val kv = k_val(k);
	int rc = db_del(c, db, &kv, what);

	return rc == NOT_FOUND ? 0 : rc;
}

/* Store a record, encoded straight into the space LMDB reserves. The
 * arguments must not point into the map (a rewrite encodes from a copy). */
int db_put_rec(tract_backend_conn *c, enum db db, MDB_val *k, enc_fn enc, const void *arg,
	       unsigned flags, const char *what)
{
	struct wr w = {0};
	MDB_val v;
	int rc;

	enc(&w, arg);
	if (w.big)
		return fail(c, TRACT_EINVAL, "lmdb: cannot %s: a text of 4 GiB or more", what);
	v.mv_size = w.n;
	v.mv_data = NULL;
	rc = mdb_put(c->txn, dbi_of(c, db), k, &v, flags | MDB_RESERVE);
	if (rc)
		return fail_mdb(c, rc, what);
	w.p = v.mv_data;
	w.n = 0;
	enc(&w, arg);
	return 0;
}

/*
 * In a write transaction, copy a value out of the map before handing it
 * over: a callback's writes (or the operation's own) may move the page
 * it lies on. *held (NULL in read transactions) is to be freed.
 */
int hold(tract_backend_conn *c, MDB_val *v, void **held)
{
	*held = NULL;
	if (c->kind != TRACT_TXN_WRITE)
		return 0;
	*held = malloc(v->mv_size ? v->mv_size : 1);
	if (!*held)
		return fail_oom(c);
	memcpy(*held, v->mv_data, v->mv_size);
	v->mv_data = *held;
	return 0;
}

/* The seq a hash index gives (NOT_FOUND when absent). */
int seq_of(tract_backend_conn *c, enum db index, const char *hash, uint64_t *seq)
{
	struct key k;
	MDB_val kv, v;
	int rc;

	k_init(&k);
	k_str(&k, hash);
	if (k_over(c, &k))
		return NOT_FOUND; /* longer than any stored key */
	kv = k_val(&k);
	rc = db_get(c, index, &kv, &v, "look up a hash");
	if (rc)
		return rc;
	if (v.mv_size != 8)
		return fail_corrupt(c, "hash index", hash);
	*seq = bc_get_be64(v.mv_data);
	return 0;
}

/* One past the last seq or id of db (1 when empty). */
int next_seq(tract_backend_conn *c, enum db db, uint64_t *out)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(c->txn, dbi_of(c, db), &cur);
	if (rc)
		return fail_mdb(c, rc, "open a cursor");
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND) {
		*out = 1;
		return 0;
	}
	if (rc)
		return fail_mdb(c, rc, "read the last record");
	if (k.mv_size != 8)
		return fail_corrupt(c, db_names[db], "key");
	*out = bc_get_be64(k.mv_data) + 1;
	return 0;
}

/* Does any key of db start with prefix? */
int range_any(tract_backend_conn *c, enum db db, const void *prefix, size_t n, bool *any)
{
	MDB_cursor *cur;
	MDB_val k = {n, (void *)prefix}, v;
	int rc;

	*any = false;
	rc = mdb_cursor_open(c->txn, dbi_of(c, db), &cur);
	if (rc)
		return fail_mdb(c, rc, "open a cursor");
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return fail_mdb(c, rc, "read a range");
	*any = has_prefix(&k, prefix, n);
	return 0;
}
