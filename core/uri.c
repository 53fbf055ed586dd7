/*
 * uri.c - the display form of a store URI: every password hidden, in the
 * user-info of a URI, in its query and in a key=value connection string.
 * Infrastructure: messages of the core (clone) and the CLI use it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define REDACTED "***"

/* Does the key of n bytes at k name a password ("password", "sslpassword"...)? */
static int is_password_key(const char *k, size_t n)
{
	static const char word[] = "password";
	size_t w = sizeof(word) - 1;

	return n >= w && strncasecmp(k + n - w, word, w) == 0;
}

/* Length of a conninfo value at v: a word up to white space, or a quoted
 * string with backslash escapes (libpq's rules). */
static size_t conninfo_value_len(const char *v)
{
	size_t i = 0;

	if (v[0] != '\'')
		return strcspn(v, " \t\n\r\f\v");
	for (i = 1; v[i] && v[i] != '\''; i++)
		if (v[i] == '\\' && v[i + 1])
			i++;
	return v[i] ? i + 1 : i;
}

/* key=value connection string: every password value becomes ***. */
static int redact_conninfo(tract_buf *b, const char *s)
{
	int rc = 0;

	while (*s && rc == 0) {
		size_t ws = strspn(s, " \t\n\r\f\v"), klen, vlen;
		const char *k = s + ws, *eq, *v;

		rc |= tract_buf_put(b, s, ws);
		klen = strcspn(k, "= \t\n\r\f\v");
		eq = k + klen + strspn(k + klen, " \t\n\r\f\v");
		if (*eq != '=') {
			/* not a key=value pair: copy the word as it is */
			rc |= tract_buf_put(b, k, klen);
			s = k + klen;
			continue;
		}
		v = eq + 1 + strspn(eq + 1, " \t\n\r\f\v");
		vlen = conninfo_value_len(v);
		rc |= tract_buf_put(b, k, (size_t)(v - k));
		if (is_password_key(k, klen) && vlen)
			rc |= tract_buf_puts(b, REDACTED);
		else
			rc |= tract_buf_put(b, v, vlen);
		s = v + vlen;
	}
	return rc;
}

/* scheme://[user[:password]@]host[/path][?query][#fragment] */
static int redact_url(tract_buf *b, const char *uri, const char *sep)
{
	const char *auth = sep + 3, *end, *at = NULL, *colon, *p;
	int rc = 0;

	end = auth + strcspn(auth, "/?#");
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p; /* the last one: a stray '@' stays in the hidden part */
	rc |= tract_buf_put(b, uri, (size_t)(auth - uri));
	if (at) {
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (colon) {
			rc |= tract_buf_put(b, auth, (size_t)(colon - auth) + 1);
			rc |= tract_buf_puts(b, REDACTED);
		} else {
			rc |= tract_buf_put(b, auth, (size_t)(at - auth));
		}
		auth = at;
	}
	rc |= tract_buf_put(b, auth, (size_t)(end - auth));
	/* the path, up to the query */
	p = end + strcspn(end, "?#");
	rc |= tract_buf_put(b, end, (size_t)(p - end));
	if (*p != '?')
		return rc | tract_buf_puts(b, p);
	/* query: ?k=v&k=v, every password value hidden */
	while (*p == '?' || *p == '&') {
		const char *k = p + 1, *eq;
		size_t len = strcspn(k, "&#");

		rc |= tract_buf_putc(b, *p);
		eq = memchr(k, '=', len);
		if (eq && is_password_key(k, (size_t)(eq - k))) {
			rc |= tract_buf_put(b, k, (size_t)(eq - k) + 1);
			rc |= tract_buf_puts(b, REDACTED);
		} else {
			rc |= tract_buf_put(b, k, len);
		}
		p = k + len;
	}
	return rc | tract_buf_puts(b, p);
}

int tract_uri_redact(char **out, const char *uri)
{
	tract_buf b = TRACT_BUF_INIT;
	const char *sep;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_uri_redact: out is NULL");
	*out = NULL;
	if (!uri)
		return tract_error_set(TRACT_EINVAL, "tract_uri_redact: uri is NULL");
	sep = strstr(uri, "://");
	if (sep && sep > uri && !memchr(uri, '=', (size_t)(sep - uri)))
		rc = redact_url(&b, uri, sep);
	else if (strchr(uri, '='))
		rc = redact_conninfo(&b, uri);
	else
		rc = tract_buf_puts(&b, uri); /* a path: nothing to hide */
	if (rc) {
		tract_buf_dispose(&b);
		return tract_error_oom();
	}
	*out = tract_buf_detach(&b);
	return *out ? 0 : tract_error_oom();
}
