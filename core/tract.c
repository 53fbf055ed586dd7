/*
 * tract.c - tract handles: creating and opening a tract of a store, ids,
 * discovery of the most recently active tract, and the list of a store's
 * tracts with their heads and names (model layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ctype.h>
#include <openssl/rand.h>

#include "internal.h"
#include "json.h"
#include "tokenizer.h"

/* ---- tract listing ---------------------------------------------------------- */

typedef struct {
	tract_info *items;
	size_t count, cap;
	int rc;
} info_list;

/* A row of a damaged store without a string it must have: the listing
 * stops with TRACT_ECORRUPT (kept in l->rc with its message). */
static int info_corrupt(info_list *l, const char *what)
{
	l->rc = tract_error_set(TRACT_ECORRUPT, "list tracts: a stored %s is missing", what);
	return l->rc;
}

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
	tract_info *it;

	if (!row->tract_id)
		return info_corrupt(l, "tract id");
	if (!(it = info_add(l, row->tract_id)))
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
	const char *id, *colon;
	char idbuf[65];
	tract_info *it;
	size_t n;

	if (!key || !value || strlen(key) < 6)
		return key && value ? 0 : info_corrupt(l, "tract metadata entry");
	id = key + 6;
	colon = strrchr(key, ':');
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
	tract_info *it;

	if (!row->child_tract_id || !row->parent_tract_id)
		return info_corrupt(l, "spawn pointer's tract id");
	it = info_find(l, row->child_tract_id);
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
		return l->rc ? l->rc
		     : rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "list tracts");
	rc = s->be->meta_foreach(s->conn, "tract:", collect_meta, l);
	if (rc < 0)
		return l->rc ? l->rc
		     : rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "list tracts");
	rc = s->be->spawn_foreach(s->conn, NULL, collect_spawn, l);
	if (rc < 0)
		return l->rc ? l->rc
		     : rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "list tracts");
	return fill_heads(s, l);
}

int tract_store_list_tracts(tract_info_list **out, tract_store *s)
{
	info_list l = {0};
	tract_info_list *list;
	int rc;

	if (!out || !s)
		return tract_error_set(TRACT_EINVAL, "tract_store_list_tracts: NULL argument");
	*out = NULL;
	list = calloc(1, sizeof(*list));
	if (!list)
		return tract_error_oom();
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc == 0) {
		rc = list_locked(&l, s);
		for (size_t i = 0; rc == 0 && i < l.count; i++) {
			int ended = 0;
			rc = tract_session_ended(&ended, s, l.items[i].tract_id, l.items[i].head);
			l.items[i].is_active = !ended;
		}
		rc = tract_txn_end(s, rc);
	}
	list->items = l.items;
	list->count = l.count;
	if (rc < 0) {
		tract_info_list_free(list);
		return rc;
	}
	if (list->count > 1) /* an empty store has no items: qsort(NULL, ...) is undefined */
		qsort(list->items, list->count, sizeof(*list->items), cmp_info);
	*out = list;
	return 0;
}

static void info_items_free(tract_info *infos, size_t count)
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

void tract_info_list_free(tract_info_list *list)
{
	if (!list)
		return;
	info_items_free(list->items, list->count);
	free(list);
}

/* ---- tract handles ------------------------------------------------------------ */

int tract_open_options_init(tract_open_options *opts, unsigned int version)
{
	tract_open_options defaults = TRACT_OPEN_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_open_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_OPEN_OPTIONS_VERSION, "tract_open_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

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

static int tract_alloc(tract **out, tract_store *s, const char *id, const tract_open_options *opts)
{
	tract_open_options defaults = TRACT_OPEN_OPTIONS_INIT;
	tract *t;

	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_OPEN_OPTIONS_VERSION, "tract_open_options") <
	    0)
		return TRACT_EINVAL;
	if (opts->tokenizer && tract_tokenizer_check(opts->tokenizer) < 0)
		return TRACT_EINVAL;
	if (opts->default_branch && tract_refname_check("default branch", opts->default_branch) < 0)
		return TRACT_EINVAL;
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
	t->tok = opts->tokenizer ? opts->tokenizer : tract_tokenizer_default_get();
	t->verify_cache = opts->verify_cache;
	/* max_content_bytes is a version-2 member: older callers get the default. */
	t->max_content = TRACT_MAX_CONTENT_DEFAULT;
	if (opts->version >= 2 && opts->max_content_bytes)
		t->max_content = opts->max_content_bytes;
	t->budget_max = -1;
	t->cache_epoch = s->cache_epoch;
	s->refs++;
	*out = t;
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
	if (rc < 0)
		return rc;
	tract_meta_key(key, sizeof(key), t->id, TRACT_META_BUDGET_POLICY);
	rc = tract_meta_read(t->store, key, value, sizeof(value), &found);
	if (rc == 0 && found && strcmp(value, "auto_compact") == 0)
		t->budget_policy = TRACT_BUDGET_POLICY_AUTO_COMPACT;
	if (rc == 0 && found && strcmp(value, "auto_compress") == 0)
		t->budget_policy = TRACT_BUDGET_POLICY_AUTO_COMPRESS;
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
		 const tract_open_options *opts)
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

int tract_open(tract **out, tract_store *s, const char *tract_id, const tract_open_options *opts)
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
	info_items_free(l.items, l.count);
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
	tract_cache_free(t->cache);
	tract_content_registry_dispose(&t->types);
	free(t->default_branch);
	tract_store_release(t->store);
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
