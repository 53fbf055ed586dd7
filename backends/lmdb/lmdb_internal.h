/*
 * lmdb_internal.h - what the files of the LMDB backend (tract-backend-lmdb.so)
 * share: the store layout, the handle and its shared environment, keys under
 * construction, the record types, and the functions one file provides to the
 * others. The tiny helpers of the hot paths (keys) are static inline here.
 *
 * A store is one LMDB environment: the directory of "lmdb:DIR" holds
 * data.mdb and lock.mdb (LMDB's own) and tract-write.lock (see "Map
 * growth" in lmdb_txn.c). Options follow the directory as a query string:
 * "lmdb:DIR?sync=0&map_size=64M&busy_timeout=200".
 *
 * ---- Key layout ---------------------------------------------------------
 *
 * One named sub-database per table and per index. Every string inside a
 * key ends with its NUL byte, so keys built from several strings sort like
 * the tuples they encode ("a\0..." < "ab\0...") and prefix matches are
 * plain byte compares. Numbers in keys are 8 bytes big-endian; timestamps
 * have their sign bit flipped first, so byte order is numeric order.
 * Commits and blobs get a sequence number (seq) when written: records
 * live under their seq, and a hash index maps each hash to it. A commit
 * record keeps the seqs of its parent, blob and response_to besides their
 * hashes, so following a chain never searches by hash, and reverse links
 * are keyed by seqs that grow with the history (appends write at the
 * right edge of those trees). A seq is the last one plus 1: deleting the
 * newest commit frees its seq for the next, once nothing refers to it.
 *
 *   info            name\0                        -> value\0 ("format" = 1)
 *   blobs           bseq                          -> blob record
 *   blob_hash       content_hash\0                -> bseq
 *   blob_users      bseq cseq                     -> (empty)   commits of a blob
 *   commits         cseq                          -> commit record
 *   commit_hash     commit_hash\0                 -> cseq      get, prefix lookup
 *   tract_time      tract\0 time commit_hash\0    -> cseq      a tract's commits in order
 *   time            time commit_hash\0            -> cseq      the store's, in order
 *   tract_config    tract\0 time commit_hash\0    -> cseq      ...with a generation config
 *   config          time commit_hash\0            -> cseq
 *   children        parent cseq, child cseq       -> (empty)   for ON DELETE SET NULL
 *   responses       target cseq, cseq             -> (empty)   (response_to)
 *   tracts          tract\0                       -> commit count
 *   parents         commit_hash\0 pos parent\0    -> (empty)   commit_parents rows
 *   parent_of       parent cseq, commit cseq      -> (empty)   the same, reversed
 *   refs            tract\0 ref_name\0            -> 'c' hash | 's' target
 *   ann             id                            -> annotation record
 *   ann_target      target_hash\0 time id         -> priority  a commit's, in order
 *   ann_tract       tract\0 id                    -> (empty)
 *   comp            compression_id\0              -> compression record
 *   comp_tract_time tract\0 time compression_id\0 -> (empty)
 *   comp_time       time compression_id\0         -> (empty)
 *   comp_members    side compression_id\0 pos commit_hash\0 -> (empty)
 *   member_of       cseq side compression_id\0    -> (empty)
 *   spawns          id                            -> spawn record
 *   spawn_parent    parent_tract\0 id             -> (empty)
 *   spawn_child     child_tract\0 id              -> (empty)   children of a spawn
 *   spawn_commit    cseq id                       -> (empty)   (parent_commit_hash)
 *   meta            key\0                         -> value\0   (_trace_meta)
 *   search_info, search_text, search_tri: the search index (lmdb_search.c)
 *
 * The access paths: a commit by hash is two lookups (commit_hash, then
 * commits); a prefix is a range of commit_hash; a chain walk follows the
 * parent seqs, and a linear history written in order is one backwards
 * step of a cursor per commit (its blobs likewise). Annotations and merge
 * parents are looked up only for commits whose record is flagged as
 * having some. No ABI operation reads commits by content type, so there
 * is no index by type; generation configs have theirs (tract_config).
 * Records are a version byte, fixed-size numbers, then strings as a
 * 32-bit length (0xffffffff: NULL) and the bytes with their NUL, so a
 * read transaction hands out strings pointing into the map itself (a
 * write transaction hands out copies: a callback that writes may move
 * the page they lie on).
 * Deleting a commit finds what names it through the reverse indexes,
 * except refs, which are scanned (a store has few of them).
 */

