/*
 * agents.c - multi-agent sessions (spec/agents.md §6 with DECISIONS.md):
 * spawn pointers and the ancestry walk, spawn with its three inheritance
 * modes, collapse (manual, collaborative drafts, autonomous), expand,
 * session commits and resume (operations layer).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "hash.h"
#include "json.h"
#include "walk.h"
#include "tract/llm.h"

/* ---- small helpers ------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Did a strdup of a non-NULL s fail? */
#define DUP_FAILED(dst, src) ((src) && !(dst))

/* A set (or map) of 64-hex hashes: open addressing. */
typedef struct {
	char (*keys)[65];
	char (*vals)[65]; /* NULL for a set */
	size_t cap, count;
} hmap;

static size_t hmap_find_slot(const hmap *m, const char *key)
{
	uint64_t h = 1469598103934665603ULL;
	const char *k;
	size_t i;

	for (k = key; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	i = (size_t)h & (m->cap - 1);
	while (m->keys[i][0] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static void hmap_dispose(hmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static int hmap_grow(hmap *m, int with_vals)
{
	hmap n = {0};
	size_t i;

	n.cap = m->cap ? m->cap * 2 : 64;
	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.vals = with_vals ? calloc(n.cap, sizeof(*n.vals)) : NULL;
	if (!n.keys || (with_vals && !n.vals)) {
		hmap_dispose(&n);
		return tract_error_oom();
	}
	for (i = 0; i < m->cap; i++) {
		size_t j;
		if (!m->keys[i][0])
			continue;
		j = hmap_find_slot(&n, m->keys[i]);
		memcpy(n.keys[j], m->keys[i], 65);
		if (with_vals)
			memcpy(n.vals[j], m->vals[i], 65);
		n.count++;
	}
	hmap_dispose(m);
	*m = n;
	return 0;
}

static int hmap_put(hmap *m, const char *key, const char *val)
{
	size_t i;

	if ((m->count + 1) * 2 > m->cap && hmap_grow(m, val != NULL) < 0)
		return TRACT_ENOMEM;
	i = hmap_find_slot(m, key);
	if (!m->keys[i][0]) {
		tract_copy_id(m->keys[i], key);
		m->count++;
	}
	if (val)
		tract_copy_id(m->vals[i], val);
	return 0;
}

static const char *hmap_get(const hmap *m, const char *key)
{
	size_t i;

	if (!m->cap || !key)
		return NULL;
	i = hmap_find_slot(m, key);
	if (!m->keys[i][0])
		return NULL;
	return m->vals ? m->vals[i] : m->keys[i];
}

/* ---- session boundaries: is a tract ended? -------------------------------- */

typedef struct {
	tract_store *s;
	int found;
	int ended;
	char hash[65];
} session_probe;

static int session_blob_cb(const tract_blob_row *row, void *payload)
{
	session_probe *p = payload;
	cJSON *o = row->payload_json ? cJSON_Parse(row->payload_json) : NULL;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "session_type");

	p->ended = cJSON_IsString(st) && strcmp(st->valuestring, "end") == 0;
	cJSON_Delete(o);
	return 0;
}

static int session_probe_cb(const tract_chain_row *row, void *payload)
{
	session_probe *p = payload;
	int rc;

	if (!row->commit.content_type || strcmp(row->commit.content_type, "session") != 0 ||
	    row->commit.operation != TRACT_OP_APPEND)
		return 0;
	p->found = 1;
	tract_copy_id(p->hash, row->commit.commit_hash);
	rc = p->s->be->blob_get(p->s->conn, row->commit.content_hash, session_blob_cb, p);
	if (rc < 0 && rc != TRACT_ENOTFOUND)
		return rc;
	return 1;
}

/* DECISIONS.md: a tract is ended only when the latest session commit on
 * its current branch (first parents from head) is an `end`. */
int tract_session_ended(int *out, tract_store *s, const char *tract_id, const char *head)
{
	session_probe p;
	int rc;

	*out = 0;
	if (!head || !head[0])
		return 0;
	memset(&p, 0, sizeof(p));
	p.s = s;
	rc = tract_chain_walk(s, tract_id, head, 0, 0, TRACT_TIME_NONE, session_probe_cb, &p,
	                      "find session commits", NULL);
	if (rc < 0)
		return rc;
	*out = p.ended;
	return 0;
}

/* ---- tracts of a store ---------------------------------------------------- */

int tract_store_tract_list(tract_info_list **out, tract_store *store)
{
	return tract_store_list_tracts(out, store);
}

static int info_copy(tract_info *dst, const tract_info *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->tract_id = strdup(src->tract_id);
	dst->display_name = dup_or_null(src->display_name);
	dst->head = dup_or_null(src->head);
	dst->branch = dup_or_null(src->branch);
	dst->parent_tract_id = dup_or_null(src->parent_tract_id);
	dst->commit_count = src->commit_count;
	dst->last_activity = src->last_activity;
	dst->is_active = src->is_active;
	if (!dst->tract_id || DUP_FAILED(dst->display_name, src->display_name) ||
	    DUP_FAILED(dst->head, src->head) || DUP_FAILED(dst->branch, src->branch) ||
	    DUP_FAILED(dst->parent_tract_id, src->parent_tract_id))
		return tract_error_oom();
	return 0;
}

void tract_info_free(tract_info *info)
{
	if (!info)
		return;
	free(info->tract_id);
	free(info->display_name);
	free(info->head);
	free(info->branch);
	free(info->parent_tract_id);
	free(info);
}

int tract_store_tract_get(tract_info **out, tract_store *store, const char *tract_id)
{
	tract_info_list *l = NULL;
	tract_info *info;
	size_t i;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_store_tract_get: out is NULL");
	*out = NULL;
	if (!store || !tract_id)
		return tract_error_set(TRACT_EINVAL, "tract_store_tract_get: NULL argument");
	rc = tract_store_list_tracts(&l, store);
	if (rc < 0)
		return rc;
	for (i = 0; i < l->count; i++)
		if (strcmp(l->items[i].tract_id, tract_id) == 0)
			break;
	if (i == l->count) {
		tract_info_list_free(l);
		return tract_error_set(TRACT_ENOTFOUND, "Tract not found: %s", tract_id);
	}
	info = calloc(1, sizeof(*info));
	rc = info ? info_copy(info, &l->items[i]) : tract_error_oom();
	tract_info_list_free(l);
	if (rc < 0) {
		tract_info_free(info);
		return rc;
	}
	*out = info;
	return 0;
}

/* ---- spawn pointers --------------------------------------------------------- */

typedef struct {
	tract_spawn_info *items;
	size_t count, cap;
} spawn_vec;

static void spawn_info_dispose(tract_spawn_info *i)
{
	free(i->parent_tract_id);
	free(i->parent_commit_hash);
	free(i->child_tract_id);
	free(i->purpose);
	free(i->inheritance_mode);
	free(i->display_name);
}

static int spawn_collect_cb(const tract_spawn_row *row, void *payload)
{
	spawn_vec *v = payload;
	tract_spawn_info *i;

	if (v->count == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 4;
		tract_spawn_info *p = realloc(v->items, ncap * sizeof(*p));
		if (!p)
			return TRACT_ENOMEM;
		v->items = p;
		v->cap = ncap;
	}
	i = &v->items[v->count++];
	memset(i, 0, sizeof(*i));
	i->spawn_id = row->id;
	i->parent_tract_id = dup_or_null(row->parent_tract_id);
	i->parent_commit_hash = dup_or_null(row->parent_commit_hash);
	i->child_tract_id = dup_or_null(row->child_tract_id);
	i->purpose = dup_or_null(row->purpose);
	i->inheritance_mode = dup_or_null(row->inheritance_mode);
	i->display_name = dup_or_null(row->display_name);
	i->created_at = row->created_at;
	if (DUP_FAILED(i->parent_tract_id, row->parent_tract_id) ||
	    DUP_FAILED(i->parent_commit_hash, row->parent_commit_hash) ||
	    DUP_FAILED(i->child_tract_id, row->child_tract_id) ||
	    DUP_FAILED(i->purpose, row->purpose) ||
	    DUP_FAILED(i->inheritance_mode, row->inheritance_mode) ||
	    DUP_FAILED(i->display_name, row->display_name))
		return TRACT_ENOMEM;
	return 0;
}

static void spawn_vec_dispose(spawn_vec *v)
{
	size_t i;

	for (i = 0; i < v->count; i++)
		spawn_info_dispose(&v->items[i]);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

/* The pointer of a child (the first one stored), inside a transaction:
 * *found 0 when none. */
static int pointer_of(tract_spawn_info *out, int *found, tract_store *s, const char *child)
{
	spawn_vec v = {0};
	int rc = s->be->spawn_by_child(s->conn, child, spawn_collect_cb, &v);

	*found = 0;
	if (rc < 0) {
		spawn_vec_dispose(&v);
		return rc == TRACT_ENOMEM ? tract_error_oom()
		                          : tract_backend_error(s, rc, "read spawn pointers");
	}
	if (v.count) {
		*out = v.items[0];
		*found = 1;
		for (size_t i = 1; i < v.count; i++)
			spawn_info_dispose(&v.items[i]);
	}
	free(v.items);
	return 0;
}

int tract_spawn_info_get(tract_spawn_info **out, tract_store *s, const char *child)
{
	tract_spawn_info info, *r;
	int rc, found = 0;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_spawn_info_get: out is NULL");
	*out = NULL;
	if (!s || !child)
		return tract_error_set(TRACT_EINVAL, "tract_spawn_info_get: NULL argument");
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = pointer_of(&info, &found, s, child);
	rc = tract_txn_end(s, rc);
	if (rc < 0)
		return rc;
	if (!found)
		return tract_error_set(TRACT_ENOTFOUND,
		                       "No spawn pointer found for child tract: %s", child);
	r = malloc(sizeof(*r));
	if (!r) {
		spawn_info_dispose(&info);
		return tract_error_oom();
	}
	*r = info;
	*out = r;
	return 0;
}

int tract_spawn_children_list(tract_spawn_info_list **out, tract_store *s, const char *parent)
{
	spawn_vec v = {0};
	tract_spawn_info_list *l;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_spawn_children_list: out is NULL");
	*out = NULL;
	if (!s || !parent)
		return tract_error_set(TRACT_EINVAL, "tract_spawn_children_list: NULL argument");
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = s->be->spawn_foreach(s->conn, parent, spawn_collect_cb, &v);
	if (rc < 0)
		rc = rc == TRACT_ENOMEM ? tract_error_oom()
		                        : tract_backend_error(s, rc, "read spawn pointers");
	rc = tract_txn_end(s, rc);
	l = rc < 0 ? NULL : malloc(sizeof(*l));
	if (rc == 0 && !l)
		rc = tract_error_oom();
	if (rc < 0) {
		spawn_vec_dispose(&v);
		return rc;
	}
	l->items = v.items;
	l->count = v.count;
	*out = l;
	return 0;
}

void tract_spawn_info_free(tract_spawn_info *info)
{
	if (!info)
		return;
	spawn_info_dispose(info);
	free(info);
}

void tract_spawn_info_list_free(tract_spawn_info_list *list)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < list->count; i++)
		spawn_info_dispose(&list->items[i]);
	free(list->items);
	free(list);
}

/* Iterative ancestry walk with a visited set (§6.4), in a transaction. */
static int has_ancestor_locked(int *out, tract_store *s, const char *id, const char *candidate)
{
	hmap visited = {0};
	char cur[65];
	int rc = 0;

	*out = 0;
	tract_copy_id(cur, id);
	for (;;) {
		tract_spawn_info info;
		int found;
		if (hmap_get(&visited, cur))
			break; /* a cycle of stored pointers */
		rc = hmap_put(&visited, cur, NULL);
		if (rc < 0)
			break;
		rc = pointer_of(&info, &found, s, cur);
		if (rc < 0 || !found)
			break;
		if (!info.parent_tract_id) {
			spawn_info_dispose(&info);
			break;
		}
		if (strcmp(info.parent_tract_id, candidate) == 0)
			*out = 1;
		tract_copy_id(cur, info.parent_tract_id);
		spawn_info_dispose(&info);
		if (*out)
			break;
	}
	hmap_dispose(&visited);
	return rc;
}

int tract_store_tract_has_ancestor(int *out, tract_store *s, const char *id, const char *candidate)
{
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_store_tract_has_ancestor: out is NULL");
	*out = 0;
	if (!s || !id || !candidate)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_store_tract_has_ancestor: NULL argument");
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = has_ancestor_locked(out, s, id, candidate);
	return tract_txn_end(s, rc);
}

/* ---- spawn ------------------------------------------------------------------ */

static const char *const inherit_names[] = {"head_snapshot", "full_clone", "selective"};

const char *tract_inherit_mode_name(tract_inherit_mode mode)
{
	return (unsigned)mode < 3 ? inherit_names[mode] : "unknown";
}

int tract_inherit_mode_parse(tract_inherit_mode *out, const char *name)
{
	int i;

	if (!out || !name)
		return tract_error_set(TRACT_EINVAL, "tract_inherit_mode_parse: NULL argument");
	for (i = 0; i < 3; i++)
		if (strcmp(name, inherit_names[i]) == 0) {
			*out = (tract_inherit_mode)i;
			return 0;
		}
	return tract_error_set(
	    TRACT_EINVAL, "Unknown inheritance mode: %s (head_snapshot, full_clone or selective)",
	    name);
}

int tract_spawn_options_init(tract_spawn_options *opts, unsigned int version)
{
	tract_spawn_options d = TRACT_SPAWN_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_spawn_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_SPAWN_OPTIONS_VERSION, "tract_spawn_options") < 0)
		return TRACT_EINVAL;
	*opts = d;
	opts->version = version;
	return 0;
}

