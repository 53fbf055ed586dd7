/*
 * query.c - cross-tract queries over a whole store: timeline and search
 * of message text (include/tract/query.h, spec/agents.md §6.7 with
 * DECISIONS.md). Model layer: backend rows and the content layer's
 * message text; no compile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"
#include "row.h"
#include "walk.h"

/* ---- options ----------------------------------------------------------- */

int tract_timeline_options_init(tract_timeline_options *opts, unsigned int version)
{
	tract_timeline_options defaults = TRACT_TIMELINE_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_timeline_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_TIMELINE_OPTIONS_VERSION,
				"tract_timeline_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

int tract_search_options_init(tract_search_options *opts, unsigned int version)
{
	tract_search_options defaults = TRACT_SEARCH_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_search_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_SEARCH_OPTIONS_VERSION, "tract_search_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

/* The filters both queries share. */
typedef struct {
	const char *content_type;
	tract_time since, until;
	char **on_branch; /* sorted hashes reachable from the branch, or NULL */
	size_t n_branch;
	int branch_set;
} row_filter;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int filter_pass(const row_filter *f, const tract_commit_row *r)
{
	const char *h = r->commit_hash;

	if (f->content_type && strcmp(f->content_type, r->content_type) != 0)
		return 0;
	if (f->since != TRACT_TIME_NONE && r->created_at < f->since)
		return 0;
	if (f->until != TRACT_TIME_NONE && r->created_at >= f->until)
		return 0;
	if (f->branch_set &&
	    !(f->n_branch && bsearch(&h, f->on_branch, f->n_branch, sizeof(char *), cmp_str)))
		return 0;
	return 1;
}

static int check_text(const char *s, const char *what)
{
	if (s && (!*s || !tract_utf8_valid(s, strlen(s))))
		return tract_error_set(TRACT_EINVAL, "%s must be non-empty UTF-8 text", what);
	return 0;
}

static int check_filters(const char *tract_id, const char *content_type, const char *fn)
{
	if (tract_id && (strlen(tract_id) > TRACT_ID_MAXLEN || check_text(tract_id, "tract id")))
		return tract_error_set(TRACT_EINVAL, "%s: invalid tract id", fn);
	if (check_text(content_type, "content type"))
		return TRACT_EINVAL;
	return 0;
}

/* ---- timeline ----------------------------------------------------------- */

typedef struct {
	row_filter f;
	size_t limit, seen;
	int content;
	tract_store *store;
	char *blob; /* the blob just read (content) */
	tract_log_cb cb;
	void *payload;
	int cb_rc;
	char cb_msg[256];
} timeline_walk;

static int keep_payload(const tract_blob_row *row, void *payload)
{
	char **dst = payload;

	*dst = strdup(row->payload_json);
	return *dst ? 0 : TRACT_ENOMEM;
}

static int timeline_row(const tract_commit_row *row, void *payload)
{
	timeline_walk *w = payload;
	tract_commit *c;
	tract_row r;
	int rc;

	if (!filter_pass(&w->f, row))
		return 0;
	if (w->content) {
		tract_chain_row cr;

		free(w->blob);
		w->blob = NULL;
		rc = w->store->be->blob_get(w->store->conn, row->content_hash, keep_payload,
					    &w->blob);
		if (rc < 0 && rc != TRACT_ENOTFOUND)
			return rc;
		memset(&cr, 0, sizeof(cr));
		cr.commit = *row;
		cr.payload_json = w->blob;
		if (tract_row_copy_chain(&r, &cr) < 0)
			return TRACT_ENOMEM;
	} else if (tract_row_copy(&r, row) < 0) {
		return TRACT_ENOMEM;
	}
	c = tract_commit_from_row(&r);
	if (!c)
		return TRACT_ENOMEM;
	rc = w->cb(c, w->payload);
	tract_commit_free(c);
	if (rc < 0) {
		w->cb_rc = rc;
		snprintf(w->cb_msg, sizeof(w->cb_msg), "%s", tract_error_last()->message);
		return rc;
	}
	if (rc > 0)
		return rc;
	if (w->limit && ++w->seen >= w->limit)
		return 1;
	return 0;
}

int tract_timeline_foreach(tract_store *store, const tract_timeline_options *opts,
			   tract_log_cb cb, void *payload)
{
	tract_timeline_options defaults = TRACT_TIMELINE_OPTIONS_INIT;
	timeline_walk w;
	int rc;

	if (!store || !cb)
		return tract_error_set(TRACT_EINVAL, "tract_timeline_foreach: NULL argument");
	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_TIMELINE_OPTIONS_VERSION,
				"tract_timeline_options") < 0)
		return TRACT_EINVAL;
	if (check_filters(opts->tract_id, opts->content_type, "tract_timeline_foreach"))
		return TRACT_EINVAL;
	memset(&w, 0, sizeof(w));
	w.f.content_type = opts->content_type;
	w.f.since = opts->since;
	w.f.until = opts->until;
	w.limit = opts->limit;
	w.content = opts->content;
	w.store = store;
	w.cb = cb;
	w.payload = payload;
	rc = tract_txn_begin(store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = store->be->commit_foreach(store->conn, opts->tract_id, timeline_row, &w);
	free(w.blob);
	if (w.cb_rc)
		rc = tract_error_set(w.cb_rc, "%s", w.cb_msg);
	else if (rc < 0)
		rc = tract_backend_error(store, rc, "read the timeline");
	return tract_txn_end(store, rc);
}

typedef struct {
	tract_commit_list *list;
	size_t cap;
} list_fill;

static int timeline_list_cb(const tract_commit *c, void *payload)
{
	list_fill *lf = payload;
	tract_chain_row cr;
	tract_commit_row row;
	tract_row r;

	memset(&cr, 0, sizeof(cr));
	memset(&row, 0, sizeof(row));
	row.commit_hash = tract_commit_hash(c);
	row.tract_id = tract_commit_tract_id(c);
	row.parent_hash = tract_commit_parent(c);
	row.content_hash = tract_commit_content_hash(c);
	row.content_type = tract_commit_content_type(c);
	row.operation = tract_commit_operation(c);
	row.response_to = tract_commit_response_to(c);
	row.message = tract_commit_message(c);
	row.token_count = tract_commit_token_count(c);
	row.metadata_json = tract_commit_metadata(c);
	row.generation_config_json = tract_commit_generation_config(c);
	row.created_at = tract_commit_time(c);
	cr.commit = row;
	cr.payload_json = tract_commit_content(c);
	if (tract_row_copy_chain(&r, &cr) < 0 || tract_commit_list_push(lf->list, &lf->cap, &r) < 0)
		return tract_error_oom();
	return 0;
}

int tract_timeline_list(tract_commit_list **out, tract_store *store,
			const tract_timeline_options *opts)
{
	list_fill lf;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_timeline_list: out is NULL");
	*out = NULL;
	memset(&lf, 0, sizeof(lf));
	lf.list = calloc(1, sizeof(*lf.list));
	if (!lf.list)
		return tract_error_oom();
	rc = tract_timeline_foreach(store, opts, timeline_list_cb, &lf);
	if (rc < 0) {
		tract_commit_list_free(lf.list);
		return rc;
	}
	*out = lf.list;
	return 0;
}

/* ---- search ------------------------------------------------------------- */

typedef struct {
	row_filter f;
	const char *term; /* ASCII letters lowered */
	size_t term_len;
	size_t ctx;
	size_t limit;
	tract_store *store;
	tract_search_list *list;
	size_t cap;
	char *payload; /* the blob just read */
	size_t payload_len;
	int fail;
} search_walk;

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Byte offset of the first match of w->term in text, or -1. */
static long find_term(const char *text, size_t len, const char *term, size_t tlen)
{
	const unsigned char *t = (const unsigned char *)text;
	unsigned char first = (unsigned char)term[0];
	size_t i, j;

	if (tlen > len)
		return -1;
	for (i = 0; i + tlen <= len; i++) {
		if (lower(t[i]) != first)
			continue;
		for (j = 1; j < tlen && lower(t[i + j]) == (unsigned char)term[j]; j++)
			;
		if (j == tlen)
			return (long)i;
	}
	return -1;
}

static int is_cont(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

/* The text around [at, at + mlen) with ctx code points each side. */
static char *make_snippet(const char *text, size_t len, size_t at, size_t mlen, size_t ctx)
{
	size_t a = at, b = at + mlen, n, i, k, o = 0;
	int cut_a, cut_b;
	char *s;

	for (n = 0; a > 0 && n < ctx; n++) {
		a--;
		while (a > 0 && is_cont((unsigned char)text[a]))
			a--;
	}
	for (n = 0; b < len && n < ctx; n++) {
		b++;
		while (b < len && is_cont((unsigned char)text[b]))
			b++;
	}
	cut_a = a > 0;
	cut_b = b < len;
	s = malloc(b - a + 7);
	if (!s)
		return NULL;
	if (cut_a) {
		memcpy(s, "\xe2\x80\xa6", 3);
		o = 3;
	}
	for (i = a; i < b; i++) {
		unsigned char c = (unsigned char)text[i];
		s[o++] = (c == '\n' || c == '\r' || c == '\t' || c == 0) ? ' ' : (char)c;
	}
	if (cut_b) {
		for (k = 0; k < 3; k++)
			s[o++] = "\xe2\x80\xa6"[k];
	}
	s[o] = '\0';
	return s;
}

static int blob_keep(const tract_blob_row *row, void *payload)
{
	search_walk *w = payload;
	size_t n = strlen(row->payload_json);

	free(w->payload);
	w->payload = malloc(n + 1);
	if (!w->payload)
		return TRACT_ENOMEM;
	memcpy(w->payload, row->payload_json, n + 1);
	w->payload_len = n;
	return 0;
}

/* The message text a payload compiles to, into parts. */
static int message_of(tract_message_parts *parts, const char *payload, size_t len)
{
	cJSON *j;
	int rc;

	memset(parts, 0, sizeof(*parts));
	rc = tract_content_message_flat(parts, payload, len);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	j = cJSON_ParseWithLength(payload, len);
	if (!j)
		return tract_error_set(TRACT_ECORRUPT, "unreadable stored content");
	rc = tract_content_message(parts, j);
	cJSON_Delete(j);
	return rc;
}

/* Add a hit for the commit (row's identity fields) whose text matched at
 * byte offset at. */
static int add_hit(search_walk *w, const char *tract_id, const char *commit_hash,
		   const char *content_type, tract_time created_at, const char *text,
		   size_t len, size_t at)
{
	tract_search_hit *hit;

	if (w->list->count == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		tract_search_hit *items = realloc(w->list->items, cap * sizeof(*items));
		if (!items)
			return w->fail = tract_error_oom();
		w->list->items = items;
		w->cap = cap;
	}
	hit = &w->list->items[w->list->count];
	memset(hit, 0, sizeof(*hit));
	tract_copy_id(hit->tract_id, tract_id);
	tract_copy_id(hit->commit_hash, commit_hash);
	hit->created_at = created_at;
	hit->content_type = strdup(content_type);
	hit->snippet = make_snippet(text, len, at, w->term_len, w->ctx);
	w->list->count++;
	if (!hit->content_type || !hit->snippet)
		return w->fail = tract_error_oom();
	return 0;
}

/* Read a commit's blob and match its message text (the scan's way). */
static int match_blob(search_walk *w, const char *tract_id, const char *commit_hash,
		      const char *content_hash, const char *content_type, tract_time created_at)
{
	tract_message_parts parts;
	long at;
	int rc;

	rc = w->store->be->blob_get(w->store->conn, content_hash, blob_keep, w);
	if (rc == TRACT_ENOTFOUND)
		return 0; /* a commit without its blob has no text to match */
	if (rc < 0)
		return rc;
	w->list->scanned++;
	rc = message_of(&parts, w->payload, w->payload_len);
	if (rc < 0) {
		w->fail = rc;
		return rc;
	}
	at = parts.content ? find_term(parts.content, parts.content_len, w->term, w->term_len)
			   : -1;
	rc = at < 0 ? 0
		    : add_hit(w, tract_id, commit_hash, content_type, created_at, parts.content,
			      parts.content_len, (size_t)at);
	tract_message_parts_dispose(&parts);
	return rc;
}

static int search_row(const tract_commit_row *row, void *payload)
{
	search_walk *w = payload;
	int rc;

	if (!filter_pass(&w->f, row))
		return 0;
	rc = match_blob(w, row->tract_id, row->commit_hash, row->content_hash, row->content_type,
			row->created_at);
	if (rc < 0)
		return rc;
	if (w->limit && w->list->count >= w->limit)
		return 1;
	return 0;
}

/* ---- search through the backend's index (ABI version 5) ------------------ */

/* A candidate from search_query: the filters, then the text (the index's,
 * or the blob's for a queued one) checked with the scan's own matcher. */
static int search_candidate(const tract_search_row *row, void *payload)
{
	search_walk *w = payload;
	tract_commit_row cr;
	long at;

	memset(&cr, 0, sizeof(cr));
	cr.commit_hash = row->commit_hash;
	cr.content_type = row->content_type;
	cr.created_at = row->created_at;
	if (!row->commit_hash || !row->tract_id || !row->content_hash || !row->content_type)
		return w->fail = tract_error_set(TRACT_ECORRUPT, "a search row lacks a column");
	if (!filter_pass(&w->f, &cr))
		return 0;
	if (!row->text)
		return match_blob(w, row->tract_id, row->commit_hash, row->content_hash,
				  row->content_type, row->created_at);
	at = find_term(row->text, strlen(row->text), w->term, w->term_len);
	if (at < 0)
		return 0;
	return add_hit(w, row->tract_id, row->commit_hash, row->content_type, row->created_at,
		       row->text, strlen(row->text), (size_t)at);
}

static int cmp_hit(const void *a, const void *b)
{
	const tract_search_hit *x = a, *y = b;

	if (x->created_at != y->created_at)
		return x->created_at < y->created_at ? -1 : 1;
	return strcmp(x->commit_hash, y->commit_hash);
}

static void hit_dispose(tract_search_hit *h)
{
	free(h->content_type);
	free(h->snippet);
}

/* Oldest first, each commit once, at most limit hits. */
static void order_hits(tract_search_list *l, size_t limit)
{
	size_t i, o = 0;

	if (l->count > 1)
		qsort(l->items, l->count, sizeof(*l->items), cmp_hit);
	for (i = 0; i < l->count; i++) {
		if ((o && strcmp(l->items[o - 1].commit_hash, l->items[i].commit_hash) == 0) ||
		    (limit && o >= limit)) {
			hit_dispose(&l->items[i]);
			continue;
		}
		l->items[o++] = l->items[i];
	}
	l->count = o;
}

/* One queued blob read for the index: its text, computed by the core. */
typedef struct {
	char *hash;
	char *text; /* NULL: the blob is gone, or its content is unreadable */
	int gone;
} index_item;

typedef struct {
	index_item *items;
	size_t count, cap;
	int fail;
} index_batch;

static int collect_pending(const char *content_hash, const char *payload_json, void *payload)
{
	index_batch *b = payload;
	tract_message_parts parts;
	index_item *it;
	int rc;

	if (!content_hash)
		return 0;
	if (b->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		index_item *items = realloc(b->items, cap * sizeof(*items));
		if (!items)
			return b->fail = tract_error_oom();
		b->items = items;
		b->cap = cap;
	}
	it = &b->items[b->count];
	memset(it, 0, sizeof(*it));
	it->hash = strdup(content_hash);
	if (!it->hash)
		return b->fail = tract_error_oom();
	b->count++;
	if (!payload_json) {
		it->gone = 1;
		return 0;
	}
	rc = message_of(&parts, payload_json, strlen(payload_json));
	if (rc < 0) {
		/* Unreadable content stays queued: a search reads the blob
		 * again and reports it, as the scan does. */
		tract_error_clear();
		return 0;
	}
	it->text = parts.content ? strndup(parts.content, parts.content_len) : strdup("");
	tract_message_parts_dispose(&parts);
	if (!it->text)
		return b->fail = tract_error_oom();
	return 0;
}

static void index_batch_dispose(index_batch *b)
{
	size_t i;

	for (i = 0; i < b->count; i++) {
		free(b->items[i].hash);
		free(b->items[i].text);
	}
	free(b->items);
}

static int stop_at_first(const char *content_hash, const char *payload_json, void *payload)
{
	(void)content_hash;
	(void)payload_json;
	*(int *)payload = 1;
	return 1;
}

/*
 * Bring the index up to date: make it if the store has none and the
 * connection may write, index the queued blobs. 1 when an index exists
 * afterwards (complete or not: a search reads what is still queued), 0
 * when the store has none (read-only), < 0 on a failure of the read. A
 * failed write (a busy or read-only store) is no failure: the search
 * reads the queued blobs instead.
 */
static int search_sync(tract_store *s)
{
	const tract_backend *be = s->be;
	index_batch b;
	int rc, exists, queued = 0;
	size_t i;

	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = be->search_index_open(s->conn, 0);
	exists = rc == 0;
	if (rc == TRACT_ENOTFOUND)
		rc = 0;
	if (rc == 0 && exists)
		rc = be->search_pending(s->conn, stop_at_first, &queued);
	if (rc < 0)
		rc = tract_backend_error(s, rc, "read the search index");
	rc = tract_txn_end(s, rc);
	if (rc < 0)
		return rc;
	if (exists && !queued)
		return 1;
	memset(&b, 0, sizeof(b));
	rc = tract_txn_begin(s, TRACT_TXN_WRITE);
	if (rc == 0) {
		rc = be->search_index_open(s->conn, 1);
		if (rc == 0)
			exists = 1;
		if (rc == 0)
			rc = be->search_pending(s->conn, collect_pending, &b);
		if (b.fail)
			rc = b.fail;
		for (i = 0; rc == 0 && i < b.count; i++) {
			if (b.items[i].gone || b.items[i].text)
				rc = be->search_index_put(s->conn, b.items[i].hash,
							  b.items[i].text);
		}
		if (rc < 0 && !b.fail)
			rc = tract_backend_error(s, rc, "update the search index");
		rc = tract_txn_end(s, rc);
		if (rc < 0)
			exists = 0; /* rolled back: a new index was not made */
	}
	index_batch_dispose(&b);
	if (rc == TRACT_ENOMEM)
		return rc;
	tract_error_clear();
	if (!exists) {
		/* The write failed: whether an index exists is read again. */
		if (tract_txn_begin(s, TRACT_TXN_READ) < 0)
			return tract_error_last()->code;
		rc = be->search_index_open(s->conn, 0);
		exists = rc == 0;
		rc = tract_txn_end(s, rc == TRACT_ENOTFOUND ? 0 : rc);
		tract_error_clear();
		if (rc < 0)
			return rc;
	}
	return exists;
}

typedef struct {
	char **hashes;
	size_t count, cap;
} hash_set;

static int collect_chain(const tract_chain_row *row, void *payload)
{
	hash_set *hs = payload;

	if (hs->count == hs->cap) {
		size_t cap = hs->cap ? hs->cap * 2 : 64;
		char **h = realloc(hs->hashes, cap * sizeof(*h));
		if (!h)
			return TRACT_ENOMEM;
		hs->hashes = h;
		hs->cap = cap;
	}
	hs->hashes[hs->count] = strdup(row->commit.commit_hash);
	if (!hs->hashes[hs->count])
		return TRACT_ENOMEM;
	hs->count++;
	return 0;
}

static void hash_set_dispose(hash_set *hs)
{
	size_t i;

	for (i = 0; i < hs->count; i++)
		free(hs->hashes[i]);
	free(hs->hashes);
}

/* The commits on refs/heads/BRANCH of tract_id (first parents). */
static int branch_commits(hash_set *hs, tract_store *s, const char *tract_id, const char *branch)
{
	char name[512];
	tract_ref_value ref;
	int rc;

	if (strncmp(branch, "refs/", 5) == 0)
		snprintf(name, sizeof(name), "%s", branch);
	else
		snprintf(name, sizeof(name), "refs/heads/%s", branch);
	rc = tract_ref_read(&ref, s, tract_id, name);
	if (rc < 0)
		return rc;
	if (!ref.exists || !ref.commit[0])
		return tract_error_set(TRACT_ENOTFOUND, "branch '%s' not found in tract %s",
				       branch, tract_id);
	rc = tract_chain_walk(s, tract_id, ref.commit, 0, 0, INT64_MAX, collect_chain, hs,
			      "walk the branch", NULL);
	if (rc < 0)
		return rc;
	qsort(hs->hashes, hs->count, sizeof(char *), cmp_str);
	return 0;
}

int tract_search_run(tract_search_list **out, tract_store *store, const char *term,
		     const tract_search_options *opts)
{
	tract_search_options defaults = TRACT_SEARCH_OPTIONS_INIT;
	hash_set hs;
	search_walk w;
	char *lowered;
	size_t i, n;
	int rc, begun, use_index;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_search_run: out is NULL");
	*out = NULL;
	if (!store || !term)
		return tract_error_set(TRACT_EINVAL, "tract_search_run: NULL argument");
	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_SEARCH_OPTIONS_VERSION,
				"tract_search_options") < 0)
		return TRACT_EINVAL;
	n = strlen(term);
	if (n == 0)
		return tract_error_set(TRACT_EINVAL, "search term is empty");
	if (!tract_utf8_valid(term, n))
		return tract_error_set(TRACT_EINVAL, "search term is not valid UTF-8");
	if (check_filters(opts->tract_id, opts->content_type, "tract_search_run"))
		return TRACT_EINVAL;
	if (opts->branch && !opts->tract_id)
		return tract_error_set(TRACT_EINVAL, "a branch filter needs a tract id");
	if (check_text(opts->branch, "branch"))
		return TRACT_EINVAL;
	lowered = malloc(n + 1);
	if (!lowered)
		return tract_error_oom();
	for (i = 0; i <= n; i++)
		lowered[i] = (char)lower((unsigned char)term[i]);
	memset(&w, 0, sizeof(w));
	memset(&hs, 0, sizeof(hs));
	w.term = lowered;
	w.term_len = n;
	w.ctx = opts->snippet_context ? opts->snippet_context : 30;
	w.limit = opts->limit;
	w.store = store;
	w.f.content_type = opts->content_type;
	w.f.since = opts->since;
	w.f.until = opts->until;
	w.list = calloc(1, sizeof(*w.list));
	if (!w.list) {
		free(lowered);
		return tract_error_oom();
	}
	use_index = 0;
	rc = 0;
	if (store->be->version >= 5 && store->be->search_query) {
		rc = search_sync(store);
		use_index = rc > 0;
	}
	if (rc >= 0)
		rc = tract_txn_begin(store, TRACT_TXN_READ);
	begun = rc == 0;
	if (rc == 0 && opts->branch) {
		rc = branch_commits(&hs, store, opts->tract_id, opts->branch);
		w.f.branch_set = 1;
		w.f.on_branch = hs.hashes;
		w.f.n_branch = hs.count;
	}
	if (rc == 0 && use_index) {
		w.list->indexed = 1;
		rc = store->be->search_query(store->conn, term, opts->tract_id, search_candidate,
					     &w);
		if (w.fail)
			rc = w.fail;
		else if (rc < 0)
			rc = tract_backend_error(store, rc, "search");
		if (rc == 0)
			order_hits(w.list, w.limit);
	} else if (rc == 0) {
		rc = store->be->commit_foreach(store->conn, opts->tract_id, search_row, &w);
		if (w.fail)
			rc = w.fail;
		else if (rc < 0)
			rc = tract_backend_error(store, rc, "search");
	}
	if (begun)
		rc = tract_txn_end(store, rc);
	hash_set_dispose(&hs);
	free(w.payload);
	free(lowered);
	if (rc < 0) {
		tract_search_list_free(w.list);
		return rc;
	}
	*out = w.list;
	return 0;
}

