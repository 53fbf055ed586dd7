/*
 * plugin.h - listing the plugins the loader can find.
 */
#ifndef TRACT_PLUGIN_H
#define TRACT_PLUGIN_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	TRACT_PLUGIN_BACKEND = 0,
	TRACT_PLUGIN_PROVIDER = 1,
} tract_plugin_kind;

typedef struct {
	tract_plugin_kind kind;
	char *name;       /**< "sqlite" */
	char *path;       /**< file the plugin was loaded from */
	unsigned int abi_version; /**< 0 when it could not be read */
	char *error;      /**< why it cannot be used, or NULL */
} tract_plugin_info;

/** The plugins found. */
typedef struct {
	tract_plugin_info *items;
	size_t count;
} tract_plugin_info_list;

/**
 * Every plugin file found on the search path (TRACT_PLUGIN_PATH, the build
 * tree, the installed plugin directory), first match per name. Release
 * the list with tract_plugin_info_list_free().
 */
TRACT_EXTERN(int) tract_plugin_list(tract_plugin_info_list **out);
TRACT_EXTERN(void) tract_plugin_info_list_free(tract_plugin_info_list *list);

/** The search path as a colon-separated string (release with tract_string_free). */
TRACT_EXTERN(int) tract_plugin_search_path(char **out);

/**
 * The list as CLI.md's `plugins --json` array: objects of kind
 * ("backend"|"provider"), name, path, abi_version and error (null when
 * usable). Release *out with tract_string_free().
 */
TRACT_EXTERN(int) tract_plugin_info_list_to_json(char **out, const tract_plugin_info_list *list);

#ifdef __cplusplus
}
#endif
#endif
