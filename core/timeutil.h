/*
 * timeutil.h - calendar helpers shared by the core (internal).
 */
#ifndef TRACT_CORE_TIMEUTIL_H
#define TRACT_CORE_TIMEUTIL_H

#include "tract/common.h"

struct tract_tm {
	int64_t year;
	unsigned month, day;
	int hour, min, sec, usec;
};

int64_t tract_days_from_civil(int64_t y, unsigned m, unsigned d);
void tract_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
void tract_time_split(tract_time t, struct tract_tm *tm);
/** The commit hash's timestamp_iso: fraction omitted when it is 0. */
char *tract_time_hash_iso(char *buf, size_t len, tract_time t);

#endif
