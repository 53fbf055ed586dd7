/*
 * lmdb.c - the LMDB storage backend (tract-backend-lmdb.so).
 *
 * A store is one LMDB environment: the directory of "lmdb:DIR" holds
 * data.mdb and lock.mdb (LMDB's own) and tract-write.lock (see "Map
 * growth" below). Options follow the directory as a query string:
 * "lmdb:DIR?sync=0&map_size=64M".
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
 *
 * ---- Transactions ---------------------------------------------------------
 *
 * Every public operation runs in an LMDB transaction: the one begin()
 * opened, or one of its own. Readers never block the writer (LMDB's MVCC);
 * one writer at a time per store, across processes. A ref moves by
 * compare-and-swap inside the write transaction, which serialises writers,
 * so the compare and the swap see the same state.
 *
 * Within a process, handles on the same directory share one MDB_env (LMDB
 * forbids opening an environment twice in a process); read transactions
 * use MDB_NOTLS so each handle has its own. A process-wide table counts
 * the transactions open on each environment, because the map can only be
 * resized when none is, and knows which thread writes: a second handle
 * of that thread asking to write gets "store busy" instead of waiting for
 * itself for ever. LMDB binds a write transaction to the thread that
 * began it: a handle's write transaction (a batch) must end on that
 * thread.
 *
 * ---- Map growth -----------------------------------------------------------
 *
 * LMDB's map has a fixed size and a write that does not fit fails with
 * MDB_MAP_FULL, which must never reach the user. Two mechanisms:
 *  - ahead of time: a write transaction that starts with less than a
 *    quarter of the map free doubles it first (when no other transaction
 *    of the process is open; otherwise the next one will);
 *  - on demand: every successful write of a transaction is also recorded
 *    (arguments copied) in a log. When LMDB reports MDB_MAP_FULL - from
 *    a put or from the commit - the transaction is aborted, the map
 *    doubled, a new transaction begun and the log replayed, and the
 *    failed operation runs again. The replay gives the same result
 *    because no other writer can slip in: besides LMDB's own write lock,
 *    each write transaction holds an flock on tract-write.lock from
 *    begin to end, replays included. Iterations that were running in
 *    the aborted transaction (a callback that wrote) resume from the key
 *    they had reached in the new one.
 * The log holds a copy of what the transaction wrote until it ends, so a
 * write transaction has to fit in memory (LMDB keeps its dirty pages
 * there as well). Another process that grew the map makes
 * mdb_txn_begin() report MDB_MAP_RESIZED; the handle adopts the new size
 * and begins again.
 *
 * ---- Durability -----------------------------------------------------------
 *
 *   sync=1 (default)  LMDB's full sync: a commit that returned survives a
 *                     power loss (fdatasync of the data, then the meta page).
 *   sync=data         MDB_NOMETASYNC: the data is synced, the meta page is
 *                     not; a power loss may undo the last commit, never
 *                     corrupts (the guarantee of SQLite's WAL NORMAL).
 *   sync=0            MDB_NOSYNC: nothing is synced at commit. A commit
 *                     survives the process being killed (the kernel has it)
 *                     but a power loss or kernel crash can lose recent
 *                     commits or leave the store unreadable. The last
 *                     handle to close syncs what such commits wrote.
 * The mode belongs to the handle (it is applied to the environment just
 * before each of its commits).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "tract/common.h"
#include "tract/sys/backend.h"

#include "codec.h"

#define ERRLEN 512
#define FORMAT_VERSION "1"
#define REC_VERSION 1
#define KEY_MAX 511 /* LMDB's default maximum key size */
#define LOCK_FILE "tract-write.lock"
#define DEFAULT_MAP_SIZE ((uint64_t)256 << 20)
#define MIN_MAP_SIZE ((uint64_t)64 << 10)
#define MAX_MAP_SIZE ((uint64_t)1 << 44) /* 16 TiB of address space */
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
	N_DB
};

static const char *const db_names[N_DB] = {
	[DB_INFO] = "info",
	[DB_BLOBS] = "blobs",
	[DB_BLOB_HASH] = "blob_hash",
	[DB_BLOB_USERS] = "blob_users",
	[DB_COMMITS] = "commits",
	[DB_COMMIT_HASH] = "commit_hash",
	[DB_TRACT_TIME] = "tract_time",
	[DB_TIME] = "time",
	[DB_TRACT_CONFIG] = "tract_config",
	[DB_CONFIG] = "config",
	[DB_CHILDREN] = "children",
	[DB_RESPONSES] = "responses",
	[DB_TRACTS] = "tracts",
	[DB_PARENTS] = "parents",
	[DB_PARENT_OF] = "parent_of",
	[DB_REFS] = "refs",
	[DB_ANN] = "ann",
	[DB_ANN_TARGET] = "ann_target",
	[DB_ANN_TRACT] = "ann_tract",
	[DB_COMP] = "comp",
	[DB_COMP_TRACT_TIME] = "comp_tract_time",
	[DB_COMP_TIME] = "comp_time",
	[DB_COMP_MEMBERS] = "comp_members",
	[DB_MEMBER_OF] = "member_of",
	[DB_SPAWNS] = "spawns",
	[DB_SPAWN_PARENT] = "spawn_parent",
	[DB_SPAWN_CHILD] = "spawn_child",
	[DB_SPAWN_COMMIT] = "spawn_commit",
	[DB_META] = "meta",
};

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
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned active;   /* transactions open in this process */
	struct tract_backend_conn *act_head; /* the handles they belong to */
	bool writing;      /* a handle holds the write transaction */
	pthread_t writer;  /* ...in this thread */
	bool remapping;    /* a resize waits for the open transactions */
	bool unsynced;     /* commits of sync=0 handles since the last sync */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shared_env *registry;
static pid_t registry_pid;
/* Environments inherited through fork(): LMDB forbids using them in the
 * child, so they are kept (reachable) and never touched again. */
static struct shared_env *inherited;

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
	struct oplog log;
	char err[ERRLEN];
};

/* ---- errors ----------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int fail(tract_backend_conn *c, int code,
						       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return code;
}

static int fail_oom(tract_backend_conn *c)
{
	return fail(c, TRACT_ENOMEM, "lmdb: out of memory");
}

/* The TRACT_E* code of an LMDB or errno failure. */
static int code_of_mdb(int rc)
{
	switch (rc) {
	case ENOMEM:
		return TRACT_ENOMEM;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
		return TRACT_ECORRUPT;
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
		return TRACT_EVERSION;
	default:
		return TRACT_ESTORAGE;
	}
}

/*
 * Record an LMDB failure of the operation "what" ("store commit X",
 * "open a cursor"). MDB_MAP_FULL becomes E_MAPFULL, which the write path
 * turns into a bigger map and a replay.
 */
static int fail_mdb(tract_backend_conn *c, int rc, const char *what)
{
	if (rc == MDB_MAP_FULL)
		return E_MAPFULL;
	if (rc == MDB_BAD_TXN)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: cannot %s: the transaction failed earlier and must be rolled "
			    "back",
			    what);
	return fail(c, code_of_mdb(rc), "lmdb: cannot %s: %s", what, mdb_strerror(rc));
}

static int fail_corrupt(tract_backend_conn *c, const char *what, const char *key)
{
	return fail(c, TRACT_ECORRUPT, "lmdb: unreadable %s record%s%s", what, key ? " " : "",
		    key ? key : "");
}

static int fail_key(tract_backend_conn *c, const char *what)
{
	return fail(c, TRACT_EINVAL, "lmdb: %s is too long for a key (at most %zu bytes in all)",
		    what, c->se ? c->se->max_key : (size_t)KEY_MAX);
}

/* ---- keys --------------------------------------------------------------------------- */

/* Timestamps and signed positions in keys: sign bit flipped, big-endian. */
static uint64_t signed_bits(int64_t v)
{
	return (uint64_t)v ^ (UINT64_C(1) << 63);
}

static int64_t signed_value(uint64_t bits)
{
	return (int64_t)(bits ^ (UINT64_C(1) << 63));
}

/* A key under construction; over is set when it outgrows KEY_MAX. */
struct key {
	unsigned char b[KEY_MAX];
	size_t n;
	bool over;
};

static void k_init(struct key *k)
{
	k->n = 0;
	k->over = false;
}

static void k_bytes(struct key *k, const void *p, size_t n)
{
	if (k->over || n > KEY_MAX - k->n) {
		k->over = true;
		return;
	}
	memcpy(k->b + k->n, p, n);
	k->n += n;
}

/* A string with its NUL. */
static void k_str(struct key *k, const char *s)
{
	k_bytes(k, s, strlen(s) + 1);
}

static void k_u64(struct key *k, uint64_t v)
{
	unsigned char b[8];

	bc_put_be64(b, v);
	k_bytes(k, b, 8);
}

static void k_u8(struct key *k, unsigned v)
{
	unsigned char b = (unsigned char)v;

	k_bytes(k, &b, 1);
}

static MDB_val k_val(const struct key *k)
{
	MDB_val v = {k->n, (void *)k->b};

	return v;
}

/* Too long for this environment (LMDB may be built with a smaller limit). */
static bool k_over(tract_backend_conn *c, const struct key *k)
{
	return k->over || k->n == 0 || k->n > c->se->max_key;
}

static bool has_prefix(const MDB_val *k, const void *prefix, size_t n)
{
	return n == 0 || (k->mv_size >= n && memcmp(k->mv_data, prefix, n) == 0);
}

static MDB_val u64_val(unsigned char buf[8], uint64_t v)
{
	MDB_val m = {8, buf};

	bc_put_be64(buf, v);
	return m;
}

/* ---- records ------------------------------------------------------------------------ */

/* Writes a record, or with p NULL only measures it. */
struct wr {
	unsigned char *p;
	size_t n;
	bool big; /* a string of 4 GiB or more */
};

static void w_bytes(struct wr *w, const void *s, size_t n)
{
	if (w->p)
		memcpy(w->p + w->n, s, n);
	w->n += n;
}

static void w_u8(struct wr *w, unsigned v)
{
	unsigned char b = (unsigned char)v;

	w_bytes(w, &b, 1);
}

static void w_i64(struct wr *w, int64_t v)
{
	w_bytes(w, &v, 8);
}

static void w_u64(struct wr *w, uint64_t v)
{
	w_bytes(w, &v, 8);
}

static void w_str(struct wr *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	uint32_t len = s ? (uint32_t)n : STR_NULL;

	if (s && n >= STR_NULL) {
		w->big = true;
		len = 0;
		n = 0;
	}
	w_bytes(w, &len, 4);
	if (s) {
		w_bytes(w, s, n);
		w_u8(w, 0);
	}
}

/* Reads a record; bad is set at the first inconsistency. */
struct rd {
	const unsigned char *p;
	size_t n, off;
	bool bad;
};

static void rd_init(struct rd *r, const MDB_val *v)
{
	r->p = v->mv_data;
	r->n = v->mv_size;
	r->off = 0;
	r->bad = false;
}

static bool rd_need(struct rd *r, size_t n)
{
	if (r->bad || n > r->n - r->off) {
		r->bad = true;
		return false;
	}
	return true;
}

static unsigned r_u8(struct rd *r)
{
	if (!rd_need(r, 1))
		return 0;
	return r->p[r->off++];
}

static int64_t r_i64(struct rd *r)
{
	int64_t v;

	if (!rd_need(r, 8))
		return 0;
	memcpy(&v, r->p + r->off, 8);
	r->off += 8;
	return v;
}

static uint64_t r_u64(struct rd *r)
{
	return (uint64_t)r_i64(r);
}

static const char *r_str(struct rd *r)
{
	uint32_t len;
	const char *s;

	if (!rd_need(r, 4))
		return NULL;
	memcpy(&len, r->p + r->off, 4);
	r->off += 4;
	if (len == STR_NULL)
		return NULL;
	if (!rd_need(r, (size_t)len + 1) || r->p[r->off + len] != 0) {
		r->bad = true;
		return NULL;
	}
	s = (const char *)r->p + r->off;
	r->off += (size_t)len + 1;
	return s;
}

/* A string that must be there. */
static const char *r_str_nn(struct rd *r)
{
	const char *s = r_str(r);

	if (!s)
		r->bad = true;
	return s;
}

static bool rd_done(struct rd *r)
{
	return !r->bad && r->off == r->n;
}

/* ---- enums -------------------------------------------------------------------------- */

static unsigned op_code(tract_operation op)
{
	switch (op) {
	case TRACT_OP_APPEND:
		return 1;
	case TRACT_OP_EDIT:
		return 2;
	default:
		return 0;
	}
}

static tract_operation op_of_code(unsigned code)
{
	switch (code) {
	case 1:
		return TRACT_OP_APPEND;
	case 2:
		return TRACT_OP_EDIT;
	default:
		return TRACT_OP_UNKNOWN;
	}
}

static unsigned prio_code(tract_priority p)
{
	switch (p) {
	case TRACT_PRIORITY_SKIP:
		return 1;
	case TRACT_PRIORITY_NORMAL:
		return 2;
	case TRACT_PRIORITY_PINNED:
		return 3;
	default:
		return 0;
	}
}

static tract_priority prio_of_code(unsigned code)
{
	switch (code) {
	case 1:
		return TRACT_PRIORITY_SKIP;
	case 2:
		return TRACT_PRIORITY_NORMAL;
	case 3:
		return TRACT_PRIORITY_PINNED;
	default:
		return TRACT_PRIORITY_NONE;
	}
}

/* JSON columns: NULL and the text "null" both mean none. */
static const char *json_or_null(const char *s)
{
	return s && strcmp(s, "null") != 0 ? s : NULL;
}

/* ---- record types ------------------------------------------------------------------- */

/* A commit as stored: the row plus the seqs of what it names. */
struct crec {
	tract_commit_row row;
	unsigned flags;
	uint64_t parent_seq, blob_seq, response_seq; /* 0: none */
};

static void enc_commit(struct wr *w, const void *arg)
{
	const struct crec *c = arg;

	w_u8(w, REC_VERSION);
	w_u8(w, c->flags);
	w_u8(w, op_code(c->row.operation));
	w_u8(w, 0);
	w_i64(w, c->row.created_at);
	w_i64(w, c->row.token_count);
	w_u64(w, c->parent_seq);
	w_u64(w, c->blob_seq);
	w_u64(w, c->response_seq);
	w_str(w, c->row.commit_hash);
	w_str(w, c->row.tract_id);
	w_str(w, c->row.parent_hash);
	w_str(w, c->row.content_hash);
	w_str(w, c->row.content_type);
	w_str(w, c->row.response_to);
	w_str(w, c->row.message);
	w_str(w, c->row.metadata_json);
	w_str(w, c->row.generation_config_json);
}

static bool dec_commit(const MDB_val *v, struct crec *c)
{
	struct rd r;

	rd_init(&r, v);
	if (r_u8(&r) != REC_VERSION)
		return false;
	c->flags = r_u8(&r);
	c->row.operation = op_of_code(r_u8(&r));
	(void)r_u8(&r);
	c->row.created_at = r_i64(&r);
	c->row.token_count = r_i64(&r);
	c->parent_seq = r_u64(&r);
	c->blob_seq = r_u64(&r);
	c->response_seq = r_u64(&r);
	c->row.commit_hash = r_str_nn(&r);
	c->row.tract_id = r_str_nn(&r);
	c->row.parent_hash = r_str(&r);
	c->row.content_hash = r_str_nn(&r);
	c->row.content_type = r_str_nn(&r);
	c->row.response_to = r_str(&r);
	c->row.message = r_str(&r);
	c->row.metadata_json = r_str(&r);
	c->row.generation_config_json = r_str(&r);
	return rd_done(&r);
}

static void enc_blob(struct wr *w, const void *arg)
{
	const tract_blob_row *b = arg;

	w_u8(w, REC_VERSION);
	w_i64(w, b->created_at);
	w_i64(w, b->byte_size);
	w_i64(w, b->token_count);
	w_str(w, b->content_hash);
	w_str(w, b->payload_json);
}

static bool dec_blob(const MDB_val *v, tract_blob_row *b)
{
	struct rd r;

	rd_init(&r, v);
	if (r_u8(&r) != REC_VERSION)
		return false;
	b->created_at = r_i64(&r);
	b->byte_size = r_i64(&r);
	b->token_count = r_i64(&r);
	b->content_hash = r_str_nn(&r);
	b->payload_json = r_str_nn(&r);
	return rd_done(&r);
}

static void enc_annotation(struct wr *w, const void *arg)
{
	const tract_annotation_row *a = arg;

	w_u8(w, REC_VERSION);
	w_u8(w, prio_code(a->priority));
	w_i64(w, a->created_at);
	w_str(w, a->tract_id);
	w_str(w, a->target_hash);
	w_str(w, a->reason);
}

static bool dec_annotation(const MDB_val *v, tract_annotation_row *a)
{
	struct rd r;

	rd_init(&r, v);
	if (r_u8(&r) != REC_VERSION)
		return false;
	a->priority = prio_of_code(r_u8(&r));
	a->created_at = r_i64(&r);
	a->tract_id = r_str_nn(&r);
	a->target_hash = r_str_nn(&r);
	a->reason = r_str(&r);
	return rd_done(&r);
}

static void enc_compression(struct wr *w, const void *arg)
{
	const tract_compression_row *x = arg;

	w_u8(w, REC_VERSION);
	w_i64(w, x->created_at);
	w_i64(w, x->original_tokens);
	w_i64(w, x->compressed_tokens);
	w_i64(w, x->target_tokens < 0 ? -1 : x->target_tokens);
	w_str(w, x->compression_id);
	w_str(w, x->tract_id);
	w_str(w, x->branch_name);
	w_str(w, x->instructions);
}

static bool dec_compression(const MDB_val *v, tract_compression_row *x)
{
	struct rd r;

	rd_init(&r, v);
	if (r_u8(&r) != REC_VERSION)
		return false;
	x->created_at = r_i64(&r);
	x->original_tokens = r_i64(&r);
	x->compressed_tokens = r_i64(&r);
	x->target_tokens = r_i64(&r);
	x->compression_id = r_str_nn(&r);
	x->tract_id = r_str_nn(&r);
	x->branch_name = r_str(&r);
	x->instructions = r_str(&r);
	return rd_done(&r);
}

/* A spawn pointer as stored: the row plus its parent commit's seq. */
struct srec {
	tract_spawn_row row;
	uint64_t commit_seq; /* 0: none */
};

static void enc_spawn(struct wr *w, const void *arg)
{
	const struct srec *s = arg;

	w_u8(w, REC_VERSION);
	w_i64(w, s->row.created_at);
	w_u64(w, s->commit_seq);
	w_str(w, s->row.parent_tract_id);
	w_str(w, s->row.parent_commit_hash);
	w_str(w, s->row.child_tract_id);
	w_str(w, s->row.purpose);
	w_str(w, s->row.inheritance_mode);
	w_str(w, s->row.display_name);
}

