/*
 * wrapped.c - test backends that wrap the SQLite plugin's table, built
 * three times with a different WRAP_KIND: a version-1 table (shorter than
 * the current one: the loader must read none of the newer members), a
 * table that lacks a required member (refused at load time, by name), and
 * a plugin serving a scheme that is not its file name (found by its table).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "tract/sys/backend.h"

#define KIND_V1 1
#define KIND_MISSING 2
#define KIND_ALIAS 3

#if WRAP_KIND == KIND_V1
#define WRAP_NAME "v1table"
#define WRAP_SCHEME "v1table"
#elif WRAP_KIND == KIND_MISSING
#define WRAP_NAME "nomember"
#define WRAP_SCHEME "nomember"
#else
#define WRAP_NAME "alias"
#define WRAP_SCHEME "aliasdb"
#endif

#if WRAP_KIND == KIND_V1
#define TABLE_SIZE TRACT_BACKEND_V1_SIZE
#else
#define TABLE_SIZE sizeof(tract_backend)
#endif

static const tract_backend *real;
/* Static storage (the loader may dlclose a refused plugin) exactly as long
 * as the table: ASan reports any read beyond it. */
static _Alignas(tract_backend) unsigned char storage[TABLE_SIZE];
static void *table;
static const char *const schemes[] = {WRAP_SCHEME, NULL};

/* Open "SCHEME:PATH" as the SQLite file PATH. */
static int wrapped_open(tract_backend_conn **out, const char *uri, unsigned flags, char *errbuf,
			size_t errlen)
{
	size_t n = strlen(WRAP_SCHEME);

	if (uri && strncmp(uri, WRAP_SCHEME ":", n + 1) == 0)
		uri += n + 1;
	return real->open(out, uri, flags, errbuf, errlen);
}

__attribute__((visibility("default"))) const tract_backend *tract_backend_entry(void);

const tract_backend *tract_backend_entry(void)
{
	tract_backend_entry_fn entry;
	tract_backend full;
	void *h;

	if (table)
		return table;
	h = dlopen(SQLITE_PLUGIN, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return NULL;
	*(void **)(&entry) = dlsym(h, TRACT_BACKEND_ENTRY);
	real = entry ? entry() : NULL;
	if (!real)
		return NULL;
	full = *real;
	full.name = WRAP_NAME;
	full.schemes = schemes;
	full.open = wrapped_open;
	full.destroy = NULL;
	full.same_store = NULL;
#if WRAP_KIND == KIND_MISSING
	full.commit_chain = NULL;
#endif
#if WRAP_KIND == KIND_V1
	full.version = 1;
#endif
	memcpy(storage, &full, TABLE_SIZE);
	table = storage;
	return table;
}