#ifndef TRACT_BACKEND_LMDB_INTERNAL_H
#define TRACT_BACKEND_LMDB_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <lmdb.h>

#include "tract/common.h"
#include "tract/sys/backend.h"

#include "codec.h"
#include "uri.h"

#define ERRLEN 512
#define FORMAT_VERSION "1"
#define REC_VERSION 1
#define KEY_MAX 511 /* LMDB's default maximum key size */
#define LOCK_FILE "tract-write.lock"
#define DEFAULT_MAP_SIZE ((uint64_t)256 << 20)
#define MIN_MAP_SIZE ((uint64_t)64 << 10)
#define MAX_MAP_SIZE ((uint64_t)1 << 44) /* 16 TiB of address space */
/* How long a writer waits for the write lock by default (SQLite's too). */
#define DEFAULT_BUSY_MS 5000
#define MAX_BUSY_MS (INT64_C(24) * 3600 * 1000)
/* How long a resize waits for the process's other transactions. */
#define REMAP_WAIT_SEC 30
#define STR_NULL UINT32_MAX

/* Internal results, never returned to the core. */
#define NOT_FOUND 1        /* a lookup found nothing */
#define E_MAPFULL (-1000)  /* MDB_MAP_FULL: grow the map and replay */

/* ---- sub-databases ---------------------------------------------------------- */

enum db {
	DB_INFO,
	DB_BLOBS,
	DB_BLOB_HASH,
	DB_BLOB_USERS,
	DB_COMMITS,
	DB_COMMIT_HASH,
	DB_TRACT_TIME,
	DB_TIME,
	DB_TRACT_CONFIG,
	DB_CONFIG,
	DB_CHILDREN,
	DB_RESPONSES,
	DB_TRACTS,
	DB_PARENTS,
	DB_PARENT_OF,
	DB_REFS,
	DB_ANN,
	DB_ANN_TARGET,
	DB_ANN_TRACT,
	DB_COMP,
	DB_COMP_TRACT_TIME,
	DB_COMP_TIME,
	DB_COMP_MEMBERS,
	DB_MEMBER_OF,
	DB_SPAWNS,
	DB_SPAWN_PARENT,
	DB_SPAWN_CHILD,
	DB_SPAWN_COMMIT,
	DB_META,
	DB_SEARCH_INFO, /* lmdb_search.c */
	DB_SEARCH_TEXT,
	DB_SEARCH_TRI,
	N_DB
};

extern const char *const db_names[N_DB];

/* Flags of a commit record. */
enum {
	CF_MERGE = 1u << 0,     /* has commit_parents rows */
	CF_ANNOTATED = 1u << 1, /* has annotations */
};

enum sync_mode {
	SYNC_FULL,
	SYNC_DATA,
	SYNC_NONE,
};

/* ---- shared environments ------------------------------------------------------ */

struct tract_backend_conn;

/*
 * One per store directory and process: LMDB allows one MDB_env per
 * environment and process. mu guards the counters and lists below.
 */
struct shared_env {
	struct shared_env *next;
	pid_t pid;         /* the process that opened it */
	dev_t dev;
	ino_t ino;
	MDB_env *env;
	MDB_dbi dbi[N_DB];
	int lockfd;        /* tract-write.lock, flock()ed by the writer */
	unsigned refs;     /* handles using it */
	size_t max_key;    /* LMDB's maximum key size */
	size_t psize;      /* LMDB's page size */
	int datafd;        /* data.mdb (LMDB's descriptor) */
	char *data_path;   /* DIR/data.mdb, for messages */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned active;   /* transactions open in this process */
	struct tract_backend_conn *act_head; /* the handles they belong to */
	bool writing;      /* a handle holds the write transaction */
	pthread_t writer;  /* ...in this thread */
	bool remapping;    /* a resize waits for the open transactions */
	bool unsynced;     /* commits of sync=0 handles since the last sync */
};

/* ---- replay log --------------------------------------------------------------- */

