/*
 * commit.c - the commit engine: validating content, storing blobs,
 * hashing commits and moving HEAD in one transaction (spec/core.md §4),
 * plus the read side: commit objects, resolution, log, annotations and
 * configuration queries.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "internal.h"
#include "json.h"
#include "log.h"

struct tract_commit {
	tract_row row;
};

/* ---- rows ----------------------------------------------------------------- */

/* Room for an optional string in a row's block. */
static size_t opt_len(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Copy an optional string into the block at *at. */
static char *opt_put(char **at, const char *s, size_t len)
{
	char *dst = *at;

	if (!s)
		return NULL;
	memcpy(dst, s, len);
	*at += len;
	return dst;
}

/*
 * Copy a row; every string of the copy lives in one allocation (r->mem),
 * so a row costs one malloc however many columns it has.
 */
static int row_copy(tract_row *d, const tract_commit_row *s, const tract_chain_row *chain,
		    unsigned skip)
{
	const char *ctype = s->content_type ? s->content_type : "unknown";
	const char *payload = chain && !(skip & TRACT_ROW_SKIP_PAYLOAD) ? chain->payload_json
									 : NULL;
	const char *message = skip & TRACT_ROW_SKIP_TEXTS ? NULL : s->message;
	const char *metadata = skip & TRACT_ROW_SKIP_TEXTS ? NULL : s->metadata_json;
	size_t n_extra = chain ? chain->n_extra_parents : 0;
	size_t l_parent = opt_len(s->parent_hash), l_ctype = opt_len(ctype),
	       l_resp = opt_len(s->response_to), l_msg = opt_len(message),
	       l_meta = opt_len(metadata), l_cfg = opt_len(s->generation_config_json),
	       l_payload = opt_len(payload), l_extra = 0, i;
	char *at;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < n_extra; i++)
		l_extra += opt_len(chain->extra_parents[i]);
	d->mem = malloc(n_extra * sizeof(char *) + l_parent + l_ctype + l_resp + l_msg + l_meta +
			l_cfg + l_payload + l_extra + 1);
	if (!d->mem)
		return TRACT_ENOMEM;
	at = d->mem;
	if (n_extra) {
		d->extra_parents = (char **)(void *)at;
		d->n_extra = n_extra;
		at += n_extra * sizeof(char *);
		for (i = 0; i < n_extra; i++)
			d->extra_parents[i] = opt_put(&at, chain->extra_parents[i],
						      opt_len(chain->extra_parents[i]));
	}
	tract_copy_id(d->hash, s->commit_hash);
	tract_copy_id(d->tract_id, s->tract_id);
	tract_copy_id(d->content_hash, s->content_hash);
	d->operation = s->operation;
	d->token_count = s->token_count;
	d->created_at = s->created_at;
	d->priority = chain ? chain->priority : TRACT_PRIORITY_NONE;
	d->parent = opt_put(&at, s->parent_hash, l_parent);
	d->content_type = opt_put(&at, ctype, l_ctype);
	d->response_to = opt_put(&at, s->response_to, l_resp);
	d->message = opt_put(&at, message, l_msg);
	d->metadata = opt_put(&at, metadata, l_meta);
	d->config = opt_put(&at, s->generation_config_json, l_cfg);
	d->payload = opt_put(&at, payload, l_payload);
	return 0;
}

int tract_row_copy(tract_row *d, const tract_commit_row *s)
{
	return row_copy(d, s, NULL, 0);
}

int tract_row_copy_chain(tract_row *d, const tract_chain_row *s)
{
	return row_copy(d, &s->commit, s, 0);
}

int tract_row_copy_chain_part(tract_row *d, const tract_chain_row *s, unsigned skip)
{
	return row_copy(d, &s->commit, s, skip);
}

void tract_row_dispose(tract_row *r)
{
	tract_msg_release(r->msg);
	free(r->mem);
	memset(r, 0, sizeof(*r));
}

tract_commit *tract_commit_from_row(tract_row *r)
{
	tract_commit *c = malloc(sizeof(*c));

	if (!c) {
		tract_row_dispose(r);
		return NULL;
	}
	c->row = *r;
	memset(r, 0, sizeof(*r));
	return c;
}

void tract_commit_free(tract_commit *c)
{
	if (!c)
		return;
	tract_row_dispose(&c->row);
	free(c);
}

const char *tract_commit_hash(const tract_commit *c) { return c->row.hash; }
const char *tract_commit_tract_id(const tract_commit *c) { return c->row.tract_id; }
const char *tract_commit_parent(const tract_commit *c) { return c->row.parent; }
const char *tract_commit_content_hash(const tract_commit *c) { return c->row.content_hash; }
const char *tract_commit_content_type(const tract_commit *c) { return c->row.content_type; }
tract_operation tract_commit_operation(const tract_commit *c) { return c->row.operation; }
const char *tract_commit_response_to(const tract_commit *c) { return c->row.response_to; }
const char *tract_commit_message(const tract_commit *c) { return c->row.message; }
int64_t tract_commit_token_count(const tract_commit *c) { return c->row.token_count; }
const char *tract_commit_metadata(const tract_commit *c) { return c->row.metadata; }
const char *tract_commit_generation_config(const tract_commit *c) { return c->row.config; }
tract_time tract_commit_time(const tract_commit *c) { return c->row.created_at; }
const char *tract_commit_content(const tract_commit *c) { return c->row.payload; }
size_t tract_commit_extra_parent_count(const tract_commit *c) { return c->row.n_extra; }

const char *tract_commit_extra_parent(const tract_commit *c, size_t i)
{
	return i < c->row.n_extra ? c->row.extra_parents[i] : NULL;
}

void tract_commit_list_dispose(tract_commit_list *list)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < list->count; i++)
		tract_commit_free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

static int list_push(tract_commit_list *l, size_t *cap, tract_row *r)
{
	tract_commit *c;

	if (l->count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		tract_commit **p = realloc(l->items, ncap * sizeof(*p));
		if (!p) {
			tract_row_dispose(r);
			return TRACT_ENOMEM;
		}
		l->items = p;
		*cap = ncap;
	}
	c = tract_commit_from_row(r);
	if (!c)
		return TRACT_ENOMEM;
	l->items[l->count++] = c;
	return 0;
}

