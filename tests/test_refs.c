/*
 * test_refs.c - revisions (hash, prefix, refs, tags, ~N, ^N chains), reset,
 * checkout, switch, branches and tags (spec/history.md §1-§5 with
 * DECISIONS.md), atomicity of every failure, and two writers moving one
 * branch at once (TRACT_ESTALE) on the backend of TRACT_TEST_BACKEND.
 */
#include "helpers.h"

#include <sys/wait.h>

#include "hash.h"
#include "nav.h"

/* ---- helpers ------------------------------------------------------------------ */

static void resolve_ok(fx *f, const char *rev, const char *want)
{
	char out[65];

	if (tract_revision_resolve(out, f->t, rev) != 0)
		fail_msg("resolve '%s': %s", rev, tract_error_last()->message);
	if (strcmp(out, want) != 0)
		fail_msg("resolve '%s' gave %.12s, want %.12s", rev, out, want);
}

static void resolve_fails(fx *f, const char *rev, int code)
{
	char out[65];
	int rc = tract_revision_resolve(out, f->t, rev);

	if (rc != code)
		fail_msg("resolve '%.60s' returned %d (%s), want %d", rev, rc,
			 tract_error_last()->message, code);
}

/* The row of a ref: "H:<hash>", "S:<target>" or "-" when absent. */
static const char *ref_of(fx *f, const char *name)
{
	static char buf[4][300];
	static int slot;
	tract_ref_value v;
	char *out = buf[slot++ % 4];

	assert_int_equal(tract_txn_begin(f->store, TRACT_TXN_READ), 0);
	assert_int_equal(tract_ref_read(&v, f->store, f->t->id, name), 0);
	assert_int_equal(tract_txn_end(f->store, 0), 0);
	if (!v.exists)
		snprintf(out, 300, "-");
	else if (v.commit[0])
		snprintf(out, 300, "H:%s", v.commit);
	else
		snprintf(out, 300, "S:%s", v.symbolic);
	return out;
}

static void assert_ref(fx *f, const char *name, const char *want)
{
	const char *got = ref_of(f, name);

	if (strcmp(got, want) != 0)
		fail_msg("ref %s is %s, want %s", name, got, want);
}

static void assert_ref_hash(fx *f, const char *name, const char *hash)
{
	char want[80];

	snprintf(want, sizeof(want), "H:%s", hash);
	assert_ref(f, name, want);
}

/* Every ref of the tract, one "name=value" line each: for "nothing written". */
static int refs_dump_cb(const tract_ref_row *row, void *payload)
{
	tract_buf *b = payload;

	tract_buf_printf(b, "%s=%s%s\n", row->ref_name, row->commit_hash ? row->commit_hash : "",
			 row->symbolic_target ? row->symbolic_target : "");
	return 0;
}

static char *refs_dump(fx *f)
{
	tract_buf b = TRACT_BUF_INIT;

	assert_int_equal(f->store->be->begin(f->store->conn, TRACT_TXN_READ), 0);
	assert_int_equal(f->store->be->ref_foreach(f->store->conn, NULL, NULL, refs_dump_cb, &b),
			 0);
	assert_int_equal(f->store->be->commit(f->store->conn), 0);
	tract_buf_puts(&b, "");
	return b.ptr;
}

static void assert_refs_unchanged(fx *f, char *before)
{
	char *after = refs_dump(f);

	if (strcmp(before, after) != 0)
		fail_msg("refs changed:\n%s->\n%s", before, after);
	free(after);
	free(before);
}

static void head_is(fx *f, const char *hash, const char *branch)
{
	char h[65], *b = NULL;
	int detached = -1;

	assert_int_equal(tract_head_get(h, &b, &detached, f->t), 0);
	assert_string_equal(h, hash);
	if (branch) {
		assert_non_null(b);
		assert_string_equal(b, branch);
		assert_int_equal(detached, 0);
	} else {
		assert_null(b);
		assert_int_equal(detached, 1);
	}
	tract_string_free(b);
}

/* n commits on HEAD, hashes in h[0..n-1]. */
static void linear(fx *f, char h[][65], int n, const char *tag)
{
	char text[64];

	for (int i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "%s %d", tag, i);
		fx_say(f, h[i], i % 2 ? "assistant" : "user", text);
	}
}

static void set_ref(fx *f, const char *name, const char *hash, const char *sym)
{
	tract_store *s = f->store;
	tract_ref_value cur;
	tract_ref_row exp = {0};

	assert_int_equal(tract_txn_begin(s, TRACT_TXN_WRITE), 0);
	assert_int_equal(tract_ref_read(&cur, s, f->t->id, name), 0);
	exp.commit_hash = cur.commit[0] ? cur.commit : NULL;
	exp.symbolic_target = cur.symbolic[0] ? cur.symbolic : NULL;
	assert_int_equal(s->be->ref_cas(s->conn, f->t->id, name, hash, sym,
					cur.exists ? &exp : NULL),
			 0);
	assert_int_equal(tract_txn_end(s, 0), 0);
}

/*
 * A merge commit written through the backend (the merge operation is not
 * this suite's): parent_hash = first, commit_parents (m, first, 0),
 * (m, second, 1) [, (m, third, 2)]; the branch moves to it.
 */
static void fake_merge(fx *f, char out[65], const char *first, const char *second,
		       const char *third, const char *branch_ref)
{
	tract_store *s = f->store;
	tract_blob_row blob = {0};
	tract_commit_row row = {0};
	char content_hash[65];
	static int n;
	char payload[80];

	snprintf(payload, sizeof(payload), "{\"content_type\": \"freeform\", \"payload\": %d}", ++n);
	assert_int_equal(tract_sha256_hex(content_hash, payload, strlen(payload)), 0);
	assert_int_equal(tract_sha256_hex(out, content_hash, 64), 0);
	blob.content_hash = content_hash;
	blob.payload_json = payload;
	blob.byte_size = (int64_t)strlen(payload);
	blob.created_at = tract_time_now();
	row.commit_hash = out;
	row.tract_id = f->t->id;
	row.parent_hash = first;
	row.content_hash = content_hash;
	row.content_type = "freeform";
	row.operation = TRACT_OP_APPEND;
	row.created_at = blob.created_at;
	assert_int_equal(tract_txn_begin(s, TRACT_TXN_WRITE), 0);
	assert_int_equal(s->be->blob_put(s->conn, &blob, NULL), 0);
	assert_int_equal(s->be->commit_put(s->conn, &row), 0);
	assert_int_equal(s->be->parent_put(s->conn, out, first, 0), 0);
	assert_int_equal(s->be->parent_put(s->conn, out, second, 1), 0);
	if (third)
		assert_int_equal(s->be->parent_put(s->conn, out, third, 2), 0);
	assert_int_equal(tract_txn_end(s, 0), 0);
	set_ref(f, branch_ref, out, NULL);
}

/* ---- revisions ------------------------------------------------------------------ */

