/*
 * diff.c - comparing the compiled contexts of two revisions
 * (spec/history.md §11 with DECISIONS.md): alignment of the serialised
 * messages with the matcher of seqmatch.c, classification, unified diffs
 * of modified messages, token deltas from the per-message counts of
 * compile, generation-config changes with sorted keys (operation: reads
 * only, in one read transaction).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "internal.h"
#include "json.h"
#include "row.h"
#include "seqmatch.h"
#include "walk.h"

#define EMPTY_SIDE "(empty)"

/* The result with what its pointers share: the distinct role strings. */
typedef struct {
	tract_diff_result pub;
	char **roles;
	size_t nroles;
} diff_result;

int tract_diff_options_init(tract_diff_options *opts, unsigned int version)
{
	tract_diff_options defaults = TRACT_DIFF_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_diff_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_DIFF_OPTIONS_VERSION, "tract_diff_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

const char *tract_diff_status_name(tract_diff_status status)
{
	switch (status) {
	case TRACT_DIFF_UNCHANGED:
		return "unchanged";
	case TRACT_DIFF_ADDED:
		return "added";
	case TRACT_DIFF_REMOVED:
		return "removed";
	case TRACT_DIFF_MODIFIED:
		return "modified";
	}
	return "unknown";
}

void tract_diff_result_free(tract_diff_result *result)
{
	diff_result *d = (diff_result *)result;

	if (!d)
		return;
	for (size_t i = 0; i < d->pub.count; i++) {
		tract_diff_entry *e = &d->pub.entries[i];
		if (e->lines)
			free(e->lines[0]); /* the block every line points into */
		free(e->lines);
		free(e->line_lens);
	}
	free(d->pub.entries);
	for (size_t i = 0; i < d->pub.config_change_count; i++) {
		free(d->pub.config_changes[i].key);
		free(d->pub.config_changes[i].old_json);
		free(d->pub.config_changes[i].new_json);
	}
	free(d->pub.config_changes);
	for (size_t i = 0; i < d->nroles; i++)
		free(d->roles[i]);
	free(d->roles);
	free(d);
}

/* A shared copy of a role string. */
static int role_of(const char **out, diff_result *d, const char *role)
{
	char **n;

	for (size_t i = 0; i < d->nroles; i++)
		if (strcmp(d->roles[i], role) == 0) {
			*out = d->roles[i];
			return 0;
		}
	n = realloc(d->roles, (d->nroles + 1) * sizeof(*n));
	if (!n)
		return tract_error_oom();
	d->roles = n;
	if (!(n[d->nroles] = strdup(role)))
		return tract_error_oom();
	*out = n[d->nroles++];
	return 0;
}

/* ---- serialisation (§11.2) ---------------------------------------------- */

static int serialise(tract_buf *b, const tract_msg *m)
{
	int rc = tract_buf_printf(b, "role: %s\n", m->role);

	if (m->name && m->name_len) {
		rc |= tract_buf_puts(b, "name: ");
		rc |= tract_buf_put(b, m->name, m->name_len);
		rc |= tract_buf_putc(b, '\n');
	}
	rc |= tract_buf_puts(b, "---\n");
	rc |= tract_buf_put(b, m->content, m->content_len);
	return rc ? tract_error_oom() : 0;
}

/* Number the messages of both sides so that equal serialisations (same
 * role, name and content) get equal numbers, without serialising them. */
static uint64_t mix(uint64_t h, const char *p, size_t n)
{
	uint64_t w;

	h ^= n * 0x9E3779B97F4A7C15ULL;
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x100000001B3ULL;
		h ^= h >> 31;
	}
	w = 0;
	memcpy(&w, p, n);
	h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
	return h ^ (h >> 29);
}

static uint64_t msg_key(const tract_msg *m)
{
	uint64_t h = mix(0, m->role, strlen(m->role));

	h = mix(h, m->name ? m->name : "", m->name ? m->name_len : 0);
	return mix(h, m->content, m->content_len);
}