/* ---- JSON of a commit (CLI.md log --json) ----------------------------------- */

static int put_json_str(tract_buf *b, const char *s)
{
	if (!s)
		return tract_buf_puts(b, "null");
	return tract_json_escape(b, s, strlen(s), 0);
}

/* Stored JSON column re-rendered in caller order; invalid text as a string. */
static int put_json_column(tract_buf *b, const char *json)
{
	char err[64];
	cJSON *v = NULL;
	int rc;

	if (!json)
		return tract_buf_puts(b, "null");
	if (tract_json_parse(&v, json, strlen(json), 0, err, sizeof(err)) < 0)
		return put_json_str(b, json);
	rc = tract_json_render(b, v, TRACT_JSON_FLAT);
	cJSON_Delete(v);
	return rc;
}

int tract_commit_to_json(char **out, const tract_commit *c)
{
	tract_buf b = TRACT_BUF_INIT;
	char when[48];
	int rc = 0;

	*out = NULL;
	rc |= tract_buf_puts(&b, "{\"commit_hash\": ");
	rc |= put_json_str(&b, c->row.hash);
	rc |= tract_buf_puts(&b, ", \"parent_hash\": ");
	rc |= put_json_str(&b, c->row.parent);
	rc |= tract_buf_puts(&b, ", \"content_type\": ");
	rc |= put_json_str(&b, c->row.content_type);
	rc |= tract_buf_puts(&b, ", \"operation\": ");
	rc |= put_json_str(&b, c->row.operation == TRACT_OP_EDIT	 ? "edit"
			       : c->row.operation == TRACT_OP_APPEND ? "append"
								     : "unknown");
	rc |= tract_buf_puts(&b, ", \"response_to\": ");
	rc |= put_json_str(&b, c->row.response_to);
	rc |= tract_buf_puts(&b, ", \"message\": ");
	rc |= put_json_str(&b, c->row.message);
	rc |= tract_buf_printf(&b, ", \"token_count\": %" PRId64, c->row.token_count);
	tract_time_format(when, sizeof(when), c->row.created_at);
	rc |= tract_buf_printf(&b, ", \"created_at\": \"%s\"", when);
	rc |= tract_buf_puts(&b, ", \"metadata\": ");
	rc |= put_json_column(&b, c->row.metadata);
	rc |= tract_buf_puts(&b, ", \"generation_config\": ");
	rc |= put_json_column(&b, c->row.config);
	rc |= tract_buf_puts(&b, ", \"tract_id\": ");
	rc |= put_json_str(&b, c->row.tract_id);
	rc |= tract_buf_puts(&b, ", \"content_hash\": ");
	rc |= put_json_str(&b, c->row.content_hash);
	rc |= tract_buf_putc(&b, '}');
	if (rc) {
		tract_buf_dispose(&b);
		return tract_error_oom();
	}
	*out = tract_buf_detach(&b);
	return 0;
}

/* ---- resolution ------------------------------------------------------------------ */

static int row_copy_cb(const tract_commit_row *row, void *payload)
{
	return tract_row_copy(payload, row);
}

typedef struct {
	char hashes[6][65];
	size_t n;
} prefix_matches;

static int prefix_cb(const tract_commit_row *row, void *payload)
{
	prefix_matches *m = payload;

	if (m->n < 6)
		snprintf(m->hashes[m->n++], 65, "%s", row->commit_hash);
	return 0;
}

static int is_hex_prefix(const char *s, char *lower, size_t cap)
{
	size_t i, n = strlen(s);

	if (n < 4 || n > 64 || n >= cap)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
		lower[i] = c;
	}
	lower[n] = '\0';
	return 1;
}

int tract_resolve_in_txn(char out[65], tract *t, const char *ref)
{
	tract_store *s = t->store;
	tract_ref_value br;
	prefix_matches m;
	char lower[65], name[300];
	int rc;

	if (!ref || !*ref)
		return tract_error_set(TRACT_EINVAL, "empty commit reference");
	if (strcmp(ref, "HEAD") == 0) {
		tract_head_state hs;
		rc = tract_head_read(&hs, t);
		if (rc < 0)
			return rc;
		if (!hs.hash[0])
			return tract_error_set(TRACT_ENOTFOUND, "HEAD has no commit yet");
		memcpy(out, hs.hash, 65);
		return 0;
	}
	if (is_hex_prefix(ref, lower, sizeof(lower)) && strlen(lower) == 64) {
		tract_row r;
		rc = s->be->commit_get(s->conn, t->id, lower, row_copy_cb, &r);
		if (rc == 0) {
			tract_row_dispose(&r);
			memcpy(out, lower, 65);
			return 0;
		}
		if (rc != TRACT_ENOTFOUND)
			return tract_backend_error(s, rc, "look up commit");
	}
	if (strlen(ref) < 200) {
		snprintf(name, sizeof(name), "refs/heads/%s", ref);
		rc = tract_ref_read(&br, s, t->id, name);
		if (rc < 0)
			return rc;
		if (br.exists && br.commit[0]) {
			memcpy(out, br.commit, 65);
			return 0;
		}
	}
	if (is_hex_prefix(ref, lower, sizeof(lower))) {
		memset(&m, 0, sizeof(m));
		rc = s->be->commit_prefix(s->conn, t->id, lower, 6, prefix_cb, &m);
		if (rc < 0)
			return tract_backend_error(s, rc, "look up prefix");
		if (m.n == 1) {
			memcpy(out, m.hashes[0], 65);
			return 0;
		}
		if (m.n > 1) {
			tract_buf b = TRACT_BUF_INIT;
			size_t i;
			for (i = 0; i < m.n && i < 5; i++)
				tract_buf_printf(&b, "%s%.12s...", i ? ", " : "", m.hashes[i]);
			rc = tract_error_set(TRACT_EAMBIGUOUS, "Ambiguous prefix '%s'. Matches: %s",
					     ref, b.ptr ? b.ptr : "");
			tract_buf_dispose(&b);
			return rc;
		}
	}
	return tract_error_set(TRACT_ENOTFOUND, "Commit not found: %s", ref);
}

