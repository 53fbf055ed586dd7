/*
 * postgres_conn.c - the PostgreSQL backend's connection: error messages
 * (one line, secrets scrubbed), the URI's parts (the schema= parameter,
 * the secrets never shown), connecting, the session's settings, and
 * re-establishing a lost connection.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postgres_internal.h"
#include "text.h"

/* ---- errors ------------------------------------------------------------- */

/* Replace every occurrence of the secrets in msg (in place, within len). */
static void scrub(const tract_backend_conn *conn, char *msg, size_t len)
{
	char tmp[ERRLEN];
	size_t i;

	for (i = 0; i < sizeof(conn->secrets) / sizeof(conn->secrets[0]); i++) {
		const char *s = conn->secrets[i], *hit;
		size_t n = s ? strlen(s) : 0, o = 0;
		const char *at = msg;

		if (n == 0 || !strstr(msg, s))
			continue;
		while ((hit = strstr(at, s)) != NULL && o < sizeof(tmp) - 1) {
			size_t k = (size_t)(hit - at);
			if (k > sizeof(tmp) - 1 - o)
				k = sizeof(tmp) - 1 - o;
			memcpy(tmp + o, at, k);
			o += k;
			if (o + 3 < sizeof(tmp)) {
				memcpy(tmp + o, "***", 3);
				o += 3;
			}
			at = hit + n;
		}
		n = strlen(at);
		if (n > sizeof(tmp) - 1 - o)
			n = sizeof(tmp) - 1 - o;
		memcpy(tmp + o, at, n);
		o += n;
		tmp[o] = '\0';
		snprintf(msg, len, "%s", tmp);
	}
}

/* One line: control characters become spaces, trailing spaces go. */
static void one_line(char *msg)
{
	size_t n;
	char *p;

	for (p = msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == ' ')
		msg[--n] = '\0';
}

int fail(tract_backend_conn *conn, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(conn->err, sizeof(conn->err), fmt, ap);
	va_end(ap);
	one_line(conn->err);
	scrub(conn, conn->err, sizeof(conn->err));
	return code;
}

bool connection_lost(const tract_backend_conn *conn)
{
	return conn->poisoned || PQstatus(conn->pg) != CONNECTION_OK;
}

/* The code for a failed statement's SQLSTATE. */
static int code_of_state(const char *state)
{
	if (!state)
		return TRACT_ESTORAGE;
	/* serialization_failure, deadlock_detected: another writer won. */
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, STALE_STATE) == 0)
		return TRACT_ESTALE;
	if (strcmp(state, "XX001") == 0 || strcmp(state, "XX002") == 0)
		return TRACT_ECORRUPT;
	return TRACT_ESTORAGE;
}

/* libpq's connection-level message on one line: its lines joined with
 * "; " (first_only: the first line alone). */
static const char *conn_message(const tract_backend_conn *conn, char *buf, size_t len,
				bool first_only)
{
	const char *m = conn->pg ? PQerrorMessage(conn->pg) : NULL;
	size_t o = 0;

	if (!m || !*m)
		m = "connection failed";
	while (*m && o + 3 < len) {
		if (*m == '\n') {
			while (*m == '\n' || *m == '\t' || *m == ' ')
				m++;
			if (!*m || first_only)
				break;
			buf[o++] = ';';
			buf[o++] = ' ';
			continue;
		}
		buf[o++] = *m == '\t' ? ' ' : *m;
		m++;
	}
	buf[o] = '\0';
	one_line(buf);
	return buf;
}

/* Record a failed statement (res may be NULL: a connection failure). */
int fail_res(tract_backend_conn *conn, const PGresult *res, const char *what)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char buf[ERRLEN];

	/* The caller names the operation; open() has no caller that does. */
	if (!conn->opening)
		what = NULL;
	if (connection_lost(conn) || !res || (state && strncmp(state, "08", 2) == 0)) {
		conn_message(conn, buf, sizeof(buf), true);
		return fail(conn, TRACT_ESTORAGE, "postgres: %s%sconnection to the server lost (%s)",
			    what ? what : "", what ? ": " : "", primary ? primary : buf);
	}
	if (!primary)
		primary = PQresultErrorMessage(res);
	if (state && strcmp(state, STALE_STATE) == 0)
		return fail(conn, TRACT_ESTALE, "%s", primary);
	if (code_of_state(state) == TRACT_ESTALE)
		return fail(conn, TRACT_ESTALE,
			    "postgres: %s (another writer got there first; retry)", primary);
	return fail(conn, code_of_state(state), "postgres: %s%s%s [%s]", what ? what : "",
		    what ? ": " : "", primary, state ? state : "?");
}