static void test_revision_suffixes(void **state)
{
	fx *f = fx_new(NULL);
	char h[5][65], upper[80], *carets;
	size_t i;

	(void)state;
	linear(f, h, 5, "lin");
	resolve_ok(f, "HEAD", h[4]);
	resolve_ok(f, "@", h[4]);
	resolve_ok(f, "HEAD~0", h[4]);
	resolve_ok(f, "HEAD^0", h[4]);
	resolve_ok(f, "HEAD~", h[3]);
	resolve_ok(f, "HEAD~1", h[3]);
	resolve_ok(f, "HEAD^", h[3]);
	resolve_ok(f, "HEAD^1", h[3]);
	resolve_ok(f, "HEAD^^", h[2]);
	resolve_ok(f, "HEAD~4", h[0]);
	resolve_ok(f, "main~2", h[2]);
	resolve_ok(f, "main~1~1^", h[1]);
	resolve_ok(f, "main~01", h[3]);
	resolve_ok(f, "@~3", h[1]);
	resolve_ok(f, "refs/heads/main~4", h[0]);
	resolve_ok(f, "heads/main^", h[3]);
	/* a prefix (upper case) with suffixes; a full hash with suffixes */
	for (i = 0; i < 10; i++)
		upper[i] = (char)(h[3][i] >= 'a' ? h[3][i] - 32 : h[3][i]);
	snprintf(upper + 10, sizeof(upper) - 10, "~2");
	resolve_ok(f, upper, h[1]);
	snprintf(upper, sizeof(upper), "%s^^", h[2]);
	resolve_ok(f, upper, h[0]);
	/* past the root */
	resolve_fails(f, "HEAD~5", TRACT_ENOTFOUND);
	assert_non_null(strstr(tract_error_last()->message, "Commit not found: HEAD~5"));
	resolve_fails(f, "HEAD^^^^^", TRACT_ENOTFOUND);
	resolve_fails(f, "HEAD^2", TRACT_ENOTFOUND);
	assert_non_null(strstr(tract_error_last()->message, "has no parent 2"));
	resolve_fails(f, "main~999999999", TRACT_ENOTFOUND);
	/* grammar errors */
	resolve_fails(f, "main~99999999999999999999", TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "too large"));
	resolve_fails(f, "HEAD~x", TRACT_EINVAL);
	resolve_fails(f, "HEAD^~-1", TRACT_EINVAL);
	resolve_fails(f, "~1", TRACT_EINVAL);
	resolve_fails(f, "^", TRACT_EINVAL);
	resolve_fails(f, "", TRACT_EINVAL);
	resolve_fails(f, "nobranch~1", TRACT_ENOTFOUND);
	assert_string_equal(tract_error_last()->message, "Commit not found: nobranch~1");
	/* a very long chain of carets: cut at the size limit, else walked */
	carets = malloc(TRACT_REVISION_MAX + 10);
	assert_non_null(carets);
	memcpy(carets, "HEAD", 4);
	memset(carets + 4, '^', TRACT_REVISION_MAX + 1);
	carets[TRACT_REVISION_MAX + 5] = '\0';
	resolve_fails(f, carets, TRACT_EINVAL);
	carets[TRACT_REVISION_MAX] = '\0';
	resolve_fails(f, carets, TRACT_ENOTFOUND);
	carets[8] = '\0'; /* HEAD^^^^ */
	resolve_ok(f, carets, h[0]);
	free(carets);
	/* prefixes: literal, >= 4 hex digits */
	memcpy(upper, h[0], 3);
	upper[3] = '\0';
	resolve_fails(f, upper, TRACT_ENOTFOUND);
	resolve_fails(f, "____", TRACT_ENOTFOUND);
	resolve_fails(f, "%%%%", TRACT_ENOTFOUND);
	resolve_fails(f, "\xff\xfe\xfd\xfc", TRACT_ENOTFOUND);
	resolve_fails(f, "\xff~1", TRACT_ENOTFOUND);
	fx_free(f);
}

static void test_revision_merge_parents(void **state)
{
	fx *f = fx_new(NULL);
	char a[3][65], b[2][65], c[65], m[65], m3[65], rev[100];

	(void)state;
	linear(f, a, 3, "main");
	assert_int_equal(tract_branch_create(NULL, f->t, "side", "HEAD~1", 0), 0);
	assert_int_equal(tract_switch(NULL, f->t, "side", NULL), 0);
	linear(f, b, 2, "side");
	assert_int_equal(tract_switch(NULL, f->t, "main", NULL), 0);
	fake_merge(f, m, a[2], b[1], NULL, "refs/heads/main");
	resolve_ok(f, "main", m);
	resolve_ok(f, "main^", a[2]);
	resolve_ok(f, "main^1", a[2]);
	resolve_ok(f, "main^2", b[1]);
	resolve_ok(f, "main^2^", b[0]);
	resolve_ok(f, "main^2~1", b[0]);
	resolve_ok(f, "main^2~2", a[1]);
	resolve_ok(f, "main~1", a[2]);
	resolve_ok(f, "main~0^2~1", b[0]);
	resolve_ok(f, "HEAD^2^0", b[1]);
	resolve_fails(f, "main^3", TRACT_ENOTFOUND);
	assert_non_null(strstr(tract_error_last()->message, "has no parent 3"));
	/* an octopus: parent 3 is position 2 */
	fx_say(f, c, "user", "third line");
	fake_merge(f, m3, c, b[1], a[0], "refs/heads/main");
	resolve_ok(f, "main^3", a[0]);
	resolve_ok(f, "main^2", b[1]);
	resolve_ok(f, "main^1^^2", b[1]);
	resolve_ok(f, "main~2^2~1", b[0]);
	snprintf(rev, sizeof(rev), "%.10s^3", m3);
	resolve_ok(f, rev, a[0]);
	fx_free(f);
}

/* Which name wins (git's order; a branch shadows a prefix, §2). */
static void test_revision_names(void **state)
{
	fx *f = fx_new(NULL);
	char h[4][65], prefix[8], full[300];

	(void)state;
	linear(f, h, 4, "names");
	/* a branch named like a prefix of another commit shadows it */
	memcpy(prefix, h[0], 6);
	prefix[6] = '\0';
	resolve_ok(f, prefix, h[0]);
	assert_int_equal(tract_branch_create(NULL, f->t, prefix, h[2], 0), 0);
	resolve_ok(f, prefix, h[2]);
	/* a tag shadows a branch of the same name (refs/tags before refs/heads) */
	assert_int_equal(tract_branch_create(NULL, f->t, "dup", h[1], 0), 0);
	resolve_ok(f, "dup", h[1]);
	assert_int_equal(tract_tag_create(NULL, f->t, "dup", h[3]), 0);
	resolve_ok(f, "dup", h[3]);
	resolve_ok(f, "heads/dup", h[1]);
	resolve_ok(f, "tags/dup", h[3]);
	resolve_ok(f, "refs/heads/dup", h[1]);
	resolve_ok(f, "refs/tags/dup~2", h[1]);
	/* ORIG_HEAD and PREV_HEAD */
	resolve_fails(f, "ORIG_HEAD", TRACT_ENOTFOUND);
	assert_int_equal(tract_reset(NULL, f->t, "HEAD~2", TRACT_RESET_SOFT), 0);
	resolve_ok(f, "ORIG_HEAD", h[3]);
	resolve_ok(f, "ORIG_HEAD~1", h[2]);
	/* checkout tries branch names first (as git does): the branch */
	assert_int_equal(tract_checkout(NULL, f->t, "dup"), 0);
	head_is(f, h[1], "dup");
	resolve_ok(f, "PREV_HEAD", h[1]);
	resolve_ok(f, "PREV_BRANCH", h[1]);
	/* a full hash of a commit of another tract is not found */
	{
		tract *other;
		char oh[65];
		assert_int_equal(tract_create(&other, f->store, "other", NULL, NULL), 0);
		assert_int_equal(tract_commit_create_instruction(NULL, other, "x", NULL), 0);
		assert_int_equal(tract_revision_resolve(oh, other, "HEAD"), 0);
		resolve_fails(f, oh, TRACT_ENOTFOUND);
		tract_free(other);
	}
	/* names longer than the ref column never match */
	memset(full, 'b', 299);
	full[299] = '\0';
	resolve_fails(f, full, TRACT_ENOTFOUND);
	fx_free(f);
}

