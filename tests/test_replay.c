/*
 * test_replay.c - cherry-pick and rebase (spec/history.md §9, §10 with
 * DECISIONS.md): every rule, message and error; edits retargeted inside a
 * rebased range, explicit annotations kept, a branch strictly behind
 * fast-forwarded, detached HEAD refused, the resolved-text path keeping
 * the content type, one transaction per operation (a failure midway
 * leaves every ref and row as it was); the compile of a rebased branch
 * equals the compile of the same commits appended linearly.
 */
#include "helpers.h"

#include <sqlite3.h>

#include "dag.h"
#include "json.h"
#include "tract/rebase.h"

/* ---- refs straight through the backend (branches, HEAD) --------------------- */

static void set_ref(fx *f, const char *name, const char *commit, const char *sym)
{
	tract_ref_value cur;
	tract_ref_row exp = {0};
	tract_store *s = f->store;

	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(tract_ref_read(&cur, s, f->t->id, name), 0);
	exp.commit_hash = cur.commit[0] ? cur.commit : NULL;
	exp.symbolic_target = cur.symbolic[0] ? cur.symbolic : NULL;
	assert_int_equal(s->be->ref_cas(s->conn, f->t->id, name, commit, sym,
					cur.exists ? &exp : NULL),
			 0);
	assert_int_equal(s->be->commit(s->conn), 0);
}

/* Create branch name at commit and attach HEAD to it. */
static void branch_at(fx *f, const char *name, const char *commit)
{
	char ref[128];

	snprintf(ref, sizeof(ref), "refs/heads/%s", name);
	if (commit)
		set_ref(f, ref, commit, NULL);
	set_ref(f, "HEAD", NULL, ref);
}

static void switch_to(fx *f, const char *name)
{
	branch_at(f, name, NULL);
}

static void ref_get(fx *f, const char *name, tract_ref_value *out)
{
	tract_store *s = f->store;

	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_READ), 0);
	assert_int_equal(tract_ref_read(out, s, f->t->id, name), 0);
	assert_int_equal(s->be->commit(s->conn), 0);
}

static void tip(fx *f, const char *branch, char out[65])
{
	tract_ref_value v;
	char ref[128];

	snprintf(ref, sizeof(ref), "refs/heads/%s", branch);
	ref_get(f, ref, &v);
	assert_true(v.exists);
	memcpy(out, v.commit, 65);
}

static void head(fx *f, char out[65])
{
	assert_int_equal(tract_head_get(out, NULL, NULL, f->t), 0);
}

/* A merge commit: an ordinary commit on HEAD plus its parent rows. */
static void merge_commit(fx *f, char out[65], const char *other)
{
	tract_store *s = f->store;
	char parent[65];

	head(f, parent);
	fx_commit(f, out, "{\"content_type\":\"freeform\",\"payload\":{\"message\":\"Merge\"}}",
		  NULL);
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_WRITE), 0);
	assert_int_equal(s->be->parent_put(s->conn, out, parent, 0), 0);
	assert_int_equal(s->be->parent_put(s->conn, out, other, 1), 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	tract_cache_clear(f->t->cache);
}

static void edit(fx *f, char out[65], const char *target, const char *text)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;

	o.operation = TRACT_OP_EDIT;
	o.response_to = target;
	if (tract_commit_create_dialogue(&c, f->t, "user", text, NULL, &o) != 0)
		fail_msg("edit: %s", tract_error_last()->message);
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static void annotate(fx *f, const char *hash, tract_priority p, const char *reason)
{
	if (tract_annotation_create(NULL, f->t, hash, p, reason) != 0)
		fail_msg("annotate: %s", tract_error_last()->message);
}

/* The compiled context as "role: content" lines. */
static char *compiled(fx *f)
{
	tract_context *c = fx_compile(f, NULL);
	tract_buf b = TRACT_BUF_INIT;
	char *out;

	for (size_t i = 0; i < tract_context_count(c); i++)
		assert_int_equal(tract_buf_printf(&b, "%s: %s\n", tract_context_role(c, i),
						  tract_context_content(c, i)),
				 0);
	tract_context_free(c);
	out = tract_buf_detach(&b);
	assert_non_null(out);
	return out;
}

static void assert_compiled(fx *f, const char *want)
{
	char *got = compiled(f);

	assert_string_equal(got, want);
	free(got);
}

static tract_commit *lookup(fx *f, const char *ref)
{
	tract_commit *c = NULL;

	if (tract_commit_lookup(&c, f->t, ref) != 0)
		fail_msg("lookup %s: %s", ref, tract_error_last()->message);
	return c;
}

/* The stored content of a commit (kept until the next call). */
static const char *content_of(fx *f, const tract_commit *c)
{
	static char buf[4096];
	tract_commit *full = lookup(f, tract_commit_hash(c));

	snprintf(buf, sizeof(buf), "%s", tract_commit_content(full));
	tract_commit_free(full);
	return buf;
}

static void assert_error(int rc, int code, const char *message)
{
	assert_int_equal(rc, code);
	assert_int_equal(tract_error_last()->code, code);
	if (message && !strstr(tract_error_last()->message, message))
		fail_msg("error '%s' lacks '%s'", tract_error_last()->message, message);
}

/* Every ref of the store with its value, for "nothing written". */
static int refs_cb(const tract_ref_row *row, void *payload)
{
	tract_buf *b = payload;

	return tract_buf_printf(b, "%s %s %s %s\n", row->tract_id, row->ref_name,
				row->commit_hash ? row->commit_hash : "-",
				row->symbolic_target ? row->symbolic_target : "-");
}

typedef struct {
	fx_counts counts;
	char *refs;
} snapshot;

static snapshot snap(fx *f)
{
	tract_store *s = f->store;
	tract_buf b = TRACT_BUF_INIT;
	snapshot sn;

	sn.counts = fx_count(f);
	assert_int_equal(s->be->begin(s->conn, TRACT_TXN_READ), 0);
	assert_int_equal(s->be->ref_foreach(s->conn, NULL, NULL, refs_cb, &b), 0);
	assert_int_equal(s->be->commit(s->conn), 0);
	sn.refs = tract_buf_detach(&b);
	return sn;
}

static void assert_unchanged(fx *f, snapshot *before)
{
	snapshot now = snap(f);

	fx_assert_same_counts(before->counts, now.counts);
	assert_string_equal(before->refs, now.refs);
	free(now.refs);
	free(before->refs);
	before->refs = NULL;
}

/* Latest annotation of a commit (TRACT_PRIORITY_NONE without). */
static tract_priority priority_of(fx *f, const char *hash, size_t *count)
{
	tract_annotation_list *l = NULL;
	tract_priority p = TRACT_PRIORITY_NONE;

	assert_int_equal(tract_annotation_list_get(&l, f->t, hash), 0);
	if (l->count)
		p = l->items[l->count - 1].priority;
	if (count)
		*count = l->count;
	tract_annotation_list_free(l);
	return p;
}

/* ---- a recording resolver ------------------------------------------------------ */

typedef struct {
	tract_resolve_action action;
	const char *text;
	const char *reasoning;
	int fail;        /* return this code instead */
	int calls;
	tract_issue seen; /* the last issue, strings copied below */
	char key[65], target[65], commit_a[65], commit_b[65];
	char text_b[256], branch_a[128], branch_b[128], operation[32], description[512];
} resolver_state;

static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "(null)");
}

static int resolver(tract_resolution *out, const tract_issue *issue, void *payload)
{
	resolver_state *r = payload;

	r->calls++;
	r->seen = *issue;
	copy_str(r->key, sizeof(r->key), issue->key);
	copy_str(r->target, sizeof(r->target), issue->target_hash);
	copy_str(r->commit_a, sizeof(r->commit_a), issue->commit_a);
	copy_str(r->commit_b, sizeof(r->commit_b), issue->commit_b);
	copy_str(r->text_b, sizeof(r->text_b), issue->text_b);
	copy_str(r->branch_a, sizeof(r->branch_a), issue->branch_a);
	copy_str(r->branch_b, sizeof(r->branch_b), issue->branch_b);
	copy_str(r->operation, sizeof(r->operation), issue->operation);
	copy_str(r->description, sizeof(r->description), issue->description);
	if (r->fail)
		return r->fail;
	out->action = r->action;
	out->text = r->text;
	out->reasoning = r->reasoning;
	return 0;
}

