/*
 * ops.c - the operations the crash driver kills (crash.h): appends, edits,
 * annotations, batches of commits, clones into a new store. A new
 * operation is a function here and a row of the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash.h"
#include "internal.h"

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
		if (tract_gc(&r, t, &o) != 0)
			return failed("gc");
		if (r->commits_removed < 1) { /* more: an orphan an earlier kill left */
			fprintf(stderr, "writer: gc removed no commit\n");
			return 3;
		}
		tract_gc_result_free(r);
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

static const crash_op ops[] =
    {
        {"append", op_append, 0, 60},     {"edit", op_edit, 0, 60},
        {"annotate", op_annotate, 0, 60}, {"batch", op_batch, 0, 60},
        {"clone", op_clone, 64, 400}, /* a clone copies and verifies the whole store */
        {"gc", op_gc, 0, 120},
        {"spawn", op_spawn, 0, 200},       {"collapse", op_collapse, 0, 200},
        {"child", op_child, 0, 200},
};

size_t crash_op_count(void)
{
	return sizeof(ops) / sizeof(ops[0]);
}

const crash_op *crash_op_get(size_t i)
{
	return &ops[i];
}