int tract_resolve(char out[65], tract *t, const char *ref)
{
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_resolve: NULL argument");
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_resolve_in_txn(out, t, ref);
	return tract_txn_end(t->store, rc);
}

typedef struct {
	tract_row row;
	int found;
} one_chain;

static int one_chain_cb(const tract_chain_row *row, void *payload)
{
	one_chain *o = payload;
	int rc = tract_row_copy_chain(&o->row, row);

	if (rc < 0)
		return rc;
	o->found = 1;
	return 1;
}

/* Fetch one commit with payload and parents (a chain walk of length 1). */
static int fetch_full(tract_row *out, tract *t, const char *hash)
{
	one_chain o;
	int rc;

	memset(&o, 0, sizeof(o));
	rc = t->store->be->commit_chain(t->store->conn, t->id, hash, 1,
					TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS |
						TRACT_CHAIN_PRIORITY,
					INT64_MAX, one_chain_cb, &o);
	if (rc < 0) {
		if (o.found)
			tract_row_dispose(&o.row);
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(t->store, rc, "read commit");
	}
	if (!o.found)
		return tract_error_set(TRACT_ENOTFOUND, "Commit not found: %s", hash);
	*out = o.row;
	return 0;
}

int tract_commit_lookup(tract_commit **out, tract *t, const char *ref)
{
	char hash[65];
	tract_row r;
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_commit_lookup: NULL argument");
	*out = NULL;
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_resolve_in_txn(hash, t, ref);
	if (rc == 0)
		rc = fetch_full(&r, t, hash);
	rc = tract_txn_end(t->store, rc);
	if (rc < 0)
		return rc;
	*out = tract_commit_from_row(&r);
	return *out ? 0 : tract_error_oom();
}

/* ---- log ------------------------------------------------------------------------- */

typedef struct {
	tract_commit_list *list;
	size_t cap, limit;
	tract_operation filter;
} log_walk;

static int log_cb(const tract_chain_row *row, void *payload)
{
	log_walk *w = payload;
	tract_row r;
	int rc;

	if (w->filter != TRACT_OP_UNKNOWN && row->commit.operation != w->filter)
		return 0;
	rc = tract_row_copy_chain(&r, row);
	if (rc == 0)
		rc = list_push(w->list, &w->cap, &r);
	if (rc < 0)
		return rc;
	return w->limit && w->list->count >= w->limit ? 1 : 0;
}

int tract_log(tract_commit_list *out, tract *t, const char *start, size_t limit,
	      tract_operation op_filter)
{
	log_walk w = {out, 0, limit, op_filter};
	tract_head_state hs;
	char head[65];
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_log: NULL argument");
	memset(out, 0, sizeof(*out));
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	if (start) {
		rc = tract_resolve_in_txn(head, t, start);
	} else {
		rc = tract_head_read(&hs, t);
		memcpy(head, hs.hash, sizeof(head));
	}
	if (rc == 0 && head[0]) {
		rc = t->store->be->commit_chain(t->store->conn, t->id, head,
						op_filter == TRACT_OP_UNKNOWN ? limit : 0,
						TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS, INT64_MAX,
						log_cb, &w);
		if (rc < 0)
			rc = rc == TRACT_ENOMEM ? tract_error_oom()
						: tract_backend_error(t->store, rc, "walk history");
	}
	rc = tract_txn_end(t->store, rc);
	if (rc < 0)
		tract_commit_list_dispose(out);
	return rc;
}

/* ---- commit creation ------------------------------------------------------------- */

typedef struct {
	cJSON *n;              /* normalized content */
	char *payload;         /* J-STORE */
	char content_hash[65];
	const char *content_type;
	int64_t token_count;
	cJSON *metadata, *config;
	char *metadata_json, *config_json; /* J-COLUMN */
} prepared_content;

static void prepared_dispose(prepared_content *p)
{
	cJSON_Delete(p->n);
	cJSON_Delete(p->metadata);
	cJSON_Delete(p->config);
	free(p->payload);
	free(p->metadata_json);
	free(p->config_json);
	memset(p, 0, sizeof(*p));
}

int64_t tract_count(tract *t, const char *text, size_t len)
{
	int64_t n = tract_tokenizer_count(t->tok, text, len);

	if (n < 0)
		return tract_error_set((int)n, "token counter failed on a text of %zu bytes", len);
	return n;
}

static int prepare_content(prepared_content *p, tract *t, const char *content_json,
			   const tract_commit_opts *o)
{
	tract_buf text = TRACT_BUF_INIT;
	tract_text_kind kind;
	char err[256], *canon = NULL;
	cJSON *in = NULL;
	int rc;

	memset(p, 0, sizeof(*p));
	if (!content_json)
		return tract_error_set(TRACT_EINVAL, "Content validation failed: no content");
	rc = tract_json_parse(&in, content_json, strlen(content_json),
			      TRACT_JSON_NONFINITE_TO_NULL, err, sizeof(err));
	if (rc < 0)
		return tract_error_set(rc, "Content validation failed: %s", err);
	rc = tract_content_normalize_json(&p->n, &t->types, in);
	cJSON_Delete(in);
	if (rc < 0)
		goto fail;
	p->content_type = cJSON_GetObjectItemCaseSensitive(p->n, "content_type")->valuestring;
	rc = tract_parse_object(&p->metadata, o->metadata_json, "metadata");
	if (rc == 0)
		rc = tract_parse_object(&p->config, o->generation_config_json,
					"generation config");
	if (rc < 0)
		goto fail;
	if (o->message && !tract_utf8_valid(o->message, strlen(o->message))) {
		rc = tract_error_set(TRACT_EINVAL, "commit message is not valid UTF-8");
		goto fail;
	}
	canon = tract_json_render_str(p->n, TRACT_JSON_CANON);
	p->payload = tract_json_render_str(p->n, TRACT_JSON_STORE);
	if (p->metadata)
		p->metadata_json = tract_json_render_str(p->metadata, TRACT_JSON_COLUMN);
	if (p->config)
		p->config_json = tract_json_render_str(p->config, TRACT_JSON_COLUMN);
	if (!canon || !p->payload || (p->metadata && !p->metadata_json) ||
	    (p->config && !p->config_json)) {
		rc = tract_error_oom();
		goto fail;
	}
	rc = tract_sha256_hex(p->content_hash, canon, strlen(canon));
	if (rc < 0)
		goto fail;
	if (tract_content_count_text(&text, &kind, p->n) < 0) {
		rc = tract_error_oom();
		goto fail;
	}
	p->token_count = text.len ? tract_count(t, text.ptr, text.len) : 0;
	if (p->token_count < 0) {
		rc = (int)p->token_count;
		goto fail;
	}
	free(canon);
	tract_buf_dispose(&text);
	return 0;
fail:
	free(canon);
	tract_buf_dispose(&text);
	prepared_dispose(p);
	return rc;
}

