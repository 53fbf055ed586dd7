/*
 * walk.h - the first-parent chain walk of the model layer (internal): the
 * backend's commit_chain with parent cycle detection, for log, compile
 * and fsck.
 */
#ifndef TRACT_CORE_WALK_H
#define TRACT_CORE_WALK_H

#include "buf.h"
#include "internal.h"

/**
 * s->be->commit_chain with the same arguments, failing with TRACT_ECORRUPT
 * "parent cycle at HASH" when the walk meets a commit twice (HASH is on
 * the cycle). Every failure is already in the last error: a negative code
 * of the backend or of cb as tract_backend_error(s, rc, what) does it
 * (callers with an error of their own in cb set it again). When cycle is
 * not NULL it receives the hash named, or "".
 */
int tract_chain_walk(tract_store *s, const char *tract_id, const char *head, size_t limit,
                     unsigned flags, tract_time cutoff, tract_chain_cb cb, void *payload,
                     const char *what, char cycle[65]);

/**
 * Follow first parents from start one lookup at a time (Brent's algorithm):
 * 1 with a commit of the cycle in cycle, 0 when the chain ends (a root or
 * a missing parent), or a backend's negative code.
 */
int tract_parent_cycle_find(tract_store *s, const char *start, char cycle[65]);

/** Append "a -> b -> ... -> a" for the cycle through member (a commit on
 *  the cycle, as tract_parent_cycle_find gives) to out, from its least
 *  hash, eight hashes at most and then "..."; TRACT_ENOTFOUND when the
 *  chain from member ends. */
int tract_parent_cycle_name(tract_store *s, const char *member, tract_buf *out);

#endif
