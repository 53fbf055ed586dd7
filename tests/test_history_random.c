/*
 * test_history_random.c - randomized history (issue 11 item 9): random
 * sequences of commits, edits, skips, branches, switches, checkouts,
 * resets, merges, cherry-picks and rebases through the public API, with
 * invariants checked after each step:
 *   - every branch tip, HEAD and ORIG_HEAD names a commit that exists;
 *   - fsck finds no error;
 *   - the merge base of two branches is a common ancestor that no other
 *     common ancestor descends from (ancestry recomputed here from the
 *     commits' parents), ahead/behind of each branch match the same walk;
 *   - a failed operation leaves HEAD, every branch and tag as they were;
 *   - after a rebase that replays, the branch compiles to what the same
 *     commits give when committed one by one on onto's tip (edits
 *     retargeted to the copies, explicit annotations copied: history.md
 *     §10 with DECISIONS.md).
 * Also: two processes moving one branch at once with merge, cherry-pick
 * and rebase: each call succeeds or fails with TRACT_ESTALE, and every
 * successful change is in the final branch.
 *
 * Seeded: each seed is printed; TRACT_HISTORY_SEED=N runs seed N alone.
 * TRACT_HISTORY_SECONDS bounds the run (3 by default; seeds are started
 * until it is spent, at least one), TRACT_HISTORY_STEPS the steps of a
 * seed (40).
 */
#include "helpers.h"

#include <sys/wait.h>
#include <time.h>

#include "tract.h"

/* ---- a tiny PRNG (splitmix64) ---------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int rng_below(uint64_t *s, int n)
{
	return n <= 0 ? 0 : (int)(rng_next(s) % (uint64_t)n);
}

/* ---- the commit graph, read back commit by commit (commits never change) --------- */

#define MAXN 2048

typedef struct {
	char hash[65];
	int parents[8];
	int np;
} node;

typedef struct {
	fx *f;
	uint64_t rng;
	unsigned long seed;
	int step;
	int counter; /* names and texts */
	int detached; /* HEAD detached at the last head_of() */
	node nodes[MAXN];
	int n;
} hr;

static int node_find(hr *h, const char *hash)
{
	for (int i = 0; i < h->n; i++)
		if (strcmp(h->nodes[i].hash, hash) == 0)
			return i;
	return -1;
}

/* The node of hash, its ancestors loaded (a lookup per commit not seen yet). */
static int node_get(hr *h, const char *hash)
{
	int i = node_find(h, hash);
	tract_commit *c = NULL;
	const char *parent;

	if (i >= 0)
		return i;
	if (tract_commit_lookup(&c, h->f->t, hash) != 0)
		fail_msg("seed %lu step %d: commit %.12s does not exist: %s", h->seed, h->step,
			 hash, tract_error_last()->message);
	assert_true(h->n < MAXN);
	i = h->n++;
	memcpy(h->nodes[i].hash, tract_commit_hash(c), 65);
	h->nodes[i].np = 0;
	parent = tract_commit_parent(c);
	{
		char ps[8][65];
		int np = 0;

		if (parent)
			memcpy(ps[np++], parent, 65);
		for (size_t k = 0; k < tract_commit_extra_parent_count(c) && np < 8; k++)
			memcpy(ps[np++], tract_commit_extra_parent(c, k), 65);
		tract_commit_free(c);
		for (int k = 0; k < np; k++) {
			int p = node_get(h, ps[k]);
			h->nodes[i].parents[h->nodes[i].np++] = p;
		}
	}
	return i;
}

/* mark[] = 1 for every ancestor of node i (itself included). */
static void ancestors(hr *h, int i, unsigned char *mark)
{
	int stack[MAXN], sp = 0;

	memset(mark, 0, MAXN);
	stack[sp++] = i;
	mark[i] = 1;
	while (sp > 0) {
		int c = stack[--sp];
		for (int k = 0; k < h->nodes[c].np; k++) {
			int p = h->nodes[c].parents[k];
			if (!mark[p]) {
				mark[p] = 1;
				stack[sp++] = p;
			}
		}
	}
}

/* What the walks did, printed at the end (a walk that never merges or
 * replays would check little). */
static struct {
	int merges[4], merge_reviewed, picks, picks_refused, rebases_replayed, rebases_refused,
		failures_checked;
} stats;

/* ---- state snapshots (for "a failure changes nothing") --------------------------- */

static char *snapshot(hr *h)
{
	tract_buf b = TRACT_BUF_INIT;
	tract_branch_list *bl = NULL;
	tract_tag_list *tl = NULL;
	char head[65], *branch = NULL;
	int detached = 0;

	assert_int_equal(tract_head_get(head, &branch, &detached, h->f->t), 0);
	tract_buf_printf(&b, "HEAD %s %s %d\n", head, branch ? branch : "-", detached);
	tract_string_free(branch);
	assert_int_equal(tract_branch_list_get(&bl, h->f->t), 0);
	for (size_t i = 0; i < bl->count; i++)
		tract_buf_printf(&b, "branch %s %s\n", bl->items[i].name, bl->items[i].tip);
	tract_branch_list_free(bl);
	assert_int_equal(tract_tag_list_get(&tl, h->f->t), 0);
	for (size_t i = 0; i < tl->count; i++)
		tract_buf_printf(&b, "tag %s %s\n", tl->items[i].name, tl->items[i].target);
	tract_tag_list_free(tl);
	tract_buf_puts(&b, "");
	return b.ptr;
}

static void same_snapshot(hr *h, char *before, const char *what, int rc)
{
	char *after = snapshot(h);

	stats.failures_checked++;
	if (strcmp(before, after) != 0)
		fail_msg("seed %lu step %d: failed %s (%d: %s) changed the refs:\n%s->\n%s",
			 h->seed, h->step, what, rc, tract_error_last()->message, before, after);
	free(after);
	free(before);
}

