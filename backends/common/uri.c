/*
 * uri.c - the shared argument checks of the backend plugins: a store
 * URI's location after the plugin's own scheme, and the compression side.
 * (The NULL-argument checks are macros in uri.h: they return from the
 * caller.)
 */
#include <string.h>

#include "uri.h"

const char *bc_uri_location(const char *uri, const char *scheme)
{
	size_t n;

	if (!uri)
		return NULL;
	n = strlen(scheme);
	if (strncmp(uri, scheme, n) != 0 || uri[n] != ':')
		return uri;
	uri += n + 1;
	/* SQLAlchemy's form: "SCHEME:///relative", "SCHEME:////absolute"; a
	 * host ("SCHEME://host/...") or nothing after "//" names no file. */
	if (strncmp(uri, "///", 3) == 0)
		return uri + 3;
	if (strncmp(uri, "//", 2) == 0)
		return NULL;
	return uri;
}

bool bc_valid_side(tract_compression_side side)
{
	return side == TRACT_COMPRESSION_SOURCES || side == TRACT_COMPRESSION_RESULTS;
}