/* One line of a transcript: "[role]: content". */
typedef struct {
	const char *role;
	const char *content;
	size_t len;
	int64_t tokens;
	int pinned;
	int dropped;
} line_t;

static int put_lines(tract_buf *b, const line_t *lines, size_t n)
{
	int rc = 0, first = 1;
	size_t i;

	for (i = 0; i < n; i++) {
		if (lines[i].dropped)
			continue;
		if (!first)
			rc |= tract_buf_putc(b, '\n');
		first = 0;
		rc |= tract_buf_printf(b, "[%s]: ", lines[i].role);
		rc |= tract_buf_put(b, lines[i].content, lines[i].len);
	}
	return rc ? tract_error_oom() : 0;
}

typedef struct {
	tract_priority p;
} prio_probe;

static int prio_cb(const tract_annotation_row *row, void *payload)
{
	((prio_probe *)payload)->p = row->priority; /* oldest first: the last wins */
	return 0;
}

/* The latest priority annotation of a commit (NONE when it has none). */
static int latest_priority(tract_priority *out, tract_store *s, const char *hash)
{
	prio_probe p = {TRACT_PRIORITY_NONE};
	int rc = s->be->annotation_list(s->conn, hash, prio_cb, &p);

	if (rc < 0)
		return tract_backend_error(s, rc, "read annotations");
	*out = p.p;
	return 0;
}

/*
 * head_snapshot text: the parent's compiled context as lines; with a
 * limit, the oldest non-pinned lines go first, then the oldest pinned
 * ones; the last line always stays (§6.3 with DECISIONS.md).
 */
static int snapshot_text(tract_buf *out, tract *parent, tract *child, int64_t max_tokens)
{
	tract_context *ctx = NULL;
	line_t *lines = NULL;
	size_t n, i;
	int rc;

	rc = tract_context_compile(&ctx, parent, NULL);
	if (rc < 0)
		return rc;
	n = tract_context_count(ctx);
	if (n == 0)
		goto done;
	lines = calloc(n, sizeof(*lines));
	if (!lines) {
		rc = tract_error_oom();
		goto done;
	}
	for (i = 0; i < n; i++) {
		lines[i].role = tract_context_role(ctx, i);
		lines[i].content = tract_context_content(ctx, i);
		lines[i].len = tract_context_content_len(ctx, i);
	}
	rc = put_lines(out, lines, n);
	if (rc < 0 || max_tokens < 0)
		goto done;
	{
		int64_t total = tract_count(child, out->ptr, out->len), est = 0;
		size_t kept = n, pass, k;
		if (total < 0) {
			rc = (int)total;
			goto done;
		}
		if (total <= max_tokens)
			goto done;
		for (i = 0; i < n; i++) {
			tract_priority p = TRACT_PRIORITY_NONE;
			char head[300];
			int hl = snprintf(head, sizeof(head), "[%s]: ", lines[i].role);
			int64_t a = tract_count(child, head, (size_t)hl),
			        c = tract_count(child, lines[i].content, lines[i].len);
			if (a < 0 || c < 0) {
				rc = (int)(a < 0 ? a : c);
				goto done;
			}
			lines[i].tokens = a + c + 1;
			est += lines[i].tokens;
			rc = latest_priority(&p, parent->store, tract_context_commit_hash(ctx, i));
			if (rc < 0)
				goto done;
			lines[i].pinned = p == TRACT_PRIORITY_PINNED;
		}
		/* Drop by estimate (per-line counts), then check exactly and go
		 * on one line at a time while the text is still too large. */
		for (pass = 0; pass < 2; pass++) {
			for (k = 0; k + 1 < n && kept > 1; k++) {
				if (lines[k].dropped || lines[k].pinned != (int)pass)
					continue;
				if (est <= max_tokens) {
					tract_buf_clear(out);
					rc = put_lines(out, lines, n);
					if (rc < 0)
						goto done;
					total = tract_count(child, out->ptr, out->len);
					if (total < 0) {
						rc = (int)total;
						goto done;
					}
					if (total <= max_tokens)
						goto done;
				}
				lines[k].dropped = 1;
				est -= lines[k].tokens;
				kept--;
			}
		}
		tract_buf_clear(out);
		rc = put_lines(out, lines, n);
	}
done:
	free(lines);
	tract_context_free(ctx);
	return rc;
}

/* Write a content JSON {"content_type":"instruction","text":...} of a text
 * that may hold U+0000. */
static int instruction_json(char **out, const char *text, size_t len)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc = tract_buf_puts(&b, "{\"content_type\": \"instruction\", \"text\": ");

	rc |= tract_json_escape(&b, text, len, 0);
	rc |= tract_buf_putc(&b, '}');
	return tract_buf_finish(out, &b, rc);
}

static int spawn_head_snapshot(tract *parent, tract *child, int64_t max_tokens)
{
	tract_buf text = TRACT_BUF_INIT;
	tract_commit_options co = TRACT_COMMIT_OPTIONS_INIT;
	char *json = NULL;
	int rc;

	rc = snapshot_text(&text, parent, child, max_tokens);
	if (rc == 0 && text.len) {
		rc = instruction_json(&json, text.ptr, text.len);
		co.message = "Inherited context from parent (head_snapshot)";
		if (rc == 0)
			rc = tract_commit_create(NULL, child, json, &co);
	}
	free(json);
	tract_buf_dispose(&text);
	return rc;
}

/* Commit rows of the parent, copied out. */
typedef struct {
	tract_row *rows;
	size_t count, cap;
	int rc;
} row_vec;

static int row_collect_cb(const tract_commit_row *row, void *payload)
{
	row_vec *v = payload;

	if (v->count == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 256;
		tract_row *p = realloc(v->rows, ncap * sizeof(*p));
		if (!p)
			return TRACT_ENOMEM;
		v->rows = p;
		v->cap = ncap;
	}
	if (tract_row_copy(&v->rows[v->count], row) < 0)
		return TRACT_ENOMEM;
	v->count++;
	return 0;
}

static void row_vec_dispose(row_vec *v)
{
	size_t i;

	for (i = 0; i < v->count; i++)
		tract_row_dispose(&v->rows[i]);
	free(v->rows);
	memset(v, 0, sizeof(*v));
}

