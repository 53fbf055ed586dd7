/*
 * revision.c - resolving a reference of a tract to a commit: HEAD, a full
 * hash, a branch name or a unique hex prefix (spec/core.md §5), and
 * looking a commit up with its content (model layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "row.h"

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

int tract_resolve_in_txn(char out[65], tract *t, const char *ref)
{
	tract_store *s = t->store;
	tract_ref_value br;
	prefix_matches m;
	char lower[65], name[300];
	int rc;

	if (!ref || !*ref)
		return tract_error_set(TRACT_EINVAL, "empty commit reference");
	if (strcmp(ref, "HEAD") == 0) {
		tract_head_state hs;
		rc = tract_head_read(&hs, t);
		if (rc < 0)
			return rc;
		if (!hs.hash[0])
			return tract_error_set(TRACT_ENOTFOUND, "HEAD has no commit yet");
		memcpy(out, hs.hash, 65);
		return 0;
	}
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
	if (strlen(ref) + strlen("refs/heads/") < sizeof(name)) {
		snprintf(name, sizeof(name), "refs/heads/%s", ref);
		rc = tract_ref_read(&br, s, t->id, name);
		if (rc < 0)
			return rc;
		if (br.exists && br.commit[0]) {
			memcpy(out, br.commit, 65);
			return 0;
		}
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
			size_t i;
			for (i = 0; i < m.n && i < 5; i++)
				tract_buf_printf(&b, "%s%.12s...", i ? ", " : "", m.hashes[i]);
			rc = tract_error_set(TRACT_EAMBIGUOUS, "Ambiguous prefix '%s'. Matches: %s",
					     ref, b.ptr ? b.ptr : "");
			tract_buf_dispose(&b);
			return rc;
		}
	}
	return tract_error_set(TRACT_ENOTFOUND, "Commit not found: %s", ref);
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

/* Fetch one commit with payload and parents (a chain walk of length 1). */
static int fetch_full(tract_row *out, tract *t, const char *hash)
{
	one_chain o;
	int rc;

	memset(&o, 0, sizeof(o));
	rc = t->store->be->commit_chain(t->store->conn, t->id, hash, 1,
					TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS |
						TRACT_CHAIN_PRIORITY,
					INT64_MAX, one_chain_cb, &o);
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
		rc = fetch_full(&r, t, hash);
	rc = tract_txn_end(t->store, rc);
	if (rc < 0)
		return rc;
	*out = tract_commit_from_row(&r);
	return *out ? 0 : tract_error_oom();
}
