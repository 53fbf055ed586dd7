/*
 * revision.c - resolving a revision of a tract to a commit: HEAD, a full
 * hash, a ref (ORIG_HEAD, a tag, a branch), a unique hex prefix
 * (spec/history.md §2), followed by git's ~N, ^ and ^N suffixes; and
 * looking a commit up with its content (model layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"
#include "row.h"
#include "walk.h"

typedef struct {
	char hashes[6][65];
	size_t n;
} prefix_matches;

static int prefix_cb(const tract_commit_row *row, void *payload)
{
	prefix_matches *m = payload;

	if (m->n < 6)
		snprintf(m->hashes[m->n++], 65, "%s", row->commit_hash);
	return 0;
}

static int is_hex_prefix(const char *s, char *lower, size_t cap)
{
	size_t i, n = strlen(s);

	if (n < 4 || n > 64 || n >= cap)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
		lower[i] = c;
	}
	lower[n] = '\0';
	return 1;
}

/* A special ref at the top level, as git's "%s" rule: ORIG_HEAD, PREV_HEAD. */
static int is_toplevel_name(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");

	return n > 0 && !s[n] && strcmp(s, "HEAD") != 0;
}

/*
 * The commit a ref row names: its own hash, or for a symbolic ref the hash
 * of its target (one level). *found is 0 when the row is missing or names
 * no commit. Names longer than the refs column never exist.
 */
static int ref_commit(int *found, char out[65], tract *t, const char *name)
{
	tract_ref_value v;
	int rc;

	*found = 0;
	if (strlen(name) > TRACT_REF_NAME_MAX)
		return 0;
	rc = tract_ref_read(&v, t->store, t->id, name);
	if (rc < 0 || !v.exists)
		return rc;
	if (!v.commit[0] && v.symbolic[0]) {
		char target[sizeof(v.symbolic)];
		memcpy(target, v.symbolic, sizeof(target));
		rc = tract_ref_read(&v, t->store, t->id, target);
		if (rc < 0 || !v.exists)
			return rc;
	}
	if (v.commit[0]) {
		memcpy(out, v.commit, 65);
		*found = 1;
	}
	return 0;
}

/*
 * The base of a revision (before any ~ or ^), in git's order where
 * spec/history.md §2 is silent: HEAD (or @); an exact hash of this tract;
 * the refs a name can mean - NAME itself for ALL_CAPS names and
 * refs/..., then refs/NAME, refs/tags/NAME, refs/heads/NAME (a tag or a
 * branch shadows an equal hash prefix, §2); a unique hex prefix of at
 * least 4 digits, matched literally and case-insensitively.
 * 1 when nothing matched (the caller reports it), 0 when found.
 */
static int resolve_base(char out[65], tract *t, const char *ref)
{
	static const char *const rules[] = {"refs/%s", "refs/tags/%s", "refs/heads/%s"};
	tract_store *s = t->store;
	prefix_matches m;
	char lower[65], name[TRACT_REF_NAME_MAX + 2];
	size_t i;
	int rc, found;

	if (strcmp(ref, "HEAD") == 0 || strcmp(ref, "@") == 0) {
		tract_head_state hs;
		rc = tract_head_read(&hs, t);
		if (rc < 0)
			return rc;
		if (!hs.hash[0])
			return tract_error_set(TRACT_ENOTFOUND, "HEAD has no commit yet");
		memcpy(out, hs.hash, 65);
		return 0;
	}
	if (!tract_utf8_valid(ref, strlen(ref)))
		return 1; /* no name nor hash is */
	if (is_hex_prefix(ref, lower, sizeof(lower)) && strlen(lower) == 64) {
		tract_row r;
		rc = s->be->commit_get(s->conn, t->id, lower, tract_row_copy_cb, &r);
		if (rc == 0) {
			tract_row_dispose(&r);
			memcpy(out, lower, 65);
			return 0;
		}
		if (rc != TRACT_ENOTFOUND)
			return tract_backend_error(s, rc, "look up commit");
	}
	if (is_toplevel_name(ref) || strncmp(ref, "refs/", 5) == 0) {
		rc = ref_commit(&found, out, t, ref);
		if (rc < 0 || found)
			return rc;
	}
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		if (strlen(ref) > TRACT_REF_NAME_MAX)
			break;
		snprintf(name, sizeof(name), rules[i], ref);
		rc = ref_commit(&found, out, t, name);
		if (rc < 0 || found)
			return rc;
	}
	if (is_hex_prefix(ref, lower, sizeof(lower))) {
		memset(&m, 0, sizeof(m));
		rc = s->be->commit_prefix(s->conn, t->id, lower, 6, prefix_cb, &m);
		if (rc < 0)
			return tract_backend_error(s, rc, "look up prefix");
		if (m.n == 1) {
			memcpy(out, m.hashes[0], 65);
			return 0;
		}
		if (m.n > 1) {
			tract_buf b = TRACT_BUF_INIT;
			for (i = 0; i < m.n && i < 5; i++)
				tract_buf_printf(&b, "%s%.12s...", i ? ", " : "", m.hashes[i]);
			rc = tract_error_set(TRACT_EAMBIGUOUS, "Ambiguous prefix '%s'. Matches: %s",
					     ref, b.ptr ? b.ptr : "");
			tract_buf_dispose(&b);
			return rc;
		}
	}
	return 1;
}