static void test_revision_ambiguous_prefix(void **state)
{
	fx *f = fx_new(NULL);
	char h[65], first[65] = "", p[5] = "", seen[2000][65];
	size_t i, j, n = 0;

	(void)state;
	for (i = 0; i < 1500 && !p[0]; i++) {
		char text[64];
		snprintf(text, sizeof(text), "turn %zu", i);
		fx_say(f, h, "user", text);
		for (j = 0; j < n; j++)
			if (strncmp(seen[j], h, 4) == 0)
				break;
		if (j < n) {
			memcpy(first, seen[j], 65);
			memcpy(p, h, 4);
		} else {
			memcpy(seen[n++], h, 65);
		}
	}
	assert_true(p[0]);
	resolve_fails(f, p, TRACT_EAMBIGUOUS);
	{
		char a[20], b[20];
		const char *msg = tract_error_last()->message;
		snprintf(a, sizeof(a), "%.12s...", first);
		snprintf(b, sizeof(b), "%.12s...", h);
		assert_non_null(strstr(msg, "Ambiguous prefix '"));
		assert_non_null(strstr(msg, a));
		assert_non_null(strstr(msg, b));
	}
	/* with a suffix the ambiguity is the same error */
	{
		char rev[10];
		snprintf(rev, sizeof(rev), "%s~1", p);
		resolve_fails(f, rev, TRACT_EAMBIGUOUS);
	}
	fx_free(f);
}

/* ---- reset ---------------------------------------------------------------------- */

static void test_reset(void **state)
{
	fx *f = fx_new(NULL);
	char h[4][65], out[65], next[65], cur[65];
	tract_commit *c;
	fx_counts before;
	char *refs;

	(void)state;
	linear(f, h, 4, "reset");
	assert_int_equal(tract_reset(out, f->t, "HEAD~2", TRACT_RESET_SOFT), 0);
	assert_string_equal(out, h[1]);
	head_is(f, h[1], "main");
	assert_ref_hash(f, "refs/heads/main", h[1]);
	assert_ref_hash(f, "ORIG_HEAD", h[3]);
	assert_ref(f, "HEAD", "S:refs/heads/main");
	/* the commits left ahead stay resolvable */
	resolve_ok(f, h[3], h[3]);
	/* a following commit uses the new head as parent */
	fx_say(f, next, "user", "after reset");
	assert_int_equal(tract_commit_lookup(&c, f->t, next), 0);
	assert_string_equal(tract_commit_parent(c), h[1]);
	tract_commit_free(c);
	/* hard moves the same way; reset to the current head still sets ORIG_HEAD */
	assert_int_equal(tract_reset(out, f->t, h[3], TRACT_RESET_HARD), 0);
	assert_ref_hash(f, "ORIG_HEAD", next);
	assert_int_equal(tract_reset(out, f->t, "HEAD", TRACT_RESET_SOFT), 0);
	assert_ref_hash(f, "ORIG_HEAD", h[3]);
	assert_string_equal(tract_reset_mode_name(TRACT_RESET_HARD), "hard");
	/* undo with ORIG_HEAD */
	assert_int_equal(tract_reset(out, f->t, "ORIG_HEAD~3", TRACT_RESET_SOFT), 0);
	assert_string_equal(out, h[0]);
	/* detached: only HEAD moves */
	assert_int_equal(tract_reset(NULL, f->t, h[3], TRACT_RESET_SOFT), 0);
	assert_int_equal(tract_checkout(NULL, f->t, h[2]), 0);
	assert_int_equal(tract_reset(out, f->t, "HEAD~2", TRACT_RESET_SOFT), 0);
	head_is(f, h[0], NULL);
	assert_ref_hash(f, "refs/heads/main", h[3]);
	assert_ref_hash(f, "ORIG_HEAD", h[2]);
	/* failures write nothing */
	before = fx_count(f);
	refs = refs_dump(f);
	assert_int_equal(tract_reset(out, f->t, "nosuch", TRACT_RESET_SOFT), TRACT_ENOTFOUND);
	assert_int_equal(tract_reset(out, f->t, "HEAD~9", TRACT_RESET_HARD), TRACT_ENOTFOUND);
	assert_int_equal(tract_reset(out, f->t, "HEAD", (tract_reset_mode)7), TRACT_EINVAL);
	assert_int_equal(tract_reset(out, f->t, NULL, TRACT_RESET_SOFT), TRACT_EINVAL);
	assert_refs_unchanged(f, refs);
	fx_assert_same_counts(before, fx_count(f));
	memcpy(cur, h[0], 65);
	head_is(f, cur, NULL);
	fx_free(f);
}

/* ---- checkout ------------------------------------------------------------------- */

static void test_checkout(void **state)
{
	fx *f = fx_new(NULL);
	char h[3][65], out[65], side[65];
	char want[300];

	(void)state;
	/* an empty tract: nothing to check out, no previous position */
	assert_int_equal(tract_checkout(out, f->t, "main"), TRACT_ENOTFOUND);
	assert_int_equal(tract_checkout(out, f->t, "-"), TRACT_ENOTFOUND);
	assert_string_equal(tract_error_last()->message,
			    "No previous position to return to (PREV_HEAD not set)");
	linear(f, h, 3, "co");
	/* a hash, even a branch tip's, detaches */
	assert_int_equal(tract_checkout(out, f->t, h[2]), 0);
	assert_string_equal(out, h[2]);
	head_is(f, h[2], NULL);
	assert_ref_hash(f, "PREV_HEAD", h[2]);
	assert_ref(f, "PREV_BRANCH", "S:refs/heads/main");
	/* commits are refused while detached, with the spec's message */
	assert_int_equal(tract_commit_create_instruction(NULL, f->t, "no", NULL), TRACT_EDETACHED);
	assert_string_equal(tract_error_last()->message,
			    "Cannot commit in detached HEAD state. Use 'tract checkout main' to "
			    "return to your branch.");
	/* detached -> detached: PREV_BRANCH goes */
	assert_int_equal(tract_checkout(out, f->t, "HEAD~2"), 0);
	head_is(f, h[0], NULL);
	assert_ref_hash(f, "PREV_HEAD", h[2]);
	assert_ref(f, "PREV_BRANCH", "-");
	/* a branch name attaches */
	assert_int_equal(tract_checkout(out, f->t, "main"), 0);
	assert_string_equal(out, h[2]);
	head_is(f, h[2], "main");
	assert_ref_hash(f, "PREV_HEAD", h[0]);
	assert_ref(f, "PREV_BRANCH", "-");
	/* checkout - swaps, twice */
	assert_int_equal(tract_checkout(out, f->t, "-"), 0);
	head_is(f, h[0], NULL);
	assert_ref(f, "PREV_BRANCH", "S:refs/heads/main");
	assert_int_equal(tract_checkout(out, f->t, "-"), 0);
	head_is(f, h[2], "main");
	assert_string_equal(out, h[2]);
	/* - onto a branch returns the saved PREV_HEAD (the reference's value) */
	assert_int_equal(tract_branch_create(NULL, f->t, "side", "HEAD~1", 0), 0);
	assert_int_equal(tract_checkout(out, f->t, "side"), 0);
	fx_say(f, side, "user", "on side");
	assert_int_equal(tract_checkout(out, f->t, "main"), 0);
	assert_int_equal(tract_checkout(out, f->t, "-"), 0);
	head_is(f, side, "side");
	assert_string_equal(out, side);
	/* the branch attaches by name before any hash is tried */
	{
		char name[8];
		memcpy(name, h[0], 7);
		name[7] = '\0';
		assert_int_equal(tract_branch_create(NULL, f->t, name, h[2], 0), 0);
		assert_int_equal(tract_checkout(out, f->t, name), 0);
		head_is(f, h[2], name);
	}
	/* a tag detaches */
	assert_int_equal(tract_tag_create(NULL, f->t, "v1", "main~1"), 0);
	assert_int_equal(tract_checkout(out, f->t, "v1"), 0);
	head_is(f, h[1], NULL);
	snprintf(want, sizeof(want), "H:%s", h[2]);
	assert_ref(f, "PREV_HEAD", want);
	fx_free(f);
}

/* DECISIONS.md rule 3: a failed checkout leaves PREV_HEAD / PREV_BRANCH
 * (the reference overwrote them before validating). */