static bool dec_spawn(const MDB_val *v, struct srec *s)
{
	struct rd r;

	rd_init(&r, v);
	if (r_u8(&r) != REC_VERSION)
		return false;
	s->row.created_at = r_i64(&r);
	s->commit_seq = r_u64(&r);
	s->row.parent_tract_id = r_str_nn(&r);
	s->row.parent_commit_hash = r_str(&r);
	s->row.child_tract_id = r_str_nn(&r);
	s->row.purpose = r_str_nn(&r);
	s->row.inheritance_mode = r_str_nn(&r);
	s->row.display_name = r_str(&r);
	return rd_done(&r);
}

/* A ref's value: 'c' and the commit hash, or 's' and the symbolic target. */
struct refval {
	const char *commit_hash;
	const char *symbolic_target;
};

static void enc_ref(struct wr *w, const void *arg)
{
	const struct refval *v = arg;

	w_u8(w, v->commit_hash ? 'c' : 's');
	w_str(w, v->commit_hash ? v->commit_hash : v->symbolic_target);
}

static bool dec_ref(const MDB_val *v, struct refval *out)
{
	struct rd r;
	unsigned kind;
	const char *s;

	rd_init(&r, v);
	kind = r_u8(&r);
	s = r_str_nn(&r);
	out->commit_hash = kind == 'c' ? s : NULL;
	out->symbolic_target = kind == 's' ? s : NULL;
	return rd_done(&r) && (kind == 'c' || kind == 's');
}

/* A NUL-terminated string value (meta, info). */
static bool dec_text(const MDB_val *v, const char **out)
{
	const char *s = v->mv_data;

	if (v->mv_size == 0 || s[v->mv_size - 1] != '\0' || memchr(s, 0, v->mv_size - 1))
		return false;
	*out = s;
	return true;
}

/* Split a key "text\0 <8 bytes> text\0" (parents, comp_members after the side). */
static bool split_key(const unsigned char *p, size_t n, const char **a, uint64_t *num,
		      const char **b)
{
	const unsigned char *z = memchr(p, 0, n);
	size_t off;

	if (!z)
		return false;
	off = (size_t)(z - p) + 1;
	if (n - off < 9 || p[n - 1] != 0 || memchr(p + off + 8, 0, n - off - 9))
		return false;
	*a = (const char *)p;
	*num = bc_get_be64(p + off);
	*b = (const char *)p + off + 8;
	return true;
}

/* ---- location and options ------------------------------------------------------------ */

struct options {
	char *dir;
	enum sync_mode sync;
	uint64_t map_size; /* 0: not given */
};

static bool parse_sync(const char *v, enum sync_mode *out)
{
	static const char *const on[] = {"1", "on", "true", "yes", "full"};
	static const char *const off[] = {"0", "off", "false", "no"};
	size_t i;

	for (i = 0; i < sizeof(on) / sizeof(on[0]); i++)
		if (strcmp(v, on[i]) == 0) {
			*out = SYNC_FULL;
			return true;
		}
	for (i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (strcmp(v, off[i]) == 0) {
			*out = SYNC_NONE;
			return true;
		}
	if (strcmp(v, "data") == 0) {
		*out = SYNC_DATA;
		return true;
	}
	return false;
}

/* Bytes, with an optional binary suffix K, M, G or T (and an optional "B"/"iB"). */
static bool parse_size(const char *v, uint64_t *out)
{
	uint64_t n = 0, mult = 1;
	const char *p = v;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case 'k':
	case 'K':
		mult = (uint64_t)1 << 10;
		break;
	case 'm':
	case 'M':
		mult = (uint64_t)1 << 20;
		break;
	case 'g':
	case 'G':
		mult = (uint64_t)1 << 30;
		break;
	case 't':
	case 'T':
		mult = (uint64_t)1 << 40;
		break;
	case '\0':
		break;
	default:
		return false;
	}
	if (mult > 1) {
		p++;
		if (strcmp(p, "iB") == 0 || strcmp(p, "B") == 0)
			p += strlen(p);
	}
	if (*p || n > UINT64_MAX / mult)
		return false;
	*out = n * mult;
	return true;
}

static int parse_option(const char *name, const char *value, struct options *o, char *err,
			size_t errlen)
{
	if (strcmp(name, "sync") == 0) {
		if (!parse_sync(value, &o->sync)) {
			snprintf(err, errlen,
				 "lmdb: bad value '%s' for option sync (1, data or 0)", value);
			return TRACT_EINVAL;
		}
		return 0;
	}
	if (strcmp(name, "map_size") == 0) {
		if (!parse_size(value, &o->map_size) || o->map_size < MIN_MAP_SIZE ||
		    o->map_size > MAX_MAP_SIZE || o->map_size > SIZE_MAX) {
			snprintf(err, errlen,
				 "lmdb: bad value '%s' for option map_size (bytes, optionally with "
				 "K, M, G or T; from 64K to 16T)",
				 value);
			return TRACT_EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "lmdb: unknown option '%s' (known: sync, map_size)", name);
	return TRACT_EINVAL;
}

/* "DIR" or "DIR?name=value&name=value". */
static int parse_location(const char *location, struct options *o, char *err, size_t errlen)
{
	const char *q = strchr(location, '?');
	char *opts, *save = NULL, *item;
	int rc = 0;

	memset(o, 0, sizeof(*o));
	o->sync = SYNC_FULL;
	o->dir = q ? strndup(location, (size_t)(q - location)) : strdup(location);
	if (!o->dir) {
		snprintf(err, errlen, "lmdb: out of memory");
		return TRACT_ENOMEM;
	}
	if (!*o->dir) {
		snprintf(err, errlen, "lmdb: no store directory given");
		return TRACT_EINVAL;
	}
	if (!q)
		return 0;
	opts = strdup(q + 1);
	if (!opts) {
		snprintf(err, errlen, "lmdb: out of memory");
		return TRACT_ENOMEM;
	}
	for (item = strtok_r(opts, "&", &save); item && rc == 0;
	     item = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(item, '=');

		if (!eq || eq == item) {
			snprintf(err, errlen, "lmdb: bad option '%s' (expected name=value)", item);
			rc = TRACT_EINVAL;
			break;
		}
		*eq = '\0';
		rc = parse_option(item, eq + 1, o, err, errlen);
	}
	free(opts);
	return rc;
}

/* Twice the size, in whole pages; 0 when the largest size is reached. */
static size_t doubled(size_t cur)
{
	uint64_t n = (uint64_t)cur * 2, page = (uint64_t)sysconf(_SC_PAGESIZE);

	if (n < MIN_MAP_SIZE)
		n = MIN_MAP_SIZE;
	if (page > 0)
		n = (n + page - 1) / page * page;
	if (cur >= MAX_MAP_SIZE || n > SIZE_MAX)
		return 0;
	return (size_t)(n > MAX_MAP_SIZE ? MAX_MAP_SIZE : n);
}

/* ---- the environment ----------------------------------------------------------------- */

static void dbi_init_cv(pthread_cond_t *cv)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &attr);
	pthread_condattr_destroy(&attr);
}

/* Flock tract-write.lock, the writers' lock across processes. */
static int lock_writers(struct shared_env *se)
{
	while (flock(se->lockfd, LOCK_EX) != 0)
		if (errno != EINTR)
			return errno;
	return 0;
}

static void unlock_writers(struct shared_env *se)
{
	flock(se->lockfd, LOCK_UN);
}

/*
 * Open the sub-databases, creating them (and the format record) when the
 * store is new. Called once per environment, before anyone else uses it.
 */
static int init_dbs(tract_backend_conn *c, const char *dir)
{
	struct shared_env *se = c->se;
	MDB_txn *txn = NULL;
	MDB_val k = {7, "format"}, v;
	const char *format;
	int rc, i, tries;

	/* An existing store: a read transaction opens everything. */
	rc = mdb_txn_begin(se->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return fail(c, code_of_mdb(rc), "lmdb: cannot read %s: %s", dir, mdb_strerror(rc));
	for (i = 0; i < N_DB && rc == 0; i++)
		rc = mdb_dbi_open(txn, db_names[i], 0, &se->dbi[i]);
	if (rc == 0) {
		rc = mdb_get(txn, se->dbi[DB_INFO], &k, &v);
		if (rc == 0) {
			if (!dec_text(&v, &format) || strcmp(format, FORMAT_VERSION) != 0) {
				mdb_txn_abort(txn);
				return fail(c, TRACT_EVERSION,
					    "lmdb: %s has store format %.20s; this tract reads "
					    "format %s",
					    dir, dec_text(&v, &format) ? format : "(unreadable)",
					    FORMAT_VERSION);
			}
			rc = mdb_txn_commit(txn); /* keeps the handles */
			return rc ? fail(c, code_of_mdb(rc), "lmdb: cannot read %s: %s", dir,
					 mdb_strerror(rc))
				  : 0;
		}
	}
	if (rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return fail(c, code_of_mdb(rc), "lmdb: cannot read %s: %s", dir, mdb_strerror(rc));
	}
	/* Some are missing: a new store, unless the main database holds
	 * something else. */
	{
		MDB_dbi main;
		MDB_stat st;

		rc = mdb_dbi_open(txn, NULL, 0, &main);
		if (rc == 0)
			rc = mdb_stat(txn, main, &st);
		if (rc == 0 && st.ms_entries > 0) {
			MDB_cursor *cur;
			bool ours = true;

			rc = mdb_cursor_open(txn, main, &cur);
			while (rc == 0 && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
				bool known = false;
				for (i = 0; i < N_DB; i++)
					if (k.mv_size == strlen(db_names[i]) &&
					    memcmp(k.mv_data, db_names[i], k.mv_size) == 0)
						known = true;
				if (!known) {
					ours = false;
					break;
				}
			}
			if (rc == 0 || rc == MDB_NOTFOUND)
				mdb_cursor_close(cur);
			if (!ours) {
				mdb_txn_abort(txn);
				return fail(c, TRACT_ECORRUPT,
					    "lmdb: %s holds an LMDB environment that is not a "
					    "tract store",
					    dir);
			}
			rc = 0;
		}
	}
	mdb_txn_abort(txn);
	if (rc && rc != MDB_NOTFOUND)
		return fail(c, code_of_mdb(rc), "lmdb: cannot read %s: %s", dir, mdb_strerror(rc));

	rc = lock_writers(se);
	if (rc)
		return fail(c, TRACT_ESTORAGE, "lmdb: cannot lock %s/%s: %s", dir, LOCK_FILE,
			    strerror(rc));
	for (tries = 0; tries < 32; tries++) {
		rc = mdb_txn_begin(se->env, NULL, 0, &txn);
		for (i = 0; i < N_DB && rc == 0; i++)
			rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &se->dbi[i]);
		if (rc == 0) {
			rc = mdb_get(txn, se->dbi[DB_INFO], &k, &v);
			if (rc == MDB_NOTFOUND) {
				v.mv_size = sizeof(FORMAT_VERSION);
				v.mv_data = (void *)FORMAT_VERSION;
				rc = mdb_put(txn, se->dbi[DB_INFO], &k, &v, 0);
			}
		}
		if (rc == 0) {
			rc = mdb_txn_commit(txn);
		} else if (txn) {
			mdb_txn_abort(txn);
		}
		txn = NULL;
		if (rc != MDB_MAP_FULL && rc != MDB_MAP_RESIZED)
			break;
		/* No transaction of this environment is open anywhere in the
		 * process yet: it is not shared before this returns. */
		{
			MDB_envinfo info;

			mdb_env_info(se->env, &info);
			rc = mdb_env_set_mapsize(se->env,
						 rc == MDB_MAP_FULL ? doubled(info.me_mapsize) : 0);
		}
		if (rc)
			break;
	}
	unlock_writers(se);
	if (rc)
		return fail(c, code_of_mdb(rc), "lmdb: cannot create the store in %s: %s", dir,
			    mdb_strerror(rc));
	return 0;
}

static void env_destroy(struct shared_env *se)
{
	if (!se)
		return;
	if (se->env) {
		if (se->unsynced)
			mdb_env_sync(se->env, 1);
		mdb_env_close(se->env);
	}
	if (se->lockfd >= 0)
		close(se->lockfd);
	pthread_mutex_destroy(&se->mu);
	pthread_cond_destroy(&se->cv);
	free(se);
}

/* Create and open the environment of dir (registry_lock held). */
static int env_create(tract_backend_conn *c, const char *dir, const struct stat *st, bool fresh,
		      const struct options *o)
{
	struct shared_env *se = calloc(1, sizeof(*se));
	char *lockpath = NULL;
	int rc, dead;

	if (!se)
		return fail_oom(c);
	se->lockfd = -1;
	se->pid = getpid();
	se->dev = st->st_dev;
	se->ino = st->st_ino;
	pthread_mutex_init(&se->mu, NULL);
	dbi_init_cv(&se->cv);
	c->se = se;
	rc = mdb_env_create(&se->env);
	if (rc) {
		se->env = NULL;
		rc = fail(c, code_of_mdb(rc), "lmdb: cannot create an environment: %s",
			  mdb_strerror(rc));
		goto fail;
	}
	mdb_env_set_maxdbs(se->env, N_DB + 2);
	if (o->map_size || fresh)
		mdb_env_set_mapsize(se->env,
				    (size_t)(o->map_size ? o->map_size : DEFAULT_MAP_SIZE));
	rc = mdb_env_open(se->env, dir, MDB_NOTLS, 0644);
	if (rc) {
		rc = fail(c, code_of_mdb(rc), "lmdb: cannot open %s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	/* Without a size of our own, take the one the store was last used with. */
	if (!o->map_size && !fresh)
		mdb_env_set_mapsize(se->env, 0);
	mdb_reader_check(se->env, &dead); /* slots of readers that died */
	se->max_key = (size_t)mdb_env_get_maxkeysize(se->env);
	if (se->max_key > KEY_MAX)
		se->max_key = KEY_MAX;
	if (asprintf(&lockpath, "%s/%s", dir, LOCK_FILE) < 0) {
		lockpath = NULL;
		rc = fail_oom(c);
		goto fail;
	}
	se->lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (se->lockfd < 0) {
		rc = fail(c, TRACT_ESTORAGE, "lmdb: cannot open %s: %s", lockpath,
			  strerror(errno));
		goto fail;
	}
	rc = init_dbs(c, dir);
	if (rc < 0)
		goto fail;
	se->refs = 1;
	se->next = registry;
	registry = se;
	free(lockpath);
	return 0;
fail:
	free(lockpath);
	env_destroy(se);
	c->se = NULL;
	return rc;
}

/* Find or open the environment of dir for c (c->se set on success). */
static int env_acquire(tract_backend_conn *c, const char *dir, unsigned flags,
		       const struct options *o)
{
	struct shared_env *se;
	struct stat st;
	char *data = NULL;
	bool fresh = false;
	int rc = 0;

	if (stat(dir, &st) != 0) {
		if (errno != ENOENT)
			return fail(c, TRACT_ESTORAGE, "lmdb: cannot open %s: %s", dir,
				    strerror(errno));
		if (!(flags & TRACT_BACKEND_CREATE))
			return fail(c, TRACT_ENOTFOUND, "store not found: %s", dir);
		if (mkdir(dir, 0777) != 0 && errno != EEXIST)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: cannot create the store directory %s: %s", dir,
				    strerror(errno));
		if (stat(dir, &st) != 0)
			return fail(c, TRACT_ESTORAGE, "lmdb: cannot open %s: %s", dir,
				    strerror(errno));
		c->created = strdup(dir);
		if (!c->created)
			return fail_oom(c);
		c->created_dev = st.st_dev;
		c->created_ino = st.st_ino;
	}
	if (!S_ISDIR(st.st_mode))
		return fail(c, TRACT_EINVAL, "lmdb: %s is not a directory (an LMDB store is one)",
			    dir);
	if (asprintf(&data, "%s/data.mdb", dir) < 0)
		return fail_oom(c);
	if (access(data, F_OK) != 0) {
		fresh = true;
		if (!(flags & TRACT_BACKEND_CREATE))
			rc = fail(c, TRACT_ENOTFOUND, "store not found: %s (no data.mdb)", dir);
	}
	free(data);
	if (rc < 0)
		return rc;

	pthread_mutex_lock(&registry_lock);
	if (registry_pid != getpid()) {
		/* A forked child: what the parent opened is not ours to use. */
		for (se = registry; se && se->next; se = se->next)
			;
		if (se) {
			se->next = inherited;
			inherited = registry;
		}
		registry = NULL;
		registry_pid = getpid();
	}
	for (se = registry; se; se = se->next)
		if (se->dev == st.st_dev && se->ino == st.st_ino)
			break;
	if (se) {
		se->refs++;
		c->se = se;
	} else {
		rc = env_create(c, dir, &st, fresh, o);
	}
	pthread_mutex_unlock(&registry_lock);
	return rc;
}

static void env_release(struct shared_env *se)
{
	struct shared_env **p;

	if (!se)
		return;
	pthread_mutex_lock(&registry_lock);
	if (se->pid == getpid() && --se->refs == 0) {
		for (p = &registry; *p; p = &(*p)->next)
			if (*p == se) {
				*p = se->next;
				break;
			}
		env_destroy(se);
	}
	pthread_mutex_unlock(&registry_lock);
}

/* ---- the replay log ------------------------------------------------------------------- */

#define ARENA_CHUNK 65536

static char *arena_strdup(struct oplog *l, const char *s)
{
	size_t n = strlen(s) + 1;
	struct arena_chunk *ch = l->chunks;

	if (!ch || ch->cap - ch->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		ch = malloc(sizeof(*ch) + cap);
		if (!ch)
			return NULL;
		ch->used = 0;
		ch->cap = cap;
		ch->next = l->chunks;
		l->chunks = ch;
	}
	memcpy(ch->data + ch->used, s, n);
	ch->used += n;
	return ch->data + ch->used - n;
}

/* Record a successful write, its strings copied. */
static int log_add(struct oplog *l, const struct logent *e)
{
	struct logent *d;
	size_t i;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		struct logent *p = realloc(l->ents, ncap * sizeof(*p));

		if (!p)
			return TRACT_ENOMEM;
		l->ents = p;
		l->cap = ncap;
	}
	d = &l->ents[l->n];
	*d = *e;
	for (i = 0; i < LOG_STRS; i++)
		if (e->s[i] && !(d->s[i] = arena_strdup(l, e->s[i])))
			return TRACT_ENOMEM;
	l->n++;
	return 0;
}

/* Forget the transaction's writes; one chunk is kept for the next. */
static void log_reset(struct oplog *l)
{
	struct arena_chunk *ch = l->chunks, *next;

	while (ch && ch->next) {
		next = ch->next;
		free(ch);
		ch = next;
	}
	if (ch && ch->cap != ARENA_CHUNK) {
		free(ch);
		ch = NULL;
	}
	if (ch)
		ch->used = 0;
	l->chunks = ch;
	l->n = 0;
}

