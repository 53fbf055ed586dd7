/*
 * clone_stores.c - stores the clone tests build: one with every kind of row
 * (merges, edits, annotations, branches, a detached HEAD, spawn pointers,
 * compression records, metadata) and one whose commits come before their
 * parents in the source's order.
 */
#include "clone_test.h"

/* ------------------------------------------------------------------ */
/* stores built here                                                   */
/* ------------------------------------------------------------------ */

void say(char out[65], tract *t, const char *role, const char *text)
{
	tract_commit *c = NULL;

	CHECK_OK(tract_commit_create_dialogue(&c, t, role, text, NULL, NULL));
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static void commit_json(char out[65], tract *t, const char *json, const tract_commit_options *o)
{
	tract_commit *c = NULL;

	CHECK_OK(tract_commit_create(&c, t, json, o));
	if (out)
		memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
}

static void set_ref(tract_store *s, const char *id, const char *name, const char *commit,
		    const char *symbolic, const tract_ref_row *expected)
{
	CHECK_OK(s->be->begin(s->conn, TRACT_TXN_WRITE));
	CHECK_OK(s->be->ref_cas(s->conn, id, name, commit, symbolic, expected));
	CHECK_OK(s->be->commit(s->conn));
}

/* The row of commit hash (strings borrowed until the next call). */
typedef struct {
	char content_hash[65];
	char content_type[64];
	int64_t tokens;
} commit_facts;

static int facts_cb(const tract_commit_row *r, void *p)
{
	commit_facts *f = p;

	snprintf(f->content_hash, sizeof(f->content_hash), "%s", r->content_hash);
	snprintf(f->content_type, sizeof(f->content_type), "%s", r->content_type);
	f->tokens = r->token_count;
	return 0;
}

static void facts(commit_facts *out, tract_store *s, const char *hash)
{
	CHECK_OK(s->be->begin(s->conn, TRACT_TXN_READ));
	CHECK_OK(s->be->commit_get(s->conn, NULL, hash, facts_cb, out));
	CHECK_OK(s->be->commit(s->conn));
}

/* Insert a commit row with its correct hash (extra: a merge's second
 * parent or NULL) inside an open write transaction. */
static void put_row(char out[65], tract_store *s, const char *tract_id, const char *parent,
		    const commit_facts *f, tract_operation op, const char *response_to,
		    const char *message, tract_time when, const char *extra)
{
	tract_commit_hash_input in;
	tract_commit_row row;
	const char *extras[1] = {extra};

	memset(&in, 0, sizeof(in));
	in.content_hash = f->content_hash;
	in.parent_hash = parent;
	in.content_type = f->content_type;
	in.operation = op;
	in.response_to = response_to;
	in.created_at = when;
	in.extra_parents = extra ? extras : NULL;
	in.n_extra = extra ? 1 : 0;
	CHECK_OK(tract_commit_hash_compute(out, &in));
	memset(&row, 0, sizeof(row));
	row.commit_hash = out;
	row.tract_id = tract_id;
	row.parent_hash = parent;
	row.content_hash = f->content_hash;
	row.content_type = f->content_type;
	row.operation = op;
	row.response_to = response_to;
	row.message = message;
	row.token_count = f->tokens;
	row.created_at = when;
	CHECK_OK(s->be->commit_put(s->conn, &row));
	if (extra) {
		CHECK_OK(s->be->parent_put(s->conn, out, parent, 0));
		CHECK_OK(s->be->parent_put(s->conn, out, extra, 1));
	}
}

/*
 * Eight tracts: one with an instruction, turns, a branch merged back with
 * a merge commit, an edit, annotations, metadata, a generation config and
 * a persisted budget; one with a detached HEAD and extra refs; five small
 * ones with display names; one created without commits. Plus two spawn
 * pointers, two compression records and a custom metadata key.
 */
void rich_store(const char *uri)
{
	static const tract_ref_row on_main = {NULL, NULL, NULL, "refs/heads/main"};
	static const tract_ref_row on_feature = {NULL, NULL, NULL, "refs/heads/feature"};
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_store *s;
	tract *t[8];
	char m1[65], m2[65], f1[65], c1[65], c2[65], merge[65], e1[65], d[4][65], h[65];
	char name[32];
	commit_facts cf;
	tract_ref_row exp;
	int i, k;

	CHECK_OK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK_OK(tract_create(&t[0], s, "planner", "Trip planner", NULL));
	CHECK_OK(tract_commit_create_instruction(NULL, t[0], "You plan trips.", NULL));
	commit_json(m1, t[0], "{\"content_type\":\"instruction\",\"text\":\"Be brief.\"}", NULL);
	o.metadata_json = "{\"source\":\"web\",\"n\":3}";
	commit_json(m2, t[0],
		    "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"Lisbon?\","
		    "\"name\":\"ana\"}",
		    &o);
	/* Branch feature at m1, one commit on it, back to main. */
	set_ref(s, "planner", "refs/heads/feature", m1, NULL, NULL);
	set_ref(s, "planner", "HEAD", NULL, "refs/heads/feature", &on_main);
	say(f1, t[0], "assistant", "Feature idea: trams.");
	set_ref(s, "planner", "HEAD", NULL, "refs/heads/main", &on_feature);
	o = (tract_commit_options)TRACT_COMMIT_OPTIONS_INIT;
	o.generation_config_json = "{\"temperature\":0.7,\"model\":\"m\"}";
	o.response_to = m2;
	commit_json(c1, t[0], "{\"content_type\":\"dialogue\",\"role\":\"assistant\",\"text\":\"Go.\"}",
		    &o);
	commit_json(c2, t[0], "{\"content_type\":\"freeform\",\"payload\":{\"merge\":\"feature\"}}",
		    NULL);
	/* A merge commit (parent_hashes form) of main and feature. */
	facts(&cf, s, c2);
	CHECK_OK(s->be->begin(s->conn, TRACT_TXN_WRITE));
	put_row(merge, s, "planner", c2, &cf, TRACT_OP_APPEND, NULL, "Merge branch 'feature'",
		tract_time_now(), f1);
	memset(&exp, 0, sizeof(exp));
	exp.commit_hash = c2;
	CHECK_OK(s->be->ref_cas(s->conn, "planner", "refs/heads/main", merge, NULL, &exp));
	CHECK_OK(s->be->commit(s->conn));
	say(NULL, t[0], "user", "After the merge.");
	o = (tract_commit_options)TRACT_COMMIT_OPTIONS_INIT;
	o.operation = TRACT_OP_EDIT;
	o.response_to = c1;
	o.message = "fix the answer";
	commit_json(e1, t[0],
		    "{\"content_type\":\"dialogue\",\"role\":\"assistant\",\"text\":\"Go in May.\"}",
		    &o);
	CHECK_OK(tract_annotation_create(NULL, t[0], m2, TRACT_PRIORITY_SKIP, "noise"));
	CHECK_OK(tract_annotation_create(NULL, t[0], m2, TRACT_PRIORITY_NORMAL, NULL));
	CHECK_OK(tract_annotation_create(NULL, t[0], m1, TRACT_PRIORITY_PINNED, "keep"));
	CHECK_OK(tract_budget_set(t[0], 5000, TRACT_BUDGET_WARN, NULL, NULL, 1));

	/* Detached HEAD at the second of four commits, ORIG_HEAD, PREV_BRANCH. */
	CHECK_OK(tract_create(&t[1], s, "detached", NULL, NULL));
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "turn %d", i);
		say(d[i], t[1], i % 2 ? "assistant" : "user", name);
	}
	set_ref(s, "detached", "HEAD", d[1], NULL, &on_main);
	set_ref(s, "detached", "ORIG_HEAD", d[3], NULL, NULL);
	set_ref(s, "detached", "PREV_BRANCH", NULL, "refs/heads/main", NULL);
	CHECK_OK(tract_annotation_create(NULL, t[1], d[2], TRACT_PRIORITY_SKIP, NULL));

	/* Small tracts with display names, one of each content type. */
	for (k = 2; k < 7; k++) {
		char id[16], disp[32];
		snprintf(id, sizeof(id), "small-%d", k);
		snprintf(disp, sizeof(disp), "Small %d", k);
		CHECK_OK(tract_create(&t[k], s, id, disp, NULL));
		commit_json(NULL, t[k], "{\"content_type\":\"instruction\",\"text\":\"sys\"}", NULL);
		commit_json(NULL, t[k],
			    "{\"content_type\":\"tool_io\",\"tool_name\":\"calc\",\"direction\":"
			    "\"call\",\"payload\":{\"x\":1}}",
			    NULL);
		commit_json(NULL, t[k],
			    "{\"content_type\":\"tool_io\",\"tool_name\":\"calc\",\"direction\":"
			    "\"result\",\"status\":\"success\",\"payload\":{\"y\":2.5}}",
			    NULL);
		commit_json(NULL, t[k], "{\"content_type\":\"reasoning\",\"text\":\"hmm\"}", NULL);
		snprintf(name, sizeof(name), "answer %d \xc3\xa9", k);
		say(h, t[k], "assistant", name);
	}
	/* A tract created without commits: only its metadata. */
	CHECK_OK(tract_create(&t[7], s, "empty", "Nothing yet", NULL));

	CHECK_OK(s->be->begin(s->conn, TRACT_TXN_WRITE));
	{
		tract_spawn_row sp = {0, "planner", m2, "small-2", "find trams", "head_snapshot",
				      "tram scout", tract_time_now()};
		tract_spawn_row sp2 = {0, "planner", NULL, "small-3", "draft", "full_clone", NULL,
				       tract_time_now()};
		tract_compression_row cr = {"cmp-1", "planner", "main", tract_time_now(), 120, 40,
					    50, "keep the facts"};
		tract_compression_row cr2 = {"cmp-2", "detached", NULL, tract_time_now(), 10, 5,
					     -1, NULL};
		CHECK_OK(s->be->spawn_put(s->conn, &sp, NULL));
		CHECK_OK(s->be->spawn_put(s->conn, &sp2, NULL));
		CHECK_OK(s->be->compression_put(s->conn, &cr));
		CHECK_OK(s->be->compression_member_put(s->conn, TRACT_COMPRESSION_SOURCES, "cmp-1",
						       m1, 0));
		CHECK_OK(s->be->compression_member_put(s->conn, TRACT_COMPRESSION_SOURCES, "cmp-1",
						       m2, 1));
		CHECK_OK(s->be->compression_member_put(s->conn, TRACT_COMPRESSION_RESULTS, "cmp-1",
						       c1, 0));
		CHECK_OK(s->be->compression_put(s->conn, &cr2));
		CHECK_OK(s->be->meta_set(s->conn, "custom:flag", "on"));
	}
	CHECK_OK(s->be->commit(s->conn));
	for (k = 0; k < 8; k++)
		tract_free(t[k]);
	tract_store_free(s);
}