/* The compiled context as one string: "role|name|content" lines. */
static char *compiled(hr *h, const char *at)
{
	tract_compile_options o = TRACT_COMPILE_OPTIONS_INIT;
	tract_context *ctx = NULL;
	tract_buf b = TRACT_BUF_INIT;

	o.at_commit = at;
	if (tract_context_compile(&ctx, h->f->t, &o) != 0)
		fail_msg("seed %lu step %d: compile at %.12s: %s", h->seed, h->step, at,
			 tract_error_last()->message);
	for (size_t i = 0; i < tract_context_count(ctx); i++) {
		const char *name = tract_context_name(ctx, i);
		tract_buf_printf(&b, "%s|%s|", tract_context_role(ctx, i), name ? name : "");
		tract_buf_put(&b, tract_context_content(ctx, i), tract_context_content_len(ctx, i));
		tract_buf_puts(&b, "\n");
	}
	tract_buf_puts(&b, "");
	tract_context_free(ctx);
	return b.ptr;
}

/* HEAD's commit ("" when none) and branch (NULL when detached or none);
 * h->detached tells which. */
static char *head_of(hr *h, char hash[65])
{
	char *branch = NULL;
	int detached = 0;

	assert_int_equal(tract_head_get(hash, &branch, &detached, h->f->t), 0);
	h->detached = detached;
	return branch;
}

/* A random branch's name into name (other than avoid when possible); 0 when none. */
static int random_branch(hr *h, char *name, size_t size, const char *avoid)
{
	tract_branch_list *bl = NULL;
	size_t cand[256], nc = 0;

	assert_int_equal(tract_branch_list_get(&bl, h->f->t), 0);
	for (size_t i = 0; i < bl->count && nc < 256; i++)
		if (!avoid || strcmp(bl->items[i].name, avoid) != 0)
			cand[nc++] = i;
	if (nc > 0)
		snprintf(name, size, "%s", bl->items[cand[rng_below(&h->rng, (int)nc)]].name);
	tract_branch_list_free(bl);
	return nc > 0;
}

/* A random commit of rev's history (dialogue appends only when dialogue_only). */
static int random_commit(hr *h, char out[65], const char *rev, int dialogue_only)
{
	tract_commit_list *l = NULL;
	size_t cand[MAXN], nc = 0;

	if (tract_commits_unique(&l, h->f->t, rev, NULL) != 0)
		return 0;
	for (size_t i = 0; i < l->count && nc < MAXN; i++) {
		tract_commit *c = l->items[i];
		if (dialogue_only && (tract_commit_operation(c) != TRACT_OP_APPEND ||
				      strcmp(tract_commit_content_type(c), "dialogue") != 0))
			continue;
		cand[nc++] = i;
	}
	if (nc > 0)
		memcpy(out, tract_commit_hash(l->items[cand[rng_below(&h->rng, (int)nc)]]), 65);
	tract_commit_list_free(l);
	return nc > 0;
}

/* ---- invariants --------------------------------------------------------------------- */

static void check_merge_base(hr *h, const char *a, const char *b)
{
	static unsigned char ma[MAXN], mb[MAXN], mc[MAXN];
	char ta[65], tb[65], base[65];
	int ia, ib, rc, ncommon = 0, ibase;
	size_t ahead = 0, behind = 0, want_ahead = 0, want_behind = 0;

	assert_int_equal(tract_revision_resolve(ta, h->f->t, a), 0);
	assert_int_equal(tract_revision_resolve(tb, h->f->t, b), 0);
	ia = node_get(h, ta);
	ib = node_get(h, tb);
	ancestors(h, ia, ma);
	ancestors(h, ib, mb);
	for (int i = 0; i < h->n; i++) {
		ncommon += ma[i] && mb[i];
		want_ahead += ma[i] && !mb[i];
		want_behind += mb[i] && !ma[i];
	}
	rc = tract_merge_base(base, h->f->t, a, b);
	if (ncommon == 0) {
		if (rc != TRACT_ENOTFOUND)
			fail_msg("seed %lu step %d: merge base of %s and %s: %d, want ENOTFOUND",
				 h->seed, h->step, a, b, rc);
	} else {
		if (rc != 0)
			fail_msg("seed %lu step %d: merge base of %s and %s: %s", h->seed, h->step,
				 a, b, tract_error_last()->message);
		ibase = node_find(h, base);
		if (ibase < 0 || !ma[ibase] || !mb[ibase])
			fail_msg("seed %lu step %d: merge base %.12s of %s and %s is no common "
				 "ancestor",
				 h->seed, h->step, base, a, b);
		for (int c = 0; c < h->n; c++) {
			if (c == ibase || !ma[c] || !mb[c])
				continue;
			ancestors(h, c, mc);
			if (mc[ibase])
				fail_msg("seed %lu step %d: common ancestor %.12s of %s and %s "
					 "descends from their merge base %.12s",
					 h->seed, h->step, h->nodes[c].hash, a, b, base);
		}
	}
	assert_int_equal(tract_ahead_behind(&ahead, &behind, h->f->t, a, b), 0);
	if (ahead != want_ahead || behind != want_behind)
		fail_msg("seed %lu step %d: %s vs %s ahead/behind %zu/%zu, want %zu/%zu", h->seed,
			 h->step, a, b, ahead, behind, want_ahead, want_behind);
}