/* A derived or patched snapshot reports the tract's counter and the sum of
 * its messages again, never an API figure (§7.3, §6.8). */
static int recount(tract_context *c, tract *t)
{
	free(c->token_source);
	c->token_source = strdup(t->tok->source);
	if (!c->token_source)
		return TRACT_ENOMEM;
	c->token_count = 0;
	tract_context_sum(c);
	return 0;
}

/* The snapshot the commit produces, derived from the parent's (§7.3). */
static int derive_snapshot(tract_context **out, tract *t, tract_context *parent,
			   const char *hash, const prepared_content *p, tract_operation op,
			   const char *target)
{
	tract_context *c;
	tract_msg *m = NULL;
	tract_row src;
	const char *own;
	size_t pos = parent->count;
	int rc;

	*out = NULL;
	if (op == TRACT_OP_EDIT) {
		for (pos = 0; pos < parent->count; pos++)
			if (strcmp(tract_context_msg(parent, pos)->hash, target) == 0)
				break;
		if (pos == parent->count)
			return 0; /* skipped or off-chain target: no snapshot */
	}
	memset(&src, 0, sizeof(src));
	src.token_count = p->token_count;
	/* An edit without a config of its own shows the original commit's
	 * config, whatever an earlier edit set (§6.5). Our own count of this
	 * very content, just made, is always reusable. */
	own = op == TRACT_OP_EDIT ? tract_context_msg(parent, pos)->own_config : p->config_json;
	rc = tract_msg_build(&m, t, op == TRACT_OP_EDIT ? target : hash, p->payload,
			     p->config_json ? p->config_json : own, own, &src, 1, 0, NULL);
	if (rc < 0)
		return rc;
	c = op == TRACT_OP_EDIT ? tract_context_rebuild(parent, pos, m)
				: tract_context_extend(parent, m);
	if (!c)
		return tract_error_oom();
	tract_copy_id(c->head, hash);
	if (recount(c, t) < 0) {
		tract_context_free(c);
		return tract_error_oom();
	}
	*out = c;
	return 0;
}

/* Keep the store's record of which counter wrote this tract's counts: a
 * counter other than the recorded one turns the record into "mixed", so
 * nobody reuses the stored counts. No record (files of the reference)
 * means the counts are never reused. */
static int note_counter(tract *t)
{
	char key[128], value[128];
	int rc, found;

	if (t->counter_ok)
		return 0;
	tract_meta_key(key, sizeof(key), t->id, TRACT_META_COUNTER);
	rc = tract_meta_read(t->store, key, value, sizeof(value), &found);
	if (rc < 0 || !found || strcmp(value, t->tok->source) == 0 ||
	    strcmp(value, "mixed") == 0)
		return rc;
	rc = t->store->be->meta_set(t->store->conn, key, "mixed");
	return rc < 0 ? tract_backend_error(t->store, rc, "record token counter") : 0;
}

static int check_budget(tract *t, int64_t total)
{
	if (t->budget_max < 0 || total <= t->budget_max)
		return 0;
	switch (t->budget_action) {
	case TRACT_BUDGET_REJECT:
		return tract_error_set(TRACT_EBUDGET,
				       "Token budget exceeded: %" PRId64 " tokens (max: %" PRId64
				       ")",
				       total, t->budget_max);
	case TRACT_BUDGET_CALLBACK:
		if (t->budget_cb && t->budget_cb(total, t->budget_max, t->budget_payload) != 0)
			return tract_error_set(TRACT_EBUDGET,
					       "Token budget exceeded: %" PRId64
					       " tokens (max: %" PRId64 "); refused by the callback",
					       total, t->budget_max);
		return 0;
	default:
		tract_warn("Token budget exceeded: %" PRId64 " tokens (max: %" PRId64 ")", total,
			   t->budget_max);
		return 0;
	}
}

typedef struct {
	tract *t;
	const prepared_content *p;
	const tract_commit_opts *o;
	tract_row row;         /* the written commit */
	tract_context *snap;   /* snapshot for the new HEAD, if derived */
	int parent_cached;
} commit_attempt;

/* Resolve and check response_to (§4.3 with DECISIONS.md). */
static int check_response_to(char out[65], commit_attempt *a)
{
	tract *t = a->t;
	tract_row target;
	int rc;

	out[0] = '\0';
	if (!a->o->response_to) {
		if (a->o->operation == TRACT_OP_EDIT)
			return tract_error_set(TRACT_EEDIT,
					       "EDIT operation requires response_to to be set");
		return 0;
	}
	rc = tract_resolve_in_txn(out, t, a->o->response_to);
	if (rc == TRACT_ENOTFOUND && a->o->operation == TRACT_OP_EDIT)
		return tract_error_set(TRACT_EEDIT, "EDIT target commit not found: %s",
				       a->o->response_to);
	if (rc < 0)
		return rc;
	if (a->o->operation != TRACT_OP_EDIT)
		return 0;
	rc = t->store->be->commit_get(t->store->conn, t->id, out, row_copy_cb, &target);
	if (rc < 0)
		return tract_backend_error(t->store, rc, "read edit target");
	rc = target.operation == TRACT_OP_APPEND
		     ? 0
		     : tract_error_set(TRACT_EEDIT, "Cannot edit an EDIT commit: %s", out);
	tract_row_dispose(&target);
	return rc;
}

