/*
 * plugin.c - finds and loads backend and provider plugins with dlopen.
 *
 * Search order: TRACT_PLUGIN_PATH, the build tree (only when libtract itself
 * runs from the build tree), the installed plugin directory. A loaded plugin
 * stays loaded for the life of the process.
 */
#define _GNU_SOURCE
#include "plugin.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"

#ifndef TRACT_BUILD_PLUGIN_PATH
#define TRACT_BUILD_PLUGIN_PATH ""
#endif
#ifndef TRACT_PLUGIN_DIR
#define TRACT_PLUGIN_DIR "/usr/local/lib/tract/plugins"
#endif
#ifndef TRACT_BUILD_ROOT
#define TRACT_BUILD_ROOT ""
#endif

#define MAX_LOADED 32

/* A loaded backend: the core's own full-size copy of the plugin's table,
 * members newer than the plugin's version zeroed, so the core reads every
 * member of the current version safely whatever version the plugin was
 * written against. Never freed: plugins stay loaded. */
struct loaded_backend {
	char name[32];
	tract_backend table;
};

static pthread_mutex_t loader_lock = PTHREAD_MUTEX_INITIALIZER;
static struct loaded_backend *loaded[MAX_LOADED];
static size_t n_loaded;

/* A loaded provider: the core's full-size copy of its table, like a
 * backend's. Never freed: plugins stay loaded. */
struct loaded_provider {
	char name[32];
	tract_provider table;
};

static struct loaded_provider *loaded_providers[MAX_LOADED];
static size_t n_loaded_providers;

static int valid_plugin_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= 32)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '_' && c != '-')
			return 0;
	}
	return 1;
}
int tract_plugin_name_valid(const char *name)
{
	return name && valid_plugin_name(name);
}

/* True when libtract was loaded from inside the build tree. Decided once:
 * the object holding this function (the shared library, or an executable
 * that links the core statically), resolved to an absolute path; dladdr
 * gives the main program's name as it was invoked ("./bench/x"), so that
 * one is read from /proc/self/exe. */
static pthread_once_t build_tree_once = PTHREAD_ONCE_INIT;
static int build_tree;

static void build_tree_init(void)
{
	Dl_info info;
	char path[PATH_MAX], root[PATH_MAX];
	size_t n;

	if (!*TRACT_BUILD_ROOT || !dladdr((void *)&tract_running_from_build_tree, &info) ||
	    !info.dli_fname)
		return;
	if (strchr(info.dli_fname, '/')) {
		if (!realpath(info.dli_fname, path))
			return;
	} else {
		ssize_t k = readlink("/proc/self/exe", path, sizeof(path) - 1);
		if (k <= 0)
			return;
		path[k] = '\0';
	}
	if (!realpath(TRACT_BUILD_ROOT, root))
		return;
	n = strlen(root);
	build_tree = strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

int tract_running_from_build_tree(void)
{
	pthread_once(&build_tree_once, build_tree_init);
	return build_tree;
}

/* Append dir to the colon-separated list b unless it is already there. */
static int path_add(tract_buf *b, const char *dir, size_t len)
{
	const char *p = b->ptr;
	int rc = 0;

	if (len == 0)
		return 0;
	while (p && *p) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == len && strncmp(p, dir, len) == 0)
			return 0;
		p = end ? end + 1 : p + n;
	}
	if (b->len)
		rc |= tract_buf_putc(b, ':');
	return rc | tract_buf_put(b, dir, len);
}

static int path_add_all(tract_buf *b, const char *list)
{
	int rc = 0;

	while (*list) {
		const char *end = strchr(list, ':');
		size_t n = end ? (size_t)(end - list) : strlen(list);
		rc |= path_add(b, list, n);
		list += n + (end ? 1 : 0);
	}
	return rc;
}

int tract_plugin_search_path(char **out)
{
	tract_buf b = TRACT_BUF_INIT;
	const char *env = getenv("TRACT_PLUGIN_PATH");
	int rc = 0;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_plugin_search_path: out is NULL");
	*out = NULL;
	if (env)
		rc |= path_add_all(&b, env);
	if (tract_running_from_build_tree())
		rc |= path_add_all(&b, TRACT_BUILD_PLUGIN_PATH);
	rc |= path_add_all(&b, TRACT_PLUGIN_DIR);
	if (rc || !(*out = tract_buf_detach(&b))) {
		tract_buf_dispose(&b);
		return tract_error_oom();
	}
	return 0;
}

