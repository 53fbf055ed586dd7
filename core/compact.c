/*
 * compact.c - tool-result compaction: the results of old tool calls
 * replaced by short stubs through edit commits, failed calls dropped with
 * their results (operations layer). include/tract/compact.h.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "compress_int.h"
#include "internal.h"
#include "json.h"
#include "tract/compact.h"

/* The most bytes of a result's first line a stub keeps. */
#define STUB_LINE_MAX 120

int tract_compact_options_init(tract_compact_options *opts, unsigned int version)
{
	tract_compact_options defaults = TRACT_COMPACT_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_compact_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_COMPACT_OPTIONS_VERSION,
				"tract_compact_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

void tract_compact_result_free(tract_compact_result *res)
{
	if (!res)
		return;
	free(res->edits);
	free(res->targets);
	free(res);
}

/* A planned change of one message. */
typedef struct {
	size_t pos;    /* index in the context */
	char *content; /* stub content JSON, or NULL: a drop (SKIP) */
	tract_msg *msg; /* the message the stub compiles to (with content) */
	int64_t saved; /* tokens the context loses */
} change;

/* Assistant-side messages: what the model says (one turn starts at the
 * first of a run of them). */
static int assistant_side(const tract_msg *m)
{
	if (m->kind == TRACT_MSG_TOOL_CALL || m->kind == TRACT_MSG_REASONING)
		return 1;
	return m->kind == TRACT_MSG_TEXT && m->role && strcmp(m->role, "assistant") == 0;
}

/* The index of the first message of the kept turns (ctx->count: none kept). */
static size_t kept_from(const tract_context *ctx, unsigned int keep)
{
	size_t i = ctx->count;
	unsigned int turns = 0;

	if (keep == 0)
		return ctx->count;
	while (i > 0) {
		i--;
		if (assistant_side(tract_context_msg(ctx, i)) &&
		    (i == 0 || !assistant_side(tract_context_msg(ctx, i - 1)))) {
			if (++turns == keep)
				return i;
		}
	}
	return 0; /* fewer turns than kept: nothing is old */
}

/* The stub content of result m: its tool_name, call_id and status kept,
 * payload {"text": "[compacted tool output: FIRST LINE] (N bytes)"}. */
static int stub_content(char **out, const tract_msg *m)
{
	char line[STUB_LINE_MAX + 4], tail[64]; /* the line, "…" and a NUL */
	const char *body = m->tool_body ? m->tool_body : "";
	size_t len = m->tool_body ? m->tool_body_len : 0, n = 0, i;
	tract_buf text = TRACT_BUF_INIT;
	char *stub = NULL;
	cJSON *o = NULL, *payload;
	int rc = 0;

	*out = NULL;
	/* The first non-blank line, cut at a UTF-8 boundary. */
	i = 0;
	while (i < len && (body[i] == '\n' || body[i] == '\r' || body[i] == ' ' || body[i] == '\t'))
		i++;
	for (; i < len && body[i] != '\n' && body[i] != '\r' && n < STUB_LINE_MAX; i++) {
		unsigned char c = (unsigned char)body[i];
		line[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	if (n == STUB_LINE_MAX && i < len && body[i] != '\n' && body[i] != '\r') {
		/* Cut before a lead byte, not inside a UTF-8 sequence. */
		while (n > 0 && ((unsigned char)body[i] & 0xc0) == 0x80)
			n--, i--;
		memcpy(line + n, "\xe2\x80\xa6", 3); /* … */
		n += 3;
	}
	line[n] = '\0';
	snprintf(tail, sizeof(tail), " (%zu bytes)", len);
	if (tract_buf_puts(&text, TRACT_COMPACT_STUB_PREFIX) < 0 ||
	    (n && (tract_buf_puts(&text, ": ") < 0 || tract_buf_put(&text, line, n) < 0)) ||
	    tract_buf_puts(&text, "]") < 0 || tract_buf_puts(&text, tail) < 0 ||
	    !(stub = tract_buf_detach(&text)))
		goto oom;
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "content_type", "tool_io") ||
	    !cJSON_AddStringToObject(o, "direction", "result") ||
	    !cJSON_AddStringToObject(o, "tool_name", m->tool_name ? m->tool_name : ""))
		goto oom;
	if (m->call_id && !cJSON_AddStringToObject(o, "call_id", m->call_id))
		goto oom;
	if (m->status && !cJSON_AddStringToObject(o, "status", m->status))
		goto oom;
	payload = cJSON_AddObjectToObject(o, "payload");
	if (!payload || !cJSON_AddStringToObject(payload, "text", stub))
		goto oom;
	*out = cJSON_PrintUnformatted(o);
	if (!*out)
		goto oom;
	goto done;
oom:
	rc = tract_error_oom();
done:
	cJSON_Delete(o);
	free(stub);
	tract_buf_dispose(&text);
	return rc;
}

static int is_stub(const tract_msg *m)
{
	size_t n = strlen(TRACT_COMPACT_STUB_PREFIX);

	return m->tool_body && m->tool_body_len >= n &&
	       memcmp(m->tool_body, TRACT_COMPACT_STUB_PREFIX, n) == 0;
}

/* Plan the changes of ctx: results to stub, failed pairs to drop. */
static int plan(change **out, size_t *out_n, tract *t, const tract_context *ctx,
		const tract_compact_options *o)
{
	size_t *pairs = NULL, cut, i, n = 0;
	change *ch = NULL;
	char *dropped = NULL;
	int rc;

	*out = NULL;
	*out_n = 0;
	if (ctx->count == 0)
		return 0;
	rc = tract_chat_pairs(&pairs, ctx);
	if (rc < 0)
		return rc;
	ch = calloc(ctx->count, sizeof(*ch));
	dropped = calloc(ctx->count, 1);
	if (!ch || !dropped) {
		rc = tract_error_oom();
		goto done;
	}
	cut = kept_from(ctx, o->keep_last_turns);
	for (i = 0; i < ctx->count; i++) {
		const tract_msg *m = tract_context_msg(ctx, i);
		tract_msg *nm = NULL;
		char *content = NULL;
		int old = i < cut;
		if (m->kind != TRACT_MSG_TOOL_RESULT || dropped[i])
			continue;
		if (old && o->drop_failed && m->status && strcmp(m->status, "error") == 0) {
			size_t c = pairs[i];
			ch[n].pos = i;
			ch[n].saved = m->tokens;
			dropped[i] = 1;
			n++;
			if (c != SIZE_MAX && !dropped[c]) {
				/* The call goes with it: a call without its result
				 * would be kept as text, a result without its call
				 * would be an orphan. */
				ch[n].pos = c;
				ch[n].saved = tract_context_msg(ctx, c)->tokens;
				dropped[c] = 1;
				n++;
			}
			continue;
		}
		if (!old && !(o->max_bytes && m->tool_body_len > o->max_bytes))
			continue;
		if (is_stub(m) || m->tool_body_len < o->min_bytes)
			continue;
		rc = stub_content(&content, m);
		/* As the edit's snapshot builds it: an edit without a config
		 * of its own shows the original commit's (§6.5). */
		if (rc == 0)
			rc = tract_msg_build(&nm, t, m->hash, content, m->own_config, m->own_config,
					     NULL, 0, 0, NULL);
		if (rc < 0) {
			free(content);
			goto done;
		}
		if (nm->tokens < m->tokens) {
			ch[n].pos = i;
			ch[n].content = content;
			ch[n].msg = nm;
			ch[n].saved = m->tokens - nm->tokens;
			n++;
		} else {
			free(content);
			tract_msg_release(nm);
		}
	}
	/* Context order: a dropped call comes before its result. */
	for (i = 1; i < n; i++) {
		change c = ch[i];
		size_t k = i;
		while (k > 0 && ch[k - 1].pos > c.pos) {
			ch[k] = ch[k - 1];
			k--;
		}
		ch[k] = c;
	}
	*out = ch;
	*out_n = n;
	ch = NULL;
done:
	if (ch)
		for (i = 0; i < n; i++) {
			free(ch[i].content);
			tract_msg_release(ch[i].msg);
		}
	free(ch);
	free(dropped);
	free(pairs);
	return rc;
}

static void changes_free(change *ch, size_t n)
{
	size_t i;

	if (!ch)
		return;
	for (i = 0; i < n; i++) {
		free(ch[i].content);
		tract_msg_release(ch[i].msg);
	}
	free(ch);
}

/* Write the planned changes inside the open transaction: one batch of
 * edit commits and skips on the context at HEAD (tract_commit_edits: one
 * HEAD move, one snapshot derived, not one per stub). */
static int apply(tract_compact_result *res, tract *t, const tract_context *ctx, const change *ch,
		 size_t n)
{
	tract_edit_item *items;
	size_t i;
	int rc;

	items = calloc(n ? n : 1, sizeof(*items));
	if (!items)
		return tract_error_oom();
	for (i = 0; i < n; i++) {
		items[i].pos = ch[i].pos;
		items[i].content = ch[i].content;
		items[i].msg = ch[i].msg;
		if (!ch[i].content)
			items[i].reason = tract_context_msg(ctx, ch[i].pos)->kind == TRACT_MSG_TOOL_CALL
						  ? "compacted: call of a failed tool result"
						  : "compacted: failed tool result";
	}
	/* Compaction only shrinks the context: the budget is not in its way. */
	rc = tract_commit_edits(t, ctx, items, n, "Compact tool result");
	for (i = 0; rc == 0 && i < n; i++)
		if (ch[i].content)
			tract_copy_id(res->edits[res->n_edits++], items[i].hash);
	free(items);
	return rc;
}

int tract_compact_tools(tract_compact_result **out, tract *t, const tract_compact_options *opts)
{
	tract_compact_options defaults = TRACT_COMPACT_OPTIONS_INIT;
	tract_compact_result *res = NULL;
	tract_context *ctx = NULL;
	tract_head_state hs;
	change *ch = NULL;
	size_t n = 0, i;
	int64_t saved = 0;
	int rc;

	if (out)
		*out = NULL;
	if (!t)
		return tract_error_set(TRACT_EINVAL, "tract_compact_tools: NULL tract");
	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_COMPACT_OPTIONS_VERSION,
				"tract_compact_options") < 0)
		return TRACT_EINVAL;
	res = calloc(1, sizeof(*res));
	if (!res)
		return tract_error_oom();
	rc = tract_txn_begin(t->store, opts->dry_run ? TRACT_TXN_READ : TRACT_TXN_WRITE);
	if (rc < 0)
		goto fail;
	rc = tract_head_read(&hs, t);
	if (rc == 0)
		rc = tract_head_check_attached(&hs, t);
	if (rc == 0 && hs.hash[0]) {
		tract_context *cached;
		tract_cache_sync(t);
		cached = tract_cache_get(t->cache, hs.hash);
		if (cached)
			ctx = tract_context_ref(cached);
		else if ((rc = tract_compile_full(&ctx, t, hs.hash, NULL)) == 0)
			tract_cache_put(t->cache, ctx); /* the edits derive from it */
	}
	if (rc == 0 && ctx)
		rc = plan(&ch, &n, t, ctx, opts);
	if (rc == 0 && n) {
		res->edits = calloc(n, sizeof(*res->edits));
		res->targets = calloc(n, sizeof(*res->targets));
		if (!res->edits || !res->targets)
			rc = tract_error_oom();
	}
	if (rc == 0 && ctx) {
		size_t kept = ctx->count;
		for (i = 0; i < n; i++) {
			tract_copy_id(res->targets[res->n_targets++],
				      tract_context_msg(ctx, ch[i].pos)->hash);
			saved += ch[i].saved;
			if (ch[i].content)
				res->compacted++;
			else {
				res->dropped++;
				kept--;
			}
		}
		res->tokens_before = ctx->token_count;
		res->tokens_after = kept ? ctx->token_count - saved : 0;
	}
	if (rc == 0 && !opts->dry_run && n)
		rc = apply(res, t, ctx, ch, n);
	rc = tract_txn_end(t->store, rc);
	tract_cache_sync(t);
	tract_context_free(ctx);
	changes_free(ch, n);
	if (rc < 0)
		goto fail;
	if (out)
		*out = res;
	else
		tract_compact_result_free(res);
	return 0;
