/*
 * replay.c - cherry-pick and rebase (spec/history.md §9, §10 with
 * DECISIONS.md): one routine replays a commit onto the current head
 * through the normal commit path, and both operations check first, ask
 * the resolver, then write everything in one transaction (operations
 * layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "replay.h"
#include "reflog.h"
#include "internal.h"
#include "json.h"
#include "row.h"
#include "tract/rebase.h"

/* ---- the transaction of an operation --------------------------------------- */

/*
 * Close the operation's transaction. Inside a batch, tract_txn_end()
 * poisons the batch for any failure that is not a validation code; here a
 * failure before the first write (an unresolved issue, an abort) leaves
 * nothing behind and must not, and one after it must, whatever its code.
 */
static int op_end(tract_store *s, int rc, int wrote)
{
	if (rc < 0 && s->txn_depth > 1) {
		if (!wrote) {
			tract_txn_end(s, 0);
			return rc;
		}
		s->batch_failed = 1;
	}
	return tract_txn_end(s, rc);
}

/* ---- reading commits ----------------------------------------------------------- */

/* One commit of the tract with its payload, merge parents and latest priority. */
static int read_commit(tract_row *out, tract *t, const char *hash)
{
	return tract_commit_read(out, t, hash,
				 TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS | TRACT_CHAIN_PRIORITY);
}

static int is_ancestor(int *out, tract *t, const char *ancestor, const char *descendant)
{
	int rc = tract_dag_is_ancestor(out, t->store, t->id, ancestor, descendant);

	return rc < 0 ? rc : 0;
}

/* ---- issues ------------------------------------------------------------------------ */

typedef struct {
	tract_replay_issue *items;
	size_t count;
} issue_list;

static void issues_dispose(tract_replay_issue *items, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(items[i].description);
	free(items);
}

static int issue_add(issue_list *l, const char *commit, const char *target,
		     const char *destination, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int issue_add(issue_list *l, const char *commit, const char *target,
		     const char *destination, const char *fmt, ...)
{
	tract_replay_issue *p = realloc(l->items, (l->count + 1) * sizeof(*p)), *is;
	tract_buf b = TRACT_BUF_INIT;
	va_list ap;
	int rc;

	if (!p)
		return tract_error_oom();
	l->items = p;
	is = &p[l->count];
	memset(is, 0, sizeof(*is));
	is->kind = TRACT_ISSUE_EDIT_TARGET_MISSING;
	is->action = -1;
	tract_copy_id(is->commit, commit);
	tract_copy_id(is->missing_target, target);
	tract_copy_id(is->destination, destination);
	va_start(ap, fmt);
	rc = tract_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc < 0 || !(is->description = tract_buf_detach(&b))) {
		tract_buf_dispose(&b);
		return tract_error_oom();
	}
	l->count++;
	return 0;
}

/* "<what> has <n> <noun>(s): <descriptions joined by '; '>" */
static int issues_error(const issue_list *l, const char *what, const char *noun)
{
	tract_buf b = TRACT_BUF_INIT;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < l->count; i++)
		rc |= tract_buf_printf(&b, "%s%s", n++ ? "; " : "", l->items[i].description);
	if (rc) {
		tract_buf_dispose(&b);
		return tract_error_oom();
	}
	rc = tract_error_set(TRACT_ECONFLICT, "%s has %zu %s(s): %s", what, n, noun,
			     b.ptr ? b.ptr : "");
	tract_buf_dispose(&b);
	return rc;
}

/* The text of a commit's payload, for the resolver ("" when none). */
static char *payload_text(const char *payload)
{
	tract_message_parts parts;
	cJSON *p = NULL;
	char err[64], *text;

	if (!payload || tract_json_parse(&p, payload, strlen(payload), TRACT_JSON_NONFINITE_TO_NULL,
					 err, sizeof(err)) < 0)
		return strdup("");
	memset(&parts, 0, sizeof(parts));
	if (tract_content_message(&parts, p) < 0) {
		cJSON_Delete(p);
		return NULL;
	}
	cJSON_Delete(p);
	/* A U+0000 inside ends the C string the resolver sees. */
	text = parts.content;
	parts.content = NULL;
	tract_message_parts_dispose(&parts);
	return text;
}

/*
 * Ask the resolver about every issue, in order. texts[i] receives the
 * resolved text of issue i (NULL when none). *skip is set when an issue
 * was skipped. Returns 0, TRACT_EABORTED, TRACT_ECONFLICT (a "resolved"
 * without text), or the resolver's own failure.
 */
