/*
 * internal.h - the store and tract handles and the helpers every core file
 * shares: transactions, row copies, ref resolution (internal).
 *
 * The core is layered; data flows one way, and each file calls only its
 * own layer and the layers above it in this list:
 *
 *   infrastructure  error, warning, buf, json, hash, time, content,
 *                   content_build, text, uri, tokenizer, bpe, plugin, llm
 *                   (the provider layer) (no store, no tract)
 *   storage access  store.c: the handle, transactions, backend errors,
 *                   store metadata (backend calls and rows)
 *   model           row.c, refs.c, revision.c, log.c, config_query.c,
 *                   commit_view.c: commits, refs, HEAD, revisions, history
 *   compile         message.c, context.c, cache.c, compile.c
 *   renderings      render.c, document.c (the --json documents)
 *   operations      tract.c (handles: they set up every layer's state),
 *                   commit.c, annotation.c, budget.c, batch.c, status.c,
 *                   usage.c, fsck.c, clone.c, gc.c, reorder.c, diff.c,
 *                   graph.c, navigate.c (reset, checkout, switch), branch.c
 *                   (branches, tags), merge.c, replay.c, generate.c (and
 *                   llm.c, the provider layer), the multi-agent
 *                   files (tracts.c, spawn.c, collapse.c, expand.c,
 *                   session.c; agents_internal.h), compress.c
 *
 * A row (tract_row) may carry a message compile built for it (msg); compile
 * releases it: model code never calls into compile.
 */
#ifndef TRACT_CORE_INTERNAL_H
#define TRACT_CORE_INTERNAL_H

#include <cjson/cJSON.h>
#include <string.h>

#include "tract.h"
#include "tract/sys/backend.h"

#include "buf.h"
#include "content.h"
#include "error.h"

struct tract_store {
	const tract_backend *be;
	tract_backend_conn *conn;
	char backend_name[32];
	int txn_depth;       /* > 0 while a transaction (or batch) is open */
	int batch_depth;     /* nesting of tract_batch_begin */
	int batch_failed;    /* an operation failed inside the batch */
	tract_txn_kind txn_kind;
	unsigned cache_epoch; /* bumped on every rollback: caches must drop */
	/* core/dag.c: the commit graph the DAG queries keep between calls
	 * (one tract's), NULL when none; tract_dag_cache_drop() frees it. */
	struct tract_dag_graph *dag;
	int refs;            /* the caller's handle (until freed) + one per open tract */
	int freed;           /* tract_store_free() was called */
};

typedef struct tract_cache tract_cache;

/* Drop the commit graph core/dag.c keeps on the store (after gc, at close). */
void tract_dag_cache_drop(tract_store *s);

/* How many sound heads a tract handle remembers (struct tract chain_ok). */
#define TRACT_CHAIN_OK_HEADS 128

struct tract {
	tract_store *store;
	char id[65];
	char *default_branch;
	tract_tokenizer *tok;
	int verify_cache;
	size_t max_content; /* largest content JSON a commit accepts (bytes) */
	tract_content_registry types;
	tract_cache *cache;
	unsigned cache_epoch;
	/* budget */
	int64_t budget_max; /* -1: none */
	tract_budget_action budget_action;
	tract_budget_cb budget_cb;
	void *budget_payload;
	int budget_policy; /* tract_budget_policy (compact.h) */
	/* the auto-compress policy (compress_budget.c): the provider that
	 * writes its summaries (borrowed; NULL = the tract's stored one) and
	 * the fraction of the budget it compresses down to (0 = not read yet) */
	struct tract_llm *budget_llm;
	double budget_target;
	/* token_counter bookkeeping: 1 when the store already says every
	 * count of this tract came from our counter, or says "mixed". */
	int counter_ok;
	int batch_depth; /* batches this handle opened */
	/* The last heads this handle saw to have a sound first-parent chain
	 * (walked without a cycle, or written by this handle on top of such
	 * a head), one per line of work, so switching between branches does
	 * not walk them again: a commit on any other head walks the chain
	 * first (commit.c). */
	char chain_ok[TRACT_CHAIN_OK_HEADS][65];
	unsigned chain_ok_next; /* the slot a new line of work takes */
};