fail:
	tract_compact_result_free(res);
	return rc;
}

int tract_compact_result_to_json(char **out, const tract_compact_result *res, int dry_run)
{
	cJSON *o = NULL, *a, *b;
	size_t i;

	if (!out || !res)
		return tract_error_set(TRACT_EINVAL, "tract_compact_result_to_json: NULL argument");
	*out = NULL;
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddNumberToObject(o, "compacted", (double)res->compacted) ||
	    !cJSON_AddNumberToObject(o, "dropped", (double)res->dropped) ||
	    !cJSON_AddNumberToObject(o, "tokens_before", (double)res->tokens_before) ||
	    !cJSON_AddNumberToObject(o, "tokens_after", (double)res->tokens_after) ||
	    !cJSON_AddBoolToObject(o, "dry_run", dry_run != 0) ||
	    !(a = cJSON_AddArrayToObject(o, "edits")) ||
	    !(b = cJSON_AddArrayToObject(o, "targets")))
		goto oom;
	for (i = 0; i < res->n_edits; i++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(res->edits[i])))
			goto oom;
	for (i = 0; i < res->n_targets; i++)
		if (!cJSON_AddItemToArray(b, cJSON_CreateString(res->targets[i])))
			goto oom;
	*out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return *out ? 0 : tract_error_oom();
