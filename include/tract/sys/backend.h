/*
 * tract/sys/backend.h - ABI for storage backend plugins (version 5).
 *
 * A backend plugin is a shared object named tract-backend-NAME.so that
 * exports one symbol, TRACT_BACKEND_ENTRY ("tract_backend_entry"), a
 * function returning a pointer to a static tract_backend table (start from
 * TRACT_BACKEND_INIT). The table starts with the version it was written
 * against; the core accepts any version from 1 to TRACT_BACKEND_VERSION
 * and refuses others. New members are only ever appended. This header is
 * all a backend needs: plugins link neither libtract nor its internals
 * (see examples/memory_backend.c for a complete backend in one file, and
 * tests/conformance/ for the suite that checks one).
 *
 * Model: libgit2's git_odb_backend and SQLite's sqlite3_vfs. No SQL
 * crosses this boundary. Rows are plain structs whose string members are
 * NUL-terminated UTF-8 and borrowed: they are valid only for the duration
 * of the call (or callback) that hands them over; a NULL string member
 * means "none" (SQL NULL). Timestamps are int64 microseconds since the
 * Unix epoch, UTC (tract_time); each backend converts to its own format.
 *
 * Every function returns 0 on success or a negative TRACT_E* code
 * (common.h); after a failure, last_error() gives a one-line message that
 * never contains passwords or full connection strings. "not found" is
 * TRACT_ENOTFOUND, a lost compare-and-swap TRACT_ESTALE, everything the
 * engine reports TRACT_ESTORAGE (or TRACT_ECORRUPT for unreadable rows).
 *
 * Transactions: the core makes every read and write inside a transaction
 * opened by begin() and never nests them; a backend also accepts a call
 * outside one, run as a transaction of its own (reads see the last
 * committed state; the conformance kit relies on this). A write
 * transaction sees its own writes. rollback() discards every write of the
 * transaction.
 *
 * Refused writes: a write refused at the call (EINVAL, EEXISTS, ESTALE,
 * ESTORAGE...) writes nothing and leaves the transaction usable: the
 * caller may go on and commit what it wrote before. A backend may instead
 * hold a write back and send it with a later call of the same transaction
 * (a network backend saves round trips so): the write then returns 0, and
 * its failure is returned, with its own code and message, by the later
 * call that sends it, commit() at the latest; the caller then rolls back
 * and nothing of the transaction is written. Argument errors (EINVAL) are
 * always reported at the call.
 *
 * Iteration: callbacks return 0 to continue, a positive value to stop
 * early (the iteration then returns 0), or a negative code to abort
 * (returned as is). A callback may call the same connection again to read
 * (the iteration then goes on where it was); it must not write.
 *
 * Errors: after a failure last_error() names what failed. A missing row
 * is TRACT_ENOTFOUND with "not found" in the message; open() of a missing
 * store says "not found" and, for a location that holds no secret (a
 * path), names it.
 *
 * Every member is REQUIRED unless its comment says otherwise.
 */
#ifndef TRACT_SYS_BACKEND_H
#define TRACT_SYS_BACKEND_H

#include <stddef.h>
#include <string.h>

#include "../common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The version of the table this header defines (see the table below). */
#define TRACT_BACKEND_VERSION 5
/** The symbol every backend plugin exports: a tract_backend_entry_fn. */
#define TRACT_BACKEND_ENTRY "tract_backend_entry"

/** One open connection of a backend (the backend's own type). */
typedef struct tract_backend_conn tract_backend_conn;

/* ---- rows -------------------------------------------------------------- */

/*
 * Which string members of a row may be NULL: those marked "NULL = ..."
 * below. Every other string member of a row handed to a backend is set,
 * and a backend hands every such member back set (an unreadable stored
 * value is TRACT_ECORRUPT, or TRACT_OP_UNKNOWN / TRACT_PRIORITY_NONE for
 * the enumerations).
 */

typedef struct {
	const char *content_hash;
	const char *payload_json;
	int64_t byte_size;
	int64_t token_count;
	tract_time created_at;
} tract_blob_row;

typedef struct {
	const char *commit_hash;
	const char *tract_id;
	const char *parent_hash;   /**< first parent, NULL for a root */
	const char *content_hash;
	const char *content_type;
	tract_operation operation; /**< TRACT_OP_UNKNOWN for an unrecognised stored value */
	const char *response_to;   /**< NULL = none */
	const char *message;       /**< NULL = none */
	int64_t token_count;
	const char *metadata_json;          /**< NULL = none (stored as text "null") */
	const char *generation_config_json; /**< NULL = none */
	tract_time created_at;
} tract_commit_row;

/** A commit handed over by a chain walk, with the extras asked for. */
typedef struct {
	tract_commit_row commit;
	/** TRACT_CHAIN_PAYLOAD: the blob's payload_json (NULL if the blob is missing). */
	const char *payload_json;
	/** TRACT_CHAIN_PARENTS: merge parents from position 1 on, in position
	 *  order (n_extra_parents == 0 for ordinary commits). */
	const char *const *extra_parents;
	size_t n_extra_parents;
	/** TRACT_CHAIN_PRIORITY: the latest annotation of the commit with
	 *  created_at <= annotation_cutoff (ties: the greatest id), or
	 *  TRACT_PRIORITY_NONE. */
	tract_priority priority;
} tract_chain_row;

