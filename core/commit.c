/*
 * commit.c - the commit engine: validating content, storing blobs,
 * hashing commits and moving HEAD by compare-and-swap in one transaction
 * (spec/core.md §4), retried on a lost race; the snapshot the new HEAD
 * compiles to; the content shortcuts; custom content types (operations).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "internal.h"
#include "chat.h"
#include "json.h"
#include "warning.h"
#include "row.h"
#include "tokenizer.h"
#include "walk.h"

typedef struct {
	cJSON *n;              /* normalized content */
	char *payload;         /* J-STORE, when it differs from the caller's text */
	const char *stored;    /* J-STORE: payload, or the caller's content_json */
	char content_hash[65];
	const char *content_type; /* in type_buf, or in n while it lives */
	char *type_buf;
	int64_t token_count;
	cJSON *metadata, *config;
	char *metadata_json, *config_json; /* J-COLUMN */
	char result_call_id[TRACT_CALL_ID_MAXLEN + 1]; /* a tool result's call_id, or "" */
} prepared_content;

static void prepared_dispose(prepared_content *p)
{
	cJSON_Delete(p->n);
	cJSON_Delete(p->metadata);
	cJSON_Delete(p->config);
	free(p->payload);
	free(p->type_buf);
	free(p->metadata_json);
	free(p->config_json);
	memset(p, 0, sizeof(*p));
}

/*
 * The token count of normalized content: a text member is counted where
 * it is, without a copy, unless it holds U+0000 (stored as C0 80 in the
 * tree, counted as the NUL byte): then tract_content_count_text() makes
 * the counted text, as for every other kind.
 */
static int count_tokens(int64_t *out, tract *t, const cJSON *n)
{
	tract_buf text = TRACT_BUF_INIT;
	tract_text_kind kind;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(n, "text");
	int64_t count;

	if (!v)
		v = cJSON_GetObjectItemCaseSensitive(n, "content");
	if (cJSON_IsString(v) && !strstr(v->valuestring, "\xC0\x80")) {
		size_t len = strlen(v->valuestring);
		count = len ? tract_count(t, v->valuestring, len) : 0;
	} else {
		if (tract_content_count_text(&text, &kind, n) < 0)
			return tract_error_oom();
		count = text.len ? tract_count(t, text.ptr, text.len) : 0;
		tract_buf_dispose(&text);
	}
	if (count < 0)
		return (int)count;
	*out = count;
	return 0;
}

/* A rendering compared with a text as it is made (and measured). */
typedef struct {
	const char *text;
	size_t len, pos;
	int differs;
} compare_state;

static int compare_sink(void *ctx, const char *data, size_t n)
{
	compare_state *c = ctx;

	if (!c->differs && (n > c->len - c->pos || memcmp(c->text + c->pos, data, n) != 0))
		c->differs = 1;
	c->pos += n;
	return 0;
}