static void test_checkout_failure_writes_nothing(void **state)
{
	fx *f = fx_new(NULL);
	char h[2][65], out[65];
	fx_counts before;
	char *refs;

	(void)state;
	linear(f, h, 2, "fail");
	assert_int_equal(tract_checkout(out, f->t, h[0]), 0);
	assert_int_equal(tract_checkout(out, f->t, "main"), 0);
	before = fx_count(f);
	refs = refs_dump(f);
	assert_int_equal(tract_checkout(out, f->t, "nosuch"), TRACT_ENOTFOUND);
	assert_int_equal(tract_checkout(out, f->t, "HEAD~7"), TRACT_ENOTFOUND);
	assert_int_equal(tract_checkout(out, f->t, ""), TRACT_EINVAL);
	assert_int_equal(tract_checkout(out, f->t, "a~b"), TRACT_ENOTFOUND);
	assert_int_equal(tract_checkout(out, f->t, "\xff"), TRACT_ENOTFOUND);
	assert_int_equal(tract_switch(out, f->t, "nosuch", NULL), TRACT_ENOTFOUND);
	assert_int_equal(tract_switch(out, f->t, h[0], NULL), TRACT_ENOTFOUND);
	assert_refs_unchanged(f, refs);
	fx_assert_same_counts(before, fx_count(f));
	assert_ref_hash(f, "PREV_HEAD", h[0]);
	fx_free(f);
}

/* The reference attached HEAD to the deleted branch (head none); here
 * checkout - detaches at PREV_HEAD. */
static void test_checkout_prev_to_deleted_branch(void **state)
{
	fx *f = fx_new(NULL);
	char h[2][65], side[65], out[65];

	(void)state;
	linear(f, h, 2, "del");
	assert_int_equal(tract_switch_options_init(NULL, TRACT_SWITCH_OPTIONS_VERSION),
			 TRACT_EINVAL);
	{
		tract_switch_options o;
		assert_int_equal(tract_switch_options_init(&o, TRACT_SWITCH_OPTIONS_VERSION), 0);
		o.create = 1;
		assert_int_equal(tract_switch(out, f->t, "side", &o), 0);
	}
	fx_say(f, side, "user", "side work");
	assert_int_equal(tract_switch(out, f->t, "main", NULL), 0);
	assert_ref(f, "PREV_BRANCH", "S:refs/heads/side");
	assert_int_equal(tract_branch_delete(out, f->t, "side", 1), 0);
	assert_string_equal(out, side);
	assert_int_equal(tract_checkout(out, f->t, "-"), 0);
	assert_string_equal(out, side);
	head_is(f, side, NULL);
	/* and back: main was attached, so - attaches it again */
	assert_int_equal(tract_switch(out, f->t, "-", NULL), 0);
	head_is(f, h[1], "main");
	fx_free(f);
}

/* ---- switch --------------------------------------------------------------------- */

static void test_switch(void **state)
{
	fx *f = fx_new(NULL);
	char h[3][65], out[65];
	tract_switch_options o = TRACT_SWITCH_OPTIONS_INIT;
	char *refs;

	(void)state;
	o.create = 1;
	assert_int_equal(tract_switch(out, f->t, "early", &o), TRACT_ENOTFOUND);
	assert_string_equal(tract_error_last()->message, "Cannot create branch: no commits exist");
	linear(f, h, 3, "sw");
	/* create at a start revision (resolved), switch to it, PREV saved */
	o.start = "HEAD~2";
	assert_int_equal(tract_switch(out, f->t, "topic", &o), 0);
	assert_string_equal(out, h[0]);
	head_is(f, h[0], "topic");
	assert_ref_hash(f, "refs/heads/topic", h[0]);
	assert_ref_hash(f, "PREV_HEAD", h[2]);
	assert_ref(f, "PREV_BRANCH", "S:refs/heads/main");
	/* create errors write nothing */
	refs = refs_dump(f);
	assert_int_equal(tract_switch(out, f->t, "topic", &o), TRACT_EEXISTS);
	assert_string_equal(tract_error_last()->message, "Branch already exists: topic");
	assert_int_equal(tract_switch(out, f->t, "bad name", &o), TRACT_EINVAL);
	o.start = "nosuch";
	assert_int_equal(tract_switch(out, f->t, "fresh", &o), TRACT_ENOTFOUND);
	o.start = NULL;
	assert_refs_unchanged(f, refs);
	/* plain switch: branches only */
	assert_int_equal(tract_switch(out, f->t, "main", NULL), 0);
	assert_string_equal(out, h[2]);
	head_is(f, h[2], "main");
	assert_int_equal(tract_switch(out, f->t, h[1], NULL), TRACT_ENOTFOUND);
	{
		char want[100];
		snprintf(want, sizeof(want), "Branch not found: %s", h[1]);
		assert_string_equal(tract_error_last()->message, want);
	}
	assert_int_equal(tract_switch(out, f->t, "ghost", NULL), TRACT_ENOTFOUND);
	assert_string_equal(tract_error_last()->message, "Branch not found: ghost");
	/* switching to the current branch records PREV state */
	assert_int_equal(tract_checkout(out, f->t, h[0]), 0);
	assert_int_equal(tract_switch(out, f->t, "main", NULL), 0);
	assert_int_equal(tract_switch(out, f->t, "main", NULL), 0);
	assert_ref_hash(f, "PREV_HEAD", h[2]);
	assert_ref(f, "PREV_BRANCH", "S:refs/heads/main");
	/* switch - */
	assert_int_equal(tract_switch(out, f->t, "topic", NULL), 0);
	assert_int_equal(tract_switch(out, f->t, "-", NULL), 0);
	head_is(f, h[2], "main");
	/* switch -c from a detached HEAD attaches */
	assert_int_equal(tract_checkout(out, f->t, "HEAD~1"), 0);
	assert_int_equal(tract_switch(out, f->t, "from-detached", &o), 0);
	head_is(f, h[1], "from-detached");
	assert_ref(f, "PREV_BRANCH", "-");
	/* versions */
	o.version = 99;
	assert_int_equal(tract_switch(out, f->t, "main", &o), TRACT_EINVAL);
	fx_free(f);
}

/* ---- branches ------------------------------------------------------------------- */

static void test_branch_create(void **state)
{
	fx *f = fx_new(NULL);
	char h[3][65], out[65], prefix[10];
	fx_counts before;
	char *refs;

	(void)state;
	assert_int_equal(tract_branch_create(out, f->t, "b", NULL, 0), TRACT_ENOTFOUND);
	assert_string_equal(tract_error_last()->message, "Cannot create branch: no commits exist");
	linear(f, h, 3, "bc");
	/* from HEAD, not switching */
	assert_int_equal(tract_branch_create(out, f->t, "b1", NULL, 0), 0);
	assert_string_equal(out, h[2]);
	head_is(f, h[2], "main");
	/* the start is resolved (the reference used it verbatim: a prefix
	 * or a branch name failed with a foreign-key error) */
	memcpy(prefix, h[1], 8);
	prefix[8] = '\0';
	assert_int_equal(tract_branch_create(out, f->t, "b2", prefix, 0), 0);
	assert_string_equal(out, h[1]);
	assert_int_equal(tract_branch_create(out, f->t, "b3", "b2~1", 0), 0);
	assert_string_equal(out, h[0]);
	assert_int_equal(tract_branch_create(out, f->t, "b4", "main", 0), 0);
	assert_string_equal(out, h[2]);
	/* SWITCH attaches HEAD without touching PREV_HEAD / PREV_BRANCH */
	assert_int_equal(tract_branch_create(out, f->t, "b5", "HEAD~1", TRACT_BRANCH_CREATE_SWITCH),
			 0);
	head_is(f, h[1], "b5");
	assert_ref(f, "PREV_HEAD", "-");
	/* from a detached HEAD */
	assert_int_equal(tract_checkout(out, f->t, h[0]), 0);
	assert_int_equal(tract_branch_create(out, f->t, "b6", NULL, TRACT_BRANCH_CREATE_SWITCH),
			 0);
	head_is(f, h[0], "b6");
	/* errors write nothing */
	before = fx_count(f);
	refs = refs_dump(f);
	assert_int_equal(tract_branch_create(out, f->t, "b1", NULL, 0), TRACT_EEXISTS);
	assert_string_equal(tract_error_last()->message, "Branch already exists: b1");
	assert_int_equal(tract_branch_create(out, f->t, "b7", "nosuch", 0), TRACT_ENOTFOUND);
	assert_string_equal(tract_error_last()->message, "Commit not found: nosuch");
	assert_int_equal(tract_branch_create(out, f->t, "b7", "HEAD~9", 0), TRACT_ENOTFOUND);
	assert_int_equal(tract_branch_create(out, f->t, "b..7", NULL, 0), TRACT_EINVAL);
	assert_int_equal(tract_branch_create(out, f->t, NULL, NULL, 0), TRACT_EINVAL);
	assert_int_equal(tract_branch_create(out, f->t, "b7", NULL, 1u << 5), TRACT_EINVAL);
	assert_refs_unchanged(f, refs);
	fx_assert_same_counts(before, fx_count(f));
	fx_free(f);
}