static void check_invariants(hr *h)
{
	tract_branch_list *bl = NULL;
	tract_fsck_report *rep = NULL;
	char head[65], orig[65], *branch;
	const char *pair[2];

	/* every ref names an existing commit (node_get looks each one up) */
	branch = head_of(h, head);
	if (head[0])
		node_get(h, head);
	tract_string_free(branch);
	if (tract_revision_resolve(orig, h->f->t, "ORIG_HEAD") == 0)
		node_get(h, orig);
	assert_int_equal(tract_branch_list_get(&bl, h->f->t), 0);
	for (size_t i = 0; i < bl->count; i++) {
		node_get(h, bl->items[i].tip);
		if (bl->items[i].ahead >= 0) {
			size_t a = 0, b = 0;
			assert_int_equal(tract_ahead_behind(&a, &b, h->f->t, bl->items[i].tip,
							    "main"),
					 0);
			assert_int_equal((size_t)bl->items[i].ahead, a);
			assert_int_equal((size_t)bl->items[i].behind, b);
		}
	}
	/* the merge base of two random branches (and of HEAD and main) */
	if (bl->count >= 1) {
		pair[0] = bl->items[rng_below(&h->rng, (int)bl->count)].name;
		pair[1] = bl->items[rng_below(&h->rng, (int)bl->count)].name;
		check_merge_base(h, pair[0], pair[1]);
		if (head[0])
			check_merge_base(h, "HEAD", pair[0]);
	}
	tract_branch_list_free(bl);
	/* fsck clean */
	assert_int_equal(tract_fsck_run(&rep, h->f->store), 0);
	if (rep->errors != 0)
		fail_msg("seed %lu step %d: fsck: %s: %s", h->seed, h->step,
			 rep->problems[0].object, rep->problems[0].message);
	tract_fsck_report_free(rep);
	/* HEAD compiles */
	if (head[0])
		free(compiled(h, "HEAD"));
}

/* ---- operations ---------------------------------------------------------------------- */

static void expect_rc(hr *h, const char *what, int rc, int ok1, int ok2, int ok3)
{
	if (rc != 0 && rc != ok1 && rc != ok2 && rc != ok3)
		fail_msg("seed %lu step %d: %s: %d %s", h->seed, h->step, what, rc,
			 tract_error_last()->message);
}

static void op_commit(hr *h)
{
	char head[65], text[64], target[65], *branch = head_of(h, head);
	char *before = snapshot(h);
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	const char *role = rng_below(&h->rng, 2) ? "assistant" : "user";
	int rc;

	snprintf(text, sizeof(text), "text %d of seed %lu", h->counter++, h->seed);
	if (head[0] && rng_below(&h->rng, 4) == 0 && random_commit(h, target, "HEAD", 1)) {
		tract_commit *c = NULL;
		/* an edit keeps the role of what it edits */
		assert_int_equal(tract_commit_lookup(&c, h->f->t, target), 0);
		role = strstr(tract_commit_content(c), "\"assistant\"") ? "assistant" : "user";
		tract_commit_free(c);
		o.operation = TRACT_OP_EDIT;
		o.response_to = target;
		snprintf(text, sizeof(text), "edit %d of %.8s", h->counter++, target);
	}
	if (rng_below(&h->rng, 3) == 0)
		o.message = "a message";
	rc = tract_commit_create_dialogue(NULL, h->f->t, role, text, NULL, &o);
	if (!h->detached) {
		expect_rc(h, "commit", rc, 0, 0, 0);
		free(before);
	} else {
		expect_rc(h, "commit (detached)", rc, TRACT_EDETACHED, 0, 0);
		if (rc == 0)
			fail_msg("seed %lu step %d: commit on a detached HEAD", h->seed, h->step);
		same_snapshot(h, before, "commit", rc);
	}
	tract_string_free(branch);
}

static void op_annotate(hr *h)
{
	char target[65];
	static const tract_priority prios[] = {TRACT_PRIORITY_SKIP, TRACT_PRIORITY_PINNED,
					       TRACT_PRIORITY_NORMAL};

	if (!random_commit(h, target, "HEAD", 1))
		return;
	assert_int_equal(tract_annotation_create(NULL, h->f->t, target,
						 prios[rng_below(&h->rng, 3)], NULL),
			 0);
}

static void op_branch(hr *h)
{
	char name[32], start[80], other[64];
	char *before = snapshot(h);
	int k = rng_below(&h->rng, 3), rc;

	snprintf(name, sizeof(name), "b%d", h->counter++);
	if (k == 0)
		snprintf(start, sizeof(start), "HEAD");
	else if (k == 1)
		snprintf(start, sizeof(start), "HEAD~%d", 1 + rng_below(&h->rng, 3));
	else if (random_branch(h, other, sizeof(other), NULL))
		snprintf(start, sizeof(start), "%s", other);
	else
		snprintf(start, sizeof(start), "HEAD");
	rc = tract_branch_create(NULL, h->f->t, name, start,
				 rng_below(&h->rng, 3) == 0 ? TRACT_BRANCH_CREATE_SWITCH : 0);
	expect_rc(h, "branch", rc, TRACT_ENOTFOUND, 0, 0);
	if (rc != 0)
		same_snapshot(h, before, "branch", rc);
	else
		free(before);
}

