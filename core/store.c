/*
 * store.c - the store handle: opening a store by URI through the backend
 * that serves it, its lifetime (tracts keep it open), transactions with
 * batch nesting, backend errors, store metadata (storage access layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"
#include "plugin.h"

/* ---- transactions ------------------------------------------------------- */

int tract_backend_error(tract_store *s, int rc, const char *what)
{
	const char *msg = s->be->last_error(s->conn);

	if (rc == TRACT_ENOMEM)
		return tract_error_oom();
	return tract_error_set(rc, "%s: %s", what, msg && *msg ? msg : tract_error_name(rc));
}

int tract_error_is_validation(int code)
{
	switch (code) {
	case TRACT_EINVAL:
	case TRACT_ENOTFOUND:
	case TRACT_EAMBIGUOUS:
	case TRACT_EEDIT:
	case TRACT_EBUDGET:
	case TRACT_EDETACHED:
		return 1;
	default:
		return 0;
	}
}

int tract_txn_begin(tract_store *s, tract_txn_kind kind)
{
	int rc;

	if (s->txn_depth > 0) {
		if (kind == TRACT_TXN_WRITE && s->txn_kind != TRACT_TXN_WRITE)
			return tract_error_set(TRACT_ERROR,
					       "cannot write inside a read transaction");
		s->txn_depth++;
		return 0;
	}
	rc = s->be->begin(s->conn, kind);
	if (rc < 0)
		return tract_backend_error(s, rc, "begin transaction");
	s->txn_depth = 1;
	s->txn_kind = kind;
	return 0;
}

int tract_txn_end(tract_store *s, int rc)
{
	int rc2;

	if (s->txn_depth <= 0)
		return rc;
	if (--s->txn_depth > 0) {
		/* Inside a batch only the outermost level commits or rolls
		 * back. Operations validate everything before they write, so
		 * a validation failure left nothing behind; any other failure
		 * may have written part of an operation and poisons the batch. */
		if (rc < 0 && s->txn_kind == TRACT_TXN_WRITE && !tract_error_is_validation(rc))
			s->batch_failed = 1;
		return rc;
	}
	if (rc < 0 || s->batch_failed) {
		s->be->rollback(s->conn);
		s->cache_epoch++;
		s->batch_failed = 0;
		if (s->txn_kind == TRACT_TXN_WRITE)
			tract_dag_cache_drop(s); /* it may hold commits never written */
		return rc;
	}
	rc2 = s->be->commit(s->conn);
	if (rc2 < 0) {
		rc2 = tract_backend_error(s, rc2, "commit transaction");
		s->be->rollback(s->conn);
		s->cache_epoch++;
		if (s->txn_kind == TRACT_TXN_WRITE)
			tract_dag_cache_drop(s);
		return rc2;
	}
	return rc;
}

/* ---- store ----------------------------------------------------------------- */

int tract_store_open(tract_store **out, const char *uri, unsigned flags)
{
	char errbuf[512] = "";
	tract_store *s = NULL;
	const tract_backend *be;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_store_open: out is NULL");
	*out = NULL;
	rc = tract_plugin_backend_for_uri(&be, uri);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return tract_error_oom();
	s->be = be;
	s->refs = 1;
	snprintf(s->backend_name, sizeof(s->backend_name), "%s", be->name);
	rc = be->open(&s->conn, uri, (flags & TRACT_STORE_CREATE) ? TRACT_BACKEND_CREATE : 0,
		      errbuf, sizeof(errbuf));
	if (rc < 0) {
		rc = tract_error_set(rc, "%s", errbuf[0] ? errbuf : "cannot open store");
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Drop one reference: the caller's handle or a tract's. The last one
 * closes the connection. */
void tract_store_release(tract_store *s)
{
	if (--s->refs > 0)
		return;
	if (s->txn_depth > 0)
		s->be->rollback(s->conn);
	tract_dag_cache_drop(s);
	s->be->close(s->conn);
	free(s);
}

void tract_store_free(tract_store *s)
{
	if (!s || s->freed)
		return;
	s->freed = 1;
	tract_store_release(s);
}

int tract_store_destroy_created(tract_store *s)
{
	int rc = 0;

	if (!s)
		return 0;
	if (s->txn_depth > 0)
		s->be->rollback(s->conn);
	tract_dag_cache_drop(s);
	if (s->be->destroy)
		rc = s->be->destroy(s->conn);
	else
		s->be->close(s->conn);
	free(s);
	return rc;
}

const char *tract_store_backend_name(const tract_store *s)
{
	return s ? s->backend_name : NULL;
}

char *tract_meta_key(char *buf, size_t len, const char *tract_id, const char *key)
{
	snprintf(buf, len, "tract:%s:%s", tract_id, key);
	return buf;
}

typedef struct {
	char *buf;
	size_t len;
} meta_dest;

static int meta_copy_cb(const char *key, const char *value, void *payload)
{
	meta_dest *d = payload;

	(void)key;
	snprintf(d->buf, d->len, "%s", value);
	return 0;
}

int tract_meta_read(tract_store *s, const char *key, char *buf, size_t len, int *found)
{
	meta_dest d = {buf, len};
	int rc;

	buf[0] = '\0';
	*found = 0;
	rc = s->be->meta_get(s->conn, key, meta_copy_cb, &d);
	if (rc == TRACT_ENOTFOUND)
		return 0;
	if (rc < 0)
		return tract_backend_error(s, rc, "read store metadata");
	*found = 1;
	return 0;
}

void tract_string_free(char *str)
{
	free(str);
}

/* ---- status, budget, batches --------------------------------------------------------- */

int tract_parse_object(cJSON **out, const char *json, const char *what)
{
	char errbuf[256];
	cJSON *v = NULL;
	int rc;

	*out = NULL;
	if (!json)
		return 0;
	rc = tract_json_parse(&v, json, strlen(json), 0, errbuf, sizeof(errbuf));
	if (rc < 0)
		return tract_error_set(rc, "invalid %s: %s", what, errbuf);
	if (!cJSON_IsObject(v)) {
		cJSON_Delete(v);
		return tract_error_set(TRACT_EINVAL, "invalid %s: must be a JSON object", what);
	}
	*out = v;
	return 0;
}
