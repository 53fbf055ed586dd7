/*
 * cmd_clone.c - `tract clone SRC_URI DST_URI`: copy a whole store to another
 * (any backend to any) with tract_store_clone(), showing progress on a
 * terminal, then report the rows copied per table and fsck's verdict on
 * the copy.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* At most this many progress updates per second. */
#define PROGRESS_HZ 10

struct progress {
	int64_t last_ns; /* time of the last line drawn, 0 before the first */
	int drawn;       /* something is on the line */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* 1234567 as "1,234,567". */
static char *group(char *buf, size_t len, int64_t v)
{
	char digits[32];
	size_t n, i, o = 0;

	snprintf(digits, sizeof(digits), "%lld", (long long)v);
	n = strlen(digits);
	for (i = 0; i < n && o + 2 < len; i++) {
		if (i > 0 && digits[i - 1] != '-' && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

/* One line on stderr, redrawn in place (\r), at most PROGRESS_HZ times a
 * second; the first report is drawn at once. */
static int show_progress(const char *phase, int64_t done, int64_t total, void *payload)
{
	struct progress *p = payload;
	int64_t t = now_ns();
	char a[32], b[32];

	if (p->last_ns && t - p->last_ns < 1000000000 / PROGRESS_HZ)
		return 0;
	p->last_ns = t;
	if (total > 0)
		fprintf(stderr, "\r\033[Kclone: %s %s/%s (%d%%)", phase, group(a, sizeof(a), done),
		        group(b, sizeof(b), total), (int)(done * 100 / total));
	else
		fprintf(stderr, "\r\033[Kclone: %s %s", phase, group(a, sizeof(a), done));
	fflush(stderr);
	p->drawn = 1;
	return 0;
}

static void clear_progress(struct progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	p->drawn = 0;
}

static const char *severity_name(tract_fsck_severity s)
{
	return s == TRACT_FSCK_WARNING ? "warning" : "error";
}

static void print_problems(struct cli *cli, const tract_clone_stats *st)
{
	for (size_t i = 0; st->fsck && i < st->fsck->count; i++) {
		const tract_fsck_problem *pr = &st->fsck->problems[i];
		int warn = pr->severity == TRACT_FSCK_WARNING;
		printf("%s%-7s%s %s: %s\n", cli_c(cli, warn ? "\033[33m" : "\033[31m"),
		       severity_name(pr->severity), cli_reset(cli),
		       pr->object ? cli_safe(pr->object) : "-", cli_safe(pr->message));
	}
}

/* The tables in the order they are copied, with their counts. */
struct table_count {
	const char *name;
	int64_t n;
};

static size_t table_counts(struct table_count out[10], const tract_clone_stats *st)
{
	const struct table_count t[10] = {
	    {"blobs", st->blobs},
	    {"commits", st->commits},
	    {"commit_parents", st->commit_parents},
	    {"refs", st->refs},
	    {"annotations", st->annotations},
	    {"compressions", st->compressions},
	    {"compression_sources", st->compression_sources},
	    {"compression_results", st->compression_results},
	    {"spawn_pointers", st->spawn_pointers},
	    {"metadata", st->metadata},
	};

	memcpy(out, t, sizeof(t));
	return 10;
}

static void print_human(struct cli *cli, const char *src, const char *dst,
                        const tract_clone_stats *st)
{
	struct table_count t[10];
	size_t n = table_counts(t, st);
	char num[32];

	printf("Cloned %s into %s: %lld tract(s).\n", cli_safe(src), cli_safe(dst),
	       (long long)st->tracts);
	for (size_t i = 0; i < n; i++)
		printf("  %-20s %12s\n", t[i].name, group(num, sizeof(num), t[i].n));
	if (!st->verified || !st->fsck) {
		printf("fsck: not run (--no-verify).\n");
		return;
	}
	if (st->fsck->count == 0) {
		printf("fsck: no problems found.\n");
		return;
	}
	printf("fsck: %zu warning(s), carried over from the source:\n", st->fsck->count);
	print_problems(cli, st);
}

/*
 * A SQLite destination (a plain path or "sqlite:PATH") that ends in '/' or
 * is an existing directory. clone refuses it rather than guessing a file
 * name inside (README "tract clone"): the destination is always the store
 * itself, as with git clone.
 */
static int names_directory(const char *dst)
{
	struct stat sb;
	const char *path = dst;

	if (strncmp(path, "sqlite:", 7) == 0)
		path += 7;
	else if (strchr(path, ':'))
		return 0; /* another backend: its own rules */
	if (!path[0])
		return 0;
	if (path[strlen(path) - 1] == '/')
		return 1;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int cmd_clone(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"no-verify", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_clone_options copts = TRACT_CLONE_OPTIONS_INIT;
	tract_clone_stats *st = NULL;
	struct progress prog = {0, 0};
	char *src = NULL, *dst = NULL, *doc = NULL;
	int json = 0, quiet = 0, c, rc;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":hq", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'n':
			copts.flags |= TRACT_CLONE_NO_VERIFY;
			break;
		case 'h':
			return cli_help(cli);
		default:
			return cli_getopt_error(cli, c, argv);
		}
	}
	if (argc - optind < 2)
		return cli_usage(cli, "%s",
		                 argc - optind == 0 ? "missing SRC_URI and DST_URI"
		                                    : "missing DST_URI");
	if (argc - optind > 2)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind + 2]);
	if (!argv[optind][0] || !argv[optind + 1][0])
		return cli_usage(cli, "store URIs must not be empty");

	if (names_directory(argv[optind + 1]))
		return cli_fail("clone: DST_URI names a directory; name the store file in it "
		                "(e.g. DIR/store.db)");

	if (!quiet && isatty(STDERR_FILENO)) {
		copts.progress = show_progress;
		copts.progress_payload = &prog;
	}
	rc = tract_store_clone(&st, argv[optind], argv[optind + 1], &copts);
	clear_progress(&prog);
	if (tract_uri_redact(&src, argv[optind]) != 0 ||
	    tract_uri_redact(&dst, argv[optind + 1]) != 0) {
		rc = cli_fail_lib();
		goto done;
	}
	if (rc < 0) {
		/* A copy that fails fsck: list what fsck found, like `tract fsck`. */
		if (rc == TRACT_ECORRUPT && st && st->verified && !json)
			print_problems(cli, st);
		fflush(stdout);
		rc = cli_fail_lib();
		goto done;
	}
	rc = CLI_OK;
	cli->stored = 1;
	if (!st)
		rc = cli_fail("out of memory");
	else if (json)
		rc = cli_print_json_result(tract_clone_stats_to_json(&doc, st, src, dst), &doc);
	else if (!quiet)
		print_human(cli, src, dst, st);
done:
	tract_clone_stats_free(st);
	tract_string_free(src);
	tract_string_free(dst);
	return rc;
}