static void op_move(hr *h)
{
	char name[64], rev[80], head[65], *branch = head_of(h, head);
	char *before = snapshot(h);
	int k = rng_below(&h->rng, 6), rc;

	if (k <= 2) {
		if (random_branch(h, name, sizeof(name), branch)) {
			rc = tract_switch(NULL, h->f->t, name, NULL);
			expect_rc(h, "switch", rc, 0, 0, 0);
		} else {
			rc = 0;
		}
	} else if (k == 3) {
		snprintf(rev, sizeof(rev), "HEAD~%d", rng_below(&h->rng, 3));
		rc = tract_checkout(NULL, h->f->t, rev);
		expect_rc(h, "checkout", rc, TRACT_ENOTFOUND, 0, 0);
	} else if (k == 4) {
		rc = tract_checkout(NULL, h->f->t, "-");
		expect_rc(h, "checkout -", rc, TRACT_ENOTFOUND, 0, 0);
	} else {
		/* reset to an ancestor or to another branch's tip */
		if (rng_below(&h->rng, 2) && random_branch(h, name, sizeof(name), branch))
			snprintf(rev, sizeof(rev), "%s", name);
		else
			snprintf(rev, sizeof(rev), "HEAD~%d", 1 + rng_below(&h->rng, 3));
		rc = tract_reset(NULL, h->f->t, rev,
				 rng_below(&h->rng, 2) ? TRACT_RESET_HARD : TRACT_RESET_SOFT);
		expect_rc(h, "reset", rc, TRACT_ENOTFOUND, 0, 0);
		if (rc == 0) {
			char now[65], want[65], orig[65];
			/* the branch (or detached HEAD) moved there, ORIG_HEAD kept the old head */
			tract_string_free(head_of(h, now));
			assert_int_equal(tract_revision_resolve(orig, h->f->t, "ORIG_HEAD"), 0);
			assert_string_equal(orig, head);
			if (strncmp(rev, "HEAD~", 5) != 0) {
				assert_int_equal(tract_revision_resolve(want, h->f->t, rev), 0);
				assert_string_equal(now, want);
			}
		}
	}
	if (rc != 0)
		same_snapshot(h, before, "switch/checkout/reset", rc);
	else
		free(before);
	tract_string_free(branch);
}

static void op_delete(hr *h)
{
	char name[64], head[65], *branch = head_of(h, head);
	char *before;
	int rc;

	if (!random_branch(h, name, sizeof(name), branch) || strcmp(name, "main") == 0) {
		tract_string_free(branch);
		return;
	}
	before = snapshot(h);
	rc = tract_branch_delete(NULL, h->f->t, name, rng_below(&h->rng, 2));
	expect_rc(h, "branch -d", rc, TRACT_EUNMERGED, 0, 0);
	if (rc != 0)
		same_snapshot(h, before, "branch -d", rc);
	else
		free(before);
	tract_string_free(branch);
}

static void op_merge(hr *h)
{
	char src[64], head[65], src_tip[65], base[65], *branch = head_of(h, head);
	char *before;
	tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
	tract_merge_result *r = NULL;
	static unsigned char mh[MAXN], ms[MAXN];
	int rc, is, ih, have_base;

	if (!random_branch(h, src, sizeof(src), branch)) {
		tract_string_free(branch);
		return;
	}
	/* mostly a branch HEAD does not contain yet (up to date teaches little) */
	if (head[0] && rng_below(&h->rng, 4) != 0) {
		tract_branch_list *bl = NULL;
		static unsigned char mh0[MAXN];
		ancestors(h, node_get(h, head), mh0);
		assert_int_equal(tract_branch_list_get(&bl, h->f->t), 0);
		for (size_t i = 0, start = (size_t)rng_below(&h->rng, (int)bl->count);
		     i < bl->count; i++) {
			const tract_branch *b = &bl->items[(start + i) % bl->count];
			if (!mh0[node_get(h, b->tip)]) {
				snprintf(src, sizeof(src), "%s", b->name);
				break;
			}
		}
		tract_branch_list_free(bl);
	}
	o.no_ff = rng_below(&h->rng, 4) == 0;
	o.strategy = (tract_merge_strategy)rng_below(&h->rng, 3);
	o.auto_commit = 1;
	before = snapshot(h);
	assert_int_equal(tract_revision_resolve(src_tip, h->f->t, src), 0);
	have_base = head[0] && tract_merge_base(base, h->f->t, "HEAD", src) == 0;
	rc = tract_merge(&r, h->f->t, src, &o);
	if (h->detached || !head[0]) {
		expect_rc(h, "merge", rc, h->detached ? TRACT_EDETACHED : TRACT_ENOTFOUND, 0, 0);
		if (rc == 0)
			fail_msg("seed %lu step %d: merge without a head", h->seed, h->step);
		same_snapshot(h, before, "merge", rc);
		tract_string_free(branch);
		return;
	}
	expect_rc(h, "merge", rc, 0, 0, 0);
	is = node_get(h, src_tip);
	ih = node_get(h, head);
	ancestors(h, ih, mh);
	ancestors(h, is, ms);
	stats.merges[tract_merge_result_type(r) & 3]++;
	switch (tract_merge_result_type(r)) {
	case TRACT_MERGE_UP_TO_DATE:
		assert_true(mh[is]);
		same_snapshot(h, before, "merge (up to date)", 0);
		before = NULL;
		break;
	case TRACT_MERGE_FAST_FORWARD:
		assert_true(ms[ih] && !o.no_ff);
		assert_string_equal(tract_merge_result_commit(r), src_tip);
		break;
	default: {
		char *json = NULL;
		assert_false(mh[is]);
		assert_true(have_base);
		/* the merge base it used is the one the DAG reports */
		assert_int_equal(tract_merge_result_to_json(&json, r), 0);
		assert_non_null(strstr(json, base));
		tract_string_free(json);
		if (tract_merge_result_commit(r) == NULL) {
			/* conflicts left for review: nothing written yet; resolve and commit,
			 * or drop the result */
			same_snapshot(h, before, "merge (conflicts)", 0);
			before = NULL;
			assert_true(tract_merge_result_unresolved_count(r) > 0);
			if (rng_below(&h->rng, 2)) {
				for (size_t i = 0; i < tract_merge_result_conflict_count(r); i++) {
					const tract_issue *is2 = tract_merge_result_conflict(r, i);
					char text[64];
					snprintf(text, sizeof(text), "resolved %.8s", is2->key);
					assert_int_equal(
						tract_merge_result_set_resolution(r, is2->key, text),
						0);
				}
				rc = tract_merge_commit(r);
				stats.merge_reviewed++;
				if (rc != 0)
					fail_msg("seed %lu step %d: merge commit: %s", h->seed,
						 h->step, tract_error_last()->message);
			}
		}
		if (tract_merge_result_commit(r)) {
			tract_commit *c = NULL;
			char now[65];
			tract_string_free(head_of(h, now));
			assert_string_equal(now, tract_merge_result_commit(r));
			assert_int_equal(tract_commit_lookup(&c, h->f->t, now), 0);
			assert_string_equal(tract_commit_parent(c), head);
			assert_int_equal(tract_commit_extra_parent_count(c), 1);
			assert_string_equal(tract_commit_extra_parent(c, 0), src_tip);
			tract_commit_free(c);
		}
	}
	}
	free(before);
	tract_merge_result_free(r);
	tract_string_free(branch);
}