typedef struct {
	const char *name;
	const char *reason; /* NULL: valid */
} name_case;

static void test_branch_names(void **state)
{
	static const name_case cases[] = {
		/* spec §5.1 accepted examples */
		{"feature", NULL},
		{"feature/auth", NULL},
		{"my-feature", NULL},
		{"x';DROP_TABLE_refs;--", NULL},
		{"caf\xc3\xa9", NULL},
		{"a.b", NULL},
		{"v1.0", NULL},
		{"abcd", NULL},
		/* spec §5.1 rules, in order, with their reasons */
		{"", "branch name cannot be empty"},
		{"a..b", "branch name cannot contain '..'"},
		{"x.lock", "branch name cannot end with '.lock'"},
		{".x", "branch name cannot start with '.'"},
		{"x.", "branch name cannot end with '.'"},
		{"a b", "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"},
		{"a\tb", "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"},
		{"a\nb", "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"},
		{"a\xc2\xa0" "b", "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"},
		{"a\xe3\x80\x80" "b", "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"},
		{"a~1", "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"},
		{"a^", "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"},
		{"a:b", "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"},
		{"a?", "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"},
		{"a*", "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"},
		{"a[b", "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"},
		{"a\\b", "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"},
		{"/a", "branch name has invalid slash usage"},
		{"a/", "branch name has invalid slash usage"},
		{"a//b", "branch name has invalid slash usage"},
		/* what the reference let through (DECISIONS.md: git's rules) */
		{"a\x01" "b", "branch name cannot contain control characters"},
		{"a\x7f" "b", "branch name cannot contain control characters"},
		{"a\x1b" "x", "branch name cannot contain control characters"},
		{"a\xc2\x85" "b", "branch name contains forbidden characters (whitespace, ~, ^, :, ?, *, [, \\)"},
		{"a\xc2\x9b" "b", "branch name cannot contain control characters"},
		{"a\xe2\x80\xae" "b", "branch name cannot contain control characters"},
		{"a\xe2\x81\xa6" "b", "branch name cannot contain control characters"},
		{"a@{1}", "branch name cannot contain '@{'"},
		{"@{", "branch name cannot contain '@{'"},
		{"@", "branch name cannot be '@'"},
		{"HEAD", "branch name cannot be 'HEAD'"},
		{"-x", "branch name cannot start with '-'"},
		{"a/.b", "branch name has a component starting with '.'"},
		{"a.lock/b", "branch name has a component ending with '.lock'"},
		{"\xff\xfe", "branch name is not valid UTF-8"},
		{"a\xc0\x80", "branch name is not valid UTF-8"},
	};
	fx *f = fx_new(NULL);
	char h[65], long_name[300], want[400];
	size_t i;

	(void)state;
	fx_say(f, h, "user", "names");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = tract_branch_create(NULL, f->t, cases[i].name, NULL, 0);
		if (!cases[i].reason) {
			if (rc != 0)
				fail_msg("'%s' refused: %s", cases[i].name,
					 tract_error_last()->message);
			resolve_ok(f, cases[i].name, h);
			assert_int_equal(tract_branch_name_check(cases[i].name), 0);
			continue;
		}
		snprintf(want, sizeof(want), "Invalid branch name '%s': %s", cases[i].name,
			 cases[i].reason);
		if (rc != TRACT_EINVAL || strcmp(tract_error_last()->message, want) != 0)
			fail_msg("'%s': rc %d, message [%s], want [%s]", cases[i].name, rc,
				 tract_error_last()->message, want);
		assert_int_equal(tract_branch_name_check(cases[i].name), TRACT_EINVAL);
		assert_int_equal(tract_tag_name_check(cases[i].name), TRACT_EINVAL);
		assert_non_null(strstr(tract_error_last()->message, "Invalid tag name"));
	}
	/* the longest name the ref column holds */
	memset(long_name, 'n', TRACT_BRANCH_NAME_MAX);
	long_name[TRACT_BRANCH_NAME_MAX] = '\0';
	assert_int_equal(tract_branch_create(NULL, f->t, long_name, NULL, 0), 0);
	resolve_ok(f, long_name, h);
	assert_int_equal(tract_switch(NULL, f->t, long_name, NULL), 0);
	long_name[TRACT_BRANCH_NAME_MAX] = 'n';
	long_name[TRACT_BRANCH_NAME_MAX + 1] = '\0';
	assert_int_equal(tract_branch_create(NULL, f->t, long_name, NULL, 0), TRACT_EINVAL);
	/* rename checks the new name */
	assert_int_equal(tract_branch_rename(f->t, "feature", "a b"), TRACT_EINVAL);
	assert_int_equal(tract_branch_rename(f->t, "feature", "@"), TRACT_EINVAL);
	/* the default branch option follows the same rules */
	{
		tract_open_options o = TRACT_OPEN_OPTIONS_INIT;
		tract *t2 = NULL;
		o.default_branch = "a@{b";
		assert_int_equal(tract_open(&t2, f->store, f->t->id, &o), TRACT_EINVAL);
		assert_null(t2);
	}
	fx_free(f);
}

