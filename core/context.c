/*
 * context.c - compiled contexts and the message vectors they share.
 *
 * A context is (vector, count): the first `count` messages of a vector of
 * immutable messages. Appending to the context at the tip of its vector
 * pushes onto the shared vector, so the snapshot an append derives costs
 * O(1) instead of a copy of the whole history. The vector stores messages
 * in fixed chunks that never move; when the chunk table grows, the old
 * table is retired, not freed, so a context read from another thread never
 * sees memory move under it.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CHUNK_BITS 10
#define CHUNK_SIZE (1u << CHUNK_BITS)

struct retired_table {
	struct retired_table *next;
	tract_msg ***table;
};

struct tract_msgvec {
	int refs;
	size_t len;       /* messages written */
	size_t n_chunks;  /* chunks allocated */
	size_t cap;       /* slots in table */
	tract_msg ***table;
	struct retired_table *retired;
};

static tract_msgvec *vec_new(void)
{
	tract_msgvec *v = calloc(1, sizeof(*v));

	if (v)
		v->refs = 1;
	return v;
}

static void vec_release(tract_msgvec *v)
{
	size_t i;

	if (!v || __atomic_sub_fetch(&v->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (i = 0; i < v->len; i++)
		tract_msg_release(v->table[i >> CHUNK_BITS][i & (CHUNK_SIZE - 1)]);
	for (i = 0; i < v->n_chunks; i++)
		free(v->table[i]);
	free(v->table);
	while (v->retired) {
		struct retired_table *r = v->retired;
		v->retired = r->next;
		free(r->table);
		free(r);
	}
	free(v);
}

/* Append m (taking its reference). */
static int vec_push(tract_msgvec *v, tract_msg *m)
{
	size_t chunk = v->len >> CHUNK_BITS;

	if (chunk == v->n_chunks) {
		if (v->n_chunks == v->cap) {
			size_t ncap = v->cap ? v->cap * 2 : 4;
			tract_msg ***nt = calloc(ncap, sizeof(*nt));
			struct retired_table *r = calloc(1, sizeof(*r));
			if (!nt || !r) {
				free(nt);
				free(r);
				return TRACT_ENOMEM;
			}
			if (v->n_chunks)
				memcpy(nt, v->table, v->n_chunks * sizeof(*nt));
			r->table = v->table;
			r->next = v->retired;
			v->retired = r;
			__atomic_store_n(&v->table, nt, __ATOMIC_RELEASE);
			v->cap = ncap;
		}
		v->table[chunk] = malloc(CHUNK_SIZE * sizeof(tract_msg *));
		if (!v->table[chunk])
			return TRACT_ENOMEM;
		v->n_chunks++;
	}
	v->table[chunk][v->len & (CHUNK_SIZE - 1)] = m;
	__atomic_store_n(&v->len, v->len + 1, __ATOMIC_RELEASE);
	return 0;
}

tract_context *tract_context_new(size_t cap)
{
	tract_context *c = calloc(1, sizeof(*c));

	(void)cap;
	if (!c)
		return NULL;
	c->refs = 1;
	c->vec = vec_new();
	if (!c->vec) {
		free(c);
		return NULL;
	}
	return c;
}

tract_context *tract_context_ref(tract_context *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

void tract_context_free(tract_context *c)
{
	if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	vec_release(c->vec);
	free(c->token_source);
	free(c);
}

tract_msg *tract_context_msg(const tract_context *c, size_t i)
{
	tract_msg ***table = __atomic_load_n(&c->vec->table, __ATOMIC_ACQUIRE);

	return table[i >> CHUNK_BITS][i & (CHUNK_SIZE - 1)];
}

int tract_context_push(tract_context *c, tract_msg *m)
{
	int rc;

	if (c->count != c->vec->len) {
		tract_msg_release(m);
		return tract_error_set(TRACT_ERROR, "internal: push onto a shared context");
	}
	rc = vec_push(c->vec, m);
	if (rc < 0) {
		tract_msg_release(m);
		return tract_error_oom();
	}
	c->count++;
	c->tokens_sum += m->tokens;
	return 0;
}

void tract_context_sum(tract_context *c)
{
	if (strncmp(c->token_source ? c->token_source : "", "api:", 4) == 0)
		return;
	c->token_count = c->count ? 3 + c->tokens_sum : 0;
}

/* A new context with the same head, source and token figures as c. */
static tract_context *shell_like(const tract_context *c)
{
	tract_context *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->refs = 1;
	memcpy(n->head, c->head, sizeof(n->head));
	n->token_source = strdup(c->token_source ? c->token_source : "");
	if (!n->token_source) {
		free(n);
		return NULL;
	}
	n->token_count = c->token_count;
	n->tokens_sum = c->tokens_sum;
	return n;
}

tract_context *tract_context_share(const tract_context *c)
{
	tract_context *n = shell_like(c);

	if (!n)
		return NULL;
	__atomic_add_fetch(&c->vec->refs, 1, __ATOMIC_RELAXED);
	n->vec = c->vec;
	n->count = c->count;
	return n;
}

tract_context *tract_context_rebuild(const tract_context *c, size_t pos, tract_msg *replacement)
{
	tract_context *n = shell_like(c);
	size_t i;

	if (!n)
		goto fail;
	n->vec = vec_new();
	if (!n->vec)
		goto fail;
	n->tokens_sum = 0;
	for (i = 0; i < c->count; i++) {
		tract_msg *m = tract_context_msg(c, i);
		if (i == pos) {
			if (!replacement)
				continue;
			m = replacement;
			replacement = NULL;
		} else {
			__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
		}
		if (tract_context_push(n, m) < 0)
			goto fail;
	}
	tract_msg_release(replacement);
	return n;
fail:
	tract_msg_release(replacement);
	tract_context_free(n);
	return NULL;
}

tract_context *tract_context_extend(const tract_context *parent, tract_msg *m)
{
	tract_context *n;

	/* At the tip of its vector the parent shares it; otherwise (another
	 * context already appended past it) the messages are copied. */
	if (parent->count == parent->vec->len)
		n = tract_context_share(parent);
	else
		n = tract_context_rebuild(parent, SIZE_MAX, NULL);
	if (!n) {
		tract_msg_release(m);
		return NULL;
	}
	if (tract_context_push(n, m) < 0) {
		tract_context_free(n);
		return NULL;
	}
	return n;
}

/* ---- accessors ---- */

size_t tract_context_count(const tract_context *c) { return c ? c->count : 0; }
int64_t tract_context_token_count(const tract_context *c) { return c ? c->token_count : 0; }

const char *tract_context_token_source(const tract_context *c)
{
	return c && c->token_source ? c->token_source : "";
}

#define MSG_FIELD(fn, expr)                                                     \
	const char *fn(const tract_context *c, size_t i)                        \
	{                                                                       \
		return c && i < c->count ? (expr) : NULL;                       \
	}
MSG_FIELD(tract_context_role, tract_context_msg(c, i)->role)
MSG_FIELD(tract_context_content, tract_context_msg(c, i)->content)
MSG_FIELD(tract_context_name, tract_context_msg(c, i)->name)
MSG_FIELD(tract_context_commit_hash, tract_context_msg(c, i)->hash)
MSG_FIELD(tract_context_generation_config, tract_context_msg(c, i)->config)

size_t tract_context_content_len(const tract_context *c, size_t i)
{
	return c && i < c->count ? tract_context_msg(c, i)->content_len : 0;
}

size_t tract_context_name_len(const tract_context *c, size_t i)
{
	return c && i < c->count && tract_context_msg(c, i)->name ? tract_context_msg(c, i)->name_len
								     : 0;
}

/* A derived or patched snapshot reports the tract's counter and the sum of
 * its messages again, never an API figure (§7.3, §6.8). */
int tract_context_recount(tract_context *c, tract *t)
{
	free(c->token_source);
	c->token_source = strdup(t->tok->source);
	if (!c->token_source)
		return TRACT_ENOMEM;
	c->token_count = 0;
	tract_context_sum(c);
	return 0;
}
