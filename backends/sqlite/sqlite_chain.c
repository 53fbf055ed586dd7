/*
 * sqlite_chain.c - the SQLite backend's chain walk (commit_chain): a
 * recursive CTE that streams first parents newest first, and for a long
 * walk of one tract the switch to a scan of the tract's rows in rowid
 * order, with payloads, annotations and merge parents from side tables.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ancestry.h"
#include "parents.h"
#include "sqlite_internal.h"

/*
 * The chain walk: one recursive CTE per combination of TRACT_CHAIN_*
 * flags, assembled from these fixed fragments. ?1 head, ?2 tract (NULL:
 * any), ?3 row limit (0: none), ?4 annotation cutoff (NULL: none).
 *
 * The CTE carries only rowids (cheaper than whole rows) and runs as a
 * co-routine, so rows stream to the callback as they are found and an
 * early stop saves the rest of the walk. Each step joins
 * on the primary key, so the queue never holds more than one row and rows
 * come out newest first by construction; walk_chain() checks the depth
 * column rather than paying for an ORDER BY that would materialize every
 * payload. Without a limit the walk is bounded by max(rowid) of commits
 * (>= the number of commits), so a corrupt parent cycle ends. The last
 * column, the row's rowid, serves the switch to the tract scan
 * (sqlite_commit_chain).
 */
#define N_CHAIN_VARIANTS 8
static const char chain_head_sql[] =
	"WITH RECURSIVE chain(depth, rid, parent_hash) AS ("
	"SELECT 0, rowid, parent_hash FROM commits "
	"WHERE commit_hash = ?1 AND (?2 IS NULL OR tract_id = ?2) "
	"UNION ALL "
	"SELECT chain.depth + 1, c.rowid, c.parent_hash "
	"FROM chain JOIN commits AS c ON c.commit_hash = chain.parent_hash "
	"WHERE (?2 IS NULL OR c.tract_id = ?2) "
	"LIMIT CASE WHEN ?3 > 0 THEN ?3 "
	"ELSE coalesce((SELECT max(rowid) FROM commits), 0) END) "
	"SELECT c.commit_hash, c.tract_id, c.parent_hash, c.content_hash, c.content_type, "
	"c.operation, c.response_to, c.message, c.token_count, c.metadata_json, "
	"c.generation_config_json, c.created_at, chain.depth, chain.rid";
static const char chain_payload_col[] = ", b.payload_json";
static const char chain_priority_col[] =
	", (SELECT a.priority FROM annotations AS a WHERE a.target_hash = c.commit_hash "
	"AND (?4 IS NULL OR a.created_at <= ?4) ORDER BY a.created_at DESC, a.id DESC LIMIT 1)";
/*
 * Merge parents packed as "position SP hash" items joined by US. sqlite
 * 3.40 has no ORDER BY inside group_concat and an ordered subquery costs a
 * sorter per row, so bc_parents_split() puts the few items in order.
 */
static const char chain_parents_col[] =
	", (SELECT group_concat(position || ' ' || parent_hash, char(31)) FROM commit_parents "
	"WHERE commit_hash = c.commit_hash AND position >= 1)";
static const char chain_from_sql[] = " FROM chain CROSS JOIN commits AS c ON c.rowid = chain.rid";
static const char chain_payload_join[] =
	" LEFT JOIN blobs AS b ON b.content_hash = c.content_hash";

/*
 * The scan of a tract (chain_scan): the commits of tract ?2 with rowid in
 * [?5, ?6], newest first, in one statement. Two shapes: through the table
 * itself, a rowid range read in order where the tract's rows are dense,
 * and through ix_commits_tract_id where they are sparse. (Going through
 * the index costs a table seek per row, which SQLite only shortcuts in
 * ascending order.) The extras are the CTE's fragments.
 */
static const char chain_scan_head_sql[] =
	"SELECT c.commit_hash, c.parent_hash, c.content_hash, c.content_type, c.operation, "
	"c.response_to, c.message, c.token_count, c.metadata_json, c.generation_config_json, "
	"c.created_at";
static const char *const chain_scan_from_sql[2] = {
	" FROM commits AS c NOT INDEXED",
	" FROM commits AS c INDEXED BY ix_commits_tract_id",
};
static const char chain_scan_where_sql[] =
	" WHERE c.rowid BETWEEN ?5 AND ?6 AND c.tract_id = ?2 ORDER BY c.rowid DESC";

/* ---- chain walk ---------------------------------------------------------- */