static void test_branch_list(void **state)
{
	fx *f = fx_new(NULL);
	tract_branch_list *l = NULL;
	char h[4][65], side[2][65], *json = NULL;

	(void)state;
	assert_int_equal(tract_branch_list_get(&l, f->t), 0);
	assert_int_equal(l->count, 0);
	tract_branch_list_free(l);
	linear(f, h, 4, "ls");
	assert_int_equal(tract_branch_create(NULL, f->t, "zeta", "HEAD~2", 0), 0);
	assert_int_equal(tract_branch_create(NULL, f->t, "alpha", NULL, TRACT_BRANCH_CREATE_SWITCH),
			 0);
	assert_int_equal(tract_switch(NULL, f->t, "zeta", NULL), 0);
	linear(f, side, 2, "zeta");
	assert_int_equal(tract_branch_create(NULL, f->t, "Mid", "main~3", 0), 0);
	assert_int_equal(tract_branch_list_get(&l, f->t), 0);
	assert_int_equal(l->count, 4);
	/* by name, bytewise */
	assert_string_equal(l->items[0].name, "Mid");
	assert_string_equal(l->items[1].name, "alpha");
	assert_string_equal(l->items[2].name, "main");
	assert_string_equal(l->items[3].name, "zeta");
	assert_string_equal(l->items[3].tip, side[1]);
	assert_true(l->items[3].current);
	assert_false(l->items[0].current || l->items[1].current || l->items[2].current);
	/* ahead / behind the default branch (main at h[3]) */
	assert_int_equal(l->items[0].ahead, 0);
	assert_int_equal(l->items[0].behind, 3);
	assert_int_equal(l->items[1].ahead, 0);
	assert_int_equal(l->items[1].behind, 0);
	assert_int_equal(l->items[2].ahead, 0);
	assert_int_equal(l->items[2].behind, 0);
	assert_int_equal(l->items[3].ahead, 2);
	assert_int_equal(l->items[3].behind, 2);
	assert_int_equal(tract_branch_list_to_json(&json, l), 0);
	{
		char want[400];
		snprintf(want, sizeof(want),
			 "{\"name\": \"zeta\", \"commit_hash\": \"%s\", \"current\": true, "
			 "\"ahead\": 2, \"behind\": 2}]",
			 side[1]);
		assert_non_null(strstr(json, want));
		assert_true(json[0] == '[');
	}
	tract_string_free(json);
	tract_branch_list_free(l);
	/* detached: no branch is current */
	assert_int_equal(tract_checkout(NULL, f->t, "HEAD~1"), 0);
	assert_int_equal(tract_branch_list_get(&l, f->t), 0);
	for (size_t i = 0; i < l->count; i++)
		assert_false(l->items[i].current);
	tract_branch_list_free(l);
	/* no default branch: ahead and behind are unknown */
	assert_int_equal(tract_checkout(NULL, f->t, "zeta"), 0);
	assert_int_equal(tract_branch_rename(f->t, "main", "trunk"), 0);
	assert_int_equal(tract_branch_list_get(&l, f->t), 0);
	assert_int_equal(l->items[0].ahead, -1);
	assert_int_equal(l->items[0].behind, -1);
	assert_int_equal(tract_branch_list_to_json(&json, l), 0);
	assert_non_null(strstr(json, "\"ahead\": null, \"behind\": null"));
	tract_string_free(json);
	tract_branch_list_free(l);
	tract_branch_list_free(NULL);
	assert_int_equal(tract_branch_list_get(NULL, f->t), TRACT_EINVAL);
	fx_free(f);
}

/* DECISIONS.md: default_branch is honoured - the first commit creates it,
 * the list compares with it, the detached message names it. */
static void test_default_branch(void **state)
{
	tract_open_options o = TRACT_OPEN_OPTIONS_INIT;
	tract_branch_list *l = NULL;
	char h[3][65];
	fx *f;

	(void)state;
	o.default_branch = "trunk";
	f = fx_new(&o);
	linear(f, h, 2, "trunk");
	head_is(f, h[1], "trunk");
	assert_ref(f, "refs/heads/main", "-");
	assert_int_equal(tract_switch(NULL, f->t, "main", NULL), TRACT_ENOTFOUND);
	assert_int_equal(tract_branch_create(NULL, f->t, "main", "HEAD~1", 0), 0);
	assert_int_equal(tract_branch_list_get(&l, f->t), 0);
	assert_int_equal(l->count, 2);
	assert_string_equal(l->items[0].name, "main");
	assert_int_equal(l->items[0].ahead, 0);
	assert_int_equal(l->items[0].behind, 1); /* against trunk, not main */
	assert_true(l->items[1].current);
	tract_branch_list_free(l);
	assert_int_equal(tract_checkout(NULL, f->t, "HEAD~1"), 0);
	assert_int_equal(tract_commit_create_instruction(NULL, f->t, "x", NULL), TRACT_EDETACHED);
	assert_non_null(strstr(tract_error_last()->message, "'tract checkout trunk'"));
	/* another tract's first commit: the default branch too */
	{
		tract *t2;
		tract_head_state hs;
		assert_int_equal(tract_create(&t2, f->store, "second", NULL, &o), 0);
		assert_int_equal(tract_commit_create_instruction(NULL, t2, "y", NULL), 0);
		assert_int_equal(tract_txn_begin(f->store, TRACT_TXN_READ), 0);
		assert_int_equal(tract_head_read(&hs, t2), 0);
		assert_int_equal(tract_txn_end(f->store, 0), 0);
		assert_string_equal(hs.head.symbolic, "refs/heads/trunk");
		tract_free(t2);
	}
	fx_free(f);
}

static void test_branch_delete(void **state)
{
	fx *f = fx_new(NULL);
	char h[3][65], side[65], out[65];
	fx_counts before;
	char *refs;

	(void)state;
	linear(f, h, 3, "bd");
	assert_int_equal(tract_branch_create(NULL, f->t, "merged", "HEAD~1", 0), 0);
	assert_int_equal(tract_branch_create(NULL, f->t, "same", NULL, 0), 0);
	assert_int_equal(tract_switch(NULL, f->t, "merged", NULL), 0);
	assert_int_equal(tract_branch_create(NULL, f->t, "side", NULL, TRACT_BRANCH_CREATE_SWITCH),
			 0);
	fx_say(f, side, "user", "unmerged work");
	assert_int_equal(tract_switch(NULL, f->t, "main", NULL), 0);
	/* errors, nothing written */
	before = fx_count(f);
	refs = refs_dump(f);
	assert_int_equal(tract_branch_delete(out, f->t, "ghost", 0), TRACT_ENOTFOUND);
	assert_string_equal(tract_error_last()->message, "Branch not found: ghost");
	assert_int_equal(tract_branch_delete(out, f->t, "main", 1), TRACT_EINVAL);
	assert_string_equal(tract_error_last()->message, "Cannot delete the current branch 'main'");
	assert_int_equal(tract_branch_delete(out, f->t, "side", 0), TRACT_EUNMERGED);
	assert_non_null(strstr(tract_error_last()->message, "Branch 'side' has unmerged commits"));
	assert_int_equal(tract_branch_delete(out, f->t, "\xff", 0), TRACT_ENOTFOUND);
	assert_int_equal(tract_branch_delete(out, f->t, NULL, 0), TRACT_EINVAL);
	assert_refs_unchanged(f, refs);
	fx_assert_same_counts(before, fx_count(f));
	/* merged (an ancestor of HEAD) and equal to HEAD: no force needed */
	assert_int_equal(tract_branch_delete(out, f->t, "merged", 0), 0);
	assert_string_equal(out, h[1]);
	assert_int_equal(tract_branch_delete(out, f->t, "same", 0), 0);
	assert_ref(f, "refs/heads/merged", "-");
	/* the commits stay */
	resolve_ok(f, h[1], h[1]);
	/* relative to HEAD even when detached: at side's tip it is merged */
	assert_int_equal(tract_checkout(NULL, f->t, side), 0);
	assert_int_equal(tract_branch_create(NULL, f->t, "side2", "side", 0), 0);
	assert_int_equal(tract_checkout(NULL, f->t, "main"), 0);
	assert_int_equal(tract_branch_delete(out, f->t, "side2", 0), TRACT_EUNMERGED);
	assert_int_equal(tract_checkout(NULL, f->t, side), 0);
	assert_int_equal(tract_branch_delete(out, f->t, "side2", 0), 0);
	/* force deletes unmerged work; PREV_BRANCH may still name it */
	assert_int_equal(tract_checkout(NULL, f->t, "side"), 0);
	assert_int_equal(tract_checkout(NULL, f->t, "main"), 0);
	assert_int_equal(tract_branch_delete(out, f->t, "side", 1), 0);
	assert_string_equal(out, side);
	assert_ref(f, "PREV_BRANCH", "S:refs/heads/side");
	/* no HEAD commit: no merge check (HEAD attached to a missing branch) */
	assert_int_equal(tract_branch_create(NULL, f->t, "keep", side, 0), 0);
	set_ref(f, "HEAD", NULL, "refs/heads/nothing");
	assert_int_equal(tract_branch_delete(out, f->t, "keep", 0), 0);
	fx_free(f);
}

