/*
 * conformance_int.h - what the files of the conformance kit share: the test
 * fixture (struct conf, the running factory), helpers, row collectors and
 * each file's table of tests. The shared functions get a tract_conf_ prefix
 * (the defines below): the kit is a static library linked into other programs.
 */
#ifndef TRACT_CONFORMANCE_INT_H
#define TRACT_CONFORMANCE_INT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conformance.h"

/* 2024-01-02 03:04:05 UTC, in microseconds. */
#define T0 (INT64_C(1704164645) * 1000000)
#define SEC INT64_C(1000000)

/* The shared functions and the running factory, prefixed. */
#define factory tract_conf_factory
#define keep tract_conf_keep
#define keepf tract_conf_keepf
#define has_flag tract_conf_has_flag
#define has_deletion tract_conf_has_deletion
#define conf_missing_location tract_conf_conf_missing_location
#define open_store tract_conf_open_store
#define H tract_conf_H
#define begin_write tract_conf_begin_write
#define commit_txn tract_conf_commit_txn
#define expect_txn_fails tract_conf_expect_txn_fails
#define put_blob_at tract_conf_put_blob_at
#define blob_default tract_conf_blob_default
#define commit_row tract_conf_commit_row
#define put_commit tract_conf_put_commit
#define put_linear tract_conf_put_linear
#define on_commit tract_conf_on_commit
#define get_commit tract_conf_get_commit
#define on_chain tract_conf_on_chain
#define on_ref tract_conf_on_ref
#define get_ref tract_conf_get_ref
#define on_blob tract_conf_on_blob
#define on_parent tract_conf_on_parent
#define on_member tract_conf_on_member
#define on_meta tract_conf_on_meta
#define on_annotation tract_conf_on_annotation
#define on_compression tract_conf_on_compression
#define on_spawn tract_conf_on_spawn
#define on_tract tract_conf_on_tract
#define find_tract tract_conf_find_tract
#define put_annotation tract_conf_put_annotation

struct conf {
	char *location; /* the fresh store's URI, as handed to open() */
	void *cookie;   /* the factory's, for destroy_store() */
	const tract_backend *be;
	tract_backend_conn *c;
};

/* The factory of the running suite (cmocka tests take no argument). */
extern const tract_conformance_factory *factory;

/* Each test starts with this: the store; a test fails, with the reason, when
 * the factory could make none. */
static inline struct conf *conf_store(void *state)
{
	struct conf *f = state;

	if (!f->c)
		fail_msg("%s: no store for this test: the factory's fresh_uri returned NULL",
			 factory->name);
	return f;
}

#define STORE(state) conf_store(state)

#define MAXROWS 64

struct commits {
	size_t n;
	tract_commit_row r[MAXROWS];
	int stop_after; /* > 0: return 1 after that many rows */
};

struct chain {
	size_t n;
	tract_commit_row r[MAXROWS];
	const char *payload[MAXROWS];
	tract_priority prio[MAXROWS];
	const char *extra[MAXROWS]; /* extra parents joined with ',' */
	size_t n_extra[MAXROWS];
	int stop_after;
	int fail_with;
};

struct refs {
	size_t n;
	tract_ref_row r[MAXROWS];
};

struct strings {
	size_t n;
	const char *s[MAXROWS];
	int64_t num[MAXROWS];
};

struct annotations {
	size_t n;
	tract_annotation_row r[MAXROWS];
};

struct compressions {
	size_t n;
	tract_compression_row r[MAXROWS];
};

struct spawns {
	size_t n;
	tract_spawn_row r[MAXROWS];
};

struct tracts {
	size_t n;
	tract_tract_row r[MAXROWS];
};

/* conformance.c: the fixture */
char *keep(const char *s);
__attribute__((format(printf, 1, 2))) char *keepf(const char *fmt, ...);
bool has_flag(unsigned flag);
bool has_deletion(const struct conf *f);
const char *conf_missing_location(const struct conf *f, const char **path);
int open_store(struct conf *f, unsigned flags);

/* conformance_util.c */
const char *H(const char *stem);
void begin_write(struct conf *f);
void commit_txn(struct conf *f);
void expect_txn_fails(struct conf *f, int rc, int code);
void put_blob_at(struct conf *f, const char *hash, const char *payload, tract_time t);
const char *blob_default(struct conf *f);
tract_commit_row commit_row(const char *hash, const char *tract, const char *parent,
				   const char *blob, tract_time t);
void put_commit(struct conf *f, const char *hash, const char *tract, const char *parent,
		       const char *blob, tract_time t);
void put_linear(struct conf *f, const char *tract, const char *stem, int n,
		       const char *blob, const char **hashes);
int on_commit(const tract_commit_row *row, void *payload);
tract_commit_row get_commit(struct conf *f, const char *tract, const char *hash);
int on_chain(const tract_chain_row *row, void *payload);
int on_ref(const tract_ref_row *row, void *payload);
tract_ref_row get_ref(struct conf *f, const char *tract, const char *name);
int on_blob(const tract_blob_row *row, void *payload);
int on_parent(const char *commit_hash, const char *parent_hash, int64_t position,
		     void *payload);
int on_member(const char *compression_id, const char *commit_hash, int64_t position,
		     void *payload);
int on_meta(const char *key, const char *value, void *payload);
int on_annotation(const tract_annotation_row *row, void *payload);
int on_compression(const tract_compression_row *row, void *payload);
int on_spawn(const tract_spawn_row *row, void *payload);
int on_tract(const tract_tract_row *row, void *payload);
const tract_tract_row *find_tract(const struct tracts *t, const char *id);

/* conformance_chain.c */
void put_annotation(struct conf *f, const char *target, tract_priority p, tract_time t,
			   int64_t *id);

/* What a test needs of the factory: without it the test is not run. */
enum {
	CONF_NEEDS_MISSING_URI = 1u << 0,     /* factory->missing_uri */
	CONF_NEEDS_TWO_CONNECTIONS = 1u << 1, /* not TRACT_CONF_SINGLE_CONNECTION */
	CONF_NEEDS_DELETION = 1u << 2,        /* the OPTIONAL deletion members */
	CONF_NEEDS_ANCESTRY = 1u << 3,        /* the OPTIONAL commit_ancestry (v3) */
	CONF_NEEDS_WATCH = 1u << 4,           /* the OPTIONAL ref_watch (v4) */
	CONF_NEEDS_SEARCH = 1u << 5,          /* the OPTIONAL search members (v5) */
	CONF_NEEDS_BATCHED_DELETION = 1u << 6, /* the OPTIONAL commits_delete... (v5) */
};

/* One test of a file's table (ended by a NULL name). */
struct conf_test {
	const char *name;
	CMUnitTestFunction fn;
	unsigned needs; /* CONF_NEEDS_* */
};

#define CONF_TEST(fn, needs) {#fn, fn, needs}

extern const struct conf_test tract_conf_rows_tests[];
extern const struct conf_test tract_conf_chain_tests[];
extern const struct conf_test tract_conf_refs_tests[];
extern const struct conf_test tract_conf_txn_tests[];
extern const struct conf_test tract_conf_ancestry_tests[];
extern const struct conf_test tract_conf_watch_tests[];
extern const struct conf_test tract_conf_search_tests[];

#endif