static char *chain_sql(unsigned flags)
{
	size_t n = sizeof(chain_head_sql) + sizeof(chain_payload_col) +
		   sizeof(chain_priority_col) + sizeof(chain_parents_col) +
		   sizeof(chain_from_sql) + sizeof(chain_payload_join);
	char *sql = malloc(n);

	if (!sql)
		return NULL;
	strcpy(sql, chain_head_sql);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_payload_col);
	if (flags & TRACT_CHAIN_PRIORITY)
		strcat(sql, chain_priority_col);
	if (flags & TRACT_CHAIN_PARENTS)
		strcat(sql, chain_parents_col);
	strcat(sql, chain_from_sql);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_payload_join);
	return sql;
}

static char *chain_scan_sql(unsigned flags, int shape)
{
	size_t n = sizeof(chain_scan_head_sql) + sizeof(chain_payload_col) +
		   sizeof(chain_priority_col) + sizeof(chain_parents_col) +
		   strlen(chain_scan_from_sql[shape]) + sizeof(chain_payload_join) +
		   sizeof(chain_scan_where_sql);
	char *sql = malloc(n);

	if (!sql)
		return NULL;
	strcpy(sql, chain_scan_head_sql);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_payload_col);
	if (flags & TRACT_CHAIN_PRIORITY)
		strcat(sql, chain_priority_col);
	if (flags & TRACT_CHAIN_PARENTS)
		strcat(sql, chain_parents_col);
	strcat(sql, chain_scan_from_sql[shape]);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_payload_join);
	strcat(sql, chain_scan_where_sql);
	return sql;
}

static int grow(void **ptr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 8;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*ptr, ncap * elem);
	if (!p)
		return TRACT_ENOMEM;
	*ptr = p;
	*cap = ncap;
	return 0;
}

/* Decode one chain row (extra columns follow the commit in flag order). */
static int read_chain_row(tract_backend_conn *conn, sqlite3_stmt *st, unsigned flags,
			  struct bc_parent_list *pl, tract_chain_row *r)
{
	int col = 14, rc;

	memset(r, 0, sizeof(*r));
	r->priority = TRACT_PRIORITY_NONE;
	rc = read_commit(conn, st, &r->commit);
	if (rc < 0)
		return rc;
	if (flags & TRACT_CHAIN_PAYLOAD)
		r->payload_json = col_text(st, col++);
	if (flags & TRACT_CHAIN_PRIORITY)
		r->priority = tract_backend_priority_parse(col_text(st, col++));
	if (flags & TRACT_CHAIN_PARENTS) {
		rc = bc_parents_split(pl, col_text(st, col++));
		if (rc == TRACT_ENOMEM)
			return fail(conn, rc, "sqlite: out of memory");
		if (rc < 0)
			return fail(conn, rc, "sqlite: unreadable merge parents of %s",
				    r->commit.commit_hash);
		r->extra_parents = pl->items;
		r->n_extra_parents = pl->n;
	}
	return 0;
}

static int bind_chain(sqlite3_stmt *st, const char *tract_id, const char *head, size_t limit,
		      unsigned flags, tract_time cutoff)
{
	int b = bind_text(st, 1, head);

	b = b ? b : bind_text(st, 2, tract_id);
	b = b ? b : sqlite3_bind_int64(st, 3, limit < INT64_MAX ? (int64_t)limit : 0);
	if (!b && (flags & TRACT_CHAIN_PRIORITY) && cutoff != INT64_MAX)
		b = bind_time(st, 4, cutoff);
	return b;
}

/* What a CTE walk saw, for the switch to the scan (may be NULL). */
struct walk_probe {
	size_t rows;          /* rows handed to the callback */
	bool stopped;         /* the callback stopped the walk (or failed) */
	char *parent;         /* parent_hash of row number limit - 1 (malloc'd), if any */
	int64_t first_rid;    /* rowid of the first row */
	int64_t last_rid;     /* rowid of row number limit - 1 */
};

