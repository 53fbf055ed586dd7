/*
 * nav.h - the two phases of every ref-moving operation (internal): a plan
 * made in a read transaction (resolve, validate, note the refs read), then
 * applied in one write transaction that checks those refs are unchanged
 * (TRACT_ESTALE otherwise) and writes by compare-and-swap.
 */
#ifndef TRACT_CORE_NAV_H
#define TRACT_CORE_NAV_H

#include "internal.h"

typedef enum {
	NAV_GUARD,        /* only check the ref is unchanged */
	NAV_SET_DIRECT,   /* set the ref to a commit */
	NAV_SET_SYMBOLIC, /* set the ref to point at another ref */
	NAV_DELETE,       /* delete the ref when it exists */
} nav_op;

typedef struct {
	nav_op op;
	char name[TRACT_REF_NAME_MAX + 1];
	char value[TRACT_REF_NAME_MAX + 1]; /* hash or symbolic target */
	int check;                          /* must still equal expect */
	tract_ref_value expect;
} nav_write;

#define NAV_MAX_WRITES 8

typedef struct {
	nav_write w[NAV_MAX_WRITES];
	size_t n;
	char result[65]; /* what the operation returns */
	char reason[48]; /* for the ref log: "reset", "checkout"... */
} nav_plan;

/** Add a step; expect NULL writes whatever the ref holds by then. */
void nav_plan_add(nav_plan *p, nav_op op, const char *name, const char *value,
		  const tract_ref_value *expect);

/** Make a plan with fn in a read transaction, then apply it in a write
 *  transaction; out (may be NULL) receives the plan's result. */
int nav_run(char out[65], tract *t, int (*fn)(nav_plan *p, tract *t, void *arg), void *arg);

/** Called between the two phases when set (tests: another writer moving a
 *  ref in between). */
extern void (*tract_nav_between_phases)(tract *t);

/** "refs/heads/NAME" into buf (the name is checked to fit first). */
int nav_branch_ref(char *buf, size_t cap, const char *name);

#endif