static int ask_resolver(issue_list *l, char **texts, int *skip, tract_resolver_cb cb,
			void *payload, const char *operation, const char *branch_a,
			const char *branch_b, const tract_row *const *commits)
{
	for (size_t i = 0; i < l->count; i++) {
		tract_replay_issue *is = &l->items[i];
		tract_resolution res;
		tract_issue issue;
		char *text_b = payload_text(commits[i]->payload);
		int rc;

		if (!text_b)
			return tract_error_oom();
		memset(&issue, 0, sizeof(issue));
		issue.kind = is->kind;
		issue.operation = operation;
		issue.key = is->commit;
		issue.target_hash = is->missing_target;
		issue.commit_a = is->destination[0] ? is->destination : NULL;
		issue.commit_b = is->commit;
		issue.text_a = "";
		issue.text_b = text_b;
		issue.branch_a = branch_a;
		issue.branch_b = branch_b;
		issue.description = is->description;
		memset(&res, 0, sizeof(res));
		tract_error_clear();
		rc = cb(&res, &issue, payload);
		free(text_b);
		if (rc < 0) {
			if (tract_error_last()->code == TRACT_OK)
				tract_error_set(rc, "the resolver failed (%s)", tract_error_name(rc));
			else if (tract_error_last()->code != rc)
				tract_error_set(rc, "%s", tract_error_last()->message);
			return rc;
		}
		switch (res.action) {
		case TRACT_RESOLVE_ABORT:
			is->action = TRACT_RESOLVE_ABORT;
			return tract_error_set(TRACT_EABORTED, "Resolver aborted %s: %s", operation,
					       res.reasoning && *res.reasoning
						       ? res.reasoning
						       : "no reason given");
		case TRACT_RESOLVE_SKIP:
			is->action = TRACT_RESOLVE_SKIP;
			*skip = 1;
			break;
		case TRACT_RESOLVE_RESOLVED:
			is->action = TRACT_RESOLVE_RESOLVED;
			if (!res.text) {
				/* DECISIONS.md: "resolved" without text is unresolved. */
				return tract_error_set(TRACT_ECONFLICT,
						       "%s: the resolver answered 'resolved' "
						       "without a text: %s",
						       operation, is->description);
			}
			if (!tract_utf8_valid(res.text, strlen(res.text)))
				return tract_error_set(TRACT_EINVAL,
						       "%s: the resolved text is not valid UTF-8",
						       operation);
			texts[i] = strdup(res.text);
			if (!texts[i])
				return tract_error_oom();
			break;
		default:
			return tract_error_set(TRACT_EINVAL, "%s: unknown resolver action %d",
					       operation, (int)res.action);
		}
	}
	return 0;
}

/* ---- replaying one commit ---------------------------------------------------------- */

/* NULL for NULL and for an empty object (§9 "an empty object becomes none"). */
static const char *nonempty_object(const char *json)
{
	const char *p = json;

	if (!p)
		return NULL;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != '{')
		return json;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != '}')
		return json;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return *p ? json : NULL;
}

/* §9: the blob of a commit to replay is missing (TRACT_ECORRUPT) or its
 * content does not validate (TRACT_EINVAL: e.g. a custom type this handle
 * has not registered). */
static int replay_error(int code, const tract_row *orig, const char *why)
{
	return tract_error_set(code,
			       "Cannot replay commit %s: blob %s not found or invalid%s%s%s",
			       orig->hash, orig->content_hash, why ? " (" : "", why ? why : "",
			       why ? ")" : "");
}

/*
 * The content of the resolved-text path (DECISIONS.md): the original's
 * content type with the text put where that type keeps it.
 */
static int resolved_content(char **out, const tract_row *orig, const char *text)
{
	cJSON *p = NULL, *v;
	char err[128] = "";
	const char *field = NULL;
	int rc;

	*out = NULL;
	if (tract_json_parse(&p, orig->payload, strlen(orig->payload),
			     TRACT_JSON_NONFINITE_TO_NULL, err, sizeof(err)) < 0 ||
	    !cJSON_IsObject(p)) {
		cJSON_Delete(p);
		return replay_error(TRACT_ECORRUPT, orig, err);
	}
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "text")))
		field = "text";
	else if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "content")))
		field = "content";
	else if (strcmp(orig->content_type, "session") == 0)
		field = "summary";
	if (field) {
		v = cJSON_CreateString(text);
		rc = v && cJSON_ReplaceItemInObjectCaseSensitive(p, field, v) ? 0 : -1;
		if (rc < 0)
			cJSON_Delete(v);
	} else {
		/* tool_io, freeform and types without a text member: the text
		 * as the payload, the reference's form. */
		cJSON *obj = cJSON_CreateObject();

		if (strcmp(orig->content_type, "tool_io") != 0 &&
		    strcmp(orig->content_type, "freeform") != 0) {
			cJSON_Delete(p);
			p = cJSON_CreateObject();
			if (p && !cJSON_AddStringToObject(p, "content_type", "freeform")) {
				cJSON_Delete(p);
				p = NULL;
			}
		}
		rc = p && obj && cJSON_AddStringToObject(obj, "text", text) ? 0 : -1;
		if (rc == 0) {
			cJSON_DeleteItemFromObjectCaseSensitive(p, "payload");
			cJSON_AddItemToObject(p, "payload", obj);
			obj = NULL;
		}
		cJSON_Delete(obj);
	}
	if (rc == 0)
		*out = tract_json_render_str(p, TRACT_JSON_STORE);
	cJSON_Delete(p);
	return *out ? 0 : tract_error_oom();
}

