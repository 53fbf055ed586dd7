/*
 * error.h - setting the thread's last error from inside the core.
 */
#ifndef TRACT_CORE_ERROR_H
#define TRACT_CORE_ERROR_H

#include "tract/common.h"

/** Record code + formatted message as the thread's last error; returns code. */
int tract_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Record TRACT_ENOMEM; returns TRACT_ENOMEM. */
int tract_error_oom(void);
/** Prefix the current message with "<prefix>: " keeping the code; returns the code. */
int tract_error_prefix(const char *prefix);

/**
 * Check the version of a versioned struct a caller passed (options, a
 * tokenizer...): 0 when 0 < version <= max, else TRACT_EINVAL naming what.
 * Like libgit2's GIT_ERROR_CHECK_VERSION, older versions are accepted; a
 * member newer than the caller's version must then not be read.
 */
int tract_version_check(unsigned int version, unsigned int max, const char *what);

#endif