oom:
	cJSON_Delete(o);
	return tract_error_oom();
}

/* ---- the auto-compact budget policy --------------------------------------------- */

int tract_budget_policy_set(tract *t, tract_budget_policy policy, int persist)
{
	char key[128];
	int rc = 0;

	if (!t)
		return tract_error_set(TRACT_EINVAL, "tract_budget_policy_set: NULL tract");
	if (policy != TRACT_BUDGET_POLICY_NONE && policy != TRACT_BUDGET_POLICY_AUTO_COMPACT &&
	    policy != TRACT_BUDGET_POLICY_AUTO_COMPRESS)
		return tract_error_set(TRACT_EINVAL, "unknown budget policy %d", (int)policy);
	if (persist) {
		rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
		if (rc < 0)
			return rc;
		tract_meta_key(key, sizeof(key), t->id, TRACT_META_BUDGET_POLICY);
		if (policy == TRACT_BUDGET_POLICY_NONE) {
			rc = t->store->be->meta_delete(t->store->conn, key);
			if (rc == TRACT_ENOTFOUND)
				rc = 0;
		} else {
			rc = t->store->be->meta_set(t->store->conn, key,
						    policy == TRACT_BUDGET_POLICY_AUTO_COMPRESS
							    ? "auto_compress"
							    : "auto_compact");
		}
		if (rc < 0)
			rc = tract_backend_error(t->store, rc, "persist budget policy");
		rc = tract_txn_end(t->store, rc);
		if (rc < 0)
			return rc;
	}
	t->budget_policy = (int)policy;
	return 0;
}