/* Move HEAD (§4.5) by compare-and-swap against what was read. */
static int move_head(tract *t, const tract_head_state *hs, const char *hash)
{
	tract_store *s = t->store;
	tract_ref_row exp;
	char branch[300];
	int rc;

	if (!hs->head.exists) {
		snprintf(branch, sizeof(branch), "refs/heads/%s", t->default_branch);
		rc = s->be->ref_cas(s->conn, t->id, "HEAD", NULL, branch, NULL);
		if (rc < 0)
			return rc;
		{
			tract_ref_value br;
			rc = tract_ref_read(&br, s, t->id, branch);
			if (rc < 0)
				return rc;
			memset(&exp, 0, sizeof(exp));
			exp.commit_hash = br.commit[0] ? br.commit : NULL;
			exp.symbolic_target = br.symbolic[0] ? br.symbolic : NULL;
			return s->be->ref_cas(s->conn, t->id, branch, hash, NULL,
					      br.exists ? &exp : NULL);
		}
	}
	if (!hs->head.symbolic[0]) {
		memset(&exp, 0, sizeof(exp));
		exp.commit_hash = hs->head.commit;
		return s->be->ref_cas(s->conn, t->id, "HEAD", hash, NULL, &exp);
	}
	memset(&exp, 0, sizeof(exp));
	exp.commit_hash = hs->branch.commit[0] ? hs->branch.commit : NULL;
	exp.symbolic_target = hs->branch.symbolic[0] ? hs->branch.symbolic : NULL;
	return s->be->ref_cas(s->conn, t->id, hs->head.symbolic, hash, NULL,
			      hs->branch.exists ? &exp : NULL);
}

static int attempt_commit(commit_attempt *a)
{
	tract *t = a->t;
	tract_store *s = t->store;
	const prepared_content *p = a->p;
	tract_head_state hs;
	tract_commit_hash_input hin;
	tract_commit_row row;
	tract_blob_row blob;
	tract_context *parent = NULL, *full = NULL;
	char target[65], hash[65];
	tract_time now;
	int rc;

	rc = tract_head_read(&hs, t);
	if (rc < 0)
		return rc;
	if (hs.head.exists && !hs.head.symbolic[0])
		return tract_error_set(TRACT_EDETACHED,
				       "Cannot commit in detached HEAD state. Use 'tract checkout "
				       "main' to return to your branch.");
	rc = check_response_to(target, a);
	if (rc < 0)
		return rc;

	/* Budget: the token count of the context compiled after the commit. */
	tract_cache_sync(t);
	if (hs.hash[0])
		parent = tract_cache_get(t->cache, hs.hash);
	if (!parent && !hs.hash[0]) {
		/* First commit: the context before it is empty. */
		full = tract_context_new(0);
		if (!full || !(full->token_source = strdup("")))
			rc = tract_error_oom();
		parent = full;
	} else if (!parent && t->budget_max >= 0) {
		rc = tract_compile_full(&full, t, hs.hash, NULL);
		parent = full;
	}
	if (rc < 0)
		goto done;
	now = tract_time_now();
	memset(&hin, 0, sizeof(hin));
	hin.content_hash = p->content_hash;
	hin.parent_hash = hs.hash[0] ? hs.hash : NULL;
	hin.content_type = p->content_type;
	hin.operation = a->o->operation;
	hin.response_to = target[0] ? target : NULL;
	hin.created_at = now;
	rc = tract_commit_hash_compute(hash, &hin);
	if (rc < 0)
		goto done;
	if (parent) {
		rc = derive_snapshot(&a->snap, t, parent, hash, p, a->o->operation, target);
		if (rc < 0)
			goto done;
	}
	if (t->budget_max >= 0) {
		int64_t total = a->snap ? a->snap->token_count : -1;
		if (!a->snap && hs.hash[0]) {
			/* Edit of a skipped/off-chain target: context unchanged. */
			total = parent ? parent->token_count : 0;
		}
		rc = check_budget(t, total);
		if (rc < 0)
			goto done;
	}

	memset(&blob, 0, sizeof(blob));
	blob.content_hash = p->content_hash;
	blob.payload_json = p->payload;
	blob.byte_size = (int64_t)strlen(p->payload);
	blob.token_count = p->token_count;
	blob.created_at = now;
	rc = s->be->blob_put(s->conn, &blob, NULL);
	if (rc < 0) {
		rc = tract_backend_error(s, rc, "store blob");
		goto done;
	}
	memset(&row, 0, sizeof(row));
	row.commit_hash = hash;
	row.tract_id = t->id;
	row.parent_hash = hin.parent_hash;
	row.content_hash = p->content_hash;
	row.content_type = p->content_type;
	row.operation = a->o->operation;
	row.response_to = hin.response_to;
	row.message = a->o->message;
	row.token_count = p->token_count;
	row.metadata_json = p->metadata_json;
	row.generation_config_json = p->config_json;
	row.created_at = now;
	rc = s->be->commit_put(s->conn, &row);
	if (rc < 0) {
		rc = tract_backend_error(s, rc, "store commit");
		goto done;
	}
	rc = move_head(t, &hs, hash);
	if (rc < 0) {
		rc = rc == TRACT_ESTALE ? tract_error_set(TRACT_ESTALE,
							  "branch moved by another writer")
					: tract_backend_error(s, rc, "move HEAD");
		goto done;
	}
	if (tract_content_default_priority(p->content_type) == TRACT_PRIORITY_PINNED) {
		tract_annotation_row ann;
		char reason[128];
		snprintf(reason, sizeof(reason), "Default priority for %s", p->content_type);
		memset(&ann, 0, sizeof(ann));
		ann.tract_id = t->id;
		ann.target_hash = hash;
		ann.priority = TRACT_PRIORITY_PINNED;
		ann.reason = reason;
		ann.created_at = now;
		rc = s->be->annotation_put(s->conn, &ann, NULL);
		if (rc < 0) {
			rc = tract_backend_error(s, rc, "auto-annotate");
			goto done;
		}
	}
	rc = note_counter(t);
	if (rc < 0)
		goto done;
	rc = tract_row_copy(&a->row, &row);
	if (rc < 0)
		rc = tract_error_oom();
done:
	tract_context_free(full);
	if (rc < 0) {
		tract_context_free(a->snap);
		a->snap = NULL;
	}
	return rc;
}