/* Merge parents (position >= 1) of the copied commits. */
typedef struct {
	const hmap *members; /* hash -> index as decimal text */
	row_vec *rows;
	char **extra; /* per row: a block of 65-byte slots */
	size_t *n_extra;
	int rc;
} parents_ctx;

static int parent_row_cb(const char *commit_hash, const char *parent_hash, int64_t position,
                         void *payload)
{
	parents_ctx *c = payload;
	const char *idx;
	size_t i;
	char *p;

	if (position < 1 || !commit_hash || !parent_hash)
		return 0;
	idx = hmap_get(c->members, commit_hash);
	if (!idx)
		return 0;
	i = (size_t)strtoull(idx, NULL, 10);
	p = realloc(c->extra[i], (c->n_extra[i] + 1) * 65);
	if (!p)
		return TRACT_ENOMEM;
	c->extra[i] = p;
	tract_copy_id(p + c->n_extra[i] * 65, parent_hash);
	c->n_extra[i]++;
	return 0;
}

typedef struct {
	tract_store *s;
	const char *child_id;
	const hmap *map;
	int rc;
	tract_time now;
} replay_ctx;

static int replay_annotation_cb(const tract_annotation_row *row, void *payload)
{
	replay_ctx *c = payload;
	tract_annotation_row a;
	const char *to = hmap_get(c->map, row->target_hash);
	int rc;

	if (!to || row->priority == TRACT_PRIORITY_NONE)
		return 0;
	a = *row;
	a.id = 0;
	a.tract_id = c->child_id;
	a.target_hash = to;
	a.created_at = tract_time_now();
	rc = c->s->be->annotation_put(c->s->conn, &a, NULL);
	return rc < 0 ? (c->rc = tract_backend_error(c->s, rc, "copy annotation")) : 0;
}

/* Insert one copied commit: the parent's row with mapped links, new time,
 * new hash. */
static int put_copy(tract_store *s, tract *child, const tract_row *r, const char *parent,
                    const char *response_to, const char *const *extras, size_t n_extra,
                    char out_hash[65])
{
	tract_commit_hash_input hin;
	tract_commit_row row;
	size_t k;
	int rc;

	memset(&hin, 0, sizeof(hin));
	hin.content_hash = r->content_hash;
	hin.parent_hash = parent;
	hin.content_type = r->content_type;
	hin.operation = r->operation;
	hin.response_to = response_to;
	hin.created_at = tract_time_now();
	hin.extra_parents = extras;
	hin.n_extra = n_extra;
	rc = tract_commit_hash_compute(out_hash, &hin);
	if (rc < 0)
		return rc;
	memset(&row, 0, sizeof(row));
	row.commit_hash = out_hash;
	row.tract_id = child->id;
	row.parent_hash = parent;
	row.content_hash = r->content_hash;
	row.content_type = r->content_type;
	row.operation = r->operation;
	row.response_to = response_to;
	row.message = r->message;
	row.token_count = r->token_count;
	row.metadata_json = r->metadata;
	row.generation_config_json = r->config;
	row.created_at = hin.created_at;
	rc = s->be->commit_put(s->conn, &row);
	if (rc < 0)
		return tract_backend_error(s, rc, "copy commit");
	if (n_extra) {
		rc = s->be->parent_put(s->conn, out_hash, parent ? parent : "", 0);
		for (k = 0; rc == 0 && k < n_extra; k++)
			rc = s->be->parent_put(s->conn, out_hash, extras[k], (int64_t)k + 1);
		if (rc < 0)
			return tract_backend_error(s, rc, "copy merge parents");
	}
	return 0;
}

typedef struct {
	tract_store *s;
	const char *child_id;
	const hmap *map;
	int rc;
} refs_ctx;

static int copy_ref_cb(const tract_ref_row *row, void *payload)
{
	refs_ctx *c = payload;
	const char *to = NULL;
	int rc;

	if (row->commit_hash) {
		to = hmap_get(c->map, row->commit_hash);
		if (!to)
			return 0; /* a ref to a commit not copied */
	}
	rc = c->s->be->ref_cas(c->s->conn, c->child_id, row->ref_name, to,
	                       to ? NULL : row->symbolic_target, NULL);
	return rc < 0 ? (c->rc = tract_backend_error(c->s, rc, "copy ref")) : 0;
}

/* full_clone: every commit of the parent (every branch, unreachable ones
 * too), merge parents, edits (response_to mapped), annotations, refs. */
static int spawn_full_clone(tract *parent, tract *child)
{
	tract_store *s = parent->store;
	row_vec v = {0};
	hmap index = {0}, map = {0};
	char **extra = NULL;
	size_t *n_extra = NULL, *order = NULL, done = 0, i, k;
	unsigned char *placed = NULL;
	const char **ex = NULL;
	size_t ex_cap = 0;
	int rc;

	rc = s->be->commit_foreach(s->conn, parent->id, row_collect_cb, &v);
	if (rc < 0) {
		rc = rc == TRACT_ENOMEM ? tract_error_oom()
		                        : tract_backend_error(s, rc, "read the parent's commits");
		goto done;
	}
	if (v.count == 0)
		goto done;
	extra = calloc(v.count, sizeof(*extra));
	n_extra = calloc(v.count, sizeof(*n_extra));
	placed = calloc(v.count, 1);
	order = malloc(v.count * sizeof(*order));
	if (!extra || !n_extra || !placed || !order) {
		rc = tract_error_oom();
		goto done;
	}
	for (i = 0; i < v.count; i++) {
		char num[32];
		snprintf(num, sizeof(num), "%zu", i);
		if (hmap_put(&index, v.rows[i].hash, num) < 0) {
			rc = tract_error_oom();
			goto done;
		}
	}
	{
		parents_ctx pc = {&index, &v, extra, n_extra, 0};
		rc = s->be->parent_foreach(s->conn, parent_row_cb, &pc);
		if (rc < 0) {
			rc = rc == TRACT_ENOMEM ? tract_error_oom()
			                        : tract_backend_error(s, rc, "read merge parents");
			goto done;
		}
	}
	/* Parents first: rows come by time; one met before a commit it names
	 * waits for the next pass. */
	while (done < v.count) {
		size_t before = done;
		for (i = 0; i < v.count; i++) {
			const tract_row *r = &v.rows[i];
			const char *links[2] = {r->parent, r->response_to};
			char newhash[65];
			int ready = 1;
			if (placed[i])
				continue;
			for (k = 0; k < 2; k++)
				if (links[k] && hmap_get(&index, links[k]) &&
				    !hmap_get(&map, links[k]))
					ready = 0;
			for (k = 0; k < n_extra[i]; k++)
				if (hmap_get(&index, extra[i] + k * 65) &&
				    !hmap_get(&map, extra[i] + k * 65))
					ready = 0;
			if (!ready)
				continue;
			if (n_extra[i] > ex_cap) {
				const char **p = realloc(ex, n_extra[i] * sizeof(*p));
				if (!p) {
					rc = tract_error_oom();
					goto done;
				}
				ex = p;
				ex_cap = n_extra[i];
			}
			for (k = 0; k < n_extra[i]; k++) {
				const char *m = hmap_get(&map, extra[i] + k * 65);
				ex[k] = m ? m : extra[i] + k * 65;
			}
			rc = put_copy(s, child, r, r->parent ? hmap_get(&map, r->parent) : NULL,
			              r->response_to ? hmap_get(&map, r->response_to) : NULL, ex,
			              n_extra[i], newhash);
			if (rc < 0)
				goto done;
			if (hmap_put(&map, r->hash, newhash) < 0) {
				rc = tract_error_oom();
				goto done;
			}
			placed[i] = 1;
			order[done++] = i;
		}
		if (done == before) {
			rc = tract_error_set(TRACT_ECORRUPT,
			                     "full_clone: the parent's commits form a cycle");
			goto done;
		}
	}
	{
		replay_ctx rc2 = {s, child->id, &map, 0, 0};
		rc = s->be->annotation_foreach(s->conn, parent->id, replay_annotation_cb, &rc2);
		if (rc < 0) {
			rc = rc2.rc ? rc2.rc : tract_backend_error(s, rc, "read annotations");
			goto done;
		}
	}
	{
		refs_ctx rf = {s, child->id, &map, 0};
		rc = s->be->ref_foreach(s->conn, parent->id, NULL, copy_ref_cb, &rf);
		if (rc < 0) {
			rc = rf.rc ? rf.rc : tract_backend_error(s, rc, "read refs");
			goto done;
		}
	}
done:
	if (extra)
		for (i = 0; i < v.count; i++)
			free(extra[i]);
	free(extra);
	free(n_extra);
	free(placed);
	free(order);
	free(ex);
	hmap_dispose(&index);
	hmap_dispose(&map);
	row_vec_dispose(&v);
	return rc;
}

/* Hashes of the parent's current branch whose content type is listed. */
typedef struct {
	const tract_spawn_options *o;
	hmap *sel;
	int rc;
} type_probe;

static int type_probe_cb(const tract_chain_row *row, void *payload)
{
	type_probe *p = payload;
	size_t i;

	for (i = 0; i < p->o->n_content_types; i++)
		if (p->o->content_types[i] && row->commit.content_type &&
		    strcmp(p->o->content_types[i], row->commit.content_type) == 0)
			return hmap_put(p->sel, row->commit.commit_hash, NULL) < 0 ? TRACT_ENOMEM
			                                                           : 0;
	return 0;
}

static int row_get_cb(const tract_commit_row *row, void *payload)
{
	return tract_row_copy(payload, row) < 0 ? TRACT_ENOMEM : 0;
}

static int cmp_row_time(const void *a, const void *b)
{
	const tract_row *x = a, *y = b;

	if (x->created_at != y->created_at)
		return x->created_at < y->created_at ? -1 : 1;
	return strcmp(x->hash, y->hash);
}

/* selective: the named commits and those of the listed content types (on
 * the current branch), oldest first, as one linear chain. */
