/*
 * ops.c - the operations the crash driver kills (crash.h): appends, edits,
 * annotations, batches of commits, clones into a new store, branch and tag
 * writes, gc, merges (fast-forward and merge commits), cherry-picks,
 * rebases, tool-result compactions, generates and compressions. A new
 * operation is a function here and a row of the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash.h"
#include "internal.h" /* branches and HEAD set inside a batch */

static int open_tract(tract_store **s, tract **t, const crash_child *ch)
{
	srand(ch->seed);
	if (tract_store_open(s, ch->cx->uri, 0) != 0 || tract_open(t, *s, ch->cx->id, NULL) != 0) {
		fprintf(stderr, "writer: %s\n", tract_error_last()->message);
		return 2;
	}
	return 0;
}

static int failed(const char *what)
{
	fprintf(stderr, "writer: %s: %s\n", what, tract_error_last()->message);
	return 3;
}

/* One dialogue turn; its hash into hash. */
static int turn(tract *t, unsigned n, const char *how, const tract_commit_options *o,
                char hash[HASH_LEN + 1])
{
	tract_commit *c = NULL;
	char text[96];

	snprintf(text, sizeof(text), "turn %u, %s", n, how);
	if (tract_commit_create_dialogue(&c, t, n % 2 ? "assistant" : "user", text, NULL, o))
		return -1;
	memcpy(hash, tract_commit_hash(c), HASH_LEN + 1);
	tract_commit_free(c);
	return 0;
}

static int op_append(crash_child *ch)
{
	tract_store *s;
	tract *t;
	char h[HASH_LEN + 1];
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch);

	while (rc == 0) {
		if (turn(t, n++, "alone", NULL, h) != 0)
			return failed("append");
		crash_report(ch, 'c', h);
	}
	return rc;
}

/* Appends, and edits of the round's first commit in between. */
static int op_edit(crash_child *ch)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_store *s;
	tract *t;
	char first[HASH_LEN + 1], h[HASH_LEN + 1];
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch);

	if (rc == 0 && turn(t, n++, "to be edited", NULL, first) != 0)
		return failed("append");
	if (rc == 0)
		crash_report(ch, 'c', first);
	o.operation = TRACT_OP_EDIT;
	o.response_to = first;
	while (rc == 0) {
		int edit = rand() % 2;

		if (turn(t, n++, edit ? "an edit" : "alone", edit ? &o : NULL, h) != 0)
			return failed(edit ? "edit" : "append");
		crash_report(ch, 'c', h);
	}
	return rc;
}

/* A commit, then an annotation of it or of an earlier one. */
static int op_annotate(crash_child *ch)
{
	static const tract_priority prio[] = {TRACT_PRIORITY_PINNED, TRACT_PRIORITY_SKIP,
	                                      TRACT_PRIORITY_NORMAL};
	tract_store *s;
	tract *t;
	char h[HASH_LEN + 1];
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch);

	while (rc == 0) {
		if (turn(t, n++, "annotated", NULL, h) != 0)
			return failed("append");
		crash_report(ch, 'c', h);
		if (tract_annotation_create(NULL, t, h, prio[rand() % 3], "crash") != 0)
			return failed("annotate");
		crash_report(ch, 'a', h);
	}
	return rc;
}

/* Batches of 1 to 20 commits, reported once the batch is committed. */
static int op_batch(crash_child *ch)
{
	char h[20][HASH_LEN + 1];
	tract_store *s;
	tract *t;
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch), k, size;

	while (rc == 0) {
		size = 1 + rand() % 20;
		if (tract_batch_begin(t) != 0)
			return failed("batch begin");
		for (k = 0; k < size; k++)
			if (turn(t, n++, "batched", NULL, h[k]) != 0)
				return failed("batched commit");
		if (tract_batch_commit(t) != 0)
			return failed("batch commit");
		for (k = 0; k < size; k++)
			crash_report(ch, 'c', h[k]);
	}
	return rc;
}