/*
 * A lost compare-and-swap (another writer moved the branch first) is
 * retried on the new head at most COMMIT_RETRIES times, each after a
 * random pause of up to 1, 2, 4 ... 64 ms ("full jitter"): writers that
 * collided do not collide again in step. Each thread draws from its own
 * generator, seeded from the clock, the process id and its own address,
 * so forked processes do not share a sequence.
 */
#define COMMIT_RETRIES 10
#define COMMIT_BACKOFF_MAX_US 64000

static _Thread_local uint64_t backoff_state;

static uint64_t backoff_random(void)
{
	uint64_t x = backoff_state;

	if (x == 0)
		x = (uint64_t)tract_time_now() ^ ((uint64_t)getpid() << 32) ^
		    (uint64_t)(uintptr_t)&backoff_state ^ UINT64_C(0x9e3779b97f4a7c15);
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	backoff_state = x ? x : 1;
	return x;
}

static void backoff(int tries)
{
	long cap = 1000L << (tries < 6 ? tries : 6);
	long us = (long)(backoff_random() % (uint64_t)(cap < COMMIT_BACKOFF_MAX_US
							       ? cap
							       : COMMIT_BACKOFF_MAX_US)) +
		  1;
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}

int tract_commit_create(tract_commit **out, tract *t, const char *content_json,
			const tract_commit_opts *opts)
{
	tract_commit_opts defaults = TRACT_COMMIT_OPTS_INIT;
	prepared_content p;
	commit_attempt a;
	int rc, tries;

	if (out)
		*out = NULL;
	if (!t)
		return tract_error_set(TRACT_EINVAL, "tract_commit_create: NULL tract");
	if (!opts)
		opts = &defaults;
	if (opts->version != TRACT_COMMIT_OPTS_VERSION)
		return tract_error_set(TRACT_EINVAL, "tract_commit_opts version %u is not %d",
				       opts->version, TRACT_COMMIT_OPTS_VERSION);
	if (opts->operation != TRACT_OP_APPEND && opts->operation != TRACT_OP_EDIT)
		return tract_error_set(TRACT_EINVAL, "unknown commit operation %d",
				       (int)opts->operation);
	rc = prepare_content(&p, t, content_json, opts);
	if (rc < 0)
		return rc;
	/* A lost compare-and-swap is retried on the new head (backoff());
	 * inside a batch it cannot be. */
	for (tries = 0;; tries++) {
		memset(&a, 0, sizeof(a));
		a.t = t;
		a.p = &p;
		a.o = opts;
		rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
		if (rc < 0)
			break;
		rc = attempt_commit(&a);
		rc = tract_txn_end(t->store, rc);
		if (rc == 0 && t->store->txn_depth == 0)
			t->counter_ok = 1; /* note_counter's record is durable */
		if (rc != TRACT_ESTALE || t->store->txn_depth > 0 || tries >= COMMIT_RETRIES)
			break;
		tract_row_dispose(&a.row);
		backoff(tries);
	}
	tract_cache_sync(t);
	if (rc < 0) {
		/* The transaction's commit itself may have failed after a
		 * successful attempt: drop what the attempt produced. */
		tract_row_dispose(&a.row);
		tract_context_free(a.snap);
		goto done;
	}
	if (a.snap) {
		tract_cache_put(t->cache, a.snap);
		tract_context_free(a.snap);
	}
	if (out) {
		*out = tract_commit_from_row(&a.row);
		if (!*out)
			rc = tract_error_oom();
	} else {
		tract_row_dispose(&a.row);
	}
done:
	prepared_dispose(&p);
	return rc;
}

static int commit_object(tract_commit **out, tract *t, cJSON *obj)
{
	char *json;
	int rc;

	if (!obj)
		return tract_error_oom();
	json = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (!json)
		return tract_error_oom();
	rc = tract_commit_create(out, t, json, NULL);
	free(json);
	return rc;
}

