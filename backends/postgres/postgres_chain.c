/*
 * postgres_chain.c - the PostgreSQL backend's chain walk (commit_chain):
 * a recursive CTE for short walks and the first rows of long ones, then
 * one scan of the tract whose first parents are followed in memory.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "parents.h"
#include "postgres_internal.h"

/*
 * The chain walk's recursive CTE: $1 head, $2 tract (NULL: any), $3 the
 * row limit, $4 the annotation cutoff (NULL: none). The CTE carries whole
 * rows, so each step is one primary-key lookup; seq must decrease at each
 * step (a parent is always older than its child), which ends a corrupt
 * cycle. Rows come back in any order with their depth; walk_cte() puts
 * them in order.
 */
static const char chain_cte_head[] =
	"WITH RECURSIVE chain AS ("
	"SELECT 0::bigint AS depth, c.commit_hash, c.tract_id, c.parent_hash, c.content_hash, "
	"c.content_type, c.operation, c.response_to, c.message, c.token_count, c.metadata_json, "
	"c.generation_config_json, c.created_at, c.seq FROM commits c "
	"WHERE c.commit_hash = $1 AND ($2::text IS NULL OR c.tract_id = $2) "
	"UNION ALL "
	"SELECT ch.depth + 1, c.commit_hash, c.tract_id, c.parent_hash, c.content_hash, "
	"c.content_type, c.operation, c.response_to, c.message, c.token_count, c.metadata_json, "
	"c.generation_config_json, c.created_at, c.seq FROM chain ch "
	"JOIN commits c ON c.commit_hash = ch.parent_hash "
	"WHERE ch.depth + 1 < $3 AND c.seq < ch.seq AND ($2::text IS NULL OR c.tract_id = $2)) "
	"SELECT ch.commit_hash, ch.tract_id, ch.parent_hash, ch.content_hash, ch.content_type, "
	"ch.operation, ch.response_to, ch.message, ch.token_count, ch.metadata_json, "
	"ch.generation_config_json, ch.created_at, ch.depth";
static const char chain_cte_payload[] = ", b.payload_json";
static const char chain_cte_priority[] =
	", (SELECT a.priority FROM annotations a WHERE a.target_hash = ch.commit_hash "
	"AND ($4::timestamptz IS NULL OR a.created_at <= $4) "
	"ORDER BY a.created_at DESC, a.id DESC LIMIT 1)";
/* Merge parents packed as "position SP hash" items joined by US, the
 * form bc_parents_split() reads (backends/common/parents.h); ordered, so
 * its sort has nothing to move. */
static const char chain_cte_parents[] =
	", (SELECT string_agg(p.position || ' ' || p.parent_hash, chr(31) "
	"ORDER BY p.position, p.parent_hash) "
	"FROM commit_parents p WHERE p.commit_hash = ch.commit_hash AND p.position >= 1)";
static const char chain_cte_from[] = " FROM chain ch";
static const char chain_cte_join[] = " LEFT JOIN blobs b ON b.content_hash = ch.content_hash";

/*
 * The tract scan of a long walk: every commit of tract $2 inserted no
 * later than $1 (seq), with the extras joined set-wise, so the planner can
 * hash-join the blobs of a long history rather than look each one up.
 * walk_scan() follows the first parents from $1 through the rows. $3 is
 * the annotation cutoff. Planned on each use (unnamed statement): the right
 * join strategy depends on the tract's size.
 */
static const char chain_scan_head[] =
	"WITH s AS MATERIALIZED (SELECT seq FROM commits WHERE commit_hash = $1 "
	"AND tract_id = $2) "
	"SELECT c.commit_hash, c.tract_id, c.parent_hash, c.content_hash, c.content_type, "
	"c.operation, c.response_to, c.message, c.token_count, c.metadata_json, "
	"c.generation_config_json, c.created_at, c.seq";
static const char chain_scan_payload[] = ", b.payload_json";
static const char chain_scan_priority[] = ", an.priority";
static const char chain_scan_parents[] = ", pp.parents";
static const char chain_scan_from[] = " FROM commits c";
static const char chain_scan_join_payload[] =
	" LEFT JOIN blobs b ON b.content_hash = c.content_hash";
static const char chain_scan_join_priority[] =
	" LEFT JOIN (SELECT DISTINCT ON (a.target_hash) a.target_hash, a.priority "
	"FROM annotations a WHERE a.target_hash IN (SELECT y.commit_hash FROM commits y "
	"WHERE y.tract_id = $2 AND y.seq <= (SELECT seq FROM s)) "
	"AND ($3::timestamptz IS NULL OR a.created_at <= $3) "
	"ORDER BY a.target_hash, a.created_at DESC, a.id DESC) an "
	"ON an.target_hash = c.commit_hash";
