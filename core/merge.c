/*
 * merge.c - merging a branch into the current one (spec/history.md §8 with
 * DECISIONS.md): the checks, fast-forward, the structural conflicts in a
 * fixed order, the resolver loop, review-then-commit and the merge commit
 * (hashed over all parents) written in one transaction (operations).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dag.h"
#include "hash.h"
#include "internal.h"
#include "reflog.h"
#include "json.h"
#include "tokenizer.h"
#include "walk.h"

#define SKIPPED_TEXT "[SKIPPED]"
#define UNAVAILABLE_TEXT "[content unavailable]"

typedef struct {
	tract_issue issue;
	char key[65], target[65], a[65], b[65];
	char *text_a, *text_b, *description;
	int editor_a;    /* the edit this conflict is about is the current side's */
	char *unchanged; /* the target's text as the other side left it (strategies) */
} merge_conflict;

/* One resolution per distinct key, in the order of the first conflict
 * that has the key. */
typedef struct {
	char key[65];
	char *text;      /* NULL: unresolved */
	char *reasoning; /* NULL: none */
	char *config;    /* JSON object text or NULL */
} merge_resolution;

struct tract_merge_result {
	tract *t;
	tract_merge_type type;
	int committed;
	int delete_branch;
	char *source, *target;
	char base[65], source_tip[65], target_tip[65], commit[65];
	merge_conflict *conflicts;
	size_t n_conflicts;
	merge_resolution *res;
	size_t n_res;
	char (*merged)[65];
	size_t n_merged;
};

/* ---- names and options ------------------------------------------------------- */

const char *tract_merge_type_name(tract_merge_type type)
{
	switch (type) {
	case TRACT_MERGE_UP_TO_DATE: return "up_to_date";
	case TRACT_MERGE_FAST_FORWARD: return "fast_forward";
	case TRACT_MERGE_CLEAN: return "clean";
	case TRACT_MERGE_CONFLICT: return "conflict";
	}
	return "unknown";
}

const char *tract_merge_strategy_name(tract_merge_strategy s)
{
	switch (s) {
	case TRACT_MERGE_STRATEGY_AUTO: return "auto";
	case TRACT_MERGE_STRATEGY_OURS: return "ours";
	case TRACT_MERGE_STRATEGY_THEIRS: return "theirs";
	}
	return "unknown";
}

int tract_merge_strategy_parse(tract_merge_strategy *out, const char *name)
{
	if (!out || !name)
		return tract_error_set(TRACT_EINVAL, "tract_merge_strategy_parse: NULL argument");
	if (strcasecmp(name, "auto") == 0)
		*out = TRACT_MERGE_STRATEGY_AUTO;
	else if (strcasecmp(name, "ours") == 0)
		*out = TRACT_MERGE_STRATEGY_OURS;
	else if (strcasecmp(name, "theirs") == 0)
		*out = TRACT_MERGE_STRATEGY_THEIRS;
	else
		return tract_error_set(TRACT_EINVAL,
				       "unknown merge strategy '%s' (auto, ours or theirs)", name);
	return 0;
}

int tract_merge_options_init(tract_merge_options *opts, unsigned int version)
{
	tract_merge_options defaults = TRACT_MERGE_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_merge_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_MERGE_OPTIONS_VERSION, "tract_merge_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

/* ---- built-in resolvers -------------------------------------------------------- */

/*
 * What tract_merge hands its built-in resolvers as payload: with it, a
 * side that did not make the conflict's edit resolves to the target as
 * that side left it (its message at the merge base, or its own text when
 * it compiles to none there: a skipped one), not to the other commit the
 * conflict names (an append, "[SKIPPED]").
 */
#define STRATEGY_MAGIC 0x6d657267u

typedef struct {
	unsigned magic;
	tract_merge_result *r;
	tract_context *base_ctx; /* compiled at the merge base, once */
	int base_done;
} strategy_ctx;

static int content_text(char **out, tract_store *s, const char *content_hash);

static int content_hash_cb(const tract_commit_row *row, void *payload)
{
	tract_copy_id(payload, row->content_hash);
	return 0;
}

static int unchanged_text(char **out, strategy_ctx *sc, const char *target)
{
	tract *t = sc->r->t;
	char ch[65] = "";
	size_t i;
	int rc;

	*out = NULL;
	if (!sc->base_done) {
		sc->base_done = 1;
		if (sc->r->base[0]) {
			rc = tract_compile_full(&sc->base_ctx, t, sc->r->base, NULL);
			if (rc < 0)
				return rc;
		}
	}
	for (i = 0; sc->base_ctx && i < sc->base_ctx->count; i++) {
		const tract_msg *m = tract_context_msg(sc->base_ctx, i);
		if (strcmp(m->hash, target) == 0) {
			*out = strndup(m->content, m->content_len);
			return *out ? 0 : tract_error_oom();
		}
	}
	rc = t->store->be->commit_get(t->store->conn, NULL, target, content_hash_cb, ch);
	if (rc < 0 && rc != TRACT_ENOTFOUND)
		return tract_backend_error(t->store, rc, "read commit");
	if (!ch[0]) {
		*out = strdup(UNAVAILABLE_TEXT);
		return *out ? 0 : tract_error_oom();
	}
	return content_text(out, t->store, ch);
}

static int resolve_side(tract_resolution *out, const tract_issue *issue, int ours, void *payload)
{
	strategy_ctx *sc = payload;
	size_t i;

	if (!out || !issue)
		return tract_error_set(TRACT_EINVAL, "resolver: NULL argument");
	out->action = TRACT_RESOLVE_RESOLVED;
	out->text = ours ? (issue->text_a ? issue->text_a : "")
			 : (issue->text_b ? issue->text_b : "");
	out->reasoning = ours ? "strategy ours" : "strategy theirs";
	out->generation_config_json = NULL;
	if (!sc || sc->magic != STRATEGY_MAGIC || issue->kind == TRACT_ISSUE_BOTH_EDIT ||
	    !issue->target_hash)
		return 0;
	for (i = 0; i < sc->r->n_conflicts; i++) {
		merge_conflict *c = &sc->r->conflicts[i];
		int rc;
		if (&c->issue != issue)
			continue;
		if (c->editor_a == ours)
			return 0; /* the chosen side made the edit: its text */
		if (!c->unchanged) {
			rc = unchanged_text(&c->unchanged, sc, c->target);
			if (rc < 0)
				return rc;
		}
		out->text = c->unchanged;
		return 0;
	}
	return 0;
}

int tract_merge_resolver_ours(tract_resolution *out, const tract_issue *issue, void *payload)
{
	return resolve_side(out, issue, 1, payload);
}

int tract_merge_resolver_theirs(tract_resolution *out, const tract_issue *issue, void *payload)
{
	return resolve_side(out, issue, 0, payload);
}

/* ---- the result ------------------------------------------------------------------ */

void tract_merge_result_free(tract_merge_result *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n_conflicts; i++) {
		free(r->conflicts[i].text_a);
		free(r->conflicts[i].text_b);
		free(r->conflicts[i].description);
		free(r->conflicts[i].unchanged);
	}
	for (i = 0; i < r->n_res; i++) {
		free(r->res[i].text);
		free(r->res[i].reasoning);
		free(r->res[i].config);
	}
	free(r->conflicts);
	free(r->res);
	free(r->merged);
	free(r->source);
	free(r->target);
	free(r);
}

tract_merge_type tract_merge_result_type(const tract_merge_result *r)
{
	return r ? r->type : TRACT_MERGE_UP_TO_DATE;
}

