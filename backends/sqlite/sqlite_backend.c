/*
 * sqlite_backend.c - the SQLite storage backend (tract-backend-sqlite.so):
 * open (create, migrate), close, destroy and same_store, transactions, and
 * the table the entry point hands out. The schema is tract's schema
 * version 4 (sqlite_schema.c), so files written by tract's Python library
 * open unchanged; statements are prepared once per connection.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite_internal.h"

/* Side files SQLite may keep next to a database. */
static const char *const side_file_suffixes[N_SIDE_FILES] = {"-wal", "-shm", "-journal"};

/* ---- lifecycle ----------------------------------------------------------- */

static void finalize_all(tract_backend_conn *conn)
{
	size_t i;

	for (i = 0; i < ST_COUNT; i++) {
		sqlite3_finalize(conn->stmts[i]);
		conn->stmts[i] = NULL;
	}
	for (i = 0; i < N_CHAIN_VARIANTS; i++) {
		sqlite3_finalize(conn->chain[i]);
		conn->chain[i] = NULL;
		sqlite3_finalize(conn->scan[0][i]);
		sqlite3_finalize(conn->scan[1][i]);
		conn->scan[0][i] = conn->scan[1][i] = NULL;
	}
	sqlite_search_finalize(conn);
}

static void sqlite_close(tract_backend_conn *conn)
{
	if (!conn)
		return;
	finalize_all(conn);
	if (conn->db && !sqlite3_get_autocommit(conn->db))
		sqlite3_exec(conn->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(conn->db);
	free(conn->created);
	free(conn);
}

static int open_db(tract_backend_conn *conn, const char *location, unsigned flags)
{
	bool memory = strcmp(location, ":memory:") == 0;
	int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	struct stat sb;
	bool existed = memory || stat(location, &sb) == 0 || errno != ENOENT;
	size_t i;
	int rc;

	if (memory || (flags & TRACT_BACKEND_CREATE))
		oflags |= SQLITE_OPEN_CREATE;
	else if (!existed)
		return fail(conn, TRACT_ENOTFOUND, "store not found: %s", location);
	if (!existed) {
		conn->created = strdup(location);
		if (!conn->created)
			return fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
		for (i = 0; i < N_SIDE_FILES; i++) {
			char side[4096];
			snprintf(side, sizeof(side), "%s%s", location, side_file_suffixes[i]);
			conn->side_existed[i] = stat(side, &sb) == 0 || errno != ENOENT;
		}
	}
	rc = sqlite3_open_v2(location, &conn->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		if (!conn->db)
			return fail(conn, TRACT_ENOMEM, "sqlite: out of memory");
		return fail(conn, code_of_sqlite(rc), "sqlite: %s: %s", sqlite3_errmsg(conn->db),
			    location);
	}
	sqlite3_extended_result_codes(conn->db, 1);
	return 0;
}

static int sqlite_open(tract_backend_conn **out, const char *uri, unsigned flags,
		       char *errbuf, size_t errlen)
{
	tract_backend_conn *conn = NULL;
	const char *location = bc_uri_location(uri, "sqlite");
	int rc;

	if (out)
		*out = NULL;
	if (!out || !location || !*location) {
		rc = TRACT_EINVAL;
		/* Not echoed: "sqlite://user:password@host/..." may hold a secret. */
		if (errbuf && errlen)
			snprintf(errbuf, errlen,
				 "sqlite: store URI names no file (sqlite:PATH, "
				 "sqlite:///relative/path or sqlite:////absolute/path)");
		goto fail;
	}
	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		rc = TRACT_ENOMEM;
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "sqlite: out of memory");
		goto fail;
	}
	rc = open_db(conn, location, flags);
	if (rc == 0)
		rc = apply_pragmas(conn);
	if (rc == 0)
		rc = migrate(conn, location,
			     (flags & TRACT_BACKEND_CREATE) || strcmp(location, ":memory:") == 0);
	if (rc == 0 && conn->created) {
		struct stat sb;
		if (stat(conn->created, &sb) == 0) {
			conn->created_dev = sb.st_dev;
			conn->created_ino = sb.st_ino;
		} else {
			free(conn->created); /* cannot tell it is ours: never remove it */
			conn->created = NULL;
		}
	}
	if (rc < 0) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s", conn->err);
		goto fail;
	}
	conn->err[0] = '\0';
	*out = conn;
	return 0;
fail:
	sqlite_close(conn);
	return rc;
}

static const char *sqlite_last_error(tract_backend_conn *conn)
{
	if (!conn)
		return "sqlite: no connection";
	return conn->err;
}

/* ---- transactions -------------------------------------------------------- */

static int run_simple(tract_backend_conn *conn, enum stmt_id id)
{
	struct query q;
	int rc = query_start(conn, id, &q);

	if (rc < 0)
		return rc;
	return run_write(conn, &q, SQLITE_OK, NULL);
}

static int sqlite_begin(tract_backend_conn *conn, tract_txn_kind kind)
{
	if (!conn || (kind != TRACT_TXN_READ && kind != TRACT_TXN_WRITE))
		return conn ? fail(conn, TRACT_EINVAL, "sqlite: bad transaction kind")
			    : TRACT_EINVAL;
	if (!sqlite3_get_autocommit(conn->db))
		return fail(conn, TRACT_EINVAL, "sqlite: a transaction is already open");
	return run_simple(conn, kind == TRACT_TXN_WRITE ? ST_BEGIN_WRITE : ST_BEGIN_READ);
}