static int file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Locate kind/name on the search path; *tried lists the paths looked at. */
static char *find_plugin_file(const char *kind, const char *name, tract_buf *tried)
{
	char *path = NULL, *save = NULL, *dir, *found = NULL;
	tract_buf cand = TRACT_BUF_INIT;

	if (tract_plugin_search_path(&path) < 0)
		return NULL;
	for (dir = strtok_r(path, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		if (!*dir)
			continue;
		tract_buf_clear(&cand);
		if (tract_buf_printf(&cand, "%s/tract-%s-%s.so", dir, kind, name) < 0)
			break;
		if (tried->len)
			tract_buf_puts(tried, ", ");
		tract_buf_puts(tried, cand.ptr);
		if (file_exists(cand.ptr)) {
			found = tract_buf_detach(&cand);
			break;
		}
	}
	tract_buf_dispose(&cand);
	free(path);
	return found;
}

/* Check a table; on success copy it into dst (full size, newer members
 * zeroed). On failure write why. */
static int adopt_table(tract_backend *dst, const tract_backend *table, const char *file,
		       const char *name, char *why, size_t whylen)
{
	const char *missing;
	size_t size, i;

	if (table->version < 1 || table->version > TRACT_BACKEND_VERSION) {
		snprintf(why, whylen, "%s has backend ABI version %u, this tract knows 1 to %d",
			 file, table->version, TRACT_BACKEND_VERSION);
		return TRACT_EPLUGIN;
	}
	size = table->version == 1   ? TRACT_BACKEND_V1_SIZE
	       : table->version == 2 ? TRACT_BACKEND_V2_SIZE
	       : table->version == 3 ? TRACT_BACKEND_V3_SIZE
	       : table->version == 4 ? TRACT_BACKEND_V4_SIZE
				     : sizeof(*dst);
	memset(dst, 0, sizeof(*dst));
	memcpy(dst, table, size);
	missing = tract_backend_missing_member(dst);
	if (missing) {
		snprintf(why, whylen, "%s: the backend table (version %u) lacks the required "
			 "member %s", file, table->version, missing);
		return TRACT_EPLUGIN;
	}
	if (strcmp(dst->name, name) != 0) {
		snprintf(why, whylen, "%s: the table names the backend '%.40s', not '%s'", file,
			 dst->name, name);
		return TRACT_EPLUGIN;
	}
	for (i = 0; dst->schemes[i]; i++) {
		if (strlen(dst->schemes[i]) < 2 || !valid_plugin_name(dst->schemes[i])) {
			snprintf(why, whylen, "%s: invalid URI scheme '%.40s' (2 to 31 letters, "
				 "digits, '_' or '-')", file, dst->schemes[i]);
			return TRACT_EPLUGIN;
		}
	}
	return 0;
}

/* dlopen a backend file and adopt its table; on failure set *why. */
static int open_backend_file(tract_backend *out, const char *file, const char *name, char *why,
			     size_t whylen)
{
	void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	tract_backend_entry_fn entry;
	const tract_backend *table;
	int rc;

	if (!h) {
		snprintf(why, whylen, "%s", dlerror());
		return TRACT_EPLUGIN;
	}
	*(void **)(&entry) = dlsym(h, TRACT_BACKEND_ENTRY);
	if (!entry) {
		snprintf(why, whylen, "%s lacks the entry symbol %s", file, TRACT_BACKEND_ENTRY);
		dlclose(h);
		return TRACT_EPLUGIN;
	}
	table = entry();
	if (!table) {
		snprintf(why, whylen, "%s: entry returned no table", file);
		dlclose(h);
		return TRACT_EPLUGIN;
	}
	rc = adopt_table(out, table, file, name, why, whylen);
	if (rc < 0)
		dlclose(h);
	return rc;
}

/* Load NAME with loader_lock held; *tried (may be NULL) gathers paths. */
static int load_backend_locked(const tract_backend **out, const char *name, tract_buf *tried)
{
	struct loaded_backend *lb;
	char why[512];
	char *file;
	size_t i;
	int rc;

	for (i = 0; i < n_loaded; i++) {
		if (strcmp(loaded[i]->name, name) == 0) {
			*out = &loaded[i]->table;
			return 0;
		}
	}
	file = find_plugin_file("backend", name, tried);
	if (!file)
		return tract_error_set(TRACT_EPLUGIN, "backend plugin '%s' not found (tried %s)",
				       name, tried->ptr ? tried->ptr : "nothing");
	lb = calloc(1, sizeof(*lb));
	if (!lb) {
		free(file);
		return tract_error_oom();
	}
	rc = open_backend_file(&lb->table, file, name, why, sizeof(why));
	free(file);
	if (rc < 0) {
		free(lb);
		return tract_error_set(rc, "backend plugin '%s': %s", name, why);
	}
	snprintf(lb->name, sizeof(lb->name), "%s", name);
	if (n_loaded < MAX_LOADED)
		loaded[n_loaded++] = lb;
	/* else: beyond the table of names, the plugin is still usable; its
	 * copy is kept for the life of the process like the others. */
	*out = &lb->table;
	return 0;
}

int tract_plugin_backend(const tract_backend **out, const char *name)
{
	tract_buf tried = TRACT_BUF_INIT;
	int rc;

	*out = NULL;
	if (!name || !valid_plugin_name(name))
		return tract_error_set(TRACT_EPLUGIN,
				       "invalid plugin name '%s' (letters, digits, '_' and '-' only)",
				       name ? name : "(null)");
	pthread_mutex_lock(&loader_lock);
	rc = load_backend_locked(out, name, &tried);
	pthread_mutex_unlock(&loader_lock);
	tract_buf_dispose(&tried);
	return rc;
}

/* ---- providers ------------------------------------------------------------ */

int tract_provider_adopt(tract_provider *dst, const tract_provider *table, const char *what,
			 char *why, size_t whylen)
{
	const char *missing = NULL;

	if (!table) {
		snprintf(why, whylen, "%s: no provider table", what);
		return TRACT_EPLUGIN;
	}
	if (table->version < 1 || table->version > TRACT_PROVIDER_VERSION) {
		snprintf(why, whylen, "%s has provider ABI version %u, this tract knows 1 to %d",
			 what, table->version, TRACT_PROVIDER_VERSION);
		return TRACT_EPLUGIN;
	}
	/* Version 1 is the whole table today; a later version copies only
	 * the members of the table's own version here. */
	memset(dst, 0, sizeof(*dst));
	memcpy(dst, table, sizeof(*dst));
	if (!dst->name)
		missing = "name";
	else if (!dst->client_create)
		missing = "client_create";
	else if (!dst->client_free)
		missing = "client_free";
	else if (!dst->chat)
		missing = "chat";
	else if (!dst->reply_clear)
		missing = "reply_clear";
	if (missing) {
		snprintf(why, whylen, "%s: the provider table (version %u) lacks the required "
			 "member %s", what, table->version, missing);
		return TRACT_EPLUGIN;
	}
	if (!valid_plugin_name(dst->name)) {
		snprintf(why, whylen, "%s: invalid provider name '%.40s' (1 to 31 letters, digits, "
			 "'_' or '-')", what, dst->name);
		return TRACT_EPLUGIN;
	}
	if (dst->wire_format && strcmp(dst->wire_format, "openai") != 0 &&
	    strcmp(dst->wire_format, "anthropic") != 0) {
		snprintf(why, whylen, "%s: unknown wire format '%.40s' (openai, anthropic or none)",
			 what, dst->wire_format);
		return TRACT_EPLUGIN;
	}
	return 0;
}

static int open_provider_file(tract_provider *out, const char *file, const char *name, char *why,
			      size_t whylen)
{
	void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	tract_provider_entry_fn entry;
	int rc;

	if (!h) {
		snprintf(why, whylen, "%s", dlerror());
		return TRACT_EPLUGIN;
	}
	*(void **)(&entry) = dlsym(h, TRACT_PROVIDER_ENTRY);
	if (!entry) {
		snprintf(why, whylen, "%s lacks the entry symbol %s", file, TRACT_PROVIDER_ENTRY);
		dlclose(h);
		return TRACT_EPLUGIN;
	}
	rc = tract_provider_adopt(out, entry(), file, why, whylen);
	if (rc == 0 && strcmp(out->name, name) != 0) {
		snprintf(why, whylen, "%s: the table names the provider '%.40s', not '%s'", file,
			 out->name, name);
		rc = TRACT_EPLUGIN;
	}
	if (rc < 0)
		dlclose(h);
	return rc;
}

int tract_plugin_provider(const tract_provider **out, const char *name)
{
	tract_buf tried = TRACT_BUF_INIT;
	struct loaded_provider *lp;
	char why[512];
	char *file;
	size_t i;
	int rc = 0;

	*out = NULL;
	if (!name || !valid_plugin_name(name))
		return tract_error_set(TRACT_EPLUGIN,
				       "invalid provider name '%.64s' (letters, digits, '_' and '-' "
				       "only)",
				       name ? name : "(null)");
	pthread_mutex_lock(&loader_lock);
	for (i = 0; i < n_loaded_providers; i++) {
		if (strcmp(loaded_providers[i]->name, name) == 0) {
			*out = &loaded_providers[i]->table;
			goto done;
		}
	}
	file = find_plugin_file("provider", name, &tried);
	if (!file) {
		rc = tract_error_set(TRACT_EPLUGIN, "provider plugin '%s' not found (tried %s)", name,
				     tried.ptr ? tried.ptr : "nothing");
		goto done;
	}
	lp = calloc(1, sizeof(*lp));
	if (!lp) {
		free(file);
		rc = tract_error_oom();
		goto done;
	}
	rc = open_provider_file(&lp->table, file, name, why, sizeof(why));
	free(file);
	if (rc < 0) {
		free(lp);
		rc = tract_error_set(rc, "provider plugin '%s': %s", name, why);
		goto done;
	}
	snprintf(lp->name, sizeof(lp->name), "%s", name);
	if (n_loaded_providers < MAX_LOADED)
		loaded_providers[n_loaded_providers++] = lp;
	*out = &lp->table;
done:
	pthread_mutex_unlock(&loader_lock);
	tract_buf_dispose(&tried);
	return rc;
}

int tract_uri_scheme(char out[32], const char *uri)
{
	const char *colon;
	size_t n;

	out[0] = '\0';
	if (!uri || !*uri)
		return tract_error_set(TRACT_EINVAL, "empty store URI");
	colon = strchr(uri, ':');
	/* "scheme:rest" where scheme is a bare word of 2+ characters; a
	 * one-letter scheme would be a drive letter: a path, as is
	 * ":memory:". */
	if (!colon || colon - uri < 2 || colon - uri >= 32)
		return 0;
	n = (size_t)(colon - uri);
	memcpy(out, uri, n);
	out[n] = '\0';
	if (!valid_plugin_name(out)) {
		out[0] = '\0';
		return 0;
	}
	if (!colon[1]) {
		out[0] = '\0';
		return tract_error_set(TRACT_EINVAL, "store URI '%.64s' has no location", uri);
	}
	return 1;
}

static int serves(const tract_backend *be, const char *scheme)
{
	size_t i;

	for (i = 0; be->schemes[i]; i++)
		if (strcmp(be->schemes[i], scheme) == 0)
			return 1;
	return 0;
}

/* Every backend plugin on the search path, loaded in turn, until one
 * serves scheme (loader_lock held). Plugins that fail to load are passed
 * over. */
static int scan_for_scheme(const tract_backend **out, const char *scheme)
{
	char *path = NULL, *save = NULL, *dir;
	int rc = TRACT_ENOTFOUND;

	if (tract_plugin_search_path(&path) < 0)
		return tract_error_oom();
	for (dir = strtok_r(path, ":", &save); dir && rc == TRACT_ENOTFOUND;
	     dir = strtok_r(NULL, ":", &save)) {
		DIR *d = opendir(dir);
		struct dirent *e;
		if (!d)
			continue;
		while (rc == TRACT_ENOTFOUND && (e = readdir(d)) != NULL) {
			const char *fn = e->d_name;
			size_t len = strlen(fn);
			char name[32];
			const tract_backend *be;
			tract_buf ignored = TRACT_BUF_INIT;
			if (strncmp(fn, "tract-backend-", 14) != 0 || len < 18 ||
			    strcmp(fn + len - 3, ".so") != 0 || len - 17 >= sizeof(name))
				continue;
			memcpy(name, fn + 14, len - 17);
			name[len - 17] = '\0';
			if (valid_plugin_name(name) &&
			    load_backend_locked(&be, name, &ignored) == 0 && serves(be, scheme)) {
				*out = be;
				rc = 0;
			}
			tract_buf_dispose(&ignored);
		}
		closedir(d);
	}
	free(path);
	return rc;
}

/* A libpq keyword string ("host=db user=u password=..."): a word of
 * letters and '_' followed by '=' at the start, then a space anywhere or
 * that word one of libpq's usual keywords. Its text is never put in a
 * message: it may hold a password. */
static int looks_like_conninfo(const char *uri)
{
	static const char *const keys[] = {"host",    "hostaddr", "port",    "dbname",
					   "user",    "password", "sslmode", "service",
					   "passfile", "options", NULL};
	size_t key;

	uri += strspn(uri, " \t");
	key = strspn(uri, "abcdefghijklmnopqrstuvwxyz_");
	if (key == 0 || uri[key] != '=')
		return 0;
	if (strchr(uri, ' '))
		return 1;
	for (size_t i = 0; keys[i]; i++)
		if (strlen(keys[i]) == key && strncmp(uri, keys[i], key) == 0)
			return 1;
	return 0;
}

int tract_plugin_backend_for_uri(const tract_backend **out, const char *uri)
{
	tract_buf tried = TRACT_BUF_INIT;
	char scheme[32];
	int rc;

	*out = NULL;
	rc = tract_uri_scheme(scheme, uri);
	if (rc < 0)
		return rc;
	if (rc == 0 && looks_like_conninfo(uri))
		return tract_error_set(TRACT_EINVAL,
				       "store location looks like a PostgreSQL keyword string "
				       "(key=value ...); use a postgresql://USER@HOST/DB URI "
				       "(not a file name)");
	if (rc == 0)
		return tract_plugin_backend(out, TRACT_DEFAULT_BACKEND);
	pthread_mutex_lock(&loader_lock);
	rc = load_backend_locked(out, scheme, &tried);
	if (rc == 0 && !serves(*out, scheme)) {
		rc = tract_error_set(TRACT_EPLUGIN, "backend plugin '%s' does not serve '%s:' URIs",
				     scheme, scheme);
		*out = NULL;
	} else if (rc == TRACT_EPLUGIN && strstr(tract_error_last()->message, "not found")) {
		rc = scan_for_scheme(out, scheme);
		if (rc == TRACT_ENOMEM)
			rc = tract_error_oom();
		else if (rc < 0)
			rc = tract_error_set(TRACT_EPLUGIN,
					     "backend plugin '%s' not found: none serves '%s:' URIs "
					     "(tried %s and every tract-backend-*.so on the search "
					     "path)",
					     scheme, scheme, tried.ptr ? tried.ptr : "nothing");
	}
	pthread_mutex_unlock(&loader_lock);
	tract_buf_dispose(&tried);
	return rc;
}

/* ---- listing ---------------------------------------------------------- */

static int has_info(const tract_plugin_info *infos, size_t n, tract_plugin_kind kind,
		    const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (infos[i].kind == kind && strcmp(infos[i].name, name) == 0)
			return 1;
	return 0;
}

static void describe_file(tract_plugin_info *info, const char *file)
{
	void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	const char *sym = info->kind == TRACT_PLUGIN_BACKEND ? TRACT_BACKEND_ENTRY
							     : TRACT_PROVIDER_ENTRY;
	const unsigned int *(*entry)(void);
	char why[512];

	if (!h) {
		info->error = strdup(dlerror());
		return;
	}
	*(void **)(&entry) = dlsym(h, sym);
	if (!entry) {
		info->error = strdup("entry symbol missing");
	} else {
		/* Both plugin tables start with their ABI version. */
		const unsigned int *table = entry();
		info->abi_version = table ? *table : 0;
		if (!table) {
			info->error = strdup("entry returned no table");
		} else if (info->kind == TRACT_PLUGIN_BACKEND) {
			tract_backend *copy = malloc(sizeof(*copy));
			if (copy && adopt_table(copy, (const tract_backend *)(const void *)table,
						file, info->name, why, sizeof(why)) < 0)
				info->error = strdup(why);
			free(copy);
		} else {
			tract_provider copy;
			if (tract_provider_adopt(&copy, (const tract_provider *)(const void *)table,
						 file, why, sizeof(why)) < 0)
				info->error = strdup(why);
			else if (strcmp(copy.name, info->name) != 0)
				info->error = strdup("the table names another provider");
		}
	}
	/* Keep backends loaded (they may be in use); close the rest. */
	if (info->kind != TRACT_PLUGIN_BACKEND || info->error)
		dlclose(h);
}

static void info_items_free(tract_plugin_info *infos, size_t count)
{
	size_t i;

	if (!infos)
		return;
	for (i = 0; i < count; i++) {
		free(infos[i].name);
		free(infos[i].path);
		free(infos[i].error);
	}
	free(infos);
}

static int plugin_items(tract_plugin_info **out, size_t *count)
{
	char *path = NULL, *save = NULL, *dir;
	tract_plugin_info *infos = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	*out = NULL;
	*count = 0;
	if (tract_plugin_search_path(&path) < 0)
		return tract_error_oom();
	for (dir = strtok_r(path, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		DIR *d = opendir(dir);
		struct dirent *e;
		if (!d)
			continue;
		while ((e = readdir(d)) != NULL) {
			const char *fn = e->d_name, *rest;
			tract_plugin_kind kind;
			char name[64];
			size_t len = strlen(fn);
			if (strncmp(fn, "tract-backend-", 14) == 0) {
				kind = TRACT_PLUGIN_BACKEND;
				rest = fn + 14;
			} else if (strncmp(fn, "tract-provider-", 15) == 0) {
				kind = TRACT_PLUGIN_PROVIDER;
				rest = fn + 15;
			} else {
				continue;
			}
			if (len < 4 || strcmp(fn + len - 3, ".so") != 0)
				continue;
			len = strlen(rest) - 3;
			if (len == 0 || len >= sizeof(name))
				continue;
			memcpy(name, rest, len);
			name[len] = '\0';
			if (!valid_plugin_name(name) || has_info(infos, n, kind, name))
				continue;
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				tract_plugin_info *p = realloc(infos, ncap * sizeof(*p));
				if (!p) {
					rc = tract_error_oom();
					closedir(d);
					goto done;
				}
				infos = p;
				cap = ncap;
			}
			memset(&infos[n], 0, sizeof(infos[n]));
			infos[n].kind = kind;
			infos[n].name = strdup(name);
			{
				tract_buf f = TRACT_BUF_INIT;
				tract_buf_printf(&f, "%s/%s", dir, fn);
				infos[n].path = tract_buf_detach(&f);
			}
			describe_file(&infos[n], infos[n].path);
			n++;
		}
		closedir(d);
	}
done:
	free(path);
	if (rc < 0) {
		info_items_free(infos, n);
		return rc;
	}
	*out = infos;
	*count = n;
	return 0;
}

int tract_plugin_list(tract_plugin_info_list **out)
{
	tract_plugin_info_list *list;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_plugin_list: out is NULL");
	*out = NULL;
	list = calloc(1, sizeof(*list));
	if (!list)
		return tract_error_oom();
	rc = plugin_items(&list->items, &list->count);
	if (rc < 0) {
		free(list);
		return rc;
	}
	*out = list;
	return 0;
}

void tract_plugin_info_list_free(tract_plugin_info_list *list)
{
	if (!list)
		return;
	info_items_free(list->items, list->count);
	free(list);
}
