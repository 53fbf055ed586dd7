/*
 * reorder.c - a compiled context in another order, with the safety
 * checks of spec/agents.md §2 run on the final sequence (DECISIONS.md);
 * the rules are in include/tract/reorder.h. Operations layer: a view of
 * a compile, nothing written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "internal.h"
#include "json.h"
#include "tract/reorder.h"

int tract_reorder_options_init(tract_reorder_options *opts, unsigned int version)
{
	tract_reorder_options defaults = TRACT_REORDER_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_reorder_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_REORDER_OPTIONS_VERSION,
				"tract_reorder_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

void tract_reorder_warning_list_free(tract_reorder_warning_list *list)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < list->count; i++)
		free(list->items[i].description);
	free(list->items);
	free(list);
}

static int warn(tract_reorder_warning_list *l, const char *kind, const char *severity,
		const char *hash, const char *fmt, const char *a, const char *b)
{
	tract_reorder_warning *w, *items;
	char text[256];

	items = realloc(l->items, (l->count + 1) * sizeof(*items));
	if (!items)
		return tract_error_oom();
	l->items = items;
	w = &l->items[l->count];
	memset(w, 0, sizeof(*w));
	w->kind = kind;
	w->severity = severity;
	tract_copy_id(w->commit_hash, hash);
	snprintf(text, sizeof(text), fmt, a, b);
	w->description = strdup(text);
	if (!w->description)
		return tract_error_oom();
	l->count++;
	return 0;
}

/* The response_to of a commit ("" when none). */
typedef struct {
	char response_to[65];
	tract_operation op;
	int found;
} commit_link;

static int link_cb(const tract_commit_row *row, void *payload)
{
	commit_link *l = payload;

	l->found = 1;
	l->op = row->operation;
	tract_copy_id(l->response_to, row->response_to);
	return 0;
}

static int read_link(commit_link *out, tract *t, const char *hash)
{
	tract_store *s = t->store;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = s->be->commit_get(s->conn, t->id, hash, link_cb, out);
	if (rc == TRACT_ENOTFOUND)
		return 0;
	return rc < 0 ? tract_backend_error(s, rc, "reorder: read a commit") : 0;
}

/* Index of the message commit hash produced, or SIZE_MAX. */
static size_t msg_of(const tract_context *c, const char *hash)
{
	size_t i;

	for (i = 0; i < c->count; i++)
		if (strcmp(tract_context_msg(c, i)->hash, hash) == 0)
			return i;
	return SIZE_MAX;
}

/* The call each tool result answers (its index, SIZE_MAX for none), as the
 * provider renderings pair them: by call id, else the latest unanswered
 * call of the same tool before it. */
static int pair_results(size_t **out, const tract_context *c)
{
	size_t *call_of = malloc((c->count ? c->count : 1) * sizeof(*call_of));
	char *answered = calloc(c->count ? c->count : 1, 1);
	size_t i, j;

	if (!call_of || !answered) {
		free(call_of);
		free(answered);
		return tract_error_oom();
	}
	for (i = 0; i < c->count; i++) {
		const tract_msg *m = tract_context_msg(c, i);

		call_of[i] = SIZE_MAX;
		if (m->kind != TRACT_MSG_TOOL_RESULT)
			continue;
		for (j = i; j-- > 0;) {
			const tract_msg *k = tract_context_msg(c, j);
			if (k->kind != TRACT_MSG_TOOL_CALL || answered[j])
				continue;
			if (m->call_id ? (k->call_id && strcmp(k->call_id, m->call_id) == 0)
				       : (k->tool_name && m->tool_name &&
					  strcmp(k->tool_name, m->tool_name) == 0)) {
				call_of[i] = j;
				answered[j] = 1;
				break;
			}
		}
	}
	free(answered);
	*out = call_of;
	return 0;
}

static int check(tract_reorder_warning_list *w, tract *t, const tract_context *orig,
		 const size_t *perm, const size_t *pos)
{
	size_t *call_of = NULL, i;
	int rc;

	rc = pair_results(&call_of, orig);
	for (i = 0; rc == 0 && i < orig->count; i++) {
		const tract_msg *m = tract_context_msg(orig, perm[i]);
		commit_link l;
		size_t target, call;

		rc = read_link(&l, t, m->hash);
		if (rc < 0)
			break;
		target = l.response_to[0] ? msg_of(orig, l.response_to) : SIZE_MAX;
		if (target != SIZE_MAX && pos[target] > i)
			rc = warn(w, "response_chain_break", "semantic", m->hash,
				  "Commit %.8s now comes before %.8s, which it responds to", m->hash,
				  l.response_to);
		call = call_of[perm[i]];
		if (rc == 0 && call != SIZE_MAX && pos[call] > i)
			rc = warn(w, "tool_result_before_call", "structural", m->hash,
				  "Tool result %.8s now comes before its call %.8s", m->hash,
				  tract_context_msg(orig, call)->hash);
	}
	free(call_of);
	return rc;
}