static int spawn_selective(tract *parent, tract *child, const char *head,
                           const tract_spawn_options *o)
{
	tract_store *s = parent->store;
	hmap sel = {0}, named = {0}, map = {0};
	row_vec v = {0};
	char last[65] = "", ref[300];
	size_t i;
	int rc = 0;

	for (i = 0; i < o->n_commits; i++) {
		char h[65];
		if (!o->commits[i]) {
			rc =
			    tract_error_set(TRACT_EINVAL, "selective spawn: commit %zu is NULL", i);
			goto done;
		}
		rc = tract_resolve_in_txn(h, parent, o->commits[i]);
		if (rc < 0)
			goto done;
		if (hmap_put(&sel, h, NULL) < 0 || hmap_put(&named, h, NULL) < 0) {
			rc = tract_error_oom();
			goto done;
		}
	}
	if (o->n_content_types && head[0]) {
		type_probe p = {o, &sel, 0};
		rc = tract_chain_walk(s, parent->id, head, 0, 0, TRACT_TIME_NONE, type_probe_cb, &p,
		                      "walk the parent's history", NULL);
		if (rc < 0)
			goto done;
	}
	for (i = 0; i < sel.cap; i++) {
		if (!sel.keys[i][0])
			continue;
		if (v.count == v.cap) {
			size_t ncap = v.cap ? v.cap * 2 : 16;
			tract_row *p = realloc(v.rows, ncap * sizeof(*p));
			if (!p) {
				rc = tract_error_oom();
				goto done;
			}
			v.rows = p;
			v.cap = ncap;
		}
		rc = s->be->commit_get(s->conn, parent->id, sel.keys[i], row_get_cb,
		                       &v.rows[v.count]);
		if (rc < 0) {
			rc = rc == TRACT_ENOMEM ? tract_error_oom()
			                        : tract_backend_error(s, rc, "read commit");
			goto done;
		}
		v.count++;
	}
	if (v.count > 1)
		qsort(v.rows, v.count, sizeof(*v.rows), cmp_row_time);
	for (i = 0; i < v.count; i++) {
		const tract_row *r = &v.rows[i];
		const char *rt = r->response_to ? hmap_get(&map, r->response_to) : NULL;
		char newhash[65];
		if (r->operation == TRACT_OP_EDIT && !rt) {
			if (hmap_get(&named, r->hash)) {
				rc = tract_error_set(
				    TRACT_EEDIT,
				    "selective spawn: edit %.12s is carried without "
				    "the commit it edits",
				    r->hash);
				goto done;
			}
			continue; /* an edit found by type, of a commit not carried */
		}
		rc = put_copy(s, child, r, last[0] ? last : NULL, rt, NULL, 0, newhash);
		if (rc < 0)
			goto done;
		if (hmap_put(&map, r->hash, newhash) < 0) {
			rc = tract_error_oom();
			goto done;
		}
		tract_copy_id(last, newhash);
		{
			replay_ctx rcx = {s, child->id, &map, 0, 0};
			rc = s->be->annotation_list(s->conn, r->hash, replay_annotation_cb, &rcx);
			if (rc < 0) {
				rc = rcx.rc ? rcx.rc
				            : tract_backend_error(s, rc, "read annotations");
				goto done;
			}
		}
	}
	if (last[0]) {
		snprintf(ref, sizeof(ref), "refs/heads/%s", child->default_branch);
		rc = s->be->ref_cas(s->conn, child->id, ref, last, NULL, NULL);
		if (rc == 0)
			rc = s->be->ref_cas(s->conn, child->id, "HEAD", NULL, ref, NULL);
		if (rc < 0)
			rc = tract_backend_error(s, rc, "set the child's branch");
	}
done:
	row_vec_dispose(&v);
	hmap_dispose(&sel);
	hmap_dispose(&named);
	hmap_dispose(&map);
	return rc;
}

static int spawn_validate(tract *parent, const tract_spawn_options *o)
{
	if (!parent)
		return tract_error_set(TRACT_EINVAL, "tract_spawn: parent is NULL");
	if (!o)
		return tract_error_set(TRACT_EINVAL, "spawn needs options with a purpose");
	if (tract_version_check(o->version, TRACT_SPAWN_OPTIONS_VERSION, "tract_spawn_options") < 0)
		return TRACT_EINVAL;
	if (!o->purpose)
		return tract_error_set(TRACT_EINVAL, "spawn needs a purpose");
	if (!tract_utf8_valid(o->purpose, strlen(o->purpose)))
		return tract_error_set(TRACT_EINVAL, "spawn: purpose is not valid UTF-8");
	if ((unsigned)o->inherit > TRACT_INHERIT_SELECTIVE)
		return tract_error_set(TRACT_EINVAL, "Unknown inheritance mode: %d",
		                       (int)o->inherit);
	if (o->inherit == TRACT_INHERIT_SELECTIVE && !o->n_commits && !o->n_content_types)
		return tract_error_set(
		    TRACT_EINVAL, "Selective inheritance needs commits or content types to carry");
	if ((o->n_commits && !o->commits) || (o->n_content_types && !o->content_types))
		return tract_error_set(TRACT_EINVAL, "spawn: a list is NULL with a non-zero count");
	return 0;
}

static int spawn_once(tract **out, tract *parent, const tract_spawn_options *o)
{
	tract_store *s = parent->store;
	tract_head_state hs;
	tract *child = NULL;
	char *text = NULL;
	tract_commit_options co = TRACT_COMMIT_OPTIONS_INIT;
	tract_spawn_row row;
	int rc;

	rc = tract_txn_begin(s, TRACT_TXN_WRITE);
	if (rc < 0)
		return rc;
	rc = tract_head_read(&hs, parent);
	if (rc == 0 && hs.head.exists && !hs.head.symbolic[0])
		rc = tract_error_set(TRACT_EDETACHED,
		                     "Cannot spawn from a parent in detached HEAD state (the spawn "
		                     "commit needs a branch)");
	if (rc == 0 && o->child_tract_id) {
		tract_spawn_info info;
		int found = 0, cyc = 0;
		rc = pointer_of(&info, &found, s, o->child_tract_id);
		if (rc == 0 && found) {
			spawn_info_dispose(&info);
			rc = tract_error_set(TRACT_EEXISTS, "tract %s already has a spawn pointer",
			                     o->child_tract_id);
		}
		if (rc == 0)
			rc = has_ancestor_locked(&cyc, s, parent->id, o->child_tract_id);
		if (rc == 0 && (cyc || strcmp(parent->id, o->child_tract_id) == 0))
			rc = tract_error_set(TRACT_EINVAL,
			                     "spawn: %s is an ancestor of %s (a cycle of spawn "
			                     "pointers)",
			                     o->child_tract_id, parent->id);
	}
	if (rc == 0)
		rc = tract_create(&child, s, o->child_tract_id, o->display_name, o->child_options);
	if (rc == 0) {
		size_t i;
		for (i = 0; rc == 0 && i < parent->types.count; i++)
			rc = tract_content_registry_add(&child->types, parent->types.types[i].name,
			                                parent->types.types[i].validate,
			                                parent->types.types[i].payload);
	}
	if (rc == 0) {
		switch (o->inherit) {
		case TRACT_INHERIT_HEAD_SNAPSHOT:
			if (hs.hash[0])
				rc = spawn_head_snapshot(parent, child, o->max_tokens);
			break;
		case TRACT_INHERIT_FULL_CLONE:
			rc = spawn_full_clone(parent, child);
			break;
		case TRACT_INHERIT_SELECTIVE:
			rc = spawn_selective(parent, child, hs.hash, o);
			break;
		}
	}
	if (rc == 0) {
		memset(&row, 0, sizeof(row));
		row.parent_tract_id = parent->id;
		row.parent_commit_hash = hs.hash[0] ? hs.hash : NULL;
		row.child_tract_id = child->id;
		row.purpose = o->purpose;
		row.inheritance_mode = tract_inherit_mode_name(o->inherit);
		row.display_name = o->display_name;
		row.created_at = tract_time_now();
		rc = s->be->spawn_put(s->conn, &row, NULL);
		if (rc < 0)
			rc = tract_backend_error(s, rc, "store spawn pointer");
	}
	if (rc == 0) {
		tract_buf b = TRACT_BUF_INIT, m = TRACT_BUF_INIT;
		int brc = tract_buf_printf(&b, "Spawned subagent for: %s", o->purpose) |
		          tract_buf_printf(&m, "spawn: %s", o->purpose);
		if (brc) {
			rc = tract_error_oom();
		} else {
			co.message = m.ptr;
			rc = tract_commit_create_dialogue(NULL, parent, "system", b.ptr, NULL, &co);
		}
		tract_buf_dispose(&b);
		tract_buf_dispose(&m);
	}
	rc = tract_txn_end(s, rc);
	tract_cache_sync(parent);
	free(text);
	if (rc < 0) {
		tract_free(child);
		return rc;
	}
	tract_cache_sync(child);
	*out = child;
	return 0;
}

int tract_spawn(tract **out, tract *parent, const tract_spawn_options *o)
{
	int rc, tries;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_spawn: out is NULL");
	*out = NULL;
	rc = spawn_validate(parent, o);
	if (rc < 0)
		return rc;
	/* A lost compare-and-swap (another writer moved the parent's branch)
	 * is retried from the start, outside a batch. */
	for (tries = 0;; tries++) {
		rc = spawn_once(out, parent, o);
		if (rc != TRACT_ESTALE || parent->store->txn_depth > 0 || tries >= 10)
			return rc;
	}
}

/* ---- collapse --------------------------------------------------------------- */

static const char *const collapse_mode_names[] = {"manual", "collaborative", "autonomous"};

const char *tract_collapse_mode_name(tract_collapse_mode mode)
{
	return (unsigned)mode < 3 ? collapse_mode_names[mode] : "unknown";
}

int tract_collapse_mode_parse(tract_collapse_mode *out, const char *name)
{
	int i;

	if (!out || !name)
		return tract_error_set(TRACT_EINVAL, "tract_collapse_mode_parse: NULL argument");
	for (i = 0; i < 3; i++)
		if (strcmp(name, collapse_mode_names[i]) == 0) {
			*out = (tract_collapse_mode)i;
			return 0;
		}
	return tract_error_set(
	    TRACT_EINVAL, "unknown collapse mode '%s' (manual, collaborative or autonomous)", name);
}