/* ---- cherry-pick: fixtures -------------------------------------------------------- */

/*
 * main: R "root", M "on main"; side (from R): S "on side" with a message,
 * metadata and a generation config, X "only on side", E = edit of X.
 * HEAD on main.
 */
typedef struct {
	char r[65], m[65], s[65], x[65], e[65];
} pick_fx;

static fx *pick_setup(pick_fx *p)
{
	fx *f = fx_new(NULL);
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;

	fx_say(f, p->r, "user", "root");
	fx_say(f, p->m, "assistant", "on main");
	branch_at(f, "side", p->r);
	o.message = "side work";
	o.metadata_json = "{\"k\": 1}";
	o.generation_config_json = "{\"temperature\": 0.5}";
	fx_commit(f, p->s, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"on side\"}",
		  &o);
	fx_say(f, p->x, "user", "only on side");
	edit(f, p->e, p->x, "edited side");
	switch_to(f, "main");
	return f;
}

/* A picked commit whose original is skipped gets the SKIP annotation too:
 * the context the handle caches for the new HEAD leaves it out, as a
 * full compile does (verify_cache checks every hit against one). */
static void test_pick_skipped_cache(void **state)
{
	tract_open_options oo = TRACT_OPEN_OPTIONS_INIT;
	tract_cherry_pick_result *r = NULL;
	tract_context *ctx = NULL;
	tract *t2 = NULL;
	pick_fx p;
	fx *f = pick_setup(&p);

	(void)state;
	oo.verify_cache = 1;
	assert_int_equal(tract_open(&t2, f->store, tract_id(f->t), &oo), 0);
	tract_free(f->t);
	f->t = t2;
	assert_int_equal(tract_annotation_create(NULL, f->t, p.s, TRACT_PRIORITY_SKIP, "noise"), 0);
	assert_compiled(f, "user: root\nassistant: on main\n");
	assert_int_equal(tract_cherry_pick(&r, f->t, p.s, NULL), 0);
	assert_int_equal(tract_context_compile(&ctx, f->t, NULL), 0);
	assert_int_equal(tract_context_count(ctx), 2);
	tract_context_free(ctx);
	tract_cherry_pick_result_free(r);
	fx_free(f);
}

static void test_pick_append(void **state)
{
	pick_fx p;
	fx *f = pick_setup(&p);
	tract_cherry_pick_result *r = NULL;
	tract_commit *orig, *nc;
	char h[65], b[65];
	char *branch = NULL;
	int detached = 1;

	(void)state;
	assert_int_equal(tract_cherry_pick(&r, f->t, p.s, NULL), 0);
	assert_non_null(r->new_commit);
	assert_int_equal(r->issue_count, 0);
	orig = r->original;
	nc = r->new_commit;
	assert_string_equal(tract_commit_hash(orig), p.s);
	assert_string_not_equal(tract_commit_hash(nc), p.s);
	/* same content (hash and blob), operation, message, metadata, config */
	assert_string_equal(tract_commit_content_hash(nc), tract_commit_content_hash(orig));
	assert_string_equal(tract_commit_content_type(nc), "dialogue");
	assert_int_equal(tract_commit_operation(nc), TRACT_OP_APPEND);
	assert_string_equal(tract_commit_message(nc), "side work");
	assert_string_equal(tract_commit_metadata(nc), "{\"k\": 1}");
	assert_string_equal(tract_commit_generation_config(nc), "{\"temperature\": 0.5}");
	assert_true(tract_commit_time(nc) > tract_commit_time(orig));
	/* on top of main, which moved; HEAD still attached */
	assert_string_equal(tract_commit_parent(nc), p.m);
	assert_int_equal(tract_head_get(h, &branch, &detached, f->t), 0);
	assert_string_equal(h, tract_commit_hash(nc));
	assert_string_equal(r->new_head, h);
	assert_string_equal(branch, "main");
	assert_false(detached);
	free(branch);
	tip(f, "side", b);
	assert_string_equal(b, p.e); /* the source is untouched */
	assert_compiled(f, "user: root\nassistant: on main\nuser: on side\n");
	tract_cherry_pick_result_free(r);

	/* an empty metadata or config object becomes none (§9 "Replay") */
	switch_to(f, "side");
	{
		tract_commit_options eo = TRACT_COMMIT_OPTIONS_INIT;

		eo.metadata_json = "{}";
		eo.generation_config_json = "{ }";
		fx_commit(f, b, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"e\"}",
			  &eo);
	}
	switch_to(f, "main");
	assert_int_equal(tract_cherry_pick(&r, f->t, b, NULL), 0);
	assert_null(tract_commit_metadata(r->new_commit));
	assert_null(tract_commit_generation_config(r->new_commit));
	tract_cherry_pick_result_free(r);
	assert_compiled(f, "user: root\nassistant: on main\nuser: on side\nuser: e\n");

	/* a branch name picks its tip; a prefix works; a commit already on the
	 * branch is copied again (a duplicate) */
	assert_int_equal(tract_cherry_pick(&r, f->t, "side", NULL), 0);
	assert_string_equal(tract_commit_hash(r->original), b);
	tract_cherry_pick_result_free(r);
	assert_int_equal(tract_cherry_pick(&r, f->t, "main", NULL), 0);
	assert_string_equal(tract_commit_content_hash(r->new_commit),
			    tract_commit_content_hash(r->original));
	tract_cherry_pick_result_free(r);
	memcpy(b, p.m, 8);
	b[8] = '\0';
	assert_int_equal(tract_cherry_pick(&r, f->t, b, NULL), 0);
	assert_string_equal(tract_commit_hash(r->original), p.m);
	tract_cherry_pick_result_free(r);
	assert_compiled(f, "user: root\nassistant: on main\nuser: on side\nuser: e\nuser: e\n"
			   "user: e\nassistant: on main\n");
	fx_free(f);
}

/* §9 step 2: an edit whose target is on the branch is replayed as an edit. */
static void test_pick_edit_target_present(void **state)
{
	pick_fx p;
	fx *f = pick_setup(&p);
	tract_cherry_pick_result *r = NULL;
	char e2[65];

	(void)state;
	switch_to(f, "side");
	edit(f, e2, p.r, "root, edited on side");
	switch_to(f, "main");
	assert_int_equal(tract_cherry_pick(&r, f->t, e2, NULL), 0);
	assert_int_equal(r->issue_count, 0);
	assert_int_equal(tract_commit_operation(r->new_commit), TRACT_OP_EDIT);
	assert_string_equal(tract_commit_response_to(r->new_commit), p.r);
	assert_compiled(f, "user: root, edited on side\nassistant: on main\n");
	tract_cherry_pick_result_free(r);
	fx_free(f);
}

