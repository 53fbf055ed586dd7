/*
 * util.c - helpers of the `tract` command: one-line error reports, usage
 * messages, getopt set-up, opening the store and tract, reading input,
 * UTF-8 checks, JSON re-indentation, colours and terminal layout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

/* ------------------------------------------------------------------ */
/* errors and usage                                                    */

/* Print "tract: " + text on one line (control characters become spaces). */
static void print_error_line(const char *text)
{
	fputs("tract: ", stderr);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		fputc(*p < 0x20 ? ' ' : *p, stderr);
	fputc('\n', stderr);
	fflush(stderr);
}

int cli_fail(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	print_error_line(buf);
	return CLI_FAIL;
}

int cli_fail_lib(void)
{
	const tract_error *e = tract_error_last();

	if (e->message && e->message[0])
		print_error_line(e->message);
	else
		cli_fail("%s", e->code ? tract_error_name(e->code) : "unknown error");
	return CLI_FAIL;
}

static void print_usage_line(FILE *f, const struct cli *cli)
{
	fprintf(f, "usage: %s%s%s\n", cli->prog, cli->cmd->synopsis[0] ? " " : "",
	        cli->cmd->synopsis);
}

int cli_usage(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return cli_usage_short(cli);
}

int cli_usage_short(struct cli *cli)
{
	print_usage_line(stderr, cli);
	fprintf(stderr, "Try '%s --help' for more information.\n", cli->prog);
	return CLI_USAGE;
}

int cli_help(struct cli *cli)
{
	print_usage_line(stdout, cli);
	printf("\n%s\n", cli->cmd->summary);
	if (cli->cmd->help && cli->cmd->help[0])
		printf("\n%s", cli->cmd->help);
	printf("\nGlobal options (before the command): --db URI, --tract ID.\n");
	return CLI_OK;
}

void cli_getopt_reset(struct cli *cli, char **argv)
{
	snprintf(cli->prog, sizeof(cli->prog), "tract %s", cli->cmd->name);
	argv[0] = cli->prog;
	optind = 0; /* glibc: full re-initialisation */
	opterr = 1;
}

int cli_parse_json_only(struct cli *cli, int argc, char **argv, int max_args, int *json,
                        int *status)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = 1;
			break;
		case 'h':
			*status = cli_help(cli);
			return 1;
		default:
			*status = cli_usage_short(cli);
			return 1;
		}
	}
	if (argc - optind > max_args) {
		*status = cli_usage(cli, "unexpected argument '%s'", argv[optind + max_args]);
		return 1;
	}
	return 0;
}

/* Library warnings, held until we know whether the command succeeded. */
static char **warnings;
static size_t nwarnings;

static void warning_hook(const char *message, void *payload)
{
	char **grown;
	char *copy;

	(void)payload;
	copy = strdup(message ? message : "");
	grown = realloc(warnings, (nwarnings + 1) * sizeof(*warnings));
	if (!copy || !grown) {
		free(copy);
		if (grown)
			warnings = grown;
		return;
	}
	warnings = grown;
	warnings[nwarnings++] = copy;
}

void cli_warnings_install(void)
{
	tract_warning_hook_set(warning_hook, NULL);
}

void cli_warnings_flush(int print)
{
	for (size_t i = 0; i < nwarnings; i++) {
		if (print) {
			char line[1200];
			snprintf(line, sizeof(line), "warning: %s", warnings[i]);
			print_error_line(line);
		}
		free(warnings[i]);
	}
	free(warnings);
	warnings = NULL;
	nwarnings = 0;
}

/* ------------------------------------------------------------------ */
/* store and tract                                                     */

const char *cli_redact_uri(const char *uri)
{
	static char buf[1100]; /* room for the "***" replacements below */
	const char *scheme_end, *at, *colon, *pw;

	snprintf(buf, 1000, "%s", uri);
	/* scheme://user:password@host... */
	scheme_end = strstr(buf, "://");
	if (scheme_end) {
		char *start = (char *)scheme_end + 3;
		at = strchr(start, '@');
		colon = strchr(start, ':');
		if (at && colon && colon < at) {
			memmove((char *)colon + 4, at, strlen(at) + 1);
			memcpy((char *)colon, ":***", 4);
		}
	}
	/* key=value conninfo: password=... */
	pw = strstr(buf, "password=");
	if (pw) {
		char *v = (char *)pw + strlen("password=");
		char *end = v + strcspn(v, " &");
		memmove(v + 3, end, strlen(end) + 1);
		memcpy(v, "***", 3);
	}
	return buf;
}

