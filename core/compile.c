/*
 * compile.c - turns the commit chain into the messages sent to a model
 * (spec/core.md §6): first-parent walk, merge expansion, time travel, edit
 * resolution, priorities, per-message text and token counts; plus the
 * compiled-context object, its renderings and record_usage (§4.8).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"
#include "log.h"

/* ---- messages and contexts --------------------------------------------------- */

/* "{}" (most messages have no config) is shared, never freed. */
static char empty_config[] = "{}";

static char *dup_config(const char *config)
{
	return !config || strcmp(config, "{}") == 0 ? empty_config : strdup(config);
}

void tract_msg_release(tract_msg *m)
{
	if (!m || __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	free(m->content);
	free(m->name);
	if (m->own_config != m->config && m->own_config != empty_config)
		free(m->own_config);
	if (m->config != empty_config)
		free(m->config);
	free(m);
}

size_t tract_context_count(const tract_context *c) { return c ? c->count : 0; }
int64_t tract_context_token_count(const tract_context *c) { return c ? c->token_count : 0; }

const char *tract_context_token_source(const tract_context *c)
{
	return c && c->token_source ? c->token_source : "";
}

#define MSG_FIELD(fn, expr)                                                     \
	const char *fn(const tract_context *c, size_t i)                        \
	{                                                                       \
		return c && i < c->count ? (expr) : NULL;                       \
	}
MSG_FIELD(tract_context_role, tract_context_msg(c, i)->role)
MSG_FIELD(tract_context_content, tract_context_msg(c, i)->content)
MSG_FIELD(tract_context_name, tract_context_msg(c, i)->name)
MSG_FIELD(tract_context_commit_hash, tract_context_msg(c, i)->hash)
MSG_FIELD(tract_context_generation_config, tract_context_msg(c, i)->config)

/* ---- one message -------------------------------------------------------------- */

int64_t tract_count(tract *t, const char *text, size_t len);

static int64_t count_str(tract *t, const char *s)
{
	return tract_count(t, s, strlen(s));
}

/*
 * A message's role is one of a few static strings, and counting it ran
 * the counter (a BPE pass) once per message. A compile counts each role
 * once: counters are functions of the text. The worker and the main
 * thread may fill a slot at the same time; both store the same value.
 */
static int64_t count_role(tract *t, tract_role_counts *rc, const char *role)
{
	static const char *const names[TRACT_N_ROLE_COUNTS] = {"user", "assistant", "system",
								 "tool"};
	int64_t n;
	size_t i;

	if (!rc)
		return count_str(t, role);
	for (i = 0; i < TRACT_N_ROLE_COUNTS; i++)
		if (role[0] == names[i][0] && strcmp(role, names[i]) == 0)
			break;
	if (i == TRACT_N_ROLE_COUNTS)
		return count_str(t, role);
	n = __atomic_load_n(&rc->n[i], __ATOMIC_RELAXED);
	if (n > 0)
		return n - 1;
	n = count_str(t, role);
	if (n >= 0)
		__atomic_store_n(&rc->n[i], n + 1, __ATOMIC_RELAXED);
	return n;
}

/* A payload compiles to its "text" or "content" string (no JSON rendering)? */
static int plain_text_payload(const cJSON *p)
{
	const cJSON *ct = cJSON_GetObjectItemCaseSensitive(p, "content_type");

	if (cJSON_IsString(ct) &&
	    (strcmp(ct->valuestring, "tool_io") == 0 || strcmp(ct->valuestring, "freeform") == 0))
		return 0;
	return cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "text")) ||
	       (!cJSON_GetObjectItemCaseSensitive(p, "text") &&
		cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "content")));
}

/*
 * Parse a stored payload. Most payloads compile to one of their strings,
 * for which cJSON's own parser is enough; payloads rendered as JSON need
 * the strict parser that keeps number literals. NULL when unreadable.
 */