static void test_pick_edit_target_missing(void **state)
{
	pick_fx p;
	fx *f = pick_setup(&p);
	tract_cherry_pick_result *r = NULL;
	tract_cherry_pick_options o = TRACT_CHERRY_PICK_OPTIONS_INIT;
	resolver_state rs;
	char want[256];
	snapshot before = snap(f);

	(void)state;
	/* no resolver: the issue fails the pick, nothing written */
	snprintf(want, sizeof(want),
		 "Cherry-pick has 1 issue(s): EDIT commit targets %.12s... which does not "
		 "exist on the current branch",
		 p.x);
	assert_error(tract_cherry_pick(&r, f->t, p.e, NULL), TRACT_ECONFLICT, want);
	assert_string_equal(tract_error_last()->message, want);
	assert_unchanged(f, &before);

	/* abort: EABORTED quoting the reasoning; the resolver saw the issue */
	memset(&rs, 0, sizeof(rs));
	rs.action = TRACT_RESOLVE_ABORT;
	rs.reasoning = "not now";
	o.resolver = resolver;
	o.resolver_payload = &rs;
	before = snap(f);
	assert_error(tract_cherry_pick(&r, f->t, p.e, &o), TRACT_EABORTED,
		     "Resolver aborted cherry-pick: not now");
	assert_unchanged(f, &before);
	assert_int_equal(rs.calls, 1);
	assert_int_equal(rs.seen.kind, TRACT_ISSUE_EDIT_TARGET_MISSING);
	assert_string_equal(rs.operation, "cherry-pick");
	assert_string_equal(rs.key, p.e);
	assert_string_equal(rs.commit_b, p.e);
	assert_string_equal(rs.target, p.x);
	assert_string_equal(rs.commit_a, p.m);
	assert_string_equal(rs.text_b, "edited side");
	assert_string_equal(rs.branch_a, "main");
	assert_string_equal(rs.branch_b, p.e);
	assert_non_null(strstr(rs.description, "which does not exist on the current branch"));

	/* the resolver's own failure keeps its code */
	rs.fail = TRACT_EPROVIDER;
	before = snap(f);
	assert_error(tract_cherry_pick(&r, f->t, p.e, &o), TRACT_EPROVIDER, NULL);
	assert_unchanged(f, &before);
	rs.fail = 0;

	/* DECISIONS.md: "resolved" without text is unresolved */
	rs.action = TRACT_RESOLVE_RESOLVED;
	rs.text = NULL;
	before = snap(f);
	assert_error(tract_cherry_pick(&r, f->t, p.e, &o), TRACT_ECONFLICT,
		     "without a text");
	assert_unchanged(f, &before);

	/* skip: nothing written, no new commit, the issue reported */
	rs.action = TRACT_RESOLVE_SKIP;
	before = snap(f);
	assert_int_equal(tract_cherry_pick(&r, f->t, p.e, &o), 0);
	assert_null(r->new_commit);
	assert_string_equal(r->new_head, p.m);
	assert_int_equal(r->issue_count, 1);
	assert_int_equal(r->issues[0].action, TRACT_RESOLVE_SKIP);
	assert_string_equal(r->issues[0].missing_target, p.x);
	assert_string_equal(r->issues[0].commit, p.e);
	assert_string_equal(r->issues[0].destination, p.m);
	assert_unchanged(f, &before);
	tract_cherry_pick_result_free(r);
	fx_free(f);
}

/* DECISIONS.md: the resolved text re-creates the original content type as
 * an APPEND (the reference made a freeform assistant message). */
static void test_pick_resolved_text_keeps_type(void **state)
{
	pick_fx p;
	fx *f = pick_setup(&p);
	tract_cherry_pick_result *r = NULL;
	tract_cherry_pick_options o = TRACT_CHERRY_PICK_OPTIONS_INIT;
	resolver_state rs;
	cJSON *content, *meta;
	char *json = NULL;

	(void)state;
	memset(&rs, 0, sizeof(rs));
	rs.action = TRACT_RESOLVE_RESOLVED;
	rs.text = "the resolved turn";
	o.resolver = resolver;
	o.resolver_payload = &rs;
	assert_int_equal(tract_cherry_pick(&r, f->t, p.e, &o), 0);
	assert_int_equal(r->issues[0].action, TRACT_RESOLVE_RESOLVED);
	assert_int_equal(tract_commit_operation(r->new_commit), TRACT_OP_APPEND);
	assert_null(tract_commit_response_to(r->new_commit));
	assert_string_equal(tract_commit_content_type(r->new_commit), "dialogue");
	{
		tract_commit *c = lookup(f, tract_commit_hash(r->new_commit));

		content = cJSON_Parse(tract_commit_content(c));
		tract_commit_free(c);
	}
	assert_string_equal(cJSON_GetObjectItem(content, "role")->valuestring, "user");
	assert_string_equal(cJSON_GetObjectItem(content, "text")->valuestring,
			    "the resolved turn");
	cJSON_Delete(content);
	meta = cJSON_Parse(tract_commit_metadata(r->new_commit));
	assert_string_equal(cJSON_GetObjectItem(meta, "original_operation")->valuestring, "EDIT");
	assert_string_equal(cJSON_GetObjectItem(meta, "original_response_to")->valuestring, p.x);
	cJSON_Delete(meta);
	assert_compiled(f, "user: root\nassistant: on main\nuser: the resolved turn\n");
	/* the JSON document */
	assert_int_equal(tract_cherry_pick_result_to_json(&json, r), 0);
	{
		cJSON *doc = cJSON_Parse(json), *is;

		assert_non_null(doc);
		assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "original_commit"),
							"commit_hash")->valuestring,
				    p.e);
		assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "new_commit"),
							"commit_hash")->valuestring,
				    tract_commit_hash(r->new_commit));
		assert_string_equal(cJSON_GetObjectItem(doc, "new_head")->valuestring, r->new_head);
		is = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "issues"), 0);
		assert_string_equal(cJSON_GetObjectItem(is, "issue_type")->valuestring,
				    "edit_target_missing");
		assert_string_equal(cJSON_GetObjectItem(is, "missing_target")->valuestring, p.x);
		assert_string_equal(cJSON_GetObjectItem(is, "target_branch_head")->valuestring,
				    p.m);
		assert_string_equal(cJSON_GetObjectItem(is, "resolution")->valuestring,
				    "resolved");
		cJSON_Delete(doc);
	}
	tract_string_free(json);
	tract_cherry_pick_result_free(r);
	fx_free(f);
}

/* The resolved text goes where each content type keeps its text. */
static void test_pick_resolved_text_other_types(void **state)
{
	fx *f = fx_new(NULL);
	tract_cherry_pick_result *r = NULL;
	tract_cherry_pick_options o = TRACT_CHERRY_PICK_OPTIONS_INIT;
	tract_commit_options eo = TRACT_COMMIT_OPTIONS_INIT;
	resolver_state rs;
	char root[65], x[65], a[65], ea[65], t[65], et[65];

	(void)state;
	fx_say(f, root, "user", "root");
	branch_at(f, "side", root);
	fx_commit(f, a, "{\"content_type\":\"artifact\",\"artifact_type\":\"code\",\"content\":\"x=1\"}",
		  NULL);
	eo.operation = TRACT_OP_EDIT;
	eo.response_to = a;
	fx_commit(f, ea, "{\"content_type\":\"artifact\",\"artifact_type\":\"code\",\"content\":\"x=2\"}",
		  &eo);
	fx_commit(f, t,
		  "{\"content_type\":\"tool_io\",\"tool_name\":\"calc\",\"direction\":\"result\","
		  "\"payload\":{\"v\":1}}",
		  NULL);
	eo.response_to = t;
	fx_commit(f, et,
		  "{\"content_type\":\"tool_io\",\"tool_name\":\"calc\",\"direction\":\"result\","
		  "\"payload\":{\"v\":2}}",
		  &eo);
	fx_say(f, x, "user", "unused");
	switch_to(f, "main");
	memset(&rs, 0, sizeof(rs));
	rs.action = TRACT_RESOLVE_RESOLVED;
	rs.text = "merged";
	o.resolver = resolver;
	o.resolver_payload = &rs;
	assert_int_equal(tract_cherry_pick(&r, f->t, ea, &o), 0);
	assert_string_equal(content_of(f, r->new_commit),
			    "{\"artifact_type\": \"code\", \"content\": \"merged\", \"content_type\": "
			    "\"artifact\", \"language\": null}");
	tract_cherry_pick_result_free(r);
	assert_int_equal(tract_cherry_pick(&r, f->t, et, &o), 0);
	assert_string_equal(tract_commit_content_type(r->new_commit), "tool_io");
	assert_non_null(strstr(content_of(f, r->new_commit), "\"payload\": {\"text\": \"merged\"}"));
	assert_non_null(strstr(content_of(f, r->new_commit), "\"tool_name\": \"calc\""));
	tract_cherry_pick_result_free(r);
	fx_free(f);
}