int tract_collapse_options_init(tract_collapse_options *opts, unsigned int version)
{
	tract_collapse_options d = TRACT_COLLAPSE_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_collapse_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_COLLAPSE_OPTIONS_VERSION, "tract_collapse_options") <
	    0)
		return TRACT_EINVAL;
	*opts = d;
	opts->version = version;
	return 0;
}

void tract_collapse_result_free(tract_collapse_result *r)
{
	if (!r)
		return;
	free(r->parent_commit_hash);
	free(r->child_tract_id);
	free(r->summary_text);
	free(r->purpose);
	free(r->source_head);
	free(r->since_head);
	free(r->draft_id);
	free(r);
}

/* The latest collapse of child in parent's history (first parents from
 * HEAD): found, its commit, the child head it summarized ("" when the child
 * was empty). */
typedef struct {
	const char *child;
	int found;
	char commit[65];
	char source[65];
} prev_probe;

static int prev_probe_cb(const tract_chain_row *row, void *payload)
{
	prev_probe *p = payload;
	const char *md = row->commit.metadata_json;
	cJSON *o;
	const cJSON *id, *src;

	if (!md || !strstr(md, "collapse_source_tract_id"))
		return 0;
	o = cJSON_Parse(md);
	id = cJSON_GetObjectItemCaseSensitive(o, "collapse_source_tract_id");
	if (!cJSON_IsString(id) || strcmp(id->valuestring, p->child) != 0) {
		cJSON_Delete(o);
		return 0;
	}
	src = cJSON_GetObjectItemCaseSensitive(o, "collapse_source_head");
	p->found = 1;
	tract_copy_id(p->commit, row->commit.commit_hash);
	tract_copy_id(p->source, cJSON_IsString(src) ? src->valuestring : "");
	cJSON_Delete(o);
	return 1;
}

static int previous_collapse(prev_probe *p, tract *parent, const char *child)
{
	tract_head_state hs;
	int rc;

	memset(p, 0, sizeof(*p));
	p->child = child;
	rc = tract_head_read(&hs, parent);
	if (rc < 0 || !hs.hash[0])
		return rc;
	return tract_chain_walk(parent->store, parent->id, hs.hash, 0, 0, TRACT_TIME_NONE,
	                        prev_probe_cb, p, "find the previous collapse", NULL);
}

/* The child's commits from head back to stop (excluded). */
typedef struct {
	hmap *set;
	const char *stop;
	int reached;
} span_probe;

static int span_cb(const tract_chain_row *row, void *payload)
{
	span_probe *p = payload;

	if (p->stop && p->stop[0] && strcmp(row->commit.commit_hash, p->stop) == 0) {
		p->reached = 1;
		return 1;
	}
	return hmap_put(p->set, row->commit.commit_hash, NULL) < 0 ? TRACT_ENOMEM : 0;
}

/* What a collapse is about to summarize, read at one instant. */
typedef struct {
	tract_spawn_info ptr;
	char head[65];  /* the child's HEAD, "" when empty */
	char since[65]; /* previous collapse's source head */
	int has_prev;
	tract_buf transcript;
	int64_t source_tokens;
} collapse_input;

static void collapse_input_dispose(collapse_input *in)
{
	spawn_info_dispose(&in->ptr);
	tract_buf_dispose(&in->transcript);
}

static int read_child_work(collapse_input *in, tract *parent, const char *child_id)
{
	tract_store *s = parent->store;
	tract *child = NULL;
	tract_head_state hs;
	tract_context *ctx = NULL;
	prev_probe prev;
	hmap set = {0};
	int rc, found = 0;

	rc = pointer_of(&in->ptr, &found, s, child_id);
	if (rc < 0)
		return rc;
	if (!found)
		return tract_error_set(TRACT_ENOTFOUND,
		                       "No spawn pointer found for child tract: %s", child_id);
	if (!in->ptr.parent_tract_id || strcmp(in->ptr.parent_tract_id, parent->id) != 0)
		return tract_error_set(
		    TRACT_EINVAL, "cannot collapse %s into %s: its parent is %s", child_id,
		    parent->id, in->ptr.parent_tract_id ? in->ptr.parent_tract_id : "unknown");
	rc = tract_open(&child, s, child_id, NULL);
	if (rc < 0)
		return rc;
	rc = tract_head_read(&hs, child);
	if (rc < 0)
		goto done;
	tract_copy_id(in->head, hs.hash);
	rc = previous_collapse(&prev, parent, child_id);
	if (rc < 0)
		goto done;
	in->has_prev = prev.found;
	tract_copy_id(in->since, prev.source);
	if (prev.found && strcmp(prev.source, in->head) == 0) {
		rc = tract_error_set(TRACT_EINVAL,
		                     "nothing to collapse: child %s has no new commit since its "
		                     "previous collapse (%.12s)",
		                     child_id, prev.commit);
		goto done;
	}
	if (!in->head[0])
		goto done;
	{
		span_probe sp = {&set, prev.found ? prev.source : NULL, 0};
		tract_compile_options co = TRACT_COMPILE_OPTIONS_INIT;
		size_t i, n, used = 0;
		/* A first collapse summarizes the whole child: no walk needed to
		 * know which commits are new. */
		if (prev.found)
			rc = tract_chain_walk(s, child_id, in->head, 0, 0, TRACT_TIME_NONE, span_cb,
			                      &sp, "walk the child's history", NULL);
		if (rc < 0)
			goto done;
		co.at_commit = in->head;
		rc = tract_context_compile(&ctx, child, &co);
		if (rc < 0)
			goto done;
		n = tract_context_count(ctx);
		for (i = 0; i < n; i++) {
			tract_msg *m = tract_context_msg(ctx, i);
			if (prev.found && !hmap_get(&set, tract_context_commit_hash(ctx, i)))
				continue;
			if (used++)
				rc |= tract_buf_putc(&in->transcript, '\n');
			rc |= tract_buf_printf(&in->transcript, "[%s]: ", m->role);
			rc |= tract_buf_put(&in->transcript, m->content, m->content_len);
			in->source_tokens += m->tokens;
		}
		if (rc)
			rc = tract_error_oom();
		if (used)
			in->source_tokens += 3;
	}
done:
	tract_context_free(ctx);
	hmap_dispose(&set);
	tract_free(child);
	return rc;
}

static const char collapse_system_prompt[] =
    "You summarize the work of a delegated subagent as a report for the agent that "
    "delegated it (its parent). Focus on outcomes, findings, decisions, artifacts "
    "produced, failures and blockers. Keep technical specifics: code snippets, "
    "configuration, exact values and error messages. Omit the subagent's internal "
    "reasoning unless it carries caveats the parent needs. Respect the target length "
    "when one is given. Begin with \"Subagent completed: \" followed by a one-line "
    "summary of the task.";

static int llm_summary(char **out, tract_llm *llm, const collapse_input *in,
                       const tract_collapse_options *o)
{
	tract_buf u = TRACT_BUF_INIT;
	tract_chat_message msgs[2];
	tract_chat_request req;
	tract_chat_result *res = NULL;
	const char *text;
	const char *p;
	int rc = tract_buf_puts(&u, "Purpose: ");

	for (p = in->ptr.purpose ? in->ptr.purpose : ""; *p; p++)
		rc |= tract_buf_putc(&u, (*p == '\n' || *p == '\r') ? ' ' : *p);
	rc |=
	    tract_buf_puts(&u, "\nSummarize the subagent's work on this task for its parent:\n\n");
	rc |= tract_buf_put(&u, in->transcript.ptr ? in->transcript.ptr : "", in->transcript.len);
	if (o->target_tokens > 0)
		rc |= tract_buf_printf(&u, "\nTarget length: approximately %" PRId64 " tokens.",
		                       o->target_tokens);
	if (o->instructions)
		rc |= tract_buf_printf(&u, "\nAdditional instructions: %s", o->instructions);
	if (rc) {
		tract_buf_dispose(&u);
		return tract_error_oom();
	}
	memset(msgs, 0, sizeof(msgs));
	msgs[0].role = "system";
	msgs[0].content = collapse_system_prompt;
	msgs[1].role = "user";
	msgs[1].content = u.ptr;
	memset(&req, 0, sizeof(req));
	req.version = TRACT_CHAT_REQUEST_VERSION;
	req.messages = msgs;
	req.n_messages = 2;
	rc = tract_llm_chat(&res, llm, &req);
	tract_buf_dispose(&u);
	if (rc < 0) {
		const tract_error *e = tract_error_last();
		return tract_error_set(rc, "LLM call failed during collapse: %s",
		                       e && e->message ? e->message : "unknown error");
	}
	text = tract_chat_result_text(res);
	if (!text || !text[strspn(text, " \t\r\n")]) {
		tract_chat_result_free(res);
		return tract_error_set(TRACT_EPROVIDER,
		                       "LLM call failed during collapse: the reply is empty");
	}
	*out = strdup(text);
	tract_chat_result_free(res);
	return *out ? 0 : tract_error_oom();
}

static int check_summary(const char *s)
{
	if (!s[strspn(s, " \t\r\n")])
		return tract_error_set(TRACT_EINVAL, "collapse: the summary is empty");
	if (!tract_utf8_valid(s, strlen(s)))
		return tract_error_set(TRACT_EINVAL, "collapse: the summary is not valid UTF-8");
	return 0;
}