int tract_commit_instruction(tract_commit **out, tract *t, const char *text)
{
	cJSON *o = cJSON_CreateObject();

	if (!text)
		return tract_error_set(TRACT_EINVAL, "Content validation failed: no text");
	if (!tract_utf8_valid(text, strlen(text))) {
		cJSON_Delete(o);
		return tract_error_set(TRACT_EINVAL,
				       "Content validation failed: text is not valid UTF-8");
	}
	if (o && (!cJSON_AddStringToObject(o, "content_type", "instruction") ||
		  !cJSON_AddStringToObject(o, "text", text))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return commit_object(out, t, o);
}

int tract_commit_dialogue(tract_commit **out, tract *t, const char *role, const char *text,
			  const char *name)
{
	cJSON *o;

	if (!role || !text)
		return tract_error_set(TRACT_EINVAL, "Content validation failed: role and text "
						     "are required");
	if (!tract_utf8_valid(text, strlen(text)) || !tract_utf8_valid(role, strlen(role)) ||
	    (name && !tract_utf8_valid(name, strlen(name))))
		return tract_error_set(TRACT_EINVAL,
				       "Content validation failed: text is not valid UTF-8");
	o = cJSON_CreateObject();
	if (o && (!cJSON_AddStringToObject(o, "content_type", "dialogue") ||
		  !cJSON_AddStringToObject(o, "role", role) ||
		  !cJSON_AddStringToObject(o, "text", text) ||
		  (name && !cJSON_AddStringToObject(o, "name", name)))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return commit_object(out, t, o);
}

/* ---- custom content types ---------------------------------------------------------- */

int tract_content_type_register(tract *t, const char *name, tract_content_validator validate,
				void *payload)
{
	if (!t)
		return tract_error_set(TRACT_EINVAL, "NULL tract");
	return tract_content_registry_add(&t->types, name, validate, payload);
}

int tract_content_normalize(char **out_json, char out_content_hash[65], tract *t,
			    const char *content_json)
{
	tract_commit_opts o = TRACT_COMMIT_OPTS_INIT;
	prepared_content p;
	int rc;

	if (out_json)
		*out_json = NULL;
	rc = prepare_content(&p, t, content_json, &o);
	if (rc < 0)
		return rc;
	if (out_content_hash)
		memcpy(out_content_hash, p.content_hash, 65);
	if (out_json) {
		*out_json = p.payload;
		p.payload = NULL;
	}
	prepared_dispose(&p);
	return 0;
}

/* ---- annotations --------------------------------------------------------------------- */

const char *tract_priority_name(tract_priority p)
{
	switch (p) {
	case TRACT_PRIORITY_SKIP: return "skip";
	case TRACT_PRIORITY_NORMAL: return "normal";
	case TRACT_PRIORITY_PINNED: return "pinned";
	default: return "none";
	}
}

int tract_priority_parse(tract_priority *out, const char *name)
{
	if (name && strcmp(name, "skip") == 0)
		*out = TRACT_PRIORITY_SKIP;
	else if (name && strcmp(name, "normal") == 0)
		*out = TRACT_PRIORITY_NORMAL;
	else if (name && strcmp(name, "pinned") == 0)
		*out = TRACT_PRIORITY_PINNED;
	else
		return tract_error_set(TRACT_EINVAL,
				       "unknown priority '%s' (skip, normal or pinned)",
				       name ? name : "(null)");
	return 0;
}

/* The patched snapshot of the current HEAD after an annotation (§7.3). */
static tract_context *patch_for_annotation(tract *t, const char *head, const char *target,
					   tract_priority p)
{
	tract_context *cur = tract_cache_get(t->cache, head), *c;
	size_t pos;

	if (!cur)
		return NULL;
	for (pos = 0; pos < cur->count; pos++)
		if (strcmp(tract_context_msg(cur, pos)->hash, target) == 0)
			break;
	if (p != TRACT_PRIORITY_SKIP)
		return pos < cur->count ? tract_context_ref(cur) : NULL;
	if (pos == cur->count)
		return tract_context_ref(cur);
	c = tract_context_rebuild(cur, pos, NULL);
	if (!c)
		return NULL;
	if (recount(c, t) < 0) {
		tract_context_free(c);
		return NULL;
	}
	return c;
}

int tract_annotate(int64_t *out_id, tract *t, const char *ref, tract_priority priority,
		   const char *reason)
{
	tract_annotation_row ann;
	tract_head_state hs;
	tract_context *patched = NULL;
	char target[65];
	int64_t id = 0;
	int rc;

	if (!t)
		return tract_error_set(TRACT_EINVAL, "tract_annotate: NULL tract");
	if (priority < TRACT_PRIORITY_SKIP || priority > TRACT_PRIORITY_PINNED)
		return tract_error_set(TRACT_EINVAL, "unknown priority %d", (int)priority);
	if (reason && !tract_utf8_valid(reason, strlen(reason)))
		return tract_error_set(TRACT_EINVAL, "annotation reason is not valid UTF-8");
	rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
	if (rc < 0)
		return rc;
	rc = tract_resolve_in_txn(target, t, ref);
	if (rc == 0)
		rc = tract_head_read(&hs, t);
	if (rc == 0) {
		memset(&ann, 0, sizeof(ann));
		ann.tract_id = t->id;
		ann.target_hash = target;
		ann.priority = priority;
		ann.reason = reason;
		ann.created_at = tract_time_now();
		rc = t->store->be->annotation_put(t->store->conn, &ann, &id);
		if (rc < 0)
			rc = tract_backend_error(t->store, rc, "store annotation");
	}
	rc = tract_txn_end(t->store, rc);
	tract_cache_sync(t);
	if (rc < 0)
		return rc;
	if (hs.hash[0])
		patched = patch_for_annotation(t, hs.hash, target, priority);
	tract_cache_clear(t->cache);
	if (patched) {
		tract_cache_put(t->cache, patched);
		tract_context_free(patched);
	}
	if (out_id)
		*out_id = id;
	return 0;
}

typedef struct {
	tract_annotation *items;
	size_t count, cap;
} ann_list;

static int ann_cb(const tract_annotation_row *row, void *payload)
{
	ann_list *l = payload;
	tract_annotation *a;

	if (l->count == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 4;
		tract_annotation *p = realloc(l->items, ncap * sizeof(*p));
		if (!p)
			return TRACT_ENOMEM;
		l->items = p;
		l->cap = ncap;
	}
	a = &l->items[l->count];
	memset(a, 0, sizeof(*a));
	a->id = row->id;
	tract_copy_id(a->tract_id, row->tract_id);
	tract_copy_id(a->target_hash, row->target_hash);
	a->priority = row->priority;
	a->created_at = row->created_at;
	if (row->reason && !(a->reason = strdup(row->reason)))
		return TRACT_ENOMEM;
	l->count++;
	return 0;
}

int tract_annotations_get(tract_annotation **out, size_t *count, tract *t, const char *ref)
{
	ann_list l = {0};
	char target[65];
	int rc;

	*out = NULL;
	*count = 0;
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_resolve_in_txn(target, t, ref);
	if (rc == 0) {
		rc = t->store->be->annotation_list(t->store->conn, target, ann_cb, &l);
		if (rc < 0)
			rc = rc == TRACT_ENOMEM ? tract_error_oom()
						: tract_backend_error(t->store, rc,
								      "read annotations");
	}
	rc = tract_txn_end(t->store, rc);
	if (rc < 0) {
		tract_annotations_free(l.items, l.count);
		return rc;
	}
	*out = l.items;
	*count = l.count;
	return 0;
}

void tract_annotations_free(tract_annotation *anns, size_t count)
{
	size_t i;

	if (!anns)
		return;
	for (i = 0; i < count; i++)
		free(anns[i].reason);
	free(anns);
}

/* ---- query_by_config (§4.9), evaluated with SQLite's comparison rules --------------- */

typedef enum { SV_NULL, SV_NUM, SV_TEXT } sv_class;

typedef struct {
	sv_class cls;
	int is_int;
	long long i;
	double d;
	char *text; /* owned */
} sql_value;

/* Convert a JSON value as json_extract() would. */
static int sv_from_json(sql_value *v, const cJSON *j)
{
	memset(v, 0, sizeof(*v));
	if (!j || cJSON_IsNull(j)) {
		v->cls = SV_NULL;
	} else if (cJSON_IsBool(j)) {
		v->cls = SV_NUM;
		v->is_int = 1;
		v->i = cJSON_IsTrue(j);
	} else if (cJSON_IsNumber(j)) {
		v->cls = SV_NUM;
		if (tract_json_is_int(j) && j->valuestring) {
			char *end;
			errno = 0;
			v->i = strtoll(j->valuestring, &end, 10);
			v->is_int = errno == 0 && *end == '\0';
		}
		v->d = j->valuedouble;
	} else if (cJSON_IsString(j)) {
		v->cls = SV_TEXT;
		v->text = strdup(j->valuestring);
		if (!v->text)
			return TRACT_ENOMEM;
	} else {
		v->cls = SV_TEXT;
		v->text = tract_json_render_str(j, TRACT_JSON_CANON);
		if (!v->text)
			return TRACT_ENOMEM;
	}
	return 0;
}

static int sv_compare(const sql_value *a, const sql_value *b)
{
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->cls == SV_TEXT)
		return strcmp(a->text, b->text);
	if (a->is_int && b->is_int)
		return a->i < b->i ? -1 : a->i > b->i;
	{
		double x = a->is_int ? (double)a->i : a->d;
		double y = b->is_int ? (double)b->i : b->d;
		return x < y ? -1 : x > y;
	}
}

typedef struct {
	char **path;
	size_t depth;
	const char *op;
	sql_value value;
	tract_commit_list *list;
	size_t cap;
} config_query;

static int op_holds(const char *op, int c)
{
	if (strcmp(op, "=") == 0)
		return c == 0;
	if (strcmp(op, "!=") == 0)
		return c != 0;
	if (strcmp(op, ">") == 0)
		return c > 0;
	if (strcmp(op, "<") == 0)
		return c < 0;
	if (strcmp(op, ">=") == 0)
		return c >= 0;
	return c <= 0;
}

static int query_cb(const tract_commit_row *row, void *payload)
{
	config_query *q = payload;
	char err[64];
	cJSON *cfg = NULL;
	const cJSON *v;
	sql_value sv;
	size_t i;
	int rc = 0, match;

	if (!row->generation_config_json ||
	    tract_json_parse(&cfg, row->generation_config_json,
			     strlen(row->generation_config_json), TRACT_JSON_NONFINITE_TO_NULL,
			     err, sizeof(err)) < 0)
		return 0;
	v = cfg;
	for (i = 0; v && i < q->depth; i++)
		v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, q->path[i]) : NULL;
	if (sv_from_json(&sv, v) < 0) {
		cJSON_Delete(cfg);
		return TRACT_ENOMEM;
	}
	match = sv.cls != SV_NULL && q->value.cls != SV_NULL &&
		op_holds(q->op, sv_compare(&sv, &q->value));
	free(sv.text);
	cJSON_Delete(cfg);
	if (match) {
		tract_row r;
		rc = tract_row_copy(&r, row);
		if (rc == 0)
			rc = list_push(q->list, &q->cap, &r);
	}
	return rc;
}

