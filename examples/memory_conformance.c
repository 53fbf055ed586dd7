/*
 * memory_conformance.c - the conformance kit (tests/conformance/) run
 * against the example in-memory backend: what an out-of-tree backend's
 * test looks like, a store factory and a main of a few lines.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conformance.h"

/* Every test gets a store name of its own; stores live until exit. */
static char *fresh_uri(void *self, void **cookie)
{
	unsigned *serial = self;
	char *uri = NULL;

	*cookie = NULL;
	if (asprintf(&uri, "mem:conformance-%ld-%u", (long)getpid(), (*serial)++) < 0)
		return NULL;
	return uri;
}

/* A name nobody created: open() without CREATE must not find it. */
static char *missing_uri(void *self, void *cookie, char **path)
{
	unsigned *serial = self;
	char *uri = NULL;

	(void)cookie;
	(void)path;
	if (asprintf(&uri, "mem:missing-%ld-%u", (long)getpid(), (*serial)++) < 0)
		return NULL;
	return uri;
}

int main(int argc, char **argv)
{
	unsigned serial = 0;
	tract_conformance_factory f = {
		.name = "mem",
		.fresh_uri = fresh_uri,
		.missing_uri = missing_uri,
		.self = &serial,
	};

	/* The plugin's path, or its name looked up on TRACT_PLUGIN_PATH. */
	if (tract_conformance_load(argc > 1 ? argv[1] : "mem", &f.backend) < 0)
		return 1;
	return tract_conformance_run(&f) == 0 ? 0 : 1;
}