/* Commit the collapse in parent (inside the caller's write transaction). */
static int commit_collapse(char out_hash[65], tract *parent, const char *child_id,
                           const char *purpose, const char *summary, const char *head,
                           const char *since, int has_prev)
{
	tract_commit_options co = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;
	tract_buf m = TRACT_BUF_INIT;
	cJSON *md = cJSON_CreateObject();
	char *mdtext = NULL;
	int rc;

	if (!md || !cJSON_AddStringToObject(md, "collapse_source_tract_id", child_id) ||
	    !(head[0] ? cJSON_AddStringToObject(md, "collapse_source_head", head)
	              : cJSON_AddNullToObject(md, "collapse_source_head")) ||
	    (has_prev && !(since[0] ? cJSON_AddStringToObject(md, "collapse_since_head", since)
	                            : cJSON_AddNullToObject(md, "collapse_since_head"))) ||
	    !(mdtext = cJSON_PrintUnformatted(md)) ||
	    tract_buf_printf(&m, "collapse: %s", purpose ? purpose : "")) {
		rc = tract_error_oom();
		goto done;
	}
	co.message = m.ptr;
	co.metadata_json = mdtext;
	rc = tract_commit_create_dialogue(&c, parent, "assistant", summary, NULL, &co);
	if (rc == 0)
		tract_copy_id(out_hash, tract_commit_hash(c));
done:
	tract_commit_free(c);
	cJSON_free(mdtext);
	cJSON_Delete(md);
	tract_buf_dispose(&m);
	return rc;
}

static int make_result(tract_collapse_result **out, const char *commit, const char *child_id,
                       const char *summary, int64_t summary_tokens, int64_t source_tokens,
                       const char *purpose, const char *head, const char *since, int has_prev,
                       const char *draft_id)
{
	tract_collapse_result *r = calloc(1, sizeof(*r));

	if (!r)
		return tract_error_oom();
	r->parent_commit_hash = commit && commit[0] ? strdup(commit) : NULL;
	r->child_tract_id = strdup(child_id);
	r->summary_text = strdup(summary);
	r->summary_tokens = summary_tokens;
	r->source_tokens = source_tokens;
	r->purpose = strdup(purpose ? purpose : "");
	r->source_head = strdup(head);
	r->since_head = has_prev ? strdup(since) : NULL;
	r->draft_id = dup_or_null(draft_id);
	if ((commit && commit[0] && !r->parent_commit_hash) || !r->child_tract_id ||
	    !r->summary_text || !r->purpose || !r->source_head || (has_prev && !r->since_head) ||
	    DUP_FAILED(r->draft_id, draft_id)) {
		tract_collapse_result_free(r);
		return tract_error_oom();
	}
	*out = r;
	return 0;
}

#define DRAFT_KEY "collapse_draft:"

static void random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t x = (uint64_t)tract_time_now() * 6364136223846793005ULL ^ (uint64_t)(uintptr_t)out;
	size_t i;
	FILE *f = fopen("/dev/urandom", "rb");
	unsigned char b[32] = {0};

	if (nbytes > sizeof(b))
		nbytes = sizeof(b);
	if (!f || fread(b, 1, nbytes, f) != nbytes)
		for (i = 0; i < nbytes;
		     i++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
			b[i] = (unsigned char)(x >> 56);
	if (f)
		fclose(f);
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
}

static int store_draft(char id[33], tract *parent, const char *child_id, const collapse_input *in,
                       const char *summary)
{
	tract_store *s = parent->store;
	cJSON *d = cJSON_CreateObject();
	char key[200], *text = NULL;
	int rc;

	random_hex(id, 16);
	if (!d || !cJSON_AddStringToObject(d, "child_tract_id", child_id) ||
	    !cJSON_AddStringToObject(d, "purpose", in->ptr.purpose ? in->ptr.purpose : "") ||
	    !cJSON_AddStringToObject(d, "summary", summary) ||
	    !cJSON_AddStringToObject(d, "source_head", in->head) ||
	    !(in->has_prev ? cJSON_AddStringToObject(d, "since_head", in->since)
	                   : cJSON_AddNullToObject(d, "since_head")) ||
	    !cJSON_AddNumberToObject(d, "source_tokens", (double)in->source_tokens) ||
	    !(text = cJSON_PrintUnformatted(d))) {
		cJSON_Delete(d);
		return tract_error_oom();
	}
	cJSON_Delete(d);
	snprintf(key, sizeof(key), "tract:%s:" DRAFT_KEY "%s", parent->id, id);
	rc = s->be->meta_set(s->conn, key, text);
	cJSON_free(text);
	return rc < 0 ? tract_backend_error(s, rc, "store collapse draft") : 0;
}