/* The original's metadata plus where a resolved edit came from (§9 step 5). */
static int resolved_metadata(char **out, const tract_row *orig)
{
	cJSON *m = NULL;
	int rc = tract_parse_object(&m, orig->metadata, "metadata");

	*out = NULL;
	if (rc < 0)
		return replay_error(TRACT_ECORRUPT, orig, "metadata");
	if (!m)
		m = cJSON_CreateObject();
	if (!m)
		return tract_error_oom();
	cJSON_DeleteItemFromObjectCaseSensitive(m, "original_operation");
	cJSON_DeleteItemFromObjectCaseSensitive(m, "original_response_to");
	if (cJSON_AddStringToObject(m, "original_operation", "EDIT") &&
	    cJSON_AddStringToObject(m, "original_response_to",
				    orig->response_to ? orig->response_to : ""))
		*out = tract_json_render_str(m, TRACT_JSON_COLUMN);
	cJSON_Delete(m);
	return *out ? 0 : tract_error_oom();
}

typedef struct {
	tract_priority priority;
	char *reason;
	int found;
} latest_ann;

static int latest_ann_cb(const tract_annotation_row *row, void *payload)
{
	latest_ann *a = payload;

	/* The list is by (created_at, id): the last one seen is the latest. */
	if (row->priority == TRACT_PRIORITY_NONE)
		return 0;
	free(a->reason);
	a->reason = NULL;
	if (row->reason && !(a->reason = strdup(row->reason)))
		return TRACT_ENOMEM;
	a->priority = row->priority;
	a->found = 1;
	return 0;
}

/* The default annotation a content type gets at commit time (commit.c). */
static int is_default_annotation(const tract_annotation_row *row, const char *content_type)
{
	char reason[160];

	if (row->priority != TRACT_PRIORITY_PINNED ||
	    tract_content_default_priority(content_type) != TRACT_PRIORITY_PINNED || !row->reason)
		return 0;
	snprintf(reason, sizeof(reason), "Default priority for %s", content_type);
	return strcmp(row->reason, reason) == 0;
}

typedef struct {
	latest_ann a;
	const char *content_type;
} explicit_ann;

static int explicit_ann_cb(const tract_annotation_row *row, void *payload)
{
	explicit_ann *e = payload;

	if (is_default_annotation(row, e->content_type))
		return 0;
	return latest_ann_cb(row, &e->a);
}

/* DECISIONS.md: the original's latest explicit annotation goes to the copy. */
static int copy_annotation(tract *t, const tract_row *orig, const char *new_hash)
{
	tract_store *s = t->store;
	tract_annotation_row ann;
	explicit_ann e;
	int rc;

	/* orig was read with TRACT_CHAIN_PRIORITY (read_commit, read_range):
	 * no annotation at all, so none to copy, without a read (on a network
	 * backend that read was the one round trip of each replayed commit) */
	if (orig->priority == TRACT_PRIORITY_NONE)
		return 0;
	memset(&e, 0, sizeof(e));
	e.content_type = orig->content_type;
	rc = s->be->annotation_list(s->conn, orig->hash, explicit_ann_cb, &e);
	if (rc < 0) {
		free(e.a.reason);
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "read annotations");
	}
	if (!e.a.found)
		return 0;
	memset(&ann, 0, sizeof(ann));
	ann.tract_id = t->id;
	ann.target_hash = new_hash;
	ann.priority = e.a.priority;
	ann.reason = e.a.reason;
	/* After the copy's default annotation, so it is the one in force. */
	ann.created_at = tract_time_now();
	rc = s->be->annotation_put(s->conn, &ann, NULL);
	free(e.a.reason);
	if (rc < 0)
		return tract_backend_error(s, rc, "copy annotation");
	/* The copy's snapshot, cached by its commit, still holds it: a
	 * skipped copy leaves the handle's cache (the next compile of the
	 * new head is a full one), as tract_annotation_create() would. */
	if (ann.priority == TRACT_PRIORITY_SKIP)
		tract_cache_clear(t->cache);
	return 0;
}

/*
 * Replay orig (read with its payload) onto the current head inside the
 * open transaction: a new commit through the normal path (budget, default
 * annotation) with orig's content, operation, message, metadata and
 * generation config, response_to as given (the caller retargets it), and
 * orig's latest explicit annotation. resolved_text: an APPEND of that text
 * instead (§9 step 5 with DECISIONS.md). *wrote is set once the commit
 * is written (a refused commit writes nothing).
 */