int tract_merge_result_committed(const tract_merge_result *r)
{
	return r ? r->committed : 0;
}

const char *tract_merge_result_source_branch(const tract_merge_result *r)
{
	return r ? r->source : NULL;
}

const char *tract_merge_result_target_branch(const tract_merge_result *r)
{
	return r ? r->target : NULL;
}

static const char *or_null(const char *h)
{
	return h[0] ? h : NULL;
}

const char *tract_merge_result_base(const tract_merge_result *r)
{
	return r ? or_null(r->base) : NULL;
}

const char *tract_merge_result_source_tip(const tract_merge_result *r)
{
	return r ? or_null(r->source_tip) : NULL;
}

const char *tract_merge_result_target_tip(const tract_merge_result *r)
{
	return r ? or_null(r->target_tip) : NULL;
}

const char *tract_merge_result_commit(const tract_merge_result *r)
{
	return r ? or_null(r->commit) : NULL;
}

size_t tract_merge_result_conflict_count(const tract_merge_result *r)
{
	return r ? r->n_conflicts : 0;
}

const tract_issue *tract_merge_result_conflict(const tract_merge_result *r, size_t i)
{
	return r && i < r->n_conflicts ? &r->conflicts[i].issue : NULL;
}

static merge_resolution *res_find(const tract_merge_result *r, const char *key)
{
	size_t i;

	for (i = 0; key && i < r->n_res; i++)
		if (strcmp(r->res[i].key, key) == 0)
			return &r->res[i];
	return NULL;
}

size_t tract_merge_result_unresolved_count(const tract_merge_result *r)
{
	size_t i, n = 0;

	if (!r)
		return 0;
	for (i = 0; i < r->n_conflicts; i++) {
		merge_resolution *e = res_find(r, r->conflicts[i].key);
		if (!e || !e->text)
			n++;
	}
	return n;
}

const char *tract_merge_result_resolution(const tract_merge_result *r, const char *key)
{
	merge_resolution *e = r ? res_find(r, key) : NULL;

	return e ? e->text : NULL;
}

const char *tract_merge_result_reasoning(const tract_merge_result *r, const char *key)
{
	merge_resolution *e = r ? res_find(r, key) : NULL;

	return e ? e->reasoning : NULL;
}

size_t tract_merge_result_merged_count(const tract_merge_result *r)
{
	return r ? r->n_merged : 0;
}

const char *tract_merge_result_merged(const tract_merge_result *r, size_t i)
{
	return r && i < r->n_merged ? r->merged[i] : NULL;
}

/* Replace *dst with a copy of src (NULL clears). */
static int set_str(char **dst, const char *src)
{
	char *c = NULL;

	if (src && !(c = strdup(src)))
		return tract_error_oom();
	free(*dst);
	*dst = c;
	return 0;
}

int tract_merge_result_set_resolution(tract_merge_result *r, const char *key, const char *text)
{
	merge_resolution *e;

	if (!r || !key || !text)
		return tract_error_set(TRACT_EINVAL, "tract_merge_result_set_resolution: NULL argument");
	if (r->committed)
		return tract_error_set(TRACT_EINVAL, "the merge is already committed");
	e = res_find(r, key);
	if (!e)
		return tract_error_set(TRACT_ENOTFOUND, "no conflict has the key %s", key);
	if (!tract_utf8_valid(text, strlen(text)))
		return tract_error_set(TRACT_EINVAL, "resolution text is not valid UTF-8");
	return set_str(&e->text, text);
}

/* ---- reading commits -------------------------------------------------------------- */

/* What conflict detection needs of a commit. */
typedef struct {
	char hash[65];
	tract_operation op;
	char response_to[65];
	char content_hash[65];
	tract_time at;
} side_commit;

typedef struct {
	side_commit *items;
	size_t count;
	int has_append;
	size_t first_append; /* index of the first APPEND when has_append */
} side;

static int side_commit_cb(const tract_commit_row *row, void *payload)
{
	side_commit *c = payload;

	tract_copy_id(c->hash, row->commit_hash);
	c->op = row->operation;
	tract_copy_id(c->response_to, row->response_to);
	tract_copy_id(c->content_hash, row->content_hash);
	c->at = row->created_at;
	return 0;
}

static int load_side(side *out, tract *t, const tract_dag_list *hashes)
{
	tract_store *s = t->store;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!hashes->count)
		return 0;
	out->items = calloc(hashes->count, sizeof(*out->items));
	if (!out->items)
		return tract_error_oom();
	for (i = 0; i < hashes->count; i++) {
		rc = s->be->commit_get(s->conn, NULL, hashes->items[i], side_commit_cb,
				       &out->items[i]);
		if (rc < 0)
			return tract_backend_error(s, rc, "read commit");
		if (out->items[i].op == TRACT_OP_APPEND && !out->has_append) {
			out->has_append = 1;
			out->first_append = i;
		}
		out->count++;
	}
	return 0;
}

/*
 * The fast path of a side: when the first-parent chain from tip reaches
 * base (or, without a base, a root) through commits none of which is a
 * merge, the ancestors of tip are that stretch plus the ancestors of base,
 * so the stretch is exactly the commits unique to tip: one chain walk (one
 * round trip) instead of the graph walk. Otherwise the caller falls back
 * to tract_dag_unique().
 */
typedef struct {
	side *sd;
	size_t cap;
	const char *base;
	int reached; /* met base */
	int merge;   /* met a merge commit: no fast path */
	int oom;
} chain_collect;

static int chain_collect_cb(const tract_chain_row *row, void *payload)
{
	chain_collect *cc = payload;
	side_commit *c;

	if (cc->base[0] && strcmp(row->commit.commit_hash, cc->base) == 0) {
		cc->reached = 1;
		return 1;
	}
	if (row->n_extra_parents) {
		cc->merge = 1;
		return 1;
	}
	if (cc->sd->count == cc->cap) {
		size_t ncap = cc->cap ? cc->cap * 2 : 64;
		side_commit *p = realloc(cc->sd->items, ncap * sizeof(*p));
		if (!p) {
			cc->oom = 1;
			return 1;
		}
		cc->sd->items = p;
		cc->cap = ncap;
	}
	c = &cc->sd->items[cc->sd->count++];
	tract_copy_id(c->hash, row->commit.commit_hash);
	c->op = row->commit.operation;
	tract_copy_id(c->response_to, row->commit.response_to);
	tract_copy_id(c->content_hash, row->commit.content_hash);
	return 0;
}

/* ---- linear histories: base and sides in two chain walks ------------------------ */

/*
 * When neither side's first-parent chain meets a merge commit before the
 * two chains join (the commit where they join may be one), the chains are
 * two paths that join at the merge base and stay joined: the base is the first commit of the current side's
 * chain that the source side's chain also holds, and each side's unique
 * commits are its chain above the base. Both chains are walked newest
 * first in chunks (one round trip each), always advancing the one whose
 * last commit is newer, each stopping as soon as it meets a commit the
 * other holds; git's merge-base does the same walk commit by commit. A
 * chain stops at a merge commit the other has not met (the other side may
 * still come to it); a merge commit that is not where the chains join, a
 * parent newer than its child (a damaged store) or a very long walk hand
 * over to core/dag.c.
 */
typedef struct {
	side sd;          /* rows, newest first */
	size_t cap;
	char next[65];    /* where the next chunk starts, "" when the chain ended */
	tract_time frontier;
	size_t chunk;
	int merge, bad, oom;
	size_t found;     /* index of the first row the other side holds, or SIZE_MAX */
} lin_side;

