/*
 * conformance.h - the backend conformance kit: every test of the storage
 * ABI (tract/sys/backend.h), run with cmocka against any backend through a
 * store factory. It needs only the public headers, cmocka and libc (and
 * libdl for the loader): an out-of-tree backend runs it as README.md shows.
 */
#ifndef TRACT_CONFORMANCE_H
#define TRACT_CONFORMANCE_H

#include "tract/common.h"
#include "tract/sys/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What the suite needs to know of a backend's behaviour (factory flags). */
enum {
	/**
	 * The backend may hold a refused write back and report it at a later
	 * call, commit() at the latest (backend.h, "held-back writes"). Without
	 * this flag the refusal must come from the call itself.
	 */
	TRACT_CONF_HOLDS_BACK_WRITES = 1u << 0,
	/**
	 * One process cannot open a second connection to a store while one is
	 * open: the tests that need two connections are not run (the output
	 * names them).
	 */
	TRACT_CONF_SINGLE_CONNECTION = 1u << 1,
};

/**
 * How the suite makes and removes the stores it tests. Each test gets a
 * new, empty store: fresh_uri() names it, the test creates it with
 * open(TRACT_BACKEND_CREATE), closes every connection, then
 * destroy_store() removes it. Every string returned is malloc'ed and freed
 * by the kit.
 */
typedef struct {
	/** The backend's name: the table's name must equal it. */
	const char *name;
	/** The table under test (tract_conformance_load() finds one). */
	const tract_backend *backend;
	/**
	 * A URI naming a new store that does not exist yet; *cookie (may be
	 * left NULL) is handed back to missing_uri() and destroy_store().
	 * NULL when no store can be made: every test then fails, saying so.
	 */
	char *(*fresh_uri)(void *self, void **cookie);
	/**
	 * A URI of this backend naming a store that does not exist, in the
	 * place the fresh store was made; *path (may be left NULL) a
	 * file-system path the store would occupy, checked to stay absent
	 * until the store is created. A NULL member: the test of missing
	 * stores is not run (the output says so); a NULL result fails it.
	 */
	char *(*missing_uri)(void *self, void *cookie, char **path);
	/** Remove what fresh_uri() and missing_uri() made (directory,
	 *  schema...). NULL when there is nothing to remove. */
	void (*destroy_store)(void *self, void *cookie);
	/** TRACT_CONF_* flags. */
	unsigned flags;
	/** Handed to the callbacks above. */
	void *self;
} tract_conformance_factory;

/**
 * Run every test against the factory's backend (cmocka prints the
 * results). Returns the number of failed tests, or -1 when the table is
 * unusable (a required member missing: the message says which).
 */
int tract_conformance_run(const tract_conformance_factory *f);

/**
 * Load a backend plugin: path_or_name is a file path (with a '/') or a
 * NAME, looked up as tract-backend-NAME.so in the directories of
 * TRACT_PLUGIN_PATH (':'-separated), then by the dynamic linker. The
 * plugin stays loaded; *out is a full-size copy of its table (members
 * newer than its version NULL). Returns 0, or TRACT_EPLUGIN after printing
 * why to stderr.
 */
int tract_conformance_load(const char *path_or_name, const tract_backend **out);

/** A new temporary directory under $TMPDIR (or /tmp), or under base when
 *  not NULL: malloc'ed, NULL on failure. For file backends' factories. */
char *tract_conformance_tmpdir(const char *base);

/** Remove a directory tree (NULL: nothing). */
void tract_conformance_rmtree(const char *dir);

#ifdef __cplusplus
}
#endif
#endif
