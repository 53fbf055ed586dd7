/*
 * walk.c - the first-parent chain walk with parent cycle detection (model
 * layer). Brent's algorithm over the hashes as they arrive (one saved hash
 * and two counters, whatever the length of the walk), and a check that a
 * walk the backend ended by itself did not stop at a parent that exists:
 * the backends' own cycle guards cut a cyclic walk after at most as many
 * rows as the store holds, possibly before any hash repeats.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "walk.h"

typedef struct {
	tract_chain_cb cb;
	void *payload;
	char saved[65]; /* Brent's tortoise; "" before the first row */
	uint64_t power, lam;
	size_t rows;
	char parent[65]; /* first parent of the last row, "" for none */
	char cycle[65];  /* the repeated hash once found */
	int stopped;     /* cb ended the walk */
} guard;

static int guard_cb(const tract_chain_row *row, void *payload)
{
	guard *g = payload;
	const char *h = row->commit.commit_hash;
	int rc;

	if (g->saved[0] && strncmp(h, g->saved, 64) == 0) {
		tract_copy_id(g->cycle, h);
		return TRACT_ECORRUPT;
	}
	if (!g->saved[0] || ++g->lam == g->power) {
		tract_copy_id(g->saved, h);
		g->power = g->power ? g->power * 2 : 1;
		g->lam = 0;
	}
	g->rows++;
	tract_copy_id(g->parent, row->commit.parent_hash);
	rc = g->cb(row, g->payload);
	if (rc > 0)
		g->stopped = 1;
	return rc;
}

static int parent_cb(const tract_commit_row *row, void *payload)
{
	tract_copy_id(payload, row->parent_hash);
	return 0;
}

/* The first parent of hash into parent ("" for a root); TRACT_ENOTFOUND. */
static int parent_of(tract_store *s, const char *hash, char parent[65])
{
	char p[65] = "";
	int rc = s->be->commit_get(s->conn, NULL, hash, parent_cb, p);

	memcpy(parent, p, sizeof(p));
	return rc;
}

int tract_parent_cycle_find(tract_store *s, const char *start, char cycle[65])
{
	char at[65], saved[65];
	uint64_t power = 1, lam = 0;
	int rc;

	cycle[0] = '\0';
	tract_copy_id(saved, start);
	rc = parent_of(s, start, at);
	while (rc == 0 && at[0]) {
		if (strcmp(at, saved) == 0) {
			tract_copy_id(cycle, at);
			return 1;
		}
		if (++lam == power) {
			memcpy(saved, at, sizeof(saved));
			power *= 2;
			lam = 0;
		}
		rc = parent_of(s, at, at);
	}
	return rc == TRACT_ENOTFOUND ? 0 : rc;
}

int tract_parent_cycle_name(tract_store *s, const char *member, tract_buf *out)
{
	char at[65], low[65];
	size_t n = 0;
	int rc;

	/* Start at the cycle's least hash: one name per cycle, wherever
	 * the walk met it. */
	tract_copy_id(low, member);
	tract_copy_id(at, member);
	do {
		rc = parent_of(s, at, at);
		if (rc < 0 || !at[0])
			return rc < 0 ? rc : TRACT_ENOTFOUND;
		if (strcmp(at, low) < 0)
			memcpy(low, at, sizeof(low));
	} while (strcmp(at, member) != 0);
	member = low;
	n = 0;
	rc = tract_buf_puts(out, member);
	tract_copy_id(at, member);
	while (rc == 0) {
		rc = parent_of(s, at, at);
		if (rc < 0 || !at[0])
			return rc < 0 ? rc : TRACT_ENOTFOUND;
		n++;
		if (strcmp(at, member) == 0)
			return tract_buf_printf(out, " -> %s", at);
		if (n < 8)
			rc = tract_buf_printf(out, " -> %s", at);
		else if (n == 8)
			rc = tract_buf_puts(out, " -> ...");
	}
	return rc;
}

int tract_chain_walk(tract_store *s, const char *tract_id, const char *head, size_t limit,
                     unsigned flags, tract_time cutoff, tract_chain_cb cb, void *payload,
                     const char *what, char cycle[65])
{
	guard g;
	int rc;

	memset(&g, 0, sizeof(g));
	g.cb = cb;
	g.payload = payload;
	if (cycle)
		cycle[0] = '\0';
	rc = s->be->commit_chain(s->conn, tract_id, head, limit, flags, cutoff, guard_cb, &g);
	if (!g.cycle[0] && rc == 0 && !g.stopped && g.parent[0] && (!limit || g.rows < limit)) {
		/* The walk ended on a parent that is there (in the tract):
		 * only a backend's cycle guard stops there. */
		char parent[65];

		rc = s->be->commit_get(s->conn, tract_id, g.parent, parent_cb, parent);
		if (rc == 0) {
			rc = tract_parent_cycle_find(s, g.parent, g.cycle);
			if (rc == 0)
				return tract_error_set(
				    TRACT_ECORRUPT,
				    "the walk stopped at commit %s, which is there "
				    "(a parent newer than its child?)",
				    g.parent);
			rc = rc > 0 ? 0 : rc;
		} else if (rc == TRACT_ENOTFOUND) {
			rc = 0;
		}
	}
	if (g.cycle[0]) {
		if (cycle)
			tract_copy_id(cycle, g.cycle);
		return tract_error_set(TRACT_ECORRUPT, "parent cycle at %s", g.cycle);
	}
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom() : tract_backend_error(s, rc, what);
	return 0;
}
