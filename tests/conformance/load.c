/*
 * load.c - the kit's own plugin loader and temporary-directory helpers, so
 * that a factory needs neither libtract nor its internals: dlopen a
 * tract-backend-NAME.so, call its entry and copy its table full-size.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conformance.h"

/* dlopen one file; 0 and *handle, or TRACT_EPLUGIN with why. */
static int open_file(void **handle, const char *file, char *why, size_t whylen)
{
	*handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	if (!*handle) {
		snprintf(why, whylen, "%s", dlerror());
		return TRACT_EPLUGIN;
	}
	return 0;
}

/* Find NAME on TRACT_PLUGIN_PATH, then let the dynamic linker look. */
static int open_name(void **handle, const char *name, char *why, size_t whylen)
{
	const char *path = getenv("TRACT_PLUGIN_PATH"), *dir, *end;
	char file[4096];
	struct stat sb;

	for (dir = path; dir && *dir; dir = *end ? end + 1 : end) {
		end = strchr(dir, ':');
		if (!end)
			end = dir + strlen(dir);
		if (end == dir)
			continue;
		snprintf(file, sizeof(file), "%.*s/tract-backend-%s.so", (int)(end - dir), dir,
			 name);
		if (stat(file, &sb) == 0)
			return open_file(handle, file, why, whylen);
	}
	snprintf(file, sizeof(file), "tract-backend-%s.so", name);
	return open_file(handle, file, why, whylen);
}

int tract_conformance_load(const char *path_or_name, const tract_backend **out)
{
	/* The copies live until exit, as the plugins do (never unloaded). */
	static tract_backend tables[8];
	static size_t n_tables;
	tract_backend_entry_fn entry;
	const tract_backend *t;
	void *h = NULL;
	char why[4200] = "";
	int rc;

	*out = NULL;
	if (n_tables == sizeof(tables) / sizeof(tables[0])) {
		snprintf(why, sizeof(why), "more than %zu backends loaded", n_tables);
		rc = TRACT_EPLUGIN;
		goto done;
	}
	if (strchr(path_or_name, '/'))
		rc = open_file(&h, path_or_name, why, sizeof(why));
	else
		rc = open_name(&h, path_or_name, why, sizeof(why));
	if (rc < 0)
		goto done;
	*(void **)(&entry) = dlsym(h, TRACT_BACKEND_ENTRY);
	t = entry ? entry() : NULL;
	rc = TRACT_EPLUGIN;
	if (!t) {
		snprintf(why, sizeof(why), "%s: no entry symbol %s or no table", path_or_name,
			 TRACT_BACKEND_ENTRY);
		goto done;
	}
	if (t->version < 1 || t->version > TRACT_BACKEND_VERSION) {
		snprintf(why, sizeof(why), "%s: backend ABI version %u, this kit knows 1 to %d",
			 path_or_name, t->version, TRACT_BACKEND_VERSION);
		goto done;
	}
	/* A version-1 table is shorter: never read past its end. */
	memcpy(&tables[n_tables], t,
	       t->version == 1   ? TRACT_BACKEND_V1_SIZE
	       : t->version == 2 ? TRACT_BACKEND_V2_SIZE
	       : t->version == 3 ? TRACT_BACKEND_V3_SIZE
	       : t->version == 4 ? TRACT_BACKEND_V4_SIZE
				 : sizeof(*t));
	*out = &tables[n_tables++];
	rc = 0;
done:
	if (rc < 0) {
		fprintf(stderr, "conformance: cannot load backend %s: %s\n", path_or_name, why);
		if (h)
			dlclose(h);
	}
	return rc;
}

char *tract_conformance_tmpdir(const char *base)
{
	char *dir = NULL;

	if (!base || !*base)
		base = getenv("TMPDIR");
	if (asprintf(&dir, "%s/tract-conf-XXXXXX", base && *base ? base : "/tmp") < 0)
		return NULL;
	if (!mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tract_conformance_rmtree(const char *dir)
{
	if (dir)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
