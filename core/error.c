/*
 * error.c - the per-thread last error behind tract_error_last().
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local int last_code;
static _Thread_local char last_message[1024];
static _Thread_local tract_error last_error;

static int store_error(int code, const char *msg)
{
	size_t n = strlen(msg);

	if (n >= sizeof(last_message))
		n = sizeof(last_message) - 1;
	memmove(last_message, msg, n);
	last_message[n] = '\0';
	last_code = code;
	return code;
}

int tract_error_set(int code, const char *fmt, ...)
{
	char tmp[sizeof(last_message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	return store_error(code, tmp);
}

int tract_error_oom(void)
{
	return store_error(TRACT_ENOMEM, "out of memory");
}

int tract_error_prefix(const char *prefix)
{
	char tmp[sizeof(last_message) * 2];

	snprintf(tmp, sizeof(tmp), "%s: %s", prefix, last_message);
	return store_error(last_code, tmp);
}

int tract_version_check(unsigned int version, unsigned int max, const char *what)
{
	if (version >= 1 && version <= max)
		return 0;
	return tract_error_set(TRACT_EINVAL, "%s version %u is not one this library knows (1 to %u)",
			       what, version, max);
}

const tract_error *tract_error_last(void)
{
	last_error.code = last_code;
	last_error.message = last_message;
	return &last_error;
}

void tract_error_clear(void)
{
	last_code = 0;
	last_message[0] = '\0';
}

const char *tract_error_name(int code)
{
	switch (code) {
	case TRACT_OK: return "OK";
	case TRACT_ERROR: return "ERROR";
	case TRACT_ENOTFOUND: return "ENOTFOUND";
	case TRACT_EAMBIGUOUS: return "EAMBIGUOUS";
	case TRACT_EINVAL: return "EINVAL";
	case TRACT_ESTALE: return "ESTALE";
	case TRACT_EBUDGET: return "EBUDGET";
	case TRACT_EDETACHED: return "EDETACHED";
	case TRACT_EPLUGIN: return "EPLUGIN";
	case TRACT_ESTORAGE: return "ESTORAGE";
	case TRACT_ENOMEM: return "ENOMEM";
	case TRACT_ECORRUPT: return "ECORRUPT";
	case TRACT_EEDIT: return "EEDIT";
	case TRACT_EEXISTS: return "EEXISTS";
	case TRACT_EVERSION: return "EVERSION";
	case TRACT_ECONFLICT: return "ECONFLICT";
	case TRACT_EPROVIDER: return "EPROVIDER";
	case TRACT_EAUTH: return "EAUTH";
	case TRACT_ERATELIMIT: return "ERATELIMIT";
	case TRACT_ETIMEOUT: return "ETIMEOUT";
	case TRACT_EABORTED: return "EABORTED";
	case TRACT_EUNMERGED: return "EUNMERGED";
	default: return "EUNKNOWN";
	}
}

const char *tract_version(void)
{
	return TRACT_VERSION;
}