/* Resolvers: accept (skip) or resolve with a text. */
static int resolve_skip(tract_resolution *out, const tract_issue *issue, void *payload)
{
	(void)issue;
	(void)payload;
	out->action = TRACT_RESOLVE_SKIP;
	return 0;
}

static int resolve_text(tract_resolution *out, const tract_issue *issue, void *payload)
{
	(void)issue;
	(void)payload;
	out->action = TRACT_RESOLVE_RESOLVED;
	out->text = "picked with a resolved text";
	out->reasoning = "random test";
	return 0;
}

static void op_cherry_pick(hr *h)
{
	char other[64], pick[65], head[65], *branch = head_of(h, head);
	char *before;
	tract_cherry_pick_options o = TRACT_CHERRY_PICK_OPTIONS_INIT;
	tract_cherry_pick_result *r = NULL;
	int k = rng_below(&h->rng, 3), rc;

	if (!random_branch(h, other, sizeof(other), branch) || !random_commit(h, pick, other, 0)) {
		tract_string_free(branch);
		return;
	}
	if (k == 1)
		o.resolver = resolve_skip;
	else if (k == 2)
		o.resolver = resolve_text;
	before = snapshot(h);
	rc = tract_cherry_pick(&r, h->f->t, pick, &o);
	if (h->detached) {
		expect_rc(h, "cherry-pick (detached)", rc, TRACT_EDETACHED, 0, 0);
		assert_int_not_equal(rc, 0);
	} else {
		expect_rc(h, "cherry-pick", rc, k == 0 ? TRACT_ECONFLICT : 0, 0, 0);
	}
	if (rc != 0) {
		stats.picks_refused++;
		same_snapshot(h, before, "cherry-pick", rc);
		tract_string_free(branch);
		return;
	}
	if (r->new_commit) {
		char now[65];
		stats.picks++;
		tract_string_free(head_of(h, now));
		assert_string_equal(now, tract_commit_hash(r->new_commit));
		assert_string_equal(r->new_head, now);
		if (head[0])
			assert_string_equal(tract_commit_parent(r->new_commit), head);
		else
			assert_null(tract_commit_parent(r->new_commit));
		assert_int_equal(tract_commit_extra_parent_count(r->new_commit), 0);
		if (r->issue_count == 0)
			assert_string_equal(tract_commit_content_hash(r->new_commit),
					    tract_commit_content_hash(r->original));
		free(before);
	} else {
		/* skipped by the resolver: nothing written */
		assert_int_equal(k, 1);
		same_snapshot(h, before, "cherry-pick (skipped)", 0);
	}
	tract_cherry_pick_result_free(r);
	tract_string_free(branch);
}

/* The originals committed one by one on a new branch at onto_tip, as the
 * spec says a rebase replays them; returns that branch's compile. */
static char *linear_replay(hr *h, const char *onto_tip, const tract_commit_list *orig)
{
	char (*map_old)[65] = calloc(orig->count + 1, 65);
	char (*map_new)[65] = calloc(orig->count + 1, 65);
	char name[32], tip[65], *out;

	assert_non_null(map_old);
	assert_non_null(map_new);
	snprintf(name, sizeof(name), "linear%d", h->counter++);
	assert_int_equal(tract_branch_create(NULL, h->f->t, name, onto_tip,
					     TRACT_BRANCH_CREATE_SWITCH),
			 0);
	for (size_t i = 0; i < orig->count; i++) {
		const tract_commit *c = orig->items[i];
		tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
		tract_commit *n = NULL;
		tract_annotation_list *al = NULL;
		const char *rt = tract_commit_response_to(c);

		o.operation = tract_commit_operation(c);
		o.message = tract_commit_message(c);
		o.metadata_json = tract_commit_metadata(c);
		o.generation_config_json = tract_commit_generation_config(c);
		o.response_to = rt;
		for (size_t k = 0; rt && k < i; k++)
			if (strcmp(map_old[k], rt) == 0)
				o.response_to = map_new[k];
		if (tract_commit_create(&n, h->f->t, tract_commit_content(c), &o) != 0)
			fail_msg("seed %lu step %d: linear replay of %.12s: %s", h->seed, h->step,
				 tract_commit_hash(c), tract_error_last()->message);
		memcpy(map_old[i], tract_commit_hash(c), 65);
		memcpy(map_new[i], tract_commit_hash(n), 65);
		/* the original's latest explicit annotation (dialogue has no default one) */
		assert_int_equal(tract_annotation_list_get(&al, h->f->t, map_old[i]), 0);
		if (al->count > 0)
			assert_int_equal(tract_annotation_create(NULL, h->f->t, map_new[i],
								 al->items[al->count - 1].priority,
								 NULL),
					 0);
		tract_annotation_list_free(al);
		tract_commit_free(n);
	}
	assert_int_equal(tract_revision_resolve(tip, h->f->t, "HEAD"), 0);
	out = compiled(h, tip);
	free(map_old);
	free(map_new);
	return out;
}