static cJSON *parse_payload(const char *payload, char *err, size_t errlen)
{
	size_t len = strlen(payload);
	cJSON *p = cJSON_ParseWithLength(payload, len);

	/* cJSON strings end at NUL: "\u0000" needs the strict parser. */
	if (p && cJSON_IsObject(p) && plain_text_payload(p) && !strstr(payload, "\\u0000"))
		return p;
	cJSON_Delete(p);
	p = NULL;
	if (tract_json_parse(&p, payload, len, TRACT_JSON_NONFINITE_TO_NULL, err, errlen) < 0)
		return NULL;
	if (!cJSON_IsObject(p)) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/* Add " [edited]" to a malloc'd content. */
static int append_marker(char **content)
{
	static const char marker[] = " [edited]";
	size_t len = strlen(*content);
	char *p = realloc(*content, len + sizeof(marker));

	if (!p)
		return TRACT_ENOMEM;
	memcpy(p + len, marker, sizeof(marker));
	*content = p;
	return 0;
}

int tract_msg_build(tract_msg **out, tract *t, const char *orig_hash, const char *payload,
		    const char *config, const char *own_config, const tract_row *source,
		    int reuse_counts, int edit_marker, tract_role_counts *roles)
{
	tract_message_parts parts;
	tract_text_kind count_kind = TRACT_TEXT_NONE;
	tract_msg *m;
	cJSON *p = NULL;
	char err[128];
	int64_t n;
	int rc = 0, flat = 0;

	*out = NULL;
	memset(&parts, 0, sizeof(parts));
	m = calloc(1, sizeof(*m));
	if (!m)
		return tract_error_oom();
	m->refs = 1;
	tract_copy_id(m->hash, orig_hash);
	m->config = dup_config(config);
	m->own_config = own_config == config ? m->config : dup_config(own_config);
	if (!m->config || !m->own_config)
		goto oom;
	if (payload) {
		rc = tract_content_message_flat(&parts, payload, strlen(payload));
		if (rc < 0)
			goto fail;
		flat = rc;
		rc = 0;
		if (flat)
			count_kind = parts.kind;
		else
			p = parse_payload(payload, err, sizeof(err));
	}
	if (flat) {
		m->role = parts.role;
		m->name = parts.name;
		parts.name = NULL;
		if (edit_marker && append_marker(&parts.content) < 0)
			goto oom;
		m->content = parts.content;
		parts.content = NULL;
	} else if (!p) {
		tract_warn("%s content of commit %s", payload ? "unreadable" : "missing",
			   source && source->hash[0] ? source->hash : orig_hash);
		m->role = "system";
		m->content = strdup("[missing content]");
		if (!m->content)
			goto oom;
	} else {
		tract_buf scratch = TRACT_BUF_INIT;
		rc = tract_content_message(&parts, p);
		if (rc < 0)
			goto fail;
		m->role = parts.role;
		m->name = parts.name;
		parts.name = NULL;
		if (edit_marker && append_marker(&parts.content) < 0)
			goto oom;
		m->content = parts.content;
		parts.content = NULL;
		/* Which text the stored count was taken from. */
		if (reuse_counts && !edit_marker &&
		    tract_content_count_text(&scratch, &count_kind, p) < 0) {
			tract_buf_dispose(&scratch);
			goto oom;
		}
		tract_buf_dispose(&scratch);
	}
	n = count_role(t, roles, m->role);
	if (n < 0)
		goto count_fail;
	m->tokens = 3 + n;
	if (reuse_counts && !edit_marker && source &&
	    tract_content_count_reusable(count_kind, parts.kind))
		n = source->token_count;
	else
		n = count_str(t, m->content);
	if (n < 0)
		goto count_fail;
	m->tokens += n;
	if (m->name) {
		n = count_str(t, m->name);
		if (n < 0)
			goto count_fail;
		m->tokens += n + 1;
	}
	cJSON_Delete(p);
	tract_message_parts_dispose(&parts);
	*out = m;
	return 0;
count_fail:
	rc = (int)n;
	goto fail;
oom:
	rc = tract_error_oom();
fail:
	cJSON_Delete(p);
	tract_message_parts_dispose(&parts);
	if (!m->role)
		m->role = "";
	tract_msg_release(m);
	return rc;
}

int tract_counts_reusable(tract *t, int *out)
{
	char key[128], value[128];
	int rc, found;

	*out = 0;
	if (!t->tok->source || !t->tok->source[0])
		return 0;
	tract_meta_key(key, sizeof(key), t->id, TRACT_META_COUNTER);
	rc = tract_meta_read(t->store, key, value, sizeof(value), &found);
	if (rc == 0 && found && strcmp(value, t->tok->source) == 0)
		*out = 1;
	return rc;
}

/* ---- hash set of commit hashes ------------------------------------------------- */

typedef struct {
	const char **keys;
	size_t *vals;
	size_t cap, count;
} hset;

static size_t hset_slot(const char *h, size_t cap)
{
	uint64_t x = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < 16 && h[i]; i++)
		x = (x ^ (unsigned char)h[i]) * 1099511628211ULL;
	return (size_t)x & (cap - 1);
}

