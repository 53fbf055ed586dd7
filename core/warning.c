/*
 * warning.c - the process-wide warning hook (budget warnings, a missing
 * token table...) and the default that prints them on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pthread.h>
#include <stdarg.h>

#include "warning.h"
#include "tract/common.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static tract_warning_cb log_cb;
static void *log_payload;

void tract_warning_hook_set(tract_warning_cb cb, void *payload)
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
	tract_warning_cb cb;
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

/* ---- debug lines ------------------------------------------------------- */

static tract_warning_cb debug_cb;
static void *debug_payload;

void tract_debug_hook_set(tract_warning_cb cb, void *payload)
{
	pthread_mutex_lock(&log_lock);
	debug_cb = cb;
	debug_payload = payload;
	pthread_mutex_unlock(&log_lock);
}

static int debug_env(void)
{
	const char *v = getenv("TRACT_DEBUG");

	return v && *v && strcmp(v, "0") != 0;
}

int tract_debug_enabled(void)
{
	int on;

	pthread_mutex_lock(&log_lock);
	on = debug_cb != NULL;
	pthread_mutex_unlock(&log_lock);
	return on || debug_env();
}

void tract_debug(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	tract_warning_cb cb;
	void *payload;

	pthread_mutex_lock(&log_lock);
	cb = debug_cb;
	payload = debug_payload;
	pthread_mutex_unlock(&log_lock);
	if (!cb && !debug_env())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cb)
		cb(msg, payload);
	else
		fprintf(stderr, "tract: debug: %s\n", msg);
}