/* §9 step 2: no commit on the branch (HEAD on an unborn branch). */
static void test_pick_onto_empty_branch(void **state)
{
	pick_fx p;
	fx *f = pick_setup(&p);
	tract_cherry_pick_result *r = NULL;
	char want[200], h[65];

	(void)state;
	switch_to(f, "fresh");
	snprintf(want, sizeof(want),
		 "EDIT commit targets %.12s... but current branch has no commits", p.x);
	assert_error(tract_cherry_pick(&r, f->t, p.e, NULL), TRACT_ECONFLICT, want);
	/* an append starts the branch: a root commit */
	assert_int_equal(tract_cherry_pick(&r, f->t, p.s, NULL), 0);
	assert_null(tract_commit_parent(r->new_commit));
	tip(f, "fresh", h);
	assert_string_equal(h, tract_commit_hash(r->new_commit));
	tract_cherry_pick_result_free(r);
	fx_free(f);
}

/* DECISIONS.md: the latest explicit annotation goes with the copy; the
 * default one is made again by the commit path, not doubled. */
static void test_pick_annotations(void **state)
{
	pick_fx p;
	fx *f = pick_setup(&p);
	tract_cherry_pick_result *r = NULL;
	char ins[65], ins2[65];
	size_t n;

	(void)state;
	annotate(f, p.s, TRACT_PRIORITY_PINNED, "first");
	annotate(f, p.s, TRACT_PRIORITY_SKIP, "hide it");
	assert_int_equal(tract_cherry_pick(&r, f->t, p.s, NULL), 0);
	assert_int_equal(priority_of(f, tract_commit_hash(r->new_commit), &n),
			 TRACT_PRIORITY_SKIP);
	assert_int_equal(n, 1);
	{
		tract_annotation_list *l = NULL;

		assert_int_equal(tract_annotation_list_get(&l, f->t,
							   tract_commit_hash(r->new_commit)),
				 0);
		assert_string_equal(l->items[0].reason, "hide it");
		tract_annotation_list_free(l);
	}
	tract_cherry_pick_result_free(r);
	assert_compiled(f, "user: root\nassistant: on main\n");

	switch_to(f, "side");
	assert_int_equal(tract_commit_create_instruction(NULL, f->t, "be brief", NULL), 0);
	head(f, ins);
	fx_say(f, NULL, "user", "later");
	edit(f, ins2, p.x, "second edit"); /* keeps side's tip off main */
	switch_to(f, "main");
	/* only the default annotation: the copy has its own, once */
	assert_int_equal(tract_cherry_pick(&r, f->t, ins, NULL), 0);
	assert_int_equal(priority_of(f, tract_commit_hash(r->new_commit), &n),
			 TRACT_PRIORITY_PINNED);
	assert_int_equal(n, 1);
	tract_cherry_pick_result_free(r);
	/* an instruction set back to normal stays normal */
	annotate(f, ins, TRACT_PRIORITY_NORMAL, "not pinned");
	assert_int_equal(tract_cherry_pick(&r, f->t, ins, NULL), 0);
	assert_int_equal(priority_of(f, tract_commit_hash(r->new_commit), &n),
			 TRACT_PRIORITY_NORMAL);
	assert_int_equal(n, 2);
	tract_cherry_pick_result_free(r);
	fx_free(f);
}

static int refuse_third(int64_t current, int64_t max, void *payload)
{
	int *calls = payload;

	(void)current;
	(void)max;
	return ++*calls == 3;
}

static int refuse_all(int64_t current, int64_t max, void *payload)
{
	(void)current;
	(void)max;
	(void)payload;
	return 1;
}

/* Budget rules apply to the copy (§13); nothing written on refusal. */
static void test_pick_budget(void **state)
{
	pick_fx p;
	fx *f = pick_setup(&p);
	tract_cherry_pick_result *r = NULL;
	snapshot before = snap(f);

	(void)state;
	assert_int_equal(tract_budget_set(f->t, 0, TRACT_BUDGET_CALLBACK, refuse_all, NULL, 0), 0);
	assert_error(tract_cherry_pick(&r, f->t, p.s, NULL), TRACT_EBUDGET, NULL);
	assert_unchanged(f, &before);
	fx_free(f);
}

/* A merge commit is copied as a plain single-parent commit (§9). */
static void test_pick_merge_commit(void **state)
{
	pick_fx p;
	fx *f = pick_setup(&p);
	tract_cherry_pick_result *r = NULL;
	char mc[65];

	(void)state;
	switch_to(f, "side");
	merge_commit(f, mc, p.m);
	switch_to(f, "main");
	assert_int_equal(tract_cherry_pick(&r, f->t, mc, NULL), 0);
	assert_int_equal(tract_commit_extra_parent_count(r->original), 1);
	{
		tract_commit *c = lookup(f, tract_commit_hash(r->new_commit));

		assert_int_equal(tract_commit_extra_parent_count(c), 0);
		assert_string_equal(tract_commit_parent(c), p.m);
		tract_commit_free(c);
	}
	tract_cherry_pick_result_free(r);
	fx_free(f);
}

static int reg_validator(char **out_json, const char *content_json, char *errbuf, size_t errlen,
			 void *payload)
{
	*out_json = strdup(content_json);
	(void)errbuf;
	(void)errlen;
	(void)payload;
	return 0;
}

/* A commit whose stored content no longer validates (a custom type this
 * handle does not know): the replay error of §9, nothing written. */
static void test_pick_invalid_content(void **state)
{
	pick_fx p;
	fx *f = pick_setup(&p);
	tract_cherry_pick_result *r = NULL;
	tract *other = NULL;
	char c[65], want[200];
	snapshot before;

	(void)state;
	assert_int_equal(tract_open(&other, f->store, f->t->id, NULL), 0);
	assert_int_equal(tract_content_type_register(other, "note", reg_validator, NULL), 0);
	set_ref(f, "HEAD", NULL, "refs/heads/side");
	{
		tract_commit *cm = NULL;

		assert_int_equal(tract_commit_create(&cm, other,
						     "{\"content_type\":\"note\",\"text\":\"n\"}",
						     NULL),
				 0);
		memcpy(c, tract_commit_hash(cm), 65);
		tract_commit_free(cm);
	}
	tract_free(other);
	switch_to(f, "main");
	before = snap(f);
	snprintf(want, sizeof(want), "Cannot replay commit %s: blob ", c);
	assert_error(tract_cherry_pick(&r, f->t, c, NULL), TRACT_EINVAL, want);
	assert_non_null(strstr(tract_error_last()->message, "not found or invalid"));
	assert_unchanged(f, &before);
	fx_free(f);
}

/* A pick that fails before writing (an issue, a refused commit) does not
 * spoil the batch around it. */
static void test_pick_in_batch(void **state)
{
	pick_fx p;
	fx *f = pick_setup(&p);
	tract_cherry_pick_result *r = NULL;
	char extra[65], h[65];

	(void)state;
	assert_int_equal(tract_batch_begin(f->t), 0);
	fx_say(f, extra, "user", "in the batch");
	assert_int_equal(tract_cherry_pick(&r, f->t, p.e, NULL), TRACT_ECONFLICT);
	assert_int_equal(tract_cherry_pick(&r, f->t, p.s, NULL), 0);
	tract_cherry_pick_result_free(r);
	assert_int_equal(tract_batch_commit(f->t), 0);
	assert_compiled(f, "user: root\nassistant: on main\nuser: in the batch\nuser: on side\n");

	head(f, h);
	assert_int_equal(tract_batch_begin(f->t), 0);
	fx_say(f, extra, "user", "lost");
	assert_int_equal(tract_budget_set(f->t, 0, TRACT_BUDGET_CALLBACK, refuse_all, NULL, 0), 0);
	assert_int_equal(tract_cherry_pick(&r, f->t, p.s, NULL), TRACT_EBUDGET);
	assert_int_equal(tract_budget_set(f->t, -1, TRACT_BUDGET_WARN, NULL, NULL, 0), 0);
	/* the refused commit wrote nothing: the batch goes on */
	assert_int_equal(tract_batch_commit(f->t), 0);
	assert_compiled(f, "user: root\nassistant: on main\nuser: in the batch\nuser: on side\n"
			   "user: lost\n");
	fx_free(f);
}

