/*
 * run_files.c - the conformance kit against a file backend, built once per
 * plugin with BACKEND ("sqlite", "lmdb") and STORE_NAME (the store's name
 * inside its directory: "t.db" a file, "store" an environment directory).
 * Each test gets a new temporary directory (under the location of
 * TRACT_TEST_URI "SCHEME:DIR" when given, else $TMPDIR), removed after it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

/* The directory part of TRACT_TEST_URI ("SCHEME:DIR"), NULL for $TMPDIR. */
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
	if (dir && asprintf(&uri, BACKEND ":%s/" STORE_NAME, dir) < 0)
		uri = NULL;
	return uri;
}

/* A plain path (the plugin takes one without its scheme) naming nothing. */
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
		.name = BACKEND,
		.fresh_uri = fresh_uri,
		.missing_uri = missing_uri,
		.destroy_store = destroy_store,
	};

	if (tract_conformance_load(BACKEND, &f.backend) < 0)
		return 1;
	return tract_conformance_run(&f) == 0 ? 0 : 1;
}
