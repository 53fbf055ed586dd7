/*
 * store.c - store and tract handles: opening a store by URI through its
 * backend plugin, creating and discovering tracts, HEAD, status, budget,
 * batches and the transaction helpers every operation uses.
 */
#include <ctype.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "internal.h"
#include "json.h"
#include "log.h"
#include "plugin.h"

/* ---- logging ------------------------------------------------------------ */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static tract_log_cb log_cb;
static void *log_payload;

void tract_log_set(tract_log_cb cb, void *payload)
{
	pthread_mutex_lock(&log_lock);
	log_cb = cb;
	log_payload = payload;
	pthread_mutex_unlock(&log_lock);
}

void tract_warn(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	tract_log_cb cb;
	void *payload;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	cb = log_cb;
	payload = log_payload;
	pthread_mutex_unlock(&log_lock);
	if (cb)
		cb(msg, payload);
	else
		fprintf(stderr, "tract: warning: %s\n", msg);
}

void tract_mem_free(void *ptr)
{
	free(ptr);
}

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
		return rc;
	}
	rc2 = s->be->commit(s->conn);
	if (rc2 < 0) {
		rc2 = tract_backend_error(s, rc2, "commit transaction");
		s->be->rollback(s->conn);
		s->cache_epoch++;
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

void tract_store_free(tract_store *s)
{
	if (!s)
		return;
	if (s->txn_depth > 0)
		s->be->rollback(s->conn);
	s->be->close(s->conn);
	free(s);
}

int tract_store_destroy_created(tract_store *s)
{
	int rc = 0;

	if (!s)
		return 0;
	if (s->txn_depth > 0)
		s->be->rollback(s->conn);
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

/* ---- tract listing ---------------------------------------------------------- */

typedef struct {
	tract_info *items;
	size_t count, cap;
	int rc;
} info_list;

static tract_info *info_find(info_list *l, const char *id)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		if (strcmp(l->items[i].tract_id, id) == 0)
			return &l->items[i];
	return NULL;
}

static tract_info *info_add(info_list *l, const char *id)
{
	tract_info *it = info_find(l, id);

	if (it)
		return it;
	if (l->count == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;
		tract_info *p = realloc(l->items, ncap * sizeof(*p));
		if (!p)
			return NULL;
		l->items = p;
		l->cap = ncap;
	}
	it = &l->items[l->count];
	memset(it, 0, sizeof(*it));
	it->tract_id = strdup(id);
	if (!it->tract_id)
		return NULL;
	it->last_activity = TRACT_TIME_NONE;
	l->count++;
	return it;
}

static int collect_tract(const tract_tract_row *row, void *payload)
{
	info_list *l = payload;
	tract_info *it = info_add(l, row->tract_id);

	if (!it)
		return TRACT_ENOMEM;
	it->commit_count = row->commit_count;
	if (row->last_activity > it->last_activity)
		it->last_activity = row->last_activity;
	return 0;
}

/* Meta keys "tract:<id>:<key>": tracts created by init, display names. */
static int collect_meta(const char *key, const char *value, void *payload)
{
	info_list *l = payload;
	const char *id = key + 6, *colon = strrchr(key, ':');
	char idbuf[65];
	tract_info *it;
	size_t n;

	if (!colon || colon <= id)
		return 0;
	n = (size_t)(colon - id);
	if (n == 0 || n > 64)
		return 0;
	memcpy(idbuf, id, n);
	idbuf[n] = '\0';
	if (strcmp(colon + 1, TRACT_META_CREATED) == 0) {
		tract_time t;
		it = info_add(l, idbuf);
		if (!it)
			return TRACT_ENOMEM;
		if (tract_time_parse(&t, value) == 0 && t > it->last_activity)
			it->last_activity = t;
	} else if (strcmp(colon + 1, TRACT_META_DISPLAY_NAME) == 0) {
		it = info_add(l, idbuf);
		if (!it)
			return TRACT_ENOMEM;
		free(it->display_name);
		it->display_name = strdup(value);
		if (!it->display_name)
			return TRACT_ENOMEM;
	}
	return 0;
}

static int collect_spawn(const tract_spawn_row *row, void *payload)
{
	info_list *l = payload;
	tract_info *it = info_find(l, row->child_tract_id);

	if (it && !it->parent_tract_id) {
		it->parent_tract_id = strdup(row->parent_tract_id);
		if (!it->parent_tract_id)
			return TRACT_ENOMEM;
	}
	if (it && !it->display_name && row->display_name) {
		it->display_name = strdup(row->display_name);
		if (!it->display_name)
			return TRACT_ENOMEM;
	}
	return 0;
}

static int cmp_info(const void *a, const void *b)
{
	const tract_info *x = a, *y = b;

	if (x->last_activity != y->last_activity)
		return x->last_activity > y->last_activity ? -1 : 1;
	return strcmp(x->tract_id, y->tract_id);
}

/* Fill head/branch of each info from its refs. */
static int fill_heads(tract_store *s, info_list *l)
{
	size_t i;
	int rc;

	for (i = 0; i < l->count; i++) {
		tract_ref_value head, br;
		tract_info *it = &l->items[i];
		rc = tract_ref_read(&head, s, it->tract_id, "HEAD");
		if (rc < 0)
			return rc;
		if (!head.exists)
			continue;
		if (head.commit[0]) {
			it->head = strdup(head.commit);
			if (!it->head)
				return tract_error_oom();
			continue;
		}
		if (strncmp(head.symbolic, "refs/heads/", 11) == 0) {
			it->branch = strdup(head.symbolic + 11);
			if (!it->branch)
				return tract_error_oom();
		}
		rc = tract_ref_read(&br, s, it->tract_id, head.symbolic);
		if (rc < 0)
			return rc;
		if (br.exists && br.commit[0]) {
			it->head = strdup(br.commit);
			if (!it->head)
				return tract_error_oom();
		}
	}
	return 0;
}

static int list_locked(info_list *l, tract_store *s)
{
	int rc;

	rc = s->be->tract_foreach(s->conn, collect_tract, l);
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "list tracts");
	rc = s->be->meta_foreach(s->conn, "tract:", collect_meta, l);
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "list tracts");
	rc = s->be->spawn_foreach(s->conn, NULL, collect_spawn, l);
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "list tracts");
	return fill_heads(s, l);
}