static int msg_same(const tract_msg *x, const tract_msg *y)
{
	size_t nx = x->name ? x->name_len : 0, ny = y->name ? y->name_len : 0;

	if (x == y)
		return 1;
	return strcmp(x->role, y->role) == 0 && nx == ny && (!nx || !memcmp(x->name, y->name, nx)) &&
	       x->content_len == y->content_len &&
	       (!x->content_len || !memcmp(x->content, y->content, x->content_len));
}

static int intern_msgs(uint32_t **ids_a, uint32_t **ids_b, uint32_t *nsym, const tract_context *ca,
		       const tract_context *cb)
{
	size_t na = ca ? ca->count : 0, nb = cb ? cb->count : 0, total = na + nb, cap = 16;
	size_t *slots;
	uint64_t *keys;
	uint32_t *ia, *ib, next = 0;

	*ids_a = *ids_b = NULL;
	while (cap < 2 * total)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	keys = malloc(cap * sizeof(*keys));
	ia = malloc((na ? na : 1) * sizeof(*ia));
	ib = malloc((nb ? nb : 1) * sizeof(*ib));
	if (!slots || !keys || !ia || !ib) {
		free(slots);
		free(keys);
		free(ia);
		free(ib);
		return tract_error_oom();
	}
	for (size_t k = 0; k < total; k++) {
		const tract_msg *m = k < na ? tract_context_msg(ca, k) : tract_context_msg(cb, k - na);
		uint32_t *id = k < na ? &ia[k] : &ib[k - na];
		uint64_t h = msg_key(m);
		size_t slot = (size_t)h & (cap - 1);

		for (;;) {
			size_t e = slots[slot];
			if (!e) {
				slots[slot] = k + 1;
				keys[slot] = h;
				*id = next++;
				break;
			}
			if (keys[slot] == h) {
				const tract_msg *o = e - 1 < na ? tract_context_msg(ca, e - 1)
								: tract_context_msg(cb, e - 1 - na);
				if (msg_same(m, o)) {
					*id = e - 1 < na ? ia[e - 1] : ib[e - 1 - na];
					break;
				}
			}
			slot = (slot + 1) & (cap - 1);
		}
	}
	free(slots);
	free(keys);
	*ids_a = ia;
	*ids_b = ib;
	*nsym = next;
	return 0;
}

/* ---- unified diff of one modified pair (§11.5) ---------------------------- */

/* "start" when length 1, "start-1,0" when empty, else "start,length". */
static int put_range(tract_buf *b, size_t start, size_t stop)
{
	size_t beginning = start + 1, length = stop - start;

	if (length == 1)
		return tract_buf_printf(b, "%zu", beginning);
	if (!length)
		beginning--;
	return tract_buf_printf(b, "%zu,%zu", beginning, length);
}

typedef struct {
	tract_buf buf; /* the lines, each followed by a NUL */
	size_t *off, *len;
	size_t n, cap;
	size_t start; /* offset of the line being written */
} line_out;

static int line_begin(line_out *o)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 16;
		size_t *no = realloc(o->off, cap * sizeof(*no)), *nl;
		if (!no)
			return tract_error_oom();
		o->off = no;
		nl = realloc(o->len, cap * sizeof(*nl));
		if (!nl)
			return tract_error_oom();
		o->len = nl;
		o->cap = cap;
	}
	o->start = o->buf.len;
	return 0;
}

static int line_end(line_out *o)
{
	o->off[o->n] = o->start;
	o->len[o->n] = o->buf.len - o->start;
	o->n++;
	return tract_buf_putc(&o->buf, '\0') ? tract_error_oom() : 0;
}

/* One body line: prefix, then the line without its terminator. */
static int line_body(line_out *o, char prefix, const tract_seq_str *l, size_t term)
{
	int rc = line_begin(o);

	if (rc < 0)
		return rc;
	if (tract_buf_putc(&o->buf, prefix) || tract_buf_put(&o->buf, l->ptr, l->len - term))
		return tract_error_oom();
	return line_end(o);
}