static const char chain_scan_join_parents[] =
	" LEFT JOIN (SELECT p.commit_hash, "
	"string_agg(p.position || ' ' || p.parent_hash, chr(31) "
	"ORDER BY p.position, p.parent_hash) AS parents FROM commit_parents p "
	"WHERE p.position >= 1 AND p.commit_hash IN (SELECT y.commit_hash FROM commits y "
	"WHERE y.tract_id = $2 AND y.seq <= (SELECT seq FROM s)) GROUP BY p.commit_hash) pp "
	"ON pp.commit_hash = c.commit_hash";
static const char chain_scan_where[] = " WHERE c.tract_id = $2 AND c.seq <= (SELECT seq FROM s)";

/* ---- chain walk --------------------------------------------------------- */

static char *chain_cte_sql(unsigned flags)
{
	size_t n = sizeof(chain_cte_head) + sizeof(chain_cte_payload) + sizeof(chain_cte_priority) +
		   sizeof(chain_cte_parents) + sizeof(chain_cte_from) + sizeof(chain_cte_join);
	char *sql = malloc(n);

	if (!sql)
		return NULL;
	strcpy(sql, chain_cte_head);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_cte_payload);
	if (flags & TRACT_CHAIN_PRIORITY)
		strcat(sql, chain_cte_priority);
	if (flags & TRACT_CHAIN_PARENTS)
		strcat(sql, chain_cte_parents);
	strcat(sql, chain_cte_from);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_cte_join);
	return sql;
}

static char *chain_scan_sql(unsigned flags)
{
	size_t n = sizeof(chain_scan_head) + sizeof(chain_scan_payload) +
		   sizeof(chain_scan_priority) + sizeof(chain_scan_parents) +
		   sizeof(chain_scan_from) + sizeof(chain_scan_join_payload) +
		   sizeof(chain_scan_join_priority) + sizeof(chain_scan_join_parents) +
		   sizeof(chain_scan_where);
	char *sql = malloc(n);

	if (!sql)
		return NULL;
	strcpy(sql, chain_scan_head);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_scan_payload);
	if (flags & TRACT_CHAIN_PRIORITY)
		strcat(sql, chain_scan_priority);
	if (flags & TRACT_CHAIN_PARENTS)
		strcat(sql, chain_scan_parents);
	strcat(sql, chain_scan_from);
	if (flags & TRACT_CHAIN_PAYLOAD)
		strcat(sql, chain_scan_join_payload);
	if (flags & TRACT_CHAIN_PRIORITY)
		strcat(sql, chain_scan_join_priority);
	if (flags & TRACT_CHAIN_PARENTS)
		strcat(sql, chain_scan_join_parents);
	strcat(sql, chain_scan_where);
	return sql;
}

/* Decode one chain row: the commit in columns 0-11, the extras from
 * column first on, in flag order. */
static int read_chain_row(tract_backend_conn *conn, const PGresult *r, int i, unsigned flags,
			  int first, struct bc_parent_list *pl, tract_chain_row *row)
{
	int col = first;

	memset(row, 0, sizeof(*row));
	read_commit(r, i, &row->commit);
	row->priority = TRACT_PRIORITY_NONE;
	if (flags & TRACT_CHAIN_PAYLOAD)
		row->payload_json = col_text(r, i, col++);
	if (flags & TRACT_CHAIN_PRIORITY)
		row->priority = tract_backend_priority_parse(col_text(r, i, col++));
	if (flags & TRACT_CHAIN_PARENTS) {
		int rc = bc_parents_split(pl, col_text(r, i, col++));
		if (rc == TRACT_ENOMEM)
			return oom(conn);
		if (rc < 0)
			return fail(conn, rc, "postgres: unreadable merge parents of %s",
				    row->commit.commit_hash);
		row->extra_parents = pl->items;
		row->n_extra_parents = pl->n;
	}
	return 0;
}

/* What a walk handed over, for the switch to the scan. */
struct walk_probe {
	size_t rows;
	bool stopped;
	char *parent; /* parent_hash of the last row (malloc'd), if any */
};