enum op {
	OP_BLOB_PUT,
	OP_COMMIT_PUT,
	OP_PARENT_PUT,
	OP_REF_CAS,
	OP_REF_DELETE,
	OP_ANN_PUT,
	OP_COMP_PUT,
	OP_MEMBER_PUT,
	OP_SPAWN_PUT,
	OP_META_SET,
	OP_META_DELETE,
	OP_COMMIT_DELETE,
	OP_BLOB_DELETE,
	OP_ANN_DELETE_TARGET,
	OP_COMP_DELETE,
	OP_SPAWN_DELETE,
	OP_SEARCH_OPEN,
	OP_SEARCH_PUT,
};

#define LOG_STRS 9
#define LOG_INTS 5

/*
 * One write operation with its arguments: strings in s[], numbers in
 * i[] (the layout of each op is in dispatch()). out is its result (the
 * id assigned, whether a blob was inserted), checked again on replay.
 */
struct logent {
	enum op op;
	const char *s[LOG_STRS];
	int64_t i[LOG_INTS];
	int64_t out;
};

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	char data[];
};

struct oplog {
	struct logent *ents;
	size_t n, cap;
	struct arena_chunk *chunks;
};

/* ---- connection ---------------------------------------------------------------- */

struct tract_backend_conn {
	struct shared_env *se;
	enum sync_mode sync;
	MDB_txn *txn;      /* the open transaction, NULL when none (or dead) */
	MDB_txn *rtxn;     /* the read transaction handle, reset between uses */
	tract_txn_kind kind;
	bool in_txn;       /* a transaction is open (begin() or one call's own) */
	bool explicit_txn; /* ...opened by begin() */
	bool dead;         /* the write transaction failed; only rollback helps */
	bool writer;       /* holds se->writing */
	bool locked;       /* holds the flock */
	bool active;       /* counted in se->active */
	pthread_t thread;  /* of the open transaction */
	char *created;     /* the directory this handle's open created, or NULL */
	dev_t created_dev;
	ino_t created_ino;
	struct tract_backend_conn *act_next, *act_prev;
	uint64_t gen;      /* bumped when the write transaction is rebuilt */
	int64_t busy_ms;   /* how long begin waits for the write lock */
	/* Values of the open transaction are checked against their pages
	 * (a read transaction on pages of the OS's size; see val_sane()). */
	bool page_check;
	uint64_t pages_used; /* the pages the meta page said are in use */
	uintptr_t map_lo, map_hi; /* the map, in a write transaction (0: unknown) */
	struct oplog log;
	char err[ERRLEN];
};

/* ---- location and options ------------------------------------------------------------ */

struct options {
	char *dir;
	enum sync_mode sync;
	uint64_t map_size; /* 0: not given */
	int64_t busy_ms;   /* busy_timeout, in milliseconds */
};

/* ---- keys --------------------------------------------------------------------------- */

/* Timestamps and signed positions in keys: sign bit flipped, big-endian. */
static inline uint64_t signed_bits(int64_t v)
{
	return (uint64_t)v ^ (UINT64_C(1) << 63);
}

static inline int64_t signed_value(uint64_t bits)
{
	return (int64_t)(bits ^ (UINT64_C(1) << 63));
}

/* A key under construction; over is set when it outgrows KEY_MAX. */
struct key {
	unsigned char b[KEY_MAX];
	size_t n;
	bool over;
};

static inline void k_init(struct key *k)
{
	k->n = 0;
	k->over = false;
}

static inline void k_bytes(struct key *k, const void *p, size_t n)
{
	if (k->over || n > KEY_MAX - k->n) {
		k->over = true;
		return;
	}
	memcpy(k->b + k->n, p, n);
	k->n += n;
}

/* A string with its NUL. */
static inline void k_str(struct key *k, const char *s)
{
	k_bytes(k, s, strlen(s) + 1);
}

static inline void k_u64(struct key *k, uint64_t v)
{
	unsigned char b[8];

	bc_put_be64(b, v);
	k_bytes(k, b, 8);
}

static inline void k_u8(struct key *k, unsigned v)
{
	unsigned char b = (unsigned char)v;

	k_bytes(k, &b, 1);
}

