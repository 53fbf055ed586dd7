/*
 * navigate.c - moving HEAD: reset (ORIG_HEAD), checkout (a branch
 * attaches, any other revision detaches, "-" returns to PREV_HEAD /
 * PREV_BRANCH), switch (branches only, -c creates), and the two-phase
 * machinery every ref-moving operation shares (nav.h): validate in a read
 * transaction, write in one write transaction checking that the refs read
 * did not move (spec/history.md §1-§4, DECISIONS.md rule 3; operations).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "nav.h"
#include "reflog.h"

void (*tract_nav_between_phases)(tract *t);

/* ---- plans ------------------------------------------------------------------ */

void nav_plan_add(nav_plan *p, nav_op op, const char *name, const char *value,
		  const tract_ref_value *expect)
{
	nav_write *w;

	if (p->n >= NAV_MAX_WRITES)
		abort(); /* a programming error: plans are small and fixed */
	w = &p->w[p->n++];
	memset(w, 0, sizeof(*w));
	w->op = op;
	snprintf(w->name, sizeof(w->name), "%s", name);
	snprintf(w->value, sizeof(w->value), "%s", value ? value : "");
	if (expect) {
		w->check = 1;
		w->expect = *expect;
	}
}

int nav_branch_ref(char *buf, size_t cap, const char *name)
{
	if (strlen(name) + strlen("refs/heads/") > TRACT_REF_NAME_MAX || cap <= TRACT_REF_NAME_MAX)
		return 1;
	snprintf(buf, cap, "refs/heads/%s", name);
	return 0;
}

static int same_ref(const tract_ref_value *a, const tract_ref_value *b)
{
	return a->exists == b->exists && strcmp(a->commit, b->commit) == 0 &&
	       strcmp(a->symbolic, b->symbolic) == 0;
}

static int stale(const char *name)
{
	if (strncmp(name, "refs/heads/", 11) == 0)
		return tract_error_set(TRACT_ESTALE,
				       "branch '%s' was changed by another writer; nothing was "
				       "changed",
				       name + 11);
	if (strncmp(name, "refs/tags/", 10) == 0)
		return tract_error_set(TRACT_ESTALE,
				       "tag '%s' was changed by another writer; nothing was changed",
				       name + 10);
	return tract_error_set(TRACT_ESTALE,
			       "%s was changed by another writer; nothing was changed", name);
}

static int apply_one(tract *t, const nav_write *w, const char *reason)
{
	tract_ref_value nv;
	tract_store *s = t->store;
	tract_ref_value cur;
	tract_ref_row exp;
	int rc;

	rc = tract_ref_read(&cur, s, t->id, w->name);
	if (rc < 0)
		return rc;
	if (w->check && !same_ref(&cur, &w->expect))
		return stale(w->name);
	memset(&exp, 0, sizeof(exp));
	exp.commit_hash = cur.commit[0] ? cur.commit : NULL;
	exp.symbolic_target = cur.symbolic[0] ? cur.symbolic : NULL;
	switch (w->op) {
	case NAV_GUARD:
		return 0;
	case NAV_SET_DIRECT:
		if (cur.exists && !cur.symbolic[0] && strcmp(cur.commit, w->value) == 0)
			return 0;
		rc = s->be->ref_cas(s->conn, t->id, w->name, w->value, NULL,
				    cur.exists ? &exp : NULL);
		break;
	case NAV_SET_SYMBOLIC:
		if (cur.exists && !cur.commit[0] && strcmp(cur.symbolic, w->value) == 0)
			return 0;
		rc = s->be->ref_cas(s->conn, t->id, w->name, NULL, w->value,
				    cur.exists ? &exp : NULL);
		break;
	case NAV_DELETE:
		if (!cur.exists)
			return 0;
		rc = s->be->ref_delete(s->conn, t->id, w->name, &exp);
		break;
	}
	if (rc == TRACT_ESTALE)
		return stale(w->name);
	if (rc < 0)
		return tract_backend_error(s, rc, "write ref");
	/* The ref log (reflog.c): moves that are not fast-forwards. */
	memset(&nv, 0, sizeof(nv));
	nv.exists = w->op != NAV_DELETE;
	if (w->op == NAV_SET_DIRECT)
		tract_copy_id(nv.commit, w->value);
	else if (w->op == NAV_SET_SYMBOLIC)
		snprintf(nv.symbolic, sizeof(nv.symbolic), "%s", w->value);
	return tract_reflog_note(s, t->id, w->name, &cur, &nv, reason[0] ? reason : "navigate", 1);
}

