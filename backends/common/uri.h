/*
 * uri.h - what every plugin checks of its arguments: its own location in
 * the store URI that open() and same_store() receive whole, the side of a
 * compression member list, and the NULL / invalid arguments of a call.
 */
#ifndef TRACT_BACKEND_COMMON_URI_H
#define TRACT_BACKEND_COMMON_URI_H

#include <stdbool.h>

#include "tract/sys/backend.h"

/*
 * The location of a store URI served by the plugin of scheme: uri without
 * its leading "SCHEME:" ("sqlite:x.db" -> "x.db"), or uri itself when it
 * does not start so (a plain path). SQLAlchemy's URL form is understood:
 * "sqlite:///x.db" -> "x.db" (relative), "sqlite:////abs/x.db" ->
 * "/abs/x.db"; "sqlite://" and "sqlite://host/..." name no file (NULL).
 * NULL for NULL.
 */
const char *bc_uri_location(const char *uri, const char *scheme);

/* A tract_compression_side the ABI defines. */
bool bc_valid_side(tract_compression_side side);

/*
 * Argument checks at the top of a backend call: a NULL connection is
 * TRACT_EINVAL (there is nowhere to put a message); a false cond is
 * TRACT_EINVAL with "NAME: function: invalid argument (cond)" recorded by
 * the plugin's fail(conn, code, fmt, ...). Each plugin wraps them as its
 * CHECK_CONN / CHECK_ARG.
 */
#define BC_CHECK_CONN(conn)                                                                        \
	do {                                                                                       \
		if (!(conn))                                                                       \
			return TRACT_EINVAL;                                                       \
	} while (0)

#define BC_CHECK_ARG(fail, name, conn, cond)                                                       \
	do {                                                                                       \
		if (!(conn))                                                                       \
			return TRACT_EINVAL;                                                       \
		if (!(cond))                                                                       \
			return fail((conn), TRACT_EINVAL, name ": %s: invalid argument (%s)",      \
				    __func__, #cond);                                              \
	} while (0)

#endif