static inline MDB_val k_val(const struct key *k)
{
	MDB_val v = {k->n, (void *)k->b};

	return v;
}

/* Too long for this environment (LMDB may be built with a smaller limit). */
static inline bool k_over(tract_backend_conn *c, const struct key *k)
{
	return k->over || k->n == 0 || k->n > c->se->max_key;
}

static inline bool has_prefix(const MDB_val *k, const void *prefix, size_t n)
{
	return n == 0 || (k->mv_size >= n && memcmp(k->mv_data, prefix, n) == 0);
}

static inline MDB_val u64_val(unsigned char buf[8], uint64_t v)
{
	MDB_val m = {8, buf};

	bc_put_be64(buf, v);
	return m;
}

/*
 * A key or value LMDB handed out lies inside its page, or for a large
 * value, inside the overflow pages its page header counts, which are in
 * use. LMDB trusts the sizes stored in its pages: a corrupt one would
 * send a decoder past the end of the page, the file (SIGBUS) or the map
 * (SIGSEGV). This reads LMDB 0.9's page header (the number at offset 0,
 * flags at 10, the count of overflow pages at 12, 16 bytes in all), so
 * it is only done where pages are where it expects them: in the map, of
 * the OS's page size, hence aligned (a write transaction's copies of the
 * pages it changed are not, and go unchecked). Keys never overflow: they
 * must end on their page.
 */
static inline bool val_sane(const tract_backend_conn *c, const MDB_val *v, bool key)
{
	uintptr_t p = (uintptr_t)v->mv_data, ps = c->se->psize, off;
	const unsigned char *hdr;
	uint64_t pgno;
	uint32_t pages;
	uint16_t flags;

	if (!c->page_check || !ps)
		return true;
	if (c->map_hi && (p < c->map_lo || p >= c->map_hi))
		return true; /* a write transaction's copy of a page */
	off = p % ps;
	if (v->mv_size <= ps - off)
		return true;
	if (key || off != 16)
		return false;
	hdr = (const unsigned char *)(p - 16);
	memcpy(&pgno, hdr, 8);
	memcpy(&flags, hdr + 10, 2);
	memcpy(&pages, hdr + 12, 4);
	return (flags & 0x04) != 0 && pages > 0 && pgno < c->pages_used &&
	       pages <= c->pages_used - pgno && v->mv_size <= (uint64_t)pages * ps - 16;
}

static inline MDB_dbi dbi_of(tract_backend_conn *c, enum db db)
{
	return c->se->dbi[db];
}

/* The keys of a commit's time indexes: (tract, time, hash) and (time, hash). */
static inline void time_keys(struct key *tk, struct key *ak, const char *tract, tract_time t,
			     const char *hash)
{
	k_init(tk);
	k_str(tk, tract);
	k_u64(tk, signed_bits(t));
	k_str(tk, hash);
	k_init(ak);
	k_u64(ak, signed_bits(t));
	k_str(ak, hash);
}

static inline void seq_pair(struct key *k, uint64_t a, uint64_t b)
{
	k_init(k);
	k_u64(k, a);
	k_u64(k, b);
}

/* ---- record types ------------------------------------------------------------------- */

/* A commit as stored: the row plus the seqs of what it names. */
struct crec {
	tract_commit_row row;
	unsigned flags;
	uint64_t parent_seq, blob_seq, response_seq; /* 0: none */
};

/* A spawn pointer as stored: the row plus its parent commit's seq. */
struct srec {
	tract_spawn_row row;
	uint64_t commit_seq; /* 0: none */
};

/* A ref's value: 'c' and the commit hash, or 's' and the symbolic target. */
struct refval {
	const char *commit_hash;
	const char *symbolic_target;
};

/* Encodes a record into a writer of lmdb_codec.c (or only measures it). */
struct wr;
typedef void (*enc_fn)(struct wr *w, const void *arg);

/* ---- iteration -------------------------------------------------------------------------- */

/* Call visit on every key of the range; a positive result stops (0). */
typedef int (*visit_fn)(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx);

/* Copies of the keys of a range, for deleting them after the walk. */
struct keylist {
	MDB_val *k;
	size_t n, cap;
};

