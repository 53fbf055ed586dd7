/*
 * cache.c - the per-handle compile cache (spec/core.md §7): compiled
 * contexts keyed by HEAD hash, least recently used evicted first. Entries
 * are shared, immutable contexts, so a hit costs one reference count.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct tract_cache {
	size_t capacity;
	size_t count;
	tract_context **items; /* index 0 = least recently used */
};

tract_cache *tract_cache_new(size_t capacity)
{
	tract_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->capacity = capacity;
	if (capacity) {
		c->items = calloc(capacity, sizeof(*c->items));
		if (!c->items) {
			free(c);
			return NULL;
		}
	}
	return c;
}

void tract_cache_clear(tract_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->count; i++)
		tract_context_free(c->items[i]);
	c->count = 0;
}

void tract_cache_free(tract_cache *c)
{
	if (!c)
		return;
	tract_cache_clear(c);
	free(c->items);
	free(c);
}

size_t tract_cache_size(const tract_cache *c)
{
	return c ? c->count : 0;
}

size_t tract_cache_capacity(const tract_cache *c)
{
	return c ? c->capacity : 0;
}

/* Move entry i to the most recently used end. */
static void touch(tract_cache *c, size_t i)
{
	tract_context *e = c->items[i];

	memmove(&c->items[i], &c->items[i + 1], (c->count - i - 1) * sizeof(*c->items));
	c->items[c->count - 1] = e;
}

tract_context *tract_cache_get(tract_cache *c, const char *head)
{
	size_t i;

	for (i = c->count; i-- > 0;) {
		if (strcmp(c->items[i]->head, head) == 0) {
			touch(c, i);
			return c->items[c->count - 1];
		}
	}
	return NULL;
}

int tract_cache_put(tract_cache *c, tract_context *ctx)
{
	size_t i;

	if (c->capacity == 0)
		return 0;
	for (i = 0; i < c->count; i++) {
		if (strcmp(c->items[i]->head, ctx->head) == 0) {
			tract_context_free(c->items[i]);
			c->items[i] = tract_context_ref(ctx);
			touch(c, i);
			return 0;
		}
	}
	if (c->count == c->capacity) {
		tract_context_free(c->items[0]);
		memmove(&c->items[0], &c->items[1], (c->count - 1) * sizeof(*c->items));
		c->count--;
	}
	c->items[c->count++] = tract_context_ref(ctx);
	return 0;
}

void tract_cache_sync(tract *t)
{
	if (t->cache_epoch != t->store->cache_epoch) {
		tract_cache_clear(t->cache);
		t->cache_epoch = t->store->cache_epoch;
	}
}
