/*
 * postgres_stmt.c - the PostgreSQL backend's statements and pipeline:
 * their SQL, parameters and result columns in binary, the round trip
 * that sends BEGIN, held-back writes and statements in one pipeline (and
 * replays it on a new connection when nothing of it can have run),
 * savepoint-guarded statements, and decoding rows for the callbacks.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "postgres_internal.h"

/* ---- statements --------------------------------------------------------- */

#define COMMIT_COLS                                                                                \
	"commit_hash, tract_id, parent_hash, content_hash, content_type, operation, "              \
	"response_to, message, token_count, metadata_json, generation_config_json, created_at"
#define BLOB_COLS "content_hash, payload_json, byte_size, token_count, created_at"
#define REF_COLS "tract_id, ref_name, commit_hash, symbolic_target"
#define ANN_COLS "id, tract_id, target_hash, priority, reason, created_at"
#define COMP_COLS                                                                                  \
	"compression_id, tract_id, branch_name, created_at, original_tokens, "                     \
	"compressed_tokens, target_tokens, instructions"
#define SPAWN_COLS                                                                                 \
	"id, parent_tract_id, parent_commit_hash, child_tract_id, purpose, inheritance_mode, "     \
	"display_name, created_at"
#define COMMIT_EXISTS(p) "EXISTS (SELECT 1 FROM commits WHERE commit_hash = " p ")"

struct stmt_def {
	const char *sql;
	const char *types; /* one letter per parameter: t text, i int8, z timestamptz */
};