typedef struct {
	const char *tract_id;
	const char *ref_name;        /**< "HEAD", "refs/heads/main", "ORIG_HEAD"... */
	const char *commit_hash;     /**< NULL for a symbolic ref */
	const char *symbolic_target; /**< NULL for a direct ref */
} tract_ref_row;

typedef struct {
	int64_t id;                  /**< assigned by the backend on insert, increasing */
	const char *tract_id;
	const char *target_hash;
	tract_priority priority;     /**< TRACT_PRIORITY_NONE for an unrecognised stored value */
	const char *reason;          /**< NULL = none */
	tract_time created_at;
} tract_annotation_row;

typedef struct {
	const char *compression_id;
	const char *tract_id;
	const char *branch_name;     /**< NULL = none */
	tract_time created_at;
	int64_t original_tokens;
	int64_t compressed_tokens;
	int64_t target_tokens;       /**< -1 = NULL */
	const char *instructions;    /**< NULL = none */
} tract_compression_row;

typedef struct {
	int64_t id;                  /**< assigned by the backend on insert */
	const char *parent_tract_id;
	const char *parent_commit_hash; /**< NULL = none (the reference's gc blanks it) */
	const char *child_tract_id;
	const char *purpose;
	const char *inheritance_mode; /**< full_clone | head_snapshot | selective */
	const char *display_name;     /**< NULL = none */
	tract_time created_at;
} tract_spawn_row;

/** A commit handed over by an ancestry walk (commit_ancestry). */
typedef struct {
	const char *commit_hash;
	tract_time created_at;
	/** Every parent, each once, in position order: parent_hash (when
	 *  set), then the commit_parents rows by position (position 0, which
	 *  repeats parent_hash, included); n_parents == 0 for a root. A
	 *  parent that is missing, or of another tract, is listed all the
	 *  same (the walk does not go there). */
	const char *const *parents;
	size_t n_parents;
} tract_ancestry_row;

/** Per-tract summary for listings. */
typedef struct {
	const char *tract_id;
	int64_t commit_count;
	tract_time last_activity;    /**< newest commit's created_at, TRACT_TIME_NONE if none */
} tract_tract_row;

/* ---- callbacks ----------------------------------------------------------- */

typedef int (*tract_blob_cb)(const tract_blob_row *row, void *payload);
typedef int (*tract_commit_cb)(const tract_commit_row *row, void *payload);
typedef int (*tract_chain_cb)(const tract_chain_row *row, void *payload);
typedef int (*tract_ref_cb)(const tract_ref_row *row, void *payload);
typedef int (*tract_annotation_cb)(const tract_annotation_row *row, void *payload);
typedef int (*tract_parent_cb)(const char *commit_hash, const char *parent_hash,
			       int64_t position, void *payload);
typedef int (*tract_compression_cb)(const tract_compression_row *row, void *payload);
typedef int (*tract_member_cb)(const char *compression_id, const char *commit_hash,
			       int64_t position, void *payload);
typedef int (*tract_spawn_cb)(const tract_spawn_row *row, void *payload);
typedef int (*tract_meta_cb)(const char *key, const char *value, void *payload);
typedef int (*tract_tract_cb)(const tract_tract_row *row, void *payload);
typedef int (*tract_ancestry_cb)(const tract_ancestry_row *row, void *payload);

/** A candidate of a message-text search (search_query, version 5). */
typedef struct {
	const char *commit_hash;
	const char *tract_id;
	const char *content_hash;
	const char *content_type;
	tract_time created_at;
	/** The message text the index holds for the commit's blob; NULL when
	 *  the index lacks it (the blob waits in the index's queue): the
	 *  core then reads the blob. */
	const char *text;
} tract_search_row;

typedef int (*tract_search_cb)(const tract_search_row *row, void *payload);
/** A blob waiting in the search index's queue (search_pending):
 *  payload_json is NULL when the blob no longer exists. */
typedef int (*tract_search_pending_cb)(const char *content_hash, const char *payload_json,
				       void *payload);

/**
 * What an ancestry callback returns to go on without walking the commit's
 * parents (a positive value that, unlike the others, does not stop the
 * walk). A hint: a backend that cannot prune in the middle of a walk (a
 * network backend that fetched ahead) may still hand over commits reached
 * only through a pruned one.
 */
#define TRACT_ANCESTRY_PRUNE 2

/** Flags of the chain walk. */
enum {
	TRACT_CHAIN_PAYLOAD = 1u << 0,
	TRACT_CHAIN_PARENTS = 1u << 1,
	TRACT_CHAIN_PRIORITY = 1u << 2,
};

/** Which side of the compression record a member list is. */
typedef enum {
	TRACT_COMPRESSION_SOURCES = 0,
	TRACT_COMPRESSION_RESULTS = 1,
} tract_compression_side;

typedef enum {
	TRACT_TXN_READ = 0,
	TRACT_TXN_WRITE = 1,
} tract_txn_kind;