int tract_store_list(tract_info **out, size_t *count, tract_store *s)
{
	info_list l = {0};
	int rc;

	*out = NULL;
	*count = 0;
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = list_locked(&l, s);
	rc = tract_txn_end(s, rc);
	if (rc < 0) {
		tract_info_free(l.items, l.count);
		return rc;
	}
	qsort(l.items, l.count, sizeof(*l.items), cmp_info);
	*out = l.items;
	*count = l.count;
	return 0;
}

void tract_info_free(tract_info *infos, size_t count)
{
	size_t i;

	if (!infos)
		return;
	for (i = 0; i < count; i++) {
		free(infos[i].tract_id);
		free(infos[i].display_name);
		free(infos[i].head);
		free(infos[i].branch);
		free(infos[i].parent_tract_id);
	}
	free(infos);
}

/* ---- tract handles ------------------------------------------------------------ */

static int valid_tract_id(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return 0;
	}
	return 1;
}

static int valid_branch_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > 200 || name[0] == '-' || name[0] == '.' || name[n - 1] == '/' ||
	    name[n - 1] == '.' || strstr(name, "..") || strstr(name, "@{") ||
	    strstr(name, "//") || (n >= 5 && strcmp(name + n - 5, ".lock") == 0) ||
	    strcmp(name, "@") == 0 || strcmp(name, "HEAD") == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || strchr(" ~^:?*[\\", c))
			return 0;
	}
	return 1;
}