typedef struct {
	uint32_t *slot;   /* 1 + index into the side's rows, 0 empty */
	size_t cap;
	size_t count;
} row_set;

static uint64_t hash_key(const char *h)
{
	uint64_t x = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < 16 && h[i]; i++)
		x = (x ^ (unsigned char)h[i]) * 1099511628211ULL;
	return x;
}

static int set_has(const row_set *rs, const lin_side *ls, const char *h)
{
	size_t j;

	if (!rs->cap)
		return 0;
	for (j = hash_key(h) & (rs->cap - 1); rs->slot[j]; j = (j + 1) & (rs->cap - 1))
		if (strcmp(ls->sd.items[rs->slot[j] - 1].hash, h) == 0)
			return 1;
	return 0;
}

static int set_add(row_set *rs, const lin_side *ls, size_t idx)
{
	size_t j;

	if ((rs->count + 1) * 2 > rs->cap) {
		size_t ncap = rs->cap ? rs->cap * 2 : 256, i;
		uint32_t *n = calloc(ncap, sizeof(*n));
		if (!n)
			return TRACT_ENOMEM;
		for (i = 0; i < rs->cap; i++) {
			if (!rs->slot[i])
				continue;
			j = hash_key(ls->sd.items[rs->slot[i] - 1].hash) & (ncap - 1);
			while (n[j])
				j = (j + 1) & (ncap - 1);
			n[j] = rs->slot[i];
		}
		free(rs->slot);
		rs->slot = n;
		rs->cap = ncap;
	}
	j = hash_key(ls->sd.items[idx].hash) & (rs->cap - 1);
	while (rs->slot[j])
		j = (j + 1) & (rs->cap - 1);
	rs->slot[j] = (uint32_t)idx + 1;
	rs->count++;
	return 0;
}

typedef struct {
	lin_side *me, *other;
	row_set *my_set, *other_set;
} lin_walk;

#define LIN_MAX_ROWS 1000000

static int lin_cb(const tract_chain_row *row, void *payload)
{
	lin_walk *w = payload;
	lin_side *ls = w->me;
	side_commit *c;
	size_t idx = ls->sd.count;

	if (row->commit.created_at > ls->frontier || idx >= LIN_MAX_ROWS) {
		ls->bad = 1;
		return 1;
	}
	if (idx == ls->cap) {
		size_t ncap = ls->cap ? ls->cap * 2 : 128;
		side_commit *p = realloc(ls->sd.items, ncap * sizeof(*p));
		if (!p) {
			ls->oom = 1;
			return 1;
		}
		ls->sd.items = p;
		ls->cap = ncap;
	}
	c = &ls->sd.items[idx];
	tract_copy_id(c->hash, row->commit.commit_hash);
	c->op = row->commit.operation;
	tract_copy_id(c->response_to, row->commit.response_to);
	tract_copy_id(c->content_hash, row->commit.content_hash);
	c->at = row->commit.created_at;
	ls->sd.count++;
	ls->frontier = c->at;
	tract_copy_id(ls->next, row->commit.parent_hash);
	if (set_add(w->my_set, ls, idx) < 0) {
		ls->oom = 1;
		return 1;
	}
	if (set_has(w->other_set, w->other, c->hash)) {
		ls->found = idx;
		return 1;
	}
	if (row->n_extra_parents) {
		/* A merge commit the other side has not met: this chain stops
		 * here; it is the base if the other side comes to it. */
		ls->merge = 1;
		ls->next[0] = '\0';
		return 1;
	}
	return 0;
}

/* Keep rows [0, n) of a side, oldest first. */
static void lin_finish(side *out, lin_side *ls, size_t n)
{
	size_t i;

	*out = ls->sd;
	out->count = n;
	memset(&ls->sd, 0, sizeof(ls->sd));
	for (i = 0; i < n / 2; i++) {
		side_commit tmp = out->items[i];
		out->items[i] = out->items[n - 1 - i];
		out->items[n - 1 - i] = tmp;
	}
	out->has_append = 0;
	for (i = 0; i < n; i++)
		if (out->items[i].op == TRACT_OP_APPEND) {
			out->has_append = 1;
			out->first_append = i;
			break;
		}
}

/*
 * 1 with base (or "" for unrelated histories) and both sides filled when
 * the histories are linear up to the base, 0 when core/dag.c must decide
 * (nothing filled), or a negative code.
 */
static int linear_merge_base(char base[65], side *a, side *b, tract *t, const char *tip_a,
			     const char *tip_b)
{
	lin_side ls[2];
	row_set sets[2];
	size_t i, k;
	int rc = 0, result = 0;

	memset(ls, 0, sizeof(ls));
	memset(sets, 0, sizeof(sets));
	for (k = 0; k < 2; k++) {
		tract_copy_id(ls[k].next, k ? tip_b : tip_a);
		ls[k].frontier = INT64_MAX;
		ls[k].chunk = 32;
		ls[k].found = SIZE_MAX;
	}
	for (;;) {
		lin_walk w;
		if (!ls[0].next[0] && !ls[1].next[0])
			break; /* both chains ended: nothing in common */
		/* advance the side whose last commit is newer (the current
		 * side on a tie), or the one that has not ended */
		k = !ls[0].next[0] || (ls[1].next[0] && ls[1].frontier > ls[0].frontier);
		w.me = &ls[k];
		w.other = &ls[!k];
		w.my_set = &sets[k];
		w.other_set = &sets[!k];
		{
			char start[65];
			size_t before = ls[k].sd.count;
			memcpy(start, ls[k].next, sizeof(start));
			ls[k].next[0] = '\0';
			rc = tract_chain_walk(t->store, t->id, start, ls[k].chunk, TRACT_CHAIN_PARENTS,
					      INT64_MAX, lin_cb, &w, "walk history", NULL);
			if (rc < 0)
				goto done;
			if (ls[k].sd.count == before)
				ls[k].next[0] = '\0'; /* the start is not in the tract */
		}
		if (ls[k].oom) {
			rc = tract_error_oom();
			goto done;
		}
		if (ls[k].bad)
			goto done; /* core/dag.c decides */
		if (ls[k].found != SIZE_MAX)
			break;
		if (ls[k].chunk < 4096)
			ls[k].chunk *= 2;
	}
	/* Nothing in common: unrelated histories, unless a chain stopped at a
	 * merge commit (core/dag.c decides). */
	if (ls[0].found == SIZE_MAX && ls[1].found == SIZE_MAX && (ls[0].merge || ls[1].merge))
		goto done;
	/* the base: the first of the current side's rows the other side holds */
	base[0] = '\0';
	for (i = 0; i < ls[0].sd.count; i++)
		if (set_has(&sets[1], &ls[1], ls[0].sd.items[i].hash))
			break;
	if (i < ls[0].sd.count) {
		memcpy(base, ls[0].sd.items[i].hash, 65);
		lin_finish(a, &ls[0], i);
		for (i = 0; i < ls[1].sd.count; i++)
			if (strcmp(ls[1].sd.items[i].hash, base) == 0)
				break;
		lin_finish(b, &ls[1], i);
	} else {
		lin_finish(a, &ls[0], ls[0].sd.count);
		lin_finish(b, &ls[1], ls[1].sd.count);
	}
	result = 1;
done:
	for (k = 0; k < 2; k++) {
		free(ls[k].sd.items);
		free(sets[k].slot);
	}
	return rc < 0 ? rc : result;
}

/* The commits unique to tip (not reachable from base, "" for none),
 * oldest first, with what conflict detection reads of them. */
