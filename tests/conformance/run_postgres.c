/*
 * run_postgres.c - the conformance kit against the PostgreSQL plugin, on
 * the server of TRACT_TEST_PG_URI (set by scripts/pg.sh): each test gets a
 * new schema (?schema=), dropped after it. Without the variable the suite
 * skips (exit 77). The schemas are dropped with libpq (tests/teststore.c).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conformance.h"
#include "teststore.h"

struct pg_factory {
	const char *base; /* the server's URI */
	unsigned serial;
};

static char *fresh_uri(void *self, void **cookie)
{
	struct pg_factory *pg = self;
	char *schema = NULL, *uri = NULL;

	if (asprintf(&schema, "tract_conf_%ld_%u", (long)getpid(), pg->serial++) < 0)
		return NULL;
	if (asprintf(&uri, "%s%sschema=%s", pg->base, strchr(pg->base, '?') ? "&" : "?",
		     schema) < 0) {
		free(schema);
		return NULL;
	}
	*cookie = schema;
	return uri;
}

/* Drop a test's schema with everything in it. */
static void destroy_store(void *self, void *cookie)
{
	struct pg_factory *pg = self;

	ts_pg_drop_schema(pg->base, cookie);
	free(cookie);
}

int main(void)
{
	struct pg_factory pg = {getenv("TRACT_TEST_PG_URI"), 0};
	tract_conformance_factory f = {
		.name = "postgres",
		.fresh_uri = fresh_uri,
		.destroy_store = destroy_store,
		/* Refused writes may surface at a later call (pipelined). */
		.flags = TRACT_CONF_HOLDS_BACK_WRITES,
		.self = &pg,
	};

	if (!pg.base || !*pg.base) {
		printf("TRACT_TEST_PG_URI is not set (no PostgreSQL server): skipped\n");
		return 77;
	}
	if (tract_conformance_load("postgres", &f.backend) < 0)
		return 1;
	return tract_conformance_run(&f) == 0 ? 0 : 1;
}