typedef struct {
	uint64_t want; /* rows to read: the steps + 1 */
	uint64_t seen;
	char last[65]; /* the last row read */
} steps_walk;

static int steps_cb(const tract_chain_row *row, void *payload)
{
	steps_walk *w = payload;

	tract_copy_id(w->last, row->commit.commit_hash);
	return ++w->seen >= w->want;
}

/* n first-parent steps from at (in place), inside this tract; 1 when the
 * history ends before (at then names the last commit reached). */
static int first_parents(char at[65], tract *t, uint64_t n)
{
	steps_walk w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.want = n + 1;
	rc = tract_chain_walk(t->store, t->id, at, n >= SIZE_MAX - 1 ? 0 : (size_t)n + 1, 0,
			      INT64_MAX, steps_cb, &w, "resolve revision", NULL);
	if (rc < 0)
		return rc;
	if (w.seen)
		memcpy(at, w.last, 65);
	return w.seen == w.want ? 0 : 1;
}

typedef struct {
	uint64_t k;   /* parent number asked for, >= 2 */
	char hash[65];
} nth_parent;

static int nth_parent_cb(const tract_chain_row *row, void *payload)
{
	nth_parent *p = payload;

	if (p->k - 2 < row->n_extra_parents)
		tract_copy_id(p->hash, row->extra_parents[p->k - 2]);
	return 1;
}

/* Parent number k >= 2 of at (a merge's commit_parents position k - 1),
 * in place; 1 when it has none, or that parent is not of this tract. */
static int merge_parent(char at[65], tract *t, uint64_t k)
{
	nth_parent p;
	tract_row r;
	int rc;

	memset(&p, 0, sizeof(p));
	p.k = k;
	rc = t->store->be->commit_chain(t->store->conn, t->id, at, 1, TRACT_CHAIN_PARENTS,
					INT64_MAX, nth_parent_cb, &p);
	if (rc < 0)
		return tract_backend_error(t->store, rc, "read merge parents");
	if (!p.hash[0])
		return 1;
	rc = t->store->be->commit_get(t->store->conn, t->id, p.hash, tract_row_copy_cb, &r);
	if (rc == TRACT_ENOTFOUND)
		return 1;
	if (rc < 0)
		return tract_backend_error(t->store, rc, "read merge parent");
	tract_row_dispose(&r);
	memcpy(at, p.hash, 65);
	return 0;
}

/* The number after ~ or ^ at *p (none: 1), advancing *p. */
static int parse_count(uint64_t *out, const char **p, const char *ref)
{
	const char *s = *p;
	uint64_t v = 0;
	size_t digits = 0;

	while (*s >= '0' && *s <= '9') {
		if (++digits > TRACT_REVISION_MAX_DIGITS)
			return tract_error_set(TRACT_EINVAL,
					       "invalid revision '%.200s': number after '%c' is "
					       "too large",
					       ref, (*p)[-1]);
		v = v * 10 + (uint64_t)(*s - '0');
		s++;
	}
	*out = digits ? v : 1;
	*p = s;
	return 0;
}