/** Drop one reference to a store: its handle's or a tract's. The last one
 *  closes the connection. */
void tract_store_release(tract_store *s);

/** Free a store handle and remove the store if that handle's open created
 *  it (the backend's destroy; a plain close without one). */
int tract_store_destroy_created(tract_store *s);

/* ---- transactions ------------------------------------------------------ */

/** Open a transaction unless one (a batch) is already open. */
int tract_txn_begin(tract_store *s, tract_txn_kind kind);
/** Close what tract_txn_begin opened: commit when rc >= 0, roll back
 *  otherwise (inside a batch: mark the batch failed). Returns rc, or the
 *  commit's error. */
int tract_txn_end(tract_store *s, int rc);

/** True for the codes operations raise before writing anything. */
int tract_error_is_validation(int code);

/** Wrap a backend failure into the thread's last error. */
int tract_backend_error(tract_store *s, int rc, const char *what);

/* ---- owned copies of rows ------------------------------------------------ */

struct tract_msg;
void tract_msg_release(struct tract_msg *m);

/** Copy a hash or id of at most 64 bytes into a 65-byte field. */
static inline void tract_copy_id(char dst[65], const char *src)
{
	size_t n = src ? strnlen(src, 64) : 0;

	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* A commit row copied out of the backend; its strings share one block. */
typedef struct {
	char *mem;              /* the block every string below points into */
	char hash[65];
	char tract_id[65];
	char *parent;
	char content_hash[65];
	char *content_type;
	tract_operation operation;
	char *response_to;
	char *message;
	int64_t token_count;
	char *metadata;
	char *config;
	tract_time created_at;
	char *payload;          /* payload_json when loaded */
	char **extra_parents;
	size_t n_extra;
	tract_priority priority;
	struct tract_msg *msg;  /* message built ahead by compile, or NULL */
} tract_row;

int tract_row_copy(tract_row *dst, const tract_commit_row *src);
int tract_row_copy_chain(tract_row *dst, const tract_chain_row *src);
/** What tract_row_copy_chain_part() leaves out (those members are NULL). */
enum {
	TRACT_ROW_SKIP_PAYLOAD = 1u << 0, /* payload */
	TRACT_ROW_SKIP_TEXTS = 1u << 1,   /* message and metadata */
};
int tract_row_copy_chain_part(tract_row *dst, const tract_chain_row *src, unsigned skip);
void tract_row_dispose(tract_row *r);

/** Wrap a row into a public commit object (takes ownership of r). */
tract_commit *tract_commit_from_row(tract_row *r);
/** The row inside a commit object: an operation that must not fail once it
 *  has written allocates the object ahead (from an empty row) and fills it. */
tract_row *tract_commit_row_of(tract_commit *c);

/** The log --json object of a commit (row.c); tract_commit_to_json()
 *  (commit_view.c) adds the members its flags ask for. */
int tract_commit_json_base(char **out, const tract_commit *c);

/* ---- refs ------------------------------------------------------------------ */

typedef struct {
	int exists;
	char commit[65];   /* "" when symbolic */
	char symbolic[256]; /* "" when direct */
} tract_ref_value;

int tract_ref_read(tract_ref_value *out, tract_store *s, const char *tract_id, const char *name);
/** HEAD resolution: hash ("" when none), attached branch ref name. */
typedef struct {
	tract_ref_value head;   /* the HEAD row */
	tract_ref_value branch; /* the branch row when attached */
	char hash[65];          /* resolved commit, "" when none */
} tract_head_state;

int tract_head_read(tract_head_state *out, tract *t);

/** Resolve a reference inside a transaction. */
int tract_resolve_in_txn(char out[65], tract *t, const char *ref);
/** One commit of the tract, with the chain walk's extras in flags
 *  (TRACT_CHAIN_PAYLOAD...), inside an open transaction; TRACT_ENOTFOUND
 *  "Commit not found: HASH" when it is not there. */
int tract_commit_read(tract_row *out, tract *t, const char *hash, unsigned flags);

/* ---- navigation (refs.c, revision.c) -------------------------------------- */

/** Longest ref name the refs table holds. */
#define TRACT_REF_NAME_MAX 255
/** Longest revision text resolved, and the most digits after ~ or ^. */
#define TRACT_REVISION_MAX 4096
#define TRACT_REVISION_MAX_DIGITS 9

/** TRACT_EDETACHED with the spec's message when HEAD is detached: what
 *  commit and compression refuse (spec/history.md §4.2). */
int tract_head_check_attached(const tract_head_state *hs, const tract *t);

/** git's check-ref-format rules for a branch or tag name; kind ("branch",
 *  "tag") names it in the message. TRACT_EINVAL. */
int tract_refname_check(const char *kind, const char *name);

/* ---- compile and cache (compile.c, cache.c) ------------------------------- */

/** One compiled message; immutable and shared between snapshots. */
typedef struct tract_msg {
	int refs;
	const char *role;
	char *content;  /* NUL after content_len bytes; U+0000 inside is a */
	char *name;     /* 0x00 byte, so lengths, not strlen(), end them */
	size_t content_len;
	size_t name_len;
	char *config;   /* JSON text, "{}" when none */
	char *own_config; /* the original commit's config ("{}" when none): what
			   * an edit without a config of its own falls back to */
	char hash[65];
	int64_t tokens; /* 3 + tok(role) + tok(content) [+ tok(name) + 1] */
	/* What the provider renderings need beyond the text (core/chat.c):
	 * a tool call or result (its tool, call id when given, status and
	 * arguments or result text), or reasoning. See tract_message_parts. */
	tract_msg_kind kind;
	char *tool_name;
	char *call_id;
	const char *status;
	char *tool_body;
	size_t tool_body_len;
} tract_msg;

void tract_msg_release(tract_msg *m);

typedef struct tract_msgvec tract_msgvec;

/**
 * A compiled context; shared (refcounted) between the cache and callers and
 * immutable once handed out: the first `count` messages of `vec`.
 */
struct tract_context {
	int refs;
	char head[65];
	tract_msgvec *vec;
	size_t count;
	int64_t tokens_sum;  /* Σ per-message counts */
	int64_t token_count; /* 3 + tokens_sum, 0 when empty, or the API figure */
	char *token_source;
};

tract_context *tract_context_new(size_t cap);
tract_context *tract_context_ref(tract_context *c);
tract_msg *tract_context_msg(const tract_context *c, size_t i);
/** Append m (taking its reference) to a context being built. */
int tract_context_push(tract_context *c, tract_msg *m);
/** token_count from the per-message counts (unless an API figure). */
void tract_context_sum(tract_context *c);
/** Same messages, new context object (shares the vector). */
tract_context *tract_context_share(const tract_context *c);
/** c plus m at the end (takes m's reference): O(1) at the vector's tip. */
tract_context *tract_context_extend(const tract_context *parent, tract_msg *m);
/** Copy of c with message pos replaced by replacement (taken), or dropped
 *  when replacement is NULL; pos SIZE_MAX copies everything. */
tract_context *tract_context_rebuild(const tract_context *c, size_t pos, tract_msg *replacement);

tract_cache *tract_cache_new(size_t capacity);
void tract_cache_free(tract_cache *c);
/** Borrowed reference (refreshes recency), or NULL. */
tract_context *tract_cache_get(tract_cache *c, const char *head);
/** Store ctx under its head (takes a reference). */
int tract_cache_put(tract_cache *c, tract_context *ctx);
void tract_cache_clear(tract_cache *c);
size_t tract_cache_size(const tract_cache *c);
/** How many snapshots it may hold (0: the cache is off). */
size_t tract_cache_capacity(const tract_cache *c);

/** Drop the tract's cache if a rollback happened since it was filled. */
void tract_cache_sync(tract *t);

/** Full compile of head inside an open transaction. */
int tract_compile_full(tract_context **out, tract *t, const char *head,
		       const tract_compile_options *opts);

/** Token counts of the usual roles during one compile, each slot 0 until
 *  counted, then count + 1 (compile.c). */
#define TRACT_N_ROLE_COUNTS 4
typedef struct {
	int64_t n[TRACT_N_ROLE_COUNTS];
} tract_role_counts;

/** Build a message from a commit's row and its payload; tokens counted
 *  (or reused when allowed). roles (or NULL) keeps role counts across the
 *  messages of one compile. */
int tract_msg_build(tract_msg **out, tract *t, const char *orig_hash, const char *payload,
		    const char *config, const char *own_config, const tract_row *source,
		    int reuse_counts, int edit_marker, tract_role_counts *roles);

/** A copy of base whose content is content (len bytes), recounted: a merge
 *  resolution applied to a message (compile.c). config NULL keeps base's. */
int tract_msg_with_content(tract_msg **out, tract *t, const tract_msg *base, const char *content,
			   size_t len, const char *config, int edit_marker,
			   tract_role_counts *roles);

/** A derived or patched snapshot reports the tract's counter and the sum
 *  of its messages again, never an API figure (context.c). */
int tract_context_recount(tract_context *c, tract *t);

/** Check a would-be context of total tokens against the budget: warn,
 *  refuse (TRACT_EBUDGET) or ask the callback (budget.c). */
int tract_budget_check(tract *t, int64_t total);

/** The auto-compact budget policy (compact.c): when compacting the tool
 *  results of ctx (the context at HEAD) brings total (the would-be
 *  context's count) down to the budget, write that compaction inside the
 *  open transaction and set *applied; otherwise write nothing. */
int tract_compact_for_budget(tract *t, const tract_context *ctx, int64_t total, int *applied);

/** One change of tract_commit_edits(): the message at pos of the parent
 *  context edited (content: the edit's content JSON; msg: the message it
 *  compiles to when the caller already built it, else NULL), or, content
 *  NULL, skipped by a SKIP annotation with reason. hash: the edit commit. */
typedef struct {
	size_t pos;
	const char *content;
	tract_msg *msg; /* borrowed */
	const char *reason;
	char hash[65];
} tract_edit_item;

/** Write items (in context order) inside the open write transaction, as
 *  that many tract_commit_create() edits (message as their commit message)
 *  and tract_annotation_create() skips would, one after the other, on the
 *  HEAD parent (the context at HEAD) was compiled for; HEAD moved once, the
 *  new HEAD's snapshot derived once and cached. No budget check: for edits
 *  that shrink the context (commit.c). */
int tract_commit_edits(tract *t, const tract_context *parent, tract_edit_item *items, size_t n,
		       const char *message);

/** Token count of text with the tract's counter (negative on error). */
int64_t tract_count(tract *t, const char *text, size_t len);

/** Whether stored per-commit counts of this tract came from our counter. */
int tract_counts_reusable(tract *t, int *out);

/** Metadata keys. */
#define TRACT_META_COUNTER "token_counter"
#define TRACT_META_MAX_TOKENS "max_tokens"
#define TRACT_META_BUDGET_POLICY "budget_policy"
#define TRACT_META_BUDGET_TARGET "budget_target"
#define TRACT_META_DISPLAY_NAME "display_name"
#define TRACT_META_CREATED "created_at"

/** Read a metadata value into buf; *found tells whether the key exists. */
int tract_meta_read(tract_store *s, const char *key, char *buf, size_t len, int *found);

/** "tract:<id>:<key>" into buf. */
char *tract_meta_key(char *buf, size_t len, const char *tract_id, const char *key);

/** *out = 1 when the latest session commit on the first-parent chain
 *  from head is an `end` (session.c). */
int tract_session_ended(int *out, tract_store *s, const char *tract_id, const char *head);

/** Parse a JSON object argument (metadata, config): NULL stays NULL. */
int tract_parse_object(cJSON **out, const char *json, const char *what);

#endif
