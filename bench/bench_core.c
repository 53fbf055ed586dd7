/*
 * bench_core.c - figures of the core on its storage backends, side by side
 * in one run: append rates (one transaction per commit, batched, and for
 * SQLite bare inserts of the same rows; for LMDB each sync mode), cold and
 * incremental compile, log and prefix resolution.
 * Prints one figure per line with its target; never asserts a timing.
 * Every store is fresh and on disk in a temporary directory ($TMPDIR or
 * /tmp; BENCH_KEEP=1 keeps it). "--backends sqlite,lmdb" picks the
 * backends (default: both when the lmdb plugin is found); an optional
 * argument runs one group only (append, compile, lookup, incremental),
 * which helps profiling.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "internal.h" /* the store's backend, for the bare chain walk */
#include "tract.h"

#define BENCH_NAME "bench_core"
#include "bench_util.h"

#define N_APPEND 20000
#define BATCH 1000
#define N_HIST_SMALL 10000
#define N_HIST_LARGE 100000
#define COLD_RUNS 5
#define N_INCR 1000
#define N_LOOKUP 1000

static void die_sql(sqlite3 *db, const char *what)
{
	fprintf(stderr, "bench_core: sqlite %s failed: %s\n", what,
		db ? sqlite3_errmsg(db) : "?");
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die_msg("out of memory");
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* 1234567 -> "1,234,567" */
static char *grouped(char *buf, size_t len, double v)
{
	char raw[64], *o = buf;
	long long n = (long long)(v + 0.5);
	size_t i, digits;
	int neg = n < 0;

	snprintf(raw, sizeof(raw), "%lld", neg ? -n : n);
	digits = strlen(raw);
	if (len < digits + digits / 3 + 2) {
		snprintf(buf, len, "?");
		return buf;
	}
	if (neg)
		*o++ = '-';
	for (i = 0; i < digits; i++) {
		if (i && (digits - i) % 3 == 0)
			*o++ = ',';
		*o++ = raw[i];
	}
	*o = '\0';
	return buf;
}

/* "23,450 commits/s" */
static const char *rate(char *buf, size_t len, double per_s)
{
	char n[48];

	snprintf(buf, len, "%s commits/s", grouped(n, sizeof(n), per_s));
	return buf;
}

/* A duration in ns as "812 ns", "23.4 µs" or "4.21 ms". */
static const char *duration(char *buf, size_t len, double ns)
{
	if (ns < 1000)
		snprintf(buf, len, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.1f µs", ns / 1e3);
	else
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	return buf;
}

static void line(const char *name, const char *value, const char *target)
{
	printf("  %-46s %18s   %s\n", name, value, target ? target : "");
	fflush(stdout);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentile (0..100) of n samples; sorts them. */
static double percentile(uint64_t *v, size_t n, double pct)
{
	size_t i;

	qsort(v, n, sizeof(*v), cmp_u64);
	i = (size_t)(pct / 100.0 * (double)(n - 1) + 0.5);
	return (double)v[i < n ? i : n - 1];
}

/* ---- workload ------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static const char *const words[] = {
	"the",       "context",  "model",     "should",   "we",        "could",    "function",
	"returns",   "error",    "when",      "input",    "is",        "empty",    "please",
	"explain",   "why",      "this",      "test",     "fails",     "on",       "linux",
	"database",  "query",    "index",     "latency",  "improve",   "a",        "of",
	"token",     "budget",   "summary",   "branch",   "merge",     "history",  "commit",
	"assistant", "user",     "answer",    "question", "memory",    "cache",    "file",
	"network",   "request",  "response",  "timeout",  "retry",     "value",    "list",
	"string",    "number",   "parse",     "format",   "output",    "example",  "also",
	"because",   "however",  "therefore", "which",    "that",      "with",     "from",
	"into",      "about",    "would",     "first",    "then",      "after",    "before",
	"library",   "compile",  "benchmark", "append",   "transaction", "storage", "backend",
};

/* A realistic turn: 100-300 bytes of words ending in a full stop. */
static char *make_text(void)
{
	static unsigned serial;
	size_t target = 100 + (size_t)(rng() % 201), len = 0;
	char *s = xmalloc(target + 32);
	int first = 1;

	while (len < target) {
		const char *w = words[rng() % (sizeof(words) / sizeof(words[0]))];
		size_t n = strlen(w);
		if (!first) {
			if (rng() % 11 == 0)
				s[len++] = ',';
			s[len++] = ' ';
		}
		memcpy(s + len, w, n);
		if (first)
			s[len] = (char)(s[len] - 'a' + 'A');
		len += n;
		first = 0;
	}
	/* Distinct texts: a serial number makes every blob unique. */
	len += (size_t)sprintf(s + len, " (%u).", serial++ % 1000000);
	s[len] = '\0';
	return s;
}

static char **make_texts(size_t n)
{
	char **t = xmalloc(n * sizeof(*t));
	size_t i;

	for (i = 0; i < n; i++)
		t[i] = make_text();
	return t;
}

static void free_texts(char **t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(t[i]);
	free(t);
}

static const char *role_of(size_t i)
{
	return i % 2 ? "assistant" : "user";
}

/* ---- stores --------------------------------------------------------------------- */

static char tmpdir[256];

static void store_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s.db", tmpdir, name);
}

/* The backends compared, in order ("sqlite", "lmdb"). */
static const char *backends[4];
static size_t n_backends;

/* The URI of store name on backend, with URI options (or NULL). */
static void store_uri(char *buf, size_t len, const char *backend, const char *name,
		      const char *opts)
{
	if (strcmp(backend, "lmdb") == 0)
		snprintf(buf, len, "lmdb:%s/%s.lmdb%s%s", tmpdir, name, opts ? "?" : "",
			 opts ? opts : "");
	else
		store_path(buf, len, name);
}

/* BENCH_KEEP=1 keeps the stores for inspection. */
static void cleanup(void)
{
	const char *keep = getenv("BENCH_KEEP");

	if (keep && *keep && strcmp(keep, "0") != 0)
		printf("stores kept in %s\n", tmpdir);
	else if (tmpdir[0])
		rm_tree(tmpdir);
}

/* Open (creating) a store and a new tract. */
static void open_new_uri(tract_store **s, tract **t, const char *uri, size_t cache)
{
	tract_open_options o = TRACT_OPEN_OPTIONS_INIT;

	o.compile_cache_size = cache;
	CHECK(tract_store_open(s, uri, TRACT_STORE_CREATE));
	CHECK(tract_create(t, *s, NULL, NULL, &o));
}

/* The same for an SQLite store named name (the bare inserts' schema). */
static void open_new(tract_store **s, tract **t, const char *name, size_t cache)
{
	char path[512];

	store_path(path, sizeof(path), name);
	open_new_uri(s, t, path, cache);
}

static void open_existing_uri(tract_store **s, tract **t, const char *uri)
{
	CHECK(tract_store_open(s, uri, 0));
	CHECK(tract_open(t, *s, NULL, NULL));
}

static void open_existing(tract_store **s, tract **t, const char *name)
{
	char path[512];

	store_path(path, sizeof(path), name);
	open_existing_uri(s, t, path);
}

static void append_one(tract *t, size_t i, const char *text, char hash_out[65])
{
	tract_commit *c = NULL;

	CHECK(tract_commit_create_dialogue(hash_out ? &c : NULL, t, role_of(i), text, NULL, NULL));
	if (hash_out) {
		memcpy(hash_out, tract_commit_hash(c), 65);
		tract_commit_free(c);
	}
}

/* Build a history of n messages with batches of BATCH; hashes (may be
 * NULL) receives n * 65 bytes. Returns the elapsed ns. */
static uint64_t build_history(tract *t, char **texts, size_t ntexts, size_t n, char *hashes)
{
	uint64_t t0 = now_ns();
	size_t i;

	CHECK(tract_batch_begin(t));
	for (i = 0; i < n; i++) {
		append_one(t, i, texts[i % ntexts], hashes ? hashes + i * 65 : NULL);
		if ((i + 1) % BATCH == 0) {
			CHECK(tract_batch_commit(t));
			if (i + 1 < n)
				CHECK(tract_batch_begin(t));
		}
	}
	if (n % BATCH)
		CHECK(tract_batch_commit(t));
	return now_ns() - t0;
}

/* ---- 1-3. appends: tract and bare SQLite, interleaved ---------------------------- */

/*
 * The four append workloads (tract and bare, one transaction per commit
 * and batched) run interleaved in chunks of CHUNK commits, so that
 * background load on the machine hits all of them alike and the ratios
 * stay meaningful. Each runs on its own fresh store.
 */
#define CHUNK 1000

typedef struct {
	tract_store *s;
	tract *t;
	int batched;
	size_t per_chunk; /* commits appended per chunk (the slow durable runs do fewer) */
	size_t n;         /* commits appended */
	uint64_t ns;
} tract_appender;

static void tract_appender_open_uri(tract_appender *a, const char *uri, int batched,
				    size_t per_chunk)
{
	memset(a, 0, sizeof(*a));
	open_new_uri(&a->s, &a->t, uri, 8);
	a->batched = batched;
	a->per_chunk = per_chunk;
}

static void tract_appender_open(tract_appender *a, const char *name, int batched)
{
	char path[512];

	store_path(path, sizeof(path), name);
	tract_appender_open_uri(a, path, batched, CHUNK);
}

static void tract_appender_run(tract_appender *a, char **texts, size_t from, size_t to)
{
	uint64_t t0 = now_ns();
	size_t i;

	if (to - from > a->per_chunk)
		to = from + a->per_chunk;
	if (a->batched)
		CHECK(tract_batch_begin(a->t));
	for (i = from; i < to; i++)
		append_one(a->t, i, texts[i], NULL);
	if (a->batched)
		CHECK(tract_batch_commit(a->t));
	a->ns += now_ns() - t0;
	a->n += to - from;
}

static double appender_rate(const tract_appender *a)
{
	return (double)a->n / (a->ns / 1e9);
}

static void tract_appender_close(tract_appender *a)
{
	tract_free(a->t);
	tract_store_free(a->s);
}

/*
 * The rows tract would write for the same turns, inserted with sqlite3
 * directly: per transaction a blob insert-or-ignore, a commit insert and
 * the branch ref update (the backend's compare-and-swap statement), on the
 * schema tract created. Payloads and content hashes come from
 * tract_content_normalize, commit hashes are SHA-256 of distinct strings,
 * times are preformatted; all computed before timing.
 */
typedef struct {
	char *payload;
	char content_hash[65];
	char commit_hash[65];
	char created_at[64];
	int64_t tokens;
} bare_row;

typedef struct {
	char name[32];
	sqlite3 *db;
	sqlite3_stmt *blob, *commit, *ref, *begin, *end;
	bare_row *rows;
	char id[65], root[65];
	size_t per_txn;
	uint64_t ns;
} bare_appender;

static void sha256_hex(char out[65], const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32)
		die_msg("SHA-256 failed");
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

static void format_time(char *buf, size_t len, tract_time us)
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%06d", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		die_sql(db, sql);
	return st;
}

static void step_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		die_sql(db, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static void exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "bench_core: sqlite %s failed: %s\n", sql, err ? err : "?");
		exit(1);
	}
}

