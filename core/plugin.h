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
#include "tract/sys/provider.h"

/**
 * Load the backend plugin NAME (a bare word: letters, digits, '_', '-').
 * Errors (TRACT_EPLUGIN) name every path tried.
 */
int tract_plugin_backend(const tract_backend **out, const char *name);

/**
 * Load the provider plugin NAME (tract-provider-NAME.so): the entry
 * symbol TRACT_PROVIDER_ENTRY, a table of ABI version 1 to
 * TRACT_PROVIDER_VERSION with every required member, named NAME. Errors
 * (TRACT_EPLUGIN) name every path tried.
 */
int tract_plugin_provider(const tract_provider **out, const char *name);

/**
 * Check a provider table (a plugin's or an in-process one) and copy it
 * into dst (full size, members newer than its version zeroed). On failure
 * (TRACT_EPLUGIN) why holds the reason; what names the table's origin.
 */
int tract_provider_adopt(tract_provider *dst, const tract_provider *table, const char *what,
			 char *why, size_t whylen);

/** A bare plugin name: 1 to 31 letters, digits, '_' or '-'. */
int tract_plugin_name_valid(const char *name);

/** True when libtract itself runs from the build tree (a test, the CLI
 *  or a library in it): the build tree's plugins and data are used then. */
int tract_running_from_build_tree(void);

/** The backend serving URIs without a scheme (plain paths, ":memory:"). */
#define TRACT_DEFAULT_BACKEND "sqlite"

/**
 * The scheme of a store URI: "SCHEME:REST" with SCHEME a bare word of 2 to
 * 31 characters gives 1 and SCHEME in out; a plain path (or ":memory:")
 * gives 0 and "". TRACT_EINVAL for an empty URI or "SCHEME:" alone.
 */
int tract_uri_scheme(char out[32], const char *uri);

/**
 * The backend serving a URI: the default backend for a URI without a
 * scheme; otherwise the plugin named after the scheme when it lists the
 * scheme, else the first backend plugin on the search path that lists
 * it. TRACT_EPLUGIN when none does (the message names what was tried).
 */
int tract_plugin_backend_for_uri(const tract_backend **out, const char *uri);

#endif