static void op_rebase(hr *h)
{
	char onto[64], onto_tip[65], head[65], now[65], *branch = head_of(h, head);
	char *before;
	tract_rebase_options o = TRACT_REBASE_OPTIONS_INIT;
	tract_rebase_result *r = NULL;
	tract_commit_list *orig = NULL;
	int rc, has_merge = 0;

	if (!random_branch(h, onto, sizeof(onto), branch)) {
		tract_string_free(branch);
		return;
	}
	/* mostly onto a branch that diverged from HEAD (a replay, not a no-op) */
	if (head[0] && rng_below(&h->rng, 4) != 0) {
		tract_branch_list *bl = NULL;
		static unsigned char mh0[MAXN], mo[MAXN];
		int ih = node_get(h, head);
		ancestors(h, ih, mh0);
		assert_int_equal(tract_branch_list_get(&bl, h->f->t), 0);
		for (size_t i = 0, start = (size_t)rng_below(&h->rng, (int)bl->count);
		     i < bl->count; i++) {
			const tract_branch *b = &bl->items[(start + i) % bl->count];
			int ib = node_get(h, b->tip);
			ancestors(h, ib, mo);
			if (!mh0[ib] && !mo[ih]) {
				snprintf(onto, sizeof(onto), "%s", b->name);
				break;
			}
		}
		tract_branch_list_free(bl);
	}
	if (rng_below(&h->rng, 2))
		o.resolver = resolve_skip;
	assert_int_equal(tract_revision_resolve(onto_tip, h->f->t, onto), 0);
	if (head[0]) {
		assert_int_equal(tract_commits_unique(&orig, h->f->t, "HEAD", onto), 0);
		for (size_t i = 0; i < orig->count; i++)
			has_merge |= tract_commit_extra_parent_count(orig->items[i]) > 0;
	}
	before = snapshot(h);
	rc = tract_rebase(&r, h->f->t, onto, &o);
	if (h->detached || !head[0]) {
		assert_int_not_equal(rc, 0);
		expect_rc(h, "rebase", rc, TRACT_EDETACHED, TRACT_ENOTFOUND, 0);
		same_snapshot(h, before, "rebase", rc);
		goto out;
	}
	expect_rc(h, "rebase", rc, TRACT_ECONFLICT, TRACT_EINVAL, 0);
	if (rc != 0) {
		/* EINVAL only for merge commits in the range */
		if (rc == TRACT_EINVAL)
			assert_true(has_merge);
		if (rc == TRACT_ECONFLICT)
			assert_null(o.resolver);
		stats.rebases_refused++;
		same_snapshot(h, before, "rebase", rc);
		goto out;
	}
	free(before);
	tract_string_free(head_of(h, now));
	assert_string_equal(now, r->new_head);
	assert_string_equal(r->onto, onto_tip);
	switch (r->outcome) {
	case TRACT_REBASE_UP_TO_DATE:
		assert_string_equal(now, head);
		break;
	case TRACT_REBASE_FAST_FORWARD:
		assert_string_equal(now, onto_tip);
		break;
	case TRACT_REBASE_REPLAYED: {
		static unsigned char mn[MAXN];
		char *got, *want;
		tract_commit_list *after = NULL;

		assert_false(has_merge);
		stats.rebases_replayed++;
		/* the branch's own commits, in order, replayed on onto */
		assert_int_equal(r->original_commits->count, orig->count);
		assert_int_equal(r->replayed_commits->count, orig->count);
		for (size_t i = 0; i < orig->count; i++)
			assert_string_equal(tract_commit_hash(r->original_commits->items[i]),
					    tract_commit_hash(orig->items[i]));
		ancestors(h, node_get(h, now), mn);
		assert_true(mn[node_get(h, onto_tip)]);
		assert_int_equal(tract_commits_unique(&after, h->f->t, now, onto_tip), 0);
		assert_int_equal(after->count, orig->count);
		tract_commit_list_free(after);
		/* compiles to the same commits made one by one on onto */
		got = compiled(h, now);
		want = linear_replay(h, onto_tip, orig);
		if (strcmp(got, want) != 0)
			fail_msg("seed %lu step %d: rebase onto %s compiles to\n%s\nthe linear "
				 "replay to\n%s",
				 h->seed, h->step, onto, got, want);
		free(got);
		free(want);
		/* back to the rebased branch; the linear one stays as a branch */
		assert_int_equal(tract_switch(NULL, h->f->t, branch, NULL), 0);
		break;
	}
	}
out:
	tract_rebase_result_free(r);
	tract_commit_list_free(orig);
	tract_string_free(branch);
}

/* ---- the random walk --------------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_seed(unsigned long seed, int steps)
{
	hr *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	h->f = fx_new(NULL);
	h->seed = seed;
	h->rng = seed;
	for (h->step = 0; h->step < steps; h->step++) {
		int k = rng_below(&h->rng, 20);

		if (k < 6)
			op_commit(h);
		else if (k < 7)
			op_annotate(h);
		else if (k < 9)
			op_branch(h);
		else if (k < 12)
			op_move(h);
		else if (k < 13)
			op_delete(h);
		else if (k < 15)
			op_merge(h);
		else if (k < 17)
			op_cherry_pick(h);
		else
			op_rebase(h);
		check_invariants(h);
	}
	fx_free(h->f);
	free(h);
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : dflt;
}

static void test_random_history(void **state)
{
	const char *fixed = getenv("TRACT_HISTORY_SEED");
	double budget = (double)env_long("TRACT_HISTORY_SECONDS", 3);
	int steps = (int)env_long("TRACT_HISTORY_STEPS", 40);
	double t0 = now_s();
	unsigned long seed;
	int n = 0;

	(void)state;
	if (fixed && *fixed) {
		seed = strtoul(fixed, NULL, 10);
		print_message("history_random (%s): seed %lu (TRACT_HISTORY_SEED)\n", ts_backend(),
			      seed);
		run_seed(seed, steps);
		return;
	}
	seed = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
	do {
		print_message("history_random (%s): seed %lu (repeat with TRACT_HISTORY_SEED=%lu)\n",
			      ts_backend(), seed + (unsigned long)n, seed + (unsigned long)n);
		run_seed(seed + (unsigned long)n, steps);
		n++;
	} while (now_s() - t0 < budget);
	print_message("history_random (%s): %d seeds of %d steps; merges: %d up to date, %d "
		      "fast-forward, %d clean, %d with conflicts (%d reviewed and committed); "
		      "cherry-picks: %d made, %d refused; rebases: %d replayed (compile checked), "
		      "%d refused; %d failures checked for writing nothing\n",
		      ts_backend(), n, steps, stats.merges[0], stats.merges[1], stats.merges[2],
		      stats.merges[3], stats.merge_reviewed, stats.picks, stats.picks_refused,
		      stats.rebases_replayed, stats.rebases_refused, stats.failures_checked);
}

/* ---- two processes moving one branch ------------------------------------------------------ */