/* The recursive CTE walk of at most limit rows (0: no limit). */
static int walk_cte(tract_backend_conn *conn, const char *tract_id, const char *head,
		    size_t limit, unsigned flags, tract_time cutoff, tract_chain_cb cb,
		    void *payload, struct walk_probe *probe)
{
	struct bc_parent_list pl = {0};
	struct params p = {0};
	tract_chain_row row;
	PGresult *res = NULL;
	int *order = NULL, n, i, rc;

	if (!conn->chain_sql[flags]) {
		conn->chain_sql[flags] = chain_cte_sql(flags);
		if (!conn->chain_sql[flags])
			return oom(conn);
	}
	p_text(&p, head);
	p_text(&p, tract_id);
	p_int(&p, limit > 0 && limit < INT64_MAX ? (int64_t)limit : INT64_MAX);
	if (flags & TRACT_CHAIN_PRIORITY)
		p_cutoff(&p, cutoff);
	else
		p_null(&p);
	rc = run(conn, ST_COUNT + (int)flags, &p, false, &res, "walk history");
	if (rc < 0)
		return rc;
	n = PQntuples(res);
	order = malloc((size_t)(n ? n : 1) * sizeof(*order));
	if (!order) {
		rc = oom(conn);
		goto done;
	}
	for (i = 0; i < n; i++)
		order[i] = -1;
	for (i = 0; i < n; i++) {
		int64_t d = col_int(res, i, 12);
		if (d < 0 || d >= n || order[d] >= 0) {
			rc = fail(conn, TRACT_ESTORAGE, "postgres: chain rows out of order");
			goto done;
		}
		order[d] = i;
	}
	for (i = 0; i < n; i++) {
		rc = read_chain_row(conn, res, order[i], flags, 13, &pl, &row);
		if (rc == 0 && probe && i == n - 1 && row.commit.parent_hash) {
			probe->parent = strdup(row.commit.parent_hash);
			if (!probe->parent)
				rc = oom(conn);
		}
		if (rc == 0)
			rc = cb(&row, payload);
		if (probe) {
			probe->rows++;
			probe->stopped = rc != 0;
		}
		if (rc != 0) {
			rc = rc < 0 ? rc : 0;
			goto done;
		}
	}
done:
	free(order);
	bc_parents_free(&pl);
	PQclear(res);
	return rc;
}

/* A fast hash of a string (commit hashes are 64 hex digits). */
static uint64_t hash_str(const char *s)
{
	uint64_t h = UINT64_C(1469598103934665603);

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
	return h ^ (h >> 29);
}

/*
 * The rest of a long walk from start: one scan of the tract's commits
 * inserted no later than start, then the first parents followed through
 * them in memory. A parent the scan does not hold is in another tract (or
 * missing): the walk ends there, as the CTE's would.
 */
static int walk_scan(tract_backend_conn *conn, const char *tract_id, const char *start,
		     unsigned flags, tract_time cutoff, tract_chain_cb cb, void *payload)
{
	static const char *const types[] = {"tt", "ttz"};
	struct bc_parent_list pl = {0};
	struct params p = {0};
	tract_chain_row row;
	struct op o = {.stmt = -1};
	size_t size = 16, mask, j;
	int *slots = NULL, n, i, rc;
	const char *next = start;
	int64_t last_seq = INT64_MAX;
	char *sql = chain_scan_sql(flags);

	if (!sql)
		return oom(conn);
	p_text(&p, start);
	p_text(&p, tract_id);
	if (flags & TRACT_CHAIN_PRIORITY)
		p_cutoff(&p, cutoff);
	o.sql = sql;
	o.types = types[(flags & TRACT_CHAIN_PRIORITY) ? 1 : 0];
	o.p = &p;
	rc = round_trip(conn, &o, 1, "walk history");
	free(sql);
	if (rc < 0)
		return rc;
	n = PQntuples(o.res);
	while (size < 2 * (size_t)n)
		size *= 2;
	mask = size - 1;
	slots = malloc(size * sizeof(*slots));
	if (!slots) {
		rc = oom(conn);
		goto done;
	}
	for (j = 0; j < size; j++)
		slots[j] = -1;
	for (i = 0; i < n; i++) {
		for (j = hash_str(PQgetvalue(o.res, i, 0)) & mask; slots[j] >= 0; j = (j + 1) & mask)
			;
		slots[j] = i;
	}
	while (next) {
		int at = -1;
		int64_t seq;

		for (j = hash_str(next) & mask; slots[j] >= 0; j = (j + 1) & mask) {
			if (strcmp(PQgetvalue(o.res, slots[j], 0), next) == 0) {
				at = slots[j];
				break;
			}
		}
		if (at < 0)
			break;
		seq = col_int(o.res, at, 12);
		if (seq >= last_seq) {
			rc = fail(conn, TRACT_ECORRUPT,
				  "postgres: commit %s is not older than its child (a parent cycle?)",
				  next);
			goto done;
		}
		last_seq = seq;
		rc = read_chain_row(conn, o.res, at, flags, 13, &pl, &row);
		if (rc == 0)
			rc = cb(&row, payload);
		if (rc != 0) {
			rc = rc < 0 ? rc : 0;
			goto done;
		}
		next = row.commit.parent_hash;
	}
done:
	free(slots);
	bc_parents_free(&pl);
	PQclear(o.res);
	return rc;
}