/** Flags of open(). */
enum {
	/** Create the store when missing; otherwise a missing store is ENOTFOUND. */
	TRACT_BACKEND_CREATE = 1u << 0,
};

/* ---- the table ----------------------------------------------------------- */

/*
 * Every member below documents whether a backend must provide it. The
 * loader (core/plugin.c) checks at load time that every REQUIRED member of
 * the version the table declares is set, and refuses the plugin with
 * TRACT_EPLUGIN naming the first missing member: a missing member is never
 * a crash at call time. OPTIONAL members may be NULL; the core then does
 * without them (its fallback is named in each comment) or, for an
 * operation that cannot work without one, fails with TRACT_EPLUGIN saying
 * the backend lacks it.
 *
 * Versions: a member is part of the table from the version named in its
 * group header on. A table declares the version it was written against;
 * the core accepts 0 < version <= TRACT_BACKEND_VERSION and never reads a
 * member newer than the table's version (those count as NULL). Members are
 * only ever appended.
 *
 * Threads: the core calls a connection from one thread at a time (a
 * tract_store is used by one thread at a time), but not always the same
 * thread, except that a write transaction begins, runs and ends on one
 * thread. Different connections of one process may be used concurrently
 * from different threads; the backend synchronizes whatever they share.
 * The table itself is immutable and shared by every connection.
 *
 * Ids: annotation and spawn-pointer ids are assigned by the backend on
 * insert, positive and increasing (a later insert gets a greater id than
 * every id stored at that time); they need not be dense.
 */