/* Clones of the store into fresh destinations (the source is only read). */
static int op_clone(crash_child *ch)
{
	char uri[CRASH_URI], num[32];
	size_t i;

	for (i = 0; i < 64; i++) {
		crash_clone_uri(uri, ch->cx, ch->clone_base + i);
		if (tract_store_clone(NULL, ch->cx->uri, uri, NULL) != 0)
			return failed("clone");
		snprintf(num, sizeof(num), "%zu", ch->clone_base + i);
		crash_report(ch, 'k', num);
	}
	/* Out of destinations: wait for the kill. */
	for (;;)
		pause();
}

/* Move refs/heads/main from `from` to `to` (what a reset writes). */
static int move_main(tract *t, const char *from, const char *to)
{
	tract_store *s = t->store;
	tract_ref_row exp;
	int rc;

	memset(&exp, 0, sizeof(exp));
	exp.commit_hash = from;
	rc = s->be->begin(s->conn, TRACT_TXN_WRITE);
	if (rc == 0)
		rc = s->be->ref_cas(s->conn, t->id, "refs/heads/main", to, NULL, &exp);
	if (rc == 0)
		rc = s->be->commit(s->conn);
	else
		s->be->rollback(s->conn);
	s->cache_epoch++;
	return rc;
}

/* A kept commit, one more, main moved back to the kept one (the other is
 * an orphan), and gc with no retention removing it. */
static int op_gc(crash_child *ch)
{
	tract_gc_options o = TRACT_GC_OPTIONS_INIT;
	tract_gc_result *r = NULL;
	tract_store *s;
	tract *t;
	char keep[HASH_LEN + 1], drop[HASH_LEN + 1];
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch);

	o.orphan_retention_days = 0;
	while (rc == 0) {
		if (turn(t, n++, "kept", NULL, keep) != 0)
			return failed("append");
		crash_report(ch, 'c', keep);
		if (turn(t, n++, "orphaned", NULL, drop) != 0)
			return failed("append");
		if (move_main(t, drop, keep) != 0)
			return failed("reset");
		/* 'g': gc starts, to remove drop (driver.c check_gc) */
		crash_report(ch, 'g', drop);
		if (tract_gc(&r, t, &o) != 0)
			return failed("gc");
		if (r->commits_removed < 1) { /* more: an orphan an earlier kill left */
			fprintf(stderr, "writer: gc removed no commit\n");
			return 3;
		}
		tract_gc_result_free(r);
		crash_report(ch, 'e', drop); /* gc done */
	}
	return rc;
}

/* Branch and tag writes that leave HEAD where it is (the driver's last
 * commit needs HEAD attached): create, rename, delete; a kill at any
 * point leaves whole refs (fsck) and HEAD on main. */
static int op_refs(crash_child *ch)
{
	tract_store *s;
	tract *t;
	char h[HASH_LEN + 1], b[48], c[48], tag[48];
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch);

	if (rc == 0 && turn(t, n, "branched from", NULL, h) != 0)
		return failed("append");
	if (rc == 0)
		crash_report(ch, 'c', h);
	while (rc == 0) {
		snprintf(b, sizeof(b), "crash/b%d-%u", (int)getpid(), n);
		snprintf(c, sizeof(c), "crash/c%d-%u", (int)getpid(), n);
		snprintf(tag, sizeof(tag), "crash-t%d-%u", (int)getpid(), n++);
		if (tract_branch_create(NULL, t, b, "HEAD", 0) != 0)
			return failed("branch create");
		if (tract_tag_create(NULL, t, tag, b) != 0)
			return failed("tag create");
		if (tract_branch_rename(t, b, c) != 0)
			return failed("branch rename");
		if (tract_branch_delete(NULL, t, c, 0) != 0)
			return failed("branch delete");
		if (rand() % 2 && tract_tag_delete(NULL, t, tag) != 0)
			return failed("tag delete");
	}
	return rc;
}