static int replay_commit(tract_commit **out, tract *t, const tract_row *orig,
			 const char *response_to, const char *resolved_text, int *wrote)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	char *content = NULL, *metadata = NULL;
	tract_commit *c = NULL;
	int rc;

	*out = NULL;
	if (!orig->payload)
		return replay_error(TRACT_ECORRUPT, orig, NULL);
	o.message = orig->message;
	o.generation_config_json = nonempty_object(orig->config);
	if (resolved_text) {
		rc = resolved_content(&content, orig, resolved_text);
		if (rc == 0)
			rc = resolved_metadata(&metadata, orig);
		if (rc < 0)
			goto done;
		o.operation = TRACT_OP_APPEND;
		o.metadata_json = metadata;
	} else {
		o.operation = orig->operation;
		o.response_to = response_to;
		o.metadata_json = nonempty_object(orig->metadata);
	}
	rc = tract_commit_create(&c, t, content ? content : orig->payload, &o);
	if (rc == TRACT_EINVAL && !resolved_text) {
		/* The stored content no longer validates (or its metadata): the
		 * blob is not what a commit holds. */
		rc = replay_error(TRACT_EINVAL, orig, tract_error_last()->message);
		goto done;
	}
	if (rc < 0)
		goto done;
	*wrote = 1;
	if (!resolved_text && strcmp(tract_commit_content_hash(c), orig->content_hash) != 0) {
		rc = replay_error(TRACT_ECORRUPT, orig, "its content hashes differently");
		goto done;
	}
	rc = copy_annotation(t, orig, tract_commit_hash(c));
	if (rc < 0)
		goto done;
	*out = c;
	c = NULL;
done:
	tract_commit_free(c);
	free(content);
	free(metadata);
	return rc;
}

/* ---- cherry-pick ------------------------------------------------------------------- */

