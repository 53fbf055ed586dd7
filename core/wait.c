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

int tract_wait_ref(char out[TRACT_HASH_HEXSIZE + 1], tract *t, const tract_wait_options *opts)
{
	tract_wait_options defaults = TRACT_WAIT_OPTIONS_INIT;
	char name[300], past[65], now[65];
	const char *watch = NULL;
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
		if (strcmp(now, past) != 0) {
			memcpy(out, now, 65);
			return 0;
		}
		if (deadline >= 0) {
			left = deadline - mono_us();
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