/* ---- multi-agent: spawn and collapse (agents.h) ---- */

static int parent_head(tract *t, char hash[HASH_LEN + 1])
{
	return tract_head_get(hash, NULL, NULL, t) == 0 && hash[0] ? 0 : -1;
}

/* Spawns of children (head_snapshot, every third one full_clone), each
 * with a turn of its own; the spawn commit in the parent is reported. */
static int op_spawn(crash_child *ch)
{
	tract_store *s;
	tract *t, *child = NULL;
	char h[HASH_LEN + 1];
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch);

	while (rc == 0) {
		tract_spawn_options o = TRACT_SPAWN_OPTIONS_INIT;
		o.purpose = "crash spawn";
		o.inherit = n % 3 == 2 ? TRACT_INHERIT_FULL_CLONE : TRACT_INHERIT_HEAD_SNAPSHOT;
		if (tract_spawn(&child, t, &o) != 0)
			return failed("spawn");
		if (parent_head(t, h) != 0)
			return failed("spawn head");
		crash_report(ch, 'c', h);
		if (turn(child, n++, "in a child", NULL, h) != 0)
			return failed("child commit");
		tract_free(child);
		child = NULL;
	}
	return rc;
}

/* ---- merge ---- */

/* Set a ref of the tract (the CLI's branch and switch are not there yet). */
static int set_ref(tract *t, const char *name, const char *commit, const char *symbolic)
{
	tract_store *s = tract_owner(t);
	tract_ref_value cur;
	tract_ref_row exp;
	int rc = tract_txn_begin(s, TRACT_TXN_WRITE);

	if (rc == 0)
		rc = tract_ref_read(&cur, s, tract_id(t), name);
	if (rc == 0) {
		memset(&exp, 0, sizeof(exp));
		exp.commit_hash = cur.commit[0] ? cur.commit : NULL;
		exp.symbolic_target = cur.symbolic[0] ? cur.symbolic : NULL;
		rc = s->be->ref_cas(s->conn, tract_id(t), name, commit, symbolic,
				    cur.exists ? &exp : NULL);
		if (rc < 0)
			rc = tract_backend_error(s, rc, "set ref");
	}
	return tract_txn_end(s, rc);
}

/*
 * A side branch from main's tip with 1 to 3 commits, then (half the time)
 * a commit on main, then a merge of the side branch into main: a
 * fast-forward or a merge commit. Every commit is reported 'm' once main
 * reaches it (over all parents) and the merge has returned.
 */
