/*
 * lmdb_search.c - the message-text search index (ABI version 5): an
 * inverted index of byte trigrams (ASCII letters lowered) over each
 * blob's message text (the core extracts it), in three sub-databases:
 *
 *   search_info   name\0                 -> "made" | mark: bseq, hash\0
 *   search_text   bseq                   -> text\0
 *   search_tri    trigram(3) bseq        -> (empty)
 *
 * Only tract writes LMDB stores, so no trigger is needed: the blobs the
 * index lacks are those above the mark (the greatest bseq indexed; blob
 * seqs grow). A seq is reused only after the newest blob was deleted:
 * this backend's blob_delete takes the blob out of the index and lowers
 * the mark; a store written since by a tract without the index (an older
 * tract) is caught by the hash recorded with the mark, and then every blob
 * counts as queued until the index is brought up to date again. A search
 * finds the candidates of a term of 3 bytes or more by intersecting its
 * trigrams' postings (a leapfrog over cursors); a shorter term reads the
 * indexed text, not the blobs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmdb_internal.h"

#define MADE_KEY "made"
#define MARK_KEY "mark"
/* Trigrams of a term intersected at most (the core checks each candidate). */
#define MAX_TRI 16

static unsigned char fold(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch + 32) : ch;
}

static int info_get(tract_backend_conn *c, const char *name, MDB_val *v)
{
	MDB_val k = {strlen(name) + 1, (void *)name};

	return db_get(c, DB_SEARCH_INFO, &k, v, "read the search index");
}

static int info_put(tract_backend_conn *c, const char *name, const void *val, size_t n)
{
	MDB_val k = {strlen(name) + 1, (void *)name}, v = {n, (void *)val};

	return db_put(c, DB_SEARCH_INFO, &k, &v, 0, "write the search index");
}

/* 1 when the index was made, 0 when not. */
static int is_made(tract_backend_conn *c)
{
	MDB_val v;
	int rc = info_get(c, MADE_KEY, &v);

	return rc == NOT_FOUND ? 0 : rc < 0 ? rc : 1;
}