static void log_free(struct oplog *l)
{
	log_reset(l);
	free(l->chunks);
	free(l->ents);
	memset(l, 0, sizeof(*l));
}

/* ---- transactions ------------------------------------------------------------------- */

/* Another transaction of this thread is open on se (mu held). */
static bool thread_has_txn(struct shared_env *se, const tract_backend_conn *except)
{
	const tract_backend_conn *x;

	for (x = se->act_head; x; x = x->act_next)
		if (x != except && pthread_equal(x->thread, pthread_self()))
			return true;
	return false;
}

/* Count c's transaction as open; waits while the map is being resized
 * (unless this thread already has one open, which the resize waits for). */
static void active_enter(tract_backend_conn *c)
{
	struct shared_env *se = c->se;

	pthread_mutex_lock(&se->mu);
	while (se->remapping && !thread_has_txn(se, c))
		pthread_cond_wait(&se->cv, &se->mu);
	c->thread = pthread_self();
	c->act_prev = NULL;
	c->act_next = se->act_head;
	if (se->act_head)
		se->act_head->act_prev = c;
	se->act_head = c;
	se->active++;
	c->active = true;
	pthread_mutex_unlock(&se->mu);
}

static void active_leave(tract_backend_conn *c)
{
	struct shared_env *se = c->se;

	if (!c->active)
		return;
	pthread_mutex_lock(&se->mu);
	if (c->act_prev)
		c->act_prev->act_next = c->act_next;
	else
		se->act_head = c->act_next;
	if (c->act_next)
		c->act_next->act_prev = c->act_prev;
	c->act_next = c->act_prev = NULL;
	se->active--;
	c->active = false;
	pthread_cond_broadcast(&se->cv);
	pthread_mutex_unlock(&se->mu);
}

/* Become the process's writer on this store (one handle at a time). */
static int writer_enter(tract_backend_conn *c)
{
	struct shared_env *se = c->se;

	pthread_mutex_lock(&se->mu);
	if (se->writing && pthread_equal(se->writer, pthread_self())) {
		pthread_mutex_unlock(&se->mu);
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: store busy: another handle of this thread holds its write "
			    "transaction (waiting would never end)");
	}
	while (se->writing)
		pthread_cond_wait(&se->cv, &se->mu);
	se->writing = true;
	se->writer = pthread_self();
	c->writer = true;
	pthread_mutex_unlock(&se->mu);
	return 0;
}

static void writer_leave(tract_backend_conn *c)
{
	struct shared_env *se = c->se;

	if (!c->writer)
		return;
	pthread_mutex_lock(&se->mu);
	se->writing = false;
	c->writer = false;
	pthread_cond_broadcast(&se->cv);
	pthread_mutex_unlock(&se->mu);
}

/*
 * Resize the map (size 0: adopt the size another process set). LMDB
 * requires that no transaction of the process is open: new ones wait,
 * open ones of other threads are waited for (a while), and one of this
 * very thread makes it fail, since it would never end.
 */
static int remap(tract_backend_conn *c, size_t size)
{
	struct shared_env *se = c->se;
	struct timespec deadline;
	int rc = 0;

	pthread_mutex_lock(&se->mu);
	if (thread_has_txn(se, c)) {
		pthread_mutex_unlock(&se->mu);
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: the map must grow, but another handle of this thread has a "
			    "transaction open on the store");
	}
	se->remapping = true;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += REMAP_WAIT_SEC;
	while (se->active > 0 && rc == 0)
		rc = pthread_cond_timedwait(&se->cv, &se->mu, &deadline);
	if (se->active == 0)
		rc = mdb_env_set_mapsize(se->env, size);
	else
		rc = ETIMEDOUT;
	se->remapping = false;
	pthread_cond_broadcast(&se->cv);
	pthread_mutex_unlock(&se->mu);
	if (rc == ETIMEDOUT)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: the map must grow, but other transactions of this process "
			    "stayed open for %d s",
			    REMAP_WAIT_SEC);
	if (rc)
		return fail(c, code_of_mdb(rc), "lmdb: cannot resize the map to %zu bytes: %s",
			    size, mdb_strerror(rc));
	return 0;
}

static int grow_map(tract_backend_conn *c)
{
	MDB_envinfo info;
	size_t size;
	int dead;

	/* Readers that died with a snapshot pin pages the writer could reuse. */
	mdb_reader_check(c->se->env, &dead);
	mdb_env_info(c->se->env, &info);
	size = doubled(info.me_mapsize);
	if (!size)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: the store outgrew the largest map (%zu bytes)", info.me_mapsize);
	return remap(c, size);
}

/*
 * Before a write transaction: double the map when less than a quarter
 * of it is free, if no other transaction of the process is open (it is
 * only a head start; MDB_MAP_FULL is handled anyway).
 */
static void grow_ahead(tract_backend_conn *c)
{
	struct shared_env *se = c->se;
	MDB_envinfo info;
	MDB_stat st;
	size_t used, size;
	int dead;

	if (mdb_env_info(se->env, &info) || mdb_env_stat(se->env, &st))
		return;
	used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
	if (info.me_mapsize > used && info.me_mapsize - used >= info.me_mapsize / 4)
		return;
	/* Readers that died with a snapshot pin pages the writer could reuse. */
	mdb_reader_check(se->env, &dead);
	size = doubled(info.me_mapsize);
	pthread_mutex_lock(&se->mu);
	if (size && se->active == 0 && !se->remapping)
		mdb_env_set_mapsize(se->env, size);
	pthread_mutex_unlock(&se->mu);
}

/* Begin the LMDB transaction itself, adopting a map another process grew. */
static int txn_start(tract_backend_conn *c, tract_txn_kind kind)
{
	struct shared_env *se = c->se;
	int rc, tries, dead;

	for (tries = 0;; tries++) {
		active_enter(c);
		if (kind == TRACT_TXN_READ) {
			rc = c->rtxn ? mdb_txn_renew(c->rtxn)
				     : mdb_txn_begin(se->env, NULL, MDB_RDONLY, &c->rtxn);
			if (rc == 0)
				c->txn = c->rtxn;
		} else {
			rc = mdb_txn_begin(se->env, NULL, 0, &c->txn);
		}
		if (rc == 0)
			return 0;
		c->txn = NULL;
		active_leave(c);
		if (rc == MDB_MAP_RESIZED && tries < 8) {
			rc = remap(c, 0);
			if (rc < 0)
				return rc;
			continue;
		}
		if (rc == MDB_READERS_FULL && tries < 8 && mdb_reader_check(se->env, &dead) == 0 &&
		    dead > 0)
			continue;
		return fail(c, code_of_mdb(rc), "lmdb: cannot begin a %s transaction: %s",
			    kind == TRACT_TXN_READ ? "read" : "write", mdb_strerror(rc));
	}
}

/* Release the write lock and the writer role (no transaction left). */
static void release_writer(tract_backend_conn *c)
{
	if (c->locked) {
		unlock_writers(c->se);
		c->locked = false;
	}
	writer_leave(c);
}

static int begin_txn(tract_backend_conn *c, tract_txn_kind kind)
{
	int rc;

	if (kind == TRACT_TXN_WRITE) {
		rc = writer_enter(c);
		if (rc < 0)
			return rc;
		rc = lock_writers(c->se);
		if (rc) {
			writer_leave(c);
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: cannot lock the store for writing: %s", strerror(rc));
		}
		c->locked = true;
		grow_ahead(c);
	}
	rc = txn_start(c, kind);
	if (rc < 0) {
		release_writer(c);
		return rc;
	}
	c->kind = kind;
	c->in_txn = true;
	c->dead = false;
	c->gen++;
	return 0;
}

/* End the transaction without writing anything, and release everything. */
static void end_txn(tract_backend_conn *c)
{
	if (c->txn) {
		if (c->txn == c->rtxn)
			mdb_txn_reset(c->rtxn);
		else
			mdb_txn_abort(c->txn);
		c->txn = NULL;
	}
	active_leave(c);
	release_writer(c);
	log_reset(&c->log);
	c->in_txn = c->explicit_txn = c->dead = false;
	c->gen++;
}

/* The write transaction failed beyond repair: abort it, keep the roles
 * until rollback(). */
static void kill_txn(tract_backend_conn *c)
{
	if (c->txn) {
		mdb_txn_abort(c->txn);
		c->txn = NULL;
	}
	active_leave(c);
	c->dead = true;
	c->gen++;
}

static int dispatch(tract_backend_conn *c, struct logent *e);

/*
 * After MDB_MAP_FULL: drop the transaction, double the map, begin again
 * and replay the log (again, with a bigger map, if it does not fit).
 * The write lock is held throughout, so the replay sees what the first
 * run saw and must give the same results.
 */
static int rebuild(tract_backend_conn *c)
{
	char why[ERRLEN];
	size_t i;
	int rc;

	for (;;) {
		if (c->txn) {
			mdb_txn_abort(c->txn);
			c->txn = NULL;
		}
		active_leave(c);
		c->gen++;
		rc = grow_map(c);
		if (rc == 0)
			rc = txn_start(c, TRACT_TXN_WRITE);
		if (rc < 0) {
			kill_txn(c);
			return rc;
		}
		for (i = 0, rc = 0; i < c->log.n && rc == 0; i++) {
			int64_t out = c->log.ents[i].out;

			rc = dispatch(c, &c->log.ents[i]);
			if (rc == 0 && c->log.ents[i].out != out)
				rc = fail(c, TRACT_ESTORAGE, "a write gave another result");
		}
		if (rc != E_MAPFULL)
			break;
	}
	if (rc < 0) {
		snprintf(why, sizeof(why), "%s", c->err);
		kill_txn(c);
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: replaying the transaction after the map grew failed: %s", why);
	}
	return 0;
}

static void apply_sync_mode(tract_backend_conn *c)
{
	MDB_env *env = c->se->env;

	mdb_env_set_flags(env, MDB_NOSYNC | MDB_NOMETASYNC, 0);
	if (c->sync == SYNC_NONE)
		mdb_env_set_flags(env, MDB_NOSYNC, 1);
	else if (c->sync == SYNC_DATA)
		mdb_env_set_flags(env, MDB_NOMETASYNC, 1);
}

static int commit_txn(tract_backend_conn *c)
{
	struct shared_env *se = c->se;
	int rc;

	if (c->kind == TRACT_TXN_READ) {
		end_txn(c);
		return 0;
	}
	if (c->dead || !c->txn) {
		end_txn(c);
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: the transaction failed earlier; nothing of it was written");
	}
	for (;;) {
		apply_sync_mode(c);
		rc = mdb_txn_commit(c->txn);
		c->txn = NULL;
		if (rc != MDB_MAP_FULL)
			break;
		rc = rebuild(c);
		if (rc < 0) {
			end_txn(c);
			return rc;
		}
	}
	if (rc == 0) {
		pthread_mutex_lock(&se->mu);
		if (c->sync == SYNC_NONE)
			se->unsynced = true;
		else if (c->sync == SYNC_FULL)
			se->unsynced = false; /* the commit synced the whole file */
		pthread_mutex_unlock(&se->mu);
	}
	end_txn(c);
	if (rc)
		return fail(c, code_of_mdb(rc), "lmdb: cannot commit the transaction: %s",
			    mdb_strerror(rc));
	return 0;
}

/*
 * Every operation starts with enter(): it joins the open transaction or
 * begins its own (*own), which leave() then commits or aborts.
 */
static int enter(tract_backend_conn *c, tract_txn_kind kind, bool *own)
{
	int rc;

	*own = false;
	if (c->in_txn) {
		if (c->dead)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: the transaction failed earlier and must be rolled back");
		if (kind == TRACT_TXN_WRITE && c->kind != TRACT_TXN_WRITE)
			return fail(c, TRACT_EINVAL, "lmdb: cannot write in a read transaction");
		return 0;
	}
	rc = begin_txn(c, kind);
	*own = rc == 0;
	return rc;
}

static int leave(tract_backend_conn *c, bool own, int rc)
{
	if (rc == E_MAPFULL) /* handled by run_write(); never the caller's */
		rc = fail(c, TRACT_ESTORAGE, "lmdb: the map is full");
	if (!own)
		return rc;
	if (rc == 0 && c->kind == TRACT_TXN_WRITE)
		return commit_txn(c);
	end_txn(c);
	return rc;
}

/* Run a write operation, growing the map and replaying when it is full. */
static int run_write(tract_backend_conn *c, struct logent *e)
{
	bool own;
	int rc = enter(c, TRACT_TXN_WRITE, &own);

	if (rc < 0)
		return rc;
	for (;;) {
		rc = dispatch(c, e);
		if (rc != E_MAPFULL)
			break;
		rc = rebuild(c);
		if (rc < 0)
			break;
	}
	if (rc == 0 && log_add(&c->log, e) < 0) {
		rc = fail_oom(c);
		kill_txn(c);
	}
	return leave(c, own, rc);
}

/* ---- reading and writing -------------------------------------------------------------- */

static MDB_dbi dbi_of(tract_backend_conn *c, enum db db)
{
	return c->se->dbi[db];
}

/* 0 found, NOT_FOUND, or an error. */
static int db_get(tract_backend_conn *c, enum db db, MDB_val *k, MDB_val *v, const char *what)
{
	int rc = mdb_get(c->txn, dbi_of(c, db), k, v);

	if (rc == MDB_NOTFOUND)
		return NOT_FOUND;
	return rc ? fail_mdb(c, rc, what) : 0;
}

static int db_put(tract_backend_conn *c, enum db db, MDB_val *k, MDB_val *v, unsigned flags,
		  const char *what)
{
	int rc = mdb_put(c->txn, dbi_of(c, db), k, v, flags);

	return rc ? fail_mdb(c, rc, what) : 0;
}

/* An index entry without a value. */
static int db_put_key(tract_backend_conn *c, enum db db, const struct key *k, const char *what)
{
	MDB_val kv = k_val(k), v = {0, (void *)""};

	return db_put(c, db, &kv, &v, 0, what);
}

/* 0 deleted, NOT_FOUND, or an error. */
static int db_del(tract_backend_conn *c, enum db db, MDB_val *k, const char *what)
{
	int rc = mdb_del(c->txn, dbi_of(c, db), k, NULL);

	if (rc == MDB_NOTFOUND)
		return NOT_FOUND;
	return rc ? fail_mdb(c, rc, what) : 0;
}

static int db_del_key(tract_backend_conn *c, enum db db, const struct key *k, const char *what)
{
	MDB_val kv = k_val(k);
	int rc = db_del(c, db, &kv, what);

	return rc == NOT_FOUND ? 0 : rc;
}

typedef void (*enc_fn)(struct wr *w, const void *arg);

/* Store a record, encoded straight into the space LMDB reserves. The
 * arguments must not point into the map (a rewrite encodes from a copy). */
static int db_put_rec(tract_backend_conn *c, enum db db, MDB_val *k, enc_fn enc, const void *arg,
		      unsigned flags, const char *what)
{
	struct wr w = {0};
	MDB_val v;
	int rc;

	enc(&w, arg);
	if (w.big)
		return fail(c, TRACT_EINVAL, "lmdb: cannot %s: a text of 4 GiB or more", what);
	v.mv_size = w.n;
	v.mv_data = NULL;
	rc = mdb_put(c->txn, dbi_of(c, db), k, &v, flags | MDB_RESERVE);
	if (rc)
		return fail_mdb(c, rc, what);
	w.p = v.mv_data;
	w.n = 0;
	enc(&w, arg);
	return 0;
}

/*
 * In a write transaction, copy a value out of the map before handing it
 * over: a callback's writes (or the operation's own) may move the page
 * it lies on. *held (NULL in read transactions) is to be freed.
 */
static int hold(tract_backend_conn *c, MDB_val *v, void **held)
{
	*held = NULL;
	if (c->kind != TRACT_TXN_WRITE)
		return 0;
	*held = malloc(v->mv_size ? v->mv_size : 1);
	if (!*held)
		return fail_oom(c);
	memcpy(*held, v->mv_data, v->mv_size);
	v->mv_data = *held;
	return 0;
}

/* The seq a hash index gives (NOT_FOUND when absent). */
static int seq_of(tract_backend_conn *c, enum db index, const char *hash, uint64_t *seq)
{
	struct key k;
	MDB_val kv, v;
	int rc;

	k_init(&k);
	k_str(&k, hash);
	if (k_over(c, &k))
		return NOT_FOUND; /* longer than any stored key */
	kv = k_val(&k);
	rc = db_get(c, index, &kv, &v, "look up a hash");
	if (rc)
		return rc;
	if (v.mv_size != 8)
		return fail_corrupt(c, "hash index", hash);
	*seq = bc_get_be64(v.mv_data);
	return 0;
}

/* One past the last seq or id of db (1 when empty). */
static int next_seq(tract_backend_conn *c, enum db db, uint64_t *out)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(c->txn, dbi_of(c, db), &cur);
	if (rc)
		return fail_mdb(c, rc, "open a cursor");
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND) {
		*out = 1;
		return 0;
	}
	if (rc)
		return fail_mdb(c, rc, "read the last record");
	if (k.mv_size != 8)
		return fail_corrupt(c, db_names[db], "key");
	*out = bc_get_be64(k.mv_data) + 1;
	return 0;
}

/* Does any key of db start with prefix? */
static int range_any(tract_backend_conn *c, enum db db, const void *prefix, size_t n, bool *any)
{
	MDB_cursor *cur;
	MDB_val k = {n, (void *)prefix}, v;
	int rc;

	*any = false;
	rc = mdb_cursor_open(c->txn, dbi_of(c, db), &cur);
	if (rc)
		return fail_mdb(c, rc, "open a cursor");
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return fail_mdb(c, rc, "read a range");
	*any = has_prefix(&k, prefix, n);
	return 0;
}

/* ---- iteration -------------------------------------------------------------------------- */

/*
 * A walk over the keys of db that start with prefix, in key order. In a
 * write transaction the current key and value are copies (callbacks may
 * write), and each step seeks past the key again, so writes in between
 * (even a rebuilt transaction) do not derail it.
 */
struct iter {
	tract_backend_conn *c;
	enum db db;
	const void *prefix;
	size_t plen;
	MDB_cursor *cur;
	uint64_t gen; /* of the transaction the cursor belongs to */
	unsigned char key[KEY_MAX];
	size_t klen;
	void *vbuf;
	size_t vcap;
};

static void it_init(struct iter *it, tract_backend_conn *c, enum db db, const void *prefix,
		    size_t plen)
{
	memset(it, 0, sizeof(*it));
	it->c = c;
	it->db = db;
	it->prefix = prefix;
	it->plen = plen;
}