static const struct stmt_def stmts[ST_COUNT] = {
	/* Write transactions read the latest committed values (and lock the
	 * refs they read); read transactions are one snapshot. */
	[ST_BEGIN_READ] = {"BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", ""},
	[ST_BEGIN_WRITE] = {"BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE", ""},
	[ST_TXN_COMMIT] = {"COMMIT", ""},
	[ST_TXN_ROLLBACK] = {"ROLLBACK", ""},
	[ST_BLOB_PUT] = {"INSERT INTO blobs (" BLOB_COLS ") VALUES ($1, $2, $3, $4, $5) "
			 "ON CONFLICT (content_hash) DO NOTHING",
			 "ttiiz"},
	[ST_BLOB_GET] = {"SELECT " BLOB_COLS " FROM blobs WHERE content_hash = $1", "t"},
	[ST_BLOB_ALL] = {"SELECT " BLOB_COLS " FROM blobs ORDER BY content_hash", ""},
	[ST_BLOB_DELETE] = {"DELETE FROM blobs WHERE content_hash = $1", "t"},
	/* Held back: an existing hash or a missing blob / parent raises the
	 * key's error (deferred_failed() words it). */
	[ST_COMMIT_PUT] = {"INSERT INTO commits (" COMMIT_COLS ") "
			   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
			   "ttttttttittz"},
	[ST_COMMIT_GET] = {"SELECT " COMMIT_COLS " FROM commits "
			   "WHERE commit_hash = $1 AND ($2::text IS NULL OR tract_id = $2)",
			   "tt"},
	[ST_COMMIT_PREFIX] = {"SELECT " COMMIT_COLS " FROM commits "
			      "WHERE commit_hash >= $1 AND commit_hash < $2 "
			      "AND ($3::text IS NULL OR tract_id = $3) ORDER BY commit_hash LIMIT $4",
			      "ttti"},
	[ST_COMMIT_PREFIX_OPEN] = {"SELECT " COMMIT_COLS " FROM commits WHERE commit_hash >= $1 "
				   "AND ($2::text IS NULL OR tract_id = $2) "
				   "ORDER BY commit_hash LIMIT $3",
				   "tti"},
	[ST_COMMIT_ALL] = {"SELECT " COMMIT_COLS " FROM commits ORDER BY created_at, commit_hash",
			   ""},
	[ST_COMMIT_TRACT] = {"SELECT " COMMIT_COLS " FROM commits WHERE tract_id = $1 "
			     "ORDER BY created_at, commit_hash",
			     "t"},
	[ST_COMMIT_CONFIG_ALL] = {"SELECT " COMMIT_COLS " FROM commits "
				  "WHERE generation_config_json IS NOT NULL "
				  "AND generation_config_json <> 'null' "
				  "ORDER BY created_at, commit_hash",
				  ""},
	[ST_COMMIT_CONFIG_TRACT] = {"SELECT " COMMIT_COLS " FROM commits WHERE tract_id = $1 "
				    "AND generation_config_json IS NOT NULL "
				    "AND generation_config_json <> 'null' "
				    "ORDER BY created_at, commit_hash",
				    "t"},
	/* Children's parent_hash / response_to and spawn pointers are blanked
	 * by their ON DELETE SET NULL keys. */
	[ST_COMMIT_DELETE] = {"DELETE FROM commits WHERE commit_hash = $1", "t"},
	[ST_PARENT_PUT] = {"INSERT INTO commit_parents (commit_hash, parent_hash, position) "
			   "SELECT $1, $2, $3 WHERE " COMMIT_EXISTS("$1") " AND " COMMIT_EXISTS("$2")
			   " ON CONFLICT (commit_hash, parent_hash) DO NOTHING",
			   "tti"},
	[ST_PARENT_LIST] = {"SELECT commit_hash, parent_hash, position FROM commit_parents "
			    "WHERE commit_hash = $1 ORDER BY position, parent_hash",
			    "t"},
	[ST_PARENT_ALL] = {"SELECT commit_hash, parent_hash, position FROM commit_parents "
			   "ORDER BY commit_hash, position, parent_hash",
			   ""},
	[ST_PARENT_DELETE_CHILD] = {"DELETE FROM commit_parents WHERE commit_hash = $1", "t"},
	/* The ref and, when it is symbolic, its target, in one read. */
	[ST_REF_GET] = {"SELECT " REF_COLS " FROM refs WHERE tract_id = $1 AND ref_name = ANY "
			"(ARRAY[$2, (SELECT symbolic_target FROM refs WHERE tract_id = $1 "
			"AND ref_name = $2)])",
			"tt"},
	[ST_REF_GET_LOCK] = {"SELECT " REF_COLS " FROM refs WHERE tract_id = $1 AND ref_name = ANY "
			     "(ARRAY[$2, (SELECT symbolic_target FROM refs WHERE tract_id = $1 "
			     "AND ref_name = $2)]) FOR UPDATE",
			     "tt"},
	/* Held back: a ref that exists raises the primary key's error, a
	 * missing commit the foreign key's; tract_ref_move() raises
	 * STALE_STATE when the ref moved. */
	[ST_REF_INSERT] = {"INSERT INTO refs (" REF_COLS ") VALUES ($1, $2, $3, $4)", "tttt"},
	[ST_REF_MOVE] = {"SELECT tract_ref_move($1, $2, $3, $4, $5, $6)", "tttttt"},
	/*
	 * An append's three writes as one statement: what ST_BLOB_PUT,
	 * ST_COMMIT_PUT and ST_REF_MOVE held back in a row become, when they
	 * are sent (the commit row is inserted before the ref is moved to it).
	 */
	[ST_APPEND] = {"WITH b AS (INSERT INTO blobs (" BLOB_COLS ") VALUES ($1, $2, $3, $4, $5) "
		       "ON CONFLICT (content_hash) DO NOTHING), "
		       "c AS (INSERT INTO commits (" COMMIT_COLS ") VALUES ($6, $7, $8, $9, $10, "
		       "$11, $12, $13, $14, $15, $16, $17) RETURNING commit_hash) "
		       "SELECT tract_ref_move($18, $19, $20, $21, $22, $23) FROM c",
		       "ttiiz" "ttttttttittz" "tttttt"},
	[ST_REF_EXISTS] = {"SELECT EXISTS (SELECT 1 FROM refs WHERE tract_id = $1 "
			   "AND ref_name = $2)",
			   "tt"},
	[ST_REF_DELETE] = {"DELETE FROM refs WHERE tract_id = $1 AND ref_name = $2 "
			   "AND ($3 = 0 OR (commit_hash IS NOT DISTINCT FROM $4 "
			   "AND symbolic_target IS NOT DISTINCT FROM $5))",
			   "ttitt"},
	[ST_REF_TRACT] = {"SELECT " REF_COLS " FROM refs WHERE tract_id = $1 "
			  "AND ref_name >= $2 AND ref_name < $3 ORDER BY ref_name",
			  "ttt"},
	[ST_REF_TRACT_OPEN] = {"SELECT " REF_COLS " FROM refs WHERE tract_id = $1 "
			       "AND ref_name >= $2 ORDER BY ref_name",
			       "tt"},
	[ST_REF_ALL] = {"SELECT " REF_COLS " FROM refs WHERE ref_name >= $1 AND ref_name < $2 "
			"ORDER BY tract_id, ref_name",
			"tt"},
	[ST_REF_ALL_OPEN] = {"SELECT " REF_COLS " FROM refs WHERE ref_name >= $1 "
			     "ORDER BY tract_id, ref_name",
			     "t"},
	[ST_ANN_PUT] = {"INSERT INTO annotations (tract_id, target_hash, priority, reason, "
			"created_at) SELECT $1, $2, $3, $4, $5 WHERE " COMMIT_EXISTS("$2")
			" RETURNING id",
			"ttttz"},
	/* Deferred: a missing target raises the foreign key's error. */
	[ST_ANN_PUT_DEFERRED] = {"INSERT INTO annotations (tract_id, target_hash, priority, "
				 "reason, created_at) VALUES ($1, $2, $3, $4, $5)",
				 "ttttz"},
	[ST_ANN_LIST] = {"SELECT " ANN_COLS " FROM annotations WHERE target_hash = $1 "
			 "ORDER BY created_at, id",
			 "t"},
	[ST_ANN_TRACT] = {"SELECT " ANN_COLS " FROM annotations WHERE tract_id = $1 ORDER BY id",
			  "t"},
	[ST_ANN_ALL] = {"SELECT " ANN_COLS " FROM annotations ORDER BY id", ""},
	[ST_ANN_DELETE_TARGET] = {"DELETE FROM annotations WHERE target_hash = $1", "t"},
	[ST_COMP_PUT] = {"INSERT INTO compressions (" COMP_COLS ") "
			 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
			 "ON CONFLICT (compression_id) DO NOTHING",
			 "tttziiit"},
	[ST_COMP_SOURCE_PUT] = {"INSERT INTO compression_sources (compression_id, commit_hash, "
				"position) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM "
				"compressions WHERE compression_id = $1) AND " COMMIT_EXISTS("$2")
				" ON CONFLICT (compression_id, commit_hash) DO NOTHING",
				"tti"},
	[ST_COMP_RESULT_PUT] = {"INSERT INTO compression_results (compression_id, commit_hash, "
				"position) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM "
				"compressions WHERE compression_id = $1) AND " COMMIT_EXISTS("$2")
				" ON CONFLICT (compression_id, commit_hash) DO NOTHING",
				"tti"},
	[ST_COMP_GET] = {"SELECT " COMP_COLS " FROM compressions WHERE compression_id = $1", "t"},
	[ST_COMP_TRACT] = {"SELECT " COMP_COLS " FROM compressions WHERE tract_id = $1 "
			   "ORDER BY created_at, compression_id",
			   "t"},
	[ST_COMP_ALL] = {"SELECT " COMP_COLS " FROM compressions "
			 "ORDER BY created_at, compression_id",
			 ""},
	[ST_COMP_SOURCES] = {"SELECT compression_id, commit_hash, position FROM "
			     "compression_sources WHERE compression_id = $1 "
			     "ORDER BY position, commit_hash",
			     "t"},
	[ST_COMP_RESULTS] = {"SELECT compression_id, commit_hash, position FROM "
			     "compression_results WHERE compression_id = $1 "
			     "ORDER BY position, commit_hash",
			     "t"},
	[ST_COMP_DELETE] = {"DELETE FROM compressions WHERE compression_id = $1", "t"},
	[ST_COMP_SOURCES_DELETE] = {"DELETE FROM compression_sources WHERE compression_id = $1",
				    "t"},
	[ST_COMP_RESULTS_DELETE] = {"DELETE FROM compression_results WHERE compression_id = $1",
				    "t"},
	[ST_SPAWN_PUT] = {"INSERT INTO spawn_pointers (parent_tract_id, parent_commit_hash, "
			  "child_tract_id, purpose, inheritance_mode, display_name, created_at) "
			  "SELECT $1, $2, $3, $4, $5, $6, $7 "
			  "WHERE $2::text IS NULL OR " COMMIT_EXISTS("$2") " RETURNING id",
			  "ttttttz"},
	[ST_SPAWN_PARENT] = {"SELECT " SPAWN_COLS " FROM spawn_pointers "
			     "WHERE parent_tract_id = $1 ORDER BY id",
			     "t"},
	[ST_SPAWN_ALL] = {"SELECT " SPAWN_COLS " FROM spawn_pointers ORDER BY id", ""},
	[ST_SPAWN_CHILD] = {"SELECT " SPAWN_COLS " FROM spawn_pointers "
			    "WHERE child_tract_id = $1 ORDER BY id",
			    "t"},
	[ST_SPAWN_DELETE] = {"DELETE FROM spawn_pointers WHERE id = $1", "i"},
	[ST_META_GET] = {"SELECT \"key\", value FROM _trace_meta WHERE \"key\" = $1", "t"},
	[ST_META_SET] = {"INSERT INTO _trace_meta (\"key\", value) VALUES ($1, $2) "
			 "ON CONFLICT (\"key\") DO UPDATE SET value = excluded.value",
			 "tt"},
	[ST_META_DELETE] = {"DELETE FROM _trace_meta WHERE \"key\" = $1", "t"},
	[ST_META_RANGE] = {"SELECT \"key\", value FROM _trace_meta "
			   "WHERE \"key\" >= $1 AND \"key\" < $2 ORDER BY \"key\"",
			   "tt"},
	[ST_META_RANGE_OPEN] = {"SELECT \"key\", value FROM _trace_meta "
				"WHERE \"key\" >= $1 ORDER BY \"key\"",
				"t"},
	[ST_TRACTS] = {"SELECT tract_id, sum(n)::bigint, max(last) FROM ("
		       "SELECT tract_id, count(*) AS n, max(created_at) AS last FROM commits "
		       "GROUP BY tract_id UNION ALL SELECT tract_id, 0, NULL FROM refs) AS s "
		       "GROUP BY tract_id ORDER BY tract_id",
		       ""},
	/*
	 * The ancestry walk (commit_ancestry): $1 the starts as a text[]
	 * literal, $2 the tract (NULL: any), $3 the row limit. A recursive
	 * CTE whose UNION keeps each hash once (a damaged parent cycle ends);
	 * its rows come out level by level and are numbered in that order
	 * before the limit stops the recursion. The recursion carries parent
	 * hashes unchecked and expands only commits of the tract; whether a
	 * hash names one is asked outside it: a join inside would get a
	 * Memoize node, which PostgreSQL purges at every level of a recursive
	 * CTE, making a long walk quadratic. OFFSET 0 keeps the lookups
	 * primary-key probes.
	 */
	[ST_ANCESTRY] = {"WITH RECURSIVE walk(h) AS ("
			 "SELECT c.commit_hash FROM commits c WHERE c.commit_hash = ANY($1::text[]) "
			 "AND ($2::text IS NULL OR c.tract_id = $2) "
			 "UNION "
			 "SELECT par.p FROM walk w CROSS JOIN LATERAL ("
			 "SELECT x.parent_hash AS p FROM commits x WHERE x.commit_hash = w.h "
			 "AND x.parent_hash IS NOT NULL AND ($2::text IS NULL OR x.tract_id = $2) "
			 "UNION ALL SELECT y.parent_hash FROM commit_parents y "
			 "WHERE y.commit_hash = w.h) par), "
			 "firsts AS (SELECT e.commit_hash, e.created_at, e.parent_hash, "
			 "row_number() OVER () AS rn FROM walk w CROSS JOIN LATERAL ("
			 "SELECT c.commit_hash, c.created_at, c.parent_hash FROM commits c "
			 "WHERE c.commit_hash = w.h AND ($2::text IS NULL OR c.tract_id = $2) "
			 "OFFSET 0) e LIMIT $3) "
			 "SELECT f.commit_hash, f.created_at, f.parent_hash, "
			 "(SELECT string_agg(p.position || ' ' || p.parent_hash, chr(31) "
			 "ORDER BY p.position, p.parent_hash) FROM commit_parents p "
			 "WHERE p.commit_hash = f.commit_hash) "
			 "FROM firsts f ORDER BY f.rn",
			 "tti"},
	/* The search index (postgres_search.c): set or remove a blob's text
	 * and take it off the queue. */
	[ST_SEARCH_PUT] = {"WITH q AS (DELETE FROM tract_search_queue WHERE content_hash = $1), "
			   "d AS (DELETE FROM tract_search_text WHERE content_hash = $1 "
			   "AND $2::text IS NULL) "
			   "INSERT INTO tract_search_text (content_hash, text) "
			   "SELECT $1, $2 WHERE $2::text IS NOT NULL "
			   "ON CONFLICT (content_hash) DO UPDATE SET text = EXCLUDED.text",
			   "tt"},
	/*
	 * A run of appends to one ref, each on the one before (ST_APPEND's
	 * three writes, N times over), as one statement: the blobs and the
	 * commits as arrays, one element per append, inserted in order (seq
	 * grows along the chain), then one compare-and-swap from the run's
	 * first expected value to its last commit. The ref's values in between
	 * were never visible to anyone: the transaction wrote them and nothing
	 * read them from the server. count(*) makes every commit row exist
	 * before the ref moves.
	 */
	[ST_APPEND_RUN] = {"WITH b AS (INSERT INTO blobs (" BLOB_COLS ") SELECT * FROM "
			   "unnest($1, $2, $3, $4, $5) ON CONFLICT (content_hash) DO NOTHING), "
			   "c AS (INSERT INTO commits (" COMMIT_COLS ") SELECT * FROM "
			   "unnest($6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) "
			   "RETURNING commit_hash) "
			   "SELECT tract_ref_move($18, $19, $20, $21, $22, $23) "
			   "FROM (SELECT count(*) FROM c) AS n",
			   "TTIIZ" "TTTTTTTTITTZ" "tttttt"},
	/* Held back: a missing record or commit raises a foreign key's
	 * error, a member already recorded the primary key's. */
	[ST_COMP_SOURCE_PUT_DEFERRED] = {"INSERT INTO compression_sources (compression_id, "
					 "commit_hash, position) VALUES ($1, $2, $3)",
					 "tti"},
	[ST_COMP_RESULT_PUT_DEFERRED] = {"INSERT INTO compression_results (compression_id, "
					 "commit_hash, position) VALUES ($1, $2, $3)",
					 "tti"},
	/* Runs of held-back writes (batch_of): the same rows, in order. */
	[ST_BLOB_PUT_RUN] = {"INSERT INTO blobs (" BLOB_COLS ") SELECT * FROM "
			     "unnest($1, $2, $3, $4, $5) ON CONFLICT (content_hash) DO NOTHING",
			     "TTIIZ"},
	[ST_COMMIT_PUT_RUN] = {"INSERT INTO commits (" COMMIT_COLS ") SELECT * FROM "
			       "unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
			       "TTTTTTTTITTZ"},
	[ST_ANN_PUT_RUN] = {"INSERT INTO annotations (tract_id, target_hash, priority, reason, "
			    "created_at) SELECT * FROM unnest($1, $2, $3, $4, $5)",
			    "TTTTZ"},
	[ST_ANN_DELETE_RUN] = {"DELETE FROM annotations WHERE target_hash = ANY ($1)", "T"},
	[ST_COMP_SOURCE_RUN] = {"INSERT INTO compression_sources (compression_id, commit_hash, "
				"position) SELECT * FROM unnest($1, $2, $3)",
				"TTI"},
	[ST_COMP_RESULT_RUN] = {"INSERT INTO compression_results (compression_id, commit_hash, "
				"position) SELECT * FROM unnest($1, $2, $3)",
				"TTI"},
	/* commit_foreach a page at a time (in a transaction, one snapshot):
	 * the rows after ($1, $2) in (created_at, commit_hash) order, $1 NULL
	 * for the first page; $3 rows at most. Read through ix_commits_time
	 * and ix_commits_tract_time, so a page costs its rows, not a sort of
	 * every commit. */
	[ST_COMMIT_ALL_PAGE] = {"SELECT " COMMIT_COLS " FROM commits WHERE $1::timestamptz IS NULL "
				"OR (created_at, commit_hash) > ($1, $2::text) "
				"ORDER BY created_at, commit_hash LIMIT $3",
				"zti"},
	[ST_COMMIT_TRACT_PAGE] = {"SELECT " COMMIT_COLS " FROM commits WHERE tract_id = $4 AND "
				  "($1::timestamptz IS NULL OR (created_at, commit_hash) > "
				  "($1, $2::text)) ORDER BY created_at, commit_hash LIMIT $3",
				  "ztit"},
	/* A commit_get that misses in a write transaction: the commit ($1,
	 * of tract $2 or any) and, in insertion order, up to $3 - 1 commits
	 * of its tract inserted after it (an edit of each tool result, a
	 * replayed range: what the transaction reads next), through
	 * ix_commits_tract_seq. The commit is the first row. */
	[ST_COMMIT_GET_NEAR] = {"SELECT " COMMIT_COLS " FROM commits c WHERE c.tract_id = "
				"(SELECT t.tract_id FROM commits t WHERE t.commit_hash = $1 AND "
				"($2::text IS NULL OR t.tract_id = $2)) AND c.seq >= (SELECT t.seq "
				"FROM commits t WHERE t.commit_hash = $1) ORDER BY c.seq LIMIT $3",
				"tti"},
	/* An annotation_list that misses in a write transaction: the
	 * annotations of commit $1 and of up to $2 - 1 commits of its tract
	 * inserted after it, each commit at least once (column 0; no
	 * annotation: the others NULL), by commit, then created_at, id. */
	[ST_ANN_LIST_NEAR] = {"SELECT c.commit_hash, a.id, a.tract_id, a.target_hash, a.priority, "
			      "a.reason, a.created_at FROM (SELECT x.commit_hash, x.seq FROM commits x "
			      "WHERE x.tract_id = (SELECT t.tract_id FROM commits t WHERE "
			      "t.commit_hash = $1) AND x.seq >= (SELECT t.seq FROM commits t WHERE "
			      "t.commit_hash = $1) ORDER BY x.seq LIMIT $2) c LEFT JOIN annotations a "
			      "ON a.target_hash = c.commit_hash ORDER BY c.seq, a.created_at, a.id",
			      "ti"},
	/* commits_delete: the commits of $1 with their merge-parent rows and
	 * annotations; the count deleted comes back. */
	[ST_COMMITS_DELETE] = {"WITH a AS (DELETE FROM annotations WHERE target_hash = ANY ($1)), "
			       "p AS (DELETE FROM commit_parents WHERE commit_hash = ANY ($1)), "
			       "d AS (DELETE FROM commits WHERE commit_hash = ANY ($1) RETURNING 1) "
			       "SELECT count(*) FROM d",
			       "T"},
	/* blobs_delete_unused: those of $1 no commit names. */
	[ST_BLOBS_DELETE_UNUSED] = {"DELETE FROM blobs b WHERE b.content_hash = ANY ($1) "
				    "AND NOT EXISTS (SELECT 1 FROM commits c "
				    "WHERE c.content_hash = b.content_hash)",
				    "T"},
};

