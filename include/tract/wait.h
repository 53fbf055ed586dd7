/*
 * tract/wait.h - waiting for another process (or host) to move a tract's
 * ref (DESIGN.md §10).
 */
#ifndef TRACT_WAIT_H
#define TRACT_WAIT_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of tract_wait_ref(): TRACT_WAIT_OPTIONS_INIT or tract_wait_options_init(). */
typedef struct {
	unsigned int version;
	/** The ref to watch: a branch name ("main"), a full ref name
	 *  ("refs/heads/main") or "HEAD"; NULL = HEAD. */
	const char *ref;
	/** The commit (any revision of the tract) the ref must move away
	 *  from; NULL = where the ref is when the call begins. */
	const char *past;
	/** Give up after this many milliseconds (TRACT_ETIMEOUT); < 0 = never;
	 *  0 = check once. */
	int64_t timeout_ms;
	/** (version 2) A child tract id: wait instead until a collapse of
	 *  that child (a commit whose metadata collapse_source_tract_id names
	 *  it) is on the watched ref after past; t must be the child's parent
	 *  (its spawn pointer says so). NULL = any move. */
	const char *collapsed;
} tract_wait_options;

#define TRACT_WAIT_OPTIONS_VERSION 2
#define TRACT_WAIT_OPTIONS_INIT {TRACT_WAIT_OPTIONS_VERSION, NULL, NULL, -1, NULL}

TRACT_EXTERN(int) tract_wait_options_init(tract_wait_options *opts, unsigned int version);

/**
 * Block until t's ref resolves to another commit than opts->past (moved by
 * anyone: this process, another one, another host sharing the store), and
 * write that commit's hash to out ("" when the ref was deleted or HEAD
 * became unborn). Returns TRACT_ETIMEOUT when the timeout passes first.
 * A backend with ref_watch (PostgreSQL: LISTEN/NOTIFY) wakes the waiter
 * when a ref of the tract changes; the others are polled: one ref read in
 * a short read transaction, with a backoff from 1 ms to 20 ms between
 * reads (never a busy loop). No transaction is held while waiting. The
 * call must not be made inside a batch (TRACT_EINVAL).
 *
 * With opts->collapsed (a child tract of t): returns when the commits
 * after past on the watched ref include a collapse of that child, with
 * out = the newest such collapse commit (at once when one is already
 * there: pass the parent's commit of before the spawn as past). Moves
 * that bring no collapse of the child (other commits, other children's
 * collapses) are waited past. Errors: TRACT_ENOTFOUND (no spawn pointer
 * for the child), TRACT_EINVAL (t is not the child's parent).
 */
TRACT_EXTERN(int) tract_wait_ref(char out[TRACT_HASH_HEXSIZE + 1], tract *t,
				 const tract_wait_options *opts);

#ifdef __cplusplus
}
#endif

#endif
