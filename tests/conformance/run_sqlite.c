/*
 * run_sqlite.c - the conformance kit against the SQLite plugin: each test
 * gets a database file in a new temporary directory (under the location of
 * TRACT_TEST_URI "sqlite:DIR" when given, else $TMPDIR), removed after it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

/* The directory part of TRACT_TEST_URI ("sqlite:DIR"), NULL for $TMPDIR. */
static const char *base_dir(void)
{
	const char *env = getenv("TRACT_TEST_URI"), *colon = env ? strchr(env, ':') : NULL;

	return colon && colon[1] ? colon + 1 : NULL;
}

static char *fresh_uri(void *self, void **cookie)
{
	char *dir = tract_conformance_tmpdir(base_dir()), *uri = NULL;

	(void)self;
	*cookie = dir;
	if (dir && asprintf(&uri, "sqlite:%s/t.db", dir) < 0)
		uri = NULL;
	return uri;
}

/* A plain path: the default backend serves it, and it names a file. */
static char *missing_uri(void *self, void *cookie, char **path)
{
	char *uri = NULL;

	(void)self;
	if (asprintf(&uri, "%s/missing-store", (char *)cookie) < 0)
		return NULL;
	*path = strdup(uri);
	return uri;
}

static void destroy_store(void *self, void *cookie)
{
	(void)self;
	tract_conformance_rmtree(cookie);
	free(cookie);
}

int main(void)
{
	tract_conformance_factory f = {
		.name = "sqlite",
		.fresh_uri = fresh_uri,
		.missing_uri = missing_uri,
		.destroy_store = destroy_store,
	};

	if (tract_conformance_load("sqlite", &f.backend) < 0)
		return 1;
	return tract_conformance_run(&f) == 0 ? 0 : 1;
}