/* The statement that sends a run of held-back stmt writes at once (-1:
 * none; each is sent alone). */
static int batch_of(int stmt)
{
	switch (stmt) {
	case ST_BLOB_PUT:
		return ST_BLOB_PUT_RUN;
	case ST_COMMIT_PUT:
		return ST_COMMIT_PUT_RUN;
	case ST_ANN_PUT_DEFERRED:
		return ST_ANN_PUT_RUN;
	case ST_ANN_DELETE_TARGET:
		return ST_ANN_DELETE_RUN;
	case ST_COMP_SOURCE_PUT_DEFERRED:
		return ST_COMP_SOURCE_RUN;
	case ST_COMP_RESULT_PUT_DEFERRED:
		return ST_COMP_RESULT_RUN;
	default:
		return -1;
	}
}

/* ---- parameters and results --------------------------------------------- */


void p_text(struct params *p, const char *s)
{
	p->v[p->n] = s;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

void p_int(struct params *p, int64_t x)
{
	bc_put_be64(p->num[p->n], (uint64_t)x);
	p->v[p->n] = (const char *)p->num[p->n];
	p->len[p->n] = 8;
	p->fmt[p->n] = 1;
	p->n++;
}

void p_time(struct params *p, tract_time t)
{
	p_int(p, t - PG_EPOCH_USEC);
}

void p_null(struct params *p)
{
	p->v[p->n] = NULL;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

/* A cutoff of INT64_MAX is "none". */
void p_cutoff(struct params *p, tract_time t)
{
	if (t == INT64_MAX)
		p_null(p);
	else
		p_time(p, t);
}

const char *col_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* A JSON column: SQL NULL and the text 'null' both mean none. */
const char *col_json(const PGresult *r, int row, int col)
{
	const char *s = col_text(r, row, col);

	return s && strcmp(s, "null") == 0 ? NULL : s;
}

/* An integer column in binary form (int8, int4 or int2). */
int64_t col_int(const PGresult *r, int row, int col)
{
	const unsigned char *v = (const unsigned char *)PQgetvalue(r, row, col);

	if (PQgetisnull(r, row, col))
		return 0;
	switch (PQgetlength(r, row, col)) {
	case 8:
		return (int64_t)bc_get_be64(v);
	case 4:
		return (int32_t)(((uint32_t)v[0] << 24) | ((uint32_t)v[1] << 16) |
				 ((uint32_t)v[2] << 8) | v[3]);
	case 2:
		return (int16_t)(((uint16_t)v[0] << 8) | v[1]);
	default:
		return 0;
	}
}

tract_time col_time(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return TRACT_TIME_NONE;
	return col_int(r, row, col) + PG_EPOCH_USEC;
}

bool col_bool(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetlength(r, row, col) == 1 &&
	       PQgetvalue(r, row, col)[0] != 0;
}

/* Rows changed by a write (or returned by INSERT ... RETURNING). */
long changed_rows(const PGresult *r)
{
	const char *n = PQcmdTuples((PGresult *)r);

	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return PQntuples(r);
	return n && *n ? strtol(n, NULL, 10) : 0;
}

/* ---- the round trip ----------------------------------------------------- */

static void deferred_free(struct deferred *d)
{
	free(d->mem);
	free(d->context);
	free(d->unique_msg);
	memset(d, 0, sizeof(*d));
}

void queue_clear(tract_backend_conn *conn)
{
	size_t i;

	for (i = 0; i < conn->n_queue; i++)
		deferred_free(&conn->queue[i]);
	conn->n_queue = 0;
	conn->queue_bytes = 0;
}

static void stmt_name(char *buf, size_t len, int stmt)
{
	snprintf(buf, len, "tract_%d", stmt);
}

static const char *stmt_sql(tract_backend_conn *conn, int stmt, const char **types)
{
	if (stmt >= ST_COUNT) {
		*types = "ttiz";
		return conn->chain_sql[stmt - ST_COUNT];
	}
	*types = stmts[stmt].types;
	return stmts[stmt].sql;
}

static void fill_types(Oid *oids, const char *types)
{
	size_t i;

	for (i = 0; types[i]; i++)
		oids[i] = types[i] == 'i'   ? OID_INT8
			  : types[i] == 'z' ? OID_TIMESTAMPTZ
			  : types[i] == 'T' ? OID_TEXT_ARRAY
			  : types[i] == 'I' ? OID_INT8_ARRAY
			  : types[i] == 'Z' ? OID_TIMESTAMPTZ_ARRAY
					    : OID_TEXT;
}

/* Queue one statement on the pipeline (a Prepare first when it is not
 * prepared yet, nor being prepared by this round trip: pending). *prep is
 * set when a Prepare was sent for it. */
static bool send_op(tract_backend_conn *conn, const struct op *o, bool *pending, bool *prep)
{
	static const struct params none = {0};
	const struct params *p = o->p ? o->p : &none;
	Oid oids[MAXP];
	char name[32];
	const char *types, *sql;

	*prep = false;
	if (o->stmt < 0) {
		fill_types(oids, o->types ? o->types : "");
		return PQsendQueryParams(conn->pg, o->sql, p->n, p->n ? oids : NULL, p->v, p->len,
					 p->fmt, 1) == 1;
	}
	stmt_name(name, sizeof(name), o->stmt);
	if (!conn->prepared[o->stmt] && !pending[o->stmt]) {
		pending[o->stmt] = true;
		sql = stmt_sql(conn, o->stmt, &types);
		fill_types(oids, types);
		if (PQsendPrepare(conn->pg, name, sql, (int)strlen(types), oids) != 1)
			return false;
		*prep = true;
	}
	return PQsendQueryPrepared(conn->pg, name, p->n, p->v, p->len, p->fmt, 1) == 1;
}

/* What one sent message is: a Prepare (of stmt) or a statement. */
struct sent {
	int stmt;
	bool prepare;
	struct op *op;          /* the caller's op, or NULL */
	struct deferred *def;   /* a deferred write, or NULL (ST_APPEND: the first of 3) */
	size_t run;             /* ST_APPEND_RUN: how many appends from def on */
	bool begin;
	PGresult *res;
};

/* Three deferred writes that ST_APPEND sends as one statement? */
static bool is_append(const struct deferred *q, size_t n, size_t i)
{
	return i + 2 < n && q[i].stmt == ST_BLOB_PUT && q[i + 1].stmt == ST_COMMIT_PUT &&
	       q[i + 2].stmt == ST_REF_MOVE &&
	       strcmp(q[i + 1].p.v[0], q[i + 2].p.v[2] ? q[i + 2].p.v[2] : "") == 0 &&
	       strcmp(q[i].p.v[0], q[i + 1].p.v[3]) == 0;
}

/* The parameters of ST_APPEND: those of the three writes, in order. */
static void append_params(struct params *out, const struct deferred *q)
{
	int k, j;

	memset(out, 0, sizeof(*out));
	for (k = 0; k < 3; k++) {
		for (j = 0; j < q[k].p.n; j++) {
			out->v[out->n] = q[k].p.v[j];
			out->len[out->n] = q[k].p.len[j];
			out->fmt[out->n] = q[k].p.fmt[j];
			out->n++;
		}
	}
}

/* Two text parameters equal (both NULL counts as equal)? */
static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/*
 * How many appends (ST_APPEND's three writes each) from q[i] on move one
 * ref in a chain: each compare-and-swap expects the commit the one before
 * set. 0 when q[i] does not start an append.
 */
static size_t append_run(const struct deferred *q, size_t n, size_t i)
{
	size_t k = 0;

	while (is_append(q, n, i + 3 * k)) {
		if (k > 0) {
			const struct params *prev = &q[i + 3 * k - 1].p, *next = &q[i + 3 * k + 2].p;
			/* ref move: tract, name, commit, symbolic, expected commit,
			 * expected symbolic */
			if (prev->n != 6 || next->n != 6 || !same_text(prev->v[0], next->v[0]) ||
			    !same_text(prev->v[1], next->v[1]) || prev->v[3] || next->v[5] ||
			    !prev->v[2] || !same_text(prev->v[2], next->v[4]))
				break;
		}
		k++;
	}
	return k;
}

/* A growable byte buffer for a binary array parameter. */
struct abuf {
	unsigned char *data;
	size_t len, cap;
	bool failed;
};

static void abuf_put(struct abuf *b, const void *src, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		unsigned char *d;
		while (ncap < b->len + n)
			ncap *= 2;
		d = realloc(b->data, ncap);
		if (!d) {
			b->failed = true;
			return;
		}
		b->data = d;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, src, n);
	b->len += n;
}

static void abuf_int32(struct abuf *b, int32_t x)
{
	unsigned char v[4] = {(unsigned char)((uint32_t)x >> 24), (unsigned char)((uint32_t)x >> 16),
			      (unsigned char)((uint32_t)x >> 8), (unsigned char)x};

	abuf_put(b, v, 4);
}

/*
 * Parameter col of the writes q[0], q[3], q[6]... (count of them) as a
 * one-dimensional array in PostgreSQL's binary form: header, dimension,
 * then each element's length (-1: NULL) and bytes. An element's bytes are
 * the parameter's own, text or binary (int8 and timestamptz are both a
 * big-endian int64, as p_int and p_time store them).
 */
static void array_param(struct abuf *b, const struct deferred *q, size_t stride, size_t count,
			int col, Oid elem)
{
	bool nulls = false;
	size_t k;

	for (k = 0; k < count; k++)
		nulls = nulls || !q[stride * k].p.v[col];
	b->len = 0;
	abuf_int32(b, 1);
	abuf_int32(b, nulls);
	abuf_int32(b, (int32_t)elem);
	abuf_int32(b, (int32_t)count);
	abuf_int32(b, 1);
	for (k = 0; k < count; k++) {
		const struct params *p = &q[stride * k].p;
		size_t n;
		if (!p->v[col]) {
			abuf_int32(b, -1);
			continue;
		}
		n = p->fmt[col] ? 8 : strlen(p->v[col]);
		abuf_int32(b, (int32_t)n);
		abuf_put(b, p->v[col], n);
	}
}

static Oid elem_oid(char type)
{
	return type == 'i' ? OID_INT8 : type == 'z' ? OID_TIMESTAMPTZ : OID_TEXT;
}

/* How many writes from q[i] on are held-back writes of one statement
 * that batch_of() sends as a run (with as many parameters each). */
static size_t same_run(const struct deferred *q, size_t n, size_t i)
{
	size_t k = 1;

	if (batch_of(q[i].stmt) < 0)
		return 0;
	while (i + k < n && q[i + k].stmt == q[i].stmt && q[i + k].p.n == q[i].p.n)
		k++;
	return k;
}

/* v[0..n-1] as a text[] parameter in binary form (malloc'd; *len its
 * size), or NULL when out of memory. */
unsigned char *text_array(const char *const *v, size_t n, size_t *len)
{
	struct abuf b = {0};
	size_t k;

	abuf_int32(&b, 1);
	abuf_int32(&b, 0);
	abuf_int32(&b, OID_TEXT);
	abuf_int32(&b, (int32_t)n);
	abuf_int32(&b, 1);
	for (k = 0; k < n; k++) {
		size_t l = strlen(v[k]);
		abuf_int32(&b, (int32_t)l);
		abuf_put(&b, v[k], l);
	}
	if (b.failed) {
		free(b.data);
		return NULL;
	}
	*len = b.len;
	return b.data;
}

/* The array parameters of a run of count writes of stmt from q[0] on
 * (one per parameter of stmt). false: out of memory. */
static bool run_params(struct params *out, struct abuf *bufs, const struct deferred *q,
		       size_t count)
{
	const char *types = stmts[q[0].stmt].types;
	int j;

	memset(out, 0, sizeof(*out));
	for (j = 0; types[j]; j++) {
		array_param(&bufs[j], q, 1, count, j, elem_oid(types[j]));
		if (bufs[j].failed)
			return false;
		out->v[out->n] = (const char *)bufs[j].data;
		out->len[out->n] = (int)bufs[j].len;
		out->fmt[out->n] = 1;
		out->n++;
	}
	return true;
}

/* The 17 array parameters of ST_APPEND_RUN (the blobs' and the commits'
 * columns; bufs holds them) and its 6 scalar ones, for count appends from
 * q[0] on. false: out of memory. */
static bool append_run_params(struct params *out, struct abuf *bufs, const struct deferred *q,
			      size_t count)
{
	static const char blob_types[] = "ttiiz", commit_types[] = "ttttttttittz";
	const struct params *first_ref = &q[2].p, *last_ref = &q[3 * (count - 1) + 2].p;
	int j, a = 0;

	memset(out, 0, sizeof(*out));
	for (j = 0; j < 5; j++, a++)
		array_param(&bufs[a], q, 3, count, j, elem_oid(blob_types[j]));
	for (j = 0; j < 12; j++, a++)
		array_param(&bufs[a], q + 1, 3, count, j, elem_oid(commit_types[j]));
	for (j = 0; j < a; j++) {
		if (bufs[j].failed)
			return false;
		out->v[out->n] = (const char *)bufs[j].data;
		out->len[out->n] = (int)bufs[j].len;
		out->fmt[out->n] = 1;
		out->n++;
	}
	/* tract, name, the last commit and symbolic target, the first
	 * expected commit and symbolic target */
	for (j = 0; j < 6; j++) {
		const struct params *src = j < 4 ? last_ref : first_ref;
		out->v[out->n] = src->v[j];
		out->len[out->n] = src->len[j];
		out->fmt[out->n] = src->fmt[j];
		out->n++;
	}
	return true;
}

/* Word the failure of a held-back write. */
static int deferred_failed(tract_backend_conn *conn, const struct deferred *d, int stmt,
			   size_t run, const PGresult *res)
{
	bool append = stmt == ST_APPEND || stmt == ST_APPEND_RUN;
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

	/* Of an append's three writes, the commit's or the ref's failed; of a
	 * run of them, the first ref move, or the commit the key names. */
	if (append && run > 1) {
		const char *key = detail ? strstr(detail, ")=(") : NULL;
		size_t k;
		if ((state && strcmp(state, STALE_STATE) == 0) ||
		    (constraint && strncmp(constraint, "refs_", 5) == 0)) {
			d += 2;
		} else {
			const struct deferred *c = d + 1;
			for (k = 0; key && k < run; k++) {
				const char *h = d[3 * k + 1].p.v[0];
				size_t hl = strlen(h);
				if (strncmp(key + 3, h, hl) == 0 && key[3 + hl] == ')') {
					c = &d[3 * k + 1];
					break;
				}
			}
			d = c;
		}
	} else if (append) {
		d += constraint && strncmp(constraint, "refs_", 5) == 0 ? 2 : 1;
	} else if (run > 1) {
		/* a run of one statement: the write the key names */
		const char *key = detail ? strstr(detail, ")=(") : NULL;
		size_t k;
		int j;
		for (k = 0; key && k < run; k++) {
			bool hit = false;
			for (j = 0; j < d[k].p.n && !hit; j++) {
				const char *v = d[k].p.v[j];
				size_t vl = v && !d[k].p.fmt[j] ? strlen(v) : 0;
				hit = vl && strncmp(key + 3, v, vl) == 0 && key[3 + vl] == ')';
			}
			if (hit) {
				d += k;
				break;
			}
		}
	}

	if (state && strcmp(state, "23505") == 0 && d->unique_msg)
		return fail(conn, d->unique_code, "%s", d->unique_msg);
	if (state && strncmp(state, "23", 2) == 0 && d->context)
		return fail(conn, TRACT_ESTORAGE, "postgres: %s (%s)", d->context,
			    detail ? detail : primary ? primary : "constraint violated");
	return fail_res(conn, res, "write");
}

/*
 * One round trip: BEGIN when the transaction is still queued, the
 * deferred writes, then ops[0..n-1], and one Sync. On success every
 * ops[i].res holds its result (the caller clears it). A deferred write
 * whose expectation fails, or a failing statement, fails the call; the
 * other results are then cleared.
 *
 * A dead connection is re-established and everything sent again when
 * nothing of it can have been applied: a transaction whose BEGIN was part
 * of this round trip (it held no COMMIT), or statements outside any
 * transaction that write nothing.
 */
int round_trip(tract_backend_conn *conn, struct op *ops, int n, const char *what)
{
	struct sent *sent = NULL;
	struct abuf bufs[17];
	bool pending[N_PREPARED];
	size_t n_sent = 0, cap, i;
	bool begin = conn->txn == TXN_QUEUED, implicit_writes, broken = false, prep;
	int rc = 0, k, attempt;

	memset(bufs, 0, sizeof(bufs));
	for (k = 0; k < n; k++)
		ops[k].res = NULL;
	/* Outside a transaction, writes commit at the Sync. */
	implicit_writes = conn->txn == TXN_NONE && conn->n_queue > 0;
	for (k = 0; k < n; k++)
		implicit_writes = implicit_writes || (conn->txn == TXN_NONE && ops[k].write);
	if (conn->txn == TXN_OPEN && conn->txn_failed)
		return fail(conn, TRACT_ESTORAGE,
			    "postgres: the transaction failed earlier and must be rolled back");
	cap = 2 * ((size_t)n + conn->n_queue + 1);
	sent = calloc(cap, sizeof(*sent));
	if (!sent)
		return oom(conn);
	for (attempt = 0;; attempt++) {
		if (connection_lost(conn) && conn->txn != TXN_OPEN) {
			rc = reconnect(conn);
			if (rc < 0)
				goto done;
		}
		n_sent = 0;
		broken = false;
		memset(pending, 0, sizeof(pending));
		if (begin) {
			struct op b = {.stmt = conn->kind == TRACT_TXN_WRITE ? ST_BEGIN_WRITE
									    : ST_BEGIN_READ};
			if (!send_op(conn, &b, pending, &prep))
				broken = true;
			if (prep)
				sent[n_sent++] = (struct sent){.stmt = b.stmt, .prepare = true};
			sent[n_sent++] = (struct sent){.stmt = b.stmt, .begin = true};
		}
		for (i = 0; !broken && i < conn->n_queue; i++) {
			struct deferred *d = &conn->queue[i];
			struct op o = {.stmt = d->stmt, .p = &d->p, .write = true};
			struct params ap;
			size_t run = append_run(conn->queue, conn->n_queue, i);
			bool sent_ok;
			size_t same = run ? 0 : same_run(conn->queue, conn->n_queue, i);
			/* (out of memory for the arrays: the writes one by one) */
			if (run > 1 && append_run_params(&ap, bufs, d, run)) {
				o.stmt = ST_APPEND_RUN;
				o.p = &ap;
			} else if (run > 0) {
				run = 1;
				append_params(&ap, d);
				o.stmt = ST_APPEND;
				o.p = &ap;
			} else if (same > 1 && run_params(&ap, bufs, d, same)) {
				o.stmt = batch_of(d->stmt);
				o.p = &ap;
			} else {
				same = 0;
			}
			sent_ok = send_op(conn, &o, pending, &prep);
			if (!sent_ok) {
				broken = true;
				break;
			}
			if (prep)
				sent[n_sent++] = (struct sent){.stmt = o.stmt, .prepare = true};
			sent[n_sent++] = (struct sent){.stmt = o.stmt, .def = d,
						       .run = run ? run : same};
			if (run > 0)
				i += 3 * run - 1;
			else if (same > 1)
				i += same - 1;
		}
		for (k = 0; !broken && k < n; k++) {
			if (!send_op(conn, &ops[k], pending, &prep)) {
				broken = true;
				break;
			}
			if (prep)
				sent[n_sent++] = (struct sent){.stmt = ops[k].stmt, .prepare = true};
			sent[n_sent++] = (struct sent){.stmt = ops[k].stmt, .op = &ops[k]};
		}
		if (!broken && PQpipelineSync(conn->pg) != 1)
			broken = true;
		/* Collect: each message's result, then NULL; then the Sync. */
		for (i = 0; !broken && i < n_sent; i++) {
			PGresult *r = PQgetResult(conn->pg), *extra;
			if (!r) {
				broken = true;
				break;
			}
			sent[i].res = r;
			while ((extra = PQgetResult(conn->pg)) != NULL) {
				if (PQresultStatus(extra) == PGRES_PIPELINE_SYNC) {
					/* Should not happen: a message without its NULL. */
					PQclear(extra);
					break;
				}
				PQclear(extra);
			}
			if (connection_lost(conn))
				broken = true;
		}
		if (!broken) {
			PGresult *s = PQgetResult(conn->pg);
			if (!s || PQresultStatus(s) != PGRES_PIPELINE_SYNC)
				broken = connection_lost(conn) || !s;
			PQclear(s);
		}
		if (!broken || !connection_lost(conn)) {
			if (broken) {
				/* Not where libpq should be: start afresh next time. */
				conn->poisoned = true;
				if (conn->txn == TXN_OPEN || begin)
					conn->txn_failed = true;
				if (begin)
					conn->txn = TXN_OPEN;
				for (i = 0; i < n_sent; i++)
					PQclear(sent[i].res);
				n_sent = 0;
				rc = fail(conn, TRACT_ESTORAGE,
					  "postgres: the connection lost its place");
				goto done;
			}
			break;
		}
		/*
		 * The connection is gone. Did anything of this round trip take
		 * effect? The server runs the messages in order and nothing
		 * after one it answered with an error; so when that message
		 * comes before the commit point (COMMIT, or the Sync of writes
		 * outside a transaction), nothing was committed. Everything
		 * answered, COMMIT included, means committed (only the Sync's
		 * answer went missing).
		 */
		{
			size_t bad, commit_at = n_sent;
			bool has_commit = implicit_writes, not_applied;

			for (i = 0; i < n_sent; i++)
				if (sent[i].op && sent[i].op->stmt == ST_TXN_COMMIT) {
					commit_at = i;
					has_commit = true;
				}
			for (bad = 0; bad < n_sent; bad++) {
				ExecStatusType st = sent[bad].res ? PQresultStatus(sent[bad].res)
								  : PGRES_FATAL_ERROR;
				if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
					break;
			}
			if (bad == n_sent && has_commit && commit_at < n_sent)
				break; /* all answered: go on with the results */
			not_applied = !has_commit || (bad < commit_at && sent[bad].res != NULL);
			for (i = 0; i < n_sent; i++)
				if (sent[i].res)
					PQclear(sent[i].res);
			n_sent = 0;
			if (attempt == 0 && not_applied && (begin || conn->txn == TXN_NONE)) {
				/* Nothing of it ran on a transaction of the server's:
				 * send it all again on a new connection. */
				rc = reconnect(conn);
				if (rc < 0)
					goto done;
				continue;
			}
			if (has_commit && !not_applied)
				rc = fail(conn, TRACT_ESTORAGE,
					  "postgres: connection to the server lost during COMMIT; "
					  "the transaction may or may not have been committed");
			else if (has_commit)
				rc = fail(conn, TRACT_ESTORAGE,
					  "postgres: connection to the server lost; the transaction "
					  "was not committed");
			else
				rc = fail_res(conn, NULL, what);
			if (conn->txn == TXN_OPEN || begin)
				conn->txn_failed = true;
			if (begin)
				conn->txn = TXN_OPEN;
			goto done;
		}
	}
	if (begin)
		conn->txn = TXN_OPEN;
	/* Interpret, in order: the first failure wins. */
	for (i = 0; i < n_sent; i++) {
		struct sent *s = &sent[i];
		ExecStatusType st = PQresultStatus(s->res);
		bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

		if (s->prepare) {
			if (ok)
				conn->prepared[s->stmt] = true;
			else if (rc == 0 && st != PGRES_PIPELINE_ABORTED)
				rc = fail_res(conn, s->res, what);
			continue;
		}
		if (!ok && rc == 0 && st != PGRES_PIPELINE_ABORTED)
			rc = s->def ? deferred_failed(conn, s->def, s->stmt, s->run, s->res)
				    : fail_res(conn, s->res, what);
		/* A failed statement aborts the server's transaction. */
		if (!ok && conn->txn == TXN_OPEN)
			conn->txn_failed = true;
	}
	for (i = 0; i < n_sent; i++) {
		if (sent[i].op && rc == 0) {
			sent[i].op->res = sent[i].res;
			continue;
		}
		PQclear(sent[i].res);
	}
	queue_clear(conn);
done:
	if (rc < 0)
		queue_clear(conn);
	for (k = 0; k < 17; k++)
		free(bufs[k].data);
	free(sent);
	return rc;
}

/* Run one prepared statement; *res gets its result. */
int run(tract_backend_conn *conn, int stmt, const struct params *p, bool write,
	PGresult **res, const char *what)
{
	struct op o = {.stmt = stmt, .p = p, .write = write};
	int rc = round_trip(conn, &o, 1, what);

	*res = o.res;
	return rc;
}

/* Run a write; *changed (may be NULL) gets the rows it changed. */
int run_write(tract_backend_conn *conn, int stmt, const struct params *p, long *changed,
	      const char *what)
{
	PGresult *res = NULL;
	int rc = run(conn, stmt, p, true, &res, what);

	if (changed)
		*changed = rc == 0 ? changed_rows(res) : 0;
	PQclear(res);
	return rc;
}

/*
 * Hold a write back for the next round trip; outside a transaction it is
 * sent at once. context (may be NULL) names the write in the message of a
 * violated key; a unique violation gives unique_code and unique_msg (NULL:
 * treated like any other key).
 */
int defer_write(tract_backend_conn *conn, int stmt, const struct params *p,
		const char *context, int unique_code, const char *unique_msg)
{
	struct deferred *d;
	size_t need = 0;
	char *at;
	int i, rc;

	for (i = 0; i < p->n; i++)
		need += p->v[i] ? (p->fmt[i] ? 8 : strlen(p->v[i]) + 1) : 0;
	if (conn->n_queue >= MAX_DEFERRED ||
	    (conn->n_queue > 0 && conn->queue_bytes + need > MAX_DEFERRED_BYTES)) {
		rc = round_trip(conn, NULL, 0, "write");
		if (rc < 0)
			return rc;
	}
	if (conn->n_queue == conn->cap_queue) {
		size_t ncap = conn->cap_queue ? 2 * conn->cap_queue : 8;
		struct deferred *q = realloc(conn->queue, ncap * sizeof(*q));
		if (!q)
			return oom(conn);
		conn->queue = q;
		conn->cap_queue = ncap;
	}
	d = &conn->queue[conn->n_queue];
	memset(d, 0, sizeof(*d));
	d->mem = malloc(need ? need : 1);
	d->context = context ? strdup(context) : NULL;
	d->unique_msg = unique_msg ? strdup(unique_msg) : NULL;
	if (!d->mem || (context && !d->context) || (unique_msg && !d->unique_msg)) {
		deferred_free(d);
		return oom(conn);
	}
	d->stmt = stmt;
	d->p = *p;
	d->unique_code = unique_code;
	at = d->mem;
	for (i = 0; i < p->n; i++) {
		size_t n;
		if (!p->v[i])
			continue;
		n = p->fmt[i] ? 8 : strlen(p->v[i]) + 1;
		memcpy(at, p->v[i], n);
		d->p.v[i] = at;
		at += n;
	}
	conn->n_queue++;
	conn->queue_bytes += need;
	if (conn->txn == TXN_NONE || conn->txn_failed)
		return round_trip(conn, NULL, 0, "write");
	return 0;
}

/* ---- guarded statements ------------------------------------------------- */

/*
 * Run ops as one unit inside the caller's transaction: a failing
 * statement is undone alone (a savepoint), so the transaction goes on, as
 * a failed statement does in SQLite. Outside a transaction the round
 * trip's implicit transaction already makes them one unit.
 */
int run_guarded(tract_backend_conn *conn, struct op *ops, int n, const char *what)
{
	struct op all[8];
	int k, rc;

	if (conn->txn == TXN_NONE)
		return round_trip(conn, ops, n, what);
	all[0] = (struct op){.stmt = -1, .sql = "SAVEPOINT tract_guard"};
	for (k = 0; k < n; k++)
		all[k + 1] = ops[k];
	all[n + 1] = (struct op){.stmt = -1, .sql = "RELEASE SAVEPOINT tract_guard"};
	rc = round_trip(conn, all, n + 2, what);
	if (rc == 0) {
		PQclear(all[0].res);
		PQclear(all[n + 1].res);
		for (k = 0; k < n; k++)
			ops[k].res = all[k + 1].res;
		return 0;
	}
	if (conn->txn == TXN_OPEN && conn->txn_failed && !connection_lost(conn)) {
		struct op undo[2] = {
			{.stmt = -1, .sql = "ROLLBACK TO SAVEPOINT tract_guard"},
			{.stmt = -1, .sql = "RELEASE SAVEPOINT tract_guard"},
		};
		char keep[ERRLEN];
		int rc2;

		memcpy(keep, conn->err, sizeof(keep));
		conn->txn_failed = false;
		rc2 = round_trip(conn, undo, 2, what);
		if (rc2 == 0) {
			PQclear(undo[0].res);
			PQclear(undo[1].res);
			memcpy(conn->err, keep, sizeof(keep));
		} else {
			conn->txn_failed = true;
		}
	}
	return rc;
}

/* ---- iteration and rows ------------------------------------------------- */

/* Hand every row of res to emit; the callback's value stops it. */
static int each_row(const PGresult *res, row_emit_fn emit, const struct sink *sk)
{
	int i, n = PQntuples(res), rc;

	for (i = 0; i < n; i++) {
		rc = emit(res, i, sk);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	return 0;
}

/* Run a query and hand its rows over. The result is complete before the
 * first callback, so callbacks may use the connection again. */
int query_each(tract_backend_conn *conn, int stmt, const struct params *p,
	       row_emit_fn emit, const struct sink *sk, int *n_rows, const char *what)
{
	PGresult *res = NULL;
	int rc = run(conn, stmt, p, false, &res, what);

	if (n_rows)
		*n_rows = rc == 0 ? PQntuples(res) : 0;
	if (rc == 0)
		rc = each_row(res, emit, sk);
	PQclear(res);
	return rc;
}

/* A query expected to give one row: ENOTFOUND (naming what) when none. */
int query_one(tract_backend_conn *conn, int stmt, const struct params *p,
	      row_emit_fn emit, const struct sink *sk, const char *what, const char *key)
{
	int n = 0, rc = query_each(conn, stmt, p, emit, sk, &n, what);

	if (rc == 0 && n == 0)
		return fail(conn, TRACT_ENOTFOUND, "%s not found: %s", what, key);
	return rc;
}

void read_commit(const PGresult *r, int i, tract_commit_row *c)
{
	c->commit_hash = col_text(r, i, 0);
	c->tract_id = col_text(r, i, 1);
	c->parent_hash = col_text(r, i, 2);
	c->content_hash = col_text(r, i, 3);
	c->content_type = col_text(r, i, 4);
	c->operation = tract_backend_operation_parse(col_text(r, i, 5));
	c->response_to = col_text(r, i, 6);
	c->message = col_text(r, i, 7);
	c->token_count = col_int(r, i, 8);
	c->metadata_json = col_json(r, i, 9);
	c->generation_config_json = col_json(r, i, 10);
	c->created_at = col_time(r, i, 11);
}

int emit_blob(const PGresult *r, int i, const struct sink *sk)
{
	tract_blob_row b = {
		.content_hash = col_text(r, i, 0),
		.payload_json = col_text(r, i, 1),
		.byte_size = col_int(r, i, 2),
		.token_count = col_int(r, i, 3),
		.created_at = col_time(r, i, 4),
	};

	return sk->fn.blob(&b, sk->payload);
}

int emit_commit(const PGresult *r, int i, const struct sink *sk)
{
	tract_commit_row c;

	read_commit(r, i, &c);
	return sk->fn.commit(&c, sk->payload);
}

int emit_ref(const PGresult *r, int i, const struct sink *sk)
{
	tract_ref_row ref = {
		.tract_id = col_text(r, i, 0),
		.ref_name = col_text(r, i, 1),
		.commit_hash = col_text(r, i, 2),
		.symbolic_target = col_text(r, i, 3),
	};

	return sk->fn.ref(&ref, sk->payload);
}

int emit_annotation(const PGresult *r, int i, const struct sink *sk)
{
	tract_annotation_row a = {
		.id = col_int(r, i, 0),
		.tract_id = col_text(r, i, 1),
		.target_hash = col_text(r, i, 2),
		.priority = tract_backend_priority_parse(col_text(r, i, 3)),
		.reason = col_text(r, i, 4),
		.created_at = col_time(r, i, 5),
	};

	return sk->fn.annotation(&a, sk->payload);
}

int emit_parent(const PGresult *r, int i, const struct sink *sk)
{
	return sk->fn.parent(col_text(r, i, 0), col_text(r, i, 1), col_int(r, i, 2), sk->payload);
}

int emit_member(const PGresult *r, int i, const struct sink *sk)
{
	return sk->fn.member(col_text(r, i, 0), col_text(r, i, 1), col_int(r, i, 2), sk->payload);
}

int emit_compression(const PGresult *r, int i, const struct sink *sk)
{
	tract_compression_row c = {
		.compression_id = col_text(r, i, 0),
		.tract_id = col_text(r, i, 1),
		.branch_name = col_text(r, i, 2),
		.created_at = col_time(r, i, 3),
		.original_tokens = col_int(r, i, 4),
		.compressed_tokens = col_int(r, i, 5),
		.target_tokens = PQgetisnull(r, i, 6) ? -1 : col_int(r, i, 6),
		.instructions = col_text(r, i, 7),
	};

	return sk->fn.compression(&c, sk->payload);
}

int emit_spawn(const PGresult *r, int i, const struct sink *sk)
{
	tract_spawn_row s = {
		.id = col_int(r, i, 0),
		.parent_tract_id = col_text(r, i, 1),
		.parent_commit_hash = col_text(r, i, 2),
		.child_tract_id = col_text(r, i, 3),
		.purpose = col_text(r, i, 4),
		.inheritance_mode = col_text(r, i, 5),
		.display_name = col_text(r, i, 6),
		.created_at = col_time(r, i, 7),
	};

	return sk->fn.spawn(&s, sk->payload);
}

int emit_meta(const PGresult *r, int i, const struct sink *sk)
{
	return sk->fn.meta(col_text(r, i, 0), col_text(r, i, 1), sk->payload);
}

int emit_tract(const PGresult *r, int i, const struct sink *sk)
{
	tract_tract_row t = {
		.tract_id = col_text(r, i, 0),
		.commit_count = col_int(r, i, 1),
		.last_activity = col_time(r, i, 2),
	};

	return sk->fn.tract(&t, sk->payload);
}
