/*
 * content.h - content types: validation of the built-in types and
 * registration of custom ones.
 */
#ifndef TRACT_CONTENT_H
#define TRACT_CONTENT_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Validate custom content. content_json is the caller's object. On success
 * return 0 and set *out_json to the normalized object (malloc'd; the core
 * frees it with free()); it need not contain "content_type", which the
 * core forces to the registered name. On failure return non-zero and write
 * a reason into errbuf.
 */
typedef int (*tract_content_validator)(char **out_json, const char *content_json, char *errbuf,
				       size_t errlen, void *payload);

/**
 * Register (or replace) a custom content type for this handle. A custom
 * type may shadow a built-in name. Names: 1-50 characters of [A-Za-z0-9_-].
 */
TRACT_EXTERN(int) tract_content_type_register(tract *t, const char *name,
					      tract_content_validator validate, void *payload);

/**
 * Validate and normalize content without committing. On success
 * *out_json (may be NULL) receives the J-STORE rendering and
 * out_content_hash (may be NULL) the 64-hex content hash.
 */
TRACT_EXTERN(int) tract_content_normalize(char **out_json,
					  char out_content_hash[TRACT_HASH_HEXSIZE + 1], tract *t,
					  const char *content_json);

#ifdef __cplusplus
}
#endif
#endif
