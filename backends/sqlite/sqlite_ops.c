/*
 * sqlite_ops.c - the SQLite backend's operations on rows: blobs, commits,
 * merge parents, refs (compare-and-swap), annotations, compression
 * records, spawn pointers, store metadata, the tract list, and the
 * deletions of garbage collection.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "deletes.h"
#include "sqlite_internal.h"

/* ---- blobs --------------------------------------------------------------- */

int sqlite_blob_put(tract_backend_conn *conn, const tract_blob_row *row, int *inserted)
{
	struct query q;
	int rc, b, changes = 0, large;

	CHECK_ARG(conn, row && row->content_hash && row->payload_json);
	large = row->byte_size > SQLITE_LARGE_BLOB;
	rc = query_start(conn, ST_BLOB_PUT, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, row->content_hash);
	b = b ? b : bind_text(q.st, 2, row->payload_json);
	b = b ? b : sqlite3_bind_int64(q.st, 3, row->byte_size);
	b = b ? b : sqlite3_bind_int64(q.st, 4, row->token_count);
	b = b ? b : bind_time(q.st, 5, row->created_at);
	if (large) {
		/* A large payload's overflow pages would all wait, dirty, in the
		 * 64 MiB page cache until the commit: with a small cache they
		 * spill to the WAL as they are written instead. */
		sqlite3_exec(conn->db, SQLITE_CACHE_PRAGMA_LARGE_WRITE, NULL, NULL, NULL);
	}
	rc = run_write(conn, &q, b, &changes);
	if (large)
		sqlite3_exec(conn->db, SQLITE_CACHE_PRAGMA, NULL, NULL, NULL);
	if (inserted)
		*inserted = rc == 0 && changes > 0;
	return rc;
}

int sqlite_blob_get(tract_backend_conn *conn, const char *content_hash, tract_blob_cb cb,
		    void *payload)
{
	struct sink sk = {.fn.blob = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, content_hash && cb);
	rc = query_start(conn, ST_BLOB_GET, &q);
	if (rc < 0)
		return rc;
	return run_one(conn, &q, bind_text(q.st, 1, content_hash), emit_blob, &sk, "blob",
		       content_hash);
}

int sqlite_blob_foreach(tract_backend_conn *conn, tract_blob_cb cb, void *payload)
{
	struct sink sk = {.fn.blob = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, cb);
	rc = query_start(conn, ST_BLOB_ALL, &q);
	if (rc < 0)
		return rc;
	return run_each(conn, &q, SQLITE_OK, emit_blob, &sk, NULL);
}

/* Delete by one text key; ENOTFOUND (naming what) when nothing was deleted. */
static int delete_by_key(tract_backend_conn *conn, enum stmt_id id, const char *key,
			 const char *what)
{
	struct query q;
	int rc, changes = 0;

	rc = query_start(conn, id, &q);
	if (rc < 0)
		return rc;
	rc = run_write(conn, &q, bind_text(q.st, 1, key), &changes);
	if (rc == 0 && changes == 0 && what)
		return fail(conn, TRACT_ENOTFOUND, "%s not found: %s", what, key);
	return rc;
}

/*
 * The indexes deleting a commit or a blob needs: every foreign key that
 * names a commit or a blob is checked (or blanked) on delete, and without
 * an index each check scans its table (the reference's schema has none on
 * parent_hash or content_hash: its gc takes minutes). Made on the first
 * deletion through this connection, in its write transaction, not with
 * the schema: only stores that are garbage collected pay for them on
 * every append. Extra indexes are invisible to the reference.
 */
