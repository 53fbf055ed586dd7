/*
 * replay_fixture.c - stores for test_replay_cli.sh, made through the
 * library (branches and HEAD written straight through the backend, as
 * the `branch` and `switch` commands are not there to make them):
 *
 *   replay_fixture URI setup         a tract "t" with the branches below;
 *                                    prints NAME=HASH lines for the shell
 *   replay_fixture URI switch NAME   attach HEAD to branch NAME
 *   replay_fixture URI detach REV    detach HEAD at REV
 *
 * setup: main R "root", M1 "main one", M2 "main two"; feature (from R): F1
 * "feature one", E (edit of F1) "feature one, edited", F2 "feature two"
 * (annotated skip); other (from R): X "elsewhere"; stray (from R): EX
 * (edit of X); side (from M2): S "side turn", SE (edit of X); behind at
 * M1; strays (from R): 20 edits of X (more warnings than an error message
 * holds). HEAD on feature.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void die(const char *what)
{
	fprintf(stderr, "replay_fixture: %s: %s\n", what, tract_error_last()->message);
	exit(1);
}

static void set_ref(tract *t, const char *name, const char *commit, const char *sym)
{
	tract_store *s = t->store;
	tract_ref_value cur;
	tract_ref_row exp;

	memset(&exp, 0, sizeof(exp));
	if (tract_txn_begin(s, TRACT_TXN_WRITE) < 0 || tract_ref_read(&cur, s, t->id, name) < 0)
		die("read ref");
	exp.commit_hash = cur.commit[0] ? cur.commit : NULL;
	exp.symbolic_target = cur.symbolic[0] ? cur.symbolic : NULL;
	if (s->be->ref_cas(s->conn, t->id, name, commit, sym, cur.exists ? &exp : NULL) < 0) {
		fprintf(stderr, "replay_fixture: set %s: %s\n", name, s->be->last_error(s->conn));
		exit(1);
	}
	if (tract_txn_end(s, 0) < 0)
		die("write ref");
}

static void branch_at(tract *t, const char *name, const char *commit)
{
	char ref[300];

	snprintf(ref, sizeof(ref), "refs/heads/%s", name);
	if (commit)
		set_ref(t, ref, commit, NULL);
	set_ref(t, "HEAD", NULL, ref);
}

static void say(tract *t, const char *name, const char *role, const char *text,
		const char *edit_of, char out[65])
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;

	if (edit_of) {
		o.operation = TRACT_OP_EDIT;
		o.response_to = edit_of;
	}
	if (tract_commit_create_dialogue(&c, t, role, text, NULL, &o) < 0)
		die(text);
	memcpy(out, tract_commit_hash(c), 65);
	tract_commit_free(c);
	printf("%s=%s\n", name, out);
}

static void setup(tract *t)
{
	char r[65], m1[65], m2[65], f1[65], e[65], f2[65], x[65], ex[65], s[65], se[65];

	say(t, "R", "user", "root", NULL, r);
	say(t, "M1", "assistant", "main one", NULL, m1);
	say(t, "M2", "user", "main two", NULL, m2);
	branch_at(t, "feature", r);
	say(t, "F1", "assistant", "feature one", NULL, f1);
	say(t, "E", "assistant", "feature one, edited", f1, e);
	say(t, "F2", "user", "feature two", NULL, f2);
	if (tract_annotation_create(NULL, t, f2, TRACT_PRIORITY_SKIP, "noise") < 0)
		die("annotate");
	branch_at(t, "other", r);
	say(t, "X", "user", "elsewhere", NULL, x);
	branch_at(t, "stray", r);
	say(t, "EX", "user", "edit of elsewhere", x, ex);
	branch_at(t, "side", m2);
	say(t, "S", "assistant", "side turn", NULL, s);
	say(t, "SE", "user", "side edit of elsewhere", x, se);
	set_ref(t, "refs/heads/behind", m1, NULL);
	branch_at(t, "strays", r);
	for (int i = 0; i < 20; i++) {
		char text[64], h[65];

		snprintf(text, sizeof(text), "stray edit %d", i);
		say(t, "STRAY", "user", text, x, h);
	}
	branch_at(t, "feature", NULL);
}

int main(int argc, char **argv)
{
	tract_store *s = NULL;
	tract *t = NULL;
	char hash[65];
	int setup_mode;

	if (argc < 3 || (strcmp(argv[2], "setup") != 0 && argc != 4)) {
		fprintf(stderr, "usage: replay_fixture URI setup | switch NAME | detach REV\n");
		return 2;
	}
	setup_mode = strcmp(argv[2], "setup") == 0;
	if (tract_store_open(&s, argv[1], setup_mode ? TRACT_STORE_CREATE : 0) < 0)
		die("open store");
	if ((setup_mode ? tract_create(&t, s, "t", NULL, NULL) : tract_open(&t, s, "t", NULL)) < 0)
		die("open tract");
	if (setup_mode) {
		setup(t);
	} else if (strcmp(argv[2], "switch") == 0) {
		branch_at(t, argv[3], NULL);
	} else if (strcmp(argv[2], "detach") == 0) {
		if (tract_revision_resolve(hash, t, argv[3]) < 0)
			die("resolve");
		set_ref(t, "HEAD", hash, NULL);
	} else {
		fprintf(stderr, "replay_fixture: unknown command %s\n", argv[2]);
		return 2;
	}
	tract_free(t);
	tract_store_free(s);
	return 0;
}