/*
 * The chain walk. With a limit (log -n 20) or across tracts it is the
 * recursive CTE alone: its cost follows the rows asked for. Without a
 * limit (compile), the CTE hands over the first CHAIN_PROBE_ROWS rows and
 * a longer chain goes on with one scan of the tract: a step of the
 * recursive CTE costs a primary-key lookup and a pass of the executor
 * (~4 µs here), while the scan reads the tract's rows in one go and lets
 * the planner join the blobs wholesale.
 */
int pg_commit_chain(tract_backend_conn *conn, const char *tract_id, const char *head,
		    size_t limit, unsigned flags, tract_time annotation_cutoff,
		    tract_chain_cb cb, void *payload)
{
	unsigned variant = flags & (TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS |
				    TRACT_CHAIN_PRIORITY);
	struct walk_probe probe = {0};
	int rc;

	CHECK_ARG(conn, head && cb);
	if (limit > 0 || !tract_id)
		return walk_cte(conn, tract_id, head, limit, variant, annotation_cutoff, cb,
				payload, NULL);
	rc = walk_cte(conn, tract_id, head, CHAIN_PROBE_ROWS, variant, annotation_cutoff, cb,
		      payload, &probe);
	if (rc == 0 && !probe.stopped && probe.rows == CHAIN_PROBE_ROWS && probe.parent)
		rc = walk_scan(conn, tract_id, probe.parent, variant, annotation_cutoff, cb,
			       payload);
	free(probe.parent);
	return rc;
}

/* ---- ancestry walk -------------------------------------------------------- */

/* The starts as a text[] literal: each element double-quoted, '"' and '\'
 * escaped. */
static char *array_literal(const char *const *v, size_t n)
{
	size_t len = 3, i;
	char *out, *o;

	for (i = 0; i < n; i++)
		len += 2 * strlen(v[i]) + 3;
	out = malloc(len);
	if (!out)
		return NULL;
	o = out;
	*o++ = '{';
	for (i = 0; i < n; i++) {
		const char *s;

		if (i)
			*o++ = ',';
		*o++ = '"';
		for (s = v[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				*o++ = '\\';
			*o++ = *s;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return out;
}

/*
 * commit_ancestry in one round trip: the CTE above hands over up to limit
 * commits breadth first. TRACT_ANCESTRY_PRUNE is taken as "go on" (the
 * rows are fetched already; the ABI allows it).
 */
int pg_commit_ancestry(tract_backend_conn *conn, const char *tract_id,
		       const char *const *starts, size_t n_starts, size_t limit,
		       tract_ancestry_cb cb, void *payload)
{
	struct bc_parent_list pl = {0};
	struct params p = {0};
	const char **parents = NULL;
	size_t cap = 0, i;
	PGresult *res = NULL;
	char *arr;
	int n, r, rc;

	CHECK_ARG(conn, (starts || !n_starts) && cb);
	for (i = 0; i < n_starts; i++)
		CHECK_ARG(conn, starts[i] != NULL);
	if (!n_starts)
		return 0;
	arr = array_literal(starts, n_starts);
	if (!arr)
		return oom(conn);
	p_text(&p, arr);
	p_text(&p, tract_id);
	p_int(&p, limit > 0 && limit < INT64_MAX ? (int64_t)limit : INT64_MAX);
	rc = run(conn, ST_ANCESTRY, &p, false, &res, "walk the ancestry");
	free(arr);
	if (rc < 0)
		return rc;
	n = PQntuples(res);
	for (r = 0; r < n && rc == 0; r++) {
		tract_ancestry_row row;
		const char *first = col_text(res, r, 2);
		size_t k, m = 0;

		rc = bc_parents_split(&pl, col_text(res, r, 3));
		if (rc == TRACT_ENOMEM) {
			rc = oom(conn);
			break;
		}
		if (rc < 0) {
			rc = fail(conn, rc, "postgres: unreadable merge parents of %s",
				  col_text(res, r, 0));
			break;
		}
		if (pl.n + 1 > cap) {
			const char **np = realloc(parents, (pl.n + 1) * sizeof(*np));

			if (!np) {
				rc = oom(conn);
				break;
			}
			parents = np;
			cap = pl.n + 1;
		}
		if (first)
			parents[m++] = first;
		for (i = 0; i < pl.n; i++) {
			int dup = 0;

			for (k = 0; k < m && !dup; k++)
				dup = strcmp(parents[k], pl.items[i]) == 0;
			if (!dup)
				parents[m++] = pl.items[i];
		}
		row.commit_hash = col_text(res, r, 0);
		row.created_at = col_time(res, r, 1);
		row.parents = parents;
		row.n_parents = m;
		rc = cb(&row, payload);
		if (rc == TRACT_ANCESTRY_PRUNE)
			rc = 0;
		else if (rc > 0)
			break;
	}
	free(parents);
	bc_parents_free(&pl);
	PQclear(res);
	return rc < 0 ? rc : 0;
}