static int walk_chain(tract_backend_conn *conn, struct query *q, unsigned flags, size_t limit,
		      tract_chain_cb cb, void *payload, struct walk_probe *probe)
{
	struct bc_parent_list pl = {0};
	tract_chain_row row;
	int64_t depth = 0;
	int rc, cb_rc;

	while ((rc = sqlite3_step(q->st)) == SQLITE_ROW) {
		if (sqlite3_column_int64(q->st, 12) != depth++) {
			rc = fail(conn, TRACT_ESTORAGE, "sqlite: chain rows out of order");
			goto done;
		}
		cb_rc = read_chain_row(conn, q->st, flags, &pl, &row);
		if (probe && depth == 1)
			probe->first_rid = sqlite3_column_int64(q->st, 13);
		if (cb_rc == 0 && probe && (size_t)depth == limit && row.commit.parent_hash) {
			probe->last_rid = sqlite3_column_int64(q->st, 13);
			probe->parent = strdup(row.commit.parent_hash);
			if (!probe->parent)
				cb_rc = fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
		}
		if (cb_rc == 0)
			cb_rc = cb(&row, payload);
		if (probe) {
			probe->rows++;
			probe->stopped = cb_rc != 0;
		}
		if (cb_rc != 0) {
			rc = cb_rc < 0 ? cb_rc : 0;
			goto done;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : fail_db(conn, rc);
done:
	free(pl.text);
	free(pl.items);
	free(pl.positions);
	return rc;
}

/* The recursive CTE walk (limit 0: no limit). */
static int chain_cte(tract_backend_conn *conn, const char *tract_id, const char *head,
		     size_t limit, unsigned variant, tract_time annotation_cutoff,
		     tract_chain_cb cb, void *payload, struct walk_probe *probe)
{
	struct query q = {0};
	char *sql = NULL;
	int rc, b;

	/* The SQL text is only needed to prepare (first use, or re-entry). */
	if (!conn->chain[variant] || sqlite3_stmt_busy(conn->chain[variant])) {
		sql = chain_sql(variant);
		if (!sql)
			return fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
	}
	rc = use_cached(conn, &conn->chain[variant], sql, &q);
	if (rc < 0)
		goto done;
	b = bind_chain(q.st, tract_id, head, limit, variant, annotation_cutoff);
	if (b != SQLITE_OK) {
		rc = fail_db(conn, b);
		goto done;
	}
	rc = walk_chain(conn, &q, variant, limit, cb, payload, probe);
done:
	query_done(&q);
	free(sql);
	return rc;
}

/* ---- chain walk: the tract scan ------------------------------------------ */

/*
 * Payloads, annotations and merge parents of a scan each come from one of
 * three places: nowhere when their table is empty; the join or correlated
 * subquery of the CTE, an index seek per row; or, once a walk has proved
 * long (scan_sides), a side table read whole into memory, one sequential
 * read and then a hash probe per row, when it has at most twice as many
 * rows as the walk is expected to hand over still. A seek by 64-hex key
 * costs several times a row of a sequential read (a blob: ~4,700 against
 * ~1,600 instructions), so the side table wins well before that point.
 * All three give the same rows. max(rowid) stands for a table's size.
 */
enum side_mode {
	SIDE_NONE,
	SIDE_MEMORY,
	SIDE_QUERY,
};

struct side_key {
	size_t key;   /* text offset of the commit or content hash */
	size_t first; /* values: index of the first, and their number */
	size_t n;
	tract_priority priority; /* annotations: the latest one */
};

/* A side table in memory, by hash. Its strings live in one buffer and are
 * referred to by offset while it grows. */
struct side_table {
	char *text;
	size_t len, text_cap;
	struct side_key *keys;
	size_t n_keys, keys_cap;
	size_t *vals; /* text offsets of the values, grouped by key */
	size_t n_vals, vals_cap;
	const char **ptrs; /* the values as pointers, once loaded */
	size_t *slots;     /* open addressing: key index + 1, 0 = empty */
	size_t mask;
};

enum side_kind {
	SIDE_BLOBS,       /* content_hash -> payload_json */
	SIDE_ANNOTATIONS, /* target_hash -> latest priority */
	SIDE_PARENTS,     /* commit_hash -> merge parents from position 1 */
	N_SIDES
};

static const enum stmt_id side_stmt[N_SIDES] = {
	[SIDE_BLOBS] = ST_CHAIN_BLOBS,
	[SIDE_ANNOTATIONS] = ST_CHAIN_ANNOTATIONS,
	[SIDE_PARENTS] = ST_CHAIN_PARENTS,
};

/* The TRACT_CHAIN_* flag each side table stands in for. */
static const unsigned side_flag[N_SIDES] = {
	[SIDE_BLOBS] = TRACT_CHAIN_PAYLOAD,
	[SIDE_ANNOTATIONS] = TRACT_CHAIN_PRIORITY,
	[SIDE_PARENTS] = TRACT_CHAIN_PARENTS,
};

static void side_free(struct side_table *t)
{
	free(t->text);
	free(t->keys);
	free(t->vals);
	free(t->ptrs);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static int side_text(struct side_table *t, const char *s, size_t n, size_t *off)
{
	if (grow((void **)&t->text, &t->text_cap, t->len + n + 1, 1) < 0)
		return TRACT_ENOMEM;
	memcpy(t->text + t->len, s, n);
	t->text[t->len + n] = '\0';
	*off = t->len;
	t->len += n + 1;
	return 0;
}

/* The key entry for key: the last one again when rows come grouped by key. */
static struct side_key *side_group(struct side_table *t, const char *key, size_t n)
{
	struct side_key *k;

	if (t->n_keys && strcmp(t->text + t->keys[t->n_keys - 1].key, key) == 0)
		return &t->keys[t->n_keys - 1];
	if (grow((void **)&t->keys, &t->keys_cap, t->n_keys + 1, sizeof(*t->keys)) < 0)
		return NULL;
	k = &t->keys[t->n_keys];
	memset(k, 0, sizeof(*k));
	k->first = t->n_vals;
	k->priority = TRACT_PRIORITY_NONE;
	if (side_text(t, key, n, &k->key) < 0)
		return NULL;
	t->n_keys++;
	return k;
}

/* Add one row of the side table's statement: key, value. */
static int side_add(struct side_table *t, sqlite3_stmt *st, enum side_kind kind)
{
	const char *key = col_text(st, 0), *val = col_text(st, 1);
	struct side_key *k;

	if (!key || !val)
		return 0; /* NOT NULL columns: nothing the join would match */
	k = side_group(t, key, (size_t)sqlite3_column_bytes(st, 0));
	if (!k)
		return TRACT_ENOMEM;
	if (kind == SIDE_ANNOTATIONS) {
		/* Rows come by (created_at, id) within a key: the last wins. */
		k->priority = tract_backend_priority_parse(val);
		return 0;
	}
	if (kind == SIDE_BLOBS && k->n)
		return 0; /* a duplicate key: the join would see either */
	if (grow((void **)&t->vals, &t->vals_cap, t->n_vals + 1, sizeof(*t->vals)) < 0 ||
	    side_text(t, val, (size_t)sqlite3_column_bytes(st, 1), &t->vals[t->n_vals]) < 0)
		return TRACT_ENOMEM;
	t->n_vals++;
	k->n++;
	return 0;
}

/* A fast hash of a string (commit and content hashes are 64 hex digits). */
static uint64_t hash_str(const char *s)
{
	size_t n = strlen(s);
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 32;
	}
	for (; n > 0; s++, n--)
		h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	return h ^ (h >> 33);
}

/* Index the keys and turn the value offsets into pointers. */
static int side_index(struct side_table *t)
{
	size_t size = 16, i, j;

	while (size < 2 * t->n_keys)
		size *= 2;
	t->slots = calloc(size, sizeof(*t->slots));
	t->ptrs = malloc((t->n_vals ? t->n_vals : 1) * sizeof(*t->ptrs));
	if (!t->slots || !t->ptrs)
		return TRACT_ENOMEM;
	t->mask = size - 1;
	for (i = 0; i < t->n_keys; i++) {
		for (j = hash_str(t->text + t->keys[i].key) & t->mask; t->slots[j];
		     j = (j + 1) & t->mask)
			;
		t->slots[j] = i + 1;
	}
	for (i = 0; i < t->n_vals; i++)
		t->ptrs[i] = t->text + t->vals[i];
	return 0;
}

static const struct side_key *side_find(const struct side_table *t, const char *hash)
{
	size_t j, k;

	if (!hash || !t->slots)
		return NULL;
	for (j = hash_str(hash) & t->mask; (k = t->slots[j]) != 0; j = (j + 1) & t->mask)
		if (strcmp(t->text + t->keys[k - 1].key, hash) == 0)
			return &t->keys[k - 1];
	return NULL;
}

static int side_load(tract_backend_conn *conn, struct side_table *t, enum side_kind kind,
		     tract_time cutoff)
{
	struct query q;
	int rc, b = SQLITE_OK;

	rc = query_start(conn, side_stmt[kind], &q);
	if (rc < 0)
		return rc;
	if (kind == SIDE_ANNOTATIONS && cutoff != INT64_MAX)
		b = bind_time(q.st, 1, cutoff);
	if (b != SQLITE_OK) {
		rc = fail_db(conn, b);
	} else {
		while ((b = sqlite3_step(q.st)) == SQLITE_ROW)
			if ((rc = side_add(t, q.st, kind)) < 0)
				break;
		if (rc == 0 && b != SQLITE_DONE)
			rc = fail_db(conn, b);
	}
	query_done(&q);
	if (rc == 0)
		rc = side_index(t);
	return rc == TRACT_ENOMEM ? fail(conn, rc, "sqlite: out of memory") : rc;
}

/*
 * The scan hands over rows with the extras from the statement itself
 * (joins and subqueries) until SCAN_SIDE_ROWS rows; a walk that goes on
 * then loads the side tables worth it for the rest (scan_sides) and
 * continues with the statement without those extras. A short walk never
 * pays for a table it would barely use.
 */
#define SCAN_SIDE_ROWS 256

/*
 * Consecutive rows off the chain after which the scan looks up the
 * commit it waits for and jumps to it: a branch that forked long ago
 * reads a few rows of the history written since, not all of them.
 */
#define SCAN_GAP_ROWS 64

/* What one walk over the scan needs. */
struct scan_walk {
	const char *tract_id;
	int64_t lo, hi;          /* the rowid range still to scan */
	int shape;               /* 0: the table, 1: ix_commits_tract_id */
	unsigned cols;           /* TRACT_CHAIN_* the statement computes itself */
	int64_t side_max[N_SIDES]; /* max(rowid) of each side table, -1: empty */
	enum side_mode mode[N_SIDES];
	struct side_table side[N_SIDES];
	struct bc_parent_list pl;
	char *next;              /* the commit the walk expects next, "" when done */
	size_t next_cap;
	size_t emitted, stepped; /* rows handed over and rows read by the scan */
	bool sides_planned;
};

/*
 * Plan the scan: its rowid range (the start commit down to the tract's
 * first) and its shape. The probe's rowid span tells how dense the chain
 * is among the rows of the range (other tracts' commits and abandoned
 * ones in between are read and skipped): at least 1 in 4 reads the table
 * in rowid order, sparser goes through the index. *found is false when
 * start is not a commit of the tract.
 */
static int scan_plan(tract_backend_conn *conn, struct scan_walk *w, const char *start,
		     unsigned flags, const struct walk_probe *probe, bool *found)
{
	sqlite3_int64 v[5] = {0};
	int64_t span = probe->first_rid - probe->last_rid + 1;
	struct query q;
	int rc, b, i;

	*found = false;
	rc = query_start(conn, ST_CHAIN_SIDES, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, start);
	b = b ? b : bind_text(q.st, 2, w->tract_id);
	if (b == SQLITE_OK)
		b = sqlite3_step(q.st);
	if (b == SQLITE_ROW) {
		/* -1 for NULL: the table is empty (or start is not there). */
		for (i = 0; i < 5; i++)
			v[i] = sqlite3_column_type(q.st, i) == SQLITE_NULL
				       ? -1
				       : sqlite3_column_int64(q.st, i);
	} else {
		rc = fail_db(conn, b);
	}
	query_done(&q);
	if (rc < 0 || v[0] == -1 || v[1] == -1)
		return rc;
	*found = true;
	w->hi = v[0];
	w->lo = v[1];
	if (span < (int64_t)probe->rows)
		span = (int64_t)probe->rows; /* rowids not in chain order */
	w->shape = span > 4 * (int64_t)probe->rows;
	for (i = 0; i < N_SIDES; i++) {
		w->side_max[i] = v[2 + i];
		w->mode[i] = (flags & side_flag[i]) && v[2 + i] != -1 ? SIDE_QUERY : SIDE_NONE;
		if (w->mode[i] == SIDE_QUERY)
			w->cols |= side_flag[i];
	}
	return 0;
}

/*
 * The rowid of the commit the walk expects, in the tract: *rid -1 when it
 * is not there (in another tract, or missing).
 */
static int scan_next_rowid(tract_backend_conn *conn, struct scan_walk *w, int64_t *rid)
{
	struct query q;
	int rc, b;

	*rid = -1;
	rc = query_start(conn, ST_CHAIN_ROWID, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, w->next);
	b = b ? b : bind_text(q.st, 2, w->tract_id);
	if (b == SQLITE_OK)
		b = sqlite3_step(q.st);
	if (b == SQLITE_ROW)
		*rid = sqlite3_column_int64(q.st, 0);
	else if (b != SQLITE_DONE)
		rc = fail_db(conn, b);
	query_done(&q);
	return rc;
}

/*
 * After SCAN_SIDE_ROWS rows: read whole the side tables with at most
 * twice as many rows as the walk is expected to hand over still (the
 * rows left in the range, at the density the scan has seen so far).
 */
static int scan_sides(tract_backend_conn *conn, struct scan_walk *w, int64_t next_rid,
		      tract_time cutoff)
{
	double est = (double)(next_rid - w->lo + 1) * (double)w->emitted / (double)w->stepped;
	int rc = 0, i;

	w->sides_planned = true;
	for (i = 0; rc == 0 && i < N_SIDES; i++) {
		if (w->mode[i] != SIDE_QUERY || (double)w->side_max[i] > 2 * est)
			continue;
		rc = side_load(conn, &w->side[i], (enum side_kind)i, cutoff);
		w->mode[i] = SIDE_MEMORY;
		w->cols &= ~side_flag[i];
	}
	return rc;
}

/* Decode a row of the scan statement (layout of chain_scan_head_sql). */
static int read_scan_row(tract_backend_conn *conn, sqlite3_stmt *st, struct scan_walk *w,
			 tract_chain_row *r)
{
	const struct side_key *k;
	int col = 11, rc;

	memset(r, 0, sizeof(*r));
	r->commit.commit_hash = col_text(st, 0);
	r->commit.tract_id = w->tract_id;
	r->commit.parent_hash = col_text(st, 1);
	r->commit.content_hash = col_text(st, 2);
	r->commit.content_type = col_text(st, 3);
	r->commit.operation = tract_backend_operation_parse(col_text(st, 4));
	r->commit.response_to = col_text(st, 5);
	r->commit.message = col_text(st, 6);
	r->commit.token_count = sqlite3_column_int64(st, 7);
	r->commit.metadata_json = col_json(st, 8);
	r->commit.generation_config_json = col_json(st, 9);
	rc = col_time(conn, st, 10, &r->commit.created_at);
	if (rc < 0)
		return rc;
	if (w->cols & TRACT_CHAIN_PAYLOAD)
		r->payload_json = col_text(st, col++);
	else if (w->mode[SIDE_BLOBS] == SIDE_MEMORY &&
		 (k = side_find(&w->side[SIDE_BLOBS], r->commit.content_hash)))
		r->payload_json = w->side[SIDE_BLOBS].ptrs[k->first];
	r->priority = TRACT_PRIORITY_NONE;
	if (w->cols & TRACT_CHAIN_PRIORITY)
		r->priority = tract_backend_priority_parse(col_text(st, col++));
	else if (w->mode[SIDE_ANNOTATIONS] == SIDE_MEMORY &&
		 (k = side_find(&w->side[SIDE_ANNOTATIONS], r->commit.commit_hash)))
		r->priority = k->priority;
	if (w->cols & TRACT_CHAIN_PARENTS) {
		rc = bc_parents_split(&w->pl, col_text(st, col++));
		if (rc == TRACT_ENOMEM)
			return fail(conn, rc, "sqlite: out of memory");
		if (rc < 0)
			return fail(conn, rc, "sqlite: unreadable merge parents of %s",
				    r->commit.commit_hash);
		r->extra_parents = w->pl.items;
		r->n_extra_parents = w->pl.n;
	} else if (w->mode[SIDE_PARENTS] == SIDE_MEMORY &&
		   (k = side_find(&w->side[SIDE_PARENTS], r->commit.commit_hash))) {
		r->extra_parents = w->side[SIDE_PARENTS].ptrs + k->first;
		r->n_extra_parents = k->n;
	}
	return 0;
}

/* Copy s into *buf (grown as needed). */
static int set_str(char **buf, size_t *cap, const char *s)
{
	size_t n = strlen(s) + 1;

	if (grow((void **)buf, cap, n, 1) < 0)
		return TRACT_ENOMEM;
	memcpy(*buf, s, n);
	return 0;
}

/*
 * One pass of the scan over [lo, hi], handing over the rows of the chain
 * from w->next on. *again is set when the pass stopped to go on from
 * w->next (a gap, or side tables just loaded) with hi lowered to its
 * rowid; otherwise w->next is empty when the walk is complete, or names
 * the parent the scan did not reach.
 */
static int scan_pass(tract_backend_conn *conn, struct scan_walk *w, tract_time cutoff,
		     tract_chain_cb cb, void *payload, bool *again)
{
	sqlite3_stmt **slot = &conn->scan[w->shape][w->cols];
	struct query q = {0};
	tract_chain_row row;
	bool jump = false;
	size_t skipped = 0;
	int64_t rid;
	char *sql = NULL;
	const char *hash;
	int rc, b;

	*again = false;
	if (!*slot || sqlite3_stmt_busy(*slot)) {
		sql = chain_scan_sql(w->cols, w->shape);
		if (!sql)
			return fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
	}
	rc = use_cached(conn, slot, sql, &q);
	free(sql);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 2, w->tract_id);
	b = b ? b : sqlite3_bind_int64(q.st, 5, w->lo);
	b = b ? b : sqlite3_bind_int64(q.st, 6, w->hi);
	if (!b && (w->cols & TRACT_CHAIN_PRIORITY) && cutoff != INT64_MAX)
		b = bind_time(q.st, 4, cutoff);
	if (b != SQLITE_OK) {
		rc = fail_db(conn, b);
		goto done;
	}
	while ((b = sqlite3_step(q.st)) == SQLITE_ROW) {
		w->stepped++;
		hash = col_text(q.st, 0);
		if (!hash || strcmp(hash, w->next) != 0) {
			/* Off the chain: a side branch, an abandoned commit. */
			if (++skipped < SCAN_GAP_ROWS)
				continue;
			jump = true;
			break;
		}
		skipped = 0;
		rc = read_scan_row(conn, q.st, w, &row);
		if (rc == 0)
			rc = cb(&row, payload);
		if (rc != 0 || !row.commit.parent_hash) {
			rc = rc < 0 ? rc : 0;
			w->next[0] = '\0'; /* stopped, or the root: the walk is complete */
			goto done;
		}
		if (set_str(&w->next, &w->next_cap, row.commit.parent_hash) < 0) {
			rc = fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
			goto done;
		}
		if (++w->emitted >= SCAN_SIDE_ROWS && !w->sides_planned && w->cols) {
			jump = true;
			break;
		}
	}
	if (!jump) {
		if (b != SQLITE_DONE)
			rc = fail_db(conn, b);
		goto done;
	}
	query_done(&q);
	rc = scan_next_rowid(conn, w, &rid);
	if (rc == 0 && rid < 0)
		w->next[0] = '\0'; /* not in the tract: where the walk ends */
	if (rc < 0 || rid < 0 || rid >= w->hi)
		goto done; /* (a parent newer than its child: the CTE goes on) */
	if (w->emitted >= SCAN_SIDE_ROWS && !w->sides_planned)
		rc = scan_sides(conn, w, rid, cutoff);
	w->hi = rid;
	*again = rc == 0;
done:
	query_done(&q);
	return rc;
}

/*
 * Walk from start, a commit the probe reached, through scans of the
 * tract, newest rowid first. Rows stream to the callback as the statement
 * produces them: a row is handed over when it is the commit the walk
 * expects next (start, then each one's parent); the others are skipped.
 * Every commit is written after its parent, so a chain's rowids decrease
 * and each pass resumes below the last. A parent that the scan does not
 * reach is in another tract, missing, or (only in a store whose rows were
 * not written that way) newer than its child: the recursive CTE continues
 * from it and settles which.
 */
static int chain_scan(tract_backend_conn *conn, const char *tract_id, const char *start,
		      unsigned flags, tract_time cutoff, const struct walk_probe *probe,
		      tract_chain_cb cb, void *payload)
{
	struct scan_walk w = {.tract_id = tract_id};
	bool found, again = true;
	int rc, i;

	rc = scan_plan(conn, &w, start, flags, probe, &found);
	if (rc == 0 && found && set_str(&w.next, &w.next_cap, start) < 0)
		rc = fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
	while (rc == 0 && found && again)
		rc = scan_pass(conn, &w, cutoff, cb, payload, &again);
	if (rc == 0 && w.next && w.next[0])
		rc = chain_cte(conn, tract_id, w.next, 0, flags, cutoff, cb, payload, NULL);
	free(w.next);
	free(w.pl.text);
	free(w.pl.items);
	free(w.pl.positions);
	for (i = 0; i < N_SIDES; i++)
		side_free(&w.side[i]);
	return rc;
}

/*
 * Rows the recursive CTE walks before the scan takes over. Each CTE step
 * is a primary-key lookup by 64-hex text, several times the cost of a row
 * of the scan, but the scan has a setup of its own and reads the rows
 * between that are not on the chain. Probing with the CTE first keeps
 * short walks (a young tract, a branch of a few commits off an early one,
 * a callback that stops early) exactly as before, costs a long walk only
 * these few steps, and measures how densely the chain sits in the rowid
 * range for scan_plan(). Measured on a tract of 10,000 commits with every
 * extra: from the newest commit 33-47 ms by the CTE alone, 9-10 ms with
 * the scan; from the 5th commit 0.17 ms either way; from a 100-commit
 * branch off the 10th commit, written after all the others, 0.5 ms either
 * way (the scan jumps the gap).
 */
#define CHAIN_PROBE_ROWS 32

/*
 * The chain walk. With a limit (log -n 20) or across tracts (merge
 * expansion) it is the recursive CTE alone: it streams, and its cost
 * follows the rows asked for, not the history. Without a limit (compile)
 * the CTE probes the first CHAIN_PROBE_ROWS rows and a longer chain
 * continues with one scan of the tract (chain_scan).
 */
int sqlite_commit_chain(tract_backend_conn *conn, const char *tract_id, const char *head,
			size_t limit, unsigned flags, tract_time annotation_cutoff,
			tract_chain_cb cb, void *payload)
{
	unsigned variant = flags & (TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS |
				    TRACT_CHAIN_PRIORITY);
	struct walk_probe probe = {0};
	int rc;

	CHECK_ARG(conn, head && cb);
	if (limit > 0 || !tract_id)
		return chain_cte(conn, tract_id, head, limit, variant, annotation_cutoff, cb,
				 payload, NULL);
	rc = chain_cte(conn, tract_id, head, CHAIN_PROBE_ROWS, variant, annotation_cutoff, cb,
		       payload, &probe);
	if (rc == 0 && !probe.stopped && probe.rows == CHAIN_PROBE_ROWS && probe.parent)
		rc = chain_scan(conn, tract_id, probe.parent, variant, annotation_cutoff, &probe,
				cb, payload);
	free(probe.parent);
	return rc;
}

/* ---- ancestry walk -------------------------------------------------------- */

/*
 * commit_ancestry: the shared breadth-first walk (backends/common/
 * ancestry.c) over one cached statement, a primary-key lookup of the
 * commit and of its commit_parents rows per step.
 */
struct anc_ctx {
	tract_backend_conn *conn;
	struct query q;
	struct bc_parent_list pl;
	char *parent;
	size_t parent_cap;
};

static int anc_fetch(void *ctx, const char *tract_id, const char *hash,
		     struct bc_ancestry_node *node)
{
	struct anc_ctx *a = ctx;
	sqlite3_stmt *st = a->q.st;
	const char *p;
	int rc, b;

	sqlite3_reset(st);
	b = bind_text(st, 1, hash);
	b = b ? b : bind_text(st, 2, tract_id);
	if (b)
		return fail_db(a->conn, b);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW)
		return fail_db(a->conn, rc);
	rc = col_time(a->conn, st, 0, &node->created_at);
	if (rc < 0)
		return rc;
	p = col_text(st, 1);
	node->parent_hash = NULL;
	if (p) {
		size_t len = strlen(p) + 1;

		if (grow((void **)&a->parent, &a->parent_cap, len, 1) < 0)
			return fail(a->conn, TRACT_ENOMEM, "sqlite: out of memory");
		memcpy(a->parent, p, len);
		node->parent_hash = a->parent;
	}
	rc = bc_parents_split(&a->pl, col_text(st, 2));
	if (rc == TRACT_ENOMEM)
		return fail(a->conn, TRACT_ENOMEM, "sqlite: out of memory");
	if (rc < 0)
		return fail(a->conn, TRACT_ECORRUPT, "sqlite: unreadable merge parents of %s", hash);
	node->rows = a->pl.items;
	node->n_rows = a->pl.n;
	sqlite3_reset(st);
	return 0;
}

int sqlite_commit_ancestry(tract_backend_conn *conn, const char *tract_id,
			   const char *const *starts, size_t n_starts, size_t limit,
			   tract_ancestry_cb cb, void *payload)
{
	struct anc_ctx a;
	int rc;

	CHECK_ARG(conn, (starts || !n_starts) && cb);
	memset(&a, 0, sizeof(a));
	a.conn = conn;
	rc = query_start(conn, ST_ANCESTRY, &a.q);
	if (rc < 0)
		return rc;
	rc = bc_ancestry_walk(&a, tract_id, starts, n_starts, limit, anc_fetch, cb, payload);
	if (rc == TRACT_ENOMEM)
		rc = fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
	query_done(&a.q);
	bc_parents_free(&a.pl);
	free(a.parent);
	return rc;
}