static int unified(tract_diff_entry *e, const tract_msg *ma, const tract_msg *mb,
		   const char *name_a, const char *name_b, size_t context)
{
	tract_buf sa = TRACT_BUF_INIT, sb = TRACT_BUF_INIT;
	tract_seq_str ta0, tb0, *ta = &ta0, *tb = &tb0;
	tract_seq_str *la = NULL, *lb = NULL;
	size_t *terma = NULL, *termb = NULL, na = 0, nb = 0, *starts = NULL, ngroups = 0;
	uint32_t *ia = NULL, *ib = NULL, nsym = 0;
	tract_seq_ops ops = {0}, grouped = {0};
	line_out o;
	int rc;

	memset(&o, 0, sizeof(o));
	rc = serialise(&sa, ma);
	if (rc == 0)
		rc = serialise(&sb, mb);
	ta0 = (tract_seq_str){sa.ptr ? sa.ptr : "", sa.len};
	tb0 = (tract_seq_str){sb.ptr ? sb.ptr : "", sb.len};
	if (rc == 0)
		rc = tract_seq_splitlines(&la, &terma, &na, ta->ptr, ta->len);
	if (rc == 0)
		rc = tract_seq_splitlines(&lb, &termb, &nb, tb->ptr, tb->len);
	if (rc == 0)
		rc = tract_seq_intern(&ia, &ib, &nsym, la, na, lb, nb);
	if (rc == 0)
		rc = tract_seq_opcodes(&ops, ia, na, ib, nb, nsym);
	if (rc == 0)
		rc = tract_seq_group(&grouped, &starts, &ngroups, &ops, context);
	for (size_t g = 0; g < ngroups && rc == 0; g++) {
		const tract_seq_op *first = &grouped.ops[starts[g]];
		const tract_seq_op *last = &grouped.ops[starts[g + 1] - 1];

		if (g == 0) {
			rc = line_begin(&o);
			if (rc == 0 && tract_buf_printf(&o.buf, "--- commit %.8s", name_a))
				rc = tract_error_oom();
			if (rc == 0)
				rc = line_end(&o);
			if (rc == 0)
				rc = line_begin(&o);
			if (rc == 0 && tract_buf_printf(&o.buf, "+++ commit %.8s", name_b))
				rc = tract_error_oom();
			if (rc == 0)
				rc = line_end(&o);
		}
		if (rc == 0)
			rc = line_begin(&o);
		if (rc == 0 && (tract_buf_puts(&o.buf, "@@ -") || put_range(&o.buf, first->i1, last->i2) ||
				tract_buf_puts(&o.buf, " +") || put_range(&o.buf, first->j1, last->j2) ||
				tract_buf_puts(&o.buf, " @@")))
			rc = tract_error_oom();
		if (rc == 0)
			rc = line_end(&o);
		for (const tract_seq_op *op = first; op <= last && rc == 0; op++) {
			if (op->tag == TRACT_SEQ_EQUAL) {
				for (size_t i = op->i1; i < op->i2 && rc == 0; i++)
					rc = line_body(&o, ' ', &la[i], terma[i]);
				continue;
			}
			if (op->tag == TRACT_SEQ_REPLACE || op->tag == TRACT_SEQ_DELETE)
				for (size_t i = op->i1; i < op->i2 && rc == 0; i++)
					rc = line_body(&o, '-', &la[i], terma[i]);
			if (op->tag == TRACT_SEQ_REPLACE || op->tag == TRACT_SEQ_INSERT)
				for (size_t j = op->j1; j < op->j2 && rc == 0; j++)
					rc = line_body(&o, '+', &lb[j], termb[j]);
		}
	}
	if (rc == 0 && o.n) {
		char *block = tract_buf_detach(&o.buf);
		e->lines = malloc(o.n * sizeof(*e->lines));
		if (!block || !e->lines) {
			free(block);
			free(e->lines);
			e->lines = NULL;
			rc = tract_error_oom();
		} else {
			for (size_t i = 0; i < o.n; i++)
				e->lines[i] = block + o.off[i];
			e->line_lens = o.len;
			o.len = NULL;
			e->line_count = o.n;
		}
	}
	tract_buf_dispose(&o.buf);
	tract_buf_dispose(&sa);
	tract_buf_dispose(&sb);
	free(o.off);
	free(o.len);
	free(la);
	free(lb);
	free(terma);
	free(termb);
	free(ia);
	free(ib);
	free(starts);
	tract_seq_ops_dispose(&ops);
	tract_seq_ops_dispose(&grouped);
	return rc;
}