/* Where the visit_* functions of an operation hand its rows. */
struct sink {
	union {
		tract_blob_cb blob;
		tract_commit_cb commit;
		tract_ref_cb ref;
		tract_annotation_cb annotation;
		tract_parent_cb parent;
		tract_compression_cb compression;
		tract_member_cb member;
		tract_spawn_cb spawn;
		tract_meta_cb meta;
	} fn;
	void *payload;
	const char *filter; /* tract or prefix the rows must match, or NULL */
	size_t max, n;      /* rows handed over, and at most (0: no limit) */
};

/* ---- argument checks ---------------------------------------------------------------- */

#define CHECK_CONN(c) BC_CHECK_CONN(c)
#define CHECK_ARG(c, cond) BC_CHECK_ARG(fail, "lmdb", c, cond)

/* A read operation: body runs in the open transaction or its own. */
#define READ_OP(c, body)                                                                           \
	do {                                                                                       \
		bool own_;                                                                         \
		int rc_ = enter((c), TRACT_TXN_READ, &own_);                                       \
		if (rc_ < 0)                                                                       \
			return rc_;                                                                \
		rc_ = (body);                                                                      \
		return leave((c), own_, rc_);                                                      \
	} while (0)

/* ---- functions of the other files ---------------------------------------------------- */

/* lmdb_env.c */
__attribute__((format(printf, 3, 4))) int fail(tract_backend_conn *c, int code, const char *fmt,
					       ...);
int fail_oom(tract_backend_conn *c);
int code_of_mdb(int rc);
int fail_mdb(tract_backend_conn *c, int rc, const char *what);
int fail_corrupt(tract_backend_conn *c, const char *what, const char *key);
int fail_key(tract_backend_conn *c, const char *what);
int parse_location(const char *location, struct options *o, char *err, size_t errlen);
void deadline_in(struct timespec *t, int64_t ms);
int lock_writers(struct shared_env *se, const struct timespec *deadline);
int fail_busy(tract_backend_conn *c);
int check_size(tract_backend_conn *c);
void unlock_writers(struct shared_env *se);
int env_acquire(tract_backend_conn *c, const char *dir, unsigned flags, const struct options *o);
void env_release(struct shared_env *se);
bool thread_has_txn(struct shared_env *se, const tract_backend_conn *except);
int remap(tract_backend_conn *c, size_t size);
int grow_map(tract_backend_conn *c);
void grow_ahead(tract_backend_conn *c);

/* lmdb_codec.c */
unsigned op_code(tract_operation op);
unsigned prio_code(tract_priority p);
tract_priority prio_of_code(unsigned code);
void enc_commit(struct wr *w, const void *arg);
bool dec_commit(const MDB_val *v, struct crec *c);
void enc_blob(struct wr *w, const void *arg);
bool dec_blob(const MDB_val *v, tract_blob_row *b);
void enc_annotation(struct wr *w, const void *arg);
bool dec_annotation(const MDB_val *v, tract_annotation_row *a);
void enc_compression(struct wr *w, const void *arg);
bool dec_compression(const MDB_val *v, tract_compression_row *x);
void enc_spawn(struct wr *w, const void *arg);
bool dec_spawn(const MDB_val *v, struct srec *s);
void enc_ref(struct wr *w, const void *arg);
bool dec_ref(const MDB_val *v, struct refval *out);
bool dec_text(const MDB_val *v, const char **out);
bool split_key(const unsigned char *p, size_t n, const char **a, uint64_t *num, const char **b);
int db_get(tract_backend_conn *c, enum db db, MDB_val *k, MDB_val *v, const char *what);
int db_put(tract_backend_conn *c, enum db db, MDB_val *k, MDB_val *v, unsigned flags,
	   const char *what);
int db_put_key(tract_backend_conn *c, enum db db, const struct key *k, const char *what);
int db_del(tract_backend_conn *c, enum db db, MDB_val *k, const char *what);
int db_del_key(tract_backend_conn *c, enum db db, const struct key *k, const char *what);
int db_put_rec(tract_backend_conn *c, enum db db, MDB_val *k, enc_fn enc, const void *arg,
	       unsigned flags, const char *what);