static int op_merge(crash_child *ch)
{
	char side[3][HASH_LEN + 1], h[HASH_LEN + 1];
	tract_merge_result *r = NULL;
	tract_store *s;
	tract *t;
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch), k, size, i;
	char *branch = NULL;

	/* A writer killed while HEAD was on the side branch left it there,
	 * and later rounds may have committed on it: main, which had not
	 * moved since the side branch started, fast-forwards to it. */
	if (rc == 0 && tract_head_get(h, &branch, NULL, t) != 0)
		return failed("head");
	if (rc == 0 && branch && strcmp(branch, "side") == 0) {
		if (set_ref(t, "HEAD", NULL, "refs/heads/main") != 0 ||
		    tract_merge(&r, t, "side", NULL) != 0)
			return failed("catch up with the side branch");
		if (tract_merge_result_type(r) != TRACT_MERGE_FAST_FORWARD &&
		    tract_merge_result_type(r) != TRACT_MERGE_UP_TO_DATE) {
			fprintf(stderr, "writer: catching up gave %s\n",
				tract_merge_type_name(tract_merge_result_type(r)));
			return 4;
		}
		tract_merge_result_free(r);
	}
	tract_string_free(branch);
	while (rc == 0) {
		if (set_ref(t, "HEAD", NULL, "refs/heads/main") != 0 ||
		    tract_head_get(h, NULL, NULL, t) != 0)
			return failed("switch to main");
		if (!h[0]) {
			if (turn(t, n++, "main root", NULL, h) != 0)
				return failed("append");
			crash_report(ch, 'm', h);
		}
		/* The side branch and its commits in one batch, HEAD back on
		 * main at its end: a kill never leaves HEAD on the side branch
		 * for the other operations. */
		if (tract_batch_begin(t) != 0 || set_ref(t, "refs/heads/side", h, NULL) != 0 ||
		    set_ref(t, "HEAD", NULL, "refs/heads/side") != 0)
			return failed("side branch");
		size = 1 + rand() % 3;
		for (k = 0; k < size; k++)
			if (turn(t, n++, "on the side", NULL, side[k]) != 0)
				return failed("side commit");
		if (set_ref(t, "HEAD", NULL, "refs/heads/main") != 0 || tract_batch_commit(t) != 0)
			return failed("switch to main");
		if (rand() % 2) {
			if (turn(t, n++, "on main", NULL, h) != 0)
				return failed("append");
			crash_report(ch, 'm', h);
		}
		if (tract_merge(&r, t, "side", NULL) != 0)
			return failed("merge");
		if (tract_merge_result_type(r) != TRACT_MERGE_FAST_FORWARD &&
		    tract_merge_result_type(r) != TRACT_MERGE_CLEAN) {
			fprintf(stderr, "writer: merge gave %s\n",
				tract_merge_type_name(tract_merge_result_type(r)));
			return 4;
		}
		for (i = 0; i < size; i++)
			crash_report(ch, 'm', side[i]);
		if (tract_merge_result_type(r) == TRACT_MERGE_CLEAN)
			crash_report(ch, 'm', tract_merge_result_commit(r));
		tract_merge_result_free(r);
	}
	return rc;
}

/* ---- history rewriting (core/replay.c) ------------------------------------------ */

/* Set a ref of the tract inside the open batch (branches, HEAD). */
static int batch_set_ref(tract *t, const char *name, const char *commit, const char *sym)
{
	tract_store *s = t->store;
	tract_ref_value cur;
	tract_ref_row exp;

	memset(&exp, 0, sizeof(exp));
	if (tract_ref_read(&cur, s, t->id, name) < 0)
		return -1;
	exp.commit_hash = cur.commit[0] ? cur.commit : NULL;
	exp.symbolic_target = cur.symbolic[0] ? cur.symbolic : NULL;
	return s->be->ref_cas(s->conn, t->id, name, commit, sym, cur.exists ? &exp : NULL) < 0
		       ? -1
		       : 0;
}

/*
 * In one batch: branch `branch` at main's tip, n turns on it, HEAD back
 * on main. hashes (may be NULL) receives the turns.
 */
static int side_branch(tract *t, const char *branch, unsigned *n, int count,
                       const char *edit_of, char hashes[][HASH_LEN + 1])
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	char head[HASH_LEN + 1], ref[64], h[HASH_LEN + 1];
	int k;

	snprintf(ref, sizeof(ref), "refs/heads/%s", branch);
	if (tract_batch_begin(t) != 0)
		return -1;
	if (tract_head_get(head, NULL, NULL, t) != 0 || batch_set_ref(t, ref, head, NULL) != 0 ||
	    batch_set_ref(t, "HEAD", NULL, ref) != 0)
		goto fail;
	for (k = 0; k < count; k++) {
		o.operation = edit_of && k == count - 1 ? TRACT_OP_EDIT : TRACT_OP_APPEND;
		o.response_to = o.operation == TRACT_OP_EDIT ? edit_of : NULL;
		if (turn(t, (*n)++, branch, &o, h) != 0)
			goto fail;
		if (hashes)
			memcpy(hashes[k], h, sizeof(h));
	}
	if (batch_set_ref(t, "HEAD", NULL, "refs/heads/main") != 0)
		goto fail;
	return tract_batch_commit(t);
fail:
	tract_batch_rollback(t);
	return -1;
}