/* ---- generation configs (§11.6) ------------------------------------------- */

/* The last non-empty generation config of a context, parsed, or NULL. */
static int last_config(cJSON **out, const tract_context *ctx)
{
	*out = NULL;
	for (size_t i = ctx ? ctx->count : 0; i-- > 0;) {
		const tract_msg *m = tract_context_msg(ctx, i);
		cJSON *obj = NULL;
		int rc;

		if (!m->config || strcmp(m->config, "{}") == 0)
			continue;
		rc = tract_json_parse(&obj, m->config, strlen(m->config), 0, NULL, 0);
		if (rc == TRACT_ENOMEM)
			return tract_error_oom();
		if (rc < 0)
			return tract_error_set(TRACT_ECORRUPT, "unreadable generation config of "
							       "commit %.12s...",
					       m->hash);
		if (cJSON_IsObject(obj) && obj->child) {
			*out = obj;
			return 0;
		}
		cJSON_Delete(obj);
	}
	return 0;
}

/* Python's == on JSON values: numbers by value (true == 1), objects as
 * unordered maps. NULL (absent) equals null. */
static int value_equal(const cJSON *a, const cJSON *b)
{
	int na = !a || cJSON_IsNull(a), nb = !b || cJSON_IsNull(b);

	if (na || nb)
		return na && nb;
	if ((cJSON_IsNumber(a) || cJSON_IsBool(a)) && (cJSON_IsNumber(b) || cJSON_IsBool(b))) {
		double x = cJSON_IsBool(a) ? (cJSON_IsTrue(a) ? 1 : 0) : a->valuedouble;
		double y = cJSON_IsBool(b) ? (cJSON_IsTrue(b) ? 1 : 0) : b->valuedouble;
		if (cJSON_IsNumber(a) && cJSON_IsNumber(b) && tract_json_is_int(a) &&
		    tract_json_is_int(b))
			return tract_json_equal(a, b) || x == y;
		return x == y;
	}
	if (cJSON_IsString(a) && cJSON_IsString(b))
		return strcmp(a->valuestring, b->valuestring) == 0;
	if (cJSON_IsArray(a) && cJSON_IsArray(b)) {
		const cJSON *x = a->child, *y = b->child;
		for (; x && y; x = x->next, y = y->next)
			if (!value_equal(x, y))
				return 0;
		return !x && !y;
	}
	if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
		if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
			return 0;
		for (const cJSON *x = a->child; x; x = x->next) {
			const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
			if (!y || !value_equal(x, y))
				return 0;
		}
		return 1;
	}
	return 0;
}

static int key_cmp(const void *x, const void *y)
{
	return tract_json_strcmp(*(const char *const *)x, *(const char *const *)y);
}

static char *render_value(const cJSON *v)
{
	return v ? tract_json_render_str(v, TRACT_JSON_STORE) : strdup("null");
}