int tract_collapse(tract_collapse_result **out, tract *parent, const char *child_id,
                   const tract_collapse_options *o)
{
	tract_collapse_options defaults = TRACT_COLLAPSE_OPTIONS_INIT;
	collapse_input in;
	char *summary = NULL, commit[65] = "", draft[33] = "";
	int64_t stoks;
	int rc, tries;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_collapse: out is NULL");
	*out = NULL;
	if (!parent || !child_id)
		return tract_error_set(TRACT_EINVAL, "tract_collapse: NULL argument");
	if (!o)
		o = &defaults;
	if (tract_version_check(o->version, TRACT_COLLAPSE_OPTIONS_VERSION,
	                        "tract_collapse_options") < 0)
		return TRACT_EINVAL;
	if ((unsigned)o->mode > TRACT_COLLAPSE_AUTONOMOUS)
		return tract_error_set(TRACT_EINVAL, "unknown collapse mode %d", (int)o->mode);
	if (o->mode == TRACT_COLLAPSE_MANUAL && !o->summary)
		return tract_error_set(TRACT_EINVAL,
		                       "manual collapse needs a summary (it never calls an LLM)");
	if (!o->summary && !o->llm)
		return tract_error_set(TRACT_EINVAL,
		                       "Cannot collapse without content or LLM client.");
	if (o->summary && (rc = check_summary(o->summary)) < 0)
		return rc;
	if (o->instructions && !tract_utf8_valid(o->instructions, strlen(o->instructions)))
		return tract_error_set(TRACT_EINVAL, "collapse: instructions are not valid UTF-8");

	memset(&in, 0, sizeof(in));
	/* The child's HEAD and its work, at one instant. */
	rc = tract_txn_begin(parent->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = read_child_work(&in, parent, child_id);
	rc = tract_txn_end(parent->store, rc);
	if (rc < 0)
		goto done;
	if (o->summary) {
		summary = strdup(o->summary);
		if (!summary)
			rc = tract_error_oom();
	} else {
		rc = llm_summary(&summary, o->llm, &in, o);
		if (rc == 0)
			rc = check_summary(summary);
	}
	if (rc < 0)
		goto done;
	stoks = tract_count(parent, summary, strlen(summary));
	if (stoks < 0) {
		rc = (int)stoks;
		goto done;
	}
	for (tries = 0;; tries++) {
		prev_probe prev;
		rc = tract_txn_begin(parent->store, TRACT_TXN_WRITE);
		if (rc < 0)
			goto done;
		/* Another collapse of this child since we read it: refuse to
		 * summarize the same work twice. */
		rc = previous_collapse(&prev, parent, child_id);
		if (rc == 0 && (prev.found != in.has_prev || strcmp(prev.source, in.since) != 0))
			rc = tract_error_set(TRACT_ESTALE,
			                     "child %s was collapsed by another writer meanwhile",
			                     child_id);
		if (rc == 0 && o->mode == TRACT_COLLAPSE_COLLABORATIVE)
			rc = store_draft(draft, parent, child_id, &in, summary);
		else if (rc == 0)
			rc = commit_collapse(commit, parent, child_id, in.ptr.purpose, summary,
			                     in.head, in.since, in.has_prev);
		rc = tract_txn_end(parent->store, rc);
		tract_cache_sync(parent);
		if (rc != TRACT_ESTALE || parent->store->txn_depth > 0 || tries >= 10 ||
		    (prev.found != in.has_prev || strcmp(prev.source, in.since) != 0))
			break;
		commit[0] = '\0';
	}
	if (rc == 0)
		rc = make_result(out, commit, child_id, summary, stoks, in.source_tokens,
		                 in.ptr.purpose, in.head, in.since, in.has_prev,
		                 draft[0] ? draft : NULL);
done:
	free(summary);
	collapse_input_dispose(&in);
	return rc;
}

/* ---- drafts ------------------------------------------------------------------ */

static int draft_key(char *key, size_t len, tract *parent, const char *id)
{
	size_t i, n = id ? strlen(id) : 0;

	if (n == 0 || n > 64)
		return tract_error_set(TRACT_EINVAL, "invalid collapse draft id");
	for (i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", id[i]))
			return tract_error_set(TRACT_EINVAL, "invalid collapse draft id '%s'", id);
	snprintf(key, len, "tract:%s:" DRAFT_KEY "%s", parent->id, id);
	return 0;
}

typedef struct {
	char *text;
} meta_text;

static int meta_text_cb(const char *key, const char *value, void *payload)
{
	meta_text *m = payload;

	(void)key;
	m->text = value ? strdup(value) : NULL;
	return m->text ? 0 : TRACT_ENOMEM;
}

/* Parse a stored draft into a result (no commit). */
static int draft_parse(tract_collapse_result **out, tract *parent, const char *id, const char *text)
{
	cJSON *d = cJSON_Parse(text);
	const cJSON *child = cJSON_GetObjectItemCaseSensitive(d, "child_tract_id"),
	            *purpose = cJSON_GetObjectItemCaseSensitive(d, "purpose"),
	            *summary = cJSON_GetObjectItemCaseSensitive(d, "summary"),
	            *head = cJSON_GetObjectItemCaseSensitive(d, "source_head"),
	            *since = cJSON_GetObjectItemCaseSensitive(d, "since_head"),
	            *stoks = cJSON_GetObjectItemCaseSensitive(d, "source_tokens");
	int64_t n;
	int rc;

	if (!cJSON_IsString(child) || !cJSON_IsString(summary) || !cJSON_IsString(head) ||
	    !cJSON_IsString(purpose)) {
		cJSON_Delete(d);
		return tract_error_set(TRACT_ECORRUPT, "collapse draft %s is malformed", id);
	}
	n = tract_count(parent, summary->valuestring, strlen(summary->valuestring));
	/* since_head: a string (maybe "") after a previous collapse, null for
	 * a first collapse. */
	rc = n < 0 ? (int)n
	           : make_result(out, NULL, child->valuestring, summary->valuestring, n,
	                         cJSON_IsNumber(stoks) ? (int64_t)stoks->valuedouble : 0,
	                         purpose->valuestring, head->valuestring,
	                         cJSON_IsString(since) ? since->valuestring : "",
	                         cJSON_IsString(since), id);
	cJSON_Delete(d);
	return rc;
}

static int read_draft(char **text, tract *parent, const char *key, const char *id)
{
	tract_store *s = parent->store;
	meta_text m = {NULL};
	int rc = s->be->meta_get(s->conn, key, meta_text_cb, &m);

	if (rc == TRACT_ENOTFOUND)
		return tract_error_set(TRACT_ENOTFOUND, "no collapse draft %s in tract %s", id,
		                       parent->id);
	if (rc < 0) {
		free(m.text);
		return rc == TRACT_ENOMEM ? tract_error_oom()
		                          : tract_backend_error(s, rc, "read collapse draft");
	}
	*text = m.text;
	return 0;
}

typedef struct {
	const char *target;
	int found;
} find_probe;

static int find_cb(const tract_chain_row *row, void *payload)
{
	find_probe *p = payload;

	if (strcmp(row->commit.commit_hash, p->target) == 0) {
		p->found = 1;
		return 1;
	}
	return 0;
}

int tract_collapse_draft_approve(tract_collapse_result **out, tract *parent, const char *id,
                                 const char *summary)
{
	tract_collapse_result *r = NULL;
	char key[200], *text = NULL, commit[65] = "";
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_collapse_draft_approve: out is NULL");
	*out = NULL;
	if (!parent)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_collapse_draft_approve: parent is NULL");
	rc = draft_key(key, sizeof(key), parent, id);
	if (rc < 0)
		return rc;
	if (summary && (rc = check_summary(summary)) < 0)
		return rc;
	rc = tract_txn_begin(parent->store, TRACT_TXN_WRITE);
	if (rc < 0)
		return rc;
	rc = read_draft(&text, parent, key, id);
	if (rc == 0)
		rc = draft_parse(&r, parent, id, text);
	if (rc == 0 && summary) {
		int64_t n = tract_count(parent, summary, strlen(summary));
		char *dup = strdup(summary);
		if (n < 0 || !dup) {
			free(dup);
			rc = n < 0 ? (int)n : tract_error_oom();
		} else {
			free(r->summary_text);
			r->summary_text = dup;
			r->summary_tokens = n;
		}
	}
	if (rc == 0) {
		/* The range must be what the draft summarized: no collapse of
		 * the child since, and its history still holds the head. */
		prev_probe prev;
		rc = previous_collapse(&prev, parent, r->child_tract_id);
		if (rc == 0 && (prev.found != (r->since_head != NULL) ||
		                (r->since_head && strcmp(prev.source, r->since_head) != 0)))
			rc = tract_error_set(TRACT_ESTALE,
			                     "collapse draft %s is stale: child %s was collapsed "
			                     "since",
			                     id, r->child_tract_id);
	}
	if (rc == 0 && r->source_head[0]) {
		tract_ref_value head, br;
		find_probe fp = {r->source_head, 0};
		rc = tract_ref_read(&head, parent->store, r->child_tract_id, "HEAD");
		if (rc == 0 && head.exists && head.symbolic[0]) {
			rc = tract_ref_read(&br, parent->store, r->child_tract_id, head.symbolic);
			if (rc == 0)
				head = br;
		}
		if (rc == 0 && head.exists && head.commit[0])
			rc = tract_chain_walk(parent->store, r->child_tract_id, head.commit, 0, 0,
			                      TRACT_TIME_NONE, find_cb, &fp,
			                      "walk the child's history", NULL);
		if (rc == 0 && !fp.found)
			rc = tract_error_set(TRACT_ESTALE,
			                     "collapse draft %s is stale: child %s no longer holds "
			                     "commit %.12s",
			                     id, r->child_tract_id, r->source_head);
	}
	if (rc == 0)
		rc = commit_collapse(commit, parent, r->child_tract_id, r->purpose, r->summary_text,
		                     r->source_head, r->since_head ? r->since_head : "",
		                     r->since_head != NULL);
	if (rc == 0) {
		rc = parent->store->be->meta_delete(parent->store->conn, key);
		if (rc < 0)
			rc = tract_backend_error(parent->store, rc, "remove collapse draft");
	}
	rc = tract_txn_end(parent->store, rc);
	tract_cache_sync(parent);
	free(text);
	if (rc == 0) {
		r->parent_commit_hash = strdup(commit);
		free(r->draft_id);
		r->draft_id = NULL;
		if (!r->parent_commit_hash)
			rc = tract_error_oom();
	}
	if (rc < 0) {
		tract_collapse_result_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int tract_collapse_draft_discard(tract *parent, const char *id)
{
	char key[200], *text = NULL;
	int rc;

	if (!parent)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_collapse_draft_discard: parent is NULL");
	rc = draft_key(key, sizeof(key), parent, id);
	if (rc < 0)
		return rc;
	rc = tract_txn_begin(parent->store, TRACT_TXN_WRITE);
	if (rc < 0)
		return rc;
	rc = read_draft(&text, parent, key, id);
	if (rc == 0) {
		rc = parent->store->be->meta_delete(parent->store->conn, key);
		if (rc < 0)
			rc = tract_backend_error(parent->store, rc, "remove collapse draft");
	}
	free(text);
	return tract_txn_end(parent->store, rc);
}

typedef struct {
	tract *parent;
	tract_collapse_result **items;
	size_t count, cap;
	int rc;
} draft_vec;

static int draft_list_cb(const char *key, const char *value, void *payload)
{
	draft_vec *v = payload;
	const char *id = strstr(key, DRAFT_KEY);
	tract_collapse_result *r = NULL;

	if (!id || !value)
		return 0;
	id += strlen(DRAFT_KEY);
	if (v->count == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 4;
		tract_collapse_result **p = realloc(v->items, ncap * sizeof(*p));
		if (!p)
			return (v->rc = tract_error_oom());
		v->items = p;
		v->cap = ncap;
	}
	v->rc = draft_parse(&r, v->parent, id, value);
	if (v->rc < 0)
		return v->rc;
	v->items[v->count++] = r;
	return 0;
}

int tract_collapse_draft_list(tract_collapse_result ***out, size_t *count, tract *parent)
{
	draft_vec v = {parent, NULL, 0, 0, 0};
	char prefix[120];
	size_t i;
	int rc;

	if (!out || !count)
		return tract_error_set(TRACT_EINVAL, "tract_collapse_draft_list: NULL argument");
	*out = NULL;
	*count = 0;
	if (!parent)
		return tract_error_set(TRACT_EINVAL, "tract_collapse_draft_list: parent is NULL");
	snprintf(prefix, sizeof(prefix), "tract:%s:" DRAFT_KEY, parent->id);
	rc = tract_txn_begin(parent->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = parent->store->be->meta_foreach(parent->store->conn, prefix, draft_list_cb, &v);
	if (rc < 0)
		rc = v.rc ? v.rc : tract_backend_error(parent->store, rc, "list collapse drafts");
	rc = tract_txn_end(parent->store, rc);
	if (rc < 0) {
		for (i = 0; i < v.count; i++)
			tract_collapse_result_free(v.items[i]);
		free(v.items);
		return rc;
	}
	*out = v.items;
	*count = v.count;
	return 0;
}

/* ---- expand ------------------------------------------------------------------- */

typedef struct {
	int n;
	tract_row row;
} commit_probe;

static int commit_probe_cb(const tract_commit_row *row, void *payload)
{
	commit_probe *p = payload;

	if (p->n++ == 0 && tract_row_copy(&p->row, row) < 0)
		return TRACT_ENOMEM;
	return 0;
}

void tract_expansion_free(tract_expansion *x)
{
	if (!x)
		return;
	free(x->parent_tract_id);
	free(x->child_tract_id);
	free(x->purpose);
	free(x->source_head);
	free(x->since_head);
	tract_commit_list_free(x->commits);
	free(x);
}

int tract_expand(tract_expansion **out, tract_store *s, const char *ref)
{
	commit_probe p;
	tract_expansion *x = NULL;
	cJSON *md = NULL;
	const cJSON *id, *src, *since;
	char lower[65];
	size_t i, n;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_expand: out is NULL");
	*out = NULL;
	if (!s || !ref)
		return tract_error_set(TRACT_EINVAL, "tract_expand: NULL argument");
	n = strlen(ref);
	if (n < 4 || n > 64)
		return tract_error_set(TRACT_EINVAL,
		                       "expand needs a commit hash or a prefix of at least 4 hex "
		                       "digits, not '%s'",
		                       ref);
	for (i = 0; i < n; i++) {
		char c = ref[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!strchr("0123456789abcdef", c) || !c)
			return tract_error_set(TRACT_EINVAL, "not a commit hash: '%s'", ref);
		lower[i] = c;
	}
	lower[n] = '\0';
	memset(&p, 0, sizeof(p));
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = s->be->commit_prefix(s->conn, NULL, lower, 2, commit_probe_cb, &p);
	if (rc < 0)
		rc = rc == TRACT_ENOMEM ? tract_error_oom()
		                        : tract_backend_error(s, rc, "find commit");
	else if (p.n == 0)
		rc = tract_error_set(TRACT_ENOTFOUND, "Commit not found: %s", ref);
	else if (p.n > 1)
		rc = tract_error_set(TRACT_EAMBIGUOUS, "ambiguous commit prefix '%s'", ref);
	if (rc == 0) {
		md = p.row.metadata ? cJSON_Parse(p.row.metadata) : NULL;
		id = cJSON_GetObjectItemCaseSensitive(md, "collapse_source_tract_id");
		if (!cJSON_IsString(id))
			rc = tract_error_set(TRACT_EINVAL,
			                     "Commit %s is not a collapse commit (no "
			                     "collapse_source_tract_id in metadata)",
			                     p.row.hash);
	}
	if (rc == 0) {
		tract_spawn_info info;
		int found = 0;
		src = cJSON_GetObjectItemCaseSensitive(md, "collapse_source_head");
		since = cJSON_GetObjectItemCaseSensitive(md, "collapse_since_head");
		x = calloc(1, sizeof(*x));
		if (!x) {
			rc = tract_error_oom();
		} else {
			tract_copy_id(x->collapse_commit, p.row.hash);
			x->parent_tract_id = strdup(p.row.tract_id);
			x->child_tract_id = strdup(id->valuestring);
			x->source_head = cJSON_IsString(src) ? strdup(src->valuestring) : NULL;
			x->since_head = cJSON_IsString(since) ? strdup(since->valuestring) : NULL;
			if (!x->parent_tract_id || !x->child_tract_id ||
			    (cJSON_IsString(src) && !x->source_head) ||
			    (cJSON_IsString(since) && !x->since_head))
				rc = tract_error_oom();
		}
		if (rc == 0)
			rc = pointer_of(&info, &found, s, x->child_tract_id);
		if (rc == 0 && found) {
			x->purpose = info.purpose;
			info.purpose = NULL;
			spawn_info_dispose(&info);
		}
	}
	rc = tract_txn_end(s, rc);
	cJSON_Delete(md);
	tract_row_dispose(&p.row);
	if (rc == 0) {
		x->commits = calloc(1, sizeof(*x->commits));
		if (!x->commits)
			rc = tract_error_oom();
	}
	if (rc == 0 && x->source_head) {
		tract *child = NULL;
		tract_log_options lo = TRACT_LOG_OPTIONS_INIT;
		tract_commit_list *l = NULL;
		rc = tract_open(&child, s, x->child_tract_id, NULL);
		lo.start = x->source_head;
		if (rc == 0)
			rc = tract_log_list(&l, child, &lo);
		if (rc == 0) {
			size_t keep = l->count;
			for (i = 0; i < l->count; i++)
				if (x->since_head &&
				    strcmp(tract_commit_hash(l->items[i]), x->since_head) == 0) {
					keep = i;
					break;
				}
			for (i = keep; i < l->count; i++)
				tract_commit_free(l->items[i]);
			l->count = keep;
			tract_commit_list_free(x->commits);
			x->commits = l;
		}
		tract_free(child);
	}
	if (rc < 0) {
		tract_expansion_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

/* ---- sessions ------------------------------------------------------------------ */

static cJSON *str_array(const char *const *items, size_t n, int *bad)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; a && i < n; i++) {
		cJSON *s;
		if (!items[i]) {
			*bad = 1;
			break;
		}
		s = cJSON_CreateString(items[i]);
		if (!s) {
			cJSON_Delete(a);
			return NULL;
		}
		cJSON_AddItemToArray(a, s);
	}
	return a;
}

int tract_commit_create_session(tract_commit **out, tract *t, const tract_session_content *sc,
                                const tract_commit_options *opts)
{
	cJSON *o = NULL, *a;
	char *json = NULL;
	int rc, bad = 0;

	if (out)
		*out = NULL;
	if (!t || !sc)
		return tract_error_set(TRACT_EINVAL, "tract_commit_create_session: NULL argument");
	if (tract_version_check(sc->version, TRACT_SESSION_CONTENT_VERSION,
	                        "tract_session_content") < 0)
		return TRACT_EINVAL;
	if (!sc->session_type || !sc->summary)
		return tract_error_set(TRACT_EINVAL,
		                       "a session commit needs a session_type and a summary");
	if ((sc->n_decisions && !sc->decisions) ||
	    (sc->n_failed_approaches && !sc->failed_approaches) ||
	    (sc->n_next_steps && !sc->next_steps))
		return tract_error_set(TRACT_EINVAL,
		                       "tract_commit_create_session: a list is NULL with a "
		                       "non-zero count");
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "content_type", "session") ||
	    !cJSON_AddStringToObject(o, "session_type", sc->session_type) ||
	    !cJSON_AddStringToObject(o, "summary", sc->summary))
		goto oom;
	if (!(a = str_array(sc->decisions, sc->n_decisions, &bad)))
		goto oom;
	cJSON_AddItemToObject(o, "decisions", a);
	if (!(a = str_array(sc->failed_approaches, sc->n_failed_approaches, &bad)))
		goto oom;
	cJSON_AddItemToObject(o, "failed_approaches", a);
	if (!(a = str_array(sc->next_steps, sc->n_next_steps, &bad)))
		goto oom;
	cJSON_AddItemToObject(o, "next_steps", a);
	if (bad) {
		cJSON_Delete(o);
		return tract_error_set(TRACT_EINVAL, "a session list item is NULL");
	}
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!json)
		return tract_error_oom();
	rc = tract_commit_create(out, t, json, opts);
	cJSON_free(json);
	return rc;
oom:
	cJSON_Delete(o);
	return tract_error_oom();
}

/* ---- resume --------------------------------------------------------------------- */

int tract_resume(tract **out, tract_store *s, const tract_open_options *opts)
{
	tract_info_list *l = NULL;
	const tract_info *pick = NULL;
	size_t i;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_resume: out is NULL");
	*out = NULL;
	if (!s)
		return tract_error_set(TRACT_EINVAL, "tract_resume: store is NULL");
	rc = tract_store_list_tracts(&l, s);
	if (rc < 0)
		return rc;
	/* Most recently active first; roots before children. */
	for (i = 0; i < l->count && !pick; i++)
		if (l->items[i].commit_count > 0 && l->items[i].is_active &&
		    !l->items[i].parent_tract_id)
			pick = &l->items[i];
	for (i = 0; i < l->count && !pick; i++)
		if (l->items[i].commit_count > 0 && l->items[i].is_active)
			pick = &l->items[i];
	if (!pick)
		rc = tract_error_set(TRACT_ENOTFOUND, "no active tract to resume");
	else
		rc = tract_open(out, s, pick->tract_id, opts);
	tract_info_list_free(l);
	return rc;
}

/* ---- JSON documents ------------------------------------------------------------ */

static int put_s(tract_buf *b, const char *key, const char *v, int first)
{
	int rc = tract_buf_printf(b, "%s\"%s\": ", first ? "" : ", ", key);

	if (!v)
		return rc | tract_buf_puts(b, "null");
	return rc | tract_json_escape(b, v, strlen(v), 0);
}

static int put_i(tract_buf *b, const char *key, int64_t v)
{
	return tract_buf_printf(b, ", \"%s\": %" PRId64, key, v);
}

static int put_time(tract_buf *b, const char *key, tract_time t)
{
	char when[TRACT_TIME_BUFSIZE];

	if (t == TRACT_TIME_NONE || tract_time_format(when, sizeof(when), t) < 0)
		return put_s(b, key, NULL, 0);
	return put_s(b, key, when, 0);
}

int tract_spawn_info_to_json(char **out, const tract_spawn_info *i)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	if (!out || !i)
		return tract_error_set(TRACT_EINVAL, "tract_spawn_info_to_json: NULL argument");
	*out = NULL;
	rc = tract_buf_printf(&b, "{\"spawn_id\": %" PRId64, i->spawn_id);
	rc |= put_s(&b, "parent_tract_id", i->parent_tract_id, 0);
	rc |= put_s(&b, "parent_commit_hash", i->parent_commit_hash, 0);
	rc |= put_s(&b, "child_tract_id", i->child_tract_id, 0);
	rc |= put_s(&b, "purpose", i->purpose, 0);
	rc |= put_s(&b, "inheritance_mode", i->inheritance_mode, 0);
	rc |= put_s(&b, "display_name", i->display_name, 0);
	rc |= put_time(&b, "created_at", i->created_at);
	rc |= tract_buf_putc(&b, '}');
	return tract_buf_finish(out, &b, rc);
}

int tract_collapse_result_to_json(char **out, const tract_collapse_result *r)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	if (!out || !r)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_collapse_result_to_json: NULL argument");
	*out = NULL;
	rc = tract_buf_putc(&b, '{');
	rc |= put_s(&b, "parent_commit_hash", r->parent_commit_hash, 1);
	rc |= put_s(&b, "child_tract_id", r->child_tract_id, 0);
	rc |= put_s(&b, "summary_text", r->summary_text, 0);
	rc |= put_i(&b, "summary_tokens", r->summary_tokens);
	rc |= put_i(&b, "source_tokens", r->source_tokens);
	rc |= put_s(&b, "purpose", r->purpose, 0);
	rc |= put_s(&b, "source_head", r->source_head && r->source_head[0] ? r->source_head : NULL,
	            0);
	rc |= put_s(&b, "since_head", r->since_head && r->since_head[0] ? r->since_head : NULL, 0);
	rc |= put_s(&b, "draft_id", r->draft_id, 0);
	rc |= tract_buf_putc(&b, '}');
	return tract_buf_finish(out, &b, rc);
}

int tract_expansion_to_json(char **out, const tract_expansion *x)
{
	tract_buf b = TRACT_BUF_INIT;
	char *commits = NULL;
	int rc;

	if (!out || !x)
		return tract_error_set(TRACT_EINVAL, "tract_expansion_to_json: NULL argument");
	*out = NULL;
	rc = tract_commit_list_to_json(&commits, x->commits, TRACT_COMMIT_JSON_CONTENT);
	if (rc < 0)
		return rc;
	rc = tract_buf_putc(&b, '{');
	rc |= put_s(&b, "collapse_commit", x->collapse_commit, 1);
	rc |= put_s(&b, "parent_tract_id", x->parent_tract_id, 0);
	rc |= put_s(&b, "child_tract_id", x->child_tract_id, 0);
	rc |= put_s(&b, "purpose", x->purpose, 0);
	rc |= put_s(&b, "source_head", x->source_head, 0);
	rc |= put_s(&b, "since_head", x->since_head, 0);
	rc |= tract_buf_printf(&b, ", \"commits\": %s}", commits);
	tract_string_free(commits);
	return tract_buf_finish(out, &b, rc);
}