/*
 * A tract "skewed" of n commits whose timestamps run backwards (each child
 * older than its parent, as after clock skew), ending with an edit older
 * than all of them, plus the tract "scratch" whose commits made the blobs.
 */
void skewed_store(const char *uri, int n)
{
	tract_store *s;
	tract *t;
	commit_facts *f = calloc((size_t)n, sizeof(*f));
	char (*h)[65] = calloc((size_t)n + 1, 65);
	char text[64], prev[65] = "";
	tract_time base = tract_time_now() + INT64_C(3600000000);
	int i;

	assert_non_null(f);
	assert_non_null(h);
	CHECK_OK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK_OK(tract_create(&t, s, "scratch", NULL, NULL));
	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "skewed turn %d", i);
		say(h[i], t, i % 2 ? "assistant" : "user", text);
		facts(&f[i], s, h[i]);
	}
	CHECK_OK(s->be->begin(s->conn, TRACT_TXN_WRITE));
	for (i = 0; i < n; i++) {
		put_row(h[i], s, "skewed", i ? prev : NULL, &f[i], TRACT_OP_APPEND, NULL, NULL,
			base - (tract_time)i * 1000, NULL);
		memcpy(prev, h[i], 65);
	}
	/* An edit of the second commit, older than everything. */
	put_row(h[n], s, "skewed", prev, &f[0], TRACT_OP_EDIT, h[1], "edit",
		base - (tract_time)n * 1000 - 7, NULL);
	CHECK_OK(s->be->ref_cas(s->conn, "skewed", "refs/heads/main", h[n], NULL, NULL));
	CHECK_OK(s->be->ref_cas(s->conn, "skewed", "HEAD", NULL, "refs/heads/main", NULL));
	CHECK_OK(s->be->commit(s->conn));
	tract_free(t);
	tract_store_free(s);
	free(f);
	free(h);
}
