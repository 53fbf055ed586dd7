/*
 * lmdb_txn.c - transactions: beginning, committing and ending them, the
 * process-wide count of open ones, the replay log that makes MDB_MAP_FULL
 * invisible, the dispatch of write operations (first run and replay), and
 * iteration over key ranges that survives a rebuilt transaction.
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
 * thread. A writer waits for the one before it (the process-local role,
 * then the flock) for at most the handle's busy_timeout (5 s unless the
 * URI says otherwise, as SQLite), then fails with "store busy": a
 * stopped or hung writer must not block every other one for ever.
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
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmdb_internal.h"

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

void log_free(struct oplog *l)
{
	log_reset(l);
	free(l->chunks);
	free(l->ents);
	memset(l, 0, sizeof(*l));
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
	case OP_SEARCH_OPEN:
		return op_search_open(c, e);
	case OP_SEARCH_PUT:
		return op_search_put(c, e);
	}
	return fail(c, TRACT_EINVAL, "lmdb: unknown write operation %d", (int)e->op);
}

/* ---- transactions ------------------------------------------------------------------- */

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

/* Become the process's writer on this store (one handle at a time),
 * waiting at most until deadline. */
static int writer_enter(tract_backend_conn *c, const struct timespec *deadline)
{
	struct shared_env *se = c->se;
	int rc = 0;

	pthread_mutex_lock(&se->mu);
	if (se->writing && pthread_equal(se->writer, pthread_self())) {
		pthread_mutex_unlock(&se->mu);
		return fail(c, TRACT_ESTORAGE,
			    "lmdb: store busy: another handle of this thread holds its write "
			    "transaction (waiting would never end)");
	}
	while (se->writing && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&se->cv, &se->mu, deadline);
	if (se->writing) {
		pthread_mutex_unlock(&se->mu);
		return fail_busy(c);
	}
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
		if (rc == 0) {
			rc = check_size(c);
			if (rc == 0)
				return 0;
			if (c->txn == c->rtxn)
				mdb_txn_reset(c->rtxn);
			else
				mdb_txn_abort(c->txn);
			c->txn = NULL;
			active_leave(c);
			return rc;
		}
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

int begin_txn(tract_backend_conn *c, tract_txn_kind kind)
{
	int rc;

	if (kind == TRACT_TXN_WRITE) {
		/* One deadline for both locks: busy_timeout bounds the whole wait.
		 * LMDB's own writer mutex (in lock.mdb) is never waited for: every
		 * writer takes the flock first, so whoever holds the mutex holds
		 * the flock and the wait happens there. */
		struct timespec deadline;

		deadline_in(&deadline, c->busy_ms);
		rc = writer_enter(c, &deadline);
		if (rc < 0)
			return rc;
		rc = lock_writers(c->se, &deadline);
		if (rc) {
			writer_leave(c);
			if (rc == EWOULDBLOCK)
				return fail_busy(c);
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
void end_txn(tract_backend_conn *c)
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

int commit_txn(tract_backend_conn *c)
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
int enter(tract_backend_conn *c, tract_txn_kind kind, bool *own)
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

int leave(tract_backend_conn *c, bool own, int rc)
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
int run_write(tract_backend_conn *c, struct logent *e)
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
	if (!val_sane(it->c, k, true) || !val_sane(it->c, v, false))
		return fail_corrupt(it->c, db_names[it->db], "(its size runs past the file)");
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

int foreach_range(tract_backend_conn *c, enum db db, const void *prefix, size_t plen,
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

int collect_keys(tract_backend_conn *c, enum db db, const void *prefix, size_t plen,
		 struct keylist *l)
{
	memset(l, 0, sizeof(*l));
	return foreach_range(c, db, prefix, plen, collect_visit, l);
}

void keylist_free(struct keylist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->k[i].mv_data);
	free(l->k);
	memset(l, 0, sizeof(*l));
}