int tract_resolve_in_txn(char out[65], tract *t, const char *ref)
{
	char base[TRACT_REVISION_MAX + 1], at[65];
	const char *p;
	size_t n;
	uint64_t pending = 0, k = 0;
	int rc;

	if (!ref || !*ref)
		return tract_error_set(TRACT_EINVAL, "empty commit reference");
	n = strnlen(ref, TRACT_REVISION_MAX + 1);
	if (n > TRACT_REVISION_MAX)
		return tract_error_set(TRACT_EINVAL, "revision is longer than %d bytes",
				       TRACT_REVISION_MAX);
	/* Names cannot hold '~' or '^' (§5.1): the base ends at the first. */
	n = strcspn(ref, "~^");
	if (n == 0)
		return tract_error_set(TRACT_EINVAL,
				       "invalid revision '%.200s': nothing before '%c'", ref,
				       ref[0]);
	memcpy(base, ref, n);
	base[n] = '\0';
	rc = resolve_base(at, t, base);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return tract_error_set(TRACT_ENOTFOUND, "Commit not found: %s", ref);
	/* Suffixes: ~N (N first parents), ^ and ^1 (the first parent), ^N
	 * (parent N of a merge: commit_parents position N - 1), ^0 (itself).
	 * Runs of first-parent steps are walked in one go. */
	for (p = ref + n; *p;) {
		char op = *p++;
		if (op != '~' && op != '^')
			return tract_error_set(TRACT_EINVAL,
					       "invalid revision '%.200s': unexpected '%c' after "
					       "a number",
					       ref, op);
		rc = parse_count(&k, &p, ref);
		if (rc < 0)
			return rc;
		if (op == '~' || k == 1) {
			pending = pending + k < pending ? UINT64_MAX : pending + k;
			continue;
		}
		if (k == 0)
			continue;
		if (pending) {
			rc = first_parents(at, t, pending);
			if (rc != 0)
				goto short_history;
			pending = 0;
		}
		rc = merge_parent(at, t, k);
		if (rc < 0)
			return rc;
		if (rc > 0)
			return tract_error_set(TRACT_ENOTFOUND,
					       "Commit not found: %.200s (%.8s has no parent %" PRIu64
					       ")",
					       ref, at, k);
	}
	if (pending) {
		rc = first_parents(at, t, pending);
		if (rc != 0)
			goto short_history;
	}
	memcpy(out, at, 65);
	return 0;
short_history:
	if (rc < 0)
		return rc;
	return tract_error_set(TRACT_ENOTFOUND,
			       "Commit not found: %.200s (the history ends at %.8s, which has no "
			       "parent)",
			       ref, at);
}

int tract_revision_resolve(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const char *ref)
{
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_revision_resolve: NULL argument");
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_resolve_in_txn(out, t, ref);
	return tract_txn_end(t->store, rc);
}

typedef struct {
	tract_row row;
	int found;
} one_chain;

static int one_chain_cb(const tract_chain_row *row, void *payload)
{
	one_chain *o = payload;
	int rc = tract_row_copy_chain(&o->row, row);

	if (rc < 0)
		return rc;
	o->found = 1;
	return 1;
}

int tract_commit_read(tract_row *out, tract *t, const char *hash, unsigned flags)
{
	one_chain o;
	int rc;

	memset(&o, 0, sizeof(o));
	rc = t->store->be->commit_chain(t->store->conn, t->id, hash, 1, flags, INT64_MAX,
					one_chain_cb, &o);
	if (rc < 0) {
		if (o.found)
			tract_row_dispose(&o.row);
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(t->store, rc, "read commit");
	}
	if (!o.found)
		return tract_error_set(TRACT_ENOTFOUND, "Commit not found: %s", hash);
	*out = o.row;
	return 0;
}

int tract_commit_lookup(tract_commit **out, tract *t, const char *ref)
{
	char hash[65];
	tract_row r;
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_commit_lookup: NULL argument");
	*out = NULL;
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_resolve_in_txn(hash, t, ref);
	if (rc == 0)
		rc = tract_commit_read(&r, t, hash,
				       TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS | TRACT_CHAIN_PRIORITY);
	rc = tract_txn_end(t->store, rc);
	if (rc < 0)
		return rc;
	*out = tract_commit_from_row(&r);
	return *out ? 0 : tract_error_oom();
}