typedef struct tract_backend {
	/* -- identity (version 1) -------------------------------------------- */

	/** TRACT_BACKEND_VERSION the table was written against. REQUIRED. */
	unsigned int version;
	/** The backend's name: the NAME of its file tract-backend-NAME.so, a
	 *  bare word ("sqlite", "lmdb", "postgres"). REQUIRED. */
	const char *name;
	/** One line for `tract plugins`. OPTIONAL (NULL = none). */
	const char *description;
	/**
	 * The URI schemes this backend serves, NULL-terminated, at least one
	 * ({"postgres", "postgresql", NULL}). A store URI "SCHEME:REST" is
	 * served by the backend listing SCHEME (the core first tries the
	 * plugin named SCHEME, then every backend plugin on the search path);
	 * a URI without a scheme (a plain path, ":memory:") by the default
	 * backend, "sqlite". Schemes are bare words of 2 to 31 characters
	 * (letters, digits, '_', '-'), matched case-sensitively. REQUIRED.
	 */
	const char *const *schemes;
	/**
	 * Metadata keys the backend keeps in the store for itself (its schema
	 * version, its layout), NULL-terminated: they describe one store and
	 * are never copied into another by tract_store_clone(). OPTIONAL
	 * (NULL = none).
	 */
	const char *const *private_meta_keys;

	/* -- lifecycle (version 1) --------------------------------------------- */

	/**
	 * Open a store. uri is the store URI exactly as the user gave it
	 * ("sqlite:x.db", "x.db", ":memory:", "lmdb:dir?sync=0",
	 * "postgresql://u@h/db?schema=s"): the backend parses its own
	 * location and options and rejects what it does not understand
	 * (TRACT_EINVAL). Without TRACT_BACKEND_CREATE a store that does not
	 * exist is TRACT_ENOTFOUND and nothing is created; with it the
	 * store is created (schema included, in its own transaction) when
	 * missing. An existing store of an older schema is migrated; a newer
	 * one is TRACT_EVERSION, untouched. Concurrent opens with
	 * TRACT_BACKEND_CREATE of one new store must all succeed on the one
	 * store. On failure *out is NULL and, when errbuf is not NULL, a
	 * one-line message is written there (never a password). REQUIRED.
	 */
	int (*open)(tract_backend_conn **out, const char *uri, unsigned flags, char *errbuf,
		    size_t errlen);
	/** Close a connection; NULL is a no-op. Rolls back an open
	 *  transaction. REQUIRED. */
	void (*close)(tract_backend_conn *conn);
	/** Message of the last failure on this connection; never NULL ("" when
	 *  none). Valid until the next call on the connection. REQUIRED. */
	const char *(*last_error)(tract_backend_conn *conn);
	/**
	 * Close the connection and remove the store if, and only if, this
	 * connection's open() created it (TRACT_BACKEND_CREATE on a store
	 * that did not exist) and the location still holds what it created:
	 * the file with its side files, the directory, the schema. Used by
	 * tract_store_clone() to leave nothing behind after a failed copy
	 * (the core checks first that the store holds no tract data).
	 * Returns 0 when removed or when there was nothing of ours to
	 * remove; the connection is closed in every case. OPTIONAL: without
	 * it a failed clone leaves the empty store it created.
	 */
	int (*destroy)(tract_backend_conn *conn);
	/**
	 * 1 when the two URIs (both served by this backend) name one store,
	 * 0 when not: the same file reached by two paths, the same database
	 * and schema under two spellings. A store that cannot be shared
	 * (":memory:") is never the same as another. Called before either is
	 * opened; a URI naming nothing yet is compared as written. OPTIONAL:
	 * the core compares the URIs as strings.
	 */
	int (*same_store)(const char *uri_a, const char *uri_b);

	/* -- transactions (version 1, REQUIRED) ------------------------------ */

	/** Begin a transaction. TRACT_EINVAL when one is already open (they
	 *  do not nest). A read transaction sees one consistent snapshot and
	 *  never blocks, nor waits for, writers; a write transaction sees its
	 *  own writes, and at most one is open per store at a time (a second
	 *  writer waits, up to the backend's busy timeout, then fails with
	 *  TRACT_ESTORAGE "store busy"). */
	int (*begin)(tract_backend_conn *conn, tract_txn_kind kind);
	/** Commit. TRACT_EINVAL without an open transaction. On failure the
	 *  transaction is rolled back and nothing of it is written. */
	int (*commit)(tract_backend_conn *conn);
	/** Roll back. Without an open transaction a no-op returning 0 (the
	 *  engine may already have rolled back after a failure). */
	int (*rollback)(tract_backend_conn *conn);

	/* -- blobs (version 1, REQUIRED) ---------------------------------------- */

	/** Insert when absent; an existing row with the same content_hash is
	 *  left untouched (dedup, not an error). *inserted (may be NULL) tells
	 *  which happened. Write transaction. */
	int (*blob_put)(tract_backend_conn *conn, const tract_blob_row *row, int *inserted);
	/** Call cb once with the blob. TRACT_ENOTFOUND when absent. */
	int (*blob_get)(tract_backend_conn *conn, const char *content_hash, tract_blob_cb cb,
			void *payload);
	/** Every blob, in content_hash order. */
	int (*blob_foreach)(tract_backend_conn *conn, tract_blob_cb cb, void *payload);

	/* -- commits (version 1, REQUIRED) -------------------------------------- */

	/** Insert a commit row: TRACT_EEXISTS when the hash exists (in any
	 *  tract); TRACT_ESTORAGE when its blob, parent or response_to commit
	 *  is missing; TRACT_EINVAL for TRACT_OP_UNKNOWN. Write transaction. */
	int (*commit_put)(tract_backend_conn *conn, const tract_commit_row *row);
	/** Look up by full hash in any tract (tract_id NULL) or in one
	 *  tract; call cb once. TRACT_ENOTFOUND when absent. */
	int (*commit_get)(tract_backend_conn *conn, const char *tract_id, const char *commit_hash,
			  tract_commit_cb cb, void *payload);
	/**
	 * Commits of tract_id (NULL: any tract) whose hash starts with prefix
	 * (lowercase hex, matched literally through an index, never a scan),
	 * in hash order, at most max rows (0 = no limit).
	 */
	int (*commit_prefix)(tract_backend_conn *conn, const char *tract_id, const char *prefix,
			     size_t max, tract_commit_cb cb, void *payload);
	/**
	 * Walk first parents from head, newest first, in one round trip: head
	 * itself, then its parent, and so on, while the commit exists and
	 * (when tract_id is not NULL) belongs to tract_id; stop after limit
	 * rows (0 = no limit) or when cb returns > 0. flags select the
	 * extras of tract_chain_row; annotation_cutoff bounds the annotation
	 * considered for TRACT_CHAIN_PRIORITY (INT64_MAX = current). A
	 * missing head walks nothing and returns 0.
	 */
	int (*commit_chain)(tract_backend_conn *conn, const char *tract_id, const char *head,
			    size_t limit, unsigned flags, tract_time annotation_cutoff,
			    tract_chain_cb cb, void *payload);
	/** Every commit of a tract (tract_id NULL: of the store) ordered by
	 *  (created_at, commit_hash). */
	int (*commit_foreach)(tract_backend_conn *conn, const char *tract_id, tract_commit_cb cb,
			      void *payload);
	/** Commits of a tract (tract_id NULL: of the store) whose generation
	 *  config is not none, ordered by (created_at, commit_hash). */
	int (*commit_foreach_with_config)(tract_backend_conn *conn, const char *tract_id,
					  tract_commit_cb cb, void *payload);

	/* -- merge parents, commit_parents (version 1, REQUIRED) ---------------- */

	/** Record parent_hash as parent number position of a merge commit
	 *  (spec/core.md: only merge commits have rows; position 0 is the
	 *  first parent, the same as its parent_hash, 1 the merged tip...).
	 *  TRACT_EEXISTS for a (commit, parent) pair already stored;
	 *  TRACT_ESTORAGE when either commit is missing. Write transaction. */
	int (*parent_put)(tract_backend_conn *conn, const char *commit_hash,
			  const char *parent_hash, int64_t position);
	/** Every commit_parents row of one commit (position 0 included), in
	 *  position order; none for ordinary commits. */
	int (*parent_list)(tract_backend_conn *conn, const char *commit_hash, tract_parent_cb cb,
			   void *payload);
	/** Every commit_parents row, by (commit_hash, position). */
	int (*parent_foreach)(tract_backend_conn *conn, tract_parent_cb cb, void *payload);

	/* -- refs (version 1, REQUIRED) ------------------------------------------ */

	/** Call cb once with the ref. TRACT_ENOTFOUND when it does not exist. */
	int (*ref_get)(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		       tract_ref_cb cb, void *payload);
	/**
	 * Compare-and-swap: set the ref to (commit_hash, symbolic_target)
	 * (exactly one non-NULL) only if it currently is expected. expected
	 * NULL means "must not exist"; otherwise its commit_hash and
	 * symbolic_target must both equal the stored ones (expected's
	 * tract_id and ref_name are ignored); a missing ref is a mismatch.
	 * A mismatch is TRACT_ESTALE and writes nothing. A commit_hash that
	 * names no commit is TRACT_ESTORAGE. Write transaction.
	 */
	int (*ref_cas)(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		       const char *commit_hash, const char *symbolic_target,
		       const tract_ref_row *expected);
	/** Delete a ref if it still equals expected (TRACT_ESTALE otherwise,
	 *  TRACT_ENOTFOUND when absent); expected NULL deletes
	 *  unconditionally. Write transaction. */
	int (*ref_delete)(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
			  const tract_ref_row *expected);
	/** Refs of a tract (tract_id NULL: every ref of the store) whose name
	 *  starts with prefix (NULL = all), ordered by (tract_id, ref_name). */
	int (*ref_foreach)(tract_backend_conn *conn, const char *tract_id, const char *prefix,
			   tract_ref_cb cb, void *payload);

	/* -- annotations (version 1, REQUIRED) ----------------------------------- */

	/** Append a row (row->id is ignored; duplicates are allowed: every
	 *  call adds a row); *out_id (may be NULL) receives its id (see Ids
	 *  above). TRACT_EINVAL for TRACT_PRIORITY_NONE; TRACT_ESTORAGE when
	 *  the target commit is missing. Write transaction. */
	int (*annotation_put)(tract_backend_conn *conn, const tract_annotation_row *row,
			      int64_t *out_id);
	/** Annotations of a target (any tract), by (created_at, id). */
	int (*annotation_list)(tract_backend_conn *conn, const char *target_hash,
			       tract_annotation_cb cb, void *payload);
	/** Every annotation written by a tract (NULL: every one), by id. */
	int (*annotation_foreach)(tract_backend_conn *conn, const char *tract_id,
				  tract_annotation_cb cb, void *payload);

	/* -- compression records (version 1, REQUIRED) -------------------------- */

	/** Insert a record; TRACT_EEXISTS when its id exists. Write transaction. */
	int (*compression_put)(tract_backend_conn *conn, const tract_compression_row *row);
	/** Add commit_hash at position to one side of a record. TRACT_EINVAL
	 *  for an unknown side; TRACT_EEXISTS for a (record, position)
	 *  already stored on that side; TRACT_ESTORAGE when the record or
	 *  the commit is missing. Write transaction. */
	int (*compression_member_put)(tract_backend_conn *conn, tract_compression_side side,
				      const char *compression_id, const char *commit_hash,
				      int64_t position);
	/** Call cb once with the record. TRACT_ENOTFOUND when absent. */
	int (*compression_get)(tract_backend_conn *conn, const char *compression_id,
			       tract_compression_cb cb, void *payload);
	/** Records of a tract (NULL: all), by (created_at, compression_id). */
	int (*compression_foreach)(tract_backend_conn *conn, const char *tract_id,
				   tract_compression_cb cb, void *payload);
	/** Members of one side of a record, by position. TRACT_EINVAL for an
	 *  unknown side. */
	int (*compression_members)(tract_backend_conn *conn, tract_compression_side side,
				   const char *compression_id, tract_member_cb cb, void *payload);

	/* -- spawn pointers (version 1, REQUIRED) ----------------------------- */

	/** Append a row (row->id is ignored); *out_id (may be NULL) receives
	 *  its id. TRACT_ESTORAGE when parent_commit_hash names no commit.
	 *  Write transaction. */
	int (*spawn_put)(tract_backend_conn *conn, const tract_spawn_row *row, int64_t *out_id);
	/** Pointers whose parent is parent_tract_id (NULL: all), by id. */
	int (*spawn_foreach)(tract_backend_conn *conn, const char *parent_tract_id,
			     tract_spawn_cb cb, void *payload);
	/** Pointers whose child is child_tract_id, by id. */
	int (*spawn_by_child)(tract_backend_conn *conn, const char *child_tract_id,
			      tract_spawn_cb cb, void *payload);

	/* -- store metadata, _trace_meta (version 1, REQUIRED) ---------------- */

	/** Call cb once with the key's value. TRACT_ENOTFOUND when absent. */
	int (*meta_get)(tract_backend_conn *conn, const char *key, tract_meta_cb cb,
			void *payload);
	/** Insert or replace. Write transaction. */
	int (*meta_set)(tract_backend_conn *conn, const char *key, const char *value);
	/** TRACT_ENOTFOUND when absent. Write transaction. */
	int (*meta_delete)(tract_backend_conn *conn, const char *key);
	/** Keys starting with prefix (NULL = all), in key order. */
	int (*meta_foreach)(tract_backend_conn *conn, const char *prefix, tract_meta_cb cb,
			    void *payload);

	/* -- tracts (version 1, REQUIRED) --------------------------------------- */

	/**
	 * Every tract known to the store: those with refs or commits, each
	 * once. Order unspecified; commit_count and last_activity summarise
	 * its commits (0 and TRACT_TIME_NONE for a tract with refs only).
	 */
	int (*tract_foreach)(tract_backend_conn *conn, tract_tract_cb cb, void *payload);

	/* -- deletion, for garbage collection (version 2, OPTIONAL) -------------
	 * All five or none: the core checks reachability and removes
	 * dependants first; without them gc fails with TRACT_EPLUGIN. Write
	 * transaction. */

	/** Delete a commit row. Other commits' parent_hash / response_to
	 *  naming it become NULL (ON DELETE SET NULL), as do spawn pointers'
	 *  parent_commit_hash. Its commit_parents rows (as child) are
	 *  deleted too. ENOTFOUND when absent. Refs, annotations,
	 *  commit_parents rows naming it as a parent and compression members
	 *  still naming it make it fail (ESTORAGE): the core removes those
	 *  first. */
	int (*commit_delete)(tract_backend_conn *conn, const char *commit_hash);
	/** Delete a blob. ENOTFOUND when absent; ESTORAGE while a commit uses it. */
	int (*blob_delete)(tract_backend_conn *conn, const char *content_hash);
	/** Delete every annotation of a target (0 when it has none). */
	int (*annotation_delete_target)(tract_backend_conn *conn, const char *target_hash);
	/** Delete a compression record with its sources and results.
	 *  ENOTFOUND when absent. */
	int (*compression_delete)(tract_backend_conn *conn, const char *compression_id);
	/** Delete a spawn pointer by id. ENOTFOUND when absent. */
	int (*spawn_delete)(tract_backend_conn *conn, int64_t id);

	/* -- ancestry walk (version 3, OPTIONAL) ------------------------------ */

	/**
	 * Walk the ancestry of the n_starts commits starts over all parents
	 * (the history.md §6.1 walk), breadth first: a FIFO queue holding the
	 * starts in order, then, as each commit is handed over, its parents
	 * in position order (tract_ancestry_row.parents). Each commit is
	 * handed over at most once, before its parents are queued; every row
	 * is a start or a parent of a row handed over before it. Only commits
	 * of tract_id (NULL: any tract) are walked: a start or a parent that
	 * is missing or of another tract is skipped. Stops after limit rows
	 * (0 = no limit); cb returns 0 to go on, TRACT_ANCESTRY_PRUNE to go
	 * on without queueing that commit's parents, another positive value
	 * to stop, a negative code to abort. A parent cycle (a damaged store)
	 * must not make the walk loop: each commit once. One round trip, or
	 * a few, for a network backend: this is how the core's commit-graph
	 * queries (merge base, ancestry, commits unique to a branch) read
	 * history in batches. OPTIONAL: without it the core reads each commit
	 * with commit_get and parent_list.
	 */
	int (*commit_ancestry)(tract_backend_conn *conn, const char *tract_id,
			       const char *const *starts, size_t n_starts, size_t limit,
			       tract_ancestry_cb cb, void *payload);

	/* -- waiting for a ref to move (version 4, OPTIONAL) ------------------ */

	/**
	 * Block until another connection commits a transaction that changes a
	 * ref of tract_id (insert, move or delete), or timeout_ms milliseconds
	 * pass (TRACT_ETIMEOUT, "timed out" in the message). timeout_ms 0 only
	 * arms the watch and returns 0. The first call on a connection arms
	 * it: a change committed after that call began is never missed, a
	 * return without a change is allowed (the caller reads the ref again).
	 * Called outside a transaction (TRACT_EINVAL inside one). OPTIONAL:
	 * without it the core polls (a ref read with a backoff of 1 to 20 ms).
	 */
	int (*ref_watch)(tract_backend_conn *conn, const char *tract_id, int64_t timeout_ms);

	/* -- message-text search index (version 5, OPTIONAL: all four or none) --
	 *
	 * An index of each blob's message text, for tract_search_run(): the
	 * core extracts the text (the content layer's rules), the backend
	 * stores it and finds the blobs whose text may contain a term through
	 * an index (a trigram index, an inverted index), never by reading
	 * every blob. The backend keeps a queue of the blobs whose text the
	 * index lacks or holds for a blob since deleted: every blob inserted
	 * or deleted after the index was made, by any writer of the store
	 * (SQL triggers, so that writers that know nothing of the index, an
	 * older tract or tract's Python library, queue theirs too; or the
	 * backend's own blob_put and blob_delete where no other writer
	 * exists). The index is made by the first search that may write the
	 * store, never by a read-only open or a plain read; until then, and
	 * for the blobs still queued, the core reads the blobs themselves, so
	 * a search is complete whatever the index holds. Without these
	 * members the core reads every blob of the store (a scan). */

	/**
	 * Whether the index exists: 0 when it does, TRACT_ENOTFOUND when not.
	 * create non-zero (in a write transaction): make it when missing,
	 * with every blob of the store queued, and return 0; TRACT_ENOTFOUND
	 * without writing anything when this connection cannot write the
	 * store (a read-only file, a role without the rights).
	 */
	int (*search_index_open)(tract_backend_conn *conn, int create);
	/** Every queued blob, each once, with its payload (NULL for a blob
	 *  deleted since it was indexed); none when the index is missing. */
	int (*search_pending)(tract_backend_conn *conn, tract_search_pending_cb cb,
			      void *payload);
	/** Set the indexed text of a blob (text NULL: remove the blob's
	 *  index row) and take it off the queue; replaces what the index
	 *  held. TRACT_ENOTFOUND when the index is missing. Write
	 *  transaction. */
	int (*search_index_put)(tract_backend_conn *conn, const char *content_hash,
				const char *text);
	/**
	 * The commits (of tract_id; NULL: of every tract) whose blob's
	 * indexed text may contain term, with that text: a superset of the
	 * commits whose text contains term with ASCII letters matched
	 * case-insensitively (the core checks each one again), read through
	 * the index for a term of 3 bytes or more. Plus every commit whose
	 * blob is queued, with text NULL. A commit may be handed over twice
	 * (once with its text, once queued). Order unspecified.
	 * TRACT_ENOTFOUND when the index is missing.
	 */
	int (*search_query)(tract_backend_conn *conn, const char *term, const char *tract_id,
			    tract_search_cb cb, void *payload);

	/* -- batched deletion, for garbage collection (version 5, OPTIONAL) ----
	 * Both or none, and only with the deletion members: what gc removes,
	 * in one call each instead of one per row (one round trip for a
	 * network backend). Without them the core calls the deletion
	 * members row by row. Write transaction. */

	/** Delete the n commits of hashes with what annotation_delete_target
	 *  and commit_delete remove for each (their annotations, their
	 *  commit_parents rows as child), as if in the order given (children
	 *  before their parents, as commit_delete needs). *deleted (may be
	 *  NULL) gets how many existed and were deleted; a missing hash is
	 *  skipped, not an error. What would make commit_delete fail (a ref,
	 *  a commit_parents row of a commit that stays, a compression member
	 *  naming one) fails the call (ESTORAGE); unlike other refused
	 *  writes, part of the call may then be done: the caller rolls the
	 *  transaction back. */
	int (*commits_delete)(tract_backend_conn *conn, const char *const *hashes, size_t n,
			      size_t *deleted);
	/** Delete those of the n blobs of hashes that no commit uses (in any
	 *  tract); the others, and missing ones, are kept without an error.
	 *  *deleted (may be NULL) gets how many were deleted. Repeats in
	 *  hashes count once. */
	int (*blobs_delete_unused)(tract_backend_conn *conn, const char *const *hashes, size_t n,
				   size_t *deleted);
} tract_backend;