static int config_changes(tract_diff_result *r, const tract_context *ca, const tract_context *cb)
{
	cJSON *a = NULL, *b = NULL;
	const char **keys = NULL;
	size_t nkeys = 0;
	int rc = last_config(&a, ca);

	if (rc == 0)
		rc = last_config(&b, cb);
	if (rc < 0 || (!a && !b))
		goto done;
	nkeys = (size_t)(a ? cJSON_GetArraySize(a) : 0) + (size_t)(b ? cJSON_GetArraySize(b) : 0);
	keys = malloc(nkeys * sizeof(*keys));
	r->config_changes = calloc(nkeys, sizeof(*r->config_changes));
	if (!keys || !r->config_changes) {
		rc = tract_error_oom();
		goto done;
	}
	nkeys = 0;
	for (const cJSON *x = a ? a->child : NULL; x; x = x->next)
		keys[nkeys++] = x->string;
	for (const cJSON *x = b ? b->child : NULL; x; x = x->next)
		keys[nkeys++] = x->string;
	qsort(keys, nkeys, sizeof(*keys), key_cmp);
	for (size_t i = 0; i < nkeys; i++) {
		const cJSON *va, *vb;
		tract_diff_config_change *c;

		if (i && strcmp(keys[i], keys[i - 1]) == 0)
			continue;
		va = a ? cJSON_GetObjectItemCaseSensitive(a, keys[i]) : NULL;
		vb = b ? cJSON_GetObjectItemCaseSensitive(b, keys[i]) : NULL;
		if (value_equal(va, vb))
			continue;
		c = &r->config_changes[r->config_change_count++];
		c->key = strdup(keys[i]);
		c->old_json = render_value(va);
		c->new_json = render_value(vb);
		if (!c->key || !c->old_json || !c->new_json) {
			rc = tract_error_oom();
			goto done;
		}
	}
done:
	free(keys);
	cJSON_Delete(a);
	cJSON_Delete(b);
	return rc;
}

/* ---- the operation ------------------------------------------------------------ */

/* The context at hash, compiled as if HEAD were there (a cached snapshot
 * of that head is reused). */
static int compile_at(tract_context **out, tract *t, const char *hash, const char *head)
{
	tract_context *c = t->verify_cache ? NULL : tract_cache_get(t->cache, hash);
	int rc;

	if (c) {
		*out = tract_context_ref(c);
		return 0;
	}
	rc = tract_compile_full(out, t, hash, NULL);
	/* HEAD's context is what a plain compile caches too */
	if (rc == 0 && strcmp(hash, head) == 0)
		tract_cache_put(t->cache, *out);
	return rc;
}

/* The commits after older on newer's first-parent chain, when older is on
 * that chain and every commit after it is a plain append (no edit, no
 * merge): then the context at older is the one at newer without the
 * messages of those commits, which come last. */
typedef struct {
	const char *older;
	char (*after)[65];
	size_t n, cap;
	int found, plain;
} between;

static int between_cb(const tract_chain_row *row, void *payload)
{
	between *b = payload;

	if (strcmp(row->commit.commit_hash, b->older) == 0) {
		b->found = 1;
		return 1;
	}
	if (row->commit.operation != TRACT_OP_APPEND || row->n_extra_parents) {
		b->plain = 0;
		return 1;
	}
	if (tract_array_reserve(&b->after, &b->cap, b->n + 1, sizeof(*b->after), 256) < 0)
		return TRACT_ENOMEM;
	tract_copy_id(b->after[b->n++], row->commit.commit_hash);
	return 0;
}

static int hash_cmp(const void *x, const void *y)
{
	return memcmp(x, y, 64);
}

/* Whether older is on newer's first-parent chain with only plain appends
 * after it (b->found && b->plain); b->after lists those appends, sorted. */
static int walk_between(between *b, tract *t, const char *newer, const char *older)
{
	int rc;

	memset(b, 0, sizeof(*b));
	b->older = older;
	b->plain = 1;
	rc = tract_chain_walk(t->store, t->id, newer, 0, TRACT_CHAIN_PARENTS, INT64_MAX,
			      between_cb, b, "walk history", NULL);
	if (rc == 0 && b->found && b->plain)
		qsort(b->after, b->n, sizeof(*b->after), hash_cmp);
	return rc;
}

/* The context at older: ctx (at newer) without the messages of b->after,
 * which are its last ones. */