static int tract_alloc(tract **out, tract_store *s, const char *id, const tract_options *opts)
{
	tract_options defaults = TRACT_OPTIONS_INIT;
	tract *t;

	if (!opts)
		opts = &defaults;
	if (opts->version != TRACT_OPTIONS_VERSION)
		return tract_error_set(TRACT_EINVAL, "tract_options version %u is not %d",
				       opts->version, TRACT_OPTIONS_VERSION);
	if (opts->default_branch && !valid_branch_name(opts->default_branch))
		return tract_error_set(TRACT_EINVAL, "invalid default branch name '%s'",
				       opts->default_branch);
	t = calloc(1, sizeof(*t));
	if (!t)
		return tract_error_oom();
	t->store = s;
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->default_branch = strdup(opts->default_branch ? opts->default_branch : "main");
	t->cache = tract_cache_new(opts->compile_cache_size);
	if (!t->default_branch || !t->cache) {
		free(t->default_branch);
		tract_cache_free(t->cache);
		free(t);
		return tract_error_oom();
	}
	t->tok = opts->tokenizer ? opts->tokenizer : tract_tokenizer_default();
	t->verify_cache = opts->verify_cache;
	t->budget_max = -1;
	t->cache_epoch = s->cache_epoch;
	s->n_tracts++;
	*out = t;
	return 0;
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

/* Load persisted settings (budget) of a tract. */
static int load_settings(tract *t)
{
	char key[128], value[64];
	int rc, found;

	tract_meta_key(key, sizeof(key), t->id, TRACT_META_MAX_TOKENS);
	rc = tract_meta_read(t->store, key, value, sizeof(value), &found);
	if (rc == 0 && found)
		t->budget_max = strtoll(value, NULL, 10);
	return rc;
}

static void random_id(char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	int i;

	if (RAND_bytes(b, sizeof(b)) != 1) {
		/* libcrypto without entropy: fall back to time and address. */
		uint64_t x = (uint64_t)tract_time_now() ^ (uint64_t)(uintptr_t)out;
		for (i = 0; i < 16; i++, x = x * 6364136223846793005ULL + 1)
			b[i] = (unsigned char)(x >> 56);
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* UUID version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = '\0';
}

static int found_cb(const void *row, void *payload)
{
	(void)row;
	*(int *)payload = 1;
	return 1; /* one is enough */
}

/*
 * Does a tract exist: created by init (its metadata), with refs, or with
 * commits? Each probe is one indexed lookup, whatever the store's size.
 */
static int tract_exists(int *out, tract_store *s, const char *id)
{
	char key[128], value[64];
	int rc;

	*out = 0;
	tract_meta_key(key, sizeof(key), id, TRACT_META_CREATED);
	rc = tract_meta_read(s, key, value, sizeof(value), out);
	if (rc < 0 || *out)
		return rc;
	rc = s->be->ref_foreach(s->conn, id, NULL, (tract_ref_cb)found_cb, out);
	if (rc == 0 && !*out)
		rc = s->be->commit_foreach(s->conn, id, (tract_commit_cb)found_cb, out);
	return rc < 0 ? tract_backend_error(s, rc, "find tract") : 0;
}

static int write_tract_meta(tract_store *s, const char *id, const char *display_name,
			    const char *counter)
{
	char key[128], when[48];
	int rc;

	tract_meta_key(key, sizeof(key), id, TRACT_META_CREATED);
	tract_time_format(when, sizeof(when), tract_time_now());
	rc = s->be->meta_set(s->conn, key, when);
	if (rc == 0) {
		tract_meta_key(key, sizeof(key), id, TRACT_META_COUNTER);
		rc = s->be->meta_set(s->conn, key, counter);
	}
	if (rc == 0 && display_name) {
		tract_meta_key(key, sizeof(key), id, TRACT_META_DISPLAY_NAME);
		rc = s->be->meta_set(s->conn, key, display_name);
	}
	return rc < 0 ? tract_backend_error(s, rc, "create tract") : 0;
}

int tract_create(tract **out, tract_store *s, const char *tract_id, const char *display_name,
		 const tract_options *opts)
{
	char idbuf[65];
	tract *t = NULL;
	int rc, exists;

	if (!out || !s)
		return tract_error_set(TRACT_EINVAL, "tract_create: NULL argument");
	*out = NULL;
	if (tract_id && !valid_tract_id(tract_id))
		return tract_error_set(TRACT_EINVAL,
				       "invalid tract id '%s' (1-64 of [A-Za-z0-9._-])", tract_id);
	if (display_name && (!tract_utf8_valid(display_name, strlen(display_name)) ||
			     strlen(display_name) > 255))
		return tract_error_set(TRACT_EINVAL,
				       "invalid display name (must be UTF-8, at most 255 bytes)");
	if (tract_id)
		snprintf(idbuf, sizeof(idbuf), "%s", tract_id);
	else
		random_id(idbuf);
	rc = tract_alloc(&t, s, idbuf, opts);
	if (rc < 0)
		return rc;
	rc = tract_txn_begin(s, TRACT_TXN_WRITE);
	if (rc < 0)
		goto fail;
	rc = tract_exists(&exists, s, idbuf);
	if (rc == 0 && exists)
		rc = tract_error_set(TRACT_EEXISTS, "tract already exists: %s", idbuf);
	if (rc == 0)
		rc = write_tract_meta(s, idbuf, display_name, t->tok->source);
	rc = tract_txn_end(s, rc);
	if (rc < 0)
		goto fail;
	t->counter_ok = 1;
	*out = t;
	return 0;
fail:
	tract_free(t);
	return rc;
}

int tract_open(tract **out, tract_store *s, const char *tract_id, const tract_options *opts)
{
	info_list l = {0};
	tract *t = NULL;
	char idbuf[65];
	int rc;

	if (!out || !s)
		return tract_error_set(TRACT_EINVAL, "tract_open: NULL argument");
	*out = NULL;
	if (tract_id && !valid_tract_id(tract_id))
		return tract_error_set(TRACT_EINVAL, "invalid tract id '%s'", tract_id);
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	if (tract_id) {
		int exists;
		rc = tract_exists(&exists, s, tract_id);
		if (rc == 0 && !exists)
			rc = tract_error_set(TRACT_ENOTFOUND, "tract not found: %s", tract_id);
		if (rc == 0)
			snprintf(idbuf, sizeof(idbuf), "%s", tract_id);
	} else if ((rc = list_locked(&l, s)) == 0) {
		/* Discovery: the only tract, or the most recently active. */
		if (l.count == 0) {
			rc = tract_error_set(TRACT_ENOTFOUND,
					     "No tracts found in store (create one with init)");
		} else {
			qsort(l.items, l.count, sizeof(*l.items), cmp_info);
			snprintf(idbuf, sizeof(idbuf), "%s", l.items[0].tract_id);
		}
	}
	if (rc == 0)
		rc = tract_alloc(&t, s, idbuf, opts);
	if (rc == 0)
		rc = load_settings(t);
	rc = tract_txn_end(s, rc);
	tract_info_free(l.items, l.count);
	if (rc < 0) {
		tract_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void tract_free(tract *t)
{
	if (!t)
		return;
	while (t->batch_depth > 0)
		tract_batch_rollback(t);
	t->store->n_tracts--;
	tract_cache_free(t->cache);
	tract_content_registry_dispose(&t->types);
	free(t->default_branch);
	free(t);
}

const char *tract_id(const tract *t)
{
	return t ? t->id : NULL;
}

tract_store *tract_owner(const tract *t)
{
	return t ? t->store : NULL;
}

/* ---- refs ------------------------------------------------------------------------ */

static int ref_copy_cb(const tract_ref_row *row, void *payload)
{
	tract_ref_value *v = payload;

	v->exists = 1;
	snprintf(v->commit, sizeof(v->commit), "%s", row->commit_hash ? row->commit_hash : "");
	snprintf(v->symbolic, sizeof(v->symbolic), "%s",
		 row->symbolic_target ? row->symbolic_target : "");
	return 0;
}

int tract_ref_read(tract_ref_value *out, tract_store *s, const char *tract_id, const char *name)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = s->be->ref_get(s->conn, tract_id, name, ref_copy_cb, out);
	if (rc == TRACT_ENOTFOUND)
		return 0;
	if (rc < 0)
		return tract_backend_error(s, rc, "read ref");
	return 0;
}

int tract_head_read(tract_head_state *out, tract *t)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = tract_ref_read(&out->head, t->store, t->id, "HEAD");
	if (rc < 0 || !out->head.exists)
		return rc;
	if (out->head.commit[0]) {
		memcpy(out->hash, out->head.commit, sizeof(out->hash));
		return 0;
	}
	rc = tract_ref_read(&out->branch, t->store, t->id, out->head.symbolic);
	if (rc == 0 && out->branch.exists)
		memcpy(out->hash, out->branch.commit, sizeof(out->hash));
	return rc;
}

int tract_head(char out_hash[65], char **out_branch, int *out_detached, tract *t)
{
	tract_head_state hs;
	int rc;

	if (out_branch)
		*out_branch = NULL;
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_head_read(&hs, t);
	rc = tract_txn_end(t->store, rc);
	if (rc < 0)
		return rc;
	memcpy(out_hash, hs.hash, 65);
	if (out_detached)
		*out_detached = hs.head.exists && !hs.head.symbolic[0];
	if (out_branch && hs.head.exists && strncmp(hs.head.symbolic, "refs/heads/", 11) == 0) {
		*out_branch = strdup(hs.head.symbolic + 11);
		if (!*out_branch)
			return tract_error_oom();
	}
	return 0;
}

/* ---- status, budget, batches --------------------------------------------------------- */

int tract_status_get(tract_status *st, tract *t)
{
	tract_context *ctx = NULL;
	int rc;

	memset(st, 0, sizeof(*st));
	st->max_tokens = t->budget_max;
	snprintf(st->tract_id, sizeof(st->tract_id), "%s", t->id);
	rc = tract_head(st->head, &st->branch, &st->detached, t);
	if (rc < 0)
		return rc;
	rc = tract_compile(&ctx, t, NULL);
	if (rc < 0) {
		tract_status_dispose(st);
		return rc;
	}
	st->commit_count = (int64_t)ctx->count;
	st->token_count = ctx->token_count;
	st->token_source = strdup(ctx->token_source);
	tract_context_free(ctx);
	if (!st->token_source) {
		tract_status_dispose(st);
		return tract_error_oom();
	}
	return 0;
}

void tract_status_dispose(tract_status *st)
{
	if (!st)
		return;
	free(st->branch);
	free(st->token_source);
	st->branch = NULL;
	st->token_source = NULL;
}

int tract_budget_set(tract *t, int64_t max_tokens, tract_budget_action action, tract_budget_cb cb,
		     void *payload, int persist)
{
	char key[128], value[32];
	int rc = 0;

	if (action < TRACT_BUDGET_WARN || action > TRACT_BUDGET_CALLBACK)
		return tract_error_set(TRACT_EINVAL, "unknown budget action %d", (int)action);
	if (max_tokens < 0)
		max_tokens = -1;
	if (persist) {
		rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
		if (rc < 0)
			return rc;
		tract_meta_key(key, sizeof(key), t->id, TRACT_META_MAX_TOKENS);
		if (max_tokens < 0) {
			rc = t->store->be->meta_delete(t->store->conn, key);
			if (rc == TRACT_ENOTFOUND)
				rc = 0;
		} else {
			snprintf(value, sizeof(value), "%" PRId64, max_tokens);
			rc = t->store->be->meta_set(t->store->conn, key, value);
		}
		if (rc < 0)
			rc = tract_backend_error(t->store, rc, "persist budget");
		rc = tract_txn_end(t->store, rc);
		if (rc < 0)
			return rc;
	}
	t->budget_max = max_tokens;
	t->budget_action = action;
	t->budget_cb = cb;
	t->budget_payload = payload;
	return 0;
}

int tract_batch_begin(tract *t)
{
	int rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);

	if (rc < 0)
		return rc;
	t->store->batch_depth++;
	t->batch_depth++;
	/* Spec §4.7: entering a batch clears the compile cache. */
	tract_cache_clear(t->cache);
	return 0;
}

static int batch_end(tract *t, int rc)
{
	if (t->batch_depth <= 0)
		return tract_error_set(TRACT_EINVAL, "no batch is open on this tract");
	t->batch_depth--;
	t->store->batch_depth--;
	rc = tract_txn_end(t->store, rc);
	tract_cache_sync(t);
	return rc;
}

int tract_batch_commit(tract *t)
{
	if (t->store->batch_failed && t->store->txn_depth == 1) {
		batch_end(t, TRACT_ERROR);
		return tract_error_set(TRACT_ERROR,
				       "batch rolled back: an operation inside it failed");
	}
	return batch_end(t, 0);
}

int tract_batch_rollback(tract *t)
{
	int rc = batch_end(t, TRACT_ERROR);

	if (rc == TRACT_ERROR) {
		tract_error_clear();
		return 0;
	}
	return rc;
}

/* ---- misc ------------------------------------------------------------------------ */

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