/** An initializer for a backend's table: TRACT_BACKEND_INIT, then set the
 *  members (designated initializers are the usual way). */
#define TRACT_BACKEND_INIT {TRACT_BACKEND_VERSION}

/** Initialize a table at run time: zero every member, set version. */
static inline int tract_backend_init(tract_backend *be, unsigned int version)
{
	memset(be, 0, sizeof(*be));
	be->version = version;
	return 0;
}

/**
 * The first REQUIRED member a table (read as its version, newer members
 * NULL) lacks, or NULL when it has them all: what the loader checks, for
 * a backend's own tests. An empty scheme list and a deletion group set
 * only in part count as missing too.
 */
static inline const char *tract_backend_missing_member(const tract_backend *be)
{
#define TRACT_BACKEND_REQUIRE_(m)                                                        \
	do {                                                                             \
		if (!be->m)                                                              \
			return #m;                                                       \
	} while (0)
	TRACT_BACKEND_REQUIRE_(name);
	TRACT_BACKEND_REQUIRE_(schemes);
	TRACT_BACKEND_REQUIRE_(open);
	TRACT_BACKEND_REQUIRE_(close);
	TRACT_BACKEND_REQUIRE_(last_error);
	TRACT_BACKEND_REQUIRE_(begin);
	TRACT_BACKEND_REQUIRE_(commit);
	TRACT_BACKEND_REQUIRE_(rollback);
	TRACT_BACKEND_REQUIRE_(blob_put);
	TRACT_BACKEND_REQUIRE_(blob_get);
	TRACT_BACKEND_REQUIRE_(blob_foreach);
	TRACT_BACKEND_REQUIRE_(commit_put);
	TRACT_BACKEND_REQUIRE_(commit_get);
	TRACT_BACKEND_REQUIRE_(commit_prefix);
	TRACT_BACKEND_REQUIRE_(commit_chain);
	TRACT_BACKEND_REQUIRE_(commit_foreach);
	TRACT_BACKEND_REQUIRE_(commit_foreach_with_config);
	TRACT_BACKEND_REQUIRE_(parent_put);
	TRACT_BACKEND_REQUIRE_(parent_list);
	TRACT_BACKEND_REQUIRE_(parent_foreach);
	TRACT_BACKEND_REQUIRE_(ref_get);
	TRACT_BACKEND_REQUIRE_(ref_cas);
	TRACT_BACKEND_REQUIRE_(ref_delete);
	TRACT_BACKEND_REQUIRE_(ref_foreach);
	TRACT_BACKEND_REQUIRE_(annotation_put);
	TRACT_BACKEND_REQUIRE_(annotation_list);
	TRACT_BACKEND_REQUIRE_(annotation_foreach);
	TRACT_BACKEND_REQUIRE_(compression_put);
	TRACT_BACKEND_REQUIRE_(compression_member_put);
	TRACT_BACKEND_REQUIRE_(compression_get);
	TRACT_BACKEND_REQUIRE_(compression_foreach);
	TRACT_BACKEND_REQUIRE_(compression_members);
	TRACT_BACKEND_REQUIRE_(spawn_put);
	TRACT_BACKEND_REQUIRE_(spawn_foreach);
	TRACT_BACKEND_REQUIRE_(spawn_by_child);
	TRACT_BACKEND_REQUIRE_(meta_get);
	TRACT_BACKEND_REQUIRE_(meta_set);
	TRACT_BACKEND_REQUIRE_(meta_delete);
	TRACT_BACKEND_REQUIRE_(meta_foreach);
	TRACT_BACKEND_REQUIRE_(tract_foreach);
#undef TRACT_BACKEND_REQUIRE_
	if (!be->schemes[0])
		return "schemes (the list is empty)";
	if ((be->commit_delete || be->blob_delete || be->annotation_delete_target ||
	     be->compression_delete || be->spawn_delete) &&
	    !(be->commit_delete && be->blob_delete && be->annotation_delete_target &&
	      be->compression_delete && be->spawn_delete))
		return "the deletion members (all five or none)";
	if ((be->search_index_open || be->search_pending || be->search_index_put ||
	     be->search_query) &&
	    !(be->search_index_open && be->search_pending && be->search_index_put &&
	      be->search_query))
		return "the search members (all four or none)";
	if (be->version >= 5 && !be->commits_delete != !be->blobs_delete_unused)
		return "the batched deletion members (both or none)";
	if (be->version >= 5 && be->commits_delete && !be->commit_delete)
		return "the deletion members (the batched ones need them)";
	return NULL;
}