/* The mark: *seq 0 when nothing is indexed. hash gets its blob's hash. */
static int mark_get(tract_backend_conn *c, uint64_t *seq, char hash[80])
{
	MDB_val v;
	int rc = info_get(c, MARK_KEY, &v);

	*seq = 0;
	hash[0] = '\0';
	if (rc == NOT_FOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (v.mv_size < 9 || v.mv_size > 8 + 79 || ((const char *)v.mv_data)[v.mv_size - 1])
		return fail_corrupt(c, "search index", "mark");
	*seq = bc_get_be64(v.mv_data);
	memcpy(hash, (const char *)v.mv_data + 8, v.mv_size - 8);
	return 0;
}

static int mark_put(tract_backend_conn *c, uint64_t seq, const char *hash)
{
	unsigned char buf[8 + 80];
	size_t n = strlen(hash) + 1;

	if (n > 80)
		return fail(c, TRACT_EINVAL, "lmdb: content hash too long");
	bc_put_be64(buf, seq);
	memcpy(buf + 8, hash, n);
	return info_put(c, MARK_KEY, buf, 8 + n);
}

/* The hash of the blob under seq into out; NOT_FOUND when none. */
static int blob_hash_at(tract_backend_conn *c, uint64_t seq, char out[80])
{
	unsigned char sb[8];
	MDB_val k = u64_val(sb, seq), v;
	tract_blob_row b;
	int rc = db_get(c, DB_BLOBS, &k, &v, "read a blob");

	if (rc)
		return rc;
	if (!dec_blob(&v, &b))
		return fail_corrupt(c, "blob", NULL);
	snprintf(out, 80, "%s", b.content_hash);
	return 0;
}

/*
 * The mark, checked: 0 when the blob it names is no longer there (a
 * writer without the index deleted it and may have reused its seq): then
 * nothing of the index is trusted and every blob counts as queued.
 */
static int mark_checked(tract_backend_conn *c, uint64_t *seq)
{
	char hash[80], now[80];
	int rc = mark_get(c, seq, hash);

	if (rc < 0 || *seq == 0)
		return rc;
	rc = blob_hash_at(c, *seq, now);
	if (rc < 0)
		return rc;
	if (rc == NOT_FOUND || strcmp(now, hash) != 0)
		*seq = 0;
	return 0;
}

/* Put (del false) or delete the trigram keys of text under seq. */
static int trigrams(tract_backend_conn *c, const char *text, uint64_t seq, bool del)
{
	size_t n = strlen(text), i;
	unsigned char kb[11];
	MDB_val k = {11, kb}, v = {0, (void *)""};
	int rc;

	bc_put_be64(kb + 3, seq);
	for (i = 0; i + 3 <= n; i++) {
		kb[0] = fold((unsigned char)text[i]);
		kb[1] = fold((unsigned char)text[i + 1]);
		kb[2] = fold((unsigned char)text[i + 2]);
		if (del) {
			rc = db_del(c, DB_SEARCH_TRI, &k, "update the search index");
			if (rc == NOT_FOUND)
				rc = 0;
		} else {
			rc = db_put(c, DB_SEARCH_TRI, &k, &v, 0, "update the search index");
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Take seq's text and trigrams out of the index. */
static int drop_text(tract_backend_conn *c, uint64_t seq)
{
	unsigned char sb[8];
	MDB_val k = u64_val(sb, seq), v;
	char *old;
	int rc = db_get(c, DB_SEARCH_TEXT, &k, &v, "read the search index");

	if (rc == NOT_FOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (!v.mv_size || ((const char *)v.mv_data)[v.mv_size - 1])
		return fail_corrupt(c, "search index", "text");
	old = malloc(v.mv_size);
	if (!old)
		return fail_oom(c);
	memcpy(old, v.mv_data, v.mv_size);
	rc = trigrams(c, old, seq, true);
	free(old);
	if (rc == 0) {
		k = u64_val(sb, seq);
		rc = db_del(c, DB_SEARCH_TEXT, &k, "update the search index");
		if (rc == NOT_FOUND)
			rc = 0;
	}
	return rc;
}

/* s: none. */
int op_search_open(tract_backend_conn *c, struct logent *e)
{
	int rc = is_made(c);

	(void)e;
	if (rc != 0)
		return rc < 0 ? rc : 0;
	rc = info_put(c, MADE_KEY, "1", 2);
	return rc < 0 ? rc : mark_put(c, 0, "");
}

int lmdb_search_index_open(tract_backend_conn *c, int create)
{
	struct logent e = {.op = OP_SEARCH_OPEN};
	bool own;
	int rc;

	CHECK_CONN(c);
	rc = enter(c, TRACT_TXN_READ, &own);
	if (rc < 0)
		return rc;
	rc = leave(c, own, is_made(c));
	if (rc < 0)
		return rc;
	if (rc == 1)
		return 0;
	if (!create)
		return fail(c, TRACT_ENOTFOUND, "lmdb: no search index in this store");
	if (!c->in_txn || c->kind != TRACT_TXN_WRITE)
		return fail(c, TRACT_EINVAL, "lmdb: search_index_open outside a write transaction");
	return run_write(c, &e);
}

static int pending(tract_backend_conn *c, tract_search_pending_cb cb, void *payload)
{
	unsigned char sb[8];
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	tract_blob_row b;
	uint64_t mark;
	int rc = is_made(c), mrc;

	if (rc <= 0)
		return rc;
	rc = mark_checked(c, &mark);
	if (rc < 0)
		return rc;
	rc = mdb_cursor_open(c->txn, dbi_of(c, DB_BLOBS), &cur);
	if (rc)
		return fail_mdb(c, rc, "read the search queue");
	k = u64_val(sb, mark + 1);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (!dec_blob(&v, &b)) {
			rc = fail_corrupt(c, "blob", NULL);
			break;
		}
		rc = cb(b.content_hash, b.payload_json, payload);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
		return fail_mdb(c, mrc, "read the search queue");
	return rc < 0 ? rc : 0;
}

int lmdb_search_pending(tract_backend_conn *c, tract_search_pending_cb cb, void *payload)
{
	CHECK_ARG(c, cb);
	READ_OP(c, pending(c, cb, payload));
}

/* s: content hash, text (NULL: remove). */
int op_search_put(tract_backend_conn *c, struct logent *e)
{
	const char *hash = e->s[0], *text = e->s[1];
	unsigned char sb[8];
	uint64_t seq, mark;
	MDB_val k, v;
	int rc = is_made(c);

	if (rc == 0)
		return fail(c, TRACT_ENOTFOUND, "lmdb: no search index in this store");
	if (rc < 0)
		return rc;
	rc = seq_of(c, DB_BLOB_HASH, hash, &seq);
	if (rc == NOT_FOUND)
		return 0; /* the blob is gone: nothing of it is indexed */
	if (rc < 0)
		return rc;
	rc = drop_text(c, seq);
	if (rc < 0 || !text)
		return rc;
	k = u64_val(sb, seq);
	v.mv_size = strlen(text) + 1;
	v.mv_data = (void *)text;
	rc = db_put(c, DB_SEARCH_TEXT, &k, &v, 0, "update the search index");
	if (rc == 0)
		rc = trigrams(c, text, seq, false);
	if (rc == 0)
		rc = mark_checked(c, &mark);
	if (rc == 0 && seq > mark)
		rc = mark_put(c, seq, hash);
	return rc;
}

int lmdb_search_index_put(tract_backend_conn *c, const char *content_hash, const char *text)
{
	struct logent e = {.op = OP_SEARCH_PUT};

	CHECK_ARG(c, content_hash);
	e.s[0] = content_hash;
	e.s[1] = text;
	return run_write(c, &e);
}

/* blob_delete's part (in its write): the blob under seq leaves the index,
 * and a mark naming it moves down to the blob before it. */
int search_forget(tract_backend_conn *c, uint64_t seq)
{
	unsigned char sb[8];
	char mh[80];
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	tract_blob_row b;
	uint64_t mark, prev = 0;
	char prev_hash[80] = "";
	int rc = is_made(c), mrc;

	if (rc <= 0)
		return rc;
	rc = drop_text(c, seq);
	if (rc == 0)
		rc = mark_get(c, &mark, mh);
	if (rc < 0 || mark != seq)
		return rc;
	rc = mdb_cursor_open(c->txn, dbi_of(c, DB_BLOBS), &cur);
	if (rc)
		return fail_mdb(c, rc, "update the search index");
	k = u64_val(sb, seq);
	mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	mrc = mrc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
		       : mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (mrc == 0 && k.mv_size == 8 && bc_get_be64(k.mv_data) < seq) {
		if (!dec_blob(&v, &b)) {
			mdb_cursor_close(cur);
			return fail_corrupt(c, "blob", NULL);
		}
		prev = bc_get_be64(k.mv_data);
		snprintf(prev_hash, sizeof(prev_hash), "%s", b.content_hash);
	}
	mdb_cursor_close(cur);
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		return fail_mdb(c, mrc, "update the search index");
	return mark_put(c, prev, prev_hash);
}

/* ---- queries ------------------------------------------------------------------- */

struct q {
	uint64_t mark; /* the index is trusted up to this bseq */
	const char *tract_id;
	tract_search_cb cb;
	void *payload;
};

/* Hand over every commit of the blob under bseq, with text (NULL: queued). */
static int emit_users(tract_backend_conn *c, uint64_t bseq, const char *text, const struct q *q)
{
	unsigned char pre[8];
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc = 0, mrc;

	bc_put_be64(pre, bseq);
	mrc = mdb_cursor_open(c->txn, dbi_of(c, DB_BLOB_USERS), &cur);
	if (mrc)
		return fail_mdb(c, mrc, "search");
	k.mv_size = 8;
	k.mv_data = pre;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     mrc == 0 && has_prefix(&k, pre, 8) && rc == 0;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct crec cr;
		tract_search_row r;
		void *held = NULL;

		if (k.mv_size != 16) {
			rc = fail_corrupt(c, "blob users", NULL);
			break;
		}
		rc = load_commit(c, bc_get_be64((const unsigned char *)k.mv_data + 8), &cr, &held);
		if (rc == NOT_FOUND) {
			rc = fail_corrupt(c, "blob users", "a commit");
			break;
		}
		if (rc < 0)
			break;
		if (!q->tract_id || strcmp(q->tract_id, cr.row.tract_id) == 0) {
			memset(&r, 0, sizeof(r));
			r.commit_hash = cr.row.commit_hash;
			r.tract_id = cr.row.tract_id;
			r.content_hash = cr.row.content_hash;
			r.content_type = cr.row.content_type;
			r.created_at = cr.row.created_at;
			r.text = text;
			rc = q->cb(&r, q->payload);
		}
		free(held);
	}
	mdb_cursor_close(cur);
	if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
		return fail_mdb(c, mrc, "search");
	return rc;
}

static int emit_indexed(tract_backend_conn *c, uint64_t bseq, const struct q *q)
{
	unsigned char sb[8];
	MDB_val k = u64_val(sb, bseq), v;
	int rc;

	if (bseq > q->mark)
		return 0; /* queued: handed over without text */
	rc = db_get(c, DB_SEARCH_TEXT, &k, &v, "search");

	if (rc == NOT_FOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (!v.mv_size || ((const char *)v.mv_data)[v.mv_size - 1])
		return fail_corrupt(c, "search index", "text");
	return emit_users(c, bseq, v.mv_data, q);
}

/* ASCII-folded substring test (term already folded). */
static bool contains(const char *text, size_t n, const char *term, size_t tn)
{
	size_t i, j;

	for (i = 0; i + tn <= n; i++) {
		for (j = 0; j < tn && fold((unsigned char)text[i + j]) == (unsigned char)term[j]; j++)
			;
		if (j == tn)
			return true;
	}
	return false;
}

/* A short term: every indexed text is read and tested. */
static int scan_texts(tract_backend_conn *c, const char *term, const struct q *q)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t tn = strlen(term);
	int rc = 0, mrc;

	mrc = mdb_cursor_open(c->txn, dbi_of(c, DB_SEARCH_TEXT), &cur);
	if (mrc)
		return fail_mdb(c, mrc, "search");
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == 0;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || !v.mv_size || ((const char *)v.mv_data)[v.mv_size - 1]) {
			rc = fail_corrupt(c, "search index", "text");
			break;
		}
		if (bc_get_be64(k.mv_data) <= q->mark &&
		    contains(v.mv_data, v.mv_size - 1, term, tn))
			rc = emit_users(c, bc_get_be64(k.mv_data), v.mv_data, q);
	}
	mdb_cursor_close(cur);
	if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
		return fail_mdb(c, mrc, "search");
	return rc;
}

/* The blobs whose postings hold every trigram of the term (leapfrog). */
static int intersect(tract_backend_conn *c, const char *term, const struct q *q)
{
	MDB_cursor *cur[MAX_TRI] = {0};
	unsigned char tri[MAX_TRI][3], kb[11];
	size_t tn = strlen(term), nt = 0, i, agree;
	uint64_t at = 0, s;
	MDB_val k, v;
	int rc = 0, mrc = 0;

	/* Every trigram of the term, or MAX_TRI of them spread over it
	 * (first and last included). */
	if (tn - 2 <= MAX_TRI) {
		for (i = 0; i + 3 <= tn; i++)
			memcpy(tri[nt++], term + i, 3);
	} else {
		for (i = 0; i < MAX_TRI; i++)
			memcpy(tri[nt++], term + i * (tn - 3) / (MAX_TRI - 1), 3);
	}
	for (i = 0; i < nt; i++) {
		mrc = mdb_cursor_open(c->txn, dbi_of(c, DB_SEARCH_TRI), &cur[i]);
		if (mrc) {
			rc = fail_mdb(c, mrc, "search");
			goto done;
		}
	}
	for (;;) {
		for (agree = 0, i = 0; agree < nt; i = (i + 1) % nt) {
			memcpy(kb, tri[i], 3);
			bc_put_be64(kb + 3, at);
			k.mv_size = 11;
			k.mv_data = kb;
			mrc = mdb_cursor_get(cur[i], &k, &v, MDB_SET_RANGE);
			if (mrc == MDB_NOTFOUND || (mrc == 0 && !has_prefix(&k, tri[i], 3)))
				goto done;
			if (mrc) {
				rc = fail_mdb(c, mrc, "search");
				goto done;
			}
			if (k.mv_size != 11) {
				rc = fail_corrupt(c, "search index", "trigram");
				goto done;
			}
			s = bc_get_be64((const unsigned char *)k.mv_data + 3);
			if (s != at) {
				at = s;
				agree = 1;
			} else {
				agree++;
			}
		}
		rc = emit_indexed(c, at, q);
		if (rc != 0 || at == UINT64_MAX)
			break;
		at++;
	}
done:
	for (i = 0; i < nt; i++)
		if (cur[i])
			mdb_cursor_close(cur[i]);
	return rc;
}

static int query(tract_backend_conn *c, const char *term, struct q *q)
{
	unsigned char sb[8];
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint64_t mark;
	char *folded;
	size_t i, n = strlen(term);
	int rc = is_made(c), mrc;

	if (rc == 0)
		return fail(c, TRACT_ENOTFOUND, "lmdb: no search index in this store");
	if (rc < 0)
		return rc;
	rc = mark_checked(c, &mark);
	if (rc < 0)
		return rc;
	q->mark = mark;
	if (mark > 0) {
		folded = malloc(n + 1);
		if (!folded)
			return fail_oom(c);
		for (i = 0; i <= n; i++)
			folded[i] = (char)fold((unsigned char)term[i]);
		rc = n < 3 ? scan_texts(c, folded, q) : intersect(c, folded, q);
		free(folded);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	/* The queued blobs: those above the mark. */
	mrc = mdb_cursor_open(c->txn, dbi_of(c, DB_BLOBS), &cur);
	if (mrc)
		return fail_mdb(c, mrc, "search");
	k = u64_val(sb, mark + 1);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && rc == 0;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			rc = fail_corrupt(c, "blob", NULL);
			break;
		}
		rc = emit_users(c, bc_get_be64(k.mv_data), NULL, q);
	}
	mdb_cursor_close(cur);
	if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
		return fail_mdb(c, mrc, "search");
	return rc < 0 ? rc : 0;
}

int lmdb_search_query(tract_backend_conn *c, const char *term, const char *tract_id,
		      tract_search_cb cb, void *payload)
{
	struct q q = {0, tract_id, cb, payload};

	CHECK_ARG(c, term && *term && cb);
	READ_OP(c, query(c, term, &q));
}