enum { RACE_MERGE, RACE_CHERRY_PICK, RACE_REBASE };

#define RACE_PROCS 2
#define RACE_ROUNDS 6

/* Each process does RACE_ROUNDS operations on main, retrying one that
 * failed with TRACT_ESTALE; any other failure exits 1. It prints the
 * texts it brought into main on fd. */
static int race_child(const char *uri, const char *id, int kind, int proc, int fd)
{
	tract_store *s;
	tract *t;
	int stale = 0;

	if (tract_store_open(&s, uri, 0) != 0 || tract_open(&t, s, id, NULL) != 0)
		return 2;
	for (int n = 0; n < RACE_ROUNDS; n++) {
		char name[32];
		int rc;

		snprintf(name, sizeof(name), "p%d-%d", proc, n);
		for (int tries = 0;; tries++) {
			if (kind == RACE_MERGE) {
				tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
				tract_merge_result *r = NULL;
				o.no_ff = 1;
				rc = tract_merge(&r, t, name, &o);
				if (rc == 0 && tract_merge_result_commit(r) == NULL)
					rc = TRACT_ECONFLICT;
				tract_merge_result_free(r);
			} else if (kind == RACE_CHERRY_PICK) {
				tract_cherry_pick_result *r = NULL;
				rc = tract_cherry_pick(&r, t, name, NULL);
				tract_cherry_pick_result_free(r);
			} else {
				tract_rebase_result *r = NULL;
				rc = tract_rebase(&r, t, name, NULL);
				tract_rebase_result_free(r);
			}
			if (rc != TRACT_ESTALE || tries > 200)
				break;
			stale++;
		}
		if (rc != 0) {
			fprintf(stderr, "process %d: %s: %d %s\n", proc, name, rc,
				tract_error_last()->message);
			return 1;
		}
		dprintf(fd, "%s\n", name);
	}
	fprintf(stderr, "process %d: %d stale-ref retries\n", proc, stale);
	tract_free(t);
	tract_store_free(s);
	return 0;
}