static int it_cursor(struct iter *it)
{
	int rc;

	it->cur = NULL;
	it->gen = it->c->gen;
	if (!it->c->txn)
		return fail(it->c, TRACT_ESTORAGE,
			    "lmdb: the transaction ended during an iteration");
	rc = mdb_cursor_open(it->c->txn, dbi_of(it->c, it->db), &it->cur);
	if (rc) {
		it->cur = NULL;
		return fail_mdb(it->c, rc, "open a cursor");
	}
	return 0;
}

static int it_found(struct iter *it, int rc, MDB_val *k, MDB_val *v)
{
	if (rc == MDB_NOTFOUND)
		return NOT_FOUND;
	if (rc)
		return fail_mdb(it->c, rc, "read a range");
	if (!has_prefix(k, it->prefix, it->plen))
		return NOT_FOUND;
	if (it->c->kind == TRACT_TXN_WRITE) {
		if (k->mv_size > KEY_MAX)
			return fail_corrupt(it->c, db_names[it->db], "key");
		memcpy(it->key, k->mv_data, k->mv_size);
		it->klen = k->mv_size;
		k->mv_data = it->key;
		if (v->mv_size > it->vcap) {
			void *p = realloc(it->vbuf, v->mv_size);

			if (!p)
				return fail_oom(it->c);
			it->vbuf = p;
			it->vcap = v->mv_size;
		}
		if (v->mv_size)
			memcpy(it->vbuf, v->mv_data, v->mv_size);
		v->mv_data = it->vbuf;
	}
	return 0;
}

/* The first key >= from (from must start with the prefix). */
static int it_seek(struct iter *it, const void *from, size_t n, MDB_val *k, MDB_val *v)
{
	int rc;

	if (!it->cur && (rc = it_cursor(it)) < 0)
		return rc;
	k->mv_size = n;
	k->mv_data = (void *)from;
	rc = mdb_cursor_get(it->cur, k, v, n ? MDB_SET_RANGE : MDB_FIRST);
	return it_found(it, rc, k, v);
}

static int it_first(struct iter *it, MDB_val *k, MDB_val *v)
{
	return it_seek(it, it->prefix, it->plen, k, v);
}

static int it_next(struct iter *it, MDB_val *k, MDB_val *v)
{
	int rc;

	if (it->c->kind != TRACT_TXN_WRITE) {
		if (it->gen != it->c->gen)
			return fail(it->c, TRACT_ESTORAGE,
				    "lmdb: the transaction ended during an iteration");
		return it_found(it, mdb_cursor_get(it->cur, k, v, MDB_NEXT), k, v);
	}
	if (it->gen != it->c->gen && (rc = it_cursor(it)) < 0)
		return rc; /* (LMDB freed the old cursor with its transaction) */
	k->mv_size = it->klen;
	k->mv_data = it->key;
	rc = mdb_cursor_get(it->cur, k, v, MDB_SET_RANGE);
	if (rc == 0 && k->mv_size == it->klen && memcmp(k->mv_data, it->key, it->klen) == 0)
		rc = mdb_cursor_get(it->cur, k, v, MDB_NEXT);
	return it_found(it, rc, k, v);
}

static void it_close(struct iter *it)
{
	if (it->cur && it->gen == it->c->gen)
		mdb_cursor_close(it->cur);
	it->cur = NULL;
	free(it->vbuf);
	it->vbuf = NULL;
	it->vcap = 0;
}

/* Call visit on every key of the range; a positive result stops (0). */
typedef int (*visit_fn)(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx);

static int foreach_range(tract_backend_conn *c, enum db db, const void *prefix, size_t plen,
			 visit_fn visit, void *ctx)
{
	struct iter it;
	MDB_val k, v;
	int rc;

	it_init(&it, c, db, prefix, plen);
	for (rc = it_first(&it, &k, &v); rc == 0; rc = it_next(&it, &k, &v)) {
		rc = visit(c, &k, &v, ctx);
		if (rc != 0) {
			if (rc > 0)
				rc = 0;
			break;
		}
	}
	it_close(&it);
	return rc == NOT_FOUND ? 0 : rc;
}

/* Copies of the keys of a range, for deleting them after the walk. */
struct keylist {
	MDB_val *k;
	size_t n, cap;
};

static int collect_visit(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct keylist *l = ctx;
	void *copy;

	(void)v;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		MDB_val *p = realloc(l->k, ncap * sizeof(*p));

		if (!p)
			return fail_oom(c);
		l->k = p;
		l->cap = ncap;
	}
	copy = malloc(k->mv_size ? k->mv_size : 1);
	if (!copy)
		return fail_oom(c);
	memcpy(copy, k->mv_data, k->mv_size);
	l->k[l->n].mv_size = k->mv_size;
	l->k[l->n].mv_data = copy;
	l->n++;
	return 0;
}

static int collect_keys(tract_backend_conn *c, enum db db, const void *prefix, size_t plen,
			struct keylist *l)
{
	memset(l, 0, sizeof(*l));
	return foreach_range(c, db, prefix, plen, collect_visit, l);
}

static void keylist_free(struct keylist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->k[i].mv_data);
	free(l->k);
	memset(l, 0, sizeof(*l));
}

/* ---- argument checks ---------------------------------------------------------------- */

#define CHECK_CONN(c)                                                                              \
	do {                                                                                       \
		if (!(c))                                                                          \
			return TRACT_EINVAL;                                                       \
	} while (0)

#define CHECK_ARG(c, cond)                                                                         \
	do {                                                                                       \
		if (!(c))                                                                          \
			return TRACT_EINVAL;                                                       \
		if (!(cond))                                                                       \
			return fail((c), TRACT_EINVAL, "lmdb: %s: invalid argument (%s)",          \
				    __func__, #cond);                                              \
	} while (0)

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

/* ---- blobs ------------------------------------------------------------------------------ */

static int op_blob_put(tract_backend_conn *c, struct logent *e)
{
	tract_blob_row b = {e->s[0], e->s[1], e->i[0], e->i[1], e->i[2]};
	unsigned char sb[8];
	struct key hk;
	MDB_val kv, sv, v;
	uint64_t seq;
	int rc;

	k_init(&hk);
	k_str(&hk, b.content_hash);
	if (k_over(c, &hk))
		return fail_key(c, "content hash");
	kv = k_val(&hk);
	e->out = 0;
	rc = db_get(c, DB_BLOB_HASH, &kv, &v, "look up a blob");
	if (rc <= 0)
		return rc; /* present: left untouched */
	rc = next_seq(c, DB_BLOBS, &seq);
	if (rc)
		return rc;
	sv = u64_val(sb, seq);
	rc = db_put_rec(c, DB_BLOBS, &sv, enc_blob, &b, MDB_APPEND, "store a blob");
	if (rc)
		return rc;
	v = u64_val(sb, seq);
	rc = db_put(c, DB_BLOB_HASH, &kv, &v, 0, "index a blob");
	e->out = rc == 0;
	return rc;
}

static int lmdb_blob_put(tract_backend_conn *c, const tract_blob_row *row, int *inserted)
{
	struct logent e = {.op = OP_BLOB_PUT};
	int rc;

	if (inserted)
		*inserted = 0;
	CHECK_ARG(c, row && row->content_hash && row->payload_json);
	e.s[0] = row->content_hash;
	e.s[1] = row->payload_json;
	e.i[0] = row->byte_size;
	e.i[1] = row->token_count;
	e.i[2] = row->created_at;
	rc = run_write(c, &e);
	if (inserted)
		*inserted = rc == 0 && e.out;
	return rc;
}

/* Hand the blob under seq to cb. */
static int emit_blob(tract_backend_conn *c, uint64_t seq, tract_blob_cb cb, void *payload)
{
	unsigned char sb[8];
	MDB_val k = u64_val(sb, seq), v;
	tract_blob_row b;
	void *held;
	int rc;

	rc = db_get(c, DB_BLOBS, &k, &v, "read a blob");
	if (rc == NOT_FOUND)
		return fail_corrupt(c, "blob index", "entry");
	if (rc == 0)
		rc = hold(c, &v, &held);
	if (rc < 0)
		return rc;
	if (!dec_blob(&v, &b))
		rc = fail_corrupt(c, "blob", NULL);
	else
		rc = cb(&b, payload);
	free(held);
	return rc;
}

static int blob_get(tract_backend_conn *c, const char *hash, tract_blob_cb cb, void *payload)
{
	uint64_t seq;
	int rc = seq_of(c, DB_BLOB_HASH, hash, &seq);

	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "blob not found: %s", hash);
	if (rc < 0)
		return rc;
	rc = emit_blob(c, seq, cb, payload);
	return rc > 0 ? 0 : rc;
}

static int lmdb_blob_get(tract_backend_conn *c, const char *content_hash, tract_blob_cb cb,
			 void *payload)
{
	CHECK_ARG(c, content_hash && cb);
	READ_OP(c, blob_get(c, content_hash, cb, payload));
}

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

static int visit_blob(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;

	(void)k;
	if (v->mv_size != 8)
		return fail_corrupt(c, "blob index", "entry");
	return emit_blob(c, bc_get_be64(v->mv_data), sk->fn.blob, sk->payload);
}

static int lmdb_blob_foreach(tract_backend_conn *c, tract_blob_cb cb, void *payload)
{
	struct sink sk = {.fn.blob = cb, .payload = payload};

	CHECK_ARG(c, cb);
	READ_OP(c, foreach_range(c, DB_BLOB_HASH, NULL, 0, visit_blob, &sk));
}

static int op_blob_delete(tract_backend_conn *c, struct logent *e)
{
	const char *hash = e->s[0];
	unsigned char sb[8];
	struct key hk;
	MDB_val k, kv;
	uint64_t seq;
	bool used;
	int rc;

	rc = seq_of(c, DB_BLOB_HASH, hash, &seq);
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "blob not found: %s", hash);
	if (rc < 0)
		return rc;
	bc_put_be64(sb, seq);
	rc = range_any(c, DB_BLOB_USERS, sb, 8, &used);
	if (rc < 0)
		return rc;
	if (used)
		return fail(c, TRACT_ESTORAGE, "lmdb: cannot delete blob %s: a commit uses it",
			    hash);
	k = u64_val(sb, seq);
	rc = db_del(c, DB_BLOBS, &k, "delete a blob");
	if (rc == 0) {
		k_init(&hk);
		k_str(&hk, hash);
		kv = k_val(&hk);
		rc = db_del(c, DB_BLOB_HASH, &kv, "delete a blob");
	}
	return rc == NOT_FOUND ? fail_corrupt(c, "blob index", hash) : rc;
}

static int lmdb_blob_delete(tract_backend_conn *c, const char *content_hash)
{
	struct logent e = {.op = OP_BLOB_DELETE};

	CHECK_ARG(c, content_hash);
	e.s[0] = content_hash;
	return run_write(c, &e);
}

/* ---- commits ---------------------------------------------------------------------------- */

/* The commit record under seq (NOT_FOUND when absent); *held frees it. */
static int load_commit(tract_backend_conn *c, uint64_t seq, struct crec *r, void **held)
{
	unsigned char sb[8];
	MDB_val k = u64_val(sb, seq), v;
	int rc;

	*held = NULL;
	rc = db_get(c, DB_COMMITS, &k, &v, "read a commit");
	if (rc == 0)
		rc = hold(c, &v, held);
	if (rc)
		return rc;
	if (!dec_commit(&v, r)) {
		free(*held);
		*held = NULL;
		return fail_corrupt(c, "commit", NULL);
	}
	return 0;
}

/* Store a (changed) commit record; r must not point into the map. */
static int store_commit(tract_backend_conn *c, uint64_t seq, const struct crec *r,
			unsigned flags)
{
	unsigned char sb[8];
	MDB_val k = u64_val(sb, seq);

	return db_put_rec(c, DB_COMMITS, &k, enc_commit, r, flags, "store a commit");
}

/* Set and clear flags of the commit under seq. */
static int commit_flags(tract_backend_conn *c, uint64_t seq, unsigned set, unsigned clear)
{
	struct crec r;
	void *held;
	unsigned flags;
	int rc = load_commit(c, seq, &r, &held);

	if (rc)
		return rc == NOT_FOUND ? fail_corrupt(c, "commit index", "entry") : rc;
	flags = (r.flags | set) & ~clear;
	if (flags != r.flags) {
		r.flags = flags;
		rc = store_commit(c, seq, &r, 0);
	}
	free(held);
	return rc;
}

/* Hand the commit under seq to cb if it is in tract (NULL: any); *matched tells. */
static int emit_commit(tract_backend_conn *c, uint64_t seq, const char *tract,
		       tract_commit_cb cb, void *payload, bool *matched)
{
	struct crec r;
	void *held;
	int rc = load_commit(c, seq, &r, &held);

	*matched = false;
	if (rc == NOT_FOUND)
		return fail_corrupt(c, "commit index", "entry");
	if (rc < 0)
		return rc;
	if (!tract || strcmp(r.row.tract_id, tract) == 0) {
		*matched = true;
		rc = cb(&r.row, payload);
	}
	free(held);
	return rc;
}

/* Add delta to a tract's commit count (the entry goes at zero). */
static int tract_count_add(tract_backend_conn *c, const char *tract, int64_t delta)
{
	struct key k;
	MDB_val kv, v;
	int64_t n = 0;
	int rc;

	k_init(&k);
	k_str(&k, tract);
	kv = k_val(&k);
	rc = db_get(c, DB_TRACTS, &kv, &v, "read a tract");
	if (rc < 0)
		return rc;
	if (rc == 0) {
		if (v.mv_size != 8)
			return fail_corrupt(c, "tract", tract);
		memcpy(&n, v.mv_data, 8);
	}
	n += delta;
	if (n <= 0) {
		rc = db_del(c, DB_TRACTS, &kv, "update a tract");
		return rc == NOT_FOUND ? 0 : rc;
	}
	v.mv_size = 8;
	v.mv_data = &n;
	return db_put(c, DB_TRACTS, &kv, &v, 0, "update a tract");
}

/* The keys of a commit's time indexes: (tract, time, hash) and (time, hash). */
static void time_keys(struct key *tk, struct key *ak, const char *tract, tract_time t,
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

static void seq_pair(struct key *k, uint64_t a, uint64_t b)
{
	k_init(k);
	k_u64(k, a);
	k_u64(k, b);
}

static int op_commit_put(tract_backend_conn *c, struct logent *e)
{
	struct crec r = {0};
	struct key hk, tk, ak, pk;
	unsigned char sb[8];
	MDB_val kv, sv;
	uint64_t seq;
	int rc;

	r.row.commit_hash = e->s[0];
	r.row.tract_id = e->s[1];
	r.row.parent_hash = e->s[2];
	r.row.content_hash = e->s[3];
	r.row.content_type = e->s[4];
	r.row.response_to = e->s[5];
	r.row.message = e->s[6];
	r.row.metadata_json = json_or_null(e->s[7]);
	r.row.generation_config_json = json_or_null(e->s[8]);
	r.row.operation = (tract_operation)e->i[0];
	r.row.token_count = e->i[1];
	r.row.created_at = e->i[2];

	k_init(&hk);
	k_str(&hk, r.row.commit_hash);
	time_keys(&tk, &ak, r.row.tract_id, r.row.created_at, r.row.commit_hash);
	if (k_over(c, &hk) || k_over(c, &tk))
		return fail_key(c, "commit hash with tract id");
	rc = seq_of(c, DB_COMMIT_HASH, r.row.commit_hash, &seq);
	if (rc == 0)
		return fail(c, TRACT_EEXISTS, "lmdb: commit already exists: %s", r.row.commit_hash);
	if (rc < 0)
		return rc;
	rc = seq_of(c, DB_BLOB_HASH, r.row.content_hash, &r.blob_seq);
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ESTORAGE, "lmdb: commit %s: its blob %s is not stored",
			    r.row.commit_hash, r.row.content_hash);
	if (rc == 0 && r.row.parent_hash) {
		rc = seq_of(c, DB_COMMIT_HASH, r.row.parent_hash, &r.parent_seq);
		if (rc == NOT_FOUND)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: commit %s: its parent %s is not stored",
				    r.row.commit_hash, r.row.parent_hash);
	}
	if (rc == 0 && r.row.response_to) {
		rc = seq_of(c, DB_COMMIT_HASH, r.row.response_to, &r.response_seq);
		if (rc == NOT_FOUND)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: commit %s: the commit it responds to, %s, is not stored",
				    r.row.commit_hash, r.row.response_to);
	}
	if (rc == 0)
		rc = next_seq(c, DB_COMMITS, &seq);
	if (rc)
		return rc;

	rc = store_commit(c, seq, &r, MDB_APPEND);
	kv = k_val(&hk);
	sv = u64_val(sb, seq);
	if (rc == 0)
		rc = db_put(c, DB_COMMIT_HASH, &kv, &sv, 0, "index a commit");
	kv = k_val(&tk);
	if (rc == 0)
		rc = db_put(c, DB_TRACT_TIME, &kv, &sv, 0, "index a commit");
	if (rc == 0 && r.row.generation_config_json)
		rc = db_put(c, DB_TRACT_CONFIG, &kv, &sv, 0, "index a commit");
	kv = k_val(&ak);
	if (rc == 0)
		rc = db_put(c, DB_TIME, &kv, &sv, 0, "index a commit");
	if (rc == 0 && r.row.generation_config_json)
		rc = db_put(c, DB_CONFIG, &kv, &sv, 0, "index a commit");
	seq_pair(&pk, r.blob_seq, seq);
	if (rc == 0)
		rc = db_put_key(c, DB_BLOB_USERS, &pk, "link a commit to its blob");
	seq_pair(&pk, r.parent_seq, seq);
	if (rc == 0 && r.parent_seq)
		rc = db_put_key(c, DB_CHILDREN, &pk, "link a commit to its parent");
	seq_pair(&pk, r.response_seq, seq);
	if (rc == 0 && r.response_seq)
		rc = db_put_key(c, DB_RESPONSES, &pk, "link a response");
	if (rc == 0)
		rc = tract_count_add(c, r.row.tract_id, 1);
	return rc;
}

static int lmdb_commit_put(tract_backend_conn *c, const tract_commit_row *row)
{
	struct logent e = {.op = OP_COMMIT_PUT};

	CHECK_ARG(c, row && row->commit_hash && row->tract_id && row->content_hash &&
			     row->content_type && op_code(row->operation));
	e.s[0] = row->commit_hash;
	e.s[1] = row->tract_id;
	e.s[2] = row->parent_hash;
	e.s[3] = row->content_hash;
	e.s[4] = row->content_type;
	e.s[5] = row->response_to;
	e.s[6] = row->message;
	e.s[7] = row->metadata_json;
	e.s[8] = row->generation_config_json;
	e.i[0] = row->operation;
	e.i[1] = row->token_count;
	e.i[2] = row->created_at;
	return run_write(c, &e);
}