/* ---- rebase -------------------------------------------------------------------------- */

/*
 * main: R "root", M1 "main one", M2 "main two"; feature (from R): F1
 * "feature one" (message, metadata), F2 "feature two". HEAD on feature.
 */
typedef struct {
	char r[65], m1[65], m2[65], f1[65], f2[65];
} rb_fx;

static fx *rb_setup(rb_fx *p)
{
	fx *f = fx_new(NULL);
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;

	fx_say(f, p->r, "user", "root");
	fx_say(f, p->m1, "assistant", "main one");
	fx_say(f, p->m2, "user", "main two");
	branch_at(f, "feature", p->r);
	o.message = "f1 msg";
	o.metadata_json = "{\"step\": 1}";
	fx_commit(f, p->f1,
		  "{\"content_type\":\"dialogue\",\"role\":\"assistant\",\"text\":\"feature one\"}",
		  &o);
	fx_say(f, p->f2, "user", "feature two");
	return f;
}

static void test_rebase_basic(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;
	tract_commit *n1, *n2;
	tract_ref_value orig_head;
	char h[65], *branch = NULL;
	int detached = 1;

	(void)state;
	assert_int_equal(tract_rebase(&r, f->t, "main", NULL), 0);
	assert_int_equal(r->outcome, TRACT_REBASE_REPLAYED);
	assert_string_equal(r->onto, p.m2);
	assert_int_equal(r->original_commits->count, 2);
	assert_int_equal(r->replayed_commits->count, 2);
	assert_int_equal(r->warning_count, 0);
	assert_string_equal(tract_commit_hash(r->original_commits->items[0]), p.f1);
	assert_string_equal(tract_commit_hash(r->original_commits->items[1]), p.f2);
	n1 = r->replayed_commits->items[0];
	n2 = r->replayed_commits->items[1];
	assert_string_equal(tract_commit_parent(n1), p.m2);
	assert_string_equal(tract_commit_parent(n2), tract_commit_hash(n1));
	assert_string_equal(tract_commit_content_hash(n1),
			    tract_commit_content_hash(r->original_commits->items[0]));
	assert_string_equal(tract_commit_message(n1), "f1 msg");
	assert_string_equal(tract_commit_metadata(n1), "{\"step\": 1}");
	assert_string_equal(r->new_head, tract_commit_hash(n2));
	assert_int_equal(tract_head_get(h, &branch, &detached, f->t), 0);
	assert_string_equal(h, r->new_head);
	assert_string_equal(branch, "feature");
	assert_false(detached);
	free(branch);
	tip(f, "main", h);
	assert_string_equal(h, p.m2);
	/* ORIG_HEAD is not touched; the originals stay in the store */
	ref_get(f, "ORIG_HEAD", &orig_head);
	assert_false(orig_head.exists);
	{
		tract_commit *c = lookup(f, p.f2);
		tract_commit_free(c);
	}
	assert_compiled(f, "user: root\nassistant: main one\nuser: main two\nassistant: feature "
			   "one\nuser: feature two\n");
	tract_rebase_result_free(r);
	fx_free(f);
}

/* "the compile of a rebased branch equals the compile of its replayed
 * linear history": the same commits appended one after the other in a
 * fresh tract, edits, answers and annotations included. */
static void test_rebase_compile_equals_linear(void **state)
{
	fx *f = fx_new(NULL), *g = fx_new(NULL);
	tract_rebase_result *r = NULL;
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	char r0[65], m1[65], f1[65], f2[65], f3[65], *a, *b;
	char g0[65], g1[65], g2[65], g3[65];

	(void)state;
	/* the rebased tract */
	assert_int_equal(tract_commit_create_instruction(NULL, f->t, "system rules", NULL), 0);
	head(f, r0);
	fx_say(f, m1, "user", "main question");
	edit(f, NULL, m1, "main question, edited on main");
	branch_at(f, "feature", r0);
	fx_say(f, f1, "assistant", "feature answer");
	fx_say(f, f2, "user", "noise");
	annotate(f, f2, TRACT_PRIORITY_SKIP, NULL);
	o.response_to = f1;
	fx_commit(f, f3, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"reply\"}",
		  &o);
	edit(f, NULL, f1, "feature answer, edited");
	edit(f, NULL, r0, "root edited on feature");
	assert_int_equal(tract_rebase(&r, f->t, "main", NULL), 0);
	assert_int_equal(r->replayed_commits->count, 5);
	/* the answer follows its copy */
	assert_string_equal(tract_commit_response_to(r->replayed_commits->items[2]),
			    tract_commit_hash(r->replayed_commits->items[0]));
	tract_rebase_result_free(r);
	(void)f3;

	/* the same history appended linearly */
	assert_int_equal(tract_commit_create_instruction(NULL, g->t, "system rules", NULL), 0);
	head(g, g0);
	fx_say(g, g1, "user", "main question");
	edit(g, NULL, g1, "main question, edited on main");
	fx_say(g, g2, "assistant", "feature answer");
	fx_say(g, g3, "user", "noise");
	annotate(g, g3, TRACT_PRIORITY_SKIP, NULL);
	o.response_to = g2;
	fx_commit(g, NULL, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"reply\"}", &o);
	edit(g, NULL, g2, "feature answer, edited");
	edit(g, NULL, g0, "root edited on feature");

	a = compiled(f);
	b = compiled(g);
	assert_string_equal(a, b);
	assert_string_equal(a, "user: root edited on feature\nuser: main question, edited on "
			       "main\nuser: feature answer, edited\nuser: reply\n");
	{
		tract_context *ca = fx_compile(f, NULL), *cb = fx_compile(g, NULL);

		assert_int_equal(tract_context_token_count(ca), tract_context_token_count(cb));
		tract_context_free(ca);
		tract_context_free(cb);
	}
	free(a);
	free(b);
	fx_free(f);
	fx_free(g);
}

/* DECISIONS.md (the reference left the edit on the old target, so the
 * compiled text reverted to "feature only"). */
static void test_rebase_retargets_edits(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;
	char e[65];

	(void)state;
	edit(f, e, p.f1, "edited feature only");
	assert_int_equal(tract_rebase(&r, f->t, "main", NULL), 0);
	assert_int_equal(r->warning_count, 0);
	assert_int_equal(r->replayed_commits->count, 3);
	assert_int_equal(tract_commit_operation(r->replayed_commits->items[2]), TRACT_OP_EDIT);
	assert_string_equal(tract_commit_response_to(r->replayed_commits->items[2]),
			    tract_commit_hash(r->replayed_commits->items[0]));
	assert_compiled(f, "user: root\nassistant: main one\nuser: main two\nuser: edited "
			   "feature only\nuser: feature two\n");
	tract_rebase_result_free(r);
	fx_free(f);
}

/* DECISIONS.md: a SKIPped message stays skipped (the reference lost it). */
static void test_rebase_keeps_annotations(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;
	size_t n;

	(void)state;
	annotate(f, p.f1, TRACT_PRIORITY_SKIP, "hidden");
	assert_int_equal(tract_rebase(&r, f->t, "main", NULL), 0);
	assert_int_equal(priority_of(f, tract_commit_hash(r->replayed_commits->items[0]), &n),
			 TRACT_PRIORITY_SKIP);
	assert_int_equal(n, 1);
	assert_int_equal(priority_of(f, tract_commit_hash(r->replayed_commits->items[1]), &n),
			 TRACT_PRIORITY_NONE);
	assert_compiled(f, "user: root\nassistant: main one\nuser: main two\nuser: feature two\n");
	tract_rebase_result_free(r);
	fx_free(f);
}