/** Size of the table as version 1 defined it (members up to
 *  tract_foreach): what a version-1 plugin's table holds. */
#define TRACT_BACKEND_V1_SIZE                                                            \
	(offsetof(tract_backend, tract_foreach) + sizeof(((tract_backend *)0)->tract_foreach))

/** Size of the table as version 2 defined it (members up to
 *  spawn_delete): what a version-2 plugin's table holds. */
#define TRACT_BACKEND_V2_SIZE                                                            \
	(offsetof(tract_backend, spawn_delete) + sizeof(((tract_backend *)0)->spawn_delete))

/** Size of the table as version 3 defined it (members up to
 *  commit_ancestry): what a version-3 plugin's table holds. */
#define TRACT_BACKEND_V3_SIZE                                                            \
	(offsetof(tract_backend, commit_ancestry) + sizeof(((tract_backend *)0)->commit_ancestry))

/** Size of the table as version 4 defined it (members up to ref_watch):
 *  what a version-4 plugin's table holds. */
#define TRACT_BACKEND_V4_SIZE                                                            \
	(offsetof(tract_backend, ref_watch) + sizeof(((tract_backend *)0)->ref_watch))

/** Type of the entry symbol every backend plugin exports. */
typedef const tract_backend *(*tract_backend_entry_fn)(void);