static int commit_get(tract_backend_conn *c, const char *tract, const char *hash,
		      tract_commit_cb cb, void *payload)
{
	uint64_t seq;
	bool matched = false;
	int rc = seq_of(c, DB_COMMIT_HASH, hash, &seq);

	if (rc == 0)
		rc = emit_commit(c, seq, tract, cb, payload, &matched);
	if (rc == NOT_FOUND || (rc >= 0 && !matched))
		return fail(c, TRACT_ENOTFOUND, "commit not found: %s", hash);
	return rc > 0 ? 0 : rc;
}

static int lmdb_commit_get(tract_backend_conn *c, const char *tract_id, const char *commit_hash,
			   tract_commit_cb cb, void *payload)
{
	CHECK_ARG(c, commit_hash && cb);
	READ_OP(c, commit_get(c, tract_id, commit_hash, cb, payload));
}

/* A value naming a commit's seq: hand the commit over (sink filter: tract). */
static int visit_commit(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	bool matched;
	int rc;

	(void)k;
	if (v->mv_size != 8)
		return fail_corrupt(c, "commit index", "entry");
	rc = emit_commit(c, bc_get_be64(v->mv_data), sk->filter, sk->fn.commit, sk->payload,
			 &matched);
	if (rc == 0 && matched && sk->max && ++sk->n >= sk->max)
		return 1;
	return rc;
}

static int lmdb_commit_prefix(tract_backend_conn *c, const char *tract_id, const char *prefix,
			      size_t max, tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload, .filter = tract_id, .max = max};

	CHECK_ARG(c, prefix && *prefix && cb);
	if (strlen(prefix) > KEY_MAX)
		return 0; /* longer than any hash: matches nothing */
	READ_OP(c, foreach_range(c, DB_COMMIT_HASH, prefix, strlen(prefix), visit_commit, &sk));
}

/* Commits through a (tract, time) index or the store-wide (time) one. */
static int foreach_timed(tract_backend_conn *c, enum db by_tract, enum db all, const char *tract,
			 tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};
	struct key k;

	if (!tract)
		return foreach_range(c, all, NULL, 0, visit_commit, &sk);
	k_init(&k);
	k_str(&k, tract);
	if (k_over(c, &k))
		return 0;
	return foreach_range(c, by_tract, k.b, k.n, visit_commit, &sk);
}

static int lmdb_commit_foreach(tract_backend_conn *c, const char *tract_id, tract_commit_cb cb,
			       void *payload)
{
	CHECK_ARG(c, cb);
	READ_OP(c, foreach_timed(c, DB_TRACT_TIME, DB_TIME, tract_id, cb, payload));
}

static int lmdb_commit_foreach_with_config(tract_backend_conn *c, const char *tract_id,
					   tract_commit_cb cb, void *payload)
{
	CHECK_ARG(c, cb);
	READ_OP(c, foreach_timed(c, DB_TRACT_CONFIG, DB_CONFIG, tract_id, cb, payload));
}

/* ---- chain walk ------------------------------------------------------------------------- */

/*
 * The walk follows parent seqs through a cursor on commits (and one on
 * blobs): a parent written just before its child is one MDB_PREV away,
 * anything else one MDB_SET_KEY. Each record's hash is checked against
 * the parent hash that led to it; a mismatch (a damaged seq) falls back
 * to the hash index. Annotations and merge parents are looked up only
 * for commits flagged as having them.
 */
struct walk {
	tract_backend_conn *c;
	unsigned flags;
	tract_time cutoff;
	MDB_cursor *cc, *bc, *ac, *pc; /* commits, blobs, ann_target, parents */
	uint64_t gen;                  /* of the cursors' transaction */
	uint64_t cpos, bpos;           /* seq under cc and bc, 0: unknown */
	void *held_c, *held_b;         /* copies of the row (write transactions) */
	char *ptext;                   /* merge parents of the row */
	size_t ptext_cap;
	const char **extra;
	size_t extra_cap;
	char expect[KEY_MAX + 1];      /* the hash the next commit must have */
};

static int walk_cursor(struct walk *w, enum db db, MDB_cursor **cur)
{
	int rc;

	if (*cur)
		return 0;
	rc = mdb_cursor_open(w->c->txn, dbi_of(w->c, db), cur);
	if (rc) {
		*cur = NULL;
		return fail_mdb(w->c, rc, "open a cursor");
	}
	return 0;
}

/* After a callback: cursors of a rebuilt transaction are gone, and in a
 * write transaction the next rows are found by seeking, not stepping (the
 * callback may have written). */
static int walk_check(struct walk *w)
{
	if (w->c->kind == TRACT_TXN_WRITE)
		w->cpos = w->bpos = 0;
	if (w->gen == w->c->gen)
		return 0;
	if (!w->c->txn || w->c->kind != TRACT_TXN_WRITE)
		return fail(w->c, TRACT_ESTORAGE,
			    "lmdb: the transaction ended during a chain walk");
	w->cc = w->bc = w->ac = w->pc = NULL; /* LMDB freed them */
	w->cpos = w->bpos = 0;
	w->gen = w->c->gen;
	return 0;
}

static void walk_close(struct walk *w)
{
	if (w->gen == w->c->gen) {
		if (w->cc)
			mdb_cursor_close(w->cc);
		if (w->bc)
			mdb_cursor_close(w->bc);
		if (w->ac)
			mdb_cursor_close(w->ac);
		if (w->pc)
			mdb_cursor_close(w->pc);
	}
	free(w->held_c);
	free(w->held_b);
	free(w->ptext);
	free(w->extra);
}

/* Position cur on seq: 0, NOT_FOUND, or an error. */
static int walk_seek(struct walk *w, MDB_cursor *cur, uint64_t *pos, uint64_t seq, MDB_val *v)
{
	unsigned char sb[8];
	MDB_val k;
	int rc;

	if (*pos && seq + 1 == *pos) {
		rc = mdb_cursor_get(cur, &k, v, MDB_PREV);
		if (rc == 0 && (k.mv_size != 8 || bc_get_be64(k.mv_data) != seq))
			rc = MDB_NOTFOUND;
	} else {
		k = u64_val(sb, seq);
		rc = mdb_cursor_get(cur, &k, v, MDB_SET_KEY);
	}
	*pos = rc == 0 ? seq : 0;
	if (rc == MDB_NOTFOUND)
		return NOT_FOUND;
	return rc ? fail_mdb(w->c, rc, "read a commit") : 0;
}

/* The commit w->expect names, through seq when known (0: by its hash). */
static int walk_commit(struct walk *w, uint64_t seq, struct crec *r)
{
	bool by_hash = seq == 0;
	MDB_val v;
	int rc;

	for (;;) {
		if (by_hash) {
			rc = seq_of(w->c, DB_COMMIT_HASH, w->expect, &seq);
			if (rc)
				return rc; /* NOT_FOUND: the commit is missing, the walk ends */
		}
		rc = walk_seek(w, w->cc, &w->cpos, seq, &v);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			free(w->held_c);
			rc = hold(w->c, &v, &w->held_c);
			if (rc < 0)
				return rc;
			if (!dec_commit(&v, r))
				return fail_corrupt(w->c, "commit", w->expect);
			if (strcmp(r->row.commit_hash, w->expect) == 0)
				return 0;
		}
		if (by_hash)
			return fail_corrupt(w->c, "commit index entry of", w->expect);
		by_hash = true; /* a stale seq: go by the hash */
	}
}

/* The payload of the row's blob (NULL when the blob is missing). */
static int walk_payload(struct walk *w, const struct crec *r, const char **payload)
{
	uint64_t seq = r->blob_seq;
	bool by_hash = seq == 0;
	tract_blob_row b;
	MDB_val v;
	int rc;

	*payload = NULL;
	rc = walk_cursor(w, DB_BLOBS, &w->bc);
	if (rc < 0)
		return rc;
	for (;;) {
		if (by_hash) {
			rc = seq_of(w->c, DB_BLOB_HASH, r->row.content_hash, &seq);
			if (rc)
				return rc == NOT_FOUND ? 0 : rc;
		}
		rc = walk_seek(w, w->bc, &w->bpos, seq, &v);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			free(w->held_b);
			rc = hold(w->c, &v, &w->held_b);
			if (rc < 0)
				return rc;
			if (!dec_blob(&v, &b))
				return fail_corrupt(w->c, "blob", r->row.content_hash);
			if (strcmp(b.content_hash, r->row.content_hash) == 0) {
				*payload = b.payload_json;
				return 0;
			}
		}
		if (by_hash)
			return fail_corrupt(w->c, "blob index entry of", r->row.content_hash);
		by_hash = true;
	}
}

/* The latest annotation of hash with created_at <= cutoff (ties: greatest id). */
static int walk_priority(struct walk *w, const char *hash, tract_priority *out)
{
	struct key k;
	MDB_val kv, v;
	size_t plen;
	int rc;

	*out = TRACT_PRIORITY_NONE;
	rc = walk_cursor(w, DB_ANN_TARGET, &w->ac);
	if (rc < 0)
		return rc;
	k_init(&k);
	k_str(&k, hash);
	plen = k.n;
	k_u64(&k, signed_bits(w->cutoff));
	k_u64(&k, UINT64_MAX);
	if (k.over)
		return 0;
	kv = k_val(&k);
	rc = mdb_cursor_get(w->ac, &kv, &v, MDB_SET_RANGE);
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(w->ac, &kv, &v, rc == 0 ? MDB_PREV : MDB_LAST);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return fail_mdb(w->c, rc, "read annotations");
	if (has_prefix(&kv, k.b, plen) && kv.mv_size == plen + 16 && v.mv_size == 1)
		*out = prio_of_code(*(const unsigned char *)v.mv_data);
	return 0;
}

/* Merge parents of hash from position 1 on, in position order. */
static int walk_parents(struct walk *w, const char *hash, const char *const **extra, size_t *n)
{
	struct key pk;
	MDB_val k, v;
	size_t len = 0, count = 0, i, off;
	const char *child, *parent;
	uint64_t pos;
	int rc;

	*extra = NULL;
	*n = 0;
	rc = walk_cursor(w, DB_PARENTS, &w->pc);
	if (rc < 0)
		return rc;
	k_init(&pk);
	k_str(&pk, hash);
	if (pk.over)
		return 0;
	k = k_val(&pk);
	for (rc = mdb_cursor_get(w->pc, &k, &v, MDB_SET_RANGE);
	     rc == 0 && has_prefix(&k, pk.b, pk.n); rc = mdb_cursor_get(w->pc, &k, &v, MDB_NEXT)) {
		if (!split_key(k.mv_data, k.mv_size, &child, &pos, &parent))
			return fail_corrupt(w->c, "merge parent", hash);
		if (pos < 1)
			continue;
		off = strlen(parent) + 1;
		if (len + off > w->ptext_cap) {
			size_t cap = (len + off) * 2;
			char *p = realloc(w->ptext, cap);

			if (!p)
				return fail_oom(w->c);
			w->ptext = p;
			w->ptext_cap = cap;
		}
		memcpy(w->ptext + len, parent, off);
		len += off;
		count++;
	}
	if (rc && rc != MDB_NOTFOUND)
		return fail_mdb(w->c, rc, "read merge parents");
	if (count > w->extra_cap) {
		const char **p = realloc(w->extra, count * sizeof(*p));

		if (!p)
			return fail_oom(w->c);
		w->extra = p;
		w->extra_cap = count;
	}
	for (i = 0, off = 0; i < count; i++) {
		w->extra[i] = w->ptext + off;
		off += strlen(w->ptext + off) + 1;
	}
	*extra = w->extra;
	*n = count;
	return 0;
}

static int chain_walk(tract_backend_conn *c, const char *tract, const char *head, size_t limit,
		      unsigned flags, tract_time cutoff, tract_chain_cb cb, void *payload)
{
	struct walk w = {.c = c, .flags = flags, .cutoff = cutoff, .gen = c->gen};
	char next[KEY_MAX + 1];
	tract_chain_row row;
	struct crec r;
	uint64_t seq = 0, steps = 0, max_steps;
	MDB_stat st;
	int rc;

	if (strlen(head) >= sizeof(w.expect))
		return 0;
	strcpy(w.expect, head);
	rc = mdb_stat(c->txn, dbi_of(c, DB_COMMITS), &st);
	if (rc)
		return fail_mdb(c, rc, "read the commits");
	/* Without a limit, a damaged parent cycle still ends. */
	max_steps = st.ms_entries;
	if (limit && limit < max_steps)
		max_steps = limit;
	rc = walk_cursor(&w, DB_COMMITS, &w.cc);
	while (rc == 0 && steps < max_steps) {
		rc = walk_commit(&w, seq, &r);
		if (rc)
			break;
		if (tract && strcmp(r.row.tract_id, tract) != 0)
			break;
		memset(&row, 0, sizeof(row));
		row.commit = r.row;
		row.priority = TRACT_PRIORITY_NONE;
		if (flags & TRACT_CHAIN_PAYLOAD)
			rc = walk_payload(&w, &r, &row.payload_json);
		if (rc == 0 && (flags & TRACT_CHAIN_PRIORITY) && (r.flags & CF_ANNOTATED))
			rc = walk_priority(&w, r.row.commit_hash, &row.priority);
		if (rc == 0 && (flags & TRACT_CHAIN_PARENTS) && (r.flags & CF_MERGE))
			rc = walk_parents(&w, r.row.commit_hash, &row.extra_parents,
					  &row.n_extra_parents);
		if (rc < 0)
			break;
		/* What leads on, copied: the callback may write. */
		next[0] = '\0';
		if (r.row.parent_hash && strlen(r.row.parent_hash) < sizeof(next))
			strcpy(next, r.row.parent_hash);
		seq = r.parent_seq;
		steps++;
		rc = cb(&row, payload);
		if (rc != 0) {
			rc = rc < 0 ? rc : 0;
			break;
		}
		if (!next[0])
			break;
		strcpy(w.expect, next);
		rc = walk_check(&w);
		if (rc == 0 && !w.cc)
			rc = walk_cursor(&w, DB_COMMITS, &w.cc);
	}
	walk_close(&w);
	return rc == NOT_FOUND ? 0 : rc;
}

static int lmdb_commit_chain(tract_backend_conn *c, const char *tract_id, const char *head,
			     size_t limit, unsigned flags, tract_time annotation_cutoff,
			     tract_chain_cb cb, void *payload)
{
	CHECK_ARG(c, head && cb);
	READ_OP(c, chain_walk(c, tract_id, head, limit, flags, annotation_cutoff, cb, payload));
}

/* ---- merge parents ---------------------------------------------------------------------- */

static int op_parent_put(tract_backend_conn *c, struct logent *e)
{
	const char *commit = e->s[0], *parent = e->s[1];
	uint64_t cseq, pseq;
	struct key k, ok;
	bool dup;
	int rc;

	k_init(&k);
	k_str(&k, commit);
	k_u64(&k, (uint64_t)e->i[0]);
	k_str(&k, parent);
	if (k_over(c, &k))
		return fail_key(c, "commit hash with parent hash");
	rc = seq_of(c, DB_COMMIT_HASH, commit, &cseq);
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: merge parent of %s: that commit is not stored", commit);
	if (rc == 0) {
		rc = seq_of(c, DB_COMMIT_HASH, parent, &pseq);
		if (rc == NOT_FOUND)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: merge parent %s of %s: that commit is not stored",
				    parent, commit);
	}
	if (rc)
		return rc;
	seq_pair(&ok, pseq, cseq);
	rc = range_any(c, DB_PARENT_OF, ok.b, ok.n, &dup);
	if (rc < 0)
		return rc;
	if (dup)
		return fail(c, TRACT_ESTORAGE, "lmdb: %s is already a parent of %s", parent,
			    commit);
	rc = db_put_key(c, DB_PARENTS, &k, "store a merge parent");
	if (rc == 0)
		rc = db_put_key(c, DB_PARENT_OF, &ok, "store a merge parent");
	if (rc == 0)
		rc = commit_flags(c, cseq, CF_MERGE, 0);
	return rc;
}

static int lmdb_parent_put(tract_backend_conn *c, const char *commit_hash,
			   const char *parent_hash, int64_t position)
{
	struct logent e = {.op = OP_PARENT_PUT};

	CHECK_ARG(c, commit_hash && parent_hash && position >= 0);
	e.s[0] = commit_hash;
	e.s[1] = parent_hash;
	e.i[0] = position;
	return run_write(c, &e);
}

static int visit_parent(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	const char *child, *parent;
	uint64_t pos;

	(void)v;
	if (!split_key(k->mv_data, k->mv_size, &child, &pos, &parent))
		return fail_corrupt(c, "merge parent", NULL);
	return sk->fn.parent(child, parent, (int64_t)pos, sk->payload);
}

static int parent_list(tract_backend_conn *c, const char *commit, struct sink *sk)
{
	struct key k;

	k_init(&k);
	k_str(&k, commit);
	if (k_over(c, &k))
		return 0;
	return foreach_range(c, DB_PARENTS, k.b, k.n, visit_parent, sk);
}

static int lmdb_parent_list(tract_backend_conn *c, const char *commit_hash, tract_parent_cb cb,
			    void *payload)
{
	struct sink sk = {.fn.parent = cb, .payload = payload};

	CHECK_ARG(c, commit_hash && cb);
	READ_OP(c, parent_list(c, commit_hash, &sk));
}

static int lmdb_parent_foreach(tract_backend_conn *c, tract_parent_cb cb, void *payload)
{
	struct sink sk = {.fn.parent = cb, .payload = payload};

	CHECK_ARG(c, cb);
	READ_OP(c, foreach_range(c, DB_PARENTS, NULL, 0, visit_parent, &sk));
}

/* ---- refs ------------------------------------------------------------------------------- */

static void ref_key(struct key *k, const char *tract, const char *name)
{
	k_init(k);
	k_str(k, tract);
	k_str(k, name);
}

/* Split a refs key "tract\0name\0". */
static bool split_ref_key(const MDB_val *k, const char **tract, const char **name)
{
	const char *p = k->mv_data, *z = memchr(p, 0, k->mv_size);
	size_t rest;

	if (!z)
		return false;
	rest = k->mv_size - (size_t)(z + 1 - p);
	if (rest == 0 || z[rest] != '\0' || memchr(z + 1, 0, rest - 1))
		return false;
	*tract = p;
	*name = z + 1;
	return true;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static int ref_get(tract_backend_conn *c, const char *tract, const char *name, tract_ref_cb cb,
		   void *payload)
{
	tract_ref_row row = {.tract_id = tract, .ref_name = name};
	struct refval rv;
	struct key k;
	MDB_val kv, v;
	void *held;
	int rc;

	ref_key(&k, tract, name);
	if (k_over(c, &k))
		return fail(c, TRACT_ENOTFOUND, "ref not found: %s", name);
	kv = k_val(&k);
	rc = db_get(c, DB_REFS, &kv, &v, "read a ref");
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "ref not found: %s", name);
	if (rc == 0)
		rc = hold(c, &v, &held);
	if (rc < 0)
		return rc;
	if (!dec_ref(&v, &rv)) {
		free(held);
		return fail_corrupt(c, "ref", name);
	}
	row.commit_hash = rv.commit_hash;
	row.symbolic_target = rv.symbolic_target;
	rc = cb(&row, payload);
	free(held);
	return rc > 0 ? 0 : rc;
}