/* Grow to the next power of two >= min_cap (at least double). */
static int hset_resize(hset *s, size_t min_cap)
{
	hset n = {0};
	size_t i;

	n.cap = s->cap ? s->cap * 2 : 64;
	while (n.cap < min_cap)
		n.cap *= 2;
	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.vals = calloc(n.cap, sizeof(*n.vals));
	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return TRACT_ENOMEM;
	}
	for (i = 0; i < s->cap; i++) {
		if (s->keys[i]) {
			size_t j = hset_slot(s->keys[i], n.cap);
			while (n.keys[j])
				j = (j + 1) & (n.cap - 1);
			n.keys[j] = s->keys[i];
			n.vals[j] = s->vals[i];
		}
	}
	n.count = s->count;
	free(s->keys);
	free(s->vals);
	*s = n;
	return 0;
}

static int hset_grow(hset *s)
{
	return hset_resize(s, 0);
}

/* Room for n keys without growing. */
static int hset_reserve(hset *s, size_t n)
{
	return (n + 1) * 2 > s->cap ? hset_resize(s, (n + 1) * 2) : 0;
}

/* Insert or overwrite; keys are borrowed. */
static int hset_put(hset *s, const char *key, size_t val)
{
	size_t j;

	if ((s->count + 1) * 2 > s->cap && hset_grow(s) < 0)
		return TRACT_ENOMEM;
	j = hset_slot(key, s->cap);
	while (s->keys[j] && strcmp(s->keys[j], key) != 0)
		j = (j + 1) & (s->cap - 1);
	if (!s->keys[j])
		s->count++;
	s->keys[j] = key;
	s->vals[j] = val;
	return 0;
}

static int hset_get(const hset *s, const char *key, size_t *val)
{
	size_t j;

	if (!s->cap)
		return 0;
	j = hset_slot(key, s->cap);
	while (s->keys[j]) {
		if (strcmp(s->keys[j], key) == 0) {
			if (val)
				*val = s->vals[j];
			return 1;
		}
		j = (j + 1) & (s->cap - 1);
	}
	return 0;
}

static void hset_dispose(hset *s)
{
	free(s->keys);
	free(s->vals);
	memset(s, 0, sizeof(*s));
}

/* ---- the chain ------------------------------------------------------------------ */

typedef struct {
	tract_row **rows;
	size_t count, cap;
} row_vec;

static int vec_push(row_vec *v, tract_row *r)
{
	if (v->count == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 64;
		tract_row **p = realloc(v->rows, ncap * sizeof(*p));
		if (!p)
			return TRACT_ENOMEM;
		v->rows = p;
		v->cap = ncap;
	}
	v->rows[v->count++] = r;
	return 0;
}

static void vec_reverse(row_vec *v, size_t from)
{
	size_t i = from, j = v->count;

	while (j > i + 1) {
		tract_row *tmp = v->rows[i];
		v->rows[i++] = v->rows[--j];
		v->rows[j] = tmp;
	}
}

static void vec_dispose(row_vec *v)
{
	size_t i;

	for (i = 0; i < v->count; i++) {
		if (!v->rows[i])
			continue;
		tract_row_dispose(v->rows[i]);
		free(v->rows[i]);
	}
	free(v->rows);
	memset(v, 0, sizeof(*v));
}

/*
 * Messages built during the walk, from the payload the backend hands over:
 * the row then needs no copy of its payload. Compile keeps such a message
 * unless an edit applies to the row; an edit's message comes from the
 * edit row, which keeps its payload. (This used to be a worker thread fed
 * with row copies; once a message cost a few thousand instructions, the
 * handoff and the second thread's allocations cost more than they saved
 * on a shared two-core machine.)
 */
typedef struct {
	tract *t;
	const tract_compile_opts *o;
	int reuse;
	tract_role_counts *roles;
	int rc;         /* a message failed to build */
	char err[1024]; /* its error message */
} prebuild;

/* Does a commit give a message of its own (before edits are considered)? */
static int gives_message(tract_operation op, tract_priority prio, const char *content_type,
			 size_t n_extra, const tract_compile_opts *o)
{
	if (op != TRACT_OP_APPEND)
		return 0;
	if (prio == TRACT_PRIORITY_NONE)
		prio = tract_content_default_priority(content_type ? content_type : "unknown");
	if (prio == TRACT_PRIORITY_SKIP)
		return 0;
	/* DECISIONS.md: a merge commit compiles to no message unless the
	 * caller asks for the reference's JSON message. */
	return n_extra == 0 || (o && o->merge_messages);
}