int tract_cherry_pick_options_init(tract_cherry_pick_options *opts, unsigned int version)
{
	tract_cherry_pick_options defaults = TRACT_CHERRY_PICK_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_cherry_pick_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_CHERRY_PICK_OPTIONS_VERSION,
				"tract_cherry_pick_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

void tract_cherry_pick_result_free(tract_cherry_pick_result *r)
{
	if (!r)
		return;
	tract_commit_free(r->original);
	tract_commit_free(r->new_commit);
	issues_dispose(r->issues, r->issue_count);
	free(r);
}

static const char *branch_of(const tract_head_state *hs)
{
	return strncmp(hs->head.symbolic, "refs/heads/", 11) == 0 ? hs->head.symbolic + 11 : NULL;
}

/* Everything of a pick up to its write, in the open transaction. */
static int pick_in_txn(tract_cherry_pick_result *r, tract *t, const char *rev,
		       const tract_cherry_pick_options *o, int *wrote)
{
	tract_head_state hs;
	issue_list issues = {0};
	tract_row orig;
	char hash[65], *text = NULL;
	const tract_row *commits[1];
	int rc, skip = 0;

	memset(&orig, 0, sizeof(orig));
	rc = tract_head_read(&hs, t);
	if (rc < 0)
		return rc;
	if (hs.head.exists && !hs.head.symbolic[0])
		return tract_error_set(TRACT_EDETACHED,
				       "Cannot cherry-pick in detached HEAD state. Use 'tract "
				       "switch BRANCH' to return to a branch.");
	rc = tract_resolve_in_txn(hash, t, rev);
	if (rc == 0)
		rc = read_commit(&orig, t, hash);
	if (rc < 0)
		return rc;
	if (orig.operation == TRACT_OP_EDIT && orig.response_to) {
		int found = 0;

		if (!hs.hash[0])
			rc = issue_add(&issues, orig.hash, orig.response_to, "",
				       "EDIT commit targets %.12s... but current branch has no "
				       "commits",
				       orig.response_to);
		else if ((rc = is_ancestor(&found, t, orig.response_to, hs.hash)) == 0 && !found)
			rc = issue_add(&issues, orig.hash, orig.response_to, hs.hash,
				       "EDIT commit targets %.12s... which does not exist on the "
				       "current branch",
				       orig.response_to);
	}
	if (rc == 0 && issues.count && !o->resolver)
		rc = issues_error(&issues, "Cherry-pick", "issue");
	if (rc == 0 && issues.count) {
		commits[0] = &orig;
		rc = ask_resolver(&issues, &text, &skip, o->resolver, o->resolver_payload,
				  "cherry-pick", branch_of(&hs), rev, commits);
	}
	if (rc == 0 && !skip)
		rc = replay_commit(&r->new_commit, t, &orig, orig.response_to, text, wrote);
	if (rc == 0) {
		tract_copy_id(r->new_head, r->new_commit ? tract_commit_hash(r->new_commit)
							 : hs.hash);
		r->original = tract_commit_from_row(&orig);
		if (!r->original)
			rc = tract_error_oom();
	}
	r->issues = issues.items;
	r->issue_count = issues.count;
	tract_row_dispose(&orig);
	free(text);
	return rc;
}

int tract_cherry_pick(tract_cherry_pick_result **out, tract *t, const char *rev,
		      const tract_cherry_pick_options *opts)
{
	tract_cherry_pick_options defaults = TRACT_CHERRY_PICK_OPTIONS_INIT;
	tract_cherry_pick_result *r;
	int rc, wrote = 0;

	if (out)
		*out = NULL;
	if (!out || !t || !rev)
		return tract_error_set(TRACT_EINVAL, "tract_cherry_pick: NULL argument");
	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_CHERRY_PICK_OPTIONS_VERSION,
				"tract_cherry_pick_options") < 0)
		return TRACT_EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return tract_error_oom();
	rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
	if (rc == 0) {
		rc = pick_in_txn(r, t, rev, opts, &wrote);
		rc = op_end(t->store, rc, wrote);
	}
	tract_cache_sync(t);
	if (rc < 0) {
		tract_cherry_pick_result_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* ---- rebase ---------------------------------------------------------------------------- */

int tract_rebase_options_init(tract_rebase_options *opts, unsigned int version)
{
	tract_rebase_options defaults = TRACT_REBASE_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_rebase_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_REBASE_OPTIONS_VERSION, "tract_rebase_options") <
	    0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

const char *tract_rebase_outcome_name(tract_rebase_outcome outcome)
{
	switch (outcome) {
	case TRACT_REBASE_UP_TO_DATE: return "up_to_date";
	case TRACT_REBASE_FAST_FORWARD: return "fast_forward";
	case TRACT_REBASE_REPLAYED: return "replayed";
	}
	return "unknown";
}

void tract_rebase_result_free(tract_rebase_result *r)
{
	if (!r)
		return;
	tract_commit_list_free(r->original_commits);
	tract_commit_list_free(r->replayed_commits);
	issues_dispose(r->warnings, r->warning_count);
	free(r);
}

/* old hash -> position in the range, for retargeting. */
typedef struct {
	const char *hash;
	size_t pos;
} range_entry;

static int range_cmp(const void *a, const void *b)
{
	return strcmp(((const range_entry *)a)->hash, ((const range_entry *)b)->hash);
}

static const range_entry *range_find(const range_entry *idx, size_t n, const char *hash)
{
	range_entry key = {hash, 0};

	return bsearch(&key, idx, n, sizeof(*idx), range_cmp);
}

/* Set the branch ref from its current commit to hash (compare-and-swap). */
static int move_branch(tract *t, const char *ref, const char *from, const char *to)
{
	tract_ref_row exp;
	int rc;

	memset(&exp, 0, sizeof(exp));
	exp.commit_hash = from;
	rc = t->store->be->ref_cas(t->store->conn, t->id, ref, to, NULL, &exp);
	if (rc == TRACT_ESTALE)
		return tract_error_set(TRACT_ESTALE, "branch moved by another writer");
	return rc < 0 ? tract_backend_error(t->store, rc, "move branch") : 0;
}

typedef struct {
	tract_row *rows;      /* the range, oldest first */
	size_t n;
	range_entry *idx;     /* sorted by hash */
	const tract_row **with_issue; /* the commit of each warning */
	char **texts;         /* resolved text per warning */
	size_t *issue_of;     /* warning index + 1 per commit, 0 when none */
} rebase_range;

static void range_dispose(rebase_range *g, size_t n_warnings)
{
	for (size_t i = 0; i < g->n; i++)
		tract_row_dispose(&g->rows[i]);
	for (size_t i = 0; g->texts && i < n_warnings; i++)
		free(g->texts[i]);
	free(g->rows);
	free(g->idx);
	free((void *)g->with_issue);
	free(g->texts);
	free(g->issue_of);
}

/* The walk of read_range(): rows of the range from its end backward while
 * the chain matches it. */
typedef struct {
	tract_row *rows;
	char (*want)[65];
	size_t n;
	size_t next; /* rows[next..n) are filled */
} chain_fill;

static int chain_fill_cb(const tract_chain_row *row, void *payload)
{
	chain_fill *cf = payload;
	int rc;

	if (cf->next == 0 || strcmp(row->commit.commit_hash, cf->want[cf->next - 1]) != 0)
		return 1;
	rc = tract_row_copy_chain(&cf->rows[cf->next - 1], row);
	if (rc < 0)
		return rc;
	cf->next--;
	return 0;
}

/* Read the commits to replay (reachable from head, not from onto). */
static int read_range(rebase_range *g, tract *t, const char *head, const char *onto)
{
	tract_dag_list unique;
	size_t filled_from;
	int rc;

	memset(&unique, 0, sizeof(unique));
	rc = tract_dag_unique(&unique, t->store, t->id, head, onto);
	if (rc < 0)
		return rc;
	g->rows = calloc(unique.count + 1, sizeof(*g->rows));
	g->idx = calloc(unique.count + 1, sizeof(*g->idx));
	g->issue_of = calloc(unique.count + 1, sizeof(*g->issue_of));
	if (!g->rows || !g->idx || !g->issue_of) {
		tract_dag_list_dispose(&unique);
		return tract_error_oom();
	}
	/* A linear range (the usual case) is the head's first-parent chain:
	 * one walk reads it, newest first; what it does not cover is read
	 * one commit at a time. */
	{
		chain_fill cf = {g->rows, unique.items, unique.count, unique.count};

		/* every row is disposed with the range, filled or not */
		g->n = unique.count;
		rc = t->store->be->commit_chain(t->store->conn, t->id, head, unique.count,
						TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS | TRACT_CHAIN_PRIORITY,
					INT64_MAX,
						chain_fill_cb, &cf);
		if (rc < 0)
			rc = rc == TRACT_ENOMEM ? tract_error_oom()
						: tract_backend_error(t->store, rc, "read commits");
		filled_from = cf.next;
	}
	for (size_t i = 0; rc == 0 && i < unique.count; i++) {
		if (i < filled_from && (rc = read_commit(&g->rows[i], t, unique.items[i])) < 0)
			break;
		if (g->rows[i].n_extra)
			rc = tract_error_set(TRACT_EINVAL,
					     "Cannot rebase branch containing merge commits");
		g->idx[i].hash = g->rows[i].hash;
		g->idx[i].pos = i;
	}
	tract_dag_list_dispose(&unique);
	if (rc == 0)
		qsort(g->idx, g->n, sizeof(*g->idx), range_cmp);
	return rc;
}

/* §10 step 8 with DECISIONS.md: an edit whose target is neither in the
 * range nor behind onto. */
static int check_edits(issue_list *w, rebase_range *g, tract *t, const char *onto_tip,
		       const char *onto_name)
{
	for (size_t i = 0; i < g->n; i++) {
		const tract_row *c = &g->rows[i];
		int found = 0, rc;

		if (c->operation != TRACT_OP_EDIT || !c->response_to ||
		    range_find(g->idx, g->n, c->response_to))
			continue;
		rc = is_ancestor(&found, t, c->response_to, onto_tip);
		if (rc < 0)
			return rc;
		if (found)
			continue;
		rc = issue_add(w, c->hash, c->response_to, onto_tip,
			       "EDIT commit targets %.12s... which does not exist on target "
			       "branch '%s'",
			       c->response_to, onto_name);
		if (rc < 0)
			return rc;
		g->issue_of[i] = w->count;
	}
	return 0;
}

static int list_new(tract_commit_list **out, size_t cap)
{
	*out = calloc(1, sizeof(**out));
	if (*out && cap && !((*out)->items = calloc(cap, sizeof(tract_commit *)))) {
		free(*out);
		*out = NULL;
	}
	return *out ? 0 : tract_error_oom();
}

/* The range's rows become the result's original commits. */
static int take_originals(tract_commit_list *l, rebase_range *g)
{
	for (size_t i = 0; i < g->n; i++) {
		tract_commit *oc = tract_commit_from_row(&g->rows[i]);

		if (!oc)
			return tract_error_oom();
		l->items[l->count++] = oc;
	}
	return 0;
}

static int rebase_in_txn(tract_rebase_result *r, tract *t, const char *onto,
			 const tract_rebase_options *o, int *wrote)
{
	tract_head_state hs;
	rebase_range g;
	issue_list w = {0};
	int rc, found = 0, skip = 0;
	int check_only = (o->flags & TRACT_REBASE_CHECK_ONLY) != 0;

	memset(&g, 0, sizeof(g));
	rc = tract_head_read(&hs, t);
	if (rc < 0)
		return rc;
	if (hs.head.exists && !hs.head.symbolic[0])
		return tract_error_set(TRACT_EDETACHED, "Cannot rebase in detached HEAD state");
	if (!hs.hash[0])
		return tract_error_set(TRACT_ENOTFOUND,
				       "Cannot rebase: no commits on current branch");
	rc = tract_resolve_in_txn(r->onto, t, onto);
	/* a name that resolves to nothing is a missing branch (§10 step 3); a
	 * revision with suffixes (main~5) keeps the resolver's message, which
	 * says where the walk ended */
	if (rc == TRACT_ENOTFOUND && !strpbrk(onto, "~^"))
		return tract_error_set(TRACT_ENOTFOUND, "Branch not found: %s", onto);
	if (rc < 0)
		return rc;
	tract_copy_id(r->new_head, hs.hash);
	r->outcome = TRACT_REBASE_UP_TO_DATE;
	/* §10 steps 4-5: onto is the head or already in the branch. */
	if (strcmp(r->onto, hs.hash) == 0)
		return 0;
	rc = is_ancestor(&found, t, r->onto, hs.hash);
	if (rc < 0 || found)
		return rc;
	/* DECISIONS.md: a branch strictly behind fast-forwards. */
	rc = is_ancestor(&found, t, hs.hash, r->onto);
	if (rc < 0)
		return rc;
	if (found) {
		if (check_only) {
			r->outcome = TRACT_REBASE_FAST_FORWARD;
			return 0;
		}
		*wrote = 1;
		rc = move_branch(t, hs.head.symbolic, hs.hash, r->onto);
		if (rc == 0) {
			r->outcome = TRACT_REBASE_FAST_FORWARD;
			tract_copy_id(r->new_head, r->onto);
		}
		return rc;
	}
	rc = read_range(&g, t, hs.hash, r->onto);
	if (rc == 0)
		rc = check_edits(&w, &g, t, r->onto, onto);
	if (rc == 0)
		rc = list_new(&r->original_commits, g.n);
	if (rc == 0 && check_only) {
		r->outcome = TRACT_REBASE_REPLAYED;
		rc = take_originals(r->original_commits, &g);
		goto done;
	}
	if (rc == 0 && w.count && !o->resolver)
		rc = issues_error(&w, "Rebase", "semantic safety warning");
	if (rc == 0 && w.count) {
		g.with_issue = calloc(w.count, sizeof(*g.with_issue));
		g.texts = calloc(w.count, sizeof(*g.texts));
		if (!g.with_issue || !g.texts)
			rc = tract_error_oom();
		for (size_t i = 0; rc == 0 && i < g.n; i++)
			if (g.issue_of[i])
				g.with_issue[g.issue_of[i] - 1] = &g.rows[i];
		if (rc == 0)
			rc = ask_resolver(&w, g.texts, &skip, o->resolver, o->resolver_payload,
					  "rebase", onto, branch_of(&hs), g.with_issue);
	}
	if (rc == 0)
		rc = list_new(&r->replayed_commits, g.n);
	if (rc == 0) {
		*wrote = 1;
		rc = move_branch(t, hs.head.symbolic, hs.hash, r->onto);
		/* The ref log keeps the tip being rewritten (reflog.c). */
		if (rc == 0)
			rc = tract_reflog_note_commits(t->store, t->id, hs.head.symbolic, hs.hash,
						       r->onto, "rebase", 0);
	}
	for (size_t i = 0; rc == 0 && i < g.n; i++) {
		const tract_row *c = &g.rows[i];
		const char *target = c->response_to, *text = NULL;
		const range_entry *e = target ? range_find(g.idx, g.n, target) : NULL;
		tract_commit *nc = NULL;

		/* DECISIONS.md: an edit (or answer) of a replayed commit follows
		 * its copy; the range is oldest first, so the copy exists. */
		if (e)
			target = tract_commit_hash(r->replayed_commits->items[e->pos]);
		if (g.issue_of[i])
			text = g.texts[g.issue_of[i] - 1];
		rc = replay_commit(&nc, t, c, target, text, wrote);
		if (rc < 0)
			break;
		r->replayed_commits->items[r->replayed_commits->count++] = nc;
	}
	if (rc == 0)
		rc = take_originals(r->original_commits, &g);
	if (rc == 0) {
		r->outcome = TRACT_REBASE_REPLAYED;
		if (g.n)
			tract_copy_id(r->new_head,
				      tract_commit_hash(r->replayed_commits->items[g.n - 1]));
	}
done:
	r->warnings = w.items;
	r->warning_count = w.count;
	range_dispose(&g, w.count);
	return rc;
}

int tract_rebase(tract_rebase_result **out, tract *t, const char *onto,
		 const tract_rebase_options *opts)
{
	tract_rebase_options defaults = TRACT_REBASE_OPTIONS_INIT;
	tract_rebase_result *r;
	int rc, wrote = 0;

	if (out)
		*out = NULL;
	if (!out || !t || !onto)
		return tract_error_set(TRACT_EINVAL, "tract_rebase: NULL argument");
	if (!*onto)
		return tract_error_set(TRACT_EINVAL, "tract_rebase: empty target branch");
	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_REBASE_OPTIONS_VERSION,
				"tract_rebase_options") < 0)
		return TRACT_EINVAL;
	if (opts->flags & ~(unsigned int)TRACT_REBASE_CHECK_ONLY)
		return tract_error_set(TRACT_EINVAL, "tract_rebase: unknown flags %#x", opts->flags);
	r = calloc(1, sizeof(*r));
	if (!r)
		return tract_error_oom();
	rc = tract_txn_begin(t->store, opts->flags & TRACT_REBASE_CHECK_ONLY ? TRACT_TXN_READ
									       : TRACT_TXN_WRITE);
	if (rc == 0) {
		rc = rebase_in_txn(r, t, onto, opts, &wrote);
		rc = op_end(t->store, rc, wrote);
	}
	tract_cache_sync(t);
	if (rc == 0 && !r->original_commits)
		rc = list_new(&r->original_commits, 0);
	if (rc == 0 && !r->replayed_commits)
		rc = list_new(&r->replayed_commits, 0);
	if (rc < 0) {
		tract_rebase_result_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* ---- JSON ---------------------------------------------------------------------------- */

static int put_str(tract_buf *b, const char *s)
{
	if (!s)
		return tract_buf_puts(b, "null");
	return tract_json_escape(b, s, strlen(s), 0);
}

static int put_commit(tract_buf *b, const tract_commit *c)
{
	char *json = NULL;
	int rc;

	if (!c)
		return tract_buf_puts(b, "null");
	rc = tract_commit_to_json(&json, c, 0);
	if (rc < 0)
		return rc;
	rc = tract_buf_puts(b, json);
	tract_string_free(json);
	return rc;
}

static int put_commits(tract_buf *b, const tract_commit_list *l)
{
	int rc = tract_buf_putc(b, '[');

	for (size_t i = 0; rc == 0 && l && i < l->count; i++) {
		if (i)
			rc = tract_buf_puts(b, ", ");
		if (rc == 0)
			rc = put_commit(b, l->items[i]);
	}
	return rc ? rc : tract_buf_putc(b, ']');
}

static const char *action_name(int action)
{
	switch (action) {
	case TRACT_RESOLVE_RESOLVED: return "resolved";
	case TRACT_RESOLVE_SKIP: return "skip";
	case TRACT_RESOLVE_ABORT: return "abort";
	}
	return NULL;
}

static int put_issues(tract_buf *b, const tract_replay_issue *items, size_t n,
		      const char *destination_key)
{
	int rc = tract_buf_putc(b, '[');

	for (size_t i = 0; rc == 0 && i < n; i++) {
		const tract_replay_issue *is = &items[i];

		rc |= tract_buf_puts(b, i ? ", {\"issue_type\": " : "{\"issue_type\": ");
		rc |= put_str(b, tract_issue_kind_name(is->kind));
		rc |= tract_buf_puts(b, ", \"commit\": ");
		rc |= put_str(b, is->commit);
		rc |= tract_buf_puts(b, ", \"missing_target\": ");
		rc |= put_str(b, is->missing_target);
		rc |= tract_buf_printf(b, ", \"%s\": ", destination_key);
		rc |= put_str(b, is->destination[0] ? is->destination : NULL);
		rc |= tract_buf_puts(b, ", \"description\": ");
		rc |= put_str(b, is->description);
		rc |= tract_buf_puts(b, ", \"resolution\": ");
		rc |= put_str(b, action_name(is->action));
		rc |= tract_buf_putc(b, '}');
	}
	return rc ? TRACT_ENOMEM : tract_buf_putc(b, ']');
}

int tract_cherry_pick_result_to_json(char **out, const tract_cherry_pick_result *r)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc = 0;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_cherry_pick_result_to_json: out is NULL");
	*out = NULL;
	if (!r)
		return tract_error_set(TRACT_EINVAL,
				       "tract_cherry_pick_result_to_json: result is NULL");
	rc |= tract_buf_puts(&b, "{\"original_commit\": ");
	rc |= put_commit(&b, r->original);
	rc |= tract_buf_puts(&b, ", \"new_commit\": ");
	rc |= put_commit(&b, r->new_commit);
	rc |= tract_buf_puts(&b, ", \"new_head\": ");
	rc |= put_str(&b, r->new_head[0] ? r->new_head : NULL);
	rc |= tract_buf_puts(&b, ", \"issues\": ");
	rc |= put_issues(&b, r->issues, r->issue_count, "target_branch_head");
	rc |= tract_buf_putc(&b, '}');
	return tract_buf_finish(out, &b, rc);
}