static int lmdb_ref_get(tract_backend_conn *c, const char *tract_id, const char *ref_name,
			tract_ref_cb cb, void *payload)
{
	CHECK_ARG(c, tract_id && ref_name && cb);
	READ_OP(c, ref_get(c, tract_id, ref_name, cb, payload));
}

/* The ref's current value: 0 (in *cur), NOT_FOUND, or an error. */
static int ref_current(tract_backend_conn *c, const struct key *k, const char *name,
		       struct refval *cur)
{
	MDB_val kv = k_val(k), v;
	int rc = db_get(c, DB_REFS, &kv, &v, "read a ref");

	if (rc == 0 && !dec_ref(&v, cur))
		return fail_corrupt(c, "ref", name);
	return rc;
}

/* s: tract, name, commit, symbolic, expected commit, expected symbolic;
 * i[0]: whether there is an expectation. */
static int op_ref_cas(tract_backend_conn *c, struct logent *e)
{
	const char *tract = e->s[0], *name = e->s[1];
	struct refval now, cur;
	struct key k;
	MDB_val kv;
	uint64_t seq;
	int rc;

	now.commit_hash = e->s[2];
	now.symbolic_target = e->s[3];
	ref_key(&k, tract, name);
	if (k_over(c, &k))
		return fail_key(c, "tract id with ref name");
	rc = ref_current(c, &k, name, &cur);
	if (rc < 0)
		return rc;
	if (!e->i[0] && rc == 0)
		return fail(c, TRACT_ESTALE,
			    "ref %s of tract %s already exists (compare-and-swap lost)", name,
			    tract);
	if (e->i[0] && (rc == NOT_FOUND || !same_str(cur.commit_hash, e->s[4]) ||
			!same_str(cur.symbolic_target, e->s[5])))
		return fail(c, TRACT_ESTALE, "ref %s of tract %s moved (compare-and-swap lost)",
			    name, tract);
	if (now.commit_hash) {
		rc = seq_of(c, DB_COMMIT_HASH, now.commit_hash, &seq);
		if (rc == NOT_FOUND)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: ref %s of tract %s: commit %s is not stored", name,
				    tract, now.commit_hash);
		if (rc < 0)
			return rc;
	}
	kv = k_val(&k);
	return db_put_rec(c, DB_REFS, &kv, enc_ref, &now, 0, "store a ref");
}

static int lmdb_ref_cas(tract_backend_conn *c, const char *tract_id, const char *ref_name,
			const char *commit_hash, const char *symbolic_target,
			const tract_ref_row *expected)
{
	struct logent e = {.op = OP_REF_CAS};

	CHECK_ARG(c, tract_id && ref_name && (!commit_hash != !symbolic_target));
	e.s[0] = tract_id;
	e.s[1] = ref_name;
	e.s[2] = commit_hash;
	e.s[3] = symbolic_target;
	e.s[4] = expected ? expected->commit_hash : NULL;
	e.s[5] = expected ? expected->symbolic_target : NULL;
	e.i[0] = expected != NULL;
	return run_write(c, &e);
}

/* s: tract, name, expected commit, expected symbolic; i[0]: expectation. */
static int op_ref_delete(tract_backend_conn *c, struct logent *e)
{
	const char *tract = e->s[0], *name = e->s[1];
	struct refval cur;
	struct key k;
	MDB_val kv;
	int rc;

	ref_key(&k, tract, name);
	if (k_over(c, &k))
		return fail(c, TRACT_ENOTFOUND, "ref not found: %s", name);
	rc = ref_current(c, &k, name, &cur);
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "ref not found: %s", name);
	if (rc < 0)
		return rc;
	if (e->i[0] &&
	    (!same_str(cur.commit_hash, e->s[2]) || !same_str(cur.symbolic_target, e->s[3])))
		return fail(c, TRACT_ESTALE, "ref %s of tract %s moved (compare-and-swap lost)",
			    name, tract);
	kv = k_val(&k);
	rc = db_del(c, DB_REFS, &kv, "delete a ref");
	return rc == NOT_FOUND ? fail_corrupt(c, "ref", name) : rc;
}

static int lmdb_ref_delete(tract_backend_conn *c, const char *tract_id, const char *ref_name,
			   const tract_ref_row *expected)
{
	struct logent e = {.op = OP_REF_DELETE};

	CHECK_ARG(c, tract_id && ref_name);
	e.s[0] = tract_id;
	e.s[1] = ref_name;
	e.s[2] = expected ? expected->commit_hash : NULL;
	e.s[3] = expected ? expected->symbolic_target : NULL;
	e.i[0] = expected != NULL;
	return run_write(c, &e);
}

static int visit_ref(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	tract_ref_row row;
	struct refval rv;

	if (!split_ref_key(k, &row.tract_id, &row.ref_name) || !dec_ref(v, &rv))
		return fail_corrupt(c, "ref", NULL);
	if (sk->filter && strncmp(row.ref_name, sk->filter, strlen(sk->filter)) != 0)
		return 0;
	row.commit_hash = rv.commit_hash;
	row.symbolic_target = rv.symbolic_target;
	return sk->fn.ref(&row, sk->payload);
}

static int ref_foreach(tract_backend_conn *c, const char *tract, const char *prefix,
		       struct sink *sk)
{
	struct key k;

	if (!tract) {
		sk->filter = prefix;
		return foreach_range(c, DB_REFS, NULL, 0, visit_ref, sk);
	}
	/* The tract's refs whose name starts with prefix: one key range. */
	k_init(&k);
	k_str(&k, tract);
	if (prefix)
		k_bytes(&k, prefix, strlen(prefix));
	if (k.over)
		return 0;
	return foreach_range(c, DB_REFS, k.b, k.n, visit_ref, sk);
}

static int lmdb_ref_foreach(tract_backend_conn *c, const char *tract_id, const char *prefix,
			    tract_ref_cb cb, void *payload)
{
	struct sink sk = {.fn.ref = cb, .payload = payload};

	CHECK_ARG(c, cb);
	READ_OP(c, ref_foreach(c, tract_id, prefix, &sk));
}

/* ---- annotations ------------------------------------------------------------------------ */

/* s: tract, target, reason; i[0] priority, i[1] created_at; out: the id. */
static int op_ann_put(tract_backend_conn *c, struct logent *e)
{
	tract_annotation_row a = {
		.tract_id = e->s[0],
		.target_hash = e->s[1],
		.reason = e->s[2],
		.priority = (tract_priority)e->i[0],
		.created_at = e->i[1],
	};
	unsigned char ib[8], code = (unsigned char)prio_code(a.priority);
	struct key tk, rk;
	MDB_val kv, v;
	uint64_t id, target;
	int rc;

	/* Measured with the largest id, filled in below. */
	k_init(&tk);
	k_str(&tk, a.target_hash);
	k_u64(&tk, signed_bits(a.created_at));
	k_u64(&tk, UINT64_MAX);
	k_init(&rk);
	k_str(&rk, a.tract_id);
	k_u64(&rk, UINT64_MAX);
	if (k_over(c, &tk) || k_over(c, &rk))
		return fail_key(c, "target hash or tract id");
	rc = seq_of(c, DB_COMMIT_HASH, a.target_hash, &target);
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ESTORAGE, "lmdb: annotation target %s is not a stored commit",
			    a.target_hash);
	if (rc == 0)
		rc = next_seq(c, DB_ANN, &id);
	if (rc)
		return rc;
	bc_put_be64(tk.b + tk.n - 8, id);
	bc_put_be64(rk.b + rk.n - 8, id);
	kv = u64_val(ib, id);
	rc = db_put_rec(c, DB_ANN, &kv, enc_annotation, &a, MDB_APPEND, "store an annotation");
	kv = k_val(&tk);
	v.mv_size = 1;
	v.mv_data = &code;
	if (rc == 0)
		rc = db_put(c, DB_ANN_TARGET, &kv, &v, 0, "index an annotation");
	if (rc == 0)
		rc = db_put_key(c, DB_ANN_TRACT, &rk, "index an annotation");
	if (rc == 0)
		rc = commit_flags(c, target, CF_ANNOTATED, 0);
	e->out = (int64_t)id;
	return rc;
}

static int lmdb_annotation_put(tract_backend_conn *c, const tract_annotation_row *row,
			       int64_t *out_id)
{
	struct logent e = {.op = OP_ANN_PUT};
	int rc;

	CHECK_ARG(c, row && row->tract_id && row->target_hash && prio_code(row->priority));
	e.s[0] = row->tract_id;
	e.s[1] = row->target_hash;
	e.s[2] = row->reason;
	e.i[0] = row->priority;
	e.i[1] = row->created_at;
	rc = run_write(c, &e);
	if (rc == 0 && out_id)
		*out_id = e.out;
	return rc;
}

static int emit_annotation(tract_backend_conn *c, uint64_t id, tract_annotation_cb cb,
			   void *payload)
{
	unsigned char ib[8];
	MDB_val k = u64_val(ib, id), v;
	tract_annotation_row a;
	void *held;
	int rc = db_get(c, DB_ANN, &k, &v, "read an annotation");

	if (rc == NOT_FOUND)
		return fail_corrupt(c, "annotation index", "entry");
	if (rc == 0)
		rc = hold(c, &v, &held);
	if (rc < 0)
		return rc;
	if (!dec_annotation(&v, &a)) {
		rc = fail_corrupt(c, "annotation", NULL);
	} else {
		a.id = (int64_t)id;
		rc = cb(&a, payload);
	}
	free(held);
	return rc;
}

/* Index keys ending with an 8-byte id. */
static int visit_ann_index(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;

	(void)v;
	if (k->mv_size < 8)
		return fail_corrupt(c, "annotation index", "entry");
	return emit_annotation(c, bc_get_be64((const unsigned char *)k->mv_data + k->mv_size - 8),
			       sk->fn.annotation, sk->payload);
}

static int ann_by_key(tract_backend_conn *c, enum db index, const char *s, struct sink *sk)
{
	struct key k;

	if (!s)
		return foreach_range(c, DB_ANN, NULL, 0, visit_ann_index, sk);
	k_init(&k);
	k_str(&k, s);
	if (k_over(c, &k))
		return 0;
	return foreach_range(c, index, k.b, k.n, visit_ann_index, sk);
}

static int lmdb_annotation_list(tract_backend_conn *c, const char *target_hash,
				tract_annotation_cb cb, void *payload)
{
	struct sink sk = {.fn.annotation = cb, .payload = payload};

	CHECK_ARG(c, target_hash && cb);
	READ_OP(c, ann_by_key(c, DB_ANN_TARGET, target_hash, &sk));
}

static int lmdb_annotation_foreach(tract_backend_conn *c, const char *tract_id,
				   tract_annotation_cb cb, void *payload)
{
	struct sink sk = {.fn.annotation = cb, .payload = payload};

	CHECK_ARG(c, cb);
	READ_OP(c, ann_by_key(c, DB_ANN_TRACT, tract_id, &sk));
}

/* s: target. */
static int op_ann_delete_target(tract_backend_conn *c, struct logent *e)
{
	const char *target = e->s[0];
	struct keylist l;
	struct key k, rk;
	tract_annotation_row a;
	unsigned char ib[8];
	MDB_val kv, v;
	uint64_t id, seq;
	size_t i;
	int rc;

	k_init(&k);
	k_str(&k, target);
	if (k_over(c, &k))
		return 0;
	rc = collect_keys(c, DB_ANN_TARGET, k.b, k.n, &l);
	for (i = 0; rc == 0 && i < l.n; i++) {
		if (l.k[i].mv_size < 8) {
			rc = fail_corrupt(c, "annotation index", target);
			break;
		}
		id = bc_get_be64((const unsigned char *)l.k[i].mv_data + l.k[i].mv_size - 8);
		kv = u64_val(ib, id);
		rc = db_get(c, DB_ANN, &kv, &v, "read an annotation");
		if (rc == 0 && !dec_annotation(&v, &a))
			rc = fail_corrupt(c, "annotation", target);
		if (rc == 0) {
			k_init(&rk);
			k_str(&rk, a.tract_id);
			k_u64(&rk, id);
			rc = db_del_key(c, DB_ANN_TRACT, &rk, "delete an annotation");
		}
		if (rc == 0) {
			kv = u64_val(ib, id);
			rc = db_del(c, DB_ANN, &kv, "delete an annotation");
		}
		if (rc == 0)
			rc = db_del(c, DB_ANN_TARGET, &l.k[i], "delete an annotation");
		if (rc == NOT_FOUND)
			rc = fail_corrupt(c, "annotation index", target);
	}
	if (rc == 0 && l.n > 0) {
		rc = seq_of(c, DB_COMMIT_HASH, target, &seq);
		if (rc == 0)
			rc = commit_flags(c, seq, 0, CF_ANNOTATED);
		else if (rc == NOT_FOUND)
			rc = 0;
	}
	keylist_free(&l);
	return rc;
}

static int lmdb_annotation_delete_target(tract_backend_conn *c, const char *target_hash)
{
	struct logent e = {.op = OP_ANN_DELETE_TARGET};

	CHECK_ARG(c, target_hash);
	e.s[0] = target_hash;
	return run_write(c, &e);
}

/* ---- compression records ---------------------------------------------------------------- */

static void comp_time_keys(struct key *tk, struct key *ak, const char *tract, tract_time t,
			   const char *id)
{
	time_keys(tk, ak, tract, t, id);
}

/* s: id, tract, branch, instructions; i: created_at, original, compressed, target. */
static int op_comp_put(tract_backend_conn *c, struct logent *e)
{
	tract_compression_row x = {
		.compression_id = e->s[0],
		.tract_id = e->s[1],
		.branch_name = e->s[2],
		.instructions = e->s[3],
		.created_at = e->i[0],
		.original_tokens = e->i[1],
		.compressed_tokens = e->i[2],
		.target_tokens = e->i[3],
	};
	struct key k, tk, ak;
	MDB_val kv, v;
	int rc;

	k_init(&k);
	k_str(&k, x.compression_id);
	comp_time_keys(&tk, &ak, x.tract_id, x.created_at, x.compression_id);
	if (k_over(c, &k) || k_over(c, &tk))
		return fail_key(c, "compression id with tract id");
	kv = k_val(&k);
	rc = db_get(c, DB_COMP, &kv, &v, "read a compression record");
	if (rc == 0)
		return fail(c, TRACT_ESTORAGE, "lmdb: compression record already exists: %s",
			    x.compression_id);
	if (rc < 0)
		return rc;
	rc = db_put_rec(c, DB_COMP, &kv, enc_compression, &x, 0, "store a compression record");
	if (rc == 0)
		rc = db_put_key(c, DB_COMP_TRACT_TIME, &tk, "index a compression record");
	if (rc == 0)
		rc = db_put_key(c, DB_COMP_TIME, &ak, "index a compression record");
	return rc;
}

static int lmdb_compression_put(tract_backend_conn *c, const tract_compression_row *row)
{
	struct logent e = {.op = OP_COMP_PUT};

	CHECK_ARG(c, row && row->compression_id && row->tract_id);
	e.s[0] = row->compression_id;
	e.s[1] = row->tract_id;
	e.s[2] = row->branch_name;
	e.s[3] = row->instructions;
	e.i[0] = row->created_at;
	e.i[1] = row->original_tokens;
	e.i[2] = row->compressed_tokens;
	e.i[3] = row->target_tokens;
	return run_write(c, &e);
}

static bool valid_side(tract_compression_side side)
{
	return side == TRACT_COMPRESSION_SOURCES || side == TRACT_COMPRESSION_RESULTS;
}

/* member_of key of a commit in a record: cseq side id\0. */
static void member_of_key(struct key *k, uint64_t cseq, unsigned side, const char *id)
{
	k_init(k);
	k_u64(k, cseq);
	k_u8(k, side);
	k_str(k, id);
}

/* s: id, commit; i[0] side, i[1] position. */
static int op_member_put(tract_backend_conn *c, struct logent *e)
{
	const char *id = e->s[0], *commit = e->s[1];
	unsigned side = (unsigned)e->i[0];
	struct key k, mk, ok;
	MDB_val kv, v;
	uint64_t cseq;
	bool dup;
	int rc;

	k_init(&k);
	k_str(&k, id);
	k_init(&mk);
	k_u8(&mk, side);
	k_str(&mk, id);
	k_u64(&mk, signed_bits(e->i[1]));
	k_str(&mk, commit);
	member_of_key(&ok, 0, side, id);
	if (k_over(c, &k) || k_over(c, &mk) || k_over(c, &ok))
		return fail_key(c, "compression id with commit hash");
	kv = k_val(&k);
	rc = db_get(c, DB_COMP, &kv, &v, "read a compression record");
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ESTORAGE, "lmdb: compression record %s is not stored", id);
	if (rc == 0) {
		rc = seq_of(c, DB_COMMIT_HASH, commit, &cseq);
		if (rc == NOT_FOUND)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: compression record %s: commit %s is not stored", id,
				    commit);
	}
	if (rc)
		return rc;
	member_of_key(&ok, cseq, side, id);
	rc = range_any(c, DB_MEMBER_OF, ok.b, ok.n, &dup);
	if (rc < 0)
		return rc;
	if (dup)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: commit %s is already listed by compression %s", commit, id);
	rc = db_put_key(c, DB_COMP_MEMBERS, &mk, "store a compression member");
	if (rc == 0)
		rc = db_put_key(c, DB_MEMBER_OF, &ok, "store a compression member");
	return rc;
}

static int lmdb_compression_member_put(tract_backend_conn *c, tract_compression_side side,
				       const char *compression_id, const char *commit_hash,
				       int64_t position)
{
	struct logent e = {.op = OP_MEMBER_PUT};

	CHECK_ARG(c, valid_side(side) && compression_id && commit_hash);
	e.s[0] = compression_id;
	e.s[1] = commit_hash;
	e.i[0] = side;
	e.i[1] = position;
	return run_write(c, &e);
}

static int emit_compression(tract_backend_conn *c, const char *id, bool must,
			    tract_compression_cb cb, void *payload)
{
	tract_compression_row x;
	struct key k;
	MDB_val kv, v;
	void *held;
	int rc;

	k_init(&k);
	k_str(&k, id);
	if (k_over(c, &k))
		rc = NOT_FOUND;
	else {
		kv = k_val(&k);
		rc = db_get(c, DB_COMP, &kv, &v, "read a compression record");
	}
	if (rc == NOT_FOUND)
		return must ? fail(c, TRACT_ENOTFOUND, "compression record not found: %s", id)
			    : fail_corrupt(c, "compression index", id);
	if (rc == 0)
		rc = hold(c, &v, &held);
	if (rc < 0)
		return rc;
	if (!dec_compression(&v, &x))
		rc = fail_corrupt(c, "compression", id);
	else
		rc = cb(&x, payload);
	free(held);
	return rc;
}