static int row_gives_message(const tract_row *r, const tract_compile_opts *o)
{
	return gives_message(r->operation, r->priority, r->content_type, r->n_extra, o);
}

typedef struct {
	row_vec *out;
	const hset *stop; /* stop before a commit in this set */
	prebuild *pb;     /* build messages on the way, or NULL */
} walk_ctx;

static int walk_cb(const tract_chain_row *row, void *payload)
{
	walk_ctx *w = payload;
	prebuild *pb = w->pb;
	tract_row *r;
	int rc, build;

	if (w->stop && hset_get(w->stop, row->commit.commit_hash, NULL))
		return 1;
	build = pb && gives_message(row->commit.operation, row->priority,
				    row->commit.content_type, row->n_extra_parents, pb->o);
	r = malloc(sizeof(*r));
	if (!r)
		return TRACT_ENOMEM;
	/* Compile reads neither message nor metadata. */
	if (tract_row_copy_chain_part(r, row,
				      TRACT_ROW_SKIP_TEXTS | (build ? TRACT_ROW_SKIP_PAYLOAD : 0)) < 0) {
		free(r);
		return TRACT_ENOMEM;
	}
	if (build) {
		rc = tract_msg_build(&r->msg, pb->t, r->hash, row->payload_json, r->config,
				     r->config, r, pb->reuse, 0, pb->roles);
		if (rc < 0) {
			pb->rc = rc;
			snprintf(pb->err, sizeof(pb->err), "%s", tract_error_last()->message);
			goto fail;
		}
	}
	rc = vec_push(w->out, r);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	tract_row_dispose(r);
	free(r);
	return rc;
}

/* Walk first parents from head into out (chronological order); with pb,
 * build the messages of the rows on the way. */
static int walk(row_vec *out, tract *t, const char *tract_id, const char *head,
		const hset *stop, tract_time cutoff, prebuild *pb)
{
	walk_ctx w = {out, stop, pb};
	size_t from = out->count;
	int rc;

	rc = t->store->be->commit_chain(t->store->conn, tract_id, head, 0,
					TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS |
						TRACT_CHAIN_PRIORITY,
					cutoff, walk_cb, &w);
	if (pb && pb->rc < 0)
		return tract_error_set(pb->rc, "%s", pb->err);
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(t->store, rc, "walk history");
	vec_reverse(out, from);
	return 0;
}

/*
 * Merge expansion (§6.2 with DECISIONS.md): before each merge commit,
 * insert the commits reachable from each further parent (position order)
 * that are not yet seen, expanding merges nested inside them too.
 */
static int expand(row_vec *dst, row_vec *src, tract *t, hset *seen, tract_time cutoff)
{
	size_t i, k;
	int rc;

	for (i = 0; i < src->count; i++) {
		tract_row *r = src->rows[i];
		for (k = 0; k < r->n_extra; k++) {
			row_vec block = {0};
			size_t j;
			if (hset_get(seen, r->extra_parents[k], NULL))
				continue;
			rc = walk(&block, t, NULL, r->extra_parents[k], seen, cutoff, NULL);
			for (j = 0; rc == 0 && j < block.count; j++)
				if (hset_put(seen, block.rows[j]->hash, 0) < 0)
					rc = tract_error_oom();
			if (rc == 0)
				rc = expand(dst, &block, t, seen, cutoff);
			/* expand() moved the rows it took into dst */
			vec_dispose(&block);
			if (rc < 0)
				return rc;
		}
		src->rows[i] = NULL;
		rc = vec_push(dst, r);
		if (rc < 0) {
			tract_row_dispose(r);
			free(r);
			return tract_error_oom();
		}
	}
	return 0;
}

static int expanded_chain(row_vec *out, tract *t, const char *head, tract_time cutoff,
			  prebuild *pb)
{
	row_vec first = {0};
	hset seen = {0};
	size_t i;
	int rc, any_merge = 0;

	rc = walk(&first, t, t->id, head, NULL, cutoff, pb);
	for (i = 0; rc == 0 && i < first.count; i++)
		any_merge |= first.rows[i]->n_extra > 0;
	if (rc == 0 && !any_merge) {
		*out = first;
		return 0;
	}
	/* The set of commits seen, presized for the first-parent chain. */
	if (rc == 0 && hset_reserve(&seen, first.count) < 0)
		rc = tract_error_oom();
	for (i = 0; rc == 0 && i < first.count; i++)
		if (hset_put(&seen, first.rows[i]->hash, 0) < 0)
			rc = tract_error_oom();
	if (rc == 0)
		rc = expand(out, &first, t, &seen, cutoff);
	vec_dispose(&first);
	hset_dispose(&seen);
	return rc;
}