/* Cherry-picks onto main of an append and of an edit of a main commit,
 * each copy reported. */
static int op_cherry_pick(crash_child *ch)
{
	tract_cherry_pick_result *r = NULL;
	tract_store *s;
	tract *t;
	char a[HASH_LEN + 1], side[2][HASH_LEN + 1];
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch), k;

	while (rc == 0) {
		if (turn(t, n++, "to be edited on a side branch", NULL, a) != 0)
			return failed("append");
		crash_report(ch, 'c', a);
		if (side_branch(t, "crash-side", &n, 2, a, side) != 0)
			return failed("side branch");
		for (k = 0; k < 2; k++) {
			if (tract_cherry_pick(&r, t, side[k], NULL) != 0)
				return failed("cherry-pick");
			crash_report(ch, 'c', tract_commit_hash(r->new_commit));
			tract_cherry_pick_result_free(r);
		}
	}
	return rc;
}

/*
 * Rebases of main onto a branch two commits ahead of where main was, main
 * having gone on by two commits of its own. The tip of main is reported
 * 'b' before each rebase and 'c' after it: after a kill in between, main
 * is either that tip or its two commits replayed on crash-onto (driver.c).
 */
static int op_rebase(crash_child *ch)
{
	tract_rebase_result *r = NULL;
	tract_store *s;
	tract *t;
	char h[HASH_LEN + 1];
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch), k;

	while (rc == 0) {
		if (side_branch(t, "crash-onto", &n, 2, NULL, NULL) != 0)
			return failed("onto branch");
		for (k = 0; k < 2; k++)
			if (turn(t, n++, "to be rebased", NULL, h) != 0)
				return failed("append");
		crash_report(ch, 'b', h);
		if (tract_rebase(&r, t, "crash-onto", NULL) != 0)
			return failed("rebase");
		if (r->outcome != TRACT_REBASE_REPLAYED || r->replayed_commits->count != 2)
			return failed("rebase replayed something else");
		crash_report(ch, 'c', r->new_head);
		tract_rebase_result_free(r);
	}
	return rc;
}

/* A child, a few turns in it, its collapse into the parent (reported),
 * then more work and a second collapse of the same child. */
static int op_collapse(crash_child *ch)
{
	tract_store *s;
	tract *t, *child = NULL;
	char h[HASH_LEN + 1];
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch);

	while (rc == 0) {
		tract_spawn_options o = TRACT_SPAWN_OPTIONS_INIT;
		o.purpose = "crash collapse";
		if (tract_spawn(&child, t, &o) != 0)
			return failed("spawn");
		for (int round = 0; round < 2; round++) {
			tract_collapse_options co = TRACT_COLLAPSE_OPTIONS_INIT;
			tract_collapse_result *r = NULL;
			if (turn(child, n++, "child work", NULL, h) != 0 ||
			    turn(child, n++, "child work", NULL, h) != 0)
				return failed("child commit");
			co.summary = "Subagent completed: crash round.";
			if (tract_collapse(&r, t, tract_id(child), &co) != 0)
				return failed("collapse");
			crash_report(ch, 'c', r->parent_commit_hash);
			tract_collapse_result_free(r);
		}
		tract_free(child);
		child = NULL;
	}
	return rc;
}

/* Tool calls with long results, and compactions of the old ones (one
 * transaction of edit commits), reported once committed. */
