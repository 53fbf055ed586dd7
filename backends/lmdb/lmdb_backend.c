/*
 * lmdb_backend.c - the plugin's face: open, close, destroy and same_store,
 * the explicit transactions, and the table tract_backend_entry() returns.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lmdb_internal.h"

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
	const char *p = bc_uri_location(uri, "lmdb");

	return p ? strndup(p, strcspn(p, "?")) : NULL;
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
	const char *location = bc_uri_location(uri, "lmdb");
	tract_backend_conn *c = NULL;
	char err[ERRLEN] = "";
	struct options o = {0};
	int rc;

	if (out)
		*out = NULL;
	if (!out || !location || !*location) {
		/* The URI is not repeated: "lmdb://user:pw@host/..." may hold a
		 * password. */
		if (errbuf && errlen)
			snprintf(errbuf, errlen,
				 "lmdb: the store URI names no directory (lmdb:DIR, "
				 "lmdb:///relative or lmdb:////absolute)");
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
	c->busy_ms = o.busy_ms;
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
	.commit_ancestry = lmdb_commit_ancestry,
	.search_index_open = lmdb_search_index_open,
	.search_pending = lmdb_search_pending,
	.search_index_put = lmdb_search_index_put,
	.search_query = lmdb_search_query,
	.commits_delete = lmdb_commits_delete,
	.blobs_delete_unused = lmdb_blobs_delete_unused,
};

__attribute__((visibility("default"))) const tract_backend *tract_backend_entry(void);

const tract_backend *tract_backend_entry(void)
{
	return &lmdb_backend;
}
