/*
 * conformance_search.c - conformance tests of the message-text search
 * index (ABI version 5, OPTIONAL: search_index_open, search_pending,
 * search_index_put, search_query): absent until made; made with every
 * blob queued; the queue follows blob writes and deletions; the query
 * finds indexed text case-insensitively (ASCII) as a superset, through a
 * tract filter, and hands over the commits of queued blobs without text.
 */
#include "conformance_int.h"

struct pend {
	int n;
	int has_payload; /* payloads handed over */
	const char *want;
	int saw_want;
};

static int on_pending(const char *content_hash, const char *payload_json, void *payload)
{
	struct pend *p = payload;

	p->n++;
	if (payload_json)
		p->has_payload++;
	if (p->want && strcmp(content_hash, p->want) == 0)
		p->saw_want = 1;
	return 0;
}

struct cands {
	int n, with_text, queued;
	char hashes[8][65];
};

static int on_candidate(const tract_search_row *r, void *payload)
{
	struct cands *c = payload;

	assert_non_null(r->commit_hash);
	assert_non_null(r->tract_id);
	assert_non_null(r->content_hash);
	assert_non_null(r->content_type);
	if (r->text)
		c->with_text++;
	else
		c->queued++;
	if (c->n < 8)
		snprintf(c->hashes[c->n], 65, "%s", r->commit_hash);
	c->n++;
	return 0;
}

static struct pend pending(struct conf *f, const char *want)
{
	struct pend p = {0, 0, want, 0};

	assert_int_equal(f->be->search_pending(f->c, on_pending, &p), 0);
	return p;
}

static struct cands query(struct conf *f, const char *term, const char *tract)
{
	struct cands c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->search_query(f->c, term, tract, on_candidate, &c), 0);
	commit_txn(f);
	return c;
}

static void test_search_index_lifecycle(void **state)
{
	struct conf *f = STORE(*state);
	const char *b1 = H("b1"), *b2 = H("b2"), *b3 = H("b3");
	struct cands c;
	struct pend p;

	begin_write(f);
	put_blob_at(f, b1, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"Hello\"}",
		    T0);
	put_blob_at(f, b2, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"x\"}", T0);
	put_commit(f, H("c1"), "t", NULL, b1, T0);
	put_commit(f, H("c2"), "t", H("c1"), b2, T0 + 1);
	put_commit(f, H("c3"), "u", NULL, b1, T0 + 2); /* another tract, the same blob */
	commit_txn(f);

	/* No index until one is made; reads make none. */
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->search_index_open(f->c, 0), TRACT_ENOTFOUND);
	p = pending(f, NULL);
	assert_int_equal(p.n, 0);
	assert_int_equal(f->be->search_query(f->c, "hello", NULL, on_candidate, &c),
			 TRACT_ENOTFOUND);
	commit_txn(f);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->search_index_open(f->c, 0), TRACT_ENOTFOUND);
	commit_txn(f);

	/* Made with every blob queued; a rollback unmakes it. */
	begin_write(f);
	assert_int_equal(f->be->search_index_open(f->c, 1), 0);
	assert_int_equal(f->be->rollback(f->c), 0);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->search_index_open(f->c, 0), TRACT_ENOTFOUND);
	commit_txn(f);
	begin_write(f);
	assert_int_equal(f->be->search_index_open(f->c, 1), 0);
	p = pending(f, b1);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.has_payload, 2);
	assert_true(p.saw_want);
	commit_txn(f);

	/* Queued blobs: their commits come without text. */
	c = query(f, "hello", NULL);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.queued, 3);
	c = query(f, "hello", "u");
	assert_int_equal(c.n, 1);
	assert_string_equal(c.hashes[0], H("c3"));

	/* Indexed: found through the index, case-insensitively, in any part. */
	begin_write(f);
	assert_int_equal(f->be->search_index_put(f->c, b1, "Hello"), 0);
	assert_int_equal(f->be->search_index_put(f->c, b2, "x"), 0);
	assert_int_equal(pending(f, NULL).n, 0);
	commit_txn(f);
	c = query(f, "hELLo", NULL);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.with_text, 2);
	c = query(f, "ell", "t");
	assert_int_equal(c.n, 1);
	assert_string_equal(c.hashes[0], H("c1"));
	c = query(f, "zzz", NULL);
	assert_int_equal(c.n, 0);
	/* A put replaces the text. */
	begin_write(f);
	assert_int_equal(f->be->search_index_put(f->c, b1, "Goodbye"), 0);
	commit_txn(f);
	assert_int_equal(query(f, "hello", NULL).n, 0);
	assert_int_equal(query(f, "GOODBYE", NULL).n, 2);

	/* A blob written later is queued; one deleted leaves the index. */
	begin_write(f);
	put_blob_at(f, b3, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"later\"}",
		    T0);
	put_commit(f, H("c4"), "t", H("c2"), b3, T0 + 3);
	p = pending(f, b3);
	assert_int_equal(p.n, 1);
	assert_true(p.saw_want);
	commit_txn(f);
	c = query(f, "later", NULL);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.queued, 1);
	begin_write(f);
	assert_int_equal(f->be->search_index_put(f->c, b3, "later"), 0);
	assert_int_equal(f->be->commit_delete(f->c, H("c4")), 0);
	assert_int_equal(f->be->blob_delete(f->c, b3), 0);
	commit_txn(f);
	assert_int_equal(query(f, "later", NULL).n, 0);
	begin_write(f);
	p = pending(f, NULL);
	if (p.n) { /* a deletion may stay queued, without its payload */
		assert_int_equal(p.has_payload, 0);
		assert_int_equal(f->be->search_index_put(f->c, b3, NULL), 0);
	}
	commit_txn(f);
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_READ), 0);
	assert_int_equal(pending(f, NULL).n, 0);
	commit_txn(f);
}

const struct conf_test tract_conf_search_tests[] = {
	CONF_TEST(test_search_index_lifecycle, CONF_NEEDS_SEARCH | CONF_NEEDS_DELETION),
	{NULL, NULL, 0},
};
