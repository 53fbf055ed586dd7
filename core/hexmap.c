/*
 * hexmap.c - a set (or map) of 64-hex hashes by open addressing, for the
 * multi-agent operations (infrastructure).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "agents_internal.h"

static size_t tract_hexmap_find_slot(const tract_hexmap *m, const char *key)
{
	uint64_t h = 1469598103934665603ULL;
	const char *k;
	size_t i;

	for (k = key; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	i = (size_t)h & (m->cap - 1);
	while (m->keys[i][0] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

void tract_hexmap_dispose(tract_hexmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static int tract_hexmap_grow(tract_hexmap *m, int with_vals)
{
	tract_hexmap n = {0};
	size_t i;

	n.cap = m->cap ? m->cap * 2 : 64;
	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.vals = with_vals ? calloc(n.cap, sizeof(*n.vals)) : NULL;
	if (!n.keys || (with_vals && !n.vals)) {
		tract_hexmap_dispose(&n);
		return tract_error_oom();
	}
	for (i = 0; i < m->cap; i++) {
		size_t j;
		if (!m->keys[i][0])
			continue;
		j = tract_hexmap_find_slot(&n, m->keys[i]);
		memcpy(n.keys[j], m->keys[i], 65);
		if (with_vals)
			memcpy(n.vals[j], m->vals[i], 65);
		n.count++;
	}
	tract_hexmap_dispose(m);
	*m = n;
	return 0;
}

int tract_hexmap_put(tract_hexmap *m, const char *key, const char *val)
{
	size_t i;

	if ((m->count + 1) * 2 > m->cap && tract_hexmap_grow(m, val != NULL) < 0)
		return TRACT_ENOMEM;
	i = tract_hexmap_find_slot(m, key);
	if (!m->keys[i][0]) {
		tract_copy_id(m->keys[i], key);
		m->count++;
	}
	if (val)
		tract_copy_id(m->vals[i], val);
	return 0;
}

const char *tract_hexmap_get(const tract_hexmap *m, const char *key)
{
	size_t i;

	if (!m->cap || !key)
		return NULL;
	i = tract_hexmap_find_slot(m, key);
	if (!m->keys[i][0])
		return NULL;
	return m->vals ? m->vals[i] : m->keys[i];
}
