/*
 * crash.h - the crash driver's table of operations (tests/crash/README.md):
 * each runs in a child process until killed and reports every success on
 * the pipe before going on.
 */
#ifndef TRACT_TEST_CRASH_H
#define TRACT_TEST_CRASH_H

#include <stddef.h>

#include "tract.h"

#define HASH_LEN 64
#define CRASH_LINE (2 + HASH_LEN + 1) /* "K " + 64 characters + '\n' */
#define CRASH_URI 700

/* The store under test, shared by driver and writers. */
typedef struct {
	const char *backend; /* "sqlite", "lmdb", "postgres" */
	char uri[CRASH_URI]; /* with this round's options */
	char id[64];         /* the tract */
	const char *dir;     /* where clones go */
	size_t n_clones;     /* clone destinations handed out so far */
} crash_ctx;

/* One writer. */
typedef struct {
	crash_ctx *cx;
	int fd; /* the report pipe */
	unsigned seed;
	size_t clone_base; /* its first clone destination */
} crash_child;

/*
 * An operation: run loops until killed (a return is a failure, its value
 * the exit status), reporting with crash_report(): 'c' HASH a commit that
 * must be on the history, 'a' HASH a commit that must carry an annotation,
 * 'k' N clone destination N (crash_clone_uri) is complete. clones: how
 * many destinations a round may use; max_ms: the longest a writer runs
 * before the kill (the delay is drawn up to it).
 */
typedef struct {
	const char *name;
	int (*run)(crash_child *ch);
	size_t clones;
	int max_ms;
} crash_op;

size_t crash_op_count(void);
const crash_op *crash_op_get(size_t i);

void crash_report(const crash_child *ch, char kind, const char *what);
void crash_clone_uri(char out[CRASH_URI], const crash_ctx *cx, size_t n);
void crash_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