static int op_compact(crash_child *ch)
{
	tract_compact_options o = TRACT_COMPACT_OPTIONS_INIT;
	tract_compact_result *r = NULL;
	tract_commit *c = NULL;
	tract_store *s;
	tract *t;
	char json[1200], id[32];
	unsigned n = 0;
	size_t i;
	int rc = open_tract(&s, &t, ch), k;

	o.keep_last_turns = 1;
	while (rc == 0) {
		snprintf(id, sizeof(id), "k%u_%u", ch->seed % 100000, n);
		snprintf(json, sizeof(json),
		         "{\"content_type\": \"tool_io\", \"direction\": \"call\", \"tool_name\": "
		         "\"grep\", \"call_id\": \"%s\", \"payload\": {}}",
		         id);
		if (tract_commit_create(&c, t, json, NULL) != 0)
			return failed("tool call");
		crash_report(ch, 'c', tract_commit_hash(c));
		tract_commit_free(c);
		k = snprintf(json, sizeof(json),
		             "{\"content_type\": \"tool_io\", \"direction\": \"result\", "
		             "\"tool_name\": \"grep\", \"call_id\": \"%s\", \"payload\": {\"text\": "
		             "\"result %u",
		             id, n);
		while (k < 1000)
			k += snprintf(json + k, sizeof(json) - (size_t)k, "\\nline %d", k);
		snprintf(json + k, sizeof(json) - (size_t)k, "\"}}");
		if (tract_commit_create(&c, t, json, NULL) != 0)
			return failed("tool result");
		crash_report(ch, 'c', tract_commit_hash(c));
		tract_commit_free(c);
		n++;
		if (n % 3)
			continue;
		if (tract_compact_tools(&r, t, &o) != 0)
			return failed("compact");
		for (i = 0; i < r->n_edits; i++)
			crash_report(ch, 'c', r->edits[i]);
		tract_compact_result_free(r);
	}
	return rc;
}

/* The orchestrator ends its session, spawns a child and the child works
 * on (appends reported 'x'): resume must then find the child. */
static int op_child(crash_child *ch)
{
	tract_store *s;
	tract *t, *child = NULL;
	tract_spawn_options o = TRACT_SPAWN_OPTIONS_INIT;
	tract_session_content sc = TRACT_SESSION_CONTENT_INIT;
	tract_commit *c = NULL;
	char h[HASH_LEN + 1];
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch);

	if (rc)
		return rc;
	sc.session_type = "end";
	sc.summary = "the orchestrator hands over to its child";
	if (tract_commit_create_session(&c, t, &sc, NULL) != 0)
		return failed("session end");
	crash_report(ch, 'c', tract_commit_hash(c));
	tract_commit_free(c);
	o.purpose = "crash child";
	if (tract_spawn(&child, t, &o) != 0)
		return failed("spawn");
	if (parent_head(t, h) != 0)
		return failed("spawn head");
	crash_report(ch, 'c', h);
	for (;;) {
		if (turn(child, n++, "child alone", NULL, h) != 0)
			return failed("child commit");
		crash_report(ch, 'x', h);
	}
}

/*
 * generate: a user turn, then tract_generate() with an in-process provider
 * that takes 0 to 3 ms to answer (kills land before, during and after the
 * call and inside the reply's commit), answering with text or with two
 * tool calls; each commit made is reported. A generate killed mid-call or
 * mid-commit leaves nothing half-written: the reply's commits are one
 * transaction.
 */
struct tract_provider_client {
	unsigned calls;
};

static int gen_create(tract_provider_client **out, const tract_provider_option *o, size_t n,
                      tract_provider_error *err)
{
	(void)o, (void)n, (void)err;
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : TRACT_ENOMEM;
}

static void gen_free(tract_provider_client *c)
{
	free(c);
}

static const tract_tool_call gen_calls[2] = {{"call_a", "lookup", "{\"q\":\"a\"}"},
                                             {"call_b", "lookup", "{\"q\":\"b\"}"}};

static int gen_chat(tract_provider_client *c, const tract_chat_request *req,
                    tract_chat_reply *reply, tract_provider_error *err)
{
	(void)req, (void)err;
	usleep((useconds_t)(rand() % 3000));
	if (c->calls++ % 2) {
		reply->tool_calls = gen_calls;
		reply->n_tool_calls = 2;
		reply->finish_reason = "tool_calls";
	} else {
		reply->text = "A generated reply.";
		reply->finish_reason = "stop";
	}
	reply->model = "crash-1";
	reply->usage.prompt_tokens = 10;
	reply->usage.completion_tokens = 4;
	reply->usage.total_tokens = 14;
	return 0;
}