int cli_open_store(struct cli *cli, tract_store **out, unsigned flags)
{
	int rc = tract_store_open(out, cli->db, flags);

	if (rc == 0)
		return 0;
	*out = NULL;
	/* A network URI is never printed (it may hold a password); its
	 * backend's message names what is missing. */
	if (rc == TRACT_ENOTFOUND && !(flags & TRACT_STORE_CREATE) && !strstr(cli->db, "://"))
		return cli_fail("store not found: %s", cli_redact_uri(cli->db));
	return cli_fail_lib();
}

int cli_open_tract(struct cli *cli, tract_store **out_store, tract **out_tract)
{
	int rc;

	*out_tract = NULL;
	rc = cli_open_store(cli, out_store, 0);
	if (rc)
		return rc;
	if (tract_open(out_tract, *out_store, cli->tract_id, NULL) != 0) {
		rc = cli_fail_lib();
		tract_store_free(*out_store);
		*out_store = NULL;
		*out_tract = NULL;
		return rc;
	}
	return 0;
}

void cli_close(tract_store *store, tract *t)
{
	tract_free(t);
	tract_store_free(store);
}

/* ------------------------------------------------------------------ */
/* input                                                               */

int cli_read_file(char **out, size_t *len, const char *path)
{
	FILE *f;
	char *data = NULL;
	size_t n = 0, cap = 0;
	int is_stdin = strcmp(path, "-") == 0;

	*out = NULL;
	f = is_stdin ? stdin : fopen(path, "rb");
	if (!f)
		return cli_fail("cannot read %s: %s", path, strerror(errno));
	for (;;) {
		size_t got;
		if (cap - n < 4096 + 1) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *grown = realloc(data, ncap);
			if (!grown) {
				free(data);
				if (!is_stdin)
					fclose(f);
				return cli_fail("out of memory");
			}
			data = grown;
			cap = ncap;
		}
		got = fread(data + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				int err = errno;
				free(data);
				if (!is_stdin)
					fclose(f);
				return cli_fail("cannot read %s: %s",
				                is_stdin ? "standard input" : path,
				                strerror(err ? err : EIO));
			}
			break;
		}
	}
	if (!is_stdin)
		fclose(f);
	data[n] = '\0';
	*out = data;
	if (len)
		*len = n;
	return 0;
}

int cli_is_utf8(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			need = 1;
			cp = c & 0x1F;
			min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			need = 2;
			cp = c & 0x0F;
			min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0;
		}
		if (len - i <= need)
			return 0;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += need + 1;
	}
	return 1;
}

int cli_check_text(const char *text, size_t len, const char *what)
{
	if (memchr(text, '\0', len))
		return cli_fail("%s contains a NUL byte", what);
	if (!cli_is_utf8(text, len))
		return cli_fail("%s is not valid UTF-8", what);
	return 0;
}

/* 1 when every number of the tree is finite. */
static int all_finite(const cJSON *v)
{
	const cJSON *child;

	if (cJSON_IsNumber(v))
		return isfinite(v->valuedouble);
	cJSON_ArrayForEach(child, v)
	{
		if (!all_finite(child))
			return 0;
	}
	return 1;
}

int cli_check_json_object(const char *json, const char *what)
{
	cJSON *v;
	int is_obj, finite;

	if (cli_check_text(json, strlen(json), what))
		return CLI_FAIL;
	v = cJSON_ParseWithOpts(json, NULL, 1);
	if (!v)
		return cli_fail("%s is not valid JSON", what);
	is_obj = cJSON_IsObject(v);
	finite = all_finite(v);
	cJSON_Delete(v);
	if (!is_obj)
		return cli_fail("%s must be a JSON object", what);
	if (!finite)
		return cli_fail("%s holds a number that is not finite", what);
	return 0;
}