static int ensure_delete_indexes(tract_backend_conn *conn)
{
	int rc;

	if (conn->delete_indexes)
		return 0;
	rc = sqlite3_exec(
	    conn->db,
	    "CREATE INDEX IF NOT EXISTS ix_commits_parent ON commits (parent_hash);"
	    "CREATE INDEX IF NOT EXISTS ix_commits_content ON commits (content_hash);"
	    "CREATE INDEX IF NOT EXISTS ix_refs_commit ON refs (commit_hash);"
	    "CREATE INDEX IF NOT EXISTS ix_commit_parents_parent ON commit_parents (parent_hash);"
	    "CREATE INDEX IF NOT EXISTS ix_compression_sources_commit "
	    "ON compression_sources (commit_hash);"
	    "CREATE INDEX IF NOT EXISTS ix_compression_results_commit "
	    "ON compression_results (commit_hash);"
	    "CREATE INDEX IF NOT EXISTS ix_spawn_parent_commit ON spawn_pointers "
	    "(parent_commit_hash);",
	    NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fail_db(conn, rc);
	conn->delete_indexes = true;
	return 0;
}

int sqlite_blob_delete(tract_backend_conn *conn, const char *content_hash)
{
	int rc;

	CHECK_ARG(conn, content_hash);
	rc = ensure_delete_indexes(conn);
	if (rc == 0)
		rc = delete_by_key(conn, ST_BLOB_DELETE, content_hash, "blob");
	return rc < 0 ? rc : sqlite_search_forget(conn, content_hash);
}

/* ---- commits ------------------------------------------------------------- */

/*
 * The index the store-wide timeline reads in order (commit_foreach with no
 * tract: ORDER BY created_at, commit_hash), so its first rows come without
 * sorting every commit. Made by the first commit written on a connection,
 * not with the schema: a fresh store keeps exactly the reference's schema,
 * and a read-only open never creates anything. Invisible to the reference.
 */
static int ensure_time_index(tract_backend_conn *conn)
{
	int rc;

	if (conn->time_index)
		return 0;
	rc = sqlite3_exec(conn->db,
			  "CREATE INDEX IF NOT EXISTS ix_tract_commits_time "
			  "ON commits (created_at, commit_hash);",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fail_db(conn, rc);
	conn->time_index = true;
	return 0;
}

static int bind_commit(sqlite3_stmt *st, const tract_commit_row *r)
{
	int b = bind_text(st, 1, r->commit_hash);

	b = b ? b : bind_text(st, 2, r->tract_id);
	b = b ? b : bind_text(st, 3, r->parent_hash);
	b = b ? b : bind_text(st, 4, r->content_hash);
	b = b ? b : bind_text(st, 5, r->content_type);
	b = b ? b : bind_text(st, 6, tract_backend_operation_name(r->operation));
	b = b ? b : bind_text(st, 7, r->response_to);
	b = b ? b : bind_text(st, 8, r->message);
	b = b ? b : sqlite3_bind_int64(st, 9, r->token_count);
	b = b ? b : bind_json(st, 10, r->metadata_json);
	b = b ? b : bind_json(st, 11, r->generation_config_json);
	b = b ? b : bind_time(st, 12, r->created_at);
	return b;
}

int sqlite_commit_put(tract_backend_conn *conn, const tract_commit_row *row)
{
	struct query q;
	int rc;

	CHECK_ARG(conn, row && row->commit_hash && row->tract_id && row->content_hash &&
				row->content_type && tract_backend_operation_name(row->operation));
	rc = ensure_time_index(conn);
	if (rc < 0)
		return rc;
	rc = query_start(conn, ST_COMMIT_PUT, &q);
	if (rc < 0)
		return rc;
	rc = run_write(conn, &q, bind_commit(q.st, row), NULL);
	if (rc < 0 && sqlite3_extended_errcode(conn->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
		return fail(conn, TRACT_EEXISTS, "sqlite: commit already exists: %s",
			    row->commit_hash);
	return rc;
}

int sqlite_commit_get(tract_backend_conn *conn, const char *tract_id,
		      const char *commit_hash, tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};
	struct query q;
	int rc, b;

	CHECK_ARG(conn, commit_hash && cb);
	rc = query_start(conn, ST_COMMIT_GET, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, commit_hash);
	b = b ? b : bind_text(q.st, 2, tract_id);
	return run_one(conn, &q, b, emit_commit, &sk, "commit", commit_hash);
}

int sqlite_commit_prefix(tract_backend_conn *conn, const char *tract_id,
			 const char *prefix, size_t max, tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};
	char upper[256];
	struct query q;
	int rc, b;

	CHECK_ARG(conn, prefix && *prefix && cb);
	if (strlen(prefix) >= sizeof(upper))
		return 0; /* longer than any hash: matches nothing */
	rc = query_start(conn, ST_COMMIT_PREFIX, &q);
	if (rc < 0)
		return rc;
	b = bind_prefix_range(q.st, 1, prefix, upper, sizeof(upper));
	b = b ? b : bind_text(q.st, 3, tract_id);
	b = b ? b : sqlite3_bind_int64(q.st, 4, max > 0 && max < INT64_MAX ? (int64_t)max : -1);
	return run_each(conn, &q, b, emit_commit, &sk, NULL);
}

/* Iterate one of the (all, one tract) statement pairs. */
static int foreach_scoped(tract_backend_conn *conn, enum stmt_id all, enum stmt_id scoped,
			  const char *scope, row_emit_fn emit, const struct sink *sk)
{
	struct query q;
	int rc;

	rc = query_start(conn, scope ? scoped : all, &q);
	if (rc < 0)
		return rc;
	return run_each(conn, &q, scope ? bind_text(q.st, 1, scope) : SQLITE_OK, emit, sk, NULL);
}

int sqlite_commit_foreach(tract_backend_conn *conn, const char *tract_id,
			  tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_COMMIT_ALL, ST_COMMIT_TRACT, tract_id, emit_commit, &sk);
}

int sqlite_commit_foreach_with_config(tract_backend_conn *conn, const char *tract_id,
				      tract_commit_cb cb, void *payload)
{
	struct sink sk = {.fn.commit = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_COMMIT_CONFIG_ALL, ST_COMMIT_CONFIG_TRACT, tract_id,
			      emit_commit, &sk);
}

int sqlite_commit_delete(tract_backend_conn *conn, const char *commit_hash)
{
	int rc;

	CHECK_ARG(conn, commit_hash);
	rc = ensure_delete_indexes(conn);
	if (rc < 0)
		return rc;
	/*
	 * Other commits' parent_hash / response_to are blanked by their ON
	 * DELETE SET NULL keys (foreign_keys is on for every connection);
	 * spawn pointers are blanked explicitly as well.
	 */
	rc = delete_by_key(conn, ST_PARENT_DELETE_CHILD, commit_hash, NULL);
	if (rc == 0)
		rc = delete_by_key(conn, ST_COMMIT_UNLINK_SPAWN, commit_hash, NULL);
	if (rc == 0)
		rc = delete_by_key(conn, ST_COMMIT_DELETE, commit_hash, "commit");
	return rc;
}
/* The batched deletions (ABI version 5): the row-by-row members in a
 * loop (backends/common/deletes.c), which costs SQLite nothing more. */
int sqlite_commits_delete(tract_backend_conn *conn, const char *const *hashes, size_t n,
                          size_t *deleted)
{
	CHECK_ARG(conn, hashes || n == 0);
	for (size_t k = 0; k < n; k++)
		CHECK_ARG(conn, hashes[k] != NULL);
	return bc_commits_delete_each(conn, hashes, n, deleted, sqlite_annotation_delete_target,
	                              sqlite_commit_delete);
}

int sqlite_blobs_delete_unused(tract_backend_conn *conn, const char *const *hashes, size_t n,
                               size_t *deleted)
{
	CHECK_ARG(conn, hashes || n == 0);
	for (size_t k = 0; k < n; k++)
		CHECK_ARG(conn, hashes[k] != NULL);
	return bc_blobs_delete_unused_each(conn, hashes, n, deleted, sqlite_blob_delete);
}

/* ---- merge parents ------------------------------------------------------- */

/* Insert a (key, hash, position) triple, as commit_parents and the
 * compression member tables hold. */
static int put_triple(tract_backend_conn *conn, enum stmt_id id, const char *key,
		      const char *hash, int64_t position)
{
	struct query q;
	int rc, b;

	rc = query_start(conn, id, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, key);
	b = b ? b : bind_text(q.st, 2, hash);
	b = b ? b : sqlite3_bind_int64(q.st, 3, position);
	return run_write(conn, &q, b, NULL);
}

int sqlite_parent_put(tract_backend_conn *conn, const char *commit_hash,
		      const char *parent_hash, int64_t position)
{
	CHECK_ARG(conn, commit_hash && parent_hash && position >= 0);
	return put_triple(conn, ST_PARENT_PUT, commit_hash, parent_hash, position);
}

int sqlite_parent_list(tract_backend_conn *conn, const char *commit_hash,
		       tract_parent_cb cb, void *payload)
{
	struct sink sk = {.fn.parent = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, commit_hash && cb);
	rc = query_start(conn, ST_PARENT_LIST, &q);
	if (rc < 0)
		return rc;
	return run_each(conn, &q, bind_text(q.st, 1, commit_hash), emit_parent, &sk, NULL);
}

int sqlite_parent_foreach(tract_backend_conn *conn, tract_parent_cb cb, void *payload)
{
	struct sink sk = {.fn.parent = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_PARENT_ALL, ST_PARENT_ALL, NULL, emit_parent, &sk);
}

/* ---- refs ---------------------------------------------------------------- */

int sqlite_ref_get(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		   tract_ref_cb cb, void *payload)
{
	struct sink sk = {.fn.ref = cb, .payload = payload};
	struct query q;
	int rc, b;

	CHECK_ARG(conn, tract_id && ref_name && cb);
	rc = query_start(conn, ST_REF_GET, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, tract_id);
	b = b ? b : bind_text(q.st, 2, ref_name);
	return run_one(conn, &q, b, emit_ref, &sk, "ref", ref_name);
}

/* Insert the ref unless it exists; *changes 0 when it did. */
static int ref_insert(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		      const char *commit_hash, const char *symbolic_target, int *changes)
{
	struct query q;
	int rc, b;

	rc = query_start(conn, ST_REF_INSERT, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, tract_id);
	b = b ? b : bind_text(q.st, 2, ref_name);
	b = b ? b : bind_text(q.st, 3, commit_hash);
	b = b ? b : bind_text(q.st, 4, symbolic_target);
	return run_write(conn, &q, b, changes);
}

/* Update the ref only when both columns still equal expected's. */
static int ref_update(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		      const char *commit_hash, const char *symbolic_target,
		      const tract_ref_row *expected, int *changes)
{
	struct query q;
	int rc, b;

	rc = query_start(conn, ST_REF_UPDATE, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, tract_id);
	b = b ? b : bind_text(q.st, 2, ref_name);
	b = b ? b : bind_text(q.st, 3, commit_hash);
	b = b ? b : bind_text(q.st, 4, symbolic_target);
	b = b ? b : bind_text(q.st, 5, expected->commit_hash);
	b = b ? b : bind_text(q.st, 6, expected->symbolic_target);
	return run_write(conn, &q, b, changes);
}

int sqlite_ref_cas(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		   const char *commit_hash, const char *symbolic_target,
		   const tract_ref_row *expected)
{
	int rc, changes = 0;

	CHECK_ARG(conn, tract_id && ref_name && (!commit_hash != !symbolic_target));
	if (!expected)
		rc = ref_insert(conn, tract_id, ref_name, commit_hash, symbolic_target, &changes);
	else
		rc = ref_update(conn, tract_id, ref_name, commit_hash, symbolic_target, expected,
				&changes);
	if (rc == 0 && changes == 0)
		return fail(conn, TRACT_ESTALE,
			    expected ? "ref %s of tract %s moved (compare-and-swap lost)"
				     : "ref %s of tract %s already exists (compare-and-swap lost)",
			    ref_name, tract_id);
	return rc;
}

static int ref_exists(tract_backend_conn *conn, const char *tract_id, const char *ref_name,
		      bool *exists)
{
	struct query q;
	size_t n = 0;
	int rc, b;

	*exists = false;
	rc = query_start(conn, ST_REF_GET, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, tract_id);
	b = b ? b : bind_text(q.st, 2, ref_name);
	if (b != SQLITE_OK) {
		rc = fail_db(conn, b);
	} else {
		rc = sqlite3_step(q.st);
		n = rc == SQLITE_ROW;
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail_db(conn, rc);
	}
	query_done(&q);
	*exists = n > 0;
	return rc;
}

int sqlite_ref_delete(tract_backend_conn *conn, const char *tract_id,
		      const char *ref_name, const tract_ref_row *expected)
{
	struct query q;
	bool exists;
	int rc, b, changes = 0;

	CHECK_ARG(conn, tract_id && ref_name);
	rc = query_start(conn, ST_REF_DELETE, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, tract_id);
	b = b ? b : bind_text(q.st, 2, ref_name);
	b = b ? b : sqlite3_bind_int(q.st, 3, expected != NULL);
	b = b ? b : bind_text(q.st, 4, expected ? expected->commit_hash : NULL);
	b = b ? b : bind_text(q.st, 5, expected ? expected->symbolic_target : NULL);
	rc = run_write(conn, &q, b, &changes);
	if (rc < 0 || changes > 0)
		return rc;
	rc = ref_exists(conn, tract_id, ref_name, &exists);
	if (rc < 0)
		return rc;
	if (exists)
		return fail(conn, TRACT_ESTALE, "ref %s of tract %s moved (compare-and-swap lost)",
			    ref_name, tract_id);
	return fail(conn, TRACT_ENOTFOUND, "ref not found: %s", ref_name);
}

int sqlite_ref_foreach(tract_backend_conn *conn, const char *tract_id,
		       const char *prefix, tract_ref_cb cb, void *payload)
{
	struct sink sk = {.fn.ref = cb, .payload = payload};
	char upper[512];
	struct query q;
	int rc, b;

	CHECK_ARG(conn, cb);
	if (prefix && strlen(prefix) >= sizeof(upper))
		return 0; /* longer than any ref name */
	rc = query_start(conn, tract_id ? ST_REF_TRACT : ST_REF_ALL, &q);
	if (rc < 0)
		return rc;
	if (tract_id) {
		b = bind_text(q.st, 1, tract_id);
		b = b ? b : bind_prefix_range(q.st, 2, prefix, upper, sizeof(upper));
	} else {
		b = bind_prefix_range(q.st, 1, prefix, upper, sizeof(upper));
	}
	return run_each(conn, &q, b, emit_ref, &sk, NULL);
}

/* ---- annotations --------------------------------------------------------- */

int sqlite_annotation_put(tract_backend_conn *conn, const tract_annotation_row *row,
			  int64_t *out_id)
{
	struct query q;
	int rc, b;

	CHECK_ARG(conn, row && row->tract_id && row->target_hash &&
				tract_backend_priority_name(row->priority));
	rc = query_start(conn, ST_ANN_PUT, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, row->tract_id);
	b = b ? b : bind_text(q.st, 2, row->target_hash);
	b = b ? b : bind_text(q.st, 3, tract_backend_priority_name(row->priority));
	b = b ? b : bind_text(q.st, 4, row->reason);
	b = b ? b : bind_time(q.st, 5, row->created_at);
	rc = run_write(conn, &q, b, NULL);
	if (rc == 0 && out_id)
		*out_id = sqlite3_last_insert_rowid(conn->db);
	return rc;
}

int sqlite_annotation_list(tract_backend_conn *conn, const char *target_hash,
			   tract_annotation_cb cb, void *payload)
{
	struct sink sk = {.fn.annotation = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, target_hash && cb);
	rc = query_start(conn, ST_ANN_LIST, &q);
	if (rc < 0)
		return rc;
	return run_each(conn, &q, bind_text(q.st, 1, target_hash), emit_annotation, &sk, NULL);
}

int sqlite_annotation_foreach(tract_backend_conn *conn, const char *tract_id,
			      tract_annotation_cb cb, void *payload)
{
	struct sink sk = {.fn.annotation = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_ANN_ALL, ST_ANN_TRACT, tract_id, emit_annotation, &sk);
}

int sqlite_annotation_delete_target(tract_backend_conn *conn, const char *target_hash)
{
	CHECK_ARG(conn, target_hash);
	return delete_by_key(conn, ST_ANN_DELETE_TARGET, target_hash, NULL);
}

/* ---- compression records ------------------------------------------------- */

int sqlite_compression_put(tract_backend_conn *conn, const tract_compression_row *row)
{
	struct query q;
	int rc, b;

	CHECK_ARG(conn, row && row->compression_id && row->tract_id);
	rc = query_start(conn, ST_COMP_PUT, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, row->compression_id);
	b = b ? b : bind_text(q.st, 2, row->tract_id);
	b = b ? b : bind_text(q.st, 3, row->branch_name);
	b = b ? b : bind_time(q.st, 4, row->created_at);
	b = b ? b : sqlite3_bind_int64(q.st, 5, row->original_tokens);
	b = b ? b : sqlite3_bind_int64(q.st, 6, row->compressed_tokens);
	if (!b)
		b = row->target_tokens < 0 ? sqlite3_bind_null(q.st, 7)
					   : sqlite3_bind_int64(q.st, 7, row->target_tokens);
	b = b ? b : bind_text(q.st, 8, row->instructions);
	return run_write(conn, &q, b, NULL);
}

int sqlite_compression_member_put(tract_backend_conn *conn, tract_compression_side side,
				  const char *compression_id, const char *commit_hash,
				  int64_t position)
{
	CHECK_ARG(conn, bc_valid_side(side) && compression_id && commit_hash);
	return put_triple(conn,
			  side == TRACT_COMPRESSION_SOURCES ? ST_COMP_SOURCE_PUT
							    : ST_COMP_RESULT_PUT,
			  compression_id, commit_hash, position);
}

int sqlite_compression_get(tract_backend_conn *conn, const char *compression_id,
			   tract_compression_cb cb, void *payload)
{
	struct sink sk = {.fn.compression = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, compression_id && cb);
	rc = query_start(conn, ST_COMP_GET, &q);
	if (rc < 0)
		return rc;
	return run_one(conn, &q, bind_text(q.st, 1, compression_id), emit_compression, &sk,
		       "compression record", compression_id);
}

int sqlite_compression_foreach(tract_backend_conn *conn, const char *tract_id,
			       tract_compression_cb cb, void *payload)
{
	struct sink sk = {.fn.compression = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_COMP_ALL, ST_COMP_TRACT, tract_id, emit_compression, &sk);
}

int sqlite_compression_members(tract_backend_conn *conn, tract_compression_side side,
			       const char *compression_id, tract_member_cb cb,
			       void *payload)
{
	struct sink sk = {.fn.member = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, bc_valid_side(side) && compression_id && cb);
	rc = query_start(conn,
			 side == TRACT_COMPRESSION_SOURCES ? ST_COMP_SOURCES : ST_COMP_RESULTS,
			 &q);
	if (rc < 0)
		return rc;
	return run_each(conn, &q, bind_text(q.st, 1, compression_id), emit_member, &sk, NULL);
}

int sqlite_compression_delete(tract_backend_conn *conn, const char *compression_id)
{
	int rc;

	CHECK_ARG(conn, compression_id);
	rc = delete_by_key(conn, ST_COMP_SOURCES_DELETE, compression_id, NULL);
	if (rc == 0)
		rc = delete_by_key(conn, ST_COMP_RESULTS_DELETE, compression_id, NULL);
	if (rc == 0)
		rc = delete_by_key(conn, ST_COMP_DELETE, compression_id, "compression record");
	return rc;
}

/* ---- spawn pointers ------------------------------------------------------ */

int sqlite_spawn_put(tract_backend_conn *conn, const tract_spawn_row *row,
		     int64_t *out_id)
{
	struct query q;
	int rc, b;

	CHECK_ARG(conn, row && row->parent_tract_id && row->child_tract_id && row->purpose &&
				row->inheritance_mode);
	rc = query_start(conn, ST_SPAWN_PUT, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, row->parent_tract_id);
	b = b ? b : bind_text(q.st, 2, row->parent_commit_hash);
	b = b ? b : bind_text(q.st, 3, row->child_tract_id);
	b = b ? b : bind_text(q.st, 4, row->purpose);
	b = b ? b : bind_text(q.st, 5, row->inheritance_mode);
	b = b ? b : bind_text(q.st, 6, row->display_name);
	b = b ? b : bind_time(q.st, 7, row->created_at);
	rc = run_write(conn, &q, b, NULL);
	if (rc == 0 && out_id)
		*out_id = sqlite3_last_insert_rowid(conn->db);
	return rc;
}

int sqlite_spawn_foreach(tract_backend_conn *conn, const char *parent_tract_id,
			 tract_spawn_cb cb, void *payload)
{
	struct sink sk = {.fn.spawn = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_SPAWN_ALL, ST_SPAWN_PARENT, parent_tract_id, emit_spawn,
			      &sk);
}

int sqlite_spawn_by_child(tract_backend_conn *conn, const char *child_tract_id,
			  tract_spawn_cb cb, void *payload)
{
	struct sink sk = {.fn.spawn = cb, .payload = payload};

	CHECK_ARG(conn, child_tract_id && cb);
	return foreach_scoped(conn, ST_SPAWN_CHILD, ST_SPAWN_CHILD, child_tract_id, emit_spawn,
			      &sk);
}

int sqlite_spawn_delete(tract_backend_conn *conn, int64_t id)
{
	struct query q;
	int rc, changes = 0;

	CHECK_CONN(conn);
	rc = query_start(conn, ST_SPAWN_DELETE, &q);
	if (rc < 0)
		return rc;
	rc = run_write(conn, &q, sqlite3_bind_int64(q.st, 1, id), &changes);
	if (rc == 0 && changes == 0)
		return fail(conn, TRACT_ENOTFOUND, "spawn pointer not found: %" PRId64, id);
	return rc;
}

/* ---- store metadata ------------------------------------------------------ */

int sqlite_meta_get(tract_backend_conn *conn, const char *key, tract_meta_cb cb,
		    void *payload)
{
	struct sink sk = {.fn.meta = cb, .payload = payload};
	struct query q;
	int rc;

	CHECK_ARG(conn, key && cb);
	rc = query_start(conn, ST_META_GET, &q);
	if (rc < 0)
		return rc;
	return run_one(conn, &q, bind_text(q.st, 1, key), emit_meta, &sk, "metadata key", key);
}

int sqlite_meta_set(tract_backend_conn *conn, const char *key, const char *value)
{
	struct query q;
	int rc, b;

	CHECK_ARG(conn, key && value);
	rc = query_start(conn, ST_META_SET, &q);
	if (rc < 0)
		return rc;
	b = bind_text(q.st, 1, key);
	b = b ? b : bind_text(q.st, 2, value);
	return run_write(conn, &q, b, NULL);
}

int sqlite_meta_delete(tract_backend_conn *conn, const char *key)
{
	CHECK_ARG(conn, key);
	return delete_by_key(conn, ST_META_DELETE, key, "metadata key");
}

int sqlite_meta_foreach(tract_backend_conn *conn, const char *prefix, tract_meta_cb cb,
			void *payload)
{
	struct sink sk = {.fn.meta = cb, .payload = payload};
	char upper[512];
	struct query q;
	int rc;

	CHECK_ARG(conn, cb);
	if (prefix && strlen(prefix) >= sizeof(upper))
		return 0; /* longer than any key */
	rc = query_start(conn, ST_META_RANGE, &q);
	if (rc < 0)
		return rc;
	return run_each(conn, &q, bind_prefix_range(q.st, 1, prefix, upper, sizeof(upper)),
			emit_meta, &sk, NULL);
}

/* ---- tracts -------------------------------------------------------------- */

int sqlite_tract_foreach(tract_backend_conn *conn, tract_tract_cb cb, void *payload)
{
	struct sink sk = {.fn.tract = cb, .payload = payload};

	CHECK_ARG(conn, cb);
	return foreach_scoped(conn, ST_TRACTS, ST_TRACTS, NULL, emit_tract, &sk);
}
