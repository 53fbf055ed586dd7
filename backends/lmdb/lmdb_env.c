/*
 * lmdb_env.c - the environment of a store: the registry sharing one MDB_env
 * per directory and process, opening it (location, options, sub-databases,
 * format record), the writers' flock, resizing the map ("Map growth" in
 * lmdb_txn.c), and the handle's error messages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lmdb_internal.h"

/* The names of the sub-databases in the environment. */
const char *const db_names[N_DB] = {
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
	[DB_SEARCH_INFO] = "search_info",
	[DB_SEARCH_TEXT] = "search_text",
	[DB_SEARCH_TRI] = "search_tri",
};

/* The environments this process opened (struct shared_env). */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shared_env *registry;
static pid_t registry_pid;
/* Environments inherited through fork(): LMDB forbids using them in the
 * child, so they are kept (reachable) and never touched again. */
static struct shared_env *inherited;

/* ---- errors ----------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) int fail(tract_backend_conn *c, int code, const char *fmt,
					       ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return code;
}

int fail_oom(tract_backend_conn *c)
{
	return fail(c, TRACT_ENOMEM, "lmdb: out of memory");
}

/* The TRACT_E* code of an LMDB or errno failure. */
int code_of_mdb(int rc)
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
int fail_mdb(tract_backend_conn *c, int rc, const char *what)
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

int fail_corrupt(tract_backend_conn *c, const char *what, const char *key)
{
	return fail(c, TRACT_ECORRUPT, "lmdb: unreadable %s record%s%s", what, key ? " " : "",
		    key ? key : "");
}

int fail_key(tract_backend_conn *c, const char *what)
{
	return fail(c, TRACT_EINVAL, "lmdb: %s is too long for a key (at most %zu bytes in all)",
		    what, c->se ? c->se->max_key : (size_t)KEY_MAX);
}

/* ---- location and options ------------------------------------------------------------ */

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
	if (strcmp(name, "busy_timeout") == 0) {
		uint64_t ms;

		if (!parse_size(value, &ms) || ms > (uint64_t)MAX_BUSY_MS ||
		    strspn(value, "0123456789") != strlen(value)) {
			snprintf(err, errlen,
				 "lmdb: bad value '%s' for option busy_timeout (milliseconds, 0 "
				 "to 86400000)",
				 value);
			return TRACT_EINVAL;
		}
		o->busy_ms = (int64_t)ms;
		return 0;
	}
	snprintf(err, errlen, "lmdb: unknown option '%s' (known: sync, map_size, busy_timeout)",
		 name);
	return TRACT_EINVAL;
}