static int prepare_content(prepared_content *p, tract *t, const char *content_json,
			   const tract_commit_options *o)
{
	char err[256];
	cJSON *in = NULL;
	compare_state cmp;
	size_t len;
	int rc;

	memset(p, 0, sizeof(*p));
	if (!content_json)
		return tract_error_set(TRACT_EINVAL, "Content validation failed: no content");
	/* The size is checked before anything else reads the whole text. */
	len = t->max_content >= PTRDIFF_MAX ? strlen(content_json)
					    : strnlen(content_json, t->max_content + 1);
	if (len > t->max_content)
		return tract_error_set(TRACT_EINVAL,
				       "content is larger than the maximum of %zu bytes "
				       "(max_content_bytes)",
				       t->max_content);
	rc = tract_json_parse(&in, content_json, len,
			      TRACT_JSON_NONFINITE_TO_NULL, err, sizeof(err));
	if (rc < 0)
		return tract_error_set(rc, "Content validation failed: %s", err);
	rc = tract_content_normalize_json_take(&p->n, &t->types, in);
	cJSON_Delete(in);
	if (rc < 0)
		goto fail;
	p->content_type = cJSON_GetObjectItemCaseSensitive(p->n, "content_type")->valuestring;
	if (strcmp(p->content_type, "tool_io") == 0) {
		const cJSON *dir = cJSON_GetObjectItemCaseSensitive(p->n, "direction");
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(p->n, "call_id");
		if (cJSON_IsString(dir) && strcmp(dir->valuestring, "result") == 0 &&
		    cJSON_IsString(id) && tract_call_id_valid(id->valuestring))
			memcpy(p->result_call_id, id->valuestring, strlen(id->valuestring) + 1);
	}
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
	/* One rendering at a time, the tree dropped once rendered: a large
	 * text is held by the caller, the tree and one rendering at most. */
	rc = count_tokens(&p->token_count, t, p->n);
	if (rc < 0)
		goto fail;
	/* The hash reads the canonical rendering as it is made (never whole). */
	rc = tract_json_sha256_hex(p->content_hash, p->n, TRACT_JSON_CANON);
	if (rc < 0)
		goto fail;
	p->type_buf = strdup(p->content_type);
	p->content_type = p->type_buf;
	/* The stored form: the caller's text when it already is that
	 * (tract_content_build makes it so), else rendered at its exact size. */
	memset(&cmp, 0, sizeof(cmp));
	cmp.text = content_json;
	cmp.len = len;
	rc = tract_json_render_to(compare_sink, &cmp, p->n, TRACT_JSON_STORE);
	if (rc < 0) {
		rc = tract_error_oom();
		goto fail;
	}
	if (!cmp.differs && cmp.pos == len) {
		p->stored = content_json;
	} else {
		tract_buf b = TRACT_BUF_INIT;

		if (tract_buf_grow(&b, cmp.pos) < 0 || tract_json_render(&b, p->n, TRACT_JSON_STORE) < 0) {
			tract_buf_dispose(&b);
			rc = tract_error_oom();
			goto fail;
		}
		p->payload = tract_buf_detach(&b);
		p->stored = p->payload;
	}
	cJSON_Delete(p->n);
	p->n = NULL;
	if (p->metadata)
		p->metadata_json = tract_json_render_str(p->metadata, TRACT_JSON_COLUMN);
	if (p->config)
		p->config_json = tract_json_render_str(p->config, TRACT_JSON_COLUMN);
	if (!p->stored || (p->metadata && !p->metadata_json) || (p->config && !p->config_json) ||
	    !p->type_buf) {
		rc = tract_error_oom();
		goto fail;
	}
	return 0;
fail:
	prepared_dispose(p);
	return rc;
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
	rc = tract_msg_build(&m, t, op == TRACT_OP_EDIT ? target : hash, p->stored,
			     p->config_json ? p->config_json : own, own, &src, 1, 0, NULL);
	if (rc < 0)
		return rc;
	c = op == TRACT_OP_EDIT ? tract_context_rebuild(parent, pos, m)
				: tract_context_extend(parent, m);
	if (!c)
		return tract_error_oom();
	tract_copy_id(c->head, hash);
	if (tract_context_recount(c, t) < 0) {
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

typedef struct {
	tract *t;
	const prepared_content *p;
	const tract_commit_options *o;
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
	/* An edit naming its target by full hash (compaction writes thousands):
	 * the one read that finds it also gives its operation. */
	if (a->o->operation == TRACT_OP_EDIT && strlen(a->o->response_to) == 64) {
		size_t i;
		for (i = 0; i < 64 && isxdigit((unsigned char)a->o->response_to[i]); i++)
			out[i] = (char)tolower((unsigned char)a->o->response_to[i]);
		out[i] = '\0';
		if (i == 64) {
			rc = t->store->be->commit_get(t->store->conn, t->id, out, tract_row_copy_cb,
						      &target);
			if (rc == 0)
				goto check;
			if (rc != TRACT_ENOTFOUND)
				return tract_backend_error(t->store, rc, "read edit target");
		}
		out[0] = '\0';
	}
	rc = tract_resolve_in_txn(out, t, a->o->response_to);
	if (rc == TRACT_ENOTFOUND && a->o->operation == TRACT_OP_EDIT)
		return tract_error_set(TRACT_EEDIT, "EDIT target commit not found: %s",
				       a->o->response_to);
	if (rc < 0)
		return rc;
	if (a->o->operation != TRACT_OP_EDIT)
		return 0;
	rc = t->store->be->commit_get(t->store->conn, t->id, out, tract_row_copy_cb, &target);
	if (rc < 0)
		return tract_backend_error(t->store, rc, "read edit target");
check:
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

/* Whether head is one of the heads this handle knows to have a sound
 * first-parent chain (internal.h, struct tract chain_ok). */
static int chain_ok_has(const tract *t, const char *head)
{
	for (unsigned i = 0; i < TRACT_CHAIN_OK_HEADS; i++)
		if (t->chain_ok[i][0] && strcmp(t->chain_ok[i], head) == 0)
			return 1;
	return 0;
}

/* new_head, written on top of old_head (sound, or "" for a root), is
 * sound: it takes old_head's slot, or the oldest one. */
static void chain_ok_note(tract *t, const char *old_head, const char *new_head)
{
	unsigned i;

	for (i = 0; i < TRACT_CHAIN_OK_HEADS; i++)
		if (old_head[0] && strcmp(t->chain_ok[i], old_head) == 0)
			break;
	if (i == TRACT_CHAIN_OK_HEADS)
		i = t->chain_ok_next++ % TRACT_CHAIN_OK_HEADS;
	tract_copy_id(t->chain_ok[i], new_head);
}

static int chain_noop_cb(const tract_chain_row *row, void *payload)
{
	(void)row;
	(void)payload;
	return 0;
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
	int rc, policy_tried = 0;

restart:
	rc = tract_head_read(&hs, t);
	if (rc < 0)
		return rc;
	rc = tract_head_check_attached(&hs, t);
	if (rc < 0)
		return rc;
	rc = check_response_to(target, a);
	if (rc < 0)
		return rc;

	/* Budget: the token count of the context compiled after the commit. */
	tract_cache_sync(t);
	if (hs.hash[0])
		parent = tract_cache_get(t->cache, hs.hash);
	if (!parent && !hs.hash[0] &&
	    (t->budget_max >= 0 || tract_cache_capacity(t->cache) > 0)) {
		/* First commit: the context before it is empty. Its snapshot
		 * serves the budget and the cache: without either, none is made
		 * (no copy of a large content). */
		full = tract_context_new(0);
		if (!full || !(full->token_source = strdup("")))
			rc = tract_error_oom();
		parent = full;
	} else if (!parent && t->budget_max >= 0) {
		rc = tract_compile_full(&full, t, hs.hash, NULL);
		parent = full;
	} else if (!parent && hs.hash[0] && !chain_ok_has(t, hs.hash)) {
		/* Nothing compiled the history (no budget, no cached context):
		 * walk it once (commit rows only) so a tampered store with a
		 * parent cycle is refused rather than built on. */
		rc = tract_chain_walk(s, t->id, hs.hash, 0, 0, TRACT_TIME_NONE, chain_noop_cb,
				      NULL, "walk the history", NULL);
	}
	if (rc < 0)
		goto done;
	if (p->result_call_id[0]) {
		/* DESIGN.md §9: a result names a call of the history (a tool
		 * call of the context compiled at HEAD, its id given or
		 * derived). */
		int known = 0;
		if (!parent && hs.hash[0]) {
			rc = tract_compile_full(&full, t, hs.hash, NULL);
			if (rc < 0)
				goto done;
			parent = full;
		}
		if (parent)
			rc = tract_chat_call_id_known(parent, p->result_call_id, &known);
		if (rc < 0)
			goto done;
		if (!known) {
			rc = tract_error_set(TRACT_EINVAL,
					     "tool result answers call id '%s', which no tool call "
					     "of the history has",
					     p->result_call_id);
			goto done;
		}
	}
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
		if (total > t->budget_max && parent && !policy_tried &&
		    t->budget_policy != TRACT_BUDGET_POLICY_NONE) {
			/* The auto-compact policy: compaction written in this
			 * transaction when it gets under the budget, then the
			 * commit again on the new HEAD (the policy once). */
			tract_context *hold = tract_context_ref(parent);
			int applied = 0;
			policy_tried = 1;
			rc = tract_compact_for_budget(t, hold, total, &applied);
			tract_context_free(hold);
			if (rc < 0)
				goto done;
			if (applied) {
				tract_context_free(a->snap);
				a->snap = NULL;
				tract_context_free(full);
				full = NULL;
				parent = NULL;
				goto restart;
			}
		}
		rc = tract_budget_check(t, total);
		if (rc < 0)
			goto done;
	}

	memset(&blob, 0, sizeof(blob));
	blob.content_hash = p->content_hash;
	blob.payload_json = p->stored;
	blob.byte_size = (int64_t)strlen(p->stored);
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
	else
		chain_ok_note(t, hs.hash, hash); /* on a sound chain: see above */
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
			const tract_commit_options *opts)
{
	tract_commit_options defaults = TRACT_COMMIT_OPTIONS_INIT;
	prepared_content p;
	commit_attempt a;
	tract_commit *result = NULL;
	int rc, tries;

	if (out)
		*out = NULL;
	if (!t)
		return tract_error_set(TRACT_EINVAL, "tract_commit_create: NULL tract");
	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_COMMIT_OPTIONS_VERSION,
				"tract_commit_options") < 0)
		return TRACT_EINVAL;
	if (opts->operation != TRACT_OP_APPEND && opts->operation != TRACT_OP_EDIT)
		return tract_error_set(TRACT_EINVAL, "unknown commit operation %d",
				       (int)opts->operation);
	rc = prepare_content(&p, t, content_json, opts);
	if (rc < 0)
		return rc;
	/* The commit object is allocated before anything is written: once
	 * the transaction commits, the call cannot fail. */
	if (out) {
		tract_row empty;
		memset(&empty, 0, sizeof(empty));
		result = tract_commit_from_row(&empty);
		if (!result) {
			rc = tract_error_oom();
			goto done;
		}
	}
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
		*tract_commit_row_of(result) = a.row;
		*out = result;
		result = NULL;
	} else {
		tract_row_dispose(&a.row);
	}
