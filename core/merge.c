/*
 * merge.c - merging a branch into the current one (spec/history.md §8 with
 * DECISIONS.md): the checks, fast-forward, the structural conflicts in a
 * fixed order, the resolver loop, review-then-commit and the merge commit
 * (hashed over all parents) written in one transaction (operations).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "hash.h"
#include "internal.h"
#include "merge_priv.h"
#include "reflog.h"

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
	rc = merge_linear_base(r->base, &a, &b, t, r->target_tip, r->source_tip);
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
		rc = merge_collect_side(&a, t, r->target_tip, r->base);
		if (rc == 0)
			rc = merge_collect_side(&b, t, r->source_tip, r->base);
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
	rc = merge_detect_conflicts(r, t, &a, &b);
	if (rc == 0)
		rc = merge_resolution_slots(r);
	if (rc < 0)
		goto done;
	merge_fix_issues(r);
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
		rc = merge_run_resolver(r, cb, cb_payload);
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