/* DECISIONS.md: a branch strictly behind fast-forwards (the reference left
 * it unchanged). */
static void test_rebase_fast_forward(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;
	snapshot before;
	char h[65];

	(void)state;
	branch_at(f, "behind", p.m1);
	before = snap(f);
	assert_int_equal(tract_rebase(&r, f->t, "main", NULL), 0);
	assert_int_equal(r->outcome, TRACT_REBASE_FAST_FORWARD);
	assert_int_equal(r->replayed_commits->count, 0);
	assert_int_equal(r->original_commits->count, 0);
	assert_string_equal(r->new_head, p.m2);
	tip(f, "behind", h);
	assert_string_equal(h, p.m2);
	head(f, h);
	assert_string_equal(h, p.m2);
	/* no row written, only the branch moved */
	{
		snapshot now = snap(f);

		fx_assert_same_counts(before.counts, now.counts);
		assert_string_not_equal(before.refs, now.refs);
		free(now.refs);
		free(before.refs);
	}
	tract_rebase_result_free(r);
	fx_free(f);
}

static void test_rebase_up_to_date(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;
	snapshot before = snap(f);
	char *json = NULL;

	(void)state;
	/* onto the head itself, onto an ancestor, onto HEAD */
	assert_int_equal(tract_rebase(&r, f->t, "feature", NULL), 0);
	assert_int_equal(r->outcome, TRACT_REBASE_UP_TO_DATE);
	assert_string_equal(r->new_head, p.f2);
	assert_int_equal(r->replayed_commits->count, 0);
	assert_int_equal(tract_rebase_result_to_json(&json, r), 0);
	assert_non_null(strstr(json, "\"outcome\": \"up_to_date\""));
	assert_non_null(strstr(json, "\"replayed_commits\": []"));
	tract_string_free(json);
	tract_rebase_result_free(r);
	assert_int_equal(tract_rebase(&r, f->t, p.f1, NULL), 0);
	assert_int_equal(r->outcome, TRACT_REBASE_UP_TO_DATE);
	tract_rebase_result_free(r);
	assert_int_equal(tract_rebase(&r, f->t, "HEAD", NULL), 0);
	assert_int_equal(r->outcome, TRACT_REBASE_UP_TO_DATE);
	tract_rebase_result_free(r);
	assert_unchanged(f, &before);
	assert_string_equal(tract_rebase_outcome_name(TRACT_REBASE_FAST_FORWARD), "fast_forward");
	assert_string_equal(tract_rebase_outcome_name(TRACT_REBASE_REPLAYED), "replayed");
	fx_free(f);
}

/* ---- refused calls, both operations: one table ---------------------------------- */

typedef enum { OP_PICK, OP_REBASE } replay_op;
typedef enum { ON_BRANCH, DETACHED, UNBORN } head_state;

typedef struct {
	replay_op op;
	head_state head;    /* DETACHED: at main's M (pick) or feature's F2 (rebase) */
	const char *target; /* NULL with fx_target: the fixture's S (pick) */
	int fx_target;
	int no_out, no_tract;
	unsigned version;   /* options with this version, 0 = no options */
	int code;
	const char *message; /* in the error's message (NULL = not checked) */
	int exact;           /* the message is exactly that */
	int out_null;        /* *out is set to NULL */
} refused_case;

static const refused_case refused_cases[] = {
	{OP_PICK, ON_BRANCH, "nope", 0, 0, 0, 0, TRACT_ENOTFOUND, "Commit not found: nope", 0, 1},
	{OP_PICK, ON_BRANCH, "abc", 0, 0, 0, 0, TRACT_ENOTFOUND, NULL, 0, 0},
	{OP_PICK, ON_BRANCH, NULL, 1, 1, 0, 0, TRACT_EINVAL, NULL, 0, 0},
	{OP_PICK, ON_BRANCH, NULL, 0, 0, 0, 0, TRACT_EINVAL, NULL, 0, 0},
	{OP_PICK, ON_BRANCH, NULL, 1, 0, 0, 99, TRACT_EINVAL, NULL, 0, 0},
	/* DECISIONS.md: cherry-pick is refused in detached HEAD, like commit */
	{OP_PICK, DETACHED, NULL, 1, 0, 0, 0, TRACT_EDETACHED,
	 "Cannot cherry-pick in detached HEAD state", 0, 0},
	{OP_REBASE, ON_BRANCH, "nope", 0, 0, 0, 0, TRACT_ENOTFOUND, "Branch not found: nope", 1, 1},
	{OP_REBASE, ON_BRANCH, "", 0, 0, 0, 0, TRACT_EINVAL, NULL, 0, 0},
	{OP_REBASE, ON_BRANCH, "main", 0, 0, 1, 0, TRACT_EINVAL, NULL, 0, 0},
	{OP_REBASE, ON_BRANCH, "main", 0, 0, 0, 7, TRACT_EINVAL, NULL, 0, 0},
	{OP_REBASE, DETACHED, "main", 0, 0, 0, 0, TRACT_EDETACHED,
	 "Cannot rebase in detached HEAD state", 0, 0},
	/* no commit on the branch */
	{OP_REBASE, UNBORN, "main", 0, 0, 0, 0, TRACT_ENOTFOUND,
	 "Cannot rebase: no commits on current branch", 0, 0},
};

/* Each refused call: its code and message, nothing written. */
static void test_replay_refused(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused_cases) / sizeof(refused_cases[0]); i++) {
		const refused_case *c = &refused_cases[i];
		pick_fx pp;
		rb_fx rp;
		fx *f = c->op == OP_PICK ? pick_setup(&pp) : rb_setup(&rp);
		const char *target = c->fx_target ? pp.s : c->target;
		void *r = (void *)1;
		snapshot before;
		int rc;

		if (c->head == DETACHED)
			set_ref(f, "HEAD", c->op == OP_PICK ? pp.m : rp.f2, NULL);
		else if (c->head == UNBORN)
			switch_to(f, "unborn");
		before = snap(f);
		if (c->op == OP_PICK) {
			tract_cherry_pick_options o = TRACT_CHERRY_PICK_OPTIONS_INIT;
			o.version = c->version;
			rc = tract_cherry_pick(c->no_out ? NULL : (tract_cherry_pick_result **)&r,
					       c->no_tract ? NULL : f->t, target,
					       c->version ? &o : NULL);
		} else {
			tract_rebase_options o = TRACT_REBASE_OPTIONS_INIT;
			o.version = c->version;
			rc = tract_rebase(c->no_out ? NULL : (tract_rebase_result **)&r,
					  c->no_tract ? NULL : f->t, target, c->version ? &o : NULL);
		}
		if (rc != c->code)
			fail_msg("case %zu: %d, want %d (%s)", i, rc, c->code,
				 tract_error_last()->message);
		assert_error(rc, c->code, c->message);
		if (c->exact)
			assert_string_equal(tract_error_last()->message, c->message);
		if (c->out_null)
			assert_null(r);
		assert_unchanged(f, &before);
		fx_free(f);
	}
}

static void test_replay_options_init(void **state)
{
	tract_cherry_pick_options po;
	tract_rebase_options ro;

	(void)state;
	assert_int_equal(tract_cherry_pick_options_init(&po, TRACT_CHERRY_PICK_OPTIONS_VERSION), 0);
	assert_null(po.resolver);
	assert_int_equal(tract_cherry_pick_options_init(&po, 0), TRACT_EINVAL);
	assert_int_equal(tract_rebase_options_init(&ro, TRACT_REBASE_OPTIONS_VERSION), 0);
	assert_int_equal(tract_rebase_options_init(&ro, 2), TRACT_EINVAL);
}

/* §10 step 7: a merge commit in the range is refused, nothing written. */
static void test_rebase_merge_commits(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;
	snapshot before;
	char side[65], mc[65];

	(void)state;
	branch_at(f, "side", p.f1);
	fx_say(f, side, "user", "side");
	switch_to(f, "feature");
	merge_commit(f, mc, side);
	before = snap(f);
	assert_error(tract_rebase(&r, f->t, "main", NULL), TRACT_EINVAL,
		     "Cannot rebase branch containing merge commits");
	assert_unchanged(f, &before);
	fx_free(f);
}

