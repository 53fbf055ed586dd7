/*
 * collapse.c - collapse (manual, collaborative drafts, autonomous) and the stored
 * drafts (spec/agents.md §6.5 with DECISIONS.md; operations layer).
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
#include "llm.h"

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
	tract_hexmap *set;
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
	return tract_hexmap_put(p->set, row->commit.commit_hash, NULL) < 0 ? TRACT_ENOMEM : 0;
}

/*
 * The work since the previous collapse read along that span alone (the
 * child's first parents from its HEAD back to the previous collapse's
 * source head): when the span holds only appends (no edit, no merge),
 * its messages are those of its own commits, built as compile builds
 * them (priority in force, default priority of the type), so nothing
 * older is read. Otherwise *simple is 0 and the caller compiles.
 */
typedef struct {
	tract *child;
	const char *stop;
	int reuse;
	tract_role_counts roles;
	int simple;
	tract_msg **msgs; /* newest first; NULL for a commit without a message */
	size_t n, cap;
} span_msgs;

static void span_msgs_dispose(span_msgs *sm)
{
	for (size_t i = 0; i < sm->n; i++)
		if (sm->msgs[i])
			tract_msg_release(sm->msgs[i]);
	free(sm->msgs);
	sm->msgs = NULL;
	sm->n = sm->cap = 0;
}

static int span_msg_cb(const tract_chain_row *row, void *payload)
{
	span_msgs *sm = payload;
	tract_priority prio = row->priority;
	tract_msg *m = NULL;
	tract_row r;
	int rc;

	if (sm->stop && sm->stop[0] && strcmp(row->commit.commit_hash, sm->stop) == 0)
		return 1;
	if (row->commit.operation != TRACT_OP_APPEND || row->n_extra_parents ||
	    !row->payload_json) {
		sm->simple = 0;
		return 1;
	}
	if (prio == TRACT_PRIORITY_NONE)
		prio = tract_content_default_priority(row->commit.content_type);
	if (prio != TRACT_PRIORITY_SKIP) {
		if (tract_row_copy_chain_part(&r, row,
					      TRACT_ROW_SKIP_TEXTS | TRACT_ROW_SKIP_PAYLOAD) < 0)
			return TRACT_ENOMEM;
		rc = tract_msg_build(&m, sm->child, r.hash, row->payload_json, r.config, r.config,
				     &r, sm->reuse, 0, &sm->roles);
		tract_row_dispose(&r);
		if (rc < 0)
			return rc;
	}
	if (sm->n == sm->cap) {
		size_t ncap = sm->cap ? sm->cap * 2 : 64;
		tract_msg **v = realloc(sm->msgs, ncap * sizeof(*v));

		if (!v) {
			if (m)
				tract_msg_release(m);
			return TRACT_ENOMEM;
		}
		sm->msgs = v;
		sm->cap = ncap;
	}
	sm->msgs[sm->n++] = m;
	return 0;
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
	tract_spawn_info_dispose(&in->ptr);
	tract_buf_dispose(&in->transcript);
}

static int read_child_work(collapse_input *in, tract *parent, const char *child_id)
{
	tract_store *s = parent->store;
	tract *child = NULL;
	tract_head_state hs;
	tract_context *ctx = NULL;
	prev_probe prev;
	tract_hexmap set = {0};
	int rc, found = 0;

	rc = tract_spawn_pointer_of(&in->ptr, &found, s, child_id);
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
		span_msgs sm;

		memset(&sm, 0, sizeof(sm));
		sm.child = child;
		sm.stop = prev.found ? prev.source : NULL;
		sm.simple = 1;
		rc = tract_counts_reusable(child, &sm.reuse);
		if (rc == 0)
			rc = tract_chain_walk(s, child_id, in->head, 0,
					      TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS |
						  TRACT_CHAIN_PRIORITY,
					      INT64_MAX, span_msg_cb, &sm, "walk the child's history",
					      NULL);
		if (rc == 0 && sm.simple) {
			size_t used = 0;

			for (size_t k = sm.n; k-- > 0;) {
				tract_msg *m = sm.msgs[k];

				if (!m)
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
		span_msgs_dispose(&sm);
		if (rc < 0 || sm.simple)
			goto done;
	}
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
			if (prev.found && !tract_hexmap_get(&set, tract_context_commit_hash(ctx, i)))
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
	tract_hexmap_dispose(&set);
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
	rc = tract_llm_chat_messages(&res, llm, &req);
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