/* ---- full compile ------------------------------------------------------------------ */

static int is_default(const tract_compile_opts *o)
{
	return !o || (!o->at_commit && o->at_time == TRACT_TIME_NONE && !o->edit_markers &&
		      !o->merge_messages);
}

/*
 * The message of each row that gives one: the one built during the walk
 * unless an edit applies, otherwise built here from the edit's (or the
 * row's own) payload. msgs[i] is row i's message or NULL.
 */
static int build_messages(tract_msg **msgs, tract *t, const row_vec *list, const hset *edits,
			  const tract_compile_opts *o, int reuse, tract_role_counts *roles)
{
	size_t i, e;
	int rc;

	for (i = 0; i < list->count; i++) {
		tract_row *r = list->rows[i], *src = r;
		const char *cfg;
		int edited;

		edited = edits->count && hset_get(edits, r->hash, &e);
		/* A prebuilt message means the row gives one. */
		if (!edited && r->msg) {
			msgs[i] = r->msg;
			r->msg = NULL;
			continue;
		}
		if (!row_gives_message(r, o))
			continue;
		if (edited)
			src = list->rows[e];
		cfg = edited && src->config ? src->config : r->config;
		rc = tract_msg_build(&msgs[i], t, r->hash, src->payload, cfg, r->config, src, reuse,
				     edited && o && o->edit_markers, roles);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int build_context(tract_context **out, tract *t, const char *head, row_vec *list,
			 const tract_compile_opts *o, int reuse, tract_role_counts *roles)
{
	hset edits = {0};
	tract_context *c = NULL;
	tract_msg **msgs = NULL;
	size_t i, e;
	int rc = 0;

	/* Edit resolution: the latest edit of each target wins (ties: later
	 * in the list). */
	for (i = 0; i < list->count; i++) {
		tract_row *r = list->rows[i];
		if (r->operation != TRACT_OP_EDIT || !r->response_to)
			continue;
		if (hset_get(&edits, r->response_to, &e) &&
		    list->rows[e]->created_at > r->created_at)
			continue;
		if (hset_put(&edits, r->response_to, i) < 0)
			goto oom;
	}
	c = tract_context_new(list->count);
	msgs = calloc(list->count ? list->count : 1, sizeof(*msgs));
	if (!c || !msgs)
		goto oom;
	rc = build_messages(msgs, t, list, &edits, o, reuse, roles);
	for (i = 0; i < list->count; i++) {
		if (!msgs[i])
			continue;
		if (rc == 0)
			rc = tract_context_push(c, msgs[i]);
		else
			tract_msg_release(msgs[i]);
	}
	if (rc < 0)
		goto done;
	tract_copy_id(c->head, head);
	c->token_source = strdup(t->tok->source ? t->tok->source : "");
	if (!c->token_source)
		goto oom;
	tract_context_sum(c);
	*out = c;
	c = NULL;
	goto done;
oom:
	rc = tract_error_oom();
done:
	free(msgs);
	tract_context_free(c);
	hset_dispose(&edits);
	return rc;
}

static tract_context *empty_context(void)
{
	tract_context *c = tract_context_new(0);

	if (c && !(c->token_source = strdup(""))) {
		tract_context_free(c);
		c = NULL;
	}
	return c;
}

int tract_compile_full(tract_context **out, tract *t, const char *head,
		       const tract_compile_opts *o)
{
	row_vec list = {0};
	tract_time cutoff = o && o->at_time != TRACT_TIME_NONE ? o->at_time : INT64_MAX;
	prebuild pb, *use_pb = NULL;
	tract_role_counts roles;
	char at[65] = "";
	size_t i;
	int rc, reuse = 0;

	*out = NULL;
	if (o && o->at_commit) {
		rc = tract_resolve_in_txn(at, t, o->at_commit);
		if (rc < 0)
			return rc;
	}
	if (!head || !head[0]) {
		*out = empty_context();
		return *out ? 0 : tract_error_oom();
	}
	rc = tract_counts_reusable(t, &reuse);
	if (rc < 0)
		return rc;
	memset(&roles, 0, sizeof(roles));
	/* Build messages during the walk, unless the compile is as of an
	 * earlier point: most rows walked from HEAD are then dropped. */
	memset(&pb, 0, sizeof(pb));
	if (!at[0] && cutoff == INT64_MAX) {
		pb.t = t;
		pb.o = o;
		pb.reuse = reuse;
		pb.roles = &roles;
		use_pb = &pb;
	}
	rc = expanded_chain(&list, t, head, cutoff, use_pb);
	if (rc < 0)
		goto done;
	if (at[0]) {
		for (i = 0; i < list.count; i++)
			if (strcmp(list.rows[i]->hash, at) == 0)
				break;
		if (i < list.count) {
			while (list.count > i + 1) {
				tract_row_dispose(list.rows[--list.count]);
				free(list.rows[list.count]);
			}
		} else {
			/* Not on HEAD's history: compile as of that commit. */
			vec_dispose(&list);
			rc = expanded_chain(&list, t, at, cutoff, NULL);
			if (rc < 0)
				goto done;
		}
	}
	if (cutoff != INT64_MAX) {
		size_t k = 0;
		for (i = 0; i < list.count; i++) {
			if (list.rows[i]->created_at <= cutoff) {
				list.rows[k++] = list.rows[i];
			} else {
				tract_row_dispose(list.rows[i]);
				free(list.rows[i]);
			}
		}
		list.count = k;
	}
	rc = build_context(out, t, at[0] ? at : head, &list, o, reuse, &roles);
done:
	vec_dispose(&list);
	return rc;
}

static int same_messages(const tract_context *a, const tract_context *b)
{
	size_t i;

	if (a->count != b->count)
		return 0;
	for (i = 0; i < a->count; i++) {
		const tract_msg *x = tract_context_msg(a, i), *y = tract_context_msg(b, i);
		if (strcmp(x->role, y->role) || strcmp(x->content, y->content) ||
		    (!x->name != !y->name) || (x->name && strcmp(x->name, y->name)))
			return 0;
	}
	return 1;
}

static int verify_hit(tract *t, tract_context *cached)
{
	tract_context *fresh = NULL;
	int rc = tract_compile_full(&fresh, t, cached->head, NULL);

	if (rc < 0)
		return rc;
	if (!same_messages(cached, fresh))
		rc = tract_error_set(TRACT_ERROR, "Cache message mismatch: cached %zu msgs, "
						  "fresh %zu msgs",
				     cached->count, fresh->count);
	else if (strncmp(cached->token_source, "api:", 4) != 0 &&
		 cached->token_count != fresh->token_count)
		rc = tract_error_set(TRACT_ERROR,
				     "Cache token mismatch: cached %" PRId64 ", fresh %" PRId64,
				     cached->token_count, fresh->token_count);
	tract_context_free(fresh);
	return rc;
}

int tract_compile(tract_context **out, tract *t, const tract_compile_opts *o)
{
	tract_head_state hs;
	tract_context *c = NULL;
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_compile: NULL argument");
	*out = NULL;
	if (o && o->version != TRACT_COMPILE_OPTS_VERSION)
		return tract_error_set(TRACT_EINVAL, "tract_compile_opts version %u is not %d",
				       o->version, TRACT_COMPILE_OPTS_VERSION);
	if (o && o->at_commit && o->at_time != TRACT_TIME_NONE)
		return tract_error_set(TRACT_EINVAL, "Cannot specify both at_time and at_commit; "
						     "use one or the other.");
	tract_cache_sync(t);
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_head_read(&hs, t);
	if (rc < 0)
		goto done;
	if (is_default(o) && hs.hash[0]) {
		c = tract_cache_get(t->cache, hs.hash);
		if (c) {
			c = tract_context_ref(c);
			if (t->verify_cache)
				rc = verify_hit(t, c);
			goto done;
		}
	}
	rc = tract_compile_full(&c, t, hs.hash, o);
	if (rc == 0 && is_default(o) && hs.hash[0])
		tract_cache_put(t->cache, c);
done:
	rc = tract_txn_end(t->store, rc);
	if (rc < 0) {
		tract_context_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ---- record_usage (§4.8) ---------------------------------------------------------------- */

static int usage_int(int64_t *out, const cJSON *obj, const char *key, int required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = 0;
	if (!v || cJSON_IsNull(v)) {
		if (required)
			return tract_error_set(TRACT_EINVAL, "Content validation failed: usage "
							     "member '%s' is missing",
					       key);
		return 0;
	}
	if (!cJSON_IsNumber(v) || !tract_json_is_int(v) || v->valuedouble < 0 ||
	    v->valuedouble > 9.0e15)
		return tract_error_set(TRACT_EINVAL,
				       "Content validation failed: usage member '%s' must be a "
				       "non-negative integer",
				       key);
	*out = (int64_t)v->valuedouble;
	return 0;
}

static int parse_usage(int64_t *prompt, int64_t *completion, const char *json)
{
	char err[128];
	cJSON *u = NULL;
	int rc;

	if (!json)
		return tract_error_set(TRACT_EINVAL, "Expected TokenUsage or dict, got None");
	rc = tract_json_parse(&u, json, strlen(json), 0, err, sizeof(err));
	if (rc < 0)
		return tract_error_set(rc, "invalid usage JSON: %s", err);
	if (!cJSON_IsObject(u)) {
		rc = tract_error_set(TRACT_EINVAL, "Expected TokenUsage or dict, got %s",
				     cJSON_IsArray(u) ? "list" : "a JSON scalar");
	} else if (cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens")) {
		rc = usage_int(prompt, u, "prompt_tokens", 1);
		if (rc == 0)
			rc = usage_int(completion, u, "completion_tokens", 0);
	} else if (cJSON_GetObjectItemCaseSensitive(u, "input_tokens")) {
		rc = usage_int(prompt, u, "input_tokens", 1);
		if (rc == 0)
			rc = usage_int(completion, u, "output_tokens", 0);
	} else {
		tract_buf keys = TRACT_BUF_INIT;
		const cJSON *m;
		for (m = u->child; m; m = m->next)
			tract_buf_printf(&keys, "%s'%s'", keys.len ? ", " : "", m->string);
		rc = tract_error_set(TRACT_EINVAL,
				     "Unrecognized usage dict format. Expected 'prompt_tokens' "
				     "(OpenAI) or 'input_tokens' (Anthropic). Got keys: [%s]",
				     keys.ptr ? keys.ptr : "");
		tract_buf_dispose(&keys);
	}
	cJSON_Delete(u);
	return rc;
}

int tract_record_usage(tract_context **out, tract *t, const char *usage_json,
		       const char *head_hash)
{
	int64_t prompt = 0, completion = 0;
	char source[64], head[65];
	tract_context *base = NULL, *c;
	int rc;

	if (out)
		*out = NULL;
	rc = parse_usage(&prompt, &completion, usage_json);
	if (rc < 0)
		return rc;
	rc = tract_head(head, NULL, NULL, t);
	if (rc < 0)
		return rc;
	if (!head[0])
		return tract_error_set(TRACT_ERROR, "Cannot record usage: no commits exist");
	if (head_hash && strcmp(head_hash, head) != 0)
		return tract_error_set(TRACT_ERROR,
				       "Cannot record usage: head_hash %s does not match current "
				       "HEAD %s",
				       head_hash, head);
	rc = tract_compile(&base, t, NULL);
	if (rc < 0)
		return rc;
	c = tract_context_share(base);
	tract_context_free(base);
	if (!c)
		return tract_error_oom();
	free(c->token_source);
	snprintf(source, sizeof(source), "api:%" PRId64 "+%" PRId64, prompt, completion);
	c->token_source = strdup(source);
	if (!c->token_source) {
		tract_context_free(c);
		return tract_error_oom();
	}
	c->token_count = prompt;
	tract_cache_put(t->cache, c);
	if (out)
		*out = c;
	else
		tract_context_free(c);
	return 0;
}

/* ---- renderings -------------------------------------------------------------------------- */

static int put_str(tract_buf *b, const char *s)
{
	return tract_json_escape(b, s, strlen(s), 0);
}

static int put_message(tract_buf *b, const tract_msg *m, const char *role)
{
	int rc = 0;

	rc |= tract_buf_puts(b, "{\"role\": ");
	rc |= put_str(b, role ? role : m->role);
	rc |= tract_buf_puts(b, ", \"content\": ");
	rc |= put_str(b, m->content);
	if (m->name && !role) {
		rc |= tract_buf_puts(b, ", \"name\": ");
		rc |= put_str(b, m->name);
	}
	rc |= tract_buf_putc(b, '}');
	return rc;
}

static int render_openai(tract_buf *b, const tract_context *c)
{
	size_t i;
	int rc = tract_buf_putc(b, '[');

	for (i = 0; i < c->count; i++) {
		if (i)
			rc |= tract_buf_puts(b, ", ");
		rc |= put_message(b, tract_context_msg(c, i), NULL);
	}
	return rc | tract_buf_putc(b, ']');
}

static int render_json(tract_buf *b, const tract_context *c)
{
	size_t i;
	int rc = 0;

	rc |= tract_buf_puts(b, "{\"messages\": ");
	rc |= render_openai(b, c);
	rc |= tract_buf_printf(b, ", \"token_count\": %" PRId64 ", \"commit_count\": %zu",
			       c->token_count, c->count);
	rc |= tract_buf_puts(b, ", \"token_source\": ");
	rc |= put_str(b, tract_context_token_source(c));
	rc |= tract_buf_puts(b, ", \"commit_hashes\": [");
	for (i = 0; i < c->count; i++)
		rc |= tract_buf_printf(b, "%s\"%s\"", i ? ", " : "", tract_context_msg(c, i)->hash);
	rc |= tract_buf_puts(b, "], \"generation_configs\": [");
	for (i = 0; i < c->count; i++) {
		const char *text = tract_context_msg(c, i)->config;
		char err[64];
		cJSON *cfg = NULL;
		if (i)
			rc |= tract_buf_puts(b, ", ");
		if (tract_json_parse(&cfg, text, strlen(text),
				     TRACT_JSON_NONFINITE_TO_NULL, err, sizeof(err)) == 0) {
			rc |= tract_json_render(b, cfg, TRACT_JSON_FLAT);
			cJSON_Delete(cfg);
		} else {
			rc |= tract_buf_puts(b, "{}");
		}
	}
	return rc | tract_buf_puts(b, "]}");
}

/* Anthropic Messages: system text apart, only user/assistant turns. */
static int render_anthropic(tract_buf *b, const tract_context *c)
{
	tract_buf sys = TRACT_BUF_INIT;
	size_t i, n = 0;
	int rc = 0;

	for (i = 0; i < c->count; i++) {
		if (strcmp(tract_context_msg(c, i)->role, "system") != 0)
			continue;
		if (sys.len)
			rc |= tract_buf_puts(&sys, "\n\n");
		rc |= tract_buf_puts(&sys, tract_context_msg(c, i)->content);
	}
	rc |= tract_buf_puts(b, "{\"system\": ");
	rc |= put_str(b, sys.ptr ? sys.ptr : "");
	rc |= tract_buf_puts(b, ", \"messages\": [");
	for (i = 0; i < c->count; i++) {
		const char *role = tract_context_msg(c, i)->role;
		if (strcmp(role, "system") == 0)
			continue;
		if (n++)
			rc |= tract_buf_puts(b, ", ");
		rc |= put_message(b, tract_context_msg(c, i), strcmp(role, "assistant") == 0 ? "assistant"
										 : "user");
	}
	rc |= tract_buf_puts(b, "]}");
	tract_buf_dispose(&sys);
	return rc;
}

static int render_text(tract_buf *b, const tract_context *c)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < c->count; i++) {
		const tract_msg *m = tract_context_msg(c, i);
		if (i)
			rc |= tract_buf_putc(b, '\n');
		if (m->name)
			rc |= tract_buf_printf(b, "[%s %s]\n%s\n", m->role, m->name, m->content);
		else
			rc |= tract_buf_printf(b, "[%s]\n%s\n", m->role, m->content);
	}
	return rc;
}

int tract_context_render(char **out, const tract_context *c, tract_format fmt)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	*out = NULL;
	if (!c)
		return tract_error_set(TRACT_EINVAL, "tract_context_render: NULL context");
	switch (fmt) {
	case TRACT_FORMAT_JSON: rc = render_json(&b, c); break;
	case TRACT_FORMAT_OPENAI: rc = render_openai(&b, c); break;
	case TRACT_FORMAT_ANTHROPIC: rc = render_anthropic(&b, c); break;
	case TRACT_FORMAT_TEXT: rc = render_text(&b, c); break;
	default: return tract_error_set(TRACT_EINVAL, "unknown format %d", (int)fmt);
	}
	if (rc) {
		tract_buf_dispose(&b);
		return tract_error_oom();
	}
	*out = tract_buf_detach(&b);
	return *out ? 0 : tract_error_oom();
}