/* Where each named revision's message is (perm), then the rest. */
static int plan(size_t *perm, size_t *pos, tract *t, const tract_context *c,
		const char *const *order, size_t n)
{
	size_t i, k = 0;
	int rc = 0;

	for (i = 0; i < c->count; i++)
		pos[i] = SIZE_MAX;
	for (i = 0; i < n; i++) {
		char hash[65];
		size_t m;

		if (!order[i])
			return tract_error_set(TRACT_EINVAL, "reorder: NULL revision");
		rc = tract_resolve_in_txn(hash, t, order[i]);
		if (rc < 0)
			return rc;
		m = msg_of(c, hash);
		if (m == SIZE_MAX) {
			commit_link l;

			rc = read_link(&l, t, hash);
			if (rc < 0)
				return rc;
			if (l.found && l.op == TRACT_OP_EDIT && l.response_to[0])
				m = msg_of(c, l.response_to); /* an edit names its target */
		}
		if (m == SIZE_MAX)
			return tract_error_set(TRACT_ENOTFOUND,
					       "reorder: commit %.12s makes no message of the "
					       "compiled context (skipped, a merge, or not on it)",
					       hash);
		if (pos[m] != SIZE_MAX)
			return tract_error_set(TRACT_EINVAL,
					       "reorder: the message of %.12s is named twice", hash);
		pos[m] = k;
		perm[k++] = m;
	}
	for (i = 0; i < c->count; i++)
		if (pos[i] == SIZE_MAX) {
			pos[i] = k;
			perm[k++] = i;
		}
	return 0;
}

int tract_context_reorder(tract_context **out, tract_reorder_warning_list **warnings, tract *t,
			  const char *const *order, size_t n, const tract_reorder_options *opts)
{
	tract_reorder_options o = TRACT_REORDER_OPTIONS_INIT;
	tract_reorder_warning_list *w = NULL;
	tract_context *c = NULL, *r = NULL;
	size_t *perm = NULL, *pos = NULL, i;
	int rc;

	if (out)
		*out = NULL;
	if (warnings)
		*warnings = NULL;
	if (!out || !t || (n && !order))
		return tract_error_set(TRACT_EINVAL, "tract_context_reorder: NULL argument");
	if (opts) {
		if (tract_version_check(opts->version, TRACT_REORDER_OPTIONS_VERSION,
					"tract_reorder_options") < 0)
			return TRACT_EINVAL;
		o = *opts;
	}
	rc = tract_context_compile(&c, t, o.compile);
	if (rc < 0)
		return rc;
	w = calloc(1, sizeof(*w));
	perm = malloc((c->count + 1) * sizeof(*perm));
	pos = malloc((c->count + 1) * sizeof(*pos));
	if (!w || !perm || !pos) {
		rc = tract_error_oom();
		goto done;
	}
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		goto done;
	rc = plan(perm, pos, t, c, order, n);
	if (rc == 0)
		rc = check(w, t, c, perm, pos);
	rc = tract_txn_end(t->store, rc);
	if (rc == 0 && o.strict && w->count)
		rc = tract_error_set(TRACT_EINVAL, "reorder refused (strict): %s%s",
				     w->items[0].description,
				     w->count > 1 ? " (and more warnings)" : "");
	if (rc < 0)
		goto done;
	r = tract_context_new(c->count);
	if (!r || !(r->token_source = strdup(c->token_source ? c->token_source : ""))) {
		rc = tract_error_oom();
		goto done;
	}
	memcpy(r->head, c->head, sizeof(r->head));
	for (i = 0; i < c->count && rc == 0; i++) {
		tract_msg *m = tract_context_msg(c, perm[i]);

		__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
		rc = tract_context_push(r, m); /* releases m when it fails */
	}
	if (rc == 0) {
		/* the same messages: the same sum (an API figure stays as it was) */
		r->tokens_sum = c->tokens_sum;
		r->token_count = c->token_count;
	}
done:
	free(perm);
	free(pos);
	tract_context_free(c);
	if (rc < 0) {
		tract_context_free(r);
		tract_reorder_warning_list_free(w);
		return rc;
	}
	*out = r;
	if (warnings)
		*warnings = w;
	else
		tract_reorder_warning_list_free(w);
	return 0;
}

int tract_reorder_warning_list_to_json(char **out, const tract_reorder_warning_list *list)
{
	tract_buf b = TRACT_BUF_INIT;
	size_t i;
	int rc = 0;

	if (!out || !list)
		return tract_error_set(TRACT_EINVAL,
				       "tract_reorder_warning_list_to_json: NULL argument");
	*out = NULL;
	rc |= tract_buf_putc(&b, '[');
	for (i = 0; i < list->count; i++) {
		const tract_reorder_warning *w = &list->items[i];
		rc |= tract_buf_printf(&b, "%s{\"kind\": \"%s\", \"severity\": \"%s\", "
					   "\"commit_hash\": \"%s\", \"description\": ",
				       i ? ", " : "", w->kind, w->severity, w->commit_hash);
		rc |= tract_json_escape(&b, w->description, strlen(w->description), 0);
		rc |= tract_buf_putc(&b, '}');
	}
	rc |= tract_buf_putc(&b, ']');
	return tract_buf_finish(out, &b, rc);
}
