/*
 * wait.c - tract_wait_ref(): block until another process moves a ref
 * (include/tract/wait.h, DESIGN.md §10). Operations layer.
 *
 * A backend with ref_watch (ABI version 4; PostgreSQL: LISTEN/NOTIFY)
 * wakes the waiter when a ref of the tract changes; the core then reads
 * the ref again. Other backends get the polling fallback DESIGN.md §10
 * names: one ref read in a short read transaction, then a sleep that
 * doubles from 1 ms to 20 ms, so a waiter costs at most 50 ref reads a
 * second and wakes within about 20 ms of the move. No transaction is open
 * while it sleeps, so writers are never held up.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "json.h"
#include "walk.h"

#define WAIT_SLEEP_MIN_US 1000
#define WAIT_SLEEP_MAX_US 20000

int tract_wait_options_init(tract_wait_options *opts, unsigned int version)
{
	tract_wait_options defaults = TRACT_WAIT_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_wait_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_WAIT_OPTIONS_VERSION, "tract_wait_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The commit the watched ref resolves to now ("" when none). */
static int read_target(char out[65], tract *t, const char *name)
{
	tract_head_state hs;
	tract_ref_value ref;
	int rc;

	out[0] = '\0';
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	if (!name) {
		rc = tract_head_read(&hs, t);
		if (rc == 0)
			memcpy(out, hs.hash, 65);
	} else {
		rc = tract_ref_read(&ref, t->store, t->id, name);
		if (rc == 0 && ref.exists && ref.commit[0])
			memcpy(out, ref.commit, 65);
	}
	return tract_txn_end(t->store, rc);
}

/* ---- waiting for a collapse of a child ------------------------------------ */

typedef struct {
	const char *child;
	const char *stop;  /* past: the walk ends there */
	char found[65];    /* the newest collapse of child, "" when none */
	int rc;
} collapse_probe;

static int collapse_probe_cb(const tract_chain_row *row, void *payload)
{
	collapse_probe *p = payload;
	const char *m = row->commit.metadata_json;
	cJSON *obj, *src;

	if (p->stop[0] && strcmp(row->commit.commit_hash, p->stop) == 0)
		return 1;
	if (!m || !strstr(m, "collapse_source_tract_id"))
		return 0;
	obj = cJSON_Parse(m);
	src = obj ? cJSON_GetObjectItemCaseSensitive(obj, "collapse_source_tract_id") : NULL;
	if (cJSON_IsString(src) && strcmp(src->valuestring, p->child) == 0)
		tract_copy_id(p->found, row->commit.commit_hash);
	cJSON_Delete(obj);
	return p->found[0] ? 1 : 0;
}

/* The newest collapse of child among the commits from now back to past
 * (excluded) on the first-parent line, in a short read transaction. */
static int find_collapse(char out[65], tract *t, const char *child, const char *now,
			 const char *past)
{
	collapse_probe p;
	int rc;

	out[0] = '\0';
	memset(&p, 0, sizeof(p));
	p.child = child;
	p.stop = past;
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_chain_walk(t->store, t->id, now, 0, 0, INT64_MAX, collapse_probe_cb, &p,
			      "walk history", NULL);
	rc = tract_txn_end(t->store, rc);
	if (rc == 0)
		tract_copy_id(out, p.found);
	return rc;
}

/* opts->collapsed must name a child of t (its spawn pointer). */
static int check_child(tract *t, const char *child)
{
	tract_spawn_info *info = NULL;
	int rc;

	if (!child[0] || strlen(child) > TRACT_ID_MAXLEN || !tract_utf8_valid(child, strlen(child)))
		return tract_error_set(TRACT_EINVAL, "tract_wait_ref: invalid child tract id");
	rc = tract_spawn_info_get(&info, t->store, child);
	if (rc == TRACT_ENOTFOUND)
		return tract_error_set(TRACT_ENOTFOUND, "No spawn pointer found for child tract: %s",
				       child);
	if (rc < 0)
		return rc;
	if (strcmp(info->parent_tract_id, t->id) != 0)
		rc = tract_error_set(TRACT_EINVAL,
				     "tract %s is not the parent of %s (its parent is %s)", t->id,
				     child, info->parent_tract_id);
	tract_spawn_info_free(info);
	return rc;
}