done:
	tract_commit_free(result);
	prepared_dispose(&p);
	return rc;
}

int tract_commit_options_init(tract_commit_options *opts, unsigned int version)
{
	tract_commit_options defaults = TRACT_COMMIT_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_commit_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_COMMIT_OPTIONS_VERSION, "tract_commit_options") <
	    0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

static int commit_object(tract_commit **out, tract *t, cJSON *obj,
			 const tract_commit_options *opts)
{
	char *json;
	int rc;

	if (!obj)
		return tract_error_oom();
	json = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (!json)
		return tract_error_oom();
	rc = tract_commit_create(out, t, json, opts);
	free(json);
	return rc;
}

int tract_commit_create_instruction(tract_commit **out, tract *t, const char *text,
				    const tract_commit_options *opts)
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
	return commit_object(out, t, o, opts);
}

int tract_commit_create_dialogue(tract_commit **out, tract *t, const char *role, const char *text,
				 const char *name, const tract_commit_options *opts)
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
	return commit_object(out, t, o, opts);
}

/* ---- many edits at once ------------------------------------------------------------ */

/* A tool call's id in the parent context (given, or derived from its
 * hash: "call_" + 24 hex digits) and its position. */
typedef struct {
	char key[TRACT_CALL_ID_MAXLEN + 32];
	size_t pos;
} call_key;