static void test_branch_rename(void **state)
{
	fx *f = fx_new(NULL);
	char h[2][65];
	char *refs;

	(void)state;
	linear(f, h, 2, "mv");
	assert_int_equal(tract_branch_create(NULL, f->t, "other", "HEAD~1", 0), 0);
	/* the current branch: HEAD follows */
	assert_int_equal(tract_branch_rename(f->t, "main", "trunk"), 0);
	head_is(f, h[1], "trunk");
	assert_ref(f, "refs/heads/main", "-");
	assert_ref_hash(f, "refs/heads/trunk", h[1]);
	/* PREV_BRANCH follows too; a branch that is not current: HEAD stays */
	assert_int_equal(tract_switch(NULL, f->t, "other", NULL), 0);
	assert_int_equal(tract_switch(NULL, f->t, "trunk", NULL), 0);
	assert_ref(f, "PREV_BRANCH", "S:refs/heads/other");
	assert_int_equal(tract_branch_rename(f->t, "other", "feature/x"), 0);
	assert_ref(f, "PREV_BRANCH", "S:refs/heads/feature/x");
	head_is(f, h[1], "trunk");
	assert_int_equal(tract_checkout(NULL, f->t, "-"), 0);
	head_is(f, h[0], "feature/x");
	/* to itself: nothing to do */
	refs = refs_dump(f);
	assert_int_equal(tract_branch_rename(f->t, "trunk", "trunk"), 0);
	/* errors */
	assert_int_equal(tract_branch_rename(f->t, "ghost", "g2"), TRACT_ENOTFOUND);
	assert_string_equal(tract_error_last()->message, "Branch not found: ghost");
	assert_int_equal(tract_branch_rename(f->t, "trunk", "feature/x"), TRACT_EEXISTS);
	assert_string_equal(tract_error_last()->message, "Branch already exists: feature/x");
	assert_int_equal(tract_branch_rename(f->t, "trunk", "x..y"), TRACT_EINVAL);
	assert_int_equal(tract_branch_rename(f->t, NULL, "y"), TRACT_EINVAL);
	assert_refs_unchanged(f, refs);
	fx_free(f);
}

/* ---- tags ----------------------------------------------------------------------- */

static void test_tags(void **state)
{
	fx *f = fx_new(NULL);
	char h[3][65], out[65], *json = NULL;
	tract_tag_list *l = NULL;
	char *refs;

	(void)state;
	assert_int_equal(tract_tag_create(out, f->t, "v0", NULL), TRACT_ENOTFOUND);
	linear(f, h, 3, "tag");
	assert_int_equal(tract_tag_create(out, f->t, "v1", NULL), 0);
	assert_string_equal(out, h[2]);
	assert_int_equal(tract_tag_create(out, f->t, "release/0.9", "HEAD~2"), 0);
	assert_string_equal(out, h[0]);
	assert_ref_hash(f, "refs/tags/v1", h[2]);
	/* tags are revisions */
	resolve_ok(f, "v1", h[2]);
	resolve_ok(f, "v1~1", h[1]);
	resolve_ok(f, "release/0.9", h[0]);
	/* a tag is no branch */
	assert_int_equal(tract_switch(NULL, f->t, "v1", NULL), TRACT_ENOTFOUND);
	head_is(f, h[2], "main");
	/* list by name */
	assert_int_equal(tract_tag_list_get(&l, f->t), 0);
	assert_int_equal(l->count, 2);
	assert_string_equal(l->items[0].name, "release/0.9");
	assert_string_equal(l->items[0].target, h[0]);
	assert_string_equal(l->items[1].name, "v1");
	assert_int_equal(tract_tag_list_to_json(&json, l), 0);
	{
		char want[200];
		snprintf(want, sizeof(want), "[{\"name\": \"release/0.9\", \"commit_hash\": \"%s\"}, ",
			 h[0]);
		assert_int_equal(strncmp(json, want, strlen(want)), 0);
	}
	tract_string_free(json);
	tract_tag_list_free(l);
	/* errors write nothing */
	refs = refs_dump(f);
	assert_int_equal(tract_tag_create(out, f->t, "v1", NULL), TRACT_EEXISTS);
	assert_string_equal(tract_error_last()->message, "Tag already exists: v1");
	assert_int_equal(tract_tag_create(out, f->t, "v 2", NULL), TRACT_EINVAL);
	assert_non_null(strstr(tract_error_last()->message, "Invalid tag name 'v 2'"));
	assert_int_equal(tract_tag_create(out, f->t, "v2", "nosuch"), TRACT_ENOTFOUND);
	assert_int_equal(tract_tag_delete(out, f->t, "v9"), TRACT_ENOTFOUND);
	assert_string_equal(tract_error_last()->message, "Tag not found: v9");
	assert_refs_unchanged(f, refs);
	/* delete */
	assert_int_equal(tract_tag_delete(out, f->t, "v1"), 0);
	assert_string_equal(out, h[2]);
	resolve_fails(f, "v1", TRACT_ENOTFOUND);
	assert_int_equal(tract_tag_list_get(&l, f->t), 0);
	assert_int_equal(l->count, 1);
	tract_tag_list_free(l);
	tract_tag_list_free(NULL);
	fx_free(f);
}

/* Clone copies tags (DECISIONS.md), and they resolve in the copy. */
static void test_clone_copies_tags(void **state)
{
	fx *f = fx_new(NULL);
	ts_store dst;
	tract_store *s2;
	tract *t2;
	char h[2][65], out[65];

	(void)state;
	linear(f, h, 2, "clone");
	assert_int_equal(tract_tag_create(NULL, f->t, "v1", "HEAD~1"), 0);
	assert_int_equal(tract_branch_create(NULL, f->t, "side", "v1", 0), 0);
	assert_int_equal(ts_fresh(&dst, "clone"), 0);
	if (tract_store_clone(NULL, f->uri, dst.uri, NULL) != 0)
		fail_msg("clone: %s", tract_error_last()->message);
	assert_int_equal(tract_store_open(&s2, dst.uri, 0), 0);
	assert_int_equal(tract_open(&t2, s2, f->t->id, NULL), 0);
	assert_int_equal(tract_revision_resolve(out, t2, "v1"), 0);
	assert_string_equal(out, h[0]);
	assert_int_equal(tract_revision_resolve(out, t2, "side"), 0);
	assert_string_equal(out, h[0]);
	tract_free(t2);
	tract_store_free(s2);
	ts_destroy(&dst);
	fx_free(f);
}

/* ---- batches and atomicity ------------------------------------------------------ */

static void test_batch_rollback(void **state)
{
	fx *f = fx_new(NULL);
	char h[2][65];
	char *refs;

	(void)state;
	linear(f, h, 2, "batch");
	refs = refs_dump(f);
	assert_int_equal(tract_batch_begin(f->t), 0);
	assert_int_equal(tract_reset(NULL, f->t, "HEAD~1", TRACT_RESET_SOFT), 0);
	assert_int_equal(tract_branch_create(NULL, f->t, "in-batch", NULL, 0), 0);
	assert_int_equal(tract_tag_create(NULL, f->t, "t", NULL), 0);
	assert_int_equal(tract_checkout(NULL, f->t, "in-batch"), 0);
	head_is(f, h[0], "in-batch");
	assert_int_equal(tract_batch_rollback(f->t), 0);
	assert_refs_unchanged(f, refs);
	/* a failure inside a batch is a validation failure: the batch goes on */
	assert_int_equal(tract_batch_begin(f->t), 0);
	assert_int_equal(tract_checkout(NULL, f->t, "nosuch"), TRACT_ENOTFOUND);
	assert_int_equal(tract_branch_create(NULL, f->t, "b", NULL, 0), 0);
	assert_int_equal(tract_batch_commit(f->t), 0);
	assert_ref_hash(f, "refs/heads/b", h[1]);
	fx_free(f);
}

/* ---- two writers ----------------------------------------------------------------- */