static int lmdb_compression_get(tract_backend_conn *c, const char *compression_id,
				tract_compression_cb cb, void *payload)
{
	int rc;

	CHECK_ARG(c, compression_id && cb);
	{
		bool own;

		rc = enter(c, TRACT_TXN_READ, &own);
		if (rc < 0)
			return rc;
		rc = emit_compression(c, compression_id, true, cb, payload);
		return leave(c, own, rc > 0 ? 0 : rc);
	}
}

/* Time index keys end with "time id\0"; skip the prefix and the time. */
static int visit_comp_index(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	const char *id = (const char *)k->mv_data + sk->n;

	(void)v;
	if (k->mv_size <= sk->n || ((const char *)k->mv_data)[k->mv_size - 1] != '\0')
		return fail_corrupt(c, "compression index", NULL);
	return emit_compression(c, id, false, sk->fn.compression, sk->payload);
}

static int compression_foreach(tract_backend_conn *c, const char *tract, struct sink *sk)
{
	struct key k;

	if (!tract) {
		sk->n = 8;
		return foreach_range(c, DB_COMP_TIME, NULL, 0, visit_comp_index, sk);
	}
	k_init(&k);
	k_str(&k, tract);
	if (k_over(c, &k))
		return 0;
	sk->n = k.n + 8;
	return foreach_range(c, DB_COMP_TRACT_TIME, k.b, k.n, visit_comp_index, sk);
}

static int lmdb_compression_foreach(tract_backend_conn *c, const char *tract_id,
				    tract_compression_cb cb, void *payload)
{
	struct sink sk = {.fn.compression = cb, .payload = payload};

	CHECK_ARG(c, cb);
	READ_OP(c, compression_foreach(c, tract_id, &sk));
}

static int visit_member(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	const char *id, *commit;
	uint64_t pos;

	(void)v;
	if (k->mv_size < 1 ||
	    !split_key((const unsigned char *)k->mv_data + 1, k->mv_size - 1, &id, &pos, &commit))
		return fail_corrupt(c, "compression member", NULL);
	return sk->fn.member(id, commit, signed_value(pos), sk->payload);
}

static int compression_members(tract_backend_conn *c, tract_compression_side side,
			       const char *id, struct sink *sk)
{
	struct key k;

	k_init(&k);
	k_u8(&k, side);
	k_str(&k, id);
	if (k_over(c, &k))
		return 0;
	return foreach_range(c, DB_COMP_MEMBERS, k.b, k.n, visit_member, sk);
}

static int lmdb_compression_members(tract_backend_conn *c, tract_compression_side side,
				    const char *compression_id, tract_member_cb cb, void *payload)
{
	struct sink sk = {.fn.member = cb, .payload = payload};

	CHECK_ARG(c, valid_side(side) && compression_id && cb);
	READ_OP(c, compression_members(c, side, compression_id, &sk));
}

/* Delete one side's members of a record, with their reverse entries. */
static int delete_members(tract_backend_conn *c, unsigned side, const char *id)
{
	struct keylist l;
	struct key k, ok;
	const char *rid, *commit;
	uint64_t pos, cseq;
	size_t i;
	int rc;

	k_init(&k);
	k_u8(&k, side);
	k_str(&k, id);
	rc = collect_keys(c, DB_COMP_MEMBERS, k.b, k.n, &l);
	for (i = 0; rc == 0 && i < l.n; i++) {
		if (!split_key((const unsigned char *)l.k[i].mv_data + 1, l.k[i].mv_size - 1, &rid,
			       &pos, &commit)) {
			rc = fail_corrupt(c, "compression member", id);
			break;
		}
		rc = seq_of(c, DB_COMMIT_HASH, commit, &cseq);
		if (rc == 0) {
			member_of_key(&ok, cseq, side, id);
			rc = db_del_key(c, DB_MEMBER_OF, &ok, "delete a compression member");
		} else if (rc == NOT_FOUND) {
			rc = 0;
		}
		if (rc == 0)
			rc = db_del(c, DB_COMP_MEMBERS, &l.k[i], "delete a compression member");
		if (rc == NOT_FOUND)
			rc = 0;
	}
	keylist_free(&l);
	return rc;
}

/* s: id. */
static int op_comp_delete(tract_backend_conn *c, struct logent *e)
{
	const char *id = e->s[0];
	tract_compression_row x;
	struct key k, tk, ak;
	MDB_val kv, v;
	int rc;

	k_init(&k);
	k_str(&k, id);
	if (k_over(c, &k))
		return fail(c, TRACT_ENOTFOUND, "compression record not found: %s", id);
	kv = k_val(&k);
	rc = db_get(c, DB_COMP, &kv, &v, "read a compression record");
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "compression record not found: %s", id);
	if (rc < 0)
		return rc;
	if (!dec_compression(&v, &x))
		return fail_corrupt(c, "compression", id);
	comp_time_keys(&tk, &ak, x.tract_id, x.created_at, id); /* before any write */
	rc = delete_members(c, TRACT_COMPRESSION_SOURCES, id);
	if (rc == 0)
		rc = delete_members(c, TRACT_COMPRESSION_RESULTS, id);
	if (rc == 0)
		rc = db_del_key(c, DB_COMP_TRACT_TIME, &tk, "delete a compression record");
	if (rc == 0)
		rc = db_del_key(c, DB_COMP_TIME, &ak, "delete a compression record");
	if (rc == 0)
		rc = db_del_key(c, DB_COMP, &k, "delete a compression record");
	return rc;
}

static int lmdb_compression_delete(tract_backend_conn *c, const char *compression_id)
{
	struct logent e = {.op = OP_COMP_DELETE};

	CHECK_ARG(c, compression_id);
	e.s[0] = compression_id;
	return run_write(c, &e);
}

/* ---- spawn pointers --------------------------------------------------------------------- */

static void id_key(struct key *k, const char *s, uint64_t id)
{
	k_init(k);
	k_str(k, s);
	k_u64(k, id);
}

/* s: parent tract, parent commit, child, purpose, mode, display name;
 * i[0] created_at; out: the id. */
static int op_spawn_put(tract_backend_conn *c, struct logent *e)
{
	struct srec s = {0};
	struct key pk, ck, sk;
	unsigned char ib[8];
	MDB_val kv;
	uint64_t id;
	int rc;

	s.row.parent_tract_id = e->s[0];
	s.row.parent_commit_hash = e->s[1];
	s.row.child_tract_id = e->s[2];
	s.row.purpose = e->s[3];
	s.row.inheritance_mode = e->s[4];
	s.row.display_name = e->s[5];
	s.row.created_at = e->i[0];
	id_key(&pk, s.row.parent_tract_id, 0);
	id_key(&ck, s.row.child_tract_id, 0);
	if (k_over(c, &pk) || k_over(c, &ck))
		return fail_key(c, "tract id");
	if (s.row.parent_commit_hash) {
		rc = seq_of(c, DB_COMMIT_HASH, s.row.parent_commit_hash, &s.commit_seq);
		if (rc == NOT_FOUND)
			return fail(c, TRACT_ESTORAGE,
				    "lmdb: spawn pointer: parent commit %s is not stored",
				    s.row.parent_commit_hash);
		if (rc < 0)
			return rc;
	}
	rc = next_seq(c, DB_SPAWNS, &id);
	if (rc)
		return rc;
	bc_put_be64(pk.b + pk.n - 8, id);
	bc_put_be64(ck.b + ck.n - 8, id);
	kv = u64_val(ib, id);
	rc = db_put_rec(c, DB_SPAWNS, &kv, enc_spawn, &s, MDB_APPEND, "store a spawn pointer");
	if (rc == 0)
		rc = db_put_key(c, DB_SPAWN_PARENT, &pk, "index a spawn pointer");
	if (rc == 0)
		rc = db_put_key(c, DB_SPAWN_CHILD, &ck, "index a spawn pointer");
	seq_pair(&sk, s.commit_seq, id);
	if (rc == 0 && s.commit_seq)
		rc = db_put_key(c, DB_SPAWN_COMMIT, &sk, "index a spawn pointer");
	e->out = (int64_t)id;
	return rc;
}

static int lmdb_spawn_put(tract_backend_conn *c, const tract_spawn_row *row, int64_t *out_id)
{
	struct logent e = {.op = OP_SPAWN_PUT};
	int rc;

	CHECK_ARG(c, row && row->parent_tract_id && row->child_tract_id && row->purpose &&
			     row->inheritance_mode);
	e.s[0] = row->parent_tract_id;
	e.s[1] = row->parent_commit_hash;
	e.s[2] = row->child_tract_id;
	e.s[3] = row->purpose;
	e.s[4] = row->inheritance_mode;
	e.s[5] = row->display_name;
	e.i[0] = row->created_at;
	rc = run_write(c, &e);
	if (rc == 0 && out_id)
		*out_id = e.out;
	return rc;
}

/* The spawn pointer under id (NOT_FOUND when absent); *held frees it. */
static int load_spawn(tract_backend_conn *c, uint64_t id, struct srec *s, void **held)
{
	unsigned char ib[8];
	MDB_val k = u64_val(ib, id), v;
	int rc;

	*held = NULL;
	rc = db_get(c, DB_SPAWNS, &k, &v, "read a spawn pointer");
	if (rc == 0)
		rc = hold(c, &v, held);
	if (rc)
		return rc;
	if (!dec_spawn(&v, s)) {
		free(*held);
		*held = NULL;
		return fail_corrupt(c, "spawn pointer", NULL);
	}
	s->row.id = (int64_t)id;
	return 0;
}

static int visit_spawn(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	struct srec s;
	void *held;
	int rc;

	(void)v;
	if (k->mv_size < 8)
		return fail_corrupt(c, "spawn index", NULL);
	rc = load_spawn(c, bc_get_be64((const unsigned char *)k->mv_data + k->mv_size - 8), &s,
			&held);
	if (rc == NOT_FOUND)
		return fail_corrupt(c, "spawn index", "entry");
	if (rc < 0)
		return rc;
	rc = sk->fn.spawn(&s.row, sk->payload);
	free(held);
	return rc;
}

static int spawn_by(tract_backend_conn *c, enum db index, const char *tract, struct sink *sk)
{
	struct key k;

	if (!tract)
		return foreach_range(c, DB_SPAWNS, NULL, 0, visit_spawn, sk);
	k_init(&k);
	k_str(&k, tract);
	if (k_over(c, &k))
		return 0;
	return foreach_range(c, index, k.b, k.n, visit_spawn, sk);
}

static int lmdb_spawn_foreach(tract_backend_conn *c, const char *parent_tract_id,
			      tract_spawn_cb cb, void *payload)
{
	struct sink sk = {.fn.spawn = cb, .payload = payload};

	CHECK_ARG(c, cb);
	READ_OP(c, spawn_by(c, DB_SPAWN_PARENT, parent_tract_id, &sk));
}

static int lmdb_spawn_by_child(tract_backend_conn *c, const char *child_tract_id,
			       tract_spawn_cb cb, void *payload)
{
	struct sink sk = {.fn.spawn = cb, .payload = payload};

	CHECK_ARG(c, child_tract_id && cb);
	READ_OP(c, spawn_by(c, DB_SPAWN_CHILD, child_tract_id, &sk));
}

/* i[0]: id. */
static int op_spawn_delete(tract_backend_conn *c, struct logent *e)
{
	uint64_t id = (uint64_t)e->i[0];
	struct key pk, ck, sk;
	unsigned char ib[8];
	struct srec s;
	MDB_val kv;
	void *held;
	int rc;

	if (e->i[0] <= 0)
		return fail(c, TRACT_ENOTFOUND, "spawn pointer not found: %" PRId64, e->i[0]);
	rc = load_spawn(c, id, &s, &held);
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "spawn pointer not found: %" PRId64, e->i[0]);
	if (rc < 0)
		return rc;
	id_key(&pk, s.row.parent_tract_id, id);
	id_key(&ck, s.row.child_tract_id, id);
	seq_pair(&sk, s.commit_seq, id);
	rc = db_del_key(c, DB_SPAWN_PARENT, &pk, "delete a spawn pointer");
	if (rc == 0)
		rc = db_del_key(c, DB_SPAWN_CHILD, &ck, "delete a spawn pointer");
	if (rc == 0 && s.commit_seq)
		rc = db_del_key(c, DB_SPAWN_COMMIT, &sk, "delete a spawn pointer");
	kv = u64_val(ib, id);
	if (rc == 0)
		rc = db_del(c, DB_SPAWNS, &kv, "delete a spawn pointer");
	free(held);
	return rc;
}

static int lmdb_spawn_delete(tract_backend_conn *c, int64_t id)
{
	struct logent e = {.op = OP_SPAWN_DELETE};

	CHECK_CONN(c);
	e.i[0] = id;
	return run_write(c, &e);
}

/* ---- store metadata --------------------------------------------------------------------- */

static int meta_get(tract_backend_conn *c, const char *key, tract_meta_cb cb, void *payload)
{
	const char *value;
	struct key k;
	MDB_val kv, v;
	void *held;
	int rc;

	k_init(&k);
	k_str(&k, key);
	if (k_over(c, &k))
		return fail(c, TRACT_ENOTFOUND, "metadata key not found: %s", key);
	kv = k_val(&k);
	rc = db_get(c, DB_META, &kv, &v, "read metadata");
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "metadata key not found: %s", key);
	if (rc == 0)
		rc = hold(c, &v, &held);
	if (rc < 0)
		return rc;
	if (!dec_text(&v, &value))
		rc = fail_corrupt(c, "metadata", key);
	else
		rc = cb(key, value, payload);
	free(held);
	return rc > 0 ? 0 : rc;
}

static int lmdb_meta_get(tract_backend_conn *c, const char *key, tract_meta_cb cb,
			 void *payload)
{
	CHECK_ARG(c, key && cb);
	READ_OP(c, meta_get(c, key, cb, payload));
}

/* s: key, value. */
static int op_meta_set(tract_backend_conn *c, struct logent *e)
{
	struct key k;
	MDB_val kv, v;

	k_init(&k);
	k_str(&k, e->s[0]);
	if (k_over(c, &k))
		return fail_key(c, "metadata key");
	kv = k_val(&k);
	v.mv_size = strlen(e->s[1]) + 1;
	v.mv_data = (void *)e->s[1];
	return db_put(c, DB_META, &kv, &v, 0, "store metadata");
}

static int lmdb_meta_set(tract_backend_conn *c, const char *key, const char *value)
{
	struct logent e = {.op = OP_META_SET};

	CHECK_ARG(c, key && value);
	e.s[0] = key;
	e.s[1] = value;
	return run_write(c, &e);
}

/* s: key. */
static int op_meta_delete(tract_backend_conn *c, struct logent *e)
{
	struct key k;
	MDB_val kv;
	int rc;

	k_init(&k);
	k_str(&k, e->s[0]);
	if (k_over(c, &k))
		return fail(c, TRACT_ENOTFOUND, "metadata key not found: %s", e->s[0]);
	kv = k_val(&k);
	rc = db_del(c, DB_META, &kv, "delete metadata");
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "metadata key not found: %s", e->s[0]);
	return rc;
}

static int lmdb_meta_delete(tract_backend_conn *c, const char *key)
{
	struct logent e = {.op = OP_META_DELETE};

	CHECK_ARG(c, key);
	e.s[0] = key;
	return run_write(c, &e);
}

static int visit_meta(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct sink *sk = ctx;
	const char *key, *value;

	if (!dec_text(k, &key) || !dec_text(v, &value))
		return fail_corrupt(c, "metadata", NULL);
	return sk->fn.meta(key, value, sk->payload);
}

static int lmdb_meta_foreach(tract_backend_conn *c, const char *prefix, tract_meta_cb cb,
			     void *payload)
{
	struct sink sk = {.fn.meta = cb, .payload = payload};

	CHECK_ARG(c, cb);
	if (prefix && strlen(prefix) > KEY_MAX)
		return 0; /* longer than any key */
	READ_OP(c, foreach_range(c, DB_META, prefix, prefix ? strlen(prefix) : 0, visit_meta,
				 &sk));
}

/* ---- tracts ----------------------------------------------------------------------------- */

struct tract_list {
	tract_tract_row *rows;
	size_t n, cap;
};

static int tract_list_add(tract_backend_conn *c, struct tract_list *l, const char *id,
			  int64_t count)
{
	if (l->n && strcmp(l->rows[l->n - 1].tract_id, id) == 0) {
		l->rows[l->n - 1].commit_count += count;
		return 0;
	}
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		tract_tract_row *p = realloc(l->rows, ncap * sizeof(*p));

		if (!p)
			return fail_oom(c);
		l->rows = p;
		l->cap = ncap;
	}
	l->rows[l->n].tract_id = strdup(id);
	if (!l->rows[l->n].tract_id)
		return fail_oom(c);
	l->rows[l->n].commit_count = count;
	l->rows[l->n].last_activity = TRACT_TIME_NONE;
	l->n++;
	return 0;
}

static int visit_tract_count(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	const char *id;
	int64_t n;

	if (!dec_text(k, &id) || v->mv_size != 8)
		return fail_corrupt(c, "tract", NULL);
	memcpy(&n, v->mv_data, 8);
	return tract_list_add(c, ctx, id, n);
}

static int visit_tract_ref(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	const char *tract, *name;

	(void)v;
	if (!split_ref_key(k, &tract, &name))
		return fail_corrupt(c, "ref", NULL);
	return tract_list_add(c, ctx, tract, 0);
}

static int cmp_tract_row(const void *a, const void *b)
{
	return strcmp(((const tract_tract_row *)a)->tract_id,
		      ((const tract_tract_row *)b)->tract_id);
}

/* The newest commit time of a tract: the last key of its time range. */
static int last_activity(tract_backend_conn *c, const char *tract, tract_time *out)
{
	MDB_cursor *cur;
	struct key k;
	MDB_val kv, v;
	size_t plen;
	int rc;

	*out = TRACT_TIME_NONE;
	k_init(&k);
	k_str(&k, tract);
	plen = k.n;
	k_u64(&k, UINT64_MAX);
	k_u8(&k, 0xff);
	if (k.over)
		return 0;
	rc = mdb_cursor_open(c->txn, dbi_of(c, DB_TRACT_TIME), &cur);
	if (rc)
		return fail_mdb(c, rc, "open a cursor");
	kv = k_val(&k);
	rc = mdb_cursor_get(cur, &kv, &v, MDB_SET_RANGE);
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &kv, &v, rc == 0 ? MDB_PREV : MDB_LAST);
	if (rc == 0 && has_prefix(&kv, k.b, plen) && kv.mv_size >= plen + 8)
		*out = signed_value(bc_get_be64((const unsigned char *)kv.mv_data + plen));
	mdb_cursor_close(cur);
	return rc && rc != MDB_NOTFOUND ? fail_mdb(c, rc, "read a tract's commits") : 0;
}

