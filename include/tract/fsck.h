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

/** What fsck found. */
typedef struct {
	tract_fsck_problem *problems;
	size_t count;
	size_t errors; /**< problems of severity TRACT_FSCK_ERROR */
} tract_fsck_report;

/**
 * Check a whole store. Returns 0 when the check ran (problems or not);
 * *out lists what was found: release it with tract_fsck_report_free().
 */
TRACT_EXTERN(int) tract_fsck_run(tract_fsck_report **out, tract_store *store);
TRACT_EXTERN(void) tract_fsck_report_free(tract_fsck_report *report);

/**
 * The report as CLI.md's `fsck --json` object: {"ok": no error-severity
 * problem, "problems": [{"severity": "error"|"warning", "object",
 * "message"}...]}. Release *out with tract_string_free().
 */
TRACT_EXTERN(int) tract_fsck_report_to_json(char **out, const tract_fsck_report *report);

#ifdef __cplusplus
}
#endif
#endif