int nav_run(char out[65], tract *t, int (*fn)(nav_plan *p, tract *t, void *arg), void *arg)
{
	nav_plan *p;
	size_t i;
	int rc;

	p = calloc(1, sizeof(*p));
	if (!p)
		return tract_error_oom();
	/* The plan writes nothing: inside a batch its failure must not mark
	 * the batch failed, so it runs in the batch's transaction as it is. */
	if (t->store->txn_depth > 0) {
		rc = fn(p, t, arg);
	} else {
		rc = tract_txn_begin(t->store, TRACT_TXN_READ);
		if (rc == 0) {
			rc = fn(p, t, arg);
			rc = tract_txn_end(t->store, rc);
		}
	}
	/* A plan that writes nothing (renaming a branch to itself) is done. */
	if (rc == 0 && p->n > 0) {
		if (tract_nav_between_phases)
			tract_nav_between_phases(t);
		rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
		if (rc == 0) {
			for (i = 0; rc == 0 && i < p->n; i++)
				rc = apply_one(t, &p->w[i], p->reason);
			rc = tract_txn_end(t->store, rc);
		}
	}
	tract_cache_sync(t);
	if (rc == 0 && out)
		memcpy(out, p->result, 65);
	free(p);
	return rc;
}

/* ---- shared steps ---------------------------------------------------------------- */

/* Save the position being left (§4.1 "save prev"): PREV_HEAD, and
 * PREV_BRANCH when attached (deleted when detached). Nothing is saved
 * without a current commit. prev_head / prev_branch (or NULL) are the
 * values an operation read and relies on: they must not have moved. */
static void save_prev(nav_plan *p, const tract_head_state *hs, const tract_ref_value *prev_head,
		      const tract_ref_value *prev_branch)
{
	if (!hs->hash[0]) {
		if (prev_head)
			nav_plan_add(p, NAV_GUARD, "PREV_HEAD", NULL, prev_head);
		if (prev_branch)
			nav_plan_add(p, NAV_GUARD, "PREV_BRANCH", NULL, prev_branch);
		return;
	}
	nav_plan_add(p, NAV_SET_DIRECT, "PREV_HEAD", hs->hash, prev_head);
	if (hs->head.symbolic[0])
		nav_plan_add(p, NAV_SET_SYMBOLIC, "PREV_BRANCH", hs->head.symbolic, prev_branch);
	else
		nav_plan_add(p, NAV_DELETE, "PREV_BRANCH", NULL, prev_branch);
}

/* The branch row of name when it exists and names a commit (*found). */
static int branch_read(int *found, tract_ref_value *out, char ref[TRACT_REF_NAME_MAX + 1],
		       tract *t, const char *name)
{
	int rc;

	*found = 0;
	memset(out, 0, sizeof(*out));
	if (!name[0] || !tract_utf8_valid(name, strlen(name)) ||
	    nav_branch_ref(ref, TRACT_REF_NAME_MAX + 1, name) != 0)
		return 0;
	rc = tract_ref_read(out, t->store, t->id, ref);
	if (rc == 0)
		*found = out->exists && out->commit[0];
	return rc;
}

/* Attach HEAD to the branch ref (whose row br was read), guarding it. */
static void attach(nav_plan *p, const tract_head_state *hs, const char *ref,
		   const tract_ref_value *br)
{
	nav_plan_add(p, NAV_SET_SYMBOLIC, "HEAD", ref, &hs->head);
	nav_plan_add(p, NAV_GUARD, ref, NULL, br);
}

/* ---- reset ------------------------------------------------------------------------ */

typedef struct {
	const char *rev;
} reset_args;

