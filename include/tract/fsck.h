/*
 * fsck.h - verifying a store: every content hash, commit hash (both merge
 * forms), parent link and ref target.
 */
#ifndef TRACT_FSCK_H
#define TRACT_FSCK_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	TRACT_FSCK_ERROR = 0,   /**< corruption */
	TRACT_FSCK_WARNING = 1, /**< known reference quirk, not corruption */
} tract_fsck_severity;

typedef struct {
	tract_fsck_severity severity;
	char *object;  /**< hash, ref or table the problem is about */
	char *message; /**< one line */
} tract_fsck_problem;

/**
 * Check a whole store. Returns 0 when the check ran (problems or not);
 * *out and *count list what was found.
 */
TRACT_EXTERN(int) tract_fsck(tract_fsck_problem **out, size_t *count, tract_store *store);
TRACT_EXTERN(void) tract_fsck_free(tract_fsck_problem *problems, size_t count);

#ifdef __cplusplus
}
#endif
#endif