/* ---- helpers for backends ----------------------------------------------- */

/*
 * The stored spellings of operations and priorities (spec/core.md §1), for
 * SQL backends that keep them as text. NULL / UNKNOWN / NONE for a value
 * without a spelling.
 */
static inline const char *tract_backend_operation_name(tract_operation op)
{
	return op == TRACT_OP_APPEND ? "APPEND" : op == TRACT_OP_EDIT ? "EDIT" : NULL;
}

static inline tract_operation tract_backend_operation_parse(const char *s)
{
	if (s && strcmp(s, "APPEND") == 0)
		return TRACT_OP_APPEND;
	if (s && strcmp(s, "EDIT") == 0)
		return TRACT_OP_EDIT;
	return TRACT_OP_UNKNOWN;
}

static inline const char *tract_backend_priority_name(tract_priority p)
{
	switch (p) {
	case TRACT_PRIORITY_SKIP:
		return "SKIP";
	case TRACT_PRIORITY_NORMAL:
		return "NORMAL";
	case TRACT_PRIORITY_PINNED:
		return "PINNED";
	default:
		return NULL;
	}
}

static inline tract_priority tract_backend_priority_parse(const char *s)
{
	if (s && strcmp(s, "SKIP") == 0)
		return TRACT_PRIORITY_SKIP;
	if (s && strcmp(s, "NORMAL") == 0)
		return TRACT_PRIORITY_NORMAL;
	if (s && strcmp(s, "PINNED") == 0)
		return TRACT_PRIORITY_PINNED;
	return TRACT_PRIORITY_NONE;
}

#ifdef __cplusplus
}
#endif
#endif