static int plan_reset(nav_plan *p, tract *t, void *arg)
{
	reset_args *a = arg;
	tract_head_state hs;
	char target[65], ref[TRACT_REF_NAME_MAX + 1];
	int rc;

	snprintf(p->reason, sizeof(p->reason), "reset");

	rc = tract_head_read(&hs, t);
	if (rc == 0)
		rc = tract_resolve_in_txn(target, t, a->rev);
	if (rc < 0)
		return rc;
	if (hs.hash[0])
		nav_plan_add(p, NAV_SET_DIRECT, "ORIG_HEAD", hs.hash, NULL);
	if (!hs.head.exists) {
		/* No HEAD yet: as the first commit would (§1.2), on the
		 * default branch. */
		tract_ref_value br;
		snprintf(ref, sizeof(ref), "refs/heads/%s", t->default_branch);
		rc = tract_ref_read(&br, t->store, t->id, ref);
		if (rc < 0)
			return rc;
		nav_plan_add(p, NAV_SET_SYMBOLIC, "HEAD", ref, &hs.head);
		nav_plan_add(p, NAV_SET_DIRECT, ref, target, &br);
	} else if (hs.head.symbolic[0]) {
		nav_plan_add(p, NAV_GUARD, "HEAD", NULL, &hs.head);
		nav_plan_add(p, NAV_SET_DIRECT, hs.head.symbolic, target, &hs.branch);
	} else {
		nav_plan_add(p, NAV_SET_DIRECT, "HEAD", target, &hs.head);
	}
	memcpy(p->result, target, 65);
	return 0;
}

const char *tract_reset_mode_name(tract_reset_mode mode)
{
	switch (mode) {
	case TRACT_RESET_SOFT: return "soft";
	case TRACT_RESET_HARD: return "hard";
	default: return "unknown";
	}
}

int tract_reset(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *rev,
		tract_reset_mode mode)
{
	reset_args a = {rev};

	if (!t || !rev)
		return tract_error_set(TRACT_EINVAL, "tract_reset: NULL argument");
	if (mode != TRACT_RESET_SOFT && mode != TRACT_RESET_HARD)
		return tract_error_set(TRACT_EINVAL, "unknown reset mode %d", (int)mode);
	return nav_run(out, t, plan_reset, &a);
}

/* ---- checkout --------------------------------------------------------------------- */

/* checkout - (§4.1): back to PREV_BRANCH when it still exists, otherwise
 * PREV_HEAD detached (DECISIONS.md: never a HEAD on a missing branch). */
static int plan_checkout_prev(nav_plan *p, tract *t)
{
	tract_head_state hs;
	tract_ref_value prev, prev_branch, br;
	char ref[TRACT_REF_NAME_MAX + 1];
	int rc;

	snprintf(p->reason, sizeof(p->reason), "checkout -");

	rc = tract_head_read(&hs, t);
	if (rc == 0)
		rc = tract_ref_read(&prev, t->store, t->id, "PREV_HEAD");
	if (rc == 0)
		rc = tract_ref_read(&prev_branch, t->store, t->id, "PREV_BRANCH");
	if (rc < 0)
		return rc;
	if (!prev.exists || !prev.commit[0])
		return tract_error_set(TRACT_ENOTFOUND,
				       "No previous position to return to (PREV_HEAD not set)");
	memset(&br, 0, sizeof(br));
	if (prev_branch.exists && prev_branch.symbolic[0] &&
	    strlen(prev_branch.symbolic) <= TRACT_REF_NAME_MAX) {
		snprintf(ref, sizeof(ref), "%s", prev_branch.symbolic);
		rc = tract_ref_read(&br, t->store, t->id, ref);
		if (rc < 0)
			return rc;
	}
	save_prev(p, &hs, &prev, &prev_branch);
	if (br.exists && br.commit[0])
		attach(p, &hs, ref, &br);
	else
		nav_plan_add(p, NAV_SET_DIRECT, "HEAD", prev.commit, &hs.head);
	/* the saved position, as the reference returns it */
	memcpy(p->result, prev.commit, 65);
	return 0;
}

