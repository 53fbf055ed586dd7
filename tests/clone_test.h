/*
 * clone_test.h - what the files of the clone tests share (test_clone.c,
 * clone_compare.c, clone_stores.c, clone_more.c): the fixture names, a
 * checked-call macro and the functions one file uses from another.
 */
#ifndef TRACT_TEST_CLONE_H
#define TRACT_TEST_CLONE_H

#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#if defined(__SANITIZE_ADDRESS__)
/* From <sanitizer/allocator_interface.h>, which gcc does not install:
 * bytes in live heap chunks (freed ones in quarantine excluded). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include "hash.h"
#include "internal.h"
#include "testutil.h"
#include "tract.h"

#define CHECK_OK(expr)                                                                             \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		if (rc_ != 0)                                                                      \
			fail_msg("%s returned %d (%s): %s", #expr, rc_, tract_error_name(rc_),     \
				 tract_error_last()->message);                                     \
	} while (0)

static const char *const fixture_names[] = {"v1_basic", "v2_basic", "v3_basic", "v4_basic"};
#define N_FIXTURES (sizeof(fixture_names) / sizeof(fixture_names[0]))

enum { T_BLOBS, T_COMMITS, T_PARENTS, T_REFS, T_ANNOTATIONS, T_COMPRESSIONS, T_SPAWN, T_META, T_N };
static const char *const table_names[T_N] = {"blobs",       "commits",      "commit_parents",
					     "refs",        "annotations",  "compressions",
					     "spawn_pointers", "metadata"};

typedef struct {
	tract_buf t[T_N];
	int64_t rows[T_N];
	tract_store *s; /* while dumping */
} dump;

typedef struct {
	char **names;
	size_t n;
} strlist;

/* compare_stores() flags */
enum { CMP_META_SUBSET = 1 };

/* clone_compare.c */
void tmp_dir(char dir[256]);
int exists(const char *path);
void assert_absent(const char *path);
void copy_fixture(char out[600], const char *dir, const char *name);
void sql(const char *path, const char *stmt);
char *sql_value(const char *path, const char *query);
void dump_store(dump *d, const char *uri);
void dump_dispose(dump *d);
void sl_add(strlist *l, const char *s);
void sl_free(strlist *l);
size_t fsck_errors(const char *uri, size_t *warnings);
void compare_stores(const char *a_uri, const char *b_uri, unsigned flags);
void check_stats(const tract_clone_stats *st, const char *uri);
void clone_ok(tract_clone_stats **st, const char *src, const char *dst,
		     const tract_clone_options *o);

/* clone_stores.c */
void say(char out[65], tract *t, const char *role, const char *text);
void rich_store(const char *uri);
void skewed_store(const char *uri, int n);

/* clone_more.c */
void test_bounded_memory(void **state);
void test_other_backends(void **state);

#endif