int hold(tract_backend_conn *c, MDB_val *v, void **held);
int seq_of(tract_backend_conn *c, enum db index, const char *hash, uint64_t *seq);
int next_seq(tract_backend_conn *c, enum db db, uint64_t *out);
int range_any(tract_backend_conn *c, enum db db, const void *prefix, size_t n, bool *any);

/* lmdb_txn.c */
void log_free(struct oplog *l);
int begin_txn(tract_backend_conn *c, tract_txn_kind kind);
void end_txn(tract_backend_conn *c);
int commit_txn(tract_backend_conn *c);
int enter(tract_backend_conn *c, tract_txn_kind kind, bool *own);
int leave(tract_backend_conn *c, bool own, int rc);
int run_write(tract_backend_conn *c, struct logent *e);
int foreach_range(tract_backend_conn *c, enum db db, const void *prefix, size_t plen,
		  visit_fn visit, void *ctx);
int collect_keys(tract_backend_conn *c, enum db db, const void *prefix, size_t plen,
		 struct keylist *l);
void keylist_free(struct keylist *l);

/* lmdb_ops.c */
int op_blob_put(tract_backend_conn *c, struct logent *e);
int lmdb_blob_put(tract_backend_conn *c, const tract_blob_row *row, int *inserted);
int lmdb_blob_get(tract_backend_conn *c, const char *content_hash, tract_blob_cb cb, void *payload);
int lmdb_blob_foreach(tract_backend_conn *c, tract_blob_cb cb, void *payload);
int op_blob_delete(tract_backend_conn *c, struct logent *e);
int lmdb_blob_delete(tract_backend_conn *c, const char *content_hash);
int load_commit(tract_backend_conn *c, uint64_t seq, struct crec *r, void **held);
int store_commit(tract_backend_conn *c, uint64_t seq, const struct crec *r, unsigned flags);
int commit_flags(tract_backend_conn *c, uint64_t seq, unsigned set, unsigned clear);
int tract_count_add(tract_backend_conn *c, const char *tract, int64_t delta);
int op_commit_put(tract_backend_conn *c, struct logent *e);
int lmdb_commit_put(tract_backend_conn *c, const tract_commit_row *row);
int lmdb_commit_get(tract_backend_conn *c, const char *tract_id, const char *commit_hash,
		    tract_commit_cb cb, void *payload);
int lmdb_commit_prefix(tract_backend_conn *c, const char *tract_id, const char *prefix, size_t max,
		       tract_commit_cb cb, void *payload);
int lmdb_commit_foreach(tract_backend_conn *c, const char *tract_id, tract_commit_cb cb,
			void *payload);
int lmdb_commit_foreach_with_config(tract_backend_conn *c, const char *tract_id, tract_commit_cb cb,
				    void *payload);
int op_parent_put(tract_backend_conn *c, struct logent *e);
int lmdb_parent_put(tract_backend_conn *c, const char *commit_hash, const char *parent_hash,
		    int64_t position);
int lmdb_parent_list(tract_backend_conn *c, const char *commit_hash, tract_parent_cb cb,
		     void *payload);
int lmdb_parent_foreach(tract_backend_conn *c, tract_parent_cb cb, void *payload);
bool split_ref_key(const MDB_val *k, const char **tract, const char **name);
int lmdb_ref_get(tract_backend_conn *c, const char *tract_id, const char *ref_name, tract_ref_cb cb,
		 void *payload);
int op_ref_cas(tract_backend_conn *c, struct logent *e);
int lmdb_ref_cas(tract_backend_conn *c, const char *tract_id, const char *ref_name,
		 const char *commit_hash, const char *symbolic_target,
		 const tract_ref_row *expected);
int op_ref_delete(tract_backend_conn *c, struct logent *e);
int lmdb_ref_delete(tract_backend_conn *c, const char *tract_id, const char *ref_name,
		    const tract_ref_row *expected);
int lmdb_ref_foreach(tract_backend_conn *c, const char *tract_id, const char *prefix,
		     tract_ref_cb cb, void *payload);
int lmdb_tract_foreach(tract_backend_conn *c, tract_tract_cb cb, void *payload);

/* lmdb_walk.c */
int lmdb_commit_chain(tract_backend_conn *c, const char *tract_id, const char *head, size_t limit,
		      unsigned flags, tract_time annotation_cutoff, tract_chain_cb cb,
		      void *payload);
