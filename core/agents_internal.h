/*
 * agents_internal.h - what the multi-agent files share (internal): spawn.c,
 * collapse.c, expand.c, session.c, tracts.c, agents_json.c, hexmap.c.
 */
#ifndef TRACT_CORE_AGENTS_INTERNAL_H
#define TRACT_CORE_AGENTS_INTERNAL_H

#include <stdlib.h>
#include <string.h>

#include "internal.h"

static inline char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Did a strdup of a non-NULL s fail? */
#define DUP_FAILED(dst, src) ((src) && !(dst))

/* ---- a set (or map) of 64-hex hashes (hexmap.c) ------------------------- */

typedef struct {
	char (*keys)[65];
	char (*vals)[65]; /* NULL for a set */
	size_t cap, count;
} tract_hexmap;

void tract_hexmap_dispose(tract_hexmap *m);
/** Add key (with val for a map, NULL for a set). */
int tract_hexmap_put(tract_hexmap *m, const char *key, const char *val);
/** The value (a map) or the stored key (a set), NULL when absent. */
const char *tract_hexmap_get(const tract_hexmap *m, const char *key);

/* ---- spawn pointers (tracts.c) -------------------------------------------- */

/** Free the strings of a SpawnInfo (not the struct). */
void tract_spawn_info_dispose(tract_spawn_info *i);
/** The pointer of a child (the first one stored), inside a transaction:
 *  *found 0 when none. */
int tract_spawn_pointer_of(tract_spawn_info *out, int *found, tract_store *s, const char *child);
/** Iterative ancestry walk with a visited set (§6.4), in a transaction. */
int tract_has_ancestor_locked(int *out, tract_store *s, const char *id, const char *candidate);

#endif
