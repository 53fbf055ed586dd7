/*
 * ancestry.c - the breadth-first ancestry walk shared by the backends that
 * look commits up one at a time in process (SQLite, LMDB): a FIFO queue of
 * the hashes to visit and an open-addressing set of those queued, so each
 * commit is handed over once whatever the shape of the graph (a parent
 * cycle included).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ancestry.h"

struct walk {
	char **slots; /* the set: owned strings */
	size_t nslots, n;
	char **queue; /* pointers into the set, FIFO */
	size_t qhead, qlen, qcap;
	/* the current row's parents, copied (the callback may read the
	 * connection, which may reuse the lookup's buffers) */
	char *text;
	size_t text_cap;
	const char **parents;
	size_t parents_cap;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = UINT64_C(1469598103934665603);

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
	return h ^ (h >> 29);
}

static int set_grow(struct walk *w)
{
	size_t n = w->nslots ? w->nslots * 2 : 256, i;
	char **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return TRACT_ENOMEM;
	for (i = 0; i < w->nslots; i++) {
		size_t j;

		if (!w->slots[i])
			continue;
		j = (size_t)hash_str(w->slots[i]) & (n - 1);
		while (slots[j])
			j = (j + 1) & (n - 1);
		slots[j] = w->slots[i];
	}
	free(w->slots);
	w->slots = slots;
	w->nslots = n;
	return 0;
}

/* Queue hash unless seen before. */
static int visit(struct walk *w, const char *hash)
{
	size_t j;
	char *copy;

	if ((w->n + 1) * 2 > w->nslots && set_grow(w) < 0)
		return TRACT_ENOMEM;
	j = (size_t)hash_str(hash) & (w->nslots - 1);
	while (w->slots[j]) {
		if (strcmp(w->slots[j], hash) == 0)
			return 0;
		j = (j + 1) & (w->nslots - 1);
	}
	if (w->qhead + w->qlen == w->qcap) {
		if (w->qhead > 0) {
			memmove(w->queue, w->queue + w->qhead, w->qlen * sizeof(*w->queue));
			w->qhead = 0;
		}
		if (w->qlen == w->qcap) {
			size_t cap = w->qcap ? w->qcap * 2 : 64;
			char **q = realloc(w->queue, cap * sizeof(*q));

			if (!q)
				return TRACT_ENOMEM;
			w->queue = q;
			w->qcap = cap;
		}
	}
	copy = strdup(hash);
	if (!copy)
		return TRACT_ENOMEM;
	w->slots[j] = copy;
	w->n++;
	w->queue[w->qhead + w->qlen++] = copy;
	return 0;
}

/* Copy the node's parents (parent_hash, then its rows; each once). */
static int copy_parents(struct walk *w, const struct bc_ancestry_node *node, size_t *count)
{
	size_t total = 0, n = 0, i, k, off = 0;
	*count = 0;
	if (node->parent_hash)
		total += strlen(node->parent_hash) + 1;
	for (i = 0; i < node->n_rows; i++)
		total += strlen(node->rows[i]) + 1;
	if (total > w->text_cap) {
		char *t = realloc(w->text, total * 2);

		if (!t)
			return TRACT_ENOMEM;
		w->text = t;
		w->text_cap = total * 2;
	}
	if (node->n_rows + 1 > w->parents_cap) {
		size_t cap = (node->n_rows + 1) * 2;
		const char **p = realloc(w->parents, cap * sizeof(*p));

		if (!p)
			return TRACT_ENOMEM;
		w->parents = p;
		w->parents_cap = cap;
	}
	for (i = 0; i <= node->n_rows; i++) {
		const char *h = i == 0 ? node->parent_hash : node->rows[i - 1];
		size_t len;
		int dup = 0;

		if (!h || !*h)
			continue;
		for (k = 0; k < n && !dup; k++)
			dup = strcmp(w->parents[k], h) == 0;
		if (dup)
			continue;
		len = strlen(h) + 1;
		memcpy(w->text + off, h, len);
		w->parents[n++] = w->text + off;
		off += len;
	}
	*count = n;
	return 0;
}

int bc_ancestry_walk(void *ctx, const char *tract_id, const char *const *starts, size_t n_starts,
		     size_t limit, bc_ancestry_fetch fetch, tract_ancestry_cb cb, void *payload)
{
	struct walk w;
	size_t i, rows = 0;
	int rc = 0;

	memset(&w, 0, sizeof(w));
	for (i = 0; rc == 0 && i < n_starts; i++)
		if (starts[i])
			rc = visit(&w, starts[i]);
	while (rc == 0 && w.qlen && (!limit || rows < limit)) {
		const char *hash = w.queue[w.qhead];
		struct bc_ancestry_node node;
		tract_ancestry_row row;
		size_t n;

		w.qhead++;
		w.qlen--;
		memset(&node, 0, sizeof(node));
		rc = fetch(ctx, tract_id, hash, &node);
		if (rc == 1) {
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		rc = copy_parents(&w, &node, &n);
		if (rc < 0)
			break;
		row.commit_hash = hash;
		row.created_at = node.created_at;
		row.parents = w.parents;
		row.n_parents = n;
		rows++;
		rc = cb(&row, payload);
		if (rc == TRACT_ANCESTRY_PRUNE) {
			rc = 0;
			continue;
		}
		if (rc != 0) {
			rc = rc < 0 ? rc : 0;
			break;
		}
		for (i = 0; rc == 0 && i < n; i++)
			rc = visit(&w, w.parents[i]);
	}
	for (i = 0; i < w.nslots; i++)
		free(w.slots[i]);
	free(w.slots);
	free(w.queue);
	free(w.text);
	free(w.parents);
	return rc;
}
