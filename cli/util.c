/*
 * util.c - helpers of the `tract` command: one-line error reports, usage
 * messages, getopt set-up, opening the store and tract, reading input,
 * printing the library's JSON, colours and terminal layout.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

/* ------------------------------------------------------------------ */
/* errors and usage                                                    */

/* Write n bytes on stderr with as few write(2) calls as the kernel allows
 * (one for a line: parallel processes do not interleave their messages). */
static void write_stderr(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Append text sanitized for a terminal (one line: no LF) to line, cut at
 * a code point boundary with "..." when it does not fit in size bytes. */
static void append_safe(char *line, size_t size, const char *text)
{
	char *safe = NULL;
	size_t used = strlen(line), room, n;

	if (used + 4 >= size)
		return;
	room = size - used - 1;
	if (tract_text_sanitize(&safe, text, strlen(text), 0) != 0) {
		tract_error_clear();
		snprintf(line + used, size - used, "%s", "(message lost: out of memory)");
		return;
	}
	n = strlen(safe);
	if (n > room) {
		n = room - 3;
		while (n > 0 && ((unsigned char)safe[n] & 0xC0) == 0x80)
			n--;
		memcpy(safe + n, "...", 4);
	}
	snprintf(line + used, size - used, "%s", safe);
	tract_string_free(safe);
}

void cli_error_lines(const char *prefix, const char *text, const char *rest)
{
	char line[4096];
	size_t n, tail = rest ? strlen(rest) : 0;

	if (tail > 2048)
		tail = 2048;
	snprintf(line, sizeof(line), "%s", prefix);
	/* the message, then room for "\n" and rest */
	append_safe(line, sizeof(line) - tail - 1, text);
	n = strlen(line);
	line[n++] = '\n';
	line[n] = '\0';
	if (rest)
		snprintf(line + n, sizeof(line) - n, "%s", rest);
	fflush(stderr);
	write_stderr(line, strlen(line));
}

static void print_error_line(const char *text)
{
	cli_error_lines("tract: ", text, NULL);
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

/* True for 1 to 3 hex digits: too short to be a commit prefix. */
static int short_hex(const char *ref)
{
	size_t n = strspn(ref, "0123456789abcdefABCDEF");

	return n > 0 && n < 4 && !ref[n];
}

int cli_fail_ref(const char *ref)
{
	const tract_error *e = tract_error_last();

	if (ref && e->code == TRACT_ENOTFOUND && short_hex(ref))
		return cli_fail("revision '%s' not found (a prefix needs at least 4 hex digits)",
		                ref);
	return cli_fail_lib();
}

/* The usage error of the current command: "tract CMD: MESSAGE", the usage
 * line and the hint, in one write. */
static int usage_error(struct cli *cli, const char *message)
{
	char prefix[80], rest[1024];

	snprintf(prefix, sizeof(prefix), "%s: ", cli->prog);
	snprintf(rest, sizeof(rest), "usage: %s%s%s\nTry '%s --help' for more information.\n",
	         cli->prog, cli->cmd->synopsis[0] ? " " : "", cli->cmd->synopsis, cli->prog);
	cli_error_lines(prefix, message, rest);
	return CLI_USAGE;
}

static void print_usage_line(FILE *f, const struct cli *cli)
{
	fprintf(f, "usage: %s%s%s\n", cli->prog, cli->cmd->synopsis[0] ? " " : "",
	        cli->cmd->synopsis);
}

int cli_usage(struct cli *cli, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return usage_error(cli, buf);
}

int cli_getopt_error(struct cli *cli, int c, char **argv)
{
	const char *opt = optind > 0 ? argv[optind - 1] : "?";
	char shortopt[3] = {'-', (char)optopt, '\0'};

	/* A short option in a cluster ("-xq"): name the letter, not the word. */
	if (optopt > 0 && optopt < 128 && opt[0] == '-' && opt[1] != '-')
		opt = shortopt;
	else if (optopt > 0 && opt[0] != '-')
		opt = shortopt;
	if (c == ':')
		return cli_usage(cli, "option '%.200s' needs a value", opt);
	return cli_usage(cli, "unknown option '%.200s'", opt);
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
	opterr = 0; /* cli_getopt_error() reports, in one write */
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
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = 1;
			break;
		case 'h':
			*status = cli_help(cli);
			return 1;
		default:
			*status = cli_getopt_error(cli, c, argv);
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

int cli_open_store(struct cli *cli, tract_store **out, unsigned flags)
{
	int rc = tract_store_open(out, cli->db, flags);

	if (rc == 0)
		return 0;
	*out = NULL;
	/* A network URI is never printed (it may hold a password); its
	 * backend's message names what is missing. */
	if (rc == TRACT_ENOTFOUND && !(flags & TRACT_STORE_CREATE) && !strstr(cli->db, "://")) {
		char *shown = NULL;

		if (tract_uri_redact(&shown, cli->db) != 0)
			return cli_fail_lib();
		cli_fail("store not found: %s", shown);
		tract_string_free(shown);
		return CLI_FAIL;
	}
	return cli_fail_lib();
}

int cli_open_tract(struct cli *cli, tract_store **out_store, tract **out_tract)
{
	tract_open_options oopts = TRACT_OPEN_OPTIONS_INIT;
	int rc;

	*out_tract = NULL;
	rc = cli_open_store(cli, out_store, 0);
	if (rc)
		return rc;
	/* The command's own limit is on the text it reads (cli_read_file());
	 * the content JSON built from it may be up to 6 times as long (\uXXXX
	 * escapes), which the library's limit must let through. */
	/* One command, one process: no compiled context is ever reused, and
	 * a commit without a cache makes no copy of its content for one. */
	oopts.compile_cache_size = 0;
	oopts.max_content_bytes = cli_input_limit() <= (SIZE_MAX - 65536) / 6
	                              ? cli_input_limit() * 6 + 65536
	                              : SIZE_MAX;
	if (tract_open(out_tract, *out_store, cli->tract_id, &oopts) != 0) {
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

/* The largest input a command reads (cli_input_limit_set()); 0 = not set:
 * TRACT_MAX_CONTENT, or the library's default. */
static size_t input_limit;

int cli_parse_size(size_t *out, const char *text)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!text || !isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || v == 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
		end += strlen(end);
	if (*end || v > (SIZE_MAX >> shift) - 1)
		return -1;
	*out = (size_t)v << shift;
	return 0;
}

int cli_input_limit_set(size_t max)
{
	const char *env = getenv("TRACT_MAX_CONTENT");

	if (max) {
		input_limit = max;
		return 0;
	}
	if (env && env[0] && cli_parse_size(&input_limit, env) != 0)
		return cli_fail("invalid TRACT_MAX_CONTENT '%s' (a size in bytes >= 1, "
		                "with an optional K, M or G suffix)", env);
	return 0;
}

size_t cli_input_limit(void)
{
	const char *env = getenv("TRACT_MAX_CONTENT");
	size_t v;

	/* Not set by the command: TRACT_MAX_CONTENT (the command reports an
	 * invalid value through cli_input_limit_set()), else the default. */
	if (input_limit)
		return input_limit;
	if (env && env[0] && cli_parse_size(&v, env) == 0)
		return v;
	return TRACT_MAX_CONTENT_DEFAULT;
}

/* "64 MiB" or "1000 bytes". */
static const char *size_text(char *buf, size_t len, size_t n)
{
	if (n >= 1024 * 1024 && n % (1024 * 1024) == 0)
		snprintf(buf, len, "%zu MiB", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, len, "%zu KiB", n >> 10);
	else
		snprintf(buf, len, "%zu bytes", n);
	return buf;
}

static int too_large(const char *name, size_t max)
{
	char size[64];

	return cli_fail("%s is larger than the maximum of %s (--max-size / TRACT_MAX_CONTENT)",
	                name, size_text(size, sizeof(size), max));
}

/*
 * At most cli_input_limit() bytes are read: one byte more is the error,
 * reported before the rest is read (a regular file larger than the limit
 * is refused from its size alone).
 */
int cli_read_file(char **out, size_t *len, const char *path)
{
	FILE *f;
	char *data = NULL;
	size_t n = 0, cap = 0, max = cli_input_limit();
	int is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "standard input" : path;
	struct stat st;

	*out = NULL;
	f = is_stdin ? stdin : fopen(path, "rb");
	if (!f)
		return cli_fail("cannot read %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uintmax_t)st.st_size > max && !is_stdin) {
		fclose(f);
		return too_large(name, max);
	}
	for (;;) {
		size_t got, want;
		if (cap - n < 4096 + 1 && cap < max + 2) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *grown;
			if (ncap > max + 2 || ncap < cap)
				ncap = max + 2; /* the limit, one byte more and the NUL */
			grown = realloc(data, ncap);
			if (!grown) {
				free(data);
				if (!is_stdin)
					fclose(f);
				return cli_fail("out of memory");
			}
			data = grown;
			cap = ncap;
		}
		want = cap - n - 1;
		got = fread(data + n, 1, want, f);
		n += got;
		if (n > max) {
			free(data);
			if (!is_stdin)
				fclose(f);
			return too_large(name, max);
		}
		if (got == 0) {
			if (ferror(f)) {
				int err = errno;
				free(data);
				if (!is_stdin)
					fclose(f);
				return cli_fail("cannot read %s: %s", name,
				                strerror(err ? err : EIO));
			}
			break;
		}
	}
	if (!is_stdin)
		fclose(f);
	data[n] = '\0';
	if (cap - n > ((size_t)1 << 20)) {
		/* a large input is held at its size, not its doubling's */
		char *fit = realloc(data, n + 1);
		if (fit)
			data = fit;
	}
	*out = data;
	if (len)
		*len = n;
	return 0;
}

int cli_check_text(const char *text, size_t len, const char *what)
{
	/* A C string cannot carry U+0000 on to the library: refuse it here. */
	if (memchr(text, '\0', len))
		return cli_fail("%s contains a NUL byte", what);
	if (tract_utf8_check(text, len) != 0)
		return cli_fail("%s is not valid UTF-8", what);
	return 0;
}

int cli_check_json_object(const char *json, const char *what)
{
	return tract_json_object_check(json, what) ? cli_fail_lib() : 0;
}

int cli_parse_int(int64_t *out, const char *text, int64_t min)
{
	char *end;
	long long v;

	errno = 0;
	/* digits only: " 5", "5 " and "+5" are all refused alike */
	if (!text[0] || strspn(text, "0123456789") != strlen(text))
		return -1;
	v = strtoll(text, &end, 10);
	if (errno || *end || v < min)
		return -1;
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* output                                                              */

int cli_print_json(const char *json)
{
	char *pretty = NULL;

	if (tract_json_pretty(&pretty, json) != 0)
		return cli_fail_lib();
	fputs(pretty, stdout);
	fputc('\n', stdout);
	tract_string_free(pretty);
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

int cli_print_json_result(int rc, char **json)
{
	if (rc != 0)
		return cli_fail_lib();
	rc = cli_print_json(*json);
	tract_string_free(*json);
	*json = NULL;
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

/* Sanitized copies handed out by cli_safe(), released at exit. */
static char **safe_pool;
static size_t safe_count;

static const char *safe_copy(const char *text, unsigned flags)
{
	char **grown, *copy = NULL;

	if (!text)
		return "";
	if (tract_text_sanitize(&copy, text, strlen(text), flags) != 0) {
		tract_error_clear();
		return "?";
	}
	grown = realloc(safe_pool, (safe_count + 1) * sizeof(*safe_pool));
	if (!grown) {
		tract_string_free(copy);
		return "?";
	}
	safe_pool = grown;
	safe_pool[safe_count++] = copy;
	return copy;
}

const char *cli_safe(const char *text)
{
	return safe_copy(text, 0);
}

const char *cli_safe_ml(const char *text)
{
	return safe_copy(text, TRACT_SANITIZE_KEEP_NEWLINES);
}

void cli_safe_release(void)
{
	for (size_t i = 0; i < safe_count; i++)
		tract_string_free(safe_pool[i]);
	free(safe_pool);
	safe_pool = NULL;
	safe_count = 0;
}
