/*
 * tract.h - umbrella header of libtract: git for an LLM agent's context.
 *
 * Conventions of the whole API (every header follows them; new calls must):
 *
 * Names     Everything is tract_<noun>_<verb> (tract_commit_create,
 *           tract_revision_resolve, tract_log_list, tract_annotation_create,
 *           tract_fsck_run); macros and enum values are TRACT_<NOUN>_...
 *           The handles themselves are the one exception: tract_create,
 *           tract_open, tract_free, tract_id for a `tract`, tract_store_*
 *           for a `tract_store`. Accessors of an object read
 *           tract_<object>_<field> (tract_commit_hash, tract_context_count).
 *
 * Results   Every call that can fail returns int: 0 on success, a negative
 *           TRACT_E* code otherwise (common.h), and on every failure path
 *           sets the calling thread's last error (tract_error_last(): the
 *           code and a one-line message). Results come back through
 *           out-parameters placed first; on failure an out-pointer is set
 *           to NULL. Only accessors that cannot fail return values
 *           directly.
 *
 * Ownership A result the library allocates is released by the _free of
 *           its type, named after what it releases: tract_commit_free,
 *           tract_commit_list_free, tract_context_free, tract_status_free,
 *           tract_fsck_report_free, tract_clone_stats_free... Lists are
 *           heap objects {items, count} with a _list_free. Strings the
 *           library allocates for the caller are released with
 *           tract_string_free(). Every _free accepts NULL. Strings returned
 *           by accessors are borrowed and live as long as their object.
 *
 * Options   tract_<noun>_options, initialised with TRACT_<NOUN>_OPTIONS_INIT
 *           or tract_<noun>_options_init(&opts, TRACT_<NOUN>_OPTIONS_VERSION).
 *           A NULL options pointer means the defaults.
 *
 * Versions  Every versioned struct (options, the tokenizer, the plugin
 *           tables of tract/sys/) starts with `unsigned int version`. The
 *           library accepts 0 < version <= its current version and reads
 *           only the members the caller's version has; members are only
 *           ever appended.
 *
 * Sizes     Hex hashes are TRACT_HASH_HEXSIZE (64) characters; buffers hold
 *           TRACT_HASH_HEXSIZE + 1. Tract ids are at most TRACT_ID_MAXLEN.
 *
 * Threads   A tract_store or tract handle is used by one thread at a time;
 *           processes and hosts coordinate through the store. A store
 *           stays open while any tract of it is open.
 *
 * Plugin authors include tract/sys/backend.h, not this header.
 */
#ifndef TRACT_H
#define TRACT_H

#include "tract/common.h"
#include "tract/store.h"
#include "tract/commit.h"
#include "tract/compile.h"
#include "tract/content.h"
#include "tract/tokenizer.h"
#include "tract/plugin.h"
#include "tract/fsck.h"
#include "tract/clone.h"
#include "tract/text.h"
#include "tract/resolver.h"
#include "tract/merge.h"
#include "tract/gc.h"
#include "tract/reorder.h"
#include "tract/diff.h"
#include "tract/graph.h"
#include "tract/query.h"
#include "tract/wait.h"
#include "tract/refs.h"
#include "tract/rebase.h"
#include "tract/dag.h"
#include "tract/llm.h"
#include "tract/agents.h"
#include "tract/compact.h"
#include "tract/llm_resolver.h"
#include "tract/compress.h"

#endif