void tract_search_list_free(tract_search_list *list)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < list->count; i++)
		hit_dispose(&list->items[i]);
	free(list->items);
	free(list);
}

int tract_search_list_to_json(char **out, const tract_search_list *list)
{
	cJSON *arr, *o;
	char when[TRACT_TIME_BUFSIZE];
	size_t i;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_search_list_to_json: out is NULL");
	*out = NULL;
	if (!list)
		return tract_error_set(TRACT_EINVAL, "tract_search_list_to_json: list is NULL");
	arr = cJSON_CreateArray();
	if (!arr)
		return tract_error_oom();
	for (i = 0; i < list->count; i++) {
		const tract_search_hit *h = &list->items[i];

		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o))
			goto oom;
		if (tract_time_format(when, sizeof(when), h->created_at) < 0)
			snprintf(when, sizeof(when), "%s", "");
		if (!cJSON_AddStringToObject(o, "tract_id", h->tract_id) ||
		    !cJSON_AddStringToObject(o, "commit_hash", h->commit_hash) ||
		    !cJSON_AddStringToObject(o, "content_type", h->content_type) ||
		    !cJSON_AddStringToObject(o, "created_at", when) ||
		    !cJSON_AddStringToObject(o, "snippet", h->snippet))
			goto oom;
	}
	*out = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	if (!*out)
		return tract_error_oom();
	return 0;
oom:
	cJSON_Delete(arr);
	return tract_error_oom();
}