static int sqlite_commit(tract_backend_conn *conn)
{
	if (!conn)
		return TRACT_EINVAL;
	if (sqlite3_get_autocommit(conn->db))
		return fail(conn, TRACT_EINVAL, "sqlite: commit without a transaction");
	return run_simple(conn, ST_COMMIT);
}

static int sqlite_rollback(tract_backend_conn *conn)
{
	if (!conn)
		return TRACT_EINVAL;
	conn->search_index = false; /* the transaction may have made it */
	/* The engine may already have rolled back after an I/O or busy error. */
	if (sqlite3_get_autocommit(conn->db))
		return 0;
	return run_simple(conn, ST_ROLLBACK);
}

/* ---- removal and identity ------------------------------------------------ */

/* Close, then remove the file this connection created (and the side
 * files that appeared with it) if the path still names that file. */
static int sqlite_destroy(tract_backend_conn *conn)
{
	char *path, side[4096];
	bool existed[N_SIDE_FILES];
	struct stat sb;
	dev_t dev;
	ino_t ino;
	size_t i;

	if (!conn)
		return 0;
	path = conn->created;
	conn->created = NULL;
	dev = conn->created_dev;
	ino = conn->created_ino;
	memcpy(existed, conn->side_existed, sizeof(existed));
	sqlite_close(conn);
	if (path && stat(path, &sb) == 0 && sb.st_dev == dev && sb.st_ino == ino &&
	    S_ISREG(sb.st_mode)) {
		unlink(path);
		for (i = 0; i < N_SIDE_FILES; i++) {
			if (existed[i])
				continue;
			snprintf(side, sizeof(side), "%s%s", path, side_file_suffixes[i]);
			unlink(side);
		}
	}
	free(path);
	return 0;
}

/* The same file, by name or by identity; ":memory:" is never shared. */
static int sqlite_same_store(const char *uri_a, const char *uri_b)
{
	const char *a = bc_uri_location(uri_a, "sqlite"), *b = bc_uri_location(uri_b, "sqlite");
	struct stat sa, sb;

	if (!a || !b || strcmp(a, ":memory:") == 0 || strcmp(b, ":memory:") == 0)
		return 0;
	if (strcmp(a, b) == 0)
		return 1;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* ---- entry --------------------------------------------------------------- */

static const char *const sqlite_schemes[] = {"sqlite", NULL};
static const char *const sqlite_private_keys[] = {"schema_version", NULL};

static const tract_backend sqlite_backend = {
	.version = TRACT_BACKEND_VERSION,
	.name = "sqlite",
	.schemes = sqlite_schemes,
	.private_meta_keys = sqlite_private_keys,
	.description = "SQLite file (tract schema version 4), the default embedded store",
	.open = sqlite_open,
	.destroy = sqlite_destroy,
	.same_store = sqlite_same_store,
	.close = sqlite_close,
	.last_error = sqlite_last_error,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.blob_put = sqlite_blob_put,
	.blob_get = sqlite_blob_get,
	.blob_foreach = sqlite_blob_foreach,
	.commit_put = sqlite_commit_put,
	.commit_get = sqlite_commit_get,
	.commit_prefix = sqlite_commit_prefix,
	.commit_chain = sqlite_commit_chain,
	.commit_foreach = sqlite_commit_foreach,
	.commit_foreach_with_config = sqlite_commit_foreach_with_config,
	.parent_put = sqlite_parent_put,
	.parent_list = sqlite_parent_list,
	.parent_foreach = sqlite_parent_foreach,
	.ref_get = sqlite_ref_get,
	.ref_cas = sqlite_ref_cas,
	.ref_delete = sqlite_ref_delete,
	.ref_foreach = sqlite_ref_foreach,
	.annotation_put = sqlite_annotation_put,
	.annotation_list = sqlite_annotation_list,
	.annotation_foreach = sqlite_annotation_foreach,
	.compression_put = sqlite_compression_put,
	.compression_member_put = sqlite_compression_member_put,
	.compression_get = sqlite_compression_get,
	.compression_foreach = sqlite_compression_foreach,
	.compression_members = sqlite_compression_members,
	.spawn_put = sqlite_spawn_put,
	.spawn_foreach = sqlite_spawn_foreach,
	.spawn_by_child = sqlite_spawn_by_child,
	.meta_get = sqlite_meta_get,
	.meta_set = sqlite_meta_set,
	.meta_delete = sqlite_meta_delete,
	.meta_foreach = sqlite_meta_foreach,
	.tract_foreach = sqlite_tract_foreach,
	.commit_delete = sqlite_commit_delete,
	.blob_delete = sqlite_blob_delete,
	.annotation_delete_target = sqlite_annotation_delete_target,
	.compression_delete = sqlite_compression_delete,
	.spawn_delete = sqlite_spawn_delete,
	.commit_ancestry = sqlite_commit_ancestry,
	.search_index_open = sqlite_search_index_open,
	.search_pending = sqlite_search_pending,
	.search_index_put = sqlite_search_index_put,
	.search_query = sqlite_search_query,
	.commits_delete = sqlite_commits_delete,
	.blobs_delete_unused = sqlite_blobs_delete_unused,
};

__attribute__((visibility("default"))) const tract_backend *tract_backend_entry(void);

const tract_backend *tract_backend_entry(void)
{
	return &sqlite_backend;
}