tract_budget_policy tract_budget_policy_get(const tract *t)
{
	return t ? (tract_budget_policy)t->budget_policy : TRACT_BUDGET_POLICY_NONE;
}

int tract_compact_for_budget(tract *t, const tract_context *ctx, int64_t total, int *applied)
{
	tract_compact_options o = TRACT_COMPACT_OPTIONS_INIT;
	tract_compact_result res;
	change *ch = NULL;
	size_t n = 0, i, attempt;
	int64_t saved;
	int rc = 0;

	*applied = 0;
	memset(&res, 0, sizeof(res));
	/* The default compaction, then every turn's results with failed
	 * pairs dropped: the first that gets under the budget is written. */
	for (attempt = 0; attempt < 2 && rc == 0; attempt++) {
		if (attempt == 1) {
			o.keep_last_turns = 0;
			o.drop_failed = 1;
		}
		changes_free(ch, n);
		ch = NULL;
		n = 0;
		rc = plan(&ch, &n, t, ctx, &o);
		if (rc < 0 || n == 0)
			continue;
		for (saved = 0, i = 0; i < n; i++)
			saved += ch[i].saved;
		if (total - saved <= t->budget_max)
			break;
	}
	if (rc == 0 && n && attempt < 2) {
		res.edits = calloc(n, sizeof(*res.edits));
		if (!res.edits)
			rc = tract_error_oom();
		if (rc == 0)
			rc = apply(&res, t, ctx, ch, n);
		if (rc == 0)
			*applied = 1;
	}
	free(res.edits);
	changes_free(ch, n);
	/* compaction is not enough: the auto-compress policy compresses the
	 * oldest normal commits (compress_budget.c) */
	if (rc == 0 && !*applied && t->budget_policy == TRACT_BUDGET_POLICY_AUTO_COMPRESS)
		rc = tract_compress_for_budget(t, ctx, total, applied);
	return rc;
}
