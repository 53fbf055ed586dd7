/*
 * reflog.h - the ref log: non-fast-forward moves of HEAD and the branches,
 * for compiling a tract as it was at a time (internal; see reflog.c).
 */
#ifndef TRACT_CORE_REFLOG_H
#define TRACT_CORE_REFLOG_H

#include "internal.h"

/** Metadata keys: reflog:<tract id>:<ref name>:<20-digit microseconds>. */
#define TRACT_REFLOG_PREFIX "reflog:"
#define TRACT_REFLOG_KEY_MAX (8 + 65 + TRACT_REF_NAME_MAX + 1 + 24)

/** "reflog:<tract>:<name>:" (name NULL: "reflog:<tract>:") into buf. */
int tract_reflog_prefix(char *buf, size_t len, const char *tract_id, const char *name);

/** The time of an entry from its key (TRACT_ECORRUPT when not one). */
int tract_reflog_key_time(tract_time *out, const char *key);

/** Record a move of ref name from old to new_value (either may be NULL or
 *  not exist) unconditionally, inside the open write transaction. */
int tract_reflog_record(tract_store *s, const char *tract_id, const char *name,
			const tract_ref_value *old, const tract_ref_value *new_value,
			const char *reason);

/**
 * Record the move when the log covers the ref (HEAD, refs/heads/...) and
 * it is not a fast-forward: the ref deleted, a symbolic value changed,
 * or (check set) the new commit not descending from the old one; with
 * check 0 a move between two different commits is always recorded (the
 * caller knows it rewrites). A ref created (old absent) is not recorded.
 */
int tract_reflog_note(tract_store *s, const char *tract_id, const char *name,
		      const tract_ref_value *old, const tract_ref_value *new_value,
		      const char *reason, int check);

/** tract_reflog_note for two commit hashes (NULL or "": absent). */
int tract_reflog_note_commits(tract_store *s, const char *tract_id, const char *name,
			      const char *old, const char *new_hash, const char *reason,
			      int check);

/** The commit HEAD resolved to at time at, as far as the log and the refs
 *  tell ("" when none), inside an open transaction. The commits of the
 *  tract created after at may still follow it (fast-forwards). */
int tract_reflog_tip_at(char out[65], tract *t, tract_time at);

#endif