int tract_wait_ref(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const tract_wait_options *opts)
{
	tract_wait_options defaults = TRACT_WAIT_OPTIONS_INIT;
	char name[300], past[65], now[65];
	const char *watch = NULL, *child = NULL;
	int (*watcher)(tract_backend_conn *, const char *, int64_t);
	int64_t start, deadline = -1, sleep_us = WAIT_SLEEP_MIN_US;
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_wait_ref: NULL argument");
	out[0] = '\0';
	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_WAIT_OPTIONS_VERSION, "tract_wait_options") < 0)
		return TRACT_EINVAL;
	if (t->store->txn_depth > 0)
		return tract_error_set(TRACT_EINVAL,
				       "tract_wait_ref: cannot wait inside a batch (it would never "
				       "see another writer)");
	if (opts->ref && strcmp(opts->ref, "HEAD") != 0) {
		size_t n = strlen(opts->ref);

		if (n == 0 || n > 255 || !tract_utf8_valid(opts->ref, n))
			return tract_error_set(TRACT_EINVAL, "tract_wait_ref: invalid ref name");
		if (strncmp(opts->ref, "refs/", 5) == 0)
			snprintf(name, sizeof(name), "%s", opts->ref);
		else
			snprintf(name, sizeof(name), "refs/heads/%s", opts->ref);
		watch = name;
	}
	if (opts->version >= 2 && opts->collapsed) {
		rc = check_child(t, opts->collapsed);
		if (rc < 0)
			return rc;
		child = opts->collapsed;
	}
	start = mono_us();
	if (opts->timeout_ms >= 0)
		deadline = start + opts->timeout_ms * 1000;
	/* Arm the backend's watch before the first read: no change made after
	 * the read can then go unnoticed. */
	watcher = t->store->be->ref_watch;
	if (watcher) {
		rc = watcher(t->store->conn, t->id, 0);
		if (rc < 0)
			return tract_backend_error(t->store, rc, "watch refs");
	}
	if (opts->past) {
		rc = tract_revision_resolve(past, t, opts->past);
		if (rc < 0)
			return rc;
	} else {
		rc = read_target(past, t, watch);
		if (rc < 0)
			return rc;
	}
	for (;;) {
		int64_t left;
		struct timespec ts;

		rc = read_target(now, t, watch);
		if (rc < 0)
			return rc;
		if (strcmp(now, past) != 0 && child) {
			char found[65];

			rc = find_collapse(found, t, child, now, past);
			if (rc < 0)
				return rc;
			if (found[0]) {
				memcpy(out, found, 65);
				return 0;
			}
			/* No collapse of the child yet: wait for the next move. */
			memcpy(past, now, 65);
		} else if (strcmp(now, past) != 0) {
			memcpy(out, now, 65);
			return 0;
		}
		if (deadline >= 0) {
			left = deadline - mono_us();
			if (left <= 0 && child)
				return tract_error_set(TRACT_ETIMEOUT,
						       "timed out after %lld ms waiting for a "
						       "collapse of %s into %s",
						       (long long)opts->timeout_ms, child, t->id);
			if (left <= 0)
				return tract_error_set(TRACT_ETIMEOUT,
						       "timed out after %lld ms waiting for %s to "
						       "move past %.12s",
						       (long long)opts->timeout_ms,
						       watch ? watch : "HEAD",
						       past[0] ? past : "(none)");
			if (sleep_us > left)
				sleep_us = left;
		}
		if (watcher) {
			/* Woken by a change (or a spurious wake): read again. A
			 * slice of at most 10 s bounds what a lost notification
			 * could cost. */
			int64_t slice = deadline >= 0 ? (deadline - mono_us() + 999) / 1000 : 10000;

			if (slice > 10000)
				slice = 10000;
			if (slice < 1)
				slice = 1;
			rc = watcher(t->store->conn, t->id, slice);
			if (rc < 0 && rc != TRACT_ETIMEOUT)
				return tract_backend_error(t->store, rc, "wait for a ref change");
			continue;
		}
		ts.tv_sec = (time_t)(sleep_us / 1000000);
		ts.tv_nsec = (long)(sleep_us % 1000000) * 1000;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		sleep_us *= 2;
		if (sleep_us > WAIT_SLEEP_MAX_US)
			sleep_us = WAIT_SLEEP_MAX_US;
	}
}