static int tract_foreach(tract_backend_conn *c, tract_tract_cb cb, void *payload)
{
	struct tract_list l = {0}, m = {0};
	size_t i;
	int rc;

	rc = foreach_range(c, DB_TRACTS, NULL, 0, visit_tract_count, &l);
	if (rc == 0)
		rc = foreach_range(c, DB_REFS, NULL, 0, visit_tract_ref, &l);
	if (rc == 0 && l.n > 1) {
		/* Merge the two sorted runs (and drop repeats). */
		qsort(l.rows, l.n, sizeof(*l.rows), cmp_tract_row);
		for (i = 0; rc == 0 && i < l.n; i++)
			rc = tract_list_add(c, &m, l.rows[i].tract_id, l.rows[i].commit_count);
	}
	if (rc == 0 && l.n > 1) {
		struct tract_list t = l;

		l = m;
		m = t;
	}
	for (i = 0; rc == 0 && i < l.n; i++)
		rc = last_activity(c, l.rows[i].tract_id, &l.rows[i].last_activity);
	for (i = 0; rc == 0 && i < l.n; i++) {
		rc = cb(&l.rows[i], payload);
		if (rc > 0) {
			rc = 0;
			break;
		}
	}
	for (i = 0; i < l.n; i++)
		free((char *)l.rows[i].tract_id);
	for (i = 0; i < m.n; i++)
		free((char *)m.rows[i].tract_id);
	free(l.rows);
	free(m.rows);
	return rc;
}

static int lmdb_tract_foreach(tract_backend_conn *c, tract_tract_cb cb, void *payload)
{
	CHECK_ARG(c, cb);
	READ_OP(c, tract_foreach(c, cb, payload));
}

/* ---- deletion --------------------------------------------------------------------------- */

struct ref_scan {
	const char *hash;
	char tract[KEY_MAX], name[KEY_MAX];
	bool found;
};

static int visit_ref_naming(tract_backend_conn *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
	struct ref_scan *rs = ctx;
	const char *tract, *name;
	struct refval rv;

	if (!split_ref_key(k, &tract, &name) || !dec_ref(v, &rv))
		return fail_corrupt(c, "ref", NULL);
	if (!rv.commit_hash || strcmp(rv.commit_hash, rs->hash) != 0)
		return 0;
	snprintf(rs->tract, sizeof(rs->tract), "%s", tract);
	snprintf(rs->name, sizeof(rs->name), "%s", name);
	rs->found = true;
	return 1;
}

/* What still names the commit and makes deleting it fail. */
static int commit_in_use(tract_backend_conn *c, const char *hash, uint64_t seq)
{
	struct ref_scan rs = {.hash = hash};
	unsigned char sb[8];
	struct key k;
	bool any;
	int rc;

	/* Refs are few: scanned rather than indexed (they move on every commit). */
	rc = foreach_range(c, DB_REFS, NULL, 0, visit_ref_naming, &rs);
	if (rc < 0)
		return rc;
	if (rs.found)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: cannot delete commit %s: ref %s of tract %s names it", hash,
			    rs.name, rs.tract);
	k_init(&k);
	k_str(&k, hash);
	rc = range_any(c, DB_ANN_TARGET, k.b, k.n, &any);
	if (rc == 0 && any)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: cannot delete commit %s: annotations target it", hash);
	bc_put_be64(sb, seq);
	if (rc == 0)
		rc = range_any(c, DB_PARENT_OF, sb, 8, &any);
	if (rc == 0 && any)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: cannot delete commit %s: it is a merge parent of another commit",
			    hash);
	if (rc == 0)
		rc = range_any(c, DB_MEMBER_OF, sb, 8, &any);
	if (rc == 0 && any)
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: cannot delete commit %s: a compression record lists it", hash);
	return rc;
}

/* The commit's own commit_parents rows (as the child) go with it. */
static int delete_own_parents(tract_backend_conn *c, const char *hash, uint64_t seq)
{
	const char *child, *parent;
	struct keylist l;
	struct key k;
	uint64_t pos, pseq;
	size_t i;
	int rc;

	k_init(&k);
	k_str(&k, hash);
	rc = collect_keys(c, DB_PARENTS, k.b, k.n, &l);
	for (i = 0; rc == 0 && i < l.n; i++) {
		if (!split_key(l.k[i].mv_data, l.k[i].mv_size, &child, &pos, &parent)) {
			rc = fail_corrupt(c, "merge parent", hash);
			break;
		}
		rc = seq_of(c, DB_COMMIT_HASH, parent, &pseq);
		if (rc == 0) {
			seq_pair(&k, pseq, seq);
			rc = db_del_key(c, DB_PARENT_OF, &k, "delete a merge parent");
		} else if (rc == NOT_FOUND) {
			rc = 0;
		}
		if (rc == 0)
			rc = db_del(c, DB_PARENTS, &l.k[i], "delete a merge parent");
		if (rc == NOT_FOUND)
			rc = 0;
	}
	keylist_free(&l);
	return rc;
}

/* ON DELETE SET NULL: the commits whose parent (or response_to) it was. */
static int unlink_commits(tract_backend_conn *c, enum db links, uint64_t seq, bool parent)
{
	struct keylist l;
	unsigned char sb[8];
	struct crec r;
	void *held;
	uint64_t other;
	size_t i;
	int rc;

	bc_put_be64(sb, seq);
	rc = collect_keys(c, links, sb, 8, &l);
	for (i = 0; rc == 0 && i < l.n; i++) {
		if (l.k[i].mv_size != 16) {
			rc = fail_corrupt(c, db_names[links], "entry");
			break;
		}
		other = bc_get_be64((const unsigned char *)l.k[i].mv_data + 8);
		rc = load_commit(c, other, &r, &held);
		if (rc == 0) {
			if (parent) {
				r.row.parent_hash = NULL;
				r.parent_seq = 0;
			} else {
				r.row.response_to = NULL;
				r.response_seq = 0;
			}
			rc = store_commit(c, other, &r, 0);
			free(held);
		} else if (rc == NOT_FOUND) {
			rc = 0;
		}
		if (rc == 0)
			rc = db_del(c, links, &l.k[i], "unlink a commit");
		if (rc == NOT_FOUND)
			rc = 0;
	}
	keylist_free(&l);
	return rc;
}

/* ...and spawn pointers' parent_commit_hash. */
static int unlink_spawns(tract_backend_conn *c, uint64_t seq)
{
	struct keylist l;
	unsigned char sb[8], ib[8];
	struct srec s;
	MDB_val kv;
	void *held;
	uint64_t id;
	size_t i;
	int rc;

	bc_put_be64(sb, seq);
	rc = collect_keys(c, DB_SPAWN_COMMIT, sb, 8, &l);
	for (i = 0; rc == 0 && i < l.n; i++) {
		if (l.k[i].mv_size != 16) {
			rc = fail_corrupt(c, "spawn index", "entry");
			break;
		}
		id = bc_get_be64((const unsigned char *)l.k[i].mv_data + 8);
		rc = load_spawn(c, id, &s, &held);
		if (rc == 0) {
			s.row.parent_commit_hash = NULL;
			s.commit_seq = 0;
			kv = u64_val(ib, id);
			rc = db_put_rec(c, DB_SPAWNS, &kv, enc_spawn, &s, 0,
					"update a spawn pointer");
			free(held);
		} else if (rc == NOT_FOUND) {
			rc = 0;
		}
		if (rc == 0)
			rc = db_del(c, DB_SPAWN_COMMIT, &l.k[i], "update a spawn pointer");
		if (rc == NOT_FOUND)
			rc = 0;
	}
	keylist_free(&l);
	return rc;
}

/* s: hash. */
static int op_commit_delete(tract_backend_conn *c, struct logent *e)
{
	const char *hash = e->s[0];
	struct key hk, tk, ak, pk;
	unsigned char sb[8];
	struct crec r;
	MDB_val kv;
	void *held = NULL;
	uint64_t seq;
	int rc;

	rc = seq_of(c, DB_COMMIT_HASH, hash, &seq);
	if (rc == 0)
		rc = load_commit(c, seq, &r, &held); /* a copy: it outlives the writes */
	if (rc == NOT_FOUND)
		return fail(c, TRACT_ENOTFOUND, "commit not found: %s", hash);
	if (rc < 0)
		return rc;
	rc = commit_in_use(c, hash, seq);
	if (rc == 0)
		rc = delete_own_parents(c, hash, seq);
	if (rc == 0)
		rc = unlink_commits(c, DB_CHILDREN, seq, true);
	if (rc == 0)
		rc = unlink_commits(c, DB_RESPONSES, seq, false);
	if (rc == 0)
		rc = unlink_spawns(c, seq);
	seq_pair(&pk, r.blob_seq, seq);
	if (rc == 0)
		rc = db_del_key(c, DB_BLOB_USERS, &pk, "delete a commit");
	seq_pair(&pk, r.parent_seq, seq);
	if (rc == 0 && r.parent_seq)
		rc = db_del_key(c, DB_CHILDREN, &pk, "delete a commit");
	seq_pair(&pk, r.response_seq, seq);
	if (rc == 0 && r.response_seq)
		rc = db_del_key(c, DB_RESPONSES, &pk, "delete a commit");
	time_keys(&tk, &ak, r.row.tract_id, r.row.created_at, r.row.commit_hash);
	if (rc == 0)
		rc = db_del_key(c, DB_TRACT_TIME, &tk, "delete a commit");
	if (rc == 0)
		rc = db_del_key(c, DB_TIME, &ak, "delete a commit");
	if (rc == 0 && r.row.generation_config_json)
		rc = db_del_key(c, DB_TRACT_CONFIG, &tk, "delete a commit");
	if (rc == 0 && r.row.generation_config_json)
		rc = db_del_key(c, DB_CONFIG, &ak, "delete a commit");
	k_init(&hk);
	k_str(&hk, hash);
	if (rc == 0)
		rc = db_del_key(c, DB_COMMIT_HASH, &hk, "delete a commit");
	kv = u64_val(sb, seq);
	if (rc == 0)
		rc = db_del(c, DB_COMMITS, &kv, "delete a commit");
	if (rc == 0)
		rc = tract_count_add(c, r.row.tract_id, -1);
	free(held);
	return rc == NOT_FOUND ? fail_corrupt(c, "commit", hash) : rc;
}

static int lmdb_commit_delete(tract_backend_conn *c, const char *commit_hash)
{
	struct logent e = {.op = OP_COMMIT_DELETE};

	CHECK_ARG(c, commit_hash);
	e.s[0] = commit_hash;
	return run_write(c, &e);
}

/* ---- dispatch --------------------------------------------------------------------------- */

/* Run a write operation (first time or replay). */
static int dispatch(tract_backend_conn *c, struct logent *e)
{
	switch (e->op) {
	case OP_BLOB_PUT:
		return op_blob_put(c, e);
	case OP_COMMIT_PUT:
		return op_commit_put(c, e);
	case OP_PARENT_PUT:
		return op_parent_put(c, e);
	case OP_REF_CAS:
		return op_ref_cas(c, e);
	case OP_REF_DELETE:
		return op_ref_delete(c, e);
	case OP_ANN_PUT:
		return op_ann_put(c, e);
	case OP_COMP_PUT:
		return op_comp_put(c, e);
	case OP_MEMBER_PUT:
		return op_member_put(c, e);
	case OP_SPAWN_PUT:
		return op_spawn_put(c, e);
	case OP_META_SET:
		return op_meta_set(c, e);
	case OP_META_DELETE:
		return op_meta_delete(c, e);
	case OP_COMMIT_DELETE:
		return op_commit_delete(c, e);
	case OP_BLOB_DELETE:
		return op_blob_delete(c, e);
	case OP_ANN_DELETE_TARGET:
		return op_ann_delete_target(c, e);
	case OP_COMP_DELETE:
		return op_comp_delete(c, e);
	case OP_SPAWN_DELETE:
		return op_spawn_delete(c, e);
	}
	return fail(c, TRACT_EINVAL, "lmdb: unknown write operation %d", (int)e->op);
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static void lmdb_close(tract_backend_conn *c)
{
	if (!c)
		return;
	/* A handle inherited through fork() must not touch LMDB. */
	if (c->se && c->se->pid == getpid()) {
		if (c->in_txn)
			end_txn(c);
		if (c->rtxn)
			mdb_txn_abort(c->rtxn);
		env_release(c->se);
	}
	log_free(&c->log);
	free(c->created);
	free(c);
}

/* Close, then remove the directory this handle created (the files in it,
 * then the directory) if the path still names that directory. */
static int lmdb_destroy(tract_backend_conn *c)
{
	char *dir, path[4096];
	struct stat st;
	dev_t dev;
	ino_t ino;

	if (!c)
		return 0;
	dir = c->created;
	c->created = NULL;
	dev = c->created_dev;
	ino = c->created_ino;
	lmdb_close(c);
	if (dir && stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_dev == dev &&
	    st.st_ino == ino) {
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			struct stat eb;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (lstat(path, &eb) == 0 && S_ISREG(eb.st_mode))
				unlink(path);
		}
		if (d)
			closedir(d);
		rmdir(dir);
	}
	free(dir);
	return 0;
}

/* The directory of an lmdb URI: "lmdb:DIR[?options]" or DIR. */
static char *uri_dir(const char *uri)
{
	const char *p = strncmp(uri, "lmdb:", 5) == 0 ? uri + 5 : uri;

	return strndup(p, strcspn(p, "?"));
}

static int lmdb_same_store(const char *uri_a, const char *uri_b)
{
	char *a = uri_dir(uri_a), *b = uri_dir(uri_b);
	struct stat sa, sb;
	int same;

	same = a && b &&
	       (strcmp(a, b) == 0 || (stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
				      sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino));
	free(a);
	free(b);
	return same;
}

static int lmdb_open(tract_backend_conn **out, const char *uri, unsigned flags,
		     char *errbuf, size_t errlen)
{
	const char *location = uri && strncmp(uri, "lmdb:", 5) == 0 ? uri + 5 : uri;
	tract_backend_conn *c = NULL;
	char err[ERRLEN] = "";
	struct options o = {0};
	int rc;

	if (out)
		*out = NULL;
	if (!out || !location || !*location) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "lmdb: store URI '%s' has no location",
				 uri ? uri : "");
		return TRACT_EINVAL;
	}
	rc = parse_location(location, &o, err, sizeof(err));
	if (rc < 0)
		goto done;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, sizeof(err), "lmdb: out of memory");
		rc = TRACT_ENOMEM;
		goto done;
	}
	c->sync = o.sync;
	rc = env_acquire(c, o.dir, flags, &o);
	if (rc < 0) {
		snprintf(err, sizeof(err), "%s", c->err);
		goto done;
	}
	c->err[0] = '\0';
	*out = c;
	c = NULL;
done:
	if (rc < 0 && errbuf && errlen)
		snprintf(errbuf, errlen, "%s", err);
	free(c);
	free(o.dir);
	return rc;
}

static const char *lmdb_last_error(tract_backend_conn *c)
{
	return c ? c->err : "lmdb: no connection";
}

static int lmdb_begin(tract_backend_conn *c, tract_txn_kind kind)
{
	int rc;

	CHECK_CONN(c);
	if (kind != TRACT_TXN_READ && kind != TRACT_TXN_WRITE)
		return fail(c, TRACT_EINVAL, "lmdb: bad transaction kind");
	if (c->in_txn)
		return fail(c, TRACT_EINVAL, "lmdb: a transaction is already open");
	rc = begin_txn(c, kind);
	if (rc == 0)
		c->explicit_txn = true;
	return rc;
}

static int lmdb_commit(tract_backend_conn *c)
{
	CHECK_CONN(c);
	if (!c->in_txn || !c->explicit_txn)
		return fail(c, TRACT_EINVAL, "lmdb: commit without a transaction");
	return commit_txn(c);
}

static int lmdb_rollback(tract_backend_conn *c)
{
	CHECK_CONN(c);
	if (c->in_txn)
		end_txn(c);
	return 0;
}

/* ---- entry ------------------------------------------------------------------------------ */

static const char *const lmdb_schemes[] = {"lmdb", NULL};

static const tract_backend lmdb_backend = {
	.version = TRACT_BACKEND_VERSION,
	.name = "lmdb",
	.schemes = lmdb_schemes,
	.description = "LMDB environment (a directory): memory-mapped, one writer, readers "
		       "never blocked",
	.open = lmdb_open,
	.destroy = lmdb_destroy,
	.same_store = lmdb_same_store,
	.close = lmdb_close,
	.last_error = lmdb_last_error,
	.begin = lmdb_begin,
	.commit = lmdb_commit,
	.rollback = lmdb_rollback,
	.blob_put = lmdb_blob_put,
	.blob_get = lmdb_blob_get,
	.blob_foreach = lmdb_blob_foreach,
	.commit_put = lmdb_commit_put,
	.commit_get = lmdb_commit_get,
	.commit_prefix = lmdb_commit_prefix,
	.commit_chain = lmdb_commit_chain,
	.commit_foreach = lmdb_commit_foreach,
	.commit_foreach_with_config = lmdb_commit_foreach_with_config,
	.parent_put = lmdb_parent_put,
	.parent_list = lmdb_parent_list,
	.parent_foreach = lmdb_parent_foreach,
	.ref_get = lmdb_ref_get,
	.ref_cas = lmdb_ref_cas,
	.ref_delete = lmdb_ref_delete,
	.ref_foreach = lmdb_ref_foreach,
	.annotation_put = lmdb_annotation_put,
	.annotation_list = lmdb_annotation_list,
	.annotation_foreach = lmdb_annotation_foreach,
	.compression_put = lmdb_compression_put,
	.compression_member_put = lmdb_compression_member_put,
	.compression_get = lmdb_compression_get,
	.compression_foreach = lmdb_compression_foreach,
	.compression_members = lmdb_compression_members,
	.spawn_put = lmdb_spawn_put,
	.spawn_foreach = lmdb_spawn_foreach,
	.spawn_by_child = lmdb_spawn_by_child,
	.meta_get = lmdb_meta_get,
	.meta_set = lmdb_meta_set,
	.meta_delete = lmdb_meta_delete,
	.meta_foreach = lmdb_meta_foreach,
	.tract_foreach = lmdb_tract_foreach,
	.commit_delete = lmdb_commit_delete,
	.blob_delete = lmdb_blob_delete,
	.annotation_delete_target = lmdb_annotation_delete_target,
	.compression_delete = lmdb_compression_delete,
	.spawn_delete = lmdb_spawn_delete,
};

__attribute__((visibility("default"))) const tract_backend *tract_backend_entry(void);

const tract_backend *tract_backend_entry(void)
{
	return &lmdb_backend;
}
