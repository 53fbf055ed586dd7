/*
 * fuzz_common.h - what the fuzz targets share: a failed invariant aborts
 * with a message (libFuzzer then saves the input), and the return codes a
 * call may document.
 */
#ifndef TRACT_FUZZ_COMMON_H
#define TRACT_FUZZ_COMMON_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tract.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((format(printf, 1, 2), noreturn)) static inline void fz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz: invariant broken: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (last error: %s)\n", tract_error_last()->message);
	abort();
}

/* 1 when rc is 0 or one of the codes given (a list ending with 1). */
static inline int fz_rc_in(int rc, ...)
{
	va_list ap;
	int c, ok = rc == 0;

	va_start(ap, rc);
	while (!ok && (c = va_arg(ap, int)) != 1)
		ok = rc == c;
	va_end(ap);
	return ok;
}

#endif