static void race(int kind)
{
	fx *f = fx_new(NULL);
	char uri[600], id[65], text[64];
	pid_t pids[RACE_PROCS];
	int status, pipefd[2];
	char *ctx, buf[4096];
	size_t got = 0;
	ssize_t r;

	/* main, and per process RACE_ROUNDS branches p<P>-<N> off the root, each
	 * with one commit of text "p<P>-<N>" */
	fx_say(f, NULL, "user", "root");
	for (int p = 0; p < RACE_PROCS; p++)
		for (int n = 0; n < RACE_ROUNDS; n++) {
			snprintf(text, sizeof(text), "p%d-%d", p, n);
			assert_int_equal(tract_branch_create(NULL, f->t, text, "main",
							     TRACT_BRANCH_CREATE_SWITCH),
					 0);
			fx_say(f, NULL, "assistant", text);
		}
	assert_int_equal(tract_switch(NULL, f->t, "main", NULL), 0);
	fx_say(f, NULL, "user", "main's own");
	memcpy(uri, f->uri, sizeof(uri));
	memcpy(id, f->t->id, sizeof(id));
	/* no connection crosses fork() */
	tract_free(f->t);
	f->t = NULL;
	tract_store_free(f->store);
	f->store = NULL;
	assert_int_equal(pipe(pipefd), 0);
	for (int p = 0; p < RACE_PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			close(pipefd[0]);
			_exit(race_child(uri, id, kind, p, pipefd[1]));
		}
	}
	close(pipefd[1]);
	while ((r = read(pipefd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	close(pipefd[0]);
	for (int p = 0; p < RACE_PROCS; p++) {
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("process %d failed (status %d)", p, status);
	}
	assert_int_equal(tract_store_open(&f->store, uri, 0), 0);
	assert_int_equal(tract_open(&f->t, f->store, id, NULL), 0);
	/* nothing lost: every change each process made is in main */
	{
		tract_context *c = fx_compile(f, NULL);
		tract_buf b = TRACT_BUF_INIT;
		for (size_t i = 0; i < tract_context_count(c); i++) {
			tract_buf_put(&b, tract_context_content(c, i), tract_context_content_len(c, i));
			tract_buf_puts(&b, "\n");
		}
		tract_buf_puts(&b, "");
		ctx = b.ptr;
		tract_context_free(c);
	}
	for (int p = 0; p < RACE_PROCS; p++)
		for (int n = 0; n < RACE_ROUNDS; n++) {
			char line[80];
			snprintf(text, sizeof(text), "p%d-%d", p, n);
			snprintf(line, sizeof(line), "%s\n", text);
			if (!strstr(buf, line))
				fail_msg("process %d did not report %s", p, text);
			if (!strstr(ctx, line))
				fail_msg("%s is lost from main:\n%s", text, ctx);
			if (kind == RACE_MERGE) {
				int anc = 0;
				assert_int_equal(tract_is_ancestor(&anc, f->t, text, "main"), 0);
				assert_true(anc);
			}
		}
	assert_non_null(strstr(ctx, "main's own\n"));
	assert_non_null(strstr(ctx, "root\n"));
	free(ctx);
	{
		tract_fsck_report *rep = NULL;
		assert_int_equal(tract_fsck_run(&rep, f->store), 0);
		assert_int_equal(rep->errors, 0);
		tract_fsck_report_free(rep);
	}
	fx_free(f);
}

static void test_race_merge(void **state)
{
	(void)state;
	race(RACE_MERGE);
}

static void test_race_cherry_pick(void **state)
{
	(void)state;
	race(RACE_CHERRY_PICK);
}

static void test_race_rebase(void **state)
{
	(void)state;
	race(RACE_REBASE);
}

/* A merge with conflicts reviewed in one process while another process
 * merges into the same branch: the review's commit fails with
 * TRACT_ESTALE and writes nothing, the other merge stands; redone, the
 * review commits on top of it. */
static void test_race_merge_review(void **state)
{
	fx *f = fx_new(NULL);
	char uri[600], id[65], x[65], tip[65], c;
	int to_parent[2], to_child[2], status;
	pid_t pid;

	(void)state;
	fx_say(f, x, "user", "x");
	assert_int_equal(tract_branch_create(NULL, f->t, "other", "main", 0), 0);
	assert_int_equal(tract_branch_create(NULL, f->t, "feature", "main",
					     TRACT_BRANCH_CREATE_SWITCH),
			 0);
	{
		tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
		o.operation = TRACT_OP_EDIT;
		o.response_to = x;
		assert_int_equal(tract_commit_create_dialogue(NULL, f->t, "user", "x by feature",
							      NULL, &o),
				 0);
		assert_int_equal(tract_switch(NULL, f->t, "other", NULL), 0);
		fx_say(f, NULL, "assistant", "other's");
		assert_int_equal(tract_switch(NULL, f->t, "main", NULL), 0);
		assert_int_equal(tract_commit_create_dialogue(NULL, f->t, "user", "x by main", NULL,
							      &o),
				 0);
	}
	memcpy(uri, f->uri, sizeof(uri));
	memcpy(id, f->t->id, sizeof(id));
	tract_free(f->t);
	f->t = NULL;
	tract_store_free(f->store);
	f->store = NULL;
	assert_int_equal(pipe(to_parent), 0);
	assert_int_equal(pipe(to_child), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		tract_store *s;
		tract *t;
		tract_merge_result *r = NULL;
		int rc, bad = 0;

		if (tract_store_open(&s, uri, 0) != 0 || tract_open(&t, s, id, NULL) != 0)
			_exit(2);
		/* conflicts: nothing written until the review commits */
		rc = tract_merge(&r, t, "feature", NULL);
		if (rc != 0 || tract_merge_result_unresolved_count(r) != 1 ||
		    tract_merge_result_set_resolution(r, x, "x resolved") != 0)
			_exit(3);
		if (write(to_parent[1], "r", 1) != 1 || read(to_child[0], &c, 1) != 1)
			_exit(4);
		/* the other process merged meanwhile */
		rc = tract_merge_commit(r);
		if (rc != TRACT_ESTALE) {
			fprintf(stderr, "review commit: %d %s, want TRACT_ESTALE\n", rc,
				tract_error_last()->message);
			bad = 1;
		}
		tract_merge_result_free(r);
		tract_free(t);
		tract_store_free(s);
		_exit(bad);
	}
	assert_int_equal(read(to_parent[0], &c, 1), 1);
	assert_int_equal(tract_store_open(&f->store, uri, 0), 0);
	assert_int_equal(tract_open(&f->t, f->store, id, NULL), 0);
	{
		tract_merge_options o = TRACT_MERGE_OPTIONS_INIT;
		tract_merge_result *r = NULL;
		/* main's edit of x beside other's append is a conflict: ours decides it */
		o.strategy = TRACT_MERGE_STRATEGY_OURS;
		o.auto_commit = 1;
		assert_int_equal(tract_merge(&r, f->t, "other", &o), 0);
		assert_non_null(tract_merge_result_commit(r));
		memcpy(tip, tract_merge_result_commit(r), 65);
		tract_merge_result_free(r);
	}
	assert_int_equal(write(to_child[1], "g", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the other merge stands, nothing of the stale review is there */
	{
		char now[65];
		assert_int_equal(tract_revision_resolve(now, f->t, "main"), 0);
		assert_string_equal(now, tip);
	}
	/* redone, the review commits on top */
	{
		tract_merge_result *r = NULL;
		tract_context *ctx;
		int anc = 0;
		assert_int_equal(tract_merge(&r, f->t, "feature", NULL), 0);
		assert_int_equal(tract_merge_result_set_resolution(r, x, "x resolved"), 0);
		assert_int_equal(tract_merge_commit(r), 0);
		tract_merge_result_free(r);
		assert_int_equal(tract_is_ancestor(&anc, f->t, tip, "main"), 0);
		assert_true(anc);
		ctx = fx_compile(f, NULL);
		assert_int_equal(tract_context_count(ctx), 2);
		assert_string_equal(tract_context_content(ctx, 0), "x resolved");
		assert_string_equal(tract_context_content(ctx, 1), "other's");
		tract_context_free(ctx);
	}
	close(to_parent[0]);
	close(to_parent[1]);
	close(to_child[0]);
	close(to_child[1]);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_history),
		cmocka_unit_test(test_race_merge),
		cmocka_unit_test(test_race_cherry_pick),
		cmocka_unit_test(test_race_rebase),
		cmocka_unit_test(test_race_merge_review),
	};
	int rc = ts_init("history_random");

	if (rc != 0)
		return rc;
	return ts_run("history_random", tests, TS_COUNT(tests), NULL, 0);
}