int cli_parse_int(int64_t *out, const char *text, int64_t min)
{
	char *end;
	long long v;

	errno = 0;
	if (!text[0])
		return -1;
	v = strtoll(text, &end, 10);
	if (errno || *end || v < min)
		return -1;
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* output                                                              */

struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->cap - b->n < n + 1) {
		size_t ncap = b->cap ? b->cap : 256;
		char *grown;
		while (ncap - b->n < n + 1)
			ncap *= 2;
		grown = realloc(b->p, ncap);
		if (!grown) {
			b->oom = 1;
			return;
		}
		b->p = grown;
		b->cap = ncap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_putc(struct sbuf *b, char c)
{
	sb_putn(b, &c, 1);
}

static void sb_indent(struct sbuf *b, int depth)
{
	sb_putc(b, '\n');
	for (int i = 0; i < depth; i++)
		sb_putn(b, "  ", 2);
}

char *cli_json_pretty(const char *json)
{
	struct sbuf b = {0};
	int depth = 0;
	const char *p = json;

	sb_putn(&b, "", 0);
	while (*p) {
		char c = *p;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			p++;
			continue;
		}
		if (c == '"') {
			const char *start = p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			if (*p)
				p++;
			sb_putn(&b, start, (size_t)(p - start));
			continue;
		}
		if (c == '{' || c == '[') {
			const char *q = p + 1;
			char close = c == '{' ? '}' : ']';
			while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
				q++;
			if (*q == close) { /* empty container */
				sb_putc(&b, c);
				sb_putc(&b, close);
				p = q + 1;
				continue;
			}
			sb_putc(&b, c);
			depth++;
			sb_indent(&b, depth);
			p++;
			continue;
		}
		if (c == '}' || c == ']') {
			if (depth > 0)
				depth--;
			sb_indent(&b, depth);
			sb_putc(&b, c);
			p++;
			continue;
		}
		if (c == ',') {
			sb_putc(&b, ',');
			sb_indent(&b, depth);
			p++;
			continue;
		}
		if (c == ':') {
			sb_putn(&b, ": ", 2);
			p++;
			continue;
		}
		sb_putc(&b, c);
		p++;
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

int cli_print_json(const char *json)
{
	char *pretty = cli_json_pretty(json);

	if (!pretty)
		return cli_fail("out of memory");
	fputs(pretty, stdout);
	fputc('\n', stdout);
	free(pretty);
	return 0;
}

int cli_print_json_free(char *json)
{
	int rc;

	if (!json)
		return cli_fail("out of memory");
	rc = cli_print_json(json);
	free(json);
	return rc ? CLI_FAIL : CLI_OK;
}

int cli_print_cjson(cJSON *v)
{
	char *text = v ? cJSON_PrintUnformatted(v) : NULL;

	cJSON_Delete(v);
	return cli_print_json_free(text);
}

const char *cli_c(const struct cli *cli, const char *sgr)
{
	return cli->color ? sgr : "";
}

const char *cli_reset(const struct cli *cli)
{
	return cli->color ? "\033[0m" : "";
}

int cli_term_width(void)
{
	struct winsize ws;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

size_t cli_utf8_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

char *cli_truncate(const char *s, size_t max)
{
	size_t width = cli_utf8_width(s), bytes = 0, cps = 0;
	char *out;

	if (width <= max)
		return strdup(s);
	if (max == 0)
		return strdup("");
	/* keep max-1 code points, then the ellipsis */
	while (s[bytes]) {
		if (((unsigned char)s[bytes] & 0xC0) != 0x80) {
			if (cps == max - 1)
				break;
			cps++;
		}
		bytes++;
	}
	out = malloc(bytes + 4);
	if (!out)
		return NULL;
	memcpy(out, s, bytes);
	memcpy(out + bytes, "\xE2\x80\xA6", 4); /* … and NUL */
	return out;
}

char *cli_first_line(const char *s)
{
	size_t n = strcspn(s, "\r\n");
	char *out = malloc(n + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
	out[n] = '\0';
	return out;
}

char *cli_time_short(char *buf, size_t bufsize, tract_time t, size_t len)
{
	char iso[40];

	if (t == TRACT_TIME_NONE) {
		snprintf(buf, bufsize, "-");
		return buf;
	}
	tract_time_format(iso, sizeof(iso), t);
	if (strlen(iso) > 10)
		iso[10] = ' ';
	if (len < strlen(iso))
		iso[len] = '\0';
	snprintf(buf, bufsize, "%s", iso);
	return buf;
}

char *cli_content_preview(const char *payload_json)
{
	cJSON *v, *text, *ct;
	char *out = NULL;

	if (!payload_json)
		return strdup("");
	v = cJSON_Parse(payload_json);
	if (!v)
		return strdup("");
	ct = cJSON_GetObjectItemCaseSensitive(v, "content_type");
	text = cJSON_GetObjectItemCaseSensitive(v, "text");
	if (!cJSON_IsString(text))
		text = cJSON_GetObjectItemCaseSensitive(v, "content");
	if (!cJSON_IsString(text))
		text = cJSON_GetObjectItemCaseSensitive(v, "summary");
	if (cJSON_IsString(text)) {
		out = cli_first_line(text->valuestring);
	} else if (cJSON_IsString(ct) && strcmp(ct->valuestring, "tool_io") == 0) {
		cJSON *dir = cJSON_GetObjectItemCaseSensitive(v, "direction");
		cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "tool_name");
		char buf[512];
		snprintf(buf, sizeof(buf), "Tool %s: %s",
		         cJSON_IsString(dir) ? dir->valuestring : "?",
		         cJSON_IsString(name) ? name->valuestring : "?");
		out = cli_first_line(buf);
	} else {
		cJSON *payload = cJSON_GetObjectItemCaseSensitive(v, "payload");
		char *flat = cJSON_PrintUnformatted(payload ? payload : v);
		out = flat ? cli_first_line(flat) : strdup("");
		free(flat);
	}
	cJSON_Delete(v);
	return out ? out : strdup("");
}