static int collect_side(side *out, tract *t, const char *tip, const char *base)
{
	chain_collect cc;
	tract_dag_list l;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strcmp(tip, base) == 0)
		return 0;
	memset(&cc, 0, sizeof(cc));
	cc.sd = out;
	cc.base = base;
	rc = tract_chain_walk(t->store, t->id, tip, 0, TRACT_CHAIN_PARENTS, INT64_MAX,
			      chain_collect_cb, &cc, "walk history", NULL);
	if (rc < 0 || cc.oom) {
		free(out->items);
		memset(out, 0, sizeof(*out));
		return rc < 0 ? rc : tract_error_oom();
	}
	if (!cc.merge && (cc.reached || !base[0])) {
		/* newest first: reverse */
		for (i = 0; i < out->count / 2; i++) {
			side_commit tmp = out->items[i];
			out->items[i] = out->items[out->count - 1 - i];
			out->items[out->count - 1 - i] = tmp;
		}
		for (i = 0; i < out->count; i++)
			if (out->items[i].op == TRACT_OP_APPEND) {
				out->has_append = 1;
				out->first_append = i;
				break;
			}
		return 0;
	}
	free(out->items);
	memset(out, 0, sizeof(*out));
	memset(&l, 0, sizeof(l));
	rc = tract_dag_unique(&l, t->store, t->id, tip, base);
	if (rc == 0)
		rc = load_side(out, t, &l);
	tract_dag_list_dispose(&l);
	if (rc < 0) {
		free(out->items);
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

typedef struct {
	char *payload;
	int found;
} blob_copy;

static int blob_copy_cb(const tract_blob_row *row, void *payload)
{
	blob_copy *b = payload;

	b->found = 1;
	b->payload = row->payload_json ? strdup(row->payload_json) : NULL;
	return row->payload_json && !b->payload ? TRACT_ENOMEM : 0;
}

static int content_text(char **out, tract_store *s, const char *content_hash)
{
	blob_copy b = {NULL, 0};
	const cJSON *v;
	cJSON *p = NULL;
	char err[64], *text = NULL;
	int rc;

	*out = NULL;
	rc = s->be->blob_get(s->conn, content_hash, blob_copy_cb, &b);
	if (rc == TRACT_ENOMEM)
		return tract_error_oom();
	if (rc < 0 && rc != TRACT_ENOTFOUND)
		return tract_backend_error(s, rc, "read blob");
	if (b.payload) {
		rc = tract_json_parse(&p, b.payload, strlen(b.payload), TRACT_JSON_NONFINITE_TO_NULL,
				      err, sizeof(err));
		free(b.payload);
		if (rc == TRACT_ENOMEM)
			return tract_error_oom();
	}
	if (!p || !cJSON_IsObject(p)) {
		cJSON_Delete(p);
		*out = strdup(UNAVAILABLE_TEXT);
		return *out ? 0 : tract_error_oom();
	}
	v = cJSON_GetObjectItemCaseSensitive(p, "text");
	if (!cJSON_IsString(v))
		v = NULL;
	if (!v) {
		v = cJSON_GetObjectItemCaseSensitive(p, "content");
		if (!cJSON_IsString(v))
			v = NULL;
	}
	if (v) {
		text = strdup(v->valuestring);
		if (text)
			tract_mutf8_to_bytes(text, strlen(text));
	} else {
		v = cJSON_GetObjectItemCaseSensitive(p, "payload");
		text = tract_json_render_str(v ? v : p, TRACT_JSON_TOKEN);
	}
	cJSON_Delete(p);
	if (!text)
		return tract_error_oom();
	*out = text;
	return 0;
}

static int latest_priority_cb(const tract_annotation_row *row, void *payload)
{
	*(tract_priority *)payload = row->priority;
	return 0;
}

/* The latest annotation of a commit (tract-wide), TRACT_PRIORITY_NONE. */
static int latest_priority(tract_priority *out, tract_store *s, const char *hash)
{
	int rc;

	*out = TRACT_PRIORITY_NONE;
	rc = s->be->annotation_list(s->conn, hash, latest_priority_cb, out);
	return rc < 0 ? tract_backend_error(s, rc, "read annotations") : 0;
}

static int exists_cb(const tract_commit_row *row, void *payload)
{
	(void)row;
	*(int *)payload = 1;
	return 0;
}

/* ---- conflict detection (§8.5) --------------------------------------------------- */

/* Edits of one side: target -> the side's last edit of it, in the order
 * each target was first edited. */
typedef struct {
	const char *target;
	size_t edit; /* index in the side */
} edit_entry;

typedef struct {
	edit_entry *items;
	size_t count;
} edit_map;

static int edits_of(edit_map *m, const side *sd)
{
	size_t i, j;

	memset(m, 0, sizeof(*m));
	if (!sd->count)
		return 0;
	m->items = calloc(sd->count, sizeof(*m->items));
	if (!m->items)
		return tract_error_oom();
	for (i = 0; i < sd->count; i++) {
		const side_commit *c = &sd->items[i];
		if (c->op != TRACT_OP_EDIT || !c->response_to[0])
			continue;
		for (j = 0; j < m->count; j++)
			if (strcmp(m->items[j].target, c->response_to) == 0)
				break;
		if (j == m->count) {
			m->items[j].target = c->response_to;
			m->count++;
		}
		m->items[j].edit = i;
	}
	return 0;
}

static const edit_entry *edit_find(const edit_map *m, const char *target)
{
	size_t i;

	for (i = 0; i < m->count; i++)
		if (strcmp(m->items[i].target, target) == 0)
			return &m->items[i];
	return NULL;
}

static int cmp_hash(const void *a, const void *b)
{
	return strcmp(a, b);
}

typedef struct {
	tract_merge_result *r;
	tract *t;
	const side *a, *b;
	char (*divergent)[65]; /* sorted hashes of A and B */
	size_t n_divergent;
} detect;

static int is_divergent(const detect *d, const char *hash)
{
	return d->n_divergent &&
	       bsearch(hash, d->divergent, d->n_divergent, sizeof(*d->divergent), cmp_hash) != NULL;
}


/*
 * Add a conflict. a_text / b_text are the content hashes whose text each
 * side shows, NULL for a side that is the skipped target ("[SKIPPED]");
 * editor_a tells which branch made the edit the conflict is about.
 */
static int add_conflict(detect *d, tract_issue_kind kind, const char *target, const char *a,
			const char *b, const char *a_text, const char *b_text, int editor_a)
{
	tract_merge_result *r = d->r;
	merge_conflict *c, *grown;
	char buf[512];
	int rc;

	grown = realloc(r->conflicts, (r->n_conflicts + 1) * sizeof(*grown));
	if (!grown)
		return tract_error_oom();
	r->conflicts = grown;
	c = &r->conflicts[r->n_conflicts];
	memset(c, 0, sizeof(*c));
	r->n_conflicts++;
	c->issue.kind = kind;
	c->editor_a = editor_a;
	tract_copy_id(c->target, target);
	tract_copy_id(c->key, target[0] ? target : b);
	tract_copy_id(c->a, a);
	tract_copy_id(c->b, b);
	if (a_text)
		rc = content_text(&c->text_a, d->t->store, a_text);
	else
		rc = (c->text_a = strdup(SKIPPED_TEXT)) ? 0 : tract_error_oom();
	if (rc == 0 && b_text)
		rc = content_text(&c->text_b, d->t->store, b_text);
	else if (rc == 0)
		rc = (c->text_b = strdup(SKIPPED_TEXT)) ? 0 : tract_error_oom();
	if (rc < 0)
		return rc;
	switch (kind) {
	case TRACT_ISSUE_BOTH_EDIT:
		snprintf(buf, sizeof(buf), "both branches edited commit %.8s", c->target);
		break;
	case TRACT_ISSUE_SKIP_VS_EDIT:
		snprintf(buf, sizeof(buf), "commit %.8s is skipped, and branch %s edited it",
			 c->target, editor_a ? r->target : r->source);
		break;
	default:
		snprintf(buf, sizeof(buf),
			 "branch %s edited commit %.8s of the shared history while branch %s "
			 "added commits",
			 editor_a ? r->target : r->source, c->target,
			 editor_a ? r->source : r->target);
		break;
	}
	c->description = strdup(buf);
	return c->description ? 0 : tract_error_oom();
}

/* Point each conflict's issue at its own strings (after the array stops
 * moving). */
static void fix_issues(tract_merge_result *r)
{
	size_t i;

	for (i = 0; i < r->n_conflicts; i++) {
		merge_conflict *c = &r->conflicts[i];
		c->issue.operation = "merge";
		c->issue.key = c->key;
		c->issue.target_hash = c->target[0] ? c->target : NULL;
		c->issue.commit_a = c->a[0] ? c->a : NULL;
		c->issue.commit_b = c->b[0] ? c->b : NULL;
		c->issue.text_a = c->text_a ? c->text_a : "";
		c->issue.text_b = c->text_b ? c->text_b : "";
		c->issue.branch_a = r->target;
		c->issue.branch_b = r->source;
		c->issue.description = c->description;
	}
}

/* skip_vs_edit for the edits of one side whose targets the other side
 * did not edit and whose latest annotation is SKIP. */
static int skip_conflicts(detect *d, const edit_map *mine, const side *my, const edit_map *other,
			  int editor_a)
{
	tract_store *s = d->t->store;
	size_t i;
	int rc;

	for (i = 0; i < mine->count; i++) {
		const side_commit *e = &my->items[mine->items[i].edit];
		const char *target = mine->items[i].target;
		tract_priority p;
		int exists = 0;
		if (edit_find(other, target))
			continue;
		rc = latest_priority(&p, s, target);
		if (rc < 0)
			return rc;
		if (p != TRACT_PRIORITY_SKIP)
			continue;
		rc = s->be->commit_get(s->conn, NULL, target, exists_cb, &exists);
		if (rc < 0 && rc != TRACT_ENOTFOUND)
			return tract_backend_error(s, rc, "read commit");
		/* the skipped side is the target itself (or, if it cannot be
		 * loaded, the edit) */
		if (editor_a)
			rc = add_conflict(d, TRACT_ISSUE_SKIP_VS_EDIT, target, e->hash,
					  exists ? target : e->hash, e->content_hash, NULL, 1);
		else
			rc = add_conflict(d, TRACT_ISSUE_SKIP_VS_EDIT, target,
					  exists ? target : e->hash, e->hash, NULL, e->content_hash,
					  0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* edit_plus_append for the edits of one side whose targets are shared
 * history, when the other side appended. */
static int append_conflicts(detect *d, const edit_map *mine, const side *my, const edit_map *other,
			    const side *their, int editor_a)
{
	size_t i;
	int rc;

	if (!their->has_append)
		return 0;
	for (i = 0; i < mine->count; i++) {
		const side_commit *e = &my->items[mine->items[i].edit];
		const side_commit *app = &their->items[their->first_append];
		const char *target = mine->items[i].target;
		if (edit_find(other, target) || is_divergent(d, target))
			continue;
		rc = editor_a ? add_conflict(d, TRACT_ISSUE_EDIT_PLUS_APPEND, target, e->hash,
					     app->hash, e->content_hash, app->content_hash, 1)
			      : add_conflict(d, TRACT_ISSUE_EDIT_PLUS_APPEND, target, app->hash,
					     e->hash, app->content_hash, e->content_hash, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int detect_conflicts(tract_merge_result *r, tract *t, const side *a, const side *b)
{
	edit_map ea, eb;
	detect d;
	size_t i, k = 0;
	int rc;

	memset(&d, 0, sizeof(d));
	d.r = r;
	d.t = t;
	d.a = a;
	d.b = b;
	rc = edits_of(&ea, a);
	if (rc == 0)
		rc = edits_of(&eb, b);
	if (rc < 0)
		goto done;
	if (!ea.count && !eb.count)
		goto done; /* no edit, no conflict */
	d.n_divergent = a->count + b->count;
	d.divergent = malloc(d.n_divergent * sizeof(*d.divergent));
	if (!d.divergent) {
		rc = tract_error_oom();
		goto done;
	}
	for (i = 0; i < a->count; i++)
		memcpy(d.divergent[k++], a->items[i].hash, 65);
	for (i = 0; i < b->count; i++)
		memcpy(d.divergent[k++], b->items[i].hash, 65);
	qsort(d.divergent, d.n_divergent, sizeof(*d.divergent), cmp_hash);

	/* 1. both_edit, in the order of the current side's edits */
	for (i = 0; rc == 0 && i < ea.count; i++) {
		const edit_entry *o = edit_find(&eb, ea.items[i].target);
		const side_commit *x = &a->items[ea.items[i].edit], *y;
		if (!o)
			continue;
		y = &b->items[o->edit];
		rc = add_conflict(&d, TRACT_ISSUE_BOTH_EDIT, ea.items[i].target, x->hash, y->hash,
				  x->content_hash, y->content_hash, 1);
	}
	/* 2, 3. skip_vs_edit: editor on the source side, then the current */
	if (rc == 0)
		rc = skip_conflicts(&d, &eb, b, &ea, 0);
	if (rc == 0)
		rc = skip_conflicts(&d, &ea, a, &eb, 1);
	/* 4, 5. edit_plus_append: editor on the current side, then the source */
	if (rc == 0)
		rc = append_conflicts(&d, &ea, a, &eb, b, 1);
	if (rc == 0)
		rc = append_conflicts(&d, &eb, b, &ea, a, 0);
done:
	free(ea.items);
	free(eb.items);
	free(d.divergent);
	return rc;
}

/* One resolution slot per distinct key, in conflict order. */
static int make_resolution_slots(tract_merge_result *r)
{
	size_t i;

	if (!r->n_conflicts)
		return 0;
	r->res = calloc(r->n_conflicts, sizeof(*r->res));
	if (!r->res)
		return tract_error_oom();
	for (i = 0; i < r->n_conflicts; i++)
		if (!res_find(r, r->conflicts[i].key))
			memcpy(r->res[r->n_res++].key, r->conflicts[i].key, 65);
	return 0;
}

/* ---- the resolver loop (§8.7) ------------------------------------------------------ */

static int check_config(const char *json)
{
	cJSON *o = NULL;
	int rc = tract_parse_object(&o, json, "resolver generation config");

	cJSON_Delete(o);
	return rc;
}

static int run_resolver(tract_merge_result *r, tract_resolver_cb cb, void *payload)
{
	size_t i;
	int rc;

	for (i = 0; i < r->n_conflicts; i++) {
		merge_conflict *c = &r->conflicts[i];
		merge_resolution *e = res_find(r, c->key);
		tract_resolution ans;

		memset(&ans, 0, sizeof(ans));
		tract_error_clear();
		rc = cb(&ans, &c->issue, payload);
		if (rc < 0) {
			if (tract_error_last()->code != rc)
				tract_error_set(rc, "resolver failed on conflict %zu (%s)", i + 1,
						tract_issue_kind_name(c->issue.kind));
			return rc;
		}
		if (ans.action == TRACT_RESOLVE_ABORT)
			return tract_error_set(TRACT_EABORTED, "Resolver aborted merge: %s",
					       ans.reasoning && ans.reasoning[0]
						       ? ans.reasoning
						       : "(no reason given)");
		if (ans.action != TRACT_RESOLVE_RESOLVED || !ans.text)
			continue;
		if (!tract_utf8_valid(ans.text, strlen(ans.text)))
			return tract_error_set(TRACT_EINVAL,
					       "resolver's text for conflict %zu is not valid UTF-8",
					       i + 1);
		if (ans.reasoning && !tract_utf8_valid(ans.reasoning, strlen(ans.reasoning)))
			return tract_error_set(TRACT_EINVAL, "resolver's reasoning for conflict "
							     "%zu is not valid UTF-8",
					       i + 1);
		if (ans.generation_config_json && check_config(ans.generation_config_json) < 0)
			return TRACT_EINVAL;
		rc = set_str(&e->text, ans.text);
		if (rc == 0 && ans.reasoning && ans.reasoning[0])
			rc = set_str(&e->reasoning, ans.reasoning);
		if (rc == 0 && ans.generation_config_json)
			rc = set_str(&e->config, ans.generation_config_json);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- writing ------------------------------------------------------------------------- */

/* The merge commit's content (normalized) and metadata, as the commit path
 * would store them. */
typedef struct {
	char *payload;        /* J-STORE */
	char content_hash[65];
	int64_t tokens;
	char *metadata;       /* J-COLUMN or NULL */
	const char *config;   /* borrowed JSON or NULL */
} merge_content;

static void merge_content_dispose(merge_content *m)
{
	free(m->payload);
	free(m->metadata);
	memset(m, 0, sizeof(*m));
}

static int build_content(merge_content *m, tract *t, const tract_merge_result *r)
{
	cJSON *in = cJSON_CreateObject(), *pl, *res = NULL, *n = NULL, *meta = NULL, *why = NULL;
	tract_buf text = TRACT_BUF_INIT;
	tract_text_kind kind;
	char *canon = NULL, msg[1100];
	size_t i;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	snprintf(msg, sizeof(msg), "Merged %s into %s", r->source, r->target);
	if (!in || !cJSON_AddStringToObject(in, "content_type", "freeform") ||
	    !(pl = cJSON_AddObjectToObject(in, "payload")) ||
	    !cJSON_AddStringToObject(pl, "message", msg))
		goto oom;
	if (r->n_conflicts) {
		res = cJSON_AddObjectToObject(pl, "resolutions");
		if (!res)
			goto oom;
	}
	for (i = 0; i < r->n_res; i++) {
		if (!cJSON_AddStringToObject(res, r->res[i].key, r->res[i].text))
			goto oom;
		if (r->res[i].reasoning) {
			if (!why && (!(meta = cJSON_CreateObject()) ||
				     !(why = cJSON_AddObjectToObject(meta, "resolution_reasoning"))))
				goto oom;
			if (!cJSON_AddStringToObject(why, r->res[i].key, r->res[i].reasoning))
				goto oom;
		}
		if (!m->config && r->res[i].config)
			m->config = r->res[i].config;
	}
	rc = tract_content_normalize_json(&n, &t->types, in);
	if (rc < 0)
		goto done;
	canon = tract_json_render_str(n, TRACT_JSON_CANON);
	m->payload = tract_json_render_str(n, TRACT_JSON_STORE);
	if (meta)
		m->metadata = tract_json_render_str(meta, TRACT_JSON_COLUMN);
	if (!canon || !m->payload || (meta && !m->metadata))
		goto oom;
	rc = tract_sha256_hex(m->content_hash, canon, strlen(canon));
	if (rc < 0)
		goto done;
	if (tract_content_count_text(&text, &kind, n) < 0)
		goto oom;
	m->tokens = text.len ? tract_count(t, text.ptr, text.len) : 0;
	if (m->tokens < 0)
		rc = (int)m->tokens;
	goto done;
oom:
	rc = tract_error_oom();
done:
	tract_buf_dispose(&text);
	free(canon);
	cJSON_Delete(in);
	cJSON_Delete(n);
	cJSON_Delete(meta);
	if (rc < 0)
		merge_content_dispose(m);
	return rc;
}

/* Move refs/heads/<branch> from old to new by compare-and-swap. */
static int move_branch(tract_store *s, const char *tract_id, const char *branch, const char *old,
		       const char *new_hash)
{
	char name[300];
	tract_ref_row exp;
	int rc;

	snprintf(name, sizeof(name), "refs/heads/%s", branch);
	memset(&exp, 0, sizeof(exp));
	exp.commit_hash = old;
	rc = s->be->ref_cas(s->conn, tract_id, name, new_hash, NULL, &exp);
	if (rc == TRACT_ESTALE)
		return tract_error_set(TRACT_ESTALE, "branch '%s' moved by another writer", branch);
	return rc < 0 ? tract_backend_error(s, rc, "move branch") : 0;
}

/* Delete the merged source branch if it still points at the merged tip. */
static int delete_source(tract_store *s, const char *tract_id, const tract_merge_result *r)
{
	char name[300];
	tract_ref_row exp;
	int rc;

	snprintf(name, sizeof(name), "refs/heads/%s", r->source);
	memset(&exp, 0, sizeof(exp));
	exp.commit_hash = r->source_tip;
	rc = s->be->ref_delete(s->conn, tract_id, name, &exp);
	if (rc == TRACT_ENOTFOUND)
		return 0; /* already gone */
	if (rc == TRACT_ESTALE)
		return tract_error_set(TRACT_ESTALE,
				       "branch '%s' moved since the merge; not deleted", r->source);
	if (rc < 0)
		return tract_backend_error(s, rc, "delete branch");
	/* The ref log keeps the deleted tip (reflog.c). */
	return tract_reflog_note_commits(s, tract_id, name, r->source_tip, NULL, "merge", 0);
}

/*
 * Write the merge commit inside the open write transaction: blob, commit
 * (hash over both parents), commit_parents rows, the target branch moved
 * from target_tip, the budget checked on the compiled result, the source
 * branch deleted if asked. Sets r->commit.
 */
static int write_merge(tract_merge_result *r, tract *t)
{
	tract_store *s = t->store;
	merge_content m;
	tract_commit_hash_input hin;
	tract_commit_row row;
	tract_blob_row blob;
	const char *extra[1] = {r->source_tip};
	char hash[65], msg[1100];
	tract_time now;
	int rc;

	rc = build_content(&m, t, r);
	if (rc < 0)
		return rc;
	now = tract_time_now();
	memset(&hin, 0, sizeof(hin));
	hin.content_hash = m.content_hash;
	hin.parent_hash = r->target_tip;
	hin.content_type = "freeform";
	hin.operation = TRACT_OP_APPEND;
	hin.created_at = now;
	hin.extra_parents = extra;
	hin.n_extra = 1;
	rc = tract_commit_hash_compute(hash, &hin);
	if (rc < 0)
		goto done;
	memset(&blob, 0, sizeof(blob));
	blob.content_hash = m.content_hash;
	blob.payload_json = m.payload;
	blob.byte_size = (int64_t)strlen(m.payload);
	blob.token_count = m.tokens;
	blob.created_at = now;
	rc = s->be->blob_put(s->conn, &blob, NULL);
	if (rc < 0) {
		rc = tract_backend_error(s, rc, "store blob");
		goto done;
	}
	snprintf(msg, sizeof(msg), "Merge branch '%s' into %s", r->source, r->target);
	memset(&row, 0, sizeof(row));
	row.commit_hash = hash;
	row.tract_id = t->id;
	row.parent_hash = r->target_tip;
	row.content_hash = m.content_hash;
	row.content_type = "freeform";
	row.operation = TRACT_OP_APPEND;
	row.message = msg;
	row.token_count = m.tokens;
	row.metadata_json = m.metadata;
	row.generation_config_json = m.config;
	row.created_at = now;
	rc = s->be->commit_put(s->conn, &row);
	if (rc < 0) {
		rc = tract_backend_error(s, rc, "store commit");
		goto done;
	}
	rc = s->be->parent_put(s->conn, hash, r->target_tip, 0);
	if (rc == 0)
		rc = s->be->parent_put(s->conn, hash, r->source_tip, 1);
	if (rc < 0) {
		rc = tract_backend_error(s, rc, "store merge parents");
		goto done;
	}
	rc = move_branch(s, t->id, r->target, r->target_tip, hash);
	if (rc == 0 && t->budget_max >= 0) {
		/* The budget compares the context the merge compiles to. */
		tract_context *ctx = NULL;
		rc = tract_compile_full(&ctx, t, hash, NULL);
		if (rc == 0)
			rc = tract_budget_check(t, ctx->token_count);
		tract_context_free(ctx);
	}
	if (rc == 0 && r->delete_branch)
		rc = delete_source(s, t->id, r);
	if (rc == 0)
		memcpy(r->commit, hash, sizeof(hash));
done:
	merge_content_dispose(&m);
	return rc;
}

/*
 * End the operation's write transaction. A failure after the first write
 * (a budget refusal, a lost race) must not leave a batch half-written:
 * tract_txn_end only poisons a batch for codes that cannot come from
 * validation, so do it here.
 */
static int end_write(tract *t, int rc, int wrote)
{
	if (rc < 0 && wrote && t->store->txn_depth > 1)
		t->store->batch_failed = 1;
	rc = tract_txn_end(t->store, rc);
	tract_cache_sync(t);
	return rc;
}

/* ---- tract_merge ------------------------------------------------------------------------ */

/* Current branch and head (§8.1 checks 1 and 3 are made by the caller). */
static int read_source(char tip[65], tract *t, const char *source)
{
	tract_ref_value v;
	char name[300];
	int rc;

	tip[0] = '\0';
	if (strlen(source) > 255)
		return tract_error_set(TRACT_ENOTFOUND, "Branch not found: %.255s...", source);
	snprintf(name, sizeof(name), "refs/heads/%s", source);
	rc = tract_ref_read(&v, t->store, t->id, name);
	if (rc < 0)
		return rc;
	if (!v.exists || !v.commit[0])
		return tract_error_set(TRACT_ENOTFOUND, "Branch not found: %s", source);
	memcpy(tip, v.commit, 65);
	return 0;
}

static int merge_in_txn(tract_merge_result *r, tract *t, const tract_merge_options *o,
			tract_resolver_cb cb, void *cb_payload, int *wrote)
{
	tract_store *s = t->store;
	tract_head_state hs;
	side a, b;
	int rc, anc = 0, linear = 0;
	size_t i;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	rc = tract_head_read(&hs, t);
	if (rc < 0)
		return rc;
	/* 1. detached (a tract without any HEAD row is not: check 3) */
	if (hs.head.exists && (!hs.head.symbolic[0] ||
			       strncmp(hs.head.symbolic, "refs/heads/", 11) != 0))
		return tract_error_set(TRACT_EDETACHED, "Cannot merge in detached HEAD state");
	/* 2. the source branch */
	rc = read_source(r->source_tip, t, r->source);
	if (rc < 0)
		return rc;
	/* 3. a commit to merge into */
	if (!hs.hash[0])
		return tract_error_set(TRACT_ENOTFOUND,
				       "Cannot merge: no commits on current branch");
	r->target = strdup(hs.head.symbolic + 11);
	if (!r->target)
		return tract_error_oom();
	memcpy(r->target_tip, hs.hash, 65);
	/* 4. the same commit */
	if (strcmp(r->target_tip, r->source_tip) == 0) {
		r->type = TRACT_MERGE_UP_TO_DATE;
		return 0;
	}
	/* linear histories: the base and both sides in two chain walks */
	rc = linear_merge_base(r->base, &a, &b, t, r->target_tip, r->source_tip);
	if (rc < 0)
		return rc;
	linear = rc;
	/* fast-forward (§8.2) */
	if (linear)
		anc = strcmp(r->base, r->target_tip) == 0;
	else
		rc = tract_dag_is_ancestor(&anc, s, t->id, r->target_tip, r->source_tip);
	if (rc < 0)
		goto done;
	if (anc && !o->no_ff) {
		rc = move_branch(s, t->id, r->target, r->target_tip, r->source_tip);
		*wrote = 1;
		if (rc == 0 && o->delete_branch)
			rc = delete_source(s, t->id, r);
		if (rc < 0)
			goto done;
		r->type = TRACT_MERGE_FAST_FORWARD;
		r->committed = 1;
		r->base[0] = '\0'; /* §8.2: no base for a fast-forward */
		memcpy(r->commit, r->source_tip, 65);
		goto done;
	}
	/* already merged (§8.3) */
	if (anc)
		memcpy(r->base, r->target_tip, 65);
	else if (!linear)
		rc = tract_dag_merge_base(r->base, s, t->id, r->target_tip, r->source_tip);
	if (rc < 0)
		goto done;
	if (strcmp(r->base, r->source_tip) == 0) {
		r->type = TRACT_MERGE_UP_TO_DATE;
		goto done;
	}
	/* each side's commits, over all parents (§8.4 with DECISIONS.md) */
	if (!linear) {
		rc = collect_side(&a, t, r->target_tip, r->base);
		if (rc == 0)
			rc = collect_side(&b, t, r->source_tip, r->base);
		if (rc < 0)
			goto done;
	}
	r->merged = malloc((a.count + b.count ? a.count + b.count : 1) * sizeof(*r->merged));
	if (!r->merged) {
		rc = tract_error_oom();
		goto done;
	}
	for (i = 0; i < a.count; i++)
		memcpy(r->merged[r->n_merged++], a.items[i].hash, 65);
	for (i = 0; i < b.count; i++)
		memcpy(r->merged[r->n_merged++], b.items[i].hash, 65);
	rc = detect_conflicts(r, t, &a, &b);
	if (rc == 0)
		rc = make_resolution_slots(r);
	if (rc < 0)
		goto done;
	fix_issues(r);
	if (!r->n_conflicts) {
		r->type = TRACT_MERGE_CLEAN;
		*wrote = 1;
		rc = write_merge(r, t);
		if (rc == 0)
			r->committed = 1;
		goto done;
	}
	r->type = TRACT_MERGE_CONFLICT;
	if (cb) {
		strategy_ctx sc;
		memset(&sc, 0, sizeof(sc));
		sc.magic = STRATEGY_MAGIC;
		sc.r = r;
		if ((cb == tract_merge_resolver_ours || cb == tract_merge_resolver_theirs) &&
		    !cb_payload)
			cb_payload = &sc;
		rc = run_resolver(r, cb, cb_payload);
		tract_context_free(sc.base_ctx);
		if (rc < 0)
			goto done;
	}
	if (o->auto_commit && tract_merge_result_unresolved_count(r) == 0) {
		*wrote = 1;
		rc = write_merge(r, t);
		if (rc == 0)
			r->committed = 1;
	}
done:
	free(a.items);
	free(b.items);
	return rc;
}

int tract_merge(tract_merge_result **out, tract *t, const char *source_branch,
		const tract_merge_options *opts)
{
	tract_merge_options defaults = TRACT_MERGE_OPTIONS_INIT;
	tract_merge_result *r;
	tract_resolver_cb cb;
	void *cb_payload;
	int rc, wrote = 0;

	if (out)
		*out = NULL;
	if (!out || !t || !source_branch)
		return tract_error_set(TRACT_EINVAL, "tract_merge: NULL argument");
	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_MERGE_OPTIONS_VERSION,
				"tract_merge_options") < 0)
		return TRACT_EINVAL;
	if (!source_branch[0])
		return tract_error_set(TRACT_EINVAL, "empty branch name");
	switch (opts->strategy) {
	case TRACT_MERGE_STRATEGY_AUTO:
		cb = opts->resolver;
		cb_payload = opts->resolver_payload;
		break;
	case TRACT_MERGE_STRATEGY_OURS:
	case TRACT_MERGE_STRATEGY_THEIRS:
		if (opts->resolver)
			return tract_error_set(TRACT_EINVAL, "a merge takes a strategy or a "
							     "resolver, not both");
		cb = opts->strategy == TRACT_MERGE_STRATEGY_OURS ? tract_merge_resolver_ours
								 : tract_merge_resolver_theirs;
		cb_payload = NULL;
		break;
	default:
		return tract_error_set(TRACT_EINVAL, "unknown merge strategy %d",
				       (int)opts->strategy);
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->source = strdup(source_branch))) {
		free(r);
		return tract_error_oom();
	}
	r->t = t;
	r->delete_branch = opts->delete_branch;
	rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
	if (rc == 0) {
		rc = merge_in_txn(r, t, opts, cb, cb_payload, &wrote);
		rc = end_write(t, rc, wrote);
	}
	if (rc < 0) {
		tract_merge_result_free(r);
		return rc;
	}
	if (r->type == TRACT_MERGE_CLEAN || (r->type == TRACT_MERGE_CONFLICT && r->committed))
		tract_cache_clear(t->cache);
	*out = r;
	return 0;
}

/* ---- tract_merge_commit (§8.9 with DECISIONS.md) -------------------------------------- */

static int commit_in_txn(tract_merge_result *r)
{
	tract *t = r->t;
	tract_head_state hs;
	size_t n;
	int rc;

	n = tract_merge_result_unresolved_count(r);
	if (n)
		return tract_error_set(TRACT_ECONFLICT, "Cannot commit merge: %zu unresolved "
							"conflict(s)",
				       n);
	rc = tract_head_read(&hs, t);
	if (rc < 0)
		return rc;
	if (hs.head.exists && !hs.head.symbolic[0])
		return tract_error_set(TRACT_EDETACHED,
				       "Cannot commit merge in detached HEAD state");
	if (!hs.head.exists || strncmp(hs.head.symbolic, "refs/heads/", 11) != 0 ||
	    strcmp(hs.head.symbolic + 11, r->target) != 0)
		return tract_error_set(TRACT_ESTALE,
				       "Cannot commit merge: HEAD is no longer on branch '%s'",
				       r->target);
	if (strcmp(hs.hash, r->target_tip) != 0)
		return tract_error_set(TRACT_ESTALE, "Cannot commit merge: branch '%s' moved "
						     "since the merge",
				       r->target);
	return write_merge(r, t);
}

int tract_merge_commit(tract_merge_result *r)
{
	tract *t;
	int rc;

	if (!r || !r->t)
		return tract_error_set(TRACT_EINVAL, "tract_merge_commit: NULL result");
	if (r->committed)
		return tract_error_set(TRACT_EINVAL, "the merge is already committed");
	if (r->type != TRACT_MERGE_CONFLICT)
		return tract_error_set(TRACT_EINVAL, "nothing to commit: the branch is up to date");
	t = r->t;
	rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
	if (rc < 0)
		return rc;
	rc = commit_in_txn(r);
	rc = end_write(t, rc, 1);
	if (rc < 0) {
		r->commit[0] = '\0';
		return rc;
	}
	r->committed = 1;
	tract_cache_clear(t->cache);
	return 0;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static cJSON *hash_or_null(const char *h)
{
	return h && h[0] ? cJSON_CreateString(h) : cJSON_CreateNull();
}

int tract_merge_result_to_json(char **out, const tract_merge_result *r)
{
	cJSON *o, *arr, *res, *why, *merged;
	size_t i;

	if (!out || !r)
		return tract_error_set(TRACT_EINVAL, "tract_merge_result_to_json: NULL argument");
	*out = NULL;
	o = cJSON_CreateObject();
	if (!o)
		return tract_error_oom();
	cJSON_AddStringToObject(o, "merge_type", tract_merge_type_name(r->type));
	cJSON_AddBoolToObject(o, "committed", r->committed);
	cJSON_AddStringToObject(o, "source_branch", r->source);
	cJSON_AddItemToObject(o, "target_branch",
			      r->target ? cJSON_CreateString(r->target) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "merge_base_hash", hash_or_null(r->base));
	cJSON_AddItemToObject(o, "source_tip_hash", hash_or_null(r->source_tip));
	cJSON_AddItemToObject(o, "target_tip_hash", hash_or_null(r->target_tip));
	cJSON_AddItemToObject(o, "merge_commit_hash", hash_or_null(r->commit));
	arr = cJSON_AddArrayToObject(o, "conflicts");
	for (i = 0; arr && i < r->n_conflicts; i++) {
		const merge_conflict *c = &r->conflicts[i];
		cJSON *x = cJSON_CreateObject();
		if (!x || !cJSON_AddItemToArray(arr, x))
			break;
		cJSON_AddStringToObject(x, "conflict_type", tract_issue_kind_name(c->issue.kind));
		cJSON_AddStringToObject(x, "key", c->key);
		cJSON_AddItemToObject(x, "target_hash", hash_or_null(c->target));
		cJSON_AddItemToObject(x, "commit_a", hash_or_null(c->a));
		cJSON_AddItemToObject(x, "commit_b", hash_or_null(c->b));
		cJSON_AddStringToObject(x, "content_a_text", c->text_a ? c->text_a : "");
		cJSON_AddStringToObject(x, "content_b_text", c->text_b ? c->text_b : "");
		cJSON_AddStringToObject(x, "description", c->description ? c->description : "");
	}
	res = cJSON_AddObjectToObject(o, "resolutions");
	why = cJSON_AddObjectToObject(o, "resolution_reasoning");
	for (i = 0; res && why && i < r->n_res; i++) {
		if (r->res[i].text)
			cJSON_AddStringToObject(res, r->res[i].key, r->res[i].text);
		if (r->res[i].reasoning)
			cJSON_AddStringToObject(why, r->res[i].key, r->res[i].reasoning);
	}
	cJSON_AddItemToObject(o, "unresolved",
			      tract_json_new_int((int64_t)tract_merge_result_unresolved_count(r)));
	merged = cJSON_AddArrayToObject(o, "auto_merged");
	for (i = 0; merged && i < r->n_merged; i++)
		cJSON_AddItemToArray(merged, cJSON_CreateString(r->merged[i]));
	*out = tract_json_render_str(o, TRACT_JSON_FLAT);
	cJSON_Delete(o);
	return *out ? 0 : tract_error_oom();
}