int tract_query_by_config(tract_commit_list *out, tract *t, const char *field, const char *op,
			  const char *value_json)
{
	static const char *const ops[] = {"=", "!=", ">", "<", ">=", "<="};
	config_query q;
	cJSON *val = NULL;
	char err[128], *fcopy = NULL, *save = NULL, *part;
	size_t i;
	int rc, ok = 0;

	memset(out, 0, sizeof(*out));
	memset(&q, 0, sizeof(q));
	for (i = 0; op && i < 6; i++)
		ok |= strcmp(op, ops[i]) == 0;
	if (!ok)
		return tract_error_set(TRACT_EINVAL,
				       "Unsupported operator: %s. Use one of: ['=', '!=', '>', "
				       "'<', '>=', '<=']",
				       op ? op : "(null)");
	if (!field || !*field || !tract_utf8_valid(field, strlen(field)))
		return tract_error_set(TRACT_EINVAL, "invalid config field");
	if (!value_json)
		return tract_error_set(TRACT_EINVAL, "missing value");
	rc = tract_json_parse(&val, value_json, strlen(value_json), 0, err, sizeof(err));
	if (rc < 0)
		return tract_error_set(rc, "invalid value: %s", err);
	rc = sv_from_json(&q.value, val);
	cJSON_Delete(val);
	if (rc < 0)
		return tract_error_oom();
	fcopy = strdup(field);
	q.path = calloc(strlen(field) + 1, sizeof(char *));
	if (!fcopy || !q.path) {
		rc = tract_error_oom();
		goto done;
	}
	for (part = strtok_r(fcopy, ".", &save); part; part = strtok_r(NULL, ".", &save))
		q.path[q.depth++] = part;
	if (q.depth == 0) {
		rc = tract_error_set(TRACT_EINVAL, "invalid config field '%s'", field);
		goto done;
	}
	q.op = op;
	q.list = out;
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		goto done;
	rc = t->store->be->commit_foreach_with_config(t->store->conn, t->id, query_cb, &q);
	if (rc < 0)
		rc = rc == TRACT_ENOMEM ? tract_error_oom()
					: tract_backend_error(t->store, rc, "query configs");
	rc = tract_txn_end(t->store, rc);
done:
	if (rc < 0)
		tract_commit_list_dispose(out);
	free(q.value.text);
	free(q.path);
	free(fcopy);
	return rc;
}
