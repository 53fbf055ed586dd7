/*
 * plugin.h - the dlopen plugin loader (internal).
 *
 * Search order: TRACT_PLUGIN_PATH (colon separated), the build tree, the
 * installed plugin directory. Files: tract-backend-NAME.so,
 * tract-provider-NAME.so. Loaded plugins stay loaded for the life of the
 * process (one handle per name, shared, thread-safe).
 */
#ifndef TRACT_CORE_PLUGIN_H
#define TRACT_CORE_PLUGIN_H

#include "tract/plugin.h"
#include "tract/sys/backend.h"

/**
 * Load the backend plugin NAME (a bare word: letters, digits, '_', '-').
 * Errors (TRACT_EPLUGIN) name every path tried.
 */
int tract_plugin_backend(const tract_backend **out, const char *name);

/** True when libtract itself runs from the build tree (a test, the CLI
 *  or a library in it): the build tree's plugins and data are used then. */
int tract_running_from_build_tree(void);

/**
 * Split a store URI into backend name and location: "sqlite:PATH" and
 * plain paths give ("sqlite", PATH); "lmdb:DIR" gives ("lmdb", DIR);
 * "postgres://..." / "postgresql://..." give ("postgres", the whole URI).
 * *out_location is malloc'd.
 */
int tract_uri_split(char out_backend[32], char **out_location, const char *uri);

#endif