static int call_key_cmp(const void *a, const void *b)
{
	return strcmp(((const call_key *)a)->key, ((const call_key *)b)->key);
}

/* The tool calls of ctx by id: what tract_chat_call_id_known() finds. */
static int call_keys_build(call_key **out, size_t *out_n, const tract_context *ctx)
{
	call_key *k;
	size_t i, n = 0;

	*out = NULL;
	*out_n = 0;
	k = malloc((ctx->count ? 2 * ctx->count : 1) * sizeof(*k));
	if (!k)
		return tract_error_oom();
	for (i = 0; i < ctx->count; i++) {
		const tract_msg *m = tract_context_msg(ctx, i);
		if (m->kind != TRACT_MSG_TOOL_CALL)
			continue;
		if (m->call_id && strlen(m->call_id) < sizeof(k[n].key)) {
			memcpy(k[n].key, m->call_id, strlen(m->call_id) + 1);
			k[n++].pos = i;
		}
		if (strlen(m->hash) >= 24) {
			snprintf(k[n].key, sizeof(k[n].key), "call_%.24s", m->hash);
			k[n++].pos = i;
		}
	}
	qsort(k, n, sizeof(*k), call_key_cmp);
	*out = k;
	*out_n = n;
	return 0;
}

/* Whether a call of ctx not dropped yet has id. */
static int call_key_known(const call_key *k, size_t n, const char *id, const char *dropped)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(k[mid].key, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && strcmp(k[lo].key, id) == 0; lo++)
		if (!dropped[k[lo].pos])
			return 1;
	return 0;
}

