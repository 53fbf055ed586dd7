/*
 * spawn.c - spawn with its three inheritance modes: head_snapshot, full_clone,
 * selective (spec/agents.md §6.3 with DECISIONS.md; operations layer).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "agents_internal.h"
#include "hash.h"
#include "json.h"
#include "walk.h"
#include "tract/llm.h"

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
	const tract_hexmap *members; /* hash -> index as decimal text */
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
	idx = tract_hexmap_get(c->members, commit_hash);
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
	const tract_hexmap *map;
	int rc;
	tract_time now;
} replay_ctx;

static int replay_annotation_cb(const tract_annotation_row *row, void *payload)
{
	replay_ctx *c = payload;
	tract_annotation_row a;
	const char *to = tract_hexmap_get(c->map, row->target_hash);
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
	const tract_hexmap *map;
	int rc;
} refs_ctx;

static int copy_ref_cb(const tract_ref_row *row, void *payload)
{
	refs_ctx *c = payload;
	const char *to = NULL;
	int rc;

	if (row->commit_hash) {
		to = tract_hexmap_get(c->map, row->commit_hash);
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
	tract_hexmap index = {0}, map = {0};
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
		if (tract_hexmap_put(&index, v.rows[i].hash, num) < 0) {
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
				if (links[k] && tract_hexmap_get(&index, links[k]) &&
				    !tract_hexmap_get(&map, links[k]))
					ready = 0;
			for (k = 0; k < n_extra[i]; k++)
				if (tract_hexmap_get(&index, extra[i] + k * 65) &&
				    !tract_hexmap_get(&map, extra[i] + k * 65))
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
				const char *m = tract_hexmap_get(&map, extra[i] + k * 65);
				ex[k] = m ? m : extra[i] + k * 65;
			}
			rc = put_copy(s, child, r, r->parent ? tract_hexmap_get(&map, r->parent) : NULL,
			              r->response_to ? tract_hexmap_get(&map, r->response_to) : NULL, ex,
			              n_extra[i], newhash);
			if (rc < 0)
				goto done;
			if (tract_hexmap_put(&map, r->hash, newhash) < 0) {
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
	tract_hexmap_dispose(&index);
	tract_hexmap_dispose(&map);
	row_vec_dispose(&v);
	return rc;
}

/* Hashes of the parent's current branch whose content type is listed. */
typedef struct {
	const tract_spawn_options *o;
	tract_hexmap *sel;
	int rc;
} type_probe;

static int type_probe_cb(const tract_chain_row *row, void *payload)
{
	type_probe *p = payload;
	size_t i;

	for (i = 0; i < p->o->n_content_types; i++)
		if (p->o->content_types[i] && row->commit.content_type &&
		    strcmp(p->o->content_types[i], row->commit.content_type) == 0)
			return tract_hexmap_put(p->sel, row->commit.commit_hash, NULL) < 0 ? TRACT_ENOMEM
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
	tract_hexmap sel = {0}, named = {0}, map = {0};
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
		if (tract_hexmap_put(&sel, h, NULL) < 0 || tract_hexmap_put(&named, h, NULL) < 0) {
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
		const char *rt = r->response_to ? tract_hexmap_get(&map, r->response_to) : NULL;
		char newhash[65];
		if (r->operation == TRACT_OP_EDIT && !rt) {
			if (tract_hexmap_get(&named, r->hash)) {
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
		if (tract_hexmap_put(&map, r->hash, newhash) < 0) {
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
	tract_hexmap_dispose(&sel);
	tract_hexmap_dispose(&named);
	tract_hexmap_dispose(&map);
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
		rc = tract_spawn_pointer_of(&info, &found, s, o->child_tract_id);
		if (rc == 0 && found) {
			tract_spawn_info_dispose(&info);
			rc = tract_error_set(TRACT_EEXISTS, "tract %s already has a spawn pointer",
			                     o->child_tract_id);
		}
		if (rc == 0)
			rc = tract_has_ancestor_locked(&cyc, s, parent->id, o->child_tract_id);
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