/* The other writer: a second store handle on the same store. */
static struct {
	tract_store *store;
	tract *t;
	int (*move)(tract *t);
	int calls, rc;
} other;

static void between_phases(tract *t)
{
	if (t == other.t)
		return; /* the other writer's own two phases */
	if (other.calls++ == 0)
		other.rc = other.move(other.t);
}

static int other_reset(tract *t)
{
	return tract_reset(NULL, t, "HEAD~2", TRACT_RESET_SOFT);
}

static int other_commit(tract *t)
{
	return tract_commit_create_instruction(NULL, t, "the other writer's commit", NULL);
}

static int other_delete(tract *t)
{
	return tract_branch_delete(NULL, t, "side", 1);
}

static int other_checkout(tract *t)
{
	return tract_checkout(NULL, t, "HEAD~1");
}

static int other_tag(tract *t)
{
	return tract_tag_create(NULL, t, "v1", "HEAD~1");
}

/* Run op on f while the other handle does move between its two phases:
 * op fails with TRACT_ESTALE, the other's change stands. */
static void race(fx *f, int (*move)(tract *t), int (*op)(fx *f), int retry_rc)
{
	char *before, *after_other;
	int rc;

	assert_int_equal(tract_store_open(&other.store, f->uri, 0), 0);
	assert_int_equal(tract_open(&other.t, other.store, f->t->id, NULL), 0);
	other.move = move;
	other.calls = 0;
	other.rc = -999;
	before = refs_dump(f);
	tract_nav_between_phases = between_phases;
	rc = op(f);
	tract_nav_between_phases = NULL;
	assert_int_equal(other.calls, 1);
	if (other.rc != 0)
		fail_msg("the other writer failed: %d", other.rc);
	if (rc != TRACT_ESTALE)
		fail_msg("rc %d (%s), want TRACT_ESTALE", rc, tract_error_last()->message);
	assert_non_null(strstr(tract_error_last()->message, "by another writer"));
	/* the store holds the other writer's change and nothing of ours */
	after_other = refs_dump(f);
	assert_true(strcmp(before, after_other) != 0);
	free(before);
	tract_free(other.t);
	tract_store_free(other.store);
	/* retried now, it sees the other writer's change */
	assert_int_equal(op(f), retry_rc);
	free(after_other);
}

static int op_reset(fx *f)
{
	return tract_reset(NULL, f->t, "HEAD~1", TRACT_RESET_HARD);
}

static int op_checkout(fx *f)
{
	return tract_checkout(NULL, f->t, "side");
}

static int op_rename(fx *f)
{
	return tract_branch_rename(f->t, "side", "renamed");
}

static int op_delete_unmerged_check(fx *f)
{
	return tract_branch_delete(NULL, f->t, "merged", 0);
}

static int op_tag(fx *f)
{
	return tract_tag_create(NULL, f->t, "v1", NULL);
}

static int op_branch_at_head(fx *f)
{
	return tract_branch_create(NULL, f->t, "at-head", NULL, 0);
}

static void test_estale_between_phases(void **state)
{
	fx *f = fx_new(NULL);
	char h[6][65], tip[65];

	(void)state;
	linear(f, h, 6, "race");
	assert_int_equal(tract_branch_create(NULL, f->t, "side", "HEAD~1", 0), 0);
	/* reset: the other writer reset main first */
	race(f, other_reset, op_reset, 0);
	/* main went to h[3] (the other's HEAD~2), then ours: HEAD~1 of that */
	assert_int_equal(tract_revision_resolve(tip, f->t, "main"), 0);
	assert_string_equal(tip, h[2]);
	/* reset: the other writer committed on main in between */
	race(f, other_commit, op_reset, 0);
	assert_int_equal(tract_revision_resolve(tip, f->t, "main"), 0);
	assert_string_equal(tip, h[2]);
	/* checkout while the other writer moved HEAD */
	race(f, other_checkout, op_checkout, 0);
	head_is(f, h[4], "side");
	assert_int_equal(tract_switch(NULL, f->t, "main", NULL), 0);
	/* rename while the other moved HEAD */
	race(f, other_checkout, op_rename, 0);
	assert_ref_hash(f, "refs/heads/renamed", h[4]);
	/* delete checked against a HEAD the other writer moved */
	assert_int_equal(tract_checkout(NULL, f->t, "main"), 0);
	assert_int_equal(tract_branch_create(NULL, f->t, "merged", "HEAD~1", 0), 0);
	race(f, other_checkout, op_delete_unmerged_check, 0);
	/* two creations of one tag: the first wins, the second is stale */
	race(f, other_tag, op_tag, TRACT_EEXISTS);
	/* a branch made at HEAD while the other writer committed on HEAD's branch */
	assert_int_equal(tract_switch(NULL, f->t, "main", NULL), 0);
	race(f, other_commit, op_branch_at_head, 0);
	assert_int_equal(tract_revision_resolve(tip, f->t, "main"), 0);
	assert_ref_hash(f, "refs/heads/at-head", tip);
	(void)other_delete;
	fx_free(f);
}

/* Processes resetting one branch at once: each call succeeds or fails
 * with TRACT_ESTALE, never anything else, and the branch ends at one of
 * the targets with HEAD attached. */
static void test_concurrent_processes(void **state)
{
	fx *f = fx_new(NULL);
	char h[4][65], uri[600], id[65], tip[65];
	pid_t pids[3];
	int i, status, ok = 0;

	(void)state;
	linear(f, h, 4, "procs");
	memcpy(uri, f->uri, sizeof(uri));
	memcpy(id, f->t->id, sizeof(id));
	/* no connection crosses fork(): the parent's handles are closed */
	tract_free(f->t);
	f->t = NULL;
	tract_store_free(f->store);
	f->store = NULL;
	for (i = 0; i < 3; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			tract_store *s;
			tract *t;
			int n, bad = 0;
			if (tract_store_open(&s, uri, 0) != 0 || tract_open(&t, s, id, NULL) != 0)
				_exit(2);
			for (n = 0; n < 25; n++) {
				int rc = tract_reset(NULL, t, h[(n + i) % 4], TRACT_RESET_SOFT);
				if (rc == 0 || rc == TRACT_ESTALE)
					continue;
				fprintf(stderr, "child %d: reset: %d %s\n", i, rc,
					tract_error_last()->message);
				bad = 1;
			}
			tract_free(t);
			tract_store_free(s);
			_exit(bad);
		}
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	assert_int_equal(ok, 3);
	assert_int_equal(tract_store_open(&f->store, uri, 0), 0);
	assert_int_equal(tract_open(&f->t, f->store, id, NULL), 0);
	assert_int_equal(tract_revision_resolve(tip, f->t, "main"), 0);
	for (i = 0; i < 4 && strcmp(tip, h[i]) != 0; i++)
		;
	assert_true(i < 4);
	head_is(f, tip, "main");
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_revision_suffixes),
		cmocka_unit_test(test_revision_merge_parents),
		cmocka_unit_test(test_revision_names),
		cmocka_unit_test(test_revision_ambiguous_prefix),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_checkout),
		cmocka_unit_test(test_checkout_failure_writes_nothing),
		cmocka_unit_test(test_checkout_prev_to_deleted_branch),
		cmocka_unit_test(test_switch),
		cmocka_unit_test(test_branch_create),
		cmocka_unit_test(test_branch_names),
		cmocka_unit_test(test_branch_list),
		cmocka_unit_test(test_default_branch),
		cmocka_unit_test(test_branch_delete),
		cmocka_unit_test(test_branch_rename),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_clone_copies_tags),
		cmocka_unit_test(test_batch_rollback),
		cmocka_unit_test(test_estale_between_phases),
		cmocka_unit_test(test_concurrent_processes),
	};
	int rc = ts_init("refs");

	if (rc)
		return rc;
	return ts_run("refs", tests, TS_COUNT(tests), NULL, 0);
}