int tract_commit_edits(tract *t, const tract_context *parent, tract_edit_item *items, size_t n,
		       const char *message)
{
	tract_commit_options co = TRACT_COMMIT_OPTIONS_INIT;
	tract_store *s = t->store;
	tract_head_state hs;
	tract_msg **repl = NULL;
	call_key *keys = NULL;
	char *dropped = NULL;
	char prev[65];
	size_t n_keys = 0, i;
	int rc, any_drop = 0, any_edit = 0;

	co.operation = TRACT_OP_EDIT;
	co.message = message;
	rc = tract_head_read(&hs, t);
	if (rc == 0)
		rc = tract_head_check_attached(&hs, t);
	if (rc < 0)
		return rc;
	if (strcmp(hs.hash, parent->head) != 0)
		return tract_error_set(TRACT_ESTALE, "branch moved by another writer");
	repl = calloc(parent->count ? parent->count : 1, sizeof(*repl));
	dropped = calloc(parent->count ? parent->count : 1, 1);
	if (!repl || !dropped) {
		rc = tract_error_oom();
		goto done;
	}
	memcpy(prev, hs.hash, sizeof(prev));
	for (i = 0; i < n && rc == 0; i++) {
		tract_edit_item *it = &items[i];
		const tract_msg *m;
		prepared_content p;
		tract_commit_hash_input hin;
		tract_commit_row row;
		tract_blob_row blob;
		tract_row target;
		tract_time now;

		if (it->pos >= parent->count || dropped[it->pos] || repl[it->pos]) {
			rc = tract_error_set(TRACT_EINVAL, "tract_commit_edits: bad position %zu",
					     it->pos);
			break;
		}
		m = tract_context_msg(parent, it->pos);
		if (!it->content) {
			/* A drop: a SKIP annotation, as tract_annotation_create
			 * writes it. */
			tract_annotation_row ann;
			memset(&ann, 0, sizeof(ann));
			ann.tract_id = t->id;
			ann.target_hash = m->hash;
			ann.priority = TRACT_PRIORITY_SKIP;
			ann.reason = it->reason;
			ann.created_at = tract_time_now();
			rc = s->be->annotation_put(s->conn, &ann, NULL);
			if (rc < 0)
				rc = tract_backend_error(s, rc, "store annotation");
			dropped[it->pos] = 1;
			any_drop = 1;
			continue;
		}
		co.response_to = m->hash;
		rc = prepare_content(&p, t, it->content, &co);
		if (rc < 0)
			break;
		/* check_response_to(): the target is an APPEND commit. */
		rc = s->be->commit_get(s->conn, t->id, m->hash, tract_row_copy_cb, &target);
		if (rc == TRACT_ENOTFOUND) {
			rc = tract_error_set(TRACT_EEDIT, "EDIT target commit not found: %s", m->hash);
		} else if (rc < 0) {
			rc = tract_backend_error(s, rc, "read edit target");
		} else {
			rc = target.operation == TRACT_OP_APPEND
				     ? 0
				     : tract_error_set(TRACT_EEDIT, "Cannot edit an EDIT commit: %s",
						       m->hash);
			tract_row_dispose(&target);
		}
		/* DESIGN.md §9: a result names a call of the context. */
		if (rc == 0 && p.result_call_id[0]) {
			if (!keys)
				rc = call_keys_build(&keys, &n_keys, parent);
			if (rc == 0 && !call_key_known(keys, n_keys, p.result_call_id, dropped))
				rc = tract_error_set(TRACT_EINVAL,
						     "tool result answers call id '%s', which no "
						     "tool call of the history has",
						     p.result_call_id);
		}
		now = tract_time_now();
		memset(&hin, 0, sizeof(hin));
		hin.content_hash = p.content_hash;
		hin.parent_hash = prev[0] ? prev : NULL;
		hin.content_type = p.content_type;
		hin.operation = TRACT_OP_EDIT;
		hin.response_to = m->hash;
		hin.created_at = now;
		if (rc == 0)
			rc = tract_commit_hash_compute(it->hash, &hin);
		/* The message the edit compiles to, as derive_snapshot()
		 * builds it (the caller's when it already has it). */
		if (rc == 0 && it->msg) {
			repl[it->pos] = it->msg;
			__atomic_add_fetch(&it->msg->refs, 1, __ATOMIC_RELAXED);
		} else if (rc == 0) {
			tract_row src;
			memset(&src, 0, sizeof(src));
			src.token_count = p.token_count;
			rc = tract_msg_build(&repl[it->pos], t, m->hash, p.stored,
					     p.config_json ? p.config_json : m->own_config,
					     m->own_config, &src, 1, 0, NULL);
		}
		if (rc == 0) {
			memset(&blob, 0, sizeof(blob));
			blob.content_hash = p.content_hash;
			blob.payload_json = p.stored;
			blob.byte_size = (int64_t)strlen(p.stored);
			blob.token_count = p.token_count;
			blob.created_at = now;
			rc = s->be->blob_put(s->conn, &blob, NULL);
			if (rc < 0)
				rc = tract_backend_error(s, rc, "store blob");
		}
		if (rc == 0) {
			memset(&row, 0, sizeof(row));
			row.commit_hash = it->hash;
			row.tract_id = t->id;
			row.parent_hash = hin.parent_hash;
			row.content_hash = p.content_hash;
			row.content_type = p.content_type;
			row.operation = TRACT_OP_EDIT;
			row.response_to = m->hash;
			row.message = message;
			row.token_count = p.token_count;
			row.metadata_json = p.metadata_json;
			row.generation_config_json = p.config_json;
			row.created_at = now;
			rc = s->be->commit_put(s->conn, &row);
			if (rc < 0)
				rc = tract_backend_error(s, rc, "store commit");
		}
		if (rc == 0 &&
		    tract_content_default_priority(p.content_type) == TRACT_PRIORITY_PINNED) {
			tract_annotation_row ann;
			char reason[128];
			snprintf(reason, sizeof(reason), "Default priority for %s", p.content_type);
			memset(&ann, 0, sizeof(ann));
			ann.tract_id = t->id;
			ann.target_hash = it->hash;
			ann.priority = TRACT_PRIORITY_PINNED;
			ann.reason = reason;
			ann.created_at = now;
			rc = s->be->annotation_put(s->conn, &ann, NULL);
			if (rc < 0)
				rc = tract_backend_error(s, rc, "auto-annotate");
			any_drop = 1; /* an annotation: cached contexts may change */
		}
		prepared_dispose(&p);
		if (rc == 0) {
			memcpy(prev, it->hash, sizeof(prev));
			any_edit = 1;
		}
	}
	if (rc == 0 && any_edit) {
		rc = move_head(t, &hs, prev);
		if (rc < 0)
			rc = rc == TRACT_ESTALE
				     ? tract_error_set(TRACT_ESTALE, "branch moved by another writer")
				     : tract_backend_error(s, rc, "move HEAD");
	}
	if (rc == 0 && any_edit)
		rc = note_counter(t);
	if (rc == 0) {
		/* The snapshot of the new HEAD, derived once from the parent:
		 * the edited messages replaced, the dropped ones left out. An
		 * annotation may change any cached context: they all go. */
		tract_context *c = tract_context_new(parent->count);
		if (any_drop)
			tract_cache_clear(t->cache);
		if (any_edit)
			chain_ok_note(t, hs.hash, prev);
		for (i = 0; c && i < parent->count; i++) {
			tract_msg *m = repl[i];
			if (dropped[i])
				continue;
			if (m)
				repl[i] = NULL;
			else
				__atomic_add_fetch(&(m = tract_context_msg(parent, i))->refs, 1,
						   __ATOMIC_RELAXED);
			if (tract_context_push(c, m) < 0) {
				tract_context_free(c);
				c = NULL;
			}
		}
		/* Without a snapshot the next compile of HEAD is a full one. */
		if (c) {
			tract_copy_id(c->head, prev);
			if (tract_context_recount(c, t) == 0)
				tract_cache_put(t->cache, c);
			tract_context_free(c);
		}
	}
done:
	if (repl)
		for (i = 0; i < parent->count; i++)
			tract_msg_release(repl[i]);
	free(repl);
	free(dropped);
	free(keys);
	return rc;
}

/* ---- custom content types ---------------------------------------------------------- */

int tract_content_type_register(tract *t, const char *name, tract_content_validator validate,
				void *payload)
{
	if (!t)
		return tract_error_set(TRACT_EINVAL, "NULL tract");
	return tract_content_registry_add(&t->types, name, validate, payload);
}

int tract_content_normalize(char **out_json, char out_content_hash[TRACT_HASH_HEXSIZE + 1],
			    tract *t, const char *content_json)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
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
		*out_json = p.payload ? p.payload : strdup(p.stored);
		p.payload = NULL;
		if (!*out_json) {
			prepared_dispose(&p);
			return tract_error_oom();
		}
	}
	prepared_dispose(&p);
	return 0;
}