int oom(tract_backend_conn *conn)
{
	return fail(conn, TRACT_ENOMEM, "postgres: out of memory");
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX escapes (a malformed one is kept as it is). */
static char *percent_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
			*o++ = (char)(hex_digit(s[i + 1]) << 4 | hex_digit(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* ---- the location ------------------------------------------------------- */

bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

int add_secret(tract_backend_conn *conn, const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < sizeof(conn->secrets) / sizeof(conn->secrets[0]); i++) {
		if (!conn->secrets[i]) {
			conn->secrets[i] = strndup(s, n);
			return conn->secrets[i] ? 0 : TRACT_ENOMEM;
		}
	}
	return 0;
}

/*
 * Note what of the URI must never be shown: the password of the userinfo
 * and of a password= parameter (as written and decoded), and the URI
 * itself.
 */
int note_secrets(tract_backend_conn *conn, const char *uri)
{
	const char *auth = strstr(uri, "://"), *end, *at, *colon, *q;
	int rc = add_secret(conn, uri, strlen(uri));
	char *dec;

	if (rc < 0 || !auth)
		return rc;
	auth += 3;
	end = auth + strcspn(auth, "/?");
	at = NULL;
	for (q = auth; q < end; q++)
		if (*q == '@')
			at = q;
	if (at) {
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (colon && colon + 1 < at) {
			rc = add_secret(conn, colon + 1, (size_t)(at - colon - 1));
			dec = percent_decode(colon + 1, (size_t)(at - colon - 1));
			if (!dec)
				return TRACT_ENOMEM;
			if (rc == 0)
				rc = add_secret(conn, dec, strlen(dec));
			free(dec);
		}
	}
	for (q = strchr(uri, '?'); rc == 0 && q; q = strchr(q + 1, '&')) {
		const char *v = q + 1;
		size_t n;
		if (!has_prefix(v, "password="))
			continue;
		v += 9;
		n = strcspn(v, "&");
		rc = add_secret(conn, v, n);
		dec = percent_decode(v, n);
		if (!dec)
			return TRACT_ENOMEM;
		if (rc == 0)
			rc = add_secret(conn, dec, strlen(dec));
		free(dec);
	}
	return rc;
}

/*
 * Split the location into the URI libpq gets (every parameter but ours)
 * and the schema= parameter (decoded, NULL when absent).
 */
int split_location(tract_backend_conn *conn, const char *location, char **uri)
{
	const char *q = strchr(location, '?'), *item;
	size_t base = q ? (size_t)(q - location) : strlen(location), o;
	char *out;

	*uri = NULL;
	out = malloc(strlen(location) + 1);
	if (!out)
		return oom(conn);
	memcpy(out, location, base);
	o = base;
	for (item = q ? q + 1 : NULL; item; item = strchr(item, '&') ? strchr(item, '&') + 1 : NULL) {
		size_t n = strcspn(item, "&");
		if (n >= 7 && strncmp(item, "schema=", 7) == 0) {
			free(conn->schema);
			conn->schema = percent_decode(item + 7, n - 7);
			if (!conn->schema) {
				free(out);
				return oom(conn);
			}
			continue;
		}
		if (n == 0)
			continue;
		out[o] = o == base ? '?' : '&';
		o++;
		memcpy(out + o, item, n);
		o += n;
	}
	out[o] = '\0';
	*uri = out;
	if (conn->schema && (!*conn->schema || strlen(conn->schema) > 63 ||
			     !bc_utf8_valid(conn->schema)))
		return fail(conn, TRACT_EINVAL,
			    "postgres: schema= must name a schema of 1-63 bytes of UTF-8");
	return 0;
}

/* libpq's message about a URI it cannot parse, with quoted parts removed
 * (they may quote the password). */
void redact_quoted(char *msg, size_t len)
{
	char out[ERRLEN];
	size_t o = 0;
	bool in = false;
	const char *r;

	for (r = msg; *r && o + 6 < sizeof(out); r++) {
		if (*r == '"') {
			if (!in) {
				memcpy(out + o, "\"...\"", 5);
				o += 5;
			}
			in = !in;
			continue;
		}
		if (!in)
			out[o++] = *r;
	}
	out[o] = '\0';
	snprintf(msg, len, "%s", out);
}

/* ---- the session -------------------------------------------------------- */

static void no_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Run one statement outside pipeline mode (setup only). */
int setup_exec(tract_backend_conn *conn, const char *sql, int n, const char *const *values,
	       PGresult **out, const char *what)
{
	PGresult *res = n || out ? PQexecParams(conn->pg, sql, n, NULL, values, NULL, NULL, 0)
				 : PQexec(conn->pg, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = fail_res(conn, res, what);
	if (out && rc == 0) {
		*out = res;
		return 0;
	}
	PQclear(res);
	return rc;
}

/* Pin the search_path to the store's schema; JIT off (it only slows the
 * short statements tract runs). Outside pipeline mode. */
int session_setup(tract_backend_conn *conn)
{
	const char *v[1] = {conn->schema_ident};
	int rc;

	if (PQpipelineStatus(conn->pg) != PQ_PIPELINE_OFF && PQexitPipelineMode(conn->pg) != 1)
		return fail(conn, TRACT_ESTORAGE, "postgres: cannot leave pipeline mode");
	rc = setup_exec(conn,
			"SELECT pg_catalog.set_config('search_path', $1, false), "
			"pg_catalog.set_config('jit', 'off', false)",
			1, v, NULL, "set up the session");
	return rc;
}

int enter_pipeline(tract_backend_conn *conn)
{
	if (PQpipelineStatus(conn->pg) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn->pg) != 1)
		return fail(conn, TRACT_ESTORAGE, "postgres: cannot enter pipeline mode");
	return 0;
}

/* ---- connecting --------------------------------------------------------- */

static const char *const conn_keywords[] = {"fallback_application_name", "dbname",
					    "client_encoding", NULL};

int connect_db(tract_backend_conn *conn, const char *uri)
{
	const char *values[] = {"tract", uri, "UTF8", NULL};
	char buf[ERRLEN];
	const char *dt;

	conn->pg = PQconnectdbParams(conn_keywords, values, 1);
	if (!conn->pg)
		return oom(conn);
	if (PQstatus(conn->pg) != CONNECTION_OK)
		return fail(conn, TRACT_ESTORAGE, "postgres: cannot connect: %s",
			    conn_message(conn, buf, sizeof(buf), false));
	PQsetNoticeProcessor(conn->pg, no_notices, NULL);
	dt = PQparameterStatus(conn->pg, "integer_datetimes");
	if (!dt || strcmp(dt, "on") != 0)
		return fail(conn, TRACT_ESTORAGE,
			    "postgres: the server stores times as floating point "
			    "(integer_datetimes off), which is not supported");
	if (PQserverVersion(conn->pg) < 120000)
		return fail(conn, TRACT_ESTORAGE,
			    "postgres: server version %d is older than 12, not supported",
			    PQserverVersion(conn->pg));
	return 0;
}

/*
 * Re-establish a lost connection, retrying with growing pauses for a few
 * seconds (a server restart), then set the session up again. Statements
 * are prepared anew.
 */
int reconnect(tract_backend_conn *conn)
{
	char buf[ERRLEN];
	int i, rc, pause = RECONNECT_FIRST_MS;

	for (i = 0; i < RECONNECT_TRIES; i++) {
		if (i > 0) {
			struct timespec ts = {pause / 1000, (long)(pause % 1000) * 1000000L};
			nanosleep(&ts, NULL);
			pause = pause * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : pause * 2;
		}
		PQreset(conn->pg);
		if (PQstatus(conn->pg) == CONNECTION_OK)
			break;
	}
	memset(conn->prepared, 0, sizeof(conn->prepared));
	conn->listening = false; /* a new session listens on nothing */
	if (PQstatus(conn->pg) != CONNECTION_OK)
		return fail(conn, TRACT_ESTORAGE,
			    "postgres: connection to the server lost and not re-established: %s",
			    conn_message(conn, buf, sizeof(buf), false));
	conn->poisoned = false;
	rc = session_setup(conn);
	return rc < 0 ? rc : enter_pipeline(conn);
}