static int cut_prefix(tract_context **out, const tract_context *ctx, const between *b,
		      const char *older)
{
	size_t keep = ctx->count;

	while (keep > 0 &&
	       bsearch(tract_context_msg(ctx, keep - 1)->hash, b->after, b->n, sizeof(*b->after),
		       hash_cmp))
		keep--;
	*out = tract_context_share(ctx);
	if (!*out)
		return tract_error_oom();
	(*out)->count = keep;
	(*out)->tokens_sum = 0;
	for (size_t i = 0; i < keep; i++)
		(*out)->tokens_sum += tract_context_msg(ctx, i)->tokens;
	tract_copy_id((*out)->head, older);
	tract_context_sum(*out);
	return 0;
}

/* Compile both sides: when one lies on the other's line of plain appends,
 * compile the newer only and cut the older out of it. */
static int compile_sides(tract_context **ca, tract_context **cb, tract *t, const char *ha,
			 const char *hb, const char *head)
{
	between b;
	int rc;

	if (!ha[0])
		return compile_at(cb, t, hb, head);
	if (strcmp(ha, hb) == 0) {
		rc = compile_at(cb, t, hb, head);
		if (rc == 0 && !(*ca = tract_context_ref(*cb)))
			rc = tract_error_oom();
		return rc;
	}
	rc = walk_between(&b, t, hb, ha);
	if (rc == 0 && b.found && b.plain) {
		rc = compile_at(cb, t, hb, head);
		if (rc == 0)
			rc = cut_prefix(ca, *cb, &b, ha);
		free(b.after);
		return rc;
	}
	free(b.after);
	if (rc == 0)
		rc = walk_between(&b, t, ha, hb);
	if (rc == 0 && b.found && b.plain) {
		rc = compile_at(ca, t, ha, head);
		if (rc == 0)
			rc = cut_prefix(cb, *ca, &b, hb);
		free(b.after);
		return rc;
	}
	free(b.after);
	if (rc == 0)
		rc = compile_at(cb, t, hb, head);
	if (rc == 0)
		rc = compile_at(ca, t, ha, head);
	return rc;
}

/* Resolve both sides and compile them, in one read transaction. */
static int load_sides(tract_context **ca, tract_context **cb, char ha[65], char hb[65],
		      tract *t, const char *rev_a, const char *rev_b)
{
	tract_store *s = t->store;
	tract_head_state hs;
	int rc;

	*ca = *cb = NULL;
	ha[0] = hb[0] = '\0';
	tract_cache_sync(t);
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_head_read(&hs, t);
	if (rc == 0 && rev_b) {
		rc = tract_resolve_in_txn(hb, t, rev_b);
	} else if (rc == 0) {
		if (!hs.hash[0])
			rc = tract_error_set(TRACT_ENOTFOUND, "No commits to diff");
		else
			memcpy(hb, hs.hash, 65);
	}
	if (rc == 0 && rev_a) {
		rc = tract_resolve_in_txn(ha, t, rev_a);
	} else if (rc == 0) {
		/* B's first parent: for an edit, the context just before it */
		tract_row r;
		rc = s->be->commit_get(s->conn, t->id, hb, tract_row_copy_cb, &r);
		if (rc == 0) {
			tract_copy_id(ha, r.parent);
			tract_row_dispose(&r);
		} else {
			rc = rc == TRACT_ENOMEM ? tract_error_oom()
						: tract_backend_error(s, rc, "read commit");
		}
	}
	if (rc == 0)
		rc = compile_sides(ca, cb, t, ha, hb, hs.hash);
	rc = tract_txn_end(s, rc);
	if (rc < 0) {
		tract_context_free(*ca);
		tract_context_free(*cb);
		*ca = *cb = NULL;
	}
	return rc;
}