/* §10 step 8: an edit of a commit on neither side. */
static void test_rebase_warnings(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;
	tract_rebase_options o = TRACT_REBASE_OPTIONS_INIT;
	resolver_state rs;
	snapshot before;
	char x[65], e[65], ok[65], want[300];

	(void)state;
	branch_at(f, "other", p.r);
	fx_say(f, x, "user", "elsewhere");
	switch_to(f, "feature");
	edit(f, e, x, "edit of elsewhere");
	/* an edit of a commit behind the target is fine: no warning */
	edit(f, ok, p.r, "root edited");
	before = snap(f);
	snprintf(want, sizeof(want),
		 "Rebase has 1 semantic safety warning(s): EDIT commit targets %.12s... which "
		 "does not exist on target branch 'main'",
		 x);
	assert_error(tract_rebase(&r, f->t, "main", NULL), TRACT_ECONFLICT, want);
	assert_string_equal(tract_error_last()->message, want);
	assert_unchanged(f, &before);

	memset(&rs, 0, sizeof(rs));
	o.resolver = resolver;
	o.resolver_payload = &rs;
	rs.action = TRACT_RESOLVE_ABORT;
	rs.reasoning = "unsafe";
	before = snap(f);
	assert_error(tract_rebase(&r, f->t, "main", &o), TRACT_EABORTED,
		     "Resolver aborted rebase: unsafe");
	assert_unchanged(f, &before);
	assert_int_equal(rs.calls, 1);
	assert_string_equal(rs.operation, "rebase");
	assert_string_equal(rs.key, e);
	assert_string_equal(rs.target, x);
	assert_string_equal(rs.commit_a, p.m2);
	assert_string_equal(rs.branch_a, "main");
	assert_string_equal(rs.branch_b, "feature");
	assert_string_equal(rs.text_b, "edit of elsewhere");

	rs.action = TRACT_RESOLVE_RESOLVED;
	rs.text = NULL;
	before = snap(f);
	assert_error(tract_rebase(&r, f->t, "main", &o), TRACT_ECONFLICT, "without a text");
	assert_unchanged(f, &before);

	/* skip accepts the warning: the edit is replayed as it is */
	rs.action = TRACT_RESOLVE_SKIP;
	assert_int_equal(tract_rebase(&r, f->t, "main", &o), 0);
	assert_int_equal(r->warning_count, 1);
	assert_int_equal(r->warnings[0].action, TRACT_RESOLVE_SKIP);
	assert_string_equal(r->warnings[0].destination, p.m2);
	assert_string_equal(r->warnings[0].commit, e);
	assert_int_equal(r->replayed_commits->count, 4);
	assert_int_equal(tract_commit_operation(r->replayed_commits->items[2]), TRACT_OP_EDIT);
	assert_string_equal(tract_commit_response_to(r->replayed_commits->items[2]), x);
	assert_string_equal(tract_commit_response_to(r->replayed_commits->items[3]), p.r);
	{
		char *json = NULL;

		assert_int_equal(tract_rebase_result_to_json(&json, r), 0);
		assert_non_null(strstr(json, "\"resolution\": \"skip\""));
		assert_non_null(strstr(json, "\"new_base\": \""));
		assert_non_null(strstr(json, "\"outcome\": \"replayed\""));
		tract_string_free(json);
	}
	tract_rebase_result_free(r);
	assert_compiled(f, "user: root edited\nassistant: main one\nuser: main two\nassistant: "
			   "feature one\nuser: feature two\n");
	fx_free(f);
}

/* TRACT_REBASE_CHECK_ONLY: what a rebase would do, every warning listed,
 * nothing written, no resolver called. */
static void test_rebase_check_only(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;
	tract_rebase_options o = TRACT_REBASE_OPTIONS_INIT;
	resolver_state rs;
	snapshot before;
	char x[65], h[65];

	(void)state;
	branch_at(f, "other", p.r);
	fx_say(f, x, "user", "elsewhere");
	switch_to(f, "feature");
	for (int i = 0; i < 30; i++)
		edit(f, NULL, x, "stray");
	memset(&rs, 0, sizeof(rs));
	rs.action = TRACT_RESOLVE_ABORT;
	o.resolver = resolver;
	o.resolver_payload = &rs;
	o.flags = TRACT_REBASE_CHECK_ONLY;
	before = snap(f);
	assert_int_equal(tract_rebase(&r, f->t, "main", &o), 0);
	assert_int_equal(r->outcome, TRACT_REBASE_REPLAYED);
	assert_int_equal(r->warning_count, 30);
	assert_int_equal(r->warnings[29].action, -1);
	assert_int_equal(r->original_commits->count, 32);
	assert_int_equal(r->replayed_commits->count, 0);
	assert_string_equal(r->new_head, tract_commit_hash(r->original_commits->items[31]));
	assert_string_equal(r->onto, p.m2);
	assert_int_equal(rs.calls, 0);
	tract_rebase_result_free(r);
	assert_unchanged(f, &before);
	/* the error message of the real one is cut, the check lists them all */
	o.flags = 0;
	o.resolver = NULL;
	assert_error(tract_rebase(&r, f->t, "main", &o), TRACT_ECONFLICT,
		     "Rebase has 30 semantic safety warning(s): ");
	assert_true(strlen(tract_error_last()->message) < 30 * 90);
	/* a fast-forward is only announced */
	branch_at(f, "behind", p.m1);
	o.flags = TRACT_REBASE_CHECK_ONLY;
	before = snap(f);
	assert_int_equal(tract_rebase(&r, f->t, "main", &o), 0);
	assert_int_equal(r->outcome, TRACT_REBASE_FAST_FORWARD);
	assert_string_equal(r->new_head, p.m1);
	tract_rebase_result_free(r);
	assert_unchanged(f, &before);
	tip(f, "behind", h);
	assert_string_equal(h, p.m1);
	o.flags = 0x10;
	assert_error(tract_rebase(&r, f->t, "main", &o), TRACT_EINVAL, "unknown flags");
	fx_free(f);
}

static void test_rebase_resolved_text(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;
	tract_rebase_options o = TRACT_REBASE_OPTIONS_INIT;
	resolver_state rs;
	char x[65];

	(void)state;
	branch_at(f, "other", p.r);
	fx_say(f, x, "user", "elsewhere");
	switch_to(f, "feature");
	edit(f, NULL, x, "edit of elsewhere");
	memset(&rs, 0, sizeof(rs));
	rs.action = TRACT_RESOLVE_RESOLVED;
	rs.text = "kept as a turn";
	o.resolver = resolver;
	o.resolver_payload = &rs;
	assert_int_equal(tract_rebase(&r, f->t, "main", &o), 0);
	assert_int_equal(tract_commit_operation(r->replayed_commits->items[2]), TRACT_OP_APPEND);
	assert_string_equal(tract_commit_content_type(r->replayed_commits->items[2]), "dialogue");
	assert_compiled(f, "user: root\nassistant: main one\nuser: main two\nassistant: feature "
			   "one\nuser: feature two\nuser: kept as a turn\n");
	tract_rebase_result_free(r);
	fx_free(f);
}

/* One transaction: a budget refusal on the third replayed commit leaves
 * every ref and row as it was (the reference kept the first two). */