int tract_rebase_result_to_json(char **out, const tract_rebase_result *r)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc = 0;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_rebase_result_to_json: out is NULL");
	*out = NULL;
	if (!r)
		return tract_error_set(TRACT_EINVAL, "tract_rebase_result_to_json: result is NULL");
	rc |= tract_buf_puts(&b, "{\"outcome\": ");
	rc |= put_str(&b, tract_rebase_outcome_name(r->outcome));
	rc |= tract_buf_puts(&b, ", \"onto\": ");
	rc |= put_str(&b, r->onto);
	rc |= tract_buf_puts(&b, ", \"new_head\": ");
	rc |= put_str(&b, r->new_head);
	rc |= tract_buf_puts(&b, ", \"original_commits\": ");
	rc |= put_commits(&b, r->original_commits);
	rc |= tract_buf_puts(&b, ", \"replayed_commits\": ");
	rc |= put_commits(&b, r->replayed_commits);
	rc |= tract_buf_puts(&b, ", \"warnings\": ");
	rc |= put_issues(&b, r->warnings, r->warning_count, "new_base");
	rc |= tract_buf_putc(&b, '}');
	return tract_buf_finish(out, &b, rc);
}

/* ---- for compression (core/compress.c) ------------------------------------------------ */

int tract_replay_commit_as(tract_commit **out, tract *t, const tract_row *orig,
			   tract_operation op, const char *response_to, int *wrote)
{
	tract_row r = *orig; /* shallow: replay_commit only reads it */

	r.operation = op;
	return replay_commit(out, t, &r, response_to, NULL, wrote);
}
