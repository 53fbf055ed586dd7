/*
 * fuzz_uri.c - libFuzzer target for store URIs: the scheme parser
 * (tract_uri_scheme), the backend lookup by URI and the redacted display form
 * (tract_uri_redact). The input is used as it is, and as the parts of a URL
 * (user, password, host, path, a query password) or of a key=value
 * connection string: a password put in a password position never shows in
 * the redacted form.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "internal.h"
#include "plugin.h"

#define N_PARTS 6

typedef struct {
	char *s[N_PARTS];
} parts;

/* Part i of the input (split at 0x00 bytes), without the bytes of drop. */
static void split(parts *p, const uint8_t *data, size_t size)
{
	size_t i = 0, k;
	int n;

	for (n = 0; n < N_PARTS; n++) {
		if (!(p->s[n] = malloc(size + 2))) /* room for "v" */
			abort();
		k = 0;
		while (i < size && data[i] != 0)
			p->s[n][k++] = (char)data[i++];
		p->s[n][k] = '\0';
		if (i < size)
			i++;
	}
}

static void drop(char *s, const char *bytes)
{
	char *o = s;

	for (; *s; s++)
		if (!strchr(bytes, *s))
			*o++ = *s;
	*o = '\0';
}

static char *cat(const char *const *pieces)
{
	tract_buf b = TRACT_BUF_INIT;
	size_t i;

	for (i = 0; pieces[i]; i++)
		if (tract_buf_puts(&b, pieces[i]) != 0)
			abort();
	if (tract_buf_putc(&b, '\0') != 0)
		abort();
	return b.ptr;
}

static char *redact(const char *uri)
{
	char *out = NULL;
	int rc = tract_uri_redact(&out, uri);

	if (rc != 0 || !out)
		fz_fail("redact returned %d for '%s'", rc, uri);
	return out;
}

/* uri holds pass where masked holds ***: the redacted uri must not show it
 * (checked when pass cannot come from the rest of the URI). */
static void expect_hidden(const char *uri, const char *masked, const char *pass)
{
	char *out;

	if (!*pass || strstr(masked, pass))
		return;
	out = redact(uri);
	if (strstr(out, pass))
		fz_fail("password '%s' shows in '%s' (from '%s')", pass, out, uri);
	free(out);
}

static void check_url(parts *p)
{
	char *uri, *masked;

	drop(p->s[0], ":@/?#");  /* user */
	drop(p->s[1], "/?#");    /* password */
	drop(p->s[2], "@/?#");   /* host */
	drop(p->s[3], "?#");     /* path */
	drop(p->s[4], "&#");     /* query password */
	drop(p->s[5], "&#=");    /* query key prefix */
	{
		const char *u[] = {"postgres://", p->s[0], ":", p->s[1], "@", p->s[2], "/",
				   p->s[3], "?a=1&", p->s[5], "password=", p->s[4], "&b=2#f",
				   NULL};
		const char *m[] = {"postgres://", p->s[0], ":", "***", "@", p->s[2], "/",
				   p->s[3], "?a=1&", p->s[5], "password=", "***", "&b=2#f",
				   NULL};
		uri = cat(u);
		masked = cat(m);
	}
	expect_hidden(uri, masked, p->s[1]);
	expect_hidden(uri, masked, p->s[4]);
	free(uri);
	free(masked);
}

/* A conninfo value: a word, or quoted with \ escapes when quote is set. */
static char *conninfo_value(const char *v, int quote)
{
	tract_buf b = TRACT_BUF_INIT;

	if (!quote)
		return cat((const char *[]){v, NULL});
	tract_buf_putc(&b, '\'');
	for (; *v; v++) {
		if (*v == '\'' || *v == '\\')
			tract_buf_putc(&b, '\\');
		tract_buf_putc(&b, *v);
	}
	tract_buf_putc(&b, '\'');
	if (tract_buf_putc(&b, '\0') != 0)
		abort();
	return b.ptr;
}

static void check_conninfo(parts *p, int quote)
{
	static const char ws[] = " \t\n\r\f\v";
	char *uri, *masked, *val;
	int i;

	for (i = 0; i < N_PARTS; i++) {
		if (i != 1 || !quote)
			drop(p->s[i], ws);
		if (i != 1 || !quote)
			drop(p->s[i], "'");
	}
	drop(p->s[5], "=");
	/* an empty value would take the next word (libpq's rules too) */
	for (i = 0; i < N_PARTS; i++)
		if (i != 5 && !*p->s[i])
			strcpy(p->s[i], "v");
	val = conninfo_value(p->s[1], quote);
	{
		const char *u[] = {"host=", p->s[0], " ", p->s[5], "password = ", val,
				   " user=", p->s[2], "  dbname=", p->s[3], NULL};
		const char *m[] = {"host=", p->s[0], " ", p->s[5], "password = ", "***",
				   " user=", p->s[2], "  dbname=", p->s[3], NULL};
		uri = cat(u);
		masked = cat(m);
	}
	if (*p->s[1])
		expect_hidden(uri, masked, p->s[1]);
	free(val);
	free(uri);
	free(masked);
}

static void check_raw(const char *uri)
{
	char scheme[32];
	const tract_backend *be = NULL;
	int rc;

	memset(scheme, 'x', sizeof(scheme));
	rc = tract_uri_scheme(scheme, uri);
	if ((rc != 0 && rc != 1 && rc != TRACT_EINVAL) || !memchr(scheme, '\0', sizeof(scheme)))
		fz_fail("scheme returned %d for '%s'", rc, uri);
	if (rc == 1 && (strncmp(uri, scheme, strlen(scheme)) != 0 || uri[strlen(scheme)] != ':'))
		fz_fail("scheme '%s' is not the start of '%s'", scheme, uri);
	if (rc == 1 && strcmp(scheme, "sqlite") != 0 && strcmp(scheme, "lmdb") != 0 &&
	    strcmp(scheme, "postgres") != 0 && strcmp(scheme, "postgresql") != 0) {
		rc = tract_plugin_backend_for_uri(&be, uri);
		if (!fz_rc_in(rc, TRACT_EPLUGIN, TRACT_EINVAL, 1))
			fz_fail("backend for '%s' returned %d", uri, rc);
	}
	free(redact(uri));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *raw;
	parts p;
	int i;

	if (!(raw = malloc(size + 1)))
		abort();
	memcpy(raw, data, size);
	raw[size] = '\0';
	check_raw(raw);
	free(raw);
	if (size < 1)
		return 0;
	split(&p, data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		check_url(&p);
		break;
	default:
		check_conninfo(&p, data[0] % 3 == 2);
		break;
	}
	for (i = 0; i < N_PARTS; i++)
		free(p.s[i]);
	return 0;
}