static void test_rebase_failure_midway(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;
	snapshot before;
	int calls = 0;
	char h[65];

	(void)state;
	fx_say(f, NULL, "assistant", "feature three");
	fx_say(f, NULL, "user", "feature four");
	before = snap(f);
	assert_int_equal(tract_budget_set(f->t, 0, TRACT_BUDGET_CALLBACK, refuse_third, &calls, 0),
			 0);
	assert_error(tract_rebase(&r, f->t, "main", NULL), TRACT_EBUDGET, NULL);
	assert_int_equal(calls, 3);
	assert_null(r);
	assert_unchanged(f, &before);
	assert_int_equal(tract_budget_set(f->t, -1, TRACT_BUDGET_WARN, NULL, NULL, 0), 0);
	/* the cache did not keep the rolled-back snapshots: compile is right */
	assert_compiled(f, "user: root\nassistant: feature one\nuser: feature two\nassistant: "
			   "feature three\nuser: feature four\n");
	/* inside a batch, a rebase that fails after writing spoils the batch */
	assert_int_equal(tract_batch_begin(f->t), 0);
	fx_say(f, NULL, "user", "in the batch");
	calls = 0;
	assert_int_equal(tract_budget_set(f->t, 0, TRACT_BUDGET_CALLBACK, refuse_third, &calls, 0),
			 0);
	assert_error(tract_rebase(&r, f->t, "main", NULL), TRACT_EBUDGET, NULL);
	assert_int_equal(tract_budget_set(f->t, -1, TRACT_BUDGET_WARN, NULL, NULL, 0), 0);
	assert_error(tract_batch_commit(f->t), TRACT_ERROR, "batch rolled back");
	before = snap(f);
	free(before.refs);
	assert_compiled(f, "user: root\nassistant: feature one\nuser: feature two\nassistant: "
			   "feature three\nuser: feature four\n");
	/* and the rebase then succeeds */
	assert_int_equal(tract_rebase(&r, f->t, "main", NULL), 0);
	assert_int_equal(r->replayed_commits->count, 4);
	head(f, h);
	assert_string_equal(h, r->new_head);
	tract_rebase_result_free(r);
	fx_free(f);
}

/* After rebasing feature onto main, main is an ancestor of feature:
 * merging feature into main is a fast-forward (§10). */
static void test_rebase_then_merge_is_fast_forward(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;
	char mt[65], base[65];
	int anc = 0;

	(void)state;
	assert_int_equal(tract_rebase(&r, f->t, "main", NULL), 0);
	tip(f, "main", mt);
	assert_int_equal(tract_dag_is_ancestor(&anc, f->store, f->t->id, mt, r->new_head), 0);
	assert_true(anc);
	assert_int_equal(tract_dag_merge_base(base, f->store, f->t->id, mt, r->new_head), 0);
	assert_string_equal(base, mt);
	tract_rebase_result_free(r);
	/* rebasing main onto feature now fast-forwards main */
	switch_to(f, "main");
	assert_int_equal(tract_rebase(&r, f->t, "feature", NULL), 0);
	assert_int_equal(r->outcome, TRACT_REBASE_FAST_FORWARD);
	tract_rebase_result_free(r);
	fx_free(f);
}

/* Unrelated histories: every commit of the branch is replayed. */
static void test_rebase_unrelated(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;

	(void)state;
	switch_to(f, "orphan");
	fx_say(f, NULL, "user", "o1");
	fx_say(f, NULL, "user", "o2");
	assert_int_equal(tract_rebase(&r, f->t, "main", NULL), 0);
	assert_int_equal(r->replayed_commits->count, 2);
	assert_string_equal(tract_commit_parent(r->replayed_commits->items[0]), p.m2);
	assert_compiled(f, "user: root\nassistant: main one\nuser: main two\nuser: o1\nuser: o2\n");
	tract_rebase_result_free(r);
	fx_free(f);
}

/* onto may be any revision, and a second tract's refs are left alone. */
static void test_rebase_onto_revision_and_other_tract(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;
	tract *other = NULL;
	char prefix[9];

	(void)state;
	assert_int_equal(tract_create(&other, f->store, NULL, NULL, NULL), 0);
	assert_int_equal(tract_commit_create_instruction(NULL, other, "other tract", NULL), 0);
	memcpy(prefix, p.m1, 8);
	prefix[8] = '\0';
	{
		snapshot before = snap(f);

		assert_int_equal(tract_rebase(&r, f->t, prefix, NULL), 0);
		assert_string_equal(r->onto, p.m1);
		assert_string_equal(tract_commit_parent(r->replayed_commits->items[0]), p.m1);
		tract_rebase_result_free(r);
		/* only feature's ref changed; the other tract's HEAD and main too */
		{
			snapshot now = snap(f);
			char *a = before.refs, *b = now.refs, *la, *lb;
			int diff = 0;

			while ((la = strsep(&a, "\n")) && (lb = strsep(&b, "\n")))
				if (strcmp(la, lb) != 0) {
					diff++;
					assert_non_null(strstr(la, "refs/heads/feature"));
				}
			assert_int_equal(diff, 1);
			free(before.refs);
			free(now.refs);
		}
	}
	tract_free(other);
	fx_free(f);
}

/* §9 "Replay": a commit whose blob is gone (SQLite: the row deleted with
 * the foreign keys off) cannot be replayed, by either operation; nothing
 * is written. */
static void test_replay_blob_missing(void **state)
{
	rb_fx p;
	fx *f = rb_setup(&p);
	tract_rebase_result *r = NULL;
	tract_cherry_pick_result *cp = NULL;
	tract_commit *c = lookup(f, p.f1);
	char path[700], sql[300], want[300];
	snapshot before;
	sqlite3 *db;

	(void)state;
	snprintf(path, sizeof(path), "%s/t.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql),
		 "PRAGMA foreign_keys = OFF; DELETE FROM blobs WHERE content_hash = '%s';",
		 tract_commit_content_hash(c));
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	tract_cache_clear(f->t->cache);
	before = snap(f);
	snprintf(want, sizeof(want), "Cannot replay commit %s: blob %s not found or invalid", p.f1,
		 tract_commit_content_hash(c));
	assert_error(tract_rebase(&r, f->t, "main", NULL), TRACT_ECORRUPT, want);
	assert_string_equal(tract_error_last()->message, want);
	assert_unchanged(f, &before);
	switch_to(f, "main");
	before = snap(f);
	assert_error(tract_cherry_pick(&cp, f->t, p.f1, NULL), TRACT_ECORRUPT, want);
	assert_unchanged(f, &before);
	tract_commit_free(c);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_skipped_cache),
		cmocka_unit_test(test_pick_append),
		cmocka_unit_test(test_pick_edit_target_present),
		cmocka_unit_test(test_pick_edit_target_missing),
		cmocka_unit_test(test_pick_resolved_text_keeps_type),
		cmocka_unit_test(test_pick_resolved_text_other_types),
		cmocka_unit_test(test_pick_onto_empty_branch),
		cmocka_unit_test(test_pick_annotations),
		cmocka_unit_test(test_pick_budget),
		cmocka_unit_test(test_pick_merge_commit),
		cmocka_unit_test(test_pick_invalid_content),
		cmocka_unit_test(test_pick_in_batch),
		cmocka_unit_test(test_rebase_basic),
		cmocka_unit_test(test_rebase_compile_equals_linear),
		cmocka_unit_test(test_rebase_retargets_edits),
		cmocka_unit_test(test_rebase_keeps_annotations),
		cmocka_unit_test(test_rebase_fast_forward),
		cmocka_unit_test(test_rebase_up_to_date),
		cmocka_unit_test(test_replay_refused),
		cmocka_unit_test(test_replay_options_init),
		cmocka_unit_test(test_rebase_merge_commits),
		cmocka_unit_test(test_rebase_warnings),
		cmocka_unit_test(test_rebase_check_only),
		cmocka_unit_test(test_rebase_resolved_text),
		cmocka_unit_test(test_rebase_failure_midway),
		cmocka_unit_test(test_rebase_then_merge_is_fast_forward),
		cmocka_unit_test(test_rebase_unrelated),
		cmocka_unit_test(test_rebase_onto_revision_and_other_tract),
	};
	const struct CMUnitTest sqlite_only[] = {
		cmocka_unit_test(test_replay_blob_missing),
	};
	int rc = ts_init("replay");

	if (rc)
		return rc;
	return ts_run("replay", tests, TS_COUNT(tests), sqlite_only, TS_COUNT(sqlite_only));
}