static int push_entry(tract_diff_result *r, diff_result *d, tract_diff_status st,
		      const tract_msg *ma, const tract_msg *mb)
{
	tract_diff_entry *e = &r->entries[r->count];
	int rc = 0;

	memset(e, 0, sizeof(*e));
	e->index = r->count;
	e->status = st;
	if (ma)
		rc = role_of(&e->role_a, d, ma->role);
	if (rc == 0 && mb)
		rc = role_of(&e->role_b, d, mb->role);
	if (rc < 0)
		return rc;
	switch (st) {
	case TRACT_DIFF_UNCHANGED:
		r->stat.unchanged++;
		break;
	case TRACT_DIFF_ADDED:
		e->token_delta = mb->tokens;
		r->stat.added++;
		break;
	case TRACT_DIFF_REMOVED:
		e->token_delta = -ma->tokens;
		r->stat.removed++;
		break;
	case TRACT_DIFF_MODIFIED:
		e->token_delta = mb->tokens - ma->tokens;
		r->stat.modified++;
		break;
	}
	r->stat.total_token_delta += e->token_delta;
	r->count++;
	return 0;
}

static int classify(diff_result *d, const tract_context *ca, const tract_context *cb,
		    const tract_diff_options *o)
{
	tract_diff_result *r = &d->pub;
	uint32_t *ia = NULL, *ib = NULL, nsym = 0;
	tract_seq_ops ops = {0};
	size_t na = ca ? ca->count : 0, nb = cb ? cb->count : 0;
	int rc;

	rc = intern_msgs(&ia, &ib, &nsym, ca, cb);
	if (rc == 0)
		rc = tract_seq_opcodes(&ops, ia, na, ib, nb, nsym);
	if (rc == 0) {
		r->entries = calloc(na + nb ? na + nb : 1, sizeof(*r->entries));
		if (!r->entries)
			rc = tract_error_oom();
	}
	for (size_t k = 0; k < ops.count && rc == 0; k++) {
		const tract_seq_op *op = &ops.ops[k];
		size_t p = op->i2 - op->i1, q = op->j2 - op->j1, m = p < q ? p : q, x;

		switch (op->tag) {
		case TRACT_SEQ_EQUAL:
			for (x = 0; x < p && rc == 0; x++)
				rc = push_entry(r, d, TRACT_DIFF_UNCHANGED,
						tract_context_msg(ca, op->i1 + x),
						tract_context_msg(cb, op->j1 + x));
			break;
		case TRACT_SEQ_REPLACE:
			for (x = 0; x < m && rc == 0; x++) {
				rc = push_entry(r, d, TRACT_DIFF_MODIFIED,
						tract_context_msg(ca, op->i1 + x),
						tract_context_msg(cb, op->j1 + x));
				if (rc == 0 && !o->no_lines)
					rc = unified(&r->entries[r->count - 1],
						     tract_context_msg(ca, op->i1 + x),
						     tract_context_msg(cb, op->j1 + x), r->commit_a,
						     r->commit_b, o->context_lines);
			}
			for (x = m; x < p && rc == 0; x++)
				rc = push_entry(r, d, TRACT_DIFF_REMOVED,
						tract_context_msg(ca, op->i1 + x), NULL);
			for (x = m; x < q && rc == 0; x++)
				rc = push_entry(r, d, TRACT_DIFF_ADDED, NULL,
						tract_context_msg(cb, op->j1 + x));
			break;
		case TRACT_SEQ_DELETE:
			for (x = 0; x < p && rc == 0; x++)
				rc = push_entry(r, d, TRACT_DIFF_REMOVED,
						tract_context_msg(ca, op->i1 + x), NULL);
			break;
		case TRACT_SEQ_INSERT:
			for (x = 0; x < q && rc == 0; x++)
				rc = push_entry(r, d, TRACT_DIFF_ADDED, NULL,
						tract_context_msg(cb, op->j1 + x));
			break;
		}
	}
	free(ia);
	free(ib);
	tract_seq_ops_dispose(&ops);
	return rc;
}