static void gen_clear(tract_provider_client *c, tract_chat_reply *reply)
{
	(void)c;
	memset(reply, 0, sizeof(*reply));
}

static const tract_provider gen_provider = {
    .version = TRACT_PROVIDER_VERSION,
    .name = "crash",
    .client_create = gen_create,
    .client_free = gen_free,
    .chat = gen_chat,
    .reply_clear = gen_clear,
};

static int op_generate(crash_child *ch)
{
	tract_llm *llm = NULL;
	tract_store *s;
	tract *t;
	char h[HASH_LEN + 1];
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch);

	if (rc == 0 && tract_llm_open_provider(&llm, &gen_provider, NULL) != 0)
		return failed("llm open");
	while (rc == 0) {
		tract_generate_result *gr = NULL;
		size_t i;

		if (turn(t, 2 * n++, "asking", NULL, h) != 0)
			return failed("append");
		crash_report(ch, 'c', h);
		if (tract_generate(&gr, t, llm, NULL) != 0)
			return failed("generate");
		for (i = 0; i < tract_generate_result_commit_count(gr); i++)
			crash_report(ch, 'c', tract_generate_result_commit_hash(gr, i));
		tract_generate_result_free(gr);
	}
	return rc;
}

/*
 * compress: three turns (the middle one pinned), 'z' with main's tip,
 * the three compressed into two summaries around the pinned copy, 'c'
 * with the new tip. Killed in between: main is all old (that tip) or all
 * new (driver.c check_compress).
 */
static int op_compress(crash_child *ch)
{
	static const char *const sums[] = {"first part, summarized", "last part, summarized"};
	tract_compress_options o = TRACT_COMPRESS_OPTIONS_INIT;
	tract_compress_result *r = NULL;
	tract_store *s;
	tract *t;
	char h[3][HASH_LEN + 1];
	unsigned n = 0;
	int rc = open_tract(&s, &t, ch), k;

	while (rc == 0) {
		for (k = 0; k < 3; k++)
			if (turn(t, n++, "to be compressed", NULL, h[k]) != 0)
				return failed("append");
		if (tract_annotation_create(NULL, t, h[1], TRACT_PRIORITY_PINNED, NULL) != 0)
			return failed("annotate");
		crash_report(ch, 'z', h[2]);
		o.from_commit = h[0];
		o.summaries = sums;
		o.n_summaries = 2;
		if (tract_compress(&r, NULL, t, &o) != 0)
			return failed("compress");
		crash_report(ch, 'c', r->new_head);
		tract_compress_result_free(r);
	}
	return rc;
}

static const crash_op ops[] =
    {
        {"append", op_append, 0, 60},     {"edit", op_edit, 0, 60},
        {"annotate", op_annotate, 0, 60}, {"batch", op_batch, 0, 60},
        {"clone", op_clone, 64, 400}, /* a clone copies and verifies the whole store */
        {"gc", op_gc, 0, 120},
        {"refs", op_refs, 0, 60}, /* branches and tags: create, rename, delete */
        {"merge", op_merge, 0, 80},
        {"cherry-pick", op_cherry_pick, 0, 80}, {"rebase", op_rebase, 0, 80},
        {"spawn", op_spawn, 0, 200},       {"collapse", op_collapse, 0, 200},
        {"child", op_child, 0, 200},
        {"compact", op_compact, 0, 80}, /* tool results compacted by edit commits */
        {"generate", op_generate, 0, 80}, /* tract_generate, killed mid-call or mid-commit */
        {"compress", op_compress, 0, 80},
};

size_t crash_op_count(void)
{
	return sizeof(ops) / sizeof(ops[0]);
}

const crash_op *crash_op_get(size_t i)
{
	return &ops[i];
}