/* "DIR" or "DIR?name=value&name=value". */
int parse_location(const char *location, struct options *o, char *err, size_t errlen)
{
	const char *q = strchr(location, '?');
	char *opts, *save = NULL, *item;
	int rc = 0;

	memset(o, 0, sizeof(*o));
	o->sync = SYNC_FULL;
	o->busy_ms = DEFAULT_BUSY_MS;
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

/* *t = now + ms on the monotonic clock (the clock of se->cv). */
void deadline_in(struct timespec *t, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += (time_t)(ms / 1000);
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/* Milliseconds from now to t, 0 when past. */
static int64_t ms_until(const struct timespec *t)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000L;
	return ms > 0 ? ms : 0;
}

/*
 * Flock tract-write.lock, the writers' lock across processes, waiting at
 * most until deadline (EWOULDBLOCK then). flock() has no timed form and a
 * signal-based timeout would steal the host program's SIGALRM, so the
 * lock is polled, with pauses growing from 1 ms to 50 ms: a busy store
 * costs a few dozen wake-ups a second, an idle one nothing.
 */
int lock_writers(struct shared_env *se, const struct timespec *deadline)
{
	int64_t pause = 1, left;

	for (;;) {
		if (flock(se->lockfd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return errno;
		left = ms_until(deadline);
		if (left == 0)
			return EWOULDBLOCK;
		if (pause > left)
			pause = left;
		{
			struct timespec ts = {(time_t)(pause / 1000), (long)(pause % 1000) * 1000000L};

			nanosleep(&ts, NULL);
		}
		if (pause < 50)
			pause *= 2;
	}
}

int fail_busy(tract_backend_conn *c)
{
	return fail(c, TRACT_ESTORAGE,
		    "lmdb: database is locked (store busy: another writer holds it; waited %lld "
		    "ms)",
		    (long long)c->busy_ms);
}

void unlock_writers(struct shared_env *se)
{
	flock(se->lockfd, LOCK_UN);
}

/*
 * Refuse a data.mdb shorter than the pages the newest meta page says are
 * in use. LMDB maps the file and trusts it: a page past the end of a
 * truncated file (a copy cut short, a full disk, a careless tool) kills
 * the process with SIGBUS at the first read that reaches it, fsck
 * included. The meta pages themselves are read from the map, so a file
 * too short to hold them is refused before they are looked at. Called
 * at open and at the start of every transaction (a file can be cut
 * under a running process): an fstat and two reads of the meta page. A
 * file cut in the middle of a transaction can still fault: nothing
 * guards a read through a map short of a signal handler, which is the
 * host program's, not a plugin's.
 * The last page of the file is written by the commit that allocates it
 * (the data pages go out before the meta page names them), so a healthy
 * store always passes.
 */
int check_size(tract_backend_conn *c)
{
	struct shared_env *se = c->se;
	MDB_envinfo info;
	struct stat sb;
	uint64_t used;

	if (fstat(se->datafd, &sb) != 0)
		return fail(c, TRACT_ESTORAGE, "lmdb: cannot stat %s: %s", se->data_path,
			    strerror(errno));
	if ((uint64_t)sb.st_size < 2 * (uint64_t)se->psize)
		return fail(c, TRACT_ECORRUPT,
			    "lmdb: %s is truncated or corrupt: %lld bytes, too short for its "
			    "meta pages (the store cannot be read; restore it from a copy)",
			    se->data_path, (long long)sb.st_size);
	c->page_check = false;
	if (mdb_env_info(se->env, &info) != 0)
		return 0;
	used = ((uint64_t)info.me_last_pgno + 1) * se->psize;
	if ((uint64_t)sb.st_size < used)
		return fail(c, TRACT_ECORRUPT,
			    "lmdb: %s is truncated or corrupt: %lld bytes, but its meta page "
			    "says the store uses %llu (the store cannot be read; restore it "
			    "from a copy)",
			    se->data_path, (long long)sb.st_size, (unsigned long long)used);
	c->pages_used = (uint64_t)info.me_last_pgno + 1;
	c->page_check = c->txn && se->psize == (size_t)sysconf(_SC_PAGESIZE);
	c->map_lo = c->map_hi = 0;
	if (c->page_check && c->txn != c->rtxn) {
		/* A write transaction hands out values from the map and from its
		 * own copies of pages: only the first can be checked, so find
		 * the map (LMDB does not say where it is) from the page of the
		 * format record, which is in it until this transaction writes. */
		MDB_val k = {7, "format"}, v;
		uint64_t pgno;
		uintptr_t page;

		c->page_check = false;
		if (mdb_get(c->txn, se->dbi[DB_INFO], &k, &v) == 0) {
			page = (uintptr_t)v.mv_data / se->psize * se->psize;
			memcpy(&pgno, (const void *)page, 8);
			if (pgno < c->pages_used && page >= pgno * se->psize) {
				c->map_lo = page - pgno * se->psize;
				c->map_hi = c->map_lo + info.me_mapsize;
				c->page_check = true;
			}
		}
	}
	return 0;
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

	{
		struct timespec deadline;

		deadline_in(&deadline, c->busy_ms);
		rc = lock_writers(se, &deadline);
	}
	if (rc == EWOULDBLOCK)
		return fail_busy(c);
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
	free(se->data_path);
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
	se->datafd = -1;
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
	{
		MDB_stat mst;

		if (asprintf(&se->data_path, "%s/data.mdb", dir) < 0) {
			se->data_path = NULL;
			rc = fail_oom(c);
			goto fail;
		}
		/* mdb_env_open read the meta pages with read(), not through the
		 * map, and mdb_env_stat's page size comes from them. */
		rc = mdb_env_get_fd(se->env, &se->datafd);
		if (rc == 0)
			rc = mdb_env_stat(se->env, &mst);
		if (rc) {
			rc = fail(c, code_of_mdb(rc), "lmdb: cannot open %s: %s", dir,
				  mdb_strerror(rc));
			goto fail;
		}
		se->psize = mst.ms_psize;
		rc = check_size(c);
		if (rc < 0)
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
int env_acquire(tract_backend_conn *c, const char *dir, unsigned flags, const struct options *o)
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

void env_release(struct shared_env *se)
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

/* ---- the map --------------------------------------------------------------------------- */

/* Another transaction of this thread is open on se (mu held). */
bool thread_has_txn(struct shared_env *se, const tract_backend_conn *except)
{
	const tract_backend_conn *x;

	for (x = se->act_head; x; x = x->act_next)
		if (x != except && pthread_equal(x->thread, pthread_self()))
			return true;
	return false;
}

/*
 * Resize the map (size 0: adopt the size another process set). LMDB
 * requires that no transaction of the process is open: new ones wait,
 * open ones of other threads are waited for (a while), and one of this
 * very thread makes it fail, since it would never end.
 */
int remap(tract_backend_conn *c, size_t size)
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

int grow_map(tract_backend_conn *c)
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
void grow_ahead(tract_backend_conn *c)
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