int tract_diff(tract_diff_result **out, tract *t, const char *rev_a, const char *rev_b,
	       const tract_diff_options *opts)
{
	tract_diff_options o = TRACT_DIFF_OPTIONS_INIT;
	tract_context *ca = NULL, *cb = NULL;
	char ha[65], hb[65];
	diff_result *d;
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_diff: NULL argument");
	*out = NULL;
	if (opts) {
		if (tract_version_check(opts->version, TRACT_DIFF_OPTIONS_VERSION,
					"tract_diff_options") < 0)
			return TRACT_EINVAL;
		o.context_lines = opts->context_lines;
		o.no_lines = opts->no_lines;
	}
	rc = load_sides(&ca, &cb, ha, hb, t, rev_a, rev_b);
	if (rc < 0)
		return rc;
	d = calloc(1, sizeof(*d));
	if (!d) {
		rc = tract_error_oom();
		goto done;
	}
	snprintf(d->pub.commit_a, sizeof(d->pub.commit_a), "%s", ha[0] ? ha : EMPTY_SIDE);
	memcpy(d->pub.commit_b, hb, 65);
	rc = classify(d, ca, cb, &o);
	if (rc == 0)
		rc = config_changes(&d->pub, ca, cb);
	if (rc < 0) {
		tract_diff_result_free(&d->pub);
		goto done;
	}
	*out = &d->pub;
done:
	tract_context_free(ca);
	tract_context_free(cb);
	return rc;
}

/* ---- JSON ---------------------------------------------------------------------- */

static int put_role(tract_buf *b, const char *key, const char *role)
{
	if (tract_buf_printf(b, ", \"%s\": ", key))
		return -1;
	return role ? tract_json_escape(b, role, strlen(role), 0) : tract_buf_puts(b, "null");
}

int tract_diff_result_to_json(char **out, const tract_diff_result *r)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc = 0;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_diff_result_to_json: out is NULL");
	*out = NULL;
	if (!r)
		return tract_error_set(TRACT_EINVAL, "tract_diff_result_to_json: result is NULL");
	rc |= tract_buf_printf(&b, "{\"commit_a\": \"%s\", \"commit_b\": \"%s\", \"messages\": [",
			       r->commit_a, r->commit_b);
	for (size_t i = 0; i < r->count && rc == 0; i++) {
		const tract_diff_entry *e = &r->entries[i];
		rc |= tract_buf_printf(&b, "%s{\"index\": %zu, \"status\": \"%s\"", i ? ", " : "",
				       e->index, tract_diff_status_name(e->status));
		rc |= put_role(&b, "role_a", e->role_a);
		rc |= put_role(&b, "role_b", e->role_b);
		rc |= tract_buf_printf(&b, ", \"token_delta\": %" PRId64 ", \"lines\": [",
				       e->token_delta);
		for (size_t l = 0; l < e->line_count; l++) {
			if (l)
				rc |= tract_buf_puts(&b, ", ");
			rc |= tract_json_escape(&b, e->lines[l], e->line_lens[l], 0);
		}
		rc |= tract_buf_puts(&b, "]}");
	}
	rc |= tract_buf_printf(&b,
			       "], \"stat\": {\"added\": %zu, \"removed\": %zu, \"modified\": "
			       "%zu, \"unchanged\": %zu, \"total_token_delta\": %" PRId64
			       "}, \"config_changes\": {",
			       r->stat.added, r->stat.removed, r->stat.modified, r->stat.unchanged,
			       r->stat.total_token_delta);
	for (size_t i = 0; i < r->config_change_count; i++) {
		const tract_diff_config_change *c = &r->config_changes[i];
		if (i)
			rc |= tract_buf_puts(&b, ", ");
		rc |= tract_json_escape(&b, c->key, strlen(c->key), 0);
		rc |= tract_buf_printf(&b, ": [%s, %s]", c->old_json, c->new_json);
	}
	rc |= tract_buf_puts(&b, "}}");
	if (rc) {
		tract_buf_dispose(&b);
		return tract_error_oom();
	}
	*out = tract_buf_detach(&b);
	return *out ? 0 : tract_error_oom();
}