int lmdb_commit_ancestry(tract_backend_conn *c, const char *tract_id, const char *const *starts,
			 size_t n_starts, size_t limit, tract_ancestry_cb cb, void *payload);

/* lmdb_records.c */
int op_ann_put(tract_backend_conn *c, struct logent *e);
int lmdb_annotation_put(tract_backend_conn *c, const tract_annotation_row *row, int64_t *out_id);
int lmdb_annotation_list(tract_backend_conn *c, const char *target_hash, tract_annotation_cb cb,
			 void *payload);
int lmdb_annotation_foreach(tract_backend_conn *c, const char *tract_id, tract_annotation_cb cb,
			    void *payload);
int op_ann_delete_target(tract_backend_conn *c, struct logent *e);
int lmdb_annotation_delete_target(tract_backend_conn *c, const char *target_hash);
int op_comp_put(tract_backend_conn *c, struct logent *e);
int lmdb_compression_put(tract_backend_conn *c, const tract_compression_row *row);
int op_member_put(tract_backend_conn *c, struct logent *e);
int lmdb_compression_member_put(tract_backend_conn *c, tract_compression_side side,
				const char *compression_id, const char *commit_hash,
				int64_t position);
int lmdb_compression_get(tract_backend_conn *c, const char *compression_id, tract_compression_cb cb,
			 void *payload);
int lmdb_compression_foreach(tract_backend_conn *c, const char *tract_id, tract_compression_cb cb,
			     void *payload);
int lmdb_compression_members(tract_backend_conn *c, tract_compression_side side,
			     const char *compression_id, tract_member_cb cb, void *payload);
int op_comp_delete(tract_backend_conn *c, struct logent *e);
int lmdb_compression_delete(tract_backend_conn *c, const char *compression_id);
int op_spawn_put(tract_backend_conn *c, struct logent *e);
int lmdb_spawn_put(tract_backend_conn *c, const tract_spawn_row *row, int64_t *out_id);
int load_spawn(tract_backend_conn *c, uint64_t id, struct srec *s, void **held);
int lmdb_spawn_foreach(tract_backend_conn *c, const char *parent_tract_id, tract_spawn_cb cb,
		       void *payload);
int lmdb_spawn_by_child(tract_backend_conn *c, const char *child_tract_id, tract_spawn_cb cb,
			void *payload);
int op_spawn_delete(tract_backend_conn *c, struct logent *e);
int lmdb_spawn_delete(tract_backend_conn *c, int64_t id);
int lmdb_meta_get(tract_backend_conn *c, const char *key, tract_meta_cb cb, void *payload);
int op_meta_set(tract_backend_conn *c, struct logent *e);
int lmdb_meta_set(tract_backend_conn *c, const char *key, const char *value);
int op_meta_delete(tract_backend_conn *c, struct logent *e);
int lmdb_meta_delete(tract_backend_conn *c, const char *key);
int lmdb_meta_foreach(tract_backend_conn *c, const char *prefix, tract_meta_cb cb, void *payload);

/* lmdb_delete.c */
int op_commit_delete(tract_backend_conn *c, struct logent *e);
int lmdb_commit_delete(tract_backend_conn *c, const char *commit_hash);
int lmdb_commits_delete(tract_backend_conn *c, const char *const *hashes, size_t n,
			size_t *deleted);
int lmdb_blobs_delete_unused(tract_backend_conn *c, const char *const *hashes, size_t n,
			     size_t *deleted);

/* lmdb_search.c: the message-text search index (ABI version 5) */
int op_search_open(tract_backend_conn *c, struct logent *e);
int op_search_put(tract_backend_conn *c, struct logent *e);
int search_forget(tract_backend_conn *c, uint64_t seq);
int lmdb_search_index_open(tract_backend_conn *c, int create);
int lmdb_search_pending(tract_backend_conn *c, tract_search_pending_cb cb, void *payload);
int lmdb_search_index_put(tract_backend_conn *c, const char *content_hash, const char *text);
int lmdb_search_query(tract_backend_conn *c, const char *term, const char *tract_id,
		      tract_search_cb cb, void *payload);

#endif