static int plan_checkout(nav_plan *p, tract *t, void *arg)
{
	const char *target = arg;
	tract_head_state hs;
	tract_ref_value br;
	char ref[TRACT_REF_NAME_MAX + 1], hash[65];
	int rc, found;

	snprintf(p->reason, sizeof(p->reason), "checkout");

	if (strcmp(target, "-") == 0)
		return plan_checkout_prev(p, t);
	rc = tract_head_read(&hs, t);
	if (rc == 0)
		rc = branch_read(&found, &br, ref, t, target);
	if (rc < 0)
		return rc;
	/* A branch name attaches, before any other reading (§4.1). */
	if (found) {
		save_prev(p, &hs, NULL, NULL);
		attach(p, &hs, ref, &br);
		memcpy(p->result, br.commit, 65);
		return 0;
	}
	rc = tract_resolve_in_txn(hash, t, target);
	if (rc < 0)
		return rc;
	save_prev(p, &hs, NULL, NULL);
	nav_plan_add(p, NAV_SET_DIRECT, "HEAD", hash, &hs.head);
	memcpy(p->result, hash, 65);
	return 0;
}

int tract_checkout(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *target)
{
	if (!t || !target)
		return tract_error_set(TRACT_EINVAL, "tract_checkout: NULL argument");
	return nav_run(out, t, plan_checkout, (void *)target);
}

/* ---- switch ----------------------------------------------------------------------- */

typedef struct {
	const char *name;
	const char *start; /* create: where the new branch starts (NULL = HEAD) */
	int create;
} switch_args;

static int plan_switch(nav_plan *p, tract *t, void *arg)
{
	switch_args *a = arg;
	tract_head_state hs;
	tract_ref_value br;
	char ref[TRACT_REF_NAME_MAX + 1], start[65];
	int rc, found;

	snprintf(p->reason, sizeof(p->reason), "switch");

	rc = tract_head_read(&hs, t);
	if (rc == 0)
		rc = branch_read(&found, &br, ref, t, a->name);
	if (rc < 0)
		return rc;
	if (!a->create) {
		if (!found)
			return tract_error_set(TRACT_ENOTFOUND, "Branch not found: %s", a->name);
		save_prev(p, &hs, NULL, NULL);
		attach(p, &hs, ref, &br);
		memcpy(p->result, br.commit, 65);
		return 0;
	}
	if (br.exists)
		return tract_error_set(TRACT_EEXISTS, "Branch already exists: %s", a->name);
	if (a->start) {
		rc = tract_resolve_in_txn(start, t, a->start);
		if (rc < 0)
			return rc;
	} else if (hs.hash[0]) {
		memcpy(start, hs.hash, 65);
	} else {
		return tract_error_set(TRACT_ENOTFOUND, "Cannot create branch: no commits exist");
	}
	nav_plan_add(p, NAV_SET_DIRECT, ref, start, &br);
	save_prev(p, &hs, NULL, NULL);
	nav_plan_add(p, NAV_SET_SYMBOLIC, "HEAD", ref, &hs.head);
	if (!a->start && hs.head.symbolic[0]) /* made at HEAD's branch */
		nav_plan_add(p, NAV_GUARD, hs.head.symbolic, NULL, &hs.branch);
	memcpy(p->result, start, 65);
	return 0;
}

int tract_switch_options_init(tract_switch_options *opts, unsigned int version)
{
	tract_switch_options defaults = TRACT_SWITCH_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_switch_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_SWITCH_OPTIONS_VERSION, "tract_switch_options") <
	    0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

int tract_switch(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *branch,
		 const tract_switch_options *opts)
{
	tract_switch_options defaults = TRACT_SWITCH_OPTIONS_INIT;
	switch_args a;
	int rc;

	if (!t || !branch)
		return tract_error_set(TRACT_EINVAL, "tract_switch: NULL argument");
	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_SWITCH_OPTIONS_VERSION,
				"tract_switch_options") < 0)
		return TRACT_EINVAL;
	if (strcmp(branch, "-") == 0 && !opts->create)
		return tract_checkout(out, t, "-");
	if (opts->create) {
		rc = tract_branch_name_check(branch);
		if (rc < 0)
			return rc;
	}
	a.name = branch;
	a.start = opts->start;
	a.create = opts->create;
	return nav_run(out, t, plan_switch, &a);
}
