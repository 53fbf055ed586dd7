/*
 * time.c - UTC microsecond timestamps: a clock that never repeats within a
 * process (commit hashes include the instant), ISO 8601 formatting and
 * parsing with zone conversion.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "timeutil.h"

static _Atomic int64_t last_now;

tract_time tract_time_now(void)
{
	struct timespec ts;
	int64_t now, prev;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	prev = atomic_load(&last_now);
	for (;;) {
		int64_t next = now > prev ? now : prev + 1;
		if (atomic_compare_exchange_weak(&last_now, &prev, next))
			return next;
	}
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
int64_t tract_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void tract_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void tract_time_split(tract_time t, struct tract_tm *tm)
{
	int64_t secs = t >= 0 ? t / 1000000 : -((-t + 999999) / 1000000);
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t rem = secs - days * 86400;

	tm->usec = (int)(t - secs * 1000000);
	tract_civil_from_days(days, &tm->year, &tm->month, &tm->day);
	tm->hour = (int)(rem / 3600);
	tm->min = (int)(rem / 60 % 60);
	tm->sec = (int)(rem % 60);
}

int tract_time_format(char *buf, size_t len, tract_time t)
{
	struct tract_tm tm;
	int n;

	if (!buf || len == 0)
		return tract_error_set(TRACT_EINVAL, "tract_time_format: no buffer");
	tract_time_split(t, &tm);
	n = snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02d.%06d+00:00", (long long)tm.year,
		     tm.month, tm.day, tm.hour, tm.min, tm.sec, tm.usec);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return tract_error_set(TRACT_EINVAL, "tract_time_format: buffer of %zu bytes is "
					"too small", len);
	}
	return 0;
}

char *tract_time_hash_iso(char *buf, size_t len, tract_time t)
{
	struct tract_tm tm;

	tract_time_split(t, &tm);
	if (tm.usec)
		snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02d.%06d+00:00",
			 (long long)tm.year, tm.month, tm.day, tm.hour, tm.min, tm.sec, tm.usec);
	else
		snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02d+00:00", (long long)tm.year,
			 tm.month, tm.day, tm.hour, tm.min, tm.sec);
	return buf;
}

static int digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 ? 28 + leap : dm[m - 1];
}

int tract_time_parse(tract_time *out, const char *text)
{
	const char *p = text;
	int y, mo, d, h = 0, mi = 0, s = 0, us = 0, off = 0;

	if (!text)
		return tract_error_set(TRACT_EINVAL, "missing time");
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		goto bad;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			goto bad;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &s))
				goto bad;
			if (*p == '.') {
				int n = 0;
				p++;
				while (*p >= '0' && *p <= '9') {
					if (n < 6)
						us = us * 10 + (*p - '0');
					n++;
					p++;
				}
				if (n == 0)
					goto bad;
				for (; n < 6; n++)
					us *= 10;
			}
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om = 0;
		p++;
		if (digits(&p, 2, &oh))
			goto bad;
		if (*p == ':')
			p++;
		if (*p && digits(&p, 2, &om))
			goto bad;
		if (oh > 23 || om > 59)
			goto bad;
		off = sign * (oh * 60 + om);
	}
	if (*p)
		goto bad;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59)
		goto bad;
	*out = ((tract_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
		 mi * 60 + s - (int64_t)off * 60) *
		1000000) +
	       us;
	return 0;
bad:
	return tract_error_set(TRACT_EINVAL,
			       "invalid time '%s' (expected ISO 8601, e.g. 2024-01-02T03:04:05Z)",
			       text);
}