static void bare_open(bare_appender *a, const char *name, char **texts, size_t per_txn)
{
	tract_store *s;
	tract *t;
	char path[512], seed[512];
	tract_time base = tract_time_now();
	size_t i;

	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->per_txn = per_txn;
	a->rows = xmalloc(N_APPEND * sizeof(*a->rows));
	/* The schema, a tract and its first commit (so HEAD and the branch
	 * exist), made by tract itself. */
	open_new(&s, &t, name, 8);
	append_one(t, 0, "Root of the bare insert history.", a->root);
	memcpy(a->id, tract_id(t), 65);
	for (i = 0; i < N_APPEND; i++) {
		bare_row *r = &a->rows[i];
		cJSON *o = cJSON_CreateObject();
		char *in;

		if (!o || !cJSON_AddStringToObject(o, "content_type", "dialogue") ||
		    !cJSON_AddStringToObject(o, "role", role_of(i)) ||
		    !cJSON_AddStringToObject(o, "text", texts[i]))
			die_msg("out of memory");
		in = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		if (!in)
			die_msg("out of memory");
		CHECK(tract_content_normalize(&r->payload, r->content_hash, t, in));
		free(in);
		snprintf(seed, sizeof(seed), "%s:%s:%zu", a->id, r->content_hash, i);
		sha256_hex(r->commit_hash, seed, strlen(seed));
		format_time(r->created_at, sizeof(r->created_at), base + (tract_time)i);
		r->tokens = ((int64_t)strlen(texts[i]) + 3) / 4;
	}
	tract_free(t);
	tract_store_free(s);

	store_path(path, sizeof(path), name);
	if (sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		die_sql(a->db, "open");
	/* What the backend sets on its connections. */
	exec(a->db, "PRAGMA busy_timeout=5000");
	exec(a->db, "PRAGMA journal_mode=WAL");
	exec(a->db, "PRAGMA synchronous=NORMAL");
	exec(a->db, "PRAGMA foreign_keys=ON");
	exec(a->db, "PRAGMA cache_size=-65536");
	exec(a->db, "PRAGMA mmap_size=268435456");
	exec(a->db, "PRAGMA temp_store=MEMORY");
	exec(a->db, "PRAGMA wal_autocheckpoint=10000");
	exec(a->db, "PRAGMA journal_size_limit=67108864");
	a->blob = prep(a->db, "INSERT INTO blobs (content_hash, payload_json, byte_size, "
			      "token_count, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
			      "ON CONFLICT (content_hash) DO NOTHING");
	a->commit = prep(a->db, "INSERT INTO commits (commit_hash, tract_id, parent_hash, "
				"content_hash, content_type, operation, response_to, message, "
				"token_count, metadata_json, generation_config_json, created_at) "
				"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
	a->ref = prep(a->db, "UPDATE refs SET commit_hash = ?3, symbolic_target = ?4 "
			     "WHERE tract_id = ?1 AND ref_name = ?2 AND commit_hash IS ?5 "
			     "AND symbolic_target IS ?6");
	a->begin = prep(a->db, "BEGIN IMMEDIATE");
	a->end = prep(a->db, "COMMIT");
}

static void bare_run(bare_appender *a, size_t from, size_t to)
{
	sqlite3 *db = a->db;
	uint64_t t0 = now_ns();
	size_t i;

	for (i = from; i < to; i++) {
		bare_row *r = &a->rows[i];
		const char *parent = i ? a->rows[i - 1].commit_hash : a->root;

		if ((i - from) % a->per_txn == 0)
			step_done(db, a->begin, "BEGIN");
		sqlite3_bind_text(a->blob, 1, r->content_hash, 64, SQLITE_STATIC);
		sqlite3_bind_text(a->blob, 2, r->payload, -1, SQLITE_STATIC);
		sqlite3_bind_int64(a->blob, 3, (sqlite3_int64)strlen(r->payload));
		sqlite3_bind_int64(a->blob, 4, r->tokens);
		sqlite3_bind_text(a->blob, 5, r->created_at, -1, SQLITE_STATIC);
		step_done(db, a->blob, "blob insert");

		sqlite3_bind_text(a->commit, 1, r->commit_hash, 64, SQLITE_STATIC);
		sqlite3_bind_text(a->commit, 2, a->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(a->commit, 3, parent, 64, SQLITE_STATIC);
		sqlite3_bind_text(a->commit, 4, r->content_hash, 64, SQLITE_STATIC);
		sqlite3_bind_text(a->commit, 5, "dialogue", -1, SQLITE_STATIC);
		sqlite3_bind_text(a->commit, 6, "append", -1, SQLITE_STATIC);
		sqlite3_bind_null(a->commit, 7);
		sqlite3_bind_null(a->commit, 8);
		sqlite3_bind_int64(a->commit, 9, r->tokens);
		sqlite3_bind_text(a->commit, 10, "null", -1, SQLITE_STATIC);
		sqlite3_bind_text(a->commit, 11, "null", -1, SQLITE_STATIC);
		sqlite3_bind_text(a->commit, 12, r->created_at, -1, SQLITE_STATIC);
		step_done(db, a->commit, "commit insert");

		sqlite3_bind_text(a->ref, 1, a->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(a->ref, 2, "refs/heads/main", -1, SQLITE_STATIC);
		sqlite3_bind_text(a->ref, 3, r->commit_hash, 64, SQLITE_STATIC);
		sqlite3_bind_null(a->ref, 4);
		sqlite3_bind_text(a->ref, 5, parent, 64, SQLITE_STATIC);
		sqlite3_bind_null(a->ref, 6);
		step_done(db, a->ref, "ref update");
		if (sqlite3_changes(db) != 1)
			die_msg("bare ref update matched %d rows", sqlite3_changes(db));

		if ((i - from + 1) % a->per_txn == 0 || i + 1 == to)
			step_done(db, a->end, "COMMIT");
	}
	a->ns += now_ns() - t0;
}

static void bare_close(bare_appender *a)
{
	tract_store *s;
	tract *t;
	char got[65];
	size_t i;

	sqlite3_finalize(a->blob);
	sqlite3_finalize(a->commit);
	sqlite3_finalize(a->ref);
	sqlite3_finalize(a->begin);
	sqlite3_finalize(a->end);
	if (sqlite3_close(a->db) != SQLITE_OK)
		die_sql(a->db, "close");
	/* The store must still be a valid tract history. */
	open_existing(&s, &t, a->name);
	CHECK(tract_head_get(got, NULL, NULL, t));
	if (strcmp(got, a->rows[N_APPEND - 1].commit_hash) != 0)
		die_msg("bare head %s, expected %s", got, a->rows[N_APPEND - 1].commit_hash);
	tract_free(t);
	tract_store_free(s);
	for (i = 0; i < N_APPEND; i++)
		tract_string_free(a->rows[i].payload);
	free(a->rows);
}

static int has_backend(const char *name)
{
	size_t i;

	for (i = 0; i < n_backends; i++)
		if (strcmp(backends[i], name) == 0)
			return 1;
	return 0;
}

/* The LMDB runs: one transaction per commit in each sync mode, and batched. */
enum { LM_SYNC0, LM_DATA, LM_FULL, LM_BATCH, N_LM };

static const struct {
	const char *label, *opts, *target;
	int batched;
	size_t per_chunk;
} lmdb_runs[N_LM] = {
	[LM_SYNC0] = {"lmdb append (txn per commit, sync=0)", "sync=0",
		      "no fsync; target: 2x sqlite", 0, CHUNK},
	[LM_DATA] = {"lmdb append (txn per commit, sync=data)", "sync=data",
		     "fsync of the data", 0, CHUNK / 4},
	[LM_FULL] = {"lmdb append (txn per commit, sync=1)", NULL,
		     "durable (default); target: 2x sqlite", 0, CHUNK / 4},
	[LM_BATCH] = {"lmdb append (batch of 1,000, sync=1)", NULL, "no stated target", 1, CHUNK},
};

/* What one fdatasync of a rewritten 4 KiB page costs in tmpdir: the floor
 * of a durable commit (LMDB's sync=1 does two per commit). */
static double fdatasync_ns(void)
{
	char path[512], page[4096];
	uint64_t *ns = xmalloc(64 * sizeof(*ns));
	double med;
	int fd, i;

	memset(page, 'x', sizeof(page));
	snprintf(path, sizeof(path), "%s/fsync-probe", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die_msg("open %s: %s", path, strerror(errno));
	for (i = 0; i < 64; i++) {
		uint64_t t0 = now_ns();
		if (pwrite(fd, page, sizeof(page), (off_t)(i % 8) * 4096) !=
			    (ssize_t)sizeof(page) ||
		    fdatasync(fd) != 0)
			die_msg("fdatasync probe: %s", strerror(errno));
		ns[i] = now_ns() - t0;
	}
	close(fd);
	unlink(path);
	med = percentile(ns, 64, 50);
	free(ns);
	return med;
}

static void bench_append(char **texts)
{
	tract_appender txn, batch, lm[N_LM];
	bare_appender bare_txn, bare_batch;
	double r_txn = 0, r_batch = 0, r_bare_txn, r_bare_batch;
	int sq = has_backend("sqlite"), lmdb = has_backend("lmdb");
	char buf[64], uri[512], name[32];
	size_t from, k;

	if (sq) {
		tract_appender_open(&txn, "append_txn", 0);
		tract_appender_open(&batch, "append_batch", 1);
		bare_open(&bare_txn, "bare_txn", texts, 1);
		bare_open(&bare_batch, "bare_batch", texts, BATCH);
	}
	for (k = 0; lmdb && k < N_LM; k++) {
		snprintf(name, sizeof(name), "lmdb_append_%zu", k);
		store_uri(uri, sizeof(uri), "lmdb", name, lmdb_runs[k].opts);
		tract_appender_open_uri(&lm[k], uri, lmdb_runs[k].batched, lmdb_runs[k].per_chunk);
	}
	for (from = 0; from < N_APPEND; from += CHUNK) {
		size_t to = from + CHUNK < N_APPEND ? from + CHUNK : N_APPEND;
		if (sq) {
			tract_appender_run(&txn, texts, from, to);
			bare_run(&bare_txn, from, to);
			tract_appender_run(&batch, texts, from, to);
			bare_run(&bare_batch, from, to);
		}
		for (k = 0; lmdb && k < N_LM; k++)
			tract_appender_run(&lm[k], texts, from, to);
	}
	if (sq) {
		tract_appender_close(&txn);
		tract_appender_close(&batch);
		bare_close(&bare_txn);
		bare_close(&bare_batch);

		r_txn = appender_rate(&txn);
		r_batch = appender_rate(&batch);
		r_bare_txn = N_APPEND / (bare_txn.ns / 1e9);
		r_bare_batch = N_APPEND / (bare_batch.ns / 1e9);
		line("sqlite append (txn per commit)", rate(buf, sizeof(buf), r_txn),
		     "target >= 20,000");
		line("sqlite append (batch of 1,000)", rate(buf, sizeof(buf), r_batch),
		     "no stated target");
		line("bare sqlite3 (txn per commit)", rate(buf, sizeof(buf), r_bare_txn),
		     "baseline");
		snprintf(buf, sizeof(buf), "%.2f", r_txn / r_bare_txn);
		line("ratio tract/bare (txn per commit)", buf,
		     "target >= 0.50 (within 2x of bare)");
		line("bare sqlite3 (batch of 1,000)", rate(buf, sizeof(buf), r_bare_batch),
		     "baseline");
		snprintf(buf, sizeof(buf), "%.2f", r_batch / r_bare_batch);
		line("ratio tract/bare (batch of 1,000)", buf, "no stated target");
	}
	if (!lmdb)
		return;
	for (k = 0; k < N_LM; k++) {
		tract_appender_close(&lm[k]);
		line(lmdb_runs[k].label, rate(buf, sizeof(buf), appender_rate(&lm[k])),
		     lmdb_runs[k].target);
	}
	line("(sync=1 and sync=data append 250 of each 1,000)", "", NULL);
	line("fdatasync of a 4 KiB page (median of 64)", duration(buf, sizeof(buf), fdatasync_ns()),
	     "the floor of one durable commit");
	if (sq) {
		snprintf(buf, sizeof(buf), "%.2f", appender_rate(&lm[LM_FULL]) / r_txn);
		line("ratio lmdb/sqlite append (txn, lmdb sync=1)", buf,
		     "target >= 2 (sqlite: synchronous=NORMAL)");
		snprintf(buf, sizeof(buf), "%.2f", appender_rate(&lm[LM_DATA]) / r_txn);
		line("ratio lmdb/sqlite append (txn, lmdb sync=data)", buf, NULL);
		snprintf(buf, sizeof(buf), "%.2f", appender_rate(&lm[LM_SYNC0]) / r_txn);
		line("ratio lmdb/sqlite append (txn, lmdb sync=0)", buf, NULL);
		snprintf(buf, sizeof(buf), "%.2f", appender_rate(&lm[LM_BATCH]) / r_batch);
		line("ratio lmdb/sqlite append (batch of 1,000)", buf, NULL);
	}
}

/* ---- 4. cold compile ------------------------------------------------------------- */

static int count_row(const tract_chain_row *row, void *payload)
{
	size_t *n = payload;

	*n += row->payload_json != NULL;
	return 0;
}

/* The backend's share of a cold compile: the chain walk with every extra,
 * on a fresh handle, rows only counted. */
static double bench_chain_walk(const char *uri)
{
	uint64_t ns[COLD_RUNS];
	char head[65];
	size_t n = 0;
	int i;

	for (i = 0; i < COLD_RUNS; i++) {
		tract_store *s;
		tract *t;
		uint64_t t0;

		open_existing_uri(&s, &t, uri);
		CHECK(tract_head_get(head, NULL, NULL, t));
		n = 0;
		t0 = now_ns();
		if (s->be->begin(s->conn, TRACT_TXN_READ) < 0 ||
		    s->be->commit_chain(s->conn, tract_id(t), head, 0,
					TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS |
						TRACT_CHAIN_PRIORITY,
					INT64_MAX, count_row, &n) < 0 ||
		    s->be->commit(s->conn) < 0)
			die_msg("chain walk: %s", s->be->last_error(s->conn));
		ns[i] = now_ns() - t0;
		tract_free(t);
		tract_store_free(s);
	}
	if (n != N_HIST_SMALL)
		die_msg("chain walk gave %zu rows with payloads, expected %d", n, N_HIST_SMALL);
	return percentile(ns, COLD_RUNS, 0);
}

static void bench_cold_compile(const char *uri)
{
	uint64_t ns[COLD_RUNS];
	char buf[64], target[64], source[64] = "";
	int64_t tokens = 0;
	size_t count = 0;
	int i;

	for (i = 0; i < COLD_RUNS; i++) {
		tract_store *s;
		tract *t;
		tract_context *ctx;
		uint64_t t0;

		open_existing_uri(&s, &t, uri);
		t0 = now_ns();
		CHECK(tract_context_compile(&ctx, t, NULL));
		ns[i] = now_ns() - t0;
		count = tract_context_count(ctx);
		tokens = tract_context_token_count(ctx);
		snprintf(source, sizeof(source), "%s", tract_context_token_source(ctx));
		tract_context_free(ctx);
		tract_free(t);
		tract_store_free(s);
	}
	if (count != N_HIST_SMALL)
		die_msg("cold compile gave %zu messages, expected %d", count, N_HIST_SMALL);
	snprintf(target, sizeof(target), "target <= %s",
		 strncmp(uri, "lmdb:", 5) == 0 ? "5 ms (lmdb)" : "20 ms");
	line("cold compile 10k msgs (min of 5)", duration(buf, sizeof(buf),
							  percentile(ns, COLD_RUNS, 0)),
	     target);
	line("cold compile 10k msgs (median of 5)",
	     duration(buf, sizeof(buf), percentile(ns, COLD_RUNS, 50)), target);
	snprintf(target, sizeof(target), "token_source \"%s\"", source);
	line("compiled token count", grouped(buf, sizeof(buf), (double)tokens), target);
	line("compiled messages", grouped(buf, sizeof(buf), (double)count), NULL);
	line("backend chain walk alone (min of 5)",
	     duration(buf, sizeof(buf), bench_chain_walk(uri)),
	     "the backend's share of the compile");
}

/* ---- 5. incremental compile ------------------------------------------------------ */

static void bench_incremental(const char *uri, char **texts)
{
	uint64_t *ns = xmalloc(N_INCR * sizeof(*ns));
	tract_store *s;
	tract *t;
	tract_context *ctx;
	size_t i, before;
	char buf[64];

	open_existing_uri(&s, &t, uri);
	for (i = 0; i < N_INCR; i++) {
		uint64_t t0;

		CHECK(tract_context_compile(&ctx, t, NULL));
		before = tract_context_count(ctx);
		tract_context_free(ctx);
		append_one(t, i, texts[i], NULL);
		t0 = now_ns();
		CHECK(tract_context_compile(&ctx, t, NULL));
		ns[i] = now_ns() - t0;
		if (tract_context_count(ctx) != before + 1)
			die_msg("incremental compile gave %zu messages, expected %zu",
				tract_context_count(ctx), before + 1);
		tract_context_free(ctx);
	}
	tract_free(t);
	tract_store_free(s);
	line("incremental compile (median)", duration(buf, sizeof(buf), percentile(ns, N_INCR, 50)),
	     "target <= 100 µs");
	line("incremental compile (p99)", duration(buf, sizeof(buf), percentile(ns, N_INCR, 99)),
	     "target <= 100 µs");
	free(ns);
}

/* ---- 6. log and resolve ---------------------------------------------------------- */

typedef struct {
	double log_med, log_p99, res_med, res_p99;
} lookup_figures;

static lookup_figures bench_lookups(const char *uri, const char *hashes, size_t n)
{
	uint64_t *ns = xmalloc(N_LOOKUP * sizeof(*ns));
	lookup_figures f;
	tract_store *s;
	tract *t;
	tract_log_options lo = TRACT_LOG_OPTIONS_INIT;
	size_t i;

	lo.limit = 20;
	open_existing_uri(&s, &t, uri);
	for (i = 0; i < N_LOOKUP; i++) {
		tract_commit_list *l = NULL;
		uint64_t t0 = now_ns();

		CHECK(tract_log_list(&l, t, &lo));
		ns[i] = now_ns() - t0;
		if (l->count != 20)
			die_msg("log -n 20 returned %zu commits", l->count);
		tract_commit_list_free(l);
	}
	f.log_med = percentile(ns, N_LOOKUP, 50);
	f.log_p99 = percentile(ns, N_LOOKUP, 99);
	for (i = 0; i < N_LOOKUP; i++) {
		const char *full = hashes + (rng() % n) * 65;
		char prefix[9], out[65];
		uint64_t t0;
		int rc;

		memcpy(prefix, full, 8);
		prefix[8] = '\0';
		t0 = now_ns();
		rc = tract_revision_resolve(out, t, prefix);
		ns[i] = now_ns() - t0;
		if (rc == TRACT_EAMBIGUOUS) {
			i--; /* a 32-bit prefix shared by two commits: draw again */
			continue;
		}
		if (rc < 0)
			die("tract_revision_resolve");
		if (strcmp(out, full) != 0)
			die_msg("resolve %s gave %s, expected %s", prefix, out, full);
	}
	f.res_med = percentile(ns, N_LOOKUP, 50);
	f.res_p99 = percentile(ns, N_LOOKUP, 99);
	tract_free(t);
	tract_store_free(s);
	free(ns);
	return f;
}

static void print_lookups(const char *label, const lookup_figures *f, const char *log_target)
{
	char name[64], buf[64];

	snprintf(name, sizeof(name), "log -n 20, %s (median)", label);
	line(name, duration(buf, sizeof(buf), f->log_med), log_target);
	snprintf(name, sizeof(name), "log -n 20, %s (p99)", label);
	line(name, duration(buf, sizeof(buf), f->log_p99), NULL);
	snprintf(name, sizeof(name), "resolve 8-hex prefix, %s (median)", label);
	line(name, duration(buf, sizeof(buf), f->res_med), "no stated target; flat expected");
	snprintf(name, sizeof(name), "resolve 8-hex prefix, %s (p99)", label);
	line(name, duration(buf, sizeof(buf), f->res_p99), NULL);
}

/* ---- main ------------------------------------------------------------------------- */

static void print_machine(void)
{
	char l[512], model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	while (f && fgets(l, sizeof(l), f)) {
		char *colon = strchr(l, ':');
		if (strncmp(l, "model name", 10) == 0 && colon) {
			snprintf(model, sizeof(model), "%s", colon + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	printf("tract %s bench_core\n", tract_version());
	printf("  cpu      %s (%ld online)\n", model, cpus);
	printf("  sqlite   %s (bench link); store: file, WAL, synchronous=NORMAL\n",
	       sqlite3_libversion());
	if (has_backend("lmdb"))
		printf("  lmdb     store: a directory; sync=1 (fdatasync data, then meta) unless "
		       "noted\n");
	f = fopen("/proc/loadavg", "r");
	if (f && fgets(l, sizeof(l), f)) {
		l[strcspn(l, "\n")] = '\0';
		printf("  loadavg  %s (other work on the machine skews the figures)\n", l);
	}
	if (f)
		fclose(f);
	printf("  tmpdir   %s\n", tmpdir);
}

static void section(const char *title)
{
	printf("\n%s\n", title);
	fflush(stdout);
}

/* Optional argument: run one group only (for profiling). */
static const char *only;

static int want(const char *group)
{
	return !only || strcmp(only, group) == 0;
}

static void build_store(const char *uri, char **texts, size_t n, char *hashes, uint64_t *ns)
{
	tract_store *s;
	tract *t;
	uint64_t took;

	/* No compile cache: appends then skip deriving snapshots, which
	 * keeps the setup short. */
	open_new_uri(&s, &t, uri, 0);
	took = build_history(t, texts, N_APPEND, n, hashes);
	if (ns)
		*ns = took;
	tract_free(t);
	tract_store_free(s);
}

/* The lmdb plugin is on the plugin path. */
static int lmdb_available(void)
{
	tract_plugin_info_list *list = NULL;
	size_t i;
	int found = 0;

	if (tract_plugin_list(&list) < 0)
		return 0;
	for (i = 0; i < list->count; i++)
		if (list->items[i].kind == TRACT_PLUGIN_BACKEND &&
		    strcmp(list->items[i].name, "lmdb") == 0 && !list->items[i].error)
			found = 1;
	tract_plugin_info_list_free(list);
	return found;
}

/* "sqlite,lmdb" */
static void parse_backends(const char *list)
{
	static char copy[128];
	char *save = NULL, *b;

	snprintf(copy, sizeof(copy), "%s", list);
	n_backends = 0;
	for (b = strtok_r(copy, ",", &save); b; b = strtok_r(NULL, ",", &save)) {
		if (strcmp(b, "sqlite") != 0 && strcmp(b, "lmdb") != 0)
			die_msg("unknown backend '%s' (sqlite, lmdb)", b);
		if (n_backends == sizeof(backends) / sizeof(backends[0]))
			die_msg("too many backends in '%s'", list);
		if (!has_backend(b))
			backends[n_backends++] = b;
	}
	if (!n_backends)
		die_msg("no backend in '%s'", list);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_core [--backends sqlite,lmdb] "
		   "[append|compile|lookup|incremental]\n");
}

int main(int argc, char **argv)
{
	static const char *const groups[] = {"append", "compile", "lookup", "incremental"};
	char **texts;
	char *hashes_small, *hashes_large;
	char buf[64], uri_small[512], uri_large[512], label[128];
	uint64_t build_ns, total0 = now_ns();
	const char *base = getenv("TMPDIR");
	size_t i, b;
	int a;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[a], "--backends") == 0 && a + 1 < argc) {
			parse_backends(argv[++a]);
		} else if (strncmp(argv[a], "--backends=", 11) == 0) {
			parse_backends(argv[a] + 11);
		} else if (argv[a][0] != '-' && !only) {
			only = argv[a];
			for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
				if (strcmp(only, groups[i]) == 0)
					break;
			if (i == sizeof(groups) / sizeof(groups[0]))
				die_msg("unknown group '%s' (append, compile, lookup, incremental)",
					only);
		} else {
			usage(stderr);
			return 2;
		}
	}
#ifdef BENCH_PLUGIN_PATH
	/* The library finds the plugin in the build tree by itself; this only
	 * helps when the benchmark runs from elsewhere. */
	if (!getenv("TRACT_PLUGIN_PATH"))
		setenv("TRACT_PLUGIN_PATH", BENCH_PLUGIN_PATH, 1);
#endif
	if (!n_backends)
		parse_backends(lmdb_available() ? "sqlite,lmdb" : "sqlite");
	snprintf(tmpdir, sizeof(tmpdir), "%s/tract-bench-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir))
		die_msg("mkdtemp: %s", strerror(errno));
	atexit(cleanup);
	print_machine();
	texts = make_texts(N_APPEND);

	if (want("append")) {
		section("append (20,000 dialogue turns, 100-300 byte texts; all runs "
			"interleaved in chunks of 1,000)");
		bench_append(texts);
	}

	hashes_small = xmalloc((size_t)N_HIST_SMALL * 65);
	hashes_large = xmalloc((size_t)N_HIST_LARGE * 65);
	for (b = 0; b < n_backends; b++) {
		const char *be = backends[b];
		int lm = strcmp(be, "lmdb") == 0;

		store_uri(uri_small, sizeof(uri_small), be, "hist10k", NULL);
		store_uri(uri_large, sizeof(uri_large), be, "hist100k", NULL);
		if (want("compile") || want("lookup") || want("incremental"))
			build_store(uri_small, texts, N_HIST_SMALL, hashes_small, NULL);

		if (want("compile")) {
			snprintf(label, sizeof(label), "%s: compile (10,000-message history)", be);
			section(label);
			bench_cold_compile(uri_small);
		}

		if (want("lookup")) {
			lookup_figures small, large;
			const char *log_target =
				lm ? "target <= 100 µs at 100k (lmdb)" : "target <= 1 ms, flat";

			snprintf(label, sizeof(label),
				 "%s: log and resolve (median of 1,000 calls)", be);
			section(label);
			small = bench_lookups(uri_small, hashes_small, N_HIST_SMALL);
			print_lookups("10k", &small, log_target);
			build_store(uri_large, texts, N_HIST_LARGE, hashes_large, &build_ns);
			large = bench_lookups(uri_large, hashes_large, N_HIST_LARGE);
			print_lookups("100k", &large, log_target);
			snprintf(buf, sizeof(buf), "%.2fx", large.log_med / small.log_med);
			line("log 100k / 10k", buf, "flat = about 1x");
			snprintf(buf, sizeof(buf), "%.2fx", large.res_med / small.res_med);
			line("resolve 100k / 10k", buf, "flat = about 1x");
			line("(build of 100k, batched, no cache)",
			     rate(buf, sizeof(buf), N_HIST_LARGE / (build_ns / 1e9)),
			     "setup, for reference");
		}

		if (want("incremental")) {
			snprintf(label, sizeof(label),
				 "%s: incremental compile (10k history, 1,000 x "
				 "compile/append/compile)",
				 be);
			section(label);
			bench_incremental(uri_small, texts);
		}
	}

	printf("\ntotal run %.1f s\n", (now_ns() - total0) / 1e9);
	free(hashes_small);
	free(hashes_large);
	free_texts(texts, N_APPEND);
	return 0;
}
